/*
 * status.h - monitoring verdicts: what `consolidate status` and
 * `consolidate report` say of a job, from its file, its run records and
 * its running marker.
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
 */
#ifndef CONSOLIDATE_STATUS_H
#define CONSOLIDATE_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "consolidate/runlog.h"
#include "consolidate/util.h"

enum cns_verdict {
	CNS_VERDICT_OK,
	CNS_VERDICT_LATE,
	CNS_VERDICT_NEVER,
	CNS_VERDICT_FAILING,
	CNS_VERDICT_ERROR,
};
#define CNS_NVERDICTS (CNS_VERDICT_ERROR + 1)

/* Monitoring-plugin exit codes (Nagios, Icinga, Sensu). */
enum cns_monitor_code {
	CNS_MONITOR_OK = 0,
	CNS_MONITOR_WARNING = 1,
	CNS_MONITOR_CRITICAL = 2,
	CNS_MONITOR_UNKNOWN = 3,
};

const char *cns_verdict_name(enum cns_verdict v);
/* The monitoring code of a verdict: warning for late and never,
 * critical for failing, unknown for error. */
enum cns_monitor_code cns_verdict_code(enum cns_verdict v);
/* The worse of two codes: critical above unknown above warning. */
enum cns_monitor_code cns_monitor_worse(enum cns_monitor_code a,
					enum cns_monitor_code b);

/* What is known of one job.  Release with cns_job_status_release(). */
struct cns_job_status {
	const char *file; /* as given, not owned */
	char name[256];
	enum cns_verdict verdict;
	struct cns_buf why; /* the reason for any verdict but ok */

	bool has_last;
	char last_id[64];
	enum cns_run_status last;
	char last_status[32];               /* its name as recorded */
	int64_t last_start_us, last_end_us; /* -1: unknown */
	int64_t success_us;                 /* end of the last success, -1 */
	int64_t next_s;                     /* -1: no schedule */
	bool running;
	char running_id[64];
	int64_t running_since_us;
};

/* Judges the job of `file` as of `now` (seconds since the epoch).  Never
 * fails: a file that cannot be read is the verdict "error", with why. */
void cns_status_judge(const char *file, int64_t now, struct cns_job_status *js);
void cns_job_status_release(struct cns_job_status *js);

#endif
