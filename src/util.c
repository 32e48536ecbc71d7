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

static void out_of_memory(size_t n)
{
	fprintf(stderr, "consolidate: out of memory (%zu bytes)\n", n);
	abort();
}

void *cns_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		out_of_memory(n);
	return p;
}

void *cns_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory(n * size);
	return p;
}

void *cns_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

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

const char *cns_conn_value_end(const char *v, const char *quotes,
			       const char *stops)
{
	if (*v && strchr(quotes, *v)) {
		char q = *v;

		for (v++; *v && *v != q; v++)
			if (*v == '\\' && v[1])
				v++;
		return *v ? v + 1 : v;
	}
	if (*v == '{') {
		for (v++; *v; v++) {
			if (*v == '}' && v[1] == '}')
				v++;
			else if (*v == '}')
				return v + 1;
		}
		return v;
	}
	return v + strcspn(v, stops);
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

static bool ident_needs_quotes(const char *s, size_t n)
{
	if (n == 0 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(islower(c) || isdigit(c) || c == '_'))
			return true;
	}
	return false;
}

static void quote_one(struct cns_buf *b, const char *s, size_t n)
{
	if (!ident_needs_quotes(s, n)) {
		cns_buf_add(b, s, n);
		return;
	}
	cns_buf_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			cns_buf_addc(b, '"');
		cns_buf_addc(b, s[i]);
	}
	cns_buf_addc(b, '"');
}

void cns_pg_quote_ident(struct cns_buf *b, const char *name)
{
	const char *dot;

	/* A name already written with quotes is taken as it is. */
	if (name[0] == '"') {
		cns_buf_adds(b, name);
		return;
	}
	while ((dot = strchr(name, '.')) != NULL) {
		quote_one(b, name, (size_t)(dot - name));
		cns_buf_addc(b, '.');
		name = dot + 1;
	}
	quote_one(b, name, strlen(name));
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
