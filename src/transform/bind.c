/*
 * bind.c - the public face of the transform language: loading a file,
 * binding a section to a source's real columns, running the resulting
 * program over chunks, and explaining it.
 *
 * Row processing order, per source row:
 *   1. every `where` rule, on the source columns: not true -> filtered;
 *   2. every `reject_if` rule: true -> rejected with its message;
 *   3. every schema column: its mapping (or default, or NULL) cast to the
 *      column type, then NOT NULL; a failure rejects the row with a
 *      reason that names the column.
 * A subexpression used more than once in these steps is computed at its
 * first use and its value (or failure) reused for the rest of the row
 * (share.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void section_release(struct section *s)
{
	free(s->refs);
	free(s->ref_quoted);
	free(s->ref_at);
	free(s->where);
	free(s->rejects);
}

void cns_transform_free(struct cns_transform *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nsections; i++)
		section_release(&t->sections[i]);
	section_release(&t->implicit);
	free(t->sections);
	for (int i = 0; i < t->nlookups; i++)
		xf_lookup_release(&t->lookups[i]);
	free(t->lookups);
	free(t->schema.cols);
	free(t->defaults);
	free(t->regex_nodes);
	free(t->shared_nodes);
	cns_arena_release(&t->arena);
	free(t->text);
	free(t->file);
	free(t->dir);
	free(t);
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (!slash)
		return cns_xstrdup(".");
	if (slash == path)
		return cns_xstrdup("/");
	d = cns_xmalloc((size_t)(slash - path) + 1);
	memcpy(d, path, (size_t)(slash - path));
	d[slash - path] = '\0';
	return d;
}

int cns_transform_parse(const char *name, const char *text,
			int64_t run_start_us, struct cns_transform **out,
			struct cns_error *err)
{
	struct cns_transform *t = cns_xcalloc(1, sizeof(*t));
	struct diags d;

	*out = NULL;
	t->file = cns_xstrdup(name);
	t->dir = dir_of(name);
	t->textlen = strlen(text);
	t->text = cns_xstrdup(text);
	t->run_start_us = run_start_us;
	cns_arena_init(&t->arena, 64 * 1024);
	memset(&d, 0, sizeof(d));
	d.file = t->file;
	d.text = t->text;
	d.textlen = t->textlen;
	xf_parse_file(t, t->text, t->textlen, &d);
	for (int i = 0; i < t->nlookups; i++) {
		struct lookup *l = &t->lookups[i];
		char *path;

		if (!l->path)
			continue;
		/* relative to the transform file, not to the working
		 * directory of whoever runs the job */
		path = l->path[0] == '/' ? l->path
					 : cns_arena_printf(&t->arena, "%s/%s",
							    t->dir, l->path);
		xf_lookup_load(l, path, &d, l->line, 1);
	}
	if (t->schema.ncols > 0)
		xf_check_transform(t, &d);
	if (d.n > 0) {
		xf_diag_report(&d, err);
		xf_diag_release(&d);
		cns_transform_free(t);
		return -1;
	}
	xf_diag_release(&d);
	if (t->schema.ncols > 0)
		xf_share_transform(t);
	*out = t;
	return 0;
}

int cns_transform_load(const char *path, int64_t run_start_us,
		       struct cns_transform **out, struct cns_error *err)
{
	FILE *f = fopen(path, "rb");
	struct cns_buf b;
	char buf[65536];
	size_t n;
	int rc;

	*out = NULL;
	if (!f)
		return cns_error_set(err, CNS_E_CONFIG,
				     "could not open transform file \"%s\": %s",
				     path, strerror(errno));
	cns_buf_init(&b);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		cns_buf_add(&b, buf, n);
		if (b.len > 64 * 1024 * 1024) {
			fclose(f);
			cns_buf_release(&b);
			return cns_error_set(err, CNS_E_CONFIG,
					     "transform file \"%s\" is larger "
					     "than 64 MB",
					     path);
		}
	}
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		cns_buf_release(&b);
		return cns_error_set(err, CNS_E_CONFIG,
				     "could not read transform file \"%s\": "
				     "%s",
				     path, strerror(e));
	}
	fclose(f);
	if (b.len && memchr(b.data, '\0', b.len)) {
		cns_buf_release(&b);
		return cns_error_set(err, CNS_E_CONFIG,
				     "transform file \"%s\" contains a zero "
				     "byte",
				     path);
	}
	rc = cns_transform_parse(path, b.data ? b.data : "", run_start_us, out,
				 err);
	cns_buf_release(&b);
	return rc;
}

const struct cns_schema *cns_transform_schema(const struct cns_transform *t)
{
	return &t->schema;
}

static const struct section *find_section(const struct cns_transform *t,
					  const char *source)
{
	for (int i = 0; i < t->nsections; i++)
		if (!cns_strcasecmp(t->sections[i].name, source))
			return &t->sections[i];
	return NULL;
}

bool cns_transform_has_source(const struct cns_transform *t, const char *source)
{
	return find_section(t, source) != NULL;
}

const char *const *cns_transform_source_columns(const struct cns_transform *t,
						const char *source, int *n)
{
	const struct section *s = find_section(t, source);

	if (!s)
		s = &t->implicit;
	*n = s->nrefs;
	return (const char *const *)s->refs;
}

void cns_program_free(struct cns_program *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nregex; i++) {
		regfree(&p->regex[i]);
		if (p->ascii_ok[i])
			regfree(&p->regex_ascii[i]);
	}
	free(p->regex);
	free(p->regex_ascii);
	free(p->ascii_ok);
	for (int i = 0; i < p->ncols; i++)
		free(p->colnames[i]);
	free(p->colnames);
	free(p->colmap);
	free(p->out);
	free(p->source);
	cns_arena_release(&p->scratch);
	cns_buf_release(&p->work);
	xf_tz_free(p->tz);
	free(p->trusted);
	free(p->coltypes);
	free(p->shared);
	free(p);
}

int cns_transform_bind(const struct cns_transform *t, const char *source,
		       int ncols, const char *const *colnames,
		       struct cns_program **out, struct cns_error *err)
{
	const struct section *s = find_section(t, source);
	struct cns_program *p = cns_xcalloc(1, sizeof(*p));
	struct diags d;

	*out = NULL;
	if (!s)
		s = &t->implicit;
	memset(&d, 0, sizeof(d));
	d.file = t->file;
	d.text = t->text;
	d.textlen = t->textlen;
	p->t = t;
	p->sec = s;
	p->source = cns_xstrdup(source);
	p->ncols = ncols;
	p->colnames = cns_xcalloc((size_t)ncols + 1, sizeof(*p->colnames));
	for (int i = 0; i < ncols; i++)
		p->colnames[i] = cns_xstrdup(colnames[i]);
	p->colmap = cns_xcalloc((size_t)s->nrefs + 1, sizeof(*p->colmap));
	for (int r = 0; r < s->nrefs; r++) {
		int found = -1;

		for (int i = 0; i < ncols && found < 0; i++)
			if (s->ref_quoted[r]
				    ? !strcmp(colnames[i], s->refs[r])
				    : !cns_strcasecmp(colnames[i], s->refs[r]))
				found = i;
		/* an unquoted name that matches no column case-blind may
		 * still match a quoted one exactly */
		p->colmap[r] = found;
		if (found < 0 && !s->implicit) {
			const struct node *at = s->ref_at[r];
			const char *near = xf_closest_name(
				s->refs[r], (const char *const *)colnames,
				ncols);
			char hint[256];

			snprintf(hint, sizeof(hint), "did you mean \"%s\"?",
				 near ? near : "");
			xf_diag_add(&d, at->line, at->col, at->len,
				    near ? hint : NULL,
				    "unknown column \"%s\" in source \"%s\"",
				    s->refs[r], source);
		}
	}
	p->out = cns_xcalloc((size_t)t->schema.ncols + 1, sizeof(*p->out));
	for (int i = 0; i < t->schema.ncols; i++) {
		p->out[i] = s->out[i];
		/* no source column of that name: the default, else NULL */
		if (s->implicit && p->colmap[i] < 0)
			p->out[i] = t->defaults[i];
	}
	p->regex = cns_xcalloc((size_t)t->nregex + 1, sizeof(*p->regex));
	p->regex_ascii =
		cns_xcalloc((size_t)t->nregex + 1, sizeof(*p->regex_ascii));
	p->ascii_ok = cns_xcalloc((size_t)t->nregex + 1, sizeof(bool));
	for (int i = 0; i < t->nregex; i++) {
		const struct node *n = t->regex_nodes[i];
		const struct rxinfo *rx = n->aux;

		/* validated at load: this cannot fail but for memory */
		if (xf_regcomp(&p->regex[i], rx->pattern, rx->cflags) != 0) {
			xf_diag_add(&d, n->line, n->col, n->len, NULL,
				    "could not compile the regular expression");
			break;
		}
		p->ascii_ok[i] =
			xf_is_ascii(rx->pattern, strlen(rx->pattern)) &&
			regcomp(&p->regex_ascii[i], rx->pattern, rx->cflags) ==
				0;
		p->nregex++;
	}
	cns_arena_init(&p->scratch, 64 * 1024);
	cns_buf_init(&p->work);
	p->shared = cns_xcalloc((size_t)t->nshared + 1, sizeof(*p->shared));
	if (d.n) {
		xf_diag_report(&d, err);
		cns_error_in_source(err, source);
		xf_diag_release(&d);
		cns_program_free(p);
		return -1;
	}
	xf_diag_release(&d);
	*out = p;
	return 0;
}

int cns_program_set_timezone(struct cns_program *p, const char *zone,
			     struct cns_error *err)
{
	struct tzinfo *tz = xf_tz_load(zone, err);

	if (!tz)
		return -1;
	xf_tz_free(p->tz);
	p->tz = tz;
	return 0;
}

/* ---- trusted columns ---- */

/* The type of a column as PostgreSQL's format_type() writes it
 * ("timestamp with time zone", "numeric(12,2)", "character varying(20)");
 * false for anything else. */
static bool pg_type(const char *name, struct xtype *ty)
{
	static const struct {
		const char *name;
		enum cns_type t;
	} names[] = {
		{ "text", CNS_T_TEXT },
		{ "smallint", CNS_T_SMALLINT },
		{ "integer", CNS_T_INTEGER },
		{ "bigint", CNS_T_BIGINT },
		{ "real", CNS_T_REAL },
		{ "double precision", CNS_T_DOUBLE },
		{ "boolean", CNS_T_BOOLEAN },
		{ "date", CNS_T_DATE },
		{ "time without time zone", CNS_T_TIME },
		{ "timestamp without time zone", CNS_T_TIMESTAMP },
		{ "timestamp with time zone", CNS_T_TIMESTAMPTZ },
		{ "uuid", CNS_T_UUID },
		{ "json", CNS_T_JSON },
		{ "jsonb", CNS_T_JSONB },
		{ "bytea", CNS_T_BYTEA },
		{ "numeric", CNS_T_NUMERIC },
	};
	int a, b;

	memset(ty, 0, sizeof(*ty));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0) {
			ty->t = names[i].t;
			return true;
		}
	if (sscanf(name, "numeric(%d,%d)", &a, &b) == 2) {
		ty->t = CNS_T_NUMERIC;
		ty->p = a;
		ty->s = b;
		return true;
	}
	if (sscanf(name, "character varying(%d)", &a) == 1) {
		ty->t = CNS_T_VARCHAR;
		ty->p = a;
		return true;
	}
	return false;
}

void cns_program_set_column_types(struct cns_program *p,
				  const char *const *coltypes)
{
	free(p->coltypes);
	p->coltypes = NULL;
	if (!coltypes)
		return;
	p->coltypes = cns_xcalloc((size_t)p->ncols + 1, sizeof(*p->coltypes));
	for (int i = 0; i < p->ncols; i++) {
		struct xtype ty;

		p->coltypes[i] = CNS_T_UNKNOWN;
		if (!coltypes[i])
			continue;
		if (pg_type(coltypes[i], &ty))
			p->coltypes[i] = ty.t;
		else if (!strcmp(coltypes[i], "timestamp"))
			p->coltypes[i] = CNS_T_TIMESTAMP;
		else if (!strcmp(coltypes[i], "timestamptz"))
			p->coltypes[i] = CNS_T_TIMESTAMPTZ;
		else if (!strcmp(coltypes[i], "time"))
			p->coltypes[i] = CNS_T_TIME;
	}
}

/* The column an output expression passes on when its value is not NULL:
 * through casts and the first argument of coalesce(); NULL when the
 * expression is anything else.  Whether the casts keep the value is
 * keeps_text()'s question. */
static const struct node *column_through(const struct node *n)
{
	while (n) {
		if (n->kind == N_COL)
			return n;
		if (n->kind == N_CAST && n->nargs == 1)
			n = n->args[0];
		else if (n->kind == N_FUNC && n->fn && n->nargs >= 1 &&
			 strcmp(n->fn->name, "coalesce") == 0)
			n = n->args[0];
		else
			return NULL;
	}
	return NULL;
}

/* True when a value of the source type from prints exactly as a value of
 * type t(prec, scale): the same type, precision and scale, a wider
 * integer, or a numeric with more digits and the same scale. */
static bool same_text(struct xtype from, enum cns_type t, int prec, int scale)
{
	if (from.t == t && from.p == prec && from.s == scale)
		return true;
	switch (from.t) {
	case CNS_T_SMALLINT: return t == CNS_T_INTEGER || t == CNS_T_BIGINT;
	case CNS_T_INTEGER: return t == CNS_T_BIGINT;
	case CNS_T_NUMERIC:
		return t == CNS_T_NUMERIC && from.p > 0 && prec >= from.p &&
		       scale == from.s;
	default: return false;
	}
}

/* True when every step from column col up to expression top, and the
 * schema column's type, keep a non-NULL value's text as the source
 * printed it: then the value is already in the form the target reads,
 * and parsing it only to print it again would change nothing. */
static bool keeps_text(struct xtype from, const struct node *top,
		       const struct node *col, enum cns_type t, int prec,
		       int scale)
{
	if (!same_text(from, t, prec, scale))
		return false;
	for (const struct node *n = top; n && n != col; n = n->args[0])
		if (!same_text(from, n->ty.t, n->ty.p, n->ty.s))
			return false;
	return true;
}

void cns_program_trust_types(struct cns_program *p, const char *const *coltypes)
{
	const struct cns_schema *sc = &p->t->schema;

	free(p->trusted);
	p->trusted = cns_xcalloc((size_t)sc->ncols + 1, sizeof(int));
	for (int i = 0; i < sc->ncols; i++) {
		const struct node *n = p->out[i];
		struct xtype ty;
		int k;

		p->trusted[i] = -1;
		n = column_through(n);
		if (!n || !coltypes)
			continue;
		k = p->colmap[n->slot];
		if (k < 0 || !coltypes[k] || !pg_type(coltypes[k], &ty))
			continue;
		if (!keeps_text(ty, p->out[i], n, sc->cols[i].type,
				sc->cols[i].precision, sc->cols[i].scale))
			continue;
		p->trusted[i] = k;
	}
}

/* ---- running ---- */

static void reject(struct cns_program *p, const struct cns_chunk *in, int r,
		   const char *column, const char *reason,
		   cns_reject_fn on_reject, void *ctx,
		   struct cns_eval_stats *stats)
{
	struct cns_reject rj;

	stats->rejected++;
	if (!on_reject)
		return;
	rj.source = p->source;
	rj.rownum = in->rownum ? in->rownum[r] : r + 1;
	rj.origin = in->origin ? in->origin[r] : NULL;
	rj.column = column;
	rj.reason = reason;
	rj.values = cns_chunk_row(in, r);
	rj.nvalues = in->ncols;
	rj.colnames = (const char *const *)p->colnames;
	on_reject(ctx, &rj);
}

static const char *null_reason(struct cns_program *p, const char *col)
{
	return cns_arena_printf(&p->scratch,
				"null value in column \"%s\" violates not null",
				col);
}

/* Writes value v of type ty into the output cell; checks text. */
static int put_cell(struct ectx *c, struct cns_chunk *out, int row, int col,
		    const struct xval *v, struct xtype ty)
{
	char buf[64];
	const char *s;
	uint32_t n;

	switch (ty.t) {
	case CNS_T_BOOLEAN:
		cns_chunk_set(out, row, col, v->i ? "t" : "f", 1);
		return 0;
	case CNS_T_TEXT:
	case CNS_T_VARCHAR:
	case CNS_T_JSON:
	case CNS_T_JSONB:
	case CNS_T_UNKNOWN:
		if (xf_check_text(c, v->s, v->n) < 0)
			return -1;
		cns_chunk_set(out, row, col, v->s, v->n);
		return 0;
	case CNS_T_SMALLINT:
	case CNS_T_INTEGER:
	case CNS_T_BIGINT:
	case CNS_T_NUMERIC:
	case CNS_T_REAL:
	case CNS_T_DOUBLE:
	case CNS_T_DATE:
	case CNS_T_TIME:
	case CNS_T_TIMESTAMP:
	case CNS_T_TIMESTAMPTZ:
	case CNS_T_UUID:
	case CNS_T_BYTEA: break;
	}
	xf_value_text(c, v, ty, buf, &s, &n);
	cns_chunk_set(out, row, col, s, n);
	return 0;
}

int cns_program_run(struct cns_program *p, const struct cns_chunk *in,
		    struct cns_chunk *out, cns_reject_fn on_reject, void *ctx,
		    struct cns_eval_stats *stats, struct cns_error *err)
{
	const struct cns_transform *t = p->t;
	const struct section *s = p->sec;
	const struct cns_schema *sc = &t->schema;
	struct cns_eval_stats dummy = { 0, 0 };
	struct ectx c;

	if (!stats)
		stats = &dummy;
	if (out->ncols != sc->ncols)
		return cns_error_set(err, CNS_E_INTERNAL,
				     "output chunk has %d columns, the schema "
				     "%d",
				     out->ncols, sc->ncols);
	if (in->ncols != p->ncols)
		return cns_error_set(err, CNS_E_INTERNAL,
				     "input chunk has %d columns, the program "
				     "was bound to %d",
				     in->ncols, p->ncols);
	if (out->cap - out->nrows < in->nrows)
		return cns_error_set(err, CNS_E_INTERNAL,
				     "output chunk has room for %d rows, the "
				     "input has %d",
				     out->cap - out->nrows, in->nrows);
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.scratch = &p->scratch;
	c.tz = p->tz;
	for (int r = 0; r < in->nrows; r++) {
		bool keep = true;
		int orow;

		cns_arena_reset(&p->scratch);
		/* a new row: every shared value of the last one is stale */
		p->row_gen++;
		c.row = cns_chunk_row(in, r);
		c.rownum = in->rownum ? in->rownum[r] : r + 1;
		c.reason = NULL;
		for (int i = 0; i < s->nwhere && keep; i++) {
			int truth;

			if (xf_eval_bool(s->where[i].expr, &c, &truth) < 0) {
				reject(p, in, r, NULL,
				       cns_arena_printf(&p->scratch,
							"where: %s", c.reason),
				       on_reject, ctx, stats);
				keep = false;
				break;
			}
			if (truth != 1) {
				stats->filtered++;
				keep = false;
			}
		}
		if (!keep)
			continue;
		for (int i = 0; i < s->nrejects && keep; i++) {
			const struct rule *rl = &s->rejects[i];
			const char *reason = NULL;
			int truth;

			if (xf_eval_bool(rl->expr, &c, &truth) < 0) {
				reason = cns_arena_printf(
					&p->scratch, "reject_if: %s", c.reason);
			} else if (truth == 1) {
				struct xval m;

				m.null = true;
				if (rl->msg &&
				    rl->msg->eval(rl->msg, &c, &m) < 0)
					reason = cns_arena_printf(
						&p->scratch,
						"reject_if message: %s",
						c.reason);
				else if (!m.null)
					reason = cns_arena_strndup(&p->scratch,
								   m.s, m.n);
				else
					reason = cns_arena_printf(
						&p->scratch,
						"rejected by rule \"%s\"",
						rl->text);
			}
			if (reason) {
				reject(p, in, r, NULL, reason, on_reject, ctx,
				       stats);
				keep = false;
			}
		}
		if (!keep)
			continue;
		orow = cns_chunk_add_row(out, c.rownum,
					 in->origin ? in->origin[r] : NULL);
		for (int i = 0; i < sc->ncols; i++) {
			const struct node *n = p->out[i];
			struct xtype ty = { sc->cols[i].type,
					    sc->cols[i].precision,
					    sc->cols[i].scale, false };
			struct xval v;

			if (p->trusted && p->trusted[i] >= 0 &&
			    !c.row[p->trusted[i]].null) {
				const struct cns_cell *cell =
					&c.row[p->trusted[i]];

				cns_chunk_set(out, orow, i, cell->data,
					      cell->len);
				continue;
			}
			v.null = true;
			if (n && (n->eval(n, &c, &v) < 0 ||
				  (!v.null &&
				   put_cell(&c, out, orow, i, &v, ty) < 0))) {
				cns_chunk_drop_last(out);
				reject(p, in, r, sc->cols[i].name,
				       cns_arena_printf(
					       &p->scratch, "column \"%s\": %s",
					       sc->cols[i].name, c.reason),
				       on_reject, ctx, stats);
				keep = false;
				break;
			}
			if (v.null) {
				if (sc->cols[i].not_null) {
					cns_chunk_drop_last(out);
					reject(p, in, r, sc->cols[i].name,
					       null_reason(p, sc->cols[i].name),
					       on_reject, ctx, stats);
					keep = false;
					break;
				}
				cns_chunk_set_null(out, orow, i);
			}
		}
	}
	return 0;
}

bool cns_program_maps(const struct cns_program *p, const char *column)
{
	const struct cns_schema *sc = &p->t->schema;

	for (int i = 0; i < sc->ncols; i++)
		if (strcmp(sc->cols[i].name, column) == 0)
			return p->out[i] != NULL;
	return false;
}

/* ---- explain ---- */

void cns_program_explain(const struct cns_program *p, FILE *out)
{
	const struct cns_transform *t = p->t;
	const struct section *s = p->sec;
	struct cns_buf b;

	cns_buf_init(&b);
	for (int i = 0; i < s->nwhere; i++)
		cns_buf_printf(&b, "  where %s\n", s->where[i].text);
	for (int i = 0; i < s->nrejects; i++) {
		cns_buf_printf(&b, "  reject_if %s", s->rejects[i].text);
		if (s->rejects[i].msg) {
			cns_buf_adds(&b, " : ");
			xf_print_expr(&b, s->rejects[i].msg);
		}
		cns_buf_addc(&b, '\n');
	}
	for (int i = 0; i < t->schema.ncols; i++) {
		const struct cns_schema_col *col = &t->schema.cols[i];
		const struct node *m = s->map[i];

		cns_buf_printf(&b, "  %s %s <- ", col->name, col->type_sql);
		if (s->implicit && p->colmap[i] < 0)
			m = NULL;
		if (m) {
			xf_print_expr(&b, m);
		} else if (t->defaults[i]) {
			cns_buf_adds(&b, "default ");
			xf_print_expr(&b, t->defaults[i]);
		} else {
			cns_buf_adds(&b, "null");
		}
		cns_buf_addc(&b, '\n');
	}
	if (b.data)
		fputs(b.data, out);
	cns_buf_release(&b);
}
