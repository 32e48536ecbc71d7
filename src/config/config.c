/*
 * config.c - job files: the key table, the INI tokenizer, the value
 * parsers (durations, sizes, booleans, lists, ${ENV}) and the checks that
 * span several keys.
 *
 * One table (KEYS below) describes every key once: its section, type,
 * default, range, the drivers it applies to, its doc line and the field it
 * sets.  The parser, the defaults, `consolidate help keys` and
 * cns_config_keys() all read it, so they cannot disagree.
 *
 * Problems are collected rather than returned at the first one, so that a
 * person fixing a job file sees all of them in one go.
 */
#include "consolidate/config.h"
#include "consolidate/cron.h"
#include "consolidate/secrets.h"
#include "consolidate/tz.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A job file is a handful of lines; this bounds memory on a wrong path. */
#define MAX_FILE (1024 * 1024)
/* Longest line, in bytes without the newline: room for a long query. */
#define MAX_LINE 65536
/* Longest value quoted back in a message. */
#define SHOWN_MAX 60
/* Longest source name: it ends up in file names and log prefixes. */
#define SOURCE_NAME_MAX 63
/* Characters of an environment variable name in ${NAME}. */
#define NAME_CHARS                                                             \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

enum sec_kind {
	SEC_JOB,
	SEC_TARGET,
	SEC_SOURCE
};

/* How a field is stored; derived from the field's C type below. */
enum storage {
	ST_STR,    /* char *, in the job arena */
	ST_INT,    /* int */
	ST_I64,    /* int64_t */
	ST_BOOL,   /* bool */
	ST_CHAR,   /* char */
	ST_DOUBLE, /* double */
	ST_LIST,   /* struct cns_list */
	ST_ENUM    /* an enum: the index of the value in the key's values */
};

/* Drivers a source key applies to (0 for [job] and [target] keys). */
#define D_PG 1u
#define D_ODBC 2u
#define D_CSV 4u
#define D_SQL (D_PG | D_ODBC)
#define D_ALL (D_PG | D_ODBC | D_CSV)

#define STRUCT_JOB struct cns_job_conf
#define STRUCT_TARGET struct cns_target_conf
#define STRUCT_SOURCE struct cns_source_conf
#define SECNAME_JOB "job"
#define SECNAME_TARGET "target"
#define SECNAME_SOURCE "source"

/*
 * The key table.  Columns: section, key, field, type, default as written
 * in a job file, required, enum values (in the order of the C enum),
 * integer range, drivers, doc line.
 */
#define KEYS(X)                                                                 \
	X(JOB, name, name, STRING, NULL, false, NULL, 0, 0, 0,                  \
	  "job name in logs, locks and history (default: file name)")           \
	X(JOB, schedule, schedule, STRING, NULL, false, NULL, 0, 0, 0,          \
	  "cron expression (5 fields, or 6 with seconds first) or @daily ...")  \
	X(JOB, timezone, timezone, STRING, NULL, false, NULL, 0, 0, 0,          \
	  "time zone of the schedule (default: the host's)")                    \
	X(JOB, overlap, overlap, ENUM, "skip", false, "skip|queue", 0, 0, 0,    \
	  "a run due while the last one still runs: skip it or queue it")       \
	X(JOB, catchup, catchup, ENUM, "none", false, "none|once", 0, 0, 0,     \
	  "runs missed while down: none, or run once")                          \
	X(JOB, jitter, jitter_ms, DURATION, "0", false, NULL, 0, 0, 0,          \
	  "upper bound of a fixed per-job delay (from its name) on each start") \
	X(JOB, max_runtime, max_runtime_ms, DURATION, "0", false, NULL, 0, 0,   \
	  0, "stop a run that takes longer (0: no limit)")                      \
	X(JOB, stall_timeout, stall_timeout_ms, DURATION, "0", false, NULL, 0,  \
	  0, 0, "stop a run without progress for this long (0: no limit)")      \
	X(JOB, kill_grace, kill_grace_ms, DURATION, "30s", false, NULL, 0, 0,   \
	  0, "time a stopped run gets to roll back before it is killed")        \
	X(JOB, statement_timeout, statement_timeout_ms, DURATION, "0", false,   \
	  NULL, 0, 0, 0, "statement_timeout of each query (0: server's)")       \
	X(JOB, batch_size, batch_size, INT, "10000", false, NULL, 1, 1000000,   \
	  0, "rows per chunk, loaded and committed together")                   \
	X(JOB, parallel, parallel, INT, "4", false, NULL, 1, 64, 0,             \
	  "sources read at the same time")                                      \
	X(JOB, parallel_shards, parallel_shards, INT, "1", false, NULL, 1, 64,  \
	  0, "shards of a sharded job read at once by run")                     \
	X(JOB, max_rejects, max_rejects, REJECTS, "0", false, NULL, 0, 0, 0,    \
	  "rejected rows allowed: a count (100) or a percentage (1%)")          \
	X(JOB, retries, retries, INT, "3", false, NULL, 0, 100, 0,              \
	  "retries after a transient failure")                                  \
	X(JOB, retry_delay, retry_delay_ms, DURATION, "1s", false, NULL, 0, 0,  \
	  0, "wait before a retry")                                             \
	X(JOB, transforms, transforms, PATH, NULL, true, NULL, 0, 0, 0,         \
	  "transform file: sources to the target schema")                       \
	X(JOB, lock, lock, ENUM, "both", false, "both|local|target", 0, 0, 0,   \
	  "overlap lock: local lock file, target advisory lock, or both")       \
	X(JOB, lock_dir, lock_dir, PATH, NULL, false, NULL, 0, 0, 0,            \
	  "folder of the lock file (default: the system's lock folder)")        \
	X(JOB, log_dir, log_dir, PATH, "log", false, NULL, 0, 0, 0,             \
	  "folder of run logs")                                                 \
	X(JOB, rejects_dir, rejects_dir, PATH, "rejects", false, NULL, 0, 0,    \
	  0, "folder of rejected-row files")                                    \
	X(JOB, log_format, log_format, ENUM, "text", false, "text|json", 0, 0,  \
	  0, "format of the run log")                                           \
	X(JOB, log_keep, log_keep, STRING, "30", false, NULL, 0, 0, 0,          \
	  "run logs kept: a count (30) or an age (14d)")                        \
	X(JOB, metrics_file, metrics_file, PATH, NULL, false, NULL, 0, 0, 0,    \
	  "file rewritten with metrics after each run")                         \
	X(JOB, syslog, syslog, BOOL, "no", false, NULL, 0, 0, 0,                \
	  "also report runs to syslog")                                         \
	X(JOB, max_age, max_age_ms, DURATION, "0", false, NULL, 0, 0, 0,        \
	  "status: last success too old (0: two schedule intervals)")           \
	X(JOB, on_volume_anomaly, on_volume_anomaly, ENUM, "warn", false,       \
	  "warn|fail", 0, 0, 0, "a source outside min_rows or max_change")      \
	X(JOB, notify_command, notify_command, PATH, NULL, false, NULL, 0, 0,   \
	  0, "program run on a failure, a recovery or a warning")               \
	X(JOB, notify_url, notify_url, SECRET, NULL, false, NULL, 0, 0, 0,      \
	  "URL that gets the same facts as a JSON POST")                        \
	X(JOB, notify_timeout, notify_timeout_ms, DURATION, "30s", false,       \
	  NULL, 0, 0, 0, "time limit of each notification")                     \
	X(TARGET, driver, driver, ENUM, "postgres", false, "postgres", 0, 0,    \
	  0, "kind of target database")                                         \
	X(TARGET, conninfo, conninfo, SECRET, NULL, true, NULL, 0, 0, 0,        \
	  "libpq connection string or URI")                                     \
	X(TARGET, table, table, STRING, NULL, true, NULL, 0, 0, 0,              \
	  "target table: [schema.]table; unquoted parts fold to lower case")    \
	X(TARGET, key, key, LIST, NULL, false, NULL, 0, 0, 0,                   \
	  "columns that identify a row (for upsert and dedupe)")                \
	X(TARGET, mode, mode, ENUM, "append", false, "append|upsert|replace",   \
	  0, 0, 0, "how rows are loaded")                                       \
	X(TARGET, create, create, BOOL, "yes", false, NULL, 0, 0, 0,            \
	  "create the table from the transform schema if missing")              \
	X(TARGET, dedupe, dedupe, BOOL, "no", false, NULL, 0, 0, 0,             \
	  "keep one row per key: the last by dedupe_order")                     \
	X(TARGET, dedupe_order, dedupe_order, STRING, NULL, false, NULL, 0, 0,  \
	  0, "schema columns, as a tuple, that pick the last row of a key")     \
	X(TARGET, on_schema_change, on_schema_change, ENUM, "fail", false,      \
	  "fail|evolve", 0, 0, 0,                                               \
	  "[schema] and the table differ: fail, or add and widen columns")      \
	X(SOURCE, driver, driver, ENUM, NULL, true, "postgres|odbc|csv", 0, 0,  \
	  D_ALL, "kind of source")                                              \
	X(SOURCE, conninfo, conninfo, SECRET, NULL, false, NULL, 0, 0, D_PG,    \
	  "postgres: libpq connection string or URI")                           \
	X(SOURCE, dsn, dsn, STRING, NULL, false, NULL, 0, 0, D_ODBC,            \
	  "odbc: data source name from odbc.ini")                               \
	X(SOURCE, connection, connection, SECRET, NULL, false, NULL, 0, 0,      \
	  D_ODBC, "odbc: connection string (Driver=...;...)")                   \
	X(SOURCE, user, user, STRING, NULL, false, NULL, 0, 0, D_ODBC,          \
	  "odbc: user name")                                                    \
	X(SOURCE, password, password, SECRET, NULL, false, NULL, 0, 0, D_ODBC,  \
	  "odbc: password (better: password_file or ${ENV})")                   \
	X(SOURCE, password_file, password_file, PATH, NULL, false, NULL, 0, 0,  \
	  D_ODBC, "odbc: file holding the password")                            \
	X(SOURCE, login_timeout, login_timeout_ms, DURATION, "30s", false,      \
	  NULL, 0, 0, D_ODBC, "odbc: longest connection attempt (0: none)")     \
	X(SOURCE, table, table, STRING, NULL, false, NULL, 0, 0, D_SQL,         \
	  "table or view to read: [schema.]table (postgres: folds as SQL)")     \
	X(SOURCE, columns, columns, LIST, NULL, false, NULL, 0, 0, D_ALL,       \
	  "columns to read (csv without header: their names)")                  \
	X(SOURCE, where, where, STRING, NULL, false, NULL, 0, 0, D_SQL,         \
	  "SQL condition on table")                                             \
	X(SOURCE, query, query, STRING, NULL, false, NULL, 0, 0, D_SQL,         \
	  "SQL query to read instead of a table")                               \
	X(SOURCE, incremental, incremental, LIST, NULL, false, NULL, 0, 0,      \
	  D_SQL, "columns whose growth marks new rows (watermark)")             \
	X(SOURCE, key, key, LIST, NULL, false, NULL, 0, 0, D_SQL,               \
	  "tie-breaker columns for incremental")                                \
	X(SOURCE, lookback, lookback_ms, DURATION, "0", false, NULL, 0, 0,      \
	  D_SQL, "also read this far behind the watermark")                     \
	X(SOURCE, null_incremental, null_incremental, ENUM, "skip", false,      \
	  "skip|include-once|error", 0, 0, D_SQL,                               \
	  "rows whose incremental column is null")                              \
	X(SOURCE, timezone, timezone, STRING, NULL, false, NULL, 0, 0, D_ALL,   \
	  "zone of timestamps without an offset")                               \
	X(SOURCE, path, path, PATH, NULL, false, NULL, 0, 0, D_CSV,             \
	  "csv: file or glob; .gz files are decompressed")                      \
	X(SOURCE, header, header, BOOL, "yes", false, NULL, 0, 0, D_CSV,        \
	  "csv: the first line names the columns")                              \
	X(SOURCE, delimiter, delimiter, CHAR, ",", false, NULL, 0, 0, D_CSV,    \
	  "csv: field separator: one character, tab or space")                  \
	X(SOURCE, quote, quote, CHAR, "\"", false, NULL, 0, 0, D_CSV,           \
	  "csv: quote character")                                               \
	X(SOURCE, encoding, encoding, ENUM, "utf-8", false, "utf-8", 0, 0,      \
	  D_CSV, "csv: file encoding")                                          \
	X(SOURCE, min_rows, min_rows, INT, NULL, false, NULL, 0, INT64_MAX,     \
	  D_ALL, "volume guard: fewest rows a run expects")                     \
	X(SOURCE, max_change, max_change, PERCENT, NULL, false, NULL, 0, 0,     \
	  D_ALL,                                                                \
	  "volume guard: largest change from the last 7 good runs' median")     \
	X(SOURCE, deletes, deletes, ENUM, "ignore", false, "ignore|soft|hard",  \
	  0, 0, D_ALL, "target rows of the source that a full read missed")     \
	X(SOURCE, source_key, source_key, STRING, NULL, false, NULL, 0, 0,      \
	  D_ALL, "SQL condition on target rows: those that came from here")     \
	X(SOURCE, max_deletes, max_deletes_text, STRING, "10%", false, NULL,    \
	  0, 0, D_ALL, "most rows a run may delete: a count or a percentage")   \
	X(SOURCE, shards, shards, INT, "1", false, NULL, 1, 1024, D_ALL,        \
	  "split the source into this many shards (plus one for NULLs)")        \
	X(SOURCE, split_by, split_by, STRING, NULL, false, NULL, 0, 0, D_SQL,   \
	  "column whose values split the shards")                               \
	X(SOURCE, split_method, split_method, ENUM, "auto", false,              \
	  "auto|range|hash|blocks|files", 0, 0, D_ALL,                          \
	  "how shards split: quantile ranges, hash, ctid blocks, files")

#define KEY_INDEX(sec, key, ...) KI_##sec##_##key,
enum key_index {
	KEYS(KEY_INDEX) NKEYS
};

#define KEY_PUBLIC(sec, key, field, type, def, req, vals, lo, hi, drv, doc)    \
	{ SECNAME_##sec, #key, CNS_KEY_##type, def, req, vals, doc, lo, hi },
static const struct cns_config_key keys[] = { KEYS(KEY_PUBLIC) };

#define STORAGE(sec, field)                                                    \
	_Generic(((STRUCT_##sec *)0)->field,                         \
		 char *: ST_STR, int: ST_INT, int64_t: ST_I64,        \
		 bool: ST_BOOL, char: ST_CHAR, double: ST_DOUBLE,     \
		 struct cns_list: ST_LIST, default: ST_ENUM)

/* The private half of a row: where its value goes. */
struct key_impl {
	enum sec_kind sec;
	size_t off;
	enum storage st;
	unsigned drivers;
};

#define KEY_IMPL(sec, key, field, type, def, req, vals, lo, hi, drv, doc)      \
	{ SEC_##sec, offsetof(STRUCT_##sec, field), STORAGE(sec, field), drv },
static const struct key_impl impl[] = { KEYS(KEY_IMPL) };

/* A wrong field in the table would write the wrong bytes: catch it when
 * compiling. */
#define TYPE_FITS(t, st)                                                       \
	(((t) == CNS_KEY_STRING || (t) == CNS_KEY_PATH ||                      \
	  (t) == CNS_KEY_SECRET)                                               \
		 ? (st) == ST_STR                                              \
	 : (t) == CNS_KEY_INT      ? ((st) == ST_INT || (st) == ST_I64)        \
	 : (t) == CNS_KEY_BOOL     ? (st) == ST_BOOL                           \
	 : (t) == CNS_KEY_DURATION ? (st) == ST_I64                            \
	 : (t) == CNS_KEY_LIST     ? (st) == ST_LIST                           \
	 : (t) == CNS_KEY_ENUM     ? ((st) == ST_ENUM || (st) == ST_STR)       \
	 : (t) == CNS_KEY_CHAR     ? (st) == ST_CHAR                           \
				   : (st) == ST_DOUBLE)
#define KEY_CHECK(sec, key, field, type, ...)                                  \
	_Static_assert(TYPE_FITS(CNS_KEY_##type, STORAGE(sec, field)),         \
		       "type of " #sec "." #key " does not fit its field");    \
	_Static_assert(STORAGE(sec, field) != ST_ENUM ||                       \
			       sizeof(((STRUCT_##sec *)0)->field) ==           \
				       sizeof(int),                            \
		       "enum " #sec "." #key " is not int-sized");
KEYS(KEY_CHECK)
_Static_assert(sizeof(keys) / sizeof(keys[0]) == NKEYS, "key table");

/* ---- value parsers ---- */

static bool parse_uint64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

static bool parse_int64(const char *s, int64_t *out)
{
	bool neg = false;
	uint64_t v;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!parse_uint64(s, strlen(s), &v) || v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* "12", "0.5": digits with one optional dot.  Done by hand so that the
 * locale's decimal separator does not matter. */
static bool parse_decimal(const char *s, size_t n, double *out)
{
	double v = 0, scale = 1;
	bool dot = false, digit = false;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' && !dot) {
			dot = true;
		} else if (isdigit((unsigned char)s[i])) {
			digit = true;
			if (dot) {
				scale /= 10;
				v += (s[i] - '0') * scale;
			} else {
				v = v * 10 + (s[i] - '0');
			}
		} else {
			return false;
		}
	}
	if (!digit || v > 1e15)
		return false;
	*out = v;
	return true;
}

static bool duration_ms(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "ms", 1 },
		{ "m", 60000 },    { "s", 1000 },
	};
	/* Components must come largest first: d h m s ms. */
	static const int rank[] = { 0, 1, 4, 2, 3 };
	int last = -1;
	int64_t total = 0;
	uint64_t v;
	size_t n;

	n = strspn(s, "0123456789");
	if (n > 0 && s[n] == '\0') {
		if (!parse_uint64(s, n, &v) || v > (uint64_t)INT64_MAX / 1000)
			return false;
		*ms = (int64_t)v * 1000;
		return true;
	}
	if (*s == '\0')
		return false;
	while (*s) {
		size_t u;

		n = strspn(s, "0123456789");
		if (!parse_uint64(s, n, &v))
			return false;
		s += n;
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (!strncmp(s, units[u].unit, strlen(units[u].unit)))
				break;
		if (u == sizeof(units) / sizeof(units[0]) || rank[u] <= last)
			return false;
		last = rank[u];
		s += strlen(units[u].unit);
		if (v > (uint64_t)(INT64_MAX / units[u].ms) ||
		    (int64_t)v * units[u].ms > INT64_MAX - total)
			return false;
		total += (int64_t)v * units[u].ms;
		/* "1h 30m" reads well too. */
		while (*s == ' ' && s[1])
			s++;
	}
	*ms = total;
	return true;
}

int cns_parse_duration(const char *s, int64_t *ms, struct cns_error *err)
{
	if (duration_ms(s, ms))
		return 0;
	return cns_error_set(err, CNS_E_CONFIG,
			     "invalid duration \"%s\": expected a duration "
			     "such as 30s, 20m, 1h30m or 250ms",
			     s);
}

char *cns_format_duration(int64_t ms, char *buf, size_t size)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 },     { "ms", 1 },
	};
	size_t len = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (ms <= 0) {
		snprintf(buf, size, ms == 0 ? "0s" : "%lldms", (long long)ms);
		return buf;
	}
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		int64_t n = ms / units[u].ms;

		if (n == 0)
			continue;
		ms -= n * units[u].ms;
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%lld%s",
						(long long)n, units[u].unit);
	}
	return buf;
}

int cns_parse_size(const char *s, int64_t *bytes, struct cns_error *err)
{
	static const struct {
		const char *unit;
		int shift;
	} units[] = {
		{ "", 0 },     { "b", 0 },    { "k", 10 },   { "kb", 10 },
		{ "kib", 10 }, { "m", 20 },   { "mb", 20 },  { "mib", 20 },
		{ "g", 30 },   { "gb", 30 },  { "gib", 30 }, { "t", 40 },
		{ "tb", 40 },  { "tib", 40 },
	};
	size_t n = strspn(s, "0123456789");
	const char *unit = s + n;
	uint64_t v;

	while (*unit == ' ')
		unit++;
	if (parse_uint64(s, n, &v)) {
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			if (cns_strcasecmp(unit, units[u].unit))
				continue;
			if (v > ((uint64_t)INT64_MAX >> units[u].shift))
				break;
			*bytes = (int64_t)(v << units[u].shift);
			return 0;
		}
	}
	return cns_error_set(err, CNS_E_CONFIG,
			     "invalid size \"%s\": expected a number of bytes "
			     "with an optional unit kB, MB or GB (1 kB = 1024 "
			     "bytes)",
			     s);
}

static bool bool_value(const char *s, bool *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!cns_strcasecmp(s, yes[i])) {
			*v = true;
			return true;
		}
		if (!cns_strcasecmp(s, no[i])) {
			*v = false;
			return true;
		}
	}
	return false;
}

int cns_parse_bool(const char *s, bool *v, struct cns_error *err)
{
	if (bool_value(s, v))
		return 0;
	return cns_error_set(err, CNS_E_CONFIG,
			     "invalid boolean \"%s\": expected yes, no, true, "
			     "false, on, off, 1 or 0",
			     s);
}

/* ---- the key table, for people ---- */

const struct cns_config_key *cns_config_keys(int *n)
{
	if (n)
		*n = NKEYS;
	return keys;
}

static const char *type_text(const struct cns_config_key *k, char *buf,
			     size_t size)
{
	switch (k->type) {
	case CNS_KEY_STRING: return "string";
	case CNS_KEY_PATH: return "path";
	case CNS_KEY_SECRET: return "secret";
	case CNS_KEY_INT:
		if (k->max == INT64_MAX)
			snprintf(buf, size, "int >= %lld", (long long)k->min);
		else
			snprintf(buf, size, "int %lld..%lld", (long long)k->min,
				 (long long)k->max);
		return buf;
	case CNS_KEY_BOOL: return "yes|no";
	case CNS_KEY_DURATION: return "duration";
	case CNS_KEY_LIST: return "list";
	case CNS_KEY_ENUM: return k->values;
	case CNS_KEY_CHAR: return "char";
	case CNS_KEY_REJECTS: return "count|percent";
	case CNS_KEY_PERCENT: return "percent";
	}
	return "?";
}

void cns_config_print_keys(FILE *out)
{
	static const char *const sections[] = { "job", "target", "source" };
	char tbuf[64];

	for (size_t s = 0; s < 3; s++) {
		int wn = 0, wt = 0, wd = 0;

		for (int i = 0; i < NKEYS; i++) {
			const struct cns_config_key *k = &keys[i];
			int l;

			if (strcmp(k->section, sections[s]))
				continue;
			l = (int)strlen(k->name);
			wn = l > wn ? l : wn;
			l = (int)strlen(type_text(k, tbuf, sizeof(tbuf)));
			wt = l > wt ? l : wt;
			l = k->def ? (int)strlen(k->def) : 8;
			wd = l > wd ? l : wd;
		}
		fprintf(out, "%s[%s%s]\n", s ? "\n" : "", sections[s],
			s == 2 ? " NAME" : "");
		for (int i = 0; i < NKEYS; i++) {
			const struct cns_config_key *k = &keys[i];

			if (strcmp(k->section, sections[s]))
				continue;
			const char *def = k->def ? k->def : "-";

			if (k->required)
				def = "required";

			fprintf(out, "  %-*s  %-*s  %-*s  %s\n", wn, k->name,
				wt, type_text(k, tbuf, sizeof(tbuf)), wd, def,
				k->doc);
		}
	}
}

/* ---- the parser ---- */

struct section {
	enum sec_kind kind;
	int line;           /* of the [header] */
	const char *label;  /* "[job]", "[source erp]" */
	void *conf;         /* the struct its keys fill */
	int keyline[NKEYS]; /* line where each key was set, 0 if not */
	bool bad[NKEYS];    /* the key's value was rejected */
};

struct problem {
	int line; /* 0: about the whole file */
	int seq;  /* order found, to keep the sort stable */
	char *msg;
	char *hint;
};

struct parser {
	struct cns_job_conf *job;
	const char *text;
	size_t len, pos;
	int lineno;          /* line being read */
	struct section *cur; /* section of the keys that follow */
	bool skip_keys;      /* under a broken or duplicate header */
	struct section **secs;
	int nsecs, capsecs;
	struct section *job_sec, *target_sec;
	struct problem *probs;
	int nprobs, capprobs;
	struct cns_arena scratch; /* problems and sections, freed at the end */
	struct cns_buf line;      /* the line being looked at */
	struct cns_buf val;       /* a value after ${ENV} interpolation */
};

static void problem(struct parser *p, int line, const char *hint,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void problem(struct parser *p, int line, const char *hint,
		    const char *fmt, ...)
{
	struct problem *pr;
	va_list ap;
	int n;

	if (p->nprobs == p->capprobs) {
		p->capprobs = p->capprobs ? p->capprobs * 2 : 8;
		p->probs = cns_xrealloc(p->probs, (size_t)p->capprobs *
							  sizeof(*p->probs));
	}
	pr = &p->probs[p->nprobs];
	pr->line = line;
	pr->seq = p->nprobs++;
	pr->hint = hint ? cns_arena_strdup(&p->scratch, hint) : NULL;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	pr->msg = cns_arena_alloc(&p->scratch, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(pr->msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
}

/* A value as quoted back in a message: shortened, so that a pasted query
 * does not drown the message. */
static const char *shown(struct parser *p, const char *v)
{
	if (strlen(v) <= SHOWN_MAX)
		return v;
	return cns_arena_printf(&p->scratch, "%.*s...", SHOWN_MAX - 3, v);
}

static void bad_value(struct parser *p, int line, const char *key,
		      const char *v, const char *expected)
{
	problem(p, line, NULL, "invalid value \"%s\" for \"%s\": expected %s",
		shown(p, v), key, expected);
}

static struct section *new_section(struct parser *p, enum sec_kind kind,
				   int line, const char *name)
{
	struct section *s = cns_arena_zalloc(&p->scratch, sizeof(*s));

	s->kind = kind;
	s->line = line;
	switch (kind) {
	case SEC_JOB:
		s->label = "[job]";
		s->conf = p->job;
		p->job_sec = s;
		break;
	case SEC_TARGET:
		s->label = "[target]";
		s->conf = &p->job->target;
		p->job->target.line = line;
		p->target_sec = s;
		break;
	case SEC_SOURCE: {
		struct cns_source_conf *c;

		c = cns_arena_zalloc(&p->job->arena, sizeof(*c));
		c->name = cns_arena_strdup(&p->job->arena, name);
		c->line = line;
		c->min_rows = -1;
		c->max_change = -1;
		s->label = cns_arena_printf(&p->scratch, "[source %s]", name);
		s->conf = c;
		break;
	}
	}
	if (p->nsecs == p->capsecs) {
		p->capsecs = p->capsecs ? p->capsecs * 2 : 8;
		p->secs = cns_xrealloc(p->secs,
				       (size_t)p->capsecs * sizeof(*p->secs));
	}
	p->secs[p->nsecs++] = s;
	return s;
}

static bool valid_source_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SOURCE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* hdr: the text between [ and ], trimmed; modified in place. */
static void open_section(struct parser *p, char *hdr, int line)
{
	static const char *const words[] = { "job", "target", "source" };
	char *word = hdr, *rest = hdr + strcspn(hdr, " \t");
	struct section *dup = NULL;

	p->cur = NULL;
	p->skip_keys = true;
	if (*rest) {
		*rest++ = '\0';
		rest += strspn(rest, " \t");
	}
	if (!strcmp(word, "job") || !strcmp(word, "target")) {
		bool is_job = word[0] == 'j';

		if (*rest) {
			problem(p, line, NULL,
				"unexpected name \"%s\" in section [%s]",
				shown(p, rest), word);
			return;
		}
		dup = is_job ? p->job_sec : p->target_sec;
		if (dup) {
			problem(p, line, NULL,
				"duplicate section [%s] (first on line %d)",
				word, dup->line);
			return;
		}
		p->cur = new_section(p, is_job ? SEC_JOB : SEC_TARGET, line,
				     NULL);
	} else if (!strcmp(word, "source")) {
		if (!*rest) {
			problem(p, line, "name the source, as in [source crm]",
				"missing source name in section [source]");
			return;
		}
		if (!valid_source_name(rest)) {
			problem(p, line, NULL,
				"invalid source name \"%s\": expected up to %d "
				"letters, digits, \"_\" or \"-\"",
				shown(p, rest), SOURCE_NAME_MAX);
			return;
		}
		for (int i = 0; i < p->nsecs; i++) {
			struct section *s = p->secs[i];

			if (s->kind == SEC_SOURCE &&
			    !strcmp(((struct cns_source_conf *)s->conf)->name,
				    rest))
				dup = s;
		}
		if (dup) {
			problem(p, line, NULL,
				"duplicate section [source %s] (first on line "
				"%d)",
				rest, dup->line);
			return;
		}
		p->cur = new_section(p, SEC_SOURCE, line, rest);
	} else {
		const char *hint = NULL;
		int best = 3;

		for (size_t i = 0; i < 3; i++) {
			int d = cns_edit_distance(word, words[i]);

			if (d >= best)
				continue;
			best = d;
			if (i < 2)
				hint = cns_arena_printf(&p->scratch,
							"did you mean [%s]?",
							words[i]);
			else
				hint = cns_arena_printf(
					&p->scratch,
					"did you mean [source %s]?",
					*rest ? rest : "NAME");
		}
		problem(p, line, hint, "unknown section [%s%s%s]",
			shown(p, word), *rest ? " " : "", shown(p, rest));
		return;
	}
	p->skip_keys = false;
}

/*
 * The job-file tokenizer.  Written here rather than taken from inih: inih
 * as Debian builds it reads lines of at most 200 bytes and folds indented
 * lines into the value above, unless its process-wide options are
 * changed, which no library should do to its host.  The dialect is
 * small: blank lines; comments that start a line with ';' or '#', or
 * follow whitespace with ';'; "[section]" headers; "key = value" (or
 * "key: value") with blanks around both trimmed; a UTF-8 byte-order mark
 * at the start.  No continuation lines.
 */

/* The end of s[0..): the first of `stop` or an inline comment (';' after
 * whitespace), or the end of the string. */
static char *token_end(char *s, const char *stop)
{
	bool was_space = false;

	for (; *s; s++) {
		if (stop && strchr(stop, *s))
			break;
		if (was_space && *s == ';')
			break;
		was_space = isspace((unsigned char)*s);
	}
	return s;
}

static void rstrip(char *s, char *end)
{
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
}

static int on_key(struct parser *p, const char *name, const char *value);

/* One line (NUL-terminated, in p->line): a header, a key or nothing. */
static void scan_line(struct parser *p, char *s, int line)
{
	char *t;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	if (*s == '[') {
		t = token_end(s + 1, "]");
		if (*t != ']') {
			problem(p, line, NULL,
				"expected \"]\" at the end of the section "
				"header");
			p->cur = NULL;
			p->skip_keys = true;
			return;
		}
		s++;
		while (isspace((unsigned char)*s))
			s++;
		rstrip(s, t);
		open_section(p, s, line);
		return;
	}
	t = token_end(s, "=:");
	if (*t != '=' && *t != ':') {
		problem(p, line, NULL,
			"expected \"key = value\", a [section] header or a "
			"comment");
		return;
	}
	{
		char *value = t + 1;

		rstrip(s, t);
		while (isspace((unsigned char)*value))
			value++;
		rstrip(value, token_end(value, NULL));
		on_key(p, s, value);
	}
}

/* Reads the job file's text line by line, so that the line number of
 * every key is known exactly. */
static void read_job(struct parser *p)
{
	while (p->pos < p->len) {
		const char *s = p->text + p->pos;
		const char *nl = memchr(s, '\n', p->len - p->pos);
		size_t n = nl ? (size_t)(nl - s) : p->len - p->pos;

		p->pos += n + (nl != NULL);
		p->lineno++;
		if (p->lineno == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
			s += 3;
			n -= 3;
		}
		if (n > MAX_LINE || memchr(s, '\0', n)) {
			if (n > MAX_LINE)
				problem(p, p->lineno, NULL,
					"line is longer than %d bytes",
					MAX_LINE);
			else
				problem(p, p->lineno, NULL,
					"line contains a NUL byte");
			/* Keys under a header that could not be read belong
			 * to no known section. */
			if (s[strspn(s, " \t")] == '[') {
				p->cur = NULL;
				p->skip_keys = true;
			}
			continue;
		}
		cns_buf_reset(&p->line);
		cns_buf_add(&p->line, s, n);
		scan_line(p, p->line.data, p->lineno);
	}
}

static int find_key(enum sec_kind kind, const char *name)
{
	for (int i = 0; i < NKEYS; i++)
		if (impl[i].sec == kind && !strcmp(keys[i].name, name))
			return i;
	return -1;
}

static const char *unknown_key_hint(struct parser *p, enum sec_kind kind,
				    const char *name)
{
	static const char *const labels[] = { "[job]", "[target]",
					      "[source NAME]" };
	struct cns_buf where;
	const char *hint = NULL;
	int best = -1, bestd = 3;
	bool elsewhere[3] = { false, false, false };
	int nelse = 0;

	for (int i = 0; i < NKEYS; i++) {
		int d;

		if (impl[i].sec != kind) {
			if (!strcmp(keys[i].name, name) &&
			    !elsewhere[impl[i].sec]) {
				elsewhere[impl[i].sec] = true;
				nelse++;
			}
			continue;
		}
		d = cns_edit_distance(name, keys[i].name);
		if (d < bestd) {
			bestd = d;
			best = i;
		}
	}
	if (best >= 0)
		return cns_arena_printf(&p->scratch, "did you mean \"%s\"?",
					keys[best].name);
	if (!nelse)
		return NULL;
	cns_buf_init(&where);
	for (int s = 0, seen = 0; s < 3; s++) {
		if (!elsewhere[s])
			continue;
		if (seen++)
			cns_buf_adds(&where, " or ");
		cns_buf_adds(&where, labels[s]);
	}
	hint = cns_arena_printf(&p->scratch, "\"%s\" belongs in %s", name,
				where.data);
	cns_buf_release(&where);
	return hint;
}

/* Expands ${NAME} and $$ in raw into p->val.  Reports the problem and
 * returns -1 on a bad reference or an unset variable.  The value itself is
 * never quoted: it may be a secret. */
static int interpolate(struct parser *p, const char *key, const char *raw,
		       int line)
{
	const char *s, *end, *v;
	char name[256];
	size_t n;

	cns_buf_reset(&p->val);
	cns_buf_add(&p->val, "", 0);
	for (s = raw; *s; s++) {
		if (*s != '$' || (s[1] != '$' && s[1] != '{')) {
			cns_buf_addc(&p->val, *s);
			continue;
		}
		if (s[1] == '$') {
			cns_buf_addc(&p->val, '$');
			s++;
			continue;
		}
		end = strchr(s + 2, '}');
		if (!end) {
			problem(p, line, "use $$ for a literal $",
				"unterminated \"${\" in the value of \"%s\"",
				key);
			return -1;
		}
		n = (size_t)(end - (s + 2));
		if (n == 0 || n >= sizeof(name) ||
		    isdigit((unsigned char)s[2]) ||
		    strspn(s + 2, NAME_CHARS) != n) {
			problem(p, line, "use ${NAME} or $$ for a literal $",
				"invalid variable reference in the value of "
				"\"%s\"",
				key);
			return -1;
		}
		memcpy(name, s + 2, n);
		name[n] = '\0';
		v = getenv(name);
		/* A variable named for a secret is one wherever it is
		 * used; a password inside a connection string is found by
		 * reading the string (secret_value). */
		if (v &&
		    (strcasestr(name, "pass") || strcasestr(name, "pwd") ||
		     strcasestr(name, "secret") || strcasestr(name, "token")))
			cns_secrets_add(v, strlen(v));
		if (!v) {
			problem(p, line, NULL,
				"environment variable \"%s\" is not set (used "
				"by \"%s\")",
				name, key);
			return -1;
		}
		cns_buf_adds(&p->val, v);
		s = end;
	}
	return 0;
}

static char *resolve_path(struct parser *p, const char *v)
{
	const char *dir = p->job->dir;

	if (v[0] == '/')
		return cns_arena_strdup(&p->job->arena, v);
	while (v[0] == '.' && v[1] == '/') {
		v += 2;
		while (*v == '/')
			v++;
	}
	if (!*v || !strcmp(v, "."))
		return cns_arena_strdup(&p->job->arena, dir);
	return cns_arena_printf(&p->job->arena, "%s%s%s", dir,
				dir[strlen(dir) - 1] == '/' ? "" : "/", v);
}

/* A job's name becomes a folder and file names under log_dir, lock_dir
 * and rejects_dir: "..", "." or a hidden name would leave them or hide
 * there. */
static bool valid_job_name(const char *s)
{
	if (!*s || *s == '.')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_-.", *s))
			return false;
	return true;
}

static void first_problem(const struct cns_conn_token *t, void *arg)
{
	const char **why = arg;

	if (t->problem && !*why)
		*why = t->problem;
}

/* Adds the secrets of a secret value to the process's set (from now on
 * no error or log line can show them) and refuses a connection string
 * that its reader would refuse: libpq quotes the part it cannot read in
 * its message, and with an unquoted blank that part is the rest of the
 * password. */
static int secret_value(struct parser *p, int idx, int line, const char *key,
			const char *v)
{
	enum cns_conn_style style =
		idx == KI_SOURCE_connection ? CNS_CONN_ODBC : CNS_CONN_LIBPQ;
	const char *why = NULL, *hint;

	/* A password, and a URL whose path or query may carry a token: the
	 * whole value is the secret. */
	if (idx == KI_SOURCE_password || idx == KI_JOB_notify_url) {
		cns_secrets_add(v, strlen(v));
		return 0;
	}
	cns_secrets_add_conn(v, style);
	cns_conn_scan(v, style, first_problem, &why);
	if (!why)
		return 0;
	if (strstr(why, "\"@\""))
		hint = "write \"@\" in a URI's user or password as %40";
	else if (style == CNS_CONN_ODBC)
		hint = "write every pair as KEY=value; and a value holding "
		       "\";\" or \"}\" in braces: {a;b}";
	else
		hint = "write every pair as key=value, and a value that "
		       "holds blanks in quotes: 'two words'";
	problem(p, line, hint,
		"cannot read the connection string of \"%s\": %s", key, why);
	return -1;
}

static int set_list(struct parser *p, struct cns_list *l, const char *v)
{
	struct cns_arena *a = &p->job->arena;
	int n = 1;

	for (const char *s = v; *s; s++)
		n += *s == ',';
	l->items = cns_arena_alloc(a, (size_t)n * sizeof(char *));
	l->n = 0;
	for (const char *s = v;;) {
		const char *e = s + strcspn(s, ",");
		const char *b = s, *t = e;

		while (b < t && isspace((unsigned char)*b))
			b++;
		while (t > b && isspace((unsigned char)t[-1]))
			t--;
		if (b == t)
			return -1;
		l->items[l->n++] = cns_arena_strndup(a, b, (size_t)(t - b));
		if (!*e)
			break;
		s = e + 1;
	}
	return 0;
}

static int set_enum(struct parser *p, const struct cns_config_key *k,
		    const struct key_impl *m, void *field, const char *v,
		    int line)
{
	const char *s = k->values;
	struct cns_buf want;
	int idx = 0;

	for (;;) {
		size_t n = strcspn(s, "|");

		if (strlen(v) == n && !strncasecmp(s, v, n)) {
			if (m->st == ST_STR)
				*(char **)field =
					cns_arena_strndup(&p->job->arena, s, n);
			else
				*(int *)field = idx;
			return 0;
		}
		if (!s[n])
			break;
		s += n + 1;
		idx++;
	}
	/* "expected one of append, upsert, replace", or "expected utf-8". */
	cns_buf_init(&want);
	if (strchr(k->values, '|'))
		cns_buf_adds(&want, "one of ");
	for (s = k->values; *s; s++) {
		if (*s == '|')
			cns_buf_adds(&want, ", ");
		else
			cns_buf_addc(&want, *s);
	}
	bad_value(p, line, k->name, v, want.data);
	cns_buf_release(&want);
	return -1;
}

/* Parses a value for key idx of section sec and stores it.  line 0 means
 * a default from the table (not interpolated).  Reports the problem and
 * returns -1 when the value is bad. */
static int set_value(struct parser *p, struct section *sec, int idx,
		     const char *raw, int line)
{
	const struct cns_config_key *k = &keys[idx];
	const struct key_impl *m = &impl[idx];
	void *field = (char *)sec->conf + m->off;
	struct cns_arena *a = &p->job->arena;
	const char *v = raw;
	int64_t i64;
	double d;
	bool b;
	size_t n;

	if (line > 0) {
		if (interpolate(p, k->name, raw, line) < 0)
			return -1;
		v = p->val.data;
	}
	/* An empty password is a real one; everywhere else an empty value
	 * is a slip (leave the key out to get its default). */
	if (!*v && idx != KI_SOURCE_password) {
		problem(p, line, NULL, "empty value for \"%s\"", k->name);
		return -1;
	}
	switch (k->type) {
	case CNS_KEY_STRING:
		if (idx == KI_JOB_name && !valid_job_name(v)) {
			bad_value(p, line, k->name, v,
				  "letters, digits, \"_\", \"-\" and \".\", "
				  "not starting with \".\"");
			return -1;
		}
		if (idx == KI_JOB_log_keep) {
			n = strspn(v, "0123456789");
			if (!(v[n] == '\0' && parse_int64(v, &i64) &&
			      i64 > 0) &&
			    !(v[n] != '\0' && duration_ms(v, &i64))) {
				bad_value(p, line, k->name, v,
					  "a number of runs such as 30 or an "
					  "age such as 14d");
				return -1;
			}
		}
		*(char **)field = cns_arena_strdup(a, v);
		return 0;
	case CNS_KEY_SECRET:
		if (secret_value(p, idx, line, k->name, v) < 0)
			return -1;
		*(char **)field = cns_arena_strdup(a, v);
		return 0;
	case CNS_KEY_PATH:
		*(char **)field = resolve_path(p, v);
		if (idx == KI_SOURCE_password_file)
			cns_secrets_add_file(*(char **)field);
		return 0;
	case CNS_KEY_INT:
		if (!parse_int64(v, &i64) || i64 < k->min || i64 > k->max) {
			char want[96];

			if (k->max == INT64_MAX)
				snprintf(want, sizeof(want),
					 "an integer of %lld or more",
					 (long long)k->min);
			else
				snprintf(want, sizeof(want),
					 "an integer from %lld to %lld",
					 (long long)k->min, (long long)k->max);
			bad_value(p, line, k->name, v, want);
			return -1;
		}
		if (m->st == ST_INT)
			*(int *)field = (int)i64;
		else
			*(int64_t *)field = i64;
		return 0;
	case CNS_KEY_BOOL:
		if (!bool_value(v, &b)) {
			bad_value(p, line, k->name, v,
				  "yes, no, true, false, on, off, 1 or 0");
			return -1;
		}
		*(bool *)field = b;
		return 0;
	case CNS_KEY_DURATION:
		if (!duration_ms(v, &i64)) {
			bad_value(p, line, k->name, v,
				  "a duration such as 30s, 20m, 1h30m or "
				  "250ms");
			return -1;
		}
		*(int64_t *)field = i64;
		return 0;
	case CNS_KEY_LIST:
		if (set_list(p, field, v) < 0) {
			bad_value(p, line, k->name, v,
				  "a comma-separated list without empty items");
			return -1;
		}
		return 0;
	case CNS_KEY_ENUM: return set_enum(p, k, m, field, v, line);
	case CNS_KEY_CHAR:
		if (strlen(v) == 1 && (unsigned char)v[0] > ' ' &&
		    (unsigned char)v[0] < 0x7f)
			*(char *)field = v[0];
		else if (!cns_strcasecmp(v, "tab") || !strcmp(v, "\\t"))
			*(char *)field = '\t';
		else if (!cns_strcasecmp(v, "space"))
			*(char *)field = ' ';
		else {
			bad_value(p, line, k->name, v,
				  "one character, \"tab\" or \"space\"");
			return -1;
		}
		return 0;
	case CNS_KEY_REJECTS: {
		struct cns_job_conf *job = sec->conf;

		n = strlen(v);
		if (n > 1 && v[n - 1] == '%' && parse_decimal(v, n - 1, &d) &&
		    d <= 100) {
			job->max_rejects = d / 100;
			job->max_rejects_pct = true;
		} else if (parse_int64(v, &i64) && i64 >= 0 && v[0] != '-' &&
			   v[0] != '+') {
			job->max_rejects = (double)i64;
			job->max_rejects_pct = false;
		} else {
			bad_value(p, line, k->name, v,
				  "a count such as 100 or a percentage such "
				  "as 1%");
			return -1;
		}
		return 0;
	}
	case CNS_KEY_PERCENT:
		n = strlen(v);
		if (n < 2 || v[n - 1] != '%' || !parse_decimal(v, n - 1, &d)) {
			bad_value(p, line, k->name, v,
				  "a percentage such as 50%");
			return -1;
		}
		*(double *)field = d / 100;
		return 0;
	}
	return 0;
}

/* Each "key = value" of the current section. */
static int on_key(struct parser *p, const char *name, const char *value)
{
	struct section *sec = p->cur;
	int line = p->lineno;
	int idx;

	if (p->skip_keys)
		return 1;
	if (!*name) {
		problem(p, line, NULL, "missing key name before \"=\"");
		return 1;
	}
	if (!sec) {
		problem(p, line,
			"put it under [job], [target] or [source NAME]",
			"key \"%s\" before the first section", shown(p, name));
		return 1;
	}
	idx = find_key(sec->kind, name);
	if (idx < 0) {
		problem(p, line, unknown_key_hint(p, sec->kind, name),
			"unknown key \"%s\" in %s", shown(p, name), sec->label);
		return 1;
	}
	if (sec->keyline[idx]) {
		problem(p, line, NULL,
			"duplicate key \"%s\" in %s (first set on line %d)",
			name, sec->label, sec->keyline[idx]);
		return 1;
	}
	sec->keyline[idx] = line;
	if (set_value(p, sec, idx, value, line) < 0)
		sec->bad[idx] = true;
	return 1;
}

/* ---- after reading: defaults, required keys, checks across keys ---- */

static bool is_set(const struct section *s, int idx)
{
	return s->keyline[idx] > 0;
}

static bool is_good(const struct section *s, int idx)
{
	return s->keyline[idx] > 0 && !s->bad[idx];
}

static int later(const struct section *s, int a, int b)
{
	return s->keyline[a] > s->keyline[b] ? s->keyline[a] : s->keyline[b];
}

static void finish_section(struct parser *p, struct section *s)
{
	for (int i = 0; i < NKEYS; i++) {
		if (impl[i].sec != s->kind || is_set(s, i))
			continue;
		if (keys[i].required)
			problem(p, s->line, NULL,
				"missing required key \"%s\" in %s",
				keys[i].name, s->label);
		else if (keys[i].def)
			set_value(p, s, i, keys[i].def, 0);
	}
}

/* A table name, parsed once with PostgreSQL's rules (see "Names" in
 * consolidate.conf(5)) so that every statement and catalog lookup uses
 * the same two parts. */
static void parse_table(struct parser *p, struct section *sec, int idx,
			const char *text, struct cns_qname *out)
{
	const char *why = NULL;

	if (!text || !is_good(sec, idx))
		return;
	if (cns_pg_parse_qname(&p->job->arena, text, out, &why) < 0)
		problem(p, sec->keyline[idx],
			"write each part that has capitals, blanks or other "
			"characters in double quotes, as in "
			"\"My Schema\".\"My Table\"",
			"bad table name \"%s\" in %s: %s", text, sec->label,
			why);
}

/* Column names in a list may be written in double quotes ("" for a
 * quote), for a name that is a keyword or has a comma-free oddity; the
 * quotes are taken off here, since every statement quotes names anyway.
 * Names without quotes are kept as written. */
static void unquote_list(struct parser *p, struct section *sec, int idx,
			 struct cns_list *l)
{
	for (int i = 0; is_good(sec, idx) && i < l->n; i++) {
		const char *s = l->items[i];
		size_t n = strlen(s);
		char *d;

		if (s[0] != '"')
			continue;
		if (n < 3 || s[n - 1] != '"') {
			problem(p, sec->keyline[idx], NULL,
				"bad quoted name %s in \"%s\" of %s", s,
				keys[idx].name, sec->label);
			return;
		}
		d = l->items[i] =
			cns_arena_strndup(&p->job->arena, s + 1, n - 2);
		for (char *r = d; *r; r++) {
			if (*r == '"' && r[1] == '"')
				r++;
			*d++ = *r;
		}
		*d = '\0';
	}
}

static void check_target(struct parser *p, struct section *t)
{
	struct cns_target_conf *c = &p->job->target;

	parse_table(p, t, KI_TARGET_table, c->table, &c->qtable);
	unquote_list(p, t, KI_TARGET_key, &c->key);

	if (is_good(t, KI_TARGET_mode) && c->mode == CNS_MODE_UPSERT &&
	    !is_set(t, KI_TARGET_key))
		problem(p, t->keyline[KI_TARGET_mode],
			"list the columns that identify a row, as in "
			"key = id",
			"mode upsert needs \"key\" in [target]");
	if (is_good(t, KI_TARGET_dedupe) && c->dedupe &&
	    !is_set(t, KI_TARGET_key))
		problem(p, t->keyline[KI_TARGET_dedupe], NULL,
			"\"dedupe\" needs \"key\" in [target]");
	else if (is_good(t, KI_TARGET_dedupe) && c->dedupe &&
		 !t->bad[KI_TARGET_mode] && c->mode == CNS_MODE_APPEND)
		problem(p, t->keyline[KI_TARGET_dedupe],
			"use mode = upsert, which keeps one row per key",
			"\"dedupe\" cannot be used with mode append, which "
			"keeps every row");
	if (is_set(t, KI_TARGET_dedupe_order) && !t->bad[KI_TARGET_dedupe] &&
	    !c->dedupe)
		problem(p, t->keyline[KI_TARGET_dedupe_order], NULL,
			"\"dedupe_order\" needs \"dedupe = yes\" in [target]");
}

static unsigned driver_mask(const char *driver)
{
	if (!strcmp(driver, "postgres"))
		return D_PG;
	if (!strcmp(driver, "odbc"))
		return D_ODBC;
	return D_CSV;
}

/* deletes, source_key and max_deletes: only a full read in mode upsert
 * can tell a row that is gone from one that did not change. */
static void check_deletes(struct parser *p, struct section *s)
{
	struct cns_source_conf *c = s->conf;
	const struct section *t = p->target_sec;
	bool mode_known = t && !t->bad[KI_TARGET_mode];
	const char *v = c->max_deletes_text;
	int nsrc = 0;
	size_t n = v ? strlen(v) : 0;
	int64_t i64;
	double d;

	if (n > 1 && v[n - 1] == '%' && parse_decimal(v, n - 1, &d) &&
	    d <= 100) {
		c->max_deletes = d / 100;
		c->max_deletes_pct = true;
	} else if (n && parse_int64(v, &i64) && i64 >= 0 && v[0] != '-' &&
		   v[0] != '+') {
		c->max_deletes = (double)i64;
		c->max_deletes_pct = false;
	} else {
		problem(p, s->keyline[KI_SOURCE_max_deletes], NULL,
			"invalid value \"%s\" for \"max_deletes\" in %s: "
			"expected a count such as 100 or a percentage such as "
			"10%%",
			shown(p, v ? v : ""), s->label);
	}
	if (s->bad[KI_SOURCE_deletes] || c->deletes == CNS_DELETES_IGNORE) {
		if (is_set(s, KI_SOURCE_source_key))
			problem(p, s->keyline[KI_SOURCE_source_key],
				"set \"deletes = soft\" or \"deletes = hard\"",
				"\"source_key\" in %s does nothing without "
				"\"deletes\"",
				s->label);
		return;
	}
	if (is_set(s, KI_SOURCE_incremental))
		problem(p, s->keyline[KI_SOURCE_deletes],
			"read the source in full (no \"incremental\") in a "
			"job of its own on the same target, run for instance "
			"nightly, and give that job the deletes",
			"\"deletes\" in %s cannot be used with "
			"\"incremental\": an incremental read sees only rows "
			"that changed since the watermark, never rows that are "
			"gone",
			s->label);
	if (mode_known && p->job->target.mode == CNS_MODE_APPEND)
		problem(p, s->keyline[KI_SOURCE_deletes],
			"use mode upsert with a key in [target]",
			"\"deletes\" in %s needs mode upsert: mode append "
			"keeps no key that tells which rows a run read",
			s->label);
	else if (mode_known && p->job->target.mode == CNS_MODE_REPLACE)
		problem(p, s->keyline[KI_SOURCE_deletes],
			"remove \"deletes\", or use mode upsert",
			"\"deletes\" in %s is not needed with mode replace: "
			"each run already keeps only the rows it read",
			s->label);
	for (int i = 0; i < p->nsecs; i++)
		nsrc += p->secs[i]->kind == SEC_SOURCE;
	if (nsrc > 1 && !is_set(s, KI_SOURCE_source_key))
		problem(p, s->keyline[KI_SOURCE_deletes],
			"add for instance \"source_key = source_system = "
			"'erp'\", a condition true for the rows this source "
			"loads",
			"\"deletes\" in %s needs \"source_key\" when the "
			"job has several sources: without it the run would "
			"delete the other sources' rows",
			s->label);
}

static void check_source(struct parser *p, struct section *s)
{
	struct cns_source_conf *c = s->conf;
	const struct section *t = p->target_sec;
	bool mode_known = t && !t->bad[KI_TARGET_mode];
	enum cns_load_mode mode = p->job->target.mode;
	unsigned drv;

	if (is_good(s, KI_SOURCE_lookback) && c->lookback_ms > 0) {
		if (!is_set(s, KI_SOURCE_incremental))
			problem(p, s->keyline[KI_SOURCE_lookback], NULL,
				"\"lookback\" in %s needs \"incremental\"",
				s->label);
		else if (mode_known && mode == CNS_MODE_APPEND)
			problem(p, s->keyline[KI_SOURCE_lookback],
				"use mode upsert in [target], or remove "
				"lookback",
				"\"lookback\" in %s would load rows twice "
				"with mode append",
				s->label);
	}
	/* The watermark of a chunk is built from a fixed set of ordering
	 * values (incremental, then key): bounded here, with the line,
	 * rather than failing mid-run. */
	if (c->incremental.n > CNS_MAX_ORDER_COLUMNS)
		problem(p, s->keyline[KI_SOURCE_incremental], NULL,
			"\"incremental\" in %s lists %d columns, more than "
			"the %d allowed",
			s->label, c->incremental.n, CNS_MAX_ORDER_COLUMNS);
	if (c->key.n > CNS_MAX_ORDER_COLUMNS)
		problem(p, s->keyline[KI_SOURCE_key], NULL,
			"\"key\" in %s lists %d columns, more than the %d "
			"allowed",
			s->label, c->key.n, CNS_MAX_ORDER_COLUMNS);
	if (is_set(s, KI_SOURCE_incremental) && mode_known &&
	    mode == CNS_MODE_REPLACE)
		problem(p, s->keyline[KI_SOURCE_incremental],
			"mode replace rebuilds the whole table each run, so "
			"every row must be read",
			"\"incremental\" in %s cannot be used with mode "
			"replace",
			s->label);

	check_deletes(p, s);

	if (!is_good(s, KI_SOURCE_driver))
		return;
	drv = driver_mask(c->driver);
	for (int i = 0; i < NKEYS; i++)
		if (impl[i].sec == SEC_SOURCE && is_set(s, i) &&
		    !(impl[i].drivers & drv))
			problem(p, s->keyline[i], NULL,
				"key \"%s\" in %s does not apply to driver %s",
				keys[i].name, s->label, c->driver);
	if (drv == D_PG && !is_set(s, KI_SOURCE_conninfo))
		problem(p, s->line, NULL,
			"missing key \"conninfo\" in %s (driver postgres)",
			s->label);
	if (drv == D_ODBC) {
		if (is_set(s, KI_SOURCE_dsn) && is_set(s, KI_SOURCE_connection))
			problem(p,
				later(s, KI_SOURCE_dsn, KI_SOURCE_connection),
				NULL,
				"\"dsn\" and \"connection\" cannot both be set "
				"in %s",
				s->label);
		else if (!is_set(s, KI_SOURCE_dsn) &&
			 !is_set(s, KI_SOURCE_connection))
			problem(p, s->line, NULL,
				"missing key \"dsn\" or \"connection\" in %s",
				s->label);
		if (is_set(s, KI_SOURCE_password) &&
		    is_set(s, KI_SOURCE_password_file))
			problem(p,
				later(s, KI_SOURCE_password,
				      KI_SOURCE_password_file),
				NULL,
				"\"password\" and \"password_file\" cannot "
				"both be set in %s",
				s->label);
	}
	if (drv == D_PG)
		parse_table(p, s, KI_SOURCE_table, c->table, &c->qtable);
	if (drv & D_SQL) {
		unquote_list(p, s, KI_SOURCE_columns, &c->columns);
		unquote_list(p, s, KI_SOURCE_incremental, &c->incremental);
		unquote_list(p, s, KI_SOURCE_key, &c->key);
	}
	if (drv & D_SQL) {
		if (is_set(s, KI_SOURCE_table) && is_set(s, KI_SOURCE_query))
			problem(p, later(s, KI_SOURCE_table, KI_SOURCE_query),
				NULL,
				"\"table\" and \"query\" cannot both be set in "
				"%s",
				s->label);
		else if (!is_set(s, KI_SOURCE_table) &&
			 !is_set(s, KI_SOURCE_query))
			problem(p, s->line, NULL,
				"missing key \"table\" or \"query\" in %s",
				s->label);
		if (is_set(s, KI_SOURCE_columns) && is_set(s, KI_SOURCE_query))
			problem(p, later(s, KI_SOURCE_columns, KI_SOURCE_query),
				"name the columns in the query instead",
				"\"columns\" cannot be used with \"query\" in "
				"%s",
				s->label);
		if (is_set(s, KI_SOURCE_where) && is_set(s, KI_SOURCE_query))
			problem(p, later(s, KI_SOURCE_where, KI_SOURCE_query),
				"put the condition in the query's WHERE clause",
				"\"where\" cannot be used with \"query\" in %s",
				s->label);
	}
	if (drv == D_CSV) {
		if (!is_set(s, KI_SOURCE_path))
			problem(p, s->line, NULL,
				"missing key \"path\" in %s (driver csv)",
				s->label);
		if (!s->bad[KI_SOURCE_delimiter] && !s->bad[KI_SOURCE_quote] &&
		    c->delimiter == c->quote)
			problem(p,
				later(s, KI_SOURCE_delimiter, KI_SOURCE_quote),
				NULL,
				"\"delimiter\" and \"quote\" cannot be the "
				"same character in %s",
				s->label);
	}
}

static void default_job_name(struct parser *p)
{
	struct cns_job_conf *job = p->job;
	const char *base = strrchr(job->file, '/');
	size_t n;

	base = base ? base + 1 : job->file;
	n = strlen(base);
	if (n > 5 && !strcmp(base + n - 5, ".conf"))
		n -= 5;
	job->name = cns_arena_strndup(&job->arena, base, n);
	if (!valid_job_name(job->name))
		problem(p, p->job_sec->line, "set \"name\" in [job]",
			"job name \"%s\" taken from the file name may use only "
			"letters, digits, \"_\", \"-\" and \".\", not "
			"starting with \".\"",
			shown(p, job->name));
}

/* A schedule and a zone are checked here, with their line, rather than
 * when the scheduler first meets them. */
static void check_schedule(struct parser *p, struct section *j)
{
	struct cns_job_conf *job = p->job;
	struct cns_error e;

	/* Parsed here, once: every user of the job reads job->cron and
	 * job->tz, so none can read the schedule in another zone. */
	if (job->schedule && !j->bad[KI_JOB_schedule]) {
		cns_error_clear(&e);
		if (cns_cron_parse(&job->cron, job->schedule, &e) < 0)
			problem(p, j->keyline[KI_JOB_schedule],
				e.hint[0] ? e.hint : NULL, "%s", e.message);
	}
	if (!j->bad[KI_JOB_timezone]) {
		cns_error_clear(&e);
		if (cns_tz_load(job->timezone, &job->tz, &e) < 0)
			problem(p, j->keyline[KI_JOB_timezone],
				e.hint[0] ? e.hint : NULL, "%s", e.message);
	}
}

static void finish(struct parser *p)
{
	struct cns_job_conf *job = p->job;
	int nsrc = 0;

	if (!p->job_sec)
		problem(p, 0, NULL, "missing section [job]");
	if (!p->target_sec)
		problem(p, 0, NULL, "missing section [target]");
	for (int i = 0; i < p->nsecs; i++)
		nsrc += p->secs[i]->kind == SEC_SOURCE;
	if (!nsrc)
		problem(p, 0, "add a section such as [source erp]",
			"no [source NAME] section: a job needs at least one "
			"source");
	for (int i = 0; i < p->nsecs; i++)
		finish_section(p, p->secs[i]);
	if (p->job_sec && !is_set(p->job_sec, KI_JOB_name))
		default_job_name(p);
	if (p->job_sec)
		check_schedule(p, p->job_sec);
	if (p->target_sec)
		check_target(p, p->target_sec);
	job->sources = cns_arena_zalloc(&job->arena,
					(size_t)nsrc * sizeof(*job->sources));
	for (int i = 0; i < p->nsecs; i++) {
		struct section *s = p->secs[i];

		if (s->kind != SEC_SOURCE)
			continue;
		check_source(p, s);
		job->sources[job->nsources++] =
			*(struct cns_source_conf *)s->conf;
	}
}

static int problem_key(const struct problem *pr)
{
	return pr->line > 0 ? pr->line : INT_MAX;
}

static bool problem_after(const struct problem *a, const struct problem *b)
{
	return problem_key(a) > problem_key(b) ||
	       (problem_key(a) == problem_key(b) && a->seq > b->seq);
}

/* Moves the problems into err: the first (by line) as the message, every
 * one of them in the detail. */
static int report(struct parser *p, const char *path, struct cns_error *err)
{
	struct problem *first;
	struct cns_buf all;
	size_t room = sizeof(err->detail) - 1;

	/* Insertion sort: stable, and the list is short. */
	for (int i = 1; i < p->nprobs; i++) {
		struct problem pr = p->probs[i];
		int j = i;

		while (j > 0 && problem_after(&p->probs[j - 1], &pr)) {
			p->probs[j] = p->probs[j - 1];
			j--;
		}
		p->probs[j] = pr;
	}
	first = &p->probs[0];
	if (cns_error_isset(err))
		return -1;
	cns_error_set(err, CNS_E_CONFIG, "%s", first->msg);
	cns_error_at(err, path, first->line, 0);
	if (first->hint)
		cns_error_hint(err, "%s", first->hint);
	/* The first problem is the message (its hint the HINT); the detail
	 * lists the others, so that nothing is said twice. */
	cns_buf_init(&all);
	for (int i = 1; i < p->nprobs; i++) {
		struct problem *pr = &p->probs[i];
		size_t mark = all.len;
		char more[48];

		if (i > 1)
			cns_buf_addc(&all, '\n');
		if (pr->line)
			cns_buf_printf(&all, "%s:%d: %s", path, pr->line,
				       pr->msg);
		else
			cns_buf_printf(&all, "%s: %s", path, pr->msg);
		if (pr->hint)
			cns_buf_printf(&all, " (%s)", pr->hint);
		snprintf(more, sizeof(more), "\n... and %d more errors",
			 p->nprobs - i);
		/* Keep room to say how many did not fit. */
		if (i > 1 &&
		    all.len + (i + 1 < p->nprobs ? sizeof(more) : 0) > room) {
			all.len = mark;
			all.data[mark] = '\0';
			cns_buf_adds(&all, more);
			break;
		}
	}
	if (all.len)
		cns_error_detail(err, "%s", all.data);
	cns_buf_release(&all);
	return -1;
}

static int read_file(const char *path, char **text, size_t *len,
		     struct cns_error *err)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0, got;
	char *buf;

	if (!f)
		return cns_error_set(err, CNS_E_CONFIG,
				     "could not open job file \"%s\": %s", path,
				     strerror(errno));
	buf = cns_xmalloc(cap);
	for (;;) {
		if (n == cap) {
			if (cap >= MAX_FILE) {
				fclose(f);
				free(buf);
				return cns_error_set(
					err, CNS_E_CONFIG,
					"job file \"%s\" is larger than %d "
					"bytes",
					path, MAX_FILE);
			}
			cap *= 2;
			buf = cns_xrealloc(buf, cap);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		free(buf);
		return cns_error_set(err, CNS_E_CONFIG,
				     "could not read job file \"%s\": %s", path,
				     strerror(e));
	}
	fclose(f);
	*text = buf;
	*len = n;
	return 0;
}

static char *job_dir(struct cns_arena *a, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *real;

	if (!slash)
		dir = cns_arena_strdup(a, ".");
	else if (slash == path)
		dir = cns_arena_strdup(a, "/");
	else
		dir = cns_arena_strndup(a, path, (size_t)(slash - path));
	/* Absolute, so that paths stay right when the daemon changes its
	 * working folder. */
	real = realpath(dir, NULL);
	if (real) {
		dir = cns_arena_strdup(a, real);
		free(real);
	}
	return dir;
}

int cns_config_load(const char *path, struct cns_job_conf **out,
		    struct cns_error *err)
{
	struct cns_job_conf *job;
	struct parser p;
	char *text = NULL;
	size_t len = 0;
	int rc = 0;

	*out = NULL;
	/* libpq sends PGPASSWORD for every connection that names none:
	 * a secret of every job. */
	if (getenv("PGPASSWORD"))
		cns_secrets_add(getenv("PGPASSWORD"),
				strlen(getenv("PGPASSWORD")));
	if (read_file(path, &text, &len, err) < 0)
		return -1;
	job = cns_xcalloc(1, sizeof(*job));
	cns_arena_init(&job->arena, 16 * 1024);
	job->file = cns_arena_strdup(&job->arena, path);
	job->dir = job_dir(&job->arena, path);

	memset(&p, 0, sizeof(p));
	p.job = job;
	p.text = text;
	p.len = len;
	cns_arena_init(&p.scratch, 8 * 1024);
	cns_buf_init(&p.line);
	cns_buf_init(&p.val);

	read_job(&p);
	finish(&p);
	if (p.nprobs)
		rc = report(&p, path, err);

	free(text);
	free(p.secs);
	free(p.probs);
	cns_buf_release(&p.line);
	cns_buf_release(&p.val);
	cns_arena_release(&p.scratch);
	if (rc < 0) {
		cns_config_free(job);
		return -1;
	}
	*out = job;
	return 0;
}

void cns_config_free(struct cns_job_conf *job)
{
	if (!job)
		return;
	cns_tz_free(job->tz);
	cns_arena_release(&job->arena);
	free(job);
}

const struct cns_source_conf *cns_config_source(const struct cns_job_conf *job,
						const char *name)
{
	if (!job || !name)
		return NULL;
	for (int i = 0; i < job->nsources; i++)
		if (!strcmp(job->sources[i].name, name))
			return &job->sources[i];
	return NULL;
}
