/*
 * print.c - re-prints expressions in one canonical form, for `consolidate
 * plan` (cns_program_explain) and for messages that quote a rule: lower
 * case keywords, single spaces around operators, parentheses only where
 * precedence needs them, casts as cast(x as type), implicit casts hidden.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <ctype.h>
#include <string.h>

enum {
	P_OR = 1,
	P_AND,
	P_NOT,
	P_IS,
	P_CMP,
	P_PRED,
	P_CONCAT,
	P_ADD,
	P_MUL,
	P_NEG,
	P_PRIMARY
};

static int prec(const struct node *n)
{
	switch (n->kind) {
	case N_OR: return P_OR;
	case N_AND: return P_AND;
	case N_NOT: return P_NOT;
	case N_ISNULL:
	case N_DISTINCT: return P_IS;
	case N_CMP: return P_CMP;
	case N_IN:
	case N_BETWEEN:
	case N_LIKE: return P_PRED;
	case N_CONCAT: return P_CONCAT;
	case N_ARITH:
		return n->op == T_STAR || n->op == T_SLASH || n->op == T_PERCENT
			       ? P_MUL
			       : P_ADD;
	case N_NEG: return P_NEG;
	case N_LIT:
		/* a negative number prints like a unary minus */
		return n->text && n->text[0] == '-' ? P_NEG : P_PRIMARY;
	case N_COL:
	case N_FUNC:
	case N_CAST:
	case N_CASE: return P_PRIMARY;
	}
	return P_PRIMARY;
}

static bool plain_name(const char *s)
{
	static const char *const words[] = {
		"and",  "or",      "not",  "is",    "null",     "true", "false",
		"in",   "between", "like", "ilike", "case",     "when", "then",
		"else", "end",     "cast", "as",    "distinct", "from", NULL
	};

	if (!(islower((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) ||
		      isdigit((unsigned char)*p) || *p == '_' || *p == '$'))
			return false;
	for (int i = 0; words[i]; i++)
		if (!strcmp(s, words[i]))
			return false;
	return true;
}

static void print_name(struct cns_buf *b, const char *s)
{
	if (plain_name(s)) {
		cns_buf_adds(b, s);
		return;
	}
	cns_buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			cns_buf_addc(b, '"');
		cns_buf_addc(b, *s);
	}
	cns_buf_addc(b, '"');
}

static void print_string(struct cns_buf *b, const char *s, size_t n)
{
	cns_buf_addc(b, '\'');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'')
			cns_buf_addc(b, '\'');
		cns_buf_addc(b, s[i]);
	}
	cns_buf_addc(b, '\'');
}

static void pr(struct cns_buf *b, const struct node *n, int min);

static void list(struct cns_buf *b, struct node *const *v, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			cns_buf_adds(b, ", ");
		pr(b, v[i], 0);
	}
}

static void pr(struct cns_buf *b, const struct node *n, int min)
{
	int p;
	bool paren;

	while ((n->kind == N_CAST && n->implicit) || n->orig)
		n = n->kind == N_CAST ? n->args[0] : n->orig;
	p = prec(n);
	paren = p < min;
	if (paren)
		cns_buf_addc(b, '(');
	switch (n->kind) {
	case N_LIT:
		if (n->fn)
			cns_buf_printf(b, "%s()", n->fn->name);
		else if (n->lit.null && (!n->text || !strcmp(n->text, "null")))
			cns_buf_adds(b, "null");
		else if (n->ty.untyped)
			print_string(b, n->lit.s, n->lit.n);
		else
			cns_buf_adds(b, n->text);
		break;
	case N_COL: print_name(b, n->text); break;
	case N_FUNC:
		cns_buf_printf(b, "%s(", n->fn ? n->fn->name : n->text);
		list(b, n->args, n->nargs);
		cns_buf_addc(b, ')');
		break;
	case N_CAST: {
		char tn[64];

		cns_buf_adds(b, "cast(");
		pr(b, n->args[0], 0);
		cns_buf_printf(b, " as %s)",
			       xf_xtype_name(n->ty, tn, sizeof(tn)));
		break;
	}
	case N_ARITH:
		pr(b, n->args[0], p);
		cns_buf_printf(b, " %s ",
			       n->op == 'd' ? "-"
					    : xf_tok_name((enum tok)n->op));
		pr(b, n->args[1], p + 1);
		break;
	case N_NEG:
		cns_buf_addc(b, '-');
		pr(b, n->args[0], P_NEG + 1);
		break;
	case N_CONCAT:
		pr(b, n->args[0], p);
		cns_buf_adds(b, " || ");
		pr(b, n->args[1], p + 1);
		break;
	case N_CMP:
		pr(b, n->args[0], p + 1);
		cns_buf_printf(b, " %s ", xf_tok_name((enum tok)n->op));
		pr(b, n->args[1], p + 1);
		break;
	case N_AND:
	case N_OR:
		pr(b, n->args[0], p);
		cns_buf_adds(b, n->kind == N_AND ? " and " : " or ");
		pr(b, n->args[1], p + 1);
		break;
	case N_NOT:
		cns_buf_adds(b, "not ");
		pr(b, n->args[0], p);
		break;
	case N_ISNULL:
		pr(b, n->args[0], p + 1);
		cns_buf_adds(b, n->neg ? " is not null" : " is null");
		break;
	case N_DISTINCT:
		pr(b, n->args[0], p + 1);
		cns_buf_adds(b, n->neg ? " is not distinct from "
				       : " is distinct from ");
		pr(b, n->args[1], p + 1);
		break;
	case N_IN:
		pr(b, n->args[0], p + 1);
		cns_buf_adds(b, n->neg ? " not in (" : " in (");
		list(b, n->args + 1, n->nargs - 1);
		cns_buf_addc(b, ')');
		break;
	case N_BETWEEN:
		pr(b, n->args[0], p + 1);
		cns_buf_adds(b, n->neg ? " not between " : " between ");
		pr(b, n->args[1], P_CONCAT);
		cns_buf_adds(b, " and ");
		pr(b, n->args[2], P_CONCAT);
		break;
	case N_LIKE:
		pr(b, n->args[0], p + 1);
		cns_buf_adds(b, n->neg ? " not " : " ");
		cns_buf_adds(b, n->op ? "ilike " : "like ");
		pr(b, n->args[1], p + 1);
		break;
	case N_CASE: {
		int i = 0, end = n->nargs - (n->has_else ? 1 : 0);

		cns_buf_adds(b, "case");
		if (n->has_operand) {
			cns_buf_addc(b, ' ');
			pr(b, n->args[0], 0);
			i = 1;
		}
		for (; i + 1 < end; i += 2) {
			cns_buf_adds(b, " when ");
			pr(b, n->args[i], 0);
			cns_buf_adds(b, " then ");
			pr(b, n->args[i + 1], 0);
		}
		if (n->has_else) {
			cns_buf_adds(b, " else ");
			pr(b, n->args[n->nargs - 1], 0);
		}
		cns_buf_adds(b, " end");
		break;
	}
	}
	if (paren)
		cns_buf_addc(b, ')');
}

bool xf_print_sql_literal(struct cns_buf *b, const struct node *n)
{
	/* As written: past the checker's casts and folds (a folded
	 * expression is then no literal). */
	while ((n->kind == N_CAST && n->implicit) || n->orig)
		n = n->kind == N_CAST ? n->args[0] : n->orig;
	if (n->kind != N_LIT || n->fn || n->lit.null)
		return false;
	/* A string as SQL quotes it; a number or a boolean as written,
	 * which SQL reads the same way. */
	if (n->ty.untyped)
		print_string(b, n->lit.s, n->lit.n);
	else
		cns_buf_adds(b, n->text);
	return true;
}

void xf_print_expr(struct cns_buf *b, const struct node *n)
{
	pr(b, n, 0);
}
