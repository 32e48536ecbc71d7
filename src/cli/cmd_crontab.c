/*
 * cmd_crontab.c - `consolidate crontab`: not built yet; says so plainly.
 */
#include <stdio.h>

#include "consolidate/error.h"
#include "commands.h"

int cns_cmd_crontab(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "consolidate: the \"crontab\" command is not available in "
			"this version\n");
	return CNS_EXIT_USAGE;
}
