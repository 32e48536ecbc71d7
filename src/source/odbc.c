/*
 * odbc.c - the odbc source driver: not built yet.
 */
#include "consolidate/source.h"

static int odbc_open(struct cns_source *src, struct cns_error *err)
{
	return cns_error_set(err, CNS_E_SOURCE,
			     "source \"%s\": the odbc driver is not available "
			     "in this version",
			     src->conf->name);
}

static void odbc_close(struct cns_source *src)
{
	(void)src;
}

const struct cns_source_ops cns_source_odbc_ops = {
	.name = "odbc",
	.open = odbc_open,
	.close = odbc_close,
};
