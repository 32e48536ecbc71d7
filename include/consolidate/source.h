/*
 * source.h - the source driver interface.
 *
 * Every kind of source system (postgres, odbc, csv) is a driver behind one
 * small table of functions, in the manner of Redis' ae backends.  The
 * pipeline only ever talks to struct cns_source through these; a new driver
 * plugs in by adding a table to cns_source_drivers[] in source.c.
 *
 * Lifecycle: cns_source_new() -> open() -> describe() -> next_chunk()...
 * -> close().  `check` stops after describe(): no data is read.
 */
#ifndef CONSOLIDATE_SOURCE_H
#define CONSOLIDATE_SOURCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "consolidate/chunk.h"
#include "consolidate/config.h"
#include "consolidate/error.h"

struct cns_source;

/* Called by a driver for a row it cannot deliver (invalid UTF-8, a ragged
 * CSV record in strict mode ...).  The row is counted as rejected. */
typedef void (*cns_source_reject_fn)(void *ctx, struct cns_source *src,
				     int64_t rownum, const char *origin,
				     const char *reason);

struct cns_source_ops {
	const char *name; /* the `driver =` value */
	/* Connects or opens files.  On error sets err, returns -1. */
	int (*open)(struct cns_source *src, struct cns_error *err);
	/* Fills src->ncols, src->colnames, src->coltypes without reading
	 * data rows. */
	int (*describe)(struct cns_source *src, struct cns_error *err);
	/* Fills `chunk` (already reset, ncols == src->ncols) with up to
	 * chunk->cap rows.  Returns 1 when rows were added, 0 at the end of
	 * the data (chunk empty), -1 on error. */
	int (*next_chunk)(struct cns_source *src, struct cns_chunk *chunk,
			  struct cns_error *err);
	/* Asks a blocked open/next_chunk to stop soon; callable from another
	 * thread at any time between open() and close(). */
	void (*cancel)(struct cns_source *src);
	/* Releases everything; safe after a failed open. */
	void (*close)(struct cns_source *src);
	/* Text of the extraction (SQL or file list) for `plan`; may be NULL.
	 * Returned string is owned by the source. */
	const char *(*describe_plan)(struct cns_source *src);
	/* Optional: counts the rows the next extraction would return
	 * (watermark applied), so that the volume guard can judge a run
	 * before any row moves; called after describe().  Sets *n to -1
	 * when it cannot tell this time (a pipe cannot be read twice). */
	int (*count_rows)(struct cns_source *src, int64_t *n,
			  struct cns_error *err);
};

struct cns_source {
	const struct cns_source_ops *ops;
	const struct cns_source_conf *conf;
	const struct cns_job_conf *job;
	int batch_size;

	/* Filled by describe(); owned by `arena`. */
	int ncols;
	char **colnames;
	char **coltypes; /* the source's own type names, may hold NULLs */
	/* True when coltypes are PostgreSQL's format_type() names and the
	 * values are PostgreSQL's canonical text output (the postgres
	 * driver): the transform may then pass values of the target's exact
	 * type through untouched. */
	bool pg_exact_types;

	/* Incremental extraction.  inc_cols are the incremental columns
	 * followed by the tie-breaker key (set by the run before the first
	 * next_chunk; drivers fall back to conf->incremental when ninc is
	 * 0).  The driver orders rows by inc_cols; when nwatermark > 0
	 * (== ninc) it only returns rows whose inc_cols compare greater, as
	 * a tuple, than these values (text, the source's own format).
	 * lookback_ms > 0 (one incremental column of a date/time type)
	 * instead re-reads rows whose column is greater than the first
	 * watermark value minus the lookback.  Rows whose incremental
	 * column is NULL follow conf->null_incremental: skip adds
	 * "IS NOT NULL", include-once lets them through only while there is
	 * no watermark (the first run). */
	int ninc;
	const char *const *inc_cols;
	int nwatermark;
	const char *const *watermark;
	int64_t lookback_ms;
	/* `run --range`: only rows whose first incremental column lies
	 * between these two values, both included (text, cast by the
	 * source to the column's type); NULL: no window. */
	const char *range_from, *range_to;

	/* The source table's primary key as found by describe(), when the
	 * driver can tell; a default tie-breaker.  Owned by `arena`. */
	int npkey;
	char **pkey;

	cns_source_reject_fn reject;
	void *reject_ctx;

	atomic_int cancelled; /* set by cancel() and by the run */
	int64_t rows_read;    /* maintained by drivers */
	int64_t bytes_read;

	void *impl; /* driver state */
	struct cns_arena arena;
};

/* Looks up a driver by name; NULL when there is none. */
const struct cns_source_ops *cns_source_driver(const char *name);
/* Names of all drivers, NULL-terminated, for messages and help. */
const char *const *cns_source_driver_names(void);
/* Adds a driver that cns_source_new() finds by its name (a test's fake
 * source; job files name only the drivers above, which config checks).
 * Call before any run starts.  Returns 0, or -1 when the name is taken or
 * the room for added drivers is used up. */
int cns_source_driver_add(const struct cns_source_ops *ops);

/* Creates a source for conf (the driver must exist: config checks it). */
struct cns_source *cns_source_new(const struct cns_job_conf *job,
				  const struct cns_source_conf *conf);
void cns_source_free(struct cns_source *src);

/* The drivers. */
extern const struct cns_source_ops cns_source_postgres_ops;
extern const struct cns_source_ops cns_source_csv_ops;
extern const struct cns_source_ops cns_source_odbc_ops;

#endif
