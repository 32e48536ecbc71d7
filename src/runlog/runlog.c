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
#include <stdarg.h>
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

struct kv {
	const char *key;
	size_t klen;
	const char *val; /* raw, quotes included when quoted */
	size_t vlen;
	bool quoted;
};

#define MAX_KV 32

static bool key_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && ((c >= '0' && c <= '9') || c == '.' || c == '-'));
}

/* True when s is nothing but blank-separated key=value pairs (a value may
 * be "quoted", with \" and \\ inside); fills kv. */
static bool parse_kvs(const char *s, struct kv *kv, int *n)
{
	*n = 0;
	while (*s) {
		struct kv *k;

		if (*n == MAX_KV || !key_char(*s, true))
			return false;
		k = &kv[(*n)++];
		k->key = s;
		while (key_char(*s, false))
			s++;
		k->klen = (size_t)(s - k->key);
		if (*s++ != '=')
			return false;
		k->val = s;
		k->quoted = *s == '"';
		if (k->quoted) {
			for (s++; *s && *s != '"'; s++)
				if (*s == '\\' && s[1])
					s++;
			if (*s != '"')
				return false;
			s++;
		} else {
			while (*s && *s != ' ')
				s++;
		}
		k->vlen = (size_t)(s - k->val);
		if (*s && *s != ' ')
			return false;
		while (*s == ' ')
			s++;
	}
	return true;
}

/* Splits "message key=value ..." at the first word from which the rest is
 * all pairs.  Returns the length of the message part. */
static size_t split_message(const char *s, struct kv *kv, int *n)
{
	for (const char *p = s; *p; p++) {
		if ((p == s || p[-1] == ' ') && *p != ' ' &&
		    parse_kvs(p, kv, n)) {
			size_t len = (size_t)(p - s);

			while (len > 0 && s[len - 1] == ' ')
				len--;
			return len;
		}
	}
	*n = 0;
	return strlen(s);
}

static bool is_json_number(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return false;
	if (s[i] == '0')
		i++;
	else
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	if (i < n && s[i] == '.') {
		if (++i >= n || s[i] < '0' || s[i] > '9')
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n;
}

static void add_json_kv(struct cns_buf *b, const struct kv *k)
{
	static const char *const reserved[] = { "ts",    "level",  "run",
						"stage", "source", "msg" };

	cns_buf_addc(b, ',');
	cns_buf_addc(b, '"');
	cns_buf_add(b, k->key, k->klen);
	/* A pair must not shadow a field of the line. */
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == k->klen &&
		    !memcmp(reserved[i], k->key, k->klen))
			cns_buf_addc(b, '_');
	cns_buf_adds(b, "\":");
	if (k->quoted) {
		struct cns_buf v;

		cns_buf_init(&v);
		cns_buf_add(&v, "", 0);
		for (size_t i = 1; i + 1 < k->vlen; i++) {
			if (k->val[i] == '\\' && i + 2 < k->vlen)
				i++;
			cns_buf_addc(&v, k->val[i]);
		}
		cns_json_add_str(b, v.data, v.len);
		cns_buf_release(&v);
	} else if (is_json_number(k->val, k->vlen)) {
		cns_buf_add(b, k->val, k->vlen);
	} else {
		cns_json_add_str(b, k->val, k->vlen);
	}
}

static void format_line(const struct cns_runlog *l, struct cns_buf *b,
			int64_t now_us, enum cns_log_level level,
			const char *stage, const char *source, const char *msg)
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
		add_text_escaped(b, msg);
	} else {
		struct kv kv[MAX_KV];
		int nkv;
		size_t mlen = split_message(msg, kv, &nkv);

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
		cns_buf_adds(b, ",\"msg\":");
		cns_json_add_str(b, msg, mlen);
		for (int i = 0; i < nkv; i++)
			add_json_kv(b, &kv[i]);
		cns_buf_addc(b, '}');
	}
	cns_buf_addc(b, '\n');
}

/* Writes one event whose message is already formatted.  to_syslog:
 * send it to syslog whatever its level (the final line). */
static void emit(struct cns_runlog *l, enum cns_log_level level,
		 const char *stage, const char *source, const char *raw,
		 bool to_syslog)
{
	struct cns_buf msg, line;

	cns_buf_init(&msg);
	cns_buf_init(&line);
	cns_secrets_scrub(raw, &msg);
	format_line(l, &line, cns_wall_us(), level, stage ? stage : "run",
		    source, msg.data);

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
		add_text_escaped(&line, msg.data);
		syslog(LOG_USER | prio, "%s", line.data);
	}
	cns_buf_release(&msg);
	cns_buf_release(&line);
}

static void emitf(struct cns_runlog *l, enum cns_log_level level,
		  const char *stage, const char *source, bool to_syslog,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Formats the message, then emit(). */
static void vemit(struct cns_runlog *l, enum cns_log_level level,
		  const char *stage, const char *source, bool to_syslog,
		  const char *fmt, va_list ap)
{
	struct cns_buf b;

	cns_buf_init(&b);
	cns_buf_vprintf(&b, fmt, ap);
	emit(l, level, stage, source, b.data, to_syslog);
	cns_buf_release(&b);
}

static void emitf(struct cns_runlog *l, enum cns_log_level level,
		  const char *stage, const char *source, bool to_syslog,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vemit(l, level, stage, source, to_syslog, fmt, ap);
	va_end(ap);
}

void cns_runlog_emitf(struct cns_runlog *l, enum cns_log_level level,
		      const char *stage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vemit(l, level, stage, NULL, false, fmt, ap);
	va_end(ap);
}

void cns_runlog_event(struct cns_runlog *l, enum cns_log_level level,
		      const char *stage, const char *source, const char *fmt,
		      ...)
{
	va_list ap;

	if (!l)
		return;
	va_start(ap, fmt);
	vemit(l, level, stage, source, false, fmt, ap);
	va_end(ap);
}

/* Appends " key=value" with the value quoted when it needs it, for the
 * events this file writes itself. */
static void add_pair(struct cns_buf *b, const char *key, const char *val)
{
	cns_buf_printf(b, " %s=", key);
	if (!val)
		val = "";
	if (*val && !strpbrk(val, " \"\\\t\n\r")) {
		cns_buf_adds(b, val);
		return;
	}
	cns_buf_addc(b, '"');
	for (; *val; val++) {
		if (*val == '"' || *val == '\\')
			cns_buf_addc(b, '\\');
		cns_buf_addc(b, *val);
	}
	cns_buf_addc(b, '"');
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
				       "process %ld is gone status=crashed",
				       m->pid);
			add_pair(&rec, "found_by", l->run_id);
			format_line(&other, &line, cns_wall_us(), CNS_LOG_ERROR,
				    "end", NULL, rec.data);
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

	cns_buf_init(&b);
	cns_buf_adds(&b, "run started");
	add_pair(&b, "job", job->name);
	add_pair(&b, "file", job->file);
	add_pair(&b, "host", l->host);
	cns_buf_printf(&b, " pid=%ld", (long)getpid());
	add_pair(&b, "version", CNS_VERSION);
	emit(l, CNS_LOG_INFO, "start", NULL, b.data, false);
	if (crashed)
		emitf(l, CNS_LOG_WARN, "start", NULL, false,
		      "earlier run %s ended without a record (process %ld is "
		      "gone): recorded as crashed crashed_run=%s",
		      m.run_id, m.pid, m.run_id);
	else if (alive)
		emitf(l, CNS_LOG_WARN, "start", NULL, false,
		      "run %s still appears to be running (process %ld)",
		      m.run_id, m.pid);
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
			     false);
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

		read += s->read;
		loaded += s->loaded;
		rejected += s->rejected;
		cns_buf_reset(&b);
		cns_buf_printf(&b,
			       "source %s status=%s read=%lld filtered=%lld "
			       "rejected=%lld loaded=%lld written=%lld "
			       "chunks=%lld bytes=%lld",
			       s->state == CNS_SRC_DONE ? "done" : "ended",
			       cns_source_state_name(s->state),
			       (long long)s->read, (long long)s->filtered,
			       (long long)s->rejected, (long long)s->loaded,
			       (long long)s->written, (long long)s->chunks,
			       (long long)s->bytes);
		if (secs >= 0)
			cns_buf_printf(&b, " seconds=%.3f", secs);
		emit(l,
		     s->state == CNS_SRC_FAILED ? CNS_LOG_ERROR : CNS_LOG_INFO,
		     "summary", s->name, b.data, false);
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
	cns_buf_printf(&b, " status=%s", cns_run_status_name(r.status));
	if (r.exit_code >= 0)
		cns_buf_printf(&b, " exit=%d", r.exit_code);
	cns_buf_printf(&b, " seconds=%.3f read=%lld loaded=%lld rejected=%lld",
		       (double)(r.ended_us - r.started_us) / 1e6,
		       (long long)read, (long long)loaded, (long long)rejected);
	if (r.rejects_file)
		add_pair(&b, "rejects", r.rejects_file);
	emit(l,
	     ok || r.status == CNS_RUN_SKIPPED ? CNS_LOG_INFO : CNS_LOG_ERROR,
	     "end", NULL, b.data, true);

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

	cns_buf_init(&b);
	cns_buf_init(&line);
	cns_buf_printf(&b, "run %s", cns_run_status_name(r.status));
	if (r.error)
		cns_buf_printf(&b, ": %.*s", (int)strcspn(r.error, "\n"),
			       r.error);
	cns_buf_printf(&b, " pid=%ld", r.pid);
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
			    line.data);
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
		syslog(LOG_USER | LOG_WARNING, "run=%s stage=skip %s", l.run_id,
		       line.data);
		closelog();
	}

	cns_buf_reset(&b);
	build_record(&r, &b);
	rc = append_run(l.dir, &b, err);
	cns_buf_release(&b);
	cns_buf_release(&line);
	return rc;
}
