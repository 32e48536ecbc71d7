/*
 * runlog_internal.h - what the run log, the rejects file and the commands
 * that read them back share inside the library: JSON text in (jansson,
 * with small accessors that copy into an arena), UTC timestamps.
 */
#ifndef CONSOLIDATE_RUNLOG_INTERNAL_H
#define CONSOLIDATE_RUNLOG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <limits.h>
#include <pthread.h>

#include <jansson.h>

#include "consolidate/config.h"
#include "consolidate/fs.h"
#include "consolidate/runlog.h"
#include "consolidate/secrets.h"
#include "consolidate/util.h"

/* ---- JSON (jansson) ---- */

/* Parses one JSON value (blanks around it allowed) from text[0..len).
 * Returns a new reference, or NULL when the text is not valid JSON
 * (truncated, not UTF-8, an integer beyond 64 bits ...). */
json_t *cns_json_load(const char *text, size_t len);
/* The member's string copied into arena a, or NULL when it is missing or
 * not a string (also when obj is not an object). */
const char *cns_json_str(struct cns_arena *a, const json_t *obj,
			 const char *key);
/* The member's number as an integer (a fraction cut off), or def when it
 * is missing or not a number. */
int64_t cns_json_int(const json_t *obj, const char *key, int64_t def);
double cns_json_num(const json_t *obj, const char *key, double def);

/* ---- time ---- */

/* "2026-11-22T03:15:00.123Z" (ms = true) or "2026-11-22T03:15:00Z" from
 * microseconds since the epoch.  Returns buf; 32 bytes are enough. */
char *cns_runlog_iso(int64_t us, bool ms, char *buf, size_t size);
/* "20261122T031500Z": the compact form used in file names and run ids. */
char *cns_runlog_compact(int64_t us, char *buf, size_t size);
/* Parses the ISO 8601 UTC forms written by cns_runlog_iso (fraction
 * optional, "Z" or an offset) and a date alone.  Returns 0, or -1 when s
 * is not such a time. */
int cns_runlog_parse_iso(const char *s, int64_t *us);

/* ---- the open log (runlog.c), shared with retention ---- */

struct cns_runlog {
	const struct cns_job_conf *job; /* borrowed: outlives the log */
	char dir[PATH_MAX];             /* <log_dir>/<job> */
	char path[PATH_MAX + 512];      /* the log file */
	char name[256];                 /* its file name */
	char run_id[64];
	char host[256];
	int64_t started_us;
	bool json;
	bool syslog;

	pthread_mutex_t lock; /* guards writes to fd and werr */
	int fd;
	int werr; /* errno of the first line that could not be written */
};

/* Retention of old logs and rejects files (runlog_retain.c); problems
 * become warnings in l's log. */
void cns_runlog_retain(struct cns_runlog *l);

/* Seconds a source took, or -1 when it did not both start and finish. */
double cns_source_seconds(const struct cns_source_stats *s);

/* Rewrites job->metrics_file atomically from a complete record: status,
 * ended_us and exit_code set (runlog_metrics.c).  Counters are carried
 * from the file being replaced. */
int cns_metrics_write(const struct cns_job_conf *job,
		      const struct cns_run_record *rec, struct cns_error *err);

/* One log file of a job. */
struct cns_logfile {
	char name[256]; /* "<stamp>-<...>.log" or ".log.gz" */
	bool gz;
	struct timespec mtime;
	int64_t start_us; /* the run's start, from the name */
};

/* True for the names of run logs, "<YYYYmmddTHHMMSSZ>-<...>.log[.gz]";
 * sets *gz and the start time read from the name. */
bool cns_runlog_log_name(const char *name, bool *gz, int64_t *start_us);
/* The log files in dir, oldest first: by the start second in the name,
 * then by modification time.  The array is malloc'ed (NULL when there are
 * none). */
struct cns_logfile *cns_runlog_list_logs(const char *dir, int *n);
/* The run id in a log file name: the name without ".log[.gz]", and
 * without the leading "<stamp>-" when the rest does not start with the
 * stamp itself.  Writes it to buf. */
char *cns_runlog_log_run_id(const char *name, char *buf, size_t size);

#endif
