/*
 * cmd_scrontab.c - `consolidate scrontab [--bin PATH] [DIR|FILE...]`: the
 * entries of Slurm's cron (scrontab(1)) that run each job at its
 * schedule, for sites whose batch work goes through Slurm.
 *
 * Each entry is one Slurm job that Slurm requeues for its next time:
 * `#SCRON` lines carry its options (a job name, and --time from
 * max_runtime as a backstop to the job's own watchdog), then the cron
 * fields and the command.  The fields are those of `consolidate crontab`
 * (same seconds and jitter handling).  What scrontab cannot say is said
 * in comments, and the one thing that silently changes the meaning, the
 * time zone, also on stderr: scrontab has no CRON_TZ and reads every
 * entry in the zone slurmctld runs in.  A sharded job's entry runs
 * `consolidate submit --slurm`, which plans and submits the run.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/cron.h"
#include "consolidate/schedule.h"
#include "consolidate/shard.h"
#include "cli.h"
#include "commands.h"
#include "slurm.h"

/* Appends the entry of one loaded job to out.  Returns 0, or -1 with err
 * set (and a comment in out) when cron cannot say the schedule. */
static int job_entry(const struct cns_job_conf *job, const char *bin,
		     struct cns_buf *out, struct cns_error *err)
{
	struct cns_buf line;
	int delay;
	int64_t sleep_s, limit;

	cns_buf_printf(out, "\n# %s (%s)\n", job->name, job->file);
	if (!job->schedule) {
		cns_buf_adds(out, "# no schedule: not run by scrontab\n");
		return 0;
	}
	cns_buf_init(&line);
	if (cns_cron_crontab_text(&job->cron, &line, &delay, err) < 0) {
		cns_error_at(err, job->file, 0, 0);
		cns_buf_printf(out, "# %s; use `consolidate schedule`\n",
			       err->message);
		cns_buf_release(&line);
		return -1;
	}
	if (job->timezone) {
		cns_buf_printf(out,
			       "# WARNING: this schedule is meant in %s; "
			       "scrontab reads it in the\n"
			       "# zone slurmctld runs in.  Run slurmctld with "
			       "TZ=%s, rewrite the\n"
			       "# fields for the controller's zone (right only "
			       "while both zones keep\n"
			       "# the same offset, so not across a DST change "
			       "of either), or use\n"
			       "# `consolidate schedule`, which follows %s.\n",
			       job->timezone, job->timezone, job->timezone);
	}
	if (job->overlap == CNS_OVERLAP_QUEUE)
		cns_buf_adds(out, "# overlap = queue has no scrontab "
				  "equivalent: a time that comes while the "
				  "last run\n# still runs is skipped\n");
	if (job->catchup == CNS_CATCHUP_ONCE)
		cns_buf_adds(out, "# catchup = once has no scrontab "
				  "equivalent: times missed while the "
				  "cluster was down\n# are not made up\n");
	cns_buf_adds(out, "#SCRON --job-name=");
	/* Not the name `submit` gives the runs: a scrontab entry waits in
	 * the queue between its times, and would hold back every run that
	 * uses --dependency=singleton on the same name. */
	cns_batch_job_name(out, job->name);
	cns_buf_adds(out, "-cron\n");
	limit = cns_batch_limit_s(job);
	sleep_s = delay +
		  cns_sched_jitter_offset(job->name, job->jitter_ms) / 1000;
	if (limit > 0) {
		cns_buf_adds(out, "#SCRON --time=");
		cns_batch_slurm_time(out, limit + sleep_s);
		cns_buf_addc(out, '\n');
	}
	cns_buf_printf(out, "%s ", line.data);
	if (sleep_s > 0)
		cns_buf_printf(out, "sleep %lld && ", (long long)sleep_s);
	cns_batch_sh_word(out, bin);
	/* A sharded job's entry only plans the run and submits its shards
	 * and finalize as jobs of their own, spread over the cluster. */
	if (cns_shard_enabled(job)) {
		cns_buf_adds(out, " submit ");
		cns_batch_sh_word(out, job->file);
		cns_buf_adds(out, " --slurm\n");
	} else {
		cns_buf_adds(out, " run ");
		cns_batch_sh_word(out, job->file);
		cns_buf_addc(out, '\n');
	}
	cns_buf_release(&line);
	return 0;
}

int cns_cmd_scrontab(int argc, char **argv)
{
	struct cns_error err = { 0 };
	char exe[PATH_MAX];
	const char *bin = NULL;
	char **files;
	int nfiles, c, failed = 0;
	bool zoned = false;
	struct cns_buf out;

	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'b': /* the consolidate program the entries call */
			bin = optarg;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "scrontab", NULL });
			return CNS_EXIT_OK;
		default: return cns_cli_usage("scrontab", "invalid option");
		}
	}
	if (!bin)
		bin = realpath("/proc/self/exe", exe) ? exe : "consolidate";
	if (cns_sched_list_files(argv + optind, argc - optind, &files, &nfiles,
				 &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	cns_buf_init(&out);
	cns_buf_adds(&out,
		     "# consolidate jobs, written by `consolidate scrontab`; "
		     "install with scrontab(1)\n"
		     "# (slurm.conf needs ScronParameters=enable).  scrontab "
		     "reads the times in\n"
		     "# the time zone of slurmctld, not in a job's "
		     "`timezone`.  Slurm requeues each\n"
		     "# entry for its next time, so two runs of an entry "
		     "never overlap.\n");
	for (int i = 0; i < nfiles; i++) {
		struct cns_job_conf *job;

		cns_error_clear(&err);
		if (cns_config_load(files[i], &job, &err) < 0) {
			cns_cli_report(&err);
			failed = failed ? failed
					: cns_error_exit_code(err.code);
			continue;
		}
		if (job_entry(job, bin, &out, &err) < 0) {
			cns_cli_report(&err);
			failed = failed ? failed : CNS_EXIT_CONFIG;
		} else if (job->schedule && job->timezone) {
			fprintf(stderr,
				"consolidate: warning: job \"%s\" is scheduled "
				"in %s, but scrontab fires in the zone of "
				"slurmctld\n",
				job->name, job->timezone);
			zoned = true;
		}
		cns_config_free(job);
	}
	if (zoned)
		fprintf(stderr, "HINT: run slurmctld with that TZ, or use "
				"`consolidate schedule` for these jobs\n");
	fputs(out.data, stdout);
	cns_buf_release(&out);
	cns_sched_files_free(files, nfiles);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "consolidate: could not write the output\n");
		return CNS_EXIT_FAILED;
	}
	return failed;
}
