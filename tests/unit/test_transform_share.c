/*
 * test_transform_share.c - common subexpressions (src/transform/share.c):
 * a subtree used more than once in a section is computed once per row,
 * and the rows come out exactly as when every use computes it (values,
 * NULLs, rejects with the same reason and column); subtrees that only
 * look alike (casts to different types, different literals or columns)
 * are kept apart; explain prints the mapping as written.
 */
#include "transform_helper.h"

#include "../../src/transform/internal.h"

#define MAXROWS 8

/* Source rows over columns a, b, c; XF_NULL for NULL. */
struct rows {
	int n;
	const char *v[MAXROWS][3];
};

static const char *const abc[] = { "a", "b", "c" };

/* Turns the sharing of t off: each use computes again, which is what a
 * tree without shared nodes does. */
static void share_off(struct cns_transform *t)
{
	for (int i = 0; i < t->nshared; i++) {
		struct node *n = t->shared_nodes[i];

		n->eval = n->inner;
		n->share = 0;
	}
}

struct result {
	char row[MAXROWS][512]; /* as xf_run_row writes a row */
	int nshared;
	int64_t computed, reused;
};

static void on_reject(void *ctx, const struct cns_reject *r)
{
	struct result *res = ctx;

	snprintf(res->row[r->rownum - 1], sizeof(res->row[0]), "REJECT(%s): %s",
		 r->column ? r->column : "-", r->reason);
}

/* Runs the section [from s] of text over the rows, in two chunks (the
 * first half and the rest), so that the values kept for the rows of one
 * chunk meet the rows of the next. */
static void run(const char *text, const struct rows *rows, bool shared,
		struct result *res)
{
	struct cns_transform *t;
	struct cns_program *p;
	struct cns_error err;
	const struct cns_schema *sc;

	memset(res, 0, sizeof(*res));
	cns_error_clear(&err);
	if (cns_transform_parse("share.xf", text, XF_NOW, &t, &err) < 0)
		fail_msg("compile: %s", err.message);
	if (!shared)
		share_off(t);
	res->nshared = t->nshared;
	assert_int_equal(cns_transform_bind(t, "s", 3, abc, &p, &err), 0);
	sc = cns_transform_schema(t);
	for (int from = 0, to; from < rows->n; from = to) {
		struct cns_chunk in, o;

		to = from < rows->n / 2 ? rows->n / 2 : rows->n;
		cns_chunk_init(&in, 3, MAXROWS);
		cns_chunk_init(&o, sc->ncols, MAXROWS);
		for (int r = from; r < to; r++) {
			int k = cns_chunk_add_row(&in, r + 1, NULL);

			for (int i = 0; i < 3; i++)
				if (rows->v[r][i] != XF_NULL)
					cns_chunk_set(&in, k, i, rows->v[r][i],
						      strlen(rows->v[r][i]));
			snprintf(res->row[r], sizeof(res->row[r]), "FILTERED");
		}
		assert_int_equal(cns_program_run(p, &in, &o, on_reject, res,
						 NULL, &err),
				 0);
		for (int k = 0; k < o.nrows; k++) {
			char *out = res->row[o.rownum[k] - 1];
			size_t at = 0, size = sizeof(res->row[0]);

			for (int i = 0; i < sc->ncols && at < size; i++) {
				const struct cns_cell *c =
					cns_chunk_row(&o, k) + i;

				at += (size_t)snprintf(
					out + at, size - at, "%s%.*s",
					i ? "|" : "", c->null ? 2 : (int)c->len,
					c->null ? "\\N" : c->data);
			}
		}
		cns_chunk_release(&in);
		cns_chunk_release(&o);
	}
	res->computed = p->shared_computed;
	res->reused = p->shared_reused;
	cns_program_free(p);
	cns_transform_free(t);
}

struct share_case {
	const char *text; /* schema and [from s] */
	int nshared;      /* slots expected */
	struct rows rows;
	const char *want[MAXROWS];
};

#define SCHEMA3 "[schema]\nx text\ny text\nz text\n[from s]\n"

static const struct share_case cases[] = {
	/* the benchmark's two: a column and the same text inside another */
	{ SCHEMA3 "x = lower(trim(a))\n"
		  "y = regexp_replace(lower(trim(a)), '^.*@[^.]*[.]', '')\n"
		  "z = regexp_replace(trim(b), '[^A-Za-z0-9]+', '-', 'g')"
		  " || '/' || trim(b)\n",
	  2,
	  { 5,
	    { { "  Ann@Mail.Example.COM ", " Ann  Lee ", "" },
	      { XF_NULL, XF_NULL, XF_NULL },
	      { "  ÉLODIE@Exämple.FR", " Élodie  Ölçer ", "" },
	      { "", "", "" },
	      { "X@Y.Z", "\t", "" } } },
	  { "ann@mail.example.com|example.com|Ann-Lee/Ann  Lee", "\\N|\\N|\\N",
	    "élodie@exämple.fr|fr|-lodie-l-er/Élodie  Ölçer", "||/",
	    "x@y.z|z|-/\t" } },
	/* nested: upper(trim(a)) is shared, and so is trim(a) under it,
	 * which the concatenation uses on its own as well */
	{ SCHEMA3 "x = upper(trim(a))\n"
		  "y = upper(trim(a)) || '<' || trim(a)\n"
		  "z = length(upper(trim(a)) || '<' || trim(a))\n",
	  3,
	  { 3,
	    { { " ab ", "", "" }, { XF_NULL, "", "" }, { " ßé ", "", "" } } },
	  { "AB|AB<ab|5", "\\N|\\N|\\N", "ßÉ|ßÉ<ßé|5" } },
	/* a failure: the first failing column is the one reported, with
	 * the same reason */
	{ SCHEMA3 "x = cast(a as integer) * 2\n"
		  "y = cast(a as integer) + 1\n"
		  "z = b\n",
	  1,
	  { 4,
	    { { "21", "k", "" },
	      { "abc", "k", "" },
	      { XF_NULL, XF_NULL, "" },
	      { "3000000000", "k", "" } } },
	  { "42|22|k", "REJECT(x): column \"x\": invalid integer \"abc\"",
	    "\\N|\\N|\\N",
	    "REJECT(x): column \"x\": value \"3000000000\" is out of range "
	    "for integer" } },
	/* a failure inside a branch that the first use does not take: the
	 * second use computes it and fails there */
	{ SCHEMA3 "x = case when b = '1' then cast(a as integer) else 0 end\n"
		  "y = case when b = '2' then cast(a as integer) else 1 end\n"
		  "z = coalesce(cast(a as integer), -1)\n",
	  1,
	  { 4,
	    { { "zz", "2", "" },
	      { "zz", "3", "" },
	      { "7", "2", "" },
	      { XF_NULL, "1", "" } } },
	  { "REJECT(y): column \"y\": invalid integer \"zz\"",
	    "REJECT(z): column \"z\": invalid integer \"zz\"", "0|7|7",
	    "\\N|1|-1" } },
	/* where and reject_if share with the columns */
	{ SCHEMA3 "x = trim(a)\n"
		  "y = upper(trim(a))\n"
		  "z = cast(cast(b as numeric) * 2 as text)\n"
		  "where = trim(a) <> ''\n"
		  "reject_if = cast(b as numeric) > 100 : 'big ' || trim(a)\n",
	  2,
	  { 5,
	    { { " q ", "1.5", "" },
	      { "   ", "1", "" },
	      { " r ", "101", "" },
	      { " s ", "x", "" },
	      { XF_NULL, "1", "" } } },
	  { "q|Q|3.0", "FILTERED", "REJECT(-): big r",
	    "REJECT(-): reject_if: invalid numeric \"x\"", "FILTERED" } },
	/* the same text in different types, literals or columns is not
	 * one subexpression */
	{ SCHEMA3 "x = cast(a as integer) || '/' || cast(a as bigint)\n"
		  "y = cast(a as numeric(6,1)) || '/' || "
		  "cast(a as numeric(7,2))\n"
		  "z = trim(a, 'x') || ltrim(a, 'x') || trim(b, 'x') || "
		  "trim(a, 'y')\n",
	  0,
	  { 2, { { "12", "x1x", "" }, { "x", "x", "" } } },
	  { "12/12|12.0/12.00|1212112",
	    "REJECT(x): column \"x\": invalid integer \"x\"" } },
	/* a NULL kept for the row is NULL at every use; not null sees it */
	{ "[schema]\nx text\ny text not null\nz text\n[from s]\n"
	  "x = nullif(trim(a), '')\n"
	  "y = nullif(trim(a), '')\n"
	  "z = c\n",
	  1,
	  { 3, { { " ", "", "" }, { " v ", "", "w" }, { XF_NULL, "", "" } } },
	  { "REJECT(y): null value in column \"y\" violates not null", "v|v|w",
	    "REJECT(y): null value in column \"y\" violates not null" } },
	/* source_row() is the row's number at every use of the row */
	{ SCHEMA3 "x = 'r' || source_row()\n"
		  "y = 'r' || source_row()\n"
		  "z = replace(a, 'a', 'bb') || replace(a, 'a', 'bb')\n",
	  2,
	  { 3, { { "a", "", "" }, { "ca", "", "" }, { "", "", "" } } },
	  { "r1|r1|bbbb", "r2|r2|cbbcbb", "r3|r3|" } },
};

static void test_same_rows_as_without_sharing(void **state)
{
	int failed = 0;
	(void)state;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct share_case *c = &cases[k];
		struct result on, off;

		run(c->text, &c->rows, true, &on);
		run(c->text, &c->rows, false, &off);
		if (on.nshared != c->nshared) {
			print_error("case %zu: %d shared, want %d\n", k,
				    on.nshared, c->nshared);
			failed++;
		}
		for (int r = 0; r < c->rows.n; r++) {
			if (strcmp(on.row[r], off.row[r]) != 0 ||
			    strcmp(on.row[r], c->want[r]) != 0) {
				print_error("case %zu row %d:\n  shared:   %s\n"
					    "  unshared: %s\n  want:     %s\n",
					    k, r, on.row[r], off.row[r],
					    c->want[r]);
				failed++;
			}
		}
		if (off.computed + off.reused != 0) {
			print_error("case %zu: sharing off still counts\n", k);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Each shared subtree runs once per row: the first use computes, the
 * others read. */
static void test_once_per_row(void **state)
{
	struct rows rows = { 6,
			     { { " A@B.C ", " x y ", "" },
			       { XF_NULL, XF_NULL, "" },
			       { "é@ü.de", "Zoë", "" },
			       { " A@B.C ", " x y ", "" },
			       { "", "", "" },
			       { "q", "r", "" } } };
	struct result res;
	(void)state;

	run(SCHEMA3 "x = lower(trim(a))\n"
		    "y = regexp_replace(lower(trim(a)), '^.*@', '')\n"
		    "z = trim(b) || '|' || regexp_replace(trim(b), ' ', '-')\n",
	    &rows, true, &res);
	assert_int_equal(res.nshared, 2);
	/* lower(trim(a)) and trim(b): computed once and read once each */
	assert_int_equal(res.computed, 2 * rows.n);
	assert_int_equal(res.reused, 2 * rows.n);
	assert_string_equal(res.row[0], "a@b.c|b.c|x y|x-y");
	assert_string_equal(res.row[2], "é@ü.de|ü.de|Zoë|Zoë");

	/* nested: trim(a) is computed inside upper() and read by the
	 * concatenation; upper(trim(a)) is computed for x, read for y */
	run(SCHEMA3 "x = upper(trim(a))\n"
		    "y = upper(trim(a)) || trim(a)\n"
		    "z = c\n",
	    &rows, true, &res);
	assert_int_equal(res.nshared, 2);
	assert_int_equal(res.computed, 2 * rows.n);
	assert_int_equal(res.reused, 2 * rows.n);

	/* a row that the where rule filters reads nothing it did not need:
	 * the rule computes trim(a), and no column runs */
	run(SCHEMA3 "x = trim(a)\ny = trim(a)\nz = c\nwhere = trim(a) = 'q'\n",
	    &rows, true, &res);
	assert_int_equal(res.nshared, 1);
	assert_int_equal(res.computed, rows.n);
	assert_int_equal(res.reused, 2);
	assert_string_equal(res.row[5], "q|q|");
}

/* explain prints each mapping as written, shared or not. */
static void test_explain_reads_as_written(void **state)
{
	struct cns_transform *t;
	struct cns_program *p;
	struct cns_error err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	(void)state;

	cns_error_clear(&err);
	assert_int_equal(
		cns_transform_parse(
			"e.xf",
			"[schema]\nemail text\ncountry text\nn integer\n"
			"k text\n"
			"[from s]\n"
			"email = lower(trim(a))\n"
			"country = regexp_replace(LOWER(trim(a)), '^.*@', '')\n"
			"n = cast(b as integer)\n"
			"k = cast(b as integer) || '-' || upper(trim(a))\n"
			"where = trim(a) <> ''\n"
			"reject_if = cast(b as integer) < 0 : 'neg'\n",
			XF_NOW, &t, &err),
		0);
	assert_int_equal(t->nshared, 3);
	assert_int_equal(cns_transform_bind(t, "s", 3, abc, &p, &err), 0);
	f = open_memstream(&buf, &len);
	cns_program_explain(p, f);
	fclose(f);
	assert_string_equal(
		buf,
		"  where trim(a) <> ''\n"
		"  reject_if cast(b as integer) < 0 : 'neg'\n"
		"  email text <- lower(trim(a))\n"
		"  country text <- regexp_replace(lower(trim(a)), "
		"'^.*@', '')\n"
		"  n integer <- cast(b as integer)\n"
		"  k text <- cast(b as integer) || '-' || upper(trim(a))\n");
	free(buf);
	cns_program_free(p);
	cns_transform_free(t);
}

/* Two programs of one transform keep their own values. */
static void test_programs_apart(void **state)
{
	struct cns_transform *t;
	struct cns_program *p[2];
	struct cns_error err;
	const char *vals[2] = { " one ", " two " };
	(void)state;

	cns_error_clear(&err);
	assert_int_equal(cns_transform_parse("p.xf",
					     SCHEMA3 "x = upper(trim(a))\n"
						     "y = upper(trim(a))\n"
						     "z = c\n",
					     XF_NOW, &t, &err),
			 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(
			cns_transform_bind(t, "s", 3, abc, &p[i], &err), 0);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 2; i++) {
			struct cns_chunk in, o;
			const struct cns_cell *c;
			const char *want = i ? "TWO" : "ONE";

			cns_chunk_init(&in, 3, 1);
			cns_chunk_init(&o, 3, 1);
			cns_chunk_add_row(&in, 1, NULL);
			cns_chunk_set(&in, 0, 0, vals[i], strlen(vals[i]));
			assert_int_equal(cns_program_run(p[i], &in, &o, NULL,
							 NULL, NULL, &err),
					 0);
			assert_int_equal(o.nrows, 1);
			for (int k = 0; k < 2; k++) {
				c = cns_chunk_row(&o, 0) + k;
				assert_int_equal(c->len, 3);
				assert_memory_equal(c->data, want, 3);
			}
			cns_chunk_release(&in);
			cns_chunk_release(&o);
		}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(p[i]->shared_computed, 3);
		assert_int_equal(p[i]->shared_reused, 3);
		cns_program_free(p[i]);
	}
	cns_transform_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_rows_as_without_sharing),
		cmocka_unit_test(test_once_per_row),
		cmocka_unit_test(test_explain_reads_as_written),
		cmocka_unit_test(test_programs_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
