/*
 * chunk.h - a batch of rows in memory, the unit that flows through the
 * pipeline.
 *
 * A chunk holds up to `cap` rows of `ncols` cells.  Each cell is a (pointer,
 * length, null) triple: values are text in PostgreSQL's text input format,
 * NULL is distinct from the empty string.  Cell bytes live in the chunk's
 * arena and are freed together by cns_chunk_reset(), so memory is bounded by
 * the chunk size, never by the size of a table.
 */
#ifndef CONSOLIDATE_CHUNK_H
#define CONSOLIDATE_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consolidate/util.h"

struct cns_cell {
	const char *data; /* not NUL-terminated in general; NULL when null */
	uint32_t len;
	bool null;
};

struct cns_chunk {
	int ncols;
	int nrows;
	int cap;
	struct cns_cell *cells; /* cap * ncols, row-major */
	int64_t *rownum;        /* source row number of each row (1-based) */
	const char **origin;    /* per row: file or object it came from, or
				    NULL; strings owned by the source */
	int64_t bytes;          /* bytes of cell data added since reset */
	struct cns_arena arena; /* cell bytes */
};

void cns_chunk_init(struct cns_chunk *c, int ncols, int cap);
void cns_chunk_reset(struct cns_chunk *c);
void cns_chunk_release(struct cns_chunk *c);

static inline bool cns_chunk_full(const struct cns_chunk *c)
{
	return c->nrows >= c->cap;
}

static inline struct cns_cell *cns_chunk_row(const struct cns_chunk *c, int row)
{
	return c->cells + (size_t)row * (size_t)c->ncols;
}

/* Appends an empty row (all cells NULL) and returns its index; the chunk
 * must not be full. */
int cns_chunk_add_row(struct cns_chunk *c, int64_t rownum, const char *origin);
/* Drops the last row (used when a row turns out to be rejected). */
void cns_chunk_drop_last(struct cns_chunk *c);

/* Copies n bytes into the chunk's arena and points the cell at them. */
void cns_chunk_set(struct cns_chunk *c, int row, int col, const char *data,
		   size_t n);
/* Points the cell at bytes the caller keeps alive until reset. */
void cns_chunk_set_ref(struct cns_chunk *c, int row, int col, const char *data,
		       size_t n);
void cns_chunk_set_null(struct cns_chunk *c, int row, int col);

#endif
