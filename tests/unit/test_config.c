/*
 * test_config.c - job files: valid files read into the right fields, the
 * value parsers (durations, sizes, booleans), the key table, and one
 * malformed file per kind of mistake with its exact message and line.
 *
 * Job files are written into a temporary folder that the group teardown
 * removes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consolidate/config.h"
#include "consolidate/trend.h"

static char tmpdir[PATH_MAX];

static int group_setup(void **state)
{
	char tmpl[] = "/tmp/cns-test-config-XXXXXX";
	char *real;

	(void)state;
	if (!mkdtemp(tmpl))
		return -1;
	/* Paths in a loaded job are absolute and canonical. */
	real = realpath(tmpl, NULL);
	if (!real)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", real);
	free(real);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text (len bytes) to tmpdir/name and returns the path in a static
 * buffer. */
static const char *write_file_n(const char *name, const char *text, size_t len)
{
	static char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static const char *write_file(const char *name, const char *text)
{
	return write_file_n(name, text, strlen(text));
}

static struct cns_job_conf *load_ok(const char *name, const char *text)
{
	struct cns_job_conf *job = NULL;
	struct cns_error err;
	char buf[4096];

	cns_error_clear(&err);
	if (cns_config_load(write_file(name, text), &job, &err) < 0)
		fail_msg("%s", cns_error_format(&err, buf, sizeof(buf)));
	assert_non_null(job);
	return job;
}

static char *in_dir(const char *rel)
{
	static char buf[PATH_MAX + 64];

	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, rel);
	return buf;
}

/* The three sections a job needs, for building malformed files: lines
 * 1-2, 3-5 (after JOB) and 3 lines for a csv source. */
#define JOB "[job]\ntransforms = t.xf\n"
#define TARGET "[target]\nconninfo = service=w\ntable = t\n"
#define CSV "[source a]\ndriver = csv\npath = a.csv\n"
#define PG "[source erp]\ndriver = postgres\nconninfo = service=erp\n"

/* ---- valid files ---- */

static void test_minimal(void **state)
{
	struct cns_job_conf *job;
	const struct cns_source_conf *s;

	(void)state;
	job = load_ok("minimal.conf", JOB "\n" TARGET "\n" CSV);
	assert_string_equal(job->file, in_dir("minimal.conf"));
	assert_string_equal(job->dir, tmpdir);
	assert_string_equal(job->name, "minimal");
	assert_null(job->schedule);
	assert_null(job->timezone);
	assert_int_equal(job->overlap, CNS_OVERLAP_SKIP);
	assert_int_equal(job->catchup, CNS_CATCHUP_NONE);
	assert_int_equal(job->jitter_ms, 0);
	assert_int_equal(job->max_runtime_ms, 0);
	assert_int_equal(job->stall_timeout_ms, 0);
	assert_int_equal(job->kill_grace_ms, 30000);
	assert_int_equal(job->statement_timeout_ms, 0);
	assert_int_equal(job->batch_size, 10000);
	assert_int_equal(job->parallel, 4);
	assert_true(job->max_rejects == 0);
	assert_false(job->max_rejects_pct);
	assert_int_equal(job->retries, 3);
	assert_int_equal(job->retry_delay_ms, 1000);
	assert_string_equal(job->transforms, in_dir("t.xf"));
	assert_int_equal(job->lock, CNS_LOCK_BOTH);
	assert_null(job->lock_dir);
	assert_string_equal(job->log_dir, in_dir("log"));
	assert_string_equal(job->rejects_dir, in_dir("rejects"));
	assert_int_equal(job->log_format, CNS_LOGFMT_TEXT);
	assert_string_equal(job->log_keep, "30");
	assert_null(job->metrics_file);
	assert_false(job->syslog);
	assert_int_equal(job->max_age_ms, 0);
	assert_int_equal(job->on_volume_anomaly, CNS_ANOMALY_WARN);
	assert_int_equal(job->target.on_schema_change, CNS_SCHEMA_FAIL);

	assert_string_equal(job->target.driver, "postgres");
	assert_string_equal(job->target.conninfo, "service=w");
	assert_string_equal(job->target.table, "t");
	assert_int_equal(job->target.key.n, 0);
	assert_int_equal(job->target.mode, CNS_MODE_APPEND);
	assert_true(job->target.create);
	assert_false(job->target.dedupe);
	assert_null(job->target.dedupe_order);
	assert_int_equal(job->target.line, 4);

	assert_int_equal(job->nsources, 1);
	s = &job->sources[0];
	assert_ptr_equal(cns_config_source(job, "a"), s);
	assert_null(cns_config_source(job, "b"));
	assert_string_equal(s->name, "a");
	assert_int_equal(s->line, 8);
	assert_string_equal(s->driver, "csv");
	assert_string_equal(s->path, in_dir("a.csv"));
	assert_true(s->header);
	assert_int_equal(s->delimiter, ',');
	assert_int_equal(s->quote, '"');
	assert_string_equal(s->encoding, "utf-8");
	assert_int_equal(s->columns.n, 0);
	assert_int_equal(s->incremental.n, 0);
	assert_int_equal(s->lookback_ms, 0);
	assert_int_equal(s->null_incremental, CNS_NULLINC_SKIP);
	assert_int_equal(s->min_rows, -1);
	assert_true(s->max_change == -1);
	assert_null(s->conninfo);
	assert_null(s->table);
	cns_config_free(job);
}

/* Every key of the table, each set to something other than its
 * default. */
static const char full_text[] =
	"# a job with every key\n"
	"[job]\n"
	"name = customer_360\n"
	"schedule = */15 * * * *   ; every quarter hour\n"
	"timezone = Europe/London\n"
	"overlap = queue\n"
	"catchup = once\n"
	"jitter = 30s\n"
	"max_runtime = 20m\n"
	"stall_timeout = 5m\n"
	"kill_grace = 1m\n"
	"statement_timeout = 1h30m\n"
	"batch_size = 5000\n"
	"parallel = 3\n"
	"max_rejects = 0.5%\n"
	"retries = 0\n"
	"retry_delay = 250ms\n"
	"transforms = transforms/c360.xf\n"
	"lock = local\n"
	"lock_dir = /run/lock/consolidate\n"
	"log_dir = ./logs\n"
	"rejects_dir = /var/lib/consolidate/rejects\n"
	"log_format = JSON\n"
	"log_keep = 14d\n"
	"metrics_file = metrics.prom\n"
	"syslog = on\n"
	"max_age = 2d\n"
	"on_volume_anomaly = fail\n"
	"notify_command = bin/page-oncall\n"
	"notify_url = https://hooks.example.com/T0k3n\n"
	"notify_timeout = 10s\n"
	"parallel_shards = 2\n"
	"\n"
	"[target]\n"
	"driver = postgres\n"
	"conninfo = host=db port=5433 dbname=warehouse\n"
	"table = sales.customer_360\n"
	"key = source_system, customer_id\n"
	"mode = upsert\n"
	"create = no\n"
	"dedupe = yes\n"
	"dedupe_order = updated_at\n"
	"on_schema_change = evolve\n"
	"\n"
	"[source erp]\n"
	"driver = postgres\n"
	"conninfo = service=erp\n"
	"table = public.customers\n"
	"columns = id, name, email, updated_at\n"
	"where = status <> 'deleted' and id > 0\n"
	"incremental = updated_at\n"
	"key = id\n"
	"lookback = 10m\n"
	"null_incremental = include-once\n"
	"timezone = UTC\n"
	"min_rows = 1000\n"
	"max_change = 50%\n"
	"split_by = id\n"
	"\n"
	"[source inventory]\n"
	"driver = odbc\n"
	"dsn = inventory\n"
	"user = reader\n"
	"password_file = secrets/inventory.pw\n"
	"login_timeout = 10s\n"
	"query = select sku, qty from stock\n"
	"\n"
	"[source shop]\n"
	"driver = odbc\n"
	"connection = Driver=SQLite3;Database=/data/shop.db\n"
	"password = s3cret\n"
	"table = orders\n"
	"\n"
	"[source crm]\n"
	"driver = csv\n"
	"path = /data/crm/export-*.csv.gz\n"
	"header = false\n"
	"columns = cust_no, email\n"
	"delimiter = tab\n"
	"quote = '\n"
	"encoding = UTF-8\n"
	"deletes = soft\n"
	"source_key = source_system = 'crm'\n"
	"max_deletes = 250\n"
	"shards = 3\n"
	"split_method = files\n";

static void test_full(void **state)
{
	struct cns_job_conf *job;
	const struct cns_source_conf *s;

	(void)state;
	job = load_ok("full.conf", full_text);
	assert_string_equal(job->name, "customer_360");
	assert_string_equal(job->schedule, "*/15 * * * *");
	assert_string_equal(job->timezone, "Europe/London");
	assert_int_equal(job->overlap, CNS_OVERLAP_QUEUE);
	assert_int_equal(job->catchup, CNS_CATCHUP_ONCE);
	assert_int_equal(job->jitter_ms, 30000);
	assert_int_equal(job->max_runtime_ms, 20 * 60000);
	assert_int_equal(job->stall_timeout_ms, 5 * 60000);
	assert_int_equal(job->kill_grace_ms, 60000);
	assert_int_equal(job->statement_timeout_ms, 90 * 60000);
	assert_int_equal(job->batch_size, 5000);
	assert_int_equal(job->parallel, 3);
	assert_true(job->max_rejects > 0.00499 && job->max_rejects < 0.00501);
	assert_true(job->max_rejects_pct);
	assert_int_equal(job->retries, 0);
	assert_int_equal(job->retry_delay_ms, 250);
	assert_string_equal(job->transforms, in_dir("transforms/c360.xf"));
	assert_int_equal(job->lock, CNS_LOCK_LOCAL);
	assert_string_equal(job->lock_dir, "/run/lock/consolidate");
	assert_string_equal(job->log_dir, in_dir("logs"));
	assert_string_equal(job->rejects_dir, "/var/lib/consolidate/rejects");
	assert_int_equal(job->log_format, CNS_LOGFMT_JSON);
	assert_string_equal(job->log_keep, "14d");
	assert_string_equal(job->metrics_file, in_dir("metrics.prom"));
	assert_true(job->syslog);
	assert_int_equal(job->max_age_ms, 2 * 86400000LL);
	assert_int_equal(job->on_volume_anomaly, CNS_ANOMALY_FAIL);
	assert_int_equal(job->target.on_schema_change, CNS_SCHEMA_EVOLVE);
	assert_string_equal(job->notify_command, in_dir("bin/page-oncall"));
	assert_string_equal(job->notify_url, "https://hooks.example.com/T0k3n");
	assert_int_equal(job->notify_timeout_ms, 10000);
	assert_int_equal(job->parallel_shards, 2);

	assert_string_equal(job->target.conninfo,
			    "host=db port=5433 dbname=warehouse");
	assert_string_equal(job->target.table, "sales.customer_360");
	assert_int_equal(job->target.key.n, 2);
	assert_string_equal(job->target.key.items[0], "source_system");
	assert_string_equal(job->target.key.items[1], "customer_id");
	assert_int_equal(job->target.mode, CNS_MODE_UPSERT);
	assert_false(job->target.create);
	assert_true(job->target.dedupe);
	assert_string_equal(job->target.dedupe_order, "updated_at");

	assert_int_equal(job->nsources, 4);
	s = cns_config_source(job, "erp");
	assert_non_null(s);
	assert_ptr_equal(s, &job->sources[0]);
	assert_string_equal(s->driver, "postgres");
	assert_string_equal(s->conninfo, "service=erp");
	assert_string_equal(s->table, "public.customers");
	assert_int_equal(s->columns.n, 4);
	assert_string_equal(s->columns.items[3], "updated_at");
	assert_string_equal(s->where, "status <> 'deleted' and id > 0");
	assert_int_equal(s->incremental.n, 1);
	assert_string_equal(s->incremental.items[0], "updated_at");
	assert_int_equal(s->key.n, 1);
	assert_int_equal(s->lookback_ms, 600000);
	assert_int_equal(s->null_incremental, CNS_NULLINC_INCLUDE_ONCE);
	assert_string_equal(s->timezone, "UTC");
	assert_int_equal(s->min_rows, 1000);
	assert_true(s->max_change == 0.5);
	assert_string_equal(s->split_by, "id");
	assert_int_equal(s->shards, 1);
	assert_int_equal(s->split_method, CNS_SPLIT_AUTO);

	s = cns_config_source(job, "inventory");
	assert_non_null(s);
	assert_string_equal(s->driver, "odbc");
	assert_string_equal(s->dsn, "inventory");
	assert_null(s->connection);
	assert_string_equal(s->user, "reader");
	assert_string_equal(s->password_file, in_dir("secrets/inventory.pw"));
	assert_int_equal(s->login_timeout_ms, 10000);
	assert_string_equal(s->query, "select sku, qty from stock");

	s = cns_config_source(job, "shop");
	assert_non_null(s);
	assert_string_equal(s->connection,
			    "Driver=SQLite3;Database=/data/shop.db");
	assert_string_equal(s->password, "s3cret");
	assert_string_equal(s->table, "orders");

	s = cns_config_source(job, "crm");
	assert_non_null(s);
	assert_string_equal(s->driver, "csv");
	assert_string_equal(s->path, "/data/crm/export-*.csv.gz");
	assert_false(s->header);
	assert_int_equal(s->columns.n, 2);
	assert_int_equal(s->delimiter, '\t');
	assert_int_equal(s->quote, '\'');
	assert_string_equal(s->encoding, "utf-8");
	assert_int_equal(s->line, 74);
	assert_int_equal(s->shards, 3);
	assert_int_equal(s->split_method, CNS_SPLIT_FILES);
	assert_int_equal(s->deletes, CNS_DELETES_SOFT);
	assert_string_equal(s->source_key, "source_system = 'crm'");
	assert_true(s->max_deletes == 250 && !s->max_deletes_pct);
	s = cns_config_source(job, "erp");
	assert_int_equal(s->deletes, CNS_DELETES_IGNORE);
	assert_true(s->max_deletes == 0.1 && s->max_deletes_pct);
	cns_config_free(job);
}

/* The full file above must use every key of the table, so that a new key
 * cannot go untested. */
static void test_full_covers_table(void **state)
{
	const struct cns_config_key *keys;
	int n;

	(void)state;
	keys = cns_config_keys(&n);
	assert_true(n > 50);
	for (int i = 0; i < n; i++) {
		char want[64];

		snprintf(want, sizeof(want), "\n%s = ", keys[i].name);
		if (!strstr(full_text, want))
			fail_msg("key \"%s\" of [%s] is not in the full file",
				 keys[i].name, keys[i].section);
	}
}

static void test_env_interpolation(void **state)
{
	struct cns_job_conf *job;

	(void)state;
	setenv("CNS_TEST_CONNINFO", "host=db user=etl", 1);
	setenv("CNS_TEST_DATA", "/srv/data", 1);
	setenv("CNS_TEST_EMPTY", "", 1);
	setenv("CNS_TEST_PW", "pa$${x}", 1);
	job = load_ok("env.conf",
		      JOB "batch_size = ${CNS_TEST_EMPTY}500\n"
			  "[target]\n"
			  "conninfo = ${CNS_TEST_CONNINFO} options='-c x=$$1'\n"
			  "table = t$x\n"
			  "[source a]\n"
			  "driver = csv\n"
			  "path = ${CNS_TEST_DATA}/in-${CNS_TEST_EMPTY}*.csv\n"
			  "[source b]\n"
			  "driver = odbc\n"
			  "dsn = d\n"
			  "table = t\n"
			  "password = ${CNS_TEST_PW}\n");
	assert_int_equal(job->batch_size, 500);
	assert_string_equal(job->target.conninfo,
			    "host=db user=etl options='-c x=$1'");
	/* A $ not followed by { or $ is kept as it is. */
	assert_string_equal(job->target.table, "t$x");
	assert_string_equal(job->sources[0].path, "/srv/data/in-*.csv");
	/* A variable's value is not expanded again. */
	assert_string_equal(job->sources[1].password, "pa$${x}");
	cns_config_free(job);
}

static void test_relative_paths(void **state)
{
	struct cns_job_conf *job = NULL;
	struct cns_error err;
	char cwd[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	assert_int_equal(mkdir(in_dir("jobs"), 0700), 0);
	write_file("jobs/nightly.conf",
		   "[job]\n"
		   "transforms = ../transforms/n.xf\n"
		   "log_dir = .\n"
		   "rejects_dir = ./r/\n"
		   "[target]\nconninfo = x\ntable = t\n"
		   "[source a]\ndriver = csv\npath = ././in/*.csv\n"
		   "[source b]\ndriver = odbc\ndsn = d\ntable = t\n"
		   "password_file = /etc/pw\n");
	/* Given relative to the working folder: paths still come out
	 * absolute. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	cns_error_clear(&err);
	assert_int_equal(cns_config_load("jobs/nightly.conf", &job, &err), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(job->file, "jobs/nightly.conf");
	assert_string_equal(job->dir, in_dir("jobs"));
	assert_string_equal(job->name, "nightly");
	snprintf(want, sizeof(want), "%s/jobs/../transforms/n.xf", tmpdir);
	assert_string_equal(job->transforms, want);
	assert_string_equal(job->log_dir, in_dir("jobs"));
	assert_string_equal(job->rejects_dir, in_dir("jobs/r/"));
	assert_string_equal(job->sources[0].path, in_dir("jobs/in/*.csv"));
	assert_string_equal(job->sources[1].password_file, "/etc/pw");
	/* The default: libpq's connect_timeout of the other connections. */
	assert_int_equal(job->sources[1].login_timeout_ms, 30000);
	cns_config_free(job);
}

/* Table names are parsed once with PostgreSQL's rules; quotes come off
 * names in column lists; an odbc source's table is left as written. */
static void test_names(void **state)
{
	struct cns_job_conf *job;
	const struct cns_source_conf *s;

	(void)state;
	job = load_ok("names.conf", "[job]\ntransforms = t.xf\n"
				    "[target]\nconninfo = service=w\n"
				    "table = \"Dst Schema\".\"All Types\"\n"
				    "key = \"select\", Mixed, \"a\"\"b\"\n"
				    "mode = upsert\n"
				    "[source erp]\ndriver = postgres\n"
				    "conninfo = service=erp\n"
				    "table = Sales.Orders\n"
				    "columns = \"from\", Name, \"Order Id\"\n"
				    "incremental = \"updated At\"\n"
				    "key = \"Order Id\"\n"
				    "[source inv]\ndriver = odbc\ndsn = inv\n"
				    "table = Db.Items\n");
	assert_string_equal(job->target.table, "\"Dst Schema\".\"All Types\"");
	assert_string_equal(job->target.qtable.schema, "Dst Schema");
	assert_string_equal(job->target.qtable.name, "All Types");
	assert_int_equal(job->target.key.n, 3);
	assert_string_equal(job->target.key.items[0], "select");
	assert_string_equal(job->target.key.items[1], "Mixed");
	assert_string_equal(job->target.key.items[2], "a\"b");
	s = cns_config_source(job, "erp");
	assert_string_equal(s->qtable.schema, "sales");
	assert_string_equal(s->qtable.name, "orders");
	assert_string_equal(s->columns.items[0], "from");
	assert_string_equal(s->columns.items[1], "Name");
	assert_string_equal(s->columns.items[2], "Order Id");
	assert_string_equal(s->incremental.items[0], "updated At");
	assert_string_equal(s->key.items[0], "Order Id");
	s = cns_config_source(job, "inv");
	assert_string_equal(s->table, "Db.Items");
	assert_null(s->qtable.name);
	cns_config_free(job);
}

static void test_lists_and_syntax(void **state)
{
	struct cns_job_conf *job;
	const struct cns_source_conf *s;

	(void)state;
	/* Indented keys, ':' separators, comments of both kinds, CRLF line
	 * ends, a BOM, and a ';' inside a value. */
	job = load_ok("lists.conf", "\xEF\xBB\xBF; comment\r\n"
				    "# another\r\n"
				    "[job]\r\n"
				    "  transforms : t.xf ; inline\r\n"
				    "  name = lists.v2\r\n"
				    "[ target ]\n"
				    "\tconninfo = host=a;b\n"
				    "\ttable = t\n"
				    "\tkey = a\n"
				    "[source  erp-2_x]\n"
				    "driver = postgres\n"
				    "conninfo = service=erp\n"
				    "query = select 1 as a, 2 as b\n"
				    "incremental =  a ,b,   c  \n"
				    "min_rows = 0\n"
				    "max_change = 12.5%\n");
	assert_string_equal(job->name, "lists.v2");
	assert_string_equal(job->transforms, in_dir("t.xf"));
	assert_string_equal(job->target.conninfo, "host=a;b");
	assert_int_equal(job->target.key.n, 1);
	s = cns_config_source(job, "erp-2_x");
	assert_non_null(s);
	assert_int_equal(s->incremental.n, 3);
	assert_string_equal(s->incremental.items[0], "a");
	assert_string_equal(s->incremental.items[1], "b");
	assert_string_equal(s->incremental.items[2], "c");
	assert_int_equal(s->min_rows, 0);
	assert_true(s->max_change == 0.125);
	assert_int_equal(s->line, 10);
	cns_config_free(job);
}

static void test_max_rejects_forms(void **state)
{
	static const struct {
		const char *text;
		double v;
		bool pct;
	} cases[] = {
		{ "100", 100, false }, { "0", 0, false },
		{ "1%", 0.01, true },  { "0.5%", 0.005, true },
		{ "100%", 1, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		struct cns_job_conf *job;

		snprintf(text, sizeof(text),
			 JOB "max_rejects = %s\n" TARGET CSV, cases[i].text);
		job = load_ok("rejects.conf", text);
		assert_true(job->max_rejects > cases[i].v - 1e-9 &&
			    job->max_rejects < cases[i].v + 1e-9);
		assert_int_equal(job->max_rejects_pct, cases[i].pct);
		cns_config_free(job);
	}
}

/* ---- value parsers ---- */

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		int64_t ms;
	} ok[] = {
		{ "0", 0 },           { "45", 45000 },
		{ "250ms", 250 },     { "30s", 30000 },
		{ "20m", 1200000 },   { "1h", 3600000 },
		{ "1h30m", 5400000 }, { "1h 30m", 5400000 },
		{ "2d", 172800000 },  { "1d2h3m4s5ms", 93784005 },
		{ "90m", 5400000 },   { "0s", 0 },
	};
	static const char *const bad[] = {
		"",
		"-5s",
		"5x",
		"1.5h",
		"30m1h",
		"1h1h",
		"1h30",
		"h",
		"s30",
		" 5s",
		"5s ",
		"5 s",
		"5S",
		"1e3",
		"99999999999999999999",
		"106751991167301d",
		"ms",
	};
	struct cns_error err;
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cns_error_clear(&err);
		ms = -1;
		if (cns_parse_duration(ok[i].text, &ms, &err) < 0)
			fail_msg("\"%s\": %s", ok[i].text, err.message);
		assert_int_equal(ms, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[256];

		cns_error_clear(&err);
		if (cns_parse_duration(bad[i], &ms, &err) == 0)
			fail_msg("\"%s\" was accepted as %lld", bad[i],
				 (long long)ms);
		assert_int_equal(err.code, CNS_E_CONFIG);
		snprintf(want, sizeof(want),
			 "invalid duration \"%s\": expected a duration such "
			 "as 30s, 20m, 1h30m or 250ms",
			 bad[i]);
		assert_string_equal(err.message, want);
	}
}

static void test_format_duration(void **state)
{
	static const struct {
		int64_t ms;
		const char *text;
	} cases[] = {
		{ 0, "0s" },        { 250, "250ms" },
		{ 1000, "1s" },     { 1500, "1s500ms" },
		{ 60000, "1m" },    { 5400000, "1h30m" },
		{ 86400000, "1d" }, { 93784005, "1d2h3m4s5ms" },
		{ 3600000, "1h" },  { -5, "-5ms" },
	};
	char buf[64], small[4];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t back;

		assert_string_equal(cns_format_duration(cases[i].ms, buf,
							sizeof(buf)),
				    cases[i].text);
		if (cases[i].ms >= 0) {
			assert_int_equal(cns_parse_duration(buf, &back, NULL),
					 0);
			assert_int_equal(back, cases[i].ms);
		}
	}
	/* A short buffer is cut, never overrun. */
	assert_string_equal(cns_format_duration(93784005, small, sizeof(small)),
			    "1d2");
}

static void test_sizes(void **state)
{
	static const struct {
		const char *text;
		int64_t bytes;
	} ok[] = {
		{ "0", 0 },
		{ "512", 512 },
		{ "512B", 512 },
		{ "64kB", 65536 },
		{ "64KB", 65536 },
		{ "64 KiB", 65536 },
		{ "64k", 65536 },
		{ "10MB", 10485760 },
		{ "1GB", 1073741824 },
		{ "2TB", 2199023255552LL },
	};
	static const char *const bad[] = {
		"", "-1", "1.5MB", "10 XB", "MB", "1 2", "9999999999999GB",
	};
	struct cns_error err;
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cns_error_clear(&err);
		if (cns_parse_size(ok[i].text, &v, &err) < 0)
			fail_msg("\"%s\": %s", ok[i].text, err.message);
		assert_int_equal(v, ok[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[256];

		cns_error_clear(&err);
		if (cns_parse_size(bad[i], &v, &err) == 0)
			fail_msg("\"%s\" was accepted", bad[i]);
		snprintf(want, sizeof(want),
			 "invalid size \"%s\": expected a number of bytes with "
			 "an optional unit kB, MB or GB (1 kB = 1024 bytes)",
			 bad[i]);
		assert_string_equal(err.message, want);
	}
}

static void test_bools(void **state)
{
	static const struct {
		const char *text;
		bool v;
	} ok[] = {
		{ "yes", true },    { "YES", true },  { "true", true },
		{ "On", true },     { "1", true },    { "no", false },
		{ "False", false }, { "off", false }, { "0", false },
	};
	static const char *const bad[] = { "", "y", "2", "maybe", "yes " };
	struct cns_error err;
	bool v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = !ok[i].v;
		assert_int_equal(cns_parse_bool(ok[i].text, &v, NULL), 0);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[256];

		cns_error_clear(&err);
		assert_int_equal(cns_parse_bool(bad[i], &v, &err), -1);
		snprintf(want, sizeof(want),
			 "invalid boolean \"%s\": expected yes, no, true, "
			 "false, on, off, 1 or 0",
			 bad[i]);
		assert_string_equal(err.message, want);
	}
}

/* ---- malformed files ---- */

/* line: > 0 the expected line; -1 the line holding the marker ";<";
 * 0 an error about the whole file.  hint: NULL means none. */
#define COLS32                                                                 \
	"c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, "             \
	"c14, c15, c16, c17, c18, c19, c20, c21, c22, c23, c24, c25, c26, "    \
	"c27, c28, c29, c30, c31, c32"
#define COLS33 COLS32 ", c33"

struct bad_case {
	const char *text;
	int line;
	const char *message;
	const char *hint;
};

static const struct bad_case bad_cases[] = {
	/* table names, read with PostgreSQL's rules */
	{ JOB "[target]\nconninfo = service=w\ntable = My Table ;<\n" CSV, -1,
	  "bad table name \"My Table\" in [target]: a name with blanks needs "
	  "double quotes",
	  "write each part that has capitals, blanks or other characters in "
	  "double quotes, as in \"My Schema\".\"My Table\"" },
	{ JOB "[target]\nconninfo = service=w\ntable = a.b.c ;<\n" CSV, -1,
	  "bad table name \"a.b.c\" in [target]: more than two parts "
	  "(schema.table)",
	  "write each part that has capitals, blanks or other characters in "
	  "double quotes, as in \"My Schema\".\"My Table\"" },
	{ JOB TARGET PG "table = \"open ;<\n", -1,
	  "bad table name \"\"open\" in [source erp]: unterminated quoted "
	  "name",
	  "write each part that has capitals, blanks or other characters in "
	  "double quotes, as in \"My Schema\".\"My Table\"" },
	{ JOB TARGET PG "table = t\ncolumns = a, \"b ;<\n", -1,
	  "bad quoted name \"b in \"columns\" of [source erp]", NULL },
	/* deletes */
	{ JOB TARGET CSV "max_deletes = x ;<\n", -1,
	  "invalid value \"x\" for \"max_deletes\" in [source a]: "
	  "expected a count such as 100 or a percentage such as 10%",
	  NULL },
	{ JOB TARGET CSV "max_deletes = -1 ;<\n", -1,
	  "invalid value \"-1\" for \"max_deletes\" in [source a]: "
	  "expected a count such as 100 or a percentage such as 10%",
	  NULL },
	{ JOB TARGET CSV "max_deletes = +5 ;<\n", -1,
	  "invalid value \"+5\" for \"max_deletes\" in [source a]: "
	  "expected a count such as 100 or a percentage such as 10%",
	  NULL },
	{ JOB TARGET CSV "max_deletes = 10 % ;<\n", -1,
	  "invalid value \"10 %\" for \"max_deletes\" in [source a]: "
	  "expected a count such as 100 or a percentage such as 10%",
	  NULL },
	{ JOB TARGET CSV "max_deletes = 101% ;<\n", -1,
	  "invalid value \"101%\" for \"max_deletes\" in [source a]: "
	  "expected a count such as 100 or a percentage such as 10%",
	  NULL },
	{ JOB TARGET CSV "max_deletes = % ;<\n", -1,
	  "invalid value \"%\" for \"max_deletes\" in [source a]: "
	  "expected a count such as 100 or a percentage such as 10%",
	  NULL },
	{ JOB TARGET CSV "max_deletes = 1e3 ;<\n", -1,
	  "invalid value \"1e3\" for \"max_deletes\" in [source a]: "
	  "expected a count such as 100 or a percentage such as 10%",
	  NULL },
	{ JOB TARGET CSV "deletes = hard ;<\n", -1,
	  "\"deletes\" in [source a] needs mode upsert: mode append keeps no "
	  "key that tells which rows a run read",
	  "use mode upsert with a key in [target]" },
	{ JOB TARGET "mode = replace\n" CSV "deletes = soft ;<\n", -1,
	  "\"deletes\" in [source a] is not needed with mode replace: each "
	  "run already keeps only the rows it read",
	  "remove \"deletes\", or use mode upsert" },
	{ JOB TARGET "mode = upsert\nkey = id\n" PG
		     "table = t\nincremental = ts\ndeletes = hard ;<\n",
	  -1,
	  "\"deletes\" in [source erp] cannot be used with \"incremental\": "
	  "an incremental read sees only rows that changed since the "
	  "watermark, never rows that are gone",
	  "read the source in full (no \"incremental\") in a job of its own "
	  "on the same target, run for instance nightly, and give that job "
	  "the deletes" },
	{ JOB TARGET "mode = upsert\nkey = id\n" CSV "source_key = true ;<\n",
	  -1, "\"source_key\" in [source a] does nothing without \"deletes\"",
	  "set \"deletes = soft\" or \"deletes = hard\"" },
	{ JOB TARGET "mode = upsert\nkey = id\n" CSV "deletes = hard ;<\n"
		     "[source b]\ndriver = csv\npath = b.csv\n",
	  -1,
	  "\"deletes\" in [source a] needs \"source_key\" when the job has "
	  "several sources: without it the run would delete the other "
	  "sources' rows",
	  "add for instance \"source_key = source_system = 'erp'\", a "
	  "condition true for the rows this source loads" },
	/* structure */
	{ JOB "batchsize = 10 ;<\n" TARGET CSV, -1,
	  "unknown key \"batchsize\" in [job]",
	  "did you mean \"batch_size\"?" },
	{ JOB TARGET CSV "headr = no ;<\n", -1,
	  "unknown key \"headr\" in [source a]", "did you mean \"header\"?" },
	{ JOB "colour = red ;<\n" TARGET CSV, -1,
	  "unknown key \"colour\" in [job]", NULL },
	{ JOB "conninfo = service=x ;<\n" TARGET CSV, -1,
	  "unknown key \"conninfo\" in [job]",
	  "\"conninfo\" belongs in [target] or [source NAME]" },
	{ JOB TARGET CSV "[sources b] ;<\ndriver = csv\n", -1,
	  "unknown section [sources b]", "did you mean [source b]?" },
	{ "[jobs] ;<\ntransforms = t.xf\n" JOB TARGET CSV, -1,
	  "unknown section [jobs]", "did you mean [job]?" },
	{ JOB TARGET CSV "[options] ;<\nx = 1\n", -1,
	  "unknown section [options]", NULL },
	{ JOB TARGET CSV "[source a] ;<\ndriver = csv\npath = b.csv\n", -1,
	  "duplicate section [source a] (first on line 6)", NULL },
	{ JOB TARGET CSV "[job] ;<\n", -1,
	  "duplicate section [job] (first on line 1)", NULL },
	{ JOB "[job x] ;<\n" TARGET CSV, -1,
	  "unexpected name \"x\" in section [job]", NULL },
	{ JOB TARGET "[source] ;<\n" CSV, -1,
	  "missing source name in section [source]",
	  "name the source, as in [source crm]" },
	{ JOB TARGET "[source a.b] ;<\n" CSV, -1,
	  "invalid source name \"a.b\": expected up to 63 letters, digits, "
	  "\"_\" or \"-\"",
	  NULL },
	{ TARGET CSV, 0, "missing section [job]", NULL },
	{ JOB CSV, 0, "missing section [target]", NULL },
	{ JOB TARGET, 0,
	  "no [source NAME] section: a job needs at least one source",
	  "add a section such as [source erp]" },
	{ "batch_size = 5 ;<\n" JOB TARGET CSV, -1,
	  "key \"batch_size\" before the first section",
	  "put it under [job], [target] or [source NAME]" },
	{ JOB TARGET CSV "[source b ;<\ndriver = csv\n", -1,
	  "expected \"]\" at the end of the section header", NULL },
	{ JOB "just some words ;<\n" TARGET CSV, -1,
	  "expected \"key = value\", a [section] header or a comment", NULL },
	{ JOB "= value ;<\n" TARGET CSV, -1, "missing key name before \"=\"",
	  NULL },
	{ JOB "transforms = u.xf ;<\n" TARGET CSV, -1,
	  "duplicate key \"transforms\" in [job] (first set on line 2)", NULL },

	/* required keys */
	{ "[job]\nname = x\n" TARGET CSV, 1,
	  "missing required key \"transforms\" in [job]", NULL },
	{ JOB "[target]\nconninfo = x\n" CSV, 3,
	  "missing required key \"table\" in [target]", NULL },
	{ JOB TARGET "[source a]\npath = a.csv\n", 6,
	  "missing required key \"driver\" in [source a]", NULL },

	/* values */
	{ JOB "batch_size = ten ;<\n" TARGET CSV, -1,
	  "invalid value \"ten\" for \"batch_size\": expected an integer from "
	  "1 to 1000000",
	  NULL },
	{ JOB "batch_size = 0 ;<\n" TARGET CSV, -1,
	  "invalid value \"0\" for \"batch_size\": expected an integer from 1 "
	  "to 1000000",
	  NULL },
	{ JOB "parallel = 65 ;<\n" TARGET CSV, -1,
	  "invalid value \"65\" for \"parallel\": expected an integer from 1 "
	  "to 64",
	  NULL },
	{ JOB "retries = 99999999999999999999 ;<\n" TARGET CSV, -1,
	  "invalid value \"99999999999999999999\" for \"retries\": expected an "
	  "integer from 0 to 100",
	  NULL },
	{ JOB TARGET CSV "min_rows = -1 ;<\n", -1,
	  "invalid value \"-1\" for \"min_rows\": expected an integer of 0 or "
	  "more",
	  NULL },
	{ JOB "max_runtime = 20 minutes ;<\n" TARGET CSV, -1,
	  "invalid value \"20 minutes\" for \"max_runtime\": expected a "
	  "duration such as 30s, 20m, 1h30m or 250ms",
	  NULL },
	{ JOB "stall_timeout = -5m ;<\n" TARGET CSV, -1,
	  "invalid value \"-5m\" for \"stall_timeout\": expected a duration "
	  "such as 30s, 20m, 1h30m or 250ms",
	  NULL },
	{ JOB TARGET "mode = merge ;<\n" CSV, -1,
	  "invalid value \"merge\" for \"mode\": expected one of append, "
	  "upsert, replace",
	  NULL },
	{ JOB TARGET "[source a]\ndriver = mysql ;<\n", -1,
	  "invalid value \"mysql\" for \"driver\": expected one of postgres, "
	  "odbc, csv",
	  NULL },
	{ JOB TARGET CSV "encoding = latin1 ;<\n", -1,
	  "invalid value \"latin1\" for \"encoding\": expected utf-8", NULL },
	{ JOB TARGET CSV "header = maybe ;<\n", -1,
	  "invalid value \"maybe\" for \"header\": expected yes, no, true, "
	  "false, on, off, 1 or 0",
	  NULL },
	{ JOB TARGET CSV "delimiter = ab ;<\n", -1,
	  "invalid value \"ab\" for \"delimiter\": expected one character, "
	  "\"tab\" or \"space\"",
	  NULL },
	{ JOB "max_rejects = 5 percent ;<\n" TARGET CSV, -1,
	  "invalid value \"5 percent\" for \"max_rejects\": expected a count "
	  "such as 100 or a percentage such as 1%",
	  NULL },
	{ JOB "max_rejects = 101% ;<\n" TARGET CSV, -1,
	  "invalid value \"101%\" for \"max_rejects\": expected a count such "
	  "as 100 or a percentage such as 1%",
	  NULL },
	{ JOB TARGET CSV "max_change = 50 ;<\n", -1,
	  "invalid value \"50\" for \"max_change\": expected a percentage such "
	  "as 50%",
	  NULL },
	{ JOB TARGET CSV "columns = a,,b ;<\n", -1,
	  "invalid value \"a,,b\" for \"columns\": expected a comma-separated "
	  "list without empty items",
	  NULL },
	{ JOB TARGET CSV "columns = a, ;<\n", -1,
	  "invalid value \"a,\" for \"columns\": expected a comma-separated "
	  "list without empty items",
	  NULL },
	{ JOB "name = my job ;<\n" TARGET CSV, -1,
	  "invalid value \"my job\" for \"name\": expected letters, digits, "
	  "\"_\", \"-\" and \".\", not starting with \".\"",
	  NULL },
	/* A job's name is a folder under log_dir, lock_dir, rejects_dir:
	 * none may climb out or hide. */
	{ JOB "name = .. ;<\n" TARGET CSV, -1,
	  "invalid value \"..\" for \"name\": expected letters, digits, "
	  "\"_\", \"-\" and \".\", not starting with \".\"",
	  NULL },
	{ JOB "name = . ;<\n" TARGET CSV, -1,
	  "invalid value \".\" for \"name\": expected letters, digits, "
	  "\"_\", \"-\" and \".\", not starting with \".\"",
	  NULL },
	{ JOB "name = .hidden ;<\n" TARGET CSV, -1,
	  "invalid value \".hidden\" for \"name\": expected letters, "
	  "digits, \"_\", \"-\" and \".\", not starting with \".\"",
	  NULL },
	{ JOB "name = ../up ;<\n" TARGET CSV, -1,
	  "invalid value \"../up\" for \"name\": expected letters, digits, "
	  "\"_\", \"-\" and \".\", not starting with \".\"",
	  NULL },
	{ JOB "name = a/b ;<\n" TARGET CSV, -1,
	  "invalid value \"a/b\" for \"name\": expected letters, digits, "
	  "\"_\", \"-\" and \".\", not starting with \".\"",
	  NULL },
	/* Connection strings their reader would refuse, quoting a piece of
	 * the password back: refused here, and the message shows none of
	 * it. */
	{ JOB "[target]\nconninfo = host=h password=Top Secret4blank ;<\n"
	      "table = t\n" CSV,
	  -1,
	  "cannot read the connection string of \"conninfo\": no \"=\" "
	  "after a word",
	  "write every pair as key=value, and a value that holds blanks in "
	  "quotes: 'two words'" },
	{ JOB TARGET "[source erp]\ndriver = postgres\ntable = t\n"
		     "conninfo = host=h password='Unterminated4quote ;<\n",
	  -1,
	  "cannot read the connection string of \"conninfo\": unterminated "
	  "quoted value",
	  "write every pair as key=value, and a value that holds blanks in "
	  "quotes: 'two words'" },
	{ JOB "[target]\nconninfo = =EmptyKey4value ;<\ntable = t\n" CSV, -1,
	  "cannot read the connection string of \"conninfo\": empty key",
	  "write every pair as key=value, and a value that holds blanks in "
	  "quotes: 'two words'" },
	{ JOB "[target]\nconninfo = postgresql://u:Unenc@ded4at@h/db ;<\n"
	      "table = t\n" CSV,
	  -1,
	  "cannot read the connection string of \"conninfo\": unencoded "
	  "\"@\" in the password",
	  "write \"@\" in a URI's user or password as %40" },
	{ JOB TARGET "[source inv]\ndriver = odbc\ntable = t\n"
		     "connection = Driver=x;PWD={Unterminated4brace ;<\n",
	  -1,
	  "cannot read the connection string of \"connection\": "
	  "unterminated braced value",
	  "write every pair as KEY=value; and a value holding \";\" or \"}\" "
	  "in braces: {a;b}" },
	{ JOB "log_keep = forever ;<\n" TARGET CSV, -1,
	  "invalid value \"forever\" for \"log_keep\": expected a number of "
	  "runs such as 30 or an age such as 14d",
	  NULL },
	{ JOB "[target]\nconninfo = x\ntable =\n" CSV, 5,
	  "empty value for \"table\"", NULL },
	{ JOB "batch_size = "
	      "123456789012345678901234567890123456789012345678901234567890"
	      "123456789 ;<\n" TARGET CSV,
	  -1,
	  "invalid value "
	  "\"123456789012345678901234567890123456789012345678901234567...\" "
	  "for \"batch_size\": expected an integer from 1 to 1000000",
	  NULL },

	/* ${ENV} */
	{ JOB "[target]\nconninfo = ${CNS_TEST_UNSET_VAR} ;<\ntable = t\n" CSV,
	  -1,
	  "environment variable \"CNS_TEST_UNSET_VAR\" is not set (used by "
	  "\"conninfo\")",
	  NULL },
	{ JOB "[target]\nconninfo = host=${CNS_TEST_X ;<\ntable = t\n" CSV, -1,
	  "unterminated \"${\" in the value of \"conninfo\"",
	  "use $$ for a literal $" },
	{ JOB "[target]\nconninfo = ${1X} ;<\ntable = t\n" CSV, -1,
	  "invalid variable reference in the value of \"conninfo\"",
	  "use ${NAME} or $$ for a literal $" },

	/* across keys */
	{ JOB TARGET PG "table = t\nquery = select 1 ;<\n", -1,
	  "\"table\" and \"query\" cannot both be set in [source erp]", NULL },
	{ JOB TARGET PG, 6,
	  "missing key \"table\" or \"query\" in [source erp]", NULL },
	{ JOB TARGET "[source erp]\ndriver = postgres\ntable = t\n", 6,
	  "missing key \"conninfo\" in [source erp] (driver postgres)", NULL },
	{ JOB TARGET PG "query = select 1 as a\ncolumns = a ;<\n", -1,
	  "\"columns\" cannot be used with \"query\" in [source erp]",
	  "name the columns in the query instead" },
	{ JOB "[target]\nconninfo = x\ntable = t\nmode = upsert ;<\n" CSV, -1,
	  "mode upsert needs \"key\" in [target]",
	  "list the columns that identify a row, as in key = id" },
	{ JOB TARGET PG "table = t\nincremental = u\nlookback = 1h ;<\n", -1,
	  "\"lookback\" in [source erp] would load rows twice with mode append",
	  "use mode upsert in [target], or remove lookback" },
	{ JOB "[target]\nconninfo = x\ntable = t\nmode = upsert\nkey = id\n" PG
	      "table = t\nlookback = 1h ;<\n",
	  -1, "\"lookback\" in [source erp] needs \"incremental\"", NULL },
	/* A watermark holds at most 32 incremental and 32 key columns. */
	{ JOB "[target]\nconninfo = x\ntable = t\nmode = upsert\nkey = id\n" PG
	      "table = t\nkey = id\nincremental = " COLS33 " ;<\n",
	  -1,
	  "\"incremental\" in [source erp] lists 33 columns, more than "
	  "the 32 allowed",
	  NULL },
	{ JOB "[target]\nconninfo = x\ntable = t\nmode = upsert\nkey = id\n" PG
	      "table = t\nincremental = u\nkey = " COLS33 " ;<\n",
	  -1,
	  "\"key\" in [source erp] lists 33 columns, more than the 32 "
	  "allowed",
	  NULL },
	{ JOB "[target]\nconninfo = x\ntable = t\nmode = replace\n" PG
	      "table = t\nincremental = u ;<\n",
	  -1,
	  "\"incremental\" in [source erp] cannot be used with mode "
	  "replace",
	  "mode replace rebuilds the whole table each run, so every row must "
	  "be read" },
	{ JOB TARGET "[source inv]\ndriver = odbc\ndsn = inv\ntable = t\n"
		     "password = hunter2\npassword_file = pw ;<\n",
	  -1,
	  "\"password\" and \"password_file\" cannot both be set in "
	  "[source inv]",
	  NULL },
	{ JOB TARGET "[source inv]\ndriver = odbc\ndsn = inv\n"
		     "connection = Driver=x ;<\ntable = t\n",
	  -1, "\"dsn\" and \"connection\" cannot both be set in [source inv]",
	  NULL },
	{ JOB TARGET "[source inv]\ndriver = odbc\ntable = t\n", 6,
	  "missing key \"dsn\" or \"connection\" in [source inv]", NULL },
	{ JOB TARGET "[source a]\ndriver = csv\n", 6,
	  "missing key \"path\" in [source a] (driver csv)", NULL },
	{ JOB TARGET CSV "table = t ;<\n", -1,
	  "key \"table\" in [source a] does not apply to driver csv", NULL },
	{ JOB TARGET PG "table = t\nheader = no ;<\n", -1,
	  "key \"header\" in [source erp] does not apply to driver postgres",
	  NULL },
	{ JOB TARGET CSV "delimiter = \" ;<\n", -1,
	  "\"delimiter\" and \"quote\" cannot be the same character in "
	  "[source a]",
	  NULL },
	{ JOB "[target]\nconninfo = x\ntable = t\ndedupe = yes ;<\n" CSV, -1,
	  "\"dedupe\" needs \"key\" in [target]", NULL },
	{ JOB "[target]\nconninfo = x\ntable = t\ndedupe_order = a ;<\n" CSV,
	  -1, "\"dedupe_order\" needs \"dedupe = yes\" in [target]", NULL },
	{ JOB "[target]\nconninfo = x\ntable = t\nkey = id\n"
	      "dedupe = yes ;<\n" CSV,
	  -1,
	  "\"dedupe\" cannot be used with mode append, which keeps every "
	  "row",
	  "use mode = upsert, which keeps one row per key" },
	{ JOB TARGET PG "query = select 1\nwhere = x > 1 ;<\n", -1,
	  "\"where\" cannot be used with \"query\" in [source erp]",
	  "put the condition in the query's WHERE clause" },
	{ JOB "schedule = 0/15 * * * * ;<\n" TARGET CSV, -1,
	  "invalid schedule \"0/15 * * * *\": minute \"0/15\" has a step but "
	  "no range",
	  "did you mean \"*/15\"?" },
	{ JOB "timezone = Europe/Lodnon ;<\n" TARGET CSV, -1,
	  "unknown time zone \"Europe/Lodnon\"",
	  "did you mean \"Europe/London\"?" },
};

static int marker_line(const char *text)
{
	const char *m = strstr(text, ";<");
	int line = 1;

	assert_non_null(m);
	for (const char *s = text; s < m; s++)
		line += *s == '\n';
	return line;
}

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct cns_job_conf *job = (void *)1;
		struct cns_error err;
		const char *path;
		char want[2048];
		int line = c->line < 0 ? marker_line(c->text) : c->line;

		path = write_file("bad.conf", c->text);
		cns_error_clear(&err);
		if (cns_config_load(path, &job, &err) == 0)
			fail_msg("case %zu (%s) was accepted", i, c->message);
		assert_null(job);
		if (strcmp(err.message, c->message) || err.line != line)
			fail_msg("case %zu: want line %d \"%s\"\n got line %d "
				 "\"%s\"\n detail: %s",
				 i, line, c->message, err.line, err.message,
				 err.detail);
		assert_int_equal(err.code, CNS_E_CONFIG);
		assert_string_equal(err.file, path);
		assert_string_equal(err.hint, c->hint ? c->hint : "");
		/* One problem each: said once, as the message and its
		 * hint, with no detail that would repeat them. */
		(void)want;
		assert_string_equal(err.detail, "");
	}
}

static void test_all_problems_listed(void **state)
{
	struct cns_job_conf *job;
	struct cns_error err;
	const char *path;
	char want[2048];

	(void)state;
	path = write_file("many.conf", "[job]\n"
				       "parallel = 0\n"
				       "batchsize = 5\n"
				       "[target]\n"
				       "conninfo = x\n"
				       "table = t\n"
				       "mode = upsert\n"
				       "[source a]\n"
				       "driver = csv\n"
				       "header = perhaps\n");
	cns_error_clear(&err);
	assert_int_equal(cns_config_load(path, &job, &err), -1);
	/* Sorted by line, file-wide problems last. */
	assert_string_equal(err.message,
			    "missing required key \"transforms\" in [job]");
	assert_int_equal(err.line, 1);
	/* The first is the message; the detail lists the others. */
	snprintf(want, sizeof(want),
		 "%1$s:2: invalid value \"0\" for \"parallel\": expected an "
		 "integer from 1 to 64\n"
		 "%1$s:3: unknown key \"batchsize\" in [job] (did you mean "
		 "\"batch_size\"?)\n"
		 "%1$s:7: mode upsert needs \"key\" in [target] (list the "
		 "columns that identify a row, as in key = id)\n"
		 "%1$s:8: missing key \"path\" in [source a] (driver csv)\n"
		 "%1$s:10: invalid value \"perhaps\" for \"header\": expected "
		 "yes, no, true, false, on, off, 1 or 0",
		 path);
	assert_string_equal(err.detail, want);
}

static void test_many_problems_cut(void **state)
{
	struct cns_buf text;
	struct cns_job_conf *job;
	struct cns_error err;
	const char *last;

	(void)state;
	cns_buf_init(&text);
	cns_buf_adds(&text, JOB TARGET CSV);
	for (int i = 0; i < 100; i++)
		cns_buf_printf(&text, "bogus%d = 1\n", i);
	cns_error_clear(&err);
	assert_int_equal(cns_config_load(write_file("cut.conf", text.data),
					 &job, &err),
			 -1);
	cns_buf_release(&text);
	assert_string_equal(err.message,
			    "unknown key \"bogus0\" in [source a]");
	last = strrchr(err.detail, '\n');
	assert_non_null(last);
	assert_true(!strncmp(last, "\n... and ", 9));
	assert_non_null(strstr(last, " more errors"));
	assert_true(strlen(err.detail) < sizeof(err.detail) - 1);
}

static void test_secrets_stay_out(void **state)
{
	static const char *const texts[] = {
		JOB TARGET "[source inv]\ndriver = odbc\ndsn = d\ntable = t\n"
			   "password = hunter2\npassword_file = pw\n",
		JOB "[target]\nconninfo = password=hunter2 ${CNS_TEST_NOPE}\n"
		    "table = t\n" CSV,
		JOB "[target]\nconninfo = password=hunter2 ${\ntable = t\n" CSV,
		JOB
		"[target]\nconninfo = password=hunter2 ${!}\ntable = t\n" CSV,
		JOB TARGET "[source inv]\ndriver = csv\npath = p\n"
			   "password = hunter2\n",
	};
	char buf[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct cns_job_conf *job;
		struct cns_error err;

		cns_error_clear(&err);
		assert_int_equal(
			cns_config_load(write_file("secret.conf", texts[i]),
					&job, &err),
			-1);
		cns_error_format(&err, buf, sizeof(buf));
		if (strstr(buf, "hunter2"))
			fail_msg("case %zu shows the secret: %s", i, buf);
	}
}

static void test_unreadable(void **state)
{
	struct cns_job_conf *job = (void *)1;
	struct cns_error err;
	char want[PATH_MAX + 128];

	(void)state;
	cns_error_clear(&err);
	assert_int_equal(cns_config_load(in_dir("nope.conf"), &job, &err), -1);
	assert_null(job);
	assert_int_equal(err.code, CNS_E_CONFIG);
	snprintf(want, sizeof(want),
		 "could not open job file \"%s\": No such file or directory",
		 in_dir("nope.conf"));
	assert_string_equal(err.message, want);

	cns_error_clear(&err);
	assert_int_equal(cns_config_load(tmpdir, &job, &err), -1);
	snprintf(want, sizeof(want),
		 "could not read job file \"%s\": Is a directory", tmpdir);
	assert_string_equal(err.message, want);
}

static void test_bad_bytes(void **state)
{
	static const char nul[] = JOB "name = a\0b\n" TARGET CSV;
	static const char nul_hdr[] = JOB TARGET CSV "[source\0b]\npath = x\n";
	struct cns_job_conf *job;
	struct cns_error err;
	struct cns_buf text;

	(void)state;
	cns_error_clear(&err);
	assert_int_equal(
		cns_config_load(write_file_n("nul.conf", nul, sizeof(nul) - 1),
				&job, &err),
		-1);
	assert_string_equal(err.message, "line contains a NUL byte");
	assert_int_equal(err.line, 3);

	/* The keys under an unreadable header are not taken for keys of
	 * the section before it. */
	cns_error_clear(&err);
	assert_int_equal(cns_config_load(write_file_n("nul.conf", nul_hdr,
						      sizeof(nul_hdr) - 1),
					 &job, &err),
			 -1);
	assert_string_equal(err.message, "line contains a NUL byte");
	assert_int_equal(err.line, 9);
	assert_string_equal(err.detail, "");

	/* A long query fits on one line; a longer line is refused. */
	cns_buf_init(&text);
	cns_buf_adds(&text, JOB TARGET PG "query = select ");
	for (int i = 0; i < 6000; i++)
		cns_buf_printf(&text, "c%d, ", i);
	cns_buf_adds(&text, "1\n");
	job = load_ok("long.conf", text.data);
	assert_int_equal(strlen(job->sources[0].query),
			 strlen(strstr(text.data, "select ")) - 1);
	cns_config_free(job);
	cns_buf_reset(&text);
	cns_buf_adds(&text, JOB TARGET CSV "columns = ");
	for (int i = 0; i < 70000; i++)
		cns_buf_addc(&text, 'x');
	cns_buf_adds(&text, "\n");
	cns_error_clear(&err);
	assert_int_equal(cns_config_load(write_file("longer.conf", text.data),
					 &job, &err),
			 -1);
	cns_buf_release(&text);
	assert_string_equal(err.message, "line is longer than 65536 bytes");
	assert_int_equal(err.line, 9);
}

/* ---- the schedule, parsed once ---- */

/* The schedule and the zone are parsed when the job is loaded, and every
 * user reads them from there: the runtime trend measures a job's interval
 * in the job's zone, the host's when it names none (it used UTC). */
static void test_schedule_parsed_once(void **state)
{
	const char *old = getenv("TZ");
	char *saved = old ? cns_xstrdup(old) : NULL;
	struct cns_job_conf *job;
	int64_t now = 1774677600; /* 2026-03-28T06:00:00Z */

	(void)state;
	setenv("TZ", "Europe/London", 1);
	job = load_ok("sched.conf", "[job]\ntransforms = t.xf\n"
				    "schedule = 0 12 * * *\n" TARGET CSV);
	assert_non_null(job->tz);
	assert_string_equal(cns_tz_name(job->tz), "Europe/London");
	assert_true(job->cron.hour == 1u << 12);
	/* Noon on the 28th (GMT), then noon on the 29th (BST): 23 hours. */
	assert_int_equal(cns_trend_interval(job, now), 23 * 3600);
	cns_config_free(job);

	job = load_ok("sched.conf",
		      "[job]\ntransforms = t.xf\n"
		      "schedule = 0 12 * * *\ntimezone = UTC\n" TARGET CSV);
	assert_int_equal(cns_trend_interval(job, now), 24 * 3600);
	cns_config_free(job);

	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	free(saved);
}

/* ---- the tokenizer ---- */

/* The INI dialect, line by line: what a value reads as. */
static void test_tokenizer(void **state)
{
	static const struct {
		const char *line; /* the last lines of a postgres source */
		const char *name; /* the "where" they give */
	} cases[] = {
		{ "where = plain\n", "plain" },
		{ "where=tight\n", "tight" },
		{ "where: colon\n", "colon" },
		{ "where = spaced value  \n", "spaced value" },
		{ "where = cut ; a comment\n", "cut" },
		{ "where = kept;semicolon\n", "kept;semicolon" },
		{ "where = kept # hash\n", "kept # hash" },
		{ "where = a=b\n", "a=b" },
		{ "where = crlf\r\n", "crlf" },
		{ "   where = indented\n", "indented" },
		{ "\twhere\t=\ttabs\t\n", "tabs" },
		{ "; where = commented\nwhere = after\n", "after" },
		{ "# where = commented\nwhere = after\n", "after" },
		{ "\n\n   \nwhere = blank lines\n", "blank lines" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char text[512];
		struct cns_job_conf *job;

		snprintf(text, sizeof(text), JOB TARGET PG "table = t\n%s",
			 cases[i].line);
		job = load_ok("tok.conf", text);
		if (strcmp(job->sources[0].where, cases[i].name))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i,
				 job->sources[0].where, cases[i].name);
		cns_config_free(job);
	}

	/* An indented line after a key is a key of its own, never a
	 * continuation of the value above. */
	{
		struct cns_job_conf *job = load_ok(
			"cont.conf", "[job]\nname = first\n  transforms = "
				     "t.xf\n" TARGET CSV);

		assert_string_equal(job->name, "first");
		assert_string_equal(
			job->transforms + strlen(job->transforms) - 4, "t.xf");
		cns_config_free(job);
	}
	/* Headers: blanks inside the brackets, a comment after; a byte-order
	 * mark before the first. */
	{
		struct cns_job_conf *job = load_ok(
			"hdr.conf", "\xEF\xBB\xBF[ job ] ; the job\nname = h\n"
				    "transforms = t.xf\n[target]\nconninfo = "
				    "x\ntable = t\n[ source   a ]\ndriver = "
				    "csv\npath = a.csv\n");

		assert_string_equal(job->name, "h");
		assert_string_equal(job->sources[0].name, "a");
		cns_config_free(job);
	}
}

/* ---- the key table ---- */

static void test_key_table(void **state)
{
	const struct cns_config_key *keys;
	int n;

	(void)state;
	keys = cns_config_keys(&n);
	for (int i = 0; i < n; i++) {
		assert_non_null(keys[i].doc);
		assert_true(strlen(keys[i].doc) > 0);
		assert_true(strlen(keys[i].doc) < 72);
		assert_true(!strcmp(keys[i].section, "job") ||
			    !strcmp(keys[i].section, "target") ||
			    !strcmp(keys[i].section, "source"));
		assert_int_equal(keys[i].type == CNS_KEY_ENUM,
				 keys[i].values != NULL);
		if (keys[i].type == CNS_KEY_INT)
			assert_true(keys[i].min < keys[i].max);
		/* A required key has no default. */
		if (keys[i].required)
			assert_null(keys[i].def);
		for (int j = 0; j < i; j++)
			if (!strcmp(keys[i].section, keys[j].section) &&
			    !strcmp(keys[i].name, keys[j].name))
				fail_msg("key %s twice", keys[i].name);
	}
}

static void test_print_keys(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	f = open_memstream(&out, &len);
	assert_non_null(f);
	cns_config_print_keys(f);
	assert_int_equal(fclose(f), 0);
	assert_true(!strncmp(out, "[job]\n  name ", 13));
	assert_non_null(strstr(out, "\n\n[target]\n"));
	assert_non_null(strstr(out, "\n\n[source NAME]\n"));
	assert_non_null(strstr(out, "  batch_size         int 1..1000000"));
	assert_non_null(strstr(out, "rows per chunk"));
	assert_non_null(strstr(out,
			       "  mode              append|upsert|replace  "
			       "append"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_full_covers_table),
		cmocka_unit_test(test_env_interpolation),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_lists_and_syntax),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_max_rejects_forms),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_bools),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_all_problems_listed),
		cmocka_unit_test(test_many_problems_cut),
		cmocka_unit_test(test_secrets_stay_out),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_tokenizer),
		cmocka_unit_test(test_schedule_parsed_once),
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_print_keys),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
