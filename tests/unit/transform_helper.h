/*
 * transform_helper.h - helpers shared by the transform unit tests:
 * evaluate one expression against one row of named columns, and run a
 * whole transform text over rows given as strings.
 */
#ifndef CNS_TEST_TRANSFORM_HELPER_H
#define CNS_TEST_TRANSFORM_HELPER_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consolidate/chunk.h"
#include "consolidate/transform.h"

/* The run start of every test: 2024-05-06 07:08:09.123456 UTC. */
#define XF_NOW INT64_C(1714979289123456)

/* A cell value meaning SQL NULL in the helpers' row arrays. */
#define XF_NULL ((const char *)-1)

struct xf_reject_log {
	char reason[1024];
	char column[128];
	int count;
};

static inline void xf_on_reject(void *ctx, const struct cns_reject *r)
{
	struct xf_reject_log *log = ctx;

	if (log->count++ == 0) {
		snprintf(log->reason, sizeof(log->reason), "%s", r->reason);
		snprintf(log->column, sizeof(log->column), "%s",
			 r->column ? r->column : "");
	}
}

/* Runs transform `text` for source `source` over one row (ncols named
 * columns, values; XF_NULL for NULL), zone tz (or NULL).  Writes into out:
 * the output row as "v1|v2|..." with NULL spelled \N, or "FILTERED", or
 * "REJECT: reason", or "COMPILE: message", or "BIND: message". */
static inline void xf_run_row(const char *text, const char *source,
			      const char *tz, int ncols,
			      const char *const *names, const char *const *vals,
			      char *out, size_t size)
{
	struct cns_transform *t = NULL;
	struct cns_program *p = NULL;
	struct cns_error err;
	struct cns_chunk in, o;
	struct xf_reject_log log;
	struct cns_eval_stats st = { 0, 0 };
	const struct cns_schema *sc;
	int r;

	memset(&log, 0, sizeof(log));
	cns_error_clear(&err);
	if (cns_transform_parse("test.xf", text, XF_NOW, &t, &err) < 0) {
		snprintf(out, size, "COMPILE: %s", err.message);
		return;
	}
	if (cns_transform_bind(t, source, ncols, names, &p, &err) < 0) {
		snprintf(out, size, "BIND: %s", err.message);
		cns_transform_free(t);
		return;
	}
	if (tz && cns_program_set_timezone(p, tz, &err) < 0) {
		snprintf(out, size, "TZ: %s", err.message);
		cns_program_free(p);
		cns_transform_free(t);
		return;
	}
	sc = cns_transform_schema(t);
	cns_chunk_init(&in, ncols, 4);
	cns_chunk_init(&o, sc->ncols, 4);
	r = cns_chunk_add_row(&in, 7, "file.csv");
	for (int i = 0; i < ncols; i++)
		if (vals[i] != XF_NULL)
			cns_chunk_set(&in, r, i, vals[i], strlen(vals[i]));
	assert_int_equal(
		cns_program_run(p, &in, &o, xf_on_reject, &log, &st, &err), 0);
	if (o.nrows == 1) {
		size_t at = 0;

		out[0] = '\0';
		for (int i = 0; i < sc->ncols; i++) {
			const struct cns_cell *c = cns_chunk_row(&o, 0) + i;

			at += (size_t)snprintf(out + at, size - at, "%s%.*s",
					       i ? "|" : "",
					       c->null ? 2 : (int)c->len,
					       c->null ? "\\N" : c->data);
			if (at >= size)
				break;
		}
	} else if (log.count) {
		snprintf(out, size, "REJECT: %s", log.reason);
	} else {
		assert_int_equal(st.filtered, 1);
		snprintf(out, size, "FILTERED");
	}
	cns_chunk_release(&in);
	cns_chunk_release(&o);
	cns_program_free(p);
	cns_transform_free(t);
}

/* Evaluates `expr` (as a text result) against columns a, b, c, d with the
 * given values (XF_NULL for NULL).  The result is the value, "\N" for
 * NULL, "REJECT: reason" with the 'column "r": ' prefix removed, or
 * "COMPILE: message". */
static inline void xf_eval_tz(const char *expr, const char *tz, const char *a,
			      const char *b, const char *c, const char *d,
			      char *out, size_t size)
{
	static const char *const names[] = { "a", "b", "c", "d" };
	const char *vals[4] = { a, b, c, d };
	char text[4096];
	const char *prefix = "REJECT: column \"r\": ";

	snprintf(text, sizeof(text), "[schema]\nr text\n[from s]\nr = %s\n",
		 expr);
	xf_run_row(text, "s", tz, 4, names, vals, out, size);
	if (!strncmp(out, prefix, strlen(prefix)))
		memmove(out + 8, out + strlen(prefix),
			strlen(out) - strlen(prefix) + 1);
}

static inline void xf_eval(const char *expr, const char *a, const char *b,
			   const char *c, const char *d, char *out, size_t size)
{
	xf_eval_tz(expr, NULL, a, b, c, d, out, size);
}

/* One row of an expression table: the expression, up to four column
 * values (a..d; NULL pointers mean an empty list tail, XF_NULL a SQL
 * NULL) and the expected result. */
struct xf_case {
	const char *expr;
	const char *a, *b, *c, *d;
	const char *want;
};

static inline void xf_check_cases(const struct xf_case *cases, size_t n,
				  const char *tz)
{
	char got[2048];
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		const struct xf_case *k = &cases[i];

		xf_eval_tz(k->expr, tz, k->a ? k->a : XF_NULL,
			   k->b ? k->b : XF_NULL, k->c ? k->c : XF_NULL,
			   k->d ? k->d : XF_NULL, got, sizeof(got));
		if (strcmp(got, k->want) != 0) {
			print_error("case %zu: %s\n  want: %s\n  got:  %s\n", i,
				    k->expr, k->want, got);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

#endif
