/*
 * cmd_help.c - `consolidate help [COMMAND|keys]` and `consolidate version`.
 *
 * The text here is the short form of consolidate(1); keep the two in step.
 */
#include <csv.h>
#include <ini.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "consolidate/config.h"
#include "commands.h"

#ifndef CNS_UNIXODBC_VERSION
#define CNS_UNIXODBC_VERSION "?"
#endif
#ifndef CNS_INIH_VERSION
#define CNS_INIH_VERSION "?"
#endif

struct help {
	const char *name;
	const char *synopsis;
	const char *text;
};

static const struct help helps[] = {
	{"run", "consolidate run JOB.conf [options]",
	 "Runs the job once: extracts every source, transforms the rows into\n"
	 "the target schema and loads them in committed chunks.\n"
	 "  -s, --source NAME        run only this source (replace mode: the\n"
	 "                           target is not swapped)\n"
	 "      --full-refresh       forget the watermarks of incremental\n"
	 "                           sources (with -s, of that source) and\n"
	 "                           read everything again\n"
	 "      --wait DURATION      wait this long for the job's lock\n"
	 "                           instead of exiting 75 at once\n"
	 "      --max-runtime D      override the job's max_runtime\n"
	 "                           (0: keep it)\n"
	 "      --stall-timeout D    override the job's stall_timeout\n"
	 "                           (0: keep it)\n"
	 "      --progress           show the progress line also when stderr\n"
	 "                           is not a terminal (--no-progress: never)\n"
	 "      --summary            print the summary table also when stderr\n"
	 "                           is not a terminal\n"
	 "  -q, --quiet              print nothing but errors\n"
	 "On a terminal it shows progress and a summary; under cron it prints\n"
	 "nothing when the run succeeds.  SIGTERM or SIGINT stops it cleanly\n"
	 "(exit 5); a second SIGINT stops it at once.\n"},
	{"check", "consolidate check JOB.conf [--offline]",
	 "Parses the job and its transform file, connects to every source and\n"
	 "the target, and checks each mapping against the live columns,\n"
	 "moving no data.  Warns about schedules that do not do what they\n"
	 "seem to.  Reports every problem it finds (exit 1; 3 when a file\n"
	 "does not parse).  --offline skips the connections.\n"},
	{"plan", "consolidate plan JOB.conf [--offline]",
	 "Prints per source the extraction (SQL or files) and the compiled\n"
	 "mapping, then the target table's DDL.  --offline connects to\n"
	 "nothing and so shows no mappings.\n"},
	{"next", "consolidate next JOB.conf|'EXPR' [--from TIME] [--count N] "
		 "[--tz ZONE]",
	 "Prints the next fire times of a schedule, one ISO 8601 time with\n"
	 "its offset a line, in the job's zone (or the host's).\n"
	 "  -f, --from TIME          times strictly after TIME (default now)\n"
	 "  -n, --count N            how many, 1-100000 (default 5)\n"
	 "  -z, --tz ZONE            read the schedule in this zone\n"
	 "Warnings about schedules that do not do what they seem to go to\n"
	 "stderr.\n"},
	{"schedule",
	 "consolidate schedule [DIR|FILE...] [--grace D] [--log FILE] "
	 "[--state-dir DIR]",
	 "Runs in the foreground and fires each job of the folders (default\n"
	 "/etc/consolidate/jobs) and files at its schedule, each run a\n"
	 "`consolidate run` child.\n"
	 "  -g, --grace D            how long a stop waits for running jobs\n"
	 "                           before SIGTERM, then SIGKILL\n"
	 "                           (default 30s)\n"
	 "  -l, --log FILE           also append the log lines to FILE\n"
	 "  -s, --state-dir DIR      keep the lock and state files in DIR\n"
	 "SIGHUP reloads the job files; SIGTERM stops launching and waits for\n"
	 "the running jobs.  Exit 75 when another scheduler owns a folder.\n"},
	{"crontab", "consolidate crontab [DIR|FILE...] [--bin PATH]",
	 "Prints crontab lines (with CRON_TZ) that run each job of the\n"
	 "folders (default /etc/consolidate/jobs) and files at its\n"
	 "schedule.\n"
	 "  -b, --bin PATH           the program the lines run (default: this\n"
	 "                           one)\n"},
	{"systemd", "consolidate systemd JOB.conf [--bin PATH] "
		    "[--output-dir DIR]",
	 "Prints a systemd .service and .timer pair for the job.\n"
	 "  -b, --bin PATH           the program ExecStart= runs (default:\n"
	 "                           this one)\n"
	 "  -o, --output-dir DIR     write the two units into DIR instead\n"},
	{"history", "consolidate history JOB.conf [-n N] [--json]",
	 "Shows the job's recent runs, newest first: start, duration, status,\n"
	 "rows per source, rejects, and the error of failed runs.\n"
	 "  -n, --limit N            how many runs (default 20)\n"
	 "      --json               the records as stored, oldest first\n"},
	{"log", "consolidate log JOB.conf [RUN|last|last-failed] [--follow]",
	 "Prints the log of one run (default: the last); RUN is a run id or a\n"
	 "unique prefix of one.\n"
	 "  -f, --follow             keep printing until the run ends\n"},
	{"status", "consolidate status [DIR|FILE...] [--json] [--now TIME]",
	 "Shows per job of the folders (default /etc/consolidate/jobs) and\n"
	 "files the last run, the last success, the next fire time and a\n"
	 "verdict (ok, failing, late, never, error).  The exit code follows\n"
	 "the Nagios convention: 0 ok, 1 warning, 2 critical, 3 unknown.\n"
	 "      --json               one JSON document instead of the table\n"
	 "      --now TIME           judge as of TIME (also $CNS_NOW)\n"},
	{"unlock", "consolidate unlock JOB.conf",
	 "Shows who holds the job's lock file (exit 75 while it is held).\n"
	 "Locks end with their process, so there is never a stale lock to\n"
	 "remove.\n"},
	{"help", "consolidate help [COMMAND|keys]",
	 "Shows help for a command, or every job-file key with \"keys\".\n"},
	{"version", "consolidate version",
	 "Prints the version and the versions of the libraries in use.\n"},
};

static void usage_all(FILE *out)
{
	fprintf(out, "consolidate - scheduled data consolidation into "
		     "PostgreSQL\n\nUsage:\n");
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		fprintf(out, "  %s\n", helps[i].synopsis);
	fprintf(out,
		"\nExit codes: 0 success, 1 run failed, 2 bad usage, 3 bad "
		"configuration,\n4 stopped by the watchdog, 5 cancelled by "
		"a signal, 75 an earlier run holds the lock.\n"
		"status exits 0 ok, 1 warning, 2 critical, 3 unknown.\n"
		"\"consolidate help COMMAND\" for more; man consolidate, "
		"consolidate.conf(5),\nconsolidate-transforms(7).\n");
}

int cns_cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		usage_all(stdout);
		return CNS_EXIT_OK;
	}
	if (strcmp(argv[1], "keys") == 0) {
		cns_config_print_keys(stdout);
		return CNS_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		if (strcmp(argv[1], helps[i].name) == 0) {
			printf("Usage: %s\n\n%s", helps[i].synopsis,
			       helps[i].text);
			return CNS_EXIT_OK;
		}
	}
	fprintf(stderr, "consolidate: no help for \"%s\"\n", argv[1]);
	usage_all(stderr);
	return CNS_EXIT_USAGE;
}

int cns_cmd_version(int argc, char **argv)
{
	int pq = PQlibVersion();

	(void)argc;
	(void)argv;
	printf("consolidate %s\n", CNS_VERSION);
	printf("libpq %d.%d, zlib %s, libcsv %d.%d.%d\n", pq / 10000,
	       pq % 10000, zlibVersion(), CSV_MAJOR, CSV_MINOR, CSV_RELEASE);
	/* Neither library reports its version at run time in a form a
	 * person reads, so these are the versions it was built against. */
	printf("unixODBC %s, inih r%s (built with)\n", CNS_UNIXODBC_VERSION,
	       CNS_INIH_VERSION);
	return CNS_EXIT_OK;
}
