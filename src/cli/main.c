/*
 * main.c - entry point of the consolidate program: finds the subcommand and
 * hands it the rest of the command line.  Only the CLI decides to exit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "consolidate/error.h"
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

int main(int argc, char **argv)
{
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
