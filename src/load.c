/*
 * load.c - the PostgreSQL target: table preparation, chunked COPY with
 * append/upsert/replace semantics, and the replace-mode swap.
 */
#include "consolidate/load.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/pg.h"
#include "consolidate/testhook.h"

#define SHADOW_SUFFIX "__consolidate_new"
#define STAGE_TABLE "consolidate_stage"
#define COPY_FLUSH_BYTES (1024 * 1024)

struct cns_loader {
	const struct cns_job_conf *job;
	const struct cns_schema *schema;
	PGconn *conn;
	PGcancel *cancel;
	char what[160];
	bool merge;            /* COPY into staging + INSERT ON CONFLICT */
	struct cns_buf copy_sql;
	struct cns_buf copybuf;
	char sqlstate[6];      /* of the last failed statement */
	char **colnames;       /* schema column names, for rejects */
	const char *source_name;
	cns_reject_fn on_reject; /* NULL: a refused row fails the chunk */
	void *reject_ctx;
	int64_t rejected;      /* rows rejected in the current chunk */
	atomic_int *stop;      /* the run was asked to stop: do not commit */
};

/* ---- names ---- */

void cns_target_load_table(const struct cns_job_conf *job, struct cns_buf *b)
{
	if (job->target.mode == CNS_MODE_REPLACE) {
		char *name = cns_xmalloc(strlen(job->target.table) +
					 sizeof(SHADOW_SUFFIX));

		strcpy(name, job->target.table);
		strcat(name, SHADOW_SUFFIX);
		cns_pg_quote_ident(b, name);
		free(name);
	} else {
		cns_pg_quote_ident(b, job->target.table);
	}
}

static void add_column_list(struct cns_buf *b, const struct cns_schema *s,
			    const char *prefix)
{
	for (int i = 0; i < s->ncols; i++) {
		if (i)
			cns_buf_adds(b, ", ");
		if (prefix)
			cns_buf_adds(b, prefix);
		cns_pg_quote_ident(b, s->cols[i].name);
	}
}

static void add_key_list(struct cns_buf *b, const struct cns_list *key)
{
	for (int i = 0; i < key->n; i++) {
		if (i)
			cns_buf_adds(b, ", ");
		cns_pg_quote_ident(b, key->items[i]);
	}
}

static bool is_key(const struct cns_list *key, const char *col)
{
	for (int i = 0; i < key->n; i++)
		if (strcmp(key->items[i], col) == 0)
			return true;
	return false;
}

/* The columns that are not part of the key, as "c, d" with a prefix, or as
 * "c = EXCLUDED.c, d = EXCLUDED.d" when assign is set. */
static void add_nonkey_list(struct cns_buf *b, const struct cns_schema *s,
			    const struct cns_list *key, const char *prefix,
			    bool assign)
{
	bool first = true;

	for (int i = 0; i < s->ncols; i++) {
		const char *c = s->cols[i].name;

		if (is_key(key, c))
			continue;
		if (!first)
			cns_buf_adds(b, ", ");
		first = false;
		if (prefix)
			cns_buf_adds(b, prefix);
		cns_pg_quote_ident(b, c);
		if (assign) {
			cns_buf_adds(b, " = EXCLUDED.");
			cns_pg_quote_ident(b, c);
		}
	}
}

/* ---- DDL ---- */

static void write_create(struct cns_buf *b, const struct cns_job_conf *job,
			 const struct cns_schema *s, bool if_not_exists)
{
	cns_buf_adds(b, "CREATE TABLE ");
	if (if_not_exists)
		cns_buf_adds(b, "IF NOT EXISTS ");
	cns_pg_quote_ident(b, job->target.table);
	cns_buf_adds(b, " (\n");
	for (int i = 0; i < s->ncols; i++) {
		cns_buf_adds(b, "    ");
		cns_pg_quote_ident(b, s->cols[i].name);
		cns_buf_printf(b, " %s", s->cols[i].type_sql);
		if (s->cols[i].not_null ||
		    is_key(&job->target.key, s->cols[i].name))
			cns_buf_adds(b, " NOT NULL");
		if (i + 1 < s->ncols || job->target.key.n)
			cns_buf_adds(b, ",");
		cns_buf_adds(b, "\n");
	}
	if (job->target.key.n) {
		cns_buf_adds(b, "    PRIMARY KEY (");
		add_key_list(b, &job->target.key);
		cns_buf_adds(b, ")\n");
	}
	cns_buf_adds(b, ")");
}

void cns_target_write_ddl(const struct cns_job_conf *job,
			  const struct cns_schema *schema, FILE *out)
{
	struct cns_buf b;

	cns_buf_init(&b);
	write_create(&b, job, schema, true);
	fprintf(out, "%s;\n", b.data);
	cns_buf_release(&b);
}

/* Checks that the target has every schema column; a missing one would make
 * every COPY fail, so say which before any data moves. */
static int check_columns(PGconn *conn, const struct cns_job_conf *job,
			 const struct cns_schema *s, struct cns_error *err)
{
	struct cns_buf q;
	PGresult *res;
	int rc = 0;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT attname FROM pg_attribute WHERE attrelid = ");
	cns_pg_quote_literal(&q, job->target.table);
	cns_buf_adds(&q, "::regclass AND attnum > 0 AND NOT attisdropped");
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the target", err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	for (int i = 0; i < s->ncols && rc == 0; i++) {
		bool found = false;

		for (int r = 0; r < PQntuples(res) && !found; r++)
			found = strcmp(PQgetvalue(res, r, 0),
				       s->cols[i].name) == 0;
		if (!found) {
			cns_error_set(err, CNS_E_TARGET,
				      "target table \"%s\" has no column \"%s\"",
				      job->target.table, s->cols[i].name);
			cns_error_hint(err,
				       "add the column, or drop the table and "
				       "let \"create = yes\" make it from the "
				       "schema");
			rc = -1;
		}
	}
	PQclear(res);
	return rc;
}

static int table_exists(PGconn *conn, const char *table, bool *exists,
			struct cns_error *err)
{
	struct cns_buf q;
	PGresult *res;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT to_regclass(");
	cns_pg_quote_literal(&q, table);
	cns_buf_adds(&q, ") IS NOT NULL");
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the target", err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	*exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/* Every key column must be a column of the schema. */
static int check_key(const struct cns_job_conf *job,
		     const struct cns_schema *schema, struct cns_error *err)
{
	for (int k = 0; k < job->target.key.n; k++) {
		bool found = false;

		for (int i = 0; i < schema->ncols && !found; i++)
			found = strcmp(schema->cols[i].name,
				       job->target.key.items[k]) == 0;
		if (!found)
			return cns_error_set(err, CNS_E_CONFIG,
					     "key column \"%s\" of [target] is "
					     "not in the [schema] of \"%s\"",
					     job->target.key.items[k],
					     job->transforms);
	}
	return 0;
}

/* What check and prepare share: the key is in the schema, the target
 * answers, and its table exists or may be created.  On success *conn is
 * open (the caller finishes it) and *exists says whether the table is
 * there. */
static int open_target(const struct cns_job_conf *job,
		       const struct cns_schema *schema, PGconn **conn,
		       bool *exists, struct cns_error *err)
{
	*conn = NULL;
	if (check_key(job, schema, err) < 0)
		return -1;
	*conn = cns_pg_connect(job->target.conninfo, "the target", err);
	if (!*conn)
		return -1;
	if (table_exists(*conn, job->target.table, exists, err) < 0)
		goto fail;
	if (!*exists && !job->target.create) {
		cns_error_set(err, CNS_E_TARGET,
			      "target table \"%s\" does not exist",
			      job->target.table);
		cns_error_hint(err, "create it, or set \"create = yes\" in "
				    "[target]");
		goto fail;
	}
	return 0;
fail:
	PQfinish(*conn);
	*conn = NULL;
	return -1;
}

int cns_target_check(const struct cns_job_conf *job,
		     const struct cns_schema *schema, struct cns_error *err)
{
	PGconn *conn;
	bool exists;
	int rc;

	if (open_target(job, schema, &conn, &exists, err) < 0)
		return -1;
	rc = exists ? check_columns(conn, job, schema, err) : 0;
	PQfinish(conn);
	return rc;
}

int cns_target_prepare(const struct cns_job_conf *job,
		       const struct cns_schema *schema, struct cns_error *err)
{
	PGconn *conn;
	struct cns_buf q;
	bool exists;
	int rc = -1;

	if (open_target(job, schema, &conn, &exists, err) < 0)
		return -1;
	cns_buf_init(&q);
	if (!exists) {
		write_create(&q, job, schema, true);
		if (cns_pg_command(conn, q.data, "the target", err) < 0)
			goto out;
	}
	if (check_columns(conn, job, schema, err) < 0)
		goto out;
	if (job->target.mode == CNS_MODE_REPLACE) {
		/* A leftover shadow is what a failed or killed run left:
		 * it is never reused, so a new run starts from nothing. */
		cns_buf_reset(&q);
		cns_buf_adds(&q, "DROP TABLE IF EXISTS ");
		cns_target_load_table(job, &q);
		cns_buf_adds(&q, "; CREATE UNLOGGED TABLE ");
		cns_target_load_table(job, &q);
		cns_buf_adds(&q, " (LIKE ");
		cns_pg_quote_ident(&q, job->target.table);
		cns_buf_adds(&q, " INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
				 "INCLUDING INDEXES)");
		if (cns_pg_command(conn, q.data, "the target", err) < 0)
			goto out;
	}
	rc = 0;
out:
	cns_buf_release(&q);
	PQfinish(conn);
	return rc;
}

int cns_target_swap(const struct cns_job_conf *job,
		    const struct cns_schema *schema, struct cns_error *err)
{
	PGconn *conn = cns_pg_connect(job->target.conninfo, "the target", err);
	struct cns_buf q;
	int rc;

	if (!conn)
		return -1;
	/* TRUNCATE and INSERT in one transaction: readers see the old rows
	 * until the commit and the new ones after it, and the target keeps
	 * its grants, indexes, triggers and dependent views, which a swap by
	 * renaming would lose. */
	cns_buf_init(&q);
	cns_buf_adds(&q, "BEGIN; TRUNCATE ");
	cns_pg_quote_ident(&q, job->target.table);
	cns_buf_adds(&q, "; INSERT INTO ");
	cns_pg_quote_ident(&q, job->target.table);
	cns_buf_adds(&q, " (");
	add_column_list(&q, schema, NULL);
	cns_buf_adds(&q, ") SELECT ");
	add_column_list(&q, schema, NULL);
	cns_buf_adds(&q, " FROM ");
	cns_target_load_table(job, &q);
	cns_buf_adds(&q, "; DROP TABLE ");
	cns_target_load_table(job, &q);
	CNS_HOOK("swap.begin");
	rc = cns_pg_command(conn, q.data, "the target", err);
	if (rc == 0) {
		CNS_HOOK("swap.before_commit");
		rc = cns_pg_command(conn, "COMMIT", "the target", err);
	}
	CNS_HOOK("swap.done");
	cns_buf_release(&q);
	PQfinish(conn);
	return rc;
}

/* ---- loader ---- */

/* Appends the columns of dedupe_order ("updated_at, seq"), each with a
 * prefix and a suffix, comma-separated (and after a leading comma when a
 * suffix is given: they then continue an ORDER BY); a name that is not a
 * schema column is an error. */
static int add_order_list(struct cns_buf *b, const struct cns_loader *l,
			  const char *prefix, const char *suffix,
			  struct cns_error *err)
{
	const char *p = l->job->target.dedupe_order;
	bool first = true;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char name[256];
		bool known = false;

		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		for (int i = 0; i < l->schema->ncols; i++)
			known |= strcmp(l->schema->cols[i].name, name) == 0;
		if (!known)
			return cns_error_set(err, CNS_E_CONFIG,
					     "dedupe_order names \"%s\", which "
					     "is not a column of the schema",
					     name);
		/* In ORDER BY (with a suffix) the list follows the key. */
		if (!first || suffix)
			cns_buf_adds(b, ", ");
		first = false;
		if (prefix)
			cns_buf_adds(b, prefix);
		cns_pg_quote_ident(b, name);
		if (suffix)
			cns_buf_adds(b, suffix);
		p = end ? end + 1 : p + n;
	}
	return 0;
}

static int setup_stage(struct cns_loader *l, struct cns_error *err)
{
	struct cns_buf q;
	const struct cns_list *key = &l->job->target.key;
	bool any_update = false;
	PGresult *res;

	cns_buf_init(&q);
	/* The staging table lives in this session only and empties itself at
	 * each commit; cns_seq keeps arrival order so that the last row of a
	 * key within a chunk wins. */
	cns_buf_adds(&q, "CREATE TEMP TABLE " STAGE_TABLE
			 " ON COMMIT DELETE ROWS AS SELECT ");
	add_column_list(&q, l->schema, NULL);
	cns_buf_adds(&q, " FROM ");
	cns_target_load_table(l->job, &q);
	cns_buf_adds(&q, " WITH NO DATA; ALTER TABLE " STAGE_TABLE
			 " ADD COLUMN cns_seq bigserial");
	if (cns_pg_command(l->conn, q.data, l->what, err) < 0) {
		cns_buf_release(&q);
		return -1;
	}
	cns_buf_reset(&q);
	cns_buf_adds(&q, "INSERT INTO ");
	cns_target_load_table(l->job, &q);
	cns_buf_adds(&q, " AS t (");
	add_column_list(&q, l->schema, NULL);
	cns_buf_adds(&q, ") SELECT DISTINCT ON (");
	add_key_list(&q, key);
	cns_buf_adds(&q, ") ");
	add_column_list(&q, l->schema, NULL);
	cns_buf_adds(&q, " FROM " STAGE_TABLE " ORDER BY ");
	add_key_list(&q, key);
	if (l->job->target.dedupe && l->job->target.dedupe_order) {
		if (add_order_list(&q, l, NULL, " DESC", err) < 0) {
			cns_buf_release(&q);
			return -1;
		}
	}
	cns_buf_adds(&q, ", cns_seq DESC ON CONFLICT (");
	add_key_list(&q, key);
	cns_buf_adds(&q, ") DO ");
	for (int i = 0; i < l->schema->ncols; i++)
		any_update |= !is_key(key, l->schema->cols[i].name);
	if (!any_update) {
		cns_buf_adds(&q, "NOTHING");
	} else {
		cns_buf_adds(&q, "UPDATE SET ");
		add_nonkey_list(&q, l->schema, key, NULL, true);
		/* Only rows that changed are written: a rerun that brings
		 * nothing new writes nothing (no dead tuples, no WAL). */
		cns_buf_adds(&q, " WHERE (");
		add_nonkey_list(&q, l->schema, key, "t.", false);
		cns_buf_adds(&q, ") IS DISTINCT FROM (");
		add_nonkey_list(&q, l->schema, key, "EXCLUDED.", false);
		cns_buf_adds(&q, ")");
		if (l->job->target.dedupe && l->job->target.dedupe_order) {
			/* dedupe: a row replaces the stored one only when it
			 * is not older by dedupe_order, whichever source or
			 * chunk brought it first. */
			cns_buf_adds(&q, " AND (");
			add_order_list(&q, l, "EXCLUDED.", NULL, err);
			cns_buf_adds(&q, ") >= (");
			add_order_list(&q, l, "t.", NULL, err);
			cns_buf_adds(&q, ")");
		}
	}
	res = PQprepare(l->conn, "cns_merge", q.data, 0, NULL);
	cns_buf_release(&q);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		cns_pg_error(l->conn, res, CNS_E_TARGET, l->what,
			     "preparing the merge statement", err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

struct cns_loader *cns_loader_open(const struct cns_job_conf *job,
				   const struct cns_schema *schema,
				   const char *label, struct cns_error *err)
{
	struct cns_loader *l = cns_xcalloc(1, sizeof(*l));

	l->job = job;
	l->schema = schema;
	l->colnames = cns_xcalloc((size_t)schema->ncols + 1, sizeof(char *));
	for (int i = 0; i < schema->ncols; i++)
		l->colnames[i] = schema->cols[i].name;
	snprintf(l->what, sizeof(l->what), "the target (loading %s)", label);
	cns_buf_init(&l->copy_sql);
	cns_buf_init(&l->copybuf);
	l->conn = cns_pg_connect(job->target.conninfo, "the target", err);
	if (!l->conn)
		goto fail;
	l->cancel = PQgetCancel(l->conn);
	if (job->statement_timeout_ms > 0) {
		char set[80];

		snprintf(set, sizeof(set), "SET statement_timeout = %lld",
			 (long long)job->statement_timeout_ms);
		if (cns_pg_command(l->conn, set, l->what, err) < 0)
			goto fail;
	}
	l->merge = job->target.key.n > 0 &&
		   (job->target.mode == CNS_MODE_UPSERT ||
		    job->target.mode == CNS_MODE_REPLACE);
	if (l->merge && setup_stage(l, err) < 0)
		goto fail;
	cns_buf_adds(&l->copy_sql, "COPY ");
	if (l->merge)
		cns_buf_adds(&l->copy_sql, STAGE_TABLE);
	else
		cns_target_load_table(job, &l->copy_sql);
	cns_buf_adds(&l->copy_sql, " (");
	add_column_list(&l->copy_sql, schema, NULL);
	cns_buf_adds(&l->copy_sql, ") FROM STDIN");
	return l;
fail:
	cns_loader_close(l);
	return NULL;
}

static int rollback(struct cns_loader *l)
{
	PGresult *res;

	if (PQstatus(l->conn) != CONNECTION_OK)
		return -1;
	res = PQexec(l->conn, "ROLLBACK");
	PQclear(res);
	return -1;
}

/* Remembers the SQLSTATE of a failed result, to tell a bad row from a
 * failure of the whole load. */
static void keep_state(struct cns_loader *l, const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
			     : NULL;

	snprintf(l->sqlstate, sizeof(l->sqlstate), "%s", st ? st : "");
}

/* Data exceptions (22), integrity violations (23) and errors raised by
 * triggers (P0001) are about rows: the rest of the chunk may be fine. */
static bool row_level_failure(const struct cns_loader *l)
{
	return PQstatus(l->conn) == CONNECTION_OK &&
	       (strncmp(l->sqlstate, "22", 2) == 0 ||
		strncmp(l->sqlstate, "23", 2) == 0 ||
		strcmp(l->sqlstate, "P0001") == 0);
}

static int flush_copy(struct cns_loader *l, struct cns_error *err)
{
	if (l->copybuf.len == 0)
		return 0;
	if (PQputCopyData(l->conn, l->copybuf.data, (int)l->copybuf.len) != 1)
		return cns_pg_error(l->conn, NULL, CNS_E_TARGET, l->what,
				    "sending rows", err);
	cns_buf_reset(&l->copybuf);
	return 0;
}

/* Streams rows [lo, hi) of the chunk through COPY. */
static int copy_rows(struct cns_loader *l, const struct cns_chunk *rows,
		     int lo, int hi, struct cns_error *err)
{
	PGresult *res = PQexec(l->conn, l->copy_sql.data);
	int rc = 0, mid = lo + (hi - lo) / 2;

	l->sqlstate[0] = '\0';
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		keep_state(l, res);
		cns_pg_error(l->conn, res, CNS_E_TARGET, l->what,
			     "starting COPY", err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	cns_buf_reset(&l->copybuf);
	for (int r = lo; r < hi && rc == 0; r++) {
		cns_pg_copy_format_row(&l->copybuf, cns_chunk_row(rows, r),
				       rows->ncols);
		if (l->copybuf.len >= COPY_FLUSH_BYTES)
			rc = flush_copy(l, err);
		if (r == mid) {
			/* Half the rows are on their way to the server. */
			rc = rc ? rc : flush_copy(l, err);
			CNS_HOOK("load.mid_copy");
		}
	}
	if (rc == 0)
		rc = flush_copy(l, err);
	if (PQputCopyEnd(l->conn, rc ? "aborted" : NULL) != 1 && rc == 0)
		rc = cns_pg_error(l->conn, NULL, CNS_E_TARGET, l->what,
				  "ending COPY", err);
	while ((res = PQgetResult(l->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
			keep_state(l, res);
			rc = cns_pg_error(l->conn, res, CNS_E_TARGET, l->what,
					  "copying rows", err);
		}
		PQclear(res);
	}
	return rc;
}

/* COPY rows [lo, hi) and merge them; adds the rows written to *written. */
static int load_rows(struct cns_loader *l, const struct cns_chunk *rows,
		     int lo, int hi, int64_t *written, struct cns_error *err)
{
	PGresult *res;

	if (copy_rows(l, rows, lo, hi, err) < 0)
		return -1;
	CNS_HOOK("load.copied");
	if (!l->merge) {
		*written += hi - lo;
		return 0;
	}
	res = PQexecPrepared(l->conn, "cns_merge", 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		keep_state(l, res);
		cns_pg_error(l->conn, res, CNS_E_TARGET, l->what,
			     "merging rows", err);
		PQclear(res);
		return -1;
	}
	*written += strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

static int savepoint(struct cns_loader *l, const char *verb,
		     struct cns_error *err)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "%s cns_rows", verb);
	return cns_pg_command(l->conn, sql, l->what, err);
}

static void reject_loaded_row(struct cns_loader *l,
			      const struct cns_chunk *rows, int r,
			      const struct cns_error *why)
{
	char reason[2200];
	struct cns_reject rej = {
		.source = l->source_name,
		.rownum = rows->rownum[r],
		.origin = rows->origin[r],
		.reason = reason,
		.values = cns_chunk_row(rows, r),
		.nvalues = rows->ncols,
		.colnames = (const char *const *)l->colnames,
	};
	/* The server's own words, without our "the target failed while"
	 * preamble. */
	const char *msg = strstr(why->message, "copying rows: ");
	const char *msg2 = strstr(why->message, "merging rows: ");

	msg = msg ? msg + 14 : msg2 ? msg2 + 14 : why->message;
	snprintf(reason, sizeof(reason), "the target refused the row: %s%s%s",
		 msg, why->detail[0] ? "; " : "", why->detail);
	l->rejected++;
	l->on_reject(l->reject_ctx, &rej);
}

/* Loads rows [lo, hi) inside a savepoint; when the server refuses them for
 * a row-level reason, splits the range in two and tries each half, down
 * to single rows, which go to the rejects file with the server's message.
 * Good rows load; the cost is about 2 log2(n) statements per bad row. */
static int bisect(struct cns_loader *l, const struct cns_chunk *rows, int lo,
		  int hi, int64_t *written, struct cns_error *err)
{
	struct cns_error why;
	int mid;

	if (lo >= hi)
		return 0;
	cns_error_clear(&why);
	if (savepoint(l, "SAVEPOINT", err) < 0)
		return -1;
	if (l->merge &&
	    cns_pg_command(l->conn, "TRUNCATE " STAGE_TABLE, l->what, err) < 0)
		return -1;
	if (load_rows(l, rows, lo, hi, written, &why) == 0)
		return savepoint(l, "RELEASE SAVEPOINT", err);
	if (!row_level_failure(l)) {
		*err = why;
		return -1;
	}
	if (savepoint(l, "ROLLBACK TO SAVEPOINT", err) < 0 ||
	    savepoint(l, "RELEASE SAVEPOINT", err) < 0)
		return -1;
	if (hi - lo == 1) {
		reject_loaded_row(l, rows, lo, &why);
		return 0;
	}
	mid = lo + (hi - lo) / 2;
	if (bisect(l, rows, lo, mid, written, err) < 0)
		return -1;
	return bisect(l, rows, mid, hi, written, err);
}

int cns_loader_load(struct cns_loader *l, const struct cns_chunk *rows,
		    const char *checkpoint_sql, struct cns_load_stats *stats,
		    struct cns_error *err)
{
	struct cns_error first;
	int64_t written = 0;

	l->rejected = 0;
	if (cns_pg_command(l->conn, "BEGIN", l->what, err) < 0)
		return -1;
	CNS_HOOK("load.begin");
	if (rows->nrows > 0) {
		/* The whole chunk in one go first: bad rows are rare. */
		cns_error_clear(&first);
		if (l->on_reject && savepoint(l, "SAVEPOINT", err) < 0)
			return rollback(l);
		if (load_rows(l, rows, 0, rows->nrows, &written, &first) < 0) {
			if (!l->on_reject || !row_level_failure(l)) {
				*err = first;
				return rollback(l);
			}
			written = 0;
			if (savepoint(l, "ROLLBACK TO SAVEPOINT", err) < 0 ||
			    savepoint(l, "RELEASE SAVEPOINT", err) < 0 ||
			    bisect(l, rows, 0, rows->nrows, &written, err) < 0)
				return rollback(l);
		} else if (l->on_reject &&
			   savepoint(l, "RELEASE SAVEPOINT", err) < 0) {
			return rollback(l);
		}
	}
	CNS_HOOK("load.merged");
	if (checkpoint_sql &&
	    cns_pg_command(l->conn, checkpoint_sql, l->what, err) < 0)
		return rollback(l);
	CNS_HOOK("load.checkpointed");
	if (l->stop && atomic_load(l->stop)) {
		/* A cancel that came while the chunk was on its way: the
		 * chunk is not committed, so the target holds whole chunks
		 * only and the watermark stays with them. */
		cns_error_set(err, CNS_E_CANCELLED,
			      "%s: the open chunk was rolled back", l->what);
		return rollback(l);
	}
	if (cns_pg_command(l->conn, "COMMIT", l->what, err) < 0)
		return -1;
	CNS_HOOK("load.committed");
	if (stats) {
		stats->sent += rows->nrows - l->rejected;
		stats->written += written;
		stats->chunks++;
	}
	return 0;
}

void cns_loader_set_stop(struct cns_loader *l, atomic_int *stop)
{
	l->stop = stop;
}

void cns_loader_on_reject(struct cns_loader *l, const char *source_name,
			  cns_reject_fn fn, void *ctx)
{
	l->source_name = source_name;
	l->on_reject = fn;
	l->reject_ctx = ctx;
}

int cns_loader_exec(struct cns_loader *l, const char *sql,
		    struct cns_error *err)
{
	return cns_pg_command(l->conn, sql, l->what, err);
}

void *cns_loader_conn(struct cns_loader *l)
{
	return l->conn;
}

void cns_loader_cancel(struct cns_loader *l)
{
	char errbuf[256];

	if (l && l->cancel)
		PQcancel(l->cancel, errbuf, sizeof(errbuf));
}

void cns_loader_close(struct cns_loader *l)
{
	if (!l)
		return;
	if (l->cancel)
		PQfreeCancel(l->cancel);
	if (l->conn)
		PQfinish(l->conn);
	cns_buf_release(&l->copy_sql);
	cns_buf_release(&l->copybuf);
	free(l->colnames);
	free(l);
}
