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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consolidate/guard.h"
#include "consolidate/pg.h"
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
	int64_t start_ms;            /* monotonic, the run's start */
	int64_t fired_ms;            /* guard thread only */
	atomic_int fired;            /* enum cns_error_code, 0: not fired */
	char cause[256];             /* written before fired is set */
	atomic_int in_pipeline;      /* supervise() is watching */
	atomic_int ending;           /* the stuck end is under way */
	struct cns_run *run;         /* for the statistics, once started */
	struct cns_runner_result *res;
};

/* Per-source state, set by before_source: the incremental ordering and
 * watermark, and whether the volume guard judged the source already. */
struct inc_state {
	int n;          /* incremental + tie-breaker columns */
	const char **cols;
	int *index;     /* their positions in the source's columns */
	int nnullable;  /* the first nnullable are the incremental ones */
	char *before;   /* JSON array, malloc'ed */
	char *after;    /* JSON array, malloc'ed; guarded by mu */
	int nwm;        /* the watermark the run started from (run arena) */
	char **wm;
	bool counted;   /* volume judged before extraction */
};

struct runner {
	const struct cns_job_conf *job;
	const struct cns_runner_options *opt;
	char run_id[64];
	char host[256];
	int64_t started_us;
	struct cns_runlog *log;
	struct cns_rejects *rejects;
	PGconn *state;        /* guarded by mu once the pipeline runs */
	pthread_mutex_t mu;   /* guards state, inc[].after, logged */
	struct inc_state *inc;
	int logged;           /* reject lines written to the log */
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
			       (long long)st[i].loaded, (long long)st[i].written,
			       (long long)st[i].chunks);
	}
	cns_buf_addc(&b, '}');
	return b.data;
}

/* ---- hooks, called from pipeline threads ---- */

static void hook_reject(void *ctx, const struct cns_reject *r)
{
	struct runner *rn = ctx;
	bool log_it;

	cns_rejects_add(rn->rejects, r);
	pthread_mutex_lock(&rn->mu);
	log_it = rn->logged++ < LOGGED_REJECTS;
	pthread_mutex_unlock(&rn->mu);
	if (log_it)
		cns_runlog_event(rn->log, CNS_LOG_WARN, "transform", r->source,
				 "row rejected: %s row=%lld%s%s%s%s%s",
				 r->reason, (long long)r->rownum,
				 r->column ? " column=" : "",
				 r->column ? r->column : "",
				 r->origin ? " file=\"" : "",
				 r->origin ? r->origin : "",
				 r->origin ? "\"" : "");
}

/* The state connection, reconnected when the server went away (a target
 * restart mid-run kills every session); call with rn->mu held. */
static PGconn *state_conn(struct runner *rn)
{
	if (rn->state && PQstatus(rn->state) != CONNECTION_OK)
		PQreset(rn->state); /* keeps the notice processor */
	return rn->state;
}

static bool has_column(const struct cns_source *src, const char *name,
		       int *index)
{
	for (int i = 0; i < src->ncols; i++)
		if (strcmp(src->colnames[i], name) == 0) {
			*index = i;
			return true;
		}
	return false;
}

/* With on_volume_anomaly = fail, a source whose driver can count the rows
 * it is about to read is judged before any of them moves, so that the
 * target and the watermark stay exactly as they were.  Not in replace
 * mode: there judging after the read still comes before the swap, and a
 * run that is not anomalous is spared a second pass over the source. */
static int volume_precheck(struct runner *rn, int i, struct cns_source *src,
			   struct cns_error *err)
{
	const struct cns_source_conf *sc = src->conf;
	const struct cns_source_ops *ops = src->ops;
	char why[512];
	int64_t n = -1;

	if (rn->job->on_volume_anomaly != CNS_ANOMALY_FAIL ||
	    (sc->min_rows < 0 && sc->max_change < 0) || !ops->count_rows ||
	    rn->job->target.mode == CNS_MODE_REPLACE)
		return 0;
	if (ops->count_rows(src, &n, err) < 0)
		return -1;
	if (n < 0)
		return 0; /* cannot tell this time: judged after the read */
	rn->inc[i].counted = true;
	if (cns_volume_judge(rn->job, sc->name, n, why, sizeof(why)) == 0)
		return 0;
	cns_runlog_event(rn->log, CNS_LOG_ERROR, "volume", sc->name,
			 "volume anomaly before extraction, failing the run: "
			 "%s",
			 why);
	cns_error_set(err, CNS_E_SOURCE, "volume anomaly: %s", why);
	cns_error_hint(err, "nothing was loaded; if the new volume is right, "
			    "run with on_volume_anomaly = warn once");
	return -1;
}

/* Sets up incremental extraction: the ordering columns (incremental, then
 * the tie-breaker key) and the watermark to resume from. */
static int hook_before_source(void *ctx, struct cns_run *run, int i,
			      struct cns_source *src, struct cns_error *err)
{
	struct runner *rn = ctx;
	const struct cns_source_conf *sc = src->conf;
	struct inc_state *inc = &rn->inc[i];
	const struct cns_list *key = &sc->key;
	char **wm = NULL;
	int nwm = 0, nkey, rc;

	(void)run;
	cns_runlog_event(rn->log, CNS_LOG_INFO, "extract", sc->name,
			 "source connected driver=%s columns=%d", sc->driver,
			 src->ncols);
	if (sc->incremental.n == 0 ||
	    rn->job->target.mode == CNS_MODE_REPLACE)
		return volume_precheck(rn, i, src, err);
	nkey = key->n ? key->n : src->npkey;
	if (nkey == 0)
		return cns_error_set(
			err, CNS_E_CONFIG,
			"incremental source \"%s\" needs a tie-breaker key",
			sc->name),
		       cns_error_hint(err,
				      "set \"key = ...\" in [source %s] to "
				      "columns that are unique with \"%s\"; "
				      "without one, rows sharing the last "
				      "incremental value could be skipped",
				      sc->name, sc->incremental.items[0]),
		       -1;
	inc->n = sc->incremental.n;
	/* Sources start in parallel: the run arena is shared. */
	pthread_mutex_lock(&rn->mu);
	inc->cols = cns_arena_zalloc(&rn->arena, sizeof(char *) *
							 (size_t)(inc->n + nkey));
	inc->index = cns_arena_zalloc(&rn->arena, sizeof(int) *
							  (size_t)(inc->n + nkey));
	pthread_mutex_unlock(&rn->mu);
	for (int k = 0; k < sc->incremental.n; k++)
		inc->cols[k] = sc->incremental.items[k];
	inc->nnullable = inc->n;
	for (int k = 0; k < nkey; k++) {
		const char *c = key->n ? key->items[k] : src->pkey[k];
		bool dup = false;

		for (int j = 0; j < inc->n; j++)
			dup |= strcmp(inc->cols[j], c) == 0;
		if (!dup)
			inc->cols[inc->n++] = c;
	}
	for (int k = 0; k < inc->n; k++)
		if (!has_column(src, inc->cols[k], &inc->index[k]))
			return cns_error_set(
				err, CNS_E_CONFIG,
				"source \"%s\" does not deliver column \"%s\", "
				"which orders its incremental extraction",
				sc->name, inc->cols[k]),
			       cns_error_hint(err, "add it to \"columns\""),
			       -1;
	pthread_mutex_lock(&rn->mu);
	rc = cns_state_watermark_get(state_conn(rn), rn->job->name, sc->name,
				     &src->arena, &nwm, &wm, err);
	pthread_mutex_unlock(&rn->mu);
	if (rc < 0)
		return -1;
	src->ninc = inc->n;
	src->inc_cols = inc->cols;
	src->lookback_ms = sc->lookback_ms;
	if (nwm == inc->n) {
		src->nwatermark = nwm;
		src->watermark = (const char *const *)wm;
	} else if (nwm > 0) {
		/* The ordering columns changed since the watermark was
		 * written: comparing would be wrong, so start over (upsert
		 * makes that safe; append would say so in check). */
		cns_runlog_event(rn->log, CNS_LOG_WARN, "extract", sc->name,
				 "the stored watermark has %d values but the "
				 "source orders by %d columns: reading from "
				 "the start",
				 nwm, inc->n);
	}
	inc->before = json_values((const char *const *)wm,
				  src->nwatermark ? nwm : 0);
	pthread_mutex_lock(&rn->mu);
	inc->nwm = src->nwatermark;
	inc->wm = cns_arena_zalloc(&rn->arena,
				   sizeof(char *) * (size_t)(nwm + 1));
	for (int k = 0; k < inc->nwm; k++)
		inc->wm[k] = cns_arena_strdup(&rn->arena, wm[k]);
	pthread_mutex_unlock(&rn->mu);
	cns_runlog_event(rn->log, CNS_LOG_INFO, "extract", sc->name,
			 "incremental extraction watermark=%s", inc->before);
	return volume_precheck(rn, i, src, err);
}

/* The checkpoint of a chunk: the ordering values of its last row whose
 * incremental columns are not NULL. */
static char *hook_checkpoint(void *ctx, struct cns_run *run, int i,
			     struct cns_source *src,
			     const struct cns_chunk *in, int last_row)
{
	struct runner *rn = ctx;
	struct inc_state *inc = &rn->inc[i];
	const struct cns_cell *cells[64];
	const char *vals[64];
	char *sql, *after;
	int r;

	if (inc->n == 0 || inc->n > 64)
		return NULL;
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
					return NULL;
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
		return NULL;
	/* Cells need not end in a NUL (they may point into a row buffer):
	 * copy them for the log's JSON. */
	for (int k = 0; k < inc->n; k++) {
		cells[k] = &cns_chunk_row(in, r)[inc->index[k]];
		vals[k] = cells[k]->null
				  ? NULL
				  : strndup(cells[k]->data, cells[k]->len);
	}
	sql = cns_state_watermark_sql(rn->job->name, src->conf->name,
				      inc->cols, inc->n, cells, rn->run_id);
	after = json_values(vals, inc->n);
	for (int k = 0; k < inc->n; k++)
		free((char *)vals[k]);
	pthread_mutex_lock(&rn->mu);
	free(inc->after);
	inc->after = after;
	pthread_mutex_unlock(&rn->mu);
	return sql;
}

/* The volume guard: a source that suddenly delivers far fewer or more
 * rows than usual is more often broken than busy.  In replace mode a
 * failure here comes before the swap, so the target keeps its rows. */
/* Puts a source's watermark back where the run found it. */
static void restore_watermark(struct runner *rn, int i)
{
	const struct inc_state *inc = &rn->inc[i];
	const char *name = rn->job->sources[i].name;
	struct cns_cell cells[64];
	const struct cns_cell *refs[64];
	struct cns_error e;
	char *sql;

	cns_error_clear(&e);
	pthread_mutex_lock(&rn->mu);
	if (inc->nwm == 0) {
		cns_state_watermark_reset(state_conn(rn), rn->job->name, name,
					  &e);
	} else if (inc->nwm <= 64) {
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
		cns_runlog_event(rn->log, CNS_LOG_ERROR, "volume", name,
				 "could not restore the watermark: %s",
				 e.message);
	else
		cns_runlog_event(rn->log, CNS_LOG_INFO, "volume", name,
				 "watermark held at %s", inc->before);
}

static int volume_guard(struct runner *rn, int i,
			const struct cns_source_stats *st,
			struct cns_error *err)
{
	char why[512];

	if (rn->inc[i].counted)
		return 0; /* judged before extraction (volume_precheck) */
	if (cns_volume_judge(rn->job, st->name, st->read, why, sizeof(why)) ==
	    0)
		return 0;
	if (rn->job->on_volume_anomaly == CNS_ANOMALY_WARN) {
		cns_runlog_event(rn->log, CNS_LOG_WARN, "volume", st->name,
				 "volume anomaly: %s", why);
		return 0;
	}
	cns_runlog_event(rn->log, CNS_LOG_ERROR, "volume", st->name,
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
	cns_runlog_event(rn->log, CNS_LOG_INFO, "load", st.name,
			 "source done read=%lld filtered=%lld rejected=%lld "
			 "loaded=%lld changed=%lld chunks=%lld",
			 (long long)st.read, (long long)st.filtered,
			 (long long)st.rejected, (long long)st.loaded,
			 (long long)st.written, (long long)st.chunks);
	return volume_guard(rn, i, &st, err);
}

static void hook_chunk_loaded(void *ctx, struct cns_run *run, int i,
			      int64_t rows, int64_t written, int64_t ms)
{
	struct runner *rn = ctx;

	cns_runlog_event(rn->log, CNS_LOG_INFO, "load",
			 run->job->sources[i].name,
			 "chunk committed rows=%lld changed=%lld ms=%lld "
			 "rows_per_s=%lld",
			 (long long)rows, (long long)written, (long long)ms,
			 (long long)(ms > 0 ? rows * 1000 / ms : rows));
}

static void hook_retry(void *ctx, struct cns_run *run, int i, int attempt,
		       int64_t delay_ms, const struct cns_error *cause)
{
	struct runner *rn = ctx;

	cns_runlog_event(rn->log, CNS_LOG_WARN, "retry",
			 run->job->sources[i].name,
			 "transient failure, retrying from the last "
			 "checkpoint attempt=%d of=%d delay_ms=%lld "
			 "cause=\"%s\"",
			 attempt, run->job->retries, (long long)delay_ms,
			 cause->message);
}

/* ---- the run ---- */

static const char *status_of(enum cns_error_code code)
{
	switch (code) {
	case CNS_OK: return "ok";
	case CNS_E_TIMEOUT: return "timed_out";
	case CNS_E_CANCELLED: return "cancelled";
	case CNS_E_LOCKED: return "skipped";
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
	case CNS_E__COUNT:
		break;
	}
	return "failed";
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

			cns_pipeline_cancel(run, CNS_E_CANCELLED,
					    "run cancelled by %s",
					    sig == SIGINT ? "SIGINT"
							  : "SIGTERM");
			cns_runlog_event(rn->log, CNS_LOG_WARN, "guard", NULL,
					 "cancelled by signal %d, rolling "
					 "back the open chunks",
					 sig);
			cancel_deadline = give_up_at(job, now);
			continue;
		}
		/* The guard's clock may get to max_runtime a tick first:
		 * same limit, same verdict. */
		switch (atomic_load(&rn->guard.fired) == CNS_E_TIMEOUT
				? CNS_WD_RUNTIME
				: cns_watchdog_check(job, start, progress, now)) {
		case CNS_WD_OK:
			break;
		case CNS_WD_RUNTIME: {
			char d[32];

			cns_format_duration(job->max_runtime_ms, d, sizeof(d));
			cns_pipeline_cancel(run, CNS_E_TIMEOUT,
					    "the run exceeded max_runtime = %s",
					    d);
			cns_runlog_event(rn->log, CNS_LOG_ERROR, "watchdog",
					 NULL, "max_runtime exceeded limit=%s",
					 d);
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
			cns_runlog_event(rn->log, CNS_LOG_ERROR, "watchdog",
					 NULL, "stalled limit=%s", d);
			cancel_deadline = give_up_at(job, now);
			break;
		}
		}
		for (int i = 0; cancel_deadline && i < run->nsources; i++)
			cns_runlog_event(rn->log, CNS_LOG_INFO, "watchdog",
					 snap[i].name,
					 "source stood at read=%lld "
					 "loaded=%lld chunks=%lld",
					 (long long)snap[i].read,
					 (long long)snap[i].loaded,
					 (long long)snap[i].chunks);
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

	rn->state = cns_pg_connect(rn->job->target.conninfo, "the target",
				   err);
	if (!rn->state || cns_state_ensure(rn->state, err) < 0)
		return -1;
	crashed = cns_state_mark_crashed(rn->state, rn->job->name, err);
	if (crashed < 0)
		return -1;
	if (crashed > 0)
		cns_runlog_event(rn->log, CNS_LOG_WARN, "start", NULL,
				 "%d earlier run%s never recorded an end: "
				 "marked crashed",
				 crashed, crashed == 1 ? "" : "s");
	if (rn->opt->full_refresh &&
	    cns_state_watermark_reset(rn->state, rn->job->name,
				      rn->opt->only_source, err) < 0)
		return -1;
	return cns_state_run_begin(rn->state, &row, err);
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
} brec = {.mu = PTHREAD_MUTEX_INITIALIZER};

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

/* Writes the end of a started run everywhere it is recorded.  With
 * bounded, the run is being ended because something does not answer:
 * the target's copy is written on a fresh connection within
 * RECORD_LIMIT_MS or not at all (the next run marks it crashed). */
static void record_end_how(struct runner *rn, struct cns_run *run,
			   struct cns_runner_result *res,
			   const struct cns_error *err, bool bounded)
{
	struct cns_error e2;
	struct cns_run_record rec;
	char msg[2048] = "";
	const char **before = NULL, **after = NULL;
	int n = run->stats ? run->nsources : 0;
	char *sj = NULL;

	cns_error_clear(&e2);
	if (cns_error_isset(err))
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
	res->status = status_of(err ? err->code : CNS_OK);
	if (rn->rejects) {
		const char *p = cns_rejects_path(rn->rejects);

		if (p)
			snprintf(res->rejects_path, sizeof(res->rejects_path),
				 "%s", p);
	}
	if (bounded) {
		int64_t rejected = 0;

		for (int i = 0; i < n; i++)
			rejected += res->stats[i].rejected;
		if (!record_target_bounded(rn, res->status,
					   cns_error_exit_code(err ? err->code
								   : CNS_OK),
					   sj, rejected, msg[0] ? msg : NULL))
			cns_runlog_event(rn->log, CNS_LOG_WARN, "end", NULL,
					 "could not record the run in the "
					 "target within %lld ms",
					 (long long)record_limit_ms(rn->job));
	} else if (rn->state && PQstatus(state_conn(rn)) == CONNECTION_OK) {
		int64_t rejected = 0;

		for (int i = 0; i < n; i++)
			rejected += res->stats[i].rejected;
		if (cns_state_run_end(rn->state, rn->run_id, res->status,
				      cns_error_exit_code(err ? err->code
							      : CNS_OK),
				      sj, rejected, msg[0] ? msg : NULL,
				      &e2) < 0)
			cns_runlog_event(rn->log, CNS_LOG_WARN, "end", NULL,
					 "could not record the run in the "
					 "target: %s",
					 e2.message);
	}
	rec = (struct cns_run_record){
		.run_id = rn->run_id,
		.job = rn->job->name,
		.host = rn->host,
		.pid = (long)getpid(),
		.started_us = rn->started_us,
		.ended_us = cns_wall_us(),
		.status = res->status,
		.exit_code = cns_error_exit_code(err ? err->code : CNS_OK),
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

		cns_runlog_event(rn->log, CNS_LOG_WARN, "rejects", NULL,
				 "%lld rows rejected file=\"%s\"",
				 (long long)cns_rejects_count(rn->rejects),
				 res->rejects_path);
		if (mem) {
			cns_rejects_summary(rn->rejects, mem, 10);
			fclose(mem);
		}
		char copy[sizeof(res->rejects_summary)];

		memcpy(copy, res->rejects_summary, sizeof(copy));
		for (line = strtok_r(copy, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			cns_runlog_event(rn->log, CNS_LOG_WARN, "rejects", NULL,
					 "%s", line);
	}
	if (msg[0])
		cns_runlog_event(rn->log, CNS_LOG_ERROR, "end", NULL,
				 "run %s: %s", res->status, msg);
	{
		char trend[512];
		double secs = (double)(rec.ended_us - rec.started_us) / 1e6;

		/* Before the record of this run joins the history, so the
		 * "last runs" are the earlier ones. */
		if (cns_trend_judge(rn->job, secs, trend, sizeof(trend)))
			cns_runlog_event(rn->log, CNS_LOG_WARN, "trend", NULL,
					 "%s", trend);
	}
	cns_error_clear(&e2);
	cns_runlog_finish(rn->log, &rec, &e2);
	free(before);
	free(after);
	free(sj);
}

static void record_end(struct runner *rn, struct cns_run *run,
		       struct cns_runner_result *res,
		       const struct cns_error *err)
{
	record_end_how(rn, run, res, err, false);
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
	if (was[0])
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
	cns_runlog_event(g->rn->log, CNS_LOG_ERROR, "watchdog", NULL,
			 "the run did not stop within kill_grace: ending it");
	record_end_how(g->rn, run ? run : &none, res, err, true);
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
	cns_runlog_event(g->rn->log, CNS_LOG_WARN, "watchdog", NULL,
			 "%s, cancelling", what);
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
			int sig = opt->signal_flag ? atomic_load(opt->signal_flag)
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
		if (now < give_up_at(job, g->fired_ms) +
				  (atomic_load(&g->in_pipeline) ? GUARD_SLACK_MS
								: 0))
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
	struct cns_lock lock = {.fd = -1};
	struct cns_transform *xf = NULL;
	struct cns_run run;
	struct cns_run_options ropt;
	struct cns_run_hooks hooks = {
		.ctx = &rn,
		.reject = hook_reject,
		.before_source = hook_before_source,
		.checkpoint = hook_checkpoint,
		.after_source = hook_after_source,
		.retry = hook_retry,
		.chunk_loaded = hook_chunk_loaded,
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
		job.statement_timeout_ms = job.max_runtime_ms +
					   job.kill_grace_ms;
	/* Before the first connection: the network timeouts derive from
	 * stall_timeout. */
	cns_pg_set_timeouts(job.stall_timeout_ms);
	rn.job = &job;
	rn.opt = opt;
	rn.started_us = cns_wall_us();
	pthread_mutex_init(&rn.mu, NULL);
	cns_arena_init(&rn.arena, 4096);
	rn.inc = cns_xcalloc((size_t)job.nsources, sizeof(*rn.inc));
	gethostname(rn.host, sizeof(rn.host) - 1);
	cns_run_id_new(rn.started_us, rn.run_id, sizeof(rn.run_id));
	snprintf(res->run_id, sizeof(res->run_id), "%s", rn.run_id);

	int64_t lock_start = cns_now_ms();

	if (cns_lock_acquire_local(&lock, &job, rn.run_id, opt->wait_lock_ms,
				   err) < 0) {
		if (err->code == CNS_E_LOCKED) {
			struct cns_run_record rec = {
				.run_id = rn.run_id,
				.job = job.name,
				.host = rn.host,
				.pid = (long)getpid(),
				.started_us = rn.started_us,
				.ended_us = cns_wall_us(),
				.status = "skipped",
				.exit_code = CNS_EXIT_LOCKED,
				.error = err->message,
			};
			struct cns_error e2;

			cns_error_clear(&e2);
			cns_runlog_record_skip(&job, &rec, &e2);
		}
		res->status = status_of(err->code);
		release(&rn);
		return -1;
	}
	rn.log = cns_runlog_open(&job, rn.run_id, rn.started_us, err);
	if (!rn.log)
		goto out;
	snprintf(res->log_path, sizeof(res->log_path), "%s",
		 cns_runlog_path(rn.log));
	/* From here on every phase is under the guard: a connect, a lock
	 * wait, a prepare or a swap that blocks is cancelled at max_runtime
	 * or on a signal, and the run is ended kill_grace later. */
	if (guard_start(&rn, res, err) < 0)
		goto end;
	/* The advisory lock needs the target: once the log is open, a
	 * target that cannot be reached is a failed run on record, not a
	 * silence that monitoring only notices hours later. */
	if (guard_check(&rn.guard,
			cns_lock_acquire_target(&lock, &job, rn.run_id,
						opt->wait_lock_ms -
							(cns_now_ms() -
							 lock_start),
						err),
			err) < 0 ||
	    guard_point(&rn.guard, err) < 0)
		goto end;
	cns_runlog_event(rn.log, CNS_LOG_INFO, "start", NULL,
			 "run plan sources=%d batch_size=%d parallel=%d "
			 "mode=%s",
			 job.nsources, job.batch_size, job.parallel,
			 job.target.mode == CNS_MODE_APPEND   ? "append"
			 : job.target.mode == CNS_MODE_UPSERT ? "upsert"
							      : "replace");
	if (cns_transform_load(job.transforms, rn.started_us, &xf, err) < 0)
		goto end;
	if (guard_check(&rn.guard, open_state(&rn, err), err) < 0 ||
	    guard_point(&rn.guard, err) < 0)
		goto end;
	if (rn.state)
		cns_pg_keep(rn.state); /* the record goes there at the end */
	rn.rejects = cns_rejects_open(&job, rn.run_id);
	memset(&ropt, 0, sizeof(ropt));
	ropt.only_source = opt->only_source;
	ropt.run_start_us = rn.started_us;
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
		if (!guard_end_stuck(&rn.guard, &run, res, err)) {
			/* The guard is recording it: give it the time. */
			struct timespec ts = {RECORD_LIMIT_MS / 1000 + 1, 0};

			nanosleep(&ts, NULL);
		}
		guard_stop(&rn.guard);
		cns_lock_release(&lock);
		return -1;
	}
	atomic_store(&rn.guard.in_pipeline, 0);
	rc = guard_check(&rn.guard, cns_pipeline_finish(&run, err), err);
	CNS_HOOK("run.finished");
end:
	if (rn.rejects) {
		struct cns_error e2;

		cns_error_clear(&e2);
		record_end(&rn, &run, res, rc < 0 ? err : NULL);
		if (cns_rejects_close(rn.rejects, &e2) < 0 && rc == 0) {
			*err = e2;
			rc = -1;
		}
	} else {
		record_end(&rn, &run, res, rc < 0 ? err : NULL);
	}
	guard_stop(&rn.guard);
	if (run.stats)
		cns_pipeline_release(&run);
out:
	cns_transform_free(xf);
	cns_lock_release(&lock);
	release(&rn);
	return rc;
}
