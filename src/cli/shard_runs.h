/*
 * shard_runs.h - the sharded runs of a job as the target's plan tables
 * tell them, for `consolidate history`.
 */
#ifndef CONSOLIDATE_CLI_SHARD_RUNS_H
#define CONSOLIDATE_CLI_SHARD_RUNS_H

#include "consolidate/config.h"

/* Prints the job's `limit` most recent sharded runs, newest first: run
 * id, when planned, state (planned or merged), shards done out of all,
 * rows merged, and each shard not done with its state.  Prints nothing
 * when the target has no plan tables; a target that cannot be read is a
 * warning on stderr, since history itself needs no server.  Returns the
 * number of runs printed. */
int cns_cli_print_shard_runs(const struct cns_job_conf *job, int limit);

#endif
