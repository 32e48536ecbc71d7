/*
 * main.c - entry point of the consolidate program: turns core dumps off,
 * finds the subcommand in the command table (cli.c) and hands it the rest
 * of the command line.  Only the CLI decides to exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "consolidate/error.h"
#include "consolidate/util.h"
#include "cli.h"
#include "commands.h"

/* A core dump would hold the job's passwords in clear (connection
 * strings, password files, the secrets set): none is written, and no
 * other process of the user may read this one's memory, unless
 * CONSOLIDATE_CORE_DUMPS=yes asks for them (to debug a crash).  Both
 * limits go to 0 so that nothing started from here raises them again. */
static void no_core_dumps(void)
{
	const char *want = getenv("CONSOLIDATE_CORE_DUMPS");
	struct rlimit none = { 0, 0 };

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
	const struct cns_cli_command *c;

	no_core_dumps();
	if (argc < 2) {
		cns_cmd_help(1, (char *[]){ "help", NULL });
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
