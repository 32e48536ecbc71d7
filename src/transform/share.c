/*
 * share.c - common subexpressions: a subtree that a section computes more
 * than once per row (`lower(trim(email))` as a column and again inside
 * the lookup of another) is found once, at load, and evaluated once per
 * row; its other uses read the value kept for the row.  This is part of
 * the transform language's evaluator, written for it.
 *
 * At load, after checking, each section's trees (its output expressions,
 * `where` and `reject_if` rules and messages) are hash-consed bottom-up:
 * two nodes are the same when they are of the same kind, type, function,
 * operator and evaluator, their literals and names are equal and their
 * arguments are the same nodes.  The trees become a DAG.  Every node
 * reached by two or more edges (a node that is only under one shared
 * parent is not counted twice) that is worth keeping, not a literal and
 * not a column reference, gets a slot: its evaluator is wrapped by
 * xf_eval_shared(), which keeps the first result of the row (a value,
 * NULL, or a failure with its reason) in the program's table of slots.
 *
 * Evaluation stays lazy: the first use of a row computes, in the place
 * where the tree without sharing would have, so short-circuits (and, or,
 * case, coalesce) skip the same work and the first failure of a row is
 * the same one with the same reason.
 *
 * Schema defaults are shared by every section, so they get a pass of
 * their own and the sections' passes leave them alone: a pass may point
 * a parent at an equal node of its own trees, and a default must not end
 * up pointing into one section's column references.
 *
 * A transform is read-only once loaded and shared by threads; all of
 * this happens before that, and the values live in each program.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The canonical nodes of one pass, by structural hash. */
struct ctable {
	struct node **v;
	uint64_t *h;
	size_t cap, count;
};

static uint64_t mix(uint64_t h, uint64_t x)
{
	h ^= x + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
	return h;
}

static uint64_t hash_bytes(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * UINT64_C(0x100000001b3);
	return h;
}

static bool same_text(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool same_lit(const struct xval *a, const struct xval *b)
{
	if (a->null != b->null || a->i != b->i || a->n != b->n ||
	    memcmp(&a->d, &b->d, sizeof(a->d)) != 0)
		return false;
	if (!a->s || !b->s)
		return a->s == b->s || a->n == 0;
	return memcmp(a->s, b->s, a->n) == 0;
}

/* Whether a function's compile-time data (n->aux) follows from its
 * arguments: the regular expressions and date formats are compiled for
 * each node from literal arguments, so equal arguments give equal data
 * in different places.  For every other function aux must be the same
 * pointer (a lookup table, a date_trunc field). */
static bool aux_from_args(const struct node *n)
{
	const char *f = n->fn ? n->fn->name : "";

	return !strcmp(f, "regexp_replace") || !strcmp(f, "regexp_match") ||
	       !strcmp(f, "to_date") || !strcmp(f, "to_timestamp");
}

static bool same_tree(const struct node *a, const struct node *b);

/* Everything but the arguments: what the evaluator reads and what the
 * printer prints (so `explain` reads the same), not the position. */
static bool same_shallow(const struct node *a, const struct node *b)
{
	if (a->kind != b->kind || a->op != b->op || a->neg != b->neg ||
	    a->nargs != b->nargs || a->ty.t != b->ty.t || a->ty.p != b->ty.p ||
	    a->ty.s != b->ty.s || a->ty.untyped != b->ty.untyped ||
	    a->eval != b->eval || a->fn != b->fn || a->quoted != b->quoted ||
	    a->has_operand != b->has_operand || a->has_else != b->has_else ||
	    a->implicit != b->implicit || a->cmp != b->cmp)
		return false;
	if (a->kind == N_COL && a->slot != b->slot)
		return false;
	if (a->aux != b->aux && !(a->aux && b->aux && aux_from_args(a)))
		return false;
	if (!same_text(a->text, b->text) || !same_lit(&a->lit, &b->lit))
		return false;
	if (!a->orig || !b->orig)
		return a->orig == b->orig;
	return same_tree(a->orig, b->orig);
}

/* Deep comparison, for the literals as written behind folded constants,
 * which are printed but never evaluated. */
static bool same_tree(const struct node *a, const struct node *b)
{
	if (a == b)
		return true;
	if (!same_shallow(a, b))
		return false;
	for (int i = 0; i < a->nargs; i++)
		if (!same_tree(a->args[i], b->args[i]))
			return false;
	return true;
}

/* The hash of a node whose arguments are canonical already. */
static uint64_t node_hash(const struct node *n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	h = mix(h, (uint64_t)n->kind);
	h = mix(h, (uint64_t)(uint32_t)n->op);
	h = mix(h, (uint64_t)n->ty.t);
	h = mix(h, (uint64_t)(uintptr_t)n->fn);
	h = mix(h, (uint64_t)(uint32_t)n->nargs);
	if (n->kind == N_COL)
		h = mix(h, (uint64_t)(uint32_t)n->slot);
	if (n->text)
		h = hash_bytes(h, n->text, strlen(n->text));
	if (!n->lit.null && n->lit.s)
		h = hash_bytes(h, n->lit.s, n->lit.n);
	h = mix(h, (uint64_t)n->lit.i);
	for (int i = 0; i < n->nargs; i++)
		h = mix(h, (uint64_t)(uintptr_t)n->args[i]);
	return h;
}

static void ctable_grow(struct ctable *t)
{
	struct ctable nt;

	nt.cap = t->cap ? t->cap * 2 : 64;
	nt.v = cns_xcalloc(nt.cap, sizeof(*nt.v));
	nt.h = cns_xcalloc(nt.cap, sizeof(*nt.h));
	nt.count = t->count;
	for (size_t i = 0; i < t->cap; i++) {
		size_t k;

		if (!t->v[i])
			continue;
		for (k = t->h[i] & (nt.cap - 1); nt.v[k];
		     k = (k + 1) & (nt.cap - 1))
			;
		nt.v[k] = t->v[i];
		nt.h[k] = t->h[i];
	}
	free(t->v);
	free(t->h);
	*t = nt;
}

/* The node equal to n already in the table, or n after adding it. */
static struct node *ctable_intern(struct ctable *t, struct node *n)
{
	uint64_t h = node_hash(n);
	size_t k;

	if (2 * (t->count + 1) > t->cap)
		ctable_grow(t);
	for (k = h & (t->cap - 1); t->v[k]; k = (k + 1) & (t->cap - 1)) {
		struct node *m = t->v[k];
		bool args_same = true;

		if (t->h[k] != h || !same_shallow(m, n))
			continue;
		for (int i = 0; i < n->nargs && args_same; i++)
			args_same = m->args[i] == n->args[i];
		if (args_same)
			return m;
	}
	t->v[k] = n;
	t->h[k] = h;
	t->count++;
	return n;
}

/* Canonicalises the arguments of n, then n itself. */
static struct node *canon(struct ctable *t, struct node *n)
{
	if (!n)
		return NULL;
	for (int i = 0; i < n->nargs; i++)
		n->args[i] = canon(t, n->args[i]);
	return ctable_intern(t, n);
}

/* Whether a node may be computed once per row and reused.  Literals and
 * column references cost less than the lookup.  Every built-in function
 * gives the same value for the same row however often it is called
 * (now() is a literal by now, lookups read a table that never changes,
 * source_row() is the row's number); a function that did not (a random
 * number, a sequence) would say so with func.per_call and be computed at
 * each use. */
static bool shareable(const struct node *n)
{
	switch (n->kind) {
	case N_LIT:
	case N_COL: return false;
	case N_FUNC: return n->fn && !n->fn->per_call;
	case N_CAST:
	case N_ARITH:
	case N_NEG:
	case N_CONCAT:
	case N_CMP:
	case N_AND:
	case N_OR:
	case N_NOT:
	case N_ISNULL:
	case N_IN:
	case N_BETWEEN:
	case N_LIKE:
	case N_CASE:
	case N_DISTINCT: return true;
	}
	return false;
}

/* Whether a per-call function is anywhere under n: then n is not shared
 * either. */
static bool has_per_call(const struct node *n)
{
	if (n->kind == N_FUNC && n->fn && n->fn->per_call)
		return true;
	for (int i = 0; i < n->nargs; i++)
		if (has_per_call(n->args[i]))
			return true;
	return false;
}

struct pass {
	struct ctable table;
	struct node **seen; /* nodes reached, in order of first reach */
	int nseen, capseen;
};

/* Counts the edges into n and into the nodes under it, once per node. */
static void count_uses(struct pass *ps, struct node *n)
{
	if (!n || n->uses++ > 0)
		return;
	if (ps->nseen == ps->capseen) {
		ps->capseen = ps->capseen ? ps->capseen * 2 : 64;
		ps->seen = cns_xrealloc(ps->seen, (size_t)ps->capseen *
							  sizeof(*ps->seen));
	}
	ps->seen[ps->nseen++] = n;
	for (int i = 0; i < n->nargs; i++)
		count_uses(ps, n->args[i]);
}

static void add_shared(struct cns_transform *t, struct node *n)
{
	if (t->nshared == t->capshared) {
		t->capshared = t->capshared ? t->capshared * 2 : 8;
		t->shared_nodes = cns_xrealloc(
			t->shared_nodes,
			(size_t)t->capshared * sizeof(*t->shared_nodes));
	}
	t->shared_nodes[t->nshared] = n;
	n->share = ++t->nshared;
	n->inner = n->eval;
	n->eval = xf_eval_shared;
}

/* Canonicalises the roots (in place), then gives a slot to every node
 * that two edges reach. */
static void share_roots(struct cns_transform *t, struct node ***roots,
			int nroots)
{
	struct pass ps;

	memset(&ps, 0, sizeof(ps));
	for (int i = 0; i < nroots; i++)
		*roots[i] = canon(&ps.table, *roots[i]);
	for (int i = 0; i < nroots; i++)
		count_uses(&ps, *roots[i]);
	for (int i = 0; i < ps.nseen; i++) {
		struct node *n = ps.seen[i];

		if (n->uses >= 2 && !n->share && shareable(n) &&
		    !has_per_call(n))
			add_shared(t, n);
	}
	for (int i = 0; i < ps.nseen; i++)
		ps.seen[i]->uses = 0;
	free(ps.seen);
	free(ps.table.v);
	free(ps.table.h);
}

static void share_section(struct cns_transform *t, struct section *s)
{
	int ncols = t->schema.ncols, n = 0;
	struct node ***roots;

	if (!s->out)
		return;
	roots = cns_xcalloc((size_t)(ncols + s->nwhere + 2 * s->nrejects) + 1,
			    sizeof(*roots));
	for (int i = 0; i < s->nwhere; i++)
		roots[n++] = &s->where[i].expr;
	for (int i = 0; i < s->nrejects; i++) {
		roots[n++] = &s->rejects[i].expr;
		if (s->rejects[i].msg)
			roots[n++] = &s->rejects[i].msg;
	}
	for (int i = 0; i < ncols; i++)
		if (s->out[i] && !s->from_default[i])
			roots[n++] = &s->out[i];
	share_roots(t, roots, n);
	free(roots);
}

void xf_share_transform(struct cns_transform *t)
{
	int ncols = t->schema.ncols, n = 0;
	struct node ***roots = cns_xcalloc((size_t)ncols + 1, sizeof(*roots));

	for (int i = 0; i < ncols; i++)
		if (t->defaults[i])
			roots[n++] = &t->defaults[i];
	share_roots(t, roots, n);
	free(roots);
	for (int k = 0; k < t->nsections; k++)
		share_section(t, &t->sections[k]);
	share_section(t, &t->implicit);
}
