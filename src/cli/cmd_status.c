/*
 * cmd_status.c - `consolidate status [DIR|FILE...] [--json] [--now TIME]`:
 * a dead-man's switch for monitoring.  Per job: the last run, the last
 * success, the next fire time, and a verdict:
 *
 *   ok       the last run succeeded, and recently enough
 *   late     no success for longer than max_age; without max_age, the
 *            job missed two scheduled runs in a row (no success since
 *            the second fire time after its last success, plus a grace
 *            of that run's duration, at least a minute); a job with
 *            neither a schedule nor max_age is never late
 *   failing  the last run (skipped runs aside) did not succeed, or it
 *            died without a record
 *   never    no run recorded
 *   error    the job file or its schedule cannot be read
 *
 * The exit code follows the monitoring-plugin convention: 0 all ok,
 * 1 warning (late, never), 2 critical (failing), 3 unknown (error, bad
 * usage); the worst job decides, critical above unknown above warning.
 * The first line of output is the summary such tools show.
 *
 * --now (or the environment variable CNS_NOW) fixes the current time, as
 * ISO 8601, for tests and for asking "what would it have said then".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/runlog.h"
#include "consolidate/schedule.h"
#include "cli.h"
#include "commands.h"

/* Monitoring-plugin exit codes. */
enum { ST_OK = 0, ST_WARNING = 1, ST_CRITICAL = 2, ST_UNKNOWN = 3 };

enum verdict { V_OK, V_LATE, V_NEVER, V_FAILING, V_ERROR };

static const char *verdict_name(enum verdict v)
{
	switch (v) {
	case V_OK:
		return "ok";
	case V_LATE:
		return "late";
	case V_NEVER:
		return "never";
	case V_FAILING:
		return "failing";
	case V_ERROR:
		return "error";
	}
	return "?";
}

static int verdict_code(enum verdict v)
{
	switch (v) {
	case V_OK:
		return ST_OK;
	case V_LATE:
	case V_NEVER:
		return ST_WARNING;
	case V_FAILING:
		return ST_CRITICAL;
	case V_ERROR:
		return ST_UNKNOWN;
	}
	return ST_UNKNOWN;
}

/* Rank of an exit code, for "the worst wins". */
static int severity(int code)
{
	return code == ST_CRITICAL ? 3 : code == ST_UNKNOWN ? 2 : code;
}

struct job_status {
	const char *file;
	char name[256];
	enum verdict verdict;
	struct cns_buf why;

	bool has_last;
	char last_id[64];
	char last_status[32];
	int64_t last_start_us, last_end_us; /* -1: unknown */
	int64_t success_us;                 /* end of the last success, -1 */
	int64_t next_s;                     /* -1: no schedule */
	bool running;
	char running_id[64];
	int64_t running_since_us;
};

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
		case 'j': /* one JSON document */
			o->json = true;
			break;
		case 'N': /* the current time, for tests */
			o->now_text = optarg;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){"help", "status", NULL});
			return -2;
		default:
			cns_cli_usage("status", "invalid option");
			return ST_UNKNOWN;
		}
	}
	o->paths = argv + optind;
	o->npaths = argc - optind;
	return 0;
}

static char *fmt_time_us(int64_t us, char *buf, size_t size)
{
	if (us < 0)
		snprintf(buf, size, "-");
	else
		cns_time_format(us / 1000000, NULL, buf, size);
	return buf;
}

/* "3d4h", "2h15m", "40s": how long ago, for the why text. */
static char *fmt_age(int64_t secs, char *buf, size_t size)
{
	if (secs >= 86400)
		snprintf(buf, size, "%lldd%lldh", (long long)(secs / 86400),
			 (long long)(secs % 86400 / 3600));
	else if (secs >= 3600)
		snprintf(buf, size, "%lldh%lldm", (long long)(secs / 3600),
			 (long long)(secs % 3600 / 60));
	else if (secs >= 60)
		snprintf(buf, size, "%lldm", (long long)(secs / 60));
	else
		snprintf(buf, size, "%llds", (long long)secs);
	return buf;
}

/* Reads what the job's history says about the last run and the last
 * success, and the run in progress. */
static void read_runs(const struct cns_job_conf *job, struct job_status *js,
		      int64_t *success_start_us, double *success_secs,
		      const char **last_error)
{
	struct cns_run_history h;
	struct cns_run_marker m;
	const struct cns_run_entry *last = NULL, *ok = NULL;
	bool marker_recorded = false;
	int have_marker = cns_runlog_marker(job, &m, NULL);

	if (cns_runlog_history(job, 0, &h, NULL) < 0)
		memset(&h, 0, sizeof(h));
	for (int i = h.n - 1; i >= 0 && (!last || !ok); i--) {
		const struct cns_run_entry *e = &h.runs[i];

		if (!last && strcmp(e->status, "skipped"))
			last = e;
		if (!ok && !strcmp(e->status, "ok"))
			ok = e;
	}
	for (int i = 0; i < h.n && have_marker == 1; i++)
		if (!strcmp(h.runs[i].run_id, m.run_id))
			marker_recorded = true;

	if (last) {
		js->has_last = true;
		snprintf(js->last_id, sizeof(js->last_id), "%s", last->run_id);
		snprintf(js->last_status, sizeof(js->last_status), "%s",
			 last->status);
		js->last_start_us = last->started_us;
		js->last_end_us = last->ended_us;
		if (last->error)
			*last_error = cns_xstrdup(last->error);
	}
	if (ok) {
		js->success_us = ok->ended_us >= 0 ? ok->ended_us
						   : ok->started_us;
		*success_start_us = ok->started_us >= 0 ? ok->started_us
							: js->success_us;
		*success_secs = ok->duration_s;
	}
	if (have_marker == 1 && !marker_recorded) {
		if (cns_runlog_marker_alive(&m, true)) {
			js->running = true;
			snprintf(js->running_id, sizeof(js->running_id), "%s",
				 m.run_id);
			js->running_since_us = m.started_us;
		} else if (!last || m.started_us > last->started_us) {
			/* Died without a record; the next run will record
			 * it, but monitoring should not wait for that. */
			js->has_last = true;
			snprintf(js->last_id, sizeof(js->last_id), "%s",
				 m.run_id);
			snprintf(js->last_status, sizeof(js->last_status),
				 "crashed");
			js->last_start_us = m.started_us;
			js->last_end_us = -1;
			free((char *)*last_error);
			*last_error = NULL;
			{
				struct cns_buf b;

				cns_buf_init(&b);
				cns_buf_printf(&b,
					       "the run ended without a "
					       "record: process %ld on \"%s\" "
					       "is gone",
					       m.pid, m.host);
				*last_error = b.data;
			}
		}
	}
	cns_run_history_release(&h);
}

static void judge(const char *file, int64_t now, struct job_status *js)
{
	struct cns_job_conf *job = NULL;
	struct cns_error err;
	const char *last_error = NULL;
	int64_t success_start_us = -1;
	double success_secs = -1;
	char a[40], b[40], c[40];

	memset(js, 0, sizeof(*js));
	js->file = file;
	js->last_start_us = js->last_end_us = js->success_us = -1;
	js->next_s = -1;
	cns_buf_init(&js->why);
	cns_buf_add(&js->why, "", 0);
	cns_error_clear(&err);
	/* Until the file names its job: the file's base name. */
	{
		const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1
						      : file;
		size_t n = strlen(base);

		if (n > 5 && !strcmp(base + n - 5, ".conf"))
			n -= 5;
		snprintf(js->name, sizeof(js->name), "%.*s", (int)n, base);
	}

	if (cns_config_load(file, &job, &err) < 0)
		goto error;
	snprintf(js->name, sizeof(js->name), "%s", job->name);
	if (job->schedule &&
	    cns_cron_next(&job->cron, job->tz, now, &js->next_s, &err) < 0)
		goto error;
	read_runs(job, js, &success_start_us, &success_secs, &last_error);

	if (!js->has_last) {
		js->verdict = V_NEVER;
		cns_buf_adds(&js->why, js->running ? "no run recorded yet (the "
						     "first one is running)"
						   : "no run recorded");
	} else if (strcmp(js->last_status, "ok")) {
		js->verdict = V_FAILING;
		cns_buf_printf(&js->why, "last run %s", js->last_status);
		if (last_error)
			cns_buf_printf(&js->why, ": %.*s",
				       (int)strcspn(last_error, "\n"),
				       last_error);
	} else if (job->max_age_ms > 0) {
		int64_t age = now - js->success_us / 1000000;

		js->verdict = age * 1000 > job->max_age_ms ? V_LATE : V_OK;
		if (js->verdict == V_LATE)
			cns_buf_printf(&js->why,
				       "last success %s ago, more than "
				       "max_age = %s",
				       fmt_age(age, a, sizeof(a)),
				       cns_format_duration(job->max_age_ms, b,
							   sizeof(b)));
	} else if (job->schedule) {
		int64_t f1, f2, grace;

		/* The two fire times after the last success's start. */
		if (cns_cron_next(&job->cron, job->tz,
				  success_start_us / 1000000, &f1, &err) < 0 ||
		    cns_cron_next(&job->cron, job->tz, f1, &f2, &err) < 0)
			goto error;
		grace = success_secs > 60 ? (int64_t)success_secs : 60;
		js->verdict = now > f2 + grace ? V_LATE : V_OK;
		if (js->verdict == V_LATE)
			cns_buf_printf(&js->why,
				       "no success since %s: the runs due at "
				       "%s and %s did not succeed",
				       fmt_time_us(js->success_us, a,
						   sizeof(a)),
				       cns_time_format(f1, NULL, b, sizeof(b)),
				       cns_time_format(f2, NULL, c, sizeof(c)));
	} else {
		js->verdict = V_OK;
	}
	goto out;
error:
	js->verdict = V_ERROR;
	cns_buf_reset(&js->why);
	{
		char msg[4096];

		cns_error_format(&err, msg, sizeof(msg));
		cns_buf_add(&js->why, msg, strcspn(msg, "\n"));
	}
out:
	free((char *)last_error);
	cns_config_free(job);
}

static void print_table(struct job_status *js, int n)
{
	enum { C_JOB, C_VERDICT, C_LAST, C_STATUS, C_SUCCESS, C_NEXT, C_WHY,
	       NCOLS };
	static const char *const heads[NCOLS] = {
		"JOB", "VERDICT", "LAST RUN (UTC)", "STATUS",
		"LAST SUCCESS", "NEXT RUN", "DETAIL"};
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
			struct job_status *j = &js[i];

			snprintf(cells[C_JOB], 512, "%s", j->name);
			snprintf(cells[C_VERDICT], 512, "%s",
				 verdict_name(j->verdict));
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
				cns_time_format(j->next_s, NULL,
						cells[C_NEXT], 512);
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

static void add_time_member(struct cns_buf *b, const char *key, int64_t us)
{
	char t[40];

	cns_buf_printf(b, ",\"%s\":", key);
	if (us < 0)
		cns_buf_adds(b, "null");
	else
		cns_json_add_cstr(b, cns_time_format(us / 1000000, NULL, t,
						     sizeof(t)));
}

static void print_json(struct job_status *js, int n, int code, int64_t now)
{
	static const char *const names[] = {"ok", "warning", "critical",
					    "unknown"};
	struct cns_buf b;
	char t[40];

	cns_buf_init(&b);
	cns_buf_printf(&b, "{\"status\":\"%s\",\"exit_code\":%d,\"now\":",
		       names[code], code);
	cns_json_add_cstr(&b, cns_time_format(now, NULL, t, sizeof(t)));
	cns_buf_adds(&b, ",\"jobs\":[");
	for (int i = 0; i < n; i++) {
		struct job_status *j = &js[i];

		cns_buf_adds(&b, i ? ",{\"job\":" : "{\"job\":");
		cns_json_add_cstr(&b, j->name);
		cns_buf_adds(&b, ",\"file\":");
		cns_json_add_cstr(&b, j->file);
		cns_buf_adds(&b, ",\"verdict\":");
		cns_json_add_cstr(&b, verdict_name(j->verdict));
		cns_buf_adds(&b, ",\"detail\":");
		cns_json_add_cstr(&b, j->why.len ? j->why.data : NULL);
		cns_buf_adds(&b, ",\"last_run\":");
		if (j->has_last) {
			cns_buf_adds(&b, "{\"run_id\":");
			cns_json_add_cstr(&b, j->last_id);
			cns_buf_adds(&b, ",\"status\":");
			cns_json_add_cstr(&b, j->last_status);
			add_time_member(&b, "start", j->last_start_us);
			add_time_member(&b, "end", j->last_end_us);
			cns_buf_addc(&b, '}');
		} else {
			cns_buf_adds(&b, "null");
		}
		add_time_member(&b, "last_success", j->success_us);
		add_time_member(&b, "next_run",
				j->next_s < 0 ? -1 : j->next_s * 1000000);
		cns_buf_adds(&b, ",\"running\":");
		if (j->running) {
			cns_buf_adds(&b, "{\"run_id\":");
			cns_json_add_cstr(&b, j->running_id);
			add_time_member(&b, "since", j->running_since_us);
			cns_buf_addc(&b, '}');
		} else {
			cns_buf_adds(&b, "null");
		}
		cns_buf_addc(&b, '}');
	}
	cns_buf_adds(&b, "]}\n");
	fputs(b.data, stdout);
	cns_buf_release(&b);
}

int cns_cmd_status(int argc, char **argv)
{
	static const char *const labels[] = {"OK", "WARNING", "CRITICAL",
					     "UNKNOWN"};
	struct status_cli o;
	struct cns_error err;
	struct job_status *js;
	char **files = NULL;
	int nfiles = 0, code = ST_OK, rc;
	int count[V_ERROR + 1] = {0};
	int64_t now;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc == -2 ? ST_OK : rc;
	cns_error_clear(&err);
	if (o.now_text) {
		if (cns_time_parse(o.now_text, NULL, &now, &err) < 0) {
			cns_cli_usage("status", "invalid time \"%s\": expected "
						"ISO 8601 such as "
						"2026-11-22T03:15:00Z",
				      o.now_text);
			return ST_UNKNOWN;
		}
	} else {
		now = cns_wall_us() / 1000000;
	}
	if (cns_sched_list_files(o.paths, o.npaths, &files, &nfiles, &err) <
	    0) {
		cns_cli_report(&err);
		return ST_UNKNOWN;
	}
	if (nfiles == 0) {
		fprintf(stderr, "consolidate: no job files (*.conf) found\n");
		cns_sched_files_free(files, nfiles);
		return ST_UNKNOWN;
	}
	js = cns_xcalloc((size_t)nfiles, sizeof(*js));
	for (int i = 0; i < nfiles; i++) {
		judge(files[i], now, &js[i]);
		count[js[i].verdict]++;
		if (severity(verdict_code(js[i].verdict)) > severity(code))
			code = verdict_code(js[i].verdict);
	}
	if (o.json) {
		print_json(js, nfiles, code, now);
	} else {
		printf("CONSOLIDATE %s: %d failing, %d late, %d never, "
		       "%d error, %d ok\n\n",
		       labels[code], count[V_FAILING], count[V_LATE],
		       count[V_NEVER], count[V_ERROR], count[V_OK]);
		print_table(js, nfiles);
	}
	fflush(stdout);
	for (int i = 0; i < nfiles; i++)
		cns_buf_release(&js[i].why);
	free(js);
	cns_sched_files_free(files, nfiles);
	return code;
}
