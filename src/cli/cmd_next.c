/*
 * cmd_next.c - `consolidate next JOB.conf|'EXPR' [--from TIME] [--count N]
 * [--tz ZONE]`: the next fire times of a schedule, one ISO 8601 time with
 * the zone's offset a line, computed by the same code the scheduler uses.
 *
 * The argument is a job file when it names an existing file or ends in
 * ".conf", else a cron expression.  Only the times go to stdout; warnings
 * about cron traps go to stderr.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "consolidate/schedule.h"
#include "cli.h"
#include "commands.h"

#define COUNT_DEFAULT 5
#define COUNT_MAX 100000

struct next_cli {
	const char *arg;
	const char *from;
	const char *zone;
	long count;
};

static int parse_args(int argc, char **argv, struct next_cli *o)
{
	int c;
	char *end;

	memset(o, 0, sizeof(*o));
	o->count = COUNT_DEFAULT;
	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'f': /* fire times strictly after this instant */
			o->from = optarg;
			break;
		case 'n': /* how many fire times */
			o->count = strtol(optarg, &end, 10);
			if (*end || end == optarg || o->count < 1 ||
			    o->count > COUNT_MAX)
				return cns_cli_usage("next",
						     "invalid count \"%s\" "
						     "(1-%d)",
						     optarg, COUNT_MAX);
			break;
		case 'z': /* zone, instead of the job's or the host's */
			o->zone = optarg;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "next", NULL });
			return -2;
		default: return cns_cli_usage("next", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cns_cli_usage("next", "expected one job file or one "
					     "cron expression (quoted)");
	o->arg = argv[optind];
	return 0;
}

static bool names_job_file(const char *arg)
{
	struct stat st;
	size_t n = strlen(arg);

	return (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) ||
	       (n > 5 && strcmp(arg + n - 5, ".conf") == 0);
}

static void print_warnings(const struct cns_cron *c)
{
	struct cns_buf b;
	char *line, *save = NULL;

	cns_buf_init(&b);
	if (cns_cron_warnings(c, &b) > 0)
		for (line = strtok_r(b.data, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			fprintf(stderr, "consolidate: warning: %s\n", line);
	cns_buf_release(&b);
}

static int fail(struct cns_error *err)
{
	cns_cli_report(err);
	return cns_error_exit_code(err->code);
}

int cns_cmd_next(int argc, char **argv)
{
	struct next_cli o;
	struct cns_error err = { 0 };
	struct cns_sched_def def = { 0 };
	struct cns_cron cron, *c = &cron;
	struct cns_tz *tz = NULL;
	int64_t t;
	int rc = parse_args(argc, argv, &o);

	if (rc == -2)
		return CNS_EXIT_OK;
	if (rc)
		return rc;

	if (names_job_file(o.arg)) {
		if (cns_sched_def_load(o.arg, &def, &err) < 0)
			return fail(&err);
		if (!def.schedule) {
			cns_error_set(&err, CNS_E_CONFIG,
				      "job \"%s\" has no schedule", def.name);
			cns_error_hint(&err,
				       "set \"schedule\" in [job] of "
				       "\"%s\"",
				       o.arg);
			goto out;
		}
		c = &def.cron;
	} else if (cns_cron_parse(&cron, o.arg, &err) < 0) {
		goto out;
	}
	/* --tz wins over the job's zone; without either, the host's. */
	if (o.zone || !def.tz) {
		if (cns_tz_load(o.zone, &tz, &err) < 0)
			goto out;
	}
	if (o.from) {
		if (cns_time_parse(o.from, tz ? tz : def.tz, &t, &err) < 0)
			goto out;
	} else {
		t = cns_wall_us() / 1000000;
	}
	print_warnings(c);
	for (long i = 0; i < o.count; i++) {
		char buf[40];

		if (cns_cron_next(c, tz ? tz : def.tz, t, &t, &err) < 0) {
			/* Some times were printed: say why there are no
			 * more, and fail only when there were none. */
			if (i > 0) {
				fflush(stdout);
				fprintf(stderr, "consolidate: %s\n",
					err.message);
				cns_error_clear(&err);
			}
			break;
		}
		cns_time_format(t, tz ? tz : def.tz, buf, sizeof(buf));
		puts(buf);
	}
out:
	cns_tz_free(tz);
	cns_sched_def_release(&def);
	if (fflush(stdout) != 0 && !cns_error_isset(&err))
		cns_error_set(&err, CNS_E_IO, "could not write the output");
	if (cns_error_isset(&err))
		return fail(&err);
	return CNS_EXIT_OK;
}
