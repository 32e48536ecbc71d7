/*
 * trend.h - is a job outgrowing its schedule?  The warning people wish
 * they had had before their runs started to overlap: a run that used more
 * than 80% of its schedule's interval.
 */
#ifndef CONSOLIDATE_TREND_H
#define CONSOLIDATE_TREND_H

#include <stddef.h>
#include <stdint.h>

#include "consolidate/config.h"

/* The interval between the job's next two fire times after now_s (UTC
 * seconds), in seconds; 0 when the job has no usable schedule. */
int64_t cns_trend_interval(const struct cns_job_conf *job, int64_t now_s);

/* Judges a run of run_s seconds against the interval: returns 1 and
 * writes a sentence such as "the job needs 9m of its 10m interval (90%);
 * last runs: 8m40s, 8m55s" when it used more than 80% of it, else 0 (buf
 * then holds a short summary, or is empty without a schedule).  The last
 * runs come from runs.jsonl. */
int cns_trend_judge(const struct cns_job_conf *job, double run_s, char *buf,
		    size_t size);

#endif
