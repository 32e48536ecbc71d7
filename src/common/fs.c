/*
 * fs.c - files the engine owns: a folder with its parents, and a file
 * replaced atomically.  Below every module that writes files (the run
 * log, the rejects, the metrics, the report).
 */
#include "consolidate/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consolidate/testhook.h"

int cns_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0750) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int cns_write_atomic(const char *path, const char *data, size_t len, int mode)
{
	static unsigned counter;
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, saved;
	size_t off = 0;

	if (slash)
		snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmp-%ld-%u",
			 (int)(slash - path), path, slash + 1, (long)getpid(),
			 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	else
		snprintf(tmp, sizeof(tmp), ".%s.tmp-%ld-%u", path,
			 (long)getpid(),
			 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	/* The umask must not make a metrics file unreadable to the
	 * collector. */
	if (fchmod(fd, (mode_t)mode) < 0)
		goto fail;
	while (off < len) {
		ssize_t w;

		if (cns_fail_now("write")) {
			errno = ENOSPC;
			goto fail;
		}
		w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (cns_fail_now("fsync")) {
		errno = EIO;
		goto fail;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (cns_fail_now("rename")) {
		errno = EIO;
		goto fail;
	}
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}
