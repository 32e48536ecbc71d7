/*
 * test_transform_types.c - casts and the text forms of every type:
 * integer overflow, exact numeric rounding, floating point, booleans,
 * dates with leap days, times, timestamps, time zones with their DST
 * changes, uuid, json, bytea, varchar lengths and bad UTF-8; and the
 * values written to typed target columns.
 */
#include "transform_helper.h"

#define N XF_NULL

static const struct xf_case cast_cases[] = {
	/* integers */
	{ "a::integer", "+5", 0, 0, 0, "5" },
	{ "a::integer", "-0", 0, 0, 0, "0" },
	{ "a::integer", "", 0, 0, 0, "REJECT: invalid integer \"\"" },
	{ "a::integer", " ", 0, 0, 0, "REJECT: invalid integer \" \"" },
	{ "a::integer", "1e3", 0, 0, 0, "REJECT: invalid integer \"1e3\"" },
	{ "a::integer", "1.0", 0, 0, 0, "REJECT: invalid integer \"1.0\"" },
	{ "a::integer", "2147483647", 0, 0, 0, "2147483647" },
	{ "a::integer", "-2147483648", 0, 0, 0, "-2147483648" },
	{ "a::integer", "2147483648", 0, 0, 0,
	  "REJECT: value \"2147483648\" is out of range for integer" },
	{ "a::bigint", "9223372036854775807", 0, 0, 0, "9223372036854775807" },
	{ "a::bigint", "-9223372036854775808", 0, 0, 0,
	  "-9223372036854775808" },
	{ "a::bigint", "9223372036854775808", 0, 0, 0,
	  "REJECT: value \"9223372036854775808\" is out of range for bigint" },
	{ "a::bigint", "99999999999999999999x", 0, 0, 0,
	  "REJECT: invalid bigint \"99999999999999999999x\"" },
	{ "a::smallint", "-32768", 0, 0, 0, "-32768" },
	{ "a::smallint + a::smallint", "32767", 0, 0, 0,
	  "REJECT: smallint out of range" },
	{ "a::smallint + 1", "32767", 0, 0, 0, "32768" },
	{ "a::int * 2", "1073741824", 0, 0, 0, "REJECT: integer out of range" },
	{ "a::bigint * 2", "1073741824", 0, 0, 0, "2147483648" },
	{ "cast(a::bigint as integer)", "3000000000", 0, 0, 0,
	  "REJECT: value \"3000000000\" is out of range for integer" },
	/* numeric: exact decimal text */
	{ "a::numeric", "1.50", 0, 0, 0, "1.50" },
	{ "a::numeric", "+.5", 0, 0, 0, "0.5" },
	{ "a::numeric", "007.10", 0, 0, 0, "7.10" },
	{ "a::numeric", "1e-3", 0, 0, 0, "0.001" },
	{ "a::numeric", "-0.0", 0, 0, 0, "0.0" },
	{ "a::numeric", "1.2.3", 0, 0, 0, "REJECT: invalid numeric \"1.2.3\"" },
	/* PostgreSQL's special values, and what arithmetic makes of them */
	{ "a::numeric", " nan ", 0, 0, 0, "NaN" },
	{ "a::numeric", "-inf", 0, 0, 0, "-Infinity" },
	{ "a::numeric", "1e 5", 0, 0, 0, "100000" },
	{ "a::numeric + b::numeric", "Infinity", "-Infinity", 0, 0, "NaN" },
	{ "a::numeric * b::numeric", "-Infinity", "-2", 0, 0, "Infinity" },
	{ "a::numeric * b::numeric", "Infinity", "0", 0, 0, "NaN" },
	{ "a::numeric / b::numeric", "5", "Infinity", 0, 0, "0" },
	{ "a::numeric / b::numeric", "NaN", "0", 0, 0, "NaN" },
	{ "a::numeric / b::numeric", "Infinity", "0", 0, 0,
	  "REJECT: division by zero" },
	{ "a::numeric % b::numeric", "5", "-Infinity", 0, 0, "5" },
	{ "a::numeric < b::numeric", "Infinity", "NaN", 0, 0, "true" },
	{ "a::numeric < b::numeric", "-Infinity", "-1e100", 0, 0, "true" },
	{ "a::numeric::integer", "NaN", 0, 0, 0,
	  "REJECT: value \"NaN\" is out of range for integer" },
	{ "a::numeric(5,2)", "NaN", 0, 0, 0, "NaN" },
	{ "a::numeric(5,2)", "Infinity", 0, 0, 0,
	  "REJECT: value \"Infinity\" is out of range for numeric(5,2)" },
	{ "a::numeric::double precision", "-Infinity", 0, 0, 0, "-Infinity" },
	{ "round(a::numeric, 2)", "NaN", 0, 0, 0, "NaN" },
	{ "a::numeric(3,0)", "999.5", 0, 0, 0,
	  "REJECT: value \"999.5\" is out of range for numeric(3,0)" },
	{ "a::numeric(3,0)", "999.4", 0, 0, 0, "999" },
	{ "a::numeric(5,2)", "0.005", 0, 0, 0, "0.01" },
	{ "a::numeric(5,2)", "-0.004", 0, 0, 0, "0.00" },
	{ "a::numeric(4,4)", "0.99995", 0, 0, 0,
	  "REJECT: value \"0.99995\" is out of range for numeric(4,4)" },
	{ "a::numeric(18,4)", "12", 0, 0, 0, "12.0000" },
	{ "a + b", "12345678901234567890.123456789", "0.000000001", 0, 0,
	  "12345678901234567890.123456790" },
	{ "a * b", "99999999999999999999", "99999999999999999999", 0, 0,
	  "9999999999999999999800000000000000000001" },
	{ "a - b", "0.1", "0.3", 0, 0, "-0.2" },
	{ "a / b", "10", "4", 0, 0, "2.5000000000000000" },
	{ "a / b", "2", "3", 0, 0, "0.6666666666666667" },
	{ "a / b", "-2", "3", 0, 0, "-0.6666666666666667" },
	{ "a / b", "1.000000000000000000005", "1", 0, 0,
	  "1.000000000000000000005" },
	{ "a % b", "10.5", "3", 0, 0, "1.5" },
	{ "a % b", "-10.5", "3", 0, 0, "-1.5" },
	{ "a::numeric < b::numeric", "-1.5", "-1.25", 0, 0, "true" },
	{ "a::numeric = b::numeric", "1.50", "1.5", 0, 0, "true" },
	{ "a::numeric > b::numeric", "10", "9.99", 0, 0, "true" },
	{ "a::numeric > b::numeric", "0.01", "0.009", 0, 0, "true" },
	{ "a::numeric::integer", "1.5", 0, 0, 0, "2" },
	{ "a::numeric::integer", "-1.5", 0, 0, 0, "-2" },
	{ "a::numeric::bigint", "1e20", 0, 0, 0,
	  "REJECT: value \"100000000000000000000\" is out of range for "
	  "bigint" },
	{ "a::numeric::double precision", "0.1", 0, 0, 0, "0.1" },
	/* floating point */
	{ "a::double precision", "1e308", 0, 0, 0, "1e+308" },
	{ "a::double precision", "1e309", 0, 0, 0,
	  "REJECT: value \"1e309\" is out of range for double precision" },
	{ "a::double precision", "NaN", 0, 0, 0, "NaN" },
	{ "a::double precision", "-Infinity", 0, 0, 0, "-Infinity" },
	/* strtod reads hexadecimal, and so does PostgreSQL */
	{ "a::double precision", "0x10", 0, 0, 0, "16" },
	{ "a::double precision", "1e-400", 0, 0, 0,
	  "REJECT: value \"1e-400\" is out of range for double precision" },
	{ "a::real", "3.4028235e+38", 0, 0, 0, "3.4028235e+38" },
	{ "a::real", "-3.4028235e+38", 0, 0, 0, "-3.4028235e+38" },
	{ "a::real", "1e-45", 0, 0, 0, "1e-45" },
	{ "a::real", "1e-46", 0, 0, 0,
	  "REJECT: value \"1e-46\" is out of range for real" },
	{ "a::double precision::real", "3.4028235e+38", 0, 0, 0,
	  "3.4028235e+38" },
	{ "a::double precision + b::double precision", "0.1", "0.2", 0, 0,
	  "0.30000000000000004" },
	{ "a::real", "3.4e39", 0, 0, 0,
	  "REJECT: value \"3.4e39\" is out of range for real" },
	{ "a::real", "0.1", 0, 0, 0, "0.1" },
	{ "a::double precision::integer", "2.5", 0, 0, 0, "2" },
	{ "a::double precision::integer", "3.5", 0, 0, 0, "4" },
	{ "a::double precision::integer", "1e10", 0, 0, 0,
	  "REJECT: value \"10000000000\" is out of range for integer" },
	{ "a::double precision::numeric", "0.1", 0, 0, 0, "0.1" },
	{ "a::double precision::numeric", "NaN", 0, 0, 0, "NaN" },
	{ "a::double precision::numeric", "-inf", 0, 0, 0, "-Infinity" },
	/* booleans */
	{ "a::boolean", "TRUE", 0, 0, 0, "true" },
	{ "a::boolean", " f ", 0, 0, 0, "false" },
	{ "a::boolean", "on", 0, 0, 0, "true" },
	{ "a::boolean", "off", 0, 0, 0, "false" },
	{ "a::boolean", "1", 0, 0, 0, "true" },
	{ "a::boolean", "0", 0, 0, 0, "false" },
	{ "a::boolean", "Y", 0, 0, 0, "true" },
	{ "a::boolean", "no", 0, 0, 0, "false" },
	{ "a::boolean", "tr", 0, 0, 0, "true" },
	{ "a::boolean", "OF", 0, 0, 0, "false" },
	{ "a::boolean", "o", 0, 0, 0, "REJECT: invalid boolean \"o\"" },
	{ "a::boolean", "yess", 0, 0, 0, "REJECT: invalid boolean \"yess\"" },
	{ "a::boolean::integer", "t", 0, 0, 0, "1" },
	{ "a::integer::boolean", "5", 0, 0, 0, "true" },
	/* dates, leap days */
	{ "a::date", "2024-02-29", 0, 0, 0, "2024-02-29" },
	{ "a::date", "2023-02-29", 0, 0, 0,
	  "REJECT: invalid date \"2023-02-29\"" },
	{ "a::date", "1900-02-29", 0, 0, 0,
	  "REJECT: invalid date \"1900-02-29\"" },
	{ "a::date", "2000-02-29", 0, 0, 0, "2000-02-29" },
	{ "a::date", "2024-1-5", 0, 0, 0, "2024-01-05" },
	{ "a::date", "2024-13-01", 0, 0, 0,
	  "REJECT: invalid date \"2024-13-01\"" },
	{ "a::date", "0000-01-01", 0, 0, 0,
	  "REJECT: invalid date \"0000-01-01\"" },
	{ "a::date", "0001-01-01", 0, 0, 0, "0001-01-01" },
	{ "a::date", "9999-12-31", 0, 0, 0, "9999-12-31" },
	{ "a::date", "2024-01-05 10:00", 0, 0, 0, "2024-01-05" },
	{ "a::date", "05/01/2024", 0, 0, 0,
	  "REJECT: invalid date \"05/01/2024\"" },
	/* PostgreSQL's ranges, eras and special values */
	{ "a::date", "0044-03-15 BC", 0, 0, 0, "0044-03-15 BC" },
	{ "a::date", "0005-02-29 bc", 0, 0, 0, "0005-02-29 BC" },
	{ "a::date", "4714-11-23 BC", 0, 0, 0,
	  "REJECT: invalid date \"4714-11-23 BC\"" },
	{ "a::date", "5874897-12-31", 0, 0, 0, "5874897-12-31" },
	{ "a::date", " Infinity ", 0, 0, 0, "infinity" },
	{ "a::date", "epoch", 0, 0, 0, "1970-01-01" },
	{ "a::date + 1", "-infinity", 0, 0, 0, "-infinity" },
	{ "a::date - b::date", "infinity", "2024-01-01", 0, 0,
	  "REJECT: cannot subtract infinite dates" },
	{ "a::date::timestamp", "infinity", 0, 0, 0, "infinity" },
	{ "a::timestamp", "294246-12-31 23:59:59.999999", 0, 0, 0,
	  "294246-12-31 23:59:59.999999" },
	{ "a::timestamp", "0044-03-15 10:00+02 BC", 0, 0, 0,
	  "0044-03-15 10:00:00 BC" },
	{ "a::timestamptz", "0044-03-15 10:00+02 BC", 0, 0, 0,
	  "0044-03-15 08:00:00+00 BC" },
	{ "a::timestamp", "2024-01-05 23:59:60", 0, 0, 0,
	  "2024-01-06 00:00:00" },
	{ "a::timestamp::time", "-infinity", 0, 0, 0,
	  "REJECT: timestamp out of range" },
	{ "date_trunc('day', a::timestamp)", "infinity", 0, 0, 0, "infinity" },
	{ "a::date + 1", "2023-12-31", 0, 0, 0, "2024-01-01" },
	{ "a::date - 1", "2024-03-01", 0, 0, 0, "2024-02-29" },
	/* times */
	{ "a::time", "10:11", 0, 0, 0, "10:11:00" },
	{ "a::time", "24:00:00", 0, 0, 0, "24:00:00" },
	{ "a::time", "25:00", 0, 0, 0, "REJECT: invalid time \"25:00\"" },
	{ "a::time", "10:11:12.1234567", 0, 0, 0, "10:11:12.123457" },
	{ "a::time", "10:60", 0, 0, 0, "REJECT: invalid time \"10:60\"" },
	/* the fraction goes through a double and rint(), half to even */
	{ "a::time", "10:11:12.0000005", 0, 0, 0, "10:11:12" },
	{ "a::time", "10:11:12.0000015", 0, 0, 0, "10:11:12.000002" },
	{ "a::time", "10:11:12.0000025", 0, 0, 0, "10:11:12.000002" },
	{ "a::time", "10:11:12.1234565", 0, 0, 0, "10:11:12.123456" },
	{ "a::time", "10:", 0, 0, 0, "10:00:00" },
	{ "a::time", "23:59:60", 0, 0, 0, "24:00:00" },
	/* timestamps */
	{ "a::timestamp", "2024-01-05T10:11:12Z", 0, 0, 0,
	  "2024-01-05 10:11:12" },
	{ "a::timestamp", "2024-01-05 10:11:12.000001", 0, 0, 0,
	  "2024-01-05 10:11:12.000001" },
	{ "a::timestamp", "2024-01-05 10:11:12.9999996", 0, 0, 0,
	  "2024-01-05 10:11:13" },
	{ "a::timestamp", "2024-01-05", 0, 0, 0, "2024-01-05 00:00:00" },
	{ "a::timestamp", "2024-02-30 00:00", 0, 0, 0,
	  "REJECT: invalid timestamp \"2024-02-30 00:00\"" },
	{ "a::timestamp::date", "2024-01-05 23:59:59", 0, 0, 0, "2024-01-05" },
	{ "a::timestamp::time", "2024-01-05 23:59:59", 0, 0, 0, "23:59:59" },
	{ "a::date::timestamp", "2024-01-05", 0, 0, 0, "2024-01-05 00:00:00" },
	{ "a::timestamptz", "2024-01-05 10:00+05:30", 0, 0, 0,
	  "2024-01-05 04:30:00+00" },
	{ "a::timestamptz", "2024-01-05 10:00-0800", 0, 0, 0,
	  "2024-01-05 18:00:00+00" },
	{ "a::timestamptz", "2024-01-05 10:00 UTC", 0, 0, 0,
	  "2024-01-05 10:00:00+00" },
	{ "a::timestamptz", "2024-01-05 10:00 +25", 0, 0, 0,
	  "REJECT: invalid timestamptz \"2024-01-05 10:00 +25\"" },
	{ "a::timestamptz < b::timestamptz", "2024-01-05 10:00+01",
	  "2024-01-05 09:30Z", 0, 0, "true" },
	/* uuid */
	{ "a::uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", 0, 0, 0,
	  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" },
	{ "a::uuid", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}", 0, 0, 0,
	  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" },
	{ "a::uuid", "a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11", 0, 0, 0,
	  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" },
	{ "a::uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", 0, 0, 0,
	  "REJECT: invalid uuid \"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1\"" },
	{ "a::uuid", "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 0, 0, 0,
	  "REJECT: invalid uuid \"g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"" },
	/* json, jsonb */
	{ "a::json", "{\"a\": [1, 2.5e3, true, null, \"x\\u00e9\"]}", 0, 0, 0,
	  "{\"a\": [1, 2.5e3, true, null, \"x\\u00e9\"]}" },
	{ "a::jsonb", " 5 ", 0, 0, 0, " 5 " },
	{ "a::json", "{\"a\":}", 0, 0, 0,
	  "REJECT: invalid json \"{\"a\":}\": unexpected character" },
	{ "a::jsonb", "[1,]", 0, 0, 0,
	  "REJECT: invalid jsonb \"[1,]\": unexpected character" },
	{ "a::json", "\"open", 0, 0, 0,
	  "REJECT: invalid json \"\"open\": unterminated string" },
	{ "a::json", "", 0, 0, 0, "REJECT: invalid json \"\": unexpected end" },
	{ "a::json", "01", 0, 0, 0,
	  "REJECT: invalid json \"01\": unexpected text after the value" },
	{ "a::json", "{\"a\":1} x", 0, 0, 0,
	  "REJECT: invalid json \"{\"a\":1} x\": unexpected text after the "
	  "value" },
	/* bytea */
	{ "a::bytea", "\\xDEADbeef", 0, 0, 0, "\\xdeadbeef" },
	{ "a::bytea", "\\x", 0, 0, 0, "\\x" },
	{ "a::bytea", "abc", 0, 0, 0, "\\x616263" },
	{ "a::bytea", "a\\\\b", 0, 0, 0, "\\x615c62" },
	{ "a::bytea", "\\001", 0, 0, 0, "\\x01" },
	{ "a::bytea", "\\x1", 0, 0, 0, "REJECT: invalid bytea \"\\x1\"" },
	{ "a::bytea", "a\\b", 0, 0, 0, "REJECT: invalid bytea \"a\\b\"" },
	/* varchar(n) counts characters */
	{ "a::varchar(3)", "abc", 0, 0, 0, "abc" },
	{ "a::varchar(3)", "été", 0, 0, 0, "été" },
	{ "a::varchar(3)", "abcd", 0, 0, 0,
	  "REJECT: value too long for varchar(3) (4 characters)" },
	{ "cast(123456 as varchar(3))", 0, 0, 0, 0,
	  "REJECT: value too long for varchar(3) (6 characters)" },
	{ "a::varchar", "anything", 0, 0, 0, "anything" },
	/* text must be valid UTF-8 */
	{ "a", "ok \xC3\xA9", 0, 0, 0, "ok é" },
	{ "a", "bad \xC3(", 0, 0, 0, "REJECT: invalid UTF-8 at byte 5" },
	{ "a", "\xED\xA0\x80", 0, 0, 0, "REJECT: invalid UTF-8 at byte 1" },
	{ "a::integer", "1\xC3", 0, 0, 0, "REJECT: invalid integer \"1?\"" },
	{ "upper(a)", "x\xFFy", 0, 0, 0, "REJECT: invalid UTF-8 at byte 2" },
	/* a NULL is NULL in every type */
	{ "a::date", N, 0, 0, 0, "\\N" },
	{ "null::integer + 1", 0, 0, 0, 0, "\\N" },
	{ "cast(null as uuid)", 0, 0, 0, 0, "\\N" },
};

static void test_casts(void **state)
{
	(void)state;
	xf_check_cases(cast_cases, sizeof(cast_cases) / sizeof(*cast_cases),
		       NULL);
}

/* Timestamps without an offset are read in the program's zone; PostgreSQL
 * resolves a local time that happens twice (the autumn change) to the
 * later instant, after the change, and a local time that does not exist
 * (the spring change) with the offset in force before the change. */
static const struct xf_case london_cases[] = {
	{ "a::timestamptz", "2024-01-05 12:00", 0, 0, 0,
	  "2024-01-05 12:00:00+00" },
	{ "a::timestamptz", "2024-07-01 12:00", 0, 0, 0,
	  "2024-07-01 11:00:00+00" },
	/* 2026-10-25: clocks go back from 02:00 BST to 01:00 GMT */
	{ "a::timestamptz", "2026-10-25 00:59:59", 0, 0, 0,
	  "2026-10-24 23:59:59+00" },
	{ "a::timestamptz", "2026-10-25 01:30", 0, 0, 0,
	  "2026-10-25 01:30:00+00" },
	{ "a::timestamptz", "2026-10-25 02:00", 0, 0, 0,
	  "2026-10-25 02:00:00+00" },
	/* 2026-03-29: clocks go forward from 01:00 GMT to 02:00 BST */
	{ "a::timestamptz", "2026-03-29 00:59", 0, 0, 0,
	  "2026-03-29 00:59:00+00" },
	{ "a::timestamptz", "2026-03-29 01:30", 0, 0, 0,
	  "2026-03-29 01:30:00+00" },
	{ "a::timestamptz", "2026-03-29 02:00", 0, 0, 0,
	  "2026-03-29 01:00:00+00" },
	/* beyond the transitions in the file: the zone's rule */
	{ "a::timestamptz", "2100-07-01 12:00", 0, 0, 0,
	  "2100-07-01 11:00:00+00" },
	{ "a::timestamptz", "2100-12-01 12:00", 0, 0, 0,
	  "2100-12-01 12:00:00+00" },
	/* an explicit offset wins over the zone */
	{ "a::timestamptz", "2024-07-01 12:00+00", 0, 0, 0,
	  "2024-07-01 12:00:00+00" },
	/* conversions use the zone too */
	{ "a::timestamptz::timestamp", "2024-07-01 11:00+00", 0, 0, 0,
	  "2024-07-01 12:00:00" },
	{ "a::timestamptz::date", "2024-07-01 23:30+00", 0, 0, 0,
	  "2024-07-02" },
	{ "a::date::timestamptz", "2024-07-01", 0, 0, 0,
	  "2024-06-30 23:00:00+00" },
	{ "a::timestamp::timestamptz", "2024-07-01 00:30", 0, 0, 0,
	  "2024-06-30 23:30:00+00" },
	{ "date_trunc('day', a::timestamptz)", "2024-07-01 23:30+00", 0, 0, 0,
	  "2024-07-01 23:00:00+00" },
	{ "to_timestamp(a, 'YYYY-MM-DD HH24:MI')", "2024-07-01 12:00", 0, 0, 0,
	  "2024-07-01 11:00:00+00" },
	{ "now()::timestamp", 0, 0, 0, 0, "2024-05-06 08:08:09.123456" },
};

static const struct xf_case new_york_cases[] = {
	/* the examples of PostgreSQL's manual, appendix B */
	{ "a::timestamptz", "2018-03-11 02:30", 0, 0, 0,
	  "2018-03-11 07:30:00+00" },
	{ "a::timestamptz", "2018-11-04 01:30", 0, 0, 0,
	  "2018-11-04 06:30:00+00" },
	{ "a::timestamptz", "2018-07-04 12:00", 0, 0, 0,
	  "2018-07-04 16:00:00+00" },
	/* before the first transition of the file: the zone's first
	 * offset (local mean time), as PostgreSQL */
	{ "a::timestamptz", "1800-01-01 00:00", 0, 0, 0,
	  "1800-01-01 04:56:02+00" },
};

static const struct xf_case sydney_cases[] = {
	/* southern hemisphere: DST across the new year */
	{ "a::timestamptz", "2100-01-15 12:00", 0, 0, 0,
	  "2100-01-15 01:00:00+00" },
	{ "a::timestamptz", "2100-07-15 12:00", 0, 0, 0,
	  "2100-07-15 02:00:00+00" },
};

static const struct xf_case fixed_cases[] = {
	{ "a::timestamptz", "2024-07-01 12:00", 0, 0, 0,
	  "2024-07-01 10:00:00+00" },
	{ "a::timestamptz::timestamp", "2024-07-01 12:00Z", 0, 0, 0,
	  "2024-07-01 14:00:00" },
};

static void test_time_zones(void **state)
{
	char got[256];
	(void)state;

	xf_check_cases(london_cases,
		       sizeof(london_cases) / sizeof(*london_cases),
		       "Europe/London");
	xf_check_cases(new_york_cases,
		       sizeof(new_york_cases) / sizeof(*new_york_cases),
		       "America/New_York");
	xf_check_cases(sydney_cases,
		       sizeof(sydney_cases) / sizeof(*sydney_cases),
		       "Australia/Sydney");
	xf_check_cases(fixed_cases, sizeof(fixed_cases) / sizeof(*fixed_cases),
		       "+02:00");
	xf_eval_tz("a", "Mars/Olympus", "x", N, N, N, got, sizeof(got));
	assert_string_equal(got, "TZ: unknown time zone \"Mars/Olympus\"");
	xf_eval_tz("a", "../../etc/passwd", "x", N, N, N, got, sizeof(got));
	assert_string_equal(got, "TZ: unknown time zone \"../../etc/passwd\"");
}

/* Values written to typed columns are in the form COPY reads. */
static void test_output_forms(void **state)
{
	static const char *const names[] = { "v" };
	char got[1024];
	(void)state;

	xf_run_row("[schema]\n"
		   "t text\nv varchar(5)\ns smallint\ni integer\nb bigint\n"
		   "n numeric(6,2)\nr real\nd double precision\nbo boolean\n"
		   "da date\nti time\nts timestamp\ntz timestamptz\nu uuid\n"
		   "j json\njb jsonb\nby bytea\nnn numeric\n"
		   "[from s]\n"
		   "t = v\nv = v\ns = 1\ni = -2\nb = 3000000000\n"
		   "n = 1.005\nr = 1.5\nd = 1e100::double precision\n"
		   "bo = 1 < 2\nda = '2024-02-29'\nti = '23:59:59.5'\n"
		   "ts = '2024-02-29 01:02:03'\n"
		   "tz = '2024-02-29 01:02:03.25-01'\n"
		   "u = 'A0EEBC999C0B4EF8BB6D6BB9BD380A11'\n"
		   "j = '[1]'\njb = '{}'\nby = 'ab'\nnn = 10 / 4.0\n",
		   "s", NULL, 1, names, (const char *const[]){ "hi" }, got,
		   sizeof(got));
	assert_string_equal(got, "hi|hi|1|-2|3000000000|1.01|1.5|1e+100|t|"
				 "2024-02-29|23:59:59.5|2024-02-29 01:02:03|"
				 "2024-02-29 02:02:03.25+00|"
				 "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|[1]|{}|"
				 "\\x6162|2.5000000000000000");
}

/* A cast that can never succeed is refused before any row is read. */
static void test_impossible_casts(void **state)
{
	static const char *const pairs[][2] = {
		{ "true", "date" },        { "1", "date" },
		{ "1.5", "uuid" },         { "'2024-01-01'::date", "integer" },
		{ "'x'::uuid", "bigint" }, { "'1'::json", "integer" },
		{ "1", "bytea" },          { "'10:00'::time", "date" },
	};
	char expr[128], got[256];
	(void)state;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(*pairs); i++) {
		snprintf(expr, sizeof(expr), "cast(%s as %s)", pairs[i][0],
			 pairs[i][1]);
		xf_eval(expr, N, N, N, N, got, sizeof(got));
		assert_true(strncmp(got, "COMPILE: cannot cast type ", 26) ==
			    0);
	}
	xf_run_row("[schema]\nd date\n[from s]\nd = true\n", "s", NULL, 0, NULL,
		   NULL, got, sizeof(got));
	assert_string_equal(got, "COMPILE: cannot cast type boolean to date");
}

/* Numeric literals of every length up to past the 1000 digits of the
 * transform's arithmetic: each one is exact, also where a cast or a typed
 * column uses it (that path once read the missing value of a literal too
 * long to keep); arithmetic past the limit is a clean error. */
static void test_long_literals(void **state)
{
	static const char *const uses[] = { "%s",
					    "%s::integer",
					    "%s::double precision",
					    "cast(%s as numeric(10,2))",
					    "%s + 1",
					    "-%s" };
	char lit[1200], expr[1300], got[2048], want[1300];
	(void)state;

	for (int len = 1; len <= 1100; len++) {
		/* 1, 1.5, 1.05, 1.005, ... and every other one without a
		 * point (then it is an integer literal up to 19 digits) */
		if (len % 2 || len < 2) {
			memset(lit, '9', (size_t)len);
			lit[len] = '\0';
		} else {
			lit[0] = '1';
			lit[1] = '.';
			memset(lit + 2, '0', (size_t)len - 2);
			lit[len] = '5';
			lit[len + 1] = '\0';
		}
		for (size_t u = 0; u < sizeof(uses) / sizeof(*uses); u++) {
			snprintf(expr, sizeof(expr), uses[u], lit);
			xf_eval(expr, N, N, N, N, got, sizeof(got));
			/* Past 1000 digits a literal is still a value (as
			 * PostgreSQL's numeric input reads it) and negates
			 * exactly; arithmetic on it is refused by name. */
			if (len > 1000 && strcmp(uses[u], "%s + 1") == 0) {
				if (!strstr(got, "longer than the 1000 digits"))
					fail_msg("%d digits, %s: %.80s", len,
						 uses[u], got);
				continue;
			}
			if (len > 1000 && strcmp(uses[u], "-%s") == 0) {
				if (got[0] != '-' || strcmp(got + 1, lit) != 0)
					fail_msg("%d digits, -: %.80s", len,
						 got);
				continue;
			}
			if (len > 1000)
				continue;
			assert_true(strncmp(got, "COMPILE", 7) != 0);
			if (u == 0) {
				snprintf(want, sizeof(want), "%s", lit);
				if (strcmp(got, want) != 0)
					fail_msg("%d digits: %.80s", len, got);
			}
		}
	}
}

/* A source column the driver reports as timestamptz keeps that type in
 * casts (its offset counts, then the program's zone); untyped text is
 * read as the type asked for, as PostgreSQL reads a string literal. */
static void test_typed_columns(void **state)
{
	static const char *const names[] = { "at" };
	static const char *const typed[] = { "timestamp with time zone" };
	static const char *const text[] = { "text" };
	const char *const *kinds[] = { typed, text, NULL };
	const char *want[] = { "2026-06-02|2026-06-02 01:30:00|01:30:00|"
			       "2026-06-01 22:00:00+00",
			       "2026-06-01|2026-06-01 23:30:00|23:30:00|"
			       "2026-05-31 22:00:00+00",
			       "2026-06-01|2026-06-01 23:30:00|23:30:00|"
			       "2026-05-31 22:00:00+00" };
	(void)state;

	for (int k = 0; k < 3; k++) {
		struct cns_transform *t = NULL;
		struct cns_program *p = NULL;
		struct cns_error err;
		struct cns_chunk in, out;
		struct cns_eval_stats st = { 0, 0 };
		char got[256];
		size_t at = 0;

		cns_error_clear(&err);
		assert_int_equal(
			cns_transform_parse(
				"t.xf",
				"[schema]\nd date\nts timestamp\ntt time\n"
				"tr timestamptz\n[from s]\nd = cast(at as date)\n"
				"ts = cast(at as timestamp)\n"
				"tt = cast(at as time)\n"
				"tr = date_trunc('day', at)\n",
				XF_NOW, &t, &err),
			0);
		assert_int_equal(cns_transform_bind(t, "s", 1, names, &p, &err),
				 0);
		cns_program_set_column_types(p, kinds[k]);
		assert_int_equal(
			cns_program_set_timezone(p, "Europe/Berlin", &err), 0);
		cns_chunk_init(&in, 1, 1);
		cns_chunk_init(&out, 4, 1);
		cns_chunk_add_row(&in, 1, NULL);
		cns_chunk_set(&in, 0, 0, "2026-06-01 23:30:00+00", 22);
		assert_int_equal(cns_program_run(p, &in, &out, NULL, NULL, &st,
						 &err),
				 0);
		assert_int_equal(out.nrows, 1);
		for (int i = 0; i < 4; i++) {
			const struct cns_cell *c = cns_chunk_row(&out, 0) + i;

			at += (size_t)snprintf(got + at, sizeof(got) - at,
					       "%s%.*s", i ? "|" : "",
					       (int)c->len, c->data);
		}
		assert_string_equal(got, want[k]);
		cns_chunk_release(&in);
		cns_chunk_release(&out);
		cns_program_free(p);
		cns_transform_free(t);
	}
}

/* Runs program p on the values of one column; writes each output row as
 * "text" or "NULL" or "-" (rejected), joined by '|', into got. */
static void run_column(struct cns_program *p, const char *const *vals, int n,
		       char *got, size_t size)
{
	struct cns_chunk in, out;
	struct cns_eval_stats st = { 0, 0 };
	struct cns_error err;
	size_t at = 0;

	cns_error_clear(&err);
	cns_chunk_init(&in, 1, n);
	cns_chunk_init(&out, 1, n);
	for (int r = 0; r < n; r++) {
		cns_chunk_add_row(&in, r + 1, NULL);
		if (vals[r])
			cns_chunk_set(&in, r, 0, vals[r], strlen(vals[r]));
	}
	assert_int_equal(cns_program_run(p, &in, &out, NULL, NULL, &st, &err),
			 0);
	got[0] = '\0';
	for (int r = 0, o = 0; r < n; r++) {
		const struct cns_cell *c;

		if (o >= out.nrows || out.rownum[o] != r + 1) {
			at += (size_t)snprintf(got + at, size - at, "-|");
			continue;
		}
		c = cns_chunk_row(&out, o++);
		if (c->null)
			at += (size_t)snprintf(got + at, size - at, "NULL|");
		else
			at += (size_t)snprintf(got + at, size - at, "%.*s|",
					       (int)c->len, c->data);
	}
	cns_chunk_release(&in);
	cns_chunk_release(&out);
}

/* A column whose driver types it exactly (postgres) may be copied as it
 * is, unparsed, when the expression passes it on unchanged: every
 * source type, through casts and coalesce(), into every schema type, must
 * give exactly what the evaluator gives, and a narrowing cast must not
 * be skipped. */
static void test_trusted_columns(void **state)
{
	static const struct {
		const char *type;
		const char *vals[5];
	} srcs[] = {
		{ "smallint", { "-32768", "32767", "0", NULL, "7" } },
		{ "integer",
		  { "-2147483648", "2147483647", "40000", NULL, "-7" } },
		{ "bigint",
		  { "-9223372036854775808", "9223372036854775807", "2147483648",
		    NULL, "0" } },
		{ "numeric(12,2)",
		  { "-9999999999.99", "0.00", "12.55", NULL, "99.95" } },
		{ "numeric",
		  { "1.5", "-0.000001", "123456789012.345", NULL, "7" } },
		{ "boolean", { "t", "f", "t", NULL, "f" } },
		{ "date",
		  { "2024-02-29", "0001-01-01", "9999-12-31", NULL,
		    "1970-01-01" } },
		{ "timestamp with time zone",
		  { "2020-01-01 00:00:37.000001+00", "2024-02-29 23:59:59+00",
		    "1999-12-31 23:00:00.5+00", NULL,
		    "2000-01-01 00:00:00+00" } },
		{ "text", { "", "abc", "Zoë", NULL, "  x  " } },
		{ "double precision",
		  { "0.1", "1.7976931348623157e+308", "-0", NULL, "3" } },
	};
	static const char *const schemas[] = {
		"smallint",      "integer",       "bigint",
		"numeric(12,2)", "numeric(14,2)", "numeric(12,1)",
		"numeric(20,4)", "numeric(3,2)",  "text",
		"varchar(3)",    "boolean",       "date",
		"timestamptz",   "timestamp",     "double precision",
		"real",
	};
	static const char *const forms[] = {
		"c",
		"cast(c as %s)",
		"coalesce(c, c)",
		"cast(coalesce(c, c) as %s)",
		"coalesce(cast(c as %s), c)",
		"cast(cast(c as numeric(12,1)) as %s)",
		"cast(cast(c as integer) as %s)",
	};
	const char *names[] = { "c" };
	int compared = 0;

	(void)state;
	for (size_t a = 0; a < sizeof(srcs) / sizeof(srcs[0]); a++)
		for (size_t b = 0; b < sizeof(schemas) / sizeof(schemas[0]);
		     b++)
			for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]);
			     f++) {
				const char *types[] = { srcs[a].type };
				struct cns_transform *t = NULL;
				struct cns_program *p = NULL;
				struct cns_error err;
				char text[512], expr[128], want[512], got[512];

				snprintf(expr, sizeof(expr), forms[f],
					 schemas[b]);
				snprintf(text, sizeof(text),
					 "[schema]\nv %s\n[from s]\nv = %s\n",
					 schemas[b], expr);
				cns_error_clear(&err);
				if (cns_transform_parse("t.xf", text, XF_NOW,
							&t, &err) < 0)
					continue;
				if (cns_transform_bind(t, "s", 1, names, &p,
						       &err) < 0) {
					cns_transform_free(t);
					continue;
				}
				cns_program_set_column_types(p, types);
				run_column(p, srcs[a].vals, 5, want,
					   sizeof(want));
				cns_program_trust_types(p, types);
				run_column(p, srcs[a].vals, 5, got,
					   sizeof(got));
				if (strcmp(want, got) != 0)
					fail_msg("%s column, v %s = %s: "
						 "evaluated \"%s\", trusted "
						 "\"%s\"",
						 srcs[a].type, schemas[b], expr,
						 want, got);
				compared++;
				cns_program_free(p);
				cns_transform_free(t);
			}
	assert_true(compared > 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_casts),
		cmocka_unit_test(test_time_zones),
		cmocka_unit_test(test_output_forms),
		cmocka_unit_test(test_impossible_casts),
		cmocka_unit_test(test_long_literals),
		cmocka_unit_test(test_typed_columns),
		cmocka_unit_test(test_trusted_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
