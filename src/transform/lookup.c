/*
 * lookup.c - the small mapping tables of lookup(): a CSV file with a
 * header line, key in the first column, value in the second, read once
 * when the transform is loaded (libcsv) into an open-addressing hash
 * table that every program shares read-only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Lookup tables are small mapping tables held in memory. */
#define LOOKUP_MAX_BYTES (64L * 1024 * 1024)

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static void grow(struct lookup *l)
{
	size_t cap = l->cap ? l->cap * 2 : 64;
	char **keys = cns_xcalloc(cap, sizeof(*keys));
	char **vals = cns_xcalloc(cap, sizeof(*vals));
	uint32_t *klen = cns_xcalloc(cap, sizeof(*klen));
	uint32_t *vlen = cns_xcalloc(cap, sizeof(*vlen));

	for (size_t i = 0; i < l->cap; i++) {
		size_t j;

		if (!l->keys[i])
			continue;
		j = hash(l->keys[i], l->klen[i]) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = l->keys[i];
		vals[j] = l->vals[i];
		klen[j] = l->klen[i];
		vlen[j] = l->vlen[i];
	}
	free(l->keys);
	free(l->vals);
	free(l->klen);
	free(l->vlen);
	l->keys = keys;
	l->vals = vals;
	l->klen = klen;
	l->vlen = vlen;
	l->cap = cap;
}

const char *xf_lookup_get(const struct lookup *l, const char *key, size_t n,
			  uint32_t *vlen)
{
	size_t j;

	if (!l || l->cap == 0)
		return NULL;
	j = hash(key, n) & (l->cap - 1);
	while (l->keys[j]) {
		if (l->klen[j] == n && !memcmp(l->keys[j], key, n)) {
			*vlen = l->vlen[j];
			return l->vals[j];
		}
		j = (j + 1) & (l->cap - 1);
	}
	return NULL;
}

struct reader {
	struct lookup *l;
	struct diags *d;
	int line, col;
	long row;  /* record number, 1 = header */
	int field; /* field index in the current record */
	struct cns_buf key, val;
	bool failed;
};

static void on_field(void *data, size_t n, void *ctx)
{
	struct reader *r = ctx;

	if (r->field == 0)
		cns_buf_add(&r->key, data ? data : "", data ? n : 0);
	else if (r->field == 1)
		cns_buf_add(&r->val, data ? data : "", data ? n : 0);
	r->field++;
}

static void on_record(int term, void *ctx)
{
	struct reader *r = ctx;

	(void)term;
	r->row++;
	if (r->row > 1 && !r->failed) {
		if (r->field < 2) {
			xf_diag_add(r->d, r->line, r->col, 1, NULL,
				    "lookup file \"%s\" record %ld has fewer "
				    "than 2 columns",
				    r->l->path, r->row);
			r->failed = true;
		} else {
			size_t j;

			if (xf_lookup_get(r->l, r->key.data ? r->key.data : "",
					  r->key.len, &(uint32_t){ 0 })) {
				xf_diag_add(
					r->d, r->line, r->col, 1, NULL,
					"duplicate key \"%s\" in lookup file "
					"\"%s\" (record %ld)",
					r->key.data ? r->key.data : "",
					r->l->path, r->row);
				r->failed = true;
			} else {
				if ((r->l->count + 1) * 2 > r->l->cap)
					grow(r->l);
				j = hash(r->key.data ? r->key.data : "",
					 r->key.len) &
				    (r->l->cap - 1);
				while (r->l->keys[j])
					j = (j + 1) & (r->l->cap - 1);
				r->l->keys[j] = cns_xmalloc(r->key.len + 1);
				memcpy(r->l->keys[j],
				       r->key.data ? r->key.data : "",
				       r->key.len + 1);
				r->l->klen[j] = (uint32_t)r->key.len;
				r->l->vals[j] = cns_xmalloc(r->val.len + 1);
				memcpy(r->l->vals[j],
				       r->val.data ? r->val.data : "",
				       r->val.len + 1);
				r->l->vlen[j] = (uint32_t)r->val.len;
				r->l->count++;
			}
		}
	}
	cns_buf_reset(&r->key);
	cns_buf_reset(&r->val);
	r->field = 0;
}

int xf_lookup_load(struct lookup *l, const char *path, struct diags *d,
		   int line, int col)
{
	struct csv_parser p;
	struct reader r;
	FILE *f;
	struct stat st;
	char buf[65536];
	size_t n;
	int rc = 0;

	f = fopen(path, "rb");
	if (!f) {
		xf_diag_add(d, line, col, 1, NULL,
			    "could not open lookup file \"%s\": %s", l->path,
			    strerror(errno));
		return -1;
	}
	/* a device or a fifo would never end */
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > LOOKUP_MAX_BYTES) {
		xf_diag_add(
			d, line, col, 1, NULL,
			S_ISREG(st.st_mode)
				? "lookup file \"%s\" is larger than 64 MB"
				: "lookup file \"%s\" is not a regular file",
			l->path);
		fclose(f);
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.l = l;
	r.d = d;
	r.line = line;
	r.col = col;
	cns_buf_init(&r.key);
	cns_buf_init(&r.val);
	if (csv_init(&p, CSV_APPEND_NULL) != 0) {
		fclose(f);
		xf_diag_add(d, line, col, 1, NULL,
			    "could not read lookup file");
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && !r.failed) {
		if (csv_parse(&p, buf, n, on_field, on_record, &r) != n) {
			xf_diag_add(d, line, col, 1, NULL,
				    "could not parse lookup file \"%s\": %s",
				    l->path, csv_strerror(csv_error(&p)));
			r.failed = true;
		}
	}
	if (ferror(f) && !r.failed) {
		xf_diag_add(d, line, col, 1, NULL,
			    "could not read lookup file \"%s\": %s", l->path,
			    strerror(errno));
		r.failed = true;
	}
	if (!r.failed)
		csv_fini(&p, on_field, on_record, &r);
	csv_free(&p);
	fclose(f);
	cns_buf_release(&r.key);
	cns_buf_release(&r.val);
	if (r.failed)
		rc = -1;
	return rc;
}

void xf_lookup_release(struct lookup *l)
{
	for (size_t i = 0; i < l->cap; i++) {
		free(l->keys[i]);
		free(l->vals[i]);
	}
	free(l->keys);
	free(l->vals);
	free(l->klen);
	free(l->vlen);
	free(l->name);
	free(l->path);
	memset(l, 0, sizeof(*l));
}
