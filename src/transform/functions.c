/*
 * functions.c - the built-in functions of the transform language.
 *
 * Each function has a check step (types its arguments, inserting casts,
 * and prepares what can be prepared once: regular expressions, date
 * formats, lookup tables) and an eval step that runs per row.  Strict
 * functions return NULL when an argument is NULL; coalesce, concat,
 * greatest, least and nullif have their own NULL rules, listed in
 * consolidate-transforms(7).  Results that are substrings of an argument
 * point into it; new strings go to the scratch arena.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Evaluates every argument; *anynull when one is NULL. */
static int args_eval(const struct node *n, struct ectx *c, struct xval *v,
		     bool *anynull)
{
	*anynull = false;
	for (int i = 0; i < n->nargs; i++) {
		if (n->args[i]->eval(n->args[i], c, &v[i]) < 0)
			return -1;
		if (v[i].null)
			*anynull = true;
	}
	return 0;
}

#define STRICT_ARGS(N)                                                         \
	struct xval v[N];                                                      \
	bool anynull;                                                          \
	if (args_eval(n, c, v, &anynull) < 0)                                  \
		return -1;                                                     \
	if (anynull) {                                                         \
		out->null = true;                                              \
		return 0;                                                      \
	}                                                                      \
	out->null = false

static void set_str(struct xval *out, const char *s, size_t n)
{
	out->null = false;
	out->s = s;
	out->n = (uint32_t)n;
}

static void all_text(struct checker *ck, struct node *n, struct xtype res)
{
	for (int i = 0; i < n->nargs; i++)
		xf_coerce_text(ck, &n->args[i]);
	n->ty = res;
}

/* ---- trim ---- */

/* Is the character at s (k bytes) one of the characters in set? */
static bool in_set(const char *s, size_t k, const struct xval *set)
{
	if (set->n == 1) /* the usual case: one ASCII character */
		return k == 1 && s[0] == set->s[0];
	for (size_t i = 0; i < set->n;) {
		size_t m = xf_utf8_step(set->s + i, set->n - i);

		if (m == k && !memcmp(set->s + i, s, k))
			return true;
		i += m;
	}
	return false;
}

static int trim_common(const struct node *n, struct ectx *c, struct xval *out,
		       bool left, bool right)
{
	struct xval spaces = { " ", 1, false, 0, 0 };
	const struct xval *set = &spaces;
	size_t a = 0, b;
	STRICT_ARGS(2);

	if (n->nargs == 2)
		set = &v[1];
	b = v[0].n;
	if (left)
		while (a < b) {
			size_t k = xf_utf8_step(v[0].s + a, b - a);

			if (!in_set(v[0].s + a, k, set))
				break;
			a += k;
		}
	if (right)
		while (b > a) {
			/* back to the start of the last character */
			size_t st = b - 1;

			while (st > a &&
			       ((unsigned char)v[0].s[st] & 0xC0) == 0x80 &&
			       b - st < 4)
				st--;
			if (xf_utf8_step(v[0].s + st, b - st) != b - st)
				st = b - 1;
			if (!in_set(v[0].s + st, b - st, set))
				break;
			b = st;
		}
	set_str(out, v[0].s + a, b - a);
	return 0;
}

static int f_trim(const struct node *n, struct ectx *c, struct xval *out)
{
	return trim_common(n, c, out, true, true);
}

static int f_ltrim(const struct node *n, struct ectx *c, struct xval *out)
{
	return trim_common(n, c, out, true, false);
}

static int f_rtrim(const struct node *n, struct ectx *c, struct xval *out)
{
	return trim_common(n, c, out, false, true);
}

static void ck_trim(struct checker *ck, struct node *n)
{
	all_text(ck, n, xt(CNS_T_TEXT));
	n->eval = !strcmp(n->fn->name, "ltrim")   ? f_ltrim
		  : !strcmp(n->fn->name, "rtrim") ? f_rtrim
						  : f_trim;
}

/* ---- case, length, substr ---- */

static int f_case(const struct node *n, struct ectx *c, struct xval *out,
		  bool upper)
{
	char *o;
	STRICT_ARGS(1);

	o = cns_arena_alloc(c->scratch, 2 * (size_t)v[0].n + 4);
	set_str(out, o, xf_utf8_case(v[0].s, v[0].n, upper, o));
	return 0;
}

static int f_lower(const struct node *n, struct ectx *c, struct xval *out)
{
	return f_case(n, c, out, false);
}

static int f_upper(const struct node *n, struct ectx *c, struct xval *out)
{
	return f_case(n, c, out, true);
}

static void ck_case(struct checker *ck, struct node *n)
{
	all_text(ck, n, xt(CNS_T_TEXT));
	n->eval = !strcmp(n->fn->name, "upper") ? f_upper : f_lower;
}

static int f_length(const struct node *n, struct ectx *c, struct xval *out)
{
	STRICT_ARGS(1);
	out->i = (int64_t)xf_utf8_len(v[0].s, v[0].n);
	return 0;
}

static void ck_length(struct checker *ck, struct node *n)
{
	all_text(ck, n, xt(CNS_T_INTEGER));
	n->eval = f_length;
}

/* Byte offset of character number `ch` (0-based) in s, or n. */
static size_t char_offset(const char *s, size_t n, int64_t ch)
{
	size_t i = 0;

	while (ch > 0 && i < n) {
		i += xf_utf8_step(s + i, n - i);
		ch--;
	}
	return i;
}

static int f_substr(const struct node *n, struct ectx *c, struct xval *out)
{
	int64_t start, end;
	size_t a, b;
	STRICT_ARGS(3);

	/* SQL: characters start .. start+len-1, clipped to 1 .. length */
	start = v[1].i;
	if (n->nargs == 3) {
		if (v[2].i < 0)
			return xf_ev_fail(c, "negative substring length not "
					     "allowed");
		/* exclusive, 1-based; saturates instead of overflowing */
		if (__builtin_add_overflow(start, v[2].i, &end))
			end = INT64_MAX;
	} else {
		end = INT64_MAX;
	}
	if (start < 1)
		start = 1;
	if (end <= start) {
		set_str(out, v[0].s, 0);
		return 0;
	}
	a = char_offset(v[0].s, v[0].n, start - 1);
	b = end == INT64_MAX
		    ? v[0].n
		    : a + char_offset(v[0].s + a, v[0].n - a, end - start);
	set_str(out, v[0].s + a, b - a);
	return 0;
}

static void ck_substr(struct checker *ck, struct node *n)
{
	xf_coerce_text(ck, &n->args[0]);
	for (int i = 1; i < n->nargs; i++)
		xf_coerce(ck, &n->args[i], xt(CNS_T_BIGINT));
	n->ty = xt(CNS_T_TEXT);
	n->eval = f_substr;
}

/* ---- replace, split_part, lpad, rpad, concat ---- */

static int f_replace(const struct node *n, struct ectx *c, struct xval *out)
{
	/* The program's work buffer: no allocation per value. */
	struct cns_buf *b = &c->p->work;
	size_t i = 0;
	STRICT_ARGS(3);

	if (v[1].n == 0 || v[0].n < v[1].n) {
		*out = v[0];
		return 0;
	}
	cns_buf_reset(b);
	while (i < v[0].n) {
		if (i + v[1].n <= v[0].n &&
		    !memcmp(v[0].s + i, v[1].s, v[1].n)) {
			cns_buf_add(b, v[2].s, v[2].n);
			i += v[1].n;
		} else {
			cns_buf_addc(b, v[0].s[i++]);
		}
	}
	set_str(out,
		cns_arena_strndup(c->scratch, b->data ? b->data : "", b->len),
		b->len);
	return 0;
}

static void ck_replace(struct checker *ck, struct node *n)
{
	all_text(ck, n, xt(CNS_T_TEXT));
	n->eval = f_replace;
}

static const char *find_bytes(const char *s, size_t n, const char *p, size_t pn)
{
	return pn ? memmem(s, n, p, pn) : NULL;
}

static int f_split_part(const struct node *n, struct ectx *c, struct xval *out)
{
	const char *s, *end, *hit;
	int64_t field, count = 0;
	STRICT_ARGS(3);

	field = v[2].i;
	if (field == 0)
		return xf_ev_fail(c, "field position must not be zero");
	s = v[0].s;
	end = s + v[0].n;
	if (v[1].n == 0) {
		/* no delimiter: the whole string is field 1 (and -1) */
		if (field == 1 || field == -1)
			*out = v[0];
		else
			set_str(out, s, 0);
		return 0;
	}
	if (field < 0) {
		/* count the fields, then take field from the end */
		const char *p = s;

		count = 1;
		while ((hit = find_bytes(p, (size_t)(end - p), v[1].s,
					 v[1].n)) != NULL) {
			count++;
			p = hit + v[1].n;
		}
		field = count + field + 1;
		if (field < 1) {
			set_str(out, s, 0);
			return 0;
		}
	}
	for (int64_t k = 1;; k++) {
		hit = find_bytes(s, (size_t)(end - s), v[1].s, v[1].n);
		if (k == field) {
			set_str(out, s, (size_t)((hit ? hit : end) - s));
			return 0;
		}
		if (!hit) {
			set_str(out, s, 0);
			return 0;
		}
		s = hit + v[1].n;
	}
}

static void ck_split_part(struct checker *ck, struct node *n)
{
	xf_coerce_text(ck, &n->args[0]);
	xf_coerce_text(ck, &n->args[1]);
	xf_coerce(ck, &n->args[2], xt(CNS_T_INTEGER));
	n->ty = xt(CNS_T_TEXT);
	n->eval = f_split_part;
}

static int pad(const struct node *n, struct ectx *c, struct xval *out,
	       bool left)
{
	struct xval fill = { " ", 1, false, 0, 0 };
	size_t have, fill_chars, need, a;
	char *o;
	STRICT_ARGS(3);

	if (n->nargs == 3)
		fill = v[2];
	if (v[1].i <= 0) {
		set_str(out, v[0].s, 0);
		return 0;
	}
	if (v[1].i > 10 * 1024 * 1024)
		return xf_ev_fail(c, "requested length too large");
	have = xf_utf8_len(v[0].s, v[0].n);
	if (have >= (size_t)v[1].i) {
		/* longer than asked: cut on the right, as PostgreSQL */
		set_str(out, v[0].s, char_offset(v[0].s, v[0].n, v[1].i));
		return 0;
	}
	if (fill.n == 0) {
		*out = v[0];
		return 0;
	}
	need = (size_t)v[1].i - have;
	fill_chars = xf_utf8_len(fill.s, fill.n);
	o = cns_arena_alloc(c->scratch, v[0].n + need * 4 + 1);
	a = 0;
	if (!left) {
		memcpy(o, v[0].s, v[0].n);
		a = v[0].n;
	}
	for (size_t k = 0, fi = 0; k < need; k++) {
		size_t m = xf_utf8_step(fill.s + fi, fill.n - fi);

		memcpy(o + a, fill.s + fi, m);
		a += m;
		fi += m;
		if (fi >= fill.n)
			fi = 0;
	}
	(void)fill_chars;
	if (left) {
		memcpy(o + a, v[0].s, v[0].n);
		a += v[0].n;
	}
	set_str(out, o, a);
	return 0;
}

static int f_lpad(const struct node *n, struct ectx *c, struct xval *out)
{
	return pad(n, c, out, true);
}

static int f_rpad(const struct node *n, struct ectx *c, struct xval *out)
{
	return pad(n, c, out, false);
}

static void ck_pad(struct checker *ck, struct node *n)
{
	xf_coerce_text(ck, &n->args[0]);
	xf_coerce(ck, &n->args[1], xt(CNS_T_INTEGER));
	if (n->nargs == 3)
		xf_coerce_text(ck, &n->args[2]);
	n->ty = xt(CNS_T_TEXT);
	n->eval = n->fn->name[0] == 'l' ? f_lpad : f_rpad;
}

static int f_concat(const struct node *n, struct ectx *c, struct xval *out)
{
	size_t total = 0, at = 0;
	struct xval *v =
		cns_arena_alloc(c->scratch, (size_t)n->nargs * sizeof(*v));
	char *o;

	for (int i = 0; i < n->nargs; i++) {
		if (n->args[i]->eval(n->args[i], c, &v[i]) < 0)
			return -1;
		if (!v[i].null)
			total += v[i].n;
	}
	o = cns_arena_alloc(c->scratch, total + 1);
	for (int i = 0; i < n->nargs; i++)
		if (!v[i].null) {
			memcpy(o + at, v[i].s, v[i].n);
			at += v[i].n;
		}
	set_str(out, o, at);
	return 0;
}

static void ck_concat(struct checker *ck, struct node *n)
{
	all_text(ck, n, xt(CNS_T_TEXT));
	n->eval = f_concat;
}

/* ---- coalesce, nullif, greatest, least ---- */

static int f_coalesce(const struct node *n, struct ectx *c, struct xval *out)
{
	for (int i = 0; i < n->nargs; i++) {
		if (n->args[i]->eval(n->args[i], c, out) < 0)
			return -1;
		if (!out->null)
			return 0;
	}
	return 0;
}

/* One type for all arguments from `from` on; reports a mismatch. */
static bool unify_args(struct checker *ck, struct node *n, int from,
		       struct xtype *out)
{
	struct xtype t = XT_NULL;

	for (int i = from; i < n->nargs; i++) {
		struct xtype r;

		if (!xf_common_type(t, n->args[i]->ty, &r)) {
			char a[64], b[64];

			xf_check_report(ck, n->args[i], NULL,
					"%s types %s and %s cannot be matched",
					n->fn->name,
					t.untyped ? "text"
						  : xf_xtype_name(t, a,
								  sizeof(a)),
					n->args[i]->ty.untyped
						? "text"
						: xf_xtype_name(n->args[i]->ty,
								b, sizeof(b)));
			return false;
		}
		t = r;
	}
	for (int i = from; i < n->nargs; i++)
		xf_coerce(ck, &n->args[i], t);
	*out = t;
	return true;
}

static void ck_coalesce(struct checker *ck, struct node *n)
{
	struct xtype t = XT_UNTYPED;

	unify_args(ck, n, 0, &t);
	n->ty = t;
	n->eval = f_coalesce;
}

static enum cmpkind kind_of(struct xtype t)
{
	if (t.untyped || xf_type_rep(t.t) == REP_STR)
		return t.t == CNS_T_NUMERIC && !t.untyped ? CMP_NUM : CMP_TEXT;
	return xf_type_rep(t.t) == REP_DBL ? CMP_DBL : CMP_INT;
}

static int f_nullif(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval b;

	if (n->args[0]->eval(n->args[0], c, out) < 0 ||
	    n->args[1]->eval(n->args[1], c, &b) < 0)
		return -1;
	if (!out->null && !b.null && xf_compare_values(n->cmp, out, &b) == 0)
		out->null = true;
	return 0;
}

static void ck_nullif(struct checker *ck, struct node *n)
{
	struct xtype t = XT_UNTYPED;

	unify_args(ck, n, 0, &t);
	n->ty = t;
	n->cmp = kind_of(t);
	n->eval = f_nullif;
}

static int f_extreme(const struct node *n, struct ectx *c, struct xval *out,
		     int sign)
{
	struct xval v;

	out->null = true;
	for (int i = 0; i < n->nargs; i++) {
		if (n->args[i]->eval(n->args[i], c, &v) < 0)
			return -1;
		if (v.null)
			continue;
		if (out->null || xf_compare_values(n->cmp, &v, out) * sign > 0)
			*out = v;
	}
	return 0;
}

static int f_greatest(const struct node *n, struct ectx *c, struct xval *out)
{
	return f_extreme(n, c, out, 1);
}

static int f_least(const struct node *n, struct ectx *c, struct xval *out)
{
	return f_extreme(n, c, out, -1);
}

static void ck_extreme(struct checker *ck, struct node *n)
{
	struct xtype t = XT_UNTYPED;

	unify_args(ck, n, 0, &t);
	n->ty = t;
	n->cmp = kind_of(t);
	n->eval = n->fn->name[0] == 'g' ? f_greatest : f_least;
}

/* ---- numbers ---- */

/* Untyped and integer arguments of round etc. become numeric. */
static void number_arg(struct checker *ck, struct node *n, int i, bool keep_int)
{
	struct xtype t = n->args[i]->ty;

	if (t.untyped || t.t == CNS_T_UNKNOWN || xf_type_is_stringish(t.t) ||
	    (xf_type_is_int(t.t) && !keep_int))
		xf_coerce(ck, &n->args[i], xt(CNS_T_NUMERIC));
	else if (!xf_type_is_number(t.t)) {
		char b[64];

		xf_check_report(ck, n->args[i], NULL,
				"function \"%s\" needs a number, not %s",
				n->fn->name, xf_xtype_name(t, b, sizeof(b)));
		return;
	}
	if (n->args[i]->ty.t == CNS_T_NUMERIC && n->args[i]->ty.p) {
		/* work on the unconstrained value */
		n->args[i]->ty.p = n->args[i]->ty.s = 0;
	}
}

static int f_abs(const struct node *n, struct ectx *c, struct xval *out)
{
	STRICT_ARGS(1);
	*out = v[0];
	switch (xf_type_rep(n->ty.t)) {
	case REP_INT:
		if (v[0].i == INT64_MIN ||
		    (n->ty.t == CNS_T_INTEGER && v[0].i == INT32_MIN) ||
		    (n->ty.t == CNS_T_SMALLINT && v[0].i == INT16_MIN))
			return xf_ev_fail(c, "%s out of range",
					  cns_type_name(n->ty.t));
		out->i = v[0].i < 0 ? -v[0].i : v[0].i;
		break;
	case REP_DBL: out->d = fabs(v[0].d); break;
	case REP_STR:
		if (v[0].n && v[0].s[0] == '-') {
			out->s = v[0].s + 1;
			out->n = v[0].n - 1;
		}
		break;
	}
	return 0;
}

static void ck_abs(struct checker *ck, struct node *n)
{
	number_arg(ck, n, 0, true);
	n->ty = n->args[0]->ty;
	n->eval = f_abs;
}

static int f_round(const struct node *n, struct ectx *c, struct xval *out)
{
	STRICT_ARGS(2);
	if (n->ty.t == CNS_T_DOUBLE) {
		/* half away from zero, like numeric (PostgreSQL's
		 * round(double) rounds half to even) */
		out->d = round(v[0].d);
		return 0;
	}
	{
		int64_t s = n->nargs == 2 ? v[1].i : 0;

		if (s > DEC_MAX_DIGITS || s < -DEC_MAX_DIGITS)
			return xf_ev_fail(c, "rounding scale %lld out of range",
					  (long long)s);
		xf_dec_round(c->scratch, v[0].s, v[0].n, (int)s, &out->s,
			     &out->n);
	}
	return 0;
}

static void ck_round(struct checker *ck, struct node *n)
{
	enum cns_type t = n->args[0]->ty.t;

	if (n->nargs == 1 && !n->args[0]->ty.untyped &&
	    (t == CNS_T_DOUBLE || t == CNS_T_REAL)) {
		xf_coerce(ck, &n->args[0], xt(CNS_T_DOUBLE));
	} else {
		number_arg(ck, n, 0, false);
		xf_coerce(ck, &n->args[0], xt(CNS_T_NUMERIC));
	}
	if (n->nargs == 2)
		xf_coerce(ck, &n->args[1], xt(CNS_T_INTEGER));
	n->ty = n->args[0]->ty;
	n->eval = f_round;
}

static int f_floorceil(const struct node *n, struct ectx *c, struct xval *out)
{
	bool fl = n->fn->name[0] == 'f';
	STRICT_ARGS(1);

	*out = v[0];
	switch (xf_type_rep(n->ty.t)) {
	case REP_INT: break;
	case REP_DBL: out->d = fl ? floor(v[0].d) : ceil(v[0].d); break;
	case REP_STR:
		xf_dec_integral(c->scratch, v[0].s, v[0].n, fl ? 'f' : 'c',
				&out->s, &out->n);
		break;
	}
	return 0;
}

static void ck_floorceil(struct checker *ck, struct node *n)
{
	number_arg(ck, n, 0, true);
	n->ty = n->args[0]->ty;
	n->eval = f_floorceil;
}

/* ---- dates ---- */

static int f_todate(const struct node *n, struct ectx *c, struct xval *out)
{
	const struct dtformat *f = n->aux;
	int64_t us;
	bool utc = false;
	STRICT_ARGS(2);

	if (!f) {
		const char *why;

		f = xf_dtformat_compile(c->scratch, v[1].s, v[1].n, &why);
		if (!f)
			return xf_ev_fail(c, "%s", why);
	}
	if (xf_dtformat_parse(c, f, v[0].s, v[0].n, &us, &utc) < 0)
		return -1;
	if (n->ty.t == CNS_T_DATE) {
		if (utc)
			us = xf_tz_utc_to_local_us(c->tz, us);
		out->i = us / USECS_PER_DAY - (us % USECS_PER_DAY < 0);
	} else {
		out->i = utc ? us : xf_tz_local_to_utc_us(c->tz, us);
	}
	return 0;
}

static void ck_todate(struct checker *ck, struct node *n)
{
	struct node *fmt = n->args[1];

	all_text(ck, n,
		 xt(n->fn->name[3] == 'd' ? CNS_T_DATE : CNS_T_TIMESTAMPTZ));
	if (fmt->kind == N_LIT && !fmt->lit.null && fmt->ty.untyped) {
		const char *why = NULL;

		n->aux = xf_dtformat_compile(ck->arena, fmt->lit.s, fmt->lit.n,
					     &why);
		if (!n->aux)
			xf_check_report(ck, fmt, NULL, "%s", why);
	}
	n->eval = f_todate;
}

static int f_date_trunc(const struct node *n, struct ectx *c, struct xval *out)
{
	int field;
	STRICT_ARGS(2);

	if (n->aux) {
		field = (int)(intptr_t)n->aux - 1;
	} else {
		char buf[32];

		snprintf(buf, sizeof(buf), "%.*s", (int)v[0].n, v[0].s);
		if ((field = xf_date_trunc_field(buf)) < 0)
			return xf_ev_fail(c, "unknown date_trunc field \"%s\"",
					  xf_ev_quote(c, v[0].s, v[0].n));
	}
	if (n->ty.t == CNS_T_TIMESTAMPTZ)
		out->i = xf_tz_local_to_utc_us(
			c->tz, xf_date_trunc_us(field, xf_tz_utc_to_local_us(
							       c->tz, v[1].i)));
	else
		out->i = xf_date_trunc_us(field, v[1].i);
	return 0;
}

static void ck_date_trunc(struct checker *ck, struct node *n)
{
	struct node *f = n->args[0];
	struct xtype t = n->args[1]->ty;

	xf_coerce_text(ck, &n->args[0]);
	if (t.t != CNS_T_TIMESTAMPTZ)
		xf_coerce(ck, &n->args[1], xt(CNS_T_TIMESTAMP));
	n->ty = n->args[1]->ty;
	if (f->kind == N_LIT && f->ty.untyped && !f->lit.null) {
		int k = xf_date_trunc_field(f->lit.s);

		if (k < 0) {
			const char *near = xf_closest_name(
				f->lit.s, xf_date_trunc_fields(), 13);
			char hint[64];

			snprintf(hint, sizeof(hint), "did you mean \"%s\"?",
				 near ? near : "");
			xf_check_report(ck, f, near ? hint : NULL,
					"unknown date_trunc field \"%s\"",
					f->lit.s);
		}
		n->aux = (void *)(intptr_t)(k + 1);
	}
	n->eval = f_date_trunc;
}

static void ck_now(struct checker *ck, struct node *n)
{
	/* one value for the whole run: a literal */
	n->kind = N_LIT;
	n->lit.i = ck->t->run_start_us;
	n->lit.null = false;
	n->ty = xt(CNS_T_TIMESTAMPTZ);
	n->eval = xf_eval_lit;
	n->fn = xf_func_find("now");
}

/* ---- regular expressions ---- */

static int rx_flags(struct checker *ck, struct node *f, bool allow_g,
		    struct rxinfo *rx)
{
	for (uint32_t i = 0; i < f->lit.n; i++) {
		char ch = f->lit.s[i];

		if (ch == 'i')
			rx->cflags |= REG_ICASE;
		else if (ch == 'g' && allow_g)
			rx->global = true;
		else {
			xf_check_report(ck, f, NULL,
					"invalid regexp flag \"%c\"", ch);
			return -1;
		}
	}
	return 0;
}

/* A character that stands for itself inside brackets and is in the
 * same place in every collation: letters, digits and the punctuation
 * that has no meaning there. */
static bool set_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') ||
	       (ch && strchr(" _.,;:@#/!?&*+(){}|$%'\"<>=~", ch));
}

/* The kind of a range end: ranges go within digits, upper case or lower
 * case only, so that they mean the same in every locale. */
static int range_class(char ch)
{
	return ch >= '0' && ch <= '9'   ? 1
	       : ch >= 'A' && ch <= 'Z' ? 2
	       : ch >= 'a' && ch <= 'z' ? 3
					: 0;
}

/* Recognises the patterns that rxinfo.setrun describes; anything else
 * (flags i, classes, escapes, a literal ] or -, more after the bracket)
 * keeps glibc's matcher. */
static void rx_setrun(struct rxinfo *rx)
{
	const char *p = rx->pattern;

	rx->setrun = false;
	if (rx->cflags != REG_EXTENDED || *p++ != '[')
		return;
	memset(rx->set, 0, sizeof(rx->set));
	rx->negate = *p == '^';
	if (rx->negate)
		p++;
	if (*p == ']')
		return;
	while (*p != ']') {
		char lo = *p, hi = *p;

		if (!set_char(lo))
			return;
		if (p[1] == '-') {
			hi = p[2];
			if (!range_class(lo) ||
			    range_class(lo) != range_class(hi) || hi < lo)
				return;
			p += 2;
		}
		for (int ch = lo; ch <= hi; ch++)
			rx->set[ch] = 1;
		p++;
	}
	p++;
	rx->plus = *p == '+';
	if (rx->plus)
		p++;
	rx->setrun = *p == '\0';
}

static void ck_regexp(struct checker *ck, struct node *n)
{
	bool repl = !strcmp(n->fn->name, "regexp_replace");
	struct rxinfo *rx = cns_arena_zalloc(ck->arena, sizeof(*rx));
	struct node *pat = n->args[1];
	int flag_arg = repl ? 3 : 2;
	regex_t re;
	int rc;

	all_text(ck, n, xt(CNS_T_TEXT));
	rx->cflags = REG_EXTENDED;
	for (int i = 1; i < n->nargs; i++) {
		struct node *a = n->args[i];

		if (i == 2 && repl)
			continue; /* the replacement may be any text */
		if (a->kind != N_LIT || !a->ty.untyped || a->lit.null) {
			xf_check_report(
				ck, a,
				"patterns are compiled once, before the "
				"run",
				"the %s of %s must be a string literal",
				i == 1 ? "pattern" : "flags", n->fn->name);
			return;
		}
	}
	if (n->nargs > flag_arg &&
	    rx_flags(ck, n->args[flag_arg], repl, rx) < 0)
		return;
	rx->pattern = cns_arena_strndup(ck->arena, pat->lit.s, pat->lit.n);
	rc = xf_regcomp(&re, rx->pattern, rx->cflags);
	if (rc != 0) {
		char msg[128];

		regerror(rc, &re, msg, sizeof(msg));
		xf_check_report(ck, pat, NULL, "invalid regular expression: %s",
				msg);
		return;
	}
	regfree(&re);
	rx_setrun(rx);
	if (!rx->setrun) {
		struct rxnfa *nfa = cns_arena_alloc(ck->arena, sizeof(*nfa));

		if (xf_rxnfa_compile(nfa, rx->pattern, rx->cflags))
			rx->nfa = nfa;
	}
	n->aux = rx;
	xf_check_register_regex(ck, n);
}

int xf_regcomp(regex_t *re, const char *pattern, int cflags)
{
	locale_t loc = xf_utf8_locale(), old = (locale_t)0;
	int rc;

	if (loc)
		old = uselocale(loc);
	rc = regcomp(re, pattern, cflags);
	if (loc)
		uselocale(old);
	return rc;
}

bool xf_is_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* The compiled pattern to match subject s with: the C-locale one when
 * both are ASCII (*utf8 false), else the UTF-8 one. */
static const regex_t *pick_regex(const struct ectx *c, int slot, const char *s,
				 size_t n, bool *utf8)
{
	if (c->p->ascii_ok[slot] && xf_is_ascii(s, n)) {
		*utf8 = false;
		return &c->p->regex_ascii[slot];
	}
	*utf8 = true;
	return &c->p->regex[slot];
}

static int rx_exec(const regex_t *re, bool utf8, const char *s, size_t from,
		   size_t n, regmatch_t *m, int nm)
{
	locale_t loc = utf8 ? xf_utf8_locale() : (locale_t)0, old = (locale_t)0;
	int rc;

	/* the regex was compiled for UTF-8: match it under the same
	 * locale; REG_STARTEND bounds the text, which is not
	 * NUL-terminated */
	if (loc)
		old = uselocale(loc);
	m[0].rm_so = (regoff_t)from;
	m[0].rm_eo = (regoff_t)n;
	rc = regexec(re, s, (size_t)nm, m,
		     REG_STARTEND | (from > 0 ? REG_NOTBOL : 0));
	if (loc)
		uselocale(old);
	return rc;
}

/* Whether the character at s[0..n) is one a setrun pattern matches;
 * *len: its length.  -1 for a byte that is not UTF-8. */
static int setrun_member(const struct rxinfo *rx, const char *s, size_t n,
			 size_t *len)
{
	unsigned char b = (unsigned char)s[0];
	uint32_t cp;

	if (b < 0x80) {
		*len = 1;
		return rx->set[b] != rx->negate;
	}
	*len = xf_utf8_decode(s, n, &cp);
	if (*len == 1)
		return -1;
	return rx->negate;
}

/* The next match of a setrun pattern in s[from..n): 1 and [*so, *eo),
 * 0 when there is none, -1 when the text is not UTF-8 (glibc decides). */
static int setrun_next(const struct rxinfo *rx, const char *s, size_t from,
		       size_t n, size_t *so, size_t *eo)
{
	size_t i = from, k;
	int in = 0;

	while (i < n && (in = setrun_member(rx, s + i, n - i, &k)) == 0)
		i += k;
	if (in < 0)
		return -1;
	if (i >= n)
		return 0;
	*so = i;
	i += k;
	while (rx->plus && i < n &&
	       (in = setrun_member(rx, s + i, n - i, &k)) == 1)
		i += k;
	if (in < 0)
		return -1;
	*eo = i;
	return 1;
}

/* Appends the replacement text repl for match m[0] of s: \0 to \9 are
 * the match and its groups, \& the match, \x the character x. */
static void add_replacement(struct cns_buf *b, const struct xval *repl,
			    const char *s, const regmatch_t *m)
{
	for (uint32_t i = 0; i < repl->n; i++) {
		char ch = repl->s[i];

		if (ch == '\\' && i + 1 < repl->n) {
			char d = repl->s[++i];

			if (d >= '0' && d <= '9') {
				int g = d - '0';

				if (m[g].rm_so >= 0)
					cns_buf_add(b, s + m[g].rm_so,
						    (size_t)(m[g].rm_eo -
							     m[g].rm_so));
			} else if (d == '&') {
				cns_buf_add(b, s + m[0].rm_so,
					    (size_t)(m[0].rm_eo - m[0].rm_so));
			} else {
				cns_buf_addc(b, d);
			}
			continue;
		}
		cns_buf_addc(b, ch);
	}
}

/* regexp_replace with a setrun pattern into b: 1 when done, 0 when the
 * text must go to glibc (it is not UTF-8). */
static int setrun_replace(const struct rxinfo *rx, const struct xval *v,
			  struct cns_buf *b)
{
	regmatch_t m[10];
	size_t pos = 0, so, eo;
	int rc;

	for (int g = 1; g < 10; g++)
		m[g].rm_so = m[g].rm_eo = -1;
	cns_buf_reset(b);
	while ((rc = setrun_next(rx, v[0].s, pos, v[0].n, &so, &eo)) > 0) {
		m[0].rm_so = (regoff_t)so;
		m[0].rm_eo = (regoff_t)eo;
		cns_buf_add(b, v[0].s + pos, so - pos);
		add_replacement(b, &v[2], v[0].s, m);
		pos = eo;
		if (!rx->global)
			break;
	}
	if (rc < 0)
		return 0;
	if (pos < v[0].n)
		cns_buf_add(b, v[0].s + pos, v[0].n - pos);
	return 1;
}

/* regexp_replace with an NFA pattern on an ASCII subject: into b, or,
 * when the result is the subject or a piece of it (no match; one match
 * replaced by nothing at the start or the end), straight into *out
 * without a copy (true). */
static bool nfa_replace(const struct rxinfo *rx, const struct xval *v,
			struct cns_buf *b, struct xval *out)
{
	const char *s = v[0].s;
	size_t n = v[0].n, pos = 0, so, eo;
	regmatch_t m[10];

	if (!xf_rxnfa_exec(rx->nfa, s, 0, n, false, &so, &eo)) {
		set_str(out, s, n);
		return true;
	}
	if (!rx->global && v[2].n == 0 && (so == 0 || eo == n)) {
		if (so == 0)
			set_str(out, s + eo, n - eo);
		else
			set_str(out, s, so);
		return true;
	}
	for (int g = 1; g < 10; g++)
		m[g].rm_so = m[g].rm_eo = -1;
	cns_buf_reset(b);
	for (;;) {
		m[0].rm_so = (regoff_t)so;
		m[0].rm_eo = (regoff_t)eo;
		cns_buf_add(b, s + pos, so - pos);
		add_replacement(b, &v[2], s, m);
		pos = eo;
		if (eo == so) {
			/* an empty match: copy one byte and go on, as the
			 * loop of f_regexp_replace does */
			if (pos < n)
				cns_buf_addc(b, s[pos]);
			pos++;
		}
		if (!rx->global || pos > n ||
		    !xf_rxnfa_exec(rx->nfa, s, pos, n, pos > 0, &so, &eo))
			break;
	}
	if (pos < n)
		cns_buf_add(b, s + pos, n - pos);
	return false;
}

static int f_regexp_replace(const struct node *n, struct ectx *c,
			    struct xval *out)
{
	const struct rxinfo *rx = n->aux;
	const regex_t *re;
	regmatch_t m[10];
	/* The program's work buffer: no allocation per value. */
	struct cns_buf *b = &c->p->work;
	size_t pos = 0;
	bool utf8;
	STRICT_ARGS(4);

	if (rx->setrun && setrun_replace(rx, v, b))
		goto done;
	if (rx->nfa && xf_is_ascii(v[0].s, v[0].n)) {
		if (nfa_replace(rx, v, b, out))
			return 0;
		goto done;
	}
	re = pick_regex(c, n->slot, v[0].s, v[0].n, &utf8);
	cns_buf_reset(b);
	while (pos <= v[0].n &&
	       rx_exec(re, utf8, v[0].s, pos, v[0].n, m, 10) == 0) {
		size_t so = (size_t)m[0].rm_so, eo = (size_t)m[0].rm_eo;

		cns_buf_add(b, v[0].s + pos, so - pos);
		add_replacement(b, &v[2], v[0].s, m);
		pos = eo;
		if (eo == so) {
			/* an empty match: copy one character and go on */
			if (pos < v[0].n) {
				size_t k = xf_utf8_step(v[0].s + pos,
							v[0].n - pos);

				cns_buf_add(b, v[0].s + pos, k);
				pos += k;
			} else {
				pos++;
			}
		}
		if (!rx->global)
			break;
	}
	if (pos < v[0].n)
		cns_buf_add(b, v[0].s + pos, v[0].n - pos);
done:
	set_str(out,
		cns_arena_strndup(c->scratch, b->data ? b->data : "", b->len),
		b->len);
	return 0;
}

static int f_regexp_match(const struct node *n, struct ectx *c,
			  struct xval *out)
{
	const struct rxinfo *rx = n->aux;
	const regex_t *re;
	regmatch_t m[2];
	bool utf8;
	int g;
	STRICT_ARGS(3);

	if (rx->nfa && xf_is_ascii(v[0].s, v[0].n)) {
		size_t so, eo;

		/* no groups: the match itself */
		if (xf_rxnfa_exec(rx->nfa, v[0].s, 0, v[0].n, false, &so, &eo))
			set_str(out, v[0].s + so, eo - so);
		else
			out->null = true;
		return 0;
	}
	re = pick_regex(c, n->slot, v[0].s, v[0].n, &utf8);
	if (rx_exec(re, utf8, v[0].s, 0, v[0].n, m, 2) != 0) {
		out->null = true;
		return 0;
	}
	/* the first group when the pattern has one, else the match */
	g = re->re_nsub > 0 ? 1 : 0;
	if (m[g].rm_so < 0) {
		out->null = true;
		return 0;
	}
	set_str(out, v[0].s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
	return 0;
}

static void ck_regexp_any(struct checker *ck, struct node *n)
{
	ck_regexp(ck, n);
	n->eval = !strcmp(n->fn->name, "regexp_replace") ? f_regexp_replace
							 : f_regexp_match;
}

/* ---- md5, lookup, source ---- */

static int f_md5(const struct node *n, struct ectx *c, struct xval *out)
{
	char *o;
	STRICT_ARGS(1);

	o = cns_arena_alloc(c->scratch, 33);
	xf_md5_hex(v[0].s, v[0].n, o);
	set_str(out, o, 32);
	return 0;
}

static void ck_md5(struct checker *ck, struct node *n)
{
	all_text(ck, n, xt(CNS_T_TEXT));
	n->eval = f_md5;
}

static int f_lookup(const struct node *n, struct ectx *c, struct xval *out)
{
	const struct lookup *l = n->aux;
	struct xval k;
	uint32_t vn;
	const char *val;

	if (n->args[1]->eval(n->args[1], c, &k) < 0)
		return -1;
	if (!k.null && (val = xf_lookup_get(l, k.s, k.n, &vn)) != NULL) {
		set_str(out, val, vn);
		return 0;
	}
	if (n->nargs == 3)
		return n->args[2]->eval(n->args[2], c, out);
	out->null = true;
	return 0;
}

static void ck_lookup(struct checker *ck, struct node *n)
{
	struct node *tn = n->args[0];
	const char *name = NULL;
	struct cns_transform *t = ck->t;

	if (tn->kind == N_COL)
		name = tn->text;
	else if (tn->kind == N_LIT && tn->ty.untyped && !tn->lit.null)
		name = tn->lit.s;
	xf_check_args(ck, n, 1);
	for (int i = 1; i < n->nargs; i++)
		xf_coerce_text(ck, &n->args[i]);
	n->ty = xt(CNS_T_TEXT);
	n->eval = f_lookup;
	tn->ty = XT_UNTYPED;
	tn->eval = xf_eval_lit;
	if (!name) {
		xf_check_report(ck, tn, NULL,
				"the first argument of lookup must name a "
				"[lookup] section");
		return;
	}
	for (int i = 0; i < t->nlookups; i++)
		if (!cns_strcasecmp(t->lookups[i].name, name)) {
			n->aux = &t->lookups[i];
			return;
		}
	{
		const char **names = cns_arena_alloc(
			ck->arena, (size_t)(t->nlookups + 1) * sizeof(*names));
		const char *near;
		char hint[128];

		for (int i = 0; i < t->nlookups; i++)
			names[i] = t->lookups[i].name;
		near = xf_closest_name(name, names, t->nlookups);
		snprintf(hint, sizeof(hint), "did you mean \"%s\"?",
			 near ? near : "");
		xf_check_report(
			ck, tn,
			near ? hint
			     : "declare it as [lookup NAME] with file = "
			       "PATH",
			"unknown lookup table \"%s\"", name);
	}
}

static int f_source_name(const struct node *n, struct ectx *c, struct xval *out)
{
	(void)n;
	set_str(out, c->p->source, strlen(c->p->source));
	return 0;
}

static int f_source_row(const struct node *n, struct ectx *c, struct xval *out)
{
	(void)n;
	out->null = false;
	out->i = c->rownum;
	return 0;
}

static void ck_source(struct checker *ck, struct node *n)
{
	(void)ck;
	if (!strcmp(n->fn->name, "source_name")) {
		n->ty = xt(CNS_T_TEXT);
		n->eval = f_source_name;
	} else {
		n->ty = xt(CNS_T_BIGINT);
		n->eval = f_source_row;
	}
}

/* ---- the table ---- */

/* name, arguments (min, max), check step, per_call (a new value at each
 * call of a row, never shared: see share.c) */
static const struct func funcs[] = {
	{ "trim", 1, 2, ck_trim, false },
	{ "ltrim", 1, 2, ck_trim, false },
	{ "rtrim", 1, 2, ck_trim, false },
	{ "lower", 1, 1, ck_case, false },
	{ "upper", 1, 1, ck_case, false },
	{ "length", 1, 1, ck_length, false },
	{ "char_length", 1, 1, ck_length, false },
	{ "substr", 2, 3, ck_substr, false },
	{ "substring", 2, 3, ck_substr, false },
	{ "replace", 3, 3, ck_replace, false },
	{ "split_part", 3, 3, ck_split_part, false },
	{ "lpad", 2, 3, ck_pad, false },
	{ "rpad", 2, 3, ck_pad, false },
	{ "concat", 1, -1, ck_concat, false },
	{ "coalesce", 1, -1, ck_coalesce, false },
	{ "nullif", 2, 2, ck_nullif, false },
	{ "greatest", 1, -1, ck_extreme, false },
	{ "least", 1, -1, ck_extreme, false },
	{ "abs", 1, 1, ck_abs, false },
	{ "round", 1, 2, ck_round, false },
	{ "floor", 1, 1, ck_floorceil, false },
	{ "ceil", 1, 1, ck_floorceil, false },
	{ "ceiling", 1, 1, ck_floorceil, false },
	{ "to_date", 2, 2, ck_todate, false },
	{ "to_timestamp", 2, 2, ck_todate, false },
	{ "date_trunc", 2, 2, ck_date_trunc, false },
	{ "now", 0, 0, ck_now, false },
	{ "regexp_replace", 3, 4, ck_regexp_any, false },
	{ "regexp_match", 2, 3, ck_regexp_any, false },
	{ "md5", 1, 1, ck_md5, false },
	{ "lookup", 2, 3, ck_lookup, false },
	{ "source_name", 0, 0, ck_source, false },
	{ "source_row", 0, 0, ck_source, false },
};
#define NFUNCS ((int)(sizeof(funcs) / sizeof(funcs[0])))

const struct func *xf_func_find(const char *name)
{
	for (int i = 0; i < NFUNCS; i++)
		if (!strcmp(funcs[i].name, name))
			return &funcs[i];
	return NULL;
}

int xf_func_count(void)
{
	return NFUNCS;
}

const char *xf_func_name_at(int i)
{
	return funcs[i].name;
}
