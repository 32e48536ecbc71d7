/*
 * state.h - the run's state in the target database: run history and the
 * watermarks of incremental sources, in a `consolidate` schema.
 *
 * State lives in the same database as the data so that a chunk and the
 * watermark of its last row commit in one transaction: a run killed at any
 * instant resumes after the last committed chunk, never before it (rows
 * doubled) nor after it (rows lost).
 *
 * The schema is versioned (consolidate.meta): a later release migrates it
 * forward in cns_state_ensure().
 */
#ifndef CONSOLIDATE_STATE_H
#define CONSOLIDATE_STATE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "consolidate/chunk.h"
#include "consolidate/error.h"
#include "consolidate/util.h"

#define CNS_STATE_VERSION 1

/* Creates or migrates the state schema; safe when several runs race. */
int cns_state_ensure(PGconn *conn, struct cns_error *err);

/* Run history. */
struct cns_run_row {
	const char *run_id;
	const char *job;
	const char *host;
	long pid;
	int64_t started_us;
};
int cns_state_run_begin(PGconn *conn, const struct cns_run_row *r,
			struct cns_error *err);
/* Closes the run's row: status ("ok", "failed", "timed_out",
 * "cancelled"), exit code, per-source figures as a JSON object, and the
 * error message (NULL on success). */
int cns_state_run_end(PGconn *conn, const char *run_id, const char *status,
		      int exit_code, const char *sources_json,
		      int64_t rejected, const char *error,
		      struct cns_error *err);
/* Marks runs of `job` that started and never ended as "crashed"; the
 * caller holds the job's lock, so none of them is still running.  Returns
 * how many were marked, or -1. */
int cns_state_mark_crashed(PGconn *conn, const char *job,
			   struct cns_error *err);

/* Watermarks.  Values are text in the source's own output format, at its
 * full precision; a NULL element stays NULL. */
int cns_state_watermark_get(PGconn *conn, const char *job, const char *source,
			    struct cns_arena *arena, int *n, char ***values,
			    struct cns_error *err);
/* The statement that stores `cells` (n values) as the watermark of
 * job/source; run in the chunk's transaction.  Returns a malloc'ed
 * string. */
char *cns_state_watermark_sql(const char *job, const char *source,
			      const char *const *columns, int n,
			      const struct cns_cell *const *cells,
			      const char *run_id);
/* Forgets the watermark of one source, or of every source when source is
 * NULL (--full-refresh). */
int cns_state_watermark_reset(PGconn *conn, const char *job,
			      const char *source, struct cns_error *err);

#endif
