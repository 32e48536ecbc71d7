/*
 * evolve.c - [schema] against the existing target table: which columns
 * are missing, which the schema widens, which the table keeps wider, and
 * the ALTER TABLE that on_schema_change = evolve runs.  The server spells
 * and resolves every type (aliases, typmods); which changes are safe is
 * the table below, documented in consolidate.conf(5): a widening keeps
 * every stored value as it was, so a failed run can roll it back and a
 * later run loads into it as before.
 */
#include "consolidate/evolve.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/pg.h"

/* Type oids of the built-in types the widening table names; they are
 * fixed in PostgreSQL's catalog (pg_type.dat). */
enum {
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_VARCHAR = 1043,
	OID_TIME = 1083,
	OID_TIMESTAMP = 1114,
	OID_TIMESTAMPTZ = 1184,
	OID_TIMETZ = 1266,
	OID_NUMERIC = 1700
};

static int int_rank(Oid t)
{
	return t == OID_INT2 ? 1 : t == OID_INT4 ? 2 : t == OID_INT8 ? 3 : 0;
}

static bool is_time(Oid t)
{
	return t == OID_TIME || t == OID_TIMETZ || t == OID_TIMESTAMP ||
	       t == OID_TIMESTAMPTZ;
}

/* Fractional digits of a time type; no typmod means the most, 6. */
static int time_precision(int mod)
{
	return mod < 0 ? 6 : mod;
}

/* True when every value of (from, fm) is a value of (to, tm), unchanged,
 * and the two differ. */
static bool widens(Oid from, int fm, Oid to, int tm)
{
	if (int_rank(from) && int_rank(to))
		return int_rank(to) > int_rank(from);
	if (from == OID_FLOAT4 && to == OID_FLOAT8)
		return true;
	if (from == OID_VARCHAR && to == OID_TEXT)
		return true;
	if (from == OID_VARCHAR && to == OID_VARCHAR)
		return fm >= 0 && (tm < 0 || tm > fm);
	if (from == OID_NUMERIC && to == OID_NUMERIC) {
		/* typmod: ((precision << 16) | scale) + 4; none: any. */
		if (fm < 0 || tm < 0)
			return fm >= 0 && tm < 0;
		return ((tm - 4) & 0xffff) == ((fm - 4) & 0xffff) &&
		       ((tm - 4) >> 16) > ((fm - 4) >> 16);
	}
	if (from == to && is_time(from))
		return time_precision(tm) > time_precision(fm);
	return false;
}

static bool same_type(Oid a, int am, Oid b, int bm)
{
	if (a != b)
		return false;
	if (is_time(a))
		return time_precision(am) == time_precision(bm);
	return am == bm;
}

static bool is_key(const struct cns_job_conf *job, const char *col)
{
	for (int i = 0; i < job->target.key.n; i++)
		if (strcmp(job->target.key.items[i], col) == 0)
			return true;
	return false;
}

static struct cns_col_diff *add_diff(struct cns_schema_diff *d, int col,
				     enum cns_col_change kind)
{
	struct cns_col_diff *c;

	d->v = cns_xrealloc(d->v, sizeof(*d->v) * (size_t)(d->n + 1));
	c = &d->v[d->n++];
	memset(c, 0, sizeof(*c));
	c->col = col;
	c->kind = kind;
	return c;
}

/* The schema's types as the server resolves them: the result of
 * SELECT NULL::t1, NULL::t2, ... describes each column's type and
 * typmod without touching a table. */
static PGresult *schema_types(PGconn *conn, const struct cns_schema *s,
			      struct cns_error *err)
{
	struct cns_buf q;
	PGresult *res;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT ");
	for (int i = 0; i < s->ncols; i++)
		cns_buf_printf(&q, "%sNULL::%s", i ? ", " : "",
			       s->cols[i].type_sql);
	cns_buf_adds(&q, " LIMIT 0");
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the target", err);
	cns_buf_release(&q);
	return res;
}

int cns_schema_diff_read(struct pg_conn *conn, const struct cns_job_conf *job,
			 const struct cns_schema *s,
			 const struct cns_qname *table,
			 struct cns_schema_diff *d, struct cns_error *err)
{
	struct cns_buf q, name;
	PGresult *cols, *want;
	int matched = 0;

	memset(d, 0, sizeof(*d));
	if (s->ncols == 0)
		return 0;
	cns_buf_init(&q);
	cns_buf_init(&name);
	cns_pg_quote_qname(&name, table);
	cns_buf_adds(&q, "SELECT attname, atttypid, atttypmod, "
			 "format_type(atttypid, atttypmod) FROM "
			 "pg_catalog.pg_attribute WHERE attrelid = ");
	cns_pg_quote_literal(&q, name.data);
	cns_buf_adds(&q, "::regclass AND attnum > 0 AND NOT attisdropped");
	cols = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the target", err);
	cns_buf_release(&q);
	cns_buf_release(&name);
	if (!cols)
		return -1;
	want = schema_types(conn, s, err);
	if (!want) {
		PQclear(cols);
		return -1;
	}
	for (int i = 0; i < s->ncols; i++) {
		const struct cns_schema_col *sc = &s->cols[i];
		Oid to = PQftype(want, i);
		int tm = PQfmod(want, i);
		struct cns_col_diff *c;
		int r;

		for (r = 0; r < PQntuples(cols); r++)
			if (strcmp(PQgetvalue(cols, r, 0), sc->name) == 0)
				break;
		if (r == PQntuples(cols)) {
			c = add_diff(d, i, CNS_COL_ADD);
			snprintf(c->want, sizeof(c->want), "%s", sc->type_sql);
			if (is_key(job, sc->name)) {
				c->kind = CNS_COL_REFUSED;
				c->why = "a new key column would change the "
					 "table's key";
			}
			continue;
		}
		matched++;
		{
			Oid from =
				(Oid)strtoul(PQgetvalue(cols, r, 1), NULL, 10);
			int fm = atoi(PQgetvalue(cols, r, 2));
			enum cns_col_change kind;

			if (same_type(from, fm, to, tm))
				continue;
			if (widens(from, fm, to, tm))
				kind = CNS_COL_WIDEN;
			else if (widens(to, tm, from, fm))
				kind = CNS_COL_KEPT;
			else
				continue; /* the column's own input decides,
					     as before: the type check */
			c = add_diff(d, i, kind);
			snprintf(c->have, sizeof(c->have), "%s",
				 PQgetvalue(cols, r, 3));
			snprintf(c->want, sizeof(c->want), "%s", sc->type_sql);
		}
	}
	d->nextra = PQntuples(cols) - matched;
	PQclear(want);
	PQclear(cols);
	return 0;
}

int cns_schema_diff_count(const struct cns_schema_diff *d,
			  enum cns_col_change kind)
{
	int n = 0;

	for (int i = 0; i < d->n; i++)
		n += d->v[i].kind == kind;
	return n;
}

bool cns_schema_diff_pending(const struct cns_schema_diff *d)
{
	return cns_schema_diff_count(d, CNS_COL_ADD) +
		       cns_schema_diff_count(d, CNS_COL_WIDEN) >
	       0;
}

void cns_schema_diff_ddl(const struct cns_schema_diff *d,
			 const struct cns_schema *s,
			 const struct cns_qname *table, struct cns_buf *out)
{
	bool first = true;

	for (int i = 0; i < d->n; i++) {
		const struct cns_col_diff *c = &d->v[i];

		if (c->kind != CNS_COL_ADD && c->kind != CNS_COL_WIDEN)
			continue;
		if (first) {
			cns_buf_adds(out, "ALTER TABLE ");
			cns_pg_quote_qname(out, table);
		}
		cns_buf_adds(out, first ? " " : ", ");
		first = false;
		cns_buf_adds(out, c->kind == CNS_COL_ADD ? "ADD COLUMN "
							 : "ALTER COLUMN ");
		cns_pg_quote_ident(out, s->cols[c->col].name);
		cns_buf_adds(out, c->kind == CNS_COL_ADD ? " " : " TYPE ");
		cns_buf_adds(out, s->cols[c->col].type_sql);
		/* A new column takes its [schema] default when that is a
		 * constant, and the rows already in the table get it too;
		 * only then can it be NOT NULL. */
		if (c->kind == CNS_COL_ADD && s->cols[c->col].default_sql) {
			if (s->cols[c->col].not_null)
				cns_buf_adds(out, " NOT NULL");
			cns_buf_printf(out, " DEFAULT CAST(%s AS %s)",
				       s->cols[c->col].default_sql,
				       s->cols[c->col].type_sql);
		}
	}
}

void cns_schema_diff_describe(const struct cns_schema_diff *d,
			      const struct cns_schema *s, const char *indent,
			      struct cns_buf *out)
{
	for (int i = 0; i < d->n; i++) {
		const struct cns_col_diff *c = &d->v[i];
		const char *name = s->cols[c->col].name;

		cns_buf_printf(out, "%scolumn \"%s\" ", indent, name);
		switch (c->kind) {
		case CNS_COL_ADD:
			cns_buf_printf(out, "(%s) is not in the table",
				       c->want);
			break;
		case CNS_COL_WIDEN:
			cns_buf_printf(out,
				       "is %s in the table, %s in "
				       "[schema]: a safe widening",
				       c->have, c->want);
			break;
		case CNS_COL_KEPT:
			cns_buf_printf(out,
				       "is %s in the table, %s in "
				       "[schema]: kept, a column is never "
				       "narrowed",
				       c->have, c->want);
			break;
		case CNS_COL_REFUSED:
			if (c->have[0])
				cns_buf_printf(out,
					       "is %s in the table, %s "
					       "in [schema]: ",
					       c->have, c->want);
			else
				cns_buf_printf(out,
					       "(%s) is not in the "
					       "table: ",
					       c->want);
			cns_buf_printf(out, "refused, %s", c->why);
			break;
		}
		cns_buf_adds(out, "\n");
	}
	if (d->nextra > 0)
		cns_buf_printf(out,
			       "%s%d column%s of the table not in "
			       "[schema]: left as they are\n",
			       indent, d->nextra, d->nextra == 1 ? "" : "s");
}

/* The description as one line, for a message's detail. */
static void describe_line(const struct cns_schema_diff *d,
			  const struct cns_schema *s, struct cns_buf *out)
{
	cns_schema_diff_describe(d, s, "", out);
	for (size_t i = 0; i + 1 < out->len; i++)
		if (out->data[i] == '\n')
			out->data[i] = ';';
	if (out->len && out->data[out->len - 1] == '\n')
		out->data[--out->len] = '\0';
}

int cns_schema_diff_judge(const struct cns_job_conf *job,
			  const struct cns_schema *s,
			  const struct cns_schema_diff *d,
			  struct cns_error *err)
{
	bool evolve = job->target.on_schema_change == CNS_SCHEMA_EVOLVE;
	struct cns_buf b;

	/* Without evolve, a column the table lacks fails the run (every
	 * COPY would); a narrower table column takes what fits, as it
	 * always did, the rest is refused by the server row by row. */
	if (cns_schema_diff_count(d, CNS_COL_REFUSED) == 0 &&
	    (evolve || cns_schema_diff_count(d, CNS_COL_ADD) == 0))
		return 0;
	cns_buf_init(&b);
	describe_line(d, s, &b);
	if (evolve)
		cns_error_set(err, CNS_E_TARGET,
			      "target table \"%s\" cannot evolve to the "
			      "[schema] of \"%s\"",
			      job->target.table, job->transforms);
	else
		cns_error_set(err, CNS_E_TARGET,
			      "target table \"%s\" differs from the [schema] "
			      "of \"%s\"",
			      job->target.table, job->transforms);
	cns_error_detail(err, "%s", b.data);
	cns_buf_reset(&b);
	cns_schema_diff_ddl(d, s, &job->target.qtable, &b);
	if (evolve)
		cns_error_hint(err, "change the table yourself, or the "
				    "[schema]; nothing was changed");
	else if (b.len)
		cns_error_hint(err,
			       "set \"on_schema_change = evolve\" in "
			       "[target] to run: %s",
			       b.data);
	else
		cns_error_hint(err, "change the table yourself, or the "
				    "[schema]; nothing was changed");
	cns_buf_release(&b);
	return -1;
}

void cns_schema_diff_release(struct cns_schema_diff *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

int cns_schema_diff_write(const struct cns_job_conf *job,
			  const struct cns_schema *s, FILE *out,
			  struct cns_error *err)
{
	bool evolve = job->target.on_schema_change == CNS_SCHEMA_EVOLVE;
	bool replace = job->target.mode == CNS_MODE_REPLACE;
	struct cns_schema_diff d = { 0 };
	struct cns_buf q;
	PGconn *conn;
	PGresult *res;
	int rc = -1;

	conn = cns_pg_connect(job->target.conninfo, "the target", err);
	if (!conn)
		return -1;
	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT to_regclass(");
	{
		struct cns_buf name;

		cns_buf_init(&name);
		cns_pg_quote_qname(&name, &job->target.qtable);
		cns_pg_quote_literal(&q, name.data);
		cns_buf_release(&name);
	}
	cns_buf_adds(&q, ") IS NOT NULL");
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the target", err);
	if (!res)
		goto out;
	rc = 0;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		goto out; /* the table is created from [schema] */
	}
	PQclear(res);
	rc = cns_schema_diff_read(conn, job, s, &job->target.qtable, &d, err);
	if (rc < 0 || (d.n == 0 && d.nextra == 0))
		goto out;
	cns_buf_reset(&q);
	cns_schema_diff_describe(&d, s, "  ", &q);
	fprintf(out,
		"[target] table \"%s\" and [schema] differ "
		"(on_schema_change = %s):\n%s",
		job->target.table, evolve ? "evolve" : "fail", q.data);
	cns_buf_reset(&q);
	cns_schema_diff_ddl(&d, s, &job->target.qtable, &q);
	if (q.len == 0)
		goto out;
	if (!evolve && cns_schema_diff_count(&d, CNS_COL_ADD))
		fprintf(out, "  a run fails; with on_schema_change = evolve "
			     "it would execute:\n");
	else if (!evolve)
		fprintf(out, "  a run loads into the table as it is; with "
			     "on_schema_change = evolve it would execute:\n");
	else if (cns_schema_diff_count(&d, CNS_COL_REFUSED))
		fprintf(out, "  a run fails (a change is refused); without "
			     "it a run would execute:\n");
	else if (replace)
		fprintf(out, "  a run executes, in the swap's transaction "
			     "(and on its shadow table first):\n");
	else
		fprintf(out, "  a run executes, in the transaction of its "
			     "first chunk:\n");
	fprintf(out, "    %s;\n", q.data);
out:
	cns_schema_diff_release(&d);
	cns_buf_release(&q);
	PQfinish(conn);
	return rc;
}
