/*
 * pgbinary.h - PostgreSQL's binary COPY format, written from the text
 * values of a chunk: the server then runs each type's receive function
 * instead of parsing text.
 *
 * A value is encoded only when its text is in a strict form whose binary
 * value this encoder computes exactly as the server's input function
 * would (see pg_binary.c for each type); anything else ("  5", "1e3" for
 * numeric, a date without dashes, a timestamptz without an offset, a
 * value out of range) makes the row unencodable, and the caller sends the
 * chunk in the text format instead, so that the server itself judges it.
 */
#ifndef CONSOLIDATE_PGBINARY_H
#define CONSOLIDATE_PGBINARY_H

#include <stdbool.h>
#include <stdint.h>

#include "consolidate/chunk.h"
#include "consolidate/util.h"

/* The types with a binary encoder.  Every other type (arrays, enums,
 * ranges, interval, time, money, xml, inet, ... and any type outside
 * pg_catalog) travels as text. */
enum cns_pgbin_kind {
	CNS_PGBIN_NONE = 0, /* no encoder: the table goes as text */
	CNS_PGBIN_INT2,
	CNS_PGBIN_INT4,
	CNS_PGBIN_INT8,
	CNS_PGBIN_FLOAT4,
	CNS_PGBIN_FLOAT8,
	CNS_PGBIN_BOOL,
	CNS_PGBIN_TEXT, /* text, varchar, bpchar: the bytes themselves */
	CNS_PGBIN_BYTEA,
	CNS_PGBIN_DATE,
	CNS_PGBIN_TIMESTAMP,
	CNS_PGBIN_TIMESTAMPTZ,
	CNS_PGBIN_NUMERIC,
	CNS_PGBIN_UUID,
	CNS_PGBIN_JSON,
	CNS_PGBIN_JSONB,
};

/* The encoder for a type of pg_catalog named `typname` (pg_type.typname
 * of the column's type, or of a domain's base type), or CNS_PGBIN_NONE. */
enum cns_pgbin_kind cns_pgbin_kind(const char *typname);

/* The file header (signature, flags, header extension) and the trailer
 * (a field count of -1). */
void cns_pgbin_header(struct cns_buf *out);
void cns_pgbin_trailer(struct cns_buf *out);

/* Appends one row of ncols cells, each encoded by kinds[i], and, when seq
 * is not NULL, *seq as one more int8 field.  Returns false, with out as
 * it was, when a value has no exact binary form here. */
bool cns_pgbin_row(struct cns_buf *out, const struct cns_cell *cells,
		   const enum cns_pgbin_kind *kinds, int ncols,
		   const int64_t *seq);

/* Encodes one value of a kind into out (without the length word);
 * returns false when it has no exact binary form.  For the tests. */
bool cns_pgbin_value(struct cns_buf *out, enum cns_pgbin_kind kind,
		     const char *s, size_t n);

#endif
