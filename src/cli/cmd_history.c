/*
 * cmd_history.c - `consolidate history`: not built yet; says so plainly.
 */
#include <stdio.h>

#include "consolidate/error.h"
#include "commands.h"

int cns_cmd_history(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "consolidate: the \"history\" command is not available in "
			"this version\n");
	return CNS_EXIT_USAGE;
}
