/*
 * target.h - the target interface: what the engine asks of the database it
 * loads into, as one table of functions, like the source drivers' table
 * (source.h).  prepare.c and pipeline.c reach a target only through it;
 * PostgreSQL is the one implementation (cns_target_postgres_ops, a table
 * over load.h), and the unit tests plug in an in-memory one.
 *
 * A run:  prepare -> per source: loader_open, load (one transaction per
 * chunk) ..., finish, close -> swap (replace mode, once every source
 * succeeded) -> release.  check and plan call rehearse instead of prepare
 * and load nothing.
 */
#ifndef CONSOLIDATE_TARGET_H
#define CONSOLIDATE_TARGET_H

#include <stdatomic.h>
#include <stdint.h>

#include "consolidate/chunk.h"
#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/transform.h"

/* One loader: one connection to the target that loads one source's chunks.
 * Each implementation defines it (PostgreSQL's is struct cns_loader);
 * the engine never looks inside. */
struct cns_target_loader;

struct cns_load_stats {
	int64_t sent;    /* rows sent to the server */
	int64_t written; /* rows inserted or changed */
	int64_t chunks;  /* committed chunks */
};

/* Hears one problem of many (check goes on after each). */
typedef void (*cns_problem_fn)(void *ctx, const struct cns_error *e);

struct cns_target_ops {
	const char *name; /* the `driver =` value of [target] */

	/* Once per run, before any loader: makes the table ready (created
	 * when absent and allowed, columns and types checked against
	 * [schema]; replace mode: a fresh shadow that loaders write to).
	 * What it keeps for the run is ended by release(). */
	int (*prepare)(const struct cns_job_conf *job,
		       const struct cns_schema *schema, struct cns_error *err);
	/* How prepare() found [schema] and the table to differ, one line
	 * each (malloc'ed, or NULL when they agree).  May be NULL. */
	char *(*schema_notes)(const struct cns_job_conf *job);
	/* check and plan: what prepare() and a loader would send, changing
	 * nothing.  Each problem goes to report when it is given (err then
	 * holds none of them), else the first is in err. */
	int (*rehearse)(const struct cns_job_conf *job,
			const struct cns_schema *schema, cns_problem_fn report,
			void *ctx, struct cns_error *err);
	/* Replace mode, after every source succeeded: the shadow's rows
	 * become the table's in one transaction, check_sql (may be NULL)
	 * first in it; on any failure the table keeps its old rows. */
	int (*swap)(const struct cns_job_conf *job,
		    const struct cns_schema *schema, const char *check_sql,
		    struct cns_error *err);
	/* Ends what prepare() kept (a shadow not swapped in is dropped);
	 * safe when nothing was prepared. */
	void (*release)(const struct cns_job_conf *job);

	/* A loader on a session of its own; `label` names it in messages
	 * ("source \"erp\"").  NULL with err on failure. */
	struct cns_target_loader *(*loader_open)(
		const struct cns_job_conf *job, const struct cns_schema *schema,
		const char *label, struct cns_error *err);
	/* Loads rows (schema columns) and runs checkpoint_sql (may be NULL)
	 * in one transaction, then commits: on error nothing of the chunk
	 * remains.  stats->chunks is 1 for a committed chunk. */
	int (*load)(struct cns_target_loader *l, const struct cns_chunk *rows,
		    const char *checkpoint_sql, struct cns_load_stats *stats,
		    struct cns_error *err);
	/* After the source's last chunk: makes the committed chunks
	 * durable before the source counts as loaded. */
	int (*finish)(struct cns_target_loader *l, struct cns_error *err);
	/* Rows the target refuses go to fn, one by one, and the others
	 * load; without it a refused row fails the chunk. */
	void (*on_reject)(struct cns_target_loader *l, const char *source_name,
			  cns_reject_fn fn, void *ctx);
	/* Once *stop is set, the chunk in flight is rolled back instead of
	 * committed. */
	void (*set_stop)(struct cns_target_loader *l, atomic_int *stop);
	/* Asks an in-flight statement to stop; from any thread, between
	 * loader_open and close. */
	void (*cancel)(struct cns_target_loader *l);
	/* Ends the session; safe with NULL. */
	void (*close)(struct cns_target_loader *l);
};

/* PostgreSQL, the target of every job (src/target/postgres.c). */
extern const struct cns_target_ops cns_target_postgres_ops;

/* The target a run uses when it is given none: PostgreSQL's. */
static inline const struct cns_target_ops *
cns_target_or_default(const struct cns_target_ops *ops)
{
	return ops ? ops : &cns_target_postgres_ops;
}

#endif
