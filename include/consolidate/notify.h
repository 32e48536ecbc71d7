/*
 * notify.h - alerts: when a run fails, when the first run after failures
 * succeeds, and when the volume or runtime-trend guard warns, the job's
 * notify_command runs with the facts in its environment and its
 * notify_url gets them as a JSON POST.
 *
 * A notification never fails the run: what goes wrong (a command that
 * exits non-zero or outlives notify_timeout, a URL that does not answer
 * 2xx after its retries) is reported to the caller's log function.
 */
#ifndef CONSOLIDATE_NOTIFY_H
#define CONSOLIDATE_NOTIFY_H

#include <stdint.h>

#include "consolidate/config.h"

enum cns_notify_kind {
	CNS_NOTIFY_FAILED,
	CNS_NOTIFY_RECOVERED,
	CNS_NOTIFY_WARNING,
};

const char *cns_notify_kind_name(enum cns_notify_kind k);

struct cns_notify_event {
	enum cns_notify_kind kind;
	const char *job;
	const char *run_id;
	const char *status;  /* ok failed timeout cancelled ... */
	const char *error;   /* NULL when the run succeeded */
	const char *warning; /* the guard's warning, or NULL */
	const char *log;     /* path of the run's log, or NULL */
	int64_t rows_read, rows_loaded, rows_rejected;
};

/* How a notification went, for the run log: level 0 info, 1 warning. */
typedef void (*cns_notify_log_fn)(void *ctx, int level, const char *msg);

/* Sends ev through every channel the job configures.  Blocks for at most
 * about twice notify_timeout. */
void cns_notify_send(const struct cns_job_conf *job,
		     const struct cns_notify_event *ev, cns_notify_log_fn log,
		     void *ctx);

#endif
