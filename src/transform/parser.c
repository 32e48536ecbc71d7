/*
 * parser.c - turns the tokens of a transform file into its sections
 * ([schema], [from NAME], [lookup NAME]) and expression trees.
 *
 * Expressions follow PostgreSQL's precedence, loosest first:
 *   or; and; not; is [not] null / is [not] distinct from;
 *   = <> != < <= > >=; [not] in / between / like / ilike;
 *   ||; + -; * / %; unary - +; ::type; primary.
 * A syntax error is reported once per entry; parsing resumes at the next
 * entry so that one pass finds every broken line.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const struct token *v;
	int n, i;
	struct cns_arena *a;
	struct diags *d;
	bool failed; /* a syntax error in the current entry was reported */
	int nest;    /* recursion depth of the expression parser */
};

/* Limits that keep every recursive walk of a tree (checking, evaluating,
 * printing) far from the end of the stack. */
#define MAX_NEST 200   /* parentheses, not, unary minus */
#define MAX_DEPTH 1000 /* depth of a tree, e.g. a + b + c + ... */

static const char *const reserved[] = {
	"and",  "or",      "not",  "is",    "null",     "true", "false",
	"in",   "between", "like", "ilike", "case",     "when", "then",
	"else", "end",     "cast", "as",    "distinct", "from", NULL
};

static bool is_reserved(const char *s)
{
	for (int i = 0; reserved[i]; i++)
		if (strcmp(s, reserved[i]) == 0)
			return true;
	return false;
}

struct node *xf_node_new(struct cns_arena *a, enum nkind k,
			 const struct token *at)
{
	struct node *n = cns_arena_zalloc(a, sizeof(*n));

	n->kind = k;
	if (at) {
		n->line = at->line;
		n->col = at->col;
		n->len = at->len;
	}
	n->slot = -1;
	return n;
}

static const struct token *peek(struct parser *p)
{
	return &p->v[p->i];
}

static const struct token *next(struct parser *p)
{
	const struct token *t = &p->v[p->i];

	if (t->k != T_EOF && t->k != T_NL)
		p->i++;
	return t;
}

static bool is_kw(const struct token *t, const char *kw)
{
	return t->k == T_IDENT && strcmp(t->text, kw) == 0;
}

static bool accept_kw(struct parser *p, const char *kw)
{
	if (is_kw(peek(p), kw)) {
		p->i++;
		return true;
	}
	return false;
}

/* How a token reads in a message: its source text, shortened. */
static const char *tok_show(struct parser *p, const struct token *t)
{
	size_t n = t->end - t->off;

	if (t->k == T_NL || t->k == T_EOF)
		return "end of line";
	if (n > 40)
		return cns_arena_printf(p->a, "%.*s...", 37,
					p->d->text + t->off);
	return cns_arena_strndup(p->a, p->d->text + t->off, n);
}

static bool at_end(const struct token *t)
{
	return t->k == T_NL || t->k == T_EOF;
}

/* Reports a syntax error at t, once per entry; returns NULL. */
static struct node *syntax(struct parser *p, const struct token *t,
			   const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static struct node *syntax(struct parser *p, const struct token *t,
			   const char *hint, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (p->failed)
		return NULL;
	p->failed = true;
	if (t->k == T_ERROR) {
		xf_diag_add(p->d, t->line, t->col, t->len, NULL, "%s", t->text);
		return NULL;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xf_diag_add(p->d, t->line, t->col, at_end(t) ? 1 : t->len, hint, "%s",
		    msg);
	return NULL;
}

/* "expected X, found Y" / "expected X at end of line". */
static struct node *expected(struct parser *p, const char *what)
{
	const struct token *t = peek(p);

	if (at_end(t))
		return syntax(p, t,
			      "a continued line must be indented deeper than "
			      "the line it continues",
			      "expected %s at end of line", what);
	return syntax(p, t, NULL, "expected %s, found \"%s\"", what,
		      tok_show(p, t));
}

static struct node *parse_expr(struct parser *p);
static struct node *parse_or(struct parser *p);
static struct node *parse_additive(struct parser *p);

static struct node *mk(struct parser *p, enum nkind k, const struct token *at,
		       int nargs)
{
	struct node *n = xf_node_new(p->a, k, at);

	n->nargs = nargs;
	n->args =
		nargs ? cns_arena_zalloc(p->a, (size_t)nargs * sizeof(*n->args))
		      : NULL;
	return n;
}

static struct node *mk2(struct parser *p, enum nkind k, const struct token *at,
			struct node *a, struct node *b)
{
	struct node *n = mk(p, k, at, 2);

	n->args[0] = a;
	n->args[1] = b;
	return n;
}

/* Growable argument list in the arena. */
struct nlist {
	struct node **v;
	int n, cap;
};

static void nl_push(struct parser *p, struct nlist *l, struct node *x)
{
	if (l->n == l->cap) {
		struct node **nv;

		l->cap = l->cap ? l->cap * 2 : 4;
		nv = cns_arena_alloc(p->a, (size_t)l->cap * sizeof(*nv));
		if (l->n)
			memcpy(nv, l->v, (size_t)l->n * sizeof(*nv));
		l->v = nv;
	}
	l->v[l->n++] = x;
}

static struct node *parse_type_cast(struct parser *p, struct node *x,
				    const struct token *at)
{
	struct node *c = mk(p, N_CAST, at, 1);
	const char *msg = NULL, *hint = NULL;
	char *sql = NULL;
	const struct token *t = peek(p);

	c->args[0] = x;
	if (xf_parse_type_name(p->v, p->n, &p->i, &c->ty, &sql, p->a, &msg,
			       &hint) < 0) {
		if (at_end(t) && !msg)
			return expected(p, "a type name");
		if (!msg)
			msg = cns_arena_printf(p->a,
					       "expected a type name, found "
					       "\"%s\"",
					       tok_show(p, t));
		return syntax(p, t, hint, "%s", msg);
	}
	c->text = sql;
	return c;
}

static struct node *parse_case(struct parser *p, const struct token *at)
{
	struct nlist l = { 0 };
	struct node *n = mk(p, N_CASE, at, 0), *x;

	if (is_kw(peek(p), "else") || is_kw(peek(p), "end"))
		return expected(p, "\"when\"");
	if (!is_kw(peek(p), "when")) {
		if (!(x = parse_expr(p)))
			return NULL;
		n->has_operand = true;
		nl_push(p, &l, x);
	}
	if (!is_kw(peek(p), "when"))
		return expected(p, "\"when\"");
	while (accept_kw(p, "when")) {
		if (!(x = parse_expr(p)))
			return NULL;
		nl_push(p, &l, x);
		if (!accept_kw(p, "then"))
			return expected(p, "\"then\"");
		if (!(x = parse_expr(p)))
			return NULL;
		nl_push(p, &l, x);
	}
	if (accept_kw(p, "else")) {
		if (!(x = parse_expr(p)))
			return NULL;
		nl_push(p, &l, x);
		n->has_else = true;
	}
	if (!accept_kw(p, "end")) {
		if (at_end(peek(p)))
			return syntax(p, at,
				      "a continued line must be indented "
				      "deeper than the line it continues",
				      "\"case\" without \"end\"");
		return expected(p, "\"end\"");
	}
	n->args = l.v;
	n->nargs = l.n;
	return n;
}

static struct node *parse_call(struct parser *p, const struct token *name)
{
	struct nlist l = { 0 };
	struct node *n = mk(p, N_FUNC, name, 0), *x;
	const struct token *open = next(p); /* ( */

	n->text = name->text;
	if (peek(p)->k != T_RPAREN) {
		for (;;) {
			if (!(x = parse_expr(p)))
				return NULL;
			nl_push(p, &l, x);
			if (peek(p)->k == T_COMMA) {
				next(p);
				continue;
			}
			break;
		}
	}
	if (peek(p)->k != T_RPAREN) {
		if (at_end(peek(p)))
			return syntax(p, open,
				      "a continued line must be indented "
				      "deeper than the line it continues",
				      "missing \")\" to close \"(\"");
		return expected(p, "\",\" or \")\"");
	}
	next(p);
	n->args = l.v;
	n->nargs = l.n;
	return n;
}

static struct node *parse_primary(struct parser *p)
{
	const struct token *t = peek(p);
	struct node *n;

	switch (t->k) {
	case T_STRING:
		next(p);
		n = xf_node_new(p->a, N_LIT, t);
		n->ty = XT_UNTYPED;
		n->lit.s = t->text;
		n->lit.n = (uint32_t)t->n;
		n->text = t->text;
		return n;
	case T_INT:
	case T_NUM:
		next(p);
		n = xf_node_new(p->a, N_LIT, t);
		n->text = t->text;
		n->ty = xt(t->k == T_INT ? CNS_T_INTEGER : CNS_T_NUMERIC);
		return n; /* value filled by the checker */
	case T_QIDENT:
		next(p);
		n = xf_node_new(p->a, N_COL, t);
		n->text = t->text;
		n->quoted = true;
		return n;
	case T_LPAREN: {
		const struct token *open = next(p);

		if (!(n = parse_expr(p)))
			return NULL;
		if (peek(p)->k != T_RPAREN) {
			if (at_end(peek(p)))
				return syntax(p, open,
					      "a continued line must be "
					      "indented deeper than the line "
					      "it continues",
					      "missing \")\" to close \"(\"");
			return expected(p, "\")\"");
		}
		next(p);
		return n;
	}
	case T_IDENT:
		if (is_kw(t, "null") || is_kw(t, "true") || is_kw(t, "false")) {
			next(p);
			n = xf_node_new(p->a, N_LIT, t);
			n->text = t->text;
			if (t->text[0] == 'n') {
				n->ty = XT_NULL;
				n->lit.null = true;
			} else {
				n->ty = xt(CNS_T_BOOLEAN);
				n->lit.i = t->text[0] == 't';
			}
			return n;
		}
		if (is_kw(t, "case")) {
			next(p);
			return parse_case(p, t);
		}
		if (is_kw(t, "cast")) {
			struct node *x;
			const struct token *open;

			next(p);
			if (peek(p)->k != T_LPAREN)
				return expected(p, "\"(\" after \"cast\"");
			open = next(p);
			if (!(x = parse_expr(p)))
				return NULL;
			if (!accept_kw(p, "as"))
				return expected(p, "\"as\" in cast");
			if (!(n = parse_type_cast(p, x, t)))
				return NULL;
			if (at_end(peek(p)))
				return syntax(p, open,
					      "a continued line must be "
					      "indented deeper than the line "
					      "it continues",
					      "missing \")\" to close \"(\"");
			if (peek(p)->k != T_RPAREN)
				return expected(p, "\")\" to close cast");
			next(p);
			return n;
		}
		if (is_reserved(t->text))
			return syntax(p, t, NULL,
				      "expected an expression, found \"%s\"",
				      tok_show(p, t));
		next(p);
		if (peek(p)->k == T_LPAREN)
			return parse_call(p, t);
		n = xf_node_new(p->a, N_COL, t);
		n->text = t->text;
		return n;
	case T_ERROR: return syntax(p, t, NULL, "%s", t->text);
	case T_EOF:
	case T_NL:
	case T_RPAREN:
	case T_COMMA:
	case T_LBRACK:
	case T_RBRACK:
	case T_EQ:
	case T_NE:
	case T_LT:
	case T_LE:
	case T_GT:
	case T_GE:
	case T_PLUS:
	case T_MINUS:
	case T_STAR:
	case T_SLASH:
	case T_PERCENT:
	case T_CONCAT:
	case T_CAST:
	case T_COLON:
	case T_DOT: break;
	}
	return expected(p, "an expression");
}

static struct node *parse_postfix(struct parser *p)
{
	struct node *n = parse_primary(p);

	while (n && peek(p)->k == T_CAST) {
		const struct token *at = next(p);

		n = parse_type_cast(p, n, at);
	}
	return n;
}

static struct node *parse_unary(struct parser *p)
{
	const struct token *t = peek(p);
	struct node *x, *n;

	if (t->k != T_MINUS && t->k != T_PLUS)
		return parse_postfix(p);
	next(p);
	if (p->nest >= MAX_NEST)
		return syntax(p, t, NULL, "expression nested too deeply");
	p->nest++;
	x = parse_unary(p);
	p->nest--;
	if (!x)
		return NULL;
	if (t->k == T_PLUS)
		return x;
	n = mk(p, N_NEG, t, 1);
	n->args[0] = x;
	return n;
}

static struct node *parse_mul(struct parser *p)
{
	struct node *l = parse_unary(p), *r;

	while (l) {
		const struct token *t = peek(p);

		if (t->k != T_STAR && t->k != T_SLASH && t->k != T_PERCENT)
			break;
		next(p);
		if (!(r = parse_unary(p)))
			return NULL;
		l = mk2(p, N_ARITH, t, l, r);
		l->op = t->k;
	}
	return l;
}

static struct node *parse_additive(struct parser *p)
{
	struct node *l = parse_mul(p), *r;

	while (l) {
		const struct token *t = peek(p);

		if (t->k != T_PLUS && t->k != T_MINUS)
			break;
		next(p);
		if (!(r = parse_mul(p)))
			return NULL;
		l = mk2(p, N_ARITH, t, l, r);
		l->op = t->k;
	}
	return l;
}

static struct node *parse_concat(struct parser *p)
{
	struct node *l = parse_additive(p), *r;

	while (l && peek(p)->k == T_CONCAT) {
		const struct token *t = next(p);

		if (!(r = parse_additive(p)))
			return NULL;
		l = mk2(p, N_CONCAT, t, l, r);
	}
	return l;
}

/* [not] in (...), [not] between a and b, [not] like / ilike */
static struct node *parse_pred(struct parser *p)
{
	struct node *l = parse_concat(p), *n, *x;
	const struct token *t;
	bool neg = false;

	if (!l)
		return NULL;
	t = peek(p);
	if (is_kw(t, "not") && (is_kw(&p->v[p->i + 1], "in") ||
				is_kw(&p->v[p->i + 1], "between") ||
				is_kw(&p->v[p->i + 1], "like") ||
				is_kw(&p->v[p->i + 1], "ilike"))) {
		neg = true;
		next(p);
		t = peek(p);
	}
	if (is_kw(t, "in")) {
		struct nlist lst = { 0 };

		next(p);
		if (peek(p)->k != T_LPAREN)
			return expected(p, "\"(\" after \"in\"");
		next(p);
		nl_push(p, &lst, l);
		for (;;) {
			if (!(x = parse_expr(p)))
				return NULL;
			nl_push(p, &lst, x);
			if (peek(p)->k == T_COMMA) {
				next(p);
				continue;
			}
			break;
		}
		if (peek(p)->k != T_RPAREN)
			return expected(p, "\",\" or \")\" in the list");
		next(p);
		n = xf_node_new(p->a, N_IN, t);
		n->args = lst.v;
		n->nargs = lst.n;
		n->neg = neg;
		return n;
	}
	if (is_kw(t, "between")) {
		struct node *lo, *hi;

		next(p);
		if (!(lo = parse_concat(p)))
			return NULL;
		if (!accept_kw(p, "and"))
			return expected(p, "\"and\" in \"between\"");
		if (!(hi = parse_concat(p)))
			return NULL;
		n = mk(p, N_BETWEEN, t, 3);
		n->args[0] = l;
		n->args[1] = lo;
		n->args[2] = hi;
		n->neg = neg;
		return n;
	}
	if (is_kw(t, "like") || is_kw(t, "ilike")) {
		next(p);
		if (!(x = parse_concat(p)))
			return NULL;
		n = mk2(p, N_LIKE, t, l, x);
		n->neg = neg;
		n->op = t->text[0] == 'i';
		return n;
	}
	return l;
}

static struct node *parse_cmp(struct parser *p)
{
	struct node *l = parse_pred(p), *r;
	const struct token *t;

	if (!l)
		return NULL;
	t = peek(p);
	switch (t->k) {
	case T_EQ:
	case T_NE:
	case T_LT:
	case T_LE:
	case T_GT:
	case T_GE:
		next(p);
		if (!(r = parse_pred(p)))
			return NULL;
		l = mk2(p, N_CMP, t, l, r);
		l->op = t->k;
		t = peek(p);
		if (t->k == T_EQ || t->k == T_NE || t->k == T_LT ||
		    t->k == T_LE || t->k == T_GT || t->k == T_GE)
			return syntax(p, t,
				      "use \"and\" to combine comparisons",
				      "comparison operators cannot be chained");
		return l;
	default: return l;
	}
}

static struct node *parse_is(struct parser *p)
{
	struct node *l = parse_cmp(p), *n;

	while (l && is_kw(peek(p), "is")) {
		const struct token *t = next(p);
		bool neg = accept_kw(p, "not");

		if (accept_kw(p, "null")) {
			n = mk(p, N_ISNULL, t, 1);
			n->args[0] = l;
			n->neg = neg;
			l = n;
		} else if (accept_kw(p, "distinct")) {
			struct node *r;

			if (!accept_kw(p, "from"))
				return expected(p, "\"from\" after "
						   "\"distinct\"");
			if (!(r = parse_cmp(p)))
				return NULL;
			n = mk2(p, N_DISTINCT, t, l, r);
			n->neg = neg;
			l = n;
		} else if (is_kw(peek(p), "true") || is_kw(peek(p), "false")) {
			/* x is [not] true: x = true treating NULL as
			 * false (resp. true). */
			const struct token *b = next(p);
			struct node *lit = xf_node_new(p->a, N_LIT, b), *cmp;

			lit->ty = xt(CNS_T_BOOLEAN);
			lit->lit.i = b->text[0] == 't';
			lit->text = b->text;
			cmp = mk2(p, N_DISTINCT, t, l, lit);
			cmp->neg = !neg; /* is true = is not distinct from */
			l = cmp;
		} else {
			return expected(p, neg ? "\"null\" after \"is not\""
					       : "\"null\" or \"not null\" "
						 "after \"is\"");
		}
	}
	return l;
}

static struct node *parse_not(struct parser *p)
{
	const struct token *t = peek(p);

	if (is_kw(t, "not")) {
		struct node *n, *x;

		next(p);
		if (p->nest >= MAX_NEST)
			return syntax(p, t, NULL,
				      "expression nested too deeply");
		p->nest++;
		x = parse_not(p);
		p->nest--;
		if (!x)
			return NULL;
		n = mk(p, N_NOT, t, 1);
		n->args[0] = x;
		return n;
	}
	return parse_is(p);
}

static struct node *parse_and(struct parser *p)
{
	struct node *l = parse_not(p), *r;

	while (l && is_kw(peek(p), "and")) {
		const struct token *t = next(p);

		if (!(r = parse_not(p)))
			return NULL;
		l = mk2(p, N_AND, t, l, r);
	}
	return l;
}

static struct node *parse_expr(struct parser *p)
{
	struct node *l;

	if (p->nest >= MAX_NEST)
		return syntax(p, peek(p), NULL, "expression nested too deeply");
	p->nest++;
	l = parse_or(p);
	p->nest--;
	return l;
}

static struct node *parse_or(struct parser *p)
{
	struct node *l = parse_and(p), *r;

	while (l && is_kw(peek(p), "or")) {
		const struct token *t = next(p);

		if (!(r = parse_and(p)))
			return NULL;
		l = mk2(p, N_OR, t, l, r);
	}
	return l;
}

/* The first node deeper than MAX_DEPTH in tree n, or NULL.  Iterative:
 * the tree may be too deep to walk by recursion. */
static const struct node *too_deep(const struct node *n)
{
	struct item {
		const struct node *n;
		int depth;
	} * stack;
	int top = 0, cap = 64;
	const struct node *bad = NULL;

	stack = cns_xmalloc((size_t)cap * sizeof(*stack));
	stack[top++] = (struct item){ n, 1 };
	while (top && !bad) {
		struct item it = stack[--top];

		if (it.depth > MAX_DEPTH) {
			bad = it.n;
			break;
		}
		for (int i = 0; i < it.n->nargs; i++) {
			if (!it.n->args[i])
				continue;
			if (top == cap) {
				cap *= 2;
				stack = cns_xrealloc(
					stack, (size_t)cap * sizeof(*stack));
			}
			stack[top++] =
				(struct item){ it.n->args[i], it.depth + 1 };
		}
	}
	free(stack);
	return bad;
}

/* A whole expression that must end the entry (or stop at stop_colon). */
static struct node *parse_entry_expr(struct parser *p, bool stop_colon)
{
	struct node *n = parse_expr(p);
	const struct token *t = peek(p);
	const struct node *deep;

	if (!n)
		return NULL;
	if ((deep = too_deep(n)) != NULL) {
		if (!p->failed)
			xf_diag_add(p->d, deep->line, deep->col, deep->len,
				    NULL, "expression nested too deeply");
		p->failed = true;
		return NULL;
	}
	if (at_end(t) || (stop_colon && t->k == T_COLON))
		return n;
	if (t->k == T_RPAREN)
		return syntax(p, t, NULL, "unbalanced \")\"");
	return syntax(p, t, NULL, "unexpected \"%s\" after the expression",
		      tok_show(p, t));
}

struct node *xf_parse_expr_tokens(const struct token *v, int n, int *i,
				  struct cns_arena *a, struct diags *d)
{
	struct parser p = { v, n, *i, a, d, false, 0 };
	struct node *x = parse_entry_expr(&p, false);

	*i = p.i;
	return x;
}

/* ---- file structure ---- */

enum section_kind {
	SEC_NONE,
	SEC_SCHEMA,
	SEC_FROM,
	SEC_LOOKUP,
	SEC_BAD
};

struct fileparse {
	struct parser p;
	struct cns_transform *t;
	enum section_kind cur;
	struct section *sec;
	struct lookup *lk;
	int schema_line; /* 0 until [schema] is seen */
	int schema_cap, sec_cap, lk_cap;
};

static void skip_entry(struct parser *p)
{
	while (!at_end(peek(p)))
		p->i++;
}

static const char *name_token(struct fileparse *fp, const struct token *t)
{
	/* Section names keep their case: they name sources in the job. */
	if (t->k == T_IDENT)
		return cns_arena_strndup(fp->p.a, fp->p.d->text + t->off,
					 t->end - t->off);
	return t->text;
}

static void parse_header(struct fileparse *fp)
{
	struct parser *p = &fp->p;
	const struct token *open = next(p), *kw = peek(p), *name = NULL;
	static const char *const kinds[] = { "schema", "from", "lookup" };

	fp->cur = SEC_BAD;
	if (kw->k != T_IDENT) {
		expected(p, "\"schema\", \"from\" or \"lookup\" after \"[\"");
		return;
	}
	next(p);
	if (!strcmp(kw->text, "from") || !strcmp(kw->text, "lookup")) {
		name = peek(p);
		if (name->k != T_IDENT && name->k != T_QIDENT &&
		    name->k != T_STRING) {
			expected(p,
				 cns_arena_printf(p->a, "a name after \"%s\"",
						  kw->text));
			return;
		}
		next(p);
	} else if (strcmp(kw->text, "schema") != 0) {
		const char *near = xf_closest_name(kw->text, kinds, 3);

		syntax(p, kw,
		       near ? cns_arena_printf(p->a, "did you mean \"%s\"?",
					       near)
			    : "sections are [schema], [from NAME] and "
			      "[lookup NAME]",
		       "unknown section \"%s\"", kw->text);
		return;
	}
	if (peek(p)->k != T_RBRACK) {
		expected(p, "\"]\"");
		return;
	}
	next(p);
	if (!at_end(peek(p))) {
		syntax(p, peek(p), NULL, "unexpected \"%s\" after \"]\"",
		       tok_show(p, peek(p)));
		return;
	}
	if (!strcmp(kw->text, "schema")) {
		if (fp->schema_line) {
			syntax(p, open, NULL,
			       "duplicate section [schema] (first at line %d)",
			       fp->schema_line);
			return;
		}
		fp->schema_line = open->line;
		fp->cur = SEC_SCHEMA;
		return;
	}
	if (!strcmp(kw->text, "from")) {
		const char *nm = name_token(fp, name);
		struct section *s;

		for (int i = 0; i < fp->t->nsections; i++)
			if (!cns_strcasecmp(fp->t->sections[i].name, nm)) {
				syntax(p, open, NULL,
				       "duplicate section [from %s] (first at "
				       "line %d)",
				       nm, fp->t->sections[i].line);
				return;
			}
		if (fp->t->nsections == fp->sec_cap) {
			fp->sec_cap = fp->sec_cap ? fp->sec_cap * 2 : 4;
			fp->t->sections =
				cns_xrealloc(fp->t->sections,
					     (size_t)fp->sec_cap * sizeof(*s));
		}
		s = &fp->t->sections[fp->t->nsections++];
		memset(s, 0, sizeof(*s));
		s->name = (char *)nm;
		s->line = open->line;
		s->col = open->col;
		fp->sec = s;
		fp->cur = SEC_FROM;
		return;
	}
	{
		const char *nm = name_token(fp, name);
		struct lookup *l;

		for (int i = 0; i < fp->t->nlookups; i++)
			if (!cns_strcasecmp(fp->t->lookups[i].name, nm)) {
				syntax(p, open, NULL,
				       "duplicate section [lookup %s] (first "
				       "at line %d)",
				       nm, fp->t->lookups[i].line);
				return;
			}
		if (fp->t->nlookups == fp->lk_cap) {
			fp->lk_cap = fp->lk_cap ? fp->lk_cap * 2 : 4;
			fp->t->lookups =
				cns_xrealloc(fp->t->lookups,
					     (size_t)fp->lk_cap * sizeof(*l));
		}
		l = &fp->t->lookups[fp->t->nlookups++];
		memset(l, 0, sizeof(*l));
		l->name = cns_xstrdup(nm);
		l->line = open->line;
		fp->lk = l;
		fp->cur = SEC_LOOKUP;
	}
}

static void parse_schema_col(struct fileparse *fp)
{
	struct parser *p = &fp->p;
	struct cns_schema *sc = &fp->t->schema;
	const struct token *name = peek(p), *tt;
	struct cns_schema_col col;
	struct xtype ty;
	const char *msg = NULL, *hint = NULL;
	char *sql = NULL;
	struct node *def = NULL;
	bool seen_null = false;

	if (name->k != T_IDENT && name->k != T_QIDENT) {
		expected(p, "a column name");
		return;
	}
	if (name->k == T_IDENT && is_reserved(name->text)) {
		syntax(p, name, "write it in double quotes",
		       "\"%s\" is a reserved word", name->text);
		return;
	}
	next(p);
	tt = peek(p);
	if (at_end(tt)) {
		syntax(p, tt, NULL, "expected a type after column \"%s\"",
		       name->text);
		return;
	}
	if (xf_parse_type_name(p->v, p->n, &p->i, &ty, &sql, p->a, &msg,
			       &hint) < 0) {
		syntax(p, tt, hint, "%s",
		       msg ? msg
			   : cns_arena_printf(p->a,
					      "expected a type after column "
					      "\"%s\", found \"%s\"",
					      name->text, tok_show(p, tt)));
		return;
	}
	memset(&col, 0, sizeof(col));
	while (!at_end(peek(p))) {
		const struct token *m = peek(p);

		if (is_kw(m, "not") && is_kw(&p->v[p->i + 1], "null")) {
			p->i += 2;
			if (seen_null) {
				syntax(p, m, NULL,
				       "conflicting null and not null");
				return;
			}
			col.not_null = true;
			seen_null = true;
		} else if (is_kw(m, "null")) {
			next(p);
			if (seen_null) {
				syntax(p, m, NULL,
				       "conflicting null and not null");
				return;
			}
			seen_null = true;
		} else if (is_kw(m, "default")) {
			next(p);
			if (at_end(peek(p))) {
				expected(p, "an expression after \"default\"");
				return;
			}
			if (!(def = parse_entry_expr(p, false)))
				return;
		} else {
			syntax(p, m, "expected not null, null or default",
			       "unexpected \"%s\" after the type",
			       tok_show(p, m));
			return;
		}
	}
	for (int i = 0; i < sc->ncols; i++)
		if (!strcmp(sc->cols[i].name, name->text)) {
			syntax(p, name, NULL,
			       "duplicate column \"%s\" (first at line %d)",
			       name->text, sc->cols[i].line);
			return;
		}
	if (sc->ncols == fp->schema_cap) {
		fp->schema_cap = fp->schema_cap ? fp->schema_cap * 2 : 16;
		sc->cols = cns_xrealloc(sc->cols, (size_t)fp->schema_cap *
							  sizeof(*sc->cols));
		fp->t->defaults = cns_xrealloc(
			fp->t->defaults,
			(size_t)fp->schema_cap * sizeof(*fp->t->defaults));
	}
	col.name = (char *)name->text;
	col.type_sql = sql;
	col.type = ty.t;
	col.precision = ty.p;
	col.scale = ty.s;
	col.line = name->line;
	fp->t->defaults[sc->ncols] = def;
	sc->cols[sc->ncols++] = col;
}

/* Adds a rule to the current [from] section. */
static void add_rule(struct fileparse *fp, struct rule **v, int *n,
		     struct node *e, struct node *msg, int line)
{
	*v = cns_xrealloc(*v, (size_t)(*n + 1) * sizeof(**v));
	(*v)[*n].expr = e;
	(*v)[*n].msg = msg;
	(*v)[*n].line = line;
	(*n)++;
}

static void parse_from_entry(struct fileparse *fp)
{
	struct parser *p = &fp->p;
	const struct token *key = peek(p);
	struct node *e, *msg = NULL;

	if (key->k != T_IDENT && key->k != T_QIDENT) {
		expected(p, "a target column name, \"where\" or "
			    "\"reject_if\"");
		return;
	}
	next(p);
	if (peek(p)->k != T_EQ) {
		expected(p, cns_arena_printf(p->a, "\"=\" after \"%s\"",
					     key->text));
		return;
	}
	next(p);
	if (at_end(peek(p))) {
		expected(p, "an expression after \"=\"");
		return;
	}
	if (key->k == T_IDENT && !strcmp(key->text, "reject_if")) {
		if (!(e = parse_entry_expr(p, true)))
			return;
		if (peek(p)->k == T_COLON) {
			next(p);
			if (at_end(peek(p))) {
				expected(p, "a message after \":\"");
				return;
			}
			if (!(msg = parse_entry_expr(p, false)))
				return;
		}
		add_rule(fp, &fp->sec->rejects, &fp->sec->nrejects, e, msg,
			 key->line);
		return;
	}
	if (!(e = parse_entry_expr(p, false)))
		return;
	if (key->k == T_IDENT && !strcmp(key->text, "where")) {
		add_rule(fp, &fp->sec->where, &fp->sec->nwhere, e, NULL,
			 key->line);
		return;
	}
	{
		struct maplist *m = cns_arena_zalloc(p->a, sizeof(*m)), **tail;

		m->target = key->text;
		m->quoted = key->k == T_QIDENT;
		m->line = key->line;
		m->col = key->col;
		m->len = key->len;
		m->expr = e;
		/* kept in order: the checker reports in file order */
		tail = &fp->sec->pending;
		while (*tail)
			tail = &(*tail)->next;
		*tail = m;
	}
}

static void parse_lookup_entry(struct fileparse *fp)
{
	struct parser *p = &fp->p;
	const struct token *key = peek(p), *v, *last;

	if (key->k != T_IDENT) {
		expected(p, "\"file\"");
		return;
	}
	next(p);
	if (strcmp(key->text, "file") != 0) {
		syntax(p, key, "a lookup section has one key: file",
		       "unknown key \"%s\" in [lookup %s]", key->text,
		       fp->lk->name);
		return;
	}
	if (peek(p)->k != T_EQ) {
		expected(p, "\"=\" after \"file\"");
		return;
	}
	next(p);
	v = peek(p);
	if (at_end(v)) {
		expected(p, "a file name after \"=\"");
		return;
	}
	if (v->k == T_STRING) {
		fp->lk->path = cns_xstrdup(v->text);
		next(p);
		if (!at_end(peek(p)))
			syntax(p, peek(p), NULL,
			       "unexpected \"%s\" after the file name",
			       tok_show(p, peek(p)));
		return;
	}
	/* An unquoted path is taken as written up to the end of the line. */
	last = v;
	while (!at_end(peek(p)))
		last = next(p);
	free(fp->lk->path);
	fp->lk->path = cns_xstrdup(cns_arena_strndup(p->a, p->d->text + v->off,
						     last->end - v->off));
}

void xf_parse_file(struct cns_transform *t, const char *text, size_t len,
		   struct diags *d)
{
	struct tokens toks;
	struct fileparse fp;

	memset(&fp, 0, sizeof(fp));
	xf_lex_file(text, len, &t->arena, &toks);
	fp.p.v = toks.v;
	fp.p.n = toks.n;
	fp.p.a = &t->arena;
	fp.p.d = d;
	fp.t = t;
	while (peek(&fp.p)->k != T_EOF) {
		const struct token *first = peek(&fp.p);

		fp.p.failed = false;
		if (first->k == T_NL) {
			fp.p.i++;
			continue;
		}
		if (first->k == T_LBRACK) {
			parse_header(&fp);
		} else {
			switch (fp.cur) {
			case SEC_NONE:
				syntax(&fp.p, first,
				       "a transform file starts with [schema]",
				       "entry outside of any section");
				break;
			case SEC_SCHEMA: parse_schema_col(&fp); break;
			case SEC_FROM: parse_from_entry(&fp); break;
			case SEC_LOOKUP: parse_lookup_entry(&fp); break;
			case SEC_BAD:
				/* the header was reported already */
				break;
			}
			if (fp.p.failed && fp.cur == SEC_SCHEMA)
				t->schema_broken = true;
			if (fp.p.failed && fp.cur == SEC_FROM)
				fp.sec->broken = true;
			if (fp.p.failed && fp.cur == SEC_LOOKUP)
				fp.lk->broken = true;
		}
		skip_entry(&fp.p);
	}
	if (!fp.schema_line)
		xf_diag_add(d, 1, 1, 1, "declare the target columns first",
			    "missing [schema] section");
	else if (t->schema.ncols == 0 && !t->schema_broken)
		xf_diag_add(d, fp.schema_line, 1, 8, NULL,
			    "[schema] declares no columns");
	for (int i = 0; i < t->nlookups; i++)
		if (!t->lookups[i].path && !t->lookups[i].broken)
			xf_diag_add(d, t->lookups[i].line, 1, 1, NULL,
				    "[lookup %s] has no \"file\"",
				    t->lookups[i].name);
	free(toks.v);
}
