/*
 * test_rejects.c - the rejects file: created only on the first reject,
 * gzip-compressed CSV that reads back through libcsv with commas, quotes,
 * line breaks, NULL against the empty string and bad UTF-8 intact; the
 * summary's grouping and order; many threads writing at once; and a
 * folder that cannot be created, reported by close.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <csv.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "consolidate/config.h"
#include "consolidate/rejects.h"
#include "consolidate/rejfile.h"
#include "../../src/runlog/internal.h"
#include "json_helper.h"

static char tmpdir[256];

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cns-test-rejects-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct cns_job_conf *make_job(const char *name, const char *rdir)
{
	struct cns_job_conf *job = calloc(1, sizeof(*job));

	cns_arena_init(&job->arena, 4096);
	job->name = cns_arena_strdup(&job->arena, name);
	job->rejects_dir =
		rdir ? cns_arena_strdup(&job->arena, rdir)
		     : cns_arena_printf(&job->arena, "%s/rejects", tmpdir);
	return job;
}

/* ---- reading a rejects file back ---- */

struct table {
	int nrows;
	int ncols[8192];
	char *cell[8192][8];
	int col;
};

static void on_field(void *s, size_t len, void *data)
{
	struct table *t = data;
	char *v = malloc(len + 1);

	memcpy(v, s, len);
	v[len] = '\0';
	if (t->col < 8)
		t->cell[t->nrows][t->col] = v;
	else
		free(v);
	t->col++;
}

static void on_record(int c, void *data)
{
	struct table *t = data;

	(void)c;
	t->ncols[t->nrows++] = t->col;
	t->col = 0;
}

/* Decompresses and parses the file; rows[0] is the header. */
static struct table *read_back(const char *path)
{
	struct table *t = calloc(1, sizeof(*t));
	struct csv_parser p;
	char buf[4096];
	gzFile gz = gzopen(path, "rb");
	int n;

	assert_non_null(gz);
	assert_int_equal(csv_init(&p, CSV_STRICT | CSV_APPEND_NULL), 0);
	while ((n = gzread(gz, buf, sizeof(buf))) > 0)
		assert_int_equal(csv_parse(&p, buf, (size_t)n, on_field,
					   on_record, t),
				 (size_t)n);
	assert_int_equal(n, 0);
	assert_int_equal(gzclose(gz), Z_OK);
	assert_int_equal(csv_fini(&p, on_field, on_record, t), 0);
	csv_free(&p);
	return t;
}

static void free_table(struct table *t)
{
	for (int r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols[r] && c < 8; c++)
			free(t->cell[r][c]);
	free(t);
}

static struct cns_cell cell(const char *s)
{
	struct cns_cell c = { s, s ? (uint32_t)strlen(s) : 0, s == NULL };

	return c;
}

/* ---- tests ---- */

static void test_no_rejects_no_file(void **state)
{
	struct cns_job_conf *job = make_job("clean", NULL);
	struct cns_rejects *r =
		cns_rejects_open(job, "20261122T031500Z-aaaaaa");
	struct cns_error err;
	char path[512];
	char *text;
	size_t len;
	FILE *out;

	(void)state;
	cns_error_clear(&err);
	assert_null(cns_rejects_path(r));
	assert_int_equal(cns_rejects_count(r), 0);
	out = open_memstream(&text, &len);
	cns_rejects_summary(r, out, 10);
	fclose(out);
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(cns_rejects_close(r, &err), 0);
	snprintf(path, sizeof(path), "%s/rejects/clean", tmpdir);
	assert_int_equal(access(path, F_OK), -1);
	cns_config_free(job);
}

static void test_content(void **state)
{
	static const char *const names[] = { "id", "name", "note", "empty",
					     "missing" };
	struct cns_job_conf *job = make_job("content", NULL);
	struct cns_rejects *r =
		cns_rejects_open(job, "20261122T031500Z-bbbbbb");
	struct cns_cell row1[5] = { cell("1"), cell("Smith, \"Bob\""),
				    cell("line1\nline2\r\n"), cell(""),
				    cell(NULL) };
	struct cns_cell row2[5] = { cell("x2"), cell("caf\xc3\xa9 \xff bad"),
				    cell("tab\there"), cell("\\"),
				    cell("{\"a\":1}") };
	struct cns_reject rej1 = { "crm",
				   17,
				   "/data/crm/a.csv",
				   "customer_id",
				   "invalid bigint \"x\", expected digits",
				   row1,
				   5,
				   names };
	struct cns_reject rej2 = {
		"crm", 18, NULL, NULL, "reject_if: name is null", row2, 5, names
	};
	struct cns_reject rej3 = {
		"erp", 3, "erp", NULL, "record has 3 fields, expected 5",
		NULL,  0, NULL
	};
	struct cns_error err;
	struct table *t;
	json_t *v;
	char want[512];

	(void)state;
	cns_error_clear(&err);
	cns_rejects_add(r, &rej1, NULL);
	cns_rejects_add(r, &rej2, NULL);
	cns_rejects_add(r, &rej3, NULL);
	assert_int_equal(cns_rejects_count(r), 3);
	snprintf(want, sizeof(want),
		 "%s/rejects/content/20261122T031500Z-bbbbbb.csv.gz", tmpdir);
	assert_string_equal(cns_rejects_path(r), want);
	assert_int_equal(cns_rejects_close(r, &err), 0);

	t = read_back(want);
	assert_int_equal(t->nrows, 4);
	/* The header. */
	assert_int_equal(t->ncols[0], 6);
	assert_string_equal(t->cell[0][0], "source");
	assert_string_equal(t->cell[0][1], "row");
	assert_string_equal(t->cell[0][2], "origin");
	assert_string_equal(t->cell[0][3], "column");
	assert_string_equal(t->cell[0][4], "reason");
	assert_string_equal(t->cell[0][5], "values");
	/* Row 1: the fields, then the values as a JSON object. */
	assert_int_equal(t->ncols[1], 6);
	assert_string_equal(t->cell[1][0], "crm");
	assert_string_equal(t->cell[1][1], "17");
	assert_string_equal(t->cell[1][2], "/data/crm/a.csv");
	assert_string_equal(t->cell[1][3], "customer_id");
	assert_string_equal(t->cell[1][4],
			    "invalid bigint \"x\", expected digits");
	v = tj_parse(t->cell[1][5], strlen(t->cell[1][5]));
	assert_non_null(v);
	assert_string_equal(tj_str(v, "id"), "1");
	assert_string_equal(tj_str(v, "name"), "Smith, \"Bob\"");
	assert_string_equal(tj_str(v, "note"), "line1\nline2\r\n");
	/* Empty string and NULL stay apart. */
	assert_string_equal(tj_str(v, "empty"), "");
	assert_non_null(json_object_get(v, "missing"));
	assert_int_equal(tj_type(v, "missing"), JSON_NULL);
	/* Columns keep the source's order. */
	{
		void *it = json_object_iter(v);

		for (int i = 0; i < 5; i++, it = json_object_iter_next(v, it))
			assert_string_equal(json_object_iter_key(it), names[i]);
		assert_null(it);
	}

	/* Row 2: no origin, no column; bad UTF-8 becomes U+FFFD so the
	 * object stays valid JSON. */
	assert_string_equal(t->cell[2][2], "");
	assert_string_equal(t->cell[2][3], "");
	v = tj_parse(t->cell[2][5], strlen(t->cell[2][5]));
	assert_non_null(v);
	assert_string_equal(tj_str(v, "name"), "caf\xc3\xa9 \xef\xbf\xbd bad");
	assert_string_equal(tj_str(v, "note"), "tab\there");
	assert_string_equal(tj_str(v, "empty"), "\\");
	assert_string_equal(tj_str(v, "missing"), "{\"a\":1}");

	/* Row 3: a record that never became columns: empty values. */
	assert_string_equal(t->cell[3][0], "erp");
	assert_string_equal(t->cell[3][4], "record has 3 fields, expected 5");
	assert_string_equal(t->cell[3][5], "");
	tj_free_all();
	free_table(t);
	cns_config_free(job);
}

static void test_summary(void **state)
{
	struct cns_job_conf *job = make_job("summary", NULL);
	struct cns_rejects *r =
		cns_rejects_open(job, "20261122T031500Z-cccccc");
	struct cns_error err;
	char reason[128];
	char *text;
	size_t len;
	FILE *out;

	(void)state;
	cns_error_clear(&err);
	/* crm: 5 bad bigints with different values (one group), 2 null
	 * names; erp: 3 short records; inv: 1. */
	for (int i = 0; i < 5; i++) {
		struct cns_reject rej = { "crm",  10 + i, NULL, "customer_id",
					  reason, NULL,   0,    NULL };

		snprintf(reason, sizeof(reason), "invalid bigint \"x%d\"", i);
		cns_rejects_add(r, &rej, NULL);
	}
	for (int i = 0; i < 2; i++) {
		struct cns_reject rej = { "crm",          100 + i, NULL, NULL,
					  "name is null", NULL,    0,    NULL };

		cns_rejects_add(r, &rej, NULL);
	}
	for (int i = 0; i < 3; i++) {
		struct cns_reject rej = { "erp",  7 + i, NULL, NULL,
					  reason, NULL,  0,    NULL };

		snprintf(reason, sizeof(reason),
			 "record has %d fields, expected 5", 3 + i % 2);
		cns_rejects_add(r, &rej, NULL);
	}
	{
		struct cns_reject rej = { "inv",      1,    NULL, "qty",
					  "not null", NULL, 0,    NULL };

		cns_rejects_add(r, &rej, NULL);
	}
	{
		/* As the transform words it: the column is named in the
		 * reason too, and the summary names it once. */
		struct cns_reject rej = {
			"inv",
			2,
			NULL,
			"amount",
			"column \"amount\": invalid numeric \"1,5\"",
			NULL,
			0,
			NULL
		};

		cns_rejects_add(r, &rej, NULL);
	}
	assert_int_equal(cns_rejects_count(r), 12);

	out = open_memstream(&text, &len);
	cns_rejects_summary(r, out, 10);
	fclose(out);
	assert_string_equal(
		text,
		"crm customer_id: 5 rows: invalid bigint \"...\" (first: row 10, "
		"invalid bigint \"x0\")\n"
		"erp: 3 rows: record has N fields, expected N (first: row 7, "
		"record has 3 fields, expected 5)\n"
		"crm: 2 rows: name is null\n"
		"inv amount: 1 row: invalid numeric \"...\" (first: row 2, "
		"invalid numeric \"1,5\")\n"
		"inv qty: 1 row: not null\n");
	free(text);

	out = open_memstream(&text, &len);
	cns_rejects_summary(r, out, 2);
	fclose(out);
	assert_string_equal(
		text,
		"crm customer_id: 5 rows: invalid bigint \"...\" (first: row 10, "
		"invalid bigint \"x0\")\n"
		"erp: 3 rows: record has N fields, expected N (first: row 7, "
		"record has 3 fields, expected 5)\n"
		"other reasons: 4\n");
	free(text);
	assert_int_equal(cns_rejects_close(r, &err), 0);
	cns_config_free(job);
}

struct writer {
	struct cns_rejects *r;
	int id;
};

static void *write_many(void *arg)
{
	struct writer *w = arg;
	static const char *const names[] = { "a", "b" };
	char va[32], src[16];

	snprintf(src, sizeof(src), "s%d", w->id);
	for (int i = 0; i < 1000; i++) {
		struct cns_cell v[2];
		struct cns_reject rej = { src, i, NULL, "b", "bad value, again",
					  v,   2, names };

		snprintf(va, sizeof(va), "%d,%d", w->id, i);
		v[0] = cell(va);
		v[1] = cell(i % 2 ? NULL : "x\"y");
		cns_rejects_add(w->r, &rej, NULL);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct cns_job_conf *job = make_job("threads", NULL);
	struct cns_rejects *r =
		cns_rejects_open(job, "20261122T031500Z-dddddd");
	struct writer w[4];
	pthread_t th[4];
	struct cns_error err;
	struct table *t;
	char path[512];
	int seen[4][1000];

	(void)state;
	cns_error_clear(&err);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 4; i++) {
		w[i].r = r;
		w[i].id = i;
		assert_int_equal(
			pthread_create(&th[i], NULL, write_many, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(cns_rejects_count(r), 4000);
	snprintf(path, sizeof(path), "%s", cns_rejects_path(r));
	assert_int_equal(cns_rejects_close(r, &err), 0);

	t = read_back(path);
	assert_int_equal(t->nrows, 4001);
	for (int i = 1; i < t->nrows; i++) {
		int id, n;
		char want[64];

		assert_int_equal(t->ncols[i], 6);
		assert_int_equal(sscanf(t->cell[i][0], "s%d", &id), 1);
		n = atoi(t->cell[i][1]);
		assert_true(id >= 0 && id < 4 && n >= 0 && n < 1000);
		seen[id][n]++;
		snprintf(want, sizeof(want),
			 n % 2 ? "{\"a\":\"%d,%d\",\"b\":null}"
			       : "{\"a\":\"%d,%d\",\"b\":\"x\\\"y\"}",
			 id, n);
		assert_string_equal(t->cell[i][5], want);
	}
	for (int i = 0; i < 4; i++)
		for (int n = 0; n < 1000; n++)
			assert_int_equal(seen[i][n], 1);
	free_table(t);
	cns_config_free(job);
}

static void test_unwritable(void **state)
{
	char blocker[512];
	struct cns_job_conf *job;
	struct cns_rejects *r;
	struct cns_reject rej = { "crm", 1, NULL, NULL, "bad", NULL, 0, NULL };
	struct cns_error err;
	FILE *f;

	(void)state;
	/* A file where the folder should be. */
	snprintf(blocker, sizeof(blocker), "%s/blocker", tmpdir);
	f = fopen(blocker, "w");
	assert_non_null(f);
	fclose(f);
	job = make_job("blocked", blocker);
	r = cns_rejects_open(job, "20261122T031500Z-eeeeee");
	cns_error_clear(&err);
	/* Each add reports the failure, so the caller can stop before the
	 * row's chunk commits. */
	assert_int_equal(cns_rejects_add(r, &rej, &err), -1);
	assert_int_equal(err.code, CNS_E_IO);
	cns_error_clear(&err);
	assert_int_equal(cns_rejects_add(r, &rej, NULL), -1);
	/* Rows are still counted. */
	assert_int_equal(cns_rejects_count(r), 2);
	assert_int_equal(cns_rejects_close(r, &err), -1);
	assert_int_equal(err.code, CNS_E_IO);
	{
		char want[1024];

		snprintf(want, sizeof(want),
			 "could not create the rejects file "
			 "\"%s/blocked/20261122T031500Z-eeeeee.csv.gz\": Not "
			 "a directory",
			 blocker);
		assert_string_equal(err.message, want);
	}
	cns_config_free(job);
	/* NULL is harmless everywhere. */
	assert_int_equal(cns_rejects_add(NULL, &rej, NULL), 0);
	assert_int_equal(cns_rejects_count(NULL), 0);
	assert_null(cns_rejects_path(NULL));
	assert_int_equal(cns_rejects_close(NULL, &err), 0);
}

/* ---- the reader redrive uses ---- */

static void assert_cell(const struct cns_cell *c, const char *want)
{
	if (!want) {
		assert_true(c->null);
		return;
	}
	assert_false(c->null);
	assert_int_equal(c->len, strlen(want));
	assert_memory_equal(c->data, want, c->len);
}

/* Whatever the writer writes, the reader gives back: every field, NULL
 * apart from the empty string, line breaks, quotes and commas; a record
 * without values reads as such; a file still open (a killed run) reads
 * up to its last record. */
static void test_reader_round_trip(void **state)
{
	static const char *const names[] = { "id", "name", "note", "empty",
					     "missing" };
	static const char *const vals[5] = { "1", "Smith, \"Bob\"",
					     "line1\nline2\r\n", "", NULL };
	struct cns_job_conf *job = make_job("reader", NULL);
	struct cns_rejects *r =
		cns_rejects_open(job, "20261122T031500Z-cccccc");
	struct cns_cell row[5];
	struct cns_reject rej = { "crm",
				  17,
				  "/data/crm/a.csv",
				  "customer_id",
				  "invalid bigint \"x\", expected digits",
				  row,
				  5,
				  names };
	struct cns_reject bare = {
		"erp", 3, NULL, NULL, "record has 3 fields, expected 5",
		NULL,  0, NULL
	};
	struct cns_rejects_file f;
	struct cns_error err;
	char copy[600], cmd[1400];

	(void)state;
	for (int k = 0; k < 5; k++)
		row[k] = cell(vals[k]);
	cns_error_clear(&err);
	cns_rejects_add(r, &rej, NULL);
	cns_rejects_add(r, &bare, NULL);
	/* The file as a run killed now leaves it: no gzip trailer. */
	snprintf(copy, sizeof(copy), "%s/killed.csv.gz", tmpdir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", cns_rejects_path(r), copy);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(cns_rejects_close(r, &err), 0);

	for (int pass = 0; pass < 2; pass++) {
		const char *path = pass ? copy : NULL;
		char want[512];

		snprintf(want, sizeof(want),
			 "%s/rejects/reader/20261122T031500Z-cccccc.csv.gz",
			 tmpdir);
		assert_int_equal(
			cns_rejects_file_read(path ? path : want, &f, &err), 0);
		assert_int_equal(f.n, 2);
		assert_string_equal(f.rows[0].source, "crm");
		assert_int_equal(f.rows[0].rownum, 17);
		assert_string_equal(f.rows[0].origin, "/data/crm/a.csv");
		assert_string_equal(f.rows[0].column, "customer_id");
		assert_string_equal(f.rows[0].reason,
				    "invalid bigint \"x\", expected digits");
		assert_int_equal(f.rows[0].nvalues, 5);
		for (int k = 0; k < 5; k++) {
			assert_string_equal(f.rows[0].names[k], names[k]);
			assert_cell(&f.rows[0].values[k], vals[k]);
		}
		assert_string_equal(f.rows[1].source, "erp");
		assert_null(f.rows[1].origin);
		assert_null(f.rows[1].column);
		assert_int_equal(f.rows[1].nvalues, -1);
		cns_rejects_file_release(&f);
	}
	cns_arena_release(&job->arena);
	free(job);
}

/* A record cut in the middle (a write the kill interrupted) is dropped;
 * a file that is not a rejects file is refused with the reason. */
static void test_reader_cut_and_bad(void **state)
{
	static const char *const texts[] = {
		"source,row,origin,column,reason,values\n"
		"a,1,,,r,\"{\"\"x\"\":\"\"1\"\"}\"\n"
		"a,2,,,r,\"{\"\"x\"\":\"\"2",
		"id,name\n1,2\n",
		"source,row,origin,column,reason,values\na,1,,,r\n",
		"source,row,origin,column,reason,values\na,1,,,r,\"[1]\"\n",
	};
	static const char *const why[] = {
		NULL,
		"its first line is not the header",
		"record 1 has 5 fields, not 6",
		"the values of record 1 are not a JSON object",
	};
	char path[600];
	struct cns_rejects_file f;
	struct cns_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		gzFile gz;

		snprintf(path, sizeof(path), "%s/cut%zu.csv.gz", tmpdir, i);
		gz = gzopen(path, "wb");
		assert_non_null(gz);
		gzputs(gz, texts[i]);
		gzclose(gz);
		cns_error_clear(&err);
		if (!why[i]) {
			assert_int_equal(cns_rejects_file_read(path, &f, &err),
					 0);
			assert_int_equal(f.n, 1);
			assert_cell(&f.rows[0].values[0], "1");
			cns_rejects_file_release(&f);
			continue;
		}
		assert_int_equal(cns_rejects_file_read(path, &f, &err), -1);
		if (!strstr(err.message, why[i]))
			fail_msg("case %zu: \"%s\"", i, err.message);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_rejects_no_file),
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_unwritable),
		cmocka_unit_test(test_reader_round_trip),
		cmocka_unit_test(test_reader_cut_and_bad),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
