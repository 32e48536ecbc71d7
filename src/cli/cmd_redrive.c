/*
 * cmd_redrive.c - `consolidate redrive JOB.conf RUN|last`: loads the
 * rejected rows of a run that the current transform now accepts (see
 * redrive.h), and says what became of them.
 */
#include <stdio.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/redrive.h"
#include "commands.h"

int cns_cmd_redrive(int argc, char **argv)
{
	struct cns_job_conf *job = NULL;
	struct cns_redrive_options opt = { 0 };
	struct cns_redrive_result res;
	struct cns_error err;
	int rc;

	if (argc >= 2 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
		return cns_cmd_help(2, (char *[]){ "help", "redrive", NULL });
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
		return cns_cli_usage("redrive",
				     "expected a job file and a run id or "
				     "\"last\"");
	cns_error_clear(&err);
	if (cns_config_load(argv[1], &job, &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	opt.which = argv[2];
	rc = cns_redrive(job, &opt, &res, &err);
	if (rc < 0) {
		cns_cli_report(&err);
		if (res.log_path[0])
			fprintf(stderr, "consolidate: run %s, log %s\n",
				res.run_id, res.log_path);
		cns_config_free(job);
		/* Re-driven before: a refusal, not a usage error. */
		return res.already ? CNS_EXIT_FAILED
				   : cns_error_exit_code(err.code);
	}
	printf("run %s re-drove %lld row%s of run %s: %lld loaded, %lld "
	       "filtered, %lld still failing\n",
	       res.run_id, (long long)res.rows, res.rows == 1 ? "" : "s",
	       res.rejects_run, (long long)res.loaded, (long long)res.filtered,
	       (long long)res.failing);
	if (res.new_rejects[0])
		printf("rows that still fail: %s\n", res.new_rejects);
	cns_config_free(job);
	return CNS_EXIT_OK;
}
