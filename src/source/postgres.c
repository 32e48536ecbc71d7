/*
 * postgres.c - the postgres source driver.
 *
 * Extraction is one `COPY (SELECT ...) TO STDOUT` per run: the server
 * streams rows in its text format and we parse them straight into the
 * chunk, so no result set is ever held in memory.  Watermarks (incremental
 * runs) become a row comparison `(cols) > (values)` with an ORDER BY, as
 * literals, since COPY takes no parameters.
 */
#include "consolidate/pg.h"
#include "consolidate/source.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pg_source {
	PGconn *conn;
	PGcancel *cancel; /* created once, usable from another thread */
	char what[160];   /* "source \"erp\"" for messages */
	struct cns_buf sql;
	struct cns_buf plan;
	bool copying;
	bool done;
	/* Rows as libpq returned them, kept until the chunk that points into
	 * them is reset: most fields need no copy at all. */
	char **held;
	int nheld, capheld;
};

static void release_held(struct pg_source *pg)
{
	for (int i = 0; i < pg->nheld; i++)
		PQfreemem(pg->held[i]);
	pg->nheld = 0;
}

static struct pg_source *impl(struct cns_source *src)
{
	return src->impl;
}

/* The driver state exists from the first call on, so that `plan` can
 * show the SQL without connecting. */
static struct pg_source *pg_state(struct cns_source *src)
{
	struct pg_source *pg = src->impl;

	if (pg)
		return pg;
	pg = cns_xcalloc(1, sizeof(*pg));
	src->impl = pg;
	snprintf(pg->what, sizeof(pg->what), "source \"%s\"", src->conf->name);
	cns_buf_init(&pg->sql);
	cns_buf_init(&pg->plan);
	return pg;
}

static int pg_open(struct cns_source *src, struct cns_error *err)
{
	struct pg_source *pg = pg_state(src);

	pg->conn = cns_pg_connect(src->conf->conninfo, pg->what, err);
	if (!pg->conn) {
		cns_error_in_source(err, src->conf->name);
		return -1;
	}
	pg->cancel = PQgetCancel(pg->conn);
	if (src->job->statement_timeout_ms > 0) {
		char set[80];

		snprintf(set, sizeof(set), "SET statement_timeout = %lld",
			 (long long)src->job->statement_timeout_ms);
		if (cns_pg_command(pg->conn, set, pg->what, err) < 0)
			return -1;
	}
	if (src->conf->snapshot) {
		/* A shard of a sharded run: every statement of the source
		 * sees the coordinator's snapshot, as its sibling shards do;
		 * when it cannot be imported the shard fails rather than
		 * read another one. */
		struct cns_buf q;
		int rc;

		cns_buf_init(&q);
		cns_buf_adds(&q, "BEGIN ISOLATION LEVEL REPEATABLE READ "
				 "READ ONLY; SET TRANSACTION SNAPSHOT ");
		cns_pg_quote_literal(&q, src->conf->snapshot);
		rc = cns_pg_command(pg->conn, q.data, pg->what, err);
		cns_buf_release(&q);
		if (rc < 0) {
			cns_error_in_source(err, src->conf->name);
			return -1;
		}
	}
	return 0;
}

/* The columns that order an incremental extraction: those the run set,
 * else the configured incremental columns. */
static int inc_columns(const struct cns_source *src, const char *const **cols)
{
	if (src->ninc > 0) {
		*cols = src->inc_cols;
		return src->ninc;
	}
	*cols = (const char *const *)src->conf->incremental.items;
	return src->conf->incremental.n;
}

static void add_ident_list(struct cns_buf *b, const char *const *names, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			cns_buf_adds(b, ", ");
		cns_pg_quote_ident(b, names[i]);
	}
}

/* The watermark predicate: rows after the last one loaded, compared as a
 * tuple, or with lookback the rows of a window before it. */
static void add_watermark(struct cns_buf *b, const struct cns_source *src,
			  const char *const *cols, int n)
{
	const struct cns_source_conf *c = src->conf;

	if (src->lookback_ms > 0 && src->watermark[0]) {
		const char *type = NULL;

		for (int i = 0; i < src->ncols && src->coltypes; i++)
			if (strcmp(src->colnames[i], cols[0]) == 0)
				type = src->coltypes[i];
		cns_pg_quote_ident(b, cols[0]);
		cns_buf_adds(b, " > ");
		cns_pg_quote_literal(b, src->watermark[0]);
		cns_buf_printf(b, "::%s - interval '%lld milliseconds'",
			       type ? type : "timestamptz",
			       (long long)src->lookback_ms);
		return;
	}
	cns_buf_adds(b, "(");
	add_ident_list(b, cols, n);
	cns_buf_adds(b, ") > (");
	for (int i = 0; i < src->nwatermark; i++) {
		if (i)
			cns_buf_adds(b, ", ");
		if (src->watermark[i])
			cns_pg_quote_literal(b, src->watermark[i]);
		else
			cns_buf_adds(b, "NULL");
	}
	cns_buf_adds(b, ")");
	(void)c;
}

/* Builds the SELECT for this source into pg->sql. */
static void build_select(struct cns_source *src, struct pg_source *pg)
{
	const struct cns_source_conf *c = src->conf;
	struct cns_buf *b = &pg->sql;
	const char *const *inc;
	int ninc = inc_columns(src, &inc);
	int nincremental = c->incremental.n;
	bool has_where = false;

	cns_buf_reset(b);
	if (c->query) {
		/* A full query is wrapped so that the watermark can still be
		 * applied to its output columns; a trailing semicolon, natural
		 * at the end of a query, would end the wrapper too. */
		size_t n = strlen(c->query);

		while (n && (c->query[n - 1] == ';' ||
			     isspace((unsigned char)c->query[n - 1])))
			n--;
		cns_buf_printf(b, "SELECT * FROM (%.*s) AS q", (int)n,
			       c->query);
	} else {
		cns_buf_adds(b, "SELECT ");
		if (c->columns.n == 0)
			cns_buf_adds(b, "*");
		add_ident_list(b, (const char *const *)c->columns.items,
			       c->columns.n);
		cns_buf_adds(b, " FROM ");
		cns_pg_quote_qname(b, &c->qtable);
		if (c->where) {
			cns_buf_printf(b, " WHERE (%s)", c->where);
			has_where = true;
		}
	}
	if (ninc > 0 && (c->null_incremental == CNS_NULLINC_SKIP ||
			 (src->nwatermark > 0 &&
			  c->null_incremental != CNS_NULLINC_ERROR))) {
		/* NULL never compares greater, so after the first run rows
		 * with a NULL incremental column are never read again;
		 * `skip` leaves them out from the start. */
		for (int i = 0; i < nincremental; i++) {
			cns_buf_adds(b, has_where ? " AND " : " WHERE ");
			has_where = true;
			cns_pg_quote_ident(b, inc[i]);
			cns_buf_adds(b, " IS NOT NULL");
		}
	}
	if (ninc > 0 && src->nwatermark == ninc) {
		cns_buf_adds(b, has_where ? " AND " : " WHERE ");
		if (c->null_incremental == CNS_NULLINC_ERROR) {
			/* NULL never compares greater: to fail on a NULL that
			 * appears after the first run, such rows must be
			 * read. */
			cns_buf_adds(b, "(");
			add_watermark(b, src, inc, ninc);
			for (int i = 0; i < nincremental; i++) {
				cns_buf_adds(b, " OR ");
				cns_pg_quote_ident(b, inc[i]);
				cns_buf_adds(b, " IS NULL");
			}
			cns_buf_adds(b, ")");
		} else {
			add_watermark(b, src, inc, ninc);
		}
	}
	if (ninc > 0 && src->range_from) {
		/* A backfill's window: the server casts the two literals to
		 * the column's type, and says so when one does not fit. */
		cns_buf_adds(b, has_where ? " AND " : " WHERE ");
		cns_pg_quote_ident(b, inc[0]);
		cns_buf_adds(b, " BETWEEN ");
		cns_pg_quote_literal(b, src->range_from);
		cns_buf_adds(b, " AND ");
		cns_pg_quote_literal(b, src->range_to);
	}
	if (ninc > 0) {
		cns_buf_adds(b, " ORDER BY ");
		add_ident_list(b, inc, ninc);
	}
}

/* Finds the primary key of the source table, a default tie-breaker for
 * incremental extraction. */
static void find_pkey(struct cns_source *src, struct pg_source *pg)
{
	struct cns_buf q, rel;
	PGresult *res;

	if (!src->conf->table)
		return;
	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
			 " ON a.attrelid = i.indrelid AND a.attnum = ANY "
			 "(i.indkey) WHERE i.indisprimary AND i.indrelid = ");
	/* The relation the SELECT reads: its name quoted the same way, so
	 * that a mixed-case or keyword name finds its own key. */
	cns_buf_init(&rel);
	cns_pg_quote_qname(&rel, &src->conf->qtable);
	cns_pg_quote_literal(&q, rel.data);
	cns_buf_release(&rel);
	cns_buf_adds(&q, "::regclass ORDER BY array_position(i.indkey, "
			 "a.attnum)");
	res = cns_pq_exec(pg->conn, q.data);
	cns_buf_release(&q);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
		src->npkey = PQntuples(res);
		src->pkey = cns_arena_zalloc(
			&src->arena, sizeof(char *) * (size_t)src->npkey);
		for (int i = 0; i < src->npkey; i++)
			src->pkey[i] = cns_arena_strdup(&src->arena,
							PQgetvalue(res, i, 0));
	}
	PQclear(res);
}

static int pg_describe(struct cns_source *src, struct cns_error *err)
{
	struct pg_source *pg = impl(src);
	PGresult *res;
	int n;

	build_select(src, pg);
	/* Describing a prepared statement gives the columns without running
	 * the query: `check` touches no data. */
	res = PQprepare(pg->conn, "", pg->sql.data, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		cns_pg_error(pg->conn, res, CNS_E_SOURCE, pg->what,
			     "preparing the extraction query", err);
		cns_error_in_source(err, src->conf->name);
		cns_error_hint(err, "the query was: %.400s", pg->sql.data);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	res = PQdescribePrepared(pg->conn, "");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		cns_pg_error(pg->conn, res, CNS_E_SOURCE, pg->what,
			     "describing the extraction query", err);
		PQclear(res);
		return -1;
	}
	n = PQnfields(res);
	src->ncols = n;
	src->colnames =
		cns_arena_zalloc(&src->arena, sizeof(char *) * (size_t)(n + 1));
	src->coltypes =
		cns_arena_zalloc(&src->arena, sizeof(char *) * (size_t)(n + 1));
	for (int i = 0; i < n; i++) {
		src->colnames[i] =
			cns_arena_strdup(&src->arena, PQfname(res, i));
		src->coltypes[i] = cns_arena_printf(
			&src->arena, "%u:%d", PQftype(res, i), PQfmod(res, i));
	}
	PQclear(res);
	/* Turn type oids into names in one round trip. */
	for (int i = 0; i < n; i++) {
		char q[128];
		unsigned oid;
		int mod;

		if (sscanf(src->coltypes[i], "%u:%d", &oid, &mod) != 2)
			continue;
		snprintf(q, sizeof(q), "SELECT format_type(%u, %d)", oid, mod);
		res = cns_pq_exec(pg->conn, q);
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res))
			src->coltypes[i] = cns_arena_strdup(
				&src->arena, PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	find_pkey(src, pg);
	src->pg_exact_types = true;
	return 0;
}

static int start_copy(struct cns_source *src, struct pg_source *pg,
		      struct cns_error *err)
{
	struct cns_buf copy;
	PGresult *res;

	build_select(src, pg);
	cns_buf_init(&copy);
	cns_buf_printf(&copy, "COPY (%s) TO STDOUT", pg->sql.data);
	res = cns_pq_exec(pg->conn, copy.data);
	cns_buf_release(&copy);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		cns_pg_error(pg->conn, res, CNS_E_SOURCE, pg->what,
			     "starting the extraction", err);
		cns_error_in_source(err, src->conf->name);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	pg->copying = true;
	return 0;
}

/* Collects the final result of the COPY; returns 0 when it succeeded. */
static int finish_copy(struct cns_source *src, struct pg_source *pg,
		       struct cns_error *err)
{
	PGresult *res;
	int rc = 0;

	pg->copying = false;
	pg->done = true;
	while ((res = PQgetResult(pg->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
			if (src->cancelled)
				cns_error_set(err, CNS_E_CANCELLED,
					      "%s: extraction was cancelled",
					      pg->what);
			else
				cns_pg_error(pg->conn, res, CNS_E_SOURCE,
					     pg->what, "extracting rows", err);
			cns_error_in_source(err, src->conf->name);
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

static int pg_next_chunk(struct cns_source *src, struct cns_chunk *chunk,
			 struct cns_error *err)
{
	struct pg_source *pg = impl(src);

	/* The caller reset the chunk: the rows it pointed into can go. */
	release_held(pg);
	if (pg->done)
		return 0;
	if (!pg->copying && start_copy(src, pg, err) < 0)
		return -1;
	while (!cns_chunk_full(chunk)) {
		char *line = NULL;
		int len = PQgetCopyData(pg->conn, &line, 0);
		int row, nf;

		if (len == -1)
			return finish_copy(src, pg, err) < 0 ? -1
							     : chunk->nrows > 0;
		if (len < 0) {
			cns_pg_error(pg->conn, NULL, CNS_E_SOURCE, pg->what,
				     "extracting rows", err);
			cns_error_in_source(err, src->conf->name);
			return -1;
		}
		src->rows_read++;
		src->bytes_read += len;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		row = cns_chunk_add_row(chunk, src->rows_read, NULL);
		nf = cns_pg_copy_parse_row(chunk, row, line, (size_t)len, true);
		if (pg->nheld == pg->capheld) {
			pg->capheld = pg->capheld ? pg->capheld * 2 : 1024;
			pg->held = cns_xrealloc(
				pg->held, sizeof(char *) * (size_t)pg->capheld);
		}
		pg->held[pg->nheld++] = line;
		if (nf != chunk->ncols) {
			cns_error_set(err, CNS_E_INTERNAL,
				      "%s: row %lld has %d fields, expected %d",
				      pg->what, (long long)src->rows_read, nf,
				      chunk->ncols);
			return -1;
		}
	}
	return 1;
}

static void pg_cancel(struct cns_source *src)
{
	struct pg_source *pg = impl(src);
	char errbuf[256];

	src->cancelled = 1;
	if (pg && pg->cancel)
		PQcancel(pg->cancel, errbuf, sizeof(errbuf));
}

static void pg_close(struct cns_source *src)
{
	struct pg_source *pg = impl(src);

	if (!pg)
		return;
	release_held(pg);
	free(pg->held);
	if (pg->cancel)
		PQfreeCancel(pg->cancel);
	if (pg->conn)
		PQfinish(pg->conn);
	cns_buf_release(&pg->sql);
	cns_buf_release(&pg->plan);
	free(pg);
	src->impl = NULL;
}

static const char *pg_describe_plan(struct cns_source *src)
{
	struct pg_source *pg = pg_state(src);

	build_select(src, pg);
	cns_buf_reset(&pg->plan);
	cns_buf_printf(&pg->plan, "COPY (%s) TO STDOUT", pg->sql.data);
	return pg->plan.data;
}

static int pg_count_rows(struct cns_source *src, int64_t *n,
			 struct cns_error *err)
{
	struct pg_source *pg = pg_state(src);
	struct cns_buf q;
	PGresult *res;

	build_select(src, pg);
	cns_buf_init(&q);
	cns_buf_printf(&q, "SELECT count(*) FROM (%s) AS c", pg->sql.data);
	res = cns_pq_exec(pg->conn, q.data);
	cns_buf_release(&q);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		cns_pg_error(pg->conn, res, CNS_E_SOURCE, pg->what,
			     "counting the rows to extract", err);
		cns_error_in_source(err, src->conf->name);
		PQclear(res);
		return -1;
	}
	*n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

const struct cns_source_ops cns_source_postgres_ops = {
	.name = "postgres",
	.open = pg_open,
	.describe = pg_describe,
	.next_chunk = pg_next_chunk,
	.cancel = pg_cancel,
	.close = pg_close,
	.describe_plan = pg_describe_plan,
	.count_rows = pg_count_rows,
};
