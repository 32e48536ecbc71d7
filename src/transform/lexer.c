/*
 * lexer.c - splits a transform file into tokens.
 *
 * The file is line oriented: one entry ("name = expression", a schema
 * column, a section header) per line.  An entry continues on the
 * following lines while they are indented deeper than the line that began
 * it; the lexer marks the end of each entry with a T_NL token, so the
 * parser never has to think about layout.  Blank lines and comment lines
 * (first non-blank character '#', ';' or "--") are skipped; '#' and "--"
 * also end a line anywhere outside a string.  Strings do not span lines.
 *
 * Positions are counted in characters (UTF-8 sequences), 1-based, so that
 * carets line up under multibyte text.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <ctype.h>
#include <string.h>

struct lexer {
	const char *s;
	size_t len;
	struct cns_arena *arena;
	struct token *v;
	int n, cap;
};

static void push(struct lexer *lx, const struct token *t)
{
	if (lx->n == lx->cap) {
		lx->cap = lx->cap ? lx->cap * 2 : 256;
		lx->v = cns_xrealloc(lx->v, (size_t)lx->cap * sizeof(*lx->v));
	}
	lx->v[lx->n++] = *t;
}

const char *xf_tok_name(enum tok k)
{
	switch (k) {
	case T_EOF: return "end of file";
	case T_NL: return "end of line";
	case T_IDENT: return "name";
	case T_QIDENT: return "quoted name";
	case T_STRING: return "string";
	case T_INT: return "integer";
	case T_NUM: return "number";
	case T_LPAREN: return "(";
	case T_RPAREN: return ")";
	case T_COMMA: return ",";
	case T_LBRACK: return "[";
	case T_RBRACK: return "]";
	case T_EQ: return "=";
	case T_NE: return "<>";
	case T_LT: return "<";
	case T_LE: return "<=";
	case T_GT: return ">";
	case T_GE: return ">=";
	case T_PLUS: return "+";
	case T_MINUS: return "-";
	case T_STAR: return "*";
	case T_SLASH: return "/";
	case T_PERCENT: return "%";
	case T_CONCAT: return "||";
	case T_CAST: return "::";
	case T_COLON: return ":";
	case T_DOT: return ".";
	case T_ERROR: return "error";
	}
	return "?";
}

static bool is_ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool is_ident_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Characters between byte offsets a and b of one line. */
static int chars_between(const char *s, size_t a, size_t b)
{
	int n = 0;

	for (size_t i = a; i < b; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* Indentation width of the line starting at `at` (tabs to multiples of
 * 8), and the offset of its first non-blank byte. */
static int indent_of(const char *s, size_t len, size_t at, size_t *first)
{
	int w = 0;
	size_t i = at;

	while (i < len && (s[i] == ' ' || s[i] == '\t')) {
		w = s[i] == '\t' ? (w / 8 + 1) * 8 : w + 1;
		i++;
	}
	*first = i;
	return w;
}

static bool line_is_blank_or_comment(const char *s, size_t len, size_t i)
{
	if (i >= len || s[i] == '\n' || s[i] == '\r')
		return true;
	if (s[i] == '#' || s[i] == ';')
		return true;
	return s[i] == '-' && i + 1 < len && s[i + 1] == '-';
}

static void error_tok(struct lexer *lx, struct token *t, const char *fmt,
		      const char *arg)
{
	t->k = T_ERROR;
	t->text = cns_arena_printf(lx->arena, fmt, arg);
	t->n = strlen(t->text);
	push(lx, t);
}

/* Tokenizes the bytes [i, eol) of one line; line_start is the offset of
 * the line, for columns. */
static void lex_line(struct lexer *lx, int lineno, size_t line_start, size_t i,
		     size_t eol)
{
	const char *s = lx->s;
	/* The column is counted on from the last token, not from the start
	 * of the line each time: a long line must not cost its square. */
	size_t col_at = line_start;
	int col = 0;

	while (i < eol) {
		unsigned char c = (unsigned char)s[i];
		struct token t;
		size_t j;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
		    c == '\v') {
			i++;
			continue;
		}
		if (c == '#' || (c == '-' && i + 1 < eol && s[i + 1] == '-'))
			return;
		memset(&t, 0, sizeof(t));
		t.line = lineno;
		col += chars_between(s, col_at, i);
		col_at = i;
		t.col = col + 1;
		t.off = i;
		if (is_ident_start(c)) {
			char *p;

			for (j = i;
			     j < eol && is_ident_char((unsigned char)s[j]); j++)
				;
			p = cns_arena_strndup(lx->arena, s + i, j - i);
			for (char *q = p; *q; q++)
				*q = (char)tolower((unsigned char)*q);
			t.k = T_IDENT;
			t.text = p;
			t.n = j - i;
		} else if (isdigit(c) || (c == '.' && i + 1 < eol &&
					  isdigit((unsigned char)s[i + 1]))) {
			bool num = false;

			for (j = i; j < eol && isdigit((unsigned char)s[j]);
			     j++)
				;
			if (j < eol && s[j] == '.') {
				num = true;
				for (j++;
				     j < eol && isdigit((unsigned char)s[j]);
				     j++)
					;
			}
			if (j < eol && (s[j] == 'e' || s[j] == 'E')) {
				size_t k = j + 1;

				if (k < eol && (s[k] == '+' || s[k] == '-'))
					k++;
				if (k < eol && isdigit((unsigned char)s[k])) {
					num = true;
					for (j = k;
					     j < eol &&
					     isdigit((unsigned char)s[j]);
					     j++)
						;
				}
			}
			t.end = j;
			if (j < eol && is_ident_char((unsigned char)s[j])) {
				while (j < eol &&
				       is_ident_char((unsigned char)s[j]))
					j++;
				t.end = j;
				t.len = chars_between(s, i, j);
				error_tok(lx, &t,
					  "trailing junk after number \"%s\"",
					  cns_arena_strndup(lx->arena, s + i,
							    j - i));
				i = j;
				continue;
			}
			t.k = num ? T_NUM : T_INT;
			t.text = cns_arena_strndup(lx->arena, s + i, j - i);
			t.n = j - i;
		} else if (c == '\'' || c == '"') {
			struct cns_buf b;
			bool closed = false;

			cns_buf_init(&b);
			for (j = i + 1; j < eol; j++) {
				if (s[j] == (char)c) {
					if (j + 1 < eol &&
					    s[j + 1] == (char)c) {
						cns_buf_addc(&b, (char)c);
						j++;
						continue;
					}
					closed = true;
					j++;
					break;
				}
				cns_buf_addc(&b, s[j]);
			}
			t.end = j;
			t.len = chars_between(s, i, j);
			if (!closed) {
				cns_buf_release(&b);
				t.len = 1;
				error_tok(lx, &t, "%s",
					  c == '\''
						  ? "unterminated quoted string"
						  : "unterminated quoted name");
				return;
			}
			if (c == '"' && b.len == 0) {
				cns_buf_release(&b);
				error_tok(lx, &t, "%s",
					  "zero-length quoted name");
				i = j;
				continue;
			}
			t.k = c == '\'' ? T_STRING : T_QIDENT;
			t.text = cns_arena_strndup(lx->arena,
						   b.data ? b.data : "", b.len);
			t.n = b.len;
			cns_buf_release(&b);
			push(lx, &t);
			i = j;
			continue;
		} else {
			size_t two = i + 1 < eol ? 2 : 1;

			j = i + 1;
			t.k = T_ERROR;
			if (two == 2) {
				j = i + 2;
				if (c == '|' && s[i + 1] == '|')
					t.k = T_CONCAT;
				else if (c == ':' && s[i + 1] == ':')
					t.k = T_CAST;
				else if (c == '<' && s[i + 1] == '>')
					t.k = T_NE;
				else if (c == '!' && s[i + 1] == '=')
					t.k = T_NE;
				else if (c == '<' && s[i + 1] == '=')
					t.k = T_LE;
				else if (c == '>' && s[i + 1] == '=')
					t.k = T_GE;
				else
					j = i + 1;
			}
			if (t.k == T_ERROR) {
				switch (c) {
				case '(': t.k = T_LPAREN; break;
				case ')': t.k = T_RPAREN; break;
				case ',': t.k = T_COMMA; break;
				case '[': t.k = T_LBRACK; break;
				case ']': t.k = T_RBRACK; break;
				case '=': t.k = T_EQ; break;
				case '<': t.k = T_LT; break;
				case '>': t.k = T_GT; break;
				case '+': t.k = T_PLUS; break;
				case '-': t.k = T_MINUS; break;
				case '*': t.k = T_STAR; break;
				case '/': t.k = T_SLASH; break;
				case '%': t.k = T_PERCENT; break;
				case ':': t.k = T_COLON; break;
				case '.': t.k = T_DOT; break;
				default: break;
				}
			}
			if (t.k == T_ERROR) {
				size_t k = xf_utf8_step(s + i, eol - i);

				t.end = i + k;
				t.len = 1;
				error_tok(lx, &t, "unexpected character \"%s\"",
					  cns_arena_strndup(lx->arena, s + i,
							    k));
				i += k;
				continue;
			}
			t.text = xf_tok_name(t.k);
			t.n = strlen(t.text);
		}
		t.end = j;
		t.len = chars_between(s, i, j);
		push(lx, &t);
		i = j;
	}
}

void xf_lex_file(const char *s, size_t len, struct cns_arena *arena,
		 struct tokens *out)
{
	struct lexer lx = { s, len, arena, NULL, 0, 0 };
	size_t at = 0;
	int lineno = 0;
	bool open = false, entry_header = false;
	int entry_indent = 0;
	struct token t;

	/* A UTF-8 byte order mark is not part of the first line. */
	if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		at = 3;
	while (at < len) {
		const char *nl = memchr(s + at, '\n', len - at);
		size_t eol = nl ? (size_t)(nl - s) : len;
		size_t line_start = at, first;
		int indent;

		lineno++;
		indent = indent_of(s, eol, at, &first);
		if (!line_is_blank_or_comment(s, eol, first)) {
			bool header = s[first] == '[';

			/* a section header is never continued */
			if (open && (header || entry_header ||
				     indent <= entry_indent)) {
				memset(&t, 0, sizeof(t));
				t.k = T_NL;
				t.line = lx.n ? lx.v[lx.n - 1].line : lineno;
				t.col = lx.n ? lx.v[lx.n - 1].col +
							lx.v[lx.n - 1].len
					     : 1;
				t.off = t.end = lx.n ? lx.v[lx.n - 1].end : at;
				t.text = "";
				push(&lx, &t);
				open = false;
			}
			if (!open) {
				open = true;
				entry_indent = indent;
				entry_header = header;
			}
			lex_line(&lx, lineno, line_start, first, eol);
		}
		at = nl ? eol + 1 : len;
	}
	memset(&t, 0, sizeof(t));
	t.line = lx.n ? lx.v[lx.n - 1].line : 1;
	t.col = lx.n ? lx.v[lx.n - 1].col + lx.v[lx.n - 1].len : 1;
	t.off = t.end = lx.n ? lx.v[lx.n - 1].end : len;
	t.text = "";
	if (open) {
		t.k = T_NL;
		push(&lx, &t);
	}
	t.k = T_EOF;
	push(&lx, &t);
	out->v = lx.v;
	out->n = lx.n;
}
