/*
 * json_helper.h - reading JSON in the unit tests through the same jansson
 * accessors as the library, with every parsed document kept until
 * tj_free_all(), so that assertions can hold pointers into several
 * documents at once and the sanitizer build still sees no leak.
 */
#ifndef CONSOLIDATE_TEST_JSON_HELPER_H
#define CONSOLIDATE_TEST_JSON_HELPER_H

#include <string.h>

#include <jansson.h>

#include "../../src/runlog/internal.h"

#define TJ_MAX 256

static json_t *tj_docs[TJ_MAX];
static int tj_ndocs;

/* Parses text[0..n) as the library does; NULL when it is not JSON. */
static inline json_t *tj_parse(const char *text, size_t n)
{
	json_t *v = cns_json_load(text, n);

	if (v && tj_ndocs < TJ_MAX)
		tj_docs[tj_ndocs++] = v;
	return v;
}

static inline json_t *tj_parse_s(const char *text)
{
	return tj_parse(text, strlen(text));
}

static inline void tj_free_all(void)
{
	while (tj_ndocs > 0)
		json_decref(tj_docs[--tj_ndocs]);
}

/* The member's string, or NULL when missing or not a string. */
static inline const char *tj_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The type of member key, or -1 when it is missing. */
static inline int tj_type(const json_t *o, const char *key)
{
	const json_t *m = json_object_get(o, key);

	return m ? (int)json_typeof(m) : -1;
}

#endif
