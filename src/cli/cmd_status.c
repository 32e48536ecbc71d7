/*
 * cmd_status.c - `consolidate status [DIR|FILE...] [--json] [--now TIME]`:
 * a dead-man's switch for monitoring: per job the last run, the last
 * success, the next fire time, and a verdict (see status.h).
 *
 * The exit code follows the monitoring-plugin convention: 0 all ok,
 * 1 warning (late, never), 2 critical (failing), 3 unknown (error, bad
 * usage); the worst job decides, critical above unknown above warning.
 * The first line of output is the summary such tools show.
 *
 * A sharded job's newest run is shown with its shards (done, running,
 * failed, pending, rows), read from the target's plan tables: its shards
 * ran wherever a cluster put them, and only the target saw them all.
 *
 * --now (or the environment variable CNS_NOW) fixes the current time, as
 * ISO 8601, for tests and for asking "what would it have said then".
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/runlog.h"
#include "consolidate/schedule.h"
#include "consolidate/shard.h"
#include "consolidate/status.h"
#include "cli.h"
#include "commands.h"
#include "shard_runs.h"

struct status_cli {
	char *const *paths;
	int npaths;
	bool json;
	const char *now_text;
};

static int parse_args(int argc, char **argv, struct status_cli *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->now_text = getenv("CNS_NOW");
	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'j': /* one JSON document */ o->json = true; break;
		case 'N': /* the current time, for tests */
			o->now_text = optarg;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "status", NULL });
			return -2;
		default:
			cns_cli_usage("status", "invalid option");
			return CNS_MONITOR_UNKNOWN;
		}
	}
	o->paths = argv + optind;
	o->npaths = argc - optind;
	return 0;
}

/* The newest sharded run of the job of `file`: 1 when st was filled, 0
 * when the job has no shards or none ran, or the target could not be
 * read (a warning: status itself needs no server). */
static int read_shards(const char *file, struct cns_cli_shard_status *st)
{
	struct cns_job_conf *job = NULL;
	struct cns_error err;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	cns_error_clear(&err);
	if (cns_config_load(file, &job, &err) < 0) {
		cns_config_free(job);
		return 0;
	}
	if (cns_shard_enabled(job)) {
		rc = cns_cli_shard_status_read(job, st, &err);
		if (rc < 0)
			fprintf(stderr,
				"consolidate: warning: shards of job \"%s\" "
				"not shown: %s\n",
				job->name, err.message);
	}
	cns_config_free(job);
	return rc > 0;
}

static void print_shards(const char *name,
			 const struct cns_cli_shard_status *st)
{
	printf("\nSHARDS OF %s: run %s planned %s, %s", name, st->run_id,
	       st->planned, st->state);
	if (st->rows >= 0)
		printf(", %lld rows", (long long)st->rows);
	printf(": %d done, %d running, %d failed, %d pending\n",
	       st->count[CNS_SHS_DONE], st->count[CNS_SHS_RUNNING],
	       st->count[CNS_SHS_FAILED], st->count[CNS_SHS_PENDING]);
	printf("%-5s  %-16s  %-7s  %12s  %s\n", "SHARD", "SOURCE", "STATE",
	       "ROWS", "UPDATED (UTC)");
	for (int i = 0; i < st->n; i++) {
		const struct cns_cli_shard_row *r = &st->v[i];
		char rows[32];

		if (r->rows >= 0)
			snprintf(rows, sizeof(rows), "%lld",
				 (long long)r->rows);
		else
			snprintf(rows, sizeof(rows), "-");
		printf("%-5d  %-16s  %-7s  %12s  %s\n", r->shard, r->source,
		       r->state, rows, r->updated);
	}
}

/* Rows not counted yet are null. */
static json_t *rows_json(int64_t rows)
{
	return rows >= 0 ? json_integer(rows) : json_null();
}

/* The shards of the job's newest sharded run, or null without one. */
static json_t *shards_json(const struct cns_cli_shard_status *st)
{
	static const char *const names[CNS_SHS_N] = { "done", "running",
						      "failed", "pending" };
	json_t *o, *list;

	if (!st)
		return json_null();
	o = cns_json_checked(json_object());
	list = cns_json_checked(json_array());
	cns_json_set(o, "run_id", cns_json_ctext(st->run_id));
	cns_json_set(o, "state", cns_json_ctext(st->state));
	cns_json_set(o, "planned", cns_json_ctext(st->planned));
	cns_json_set(o, "rows", rows_json(st->rows));
	for (int k = 0; k < CNS_SHS_N; k++)
		cns_json_set(o, names[k], json_integer(st->count[k]));
	for (int i = 0; i < st->n; i++) {
		const struct cns_cli_shard_row *r = &st->v[i];
		json_t *ro = cns_json_checked(json_object());

		cns_json_set(ro, "shard", json_integer(r->shard));
		cns_json_set(ro, "source", cns_json_ctext(r->source));
		cns_json_set(ro, "state", cns_json_ctext(r->state));
		cns_json_set(ro, "rows", rows_json(r->rows));
		cns_json_set(ro, "updated", cns_json_ctext(r->updated));
		json_array_append_new(list, ro);
	}
	cns_json_set(o, "list", list);
	return o;
}

static char *fmt_time_us(int64_t us, char *buf, size_t size)
{
	if (us < 0)
		snprintf(buf, size, "-");
	else
		cns_time_format(us / 1000000, NULL, buf, size);
	return buf;
}

static void print_table(struct cns_job_status *js, int n)
{
	enum {
		C_JOB,
		C_VERDICT,
		C_LAST,
		C_STATUS,
		C_SUCCESS,
		C_NEXT,
		C_WHY,
		NCOLS
	};
	static const char *const heads[NCOLS] = {
		"JOB",          "VERDICT",  "LAST RUN (UTC)", "STATUS",
		"LAST SUCCESS", "NEXT RUN", "DETAIL"
	};
	char cells[NCOLS][512];
	size_t width[NCOLS];

	for (int c = 0; c < NCOLS; c++)
		width[c] = strlen(heads[c]);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			for (int c = 0; c < NCOLS; c++)
				printf(c < NCOLS - 1 ? "%-*s  " : "%.*s\n",
				       (int)width[c], heads[c]);
		for (int i = 0; i < n; i++) {
			struct cns_job_status *j = &js[i];

			snprintf(cells[C_JOB], 512, "%s", j->name);
			snprintf(cells[C_VERDICT], 512, "%s",
				 cns_verdict_name(j->verdict));
			fmt_time_us(j->last_start_us, cells[C_LAST], 512);
			if (j->running)
				snprintf(cells[C_STATUS], 512, "%s%srunning",
					 j->last_status,
					 j->has_last ? ", " : "");
			else
				snprintf(cells[C_STATUS], 512, "%s",
					 j->has_last ? j->last_status : "-");
			fmt_time_us(j->success_us, cells[C_SUCCESS], 512);
			if (j->next_s >= 0)
				cns_time_format(j->next_s, NULL, cells[C_NEXT],
						512);
			else
				snprintf(cells[C_NEXT], 512, "-");
			snprintf(cells[C_WHY], 512, "%s",
				 j->why.len ? j->why.data : "");
			for (int c = 0; c < NCOLS; c++) {
				if (pass == 0 && strlen(cells[c]) > width[c])
					width[c] = strlen(cells[c]);
				if (pass == 1 && c < NCOLS - 1)
					printf("%-*s  ", (int)width[c],
					       cells[c]);
			}
			if (pass == 1)
				printf("%s\n", cells[C_WHY]);
		}
	}
}

/* A time as text, or null when unknown (us < 0). */
static json_t *time_json(int64_t us)
{
	char t[40];

	if (us < 0)
		return json_null();
	return cns_json_ctext(
		cns_time_format(us / 1000000, NULL, t, sizeof(t)));
}

static void print_json(struct cns_job_status *js,
		       const struct cns_cli_shard_status *sh, const bool *has,
		       int n, int code, int64_t now)
{
	static const char *const names[] = { "ok", "warning", "critical",
					     "unknown" };
	json_t *o = cns_json_checked(json_object());
	json_t *jobs = cns_json_checked(json_array());
	struct cns_buf b;

	cns_json_set(o, "status", cns_json_ctext(names[code]));
	cns_json_set(o, "exit_code", json_integer(code));
	cns_json_set(o, "now", time_json(now * 1000000));
	for (int i = 0; i < n; i++) {
		struct cns_job_status *j = &js[i];
		json_t *jo = cns_json_checked(json_object()), *last, *running;

		cns_json_set(jo, "job", cns_json_ctext(j->name));
		cns_json_set(jo, "file", cns_json_ctext(j->file));
		cns_json_set(jo, "verdict",
			     cns_json_ctext(cns_verdict_name(j->verdict)));
		cns_json_set(jo, "detail",
			     cns_json_ctext(j->why.len ? j->why.data : NULL));
		last = json_null();
		if (j->has_last) {
			last = cns_json_checked(json_object());
			cns_json_set(last, "run_id",
				     cns_json_ctext(j->last_id));
			cns_json_set(last, "status",
				     cns_json_ctext(j->last_status));
			cns_json_set(last, "start",
				     time_json(j->last_start_us));
			cns_json_set(last, "end", time_json(j->last_end_us));
		}
		cns_json_set(jo, "last_run", last);
		cns_json_set(jo, "last_success", time_json(j->success_us));
		cns_json_set(jo, "next_run",
			     time_json(j->next_s < 0 ? -1
						     : j->next_s * 1000000));
		running = json_null();
		if (j->running) {
			running = cns_json_checked(json_object());
			cns_json_set(running, "run_id",
				     cns_json_ctext(j->running_id));
			cns_json_set(running, "since",
				     time_json(j->running_since_us));
		}
		cns_json_set(jo, "running", running);
		cns_json_set(jo, "shards", shards_json(has[i] ? &sh[i] : NULL));
		json_array_append_new(jobs, jo);
	}
	cns_json_set(o, "jobs", jobs);
	cns_buf_init(&b);
	cns_json_dump(o, &b);
	json_decref(o);
	cns_buf_addc(&b, '\n');
	fputs(b.data, stdout);
	cns_buf_release(&b);
}

int cns_cmd_status(int argc, char **argv)
{
	static const char *const labels[] = { "OK", "WARNING", "CRITICAL",
					      "UNKNOWN" };
	struct status_cli o;
	struct cns_error err;
	struct cns_job_status *js;
	struct cns_cli_shard_status *sh;
	bool *has;
	char **files = NULL;
	enum cns_monitor_code code = CNS_MONITOR_OK;
	int nfiles = 0, rc;
	int count[CNS_NVERDICTS] = { 0 };
	int64_t now;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc == -2 ? CNS_MONITOR_OK : rc;
	if (cns_cli_now("status", o.now_text, &now))
		return CNS_MONITOR_UNKNOWN;
	cns_error_clear(&err);
	if (cns_sched_list_files(o.paths, o.npaths, &files, &nfiles, &err) <
	    0) {
		cns_cli_report(&err);
		return CNS_MONITOR_UNKNOWN;
	}
	if (nfiles == 0) {
		fprintf(stderr, "consolidate: no job files (*.conf) found\n");
		cns_sched_files_free(files, nfiles);
		return CNS_MONITOR_UNKNOWN;
	}
	js = cns_xcalloc((size_t)nfiles, sizeof(*js));
	sh = cns_xcalloc((size_t)nfiles, sizeof(*sh));
	has = cns_xcalloc((size_t)nfiles, sizeof(*has));
	for (int i = 0; i < nfiles; i++) {
		cns_status_judge(files[i], now, &js[i]);
		has[i] = read_shards(files[i], &sh[i]);
		count[js[i].verdict]++;
		code = cns_monitor_worse(code, cns_verdict_code(js[i].verdict));
	}
	if (o.json) {
		print_json(js, sh, has, nfiles, code, now);
	} else {
		printf("CONSOLIDATE %s: %d failing, %d late, %d never, "
		       "%d error, %d ok\n\n",
		       labels[code], count[CNS_VERDICT_FAILING],
		       count[CNS_VERDICT_LATE], count[CNS_VERDICT_NEVER],
		       count[CNS_VERDICT_ERROR], count[CNS_VERDICT_OK]);
		print_table(js, nfiles);
		for (int i = 0; i < nfiles; i++)
			if (has[i])
				print_shards(js[i].name, &sh[i]);
	}
	fflush(stdout);
	for (int i = 0; i < nfiles; i++) {
		cns_job_status_release(&js[i]);
		cns_cli_shard_status_release(&sh[i]);
	}
	free(js);
	free(sh);
	free(has);
	cns_sched_files_free(files, nfiles);
	return code;
}
