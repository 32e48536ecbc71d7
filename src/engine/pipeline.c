/*
 * pipeline.c - the run of a job: worker threads per source, a bounded queue
 * of chunks between extraction and loading, statistics, cancellation.
 *
 * This is the heart of the engine and is written by hand on purpose.
 */
#include "consolidate/pipeline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consolidate/target.h"
#include "consolidate/testhook.h"

/* Chunks in flight per source: one being filled, one queued, one being
 * loaded.  More would only add memory. */
#define NSLOTS 3

/* What a source read, filtered and rejected: counted as it reads, and
 * again as its chunks commit, so that a try that fails is taken back. */
struct counts {
	int64_t read, filtered, rejected;
};

struct slot {
	struct cns_chunk out;
	char *checkpoint; /* malloc'ed SQL for this chunk's transaction */
	bool end;         /* no more chunks after this one */
	struct counts n;  /* this chunk's rows, as read */
};

/* The queue between a source's extractor and its loader.  `mu` guards
 * everything below it. */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot *free[NSLOTS];
	int nfree;
	struct slot *full[NSLOTS + 1];
	int head, count;
	bool closed; /* the consumer gave up: producers stop */
};

struct source_task {
	struct cns_run *run;
	int index;
	struct cns_source *src;
	struct cns_program *prog;
	struct queue q;
	struct slot slots[NSLOTS];
	struct cns_error xerr; /* the extractor's error */
	atomic_int stop;       /* this source's loader gave up */
	int64_t committed;     /* chunks committed by this source, all tries */
	struct counts pending; /* extractor: read since its last queued chunk */
	int64_t load_rejects;  /* loader: rows the target refused */
	struct counts done;    /* counts of the chunks committed */
	struct counts unheard; /* the chunk whose load failed: it may have
				  committed with its answer lost */
	bool has_unheard;
};

/* ---- errors and statistics ---- */

static void wake_queues_locked(struct cns_run *run);

/* Records the run's first error and stops the run: every wait of every
 * thread wakes up and sees the stop. */
static void run_fail(struct cns_run *run, const struct cns_error *e)
{
	pthread_mutex_lock(&run->lock);
	if (!cns_error_isset(&run->err))
		run->err = *e;
	atomic_store(&run->stop, 1);
	pthread_cond_broadcast(&run->go_cv);
	wake_queues_locked(run);
	pthread_mutex_unlock(&run->lock);
}

static struct cns_source_stats *stats_of(struct cns_run *run, int i)
{
	return &run->stats[i];
}

static void count_reject(struct source_task *t, const struct cns_reject *r)
{
	struct cns_run *run = t->run;

	pthread_mutex_lock(&run->lock);
	stats_of(run, t->index)->rejected++;
	pthread_mutex_unlock(&run->lock);
	if (run->hooks.reject)
		run->hooks.reject(run->hooks.ctx, r);
}

/* A row the transform rejects: the extractor's, for the chunk it is
 * making. */
static void reject_row(void *ctx, const struct cns_reject *r)
{
	struct source_task *t = ctx;

	t->pending.rejected++;
	count_reject(t, r);
}

/* A row the target refuses: the loader's, for the chunk it loads. */
static void reject_loaded(void *ctx, const struct cns_reject *r)
{
	struct source_task *t = ctx;

	t->load_rejects++;
	count_reject(t, r);
}

static void reject_from_driver(void *ctx, struct cns_source *src,
			       int64_t rownum, const char *origin,
			       const char *reason)
{
	struct cns_reject r = {
		.source = src->conf->name,
		.rownum = rownum,
		.origin = origin,
		.reason = reason,
	};

	/* Driver-level rejects count as read rows too. */
	struct source_task *t = ctx;

	t->pending.read++;
	pthread_mutex_lock(&t->run->lock);
	stats_of(t->run, t->index)->read++;
	pthread_mutex_unlock(&t->run->lock);
	reject_row(ctx, &r);
}

/* The run fails as soon as a count limit is passed; a percentage is judged
 * at the end, over all rows read. */
static bool too_many_rejects(struct cns_run *run)
{
	const struct cns_job_conf *job = run->job;
	int64_t total = 0;

	if (job->max_rejects_pct)
		return false;
	pthread_mutex_lock(&run->lock);
	for (int i = 0; i < run->nsources; i++)
		total += run->stats[i].rejected;
	pthread_mutex_unlock(&run->lock);
	return (double)total > job->max_rejects;
}

static int rejects_error(struct cns_run *run, struct cns_error *err)
{
	int64_t rejected = 0, read = 0;

	/* Called while other sources still count their rows. */
	pthread_mutex_lock(&run->lock);
	for (int i = 0; i < run->nsources; i++) {
		rejected += run->stats[i].rejected;
		read += run->stats[i].read;
	}
	pthread_mutex_unlock(&run->lock);
	if (run->job->max_rejects_pct)
		cns_error_set(err, CNS_E_REJECTS,
			      "%lld of %lld rows were rejected (%.2f%%), more "
			      "than max_rejects = %g%%",
			      (long long)rejected, (long long)read,
			      read ? 100.0 * (double)rejected / (double)read
				   : 0,
			      run->job->max_rejects * 100);
	else
		cns_error_set(err, CNS_E_REJECTS,
			      "%lld rows were rejected, more than max_rejects "
			      "= %g",
			      (long long)rejected, run->job->max_rejects);
	cns_error_hint(err, "the rejects file says why each row was refused");
	return -1;
}

/* ---- the queue ---- */

/* Whether the source's queue must stop waiting: the run was stopped or
 * this source's loader gave up. */
static bool task_stopped(const struct source_task *t)
{
	return atomic_load(&t->run->stop) || atomic_load(&t->stop);
}

static void queue_init(struct source_task *t, int ncols, int cap)
{
	struct queue *q = &t->q;

	/* A retried source builds its queue again from nothing. */
	memset(q, 0, sizeof(*q));
	memset(t->slots, 0, sizeof(t->slots));
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	for (int i = 0; i < NSLOTS; i++) {
		cns_chunk_init(&t->slots[i].out, ncols, cap);
		q->free[q->nfree++] = &t->slots[i];
	}
}

static void queue_release(struct source_task *t)
{
	for (int i = 0; i < NSLOTS; i++) {
		cns_chunk_release(&t->slots[i].out);
		free(t->slots[i].checkpoint);
	}
	pthread_mutex_destroy(&t->q.mu);
	pthread_cond_destroy(&t->q.cv);
}

/* Takes a free slot; NULL when the consumer closed the queue or the
 * source was stopped. */
static struct slot *take_free(struct source_task *t)
{
	struct queue *q = &t->q;
	struct slot *s = NULL;

	pthread_mutex_lock(&q->mu);
	while (!q->closed && !task_stopped(t) && q->nfree == 0)
		pthread_cond_wait(&q->cv, &q->mu);
	if (!q->closed && !task_stopped(t))
		s = q->free[--q->nfree];
	pthread_mutex_unlock(&q->mu);
	return s;
}

static void put_full(struct queue *q, struct slot *s)
{
	pthread_mutex_lock(&q->mu);
	q->full[(q->head + q->count) % (NSLOTS + 1)] = s;
	q->count++;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* Takes the next queued chunk; NULL when the queue is empty and the source
 * was stopped (a stopped extractor may never queue its end marker). */
static struct slot *take_full(struct source_task *t)
{
	struct queue *q = &t->q;
	struct slot *s;

	pthread_mutex_lock(&q->mu);
	while (q->count == 0 && !task_stopped(t))
		pthread_cond_wait(&q->cv, &q->mu);
	if (q->count == 0) {
		pthread_mutex_unlock(&q->mu);
		return NULL;
	}
	s = q->full[q->head];
	q->head = (q->head + 1) % (NSLOTS + 1);
	q->count--;
	pthread_mutex_unlock(&q->mu);
	return s;
}

static void put_free(struct queue *q, struct slot *s)
{
	pthread_mutex_lock(&q->mu);
	q->free[q->nfree++] = s;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* Wakes every queue wait of the run, so that it looks at the stop flags;
 * call with run->lock held (a task leaves live_task under it before its
 * queue is destroyed). */
static void wake_queues_locked(struct cns_run *run)
{
	for (int i = 0; i < run->nsources; i++) {
		struct source_task *t = run->live_task[i];

		if (!t)
			continue;
		pthread_mutex_lock(&t->q.mu);
		pthread_cond_broadcast(&t->q.cv);
		pthread_mutex_unlock(&t->q.mu);
	}
}

static void register_task(struct cns_run *run, int i, struct source_task *t)
{
	pthread_mutex_lock(&run->lock);
	run->live_task[i] = t;
	pthread_mutex_unlock(&run->lock);
}

/* ---- extraction ---- */

/* Appends the chunk_sql hook's statement to the chunk's checkpoint. */
static void add_chunk_sql(struct cns_run *run, int i, struct slot *s)
{
	char *more = run->hooks.chunk_sql(run->hooks.ctx, run, i, &s->out);
	struct cns_buf b;

	if (!more)
		return;
	cns_buf_init(&b);
	cns_buf_printf(&b, "%s;\n%s", s->checkpoint, more);
	free(more);
	free(s->checkpoint);
	s->checkpoint = b.data;
}

/* The extractor: reads chunks, transforms them, queues them.  It always
 * ends by queueing an end marker, unless the consumer closed the queue. */
static void *extract_main(void *arg)
{
	struct source_task *t = arg;
	struct cns_run *run = t->run;
	struct cns_source *src = t->src;
	struct cns_chunk in;
	struct slot *s = NULL;

	cns_chunk_init(&in, src->ncols, src->batch_size);
	for (;;) {
		struct cns_eval_stats es = { 0, 0 };
		int rc;

		cns_chunk_reset(&in);
		if (task_stopped(t))
			break;
		rc = src->ops->next_chunk(src, &in, &t->xerr);
		CNS_HOOK("extract.chunk");
		if (rc < 0)
			break;
		if (rc == 0)
			break;
		s = take_free(t);
		if (!s)
			break;
		cns_chunk_reset(&s->out);
		free(s->checkpoint);
		s->checkpoint = NULL;
		s->end = false;
		if (cns_program_run(t->prog, &in, &s->out, reject_row, t, &es,
				    &t->xerr) < 0) {
			put_free(&t->q, s);
			s = NULL;
			break;
		}
		if (run->hooks.checkpoint)
			s->checkpoint = run->hooks.checkpoint(run->hooks.ctx,
							      run, t->index,
							      src, &in,
							      in.nrows - 1);
		if (run->hooks.chunk_sql && s->checkpoint)
			add_chunk_sql(run, t->index, s);
		t->pending.read += in.nrows;
		t->pending.filtered += es.filtered;
		s->n = t->pending;
		memset(&t->pending, 0, sizeof(t->pending));
		pthread_mutex_lock(&run->lock);
		stats_of(run, t->index)->read += in.nrows;
		stats_of(run, t->index)->filtered += es.filtered;
		stats_of(run, t->index)->bytes = src->bytes_read;
		stats_of(run, t->index)->last_progress_ms = cns_now_ms();
		pthread_mutex_unlock(&run->lock);
		put_full(&t->q, s);
		s = NULL;
		if (too_many_rejects(run)) {
			rejects_error(run, &t->xerr);
			break;
		}
	}
	cns_chunk_release(&in);
	/* An error caused by a stop that someone else asked for (a failed
	 * loader, the watchdog) is a consequence, not the cause. */
	if (task_stopped(t))
		cns_error_clear(&t->xerr);
	/* The end marker needs a slot; if the consumer is gone there is
	 * nobody to tell. */
	s = take_free(t);
	if (s) {
		s->end = true;
		put_full(&t->q, s);
	}
	return NULL;
}

/* ---- one source ---- */

static void set_state(struct cns_run *run, int i, enum cns_source_state st)
{
	pthread_mutex_lock(&run->lock);
	run->stats[i].state = st;
	if (st == CNS_SRC_RUNNING) {
		run->stats[i].started_ms = cns_now_ms();
		run->stats[i].last_progress_ms = run->stats[i].started_ms;
	} else if (st != CNS_SRC_PENDING) {
		run->stats[i].finished_ms = cns_now_ms();
	}
	pthread_mutex_unlock(&run->lock);
}

static void register_live(struct cns_run *run, int i, struct cns_source *src,
			  struct cns_target_loader *l)
{
	pthread_mutex_lock(&run->lock);
	/* The canceller may be using the old ones: they are closed and
	 * freed once this returns. */
	while (run->pin == i)
		pthread_cond_wait(&run->pin_cv, &run->lock);
	run->live_src[i] = src;
	run->live_loader[i] = l;
	/* A source or loader that comes alive after the run was stopped
	 * gets the cancel it missed. */
	if (atomic_load(&run->stop) && (src || l)) {
		if (src)
			atomic_store(&src->cancelled, 1);
		run->cancel_asked = true;
		pthread_cond_broadcast(&run->cancel_cv);
	}
	pthread_mutex_unlock(&run->lock);
}

/* Prepares the source through the path `check` and `plan` take too
 * (prepare.c), registered first so that a cancel reaches a slow connect. */
static void source_opened(void *ctx, struct cns_source *src)
{
	struct source_task *t = ctx;

	register_live(t->run, t->index, src, NULL);
}

static int open_source(struct source_task *t, struct cns_error *err)
{
	struct cns_run *run = t->run;
	struct cns_prepare_opts opts;
	struct cns_prepared p;
	int rc;

	t->src = cns_source_new(run->job, &run->job->sources[t->index]);
	t->src->reject = reject_from_driver;
	t->src->reject_ctx = t;
	/* Only an opened source can be cancelled: open() sets up what
	 * cancel() uses, and registering publishes it to the canceller;
	 * describe(), which may block, comes after. */
	opts = run->hooks.prepare;
	opts.opened = source_opened;
	opts.opened_ctx = t;
	rc = cns_prepare_source(run->job, run->xf, t->src, &opts, &p, err);
	t->prog = p.prog;
	if (rc < 0)
		return -1;
	if (run->hooks.prepared)
		rc = run->hooks.prepared(run->hooks.ctx, run, t->index, &p,
					 err);
	return rc;
}

/* Loads every chunk the extractor queues; returns 0 or -1 with err. */
static int load_source(struct source_task *t, struct cns_target_loader *l,
		       struct cns_error *err)
{
	struct cns_run *run = t->run;
	struct slot *s;
	int rc = 0;

	while ((s = take_full(t)) != NULL && !s->end) {
		struct cns_load_stats ls = { 0, 0, 0 };
		int64_t t0 = cns_now_ms();
		bool loaded = false;

		t->load_rejects = 0;
		if (rc == 0 && !atomic_load(&run->stop)) {
			loaded = run->target->load(l, &s->out, s->checkpoint,
						   &ls, err) == 0;
			rc = loaded ? 0 : -1;
		}
		/* A chunk that committed is counted even when a stop came
		 * while it did: the target holds it, so the statistics and
		 * the run log must say so. */
		if (loaded) {
			t->committed += ls.chunks;
			t->done.read += s->n.read;
			t->done.filtered += s->n.filtered;
			t->done.rejected += s->n.rejected + t->load_rejects;
			pthread_mutex_lock(&run->lock);
			stats_of(run, t->index)->loaded += ls.sent;
			stats_of(run, t->index)->written += ls.written;
			stats_of(run, t->index)->chunks += ls.chunks;
			stats_of(run, t->index)->last_progress_ms =
				cns_now_ms();
			pthread_mutex_unlock(&run->lock);
			if (run->hooks.chunk_loaded)
				run->hooks.chunk_loaded(run->hooks.ctx, run,
							t->index, ls.sent,
							ls.written,
							cns_now_ms() - t0);
		}
		if (!loaded && rc < 0 && !t->has_unheard) {
			t->unheard = s->n;
			t->unheard.rejected += t->load_rejects;
			t->has_unheard = true;
		}
		if (rc == 0 && atomic_load(&run->stop))
			rc = -1;
		if (rc < 0 && !atomic_load(&t->stop)) {
			/* Stop the extractor: it may be blocked in the source
			 * or waiting for a slot. */
			atomic_store(&t->stop, 1);
			t->src->ops->cancel(t->src);
		}
		put_free(&t->q, s);
	}
	if (s) {
		put_free(&t->q, s);
		/* Every chunk is in: make their commits durable before the
		 * source counts as loaded. */
		if (rc == 0 && run->target->finish(l, err) < 0)
			rc = -1;
	} else if (rc == 0)
		/* Stopped before the source's end: never a success. */
		rc = cns_error_set(err,
				   atomic_load(&run->stop_code)
					   ? (enum cns_error_code)atomic_load(
						     &run->stop_code)
					   : CNS_E_CANCELLED,
				   "loading stopped before the source's end");
	return rc;
}

static int run_source(struct source_task *t, struct cns_error *err)
{
	struct cns_run *run = t->run;
	const struct cns_schema *schema = cns_transform_schema(run->xf);
	struct cns_target_loader *l = NULL;
	pthread_t tid;
	char label[160];
	int rc;

	if (open_source(t, err) < 0)
		return -1;
	snprintf(label, sizeof(label), "source \"%s\"",
		 run->job->sources[t->index].name);
	l = run->target->loader_open(run->job, schema, label, err);
	if (!l)
		return -1;
	register_live(run, t->index, t->src, l);
	run->target->on_reject(l, run->job->sources[t->index].name,
			       reject_loaded, t);
	run->target->set_stop(l, &run->stop);
	queue_init(t, schema->ncols, run->job->batch_size);
	register_task(run, t->index, t);
	rc = cns_thread_create(&tid, extract_main, t);
	if (rc != 0) {
		cns_error_set(err, CNS_E_INTERNAL,
			      "could not start the extraction thread of "
			      "source \"%s\": %s",
			      run->job->sources[t->index].name, strerror(rc));
		cns_error_hint(err, "the system refused a new thread (a "
				    "process or memory limit?); nothing of "
				    "this source was loaded");
		register_task(run, t->index, NULL);
		queue_release(t);
		register_live(run, t->index, t->src, NULL);
		run->target->close(l);
		return -1;
	}
	rc = load_source(t, l, err);
	if (rc < 0)
		queue_close(&t->q);
	pthread_join(tid, NULL);
	register_task(run, t->index, NULL);
	queue_release(t);
	register_live(run, t->index, t->src, NULL);
	run->target->close(l);
	if (rc == 0 && cns_error_isset(&t->xerr)) {
		*err = t->xerr;
		rc = -1;
	}
	if (rc == 0 && run->hooks.after_source)
		rc = run->hooks.after_source(run->hooks.ctx, run, t->index,
					     err);
	return rc;
}

/* A failed try may be repeated only where a repeat cannot double rows:
 * an incremental source resumes after its last committed chunk, a merge
 * on the key overwrites, and a source that committed nothing starts from
 * nothing. */
static bool retry_is_safe(const struct source_task *t, struct cns_error *err)
{
	struct cns_run *run = t->run;
	const struct cns_job_conf *job = run->job;
	const struct cns_source_conf *sc = &job->sources[t->index];
	int64_t n;

	if (sc->incremental.n > 0 && job->target.mode != CNS_MODE_REPLACE)
		return true;
	if (job->target.key.n > 0 && job->target.mode != CNS_MODE_APPEND)
		return true;
	if (t->committed > 0 || !run->hooks.committed_chunks)
		return t->committed == 0;
	/* "Committed nothing" is what the server says, not what the client
	 * heard: a COMMIT may have been carried out and its answer lost. */
	n = run->hooks.committed_chunks(run->hooks.ctx, run, t->index);
	if (n > 0) {
		char cause[sizeof(err->message)];

		snprintf(cause, sizeof(cause), "%s", err->message);
		cns_error_clear(err);
		cns_error_set(err, CNS_E_TARGET,
			      "%lld chunk%s of this source committed on the "
			      "target although the connection was lost before "
			      "the run heard so; a retry from the start would "
			      "load %s rows twice",
			      (long long)n, n == 1 ? "" : "s",
			      n == 1 ? "its" : "their");
		cns_error_detail(err, "%s", cause);
		cns_error_hint(err, "the target holds those rows once; the "
				    "next run loads the source again");
	}
	return n == 0;
}

/* Sleeps ms in steps of at most 50 ms, waking early when the run is
 * stopped; a delay shorter than a step is not rounded up to one. */
static void sleep_unless_stopped(struct cns_run *run, int64_t ms)
{
	int64_t until = cns_now_ms() + ms, left;

	while (!atomic_load(&run->stop) && (left = until - cns_now_ms()) > 0) {
		struct timespec ts = { 0, (left < 50 ? left : 50) * 1000000L };

		nanosleep(&ts, NULL);
	}
}

/* Exponential backoff with jitter: retry_delay * 2^(try-1), +-25%. */
static int64_t backoff_ms(const struct cns_job_conf *job, int attempt)
{
	int64_t base = job->retry_delay_ms > 0 ? job->retry_delay_ms : 1000;
	int shift = attempt - 1 < 10 ? attempt - 1 : 10;
	int64_t d = base << shift;
	unsigned r = (unsigned)(cns_now_ms() * 2654435761u);

	return d - d / 4 + (int64_t)(r % (unsigned)(d / 2 + 1));
}

/* Before a retry: the rows of the failed try that did not commit are
 * read again, so they are counted again.  An incremental source resumes
 * after its last committed chunk, whose counts stay; any other starts
 * from the beginning (a merge on the key overwrites what committed), and
 * its counts start from nothing.  What committed stays counted as
 * loaded, written and committed chunks: the target holds it. */
static void take_back_try(struct source_task *t)
{
	struct cns_run *run = t->run;
	const struct cns_job_conf *job = run->job;
	struct cns_source_stats *st = stats_of(run, t->index);

	if (job->sources[t->index].incremental.n == 0 ||
	    job->target.mode == CNS_MODE_REPLACE) {
		memset(&t->done, 0, sizeof(t->done));
	} else if (t->has_unheard && run->hooks.committed_chunks &&
		   run->hooks.committed_chunks(run->hooks.ctx, run, t->index) >
			   t->committed) {
		/* The failed chunk committed and its answer was lost: the
		 * watermark moved past its rows, the next try does not read
		 * them again. */
		t->done.read += t->unheard.read;
		t->done.filtered += t->unheard.filtered;
		t->done.rejected += t->unheard.rejected;
		t->committed++;
	}
	t->has_unheard = false;
	memset(&t->pending, 0, sizeof(t->pending));
	pthread_mutex_lock(&run->lock);
	st->read = t->done.read;
	st->filtered = t->done.filtered;
	st->rejected = t->done.rejected;
	pthread_mutex_unlock(&run->lock);
}

static int run_source_tries(struct source_task *t, struct cns_error *err)
{
	struct cns_run *run = t->run;

	for (int attempt = 1;; attempt++) {
		int64_t delay;
		int rc = run_source(t, err);

		if (rc == 0 || err->code != CNS_E_TRANSIENT ||
		    atomic_load(&run->stop) || attempt > run->job->retries ||
		    !retry_is_safe(t, err))
			return rc;
		delay = backoff_ms(run->job, attempt);
		if (run->hooks.retry)
			run->hooks.retry(run->hooks.ctx, run, t->index, attempt,
					 delay, err);
		register_live(run, t->index, NULL, NULL);
		cns_program_free(t->prog);
		cns_source_free(t->src);
		t->prog = NULL;
		t->src = NULL;
		atomic_store(&t->stop, 0);
		take_back_try(t);
		cns_error_clear(&t->xerr);
		cns_error_clear(err);
		sleep_unless_stopped(run, delay);
		if (atomic_load(&run->stop))
			return cns_error_set(
				err,
				atomic_load(&run->stop_code)
					? (enum cns_error_code)atomic_load(
						  &run->stop_code)
					: CNS_E_CANCELLED,
				"run stopped while waiting to "
				"retry");
	}
}

static void *worker_main(void *arg)
{
	struct cns_run *run = arg;

	/* No source starts before every thread of the run has started (or
	 * the start failed and stopped the run): a run that cannot start
	 * all its threads moves nothing. */
	pthread_mutex_lock(&run->lock);
	while (!run->go && !atomic_load(&run->stop))
		pthread_cond_wait(&run->go_cv, &run->lock);
	pthread_mutex_unlock(&run->lock);
	for (;;) {
		struct source_task t;
		struct cns_error err;
		int i;

		pthread_mutex_lock(&run->lock);
		i = run->next < run->nsources && !atomic_load(&run->stop)
			    ? run->next++
			    : -1;
		pthread_mutex_unlock(&run->lock);
		if (i < 0)
			break;
		if (run->stats[i].state == CNS_SRC_SKIPPED)
			continue;
		memset(&t, 0, sizeof(t));
		t.run = run;
		t.index = i;
		cns_error_clear(&err);
		set_state(run, i, CNS_SRC_RUNNING);
		if (run_source_tries(&t, &err) < 0) {
			cns_error_in_source(&err, run->job->sources[i].name);
			if (cns_error_isset(&err))
				run_fail(run, &err);
			set_state(run, i, CNS_SRC_FAILED);
		} else {
			set_state(run, i, CNS_SRC_DONE);
		}
		register_live(run, i, NULL, NULL);
		cns_program_free(t.prog);
		cns_source_free(t.src);
	}
	pthread_mutex_lock(&run->lock);
	run->finished_threads++;
	pthread_cond_broadcast(&run->done_cv);
	pthread_mutex_unlock(&run->lock);
	return NULL;
}

/* ---- cancellation ---- */

/* The canceller thread: waits until cancel() asks, then sends the cancel
 * requests of every live source and loader.  A cancel request is network
 * I/O (PQcancel opens a new connection, SQLCancel talks to the driver)
 * and may block for as long as the peer does not answer: here it blocks
 * nobody but this thread, and the supervisor's kill_grace still bounds
 * the run.  Each index is pinned while its request is in flight, so its
 * worker cannot free what is being cancelled. */
static void *canceller_main(void *arg)
{
	struct cns_run *run = arg;

	pthread_mutex_lock(&run->lock);
	for (;;) {
		while (!run->cancel_asked && !run->canceller_quit)
			pthread_cond_wait(&run->cancel_cv, &run->lock);
		if (run->canceller_quit)
			break;
		run->cancel_asked = false;
		for (int i = 0; i < run->nsources; i++) {
			struct cns_source *src = run->live_src[i];
			struct cns_target_loader *l = run->live_loader[i];

			if (!src && !l)
				continue;
			run->pin = i;
			pthread_mutex_unlock(&run->lock);
			if (src && src->ops->cancel)
				src->ops->cancel(src);
			if (l)
				run->target->cancel(l);
			pthread_mutex_lock(&run->lock);
			run->pin = -1;
			pthread_cond_broadcast(&run->pin_cv);
		}
	}
	pthread_mutex_unlock(&run->lock);
	return NULL;
}

static void stop_canceller(struct cns_run *run)
{
	if (!run->has_canceller)
		return;
	pthread_mutex_lock(&run->lock);
	run->canceller_quit = true;
	pthread_cond_broadcast(&run->cancel_cv);
	pthread_mutex_unlock(&run->lock);
	pthread_join(run->canceller, NULL);
	run->has_canceller = false;
}

/* ---- the run ---- */

/* Stops and joins the threads that did start, after one could not. */
static void abandon_start(struct cns_run *run)
{
	pthread_mutex_lock(&run->lock);
	atomic_store(&run->stop, 1);
	pthread_cond_broadcast(&run->go_cv);
	pthread_mutex_unlock(&run->lock);
	for (int i = 0; i < run->nthreads; i++)
		pthread_join(run->threads[i], NULL);
	free(run->threads);
	run->threads = NULL;
	run->nthreads = 0;
	stop_canceller(run);
}

int cns_pipeline_start(struct cns_run *run, const struct cns_job_conf *job,
		       const struct cns_transform *xf,
		       const struct cns_run_options *opt,
		       const struct cns_run_hooks *hooks, struct cns_error *err)
{
	int nthreads, rc;

	run->job = job;
	run->xf = xf;
	if (opt)
		run->opt = *opt;
	if (hooks)
		run->hooks = *hooks;
	run->target = cns_target_or_default(run->opt.target);
	/* prepare.c prepares the target that the loaders load. */
	run->hooks.prepare.target = run->target;
	run->nsources = job->nsources;
	run->stats = cns_xcalloc((size_t)job->nsources, sizeof(*run->stats));
	run->live_src =
		cns_xcalloc((size_t)job->nsources, sizeof(*run->live_src));
	run->live_loader =
		cns_xcalloc((size_t)job->nsources, sizeof(*run->live_loader));
	run->live_task =
		cns_xcalloc((size_t)job->nsources, sizeof(*run->live_task));
	run->pin = -1;
	atomic_init(&run->stop, 0);
	atomic_init(&run->stop_code, 0);
	pthread_mutex_init(&run->lock, NULL);
	cns_cond_init_monotonic(&run->done_cv);
	cns_cond_init_monotonic(&run->go_cv);
	cns_cond_init_monotonic(&run->pin_cv);
	cns_cond_init_monotonic(&run->cancel_cv);
	for (int i = 0; i < job->nsources; i++) {
		run->stats[i].name = job->sources[i].name;
		if (run->opt.only_source &&
		    strcmp(run->opt.only_source, job->sources[i].name) != 0)
			run->stats[i].state = CNS_SRC_SKIPPED;
	}
	if (cns_prepare_target(job, cns_transform_schema(xf),
			       &run->hooks.prepare, err) < 0)
		return -1;
	rc = cns_thread_create(&run->canceller, canceller_main, run);
	if (rc != 0)
		goto fail;
	run->has_canceller = true;
	nthreads = job->parallel < job->nsources ? job->parallel
						 : job->nsources;
	if (nthreads < 1)
		nthreads = 1;
	run->threads = cns_xcalloc((size_t)nthreads, sizeof(pthread_t));
	for (int i = 0; i < nthreads; i++) {
		rc = cns_thread_create(&run->threads[i], worker_main, run);
		if (rc != 0)
			goto fail;
		run->nthreads++;
	}
	pthread_mutex_lock(&run->lock);
	run->go = true;
	pthread_cond_broadcast(&run->go_cv);
	pthread_mutex_unlock(&run->lock);
	return 0;
fail:
	abandon_start(run);
	cns_error_set(err, CNS_E_INTERNAL,
		      "could not start the threads of the run: %s",
		      strerror(rc));
	cns_error_hint(err, "the system refused a new thread (a process or "
			    "memory limit?); nothing was loaded");
	return -1;
}

bool cns_pipeline_wait(struct cns_run *run, int timeout_ms)
{
	struct timespec ts = cns_deadline_in(timeout_ms);
	bool done;

	pthread_mutex_lock(&run->lock);
	if (run->finished_threads < run->nthreads)
		pthread_cond_timedwait(&run->done_cv, &run->lock, &ts);
	done = run->finished_threads >= run->nthreads;
	pthread_mutex_unlock(&run->lock);
	if (done && run->threads) {
		for (int i = 0; i < run->nthreads; i++)
			pthread_join(run->threads[i], NULL);
		free(run->threads);
		run->threads = NULL;
		/* Every worker has taken its source and loader out of the
		 * live lists, so the canceller is idle. */
		stop_canceller(run);
	}
	return done;
}

void cns_pipeline_cancel(struct cns_run *run, enum cns_error_code code,
			 const char *fmt, ...)
{
	struct cns_error e;
	va_list ap;

	cns_error_clear(&e);
	e.code = code;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	/* The cancel reason must win over the errors that the cancel itself
	 * causes in the threads ("canceling statement due to user
	 * request"). */
	pthread_mutex_lock(&run->lock);
	if (!cns_error_isset(&run->err) || run->err.code != code)
		run->err = e;
	atomic_store(&run->stop_code, (int)code);
	atomic_store(&run->stop, 1);
	/* Flags only, under the lock: the drivers' loops look at them
	 * between rows and chunks. */
	for (int i = 0; i < run->nsources; i++)
		if (run->live_src[i])
			atomic_store(&run->live_src[i]->cancelled, 1);
	pthread_cond_broadcast(&run->go_cv);
	wake_queues_locked(run);
	run->cancel_asked = true;
	pthread_cond_broadcast(&run->cancel_cv);
	pthread_mutex_unlock(&run->lock);
}

int cns_pipeline_finish(struct cns_run *run, struct cns_error *err)
{
	int64_t rejected = 0, read = 0;

	if (cns_error_isset(&run->err)) {
		*err = run->err;
		return -1;
	}
	/* The last line of defence against a run that lost a source without
	 * saying so (a thread that never ran it, a stop without an error):
	 * no swap, no merge, no success unless every source got to its
	 * end. */
	for (int i = 0; i < run->nsources; i++) {
		static const char *const names[] = {
			[CNS_SRC_PENDING] = "pending",
			[CNS_SRC_RUNNING] = "running",
			[CNS_SRC_DONE] = "done",
			[CNS_SRC_FAILED] = "failed",
			[CNS_SRC_SKIPPED] = "skipped",
		};
		enum cns_source_state st = run->stats[i].state;

		if (st == CNS_SRC_DONE || st == CNS_SRC_SKIPPED)
			continue;
		cns_error_set(err, CNS_E_INTERNAL,
			      "source \"%s\" did not reach its end (state "
			      "%s): the run is not complete",
			      run->stats[i].name, names[st]);
		cns_error_hint(err, "nothing was swapped in or recorded as "
				    "done; run the job again");
		return -1;
	}
	for (int i = 0; i < run->nsources; i++) {
		rejected += run->stats[i].rejected;
		read += run->stats[i].read;
	}
	if (run->job->max_rejects_pct && read > 0 &&
	    (double)rejected / (double)read > run->job->max_rejects)
		return rejects_error(run, err);
	if (!run->job->max_rejects_pct &&
	    (double)rejected > run->job->max_rejects)
		return rejects_error(run, err);
	if (run->job->target.mode == CNS_MODE_REPLACE &&
	    !run->opt.only_source) {
		char *check =
			run->hooks.swap_check
				? run->hooks.swap_check(run->hooks.ctx, run)
				: NULL;
		int rc = run->target->swap(
			run->job, cns_transform_schema(run->xf), check, err);

		free(check);
		return rc;
	}
	return 0;
}

void cns_pipeline_snapshot(struct cns_run *run, struct cns_source_stats *out)
{
	pthread_mutex_lock(&run->lock);
	memcpy(out, run->stats, sizeof(*out) * (size_t)run->nsources);
	pthread_mutex_unlock(&run->lock);
}

void cns_pipeline_release(struct cns_run *run)
{
	if (run->threads) {
		pthread_mutex_lock(&run->lock);
		atomic_store(&run->stop, 1);
		pthread_cond_broadcast(&run->go_cv);
		wake_queues_locked(run);
		pthread_mutex_unlock(&run->lock);
		for (int i = 0; i < run->nthreads; i++)
			pthread_join(run->threads[i], NULL);
		free(run->threads);
	}
	if (run->job)
		run->target->release(run->job);
	stop_canceller(run);
	free(run->stats);
	free(run->live_src);
	free(run->live_loader);
	free(run->live_task);
	pthread_mutex_destroy(&run->lock);
	pthread_cond_destroy(&run->done_cv);
	pthread_cond_destroy(&run->go_cv);
	pthread_cond_destroy(&run->pin_cv);
	pthread_cond_destroy(&run->cancel_cv);
	memset(run, 0, sizeof(*run));
}
