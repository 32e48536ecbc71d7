/*
 * util.h - memory arenas, growable buffers and small helpers that every
 * module uses.
 *
 * Memory policy: a run arena holds configuration and plans for the whole
 * run; a chunk arena holds the bytes of one chunk of rows and is reset after
 * the chunk is loaded.  Allocation failure of the few malloc() calls behind
 * these helpers is treated as fatal (message and abort()), like git's
 * xmalloc: it cannot be recovered from in a batch engine and every caller
 * checking it would hide the real logic.
 */
#ifndef CONSOLIDATE_UTIL_H
#define CONSOLIDATE_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *cns_xmalloc(size_t n);
void *cns_xcalloc(size_t n, size_t size);
void *cns_xrealloc(void *p, size_t n);
char *cns_xstrdup(const char *s);

/* ---- arena: bump allocator in linked blocks ---- */
struct cns_arena_block;
struct cns_arena {
	struct cns_arena_block *head; /* current block, newest first */
	size_t block_size;            /* default size of a new block */
	size_t allocated;             /* bytes held in blocks, for stats */
};

void cns_arena_init(struct cns_arena *a, size_t block_size);
/* Returns n bytes aligned for any type; never NULL.  The memory lives until
 * cns_arena_reset() or cns_arena_release(). */
void *cns_arena_alloc(struct cns_arena *a, size_t n);
void *cns_arena_zalloc(struct cns_arena *a, size_t n);
char *cns_arena_strdup(struct cns_arena *a, const char *s);
char *cns_arena_strndup(struct cns_arena *a, const char *s, size_t n);
char *cns_arena_printf(struct cns_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Frees every block but the largest one, which is kept for reuse, so a
 * chunk arena reaches a steady size and stops calling malloc. */
void cns_arena_reset(struct cns_arena *a);
void cns_arena_release(struct cns_arena *a);

/* ---- buf: growable byte buffer, always NUL-terminated ---- */
struct cns_buf {
	char *data;
	size_t len;
	size_t cap;
};

void cns_buf_init(struct cns_buf *b);
void cns_buf_release(struct cns_buf *b);
void cns_buf_reset(struct cns_buf *b);
void cns_buf_reserve(struct cns_buf *b, size_t extra);
void cns_buf_add(struct cns_buf *b, const void *data, size_t n);
void cns_buf_addc(struct cns_buf *b, char c);
void cns_buf_adds(struct cns_buf *b, const char *s);
void cns_buf_printf(struct cns_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cns_buf_vprintf(struct cns_buf *b, const char *fmt, va_list ap);

/* ---- small helpers ---- */

/* Monotonic time in milliseconds: deadlines and rates, never wall time. */
int64_t cns_now_ms(void);
/* Wall time in microseconds since the epoch, for timestamps in logs. */
int64_t cns_wall_us(void);
/* A condition variable whose timed waits run on the monotonic clock (a
 * step of the wall clock must neither stretch nor shorten them), and the
 * deadline ms from now on that clock, for pthread_cond_timedwait(). */
void cns_cond_init_monotonic(pthread_cond_t *cv);
struct timespec cns_deadline_in(int64_t ms);

/* Checks that s[0..n) is well-formed UTF-8 (no overlongs, no surrogates).
 * Returns the byte offset of the first bad byte, or -1 when it is valid. */
long cns_utf8_invalid_at(const char *s, size_t n);

/* Case-insensitive ASCII comparison. */
int cns_strcasecmp(const char *a, const char *b);

/* Levenshtein distance, for "did you mean" suggestions. */
int cns_edit_distance(const char *a, const char *b);

/* ---- PostgreSQL names ---- */

/* The longest name the server keeps (NAMEDATALEN - 1 bytes). */
#define CNS_PG_NAME_MAX 63

/* A table name parsed once with the server's rules: schema is NULL when
 * the name was not qualified (the search_path decides). */
struct cns_qname {
	char *schema;
	char *name;
};

/* Appends one identifier, always in double quotes with embedded quotes
 * doubled, as PQescapeIdentifier does but without a connection: the
 * result names exactly the bytes of `name`, keyword or not, any case. */
void cns_pg_quote_ident(struct cns_buf *b, const char *name);
/* Appends "schema"."name", or "name" when q->schema is NULL. */
void cns_pg_quote_qname(struct cns_buf *b, const struct cns_qname *q);
/* Parses "schema.table" or "table" with PostgreSQL's rules: a part in
 * double quotes is kept as written ("" for a quote), a part without
 * quotes is folded to lower case; each part is cut to 63 bytes as the
 * server cuts it.  The parts live in arena a.  Returns 0, or -1 with *why
 * saying what is wrong. */
int cns_pg_parse_qname(struct cns_arena *a, const char *text,
		       struct cns_qname *out, const char **why);
/* The length the server keeps of a name of n bytes: at most 63 bytes,
 * never ending inside a UTF-8 character. */
size_t cns_pg_name_clip(const char *s, size_t n);
/* Appends a PostgreSQL string literal ('...' with quotes doubled). */
void cns_pg_quote_literal(struct cns_buf *b, const char *s);

#endif
