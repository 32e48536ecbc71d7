/*
 * cmd_report.c - `consolidate report [DIR|FILE...] [-o FILE] [--runs N]
 * [--now TIME]`: one self-contained HTML page about the jobs (see
 * htmlreport.h), for a person to look at.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "consolidate/htmlreport.h"
#include "consolidate/schedule.h"
#include "cli.h"
#include "commands.h"

int cns_cmd_report(int argc, char **argv)
{
	struct cns_htmlreport_opts o = { 0 };
	struct cns_error err;
	const char *out = "-";
	const char *now_text = getenv("CNS_NOW");
	char **files = NULL;
	int nfiles = 0, c, rc = CNS_EXIT_OK;

	o.runs = 50;
	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'o': /* the file to write, "-" for stdout */
			out = optarg;
			break;
		case 'n': /* how many runs per job */
			if (cns_cli_count("report", optarg, &o.runs))
				return CNS_EXIT_USAGE;
			break;
		case 'N': /* the current time, for tests */
			now_text = optarg;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "report", NULL });
			return CNS_EXIT_OK;
		default: return cns_cli_usage("report", "invalid option");
		}
	}
	if (cns_cli_now("report", now_text, &o.now))
		return CNS_EXIT_USAGE;
	cns_error_clear(&err);
	if (cns_sched_list_files(argv + optind, argc - optind, &files, &nfiles,
				 &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	if (nfiles == 0) {
		fprintf(stderr, "consolidate: no job files (*.conf) found\n");
		cns_sched_files_free(files, nfiles);
		return CNS_EXIT_CONFIG;
	}
	o.files = files;
	o.nfiles = nfiles;
	if (cns_htmlreport_save(&o, out, &err) < 0) {
		cns_cli_report(&err);
		rc = cns_error_exit_code(err.code);
	}
	cns_sched_files_free(files, nfiles);
	return rc;
}
