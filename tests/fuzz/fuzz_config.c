/*
 * fuzz_config.c - libFuzzer target for job files: the input is written to
 * a file and read by the same loader a run uses (keys, sections, values,
 * ${ENV} references, schedules, time zones, every cross-key check); a
 * file that loads is freed again.
 *
 * Built and run by `make fuzz`; seeds are the job files under jobs/ and
 * tests/fuzz/seeds/config.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_util.h"

#include "consolidate/config.h"
#include "consolidate/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cns_job_conf *job = NULL;
	struct cns_error err;
	const char *path;

	if (fuzz_names_devices(data, size))
		return 0;
	path = fuzz_write("job.conf", data, size);
	cns_error_clear(&err);
	if (cns_config_load(path, &job, &err) == 0)
		cns_config_free(job);
	return 0;
}
