/*
 * cmd_help.c - `consolidate help [COMMAND|keys]` and `consolidate version`.
 *
 * The help text itself lives in the command table (cli.c).
 */
#include <csv.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "consolidate/config.h"
#include "cli.h"
#include "commands.h"

#ifndef CNS_UNIXODBC_VERSION
#define CNS_UNIXODBC_VERSION "?"
#endif

int cns_cmd_help(int argc, char **argv)
{
	const struct cns_cli_command *c;

	if (argc < 2) {
		cns_cli_print_usage(stdout);
		return CNS_EXIT_OK;
	}
	if (strcmp(argv[1], "keys") == 0) {
		cns_config_print_keys(stdout);
		return CNS_EXIT_OK;
	}
	c = cns_cli_find(argv[1]);
	if (c && !c->hidden) {
		cns_cli_print_help(c, stdout);
		return CNS_EXIT_OK;
	}
	fprintf(stderr, "consolidate: no help for \"%s\"\n", argv[1]);
	cns_cli_print_usage(stderr);
	return CNS_EXIT_USAGE;
}

int cns_cmd_version(int argc, char **argv)
{
	int pq = PQlibVersion();

	(void)argc;
	(void)argv;
	printf("consolidate %s\n", CNS_VERSION);
	printf("libpq %d.%d, zlib %s, libcsv %d.%d.%d, jansson %s\n",
	       pq / 10000, pq % 10000, zlibVersion(), CSV_MAJOR, CSV_MINOR,
	       CSV_RELEASE, jansson_version_str());
	/* unixODBC reports no version of its own at run time, only the ODBC
	 * version it implements, so this is the one it was built with. */
	printf("unixODBC %s (built with)\n", CNS_UNIXODBC_VERSION);
	return CNS_EXIT_OK;
}
