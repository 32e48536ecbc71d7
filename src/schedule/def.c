/*
 * def.c - a job file as the scheduler sees it: its schedule, zone,
 * overlap and catch-up policies and jitter, read through the config
 * module, which parses the schedule and loads the zone.
 */
#include "consolidate/schedule.h"

#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s ? cns_xstrdup(s) : NULL;
}

int cns_sched_def_load(const char *file, struct cns_sched_def *def,
		       struct cns_error *err)
{
	struct cns_job_conf *job = NULL;

	memset(def, 0, sizeof(*def));
	if (cns_config_load(file, &job, err) < 0)
		return -1;
	def->file = cns_xstrdup(file);
	def->name = cns_xstrdup(job->name ? job->name : file);
	def->schedule = dup_or_null(job->schedule);
	def->zone = job->timezone && *job->timezone ? cns_xstrdup(job->timezone)
						    : NULL;
	def->overlap = job->overlap;
	def->catchup = job->catchup;
	def->jitter_ms = job->jitter_ms;
	def->jitter_offset_ms =
		cns_sched_jitter_offset(def->name, def->jitter_ms);
	/* The job parsed them when it was loaded; the zone moves over. */
	def->cron = job->cron;
	def->tz = job->tz;
	job->tz = NULL;
	cns_config_free(job);
	return 0;
}

void cns_sched_def_release(struct cns_sched_def *def)
{
	free(def->file);
	free(def->name);
	free(def->schedule);
	free(def->zone);
	cns_tz_free(def->tz);
	memset(def, 0, sizeof(*def));
}

static bool same_str(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool cns_sched_def_same(const struct cns_sched_def *a,
			const struct cns_sched_def *b)
{
	return same_str(a->name, b->name) &&
	       same_str(a->schedule ? a->cron.text : NULL,
			b->schedule ? b->cron.text : NULL) &&
	       same_str(a->zone, b->zone) && a->overlap == b->overlap &&
	       a->catchup == b->catchup && a->jitter_ms == b->jitter_ms;
}
