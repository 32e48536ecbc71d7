/*
 * test_transform_funcs.c - every built-in function with ordinary values,
 * NULLs, empty strings and multibyte UTF-8; lookup tables; now(),
 * source_name() and source_row().
 */
#include <unistd.h>

#include "transform_helper.h"

#define N XF_NULL

static const struct xf_case func_cases[] = {
	/* trim, ltrim, rtrim */
	{ "trim(a)", "  x  ", 0, 0, 0, "x" },
	{ "trim(a)", "", 0, 0, 0, "" },
	{ "trim(a)", "   ", 0, 0, 0, "" },
	{ "trim(a)", N, 0, 0, 0, "\\N" },
	{ "trim(a)", "\tx\t", 0, 0, 0, "\tx\t" },
	{ "trim(a, 'xy')", "xyaxby", 0, 0, 0, "axb" },
	{ "trim(a, b)", "éaé", "é", 0, 0, "a" },
	{ "trim(a, b)", "x", N, 0, 0, "\\N" },
	{ "ltrim(a)", "  x  ", 0, 0, 0, "x  " },
	{ "rtrim(a)", "  x  ", 0, 0, 0, "  x" },
	{ "rtrim(a, '0')", "1.500", 0, 0, 0, "1.5" },
	{ "ltrim(a, '0')", "0007", 0, 0, 0, "7" },
	{ "rtrim(a, 'é')", "caféé", 0, 0, 0, "caf" },
	/* lower, upper: Latin-1, Latin Extended-A, Greek, Cyrillic */
	{ "lower(a)", "ÀÉÎÕÜ", 0, 0, 0, "àéîõü" },
	{ "upper(a)", "àéîõüÿ", 0, 0, 0, "ÀÉÎÕÜŸ" },
	{ "upper(a)", "łžőč", 0, 0, 0, "ŁŽŐČ" },
	{ "lower(a)", "ΑΒΓ Σ", 0, 0, 0, "αβγ σ" },
	{ "upper(a)", "привет", 0, 0, 0, "ПРИВЕТ" },
	{ "upper(a)", "straße", 0, 0, 0, "STRAßE" },
	{ "lower(a)", "", 0, 0, 0, "" },
	{ "upper(a)", N, 0, 0, 0, "\\N" },
	{ "upper(a)", "a1-b", 0, 0, 0, "A1-B" },
	/* length counts characters */
	{ "length(a)", "héllo", 0, 0, 0, "5" },
	{ "length(a)", "日本語", 0, 0, 0, "3" },
	{ "length(a)", "", 0, 0, 0, "0" },
	{ "length(a)", N, 0, 0, 0, "\\N" },
	{ "char_length(a)", "ab", 0, 0, 0, "2" },
	/* substr: SQL semantics, characters */
	{ "substr(a, 2)", "héllo", 0, 0, 0, "éllo" },
	{ "substr(a, 2, 3)", "héllo", 0, 0, 0, "éll" },
	{ "substr(a, 0, 2)", "abc", 0, 0, 0, "a" },
	{ "substr(a, -1, 3)", "abc", 0, 0, 0, "a" },
	{ "substr(a, 5)", "abc", 0, 0, 0, "" },
	{ "substr(a, 2, 0)", "abc", 0, 0, 0, "" },
	{ "substr(a, 1, -1)", "abc", 0, 0, 0,
	  "REJECT: negative substring length not allowed" },
	{ "substr(a, 2, 2)", "日本語です", 0, 0, 0, "本語" },
	{ "substr(a, b)", "abc", N, 0, 0, "\\N" },
	{ "substr(a, 2)", N, 0, 0, 0, "\\N" },
	{ "substring(a, 2, 1)", "abc", 0, 0, 0, "b" },
	{ "substr(a, b)", "abc", "x", 0, 0, "REJECT: invalid bigint \"x\"" },
	/* replace */
	{ "replace(a, 'l', 'L')", "hello", 0, 0, 0, "heLLo" },
	{ "replace(a, 'll', '')", "hello", 0, 0, 0, "heo" },
	{ "replace(a, '', 'x')", "abc", 0, 0, 0, "abc" },
	{ "replace(a, 'é', 'e')", "été", 0, 0, 0, "ete" },
	{ "replace(a, b, 'x')", "abc", N, 0, 0, "\\N" },
	/* split_part */
	{ "split_part(a, ',', 2)", "a,b,c", 0, 0, 0, "b" },
	{ "split_part(a, ',', 4)", "a,b,c", 0, 0, 0, "" },
	{ "split_part(a, ',', -1)", "a,b,c", 0, 0, 0, "c" },
	{ "split_part(a, ',', -3)", "a,b,c", 0, 0, 0, "a" },
	{ "split_part(a, ',', -4)", "a,b,c", 0, 0, 0, "" },
	{ "split_part(a, '::', 2)", "x::y", 0, 0, 0, "y" },
	{ "split_part(a, '', 1)", "abc", 0, 0, 0, "abc" },
	{ "split_part(a, ',', 0)", "abc", 0, 0, 0,
	  "REJECT: field position must not be zero" },
	{ "split_part(a, ',', 1)", N, 0, 0, 0, "\\N" },
	/* lpad, rpad */
	{ "lpad(a, 5, '0')", "42", 0, 0, 0, "00042" },
	{ "lpad(a, 5)", "42", 0, 0, 0, "   42" },
	{ "lpad(a, 2)", "hello", 0, 0, 0, "he" },
	{ "rpad(a, 6, 'xy')", "ab", 0, 0, 0, "abxyxy" },
	{ "rpad(a, 4, 'é')", "ab", 0, 0, 0, "abéé" },
	{ "lpad(a, 4, '')", "ab", 0, 0, 0, "ab" },
	{ "lpad(a, 0)", "ab", 0, 0, 0, "" },
	{ "lpad(a, 3, 'é')", "日", 0, 0, 0, "éé日" },
	{ "rpad(a, b::int)", "x", N, 0, 0, "\\N" },
	/* concat skips NULLs */
	{ "concat(a, '-', b)", "x", N, 0, 0, "x-" },
	{ "concat(a, 1, true)", "x", 0, 0, 0, "x1true" },
	{ "concat(a)", N, 0, 0, 0, "" },
	/* coalesce, nullif, greatest, least */
	{ "coalesce(a, b)", N, N, 0, 0, "\\N" },
	{ "coalesce(a, '')", N, 0, 0, 0, "" },
	{ "coalesce(a::int, 0) + 1", N, 0, 0, 0, "1" },
	{ "coalesce(a::int, 1/0)", "5", 0, 0, 0, "5" },
	{ "coalesce(a, 1/0)", N, 0, 0, 0, "REJECT: division by zero" },
	{ "nullif(a, 'x')", N, 0, 0, 0, "\\N" },
	{ "nullif(a, b)", "1", N, 0, 0, "1" },
	{ "nullif(a, 0)", "0.0", 0, 0, 0, "\\N" },
	{ "greatest(a::int, b::int, c::int)", "3", "10", "2", 0, "10" },
	{ "greatest(a, b, c)", "3", "10", "2", 0, "3" },  /* text order */
	{ "greatest(a, b, 0)", "3", "10", "2", 0, "10" }, /* numeric */
	{ "greatest(a, b)", "3", N, 0, 0, "3" },
	{ "greatest(a, b)", N, N, 0, 0, "\\N" },
	{ "greatest(a, 'b')", "a", 0, 0, 0, "b" },
	{ "least(a::int, b, c)", "3", "10", "2", 0, "2" },
	{ "least(a::date, b::date)", "2024-01-02", "2023-12-31", 0, 0,
	  "2023-12-31" },
	/* abs, round, floor, ceil */
	{ "abs(a)", "-1.50", 0, 0, 0, "1.50" },
	{ "abs(-5)", 0, 0, 0, 0, "5" },
	{ "abs(a::int)", "-2147483648", 0, 0, 0,
	  "REJECT: integer out of range" },
	{ "abs(a::double precision)", "-2.5", 0, 0, 0, "2.5" },
	{ "abs(a)", N, 0, 0, 0, "\\N" },
	{ "round(a)", "2.5", 0, 0, 0, "3" },
	{ "round(a)", "-2.5", 0, 0, 0, "-3" },
	{ "round(a)", "2.4999", 0, 0, 0, "2" },
	{ "round(a, 2)", "1.005", 0, 0, 0, "1.01" },
	{ "round(a, 2)", "1.004", 0, 0, 0, "1.00" },
	{ "round(a, 2)", "-0.005", 0, 0, 0, "-0.01" },
	{ "round(a, 2)", "-0.004", 0, 0, 0, "0.00" },
	{ "round(a, 3)", "1.5", 0, 0, 0, "1.500" },
	{ "round(a, -2)", "1250", 0, 0, 0, "1300" },
	{ "round(a, -2)", "1249.9", 0, 0, 0, "1200" },
	{ "round(a, -1)", "5", 0, 0, 0, "10" },
	{ "round(a, -3)", "499", 0, 0, 0, "0" },
	{ "round(a)", "99999999999999999999.5", 0, 0, 0,
	  "100000000000000000000" },
	{ "round(a::double precision)", "2.5", 0, 0, 0, "3" },
	{ "round(a, b::int)", "1.5", N, 0, 0, "\\N" },
	{ "round(a)", "x", 0, 0, 0, "REJECT: invalid numeric \"x\"" },
	{ "floor(a)", "-1.5", 0, 0, 0, "-2" },
	{ "floor(a)", "1.5", 0, 0, 0, "1" },
	{ "floor(a)", "-0.5", 0, 0, 0, "-1" },
	{ "floor(a)", "2.000", 0, 0, 0, "2" },
	{ "ceil(a)", "1.2", 0, 0, 0, "2" },
	{ "ceil(a)", "-1.2", 0, 0, 0, "-1" },
	{ "ceil(a)", "-0.2", 0, 0, 0, "0" },
	{ "ceiling(a::double precision)", "1.2", 0, 0, 0, "2" },
	{ "floor(7)", 0, 0, 0, 0, "7" },
	/* md5 */
	{ "md5(a)", "", 0, 0, 0, "d41d8cd98f00b204e9800998ecf8427e" },
	{ "md5(a)", "abc", 0, 0, 0, "900150983cd24fb0d6963f7d28e17f72" },
	{ "md5(a)", "The quick brown fox jumps over the lazy dog", 0, 0, 0,
	  "9e107d9d372bb6826bd81d3542a419d6" },
	{ "md5(a)", "été", 0, 0, 0, "deaf6a1e9612a4d8c221e68ee23d58d2" },
	{ "md5(a)", N, 0, 0, 0, "\\N" },
	/* regular expressions: POSIX ERE */
	{ "regexp_replace(a, '[0-9]+', '#')", "a1b22c", 0, 0, 0, "a#b22c" },
	{ "regexp_replace(a, '[0-9]+', '#', 'g')", "a1b22c", 0, 0, 0, "a#b#c" },
	{ "regexp_replace(a, '(\\w+)@(\\w+)', '\\2 at \\1')", "bob@example", 0,
	  0, 0, "example at bob" },
	{ "regexp_replace(a, 'B', 'x', 'gi')", "abcb", 0, 0, 0, "axcx" },
	{ "regexp_replace(a, '^ +| +$', '', 'g')", "  x y  ", 0, 0, 0, "x y" },
	{ "regexp_replace(a, 'x*', '-', 'g')", "abc", 0, 0, 0, "-a-b-c-" },
	{ "regexp_replace(a, 'b', '[\\&]')", "abc", 0, 0, 0, "a[b]c" },
	{ "regexp_replace(a, 'z', 'y')", N, 0, 0, 0, "\\N" },
	/* patterns of the bit-parallel matcher (ASCII subjects) */
	{ "regexp_replace(a, '^.*@[^.]*[.]', '')", "bob@mail.example.com", 0, 0,
	  0, "example.com" },
	{ "regexp_replace(a, '^.*@[^.]*[.]', '')", "no at sign", 0, 0, 0,
	  "no at sign" },
	{ "regexp_replace(a, '[.]com$', '')", "a.com", 0, 0, 0, "a" },
	{ "regexp_replace(a, 'o+', '<\\&>', 'g')", "foo boo", 0, 0, 0,
	  "f<oo> b<oo>" },
	{ "regexp_replace(a, 'x?y+', '-', 'g')", "xyyaxby", 0, 0, 0, "-axb-" },
	{ "regexp_replace(a, '^$', 'empty')", "", 0, 0, 0, "empty" },
	{ "regexp_replace(a, 'a.c', 'X')", "abc aéc", 0, 0, 0, "X aéc" },
	{ "regexp_replace(a, 'a.c', 'X', 'g')", "aéc abc", 0, 0, 0, "X X" },
	{ "regexp_replace(a, 'B+', 'x', 'gi')", "abBbcb", 0, 0, 0, "axcx" },
	{ "regexp_match(a, 'b+c?')", "abbcd", 0, 0, 0, "bbc" },
	{ "regexp_match(a, 'q+')", "abc", 0, 0, 0, "\\N" },
	{ "regexp_match(a, '[0-9]+')", "ab123cd45", 0, 0, 0, "123" },
	{ "regexp_match(a, 'id=([0-9]+)')", "x id=42 y", 0, 0, 0, "42" },
	{ "regexp_match(a, '[0-9]+')", "none", 0, 0, 0, "\\N" },
	{ "regexp_match(a, 'É', 'i')", "café", 0, 0, 0, "é" },
	{ "regexp_match(a, 'caf.$')", "café", 0, 0, 0, "café" },
	{ "regexp_replace(a, '[[:alpha:]]', '*', 'g')", "é1ß", 0, 0, 0, "*1*" },
	/* ASCII subjects take the byte matcher, others the UTF-8 one: the
	 * same pattern must give the same answers either way */
	{ "regexp_replace(a, '.', 'x', 'g')", "ab", 0, 0, 0, "xx" },
	{ "regexp_replace(a, '.', 'x', 'g')", "aé", 0, 0, 0, "xx" },
	{ "regexp_replace(a, '[^A-Za-z0-9]+', '-', 'g')", "Zoë Smith", 0, 0, 0,
	  "Zo-Smith" },
	{ "regexp_replace(a, '[^A-Za-z0-9]+', '-', 'g')", "Zoe Smith", 0, 0, 0,
	  "Zoe-Smith" },
	/* dates */
	{ "to_date(a, 'YYYY-MM-DD')", "2024-02-29", 0, 0, 0, "2024-02-29" },
	{ "to_date(a, 'YYYY-MM-DD')", "2023-02-29", 0, 0, 0,
	  "REJECT: invalid date \"2023-02-29\"" },
	{ "to_date(a, 'DD/MM/YYYY')", "05/11/2024", 0, 0, 0, "2024-11-05" },
	{ "to_date(a, 'DD Mon YYYY')", "5 nov 2024", 0, 0, 0, "2024-11-05" },
	{ "to_date(a, 'Month DD, YYYY')", "November 5, 2024", 0, 0, 0,
	  "2024-11-05" },
	{ "to_date(a, 'YYYYMMDD')", "20240105", 0, 0, 0, "2024-01-05" },
	{ "to_date(a, 'DD.MM.YY')", "01.02.69", 0, 0, 0, "2069-02-01" },
	{ "to_date(a, 'DD.MM.YY')", "01.02.70", 0, 0, 0, "1970-02-01" },
	{ "to_date(a, 'YYYY-DDD')", "2024-060", 0, 0, 0, "2024-02-29" },
	{ "to_date(a, 'YYYY-MM-DD')", "2024/01/05", 0, 0, 0, "2024-01-05" },
	{ "to_date(a, 'YYYY-MM-DD')", "2024-01-05x", 0, 0, 0,
	  "REJECT: value \"2024-01-05x\" does not match the format" },
	{ "to_date(a, 'YYYY-MM-DD')", N, 0, 0, 0, "\\N" },
	{ "to_date(a, b)", "2024", "YYYY", 0, 0, "2024-01-01" },
	{ "to_timestamp(a, 'YYYY-MM-DD HH24:MI:SS')", "2024-01-05 13:04:05", 0,
	  0, 0, "2024-01-05 13:04:05+00" },
	{ "to_timestamp(a, 'DD/MM/YYYY HH12:MI AM')", "05/01/2024 01:04 PM", 0,
	  0, 0, "2024-01-05 13:04:00+00" },
	{ "to_timestamp(a, 'DD/MM/YYYY HH12:MI AM')", "05/01/2024 12:04 AM", 0,
	  0, 0, "2024-01-05 00:04:00+00" },
	{ "to_timestamp(a, 'YYYY-MM-DD HH24:MI:SS.MS')",
	  "2024-01-05 13:04:05.250", 0, 0, 0, "2024-01-05 13:04:05.25+00" },
	{ "to_timestamp(a, 'YYYY-MM-DD HH24:MI:SS.US')",
	  "2024-01-05 13:04:05.000123", 0, 0, 0,
	  "2024-01-05 13:04:05.000123+00" },
	{ "to_timestamp(a, 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM')",
	  "2024-01-05T13:04:05+02:30", 0, 0, 0, "2024-01-05 10:34:05+00" },
	{ "to_timestamp(a, 'YYYY-MM-DD HH24:MI')", "2024-01-05 25:00", 0, 0, 0,
	  "REJECT: invalid time \"2024-01-05 25:00\"" },
	{ "date_trunc('month', a::timestamp)", "2024-02-29 13:14:15", 0, 0, 0,
	  "2024-02-01 00:00:00" },
	{ "date_trunc('day', a::timestamp)", "2024-02-29 13:14:15.5", 0, 0, 0,
	  "2024-02-29 00:00:00" },
	{ "date_trunc('hour', a)", "2024-02-29 13:14:15", 0, 0, 0,
	  "2024-02-29 13:00:00" },
	{ "date_trunc('week', a::date)", "2024-02-29", 0, 0, 0,
	  "2024-02-26 00:00:00" },
	{ "date_trunc('quarter', a::timestamptz)", "2024-05-06 07:00:00+00", 0,
	  0, 0, "2024-04-01 00:00:00+00" },
	{ "date_trunc('year', a::timestamp)", N, 0, 0, 0, "\\N" },
	{ "date_trunc('millennium', a::timestamp)", "2024-02-29", 0, 0, 0,
	  "2001-01-01 00:00:00" },
	{ "date_trunc(b, a::timestamp)", "2024-02-29 10:11:12", "minute", 0, 0,
	  "2024-02-29 10:11:00" },
	{ "date_trunc(b, a::timestamp)", "2024-02-29", "fortnight", 0, 0,
	  "REJECT: unknown date_trunc field \"fortnight\"" },
	/* now() is the run's start, the same for every row */
	{ "now()", 0, 0, 0, 0, "2024-05-06 07:08:09.123456+00" },
	{ "now()::date", 0, 0, 0, 0, "2024-05-06" },
	{ "a::date < now()", "2024-05-05", 0, 0, 0, "true" },
	/* source_name(), source_row() */
	{ "source_name()", 0, 0, 0, 0, "s" },
	{ "source_row()", 0, 0, 0, 0, "7" },
	{ "source_name() || ':' || source_row()", 0, 0, 0, 0, "s:7" },
};

static void test_functions(void **state)
{
	(void)state;
	xf_check_cases(func_cases, sizeof(func_cases) / sizeof(*func_cases),
		       NULL);
}

/* The patterns that are one bracket expression ("[^A-Za-z0-9]+") skip
 * glibc: every such pattern, with and without "+" and "g", must replace
 * exactly what glibc replaces for the same pattern in a group, which
 * glibc matches itself.  Also patterns the short way refuses (classes,
 * a literal "-" or "]", "i"), which must still be right. */
static void test_regexp_bracket_runs(void **state)
{
	static const char *const sets[] = {
		"[^A-Za-z0-9]", "[A-Za-z0-9]",  "[a-z]",       "[^a-z]",
		"[0-9]",        "[^0-9]",       "[ _.,;:@#/]", "[^ ]",
		"[A-Z0-9_]",    "[^A-Fa-f0-9]", "[ab]",        "[^b]",
		"[a-c0-2X-Z]",  "[.]",          "[^.@]",       "[$|()*+?]",
		"[a-z-]",       "[]a]",         "[^]a]",       "[[:alpha:]]",
		"[^[:space:]]", "[\\\\]",       "[A-z]",       "[é]",
		"[^é]",
	};
	static const char *const quants[] = { "", "+" };
	static const char *const flags[] = { "", ", 'g'", ", 'gi'" };
	static const char *const repls[] = { "-", "<\\&>", "", "\\0\\0" };
	static const char *const subjects[] = {
		"",
		"abc",
		"Zoë O'Brien 12",
		"  Zoë O'Brien 8  ",
		"Łukasz \"Luke\" Wróbel 1",
		"Anne-Marie\tDupont 2",
		"José\nMaría Núñez 3",
		"山田 太郎 4",
		"C:\\Users\\back slash 5",
		"Smith, John 6",
		"user.1@example.co.uk",
		"---",
		"a",
		"é",
		"éé aa ÉÉ 00 ..",
		"\xf0\x9f\x98\x80 emoji 😀!",
	};
	char expr[512], wrapped[512], got[2048], want[2048];
	int failed = 0, cases = 0;

	(void)state;
	for (size_t si = 0; si < sizeof(sets) / sizeof(*sets); si++)
		for (size_t qi = 0; qi < 2; qi++)
			for (size_t fi = 0; fi < 3; fi++)
				for (size_t ri = 0; ri < 4; ri++)
					for (size_t ti = 0;
					     ti < sizeof(subjects) /
							  sizeof(*subjects);
					     ti++) {
						snprintf(expr, sizeof(expr),
							 "regexp_replace(a, "
							 "'%s%s', '%s'%s)",
							 sets[si], quants[qi],
							 repls[ri], flags[fi]);
						snprintf(wrapped,
							 sizeof(wrapped),
							 "regexp_replace(a, "
							 "'(%s%s)', '%s'%s)",
							 sets[si], quants[qi],
							 repls[ri], flags[fi]);
						xf_eval(expr, subjects[ti],
							XF_NULL, XF_NULL,
							XF_NULL, got,
							sizeof(got));
						xf_eval(wrapped, subjects[ti],
							XF_NULL, XF_NULL,
							XF_NULL, want,
							sizeof(want));
						cases++;
						if (strcmp(got, want) != 0 ||
						    !strncmp(got, "COMPILE",
							     7)) {
							print_error(
								"%s on \"%s\""
								"\n  want: "
								"%s\n  got:  "
								"%s\n",
								expr,
								subjects[ti],
								want, got);
							failed++;
						}
					}
	assert_true(cases > 4000);
	assert_int_equal(failed, 0);
}

static void test_lookup(void **state)
{
	char dir[] = "/tmp/cns-lookup-XXXXXX";
	char path[256], xf[1024], got[512];
	FILE *f;
	static const char *const names[] = { "code" };
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/countries.csv", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("code,name\nGB,United Kingdom\nFR,France\n\"C,I\",\"Côte "
	      "d'Ivoire\"\nEMPTY,\n",
	      f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/t.xf", dir);
	snprintf(xf, sizeof(xf),
		 "[schema]\ncountry text\n"
		 "[lookup countries]\nfile = countries.csv\n"
		 "[from s]\ncountry = lookup(countries, upper(code), "
		 "'unknown ' || code)\n");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(xf, f);
	fclose(f);

	{
		struct cns_transform *t;
		struct cns_program *p;
		struct cns_error err;
		struct cns_chunk in, out;
		static const char *const vals[] = { "gb", "c,i", "xx",
						    "empty" };

		cns_error_clear(&err);
		/* the file path is relative to the transform file */
		assert_int_equal(cns_transform_load(path, XF_NOW, &t, &err), 0);
		assert_int_equal(cns_transform_bind(t, "s", 1, names, &p, &err),
				 0);
		cns_chunk_init(&in, 1, 8);
		cns_chunk_init(&out, 1, 8);
		for (int i = 0; i < 4; i++) {
			int r = cns_chunk_add_row(&in, i + 1, NULL);

			cns_chunk_set(&in, r, 0, vals[i], strlen(vals[i]));
		}
		cns_chunk_add_row(&in, 5, NULL); /* NULL key */
		assert_int_equal(cns_program_run(p, &in, &out, NULL, NULL, NULL,
						 &err),
				 0);
		assert_int_equal(out.nrows, 5);
		assert_string_equal(cns_chunk_row(&out, 0)[0].data,
				    "United Kingdom");
		assert_string_equal(cns_chunk_row(&out, 1)[0].data,
				    "Côte d'Ivoire");
		assert_string_equal(cns_chunk_row(&out, 2)[0].data,
				    "unknown xx");
		assert_string_equal(cns_chunk_row(&out, 3)[0].data, "");
		assert_true(cns_chunk_row(&out, 4)[0].null);
		cns_chunk_release(&in);
		cns_chunk_release(&out);
		cns_program_free(p);
		cns_transform_free(t);
	}

	/* a duplicate key is an error at load */
	snprintf(path, sizeof(path), "%s/countries.csv", dir);
	f = fopen(path, "w");
	fputs("code,name\nGB,a\nFR,b\nGB,c\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/t.xf", dir);
	{
		struct cns_transform *t;
		struct cns_error err;

		cns_error_clear(&err);
		assert_int_equal(cns_transform_load(path, XF_NOW, &t, &err),
				 -1);
		assert_string_equal(err.message,
				    "duplicate key \"GB\" in lookup file "
				    "\"countries.csv\" (record 4)");
		assert_int_equal(err.line, 3);
	}
	snprintf(path, sizeof(path), "%s/countries.csv", dir);
	f = fopen(path, "w");
	fputs("code,name\nGB\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/t.xf", dir);
	{
		struct cns_transform *t;
		struct cns_error err;

		cns_error_clear(&err);
		assert_int_equal(cns_transform_load(path, XF_NOW, &t, &err),
				 -1);
		assert_string_equal(err.message,
				    "lookup file \"countries.csv\" record 2 "
				    "has fewer than 2 columns");
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/countries.csv", dir);
	unlink(path);
	rmdir(dir);
	(void)got;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_regexp_bracket_runs),
		cmocka_unit_test(test_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
