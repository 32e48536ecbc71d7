/*
 * tz.c - time zones for timestamptz values, read from the system's zone
 * database (TZif files under /usr/share/zoneinfo, or $TZDIR).
 *
 * Why not setenv("TZ") + mktime(): the environment and the C library's
 * zone state are process-wide, so switching zones per source would race
 * with every other thread that formats a time (log lines, other sources).
 * A zone here is an immutable table loaded once when a program is given
 * its zone: the transitions of the TZif file plus the POSIX TZ rule from
 * its footer for instants after the last transition.  Lookups are pure
 * functions of that table, safe from any number of threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A POSIX TZ rule day: Mm.w.d, Jn (1-365, no Feb 29) or n (0-365). */
struct rday {
	char kind; /* 'M', 'J', 'n' */
	int m, w, d;
	int32_t secs; /* local time of day of the change */
};

struct tzinfo {
	int64_t *trans; /* UTC seconds of each transition */
	uint8_t *idx;   /* type after each transition */
	int ntrans;
	int32_t *utoff; /* per type */
	int ntypes;
	int32_t first;            /* offset before the first transition */
	bool has_rule;            /* footer rule for later instants */
	int32_t std_off, dst_off; /* seconds east of UTC */
	bool has_dst;
	struct rday start, end;
};

void xf_tz_free(struct tzinfo *tz)
{
	if (!tz)
		return;
	free(tz->trans);
	free(tz->idx);
	free(tz->utoff);
	free(tz);
}

static int64_t be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = (v << 8) | p[i];
	if (bytes == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

/* ---- POSIX TZ strings ("GMT0BST,M3.5.0/1,M10.5.0") ---- */

static bool rule_name(const char **s)
{
	const char *p = *s;

	if (*p == '<') {
		while (*p && *p != '>')
			p++;
		if (*p != '>')
			return false;
		*s = p + 1;
		return true;
	}
	while (isalpha((unsigned char)*p))
		p++;
	if (p - *s < 3)
		return false;
	*s = p;
	return true;
}

/* [+-]hh[:mm[:ss]] -> seconds */
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

static bool rule_day(const char **s, struct rday *r)
{
	const char *p = *s;
	char *end;

	r->secs = 7200;
	if (*p == 'M') {
		r->kind = 'M';
		r->m = (int)strtol(p + 1, &end, 10);
		if (*end != '.')
			return false;
		r->w = (int)strtol(end + 1, &end, 10);
		if (*end != '.')
			return false;
		r->d = (int)strtol(end + 1, &end, 10);
		if (r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d < 0 ||
		    r->d > 6)
			return false;
		p = end;
	} else if (*p == 'J' || isdigit((unsigned char)*p)) {
		r->kind = *p == 'J' ? 'J' : 'n';
		r->d = (int)strtol(p + (*p == 'J'), &end, 10);
		if (r->d < 0 || r->d > 365)
			return false;
		p = end;
	} else {
		return false;
	}
	if (*p == '/') {
		p++;
		if (!rule_time(&p, &r->secs))
			return false;
	}
	*s = p;
	return true;
}

static bool parse_rule(struct tzinfo *tz, const char *s)
{
	int32_t v;

	if (!rule_name(&s) || !rule_time(&s, &v))
		return false;
	tz->std_off = -v; /* POSIX counts west of UTC */
	if (!*s) {
		tz->has_rule = true;
		return true;
	}
	if (!rule_name(&s))
		return false;
	tz->dst_off = tz->std_off + 3600;
	if (*s && *s != ',') {
		if (!rule_time(&s, &v))
			return false;
		tz->dst_off = -v;
	}
	if (*s != ',')
		return false;
	s++;
	if (!rule_day(&s, &tz->start) || *s != ',')
		return false;
	s++;
	if (!rule_day(&s, &tz->end) || *s)
		return false;
	tz->has_dst = true;
	tz->has_rule = true;
	return true;
}

/* Day (days since epoch) on which rule day r falls in year y. */
static int64_t rule_date(const struct rday *r, int y)
{
	int64_t jan1 = xf_days_from_civil(y, 1, 1);

	switch (r->kind) {
	case 'J': {
		/* 1..365, February 29 never counted */
		int64_t day = jan1 + r->d - 1;
		int leap = xf_days_in_month(y, 2) == 29;

		if (leap && r->d >= 60)
			day++;
		return day;
	}
	case 'n': return jan1 + r->d;
	default: {
		int64_t first = xf_days_from_civil(y, r->m, 1);
		int dow = (int)(((first % 7) + 7 + 4) % 7); /* 0 = Sunday */
		int64_t day = first + (r->d - dow + 7) % 7 + (r->w - 1) * 7;

		if (r->w == 5)
			while (day >= first + xf_days_in_month(y, r->m))
				day -= 7;
		return day;
	}
	}
}

static int32_t rule_offset(const struct tzinfo *tz, int64_t t)
{
	int y, m, d;
	int64_t start, end;

	if (!tz->has_dst)
		return tz->std_off;
	xf_civil_from_days((t + tz->std_off) / 86400 -
				   ((t + tz->std_off) % 86400 < 0),
			   &y, &m, &d);
	/* the change to DST happens at local standard time, the change
	 * back at local daylight time */
	start = rule_date(&tz->start, y) * 86400 + tz->start.secs - tz->std_off;
	end = rule_date(&tz->end, y) * 86400 + tz->end.secs - tz->dst_off;
	if (start < end)
		return t >= start && t < end ? tz->dst_off : tz->std_off;
	/* southern hemisphere: DST spans the new year */
	return t >= end && t < start ? tz->std_off : tz->dst_off;
}

int32_t xf_tz_offset_utc(const struct tzinfo *tz, int64_t t)
{
	int lo, hi;

	if (!tz)
		return 0;
	if (tz->ntrans == 0 || t < tz->trans[0]) {
		if (tz->ntrans == 0 && tz->has_rule)
			return rule_offset(tz, t);
		return tz->first;
	}
	if (t >= tz->trans[tz->ntrans - 1] && tz->has_rule)
		return rule_offset(tz, t);
	lo = 0;
	hi = tz->ntrans - 1;
	while (lo < hi) { /* last transition <= t */
		int mid = (lo + hi + 1) / 2;

		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return tz->utoff[tz->idx[lo]];
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

	if (!tz)
		return us;
	s = us / USECS_PER_SEC - (us % USECS_PER_SEC < 0);
	return us + (int64_t)xf_tz_offset_utc(tz, s) * USECS_PER_SEC;
}

int64_t xf_tz_local_to_utc_us(const struct tzinfo *tz, int64_t us)
{
	int64_t s, sub;

	if (!tz)
		return us;
	s = us / USECS_PER_SEC - (us % USECS_PER_SEC < 0);
	sub = us - s * USECS_PER_SEC;
	return xf_tz_local_to_utc(tz, s) * USECS_PER_SEC + sub;
}

/* ---- loading ---- */

static struct tzinfo *tz_fixed(int32_t off)
{
	struct tzinfo *tz = cns_xcalloc(1, sizeof(*tz));

	tz->first = off;
	tz->std_off = off;
	return tz;
}

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

static struct tzinfo *tzif_parse(const unsigned char *b, size_t n,
				 const char **why)
{
	struct tzinfo *tz;
	size_t off = 0;
	int64_t cnt[6];
	int tsize = 4;
	size_t need;

	if (n < 44 || memcmp(b, "TZif", 4) != 0) {
		*why = "not a zone file";
		return NULL;
	}
	for (int i = 0; i < 6; i++)
		cnt[i] = be(b + 20 + 4 * i, 4);
	if (b[4] >= '2') {
		/* skip the 32-bit block, use the 64-bit one */
		need = 44 + (size_t)cnt[3] * 5 + (size_t)cnt[4] * 6 +
		       (size_t)cnt[5] + (size_t)cnt[2] * 8 + (size_t)cnt[1] +
		       (size_t)cnt[0];
		if (need + 44 > n) {
			*why = "truncated zone file";
			return NULL;
		}
		off = need;
		if (memcmp(b + off, "TZif", 4) != 0) {
			*why = "not a zone file";
			return NULL;
		}
		for (int i = 0; i < 6; i++)
			cnt[i] = be(b + off + 20 + 4 * i, 4);
		tsize = 8;
	}
	off += 44;
	for (int i = 0; i < 6; i++)
		if (cnt[i] < 0 || cnt[i] > 100000) {
			*why = "bad zone file";
			return NULL;
		}
	need = (size_t)cnt[3] * (size_t)(tsize + 1) + (size_t)cnt[4] * 6 +
	       (size_t)cnt[5] + (size_t)cnt[2] * (size_t)(tsize + 4) +
	       (size_t)cnt[1] + (size_t)cnt[0];
	if (off + need > n || cnt[4] < 1) {
		*why = "truncated zone file";
		return NULL;
	}
	tz = cns_xcalloc(1, sizeof(*tz));
	tz->ntrans = (int)cnt[3];
	tz->ntypes = (int)cnt[4];
	tz->trans = cns_xcalloc((size_t)tz->ntrans + 1, sizeof(*tz->trans));
	tz->idx = cns_xcalloc((size_t)tz->ntrans + 1, 1);
	tz->utoff = cns_xcalloc((size_t)tz->ntypes, sizeof(*tz->utoff));
	for (int i = 0; i < tz->ntrans; i++)
		tz->trans[i] = be(b + off + (size_t)i * (size_t)tsize, tsize);
	off += (size_t)tz->ntrans * (size_t)tsize;
	for (int i = 0; i < tz->ntrans; i++) {
		tz->idx[i] = b[off + (size_t)i];
		if (tz->idx[i] >= tz->ntypes) {
			xf_tz_free(tz);
			*why = "bad zone file";
			return NULL;
		}
	}
	off += (size_t)tz->ntrans;
	tz->first = -1;
	for (int i = 0; i < tz->ntypes; i++) {
		const unsigned char *t = b + off + (size_t)i * 6;

		tz->utoff[i] = (int32_t)be(t, 4);
		/* before the first transition: the first standard type */
		if (tz->first == -1 && !t[4])
			tz->first = tz->utoff[i];
	}
	if (tz->first == -1)
		tz->first = tz->utoff[0];
	off += need - (size_t)tz->ntrans * (size_t)(tsize + 1);
	if (tsize == 8 && off < n && b[off] == '\n') {
		const char *st = (const char *)b + off + 1;
		const char *nl = memchr(st, '\n', n - off - 1);

		if (nl && nl > st) {
			char rule[128];
			size_t len = (size_t)(nl - st);

			if (len < sizeof(rule)) {
				memcpy(rule, st, len);
				rule[len] = '\0';
				if (!parse_rule(tz, rule))
					tz->has_rule = false;
			}
		}
	}
	return tz;
}

struct tzinfo *xf_tz_load(const char *name, const char **why)
{
	const char *dir = getenv("TZDIR");
	char path[1024];
	unsigned char *buf;
	size_t len = 0, cap = 65536;
	FILE *f;
	struct tzinfo *tz;
	int32_t off;

	if (!name || !*name) {
		*why = "empty time zone name";
		return NULL;
	}
	if (!cns_strcasecmp(name, "UTC") || !cns_strcasecmp(name, "GMT") ||
	    !cns_strcasecmp(name, "Z") || !cns_strcasecmp(name, "Etc/UTC"))
		return tz_fixed(0);
	if (parse_fixed(name, &off))
		return tz_fixed(off);
	if (name[0] == '/' || strstr(name, "..") || strlen(name) > 200) {
		*why = "not a time zone name";
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s",
		 dir && *dir ? dir : "/usr/share/zoneinfo", name);
	f = fopen(path, "rb");
	if (!f) {
		*why = "unknown time zone";
		return NULL;
	}
	buf = cns_xmalloc(cap);
	while (!feof(f) && !ferror(f)) {
		if (len == cap) {
			if (cap >= 4 << 20)
				break;
			cap *= 2;
			buf = cns_xrealloc(buf, cap);
		}
		len += fread(buf + len, 1, cap - len, f);
	}
	fclose(f);
	tz = tzif_parse(buf, len, why);
	free(buf);
	return tz;
}
