/*
 * prepare.h - everything a run does before the first row moves, as one
 * path shared by `run`, `check` and `plan`.
 *
 * A source is opened and described, the incremental ordering (incremental
 * columns, then the tie-breaker key) and the stored watermark are set on
 * it, the transform is bound to the described columns (keys, trusted
 * types, time zone), and its extraction text is built with the watermark
 * it would bind.  The volume pre-check counts the rows the extraction
 * would return.  The target is prepared (run) or rehearsed in a
 * transaction that is rolled back (check and plan): every statement the
 * run sends before loading, and the column types against [schema].
 *
 * So `check` cannot pass a job that the run then refuses before moving
 * data: both ask the same code.
 */
#ifndef CONSOLIDATE_PREPARE_H
#define CONSOLIDATE_PREPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/shard.h"
#include "consolidate/source.h"
#include "consolidate/target.h"
#include "consolidate/transform.h"

struct cns_kv; /* consolidate/runlog.h */

enum cns_prepare_level {
	CNS_PREP_INFO,
	CNS_PREP_WARN,
	CNS_PREP_ERROR
};

struct cns_prepare_opts {
	/* check and plan: change nothing in the target and move no data. */
	bool no_data;
	/* plan --offline: no connection at all, only the configuration. */
	bool offline;
	/* The target prepared or rehearsed; NULL: PostgreSQL. */
	const struct cns_target_ops *target;
	void *ctx;
	/* Reads the stored watermark of a source (values in the run's arena
	 * of choice).  NULL: prepare reads it from the target itself, or
	 * finds none where the run state was never created. */
	int (*watermark_get)(void *ctx, const char *source,
			     struct cns_arena *arena, int *n, char ***values,
			     struct cns_error *err);
	/* A line for the run log: a message and its pairs (a list ended by
	 * a NULL key, or NULL: none), as cns_runlog_put() takes them; may
	 * be NULL. */
	void (*event)(void *ctx, enum cns_prepare_level level,
		      const char *stage, const char *source, const char *text,
		      const struct cns_kv *kv);
	/* Hears every problem, then preparation goes on where it can (the
	 * caller counts them).  NULL: the first problem is returned in err,
	 * as a run wants it. */
	void (*problem)(void *ctx, const struct cns_error *e);
	/* The source is open, before it is described (which may block: a
	 * FIFO without a writer, a slow catalog): the run makes it
	 * cancellable here.  May be NULL. */
	void (*opened)(void *opened_ctx, struct cns_source *src);
	void *opened_ctx;
	/* `--range FROM..TO`: each incremental source reads the rows whose
	 * first incremental column lies in [range_from, range_to] instead
	 * of those after its watermark (cns_prepare_range_check() says
	 * which jobs may).  NULL: the watermark as usual. */
	const char *range_from, *range_to;
};

/* One source, ready to extract.  Everything points into the source's
 * arena or is owned by the caller (src, prog). */
struct cns_prepared {
	struct cns_source *src;
	struct cns_program *prog; /* NULL until bound */
	/* The incremental ordering: incremental columns (the first
	 * nnullable), then the tie-breaker key; index[] are their positions
	 * among the source's columns.  n == 0 for a full extraction. */
	int ninc;
	const char **inc_cols;
	int *inc_index;
	int nnullable;
	/* The stored watermark as read, and whether the run binds it (a
	 * watermark of another width is not used). */
	int nstored;
	char **stored;
	bool bound;
	/* The volume pre-check counted the rows before extraction. */
	bool counted;
	int64_t count;
};

/* Opens and describes src (made by cns_source_new; the caller keeps it
 * and frees it, with p->prog), sets its incremental ordering and
 * watermark, and binds the transform.  Returns 0, or -1 with err (or,
 * with opts->problem, after reporting each problem). */
int cns_prepare_source(const struct cns_job_conf *job,
		       const struct cns_transform *xf, struct cns_source *src,
		       const struct cns_prepare_opts *opts,
		       struct cns_prepared *p, struct cns_error *err);

/* Whether `run --range` (and `plan --range`) may re-read a window of the
 * job's sources (only_source, or every one): upsert mode, where rows read
 * again overwrite themselves, and postgres sources with "incremental".
 * Returns 0, or -1 with err saying why not. */
int cns_prepare_range_check(const struct cns_job_conf *job,
			    const char *only_source, struct cns_error *err);

/* Splits "FROM..TO" at its first "..", into strings the caller frees.
 * Returns 0, or -1 with err. */
int cns_prepare_range_parse(const char *text, char **from, char **to,
			    struct cns_error *err);

/* The volume pre-check (on_volume_anomaly = fail, a driver that can
 * count, not replace mode): judges the row count the extraction would
 * return before any row moves.  Sets p->counted when it judged. */
int cns_prepare_volume(const struct cns_job_conf *job, struct cns_prepared *p,
		       const struct cns_prepare_opts *opts,
		       struct cns_error *err);

/* The target: prepared for loading (run), or rehearsed and rolled back
 * (opts->no_data).  Existing columns must take the schema's types. */
int cns_prepare_target(const struct cns_job_conf *job,
		       const struct cns_schema *schema,
		       const struct cns_prepare_opts *opts,
		       struct cns_error *err);

/* What check and plan hear about each part of a job. */
struct cns_prepare_report {
	void *ctx;
	/* After each source; ok when it had no problem.  p->src is open
	 * (when it could be opened) until the callback returns. */
	void (*source)(void *ctx, int index, const struct cns_prepared *p,
		       bool ok);
	void (*target)(void *ctx, bool ok);
	/* A sharded job (shard.h): after each source that was prepared,
	 * its shards as the coordinator would plan them now; may be NULL
	 * (the split is then still checked). */
	void (*shards)(void *ctx, int index, const struct cns_shard_list *l);
};

/* check and plan: prepares every source and the target with
 * opts->no_data set, reporting every problem once through opts->problem.
 * Returns how many of the parts (sources, target) had a problem. */
int cns_prepare_job(const struct cns_job_conf *job,
		    const struct cns_transform *xf,
		    const struct cns_prepare_opts *opts,
		    const struct cns_prepare_report *rep);

#endif
