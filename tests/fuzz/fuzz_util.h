/*
 * fuzz_util.h - what the file-reading fuzz targets share: one private
 * temporary folder per fuzzing process, and writing the input into a file
 * there (the readers under test take paths, as in a run).
 */
#ifndef CNS_FUZZ_UTIL_H
#define CNS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The folder, created on first use under $TMPDIR (libFuzzer ends the
 * process with exit(), so the process cannot remove it: `make fuzz` gives
 * each target a TMPDIR of its own and removes that). */
static inline const char *fuzz_dir(void)
{
	static char dir[256];

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/cns-fuzz-XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(dir))
			abort();
	}
	return dir;
}

/* Writes data to dir/name; returns the path (static storage). */
static inline const char *fuzz_write(const char *name, const uint8_t *data,
				     size_t size)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
	f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	return path;
}

/* Inputs that name kernel files or devices: readers may open paths
 * given in the input, and reading /dev/zero never ends. */
static inline int fuzz_names_devices(const uint8_t *data, size_t size)
{
	return memmem(data, size, "/dev", 4) ||
	       memmem(data, size, "/proc", 5) || memmem(data, size, "/sys", 4);
}

/* The input as a terminated string, owned by the caller (free()); NULL
 * when out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
	}
	return text;
}

#endif
