/*
 * test_odbc.c - the odbc source driver against real ODBC drivers: SQLite
 * (libsqliteodbc) on a file, PostgreSQL (psqlODBC) on a throwaway cluster
 * (scripts/pg-sandbox) and MariaDB (Connector/ODBC) on a throwaway server
 * (scripts/mariadb-sandbox), all registered in a private odbcinst.ini
 * (scripts/odbc-setup), so nothing system-wide is touched.
 *
 * The same table of 50,000 rows (NULLs, empty strings, UTF-8 names, a
 * 100 kB value, numeric(18,4), timestamps with microseconds, booleans,
 * dates) is read from each with a small and a large batch size and
 * compared with the values it was generated from, row for row.  Then:
 * incremental extraction, quoting, types, the errors a user meets first
 * (no driver, no data source, wrong password, missing table or column),
 * cancel, a non-UTF-8 locale, and the pure helpers, table-driven.
 *
 * Servers are started once per run and stopped by pid at the end; a
 * reaper process stops them too if this process dies.  A server that does
 * not start fails the whole run.  It is an integration test: run by
 * tests/integration/t_odbc_driver.sh, not with the unit tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "consolidate/civil.h"
#include "consolidate/source.h"
#include "../../src/source/odbc/odbc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NROWS 50000

enum dialect {
	D_SQLITE,
	D_PG,
	D_MARIA,
	D__N
};

struct db {
	const char *name;
	bool up;
	char conn[1024];
	char user[256];
	char password[256];
	char table_prefix[64]; /* for a dotted table name */
};

static struct db dbs[D__N] = { { .name = "sqlite" },
			       { .name = "postgres" },
			       { .name = "mariadb" } };
static char root[512]; /* the repository */
static char tmp[512];  /* everything this run creates */
static bool have_scripts;
static char pg_port[32];
static char *long_value; /* row 777's note */
static struct cns_job_conf job;

/* ---- small helpers ---- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Runs a start script and picks NAME='value' lines out of its exports. */
static int start_sandbox(const char *cmd, const char *const *names,
			 char values[][256], int n)
{
	char line[1024];
	FILE *p = popen(cmd, "r");
	int found = 0;

	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		for (int i = 0; i < n; i++) {
			size_t k = strlen(names[i]);
			char *v;

			if (strncmp(line, "export ", 7) ||
			    strncmp(line + 7, names[i], k) ||
			    line[7 + k] != '=')
				continue;
			v = line + 8 + k;
			v[strcspn(v, "\n")] = '\0';
			if (*v == '\'') {
				v++;
				v[strcspn(v, "'")] = '\0';
			}
			snprintf(values[i], 256, "%s", v);
			found++;
		}
	}
	return pclose(p) == 0 && found == n ? 0 : -1;
}

/* ---- expected values ---- */

/* The text the driver of dialect d must deliver for column col of row
 * id of the people table; false for NULL. */
static bool expected(enum dialect d, int id, int col, char *out, size_t size)
{
	switch (col) {
	case 0: snprintf(out, size, "%d", id); return true;
	case 1:
		switch (id % 8) {
		case 0: return false;
		case 1: snprintf(out, size, "%s", ""); return true;
		case 2: snprintf(out, size, "Zoë"); return true;
		case 3: snprintf(out, size, "山田"); return true;
		case 4: snprintf(out, size, "Łukasz"); return true;
		case 5: snprintf(out, size, "x😀y"); return true;
		case 6: snprintf(out, size, "name-%d", id); return true;
		default:
			snprintf(out, size, "Zoë 山田 Łukasz %d", id);
			return true;
		}
	case 2: {
		long units = (long)id * 12345;
		const char *sign = id % 3 == 0 ? "-" : "";

		if (id == 1 && d != D_SQLITE) {
			snprintf(out, size, "12345678901234.5678");
			return true;
		}
		snprintf(out, size, "%s%ld.%04ld", sign, units / 10000,
			 units % 10000);
		if (d == D_SQLITE) {
			/* SQLite keeps numeric(18,4) as a double or an
			 * integer: no trailing zeros. */
			size_t n = strlen(out);

			while (out[n - 1] == '0')
				out[--n] = '\0';
			if (out[n - 1] == '.')
				out[--n] = '\0';
		}
		return true;
	}
	case 3: {
		time_t t = 1704067200 + (time_t)id * 61;
		long us = ((long)id * 7919) % 1000000;
		struct tm tm;
		char frac[16];

		if (id % 11 == 0)
			return false;
		gmtime_r(&t, &tm);
		snprintf(frac, sizeof(frac), ".%06ld", us);
		if (d == D_PG) {
			/* PostgreSQL prints the fraction without trailing
			 * zeros. */
			size_t n = strlen(frac);

			while (n > 1 && frac[n - 1] == '0')
				frac[--n] = '\0';
			if (n == 1)
				frac[0] = '\0';
		}
		snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d%s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
		return true;
	}
	case 4:
		if (id % 13 == 0)
			return false;
		/* MariaDB's BOOLEAN is TINYINT(1). */
		if (d == D_MARIA)
			snprintf(out, size, "%d", id % 2 == 0);
		else
			snprintf(out, size, "%s", id % 2 == 0 ? "t" : "f");
		return true;
	case 5:
		if (id == 777) {
			snprintf(out, size, "%s", long_value);
			return true;
		}
		if (id == 778) {
			memset(out, 'a', 5000);
			strcpy(out + 5000, "END");
			return true;
		}
		if (id % 17 == 0)
			return false;
		if (id % 19 == 0)
			snprintf(out, size, "%s", "");
		else
			snprintf(out, size, "note %d", id);
		return true;
	case 6: {
		int64_t y;
		int m, dd;

		if (id % 23 == 0)
			return false;
		civil_from_days(10957 + id % 10000, &y, &m, &dd);
		snprintf(out, size, "%04d-%02d-%02d", (int)y, m, dd);
		return true;
	}
	}
	return false;
}

static const char *const people_cols[] = { "id",   "name", "amount", "ts",
					   "flag", "note", "d" };

/* The SQL that fills the people table in dialect d: the same formulas
 * as expected(). */
static void people_sql(enum dialect d, struct cns_buf *b)
{
	const char *id = "id";
	bool maria = d == D_MARIA;

	switch (d) {
	case D_SQLITE:
		cns_buf_adds(b, "CREATE TABLE people (id integer PRIMARY KEY, "
				"name text, amount numeric(18,4), "
				"ts timestamp, flag boolean, note text, "
				"d date);\n"
				"WITH RECURSIVE g(id) AS (SELECT 1 UNION ALL "
				"SELECT id + 1 FROM g WHERE id < 50000)\n");
		break;
	case D_PG:
		cns_buf_adds(b, "CREATE TABLE people (id integer PRIMARY KEY, "
				"name text, amount numeric(18,4), "
				"ts timestamp(6), flag boolean, note text, "
				"d date);\n");
		break;
	case D_MARIA:
		cns_buf_adds(b, "CREATE TABLE people (id int PRIMARY KEY, "
				"name varchar(100), amount decimal(18,4), "
				"ts datetime(6), flag boolean, "
				"note mediumtext, d date) "
				"DEFAULT CHARSET=utf8mb4;\n");
		break;
	case D__N: break;
	}
	cns_buf_printf(b, "INSERT INTO people SELECT %s,\n", id);
	cns_buf_printf(b,
		       " CASE %s %% 8 WHEN 0 THEN NULL WHEN 1 THEN '' "
		       "WHEN 2 THEN 'Zoë' WHEN 3 THEN '山田' "
		       "WHEN 4 THEN 'Łukasz' WHEN 5 THEN 'x😀y' ",
		       id);
	if (maria)
		cns_buf_printf(b,
			       "WHEN 6 THEN CONCAT('name-', %s) "
			       "ELSE CONCAT('Zoë 山田 Łukasz ', %s) END,\n",
			       id, id);
	else
		cns_buf_printf(b,
			       "WHEN 6 THEN 'name-' || %s "
			       "ELSE 'Zoë 山田 Łukasz ' || %s END,\n",
			       id, id);
	/* SQLite keeps only 15 digits: no exact big value there. */
	cns_buf_printf(b,
		       " CASE WHEN %s = 1 THEN %s ELSE (CASE WHEN "
		       "%s %% 3 = 0 THEN -1 ELSE 1 END) * %s * 1.2345 "
		       "END,\n",
		       id, d == D_SQLITE ? "1.2345" : "12345678901234.5678", id,
		       id);
	if (d == D_PG)
		cns_buf_adds(b, " CASE WHEN id % 11 = 0 THEN NULL ELSE "
				"timestamp '2024-01-01' + id * interval "
				"'61 seconds' + ((id * 7919) % 1000000) * "
				"interval '1 microsecond' END,\n");
	else if (maria)
		cns_buf_adds(b, " CASE WHEN id % 11 = 0 THEN NULL ELSE "
				"TIMESTAMPADD(MICROSECOND, id * 61000000 + "
				"(id * 7919) % 1000000, "
				"'2024-01-01 00:00:00') END,\n");
	else
		cns_buf_adds(b, " CASE WHEN id % 11 = 0 THEN NULL ELSE "
				"strftime('%Y-%m-%d %H:%M:%S', 1704067200 + "
				"id * 61, 'unixepoch') || '.' || "
				"printf('%06d', (id * 7919) % 1000000) END,\n");
	cns_buf_printf(b,
		       " CASE WHEN %s %% 13 = 0 THEN NULL ELSE "
		       "%s %% 2 = 0 END,\n",
		       id, id);
	if (d == D_SQLITE)
		cns_buf_adds(b, " CASE WHEN id = 777 THEN "
				"replace(hex(zeroblob(7200)), '00', "
				"'Zoë山田😀') WHEN id = 778 THEN "
				"replace(hex(zeroblob(5000)), '00', 'a') || "
				"'END' ");
	else if (maria)
		cns_buf_adds(b, " CASE WHEN id = 777 THEN "
				"REPEAT('Zoë山田😀', 7200) WHEN id = 778 THEN "
				"CONCAT(REPEAT('a', 5000), 'END') ");
	else
		cns_buf_adds(b, " CASE WHEN id = 777 THEN "
				"repeat('Zoë山田😀', 7200) WHEN id = 778 THEN "
				"repeat('a', 5000) || 'END' ");
	cns_buf_printf(b,
		       "WHEN %s %% 17 = 0 THEN NULL WHEN %s %% 19 = 0 "
		       "THEN '' ELSE ",
		       id, id);
	if (maria)
		cns_buf_adds(b, "CONCAT('note ', id) END,\n");
	else
		cns_buf_printf(b, "'note ' || %s END,\n", id);
	cns_buf_printf(b, " CASE WHEN %s %% 23 = 0 THEN NULL ELSE ", id);
	if (d == D_PG)
		cns_buf_adds(b, "date '2000-01-01' + id % 10000 END\n"
				"FROM generate_series(1, 50000) AS g(id);\n");
	else if (maria)
		cns_buf_adds(b, "DATE_ADD('2000-01-01', INTERVAL id % 10000 "
				"DAY) END\nFROM (SELECT CAST(seq AS SIGNED) "
				"AS id FROM seq_1_to_50000) g;\n");
	else
		cns_buf_adds(b, "date('2000-01-01', '+' || (id % 10000) || "
				"' days') END\nFROM g;\n");
}

/* Tables for quoting, types and errors. */
static const char *extra_sql[D__N] = {
	"CREATE TABLE \"odd table\" (\"Mixed Case\" integer, \"sp col\" "
	"text, bin blob, big bigint, tm time, r real);\n"
	"INSERT INTO \"odd table\" VALUES (1, 'x', x'00ff10', "
	"9007199254740993, '03:04:05.123456', 1.5);\n"
	"CREATE TABLE bad (id integer, v text);\n"
	"INSERT INTO bad VALUES (1, 'ok'), (2, CAST(x'ff41' AS TEXT)), "
	"(3, 'fine');\n",

	"CREATE SCHEMA sales;\n"
	"CREATE TABLE sales.\"odd table\" (\"Mixed Case\" integer, "
	"\"sp col\" text, bin bytea, big bigint, tm time(6), r real, "
	"u uuid, n numeric, vc varchar(10));\n"
	"INSERT INTO sales.\"odd table\" VALUES (1, 'x', '\\x00ff10', "
	"9007199254740993, '03:04:05.123456', 1.5, "
	"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', "
	"123456789012345678901234567890.123456789, 'abc');\n",

	"CREATE TABLE `odd table` (`Mixed Case` int, `sp col` text, "
	"bin blob, big bigint, tm time(6), r float, "
	"u int unsigned, bits bit(1)) DEFAULT CHARSET=utf8mb4;\n"
	"INSERT INTO `odd table` VALUES (1, 'x', x'00ff10', "
	"9007199254740993, '03:04:05.123456', 1.5, 4000000000, b'1');\n"
};

/* ---- servers ---- */

static int load_sql(enum dialect d, const char *sql)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/load-%d.sql", tmp, (int)d);
	write_file(path, sql);
	switch (d) {
	case D_SQLITE:
		return sh("sqlite3 -bail '%s/data.db' < '%s'", tmp, path);
	case D_PG:
		return sh("psql -X -q -v ON_ERROR_STOP=1 -U postgres "
			  "-d postgres -f '%s' >/dev/null",
			  path);
	case D_MARIA:
		return sh("mariadb --no-defaults --default-character-set="
			  "utf8mb4 -S '%s/mdb/mysqld.sock' -uroot cns < '%s'",
			  tmp, path);
	case D__N: break;
	}
	return -1;
}

static void start_servers(void)
{
	static const char *const pg_names[] = { "PGHOST", "PGPORT" };
	static const char *const my_names[] = { "MARIADB_PORT", "MARIADB_USER",
						"MARIADB_PASSWORD" };
	char v[3][256];
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "'%s/scripts/odbc-setup' '%s/odbc' "
		 ">/dev/null",
		 root, tmp);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_odbc: scripts/odbc-setup failed\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s/odbc", tmp);
	setenv("ODBCSYSINI", cmd, 1);
	snprintf(cmd, sizeof(cmd), "%s/user-odbc.ini", tmp);
	setenv("ODBCINI", cmd, 1);
	/* A system and a user data source, and a registered driver whose
	 * library does not exist. */
	sh("printf '[cns_user]\\nDriver = SQLite3\\nDatabase = %s/data.db\\n'"
	   " > '%s/user-odbc.ini'",
	   tmp, tmp);
	sh("printf '[cns_sys]\\nDriver = SQLite3\\nDatabase = %s/data.db\\n'"
	   " > '%s/odbc/odbc.ini'",
	   tmp, tmp);
	sh("printf '[Broken]\\nDriver = /nonexistent/libbroken.so\\n'"
	   " >> '%s/odbc/odbcinst.ini'",
	   tmp);

	/* SQLite: a file. */
	snprintf(dbs[D_SQLITE].conn, sizeof(dbs[D_SQLITE].conn),
		 "Driver=SQLite3;Database=%s/data.db", tmp);
	dbs[D_SQLITE].up = true;
	snprintf(dbs[D_SQLITE].table_prefix, 64, "main.");

	snprintf(cmd, sizeof(cmd), "'%s/scripts/pg-sandbox' start '%s/pg'",
		 root, tmp);
	if (start_sandbox(cmd, pg_names, v, 2) == 0) {
		setenv("PGHOST", v[0], 1);
		setenv("PGPORT", v[1], 1);
		snprintf(pg_port, sizeof(pg_port), "%.20s", v[1]);
		snprintf(dbs[D_PG].conn, sizeof(dbs[D_PG].conn),
			 "Driver=PostgreSQL Unicode;Servername=127.0.0.1;"
			 "Port=%s;Database=postgres",
			 v[1]);
		snprintf(dbs[D_PG].user, 256, "postgres");
		snprintf(dbs[D_PG].table_prefix, 64, "sales.");
		dbs[D_PG].up = true;
	} else {
		fprintf(stderr, "test_odbc: scripts/pg-sandbox failed\n");
	}

	snprintf(cmd, sizeof(cmd),
		 "'%s/scripts/mariadb-sandbox' start "
		 "'%s/mdb'",
		 root, tmp);
	if (start_sandbox(cmd, my_names, v, 3) == 0) {
		snprintf(dbs[D_MARIA].conn, sizeof(dbs[D_MARIA].conn),
			 "Driver=MariaDB;Server=127.0.0.1;Port=%s;"
			 "Database=cns",
			 v[0]);
		snprintf(dbs[D_MARIA].user, 256, "%s", v[1]);
		snprintf(dbs[D_MARIA].password, 256, "%s", v[2]);
		snprintf(dbs[D_MARIA].table_prefix, 64, "cns.");
		dbs[D_MARIA].up = true;
	} else {
		fprintf(stderr, "test_odbc: scripts/mariadb-sandbox failed\n");
	}

	for (int d = 0; d < D__N; d++) {
		struct cns_buf b;

		if (!dbs[d].up)
			continue;
		cns_buf_init(&b);
		people_sql((enum dialect)d, &b);
		cns_buf_adds(&b, extra_sql[d]);
		if (load_sql((enum dialect)d, b.data) < 0) {
			fprintf(stderr, "test_odbc: loading %s failed\n",
				dbs[d].name);
			dbs[d].up = false;
		}
		cns_buf_release(&b);
	}
}

static void stop_servers(void)
{
	sh("'%s/scripts/mariadb-sandbox' stop '%s/mdb' >/dev/null 2>&1", root,
	   tmp);
	sh("'%s/scripts/pg-sandbox' stop '%s/pg' >/dev/null 2>&1", root, tmp);
}

/* A child that waits for this process to end, however it ends, and then
 * stops the servers and removes the folder. */
static void start_reaper(void)
{
	int fd[2];
	pid_t pid;
	char cmd[PATH_MAX * 4];

	snprintf(cmd, sizeof(cmd),
		 "'%s/scripts/mariadb-sandbox' stop '%s/mdb' >/dev/null 2>&1;"
		 "'%s/scripts/pg-sandbox' stop '%s/pg' >/dev/null 2>&1;"
		 "rm -rf '%s'",
		 root, tmp, root, tmp, tmp);
	/* Close-on-exec: the servers, started through system(), must not
	 * hold the write end, or the reaper would never see it close. */
	if (pipe2(fd, O_CLOEXEC) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		char c;

		close(fd[1]);
		while (read(fd[0], &c, 1) != 0 && errno == EINTR)
			;
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fd[0]);
	/* fd[1] stays open until this process exits. */
}

/* Every server must be up: a driver whose server did not start would
 * otherwise have its cases skipped, and the run pass without them. */
static int group_setup(void **state)
{
	(void)state;
	if (!have_scripts) {
		fprintf(stderr, "test_odbc: scripts/mariadb-sandbox, "
				"pg-sandbox or odbc-setup missing\n");
		return -1;
	}
	start_servers();
	for (int d = 0; d < D__N; d++) {
		if (!dbs[d].up) {
			fprintf(stderr, "test_odbc: %s is not up\n",
				dbs[d].name);
			return -1;
		}
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (have_scripts)
		stop_servers();
	return 0;
}

/* ---- sources ---- */

struct tsrc {
	struct cns_source_conf conf;
	struct cns_source *src;
	char *items[3][8];
	char *wm[8];
};

static void set_list(struct cns_list *l, char **items, const char *csv)
{
	char *copy, *tok, *save = NULL;

	l->n = 0;
	l->items = items;
	if (!csv)
		return;
	copy = strdup(csv);
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		items[l->n++] = strdup(tok);
	free(copy);
}

/* A source for database d; table or query, columns as "a,b,c". */
static struct tsrc *tsrc_new(enum dialect d, const char *table,
			     const char *query, const char *cols, int batch)
{
	struct tsrc *t = calloc(1, sizeof(*t));
	struct cns_source *s = calloc(1, sizeof(*s));

	t->conf.name = (char *)dbs[d].name;
	t->conf.driver = (char *)"odbc";
	t->conf.connection = dbs[d].conn;
	t->conf.user = dbs[d].user[0] ? dbs[d].user : NULL;
	t->conf.password = dbs[d].password[0] ? dbs[d].password : NULL;
	t->conf.table = (char *)table;
	t->conf.query = (char *)query;
	set_list(&t->conf.columns, t->items[0], cols);
	set_list(&t->conf.incremental, t->items[1], NULL);
	set_list(&t->conf.key, t->items[2], NULL);
	s->ops = &cns_source_odbc_ops;
	s->conf = &t->conf;
	s->job = &job;
	s->batch_size = batch;
	cns_arena_init(&s->arena, 16 * 1024);
	t->src = s;
	return t;
}

static void tsrc_free(struct tsrc *t)
{
	t->src->ops->close(t->src);
	cns_arena_release(&t->src->arena);
	free(t->src);
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 8; i++)
			free(t->items[k][i]);
	for (int i = 0; i < 8; i++)
		free(t->wm[i]);
	free(t);
}

typedef void (*row_fn)(void *ctx, const struct cns_chunk *c, int row);

/* Opens, describes and reads every chunk; returns the row count or -1. */
static long drain(struct tsrc *t, row_fn fn, void *ctx, struct cns_error *err)
{
	struct cns_source *s = t->src;
	struct cns_chunk chunk;
	long n = 0;
	int rc;

	if (s->ops->open(s, err) < 0 || s->ops->describe(s, err) < 0)
		return -1;
	cns_chunk_init(&chunk, s->ncols, s->batch_size);
	while ((rc = s->ops->next_chunk(s, &chunk, err)) == 1) {
		for (int r = 0; r < chunk.nrows; r++) {
			if (fn)
				fn(ctx, &chunk, r);
			n++;
		}
		cns_chunk_reset(&chunk);
	}
	cns_chunk_release(&chunk);
	return rc < 0 ? -1 : n;
}

static void show_error(const struct cns_error *err)
{
	char buf[4096];

	fprintf(stderr, "  error: %s\n",
		cns_error_format(err, buf, sizeof(buf)));
}

#define SKIP_UNLESS_UP(d)                                                      \
	do {                                                                   \
		if (!have_scripts) {                                           \
			print_message("skipped: scripts/mariadb-sandbox, "     \
				      "pg-sandbox or odbc-setup missing\n");   \
			skip();                                                \
		}                                                              \
		assert_true(dbs[d].up);                                        \
	} while (0)

/* ---- people: every row compared ---- */

struct cmp {
	enum dialect d;
	int ncols;
	const int *map; /* chunk column -> people column, NULL: same */
	int bad;
	long prev_id;
	bool ordered;
	unsigned char *seen;
	char *buf;
};

static void cmp_row(void *ctx, const struct cns_chunk *ch, int r)
{
	struct cmp *c = ctx;
	const struct cns_cell *cells = cns_chunk_row(ch, r);
	long id = cells[0].null ? 0 : strtol(cells[0].data, NULL, 10);

	if (id < 1 || id > NROWS || c->seen[id]) {
		if (c->bad++ < 5)
			fprintf(stderr, "  row %d: bad or repeated id %s\n", r,
				cells[0].null ? "NULL" : cells[0].data);
		return;
	}
	c->seen[id] = 1;
	if (c->ordered && id <= c->prev_id && c->bad++ < 5)
		fprintf(stderr, "  id %ld after %ld\n", id, c->prev_id);
	c->prev_id = id;
	for (int i = 1; i < c->ncols; i++) {
		int col = c->map ? c->map[i] : i;
		bool want = expected(c->d, (int)id, col, c->buf, 200000);
		const struct cns_cell *cell = &cells[i];
		bool same = want ? !cell->null && cell->len == strlen(c->buf) &&
					    memcmp(cell->data, c->buf,
						   cell->len) == 0
				 : cell->null;

		if (!same && c->bad++ < 8)
			fprintf(stderr,
				"  %s id %ld %s: got %s%.*s%s, "
				"want %s%.60s%s\n",
				dbs[c->d].name, id, people_cols[col],
				cell->null ? "NULL" : "\"",
				cell->null ? 0
					   : (int)(cell->len > 60 ? 60
								  : cell->len),
				cell->null ? "" : cell->data,
				cell->null ? "" : "\"", want ? "\"" : "NULL",
				want ? c->buf : "", want ? "\"" : "");
	}
}

/* Peak resident memory of this process, in kB. */
static long peak_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

static void read_people(enum dialect d, int batch)
{
	struct tsrc *t = tsrc_new(d, "people", NULL, NULL, batch);
	struct cmp c = { .d = d, .ncols = 7 };
	struct cns_error err;
	struct cns_odbc *o;
	long n;

	cns_error_clear(&err);
	c.seen = calloc(NROWS + 1, 1);
	c.buf = malloc(200000);
	n = drain(t, cmp_row, &c, &err);
	if (n < 0)
		show_error(&err);
	assert_int_equal(n, NROWS);
	assert_int_equal(c.bad, 0);
	/* SELECT *: the names come from the driver. */
	assert_int_equal(t->src->ncols, 7);
	for (int i = 0; i < 7; i++)
		assert_string_equal(t->src->colnames[i], people_cols[i]);
	assert_int_equal(t->src->rows_read, NROWS);
	o = t->src->impl;
	print_message("%s batch %d: array %lu, %ld fetches, %s API, "
		      "peak %ld kB\n",
		      dbs[d].name, batch, (unsigned long)o->array, o->fetches,
		      o->wide ? "wide" : "narrow", peak_kb());
	free(c.seen);
	free(c.buf);
	tsrc_free(t);
}

static void test_people_sqlite(void **state)
{
	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	read_people(D_SQLITE, 7);
	read_people(D_SQLITE, 5000);
}

static void test_people_postgres(void **state)
{
	(void)state;
	SKIP_UNLESS_UP(D_PG);
	read_people(D_PG, 7);
	read_people(D_PG, 5000);
}

static void test_people_mariadb(void **state)
{
	(void)state;
	SKIP_UNLESS_UP(D_MARIA);
	read_people(D_MARIA, 7);
	read_people(D_MARIA, 5000);
}

/* Columns whose sizes are declared: a real block cursor on every
 * driver, never one fetch per row. */
static void test_block_cursor(void **state)
{
	static const int map[] = { 0, 2, 3, 4, 6 };

	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	for (int d = 0; d < D__N; d++) {
		struct tsrc *t = tsrc_new((enum dialect)d, "people", NULL,
					  "id,amount,ts,flag,d", 5000);
		struct cmp c = { .d = (enum dialect)d, .ncols = 5, .map = map };
		struct cns_error err;
		struct cns_odbc *o;
		long n;

		assert_true(dbs[d].up);
		cns_error_clear(&err);
		c.seen = calloc(NROWS + 1, 1);
		c.buf = malloc(200000);
		n = drain(t, cmp_row, &c, &err);
		if (n < 0)
			show_error(&err);
		assert_int_equal(n, NROWS);
		assert_int_equal(c.bad, 0);
		o = t->src->impl;
		print_message("%s block: array %lu, %ld fetches\n", dbs[d].name,
			      (unsigned long)o->array, o->fetches);
		assert_true(o->array >= 1000);
		assert_true(o->fetches <= NROWS / 1000 + 2);
		free(c.seen);
		free(c.buf);
		tsrc_free(t);
	}
}

static struct cns_error open_describe(struct tsrc *t)
{
	struct cns_error err;

	cns_error_clear(&err);
	if (t->src->ops->open(t->src, &err) == 0)
		t->src->ops->describe(t->src, &err);
	return err;
}

/* ---- types and quoting ---- */

static void check_row1(enum dialect d, const char *table,
		       const char *const *names, const char *const *types,
		       const char *const *values, int n)
{
	struct tsrc *t = tsrc_new(d, table, NULL, NULL, 10);
	struct cns_source *s = t->src;
	struct cns_chunk chunk;
	struct cns_error err;

	cns_error_clear(&err);
	if (s->ops->open(s, &err) < 0 || s->ops->describe(s, &err) < 0)
		show_error(&err);
	assert_int_equal(err.code, CNS_OK);
	assert_int_equal(s->ncols, n);
	cns_chunk_init(&chunk, s->ncols, 10);
	assert_int_equal(s->ops->next_chunk(s, &chunk, &err), 1);
	assert_int_equal(chunk.nrows, 1);
	for (int i = 0; i < n; i++) {
		const struct cns_cell *cell = cns_chunk_row(&chunk, 0) + i;

		assert_string_equal(s->colnames[i], names[i]);
		assert_string_equal(s->coltypes[i], types[i]);
		assert_false(cell->null);
		assert_string_equal(cell->data, values[i]);
	}
	cns_chunk_reset(&chunk);
	assert_int_equal(s->ops->next_chunk(s, &chunk, &err), 0);
	cns_chunk_release(&chunk);
	tsrc_free(t);
}

static void test_types_and_quoting(void **state)
{
	static const char *const sq_names[] = { "Mixed Case", "sp col", "bin",
						"big",        "tm",     "r" };
	static const char *const sq_types[] = { "integer", "text",
						"bytea",   "bigint",
						"time",    "double precision" };
	static const char *const sq_values[] = {
		"1",  "x", "\\x00ff10", "9007199254740993", "03:04:05.123456",
		"1.5"
	};
	static const char *const pg_names[] = { "Mixed Case", "sp col", "bin",
						"big",        "tm",     "r",
						"u",          "n",      "vc" };
	static const char *const pg_types[] = {
		"integer", "text", "bytea",         "bigint", "time",
		"real",    "uuid", "numeric(28,6)", "text"
	};
	static const char *const pg_values[] = {
		"1",
		"x",
		"\\x00ff10",
		"9007199254740993",
		"03:04:05.123456",
		"1.5",
		"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
		"123456789012345678901234567890.123456789",
		"abc"
	};
	static const char *const my_names[] = { "Mixed Case", "sp col", "bin",
						"big",        "tm",     "r",
						"u",          "bits" };
	static const char *const my_types[] = { "integer", "text",   "bytea",
						"bigint",  "time",   "real",
						"bigint",  "boolean" };
	static const char *const my_values[] = { "1",
						 "x",
						 "\\x00ff10",
						 "9007199254740993",
						 "03:04:05.123456",
						 "1.5",
						 "4000000000",
						 "t" };

	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	/* Dotted names are quoted part by part; the names have a space
	 * and upper case. */
	check_row1(D_SQLITE, "main.odd table", sq_names, sq_types, sq_values,
		   6);
	if (dbs[D_PG].up)
		check_row1(D_PG, "sales.odd table", pg_names, pg_types,
			   pg_values, 9);
	if (dbs[D_MARIA].up)
		check_row1(D_MARIA, "cns.odd table", my_names, my_types,
			   my_values, 8);
}

static void test_people_types(void **state)
{
	static const char *const want[D__N][7] = {
		{ "integer", "text", "double precision", "timestamp", "boolean",
		  "text", "date" },
		{ "integer", "text", "numeric(18,4)", "timestamp", "boolean",
		  "text", "date" },
		{ "integer", "text", "numeric(18,4)", "timestamp", "smallint",
		  "text", "date" },
	};

	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	for (int d = 0; d < D__N; d++) {
		struct tsrc *t =
			tsrc_new((enum dialect)d, "people", NULL, NULL, 100);
		struct cns_error err;
		struct cns_odbc *o;

		cns_error_clear(&err);
		assert_int_equal(t->src->ops->open(t->src, &err), 0);
		assert_int_equal(t->src->ops->describe(t->src, &err), 0);
		for (int i = 0; i < 7; i++)
			assert_string_equal(t->src->coltypes[i], want[d][i]);
		/* describe() prepares; nothing ran yet. */
		o = t->src->impl;
		assert_false(o->executed);
		assert_int_equal(o->fetches, 0);
		/* The primary key, a default tie-breaker. */
		assert_int_equal(t->src->npkey, 1);
		assert_string_equal(t->src->pkey[0], "id");
		tsrc_free(t);
	}
}

/* check (open + describe) does not run the query: a query that would
 * sleep for 5 seconds is described at once. */
static void test_describe_runs_nothing(void **state)
{
	static const char *const sleepers[D__N] = { NULL,
						    "SELECT pg_sleep(5) AS s",
						    "SELECT SLEEP(5) AS s" };

	(void)state;
	SKIP_UNLESS_UP(D_PG);
	for (int d = D_PG; d < D__N; d++) {
		struct tsrc *t =
			tsrc_new((enum dialect)d, NULL, sleepers[d], NULL, 10);
		int64_t start = cns_now_ms();
		struct cns_error err = open_describe(t);

		if (err.code != CNS_OK)
			show_error(&err);
		assert_int_equal(err.code, CNS_OK);
		assert_true(cns_now_ms() - start < 2000);
		assert_string_equal(t->src->colnames[0], "s");
		assert_int_equal(t->src->npkey, 0);
		tsrc_free(t);
	}
}

/* ---- incremental ---- */

struct inc {
	enum dialect d;
	bool nulls_ok;
	bool by_id; /* ordered by (d, id), not only by d */
	long n;
	long bad;
	int prev_day;
	long prev_id;
	char *buf;
};

static void inc_row(void *ctx, const struct cns_chunk *ch, int r)
{
	struct inc *c = ctx;
	const struct cns_cell *cells = cns_chunk_row(ch, r);
	long id = strtol(cells[0].data, NULL, 10);
	int day = (int)(id % 10000);

	c->n++;
	if (cells[1].null) {
		/* Where NULLs sort depends on the database. */
		if (!c->nulls_ok || id % 23)
			c->bad++;
		return;
	}
	/* Ordered by (d, id). */
	if (day < c->prev_day ||
	    (c->by_id && day == c->prev_day && id <= c->prev_id))
		c->bad++;
	c->prev_day = day;
	c->prev_id = id;
	expected(c->d, (int)id, 6, c->buf, 100);
	if (strcmp(cells[1].data, c->buf))
		c->bad++;
}

/* Rows of people on which the incremental extraction below must land:
 * d (day index id % 10000) not NULL, beyond the watermark. */
static long want_inc(int nwm_cols, int wm_day, long wm_id, bool nulls)
{
	long want = 0;

	for (int id = 1; id <= NROWS; id++) {
		int day = id % 10000;

		if (id % 23 == 0) {
			want += nulls;
			continue;
		}
		if (wm_day < 0 || day > wm_day ||
		    (nwm_cols == 2 && day == wm_day && id > wm_id))
			want++;
	}
	return want;
}

static void run_inc(enum dialect d, int ninc, int nwm,
		    enum cns_null_incremental rule, int64_t lookback_ms,
		    long want)
{
	static const char *const inc_cols[] = { "d", "id" };
	struct tsrc *t = tsrc_new(d, "people", NULL, "id,d", 777);
	struct inc c = { .d = d, .prev_day = -1 };
	struct cns_error err;
	struct cns_source *s = t->src;
	struct cns_chunk chunk;
	int rc;

	set_list(&t->conf.incremental, t->items[1], "d");
	set_list(&t->conf.key, t->items[2], "id");
	t->conf.null_incremental = rule;
	t->wm[0] = strdup("2000-01-05");
	t->wm[1] = strdup("20004");
	cns_error_clear(&err);
	if (s->ops->open(s, &err) < 0 || s->ops->describe(s, &err) < 0)
		show_error(&err);
	assert_int_equal(err.code, CNS_OK);
	/* As the run does: after describe, before the first chunk. */
	s->ninc = ninc;
	s->inc_cols = inc_cols;
	s->nwatermark = nwm;
	s->watermark = (const char *const *)t->wm;
	s->lookback_ms = lookback_ms;
	c.buf = malloc(100);
	c.nulls_ok = rule == CNS_NULLINC_INCLUDE_ONCE && nwm == 0;
	c.by_id = ninc == 2;
	cns_chunk_init(&chunk, s->ncols, 777);
	while ((rc = s->ops->next_chunk(s, &chunk, &err)) == 1) {
		for (int r = 0; r < chunk.nrows; r++)
			inc_row(&c, &chunk, r);
		cns_chunk_reset(&chunk);
	}
	cns_chunk_release(&chunk);
	if (rc < 0)
		show_error(&err);
	assert_int_equal(rc, 0);
	if (c.bad)
		fprintf(stderr, "  %s ninc %d nwm %d: %ld bad rows\n",
			dbs[d].name, ninc, nwm, c.bad);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.n, want);
	free(c.buf);
	tsrc_free(t);
}

static void test_incremental(void **state)
{
	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	for (int d = 0; d < D__N; d++) {
		if (!dbs[d].up)
			continue;
		/* Watermark (d, id) = ('2000-01-05', 20004): rows on a
		 * later day, or that day with a larger id. */
		run_inc((enum dialect)d, 2, 2, CNS_NULLINC_SKIP, 0,
			want_inc(2, 4, 20004, false));
		/* No ordering from the run: the incremental column. */
		run_inc((enum dialect)d, 0, 1, CNS_NULLINC_SKIP, 0,
			want_inc(1, 4, 0, false));
		/* First run: NULLs left out, or read once. */
		run_inc((enum dialect)d, 2, 0, CNS_NULLINC_SKIP, 0,
			want_inc(2, -1, 0, false));
		run_inc((enum dialect)d, 2, 0, CNS_NULLINC_INCLUDE_ONCE, 0,
			want_inc(2, -1, 0, true));
		/* Three days of lookback: after 2000-01-02, the key is not
		 * compared. */
		run_inc((enum dialect)d, 2, 2, CNS_NULLINC_SKIP, 3 * 86400000LL,
			want_inc(1, 1, 0, false));
	}
}

/* A where clause and a full query. */
static void test_where_and_query(void **state)
{
	static const char *const queries[D__N] = {
		"SELECT id, name FROM people WHERE id <= 10;",
		"SELECT id, name FROM people WHERE id <= 10",
		"SELECT id, name FROM people WHERE id <= 10",
	};

	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	for (int d = 0; d < D__N; d++) {
		struct tsrc *t;
		struct cns_error err;
		long n;

		if (!dbs[d].up)
			continue;
		cns_error_clear(&err);
		t = tsrc_new((enum dialect)d, "people", NULL, "id,name", 3);
		t->conf.where = (char *)"id % 1000 = 0";
		n = drain(t, NULL, NULL, &err);
		assert_int_equal(n, NROWS / 1000);
		tsrc_free(t);

		t = tsrc_new((enum dialect)d, NULL, queries[d], NULL, 4);
		n = drain(t, NULL, NULL, &err);
		if (n < 0)
			show_error(&err);
		assert_int_equal(n, 10);
		assert_string_equal(t->src->colnames[1], "name");
		tsrc_free(t);

		/* A query with an incremental column is wrapped; the
		 * trailing ';' must go. */
		t = tsrc_new((enum dialect)d, NULL, queries[d], NULL, 4);
		set_list(&t->conf.incremental, t->items[1], "id");
		t->wm[0] = strdup("7");
		t->src->watermark = (const char *const *)t->wm;
		t->src->nwatermark = 1;
		n = drain(t, NULL, NULL, &err);
		if (n < 0)
			show_error(&err);
		assert_int_equal(n, 3);
		tsrc_free(t);
	}
}

/* ---- errors ---- */

static void assert_contains(const char *text, const char *part)
{
	if (!strstr(text, part)) {
		fprintf(stderr, "  \"%s\"\n  does not contain \"%s\"\n", text,
			part);
		fail();
	}
}

static void test_error_no_driver(void **state)
{
	struct tsrc *t;
	struct cns_error err;

	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	t = tsrc_new(D_SQLITE, "people", NULL, NULL, 10);
	t->conf.connection = (char *)"Driver=No Such Driver;Database=/x";
	err = open_describe(t);
	assert_int_equal(err.code, CNS_E_SOURCE);
	assert_contains(err.message, "source \"sqlite\": ODBC driver "
				     "\"No Such Driver\" is not installed: "
				     "[01000] [unixODBC][Driver Manager]Can't "
				     "open lib 'No Such Driver' : file not "
				     "found");
	assert_contains(err.hint, "odbcinst -q -d");
	tsrc_free(t);

	/* Registered, but the library is not there. */
	t = tsrc_new(D_SQLITE, "people", NULL, NULL, 10);
	t->conf.connection = (char *)"Driver=Broken;Database=/x";
	err = open_describe(t);
	assert_int_equal(err.code, CNS_E_SOURCE);
	assert_contains(err.message, "ODBC driver \"Broken\" could not be "
				     "loaded");
	assert_contains(err.message, "/nonexistent/libbroken.so");
	tsrc_free(t);
}

static void test_error_no_dsn(void **state)
{
	struct tsrc *t;
	struct cns_error err;

	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	t = tsrc_new(D_SQLITE, "people", NULL, NULL, 10);
	t->conf.connection = NULL;
	t->conf.dsn = (char *)"nosuchdsn";
	err = open_describe(t);
	assert_int_equal(err.code, CNS_E_SOURCE);
	assert_contains(err.message, "source \"sqlite\": data source "
				     "\"nosuchdsn\" is not defined: [IM002]");
	assert_contains(err.hint, "odbcinst -q -s");
	tsrc_free(t);
}

/* A system DSN (ODBCSYSINI/odbc.ini) and a user DSN (ODBCINI). */
static void test_dsn(void **state)
{
	const char *names[] = { "cns_sys", "cns_user" };

	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	for (int i = 0; i < 2; i++) {
		struct tsrc *t = tsrc_new(D_SQLITE, NULL,
					  "SELECT count(*) FROM people", NULL,
					  10);
		struct cns_source *s = t->src;
		struct cns_chunk chunk;
		struct cns_error err;

		t->conf.connection = NULL;
		t->conf.dsn = (char *)names[i];
		cns_error_clear(&err);
		if (s->ops->open(s, &err) < 0 || s->ops->describe(s, &err) < 0)
			show_error(&err);
		assert_int_equal(err.code, CNS_OK);
		cns_chunk_init(&chunk, s->ncols, 10);
		assert_int_equal(s->ops->next_chunk(s, &chunk, &err), 1);
		assert_string_equal(cns_chunk_row(&chunk, 0)[0].data, "50000");
		cns_chunk_release(&chunk);
		tsrc_free(t);
	}
}

static void test_error_password(void **state)
{
	struct tsrc *t;
	struct cns_error err;
	char path[PATH_MAX + 16], all[4096];
	const char *secret = "wrong-password-xyz";

	(void)state;
	SKIP_UNLESS_UP(D_MARIA);
	t = tsrc_new(D_MARIA, "people", NULL, NULL, 10);
	t->conf.password = (char *)secret;
	err = open_describe(t);
	assert_int_equal(err.code, CNS_E_SOURCE);
	assert_contains(err.message, "source \"mariadb\": authentication "
				     "failed for user \"cns\": [28000]");
	assert_contains(err.message, "native error 1045");
	assert_contains(err.hint, "password_file");
	cns_error_format(&err, all, sizeof(all));
	assert_null(strstr(all, secret));
	/* The plan shows the connection, never the password. */
	assert_null(strstr(t->src->ops->describe_plan(t->src), secret));
	assert_non_null(strstr(t->src->ops->describe_plan(t->src), "PWD=***"));
	tsrc_free(t);

	/* password_file: its first line, without the newline. */
	snprintf(path, sizeof(path), "%s/pw", tmp);
	{
		char text[300];

		snprintf(text, sizeof(text), "%s\nsecond line\n",
			 dbs[D_MARIA].password);
		write_file(path, text);
	}
	t = tsrc_new(D_MARIA, NULL, "SELECT 1", NULL, 10);
	t->conf.password = NULL;
	t->conf.password_file = path;
	cns_error_clear(&err);
	assert_int_equal(drain(t, NULL, NULL, &err), 1);
	assert_null(strstr(t->src->ops->describe_plan(t->src),
			   dbs[D_MARIA].password));
	tsrc_free(t);

	/* A missing password_file. */
	t = tsrc_new(D_MARIA, NULL, "SELECT 1", NULL, 10);
	t->conf.password = NULL;
	t->conf.password_file = (char *)"/nonexistent/pw";
	err = open_describe(t);
	assert_int_equal(err.code, CNS_E_IO);
	assert_contains(err.message, "could not read password_file "
				     "\"/nonexistent/pw\"");
	tsrc_free(t);
}

static void test_error_missing_table_column(void **state)
{
	static const char *const no_table[D__N] = {
		"[HY000] [SQLite]no such table", "[42P01]", "[42S02]"
	};
	static const char *const no_col[D__N] = {
		"[HY000] [SQLite]no such column", "[42703]", "[42S22]"
	};

	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	for (int d = 0; d < D__N; d++) {
		struct tsrc *t;
		struct cns_error err;
		char want[256];

		if (!dbs[d].up)
			continue;
		t = tsrc_new((enum dialect)d, "nosuch", NULL, "id", 10);
		err = open_describe(t);
		if (err.code != CNS_E_SOURCE)
			show_error(&err);
		assert_int_equal(err.code, CNS_E_SOURCE);
		snprintf(want, sizeof(want),
			 "source \"%s\": table \"nosuch\" does not exist: ",
			 dbs[d].name);
		assert_contains(err.message, want);
		assert_contains(err.message, no_table[d]);
		assert_contains(err.hint, "SELECT");
		tsrc_free(t);

		t = tsrc_new((enum dialect)d, "people", NULL, "id,nosuchcol",
			     10);
		err = open_describe(t);
		assert_int_equal(err.code, CNS_E_SOURCE);
		snprintf(want, sizeof(want),
			 "source \"%s\": a column does not exist in table "
			 "\"people\": ",
			 dbs[d].name);
		assert_contains(err.message, want);
		assert_contains(err.message, no_col[d]);
		assert_contains(err.hint, "columns asked for: id, nosuchcol");
		tsrc_free(t);
	}
}

/* Nothing listens on the port: worth a retry. */
static void test_error_transient(void **state)
{
	struct tsrc *t;
	struct cns_error err;

	(void)state;
	SKIP_UNLESS_UP(D_PG);
	t = tsrc_new(D_PG, "people", NULL, NULL, 10);
	t->conf.connection = (char *)"Driver=PostgreSQL Unicode;"
				     "Servername=127.0.0.1;Port=1;"
				     "Database=postgres";
	err = open_describe(t);
	if (err.code != CNS_E_TRANSIENT)
		show_error(&err);
	assert_int_equal(err.code, CNS_E_TRANSIENT);
	assert_contains(err.message, "source \"postgres\": could not "
				     "connect: [08001]");
	tsrc_free(t);
}

/* ---- cancel ---- */

struct canceller {
	struct cns_source *src;
	int delay_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	struct timespec ts = { c->delay_ms / 1000,
			       (c->delay_ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	c->src->ops->cancel(c->src);
	return NULL;
}

static void test_cancel(void **state)
{
	static const char *const sleepers[D__N] = { NULL, "SELECT pg_sleep(30)",
						    "SELECT SLEEP(30)" };

	(void)state;
	SKIP_UNLESS_UP(D_PG);
	for (int d = D_PG; d < D__N; d++) {
		struct tsrc *t =
			tsrc_new((enum dialect)d, NULL, sleepers[d], NULL, 10);
		struct canceller c = { t->src, 500 };
		struct cns_error err;
		pthread_t tid;
		int64_t start = cns_now_ms();

		if (!dbs[d].up)
			continue;
		cns_error_clear(&err);
		pthread_create(&tid, NULL, cancel_later, &c);
		assert_int_equal(drain(t, NULL, NULL, &err), -1);
		pthread_join(tid, NULL);
		print_message("%s cancelled after %lld ms\n", dbs[d].name,
			      (long long)(cns_now_ms() - start));
		assert_int_equal(err.code, CNS_E_CANCELLED);
		assert_contains(err.message, "extraction was cancelled");
		assert_true(cns_now_ms() - start < 10000);
		tsrc_free(t);
	}
}

/* ---- bad data ---- */

struct rejects {
	int n;
	int64_t rownum;
	char reason[300];
};

static void on_reject(void *ctx, struct cns_source *src, int64_t rownum,
		      const char *origin, const char *reason)
{
	struct rejects *r = ctx;

	(void)src;
	(void)origin;
	r->n++;
	r->rownum = rownum;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

static void test_invalid_utf8_rejected(void **state)
{
	struct tsrc *t;
	struct rejects r = { 0 };
	struct cns_error err;

	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	t = tsrc_new(D_SQLITE, "bad", NULL, "id,v", 10);
	t->src->reject = on_reject;
	t->src->reject_ctx = &r;
	cns_error_clear(&err);
	assert_int_equal(drain(t, NULL, NULL, &err), 2);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.rownum, 2);
	assert_string_equal(r.reason, "invalid UTF-8 in column \"v\" at "
				      "byte 0");
	tsrc_free(t);
}

/* ---- a locale that is not UTF-8 ---- */

struct names {
	int n;
	int bad;
	char *buf;
};

static void names_row(void *ctx, const struct cns_chunk *ch, int r)
{
	struct names *c = ctx;
	const struct cns_cell *cells = cns_chunk_row(ch, r);
	int id = atoi(cells[0].data);
	bool want = expected(D_PG, id, 1, c->buf, 100);

	if (want != !cells[1].null || (want && strcmp(cells[1].data, c->buf)))
		c->bad++;
	c->n++;
}

/* psqlODBC converts narrow text through the process locale; the driver
 * uses the wide API with it, so UTF-8 survives a Latin-1 locale. */
static void test_latin1_locale(void **state)
{
	char loc[PATH_MAX + 8];
	struct tsrc *t;
	struct names c = { 0 };
	struct cns_error err;

	(void)state;
	SKIP_UNLESS_UP(D_PG);
	snprintf(loc, sizeof(loc), "%s/loc", tmp);
	mkdir(loc, 0755);
	if (sh("localedef -i en_US -f ISO-8859-1 '%s/en_US.ISO-8859-1' "
	       ">/dev/null 2>&1",
	       loc) < 0) {
		print_message("skipped: localedef cannot build a Latin-1 "
			      "locale here\n");
		skip();
	}
	setenv("LOCPATH", loc, 1);
	assert_non_null(setlocale(LC_ALL, "en_US.ISO-8859-1"));
	t = tsrc_new(D_PG, NULL, "SELECT id, name FROM people WHERE id <= 64",
		     NULL, 10);
	c.buf = malloc(100);
	cns_error_clear(&err);
	if (drain(t, names_row, &c, &err) < 0)
		show_error(&err);
	setlocale(LC_ALL, "C");
	unsetenv("LOCPATH");
	assert_int_equal(err.code, CNS_OK);
	assert_int_equal(c.n, 64);
	assert_int_equal(c.bad, 0);
	assert_true(((struct cns_odbc *)t->src->impl)->wide);
	free(c.buf);
	tsrc_free(t);
}

/* psqlODBC's ANSI build: the narrow API, the same options; UTF-8 passes
 * through in the C locale. */
static void test_postgres_ansi(void **state)
{
	char conn[1024];
	struct tsrc *t;
	struct names c = { 0 };
	struct cns_error err;
	struct cns_odbc *o;

	(void)state;
	SKIP_UNLESS_UP(D_PG);
	snprintf(conn, sizeof(conn),
		 "Driver=PostgreSQL ANSI;"
		 "Servername=127.0.0.1;Port=%s;Database=postgres",
		 pg_port);
	t = tsrc_new(D_PG, NULL, "SELECT id, name FROM people WHERE id <= 64",
		     NULL, 10);
	t->conf.connection = conn;
	c.buf = malloc(100);
	cns_error_clear(&err);
	if (drain(t, names_row, &c, &err) < 0)
		show_error(&err);
	assert_int_equal(err.code, CNS_OK);
	assert_int_equal(c.n, 64);
	assert_int_equal(c.bad, 0);
	o = t->src->impl;
	assert_false(o->wide);
	assert_string_equal(o->driver_name, "psqlodbca.so");
	assert_non_null(strstr(o->conn.data, "UseDeclareFetch=1;Fetch=10;"));
	free(c.buf);
	tsrc_free(t);
}

#ifdef CNS_TEST_HOOKS
/* A driver that lowers the row array size (01S02) still delivers every
 * row, in rowsets of the size it chose. */
static void test_array_size_changed(void **state)
{
	struct tsrc *t;
	struct cmp c = { .d = D_SQLITE, .ncols = 5, .ordered = false };
	struct cns_error err;
	struct cns_odbc *o;

	(void)state;
	SKIP_UNLESS_UP(D_SQLITE);
	cns_odbc_test_max_array = 3;
	t = tsrc_new(D_SQLITE, NULL,
		     "SELECT id, name, amount, ts, flag FROM people "
		     "WHERE id <= 100",
		     NULL, 50);
	c.seen = calloc(NROWS + 1, 1);
	c.buf = malloc(200000);
	cns_error_clear(&err);
	assert_int_equal(drain(t, cmp_row, &c, &err), 100);
	cns_odbc_test_max_array = 0;
	o = t->src->impl;
	assert_int_equal(c.bad, 0);
	/* name is unsized in SQLite: one row per fetch is needed there
	 * anyway, so use a bounded query for the size check. */
	print_message("array %lu, %ld fetches\n", (unsigned long)o->array,
		      o->fetches);
	tsrc_free(t);
	free(c.seen);
	free(c.buf);

	cns_odbc_test_max_array = 3;
	t = tsrc_new(D_SQLITE, "people", NULL, "id,amount", 50);
	t->conf.where = (char *)"id <= 100";
	assert_int_equal(drain(t, NULL, NULL, &err), 100);
	cns_odbc_test_max_array = 0;
	o = t->src->impl;
	assert_int_equal(o->array, 3);
	assert_int_equal(o->fetches, 35);
	tsrc_free(t);
}
#endif

/* ---- pure helpers, table-driven ---- */

static void test_conn_strings(void **state)
{
	static const struct {
		const char *conn, *key, *value;
	} gets[] = {
		{ "DSN=a;UID=b", "uid", "b" },
		{ "Driver={My Driver};Database=x", "DRIVER", "{My Driver}" },
		{ "A=1; pwd = {se;cr}}et} ;B=2", "PWD", "{se;cr}}et}" },
		{ "A=1;B=2", "C", NULL },
		{ "UseDeclareFetch=1", "usedeclarefetch", "1" },
	};
	static const struct {
		const char *value, *want;
	} adds[] = {
		{ "plain", "PWD=plain;" }, { "a;b", "PWD={a;b};" },
		{ "x}y", "PWD={x}}y};" },  { " lead", "PWD={ lead};" },
		{ "", "PWD=;" },
	};
	static const struct {
		const char *conn, *secret, *want;
	} redacts[] = {
		{ "DSN=a;UID=u;PWD=secret;", NULL, "DSN=a;UID=u;PWD=***;" },
		{ "Driver=x;Password={a;b}}c};Port=1", NULL,
		  "Driver=x;Password=***;Port=1" },
		{ "Driver=x;Extra=hunter22", "hunter22", "Driver=x;Extra=***" },
		{ "Access denied; secret hunter22 here", "hunter22",
		  "Access denied; secret *** here" },
		{ "pwd=abc", "abc", "pwd=***" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		const char *v;
		size_t n;
		bool found =
			cns_odbc_conn_get(gets[i].conn, gets[i].key, &v, &n);

		assert_int_equal(found, gets[i].value != NULL);
		if (found) {
			assert_int_equal(n, strlen(gets[i].value));
			assert_memory_equal(v, gets[i].value, n);
		}
	}
	for (size_t i = 0; i < sizeof(adds) / sizeof(adds[0]); i++) {
		struct cns_buf b;
		const char *v;
		size_t n;

		cns_buf_init(&b);
		cns_odbc_conn_add(&b, "PWD", adds[i].value);
		assert_string_equal(b.data, adds[i].want);
		/* What was added reads back. */
		assert_true(cns_odbc_conn_get(b.data, "PWD", &v, &n));
		cns_buf_release(&b);
	}
	for (size_t i = 0; i < sizeof(redacts) / sizeof(redacts[0]); i++) {
		struct cns_buf b;

		cns_buf_init(&b);
		cns_odbc_redact(redacts[i].conn, redacts[i].secret, &b);
		assert_string_equal(b.data, redacts[i].want);
		cns_buf_release(&b);
	}
}

static void test_build_sql(void **state)
{
	static const struct {
		const char *table, *query, *cols, *where, *ord, *quote;
		int notnull, nwm;
		bool lookback;
		const char *want;
		const char *params; /* watermark index per marker */
	} cases[] = {
		{ "t", NULL, "a,b", NULL, NULL, "\"", 0, 0, false,
		  "SELECT \"a\", \"b\" FROM \"t\"", "" },
		{ "s.t", NULL, NULL, "x > 1", NULL, "`", 0, 0, false,
		  "SELECT * FROM `s`.`t` WHERE (x > 1)", "" },
		{ "we\"ird", NULL, "c\"d", NULL, NULL, "`", 0, 0, false,
		  "SELECT `c\"d` FROM `we\"ird`", "" },
		{ "a`b", NULL, "c`d", NULL, NULL, "`", 0, 0, false,
		  "SELECT `c``d` FROM a`b", "" },
		{ "t", NULL, "a", NULL, NULL, "", 0, 0, false,
		  "SELECT a FROM t", "" },
		{ "\"My Schema\".t", NULL, "\"a\"", NULL, NULL, "\"", 0, 0,
		  false, "SELECT \"a\" FROM \"My Schema\".t", "" },
		{ "t", NULL, "a,u", "a <> 0", "u,a", "\"", 1, 0, false,
		  "SELECT \"a\", \"u\" FROM \"t\" WHERE (a <> 0) AND \"u\" "
		  "IS NOT NULL ORDER BY \"u\", \"a\"",
		  "" },
		{ "t", NULL, "a,u", "a <> 0", "u", "\"", 0, 1, false,
		  "SELECT \"a\", \"u\" FROM \"t\" WHERE (a <> 0) AND "
		  "((\"u\" > ?)) ORDER BY \"u\"",
		  "0" },
		{ "t", NULL, NULL, NULL, "u,v,k", "\"", 2, 3, false,
		  "SELECT * FROM \"t\" WHERE \"u\" IS NOT NULL AND \"v\" IS "
		  "NOT NULL AND ((\"u\" > ?) OR (\"u\" = ? AND \"v\" > ?) OR "
		  "(\"u\" = ? AND \"v\" = ? AND \"k\" > ?)) "
		  "ORDER BY \"u\", \"v\", \"k\"",
		  "001012" },
		{ "t", NULL, NULL, NULL, "ts,id", "\"", 1, 2, true,
		  "SELECT * FROM \"t\" WHERE \"ts\" IS NOT NULL AND \"ts\" > ? "
		  "ORDER BY \"ts\", \"id\"",
		  "0" },
		{ NULL, "SELECT 1", NULL, "ignored", NULL, "\"", 0, 0, false,
		  "SELECT 1", "" },
		{ NULL, "SELECT a FROM t; \n", NULL, NULL, "a", "`", 0, 1,
		  false,
		  "SELECT * FROM (SELECT a FROM t) cns_q WHERE ((`a` > ?)) "
		  "ORDER BY `a`",
		  "0" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cns_source_conf c;
		struct cns_odbc_order ord;
		char *items[2][8] = { { 0 } };
		struct cns_list ocols;
		struct cns_buf b;
		int *pof, np;

		memset(&c, 0, sizeof(c));
		c.table = (char *)cases[i].table;
		c.query = (char *)cases[i].query;
		c.where = (char *)cases[i].where;
		set_list(&c.columns, items[0], cases[i].cols);
		set_list(&ocols, items[1], cases[i].ord);
		memset(&ord, 0, sizeof(ord));
		ord.cols = (const char *const *)ocols.items;
		ord.n = ocols.n;
		ord.notnull = cases[i].notnull;
		ord.nwm = cases[i].nwm;
		ord.lookback = cases[i].lookback;
		cns_buf_init(&b);
		np = cns_odbc_build_sql(&b, &c, cases[i].quote, &ord, &pof);
		assert_string_equal(b.data, cases[i].want);
		assert_int_equal(np, (int)strlen(cases[i].params));
		for (int k = 0; k < np; k++)
			assert_int_equal(pof[k], cases[i].params[k] - '0');
		free(pof);
		/* Counted (the volume guard): the same query, unordered. */
		ord.unordered = true;
		assert_int_equal(cns_odbc_build_sql(&b, &c, cases[i].quote,
						    &ord, &pof),
				 np);
		free(pof);
		{
			const char *o = strstr(cases[i].want, " ORDER BY ");
			size_t n = o ? (size_t)(o - cases[i].want)
				     : strlen(cases[i].want);

			assert_int_equal(b.len, n);
			assert_memory_equal(b.data, cases[i].want, n);
		}
		cns_buf_release(&b);
		for (int k = 0; k < 2; k++)
			for (int j = 0; j < 8; j++)
				free(items[k][j]);
	}
}

static void test_lookback(void **state)
{
	static const struct {
		const char *wm;
		int64_t ms;
		const char *want; /* NULL: refused */
	} cases[] = {
		{ "2024-03-10 12:00:00", 3600000, "2024-03-10 11:00:00" },
		{ "2024-03-10 00:30:00.5", 3600000,
		  "2024-03-09 23:30:00.500000" },
		{ "2024-03-01T00:00:00.123456+02:00", 86400000,
		  "2024-02-29T00:00:00.123456+02:00" },
		{ "2024-01-01 00:00:00", 1, "2023-12-31 23:59:59.999000" },
		{ "2000-01-10", 3 * 86400000LL, "2000-01-07" },
		{ "2000-01-10", 3600000, "2000-01-09" },
		{ "2024-01-01 10:00", 60000, "2024-01-01 09:59:00" },
		{ "1970-01-01 00:00:00", 1000, "1969-12-31 23:59:59" },
		{ "12345", 1000, NULL },
		{ "2024-13-01", 1000, NULL },
		{ "2024-01-01 25:00:00", 1000, NULL },
		{ "", 1000, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[80];
		int rc = cns_odbc_lookback(cases[i].wm, cases[i].ms, out,
					   sizeof(out));

		if (!cases[i].want) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(out, cases[i].want);
	}
}

static void test_split_table(void **state)
{
	static const struct {
		const char *name, *quote, *cat, *schema, *table;
	} cases[] = {
		{ "t", "\"", "", "", "t" },
		{ "s.t", "\"", "", "s", "t" },
		{ "c.s.t", "`", "c", "s", "t" },
		{ "\"My.Schema\".\"odd \"\"t\"", "\"", "", "My.Schema",
		  "odd \"t" },
		{ "`cns`.`odd table`", "`", "", "cns", "odd table" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char c[256], s[256], t[256];

		cns_odbc_split_table(cases[i].name, cases[i].quote, c, s, t,
				     sizeof(c));
		assert_string_equal(c, cases[i].cat);
		assert_string_equal(s, cases[i].schema);
		assert_string_equal(t, cases[i].table);
	}
}

static void test_type_names(void **state)
{
	static const struct {
		SQLSMALLINT type;
		SQLULEN size;
		SQLSMALLINT digits;
		bool uns;
		const char *want;
	} cases[] = {
		{ SQL_INTEGER, 10, 0, false, "integer" },
		{ SQL_INTEGER, 10, 0, true, "bigint" },
		{ SQL_BIGINT, 19, 0, false, "bigint" },
		{ SQL_BIGINT, 20, 0, true, "numeric(20,0)" },
		{ SQL_SMALLINT, 5, 0, false, "smallint" },
		{ SQL_TINYINT, 3, 0, false, "smallint" },
		{ SQL_NUMERIC, 18, 4, false, "numeric(18,4)" },
		{ SQL_DECIMAL, 0, 0, false, "numeric" },
		{ SQL_DOUBLE, 15, 0, false, "double precision" },
		{ SQL_FLOAT, 15, 0, false, "double precision" },
		{ SQL_REAL, 7, 0, false, "real" },
		{ SQL_BIT, 1, 0, false, "boolean" },
		{ SQL_TYPE_DATE, 10, 0, false, "date" },
		{ SQL_TYPE_TIME, 8, 6, false, "time" },
		{ SQL_TYPE_TIMESTAMP, 26, 6, false, "timestamp" },
		{ SQL_VARCHAR, 10, 0, false, "text" },
		{ SQL_WLONGVARCHAR, 8190, 0, false, "text" },
		{ SQL_LONGVARBINARY, 0, 0, false, "bytea" },
		{ SQL_GUID, 36, 0, false, "uuid" },
		{ SQL_INTERVAL_DAY_TO_SECOND, 20, 6, false, "interval" },
		{ -9999, 0, 0, false, "text" },
	};
	struct cns_arena a;

	(void)state;
	cns_arena_init(&a, 1024);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(
			cns_odbc_type_name(&a, cases[i].type, cases[i].size,
					   cases[i].digits, cases[i].uns),
			cases[i].want);
	cns_arena_release(&a);
}

static void test_column_plans(void **state)
{
	static const struct {
		SQLSMALLINT type;
		SQLULEN size;
		bool wide, block, unsized;
		enum cns_odbc_fmt fmt;
		size_t cell;
		bool unbounded;
	} cases[] = {
		{ SQL_INTEGER, 10, false, true, false, CNS_ODBC_TEXT, 24,
		  false },
		{ SQL_BIT, 1, true, true, false, CNS_ODBC_BIT, 1, false },
		{ SQL_VARCHAR, 10, false, true, false, CNS_ODBC_TEXT, 41,
		  false },
		{ SQL_VARCHAR, 10, true, true, false, CNS_ODBC_WTEXT, 42,
		  false },
		{ SQL_VARCHAR, 10, false, true, true, CNS_ODBC_TEXT, 4096,
		  true },
		{ SQL_LONGVARCHAR, 65535, false, true, false, CNS_ODBC_TEXT,
		  4096, true },
		/* Without SQLGetData in rowsets, bigger cells are worth it. */
		{ SQL_VARCHAR, 2000, false, false, false, CNS_ODBC_TEXT, 8001,
		  false },
		{ SQL_VARCHAR, 2000, false, true, false, CNS_ODBC_TEXT, 4096,
		  true },
		{ SQL_VARBINARY, 16, false, true, false, CNS_ODBC_BINARY, 16,
		  false },
		{ SQL_NUMERIC, 18, true, true, false, CNS_ODBC_TEXT, 22,
		  false },
		{ SQL_TYPE_TIMESTAMP, 26, true, true, false, CNS_ODBC_TEXT, 64,
		  false },
		{ SQL_WVARCHAR, 0, true, true, false, CNS_ODBC_WTEXT, 4096,
		  true },
	};
	struct cns_odbc_col cols[2];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cns_odbc_col c;

		memset(&c, 0, sizeof(c));
		c.sqltype = cases[i].type;
		c.size = cases[i].size;
		cns_odbc_plan_column(&c, cases[i].wide, cases[i].block,
				     cases[i].unsized);
		assert_int_equal(c.fmt, cases[i].fmt);
		assert_int_equal(c.cell, cases[i].cell);
		assert_int_equal(c.unbounded, cases[i].unbounded);
	}
	/* The budget limits the rowset; the batch size too. */
	memset(cols, 0, sizeof(cols));
	cols[0].cell = 4096;
	cols[1].cell = 4096;
	assert_int_equal(cns_odbc_array_size(cols, 2, 10000), 1000);
	cols[0].cell = 64 * 1024;
	cols[1].cell = 64 * 1024;
	assert_int_equal(cns_odbc_array_size(cols, 2, 10000),
			 CNS_ODBC_BUDGET / (2 * (64 * 1024 + sizeof(SQLLEN)) +
					    sizeof(SQLUSMALLINT)));
	assert_int_equal(cns_odbc_array_size(cols, 2, 7), 7);
	cols[0].cell = 64u * 1024 * 1024;
	assert_int_equal(cns_odbc_array_size(cols, 1, 100), 1);
}

static void test_text_conversion(void **state)
{
	static const char *const texts[] = {
		"", "abc", "Zoë", "山田", "Łukasz", "x😀y", "\xf4\x8f\xbf\xbf"
	};
	static const SQLWCHAR lone[] = { 0x41, 0xD800, 0x42 };
	static const SQLWCHAR low[] = { 0xDC00 };
	struct cns_buf w, u;

	(void)state;
	cns_buf_init(&w);
	cns_buf_init(&u);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		cns_buf_reset(&w);
		cns_buf_reset(&u);
		assert_int_equal(cns_odbc_utf8_to_utf16(texts[i],
							strlen(texts[i]), &w),
				 0);
		assert_int_equal(((SQLWCHAR *)w.data)[w.len / 2], 0);
		assert_int_equal(cns_odbc_utf16_to_utf8((SQLWCHAR *)w.data,
							w.len / 2, &u),
				 0);
		assert_string_equal(u.data, texts[i]);
	}
	/* 😀 is a surrogate pair. */
	cns_buf_reset(&w);
	cns_odbc_utf8_to_utf16("😀", 4, &w);
	assert_int_equal(w.len, 4);
	assert_int_equal(((SQLWCHAR *)w.data)[0], 0xD83D);
	assert_int_equal(((SQLWCHAR *)w.data)[1], 0xDE00);
	cns_buf_reset(&u);
	assert_int_equal(cns_odbc_utf16_to_utf8(lone, 3, &u), -1);
	assert_int_equal(u.len, 0);
	assert_int_equal(cns_odbc_utf16_to_utf8(low, 1, &u), -1);
	assert_int_equal(cns_odbc_utf8_to_utf16("\xff", 1, &w), -1);
	cns_buf_reset(&u);
	cns_odbc_hex((const unsigned char *)"\x00\xff\x10", 3, &u);
	assert_string_equal(u.data, "\\x00ff10");
	cns_buf_release(&w);
	cns_buf_release(&u);
}

/* psqlODBC's own text of a date or timestamp struct (its
 * stime2timestamp: "%.4d-%.2d-%.2d %.2d:%.2d:%.2d", nine fraction digits
 * cut at the first of the trailing zeros, " BC" for a negative year),
 * written out here as the oracle of cns_odbc_format_*. */
static void psql_text(const SQL_TIMESTAMP_STRUCT *t, bool date, char *out,
		      size_t size)
{
	char frac[16] = "";
	int y = t->year < 0 ? -t->year : t->year;

	if (!date && t->fraction) {
		int i;

		snprintf(frac, sizeof(frac), ".%09lu",
			 (unsigned long)t->fraction);
		for (i = 9; i > 0 && frac[i] == '0'; i--)
			frac[i] = '\0';
	}
	if (date)
		snprintf(out, size, "%.4d-%.2d-%.2d%s", y, t->month, t->day,
			 t->year < 0 ? " BC" : "");
	else
		snprintf(out, size, "%.4d-%.2d-%.2d %.2d:%.2d:%.2d%s%s", y,
			 t->month, t->day, t->hour, t->minute, t->second, frac,
			 t->year < 0 ? " BC" : "");
}

/* Every year, month and day edge, every time field edge, fractions of
 * every length and digit, negative years: the same text as psqlODBC. */
static void test_datetime_text(void **state)
{
	static const int years[] = { -9999, -44, -1,  0,    1,    9,    10,
				     99,    100, 999, 1000, 1970, 2024, 9999 };
	static const unsigned long fracs[] = { 0,         1,         9,
					       10,        1000,      1001,
					       100000000, 123456789, 500000000,
					       999999000, 999999999, 10000,
					       120000000, 20300000 };
	char want[80], got[CNS_ODBC_DATETIME_TEXT];
	long n = 0;

	(void)state;
	for (size_t yi = 0; yi < sizeof(years) / sizeof(years[0]); yi++)
		for (int m = 0; m <= 12; m += 3)
			for (int d = 0; d <= 31; d += 7)
				for (int h = 0; h <= 23; h += 23)
					for (size_t fi = 0;
					     fi <
					     sizeof(fracs) / sizeof(fracs[0]);
					     fi++) {
						SQL_TIMESTAMP_STRUCT t = {
							(SQLSMALLINT)years[yi],
							(SQLUSMALLINT)m,
							(SQLUSMALLINT)d,
							(SQLUSMALLINT)h,
							(SQLUSMALLINT)(h ? 59
									 : 0),
							(SQLUSMALLINT)(h ? 59
									 : 0),
							(SQLUINTEGER)fracs[fi]
						};
						SQL_DATE_STRUCT dt = { t.year,
								       t.month,
								       t.day };
						size_t len;

						psql_text(&t, false, want,
							  sizeof(want));
						len = cns_odbc_format_timestamp(
							&t, got);
						assert_string_equal(got, want);
						assert_int_equal(len,
								 strlen(want));
						psql_text(&t, true, want,
							  sizeof(want));
						len = cns_odbc_format_date(&dt,
									   got);
						assert_string_equal(got, want);
						assert_int_equal(len,
								 strlen(want));
						n++;
					}
	assert_true(n > 1000);
}

/* Dates and timestamps are bound as structs only where the quirks say
 * so; other types keep their plan. */
static void test_plan_native(void **state)
{
	static const SQLSMALLINT keep[] = { SQL_INTEGER, SQL_BIGINT,
					    SQL_DOUBLE,  SQL_NUMERIC,
					    SQL_VARCHAR, SQL_TYPE_TIME,
					    SQL_BIT,     SQL_VARBINARY };

	(void)state;
	assert_true(cns_odbc_quirks_for("psqlodbcw.so")->native_datetime);
	assert_true(cns_odbc_quirks_for("psqlodbca.so")->native_datetime);
	assert_false(cns_odbc_quirks_for("libmaodbc.so")->native_datetime);
	assert_false(cns_odbc_quirks_for("sqlite3odbc.so")->native_datetime);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		struct cns_odbc_col a = { .sqltype = keep[i], .size = 20 };
		struct cns_odbc_col b;

		cns_odbc_plan_column(&a, true, true, false);
		b = a;
		cns_odbc_plan_native(&b);
		assert_memory_equal(&a, &b, sizeof(a));
	}
	for (int date = 0; date <= 1; date++) {
		struct cns_odbc_col c = { .sqltype = date ? SQL_TYPE_DATE
							  : SQL_TYPE_TIMESTAMP,
					  .size = date ? 10 : 26,
					  .digits = date ? 0 : 6 };

		cns_odbc_plan_column(&c, true, true, false);
		cns_odbc_plan_native(&c);
		assert_int_equal(c.fmt,
				 date ? CNS_ODBC_DATE : CNS_ODBC_TIMESTAMP);
		assert_int_equal(c.ctype,
				 date ? SQL_C_TYPE_DATE : SQL_C_TYPE_TIMESTAMP);
		assert_int_equal(c.cell, date ? sizeof(SQL_DATE_STRUCT)
					      : sizeof(SQL_TIMESTAMP_STRUCT));
		assert_false(c.unbounded);
	}
}

static void test_quirks(void **state)
{
	(void)state;
	assert_true(cns_odbc_quirks_for("psqlodbcw.so")->wide);
	assert_false(cns_odbc_quirks_for("psqlodbca.so")->wide);
	assert_non_null(cns_odbc_quirks_for("PSQLODBCA.SO")->match);
	assert_true(cns_odbc_quirks_for("libmaodbc.so")->no_block_getdata);
	assert_true(cns_odbc_quirks_for("sqlite3odbc.so")->unsized_text);
	assert_null(cns_odbc_quirks_for("libtdsodbc.so")->match);
}

/* The plan names the driver's quote and the parameters; the password
 * never shows. */
static void test_plan(void **state)
{
	struct tsrc *t;
	const char *plan;
	struct cns_error err;

	(void)state;
	SKIP_UNLESS_UP(D_MARIA);
	t = tsrc_new(D_MARIA, "people", NULL, "id,d", 10);
	set_list(&t->conf.incremental, t->items[1], "d");
	t->wm[0] = strdup("2000-01-01");
	t->src->watermark = (const char *const *)t->wm;
	t->src->nwatermark = 1;
	/* Before open: the standard quote. */
	plan = t->src->ops->describe_plan(t->src);
	assert_contains(plan, "SELECT \"id\", \"d\" FROM \"people\"");
	cns_error_clear(&err);
	assert_int_equal(t->src->ops->open(t->src, &err), 0);
	plan = t->src->ops->describe_plan(t->src);
	assert_contains(plan, "-- odbc: Driver=MariaDB;");
	assert_contains(plan, "PWD=***;");
	assert_contains(plan, "CHARSET=utf8mb4;");
	assert_contains(plan, "-- driver: libmaodbc.so (MariaDB)");
	assert_contains(plan, "SELECT `id`, `d` FROM `people` WHERE `d` IS "
			      "NOT NULL AND ((`d` > ?)) ORDER BY `d`");
	assert_contains(plan, "-- parameters: 1 = '2000-01-01'");
	assert_null(strstr(plan, dbs[D_MARIA].password));
	tsrc_free(t);
}

/* ---- main ---- */

static void find_root(void)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (access("scripts/odbc-setup", X_OK) == 0 &&
	    getcwd(root, sizeof(root)))
		return;
	/* BUILD/tests/test_odbc: the repository is two folders up. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(root, sizeof(root), "%.480s/../../..", exe);
		if (realpath(root, exe))
			snprintf(root, sizeof(root), "%.500s", exe);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_strings),
		cmocka_unit_test(test_build_sql),
		cmocka_unit_test(test_lookback),
		cmocka_unit_test(test_split_table),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_column_plans),
		cmocka_unit_test(test_text_conversion),
		cmocka_unit_test(test_quirks),
		cmocka_unit_test(test_datetime_text),
		cmocka_unit_test(test_plan_native),
		cmocka_unit_test(test_people_sqlite),
		cmocka_unit_test(test_people_postgres),
		cmocka_unit_test(test_people_mariadb),
		cmocka_unit_test(test_block_cursor),
		cmocka_unit_test(test_people_types),
		cmocka_unit_test(test_describe_runs_nothing),
		cmocka_unit_test(test_types_and_quoting),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_where_and_query),
		cmocka_unit_test(test_dsn),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_error_no_driver),
		cmocka_unit_test(test_error_no_dsn),
		cmocka_unit_test(test_error_password),
		cmocka_unit_test(test_error_missing_table_column),
		cmocka_unit_test(test_error_transient),
		cmocka_unit_test(test_invalid_utf8_rejected),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_latin1_locale),
		cmocka_unit_test(test_postgres_ansi),
#ifdef CNS_TEST_HOOKS
		cmocka_unit_test(test_array_size_changed),
#endif
	};
	char path[PATH_MAX + 64];
	int rc;

	find_root();
	snprintf(path, sizeof(path), "%s/scripts/mariadb-sandbox", root);
	have_scripts = access(path, X_OK) == 0;
	snprintf(path, sizeof(path), "%s/scripts/pg-sandbox", root);
	have_scripts = have_scripts && access(path, X_OK) == 0;
	snprintf(path, sizeof(path), "%s/scripts/odbc-setup", root);
	have_scripts = have_scripts && access(path, X_OK) == 0;

	snprintf(tmp, sizeof(tmp), "%s/cns-test-odbc-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp))
		return 1;
	/* The PostgreSQL server runs as another user when we are root. */
	chmod(tmp, 0755);
	if (have_scripts)
		start_reaper();

	/* Row 777's note: 100,800 bytes of 1- to 4-byte characters, so
	 * that pieces split characters. */
	long_value = malloc(7200 * 14 + 1);
	long_value[0] = '\0';
	for (int i = 0; i < 7200; i++)
		memcpy(long_value + i * 14, "Zoë山田😀", 15);

	/* CNS_TEST_FILTER=test_cancel runs one test (cmocka's glob). */
	if (getenv("CNS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CNS_TEST_FILTER"));
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	free(long_value);
	sh("rm -rf '%s'", tmp);
	return rc;
}
