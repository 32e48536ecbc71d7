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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consolidate/config.h"
#include "consolidate/pipeline.h"
#include "consolidate/transform.h"
#include "commands.h"
#include "report.h"

struct run_cli {
	const char *job_path;
	const char *only_source;
	bool full_refresh;
	int progress; /* -1: auto (on a terminal) */
	int summary;  /* -1: auto (on a terminal) */
	bool quiet;
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static int parse_args(int argc, char **argv, struct run_cli *o)
{
	static const struct option longopts[] = {
		{"source", required_argument, NULL, 's'},
		{"full-refresh", no_argument, NULL, 'F'},
		{"progress", no_argument, NULL, 'p'},
		{"no-progress", no_argument, NULL, 'P'},
		{"summary", no_argument, NULL, 'S'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->progress = -1;
	o->summary = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': /* run one source only */
			o->only_source = optarg;
			break;
		case 'F': /* ignore and reset watermarks */
			o->full_refresh = true;
			break;
		case 'p': /* progress line even when not on a terminal */
			o->progress = 1;
			break;
		case 'P':
			o->progress = 0;
			break;
		case 'S': /* summary table even when not on a terminal */
			o->summary = 1;
			break;
		case 'q': /* nothing but errors */
			o->quiet = true;
			break;
		case 'h':
			return cns_cmd_help(2, (char *[]){"help", "run", NULL}),
			       -2;
		default:
			return cns_cli_usage("run", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cns_cli_usage("run", "expected one job file");
	o->job_path = argv[optind];
	return 0;
}

/* Waits for the pipeline, drawing progress and turning signals into a
 * clean cancel. */
static void supervise(struct cns_run *run, const struct run_cli *o,
		      bool progress)
{
	struct cns_source_stats *snap =
		cns_xcalloc((size_t)run->nsources, sizeof(*snap));
	int interrupts = 0;

	while (!cns_pipeline_wait(run, 200)) {
		if (got_signal) {
			int sig = got_signal;

			got_signal = 0;
			if (sig == SIGINT && ++interrupts > 1) {
				/* A second ^C means: stop now. */
				fprintf(stderr, "\nconsolidate: interrupted\n");
				_exit(CNS_EXIT_CANCELLED);
			}
			cns_pipeline_cancel(run, CNS_E_CANCELLED,
					    "run cancelled by %s",
					    sig == SIGINT ? "SIGINT" : "SIGTERM");
		}
		if (progress) {
			cns_pipeline_snapshot(run, snap);
			cns_report_progress(stderr, snap, run->nsources,
					    cns_now_ms());
		}
	}
	if (progress)
		cns_report_progress_clear(stderr);
	(void)o;
	free(snap);
}

int cns_cmd_run(int argc, char **argv)
{
	struct run_cli o;
	struct cns_job_conf *job = NULL;
	struct cns_transform *xf = NULL;
	struct cns_run run;
	struct cns_run_options ropt;
	struct cns_error err;
	struct sigaction sa;
	bool tty = isatty(STDERR_FILENO);
	bool progress, summary;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc == -2 ? CNS_EXIT_OK : rc;
	progress = !o.quiet && (o.progress == -1 ? tty : o.progress);
	summary = !o.quiet && (o.summary == -1 ? tty : o.summary);
	cns_error_clear(&err);
	memset(&run, 0, sizeof(run));
	memset(&ropt, 0, sizeof(ropt));
	ropt.only_source = o.only_source;
	ropt.run_start_us = cns_wall_us();

	if (cns_config_load(o.job_path, &job, &err) < 0)
		goto fail;
	if (o.only_source && !cns_config_source(job, o.only_source)) {
		cns_error_set(&err, CNS_E_USAGE,
			      "job \"%s\" has no source \"%s\"", job->name,
			      o.only_source);
		goto fail;
	}
	if (cns_transform_load(job->transforms, ropt.run_start_us, &xf,
			       &err) < 0)
		goto fail;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	if (cns_pipeline_start(&run, job, xf, &ropt, NULL, &err) < 0)
		goto fail;
	supervise(&run, &o, progress);
	rc = cns_pipeline_finish(&run, &err);
	if (summary || (rc < 0 && !o.quiet && tty)) {
		struct cns_source_stats *snap =
			cns_xcalloc((size_t)run.nsources, sizeof(*snap));

		cns_pipeline_snapshot(&run, snap);
		cns_report_summary(stderr, snap, run.nsources, cns_now_ms());
		free(snap);
	}
	if (rc < 0)
		goto fail;
	cns_pipeline_release(&run);
	cns_transform_free(xf);
	cns_config_free(job);
	return CNS_EXIT_OK;
fail:
	cns_cli_report(&err);
	if (run.stats)
		cns_pipeline_release(&run);
	cns_transform_free(xf);
	cns_config_free(job);
	return cns_error_exit_code(err.code);
}
