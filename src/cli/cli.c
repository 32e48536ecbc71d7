/*
 * cli.c - the one table of commands and options (see cli.h), the option
 * parser generated from it, and the help printed from it.
 *
 * The text here is the short form of consolidate(1); test_man_cli checks
 * that both name the same commands and options.
 */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/error.h"
#include "consolidate/tz.h"
#include "consolidate/util.h"
#include "commands.h"

/* An option's val is its short letter, or for a long-only option a
 * letter that is not in the option string, so each command's switch reads
 * the same either way. */
static const struct cns_cli_option run_opts[] = {
	{ "source", 's', 's', "NAME",
	  "run only this source (replace mode: the\n"
	  "target is not swapped)" },
	{ "full-refresh", 0, 'F', NULL,
	  "forget the watermarks of incremental\n"
	  "sources (with -s, of that source) and\n"
	  "read everything again" },
	{ "range", 0, 'r', "FROM..TO",
	  "upsert: re-read the rows of incremental\n"
	  "sources whose incremental column is\n"
	  "from FROM to TO (both included); the\n"
	  "watermarks stay" },
	{ "wait", 0, 'w', "DURATION",
	  "wait this long for the job's lock\n"
	  "instead of exiting 75 at once" },
	{ "max-runtime", 0, 'R', "D",
	  "override the job's max_runtime\n(0: keep it)" },
	{ "stall-timeout", 0, 'T', "D",
	  "override the job's stall_timeout\n(0: keep it)" },
	{ "progress", 0, 'p', NULL,
	  "show the progress line also when stderr\n"
	  "is not a terminal" },
	{ "no-progress", 0, 'P', NULL, "never show the progress line" },
	{ "summary", 0, 'S', NULL,
	  "print the summary table also when stderr\n"
	  "is not a terminal" },
	{ "quiet", 'q', 'q', NULL, "print nothing but errors" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option offline_opts[] = {
	{ "offline", 0, 'o', NULL, "connect to nothing" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option plan_opts[] = {
	{ "offline", 0, 'o', NULL, "connect to nothing" },
	{ "range", 0, 'r', "FROM..TO", "show the extraction of run --range" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option next_opts[] = {
	{ "from", 'f', 'f', "TIME", "times strictly after TIME (default now)" },
	{ "count", 'n', 'n', "N", "how many, 1-100000 (default 5)" },
	{ "tz", 'z', 'z', "ZONE", "read the schedule in this zone" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option schedule_opts[] = {
	{ "grace", 'g', 'g', "D",
	  "how long a stop waits for running jobs\n"
	  "before SIGTERM, then SIGKILL\n"
	  "(default 30s)" },
	{ "log", 'l', 'l', "FILE", "also append the log lines to FILE" },
	{ "state-dir", 's', 's', "DIR",
	  "keep the lock and state files in DIR" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option bin_opts[] = {
	{ "bin", 'b', 'b', "PATH",
	  "the program the lines run (default: this\none)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option systemd_opts[] = {
	{ "bin", 'b', 'b', "PATH",
	  "the program ExecStart= runs (default:\nthis one)" },
	{ "output-dir", 'o', 'o', "DIR",
	  "write the two units into DIR instead" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option k8s_opts[] = {
	{ "image", 'i', 'i', "IMAGE",
	  "the container image holding consolidate\n"
	  "and the job file (default\n"
	  "consolidate:VERSION)" },
	{ "namespace", 'n', 'n', "NS", "the namespace (default: default)" },
	{ "bin", 'b', 'b', "PATH",
	  "the program in the image (default:\n"
	  "consolidate)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option submit_opts[] = {
	{ "bin", 'b', 'b', "PATH",
	  "the program the Slurm jobs run (default:\n"
	  "this one)" },
	{ "slurm", 0, 'S', NULL,
	  "submit to Slurm; every argument after it\n"
	  "is an sbatch option for every job" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option history_opts[] = {
	{ "limit", 'n', 'n', "N", "how many runs (default 20)" },
	{ "json", 0, 'j', NULL, "the records as stored, oldest first" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option log_opts[] = {
	{ "follow", 'f', 'f', NULL, "keep printing until the run ends" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option status_opts[] = {
	{ "json", 0, 'j', NULL, "one JSON document instead of the table" },
	{ "now", 0, 'N', "TIME", "judge as of TIME (also $CNS_NOW)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option report_opts[] = {
	{ "output", 'o', 'o', "FILE",
	  "write the page to FILE (default: stdout)" },
	{ "runs", 'n', 'n', "N", "how many of each job's runs (default 50)" },
	{ "now", 0, 'N', "TIME", "judge as of TIME (also $CNS_NOW)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option shard_opts[] = {
	{ "plan", 0, 'p', NULL,
	  "only plan the run (or find the unfinished one):\n"
	  "print its id and its number of shards" },
	{ "hold", 0, 'H', NULL,
	  "with --plan: stay, the snapshots open, until the\n"
	  "run is merged (or SIGTERM)" },
	{ "run", 0, 'r', "ID", "the run planned by --plan" },
	{ "shard", 0, 'n', "N", "the shard to read, 0 to NSHARDS-1" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option finalize_opts[] = {
	{ "run", 0, 'r', "ID", "the run planned by shard --plan" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_option no_opts[] = {
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cns_cli_command commands[] = {
	{ "run", cns_cmd_run, "JOB.conf [options]",
	  "Runs the job once: extracts every source, transforms the rows into\n"
	  "the target schema and loads them in committed chunks.\n",
	  run_opts,
	  "On a terminal it shows progress and a summary; under cron it prints\n"
	  "nothing when the run succeeds.  SIGTERM or SIGINT stops it cleanly\n"
	  "(exit 5); a second SIGINT stops it at once.\n",
	  0 },
	{ "check", cns_cmd_check, "JOB.conf [--offline]",
	  "Parses the job and its transform file, connects to every source and\n"
	  "the target, and checks each mapping against the live columns,\n"
	  "moving no data.  Warns about schedules that do not do what they\n"
	  "seem to.  Reports every problem it finds (exit 1; 3 when a file\n"
	  "does not parse).\n",
	  offline_opts, NULL, 0 },
	{ "plan", cns_cmd_plan, "JOB.conf [--offline] [--range FROM..TO]",
	  "Prints per source the extraction (SQL or files) and the compiled\n"
	  "mapping, then the target table's DDL.  With --offline it shows no\n"
	  "mappings.\n",
	  plan_opts, NULL, 0 },
	{ "next", cns_cmd_next,
	  "JOB.conf|'EXPR' [--from TIME] [--count N] "
	  "[--tz ZONE]",
	  "Prints the next fire times of a schedule, one ISO 8601 time with\n"
	  "its offset a line, in the job's zone (or the host's).\n",
	  next_opts,
	  "Warnings about schedules that do not do what they seem to go to\n"
	  "stderr.\n",
	  0 },
	{ "schedule", cns_cmd_schedule,
	  "[DIR|FILE...] [--grace D] [--log FILE] [--state-dir DIR]",
	  "Runs in the foreground and fires each job of the folders (default\n"
	  "/etc/consolidate/jobs) and files at its schedule, each run a\n"
	  "`consolidate run` child.\n",
	  schedule_opts,
	  "SIGHUP reloads the job files; SIGTERM stops launching and waits for\n"
	  "the running jobs.  Exit 75 when another scheduler owns a folder.\n",
	  0 },
	{ "crontab", cns_cmd_crontab, "[DIR|FILE...] [--bin PATH]",
	  "Prints crontab lines (with CRON_TZ) that run each job of the\n"
	  "folders (default /etc/consolidate/jobs) and files at its\n"
	  "schedule.\n",
	  bin_opts, NULL, 0 },
	{ "scrontab", cns_cmd_scrontab, "[DIR|FILE...] [--bin PATH]",
	  "Prints Slurm scrontab entries (#SCRON options, cron fields) that\n"
	  "run each job of the folders (default /etc/consolidate/jobs) and\n"
	  "files at its schedule.\n",
	  bin_opts,
	  "scrontab reads the times in the zone of slurmctld: a job whose\n"
	  "timezone differs gets a warning.\n",
	  0 },
	{ "submit", cns_cmd_submit,
	  "JOB.conf [--bin PATH] --slurm [SBATCH-OPTION...]",
	  "Plans one run of the job and submits it to Slurm: a holder that\n"
	  "keeps the run's snapshots open until it is merged, its shards as\n"
	  "a job array (parallel_shards at a time) that starts with it, then\n"
	  "a finalize job that depends on the array (afterany) and checks\n"
	  "every shard.  A job without shards is submitted as one\n"
	  "`consolidate run`.  Prints the run and the Slurm job ids.\n",
	  submit_opts,
	  "Every job gets --job-name=consolidate-NAME (the holder\n"
	  "consolidate-NAME.hold), --dependency=singleton\n"
	  "(runs never overlap) and --time from max_runtime; sbatch options\n"
	  "given after --slurm come later and win.\n",
	  0 },
	{ "k8s", cns_cmd_k8s,
	  "JOB.conf [--image IMAGE] [--namespace NS] "
	  "[--bin PATH]",
	  "Prints the Kubernetes objects (YAML) that run the job at its\n"
	  "schedule: a CronJob; for a sharded job its pod plans the run and\n"
	  "creates an Indexed Job of the shards, then a finalize Job.\n",
	  k8s_opts, NULL, 0 },
	{ "systemd", cns_cmd_systemd,
	  "JOB.conf [--bin PATH] [--output-dir DIR]",
	  "Prints a systemd .service and .timer pair for the job.\n",
	  systemd_opts, NULL, 0 },
	{ "history", cns_cmd_history, "JOB.conf [-n N] [--json]",
	  "Shows the job's recent runs, newest first: start, duration, status,\n"
	  "rows per source, rejects, and the error of failed runs.\n",
	  history_opts, NULL, 0 },
	{ "log", cns_cmd_log, "JOB.conf [RUN|last|last-failed] [--follow]",
	  "Prints the log of one run (default: the last); RUN is a run id or a\n"
	  "unique prefix of one.\n",
	  log_opts, NULL, 0 },
	{ "status", cns_cmd_status, "[DIR|FILE...] [--json] [--now TIME]",
	  "Shows per job of the folders (default /etc/consolidate/jobs) and\n"
	  "files the last run, the last success, the next fire time and a\n"
	  "verdict (ok, failing, late, never, error).  The exit code follows\n"
	  "the Nagios convention: 0 ok, 1 warning, 2 critical, 3 unknown.\n",
	  status_opts, NULL, 0 },
	{ "report", cns_cmd_report, "[DIR|FILE...] [-o FILE] [--runs N]",
	  "Writes one self-contained HTML page about the jobs of the folders\n"
	  "(default /etc/consolidate/jobs) and files: the verdicts of status,\n"
	  "then per job its last runs as charts (duration against the\n"
	  "schedule's interval, rows per source, rejects) and its failures.\n",
	  report_opts, NULL, 0 },
	{ "redrive", cns_cmd_redrive, "JOB.conf RUN|last",
	  "Runs the rejected rows of a run (RUN, or the last run that left a\n"
	  "rejects file) through the current transform, loads those that now\n"
	  "pass, and writes those that still fail to a new rejects file.  A\n"
	  "rejects file is re-driven once; a second redrive of it is refused\n"
	  "(exit 1).\n",
	  no_opts, NULL, 0 },
	{ "unlock", cns_cmd_unlock, "JOB.conf",
	  "Shows who holds the job's lock file (exit 75 while it is held).\n"
	  "Locks end with their process, so there is never a stale lock to\n"
	  "remove.\n",
	  no_opts, NULL, 0 },
	{ "shard", cns_cmd_shard,
	  "JOB.conf --plan [--hold] | JOB.conf --run ID --shard N",
	  "The steps of a sharded run (sources with shards > 1) for a\n"
	  "scheduler that runs them apart: --plan plans the run once and\n"
	  "prints \"RUN_ID NSHARDS\"; --run and --shard read one shard into\n"
	  "the run's staging table.\n",
	  shard_opts,
	  "Each step may run again after it was killed.  Exit 75 when\n"
	  "another run holds the job's lock.\n",
	  0 },
	{ "finalize", cns_cmd_finalize, "JOB.conf --run ID",
	  "Checks that every shard of the run is done and merges the run\n"
	  "into the target in one transaction (once: a merged run exits 0).\n",
	  finalize_opts, NULL, 0 },
	{ "help", cns_cmd_help, "[COMMAND|keys]",
	  "Shows help for a command, or every job-file key with \"keys\".\n",
	  no_opts, NULL, 0 },
	{ "version", cns_cmd_version, "",
	  "Prints the version and the versions of the libraries in use.\n",
	  no_opts, NULL, 0 },
	{ "--version", cns_cmd_version, "", NULL, no_opts, NULL, 1 },
	{ "-V", cns_cmd_version, "", NULL, no_opts, NULL, 1 },
	{ "--help", cns_cmd_help, "", NULL, no_opts, NULL, 1 },
	{ "-h", cns_cmd_help, "", NULL, no_opts, NULL, 1 },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void cns_cli_on_stop_signals(void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

const struct cns_cli_command *cns_cli_commands(size_t *n)
{
	*n = NCOMMANDS;
	return commands;
}

const struct cns_cli_command *cns_cli_find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* The most options a command has, plus --help and the terminator. */
#define MAX_OPTS 16

int cns_cli_getopt(int argc, char **argv)
{
	/* Built again on each call: a command calls this in its own loop,
	 * and building is cheaper than keeping a cache right. */
	const struct cns_cli_command *c = cns_cli_find(argv[0]);
	struct option longopts[MAX_OPTS + 2];
	char shorts[2 * MAX_OPTS + 2];
	size_t n = 0, s = 0;

	if (c) {
		for (const struct cns_cli_option *o = c->options;
		     o->name && n < MAX_OPTS; o++, n++) {
			longopts[n] =
				(struct option){ o->name,
						 o->arg ? required_argument
							: no_argument,
						 NULL, o->val };
			if (o->letter) {
				shorts[s++] = o->letter;
				if (o->arg)
					shorts[s++] = ':';
			}
		}
	}
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	shorts[s++] = 'h';
	shorts[s] = '\0';
	return getopt_long(argc, argv, shorts, longopts, NULL);
}

/* One option's help lines: "  -s, --source NAME        text", the text
 * in a column, its continuation lines under it. */
static void print_option(const struct cns_cli_option *o, FILE *out)
{
	char head[64];
	const char *doc = o->doc;
	int w;

	if (o->letter)
		w = snprintf(head, sizeof(head), "  -%c, --%s%s%s", o->letter,
			     o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	else
		w = snprintf(head, sizeof(head), "      --%s%s%s", o->name,
			     o->arg ? " " : "", o->arg ? o->arg : "");
	fputs(head, out);
	if (w >= 27)
		fprintf(out, "\n%27s", "");
	else
		fprintf(out, "%*s", 27 - w, "");
	while (*doc) {
		size_t len = strcspn(doc, "\n");

		fprintf(out, "%.*s\n", (int)len, doc);
		doc += len;
		if (*doc == '\n' && *++doc)
			fprintf(out, "%27s", "");
	}
}

void cns_cli_print_help(const struct cns_cli_command *c, FILE *out)
{
	fprintf(out, "Usage: consolidate %s%s%s\n\n%s", c->name,
		c->synopsis[0] ? " " : "", c->synopsis, c->text);
	for (const struct cns_cli_option *o = c->options; o->name; o++)
		print_option(o, out);
	if (c->notes)
		fputs(c->notes, out);
}

void cns_cli_print_usage(FILE *out)
{
	fprintf(out, "consolidate - scheduled data consolidation into "
		     "PostgreSQL\n\nUsage:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!commands[i].hidden)
			fprintf(out, "  consolidate %s%s%s\n", commands[i].name,
				commands[i].synopsis[0] ? " " : "",
				commands[i].synopsis);
	fprintf(out,
		"\nExit codes: 0 success, 1 run failed, 2 bad usage, 3 bad "
		"configuration,\n4 stopped by the watchdog, 5 cancelled by "
		"a signal, 75 an earlier run holds the lock.\n"
		"status exits 0 ok, 1 warning, 2 critical, 3 unknown.\n"
		"\"consolidate help COMMAND\" for more; man consolidate, "
		"consolidate.conf(5),\nconsolidate-transforms(7).\n");
}

void cns_cli_report(const struct cns_error *err)
{
	char buf[4096];

	fprintf(stderr, "consolidate: %s\n",
		cns_error_format(err, buf, sizeof(buf)));
}

int cns_cli_usage(const char *command, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "consolidate %s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry \"consolidate help %s\".\n", command);
	return CNS_EXIT_USAGE;
}

int cns_cli_count(const char *command, const char *text, int *n)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (*end || end == text || v < 1 || v > 100000)
		return cns_cli_usage(command,
				     "invalid count \"%s\": expected a number "
				     "from 1 to 100000",
				     text);
	*n = (int)v;
	return 0;
}

int cns_cli_now(const char *command, const char *text, int64_t *now)
{
	struct cns_error err;

	if (!text) {
		*now = cns_wall_us() / 1000000;
		return 0;
	}
	cns_error_clear(&err);
	if (cns_time_parse(text, NULL, now, &err) < 0)
		return cns_cli_usage(command,
				     "invalid time \"%s\": expected ISO 8601 "
				     "such as 2026-11-22T03:15:00Z",
				     text);
	return 0;
}
