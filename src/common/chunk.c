/*
 * chunk.c - rows in memory between a source and the target.
 */
#include "consolidate/chunk.h"

#include <stdlib.h>
#include <string.h>

void cns_chunk_init(struct cns_chunk *c, int ncols, int cap)
{
	c->ncols = ncols;
	c->cap = cap;
	c->nrows = 0;
	c->bytes = 0;
	c->cells = cns_xcalloc((size_t)cap * (size_t)(ncols ? ncols : 1),
			       sizeof(*c->cells));
	c->rownum = cns_xcalloc((size_t)cap, sizeof(*c->rownum));
	c->origin = cns_xcalloc((size_t)cap, sizeof(*c->origin));
	cns_arena_init(&c->arena, 256 * 1024);
}

void cns_chunk_reset(struct cns_chunk *c)
{
	c->nrows = 0;
	c->bytes = 0;
	cns_arena_reset(&c->arena);
}

void cns_chunk_release(struct cns_chunk *c)
{
	free(c->cells);
	free(c->rownum);
	free(c->origin);
	cns_arena_release(&c->arena);
	memset(c, 0, sizeof(*c));
}

int cns_chunk_add_row(struct cns_chunk *c, int64_t rownum, const char *origin)
{
	int r = c->nrows++;
	struct cns_cell *row = cns_chunk_row(c, r);

	for (int i = 0; i < c->ncols; i++) {
		row[i].data = NULL;
		row[i].len = 0;
		row[i].null = true;
	}
	c->rownum[r] = rownum;
	c->origin[r] = origin;
	return r;
}

void cns_chunk_drop_last(struct cns_chunk *c)
{
	if (c->nrows > 0)
		c->nrows--;
}

void cns_chunk_set(struct cns_chunk *c, int row, int col, const char *data,
		   size_t n)
{
	struct cns_cell *cell = cns_chunk_row(c, row) + col;
	char *p = cns_arena_alloc(&c->arena, n + 1);

	memcpy(p, data, n);
	p[n] = '\0';
	cell->data = p;
	cell->len = (uint32_t)n;
	cell->null = false;
	c->bytes += (int64_t)n;
}

void cns_chunk_set_ref(struct cns_chunk *c, int row, int col, const char *data,
		       size_t n)
{
	struct cns_cell *cell = cns_chunk_row(c, row) + col;

	cell->data = data;
	cell->len = (uint32_t)n;
	cell->null = false;
	c->bytes += (int64_t)n;
}

void cns_chunk_set_null(struct cns_chunk *c, int row, int col)
{
	struct cns_cell *cell = cns_chunk_row(c, row) + col;

	cell->data = NULL;
	cell->len = 0;
	cell->null = true;
}
