/*
 * report.h - what `run` shows a person: the live progress line on a
 * terminal and the summary table at the end.
 */
#ifndef CONSOLIDATE_CLI_REPORT_H
#define CONSOLIDATE_CLI_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "consolidate/pipeline.h"

/* Draws one progress line (overwriting the last) on `out`. */
void cns_report_progress(FILE *out, const struct cns_source_stats *st, int n,
			 int64_t now_ms);
/* Erases the progress line. */
void cns_report_progress_clear(FILE *out);
/* Prints the per-source summary table. */
void cns_report_summary(FILE *out, const struct cns_source_stats *st, int n,
			int64_t now_ms);
/* Formats n with thousands separators into buf. */
char *cns_report_count(int64_t n, char *buf, size_t size);

#endif
