/*
 * runner.c - one whole run of a job: guard, log, state, pipeline,
 * watchdog, record.
 *
 * Order matters: the lock comes first (a second run must change nothing,
 * not even the log of the first); the run is recorded as running in the
 * target before any data moves, so a killed run is found and marked
 * crashed by the next one; every path out of a started run writes its end
 * to the log, runs.jsonl and the history table.
 */
#include "consolidate/runner.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consolidate/deletes.h"
#include "consolidate/guard.h"
#include "consolidate/notify.h"
#include "consolidate/pg.h"
#include "consolidate/prepare.h"
#include "consolidate/rejects.h"
#include "consolidate/runlog.h"
#include "consolidate/state.h"
#include "consolidate/transform.h"
#include "consolidate/trend.h"
#include "consolidate/volume.h"

#include "consolidate/testhook.h"

#define TICK_MS 200
#define LOGGED_REJECTS 10
/* How long a run that is being ended may take to write its record to the
 * target before it gives up on that copy (runs.jsonl is written
 * anyway): at most this, and at most half of kill_grace. */
#define RECORD_LIMIT_MS 2000
/* What the guard gives supervise() on top of kill_grace, so that a run
 * stuck in the pipeline is ended by supervise(), which knows more. */
#define GUARD_SLACK_MS 1000

/* The time a stuck run may take to write its record, taken out of
 * kill_grace, so that the process ends kill_grace after the cancel. */
static int64_t record_limit_ms(const struct cns_job_conf *job)
{
	return job->kill_grace_ms / 2 < RECORD_LIMIT_MS ? job->kill_grace_ms / 2
							: RECORD_LIMIT_MS;
}

/* When a cancelled run that has not stopped is given up on. */
static int64_t give_up_at(const struct cns_job_conf *job, int64_t now)
{
	return now + job->kill_grace_ms - record_limit_ms(job);
}

struct runner;

/* The guard: a thread that watches the whole run, from the first connect
 * to the last record, for max_runtime and the signal flag.  When one
 * fires, it cancels the statements of every connection the run has open
 * (unless supervise() is watching the pipeline, which it cancels
 * itself); when the run has not ended kill_grace later, it records the
 * run as far as it can in a bounded time and has the caller end the
 * process.  `mu` guards quit, log, run and res. */
struct guard {
	struct runner *rn;
	pthread_t tid;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool quit;
	int64_t start_ms;       /* monotonic, the run's start */
	int64_t fired_ms;       /* guard thread only */
	atomic_int fired;       /* enum cns_error_code, 0: not fired */
	char cause[256];        /* written before fired is set */
	atomic_int in_pipeline; /* supervise() is watching */
	atomic_int ending;      /* the stuck end is under way */
	struct cns_run *run;    /* for the statistics, once started */
	struct cns_runner_result *res;
};

/* Per-source state, set once prepared: the incremental ordering and
 * watermark, and whether the volume guard judged the source already. */
struct inc_state {
	int n; /* incremental + tie-breaker columns */
	const char **cols;
	int *index;    /* their positions in the source's columns */
	int nnullable; /* the first nnullable are the incremental ones */
	char *before;  /* JSON array, malloc'ed */
	char *after;   /* JSON array, malloc'ed; guarded by mu */
	int nwm;       /* the watermark the run started from (run arena) */
	char **wm;
	bool counted;   /* volume judged before extraction (prepare.c) */
	char *prev;     /* the watermark as the target holds it after the
			   chunks queued so far (text[] SQL, malloc'ed;
			   NULL: no row); used by the extractor only */
	int64_t chunks; /* chunk numbers handed out, over all tries */
};

struct runner {
	const struct cns_job_conf *job;
	const struct cns_runner_options *opt;
	char run_id[64];
	char host[256];
	int64_t started_us;
	struct cns_runlog *log;
	struct cns_rejects *rejects;
	PGconn *state;      /* guarded by mu once the pipeline runs */
	pthread_mutex_t mu; /* guards state, inc[].after, logged */
	struct inc_state *inc;
	struct cns_lock *lock; /* its session guarded by mu */
	int logged;            /* reject lines written to the log */
	char warning[512];     /* the first guard warning, for notify; mu */
	struct cns_run *run;   /* set while the pipeline runs */
	bool stopped;          /* stop_run() was called; guarded by mu */
	struct cns_arena arena;
	struct guard guard;
};

/* ---- JSON helpers ---- */

static void json_string(struct cns_buf *b, const char *s, size_t n)
{
	cns_buf_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			cns_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			cns_buf_printf(b, "\\u%04x", c);
		else
			cns_buf_addc(b, (char)c);
	}
	cns_buf_addc(b, '"');
}

static char *json_values(const char *const *vals, int n)
{
	struct cns_buf b;

	cns_buf_init(&b);
	cns_buf_addc(&b, '[');
	for (int i = 0; i < n; i++) {
		if (i)
			cns_buf_addc(&b, ',');
		if (vals[i])
			json_string(&b, vals[i], strlen(vals[i]));
		else
			cns_buf_adds(&b, "null");
	}
	cns_buf_addc(&b, ']');
	return b.data;
}

static char *sources_json(const struct cns_source_stats *st, int n)
{
	struct cns_buf b;

	cns_buf_init(&b);
	cns_buf_addc(&b, '{');
	for (int i = 0; i < n; i++) {
		if (i)
			cns_buf_addc(&b, ',');
		json_string(&b, st[i].name, strlen(st[i].name));
		cns_buf_printf(&b,
			       ":{\"read\":%lld,\"filtered\":%lld,"
			       "\"rejected\":%lld,\"loaded\":%lld,"
			       "\"written\":%lld,\"chunks\":%lld}",
			       (long long)st[i].read, (long long)st[i].filtered,
			       (long long)st[i].rejected,
			       (long long)st[i].loaded,
			       (long long)st[i].written,
			       (long long)st[i].chunks);
	}
	cns_buf_addc(&b, '}');
	return b.data;
}

/* ---- hooks, called from pipeline threads ---- */

/* Stops the pipeline with e, once: a cancel reaches every connection,
 * and a run with thousands of refused rows must not send thousands. */
static void stop_run(struct runner *rn, const struct cns_error *e)
{
	bool first;

	pthread_mutex_lock(&rn->mu);
	first = !rn->stopped;
	rn->stopped = true;
	pthread_mutex_unlock(&rn->mu);
	if (first && rn->run)
		cns_pipeline_cancel(rn->run, e->code, "%s", e->message);
}

static void hook_reject(void *ctx, const struct cns_reject *r)
{
	struct runner *rn = ctx;
	struct cns_error e;
	bool log_it;

	cns_error_clear(&e);
	/* Both checks come while the row's chunk is still open (the hook
	 * runs in the transform or inside the chunk's transaction), and a
	 * stopped run commits no further chunk: a row that cannot be
	 * written to the rejects file, or one past a count limit, never
	 * has its chunk committed and its watermark passed. */
	if (cns_rejects_add(rn->rejects, r, &e) < 0) {
		char msg[sizeof(e.message)];

		snprintf(msg, sizeof(msg), "%s", e.message);
		cns_error_clear(&e);
		cns_error_set(&e, CNS_E_IO,
			      "%s; the chunk holding row %lld of source "
			      "\"%s\" was not committed",
			      msg, (long long)r->rownum,
			      r->source ? r->source : "?");
	} else if (!rn->job->max_rejects_pct &&
		   (double)cns_rejects_count(rn->rejects) >
			   rn->job->max_rejects) {
		cns_error_set(&e, CNS_E_REJECTS,
			      "%lld rows were rejected, more than "
			      "max_rejects = %g",
			      (long long)cns_rejects_count(rn->rejects),
			      rn->job->max_rejects);
	}
	if (cns_error_isset(&e))
		stop_run(rn, &e);
	pthread_mutex_lock(&rn->mu);
	log_it = rn->logged++ < LOGGED_REJECTS;
	pthread_mutex_unlock(&rn->mu);
	if (log_it) {
		struct cns_buf msg;
		struct cns_kv kv[4];
		int n = 0;

		cns_buf_init(&msg);
		cns_buf_printf(&msg, "row rejected: %s", r->reason);
		kv[n++] = CNS_KV_INT("row", r->rownum);
		if (r->column)
			kv[n++] = CNS_KV_STR("column", r->column);
		if (r->origin)
			kv[n++] = CNS_KV_STR("file", r->origin);
		kv[n] = CNS_KV_END;
		cns_runlog_put(rn->log, CNS_LOG_WARN, "transform", r->source,
			       msg.data, kv);
		cns_buf_release(&msg);
	}
}

/* The state connection, reconnected when the server went away (a target
 * restart mid-run kills every session); call with rn->mu held. */
static PGconn *state_conn(struct runner *rn)
{
	/* PQstatus alone still says OK after a crash of the server. */
	if (rn->state && cns_pg_conn_lost(rn->state))
		PQreset(rn->state); /* keeps the notice processor */
	return rn->state;
}

/* Before each try of a source: the run still holds its advisory lock, or
 * takes it again (its session may have ended with a server restart); a
 * run that cannot must not commit another chunk.  Call with rn->mu
 * held. */
static int ensure_lock(struct runner *rn, const char *source,
		       struct cns_error *err)
{
	bool retaken;

	if (cns_lock_ensure(rn->lock, rn->job, &retaken, err) < 0) {
		cns_runlog_put(rn->log, CNS_LOG_ERROR, "guard", source,
			       err->message, NULL);
		return -1;
	}
	if (retaken)
		cns_runlog_log(rn->log, CNS_LOG_WARN, "guard", source,
			       "the session holding the advisory lock had "
			       "ended: lock taken again");
	return 0;
}

/* Replace mode, before each try of a source: a server that restarted
 * since a chunk of the run committed may have emptied the unlogged shadow
 * table, and reloading only this source would not bring the others back;
 * the swap checks the same, and this only saves the reload.  Call with
 * rn->mu held. */
static int shadow_intact(struct runner *rn, struct cns_error *err)
{
	char *sql = cns_state_restart_check_sql(rn->run_id);
	PGresult *res = cns_pg_exec(state_conn(rn), sql, PGRES_TUPLES_OK,
				    "the target (run state)", err);

	free(sql);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

/* The watermark as read, as a text[] expression (NULL: no row). */
static char *watermark_expr(char **wm, int nwm, bool exists)
{
	struct cns_cell cells[64];
	const struct cns_cell *refs[64];

	if (!exists || nwm > 64)
		return NULL;
	for (int k = 0; k < nwm; k++) {
		cells[k].data = wm[k];
		cells[k].len = wm[k] ? (uint32_t)strlen(wm[k]) : 0;
		cells[k].null = wm[k] == NULL;
		refs[k] = &cells[k];
	}
	return cns_state_watermark_value(refs, nwm);
}

/* Preparation reads the watermark on the run's state connection, which
 * sources preparing in parallel share. */
static int prep_watermark(void *ctx, const char *source,
			  struct cns_arena *arena, int *n, char ***values,
			  struct cns_error *err)
{
	struct runner *rn = ctx;
	int rc;

	pthread_mutex_lock(&rn->mu);
	rc = cns_state_watermark_get(state_conn(rn), rn->job->name, source,
				     arena, n, values, err);
	pthread_mutex_unlock(&rn->mu);
	return rc;
}

static void prep_event(void *ctx, enum cns_prepare_level level,
		       const char *stage, const char *source, const char *text,
		       const struct cns_kv *kv)
{
	struct runner *rn = ctx;

	cns_runlog_put(rn->log,
		       level == CNS_PREP_ERROR  ? CNS_LOG_ERROR
		       : level == CNS_PREP_WARN ? CNS_LOG_WARN
						: CNS_LOG_INFO,
		       stage, source, text, kv);
}

/* Keeps what the run needs after the source is gone (the ordering for
 * checkpoints, the watermark it started from for the record and for a
 * restore), then runs the volume pre-check. */
static int hook_prepared(void *ctx, struct cns_run *run, int i,
			 struct cns_prepared *p, struct cns_error *err)
{
	struct runner *rn = ctx;
	struct inc_state *inc = &rn->inc[i];
	const struct cns_source_conf *sc = p->src->conf;
	int nwm = p->bound ? p->nstored : 0;
	int rc;

	/* Before each try: the run still holds its lock, and in replace
	 * mode its shadow did not lose committed rows to a restart. */
	pthread_mutex_lock(&rn->mu);
	rc = ensure_lock(rn, sc->name, err);
	if (rc == 0 && rn->job->target.mode == CNS_MODE_REPLACE)
		rc = shadow_intact(rn, err);
	pthread_mutex_unlock(&rn->mu);
	if (rc < 0)
		return -1;
	if (p->ninc > 0) {
		/* What the target holds now, for the conditional watermark
		 * update of the first chunk. */
		free(inc->prev);
		inc->prev =
			watermark_expr(p->stored, p->nstored, p->nstored > 0);
		/* Sources start in parallel: the run arena is shared. */
		pthread_mutex_lock(&rn->mu);
		inc->n = p->ninc;
		inc->nnullable = p->nnullable;
		inc->cols = cns_arena_zalloc(&rn->arena,
					     sizeof(char *) * (size_t)inc->n);
		inc->index = cns_arena_zalloc(&rn->arena,
					      sizeof(int) * (size_t)inc->n);
		for (int k = 0; k < inc->n; k++) {
			inc->cols[k] =
				cns_arena_strdup(&rn->arena, p->inc_cols[k]);
			inc->index[k] = p->inc_index[k];
		}
		inc->nwm = nwm;
		inc->wm = cns_arena_zalloc(&rn->arena,
					   sizeof(char *) * (size_t)(nwm + 1));
		for (int k = 0; k < nwm; k++)
			inc->wm[k] = p->stored[k]
					     ? cns_arena_strdup(&rn->arena,
								p->stored[k])
					     : NULL;
		pthread_mutex_unlock(&rn->mu);
		free(inc->before); /* a retry prepares again */
		inc->before = json_values((const char *const *)p->stored, nwm);
		cns_runlog_log(rn->log, CNS_LOG_INFO, "extract", sc->name,
			       "incremental extraction",
			       CNS_KV_STR("watermark", inc->before));
	}
	rc = cns_prepare_volume(run->job, p, &run->hooks.prepare, err);
	inc->counted = p->counted;
	return rc;
}

/* The watermark part of a chunk's checkpoint: the ordering values of its
 * last row whose incremental columns are not NULL, moved from the value
 * the previous chunk left.  Returns false when the run was cancelled. */
static bool checkpoint_watermark(struct runner *rn, struct cns_run *run, int i,
				 struct cns_source *src,
				 const struct cns_chunk *in, int last_row,
				 struct cns_buf *q)
{
	struct inc_state *inc = &rn->inc[i];
	const struct cns_cell *cells[2 * CNS_MAX_ORDER_COLUMNS];
	const char *vals[2 * CNS_MAX_ORDER_COLUMNS];
	char *after;
	int r;

	if (inc->n == 0)
		return true;
	if (inc->n > (int)(sizeof(vals) / sizeof(vals[0]))) {
		/* A primary key wider than config allows for "key": the
		 * watermark could never advance, so the run must not go on
		 * as if it did. */
		cns_pipeline_cancel(run, CNS_E_CONFIG,
				    "source \"%s\" orders by %d columns, more "
				    "than the %d a watermark holds",
				    src->conf->name, inc->n,
				    (int)(sizeof(vals) / sizeof(vals[0])));
		return false;
	}
	if (src->conf->null_incremental == CNS_NULLINC_ERROR) {
		for (r = 0; r <= last_row; r++)
			for (int k = 0; k < inc->nnullable; k++)
				if (cns_chunk_row(in, r)[inc->index[k]].null) {
					cns_pipeline_cancel(
						run, CNS_E_SOURCE,
						"source \"%s\": row %lld has a "
						"NULL in incremental column "
						"\"%s\" (null_incremental = "
						"error)",
						src->conf->name,
						(long long)in->rownum[r],
						inc->cols[k]);
					return false;
				}
	}
	for (r = last_row; r >= 0; r--) {
		bool any_null = false;

		for (int k = 0; k < inc->nnullable; k++)
			any_null |= cns_chunk_row(in, r)[inc->index[k]].null;
		if (!any_null)
			break;
	}
	if (r < 0)
		return true;
	/* Cells need not end in a NUL (they may point into a row buffer):
	 * copy them for the log's JSON. */
	for (int k = 0; k < inc->n; k++) {
		cells[k] = &cns_chunk_row(in, r)[inc->index[k]];
		vals[k] = cells[k]->null
				  ? NULL
				  : strndup(cells[k]->data, cells[k]->len);
	}
	/* Conditional on the value the run read (or its previous chunk
	 * wrote): of two runs that both think they hold the lock, the
	 * second to commit fails instead of loading rows twice. */
	cns_state_watermark_advance_sql(q, rn->job->name, src->conf->name,
					inc->cols, inc->n, cells, rn->run_id,
					inc->prev);
	free(inc->prev);
	inc->prev = cns_state_watermark_value(cells, inc->n);
	after = json_values(vals, inc->n);
	for (int k = 0; k < inc->n; k++)
		free((char *)vals[k]);
	pthread_mutex_lock(&rn->mu);
	free(inc->after);
	inc->after = after;
	pthread_mutex_unlock(&rn->mu);
	return true;
}

/* The checkpoint of a chunk, run in the chunk's own transaction: the
 * check that the run still holds its lock, the watermark, and the
 * chunk's row in the ledger, which says after a lost connection whether
 * the chunk committed. */
static char *hook_checkpoint(void *ctx, struct cns_run *run, int i,
			     struct cns_source *src, const struct cns_chunk *in,
			     int last_row)
{
	struct runner *rn = ctx;
	struct inc_state *inc = &rn->inc[i];
	struct cns_buf q;

	cns_buf_init(&q);
	pthread_mutex_lock(&rn->mu);
	cns_lock_check_sql(rn->lock, rn->job, &q);
	pthread_mutex_unlock(&rn->mu);
	/* A backfill (--range) leaves the watermark where it was. */
	if (!rn->opt->range_from &&
	    !checkpoint_watermark(rn, run, i, src, in, last_row, &q)) {
		cns_buf_release(&q);
		return NULL;
	}
	cns_state_ledger_sql(&q, rn->run_id, rn->job->name, src->conf->name,
			     ++inc->chunks, in->nrows);
	return q.data;
}

/* deletes = soft | hard: the keys of the chunk's rows join the run's
 * seen-keys table in the chunk's own transaction. */
static char *hook_chunk_sql(void *ctx, struct cns_run *run, int i,
			    const struct cns_chunk *out)
{
	struct runner *rn = ctx;

	if (!cns_deletes_source(rn->job, i, rn->opt->only_source))
		return NULL;
	return cns_deletes_seen_sql(rn->job, i, rn->run_id,
				    cns_transform_schema(run->xf), out);
}

/* deletes = soft | hard, once every source got to its end: the run's
 * last transaction on the target. */
static int apply_deletes(struct runner *rn, struct cns_run *run,
			 struct cns_error *err)
{
	struct cns_source_stats *st;
	int64_t *deleted;
	struct cns_buf check;
	int rc;

	if (!cns_deletes_any(rn->job, rn->opt->only_source))
		return 0;
	st = cns_xcalloc((size_t)run->nsources, sizeof(*st));
	deleted = cns_xcalloc((size_t)run->nsources, sizeof(*deleted));
	cns_pipeline_snapshot(run, st);
	cns_buf_init(&check);
	cns_buf_adds(&check, "");
	pthread_mutex_lock(&rn->mu);
	cns_lock_check_sql(rn->lock, rn->job, &check);
	rc = cns_deletes_apply(state_conn(rn), rn->job, rn->run_id,
			       rn->opt->only_source, st, check.data, rn->log,
			       deleted, err);
	pthread_mutex_unlock(&rn->mu);
	if (rc < 0)
		cns_runlog_put(rn->log, CNS_LOG_ERROR, "deletes", NULL,
			       err->message, NULL);
	cns_buf_release(&check);
	free(deleted);
	free(st);
	return rc;
}

/* Whether a source committed chunks the run did not see commit (a lost
 * COMMIT acknowledgement), from the ledger; -1 when the target cannot
 * tell. */
static int64_t hook_committed_chunks(void *ctx, struct cns_run *run, int i)
{
	struct runner *rn = ctx;
	struct cns_error e;
	int64_t n = -1;

	/* The connection was just lost: the server may still be coming
	 * back. */
	for (int attempt = 0; attempt < 5 && n < 0 && !run->stop; attempt++) {
		if (attempt) {
			struct timespec ts = { 0, 500 * 1000000L };

			nanosleep(&ts, NULL);
		}
		cns_error_clear(&e);
		pthread_mutex_lock(&rn->mu);
		n = cns_state_ledger_chunks(state_conn(rn), rn->run_id,
					    rn->job->sources[i].name, &e);
		pthread_mutex_unlock(&rn->mu);
	}
	return n;
}

/* In replace mode, the statement that the swap's transaction runs first:
 * the shadow table is unlogged, and a server that restarted since a chunk
 * committed may have emptied it. */
static char *hook_swap_check(void *ctx, struct cns_run *run)
{
	struct runner *rn = ctx;

	(void)run;
	return cns_state_restart_check_sql(rn->run_id);
}

/* An event whose message quotes a sentence (an error, a verdict) rather
 * than a value of its own: the message is formatted, with no pairs. */
static void say(struct cns_runlog *log, enum cns_log_level level,
		const char *stage, const char *source, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void say(struct cns_runlog *log, enum cns_log_level level,
		const char *stage, const char *source, const char *fmt, ...)
{
	struct cns_buf msg;
	va_list ap;

	cns_buf_init(&msg);
	va_start(ap, fmt);
	cns_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	cns_runlog_put(log, level, stage, source, msg.data, NULL);
	cns_buf_release(&msg);
}

/* The volume guard: a source that suddenly delivers far fewer or more
 * rows than usual is more often broken than busy.  In replace mode a
 * failure here comes before the swap, so the target keeps its rows. */
/* Puts a source's watermark back where the run found it. */
static void restore_watermark(struct runner *rn, int i)
{
	const struct inc_state *inc = &rn->inc[i];
	const char *name = rn->job->sources[i].name;
	struct cns_cell cells[2 * CNS_MAX_ORDER_COLUMNS];
	const struct cns_cell *refs[2 * CNS_MAX_ORDER_COLUMNS];
	struct cns_error e;
	char *sql;

	cns_error_clear(&e);
	pthread_mutex_lock(&rn->mu);
	if (inc->nwm == 0) {
		cns_state_watermark_reset(state_conn(rn), rn->job->name, name,
					  &e);
	} else if (inc->nwm <= 2 * CNS_MAX_ORDER_COLUMNS) {
		for (int k = 0; k < inc->nwm; k++) {
			cells[k].data = inc->wm[k];
			cells[k].len = inc->wm[k] ? (uint32_t)strlen(inc->wm[k])
						  : 0;
			cells[k].null = inc->wm[k] == NULL;
			refs[k] = &cells[k];
		}
		sql = cns_state_watermark_sql(rn->job->name, name, inc->cols,
					      inc->nwm, refs, rn->run_id);
		cns_pg_command(state_conn(rn), sql, "the target (run state)",
			       &e);
		free(sql);
	}
	pthread_mutex_unlock(&rn->mu);
	if (cns_error_isset(&e))
		say(rn->log, CNS_LOG_ERROR, "volume", name,
		    "could not restore the watermark: %s", e.message);
	else
		cns_runlog_log(rn->log, CNS_LOG_INFO, "volume", name,
			       "watermark held",
			       CNS_KV_STR("watermark", inc->before));
}

/* Keeps the first warning of a guard for the notification. */
static void note_warning(struct runner *rn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note_warning(struct runner *rn, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&rn->mu);
	if (!rn->warning[0]) {
		va_start(ap, fmt);
		vsnprintf(rn->warning, sizeof(rn->warning), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&rn->mu);
}

static int volume_guard(struct runner *rn, int i,
			const struct cns_source_stats *st,
			struct cns_error *err)
{
	char why[512];

	if (rn->inc[i].counted)
		return 0; /* judged before extraction (prepare.c) */
	if (rn->opt->range_from)
		return 0; /* a backfill's window is not a usual volume */
	if (cns_volume_judge(rn->job, st->name, st->read, why, sizeof(why)) ==
	    0)
		return 0;
	if (rn->job->on_volume_anomaly == CNS_ANOMALY_WARN) {
		say(rn->log, CNS_LOG_WARN, "volume", st->name,
		    "volume anomaly: %s", why);
		note_warning(rn, "source \"%s\": volume anomaly: %s", st->name,
			     why);
		return 0;
	}
	say(rn->log, CNS_LOG_ERROR, "volume", st->name,
	    "volume anomaly, failing the run: %s", why);
	/* In upsert mode the rows read again by the next run overwrite
	 * themselves, so the watermark can go back and the next run
	 * reconsiders them; in append mode that would double them, so the
	 * watermark stays with the rows it covers. */
	if (rn->inc[i].n > 0 && rn->job->target.mode == CNS_MODE_UPSERT)
		restore_watermark(rn, i);
	cns_error_set(err, CNS_E_SOURCE, "volume anomaly: %s", why);
	cns_error_hint(err, "on_volume_anomaly = fail; if the new volume is "
			    "right, run with on_volume_anomaly = warn once");
	return -1;
}

static int hook_after_source(void *ctx, struct cns_run *run, int i,
			     struct cns_error *err)
{
	struct runner *rn = ctx;
	struct cns_source_stats st;

	(void)err;
	pthread_mutex_lock(&run->lock);
	st = run->stats[i];
	pthread_mutex_unlock(&run->lock);
	cns_runlog_log(rn->log, CNS_LOG_INFO, "load", st.name, "source done",
		       CNS_KV_INT("read", st.read),
		       CNS_KV_INT("filtered", st.filtered),
		       CNS_KV_INT("rejected", st.rejected),
		       CNS_KV_INT("loaded", st.loaded),
		       CNS_KV_INT("changed", st.written),
		       CNS_KV_INT("chunks", st.chunks));
	/* A log that lost lines fails the run here, before a replace
	 * swaps its table in, rather than after. */
	if (cns_runlog_check(rn->log, err) < 0)
		return -1;
	return volume_guard(rn, i, &st, err);
}

static void hook_chunk_loaded(void *ctx, struct cns_run *run, int i,
			      int64_t rows, int64_t written, int64_t ms)
{
	struct runner *rn = ctx;

	cns_runlog_log(rn->log, CNS_LOG_INFO, "load", run->job->sources[i].name,
		       "chunk committed", CNS_KV_INT("rows", rows),
		       CNS_KV_INT("changed", written), CNS_KV_INT("ms", ms),
		       CNS_KV_INT("rows_per_s",
				  ms > 0 ? rows * 1000 / ms : rows));
}

static void hook_retry(void *ctx, struct cns_run *run, int i, int attempt,
		       int64_t delay_ms, const struct cns_error *cause)
{
	struct runner *rn = ctx;

	cns_runlog_log(rn->log, CNS_LOG_WARN, "retry",
		       run->job->sources[i].name,
		       "transient failure, retrying from the last checkpoint",
		       CNS_KV_INT("attempt", attempt),
		       CNS_KV_INT("of", run->job->retries),
		       CNS_KV_INT("delay_ms", delay_ms),
		       CNS_KV_STR("cause", cause->message));
}

/* ---- the run ---- */

static enum cns_run_status status_of(enum cns_error_code code)
{
	switch (code) {
	case CNS_OK: return CNS_RUN_OK;
	case CNS_E_TIMEOUT: return CNS_RUN_TIMED_OUT;
	case CNS_E_CANCELLED: return CNS_RUN_CANCELLED;
	case CNS_E_LOCKED: return CNS_RUN_SKIPPED;
	case CNS_E_USAGE:
	case CNS_E_CONFIG:
	case CNS_E_SOURCE:
	case CNS_E_TARGET:
	case CNS_E_TRANSFORM:
	case CNS_E_REJECTS:
	case CNS_E_IO:
	case CNS_E_NOMEM:
	case CNS_E_INTERNAL:
	case CNS_E_TRANSIENT:
	case CNS_E__COUNT: break;
	}
	return CNS_RUN_FAILED;
}

/* Waits for the pipeline; runs the watchdog and turns signals into a
 * clean cancel.  Returns false when the pipeline did not stop within
 * kill_grace after a cancel. */
static bool supervise(struct runner *rn, struct cns_run *run,
		      struct cns_job_conf *job)
{
	struct cns_source_stats *snap =
		cns_xcalloc((size_t)run->nsources, sizeof(*snap));
	/* max_runtime counts from the run's start, connect and prepare
	 * included, as the guard counts it. */
	int64_t start = rn->guard.start_ms, cancel_deadline = 0;
	bool finished = true;

	while (!cns_pipeline_wait(run, TICK_MS)) {
		int64_t now = cns_now_ms(), progress = start;

		cns_pipeline_snapshot(run, snap);
		for (int i = 0; i < run->nsources; i++)
			if (snap[i].state == CNS_SRC_RUNNING &&
			    snap[i].last_progress_ms > progress)
				progress = snap[i].last_progress_ms;
		if (rn->opt->tick)
			rn->opt->tick(rn->opt->tick_ctx, snap, run->nsources);
		if (cancel_deadline) {
			if (now > cancel_deadline) {
				finished = false;
				break;
			}
			continue;
		}
		if (rn->opt->signal_flag && atomic_load(rn->opt->signal_flag)) {
			int sig = atomic_load(rn->opt->signal_flag);

			cns_pipeline_cancel(
				run, CNS_E_CANCELLED, "run cancelled by %s",
				sig == SIGINT ? "SIGINT" : "SIGTERM");
			cns_runlog_log(rn->log, CNS_LOG_WARN, "guard", NULL,
				       "cancelled by a signal, rolling back "
				       "the open chunks",
				       CNS_KV_INT("signal", sig));
			cancel_deadline = give_up_at(job, now);
			continue;
		}
		/* The guard's clock may get to max_runtime a tick first:
		 * same limit, same verdict. */
		switch (atomic_load(&rn->guard.fired) == CNS_E_TIMEOUT
				? CNS_WD_RUNTIME
				: cns_watchdog_check(job, start, progress,
						     now)) {
		case CNS_WD_OK: break;
		case CNS_WD_RUNTIME: {
			char d[32];

			cns_format_duration(job->max_runtime_ms, d, sizeof(d));
			cns_pipeline_cancel(run, CNS_E_TIMEOUT,
					    "the run exceeded max_runtime = %s",
					    d);
			cns_runlog_log(rn->log, CNS_LOG_ERROR, "watchdog", NULL,
				       "max_runtime exceeded",
				       CNS_KV_STR("limit", d));
			cancel_deadline = give_up_at(job, now);
			break;
		}
		case CNS_WD_STALL: {
			char d[32];

			cns_format_duration(job->stall_timeout_ms, d,
					    sizeof(d));
			cns_pipeline_cancel(run, CNS_E_TIMEOUT,
					    "no progress for %s "
					    "(stall_timeout)",
					    d);
			cns_runlog_log(rn->log, CNS_LOG_ERROR, "watchdog", NULL,
				       "stalled", CNS_KV_STR("limit", d));
			cancel_deadline = give_up_at(job, now);
			break;
		}
		}
		for (int i = 0; cancel_deadline && i < run->nsources; i++)
			cns_runlog_log(rn->log, CNS_LOG_INFO, "watchdog",
				       snap[i].name, "source stood at",
				       CNS_KV_INT("read", snap[i].read),
				       CNS_KV_INT("loaded", snap[i].loaded),
				       CNS_KV_INT("chunks", snap[i].chunks));
	}
	free(snap);
	return finished;
}

static int open_state(struct runner *rn, struct cns_error *err)
{
	struct cns_run_row row = {
		.run_id = rn->run_id,
		.job = rn->job->name,
		.host = rn->host,
		.pid = (long)getpid(),
		.started_us = rn->started_us,
	};
	int crashed;

	rn->state = cns_pg_connect(rn->job->target.conninfo, "the target", err);
	if (!rn->state || cns_state_ensure(rn->state, err) < 0)
		return -1;
	crashed = cns_state_mark_crashed(rn->state, rn->job->name, err);
	if (crashed < 0)
		return -1;
	if (crashed > 0)
		cns_runlog_log(rn->log, CNS_LOG_WARN, "start", NULL,
			       crashed == 1 ? "an earlier run never recorded "
					      "an end: marked crashed"
					    : "earlier runs never recorded an "
					      "end: marked crashed",
			       CNS_KV_INT("runs", crashed));
	/* The ledger matters only while its run goes on. */
	if (cns_state_ledger_forget(rn->state, rn->job->name, rn->run_id, err) <
	    0)
		return -1;
	if (rn->opt->full_refresh &&
	    cns_state_watermark_reset(rn->state, rn->job->name,
				      rn->opt->only_source, err) < 0)
		return -1;
	return cns_state_run_begin(rn->state, &row, err);
}

static void notify_log(void *ctx, int level, const char *msg)
{
	struct runner *rn = ctx;

	cns_runlog_put(rn->log, level ? CNS_LOG_WARN : CNS_LOG_INFO, "notify",
		       NULL, msg, NULL);
}

/* Whether the last recorded run before this one, skipped runs aside,
 * did not succeed. */
static bool last_run_failed(const struct cns_job_conf *job)
{
	struct cns_run_history h;
	bool failed = false;

	if (cns_runlog_history(job, 20, &h, NULL) < 0)
		return false;
	for (int i = h.n - 1; i >= 0; i--) {
		/* Skipped runs and redrives say nothing of the last run. */
		if (h.runs[i].status == CNS_RUN_SKIPPED ||
		    cns_run_entry_is_redrive(&h.runs[i]))
			continue;
		failed = h.runs[i].status != CNS_RUN_OK;
		break;
	}
	cns_run_history_release(&h);
	return failed;
}

/* Sends the run's notification, if it has one: a failure, the first
 * success after failures, or a success with a guard's warning.  Before
 * the record is written, so the history still ends at the run before. */
static void notify(struct runner *rn, const struct cns_run_record *rec,
		   const struct cns_runner_result *res)
{
	struct cns_notify_event ev = { 0 };
	bool ok = rec->status == CNS_RUN_OK;

	if (!rn->job->notify_command && !rn->job->notify_url)
		return;
	if (rec->status == CNS_RUN_SKIPPED)
		return;
	if (!ok)
		ev.kind = CNS_NOTIFY_FAILED;
	else if (last_run_failed(rn->job))
		ev.kind = CNS_NOTIFY_RECOVERED;
	else if (rn->warning[0])
		ev.kind = CNS_NOTIFY_WARNING;
	else
		return;
	ev.job = rec->job;
	ev.run_id = rec->run_id;
	ev.status = cns_run_status_name(rec->status);
	ev.error = rec->error;
	ev.warning = rn->warning[0] ? rn->warning : NULL;
	ev.log = rn->log ? cns_runlog_path(rn->log) : NULL;
	for (int i = 0; i < res->nsources; i++) {
		ev.rows_read += res->stats[i].read;
		ev.rows_loaded += res->stats[i].loaded;
		ev.rows_rejected += res->stats[i].rejected;
	}
	cns_notify_send(rn->job, &ev, notify_log, rn);
}

/* The target's copy of the record of a run that is being ended: written
 * on a connection of its own by a thread that the caller waits for
 * RECORD_LIMIT_MS at most, since the target may be the peer that does
 * not answer.  One per process (the end comes once); the thread may
 * outlive the wait, so nothing here lives on a stack. */
static struct bounded_record {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	const char *conninfo;
	char run_id[64];
	const char *status;
	int exit_code;
	char *sources_json;
	int64_t rejected;
	char msg[2048];
} brec = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void *bounded_record_main(void *arg)
{
	struct cns_error e;
	PGconn *conn;

	(void)arg;
	cns_error_clear(&e);
	conn = cns_pg_connect(brec.conninfo, "the target", &e);
	if (conn)
		cns_state_run_end(conn, brec.run_id, brec.status,
				  brec.exit_code, brec.sources_json,
				  brec.rejected, brec.msg[0] ? brec.msg : NULL,
				  &e);
	PQfinish(conn);
	pthread_mutex_lock(&brec.mu);
	brec.done = true;
	pthread_cond_broadcast(&brec.cv);
	pthread_mutex_unlock(&brec.mu);
	return NULL;
}

/* Returns true when the record reached the target in time. */
static bool record_target_bounded(struct runner *rn, const char *status,
				  int exit_code, const char *sj,
				  int64_t rejected, const char *msg)
{
	int64_t until = cns_now_ms() + record_limit_ms(rn->job);
	pthread_t tid;
	bool done;

	cns_cond_init_monotonic(&brec.cv);
	brec.conninfo = rn->job->target.conninfo;
	snprintf(brec.run_id, sizeof(brec.run_id), "%s", rn->run_id);
	brec.status = status;
	brec.exit_code = exit_code;
	brec.sources_json = sj ? strdup(sj) : NULL;
	brec.rejected = rejected;
	snprintf(brec.msg, sizeof(brec.msg), "%s", msg ? msg : "");
	if (cns_thread_create(&tid, bounded_record_main, NULL) != 0)
		return false;
	pthread_detach(tid);
	pthread_mutex_lock(&brec.mu);
	while (!brec.done && cns_now_ms() < until) {
		struct timespec ts = cns_deadline_in(50);

		pthread_cond_timedwait(&brec.cv, &brec.mu, &ts);
	}
	done = brec.done;
	pthread_mutex_unlock(&brec.mu);
	return done;
}

/* Writes the end of a started run everywhere it is recorded: the log and
 * runs.jsonl first, then the target's history row, so that a record that
 * cannot be written (a full disk) fails the run in the history row and the
 * exit status too.  rc is the run's outcome so far (err set when -1);
 * returns the final one.  With bounded, the run is being ended because
 * something does not answer: the target's copy is written on a fresh
 * connection within RECORD_LIMIT_MS or not at all (the next run marks it
 * crashed). */
static int record_end(struct runner *rn, struct cns_run *run,
		      struct cns_runner_result *res, struct cns_error *err,
		      int rc, bool bounded)
{
	struct cns_error e2;
	struct cns_run_record rec;
	char msg[2048] = "";
	const char **before = NULL, **after = NULL;
	int n = run->stats ? run->nsources : 0;
	char *sj = NULL;

	cns_error_clear(&e2);
	if (rc < 0 && cns_error_isset(err))
		cns_error_format(err, msg, sizeof(msg));
	if (n) {
		res->stats = cns_xcalloc((size_t)n, sizeof(*res->stats));
		cns_pipeline_snapshot(run, res->stats);
		res->nsources = n;
		sj = sources_json(res->stats, n);
		before = cns_xcalloc((size_t)n, sizeof(char *));
		after = cns_xcalloc((size_t)n, sizeof(char *));
		pthread_mutex_lock(&rn->mu);
		for (int i = 0; i < n; i++) {
			before[i] = rn->inc[i].before;
			after[i] = rn->inc[i].after ? rn->inc[i].after
						    : rn->inc[i].before;
		}
		pthread_mutex_unlock(&rn->mu);
	}
	res->status = status_of(rc < 0 ? err->code : CNS_OK);
	if (rn->rejects) {
		const char *p = cns_rejects_path(rn->rejects);

		if (p)
			snprintf(res->rejects_path, sizeof(res->rejects_path),
				 "%s", p);
	}
	rec = (struct cns_run_record){
		.run_id = rn->run_id,
		.job = rn->job->name,
		.host = rn->host,
		.pid = (long)getpid(),
		.started_us = rn->started_us,
		.ended_us = cns_wall_us(),
		.status = res->status,
		.exit_code = cns_error_exit_code(rc < 0 ? err->code : CNS_OK),
		.nsources = n,
		.sources = res->stats,
		.watermark_before = before,
		.watermark_after = after,
		.error = msg[0] ? msg : NULL,
	};
	if (rn->rejects && cns_rejects_count(rn->rejects) > 0) {
		FILE *mem = fmemopen(res->rejects_summary,
				     sizeof(res->rejects_summary) - 1, "w");
		char *line, *save = NULL;

		cns_runlog_log(
			rn->log, CNS_LOG_WARN, "rejects", NULL, "rows rejected",
			CNS_KV_INT("rows", cns_rejects_count(rn->rejects)),
			CNS_KV_STR("file", res->rejects_path));
		if (mem) {
			cns_rejects_summary(rn->rejects, mem, 10);
			fclose(mem);
		}
		char copy[sizeof(res->rejects_summary)];

		memcpy(copy, res->rejects_summary, sizeof(copy));
		for (line = strtok_r(copy, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			cns_runlog_put(rn->log, CNS_LOG_WARN, "rejects", NULL,
				       line, NULL);
	}
	{
		char trend[512];
		double secs = (double)(rec.ended_us - rec.started_us) / 1e6;

		/* Before the record of this run joins the history, so the
		 * "last runs" are the earlier ones. */
		if (cns_trend_judge(rn->job, secs, trend, sizeof(trend))) {
			cns_runlog_put(rn->log, CNS_LOG_WARN, "trend", NULL,
				       trend, NULL);
			note_warning(rn, "%s", trend);
		}
	}
	notify(rn, &rec, res);
	cns_error_clear(&e2);
	if (cns_runlog_finish(rn->log, &rec, &e2) < 0) {
		if (rc == 0) {
			*err = e2;
			rc = -1;
			res->status = status_of(err->code);
			cns_error_format(err, msg, sizeof(msg));
		} else if (!err->detail[0]) {
			cns_error_detail(err, "%s", e2.message);
		}
	}
	if (bounded) {
		int64_t rejected = 0;

		for (int i = 0; i < n; i++)
			rejected += res->stats[i].rejected;
		if (!record_target_bounded(
			    rn, cns_run_status_name(res->status),
			    cns_error_exit_code(rc < 0 ? err->code : CNS_OK),
			    sj, rejected, msg[0] ? msg : NULL))
			cns_runlog_log(rn->log, CNS_LOG_WARN, "end", NULL,
				       "could not record the run in the "
				       "target in time",
				       CNS_KV_INT("limit_ms",
						  record_limit_ms(rn->job)));
	} else if (rn->state && PQstatus(state_conn(rn)) == CONNECTION_OK) {
		int64_t rejected = 0;
		int code = cns_error_exit_code(rc < 0 ? err->code : CNS_OK);
		int done;

		for (int i = 0; i < n; i++)
			rejected += res->stats[i].rejected;
		done = cns_state_run_end(rn->state, rn->run_id,
					 cns_run_status_name(res->status), code,
					 sj, rejected, msg[0] ? msg : NULL,
					 &e2);
		if (done < 0 && e2.code == CNS_E_TRANSIENT &&
		    PQstatus(state_conn(rn)) == CONNECTION_OK) {
			/* The session was lost since its last use: once
			 * more on a new one (the UPDATE is idempotent). */
			cns_error_clear(&e2);
			done = cns_state_run_end(
				rn->state, rn->run_id,
				cns_run_status_name(res->status), code, sj,
				rejected, msg[0] ? msg : NULL, &e2);
		}
		if (done < 0)
			say(rn->log, CNS_LOG_WARN, "end", NULL,
			    "could not record the run in the target: %s",
			    e2.message);
	}
	free(before);
	free(after);
	free(sj);
	return rc;
}

/* Records a run that ended before its log was open (refused by a lock,
 * or unable to open the log) in runs.jsonl only: its own record, and no
 * shared record touched. */
static void record_unstarted(struct runner *rn, struct cns_error *err)
{
	struct cns_run_record rec = {
		.run_id = rn->run_id,
		.job = rn->job->name,
		.host = rn->host,
		.pid = (long)getpid(),
		.started_us = rn->started_us,
		.ended_us = cns_wall_us(),
		.status = status_of(err->code),
		.exit_code = cns_error_exit_code(err->code),
		.error = err->message,
	};
	struct cns_runner_result none;
	struct cns_error e2;

	/* A run that could not reach its target is a failure to alert on
	 * like any other (one refused by a lock is skipped: no alert). */
	memset(&none, 0, sizeof(none));
	notify(rn, &rec, &none);
	cns_error_clear(&e2);
	if (cns_runlog_record_skip(rn->job, &rec, &e2) < 0)
		cns_error_detail(err, "the run could not be recorded: %s",
				 e2.message);
}

/* ---- the guard ---- */

/* The cause the guard fired for, into err (the phase's own error, e.g.
 * "canceling statement due to user request", becomes the detail). */
static void guard_cause(struct guard *g, struct cns_error *err)
{
	char was[sizeof(err->message)] = "";

	if (cns_error_isset(err))
		snprintf(was, sizeof(was), "%s", err->message);
	cns_error_clear(err);
	cns_error_set(err, (enum cns_error_code)atomic_load(&g->fired), "%s",
		      g->cause);
	/* Said once: the phase may already report the guard's cause. */
	if (was[0] && strcmp(was, g->cause) != 0)
		cns_error_detail(err, "%s", was);
}

/* Records the end of a run that did not stop within kill_grace, in a
 * bounded time.  Returns false when another thread is already doing
 * it. */
static bool guard_end_stuck(struct guard *g, struct cns_run *run,
			    struct cns_runner_result *res,
			    const struct cns_error *err)
{
	struct cns_run none;

	if (atomic_exchange(&g->ending, 1))
		return false;
	memset(&none, 0, sizeof(none));
	cns_runlog_log(g->rn->log, CNS_LOG_ERROR, "watchdog", NULL,
		       "the run did not stop within kill_grace: ending it");
	{
		struct cns_error e = *err;

		if (g->rn->log)
			record_end(g->rn, run ? run : &none, res, &e, -1, true);
		else
			record_unstarted(g->rn, &e);
	}
	return true;
}

static void *canceller_main(void *arg)
{
	(void)arg;
	cns_pg_cancel_all();
	return NULL;
}

static void guard_fire(struct guard *g, enum cns_error_code code,
		       const char *what, int64_t now)
{
	pthread_t tid;

	snprintf(g->cause, sizeof(g->cause), "%s", what);
	g->fired_ms = now;
	atomic_store(&g->fired, (int)code);
	cns_runlog_log(g->rn->log, CNS_LOG_WARN, "watchdog", NULL, "cancelling",
		       CNS_KV_STR("cause", what));
	if (atomic_load(&g->in_pipeline))
		return; /* supervise() cancels the pipeline */
	/* Cancel requests are network I/O that a silent peer can block: a
	 * thread of their own, that nobody waits for. */
	if (cns_thread_create(&tid, canceller_main, NULL) == 0)
		pthread_detach(tid);
}

static void *guard_main(void *arg)
{
	struct guard *g = arg;
	const struct cns_job_conf *job = g->rn->job;
	const struct cns_runner_options *opt = g->rn->opt;

	pthread_mutex_lock(&g->mu);
	while (!g->quit) {
		struct timespec ts = cns_deadline_in(TICK_MS);
		int64_t now;

		pthread_cond_timedwait(&g->cv, &g->mu, &ts);
		if (g->quit)
			break;
		now = cns_now_ms();
		if (!atomic_load(&g->fired)) {
			int sig = opt->signal_flag
					  ? atomic_load(opt->signal_flag)
					  : 0;
			char what[128], d[32];

			if (sig) {
				snprintf(what, sizeof(what),
					 "run cancelled by %s",
					 sig == SIGINT ? "SIGINT" : "SIGTERM");
				guard_fire(g, CNS_E_CANCELLED, what, now);
			} else if (job->max_runtime_ms > 0 &&
				   now - g->start_ms >= job->max_runtime_ms) {
				cns_format_duration(job->max_runtime_ms, d,
						    sizeof(d));
				snprintf(what, sizeof(what),
					 "the run exceeded max_runtime = %s",
					 d);
				guard_fire(g, CNS_E_TIMEOUT, what, now);
			}
			continue;
		}
		if (now <
		    give_up_at(job, g->fired_ms) +
			    (atomic_load(&g->in_pipeline) ? GUARD_SLACK_MS : 0))
			continue;
		{
			struct cns_error e;

			cns_error_clear(&e);
			guard_cause(g, &e);
			cns_error_detail(&e, "a call to a server did not "
					     "return within kill_grace");
			if (guard_end_stuck(g, g->run, g->res, &e) &&
			    opt->stuck)
				opt->stuck(opt->stuck_ctx, &e);
			/* Without a stuck callback, or while another thread
			 * ends the run, wait to be told to quit. */
			g->fired_ms = INT64_MAX / 2;
		}
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

static int guard_start(struct runner *rn, struct cns_runner_result *res,
		       struct cns_error *err)
{
	struct guard *g = &rn->guard;
	int rc;

	g->rn = rn;
	g->res = res;
	g->start_ms = cns_now_ms();
	pthread_mutex_init(&g->mu, NULL);
	cns_cond_init_monotonic(&g->cv);
	rc = cns_thread_create(&g->tid, guard_main, g);
	if (rc != 0)
		return cns_error_set(err, CNS_E_INTERNAL,
				     "could not start the run's watchdog: %s",
				     strerror(rc));
	g->started = true;
	return 0;
}

static void guard_stop(struct guard *g)
{
	if (!g->started)
		return;
	pthread_mutex_lock(&g->mu);
	g->quit = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->tid, NULL);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	g->started = false;
}

/* After a phase outside the pipeline failed: when the guard fired, the
 * run ends with the guard's cause, whatever the phase said.  A phase that
 * succeeded keeps its success (a swap that committed did swap). */
static int guard_check(struct guard *g, int rc, struct cns_error *err)
{
	if (rc < 0 && atomic_load(&g->fired))
		guard_cause(g, err);
	return rc;
}

/* Between two phases: a run whose guard fired starts no next phase. */
static int guard_point(struct guard *g, struct cns_error *err)
{
	if (!atomic_load(&g->fired))
		return 0;
	guard_cause(g, err);
	return -1;
}

static void release(struct runner *rn)
{
	if (rn->state)
		PQfinish(rn->state);
	if (rn->inc) {
		for (int i = 0; i < rn->job->nsources; i++) {
			free(rn->inc[i].before);
			free(rn->inc[i].after);
			free(rn->inc[i].prev);
		}
		free(rn->inc);
	}
	cns_runlog_close(rn->log);
	pthread_mutex_destroy(&rn->mu);
	cns_arena_release(&rn->arena);
}

int cns_runner_run(const struct cns_job_conf *cjob,
		   const struct cns_runner_options *opt,
		   struct cns_runner_result *res, struct cns_error *err)
{
	struct cns_job_conf job = *cjob; /* limits may be overridden */
	struct runner rn;
	struct cns_lock lock = { .fd = -1 };
	struct cns_transform *xf = NULL;
	struct cns_run run;
	struct cns_run_options ropt;
	struct cns_run_hooks hooks = {
		.ctx = &rn,
		.reject = hook_reject,
		.prepared = hook_prepared,
		.prepare = { .ctx = &rn,
			     .watermark_get = prep_watermark,
			     .event = prep_event },
		.checkpoint = hook_checkpoint,
		.after_source = hook_after_source,
		.retry = hook_retry,
		.chunk_loaded = hook_chunk_loaded,
		.committed_chunks = hook_committed_chunks,
		.swap_check = hook_swap_check,
		.chunk_sql = hook_chunk_sql,
	};
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&rn, 0, sizeof(rn));
	memset(&run, 0, sizeof(run));
	if (opt->max_runtime_ms > 0)
		job.max_runtime_ms = opt->max_runtime_ms;
	if (opt->stall_timeout_ms > 0)
		job.stall_timeout_ms = opt->stall_timeout_ms;
	/* A second line of defence behind the watchdog: no statement of a
	 * run may outlive the run's own limit. */
	if (job.statement_timeout_ms == 0 && job.max_runtime_ms > 0)
		job.statement_timeout_ms =
			job.max_runtime_ms + job.kill_grace_ms;
	/* Before the first connection: the network timeouts derive from
	 * stall_timeout. */
	cns_pg_set_timeouts(job.stall_timeout_ms);
	rn.job = &job;
	rn.opt = opt;
	rn.lock = &lock;
	hooks.prepare.range_from = opt->range_from;
	hooks.prepare.range_to = opt->range_to;
	lock.stop = opt->signal_flag;
	rn.started_us = cns_wall_us();
	pthread_mutex_init(&rn.mu, NULL);
	cns_arena_init(&rn.arena, 4096);
	rn.inc = cns_xcalloc((size_t)job.nsources, sizeof(*rn.inc));
	gethostname(rn.host, sizeof(rn.host) - 1);
	cns_run_id_new(rn.started_us, rn.run_id, sizeof(rn.run_id));
	snprintf(res->run_id, sizeof(res->run_id), "%s", rn.run_id);

	int64_t lock_start = cns_now_ms();

	/* From here on every phase is under the guard: a connect, a lock
	 * wait, a prepare or a swap that blocks is cancelled at max_runtime
	 * or on a signal, and the run is ended kill_grace later. */
	if (guard_start(&rn, res, err) < 0) {
		record_unstarted(&rn, err);
		res->status = status_of(err->code);
		release(&rn);
		return -1;
	}
	/* Every lock before any shared record: a run refused by either lock
	 * (another host may hold the target's) must not open a log, judge
	 * the holder's marker or write a running row; it only appends its
	 * own "skipped" or "failed" record. */
	if (cns_lock_acquire_local(&lock, &job, rn.run_id, opt->wait_lock_ms,
				   err) < 0 ||
	    guard_check(&rn.guard,
			cns_lock_acquire_target(
				&lock, &job, rn.run_id,
				opt->wait_lock_ms - (cns_now_ms() - lock_start),
				err),
			err) < 0) {
		/* A target that cannot be reached is a failed run on
		 * record, not a silence that monitoring only notices hours
		 * later. */
		guard_stop(&rn.guard);
		cns_lock_release(&lock);
		record_unstarted(&rn, err);
		res->status = status_of(err->code);
		release(&rn);
		return -1;
	}
	{
		/* The guard reads the log to say why it fires. */
		struct cns_runlog *log =
			cns_runlog_open(&job, rn.run_id, rn.started_us, err);

		pthread_mutex_lock(&rn.guard.mu);
		rn.log = log;
		pthread_mutex_unlock(&rn.guard.mu);
	}
	if (!rn.log) {
		/* No log, so no end line: the failure is recorded as a run
		 * that never started, where runs.jsonl can still take it. */
		record_unstarted(&rn, err);
		res->status = status_of(err->code);
		goto out;
	}
	snprintf(res->log_path, sizeof(res->log_path), "%s",
		 cns_runlog_path(rn.log));
	if (guard_point(&rn.guard, err) < 0)
		goto end;
	cns_runlog_log(rn.log, CNS_LOG_INFO, "start", NULL, "run plan",
		       CNS_KV_INT("sources", job.nsources),
		       CNS_KV_INT("batch_size", job.batch_size),
		       CNS_KV_INT("parallel", job.parallel),
		       CNS_KV_STR("mode", job.target.mode == CNS_MODE_APPEND
						  ? "append"
					  : job.target.mode == CNS_MODE_UPSERT
						  ? "upsert"
						  : "replace"));
	if (cns_transform_load(job.transforms, rn.started_us, &xf, err) < 0)
		goto end;
	if (guard_check(&rn.guard, open_state(&rn, err), err) < 0 ||
	    guard_point(&rn.guard, err) < 0)
		goto end;
	if (rn.state)
		cns_pg_keep(rn.state); /* the record goes there at the end */
	rn.rejects = cns_rejects_open(&job, rn.run_id);
	if (guard_check(&rn.guard,
			cns_deletes_begin(rn.state, &job, rn.run_id,
					  cns_transform_schema(xf),
					  opt->only_source, err),
			err) < 0)
		goto end;
	memset(&ropt, 0, sizeof(ropt));
	ropt.only_source = opt->only_source;
	ropt.run_start_us = rn.started_us;
	rn.run = &run;
	if (guard_check(&rn.guard,
			cns_pipeline_start(&run, &job, xf, &ropt, &hooks, err),
			err) < 0)
		goto end;
	pthread_mutex_lock(&rn.guard.mu);
	rn.guard.run = &run;
	pthread_mutex_unlock(&rn.guard.mu);
	atomic_store(&rn.guard.in_pipeline, 1);
	if (!supervise(&rn, &run, &job)) {
		/* Threads are stuck in a call that ignored the cancel:
		 * record what is known and let the caller end the process;
		 * the open transactions die with the connections. */
		*err = run.err;
		res->stuck = true;
		rn.run = NULL;
		if (!guard_end_stuck(&rn.guard, &run, res, err)) {
			/* The guard is recording it: give it the time. */
			struct timespec ts = { RECORD_LIMIT_MS / 1000 + 1, 0 };

			nanosleep(&ts, NULL);
		}
		guard_stop(&rn.guard);
		cns_lock_release(&lock);
		return -1;
	}
	atomic_store(&rn.guard.in_pipeline, 0);
	rc = guard_check(&rn.guard, cns_pipeline_finish(&run, err), err);
	if (rc == 0)
		rc = guard_check(&rn.guard, apply_deletes(&rn, &run, err), err);
	CNS_HOOK("run.finished");
end:
	rn.run = NULL;
	if (rc < 0 && rn.state) {
		pthread_mutex_lock(&rn.mu);
		cns_deletes_end(state_conn(&rn), &job, rn.run_id);
		pthread_mutex_unlock(&rn.mu);
	}
	/* What can still fail the run is judged before its end is
	 * recorded, so that every record agrees with the exit status. */
	if (rn.rejects) {
		struct cns_error e2;

		cns_error_clear(&e2);
		if (cns_rejects_finish(rn.rejects, &e2) < 0 && rc == 0) {
			*err = e2;
			rc = -1;
		}
	}
	if (rc == 0 && cns_runlog_check(rn.log, err) < 0)
		rc = -1;
	rc = record_end(&rn, &run, res, err, rc, false);
	guard_stop(&rn.guard);
	if (rn.rejects)
		cns_rejects_close(rn.rejects, NULL);
	if (run.stats)
		cns_pipeline_release(&run);
out:
	guard_stop(&rn.guard);
	cns_transform_free(xf);
	cns_lock_release(&lock);
	release(&rn);
	return rc;
}
