/*
 * evolve.h - how [schema] and an existing target table differ, and the
 * DDL that on_schema_change = evolve runs to close the gap: new columns
 * are added, columns are widened where every stored value keeps its
 * meaning, and nothing is ever dropped or narrowed.
 */
#ifndef CONSOLIDATE_EVOLVE_H
#define CONSOLIDATE_EVOLVE_H

#include <stdbool.h>
#include <stdio.h>

#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/transform.h"
#include "consolidate/util.h"

struct pg_conn;

enum cns_col_change {
	CNS_COL_ADD,    /* in [schema], not in the table: ADD COLUMN */
	CNS_COL_WIDEN,  /* [schema]'s type safely widens the table's */
	CNS_COL_KEPT,   /* the table's type is the wider: left as it is */
	CNS_COL_REFUSED /* a change evolve does not make (see why) */
};

struct cns_col_diff {
	int col; /* index in the schema */
	enum cns_col_change kind;
	char have[128];  /* the table's type (format_type), "" for ADD */
	char want[128];  /* the schema's type, as the server spells it */
	const char *why; /* REFUSED: why not (static text) */
};

struct cns_schema_diff {
	int n;
	struct cns_col_diff *v; /* owned; cns_schema_diff_release() */
	int nextra;             /* table columns [schema] does not name */
};

/* Reads the existing target table `table` through conn and compares
 * each [schema] column with it; the server spells both types, so
 * "int4" and "integer" are one.  d is empty when they agree.  Returns 0,
 * or -1 with err. */
int cns_schema_diff_read(struct pg_conn *conn, const struct cns_job_conf *job,
			 const struct cns_schema *s,
			 const struct cns_qname *table,
			 struct cns_schema_diff *d, struct cns_error *err);

/* Changes of `kind` in d. */
int cns_schema_diff_count(const struct cns_schema_diff *d,
			  enum cns_col_change kind);

/* True when evolve has DDL to run (a column to add or widen). */
bool cns_schema_diff_pending(const struct cns_schema_diff *d);

/* Appends one ALTER TABLE on `table` with the ADD COLUMN and ALTER
 * COLUMN ... TYPE actions of d (nothing when there are none). */
void cns_schema_diff_ddl(const struct cns_schema_diff *d,
			 const struct cns_schema *s,
			 const struct cns_qname *table, struct cns_buf *out);

/* Appends one line per difference, each starting with `indent`. */
void cns_schema_diff_describe(const struct cns_schema_diff *d,
			      const struct cns_schema *s, const char *indent,
			      struct cns_buf *out);

/* Whether the run may go on under the job's on_schema_change: with
 * fail, a column to add is an error that shows every difference (a
 * column to widen is not: the table takes the values that fit, as
 * before); a refused change always is.  Returns 0, or -1 with err. */
int cns_schema_diff_judge(const struct cns_job_conf *job,
			  const struct cns_schema *s,
			  const struct cns_schema_diff *d,
			  struct cns_error *err);

void cns_schema_diff_release(struct cns_schema_diff *d);

/* For `check` and `plan`: connects to the target and, when its table
 * exists and differs from [schema], writes the difference and the DDL a
 * run would execute (and when) to out.  Writes nothing when they agree.
 * Returns 0, or -1 with err. */
int cns_schema_diff_write(const struct cns_job_conf *job,
			  const struct cns_schema *s, FILE *out,
			  struct cns_error *err);

#endif
