/*
 * def.c - a job file as the scheduler sees it: its schedule, zone,
 * overlap and catch-up policies and jitter, read through the config
 * module and checked here (the config module stores the schedule as
 * text; this is where it must parse).
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
	def->zone = job->timezone && *job->timezone
			    ? cns_xstrdup(job->timezone)
			    : NULL;
	def->overlap = job->overlap;
	def->catchup = job->catchup;
	def->jitter_ms = job->jitter_ms;
	def->jitter_offset_ms =
		cns_sched_jitter_offset(def->name, def->jitter_ms);
	cns_config_free(job);

	if (def->schedule && cns_cron_parse(&def->cron, def->schedule,
					    err) < 0)
		goto fail;
	if (cns_tz_load(def->zone, &def->tz, err) < 0)
		goto fail;
	return 0;
fail:
	cns_error_at(err, file, 0, 0);
	cns_sched_def_release(def);
	return -1;
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
