/*
 * main.c - entry point of the consolidate program: finds the subcommand and
 * hands it the rest of the command line.  Only the CLI decides to exit.
 */
#include <stdio.h>
#include <string.h>

#include "consolidate/error.h"
#include "cli.h"
#include "commands.h"

int main(int argc, char **argv)
{
	const struct cns_cli_command *c;

	if (argc < 2) {
		cns_cmd_help(1, (char *[]){"help", NULL});
		return CNS_EXIT_USAGE;
	}
	c = cns_cli_find(argv[1]);
	if (c)
		return c->fn(argc - 1, argv + 1);
	fprintf(stderr,
		"consolidate: unknown command \"%s\"\n"
		"Try \"consolidate help\".\n",
		argv[1]);
	return CNS_EXIT_USAGE;
}
