/*
 * test_pg.c - the COPY text format in both directions: every value that
 * goes out comes back the same, NULL stays distinct from the empty string,
 * and the escapes are PostgreSQL's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "consolidate/pg.h"

struct value {
	const char *text; /* NULL for SQL NULL */
	const char *escaped;
};

static const struct value values[] = {
	{ "plain", "plain" },
	{ "", "" },
	{ NULL, "\\N" },
	{ "tab\there", "tab\\there" },
	{ "new\nline", "new\\nline" },
	{ "cr\rhere", "cr\\rhere" },
	{ "back\\slash", "back\\\\slash" },
	{ "\\N", "\\\\N" },
	{ "Zoë 山田", "Zoë 山田" },
	{ "\t\n\\\r", "\\t\\n\\\\\\r" },
};

#define NVALUES ((int)(sizeof(values) / sizeof(values[0])))

static void test_format_row(void **state)
{
	struct cns_chunk c;
	struct cns_buf out;
	struct cns_buf want;

	(void)state;
	cns_chunk_init(&c, NVALUES, 1);
	cns_chunk_add_row(&c, 1, NULL);
	for (int i = 0; i < NVALUES; i++)
		if (values[i].text)
			cns_chunk_set(&c, 0, i, values[i].text,
				      strlen(values[i].text));
	cns_buf_init(&out);
	cns_buf_init(&want);
	cns_pg_copy_format_row(&out, cns_chunk_row(&c, 0), NVALUES);
	for (int i = 0; i < NVALUES; i++) {
		if (i)
			cns_buf_addc(&want, '\t');
		cns_buf_adds(&want, values[i].escaped);
	}
	cns_buf_addc(&want, '\n');
	assert_string_equal(out.data, want.data);
	assert_int_equal(out.len, want.len);
	cns_buf_release(&out);
	cns_buf_release(&want);
	cns_chunk_release(&c);
}

static void test_round_trip(void **state)
{
	struct cns_chunk a, b;
	struct cns_buf out;
	int n;

	(void)state;
	cns_chunk_init(&a, NVALUES, 1);
	cns_chunk_init(&b, NVALUES, 1);
	cns_chunk_add_row(&a, 1, NULL);
	for (int i = 0; i < NVALUES; i++)
		if (values[i].text)
			cns_chunk_set(&a, 0, i, values[i].text,
				      strlen(values[i].text));
	cns_buf_init(&out);
	cns_pg_copy_format_row(&out, cns_chunk_row(&a, 0), NVALUES);
	cns_chunk_add_row(&b, 1, NULL);
	n = cns_pg_copy_parse_row(&b, 0, out.data, out.len - 1, false);
	assert_int_equal(n, NVALUES);
	for (int i = 0; i < NVALUES; i++) {
		const struct cns_cell *x = cns_chunk_row(&b, 0) + i;

		if (!values[i].text) {
			assert_true(x->null);
			continue;
		}
		assert_false(x->null);
		assert_int_equal(x->len, strlen(values[i].text));
		assert_memory_equal(x->data, values[i].text, x->len);
	}
	cns_buf_release(&out);
	cns_chunk_release(&a);
	cns_chunk_release(&b);
}

/* The server may write octal and hex escapes; the parser reads them. */
static void test_parse_escapes(void **state)
{
	static const char line[] = "\\101\\x42\\b\\f\\v\tx\\N\t\\N";
	struct cns_chunk c;
	const struct cns_cell *row;

	(void)state;
	cns_chunk_init(&c, 3, 1);
	cns_chunk_add_row(&c, 1, NULL);
	assert_int_equal(cns_pg_copy_parse_row(&c, 0, line, strlen(line), true),
			 3);
	row = cns_chunk_row(&c, 0);
	assert_int_equal(row[0].len, 5);
	assert_memory_equal(row[0].data, "AB\b\f\v", 5);
	/* A backslash before any other character stands for that
	 * character: only a whole field of \N is NULL. */
	assert_int_equal(row[1].len, 2);
	assert_memory_equal(row[1].data, "xN", 2);
	assert_true(row[2].null);
	cns_chunk_release(&c);
}

/* Every position of every special byte in values long enough for the
 * word-at-a-time scan. */
static void test_format_long_values(void **state)
{
	static const char specials[] = "\\\t\n\r";
	static const char *const escaped[] = { "\\\\", "\\t", "\\n", "\\r" };
	struct cns_buf out, want;
	struct cns_cell cell;
	char v[41];

	(void)state;
	cns_buf_init(&out);
	cns_buf_init(&want);
	for (int k = 0; k < 4; k++) {
		for (int pos = 0; pos < 40; pos++) {
			for (int i = 0; i < 40; i++)
				v[i] = (char)('a' + i % 26);
			v[pos] = specials[k];
			v[40] = '\0';
			cell.data = v;
			cell.len = 40;
			cell.null = false;
			cns_buf_reset(&out);
			cns_buf_reset(&want);
			cns_pg_copy_format_row(&out, &cell, 1);
			cns_buf_add(&want, v, (size_t)pos);
			cns_buf_adds(&want, escaped[k]);
			cns_buf_adds(&want, v + pos + 1);
			cns_buf_addc(&want, '\n');
			assert_string_equal(out.data, want.data);
		}
	}
	cns_buf_release(&out);
	cns_buf_release(&want);
}

static void test_transient_states(void **state)
{
	(void)state;
	assert_true(cns_pg_sqlstate_transient("08006"));
	assert_true(cns_pg_sqlstate_transient("40001"));
	assert_true(cns_pg_sqlstate_transient("40P01"));
	assert_true(cns_pg_sqlstate_transient("57P01"));
	assert_true(cns_pg_sqlstate_transient("53300"));
	assert_false(cns_pg_sqlstate_transient("42501"));
	assert_false(cns_pg_sqlstate_transient("23505"));
	assert_false(cns_pg_sqlstate_transient("42P01"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_row),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_escapes),
		cmocka_unit_test(test_format_long_values),
		cmocka_unit_test(test_transient_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
