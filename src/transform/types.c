/*
 * types.c - the types of the transform language: their names, which casts
 * can ever succeed, parsing text into values (with the validation the
 * target would apply), the canonical text of values, casts between types
 * and comparisons.
 *
 * Every cast either gives an exact result or fails with a reason that
 * names the value and the type; nothing is silently truncated.  Numbers of
 * type numeric never pass through a double.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

const struct xtype XT_UNTYPED = { CNS_T_TEXT, 0, 0, true };
const struct xtype XT_NULL = { CNS_T_UNKNOWN, 0, 0, false };

const char *cns_type_name(enum cns_type t)
{
	switch (t) {
	case CNS_T_UNKNOWN: return "unknown";
	case CNS_T_TEXT: return "text";
	case CNS_T_VARCHAR: return "varchar";
	case CNS_T_SMALLINT: return "smallint";
	case CNS_T_INTEGER: return "integer";
	case CNS_T_BIGINT: return "bigint";
	case CNS_T_NUMERIC: return "numeric";
	case CNS_T_REAL: return "real";
	case CNS_T_DOUBLE: return "double precision";
	case CNS_T_BOOLEAN: return "boolean";
	case CNS_T_DATE: return "date";
	case CNS_T_TIME: return "time";
	case CNS_T_TIMESTAMP: return "timestamp";
	case CNS_T_TIMESTAMPTZ: return "timestamptz";
	case CNS_T_UUID: return "uuid";
	case CNS_T_JSON: return "json";
	case CNS_T_JSONB: return "jsonb";
	case CNS_T_BYTEA: return "bytea";
	}
	return "unknown";
}

enum rep xf_type_rep(enum cns_type t)
{
	switch (t) {
	case CNS_T_SMALLINT:
	case CNS_T_INTEGER:
	case CNS_T_BIGINT:
	case CNS_T_BOOLEAN:
	case CNS_T_DATE:
	case CNS_T_TIME:
	case CNS_T_TIMESTAMP:
	case CNS_T_TIMESTAMPTZ: return REP_INT;
	case CNS_T_REAL:
	case CNS_T_DOUBLE: return REP_DBL;
	case CNS_T_UNKNOWN:
	case CNS_T_TEXT:
	case CNS_T_VARCHAR:
	case CNS_T_NUMERIC:
	case CNS_T_UUID:
	case CNS_T_JSON:
	case CNS_T_JSONB:
	case CNS_T_BYTEA: break;
	}
	return REP_STR;
}

bool xf_type_is_int(enum cns_type t)
{
	return t == CNS_T_SMALLINT || t == CNS_T_INTEGER || t == CNS_T_BIGINT;
}

bool xf_type_is_number(enum cns_type t)
{
	return xf_type_is_int(t) || t == CNS_T_NUMERIC || t == CNS_T_REAL ||
	       t == CNS_T_DOUBLE;
}

bool xf_type_is_stringish(enum cns_type t)
{
	return t == CNS_T_TEXT || t == CNS_T_VARCHAR;
}

const char *xf_xtype_name(struct xtype ty, char *buf, size_t size)
{
	if (ty.t == CNS_T_VARCHAR && ty.p)
		snprintf(buf, size, "varchar(%d)", ty.p);
	else if (ty.t == CNS_T_NUMERIC && ty.p)
		snprintf(buf, size, "numeric(%d,%d)", ty.p, ty.s);
	else
		snprintf(buf, size, "%s", cns_type_name(ty.t));
	return buf;
}

/* ---- type names ---- */

static const struct {
	const char *name;
	enum cns_type t;
} type_names[] = {
	{ "text", CNS_T_TEXT },
	{ "varchar", CNS_T_VARCHAR },
	{ "smallint", CNS_T_SMALLINT },
	{ "int2", CNS_T_SMALLINT },
	{ "integer", CNS_T_INTEGER },
	{ "int", CNS_T_INTEGER },
	{ "int4", CNS_T_INTEGER },
	{ "bigint", CNS_T_BIGINT },
	{ "int8", CNS_T_BIGINT },
	{ "numeric", CNS_T_NUMERIC },
	{ "decimal", CNS_T_NUMERIC },
	{ "real", CNS_T_REAL },
	{ "float4", CNS_T_REAL },
	{ "float8", CNS_T_DOUBLE },
	{ "float", CNS_T_DOUBLE },
	{ "boolean", CNS_T_BOOLEAN },
	{ "bool", CNS_T_BOOLEAN },
	{ "date", CNS_T_DATE },
	{ "time", CNS_T_TIME },
	{ "timestamp", CNS_T_TIMESTAMP },
	{ "timestamptz", CNS_T_TIMESTAMPTZ },
	{ "uuid", CNS_T_UUID },
	{ "json", CNS_T_JSON },
	{ "jsonb", CNS_T_JSONB },
	{ "bytea", CNS_T_BYTEA },
};
#define NTYPES ((int)(sizeof(type_names) / sizeof(type_names[0])))

static bool kw(const struct token *v, int n, int i, const char *w)
{
	return i < n && v[i].k == T_IDENT && strcmp(v[i].text, w) == 0;
}

int xf_parse_type_name(const struct token *v, int n, int *ip, struct xtype *out,
		       char **sql, struct cns_arena *arena, const char **msg,
		       const char **hint)
{
	int i = *ip;
	const char *name;
	struct xtype ty = { CNS_T_UNKNOWN, 0, 0, false };
	char buf[64];

	*msg = NULL;
	*hint = NULL;
	if (i >= n || v[i].k != T_IDENT)
		return -1;
	name = v[i++].text;
	if (!strcmp(name, "double")) {
		if (!kw(v, n, i, "precision")) {
			*msg = "expected \"precision\" after \"double\"";
			return -1;
		}
		i++;
		ty.t = CNS_T_DOUBLE;
	} else if (!strcmp(name, "character") || !strcmp(name, "char")) {
		if (!kw(v, n, i, "varying")) {
			*msg = cns_arena_printf(
				arena, "type \"%s\" is not supported", name);
			*hint = "use varchar(n) or text";
			return -1;
		}
		i++;
		ty.t = CNS_T_VARCHAR;
	} else {
		for (int k = 0; k < NTYPES; k++)
			if (!strcmp(name, type_names[k].name)) {
				ty.t = type_names[k].t;
				break;
			}
		if (ty.t == CNS_T_UNKNOWN) {
			const char *cands[NTYPES + 2];
			const char *near;

			for (int k = 0; k < NTYPES; k++)
				cands[k] = type_names[k].name;
			cands[NTYPES] = "double precision";
			cands[NTYPES + 1] = NULL;
			near = xf_closest_name(name, cands, NTYPES + 1);
			*msg = cns_arena_printf(arena, "unknown type \"%s\"",
						name);
			if (near)
				*hint = cns_arena_printf(
					arena, "did you mean \"%s\"?", near);
			return -1;
		}
		if ((ty.t == CNS_T_TIMESTAMP || ty.t == CNS_T_TIME) &&
		    (kw(v, n, i, "with") || kw(v, n, i, "without"))) {
			bool with = kw(v, n, i, "with");

			if (!kw(v, n, i + 1, "time") ||
			    !kw(v, n, i + 2, "zone")) {
				*msg = cns_arena_printf(
					arena, "expected \"%s time zone\"",
					with ? "with" : "without");
				return -1;
			}
			i += 3;
			if (with && ty.t == CNS_T_TIME) {
				*msg = "type \"time with time zone\" is not "
				       "supported";
				*hint = "use timestamptz";
				return -1;
			}
			if (with)
				ty.t = CNS_T_TIMESTAMPTZ;
		}
	}
	if (i < n && v[i].k == T_LPAREN) {
		long a = -1, b = 0;
		bool two = false;

		if (ty.t != CNS_T_VARCHAR && ty.t != CNS_T_NUMERIC) {
			*msg = cns_arena_printf(
				arena,
				"type \"%s\" takes no length or "
				"precision",
				cns_type_name(ty.t));
			return -1;
		}
		if (i + 1 < n && v[i + 1].k == T_INT)
			a = strtol(v[i + 1].text, NULL, 10);
		if (a >= 0 && i + 3 < n && v[i + 2].k == T_COMMA &&
		    v[i + 3].k == T_INT) {
			b = strtol(v[i + 3].text, NULL, 10);
			two = true;
		}
		if (a < 0 || (two && ty.t != CNS_T_NUMERIC) ||
		    !(i + (two ? 4 : 2) < n &&
		      v[i + (two ? 4 : 2)].k == T_RPAREN)) {
			*msg = ty.t == CNS_T_VARCHAR
				       ? "expected varchar(length)"
				       : "expected numeric(precision) or "
					 "numeric(precision, scale)";
			return -1;
		}
		i += two ? 5 : 3;
		if (ty.t == CNS_T_VARCHAR) {
			if (a < 1 || a > 10485760) {
				*msg = "length for type varchar must be "
				       "between 1 and 10485760";
				return -1;
			}
			ty.p = (int)a;
		} else {
			if (a < 1 || a > DEC_MAX_DIGITS) {
				*msg = cns_arena_printf(
					arena,
					"numeric precision %ld must be between "
					"1 and %d",
					a, DEC_MAX_DIGITS);
				return -1;
			}
			if (b < 0 || b > a) {
				*msg = cns_arena_printf(
					arena,
					"numeric scale %ld must be between 0 "
					"and precision %ld",
					b, a);
				return -1;
			}
			ty.p = (int)a;
			ty.s = (int)b;
		}
	}
	*ip = i;
	*out = ty;
	if (sql)
		*sql = cns_arena_strdup(arena,
					xf_xtype_name(ty, buf, sizeof(buf)));
	return 0;
}

bool xf_cast_possible(struct xtype from, struct xtype to)
{
	enum cns_type f = from.t, t = to.t;

	if (f == CNS_T_UNKNOWN || from.untyped || xf_type_is_stringish(f) ||
	    xf_type_is_stringish(t) || f == t)
		return true;
	if (xf_type_is_number(f) && xf_type_is_number(t))
		return true;
	if ((f == CNS_T_BOOLEAN && xf_type_is_int(t)) ||
	    (xf_type_is_int(f) && t == CNS_T_BOOLEAN))
		return true;
	switch (f) {
	case CNS_T_DATE: return t == CNS_T_TIMESTAMP || t == CNS_T_TIMESTAMPTZ;
	case CNS_T_TIMESTAMP:
	case CNS_T_TIMESTAMPTZ:
		return t == CNS_T_DATE || t == CNS_T_TIME ||
		       t == CNS_T_TIMESTAMP || t == CNS_T_TIMESTAMPTZ;
	case CNS_T_JSON:
	case CNS_T_JSONB: return t == CNS_T_JSON || t == CNS_T_JSONB;
	case CNS_T_UNKNOWN:
	case CNS_T_TEXT:
	case CNS_T_VARCHAR:
	case CNS_T_SMALLINT:
	case CNS_T_INTEGER:
	case CNS_T_BIGINT:
	case CNS_T_NUMERIC:
	case CNS_T_REAL:
	case CNS_T_DOUBLE:
	case CNS_T_BOOLEAN:
	case CNS_T_TIME:
	case CNS_T_UUID:
	case CNS_T_BYTEA: break;
	}
	return false;
}

/* ---- locales: fixed ones, never the process locale ---- */

static locale_t c_numeric, utf8_ctype;
static pthread_once_t locales_once = PTHREAD_ONCE_INIT;

static void locales_init(void)
{
	static const char *const names[] = { "C.UTF-8", "C.utf8", "en_US.UTF-8",
					     NULL };

	c_numeric = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	for (int i = 0; names[i] && !utf8_ctype; i++)
		utf8_ctype = newlocale(LC_CTYPE_MASK, names[i], (locale_t)0);
}

locale_t xf_utf8_locale(void)
{
	pthread_once(&locales_once, locales_init);
	return utf8_ctype;
}

/* ---- UTF-8 ---- */

static int toupper_ascii(int c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

static int tolower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

size_t xf_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len;
	uint32_t c;

	if (n == 0) {
		*cp = 0;
		return 0;
	}
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		c = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		c = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		goto bad;
	}
	if (len > n)
		goto bad;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xC0) != 0x80)
			goto bad;
		c = (c << 6) | (s[k] & 0x3F);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		goto bad;
	*cp = c;
	return len;
bad:
	/* A bad byte stands for itself, as one character. */
	*cp = 0xFFFD;
	return 1;
}

size_t xf_utf8_step(const char *s, size_t n)
{
	uint32_t cp;

	if (n && (unsigned char)s[0] < 0x80)
		return 1;
	return xf_utf8_decode(s, n, &cp);
}

size_t xf_utf8_len(const char *s, size_t n)
{
	size_t count = 0, i = 0;

	while (i < n) {
		if ((unsigned char)s[i] < 0x80)
			i++;
		else
			i += xf_utf8_step(s + i, n - i);
		count++;
	}
	return count;
}

size_t xf_utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t xf_utf8_case(const char *s, size_t n, bool upper, char *dst)
{
	size_t i = 0, o = 0;

	pthread_once(&locales_once, locales_init);
	while (i < n) {
		unsigned char b = (unsigned char)s[i];
		uint32_t cp, m;
		size_t k;

		if (b < 0x80) {
			dst[o++] = (char)(upper ? toupper_ascii(b)
						: tolower_ascii(b));
			i++;
			continue;
		}
		k = xf_utf8_decode(s + i, n - i, &cp);
		if (cp == 0xFFFD && k == 1) {
			dst[o++] = s[i++]; /* bad byte: kept as it is */
			continue;
		}
		m = cp;
		if (utf8_ctype)
			m = (uint32_t)(upper ? towupper_l((wint_t)cp,
							  utf8_ctype)
					     : towlower_l((wint_t)cp,
							  utf8_ctype));
		/* k >= 2 here and a character takes at most 4 bytes, so the
		 * result never exceeds twice the input: dst has room */
		o += xf_utf8_encode(m, dst + o);
		i += k;
	}
	return o;
}

int xf_check_text(struct ectx *c, const char *s, size_t n)
{
	size_t i = 0;

	/* eight bytes at a time while they are ASCII and not zero */
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if ((w & UINT64_C(0x8080808080808080)) ||
		    ((w - UINT64_C(0x0101010101010101)) & ~w &
		     UINT64_C(0x8080808080808080)))
			break;
	}
	for (; i < n; i++) {
		unsigned char b = (unsigned char)s[i];

		if (b == 0)
			return xf_ev_fail(c,
					  "text contains a zero byte at byte "
					  "%zu",
					  i + 1);
		if (b >= 0x80) {
			long bad = cns_utf8_invalid_at(s + i, n - i);

			if (bad >= 0)
				return xf_ev_fail(c,
						  "invalid UTF-8 at byte %zu",
						  i + (size_t)bad + 1);
			if (memchr(s + i, 0, n - i))
				return xf_ev_fail(c, "text contains a zero "
						     "byte");
			return 0;
		}
	}
	return 0;
}

/* ---- numbers ---- */

static void trim_space(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static bool int_in_range(enum cns_type t, int64_t v)
{
	switch (t) {
	case CNS_T_SMALLINT: return v >= INT16_MIN && v <= INT16_MAX;
	case CNS_T_INTEGER: return v >= INT32_MIN && v <= INT32_MAX;
	default: return true;
	}
}

static int out_of_range(struct ectx *c, const char *s, size_t n,
			struct xtype ty)
{
	char tn[48];

	return xf_ev_fail(c, "value \"%s\" is out of range for %s",
			  xf_ev_quote(c, s, n),
			  xf_xtype_name(ty, tn, sizeof(tn)));
}

static int invalid(struct ectx *c, const char *s, size_t n, struct xtype ty)
{
	return xf_ev_fail(c, "invalid %s \"%s\"", cns_type_name(ty.t),
			  xf_ev_quote(c, s, n));
}

static int parse_int(struct ectx *c, const char *s0, size_t n0, struct xtype ty,
		     int64_t *out)
{
	const char *s = s0;
	size_t n = n0, i = 0;
	bool neg = false;
	uint64_t v = 0, lim;

	trim_space(&s, &n);
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == n)
		return invalid(c, s0, n0, ty);
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		unsigned d;

		if (!isdigit((unsigned char)s[i]))
			return invalid(c, s0, n0, ty);
		d = (unsigned)(s[i] - '0');
		if (v > (lim - d) / 10) {
			/* keep scanning: a letter later makes it invalid */
			for (; i < n; i++)
				if (!isdigit((unsigned char)s[i]))
					return invalid(c, s0, n0, ty);
			return out_of_range(c, s0, n0, ty);
		}
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	if (!int_in_range(ty.t, *out))
		return out_of_range(c, s0, n0, ty);
	return 0;
}

static int numeric_typmod(struct ectx *c, const char *s, uint32_t n,
			  struct xtype ty, struct xval *out)
{
	int k = xf_dec_special(s, n);

	if (ty.p == 0 || k == DEC_NAN) {
		out->s = s;
		out->n = n;
		return 0;
	}
	if (k != DEC_FINITE) /* numeric(p,s) cannot hold an infinity */
		return out_of_range(c, s, n, ty);
	if (xf_dec_scale(s, n) != ty.s)
		xf_dec_round(c->scratch, s, n, ty.s, &out->s, &out->n);
	else {
		out->s = s;
		out->n = n;
	}
	if (xf_dec_intlen(out->s, out->n) > ty.p - ty.s)
		return out_of_range(c, s, n, ty);
	return 0;
}

/* PostgreSQL's float4in and float8in: blanks around the value, what
 * the C library's strtof or strtod reads in the C locale (which takes
 * hexadecimal too), the words NaN, Infinity and inf in any case with a
 * sign, and out of range only what overflows or underflows to zero, not
 * a subnormal number such as 1e-45 for real. */
static int parse_double(struct ectx *c, const char *s0, size_t n0,
			struct xtype ty, double *out)
{
	static const struct {
		const char *w;
		double v;
	} words[] = { { "NaN", NAN },
		      { "Infinity", INFINITY },
		      { "+Infinity", INFINITY },
		      { "-Infinity", -INFINITY },
		      { "inf", INFINITY },
		      { "+inf", INFINITY },
		      { "-inf", -INFINITY } };
	const char *s = s0;
	size_t n = n0, i;
	char small[128], *buf = small, *end;
	double d;
	int saved;

	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	if (n == 0 || memchr(s, '\0', n))
		return invalid(c, s0, n0, ty);
	/* strtod needs a terminated copy; a long one goes to the arena */
	if (n < sizeof(small)) {
		memcpy(small, s, n);
		small[n] = '\0';
	} else {
		buf = cns_arena_strndup(c->scratch, s, n);
	}
	pthread_once(&locales_once, locales_init);
	errno = 0;
	if (ty.t == CNS_T_REAL)
		d = strtof_l(buf, &end, c_numeric);
	else
		d = strtod_l(buf, &end, c_numeric);
	saved = errno;
	if (end == buf || saved != 0) {
		bool word = false;

		for (i = 0; i < sizeof(words) / sizeof(*words) && !word; i++)
			if (!strncasecmp(buf, words[i].w, strlen(words[i].w))) {
				d = words[i].v;
				end = buf + strlen(words[i].w);
				word = true;
			}
		if (!word && saved == ERANGE) {
			if (d == 0 || isinf(d))
				return out_of_range(c, s0, n0, ty);
		} else if (!word) {
			return invalid(c, s0, n0, ty);
		}
	}
	while (*end && isspace((unsigned char)*end))
		end++;
	if (*end)
		return invalid(c, s0, n0, ty);
	*out = d;
	return 0;
}

int xf_double_text(double d, bool real, char *buf)
{
	if (isnan(d))
		return (int)strlen(strcpy(buf, "NaN"));
	if (isinf(d))
		return (int)strlen(
			strcpy(buf, d > 0 ? "Infinity" : "-Infinity"));
	pthread_once(&locales_once, locales_init);
	{
		locale_t old = uselocale(c_numeric);
		int lo = real ? 6 : 15, hi = real ? 9 : 17, len = 0;

		/* From lo digits up the first text that reads back is the
		 * shortest, as PostgreSQL prints, except for a subnormal
		 * number, which has fewer digits of precision (1e-45) */
		if (d != 0 && fabs(d) < (real ? FLT_MIN : DBL_MIN))
			lo = 1;

		for (int prec = lo; prec <= hi; prec++) {
			len = snprintf(buf, 40, "%.*g", prec, d);
			if (real ? (float)strtod(buf, NULL) == (float)d
				 : strtod(buf, NULL) == d)
				break;
		}
		uselocale(old);
		return len;
	}
}

double xf_text_to_double_c(const char *buf)
{
	pthread_once(&locales_once, locales_init);
	return strtod_l(buf, NULL, c_numeric);
}

/* PostgreSQL's parse_bool: any prefix of true, false, yes or no, on and
 * off from two letters, 1 and 0, case aside, blanks around. */
static int parse_bool(struct ectx *c, const char *s0, size_t n0,
		      struct xtype ty, int64_t *out)
{
	const char *s = s0;
	size_t n = n0;
	int v = -1;

	trim_space(&s, &n);
	if (n == 0)
		return invalid(c, s0, n0, ty);
	switch (*s) {
	case 't':
	case 'T':
		if (n <= 4 && !strncasecmp(s, "true", n))
			v = 1;
		break;
	case 'f':
	case 'F':
		if (n <= 5 && !strncasecmp(s, "false", n))
			v = 0;
		break;
	case 'y':
	case 'Y':
		if (n <= 3 && !strncasecmp(s, "yes", n))
			v = 1;
		break;
	case 'n':
	case 'N':
		if (n <= 2 && !strncasecmp(s, "no", n))
			v = 0;
		break;
	case 'o':
	case 'O':
		/* "o" alone could be either */
		if (n == 2 && !strncasecmp(s, "on", n))
			v = 1;
		else if (n >= 2 && n <= 3 && !strncasecmp(s, "off", n))
			v = 0;
		break;
	case '1':
		if (n == 1)
			v = 1;
		break;
	case '0':
		if (n == 1)
			v = 0;
		break;
	}
	if (v < 0)
		return invalid(c, s0, n0, ty);
	*out = v;
	return 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int parse_uuid(struct ectx *c, const char *s0, size_t n0,
		      struct xtype ty, struct xval *out)
{
	static const int dash_after[] = { 8, 12, 16, 20 };
	char *o = cns_arena_alloc(c->scratch, 37);
	const char *s = s0;
	size_t n = n0, i = 0;
	int digits = 0, k = 0;
	bool brace = false;

	/* PostgreSQL takes no blanks around a uuid */
	if (n && s[0] == '{') {
		if (s[n - 1] != '}')
			return invalid(c, s0, n0, ty);
		brace = true;
		s++;
		n -= 2;
	}
	(void)brace;
	for (i = 0; i < n; i++) {
		int h = hexval((unsigned char)s[i]);

		if (s[i] == '-' && digits && digits % 4 == 0 && i + 1 < n &&
		    s[i + 1] != '-')
			continue;
		if (h < 0 || digits == 32)
			return invalid(c, s0, n0, ty);
		if (k < 4 && digits == dash_after[k]) {
			*o++ = '-';
			k++;
		}
		*o++ = "0123456789abcdef"[h];
		digits++;
	}
	if (digits != 32)
		return invalid(c, s0, n0, ty);
	out->s = o - 36;
	out->n = 36;
	return 0;
}

static int parse_bytea(struct ectx *c, const char *s, size_t n, struct xtype ty,
		       struct xval *out)
{
	char *o;
	size_t k = 0;

	if (n >= 2 && s[0] == '\\' && s[1] == 'x') {
		o = cns_arena_alloc(c->scratch, n + 1);
		o[k++] = '\\';
		o[k++] = 'x';
		for (size_t i = 2; i < n; i++) {
			int h1, h2;

			if (isspace((unsigned char)s[i]))
				continue;
			h1 = hexval((unsigned char)s[i]);
			h2 = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
			if (h1 < 0 || h2 < 0)
				return invalid(c, s, n, ty);
			o[k++] = "0123456789abcdef"[h1];
			o[k++] = "0123456789abcdef"[h2];
			i++;
		}
	} else {
		/* PostgreSQL's escape format: bytes as they are, "\\" for a
		 * backslash, "\ooo" in octal. */
		o = cns_arena_alloc(c->scratch, 2 * n + 3);
		o[k++] = '\\';
		o[k++] = 'x';
		for (size_t i = 0; i < n; i++) {
			unsigned v = (unsigned char)s[i];

			if (s[i] == '\\') {
				if (i + 1 < n && s[i + 1] == '\\') {
					i++;
				} else if (i + 3 < n && s[i + 1] >= '0' &&
					   s[i + 1] <= '3' && s[i + 2] >= '0' &&
					   s[i + 2] <= '7' && s[i + 3] >= '0' &&
					   s[i + 3] <= '7') {
					v = (unsigned)((s[i + 1] - '0') * 64 +
						       (s[i + 2] - '0') * 8 +
						       (s[i + 3] - '0'));
					i += 3;
				} else {
					return invalid(c, s, n, ty);
				}
			}
			o[k++] = "0123456789abcdef"[v >> 4];
			o[k++] = "0123456789abcdef"[v & 15];
		}
	}
	out->s = o;
	out->n = (uint32_t)k;
	return 0;
}

/* varchar(n) holds n characters; as in PostgreSQL, a longer value whose
 * characters past the n-th are all spaces is cut to n (the SQL
 * standard's rule), any other is refused.  *n is the length kept. */
static int varchar_check(struct ectx *c, const char *s, size_t *n,
			 struct xtype ty)
{
	size_t len, at = 0;

	if (ty.t != CNS_T_VARCHAR || ty.p == 0 || *n <= (size_t)ty.p)
		return 0;
	len = xf_utf8_len(s, *n);
	if (len <= (size_t)ty.p)
		return 0;
	for (int k = 0; k < ty.p; k++)
		at += xf_utf8_step(s + at, *n - at);
	for (size_t i = at; i < *n; i++)
		if (s[i] != ' ')
			return xf_ev_fail(c,
					  "value too long for varchar(%d) "
					  "(%zu characters)",
					  ty.p, len);
	*n = at;
	return 0;
}

int xf_parse_value(struct ectx *c, const char *s, size_t n, struct xtype ty,
		   struct xval *out)
{
	const char *why;

	out->null = false;
	switch (ty.t) {
	case CNS_T_UNKNOWN:
	case CNS_T_TEXT:
	case CNS_T_VARCHAR:
		if (xf_check_text(c, s, n) < 0 ||
		    varchar_check(c, s, &n, ty) < 0)
			return -1;
		out->s = s;
		out->n = (uint32_t)n;
		return 0;
	case CNS_T_SMALLINT:
	case CNS_T_INTEGER:
	case CNS_T_BIGINT: return parse_int(c, s, n, ty, &out->i);
	case CNS_T_NUMERIC: {
		const char *d;
		uint32_t dn;

		if (xf_dec_parse(c->scratch, s, n, &d, &dn) < 0)
			return invalid(c, s, n, ty);
		return numeric_typmod(c, d, dn, ty, out);
	}
	case CNS_T_REAL:
	case CNS_T_DOUBLE: return parse_double(c, s, n, ty, &out->d);
	case CNS_T_BOOLEAN: return parse_bool(c, s, n, ty, &out->i);
	case CNS_T_DATE:
	case CNS_T_TIME:
	case CNS_T_TIMESTAMP:
	case CNS_T_TIMESTAMPTZ:
		return xf_parse_datetime(c, s, n, ty.t, &out->i);
	case CNS_T_UUID: return parse_uuid(c, s, n, ty, out);
	case CNS_T_JSON:
	case CNS_T_JSONB:
		if (xf_check_text(c, s, n) < 0)
			return -1;
		if ((why = xf_json_invalid(s, n)) != NULL)
			return xf_ev_fail(c, "invalid %s \"%s\": %s",
					  cns_type_name(ty.t),
					  xf_ev_quote(c, s, n), why);
		out->s = s;
		out->n = (uint32_t)n;
		return 0;
	case CNS_T_BYTEA: return parse_bytea(c, s, n, ty, out);
	}
	return invalid(c, s, n, ty);
}

static int fmt_int(int64_t v, char *buf)
{
	char tmp[24];
	int k = 0, len = 0;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[k++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		buf[len++] = '-';
	while (k)
		buf[len++] = tmp[--k];
	buf[len] = '\0';
	return len;
}

int xf_value_text(struct ectx *c, const struct xval *v, struct xtype ty,
		  char *buf, const char **s, uint32_t *n)
{
	int len;

	switch (ty.t) {
	case CNS_T_UNKNOWN:
	case CNS_T_TEXT:
	case CNS_T_VARCHAR:
	case CNS_T_NUMERIC:
	case CNS_T_UUID:
	case CNS_T_JSON:
	case CNS_T_JSONB:
	case CNS_T_BYTEA:
		*s = v->s;
		*n = v->n;
		return 0;
	case CNS_T_SMALLINT:
	case CNS_T_INTEGER:
	case CNS_T_BIGINT: len = fmt_int(v->i, buf); break;
	case CNS_T_BOOLEAN:
		len = (int)strlen(strcpy(buf, v->i ? "true" : "false"));
		break;
	case CNS_T_REAL:
	case CNS_T_DOUBLE:
		len = xf_double_text(v->d, ty.t == CNS_T_REAL, buf);
		break;
	case CNS_T_DATE: len = xf_fmt_date(v->i, buf); break;
	case CNS_T_TIME: len = xf_fmt_time(v->i, buf); break;
	case CNS_T_TIMESTAMP: len = xf_fmt_timestamp(v->i, buf); break;
	case CNS_T_TIMESTAMPTZ: len = xf_fmt_timestamptz(v->i, buf); break;
	default: len = 0; break;
	}
	(void)c;
	*s = buf;
	*n = (uint32_t)len;
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int xf_cast_value(struct ectx *c, const struct xval *v, struct xtype from,
		  struct xtype to, struct xval *out)
{
	enum cns_type f = from.t, t = to.t;
	char buf[64];
	const char *s;
	uint32_t n;

	memset(out, 0, sizeof(*out));
	if (v->null || f == CNS_T_UNKNOWN) {
		out->null = true;
		return 0;
	}
	/* Raw text and typed text are parsed (typed text needs no new
	 * UTF-8 check: it was valid when it became text). */
	if (from.untyped || xf_type_is_stringish(f)) {
		if (xf_type_is_stringish(t) && !from.untyped) {
			size_t len = v->n;

			if (varchar_check(c, v->s, &len, to) < 0)
				return -1;
			out->s = v->s;
			out->n = (uint32_t)len;
			return 0;
		}
		return xf_parse_value(c, v->s, v->n, to, out);
	}
	if (xf_type_is_stringish(t)) {
		size_t len;

		xf_value_text(c, v, from, buf, &s, &n);
		len = n;
		if (varchar_check(c, s, &len, to) < 0)
			return -1;
		n = (uint32_t)len;
		if (s == buf)
			s = cns_arena_strndup(c->scratch, buf, n);
		out->s = s;
		out->n = n;
		return 0;
	}
	if (f == t && f != CNS_T_NUMERIC) {
		*out = *v;
		return 0;
	}
	switch (t) {
	case CNS_T_SMALLINT:
	case CNS_T_INTEGER:
	case CNS_T_BIGINT:
		if (xf_type_is_int(f) || f == CNS_T_BOOLEAN) {
			out->i = v->i;
		} else if (f == CNS_T_NUMERIC) {
			const char *r;
			uint32_t rn;

			xf_dec_round(c->scratch, v->s, v->n, 0, &r, &rn);
			if (xf_dec_to_int64(r, rn, &out->i) < 0)
				return out_of_range(c, v->s, v->n, to);
		} else if (f == CNS_T_REAL || f == CNS_T_DOUBLE) {
			double d = rint(v->d);

			if (!(d >= -9223372036854775808.0 &&
			      d < 9223372036854775808.0)) {
				xf_double_text(v->d, f == CNS_T_REAL, buf);
				return out_of_range(c, buf, strlen(buf), to);
			}
			out->i = (int64_t)d;
		} else {
			break;
		}
		if (!int_in_range(t, out->i)) {
			xf_value_text(c, v, from, buf, &s, &n);
			return out_of_range(c, s, n, to);
		}
		return 0;
	case CNS_T_NUMERIC:
		if (xf_type_is_int(f)) {
			xf_dec_from_int64(c->scratch, v->i, &s, &n);
		} else if (f == CNS_T_NUMERIC) {
			s = v->s;
			n = v->n;
		} else if (f == CNS_T_REAL || f == CNS_T_DOUBLE) {
			if (f == CNS_T_REAL && isfinite(v->d)) {
				int len = xf_double_text(v->d, true, buf);

				if (xf_dec_parse(c->scratch,
						 cns_arena_strndup(c->scratch,
								   buf,
								   (size_t)len),
						 (size_t)len, &s, &n) < 0)
					return invalid(c, buf, (size_t)len, to);
			} else if (xf_dec_from_double(c->scratch, v->d, &s,
						      &n) < 0) {
				return out_of_range(c, "", 0, to);
			}
		} else {
			break;
		}
		return numeric_typmod(c, s, n, to, out);
	case CNS_T_REAL:
	case CNS_T_DOUBLE:
		if (xf_type_is_int(f))
			out->d = (double)v->i;
		else if (f == CNS_T_NUMERIC)
			out->d = xf_dec_to_double(v->s, v->n);
		else if (f == CNS_T_REAL || f == CNS_T_DOUBLE)
			out->d = v->d;
		else
			break;
		if (t == CNS_T_REAL) {
			/* PostgreSQL's float8 to float4: out of range when
			 * rounding to float overflows or underflows to 0 */
			float r = (float)out->d;

			if ((isinf(r) && !isinf(out->d)) ||
			    (r == 0 && out->d != 0)) {
				xf_value_text(c, v, from, buf, &s, &n);
				return out_of_range(c, s, n, to);
			}
			out->d = r;
		} else if (isinf(out->d) && f == CNS_T_NUMERIC &&
			   xf_dec_special(v->s, v->n) == DEC_FINITE) {
			return out_of_range(c, v->s, v->n, to);
		}
		return 0;
	case CNS_T_BOOLEAN:
		if (xf_type_is_int(f)) {
			out->i = v->i != 0;
			return 0;
		}
		break;
	case CNS_T_DATE:
		if (f == CNS_T_TIMESTAMP || f == CNS_T_TIMESTAMPTZ) {
			if (!XF_DT_FINITE(v->i)) {
				out->i = v->i;
				return 0;
			}
			out->i = floor_div(
				f == CNS_T_TIMESTAMP
					? v->i
					: xf_tz_utc_to_local_us(c->tz, v->i),
				USECS_PER_DAY);
			return 0;
		}
		break;
	case CNS_T_TIME:
		if (f == CNS_T_TIMESTAMP || f == CNS_T_TIMESTAMPTZ) {
			int64_t l =
				f == CNS_T_TIMESTAMP
					? v->i
					: xf_tz_utc_to_local_us(c->tz, v->i);

			if (!XF_DT_FINITE(v->i))
				return xf_ev_fail(c, "timestamp out of range");
			out->i =
				l - floor_div(l, USECS_PER_DAY) * USECS_PER_DAY;
			return 0;
		}
		break;
	case CNS_T_TIMESTAMP:
	case CNS_T_TIMESTAMPTZ:
		if (f == CNS_T_DATE) {
			if (!XF_DT_FINITE(v->i)) {
				out->i = v->i;
				return 0;
			}
			if (v->i > XF_TS_MAX / USECS_PER_DAY)
				return xf_ev_fail(c, "date out of range for "
						     "timestamp");
			out->i = v->i * USECS_PER_DAY;
			if (t == CNS_T_TIMESTAMPTZ)
				out->i = xf_tz_local_to_utc_us(c->tz, out->i);
			return 0;
		}
		if (f == CNS_T_TIMESTAMPTZ) { /* to timestamp */
			out->i = xf_tz_utc_to_local_us(c->tz, v->i);
			return 0;
		}
		if (f == CNS_T_TIMESTAMP) { /* to timestamptz */
			out->i = xf_tz_local_to_utc_us(c->tz, v->i);
			return 0;
		}
		break;
	case CNS_T_JSON:
	case CNS_T_JSONB:
		if (f == CNS_T_JSON || f == CNS_T_JSONB) {
			*out = *v;
			return 0;
		}
		break;
	case CNS_T_UNKNOWN:
	case CNS_T_TEXT:
	case CNS_T_VARCHAR:
	case CNS_T_UUID:
	case CNS_T_BYTEA: break;
	}
	return xf_ev_fail(c, "cannot cast %s to %s", cns_type_name(f),
			  cns_type_name(t));
}

int xf_compare_values(enum cmpkind k, const struct xval *a,
		      const struct xval *b)
{
	switch (k) {
	case CMP_INT: return (a->i > b->i) - (a->i < b->i);
	case CMP_DBL:
		/* NaN sorts above every number and equals itself, as in
		 * PostgreSQL. */
		if (isnan(a->d) || isnan(b->d))
			return isnan(a->d) - isnan(b->d);
		return (a->d > b->d) - (a->d < b->d);
	case CMP_NUM: return xf_dec_cmp(a->s, a->n, b->s, b->n);
	case CMP_TEXT: {
		uint32_t m = a->n < b->n ? a->n : b->n;
		int r = m ? memcmp(a->s, b->s, m) : 0;

		if (r)
			return r < 0 ? -1 : 1;
		return (a->n > b->n) - (a->n < b->n);
	}
	}
	return 0;
}

/* ---- JSON syntax (RFC 8259), without building anything ---- */

struct jp {
	const char *s;
	size_t n, i;
	int depth;
	const char *why;
};

static void jp_ws(struct jp *j)
{
	while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' ||
			       j->s[j->i] == '\n' || j->s[j->i] == '\r'))
		j->i++;
}

static bool jp_value(struct jp *j);

static bool jp_string(struct jp *j)
{
	j->i++; /* opening quote */
	while (j->i < j->n) {
		unsigned char ch = (unsigned char)j->s[j->i++];

		if (ch == '"')
			return true;
		if (ch < 0x20) {
			j->why = "control character in a string";
			return false;
		}
		if (ch == '\\') {
			if (j->i >= j->n)
				break;
			ch = (unsigned char)j->s[j->i++];
			if (ch == 'u') {
				for (int k = 0; k < 4; k++)
					if (j->i >= j->n ||
					    hexval((unsigned char)j->s[j->i++]) <
						    0) {
						j->why = "bad \\u escape";
						return false;
					}
			} else if (!strchr("\"\\/bfnrt", ch)) {
				j->why = "bad escape in a string";
				return false;
			}
		}
	}
	j->why = "unterminated string";
	return false;
}

static bool jp_number(struct jp *j)
{
	size_t st = j->i;

	if (j->s[j->i] == '-')
		j->i++;
	if (j->i < j->n && j->s[j->i] == '0')
		j->i++;
	else if (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
		while (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
			j->i++;
	else
		goto bad;
	if (j->i < j->n && j->s[j->i] == '.') {
		j->i++;
		if (!(j->i < j->n && isdigit((unsigned char)j->s[j->i])))
			goto bad;
		while (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
			j->i++;
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if (!(j->i < j->n && isdigit((unsigned char)j->s[j->i])))
			goto bad;
		while (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
			j->i++;
	}
	return true;
bad:
	(void)st;
	j->why = "bad number";
	return false;
}

static bool jp_lit(struct jp *j, const char *w)
{
	size_t l = strlen(w);

	if (j->n - j->i >= l && !memcmp(j->s + j->i, w, l)) {
		j->i += l;
		return true;
	}
	j->why = "unexpected character";
	return false;
}

static bool jp_container(struct jp *j, char close)
{
	if (++j->depth > 1000) {
		j->why = "nested too deeply";
		return false;
	}
	j->i++;
	jp_ws(j);
	if (j->i < j->n && j->s[j->i] == close) {
		j->i++;
		j->depth--;
		return true;
	}
	for (;;) {
		jp_ws(j);
		if (close == '}') {
			if (!(j->i < j->n && j->s[j->i] == '"')) {
				j->why = "expected a member name";
				return false;
			}
			if (!jp_string(j))
				return false;
			jp_ws(j);
			if (!(j->i < j->n && j->s[j->i] == ':')) {
				j->why = "expected \":\"";
				return false;
			}
			j->i++;
		}
		if (!jp_value(j))
			return false;
		jp_ws(j);
		if (j->i < j->n && j->s[j->i] == ',') {
			j->i++;
			continue;
		}
		if (j->i < j->n && j->s[j->i] == close) {
			j->i++;
			j->depth--;
			return true;
		}
		j->why = close == '}' ? "expected \",\" or \"}\""
				      : "expected \",\" or \"]\"";
		return false;
	}
}

static bool jp_value(struct jp *j)
{
	jp_ws(j);
	if (j->i >= j->n) {
		j->why = "unexpected end";
		return false;
	}
	switch (j->s[j->i]) {
	case '{': return jp_container(j, '}');
	case '[': return jp_container(j, ']');
	case '"': return jp_string(j);
	case 't': return jp_lit(j, "true");
	case 'f': return jp_lit(j, "false");
	case 'n': return jp_lit(j, "null");
	default:
		if (j->s[j->i] == '-' || isdigit((unsigned char)j->s[j->i]))
			return jp_number(j);
		j->why = "unexpected character";
		return false;
	}
}

const char *xf_json_invalid(const char *s, size_t n)
{
	struct jp j = { s, n, 0, 0, NULL };

	if (!jp_value(&j))
		return j.why;
	jp_ws(&j);
	if (j.i != j.n)
		return "unexpected text after the value";
	return NULL;
}
