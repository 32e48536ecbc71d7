/*
 * source.c - the registry of source drivers and the driver-independent part
 * of a source's lifecycle.
 */
#include "consolidate/source.h"

#include <stdlib.h>
#include <string.h>

static const struct cns_source_ops *const drivers[] = {
	&cns_source_postgres_ops,
	&cns_source_csv_ops,
	&cns_source_odbc_ops,
};

static const char *const driver_names[] = { "postgres", "csv", "odbc", NULL };

/* Drivers registered at run time (cns_source_driver_add); written only
 * before any run starts, so read without a lock. */
#define MAX_ADDED 4
static const struct cns_source_ops *added[MAX_ADDED];
static int nadded;

const struct cns_source_ops *cns_source_driver(const char *name)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	for (int i = 0; i < nadded; i++)
		if (strcmp(added[i]->name, name) == 0)
			return added[i];
	return NULL;
}

int cns_source_driver_add(const struct cns_source_ops *ops)
{
	if (nadded == MAX_ADDED || cns_source_driver(ops->name))
		return -1;
	added[nadded++] = ops;
	return 0;
}

const char *const *cns_source_driver_names(void)
{
	return driver_names;
}

struct cns_source *cns_source_new(const struct cns_job_conf *job,
				  const struct cns_source_conf *conf)
{
	struct cns_source *src = cns_xcalloc(1, sizeof(*src));

	src->ops = cns_source_driver(conf->driver);
	src->conf = conf;
	src->job = job;
	src->batch_size = job->batch_size;
	cns_arena_init(&src->arena, 16 * 1024);
	return src;
}

void cns_source_free(struct cns_source *src)
{
	if (!src)
		return;
	if (src->ops && src->ops->close)
		src->ops->close(src);
	cns_arena_release(&src->arena);
	free(src);
}
