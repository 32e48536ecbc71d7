/*
 * prepare.c - what a run does before the first row moves, shared by `run`,
 * `check` and `plan` so that check cannot disagree with the run.
 *
 * The run calls cns_prepare_source() in each source's worker thread (and
 * again on a retry) and cns_prepare_target() once before the threads
 * start; check and plan call cns_prepare_job(), which calls the same
 * functions with no_data set: the target is rehearsed in a transaction
 * that is rolled back, and nothing is extracted.
 */
#include "consolidate/prepare.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/pg.h"
#include "consolidate/runlog.h"
#include "consolidate/state.h"
#include "consolidate/volume.h"

static void note(const struct cns_prepare_opts *o, enum cns_prepare_level lv,
		 const char *stage, const char *source, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void note(const struct cns_prepare_opts *o, enum cns_prepare_level lv,
		 const char *stage, const char *source, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (!o->event)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	o->event(o->ctx, lv, stage, source, text, NULL);
}

/* A problem in err: a run stops at the first one; check hears each and
 * goes on.  Returns -1 when the caller must stop. */
static int problem(const struct cns_prepare_opts *o, const char *source,
		   struct cns_error *err, int *problems)
{
	(*problems)++;
	if (!o->problem)
		return -1;
	if (source)
		cns_error_in_source(err, source);
	o->problem(o->ctx, err);
	cns_error_clear(err);
	return 0;
}

static bool find_column(const struct cns_source *src, const char *name,
			int *index)
{
	for (int i = 0; i < src->ncols; i++)
		if (strcmp(src->colnames[i], name) == 0) {
			*index = i;
			return true;
		}
	return false;
}

/* Without a reader from the run (check, plan), the watermark is read from
 * the target; a target whose run state was never created has none. */
static int read_watermark(const struct cns_job_conf *job,
			  const struct cns_prepare_opts *o, const char *source,
			  struct cns_arena *arena, int *n, char ***values,
			  struct cns_error *err)
{
	PGconn *conn;
	PGresult *res;
	int rc = 0;

	*n = 0;
	*values = NULL;
	if (o->watermark_get)
		return o->watermark_get(o->ctx, source, arena, n, values, err);
	conn = cns_pg_connect(job->target.conninfo, "the target (run state)",
			      err);
	if (!conn)
		return -1;
	res = cns_pg_exec(conn,
			  "SELECT to_regclass('consolidate.watermarks') "
			  "IS NOT NULL",
			  PGRES_TUPLES_OK, "the target (run state)", err);
	if (!res)
		rc = -1;
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		rc = cns_state_watermark_get(conn, job->name, source, arena, n,
					     values, err);
	PQclear(res);
	PQfinish(conn);
	return rc;
}

/* The ordering of an incremental extraction (the incremental columns,
 * then the tie-breaker key) and the watermark to resume from, set on the
 * source so that its extraction text is the one the run sends. */
static int prepare_incremental(const struct cns_job_conf *job,
			       struct cns_source *src,
			       const struct cns_prepare_opts *o,
			       struct cns_prepared *p, struct cns_error *err)
{
	const struct cns_source_conf *sc = src->conf;
	const struct cns_list *key = &sc->key;
	int nkey = key->n ? key->n : src->npkey;
	int n = sc->incremental.n;
	int nwm = 0;
	char **wm = NULL;

	if (n == 0 || job->target.mode == CNS_MODE_REPLACE)
		return 0;
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
	p->inc_cols = cns_arena_zalloc(&src->arena,
				       sizeof(char *) * (size_t)(n + nkey));
	p->inc_index =
		cns_arena_zalloc(&src->arena, sizeof(int) * (size_t)(n + nkey));
	for (int k = 0; k < n; k++)
		p->inc_cols[k] = sc->incremental.items[k];
	p->nnullable = n;
	for (int k = 0; k < nkey; k++) {
		const char *c = key->n ? key->items[k] : src->pkey[k];
		bool dup = false;

		for (int j = 0; j < n; j++)
			dup |= strcmp(p->inc_cols[j], c) == 0;
		if (!dup)
			p->inc_cols[n++] = c;
	}
	p->ninc = n;
	for (int k = 0; k < n; k++)
		if (!find_column(src, p->inc_cols[k], &p->inc_index[k]))
			return cns_error_set(
				       err, CNS_E_CONFIG,
				       "source \"%s\" does not deliver column \"%s\", "
				       "which orders its incremental extraction",
				       sc->name, p->inc_cols[k]),
			       cns_error_hint(err, "add it to \"columns\""), -1;
	if (read_watermark(job, o, sc->name, &src->arena, &nwm, &wm, err) < 0)
		return -1;
	p->nstored = nwm;
	p->stored = wm;
	src->ninc = n;
	src->inc_cols = p->inc_cols;
	src->lookback_ms = sc->lookback_ms;
	if (o->range_from) {
		/* A backfill reads its window whatever the watermark says,
		 * and leaves the watermark where it is. */
		src->range_from = o->range_from;
		src->range_to = o->range_to;
		src->lookback_ms = 0;
		note(o, CNS_PREP_INFO, "extract", sc->name,
		     "backfill: rows with %s from %s to %s (both included); "
		     "the watermark stays",
		     p->inc_cols[0], o->range_from, o->range_to);
		return 0;
	}
	if (nwm == n) {
		src->nwatermark = nwm;
		src->watermark = (const char *const *)wm;
		p->bound = true;
	} else if (nwm > 0) {
		/* The ordering columns changed since the watermark was
		 * written: comparing would be wrong, so start over (upsert
		 * makes that safe). */
		note(o, CNS_PREP_WARN, "extract", sc->name,
		     "the stored watermark has %d values but the source orders "
		     "by %d columns: reading from the start",
		     nwm, n);
	}
	return 0;
}

static bool in_schema(const struct cns_transform *xf, const char *column)
{
	const struct cns_schema *s = cns_transform_schema(xf);

	for (int i = 0; i < s->ncols; i++)
		if (strcmp(s->cols[i].name, column) == 0)
			return true;
	return false;
}

/* Binds the transform to the described columns: every key column mapped,
 * the driver's exact types trusted, the source's time zone. */
static int bind_program(const struct cns_job_conf *job,
			const struct cns_transform *xf, struct cns_source *src,
			const struct cns_prepare_opts *o,
			struct cns_prepared *p, int *problems,
			struct cns_error *err)
{
	const struct cns_source_conf *conf = src->conf;

	if (cns_transform_bind(xf, conf->name, src->ncols,
			       (const char *const *)src->colnames, &p->prog,
			       err) < 0)
		return problem(o, conf->name, err, problems) < 0 ? -1 : 1;
	/* A source that leaves a key column NULL could only ever load rows
	 * that the target refuses.  A key column the schema lacks is the
	 * target's one problem, not one more per source. */
	for (int k = 0; k < job->target.key.n; k++) {
		if (cns_program_maps(p->prog, job->target.key.items[k]) ||
		    !in_schema(xf, job->target.key.items[k]))
			continue;
		cns_error_set(err, CNS_E_CONFIG,
			      "source \"%s\" does not map key column \"%s\"",
			      conf->name, job->target.key.items[k]);
		cns_error_hint(err,
			       "map it in [from %s] of %s, or give it a "
			       "default in [schema]",
			       conf->name, job->transforms);
		if (problem(o, conf->name, err, problems) < 0)
			return -1;
	}
	/* Columns the driver types keep their type in casts (a
	 * timestamptz's offset counts). */
	cns_program_set_column_types(p->prog,
				     (const char *const *)src->coltypes);
	if (src->pg_exact_types)
		cns_program_trust_types(p->prog,
					(const char *const *)src->coltypes);
	/* Timestamps without an offset are read in the source's declared
	 * zone, never the host's by accident (default UTC). */
	if (conf->timezone &&
	    cns_program_set_timezone(p->prog, conf->timezone, err) < 0 &&
	    problem(o, conf->name, err, problems) < 0)
		return -1;
	return 0;
}

int cns_prepare_source(const struct cns_job_conf *job,
		       const struct cns_transform *xf, struct cns_source *src,
		       const struct cns_prepare_opts *opts,
		       struct cns_prepared *p, struct cns_error *err)
{
	const struct cns_source_conf *sc = src->conf;
	int problems = 0;
	bool opened;

	memset(p, 0, sizeof(*p));
	p->src = src;
	if (opts->offline)
		return 0;
	opened = src->ops->open(src, err) == 0;
	if (opened && opts->opened)
		opts->opened(opts->opened_ctx, src);
	if (!opened || src->ops->describe(src, err) < 0) {
		problem(opts, sc->name, err, &problems);
		return -1;
	}
	if (opts->event)
		opts->event(opts->ctx, CNS_PREP_INFO, "extract", sc->name,
			    "source connected",
			    (const struct cns_kv[]){
				    CNS_KV_STR("driver", sc->driver),
				    CNS_KV_INT("columns", src->ncols),
				    CNS_KV_END });
	if (prepare_incremental(job, src, opts, p, err) < 0 &&
	    problem(opts, sc->name, err, &problems) < 0)
		return -1;
	if (bind_program(job, xf, src, opts, p, &problems, err) < 0)
		return -1;
	return problems ? -1 : 0;
}

int cns_prepare_range_check(const struct cns_job_conf *job,
			    const char *only_source, struct cns_error *err)
{
	int read = 0;

	if (job->target.mode != CNS_MODE_UPSERT)
		return cns_error_set(err, CNS_E_CONFIG,
				     "--range needs mode = upsert, and job "
				     "\"%s\" %s",
				     job->name,
				     job->target.mode == CNS_MODE_APPEND
					     ? "appends: the window's rows "
					       "would be loaded a second time"
					     : "replaces its table: every run "
					       "reads everything"),
		       cns_error_hint(err, "re-read a window through an "
					   "upsert job, or reload everything "
					   "with --full-refresh"),
		       -1;
	for (int i = 0; i < job->nsources; i++) {
		const struct cns_source_conf *sc = &job->sources[i];

		if (only_source && strcmp(sc->name, only_source) != 0)
			continue;
		read++;
		if (sc->incremental.n == 0)
			return cns_error_set(err, CNS_E_CONFIG,
					     "--range re-reads a window of an "
					     "incremental source, and source "
					     "\"%s\" (%s) is read in full",
					     sc->name, sc->driver),
			       cns_error_hint(err,
					      "name an incremental source with "
					      "--source, or reload everything "
					      "with --full-refresh"),
			       -1;
		if (strcmp(sc->driver, "postgres") != 0)
			return cns_error_set(
				       err, CNS_E_CONFIG,
				       "--range reads windows of postgres "
				       "sources only, and source \"%s\" "
				       "is %s",
				       sc->name, sc->driver),
			       cns_error_hint(err,
					      "name a postgres source with "
					      "--source, or reload this one "
					      "with --full-refresh --source "
					      "%s",
					      sc->name),
			       -1;
	}
	if (read == 0)
		return cns_error_set(err, CNS_E_CONFIG,
				     "job \"%s\" has no source \"%s\"",
				     job->name, only_source ? only_source : ""),
		       -1;
	return 0;
}

int cns_prepare_range_parse(const char *text, char **from, char **to,
			    struct cns_error *err)
{
	const char *dots = strstr(text, "..");

	*from = *to = NULL;
	if (!dots || dots == text || !dots[2] || strstr(dots + 2, ".."))
		return cns_error_set(err, CNS_E_USAGE,
				     "invalid range \"%s\": expected "
				     "FROM..TO, such as "
				     "2026-01-01..2026-01-31",
				     text),
		       -1;
	*from = cns_xstrdup(text);
	(*from)[dots - text] = '\0';
	*to = cns_xstrdup(dots + 2);
	return 0;
}

/* With on_volume_anomaly = fail, a source whose driver can count the rows
 * it is about to read is judged before any of them moves, so that the
 * target and the watermark stay exactly as they were.  Not in replace
 * mode: there judging after the read still comes before the swap, and a
 * run that is not anomalous is spared a second pass over the source. */
int cns_prepare_volume(const struct cns_job_conf *job, struct cns_prepared *p,
		       const struct cns_prepare_opts *opts,
		       struct cns_error *err)
{
	struct cns_source *src = p->src;
	const struct cns_source_conf *sc = src->conf;
	char why[512];
	int64_t n = -1;
	int problems = 0;

	/* A backfill's window says nothing about a source's usual
	 * volume. */
	if (opts->offline || opts->range_from ||
	    job->on_volume_anomaly != CNS_ANOMALY_FAIL ||
	    (sc->min_rows < 0 && sc->max_change < 0) || !src->ops->count_rows ||
	    job->target.mode == CNS_MODE_REPLACE)
		return 0;
	if (src->ops->count_rows(src, &n, err) < 0) {
		problem(opts, sc->name, err, &problems);
		return -1;
	}
	if (n < 0)
		return 0; /* cannot tell this time: judged after the read */
	p->counted = true;
	p->count = n;
	if (cns_volume_judge(job, sc->name, n, why, sizeof(why)) == 0)
		return 0;
	note(opts, CNS_PREP_ERROR, "volume", sc->name,
	     "volume anomaly before extraction, failing the run: %s", why);
	cns_error_set(err, CNS_E_SOURCE, "volume anomaly: %s", why);
	cns_error_hint(err, "nothing was loaded; if the new volume is right, "
			    "run with on_volume_anomaly = warn once");
	problem(opts, sc->name, err, &problems);
	return -1;
}

/* What on_schema_change found, in the run log: a column left narrower
 * or wider than [schema] is worth a warning (values may not fit, or the
 * schema no longer says what the table holds); what evolve changes is
 * information. */
static void note_schema_change(const struct cns_job_conf *job,
			       const struct cns_target_ops *target,
			       const struct cns_prepare_opts *o)
{
	bool evolve = job->target.on_schema_change == CNS_SCHEMA_EVOLVE;
	char *notes = target->schema_notes ? target->schema_notes(job) : NULL;
	char *save = NULL;

	for (char *line = notes ? strtok_r(notes, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		note(o,
		     strstr(line, ": kept") ||
				     (!evolve && strstr(line, "widening"))
			     ? CNS_PREP_WARN
			     : CNS_PREP_INFO,
		     "target", NULL, "schema change: %s", line);
	free(notes);
}

int cns_prepare_target(const struct cns_job_conf *job,
		       const struct cns_schema *schema,
		       const struct cns_prepare_opts *opts,
		       struct cns_error *err)
{
	const struct cns_target_ops *target =
		cns_target_or_default(opts->target);
	int problems = 0;

	if (opts->offline)
		return 0;
	if (!opts->no_data) {
		if (target->prepare(job, schema, err) < 0)
			return -1;
		note_schema_change(job, target, opts);
		return 0;
	}
	if (target->rehearse(job, schema, opts->problem, opts->ctx, err) < 0) {
		/* What the rehearsal could not hand on one by one. */
		if (cns_error_isset(err))
			problem(opts, NULL, err, &problems);
		return -1;
	}
	return 0;
}

int cns_prepare_job(const struct cns_job_conf *job,
		    const struct cns_transform *xf,
		    const struct cns_prepare_opts *opts,
		    const struct cns_prepare_report *rep)
{
	struct cns_prepare_opts o = *opts;
	struct cns_error err;
	int problems = 0, rc;

	o.no_data = true;
	for (int i = 0; i < job->nsources; i++) {
		struct cns_source *src = cns_source_new(job, &job->sources[i]);
		struct cns_prepared p;

		cns_error_clear(&err);
		rc = cns_prepare_source(job, xf, src, &o, &p, &err);
		if (rc == 0)
			rc = cns_prepare_volume(job, &p, &o, &err);
		if (rc < 0)
			problems++;
		if (rep && rep->source)
			rep->source(rep->ctx, i, &p, rc == 0);
		if (rc == 0 && !o.offline && cns_shard_enabled(job)) {
			/* The split the coordinator would make, read the
			 * same way: a split the run would refuse is a
			 * problem here too. */
			struct cns_shard_list l = { 0, NULL };

			if (cns_shard_split(job, i, &l, &err) < 0) {
				problems++;
				if (o.problem)
					o.problem(o.ctx, &err);
			} else if (rep && rep->shards) {
				rep->shards(rep->ctx, i, &l);
			}
			cns_shard_list_free(&l);
		}
		cns_program_free(p.prog);
		cns_source_free(src);
	}
	cns_error_clear(&err);
	rc = cns_prepare_target(job, cns_transform_schema(xf), &o, &err);
	if (rc < 0)
		problems++;
	if (rep && rep->target)
		rep->target(rep->ctx, rc == 0);
	return problems;
}
