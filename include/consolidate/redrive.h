/*
 * redrive.h - `consolidate redrive`: the rejects file of a run is the
 * job's dead-letter queue.  A redrive reads it back, runs each row's
 * source values through the current transform, loads the rows that now
 * pass (through the ordinary loader, in the job's mode), writes those
 * that still fail to its own rejects file with their reasons, and is
 * recorded as a run of kind "redrive".
 *
 * A rejects file is re-driven at most once: the row that says so
 * (consolidate.redrives, keyed by job and run) is written in the very
 * transaction that loads the rows, so a redrive killed before its commit
 * loaded nothing and may be run again, and one killed after it is
 * refused the second time: no row is ever loaded twice.
 */
#ifndef CONSOLIDATE_REDRIVE_H
#define CONSOLIDATE_REDRIVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "consolidate/config.h"
#include "consolidate/error.h"

struct cns_redrive_options {
	const char *which;             /* a run id, or "last" */
	int64_t wait_lock_ms;          /* wait for the job's lock; 0: not */
	const atomic_int *signal_flag; /* ends a lock wait; may be NULL */
};

struct cns_redrive_result {
	char run_id[64];      /* the redrive's own run id */
	char rejects_run[64]; /* the run whose rejects were re-driven */
	char rejects_path[4096];
	char log_path[4096];
	char new_rejects[4096]; /* rows that still fail; "" when none */
	int64_t rows;           /* rows in the file */
	int64_t loaded;         /* sent to the target and not refused */
	int64_t filtered;       /* removed by the transform's `where` */
	int64_t failing;        /* still refused */
	bool already;           /* re-driven before: nothing was done */
	char already_by[64];    /* ... by this run */
	char already_at[64];    /* ... at this time */
};

/* Runs one redrive under the job's locks.  Returns 0 when the rows were
 * loaded (some may still fail: res->failing), or -1 with err set, also
 * when the file was re-driven before (res->already). */
int cns_redrive(const struct cns_job_conf *job,
		const struct cns_redrive_options *opt,
		struct cns_redrive_result *res, struct cns_error *err);

#endif
