/*
 * decimal.c - exact decimal arithmetic for numeric values.
 *
 * A numeric value is carried as canonical decimal text: an optional '-',
 * the integer digits without leading zeros ("0" when there are none), and
 * optionally '.' and the fraction digits, whose count is the value's scale
 * (kept as given, as PostgreSQL keeps 1.50 apart from 1.5); or one of
 * PostgreSQL's special values "NaN", "Infinity" and "-Infinity", which
 * every operation handles first, by PostgreSQL's rules.  The
 * arithmetic works on arrays of decimal digits in the scratch arena:
 * schoolbook addition, multiplication and long division.  That is slow
 * next to binary bignums but simple to get exactly right, and the numbers
 * that flow through a transform are short.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A number as digit values (0-9, most significant first) times
 * 10^-scale. */
struct dnum {
	bool neg;
	unsigned char *d;
	int len;
	int scale;
};

static void unpack(struct cns_arena *a, const char *s, size_t n, struct dnum *x)
{
	size_t i = 0;
	int k = 0;

	x->neg = n && s[0] == '-';
	if (x->neg)
		i++;
	x->d = cns_arena_alloc(a, n + 1);
	x->scale = 0;
	for (bool frac = false; i < n; i++) {
		if (s[i] == '.') {
			frac = true;
			continue;
		}
		x->d[k++] = (unsigned char)(s[i] - '0');
		if (frac)
			x->scale++;
	}
	x->len = k;
}

/* Canonical text of x; strips leading zeros, "-0" becomes "0". */
static void pack(struct cns_arena *a, const struct dnum *x, const char **out,
		 uint32_t *outn)
{
	char *o = cns_arena_alloc(a, (size_t)x->len + 4);
	int start = 0, ilen = x->len - x->scale, k = 0;
	bool zero = true;

	for (int i = 0; i < x->len; i++)
		if (x->d[i]) {
			zero = false;
			break;
		}
	if (x->neg && !zero)
		o[k++] = '-';
	while (start < ilen - 1 && x->d[start] == 0)
		start++;
	if (ilen <= 0)
		o[k++] = '0';
	for (int i = start; i < ilen; i++)
		o[k++] = (char)('0' + x->d[i]);
	if (x->scale > 0) {
		o[k++] = '.';
		for (int i = 0; i < x->scale; i++) {
			int idx = x->len - x->scale + i;

			o[k++] = (char)('0' + (idx >= 0 ? x->d[idx] : 0));
		}
	}
	o[k] = '\0';
	*out = o;
	*outn = (uint32_t)k;
}

/* Digits of |x| scaled to `scale` (>= x->scale), in a new array of
 * exactly `width` digits, right-aligned with leading zeros. */
static unsigned char *widen(struct cns_arena *a, const struct dnum *x,
			    int scale, int width)
{
	unsigned char *d = cns_arena_zalloc(a, (size_t)width + 1);
	int pad = scale - x->scale;
	int off = width - (x->len + pad);

	for (int i = 0; i < x->len; i++)
		d[off + i] = x->d[i];
	return d;
}

static int mag_cmp(const unsigned char *a, const unsigned char *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/* Whether s is canonical already: [-]digits[.digits], no leading zero
 * but a lone one, not "-0" (most numbers from a database are). */
static bool is_zero(const struct dnum *x)
{
	for (int i = 0; i < x->len; i++)
		if (x->d[i])
			return false;
	return true;
}

static bool is_canonical(const char *s, size_t n)
{
	size_t i = 0, st;
	bool nonzero = false;

	if (n == 0 || n > DEC_MAX_DIGITS)
		return false;
	if (s[0] == '-')
		i++;
	st = i;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		nonzero |= s[i] != '0';
		i++;
	}
	if (i == st || (s[st] == '0' && i - st > 1))
		return false;
	if (i < n) {
		size_t f;

		if (s[i] != '.')
			return false;
		f = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			nonzero |= s[i] != '0';
			i++;
		}
		if (i == f || i != n)
			return false;
	}
	return !(st == 1 && !nonzero);
}

int xf_dec_special(const char *s, size_t n)
{
	if (n && s[0] == 'N')
		return DEC_NAN;
	if (n && s[0] == 'I')
		return DEC_PINF;
	if (n > 1 && s[0] == '-' && s[1] == 'I')
		return DEC_NINF;
	return DEC_FINITE;
}

static int put_special(int k, const char **out, uint32_t *outn)
{
	*out = k == DEC_NAN ? "NaN" : k == DEC_PINF ? "Infinity" : "-Infinity";
	*outn = (uint32_t)strlen(*out);
	return 0;
}

/* The sign of a value: -1, 0 or 1 (NaN: 0). */
static int dec_sign(const char *s, size_t n)
{
	switch (xf_dec_special(s, n)) {
	case DEC_NAN: return 0;
	case DEC_PINF: return 1;
	case DEC_NINF: return -1;
	}
	if (xf_dec_is_zero(s, n))
		return 0;
	return n && s[0] == '-' ? -1 : 1;
}

/* PostgreSQL's input words for the special values, case aside. */
static int special_word(const char *s, size_t n)
{
	static const struct {
		const char *w;
		int k;
	} words[] = { { "NaN", DEC_NAN },        { "Infinity", DEC_PINF },
		      { "+Infinity", DEC_PINF }, { "-Infinity", DEC_NINF },
		      { "inf", DEC_PINF },       { "+inf", DEC_PINF },
		      { "-inf", DEC_NINF } };

	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
		if (strlen(words[i].w) == n && !strncasecmp(words[i].w, s, n))
			return words[i].k;
	return DEC_FINITE;
}

int xf_dec_parse(struct cns_arena *a, const char *s, size_t n, const char **out,
		 uint32_t *outn)
{
	struct dnum x;
	size_t i = 0;
	int digits = 0, frac = 0;
	long exp = 0;
	bool seen_point = false;

	if (is_canonical(s, n)) {
		*out = s;
		*outn = (uint32_t)n;
		return 0;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	{
		int k = special_word(s + i, n - i);

		if (k != DEC_FINITE)
			return put_special(k, out, outn);
	}
	x.neg = false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		x.neg = s[i++] == '-';
	x.d = cns_arena_alloc(a, n + 1);
	x.len = 0;
	for (; i < n; i++) {
		if (s[i] == '.' && !seen_point) {
			seen_point = true;
			continue;
		}
		if (!isdigit((unsigned char)s[i]))
			break;
		/* leading zeros are free */
		if (!(x.len == 0 && s[i] == '0' && !seen_point))
			x.d[x.len++] = (unsigned char)(s[i] - '0');
		digits++;
		if (seen_point)
			frac++;
	}
	if (digits == 0)
		return -1;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		bool eneg = false;
		size_t st;

		i++;
		/* PostgreSQL reads the exponent with strtol, which skips
		 * blanks before it */
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		st = i;
		for (; i < n && isdigit((unsigned char)s[i]); i++) {
			exp = exp * 10 + (s[i] - '0');
			if (exp > DEC_IN_MAX_EXPONENT)
				return -1;
		}
		if (i == st)
			return -1;
		if (eneg)
			exp = -exp;
	}
	if (i != n)
		return -1;
	x.scale = frac - (int)exp;
	if (is_zero(&x)) {
		/* zero keeps its scale, never a negative one, whatever the
		 * exponent: "0e5000" is 0 */
		x.len = 0;
		if (x.scale < 0)
			x.scale = 0;
	}
	if (x.scale > DEC_IN_MAX_SCALE ||
	    x.len - x.scale > DEC_IN_MAX_INT_DIGITS)
		return -1;
	if (x.scale < 0) {
		unsigned char *d = cns_arena_zalloc(
			a, (size_t)x.len - (size_t)x.scale + 1);

		memcpy(d, x.d, (size_t)x.len);
		x.len -= x.scale;
		x.d = d;
		x.scale = 0;
	}
	if (x.len < x.scale) {
		/* "0.05" kept only "5": put the zeros after the point back */
		unsigned char *d = cns_arena_zalloc(a, (size_t)x.scale + 1);

		memcpy(d + (x.scale - x.len), x.d, (size_t)x.len);
		x.d = d;
		x.len = x.scale;
	}
	pack(a, &x, out, outn);
	return 0;
}

int xf_dec_neg(struct cns_arena *a, const char *x, size_t n, const char **out,
	       uint32_t *outn)
{
	int k = xf_dec_special(x, n);
	char *p;

	if (k != DEC_FINITE)
		return put_special(k == DEC_PINF   ? DEC_NINF
				   : k == DEC_NINF ? DEC_PINF
						   : DEC_NAN,
				   out, outn);
	if (x[0] == '-') {
		*out = x + 1;
		*outn = (uint32_t)n - 1;
		return 0;
	}
	if (dec_sign(x, n) == 0) {
		*out = x;
		*outn = (uint32_t)n;
		return 0;
	}
	p = cns_arena_alloc(a, n + 2);
	p[0] = '-';
	memcpy(p + 1, x, n);
	p[n + 1] = '\0';
	*out = p;
	*outn = (uint32_t)n + 1;
	return 0;
}

int xf_dec_scale(const char *x, size_t n)
{
	const char *p = memchr(x, '.', n);

	return p ? (int)(n - (size_t)(p - x) - 1) : 0;
}

int xf_dec_intlen(const char *x, size_t n)
{
	const char *p = memchr(x, '.', n);
	size_t end = p ? (size_t)(p - x) : n, st = x[0] == '-';

	if (end - st == 1 && x[st] == '0')
		return 0;
	return (int)(end - st);
}

bool xf_dec_is_zero(const char *x, size_t n)
{
	if (xf_dec_special(x, n) != DEC_FINITE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (x[i] >= '1' && x[i] <= '9')
			return false;
	return true;
}

int xf_dec_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	bool na = an && a[0] == '-', nb = bn && b[0] == '-';
	int ia = xf_dec_intlen(a, an), ib = xf_dec_intlen(b, bn), r;
	const char *pa, *pb;
	size_t la, lb;
	int ka = xf_dec_special(a, an), kb = xf_dec_special(b, bn);

	if (ka != DEC_FINITE || kb != DEC_FINITE) {
		/* -Infinity < numbers < Infinity < NaN, NaN = NaN */
		static const int rank[] = { 1, 3, 2, 0 };

		return (rank[ka] > rank[kb]) - (rank[ka] < rank[kb]);
	}
	if (xf_dec_is_zero(a, an))
		na = false;
	if (xf_dec_is_zero(b, bn))
		nb = false;
	if (na != nb)
		return na ? -1 : 1;
	if (ia != ib) {
		r = ia < ib ? -1 : 1;
		return na ? -r : r;
	}
	/* same number of integer digits: compare digit strings, the
	 * shorter one padded with zeros */
	pa = a + na;
	la = an - na;
	pb = b + nb;
	lb = bn - nb;
	if (ia == 0) { /* skip "0" */
		pa++;
		la--;
		pb++;
		lb--;
	}
	for (size_t i = 0; i < la || i < lb; i++) {
		char ca = i < la ? pa[i] : '0', cb = i < lb ? pb[i] : '0';

		if (ca == '.')
			ca = '0' - 1;
		if (cb == '.')
			cb = '0' - 1;
		if (ca != cb) {
			/* a point against a digit only happens past the
			 * integer part, where "." sorts with zero */
			if (ca == '0' - 1)
				ca = '0';
			if (cb == '0' - 1)
				cb = '0';
			if (ca == cb)
				continue;
			r = ca < cb ? -1 : 1;
			return na ? -r : r;
		}
	}
	return 0;
}

int xf_dec_add(struct cns_arena *a, const char *xs, size_t xn, const char *ys,
	       size_t yn, bool sub, const char **out, uint32_t *outn)
{
	struct dnum x, y, r;
	int scale, ilen, width;
	unsigned char *dx, *dy;
	int kx = xf_dec_special(xs, xn), ky = xf_dec_special(ys, yn);

	if (kx != DEC_FINITE || ky != DEC_FINITE) {
		if (sub && ky != DEC_NAN && ky != DEC_FINITE)
			ky = ky == DEC_PINF ? DEC_NINF : DEC_PINF;
		if (kx == DEC_NAN || ky == DEC_NAN ||
		    (kx != DEC_FINITE && ky != DEC_FINITE && kx != ky))
			return put_special(DEC_NAN, out, outn);
		return put_special(kx != DEC_FINITE ? kx : ky, out, outn);
	}
	unpack(a, xs, xn, &x);
	unpack(a, ys, yn, &y);
	if (sub)
		y.neg = !y.neg;
	scale = x.scale > y.scale ? x.scale : y.scale;
	ilen = x.len - x.scale > y.len - y.scale ? x.len - x.scale
						 : y.len - y.scale;
	width = ilen + scale + 1;
	if (width > DEC_MAX_DIGITS + 1)
		return -1;
	dx = widen(a, &x, scale, width);
	dy = widen(a, &y, scale, width);
	r.d = cns_arena_zalloc(a, (size_t)width + 1);
	r.len = width;
	r.scale = scale;
	if (x.neg == y.neg) {
		int carry = 0;

		for (int i = width - 1; i >= 0; i--) {
			int v = dx[i] + dy[i] + carry;

			r.d[i] = (unsigned char)(v % 10);
			carry = v / 10;
		}
		r.neg = x.neg;
	} else {
		int c = mag_cmp(dx, dy, width), borrow = 0;
		unsigned char *big = c >= 0 ? dx : dy,
			      *small = c >= 0 ? dy : dx;

		for (int i = width - 1; i >= 0; i--) {
			int v = big[i] - small[i] - borrow;

			borrow = v < 0;
			r.d[i] = (unsigned char)(v + (borrow ? 10 : 0));
		}
		r.neg = c >= 0 ? x.neg : y.neg;
	}
	pack(a, &r, out, outn);
	if (xf_dec_intlen(*out, *outn) + xf_dec_scale(*out, *outn) >
	    DEC_MAX_DIGITS)
		return -1;
	return 0;
}

int xf_dec_mul(struct cns_arena *a, const char *xs, size_t xn, const char *ys,
	       size_t yn, const char **out, uint32_t *outn)
{
	struct dnum x, y, r;
	int *acc;
	int kx = xf_dec_special(xs, xn), ky = xf_dec_special(ys, yn);

	if (kx != DEC_FINITE || ky != DEC_FINITE) {
		int sg = dec_sign(xs, xn) * dec_sign(ys, yn);

		/* NaN, or infinity times zero */
		if (kx == DEC_NAN || ky == DEC_NAN || sg == 0)
			return put_special(DEC_NAN, out, outn);
		return put_special(sg > 0 ? DEC_PINF : DEC_NINF, out, outn);
	}
	unpack(a, xs, xn, &x);
	unpack(a, ys, yn, &y);
	r.len = x.len + y.len;
	r.scale = x.scale + y.scale;
	r.neg = x.neg != y.neg;
	if (r.len > 2 * DEC_MAX_DIGITS)
		return -1;
	acc = cns_arena_zalloc(a, (size_t)(r.len + 1) * sizeof(int));
	for (int i = x.len - 1; i >= 0; i--)
		for (int j = y.len - 1; j >= 0; j--)
			acc[i + j + 1] += x.d[i] * y.d[j];
	for (int k = r.len - 1; k > 0; k--) {
		acc[k - 1] += acc[k] / 10;
		acc[k] %= 10;
	}
	r.d = cns_arena_alloc(a, (size_t)r.len + 1);
	for (int k = 0; k < r.len; k++)
		r.d[k] = (unsigned char)acc[k];
	pack(a, &r, out, outn);
	if (xf_dec_intlen(*out, *outn) + xf_dec_scale(*out, *outn) >
	    DEC_MAX_DIGITS)
		return -1;
	return 0;
}

/* Long division of the digit string num (len nl) by den (len dl, no
 * leading zero); quotient digits into q (nl digits), remainder into rem
 * (dl + 1 digits, right-aligned). */
static void long_div(const unsigned char *num, int nl, const unsigned char *den,
		     int dl, unsigned char *q, unsigned char *rem)
{
	int w = dl + 1;

	memset(rem, 0, (size_t)w);
	for (int i = 0; i < nl; i++) {
		int digit = 0;

		memmove(rem, rem + 1, (size_t)w - 1);
		rem[w - 1] = num[i];
		for (;;) {
			/* compare rem (w digits) with den (dl digits,
			 * right-aligned in w) */
			int c = rem[0] ? 1 : mag_cmp(rem + 1, den, dl);
			int borrow = 0;

			if (c < 0)
				break;
			for (int k = w - 1; k >= 0; k--) {
				int dv = k >= 1 ? den[k - 1] : 0;
				int v = rem[k] - dv - borrow;

				borrow = v < 0;
				rem[k] = (unsigned char)(v + (borrow ? 10 : 0));
			}
			digit++;
		}
		q[i] = (unsigned char)digit;
	}
}

/* Magnitude digits without leading zeros; len 0 for zero. */
static void strip(struct dnum *x)
{
	while (x->len > 0 && x->d[0] == 0) {
		x->d++;
		x->len--;
	}
}

int xf_dec_div(struct cns_arena *a, const char *xs, size_t xn, const char *ys,
	       size_t yn, int rs, const char **out, uint32_t *outn)
{
	struct dnum x, y, r;
	int e, nl;
	unsigned char *num, *q, *rem;
	int kx = xf_dec_special(xs, xn), ky = xf_dec_special(ys, yn);

	if (kx != DEC_FINITE || ky != DEC_FINITE) {
		int sg = dec_sign(xs, xn) * dec_sign(ys, yn);

		if (kx == DEC_NAN || ky == DEC_NAN ||
		    (kx != DEC_FINITE && ky != DEC_FINITE))
			return put_special(DEC_NAN, out, outn);
		if (ky != DEC_FINITE) { /* finite / infinity */
			*out = "0";
			*outn = 1;
			return 0;
		}
		return put_special(sg >= 0 ? DEC_PINF : DEC_NINF, out, outn);
	}
	unpack(a, xs, xn, &x);
	unpack(a, ys, yn, &y);
	if (rs < x.scale)
		rs = x.scale;
	if (rs < y.scale)
		rs = y.scale;
	/* q * 10^rs = X * 10^(sy - sx + rs) / Y, with one digit more to
	 * round on */
	e = y.scale - x.scale + rs + 1;
	strip(&y);
	if (y.len == 0)
		return -1;
	nl = x.len + e;
	if (nl > 3 * DEC_MAX_DIGITS)
		return -1;
	num = cns_arena_zalloc(a, (size_t)nl + 1);
	memcpy(num, x.d, (size_t)x.len);
	q = cns_arena_zalloc(a, (size_t)nl + 2);
	rem = cns_arena_alloc(a, (size_t)y.len + 2);
	long_div(num, nl, y.d, y.len, q + 1, rem);
	/* round half away from zero on the extra digit */
	r.neg = x.neg != y.neg;
	r.d = q;
	r.len = nl; /* q[0] is a spare leading digit for the carry */
	if (q[nl] >= 5) {
		int k = nl - 1;

		q[k]++;
		while (q[k] == 10) {
			q[k] = 0;
			q[--k]++;
		}
	}
	r.scale = rs;
	pack(a, &r, out, outn);
	if (xf_dec_intlen(*out, *outn) + rs > DEC_MAX_DIGITS)
		return -1;
	return 0;
}

int xf_dec_mod(struct cns_arena *a, const char *xs, size_t xn, const char *ys,
	       size_t yn, const char **out, uint32_t *outn)
{
	struct dnum x, y, r;
	int s, nl;
	unsigned char *num, *q, *rem;
	int kx = xf_dec_special(xs, xn), ky = xf_dec_special(ys, yn);

	if (kx != DEC_FINITE || ky != DEC_FINITE) {
		if (kx != DEC_FINITE || ky == DEC_NAN)
			return put_special(DEC_NAN, out, outn);
		*out = xs; /* finite % infinity */
		*outn = (uint32_t)xn;
		return 0;
	}
	unpack(a, xs, xn, &x);
	unpack(a, ys, yn, &y);
	s = x.scale > y.scale ? x.scale : y.scale;
	nl = x.len + (s - x.scale);
	num = cns_arena_zalloc(a, (size_t)nl + 1);
	memcpy(num, x.d, (size_t)x.len);
	{
		int yl = y.len + (s - y.scale);
		unsigned char *yd = cns_arena_zalloc(a, (size_t)yl + 1);

		memcpy(yd, y.d, (size_t)y.len);
		y.d = yd;
		y.len = yl;
	}
	strip(&y);
	if (y.len == 0)
		return -1;
	q = cns_arena_alloc(a, (size_t)nl + 1);
	rem = cns_arena_alloc(a, (size_t)y.len + 2);
	long_div(num, nl, y.d, y.len, q, rem);
	r.neg = x.neg;
	r.d = rem;
	r.len = y.len + 1;
	r.scale = s;
	if (r.len < s) {
		unsigned char *d = cns_arena_zalloc(a, (size_t)s + 1);

		memcpy(d + (s - r.len), r.d, (size_t)r.len);
		r.d = d;
		r.len = s;
	}
	pack(a, &r, out, outn);
	return 0;
}

void xf_dec_round(struct cns_arena *a, const char *xs, size_t xn, int scale,
		  const char **out, uint32_t *outn)
{
	struct dnum x, r;
	int keep, mlen, dropped, cur = xf_dec_scale(xs, xn);
	unsigned char *m;

	if (xf_dec_special(xs, xn) != DEC_FINITE) {
		*out = xs;
		*outn = (uint32_t)xn;
		return;
	}
	if (scale >= cur) {
		/* only zeros to add: the common case of numeric(p,s) */
		size_t add = (size_t)(scale - cur) + (cur == 0 && scale > 0);
		char *o = cns_arena_alloc(a, xn + add + 1);

		memcpy(o, xs, xn);
		if (cur == 0 && scale > 0)
			o[xn] = '.';
		memset(o + xn + (cur == 0 && scale > 0), '0',
		       (size_t)(scale - cur));
		o[xn + add] = '\0';
		*out = o;
		*outn = (uint32_t)(xn + add);
		return;
	}
	unpack(a, xs, xn, &x);
	r.neg = x.neg;
	if (scale >= x.scale) {
		r.scale = scale;
		r.len = x.len + (scale - x.scale);
		r.d = cns_arena_zalloc(a, (size_t)r.len + 1);
		memcpy(r.d, x.d, (size_t)x.len);
		pack(a, &r, out, outn);
		return;
	}
	/* keep the digits down to 10^-scale, with a spare leading digit
	 * for the carry; then round on the first digit dropped */
	keep = x.len - x.scale + scale;
	mlen = (keep > 0 ? keep : 0) + 1;
	m = cns_arena_zalloc(a, (size_t)mlen +
					(size_t)(scale < 0 ? -scale : 0) + 1);
	for (int i = 0; i < keep; i++)
		m[1 + i] = x.d[i];
	dropped = keep >= 0 && keep < x.len ? x.d[keep] : 0;
	if (dropped >= 5) {
		int k = mlen - 1;

		m[k]++;
		while (m[k] == 10) {
			m[k] = 0;
			m[--k]++;
		}
	}
	r.d = m;
	r.len = mlen;
	r.scale = scale > 0 ? scale : 0;
	if (scale < 0)
		r.len += -scale; /* zeros, already in place */
	pack(a, &r, out, outn);
}

void xf_dec_integral(struct cns_arena *a, const char *xs, size_t xn, int mode,
		     const char **out, uint32_t *outn)
{
	const char *p = memchr(xs, '.', xn);
	bool neg = xn && xs[0] == '-';
	bool frac = p && !xf_dec_is_zero(p, xn - (size_t)(p - xs));
	size_t il = p ? (size_t)(p - xs) : xn;

	if (xf_dec_special(xs, xn) != DEC_FINITE) {
		*out = xs;
		*outn = (uint32_t)xn;
		return;
	}
	if (!frac || mode == 't' || (mode == 'f' && !neg) ||
	    (mode == 'c' && neg)) {
		const char *r;
		uint32_t rn;

		/* "-0.5" truncates to "0", not "-0" */
		if (neg && xf_dec_is_zero(xs, il)) {
			*out = "0";
			*outn = 1;
			return;
		}
		r = cns_arena_strndup(a, xs, il);
		rn = (uint32_t)il;
		*out = r;
		*outn = rn;
		return;
	}
	/* away from zero by one */
	xf_dec_add(a, xs, il, neg ? "-1" : "1", neg ? 2 : 1, false, out, outn);
}

int xf_dec_to_int64(const char *x, size_t n, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t v = 0, lim;

	if (xf_dec_special(x, n) != DEC_FINITE)
		return -1;
	if (n && x[0] == '-') {
		neg = true;
		i++;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n && x[i] != '.'; i++) {
		unsigned d = (unsigned)(x[i] - '0');

		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (i < n && !xf_dec_is_zero(x + i, n - i))
		return -1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

void xf_dec_from_int64(struct cns_arena *a, int64_t v, const char **out,
		       uint32_t *outn)
{
	char *o = cns_arena_alloc(a, 24);
	int n = snprintf(o, 24, "%" PRId64, v);

	*out = o;
	*outn = (uint32_t)n;
}

double xf_dec_to_double(const char *x, size_t n)
{
	char buf[128];

	if (n < sizeof(buf)) {
		memcpy(buf, x, n);
		buf[n] = '\0';
		return xf_text_to_double_c(buf);
	}
	{
		char *p = cns_xmalloc(n + 1);
		double d;

		/* rare: very long numerics */
		memcpy(p, x, n);
		p[n] = '\0';
		d = xf_text_to_double_c(p);
		free(p);
		return d;
	}
}

int xf_dec_from_double(struct cns_arena *a, double d, const char **out,
		       uint32_t *outn)
{
	char buf[64];
	int n;

	if (isnan(d))
		return put_special(DEC_NAN, out, outn);
	if (isinf(d))
		return put_special(d > 0 ? DEC_PINF : DEC_NINF, out, outn);
	n = xf_double_text(d, false, buf);
	/* parse a copy: a canonical input is returned as it is */
	return xf_dec_parse(a, cns_arena_strndup(a, buf, (size_t)n), (size_t)n,
			    out, outn);
}
