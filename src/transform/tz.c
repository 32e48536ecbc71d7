/*
 * tz.c - time zones for timestamptz values: an adapter over the zone
 * reader of src/schedule/tz.c (the system's TZif files), which the
 * scheduler shares, plus fixed offsets such as "+02:00".
 *
 * Why not setenv("TZ") + mktime(): the environment and the C library's
 * zone state are process-wide, so switching zones per source would race
 * with every other thread that formats a time (log lines, other sources).
 * A loaded zone is immutable and its lookups are pure functions, safe from
 * any number of threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/tz.h"

struct tzinfo {
	struct cns_tz *zone; /* NULL for a fixed offset */
	int32_t fixed;       /* seconds east of UTC */
};

void xf_tz_free(struct tzinfo *tz)
{
	if (!tz)
		return;
	cns_tz_free(tz->zone);
	free(tz);
}

static bool rule_time(const char **s, int32_t *out)
{
	const char *p = *s;
	int sign = 1, h = 0, m = 0, sec = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		h = h * 10 + (*p++ - '0');
	if (*p == ':') {
		p++;
		while (isdigit((unsigned char)*p))
			m = m * 10 + (*p++ - '0');
		if (*p == ':') {
			p++;
			while (isdigit((unsigned char)*p))
				sec = sec * 10 + (*p++ - '0');
		}
	}
	if (h > 167 || m > 59 || sec > 59)
		return false;
	*out = sign * (h * 3600 + m * 60 + sec);
	*s = p;
	return true;
}

int32_t xf_tz_offset_utc(const struct tzinfo *tz, int64_t t)
{
	if (!tz)
		return 0;
	return tz->zone ? cns_tz_offset(tz->zone, t) : tz->fixed;
}

int64_t xf_tz_local_to_utc(const struct tzinfo *tz, int64_t local)
{
	/* The offsets a day before and after bracket any change; the
	 * resolution follows PostgreSQL: of two valid readings take the
	 * later (after the change), of none (a skipped local time) read
	 * it with the offset in force before the change. */
	int32_t before = xf_tz_offset_utc(tz, local - 86400);
	int32_t after = xf_tz_offset_utc(tz, local + 86400);
	int64_t tb = local - before, ta = local - after;
	bool bok = xf_tz_offset_utc(tz, tb) == before;
	bool aok = xf_tz_offset_utc(tz, ta) == after;

	if (before == after) {
		if (bok)
			return tb;
		/* two changes within two days (rare): search nearby */
		for (int32_t off = -14 * 3600; off <= 14 * 3600; off += 900)
			if (xf_tz_offset_utc(tz, local - off) == off)
				return local - off;
		return tb;
	}
	if (bok && aok)
		return ta > tb ? ta : tb;
	if (aok)
		return ta;
	return tb;
}

int64_t xf_tz_utc_to_local_us(const struct tzinfo *tz, int64_t us)
{
	int64_t s;

	if (!tz || !XF_DT_FINITE(us))
		return us;
	s = us / USECS_PER_SEC - (us % USECS_PER_SEC < 0);
	return us + (int64_t)xf_tz_offset_utc(tz, s) * USECS_PER_SEC;
}

int64_t xf_tz_local_to_utc_us(const struct tzinfo *tz, int64_t us)
{
	int64_t s, sub;

	if (!tz || !XF_DT_FINITE(us))
		return us;
	s = us / USECS_PER_SEC - (us % USECS_PER_SEC < 0);
	sub = us - s * USECS_PER_SEC;
	return xf_tz_local_to_utc(tz, s) * USECS_PER_SEC + sub;
}

/* ---- loading ---- */

static bool parse_fixed(const char *s, int32_t *off)
{
	int32_t v;
	const char *p = s;

	if (*p != '+' && *p != '-')
		return false;
	if (!rule_time(&p, &v) || *p || v > 15 * 3600 || v < -15 * 3600)
		return false;
	*off = v; /* ISO sign: east of UTC is positive */
	return true;
}

struct tzinfo *xf_tz_load(const char *name, struct cns_error *err)
{
	struct tzinfo *tz;
	int32_t off;

	if (!name || !*name) {
		cns_error_set(err, CNS_E_CONFIG, "empty time zone name");
		return NULL;
	}
	tz = cns_xcalloc(1, sizeof(*tz));
	if (!cns_strcasecmp(name, "UTC") || !cns_strcasecmp(name, "GMT") ||
	    !cns_strcasecmp(name, "Z") || !cns_strcasecmp(name, "Etc/UTC"))
		return tz;
	if (parse_fixed(name, &off)) {
		tz->fixed = off;
		return tz;
	}
	if (cns_tz_load(name, &tz->zone, err) < 0) {
		free(tz);
		return NULL;
	}
	return tz;
}
