/*
 * main.c - entry point of the consolidate program: turns core dumps off,
 * finds the subcommand and hands it the rest of the command line.  Only
 * the CLI decides to exit.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "consolidate/error.h"
#include "consolidate/util.h"
#include "commands.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
	{"run", cns_cmd_run},
	{"check", cns_cmd_check},
	{"plan", cns_cmd_plan},
	{"next", cns_cmd_next},
	{"schedule", cns_cmd_schedule},
	{"crontab", cns_cmd_crontab},
	{"systemd", cns_cmd_systemd},
	{"history", cns_cmd_history},
	{"log", cns_cmd_log},
	{"status", cns_cmd_status},
	{"unlock", cns_cmd_unlock},
	{"help", cns_cmd_help},
	{"version", cns_cmd_version},
	{"--version", cns_cmd_version},
	{"-V", cns_cmd_version},
	{"--help", cns_cmd_help},
	{"-h", cns_cmd_help},
};

void cns_cli_report(const struct cns_error *err)
{
	char buf[4096];

	fprintf(stderr, "consolidate: %s\n", cns_error_format(err, buf,
							       sizeof(buf)));
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

/* A core dump would hold the job's passwords in clear (connection
 * strings, password files, the secrets set): none is written, and no
 * other process of the user may read this one's memory, unless
 * CONSOLIDATE_CORE_DUMPS=yes asks for them (to debug a crash).  Both
 * limits go to 0 so that nothing started from here raises them again. */
static void no_core_dumps(void)
{
	const char *want = getenv("CONSOLIDATE_CORE_DUMPS");
	struct rlimit none = {0, 0};

	if (want && (!strcmp(want, "1") || !cns_strcasecmp(want, "yes")))
		return;
	if (setrlimit(RLIMIT_CORE, &none) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fprintf(stderr,
			"consolidate: warning: could not turn core dumps off: "
			"%s\n",
			strerror(errno));
}

int main(int argc, char **argv)
{
	no_core_dumps();
	if (argc < 2) {
		cns_cmd_help(1, (char *[]){"help", NULL});
		return CNS_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr,
		"consolidate: unknown command \"%s\"\n"
		"Try \"consolidate help\".\n",
		argv[1]);
	return CNS_EXIT_USAGE;
}
