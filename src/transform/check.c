/*
 * check.c - the compile step: gives every expression node its static type,
 * inserts the implicit casts, resolves functions and lookup tables, files
 * each mapping under its schema column and checks the row rules.  Every
 * problem is collected (see diag.c) so that one `consolidate check` shows
 * them all.
 *
 * Typing rules, in short (consolidate-transforms(7) has the full text):
 * a source column or a string literal is "untyped" text that takes the
 * type its context asks for; where it meets a number it is read as
 * numeric.  Arithmetic widens integer -> numeric -> double precision.
 * Comparisons are numeric when both sides are numbers, temporal when both
 * are dates or times, and byte-wise text otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xf_check_report(struct checker *ck, const struct node *at,
		     const char *hint, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xf_diag_add(ck->d, at->line, at->col, at->len, hint, "%s", msg);
}

static const char *tname(struct checker *ck, struct xtype ty)
{
	char buf[64];

	if (ty.untyped)
		return "text";
	return cns_arena_strdup(ck->arena, xf_xtype_name(ty, buf, sizeof(buf)));
}

static bool same_type(struct xtype a, struct xtype b)
{
	return a.t == b.t && a.p == b.p && a.s == b.s;
}

static bool temporal(enum cns_type t)
{
	return t == CNS_T_DATE || t == CNS_T_TIME || t == CNS_T_TIMESTAMP ||
	       t == CNS_T_TIMESTAMPTZ;
}

void xf_coerce(struct checker *ck, struct node **np, struct xtype ty)
{
	struct node *x = *np, *c;

	if (!x)
		return;
	if (x->ty.t == CNS_T_UNKNOWN) {
		/* a NULL literal takes any type */
		if (x->kind == N_LIT) {
			x->ty = ty;
			x->ty.untyped = false;
			return;
		}
	}
	if (!x->ty.untyped && same_type(x->ty, ty))
		return;
	/* raw text is already text; the output stage validates it */
	if (x->ty.untyped && ty.t == CNS_T_TEXT)
		return;
	if (!xf_cast_possible(x->ty, ty)) {
		xf_check_report(ck, x, NULL, "cannot cast type %s to %s",
				tname(ck, x->ty), tname(ck, ty));
		return;
	}
	if (x->kind == N_LIT && !x->lit.null && !temporal(x->ty.t) &&
	    !temporal(ty.t)) {
		/* fold the cast of a constant now, once; the time types
		 * wait for the program's zone */
		struct ectx ec;
		struct xval v;

		memset(&ec, 0, sizeof(ec));
		ec.scratch = ck->arena;
		if (xf_cast_value(&ec, &x->lit, x->ty, ty, &v) < 0) {
			xf_check_report(ck, x, NULL, "%s", ec.reason);
			return;
		}
		c = xf_node_new(ck->arena, N_LIT, NULL);
		c->line = x->line;
		c->col = x->col;
		c->len = x->len;
		c->ty = ty;
		c->ty.untyped = false;
		c->lit = v;
		c->text = x->text;
		c->orig = x;
		c->eval = xf_eval_lit;
		*np = c;
		return;
	}
	c = xf_node_new(ck->arena, N_CAST, NULL);
	c->line = x->line;
	c->col = x->col;
	c->len = x->len;
	c->nargs = 1;
	c->args = cns_arena_alloc(ck->arena, sizeof(*c->args));
	c->args[0] = x;
	c->ty = ty;
	c->ty.untyped = false;
	c->implicit = true;
	c->eval = xf_eval_cast;
	*np = c;
}

void xf_coerce_text(struct checker *ck, struct node **np)
{
	if ((*np)->ty.untyped || (*np)->ty.t == CNS_T_TEXT)
		return;
	xf_coerce(ck, np, xt(CNS_T_TEXT));
}

static int num_rank(enum cns_type t)
{
	switch (t) {
	case CNS_T_SMALLINT: return 1;
	case CNS_T_INTEGER: return 2;
	case CNS_T_BIGINT: return 3;
	case CNS_T_NUMERIC: return 4;
	case CNS_T_REAL: return 5;
	case CNS_T_DOUBLE: return 6;
	default: return 0;
	}
}

static int time_rank(enum cns_type t)
{
	switch (t) {
	case CNS_T_DATE: return 1;
	case CNS_T_TIMESTAMP: return 2;
	case CNS_T_TIMESTAMPTZ: return 3;
	default: return 0;
	}
}

bool xf_common_type(struct xtype a, struct xtype b, struct xtype *out)
{
	if (a.t == CNS_T_UNKNOWN) {
		*out = b;
		return true;
	}
	if (b.t == CNS_T_UNKNOWN) {
		*out = a;
		return true;
	}
	if (a.untyped && b.untyped) {
		*out = a;
		return true;
	}
	if (a.untyped || b.untyped) {
		struct xtype t = a.untyped ? b : a;

		/* raw text meeting an integer is read as numeric, so that
		 * "12.50" is not refused where a number is meant */
		*out = xf_type_is_int(t.t) ? xt(CNS_T_NUMERIC) : t;
		return true;
	}
	if (same_type(a, b)) {
		*out = a;
		return true;
	}
	if (a.t == b.t) {
		*out = xt(a.t); /* different typmods: unconstrained */
		return true;
	}
	if (xf_type_is_stringish(a.t) && xf_type_is_stringish(b.t)) {
		*out = xt(CNS_T_TEXT);
		return true;
	}
	if (num_rank(a.t) && num_rank(b.t)) {
		int r = num_rank(a.t) > num_rank(b.t) ? num_rank(a.t)
						      : num_rank(b.t);

		if (r == 5 && (a.t == CNS_T_NUMERIC || b.t == CNS_T_NUMERIC))
			r = 6;
		*out = xt(r == 6   ? CNS_T_DOUBLE
			  : r == 5 ? CNS_T_REAL
			  : r == 4 ? CNS_T_NUMERIC
				   : (a.t == b.t                      ? a.t
				      : num_rank(a.t) > num_rank(b.t) ? a.t
								      : b.t));
		return true;
	}
	if (time_rank(a.t) && time_rank(b.t)) {
		*out = xt(time_rank(a.t) > time_rank(b.t) ? a.t : b.t);
		return true;
	}
	return false;
}

/* The type both sides of a comparison are brought to: text when nothing
 * better fits (the documented rule). */
static struct xtype cmp_type(struct xtype a, struct xtype b)
{
	struct xtype t;

	if (a.t == CNS_T_UNKNOWN && b.t == CNS_T_UNKNOWN)
		return xt(CNS_T_TEXT);
	if (xf_common_type(a, b, &t)) {
		if (t.untyped)
			return xt(CNS_T_TEXT);
		t.p = t.s = 0;
		if (xf_type_is_stringish(t.t))
			t = xt(CNS_T_TEXT);
		return t;
	}
	return xt(CNS_T_TEXT);
}

static enum cmpkind cmp_kind(enum cns_type t)
{
	switch (xf_type_rep(t)) {
	case REP_INT: return CMP_INT;
	case REP_DBL: return CMP_DBL;
	case REP_STR: break;
	}
	return t == CNS_T_NUMERIC ? CMP_NUM : CMP_TEXT;
}

/* Brings the nodes v[0..n) to one comparable type. */
static void unify_cmp(struct checker *ck, struct node **v, int n,
		      struct node *self)
{
	struct xtype t = v[0]->ty;

	for (int i = 1; i < n; i++)
		t = cmp_type(t, v[i]->ty);
	if (n == 1)
		t = cmp_type(t, t);
	if (t.untyped)
		t = xt(CNS_T_TEXT);
	for (int i = 0; i < n; i++) {
		if (t.t == CNS_T_TEXT)
			xf_coerce_text(ck, &v[i]);
		else
			xf_coerce(ck, &v[i], t);
	}
	self->cmp = cmp_kind(t.t);
}

static void coerce_bool(struct checker *ck, struct node **np, const char *what)
{
	struct node *x = *np;

	if (x->ty.t == CNS_T_BOOLEAN || x->ty.t == CNS_T_UNKNOWN ||
	    x->ty.untyped || xf_type_is_stringish(x->ty.t)) {
		xf_coerce(ck, np, xt(CNS_T_BOOLEAN));
		return;
	}
	xf_check_report(ck, x, NULL, "argument of %s must be boolean, not %s",
			what, tname(ck, x->ty));
}

static void add_ref(struct checker *ck, struct node *n)
{
	struct section *s = ck->sec;

	for (int i = 0; i < s->nrefs; i++)
		if (s->ref_quoted[i] == n->quoted &&
		    !strcmp(s->refs[i], n->text)) {
			n->slot = i;
			return;
		}
	if (s->nrefs == s->capref) {
		s->capref = s->capref ? s->capref * 2 : 8;
		s->refs = cns_xrealloc(s->refs,
				       (size_t)s->capref * sizeof(*s->refs));
		s->ref_quoted = cns_xrealloc(s->ref_quoted,
					     (size_t)s->capref * sizeof(bool));
		s->ref_at = cns_xrealloc(s->ref_at, (size_t)s->capref *
							    sizeof(*s->ref_at));
	}
	s->refs[s->nrefs] = (char *)n->text;
	s->ref_quoted[s->nrefs] = n->quoted;
	s->ref_at[s->nrefs] = n;
	n->slot = s->nrefs++;
}

void xf_check_register_regex(struct checker *ck, struct node *n)
{
	struct cns_transform *t = ck->t;

	if (t->nregex == t->capregex) {
		t->capregex = t->capregex ? t->capregex * 2 : 4;
		t->regex_nodes = cns_xrealloc(t->regex_nodes,
					      (size_t)t->capregex *
						      sizeof(*t->regex_nodes));
	}
	t->regex_nodes[t->nregex] = n;
	n->slot = t->nregex++;
}

static void check_literal(struct checker *ck, struct node *n)
{
	n->eval = xf_eval_lit;
	if (n->ty.t == CNS_T_INTEGER && !n->lit.s) {
		int64_t v;
		const char *s;
		uint32_t len;

		if (xf_dec_parse(ck->arena, n->text, strlen(n->text), &s,
				 &len) < 0) {
			xf_check_report(ck, n, NULL,
					"number \"%s\" is too long", n->text);
			return;
		}
		if (xf_dec_to_int64(s, len, &v) == 0) {
			n->lit.i = v;
			n->ty = xt(v >= INT32_MIN && v <= INT32_MAX
					   ? CNS_T_INTEGER
					   : CNS_T_BIGINT);
		} else {
			n->lit.s = s;
			n->lit.n = len;
			n->ty = xt(CNS_T_NUMERIC);
		}
	} else if (n->ty.t == CNS_T_NUMERIC && !n->lit.s) {
		if (xf_dec_parse(ck->arena, n->text, strlen(n->text), &n->lit.s,
				 &n->lit.n) < 0) {
			xf_check_report(ck, n, NULL,
					"number \"%s\" is too long", n->text);
			/* checking goes on to report every problem: the
			 * casts and folds that follow need a value */
			n->lit.s = "0";
			n->lit.n = 1;
		}
	}
}

static void check_arith(struct checker *ck, struct node *n)
{
	struct xtype a = n->args[0]->ty, b = n->args[1]->ty, r;
	int op = n->op;

	/* date +/- integer, date - date */
	if (a.t == CNS_T_DATE && (op == T_PLUS || op == T_MINUS) &&
	    (xf_type_is_int(b.t) || b.untyped)) {
		xf_coerce(ck, &n->args[1], xt(CNS_T_INTEGER));
		n->ty = xt(CNS_T_DATE);
		xf_eval_set_node(n);
		return;
	}
	if (b.t == CNS_T_DATE && op == T_PLUS && xf_type_is_int(a.t)) {
		struct node *tmp = n->args[0];

		n->args[0] = n->args[1];
		n->args[1] = tmp;
		n->ty = xt(CNS_T_DATE);
		xf_eval_set_node(n);
		return;
	}
	if (a.t == CNS_T_DATE && b.t == CNS_T_DATE && op == T_MINUS) {
		n->ty = xt(CNS_T_INTEGER);
		n->op = 'd'; /* days between */
		xf_eval_set_node(n);
		return;
	}
	if (a.t == CNS_T_UNKNOWN && b.t == CNS_T_UNKNOWN)
		a = b = xt(CNS_T_NUMERIC);
	if (a.untyped || a.t == CNS_T_UNKNOWN)
		a = num_rank(b.t) ? b : xt(CNS_T_NUMERIC);
	if (b.untyped || b.t == CNS_T_UNKNOWN)
		b = num_rank(a.t) ? a : xt(CNS_T_NUMERIC);
	if (n->args[0]->ty.untyped || n->args[1]->ty.untyped) {
		/* raw text is read as numeric next to an integer */
		if (xf_type_is_int(a.t))
			a = xt(CNS_T_NUMERIC);
		if (xf_type_is_int(b.t))
			b = xt(CNS_T_NUMERIC);
	}
	if (!num_rank(a.t) || !num_rank(b.t)) {
		xf_check_report(ck, n, "cast the operands to a number type",
				"operator does not exist: %s %s %s",
				tname(ck, n->args[0]->ty), xf_tok_name(op),
				tname(ck, n->args[1]->ty));
		n->ty = xt(CNS_T_NUMERIC);
		return;
	}
	xf_common_type(a, b, &r);
	r.p = r.s = 0;
	xf_coerce(ck, &n->args[0], r);
	xf_coerce(ck, &n->args[1], r);
	n->ty = r;
	xf_eval_set_node(n);
}

static void check_neg(struct checker *ck, struct node *n)
{
	struct node *x = n->args[0];

	if (x->ty.untyped || x->ty.t == CNS_T_UNKNOWN)
		xf_coerce(ck, &n->args[0], xt(CNS_T_NUMERIC));
	else if (!num_rank(x->ty.t)) {
		xf_check_report(ck, n, NULL, "operator does not exist: - %s",
				tname(ck, x->ty));
		n->ty = xt(CNS_T_NUMERIC);
		return;
	}
	n->ty = n->args[0]->ty;
	n->ty.p = n->ty.s = 0;
	xf_eval_set_node(n);
}

/* -literal becomes a literal, so that -2147483648 is an integer. */
static struct node *fold_neg(struct checker *ck, struct node *n)
{
	struct node *x = n->args[0];

	if (x->kind != N_LIT ||
	    (x->ty.t != CNS_T_INTEGER && x->ty.t != CNS_T_NUMERIC) ||
	    x->lit.s || x->text[0] == '-')
		return NULL;
	x->text = cns_arena_printf(ck->arena, "-%s", x->text);
	x->line = n->line;
	x->col = n->col;
	x->len += n->len;
	check_literal(ck, x);
	return x;
}

static void check_case(struct checker *ck, struct node *n)
{
	int first = n->has_operand ? 1 : 0;
	int nres = 0;
	struct xtype t = XT_NULL;
	bool ok = true;

	/* when/then pairs start at `first`; else is last when present */
	if (n->has_operand) {
		int nw = (n->nargs - first - (n->has_else ? 1 : 0)) / 2;
		struct node **v = cns_arena_alloc(
			ck->arena, (size_t)(nw + 1) * sizeof(*v));

		v[0] = n->args[0];
		for (int i = 0; i < nw; i++)
			v[i + 1] = n->args[first + 2 * i];
		unify_cmp(ck, v, nw + 1, n);
		n->args[0] = v[0];
		for (int i = 0; i < nw; i++)
			n->args[first + 2 * i] = v[i + 1];
	} else {
		for (int i = first; i + 1 < n->nargs; i += 2)
			coerce_bool(ck, &n->args[i], "CASE/WHEN");
	}
	for (int i = first + 1; i < n->nargs; i += 2) {
		struct xtype r;

		if (!xf_common_type(t, n->args[i]->ty, &r)) {
			if (ok)
				xf_check_report(
					ck, n->args[i], NULL,
					"CASE types %s and %s cannot be "
					"matched",
					tname(ck, t),
					tname(ck, n->args[i]->ty));
			ok = false;
			continue;
		}
		t = r;
		nres++;
	}
	if (n->has_else) {
		struct xtype r;
		struct node *e = n->args[n->nargs - 1];

		if (!xf_common_type(t, e->ty, &r)) {
			if (ok)
				xf_check_report(
					ck, e, NULL,
					"CASE types %s and %s cannot be "
					"matched",
					tname(ck, t), tname(ck, e->ty));
			ok = false;
		} else {
			t = r;
		}
	}
	if (ok) {
		for (int i = first + 1; i < n->nargs; i += 2)
			xf_coerce(ck, &n->args[i], t);
		if (n->has_else)
			xf_coerce(ck, &n->args[n->nargs - 1], t);
	}
	(void)nres;
	n->ty = t;
	xf_eval_set_node(n);
}

static struct node *check_func(struct checker *ck, struct node *n)
{
	const struct func *f = xf_func_find(n->text);

	if (!f) {
		int cnt = xf_func_count();
		const char **names = cns_arena_alloc(
			ck->arena, (size_t)cnt * sizeof(*names));
		const char *near;
		char hint[128];

		for (int i = 0; i < cnt; i++)
			names[i] = xf_func_name_at(i);
		near = xf_closest_name(n->text, names, cnt);

		if (near)
			snprintf(hint, sizeof(hint), "did you mean \"%s\"?",
				 near);
		xf_check_report(ck, n, near ? hint : NULL,
				"unknown function \"%s\"", n->text);
		n->ty = XT_UNTYPED;
		for (int i = 0; i < n->nargs; i++)
			n->args[i] = xf_check_expr(ck, n->args[i]);
		return n;
	}
	n->fn = f;
	if (n->nargs < f->min_args ||
	    (f->max_args >= 0 && n->nargs > f->max_args)) {
		char want[64];

		if (f->max_args == f->min_args)
			snprintf(want, sizeof(want), "%s%d argument%s",
				 f->min_args ? "" : "no", f->min_args,
				 f->min_args == 1 ? "" : "s");
		else if (f->max_args < 0)
			snprintf(want, sizeof(want), "at least %d argument%s",
				 f->min_args, f->min_args == 1 ? "" : "s");
		else if (f->max_args == f->min_args + 1)
			snprintf(want, sizeof(want), "%d or %d arguments",
				 f->min_args, f->max_args);
		else
			snprintf(want, sizeof(want), "%d to %d arguments",
				 f->min_args, f->max_args);
		if (f->min_args == 0 && f->max_args == 0)
			snprintf(want, sizeof(want), "no arguments");
		xf_check_report(ck, n, NULL, "function \"%s\" takes %s, got %d",
				f->name, want, n->nargs);
		n->ty = XT_UNTYPED;
		return n;
	}
	/* lookup's first argument names a table, not a value */
	if (strcmp(f->name, "lookup") != 0)
		xf_check_args(ck, n, 0);
	f->check(ck, n);
	return n;
}

void xf_check_args(struct checker *ck, struct node *n, int from)
{
	for (int i = from; i < n->nargs; i++)
		n->args[i] = xf_check_expr(ck, n->args[i]);
}

struct node *xf_check_expr(struct checker *ck, struct node *n)
{
	struct node *f;

	if (!n)
		return NULL;
	if (n->kind != N_FUNC && n->kind != N_LIT && n->kind != N_COL)
		xf_check_args(ck, n, 0);
	switch (n->kind) {
	case N_LIT: check_literal(ck, n); return n;
	case N_COL:
		n->ty = XT_UNTYPED;
		n->eval = xf_eval_col;
		if (ck->no_columns) {
			xf_check_report(
				ck, n, NULL,
				"a default cannot refer to column \"%s\"",
				n->text);
			return n;
		}
		add_ref(ck, n);
		return n;
	case N_FUNC: return check_func(ck, n);
	case N_CAST:
		if (!xf_cast_possible(n->args[0]->ty, n->ty))
			xf_check_report(ck, n, NULL,
					"cannot cast type %s to %s",
					tname(ck, n->args[0]->ty),
					tname(ck, n->ty));
		n->eval = xf_eval_cast;
		return n;
	case N_ARITH: check_arith(ck, n); return n;
	case N_NEG:
		if ((f = fold_neg(ck, n)) != NULL)
			return f;
		check_neg(ck, n);
		return n;
	case N_CONCAT:
		xf_coerce_text(ck, &n->args[0]);
		xf_coerce_text(ck, &n->args[1]);
		n->ty = xt(CNS_T_TEXT);
		break;
	case N_CMP:
	case N_DISTINCT:
		unify_cmp(ck, n->args, 2, n);
		n->ty = xt(CNS_T_BOOLEAN);
		break;
	case N_AND:
	case N_OR:
		coerce_bool(ck, &n->args[0], n->kind == N_AND ? "AND" : "OR");
		coerce_bool(ck, &n->args[1], n->kind == N_AND ? "AND" : "OR");
		n->ty = xt(CNS_T_BOOLEAN);
		break;
	case N_NOT:
		coerce_bool(ck, &n->args[0], "NOT");
		n->ty = xt(CNS_T_BOOLEAN);
		break;
	case N_ISNULL: n->ty = xt(CNS_T_BOOLEAN); break;
	case N_IN:
	case N_BETWEEN:
		unify_cmp(ck, n->args, n->nargs, n);
		n->ty = xt(CNS_T_BOOLEAN);
		break;
	case N_LIKE:
		xf_coerce_text(ck, &n->args[0]);
		xf_coerce_text(ck, &n->args[1]);
		n->ty = xt(CNS_T_BOOLEAN);
		break;
	case N_CASE: check_case(ck, n); return n;
	}
	xf_eval_set_node(n);
	return n;
}

/* ---- the whole file ---- */

static int schema_index(const struct cns_schema *sc, const char *name,
			bool quoted)
{
	for (int i = 0; i < sc->ncols; i++)
		if (quoted ? !strcmp(sc->cols[i].name, name)
			   : !cns_strcasecmp(sc->cols[i].name, name))
			return i;
	return -1;
}

static char *rule_text(struct cns_transform *t, const struct node *n)
{
	struct cns_buf b;
	char *s;

	cns_buf_init(&b);
	xf_print_expr(&b, n);
	s = cns_arena_strdup(&t->arena, b.data ? b.data : "");
	cns_buf_release(&b);
	return s;
}

static void check_section(struct checker *ck, struct section *s)
{
	struct cns_transform *t = ck->t;
	const struct cns_schema *sc = &t->schema;
	int *first_line = cns_xcalloc((size_t)sc->ncols + 1, sizeof(int));

	s->map = cns_arena_zalloc(&t->arena,
				  (size_t)(sc->ncols + 1) * sizeof(*s->map));
	s->out = cns_arena_zalloc(&t->arena,
				  (size_t)(sc->ncols + 1) * sizeof(*s->out));
	s->from_default = cns_arena_zalloc(&t->arena, (size_t)sc->ncols + 1);
	ck->sec = s;
	for (struct maplist *m = s->pending; m; m = m->next) {
		int i = schema_index(sc, m->target, m->quoted);
		struct node at = { 0 };

		at.line = m->line;
		at.col = m->col;
		at.len = m->len;
		if (i < 0 && t->schema_broken) {
			xf_check_expr(ck, m->expr);
			continue;
		}
		if (i < 0) {
			const char **names = cns_arena_alloc(
				&t->arena,
				(size_t)(sc->ncols + 1) * sizeof(*names));
			const char *near;
			char hint[160];

			for (int k = 0; k < sc->ncols; k++)
				names[k] = sc->cols[k].name;
			near = xf_closest_name(m->target, names, sc->ncols);
			snprintf(hint, sizeof(hint),
				 near ? "did you mean \"%s\"?"
				      : "target columns are declared in "
					"[schema]",
				 near);
			xf_check_report(ck, &at, hint,
					"unknown target column \"%s\"",
					m->target);
			xf_check_expr(ck, m->expr);
			continue;
		}
		if (first_line[i]) {
			xf_check_report(
				ck, &at, NULL,
				"column \"%s\" is mapped twice (first at "
				"line %d)",
				sc->cols[i].name, first_line[i]);
			continue;
		}
		first_line[i] = m->line;
		s->map[i] = xf_check_expr(ck, m->expr);
		s->out[i] = s->map[i];
		{
			struct xtype ty = { sc->cols[i].type,
					    sc->cols[i].precision,
					    sc->cols[i].scale, false };

			xf_coerce(ck, &s->out[i], ty);
		}
	}
	for (int i = 0; i < sc->ncols; i++) {
		if (first_line[i])
			continue;
		s->out[i] = t->defaults[i];
		s->from_default[i] = t->defaults[i] != NULL;
		if (sc->cols[i].not_null && !t->defaults[i] && !s->broken &&
		    !t->schema_broken) {
			struct node at = { 0 };

			at.line = s->line;
			at.col = s->col;
			at.len = (int)strlen(s->name) + 7;
			xf_check_report(
				ck, &at,
				"map it, or give it a default in [schema]",
				"[from %s] does not map not null column "
				"\"%s\", which has no default",
				s->name, sc->cols[i].name);
		}
	}
	for (int i = 0; i < s->nwhere; i++) {
		s->where[i].expr = xf_check_expr(ck, s->where[i].expr);
		coerce_bool(ck, &s->where[i].expr, "where");
		s->where[i].text = rule_text(t, s->where[i].expr);
	}
	for (int i = 0; i < s->nrejects; i++) {
		struct rule *r = &s->rejects[i];

		r->expr = xf_check_expr(ck, r->expr);
		coerce_bool(ck, &r->expr, "reject_if");
		r->text = rule_text(t, r->expr);
		if (r->msg) {
			r->msg = xf_check_expr(ck, r->msg);
			xf_coerce_text(ck, &r->msg);
		}
	}
	free(first_line);
}

void xf_check_transform(struct cns_transform *t, struct diags *d)
{
	struct checker ck = { t, NULL, d, &t->arena, true };
	const struct cns_schema *sc = &t->schema;

	for (int i = 0; i < sc->ncols; i++) {
		struct xtype ty = { sc->cols[i].type, sc->cols[i].precision,
				    sc->cols[i].scale, false };

		if (!t->defaults[i])
			continue;
		t->defaults[i] = xf_check_expr(&ck, t->defaults[i]);
		xf_coerce(&ck, &t->defaults[i], ty);
		{
			struct cns_buf lit;

			cns_buf_init(&lit);
			if (xf_print_sql_literal(&lit, t->defaults[i]))
				t->schema.cols[i].default_sql =
					cns_arena_strdup(&t->arena, lit.data);
			cns_buf_release(&lit);
		}
	}
	ck.no_columns = false;
	for (int k = 0; k < t->nsections; k++)
		check_section(&ck, &t->sections[k]);

	/* sources without a section: each column from the source column of
	 * the same name */
	{
		struct section *s = &t->implicit;
		struct maplist *tail = NULL;

		memset(s, 0, sizeof(*s));
		s->implicit = true;
		for (int i = 0; i < sc->ncols; i++) {
			struct maplist *m =
				cns_arena_zalloc(&t->arena, sizeof(*m));
			struct node *c = xf_node_new(&t->arena, N_COL, NULL);

			c->text = sc->cols[i].name;
			c->line = sc->cols[i].line;
			c->col = 1;
			c->len = (int)strlen(c->text);
			m->target = sc->cols[i].name;
			m->quoted = true;
			m->line = sc->cols[i].line;
			m->expr = c;
			if (tail)
				tail->next = m;
			else
				s->pending = m;
			tail = m;
		}
		/* the implicit section never reports a missing not null
		 * mapping: every column is mapped */
		check_section(&ck, s);
	}
}
