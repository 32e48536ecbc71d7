/*
 * test_transform.c - the transform language end to end: loading files,
 * sections, binding to source columns, row rules (where, reject_if,
 * not null, defaults), explain, and the core expressions.
 */
#include <pthread.h>

#include "transform_helper.h"

static const char *const customer_xf =
	"# customers from two systems\n"
	"[schema]\n"
	"source_system  text    not null\n"
	"customer_id    bigint  not null\n"
	"name           varchar(20)\n"
	"amount         numeric(18,4) default 0\n"
	"updated_at     timestamptz\n"
	"active         boolean default true\n"
	"\n"
	"[from erp]\n"
	"source_system = 'erp'\n"
	"customer_id   = id\n"
	"name          = trim(name)\n"
	"amount        = amount\n"
	"updated_at    = updated_at\n"
	"where         = status <> 'deleted'\n"
	"reject_if     = amount < 0 : 'negative amount'\n"
	"\n"
	"; crm exports are messier\n"
	"[from crm]\n"
	"source_system = 'crm'\n"
	"customer_id   = cast(cust_no as bigint)\n"
	"name          = nullif(upper(\n"
	"                  trim(name)), '')   -- continued by indentation\n";

static void run_customer(const char *source, int ncols,
			 const char *const *names, const char *const *vals,
			 const char *want)
{
	char got[1024];

	xf_run_row(customer_xf, source, NULL, ncols, names, vals, got,
		   sizeof(got));
	assert_string_equal(got, want);
}

static void test_load_and_map(void **state)
{
	static const char *const erp[] = { "id", "name", "amount", "updated_at",
					   "status" };
	static const char *const crm[] = { "cust_no", "name" };
	(void)state;

	run_customer("erp", 5, erp,
		     (const char *const[]){ "42", "  Ann  ", "12.5",
					    "2024-01-02 03:04:05", "active" },
		     "erp|42|Ann|12.5000|2024-01-02 03:04:05+00|t");
	run_customer("erp", 5, erp,
		     (const char *const[]){ "42", "Ann", "1", XF_NULL,
					    "deleted" },
		     "FILTERED");
	run_customer("erp", 5, erp,
		     (const char *const[]){ "42", "Ann", "-1", XF_NULL, "x" },
		     "REJECT: negative amount");
	run_customer("erp", 5, erp,
		     (const char *const[]){ "4x2", "Ann", "1", XF_NULL, "x" },
		     "REJECT: column \"customer_id\": invalid bigint \"4x2\"");
	run_customer("erp", 5, erp,
		     (const char *const[]){ XF_NULL, "Ann", "1", XF_NULL, "x" },
		     "REJECT: null value in column \"customer_id\" violates "
		     "not null");
	run_customer("erp", 5, erp,
		     (const char *const[]){ "1", "a name much longer than 20",
					    "1", XF_NULL, "x" },
		     "REJECT: column \"name\": value too long for "
		     "varchar(20) (26 characters)");
	/* where on NULL: not true, so filtered */
	run_customer("erp", 5, erp,
		     (const char *const[]){ "1", "A", "1", XF_NULL, XF_NULL },
		     "FILTERED");
	/* reject_if on NULL does not reject */
	run_customer("erp", 5, erp,
		     (const char *const[]){ "1", "A", XF_NULL, XF_NULL, "x" },
		     "erp|1|A|\\N|\\N|t");
	/* unmapped columns: default, else NULL */
	run_customer("crm", 2, crm, (const char *const[]){ "7", " bob " },
		     "crm|7|BOB|0.0000|\\N|t");
	run_customer("crm", 2, crm, (const char *const[]){ "7", "   " },
		     "crm|7|\\N|0.0000|\\N|t");
}

static void test_rules(void **state)
{
	static const char *const names[] = { "id", "amount", "note" };
	static const char *const xf =
		"[schema]\n"
		"id integer not null\n"
		"amount numeric(8,2) not null default 0\n"
		"loaded timestamptz default now()\n"
		"[from s]\n"
		"id = id\n"
		"where = amount::numeric > -100\n"
		"where = note is distinct from 'skip'\n"
		"reject_if = id::int > 1000\n"
		"reject_if = note like 'bad%' : 'bad note: ' || note\n"
		"reject_if = note = 'null message' : null\n";
	char got[512];
	(void)state;

	xf_run_row(xf, "s", NULL, 3, names,
		   (const char *const[]){ "1", "5", XF_NULL }, got,
		   sizeof(got));
	/* unmapped: the defaults, now() is the run's start */
	assert_string_equal(got, "1|0.00|2024-05-06 07:08:09.123456+00");
	xf_run_row(xf, "s", NULL, 3, names,
		   (const char *const[]){ "1", "-500", XF_NULL }, got,
		   sizeof(got));
	assert_string_equal(got, "FILTERED");
	xf_run_row(xf, "s", NULL, 3, names,
		   (const char *const[]){ "1", "5", "skip" }, got, sizeof(got));
	assert_string_equal(got, "FILTERED");
	xf_run_row(xf, "s", NULL, 3, names,
		   (const char *const[]){ "1", "x5", XF_NULL }, got,
		   sizeof(got));
	assert_string_equal(got, "REJECT: where: invalid numeric \"x5\"");
	xf_run_row(xf, "s", NULL, 3, names,
		   (const char *const[]){ "1001", "5", XF_NULL }, got,
		   sizeof(got));
	assert_string_equal(got,
			    "REJECT: rejected by rule \"cast(id as integer) > "
			    "1000\"");
	xf_run_row(xf, "s", NULL, 3, names,
		   (const char *const[]){ "1x", "5", XF_NULL }, got,
		   sizeof(got));
	assert_string_equal(got, "REJECT: reject_if: invalid integer \"1x\"");
	xf_run_row(xf, "s", NULL, 3, names,
		   (const char *const[]){ "2", "5", "bad one" }, got,
		   sizeof(got));
	assert_string_equal(got, "REJECT: bad note: bad one");
	/* a NULL message falls back to the rule */
	xf_run_row(xf, "s", NULL, 3, names,
		   (const char *const[]){ "2", "5", "null message" }, got,
		   sizeof(got));
	assert_string_equal(got, "REJECT: rejected by rule \"note = 'null "
				 "message'\"");
	/* no [from] section and no column of that name: NULL, so a not
	 * null column without default rejects */
	xf_run_row(xf, "other", NULL, 1, (const char *const[]){ "amount" },
		   (const char *const[]){ "7" }, got, sizeof(got));
	assert_string_equal(got, "REJECT: null value in column \"id\" "
				 "violates not null");
	xf_run_row(xf, "other", NULL, 1, (const char *const[]){ "id" },
		   (const char *const[]){ "7" }, got, sizeof(got));
	assert_string_equal(got, "7|0.00|2024-05-06 07:08:09.123456+00");
}

static void test_layout(void **state)
{
	static const char *const names[] = { "a" };
	char got[512];
	(void)state;

	/* byte order mark, CRLF, comments of three kinds, '#' and '--'
	 * inside strings, tabs, a continued line, quoted names */
	xf_run_row("\xEF\xBB\xBF# head\r\n"
		   "[schema]\r\n"
		   "  ; indented comment\r\n"
		   "x text   -- trailing comment\r\n"
		   "\"Odd Name\" text\r\n"
		   "\r\n"
		   "[from s]\r\n"
		   "x = a || '#1' || ' -- not a comment'  # but this is\r\n"
		   "\"Odd Name\" =\r\n"
		   "\tupper(\r\n"
		   "\t  a)\r\n",
		   "s", NULL, 1, names, (const char *const[]){ "v" }, got,
		   sizeof(got));
	assert_string_equal(got, "v#1 -- not a comment|V");
	/* a line indented no deeper than its entry starts a new one */
	xf_run_row("[schema]\nx text\ny text\n[from s]\n"
		   "  x = a\n"
		   "  y = a\n",
		   "s", NULL, 1, names, (const char *const[]){ "v" }, got,
		   sizeof(got));
	assert_string_equal(got, "v|v");
}

static void test_implicit_section(void **state)
{
	static const char *const names[] = { "CUSTOMER_ID", "Name",
					     "source_system", "extra" };
	char got[512];
	(void)state;

	/* no [from other]: same-named columns, case-blind; missing ones
	 * get their default or NULL */
	xf_run_row(customer_xf, "other", NULL, 4, names,
		   (const char *const[]){ "9", "Zed", "x", "ignored" }, got,
		   sizeof(got));
	assert_string_equal(got, "x|9|Zed|0.0000|\\N|t");
}

static void test_source_columns(void **state)
{
	struct cns_transform *t;
	struct cns_error err;
	const char *const *cols;
	int n;
	(void)state;

	cns_error_clear(&err);
	assert_int_equal(
		cns_transform_parse("c.xf", customer_xf, XF_NOW, &t, &err), 0);
	assert_true(cns_transform_has_source(t, "erp"));
	assert_true(cns_transform_has_source(t, "CRM"));
	assert_false(cns_transform_has_source(t, "other"));
	cols = cns_transform_source_columns(t, "erp", &n);
	assert_int_equal(n, 5);
	assert_string_equal(cols[0], "id");
	assert_string_equal(cols[1], "name");
	assert_string_equal(cols[2], "amount");
	assert_string_equal(cols[3], "updated_at");
	assert_string_equal(cols[4], "status");
	cols = cns_transform_source_columns(t, "other", &n);
	assert_int_equal(n, 6);
	assert_string_equal(cols[5], "active");
	assert_int_equal(cns_transform_schema(t)->ncols, 6);
	assert_string_equal(cns_transform_schema(t)->cols[3].type_sql,
			    "numeric(18,4)");
	assert_int_equal(cns_transform_schema(t)->cols[3].type, CNS_T_NUMERIC);
	assert_true(cns_transform_schema(t)->cols[1].not_null);
	cns_transform_free(t);
}

static void test_bind_unknown_column(void **state)
{
	struct cns_transform *t;
	struct cns_program *p;
	struct cns_error err;
	static const char *const names[] = { "id", "nme", "amount",
					     "updated_at", "status" };
	(void)state;

	cns_error_clear(&err);
	assert_int_equal(
		cns_transform_parse("c.xf", customer_xf, XF_NOW, &t, &err), 0);
	assert_int_equal(cns_transform_bind(t, "erp", 5, names, &p, &err), -1);
	assert_string_equal(err.message,
			    "unknown column \"name\" in source \"erp\"");
	assert_string_equal(err.hint, "did you mean \"nme\"?");
	assert_string_equal(err.file, "c.xf");
	assert_int_equal(err.line, 13);
	assert_int_equal(err.column, 22);
	assert_string_equal(err.detail,
			    "c.xf:13:22: unknown column \"name\" in source "
			    "\"erp\"\n"
			    "  name          = trim(name)\n"
			    "                       ^~~~ did you mean "
			    "\"nme\"?");
	cns_transform_free(t);
}

static void test_explain(void **state)
{
	struct cns_transform *t;
	struct cns_program *p;
	struct cns_error err;
	static const char *const names[] = { "cust_no", "name" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	(void)state;

	cns_error_clear(&err);
	assert_int_equal(cns_transform_parse(
				 "c.xf",
				 "[schema]\n"
				 "customer_id bigint not null\n"
				 "name text\n"
				 "score numeric(5,1) default 0\n"
				 "[from crm]\n"
				 "customer_id = CAST(cust_no AS BIGINT)\n"
				 "name = (((upper(name))))||'x'|| 'y'\n"
				 "where = cust_no is not null AND (name<>'' "
				 "OR name IS NULL)\n"
				 "reject_if = length(name)>3:'too '||'long'\n",
				 XF_NOW, &t, &err),
			 0);
	assert_int_equal(cns_transform_bind(t, "crm", 2, names, &p, &err), 0);
	f = open_memstream(&buf, &len);
	cns_program_explain(p, f);
	fclose(f);
	assert_string_equal(
		buf,
		"  where cust_no is not null and (name <> '' or name is null)\n"
		"  reject_if length(name) > 3 : 'too ' || 'long'\n"
		"  customer_id bigint <- cast(cust_no as bigint)\n"
		"  name text <- upper(name) || 'x' || 'y'\n"
		"  score numeric(5,1) <- default 0\n");
	free(buf);
	cns_program_free(p);
	cns_transform_free(t);
}

static void test_run_many_rows(void **state)
{
	struct cns_transform *t;
	struct cns_program *p;
	struct cns_error err;
	struct cns_chunk in, out;
	struct cns_eval_stats st = { 0, 0 };
	static const char *const names[] = { "n" };
	char buf[32];
	(void)state;

	cns_error_clear(&err);
	assert_int_equal(cns_transform_parse("m.xf",
					     "[schema]\nx integer not null\n"
					     "y text\n[from s]\nx = n * 2\n"
					     "y = 'row ' || source_row()\n"
					     "where = n % 3 <> 0\n",
					     XF_NOW, &t, &err),
			 0);
	assert_int_equal(cns_transform_bind(t, "s", 1, names, &p, &err), 0);
	cns_chunk_init(&in, 1, 1000);
	cns_chunk_init(&out, 2, 1000);
	for (int i = 0; i < 1000; i++) {
		int r = cns_chunk_add_row(&in, i + 1, NULL);

		snprintf(buf, sizeof(buf), "%d", i);
		cns_chunk_set(&in, r, 0, buf, strlen(buf));
	}
	assert_int_equal(cns_program_run(p, &in, &out, NULL, NULL, &st, &err),
			 0);
	assert_int_equal(st.filtered, 334);
	assert_int_equal(st.rejected, 0);
	assert_int_equal(out.nrows, 666);
	assert_string_equal(cns_chunk_row(&out, 0)[0].data, "2");
	assert_string_equal(cns_chunk_row(&out, 0)[1].data, "row 2");
	assert_int_equal(out.rownum[665], 999);
	assert_string_equal(cns_chunk_row(&out, 665)[0].data, "1996");
	/* the output chunk must have room for the whole input */
	assert_int_equal(cns_program_run(p, &in, &out, NULL, NULL, &st, &err),
			 -1);
	assert_int_equal(err.code, CNS_E_INTERNAL);
	cns_chunk_release(&in);
	cns_chunk_release(&out);
	cns_program_free(p);
	cns_transform_free(t);
}

/* One transform, shared read-only by threads that each bind and run their
 * own program (with different zones): every thread must get the rows a
 * single thread gets. */
struct thread_job {
	const struct cns_transform *t;
	const char *zone;
	char first[128], last[128];
	int64_t rejected;
	int rc;
};

static void *thread_main(void *arg)
{
	struct thread_job *j = arg;
	static const char *const names[] = { "n", "ts", "s" };
	struct cns_program *p = NULL;
	struct cns_error err;
	struct cns_chunk in, out;
	char buf[64];

	cns_error_clear(&err);
	j->rc = cns_transform_bind(j->t, "s", 3, names, &p, &err);
	if (j->rc == 0 && j->zone)
		j->rc = cns_program_set_timezone(p, j->zone, &err);
	if (j->rc < 0)
		return NULL;
	cns_chunk_init(&in, 3, 2000);
	cns_chunk_init(&out, 4, 2000);
	for (int i = 0; i < 2000; i++) {
		int r = cns_chunk_add_row(&in, i + 1, NULL);

		snprintf(buf, sizeof(buf), "%d.5", i - 1000);
		cns_chunk_set(&in, r, 0, buf, strlen(buf));
		snprintf(buf, sizeof(buf), "2026-%02d-%02d %02d:30", i % 12 + 1,
			 i % 28 + 1, i % 24);
		cns_chunk_set(&in, r, 1, buf, strlen(buf));
		/* every 7th row has bad UTF-8 and is rejected */
		cns_chunk_set(&in, r, 2, i % 7 ? "Été" : "x\xff",
			      i % 7 ? 5 : 2);
	}
	for (int round = 0; round < 20; round++) {
		struct cns_eval_stats st = { 0, 0 };

		cns_chunk_reset(&out);
		j->rc |= cns_program_run(p, &in, &out, NULL, NULL, &st, &err);
		j->rejected = st.rejected;
	}
	snprintf(j->first, sizeof(j->first), "%s|%s|%s|%s",
		 cns_chunk_row(&out, 0)[0].data, cns_chunk_row(&out, 0)[1].data,
		 cns_chunk_row(&out, 0)[2].data,
		 cns_chunk_row(&out, 0)[3].data);
	snprintf(j->last, sizeof(j->last), "%s|%s|%s|%s",
		 cns_chunk_row(&out, out.nrows - 1)[0].data,
		 cns_chunk_row(&out, out.nrows - 1)[1].data,
		 cns_chunk_row(&out, out.nrows - 1)[2].data,
		 cns_chunk_row(&out, out.nrows - 1)[3].data);
	cns_chunk_release(&in);
	cns_chunk_release(&out);
	cns_program_free(p);
	return NULL;
}

static void test_threads(void **state)
{
	struct cns_transform *t;
	struct cns_error err;
	struct thread_job solo[2], jobs[8];
	pthread_t th[8];
	(void)state;

	cns_error_clear(&err);
	assert_int_equal(cns_transform_parse(
				 "t.xf",
				 "[schema]\nx numeric(10,2)\ny timestamptz\n"
				 "z text\nw text\n[from s]\n"
				 "x = round(n * 3 / 7, 2)\ny = ts\n"
				 "z = upper(s) || regexp_replace(s, 't', 'T')\n"
				 "w = md5(s) || date_trunc('day', "
				 "ts::timestamptz)\n",
				 XF_NOW, &t, &err),
			 0);
	for (int i = 0; i < 2; i++) {
		solo[i].t = t;
		solo[i].zone = i ? "Europe/London" : NULL;
		thread_main(&solo[i]);
		assert_int_equal(solo[i].rc, 0);
	}
	assert_int_equal(solo[0].rejected, 286);
	assert_string_equal(solo[0].first,
			    "-428.36|2026-02-02 01:30:00+00|ÉTÉÉTé|"
			    "f3ce910d22eb6c4a00363fdb6f74520c2026-02-02 "
			    "00:00:00+00");
	for (int i = 0; i < 8; i++) {
		jobs[i].t = t;
		jobs[i].zone = i % 2 ? "Europe/London" : NULL;
		assert_int_equal(
			pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(jobs[i].rc, 0);
		assert_string_equal(jobs[i].first, solo[i % 2].first);
		assert_string_equal(jobs[i].last, solo[i % 2].last);
		assert_int_equal(jobs[i].rejected, solo[i % 2].rejected);
	}
	assert_string_not_equal(solo[0].last, solo[1].last);
	cns_transform_free(t);
}

static const struct xf_case core_cases[] = {
	/* literals */
	{ "'it''s'", 0, 0, 0, 0, "it's" },
	{ "42", 0, 0, 0, 0, "42" },
	{ "-2147483648", 0, 0, 0, 0, "-2147483648" },
	{ "9223372036854775808", 0, 0, 0, 0, "9223372036854775808" },
	{ "1.50", 0, 0, 0, 0, "1.50" },
	{ "1.5e3", 0, 0, 0, 0, "1500" },
	{ ".5", 0, 0, 0, 0, "0.5" },
	{ "true", 0, 0, 0, 0, "true" },
	{ "NULL", 0, 0, 0, 0, "\\N" },
	/* column references */
	{ "a", "x", 0, 0, 0, "x" },
	{ "A", "x", 0, 0, 0, "x" },
	{ "\"a\"", "x", 0, 0, 0, "x" },
	{ "a", "", 0, 0, 0, "" },
	{ "a", XF_NULL, 0, 0, 0, "\\N" },
	/* || */
	{ "a || b", "x", "y", 0, 0, "xy" },
	{ "a || b", "x", XF_NULL, 0, 0, "\\N" },
	{ "a || 1 || true", "x", 0, 0, 0, "x1true" },
	/* arithmetic */
	{ "1 + 2 * 3", 0, 0, 0, 0, "7" },
	{ "(1 + 2) * 3", 0, 0, 0, 0, "9" },
	{ "7 / 2", 0, 0, 0, 0, "3" },
	{ "-7 / 2", 0, 0, 0, 0, "-3" },
	{ "-7 % 3", 0, 0, 0, 0, "-1" },
	{ "7.0 / 2", 0, 0, 0, 0, "3.5000000000000000" },
	{ "1 / 3.0", 0, 0, 0, 0, "0.3333333333333333" },
	{ "a + 1", "41", 0, 0, 0, "42" },
	{ "a * 2", "12.50", 0, 0, 0, "25.00" },
	{ "a + b", "0.1", "0.2", 0, 0, "0.3" },
	{ "a - 1", XF_NULL, 0, 0, 0, "\\N" },
	{ "- a", "5", 0, 0, 0, "-5" },
	{ "1 / 0", 0, 0, 0, 0, "REJECT: division by zero" },
	{ "a / 0.0", "1", 0, 0, 0, "REJECT: division by zero" },
	{ "2147483647 + 1", 0, 0, 0, 0, "REJECT: integer out of range" },
	{ "9223372036854775807::bigint * 2", 0, 0, 0, 0,
	  "REJECT: bigint out of range" },
	{ "a + 1", "abc", 0, 0, 0, "REJECT: invalid numeric \"abc\"" },
	{ "1.5::double precision * 2", 0, 0, 0, 0, "3" },
	{ "cast('2024-02-28' as date) + 1", 0, 0, 0, 0, "2024-02-29" },
	{ "cast('2024-03-01' as date) - cast('2024-02-01' as date)", 0, 0, 0, 0,
	  "29" },
	/* comparisons: numeric when both are numbers, else text */
	{ "a < 10", "9", 0, 0, 0, "true" },
	{ "a < b", "9", "10", 0, 0, "false" },
	{ "a::int < b::int", "9", "10", 0, 0, "true" },
	{ "a = 1", "1.0", 0, 0, 0, "true" },
	{ "a <> 'x'", "x", 0, 0, 0, "false" },
	{ "a != 'x'", "y", 0, 0, 0, "true" },
	{ "a >= 'b'", "c", 0, 0, 0, "true" },
	{ "a <= 'b'", "ab", 0, 0, 0, "true" },
	{ "a > 'b'", XF_NULL, 0, 0, 0, "\\N" },
	{ "a::date < '2024-01-10'", "2024-01-09", 0, 0, 0, "true" },
	{ "trim(a) < 10", "9", 0, 0, 0, "false" },
	/* three-valued logic */
	{ "a = 'x' and b = 'y'", "x", XF_NULL, 0, 0, "\\N" },
	{ "a = 'z' and b = 'y'", "x", XF_NULL, 0, 0, "false" },
	{ "a = 'x' or b = 'y'", "x", XF_NULL, 0, 0, "true" },
	{ "a = 'z' or b = 'y'", "x", XF_NULL, 0, 0, "\\N" },
	{ "not (a = 'x')", XF_NULL, 0, 0, 0, "\\N" },
	{ "not a = 'x'", "y", 0, 0, 0, "true" },
	{ "a is null", XF_NULL, 0, 0, 0, "true" },
	{ "a is not null", "", 0, 0, 0, "true" },
	{ "a is distinct from b", XF_NULL, XF_NULL, 0, 0, "false" },
	{ "a is distinct from b", "1", XF_NULL, 0, 0, "true" },
	{ "a is not distinct from b", "1", "1", 0, 0, "true" },
	{ "a::boolean is true", XF_NULL, 0, 0, 0, "false" },
	{ "a::boolean is not false", XF_NULL, 0, 0, 0, "true" },
	/* in, between, like */
	{ "a in ('x', 'y')", "y", 0, 0, 0, "true" },
	{ "a in ('x', null)", "y", 0, 0, 0, "\\N" },
	{ "a not in ('x', 'y')", "z", 0, 0, 0, "true" },
	{ "a not in ('x', null)", "z", 0, 0, 0, "\\N" },
	{ "a in (1, 2, 3)", "2.0", 0, 0, 0, "true" },
	{ "a between 1 and 10", "5", 0, 0, 0, "true" },
	{ "a between 1 and 10", "11", 0, 0, 0, "false" },
	{ "a not between 1 and 10", "11", 0, 0, 0, "true" },
	{ "a between 1 and b", "5", XF_NULL, 0, 0, "\\N" },
	{ "a between 10 and b", "5", XF_NULL, 0, 0, "false" },
	{ "a like 'ab%'", "abc", 0, 0, 0, "true" },
	{ "a like 'a_c'", "abc", 0, 0, 0, "true" },
	{ "a like 'a_c'", "aéc", 0, 0, 0, "true" },
	{ "a like '%c'", "abd", 0, 0, 0, "false" },
	{ "a like '%b%b%'", "abcbd", 0, 0, 0, "true" },
	{ "a like '100\\%'", "100%", 0, 0, 0, "true" },
	{ "a like '100\\%'", "1000", 0, 0, 0, "false" },
	{ "a not like 'x%'", "abc", 0, 0, 0, "true" },
	{ "a ilike 'ÉTÉ%'", "été 2024", 0, 0, 0, "true" },
	{ "a like 'x'", XF_NULL, 0, 0, 0, "\\N" },
	/* case */
	{ "case when a = 'x' then 'X' when a = 'y' then 'Y' else '?' end", "y",
	  0, 0, 0, "Y" },
	{ "case when a = 'x' then 'X' end", "z", 0, 0, 0, "\\N" },
	{ "case when a = 'x' then 'X' end", XF_NULL, 0, 0, 0, "\\N" },
	{ "case a when 'x' then 1 when 'y' then 2 else 0 end", "y", 0, 0, 0,
	  "2" },
	{ "case a when 1 then 'one' else 'other' end", "1.0", 0, 0, 0, "one" },
	{ "case a when 'x' then 1 end", XF_NULL, 0, 0, 0, "\\N" },
	{ "case when a::int > 1 then a else 0 end", "5", 0, 0, 0, "5" },
	{ "case when true then 1 else 1/0 end", 0, 0, 0, 0, "1" },
	/* casts */
	{ "cast(a as integer)", " 42 ", 0, 0, 0, "42" },
	{ "a::integer", "99999999999", 0, 0, 0,
	  "REJECT: value \"99999999999\" is out of range for integer" },
	{ "a::bigint", "99999999999", 0, 0, 0, "99999999999" },
	{ "a::smallint", "32768", 0, 0, 0,
	  "REJECT: value \"32768\" is out of range for smallint" },
	{ "a::numeric(5,2)", "123.456", 0, 0, 0, "123.46" },
	{ "a::numeric(5,2)", "-123.455", 0, 0, 0, "-123.46" },
	{ "a::numeric(5,2)", "1234.5", 0, 0, 0,
	  "REJECT: value \"1234.5\" is out of range for numeric(5,2)" },
	{ "a::boolean", "yes", 0, 0, 0, "true" },
	{ "a::boolean", "maybe", 0, 0, 0, "REJECT: invalid boolean \"maybe\"" },
	{ "a::date", "2024-02-29", 0, 0, 0, "2024-02-29" },
	{ "a::date", "2023-02-29", 0, 0, 0,
	  "REJECT: invalid date \"2023-02-29\"" },
	{ "a::timestamp", "2024-01-02T03:04:05.5", 0, 0, 0,
	  "2024-01-02 03:04:05.5" },
	{ "a::timestamptz", "2024-01-02 03:04:05+02", 0, 0, 0,
	  "2024-01-02 01:04:05+00" },
	{ "a::timestamptz", "2024-01-02 03:04:05", 0, 0, 0,
	  "2024-01-02 03:04:05+00" },
	/* core functions */
	{ "trim(a)", "  x y  ", 0, 0, 0, "x y" },
	{ "lower(a)", "ÀB", 0, 0, 0, "àb" },
	{ "upper(a)", "àb", 0, 0, 0, "ÀB" },
	{ "coalesce(a, b, 'z')", XF_NULL, XF_NULL, 0, 0, "z" },
	{ "coalesce(a, b, 'z')", XF_NULL, "b", 0, 0, "b" },
	{ "nullif(a, '')", "", 0, 0, 0, "\\N" },
	{ "nullif(a, '')", "x", 0, 0, 0, "x" },
	{ "nullif(lower(a), '')", "", 0, 0, 0, "\\N" },
};

static void test_core_expressions(void **state)
{
	(void)state;
	xf_check_cases(core_cases, sizeof(core_cases) / sizeof(*core_cases),
		       NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_and_map),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_implicit_section),
		cmocka_unit_test(test_source_columns),
		cmocka_unit_test(test_bind_unknown_column),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_run_many_rows),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_core_expressions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
