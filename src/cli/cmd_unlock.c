/*
 * cmd_unlock.c - `consolidate unlock JOB.conf`: says who holds the job's
 * lock.
 *
 * There is nothing to remove: the lock is a flock on an open file and an
 * advisory lock on a session, and both end with the process that holds
 * them, so a lock is never stale.  A person who suspects one is told who
 * holds it and how to stop that run (SIGTERM stops it cleanly).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "consolidate/config.h"
#include "consolidate/guard.h"
#include "commands.h"

int cns_cmd_unlock(int argc, char **argv)
{
	struct cns_job_conf *job = NULL;
	struct cns_lock_holder h;
	struct cns_error err;
	int held;

	if (argc == 2 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
		return cns_cmd_help(2, (char *[]){ "help", "unlock", NULL });
	if (argc != 2 || argv[1][0] == '-')
		return cns_cli_usage("unlock", "expected one job file");
	cns_error_clear(&err);
	if (cns_config_load(argv[1], &job, &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	memset(&h, 0, sizeof(h));
	held = cns_lock_holder(job, &h, &err);
	if (held < 0) {
		cns_cli_report(&err);
		cns_config_free(job);
		return cns_error_exit_code(err.code);
	}
	if (held == 0) {
		printf("job \"%s\" is not locked on this host\n", job->name);
	} else {
		char started[64] = "?";
		time_t t = (time_t)(h.started_us / 1000000);
		struct tm tm;

		if (h.started_us && gmtime_r(&t, &tm))
			strftime(started, sizeof(started),
				 "%Y-%m-%d %H:%M:%S UTC", &tm);
		printf("job \"%s\" is locked by run %s, pid %ld on host %s, "
		       "started %s\n",
		       job->name, h.run_id, h.pid, h.host, started);
		printf("The lock ends with that process; to stop the run "
		       "cleanly: kill -TERM %ld\n",
		       h.pid);
	}
	cns_config_free(job);
	return held == 1 ? CNS_EXIT_LOCKED : CNS_EXIT_OK;
}
