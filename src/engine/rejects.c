/*
 * rejects.c - the rejects file of a run: <rejects_dir>/<job>/<run id>.csv.gz,
 * one CSV record per refused row, and counts per source and reason for the
 * summary at the end of a run.
 *
 * Columns: source,row,origin,column,reason,values.  Sources differ in
 * their columns, so `values` holds the original row as one JSON object,
 * {"name":"value",...} with null for NULL, in the source's column order;
 * it is empty when the row never became columns (a malformed CSV record).
 * Fields are quoted as libcsv writes them, so commas, quotes and line
 * breaks inside values survive.
 *
 * The gzip stream is flushed after every record: a run killed in the
 * middle leaves a file that reads back up to its last row, and a record
 * that cannot be written (a full disk) is known before the chunk that
 * holds its row commits, so the caller can stop the run there.
 */
#include "consolidate/rejects.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <csv.h>
#include <zlib.h>

#include "consolidate/testhook.h"
#include "consolidate/fs.h"
#include "consolidate/runlog.h"

/* Distinct (source, column, reason) groups counted for the summary; more
 * are counted together as "other reasons". */
#define MAX_GROUPS 1024
#define NBUCKETS 2048 /* power of two, above MAX_GROUPS */

struct group {
	char *source;
	char *column;  /* NULL for row rules */
	char *reason;  /* normalized: quoted values and numbers elided */
	char *example; /* the first reason as given */
	int64_t example_row;
	int64_t count;
	uint32_t hash;
};

struct cns_rejects {
	char *path; /* the file, once created; NULL before */
	char *dir;
	char *want; /* where the file will go */

	pthread_mutex_t lock; /* guards everything below */
	gzFile gz;
	bool failed;          /* creating or writing the file failed */
	struct cns_error err; /* the first such failure */
	int64_t count;
	int64_t other; /* rows whose group did not fit */
	struct group *groups;
	int ngroups;
	int buckets[NBUCKETS]; /* index + 1 into groups, 0: empty */
	struct cns_buf line;   /* the record being written */
};

struct cns_rejects *cns_rejects_open(const struct cns_job_conf *job,
				     const char *run_id)
{
	struct cns_rejects *r = cns_xcalloc(1, sizeof(*r));
	struct cns_buf b;

	pthread_mutex_init(&r->lock, NULL);
	cns_buf_init(&r->line);
	cns_error_clear(&r->err);
	cns_buf_init(&b);
	cns_buf_printf(&b, "%s/%s",
		       job->rejects_dir ? job->rejects_dir : "rejects",
		       job->name);
	r->dir = cns_xstrdup(b.data);
	cns_buf_printf(&b, "/%s.csv.gz", run_id);
	r->want = cns_xstrdup(b.data);
	cns_buf_release(&b);
	r->groups = cns_xcalloc(MAX_GROUPS, sizeof(*r->groups));
	return r;
}

/* ---- the file ---- */

static void fail(struct cns_rejects *r, const char *what, const char *why)
{
	if (!r->failed)
		cns_error_set(&r->err, CNS_E_IO,
			      "could not %s the rejects file \"%s\": %s", what,
			      r->want, why);
	r->failed = true;
}

/* The reason a gzip call failed.  errno is read right after the failing
 * call, as zlib itself does for its message; zlib's own text is the
 * fallback, so that a failure never reads "Success". */
static const char *gz_reason(gzFile gz, int saved_errno)
{
	int zerr = Z_OK;
	const char *m = gz ? gzerror(gz, &zerr) : NULL;
	const char *colon;

	if (zerr == Z_ERRNO || !m || !*m)
		return saved_errno ? strerror(saved_errno) : "write error";
	/* "<fd:5>: message": the descriptor means nothing to a reader. */
	colon = strstr(m, ": ");
	return colon ? colon + 2 : m;
}

/* Writes n bytes through zlib and pushes them to the file at once, so
 * that a full disk is known before the chunk holding the row commits. */
static bool put(struct cns_rejects *r, const char *data, size_t n)
{
	int e;

	errno = 0;
	if (cns_fail_now("write")) {
		errno = ENOSPC;
		fail(r, "write", strerror(errno));
		return false;
	}
	if (gzwrite(r->gz, data, (unsigned)n) != (int)n ||
	    gzflush(r->gz, Z_SYNC_FLUSH) != Z_OK) {
		e = errno;
		fail(r, "write", gz_reason(r->gz, e));
		return false;
	}
	return true;
}

static bool create_file(struct cns_rejects *r)
{
	static const char header[] = "source,row,origin,column,reason,values\n";
	int fd;

	if (cns_mkdir_p(r->dir) < 0) {
		fail(r, "create", strerror(errno));
		return false;
	}
	fd = open(r->want, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		fail(r, "create", strerror(errno));
		return false;
	}
	r->gz = gzdopen(fd, "wb6");
	if (!r->gz) {
		close(fd);
		fail(r, "create", strerror(ENOMEM));
		return false;
	}
	r->path = r->want;
	return put(r, header, sizeof(header) - 1);
}

/* Appends one CSV field, quoted the way libcsv writes them. */
static void add_field(struct cns_buf *b, const char *s, size_t n, bool first)
{
	size_t need;

	if (!first)
		cns_buf_addc(b, ',');
	/* At most every byte doubled, plus the two quotes. */
	cns_buf_reserve(b, 2 * n + 3);
	need = csv_write2(b->data + b->len, b->cap - b->len, s, n, '"');
	b->len += need;
	b->data[b->len] = '\0';
}

static void add_cfield(struct cns_buf *b, const char *s)
{
	add_field(b, s ? s : "", s ? strlen(s) : 0, false);
}

static void build_line(struct cns_buf *b, const struct cns_reject *rej)
{
	char row[32];
	struct cns_buf v;

	cns_buf_reset(b);
	add_field(b, rej->source ? rej->source : "",
		  rej->source ? strlen(rej->source) : 0, true);
	snprintf(row, sizeof(row), "%lld", (long long)rej->rownum);
	add_cfield(b, row);
	add_cfield(b, rej->origin);
	add_cfield(b, rej->column);
	add_cfield(b, rej->reason);

	cns_buf_init(&v);
	if (rej->values && rej->colnames && rej->nvalues > 0) {
		cns_buf_addc(&v, '{');
		for (int i = 0; i < rej->nvalues; i++) {
			const struct cns_cell *c = &rej->values[i];

			if (i)
				cns_buf_addc(&v, ',');
			cns_json_add_cstr(
				&v, rej->colnames[i] ? rej->colnames[i] : "?");
			cns_buf_addc(&v, ':');
			if (c->null || !c->data)
				cns_buf_adds(&v, "null");
			else
				cns_json_add_str(&v, c->data, c->len);
		}
		cns_buf_addc(&v, '}');
	}
	add_field(b, v.data ? v.data : "", v.len, false);
	cns_buf_release(&v);
	cns_buf_addc(b, '\n');
}

/* ---- counting ---- */

static uint32_t fnv(uint32_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	/* A separator: ("ab", "c") must not hash as ("a", "bc"). */
	return (h ^ 0xff) * 16777619u;
}

/* Replaces quoted text by "..." and free-standing numbers by "N", so that
 * 'invalid bigint "x1"' and 'invalid bigint "x2"' count as one reason. */
static char *normalize(const char *s)
{
	struct cns_buf b;

	cns_buf_init(&b);
	cns_buf_add(&b, "", 0);
	while (*s) {
		if (*s == '"') {
			const char *end = strchr(s + 1, '"');

			if (end) {
				cns_buf_adds(&b, "\"...\"");
				s = end + 1;
				continue;
			}
		}
		if (*s >= '0' && *s <= '9' &&
		    (b.len == 0 || b.data[b.len - 1] == ' ')) {
			const char *e = s;

			while (*e >= '0' && *e <= '9')
				e++;
			if (*e == '\0' || *e == ' ' || *e == ',' || *e == ')' ||
			    *e == ':') {
				cns_buf_addc(&b, 'N');
				s = e;
				continue;
			}
		}
		cns_buf_addc(&b, *s++);
	}
	return b.data;
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The reason without a leading 'column "COL": ', which the summary already
 * shows as the group's column. */
static const char *without_column(const char *reason, const char *column)
{
	size_t n;

	if (!column || strncmp(reason, "column \"", 8) != 0)
		return reason;
	n = strlen(column);
	if (strncmp(reason + 8, column, n) != 0 ||
	    strncmp(reason + 8 + n, "\": ", 3) != 0)
		return reason;
	return reason + 8 + n + 3;
}

static void count(struct cns_rejects *r, const struct cns_reject *rej)
{
	const char *src = rej->source ? rej->source : "?";
	const char *reason = without_column(
		rej->reason ? rej->reason : "rejected", rej->column);
	char *norm = normalize(reason);
	uint32_t h = fnv(fnv(fnv(2166136261u, src), rej->column), norm);
	unsigned i = h & (NBUCKETS - 1);

	for (;; i = (i + 1) & (NBUCKETS - 1)) {
		struct group *g;

		if (r->buckets[i] == 0) {
			if (r->ngroups == MAX_GROUPS) {
				r->other++;
				break;
			}
			g = &r->groups[r->ngroups];
			g->source = cns_xstrdup(src);
			g->column = rej->column ? cns_xstrdup(rej->column)
						: NULL;
			g->reason = norm;
			norm = NULL;
			g->example = cns_xstrdup(reason);
			g->example_row = rej->rownum;
			g->count = 1;
			g->hash = h;
			r->buckets[i] = ++r->ngroups;
			break;
		}
		g = &r->groups[r->buckets[i] - 1];
		if (g->hash == h && !strcmp(g->source, src) &&
		    same(g->column, rej->column) && !strcmp(g->reason, norm)) {
			g->count++;
			break;
		}
	}
	free(norm);
}

int cns_rejects_add(struct cns_rejects *r, const struct cns_reject *rej,
		    struct cns_error *err)
{
	int rc = 0;

	if (!r || !rej)
		return 0;
	pthread_mutex_lock(&r->lock);
	r->count++;
	count(r, rej);
	if (!r->failed && (r->gz || create_file(r))) {
		build_line(&r->line, rej);
		put(r, r->line.data, r->line.len);
	}
	if (r->failed) {
		cns_error_set(err, r->err.code, "%s", r->err.message);
		rc = -1;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int64_t cns_rejects_count(struct cns_rejects *r)
{
	int64_t n;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	n = r->count;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static int by_count(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	int c;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	/* Ties in a stable, readable order. */
	c = strcmp(x->source, y->source);
	return c ? c : strcmp(x->reason, y->reason);
}

void cns_rejects_summary(struct cns_rejects *r, FILE *out, int limit)
{
	struct group *sorted;
	int n, shown = 0;
	int64_t rest = 0;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	n = r->ngroups;
	sorted = cns_xcalloc((size_t)(n ? n : 1), sizeof(*sorted));
	memcpy(sorted, r->groups, (size_t)n * sizeof(*sorted));
	qsort(sorted, (size_t)n, sizeof(*sorted), by_count);
	for (int i = 0; i < n; i++) {
		const struct group *g = &sorted[i];

		if (limit > 0 && shown >= limit) {
			rest += g->count;
			continue;
		}
		fprintf(out, "%s%s%s: %lld row%s: %s", g->source,
			g->column ? " " : "", g->column ? g->column : "",
			(long long)g->count, g->count == 1 ? "" : "s",
			g->reason);
		if (strcmp(g->reason, g->example))
			fprintf(out, " (first: row %lld, %s)",
				(long long)g->example_row, g->example);
		fputc('\n', out);
		shown++;
	}
	rest += r->other;
	if (rest)
		fprintf(out, "other reasons: %lld\n", (long long)rest);
	pthread_mutex_unlock(&r->lock);
	free(sorted);
}

const char *cns_rejects_path(const struct cns_rejects *r)
{
	return r ? r->path : NULL;
}

int cns_rejects_finish(struct cns_rejects *r, struct cns_error *err)
{
	int rc = 0;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	if (r->gz) {
		int zrc, e;

		errno = 0;
		if (cns_fail_now("write")) {
			gzclose(r->gz);
			fail(r, "write", strerror(ENOSPC));
		} else if ((zrc = gzclose(r->gz)) != Z_OK) {
			e = errno;
			/* The gzFile is gone: no zlib text to ask for. */
			fail(r, "write",
			     zrc == Z_ERRNO && e ? strerror(e) : "write error");
		}
		r->gz = NULL;
	}
	if (r->failed) {
		cns_error_set(err, r->err.code, "%s", r->err.message);
		rc = -1;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int cns_rejects_close(struct cns_rejects *r, struct cns_error *err)
{
	int rc;

	if (!r)
		return 0;
	rc = cns_rejects_finish(r, err);
	for (int i = 0; i < r->ngroups; i++) {
		free(r->groups[i].source);
		free(r->groups[i].column);
		free(r->groups[i].reason);
		free(r->groups[i].example);
	}
	free(r->groups);
	free(r->dir);
	free(r->want);
	cns_buf_release(&r->line);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return rc;
}
