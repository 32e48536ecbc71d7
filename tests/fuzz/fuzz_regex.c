/*
 * fuzz_regex.c - libFuzzer target for the bit-parallel matcher of simple
 * regular expressions (src/transform/rxnfa.c), differential against
 * glibc: the input is a pattern, a NUL byte and a subject (bytes folded
 * to ASCII).  When the matcher takes the pattern (with and without
 * REG_ICASE), every match of a global replace over the subject must be
 * the one regexec() finds in the C locale; abort() when it is not.
 *
 * Built and run by `make fuzz` (build/fuzz/fuzz_regex); seeds are in
 * tests/fuzz/seeds/regex.
 */
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/transform/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *pattern, int cflags, const char *s, size_t n)
{
	struct rxnfa x;
	regex_t re;
	size_t pos = 0;

	if (!xf_rxnfa_compile(&x, pattern, cflags))
		return;
	/* a pattern taken must be one that glibc compiles */
	if (regcomp(&re, pattern, cflags) != 0)
		abort();
	/* the loop of regexp_replace with the 'g' flag */
	while (pos <= n) {
		regmatch_t m[1];
		size_t so = 0, eo = 0;
		int g, k;

		m[0].rm_so = (regoff_t)pos;
		m[0].rm_eo = (regoff_t)n;
		g = regexec(&re, s, 1, m,
			    REG_STARTEND | (pos > 0 ? REG_NOTBOL : 0)) == 0;
		k = xf_rxnfa_exec(&x, s, pos, n, pos > 0, &so, &eo);
		if (g != k || (g && ((size_t)m[0].rm_so != so ||
				     (size_t)m[0].rm_eo != eo))) {
			fprintf(stderr,
				"pattern \"%s\": glibc %d [%d, %d), nfa %d "
				"[%zu, %zu) from %zu\n",
				pattern, g, (int)m[0].rm_so, (int)m[0].rm_eo, k,
				so, eo, pos);
			abort();
		}
		if (!g)
			break;
		pos = eo + (eo == so);
	}
	regfree(&re);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t plen = nul ? (size_t)(nul - data) : size;
	char *pattern, *s;
	size_t n = nul ? size - plen - 1 : 0;

	if (plen > 256 || n > 4096)
		return 0;
	pattern = malloc(plen + 1);
	s = malloc(n + 1);
	if (!pattern || !s)
		abort();
	memcpy(pattern, data, plen);
	pattern[plen] = '\0';
	for (size_t i = 0; i < n; i++)
		s[i] = (char)(nul[1 + i] & 0x7f);
	s[n] = '\0';
	check(pattern, REG_EXTENDED, s, n);
	check(pattern, REG_EXTENDED | REG_ICASE, s, n);
	free(pattern);
	free(s);
	return 0;
}
