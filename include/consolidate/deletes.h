/*
 * deletes.h - rows deleted at the source: after a complete full read, the
 * target rows of a source (those its source_key condition picks) that the
 * run did not read are marked (deletes = soft: deleted_at set) or removed
 * (deletes = hard).
 *
 * What a run read is kept in a table of its own per source,
 * consolidate."cns_seen_<run id>_<n>", with the target key of every row;
 * each chunk adds its keys in the chunk's own transaction, so the table
 * holds exactly the keys of the committed chunks however the run ends.
 * The deletes run in one transaction at the end of a run in which every
 * source got to its end: a run that stops earlier, for whatever reason,
 * deletes nothing, and its rerun reads everything again (a full read has
 * no watermark).  A run that would delete more than max_deletes fails and
 * deletes nothing; the rows it loaded stay (mode upsert commits them
 * chunk by chunk, and they are right: they were read).
 */
#ifndef CONSOLIDATE_DELETES_H
#define CONSOLIDATE_DELETES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "consolidate/chunk.h"
#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/runlog.h"
#include "consolidate/stats.h"
#include "consolidate/transform.h"

/* The column deletes = soft sets; the run adds it (timestamptz, NULL)
 * when the target lacks it. */
#define CNS_DELETED_AT "deleted_at"

/* Whether source i takes part in deletes in a run of only_source (NULL:
 * every source). */
bool cns_deletes_source(const struct cns_job_conf *job, int i,
			const char *only_source);
/* Whether any source of the run does. */
bool cns_deletes_any(const struct cns_job_conf *job, const char *only_source);

/* Before the first chunk: drops what runs of the job that did not end
 * left behind, and creates this run's seen-keys tables.  Refuses a schema
 * that maps deleted_at itself for a source with deletes = soft. */
int cns_deletes_begin(PGconn *conn, const struct cns_job_conf *job,
		      const char *run_id, const struct cns_schema *schema,
		      const char *only_source, struct cns_error *err);

/* The statement (malloc'ed; NULL when out has no row) that adds the keys
 * of a transformed chunk (schema columns) of source i to the run's
 * seen-keys table, for the chunk's own transaction. */
char *cns_deletes_seen_sql(const struct cns_job_conf *job, int i,
			   const char *run_id, const struct cns_schema *schema,
			   const struct cns_chunk *out);

/* After every source reached its end: in one transaction (which starts
 * with lock_check, when given: the statement that fails unless the run
 * still holds its lock), counts each source's rows to delete, fails when
 * one passes max_deletes (nothing deleted), else marks or deletes them,
 * clears deleted_at of soft-deleted rows that came back, and drops the
 * seen-keys tables.  A source that had rejected rows is left alone (the
 * keys of those rows are unknown: they would be deleted wrongly), with a
 * warning in the log.  deleted[i] gets the rows deleted per source. */
int cns_deletes_apply(PGconn *conn, const struct cns_job_conf *job,
		      const char *run_id, const char *only_source,
		      const struct cns_source_stats *stats,
		      const char *lock_check, struct cns_runlog *log,
		      int64_t *deleted, struct cns_error *err);

/* Drops the run's seen-keys tables (a run that failed); best effort. */
void cns_deletes_end(PGconn *conn, const struct cns_job_conf *job,
		     const char *run_id);

/* Appends the statements the run's last transaction sends for source i,
 * with RUN standing for the run id, for `check` and `plan`. */
void cns_deletes_describe(const struct cns_job_conf *job, int i,
			  struct cns_buf *out);

/* check and plan: tries each source_key on the target (when the table
 * exists), reporting a condition the server refuses through report (or,
 * when report is NULL, in err).  Returns how many were refused, or -1
 * when the target cannot be reached. */
int cns_deletes_rehearse(const struct cns_job_conf *job,
			 void (*report)(void *ctx, const struct cns_error *e),
			 void *ctx, struct cns_error *err);

#endif
