/*
 * postgres.c - PostgreSQL as a target (target.h): the table of functions
 * the engine calls, over the loader and the table preparation of load.c.
 * Only the loader's type changes hands here: the engine's opaque
 * struct cns_target_loader is load.c's struct cns_loader.
 */
#include "consolidate/target.h"

#include "consolidate/load.h"

static struct cns_loader *pg(struct cns_target_loader *l)
{
	return (struct cns_loader *)l;
}

static struct cns_target_loader *pg_loader_open(const struct cns_job_conf *job,
						const struct cns_schema *schema,
						const char *label,
						struct cns_error *err)
{
	return (struct cns_target_loader *)cns_loader_open(job, schema, label,
							   err);
}

static int pg_load(struct cns_target_loader *l, const struct cns_chunk *rows,
		   const char *checkpoint_sql, struct cns_load_stats *stats,
		   struct cns_error *err)
{
	return cns_loader_load(pg(l), rows, checkpoint_sql, stats, err);
}

static int pg_finish(struct cns_target_loader *l, struct cns_error *err)
{
	return cns_loader_finish(pg(l), err);
}

static void pg_on_reject(struct cns_target_loader *l, const char *source_name,
			 cns_reject_fn fn, void *ctx)
{
	cns_loader_on_reject(pg(l), source_name, fn, ctx);
}

static void pg_set_stop(struct cns_target_loader *l, atomic_int *stop)
{
	cns_loader_set_stop(pg(l), stop);
}

static void pg_cancel(struct cns_target_loader *l)
{
	cns_loader_cancel(pg(l));
}

static void pg_close(struct cns_target_loader *l)
{
	cns_loader_close(pg(l));
}

const struct cns_target_ops cns_target_postgres_ops = {
	.name = "postgres",
	.prepare = cns_target_prepare,
	.schema_notes = cns_target_schema_notes,
	.rehearse = cns_target_rehearse,
	.swap = cns_target_swap_checked,
	.release = cns_target_release,
	.loader_open = pg_loader_open,
	.load = pg_load,
	.finish = pg_finish,
	.on_reject = pg_on_reject,
	.set_stop = pg_set_stop,
	.cancel = pg_cancel,
	.close = pg_close,
};
