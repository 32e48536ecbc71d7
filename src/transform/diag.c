/*
 * diag.c - compile-time diagnostics of the transform language: collected
 * while parsing and checking so that one run reports every problem in a
 * file, each with file:line:column, the source line and a caret line.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xf_diag_add(struct diags *d, int line, int col, int len, const char *hint,
		 const char *fmt, ...)
{
	struct diag *g;
	struct cns_buf b;
	va_list ap;

	/* The same problem found twice (e.g. by two passes) is said once. */
	cns_buf_init(&b);
	va_start(ap, fmt);
	cns_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	for (int i = 0; i < d->n; i++)
		if (d->v[i].line == line && d->v[i].col == col &&
		    strcmp(d->v[i].msg, b.data ? b.data : "") == 0) {
			cns_buf_release(&b);
			return;
		}
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->v = cns_xrealloc(d->v, (size_t)d->cap * sizeof(*d->v));
	}
	g = &d->v[d->n];
	g->line = line;
	g->col = col > 0 ? col : 1;
	g->len = len > 0 ? len : 1;
	g->msg = b.data ? b.data : cns_xstrdup("");
	g->hint = hint ? cns_xstrdup(hint) : NULL;
	g->seq = d->n;
	d->n++;
}

void xf_diag_release(struct diags *d)
{
	for (int i = 0; i < d->n; i++) {
		free(d->v[i].msg);
		free(d->v[i].hint);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The bytes of line `line` (1-based) of the text. */
static const char *line_at(const struct diags *d, int line, size_t *len)
{
	const char *s = d->text, *end = d->text + d->textlen;

	if (!s)
		return NULL;
	for (int l = 1; l < line && s < end; l++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));

		if (!nl)
			return NULL;
		s = nl + 1;
	}
	if (s >= end && line > 1)
		return NULL;
	{
		const char *nl = memchr(s, '\n', (size_t)(end - s));

		*len = nl ? (size_t)(nl - s) : (size_t)(end - s);
	}
	if (*len && s[*len - 1] == '\r')
		(*len)--;
	return s;
}

void xf_diag_format(const struct diags *d, const struct diag *g,
		    struct cns_buf *b)
{
	const char *src;
	size_t len = 0, i = 0;
	int ch = 1;

	cns_buf_printf(b, "%s:%d:%d: %s\n", d->file, g->line, g->col, g->msg);
	src = line_at(d, g->line, &len);
	if (!src)
		return;
	/* A very long line is shown as a window around the column. */
	if (len > 160 && g->col > 60) {
		size_t skip = 0;
		int dropped = 0;

		while (skip < len && dropped < g->col - 40) {
			skip += xf_utf8_step(src + skip, len - skip);
			dropped++;
		}
		cns_buf_adds(b, "  ...");
		src += skip;
		len -= skip;
		if (len > 120)
			len = 120;
		cns_buf_add(b, src, len);
		cns_buf_adds(b, "\n     ");
		for (int k = 1; k < g->col - dropped; k++)
			cns_buf_addc(b, ' ');
		cns_buf_addc(b, '^');
		for (int k = 1; k < g->len && k < 120; k++)
			cns_buf_addc(b, '~');
		if (g->hint)
			cns_buf_printf(b, " %s", g->hint);
		cns_buf_addc(b, '\n');
		return;
	}
	if (len > 160)
		len = 160;
	cns_buf_adds(b, "  ");
	cns_buf_add(b, src, len);
	cns_buf_adds(b, "\n  ");
	/* Tabs are copied so that the caret lines up whatever the tab
	 * width of the terminal. */
	while (i < len && ch < g->col) {
		size_t k = xf_utf8_step(src + i, len - i);

		cns_buf_addc(b, src[i] == '\t' ? '\t' : ' ');
		i += k;
		ch++;
	}
	cns_buf_addc(b, '^');
	for (int k = 1; k < g->len; k++)
		cns_buf_addc(b, '~');
	if (g->hint)
		cns_buf_printf(b, " %s", g->hint);
	cns_buf_addc(b, '\n');
}

int xf_diag_report(struct diags *d, struct cns_error *err)
{
	struct cns_buf b;
	struct diag *g;
	int shown = 0;

	if (d->n == 0)
		return 0;
	qsort(d->v, (size_t)d->n, sizeof(*d->v), diag_cmp);
	g = &d->v[0];
	cns_error_set(err, CNS_E_CONFIG, "%s", g->msg);
	cns_error_at(err, d->file, g->line, g->col);
	if (g->hint)
		cns_error_hint(err, "%s", g->hint);
	cns_buf_init(&b);
	for (int i = 0; i < d->n; i++) {
		size_t before = b.len;

		xf_diag_format(d, &d->v[i], &b);
		/* err->detail is a fixed buffer: stop at a whole entry and
		 * say how many more there are. */
		if (err && b.len + 40 >= sizeof(err->detail)) {
			b.len = before;
			b.data[b.len] = '\0';
			cns_buf_printf(&b, "... and %d more errors\n",
				       d->n - shown);
			break;
		}
		shown++;
	}
	if (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	if (err && b.data)
		cns_error_detail(err, "%s", b.data);
	cns_buf_release(&b);
	return -1;
}

const char *xf_closest_name(const char *name, const char *const *cands, int n)
{
	const char *best = NULL;
	int bestd = 1 << 30;
	int len = (int)strlen(name);
	int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;

	for (int i = 0; i < n; i++) {
		int dist;

		if (!cands[i])
			continue;
		dist = cns_edit_distance(name, cands[i]);
		if (dist < bestd) {
			bestd = dist;
			best = cands[i];
		}
	}
	return bestd <= limit ? best : NULL;
}
