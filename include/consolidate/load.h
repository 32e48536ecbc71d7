/*
 * load.h - the PostgreSQL target: preparing the table once per run, and
 * loading chunks in committed batches.
 *
 * Each chunk is one transaction: COPY into the target (append) or into a
 * session-local staging table merged with INSERT ... ON CONFLICT (upsert),
 * then an optional checkpoint statement (the watermark of the chunk's last
 * row), then COMMIT.  So a chunk and its checkpoint are durable together or
 * not at all.
 *
 * Replace mode loads a shadow table that cns_target_swap() moves into the
 * target in a single transaction after every source succeeded.
 *
 * The engine reaches these through cns_target_postgres_ops (target.h).
 */
#ifndef CONSOLIDATE_LOAD_H
#define CONSOLIDATE_LOAD_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "consolidate/chunk.h"
#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/target.h"
#include "consolidate/transform.h"

/* PostgreSQL's loader (struct cns_target_loader of target.h). */
struct cns_loader;

/* Creates the target table from the schema when it is absent and
 * job->target.create is set; checks that it has every schema column and
 * that each takes the schema's type; for
 * replace mode creates a fresh shadow table (dropping a leftover one).
 * Uses its own short-lived connection. */
int cns_target_prepare(const struct cns_job_conf *job,
		       const struct cns_schema *schema, struct cns_error *err);

/* How cns_target_prepare() found [schema] and the existing table to
 * differ (columns added, widened, kept wider, extra), one line each;
 * NULL when they agree.  The caller frees it. */
char *cns_target_schema_notes(const struct cns_job_conf *job);

/* What `check` does: connects, and checks that the table exists (or will
 * be created) with every schema column.  Changes nothing. */
int cns_target_check(const struct cns_job_conf *job,
		     const struct cns_schema *schema, struct cns_error *err);

/* What `check` and `plan` do: every statement cns_target_prepare() and a
 * loader send before loading (CREATE TABLE, the shadow, the staging table
 * and the merge statement), in one transaction that is rolled back, and
 * the column checks.  Each problem goes to report when it is given (err
 * then holds none of them), else the first is in err. */
int cns_target_rehearse(const struct cns_job_conf *job,
			const struct cns_schema *schema, cns_problem_fn report,
			void *ctx, struct cns_error *err);

/* Replace mode: moves the shadow's rows into the target in one transaction
 * and drops the shadow. */
int cns_target_swap(const struct cns_job_conf *job,
		    const struct cns_schema *schema, struct cns_error *err);
/* The same, running check_sql (when not NULL) first in the swap's
 * transaction: when it fails, the target keeps its rows. */
int cns_target_swap_checked(const struct cns_job_conf *job,
			    const struct cns_schema *schema,
			    const char *check_sql, struct cns_error *err);

/* Ends what prepare kept for the run: the session holding the replace
 * lock on the target table, and a shadow the run made but did not swap
 * (dropped).  Safe to call when nothing was prepared. */
void cns_target_release(const struct cns_job_conf *job);

/* Writes the target DDL (CREATE TABLE) that the run would send, for
 * `plan`: the server decides whether the key can be a primary key or
 * becomes a unique index on its text form, as at run time; `offline`,
 * a list of PostgreSQL's built-in types stands in for the server.
 * Returns 0, or -1 with err when the target cannot be asked. */
int cns_target_write_ddl(const struct cns_job_conf *job,
			 const struct cns_schema *schema, bool offline,
			 FILE *out, struct cns_error *err);

/* Opens a loader on its own connection.  `label` names it in messages
 * ("source \"erp\""). */
struct cns_loader *cns_loader_open(const struct cns_job_conf *job,
				   const struct cns_schema *schema,
				   const char *label, struct cns_error *err);

/* Loads `rows` (schema columns) and runs `checkpoint_sql` (may be NULL) in
 * the same transaction, then commits.  On error the transaction is rolled
 * back and nothing of the chunk remains. */
int cns_loader_load(struct cns_loader *l, const struct cns_chunk *rows,
		    const char *checkpoint_sql, struct cns_load_stats *stats,
		    struct cns_error *err);

/* Tables whose rows load as one chunk: the staging tables of a sharded
 * run. */
struct cns_staged {
	const char *const *tables; /* quoted names, each with the schema's
				      columns */
	const int64_t *rows;       /* the rows each must give, or NULL */
	int n;
	int short_table; /* out: the table that gave another number, or -1 */
};

/* Loads every row of st's tables as one chunk: in one transaction with
 * checkpoint_sql (may be NULL), through the same staging table and merge
 * statement as cns_loader_load(), then commits.  On error nothing of it
 * remains.  With st->rows, the count each table's INSERT reports is
 * checked as it goes, at no extra scan: a table that gives another
 * number (an unlogged table a server crash emptied) rolls it all back
 * with st->short_table set. */
int cns_loader_load_tables(struct cns_loader *l, struct cns_staged *st,
			   const char *checkpoint_sql,
			   struct cns_load_stats *stats, struct cns_error *err);
/* Makes the chunks this loader committed durable: chunk commits do not
 * wait for the WAL flush (a lost one loses its watermark with its rows),
 * this one waits for all of them.  Call it once the source's last chunk
 * is loaded, before the run counts as done; 0, or -1 with err. */
int cns_loader_finish(struct cns_loader *l, struct cns_error *err);

/* Lets the loader isolate rows the server refuses (a constraint, a bad
 * value): the chunk is split in halves within savepoints until the bad
 * rows stand alone; they go to fn with the server's message and the good
 * rows load.  Without this, a refused row fails the chunk. */
void cns_loader_on_reject(struct cns_loader *l, const char *source_name,
			  cns_reject_fn fn, void *ctx);

/* A flag that, once set, makes the loader roll back the chunk in flight
 * instead of committing it. */
void cns_loader_set_stop(struct cns_loader *l, atomic_int *stop);

/* Runs one statement on the loader's connection (outside a chunk). */
int cns_loader_exec(struct cns_loader *l, const char *sql,
		    struct cns_error *err);

/* The loader's connection, for the run's state statements. */
void *cns_loader_conn(struct cns_loader *l);

/* Asks an in-flight statement to stop; callable from another thread. */
void cns_loader_cancel(struct cns_loader *l);
void cns_loader_close(struct cns_loader *l);

/* Quoted name of the table the loaders write to (shadow in replace
 * mode), appended to b. */
struct cns_buf;
void cns_target_load_table(const struct cns_job_conf *job, struct cns_buf *b);

#endif
