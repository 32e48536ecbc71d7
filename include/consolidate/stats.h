/*
 * stats.h - what a run counts per source: the pipeline fills it, the run
 * log records it, monitoring reads it back.  A leaf, so that the run log
 * need not know the pipeline.
 */
#ifndef CONSOLIDATE_STATS_H
#define CONSOLIDATE_STATS_H

#include <stdint.h>

enum cns_source_state {
	CNS_SRC_PENDING,
	CNS_SRC_RUNNING,
	CNS_SRC_DONE,
	CNS_SRC_FAILED,
	CNS_SRC_SKIPPED
};

struct cns_source_stats {
	const char *name;
	enum cns_source_state state;
	int64_t read;     /* rows delivered by the source (incl. rejected) */
	int64_t filtered; /* removed by `where` */
	int64_t rejected; /* bad rows */
	int64_t loaded;   /* rows sent to the target */
	int64_t written;  /* rows the target inserted or changed */
	int64_t chunks;   /* committed chunks */
	int64_t bytes;    /* bytes read from the source */
	int64_t started_ms, finished_ms; /* monotonic */
	int64_t last_progress_ms;        /* monotonic, for stall detection */
};

#endif
