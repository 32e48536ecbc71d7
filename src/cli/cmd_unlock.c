/*
 * cmd_unlock.c - `consolidate unlock`: not built yet; says so plainly.
 */
#include <stdio.h>

#include "consolidate/error.h"
#include "commands.h"

int cns_cmd_unlock(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "consolidate: the \"unlock\" command is not available in "
			"this version\n");
	return CNS_EXIT_USAGE;
}
