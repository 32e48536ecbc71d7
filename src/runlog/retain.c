/*
 * runlog_retain.c - retention: keeps a job's logs and rejects files
 * bounded, as log_keep says.
 *
 * log_keep is a count of runs ("30") or an age ("14d").  Logs past the
 * limit are compressed to .log.gz (keeping their modification time, by
 * which age is judged), and removed past twice the limit.  Rejects files
 * hold copies of source rows, so they go as soon as their run is past the
 * limit.  The current run's log and the log of a run in progress are
 * never touched.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Compresses dir/name into dir/name.gz, keeping its modification time
 * (the age retention judges by), then removes the plain file. */
static int compress_log(const char *dir, const struct cns_logfile *f)
{
	char src[PATH_MAX], dst[PATH_MAX], tmp[PATH_MAX + 16];
	char buf[65536];
	struct timespec times[2];
	gzFile gz;
	ssize_t n;
	int in, out, saved;

	snprintf(src, sizeof(src), "%s/%s", dir, f->name);
	snprintf(dst, sizeof(dst), "%s/%s.gz", dir, f->name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	/* The log holds rejected values: its compressed copy is no more
	 * readable than the log (0640 less the umask), also when a crash
	 * left a temporary file of another mode behind. */
	(void)unlink(tmp);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	gz = out < 0 ? NULL : gzdopen(out, "wb9");
	if (!gz) {
		saved = errno;
		if (out >= 0)
			close(out);
		close(in);
		errno = saved ? saved : ENOMEM;
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (gzwrite(gz, buf, (unsigned)n) != (int)n) {
			n = -1;
			errno = EIO;
			break;
		}
	}
	saved = errno;
	close(in);
	if (gzclose(gz) != Z_OK && n == 0) {
		n = -1;
		saved = EIO;
	}
	if (n < 0) {
		unlink(tmp);
		errno = saved;
		return -1;
	}
	times[0] = f->mtime;
	times[1] = f->mtime;
	if (utimensat(AT_FDCWD, tmp, times, 0) < 0 || rename(tmp, dst) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return unlink(src);
}

static int64_t ts_us(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* The rule of log_keep: a count of runs, or an age. */
struct keep_rule {
	int64_t count;  /* > 0 for a count */
	int64_t age_us; /* > 0 for an age */
};

static void keep_rule(struct cns_runlog *l, struct keep_rule *k)
{
	const char *v = l->job->log_keep ? l->job->log_keep : "30";
	size_t n = strspn(v, "0123456789");
	int64_t ms;

	memset(k, 0, sizeof(*k));
	if (n > 0 && v[n] == '\0' && n < 10)
		k->count = strtoll(v, NULL, 10);
	else if (cns_parse_duration(v, &ms, NULL) == 0 && ms > 0)
		k->age_us = ms * 1000;
	if (k->count <= 0 && k->age_us <= 0) {
		cns_runlog_log(l, CNS_LOG_WARN, "retention", NULL,
			       "invalid log_keep: keeping 30 runs",
			       CNS_KV_STR("log_keep", v));
		k->count = 30;
	}
}

/* Rejects files (they hold copies of source rows) go once their run is
 * past the first limit. */
static void prune_rejects(struct cns_runlog *l, int64_t cutoff_us)
{
	char dir[PATH_MAX], mine[320];
	DIR *d;
	struct dirent *de;

	if (!l->job->rejects_dir)
		return;
	snprintf(dir, sizeof(dir), "%s/%s", l->job->rejects_dir, l->job->name);
	snprintf(mine, sizeof(mine), "%s.csv.gz", l->run_id);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char path[PATH_MAX + 512];
		struct stat st;

		if (n < 8 || strcmp(de->d_name + n - 7, ".csv.gz") ||
		    !strcmp(de->d_name, mine) || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    ts_us(st.st_mtim) >= cutoff_us)
			continue;
		if (unlink(path) < 0)
			cns_runlog_log(l, CNS_LOG_WARN, "retention", NULL,
				       "could not remove a rejects file",
				       CNS_KV_STR("file", path),
				       CNS_KV_STR("error", strerror(errno)));
	}
	closedir(d);
}

/* When the run of a log started, to the millisecond: the time of its
 * first line.  The name only has the second, and a run's rejects file is
 * closed a moment after its log's last line, which can be in the second
 * the next run starts.  Falls back to the name's time. */
static int64_t log_start(const char *dir, const struct cns_logfile *f)
{
	char path[PATH_MAX + 512], buf[512], iso[40];
	const char *p;
	gzFile gz;
	int n;
	int64_t us;

	snprintf(path, sizeof(path), "%s/%s", dir, f->name);
	gz = gzopen(path, "rb");
	if (!gz)
		return f->start_us;
	n = gzread(gz, buf, sizeof(buf) - 1);
	gzclose(gz);
	if (n <= 0)
		return f->start_us;
	buf[n] = '\0';
	/* Text lines begin with the time, JSON lines with "ts". */
	p = buf[0] == '{' ? strstr(buf, "\"ts\":\"") : buf;
	if (!p)
		return f->start_us;
	if (*p == '"')
		p += 6;
	snprintf(iso, sizeof(iso), "%.*s", (int)strcspn(p, " \""), p);
	if (cns_runlog_parse_iso(iso, &us) < 0 || us < f->start_us)
		return f->start_us;
	return us;
}

/* Count N: the newest N runs keep plain logs, runs N+1..2N compressed
 * ones, older logs go.  Age D: logs older than D are compressed, older
 * than 2D removed.  The current run's log and that of a run in progress
 * are never touched. */
void cns_runlog_retain(struct cns_runlog *l)
{
	struct keep_rule k;
	struct cns_logfile *logs;
	struct cns_run_marker m;
	int n, compressed = 0, removed = 0;
	int64_t now = cns_wall_us(), cutoff = INT64_MIN;
	bool have_marker;

	keep_rule(l, &k);
	have_marker = cns_runlog_marker(l->job, &m, NULL) == 1;
	logs = cns_runlog_list_logs(l->dir, &n);
	for (int i = 0; i < n; i++) {
		const struct cns_logfile *f = &logs[i];
		int64_t rank = n - i; /* 1: the newest */
		bool drop, pack;
		char path[PATH_MAX + 512];
		size_t base = strlen(f->name) - (f->gz ? 7 : 4);

		if (!strcmp(f->name, l->name) ||
		    (have_marker && !strncmp(f->name, m.log, base) &&
		     strlen(m.log) == base + 4))
			continue;
		if (k.count > 0) {
			drop = rank > 2 * k.count;
			pack = rank > k.count;
		} else {
			drop = now - ts_us(f->mtime) > 2 * k.age_us;
			pack = now - ts_us(f->mtime) > k.age_us;
		}
		snprintf(path, sizeof(path), "%s/%s", l->dir, f->name);
		if (drop) {
			if (unlink(path) == 0)
				removed++;
			else
				cns_runlog_log(
					l, CNS_LOG_WARN, "retention", NULL,
					"could not remove an old log",
					CNS_KV_STR("file", path),
					CNS_KV_STR("error", strerror(errno)));
		} else if (pack && !f->gz) {
			if (compress_log(l->dir, f) == 0)
				compressed++;
			else
				cns_runlog_log(
					l, CNS_LOG_WARN, "retention", NULL,
					"could not compress an old log",
					CNS_KV_STR("file", path),
					CNS_KV_STR("error", strerror(errno)));
		}
	}
	if (k.count > 0) {
		/* Runs do not overlap: a rejects file older than the start
		 * of the oldest run within the limit belongs to an older
		 * run. */
		if (n > k.count)
			cutoff = log_start(l->dir, &logs[n - k.count]);
	} else {
		cutoff = now - k.age_us;
	}
	if (cutoff != INT64_MIN)
		prune_rejects(l, cutoff);
	if (compressed || removed)
		cns_runlog_log(l, CNS_LOG_DEBUG, "retention", NULL,
			       "old logs tidied",
			       CNS_KV_INT("compressed", compressed),
			       CNS_KV_INT("removed", removed));
	free(logs);
}
