/*
 * cmd_crontab.c - `consolidate crontab [--bin PATH] [DIR|FILE...]`: crontab
 * lines that run each job at its schedule, for people who keep cron
 * instead of `consolidate schedule`.
 *
 * cron (cronie) reads schedules the way the scheduler does, DST included,
 * so the expression is copied as written.  What cron cannot say is said in
 * a comment: a seconds field with one value becomes a `sleep`, as does the
 * job's jitter; more than one run a minute is refused; overlap = queue and
 * catchup = once have no cron equivalent.  Jobs without a zone come first,
 * because CRON_TZ holds for every line after it.
 */
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/schedule.h"
#include "cli.h"
#include "commands.h"

/* Appends s for a crontab command: quoted for /bin/sh when needed, and
 * with "%" escaped (cron turns a bare "%" into a newline). */
static void add_word(struct cns_buf *b, const char *s)
{
	bool plain = *s != '\0';

	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_./-+:=@,", *p))
			plain = false;
	if (!plain)
		cns_buf_addc(b, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			cns_buf_adds(b, "'\\''");
		else if (*p == '%')
			cns_buf_adds(b, "\\%");
		else
			cns_buf_addc(b, *p);
	}
	if (!plain)
		cns_buf_addc(b, '\'');
}

static int cmp_zone(const void *a, const void *b)
{
	const struct cns_sched_def *x = a, *y = b;

	if (!x->zone || !y->zone)
		return (x->zone != NULL) - (y->zone != NULL);
	return strcmp(x->zone, y->zone);
}

static const char *self_path(char *buf, size_t size)
{
	if (!realpath("/proc/self/exe", buf)) {
		snprintf(buf, size, "consolidate");
	}
	return buf;
}

int cns_cmd_crontab(int argc, char **argv)
{
	struct cns_error err = { 0 };
	char exe[PATH_MAX];
	const char *bin = NULL;
	char **files;
	int nfiles, c, ndefs = 0, failed = 0;
	struct cns_sched_def *defs;
	struct cns_buf out;
	const char *zone = NULL;

	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'b': /* the consolidate program the lines call */
			bin = optarg;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "crontab", NULL });
			return CNS_EXIT_OK;
		default: return cns_cli_usage("crontab", "invalid option");
		}
	}
	if (!bin)
		bin = self_path(exe, sizeof(exe));
	if (cns_sched_list_files(argv + optind, argc - optind, &files, &nfiles,
				 &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	defs = cns_xcalloc((size_t)nfiles + 1, sizeof(*defs));
	for (int i = 0; i < nfiles; i++) {
		cns_error_clear(&err);
		if (cns_sched_def_load(files[i], &defs[ndefs], &err) < 0) {
			cns_cli_report(&err);
			if (!failed)
				failed = cns_error_exit_code(err.code);
			continue;
		}
		ndefs++;
	}
	/* Stable: within a zone the files keep their sorted order. */
	for (int i = 1; i < ndefs; i++)
		for (int k = i; k > 0 && cmp_zone(&defs[k - 1], &defs[k]) > 0;
		     k--) {
			struct cns_sched_def t = defs[k - 1];

			defs[k - 1] = defs[k];
			defs[k] = t;
		}

	cns_buf_init(&out);
	cns_buf_adds(&out,
		     "# consolidate jobs, written by `consolidate crontab`; "
		     "install with crontab(1).\n"
		     "# A run that finds the previous one still holding the "
		     "job's lock exits 75\n"
		     "# without doing anything (overlap = skip).\n");
	for (int i = 0; i < ndefs; i++) {
		const struct cns_sched_def *d = &defs[i];
		struct cns_buf line;
		int delay;
		int64_t sleep_s;

		cns_buf_printf(&out, "\n# %s (%s)\n", d->name, d->file);
		if (!d->schedule) {
			cns_buf_adds(&out, "# no schedule: not run by cron\n");
			continue;
		}
		cns_buf_init(&line);
		cns_error_clear(&err);
		if (cns_cron_crontab_text(&d->cron, &line, &delay, &err) < 0) {
			cns_error_at(&err, d->file, 0, 0);
			cns_buf_printf(&out,
				       "# %s; use `consolidate schedule` "
				       "or `consolidate systemd`\n",
				       err.message);
			cns_cli_report(&err);
			failed = failed ? failed : CNS_EXIT_CONFIG;
			cns_buf_release(&line);
			continue;
		}
		if (d->overlap == CNS_OVERLAP_QUEUE)
			cns_buf_adds(&out, "# overlap = queue has no cron "
					   "equivalent: a fire that finds the "
					   "last run busy is skipped\n");
		if (d->catchup == CNS_CATCHUP_ONCE)
			cns_buf_adds(&out, "# catchup = once has no cron "
					   "equivalent: fires missed while "
					   "the machine was down are not made "
					   "up\n");
		if (d->zone && !zone)
			cns_buf_adds(&out,
				     "# cronie warns that around a DST change "
				     "of a CRON_TZ zone a run may be missed\n"
				     "# or doubled; `consolidate schedule` "
				     "applies the DST rules exactly.\n");
		if (d->zone && (!zone || strcmp(zone, d->zone) != 0)) {
			cns_buf_printf(&out, "CRON_TZ=%s\n", d->zone);
			zone = d->zone;
		}
		cns_buf_printf(&out, "%s ", line.data);
		sleep_s = delay + d->jitter_offset_ms / 1000;
		if (sleep_s > 0)
			cns_buf_printf(&out, "sleep %lld && ",
				       (long long)sleep_s);
		add_word(&out, bin);
		cns_buf_adds(&out, " run ");
		add_word(&out, d->file);
		cns_buf_addc(&out, '\n');
		cns_buf_release(&line);
	}
	fputs(out.data, stdout);
	cns_buf_release(&out);
	for (int i = 0; i < ndefs; i++)
		cns_sched_def_release(&defs[i]);
	free(defs);
	cns_sched_files_free(files, nfiles);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "consolidate: could not write the output\n");
		return CNS_EXIT_FAILED;
	}
	return failed;
}
