/*
 * test_pipeline.c - the pipeline without a server: an in-memory target
 * (target.h) and a source driver (source.h) that yield known rows, each
 * able to fail its Nth call of every kind, or to stop the run there.
 *
 * For every N up to the calls of a clean run, in append, upsert and
 * replace mode, with one to three sources in parallel: the run either
 * succeeds with exactly the rows of every source, or fails with an error
 * naming the call that failed; no chunk is in the target twice or in
 * part; a replace that failed leaves the old rows; every source and
 * loader opened is closed, the statistics count exactly the chunks the
 * target holds, and no thread is left running.  A run whose calls block
 * (a read, a load) ends on a cancel, through the canceller thread.  A
 * commit whose acknowledgement was lost is never loaded again.  The
 * same for the k-th thread start of a run, for every k (builds with test
 * hooks: the sanitizer builds).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consolidate/config.h"
#include "consolidate/pipeline.h"
#include "consolidate/source.h"
#include "consolidate/target.h"
#include "consolidate/testhook.h"
#include "consolidate/transform.h"

/* ---- the calls that can fail ---- */

enum call {
	SRC_OPEN,
	SRC_DESCRIBE,
	SRC_NEXT,
	TGT_PREPARE,
	TGT_OPEN,
	TGT_LOAD,
	TGT_FINISH,
	TGT_SWAP,
	NCALLS
};

/* Also what the error of a failed call says. */
static const char *const call_names[NCALLS] = {
	[SRC_OPEN] = "source open",        [SRC_DESCRIBE] = "source describe",
	[SRC_NEXT] = "source next_chunk",  [TGT_PREPARE] = "target prepare",
	[TGT_OPEN] = "target loader open", [TGT_LOAD] = "target load",
	[TGT_FINISH] = "target finish",    [TGT_SWAP] = "target swap",
};

/* One row as the target holds it: which source, chunk and row. */
struct trow {
	char src[8];
	int chunk, row;
};

struct rows {
	struct trow *v;
	int n, cap;
};

/* Everything the fakes share; `mu` guards all of it, since the
 * pipeline's threads call the fakes at once. */
static struct {
	pthread_mutex_t mu;
	int chunks, rows_per_chunk; /* what each source yields */
	const struct cns_job_conf *job;
	struct cns_run *run; /* for the stops the fakes cause */
	enum cns_error_code fail_code;
	int64_t failed_ms;   /* when the last call was failed */
	int64_t reopened_ms; /* when a source was next opened after it */
	long calls[NCALLS];
	long fail_at[NCALLS]; /* 0: never */
	long stop_at[NCALLS]; /* stop the run after this call; 0: never */
	/* This call blocks until it is cancelled, as a network call does;
	 * `blocked` says it is waiting.  0: never. */
	long block_at[NCALLS];
	bool blocked;
	/* This load commits, then fails as if the connection was lost
	 * before its acknowledgement came; 0: never. */
	long lost_ack_at;
	int lost_acks; /* chunks committed that the run did not hear of */
	/* The target: the table, and the shadow of replace mode. */
	struct rows table, shadow;
	bool prepared, shadow_made;
	int releases;
	/* Open objects, each closed again by the end of a run. */
	int sources_open, loaders_open;
	/* What the fakes saw the pipeline do wrong (they cannot assert:
	 * they run on the pipeline's threads). */
	int violations;
	char violation[256];
} fk = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void violation(const char *what)
{
	pthread_mutex_lock(&fk.mu);
	if (fk.violations++ == 0)
		snprintf(fk.violation, sizeof(fk.violation), "%s", what);
	pthread_mutex_unlock(&fk.mu);
}

/* Counts a call of c, which is the call *n; fails it when it is the
 * call that must fail. */
static int fake_call(enum call c, long *n, struct cns_error *err)
{
	bool fail;

	pthread_mutex_lock(&fk.mu);
	*n = ++fk.calls[c];
	fail = fk.fail_at[c] == *n;
	if (fail)
		fk.failed_ms = cns_now_ms();
	else if (c == SRC_OPEN && fk.failed_ms && !fk.reopened_ms)
		fk.reopened_ms = cns_now_ms();
	pthread_mutex_unlock(&fk.mu);
	if (fail)
		return cns_error_set(err, fk.fail_code,
				     "fake %s failed at call %ld",
				     call_names[c], *n);
	return 0;
}

/* Blocks call n of c, when it is the call to block, until *cancelled is
 * set (by the run's cancel) or 10 s have passed.  Returns -1 with err
 * when it blocked. */
static int fake_block(enum call c, long n, atomic_int *cancelled,
		      struct cns_error *err)
{
	int64_t until = cns_now_ms() + 10000;

	pthread_mutex_lock(&fk.mu);
	if (fk.block_at[c] != n) {
		pthread_mutex_unlock(&fk.mu);
		return 0;
	}
	fk.blocked = true;
	pthread_mutex_unlock(&fk.mu);
	while (!atomic_load(cancelled) && cns_now_ms() < until) {
		struct timespec ts = { 0, 1000000L };

		nanosleep(&ts, NULL);
	}
	if (!atomic_load(cancelled))
		violation("a blocked call was never cancelled");
	return cns_error_set(err, CNS_E_TARGET, "fake %s cancelled",
			     call_names[c]);
}

/* After call n of c did its work: stops the run when it is the call to
 * stop at (a watchdog or a signal arriving just then). */
static void fake_after(enum call c, long n)
{
	bool stop;

	pthread_mutex_lock(&fk.mu);
	stop = fk.stop_at[c] == n;
	pthread_mutex_unlock(&fk.mu);
	if (stop)
		cns_pipeline_cancel(fk.run, CNS_E_TIMEOUT,
				    "fake stop after %s call %ld",
				    call_names[c], n);
}

static void rows_add(struct rows *r, const struct trow *t)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->v = realloc(r->v, sizeof(*r->v) * (size_t)r->cap);
	}
	r->v[r->n++] = *t;
}

static bool rows_has(const struct rows *r, const struct trow *t)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].src, t->src) && r->v[i].chunk == t->chunk &&
		    r->v[i].row == t->row)
			return true;
	return false;
}

/* ---- the fake source ---- */

struct fake_source {
	int next; /* next chunk to yield */
};

static int fsrc_open(struct cns_source *src, struct cns_error *err)
{
	long n;

	/* Made before the call may fail: close() must free it then too. */
	src->impl = calloc(1, sizeof(struct fake_source));
	pthread_mutex_lock(&fk.mu);
	fk.sources_open++;
	pthread_mutex_unlock(&fk.mu);
	if (fake_call(SRC_OPEN, &n, err) < 0)
		return -1;
	fake_after(SRC_OPEN, n);
	return 0;
}

static int fsrc_describe(struct cns_source *src, struct cns_error *err)
{
	static const char *const names[] = { "src", "chunk_no", "row_no" };
	long n;

	if (fake_call(SRC_DESCRIBE, &n, err) < 0)
		return -1;
	src->ncols = 3;
	src->colnames = cns_arena_zalloc(&src->arena, 3 * sizeof(char *));
	src->coltypes = cns_arena_zalloc(&src->arena, 3 * sizeof(char *));
	for (int i = 0; i < 3; i++)
		src->colnames[i] = cns_arena_strdup(&src->arena, names[i]);
	fake_after(SRC_DESCRIBE, n);
	return 0;
}

static int fsrc_next_chunk(struct cns_source *src, struct cns_chunk *chunk,
			   struct cns_error *err)
{
	struct fake_source *fs = src->impl;
	char text[32];
	long n;

	if (fake_call(SRC_NEXT, &n, err) < 0 ||
	    fake_block(SRC_NEXT, n, &src->cancelled, err) < 0)
		return -1;
	if (atomic_load(&src->cancelled))
		return cns_error_set(err, CNS_E_CANCELLED,
				     "fake source cancelled");
	if (fs->next == fk.chunks) {
		fake_after(SRC_NEXT, n);
		return 0;
	}
	for (int r = 0; r < fk.rows_per_chunk; r++) {
		int row = cns_chunk_add_row(chunk, src->rows_read + 1, NULL);

		cns_chunk_set(chunk, row, 0, src->conf->name,
			      strlen(src->conf->name));
		snprintf(text, sizeof(text), "%d", fs->next);
		cns_chunk_set(chunk, row, 1, text, strlen(text));
		snprintf(text, sizeof(text), "%d", r);
		cns_chunk_set(chunk, row, 2, text, strlen(text));
		src->rows_read++;
	}
	fs->next++;
	fake_after(SRC_NEXT, n);
	return 1;
}

static void fsrc_cancel(struct cns_source *src)
{
	atomic_store(&src->cancelled, 1);
}

static void fsrc_close(struct cns_source *src)
{
	if (!src->impl)
		return;
	free(src->impl);
	src->impl = NULL;
	pthread_mutex_lock(&fk.mu);
	fk.sources_open--;
	pthread_mutex_unlock(&fk.mu);
}

static const struct cns_source_ops fake_source_ops = {
	.name = "fake",
	.open = fsrc_open,
	.describe = fsrc_describe,
	.next_chunk = fsrc_next_chunk,
	.cancel = fsrc_cancel,
	.close = fsrc_close,
};

/* ---- the fake target ---- */

struct cns_target_loader {
	atomic_int *stop;
	bool on_reject;
	atomic_int cancelled;
};

static int ftgt_prepare(const struct cns_job_conf *job,
			const struct cns_schema *schema, struct cns_error *err)
{
	long n;

	if (fake_call(TGT_PREPARE, &n, err) < 0)
		return -1;
	pthread_mutex_lock(&fk.mu);
	fk.prepared = true;
	if (job->target.mode == CNS_MODE_REPLACE) {
		fk.shadow.n = 0; /* a fresh shadow */
		fk.shadow_made = true;
	}
	pthread_mutex_unlock(&fk.mu);
	fake_after(TGT_PREPARE, n);
	return 0;
}

static int ftgt_rehearse(const struct cns_job_conf *job,
			 const struct cns_schema *schema, cns_problem_fn report,
			 void *ctx, struct cns_error *err)
{
	return 0;
}

static int ftgt_swap(const struct cns_job_conf *job,
		     const struct cns_schema *schema, const char *check_sql,
		     struct cns_error *err)
{
	long n;

	if (fake_call(TGT_SWAP, &n, err) < 0)
		return -1;
	pthread_mutex_lock(&fk.mu);
	if (!fk.shadow_made) {
		pthread_mutex_unlock(&fk.mu);
		violation("swap without a shadow");
		return cns_error_set(err, CNS_E_INTERNAL, "no shadow");
	}
	fk.table.n = 0;
	for (int i = 0; i < fk.shadow.n; i++)
		rows_add(&fk.table, &fk.shadow.v[i]);
	fk.shadow.n = 0;
	fk.shadow_made = false;
	pthread_mutex_unlock(&fk.mu);
	return 0;
}

static void ftgt_release(const struct cns_job_conf *job)
{
	pthread_mutex_lock(&fk.mu);
	fk.releases++;
	fk.prepared = false;
	fk.shadow_made = false; /* a shadow not swapped in is dropped */
	fk.shadow.n = 0;
	pthread_mutex_unlock(&fk.mu);
}

static struct cns_target_loader *
ftgt_loader_open(const struct cns_job_conf *job,
		 const struct cns_schema *schema, const char *label,
		 struct cns_error *err)
{
	struct cns_target_loader *l;
	bool prepared;
	long n;

	if (fake_call(TGT_OPEN, &n, err) < 0)
		return NULL;
	pthread_mutex_lock(&fk.mu);
	prepared = fk.prepared;
	fk.loaders_open++;
	pthread_mutex_unlock(&fk.mu);
	if (!prepared)
		violation("loader opened on a target not prepared");
	l = calloc(1, sizeof(*l));
	fake_after(TGT_OPEN, n);
	return l;
}

/* One transaction: every row of the chunk, or none of them. */
static int ftgt_load(struct cns_target_loader *l, const struct cns_chunk *rows,
		     const char *checkpoint_sql, struct cns_load_stats *stats,
		     struct cns_error *err)
{
	struct rows *dest;
	long n;

	if (fake_call(TGT_LOAD, &n, err) < 0 ||
	    fake_block(TGT_LOAD, n, &l->cancelled, err) < 0)
		return -1;
	if (!l->stop || !l->on_reject)
		violation("a chunk loaded before set_stop and on_reject");
	if (l->stop && atomic_load(l->stop))
		return cns_error_set(err, CNS_E_CANCELLED,
				     "fake target: the open chunk was rolled "
				     "back");
	pthread_mutex_lock(&fk.mu);
	dest = fk.job->target.mode == CNS_MODE_REPLACE ? &fk.shadow : &fk.table;
	for (int i = 0; i < rows->nrows; i++) {
		const struct cns_cell *c = cns_chunk_row(rows, i);
		struct trow t;

		snprintf(t.src, sizeof(t.src), "%.*s", (int)c[0].len,
			 c[0].data);
		t.chunk = atoi(c[1].data);
		t.row = atoi(c[2].data);
		/* merged on the key: a row overwrites itself */
		if (fk.job->target.key.n == 0 || !rows_has(dest, &t))
			rows_add(dest, &t);
	}
	if (fk.lost_ack_at == n)
		fk.lost_acks++;
	pthread_mutex_unlock(&fk.mu);
	if (fk.lost_ack_at == n)
		return cns_error_set(err, CNS_E_TRANSIENT,
				     "fake %s lost the connection after the "
				     "commit",
				     call_names[TGT_LOAD]);
	stats->sent += rows->nrows;
	stats->written += rows->nrows;
	stats->chunks++;
	fake_after(TGT_LOAD, n);
	return 0;
}

/* The run's question after a failed try (the runner asks its ledger):
 * how many chunks of source i the target holds from this run. */
static int64_t fake_committed_chunks(void *ctx, struct cns_run *run, int i)
{
	const struct rows *r = fk.job->target.mode == CNS_MODE_REPLACE
				       ? &fk.shadow
				       : &fk.table;
	int64_t n = 0;

	pthread_mutex_lock(&fk.mu);
	for (int k = 0; k < r->n; k++)
		n += r->v[k].src[0] == 's' && r->v[k].src[1] - '0' == i &&
		     r->v[k].row == 0;
	pthread_mutex_unlock(&fk.mu);
	return n;
}

static int ftgt_finish(struct cns_target_loader *l, struct cns_error *err)
{
	long n;

	if (fake_call(TGT_FINISH, &n, err) < 0)
		return -1;
	fake_after(TGT_FINISH, n);
	return 0;
}

static void ftgt_on_reject(struct cns_target_loader *l, const char *source_name,
			   cns_reject_fn fn, void *ctx)
{
	l->on_reject = true;
}

static void ftgt_set_stop(struct cns_target_loader *l, atomic_int *stop)
{
	l->stop = stop;
}

static void ftgt_cancel(struct cns_target_loader *l)
{
	atomic_store(&l->cancelled, 1);
}

static void ftgt_close(struct cns_target_loader *l)
{
	if (!l)
		return;
	free(l);
	pthread_mutex_lock(&fk.mu);
	fk.loaders_open--;
	pthread_mutex_unlock(&fk.mu);
}

static const struct cns_target_ops fake_target_ops = {
	.name = "fake",
	.prepare = ftgt_prepare,
	.rehearse = ftgt_rehearse,
	.swap = ftgt_swap,
	.release = ftgt_release,
	.loader_open = ftgt_loader_open,
	.load = ftgt_load,
	.finish = ftgt_finish,
	.on_reject = ftgt_on_reject,
	.set_stop = ftgt_set_stop,
	.cancel = ftgt_cancel,
	.close = ftgt_close,
};

/* ---- jobs and runs ---- */

static struct cns_transform *xf;

static void *idle(void *arg)
{
	return arg;
}

static int group_setup(void **state)
{
	struct cns_error err;
	pthread_t tid;

	/* A sanitizer's runtime starts a thread of its own with the first
	 * thread of the process: before the tests count theirs. */
	if (pthread_create(&tid, NULL, idle, NULL) != 0 ||
	    pthread_join(tid, NULL) != 0)
		return -1;
	cns_error_clear(&err);
	if (cns_source_driver_add(&fake_source_ops) < 0)
		return -1;
	return cns_transform_parse("fake.xf",
				   "[schema]\nsrc text not null\n"
				   "chunk_no integer not null\n"
				   "row_no integer not null\n",
				   0, &xf, &err);
}

static int group_teardown(void **state)
{
	cns_transform_free(xf);
	free(fk.table.v);
	free(fk.shadow.v);
	return 0;
}

struct shape {
	int nsources, parallel;
};

static const struct shape shapes[] = { { 1, 1 }, { 2, 2 }, { 3, 3 }, { 3, 2 } };

/* The load modes; a key (every column) makes the target merge on it. */
struct mode {
	enum cns_load_mode mode;
	bool keyed;
	const char *name;
};

static const struct mode modes[] = {
	{ CNS_MODE_APPEND, false, "append" },
	{ CNS_MODE_UPSERT, true, "upsert" },
	{ CNS_MODE_REPLACE, false, "replace" },
	{ CNS_MODE_REPLACE, true, "replace with a key" },
};

#define NMODES (sizeof(modes) / sizeof(modes[0]))
#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* A job of n fake sources s0, s1 ... */
static struct cns_job_conf *make_job(const struct shape *sh,
				     const struct mode *mode, int retries)
{
	struct cns_job_conf *job = calloc(1, sizeof(*job));
	static const char *const key[] = { "src", "chunk_no", "row_no" };

	cns_arena_init(&job->arena, 4096);
	job->name = cns_arena_strdup(&job->arena, "pipe");
	job->batch_size = fk.rows_per_chunk;
	job->parallel = sh->parallel;
	job->retries = retries;
	job->retry_delay_ms = 1;
	job->target.driver = cns_arena_strdup(&job->arena, "fake");
	job->target.mode = mode->mode;
	if (mode->keyed) {
		job->target.key.n = 3;
		job->target.key.items =
			cns_arena_zalloc(&job->arena, 3 * sizeof(char *));
		for (int k = 0; k < 3; k++)
			job->target.key.items[k] =
				cns_arena_strdup(&job->arena, key[k]);
	}
	job->nsources = sh->nsources;
	job->sources = cns_arena_zalloc(
		&job->arena, (size_t)sh->nsources * sizeof(*job->sources));
	for (int i = 0; i < sh->nsources; i++) {
		job->sources[i].name = cns_arena_printf(&job->arena, "s%d", i);
		job->sources[i].driver = cns_arena_strdup(&job->arena, "fake");
	}
	return job;
}

/* The fakes as before a run: counts at 0, nothing to fail; replace mode
 * finds old rows in the table. */
static void reset_fakes(const struct cns_job_conf *job)
{
	memset(fk.calls, 0, sizeof(fk.calls));
	memset(fk.fail_at, 0, sizeof(fk.fail_at));
	memset(fk.stop_at, 0, sizeof(fk.stop_at));
	memset(fk.block_at, 0, sizeof(fk.block_at));
	fk.blocked = false;
	fk.lost_ack_at = 0;
	fk.lost_acks = 0;
	fk.fail_code = CNS_E_TARGET;
	fk.failed_ms = fk.reopened_ms = 0;
	fk.job = job;
	fk.table.n = fk.shadow.n = 0;
	fk.prepared = fk.shadow_made = false;
	fk.releases = 0;
	fk.sources_open = fk.loaders_open = 0;
	fk.violations = 0;
	fk.violation[0] = '\0';
	if (job->target.mode == CNS_MODE_REPLACE)
		for (int r = 0; r < 5; r++) {
			struct trow t = { "old", 0, r };

			rows_add(&fk.table, &t);
		}
}

/* Threads of this process, from /proc. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A joined thread may linger in /proc for a moment. */
static void assert_threads(int expected)
{
	for (int i = 0; i < 200 && count_threads() != expected; i++) {
		struct timespec ts = { 0, 10 * 1000000L };

		nanosleep(&ts, NULL);
	}
	assert_int_equal(count_threads(), expected);
}

struct outcome {
	int rc;
	struct cns_error err;
	bool started;
	struct cns_source_stats stats[3];
};

/* Runs the job as the runner does: start, wait, finish, release; and
 * as its supervisor, cancels the run once a call of a fake blocks. */
static void run_job(const struct cns_job_conf *job, struct outcome *o)
{
	struct cns_run run;
	struct cns_run_options opt = { .target = &fake_target_ops };
	struct cns_run_hooks hooks = {
		.committed_chunks = fake_committed_chunks,
	};
	bool cancelled = false;

	memset(&run, 0, sizeof(run));
	memset(o, 0, sizeof(*o));
	cns_error_clear(&o->err);
	fk.run = &run;
	o->rc = cns_pipeline_start(&run, job, xf, &opt, &hooks, &o->err);
	o->started = o->rc == 0;
	if (o->rc == 0) {
		while (!cns_pipeline_wait(&run, 5)) {
			bool blocked;

			pthread_mutex_lock(&fk.mu);
			blocked = fk.blocked;
			pthread_mutex_unlock(&fk.mu);
			if (blocked && !cancelled) {
				cns_pipeline_cancel(&run, CNS_E_CANCELLED,
						    "cancelled by the test");
				cancelled = true;
			}
		}
		o->rc = cns_pipeline_finish(&run, &o->err);
	}
	if (run.stats) {
		memcpy(o->stats, run.stats,
		       sizeof(*o->stats) * (size_t)job->nsources);
		cns_pipeline_release(&run);
	}
	fk.run = NULL;
}

/* The oracle: what the target holds after any run, failed or not. */
static void check_outcome(const struct cns_job_conf *job,
			  const struct outcome *o, const char *what)
{
	int K = fk.chunks, R = fk.rows_per_chunk;
	int count[3][8][8];
	int old = 0, chunks_held = 0;
	int64_t chunks_counted = 0;

	memset(count, 0, sizeof(count));
	if (fk.violations)
		fail_msg("%s: %s", what, fk.violation);
	/* Everything opened was closed, prepare's state released. */
	if (fk.sources_open || fk.loaders_open)
		fail_msg("%s: %d sources and %d loaders left open", what,
			 fk.sources_open, fk.loaders_open);
	if (fk.releases != 1 || fk.shadow_made || fk.shadow.n)
		fail_msg("%s: released %d times, shadow %s", what, fk.releases,
			 fk.shadow_made ? "left" : "gone");
	for (int i = 0; i < fk.table.n; i++) {
		const struct trow *t = &fk.table.v[i];

		if (!strcmp(t->src, "old")) {
			old++;
			continue;
		}
		assert_true(t->src[0] == 's' && t->src[1] - '0' >= 0 &&
			    t->src[1] - '0' < job->nsources);
		assert_true(t->chunk >= 0 && t->chunk < K && t->row >= 0 &&
			    t->row < R);
		count[t->src[1] - '0'][t->chunk][t->row]++;
	}
	/* Whole chunks, each once. */
	for (int s = 0; s < job->nsources; s++)
		for (int c = 0; c < K; c++) {
			int present = 0;

			for (int r = 0; r < R; r++) {
				if (count[s][c][r] > 1)
					fail_msg("%s: row %d of chunk %d of "
						 "s%d is in the target %d "
						 "times",
						 what, r, c, s, count[s][c][r]);
				present += count[s][c][r];
			}
			if (present != 0 && present != R)
				fail_msg("%s: chunk %d of s%d is in the target "
					 "in part (%d of %d rows)",
					 what, c, s, present, R);
			if (o->rc == 0 && present != R)
				fail_msg("%s: the run succeeded without chunk "
					 "%d of s%d",
					 what, c, s);
			chunks_held += present == R;
		}
	if (job->target.mode == CNS_MODE_REPLACE) {
		/* Swapped in whole, or not at all. */
		if (o->rc == 0 && old)
			fail_msg("%s: old rows after a replace", what);
		if (o->rc < 0 && (old != 5 || chunks_held))
			fail_msg("%s: a failed replace changed the table "
				 "(%d old rows, %d new chunks)",
				 what, old, chunks_held);
	}
	/* The statistics count what the target committed (a retried
	 * upsert commits a chunk twice; a shadow may be dropped), but for
	 * a commit whose acknowledgement was lost. */
	for (int s = 0; s < job->nsources; s++)
		chunks_counted += o->stats[s].chunks;
	if (job->target.mode == CNS_MODE_APPEND &&
	    chunks_counted != chunks_held - fk.lost_acks)
		fail_msg("%s: the run counted %lld committed chunks, the "
			 "target holds %d",
			 what, (long long)chunks_counted, chunks_held);
	/* Each row is read once, however often its source was tried:
	 * a failed try's uncommitted rows are taken back. */
	if (o->rc == 0)
		for (int s = 0; s < job->nsources; s++) {
			assert_int_equal(o->stats[s].state, CNS_SRC_DONE);
			if (o->stats[s].read != K * R)
				fail_msg("%s: s%d counted %lld rows read, it "
					 "has %d",
					 what, s, (long long)o->stats[s].read,
					 K * R);
		}
}

static void setup_sizes(void)
{
	fk.chunks = 3;
	fk.rows_per_chunk = 4;
}

/* How often a clean run of job calls c: how far the tests count. */
static long clean_calls(const struct cns_job_conf *job, enum call c)
{
	struct outcome o;

	reset_fakes(job);
	run_job(job, &o);
	if (o.rc < 0)
		fail_msg("clean run: %s", o.err.message);
	return fk.calls[c];
}

/* ---- the tests ---- */

/* Clean runs: every row once, in every mode and shape. */
static void test_clean(void **state)
{
	int threads = count_threads();

	setup_sizes();
	for (size_t m = 0; m < NMODES; m++)
		for (size_t s = 0; s < NSHAPES; s++) {
			struct cns_job_conf *job =
				make_job(&shapes[s], &modes[m], 0);
			struct outcome o;
			char what[128];

			snprintf(what, sizeof(what), "%s, %d sources",
				 modes[m].name, shapes[s].nsources);
			reset_fakes(job);
			run_job(job, &o);
			if (o.rc < 0)
				fail_msg("%s: %s", what, o.err.message);
			check_outcome(job, &o, what);
			assert_int_equal(fk.table.n, shapes[s].nsources *
							     fk.chunks *
							     fk.rows_per_chunk);
			assert_int_equal(fk.calls[TGT_LOAD],
					 shapes[s].nsources * fk.chunks);
			assert_int_equal(fk.calls[TGT_SWAP],
					 modes[m].mode == CNS_MODE_REPLACE);
			assert_threads(threads);
			cns_config_free(job);
		}
}

/* Fails (or, with stop, stops the run after) the Nth call of c, for
 * every N up to the calls of a clean run and one more. */
static void every_n(enum call c, const struct mode *mode,
		    const struct shape *sh, int retries,
		    enum cns_error_code code, bool stop, int threads)
{
	struct cns_job_conf *job = make_job(sh, mode, retries);
	long clean = clean_calls(job, c);
	struct outcome o;
	for (long n = 1; n <= clean + 1; n++) {
		char what[256];

		snprintf(what, sizeof(what),
			 "%s %s call %ld of %ld, %s, %d sources, parallel %d, "
			 "retries %d",
			 stop ? "stop after" : "fail", call_names[c], n, clean,
			 mode->name, sh->nsources, sh->parallel, retries);
		reset_fakes(job);
		fk.fail_code = code;
		if (stop)
			fk.stop_at[c] = n;
		else
			fk.fail_at[c] = n;
		run_job(job, &o);
		check_outcome(job, &o, what);
		if (n > clean && o.rc < 0)
			fail_msg("%s: the run failed: %s", what, o.err.message);
		if (n <= clean && o.rc == 0 && (stop || !retries))
			fail_msg("%s: the run succeeded", what);
		if (o.rc < 0 && n <= clean &&
		    !strstr(o.err.message, stop ? "fake stop" : call_names[c]))
			fail_msg("%s: the error does not name the call: %s",
				 what, o.err.message);
		if (o.rc < 0 && stop)
			assert_int_equal(o.err.code, CNS_E_TIMEOUT);
		assert_threads(threads);
	}
	cns_config_free(job);
}

static void every_call(int retries, enum cns_error_code code, bool stop)
{
	int threads = count_threads();

	setup_sizes();
	for (int c = 0; c < NCALLS; c++) {
		/* After the swap the run has succeeded: a stop comes too
		 * late to change anything. */
		if (stop && c == TGT_SWAP)
			continue;
		for (size_t m = 0; m < NMODES; m++)
			for (size_t s = 0; s < NSHAPES; s++)
				every_n((enum call)c, &modes[m], &shapes[s],
					retries, code, stop, threads);
	}
}

/* A failed call fails the run, whatever N. */
static void test_fail_every_call(void **state)
{
	every_call(0, CNS_E_TARGET, false);
}

/* A transient failure is tried again only where that cannot double a
 * chunk: the run then succeeds with every row once. */
static void test_fail_every_call_retried(void **state)
{
	every_call(2, CNS_E_TRANSIENT, false);
}

/* A stop (watchdog, signal) after the Nth call of each kind: the run
 * fails with the stop's reason, and a chunk committed just before the
 * stop is counted. */
static void test_stop_after_every_call(void **state)
{
	every_call(0, CNS_E_TARGET, true);
}

/* The stop of a run whose threads are blocked in a call (a source's
 * read, a loader's statement): the cancel reaches each through the
 * canceller thread, the run ends with the cancel's reason, and every
 * thread is joined.  For every N of next_chunk and load. */
static void test_cancel_blocked_call(void **state)
{
	static const enum call blocking[] = { SRC_NEXT, TGT_LOAD };
	int threads = count_threads();

	setup_sizes();
	for (size_t b = 0; b < 2; b++)
		for (size_t m = 0; m < NMODES; m++)
			for (size_t s = 0; s < NSHAPES; s++) {
				struct cns_job_conf *job =
					make_job(&shapes[s], &modes[m], 0);
				enum call c = blocking[b];
				long clean = clean_calls(job, c);
				struct outcome o;

				for (long n = 1; n <= clean; n++) {
					char what[128];

					snprintf(what, sizeof(what),
						 "cancel blocked %s call %ld, "
						 "%s, %d sources",
						 call_names[c], n,
						 modes[m].name,
						 shapes[s].nsources);
					reset_fakes(job);
					fk.block_at[c] = n;
					run_job(job, &o);
					check_outcome(job, &o, what);
					assert_true(fk.blocked);
					assert_int_equal(o.rc, -1);
					assert_int_equal(o.err.code,
							 CNS_E_CANCELLED);
					assert_string_equal(
						o.err.message,
						"cancelled by the test");
					assert_threads(threads);
				}
				cns_config_free(job);
			}
}

/* A load whose COMMIT was carried out but whose acknowledgement was
 * lost, for every N: a source that committed, as the run heard it or as
 * the target says, is not loaded again from the start (no chunk twice);
 * where the target merges on a key, it is, and the run succeeds. */
static void test_lost_commit_ack(void **state)
{
	int threads = count_threads();

	setup_sizes();
	for (size_t m = 0; m < NMODES; m++)
		for (size_t s = 0; s < NSHAPES; s++) {
			struct cns_job_conf *job =
				make_job(&shapes[s], &modes[m], 2);
			long clean = clean_calls(job, TGT_LOAD);
			struct outcome o;

			for (long n = 1; n <= clean; n++) {
				char what[128];

				snprintf(what, sizeof(what),
					 "lost acknowledgement of load %ld, "
					 "%s, %d sources",
					 n, modes[m].name, shapes[s].nsources);
				reset_fakes(job);
				fk.lost_ack_at = n;
				run_job(job, &o);
				check_outcome(job, &o, what);
				if (modes[m].keyed && o.rc < 0)
					fail_msg("%s: %s", what, o.err.message);
				if (!modes[m].keyed && o.rc == 0)
					fail_msg("%s: the run succeeded", what);
				assert_threads(threads);
			}
			cns_config_free(job);
		}
}

/* A retry waits retry_delay (here 1 ms, give or take 25%), not the
 * 50 ms step in which the wait looks at the stop flag.  The shortest of
 * five waits, from the failed call to the source opened again. */
static void test_retry_delay(void **state)
{
	static const struct shape one = { 1, 1 };
	struct cns_job_conf *job;
	int64_t shortest = INT64_MAX;

	setup_sizes();
	job = make_job(&one, &modes[0], 1);
	for (int i = 0; i < 5; i++) {
		struct outcome o;

		reset_fakes(job);
		fk.fail_code = CNS_E_TRANSIENT;
		fk.fail_at[SRC_OPEN] = 1;
		run_job(job, &o);
		if (o.rc < 0)
			fail_msg("%s", o.err.message);
		check_outcome(job, &o, "retried open");
		assert_int_equal(fk.calls[SRC_OPEN], 2);
		if (fk.reopened_ms - fk.failed_ms < shortest)
			shortest = fk.reopened_ms - fk.failed_ms;
	}
	if (shortest >= 40)
		fail_msg("a retry after 1 ms waited %lld ms",
			 (long long)shortest);
	cns_config_free(job);
}

/* Every thread of the run starts, or none does: failing the k-th thread
 * start, for every k, fails the run; when one of the run's own threads
 * did not start, nothing was opened or moved; no thread is left. */
static void test_thread_start(void **state)
{
#ifdef CNS_TEST_HOOKS
	int threads = count_threads();

	setup_sizes();
	for (size_t m = 0; m < NMODES; m++)
		for (size_t s = 0; s < NSHAPES; s++) {
			const struct shape *sh = &shapes[s];
			struct cns_job_conf *job = make_job(sh, &modes[m], 0);
			struct outcome o;
			long clean;

			reset_fakes(job);
			cns_fail_reset("pthread_create:0");
			run_job(job, &o);
			clean = cns_fail_calls("pthread_create");
			assert_int_equal(o.rc, 0);
			/* the canceller, the workers, one extractor per
			 * source */
			assert_int_equal(clean,
					 1 + sh->parallel + sh->nsources);
			for (long k = 1; k <= clean; k++) {
				char what[128], spec[64];

				snprintf(what, sizeof(what),
					 "thread start %ld of %ld, %s, %d "
					 "sources, parallel %d",
					 k, clean, modes[m].name, sh->nsources,
					 sh->parallel);
				snprintf(spec, sizeof(spec),
					 "pthread_create:%ld", k);
				reset_fakes(job);
				cns_fail_reset(spec);
				run_job(job, &o);
				check_outcome(job, &o, what);
				if (o.rc == 0)
					fail_msg("%s: the run succeeded", what);
				if (!strstr(o.err.message, "could not start"))
					fail_msg("%s: %s", what, o.err.message);
				assert_threads(threads);
				if (k > 1 + sh->parallel)
					continue;
				/* The run's own threads: nothing began. */
				assert_false(o.started);
				assert_int_equal(fk.calls[SRC_OPEN], 0);
				assert_int_equal(fk.calls[TGT_OPEN], 0);
				assert_int_equal(fk.calls[TGT_LOAD], 0);
			}
			cns_fail_reset(NULL);
			cns_config_free(job);
		}
#else
	skip(); /* needs a build with test hooks (make SAN=1) */
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_fail_every_call),
		cmocka_unit_test(test_fail_every_call_retried),
		cmocka_unit_test(test_stop_after_every_call),
		cmocka_unit_test(test_cancel_blocked_call),
		cmocka_unit_test(test_lost_commit_ack),
		cmocka_unit_test(test_retry_delay),
		cmocka_unit_test(test_thread_start),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
