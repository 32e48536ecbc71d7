/*
 * deletes.c - rows deleted at the source (deletes = soft | hard): the
 * run's seen-keys tables, filled chunk by chunk, and the last transaction
 * that marks or removes the target rows of a source that a complete full
 * read did not bring.  See deletes.h for why it is built this way.
 */
#include "consolidate/deletes.h"

#include <stdlib.h>
#include <string.h>

#include "consolidate/pg.h"
#include "consolidate/testhook.h"

#define WHAT "the target (deletes)"
/* The COMMENT that marks a seen-keys table as a job's: only such tables
 * are dropped as leftovers. */
#define SEEN_MARK "consolidate seen keys of job "

bool cns_deletes_source(const struct cns_job_conf *job, int i,
			const char *only_source)
{
	const struct cns_source_conf *sc = &job->sources[i];

	return sc->deletes != CNS_DELETES_IGNORE &&
	       job->target.mode == CNS_MODE_UPSERT && sc->incremental.n == 0 &&
	       job->target.key.n > 0 &&
	       (!only_source || !strcmp(only_source, sc->name));
}

bool cns_deletes_any(const struct cns_job_conf *job, const char *only_source)
{
	for (int i = 0; i < job->nsources; i++)
		if (cns_deletes_source(job, i, only_source))
			return true;
	return false;
}

static void add_seen(struct cns_buf *b, const char *run_id, int i)
{
	char name[128];

	snprintf(name, sizeof(name), "cns_seen_%s_%d", run_id, i);
	cns_buf_adds(b, "consolidate.");
	cns_pg_quote_ident(b, name);
}

static void add_source_key(struct cns_buf *b, const struct cns_source_conf *sc)
{
	/* In parentheses: an OR in the condition must not escape it. */
	cns_buf_adds(b, "(");
	cns_buf_adds(b, sc->source_key ? sc->source_key : "true");
	cns_buf_adds(b, ")");
}

/* "NOT EXISTS (SELECT FROM seen s WHERE s.k = t.k ...)": the rows of the
 * target `t` that the run did not read. */
static void add_seen_test(struct cns_buf *b, const struct cns_job_conf *job,
			  const char *run_id, int i, bool exists)
{
	cns_buf_adds(b, exists ? "EXISTS (SELECT FROM "
			       : "NOT EXISTS (SELECT FROM ");
	add_seen(b, run_id, i);
	cns_buf_adds(b, " s WHERE ");
	for (int k = 0; k < job->target.key.n; k++) {
		if (k)
			cns_buf_adds(b, " AND ");
		cns_buf_adds(b, "s.");
		cns_pg_quote_ident(b, job->target.key.items[k]);
		cns_buf_adds(b, " = t.");
		cns_pg_quote_ident(b, job->target.key.items[k]);
	}
	cns_buf_adds(b, ")");
}

static void add_target(struct cns_buf *b, const struct cns_job_conf *job)
{
	cns_pg_quote_qname(b, &job->target.qtable);
	cns_buf_adds(b, " AS t");
}

/* The rows of source i still counted as live: its source_key, and for
 * soft deletes not marked yet. */
static void add_live(struct cns_buf *b, const struct cns_source_conf *sc)
{
	add_source_key(b, sc);
	if (sc->deletes == CNS_DELETES_SOFT)
		cns_buf_adds(b, " AND t." CNS_DELETED_AT " IS NULL");
}

static void count_sql(struct cns_buf *b, const struct cns_job_conf *job,
		      const char *run_id, int i)
{
	cns_buf_adds(b, "SELECT count(*) FILTER (WHERE ");
	add_seen_test(b, job, run_id, i, false);
	cns_buf_adds(b, "), count(*) FROM ");
	add_target(b, job);
	cns_buf_adds(b, " WHERE ");
	add_live(b, &job->sources[i]);
}

/* The statement that deletes or marks; for soft also the one that
 * clears the mark of rows that came back. */
static void delete_sql(struct cns_buf *b, const struct cns_job_conf *job,
		       const char *run_id, int i)
{
	const struct cns_source_conf *sc = &job->sources[i];

	if (sc->deletes == CNS_DELETES_HARD) {
		cns_buf_adds(b, "DELETE FROM ");
		add_target(b, job);
	} else {
		cns_buf_adds(b, "UPDATE ");
		add_target(b, job);
		cns_buf_adds(b, " SET " CNS_DELETED_AT " = now()");
	}
	cns_buf_adds(b, " WHERE ");
	add_live(b, sc);
	cns_buf_adds(b, " AND ");
	add_seen_test(b, job, run_id, i, false);
}

static void undelete_sql(struct cns_buf *b, const struct cns_job_conf *job,
			 const char *run_id, int i)
{
	cns_buf_adds(b, "UPDATE ");
	add_target(b, job);
	cns_buf_adds(b, " SET " CNS_DELETED_AT " = NULL WHERE t." CNS_DELETED_AT
			" IS NOT NULL AND ");
	add_source_key(b, &job->sources[i]);
	cns_buf_adds(b, " AND ");
	add_seen_test(b, job, run_id, i, true);
}

void cns_deletes_describe(const struct cns_job_conf *job, int i,
			  struct cns_buf *out)
{
	const struct cns_source_conf *sc = &job->sources[i];

	if (sc->deletes == CNS_DELETES_SOFT) {
		cns_buf_adds(out, "ALTER TABLE ");
		cns_pg_quote_qname(out, &job->target.qtable);
		cns_buf_adds(out, " ADD COLUMN " CNS_DELETED_AT
				  " timestamptz  -- when missing\n");
	}
	count_sql(out, job, "RUN", i);
	cns_buf_adds(out, "\n");
	delete_sql(out, job, "RUN", i);
	cns_buf_adds(out, "\n");
	if (sc->deletes == CNS_DELETES_SOFT) {
		undelete_sql(out, job, "RUN", i);
		cns_buf_adds(out, "\n");
	}
}

/* Drops the seen-keys tables of the job's runs other than keep_run_id
 * (NULL: all of them). */
static int drop_seen(PGconn *conn, const struct cns_job_conf *job,
		     const char *keep_run_id, struct cns_error *err)
{
	struct cns_buf q, mark;
	PGresult *res;
	int rc = 0;

	cns_buf_init(&q);
	cns_buf_init(&mark);
	cns_buf_printf(&mark, SEEN_MARK "%s", job->name);
	cns_buf_adds(&q, "SELECT c.relname FROM pg_class c JOIN pg_namespace n"
			 " ON n.oid = c.relnamespace WHERE n.nspname = "
			 "'consolidate' AND c.relkind = 'r' AND c.relname "
			 "LIKE 'cns\\_seen\\_%' AND obj_description(c.oid, "
			 "'pg_class') = ");
	cns_pg_quote_literal(&q, mark.data);
	if (keep_run_id) {
		cns_buf_adds(&q, " AND c.relname NOT LIKE ");
		cns_buf_reset(&mark);
		cns_buf_printf(&mark, "cns\\_seen\\_%s\\_%%", keep_run_id);
		cns_pg_quote_literal(&q, mark.data);
	}
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, WHAT, err);
	cns_buf_reset(&q);
	if (!res) {
		rc = -1;
		goto out;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		cns_buf_adds(&q, "DROP TABLE IF EXISTS consolidate.");
		cns_pg_quote_ident(&q, PQgetvalue(res, r, 0));
		cns_buf_adds(&q, ";");
	}
	PQclear(res);
	if (q.len)
		rc = cns_pg_command(conn, q.data, WHAT, err);
out:
	cns_buf_release(&q);
	cns_buf_release(&mark);
	return rc;
}

int cns_deletes_begin(PGconn *conn, const struct cns_job_conf *job,
		      const char *run_id, const struct cns_schema *schema,
		      const char *only_source, struct cns_error *err)
{
	struct cns_buf q;
	int rc;

	/* The job's lock is held: no other run of it is using one. */
	if (drop_seen(conn, job, NULL, err) < 0)
		return -1;
	if (!cns_deletes_any(job, only_source))
		return 0;
	cns_buf_init(&q);
	for (int i = 0; i < job->nsources; i++) {
		const struct cns_source_conf *sc = &job->sources[i];

		if (!cns_deletes_source(job, i, only_source))
			continue;
		for (int c = 0;
		     sc->deletes == CNS_DELETES_SOFT && c < schema->ncols; c++)
			if (!strcmp(schema->cols[c].name, CNS_DELETED_AT)) {
				cns_buf_release(&q);
				cns_error_set(err, CNS_E_CONFIG,
					      "source \"%s\" has deletes = "
					      "soft, but the transform's "
					      "[schema] has a column \"%s\" "
					      "of its own",
					      sc->name, CNS_DELETED_AT);
				cns_error_hint(err, "the run sets and clears "
						    "deleted_at itself: remove "
						    "it from [schema]");
				return -1;
			}
		/* Typed as the schema types the keys, so the keys compare
		 * with the target's as the loader's merge does. */
		cns_buf_adds(&q, "CREATE TABLE ");
		add_seen(&q, run_id, i);
		cns_buf_adds(&q, " (");
		for (int k = 0; k < job->target.key.n; k++) {
			const char *type = "text";

			for (int c = 0; c < schema->ncols; c++)
				if (!strcmp(schema->cols[c].name,
					    job->target.key.items[k]))
					type = schema->cols[c].type_sql;
			if (k)
				cns_buf_adds(&q, ", ");
			cns_pg_quote_ident(&q, job->target.key.items[k]);
			cns_buf_printf(&q, " %s", type);
		}
		cns_buf_adds(&q, "); COMMENT ON TABLE ");
		add_seen(&q, run_id, i);
		cns_buf_adds(&q, " IS ");
		{
			struct cns_buf mark;

			cns_buf_init(&mark);
			cns_buf_printf(&mark, SEEN_MARK "%s", job->name);
			cns_pg_quote_literal(&q, mark.data);
			cns_buf_release(&mark);
		}
		cns_buf_adds(&q, ";");
	}
	rc = cns_pg_command(conn, q.data, WHAT, err);
	cns_buf_release(&q);
	return rc;
}

/* A cell as an SQL string literal (standard_conforming_strings, the
 * default since PostgreSQL 9.1: a backslash is itself). */
static void add_cell_literal(struct cns_buf *b, const struct cns_cell *c)
{
	if (c->null || !c->data) {
		cns_buf_adds(b, "NULL");
		return;
	}
	cns_buf_addc(b, '\'');
	for (uint32_t k = 0; k < c->len; k++) {
		if (c->data[k] == '\'')
			cns_buf_addc(b, '\'');
		cns_buf_addc(b, c->data[k]);
	}
	cns_buf_addc(b, '\'');
}

char *cns_deletes_seen_sql(const struct cns_job_conf *job, int i,
			   const char *run_id, const struct cns_schema *schema,
			   const struct cns_chunk *out)
{
	int idx[CNS_MAX_ORDER_COLUMNS];
	int nkey = job->target.key.n;
	struct cns_buf q;

	if (out->nrows == 0 || nkey > CNS_MAX_ORDER_COLUMNS)
		return NULL;
	for (int k = 0; k < nkey; k++) {
		idx[k] = -1;
		for (int c = 0; c < schema->ncols; c++)
			if (!strcmp(schema->cols[c].name,
				    job->target.key.items[k]))
				idx[k] = c;
	}
	cns_buf_init(&q);
	cns_buf_adds(&q, "INSERT INTO ");
	add_seen(&q, run_id, i);
	cns_buf_adds(&q, " VALUES ");
	for (int r = 0; r < out->nrows; r++) {
		const struct cns_cell *row = cns_chunk_row(out, r);

		cns_buf_adds(&q, r ? ",(" : "(");
		for (int k = 0; k < nkey; k++) {
			static const struct cns_cell null = { .null = true };

			if (k)
				cns_buf_addc(&q, ',');
			add_cell_literal(&q, idx[k] < 0 ? &null : &row[idx[k]]);
		}
		cns_buf_addc(&q, ')');
	}
	return q.data;
}

/* Whether the target has the deleted_at column. */
static int has_deleted_at(PGconn *conn, const struct cns_job_conf *job,
			  struct cns_error *err)
{
	struct cns_buf q, name;
	PGresult *res;
	int rc;

	cns_buf_init(&q);
	cns_buf_init(&name);
	cns_pg_quote_qname(&name, &job->target.qtable);
	cns_buf_adds(&q, "SELECT count(*) FROM pg_attribute WHERE attrelid = ");
	cns_pg_quote_literal(&q, name.data);
	cns_buf_adds(&q, "::regclass AND attname = '" CNS_DELETED_AT
			 "' AND NOT attisdropped");
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, WHAT, err);
	cns_buf_release(&q);
	cns_buf_release(&name);
	if (!res)
		return -1;
	rc = atoi(PQgetvalue(res, 0, 0)) > 0;
	PQclear(res);
	return rc;
}

/* The guard: whether deleting `gone` of `live` rows passes max_deletes. */
static bool within_guard(const struct cns_source_conf *sc, int64_t gone,
			 int64_t live)
{
	if (gone == 0)
		return true;
	if (sc->max_deletes_pct)
		return (double)gone <= sc->max_deletes * (double)live;
	return (double)gone <= sc->max_deletes;
}

static int apply_one(PGconn *conn, const struct cns_job_conf *job,
		     const char *run_id, int i, struct cns_runlog *log,
		     int64_t *deleted, struct cns_error *err)
{
	const struct cns_source_conf *sc = &job->sources[i];
	struct cns_buf q;
	PGresult *res;
	int64_t gone, live;

	cns_buf_init(&q);
	if (sc->deletes == CNS_DELETES_SOFT) {
		int has = has_deleted_at(conn, job, err);

		if (has < 0)
			goto fail;
		if (!has) {
			cns_buf_adds(&q, "ALTER TABLE ");
			cns_pg_quote_qname(&q, &job->target.qtable);
			cns_buf_adds(&q, " ADD COLUMN " CNS_DELETED_AT
					 " timestamptz");
			if (cns_pg_command(conn, q.data, WHAT, err) < 0)
				goto fail;
			cns_runlog_log(log, CNS_LOG_INFO, "deletes", sc->name,
				       "column " CNS_DELETED_AT
				       " added to the target");
			cns_buf_reset(&q);
		}
	}
	count_sql(&q, job, run_id, i);
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, WHAT, err);
	if (!res)
		goto fail;
	gone = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	live = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	if (!within_guard(sc, gone, live)) {
		cns_buf_release(&q);
		cns_error_set(err, CNS_E_SOURCE,
			      "source \"%s\": %lld of its %lld rows in the "
			      "target were not read, more than max_deletes = "
			      "%s: nothing was deleted",
			      sc->name, (long long)gone, (long long)live,
			      sc->max_deletes_text);
		cns_error_hint(err, "if the source did lose those rows, "
				    "raise max_deletes for one run; the rows "
				    "read were loaded");
		return -1;
	}
	cns_buf_reset(&q);
	delete_sql(&q, job, run_id, i);
	if (sc->deletes == CNS_DELETES_SOFT) {
		cns_buf_adds(&q, ";");
		undelete_sql(&q, job, run_id, i);
	}
	res = cns_pg_exec(conn, q.data, PGRES_COMMAND_OK, WHAT, err);
	if (!res)
		goto fail;
	PQclear(res);
	cns_buf_release(&q);
	deleted[i] = gone;
	cns_runlog_log(log, CNS_LOG_INFO, "deletes", sc->name,
		       sc->deletes == CNS_DELETES_SOFT ? "marked deleted"
						       : "deleted",
		       CNS_KV_INT("rows", gone), CNS_KV_INT("of", live));
	return 0;
fail:
	cns_buf_release(&q);
	return -1;
}

/* The statements that drop the run's seen-keys tables. */
static void add_drops(struct cns_buf *q, const struct cns_job_conf *job,
		      const char *run_id, const char *only_source)
{
	for (int i = 0; i < job->nsources; i++) {
		if (!cns_deletes_source(job, i, only_source))
			continue;
		cns_buf_adds(q, "DROP TABLE IF EXISTS ");
		add_seen(q, run_id, i);
		cns_buf_adds(q, ";");
	}
}

int cns_deletes_apply(PGconn *conn, const struct cns_job_conf *job,
		      const char *run_id, const char *only_source,
		      const struct cns_source_stats *stats,
		      const char *lock_check, struct cns_runlog *log,
		      int64_t *deleted, struct cns_error *err)
{
	struct cns_buf q;
	int rc = -1;

	if (!cns_deletes_any(job, only_source))
		return 0;
	if (cns_pg_command(conn, "BEGIN", WHAT, err) < 0)
		return -1;
	if (lock_check && *lock_check) {
		PGresult *res = cns_pg_exec(conn, lock_check, PGRES_TUPLES_OK,
					    WHAT, err);

		if (!res)
			goto rollback;
		PQclear(res);
	}
	for (int i = 0; i < job->nsources; i++) {
		if (!cns_deletes_source(job, i, only_source) ||
		    stats[i].state != CNS_SRC_DONE)
			continue;
		if (stats[i].rejected > 0) {
			cns_runlog_log(log, CNS_LOG_WARN, "deletes",
				       job->sources[i].name,
				       "no deletes this run: rows were "
				       "rejected, and the target rows they "
				       "stand for would be deleted wrongly",
				       CNS_KV_INT("rejected",
						  stats[i].rejected));
			continue;
		}
		if (apply_one(conn, job, run_id, i, log, deleted, err) < 0)
			goto rollback;
	}
	CNS_HOOK("deletes.before_commit");
	cns_buf_init(&q);
	add_drops(&q, job, run_id, only_source);
	rc = cns_pg_command(conn, q.data, WHAT, err);
	cns_buf_release(&q);
	if (rc < 0)
		goto rollback;
	return cns_pg_command(conn, "COMMIT", WHAT, err);
rollback:
	(void)cns_pg_exec_ok(conn, "ROLLBACK", WHAT, NULL);
	for (int i = 0; i < job->nsources; i++)
		deleted[i] = 0;
	return -1;
}

void cns_deletes_end(PGconn *conn, const struct cns_job_conf *job,
		     const char *run_id)
{
	struct cns_buf q;

	if (!conn || PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) != PQTRANS_IDLE ||
	    !cns_deletes_any(job, NULL))
		return;
	cns_buf_init(&q);
	add_drops(&q, job, run_id, NULL);
	(void)cns_pg_exec_ok(conn, q.data, WHAT, NULL);
	cns_buf_release(&q);
}

int cns_deletes_rehearse(const struct cns_job_conf *job,
			 void (*report)(void *ctx, const struct cns_error *e),
			 void *ctx, struct cns_error *err)
{
	struct cns_buf q, name;
	PGconn *conn;
	PGresult *res;
	int bad = 0;

	if (!cns_deletes_any(job, NULL))
		return 0;
	conn = cns_pg_connect(job->target.conninfo, "the target", err);
	if (!conn)
		return -1;
	cns_buf_init(&q);
	cns_buf_init(&name);
	cns_pg_quote_qname(&name, &job->target.qtable);
	cns_buf_adds(&q, "SELECT to_regclass(");
	cns_pg_quote_literal(&q, name.data);
	cns_buf_adds(&q, ") IS NOT NULL");
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, WHAT, err);
	if (!res) {
		bad = -1;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res); /* created by the first run: nothing to try */
		goto out;
	}
	PQclear(res);
	for (int i = 0; i < job->nsources; i++) {
		const struct cns_source_conf *sc = &job->sources[i];
		struct cns_error e;

		if (!cns_deletes_source(job, i, NULL) || !sc->source_key)
			continue;
		cns_buf_reset(&q);
		cns_buf_adds(&q, "SELECT FROM ");
		add_target(&q, job);
		cns_buf_adds(&q, " WHERE ");
		add_source_key(&q, sc);
		cns_buf_adds(&q, " LIMIT 0");
		cns_error_clear(&e);
		res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, WHAT, &e);
		if (res) {
			PQclear(res);
			continue;
		}
		{
			struct cns_error e2;

			cns_error_clear(&e2);
			cns_error_set(&e2, CNS_E_CONFIG,
				      "source_key of source \"%s\" does not "
				      "work on the target: %s",
				      sc->name, e.message);
			cns_error_hint(&e2, "source_key is an SQL condition on "
					    "the target table's columns");
			if (report)
				report(ctx, &e2);
			else if (!cns_error_isset(err))
				*err = e2;
		}
		bad++;
	}
out:
	cns_buf_release(&q);
	cns_buf_release(&name);
	PQfinish(conn);
	return bad;
}
