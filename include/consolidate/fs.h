/*
 * fs.h - files the engine owns: folders and atomic replacement.
 */
#ifndef CONSOLIDATE_FS_H
#define CONSOLIDATE_FS_H

#include <stddef.h>

/* Creates a folder and its parents (mode 0750 for new ones); an existing
 * folder is fine.  Returns 0, or -1 with errno set. */
int cns_mkdir_p(const char *path);
/* Writes data to path atomically: a temporary file in the same folder,
 * fsync, then rename over path.  Returns 0, or -1 with errno set. */
int cns_write_atomic(const char *path, const char *data, size_t len, int mode);

#endif
