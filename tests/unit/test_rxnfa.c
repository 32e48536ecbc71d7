/*
 * test_rxnfa.c - the bit-parallel matcher of simple regular expressions
 * (src/transform/rxnfa.c) against glibc's regexec in the C locale, its
 * oracle: for listed and for random patterns, with and without REG_ICASE,
 * over random ASCII subjects (a small alphabet, so that matches are
 * likely), the empty subject, newlines and every byte, the whole sequence
 * of matches that a global regexp_replace takes (REG_NOTBOL after the
 * first, one byte skipped after an empty match) must be the same.  Also
 * which patterns the matcher takes and which it leaves to glibc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/transform/internal.h"

/* Patterns that the matcher must take. */
static const char *const taken[] = {
	"^.*@[^.]*[.]",
	"[^A-Za-z0-9]+",
	"a*",
	"x?y+",
	"^$",
	".*",
	"ab*c",
	"[.]",
	"^ab*c",
	"ab*c$",
	"^a*$",
	"",
	"^",
	"$",
	"a",
	"a?",
	"a?b?c?",
	"a*b*",
	"[ab]*b",
	".?b.?",
	"a.*b",
	"a.*b$",
	"x*$",
	"[^.]*[.]",
	"[[:alpha:]]+[[:digit:]]*",
	"[[:space:][:punct:]]+",
	"[[:upper:]]+",
	"[[:lower:]x]?[[:xdigit:]]{2}",
	"[^[:alnum:]]",
	"[]a]+",
	"[^]a]",
	"[a-]+",
	"[-a]+",
	"a{2}",
	"a{2,}",
	"a{1,3}b",
	"[ab]{0,2}c",
	"\\.",
	"a\\*b",
	"\\^x\\$",
	"[\\]+",
	"@[^.@]*\\.",
	"a.c",
	"...",
	"^.{2,4}",
	"[[:blank:]]*\n?",
	"[[:cntrl:]]+",
	"[[:print:]]{3}",
	"[[:graph:]]+$",
};

/* Patterns that the matcher must leave to glibc. */
static const char *const refused[] = {
	"(a)",       "a|b",   "a**",   "a+?",   "\\w+",  "\\1", "[[.a.]]",
	"[[=a=]]",   "[a-Z]", "[!-~]", "a{,3}", "*a",    "a^b", "a$b",
	"[[:foo:]]", "\\d",   "é",     "[é]",   "a{64}", "{1}",
};

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next_rand(void)
{
	/* xorshift64*: deterministic, the same run after run */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717u) >> 32);
}

/* glibc's sequence of matches of a global replace over s[0..n), as
 * f_regexp_replace takes them: into so/eo, at most max; the count. */
static int glibc_matches(const regex_t *re, const char *s, size_t n, size_t *so,
			 size_t *eo, int max)
{
	size_t pos = 0;
	int k = 0;

	while (pos <= n && k < max) {
		regmatch_t m[10];

		m[0].rm_so = (regoff_t)pos;
		m[0].rm_eo = (regoff_t)n;
		if (regexec(re, s, 10, m,
			    REG_STARTEND | (pos > 0 ? REG_NOTBOL : 0)) != 0)
			break;
		so[k] = (size_t)m[0].rm_so;
		eo[k] = (size_t)m[0].rm_eo;
		pos = eo[k];
		if (eo[k] == so[k])
			pos++;
		k++;
	}
	return k;
}

static int nfa_matches(const struct rxnfa *x, const char *s, size_t n,
		       size_t *so, size_t *eo, int max)
{
	size_t pos = 0;
	int k = 0;

	while (pos <= n && k < max &&
	       xf_rxnfa_exec(x, s, pos, n, pos > 0, &so[k], &eo[k])) {
		pos = eo[k];
		if (eo[k] == so[k])
			pos++;
		k++;
	}
	return k;
}

static long comparisons;

/* Compares the matches of the compiled pattern on s[0..n) with glibc's;
 * fails with the pattern and subject when they differ. */
static void compare(const char *pattern, int cflags, const regex_t *re,
		    const struct rxnfa *x, const char *s, size_t n)
{
	size_t gso[64], geo[64], nso[64], neo[64], bso[64], beo[64];
	int gk = glibc_matches(re, s, n, gso, geo, 64);
	int nk = nfa_matches(x, s, n, nso, neo, 64);
	bool same = gk == nk;
	struct rxnfa bits = *x;
	int bk;

	/* the bit-parallel loop alone, as for a pattern without a DFA */
	bits.ndfa = 0;
	bk = nfa_matches(&bits, s, n, bso, beo, 64);
	same = same && bk == gk;
	for (int i = 0; same && i < gk; i++)
		same = gso[i] == nso[i] && geo[i] == neo[i] &&
		       gso[i] == bso[i] && geo[i] == beo[i];
	if (!same) {
		char shown[512];
		size_t o = 0;

		for (size_t i = 0; i < n && o + 5 < sizeof(shown); i++)
			o += (size_t)snprintf(shown + o, sizeof(shown) - o,
					      (unsigned char)s[i] < ' ' ||
							      s[i] == 127
						      ? "\\x%02x"
						      : "%c",
					      (unsigned char)s[i]);
		shown[o] = '\0';
		print_error("pattern \"%s\"%s, subject \"%s\" (%zu bytes):\n",
			    pattern, cflags & REG_ICASE ? " (icase)" : "",
			    shown, n);
		for (int i = 0; i < gk; i++)
			print_error("  glibc [%zu, %zu)\n", gso[i], geo[i]);
		for (int i = 0; i < nk; i++)
			print_error("  nfa   [%zu, %zu)\n", nso[i], neo[i]);
		for (int i = 0; i < bk; i++)
			print_error("  bits  [%zu, %zu)\n", bso[i], beo[i]);
		fail();
	}
	comparisons++;
}

/* The subjects for one pattern: fixed ones, then random ones over the
 * pattern's own characters and a few others. */
static void check_pattern(const char *pattern, int cflags, bool must_take)
{
	static const char extra[] = "aAbBcxyz@.-_ 0\n";
	const char *const fixed[] = { "",      "\n",     "a",     "aaa",
				      "ab",    "abc",    "abbbc", "x.y@z.w",
				      "b@a.c", "AbC",    "@@..",  "\n\n",
				      "a\nb",  "yyy xy", "  --  " };
	char alpha[64];
	size_t na = 0;
	regex_t re;
	struct rxnfa x;
	char s[40];

	if (regcomp(&re, pattern, cflags) != 0) {
		assert_false(must_take);
		return;
	}
	if (!xf_rxnfa_compile(&x, pattern, cflags)) {
		if (must_take)
			print_error("pattern \"%s\" not taken\n", pattern);
		assert_false(must_take);
		regfree(&re);
		return;
	}
	for (const char *p = pattern; *p && na < 32; p++)
		if ((unsigned char)*p >= ' ' && !memchr(alpha, *p, na))
			alpha[na++] = *p;
	for (const char *p = extra; *p; p++)
		if (!memchr(alpha, *p, na))
			alpha[na++] = *p;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		compare(pattern, cflags, &re, &x, fixed[i], strlen(fixed[i]));
	/* every byte alone, and in a run of three, NUL included */
	for (int b = 0; b < 128; b++) {
		/* NUL-terminated too: ASan's regexec reads up to a NUL,
		 * REG_STARTEND or not */
		char one[4] = { (char)b, (char)b, (char)b, '\0' };

		compare(pattern, cflags, &re, &x, one, 1);
		compare(pattern, cflags, &re, &x, one, 3);
	}
	for (int r = 0; r < 400; r++) {
		size_t n = next_rand() % 16;

		for (size_t i = 0; i < n; i++)
			s[i] = next_rand() % 8 == 0 ? (char)(next_rand() % 128)
						    : alpha[next_rand() % na];
		s[n] = '\0';
		compare(pattern, cflags, &re, &x, s, n);
	}
	regfree(&re);
}

static void test_listed(void **state)
{
	(void)state;
	comparisons = 0;
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		check_pattern(taken[i], REG_EXTENDED, true);
		check_pattern(taken[i], REG_EXTENDED | REG_ICASE, true);
	}
	assert_true(comparisons > 50000);
}

static void test_refused(void **state)
{
	struct rxnfa x;

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (xf_rxnfa_compile(&x, refused[i], REG_EXTENDED))
			print_error("pattern \"%s\" taken\n", refused[i]);
		assert_false(xf_rxnfa_compile(&x, refused[i], REG_EXTENDED));
	}
	/* flags the language never sets */
	assert_false(xf_rxnfa_compile(&x, "a", REG_EXTENDED | REG_NEWLINE));
	assert_false(xf_rxnfa_compile(&x, "a", 0));
}

/* A random pattern of the kind the matcher takes (and some it does
 * not): atoms over a small alphabet, brackets, classes, quantifiers. */
static void random_pattern(char *p, size_t cap)
{
	static const char *const atoms[] = {
		"a",           "b",           "A",    ".",     "@",
		"\\.",         "[ab]",        "[^a]", "[a-c]", "[^.@]",
		"[[:upper:]]", "[[:alpha:]]", "x",    "[.]",   "[^[:space:]]",
		"\n",          "[-b]",        "[]a]",
	};
	static const char *const quants[] = { "",      "",    "",    "*",
					      "+",     "?",   "{2}", "{1,2}",
					      "{0,3}", "{2,}" };
	size_t o = 0;
	int natoms = 1 + (int)(next_rand() % 5);

	if (next_rand() % 3 == 0)
		p[o++] = '^';
	for (int i = 0; i < natoms; i++) {
		const char *a =
			atoms[next_rand() % (sizeof(atoms) / sizeof(atoms[0]))];
		const char *q = quants[next_rand() %
				       (sizeof(quants) / sizeof(quants[0]))];

		o += (size_t)snprintf(p + o, cap - o, "%s%s", a, q);
	}
	if (next_rand() % 3 == 0)
		p[o++] = '$';
	p[o] = '\0';
}

static void test_random_patterns(void **state)
{
	char p[256];

	(void)state;
	comparisons = 0;
	for (int i = 0; i < 600; i++) {
		random_pattern(p, sizeof(p));
		check_pattern(p, REG_EXTENDED, true);
		check_pattern(p, REG_EXTENDED | REG_ICASE, true);
	}
	assert_true(comparisons > 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listed),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_random_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
