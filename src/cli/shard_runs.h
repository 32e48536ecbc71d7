/*
 * shard_runs.h - the sharded runs of a job as the target's plan tables
 * tell them, for `consolidate history` and `consolidate status`.
 */
#ifndef CONSOLIDATE_CLI_SHARD_RUNS_H
#define CONSOLIDATE_CLI_SHARD_RUNS_H

#include <stdint.h>

#include "consolidate/config.h"
#include "consolidate/error.h"

/* Prints the job's `limit` most recent sharded runs, newest first: run
 * id, when planned, state (planned or merged), shards done out of all,
 * rows merged, and each shard not done with its state.  Prints nothing
 * when the target has no plan tables; a target that cannot be read is a
 * warning on stderr, since history itself needs no server.  Returns the
 * number of runs printed. */
int cns_cli_print_shard_runs(const struct cns_job_conf *job, int limit);

/* The shard states counted by struct cns_cli_shard_status. */
enum {
	CNS_SHS_DONE,
	CNS_SHS_RUNNING,
	CNS_SHS_FAILED,
	CNS_SHS_PENDING
};
#define CNS_SHS_N (CNS_SHS_PENDING + 1)

/* One shard of a run, as the plan tables tell it. */
struct cns_cli_shard_row {
	int shard;
	char source[128];
	char state[16]; /* done, running, failed or pending */
	int64_t rows;   /* -1: not counted yet */
	char updated[32];
};

/* The job's newest sharded run, for `consolidate status`.  Release with
 * cns_cli_shard_status_release(). */
struct cns_cli_shard_status {
	char run_id[64];
	char state[16]; /* planned or merged */
	char planned[32];
	int64_t rows; /* merged rows, -1 until merged */
	int count[CNS_SHS_N];
	int n;
	struct cns_cli_shard_row *v; /* malloc'ed, n rows by shard */
};

/* Reads the job's newest sharded run into *st: 1 when there is one, 0
 * when the target has none (or no plan tables), -1 with err when the
 * target cannot be read. */
int cns_cli_shard_status_read(const struct cns_job_conf *job,
			      struct cns_cli_shard_status *st,
			      struct cns_error *err);
void cns_cli_shard_status_release(struct cns_cli_shard_status *st);

#endif
