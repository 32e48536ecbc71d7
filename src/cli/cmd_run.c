/*
 * cmd_run.c - `consolidate run JOB.conf`: one run of a job.
 *
 * Silent on success unless stderr is a terminal (cron mails whatever a job
 * prints, so a healthy job prints nothing there); a live progress line and
 * a summary table on a terminal; a short clear message and a documented
 * exit code on failure.
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "consolidate/config.h"
#include "consolidate/prepare.h"
#include "consolidate/runner.h"
#include "consolidate/shard.h"
#include "cli.h"
#include "commands.h"
#include "report.h"

struct run_cli {
	const char *job_path;
	struct cns_runner_options ropt;
	int progress; /* -1: auto (on a terminal) */
	int summary;  /* -1: auto (on a terminal) */
	bool quiet;
	const char *range; /* --range, as given */
};

/* Atomics, not volatile sig_atomic_t: the runner's watchdog thread reads
 * got_signal too (a lock-free atomic is safe in a handler). */
static atomic_int got_signal;
static volatile sig_atomic_t interrupts;

/* Handlers only set flags; the runner's loop acts on them.  A second
 * SIGINT means "stop now", which must not wait for that loop. */
static void on_signal(int sig)
{
	if (sig == SIGINT && ++interrupts > 1)
		_exit(CNS_EXIT_CANCELLED);
	atomic_store(&got_signal, sig);
}

static int duration_arg(const char *opt, const char *val, int64_t *ms)
{
	struct cns_error err;

	cns_error_clear(&err);
	if (cns_parse_duration(val, ms, &err) < 0)
		return cns_cli_usage("run", "invalid duration \"%s\" for %s",
				     val, opt);
	return 0;
}

static int parse_args(int argc, char **argv, struct run_cli *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->progress = -1;
	o->summary = -1;
	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 's': /* run one source only */
			o->ropt.only_source = optarg;
			break;
		case 'F': /* ignore and reset watermarks */
			o->ropt.full_refresh = true;
			break;
		case 'r': /* backfill a window, watermarks untouched */
			o->range = optarg;
			break;
		case 'w': /* wait for the lock instead of skipping */
			if (duration_arg("--wait", optarg,
					 &o->ropt.wait_lock_ms))
				return CNS_EXIT_USAGE;
			break;
		case 'R': /* override max_runtime */
			if (duration_arg("--max-runtime", optarg,
					 &o->ropt.max_runtime_ms))
				return CNS_EXIT_USAGE;
			break;
		case 'T': /* override stall_timeout */
			if (duration_arg("--stall-timeout", optarg,
					 &o->ropt.stall_timeout_ms))
				return CNS_EXIT_USAGE;
			break;
		case 'p': /* progress line even when not on a terminal */
			o->progress = 1;
			break;
		case 'P': o->progress = 0; break;
		case 'S': /* summary table even when not on a terminal */
			o->summary = 1;
			break;
		case 'q': /* nothing but errors */ o->quiet = true; break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "run", NULL });
			return -2;
		default: return cns_cli_usage("run", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cns_cli_usage("run", "expected one job file");
	if (o->range && o->ropt.full_refresh)
		return cns_cli_usage("run", "--range and --full-refresh "
					    "exclude each other");
	o->job_path = argv[optind];
	return 0;
}

static void tick(void *ctx, const struct cns_source_stats *st, int n)
{
	(void)ctx;
	cns_report_progress(stderr, st, n, cns_now_ms());
}

/* The runner's guard could not get a blocked call back within kill_grace:
 * the run is recorded, and only ending the process frees it. */
static void stuck(void *ctx, const struct cns_error *err)
{
	(void)ctx;
	cns_cli_report(err);
	fprintf(stderr, "consolidate: the run did not stop within "
			"kill_grace; ending it now\n");
	_exit(cns_error_exit_code(err->code));
}

static void install_signals(void)
{
	cns_cli_on_stop_signals(on_signal);
	/* A run outlives the terminal it was started from. */
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

static void print_peak_memory(FILE *out)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(out, "peak memory %.1f MiB\n",
			(double)ru.ru_maxrss / 1024.0);
}

/* --range: the window, for a job that may re-read one; when it may not,
 * reports why and returns the exit code (else 0). */
static int start_range(const struct cns_job_conf *job, struct run_cli *o,
		       char **from, char **to)
{
	struct cns_error err;

	cns_error_clear(&err);
	if (cns_prepare_range_parse(o->range, from, to, &err) < 0 ||
	    cns_prepare_range_check(job, o->ropt.only_source, &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	o->ropt.range_from = *from;
	o->ropt.range_to = *to;
	return 0;
}

int cns_cmd_run(int argc, char **argv)
{
	struct run_cli o;
	struct cns_job_conf *job = NULL;
	struct cns_runner_result res;
	struct cns_error err;
	bool tty = isatty(STDERR_FILENO);
	bool progress, summary;
	char *range_from = NULL, *range_to = NULL;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc == -2 ? CNS_EXIT_OK : rc;
	progress = !o.quiet && (o.progress == -1 ? tty : o.progress);
	summary = !o.quiet && (o.summary == -1 ? tty : o.summary);
	cns_error_clear(&err);
	memset(&res, 0, sizeof(res));

	if (cns_config_load(o.job_path, &job, &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	if (o.ropt.only_source && !cns_config_source(job, o.ropt.only_source)) {
		rc = cns_cli_usage("run", "job \"%s\" has no source \"%s\"",
				   job->name, o.ropt.only_source);
		cns_config_free(job);
		return rc;
	}
	if (o.range && (rc = start_range(job, &o, &range_from, &range_to))) {
		free(range_from);
		free(range_to);
		cns_config_free(job);
		return rc;
	}
	install_signals();
	if (cns_shard_enabled(job) && !o.ropt.only_source) {
		/* A sharded job: plan, shards on local workers, finalize
		 * (shard.h); each shard is a run under the watchdog, with
		 * the limits given here. */
		struct cns_job_conf sharded = *job;
		char run_id[64] = "";

		if (o.ropt.full_refresh || o.ropt.wait_lock_ms > 0) {
			rc = cns_cli_usage("run", "--full-refresh and --wait "
						  "do not apply to a sharded "
						  "job");
			cns_config_free(job);
			return rc;
		}
		if (o.ropt.max_runtime_ms > 0)
			sharded.max_runtime_ms = o.ropt.max_runtime_ms;
		if (o.ropt.stall_timeout_ms > 0)
			sharded.stall_timeout_ms = o.ropt.stall_timeout_ms;
		rc = cns_shard_run_local(&sharded, 0, &got_signal, run_id,
					 sizeof(run_id), &err);
		if (rc < 0) {
			cns_cli_report(&err);
			if (run_id[0] && err.code != CNS_E_LOCKED)
				fprintf(stderr, "consolidate: run %s\n",
					run_id);
		} else if (summary) {
			fprintf(stderr, "run %s: every shard merged\n", run_id);
		}
		cns_config_free(job);
		return rc < 0 ? cns_error_exit_code(err.code) : CNS_EXIT_OK;
	}
	o.ropt.signal_flag = &got_signal;
	o.ropt.stuck = stuck;
	if (progress)
		o.ropt.tick = tick;
	rc = cns_runner_run(job, &o.ropt, &res, &err);
	if (progress)
		cns_report_progress_clear(stderr);
	if (res.stuck) {
		cns_cli_report(&err);
		fprintf(stderr, "consolidate: the run did not stop within "
				"kill_grace; ending it now\n");
		_exit(cns_error_exit_code(err.code));
	}
	if (res.stats && (summary || (rc < 0 && tty && !o.quiet))) {
		cns_report_summary(stderr, res.stats, res.nsources,
				   cns_now_ms());
		if (summary)
			print_peak_memory(stderr);
	}
	if (rc < 0) {
		cns_cli_report(&err);
		if (res.log_path[0] && err.code != CNS_E_LOCKED)
			fprintf(stderr, "consolidate: run %s, log %s\n",
				res.run_id, res.log_path);
	}
	if (res.rejects_path[0] && !o.quiet && (tty || rc < 0 || summary)) {
		fprintf(stderr, "rejected rows are in %s\n", res.rejects_path);
		fputs(res.rejects_summary, stderr);
	}
	free(res.stats);
	free(range_from);
	free(range_to);
	cns_config_free(job);
	return rc < 0 ? cns_error_exit_code(err.code) : CNS_EXIT_OK;
}
