/*
 * test_util.c - PostgreSQL names: one identifier is always quoted with
 * the server's rules (as PQescapeIdentifier does), a qualified name is its
 * quoted parts, and a table name as written in a job file parses into
 * parts with the server's folding and 63-byte limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "consolidate/util.h"

#define LONG63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"

struct quote_case {
	const char *name;
	const char *quoted;
};

static const struct quote_case quote_cases[] = {
	{ "id", "\"id\"" },
	{ "select", "\"select\"" },
	{ "user", "\"user\"" },
	{ "Order Id", "\"Order Id\"" },
	{ "MixedCase", "\"MixedCase\"" },
	{ "a\"b", "\"a\"\"b\"" },
	{ "\"", "\"\"\"\"" },
	{ "\"\"", "\"\"\"\"\"\"" },
	{ "schema.table",
	  "\"schema.table\"" }, /* one part: the dot is a char */
	{ "x'y", "\"x'y\"" },
	{ "back\\slash", "\"back\\slash\"" },
	{ "Zoë 山田", "\"Zoë 山田\"" },
	{ "", "\"\"" },
	/* 63 bytes and longer: quoted whole, the server cuts. */
	{ LONG63 "xyz", "\"" LONG63 "xyz\"" },
};

static void test_quote_ident(void **state)
{
	struct cns_buf b;

	(void)state;
	cns_buf_init(&b);
	for (size_t i = 0; i < sizeof(quote_cases) / sizeof(quote_cases[0]);
	     i++) {
		cns_buf_reset(&b);
		cns_pg_quote_ident(&b, quote_cases[i].name);
		assert_string_equal(b.data, quote_cases[i].quoted);
	}
	cns_buf_release(&b);
}

struct parse_case {
	const char *text;
	const char *schema; /* NULL: unqualified */
	const char *name;   /* NULL: an error is expected */
	const char *quoted; /* cns_pg_quote_qname of the parts */
};

#define U31 "üüüüüüüüüüüüüüüüüüüüüüüüüüüüüüü" /* 62 bytes */

static const struct parse_case parse_cases[] = {
	{ "orders", NULL, "orders", "\"orders\"" },
	{ "Orders", NULL, "orders", "\"orders\"" },
	{ "Sales.Orders", "sales", "orders", "\"sales\".\"orders\"" },
	{ "\"Sales\".\"Orders\"", "Sales", "Orders", "\"Sales\".\"Orders\"" },
	{ "\"Dst Schema\".\"All Types\"", "Dst Schema", "All Types",
	  "\"Dst Schema\".\"All Types\"" },
	{ "public.\"My \"\"Table\"\"\"", "public", "My \"Table\"",
	  "\"public\".\"My \"\"Table\"\"\"" },
	{ "\"a.b\"", NULL, "a.b", "\"a.b\"" },
	{ "\"select\"", NULL, "select", "\"select\"" },
	{ "select", NULL, "select", "\"select\"" },
	{ "_x$1", NULL, "_x$1", "\"_x$1\"" },
	{ "  spaced  ", NULL, "spaced", "\"spaced\"" },
	/* UTF-8 letters are kept, only ASCII folds (as in a UTF-8 server). */
	{ "ÉtÉ", NULL, "Ét\xc3\x89", "\"ÉtÉ\"" },
	/* 63 bytes kept, 64 cut to 63, never inside a character. */
	{ LONG63, NULL, LONG63, NULL },
	{ LONG63 "z", NULL, LONG63, NULL },
	{ "s." LONG63 "z", "s", LONG63, NULL },
	{ "\"" U31 "x\"", NULL, U31 "x", NULL },
	{ "\"" U31 "ü\"", NULL, U31, NULL },
	{ "My Table", NULL, NULL, NULL },
	{ "a.b.c", NULL, NULL, NULL },
	{ "\"unterminated", NULL, NULL, NULL },
	{ "\"\"", NULL, NULL, NULL },
	{ "", NULL, NULL, NULL },
	{ "a.", NULL, NULL, NULL },
	{ "1abc", NULL, NULL, NULL },
	{ "a-b", NULL, NULL, NULL },
};

static void test_parse_qname(void **state)
{
	struct cns_arena a;
	struct cns_buf b;

	(void)state;
	cns_arena_init(&a, 1024);
	cns_buf_init(&b);
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
	     i++) {
		const struct parse_case *c = &parse_cases[i];
		struct cns_qname q;
		const char *why = NULL;
		int rc = cns_pg_parse_qname(&a, c->text, &q, &why);

		if (!c->name) {
			if (rc != -1 || !why)
				fail_msg("\"%s\" should be refused", c->text);
			continue;
		}
		if (rc != 0)
			fail_msg("\"%s\": %s", c->text, why);
		if (c->schema)
			assert_string_equal(q.schema, c->schema);
		else
			assert_null(q.schema);
		assert_string_equal(q.name, c->name);
		if (c->quoted) {
			cns_buf_reset(&b);
			cns_pg_quote_qname(&b, &q);
			assert_string_equal(b.data, c->quoted);
		}
	}
	cns_buf_release(&b);
	cns_arena_release(&a);
}

static void test_name_clip(void **state)
{
	(void)state;
	assert_int_equal(cns_pg_name_clip("abc", 3), 3);
	assert_int_equal(strlen(LONG63), 63);
	assert_int_equal(cns_pg_name_clip(LONG63, 63), 63);
	assert_int_equal(cns_pg_name_clip(LONG63 "z", 64), 63);
	/* 62 bytes of ü then ü: the 64-byte name keeps 62, not half a
	 * character. */
	assert_int_equal(cns_pg_name_clip(U31 "ü", strlen(U31 "ü")), 62);
	assert_int_equal(cns_pg_name_clip("x" U31 "ü", strlen("x" U31 "ü")),
			 63);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_ident),
		cmocka_unit_test(test_parse_qname),
		cmocka_unit_test(test_name_clip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
