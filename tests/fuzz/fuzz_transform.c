/*
 * fuzz_transform.c - libFuzzer target for the transform language: the
 * input is parsed as a transform file; when it compiles, every section
 * (and a source without a section) is bound to the columns it asks for,
 * run over a small chunk of awkward values, and explained.
 *
 * Built and run by `make fuzz` (build/fuzz/fuzz_transform); seeds are
 * the .xf files under transforms/ and tests/fuzz/seeds/transform.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "fuzz_util.h"

#include "consolidate/chunk.h"
#include "consolidate/transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Values that stress casts and functions: empty, NULL, signs, dates,
 * multibyte and broken UTF-8, long numbers. */
static const char *const values[] = {
	"1",
	"",
	NULL,
	"-1.5",
	"abc",
	"2024-02-29 01:30:00",
	"\xc3\xa9t\xc3\xa9",
	"\xff\xfe",
	"99999999999999999999999999.999999",
	"  x  ",
	"t",
	"{\"a\": [1, 2]}",
	/* the edges of PostgreSQL's input rules */
	"infinity",
	"-Infinity",
	"NaN",
	"0044-03-15 10:00:00+02 BC",
	"294246-12-31 23:59:59.9999995",
	"5874897-12-31",
	"3.4028235e+38",
	"1e-45",
};
#define NVALUES (sizeof(values) / sizeof(values[0]))

static void run_source(const struct cns_transform *t, const char *source,
		       const char *zone)
{
	const struct cns_schema *sc = cns_transform_schema(t);
	struct cns_program *p = NULL;
	struct cns_error err;
	struct cns_chunk in, out;
	struct cns_eval_stats st = { 0, 0 };
	const char *const *cols;
	int ncols;
	FILE *devnull;

	cols = cns_transform_source_columns(t, source, &ncols);
	cns_error_clear(&err);
	if (cns_transform_bind(t, source, ncols, cols, &p, &err) < 0)
		return;
	if (zone)
		cns_program_set_timezone(p, zone, &err);
	cns_chunk_init(&in, ncols, (int)NVALUES);
	cns_chunk_init(&out, sc->ncols, (int)NVALUES);
	for (size_t r = 0; r < NVALUES; r++) {
		int row = cns_chunk_add_row(&in, (int64_t)r + 1, "fuzz");

		for (int c = 0; c < ncols; c++) {
			const char *v = values[(r + (size_t)c) % NVALUES];

			if (v)
				cns_chunk_set(&in, row, c, v, strlen(v));
		}
	}
	cns_error_clear(&err);
	cns_program_run(p, &in, &out, NULL, NULL, &st, &err);
	devnull = fopen("/dev/null", "w");
	if (devnull) {
		cns_program_explain(p, devnull);
		fclose(devnull);
	}
	cns_chunk_release(&in);
	cns_chunk_release(&out);
	cns_program_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cns_transform *t = NULL;
	struct cns_error err;
	char *text;

	/* lookup files are read from disk: keep the fuzzer away from
	 * devices and kernel files */
	if (fuzz_names_devices(data, size))
		return 0;
	text = fuzz_text(data, size);
	if (!text)
		return 0;
	cns_error_clear(&err);
	if (cns_transform_parse("fuzz.xf", text, 1714979289123456, &t, &err) ==
	    0) {
		static const char *const sources[] = { "a", "erp", "crm", "s",
						       "none" };

		for (size_t i = 0; i < sizeof(sources) / sizeof(*sources); i++)
			run_source(t, sources[i],
				   i % 2 ? "Europe/London" : NULL);
		cns_transform_free(t);
	}
	free(text);
	return 0;
}
