/*
 * htmlreport.h - one self-contained HTML page about a set of jobs: a
 * summary table with the verdicts of `consolidate status`, then per job
 * its last runs as charts drawn in inline SVG (duration against the
 * schedule's interval, rows per source, rejects) and its failures with
 * their first error line.  No scripts, fonts or styles from elsewhere:
 * the file can be mailed, archived or opened offline.
 */
#ifndef CONSOLIDATE_HTMLREPORT_H
#define CONSOLIDATE_HTMLREPORT_H

#include <stdint.h>

#include "consolidate/error.h"
#include "consolidate/util.h"

struct cns_htmlreport_opts {
	char *const *files; /* job files */
	int nfiles;
	int runs;    /* how many of each job's last runs to draw */
	int64_t now; /* seconds since the epoch, for the verdicts */
};

/* Appends the page to out.  Never fails for a job that cannot be read:
 * that job shows as "error" with the reason, as in `status`. */
void cns_htmlreport_write(const struct cns_htmlreport_opts *o,
			  struct cns_buf *out);
/* Writes the page to `path` atomically (mode 0640: error lines may quote
 * values), or to standard output when path is "-".  On error sets err
 * (CNS_E_IO) and returns -1. */
int cns_htmlreport_save(const struct cns_htmlreport_opts *o, const char *path,
			struct cns_error *err);

#endif
