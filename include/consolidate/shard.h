/*
 * shard.h - one job split into shards: planned once, read shard by shard
 * (by threads of this process or by any process on any host), merged
 * once.
 *
 *  coordinate  the job's lock; the committed watermark W0 of each
 *              incremental source; on each PostgreSQL source a snapshot
 *              (pg_export_snapshot) in which the new upper watermark W1
 *              and the split bounds are read; the plan written to the
 *              target's `consolidate` schema (tables shard_runs, shards):
 *              run, shard, source, predicate, W0, W1, snapshot, staging
 *              table, state.  An unfinished plan of the job is resumed,
 *              never planned twice.  A NULL shard with no row in the
 *              snapshot is planned done.
 *  shard i     imports the planned snapshot (REPEATABLE READ + SET
 *              TRANSACTION SNAPSHOT) when its exporter still lives; else
 *              an incremental source reads the bounded window
 *              W0 < w <= W1, which gives the same rows whatever the
 *              snapshot.  It loads into its own staging table, each chunk
 *              committed with its ledger row; a shard that did not finish
 *              starts again from an empty staging table.  It records the
 *              snapshot it read in with its row count when done.
 *  finalize    every shard done, counts equal to the staging tables (a
 *              shard whose unlogged staging a server crash emptied is
 *              read again first), and
 *              every full-load source read in one snapshot; then one
 *              transaction: staging merged into the target by the
 *              loader's own statements (append, upsert; replace fills the
 *              shadow and swaps it), watermarks := W1, the plan marked
 *              merged, staging dropped.  A full-load source whose shards
 *              read different snapshots (their exporter died between
 *              them) is never merged: finalize resets all its shards
 *              (staging emptied) and reads them again itself, under one
 *              new snapshot.
 *
 * Killed at any instant, a rerun resumes the same plan, and the target
 * equals that of an uninterrupted run.  The functions never print and
 * never exit.
 */
#ifndef CONSOLIDATE_SHARD_H
#define CONSOLIDATE_SHARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/util.h"

/* At most this many shards per source, NULL shard included. */
#define CNS_SHARD_MAX 1024

/* One planned shard of a source. */
struct cns_shard_def {
	int source;       /* index in job->sources */
	char *predicate;  /* SQL condition, or for csv the file's path;
			     malloc'ed */
	int64_t estimate; /* estimated rows, -1 when unknown */
};

/* The shards of a job, as `plan` shows them and the coordinator writes
 * them.  Shards are numbered 0..n-1 across the job's sources. */
struct cns_shard_list {
	int n;
	struct cns_shard_def *v; /* malloc'ed */
};
void cns_shard_list_free(struct cns_shard_list *l);

/* True when some source of the job declares shards > 1. */
bool cns_shard_enabled(const struct cns_job_conf *job);

/* ---- pure parts (no connection) ---- */

/* The predicate of range shard `i` (0..nb) of the ranges cut at
 * bounds[0..nb-1] (SQL literals of values of the column, ascending,
 * distinct): "col <= b0", "col > b0 AND col <= b1", ..., "col >
 * b(nb-1)"; no range holds NULL, every other value is in exactly one.
 * col is an already quoted expression.  Returns a malloc'ed string. */
char *cns_shard_range_predicate(const char *col, const char *const *bounds,
				int nb, int i);
/* Hash shard i of n of col's text form (NULL never matches).  Returns a
 * malloc'ed string. */
char *cns_shard_hash_predicate(const char *col, int i, int n);
/* ctid block range [lo, hi) (hi < 0: open).  malloc'ed. */
char *cns_shard_blocks_predicate(int64_t lo, int64_t hi);
/* The NULL shard of col.  malloc'ed. */
char *cns_shard_null_predicate(const char *col);
/* Drops repeated bounds (a skewed column gives the same quantile twice)
 * from the sorted array in place; returns the new count. */
int cns_shard_unique_bounds(char **bounds, int nb);

/* ---- plan ---- */

/* The shards of source `index` as they would be planned now (reading
 * quantiles, block counts or the file list; estimates from the
 * server's planner).  Appends to out.  For `plan`, through prepare. */
int cns_shard_split(const struct cns_job_conf *job, int index,
		    struct cns_shard_list *out, struct cns_error *err);

/* ---- the three steps ---- */

/* The coordinator (`consolidate shard JOB --plan`): takes the job's lock
 * for the planning, resumes the job's unfinished plan when there is one,
 * else plans a new run as described above.  Writes the run id (at most
 * 63 characters) into run_id and the number of shards into *nshards.
 * The snapshots it exports live as long as the process: keep_open set
 * keeps their sessions open after the call (local workers import them;
 * cns_shard_release() ends them), else they end before it returns and
 * shards read bounded windows.  Returns 0, or -1 with err (CNS_E_LOCKED
 * when another run holds the job's lock). */
int cns_shard_coordinate(const struct cns_job_conf *job, bool keep_open,
			 char *run_id, size_t run_id_size, int *nshards,
			 struct cns_error *err);

/* One shard (`consolidate shard JOB --run ID --shard N`): a shard already
 * done returns 0 at once; otherwise its staging table is emptied and the
 * shard read and loaded whole, its locks being those of the shard (two
 * processes never run the same shard).  Returns 0 when the shard is
 * done, or -1 with err. */
int cns_shard_run(const struct cns_job_conf *job, const char *run_id, int shard,
		  struct cns_error *err);

/* The finalize step (`consolidate finalize JOB --run ID`): checks each
 * shard itself and merges once, as described above; a run already merged
 * returns 0.  A shard not done fails it with CNS_E_TARGET naming the
 * shard (nothing changes: run the shard and finalize again).  Writes the
 * rows merged into *rows when not NULL, and into *reread (when not
 * NULL) the number of full-load sources it had to read again, their
 * shards having read in more than one snapshot (their holder died).
 * A finalize that fails releases the run's holder (see
 * cns_shard_hold()). */
int cns_shard_finalize(const struct cns_job_conf *job, const char *run_id,
		       int64_t *rows, int *reread, struct cns_error *err);

/* `consolidate run` of a sharded job: coordinate (keeping the snapshots
 * open), run the shards as `workers` threads (job->parallel_shards when
 * 0) started all or none, then finalize.  signal_flag (may be NULL)
 * stops the shards.  Returns 0, or -1 with err. */
int cns_shard_run_local(const struct cns_job_conf *job, int workers,
			atomic_int *signal_flag, char *run_id,
			size_t run_id_size, struct cns_error *err);

/* For a coordinator that keeps its snapshots open while shards run in
 * other processes (`shard --plan --hold`): waits until the run is merged
 * (returns 0), or *stop becomes non-zero (CNS_E_CANCELLED), or the run
 * is no longer marked held (CNS_E_TARGET: finalize failed, or another
 * holder was queued), polling the target every second; a target that
 * cannot be reached fails it. */
int cns_shard_wait_merged(const struct cns_job_conf *job, const char *run_id,
			  const atomic_int *stop, struct cns_error *err);

/* How long, in seconds, a shard waits for the holder queued with it
 * (submit) to export its snapshots before it reads without them. */
#define CNS_SHARD_HOLD_WAIT_S 120

/* The holder of a run, for shards started elsewhere (`shard --plan
 * --hold [--run ID]`): under the job's lock, the run `want` (when not
 * NULL; else the job's unfinished plan, or a new one, as
 * cns_shard_coordinate() plans) gets new snapshots kept open in this
 * process, as local workers would (a full load's shards all start
 * again under them unless all are done), and the run is marked held,
 * which is what its shards wait for.  Then wait with
 * cns_shard_wait_merged() and end with cns_shard_release().  Returns 1
 * when held, 0 when `want` is merged or unknown (nothing to hold), -1
 * with err. */
int cns_shard_hold(const struct cns_job_conf *job, const char *want,
		   char *run_id, size_t run_id_size, int *nshards,
		   struct cns_error *err);

/* Marks the run as awaiting a holder queued with its shards (submit):
 * its shards wait for the holder's snapshots, at most
 * CNS_SHARD_HOLD_WAIT_S seconds.  Returns 0, or -1 with err. */
int cns_shard_expect_holder(const struct cns_job_conf *job, const char *run_id,
			    struct cns_error *err);

/* Ends the snapshot sessions kept by cns_shard_coordinate(). */
void cns_shard_release(const struct cns_job_conf *job);

#endif
