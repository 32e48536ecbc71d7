/*
 * jobs.c - finding job files for the scheduler commands, and each job's
 * stable jitter.
 *
 * Kept apart from def.c (which loads job files through the config module)
 * so that the pure parts link into the unit tests on their own.
 */
#include "consolidate/schedule.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int64_t cns_sched_jitter_offset(const char *name, int64_t jitter_ms)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, 64 bits */

	if (jitter_ms <= 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return (int64_t)(h % (uint64_t)jitter_ms);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_conf_suffix(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

struct strvec {
	char **v;
	int n, cap;
};

static void vec_push(struct strvec *v, char *s)
{
	for (int i = 0; i < v->n; i++)
		if (strcmp(v->v[i], s) == 0) {
			free(s); /* named twice: schedule once */
			return;
		}
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->v = cns_xrealloc(v->v, (size_t)v->cap * sizeof(char *));
	}
	v->v[v->n++] = s;
}

/* An absolute path for p without resolving symlinks of the last part,
 * so that a job file's folder is the folder it was named in. */
static char *absolute(const char *p)
{
	char cwd[PATH_MAX];
	size_t n;
	char *s;

	if (p[0] == '/')
		return cns_xstrdup(p);
	if (!getcwd(cwd, sizeof(cwd)))
		return cns_xstrdup(p);
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	n = strlen(cwd) + strlen(p) + 2;
	s = cns_xmalloc(n);
	snprintf(s, n, "%s/%s", cwd, p);
	return s;
}

static int list_dir(const char *dir, struct strvec *out, struct cns_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct strvec found = { 0 };
	char *abs;

	if (!d)
		return cns_error_set(err, CNS_E_IO,
				     "could not read the job folder \"%s\": %s",
				     dir, strerror(errno));
	abs = absolute(dir);
	while ((de = readdir(d)) != NULL) {
		size_t n;
		char *path;
		struct stat st;

		if (de->d_name[0] == '.' || !has_conf_suffix(de->d_name))
			continue;
		n = strlen(abs) + strlen(de->d_name) + 2;
		path = cns_xmalloc(n);
		snprintf(path, n, "%s%s%s", abs,
			 abs[strlen(abs) - 1] == '/' ? "" : "/", de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		vec_push(&found, path);
	}
	closedir(d);
	free(abs);
	if (found.n)
		qsort(found.v, (size_t)found.n, sizeof(char *), cmp_str);
	for (int i = 0; i < found.n; i++)
		vec_push(out, found.v[i]);
	free(found.v);
	return 0;
}

int cns_sched_list_files(char *const *args, int nargs, char ***files,
			 int *nfiles, struct cns_error *err)
{
	static char *const def[] = { (char *)CNS_SCHED_DEFAULT_DIR };
	struct strvec out = { 0 };

	if (nargs == 0) {
		args = def;
		nargs = 1;
	}
	for (int i = 0; i < nargs; i++) {
		struct stat st;

		if (stat(args[i], &st) < 0) {
			cns_error_set(err, CNS_E_IO,
				      "could not open \"%s\": %s", args[i],
				      strerror(errno));
			goto fail;
		}
		if (S_ISDIR(st.st_mode)) {
			if (list_dir(args[i], &out, err) < 0)
				goto fail;
		} else {
			vec_push(&out, absolute(args[i]));
		}
	}
	*files = out.v;
	*nfiles = out.n;
	return 0;
fail:
	cns_sched_files_free(out.v, out.n);
	return -1;
}

void cns_sched_files_free(char **files, int nfiles)
{
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
}
