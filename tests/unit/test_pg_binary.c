/*
 * test_pg_binary.c - the binary COPY encoders: the bytes of values whose
 * binary form is known from PostgreSQL's send functions, the refusal of
 * every text that is not in a strict form (the chunk then goes as text),
 * and a row's framing.  t_binary_copy.sh checks the same encoders against
 * a real server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "consolidate/pgbinary.h"

struct enc {
	enum cns_pgbin_kind kind;
	const char *text;
	const char *hex; /* NULL: refused */
};

static const struct enc cases[] = {
	{ CNS_PGBIN_INT2, "32767", "7fff" },
	{ CNS_PGBIN_INT2, "-32768", "8000" },
	{ CNS_PGBIN_INT2, "32768", NULL },
	{ CNS_PGBIN_INT2, "-32769", NULL },
	{ CNS_PGBIN_INT4, "-5", "fffffffb" },
	{ CNS_PGBIN_INT4, "+007", "00000007" },
	{ CNS_PGBIN_INT4, " 5", NULL },
	{ CNS_PGBIN_INT4, "1e3", NULL },
	{ CNS_PGBIN_INT4, "", NULL },
	{ CNS_PGBIN_INT4, "-", NULL },
	{ CNS_PGBIN_INT8, "-9223372036854775808", "8000000000000000" },
	{ CNS_PGBIN_INT8, "9223372036854775807", "7fffffffffffffff" },
	{ CNS_PGBIN_INT8, "9223372036854775808", NULL },
	{ CNS_PGBIN_FLOAT8, "1.5", "3ff8000000000000" },
	{ CNS_PGBIN_FLOAT8, "-0", "8000000000000000" },
	{ CNS_PGBIN_FLOAT8, ".5", "3fe0000000000000" },
	{ CNS_PGBIN_FLOAT8, "Infinity", "7ff0000000000000" },
	{ CNS_PGBIN_FLOAT8, "-Infinity", "fff0000000000000" },
	{ CNS_PGBIN_FLOAT8, "5e-324", NULL }, /* subnormal: ERANGE */
	{ CNS_PGBIN_FLOAT8, "1e309", NULL },
	{ CNS_PGBIN_FLOAT8, "inf", NULL },
	{ CNS_PGBIN_FLOAT8, "0x1p3", NULL },
	{ CNS_PGBIN_FLOAT4, "1.5", "3fc00000" },
	{ CNS_PGBIN_FLOAT4, "3.4028235e+38", "7f7fffff" },
	{ CNS_PGBIN_FLOAT4, "1e39", NULL },
	{ CNS_PGBIN_BOOL, "t", "01" },
	{ CNS_PGBIN_BOOL, "off", "00" },
	{ CNS_PGBIN_BOOL, "TRUE", NULL },
	{ CNS_PGBIN_TEXT, "Zoë", "5a6fc3ab" },
	{ CNS_PGBIN_JSONB, "{}", "017b7d" },
	{ CNS_PGBIN_BYTEA, "\\xDEad", "dead" },
	{ CNS_PGBIN_BYTEA, "\\x", "" },
	{ CNS_PGBIN_BYTEA, "\\x0", NULL },
	{ CNS_PGBIN_BYTEA, "abc", NULL },
	/* numeric: ndigits, weight, sign, dscale, base-10000 digits */
	{ CNS_PGBIN_NUMERIC, "123.4500",
	  "00020000000000040"
	  "07b1194" },
	{ CNS_PGBIN_NUMERIC, "-0.000", "0000000000000003" },
	{ CNS_PGBIN_NUMERIC, "0.00000001", "0001fffe000000080001" },
	{ CNS_PGBIN_NUMERIC, "10000", "00010001000000000001" },
	{ CNS_PGBIN_NUMERIC, "-12345.6789", "0003000140000004000109291a85" },
	{ CNS_PGBIN_NUMERIC, "5.", "00010000000000000005" },
	{ CNS_PGBIN_NUMERIC, "NaN",
	  "000000"
	  "00c0000000" },
	{ CNS_PGBIN_NUMERIC, "-Infinity", "00000000f0000000" },
	{ CNS_PGBIN_NUMERIC, "1e3", NULL },
	{ CNS_PGBIN_NUMERIC, ".", NULL },
	{ CNS_PGBIN_NUMERIC, "nan", NULL },
	/* date: days since 2000-01-01 */
	{ CNS_PGBIN_DATE, "2000-01-01", "00000000" },
	{ CNS_PGBIN_DATE, "1999-12-31", "ffffffff" },
	{ CNS_PGBIN_DATE, "0001-01-01 BC", "fff4da8b" },
	{ CNS_PGBIN_DATE, "4714-11-24 BC", "ffda97a7" },
	{ CNS_PGBIN_DATE, "4714-11-23 BC", NULL },
	{ CNS_PGBIN_DATE, "infinity", "7fffffff" },
	{ CNS_PGBIN_DATE, "2023-02-29", NULL },
	{ CNS_PGBIN_DATE, "0000-01-01", NULL },
	{ CNS_PGBIN_DATE, "2024-1-5", NULL },
	/* timestamps: microseconds since 2000-01-01 00:00 UTC */
	{ CNS_PGBIN_TIMESTAMP, "2000-01-01 00:00:01.5", "000000000016e360" },
	{ CNS_PGBIN_TIMESTAMP, "2000-01-01T00:00:00", "0000000000000000" },
	{ CNS_PGBIN_TIMESTAMP, "2000-01-01 24:00:00", NULL },
	{ CNS_PGBIN_TIMESTAMP, "2000-01-01 00:00:00.1234567", NULL },
	{ CNS_PGBIN_TIMESTAMP, "2000-01-01 00:00:00+01", NULL },
	{ CNS_PGBIN_TIMESTAMP, "-infinity", "8000000000000000" },
	{ CNS_PGBIN_TIMESTAMPTZ, "2000-01-01 01:00:00+01", "0000000000000000" },
	{ CNS_PGBIN_TIMESTAMPTZ, "1999-12-31 23:59:59-00:00:01",
	  "0000000000000000" },
	{ CNS_PGBIN_TIMESTAMPTZ, "2000-01-01 00:00:00", NULL },
	{ CNS_PGBIN_TIMESTAMPTZ, "2000-01-01 00:00:00+16", NULL },
	{ CNS_PGBIN_UUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
	  "a0eebc999c0b4ef8bb6d6bb9bd380a11" },
	{ CNS_PGBIN_UUID, "a0eebc999c0b4ef8bb6d6bb9bd380a11",
	  "a0eebc999c0b4ef8bb6d6bb9bd380a11" },
	{ CNS_PGBIN_UUID, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", NULL },
	{ CNS_PGBIN_NONE, "5", NULL },
};

static void hex_of(const struct cns_buf *b, char *out)
{
	for (size_t i = 0; i < b->len; i++)
		sprintf(out + 2 * i, "%02x", (unsigned char)b->data[i]);
	out[2 * b->len] = '\0';
}

static void test_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct enc *c = &cases[i];
		struct cns_buf b;
		char hex[256];
		bool ok;

		cns_buf_init(&b);
		ok = cns_pgbin_value(&b, c->kind, c->text, strlen(c->text));
		if (ok != (c->hex != NULL))
			fail_msg("\"%s\" (kind %d): %s", c->text, (int)c->kind,
				 ok ? "encoded, expected a refusal"
				    : "refused");
		if (ok) {
			hex_of(&b, hex);
			if (strcmp(hex, c->hex) != 0)
				fail_msg("\"%s\": %s, expected %s", c->text,
					 hex, c->hex);
		}
		cns_buf_release(&b);
	}
}

static void test_row(void **state)
{
	const enum cns_pgbin_kind kinds[] = { CNS_PGBIN_INT4, CNS_PGBIN_TEXT };
	struct cns_cell cells[2] = { { "7", 1, false }, { NULL, 0, true } };
	struct cns_buf b;
	char hex[256];
	int64_t seq = 3;

	(void)state;
	cns_buf_init(&b);
	assert_true(cns_pgbin_row(&b, cells, kinds, 2, &seq));
	hex_of(&b, hex);
	/* 3 fields; 4 bytes of 7; NULL; 8 bytes of 3 */
	assert_string_equal(hex, "0003"
				 "0000000400000007"
				 "ffffffff"
				 "000000080000000000000003");
	/* A value without an exact form: the row leaves nothing behind. */
	cells[0].data = "x";
	assert_false(cns_pgbin_row(&b, cells, kinds, 2, NULL));
	hex_of(&b, hex);
	assert_string_equal(hex, "0003"
				 "0000000400000007"
				 "ffffffff"
				 "000000080000000000000003");
	cns_buf_reset(&b);
	cns_pgbin_header(&b);
	cns_pgbin_trailer(&b);
	hex_of(&b, hex);
	assert_string_equal(hex, "5047434f50590aff0d0a00"
				 "00000000"
				 "00000000"
				 "ffff");
	cns_buf_release(&b);
}

static void test_kinds(void **state)
{
	(void)state;
	assert_int_equal(cns_pgbin_kind("numeric"), CNS_PGBIN_NUMERIC);
	assert_int_equal(cns_pgbin_kind("bpchar"), CNS_PGBIN_TEXT);
	assert_int_equal(cns_pgbin_kind("interval"), CNS_PGBIN_NONE);
	assert_int_equal(cns_pgbin_kind("_int4"), CNS_PGBIN_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_row),
		cmocka_unit_test(test_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
