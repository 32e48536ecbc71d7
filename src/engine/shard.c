/*
 * shard.c - a job split into shards: the coordinator, one shard, the
 * finalize step, and local workers (see shard.h for the guarantees).
 */
#include "consolidate/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cns_shard_list_free(struct cns_shard_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i].predicate);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool cns_shard_enabled(const struct cns_job_conf *job)
{
	for (int i = 0; i < job->nsources; i++)
		if (job->sources[i].shards > 1)
			return true;
	return false;
}

/* ---- predicates ---- */

char *cns_shard_range_predicate(const char *col, const char *const *bounds,
				int nb, int i)
{
	struct cns_buf b;

	cns_buf_init(&b);
	if (nb == 0) {
		cns_buf_printf(&b, "%s IS NOT NULL", col);
		return b.data;
	}
	if (i > 0)
		cns_buf_printf(&b, "%s >= %s", col, bounds[i - 1]);
	if (i > 0 && i < nb)
		cns_buf_adds(&b, " AND ");
	if (i < nb)
		cns_buf_printf(&b, "%s < %s", col, bounds[i]);
	return b.data;
}

char *cns_shard_hash_predicate(const char *col, int i, int n)
{
	struct cns_buf b;

	/* hashtext() is int4: shifted into 0..2^32-1 before the modulo, so
	 * that no shard number is negative (abs() of INT_MIN overflows). */
	cns_buf_init(&b);
	cns_buf_printf(&b,
		       "(hashtext((%s)::text)::bigint + 2147483648) %% %d = %d",
		       col, n, i);
	return b.data;
}

char *cns_shard_blocks_predicate(int64_t lo, int64_t hi)
{
	struct cns_buf b;

	cns_buf_init(&b);
	cns_buf_printf(&b, "ctid >= '(%lld,0)'::tid", (long long)lo);
	if (hi >= 0)
		cns_buf_printf(&b, " AND ctid < '(%lld,0)'::tid",
			       (long long)hi);
	return b.data;
}

char *cns_shard_null_predicate(const char *col)
{
	struct cns_buf b;

	cns_buf_init(&b);
	cns_buf_printf(&b, "%s IS NULL", col);
	return b.data;
}

int cns_shard_unique_bounds(char **bounds, int nb)
{
	int n = 0;

	for (int i = 0; i < nb; i++) {
		if (n > 0 && strcmp(bounds[n - 1], bounds[i]) == 0) {
			free(bounds[i]);
			continue;
		}
		bounds[n++] = bounds[i];
	}
	return n;
}

/* ---- the steps ---- */

int cns_shard_split(const struct cns_job_conf *job, int index,
		    struct cns_shard_list *out, struct cns_error *err)
{
	return cns_error_set(err, CNS_E_INTERNAL, "shards are not built yet");
}

int cns_shard_coordinate(const struct cns_job_conf *job, bool keep_open,
			 char *run_id, size_t run_id_size, int *nshards,
			 struct cns_error *err)
{
	return cns_error_set(err, CNS_E_INTERNAL, "shards are not built yet");
}

int cns_shard_run(const struct cns_job_conf *job, const char *run_id,
		  int shard, struct cns_error *err)
{
	return cns_error_set(err, CNS_E_INTERNAL, "shards are not built yet");
}

int cns_shard_finalize(const struct cns_job_conf *job, const char *run_id,
		       int64_t *rows, struct cns_error *err)
{
	return cns_error_set(err, CNS_E_INTERNAL, "shards are not built yet");
}

int cns_shard_run_local(const struct cns_job_conf *job, int workers,
			atomic_int *signal_flag, char *run_id,
			size_t run_id_size, struct cns_error *err)
{
	return cns_error_set(err, CNS_E_INTERNAL, "shards are not built yet");
}

void cns_shard_release(const struct cns_job_conf *job)
{
}
