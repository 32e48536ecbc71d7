/*
 * runlog_read.c - reading back what runs left: runs.jsonl as records for
 * history, status and the volume guard; the "running" marker and whether
 * its process lives; and finding a run's log file by id, prefix, "last"
 * or "last-failed".
 *
 * Readers never lock: runs.jsonl only grows by whole lines written with
 * one write(2) each, and is only ever replaced by rename, so a reader sees
 * whole records.  A line that cannot be parsed (a disk that filled up
 * mid-line) is skipped and counted, never fatal.
 */
#include "consolidate/runlog.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Only the tail of a runs.jsonl this large is read: it is trimmed long
 * before, so more means something else wrote to it. */
#define RUNS_READ_MAX (64L * 1024 * 1024)

char *cns_runlog_dir(const struct cns_job_conf *job, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", job->log_dir ? job->log_dir : "log",
		 job->name);
	return buf;
}

/* ---- runs.jsonl ---- */

static int64_t time_member(const json_t *o, const char *key)
{
	const json_t *m = json_object_get(o, key);
	int64_t us;

	if (!json_is_string(m) ||
	    cns_runlog_parse_iso(json_string_value(m), &us) < 0)
		return -1;
	return us;
}

static bool parse_entry(struct cns_arena *a, const char *line, size_t len,
			struct cns_run_entry *e)
{
	json_t *o = cns_json_load(line, len);
	json_t *srcs, *s;
	const char *name;
	enum cns_source_state st;
	bool ok = false;
	int n;

	if (!json_is_object(o))
		goto out;
	memset(e, 0, sizeof(*e));
	e->run_id = cns_json_str(a, o, "run_id");
	e->status_name = cns_json_str(a, o, "status");
	if (!e->run_id || !e->status_name)
		goto out;
	e->status = cns_run_status_of(e->status_name);
	ok = true;
	e->job = cns_json_str(a, o, "job");
	e->kind = cns_json_str(a, o, "kind");
	e->host = cns_json_str(a, o, "host");
	e->error = cns_json_str(a, o, "error");
	e->log = cns_json_str(a, o, "log");
	e->pid = (long)cns_json_int(o, "pid", 0);
	e->started_us = time_member(o, "start");
	e->ended_us = time_member(o, "end");
	e->duration_s = cns_json_num(o, "duration_s", -1);
	e->exit_code = (int)cns_json_int(o, "exit_code", -1);
	e->line = cns_arena_strndup(a, line, len);
	srcs = json_object_get(o, "sources");
	if (!json_is_object(srcs))
		goto out;
	n = (int)json_object_size(srcs);
	e->sources =
		cns_arena_zalloc(a, (size_t)(n ? n : 1) * sizeof(*e->sources));
	json_object_foreach (srcs, name, s) {
		struct cns_run_source_entry *se = &e->sources[e->nsources++];

		se->name = cns_arena_strdup(a, name);
		se->status = cns_json_str(a, s, "status");
		if (!se->status)
			se->status = "?";
		se->ok = cns_source_state_of(se->status, &st) == 0 &&
			 st == CNS_SRC_DONE;
		se->read = cns_json_int(s, "read", 0);
		se->filtered = cns_json_int(s, "filtered", 0);
		se->rejected = cns_json_int(s, "rejected", 0);
		se->loaded = cns_json_int(s, "loaded", 0);
		se->written = cns_json_int(s, "written", 0);
		se->chunks = cns_json_int(s, "chunks", 0);
		se->bytes = cns_json_int(s, "bytes", 0);
		se->seconds = cns_json_num(s, "seconds", -1);
	}
out:
	json_decref(o);
	return ok;
}

/* Reads the whole file (its tail past RUNS_READ_MAX) into b. */
static int slurp(FILE *f, struct cns_buf *b)
{
	char chunk[65536];
	size_t n;

	if (fseek(f, 0, SEEK_END) == 0) {
		long size = ftell(f);

		if (size > RUNS_READ_MAX)
			fseek(f, size - RUNS_READ_MAX, SEEK_SET);
		else
			fseek(f, 0, SEEK_SET);
	}
	cns_buf_add(b, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cns_buf_add(b, chunk, n);
	return ferror(f) ? -1 : 0;
}

int cns_runlog_history(const struct cns_job_conf *job, int max,
		       struct cns_run_history *h, struct cns_error *err)
{
	char dir[4096], path[4200];
	struct cns_buf b;
	FILE *f;
	size_t nlines = 0, k;
	const char **starts;
	size_t *lens;
	int want;

	memset(h, 0, sizeof(*h));
	cns_arena_init(&h->arena, 16 * 1024);
	cns_runlog_dir(job, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/runs.jsonl", dir);
	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		cns_arena_release(&h->arena);
		return cns_error_set(err, CNS_E_IO, "could not read \"%s\": %s",
				     path, strerror(errno));
	}
	cns_buf_init(&b);
	if (slurp(f, &b) < 0) {
		int e = errno;

		fclose(f);
		cns_buf_release(&b);
		cns_arena_release(&h->arena);
		return cns_error_set(err, CNS_E_IO, "could not read \"%s\": %s",
				     path, strerror(e));
	}
	fclose(f);

	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\n' || i + 1 == b.len)
			nlines++;
	starts = cns_xcalloc(nlines + 1, sizeof(*starts));
	lens = cns_xcalloc(nlines + 1, sizeof(*lens));
	k = 0;
	for (size_t i = 0, s = 0; i < b.len; i++) {
		if (b.data[i] == '\n' || i + 1 == b.len) {
			size_t e = b.data[i] == '\n' ? i : i + 1;

			if (e > s) {
				starts[k] = b.data + s;
				lens[k++] = e - s;
			}
			s = i + 1;
		}
	}
	nlines = k;
	want = max > 0 && (size_t)max < nlines ? max : (int)nlines;
	h->runs = cns_arena_zalloc(&h->arena, (size_t)(want ? want : 1) *
						      sizeof(*h->runs));
	/* Newest first into the array's end, so the result is oldest
	 * first. */
	for (size_t i = nlines; i-- > 0 && h->n < want;) {
		struct cns_run_entry e;

		if (parse_entry(&h->arena, starts[i], lens[i], &e))
			h->runs[want - 1 - h->n++] = e;
		else
			h->nbad++;
	}
	if (h->n < want)
		memmove(h->runs, h->runs + (want - h->n),
			(size_t)h->n * sizeof(*h->runs));
	free(starts);
	free(lens);
	cns_buf_release(&b);
	return 0;
}

void cns_run_history_release(struct cns_run_history *h)
{
	if (!h)
		return;
	cns_arena_release(&h->arena);
	memset(h, 0, sizeof(*h));
}

int cns_runlog_recent_rows(const struct cns_job_conf *job, const char *source,
			   int64_t *out, int max)
{
	struct cns_run_history h;
	int n = 0;

	if (cns_runlog_history(job, 0, &h, NULL) < 0)
		return -1;
	for (int i = h.n - 1; i >= 0 && n < max; i--) {
		const struct cns_run_entry *e = &h.runs[i];

		if (e->status != CNS_RUN_OK || cns_run_entry_is_redrive(e))
			continue;
		for (int j = 0; j < e->nsources; j++) {
			if (!strcmp(e->sources[j].name, source) &&
			    e->sources[j].ok) {
				out[n++] = e->sources[j].read;
				break;
			}
		}
	}
	cns_run_history_release(&h);
	return n;
}

/* ---- the marker ---- */

int cns_runlog_marker(const struct cns_job_conf *job, struct cns_run_marker *m,
		      struct cns_error *err)
{
	char dir[4096], path[4200], text[4096];
	struct cns_arena a;
	json_t *o;
	const char *s;
	size_t n;
	FILE *f;
	int rc = 1;

	memset(m, 0, sizeof(*m));
	cns_runlog_dir(job, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/running", dir);
	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return cns_error_set(err, CNS_E_IO, "could not read \"%s\": %s",
				     path, strerror(errno));
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	cns_arena_init(&a, 4096);
	o = cns_json_load(text, n);
	s = cns_json_str(&a, o, "run_id");
	if (!s) {
		rc = cns_error_set(err, CNS_E_IO,
				   "the run marker \"%s\" is damaged", path);
		goto out;
	}
	snprintf(m->run_id, sizeof(m->run_id), "%s", s);
	if ((s = cns_json_str(&a, o, "host")) != NULL)
		snprintf(m->host, sizeof(m->host), "%s", s);
	if ((s = cns_json_str(&a, o, "log")) != NULL)
		snprintf(m->log, sizeof(m->log), "%s", s);
	m->pid = (long)cns_json_int(o, "pid", 0);
	m->started_us = cns_json_int(o, "started_us", 0);
out:
	json_decref(o);
	cns_arena_release(&a);
	return rc;
}

/* When process pid started, in seconds since the epoch, or -1 when
 * /proc cannot tell. */
static double process_start(long pid)
{
	char path[64], buf[1024];
	const char *p;
	unsigned long long ticks = 0, btime = 0;
	long hz = sysconf(_SC_CLK_TCK);
	size_t n;
	FILE *f;
	int field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: count fields
	 * from the last ')'.  starttime is field 22; ')' ends field 2. */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	for (field = 2; field < 21 && *p; p++)
		if (*p == ' ')
			field++;
	if (sscanf(p, "%llu", &ticks) != 1)
		return -1;
	f = fopen("/proc/stat", "r");
	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	if (!btime || hz <= 0)
		return -1;
	return (double)btime + (double)ticks / (double)hz;
}

bool cns_runlog_marker_alive(const struct cns_run_marker *m,
			     bool assume_remote_alive)
{
	char host[256] = "";
	double started;

	gethostname(host, sizeof(host) - 1);
	if (strcmp(m->host, host))
		return assume_remote_alive;
	if (m->pid <= 0 || m->pid == (long)getpid())
		return false;
	if (kill((pid_t)m->pid, 0) < 0 && errno == ESRCH)
		return false;
	/* A process that started after the run cannot be it: the pid was
	 * reused (after a reboot, typically).  The boot time in /proc is
	 * rounded to the second, hence the slack. */
	started = process_start(m->pid);
	if (started > 0 && m->started_us > 0 &&
	    started > (double)m->started_us / 1e6 + 5)
		return false;
	return true;
}

/* ---- log files ---- */

bool cns_runlog_log_name(const char *name, bool *gz, int64_t *start_us)
{
	size_t n = strlen(name);
	char iso[32];

	for (int i = 0; i < 16; i++) {
		char c = name[i];

		if (i == 8    ? c != 'T'
		    : i == 15 ? c != 'Z'
			      : (c < '0' || c > '9'))
			return false;
	}
	if (name[16] != '-')
		return false;
	if (n > 24 && !strcmp(name + n - 7, ".log.gz"))
		*gz = true;
	else if (n > 21 && !strcmp(name + n - 4, ".log"))
		*gz = false;
	else
		return false;
	snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", name,
		 name + 4, name + 6, name + 9, name + 11, name + 13);
	return cns_runlog_parse_iso(iso, start_us) == 0;
}

/* By start, to the second as the name says; runs of one job do not
 * overlap, so within a second the later run is the one written last. */
static int by_start(const void *a, const void *b)
{
	const struct cns_logfile *x = a, *y = b;

	if (x->start_us != y->start_us)
		return x->start_us < y->start_us ? -1 : 1;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct cns_logfile *cns_runlog_list_logs(const char *dir, int *n)
{
	struct cns_logfile *v = NULL;
	int cap = 0;
	DIR *d = opendir(dir);
	struct dirent *de;

	*n = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		struct cns_logfile f;
		struct stat st;
		char path[4400];

		if (strlen(de->d_name) >= sizeof(f.name) ||
		    !cns_runlog_log_name(de->d_name, &f.gz, &f.start_us))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		snprintf(f.name, sizeof(f.name), "%s", de->d_name);
		f.mtime = st.st_mtim;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = cns_xrealloc(v, (size_t)cap * sizeof(*v));
		}
		v[(*n)++] = f;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, (size_t)*n, sizeof(*v), by_start);
	return v;
}

static bool is_stamp(const char *s)
{
	bool gz;
	int64_t us;
	char probe[64];

	snprintf(probe, sizeof(probe), "%.17sx.log", s);
	return cns_runlog_log_name(probe, &gz, &us);
}

char *cns_runlog_log_run_id(const char *name, char *buf, size_t size)
{
	size_t n = strlen(name);

	if (n > 7 && !strcmp(name + n - 7, ".log.gz"))
		n -= 7;
	else if (n > 4 && !strcmp(name + n - 4, ".log"))
		n -= 4;
	/* "<stamp>-<id>" where the id carries its own, different stamp. */
	if (n > 17 && is_stamp(name + 17))
		snprintf(buf, size, "%.*s", (int)(n - 17), name + 17);
	else
		snprintf(buf, size, "%.*s", (int)n, name);
	return buf;
}

/* True when `which` is a prefix of the run id in name, or of its part
 * after the stamp ("a1b2" finds "20261122T031500Z-a1b2c3"). */
static bool id_matches(const char *name, const char *which, bool *exact)
{
	char id[256];
	size_t w = strlen(which);

	cns_runlog_log_run_id(name, id, sizeof(id));
	*exact = !strcmp(id, which);
	if (!strncmp(id, which, w))
		return true;
	return strlen(id) > 17 && id[16] == '-' && !strncmp(id + 17, which, w);
}

int cns_runlog_find(const struct cns_job_conf *job, const char *which,
		    char *path, size_t size, struct cns_error *err)
{
	char dir[4096], want[256] = "";
	struct cns_logfile *logs;
	int n, found = -1, nmatch = 0, rc = 0;
	struct cns_buf list;

	cns_runlog_dir(job, dir, sizeof(dir));
	logs = cns_runlog_list_logs(dir, &n);
	if (n == 0) {
		free(logs);
		return cns_error_set(err, CNS_E_IO,
				     "no run log of job \"%s\" in \"%s\"",
				     job->name, dir);
	}
	if (!strcmp(which, "last")) {
		snprintf(path, size, "%s/%s", dir, logs[n - 1].name);
		free(logs);
		return 0;
	}
	if (!strcmp(which, "last-failed")) {
		struct cns_run_history h;

		if (cns_runlog_history(job, 0, &h, err) < 0) {
			free(logs);
			return -1;
		}
		for (int i = h.n - 1; i >= 0; i--) {
			const struct cns_run_entry *e = &h.runs[i];

			if (e->status == CNS_RUN_OK ||
			    e->status == CNS_RUN_SKIPPED)
				continue;
			snprintf(want, sizeof(want), "%s",
				 e->log ? e->log : e->run_id);
			break;
		}
		cns_run_history_release(&h);
		if (!want[0]) {
			free(logs);
			return cns_error_set(err, CNS_E_IO,
					     "no failed run of job \"%s\" is "
					     "recorded",
					     job->name);
		}
		for (int i = n - 1; i >= 0 && found < 0; i--) {
			bool exact;

			if (!strncmp(logs[i].name, want, strlen(want)) ||
			    (id_matches(logs[i].name, want, &exact) && exact))
				found = i;
		}
		if (found < 0) {
			rc = cns_error_set(err, CNS_E_IO,
					   "the log of the last failed run "
					   "(\"%s\") is no longer in \"%s\"",
					   want, dir);
			cns_error_hint(err, "log_keep decides how long logs "
					    "are kept");
		} else {
			snprintf(path, size, "%s/%s", dir, logs[found].name);
		}
		free(logs);
		return rc;
	}

	cns_buf_init(&list);
	for (int i = n - 1; i >= 0; i--) {
		bool exact;

		if (!id_matches(logs[i].name, which, &exact))
			continue;
		if (exact) {
			found = i;
			nmatch = 1;
			break;
		}
		if (nmatch < 5) {
			char id[256];

			cns_buf_printf(&list, "%s%s", nmatch ? ", " : "",
				       cns_runlog_log_run_id(logs[i].name, id,
							     sizeof(id)));
		}
		nmatch++;
		found = i;
	}
	if (nmatch == 1) {
		snprintf(path, size, "%s/%s", dir, logs[found].name);
	} else if (nmatch == 0) {
		rc = cns_error_set(err, CNS_E_USAGE,
				   "no run of job \"%s\" matches \"%s\"",
				   job->name, which);
		cns_error_hint(err, "\"consolidate history %s\" lists the runs",
			       job->file ? job->file : job->name);
	} else {
		rc = cns_error_set(err, CNS_E_USAGE,
				   "\"%s\" matches %d runs of job \"%s\"",
				   which, nmatch, job->name);
		cns_error_detail(err, "%s%s", list.data,
				 nmatch > 5 ? ", ..." : "");
		cns_error_hint(err, "give more of the run id");
	}
	cns_buf_release(&list);
	free(logs);
	return rc;
}

bool cns_runlog_is_end_line(const char *line, size_t n)
{
	/* The stage comes before the message in both formats, so its first
	 * occurrence is the field, whatever a message says.  Other events
	 * may use stage "end" too; the final line alone carries status. */
	const char *p = memmem(line, n, " stage=", 7);
	const char *q = memmem(line, n, "\"stage\":", 8);

	if (q && (!p || q < p))
		return (size_t)(line + n - q) >= 13 &&
		       !memcmp(q + 8, "\"end\"", 5) &&
		       memmem(line, n, ",\"status\":", 10) != NULL;
	return p && (size_t)(line + n - p) >= 11 && !memcmp(p + 7, "end ", 4) &&
	       memmem(line, n, " status=", 8);
}
