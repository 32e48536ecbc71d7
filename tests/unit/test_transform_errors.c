/*
 * test_transform_errors.c - malformed transform files: every one must be
 * refused with the exact message, position and hint, and one load must
 * report every problem of a file at once.
 */
#include <unistd.h>

#include "transform_helper.h"

/* A valid head that the cases below continue. */
#define S "[schema]\nid bigint not null\nname text\n[from a]\nid = 1\n"

struct bad_case {
	const char *what;
	const char *text;
	const char *at; /* "line:column" */
	const char *message;
	const char *hint;
};

static const struct bad_case bad_cases[] = {
	{ "unterminated string", S "name = 'abc\n", "6:8",
	  "unterminated quoted string", NULL },
	{ "unterminated quoted name", S "\"name = 1\n", "6:1",
	  "unterminated quoted name", NULL },
	{ "unexpected character", S "name = a ~ b\n", "6:10",
	  "unexpected character \"~\"", NULL },
	{ "trailing junk", S "name = 12abc\n", "6:8",
	  "trailing junk after number \"12abc\"", NULL },
	{ "zero-length name", S "\"\" = 1\n", "6:1", "zero-length quoted name",
	  NULL },
	{ "outside section", "id = 1\n[schema]\nid bigint\n", "1:1",
	  "entry outside of any section",
	  "a transform file starts with [schema]" },
	{ "missing schema", "[from a]\nid = 1\n", "1:1",
	  "missing [schema] section", "declare the target columns first" },
	{ "unknown section", S "[frm b]\n", "6:2", "unknown section \"frm\"",
	  "did you mean \"from\"?" },
	{ "duplicate schema", S "[schema]\n", "6:1",
	  "duplicate section [schema] (first at line 1)", NULL },
	{ "duplicate from", S "[from A]\n", "6:1",
	  "duplicate section [from A] (first at line 4)", NULL },
	{ "from without name", S "[from]\n", "6:6",
	  "expected a name after \"from\", found \"]\"", NULL },
	{ "missing bracket", S "[from b\n", "6:8",
	  "expected \"]\" at end of line",
	  "a continued line must be indented deeper than "
	  "the line it continues" },
	{ "junk after bracket", S "[from b] x\n", "6:10",
	  "unexpected \"x\" after \"]\"", NULL },
	{ "lookup without file", S "[lookup m]\n", "6:1",
	  "[lookup m] has no \"file\"", NULL },
	{ "lookup unknown key", S "[lookup m]\npath = x.csv\n", "7:1",
	  "unknown key \"path\" in [lookup m]",
	  "a lookup section has one key: file" },
	{ "lookup not a file", S "[lookup m]\nfile = /dev/null\n", "6:1",
	  "lookup file \"/dev/null\" is not a regular file", NULL },
	{ "lookup file missing", S "[lookup m]\nfile = /nonexistent/m.csv\n",
	  "6:1",
	  "could not open lookup file \"/nonexistent/m.csv\": "
	  "No such file or directory",
	  NULL },
	{ "unknown type", "[schema]\nid integr\n", "2:4",
	  "unknown type \"integr\"", "did you mean \"integer\"?" },
	{ "missing type", "[schema]\nid\n", "2:3",
	  "expected a type after column \"id\"", NULL },
	{ "varchar zero", "[schema]\nid varchar(0)\n", "2:4",
	  "length for type varchar must be between 1 and 10485760", NULL },
	{ "numeric scale", "[schema]\nid numeric(2,3)\n", "2:4",
	  "numeric scale 3 must be between 0 and precision 2", NULL },
	{ "numeric precision", "[schema]\nid numeric(0)\n", "2:4",
	  "numeric precision 0 must be between 1 and 1000", NULL },
	{ "typmod on integer", "[schema]\nid integer(5)\n", "2:4",
	  "type \"integer\" takes no length or precision", NULL },
	{ "double alone", "[schema]\nid double\n", "2:4",
	  "expected \"precision\" after \"double\"", NULL },
	{ "duplicate column", "[schema]\nid bigint\nID text\n", "3:1",
	  "duplicate column \"id\" (first at line 2)", NULL },
	{ "null and not null", "[schema]\nid bigint not null null\n", "2:20",
	  "conflicting null and not null", NULL },
	{ "junk after type", "[schema]\nid bigint primary key\n", "2:11",
	  "unexpected \"primary\" after the type",
	  "expected not null, null or default" },
	{ "reserved column", "[schema]\nend text\n", "2:1",
	  "\"end\" is a reserved word", "write it in double quotes" },
	{ "char unsupported", "[schema]\ncode char(5)\n", "2:6",
	  "type \"char\" is not supported", "use varchar(n) or text" },
	{ "timetz unsupported", "[schema]\nt time with time zone\n", "2:3",
	  "type \"time with time zone\" is not supported", "use timestamptz" },
	{ "default with column", "[schema]\nx integer default y + 1\n", "2:19",
	  "a default cannot refer to column \"y\"", NULL },
	{ "default impossible", "[schema]\nd date default true\n", "2:16",
	  "cannot cast type boolean to date", NULL },
	{ "missing equals", S "name 1\n", "6:6",
	  "expected \"=\" after \"name\", found \"1\"", NULL },
	{ "missing expression", S "name =\n", "6:7",
	  "expected an expression after \"=\" at end of line",
	  "a continued line must be indented deeper than "
	  "the line it continues" },
	{ "unknown target", S "nmae = 'x'\n", "6:1",
	  "unknown target column \"nmae\"", "did you mean \"name\"?" },
	{ "mapped twice", S "ID = 2\n", "6:1",
	  "column \"id\" is mapped twice (first at line 5)", NULL },
	{ "not null unmapped",
	  "[schema]\nid bigint not null\nname text\n[from a]\nname = 'x'\n",
	  "4:1",
	  "[from a] does not map not null column \"id\", which has no default",
	  "map it, or give it a default in [schema]" },
	{ "reject_if no message", S "reject_if = id < 0 :\n", "6:21",
	  "expected a message after \":\" at end of line",
	  "a continued line must be indented deeper than "
	  "the line it continues" },
	{ "unknown function", S "name = lenght(name)\n", "6:8",
	  "unknown function \"lenght\"", "did you mean \"length\"?" },
	{ "substr args", S "name = substr(name)\n", "6:8",
	  "function \"substr\" takes 2 or 3 arguments, got 1", NULL },
	{ "now args", S "name = now(1)\n", "6:8",
	  "function \"now\" takes no arguments, got 1", NULL },
	{ "trim args", S "name = trim()\n", "6:8",
	  "function \"trim\" takes 1 or 2 arguments, got 0", NULL },
	{ "concat args", S "name = concat()\n", "6:8",
	  "function \"concat\" takes at least 1 argument, got 0", NULL },
	{ "impossible cast", S "name = cast(true as date)\n", "6:8",
	  "cannot cast type boolean to date", NULL },
	{ "unknown cast type", S "name = cast(x as strng)\n", "6:18",
	  "unknown type \"strng\"", NULL },
	{ "missing paren call", S "name = lower(x\n", "6:13",
	  "missing \")\" to close \"(\"",
	  "a continued line must be indented deeper than "
	  "the line it continues" },
	{ "extra paren", S "name = (x))\n", "6:11", "unbalanced \")\"", NULL },
	{ "missing operand", S "name = x +\n", "6:11",
	  "expected an expression at end of line",
	  "a continued line must be indented deeper than "
	  "the line it continues" },
	{ "case without end", S "name = case when x then 1\n", "6:8",
	  "\"case\" without \"end\"",
	  "a continued line must be indented deeper than "
	  "the line it continues" },
	{ "case without when", S "name = case else 1 end\n", "6:13",
	  "expected \"when\", found \"else\"", NULL },
	{ "cast without as", S "name = cast(x bigint)\n", "6:15",
	  "expected \"as\" in cast, found \"bigint\"", NULL },
	{ "in without paren", S "name = x in 1, 2\n", "6:13",
	  "expected \"(\" after \"in\", found \"1\"", NULL },
	{ "between without and", S "name = x between 1 or 2\n", "6:20",
	  "expected \"and\" in \"between\", found \"or\"", NULL },
	{ "is without null", S "name = x is 5\n", "6:13",
	  "expected \"null\" or \"not null\" after \"is\", found \"5\"", NULL },
	{ "chained comparison", S "name = a < b < c\n", "6:14",
	  "comparison operators cannot be chained",
	  "use \"and\" to combine comparisons" },
	{ "operator types", S "name = true + 1\n", "6:13",
	  "operator does not exist: boolean + integer",
	  "cast the operands to a number type" },
	{ "case types", S "name = case when x = 'a' then 1 else x::date end\n",
	  "6:39", "CASE types integer and date cannot be matched", NULL },
	{ "and not boolean", S "name = 1 and true\n", "6:8",
	  "argument of AND must be boolean, not integer", NULL },
	{ "where not boolean", S "where = 1\n", "6:9",
	  "argument of where must be boolean, not integer", NULL },
	{ "regexp non literal", S "name = regexp_replace(x, y, 'z')\n", "6:26",
	  "the pattern of regexp_replace must be a string literal",
	  "patterns are compiled once, before the run" },
	{ "invalid regexp", S "name = regexp_replace(x, 'a(', 'z')\n", "6:26",
	  "invalid regular expression: Unmatched ( or \\(", NULL },
	{ "regexp flag", S "name = regexp_match(x, 'a', 'g')\n", "6:29",
	  "invalid regexp flag \"g\"", NULL },
	{ "unknown lookup",
	  S "[lookup countries]\nfile = /tmp/cns-xf-empty.csv\n"
	    "[from b]\nid = 1\nname = lookup(countrys, x)\n",
	  "10:15", "unknown lookup table \"countrys\"",
	  "did you mean \"countries\"?" },
	{ "date_trunc field", S "name = date_trunc('dya', x)\n", "6:19",
	  "unknown date_trunc field \"dya\"", NULL },
	{ "to_date format", S "name = to_date(x, 'YYYY\"MM')\n", "6:19",
	  "unterminated quoted text in format", NULL },
	{ "numeric typmod syntax", "[schema]\nid numeric(a)\n", "2:4",
	  "expected numeric(precision) or numeric(precision, scale)", NULL },
	{ "extra token", S "name = 1 2\n", "6:10",
	  "unexpected \"2\" after the expression", NULL },
	{ "lookup first arg", S "name = lookup(1 + 1, x)\n", "6:17",
	  "the first argument of lookup must name a [lookup] section", NULL },
	{ "negate boolean", S "name = -true\n", "6:8",
	  "operator does not exist: - boolean", NULL },
	{ "not a number", S "name = abs(true)\n", "6:12",
	  "function \"abs\" needs a number, not boolean", NULL },
	{ "empty schema", "[schema]\n[from a]\n", "1:1",
	  "[schema] declares no columns", NULL },
	{ "coalesce types", S "name = coalesce(1, true)\n", "6:20",
	  "coalesce types integer and boolean cannot be matched", NULL },
};

static void test_malformed(void **state)
{
	int failed = 0;
	FILE *f = fopen("/tmp/cns-xf-empty.csv", "w");
	(void)state;

	assert_non_null(f);
	fputs("key,value\n", f);
	fclose(f);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(*bad_cases); i++) {
		const struct bad_case *k = &bad_cases[i];
		struct cns_transform *t = NULL;
		struct cns_error err;
		char at[32];

		cns_error_clear(&err);
		if (cns_transform_parse("bad.xf", k->text, XF_NOW, &t, &err) ==
		    0) {
			print_error("%s: accepted\n", k->what);
			cns_transform_free(t);
			failed++;
			continue;
		}
		snprintf(at, sizeof(at), "%d:%d", err.line, err.column);
		if (strcmp(err.message, k->message) || strcmp(at, k->at) ||
		    strcmp(err.hint, k->hint ? k->hint : "") ||
		    strcmp(err.file, "bad.xf") || err.code != CNS_E_CONFIG) {
			print_error("%s:\n  want %s: %s [%s]\n  got  %s: %s "
				    "[%s]\n",
				    k->what, k->at, k->message,
				    k->hint ? k->hint : "", at, err.message,
				    err.hint);
			failed++;
		}
	}
	unlink("/tmp/cns-xf-empty.csv");
	assert_true(sizeof(bad_cases) / sizeof(*bad_cases) >= 40);
	assert_int_equal(failed, 0);
}

static void test_all_errors_at_once(void **state)
{
	struct cns_transform *t = NULL;
	struct cns_error err;
	char buf[4096];
	(void)state;

	cns_error_clear(&err);
	assert_int_equal(cns_transform_parse("many.xf",
					     "[schema]\n"
					     "id bigint not null\n"
					     "name text\n"
					     "[from a]\n"
					     "id = cast(x as bigint\n"
					     "name = lenght(y)\n"
					     "name2 = substr(y)\n"
					     "\t|| 'x'\n",
					     XF_NOW, &t, &err),
			 -1);
	assert_string_equal(err.message, "missing \")\" to close \"(\"");
	assert_string_equal(
		err.detail,
		"many.xf:5:10: missing \")\" to close \"(\"\n"
		"  id = cast(x as bigint\n"
		"           ^ a continued line must be indented deeper than "
		"the line it continues\n"
		"many.xf:6:8: unknown function \"lenght\"\n"
		"  name = lenght(y)\n"
		"         ^~~~~~ did you mean \"length\"?\n"
		"many.xf:7:1: unknown target column \"name2\"\n"
		"  name2 = substr(y)\n"
		"  ^~~~~ did you mean \"name\"?\n"
		"many.xf:7:9: function \"substr\" takes 2 or 3 arguments, "
		"got 1\n"
		"  name2 = substr(y)\n"
		"          ^~~~~~");
	/* the formatted error: position and message once, then the quoted
	 * line and its caret with the hint, then the other errors; no
	 * DETAIL or HINT label repeating them */
	cns_error_format(&err, buf, sizeof(buf));
	assert_string_equal(buf, err.detail);
	assert_null(strstr(buf, "DETAIL"));
	assert_null(strstr(buf, "HINT"));
}

static void test_detail_is_bounded(void **state)
{
	struct cns_transform *t = NULL;
	struct cns_error err;
	struct cns_buf b;
	(void)state;

	/* 100 bad lines: the detail keeps whole entries and says how many
	 * it left out */
	cns_buf_init(&b);
	cns_buf_adds(&b, "[schema]\nid bigint\n[from a]\n");
	for (int i = 0; i < 100; i++)
		cns_buf_printf(&b, "id = nosuch%d(x)\n", i);
	cns_error_clear(&err);
	assert_int_equal(
		cns_transform_parse("big.xf", b.data, XF_NOW, &t, &err), -1);
	assert_string_equal(err.message, "unknown function \"nosuch0\"");
	assert_non_null(strstr(err.detail, "more errors"));
	assert_true(strlen(err.detail) < sizeof(err.detail));
	cns_buf_release(&b);
}

static void test_nesting_limits(void **state)
{
	struct cns_transform *t = NULL;
	struct cns_error err;
	struct cns_buf b;
	static const char *const kinds[] = { "(", "not ", "- ", "1 + " };
	(void)state;

	/* deep nesting is refused cleanly, never by running out of stack */
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++) {
		cns_buf_init(&b);
		cns_buf_adds(&b, "[schema]\nx text\n[from a]\nx = ");
		for (int i = 0; i < 100000; i++)
			cns_buf_adds(&b, kinds[k]);
		cns_buf_adds(&b, "1\n");
		cns_error_clear(&err);
		assert_int_equal(cns_transform_parse("deep.xf", b.data, XF_NOW,
						     &t, &err),
				 -1);
		assert_string_equal(err.message,
				    "expression nested too deeply");
		cns_buf_release(&b);
	}
	/* 150 levels are fine */
	cns_buf_init(&b);
	cns_buf_adds(&b, "[schema]\nx integer\n[from a]\nx = ");
	for (int i = 0; i < 150; i++)
		cns_buf_adds(&b, "(");
	cns_buf_adds(&b, "1");
	for (int i = 0; i < 150; i++)
		cns_buf_adds(&b, " + 1)");
	cns_buf_adds(&b, "\n");
	cns_error_clear(&err);
	assert_int_equal(
		cns_transform_parse("deep.xf", b.data, XF_NOW, &t, &err), 0);
	cns_transform_free(t);
	cns_buf_release(&b);
}

static void test_bind_errors(void **state)
{
	struct cns_transform *t = NULL;
	struct cns_program *p = NULL;
	struct cns_error err;
	static const char *const names[] = { "customer_no", "e_mail",
					     "Status" };
	(void)state;

	cns_error_clear(&err);
	assert_int_equal(
		cns_transform_parse(
			"b.xf",
			"[schema]\nid bigint\nemail text\n"
			"[from crm]\n"
			"id = customer_nr::bigint\n"
			"email = lower(email)\n"
			"where = status <> 'x' and \"status\" <> 'y'\n",
			XF_NOW, &t, &err),
		0);
	assert_int_equal(cns_transform_bind(t, "crm", 3, names, &p, &err), -1);
	assert_null(p);
	assert_string_equal(err.message,
			    "unknown column \"customer_nr\" in source "
			    "\"crm\"");
	assert_string_equal(err.source, "crm");
	/* every unknown column, each at its first use; "status" matches
	 * "Status" case-blind, the quoted one does not */
	assert_string_equal(
		err.detail,
		"b.xf:5:6: unknown column \"customer_nr\" in source \"crm\"\n"
		"  id = customer_nr::bigint\n"
		"       ^~~~~~~~~~~ did you mean \"customer_no\"?\n"
		"b.xf:6:15: unknown column \"email\" in source \"crm\"\n"
		"  email = lower(email)\n"
		"                ^~~~~ did you mean \"e_mail\"?\n"
		"b.xf:7:27: unknown column \"status\" in source \"crm\"\n"
		"  where = status <> 'x' and \"status\" <> 'y'\n"
		"                            ^~~~~~~~ did you mean "
		"\"Status\"?");
	cns_transform_free(t);
}

static void test_load_errors(void **state)
{
	struct cns_transform *t = NULL;
	struct cns_error err;
	char path[] = "/tmp/cns-xf-XXXXXX";
	int fd;
	(void)state;

	cns_error_clear(&err);
	assert_int_equal(
		cns_transform_load("/nonexistent/x.xf", XF_NOW, &t, &err), -1);
	assert_string_equal(err.message,
			    "could not open transform file "
			    "\"/nonexistent/x.xf\": No such file or directory");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[schema]\nid int\x00\n", 17), 17);
	close(fd);
	cns_error_clear(&err);
	assert_int_equal(cns_transform_load(path, XF_NOW, &t, &err), -1);
	assert_non_null(strstr(err.message, "contains a zero byte"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_all_errors_at_once),
		cmocka_unit_test(test_detail_is_bounded),
		cmocka_unit_test(test_nesting_limits),
		cmocka_unit_test(test_bind_errors),
		cmocka_unit_test(test_load_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
