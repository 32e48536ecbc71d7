/*
 * eval.c - evaluation of expression nodes for one row: literals, column
 * references, casts and the operators, with SQL's three-valued logic.
 *
 * Each node carries the function that evaluates it, chosen once by the
 * checker from its static types, so a row costs one indirect call per node
 * and no type dispatch.  Intermediate strings live in the program's
 * scratch arena, which is reset before each row: no malloc per cell.
 * A failure (a bad cast, division by zero) sets the row's reason and
 * returns -1; the row is then rejected.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int xf_ev_fail(struct ectx *c, const char *fmt, ...)
{
	struct cns_buf b;
	va_list ap;

	cns_buf_init(&b);
	va_start(ap, fmt);
	cns_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	c->reason = cns_arena_strndup(c->scratch, b.data ? b.data : "", b.len);
	cns_buf_release(&b);
	return -1;
}

const char *xf_ev_quote(struct ectx *c, const char *s, size_t n)
{
	size_t limit = 60, i = 0, chars = 0;
	char *o = cns_arena_alloc(c->scratch, 4 * limit + 8), *p = o;

	/* Quoted values end up in messages and rejects files: keep them
	 * short, printable and valid UTF-8. */
	while (i < n && chars < limit) {
		unsigned char b = (unsigned char)s[i];
		uint32_t cp;
		size_t k;

		if (b < 0x20 || b == 0x7f) {
			*p++ = '?';
			i++;
		} else if (b < 0x80) {
			*p++ = (char)b;
			i++;
		} else {
			k = xf_utf8_decode(s + i, n - i, &cp);
			if (k == 1) {
				*p++ = '?';
			} else {
				memcpy(p, s + i, k);
				p += k;
			}
			i += k;
		}
		chars++;
	}
	if (i < n) {
		memcpy(p, "...", 3);
		p += 3;
	}
	*p = '\0';
	return o;
}

int xf_eval_lit(const struct node *n, struct ectx *c, struct xval *out)
{
	(void)c;
	*out = n->lit;
	return 0;
}

int xf_eval_col(const struct node *n, struct ectx *c, struct xval *out)
{
	int col = c->p->colmap[n->slot];
	const struct cns_cell *cell;

	if (col < 0) {
		out->null = true;
		return 0;
	}
	cell = &c->row[col];
	out->null = cell->null;
	out->s = cell->data ? cell->data : "";
	out->n = cell->len;
	return 0;
}

int xf_eval_cast(const struct node *n, struct ectx *c, struct xval *out)
{
	const struct node *a = n->args[0];
	struct xval v;

	if (a->eval(a, c, &v) < 0)
		return -1;
	/* A source column whose driver reports timestamptz keeps that
	 * type: its text carries an offset, which reading it straight as
	 * a date, timestamp or time would drop (23:30+00 in Berlin is the
	 * next day). */
	if (a->kind == N_COL && a->ty.untyped && !v.null && c->p->coltypes &&
	    (n->ty.t == CNS_T_DATE || n->ty.t == CNS_T_TIMESTAMP ||
	     n->ty.t == CNS_T_TIME)) {
		int col = c->p->colmap[a->slot];

		if (col >= 0 && c->p->coltypes[col] == CNS_T_TIMESTAMPTZ) {
			struct xval at;

			if (xf_parse_value(c, v.s, v.n, xt(CNS_T_TIMESTAMPTZ),
					   &at) < 0)
				return -1;
			return xf_cast_value(c, &at, xt(CNS_T_TIMESTAMPTZ),
					     n->ty, out);
		}
	}
	return xf_cast_value(c, &v, a->ty, n->ty, out);
}

int xf_eval_bool(const struct node *n, struct ectx *c, int *truth)
{
	struct xval v;

	if (n->eval(n, c, &v) < 0)
		return -1;
	*truth = v.null ? -1 : v.i != 0;
	return 0;
}

static void set_bool(struct xval *out, int truth)
{
	out->null = truth < 0;
	out->i = truth > 0;
}

/* ---- arithmetic ---- */

static int int_range(const struct node *n, struct ectx *c, int64_t v)
{
	switch (n->ty.t) {
	case CNS_T_SMALLINT:
		if (v < INT16_MIN || v > INT16_MAX)
			return xf_ev_fail(c, "smallint out of range");
		return 0;
	case CNS_T_INTEGER:
		if (v < INT32_MIN || v > INT32_MAX)
			return xf_ev_fail(c, "integer out of range");
		return 0;
	default: return 0;
	}
}

static int ev_arith_int(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval a, b;
	int64_t r = 0;
	bool ovf = false;

	if (n->args[0]->eval(n->args[0], c, &a) < 0 ||
	    n->args[1]->eval(n->args[1], c, &b) < 0)
		return -1;
	if (a.null || b.null) {
		out->null = true;
		return 0;
	}
	switch (n->op) {
	case T_PLUS: ovf = __builtin_add_overflow(a.i, b.i, &r); break;
	case T_MINUS: ovf = __builtin_sub_overflow(a.i, b.i, &r); break;
	case T_STAR: ovf = __builtin_mul_overflow(a.i, b.i, &r); break;
	case T_SLASH:
	case T_PERCENT:
		if (b.i == 0)
			return xf_ev_fail(c, "division by zero");
		if (b.i == -1) {
			/* INT64_MIN / -1 overflows; % -1 is always 0 */
			if (n->op == T_PERCENT)
				r = 0;
			else
				ovf = __builtin_sub_overflow(0, a.i, &r);
		} else {
			r = n->op == T_SLASH ? a.i / b.i : a.i % b.i;
		}
		break;
	}
	if (ovf)
		return xf_ev_fail(c, "%s out of range", cns_type_name(n->ty.t));
	out->null = false;
	out->i = r;
	return int_range(n, c, r);
}

static int ev_arith_num(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval a, b;
	int rc = 0;

	if (n->args[0]->eval(n->args[0], c, &a) < 0 ||
	    n->args[1]->eval(n->args[1], c, &b) < 0)
		return -1;
	if (a.null || b.null) {
		out->null = true;
		return 0;
	}
	out->null = false;
	switch (n->op) {
	case T_PLUS:
	case T_MINUS:
		rc = xf_dec_add(c->scratch, a.s, a.n, b.s, b.n,
				n->op == T_MINUS, &out->s, &out->n);
		break;
	case T_STAR:
		rc = xf_dec_mul(c->scratch, a.s, a.n, b.s, b.n, &out->s,
				&out->n);
		break;
	case T_SLASH:
	case T_PERCENT:
		/* NaN / 0 is NaN in PostgreSQL; everything else fails */
		if (xf_dec_is_zero(b.s, b.n) &&
		    xf_dec_special(a.s, a.n) != DEC_NAN)
			return xf_ev_fail(c, "division by zero");
		if (n->op == T_SLASH)
			rc = xf_dec_div(c->scratch, a.s, a.n, b.s, b.n,
					DEC_DIV_SCALE, &out->s, &out->n);
		else
			rc = xf_dec_mod(c->scratch, a.s, a.n, b.s, b.n, &out->s,
					&out->n);
		break;
	}
	if (rc < 0)
		return xf_ev_fail(c,
				  "numeric result longer than the %d digits "
				  "of the transform's arithmetic",
				  DEC_MAX_DIGITS);
	return 0;
}

static int ev_arith_dbl(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval a, b;
	double r = 0;

	if (n->args[0]->eval(n->args[0], c, &a) < 0 ||
	    n->args[1]->eval(n->args[1], c, &b) < 0)
		return -1;
	if (a.null || b.null) {
		out->null = true;
		return 0;
	}
	switch (n->op) {
	case T_PLUS: r = a.d + b.d; break;
	case T_MINUS: r = a.d - b.d; break;
	case T_STAR: r = a.d * b.d; break;
	case T_SLASH:
	case T_PERCENT:
		if (b.d == 0)
			return xf_ev_fail(c, "division by zero");
		r = n->op == T_SLASH ? a.d / b.d : fmod(a.d, b.d);
		break;
	}
	if (isinf(r) && !isinf(a.d) && !isinf(b.d))
		return xf_ev_fail(c, "value out of range: overflow");
	out->null = false;
	out->d = n->ty.t == CNS_T_REAL ? (float)r : r;
	return 0;
}

static int ev_date_arith(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval a, b;

	if (n->args[0]->eval(n->args[0], c, &a) < 0 ||
	    n->args[1]->eval(n->args[1], c, &b) < 0)
		return -1;
	if (a.null || b.null) {
		out->null = true;
		return 0;
	}
	out->null = false;
	if (n->op == 'd') {
		if (!XF_DT_FINITE(a.i) || !XF_DT_FINITE(b.i))
			return xf_ev_fail(c, "cannot subtract infinite dates");
		out->i = a.i - b.i;
		return 0;
	}
	/* infinity plus or minus days is infinity, as in PostgreSQL */
	if (n->args[0]->ty.t == CNS_T_DATE && !XF_DT_FINITE(a.i)) {
		out->i = a.i;
		return 0;
	}
	if (n->args[1]->ty.t == CNS_T_DATE && !XF_DT_FINITE(b.i)) {
		out->i = b.i;
		return 0;
	}
	if (n->op == T_PLUS ? __builtin_add_overflow(a.i, b.i, &out->i)
			    : __builtin_sub_overflow(a.i, b.i, &out->i))
		return xf_ev_fail(c, "date out of range");
	if (out->i < XF_DATE_MIN || out->i > XF_DATE_MAX)
		return xf_ev_fail(c, "date out of range");
	return 0;
}

static int ev_neg(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval a;

	if (n->args[0]->eval(n->args[0], c, &a) < 0)
		return -1;
	*out = a;
	if (a.null)
		return 0;
	switch (xf_type_rep(n->ty.t)) {
	case REP_INT:
		if (a.i == INT64_MIN)
			return xf_ev_fail(c, "bigint out of range");
		out->i = -a.i;
		return int_range(n, c, out->i);
	case REP_DBL: out->d = -a.d; return 0;
	case REP_STR: return xf_dec_neg(c->scratch, a.s, a.n, &out->s, &out->n);
	}
	return 0;
}

/* ---- text ---- */

static int ev_concat(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval a, b;
	char *p;

	if (n->args[0]->eval(n->args[0], c, &a) < 0 ||
	    n->args[1]->eval(n->args[1], c, &b) < 0)
		return -1;
	if (a.null || b.null) {
		out->null = true;
		return 0;
	}
	p = cns_arena_alloc(c->scratch, (size_t)a.n + b.n + 1);
	memcpy(p, a.s, a.n);
	memcpy(p + a.n, b.s, b.n);
	out->null = false;
	out->s = p;
	out->n = a.n + b.n;
	return 0;
}

/* LIKE with % and _ (characters, not bytes) and \ as the escape. */
static bool like_match(const char *s, size_t n, const char *p, size_t pn)
{
	size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;

	while (si < n) {
		if (pi < pn && p[pi] == '%') {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < pn && p[pi] == '_') {
			si += xf_utf8_step(s + si, n - si);
			pi++;
			continue;
		}
		if (pi < pn) {
			size_t q = pi;

			if (p[q] == '\\' && q + 1 < pn)
				q++;
			{
				size_t k = xf_utf8_step(p + q, pn - q);

				if (si + k <= n && !memcmp(s + si, p + q, k)) {
					si += k;
					pi = q + k;
					continue;
				}
			}
		}
		if (star_p == (size_t)-1)
			return false;
		/* backtrack: the last % eats one more character */
		star_s += xf_utf8_step(s + star_s, n - star_s);
		si = star_s;
		pi = star_p;
	}
	while (pi < pn && p[pi] == '%')
		pi++;
	return pi == pn;
}

static int ev_like(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval a, b;
	bool m;

	if (n->args[0]->eval(n->args[0], c, &a) < 0 ||
	    n->args[1]->eval(n->args[1], c, &b) < 0)
		return -1;
	if (a.null || b.null) {
		out->null = true;
		return 0;
	}
	if (n->op) { /* ilike: compare lower-cased text */
		char *x = cns_arena_alloc(c->scratch, 2 * (size_t)a.n + 4);
		char *y = cns_arena_alloc(c->scratch, 2 * (size_t)b.n + 4);

		a.n = (uint32_t)xf_utf8_case(a.s, a.n, false, x);
		a.s = x;
		b.n = (uint32_t)xf_utf8_case(b.s, b.n, false, y);
		b.s = y;
	}
	m = like_match(a.s, a.n, b.s, b.n);
	set_bool(out, m != n->neg);
	return 0;
}

/* ---- comparisons and logic ---- */

static bool cmp_holds(int op, int r)
{
	switch (op) {
	case T_EQ: return r == 0;
	case T_NE: return r != 0;
	case T_LT: return r < 0;
	case T_LE: return r <= 0;
	case T_GT: return r > 0;
	case T_GE: return r >= 0;
	default: return false;
	}
}

static int ev_cmp(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval a, b;

	if (n->args[0]->eval(n->args[0], c, &a) < 0 ||
	    n->args[1]->eval(n->args[1], c, &b) < 0)
		return -1;
	if (a.null || b.null) {
		out->null = true;
		return 0;
	}
	set_bool(out, cmp_holds(n->op, xf_compare_values(n->cmp, &a, &b)));
	return 0;
}

static int ev_distinct(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval a, b;
	bool distinct;

	if (n->args[0]->eval(n->args[0], c, &a) < 0 ||
	    n->args[1]->eval(n->args[1], c, &b) < 0)
		return -1;
	if (a.null || b.null)
		distinct = a.null != b.null;
	else
		distinct = xf_compare_values(n->cmp, &a, &b) != 0;
	/* neg: "is not distinct from" */
	set_bool(out, distinct != n->neg);
	return 0;
}

static int ev_and(const struct node *n, struct ectx *c, struct xval *out)
{
	int a, b;

	if (xf_eval_bool(n->args[0], c, &a) < 0)
		return -1;
	if (a == 0) {
		set_bool(out, 0);
		return 0;
	}
	if (xf_eval_bool(n->args[1], c, &b) < 0)
		return -1;
	set_bool(out, b == 0 ? 0 : (a < 0 || b < 0) ? -1 : 1);
	return 0;
}

static int ev_or(const struct node *n, struct ectx *c, struct xval *out)
{
	int a, b;

	if (xf_eval_bool(n->args[0], c, &a) < 0)
		return -1;
	if (a == 1) {
		set_bool(out, 1);
		return 0;
	}
	if (xf_eval_bool(n->args[1], c, &b) < 0)
		return -1;
	set_bool(out, b == 1 ? 1 : (a < 0 || b < 0) ? -1 : 0);
	return 0;
}

static int ev_not(const struct node *n, struct ectx *c, struct xval *out)
{
	int a;

	if (xf_eval_bool(n->args[0], c, &a) < 0)
		return -1;
	set_bool(out, a < 0 ? -1 : !a);
	return 0;
}

static int ev_isnull(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval a;

	if (n->args[0]->eval(n->args[0], c, &a) < 0)
		return -1;
	set_bool(out, a.null != n->neg);
	return 0;
}

static int ev_in(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval x, v;
	bool saw_null = false;

	if (n->args[0]->eval(n->args[0], c, &x) < 0)
		return -1;
	if (x.null) {
		out->null = true;
		return 0;
	}
	for (int i = 1; i < n->nargs; i++) {
		if (n->args[i]->eval(n->args[i], c, &v) < 0)
			return -1;
		if (v.null) {
			saw_null = true;
			continue;
		}
		if (xf_compare_values(n->cmp, &x, &v) == 0) {
			set_bool(out, !n->neg);
			return 0;
		}
	}
	set_bool(out, saw_null ? -1 : n->neg);
	return 0;
}

static int ev_between(const struct node *n, struct ectx *c, struct xval *out)
{
	struct xval x, lo, hi;
	int a, b, r;

	if (n->args[0]->eval(n->args[0], c, &x) < 0 ||
	    n->args[1]->eval(n->args[1], c, &lo) < 0 ||
	    n->args[2]->eval(n->args[2], c, &hi) < 0)
		return -1;
	a = x.null || lo.null ? -1 : xf_compare_values(n->cmp, &x, &lo) >= 0;
	b = x.null || hi.null ? -1 : xf_compare_values(n->cmp, &x, &hi) <= 0;
	r = (a == 0 || b == 0) ? 0 : (a < 0 || b < 0) ? -1 : 1;
	if (n->neg && r >= 0)
		r = !r;
	set_bool(out, r);
	return 0;
}

static int ev_case(const struct node *n, struct ectx *c, struct xval *out)
{
	int first = n->has_operand ? 1 : 0;
	int end = n->nargs - (n->has_else ? 1 : 0);
	struct xval x;

	if (n->has_operand && n->args[0]->eval(n->args[0], c, &x) < 0)
		return -1;
	for (int i = first; i + 1 < end; i += 2) {
		if (n->has_operand) {
			struct xval v;

			if (n->args[i]->eval(n->args[i], c, &v) < 0)
				return -1;
			if (x.null || v.null ||
			    xf_compare_values(n->cmp, &x, &v) != 0)
				continue;
		} else {
			int t;

			if (xf_eval_bool(n->args[i], c, &t) < 0)
				return -1;
			if (t != 1)
				continue;
		}
		return n->args[i + 1]->eval(n->args[i + 1], c, out);
	}
	if (n->has_else)
		return n->args[n->nargs - 1]->eval(n->args[n->nargs - 1], c,
						   out);
	memset(out, 0, sizeof(*out));
	out->null = true;
	return 0;
}

/* ---- shared subexpressions (see share.c) ---- */

int xf_eval_shared(const struct node *n, struct ectx *c, struct xval *out)
{
	struct cns_program *p = c->p;
	struct shared_val *e = &p->shared[n->share - 1];
	int rc;

	if (e->gen == p->row_gen) {
		p->shared_reused++;
		if (e->rc < 0) {
			c->reason = e->reason;
			return -1;
		}
		*out = e->v;
		return 0;
	}
	p->shared_computed++;
	rc = n->inner(n, c, out);
	e->gen = p->row_gen;
	e->rc = rc;
	if (rc < 0) {
		e->reason = c->reason;
		return -1;
	}
	/* The program's work buffer is overwritten by the next function
	 * that builds a string: a value in it would not last the row.  The
	 * functions copy out of it before they return, so this copy is
	 * only a guard. */
	if (!out->null && p->work.data && out->s >= p->work.data &&
	    out->s < p->work.data + p->work.cap)
		out->s = cns_arena_strndup(c->scratch, out->s, out->n);
	e->v = *out;
	return 0;
}

void xf_eval_set_node(struct node *n)
{
	switch (n->kind) {
	case N_LIT: n->eval = xf_eval_lit; break;
	case N_COL: n->eval = xf_eval_col; break;
	case N_CAST: n->eval = xf_eval_cast; break;
	case N_ARITH:
		if (n->ty.t == CNS_T_DATE || n->op == 'd')
			n->eval = ev_date_arith;
		else if (xf_type_rep(n->ty.t) == REP_INT)
			n->eval = ev_arith_int;
		else if (xf_type_rep(n->ty.t) == REP_DBL)
			n->eval = ev_arith_dbl;
		else
			n->eval = ev_arith_num;
		break;
	case N_NEG: n->eval = ev_neg; break;
	case N_CONCAT: n->eval = ev_concat; break;
	case N_CMP: n->eval = ev_cmp; break;
	case N_AND: n->eval = ev_and; break;
	case N_OR: n->eval = ev_or; break;
	case N_NOT: n->eval = ev_not; break;
	case N_ISNULL: n->eval = ev_isnull; break;
	case N_IN: n->eval = ev_in; break;
	case N_BETWEEN: n->eval = ev_between; break;
	case N_LIKE: n->eval = ev_like; break;
	case N_CASE: n->eval = ev_case; break;
	case N_DISTINCT: n->eval = ev_distinct; break;
	case N_FUNC: break; /* set by the function's check */
	}
}
