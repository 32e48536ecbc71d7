/*
 * runlog_status.c - monitoring verdicts (see status.h): the job file, its
 * runs.jsonl and its running marker, judged against the schedule.
 */
#include "consolidate/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/runlog.h"
#include "consolidate/tz.h"

const char *cns_verdict_name(enum cns_verdict v)
{
	switch (v) {
	case CNS_VERDICT_OK: return "ok";
	case CNS_VERDICT_LATE: return "late";
	case CNS_VERDICT_NEVER: return "never";
	case CNS_VERDICT_FAILING: return "failing";
	case CNS_VERDICT_ERROR: return "error";
	}
	return "?";
}

enum cns_monitor_code cns_verdict_code(enum cns_verdict v)
{
	switch (v) {
	case CNS_VERDICT_OK: return CNS_MONITOR_OK;
	case CNS_VERDICT_LATE:
	case CNS_VERDICT_NEVER: return CNS_MONITOR_WARNING;
	case CNS_VERDICT_FAILING: return CNS_MONITOR_CRITICAL;
	case CNS_VERDICT_ERROR: return CNS_MONITOR_UNKNOWN;
	}
	return CNS_MONITOR_UNKNOWN;
}

/* Rank of a code, for "the worst wins". */
static int severity(enum cns_monitor_code c)
{
	return c == CNS_MONITOR_CRITICAL  ? 3
	       : c == CNS_MONITOR_UNKNOWN ? 2
					  : (int)c;
}

enum cns_monitor_code cns_monitor_worse(enum cns_monitor_code a,
					enum cns_monitor_code b)
{
	return severity(b) > severity(a) ? b : a;
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
static void read_runs(const struct cns_job_conf *job, struct cns_job_status *js,
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

		/* A redrive says nothing about the schedule's runs. */
		if (cns_run_entry_is_redrive(e))
			continue;
		if (!last && e->status != CNS_RUN_SKIPPED)
			last = e;
		if (!ok && e->status == CNS_RUN_OK)
			ok = e;
	}
	for (int i = 0; i < h.n && have_marker == 1; i++)
		if (!strcmp(h.runs[i].run_id, m.run_id))
			marker_recorded = true;

	if (last) {
		js->has_last = true;
		snprintf(js->last_id, sizeof(js->last_id), "%s", last->run_id);
		js->last = last->status;
		snprintf(js->last_status, sizeof(js->last_status), "%s",
			 last->status_name);
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
			js->last = CNS_RUN_CRASHED;
			snprintf(js->last_status, sizeof(js->last_status), "%s",
				 cns_run_status_name(js->last));
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

void cns_status_judge(const char *file, int64_t now, struct cns_job_status *js)
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
		js->verdict = CNS_VERDICT_NEVER;
		cns_buf_adds(&js->why, js->running ? "no run recorded yet (the "
						     "first one is running)"
						   : "no run recorded");
	} else if (js->last != CNS_RUN_OK) {
		js->verdict = CNS_VERDICT_FAILING;
		cns_buf_printf(&js->why, "last run %s", js->last_status);
		if (last_error)
			cns_buf_printf(&js->why, ": %.*s",
				       (int)strcspn(last_error, "\n"),
				       last_error);
	} else if (job->max_age_ms > 0) {
		int64_t age = now - js->success_us / 1000000;

		js->verdict = age * 1000 > job->max_age_ms ? CNS_VERDICT_LATE
							   : CNS_VERDICT_OK;
		if (js->verdict == CNS_VERDICT_LATE)
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
		js->verdict = now > f2 + grace ? CNS_VERDICT_LATE
					       : CNS_VERDICT_OK;
		if (js->verdict == CNS_VERDICT_LATE)
			cns_buf_printf(&js->why,
				       "no success since %s: the runs due at "
				       "%s and %s did not succeed",
				       fmt_time_us(js->success_us, a,
						   sizeof(a)),
				       cns_time_format(f1, NULL, b, sizeof(b)),
				       cns_time_format(f2, NULL, c, sizeof(c)));
	} else {
		js->verdict = CNS_VERDICT_OK;
	}
	goto out;
error:
	js->verdict = CNS_VERDICT_ERROR;
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

void cns_job_status_release(struct cns_job_status *js)
{
	cns_buf_release(&js->why);
}
