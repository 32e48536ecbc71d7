/*
 * test_volume.c - the volume guard: min_rows, max_change up and down
 * against the median of recent runs, its boundaries, too few runs to
 * judge, a zero median, the window of 7; and reading the recent counts of
 * successful runs back from runs.jsonl.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "consolidate/config.h"
#include "consolidate/runlog.h"
#include "consolidate/volume.h"

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
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cns-test-volume-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A job with sources "erp" (min_rows 100), "crm" (max_change 50%),
 * "both" (min_rows 10, max_change 20%) and "free" (no rules). */
static struct cns_job_conf *make_job(void)
{
	struct cns_job_conf *job = calloc(1, sizeof(*job));
	static const struct {
		const char *name;
		int64_t min_rows;
		double max_change;
	} src[] = {
		{ "erp", 100, -1 },
		{ "crm", -1, 0.5 },
		{ "both", 10, 0.2 },
		{ "free", -1, -1 },
	};

	cns_arena_init(&job->arena, 4096);
	job->name = cns_arena_strdup(&job->arena, "vol");
	job->log_dir = cns_arena_printf(&job->arena, "%s/log", tmpdir);
	job->nsources = 4;
	job->sources = cns_arena_zalloc(&job->arena, 4 * sizeof(*job->sources));
	for (int i = 0; i < 4; i++) {
		job->sources[i].name =
			cns_arena_strdup(&job->arena, src[i].name);
		job->sources[i].min_rows = src[i].min_rows;
		job->sources[i].max_change = src[i].max_change;
	}
	return job;
}

struct vcase {
	const char *source;
	int64_t rows;
	int64_t recent[10];
	int nrecent;
	int want;
	const char *why; /* exact, or NULL: not checked */
};

static void test_cases(void **state)
{
	static const struct vcase cases[] = {
		/* min_rows */
		{ "erp",
		  99,
		  { 0 },
		  0,
		  1,
		  "source \"erp\": 99 rows, fewer than min_rows = 100" },
		{ "erp",
		  1,
		  { 0 },
		  0,
		  1,
		  "source \"erp\": 1 row, fewer than min_rows = 100" },
		{ "erp", 100, { 0 }, 0, 0, "" },
		{ "erp", 0, { 5, 5, 5 }, 3, 1, NULL },
		/* max_change, up and down, at and past the boundary */
		{ "crm", 150, { 100, 100, 100 }, 3, 0, "" },
		{ "crm",
		  151,
		  { 100, 100, 100 },
		  3,
		  1,
		  "source \"crm\": 151 rows, 51% more than the median of the "
		  "last 3 successful runs (100); max_change = 50%" },
		{ "crm", 50, { 100, 100, 100 }, 3, 0, "" },
		{ "crm",
		  49,
		  { 100, 100, 100 },
		  3,
		  1,
		  "source \"crm\": 49 rows, 51% fewer than the median of the "
		  "last 3 successful runs (100); max_change = 50%" },
		{ "crm", 0, { 100, 90, 110 }, 3, 1, NULL },
		/* fewer than 3 earlier runs: no judgement */
		{ "crm", 100000, { 100, 100 }, 2, 0, "" },
		{ "crm", 0, { 100 }, 1, 0, "" },
		{ "crm", 0, { 0 }, 0, 0, "" },
		/* the median, not the mean: one odd run does not move it */
		{ "crm", 100, { 100, 100000, 100, 90, 110 }, 5, 0, "" },
		/* only the newest 7 count: the 8th and 9th are ignored */
		{ "crm",
		  1000,
		  { 1000, 1000, 1000, 1000, 10, 10, 10, 10, 10 },
		  9,
		  0,
		  "" },
		{ "crm",
		  10,
		  { 1000, 1000, 1000, 10, 10, 10, 10, 1000, 1000 },
		  9,
		  0,
		  "" },
		/* a zero median: no relative change to judge */
		{ "crm", 500, { 0, 0, 0, 7 }, 4, 0, "" },
		/* both rules */
		{ "both",
		  9,
		  { 9, 9, 9 },
		  3,
		  1,
		  "source \"both\": 9 rows, fewer than min_rows = 10" },
		{ "both", 130, { 100, 100, 100 }, 3, 1, NULL },
		{ "both", 120, { 100, 100, 100 }, 3, 0, "" },
		/* no rules, unknown source */
		{ "free", 0, { 1000, 1000, 1000 }, 3, 0, "" },
		{ "nosuch", 0, { 1000, 1000, 1000 }, 3, 0, "" },
	};
	struct cns_job_conf *job = make_job();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vcase *c = &cases[i];
		char why[512] = "garbage";
		int got = cns_volume_check(job, c->source, c->rows, c->recent,
					   c->nrecent, why, sizeof(why));

		if (got != c->want)
			fail_msg("case %zu (%s, %lld rows): got %d, want %d "
				 "(%s)",
				 i, c->source, (long long)c->rows, got, c->want,
				 why);
		if (c->why)
			assert_string_equal(why, c->why);
	}
	/* why may be NULL */
	assert_int_equal(cns_volume_check(job, "erp", 1, NULL, 0, NULL, 0), 1);
	cns_config_free(job);
}

static void test_median(void **state)
{
	int64_t odd[] = { 5, 1, 3 };
	int64_t even[] = { 4, 1, 3, 2 };
	int64_t big[40];

	(void)state;
	assert_true(cns_volume_median(odd, 3) == 3);
	assert_true(cns_volume_median(even, 4) == 2.5);
	assert_true(cns_volume_median(odd, 0) == 0);
	/* The input is left as it was. */
	assert_int_equal(odd[0], 5);
	for (int i = 0; i < 40; i++)
		big[i] = 40 - i;
	assert_true(cns_volume_median(big, 40) == 20.5);
}

static void append(const char *path, const char *line)
{
	FILE *f = fopen(path, "a");

	assert_non_null(f);
	fprintf(f, "%s\n", line);
	fclose(f);
}

static void test_recent_rows(void **state)
{
	struct cns_job_conf *job = make_job();
	char dir[512], path[600];
	int64_t out[10];

	(void)state;
	/* No history yet. */
	assert_int_equal(cns_runlog_recent_rows(job, "crm", out, 10), 0);

	snprintf(dir, sizeof(dir), "%s/log/vol", tmpdir);
	snprintf(path, sizeof(path), "%s/log", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/runs.jsonl", dir);
#define REC(id, st, cst, n)                                                    \
	"{\"run_id\":\"" id "\",\"status\":\"" st "\",\"start\":"              \
	"\"2026-11-20T03:00:00.000Z\",\"sources\":{\"erp\":{\"status\":"       \
	"\"ok\",\"read\":1},\"crm\":{\"status\":\"" cst "\",\"read\":" n "}}}"
	append(path, REC("r1", "ok", "ok", "10"));
	append(path, REC("r2", "failed", "ok", "20"));
	append(path, REC("r3", "ok", "failed", "30"));
	append(path, "{not json");
	append(path, REC("r4", "ok", "ok", "40"));
	append(path, "{\"run_id\":\"r5\",\"status\":\"ok\",\"sources\":{}}");
	append(path, REC("r6", "ok", "ok", "60"));
	append(path, REC("r7", "skipped", "ok", "70"));

	/* Newest first, successful runs with a successful source only. */
	assert_int_equal(cns_runlog_recent_rows(job, "crm", out, 10), 3);
	assert_int_equal(out[0], 60);
	assert_int_equal(out[1], 40);
	assert_int_equal(out[2], 10);
	assert_int_equal(cns_runlog_recent_rows(job, "crm", out, 2), 2);
	assert_int_equal(out[0], 60);
	assert_int_equal(out[1], 40);
	assert_int_equal(cns_runlog_recent_rows(job, "erp", out, 10), 4);
	assert_int_equal(cns_runlog_recent_rows(job, "nosuch", out, 10), 0);

	/* Reading and judging in one call: the median of 60, 40, 10. */
	{
		char why[256];

		assert_int_equal(
			cns_volume_judge(job, "crm", 50, why, sizeof(why)), 0);
		assert_int_equal(
			cns_volume_judge(job, "crm", 61, why, sizeof(why)), 1);
		assert_string_equal(why,
				    "source \"crm\": 61 rows, 52% more than "
				    "the median of the last 3 successful runs "
				    "(40); max_change = 50%");
		assert_int_equal(
			cns_volume_judge(job, "erp", 99, why, sizeof(why)), 1);
	}
	cns_config_free(job);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_median),
		cmocka_unit_test(test_recent_rows),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
