/*
 * rejects.h - the rejects file of a run: every row that was refused, with
 * the source, the row number, the target column, the reason and the
 * original values, in <rejects_dir>/<job>/<run id>.csv.gz.
 *
 * The file is created on the first reject only, so a clean run leaves no
 * empty file.  Thread-safe: every source's threads write to one file.
 */
#ifndef CONSOLIDATE_REJECTS_H
#define CONSOLIDATE_REJECTS_H

#include <stdint.h>
#include <stdio.h>

#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/transform.h"

struct cns_rejects;

struct cns_rejects *cns_rejects_open(const struct cns_job_conf *job,
				     const char *run_id);
/* Records one rejected row and writes it to the file before returning.
 * Returns -1 with err set when the row (or an earlier one) could not be
 * written: the caller must then stop before the row's chunk commits, or
 * the row would be in neither the target nor the file. */
int cns_rejects_add(struct cns_rejects *r, const struct cns_reject *rej,
		    struct cns_error *err);
/* Rejected rows so far. */
int64_t cns_rejects_count(struct cns_rejects *r);
/* Writes "source reason: count" lines, most frequent first, at most
 * `limit` lines. */
void cns_rejects_summary(struct cns_rejects *r, FILE *out, int limit);
/* The file's path, or NULL when nothing was rejected. */
const char *cns_rejects_path(const struct cns_rejects *r);
/* Closes the file (the counts and summary stay readable); returns -1 if
 * any write failed.  Call before the run's end is recorded, so that the
 * records agree with the exit status. */
int cns_rejects_finish(struct cns_rejects *r, struct cns_error *err);
/* Finishes (if not done) and frees; returns -1 if any write failed. */
int cns_rejects_close(struct cns_rejects *r, struct cns_error *err);

#endif
