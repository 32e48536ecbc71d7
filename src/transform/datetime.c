/*
 * datetime.c - calendar arithmetic, the text forms of date, time and
 * timestamp values, to_date/to_timestamp format patterns and date_trunc.
 *
 * Dates are days since 1970-01-01 in the proleptic Gregorian calendar;
 * times and timestamps are microseconds.  Text input accepts ISO 8601
 * forms (YYYY-MM-DD, a space or T, HH:MM[:SS[.ffffff]], an optional
 * offset Z, +HH, +HH:MM, +HHMM, +HH:MM:SS, an optional BC or AD) and the
 * words infinity, -infinity and epoch, within PostgreSQL's ranges, and
 * rounds fractions of a second to microseconds as PostgreSQL does.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include "consolidate/civil.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The calendar itself is common/civil.h's; these keep the transform's
 * int years. */
int64_t xf_days_from_civil(int y, int m, int d)
{
	return days_from_civil(y, m, d);
}

void xf_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t year;

	civil_from_days(z, &year, m, d);
	*y = (int)year;
}

int xf_days_in_month(int y, int m)
{
	return days_in_month(y, m);
}

bool xf_valid_ymd(int y, int m, int d)
{
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 &&
	       d <= xf_days_in_month(y, m);
}

static void put2(char *b, int v)
{
	b[0] = (char)('0' + v / 10 % 10);
	b[1] = (char)('0' + v % 10);
}

/* The date part, without the era; *bc tells whether " BC" is due. */
static int fmt_ymd(int64_t days, char *buf, bool *bc)
{
	int y, m, d;

	xf_civil_from_days(days, &y, &m, &d);
	*bc = y <= 0;
	if (*bc)
		y = 1 - y; /* astronomical year 0 is 1 BC */
	if (y > 9999)
		return snprintf(buf, 40, "%d-%02d-%02d", y, m, d);
	put2(buf, y / 100);
	put2(buf + 2, y % 100);
	buf[4] = '-';
	put2(buf + 5, m);
	buf[7] = '-';
	put2(buf + 8, d);
	buf[10] = '\0';
	return 10;
}

static int fmt_infinite(int64_t v, char *buf)
{
	return (int)strlen(
		strcpy(buf, v == XF_DT_NOEND ? "infinity" : "-infinity"));
}

int xf_fmt_date(int64_t days, char *buf)
{
	bool bc;
	int len;

	if (!XF_DT_FINITE(days))
		return fmt_infinite(days, buf);
	len = fmt_ymd(days, buf, &bc);
	if (bc) {
		memcpy(buf + len, " BC", 4);
		len += 3;
	}
	return len;
}

int xf_fmt_time(int64_t us, char *buf)
{
	int64_t s = us / USECS_PER_SEC, f = us % USECS_PER_SEC;
	int len;

	put2(buf, (int)(s / 3600));
	buf[2] = ':';
	put2(buf + 3, (int)(s / 60 % 60));
	buf[5] = ':';
	put2(buf + 6, (int)(s % 60));
	len = 8;
	if (f) {
		/* PostgreSQL prints the fraction without trailing zeros */
		char frac[8];
		int k = 6;

		snprintf(frac, sizeof(frac), "%06d", (int)f);
		while (k > 0 && frac[k - 1] == '0')
			k--;
		buf[len++] = '.';
		memcpy(buf + len, frac, (size_t)k);
		len += k;
	}
	buf[len] = '\0';
	return len;
}

static int fmt_ts(int64_t us, char *buf, bool tz)
{
	int64_t days;
	bool bc;
	int len;

	if (!XF_DT_FINITE(us))
		return fmt_infinite(us, buf);
	days = floor_div(us, USECS_PER_DAY);
	len = fmt_ymd(days, buf, &bc);
	buf[len++] = ' ';
	len += xf_fmt_time(us - days * USECS_PER_DAY, buf + len);
	if (tz) {
		memcpy(buf + len, "+00", 4);
		len += 3;
	}
	if (bc) {
		memcpy(buf + len, " BC", 4);
		len += 3;
	}
	return len;
}

int xf_fmt_timestamp(int64_t us, char *buf)
{
	return fmt_ts(us, buf, false);
}

int xf_fmt_timestamptz(int64_t us, char *buf)
{
	return fmt_ts(us, buf, true);
}

/* ---- ISO text input ---- */

struct scan {
	const char *s;
	size_t n, i;
};

/* Reads between min and max digits. */
static bool digits(struct scan *sc, int min, int max, int *out)
{
	int v = 0, k = 0;

	while (k < max && sc->i < sc->n &&
	       isdigit((unsigned char)sc->s[sc->i])) {
		v = v * 10 + (sc->s[sc->i++] - '0');
		k++;
	}
	*out = v;
	return k >= min;
}

static bool lit(struct scan *sc, char ch)
{
	if (sc->i < sc->n && sc->s[sc->i] == ch) {
		sc->i++;
		return true;
	}
	return false;
}

/* [.fraction] rounded to microseconds as PostgreSQL rounds it: the
 * fraction read as a double, times a million, to the nearest integer
 * with ties to even (rint), so .0000005 gives 0 and .0000015 gives 2. */
static bool fraction(struct scan *sc, int64_t *us)
{
	char buf[64];
	size_t k = 0;
	int64_t v = 0;

	*us = 0;
	if (!lit(sc, '.'))
		return true;
	buf[k++] = '0';
	buf[k++] = '.';
	while (sc->i < sc->n && isdigit((unsigned char)sc->s[sc->i])) {
		/* digits past the 60th cannot move a microsecond */
		if (k < sizeof(buf) - 1)
			buf[k++] = sc->s[sc->i];
		sc->i++;
	}
	buf[k] = '\0';
	if (k <= 8) {
		/* up to microseconds the double rounds to the exact
		 * integer: skip strtod on the common path */
		for (size_t i = 2; i < 8; i++)
			v = v * 10 + (i < k ? buf[i] - '0' : 0);
		*us = v;
		return true;
	}
	*us = (int64_t)rint(xf_text_to_double_c(buf) * 1e6);
	return true;
}

/* HH:[MM[:[SS[.f]]]] into microseconds since midnight; PostgreSQL
 * takes a missing minute or second as zero and a second of 60 (a leap
 * second) as the start of the next minute. */
static bool clock_time(struct scan *sc, int64_t *us)
{
	int h, mi = 0, s = 0;
	int64_t f = 0;

	if (!digits(sc, 1, 2, &h) || !lit(sc, ':'))
		return false;
	if (digits(sc, 1, 2, &mi) && lit(sc, ':') && digits(sc, 1, 2, &s) &&
	    !fraction(sc, &f))
		return false;
	if (mi > 59 || s > 60 || h > 24)
		return false;
	*us = ((int64_t)h * 3600 + mi * 60 + s) * USECS_PER_SEC + f;
	return *us <= USECS_PER_DAY;
}

/* Z, UTC, GMT, +HH, +HH:MM, +HHMM, +HH:MM:SS: seconds east of UTC, up
 * to PostgreSQL's limit of 15:59:59. */
static bool zone_offset(struct scan *sc, bool *present, int32_t *off)
{
	size_t save;
	int h = 0, m = 0, sec = 0, sign;

	*present = false;
	save = sc->i;
	while (sc->i < sc->n && sc->s[sc->i] == ' ')
		sc->i++;
	if (sc->i == sc->n) {
		sc->i = save;
		return true;
	}
	if (sc->s[sc->i] == 'Z' || sc->s[sc->i] == 'z') {
		sc->i++;
		*present = true;
		*off = 0;
		return true;
	}
	if (sc->n - sc->i >= 3 && (!strncasecmp(sc->s + sc->i, "UTC", 3) ||
				   !strncasecmp(sc->s + sc->i, "GMT", 3))) {
		sc->i += 3;
		*present = true;
		*off = 0;
		if (sc->i == sc->n ||
		    (sc->s[sc->i] != '+' && sc->s[sc->i] != '-'))
			return true;
	}
	if (sc->s[sc->i] != '+' && sc->s[sc->i] != '-') {
		/* not an offset: perhaps the era that follows */
		sc->i = save;
		return true;
	}
	sign = sc->s[sc->i++] == '-' ? -1 : 1;
	if (!digits(sc, 1, 2, &h))
		return false;
	if (lit(sc, ':')) {
		if (!digits(sc, 2, 2, &m))
			return false;
		if (lit(sc, ':') && !digits(sc, 2, 2, &sec))
			return false;
	} else if (sc->i < sc->n && isdigit((unsigned char)sc->s[sc->i])) {
		if (!digits(sc, 2, 2, &m))
			return false;
	}
	if (h > 15 || m > 59 || sec > 59)
		return false;
	*present = true;
	*off = sign * (h * 3600 + m * 60 + sec);
	return true;
}

/* An optional era after the value: [blanks] BC or AD. */
static bool era(struct scan *sc, bool *bc)
{
	size_t k = sc->i;

	*bc = false;
	while (k < sc->n && sc->s[k] == ' ')
		k++;
	if (sc->n - k == 2 && (!strncasecmp(sc->s + k, "BC", 2) ||
			       !strncasecmp(sc->s + k, "AD", 2))) {
		*bc = toupper((unsigned char)sc->s[k]) == 'B';
		sc->i = sc->n;
	}
	return true;
}

static bool word_is(const struct scan *sc, const char *w)
{
	size_t n = strlen(w);

	return sc->n - sc->i == n && !strncasecmp(sc->s + sc->i, w, n);
}

int xf_parse_datetime(struct ectx *c, const char *s0, size_t n0,
		      enum cns_type kind, int64_t *out)
{
	struct scan sc = { s0, n0, 0 };
	int y = 0, m = 0, d = 0;
	int64_t tod = 0, days = 0, v;
	bool has_date = false, zp = false, bc = false, range = false;
	int32_t off = 0;

	while (sc.n && isspace((unsigned char)sc.s[sc.n - 1]))
		sc.n--;
	while (sc.i < sc.n && isspace((unsigned char)sc.s[sc.i]))
		sc.i++;
	if (kind != CNS_T_TIME) {
		if (word_is(&sc, "infinity")) {
			*out = XF_DT_NOEND;
			return 0;
		}
		if (word_is(&sc, "-infinity")) {
			*out = XF_DT_NOBEGIN;
			return 0;
		}
		if (word_is(&sc, "epoch")) {
			*out = 0;
			return 0;
		}
	}
	/* a date starts with 4 or more digits and '-'; a time with 1-2
	 * and ':' */
	{
		size_t k = sc.i;

		while (k < sc.n && isdigit((unsigned char)sc.s[k]))
			k++;
		has_date = k < sc.n ? sc.s[k] == '-' : kind != CNS_T_TIME;
	}
	if (has_date) {
		/* PostgreSQL reads a run of '-' as one separator */
		if (!digits(&sc, 4, 9, &y) || !lit(&sc, '-'))
			goto bad;
		while (lit(&sc, '-'))
			;
		if (!digits(&sc, 1, 2, &m) || !lit(&sc, '-'))
			goto bad;
		while (lit(&sc, '-'))
			;
		if (!digits(&sc, 1, 2, &d))
			goto bad;
		if (sc.i < sc.n && (sc.s[sc.i] == ' ' || sc.s[sc.i] == 'T' ||
				    sc.s[sc.i] == 't')) {
			size_t save = sc.i;

			sc.i++;
			while (sc.i < sc.n && sc.s[sc.i] == ' ')
				sc.i++;
			if (!clock_time(&sc, &tod)) {
				sc.i = save;
				if (sc.i + 1 < sc.n &&
				    isdigit((unsigned char)sc.s[sc.i + 1]))
					goto bad;
			}
		}
	} else {
		if (kind != CNS_T_TIME || !clock_time(&sc, &tod))
			goto bad;
	}
	if (!zone_offset(&sc, &zp, &off) || !era(&sc, &bc) || sc.i != sc.n)
		goto bad;
	if (has_date) {
		if (y == 0)
			goto bad;
		if (bc)
			y = 1 - y;
		if (m < 1 || m > 12 || d < 1 || d > xf_days_in_month(y, m))
			goto bad;
		days = xf_days_from_civil(y, m, d);
		range = days < XF_DATE_MIN || days > XF_DATE_MAX;
	} else if (bc) {
		goto bad;
	}
	switch (kind) {
	case CNS_T_DATE:
		if (range)
			goto bad;
		*out = days;
		return 0;
	case CNS_T_TIME: *out = tod; return 0;
	case CNS_T_TIMESTAMP:
	case CNS_T_TIMESTAMPTZ:
		if (range || days > XF_TS_MAX / USECS_PER_DAY + 1)
			goto bad;
		v = days * USECS_PER_DAY + tod;
		/* PostgreSQL ignores an offset given to a timestamp
		 * without time zone; so do we. */
		if (kind == CNS_T_TIMESTAMPTZ) {
			if (zp)
				v -= (int64_t)off * USECS_PER_SEC;
			else
				v = xf_tz_local_to_utc_us(c->tz, v);
		}
		if (v < XF_TS_MIN || v > XF_TS_MAX)
			goto bad;
		*out = v;
		return 0;
	default: break;
	}
bad:
	return xf_ev_fail(c, "invalid %s \"%s\"",
			  kind == CNS_T_TIMESTAMPTZ ? "timestamptz"
						    : cns_type_name(kind),
			  xf_ev_quote(c, s0, n0));
}

/* ---- to_date / to_timestamp ---- */

enum fitem {
	F_LIT, /* a literal character (or quoted text) */
	F_SEP, /* a separator: matches any run of separators */
	F_YYYY,
	F_YY,
	F_MM,
	F_DD,
	F_DDD,
	F_HH24,
	F_HH12,
	F_MI,
	F_SS,
	F_MS,
	F_US,
	F_FF, /* FF1..FF6: fraction with n digits */
	F_AMPM,
	F_MON,   /* Mon, MON, mon */
	F_MONTH, /* Month, MONTH, month */
	F_DY,    /* Dy: day name, checked loosely and ignored */
	F_DAY,
	F_TZH,
	F_TZM
};

struct fspec {
	enum fitem k;
	char ch;
	int arg;
};

struct dtformat {
	struct fspec *v;
	int n;
};

static const struct {
	const char *pat;
	enum fitem k;
} patterns[] = {
	/* longest first */
	{ "YYYY", F_YYYY },   { "HH24", F_HH24 },   { "HH12", F_HH12 },
	{ "MONTH", F_MONTH }, { "Month", F_MONTH }, { "month", F_MONTH },
	{ "DDD", F_DDD },     { "MON", F_MON },     { "Mon", F_MON },
	{ "mon", F_MON },     { "DAY", F_DAY },     { "Day", F_DAY },
	{ "day", F_DAY },     { "A.M.", F_AMPM },   { "P.M.", F_AMPM },
	{ "a.m.", F_AMPM },   { "p.m.", F_AMPM },   { "TZH", F_TZH },
	{ "TZM", F_TZM },     { "FF1", F_FF },      { "FF2", F_FF },
	{ "FF3", F_FF },      { "FF4", F_FF },      { "FF5", F_FF },
	{ "FF6", F_FF },      { "YY", F_YY },       { "MM", F_MM },
	{ "DD", F_DD },       { "HH", F_HH12 },     { "MI", F_MI },
	{ "SS", F_SS },       { "MS", F_MS },       { "US", F_US },
	{ "AM", F_AMPM },     { "PM", F_AMPM },     { "am", F_AMPM },
	{ "pm", F_AMPM },     { "Dy", F_DY },       { "DY", F_DY },
	{ "dy", F_DY },
};

static bool is_sep(char ch)
{
	return ch == ' ' || ch == '-' || ch == '/' || ch == '.' || ch == ':' ||
	       ch == ',' || ch == 'T' || ch == ';' || ch == '_';
}

struct dtformat *xf_dtformat_compile(struct cns_arena *a, const char *s,
				     size_t n, const char **why)
{
	struct dtformat *f = cns_arena_zalloc(a, sizeof(*f));
	size_t i = 0;

	f->v = cns_arena_zalloc(a, (n + 1) * sizeof(*f->v));
	*why = NULL;
	while (i < n) {
		struct fspec sp = { F_LIT, 0, 0 };
		bool found = false;

		/* FM (fill mode) only changes output; input ignores it */
		if (n - i >= 2 && !strncmp(s + i, "FM", 2)) {
			i += 2;
			continue;
		}
		if (s[i] == '"') {
			i++;
			while (i < n && s[i] != '"') {
				f->v[f->n].k = F_LIT;
				f->v[f->n++].ch = s[i++];
			}
			if (i == n) {
				*why = "unterminated quoted text in format";
				return NULL;
			}
			i++;
			continue;
		}
		for (size_t k = 0; k < sizeof(patterns) / sizeof(*patterns);
		     k++) {
			size_t l = strlen(patterns[k].pat);

			if (n - i >= l && !strncmp(s + i, patterns[k].pat, l)) {
				sp.k = patterns[k].k;
				if (sp.k == F_FF)
					sp.arg = s[i + 2] - '0';
				i += l;
				found = true;
				break;
			}
		}
		if (!found) {
			sp.k = is_sep(s[i]) ? F_SEP : F_LIT;
			sp.ch = s[i++];
			if (sp.k == F_SEP && f->n && f->v[f->n - 1].k == F_SEP)
				continue;
		}
		f->v[f->n++] = sp;
	}
	return f;
}

static const char *const month_names[] = { "january", "february", "march",
					   "april",   "may",      "june",
					   "july",    "august",   "september",
					   "october", "november", "december" };
static const char *const day_names[] = { "monday",   "tuesday", "wednesday",
					 "thursday", "friday",  "saturday",
					 "sunday" };

int xf_dtformat_parse(struct ectx *c, const struct dtformat *f, const char *s,
		      size_t n, int64_t *out_us, bool *is_utc)
{
	struct scan sc = { s, n, 0 };
	int y = 1970, mo = 1, d = 1, doy = 0, h = 0, mi = 0, sec = 0, v;
	int64_t frac = 0;
	int pm = -1, tzh = 0, tzm = 0;
	bool h12 = false, tz = false;

	for (int k = 0; k < f->n; k++) {
		const struct fspec *sp = &f->v[k];

		switch (sp->k) {
		case F_LIT:
			if (!lit(&sc, sp->ch))
				goto bad;
			break;
		case F_SEP:
			/* any run of separators, or none */
			while (sc.i < sc.n && is_sep(sc.s[sc.i]))
				sc.i++;
			break;
		case F_YYYY:
			if (!digits(&sc, 1, 4, &y))
				goto bad;
			break;
		case F_YY:
			if (!digits(&sc, 1, 2, &v))
				goto bad;
			/* PostgreSQL: 70-99 are 19xx, 00-69 are 20xx */
			y = v < 70 ? 2000 + v : 1900 + v;
			break;
		case F_MM:
			if (!digits(&sc, 1, 2, &mo))
				goto bad;
			break;
		case F_DD:
			if (!digits(&sc, 1, 2, &d))
				goto bad;
			break;
		case F_DDD:
			if (!digits(&sc, 1, 3, &doy))
				goto bad;
			break;
		case F_HH24:
			if (!digits(&sc, 1, 2, &h))
				goto bad;
			break;
		case F_HH12:
			if (!digits(&sc, 1, 2, &h))
				goto bad;
			h12 = true;
			break;
		case F_MI:
			if (!digits(&sc, 1, 2, &mi))
				goto bad;
			break;
		case F_SS:
			if (!digits(&sc, 1, 2, &sec))
				goto bad;
			break;
		case F_MS:
			if (!digits(&sc, 1, 3, &v))
				goto bad;
			frac = (int64_t)v * 1000;
			break;
		case F_US:
			if (!digits(&sc, 1, 6, &v))
				goto bad;
			frac = v;
			break;
		case F_FF: {
			size_t st = sc.i;
			int scale = 1;

			if (!digits(&sc, 1, sp->arg, &v))
				goto bad;
			for (size_t q = sc.i - st; q < 6; q++)
				scale *= 10;
			frac = (int64_t)v * scale;
			break;
		}
		case F_AMPM:
			if (sc.n - sc.i >= 2 &&
			    (sc.s[sc.i + 1] == 'M' || sc.s[sc.i + 1] == 'm')) {
				char ch = (char)tolower(
					(unsigned char)sc.s[sc.i]);

				if (ch != 'a' && ch != 'p')
					goto bad;
				pm = ch == 'p';
				sc.i += 2;
			} else if (sc.n - sc.i >= 4 && sc.s[sc.i + 1] == '.') {
				char ch = (char)tolower(
					(unsigned char)sc.s[sc.i]);

				if (ch != 'a' && ch != 'p')
					goto bad;
				pm = ch == 'p';
				sc.i += 4;
			} else {
				goto bad;
			}
			break;
		case F_MON:
		case F_MONTH: {
			bool ok = false;

			for (int q = 0; q < 12 && !ok; q++) {
				size_t l = sp->k == F_MON
						   ? 3
						   : strlen(month_names[q]);

				if (sc.n - sc.i >= l &&
				    !strncasecmp(sc.s + sc.i, month_names[q],
						 l)) {
					mo = q + 1;
					sc.i += l;
					ok = true;
				}
			}
			if (!ok)
				goto bad;
			break;
		}
		case F_DY:
		case F_DAY: {
			bool ok = false;

			for (int q = 0; q < 7 && !ok; q++) {
				size_t l = sp->k == F_DY ? 3
							 : strlen(day_names[q]);

				if (sc.n - sc.i >= l &&
				    !strncasecmp(sc.s + sc.i, day_names[q],
						 l)) {
					sc.i += l;
					ok = true;
				}
			}
			if (!ok)
				goto bad;
			break;
		}
		case F_TZH: {
			int sign = 1;

			if (sc.i < sc.n &&
			    (sc.s[sc.i] == '+' || sc.s[sc.i] == '-'))
				sign = sc.s[sc.i++] == '-' ? -1 : 1;
			if (!digits(&sc, 1, 2, &tzh))
				goto bad;
			tzh *= sign;
			tz = true;
			break;
		}
		case F_TZM:
			if (!digits(&sc, 1, 2, &tzm))
				goto bad;
			tz = true;
			break;
		}
	}
	while (sc.i < sc.n && sc.s[sc.i] == ' ')
		sc.i++;
	if (sc.i != sc.n)
		goto bad;
	if (h12) {
		if (h < 1 || h > 12)
			goto bad;
		if (pm >= 0)
			h = h % 12 + (pm ? 12 : 0);
	} else if (pm >= 0) {
		if (h < 1 || h > 12)
			goto bad;
		h = h % 12 + (pm ? 12 : 0);
	}
	if (doy) {
		if (doy > (is_leap(y) ? 366 : 365) || y < 1 || y > 9999)
			goto bad;
		xf_civil_from_days(xf_days_from_civil(y, 1, 1) + doy - 1, &y,
				   &mo, &d);
	}
	if (!xf_valid_ymd(y, mo, d))
		return xf_ev_fail(c, "invalid date \"%s\"",
				  xf_ev_quote(c, s, n));
	if (h > 23 || mi > 59 || sec > 59)
		return xf_ev_fail(c, "invalid time \"%s\"",
				  xf_ev_quote(c, s, n));
	*out_us = xf_days_from_civil(y, mo, d) * USECS_PER_DAY +
		  ((int64_t)h * 3600 + mi * 60 + sec) * USECS_PER_SEC + frac;
	*is_utc = tz;
	if (tz) {
		int32_t off = tzh * 3600 + (tzh < 0 ? -tzm : tzm) * 60;

		*out_us -= (int64_t)off * USECS_PER_SEC;
	}
	return 0;
bad:
	return xf_ev_fail(c, "value \"%s\" does not match the format",
			  xf_ev_quote(c, s, n));
}

/* ---- date_trunc ---- */

static const char *const trunc_fields[] = {
	"microseconds", "milliseconds", "second",     "minute",  "hour",
	"day",          "week",         "month",      "quarter", "year",
	"decade",       "century",      "millennium", NULL
};

int xf_date_trunc_field(const char *field)
{
	for (int i = 0; trunc_fields[i]; i++)
		if (!cns_strcasecmp(field, trunc_fields[i]))
			return i;
	return -1;
}

const char *const *xf_date_trunc_fields(void)
{
	return trunc_fields;
}

int64_t xf_date_trunc_us(int field, int64_t us)
{
	int64_t days, tod;
	int y, m, d;

	if (!XF_DT_FINITE(us))
		return us;
	days = floor_div(us, USECS_PER_DAY);
	tod = us - days * USECS_PER_DAY;

	switch (field) {
	case 0: return us;
	case 1: return floor_div(us, 1000) * 1000;
	case 2: return floor_div(us, USECS_PER_SEC) * USECS_PER_SEC;
	case 3: return floor_div(us, 60 * USECS_PER_SEC) * 60 * USECS_PER_SEC;
	case 4:
		return floor_div(us, 3600 * USECS_PER_SEC) * 3600 *
		       USECS_PER_SEC;
	case 5: return days * USECS_PER_DAY;
	case 6: {
		/* ISO weeks start on Monday; 1970-01-01 was a Thursday */
		int64_t dow = ((days % 7) + 7 + 3) % 7; /* 0 = Monday */

		return (days - dow) * USECS_PER_DAY;
	}
	default: break;
	}
	(void)tod;
	xf_civil_from_days(days, &y, &m, &d);
	switch (field) {
	case 7: d = 1; break;
	case 8:
		m = (m - 1) / 3 * 3 + 1;
		d = 1;
		break;
	case 9:
		m = 1;
		d = 1;
		break;
	case 10:
		y = y / 10 * 10;
		m = 1;
		d = 1;
		break;
	case 11:
		y = (y - 1) / 100 * 100 + 1;
		m = 1;
		d = 1;
		break;
	case 12:
		y = (y - 1) / 1000 * 1000 + 1;
		m = 1;
		d = 1;
		break;
	default: break;
	}
	return xf_days_from_civil(y, m, d) * USECS_PER_DAY;
}
