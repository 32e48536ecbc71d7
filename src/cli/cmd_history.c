/*
 * cmd_history.c - `consolidate history JOB.conf [-n N] [--json]`: the job's
 * recent runs from runs.jsonl, newest first, one line each: when, how
 * long, how it ended, rows per source (read/loaded), rejects, and the
 * first line of the error.  Below the table, the duration of the last
 * successful run against the median of the shown ones, to tell whether
 * the job is getting slower.  --json prints the records as written,
 * oldest first, one per line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consolidate/config.h"
#include "consolidate/runlog.h"
#include "cli.h"
#include "commands.h"
#include "report.h"
#include "consolidate/shard.h"
#include "shard_runs.h"

struct history_cli {
	const char *job_path;
	int limit;
	bool json;
};

static int parse_args(int argc, char **argv, struct history_cli *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->limit = 20;
	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'n': /* how many runs */
			if (cns_cli_count("history", optarg, &o->limit))
				return CNS_EXIT_USAGE;
			break;
		case 'j': /* the records as written */ o->json = true; break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "history", NULL });
			return -2;
		default: return cns_cli_usage("history", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cns_cli_usage("history", "expected one job file");
	o->job_path = argv[optind];
	return 0;
}

/* "850ms", "12.3s", "4m05s", "2h03m". */
static char *format_secs(double s, char *buf, size_t size)
{
	long t = (long)(s + 0.5);

	if (s < 0)
		snprintf(buf, size, "-");
	else if (s < 1)
		snprintf(buf, size, "%.0fms", s * 1000);
	else if (s < 60)
		snprintf(buf, size, "%.1fs", s);
	else if (s < 3600)
		snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(buf, size, "%ldh%02ldm", t / 3600, t % 3600 / 60);
	return buf;
}

static char *format_time(int64_t us, char *buf, size_t size)
{
	struct tm tm;
	time_t t = (time_t)(us / 1000000);

	if (us < 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static double run_seconds(const struct cns_run_entry *e)
{
	if (e->duration_s >= 0)
		return e->duration_s;
	if (e->ended_us >= 0 && e->started_us >= 0)
		return (double)(e->ended_us - e->started_us) / 1e6;
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The cells of one run, in table order. */
enum {
	C_RUN,
	C_START,
	C_DURATION,
	C_STATUS,
	C_ROWS,
	C_REJECTS,
	C_ERROR,
	NCOLS
};

static void cells_of(const struct cns_run_entry *e, struct cns_buf *cell)
{
	char a[64], b[64];
	int64_t rejected = 0;

	for (int c = 0; c < NCOLS; c++)
		cns_buf_reset(&cell[c]);
	cns_buf_adds(&cell[C_RUN], e->run_id);
	cns_buf_adds(&cell[C_START], format_time(e->started_us, a, sizeof(a)));
	cns_buf_adds(&cell[C_DURATION],
		     format_secs(run_seconds(e), a, sizeof(a)));
	cns_buf_adds(&cell[C_STATUS], e->status_name);
	if (e->kind)
		cns_buf_printf(&cell[C_STATUS], " (%s)", e->kind);
	for (int i = 0; i < e->nsources; i++) {
		const struct cns_run_source_entry *s = &e->sources[i];

		rejected += s->rejected;
		cns_buf_printf(&cell[C_ROWS], "%s%s %s/%s", i ? "  " : "",
			       s->name, cns_report_count(s->read, a, sizeof(a)),
			       cns_report_count(s->loaded, b, sizeof(b)));
		if (!s->ok)
			cns_buf_printf(&cell[C_ROWS], " (%s)", s->status);
	}
	if (!e->nsources)
		cns_buf_adds(&cell[C_ROWS], "-");
	cns_buf_adds(&cell[C_REJECTS],
		     cns_report_count(rejected, a, sizeof(a)));
	if (e->error)
		cns_buf_add(&cell[C_ERROR], e->error, strcspn(e->error, "\n"));
	cns_buf_add(&cell[C_ERROR], "", 0);
}

static void print_table(const struct cns_run_history *h)
{
	static const char *const heads[NCOLS] = {
		"RUN",    "START (UTC)",        "DURATION",
		"STATUS", "ROWS (read/loaded)", "REJECTS",
		"ERROR"
	};
	struct cns_buf cell[NCOLS];
	size_t width[NCOLS];
	double *ok_secs = cns_xcalloc((size_t)h->n + 1, sizeof(double));
	int nok = 0;

	for (int c = 0; c < NCOLS; c++) {
		cns_buf_init(&cell[c]);
		width[c] = strlen(heads[c]);
	}
	for (int i = 0; i < h->n; i++) {
		cells_of(&h->runs[i], cell);
		for (int c = 0; c < NCOLS; c++)
			if (cell[c].len > width[c])
				width[c] = cell[c].len;
	}
	for (int c = 0; c < NCOLS; c++)
		printf(c < NCOLS - 1 ? "%-*s  " : "%.*s\n", (int)width[c],
		       heads[c]);
	for (int i = h->n - 1; i >= 0; i--) {
		const struct cns_run_entry *e = &h->runs[i];

		cells_of(e, cell);
		for (int c = 0; c < NCOLS - 1; c++)
			printf(c == C_REJECTS ? "%*s  " : "%-*s  ",
			       (int)width[c], cell[c].data);
		printf("%s\n", cell[C_ERROR].data);
		/* A redrive's time says nothing about the job's runs. */
		if (e->status == CNS_RUN_OK && !cns_run_entry_is_redrive(e) &&
		    run_seconds(e) >= 0)
			ok_secs[nok++] = run_seconds(e);
	}
	/* ok_secs holds the newest first. */
	if (nok >= 2) {
		char last[32], median[32];
		double m;

		m = ok_secs[0];
		format_secs(m, last, sizeof(last));
		qsort(ok_secs, (size_t)nok, sizeof(*ok_secs), cmp_double);
		m = nok % 2 ? ok_secs[nok / 2]
			    : (ok_secs[nok / 2 - 1] + ok_secs[nok / 2]) / 2;
		printf("\nlast successful run took %s; median of %d "
		       "successful runs shown: %s\n",
		       last, nok, format_secs(m, median, sizeof(median)));
	}
	for (int c = 0; c < NCOLS; c++)
		cns_buf_release(&cell[c]);
	free(ok_secs);
}

int cns_cmd_history(int argc, char **argv)
{
	struct history_cli o;
	struct cns_job_conf *job = NULL;
	struct cns_run_history h;
	struct cns_error err;
	char dir[4096];
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc == -2 ? CNS_EXIT_OK : rc;
	cns_error_clear(&err);
	if (cns_config_load(o.job_path, &job, &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	if (cns_runlog_history(job, o.limit, &h, &err) < 0) {
		cns_cli_report(&err);
		cns_config_free(job);
		return cns_error_exit_code(err.code);
	}
	if (o.json) {
		for (int i = 0; i < h.n; i++)
			printf("%s\n", h.runs[i].line);
	} else if (h.n == 0) {
		printf("no runs of job \"%s\" recorded in \"%s\"\n", job->name,
		       cns_runlog_dir(job, dir, sizeof(dir)));
	} else {
		print_table(&h);
	}
	/* A sharded run's shards ran wherever a cluster put them; only the
	 * target saw them all. */
	if (!o.json && cns_shard_enabled(job))
		cns_cli_print_shard_runs(job, o.limit);
	if (h.nbad)
		fprintf(stderr,
			"consolidate: %d damaged line%s in \"%s/runs.jsonl\" "
			"skipped\n",
			h.nbad, h.nbad == 1 ? "" : "s",
			cns_runlog_dir(job, dir, sizeof(dir)));
	fflush(stdout);
	cns_run_history_release(&h);
	cns_config_free(job);
	return CNS_EXIT_OK;
}
