/*
 * runlog.c - what a run leaves behind: the log file of events, its record
 * in runs.jsonl, the "running" marker that lets the next run notice a
 * crash, the metrics file, syslog lines, and the retention that keeps all
 * of it bounded.
 *
 * Every line is written with one write(2) on a descriptor opened with
 * O_APPEND, so a line is never torn, lines of several threads never mix,
 * and a run killed at any instant leaves every line it had written.
 * Every text that reaches a file or syslog first goes through the job's
 * secret scrubber.
 *
 * runs.jsonl is shared with runs that are refused the lock (they append a
 * "skipped" record), so appending and trimming it happen under a flock on
 * a small lock file beside it.
 */
#include "consolidate/runlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "consolidate/testhook.h"
#include "internal.h"

#ifndef CNS_VERSION
#define CNS_VERSION "unknown"
#endif

/* runs.jsonl is cut back to KEEP records once it passes MAX lines. */
#define RUNS_MAX_LINES 2000
#define RUNS_KEEP_LINES 1000

/* syslog keeps the pointer given to openlog(): the ident must outlive the
 * log.  One job per process uses syslog at a time. */
static char syslog_ident[64];

static const char *level_name(enum cns_log_level level, bool lower)
{
	switch (level) {
	case CNS_LOG_DEBUG: return lower ? "debug" : "DEBUG";
	case CNS_LOG_INFO: return lower ? "info" : "INFO";
	case CNS_LOG_WARN: return lower ? "warn" : "WARN";
	case CNS_LOG_ERROR: return lower ? "error" : "ERROR";
	}
	return "?";
}

static int write_all(int fd, const char *data, size_t len)
{
	if (cns_fail_now("write")) {
		errno = ENOSPC;
		return -1;
	}
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

char *cns_run_id_new(int64_t started_us, char *buf, size_t size)
{
	char stamp[32];
	unsigned char rnd[3];

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
		/* No entropy yet (early boot): pid and clock still make
		 * ids of one second unique in practice. */
		uint32_t x = (uint32_t)getpid() * 2654435761u ^
			     (uint32_t)cns_now_ms();

		rnd[0] = (unsigned char)x;
		rnd[1] = (unsigned char)(x >> 8);
		rnd[2] = (unsigned char)(x >> 16);
	}
	snprintf(buf, size, "%s-%02x%02x%02x",
		 cns_runlog_compact(started_us, stamp, sizeof(stamp)), rnd[0],
		 rnd[1], rnd[2]);
	return buf;
}

/* ---- formatting one event ---- */

/* Appends text for a text log line: control characters are escaped so
 * that one event stays one line. */
static void add_text_escaped(struct cns_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n')
			cns_buf_adds(b, "\\n");
		else if (c == '\r')
			cns_buf_adds(b, "\\r");
		else if (c == '\t')
			cns_buf_adds(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			cns_buf_printf(b, "\\x%02x", c);
		else
			cns_buf_addc(b, (char)c);
	}
}

/* Appends a string value of a text line: as it is when it is one plain
 * word, else in double quotes with \" and \\ inside, so that a reader
 * can tell where it ends.  Control characters are escaped either way. */
static void add_text_value(struct cns_buf *b, const char *val)
{
	if (*val && !strpbrk(val, " \"\\\t\n\r")) {
		add_text_escaped(b, val);
		return;
	}
	cns_buf_addc(b, '"');
	for (const char *p = val; *p; p++) {
		char one[2] = { *p, '\0' };

		if (*p == '"' || *p == '\\')
			cns_buf_addc(b, '\\');
		add_text_escaped(b, one);
	}
	cns_buf_addc(b, '"');
}

/* Appends a number value, the same in text and JSON but for a number
 * JSON cannot hold (an infinite or undefined duration): null there. */
static void add_number(struct cns_buf *b, const struct cns_kv *kv, bool json)
{
	switch (kv->type) {
	case CNS_KV_T_STR: break; /* not a number */
	case CNS_KV_T_INT: cns_buf_printf(b, "%lld", kv->v.i); break;
	case CNS_KV_T_SEC:
		if (json && !isfinite(kv->v.sec))
			cns_buf_adds(b, "null");
		else
			cns_buf_printf(b, "%.3f", kv->v.sec);
		break;
	}
}

/* The message and its pairs as a text line (and syslog) writes them:
 * `msg key=value key="quoted value"`. */
static void render_text(struct cns_buf *b, const char *msg,
			const struct cns_kv *kv)
{
	add_text_escaped(b, msg);
	for (bool first = true; kv && kv->key; kv++, first = false) {
		if (*msg || !first)
			cns_buf_addc(b, ' ');
		add_text_escaped(b, kv->key);
		cns_buf_addc(b, '=');
		if (kv->type == CNS_KV_T_STR)
			add_text_value(b, kv->v.s ? kv->v.s : "");
		else
			add_number(b, kv, false);
	}
}

/* The message and its pairs as the members of a JSON line, after its
 * fixed fields: ,"msg":"...","key":value...  Numbers are JSON numbers
 * (null when not finite); a pair never shadows a field of the line. */
static void render_json(struct cns_buf *b, const char *msg,
			const struct cns_kv *kv)
{
	static const char *const reserved[] = { "ts",    "level",  "run",
						"stage", "source", "msg" };

	cns_buf_adds(b, ",\"msg\":");
	cns_json_add_cstr(b, msg);
	for (; kv && kv->key; kv++) {
		struct cns_buf key;

		cns_buf_init(&key);
		cns_buf_adds(&key, kv->key);
		for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]);
		     i++)
			if (!strcmp(reserved[i], kv->key))
				cns_buf_addc(&key, '_');
		cns_buf_addc(b, ',');
		cns_json_add_str(b, key.data, key.len);
		cns_buf_release(&key);
		cns_buf_addc(b, ':');
		if (kv->type == CNS_KV_T_STR)
			cns_json_add_cstr(b, kv->v.s ? kv->v.s : "");
		else
			add_number(b, kv, true);
	}
}

static void format_line(const struct cns_runlog *l, struct cns_buf *b,
			int64_t now_us, enum cns_log_level level,
			const char *stage, const char *source, const char *msg,
			const struct cns_kv *kv)
{
	char ts[40];

	cns_runlog_iso(now_us, true, ts, sizeof(ts));
	if (!l->json) {
		cns_buf_printf(b, "%s %-5s run=%s stage=%s ", ts,
			       level_name(level, false), l->run_id, stage);
		if (source) {
			cns_buf_adds(b, "source=");
			add_text_escaped(b, source);
			cns_buf_addc(b, ' ');
		}
		render_text(b, msg, kv);
	} else {
		cns_buf_printf(b,
			       "{\"ts\":\"%s\",\"level\":\"%s\",\"run\":", ts,
			       level_name(level, true));
		cns_json_add_cstr(b, l->run_id);
		cns_buf_adds(b, ",\"stage\":");
		cns_json_add_cstr(b, stage);
		if (source) {
			cns_buf_adds(b, ",\"source\":");
			cns_json_add_cstr(b, source);
		}
		render_json(b, msg, kv);
		cns_buf_addc(b, '}');
	}
	cns_buf_addc(b, '\n');
}

/* An event with every secret hidden: the message and the string values
 * scrubbed into text (one NUL-ended string after the other), a value
 * whose key names a password hidden whole.  Returns the pairs, malloc'ed,
 * pointing into text; *clean_msg points into text too. */
static struct cns_kv *scrub_event(const char *msg, const struct cns_kv *kv,
				  struct cns_buf *text, const char **clean_msg)
{
	size_t n = 0, *off;
	struct cns_kv *clean;

	while (kv && kv[n].key)
		n++;
	clean = cns_xcalloc(n + 1, sizeof(*clean));
	off = cns_xcalloc(n + 1, sizeof(*off));
	cns_secrets_scrub(msg ? msg : "", text);
	cns_buf_addc(text, '\0');
	for (size_t i = 0; i < n; i++) {
		clean[i] = kv[i];
		if (kv[i].type != CNS_KV_T_STR)
			continue;
		off[i] = text->len;
		if (cns_secret_key(kv[i].key, strlen(kv[i].key)))
			cns_buf_adds(text, "***");
		else
			cns_secrets_scrub(kv[i].v.s ? kv[i].v.s : "", text);
		cns_buf_addc(text, '\0');
	}
	/* Only now: the buffer may have moved while it grew. */
	*clean_msg = text->data;
	for (size_t i = 0; i < n; i++)
		if (kv[i].type == CNS_KV_T_STR)
			clean[i].v.s = text->data + off[i];
	clean[n] = CNS_KV_END;
	free(off);
	return clean;
}

/* Writes one event, secrets scrubbed.  to_syslog: send it to syslog
 * whatever its level (the final line). */
static void emit(struct cns_runlog *l, enum cns_log_level level,
		 const char *stage, const char *source, const char *msg,
		 const struct cns_kv *kv, bool to_syslog)
{
	struct cns_buf text, line;
	struct cns_kv *clean;
	const char *clean_msg;

	cns_buf_init(&text);
	cns_buf_init(&line);
	clean = scrub_event(msg, kv, &text, &clean_msg);
	format_line(l, &line, cns_wall_us(), level, stage ? stage : "run",
		    source, clean_msg, clean);

	pthread_mutex_lock(&l->lock);
	/* A line that cannot be written (a full disk) is kept as the log's
	 * first failure: the run then ends as failed, not as a success
	 * with a log that silently lacks its lines. */
	if (l->fd >= 0 && write_all(l->fd, line.data, line.len) < 0 && !l->werr)
		l->werr = errno ? errno : EIO;
	pthread_mutex_unlock(&l->lock);

	if (l->syslog &&
	    (to_syslog || level == CNS_LOG_WARN || level == CNS_LOG_ERROR)) {
		int prio = level == CNS_LOG_ERROR  ? LOG_ERR
			   : level == CNS_LOG_WARN ? LOG_WARNING
						   : LOG_INFO;

		cns_buf_reset(&line);
		cns_buf_printf(&line, "run=%s stage=%s ", l->run_id,
			       stage ? stage : "run");
		if (source) {
			cns_buf_adds(&line, "source=");
			add_text_escaped(&line, source);
			cns_buf_addc(&line, ' ');
		}
		render_text(&line, clean_msg, clean);
		syslog(LOG_USER | prio, "%s", line.data);
	}
	free(clean);
	cns_buf_release(&text);
	cns_buf_release(&line);
}

void cns_runlog_put(struct cns_runlog *l, enum cns_log_level level,
		    const char *stage, const char *source, const char *msg,
		    const struct cns_kv *kv)
{
	if (l)
		emit(l, level, stage, source, msg, kv, false);
}

/* ---- runs.jsonl ---- */

/* Takes the lock that serializes writers of runs.jsonl.  Returns the
 * descriptor to pass to unlock_runs(), or -1 (the caller goes on without
 * the lock: losing a race is better than losing the record). */
static int lock_runs(const char *dir)
{
	char path[PATH_MAX + 512];
	int fd;

	snprintf(path, sizeof(path), "%s/.runs.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static void unlock_runs(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the flock */
}

/* Cuts runs.jsonl back to its last RUNS_KEEP_LINES lines once it holds
 * more than RUNS_MAX_LINES.  Called with the runs lock held. */
static int trim_runs(const char *dir)
{
	char path[PATH_MAX + 512];
	struct cns_buf b;
	FILE *f;
	char chunk[65536];
	size_t n, lines = 0;
	const char *keep;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/runs.jsonl", dir);
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	cns_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cns_buf_add(&b, chunk, n);
	fclose(f);
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\n')
			lines++;
	if (lines > RUNS_MAX_LINES) {
		size_t skip = lines - RUNS_KEEP_LINES;

		keep = b.data;
		while (skip > 0) {
			keep = strchr(keep, '\n') + 1;
			skip--;
		}
		rc = cns_write_atomic(path, keep,
				      b.len - (size_t)(keep - b.data), 0640);
	}
	cns_buf_release(&b);
	return rc;
}

/* Appends one record (a line without its newline) to runs.jsonl, then
 * trims the file.  The caller holds the runs lock. */
static int append_run_locked(const char *dir, const struct cns_buf *rec,
			     struct cns_error *err)
{
	char path[PATH_MAX + 512];
	int fd, rc = 0;
	struct cns_buf line;

	snprintf(path, sizeof(path), "%s/runs.jsonl", dir);
	cns_buf_init(&line);
	cns_buf_add(&line, rec->data, rec->len);
	cns_buf_addc(&line, '\n');
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || write_all(fd, line.data, line.len) < 0)
		rc = cns_error_set(err, CNS_E_IO, "could not write \"%s\": %s",
				   path, strerror(errno));
	/* A network file system may report a failed write only here. */
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = cns_error_set(err, CNS_E_IO, "could not write \"%s\": %s",
				   path, strerror(errno));
	if (rc == 0 && trim_runs(dir) < 0)
		rc = cns_error_set(err, CNS_E_IO, "could not trim \"%s\": %s",
				   path, strerror(errno));
	cns_buf_release(&line);
	return rc;
}

static int append_run(const char *dir, const struct cns_buf *rec,
		      struct cns_error *err)
{
	int lk = lock_runs(dir);
	int rc = append_run_locked(dir, rec, err);

	unlock_runs(lk);
	return rc;
}

/* True when runs.jsonl already holds a record of run_id. */
static bool run_recorded(const struct cns_job_conf *job, const char *run_id)
{
	struct cns_run_history h;
	bool found = false;

	if (cns_runlog_history(job, 0, &h, NULL) < 0)
		return false;
	for (int i = 0; i < h.n && !found; i++)
		found = !strcmp(h.runs[i].run_id, run_id);
	cns_run_history_release(&h);
	return found;
}

/* Seconds to the millisecond, or null when unknown. */
static json_t *seconds_json(double s)
{
	if (s < 0)
		return json_null();
	return json_real(round(s * 1000) / 1000);
}

/* A watermark as given: a JSON value when it is one, else as a string,
 * so that a malformed watermark never breaks the record. */
static json_t *watermark_json(const char *wm)
{
	json_t *v;

	if (!wm)
		return json_null();
	v = json_loads(wm, JSON_DECODE_ANY, NULL);
	return v ? v : cns_json_ctext(wm);
}

/* A record filled in with defaults: what the caller left zero. */
struct record {
	const char *run_id, *job, *host, *error, *log, *file;
	enum cns_run_status status;
	long pid;
	int64_t started_us, ended_us; /* ended_us < 0: unknown */
	int exit_code;                /* < 0: unknown */
	int nsources;
	const struct cns_source_stats *sources;
	const char *const *wm_before, *const *wm_after;
	const char *rejects_file;
	const char *kind; /* NULL: an ordinary run */
};

double cns_source_seconds(const struct cns_source_stats *s)
{
	if (s->started_ms <= 0 || s->finished_ms < s->started_ms)
		return -1;
	return (double)(s->finished_ms - s->started_ms) / 1000.0;
}

/* The record as one line of runs.jsonl (without the newline), appended
 * to b.  Members in this order, as every version wrote them. */
static void build_record(const struct record *r, struct cns_buf *b)
{
	json_t *o = cns_json_checked(json_object()), *srcs;
	char ts[40];

	cns_json_set(o, "run_id", cns_json_ctext(r->run_id));
	cns_json_set(o, "job", cns_json_ctext(r->job));
	if (r->kind)
		cns_json_set(o, "kind", cns_json_ctext(r->kind));
	cns_json_set(o, "host", cns_json_ctext(r->host));
	cns_json_set(o, "pid", json_integer(r->pid));
	cns_json_set(o, "start",
		     cns_json_ctext(cns_runlog_iso(r->started_us, true, ts,
						   sizeof(ts))));
	if (r->ended_us >= 0) {
		cns_json_set(o, "end",
			     cns_json_ctext(cns_runlog_iso(r->ended_us, true,
							   ts, sizeof(ts))));
		cns_json_set(o, "duration_s",
			     seconds_json(r->ended_us > r->started_us
						  ? (double)(r->ended_us -
							     r->started_us) /
							    1e6
						  : 0));
	} else {
		cns_json_set(o, "end", json_null());
		cns_json_set(o, "duration_s", json_null());
	}
	cns_json_set(o, "status",
		     cns_json_ctext(cns_run_status_name(r->status)));
	cns_json_set(o, "exit_code",
		     r->exit_code >= 0 ? json_integer(r->exit_code)
				       : json_null());
	srcs = cns_json_checked(json_object());
	for (int i = 0; i < r->nsources && r->sources; i++) {
		const struct cns_source_stats *s = &r->sources[i];
		json_t *so = cns_json_checked(json_object());

		cns_json_set(so, "status",
			     cns_json_ctext(cns_source_state_name(s->state)));
		cns_json_set(so, "read", json_integer(s->read));
		cns_json_set(so, "filtered", json_integer(s->filtered));
		cns_json_set(so, "rejected", json_integer(s->rejected));
		cns_json_set(so, "loaded", json_integer(s->loaded));
		cns_json_set(so, "written", json_integer(s->written));
		cns_json_set(so, "chunks", json_integer(s->chunks));
		cns_json_set(so, "bytes", json_integer(s->bytes));
		cns_json_set(so, "seconds",
			     seconds_json(cns_source_seconds(s)));
		cns_json_set(so, "watermark_before",
			     watermark_json(r->wm_before ? r->wm_before[i]
							 : NULL));
		cns_json_set(so, "watermark_after",
			     watermark_json(r->wm_after ? r->wm_after[i]
							: NULL));
		cns_json_set(srcs, s->name ? s->name : "?", so);
	}
	cns_json_set(o, "sources", srcs);
	if (r->error) {
		struct cns_buf e;

		cns_buf_init(&e);
		cns_secrets_scrub(r->error, &e);
		cns_json_set(o, "error", cns_json_text(e.data, e.len));
		cns_buf_release(&e);
	} else {
		cns_json_set(o, "error", json_null());
	}
	cns_json_set(o, "file", cns_json_ctext(r->file));
	cns_json_set(o, "log", cns_json_ctext(r->log));
	if (r->rejects_file)
		cns_json_set(o, "rejects_file",
			     cns_json_ctext(r->rejects_file));
	cns_json_set(o, "version", cns_json_ctext(CNS_VERSION));
	cns_json_dump(o, b);
	json_decref(o);
}

/* ---- the "running" marker ---- */

static int write_marker(const struct cns_runlog *l)
{
	char path[PATH_MAX + 512], ts[40];
	json_t *o = cns_json_checked(json_object());
	struct cns_buf b;
	int rc;

	snprintf(path, sizeof(path), "%s/running", l->dir);
	cns_json_set(o, "run_id", cns_json_ctext(l->run_id));
	cns_json_set(o, "pid", json_integer(getpid()));
	cns_json_set(o, "host", cns_json_ctext(l->host));
	cns_json_set(o, "start",
		     cns_json_ctext(cns_runlog_iso(l->started_us, true, ts,
						   sizeof(ts))));
	cns_json_set(o, "started_us", json_integer(l->started_us));
	cns_json_set(o, "log", cns_json_ctext(l->name));
	cns_buf_init(&b);
	cns_json_dump(o, &b);
	json_decref(o);
	cns_buf_addc(&b, '\n');
	rc = cns_write_atomic(path, b.data, b.len, 0640);
	cns_buf_release(&b);
	return rc;
}

/* Removes the marker when it is this run's (a later run may have
 * replaced it if this one was presumed dead). */
static void remove_marker(const struct cns_runlog *l)
{
	struct cns_run_marker m;
	char path[PATH_MAX + 512];

	if (cns_runlog_marker(l->job, &m, NULL) == 1 &&
	    !strcmp(m.run_id, l->run_id)) {
		snprintf(path, sizeof(path), "%s/running", l->dir);
		unlink(path);
	}
}

/* An earlier run left its marker and is gone: record it as crashed (once:
 * it may have written its record and died before removing the marker),
 * and say so at the end of its own log. */
static void record_crash(struct cns_runlog *l, const struct cns_run_marker *m,
			 bool *recorded)
{
	struct record r;
	struct cns_buf rec, err_text;
	struct cns_error err;
	char logpath[PATH_MAX + 512];
	int lk;

	*recorded = false;
	memset(&r, 0, sizeof(r));
	cns_buf_init(&rec);
	cns_buf_init(&err_text);
	cns_buf_printf(&err_text,
		       "the run ended without a record: process %ld on \"%s\" "
		       "is gone",
		       m->pid, m->host);
	r.run_id = m->run_id;
	r.job = l->job->name;
	r.host = m->host;
	r.pid = m->pid;
	r.started_us = m->started_us;
	r.ended_us = -1;
	r.exit_code = -1;
	r.status = CNS_RUN_CRASHED;
	r.error = err_text.data;
	r.file = l->job->file;
	r.log = m->log[0] ? m->log : NULL;
	build_record(&r, &rec);

	lk = lock_runs(l->dir);
	if (!run_recorded(l->job, m->run_id)) {
		cns_error_clear(&err);
		*recorded = append_run_locked(l->dir, &rec, &err) == 0;
	}
	unlock_runs(lk);

	if (*recorded && m->log[0] && !strchr(m->log, '/')) {
		int fd;

		snprintf(logpath, sizeof(logpath), "%s/%s", l->dir, m->log);
		fd = open(logpath, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0) {
			struct cns_runlog other = *l;
			struct cns_buf line;

			/* Written as that run's line, in its log. */
			snprintf(other.run_id, sizeof(other.run_id), "%s",
				 m->run_id);
			cns_buf_init(&line);
			cns_buf_reset(&rec);
			cns_buf_printf(&rec,
				       "run presumed crashed: no end line, "
				       "process %ld is gone",
				       m->pid);
			format_line(&other, &line, cns_wall_us(), CNS_LOG_ERROR,
				    "end", NULL, rec.data,
				    (const struct cns_kv[]){
					    CNS_KV_STR("status", "crashed"),
					    CNS_KV_STR("found_by", l->run_id),
					    CNS_KV_END });
			(void)write_all(fd, line.data, line.len);
			close(fd);
			cns_buf_release(&line);
		}
	}
	cns_buf_release(&rec);
	cns_buf_release(&err_text);
}

/* ---- open ---- */

struct cns_runlog *cns_runlog_open(const struct cns_job_conf *job,
				   const char *run_id, int64_t started_us,
				   struct cns_error *err)
{
	struct cns_runlog *l;
	struct cns_run_marker m;
	char stamp[32];
	bool crashed = false, alive = false;
	int have_marker;
	struct cns_buf b;

	l = cns_xcalloc(1, sizeof(*l));
	l->job = job;
	l->fd = -1;
	l->started_us = started_us;
	l->json = job->log_format == CNS_LOGFMT_JSON;
	snprintf(l->run_id, sizeof(l->run_id), "%s", run_id);
	if (gethostname(l->host, sizeof(l->host) - 1) < 0)
		snprintf(l->host, sizeof(l->host), "unknown");
	pthread_mutex_init(&l->lock, NULL);
	cns_runlog_dir(job, l->dir, sizeof(l->dir));

	/* The run id normally starts with the same UTC stamp: do not write
	 * it twice in the file name. */
	cns_runlog_compact(started_us, stamp, sizeof(stamp));
	if (!strncmp(run_id, stamp, strlen(stamp)) &&
	    run_id[strlen(stamp)] == '-')
		snprintf(l->name, sizeof(l->name), "%s.log", run_id);
	else
		snprintf(l->name, sizeof(l->name), "%s-%s.log", stamp, run_id);
	if (strchr(run_id, '/') || !*run_id) {
		cns_error_set(err, CNS_E_INTERNAL, "invalid run id \"%s\"",
			      run_id);
		goto fail;
	}
	snprintf(l->path, sizeof(l->path), "%s/%s", l->dir, l->name);

	if (cns_mkdir_p(l->dir) < 0) {
		cns_error_set(err, CNS_E_IO,
			      "could not create the log folder \"%s\": %s",
			      l->dir, strerror(errno));
		goto fail;
	}
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0) {
		cns_error_set(err, CNS_E_IO,
			      "could not open the run log \"%s\": %s", l->path,
			      strerror(errno));
		goto fail;
	}
	if (job->syslog) {
		snprintf(syslog_ident, sizeof(syslog_ident), "%s", job->name);
		openlog(syslog_ident, LOG_PID, LOG_USER);
		l->syslog = true;
	}

	have_marker = cns_runlog_marker(job, &m, NULL);
	if (have_marker == 1 && strcmp(m.run_id, l->run_id) != 0) {
		/* The caller holds the job's lock, so a marker from another
		 * host belongs to a run that is over. */
		alive = cns_runlog_marker_alive(&m, false);
		if (!alive)
			record_crash(l, &m, &crashed);
	}
	if (write_marker(l) < 0) {
		cns_error_set(err, CNS_E_IO,
			      "could not write the run marker in \"%s\": %s",
			      l->dir, strerror(errno));
		goto fail;
	}

	cns_runlog_log(l, CNS_LOG_INFO, "start", NULL, "run started",
		       CNS_KV_STR("job", job->name),
		       CNS_KV_STR("file", job->file),
		       CNS_KV_STR("host", l->host), CNS_KV_INT("pid", getpid()),
		       CNS_KV_STR("version", CNS_VERSION));
	cns_buf_init(&b);
	if (crashed) {
		cns_buf_printf(&b,
			       "earlier run %s ended without a record "
			       "(process %ld is gone): recorded as crashed",
			       m.run_id, m.pid);
		cns_runlog_log(l, CNS_LOG_WARN, "start", NULL, b.data,
			       CNS_KV_STR("crashed_run", m.run_id));
	} else if (alive) {
		cns_buf_printf(&b,
			       "run %s still appears to be running "
			       "(process %ld)",
			       m.run_id, m.pid);
		cns_runlog_put(l, CNS_LOG_WARN, "start", NULL, b.data, NULL);
	}
	cns_buf_release(&b);
	return l;
fail:
	cns_runlog_close(l);
	return NULL;
}

const char *cns_runlog_path(const struct cns_runlog *l)
{
	return l->path;
}

int cns_runlog_check(struct cns_runlog *l, struct cns_error *err)
{
	int e;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->lock);
	e = l->werr;
	pthread_mutex_unlock(&l->lock);
	if (!e)
		return 0;
	return cns_error_set(err, CNS_E_IO,
			     "could not write the run log \"%s\": %s", l->path,
			     strerror(e));
}

void cns_runlog_close(struct cns_runlog *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->syslog)
		closelog();
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* ---- finish ---- */

static void fill_record(const struct cns_runlog *l,
			const struct cns_run_record *rec, struct record *r)
{
	memset(r, 0, sizeof(*r));
	r->run_id = rec->run_id ? rec->run_id : l->run_id;
	r->job = rec->job ? rec->job : l->job->name;
	r->host = rec->host ? rec->host : l->host;
	r->pid = rec->pid ? rec->pid : (long)getpid();
	r->started_us = rec->started_us ? rec->started_us : l->started_us;
	r->ended_us = rec->ended_us ? rec->ended_us : cns_wall_us();
	r->status = rec->status != CNS_RUN_UNKNOWN ? rec->status
		    : rec->error                   ? CNS_RUN_FAILED
						   : CNS_RUN_OK;
	r->exit_code = rec->exit_code;
	r->error = rec->error;
	r->nsources = rec->sources ? rec->nsources : 0;
	r->sources = rec->sources;
	r->wm_before = rec->watermark_before;
	r->wm_after = rec->watermark_after;
	r->file = l->job->file;
	r->log = l->name;
	r->kind = rec->kind;
}

int cns_runlog_finish(struct cns_runlog *l, const struct cns_run_record *rec,
		      struct cns_error *err)
{
	struct record r;
	struct cns_buf b;
	struct cns_error merr;
	struct cns_run_record mrec;
	char rejects[PATH_MAX];
	int64_t read = 0, loaded = 0, rejected = 0;
	bool ok;
	int rc = 0;

	fill_record(l, rec, &r);
	ok = r.status == CNS_RUN_OK;
	cns_error_clear(&merr);
	/* The metrics file before the end line and the record, so that a
	 * metrics file that cannot be written makes the run failed in
	 * both, as in the exit status. */
	if (l->job->metrics_file) {
		memset(&mrec, 0, sizeof(mrec));
		mrec.run_id = r.run_id;
		mrec.job = r.job;
		mrec.host = r.host;
		mrec.pid = r.pid;
		mrec.started_us = r.started_us;
		mrec.ended_us = r.ended_us;
		mrec.status = r.status;
		mrec.exit_code = r.exit_code;
		mrec.nsources = r.nsources;
		mrec.sources = r.sources;
		mrec.error = r.error;
		if (cns_metrics_write(l->job, &mrec, &merr) < 0) {
			emit(l, CNS_LOG_ERROR, "metrics", NULL, merr.message,
			     NULL, false);
			cns_error_set(err, merr.code, "%s", merr.message);
			rc = -1;
		}
	}
	/* A log that lost lines (a full disk) fails a run that would
	 * otherwise have succeeded. */
	if (rc == 0 && cns_runlog_check(l, err) < 0)
		rc = -1;
	if (rc < 0 && ok) {
		ok = false;
		r.status = CNS_RUN_FAILED;
		r.exit_code = cns_error_exit_code(err ? err->code : CNS_E_IO);
		r.error = err ? err->message
			      : "could not write the run's files";
	}
	if (l->job->rejects_dir) {
		snprintf(rejects, sizeof(rejects), "%s/%s/%s.csv.gz",
			 l->job->rejects_dir, l->job->name, r.run_id);
		if (access(rejects, F_OK) == 0)
			r.rejects_file = rejects;
	}

	cns_buf_init(&b);
	for (int i = 0; i < r.nsources; i++) {
		const struct cns_source_stats *s = &r.sources[i];
		double secs = cns_source_seconds(s);
		struct cns_kv kv[] = {
			CNS_KV_STR("status", cns_source_state_name(s->state)),
			CNS_KV_INT("read", s->read),
			CNS_KV_INT("filtered", s->filtered),
			CNS_KV_INT("rejected", s->rejected),
			CNS_KV_INT("loaded", s->loaded),
			CNS_KV_INT("written", s->written),
			CNS_KV_INT("chunks", s->chunks),
			CNS_KV_INT("bytes", s->bytes),
			/* Left out when the source did not both start and
			 * finish. */
			secs >= 0 ? CNS_KV_SEC("seconds", secs) : CNS_KV_END,
			CNS_KV_END
		};

		read += s->read;
		loaded += s->loaded;
		rejected += s->rejected;
		emit(l,
		     s->state == CNS_SRC_FAILED ? CNS_LOG_ERROR : CNS_LOG_INFO,
		     "summary", s->name,
		     s->state == CNS_SRC_DONE ? "source done" : "source ended",
		     kv, false);
	}

	cns_buf_reset(&b);
	if (ok) {
		cns_buf_adds(&b, "run succeeded");
	} else {
		/* The whole error, DETAIL and HINT included: this line is
		 * the one place the log says why the run ended. */
		cns_buf_printf(&b, "run %s", cns_run_status_name(r.status));
		if (r.error)
			cns_buf_printf(&b, ": %s", r.error);
	}
	{
		struct cns_kv kv[8];
		int n = 0;

		kv[n++] = CNS_KV_STR("status", cns_run_status_name(r.status));
		if (r.exit_code >= 0)
			kv[n++] = CNS_KV_INT("exit", r.exit_code);
		kv[n++] = CNS_KV_SEC("seconds",
				     (double)(r.ended_us - r.started_us) / 1e6);
		kv[n++] = CNS_KV_INT("read", read);
		kv[n++] = CNS_KV_INT("loaded", loaded);
		kv[n++] = CNS_KV_INT("rejected", rejected);
		if (r.rejects_file)
			kv[n++] = CNS_KV_STR("rejects", r.rejects_file);
		kv[n] = CNS_KV_END;
		emit(l,
		     ok || r.status == CNS_RUN_SKIPPED ? CNS_LOG_INFO
						       : CNS_LOG_ERROR,
		     "end", NULL, b.data, kv, true);
	}

	/* The end line itself may be the one that finds the disk full. */
	if (rc == 0 && cns_runlog_check(l, err) < 0) {
		rc = -1;
		if (ok) {
			r.status = CNS_RUN_FAILED;
			r.exit_code = cns_error_exit_code(CNS_E_IO);
			r.error = err ? err->message
				      : "could not write the log";
		}
	}
	cns_buf_reset(&b);
	build_record(&r, &b);
	if (append_run(l->dir, &b, err) < 0)
		rc = -1;
	cns_buf_release(&b);

	cns_runlog_retain(l);
	remove_marker(l);
	return rc;
}

/* ---- a run refused the lock ---- */

int cns_runlog_record_skip(const struct cns_job_conf *job,
			   const struct cns_run_record *rec,
			   struct cns_error *err)
{
	struct cns_runlog l;
	struct record r;
	struct cns_buf b, line;
	struct cns_logfile *logs;
	struct cns_kv pid[2];
	int n, rc;

	/* A throwaway log object: the newest log's line is written as this
	 * skipped run's own. */
	memset(&l, 0, sizeof(l));
	l.job = job;
	l.fd = -1;
	l.json = job->log_format == CNS_LOGFMT_JSON;
	l.started_us = rec->started_us ? rec->started_us : cns_wall_us();
	if (gethostname(l.host, sizeof(l.host) - 1) < 0)
		snprintf(l.host, sizeof(l.host), "unknown");
	cns_runlog_dir(job, l.dir, sizeof(l.dir));
	if (rec->run_id)
		snprintf(l.run_id, sizeof(l.run_id), "%s", rec->run_id);
	else
		cns_run_id_new(l.started_us, l.run_id, sizeof(l.run_id));
	if (cns_mkdir_p(l.dir) < 0)
		return cns_error_set(err, CNS_E_IO,
				     "could not create the log folder \"%s\": "
				     "%s",
				     l.dir, strerror(errno));
	fill_record(&l, rec, &r);
	if (rec->status == CNS_RUN_UNKNOWN)
		r.status = CNS_RUN_SKIPPED;
	if (!rec->ended_us)
		r.ended_us = r.started_us;
	r.log = NULL;
	pid[0] = CNS_KV_INT("pid", r.pid);
	pid[1] = CNS_KV_END;

	cns_buf_init(&b);
	cns_buf_init(&line);
	cns_buf_printf(&b, "run %s", cns_run_status_name(r.status));
	if (r.error)
		cns_buf_printf(&b, ": %.*s", (int)strcspn(r.error, "\n"),
			       r.error);
	cns_secrets_scrub(b.data, &line);
	logs = cns_runlog_list_logs(l.dir, &n);
	for (int i = n - 1; i >= 0; i--) {
		char path[PATH_MAX + 512];
		int fd;

		if (logs[i].gz)
			continue;
		snprintf(path, sizeof(path), "%s/%s", l.dir, logs[i].name);
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0)
			break;
		cns_buf_reset(&b);
		format_line(&l, &b, cns_wall_us(), CNS_LOG_WARN, "skip", NULL,
			    line.data, pid);
		(void)write_all(fd, b.data, b.len);
		close(fd);
		break;
	}
	free(logs);
	/* A job that keeps being skipped has a stuck run: worth a line
	 * where the operators look. */
	if (job->syslog) {
		snprintf(syslog_ident, sizeof(syslog_ident), "%s", job->name);
		openlog(syslog_ident, LOG_PID, LOG_USER);
		cns_buf_reset(&b);
		render_text(&b, line.data, pid);
		syslog(LOG_USER | LOG_WARNING, "run=%s stage=skip %s", l.run_id,
		       b.data);
		closelog();
	}

	cns_buf_reset(&b);
	build_record(&r, &b);
	rc = append_run(l.dir, &b, err);
	cns_buf_release(&b);
	cns_buf_release(&line);
	return rc;
}
