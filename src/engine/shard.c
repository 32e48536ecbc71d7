/*
 * shard.c - a job split into shards: the coordinator, one shard, the
 * finalize step, and local workers (see shard.h for the guarantees).
 */
#include "consolidate/shard.h"

#include <ctype.h>
#include <glob.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consolidate/guard.h"
#include "consolidate/load.h"
#include "consolidate/pg.h"
#include "consolidate/runlog.h"
#include "consolidate/runner.h"
#include "consolidate/state.h"
#include "consolidate/testhook.h"
#include "consolidate/transform.h"

#define WHAT "the target"

void cns_shard_list_free(struct cns_shard_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i].predicate);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool cns_shard_enabled(const struct cns_job_conf *job)
{
	for (int i = 0; i < job->nsources; i++)
		if (job->sources[i].shards > 1)
			return true;
	return false;
}

/* ---- predicates ---- */

char *cns_shard_range_predicate(const char *col, const char *const *bounds,
				int nb, int i)
{
	struct cns_buf b;

	cns_buf_init(&b);
	if (nb == 0) {
		cns_buf_printf(&b, "%s IS NOT NULL", col);
		return b.data;
	}
	if (i > 0)
		cns_buf_printf(&b, "%s > %s", col, bounds[i - 1]);
	if (i > 0 && i < nb)
		cns_buf_adds(&b, " AND ");
	if (i < nb)
		cns_buf_printf(&b, "%s <= %s", col, bounds[i]);
	return b.data;
}

char *cns_shard_hash_predicate(const char *col, int i, int n)
{
	struct cns_buf b;

	/* hashtext() is int4: shifted into 0..2^32-1 before the modulo, so
	 * that no shard number is negative (abs() of INT_MIN overflows). */
	cns_buf_init(&b);
	cns_buf_printf(&b,
		       "(hashtext((%s)::text)::bigint + 2147483648) %% %d = %d",
		       col, n, i);
	return b.data;
}

char *cns_shard_blocks_predicate(int64_t lo, int64_t hi)
{
	struct cns_buf b;

	cns_buf_init(&b);
	cns_buf_printf(&b, "ctid >= '(%lld,0)'::tid", (long long)lo);
	if (hi >= 0)
		cns_buf_printf(&b, " AND ctid < '(%lld,0)'::tid",
			       (long long)hi);
	return b.data;
}

char *cns_shard_null_predicate(const char *col)
{
	struct cns_buf b;

	cns_buf_init(&b);
	cns_buf_printf(&b, "%s IS NULL", col);
	return b.data;
}

int cns_shard_unique_bounds(char **bounds, int nb)
{
	int n = 0;

	for (int i = 0; i < nb; i++) {
		if (n > 0 && strcmp(bounds[n - 1], bounds[i]) == 0) {
			free(bounds[i]);
			continue;
		}
		bounds[n++] = bounds[i];
	}
	return n;
}

/* ---- the plan's tables ---- */

/* The plan lives beside the run state, created the way cns_state_ensure()
 * creates it: in one transaction under the same advisory lock, so that
 * coordinators of several jobs do not race on CREATE. */
static const char PLAN_TABLES_SQL[] =
	"BEGIN; SELECT pg_advisory_xact_lock(4242424242); "
	"CREATE TABLE IF NOT EXISTS consolidate.shard_runs ("
	"run_id text PRIMARY KEY, job text NOT NULL, "
	"nshards integer NOT NULL, state text NOT NULL DEFAULT 'planned', "
	"planned_at timestamptz NOT NULL DEFAULT now(), "
	"merged_at timestamptz, rows bigint); "
	"CREATE TABLE IF NOT EXISTS consolidate.shards ("
	"run_id text NOT NULL REFERENCES consolidate.shard_runs "
	"ON DELETE CASCADE, shard integer NOT NULL, source text NOT NULL, "
	"predicate text NOT NULL, lower_wm text[], upper_wm text[], "
	"snapshot text, staging text NOT NULL, "
	"state text NOT NULL DEFAULT 'pending', rows bigint, "
	"read_snapshot text, updated_at timestamptz NOT NULL DEFAULT now(), "
	"PRIMARY KEY (run_id, shard)); "
	/* hold: NULL none expected; 'submitted' a holder was queued, its
	 * shards wait for it; 'held' its snapshots are exported; 'released'
	 * finalize failed, the holder may go. */
	/* Added to plan tables made before it; ALTER only then, as it
	 * would wait for every transaction that touched the table. */
	"DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE "
	"attrelid = 'consolidate.shard_runs'::regclass AND attname = "
	"'hold' AND NOT attisdropped) THEN ALTER TABLE "
	"consolidate.shard_runs ADD COLUMN hold text; END IF; END$$; "
	"COMMIT";

/* A connection to the target with the state and plan tables in place. */
static PGconn *open_target(const struct cns_job_conf *job,
			   struct cns_error *err)
{
	PGconn *conn = cns_pg_connect(job->target.conninfo, WHAT, err);

	if (!conn)
		return NULL;
	if (cns_state_ensure(conn, err) < 0 ||
	    cns_pg_command(conn, PLAN_TABLES_SQL, WHAT, err) < 0) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Runs q (a whole transaction) and rolls back what it left open when it
 * failed. */
static int exec_tx(PGconn *conn, const char *q, struct cns_error *err)
{
	if (cns_pg_command(conn, q, WHAT, err) == 0)
		return 0;
	PQclear(PQexec(conn, "ROLLBACK"));
	return -1;
}

/* ---- reading a source's split ---- */

/* The columns of a source's watermark: incremental columns, then the
 * tie-breaker key, as prepare orders them. */
static int wm_columns(const struct cns_source_conf *c, const char **cols)
{
	int n = 0;

	for (int i = 0; i < c->incremental.n && n < 64; i++)
		cols[n++] = c->incremental.items[i];
	for (int i = 0; i < c->key.n && n < 64; i++)
		cols[n++] = c->key.items[i];
	return c->incremental.n ? n : 0;
}

static void add_ident_list(struct cns_buf *b, const char *const *cols, int n,
			   const char *suffix)
{
	for (int i = 0; i < n; i++) {
		if (i)
			cns_buf_adds(b, ", ");
		cns_pg_quote_ident(b, cols[i]);
		if (suffix)
			cns_buf_adds(b, suffix);
	}
}

static void add_literal_list(struct cns_buf *b, char **vals, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			cns_buf_adds(b, ", ");
		if (vals[i])
			cns_pg_quote_literal(b, vals[i]);
		else
			cns_buf_adds(b, "NULL");
	}
}

/* FROM and WHERE of a source's rows, with `extra` (may be NULL) as one
 * more condition. */
static void add_from_where(struct cns_buf *b, const struct cns_source_conf *c,
			   const char *extra)
{
	bool where = false;

	cns_buf_adds(b, " FROM ");
	if (c->query) {
		size_t n = strlen(c->query);

		while (n && (c->query[n - 1] == ';' ||
			     isspace((unsigned char)c->query[n - 1])))
			n--;
		cns_buf_printf(b, "(%.*s) AS cns_q", (int)n, c->query);
	} else {
		cns_pg_quote_qname(b, &c->qtable);
		if (c->where) {
			cns_buf_printf(b, " WHERE (%s)", c->where);
			where = true;
		}
	}
	if (extra)
		cns_buf_printf(b, " %s (%s)", where ? "AND" : "WHERE", extra);
}

/* What a source's plan holds while it is made. */
struct src_plan {
	int index;
	int nwm;
	char **lower, **upper; /* nwm values each, or NULL */
	char *window;          /* malloc'ed, or NULL: no bound */
	struct cns_shard_list shards;
	bool null_empty; /* the last shard, of NULLs, has no row */
	bool null_known; /* null_empty was learnt with the bounds */
};

static void src_plan_free(struct src_plan *sp)
{
	for (int i = 0; sp->lower && i < sp->nwm; i++)
		free(sp->lower[i]);
	for (int i = 0; sp->upper && i < sp->nwm; i++)
		free(sp->upper[i]);
	free(sp->lower);
	free(sp->upper);
	free(sp->window);
	cns_shard_list_free(&sp->shards);
}

static void add_shard(struct cns_shard_list *l, int source, char *pred)
{
	l->v = cns_xrealloc(l->v, sizeof(*l->v) * (size_t)(l->n + 1));
	l->v[l->n].source = source;
	l->v[l->n].predicate = pred;
	l->v[l->n].estimate = -1;
	l->n++;
}

/* pred AND window, malloc'ed (pred is taken). */
static char *with_window(char *pred, const char *window)
{
	struct cns_buf b;

	if (!window)
		return pred;
	cns_buf_init(&b);
	cns_buf_printf(&b, "(%s) AND (%s)", pred, window);
	free(pred);
	return b.data;
}

/* The upper watermark in the connection's snapshot: the last row in the
 * incremental order after the lower one.  Sets sp->window. */
static int read_window(PGconn *conn, const struct cns_source_conf *c,
		       struct src_plan *sp, struct cns_error *err)
{
	const char *cols[64];
	struct cns_buf q, lower;
	PGresult *res;
	int n = wm_columns(c, cols);

	sp->nwm = n;
	if (n == 0)
		return 0;
	cns_buf_init(&lower);
	if (sp->lower) {
		cns_buf_adds(&lower, "(");
		add_ident_list(&lower, cols, n, NULL);
		cns_buf_adds(&lower, ") > (");
		add_literal_list(&lower, sp->lower, n);
		cns_buf_adds(&lower, ")");
	} else {
		/* NULL never compares: as the unsharded run skips them. */
		for (int i = 0; i < c->incremental.n; i++) {
			if (i)
				cns_buf_adds(&lower, " AND ");
			cns_pg_quote_ident(&lower, cols[i]);
			cns_buf_adds(&lower, " IS NOT NULL");
		}
	}
	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT ");
	add_ident_list(&q, cols, n, "::text");
	add_from_where(&q, c, lower.data);
	cns_buf_adds(&q, " ORDER BY ");
	add_ident_list(&q, cols, n, " DESC");
	cns_buf_adds(&q, " LIMIT 1");
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the source", err);
	cns_buf_release(&q);
	if (!res) {
		cns_buf_release(&lower);
		return -1;
	}
	if (PQntuples(res) == 0) {
		/* Nothing after the watermark: every shard is empty and the
		 * watermark stays. */
		sp->window = cns_xstrdup("false");
	} else {
		sp->upper = cns_xcalloc((size_t)n, sizeof(char *));
		for (int i = 0; i < n; i++)
			sp->upper[i] =
				PQgetisnull(res, 0, i)
					? NULL
					: cns_xstrdup(PQgetvalue(res, 0, i));
		cns_buf_init(&q);
		cns_buf_printf(&q, "%s AND (", lower.data);
		add_ident_list(&q, cols, n, NULL);
		cns_buf_adds(&q, ") <= (");
		add_literal_list(&q, sp->upper, n);
		cns_buf_adds(&q, ")");
		sp->window = q.data;
	}
	PQclear(res);
	cns_buf_release(&lower);
	return 0;
}

/* The planner's estimate of the rows of one shard. */
static int64_t estimate(PGconn *conn, const struct cns_source_conf *c,
			const char *pred)
{
	struct cns_buf q;
	PGresult *res;
	int64_t n = -1;
	const char *p;

	cns_buf_init(&q);
	cns_buf_adds(&q, "EXPLAIN SELECT 1");
	add_from_where(&q, c, pred);
	res = PQexec(conn, q.data);
	cns_buf_release(&q);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
	    (p = strstr(PQgetvalue(res, 0, 0), "rows=")) != NULL)
		n = strtoll(p + 5, NULL, 10);
	PQclear(res);
	return n;
}

/* Range bounds from the quantiles of col in the snapshot, distinct. */
static int range_bounds(PGconn *conn, const struct cns_source_conf *c,
			const char *col, const char *window, int nshards,
			char ***out, int *nb, bool *has_null,
			struct cns_error *err)
{
	struct cns_buf q, cond;
	PGresult *res;
	char **b;
	int n;

	/* One scan of the source for the bounds and for whether the NULL
	 * shard has rows: the ordered-set aggregate and max() skip NULLs
	 * themselves. */
	cns_buf_init(&cond);
	cns_buf_adds(&cond, window ? window : "true");
	/* Each bound is a value of the column and closes its range from
	 * above, so the lowest range holds the minimum; a bound equal to
	 * the maximum would leave the range above it empty and is left
	 * out. */
	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT u.v::text, s.z FROM (SELECT "
			 "percentile_disc(ARRAY[");
	for (int i = 1; i < nshards; i++)
		cns_buf_printf(&q, "%s%d.0/%d", i > 1 ? ", " : "", i, nshards);
	cns_buf_printf(&q,
		       "]::float8[]) WITHIN GROUP (ORDER BY %s) AS p, "
		       "max(%s) AS m, bool_or(%s IS NULL) AS z",
		       col, col, col);
	add_from_where(&q, c, cond.data);
	cns_buf_adds(&q, ") AS s LEFT JOIN LATERAL (SELECT v, i FROM "
			 "unnest(s.p) WITH ORDINALITY AS u(v, i) WHERE "
			 "u.v IS NOT NULL AND u.v < s.m) u ON true "
			 "ORDER BY u.i");
	cns_buf_release(&cond);
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the source", err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	/* One row at least (the aggregate's), with no bound when there
	 * is none. */
	n = PQntuples(res);
	*has_null = n > 0 && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	if (n == 1 && PQgetisnull(res, 0, 0))
		n = 0;
	b = cns_xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		struct cns_buf lit;

		cns_buf_init(&lit);
		cns_pg_quote_literal(&lit, PQgetvalue(res, i, 0));
		b[i] = lit.data;
	}
	PQclear(res);
	*nb = cns_shard_unique_bounds(b, n);
	*out = b;
	return 0;
}

static int block_count(PGconn *conn, const struct cns_source_conf *c,
		       int64_t *blocks, struct cns_error *err)
{
	struct cns_buf q, name;
	PGresult *res;

	cns_buf_init(&name);
	cns_pg_quote_qname(&name, &c->qtable);
	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT pg_relation_size(");
	cns_pg_quote_literal(&q, name.data);
	cns_buf_adds(&q, "::regclass) / current_setting('block_size')::int");
	cns_buf_release(&name);
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the source", err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	*blocks = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

static enum cns_split_method method_of(const struct cns_source_conf *c)
{
	if (c->split_method != CNS_SPLIT_AUTO)
		return c->split_method;
	if (strcmp(c->driver, "csv") == 0)
		return CNS_SPLIT_FILES;
	return c->split_by ? CNS_SPLIT_RANGE : CNS_SPLIT_BLOCKS;
}

/* Plans source sp->index: window (postgres, in conn's snapshot) and
 * shards with estimates.  conn is NULL for csv and odbc. */
static int plan_source(const struct cns_job_conf *job, PGconn *conn,
		       struct src_plan *sp, struct cns_error *err)
{
	const struct cns_source_conf *c = &job->sources[sp->index];
	enum cns_split_method m = method_of(c);
	int n = c->shards;

	if (strcmp(c->driver, "csv") == 0) {
		glob_t g;

		if (n > 1 && m != CNS_SPLIT_FILES)
			return cns_error_set(err, CNS_E_CONFIG,
					     "source \"%s\": a csv source "
					     "splits by file only",
					     c->name);
		if (n <= 1) {
			add_shard(&sp->shards, sp->index, cns_xstrdup(c->path));
			return 0;
		}
		memset(&g, 0, sizeof(g));
		if (glob(c->path, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
			globfree(&g);
			return cns_error_set(err, CNS_E_SOURCE,
					     "source \"%s\": no file matches "
					     "\"%s\"",
					     c->name, c->path);
		}
		for (size_t i = 0; i < g.gl_pathc; i++)
			add_shard(&sp->shards, sp->index,
				  cns_xstrdup(g.gl_pathv[i]));
		globfree(&g);
		return 0;
	}
	if (!conn) {
		/* odbc: no snapshot and no upper watermark to read yet. */
		if (n > 1 || c->incremental.n)
			return cns_error_set(err, CNS_E_CONFIG,
					     "source \"%s\": shards and "
					     "incremental reads of odbc "
					     "sources in a sharded job are "
					     "not supported",
					     c->name);
		add_shard(&sp->shards, sp->index, cns_xstrdup("true"));
		return 0;
	}
	if (read_window(conn, c, sp, err) < 0)
		return -1;
	if (n <= 1) {
		add_shard(&sp->shards, sp->index,
			  cns_xstrdup(sp->window ? sp->window : "true"));
	} else if (m == CNS_SPLIT_FILES) {
		return cns_error_set(err, CNS_E_CONFIG,
				     "source \"%s\": split_method = files is "
				     "for csv sources",
				     c->name);
	} else if (m == CNS_SPLIT_BLOCKS) {
		int64_t blocks, step;

		if (c->query || c->split_by)
			return cns_error_set(
				err, CNS_E_CONFIG,
				"source \"%s\": split_method = blocks needs "
				"table and no split_by",
				c->name);
		if (block_count(conn, c, &blocks, err) < 0)
			return -1;
		step = (blocks + n - 1) / n;
		if (step < 1)
			step = 1;
		for (int i = 0; i < n; i++) {
			bool last = i == n - 1 ||
				    (int64_t)(i + 1) * step >= blocks;

			add_shard(&sp->shards, sp->index,
				  with_window(cns_shard_blocks_predicate(
						      (int64_t)i * step,
						      last ? -1
							   : (int64_t)(i + 1) *
								      step),
					      sp->window));
			if (last)
				break;
		}
	} else {
		struct cns_buf col;

		if (!c->split_by)
			return cns_error_set(err, CNS_E_CONFIG,
					     "source \"%s\": split_method "
					     "needs split_by",
					     c->name);
		cns_buf_init(&col);
		cns_pg_quote_ident(&col, c->split_by);
		if (m == CNS_SPLIT_HASH) {
			for (int i = 0; i < n; i++)
				add_shard(&sp->shards, sp->index,
					  with_window(cns_shard_hash_predicate(
							      col.data, i, n),
						      sp->window));
		} else {
			char **b = NULL;
			int nb = 0;
			bool has_null;

			if (range_bounds(conn, c, col.data, sp->window, n, &b,
					 &nb, &has_null, err) < 0) {
				cns_buf_release(&col);
				return -1;
			}
			for (int i = 0; i <= nb; i++)
				add_shard(
					&sp->shards, sp->index,
					with_window(
						cns_shard_range_predicate(
							col.data,
							(const char *const *)b,
							nb, i),
						sp->window));
			for (int i = 0; i < nb; i++)
				free(b[i]);
			free(b);
			sp->null_empty = !has_null;
			sp->null_known = true;
		}
		add_shard(&sp->shards, sp->index,
			  with_window(cns_shard_null_predicate(col.data),
				      sp->window));
		cns_buf_release(&col);
	}
	for (int i = 0; i < sp->shards.n; i++)
		sp->shards.v[i].estimate =
			estimate(conn, c, sp->shards.v[i].predicate);
	return 0;
}

static bool is_pg(const struct cns_source_conf *c)
{
	return strcmp(c->driver, "postgres") == 0;
}

/* Whether the NULL shard of a source split by a column (its last) has
 * no row in the planning snapshot: a column without NULLs (a key, most
 * often) then costs no shard run, its sessions and its scan.  Finalize
 * still reads it, with all the source's shards, if they end up in
 * different snapshots. */
static int null_shard_empty(PGconn *conn, const struct cns_source_conf *c,
			    struct src_plan *sp, struct cns_error *err)
{
	enum cns_split_method m = method_of(c);
	struct cns_buf q;
	PGresult *res;

	if (!conn || sp->null_known || c->shards <= 1 || sp->shards.n < 2 ||
	    (m != CNS_SPLIT_RANGE && m != CNS_SPLIT_HASH))
		return 0;
	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT NOT EXISTS (SELECT 1");
	add_from_where(&q, c, sp->shards.v[sp->shards.n - 1].predicate);
	cns_buf_adds(&q, ")");
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the source", err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	sp->null_empty = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/* A session in a REPEATABLE READ transaction on a postgres source; with
 * `export`, its snapshot id goes to *snapshot (malloc'ed). */
static PGconn *open_snapshot(const struct cns_source_conf *c, bool export,
			     char **snapshot, struct cns_error *err)
{
	char what[160];
	PGconn *conn;
	PGresult *res;

	snprintf(what, sizeof(what), "source \"%s\"", c->name);
	conn = cns_pg_connect(c->conninfo, what, err);
	if (!conn)
		return NULL;
	/* The run's cancel-all must leave it alone: the shards need it. */
	cns_pg_keep(conn);
	if (cns_pg_command(conn,
			   "BEGIN ISOLATION LEVEL REPEATABLE READ "
			   "READ ONLY",
			   what, err) < 0)
		goto fail;
	if (export) {
		res = cns_pg_exec(conn, "SELECT pg_export_snapshot()",
				  PGRES_TUPLES_OK, what, err);
		if (!res)
			goto fail;
		*snapshot = cns_xstrdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	return conn;
fail:
	cns_error_in_source(err, c->name);
	PQfinish(conn);
	return NULL;
}

/* The stored watermark of a source when it has the width the source's
 * ordering has, as prepare uses it; else none. */
static int read_lower(PGconn *tconn, const struct cns_job_conf *job,
		      const struct cns_source_conf *c, struct src_plan *sp,
		      struct cns_error *err)
{
	const char *cols[64];
	int want = wm_columns(c, cols), n = 0;
	char **vals = NULL;
	struct cns_arena a;

	if (want == 0 || !tconn)
		return 0;
	cns_arena_init(&a, 1024);
	if (cns_state_watermark_get(tconn, job->name, c->name, &a, &n, &vals,
				    err) < 0) {
		cns_arena_release(&a);
		return -1;
	}
	if (n == want) {
		sp->lower = cns_xcalloc((size_t)n, sizeof(char *));
		for (int i = 0; i < n; i++)
			sp->lower[i] = vals[i] ? cns_xstrdup(vals[i]) : NULL;
	}
	cns_arena_release(&a);
	return 0;
}

int cns_shard_split(const struct cns_job_conf *job, int index,
		    struct cns_shard_list *out, struct cns_error *err)
{
	const struct cns_source_conf *c = &job->sources[index];
	struct src_plan sp;
	PGconn *conn = NULL, *tconn;
	int rc;

	memset(&sp, 0, sizeof(sp));
	sp.index = index;
	/* The watermark, when the target has one; plan changes nothing,
	 * so a target without the state schema simply has none. */
	tconn = cns_pg_connect(job->target.conninfo, WHAT, err);
	if (!tconn)
		return -1;
	{
		PGresult *res = PQexec(tconn, "SELECT to_regclass("
					      "'consolidate.watermarks') IS "
					      "NOT NULL");
		bool has = PQresultStatus(res) == PGRES_TUPLES_OK &&
			   strcmp(PQgetvalue(res, 0, 0), "t") == 0;

		PQclear(res);
		if (has && is_pg(c) &&
		    read_lower(tconn, job, c, &sp, err) < 0) {
			PQfinish(tconn);
			return -1;
		}
	}
	PQfinish(tconn);
	if (is_pg(c) && !(conn = open_snapshot(c, false, NULL, err)))
		return -1;
	rc = plan_source(job, conn, &sp, err);
	PQfinish(conn);
	for (int i = 0; rc == 0 && i < sp.shards.n; i++) {
		add_shard(out, index, sp.shards.v[i].predicate);
		out->v[out->n - 1].estimate = sp.shards.v[i].estimate;
		sp.shards.v[i].predicate = NULL;
	}
	src_plan_free(&sp);
	return rc;
}

/* ---- snapshots kept for local workers ---- */

/* The sessions whose snapshots the local workers import, per job in this
 * process; guarded by kept_lock. */
struct kept {
	const struct cns_job_conf *job;
	PGconn *conn;
	char *snapshot; /* its exported snapshot, malloc'ed, or NULL */
	struct kept *next;
};
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept *kept; /* guarded by kept_lock */

static void keep_conn(const struct cns_job_conf *job, PGconn *conn,
		      const char *snapshot)
{
	struct kept *k = cns_xcalloc(1, sizeof(*k));

	k->job = job;
	k->conn = conn;
	k->snapshot = snapshot ? cns_xstrdup(snapshot) : NULL;
	pthread_mutex_lock(&kept_lock);
	k->next = kept;
	kept = k;
	pthread_mutex_unlock(&kept_lock);
}

void cns_shard_release(const struct cns_job_conf *job)
{
	struct kept **pp, *k;

	pthread_mutex_lock(&kept_lock);
	for (pp = &kept; *pp;) {
		k = *pp;
		if (k->job != job) {
			pp = &k->next;
			continue;
		}
		*pp = k->next;
		PQfinish(k->conn);
		free(k->snapshot);
		free(k);
	}
	pthread_mutex_unlock(&kept_lock);
}

/* True when a session of this process keeps `snap` open: local workers
 * need not open a connection of their own to learn that it lives. */
static bool kept_here(const char *snap)
{
	bool found = false;

	pthread_mutex_lock(&kept_lock);
	for (struct kept *k = kept; k && !found; k = k->next)
		found = k->snapshot && strcmp(k->snapshot, snap) == 0 &&
			PQstatus(k->conn) == CONNECTION_OK &&
			PQtransactionStatus(k->conn) == PQTRANS_INTRANS;
	pthread_mutex_unlock(&kept_lock);
	return found;
}

/* ---- the coordinator ---- */

/* The staging table of a shard, in the consolidate schema: the run id
 * (at most 40 of its characters, folded to [a-z0-9_]) and the shard's
 * number keep it well within NAMEDATALEN. */
static void staging_name(char *out, size_t size, const char *run_id, int shard)
{
	char id[41];
	size_t n = 0;

	for (; run_id[n] && n < 40; n++)
		id[n] = isalnum((unsigned char)run_id[n])
				? (char)tolower((unsigned char)run_id[n])
				: '_';
	id[n] = '\0';
	snprintf(out, size, "stage_%s_%d", id, shard);
}

static void add_staging(struct cns_buf *b, const char *name)
{
	cns_buf_adds(b, "consolidate.");
	cns_pg_quote_ident(b, name);
}

static void add_text_array(struct cns_buf *b, char **vals, int n)
{
	if (!vals) {
		cns_buf_adds(b, "NULL");
		return;
	}
	cns_buf_adds(b, "ARRAY[");
	add_literal_list(b, vals, n);
	cns_buf_adds(b, "]::text[]");
}

/* Creates the target table when it is absent (as a run's prepare does),
 * so that staging tables can be made like it. */
static int ensure_target(const struct cns_job_conf *job, struct cns_error *err)
{
	struct cns_job_conf copy = *job;
	struct cns_transform *xf = NULL;
	int rc;

	copy.target.mode = CNS_MODE_APPEND;
	if (cns_transform_load(job->transforms, cns_wall_us(), &xf, err) < 0)
		return -1;
	rc = cns_target_prepare(&copy, cns_transform_schema(xf), err);
	cns_target_release(&copy);
	cns_transform_free(xf);
	return rc;
}

/* The job's unfinished plan: 1 with its id and size, 0 when none. */
static int find_plan(PGconn *tconn, const struct cns_job_conf *job,
		     char *run_id, size_t size, int *nshards,
		     struct cns_error *err)
{
	struct cns_buf q;
	PGresult *res;
	int found;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT run_id, nshards FROM consolidate.shard_runs "
			 "WHERE state = 'planned' AND job = ");
	cns_pg_quote_literal(&q, job->name);
	cns_buf_adds(&q, " ORDER BY planned_at LIMIT 1");
	res = cns_pg_exec(tconn, q.data, PGRES_TUPLES_OK, WHAT, err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	found = PQntuples(res) > 0;
	if (found) {
		snprintf(run_id, size, "%s", PQgetvalue(res, 0, 0));
		*nshards = atoi(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return found;
}

/* A resumed plan, run by local workers: each postgres source gets a new
 * snapshot for its shards that are not done.  A full load cannot mix
 * snapshots, so all its shards start again under the new one (staging
 * emptied) unless every one is done; an incremental source's done
 * shards stay, its window giving the same rows in any snapshot. */
static int resume_plan(PGconn *tconn, const struct cns_job_conf *job,
		       const char *run_id, struct cns_error *err)
{
	for (int i = 0; i < job->nsources; i++) {
		const struct cns_source_conf *c = &job->sources[i];
		struct cns_buf q;
		PGresult *res;
		char *snap = NULL;
		PGconn *sc;
		int pending;

		if (!is_pg(c))
			continue;
		cns_buf_init(&q);
		cns_buf_adds(&q, "SELECT count(*) FILTER (WHERE state <> "
				 "'done'), string_agg(staging, ' ') FROM "
				 "consolidate.shards WHERE run_id = ");
		cns_pg_quote_literal(&q, run_id);
		cns_buf_adds(&q, " AND source = ");
		cns_pg_quote_literal(&q, c->name);
		res = cns_pg_exec(tconn, q.data, PGRES_TUPLES_OK, WHAT, err);
		if (!res) {
			cns_buf_release(&q);
			return -1;
		}
		pending = atoi(PQgetvalue(res, 0, 0));
		cns_buf_reset(&q);
		if (pending == 0) {
			PQclear(res);
			cns_buf_release(&q);
			continue;
		}
		sc = open_snapshot(c, true, &snap, err);
		if (!sc) {
			PQclear(res);
			cns_buf_release(&q);
			return -1;
		}
		keep_conn(job, sc, snap);
		cns_buf_adds(&q, "BEGIN; ");
		if (c->incremental.n == 0) {
			/* Every staging table of the source emptied. */
			char *names = cns_xstrdup(PQgetvalue(res, 0, 1));

			for (char *t = strtok(names, " "); t;
			     t = strtok(NULL, " ")) {
				cns_buf_adds(&q, "TRUNCATE ");
				add_staging(&q, t);
				cns_buf_adds(&q, "; ");
			}
			free(names);
			cns_buf_adds(&q, "UPDATE consolidate.shards SET "
					 "state = 'pending', rows = NULL, "
					 "read_snapshot = NULL, snapshot = ");
		} else {
			cns_buf_adds(&q, "UPDATE consolidate.shards SET "
					 "snapshot = ");
		}
		PQclear(res);
		cns_pg_quote_literal(&q, snap);
		cns_buf_adds(&q, ", updated_at = now() WHERE run_id = ");
		cns_pg_quote_literal(&q, run_id);
		cns_buf_adds(&q, " AND source = ");
		cns_pg_quote_literal(&q, c->name);
		if (c->incremental.n)
			cns_buf_adds(&q, " AND state <> 'done'");
		cns_buf_adds(&q, "; COMMIT");
		free(snap);
		if (exec_tx(tconn, q.data, err) < 0) {
			cns_buf_release(&q);
			return -1;
		}
		cns_buf_release(&q);
	}
	return 0;
}

/* Plans a new run; the caller holds the job's lock. */
static int new_plan(PGconn *tconn, const struct cns_job_conf *job,
		    bool keep_open, char *run_id, size_t size, int *nshards,
		    struct cns_error *err)
{
	struct src_plan *sp = cns_xcalloc((size_t)job->nsources, sizeof(*sp));
	char **snaps = cns_xcalloc((size_t)job->nsources, sizeof(char *));
	PGconn **conns = cns_xcalloc((size_t)job->nsources, sizeof(PGconn *));
	struct cns_buf q;
	int rc = -1, total = 0;

	cns_buf_init(&q);
	cns_run_id_new(cns_wall_us(), run_id, size);
	if (ensure_target(job, err) < 0)
		goto out;
	for (int i = 0; i < job->nsources; i++) {
		const struct cns_source_conf *c = &job->sources[i];

		sp[i].index = i;
		if (is_pg(c)) {
			conns[i] = open_snapshot(c, true, &snaps[i], err);
			if (!conns[i])
				goto out;
		}
		if (read_lower(tconn, job, c, &sp[i], err) < 0 ||
		    plan_source(job, conns[i], &sp[i], err) < 0 ||
		    null_shard_empty(conns[i], c, &sp[i], err) < 0) {
			cns_error_in_source(err, c->name);
			goto out;
		}
		total += sp[i].shards.n;
	}
	/* The plan, its staging tables, in one transaction. */
	cns_buf_adds(&q, "BEGIN; INSERT INTO consolidate.shard_runs "
			 "(run_id, job, nshards) VALUES (");
	cns_pg_quote_literal(&q, run_id);
	cns_buf_adds(&q, ", ");
	cns_pg_quote_literal(&q, job->name);
	cns_buf_printf(&q, ", %d); ", total);
	for (int i = 0, k = 0; i < job->nsources; i++) {
		for (int j = 0; j < sp[i].shards.n; j++, k++) {
			char stage[CNS_PG_NAME_MAX + 1];

			staging_name(stage, sizeof(stage), run_id, k);
			cns_buf_adds(&q,
				     "INSERT INTO consolidate.shards (run_id, "
				     "shard, source, predicate, lower_wm, "
				     "upper_wm, snapshot, staging) "
				     "VALUES (");
			cns_pg_quote_literal(&q, run_id);
			cns_buf_printf(&q, ", %d, ", k);
			cns_pg_quote_literal(&q, job->sources[i].name);
			cns_buf_adds(&q, ", ");
			cns_pg_quote_literal(&q, sp[i].shards.v[j].predicate);
			cns_buf_adds(&q, ", ");
			add_text_array(&q, sp[i].lower, sp[i].nwm);
			cns_buf_adds(&q, ", ");
			add_text_array(&q, sp[i].upper, sp[i].nwm);
			cns_buf_adds(&q, ", ");
			if (snaps[i])
				cns_pg_quote_literal(&q, snaps[i]);
			else
				cns_buf_adds(&q, "NULL");
			cns_buf_adds(&q, ", ");
			cns_pg_quote_literal(&q, stage);
			/* Staging holds what the loader sends: the target's
			 * columns, no constraint that could refuse a row the
			 * merge would take. */
			cns_buf_adds(&q, "); CREATE UNLOGGED TABLE ");
			add_staging(&q, stage);
			cns_buf_adds(&q, " (LIKE ");
			cns_pg_quote_qname(&q, &job->target.qtable);
			cns_buf_adds(&q, " INCLUDING DEFAULTS); ");
			if (j == sp[i].shards.n - 1 && sp[i].null_empty) {
				/* No NULL in the planned snapshot: done,
				 * as if read in it. */
				cns_buf_adds(&q,
					     "UPDATE consolidate.shards "
					     "SET state = 'done', rows = 0, "
					     "read_snapshot = snapshot "
					     "WHERE run_id = ");
				cns_pg_quote_literal(&q, run_id);
				cns_buf_printf(&q, " AND shard = %d; ", k);
			}
		}
	}
	cns_buf_adds(&q, "COMMIT");
	CNS_HOOK("shard.plan_begin");
	if (exec_tx(tconn, q.data, err) < 0)
		goto out;
	CNS_HOOK("shard.planned");
	*nshards = total;
	rc = 0;
out:
	for (int i = 0; i < job->nsources; i++) {
		if (conns[i] && keep_open && rc == 0)
			keep_conn(job, conns[i], snaps[i]);
		else
			PQfinish(conns[i]);
		free(snaps[i]);
		src_plan_free(&sp[i]);
	}
	free(sp);
	free(snaps);
	free(conns);
	cns_buf_release(&q);
	return rc;
}

/* The run's hold column to `value`; with `only_if`, only from that
 * value. */
static int set_hold(PGconn *tconn, const char *run_id, const char *value,
		    const char *only_if, struct cns_error *err)
{
	struct cns_buf q;
	int rc;

	cns_buf_init(&q);
	cns_buf_adds(&q, "UPDATE consolidate.shard_runs SET hold = ");
	cns_pg_quote_literal(&q, value);
	cns_buf_adds(&q, " WHERE state = 'planned' AND run_id = ");
	cns_pg_quote_literal(&q, run_id);
	if (only_if) {
		cns_buf_adds(&q, " AND hold = ");
		cns_pg_quote_literal(&q, only_if);
	}
	rc = cns_pg_command(tconn, q.data, WHAT, err);
	cns_buf_release(&q);
	return rc;
}

/* The coordinator, the job's lock held by the caller. */
static int coordinate_locked(const struct cns_job_conf *job, bool keep_open,
			     char *run_id, size_t size, int *nshards,
			     struct cns_error *err)
{
	PGconn *tconn = open_target(job, err);
	int rc, found;

	if (!tconn)
		return -1;
	found = find_plan(tconn, job, run_id, size, nshards, err);
	if (found < 0)
		rc = -1;
	else if (found)
		rc = keep_open ? resume_plan(tconn, job, run_id, err) : 0;
	else
		rc = new_plan(tconn, job, keep_open, run_id, size, nshards,
			      err);
	/* This process keeps the snapshots now: shards must not wait for
	 * a holder a submit once queued. */
	if (rc == 0 && keep_open)
		rc = set_hold(tconn, run_id, "held", NULL, err);
	PQfinish(tconn);
	return rc;
}

static int lock_job(struct cns_lock *lock, const struct cns_job_conf *job,
		    atomic_int *stop, struct cns_error *err)
{
	char id[64];

	memset(lock, 0, sizeof(*lock));
	lock->fd = -1;
	lock->stop = stop;
	cns_run_id_new(cns_wall_us(), id, sizeof(id));
	return cns_lock_acquire(lock, job, id, 0, err);
}

int cns_shard_coordinate(const struct cns_job_conf *job, bool keep_open,
			 char *run_id, size_t run_id_size, int *nshards,
			 struct cns_error *err)
{
	struct cns_lock lock;
	int rc;

	if (lock_job(&lock, job, NULL, err) < 0)
		return -1;
	rc = coordinate_locked(job, keep_open, run_id, run_id_size, nshards,
			       err);
	cns_lock_release(&lock);
	return rc;
}

int cns_shard_expect_holder(const struct cns_job_conf *job, const char *run_id,
			    struct cns_error *err)
{
	PGconn *tconn = open_target(job, err);
	int rc;

	if (!tconn)
		return -1;
	rc = set_hold(tconn, run_id, "submitted", NULL, err);
	PQfinish(tconn);
	return rc;
}

int cns_shard_hold(const struct cns_job_conf *job, const char *want,
		   char *run_id, size_t run_id_size, int *nshards,
		   struct cns_error *err)
{
	struct cns_lock lock;
	struct cns_buf q;
	PGconn *tconn;
	PGresult *res;
	int rc = -1;

	if (lock_job(&lock, job, NULL, err) < 0)
		return -1;
	tconn = open_target(job, err);
	if (!tconn)
		goto out;
	cns_buf_init(&q);
	if (!want) {
		rc = coordinate_locked(job, true, run_id, run_id_size, nshards,
				       err);
	} else {
		/* Only that run: once merged, holding would plan a new
		 * one that nobody runs. */
		cns_buf_adds(&q, "SELECT nshards FROM consolidate.shard_runs "
				 "WHERE state = 'planned' AND run_id = ");
		cns_pg_quote_literal(&q, want);
		cns_buf_adds(&q, " AND job = ");
		cns_pg_quote_literal(&q, job->name);
		res = cns_pg_exec(tconn, q.data, PGRES_TUPLES_OK, WHAT, err);
		cns_buf_release(&q);
		if (!res)
			goto out;
		if (PQntuples(res) == 0) {
			PQclear(res);
			rc = 0; /* merged or unknown: nothing to hold */
			goto out;
		}
		snprintf(run_id, run_id_size, "%s", want);
		*nshards = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		rc = resume_plan(tconn, job, want, err);
	}
	cns_buf_release(&q);
	if (rc == 0)
		rc = set_hold(tconn, run_id, "held", NULL, err) == 0 ? 1 : -1;
out:
	if (rc < 0)
		cns_shard_release(job);
	PQfinish(tconn);
	cns_lock_release(&lock);
	return rc;
}

/* ---- one shard ---- */

/* What the plan says of one shard. */
struct shard_row {
	char source[256];
	char *predicate;
	char *snapshot; /* NULL: none planned */
	char staging[CNS_PG_NAME_MAX + 1];
	char state[16];
	char run_state[16];
	char hold[16]; /* the run's hold, "" for none */
};

static int read_shard(PGconn *tconn, const char *run_id, int shard,
		      struct shard_row *r, struct cns_error *err)
{
	struct cns_buf q;
	PGresult *res;

	memset(r, 0, sizeof(*r));
	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT s.source, s.predicate, s.snapshot, "
			 "s.staging, s.state, r.state, coalesce(r.hold, '') "
			 "FROM consolidate.shards "
			 "s JOIN consolidate.shard_runs r USING (run_id) "
			 "WHERE run_id = ");
	cns_pg_quote_literal(&q, run_id);
	cns_buf_printf(&q, " AND shard = %d", shard);
	res = cns_pg_exec(tconn, q.data, PGRES_TUPLES_OK, WHAT, err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return cns_error_set(err, CNS_E_TARGET,
				     "run \"%s\" has no shard %d", run_id,
				     shard);
	}
	snprintf(r->source, sizeof(r->source), "%s", PQgetvalue(res, 0, 0));
	r->predicate = cns_xstrdup(PQgetvalue(res, 0, 1));
	if (!PQgetisnull(res, 0, 2))
		r->snapshot = cns_xstrdup(PQgetvalue(res, 0, 2));
	snprintf(r->staging, sizeof(r->staging), "%s", PQgetvalue(res, 0, 3));
	snprintf(r->state, sizeof(r->state), "%s", PQgetvalue(res, 0, 4));
	snprintf(r->run_state, sizeof(r->run_state), "%s",
		 PQgetvalue(res, 0, 5));
	snprintf(r->hold, sizeof(r->hold), "%s", PQgetvalue(res, 0, 6));
	PQclear(res);
	return 0;
}

/* True when the snapshot can still be imported: its exporting
 * transaction is open. */
static bool snapshot_alive(const struct cns_source_conf *c, const char *snap)
{
	struct cns_error e;
	struct cns_buf q;
	PGconn *conn;
	bool ok;

	cns_error_clear(&e);
	conn = cns_pg_connect(c->conninfo, "the source", &e);
	if (!conn)
		return false;
	cns_buf_init(&q);
	cns_buf_adds(&q, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
			 "SET TRANSACTION SNAPSHOT ");
	cns_pg_quote_literal(&q, snap);
	ok = cns_pg_command(conn, q.data, "the source", &e) == 0;
	cns_buf_release(&q);
	PQfinish(conn);
	return ok;
}

/* The job a shard runs: the same job under its own name (its own locks,
 * log and history), reading only its source, restricted to its
 * predicate in its snapshot, appending to its staging table.  Strings
 * are malloc'ed into keep[] for the caller to free. */
static void shard_job(const struct cns_job_conf *job, int index, int shard,
		      int workers, const struct shard_row *r,
		      const char *snapshot, struct cns_job_conf *out,
		      struct cns_source_conf *srcs, char **keep)
{
	struct cns_source_conf *c;
	struct cns_buf b;

	*out = *job;
	/* Local workers share one process: each gets its part of the
	 * job's batch, so that their chunks in flight together take about
	 * the memory of one unsharded run (at least 1000 rows a chunk,
	 * where a commit per chunk still costs little). */
	if (workers > 1) {
		out->batch_size = job->batch_size / workers;
		if (out->batch_size < 1000)
			out->batch_size =
				job->batch_size < 1000 ? job->batch_size : 1000;
	}
	memcpy(srcs, job->sources, sizeof(*srcs) * (size_t)job->nsources);
	out->sources = srcs;
	cns_buf_init(&b);
	cns_buf_printf(&b, "%s.shard%d", job->name, shard);
	out->name = keep[0] = b.data;
	/* The shard reports nothing of its own: finalize speaks for the
	 * run. */
	out->notify_command = NULL;
	out->notify_url = NULL;
	out->metrics_file = NULL;
	out->on_volume_anomaly = CNS_ANOMALY_WARN;
	out->target.mode = CNS_MODE_APPEND;
	out->target.create = false;
	out->target.dedupe = false;
	out->target.key.n = 0;
	out->target.qtable.schema = "consolidate";
	out->target.qtable.name = (char *)r->staging;
	cns_buf_init(&b);
	cns_buf_printf(&b, "consolidate.%s", r->staging);
	out->target.table = keep[1] = b.data;

	c = &srcs[index];
	c->incremental.n = 0;
	c->key.n = 0;
	c->lookback_ms = 0;
	c->min_rows = -1;
	c->max_change = -1;
	c->shards = 1;
	c->snapshot = (char *)snapshot;
	if (strcmp(c->driver, "csv") == 0) {
		c->path = r->predicate;
	} else if (c->query) {
		cns_buf_init(&b);
		add_from_where(&b, c, r->predicate);
		/* add_from_where starts with " FROM ". */
		keep[2] = cns_xmalloc(b.len + 16);
		snprintf(keep[2], b.len + 16, "SELECT *%s", b.data);
		cns_buf_release(&b);
		c->query = keep[2];
	} else {
		cns_buf_init(&b);
		if (c->where)
			cns_buf_printf(&b, "(%s) AND (%s)", c->where,
				       r->predicate);
		else
			cns_buf_adds(&b, r->predicate);
		c->where = keep[2] = b.data;
	}
}

/* One shard; `stop` (may be NULL) is the flag signal handlers set. */
static int shard_run(const struct cns_job_conf *job, const char *run_id,
		     int shard, int workers, atomic_int *stop,
		     struct cns_error *err)
{
	PGconn *tconn = open_target(job, err);
	struct shard_row r;
	struct cns_job_conf sj;
	struct cns_source_conf *srcs = NULL;
	struct cns_runner_options opt;
	struct cns_runner_result res;
	struct cns_buf q;
	char *keep[3] = { NULL, NULL, NULL };
	const char *snap = NULL;
	int index = -1, rc = -1;
	int64_t rows = 0;
	bool started = false;

	if (!tconn)
		return -1;
	cns_buf_init(&q);
	if (read_shard(tconn, run_id, shard, &r, err) < 0)
		goto out;
	/* A holder queued with the shards (submit) exports its snapshots
	 * as it starts, and the shards start with it: wait for them, a
	 * bounded time, rather than read in a snapshot of our own that
	 * finalize would refuse.  A holder that never comes costs the
	 * wait, then the fallback below. */
	for (int waited = 0;
	     strcmp(r.hold, "submitted") == 0 &&
	     waited < CNS_SHARD_HOLD_WAIT_S && !(stop && atomic_load(stop));
	     waited++) {
		struct timespec ts = { 1, 0 };

		nanosleep(&ts, NULL);
		free(r.predicate);
		free(r.snapshot);
		if (read_shard(tconn, run_id, shard, &r, err) < 0)
			goto out;
	}
	if (strcmp(r.state, "done") == 0 ||
	    strcmp(r.run_state, "merged") == 0) {
		rc = 0;
		goto out;
	}
	for (int i = 0; i < job->nsources; i++)
		if (strcmp(job->sources[i].name, r.source) == 0)
			index = i;
	if (index < 0) {
		cns_error_set(err, CNS_E_CONFIG,
			      "run \"%s\" reads source \"%s\", which the job "
			      "no longer has",
			      run_id, r.source);
		goto out;
	}
	/* The planned snapshot while its exporter lives; else this
	 * shard's own, which it records: an incremental window gives the
	 * same rows in it, and finalize reads a full load again rather
	 * than merge shards of two snapshots. */
	if (r.snapshot && (kept_here(r.snapshot) ||
			   snapshot_alive(&job->sources[index], r.snapshot)))
		snap = r.snapshot;
	/* A shard that did not finish starts again from nothing. */
	cns_buf_adds(&q, "BEGIN; TRUNCATE ");
	add_staging(&q, r.staging);
	cns_buf_adds(&q, "; UPDATE consolidate.shards SET state = 'running', "
			 "rows = NULL, read_snapshot = NULL, updated_at = "
			 "now() WHERE run_id = ");
	cns_pg_quote_literal(&q, run_id);
	cns_buf_printf(&q, " AND shard = %d; COMMIT", shard);
	if (exec_tx(tconn, q.data, err) < 0)
		goto out;
	started = true;
	CNS_HOOK("shard.started");

	srcs = cns_xcalloc((size_t)job->nsources, sizeof(*srcs));
	shard_job(job, index, shard, workers, &r, snap, &sj, srcs, keep);
	memset(&opt, 0, sizeof(opt));
	opt.only_source = r.source;
	opt.signal_flag = stop;
	if (cns_runner_run(&sj, &opt, &res, err) < 0) {
		free(res.stats);
		goto out;
	}
	for (int i = 0; i < res.nsources; i++)
		if (res.stats[i].name &&
		    strcmp(res.stats[i].name, r.source) == 0)
			rows = res.stats[i].written;
	free(res.stats);
	CNS_HOOK("shard.loaded");
	cns_buf_reset(&q);
	cns_buf_printf(&q,
		       "UPDATE consolidate.shards SET state = 'done', "
		       "rows = %lld, read_snapshot = ",
		       (long long)rows);
	if (snap)
		cns_pg_quote_literal(&q, snap);
	else
		cns_buf_printf(&q, "'own:%d'", shard);
	cns_buf_adds(&q, ", updated_at = now() WHERE run_id = ");
	cns_pg_quote_literal(&q, run_id);
	cns_buf_printf(&q, " AND shard = %d", shard);
	if (cns_pg_command(tconn, q.data, WHAT, err) < 0)
		goto out;
	CNS_HOOK("shard.done");
	rc = 0;
out:
	/* A shard that stopped on an error says so, for status and
	 * history; one killed outright stays "running".  Best effort: the
	 * error already says what went wrong. */
	if (rc < 0 && started) {
		cns_buf_reset(&q);
		cns_buf_adds(&q,
			     "UPDATE consolidate.shards SET state = "
			     "'failed', updated_at = now() WHERE run_id = ");
		cns_pg_quote_literal(&q, run_id);
		cns_buf_printf(&q, " AND shard = %d AND state = 'running'",
			       shard);
		PQclear(cns_pq_exec(tconn, q.data));
	}
	for (int i = 0; i < 3; i++)
		free(keep[i]);
	free(srcs);
	free(r.predicate);
	free(r.snapshot);
	cns_buf_release(&q);
	PQfinish(tconn);
	return rc;
}

int cns_shard_run(const struct cns_job_conf *job, const char *run_id, int shard,
		  struct cns_error *err)
{
	return shard_run(job, run_id, shard, 1, NULL, err);
}

/* ---- finalize ---- */

struct fin_shard {
	int shard;
	char source[256];
	char state[16];
	int64_t rows;
	bool has_rows;
	char staging[CNS_PG_NAME_MAX + 1];
	char read_snapshot[128];
	char snapshot[128];
};

static int read_shards(PGconn *tconn, const char *run_id,
		       struct fin_shard **out, int *n, struct cns_error *err)
{
	struct cns_buf q;
	PGresult *res;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT shard, source, state, rows, staging, "
			 "coalesce(read_snapshot, ''), coalesce(snapshot, '') "
			 "FROM consolidate.shards WHERE run_id = ");
	cns_pg_quote_literal(&q, run_id);
	cns_buf_adds(&q, " ORDER BY shard");
	res = cns_pg_exec(tconn, q.data, PGRES_TUPLES_OK, WHAT, err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	*n = PQntuples(res);
	*out = cns_xcalloc((size_t)*n + 1, sizeof(**out));
	for (int i = 0; i < *n; i++) {
		struct fin_shard *f = &(*out)[i];

		f->shard = atoi(PQgetvalue(res, i, 0));
		snprintf(f->source, sizeof(f->source), "%s",
			 PQgetvalue(res, i, 1));
		snprintf(f->state, sizeof(f->state), "%s",
			 PQgetvalue(res, i, 2));
		f->has_rows = !PQgetisnull(res, i, 3);
		f->rows = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		snprintf(f->staging, sizeof(f->staging), "%s",
			 PQgetvalue(res, i, 4));
		snprintf(f->read_snapshot, sizeof(f->read_snapshot), "%s",
			 PQgetvalue(res, i, 5));
		snprintf(f->snapshot, sizeof(f->snapshot), "%s",
			 PQgetvalue(res, i, 6));
	}
	PQclear(res);
	return 0;
}

/* A full-load postgres source whose shards read different snapshots:
 * all of them are read again here, under one new snapshot. */
static int reread_source(PGconn *tconn, const struct cns_job_conf *job,
			 const char *run_id, const struct cns_source_conf *c,
			 atomic_int *stop, struct cns_error *err)
{
	char *snap = NULL;
	PGconn *sc = open_snapshot(c, true, &snap, err);
	struct fin_shard *fs = NULL;
	struct cns_buf q;
	int n = 0, rc = -1;

	if (!sc)
		return -1;
	cns_buf_init(&q);
	cns_buf_adds(&q, "UPDATE consolidate.shards SET state = 'pending', "
			 "snapshot = ");
	cns_pg_quote_literal(&q, snap);
	cns_buf_adds(&q, " WHERE run_id = ");
	cns_pg_quote_literal(&q, run_id);
	cns_buf_adds(&q, " AND source = ");
	cns_pg_quote_literal(&q, c->name);
	if (cns_pg_command(tconn, q.data, WHAT, err) < 0 ||
	    read_shards(tconn, run_id, &fs, &n, err) < 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (strcmp(fs[i].source, c->name) == 0 &&
		    shard_run(job, run_id, fs[i].shard, 1, stop, err) < 0)
			goto out;
	rc = 0;
out:
	free(fs);
	free(snap);
	cns_buf_release(&q);
	PQfinish(sc);
	return rc;
}

/* The state statements of the merge's transaction: watermarks to W1,
 * the plan merged, staging dropped. */
static int merge_state_sql(PGconn *tconn, const struct cns_job_conf *job,
			   const char *run_id, const struct fin_shard *fs,
			   int n, int64_t rows, struct cns_buf *q,
			   struct cns_error *err)
{
	struct cns_buf s;
	PGresult *res;

	cns_buf_init(&s);
	cns_buf_adds(&s, "SELECT p.source, u.v FROM (SELECT DISTINCT ON "
			 "(source) source, upper_wm FROM consolidate.shards "
			 "WHERE upper_wm IS NOT NULL AND run_id = ");
	cns_pg_quote_literal(&s, run_id);
	cns_buf_adds(&s, ") p, unnest(p.upper_wm) WITH ORDINALITY AS u(v, i) "
			 "ORDER BY p.source, u.i");
	res = cns_pg_exec(tconn, s.data, PGRES_TUPLES_OK, WHAT, err);
	cns_buf_release(&s);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res);) {
		const char *name = PQgetvalue(res, i, 0);
		const struct cns_source_conf *c = cns_config_source(job, name);
		const char *cols[64];
		struct cns_cell cells[64];
		const struct cns_cell *refs[64];
		int k = 0, ncols;
		char *sql;

		for (; i + k < PQntuples(res) &&
		       strcmp(PQgetvalue(res, i + k, 0), name) == 0 && k < 64;
		     k++) {
			cells[k].null = PQgetisnull(res, i + k, 1);
			cells[k].data = cells[k].null
						? NULL
						: PQgetvalue(res, i + k, 1);
			cells[k].len = (uint32_t)PQgetlength(res, i + k, 1);
			refs[k] = &cells[k];
		}
		ncols = c ? wm_columns(c, cols) : 0;
		if (ncols == k) {
			sql = cns_state_watermark_sql(job->name, name, cols, k,
						      refs, run_id);
			cns_buf_printf(q, "%s; ", sql);
			free(sql);
		}
		i += k;
	}
	PQclear(res);
	cns_buf_printf(q,
		       "UPDATE consolidate.shard_runs SET state = "
		       "'merged', merged_at = now(), rows = %lld WHERE "
		       "run_id = ",
		       (long long)rows);
	cns_pg_quote_literal(q, run_id);
	for (int i = 0; i < n; i++) {
		cns_buf_adds(q, "; DROP TABLE IF EXISTS ");
		add_staging(q, fs[i].staging);
	}
	return 0;
}

/* Merges the staging tables of a checked run in one transaction.  Each
 * staging table must give the rows its shard recorded; *short_shard is
 * the index in fs of the first that does not, or -1. */
static int merge_run(PGconn *tconn, const struct cns_job_conf *job,
		     const char *run_id, const struct fin_shard *fs, int n,
		     int64_t total, int64_t *written, int *short_shard,
		     struct cns_error *err)
{
	struct cns_transform *xf = NULL;
	const struct cns_schema *schema;
	struct cns_loader *l = NULL;
	struct cns_load_stats st = { 0, 0, 0 };
	struct cns_buf state;
	char **tables = cns_xcalloc((size_t)n + 1, sizeof(char *));
	int64_t *expect = cns_xcalloc((size_t)n + 1, sizeof(*expect));
	struct cns_staged staged = { (const char *const *)tables, expect, n,
				     -1 };
	int rc = -1;

	cns_buf_init(&state);
	for (int i = 0; i < n; i++) {
		struct cns_buf b;

		cns_buf_init(&b);
		add_staging(&b, fs[i].staging);
		tables[i] = b.data;
		expect[i] = fs[i].has_rows ? fs[i].rows : -1;
	}
	if (merge_state_sql(tconn, job, run_id, fs, n, total, &state, err) <
		    0 ||
	    cns_transform_load(job->transforms, cns_wall_us(), &xf, err) < 0)
		goto out;
	schema = cns_transform_schema(xf);
	if (cns_target_prepare(job, schema, err) < 0)
		goto out;
	l = cns_loader_open(job, schema, "the shards", err);
	if (!l)
		goto out;
	if (job->target.mode == CNS_MODE_REPLACE) {
		/* The shadow first; the swap is the one transaction that
		 * changes the target, with the state in it. */
		if (cns_loader_load_tables(l, &staged, NULL, &st, err) < 0)
			goto out;
		CNS_HOOK("finalize.shadow_loaded");
		if (cns_target_swap_checked(job, schema, state.data, err) < 0)
			goto out;
	} else if (cns_loader_load_tables(l, &staged, state.data, &st, err) <
		   0) {
		goto out;
	}
	CNS_HOOK("finalize.merged");
	*written = st.written;
	rc = 0;
out:
	if (l)
		cns_loader_close(l);
	cns_target_release(job);
	cns_transform_free(xf);
	*short_shard = staged.short_table;
	for (int i = 0; i < n; i++)
		free(tables[i]);
	free(tables);
	free(expect);
	cns_buf_release(&state);
	return rc;
}

/* The merged run in the job's history, where `history` and `status`
 * read it: runs.jsonl and the target's run table, with the rows of each
 * source summed over its shards.  The merge is what counts, so a record
 * that cannot be written fails nothing. */
static void record_run(PGconn *tconn, const struct cns_job_conf *job,
		       const char *run_id, const struct fin_shard *fs, int n,
		       int64_t written)
{
	struct cns_source_stats *st =
		cns_xcalloc((size_t)job->nsources + 1, sizeof(*st));
	struct cns_run_row row;
	struct cns_run_record rec;
	struct cns_runlog *log;
	struct cns_error e2;
	char host[256] = "";
	int64_t now = cns_wall_us();

	gethostname(host, sizeof(host) - 1);
	for (int s = 0; s < job->nsources; s++) {
		st[s].name = job->sources[s].name;
		st[s].state = CNS_SRC_DONE;
		for (int i = 0; i < n; i++)
			if (strcmp(fs[i].source, st[s].name) == 0) {
				st[s].read += fs[i].rows;
				st[s].loaded += fs[i].rows;
			}
	}
	/* The merge's own count, which upsert makes smaller than what was
	 * loaded, goes with the first source. */
	if (job->nsources > 0)
		st[0].written = written;
	cns_error_clear(&e2);
	row = (struct cns_run_row){ .run_id = run_id,
				    .job = job->name,
				    .host = host,
				    .pid = (long)getpid(),
				    .started_us = now };
	if (cns_state_run_begin(tconn, &row, &e2) == 0)
		cns_state_run_end(tconn, run_id,
				  cns_run_status_name(CNS_RUN_OK), 0, "{}", 0,
				  NULL, &e2);
	log = cns_runlog_open(job, run_id, now, &e2);
	if (log) {
		cns_runlog_log(log, CNS_LOG_INFO, "finalize", NULL,
			       "shards merged", CNS_KV_INT("shards", n),
			       CNS_KV_INT("written", written));
		rec = (struct cns_run_record){
			.run_id = run_id,
			.job = job->name,
			.host = host,
			.pid = (long)getpid(),
			.started_us = now,
			.ended_us = cns_wall_us(),
			.status = CNS_RUN_OK,
			.exit_code = 0,
			.nsources = job->nsources,
			.sources = st,
		};
		cns_runlog_finish(log, &rec, &e2);
		cns_runlog_close(log);
	}
	free(st);
}

/* Finalize, the job's lock held by the caller. */
static int finalize_locked(const struct cns_job_conf *job, const char *run_id,
			   atomic_int *stop, int64_t *rows, int *reread,
			   struct cns_error *err)
{
	PGconn *tconn = open_target(job, err);
	struct fin_shard *fs = NULL;
	struct cns_buf q;
	PGresult *res;
	int n = 0, nplanned, rc = -1, redone = 0, bad = -1;
	int64_t total = 0, written = 0;
	bool again;

	if (!tconn)
		return -1;
	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT state, nshards FROM consolidate.shard_runs "
			 "WHERE run_id = ");
	cns_pg_quote_literal(&q, run_id);
	cns_buf_adds(&q, " AND job = ");
	cns_pg_quote_literal(&q, job->name);
	res = cns_pg_exec(tconn, q.data, PGRES_TUPLES_OK, WHAT, err);
	if (!res)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		cns_error_set(err, CNS_E_TARGET,
			      "job \"%s\" has no planned run \"%s\"", job->name,
			      run_id);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "merged") == 0) {
		PQclear(res);
		rc = 0;
		goto out;
	}
	nplanned = atoi(PQgetvalue(res, 0, 1));
	PQclear(res);
check:
	do {
		again = false;
		free(fs);
		fs = NULL;
		if (read_shards(tconn, run_id, &fs, &n, err) < 0)
			goto out;
		if (n != nplanned) {
			cns_error_set(err, CNS_E_INTERNAL,
				      "run \"%s\" plans %d shards but has %d",
				      run_id, nplanned, n);
			goto out;
		}
		for (int i = 0; i < n; i++)
			if (strcmp(fs[i].state, "done") != 0) {
				cns_error_set(err, CNS_E_TARGET,
					      "shard %d of run \"%s\" is not "
					      "done (%s)",
					      fs[i].shard, run_id, fs[i].state);
				cns_error_hint(err,
					       "run the shard, then finalize "
					       "again: consolidate shard %s "
					       "--run %s --shard %d",
					       job->file, run_id, fs[i].shard);
				goto out;
			}
		/* A full load read in more than one snapshot is read again
		 * under one. */
		for (int s = 0; s < job->nsources && !again; s++) {
			const struct cns_source_conf *c = &job->sources[s];
			int count = 0;
			bool mixed = false;

			if (!is_pg(c) || c->incremental.n)
				continue;
			for (int i = 0; i < n; i++) {
				if (strcmp(fs[i].source, c->name) != 0)
					continue;
				count++;
				mixed |= strcmp(fs[i].read_snapshot,
						fs[i].snapshot) != 0;
			}
			if (count > 1 && mixed) {
				if (reread_source(tconn, job, run_id, c, stop,
						  err) < 0)
					goto out;
				if (reread)
					(*reread)++;
				again = true;
			}
		}
	} while (again);
	total = 0;
	for (int i = 0; i < n; i++)
		total += fs[i].has_rows ? fs[i].rows : 0;
	CNS_HOOK("finalize.checked");
	/* Each staging table must give what its shard counted, which the
	 * merge checks as it reads them (a count of its own would scan
	 * them all once more).  Staging is unlogged (written once, read
	 * once: WAL would double the cost of the shards), so a server crash
	 * or a failover empties it while the plan, which is logged, still
	 * says done: the merge then rolls back, that shard is read again
	 * here, and the checks start over (a full load read in two
	 * snapshots is then read again whole). */
	if (merge_run(tconn, job, run_id, fs, n, total, &written, &bad, err) <
	    0) {
		if (bad < 0)
			goto out;
		if (redone >= n) {
			cns_error_set(err, CNS_E_TARGET,
				      "staging table of shard %d of run "
				      "\"%s\" does not hold the %lld rows "
				      "the shard loaded",
				      fs[bad].shard, run_id,
				      (long long)fs[bad].rows);
			goto out;
		}
		redone++;
		cns_error_clear(err);
		cns_buf_reset(&q);
		cns_buf_adds(&q, "UPDATE consolidate.shards SET state "
				 "= 'pending', rows = NULL, "
				 "read_snapshot = NULL WHERE run_id = ");
		cns_pg_quote_literal(&q, run_id);
		cns_buf_printf(&q, " AND shard = %d", fs[bad].shard);
		if (cns_pg_command(tconn, q.data, WHAT, err) < 0 ||
		    shard_run(job, run_id, fs[bad].shard, 1, stop, err) < 0)
			goto out;
		goto check;
	}
	record_run(tconn, job, run_id, fs, n, written);
	if (rows)
		*rows = total;
	rc = 0;
out:
	free(fs);
	cns_buf_release(&q);
	PQfinish(tconn);
	return rc;
}

int cns_shard_finalize(const struct cns_job_conf *job, const char *run_id,
		       int64_t *rows, int *reread, struct cns_error *err)
{
	struct cns_lock lock;
	int rc;

	if (reread)
		*reread = 0;
	if (lock_job(&lock, job, NULL, err) < 0)
		return -1;
	rc = finalize_locked(job, run_id, NULL, rows, reread, err);
	cns_lock_release(&lock);
	/* The run stays unmerged until it is submitted again, which queues
	 * a holder of its own: this one may end.  Best effort, as a holder
	 * left up ends with its time limit. */
	if (rc < 0) {
		struct cns_error e;
		PGconn *tconn;

		cns_error_clear(&e);
		tconn = cns_pg_connect(job->target.conninfo, WHAT, &e);
		if (tconn)
			set_hold(tconn, run_id, "released", "held", &e);
		PQfinish(tconn);
	}
	return rc;
}

/* ---- local workers ---- */

struct workers {
	const struct cns_job_conf *job;
	const char *run_id;
	int nshards;
	int k; /* workers */
	atomic_int *signal_flag;
	pthread_mutex_t mu; /* guards next, go, quit, err, failed */
	pthread_cond_t go_cv;
	int next;      /* next shard to take */
	bool go, quit; /* every thread started / one could not */
	bool failed;
	struct cns_error err; /* the first error */
};

static void *worker_main(void *arg)
{
	struct workers *w = arg;

	pthread_mutex_lock(&w->mu);
	while (!w->go && !w->quit)
		pthread_cond_wait(&w->go_cv, &w->mu);
	for (;;) {
		struct cns_error e;
		int shard;

		if (w->quit || w->failed || w->next >= w->nshards ||
		    (w->signal_flag && atomic_load(w->signal_flag)))
			break;
		shard = w->next++;
		pthread_mutex_unlock(&w->mu);
		cns_error_clear(&e);
		if (shard_run(w->job, w->run_id, shard, w->k, w->signal_flag,
			      &e) < 0) {
			pthread_mutex_lock(&w->mu);
			if (!w->failed) {
				w->failed = true;
				w->err = e;
			}
			continue;
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Runs the shards of a planned run on k threads, started all or none. */
static int run_workers(const struct cns_job_conf *job, const char *run_id,
		       int nshards, int k, atomic_int *signal_flag,
		       struct cns_error *err)
{
	struct workers w;
	pthread_t *tids;
	int started = 0, rc;

	memset(&w, 0, sizeof(w));
	w.job = job;
	w.run_id = run_id;
	w.nshards = nshards;
	w.signal_flag = signal_flag;
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.go_cv, NULL);
	if (k > nshards)
		k = nshards;
	if (k < 1)
		k = 1;
	w.k = k;
	tids = cns_xcalloc((size_t)k, sizeof(*tids));
	for (; started < k; started++) {
		rc = cns_thread_create(&tids[started], worker_main, &w);
		if (rc != 0)
			break;
	}
	pthread_mutex_lock(&w.mu);
	if (started < k)
		w.quit = true;
	else
		w.go = true;
	pthread_cond_broadcast(&w.go_cv);
	pthread_mutex_unlock(&w.mu);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	pthread_cond_destroy(&w.go_cv);
	pthread_mutex_destroy(&w.mu);
	if (started < k)
		return cns_error_set(err, CNS_E_INTERNAL,
				     "could not start %d shard workers", k);
	if (w.failed) {
		*err = w.err;
		return -1;
	}
	if (signal_flag && atomic_load(signal_flag))
		return cns_error_set(err, CNS_E_CANCELLED,
				     "the run was stopped by a signal");
	return 0;
}

int cns_shard_run_local(const struct cns_job_conf *job, int workers,
			atomic_int *signal_flag, char *run_id,
			size_t run_id_size, struct cns_error *err)
{
	struct cns_lock lock;
	int n = 0, rc;

	if (lock_job(&lock, job, signal_flag, err) < 0)
		return -1;
	rc = coordinate_locked(job, true, run_id, run_id_size, &n, err);
	if (rc == 0)
		rc = run_workers(job, run_id, n,
				 workers > 0 ? workers : job->parallel_shards,
				 signal_flag, err);
	if (rc == 0)
		rc = finalize_locked(job, run_id, signal_flag, NULL, NULL, err);
	cns_shard_release(job);
	cns_lock_release(&lock);
	return rc;
}

int cns_shard_wait_merged(const struct cns_job_conf *job, const char *run_id,
			  const atomic_int *stop, struct cns_error *err)
{
	PGconn *tconn = cns_pg_connect(job->target.conninfo, WHAT, err);
	struct cns_buf q;
	int rc = -1;

	if (!tconn)
		return -1;
	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT state = 'merged', hold IS DISTINCT FROM "
			 "'held' FROM consolidate.shard_runs WHERE run_id = ");
	cns_pg_quote_literal(&q, run_id);
	for (;;) {
		struct timespec ts = { 1, 0 };
		PGresult *res =
			cns_pg_exec(tconn, q.data, PGRES_TUPLES_OK, WHAT, err);
		bool merged, released;

		if (!res)
			break;
		merged = PQntuples(res) == 0 ||
			 strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		released = !merged && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		PQclear(res);
		if (merged) {
			rc = 0;
			break;
		}
		if (released) {
			cns_error_set(err, CNS_E_TARGET,
				      "stopped holding the snapshots of run "
				      "\"%s\": finalize failed, or another "
				      "holder was queued",
				      run_id);
			break;
		}
		if (stop && atomic_load(stop)) {
			cns_error_set(err, CNS_E_CANCELLED,
				      "stopped holding the snapshots of run "
				      "\"%s\" before it was merged",
				      run_id);
			break;
		}
		nanosleep(&ts, NULL);
	}
	cns_buf_release(&q);
	PQfinish(tconn);
	return rc;
}
