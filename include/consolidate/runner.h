/*
 * runner.h - one whole run of a job, as `consolidate run` does it: the
 * locks, the run log and history, the watermarks, the pipeline under the
 * watchdog, the rejects file, and the final record.
 *
 * The runner never prints and never exits; the CLI gives it a tick
 * callback for progress and a flag its signal handlers set.
 */
#ifndef CONSOLIDATE_RUNNER_H
#define CONSOLIDATE_RUNNER_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/pipeline.h"
#include "consolidate/runlog.h"

struct cns_runner_options {
	const char *only_source; /* --source */
	bool full_refresh;       /* --full-refresh */
	/* --range FROM..TO: re-read this window of the incremental column
	 * (both ends included) and leave the watermarks alone; the job must
	 * pass cns_prepare_range_check().  NULL: no window. */
	const char *range_from, *range_to;
	int64_t wait_lock_ms;     /* --wait */
	int64_t max_runtime_ms;   /* overrides the job's when > 0 */
	int64_t stall_timeout_ms; /* overrides the job's when > 0 */
	/* Set by the caller's signal handlers (SIGTERM, SIGINT) to the
	 * signal's number; read by the runner's threads; may be NULL. */
	atomic_int *signal_flag;
	/* Called about every 200 ms from the calling thread. */
	void (*tick)(void *ctx, const struct cns_source_stats *st, int n);
	void *tick_ctx;
	/* Called from the runner's guard thread when a phase of the run
	 * outside the pipeline (connect, lock, prepare, swap, records) did
	 * not stop within kill_grace after max_runtime or a signal: the run
	 * is recorded as far as that can be done in a bounded time, and the
	 * callee ends the process (the runner itself never exits).  May be
	 * NULL: the run then waits for the blocked call. */
	void (*stuck)(void *ctx, const struct cns_error *err);
	void *stuck_ctx;
};

struct cns_runner_result {
	char run_id[64];
	enum cns_run_status status;
	int nsources;
	struct cns_source_stats *stats; /* malloc'ed; free() it */
	char rejects_path[4096];        /* empty when nothing was rejected */
	char rejects_summary[2048];     /* "source column: reason: count"
					   lines, most frequent first */
	char log_path[4096];
	bool stuck; /* the clean stop did not finish within kill_grace: the
		       caller should end the process at once */
};

/* Runs the job.  Returns 0 on success or -1 with err set (err->code maps
 * to the exit code: CNS_E_LOCKED when another run holds the lock,
 * CNS_E_TIMEOUT when the watchdog stopped it ...).  res is filled in
 * either case. */
int cns_runner_run(const struct cns_job_conf *job,
		   const struct cns_runner_options *opt,
		   struct cns_runner_result *res, struct cns_error *err);

#endif
