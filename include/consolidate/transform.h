/*
 * transform.h - the transform language: the unified target schema and the
 * per-source mappings into it.
 *
 * A transform file has one [schema] section (target columns, their
 * PostgreSQL types, `not null`, optional `default EXPR`) and one
 * [from SOURCE] section per source (target column = expression, plus the
 * row rules `where` and `reject_if`).  The file is compiled once into a
 * cns_transform; binding it to a source's actual columns gives a
 * cns_program that evaluates whole chunks in C, with no allocation per
 * cell (results go into the output chunk's arena).
 *
 * Values are text in PostgreSQL's input format; casts validate and
 * normalise them so that a value the target would refuse is rejected here,
 * with a reason, instead of failing a whole COPY.
 *
 * Thread safety: a cns_transform is read-only after load and may be shared;
 * each thread binds its own cns_program.
 */
#ifndef CONSOLIDATE_TRANSFORM_H
#define CONSOLIDATE_TRANSFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "consolidate/chunk.h"
#include "consolidate/error.h"

enum cns_type {
	CNS_T_UNKNOWN, /* NULL literal before it meets a context */
	CNS_T_TEXT,
	CNS_T_VARCHAR, /* typmod: max length in characters */
	CNS_T_SMALLINT,
	CNS_T_INTEGER,
	CNS_T_BIGINT,
	CNS_T_NUMERIC, /* precision, scale; carried as exact decimal text */
	CNS_T_REAL,
	CNS_T_DOUBLE,
	CNS_T_BOOLEAN,
	CNS_T_DATE,
	CNS_T_TIME,
	CNS_T_TIMESTAMP,
	CNS_T_TIMESTAMPTZ,
	CNS_T_UUID,
	CNS_T_JSON,
	CNS_T_JSONB,
	CNS_T_BYTEA
};

struct cns_schema_col {
	char *name;
	char *type_sql; /* the type as written for DDL: "numeric(18,4)" */
	enum cns_type type;
	int precision; /* numeric p, varchar n; 0 when unset */
	int scale;     /* numeric s */
	bool not_null;
	int line; /* line in the transform file */
	/* The default as a SQL constant ('text', 42, true) when it is a
	 * plain literal, for a column that on_schema_change = evolve adds;
	 * NULL for none, NULL, or an expression (now(), 1 + 2). */
	const char *default_sql;
};

struct cns_schema {
	int ncols;
	struct cns_schema_col *cols;
};

struct cns_transform;
struct cns_program;

/* Loads and compiles a transform file.  On error, err names
 * file:line:column and the offending text (err->detail holds every error
 * found, each with a caret line).  run_start_us is the value of now() for
 * the whole run (microseconds since the epoch). */
int cns_transform_load(const char *path, int64_t run_start_us,
		       struct cns_transform **out, struct cns_error *err);
/* Same, from a string (tests, fuzzing); `name` is used in messages. */
int cns_transform_parse(const char *name, const char *text,
			int64_t run_start_us, struct cns_transform **out,
			struct cns_error *err);
void cns_transform_free(struct cns_transform *t);

const struct cns_schema *cns_transform_schema(const struct cns_transform *t);
/* True when the file has a [from NAME] section. */
bool cns_transform_has_source(const struct cns_transform *t,
			      const char *source);

/* The columns a source must deliver for its mapping (every column
 * reference in its section, or every schema column name when the source has
 * no section).  Array owned by t; *n set to its length. */
const char *const *cns_transform_source_columns(const struct cns_transform *t,
						const char *source, int *n);

/* Binds the mapping for `source` to the columns that the source actually
 * delivers (names in order).  An unknown column, wrong argument count etc.
 * is an error naming file:line:column.  A source without a [from] section
 * maps each schema column from the source column of the same name (its
 * default, else NULL, when there is none). */
int cns_transform_bind(const struct cns_transform *t, const char *source,
		       int ncols, const char *const *colnames,
		       struct cns_program **out, struct cns_error *err);
void cns_program_free(struct cns_program *p);

/* Tells the program the declared types of its input columns, as
 * PostgreSQL's format_type() writes them, for a source whose values are
 * PostgreSQL's own canonical text output of those types.  A target column
 * mapped straight from an input column of exactly its type (same
 * precision and scale) is then copied as it is instead of being parsed
 * and printed again: the result is the same, at a fraction of the cost.
 * coltypes has one entry per bound column; NULL entries are never
 * trusted. */
void cns_program_trust_types(struct cns_program *p,
			     const char *const *coltypes);

/* Tells the program the types the source's driver reports for its input
 * columns (PostgreSQL's format_type() names, or the short names the ODBC
 * driver gives: "timestamp", "date", ...; NULL entries, or coltypes
 * NULL, for untyped text).  A column reported as timestamp with time
 * zone keeps that type in casts: its value is read as an instant, with
 * its offset, before it becomes a date, timestamp or time in the
 * program's zone, as in PostgreSQL; untyped text is read as the type
 * asked for, and an offset in it is ignored, as PostgreSQL reads a
 * string literal. */
void cns_program_set_column_types(struct cns_program *p,
				  const char *const *coltypes);

/* Sets the time zone in which the program reads timestamptz values that
 * carry no offset, and in which it converts between timestamp,
 * timestamptz and date (PostgreSQL's session TimeZone).  `zone` is a name
 * from the system zone database ("Europe/London"), "UTC", or a fixed
 * offset ("+02:00").  The default is UTC, never the host's zone. */
int cns_program_set_timezone(struct cns_program *p, const char *zone,
			     struct cns_error *err);

/* A row that the program refused.  The strings and values are valid only
 * during the callback (the reason lives in the program's per-row scratch
 * memory): copy what must outlive it. */
struct cns_reject {
	const char *source;
	int64_t rownum;
	const char *origin; /* file, or NULL */
	const char *column; /* target column, or NULL for row rules */
	const char *reason;
	const struct cns_cell *values; /* the source row */
	int nvalues;
	const char *const *colnames; /* names of the source columns */
};
typedef void (*cns_reject_fn)(void *ctx, const struct cns_reject *r);

struct cns_eval_stats {
	int64_t filtered; /* removed by `where` */
	int64_t rejected; /* removed by a cast, not null or reject_if */
};

/* Evaluates every row of `in` (source columns, as bound) and appends the
 * rows that pass to `out` (schema columns; out->ncols must equal the
 * schema's).  Rows removed by `where` are counted as filtered; rows that
 * fail are passed to on_reject (may be NULL) and counted.  Returns -1 only
 * for errors that are not about a row. */
int cns_program_run(struct cns_program *p, const struct cns_chunk *in,
		    struct cns_chunk *out, cns_reject_fn on_reject, void *ctx,
		    struct cns_eval_stats *stats, struct cns_error *err);

/* Writes the compiled mapping for `plan`: one line per target column with
 * its expression and type. */
void cns_program_explain(const struct cns_program *p, FILE *out);

/* True when the program gives schema column `column` a value (a mapping
 * or the column's default); false when it is always NULL or unknown. */
bool cns_program_maps(const struct cns_program *p, const char *column);

/* Type names for DDL and messages. */
const char *cns_type_name(enum cns_type t);

#endif
