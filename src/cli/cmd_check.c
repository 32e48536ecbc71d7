/*
 * cmd_check.c - `consolidate check` and `consolidate plan`.
 *
 * check: parses the job, compiles the transforms, connects to every source
 * and the target, and binds each mapping against the live columns, moving
 * no data.  Every problem found is reported, not only the first.
 * plan: the same preparation, then prints per source the extraction, the
 * compiled mapping, and the target DDL.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/load.h"
#include "consolidate/runlog.h"
#include "consolidate/cron.h"
#include "consolidate/source.h"
#include "consolidate/transform.h"
#include "consolidate/trend.h"
#include "cli.h"
#include "commands.h"

/* Opens, describes and binds one source.  On success *prog is set (the
 * caller frees it). */
static int check_source(const struct cns_job_conf *job,
			const struct cns_source_conf *sc,
			const struct cns_transform *xf, bool connect,
			struct cns_source **srcp, struct cns_program **prog,
			struct cns_error *err)
{
	struct cns_source *src = cns_source_new(job, sc);

	*srcp = src;
	if (!connect)
		return 0;
	if (src->ops->open(src, err) < 0 || src->ops->describe(src, err) < 0)
		return -1;
	if (cns_transform_bind(xf, sc->name, src->ncols,
			       (const char *const *)src->colnames, prog,
			       err) < 0)
		return -1;
	for (int k = 0; k < job->target.key.n; k++)
		if (!cns_program_maps(*prog, job->target.key.items[k]))
			return cns_error_set(err, CNS_E_CONFIG,
					     "source \"%s\" does not map key "
					     "column \"%s\"",
					     sc->name, job->target.key.items[k]);
	return 0;
}

static int parse_job_arg(const char *cmd, int argc, char **argv,
			 bool *offline)
{
	int c;

	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'o': /* plan without connecting */
			*offline = true;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){"help", (char *)cmd, NULL});
			return -2;
		default:
			return cns_cli_usage(cmd, "invalid option");
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
		if (strcmp(h.runs[i].status, "ok") == 0)
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
			fprintf(stderr, "consolidate: warning: schedule \"%s\": "
					"%s\n",
				job->schedule, line);
	cns_buf_release(&out);
	printf("schedule %-14s ok (%s)\n", job->schedule,
	       job->timezone ? job->timezone : "host time zone");
	print_trend(job);
}

int cns_cmd_check(int argc, char **argv)
{
	struct cns_job_conf *job = NULL;
	struct cns_transform *xf = NULL;
	struct cns_error err;
	bool offline = false;
	int problems = 0, rc;

	rc = parse_job_arg("check", argc, argv, &offline);
	if (rc)
		return rc == -2 ? CNS_EXIT_OK : rc;
	cns_error_clear(&err);
	if (load_job(argv[optind], &job, &xf, &err) < 0) {
		cns_cli_report(&err);
		rc = cns_error_exit_code(err.code);
		goto out;
	}
	warn_schedule(job);
	for (int i = 0; i < job->nsources; i++) {
		const struct cns_source_conf *sc = &job->sources[i];
		struct cns_source *src = NULL;
		struct cns_program *prog = NULL;

		cns_error_clear(&err);
		if (check_source(job, sc, xf, !offline, &src, &prog, &err) < 0) {
			cns_error_in_source(&err, sc->name);
			cns_cli_report(&err);
			problems++;
		} else {
			printf("source %-16s ok (%s, %d columns)\n", sc->name,
			       sc->driver, src->ncols);
		}
		cns_program_free(prog);
		cns_source_free(src);
	}
	cns_error_clear(&err);
	if (!offline &&
	    cns_target_check(job, cns_transform_schema(xf), &err) < 0) {
		cns_cli_report(&err);
		problems++;
	} else if (!offline) {
		printf("target %-16s ok (%s, mode %s)\n", job->target.table,
		       job->target.driver,
		       job->target.mode == CNS_MODE_APPEND   ? "append"
		       : job->target.mode == CNS_MODE_UPSERT ? "upsert"
							     : "replace");
	}
	if (problems) {
		fprintf(stderr, "consolidate: %d problem%s found in \"%s\"\n",
			problems, problems == 1 ? "" : "s", argv[optind]);
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
	bool offline = false;
	int problems = 0;
	int rc;

	rc = parse_job_arg("plan", argc, argv, &offline);
	if (rc)
		return rc == -2 ? CNS_EXIT_OK : rc;
	cns_error_clear(&err);
	if (load_job(argv[optind], &job, &xf, &err) < 0) {
		cns_cli_report(&err);
		rc = cns_error_exit_code(err.code);
		goto out;
	}
	printf("job %s: %d source%s, batch_size %d, parallel %d\n\n",
	       job->name, job->nsources, job->nsources == 1 ? "" : "s",
	       job->batch_size, job->parallel);
	for (int i = 0; i < job->nsources; i++) {
		const struct cns_source_conf *sc = &job->sources[i];
		struct cns_source *src = NULL;
		struct cns_program *prog = NULL;
		const char *sql;

		cns_error_clear(&err);
		printf("[source %s] driver %s\n", sc->name, sc->driver);
		rc = check_source(job, sc, xf, !offline, &src, &prog, &err);
		sql = src->ops->describe_plan ? src->ops->describe_plan(src)
					      : NULL;
		if (sql)
			printf("  extract: %s\n", sql);
		if (rc < 0) {
			cns_error_in_source(&err, sc->name);
			cns_cli_report(&err);
			problems++;
		} else if (prog) {
			printf("  mapping:\n");
			cns_program_explain(prog, stdout);
		}
		printf("\n");
		cns_program_free(prog);
		cns_source_free(src);
	}
	printf("[target] %s, mode %s\n", job->target.table,
	       job->target.mode == CNS_MODE_APPEND   ? "append"
	       : job->target.mode == CNS_MODE_UPSERT ? "upsert"
						     : "replace");
	cns_target_write_ddl(job, cns_transform_schema(xf), stdout);
	rc = problems ? CNS_EXIT_FAILED : CNS_EXIT_OK;
out:
	cns_transform_free(xf);
	cns_config_free(job);
	return rc;
}
