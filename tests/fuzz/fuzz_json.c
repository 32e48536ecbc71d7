/*
 * fuzz_json.c - libFuzzer target for our JSON code around jansson: the
 * input is read back as a whole runs.jsonl file by the history reader
 * that `consolidate history` and `status` use, and as the "running"
 * marker; then it is written as a JSON string (the repair of bytes that
 * are not UTF-8, which jansson alone would refuse) and must read back as
 * one string: the same bytes when they were UTF-8.
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

/* Writes data as a JSON string and reads it back. */
static void round_trip(const char *data, size_t size)
{
	json_t *v = cns_json_text(data, size), *back;
	json_t *strict = json_stringn(data, size); /* NULL: not UTF-8 */
	struct cns_buf b;

	cns_buf_init(&b);
	cns_json_add_str(&b, data, size);
	back = cns_json_load(b.data, b.len);
	if (!json_is_string(back) ||
	    json_string_length(back) != json_string_length(v) ||
	    memcmp(json_string_value(back), json_string_value(v),
		   json_string_length(v)) != 0)
		abort();
	/* Valid UTF-8 is kept byte for byte. */
	if (strict && (json_string_length(v) != size ||
		       memcmp(json_string_value(v), data, size) != 0))
		abort();
	json_decref(strict);
	json_decref(back);
	json_decref(v);
	cns_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cns_job_conf job;
	struct cns_run_history h;
	struct cns_run_marker m;
	struct cns_error err;
	char dir[300];

	memset(&job, 0, sizeof(job));
	job.name = "fuzz";
	job.log_dir = (char *)fuzz_dir();
	snprintf(dir, sizeof(dir), "%s/fuzz", fuzz_dir());
	mkdir(dir, 0700);
	fuzz_write("fuzz/runs.jsonl", data, size);
	cns_error_clear(&err);
	if (cns_runlog_history(&job, 0, &h, &err) == 0) {
		/* Every record read has the two members it cannot do
		 * without, and its status is the one its name says. */
		for (int i = 0; i < h.n; i++)
			if (!h.runs[i].run_id || !h.runs[i].status_name ||
			    h.runs[i].status !=
				    cns_run_status_of(h.runs[i].status_name))
				abort();
		cns_run_history_release(&h);
	}
	fuzz_write("fuzz/running", data, size);
	cns_error_clear(&err);
	(void)cns_runlog_marker(&job, &m, &err);

	round_trip((const char *)data, size);
	return 0;
}
