/*
 * cmd_log.c - `consolidate log JOB.conf [RUN|last|last-failed] [--follow]`:
 * prints the log of one run, compressed or not.
 *
 * RUN is a run id or a unique prefix of one (also of the part after its
 * timestamp); "last" is the newest log, also of a run still going;
 * "last-failed" the newest run recorded as anything but ok or skipped.
 * --follow keeps printing what the run adds, like tail -f, until its end
 * line appears or the run is no longer running (its marker is gone or
 * names another run, or its process died).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "consolidate/config.h"
#include "consolidate/runlog.h"
#include "cli.h"
#include "commands.h"

#define POLL_MS 200

struct log_cli {
	const char *job_path;
	const char *which;
	bool follow;
};

static int parse_args(int argc, char **argv, struct log_cli *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->which = "last";
	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'f': /* keep printing until the run ends */
			o->follow = true;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "log", NULL });
			return -2;
		default: return cns_cli_usage("log", "invalid option");
		}
	}
	if (optind >= argc)
		return cns_cli_usage("log", "expected a job file");
	if (argc - optind > 2)
		return cns_cli_usage("log", "expected a job file and at most "
					    "one run");
	o->job_path = argv[optind];
	if (argc - optind == 2)
		o->which = argv[optind + 1];
	return 0;
}

/* Prints a whole file; gzread reads plain files as they are. */
static int print_file(const char *path, struct cns_error *err)
{
	char buf[65536];
	gzFile gz = gzopen(path, "rb");
	int n;

	if (!gz)
		return cns_error_set(err, CNS_E_IO, "could not open \"%s\": %s",
				     path, strerror(errno ? errno : ENOMEM));
	while ((n = gzread(gz, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	if (n < 0) {
		int zerr;
		const char *msg = gzerror(gz, &zerr);

		cns_error_set(err, CNS_E_IO, "could not read \"%s\": %s", path,
			      msg);
		gzclose(gz);
		return -1;
	}
	gzclose(gz);
	fflush(stdout);
	return 0;
}

/* True while the run whose log is `base` is still going. */
static bool still_running(const struct cns_job_conf *job, const char *base)
{
	struct cns_run_marker m;

	if (cns_runlog_marker(job, &m, NULL) != 1)
		return false;
	return !strcmp(m.log, base) && cns_runlog_marker_alive(&m, true);
}

/* Prints what is there, then what is added, until the end line. */
static int follow(const struct cns_job_conf *job, const char *path,
		  struct cns_error *err)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const struct timespec pause = { 0, POLL_MS * 1000000L };
	char buf[65536];
	struct cns_buf line;
	bool ended = false, draining = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cns_error_set(err, CNS_E_IO, "could not open \"%s\": %s",
				     path, strerror(errno));
	cns_buf_init(&line);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cns_error_set(err, CNS_E_IO,
				      "could not read \"%s\": %s", path,
				      strerror(errno));
			break;
		}
		if (n > 0) {
			fwrite(buf, 1, (size_t)n, stdout);
			/* Look for the end line among the complete lines. */
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] != '\n') {
					if (line.len < 4096)
						cns_buf_addc(&line, buf[i]);
					continue;
				}
				if (cns_runlog_is_end_line(line.data ? line.data
								     : "",
							   line.len))
					ended = true;
				cns_buf_reset(&line);
			}
			continue;
		}
		fflush(stdout);
		if (ended || draining)
			break;
		if (!still_running(job, base)) {
			/* One more read for lines written just before. */
			draining = true;
			continue;
		}
		nanosleep(&pause, NULL);
	}
	fflush(stdout);
	close(fd);
	cns_buf_release(&line);
	if (cns_error_isset(err))
		return -1;
	if (!ended)
		fprintf(stderr, "consolidate: the run is no longer running and "
				"its log has no end line\n");
	return 0;
}

int cns_cmd_log(int argc, char **argv)
{
	struct log_cli o;
	struct cns_job_conf *job = NULL;
	struct cns_error err;
	char path[8192];
	size_t len;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc == -2 ? CNS_EXIT_OK : rc;
	cns_error_clear(&err);
	if (cns_config_load(o.job_path, &job, &err) < 0)
		goto fail;
	if (cns_runlog_find(job, o.which, path, sizeof(path), &err) < 0)
		goto fail;
	len = strlen(path);
	if (o.follow && !(len > 3 && !strcmp(path + len - 3, ".gz")))
		rc = follow(job, path, &err);
	else
		rc = print_file(path, &err);
	if (rc < 0)
		goto fail;
	cns_config_free(job);
	return CNS_EXIT_OK;
fail:
	cns_cli_report(&err);
	cns_config_free(job);
	return cns_error_exit_code(err.code);
}
