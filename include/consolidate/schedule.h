/*
 * schedule.h - the scheduler: job definitions for scheduling (schedule,
 * zone, overlap, catchup, jitter) and the long-running scheduler behind
 * `consolidate schedule`.  Cron expressions are in cron.h, zones in tz.h.
 */
#ifndef CONSOLIDATE_SCHEDULE_H
#define CONSOLIDATE_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consolidate/config.h"
#include "consolidate/cron.h"
#include "consolidate/error.h"
#include "consolidate/tz.h"
#include "consolidate/util.h"

/* ---- scheduled jobs ---- */

/* What the scheduler needs of one job file.  Strings are owned by the
 * definition; release with cns_sched_def_release(). */
struct cns_sched_def {
	char *file;     /* absolute path of the job file */
	char *name;     /* job name */
	char *schedule; /* as written; NULL when the job has none */
	char *zone;     /* `timezone =`; NULL: the host's zone */
	struct cns_cron cron;
	struct cns_tz *tz; /* loaded zone (the host's when zone is NULL) */
	enum cns_overlap overlap;
	enum cns_catchup catchup;
	int64_t jitter_ms;        /* `jitter =` as written */
	int64_t jitter_offset_ms; /* this job's stable delay in [0, jitter) */
};

/* Loads the job file with cns_config_load() and prepares its schedule and
 * zone.  A job without a schedule loads fine (schedule NULL).  On error
 * sets err and returns -1 with nothing to release. */
int cns_sched_def_load(const char *file, struct cns_sched_def *def,
		       struct cns_error *err);
void cns_sched_def_release(struct cns_sched_def *def);
/* True when two definitions schedule the same way. */
bool cns_sched_def_same(const struct cns_sched_def *a,
			const struct cns_sched_def *b);

/* A stable delay in [0, jitter_ms) for a job name (FNV-1a of the name), so
 * jobs that share a fire time spread out and each keeps its own slot. */
int64_t cns_sched_jitter_offset(const char *name, int64_t jitter_ms);

/* The default folder of job files. */
#define CNS_SCHED_DEFAULT_DIR "/etc/consolidate/jobs"

/* Expands command-line arguments (folders and job files; none means
 * CNS_SCHED_DEFAULT_DIR) into absolute job file paths: every *.conf file
 * of a folder, sorted, and every file named.  Each string and the array
 * are malloc'ed; free with cns_sched_files_free().  A folder or file that
 * does not exist is an error (CNS_E_IO). */
int cns_sched_list_files(char *const *args, int nargs, char ***files,
			 int *nfiles, struct cns_error *err);
void cns_sched_files_free(char **files, int nfiles);

/* Options of the scheduler. */
struct cns_scheduler_opts {
	char *const *paths; /* folders and job files, as for list_files */
	int npaths;
	int64_t grace_ms;      /* how long a stop waits for running jobs */
	const char *log_file;  /* also log here (appended), or NULL */
	const char *state_dir; /* lock and state files; NULL: job folders */
	/* The command that runs a job; NULL: this program's `run` (through
	 * /proc/self/exe), else a shell command with the job file appended
	 * as an argument (the CNS_SCHEDULE_COMMAND testing aid). */
	const char *command;
};

/* Runs the scheduler in the foreground until SIGTERM or SIGINT; see
 * daemon.c for its behaviour.  Returns 0 after a clean stop, or -1 with
 * err set when it could not start (lock held: CNS_E_LOCKED). */
int cns_scheduler_run(const struct cns_scheduler_opts *opts,
		      struct cns_error *err);

#endif
