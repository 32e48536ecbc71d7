/*
 * volume.h - the volume guard: a source that suddenly delivers far fewer
 * (or far more) rows than usual is more often a broken export than a real
 * change, and loading it could empty or flood the target.
 *
 * Per source, two optional rules of the job file:
 *   min_rows   = N      fewer than N rows is a breach
 *   max_change = 50%    a row count further than 50% from the median of
 *                       the last 7 successful runs is a breach, up or down
 * The change rule judges only with at least 3 earlier runs, and not at
 * all while that median is 0 (there is no relative change from nothing).
 * What a breach does (warn or fail before the target changes) is the
 * job's on_volume_anomaly; this module only judges.
 */
#ifndef CONSOLIDATE_VOLUME_H
#define CONSOLIDATE_VOLUME_H

#include <stddef.h>
#include <stdint.h>

#include "consolidate/config.h"

/* Runs the change rule looks back on, and the fewest it judges with. */
#define CNS_VOLUME_WINDOW 7
#define CNS_VOLUME_MIN_RUNS 3

/* Judges `rows` read from `source` this run against the source's rules.
 * recent holds the row counts of earlier successful runs, newest first
 * (as cns_runlog_recent_rows() returns them); only the first
 * CNS_VOLUME_WINDOW count.  Returns 0 when the count is acceptable (also
 * for an unknown source or one without rules), 1 on a breach with a
 * sentence for a person in why ("source \"erp\": 12 rows, fewer than
 * min_rows = 1000"). */
int cns_volume_check(const struct cns_job_conf *job, const char *source,
		     int64_t rows, const int64_t *recent, int nrecent,
		     char *why, size_t whysize);

/* The same judgement with the recent counts read from the job's
 * runs.jsonl (cns_runlog_recent_rows()); when the history cannot be read
 * only min_rows judges. */
int cns_volume_judge(const struct cns_job_conf *job, const char *source,
		     int64_t rows, char *why, size_t whysize);

/* The median of n counts (the mean of the middle two for even n); 0 when
 * n is 0.  Does not change v. */
double cns_volume_median(const int64_t *v, int n);

#endif
