/*
 * util.c - arenas, buffers, clocks, UTF-8 validation and quoting helpers
 * shared by every module.
 */
#include "consolidate/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consolidate/testhook.h"

/* The one place outside the CLI that ends the process: no caller of
 * the allocators can go on without the memory, and unwinding a run from
 * any allocation would cost more than it saves.  Ending it is safe by
 * construction, as a kill is: open transactions die with the
 * connections, and the next run records this one as crashed.  _exit,
 * not abort: no core file full of connection strings, and no exit
 * handlers run while other threads still work. */
static void out_of_memory(size_t n)
{
	char msg[96];
	int len = snprintf(msg, sizeof(msg),
			   "consolidate: out of memory (%zu bytes)\n", n);

	if (write(STDERR_FILENO, msg, (size_t)len) < 0) {
		/* nothing left to tell it with */
	}
	_exit(1);
}

void *cns_xmalloc(size_t n)
{
	void *p = cns_fail_now("malloc") ? NULL : malloc(n ? n : 1);

	if (!p)
		out_of_memory(n);
	return p;
}

void *cns_xcalloc(size_t n, size_t size)
{
	void *p = cns_fail_now("malloc") ? NULL
					 : calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory(n * size);
	return p;
}

void *cns_xrealloc(void *p, size_t n)
{
	void *q = cns_fail_now("malloc") ? NULL : realloc(p, n ? n : 1);

	if (!q)
		out_of_memory(n);
	return q;
}

char *cns_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(cns_xmalloc(n), s, n);
}

/* ---- arena ---- */

struct cns_arena_block {
	struct cns_arena_block *next;
	size_t size;
	size_t used;
	_Alignas(max_align_t) unsigned char data[];
};

#define ARENA_ALIGN (_Alignof(max_align_t))

void cns_arena_init(struct cns_arena *a, size_t block_size)
{
	a->head = NULL;
	a->block_size = block_size ? block_size : 64 * 1024;
	a->allocated = 0;
}

static struct cns_arena_block *arena_new_block(struct cns_arena *a, size_t n)
{
	size_t size = n > a->block_size ? n : a->block_size;
	struct cns_arena_block *b = cns_xmalloc(sizeof(*b) + size);

	b->size = size;
	b->used = 0;
	b->next = a->head;
	a->head = b;
	a->allocated += size;
	return b;
}

void *cns_arena_alloc(struct cns_arena *a, size_t n)
{
	struct cns_arena_block *b = a->head;
	size_t off;

	if (n == 0)
		n = 1;
	if (b) {
		off = (b->used + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
		if (off + n <= b->size) {
			b->used = off + n;
			return b->data + off;
		}
	}
	/* A large request gets a block of its own, so that it does not
	 * waste the rest of the current one. */
	b = arena_new_block(a, n);
	b->used = n;
	return b->data;
}

void *cns_arena_zalloc(struct cns_arena *a, size_t n)
{
	return memset(cns_arena_alloc(a, n), 0, n);
}

char *cns_arena_strndup(struct cns_arena *a, const char *s, size_t n)
{
	char *p = cns_arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *cns_arena_strdup(struct cns_arena *a, const char *s)
{
	return s ? cns_arena_strndup(a, s, strlen(s)) : NULL;
}

char *cns_arena_printf(struct cns_arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = cns_arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void cns_arena_reset(struct cns_arena *a)
{
	struct cns_arena_block *b, *next, *keep = NULL;

	for (b = a->head; b; b = b->next)
		if (!keep || b->size > keep->size)
			keep = b;
	for (b = a->head; b; b = next) {
		next = b->next;
		if (b != keep)
			free(b);
	}
	a->head = keep;
	a->allocated = keep ? keep->size : 0;
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
	}
}

void cns_arena_release(struct cns_arena *a)
{
	struct cns_arena_block *b, *next;

	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
	a->allocated = 0;
}

/* ---- buf ---- */

void cns_buf_init(struct cns_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void cns_buf_release(struct cns_buf *b)
{
	free(b->data);
	cns_buf_init(b);
}

void cns_buf_reset(struct cns_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void cns_buf_reserve(struct cns_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < need)
		b->cap *= 2;
	b->data = cns_xrealloc(b->data, b->cap);
}

void cns_buf_add(struct cns_buf *b, const void *data, size_t n)
{
	cns_buf_reserve(b, n);
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void cns_buf_addc(struct cns_buf *b, char c)
{
	cns_buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void cns_buf_adds(struct cns_buf *b, const char *s)
{
	cns_buf_add(b, s, strlen(s));
}

void cns_buf_vprintf(struct cns_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	cns_buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void cns_buf_printf(struct cns_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cns_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* ---- clocks ---- */

int64_t cns_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cns_cond_init_monotonic(pthread_cond_t *cv)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

struct timespec cns_deadline_in(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

int64_t cns_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- UTF-8 ---- */

long cns_utf8_invalid_at(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return (long)i;
		}
		if (i + len > n)
			return (long)i;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return (long)i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return (long)i;
		i += len;
	}
	return -1;
}

int cns_strcasecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = tolower((unsigned char)*a);
		int cb = tolower((unsigned char)*b);

		if (ca != cb || !ca)
			return ca - cb;
	}
}

int cns_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int row[64];

	if (lb >= 64 || la >= 64)
		return 64;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int prev = row[0];

		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cur = row[j];
			int cost = tolower((unsigned char)a[i - 1]) !=
				   tolower((unsigned char)b[j - 1]);
			int best = prev + cost;

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

/* ---- PostgreSQL quoting ---- */

void cns_pg_quote_ident(struct cns_buf *b, const char *name)
{
	/* Always quoted, as PQescapeIdentifier does: a name is then never
	 * read as a keyword, never folded, and means exactly its bytes. */
	cns_buf_addc(b, '"');
	for (; *name; name++) {
		if (*name == '"')
			cns_buf_addc(b, '"');
		cns_buf_addc(b, *name);
	}
	cns_buf_addc(b, '"');
}

void cns_pg_quote_qname(struct cns_buf *b, const struct cns_qname *q)
{
	if (q->schema) {
		cns_pg_quote_ident(b, q->schema);
		cns_buf_addc(b, '.');
	}
	cns_pg_quote_ident(b, q->name);
}

size_t cns_pg_name_clip(const char *s, size_t n)
{
	if (n <= CNS_PG_NAME_MAX)
		return n;
	/* The server keeps the first 63 bytes, and never half a UTF-8
	 * character: back up over continuation bytes. */
	n = CNS_PG_NAME_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static bool unquoted_char(unsigned char c, bool first)
{
	if (c >= 0x80 || c == '_' || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return !first && ((c >= '0' && c <= '9') || c == '$');
}

/* One part of a qualified name at *sp: a quoted name with "" for a quote,
 * kept as written, or an unquoted one, folded to lower case (ASCII only,
 * as the server does in UTF-8). */
static char *parse_name_part(struct cns_arena *a, const char **sp,
			     const char **why)
{
	const char *s = *sp;
	struct cns_buf part;
	char *out;

	cns_buf_init(&part);
	if (*s == '"') {
		for (s++;; s++) {
			if (!*s) {
				*why = "unterminated quoted name";
				goto fail;
			}
			if (*s == '"' && s[1] == '"')
				s++;
			else if (*s == '"')
				break;
			cns_buf_addc(&part, *s);
		}
		s++;
		if (part.len == 0) {
			*why = "zero-length quoted name";
			goto fail;
		}
	} else {
		for (; *s && unquoted_char((unsigned char)*s, part.len == 0);
		     s++)
			cns_buf_addc(&part, (char)(*s >= 'A' && *s <= 'Z'
							   ? *s - 'A' + 'a'
							   : *s));
		if (part.len == 0) {
			*why = *s ? "a name without quotes has only letters, "
				    "digits, _ and $ and does not start with "
				    "a digit"
				  : "empty name";
			goto fail;
		}
	}
	*sp = s;
	out = cns_arena_strndup(a, part.data,
				cns_pg_name_clip(part.data, part.len));
	cns_buf_release(&part);
	return out;
fail:
	cns_buf_release(&part);
	return NULL;
}

int cns_pg_parse_qname(struct cns_arena *a, const char *text,
		       struct cns_qname *out, const char **why)
{
	const char *s = text;
	char *first, *second = NULL;

	out->schema = NULL;
	out->name = NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!(first = parse_name_part(a, &s, why)))
		return -1;
	if (*s == '.') {
		s++;
		if (!(second = parse_name_part(a, &s, why)))
			return -1;
	}
	if (*s == ' ' || *s == '\t') {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s) {
			*why = "a name with blanks needs double quotes";
			return -1;
		}
	}
	if (*s) {
		*why = *s == '.' ? "more than two parts (schema.table)"
				 : "a name without quotes has only letters, "
				   "digits, _ and $";
		return -1;
	}
	if (second) {
		out->schema = first;
		out->name = second;
	} else {
		out->name = first;
	}
	return 0;
}

void cns_pg_quote_literal(struct cns_buf *b, const char *s)
{
	bool backslash = strchr(s, '\\') != NULL;

	if (backslash)
		cns_buf_addc(b, 'E');
	cns_buf_addc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			cns_buf_addc(b, *s);
		cns_buf_addc(b, *s);
	}
	cns_buf_addc(b, '\'');
}
