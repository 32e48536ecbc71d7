/*
 * test_prepare.c - the preparation that run, check and plan share, on a
 * CSV source (no server needed): a good source binds; an unknown time
 * zone, an unmapped key and a refused volume are problems; a run stops
 * at the first, check hears each once.  (Incremental ordering and
 * watermarks need a database source: tests/integration/t_check_plan.sh.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consolidate/config.h"
#include "consolidate/prepare.h"
#include "consolidate/source.h"
#include "consolidate/transform.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cns-test-prepare-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	write_file("in.csv", "id,name,at\n1,a,2026-01-01 10:00\n"
			     "2,b,2026-01-02 10:00\n3,c,2026-01-03 10:00\n");
	write_file("ok.xf", "[schema]\nid integer not null\nname text\n"
			    "at timestamp\n\n[from f]\nid = cast(id as "
			    "integer)\nname = name\nat = cast(at as "
			    "timestamp)\n");
	write_file("partial.xf", "[schema]\nid integer not null\nname text\n"
				 "\n[from f]\nid = cast(id as integer)\n");
	return 0;
}

/* The files the tests wrote; the job's log and lock folders are never
 * made, since nothing runs. */
static int group_teardown(void **state)
{
	static const char *const files[] = { "in.csv", "ok.xf", "partial.xf",
					     "job.conf" };
	char path[512];

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		remove(path);
	}
	return rmdir(tmpdir);
}

/* A job over in.csv with extra lines in [job], [target] and [source f];
 * job_extra "transforms_partial" instead names partial.xf, which leaves
 * `name` unmapped. */
static struct cns_job_conf *load(const char *job_extra,
				 const char *target_extra,
				 const char *source_extra,
				 struct cns_transform **xf)
{
	char text[2048], path[512];
	struct cns_job_conf *job = NULL;
	struct cns_error err;

	bool partial = strcmp(job_extra, "transforms_partial") == 0;

	snprintf(text, sizeof(text),
		 "[job]\nname = prep\ntransforms = %s/%s\nlog_dir = %s/log\n"
		 "lock_dir = %s/lock\n%s\n[target]\nconninfo = dbname=none\n"
		 "table = t\n%s\n[source f]\ndriver = csv\npath = %s/in.csv\n"
		 "%s\n",
		 tmpdir, partial ? "partial.xf" : "ok.xf", tmpdir, tmpdir,
		 partial ? "" : job_extra, target_extra, tmpdir, source_extra);
	write_file("job.conf", text);
	snprintf(path, sizeof(path), "%s/job.conf", tmpdir);
	cns_error_clear(&err);
	if (cns_config_load(path, &job, &err) < 0)
		fail_msg("config: %s", err.message);
	if (cns_transform_load(job->transforms, 0, xf, &err) < 0)
		fail_msg("transform: %s", err.message);
	return job;
}

/* What a check hears. */
struct heard {
	int problems;
	char first[1024];
	char all[4096];
};

static void on_problem(void *ctx, const struct cns_error *e)
{
	struct heard *h = ctx;

	if (h->problems++ == 0)
		snprintf(h->first, sizeof(h->first), "%s", e->message);
	strncat(h->all, e->message, sizeof(h->all) - strlen(h->all) - 2);
	strcat(h->all, "\n");
}

/* Prepares source 0; with check set, problems go to h, else to err. */
static int prepare(struct cns_job_conf *job, struct cns_transform *xf,
		   bool check, struct heard *h, struct cns_prepared *p,
		   struct cns_source **srcp, struct cns_error *err)
{
	struct cns_prepare_opts o = {
		.no_data = check,
		.ctx = h,
		.problem = check ? on_problem : NULL,
	};
	int rc;

	*srcp = cns_source_new(job, &job->sources[0]);
	cns_error_clear(err);
	rc = cns_prepare_source(job, xf, *srcp, &o, p, err);
	if (rc == 0)
		rc = cns_prepare_volume(job, p, &o, err);
	return rc;
}

static void done(struct cns_job_conf *job, struct cns_transform *xf,
		 struct cns_prepared *p, struct cns_source *src)
{
	cns_program_free(p->prog);
	cns_source_free(src);
	cns_transform_free(xf);
	cns_config_free(job);
}

static void test_good_source_binds(void **state)
{
	struct cns_transform *xf;
	struct cns_job_conf *job = load("", "", "", &xf);
	struct heard h = { 0 };
	struct cns_prepared p;
	struct cns_source *src;
	struct cns_error err;

	(void)state;
	assert_int_equal(prepare(job, xf, true, &h, &p, &src, &err), 0);
	assert_int_equal(h.problems, 0);
	assert_non_null(p.prog);
	assert_int_equal(src->ncols, 3);
	assert_int_equal(p.ninc, 0);
	done(job, xf, &p, src);
}

/* Each defect alone: the run (first problem in err) and check (heard
 * once) name the same thing. */
static void test_each_defect(void **state)
{
	static const struct {
		const char *job, *target, *source, *expect;
	} cases[] = {
		{ "", "", "timezone = Mars/Olympus", "Mars/Olympus" },
		{ "transforms_partial", "key = id, name\nmode = upsert", "",
		  "does not map key column \"name\"" },
		{ "", "key = name\nmode = upsert", "", NULL },
		{ "on_volume_anomaly = fail", "", "min_rows = 1000",
		  "volume anomaly" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cns_transform *xf;
		struct cns_job_conf *job = load(cases[i].job, cases[i].target,
						cases[i].source, &xf);
		struct heard h = { 0 };
		struct cns_prepared p;
		struct cns_source *src;
		struct cns_error err;
		int rc;

		if (!cases[i].expect) {
			/* A key the source maps is no problem. */
			assert_int_equal(
				prepare(job, xf, true, &h, &p, &src, &err), 0);
			done(job, xf, &p, src);
			continue;
		}
		rc = prepare(job, xf, false, &h, &p, &src, &err);
		assert_int_equal(rc, -1);
		if (!strstr(err.message, cases[i].expect))
			fail_msg("case %zu: run said \"%s\"", i, err.message);
		cns_program_free(p.prog);
		cns_source_free(src);
		memset(&h, 0, sizeof(h));
		rc = prepare(job, xf, true, &h, &p, &src, &err);
		assert_int_equal(rc, -1);
		assert_int_equal(h.problems, 1);
		if (!strstr(h.first, cases[i].expect))
			fail_msg("case %zu: check said \"%s\"", i, h.first);
		assert_false(cns_error_isset(&err));
		done(job, xf, &p, src);
	}
}

/* Two problems in one source: the run stops at the first, check hears
 * both, each once. */
static void test_check_hears_every_problem(void **state)
{
	struct cns_transform *xf;
	struct cns_job_conf *job = load("transforms_partial",
					"key = id, name\nmode = upsert",
					"timezone = Mars/Olympus", &xf);
	struct heard h = { 0 };
	struct cns_prepared p;
	struct cns_source *src;
	struct cns_error err;

	(void)state;
	assert_int_equal(prepare(job, xf, true, &h, &p, &src, &err), -1);
	assert_int_equal(h.problems, 2);
	assert_non_null(strstr(h.all, "does not map key column \"name\""));
	assert_non_null(strstr(h.all, "Mars/Olympus"));
	done(job, xf, &p, src);
}

/* Offline (plan --offline): nothing is opened. */
static void test_offline_opens_nothing(void **state)
{
	struct cns_transform *xf;
	struct cns_job_conf *job = load("", "", "timezone = Mars/Olympus", &xf);
	struct cns_prepare_opts o = { .no_data = true, .offline = true };
	struct cns_prepared p;
	struct cns_source *src = cns_source_new(job, &job->sources[0]);
	struct cns_error err;

	(void)state;
	cns_error_clear(&err);
	assert_int_equal(cns_prepare_source(job, xf, src, &o, &p, &err), 0);
	assert_int_equal(src->ncols, 0);
	assert_null(p.prog);
	done(job, xf, &p, src);
}

/* run --range FROM..TO: split at the one "..", both bounds non-empty;
 * the bounds themselves are the server's to judge. */
static void test_range_parse(void **state)
{
	static const struct {
		const char *text, *from, *to; /* from NULL: refused */
	} cases[] = {
		{ "2026-01-01..2026-01-31", "2026-01-01", "2026-01-31" },
		{ "2026-01-01 10:00+00..2026-01-01 20:00+00",
		  "2026-01-01 10:00+00", "2026-01-01 20:00+00" },
		{ "1.5..2.5", "1.5", "2.5" },
		{ "-7..7", "-7", "7" },
		{ "a..b", "a", "b" },
		{ "2026-01-01", NULL, NULL },
		{ "..2026-01-01", NULL, NULL },
		{ "2026-01-01..", NULL, NULL },
		{ "..", NULL, NULL },
		{ "", NULL, NULL },
		{ "1..2..3", NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cns_error err;
		char *from, *to;
		int rc;

		cns_error_clear(&err);
		rc = cns_prepare_range_parse(cases[i].text, &from, &to, &err);
		if (!cases[i].from) {
			assert_int_equal(rc, -1);
			assert_null(from);
			assert_int_equal(err.code, CNS_E_USAGE);
			assert_non_null(strstr(err.message, "invalid range"));
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(from, cases[i].from);
		assert_string_equal(to, cases[i].to);
		free(from);
		free(to);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_parse),
		cmocka_unit_test(test_good_source_binds),
		cmocka_unit_test(test_each_defect),
		cmocka_unit_test(test_check_hears_every_problem),
		cmocka_unit_test(test_offline_opens_nothing),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
