/*
 * load.c - the PostgreSQL target: table preparation, chunked COPY with
 * append/upsert/replace semantics, and the replace-mode swap.
 */
#include "consolidate/load.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "consolidate/evolve.h"
#include "consolidate/pg.h"
#include "consolidate/pgbinary.h"
#include "consolidate/testhook.h"

#define COPY_FLUSH_BYTES (1024 * 1024)
/* The marker a shadow table carries (its COMMENT): only tables with it,
 * for the same target, are ever dropped as leftovers of earlier runs. */
#define SHADOW_MARK "consolidate replace shadow of table "
/* Two-key advisory locks live apart from the guard's one-key lock. */
#define REPLACE_LOCK_CLASS 0x636e7372

/* What a run keeps on the target from prepare to swap: the session that
 * holds the replace lock on the target table, and the names derived for
 * this run.  One per prepared job in this process; guarded by runs_lock.
 * It is process state rather than a handle because prepare, the loaders
 * and the swap are reached with the job alone, and a process runs one
 * job (the daemon starts a process per run). */
struct target_run {
	const struct cns_job_conf *job;
	PGconn *lock;     /* replace: holds the advisory lock; NULL else */
	bool shadow_made; /* this run created the shadow */
	char token[13];   /* 12 hex digits, unique to the run */
	char oid[16];     /* replace: the target table's oid */
	char shadow[CNS_PG_NAME_MAX + 1];
	/* on_schema_change = evolve, append and upsert: the first loader
	 * to open alters the table in its first chunk's transaction
	 * (evolve), and the commit of that chunk makes it done (evolved).
	 * Replace: the ALTER TABLE of the target, run in the swap. */
	bool evolve, evolved;
	char *swap_ddl;
	char *schema_notes; /* the difference, one line each, or NULL */
	struct target_run *next;
};

static pthread_mutex_t runs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct target_run *runs; /* guarded by runs_lock */

struct cns_loader {
	const struct cns_job_conf *job;
	const struct cns_schema *schema;
	PGconn *conn;
	PGcancel *cancel;
	char what[160];
	bool merge; /* COPY into staging + INSERT ON CONFLICT */
	struct cns_buf copy_sql;
	struct cns_buf copybuf;
	/* Per schema column, the binary encoder of the target column's type;
	 * binary: every column has one, so chunks may go in binary COPY. */
	enum cns_pgbin_kind *kinds;
	bool binary;
	/* Chunk commits need not wait for the WAL flush (their watermark
	 * commits with them); cns_loader_finish() makes them durable.
	 * unsynced: a chunk committed so since the last flush. */
	bool async_commit;
	bool unsynced;
	/* The merge of a chunk whose key values are all different as text
	 * skips DISTINCT ON; dedupe_next forces it for the chunk (two texts
	 * of one key value, as '1' and '01', met in the server). */
	bool dedupe_next;
	bool has_fast;     /* cns_merge_fast is prepared */
	bool fast_refused; /* the fast merge met such a pair */
	int *keycols;      /* schema index of each key column */
	int *slots;        /* hash table of rows, for duplicate keys */
	size_t nslots;
	char sqlstate[6]; /* of the last failed statement */
	char **colnames;  /* schema column names, for rejects */
	const char *source_name;
	cns_reject_fn on_reject; /* NULL: a refused row fails the chunk */
	void *reject_ctx;
	int64_t rejected; /* rows rejected in the current chunk */
	atomic_int *stop; /* the run was asked to stop: do not commit */
	char stage[CNS_PG_NAME_MAX + 1];  /* staging table (pg_temp) */
	char seqcol[CNS_PG_NAME_MAX + 1]; /* its arrival-order column */
	bool *by_text; /* per schema column: compare as ::text */
	bool in_tx;    /* a transaction is open: the evolve DDL */
	bool evolving; /* its commit completes the evolve */
};

/* ---- names ---- */

/* 64-bit FNV-1a, enough to tell derived names apart. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A token unique to this run: the target's name, the process, the time
 * and random bytes, hashed.  Two runs, even of the same job at the same
 * instant on two hosts, get different tokens. */
static void new_token(const struct cns_job_conf *job, char *out)
{
	uint64_t h = 0xcbf29ce484222325ULL, rnd = 0;
	int64_t now = cns_wall_us();
	pid_t pid = getpid();
	char host[256] = "";

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
		rnd = 0;
	gethostname(host, sizeof(host) - 1);
	h = fnv1a(h, job->target.table, strlen(job->target.table));
	h = fnv1a(h, job->name ? job->name : "",
		  job->name ? strlen(job->name) : 0);
	h = fnv1a(h, host, strlen(host));
	h = fnv1a(h, &pid, sizeof(pid));
	h = fnv1a(h, &now, sizeof(now));
	h = fnv1a(h, &rnd, sizeof(rnd));
	snprintf(out, 13, "%012llx", (unsigned long long)(h >> 16));
}

/* A derived name within NAMEDATALEN: as much of `base` as fits, then
 * "_" tag "_" token.  The token makes it differ from the base itself,
 * however long the base is, and from every other run's. */
static void derive_name(char *out, const char *base, const char *tag,
			const char *token)
{
	size_t max = CNS_PG_NAME_MAX - (1 + strlen(tag) + 1 + strlen(token));
	size_t n = strlen(base);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)base[n] & 0xC0) == 0x80)
			n--;
	}
	snprintf(out, CNS_PG_NAME_MAX + 1, "%.*s_%s_%s", (int)n, base, tag,
		 token);
}

/* The run's entry for job, created on first use. */
static struct target_run *find_run(const struct cns_job_conf *job)
{
	struct target_run *r;

	pthread_mutex_lock(&runs_lock);
	for (r = runs; r && r->job != job; r = r->next)
		;
	if (!r) {
		r = cns_xcalloc(1, sizeof(*r));
		r->job = job;
		new_token(job, r->token);
		derive_name(r->shadow, job->target.qtable.name, "cns",
			    r->token);
		r->next = runs;
		runs = r;
	}
	pthread_mutex_unlock(&runs_lock);
	return r;
}

/* The shadow table of a replace run, schema-qualified like the target. */
static void add_shadow(struct cns_buf *b, const struct target_run *r)
{
	struct cns_qname q = r->job->target.qtable;

	q.name = (char *)r->shadow;
	cns_pg_quote_qname(b, &q);
}

static void add_target(struct cns_buf *b, const struct cns_job_conf *job)
{
	cns_pg_quote_qname(b, &job->target.qtable);
}

/* The target as a string literal naming it for regclass. */
static void add_target_literal(struct cns_buf *b,
			       const struct cns_job_conf *job)
{
	struct cns_buf name;

	cns_buf_init(&name);
	add_target(&name, job);
	cns_pg_quote_literal(b, name.data);
	cns_buf_release(&name);
}

void cns_target_load_table(const struct cns_job_conf *job, struct cns_buf *b)
{
	struct target_run *r =
		job->target.mode == CNS_MODE_REPLACE ? find_run(job) : NULL;

	if (r)
		add_shadow(b, r);
	else
		add_target(b, job);
}

static bool is_key(const struct cns_list *key, const char *col)
{
	for (int i = 0; i < key->n; i++)
		if (strcmp(key->items[i], col) == 0)
			return true;
	return false;
}

/* Appends a column, with a prefix ("t.") and, when by_text, cast to text:
 * types without an equality operator (json, xml, point, ...) compare
 * through their text form. */
static void add_col(struct cns_buf *b, const char *prefix, const char *name,
		    bool by_text)
{
	if (by_text)
		cns_buf_addc(b, '(');
	if (prefix)
		cns_buf_adds(b, prefix);
	cns_pg_quote_ident(b, name);
	if (by_text)
		cns_buf_adds(b, ")::text");
}

static void add_column_list(struct cns_buf *b, const struct cns_schema *s,
			    const char *prefix)
{
	for (int i = 0; i < s->ncols; i++) {
		if (i)
			cns_buf_adds(b, ", ");
		add_col(b, prefix, s->cols[i].name, false);
	}
}

static int col_index(const struct cns_schema *s, const char *name)
{
	for (int i = 0; i < s->ncols; i++)
		if (strcmp(s->cols[i].name, name) == 0)
			return i;
	return -1;
}

/* The key columns; with by_text, those whose type has no btree ordering
 * as text, as the unique index that create makes for them. */
static void add_key_list(struct cns_buf *b, const struct cns_list *key,
			 const struct cns_schema *s, const bool *by_text)
{
	for (int i = 0; i < key->n; i++) {
		int c = col_index(s, key->items[i]);

		if (i)
			cns_buf_adds(b, ", ");
		add_col(b, NULL, key->items[i],
			by_text && c >= 0 && by_text[c]);
	}
}

/* The key as the elements of a unique index, which ON CONFLICT names the
 * same way: an expression (a text form) needs its own parentheses. */
static void add_index_list(struct cns_buf *b, const struct cns_list *key,
			   const struct cns_schema *s, const bool *by_text)
{
	for (int i = 0; i < key->n; i++) {
		int c = col_index(s, key->items[i]);
		bool t = by_text && c >= 0 && by_text[c];

		cns_buf_adds(b, i ? ", " : "");
		cns_buf_adds(b, t ? "(" : "");
		add_col(b, NULL, key->items[i], t);
		cns_buf_adds(b, t ? ")" : "");
	}
}

/* The columns that are not part of the key, as "c, d" with a prefix, or as
 * "c = EXCLUDED.c, d = EXCLUDED.d" when assign is set; by_text as in
 * add_col, per column (NULL: none). */
static void add_nonkey_list(struct cns_buf *b, const struct cns_schema *s,
			    const struct cns_list *key, const char *prefix,
			    bool assign, const bool *by_text)
{
	bool first = true;

	for (int i = 0; i < s->ncols; i++) {
		const char *c = s->cols[i].name;

		if (is_key(key, c))
			continue;
		if (!first)
			cns_buf_adds(b, ", ");
		first = false;
		add_col(b, prefix, c, by_text && by_text[i]);
		if (assign) {
			cns_buf_adds(b, " = EXCLUDED.");
			cns_pg_quote_ident(b, c);
		}
	}
}

/* ---- types ---- */

/* For each name given by `from` (a SQL row source with columns n and ty,
 * a type oid), whether the type lacks what a comparison needs, from the
 * catalog: with `ordered`, a default btree operator class (DISTINCT ON,
 * ORDER BY, a primary key); without, a default btree or hash one (an
 * equality operator for IS DISTINCT FROM).  A type binary-coercible to
 * the class's type counts (varchar, cidr, the reg* types); domains count
 * as their base type, arrays, enums and ranges as their kind; composites
 * compare as text. */
static const char TYPE_CMP_SQL[] =
	"SELECT v.n, NOT EXISTS (SELECT 1 FROM pg_catalog.pg_opclass o "
	"JOIN pg_catalog.pg_am m ON m.oid = o.opcmethod "
	"WHERE o.opcdefault AND m.amname = ANY ('%1$s'::text[]) AND ("
	"o.opcintype = b.oid"
	" OR EXISTS (SELECT 1 FROM pg_catalog.pg_cast c WHERE"
	"     c.castsource = b.oid AND c.casttarget = o.opcintype"
	"     AND c.castcontext = 'i'"
	"     AND c.castmethod = 'b')"
	" OR (o.opcintype = 'anyenum'::regtype AND b.typtype = 'e')"
	" OR (o.opcintype = 'anyrange'::regtype AND b.typtype = 'r')"
	" OR (o.opcintype = 'anymultirange'::regtype AND b.typtype = 'm')"
	" OR (o.opcintype = 'anyarray'::regtype AND b.typcategory = 'A'"
	"     AND EXISTS (SELECT 1 FROM pg_catalog.pg_opclass o2"
	"     JOIN pg_catalog.pg_am m2 ON m2.oid = o2.opcmethod"
	"     JOIN pg_catalog.pg_type e ON e.oid = b.typelem"
	"     WHERE o2.opcdefault AND m2.amname = ANY ('%1$s'::text[])"
	"     AND (o2.opcintype = e.oid OR o2.opcintype = e.typbasetype"
	"     OR (o2.opcintype = 'anyenum'::regtype AND e.typtype = 'e')"
	"     OR (o2.opcintype = 'anyrange'::regtype AND e.typtype = 'r')))))"
	") FROM (%2$s) AS v(n, ty) JOIN pg_catalog.pg_type t ON t.oid = v.ty "
	"JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' "
	"THEN t.typbasetype ELSE t.oid END";

/* Fills by_text[i] for each schema column (false when the catalog does
 * not name it); `from` as for TYPE_CMP_SQL. */
static int type_flags(PGconn *conn, const struct cns_schema *s,
		      const char *from, bool ordered, bool *by_text,
		      const char *what, struct cns_error *err)
{
	const char *am = ordered ? "{btree}" : "{btree,hash}";
	struct cns_buf q;
	PGresult *res;

	cns_buf_init(&q);
	cns_buf_printf(&q, TYPE_CMP_SQL, am, from);
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, what, err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	for (int i = 0; i < s->ncols; i++)
		by_text[i] = false;
	for (int r = 0; r < PQntuples(res); r++) {
		int c = col_index(s, PQgetvalue(res, r, 0));

		if (c >= 0)
			by_text[c] = strcmp(PQgetvalue(res, r, 1), "t") == 0;
	}
	PQclear(res);
	return 0;
}

/* type_flags for the columns of the existing target table. */
static int table_type_flags(PGconn *conn, const struct cns_job_conf *job,
			    const struct cns_schema *s, bool ordered,
			    bool *by_text, const char *what,
			    struct cns_error *err)
{
	struct cns_buf from;
	int rc;

	cns_buf_init(&from);
	cns_buf_adds(&from, "SELECT attname::text, atttypid FROM "
			    "pg_catalog.pg_attribute WHERE attrelid = ");
	add_target_literal(&from, job);
	cns_buf_adds(&from, "::regclass AND attnum > 0 AND NOT attisdropped");
	rc = type_flags(conn, s, from.data, ordered, by_text, what, err);
	cns_buf_release(&from);
	return rc;
}

/* ---- DDL ---- */

/* CREATE TABLE from the schema.  The key becomes the primary key, unless
 * a key column's type has no btree ordering (json, xml, point, ...): the
 * key is then a unique index on the text form of such columns, which
 * ON CONFLICT names the same way.  key_by_text may be NULL (plan). */
static void write_create(struct cns_buf *b, const struct cns_job_conf *job,
			 const struct cns_schema *s, bool if_not_exists,
			 const bool *key_by_text)
{
	bool pkey = job->target.key.n > 0;

	for (int i = 0; pkey && key_by_text && i < s->ncols; i++)
		if (key_by_text[i] && is_key(&job->target.key, s->cols[i].name))
			pkey = false;
	cns_buf_adds(b, "CREATE TABLE ");
	if (if_not_exists)
		cns_buf_adds(b, "IF NOT EXISTS ");
	add_target(b, job);
	cns_buf_adds(b, " (\n");
	for (int i = 0; i < s->ncols; i++) {
		cns_buf_adds(b, "    ");
		cns_pg_quote_ident(b, s->cols[i].name);
		cns_buf_printf(b, " %s", s->cols[i].type_sql);
		if (s->cols[i].not_null ||
		    is_key(&job->target.key, s->cols[i].name))
			cns_buf_adds(b, " NOT NULL");
		if (i + 1 < s->ncols || pkey)
			cns_buf_adds(b, ",");
		cns_buf_adds(b, "\n");
	}
	if (pkey) {
		cns_buf_adds(b, "    PRIMARY KEY (");
		add_key_list(b, &job->target.key, s, NULL);
		cns_buf_adds(b, ")\n");
	}
	cns_buf_adds(b, ")");
	if (job->target.key.n && !pkey) {
		cns_buf_adds(b, ";\nCREATE UNIQUE INDEX ON ");
		add_target(b, job);
		cns_buf_adds(b, " (");
		add_index_list(b, &job->target.key, s, key_by_text);
		cns_buf_adds(b, ")");
	}
}

/* The offline answer of type_flags.  Of the types a schema can name
 * (enum cns_type), only json has no btree ordering and so cannot be a
 * primary key; tests/integration/t_check_plan.sh holds this against the
 * server's answer for every one of them. */
static void guess_type_flags(const struct cns_schema *s, bool *by_text)
{
	for (int i = 0; i < s->ncols; i++)
		by_text[i] = s->cols[i].type == CNS_T_JSON;
}

static void schema_types_from(struct cns_buf *b, const struct cns_schema *s);

int cns_target_write_ddl(const struct cns_job_conf *job,
			 const struct cns_schema *schema, bool offline,
			 FILE *out, struct cns_error *err)
{
	bool *key_text = cns_xcalloc((size_t)schema->ncols + 1, sizeof(bool));
	struct cns_buf b;
	int rc = 0;

	cns_buf_init(&b);
	if (offline || !job->target.key.n) {
		guess_type_flags(schema, key_text);
	} else {
		PGconn *conn =
			cns_pg_connect(job->target.conninfo, "the target", err);

		schema_types_from(&b, schema);
		rc = conn ? type_flags(conn, schema, b.data, true, key_text,
				       "the target", err)
			  : -1;
		PQfinish(conn);
		cns_buf_reset(&b);
	}
	if (rc == 0) {
		write_create(&b, job, schema, true, key_text);
		fprintf(out, "%s;\n", b.data);
	}
	cns_buf_release(&b);
	free(key_text);
	return rc;
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
	add_target_literal(&q, job);
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
			cns_error_set(
				err, CNS_E_TARGET,
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

/* One problem found: told to `report` when there is one (check goes on),
 * else kept in err (the run stops). */
static void found_problem(cns_problem_fn report, void *ctx,
			  struct cns_error *err, int *problems)
{
	(*problems)++;
	if (report) {
		report(ctx, err);
		cns_error_clear(err);
	}
}

static bool is_text_type(const char *t)
{
	return !strcmp(t, "text") || !strncmp(t, "varchar", 7) ||
	       !strncmp(t, "character varying", 17);
}

/* Every schema column the table has must take the schema's type as an
 * INSERT would assign it (schema date into an integer column cannot); a
 * mismatch would refuse every row.  PostgreSQL itself judges: EXPLAIN of
 * such an INSERT is parsed and planned, and executes nothing. */
static int check_types(PGconn *conn, const struct cns_job_conf *job,
		       const struct cns_schema *s, cns_problem_fn report,
		       void *ctx, int *problems, struct cns_error *err)
{
	bool in_tx = PQtransactionStatus(conn) == PQTRANS_INTRANS;
	struct cns_buf q;
	PGresult *res, *cols;
	int before = *problems;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT attname, format_type(atttypid, atttypmod) "
			 "FROM pg_attribute WHERE attrelid = ");
	add_target_literal(&q, job);
	cns_buf_adds(&q, "::regclass AND attnum > 0 AND NOT attisdropped");
	cols = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the target", err);
	if (!cols) {
		cns_buf_release(&q);
		return -1;
	}
	for (int i = 0; i < s->ncols && (report || *problems == before); i++) {
		const char *have = NULL;

		for (int r = 0; r < PQntuples(cols) && !have; r++)
			if (strcmp(PQgetvalue(cols, r, 0), s->cols[i].name) ==
			    0)
				have = PQgetvalue(cols, r, 1);
		if (!have)
			continue; /* check_columns says so */
		/* Rows travel as text (COPY): a text value reaches every
		 * column through that column's own input function, so only
		 * a typed schema column can be at odds with the table. */
		if (is_text_type(s->cols[i].type_sql))
			continue;
		cns_buf_reset(&q);
		/* Inside check's rehearsal a failed statement must not end
		 * the transaction. */
		if (in_tx)
			cns_buf_adds(&q, "SAVEPOINT cns_type; ");
		cns_buf_adds(&q, "EXPLAIN INSERT INTO ");
		add_target(&q, job);
		cns_buf_adds(&q, " (");
		cns_pg_quote_ident(&q, s->cols[i].name);
		cns_buf_printf(&q, ") SELECT NULL::%s", s->cols[i].type_sql);
		res = cns_pq_exec(conn, q.data);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			const char *why = PQresultErrorField(
				res, PG_DIAG_MESSAGE_PRIMARY);

			cns_error_set(err, CNS_E_TARGET,
				      "target column \"%s\" of \"%s\" is %s, "
				      "which cannot take the schema's %s",
				      s->cols[i].name, job->target.table, have,
				      s->cols[i].type_sql);
			if (why)
				cns_error_detail(err, "%s", why);
			cns_error_hint(err,
				       "change the column's type, or the "
				       "type in [schema] of %s",
				       job->transforms);
			found_problem(report, ctx, err, problems);
		}
		PQclear(res);
		if (in_tx &&
		    cns_pg_command(conn, "ROLLBACK TO SAVEPOINT cns_type",
				   "the target", err) < 0) {
			PQclear(cols);
			cns_buf_release(&q);
			return -1;
		}
	}
	PQclear(cols);
	cns_buf_release(&q);
	return !report && *problems > before ? -1 : 0;
}

static int table_exists(PGconn *conn, const struct cns_job_conf *job,
			bool *exists, struct cns_error *err)
{
	struct cns_buf q;
	PGresult *res;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT to_regclass(");
	add_target_literal(&q, job);
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
		if (col_index(schema, job->target.key.items[k]) < 0)
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
	if (table_exists(*conn, job, exists, err) < 0)
		goto fail;
	if (!*exists && !job->target.create) {
		cns_error_set(err, CNS_E_TARGET,
			      "target table \"%s\" does not exist",
			      job->target.table);
		cns_error_hint(err, "create it, or set \"create = yes\" in "
				    "[target]; names follow the rules in "
				    "consolidate.conf(5), \"Names\"");
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

/* The schema's types as a row source for TYPE_CMP_SQL, for a table that
 * does not exist yet. */
static void schema_types_from(struct cns_buf *b, const struct cns_schema *s)
{
	cns_buf_adds(b, "VALUES ");
	for (int i = 0; i < s->ncols; i++) {
		if (i)
			cns_buf_adds(b, ", ");
		cns_buf_addc(b, '(');
		cns_pg_quote_literal(b, s->cols[i].name);
		cns_buf_adds(b, "::text, ");
		cns_pg_quote_literal(b, s->cols[i].type_sql);
		cns_buf_adds(b, "::regtype::oid)");
	}
}

/* Replace: takes the run's lock on the target table, on a session kept
 * until the swap, so that a second replace of the same table is refused
 * instead of mixing its rows into ours.  Then drops the shadows that
 * earlier runs of this target left (they carry the marker and, with the
 * lock held, no live run owns them). */
static int take_replace_lock(struct target_run *r, struct cns_error *err)
{
	const struct cns_job_conf *job = r->job;
	struct cns_buf q;
	PGresult *res;
	bool got;

	r->lock = cns_pg_connect(job->target.conninfo, "the target", err);
	if (!r->lock)
		return -1;
	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT ");
	add_target_literal(&q, job);
	cns_buf_adds(&q, "::regclass::oid");
	res = cns_pg_exec(r->lock, q.data, PGRES_TUPLES_OK, "the target", err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	snprintf(r->oid, sizeof(r->oid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	cns_buf_init(&q);
	cns_buf_printf(&q, "SELECT pg_try_advisory_lock(%d, %s::oid::int)",
		       REPLACE_LOCK_CLASS, r->oid);
	res = cns_pg_exec(r->lock, q.data, PGRES_TUPLES_OK, "the target", err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!got) {
		cns_error_set(err, CNS_E_LOCKED,
			      "target table \"%s\" is being replaced by "
			      "another run",
			      job->target.table);
		cns_error_hint(err, "two replace jobs on one table would mix "
				    "their rows; let the other run finish, "
				    "or give each job its own table");
		return -1;
	}
	cns_buf_init(&q);
	cns_buf_printf(&q,
		       "SELECT c.oid::regclass::text FROM "
		       "pg_catalog.pg_class c JOIN pg_catalog.pg_description"
		       " d ON d.objoid = c.oid AND d.classoid = "
		       "'pg_class'::regclass AND d.objsubid = 0 WHERE "
		       "c.relkind = 'r' AND d.description LIKE '" SHADOW_MARK
		       "%s run %%'",
		       r->oid);
	res = cns_pg_exec(r->lock, q.data, PGRES_TUPLES_OK, "the target", err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	cns_buf_init(&q);
	for (int i = 0; i < PQntuples(res); i++)
		cns_buf_printf(&q, "DROP TABLE IF EXISTS %s;",
			       PQgetvalue(res, i, 0));
	PQclear(res);
	if (q.len && cns_pg_command(r->lock, q.data, "the target", err) < 0) {
		cns_buf_release(&q);
		return -1;
	}
	cns_buf_release(&q);
	return 0;
}

/* Creates the target table from the schema: a key column whose type has
 * no btree equality becomes part of a unique index on its text form.
 * Returns 0, or -1 with err. */
static int create_table(PGconn *conn, const struct cns_job_conf *job,
			const struct cns_schema *schema, struct cns_error *err)
{
	bool *key_text = cns_xcalloc((size_t)schema->ncols + 1, sizeof(bool));
	struct cns_buf q;
	int rc = -1;

	cns_buf_init(&q);
	schema_types_from(&q, schema);
	if (!job->target.key.n ||
	    type_flags(conn, schema, q.data, true, key_text, "the target",
		       err) == 0) {
		cns_buf_reset(&q);
		write_create(&q, job, schema, true, key_text);
		rc = cns_pg_command(conn, q.data, "the target", err);
	}
	cns_buf_release(&q);
	free(key_text);
	return rc;
}

/* The schema columns that on_schema_change = evolve leaves as they are:
 * the ones it adds or widens will have the schema's own type, so only
 * the rest need the column checks.  rest->cols is the caller's to free. */
static void unchanged_columns(const struct cns_schema_diff *d,
			      const struct cns_schema *s,
			      struct cns_schema *rest)
{
	rest->ncols = 0;
	rest->cols = cns_xcalloc((size_t)s->ncols + 1, sizeof(*rest->cols));
	for (int i = 0; i < s->ncols; i++) {
		bool changed = false;

		for (int k = 0; k < d->n; k++)
			changed |= d->v[k].col == i &&
				   (d->v[k].kind == CNS_COL_ADD ||
				    d->v[k].kind == CNS_COL_WIDEN);
		if (!changed)
			rest->cols[rest->ncols++] = s->cols[i];
	}
}

/* True when the run alters the table (on_schema_change = evolve, and a
 * column to add or widen). */
static bool evolving(const struct cns_job_conf *job,
		     const struct cns_schema_diff *d)
{
	return job->target.on_schema_change == CNS_SCHEMA_EVOLVE &&
	       cns_schema_diff_pending(d);
}

/* [schema] against the existing table, judged by on_schema_change; the
 * difference is in *d (the caller releases it) and, when the run alters
 * the table, *rest as for unchanged_columns(). */
static int schema_change(PGconn *conn, const struct cns_job_conf *job,
			 const struct cns_schema *s, struct cns_schema_diff *d,
			 struct cns_schema *rest, struct cns_error *err)
{
	if (cns_schema_diff_read(conn, job, s, &job->target.qtable, d, err) <
		    0 ||
	    cns_schema_diff_judge(job, s, d, err) < 0)
		return -1;
	if (evolving(job, d))
		unchanged_columns(d, s, rest);
	return 0;
}

int cns_target_prepare(const struct cns_job_conf *job,
		       const struct cns_schema *schema, struct cns_error *err)
{
	struct target_run *r = find_run(job);
	struct cns_schema_diff diff = { 0 };
	struct cns_schema rest = *schema;
	PGconn *conn;
	struct cns_buf q;
	bool exists;
	int rc = -1, bad = 0;

	if (open_target(job, schema, &conn, &exists, err) < 0)
		return -1;
	cns_buf_init(&q);
	rest.cols = NULL;
	if (!exists && create_table(conn, job, schema, err) < 0)
		goto out;
	if (exists && schema_change(conn, job, schema, &diff, &rest, err) < 0)
		goto out;
	if (check_columns(conn, job, rest.cols ? &rest : schema, err) < 0 ||
	    check_types(conn, job, rest.cols ? &rest : schema, NULL, NULL, &bad,
			err) < 0)
		goto out;
	/* A failed run leaves the table as it was: the ALTER TABLE waits
	 * for the first chunk's transaction (append, upsert) or the swap's
	 * (replace), and is worked out again by a retry. */
	pthread_mutex_lock(&runs_lock);
	r->evolve = evolving(job, &diff) &&
		    job->target.mode != CNS_MODE_REPLACE;
	r->evolved = false;
	free(r->swap_ddl);
	r->swap_ddl = NULL;
	free(r->schema_notes);
	r->schema_notes = NULL;
	if (diff.n || diff.nextra) {
		struct cns_buf notes;

		cns_buf_init(&notes);
		cns_schema_diff_describe(&diff, schema, "", &notes);
		r->schema_notes = cns_xstrdup(notes.data);
		cns_buf_release(&notes);
	}
	pthread_mutex_unlock(&runs_lock);
	if (evolving(job, &diff) && job->target.mode == CNS_MODE_REPLACE) {
		cns_buf_reset(&q);
		cns_schema_diff_ddl(&diff, schema, &job->target.qtable, &q);
		r->swap_ddl = cns_xstrdup(q.data);
	}
	if (job->target.mode == CNS_MODE_REPLACE) {
		if (!r->lock && take_replace_lock(r, err) < 0) {
			/* Without the lock the session is worth nothing;
			 * ending it also lets go of a lock taken before a
			 * later step failed. */
			PQfinish(r->lock);
			r->lock = NULL;
			goto out;
		}
		/* The shadow's name is this run's own; CREATE without IF
		 * NOT EXISTS fails rather than touch a table it did not
		 * make.  The comment marks it as ours, for the target. */
		cns_buf_reset(&q);
		if (r->shadow_made) {
			/* Prepared again in the same run: start over from
			 * nothing, in the shadow this run made. */
			cns_buf_adds(&q, "DROP TABLE IF EXISTS ");
			add_shadow(&q, r);
			cns_buf_adds(&q, "; ");
		}
		cns_buf_adds(&q, "CREATE UNLOGGED TABLE ");
		add_shadow(&q, r);
		cns_buf_adds(&q, " (LIKE ");
		add_target(&q, job);
		cns_buf_adds(&q, " INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
				 "INCLUDING INDEXES); COMMENT ON TABLE ");
		add_shadow(&q, r);
		cns_buf_printf(&q, " IS '" SHADOW_MARK "%s run %s'", r->oid,
			       r->token);
		if (cns_pg_command(r->lock, q.data, "the target", err) < 0)
			goto out;
		r->shadow_made = true;
		if (r->swap_ddl) {
			/* The shadow takes the new columns and types now, the
			 * target in the swap. */
			struct cns_qname sq = job->target.qtable;

			sq.name = r->shadow;
			cns_buf_reset(&q);
			cns_schema_diff_ddl(&diff, schema, &sq, &q);
			if (cns_pg_command(r->lock, q.data, "the target", err) <
			    0)
				goto out;
		}
	}
	rc = 0;
out:
	cns_schema_diff_release(&diff);
	free(rest.cols);
	cns_buf_release(&q);
	PQfinish(conn);
	return rc;
}

/* The caller's check, first in the swap's transaction: it holds until
 * the commit, and a check that fails leaves the table as it was. */
static void swap_add_check(struct cns_buf *q, const char *check_sql)
{
	if (check_sql && *check_sql) {
		cns_buf_adds(q, check_sql);
		cns_buf_adds(q, "; ");
	}
}

int cns_target_swap(const struct cns_job_conf *job,
		    const struct cns_schema *schema, struct cns_error *err)
{
	return cns_target_swap_checked(job, schema, NULL, err);
}

int cns_target_swap_checked(const struct cns_job_conf *job,
			    const struct cns_schema *schema,
			    const char *check_sql, struct cns_error *err)
{
	struct target_run *r = find_run(job);
	PGconn *conn = r->lock;
	struct cns_buf q;
	int rc;

	/* On the session that holds the replace lock, when prepare took it:
	 * the lock then covers the swap too. */
	if (!conn)
		conn = cns_pg_connect(job->target.conninfo, "the target", err);
	if (!conn)
		return -1;
	/* TRUNCATE and INSERT in one transaction: readers see the old rows
	 * until the commit and the new ones after it, and the target keeps
	 * its grants, indexes, triggers and dependent views, which a swap by
	 * renaming would lose. */
	cns_buf_init(&q);
	cns_buf_adds(&q, "BEGIN; ");
	swap_add_check(&q, check_sql);
	cns_buf_adds(&q, "TRUNCATE ");
	add_target(&q, job);
	cns_buf_adds(&q, "; ");
	if (r->swap_ddl) {
		/* on_schema_change = evolve: the target changes with its
		 * rows, or not at all; after the TRUNCATE, a widening that
		 * rewrites the table rewrites an empty one. */
		cns_buf_adds(&q, r->swap_ddl);
		cns_buf_adds(&q, "; ");
	}
	cns_buf_adds(&q, "INSERT INTO ");
	add_target(&q, job);
	cns_buf_adds(&q, " (");
	add_column_list(&q, schema, NULL);
	cns_buf_adds(&q, ") SELECT ");
	add_column_list(&q, schema, NULL);
	cns_buf_adds(&q, " FROM ");
	add_shadow(&q, r);
	cns_buf_adds(&q, "; DROP TABLE ");
	add_shadow(&q, r);
	CNS_HOOK("swap.begin");
	rc = cns_pg_command(conn, q.data, "the target", err);
	if (rc == 0) {
		CNS_HOOK("swap.before_commit");
		rc = cns_pg_command(conn, "COMMIT", "the target", err);
	}
	if (rc == 0)
		r->shadow_made = false;
	CNS_HOOK("swap.done");
	cns_buf_release(&q);
	if (conn != r->lock)
		PQfinish(conn);
	return rc;
}

void cns_target_release(const struct cns_job_conf *job)
{
	struct target_run **pp, *r = NULL;

	pthread_mutex_lock(&runs_lock);
	for (pp = &runs; *pp; pp = &(*pp)->next)
		if ((*pp)->job == job) {
			r = *pp;
			*pp = r->next;
			break;
		}
	pthread_mutex_unlock(&runs_lock);
	if (!r)
		return;
	if (r->lock && r->shadow_made && PQstatus(r->lock) == CONNECTION_OK) {
		/* A run that did not swap drops its own shadow (best
		 * effort: a later replace drops what is left by its
		 * marker). */
		struct cns_buf q;

		struct cns_error ignored;

		cns_buf_init(&q);
		cns_buf_adds(&q, "ROLLBACK; DROP TABLE IF EXISTS ");
		add_shadow(&q, r);
		/* Checked, and not reported: release runs as the run ends,
		 * with its outcome already decided, and a later replace
		 * drops what is left by its marker. */
		cns_error_clear(&ignored);
		(void)cns_pg_exec_ok(r->lock, q.data, "the target", &ignored);
		cns_buf_release(&q);
	}
	if (r->lock)
		PQfinish(r->lock);
	free(r->swap_ddl);
	free(r->schema_notes);
	free(r);
}

char *cns_target_schema_notes(const struct cns_job_conf *job)
{
	struct target_run *r = find_run(job);
	char *notes;

	pthread_mutex_lock(&runs_lock);
	notes = r->schema_notes ? cns_xstrdup(r->schema_notes) : NULL;
	pthread_mutex_unlock(&runs_lock);
	return notes;
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
		if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
			/* A name in double quotes, as in the other lists:
			 * the quotes go, "" is one quote. */
			size_t k = 0;

			for (size_t j = 1; j + 1 < n && k + 1 < sizeof(name);
			     j++) {
				name[k++] = p[j];
				if (p[j] == '"' && p[j + 1] == '"')
					j++;
			}
			name[k] = '\0';
		} else {
			snprintf(name, sizeof(name), "%.*s", (int)n, p);
		}
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

/* The staging table, in this session's temporary schema. */
static void add_stage(struct cns_buf *b, const struct cns_loader *l)
{
	cns_buf_adds(b, "pg_temp.");
	cns_pg_quote_ident(b, l->stage);
}

/* The merge of the staging table into the target: INSERT ... ON
 * CONFLICT, which measured as fast as UPDATE ... FROM with an anti-joined
 * INSERT, or MERGE, and unlike them stays right when another session
 * inserts the same key meanwhile.  fast: without DISTINCT ON, for chunks
 * whose keys do not repeat. */
static int write_merge(struct cns_buf *q, const struct cns_loader *l, bool fast,
		       bool any_update, struct cns_error *err)
{
	const struct cns_list *key = &l->job->target.key;
	const struct cns_schema *s = l->schema;

	cns_buf_adds(q, "INSERT INTO ");
	cns_target_load_table(l->job, q);
	cns_buf_adds(q, " AS t (");
	add_column_list(q, s, NULL);
	cns_buf_adds(q, ") SELECT ");
	if (!fast) {
		cns_buf_adds(q, "DISTINCT ON (");
		add_key_list(q, key, s, l->by_text);
		cns_buf_adds(q, ") ");
	}
	add_column_list(q, s, NULL);
	cns_buf_adds(q, " FROM ");
	add_stage(q, l);
	if (!fast) {
		cns_buf_adds(q, " ORDER BY ");
		add_key_list(q, key, s, l->by_text);
		if (l->job->target.dedupe && l->job->target.dedupe_order &&
		    add_order_list(q, l, NULL, " DESC", err) < 0)
			return -1;
		cns_buf_adds(q, ", ");
		cns_pg_quote_ident(q, l->seqcol);
		cns_buf_adds(q, " DESC");
	}
	cns_buf_adds(q, " ON CONFLICT (");
	add_index_list(q, key, s, l->by_text);
	cns_buf_adds(q, ") DO ");
	if (!any_update) {
		cns_buf_adds(q, "NOTHING");
		return 0;
	}
	cns_buf_adds(q, "UPDATE SET ");
	add_nonkey_list(q, s, key, NULL, true, NULL);
	/* Only rows that changed are written: a rerun that brings nothing
	 * new writes nothing (no dead tuples, no WAL). */
	cns_buf_adds(q, " WHERE (");
	add_nonkey_list(q, s, key, "t.", false, l->by_text);
	cns_buf_adds(q, ") IS DISTINCT FROM (");
	add_nonkey_list(q, s, key, "EXCLUDED.", false, l->by_text);
	cns_buf_adds(q, ")");
	if (l->job->target.dedupe && l->job->target.dedupe_order) {
		/* dedupe: a row replaces the stored one only when it is not
		 * older by dedupe_order, whichever source or chunk brought it
		 * first. */
		cns_buf_adds(q, " AND (");
		if (add_order_list(q, l, "EXCLUDED.", NULL, err) < 0)
			return -1;
		cns_buf_adds(q, ") >= (");
		add_order_list(q, l, "t.", NULL, err);
		cns_buf_adds(q, ")");
	}
	return 0;
}

static int setup_stage(struct cns_loader *l, struct cns_error *err)
{
	struct cns_buf q;
	const struct cns_list *key = &l->job->target.key;
	const struct cns_schema *s = l->schema;
	struct target_run *r = find_run(l->job);
	bool any_update = false, *key_text;

	/* Per-run names: the staging table, and an arrival-order column
	 * that no schema column can be called. */
	derive_name(l->stage, "consolidate_stage", "cns", r->token);
	snprintf(l->seqcol, sizeof(l->seqcol), "cns_seq_%s", r->token);
	/* How each column compares: directly where its type has equality
	 * (and, for the key, ordering), else through its text form. */
	l->by_text = cns_xcalloc((size_t)s->ncols + 1, sizeof(bool));
	key_text = cns_xcalloc((size_t)s->ncols + 1, sizeof(bool));
	if (table_type_flags(l->conn, l->job, s, false, l->by_text, l->what,
			     err) < 0 ||
	    table_type_flags(l->conn, l->job, s, true, key_text, l->what, err) <
		    0) {
		free(key_text);
		return -1;
	}
	for (int i = 0; i < s->ncols; i++)
		if (is_key(key, s->cols[i].name))
			l->by_text[i] = key_text[i];
	free(key_text);

	cns_buf_init(&q);
	/* The staging table lives in this session only and empties itself at
	 * each commit; the sequence column, sent with the rows of a chunk
	 * whose keys repeat, keeps arrival order so that the last row of a
	 * key within a chunk wins. */
	cns_buf_adds(&q, "CREATE TEMP TABLE ");
	cns_pg_quote_ident(&q, l->stage);
	cns_buf_adds(&q, " ON COMMIT DELETE ROWS AS SELECT ");
	add_column_list(&q, s, NULL);
	cns_buf_adds(&q, " FROM ");
	cns_target_load_table(l->job, &q);
	cns_buf_adds(&q, " WITH NO DATA; ALTER TABLE ");
	add_stage(&q, l);
	cns_buf_adds(&q, " ADD COLUMN ");
	cns_pg_quote_ident(&q, l->seqcol);
	cns_buf_adds(&q, " bigint");
	if (cns_pg_command(l->conn, q.data, l->what, err) < 0) {
		cns_buf_release(&q);
		return -1;
	}
	for (int i = 0; i < s->ncols; i++)
		any_update |= !is_key(key, s->cols[i].name);
	/* Two merges: cns_merge picks one row per key (DISTINCT ON), for
	 * chunks whose keys repeat; cns_merge_fast, for the others, leaves
	 * out that sort.  With DO NOTHING (every column is key) it would keep
	 * the first of two texts of one key, not the last: no fast merge. */
	l->has_fast = any_update;
	for (int fast = 0; fast < (any_update ? 2 : 1); fast++) {
		cns_buf_reset(&q);
		cns_buf_printf(&q, "PREPARE %s AS ",
			       fast ? "cns_merge_fast" : "cns_merge");
		if (write_merge(&q, l, fast, any_update, err) < 0 ||
		    cns_pg_command(l->conn, q.data, l->what, err) < 0) {
			cns_buf_release(&q);
			return -1;
		}
	}
	cns_buf_release(&q);
	return 0;
}

/* What the loader needs to know of the target, in one catalog query: the
 * binary encoder of each column's type (a domain's base type), and
 * whether this role may write the message that cns_loader_finish() needs
 * for chunk commits that do not wait for the flush (without it, every
 * chunk commit waits, as it did). */
static int look_up_target(struct cns_loader *l, struct cns_error *err)
{
	const struct cns_schema *s = l->schema;
	struct cns_buf q;
	PGresult *res;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT a.attname, CASE WHEN b.typtype = 'b' AND "
			 "b.typnamespace = 'pg_catalog'::regnamespace THEN "
			 "b.typname::text END, coalesce(has_function_privilege("
			 "to_regprocedure('pg_catalog.pg_logical_emit_message("
			 "boolean,text,text)'), 'execute'), false) "
			 "FROM pg_catalog.pg_attribute a "
			 "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
			 "JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN "
			 "t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
			 "WHERE a.attrelid = ");
	add_target_literal(&q, l->job);
	cns_buf_adds(&q, "::regclass AND a.attnum > 0 AND NOT a.attisdropped");
	res = cns_pg_exec(l->conn, q.data, PGRES_TUPLES_OK, l->what, err);
	cns_buf_release(&q);
	if (!res)
		return -1;
	l->kinds = cns_xcalloc((size_t)s->ncols + 1, sizeof(*l->kinds));
	l->binary = s->ncols > 0;
	for (int i = 0; i < s->ncols; i++) {
		for (int r = 0; r < PQntuples(res); r++)
			if (strcmp(PQgetvalue(res, r, 0), s->cols[i].name) ==
				    0 &&
			    !PQgetisnull(res, r, 1))
				l->kinds[i] =
					cns_pgbin_kind(PQgetvalue(res, r, 1));
		l->binary &= l->kinds[i] != CNS_PGBIN_NONE;
	}
	l->async_commit = PQntuples(res) > 0 &&
			  strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	if (l->merge) {
		l->keycols = cns_xcalloc((size_t)l->job->target.key.n + 1,
					 sizeof(int));
		for (int k = 0; k < l->job->target.key.n; k++) {
			l->keycols[k] =
				col_index(s, l->job->target.key.items[k]);
			if (l->keycols[k] < 0)
				l->has_fast = false;
		}
	}
	return 0;
}

static int rollback(struct cns_loader *l, struct cns_error *err);

/* on_schema_change = evolve in append and upsert mode: the first loader
 * of the run opens the transaction of its first chunk with the ALTER
 * TABLE, so that the new columns commit with the first rows that need
 * them, and a run that fails before leaves the table as it was.  The
 * lock makes the other loaders of the run wait for that commit (or the
 * rollback), and the difference read under it says what is left to do:
 * nothing once another loader committed it. */
static int evolve_in_first_chunk(struct cns_loader *l, struct cns_error *err)
{
	struct target_run *r;
	struct cns_schema_diff d;
	struct cns_buf q;
	bool todo;
	int rc;

	if (l->job->target.mode == CNS_MODE_REPLACE)
		return 0;
	r = find_run(l->job);
	pthread_mutex_lock(&runs_lock);
	todo = r->evolve && !r->evolved;
	pthread_mutex_unlock(&runs_lock);
	if (!todo)
		return 0;
	cns_buf_init(&q);
	cns_buf_adds(&q, "BEGIN; LOCK TABLE ");
	add_target(&q, l->job);
	cns_buf_adds(&q, " IN ACCESS EXCLUSIVE MODE");
	rc = cns_pg_command(l->conn, q.data, l->what, err);
	cns_buf_reset(&q);
	if (rc == 0)
		rc = cns_schema_diff_read(l->conn, l->job, l->schema,
					  &l->job->target.qtable, &d, err);
	if (rc == 0) {
		cns_schema_diff_ddl(&d, l->schema, &l->job->target.qtable, &q);
		cns_schema_diff_release(&d);
		if (q.len == 0)
			rc = cns_pg_command(l->conn, "COMMIT", l->what, err);
		else if ((rc = cns_pg_command(l->conn, q.data, l->what, err)) ==
			 0) {
			l->in_tx = l->evolving = true;
			CNS_HOOK("evolve.altered");
		}
	}
	if (rc < 0)
		rollback(l, err);
	cns_buf_release(&q);
	return rc;
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
	if (evolve_in_first_chunk(l, err) < 0)
		goto fail;
	if (l->merge && setup_stage(l, err) < 0)
		goto fail;
	if (look_up_target(l, err) < 0)
		goto fail;
	return l;
fail:
	cns_loader_close(l);
	return NULL;
}

/* Rolls the chunk back after an error: the first error stays the one
 * reported; a failed ROLLBACK only fills err when it holds none.
 * Returns -1. */
static int rollback(struct cns_loader *l, struct cns_error *err)
{
	struct cns_error e;

	l->in_tx = l->evolving = false;
	if (PQstatus(l->conn) != CONNECTION_OK)
		return -1;
	cns_error_clear(&e);
	if (cns_pg_command(l->conn, "ROLLBACK", l->what, &e) < 0 &&
	    !cns_error_isset(err))
		*err = e;
	return -1;
}

/* Remembers the SQLSTATE of a failed result, to tell a bad row from a
 * failure of the whole load. */
static void keep_state(struct cns_loader *l, const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

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

/* Sends bytes [from, to) of copybuf, in pieces of COPY_FLUSH_BYTES. */
static int send_copy(struct cns_loader *l, size_t from, size_t to,
		     struct cns_error *err)
{
	while (from < to) {
		size_t n = to - from;

		if (n > COPY_FLUSH_BYTES)
			n = COPY_FLUSH_BYTES;
		if (cns_fail_now("PQputCopyData"))
			return cns_error_set(err, CNS_E_TARGET,
					     "%s failed while sending rows: "
					     "injected failure of "
					     "PQputCopyData",
					     l->what);
		if (PQputCopyData(l->conn, l->copybuf.data + from, (int)n) != 1)
			return cns_pg_error(l->conn, NULL, CNS_E_TARGET,
					    l->what, "sending rows", err);
		from += n;
	}
	return 0;
}

/* Encodes rows [lo, hi) into copybuf: in the binary format when the
 * table's types allow it and every value has an exact binary form, else
 * as text (the server then reads the chunk as it always did).  With seq,
 * each row also carries its index (the staging table's order column).
 * *mid_at: the length after the middle row.  Returns whether binary. */
static bool encode_rows(struct cns_loader *l, const struct cns_chunk *rows,
			int lo, int hi, bool seq, size_t *mid_at)
{
	struct cns_buf *b = &l->copybuf;
	int mid = lo + (hi - lo) / 2;

	cns_buf_reset(b);
	if (l->binary) {
		bool ok = true;

		cns_pgbin_header(b);
		for (int r = lo; r < hi && ok; r++) {
			int64_t n = r;

			ok = cns_pgbin_row(b, cns_chunk_row(rows, r), l->kinds,
					   rows->ncols, seq ? &n : NULL);
			if (r == mid)
				*mid_at = b->len;
		}
		if (ok) {
			cns_pgbin_trailer(b);
			return true;
		}
		cns_buf_reset(b);
	}
	for (int r = lo; r < hi; r++) {
		cns_pg_copy_format_row(b, cns_chunk_row(rows, r), rows->ncols);
		if (seq) {
			b->len--; /* the newline */
			cns_buf_printf(b, "\t%d\n", r);
		}
		if (r == mid)
			*mid_at = b->len;
	}
	return false;
}

/* Streams rows [lo, hi) of the chunk through COPY. */
static int copy_rows(struct cns_loader *l, const struct cns_chunk *rows, int lo,
		     int hi, bool seq, struct cns_error *err)
{
	size_t mid_at = SIZE_MAX, from = 0;
	bool binary = encode_rows(l, rows, lo, hi, seq, &mid_at);
	PGresult *res;
	int rc = 0;

	cns_buf_reset(&l->copy_sql);
	cns_buf_adds(&l->copy_sql, "COPY ");
	if (l->merge)
		add_stage(&l->copy_sql, l);
	else
		cns_target_load_table(l->job, &l->copy_sql);
	cns_buf_adds(&l->copy_sql, " (");
	add_column_list(&l->copy_sql, l->schema, NULL);
	if (seq) {
		cns_buf_adds(&l->copy_sql, ", ");
		cns_pg_quote_ident(&l->copy_sql, l->seqcol);
	}
	cns_buf_adds(&l->copy_sql,
		     binary ? ") FROM STDIN (FORMAT binary)" : ") FROM STDIN");
	res = cns_pq_exec(l->conn, l->copy_sql.data);
	l->sqlstate[0] = '\0';
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		keep_state(l, res);
		cns_pg_error(l->conn, res, CNS_E_TARGET, l->what,
			     "starting COPY", err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (mid_at != SIZE_MAX) {
		rc = send_copy(l, 0, mid_at, err);
		from = mid_at;
		/* Half the rows are on their way to the server. */
		CNS_HOOK("load.mid_copy");
	}
	if (rc == 0)
		rc = send_copy(l, from, l->copybuf.len, err);
	/* Ends the COPY in every case: after a failure, so that the server
	 * gives up the rows sent so far (the first error stays). */
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

/* COPY rows [lo, hi) and merge them (fast: without DISTINCT ON, for rows
 * whose keys do not repeat); adds the rows written to *written. */
static int load_rows(struct cns_loader *l, const struct cns_chunk *rows, int lo,
		     int hi, bool fast, int64_t *written, struct cns_error *err)
{
	PGresult *res;

	if (copy_rows(l, rows, lo, hi, l->merge && !fast, err) < 0)
		return -1;
	CNS_HOOK("load.copied");
	if (!l->merge) {
		*written += hi - lo;
		return 0;
	}
	res = cns_pq_exec(l->conn, fast ? "EXECUTE cns_merge_fast"
					: "EXECUTE cns_merge");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		keep_state(l, res);
		/* cardinality_violation: two texts of one key value ('1'
		 * and '01') that the fast merge met as a second change of
		 * one row. */
		l->fast_refused = fast && strcmp(l->sqlstate, "21000") == 0;
		cns_pg_error(l->conn, res, CNS_E_TARGET, l->what,
			     "merging rows", err);
		PQclear(res);
		return -1;
	}
	*written += strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

/* Whether two rows of the chunk carry the same text in every key column:
 * such a chunk needs the merge with DISTINCT ON.  Keys equal as values
 * but not as text slip through; the fast merge refuses them (see
 * load_rows). */
static bool keys_repeat(struct cns_loader *l, const struct cns_chunk *rows)
{
	size_t need = 16, mask;
	int nk = l->job->target.key.n;

	while (need < (size_t)rows->nrows * 2)
		need *= 2;
	if (need > l->nslots) {
		free(l->slots);
		l->slots = cns_xcalloc(need, sizeof(int));
		l->nslots = need;
	}
	mask = l->nslots - 1;
	memset(l->slots, 0, l->nslots * sizeof(int));
	for (int r = 0; r < rows->nrows; r++) {
		const struct cns_cell *row = cns_chunk_row(rows, r);
		uint64_t h = 0xcbf29ce484222325ULL;
		size_t i;

		for (int k = 0; k < nk; k++) {
			const struct cns_cell *c = &row[l->keycols[k]];

			h = fnv1a(h, &c->len, sizeof(c->len));
			h = fnv1a(h, &c->null, sizeof(c->null));
			if (!c->null)
				h = fnv1a(h, c->data, c->len);
		}
		for (i = h & mask; l->slots[i]; i = (i + 1) & mask) {
			const struct cns_cell *o =
				cns_chunk_row(rows, l->slots[i] - 1);
			bool same = true;

			for (int k = 0; k < nk && same; k++) {
				const struct cns_cell *a = &row[l->keycols[k]];
				const struct cns_cell *b = &o[l->keycols[k]];

				same = a->null == b->null && a->len == b->len &&
				       (a->null || a->len == 0 ||
					memcmp(a->data, b->data, a->len) == 0);
			}
			if (same)
				return true;
		}
		l->slots[i] = r + 1;
	}
	return false;
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
	if (l->merge) {
		struct cns_buf t;
		int rc;

		cns_buf_init(&t);
		cns_buf_adds(&t, "TRUNCATE ");
		add_stage(&t, l);
		rc = cns_pg_command(l->conn, t.data, l->what, err);
		cns_buf_release(&t);
		if (rc < 0)
			return -1;
	}
	/* Never the fast merge here: a refusal of it would be taken for a
	 * failure of the load, not of a row. */
	if (load_rows(l, rows, lo, hi, false, written, &why) == 0)
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

/* Commits the chunk.  The request and its answer are two steps, so that
 * the tests can lose the answer in between: then the server has committed
 * and the client only sees a broken connection, and whoever retries must
 * ask the server what it committed (the chunk ledger). */
static int commit_chunk(struct cns_loader *l, struct cns_error *err)
{
	PGresult *res, *last = NULL;
	int rc;

	if (!PQsendQuery(l->conn, "COMMIT"))
		return cns_pg_error(l->conn, NULL, CNS_E_TARGET, l->what,
				    "committing", err);
	CNS_HOOK_DROP("load.commit_sent", PQsocket(l->conn));
	while ((res = PQgetResult(l->conn)) != NULL) {
		PQclear(last);
		last = res;
	}
	if (last && PQresultStatus(last) == PGRES_COMMAND_OK) {
		PQclear(last);
		return 0;
	}
	rc = cns_pg_error(l->conn, last, CNS_E_TARGET, l->what, "committing",
			  err);
	PQclear(last);
	return rc;
}

/* Opens a chunk's transaction.  Its commit does not wait for the WAL
 * flush: the chunk's rows, its watermark and its ledger row commit
 * together, so a commit that a server crash loses takes all of them with
 * it, and the next run loads those rows again.  cns_loader_finish()
 * waits for the flush before the run calls itself done. */
static int begin_chunk(struct cns_loader *l, struct cns_error *err)
{
	return cns_pg_command(l->conn,
			      l->async_commit ? "BEGIN; SET LOCAL "
						"synchronous_commit = off"
					      : "BEGIN",
			      l->what, err);
}

/* Takes back the rows a chunk's transaction holds, to load them again:
 * to its savepoint when the transaction also holds the ALTER of evolve,
 * else all of it, and a new transaction. */
static int restart_rows(struct cns_loader *l, bool evolved_tx,
			struct cns_error *err)
{
	if (evolved_tx)
		return cns_pg_command(l->conn, "ROLLBACK TO SAVEPOINT cns_rows",
				      l->what, err);
	if (cns_pg_command(l->conn, "ROLLBACK", l->what, err) < 0)
		return -1;
	return begin_chunk(l, err);
}

/* One try at a chunk: BEGIN, the rows, the checkpoint, COMMIT. */
static int load_chunk(struct cns_loader *l, const struct cns_chunk *rows,
		      const char *checkpoint_sql, struct cns_load_stats *stats,
		      struct cns_error *err)
{
	struct cns_error first;
	int64_t written = 0;
	bool evolved_tx = l->in_tx;

	l->rejected = 0;
	l->fast_refused = false;
	/* The first chunk of an evolving loader is already open, with the
	 * ALTER TABLE in it: its rows go in a savepoint, so that a refused
	 * row takes back the rows and not the new columns. */
	if (evolved_tx) {
		if (cns_pg_command(l->conn, "SAVEPOINT cns_rows", l->what,
				   err) < 0)
			return rollback(l, err);
	} else if (begin_chunk(l, err) < 0) {
		return -1;
	}
	CNS_HOOK("load.begin");
	if (rows->nrows > 0) {
		bool fast = l->has_fast && !l->dedupe_next &&
			    !keys_repeat(l, rows);

		/* The whole chunk in one go first, outside any savepoint:
		 * bad rows are rare, and rows written in a subtransaction
		 * cost the server more, then and at each later read. */
		cns_error_clear(&first);
		if (load_rows(l, rows, 0, rows->nrows, fast, &written, &first) <
		    0) {
			if (!l->on_reject || !row_level_failure(l)) {
				*err = first;
				return rollback(l, err);
			}
			/* Nothing but the rows ran in the transaction: it
			 * starts again, and the halves go in savepoints. */
			written = 0;
			if (restart_rows(l, evolved_tx, err) < 0 ||
			    bisect(l, rows, 0, rows->nrows, &written, err) < 0)
				return rollback(l, err);
		}
	}
	CNS_HOOK("load.merged");
	if (checkpoint_sql &&
	    cns_pg_command(l->conn, checkpoint_sql, l->what, err) < 0)
		return rollback(l, err);
	CNS_HOOK("load.checkpointed");
	if (l->stop && atomic_load(l->stop)) {
		/* A cancel that came while the chunk was on its way: the
		 * chunk is not committed, so the target holds whole chunks
		 * only and the watermark stays with them. */
		cns_error_set(err, CNS_E_CANCELLED,
			      "%s: the open chunk was rolled back", l->what);
		return rollback(l, err);
	}
	l->in_tx = false;
	if (commit_chunk(l, err) < 0) {
		l->evolving = false;
		return -1;
	}
	if (l->evolving) {
		struct target_run *r = find_run(l->job);

		pthread_mutex_lock(&runs_lock);
		r->evolved = true;
		pthread_mutex_unlock(&runs_lock);
		l->evolving = false;
	}
	l->unsynced |= l->async_commit;
	CNS_HOOK("load.committed");
	if (stats) {
		stats->sent += rows->nrows - l->rejected;
		stats->written += written;
		stats->chunks++;
	}
	return 0;
}

int cns_loader_load_tables(struct cns_loader *l, struct cns_staged *st,
			   const char *checkpoint_sql,
			   struct cns_load_stats *stats, struct cns_error *err)
{
	struct cns_buf q;
	int64_t sent = 0, written = 0, got;
	PGresult *res;

	st->short_table = -1;
	if (cns_pg_command(l->conn, "BEGIN", l->what, err) < 0)
		return -1;
	cns_buf_init(&q);
	for (int i = 0; i < st->n; i++) {
		/* Into the session's staging table when the mode merges, so
		 * that the rows meet the same merge statement as a chunk's;
		 * else straight into the table the loader writes to. */
		cns_buf_reset(&q);
		cns_buf_adds(&q, "INSERT INTO ");
		if (l->merge)
			add_stage(&q, l);
		else
			cns_target_load_table(l->job, &q);
		cns_buf_adds(&q, " (");
		add_column_list(&q, l->schema, NULL);
		if (l->merge) {
			/* arrival order for the merge's one row per key:
			 * table by table, and within each as it is read */
			cns_buf_adds(&q, ", ");
			cns_pg_quote_ident(&q, l->seqcol);
		}
		cns_buf_adds(&q, ") SELECT ");
		add_column_list(&q, l->schema, NULL);
		if (l->merge)
			cns_buf_printf(&q,
				       ", (%d::bigint << 40) + "
				       "row_number() OVER ()",
				       i);
		cns_buf_printf(&q, " FROM %s", st->tables[i]);
		res = cns_pg_exec(l->conn, q.data, PGRES_COMMAND_OK, l->what,
				  err);
		if (!res) {
			cns_buf_release(&q);
			return rollback(l, err);
		}
		got = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		if (st->rows && got != st->rows[i]) {
			st->short_table = i;
			cns_error_set(err, CNS_E_TARGET,
				      "%s holds %lld rows, %lld were loaded "
				      "into it",
				      st->tables[i], (long long)got,
				      (long long)st->rows[i]);
			cns_buf_release(&q);
			return rollback(l, err);
		}
		sent += got;
	}
	cns_buf_release(&q);
	if (!l->merge) {
		written = sent;
	} else {
		res = cns_pq_exec(l->conn, "EXECUTE cns_merge");
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			cns_pg_error(l->conn, res, CNS_E_TARGET, l->what,
				     "merging rows", err);
			PQclear(res);
			return rollback(l, err);
		}
		written = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	CNS_HOOK("load.tables_merged");
	if (checkpoint_sql &&
	    cns_pg_command(l->conn, checkpoint_sql, l->what, err) < 0)
		return rollback(l, err);
	if (commit_chunk(l, err) < 0)
		return -1;
	if (stats) {
		stats->sent += sent;
		stats->written += written;
		stats->chunks++;
	}
	return 0;
}

int cns_loader_load(struct cns_loader *l, const struct cns_chunk *rows,
		    const char *checkpoint_sql, struct cns_load_stats *stats,
		    struct cns_error *err)
{
	int rc = load_chunk(l, rows, checkpoint_sql, stats, err);

	if (rc < 0 && l->fast_refused && PQstatus(l->conn) == CONNECTION_OK) {
		/* Rolled back before any row was rejected or committed:
		 * the chunk again, through the merge that picks one row per
		 * key. */
		cns_error_clear(err);
		l->dedupe_next = true;
		/* the rollback took back an ALTER of evolve too: again */
		rc = evolve_in_first_chunk(l, err);
		if (rc == 0)
			rc = load_chunk(l, rows, checkpoint_sql, stats, err);
		l->dedupe_next = false;
	}
	return rc;
}

int cns_loader_finish(struct cns_loader *l, struct cns_error *err)
{
	if (!l->unsynced)
		return 0;
	/* A commit that waits for the WAL flush, after every chunk commit
	 * of this session: the WAL is flushed in order, so once it returns
	 * those commits are on disk too.  A transaction that writes no WAL
	 * would not wait; the message is the smallest write there is (only
	 * logical decoding sees it, with the prefix "consolidate"). */
	if (cns_pg_exec_ok(l->conn,
			   "BEGIN; SELECT pg_catalog.pg_logical_emit_message("
			   "true, 'consolidate', 'chunks loaded'); COMMIT",
			   l->what, err) < 0)
		return -1;
	l->unsynced = false;
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
	free(l->by_text);
	free(l->kinds);
	free(l->keycols);
	free(l->slots);
	free(l);
}

/* ---- check's rehearsal ---- */

int cns_target_rehearse(const struct cns_job_conf *job,
			const struct cns_schema *schema, cns_problem_fn report,
			void *ctx, struct cns_error *err)
{
	struct cns_loader l = { .job = job, .schema = schema };
	struct cns_schema_diff diff = { 0 };
	struct cns_schema rest = { 0 };
	PGconn *conn;
	struct cns_buf q;
	bool exists;
	int problems = 0;

	if (open_target(job, schema, &conn, &exists, err) < 0)
		return -1;
	l.conn = conn;
	snprintf(l.what, sizeof(l.what), "the target");
	cns_buf_init(&q);
	/* Everything below is rolled back: the statements are the run's,
	 * the changes are nobody's. */
	if (cns_pg_command(conn, "BEGIN", "the target", err) < 0)
		goto out;
	if (!exists && create_table(conn, job, schema, err) < 0)
		goto out;
	if (exists && schema_change(conn, job, schema, &diff, &rest, err) < 0) {
		/* The column checks and the staging table would only say
		 * the same again. */
		found_problem(report, ctx, err, &problems);
		goto out;
	}
	if (evolving(job, &diff)) {
		/* evolve: the run's ALTER TABLE, rolled back with the rest;
		 * the shadow below is made from the altered table. */
		cns_buf_reset(&q);
		cns_schema_diff_ddl(&diff, schema, &job->target.qtable, &q);
		if (cns_pg_command(conn, q.data, "the target", err) < 0)
			goto out;
	}
	if (check_columns(conn, job, schema, err) < 0) {
		found_problem(report, ctx, err, &problems);
		if (!report)
			goto out;
	}
	if (check_types(conn, job, schema, report, ctx, &problems, err) < 0)
		goto out;
	if (job->target.mode == CNS_MODE_REPLACE) {
		/* The shadow under this check's own name: never one a run
		 * is loading now. */
		cns_buf_reset(&q);
		cns_buf_adds(&q, "CREATE UNLOGGED TABLE ");
		add_shadow(&q, find_run(job));
		cns_buf_adds(&q, " (LIKE ");
		add_target(&q, job);
		cns_buf_adds(&q, " INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
				 "INCLUDING INDEXES)");
		if (cns_pg_command(conn, q.data, "the target", err) < 0)
			goto out;
	}
	if (job->target.key.n > 0 && (job->target.mode == CNS_MODE_UPSERT ||
				      job->target.mode == CNS_MODE_REPLACE)) {
		PGresult *res;

		if (setup_stage(&l, err) < 0)
			goto out;
		/* Some refusals come only when the merge is planned (no
		 * unique index for ON CONFLICT): plan it, execute nothing. */
		res = cns_pg_exec(conn, "EXPLAIN EXECUTE cns_merge",
				  PGRES_TUPLES_OK, l.what, err);
		if (!res)
			goto out;
		PQclear(res);
	}
out:
	if (cns_error_isset(err) && problems == 0)
		problems++;
	cns_schema_diff_release(&diff);
	free(rest.cols);
	free(l.by_text);
	cns_buf_release(&q);
	PQfinish(conn); /* rolls back */
	cns_target_release(job);
	return problems ? -1 : 0;
}
