/*
 * cmd_schedule.c - `consolidate schedule [--grace DUR] [--log FILE]
 * [--state-dir DIR] [DIR|FILE...]`: the scheduler in the foreground (see
 * src/schedule/daemon.c for what it does and logs).
 *
 * Testing aid: $CNS_SCHEDULE_COMMAND, when set, is the shell command run
 * at each fire (through /bin/sh -c, the job file path appended as an
 * argument) instead of `consolidate run JOBFILE`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/schedule.h"
#include "cli.h"
#include "commands.h"

#define GRACE_DEFAULT_MS 30000

int cns_cmd_schedule(int argc, char **argv)
{
	struct cns_scheduler_opts opts = { 0 };
	struct cns_error err = { 0 };
	const char *cmd = getenv("CNS_SCHEDULE_COMMAND");
	int c;

	opts.grace_ms = GRACE_DEFAULT_MS;
	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'g': /* how long a stop waits for running jobs */
			if (cns_parse_duration(optarg, &opts.grace_ms, &err) <
			    0)
				return cns_cli_usage("schedule",
						     "invalid duration \"%s\" "
						     "for --grace",
						     optarg);
			break;
		case 'l': /* also log to this file */
			opts.log_file = optarg;
			break;
		case 's': /* lock and state files here, not in job folders */
			opts.state_dir = optarg;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "schedule", NULL });
			return CNS_EXIT_OK;
		default: return cns_cli_usage("schedule", "invalid option");
		}
	}
	opts.paths = argv + optind;
	opts.npaths = argc - optind;
	opts.command = cmd && *cmd ? cmd : NULL;
	if (cns_scheduler_run(&opts, &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	return CNS_EXIT_OK;
}
