/*
 * cmd_systemd.c - `consolidate systemd [--bin PATH] [--output-dir DIR]
 * JOB.conf`: a .service and .timer pair that runs a job at its schedule,
 * for people who prefer systemd timers to `consolidate schedule`.
 *
 * The OnCalendar= lines are rendered from the parsed fields (see
 * cns_cron_oncalendar()); where systemd says something differently from
 * cron (the day-of-month OR day-of-week rule, DST, jitter, overlap =
 * queue), a comment in the timer says so.  Persistent= follows catchup.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/schedule.h"
#include "cli.h"
#include "commands.h"

/* A unit name from a job name: systemd-escape style \xNN for anything
 * but letters, digits, ":", "_", "." and "-". */
static void unit_name(struct cns_buf *b, const char *job)
{
	cns_buf_adds(b, "consolidate-");
	for (const unsigned char *p = (const unsigned char *)job; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(":_.-", *p))
			cns_buf_addc(b, (char)*p);
		else
			cns_buf_printf(b, "\\x%02x", *p);
	}
}

/* An ExecStart= word: "%" doubled (a specifier otherwise), quoted when it
 * holds blanks or quotes. */
static void exec_word(struct cns_buf *b, const char *s)
{
	bool quote = strpbrk(s, " \t\"'\\") != NULL;

	if (quote)
		cns_buf_addc(b, '"');
	for (const char *p = s; *p; p++) {
		if (*p == '%')
			cns_buf_adds(b, "%%");
		else if (quote && (*p == '"' || *p == '\\'))
			cns_buf_printf(b, "\\%c", *p);
		else
			cns_buf_addc(b, *p);
	}
	if (quote)
		cns_buf_addc(b, '"');
}

static int write_file(const char *dir, const char *name, const char *text,
		      struct cns_error *err)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		return cns_error_set(err, CNS_E_IO,
				     "could not create \"%s\": %s", path,
				     strerror(errno));
	fputs(text, f);
	if (fclose(f) != 0)
		return cns_error_set(err, CNS_E_IO,
				     "could not write \"%s\": %s", path,
				     strerror(errno));
	printf("%s\n", path);
	return 0;
}

int cns_cmd_systemd(int argc, char **argv)
{
	struct cns_error err = { 0 };
	struct cns_sched_def d;
	struct cns_buf unit, service, timer, cal, notes;
	char exe[PATH_MAX];
	const char *bin = NULL, *outdir = NULL;
	int c, rc = CNS_EXIT_OK;

	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'b': /* the consolidate program ExecStart= calls */
			bin = optarg;
			break;
		case 'o': /* write the two files here instead of stdout */
			outdir = optarg;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "systemd", NULL });
			return CNS_EXIT_OK;
		default: return cns_cli_usage("systemd", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cns_cli_usage("systemd", "expected one job file");
	if (!bin)
		bin = realpath("/proc/self/exe", exe) ? exe : "consolidate";
	{
		char *files[1];
		char **list;
		int n;

		files[0] = argv[optind];
		if (cns_sched_list_files(files, 1, &list, &n, &err) < 0) {
			cns_cli_report(&err);
			return cns_error_exit_code(err.code);
		}
		if (n != 1) {
			cns_sched_files_free(list, n);
			return cns_cli_usage("systemd",
					     "\"%s\" is a folder; give one job "
					     "file",
					     argv[optind]);
		}
		rc = cns_sched_def_load(list[0], &d, &err);
		cns_sched_files_free(list, n);
		if (rc < 0) {
			cns_cli_report(&err);
			return cns_error_exit_code(err.code);
		}
	}
	if (!d.schedule) {
		cns_error_set(&err, CNS_E_CONFIG, "job \"%s\" has no schedule",
			      d.name);
		cns_error_hint(&err, "set \"schedule\" in [job] of \"%s\"",
			       d.file);
		cns_cli_report(&err);
		cns_sched_def_release(&d);
		return cns_error_exit_code(err.code);
	}

	cns_buf_init(&unit);
	cns_buf_init(&service);
	cns_buf_init(&timer);
	cns_buf_init(&cal);
	cns_buf_init(&notes);
	unit_name(&unit, d.name);

	cns_buf_printf(&service,
		       "# %s.service, written by `consolidate systemd`\n"
		       "[Unit]\n"
		       "Description=consolidate job %s\n"
		       "Documentation=man:consolidate(1)\n"
		       "Wants=network-online.target\n"
		       "After=network-online.target\n"
		       "\n"
		       "[Service]\n"
		       "Type=oneshot\n"
		       "ExecStart=",
		       unit.data, d.name);
	exec_word(&service, bin);
	cns_buf_adds(&service, " run ");
	exec_word(&service, d.file);
	cns_buf_adds(&service,
		     "\n# 75: the previous run still held the job's lock; "
		     "nothing was done.\n"
		     "SuccessExitStatus=75\n");

	cns_cron_oncalendar(&d.cron, d.zone, &cal, &notes);
	cns_buf_printf(&timer,
		       "# %s.timer, written by `consolidate systemd`\n"
		       "# schedule \"%s\"%s%s\n",
		       unit.data, d.cron.text, d.zone ? " in " : "",
		       d.zone ? d.zone : "");
	if (notes.len)
		cns_buf_adds(&timer, notes.data);
	cns_buf_adds(&timer,
		     "# Around a DST change systemd follows its own rules, "
		     "which differ from\n"
		     "# cron's (see consolidate(1), DAYLIGHT SAVING TIME).\n");
	if (d.overlap == CNS_OVERLAP_QUEUE)
		cns_buf_adds(&timer,
			     "# overlap = queue has no systemd equivalent: a "
			     "timer that fires while the\n"
			     "# service still runs does nothing (as overlap = "
			     "skip).\n");
	if (d.jitter_ms > 0)
		cns_buf_adds(&timer,
			     "# jitter: systemd picks its own fixed delay per "
			     "timer, not the one\n"
			     "# `consolidate schedule` uses.\n");
	cns_buf_printf(&timer,
		       "[Unit]\n"
		       "Description=Schedule of consolidate job %s\n"
		       "\n"
		       "[Timer]\n"
		       "%s"
		       "AccuracySec=1s\n",
		       d.name, cal.data);
	if (d.jitter_ms > 0) {
		char dur[64];

		cns_format_duration(d.jitter_ms, dur, sizeof(dur));
		cns_buf_printf(&timer,
			       "RandomizedDelaySec=%s\n"
			       "FixedRandomDelay=true\n",
			       dur);
	}
	cns_buf_printf(&timer,
		       "# catchup = %s\n"
		       "Persistent=%s\n"
		       "\n"
		       "[Install]\n"
		       "WantedBy=timers.target\n",
		       d.catchup == CNS_CATCHUP_ONCE ? "once" : "none",
		       d.catchup == CNS_CATCHUP_ONCE ? "true" : "false");

	if (outdir) {
		char name[PATH_MAX];

		snprintf(name, sizeof(name), "%s.service", unit.data);
		if (write_file(outdir, name, service.data, &err) == 0) {
			snprintf(name, sizeof(name), "%s.timer", unit.data);
			write_file(outdir, name, timer.data, &err);
		}
	} else {
		printf("%s\n%s", service.data, timer.data);
	}
	if (fflush(stdout) != 0 && !cns_error_isset(&err))
		cns_error_set(&err, CNS_E_IO, "could not write the output");
	if (cns_error_isset(&err)) {
		cns_cli_report(&err);
		rc = cns_error_exit_code(err.code);
	}
	cns_buf_release(&unit);
	cns_buf_release(&service);
	cns_buf_release(&timer);
	cns_buf_release(&cal);
	cns_buf_release(&notes);
	cns_sched_def_release(&d);
	return rc;
}
