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

#define CNS_STATE_VERSION 3

/* SQLSTATEs of the assertions a run makes in the target (class "CN" is
 * ours): the watermark moved under the run, the server restarted under
 * an unlogged shadow table. */
#define CNS_STATE_MOVED "CN001"
#define CNS_STATE_RESTARTED "CN002"

/* Creates or migrates the state schema; safe when several runs race. */
int cns_state_ensure(PGconn *conn, struct cns_error *err);

/* Run history. */
struct cns_run_row {
	const char *run_id;
	const char *job;
	const char *host;
	long pid;
	int64_t started_us;
	const char *kind; /* "redrive"; NULL: "run" */
};
int cns_state_run_begin(PGconn *conn, const struct cns_run_row *r,
			struct cns_error *err);
/* Closes the run's row: status ("ok", "failed", "timed_out",
 * "cancelled"), exit code, per-source figures as a JSON object, and the
 * error message (NULL on success). */
int cns_state_run_end(PGconn *conn, const char *run_id, const char *status,
		      int exit_code, const char *sources_json, int64_t rejected,
		      const char *error, struct cns_error *err);
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
/* The chunk's watermark as a text[] expression; malloc'ed. */
char *cns_state_watermark_value(const struct cns_cell *const *cells, int n);
/* Appends to q the statement (ending in ';') that moves the watermark of
 * job/source to `cells`, in the chunk's transaction, only from `from`
 * (the value the run last read or wrote, as a text[] expression; NULL:
 * there was none); when another run moved it, the statement fails with
 * SQLSTATE CNS_STATE_MOVED, so two runs never both advance it. */
void cns_state_watermark_advance_sql(struct cns_buf *q, const char *job,
				     const char *source,
				     const char *const *columns, int n,
				     const struct cns_cell *const *cells,
				     const char *run_id, const char *from);

/* The chunk ledger: appends to q the INSERT (no ';') that records chunk
 * number `chunk` of a source, run in the chunk's own transaction. */
void cns_state_ledger_sql(struct cns_buf *q, const char *run_id,
			  const char *job, const char *source, int64_t chunk,
			  int64_t rows);
/* How many chunks of the source this run committed, as the server says;
 * -1 with err when it cannot be asked. */
int64_t cns_state_ledger_chunks(PGconn *conn, const char *run_id,
				const char *source, struct cns_error *err);
/* A statement that fails with SQLSTATE CNS_STATE_RESTARTED when the
 * server restarted since any chunk of the run was committed; malloc'ed. */
char *cns_state_restart_check_sql(const char *run_id);
/* Deletes the ledger of the job's runs, except keep_run_id's. */
int cns_state_ledger_forget(PGconn *conn, const char *job,
			    const char *keep_run_id, struct cns_error *err);

/* Forgets the watermark of one source, or of every source when source is
 * NULL (--full-refresh). */
int cns_state_watermark_reset(PGconn *conn, const char *job, const char *source,
			      struct cns_error *err);

#endif
