/*
 * rejfile.h - reading a rejects file back (the format rejects.c writes:
 * source,row,origin,column,reason,values as CSV in gzip, values one JSON
 * object of the row's values by column name), for `consolidate redrive`.
 */
#ifndef CONSOLIDATE_REJFILE_H
#define CONSOLIDATE_REJFILE_H

#include <stdint.h>

#include "consolidate/chunk.h"
#include "consolidate/error.h"
#include "consolidate/util.h"

/* One refused row as recorded.  nvalues is -1 when the row never became
 * columns (its values field is empty). */
struct cns_rejected_row {
	const char *source;
	int64_t rownum;
	const char *origin; /* NULL when empty */
	const char *column; /* NULL when empty */
	const char *reason;
	int nvalues;
	const char **names;
	struct cns_cell *values;
};

struct cns_rejects_file {
	int n;
	struct cns_rejected_row *rows;
	struct cns_arena arena; /* every string and array above */
};

/* Reads the whole file into f (release it with
 * cns_rejects_file_release() on success).  A file cut short by a killed
 * run reads up to its last whole record.  Returns -1 with err set when
 * the file cannot be read or a record is not in the format. */
int cns_rejects_file_read(const char *path, struct cns_rejects_file *f,
			  struct cns_error *err);
void cns_rejects_file_release(struct cns_rejects_file *f);

#endif
