/*
 * trend.c - runtime against the schedule's interval.
 */
#include "consolidate/trend.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "consolidate/runlog.h"
#include "consolidate/cron.h"

#define TREND_RUNS 5
#define TREND_LIMIT 0.8

int64_t cns_trend_interval(const struct cns_job_conf *job, int64_t now_s)
{
	struct cns_error err;
	int64_t a, b;

	if (!job->schedule)
		return 0;
	/* In the job's zone, as the scheduler fires it: a daily job keeps
	 * its 23- and 25-hour days at the DST changes. */
	cns_error_clear(&err);
	if (cns_cron_next(&job->cron, job->tz, now_s, &a, &err) == 0 &&
	    cns_cron_next(&job->cron, job->tz, a, &b, &err) == 0)
		return b - a;
	return 0;
}

static char *dur(double s, char *buf, size_t size)
{
	return cns_format_duration((int64_t)(s * 1000.0 + 500) / 1000 * 1000,
				   buf, size);
}

int cns_trend_judge(const struct cns_job_conf *job, double run_s, char *buf,
		    size_t size)
{
	int64_t interval = cns_trend_interval(job, (int64_t)time(NULL));
	struct cns_run_history h;
	struct cns_error err;
	char a[32], b[32];
	size_t o;
	int shown = 0;

	buf[0] = '\0';
	if (interval <= 0)
		return 0;
	o = (size_t)snprintf(buf, size,
			     "the job needs %s of its %s interval "
			     "(%.0f%%)",
			     dur(run_s, a, sizeof(a)),
			     dur((double)interval, b, sizeof(b)),
			     100.0 * run_s / (double)interval);
	cns_error_clear(&err);
	if (cns_runlog_history(job, 50, &h, &err) == 0) {
		for (int i = h.n - 1; i >= 0 && shown < TREND_RUNS && o < size;
		     i--) {
			if (h.runs[i].status != CNS_RUN_OK ||
			    cns_run_entry_is_redrive(&h.runs[i]) ||
			    h.runs[i].duration_s < 0)
				continue;
			o += (size_t)snprintf(buf + o, size - o, "%s%s",
					      shown ? ", " : "; last runs: ",
					      dur(h.runs[i].duration_s, a,
						  sizeof(a)));
			shown++;
		}
		cns_run_history_release(&h);
	}
	return run_s > TREND_LIMIT * (double)interval;
}
