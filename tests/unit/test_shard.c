/*
 * test_shard.c - the pure parts of sharding: the predicates a split
 * writes and the bounds it keeps.
 *
 * The range predicates are checked as a partition, not only as text: a
 * small evaluator reads the three forms the builder writes ("c <= 'b'",
 * "c > 'a' AND c <= 'b'", "c > 'a'") and, for every number of bounds
 * from 0 to 40 and every value around them, finds exactly one range that
 * holds it.  The server-side half (quantiles, NULL shard, the rows each
 * shard reads) is in tests/integration/t_shards.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/shard.h"

/* Reads "c OP 'n'" at *p; advances past it. */
static bool eval_cmp(const char **p, long v)
{
	const char *s = *p;
	long x;
	bool r;

	assert_true(strncmp(s, "c ", 2) == 0);
	s += 2;
	if (strncmp(s, "<= '", 4) == 0) {
		x = strtol(s + 4, (char **)&s, 10);
		r = v <= x;
	} else {
		assert_true(strncmp(s, "> '", 3) == 0);
		x = strtol(s + 3, (char **)&s, 10);
		r = v > x;
	}
	assert_int_equal(*s, '\'');
	*p = s + 1;
	return r;
}

static bool eval(const char *pred, long v)
{
	const char *p = pred;
	bool r = eval_cmp(&p, v);

	if (*p) {
		assert_true(strncmp(p, " AND ", 5) == 0);
		p += 5;
		r = eval_cmp(&p, v) && r;
	}
	assert_int_equal(*p, '\0');
	return r;
}

static void test_ranges_partition(void **state)
{
	(void)state;
	for (int nb = 1; nb <= 40; nb++) {
		char *bounds[40];
		int npred = nb + 1;
		char **preds = calloc((size_t)npred, sizeof(char *));

		for (int i = 0; i < nb; i++) {
			bounds[i] = malloc(16);
			/* Uneven gaps, as quantiles of a skewed column. */
			snprintf(bounds[i], 16, "'%d'", i * i * 3 - 50);
		}
		for (int i = 0; i < npred; i++)
			preds[i] = cns_shard_range_predicate(
				"c", (const char *const *)bounds, nb, i);
		for (long v = -60; v <= (long)nb * nb * 3 + 10; v++) {
			int hits = 0;

			for (int i = 0; i < npred; i++)
				hits += eval(preds[i], v);
			if (hits != 1)
				fail_msg("nb=%d value %ld is in %d ranges", nb,
					 v, hits);
		}
		for (int i = 0; i < npred; i++)
			free(preds[i]);
		for (int i = 0; i < nb; i++)
			free(bounds[i]);
		free(preds);
	}
}

static void test_range_text(void **state)
{
	const char *b[] = { "'10'", "'20'" };
	char *p;

	(void)state;
	p = cns_shard_range_predicate("\"id\"", b, 2, 0);
	assert_string_equal(p, "\"id\" <= '10'");
	free(p);
	p = cns_shard_range_predicate("\"id\"", b, 2, 1);
	assert_string_equal(p, "\"id\" > '10' AND \"id\" <= '20'");
	free(p);
	p = cns_shard_range_predicate("\"id\"", b, 2, 2);
	assert_string_equal(p, "\"id\" > '20'");
	free(p);
	/* No bound (one distinct value): one range, every non-NULL row. */
	p = cns_shard_range_predicate("\"id\"", b, 0, 0);
	assert_string_equal(p, "\"id\" IS NOT NULL");
	free(p);
	p = cns_shard_null_predicate("\"id\"");
	assert_string_equal(p, "\"id\" IS NULL");
	free(p);
}

static void test_hash_and_blocks(void **state)
{
	char *p;

	(void)state;
	for (int n = 1; n <= 64; n++)
		for (int i = 0; i < n; i++) {
			char want[200];

			p = cns_shard_hash_predicate("\"code\"", i, n);
			/* Shifted to 0..2^32-1 first: no negative shard
			 * number, no abs() of INT_MIN. */
			snprintf(want, sizeof(want),
				 "(hashtext((\"code\")::text)::bigint + "
				 "2147483648) %% %d = %d",
				 n, i);
			assert_string_equal(p, want);
			free(p);
		}
	p = cns_shard_blocks_predicate(0, 128);
	assert_string_equal(p, "ctid >= '(0,0)'::tid AND "
			       "ctid < '(128,0)'::tid");
	free(p);
	p = cns_shard_blocks_predicate(256, -1);
	assert_string_equal(p, "ctid >= '(256,0)'::tid");
	free(p);
}

static void test_unique_bounds(void **state)
{
	/* Quantiles of a skewed column repeat; each run of equal ones
	 * collapses to one, the order kept. */
	const char *in[] = { "'0'", "'0'", "'0'", "'5'", "'7'", "'7'", "'9'" };
	const char *want[] = { "'0'", "'5'", "'7'", "'9'" };
	char *b[7];
	int n;

	(void)state;
	for (int i = 0; i < 7; i++)
		b[i] = strdup(in[i]);
	n = cns_shard_unique_bounds(b, 7);
	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++) {
		assert_string_equal(b[i], want[i]);
		free(b[i]);
	}
	assert_int_equal(cns_shard_unique_bounds(b, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges_partition),
		cmocka_unit_test(test_range_text),
		cmocka_unit_test(test_hash_and_blocks),
		cmocka_unit_test(test_unique_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
