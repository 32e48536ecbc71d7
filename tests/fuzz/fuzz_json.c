/*
 * fuzz_json.c - libFuzzer target for the JSON reader behind runs.jsonl:
 * the input is parsed as one JSON value (every node visited, as the
 * readers of records do), then read back as a whole runs.jsonl file by
 * the history reader that `consolidate history` and `status` use.
 *
 * Built and run by `make fuzz`; seeds are tests/fuzz/seeds/json.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_util.h"

#include "consolidate/config.h"
#include "consolidate/runlog.h"
#include "../../src/runlog/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Visits every node below n; returns a sum so nothing is optimised out. */
static size_t walk(const struct cns_json *n, int depth)
{
	size_t k = 0;

	for (; n; n = n->next) {
		k += n->len + (n->key ? strlen(n->key) : 0);
		if (n->str)
			k += (size_t)(unsigned char)n->str[0];
		k += walk(n->child, depth + 1);
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cns_job_conf job;
	struct cns_run_history h;
	struct cns_error err;
	struct cns_arena a;
	const struct cns_json *root;
	char dir[300];
	volatile size_t sink;

	cns_arena_init(&a, 4096);
	root = cns_json_parse(&a, (const char *)data, size);
	if (root) {
		sink = walk(root, 0);
		(void)sink;
		cns_json_get_str(root, "run_id");
		cns_json_get_int(root, "pid", 0);
		cns_json_get_num(root, "duration_s", -1);
	}
	cns_arena_release(&a);

	memset(&job, 0, sizeof(job));
	job.name = "fuzz";
	job.log_dir = (char *)fuzz_dir();
	snprintf(dir, sizeof(dir), "%s/fuzz", fuzz_dir());
	mkdir(dir, 0700);
	fuzz_write("fuzz/runs.jsonl", data, size);
	cns_error_clear(&err);
	if (cns_runlog_history(&job, 0, &h, &err) == 0)
		cns_run_history_release(&h);
	return 0;
}
