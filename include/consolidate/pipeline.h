/*
 * pipeline.h - one run of a job: sources in parallel, extraction and loading
 * overlapped within each source, chunk by chunk.
 *
 * The caller (the CLI) starts the pipeline, then waits in short steps; in
 * between it draws progress, runs the watchdog and reacts to signals, and
 * may cancel the pipeline.  The pipeline's threads never exit the process
 * and never print: they fill the statistics (under `lock`) and the first
 * error.
 *
 * Per source:  worker thread                 extractor thread
 *              prepare (prepare.h)           next_chunk -> transform -> queue
 *              loop: queue -> COPY+commit
 * With at least two chunks in flight per source, reading the next chunk
 * overlaps loading the last one.
 */
#ifndef CONSOLIDATE_PIPELINE_H
#define CONSOLIDATE_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/prepare.h"
#include "consolidate/source.h"
#include "consolidate/stats.h"
#include "consolidate/target.h"
#include "consolidate/transform.h"

struct cns_run;

/* Hooks that later stages plug into a run; all optional.  They are called
 * from pipeline threads and must be thread-safe. */
struct cns_run_hooks {
	void *ctx;
	/* A rejected row (from a driver or the transform). */
	void (*reject)(void *ctx, const struct cns_reject *r);
	/* Before extraction, after the source was prepared (p->src is
	 * open, its watermark set); may judge it further. */
	int (*prepared)(void *ctx, struct cns_run *run, int index,
			struct cns_prepared *p, struct cns_error *err);
	/* How preparation reads watermarks and tells the log. */
	struct cns_prepare_opts prepare;
	/* For each chunk: SQL to run in the chunk's transaction (the
	 * checkpoint), built from the last source row of the chunk; returns
	 * a malloc'ed string or NULL. */
	char *(*checkpoint)(void *ctx, struct cns_run *run, int index,
			    struct cns_source *src, const struct cns_chunk *in,
			    int last_row);
	/* For each chunk, after checkpoint: more SQL for the chunk's
	 * transaction, built from its transformed rows (schema columns);
	 * malloc'ed or NULL. */
	char *(*chunk_sql)(void *ctx, struct cns_run *run, int index,
			   const struct cns_chunk *out);
	/* After a source finished successfully. */
	int (*after_source)(void *ctx, struct cns_run *run, int index,
			    struct cns_error *err);
	/* After each committed chunk: its rows and how long loading took. */
	void (*chunk_loaded)(void *ctx, struct cns_run *run, int index,
			     int64_t rows, int64_t written, int64_t ms);
	/* Before a source is tried again after a transient failure. */
	void (*retry)(void *ctx, struct cns_run *run, int index, int attempt,
		      int64_t delay_ms, const struct cns_error *cause);
	/* After a failed try of a source that committed no chunk as far as
	 * the run saw: how many the target says it committed (a COMMIT whose
	 * acknowledgement was lost), or -1 when it cannot tell.  A source
	 * with such chunks is not tried again from the start. */
	int64_t (*committed_chunks)(void *ctx, struct cns_run *run, int index);
	/* Replace mode: a statement (malloc'ed, or NULL) run first in the
	 * swap's transaction; when it fails, the table keeps its rows. */
	char *(*swap_check)(void *ctx, struct cns_run *run);
};

struct cns_run_options {
	const char *only_source; /* run just this source, or NULL */
	int64_t run_start_us;
	/* The target it loads; NULL: PostgreSQL (cns_target_postgres_ops). */
	const struct cns_target_ops *target;
};

struct cns_run {
	const struct cns_job_conf *job;
	const struct cns_transform *xf;
	struct cns_run_options opt;
	struct cns_run_hooks hooks;
	/* Every call to the target goes through this table. */
	const struct cns_target_ops *target;

	int nsources;
	struct cns_source_stats *stats; /* guarded by lock */
	pthread_mutex_t lock;           /* guards stats, err, next, go,
					* finished_threads, live_*, pin */
	struct cns_error err;           /* first error of the run */
	int next;                       /* next source index to start */
	int nthreads;
	pthread_t *threads;
	int finished_threads;   /* guarded by lock */
	pthread_cond_t done_cv; /* signalled as threads finish */
	bool go;                /* every thread started: work */
	pthread_cond_t go_cv;   /* signalled when go or stop is set */
	atomic_int stop;        /* set by cancel: stop soon */
	atomic_int stop_code;   /* enum cns_error_code of the stop */

	/* Live sources, loaders and queues, for cancel(); guarded by lock.
	 * A worker does not take its source or loader out of these while
	 * the canceller has pinned that index (pin, pin_cv). */
	struct cns_source **live_src;
	struct cns_target_loader **live_loader;
	void **live_task;
	int pin; /* index the canceller uses, or -1 */
	pthread_cond_t pin_cv;

	/* The canceller thread: cancel() only sets flags and wakes it; it
	 * does the cancel requests (network I/O) outside every lock, so
	 * that neither the supervisor nor the workers wait on a peer that
	 * does not answer. */
	pthread_t canceller;
	bool has_canceller;
	bool cancel_asked;   /* guarded by lock */
	bool canceller_quit; /* guarded by lock */
	pthread_cond_t cancel_cv;
};

/* Prepares the run (the target table, the shadow for replace mode) and
 * starts the worker threads and the canceller.  No source starts before
 * every thread has started: when one cannot be started, those that were
 * are stopped and joined and the call fails (nothing moved).  run must be
 * zeroed; on error nothing is left running (call release()). */
int cns_pipeline_start(struct cns_run *run, const struct cns_job_conf *job,
		       const struct cns_transform *xf,
		       const struct cns_run_options *opt,
		       const struct cns_run_hooks *hooks,
		       struct cns_error *err);

/* Waits up to timeout_ms for the run to finish; returns true when it has
 * (all threads joined). */
bool cns_pipeline_wait(struct cns_run *run, int timeout_ms);

/* Asks every source and loader to stop (from any thread, e.g. the
 * watchdog or a signal); the run ends with `code`.  Never blocks on the
 * network: it sets flags, wakes the queues and hands the cancel requests
 * to the canceller thread. */
void cns_pipeline_cancel(struct cns_run *run, enum cns_error_code code,
			 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* After wait() returned true: swaps the shadow in replace mode when the run
 * succeeded, checks max_rejects, and returns 0 or -1 with the run's
 * error.  A run in which a source that was not skipped did not reach its
 * end fails, whatever else happened. */
int cns_pipeline_finish(struct cns_run *run, struct cns_error *err);

/* Copies the statistics under the lock. */
void cns_pipeline_snapshot(struct cns_run *run, struct cns_source_stats *out);

void cns_pipeline_release(struct cns_run *run);

#endif
