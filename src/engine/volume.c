/*
 * volume.c - the volume guard's judgement: min_rows and max_change per
 * source, against the median of recent successful runs.  The judgement is
 * pure arithmetic; cns_volume_judge() only adds the reading of the
 * history.
 *
 * The median, not the mean: one odd run (a holiday, a backfill) must not
 * move the baseline that the next run is judged by.
 */
#include "consolidate/volume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/runlog.h"

static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

double cns_volume_median(const int64_t *v, int n)
{
	int64_t s[CNS_VOLUME_WINDOW * 4];
	int64_t *sorted = n <= (int)(sizeof(s) / sizeof(s[0]))
				  ? s
				  : malloc((size_t)n * sizeof(*sorted));
	double m;

	if (n <= 0 || !sorted)
		return 0;
	memcpy(sorted, v, (size_t)n * sizeof(*sorted));
	qsort(sorted, (size_t)n, sizeof(*sorted), by_value);
	if (n % 2)
		m = (double)sorted[n / 2];
	else
		m = ((double)sorted[n / 2 - 1] + (double)sorted[n / 2]) / 2;
	if (sorted != s)
		free(sorted);
	return m;
}

int cns_volume_check(const struct cns_job_conf *job, const char *source,
		     int64_t rows, const int64_t *recent, int nrecent,
		     char *why, size_t whysize)
{
	const struct cns_source_conf *s = cns_config_source(job, source);
	double median, change;
	int n;

	if (why && whysize)
		why[0] = '\0';
	if (!s)
		return 0;
	if (s->min_rows >= 0 && rows < s->min_rows) {
		if (why)
			snprintf(why, whysize,
				 "source \"%s\": %lld row%s, fewer than "
				 "min_rows = %lld",
				 source, (long long)rows, rows == 1 ? "" : "s",
				 (long long)s->min_rows);
		return 1;
	}
	n = nrecent < CNS_VOLUME_WINDOW ? nrecent : CNS_VOLUME_WINDOW;
	if (s->max_change < 0 || n < CNS_VOLUME_MIN_RUNS || !recent)
		return 0;
	median = cns_volume_median(recent, n);
	if (median <= 0)
		return 0;
	change = ((double)rows - median) / median;
	if ((change < 0 ? -change : change) <= s->max_change)
		return 0;
	if (why)
		snprintf(why, whysize,
			 "source \"%s\": %lld row%s, %.0f%% %s than the median "
			 "of the last %d successful runs (%.0f); max_change = "
			 "%g%%",
			 source, (long long)rows, rows == 1 ? "" : "s",
			 (change < 0 ? -change : change) * 100,
			 change < 0 ? "fewer" : "more", n, median,
			 s->max_change * 100);
	return 1;
}

int cns_volume_judge(const struct cns_job_conf *job, const char *source,
		     int64_t rows, char *why, size_t whysize)
{
	int64_t recent[CNS_VOLUME_WINDOW];
	int n = cns_runlog_recent_rows(job, source, recent, CNS_VOLUME_WINDOW);

	return cns_volume_check(job, source, rows, recent, n < 0 ? 0 : n, why,
				whysize);
}
