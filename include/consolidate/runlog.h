/*
 * runlog.h - what every run leaves behind for the person on call: a log
 * file of events, one record in runs.jsonl, a metrics file for monitoring,
 * optionally syslog lines; and the retention that keeps all of it bounded.
 *
 * Files, under <log_dir>/<job>/:
 *   <UTC start, compact ISO 8601>-<run id>.log   one line per event
 *   runs.jsonl                                   one JSON object per run
 *   running                                      the run in progress; a
 *                                                later run that finds it
 *                                                records that run as
 *                                                "crashed"
 * Passwords and connection secrets never reach any of them.
 */
#ifndef CONSOLIDATE_RUNLOG_H
#define CONSOLIDATE_RUNLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/stats.h"

enum cns_log_level {
	CNS_LOG_DEBUG,
	CNS_LOG_INFO,
	CNS_LOG_WARN,
	CNS_LOG_ERROR
};

/* How a run ended: the "status" of its record in runs.jsonl.  One table
 * of names (cns_run_status_name, cns_run_status_of) serves writing and
 * reading. */
enum cns_run_status {
	/* Writing: not given, the default applies.  Reading: a name this
	 * version does not know (written by a newer one); the entry keeps
	 * the name as read, so it prints back unchanged, and it counts as a
	 * run that did not succeed. */
	CNS_RUN_UNKNOWN,
	CNS_RUN_OK,
	CNS_RUN_FAILED,
	CNS_RUN_TIMED_OUT,
	CNS_RUN_CANCELLED,
	CNS_RUN_SKIPPED, /* never started: another run held the lock */
	CNS_RUN_CRASHED  /* ended without a record; noticed by a later run */
};
#define CNS_RUN_NSTATUS (CNS_RUN_CRASHED + 1)

/* "ok", "failed", "timed_out", "cancelled", "skipped", "crashed";
 * "unknown" for CNS_RUN_UNKNOWN. */
const char *cns_run_status_name(enum cns_run_status s);
/* The status of a name, or CNS_RUN_UNKNOWN when name is NULL or none. */
enum cns_run_status cns_run_status_of(const char *name);

/* Everything known about a finished run. */
struct cns_run_record {
	const char *run_id;
	const char *job;
	const char *host;
	long pid;
	int64_t started_us; /* wall clock, microseconds since the epoch */
	int64_t ended_us;
	/* CNS_RUN_UNKNOWN: failed when error is set, else ok. */
	enum cns_run_status status;
	int exit_code;
	int nsources;
	const struct cns_source_stats *sources; /* may be NULL */
	/* Per source: watermark before and after, as JSON arrays of strings,
	 * or NULL; arrays of nsources entries, or NULL. */
	const char *const *watermark_before;
	const char *const *watermark_after;
	const char *error; /* NULL on success */
	const char *kind;  /* "redrive"; NULL: an ordinary run */
};

struct cns_runlog;

/* A new run id: "<UTC start as YYYYmmddTHHMMSSZ>-<6 hex digits>".  Writes
 * into buf and returns it. */
char *cns_run_id_new(int64_t started_us, char *buf, size_t size);

/* Opens the run's log file (creating <log_dir>/<job>/), writes the start
 * event, and records any earlier run that never ended as "crashed" in
 * runs.jsonl.  Returns NULL with err set when the folder cannot be
 * written. */
struct cns_runlog *cns_runlog_open(const struct cns_job_conf *job,
				   const char *run_id, int64_t started_us,
				   struct cns_error *err);

/* ---- events: a message and typed key/value pairs ----
 *
 * An event is a plain message and a list of pairs given at the call site
 * with their types, so each output writes them in its own way without
 * reading them back out of text:
 *
 *   cns_runlog_log(l, CNS_LOG_WARN, "retry", source, "retrying",
 *                  CNS_KV_INT("attempt", 2), CNS_KV_STR("cause", why));
 *
 * Text: `retrying attempt=2 cause="server \"x\" is gone"` (a string in
 * double quotes when it is empty or holds a blank, a quote, a backslash or
 * a line break).  JSON: "msg":"retrying","attempt":2,"cause":"...", a key
 * named like a field of the line (ts level run stage source msg) with a
 * "_" appended.  Keys are plain words chosen by the program. */

enum cns_kv_type {
	CNS_KV_T_STR, /* text; NULL is written as "" */
	CNS_KV_T_INT, /* a signed integer */
	CNS_KV_T_SEC  /* seconds, written with three decimals */
};

struct cns_kv {
	const char *key; /* NULL ends a list */
	enum cns_kv_type type;
	union {
		const char *s;
		long long i;
		double sec;
	} v;
};

#define CNS_KV_STR(k, x)                                                       \
	((struct cns_kv){ .key = (k), .type = CNS_KV_T_STR, .v.s = (x) })
#define CNS_KV_INT(k, x)                                                       \
	((struct cns_kv){                                                      \
		.key = (k), .type = CNS_KV_T_INT, .v.i = (long long)(x) })
#define CNS_KV_SEC(k, x)                                                       \
	((struct cns_kv){                                                      \
		.key = (k), .type = CNS_KV_T_SEC, .v.sec = (double)(x) })
#define CNS_KV_END ((struct cns_kv){ .key = NULL })

/* Writes one event: UTC timestamp, level, run id, stage ("run" when
 * NULL), source (may be NULL), the message (NULL: empty), then the pairs
 * of kv, a list ended by CNS_KV_END (NULL: none).  Secrets are hidden in
 * the message and in every string value, and a value whose key names a
 * password is hidden whole.  Thread-safe; does nothing when l is NULL.
 * Warnings and errors also go to syslog when the job sets syslog = yes,
 * as text. */
void cns_runlog_put(struct cns_runlog *l, enum cns_log_level level,
		    const char *stage, const char *source, const char *msg,
		    const struct cns_kv *kv);

/* cns_runlog_put() with the pairs as arguments:
 * cns_runlog_log(l, level, stage, source, msg[, CNS_KV_...(...)]...).
 * The pairs become an array ended by CNS_KV_END; the message alone works
 * too (the trailing CNS_KV_END keeps the variadic part of each helper
 * non-empty, as C11 requires). */
#define cns_runlog_log(l, level, stage, source, ...)                           \
	cns_runlog_put((l), (level), (stage), (source),                        \
		       CNS_KV_FIRST_(__VA_ARGS__, 0),                          \
		       (const struct cns_kv[]){                                \
			       CNS_KV_REST_(__VA_ARGS__, CNS_KV_END) })
#define CNS_KV_FIRST_(first, ...) first
#define CNS_KV_REST_(first, ...) __VA_ARGS__

/* Ends the run: a summary event per source, the end event (stage "end"),
 * the runs.jsonl record, the metrics file (when metrics_file is set),
 * syslog's final line, then retention of old logs and rejects files.
 * Removes the "running" marker.  Fields of rec left zero or NULL take the
 * run's own values (run id, job, host, pid, start; end: now).  Returns -1
 * with err set when the record or the metrics file could not be written;
 * the other steps are still done.  Call once; close() afterwards. */
int cns_runlog_finish(struct cns_runlog *l, const struct cns_run_record *rec,
		      struct cns_error *err);

/* Returns -1 with err set ("could not write the run log ...: No space
 * left on device") when a line of the log could not be written; 0 when
 * every line so far was. */
int cns_runlog_check(struct cns_runlog *l, struct cns_error *err);

/* The path of the run's log file (owned by l). */
const char *cns_runlog_path(const struct cns_runlog *l);

void cns_runlog_close(struct cns_runlog *l);

/* Appends a record for a run that never started (exit 75, lock held) to
 * runs.jsonl and a line to the newest log, without opening a new log. */
int cns_runlog_record_skip(const struct cns_job_conf *job,
			   const struct cns_run_record *rec,
			   struct cns_error *err);

/* ---- reading back: history, log, status and the volume guard ---- */

/* The folder of a job's logs, <log_dir>/<job>, written into buf. */
char *cns_runlog_dir(const struct cns_job_conf *job, char *buf, size_t size);

/* One source of a run, as recorded. */
struct cns_run_source_entry {
	const char *name;
	const char *status; /* ok failed skipped pending running */
	bool ok;            /* status ok: the source got to its end */
	int64_t read, filtered, rejected, loaded, written, chunks, bytes;
	double seconds; /* -1 when unknown */
};

/* One record of runs.jsonl.  Strings live in the history's arena. */
struct cns_run_entry {
	const char *run_id;
	const char *job;
	const char *host;
	enum cns_run_status status;
	const char *status_name; /* as written: an unknown one prints back */
	const char *error;       /* NULL when the run recorded none */
	const char *log;         /* file name of the run's log, or NULL */
	long pid;
	int64_t started_us; /* -1 when unknown */
	int64_t ended_us;   /* -1 when unknown (a crashed run) */
	double duration_s;  /* -1 when unknown */
	int exit_code;      /* -1 when unknown */
	int nsources;
	struct cns_run_source_entry *sources;
	const char *line; /* the record as written, without newline */
	const char *kind; /* "redrive", or NULL: an ordinary run */
};

/* The name a source's state is recorded with ("ok" for done), and the
 * state of such a name (-1 when it is none). */
const char *cns_source_state_name(enum cns_source_state s);
int cns_source_state_of(const char *name, enum cns_source_state *s);

/* True for the record of a redrive (or any run with a "kind"): it read a
 * rejects file, not the sources, so its status, times and counts say
 * nothing of the job's scheduled runs. */
bool cns_run_entry_is_redrive(const struct cns_run_entry *e);

struct cns_run_history {
	int n;
	struct cns_run_entry *runs; /* oldest first */
	int nbad;                   /* lines that could not be read */
	struct cns_arena arena;
};

/* Reads the last `max` records (0: all) of the job's runs.jsonl into h,
 * which must be released with cns_run_history_release() on success.  A
 * missing file gives an empty history; unreadable lines are skipped and
 * counted in h->nbad.  Returns -1 with err set (CNS_E_IO) when the file
 * exists but cannot be read; nothing to release then. */
int cns_runlog_history(const struct cns_job_conf *job, int max,
		       struct cns_run_history *h, struct cns_error *err);
void cns_run_history_release(struct cns_run_history *h);

/* The `read` counts of `source` in the last successful runs (status ok,
 * source ok), newest first, at most max of them.  Returns how many were
 * written to out, or -1 when runs.jsonl exists but cannot be read. */
int cns_runlog_recent_rows(const struct cns_job_conf *job, const char *source,
			   int64_t *out, int max);

/* The run in progress, from the "running" marker. */
struct cns_run_marker {
	char run_id[64];
	long pid;
	char host[256];
	int64_t started_us;
	char log[256]; /* file name of its log */
};

/* Reads the marker.  Returns 1 and fills *m when there is one, 0 when
 * there is none, -1 with err set when it cannot be read. */
int cns_runlog_marker(const struct cns_job_conf *job, struct cns_run_marker *m,
		      struct cns_error *err);
/* True when the marker's process still runs: same host, the pid exists,
 * and that process started no later than the run (so a pid reused after a
 * crash or a reboot does not count).  A marker from another host counts as
 * alive only when assume_remote_alive is set. */
bool cns_runlog_marker_alive(const struct cns_run_marker *m,
			     bool assume_remote_alive);

/* Finds a run's log file.  `which` is "last" (the newest log, also of a
 * run in progress), "last-failed" (the newest run recorded with a status
 * other than ok or skipped), a run id, or a unique prefix of a run id or
 * of its part after the timestamp.  Writes the path (".log" or ".log.gz")
 * into path.  Returns -1 with err set when there is no such log or the
 * prefix matches several. */
int cns_runlog_find(const struct cns_job_conf *job, const char *which,
		    char *path, size_t size, struct cns_error *err);

/* ---- JSON out, through jansson ---- */

struct json_t;

/* A JSON string (a new jansson reference) of s[0..n).  Bytes that are
 * not UTF-8 become U+FFFD, which jansson would refuse, so the result is
 * never NULL and always dumps as valid JSON.  cns_json_ctext: the same
 * for a NUL-terminated string, JSON null when s is NULL. */
struct json_t *cns_json_text(const char *s, size_t n);
struct json_t *cns_json_ctext(const char *s);
/* v itself, or abort when it is NULL (jansson's only failure on
 * building a value is memory). */
struct json_t *cns_json_checked(struct json_t *v);
/* Sets obj[key] = v, taking v's reference; a key that is not UTF-8 is
 * repaired like a value. */
void cns_json_set(struct json_t *obj, const char *key, struct json_t *v);
/* Appends v as compact JSON, members in the order they were set, reals
 * with at most 15 significant digits. */
void cns_json_dump(const struct json_t *v, struct cns_buf *b);

/* Appends s[0..n) to b as a JSON string literal, quotes included, as
 * jansson writes it (control characters escaped, bytes that are not
 * UTF-8 as U+FFFD): the log's JSON lines, written piece by piece. */
void cns_json_add_str(struct cns_buf *b, const char *s, size_t n);
/* The same for a NUL-terminated string; "null" when s is NULL. */
void cns_json_add_cstr(struct cns_buf *b, const char *s);

/* True when a log line (text or JSON) is a run's end line: stage "end"
 * with a status pair, as cns_runlog_finish() writes it. */
bool cns_runlog_is_end_line(const char *line, size_t n);

#endif
