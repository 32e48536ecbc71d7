/*
 * config.h - job files: parsing, validation and the key table.
 *
 * A job file is INI (read with inih): one [job], one [target] and any number
 * of [source NAME] sections.  Every key is described once in a table
 * (section, name, type, default, doc line) that drives the parser,
 * `consolidate help keys` and the check of consolidate.conf(5), so the three
 * cannot drift apart.
 *
 * Values: durations ("30s", "20m", "1h", "1h30m", "250ms"), sizes ("64kB",
 * "10MB"), booleans (yes/no/true/false/on/off/1/0), lists (comma-separated),
 * ${ENV} interpolation (an unset variable is an error; $$ is a literal $),
 * and paths resolved against the job file's folder.
 *
 * All strings of a loaded job live in job->arena and are freed by
 * cns_config_free().
 */
#ifndef CONSOLIDATE_CONFIG_H
#define CONSOLIDATE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "consolidate/cron.h"
#include "consolidate/error.h"
#include "consolidate/tz.h"
#include "consolidate/util.h"

enum cns_load_mode {
	CNS_MODE_APPEND,
	CNS_MODE_UPSERT,
	CNS_MODE_REPLACE
};

enum cns_lock_mode {
	CNS_LOCK_BOTH,
	CNS_LOCK_LOCAL,
	CNS_LOCK_TARGET
};

enum cns_overlap {
	CNS_OVERLAP_SKIP,
	CNS_OVERLAP_QUEUE
};

enum cns_catchup {
	CNS_CATCHUP_NONE,
	CNS_CATCHUP_ONCE
};

enum cns_null_incremental {
	CNS_NULLINC_SKIP,
	CNS_NULLINC_INCLUDE_ONCE,
	CNS_NULLINC_ERROR
};

/* What a run does with target rows of a source that it did not read. */
enum cns_deletes {
	CNS_DELETES_IGNORE,
	CNS_DELETES_SOFT, /* set deleted_at; cleared when the row returns */
	CNS_DELETES_HARD  /* DELETE them */
};

enum cns_log_format {
	CNS_LOGFMT_TEXT,
	CNS_LOGFMT_JSON
};

enum cns_on_anomaly {
	CNS_ANOMALY_WARN,
	CNS_ANOMALY_FAIL
};

/* What a run does when [schema] and the existing target table differ. */
enum cns_on_schema_change {
	CNS_SCHEMA_FAIL,
	CNS_SCHEMA_EVOLVE
};

/* At most this many columns in a source's "incremental" and, apart, in
 * its "key" (PostgreSQL's own limit of index columns): a watermark holds
 * both. */
#define CNS_MAX_ORDER_COLUMNS 32

/* A list value: "a, b, c". */
struct cns_list {
	int n;
	char **items;
};

/* How a source splits into shards (split_method). */
enum cns_split_method {
	CNS_SPLIT_AUTO,   /* range with split_by; else blocks (postgres),
			     files (csv) */
	CNS_SPLIT_RANGE,  /* quantile ranges of split_by */
	CNS_SPLIT_HASH,   /* hash of split_by's text */
	CNS_SPLIT_BLOCKS, /* ctid block ranges (postgres, full load) */
	CNS_SPLIT_FILES   /* one shard per file (csv) */
};

struct cns_source_conf {
	char *name;   /* from [source NAME] */
	int line;     /* line of the section header */
	char *driver; /* postgres | odbc | csv */

	/* postgres */
	char *conninfo;
	/* odbc */
	char *dsn;
	char *connection;
	char *user;
	char *password;           /* never logged */
	char *password_file;      /* resolved path */
	int64_t login_timeout_ms; /* SQL_ATTR_LOGIN_TIMEOUT; 0: none */
	/* postgres and odbc */
	char *table;
	struct cns_qname qtable; /* postgres: table, parsed */
	struct cns_list columns; /* also: names for a headerless csv */
	char *where;
	char *query;
	struct cns_list incremental;
	struct cns_list key; /* tie-breaker for incremental, default none */
	int64_t lookback_ms;
	enum cns_null_incremental null_incremental;
	char *timezone; /* zone of values without an offset */

	/* csv */
	char *path; /* resolved path or glob */
	bool header;
	char delimiter;
	char quote;
	char *encoding; /* only utf-8 for now */

	/* volume guard */
	int64_t min_rows;  /* -1 when unset */
	double max_change; /* fraction, -1 when unset */

	/* rows deleted at the source (full reads, mode upsert) */
	enum cns_deletes deletes;
	char *source_key;       /* SQL condition on the target's rows that
				   picks this source's; NULL: every row */
	char *max_deletes_text; /* as written */
	double max_deletes;     /* count, or fraction when _pct */
	bool max_deletes_pct;
	/* shards (see shard.h): 1 reads the source whole */
	int shards;
	char *split_by; /* column, or NULL */
	enum cns_split_method split_method;
	/* Not a key: the snapshot a shard reads in (SET TRANSACTION
	 * SNAPSHOT), set by shard.c on the shard's copy; NULL: none. */
	char *snapshot;
};

struct cns_target_conf {
	char *driver; /* postgres */
	char *conninfo;
	char *table;             /* schema.table or table, as written */
	struct cns_qname qtable; /* table, parsed: what SQL uses */
	struct cns_list key;
	enum cns_load_mode mode;
	bool create;
	char *dedupe_order; /* optional: ORDER BY for dedupe, last wins */
	bool dedupe;
	enum cns_on_schema_change on_schema_change;
	int line;
};

struct cns_job_conf {
	char *file; /* path of the job file as given */
	char *dir;  /* folder of the job file, for relative paths */
	char *name;

	char *schedule; /* cron expression or macro, NULL when unset */
	char *timezone; /* NULL: the host's zone */
	/* The two above, parsed once when the job is loaded: `cron` is valid
	 * when `schedule` is set; `tz` is the zone (the host's when timezone
	 * is unset), owned by the job. */
	struct cns_cron cron;
	struct cns_tz *tz;
	enum cns_overlap overlap;
	enum cns_catchup catchup;
	int64_t jitter_ms;

	int64_t max_runtime_ms;   /* 0: unlimited */
	int64_t stall_timeout_ms; /* 0: unlimited */
	int64_t kill_grace_ms;
	int64_t statement_timeout_ms; /* 0: unset */
	int batch_size;
	int parallel;
	double max_rejects; /* count, or fraction when max_rejects_pct */
	bool max_rejects_pct;
	int retries;
	int64_t retry_delay_ms;

	char *transforms; /* resolved path of the transform file */

	enum cns_lock_mode lock;
	char *lock_dir; /* NULL: the default */
	char *log_dir;  /* resolved */
	char *rejects_dir;
	enum cns_log_format log_format;
	char *log_keep; /* count or duration, as written */
	char *metrics_file;
	bool syslog;
	int64_t max_age_ms; /* for `status`; 0: two schedule intervals */
	enum cns_on_anomaly on_volume_anomaly;
	char *notify_command; /* resolved; NULL: none */
	char *notify_url;     /* NULL: none */
	int64_t notify_timeout_ms;

	int parallel_shards; /* shards read at once by `run` */

	struct cns_target_conf target;

	int nsources;
	struct cns_source_conf *sources;

	struct cns_arena arena;
};

/* Value types of the key table. */
enum cns_key_type {
	CNS_KEY_STRING,
	CNS_KEY_PATH,   /* resolved against the job file's folder */
	CNS_KEY_SECRET, /* a string never printed */
	CNS_KEY_INT,
	CNS_KEY_BOOL,
	CNS_KEY_DURATION,
	CNS_KEY_LIST,
	CNS_KEY_ENUM,
	CNS_KEY_CHAR,
	CNS_KEY_REJECTS, /* count or percentage */
	CNS_KEY_PERCENT
};

/* One row of the key table; the table is what help and the man page
 * check read. */
struct cns_config_key {
	const char *section; /* "job", "target" or "source" */
	const char *name;
	enum cns_key_type type;
	const char *def; /* default as written in a job file, or NULL */
	bool required;
	const char *values; /* for enums: "append|upsert|replace" */
	const char *doc;    /* one line */
	int64_t min, max;   /* for integers: the allowed range */
};

/* The key table and its length. */
const struct cns_config_key *cns_config_keys(int *n);

/* Prints the key table grouped by section, one "name type default doc"
 * line per key, for `consolidate help keys`. */
void cns_config_print_keys(FILE *out);

/* Reads and validates a job file.  On success *out owns everything and
 * must be freed with cns_config_free().  On error *out is NULL, err (code
 * CNS_E_CONFIG) holds the first problem as message, file and line, and
 * err->detail lists every problem found, the first included, one
 * "file:line: message" per line.  Secret values never appear in messages.
 * Calls are serialized internally (inih's options are process-wide). */
int cns_config_load(const char *path, struct cns_job_conf **out,
		    struct cns_error *err);
void cns_config_free(struct cns_job_conf *job);

/* Finds a source by name, or NULL. */
const struct cns_source_conf *cns_config_source(const struct cns_job_conf *job,
						const char *name);

/* Parses "30s", "20m", "1h30m", "250ms", "2d" (a bare number is seconds)
 * into milliseconds. */
int cns_parse_duration(const char *s, int64_t *ms, struct cns_error *err);
/* Formats milliseconds as the shortest duration text ("1h30m"). */
char *cns_format_duration(int64_t ms, char *buf, size_t size);
/* Parses "64kB", "10MB", "1GB" or a bare number of bytes.  Units are
 * binary and case-insensitive: 1 kB = 1024 bytes (k, kB, KiB alike). */
int cns_parse_size(const char *s, int64_t *bytes, struct cns_error *err);
/* Parses yes/no/true/false/on/off/1/0. */
int cns_parse_bool(const char *s, bool *v, struct cns_error *err);

#endif
