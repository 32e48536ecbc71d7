/*
 * rxnfa.c - a bit-parallel matcher for the simple regular expressions of
 * regexp_replace and regexp_match, on ASCII subjects.
 *
 * A pattern that is a sequence of single-character atoms (a literal, ".",
 * a bracket expression of ASCII characters, ranges and [:classes:]), each
 * with at most one quantifier (*, +, ?, {m}, {m,}, {m,n}), between an
 * optional leading ^ and trailing $, is a Glushkov automaton with one
 * state per atom: one bit each in a 64-bit word.  A step over a byte is a
 * table look-up, a shift, an addition (for the runs of optional atoms)
 * and a few masks, where glibc's regexec builds its DFA states, contexts
 * and match registers for every call.
 *
 * The results are those of regexec() in the C locale with the same
 * cflags (REG_EXTENDED, maybe REG_ICASE): the leftmost start, then the
 * longest match from it.  The overall match of a POSIX regex depends
 * only on the language the pattern denotes and on its anchors, so the
 * expansion of bounds into copies of atoms keeps it.  Patterns with
 * groups, alternation, escapes other than a quoted special character,
 * collating elements or anything else stay on glibc; so do subjects
 * that are not ASCII.  tests/unit/test_rxnfa.c holds glibc as the oracle.
 *
 * This is the transform language's own code, written by hand.
 */
#include "internal.h"

#include <string.h>

#define RX_MAX_ATOMS 63

/* The kind of a range end: ranges go within digits, upper case or lower
 * case only (as for the byte-table patterns of functions.c), so that
 * they mean the same in every locale. */
static int range_kind(int ch)
{
	return ch >= '0' && ch <= '9'   ? 1
	       : ch >= 'A' && ch <= 'Z' ? 2
	       : ch >= 'a' && ch <= 'z' ? 3
					: 0;
}

static int upper_ascii(int ch)
{
	return ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch;
}

/* Whether byte ch is in POSIX class name[0..len) of the C locale; -1
 * for a name that is not a class. */
static int in_class(const char *name, size_t len, int ch)
{
	static const char *const names[] = {
		"alpha", "digit", "alnum", "upper", "lower", "space",
		"blank", "punct", "print", "graph", "cntrl", "xdigit"
	};
	bool up = ch >= 'A' && ch <= 'Z', lo = ch >= 'a' && ch <= 'z';
	bool dig = ch >= '0' && ch <= '9';
	int k = -1;

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (strlen(names[i]) == len && !memcmp(names[i], name, len))
			k = i;
	switch (k) {
	case 0: return up || lo;
	case 1: return dig;
	case 2: return up || lo || dig;
	case 3: return up;
	case 4: return lo;
	case 5: return ch == ' ' || (ch >= '\t' && ch <= '\r');
	case 6: return ch == ' ' || ch == '\t';
	case 7: return ch > ' ' && ch < 127 && !up && !lo && !dig;
	case 8: return ch >= ' ' && ch < 127;
	case 9: return ch > ' ' && ch < 127;
	case 10: return ch < ' ' || ch == 127;
	case 11:
		return dig || (ch >= 'A' && ch <= 'F') ||
		       (ch >= 'a' && ch <= 'f');
	default: return -1;
	}
}

/* Parses the bracket expression after its "[" at *pp into set; with
 * icase, letters are upper case (glibc matches an upper-cased pattern
 * against an upper-cased subject).  False when it is not one this
 * matcher takes. */
static bool parse_bracket(const char **pp, bool icase, bool set[128])
{
	const char *p = *pp;
	bool negate = false, first = true;

	memset(set, 0, 128 * sizeof(bool));
	if (*p == '^') {
		negate = true;
		p++;
	}
	while (first || *p != ']') {
		int lo = (unsigned char)*p, hi;

		if (lo == '\0' || lo >= 0x80)
			return false;
		if (lo == '[' && p[1] == ':') {
			const char *name = p + 2, *end = strstr(name, ":]");
			bool lower_upper;

			if (!end)
				return false;
			lower_upper = (end - name == 5) &&
				      (!memcmp(name, "upper", 5) ||
				       !memcmp(name, "lower", 5));
			for (int ch = 0; ch < 128; ch++) {
				/* under REG_ICASE glibc takes upper and
				 * lower for alpha */
				int in =
					icase && lower_upper
						? in_class("alpha", 5, ch)
						: in_class(name,
							   (size_t)(end - name),
							   ch);

				if (in < 0)
					return false;
				if (in)
					set[ch] = true;
			}
			p = end + 2;
			first = false;
			continue;
		}
		if (lo == '[' && (p[1] == '.' || p[1] == '='))
			return false;
		if (icase)
			lo = upper_ascii(lo);
		hi = lo;
		if (lo == '-' && !first && p[1] != ']')
			return false; /* a range from "-", or "--" */
		if (p[1] == '-' && p[2] != ']' && p[2] != '\0') {
			hi = (unsigned char)p[2];
			if (icase)
				hi = upper_ascii(hi);
			if (!range_kind(lo) ||
			    range_kind(lo) != range_kind(hi) || hi < lo)
				return false;
			p += 2;
		}
		for (int ch = lo; ch <= hi; ch++)
			set[ch] = true;
		p++;
		first = false;
	}
	*pp = p + 1;
	if (negate)
		for (int ch = 0; ch < 128; ch++)
			set[ch] = !set[ch];
	return true;
}

/* Parses a quantifier at *pp: the bounds, max -1 for no limit; none is
 * {1,1}.  False for one this matcher does not take. */
static bool parse_quant(const char **pp, int *min, int *max)
{
	const char *p = *pp;

	*min = *max = 1;
	switch (*p) {
	case '*': *min = 0, *max = -1, p++; break;
	case '+': *max = -1, p++; break;
	case '?': *min = 0, p++; break;
	case '{': {
		int a = 0, b;

		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9' && a <= RX_MAX_ATOMS)
			a = a * 10 + (*p++ - '0');
		b = a;
		if (*p == ',') {
			p++;
			b = -1;
			if (*p >= '0' && *p <= '9') {
				b = 0;
				while (*p >= '0' && *p <= '9' &&
				       b <= RX_MAX_ATOMS)
					b = b * 10 + (*p++ - '0');
			}
		}
		if (*p++ != '}' || a > RX_MAX_ATOMS || b > RX_MAX_ATOMS ||
		    (b >= 0 && b < a) || b == 0)
			return false;
		*min = a;
		*max = b;
		break;
	}
	default: break;
	}
	/* a second quantifier ("a**", "a+?") nests: leave it to glibc */
	if (*p == '*' || *p == '+' || *p == '?' || *p == '{')
		return false;
	*pp = p;
	return true;
}

/* Adds an atom of class set: loop when it may repeat, optional when it
 * may be absent. */
static bool add_atom(struct rxnfa *x, int *m, const bool set[128], bool loop,
		     bool optional)
{
	uint64_t bit;

	if (*m >= RX_MAX_ATOMS)
		return false;
	bit = (uint64_t)1 << *m;
	for (int ch = 0; ch < 128; ch++)
		if (set[ch])
			x->cls[ch] |= bit;
	if (loop)
		x->loop |= bit;
	if (optional)
		x->nullable |= bit;
	(*m)++;
	return true;
}

/* Atoms i.. reachable before consuming a byte from the atoms in ready:
 * an optional atom lets the next one be ready too.  Adding the optional
 * atoms that are ready to the runs of optional atoms carries each run's
 * lowest ready bit out past the run's end; what changed is what became
 * ready. */
static inline uint64_t closure(const struct rxnfa *x, uint64_t ready)
{
	uint64_t n = x->nullable;

	return (ready | ((n + (ready & n)) ^ n)) & x->all;
}

static inline uint64_t follow(const struct rxnfa *x, uint64_t d)
{
	return (d & x->loop) | closure(x, d << 1);
}

/* The DFA state of ready set r, adding it when there is room: its
 * number, or -1. */
static int dfa_state(struct rxnfa *x, uint64_t r)
{
	for (int k = 0; k < x->ndfa; k++)
		if (x->dfa_ready[k] == r)
			return k;
	if (x->ndfa == RXNFA_DFA_STATES)
		return -1;
	x->dfa_ready[x->ndfa] = r;
	return x->ndfa++;
}

/* Builds the DFA of the sets of ready atoms reachable from the start;
 * none (ndfa 0) when there are too many. */
static void build_dfa(struct rxnfa *x)
{
	x->ndfa = 0;
	dfa_state(x, 0);
	dfa_state(x, x->first);
	for (int k = 1; k < x->ndfa; k++)
		for (int ch = 0; ch < 128; ch++) {
			uint64_t d = x->dfa_ready[k] & x->cls[ch];
			int next = dfa_state(x, follow(x, d));

			if (next < 0) {
				x->ndfa = 0;
				return;
			}
			x->dfa[k][ch] =
				(uint8_t)(next | ((d & x->final) ? 0x80 : 0));
		}
}

bool xf_rxnfa_compile(struct rxnfa *x, const char *pattern, int cflags)
{
	const char *p = pattern;
	bool icase = (cflags & REG_ICASE) != 0;
	int m = 0;

	memset(x, 0, sizeof(*x));
	if ((cflags & ~REG_ICASE) != REG_EXTENDED)
		return false;
	if (*p == '^') {
		x->bol = true;
		p++;
	}
	while (*p) {
		bool set[128];
		int ch = (unsigned char)*p, min, max;

		if (ch == '$' && p[1] == '\0') {
			x->eol = true;
			break;
		}
		if (ch >= 0x80 || strchr("()|*+?{}^$]", ch))
			return false;
		memset(set, 0, sizeof(set));
		if (ch == '.') {
			/* any byte but NUL (glibc's RE_DOT_NOT_NULL);
			 * newline too, as REG_NEWLINE is not used */
			memset(set + 1, 1, 127 * sizeof(bool));
			p++;
		} else if (ch == '[') {
			p++;
			if (!parse_bracket(&p, icase, set))
				return false;
		} else {
			if (ch == '\\') {
				ch = (unsigned char)p[1];
				if (!ch || !strchr(".[]\\()*+?{}|^$", ch))
					return false;
				p++;
			}
			set[icase ? upper_ascii(ch) : ch] = true;
			p++;
		}
		if (!parse_quant(&p, &min, &max))
			return false;
		if (icase)
			for (int c = 'a'; c <= 'z'; c++)
				set[c] = set[upper_ascii(c)];
		for (int k = 0; k < min; k++)
			if (!add_atom(x, &m, set, max < 0 && k == min - 1,
				      false))
				return false;
		if (max < 0 && min == 0 && !add_atom(x, &m, set, true, true))
			return false;
		for (int k = min; k < max; k++)
			if (!add_atom(x, &m, set, false, true))
				return false;
	}
	x->all = ((uint64_t)1 << m) - 1; /* m < 64 */
	x->empty = x->nullable == x->all;
	x->first = m ? closure(x, 1) : 0;
	/* final: the atoms after which every later one is optional */
	for (int i = m - 1; i >= 0; i--) {
		x->final |= (uint64_t)1 << i;
		if (!(x->nullable & ((uint64_t)1 << i)))
			break;
	}
	build_dfa(x);
	return true;
}

/* The end of the longest match of a start that is alone in the race:
 * ready its atoms that may consume s[i], bend the longest end so far
 * (SIZE_MAX for none).  The loop of the common cases (an anchored
 * pattern, the tail of a match), kept in registers. */
static size_t longest(const struct rxnfa *x, const char *s, size_t i, size_t n,
		      uint64_t ready, size_t bend)
{
	const uint64_t fin = x->final, loop = x->loop, opt = x->nullable;
	const uint64_t all = x->all;

	for (int k = 1; k < x->ndfa; k++) {
		unsigned st;

		if (x->dfa_ready[k] != ready)
			continue;
		/* one look-up per byte */
		for (st = (unsigned)k; i < n && st; i++) {
			unsigned t = x->dfa[st][(unsigned char)s[i] & 0x7f];

			if ((t & 0x80) && (!x->eol || i + 1 == n))
				bend = i + 1;
			st = t & 0x7f;
		}
		return bend;
	}
	for (; i < n && ready; i++) {
		uint64_t d = ready & x->cls[(unsigned char)s[i] & 0x7f];
		uint64_t r = d << 1;

		if ((d & fin) && (!x->eol || i + 1 == n))
			bend = i + 1;
		ready = (d & loop) | ((r | ((opt + (r & opt)) ^ opt)) & all);
	}
	return bend;
}

/* An unanchored search keeps, per start still in the race, the atoms
 * that may consume the next byte.  Starts are in increasing order; an
 * atom that an earlier start has just consumed is dropped from the later
 * ones, whose futures it cannot better (the leftmost start wins), so at
 * most one start per atom lives. */
struct thread {
	size_t start;
	uint64_t ready;
};

int xf_rxnfa_exec(const struct rxnfa *x, const char *s, size_t from, size_t n,
		  bool notbol, size_t *so, size_t *eo)
{
	struct thread th[RX_MAX_ATOMS + 1];
	int nth = 0;
	size_t best = SIZE_MAX, bend = 0;

	if (x->bol) {
		/* ^: a match starts at the subject's first byte or not
		 * at all */
		if (from > 0 || notbol)
			return 0;
		bend = longest(x, s, 0, n, x->first,
			       x->empty && (!x->eol || n == 0) ? 0 : SIZE_MAX);
		if (bend == SIZE_MAX)
			return 0;
		*so = 0;
		*eo = bend;
		return 1;
	}
	for (size_t i = from;; i++) {
		uint64_t b, seen = 0;
		int k = 0;

		if (best == SIZE_MAX) {
			/* a new start at i; with none in the race, skip
			 * the bytes that cannot begin a match (an empty
			 * match begins anywhere) */
			if (nth == 0 && !x->empty)
				while (i < n &&
				       !(x->cls[(unsigned char)s[i] & 0x7f] &
					 x->first))
					i++;
			if (x->empty && (!x->eol || i == n)) {
				best = i;
				bend = i;
			}
			if (x->first) {
				th[nth].start = i;
				th[nth].ready = x->first;
				nth++;
			} else if (best == SIZE_MAX) {
				/* "$" alone: the match is at the end */
				i = n - 1;
				continue;
			}
		}
		if (i >= n || nth == 0)
			break;
		b = x->cls[(unsigned char)s[i] & 0x7f];
		for (int j = 0; j < nth; j++) {
			uint64_t d = th[j].ready & b & ~seen;

			if (!d)
				continue;
			seen |= d;
			if ((d & x->final) && (!x->eol || i + 1 == n) &&
			    th[j].start <= best) {
				best = th[j].start;
				bend = i + 1;
			}
			th[k].start = th[j].start;
			th[k].ready = follow(x, d);
			if (th[k].ready)
				k++;
		}
		nth = k;
		if (best == SIZE_MAX)
			continue;
		/* a later start cannot win once an earlier one matched */
		while (nth > 0 && th[nth - 1].start > best)
			nth--;
		if (nth == 1 && th[0].start == best) {
			bend = longest(x, s, i + 1, n, th[0].ready, bend);
			break;
		}
		if (nth == 0)
			break;
	}
	if (best == SIZE_MAX)
		return 0;
	*so = best;
	*eo = bend;
	return 1;
}
