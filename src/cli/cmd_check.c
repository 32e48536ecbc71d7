/*
 * cmd_check.c - `consolidate check` and `consolidate plan`.
 *
 * check: parses the job, compiles the transforms, and prepares every source
 * and the target through the run's own preparation (prepare.h) with no
 * data moved and the target's statements rolled back.  Every problem
 * found is reported, each once.
 * plan: the same preparation, then prints per source the extraction the
 * next run sends (with the watermark it binds), the compiled mapping, and
 * the target DDL.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/deletes.h"
#include "consolidate/evolve.h"
#include "consolidate/load.h"
#include "consolidate/prepare.h"
#include "consolidate/runlog.h"
#include "consolidate/cron.h"
#include "consolidate/source.h"
#include "consolidate/transform.h"
#include "consolidate/trend.h"
#include "cli.h"
#include "commands.h"

static int parse_job_arg(const char *cmd, int argc, char **argv, bool *offline,
			 const char **range)
{
	int c;

	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'o': /* plan without connecting */ *offline = true; break;
		case 'r': /* plan: the extraction of run --range */
			*range = optarg;
			break;
		case 'h':
			cns_cmd_help(2,
				     (char *[]){ "help", (char *)cmd, NULL });
			return -2;
		default: return cns_cli_usage(cmd, "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cns_cli_usage(cmd, "expected one job file");
	return 0;
}

static int load_job(const char *path, struct cns_job_conf **job,
		    struct cns_transform **xf, struct cns_error *err)
{
	if (cns_config_load(path, job, err) < 0)
		return -1;
	return cns_transform_load((*job)->transforms, cns_wall_us(), xf, err);
}

/* How the last successful run compares with the schedule's interval. */
static void print_trend(const struct cns_job_conf *job)
{
	struct cns_run_history h;
	struct cns_error err;
	char text[512];
	double last = -1;

	cns_error_clear(&err);
	if (cns_runlog_history(job, 50, &h, &err) < 0)
		return;
	for (int i = h.n - 1; i >= 0 && last < 0; i--)
		if (h.runs[i].status == CNS_RUN_OK &&
		    !cns_run_entry_is_redrive(&h.runs[i]))
			last = h.runs[i].duration_s;
	cns_run_history_release(&h);
	if (last < 0)
		return;
	if (cns_trend_judge(job, last, text, sizeof(text)))
		fprintf(stderr, "consolidate: warning: %s\n", text);
	else if (text[0])
		printf("runtime  %s\n", text);
}

/* Schedules that parse but do not do what they seem to (the day-of-month
 * OR day-of-week rule, uneven steps) deserve a word before they run. */
static void warn_schedule(const struct cns_job_conf *job)
{
	struct cns_buf out;
	char *line, *save = NULL;

	if (!job->schedule)
		return;
	cns_buf_init(&out);
	if (cns_cron_warnings(&job->cron, &out) > 0)
		for (line = strtok_r(out.data, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			fprintf(stderr,
				"consolidate: warning: schedule \"%s\": "
				"%s\n",
				job->schedule, line);
	cns_buf_release(&out);
	printf("schedule %-14s ok (%s)\n", job->schedule,
	       job->timezone ? job->timezone : "host time zone");
	print_trend(job);
}

static const char *mode_name(enum cns_load_mode m)
{
	return m == CNS_MODE_APPEND   ? "append"
	       : m == CNS_MODE_UPSERT ? "upsert"
				      : "replace";
}

/* What check and plan print while the job is prepared. */
struct report {
	const struct cns_job_conf *job;
	int problems;
	bool offline; /* nothing was connected: nothing to call ok */
	int nshards;  /* shards printed so far */
};

/* Each problem once, as it is found. */
static void on_problem(void *ctx, const struct cns_error *e)
{
	struct report *r = ctx;

	cns_cli_report(e);
	r->problems++;
}

/* The statements the run's last transaction sends for a source with
 * deletes = soft | hard. */
static void print_deletes(const struct cns_job_conf *job, int i)
{
	struct cns_buf b;
	char *line, *save = NULL;

	cns_buf_init(&b);
	cns_buf_adds(&b, "");
	cns_deletes_describe(job, i, &b);
	for (line = strtok_r(b.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		printf("  deletes: %s\n", line);
	cns_buf_release(&b);
}

static void check_source(void *ctx, int i, const struct cns_prepared *p,
			 bool ok)
{
	struct report *r = ctx;
	const struct cns_source_conf *sc = &r->job->sources[i];

	if (ok)
		printf("source %-16s ok (%s, %d columns)\n", sc->name,
		       sc->driver, p->src->ncols);
	if (ok && cns_deletes_source(r->job, i, NULL))
		print_deletes(r->job, i);
}

static void check_target(void *ctx, bool ok)
{
	struct report *r = ctx;

	if (ok && !r->offline)
		printf("target %-16s ok (%s, mode %s)\n", r->job->target.table,
		       r->job->target.driver, mode_name(r->job->target.mode));
}

/* The extraction exactly as the run sends it, with the watermark it would
 * bind. */
static void plan_source(void *ctx, int i, const struct cns_prepared *p, bool ok)
{
	struct report *r = ctx;
	const struct cns_source_conf *sc = &r->job->sources[i];
	struct cns_source *src = p->src;
	const char *sql = src->ops->describe_plan ? src->ops->describe_plan(src)
						  : NULL;

	printf("[source %s] driver %s\n", sc->name, sc->driver);
	if (sql)
		printf("  extract: %s\n", sql);
	if (p->ninc > 0) {
		printf("  order:   ");
		for (int k = 0; k < p->ninc; k++)
			printf("%s%s", k ? ", " : "", p->inc_cols[k]);
		printf("\n  watermark:");
		if (src->range_from)
			printf(" not used by the window, and kept:");
		else if (!p->bound)
			printf(" none (reads from the start)");
		for (int k = 0; (p->bound || src->range_from) && k < p->nstored;
		     k++)
			printf(" %s%s", p->stored[k] ? p->stored[k] : "NULL",
			       k + 1 < p->nstored ? "," : "");
		printf("\n");
	}
	if (p->counted)
		printf("  rows:    %lld to extract\n", (long long)p->count);
	if (cns_deletes_source(r->job, i, NULL))
		print_deletes(r->job, i);
	if (ok && p->prog) {
		printf("  mapping:\n");
		cns_program_explain(p->prog, stdout);
	}
	printf("\n");
}

/* Each source_key tried on the target, as the run's last transaction
 * will use it. */
static void rehearse_deletes(struct report *r, bool offline)
{
	struct cns_error err;

	if (offline)
		return;
	cns_error_clear(&err);
	if (cns_deletes_rehearse(r->job, on_problem, r, &err) < 0)
		on_problem(r, &err);
}

/* A sharded job: each shard's predicate and the planner's estimate,
 * numbered across the job as the coordinator numbers them. */
static void plan_shards(void *ctx, int i, const struct cns_shard_list *l)
{
	struct report *r = ctx;

	printf("[source %s] %d shard%s\n", r->job->sources[i].name, l->n,
	       l->n == 1 ? "" : "s");
	for (int k = 0; k < l->n; k++) {
		printf("  shard %d: %s", r->nshards++, l->v[k].predicate);
		if (l->v[k].estimate >= 0)
			printf(" (about %lld rows)",
			       (long long)l->v[k].estimate);
		printf("\n");
	}
	printf("\n");
}

/* How [schema] and the target table differ, and the DDL a run would
 * execute; a failure to tell was reported by the preparation already. */
static void show_schema_change(const struct cns_job_conf *job,
			       const struct cns_transform *xf, bool offline)
{
	struct cns_error err;

	cns_error_clear(&err);
	if (!offline)
		cns_schema_diff_write(job, cns_transform_schema(xf), stdout,
				      &err);
}

int cns_cmd_check(int argc, char **argv)
{
	struct cns_job_conf *job = NULL;
	struct cns_transform *xf = NULL;
	struct cns_error err;
	struct report r = { 0 };
	struct cns_prepare_opts opts = { .ctx = &r, .problem = on_problem };
	struct cns_prepare_report rep = { .ctx = &r,
					  .source = check_source,
					  .target = check_target };
	const char *range = NULL;
	bool offline = false;
	int rc;

	rc = parse_job_arg("check", argc, argv, &offline, &range);
	if (rc)
		return rc == -2 ? CNS_EXIT_OK : rc;
	cns_error_clear(&err);
	if (load_job(argv[optind], &job, &xf, &err) < 0) {
		cns_cli_report(&err);
		rc = cns_error_exit_code(err.code);
		goto out;
	}
	warn_schedule(job);
	r.job = job;
	opts.offline = r.offline = offline;
	cns_prepare_job(job, xf, &opts, &rep);
	rehearse_deletes(&r, offline);
	show_schema_change(job, xf, offline);
	if (r.problems) {
		fprintf(stderr, "consolidate: %d problem%s found in \"%s\"\n",
			r.problems, r.problems == 1 ? "" : "s", argv[optind]);
		rc = CNS_EXIT_FAILED;
	} else {
		rc = CNS_EXIT_OK;
	}
out:
	cns_transform_free(xf);
	cns_config_free(job);
	return rc;
}

int cns_cmd_plan(int argc, char **argv)
{
	struct cns_job_conf *job = NULL;
	struct cns_transform *xf = NULL;
	struct cns_error err;
	struct report r = { 0 };
	struct cns_prepare_opts opts = { .ctx = &r, .problem = on_problem };
	struct cns_prepare_report rep = { .ctx = &r,
					  .source = plan_source,
					  .shards = plan_shards };
	const char *range = NULL;
	char *range_from = NULL, *range_to = NULL;
	bool offline = false;
	int rc;

	rc = parse_job_arg("plan", argc, argv, &offline, &range);
	if (rc)
		return rc == -2 ? CNS_EXIT_OK : rc;
	cns_error_clear(&err);
	if (load_job(argv[optind], &job, &xf, &err) < 0) {
		cns_cli_report(&err);
		rc = cns_error_exit_code(err.code);
		goto out;
	}
	if (range &&
	    (cns_prepare_range_parse(range, &range_from, &range_to, &err) < 0 ||
	     cns_prepare_range_check(job, NULL, &err) < 0)) {
		cns_cli_report(&err);
		rc = cns_error_exit_code(err.code);
		goto out;
	}
	printf("job %s: %d source%s, batch_size %d, parallel %d\n\n", job->name,
	       job->nsources, job->nsources == 1 ? "" : "s", job->batch_size,
	       job->parallel);
	if (range)
		printf("backfill of %s..%s (run --range): the watermarks "
		       "stay\n\n",
		       range_from, range_to);
	r.job = job;
	opts.offline = offline;
	opts.range_from = range_from;
	opts.range_to = range_to;
	cns_prepare_job(job, xf, &opts, &rep);
	rehearse_deletes(&r, offline);
	printf("[target] %s, mode %s\n", job->target.table,
	       mode_name(job->target.mode));
	if (cns_target_write_ddl(job, cns_transform_schema(xf), offline, stdout,
				 &err) < 0) {
		/* prepare has reported why the target does not answer. */
		cns_error_clear(&err);
		r.problems++;
	}
	show_schema_change(job, xf, offline);
	rc = r.problems ? CNS_EXIT_FAILED : CNS_EXIT_OK;
out:
	free(range_from);
	free(range_to);
	cns_transform_free(xf);
	cns_config_free(job);
	return rc;
}
