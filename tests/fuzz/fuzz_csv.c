/*
 * fuzz_csv.c - libFuzzer target for the csv source: the first byte of the
 * input chooses the options (header or not, delimiter, quote, gzip), the
 * rest is the file, read to its end by the driver a run uses, in chunks
 * of three rows so that chunk boundaries fall everywhere.
 *
 * Built and run by `make fuzz`; seeds are the files under data/ and
 * tests/fuzz/seeds/csv.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_util.h"

#include <zlib.h>

#include "consolidate/chunk.h"
#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_reject(void *ctx, struct cns_source *src, int64_t rownum,
		      const char *origin, const char *reason)
{
	(void)ctx;
	(void)src;
	(void)rownum;
	(void)origin;
	(void)reason;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = { ',', ';', '\t', '|' };
	struct cns_job_conf job;
	struct cns_source_conf conf;
	struct cns_source *src;
	struct cns_chunk chunk;
	struct cns_error err;
	static char path[512];
	uint8_t opt;

	if (size == 0)
		return 0;
	opt = data[0];
	data++;
	size--;
	if (opt & 0x10) {
		gzFile g;

		snprintf(path, sizeof(path), "%s/in.csv.gz", fuzz_dir());
		g = gzopen(path, "wb");
		if (!g)
			abort();
		if (size && gzwrite(g, data, (unsigned)size) != (int)size)
			abort();
		gzclose(g);
	} else {
		snprintf(path, sizeof(path), "%s",
			 fuzz_write("in.csv", data, size));
	}
	memset(&job, 0, sizeof(job));
	job.name = "fuzz";
	job.batch_size = 3;
	memset(&conf, 0, sizeof(conf));
	conf.name = "files";
	conf.driver = "csv";
	conf.path = path;
	conf.header = !(opt & 0x01);
	conf.delimiter = delims[(opt >> 1) & 3];
	conf.quote = opt & 0x08 ? '\'' : '"';
	conf.min_rows = -1;
	conf.max_change = -1;
	src = cns_source_new(&job, &conf);
	src->reject = on_reject;
	cns_error_clear(&err);
	if (src->ops->open(src, &err) == 0 &&
	    src->ops->describe(src, &err) == 0) {
		cns_chunk_init(&chunk, src->ncols, 3);
		while (src->ops->next_chunk(src, &chunk, &err) > 0)
			cns_chunk_reset(&chunk);
		cns_chunk_release(&chunk);
	}
	cns_source_free(src);
	/* the gzip and plain files alternate: leave one at a time */
	unlink(path);
	return 0;
}
