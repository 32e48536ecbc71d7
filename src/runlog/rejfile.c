/*
 * rejfile.c - reads a rejects file back, record by record, with each
 * row's values as they were refused (see rejfile.h).  Its JSON reader is
 * the run log's own (internal.h), which is why it lives here.
 */
#include "consolidate/rejfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <csv.h>
#include <zlib.h>

#include "internal.h"

#define NFIELDS 6

struct reader {
	struct cns_rejects_file *f;
	int cap;
	char *field[NFIELDS];
	size_t flen[NFIELDS];
	int nfield;
	int64_t record; /* records seen, header included */
	bool bad;
	char why[160];
};

static void on_field(void *data, size_t n, void *ctx)
{
	struct reader *r = ctx;

	if (r->nfield < NFIELDS) {
		r->field[r->nfield] = cns_arena_strndup(
			&r->f->arena, data ? data : "", data ? n : 0);
		r->flen[r->nfield] = data ? n : 0;
	}
	r->nfield++;
}

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

/* The values object into names and cells, in the file's order. */
static bool read_values(struct reader *r, struct cns_rejected_row *row)
{
	struct cns_arena *a = &r->f->arena;
	json_t *o, *m;
	const char *key;
	bool ok = false;
	int n, k = 0;

	row->nvalues = -1;
	if (r->flen[5] == 0)
		return true;
	o = cns_json_load(r->field[5], r->flen[5]);
	if (!json_is_object(o))
		goto out;
	n = (int)json_object_size(o);
	row->names = cns_arena_zalloc(a, sizeof(char *) * (size_t)(n + 1));
	row->values =
		cns_arena_zalloc(a, sizeof(*row->values) * (size_t)(n + 1));
	json_object_foreach (o, key, m) {
		row->names[k] = cns_arena_strdup(a, key);
		if (json_is_null(m)) {
			row->values[k].null = true;
		} else if (json_is_string(m)) {
			size_t len = json_string_length(m);

			row->values[k].data =
				cns_arena_strndup(a, json_string_value(m), len);
			row->values[k].len = (uint32_t)len;
		} else {
			goto out;
		}
		k++;
	}
	row->nvalues = n;
	ok = true;
out:
	json_decref(o);
	return ok;
}

static void on_record(int c, void *ctx)
{
	struct reader *r = ctx;
	struct cns_rejected_row *row;
	char *end;

	(void)c;
	if (r->bad)
		return;
	if (r->record++ == 0) {
		/* The header line. */
		if (r->nfield != NFIELDS || strcmp(r->field[0], "source")) {
			r->bad = true;
			snprintf(r->why, sizeof(r->why),
				 "its first line is not the header "
				 "source,row,origin,column,reason,values");
		}
		r->nfield = 0;
		return;
	}
	if (r->nfield != NFIELDS) {
		r->bad = true;
		snprintf(r->why, sizeof(r->why),
			 "record %lld has %d fields, not %d",
			 (long long)r->record - 1, r->nfield, NFIELDS);
		return;
	}
	if (r->f->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->f->rows = realloc(r->f->rows,
				     sizeof(*r->f->rows) * (size_t)r->cap);
		if (!r->f->rows)
			abort();
	}
	row = &r->f->rows[r->f->n];
	memset(row, 0, sizeof(*row));
	row->source = r->field[0];
	row->rownum = strtoll(r->field[1], &end, 10);
	row->origin = or_null(r->field[2]);
	row->column = or_null(r->field[3]);
	row->reason = r->field[4];
	if (!read_values(r, row)) {
		r->bad = true;
		snprintf(r->why, sizeof(r->why),
			 "the values of record %lld are not a JSON object "
			 "of strings",
			 (long long)r->record - 1);
		return;
	}
	r->f->n++;
	r->nfield = 0;
}

int cns_rejects_file_read(const char *path, struct cns_rejects_file *f,
			  struct cns_error *err)
{
	struct reader r;
	struct csv_parser p;
	gzFile gz;
	char buf[65536];
	int n;

	memset(f, 0, sizeof(*f));
	memset(&r, 0, sizeof(r));
	cns_arena_init(&f->arena, 65536);
	r.f = f;
	gz = gzopen(path, "rb");
	if (!gz) {
		cns_arena_release(&f->arena);
		return cns_error_set(err, CNS_E_IO,
				     "could not open the rejects file \"%s\": "
				     "%s",
				     path, strerror(errno ? errno : ENOMEM));
	}
	csv_init(&p, 0);
	while (!r.bad && (n = gzread(gz, buf, sizeof(buf))) > 0)
		if (csv_parse(&p, buf, (size_t)n, on_field, on_record, &r) !=
		    (size_t)n) {
			r.bad = true;
			snprintf(r.why, sizeof(r.why), "%s",
				 csv_strerror(csv_error(&p)));
		}
	/* A file cut short (a killed run) ends inside a record: what came
	 * before it is whole, and the part is dropped, not completed. */
	csv_free(&p);
	gzclose(gz);
	if (r.bad) {
		cns_rejects_file_release(f);
		return cns_error_set(err, CNS_E_IO,
				     "could not read the rejects file \"%s\": "
				     "%s",
				     path, r.why);
	}
	return 0;
}

void cns_rejects_file_release(struct cns_rejects_file *f)
{
	free(f->rows);
	cns_arena_release(&f->arena);
	memset(f, 0, sizeof(*f));
}
