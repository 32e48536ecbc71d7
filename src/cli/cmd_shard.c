/*
 * cmd_shard.c - `consolidate shard` and `consolidate finalize`: the steps
 * of a sharded run, for a scheduler that runs them as separate jobs on
 * any hosts (a Slurm job array, a Kubernetes Indexed Job).
 *
 *   consolidate shard JOB.conf --plan [--hold [--run ID]]
 *                                                 prints "RUN_ID NSHARDS"
 *   consolidate shard JOB.conf --run ID --shard N reads and stages shard N
 *   consolidate finalize JOB.conf --run ID        merges the run once
 *
 * Each step may be run again after it was killed; see shard.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/shard.h"
#include "cli.h"
#include "commands.h"

struct shard_cli {
	const char *job_path;
	const char *run_id;
	int shard; /* -1: not given */
	bool plan;
	bool hold; /* --hold: keep the snapshots until the run is merged */
	bool help; /* -h: help was printed, nothing else to do */
};

static int parse_shard_number(const char *text, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 0 || v >= 1000000)
		return -1;
	*out = (int)v;
	return 0;
}

/* Both commands: options, then exactly one job file. */
static int parse_args(const char *cmd, int argc, char **argv,
		      struct shard_cli *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->shard = -1;
	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'r': /* --run ID: the plan made by the coordinator */
			o->run_id = optarg;
			break;
		case 'n': /* --shard N: which shard of that plan */
			if (parse_shard_number(optarg, &o->shard) < 0)
				return cns_cli_usage(cmd,
						     "invalid shard "
						     "number \"%s\"",
						     optarg);
			break;
		case 'p': /* --plan: only the coordinator step */
			o->plan = true;
			break;
		case 'H': /* --hold: the coordinator stays, its snapshots
			     open, until finalize merged the run */
			o->hold = true;
			break;
		case 'h':
			o->help = true;
			return cns_cmd_help(2, (char *[]){ "help", (char *)cmd,
							   NULL });
		default: return CNS_EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return cns_cli_usage(cmd, "expected one job file");
	o->job_path = argv[optind];
	return 0;
}

/* Handlers only set the flag the hold loop reads. */
static atomic_int got_signal;

static void on_signal(int sig)
{
	atomic_store(&got_signal, sig);
}

static int fail(struct cns_job_conf *job, const struct cns_error *err)
{
	cns_cli_report(err);
	cns_config_free(job);
	return cns_error_exit_code(err->code);
}

int cns_cmd_shard(int argc, char **argv)
{
	struct shard_cli o;
	struct cns_job_conf *job = NULL;
	struct cns_error err;
	int rc = parse_args("shard", argc, argv, &o);

	if (rc || o.help)
		return rc;
	if (o.hold && !o.plan)
		return cns_cli_usage("shard", "--hold goes with --plan");
	if (o.plan && (o.shard >= 0 || (o.run_id && !o.hold)))
		return cns_cli_usage("shard", "--plan takes no --shard, and "
					      "--run only with --hold");
	if (!o.plan && (!o.run_id || o.shard < 0))
		return cns_cli_usage("shard", "expected --plan, or --run ID "
					      "and --shard N");
	signal(SIGPIPE, SIG_IGN);
	cns_error_clear(&err);
	if (cns_config_load(o.job_path, &job, &err) < 0)
		return fail(job, &err);
	if (o.plan && !o.hold) {
		char run_id[64];
		int n = 0;

		if (cns_shard_coordinate(job, false, run_id, sizeof(run_id), &n,
					 &err) < 0)
			return fail(job, &err);
		printf("%s %d\n", run_id, n);
	} else if (o.plan) {
		char run_id[64];
		int n = 0;

		rc = cns_shard_hold(job, o.run_id, run_id, sizeof(run_id), &n,
				    &err);
		if (rc < 0)
			return fail(job, &err);
		/* A run merged before its holder started: nothing to hold. */
		if (rc > 0) {
			printf("%s %d\n", run_id, n);
			/* The line goes out now: the caller starts the
			 * shards while this process keeps the snapshots. */
			fflush(stdout);
			cns_cli_on_stop_signals(on_signal);
			rc = cns_shard_wait_merged(job, run_id, &got_signal,
						   &err);
			cns_shard_release(job);
			if (rc < 0)
				return fail(job, &err);
		}
	} else if (cns_shard_run(job, o.run_id, o.shard, &err) < 0) {
		return fail(job, &err);
	}
	cns_config_free(job);
	return fflush(stdout) == 0 ? CNS_EXIT_OK : CNS_EXIT_FAILED;
}

int cns_cmd_finalize(int argc, char **argv)
{
	struct shard_cli o;
	struct cns_job_conf *job = NULL;
	struct cns_error err;
	int64_t rows = 0;
	int reread = 0;
	int rc = parse_args("finalize", argc, argv, &o);

	if (rc || o.help)
		return rc;
	if (!o.run_id)
		return cns_cli_usage("finalize", "expected --run ID");
	cns_error_clear(&err);
	if (cns_config_load(o.job_path, &job, &err) < 0)
		return fail(job, &err);
	rc = cns_shard_finalize(job, o.run_id, &rows, &reread, &err);
	/* Said even when the merge then failed: the reading was done. */
	if (reread > 0)
		fprintf(stderr,
			"consolidate: warning: run \"%s\": %d full-load "
			"source%s read again by finalize under one new snapshot: "
			"the shards read in different snapshots (no holder "
			"kept the planned one open)\n",
			o.run_id, reread, reread == 1 ? " was" : "s were");
	if (rc < 0)
		return fail(job, &err);
	cns_config_free(job);
	return CNS_EXIT_OK;
}
