/*
 * runlog_util.c - the plumbing under the run log and the rejects file:
 * JSON in and out through jansson, UTC timestamps and atomic file
 * replacement.
 *
 * What stays here by hand is only what jansson lacks: it refuses text
 * that is not UTF-8, and what we write (a row's values, an error from a
 * driver) may not be, so such bytes become U+FFFD before jansson sees
 * them.
 */
#include "consolidate/testhook.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- JSON out ---- */

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0
 * when the bytes there are not one (overlong forms and surrogates
 * included). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		cp = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		cp = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* Length of the valid UTF-8 text at the start of s[0..n). */
static size_t utf8_prefix(const unsigned char *s, size_t n)
{
	size_t i = 0, len;

	while (i < n && (len = utf8_seq(s + i, n - i)) > 0)
		i += len;
	return i;
}

json_t *cns_json_text(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	struct cns_buf b;
	json_t *v;
	size_t i = utf8_prefix(s, n), len;

	/* Nearly always valid: checked once, handed over as it is. */
	if (i == n)
		return cns_json_checked(json_stringn_nocheck(str, n));
	cns_buf_init(&b);
	cns_buf_add(&b, s, i);
	while (i < n) {
		len = utf8_seq(s + i, n - i);
		if (len == 0) {
			cns_buf_adds(&b, "\xEF\xBF\xBD"); /* U+FFFD */
			i++;
		} else {
			cns_buf_add(&b, s + i, len);
			i += len;
		}
	}
	v = cns_json_checked(json_stringn_nocheck(b.data, b.len));
	cns_buf_release(&b);
	return v;
}

json_t *cns_json_ctext(const char *s)
{
	return s ? cns_json_text(s, strlen(s)) : cns_json_checked(json_null());
}

json_t *cns_json_checked(json_t *v)
{
	if (!v) {
		fprintf(stderr, "consolidate: out of memory\n");
		abort();
	}
	return v;
}

void cns_json_set(json_t *obj, const char *key, json_t *v)
{
	size_t n = strlen(key);
	json_t *k;

	if (utf8_prefix((const unsigned char *)key, n) == n) {
		json_object_set_new_nocheck(obj, key, cns_json_checked(v));
		return;
	}
	/* A key that is not UTF-8 is repaired like a value. */
	k = cns_json_text(key, n);
	json_object_set_new_nocheck(obj, json_string_value(k),
				    cns_json_checked(v));
	json_decref(k);
}

void cns_json_dump(const json_t *v, struct cns_buf *b)
{
	size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
		       JSON_REAL_PRECISION(15);
	size_t n = json_dumpb(v, NULL, 0, flags);

	cns_buf_reserve(b, n + 1);
	json_dumpb(v, b->data + b->len, n, flags);
	b->len += n;
	b->data[b->len] = '\0';
}

void cns_json_add_str(struct cns_buf *b, const char *s, size_t n)
{
	json_t *v;
	size_t i = 0;

	/* Printable ASCII without a quote or a backslash is what jansson
	 * would write unchanged: copied at once, without building a value
	 * (ten times faster, for every value of a rejected row). */
	while (i < n && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' &&
	       s[i] != '\\')
		i++;
	if (i == n) {
		cns_buf_reserve(b, n + 2);
		cns_buf_addc(b, '"');
		cns_buf_add(b, s, n);
		cns_buf_addc(b, '"');
		return;
	}
	v = cns_json_text(s, n);
	cns_json_dump(v, b);
	json_decref(v);
}

void cns_json_add_cstr(struct cns_buf *b, const char *s)
{
	if (!s)
		cns_buf_adds(b, "null");
	else
		cns_json_add_str(b, s, strlen(s));
}

/* ---- JSON in ---- */

json_t *cns_json_load(const char *text, size_t len)
{
	/* \u0000 is allowed as the earlier reader allowed it: a string
	 * holding one is read up to it. */
	return json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

const char *cns_json_str(struct cns_arena *a, const json_t *obj,
			 const char *key)
{
	const json_t *m = json_object_get(obj, key);

	if (!json_is_string(m))
		return NULL;
	return cns_arena_strdup(a, json_string_value(m));
}

int64_t cns_json_int(const json_t *obj, const char *key, int64_t def)
{
	const json_t *m = json_object_get(obj, key);
	double d;

	if (json_is_integer(m))
		return (int64_t)json_integer_value(m);
	if (!json_is_real(m))
		return def;
	/* A fraction is cut off, a value out of range saturates. */
	d = json_real_value(m);
	if (d >= 9.2233720368547758e18)
		return INT64_MAX;
	if (d <= -9.2233720368547758e18)
		return INT64_MIN;
	return (int64_t)d;
}

double cns_json_num(const json_t *obj, const char *key, double def)
{
	const json_t *m = json_object_get(obj, key);

	return json_is_number(m) ? json_number_value(m) : def;
}

/* ---- run statuses ---- */

/* The one table of names: what is written, and what is read back. */
static const char *const run_status_names[CNS_RUN_NSTATUS] = {
	[CNS_RUN_UNKNOWN] = "unknown",     [CNS_RUN_OK] = "ok",
	[CNS_RUN_FAILED] = "failed",       [CNS_RUN_TIMED_OUT] = "timed_out",
	[CNS_RUN_CANCELLED] = "cancelled", [CNS_RUN_SKIPPED] = "skipped",
	[CNS_RUN_CRASHED] = "crashed",
};

const char *cns_run_status_name(enum cns_run_status s)
{
	if ((unsigned)s >= CNS_RUN_NSTATUS)
		s = CNS_RUN_UNKNOWN;
	return run_status_names[s];
}

enum cns_run_status cns_run_status_of(const char *name)
{
	/* "unknown" itself is no status a run is recorded with. */
	for (int s = CNS_RUN_UNKNOWN + 1; name && s < CNS_RUN_NSTATUS; s++)
		if (!strcmp(run_status_names[s], name))
			return (enum cns_run_status)s;
	return CNS_RUN_UNKNOWN;
}

static const char *const source_state_names[] = {
	[CNS_SRC_PENDING] = "pending", [CNS_SRC_RUNNING] = "running",
	[CNS_SRC_DONE] = "ok",         [CNS_SRC_FAILED] = "failed",
	[CNS_SRC_SKIPPED] = "skipped",
};
#define NSOURCE_STATES                                                         \
	(int)(sizeof(source_state_names) / sizeof(source_state_names[0]))

const char *cns_source_state_name(enum cns_source_state s)
{
	return (int)s >= 0 && (int)s < NSOURCE_STATES ? source_state_names[s]
						      : "?";
}

int cns_source_state_of(const char *name, enum cns_source_state *s)
{
	for (int i = 0; name && i < NSOURCE_STATES; i++) {
		if (!strcmp(source_state_names[i], name)) {
			*s = (enum cns_source_state)i;
			return 0;
		}
	}
	return -1;
}

bool cns_run_entry_is_redrive(const struct cns_run_entry *e)
{
	return e->kind != NULL;
}

/* ---- time ---- */

static void split_us(int64_t us, time_t *secs, int *ms)
{
	int64_t s = us / 1000000, rem = us % 1000000;

	if (rem < 0) {
		rem += 1000000;
		s--;
	}
	*secs = (time_t)s;
	*ms = (int)(rem / 1000);
}

char *cns_runlog_iso(int64_t us, bool ms, char *buf, size_t size)
{
	struct tm tm;
	time_t secs;
	int msec;

	split_us(us, &secs, &msec);
	gmtime_r(&secs, &tm);
	if (ms)
		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
	else
		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}

char *cns_runlog_compact(int64_t us, char *buf, size_t size)
{
	struct tm tm;
	time_t secs;
	int msec;

	split_us(us, &secs, &msec);
	gmtime_r(&secs, &tm);
	snprintf(buf, size, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

int cns_runlog_parse_iso(const char *s, int64_t *us)
{
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac_us = 0, off = 0;
	const char *p = s;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return -1;
			if (*p == '.' || *p == ',') {
				int scale = 100000;

				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				for (; isdigit((unsigned char)*p); p++) {
					frac_us += (*p - '0') * scale;
					scale /= 10;
				}
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;

			if (!digits(&p, 2, &oh))
				return -1;
			if (*p == ':')
				p++;
			if (isdigit((unsigned char)*p) && !digits(&p, 2, &om))
				return -1;
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*us = ((int64_t)t - off) * 1000000 + frac_us;
	return 0;
}
