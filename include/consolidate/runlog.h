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
#include "consolidate/pipeline.h"

enum cns_log_level {
	CNS_LOG_DEBUG,
	CNS_LOG_INFO,
	CNS_LOG_WARN,
	CNS_LOG_ERROR
};

/* Everything known about a finished run. */
struct cns_run_record {
	const char *run_id;
	const char *job;
	const char *host;
	long pid;
	int64_t started_us; /* wall clock, microseconds since the epoch */
	int64_t ended_us;
	const char *status; /* ok failed timed_out cancelled skipped crashed */
	int exit_code;
	int nsources;
	const struct cns_source_stats *sources; /* may be NULL */
	/* Per source: watermark before and after, as JSON arrays of strings,
	 * or NULL; arrays of nsources entries, or NULL. */
	const char *const *watermark_before;
	const char *const *watermark_after;
	const char *error; /* NULL on success */
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

/* Writes one event: UTC timestamp, level, run id, stage, source (may be
 * NULL), the message, then key=value pairs given as further fmt text
 * (or JSON with log_format = json).  Thread-safe.  Warnings and errors
 * also go to syslog when the job sets syslog = yes. */
void cns_runlog_event(struct cns_runlog *l, enum cns_log_level level,
		      const char *stage, const char *source, const char *fmt,
		      ...) __attribute__((format(printf, 5, 6)));

/* Ends the run: the end event, the runs.jsonl record, the metrics file
 * (when metrics_file is set), syslog's final line, then retention of old
 * logs and rejects files.  Removes the "running" marker. */
int cns_runlog_finish(struct cns_runlog *l, const struct cns_run_record *rec,
		      struct cns_error *err);

/* The path of the run's log file (owned by l). */
const char *cns_runlog_path(const struct cns_runlog *l);

void cns_runlog_close(struct cns_runlog *l);

/* Appends a record for a run that never started (exit 75, lock held) to
 * runs.jsonl and a line to the newest log, without opening a new log. */
int cns_runlog_record_skip(const struct cns_job_conf *job,
			   const struct cns_run_record *rec,
			   struct cns_error *err);

#endif
