/*
 * state.c - run history and watermarks in the target's `consolidate`
 * schema.
 */
#include "consolidate/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/pg.h"

#define WHAT "the target (run state)"

/* Version 1 of the state schema.  Each later version appends a step to
 * `migrations`; cns_state_ensure() runs the steps a database lacks. */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE IF NOT EXISTS consolidate.runs ("
	" run_id      text PRIMARY KEY,"
	" job         text NOT NULL,"
	" host        text,"
	" pid         integer,"
	" started_at  timestamptz NOT NULL,"
	" ended_at    timestamptz,"
	" status      text NOT NULL,"
	" exit_code   integer,"
	" sources     jsonb,"
	" rejected    bigint,"
	" error       text);"
	"CREATE INDEX IF NOT EXISTS runs_job_started"
	" ON consolidate.runs (job, started_at DESC);"
	"CREATE TABLE IF NOT EXISTS consolidate.watermarks ("
	" job         text NOT NULL,"
	" source      text NOT NULL,"
	" columns     text[] NOT NULL,"
	" value       text[] NOT NULL,"
	" run_id      text,"
	" updated_at  timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (job, source));",
	/* 2: the chunk ledger, one row per committed chunk written in the
	 * chunk's own transaction, so that after a lost connection the run
	 * asks the server what it committed instead of guessing; and the
	 * assertion that aborts a chunk's transaction from plain SQL. */
	"CREATE TABLE IF NOT EXISTS consolidate.chunks ("
	" run_id        text NOT NULL,"
	" job           text NOT NULL,"
	" source        text NOT NULL,"
	" chunk         bigint NOT NULL,"
	" rows          bigint NOT NULL,"
	" server_start  timestamptz NOT NULL DEFAULT pg_postmaster_start_time(),"
	" committed_at  timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (run_id, source, chunk));"
	"CREATE OR REPLACE FUNCTION consolidate.fail_unless(ok boolean,"
	" code text, message text) RETURNS boolean LANGUAGE plpgsql AS"
	" 'BEGIN IF ok IS NOT TRUE THEN"
	" RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;"
	" END IF; RETURN true; END';",
	/* 3: the kind of a run (a scheduled run, or a redrive of a rejects
	 * file), and which rejects files were re-driven: a row written in
	 * the transaction that loads the re-driven rows, whose key refuses
	 * a second redrive of the same file. */
	"ALTER TABLE consolidate.runs ADD COLUMN IF NOT EXISTS"
	" kind text NOT NULL DEFAULT 'run';"
	"CREATE TABLE IF NOT EXISTS consolidate.redrives ("
	" job           text NOT NULL,"
	" rejects_run   text NOT NULL,"
	" run_id        text NOT NULL,"
	" at            timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (job, rejects_run));",
};

int cns_state_ensure(PGconn *conn, struct cns_error *err)
{
	const int latest = (int)(sizeof(migrations) / sizeof(migrations[0]));
	struct cns_buf q;
	PGresult *res;
	int version, rc = -1;

	/* One transaction, serialized by a transaction-level advisory lock,
	 * so that runs of several jobs starting together do not race on
	 * CREATE.  The schema is created only when it is missing: CREATE
	 * SCHEMA IF NOT EXISTS still needs CREATE on the database, which a
	 * least-privilege loading role has no need for once the schema
	 * exists. */
	if (cns_pg_command(conn, "BEGIN", WHAT, err) < 0)
		goto rollback;
	res = cns_pg_exec(conn, "SELECT pg_advisory_xact_lock(4242424242)",
			  PGRES_TUPLES_OK, WHAT, err);
	if (!res)
		goto rollback;
	PQclear(res);
	res = cns_pg_exec(conn,
			  "SELECT to_regnamespace('consolidate') IS NULL, "
			  "to_regclass('consolidate.meta') IS NULL",
			  PGRES_TUPLES_OK, WHAT, err);
	if (!res)
		goto rollback;
	bool need_schema = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	bool need_meta = strcmp(PQgetvalue(res, 0, 1), "t") == 0;

	PQclear(res);
	if (need_schema &&
	    cns_pg_command(conn, "CREATE SCHEMA consolidate", WHAT, err) < 0) {
		cns_error_hint(err, "the loading role needs CREATE on the "
				    "target database once, or create the "
				    "schema \"consolidate\" for it");
		goto rollback;
	}
	if (need_meta && cns_pg_command(conn,
					"CREATE TABLE consolidate.meta "
					"(version integer NOT NULL)",
					WHAT, err) < 0)
		goto rollback;
	res = cns_pg_exec(conn,
			  "SELECT coalesce(max(version), 0) FROM "
			  "consolidate.meta",
			  PGRES_TUPLES_OK, WHAT, err);
	if (!res)
		goto rollback;
	version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (version > latest) {
		cns_error_set(err, CNS_E_TARGET,
			      "the target's consolidate schema is version %d, "
			      "newer than this release understands (%d)",
			      version, latest);
		cns_error_hint(err, "upgrade consolidate");
		goto rollback;
	}
	cns_buf_init(&q);
	for (int v = version; v < latest; v++)
		cns_buf_adds(&q, migrations[v]);
	if (version < latest) {
		cns_buf_printf(&q,
			       "DELETE FROM consolidate.meta;"
			       "INSERT INTO consolidate.meta VALUES (%d);",
			       latest);
		rc = cns_pg_command(conn, q.data, WHAT, err);
	} else {
		rc = 0;
	}
	cns_buf_release(&q);
	if (rc < 0)
		goto rollback;
	return cns_pg_command(conn, "COMMIT", WHAT, err);
rollback:
	/* err holds the failure that brought us here; a ROLLBACK that
	 * fails too means the session is gone, which ends the
	 * transaction as well. */
	(void)cns_pg_exec_ok(conn, "ROLLBACK", WHAT, NULL);
	return -1;
}

static void add_literal_or_null(struct cns_buf *b, const char *s)
{
	if (s)
		cns_pg_quote_literal(b, s);
	else
		cns_buf_adds(b, "NULL");
}

int cns_state_run_begin(PGconn *conn, const struct cns_run_row *r,
			struct cns_error *err)
{
	struct cns_buf q;
	int rc;

	cns_buf_init(&q);
	cns_buf_adds(&q, "INSERT INTO consolidate.runs (run_id, job, host, "
			 "pid, started_at, status, kind) VALUES (");
	cns_pg_quote_literal(&q, r->run_id);
	cns_buf_adds(&q, ", ");
	cns_pg_quote_literal(&q, r->job);
	cns_buf_adds(&q, ", ");
	cns_pg_quote_literal(&q, r->host);
	cns_buf_printf(&q, ", %ld, to_timestamp(%lld / 1e6), 'running', ",
		       r->pid, (long long)r->started_us);
	cns_pg_quote_literal(&q, r->kind ? r->kind : "run");
	cns_buf_adds(&q, ")");
	rc = cns_pg_command(conn, q.data, WHAT, err);
	cns_buf_release(&q);
	return rc;
}

int cns_state_run_end(PGconn *conn, const char *run_id, const char *status,
		      int exit_code, const char *sources_json, int64_t rejected,
		      const char *error, struct cns_error *err)
{
	struct cns_buf q;
	int rc;

	cns_buf_init(&q);
	cns_buf_adds(&q, "UPDATE consolidate.runs SET ended_at = now(), "
			 "status = ");
	cns_pg_quote_literal(&q, status);
	cns_buf_printf(&q, ", exit_code = %d, rejected = %lld, sources = ",
		       exit_code, (long long)rejected);
	add_literal_or_null(&q, sources_json);
	cns_buf_adds(&q, "::jsonb, error = ");
	add_literal_or_null(&q, error);
	cns_buf_adds(&q, " WHERE run_id = ");
	cns_pg_quote_literal(&q, run_id);
	rc = cns_pg_command(conn, q.data, WHAT, err);
	cns_buf_release(&q);
	return rc;
}

int cns_state_mark_crashed(PGconn *conn, const char *job, struct cns_error *err)
{
	struct cns_buf q;
	PGresult *res;
	int n;

	cns_buf_init(&q);
	cns_buf_adds(&q, "UPDATE consolidate.runs SET status = 'crashed', "
			 "error = 'the run ended without recording its end "
			 "(killed or crashed)' WHERE status = 'running' AND "
			 "job = ");
	cns_pg_quote_literal(&q, job);
	res = cns_pg_exec(conn, q.data, PGRES_COMMAND_OK, WHAT, err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	return n;
}

int cns_state_watermark_get(PGconn *conn, const char *job, const char *source,
			    struct cns_arena *arena, int *n, char ***values,
			    struct cns_error *err)
{
	struct cns_buf q;
	PGresult *res;
	int rows;

	*n = 0;
	*values = NULL;
	cns_buf_init(&q);
	/* unnest keeps the order of the array and its NULLs. */
	cns_buf_adds(&q, "SELECT v FROM consolidate.watermarks, "
			 "unnest(value) WITH ORDINALITY AS u(v, i) "
			 "WHERE job = ");
	cns_pg_quote_literal(&q, job);
	cns_buf_adds(&q, " AND source = ");
	cns_pg_quote_literal(&q, source);
	cns_buf_adds(&q, " ORDER BY i");
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, WHAT, err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	rows = PQntuples(res);
	if (rows > 0) {
		*values =
			cns_arena_zalloc(arena, sizeof(char *) * (size_t)rows);
		for (int i = 0; i < rows; i++)
			(*values)[i] =
				PQgetisnull(res, i, 0)
					? NULL
					: cns_arena_strdup(
						  arena, PQgetvalue(res, i, 0));
		*n = rows;
	}
	PQclear(res);
	return 0;
}

static void add_text_array(struct cns_buf *b, const char *const *items,
			   const struct cns_cell *const *cells, int n)
{
	cns_buf_adds(b, "ARRAY[");
	for (int i = 0; i < n; i++) {
		if (i)
			cns_buf_adds(b, ", ");
		if (items) {
			cns_pg_quote_literal(b, items[i]);
		} else if (cells[i]->null) {
			cns_buf_adds(b, "NULL");
		} else {
			char *s = cns_xmalloc(cells[i]->len + 1);

			memcpy(s, cells[i]->data, cells[i]->len);
			s[cells[i]->len] = '\0';
			cns_pg_quote_literal(b, s);
			free(s);
		}
	}
	cns_buf_adds(b, "]::text[]");
}

/* The INSERT ... ON CONFLICT that stores a watermark, without its end. */
static void watermark_upsert(struct cns_buf *q, const char *job,
			     const char *source, const char *const *columns,
			     int n, const struct cns_cell *const *cells,
			     const char *run_id)
{
	cns_buf_adds(q, "INSERT INTO consolidate.watermarks (job, source, "
			"columns, value, run_id, updated_at) VALUES (");
	cns_pg_quote_literal(q, job);
	cns_buf_adds(q, ", ");
	cns_pg_quote_literal(q, source);
	cns_buf_adds(q, ", ");
	add_text_array(q, columns, NULL, n);
	cns_buf_adds(q, ", ");
	add_text_array(q, NULL, cells, n);
	cns_buf_adds(q, ", ");
	cns_pg_quote_literal(q, run_id);
	cns_buf_adds(q, ", now()) ON CONFLICT (job, source) DO UPDATE SET "
			"columns = EXCLUDED.columns, value = EXCLUDED.value, "
			"run_id = EXCLUDED.run_id, updated_at = now()");
}

char *cns_state_watermark_sql(const char *job, const char *source,
			      const char *const *columns, int n,
			      const struct cns_cell *const *cells,
			      const char *run_id)
{
	struct cns_buf q;

	cns_buf_init(&q);
	watermark_upsert(&q, job, source, columns, n, cells, run_id);
	return q.data;
}

char *cns_state_watermark_value(const struct cns_cell *const *cells, int n)
{
	struct cns_buf q;

	cns_buf_init(&q);
	add_text_array(&q, NULL, cells, n);
	return q.data;
}

void cns_state_watermark_advance_sql(struct cns_buf *q, const char *job,
				     const char *source,
				     const char *const *columns, int n,
				     const struct cns_cell *const *cells,
				     const char *run_id, const char *from)
{
	cns_buf_adds(q, "WITH w AS (");
	watermark_upsert(q, job, source, columns, n, cells, run_id);
	/* ON CONFLICT ... WHERE: a row that another run moved is left
	 * alone, and the empty RETURNING fails the chunk below. */
	cns_buf_adds(q, " WHERE ");
	if (from) {
		cns_buf_adds(q, "consolidate.watermarks.value IS NOT "
				"DISTINCT FROM ");
		cns_buf_adds(q, from);
	} else {
		cns_buf_adds(q, "false");
	}
	cns_buf_adds(q,
		     " RETURNING 1) SELECT consolidate.fail_unless("
		     "(SELECT count(*) FROM w) = 1, '" CNS_STATE_MOVED "', ");
	{
		char msg[600];

		snprintf(msg, sizeof(msg),
			 "the watermark of source \"%s\" moved since this run "
			 "read it: another run of job \"%s\" loaded rows",
			 source, job);
		cns_pg_quote_literal(q, msg);
	}
	cns_buf_adds(q, ");");
}

void cns_state_ledger_sql(struct cns_buf *q, const char *run_id,
			  const char *job, const char *source, int64_t chunk,
			  int64_t rows)
{
	cns_buf_adds(q, "INSERT INTO consolidate.chunks (run_id, job, source, "
			"chunk, rows) VALUES (");
	cns_pg_quote_literal(q, run_id);
	cns_buf_adds(q, ", ");
	cns_pg_quote_literal(q, job);
	cns_buf_adds(q, ", ");
	cns_pg_quote_literal(q, source);
	cns_buf_printf(q, ", %lld, %lld)", (long long)chunk, (long long)rows);
}

int64_t cns_state_ledger_chunks(PGconn *conn, const char *run_id,
				const char *source, struct cns_error *err)
{
	struct cns_buf q;
	PGresult *res;
	int64_t n;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT count(*) FROM consolidate.chunks WHERE "
			 "run_id = ");
	cns_pg_quote_literal(&q, run_id);
	cns_buf_adds(&q, " AND source = ");
	cns_pg_quote_literal(&q, source);
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, WHAT, err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

char *cns_state_restart_check_sql(const char *run_id)
{
	struct cns_buf q;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT consolidate.fail_unless(NOT EXISTS (SELECT 1 "
			 "FROM consolidate.chunks WHERE run_id = ");
	cns_pg_quote_literal(&q, run_id);
	cns_buf_adds(&q, " AND server_start <> pg_postmaster_start_time()), "
			 "'" CNS_STATE_RESTARTED "', 'the target server "
			 "restarted (or failed over) after this run committed "
			 "rows to its shadow table, which is unlogged: crash "
			 "recovery may have emptied it, so the table keeps its "
			 "old rows')");
	return q.data;
}

int cns_state_ledger_forget(PGconn *conn, const char *job,
			    const char *keep_run_id, struct cns_error *err)
{
	struct cns_buf q;
	int rc;

	cns_buf_init(&q);
	cns_buf_adds(&q, "DELETE FROM consolidate.chunks WHERE job = ");
	cns_pg_quote_literal(&q, job);
	if (keep_run_id) {
		cns_buf_adds(&q, " AND run_id <> ");
		cns_pg_quote_literal(&q, keep_run_id);
	}
	rc = cns_pg_command(conn, q.data, WHAT, err);
	cns_buf_release(&q);
	return rc;
}

int cns_state_watermark_reset(PGconn *conn, const char *job, const char *source,
			      struct cns_error *err)
{
	struct cns_buf q;
	int rc;

	cns_buf_init(&q);
	cns_buf_adds(&q, "DELETE FROM consolidate.watermarks WHERE job = ");
	cns_pg_quote_literal(&q, job);
	if (source) {
		cns_buf_adds(&q, " AND source = ");
		cns_pg_quote_literal(&q, source);
	}
	rc = cns_pg_command(conn, q.data, WHAT, err);
	cns_buf_release(&q);
	return rc;
}
