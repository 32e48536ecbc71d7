/*
 * tz.c - time zones for the scheduler: a small reader of the system's
 * TZif files (RFC 8536, versions 1 to 4) and of POSIX TZ rules, UTC <->
 * local conversion, and ISO 8601 text.
 *
 * Why hand-written: cron arithmetic needs the offset at any instant and
 * the instant of the next offset change, for many zones at once, from
 * several threads.  libc offers localtime_r() under one process-wide TZ
 * that only setenv() can change, which is neither thread-safe nor
 * per-job, and it cannot tell when the next change is.  The format is
 * small and stable: a sorted table of transitions with the offset each one
 * starts, then (version 2+) a POSIX TZ rule for instants past the table.
 * A loaded zone is immutable, so every function here is pure.
 *
 * Leap-second zones ("right/...") are refused: cron works in civil time.
 */
#include "consolidate/tz.h"
#include "consolidate/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consolidate/civil.h"

/* A transition date of a POSIX rule: Jn, n or Mm.w.d, plus a time of day
 * that may be negative or past 24h (RFC 8536 extension). */
struct rule_date {
	char kind; /* 'J', 'D' (zero-based day of year), 'M' */
	int n;
	int m, w, d;
	int32_t secs;
};

struct tz_rule {
	int32_t std_off; /* seconds east of UTC */
	int32_t dst_off;
	bool has_dst;
	struct rule_date start, end;
};

struct cns_tz {
	char *name;
	int ntrans;
	int64_t *trans;     /* ascending */
	int32_t *trans_off; /* offset in effect from trans[i] on */
	int32_t first_off;  /* before trans[0]: time type 0 */
	bool has_rule;
	struct tz_rule rule;
};

#define TZ_FILE_MAX (4 << 20)

/* ---- POSIX TZ rules ---- */

static const char *parse_abbr(const char *s)
{
	const char *b;

	if (*s == '<') {
		s++;
		b = s;
		while (*s && *s != '>')
			s++;
		if (*s != '>' || s - b < 1)
			return NULL;
		return s + 1;
	}
	b = s;
	while (isalpha((unsigned char)*s))
		s++;
	return s - b >= 3 ? s : NULL;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh.  Returns the end or NULL. */
static const char *parse_hms(const char *s, int32_t *out, int maxh)
{
	int sign = 1;
	long h = 0, m = 0, sec = 0;
	int nd = 0;

	if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		s++;
	}
	while (isdigit((unsigned char)*s) && nd < 3) {
		h = h * 10 + (*s++ - '0');
		nd++;
	}
	if (nd == 0 || h > maxh)
		return NULL;
	if (*s == ':') {
		s++;
		if (!isdigit((unsigned char)s[0]) ||
		    !isdigit((unsigned char)s[1]))
			return NULL;
		m = (s[0] - '0') * 10 + (s[1] - '0');
		s += 2;
		if (*s == ':') {
			s++;
			if (!isdigit((unsigned char)s[0]) ||
			    !isdigit((unsigned char)s[1]))
				return NULL;
			sec = (s[0] - '0') * 10 + (s[1] - '0');
			s += 2;
		}
	}
	if (m > 59 || sec > 59)
		return NULL;
	*out = (int32_t)(sign * (h * 3600 + m * 60 + sec));
	return s;
}

static const char *parse_int(const char *s, int *out, int lo, int hi)
{
	long v = 0;
	int nd = 0;

	while (isdigit((unsigned char)*s) && nd < 4) {
		v = v * 10 + (*s++ - '0');
		nd++;
	}
	if (nd == 0 || v < lo || v > hi)
		return NULL;
	*out = (int)v;
	return s;
}

static const char *parse_rule_date(const char *s, struct rule_date *d)
{
	memset(d, 0, sizeof(*d));
	if (*s == 'J') {
		d->kind = 'J';
		s = parse_int(s + 1, &d->n, 1, 365);
	} else if (*s == 'M') {
		d->kind = 'M';
		s = parse_int(s + 1, &d->m, 1, 12);
		if (s && *s == '.')
			s = parse_int(s + 1, &d->w, 1, 5);
		else
			s = NULL;
		if (s && *s == '.')
			s = parse_int(s + 1, &d->d, 0, 6);
		else
			s = NULL;
	} else {
		d->kind = 'D';
		s = parse_int(s, &d->n, 0, 365);
	}
	if (!s)
		return NULL;
	d->secs = 7200;
	if (*s == '/')
		s = parse_hms(s + 1, &d->secs, 167);
	return s;
}

static int parse_rule(const char *s, struct tz_rule *r)
{
	int32_t off;

	memset(r, 0, sizeof(*r));
	if (!(s = parse_abbr(s)) || !(s = parse_hms(s, &off, 24)))
		return -1;
	r->std_off = -off; /* POSIX counts west positive */
	if (!*s)
		return 0;
	if (!(s = parse_abbr(s)))
		return -1;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*s && *s != ',') {
		if (!(s = parse_hms(s, &off, 24)))
			return -1;
		r->dst_off = -off;
	}
	if (!*s) {
		/* No dates: the POSIX default, today's US rule. */
		s = "M3.2.0,M11.1.0";
	} else {
		s++;
	}
	if (!(s = parse_rule_date(s, &r->start)) || *s != ',' ||
	    !(s = parse_rule_date(s + 1, &r->end)) || *s)
		return -1;
	return 0;
}

/* Local seconds at which a rule date happens in a year. */
static int64_t rule_local(const struct rule_date *d, int64_t year)
{
	int64_t jan1 = days_from_civil(year, 1, 1), day = jan1;

	switch (d->kind) {
	case 'J': day = jan1 + d->n - 1 + (is_leap(year) && d->n >= 60); break;
	case 'D': day = jan1 + d->n; break;
	case 'M': {
		int64_t first = days_from_civil(year, d->m, 1);
		int wd = weekday_from_days(first);

		day = first + (d->d - wd + 7) % 7 + (int64_t)(d->w - 1) * 7;
		while (day >= first + days_in_month(year, d->m))
			day -= 7;
		break;
	}
	}
	return day * 86400 + d->secs;
}

struct rule_event {
	int64_t t;
	bool dst; /* the offset from t on */
};

/* The rule's changes in years y0..y0+n-1, ascending; at equal instants a
 * change to standard time sorts first, so a rule that keeps DST all year
 * ends up in DST. */
static int rule_events(const struct tz_rule *r, int64_t y0, int n,
		       struct rule_event *ev)
{
	int k = 0;

	for (int64_t y = y0; y < y0 + n; y++) {
		ev[k].t = rule_local(&r->start, y) - r->std_off;
		ev[k++].dst = true;
		ev[k].t = rule_local(&r->end, y) - r->dst_off;
		ev[k++].dst = false;
	}
	for (int i = 1; i < k; i++)
		for (int j = i; j > 0; j--) {
			struct rule_event a = ev[j - 1], b = ev[j];

			if (a.t < b.t || (a.t == b.t && !a.dst))
				break;
			ev[j - 1] = b;
			ev[j] = a;
		}
	return k;
}

static int64_t year_of(int64_t t)
{
	int64_t y;
	int m, d;

	civil_from_days(floor_div(t, 86400), &y, &m, &d);
	return y;
}

static int32_t rule_offset(const struct tz_rule *r, int64_t t)
{
	struct rule_event ev[6];
	int n;
	bool dst = false;

	if (!r->has_dst)
		return r->std_off;
	n = rule_events(r, year_of(t + r->std_off) - 1, 3, ev);
	for (int i = 0; i < n && ev[i].t <= t; i++)
		dst = ev[i].dst;
	return dst ? r->dst_off : r->std_off;
}

static int64_t rule_next_change(const struct tz_rule *r, int64_t t)
{
	struct rule_event ev[10];
	int n;

	if (!r->has_dst)
		return INT64_MAX;
	n = rule_events(r, year_of(t + r->std_off) - 1, 5, ev);
	for (int i = 0; i < n; i++)
		if (ev[i].t > t &&
		    rule_offset(r, ev[i].t) != rule_offset(r, ev[i].t - 1))
			return ev[i].t;
	return INT64_MAX;
}

/* ---- offsets ---- */

int32_t cns_tz_offset(const struct cns_tz *tz, int64_t t)
{
	int lo, hi;

	if (tz->ntrans == 0)
		return tz->has_rule ? rule_offset(&tz->rule, t) : tz->first_off;
	if (t < tz->trans[0])
		return tz->first_off;
	if (t >= tz->trans[tz->ntrans - 1] && tz->has_rule)
		return rule_offset(&tz->rule, t);
	/* last i with trans[i] <= t */
	lo = 0;
	hi = tz->ntrans - 1;
	while (lo < hi) {
		int mid = lo + (hi - lo + 1) / 2;

		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return tz->trans_off[lo];
}

int64_t cns_tz_next_change(const struct cns_tz *tz, int64_t t)
{
	if (tz->ntrans > 0 && t < tz->trans[tz->ntrans - 1]) {
		int lo = 0, hi = tz->ntrans - 1;

		/* first i with trans[i] > t */
		while (lo < hi) {
			int mid = lo + (hi - lo) / 2;

			if (tz->trans[mid] > t)
				hi = mid;
			else
				lo = mid + 1;
		}
		/* Some transitions change only the abbreviation or the DST
		 * flag; cron cares about the offset alone. */
		for (int i = lo; i < tz->ntrans; i++)
			if (cns_tz_offset(tz, tz->trans[i]) !=
			    cns_tz_offset(tz, tz->trans[i] - 1))
				return tz->trans[i];
		t = tz->trans[tz->ntrans - 1];
	}
	if (!tz->has_rule)
		return INT64_MAX;
	return rule_next_change(&tz->rule, t);
}

int cns_tz_local_to_utc(const struct cns_tz *tz, int64_t local, int64_t *utc)
{
	/* Walk the segments of constant offset around `local` (offsets are
	 * within +-26h) and keep every instant that reads as `local`. */
	int64_t u = local - 3 * 86400, end = local + 3 * 86400;
	int32_t o = cns_tz_offset(tz, u);
	int found = 0;
	int64_t first = 0, gap_utc = 0;
	bool gap = false;

	while (u < end) {
		int64_t b = cns_tz_next_change(tz, u);
		int64_t cand = local - o;
		int32_t o2;

		if (cand >= u && cand < b) {
			if (!found)
				first = cand;
			found++;
		}
		if (b >= end)
			break;
		o2 = cns_tz_offset(tz, b);
		if (o2 > o && local >= b + o && local < b + o2) {
			gap = true;
			gap_utc = local - o;
		}
		u = b;
		o = o2;
	}
	if (found) {
		*utc = first;
		return found > 1 ? 1 : 0;
	}
	if (gap) {
		*utc = gap_utc;
		return 2;
	}
	*utc = local - o; /* unreachable for sane zones */
	return 0;
}

/* ---- loading ---- */

const char *cns_tz_name(const struct cns_tz *tz)
{
	return tz->name;
}

void cns_tz_free(struct cns_tz *tz)
{
	if (!tz)
		return;
	free(tz->name);
	free(tz->trans);
	free(tz->trans_off);
	free(tz);
}

static struct cns_tz *tz_new(const char *name)
{
	struct cns_tz *tz = cns_xcalloc(1, sizeof(*tz));

	tz->name = cns_xstrdup(name);
	return tz;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static void read_counts(const unsigned char *h, struct tzif_counts *c)
{
	c->isutcnt = be32(h + 20);
	c->isstdcnt = be32(h + 24);
	c->leapcnt = be32(h + 28);
	c->timecnt = be32(h + 32);
	c->typecnt = be32(h + 36);
	c->charcnt = be32(h + 40);
}

static size_t block_size(const struct tzif_counts *c, size_t tsize)
{
	return c->timecnt * tsize + c->timecnt + c->typecnt * 6 + c->charcnt +
	       c->leapcnt * (tsize + 4) + c->isstdcnt + c->isutcnt;
}

/* Parses a TZif image into tz.  Returns 0, or -1 with a reason in why. */
static int parse_tzif(struct cns_tz *tz, const unsigned char *buf, size_t len,
		      const char **why)
{
	struct tzif_counts c;
	const unsigned char *p, *types;
	size_t tsize = 4, off;

	*why = "it is not a TZif file";
	if (len < 44 || memcmp(buf, "TZif", 4) != 0)
		return -1;
	*why = "the file is damaged";
	read_counts(buf, &c);
	if (c.timecnt > 100000 || c.typecnt > 256 || c.charcnt > 65536 ||
	    c.leapcnt > 10000 || c.isstdcnt > 256 || c.isutcnt > 256)
		return -1;
	off = 44;
	if (buf[4] >= '2') {
		/* Skip the 32-bit block: the 64-bit one follows. */
		off += block_size(&c, 4);
		if (off + 44 > len || memcmp(buf + off, "TZif", 4) != 0)
			return -1;
		read_counts(buf + off, &c);
		if (c.timecnt > 100000 || c.typecnt > 256 ||
		    c.charcnt > 65536 || c.leapcnt > 10000 ||
		    c.isstdcnt > 256 || c.isutcnt > 256)
			return -1;
		off += 44;
		tsize = 8;
	}
	if (c.typecnt == 0 || off + block_size(&c, tsize) > len)
		return -1;
	if (c.leapcnt > 0) {
		*why = "it counts leap seconds, which the scheduler does "
		       "not support";
		return -1;
	}
	p = buf + off;
	types = p + c.timecnt * tsize + c.timecnt;
	tz->ntrans = (int)c.timecnt;
	tz->trans = cns_xmalloc(c.timecnt * sizeof(int64_t));
	tz->trans_off = cns_xmalloc(c.timecnt * sizeof(int32_t));
	for (uint32_t i = 0; i < c.timecnt; i++) {
		unsigned idx = p[c.timecnt * tsize + i];

		tz->trans[i] = tsize == 8 ? be64(p + i * 8)
					  : (int32_t)be32(p + i * 4);
		if (idx >= c.typecnt ||
		    (i > 0 && tz->trans[i] <= tz->trans[i - 1]))
			return -1;
		tz->trans_off[i] = (int32_t)be32(types + idx * 6);
	}
	tz->first_off = (int32_t)be32(types);
	for (uint32_t i = 0; i < c.typecnt; i++) {
		int32_t o = (int32_t)be32(types + i * 6);

		if (o < -26 * 3600 || o > 26 * 3600)
			return -1;
	}
	off += block_size(&c, tsize);
	if (tsize == 8 && off < len && buf[off] == '\n') {
		const unsigned char *f = buf + off + 1;
		const unsigned char *nl = memchr(f, '\n', len - off - 1);
		char footer[256];

		if (!nl || (size_t)(nl - f) >= sizeof(footer))
			return -1;
		memcpy(footer, f, (size_t)(nl - f));
		footer[nl - f] = '\0';
		if (footer[0]) {
			if (parse_rule(footer, &tz->rule) < 0) {
				*why = "its rule for future times is not "
				       "understood";
				return -1;
			}
			tz->has_rule = true;
		}
	}
	return 0;
}

static int read_file(const char *path, unsigned char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t got = 0;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > TZ_FILE_MAX) {
		close(fd);
		errno = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
		return -1;
	}
	*buf = cns_xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(*buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return 0;
}

static const char *tz_dir(void)
{
	const char *d = getenv("TZDIR");

	return d && *d ? d : CNS_TZ_DIR;
}

static bool valid_zone_name(const char *name)
{
	const char *s = name;

	if (!*name || name[0] == '/' || strlen(name) > 200)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("/_+-.", *s))
			return false;
	/* no "." or ".." component */
	for (s = name; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == 0 || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n + (e != NULL);
	}
	return true;
}

/* The entry of folder `dir` closest to `want` (case does not count), in
 * out; false when none is close. */
static bool closest_entry(const char *dir, const char *want, char *out,
			  size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int best = (int)strlen(want) / 3 + 1;
	bool found = false;

	if (!d)
		return false;
	if (best > 3)
		best = 3;
	while ((de = readdir(d)) != NULL) {
		int dist;

		if (de->d_name[0] == '.')
			continue;
		dist = cns_edit_distance(want, de->d_name);
		if (dist < best || (dist == 0 && !found)) {
			best = dist;
			snprintf(out, size, "%s", de->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static void suggest_zone(const char *name, struct cns_error *err)
{
	char path[PATH_MAX], best[256], area[256];
	const char *slash = strrchr(name, '/');

	if (slash && (size_t)(slash - name) < sizeof(area)) {
		snprintf(area, sizeof(area), "%.*s", (int)(slash - name), name);
		snprintf(path, sizeof(path), "%s/%s", tz_dir(), area);
		if (closest_entry(path, slash + 1, best, sizeof(best))) {
			cns_error_hint(err, "did you mean \"%s/%s\"?", area,
				       best);
			return;
		}
		if (!strchr(area, '/') &&
		    closest_entry(tz_dir(), area, best, sizeof(best))) {
			char area2[256];

			snprintf(area2, sizeof(area2), "%s", best);
			snprintf(path, sizeof(path), "%s/%s", tz_dir(), area2);
			if (closest_entry(path, slash + 1, best,
					  sizeof(best))) {
				cns_error_hint(err, "did you mean \"%s/%s\"?",
					       area2, best);
				return;
			}
		}
	} else if (!slash &&
		   closest_entry(tz_dir(), name, best, sizeof(best))) {
		cns_error_hint(err, "did you mean \"%s\"?", best);
		return;
	}
	cns_error_hint(err,
		       "a time zone is a name from the tz database, "
		       "such as \"Europe/London\" (see %s)",
		       tz_dir());
}

/* Loads a TZif file; `label` names the zone in messages. */
static int load_path(const char *path, const char *label, const char *name,
		     struct cns_tz **out, struct cns_error *err)
{
	unsigned char *buf;
	size_t len;
	const char *why;
	struct cns_tz *tz;

	if (read_file(path, &buf, &len) < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) {
			cns_error_set(err, CNS_E_CONFIG,
				      "unknown time zone \"%s\"", label);
			if (errno == EISDIR)
				cns_error_hint(err,
					       "\"%s\" is a folder of "
					       "zones, such as \"%s/...\"",
					       label, label);
			else
				suggest_zone(label, err);
			return -1;
		}
		return cns_error_set(err, CNS_E_IO,
				     "could not read time zone \"%s\" from "
				     "\"%s\": %s",
				     label, path, strerror(errno));
	}
	tz = tz_new(name);
	if (parse_tzif(tz, buf, len, &why) < 0) {
		free(buf);
		cns_tz_free(tz);
		cns_error_set(err, CNS_E_CONFIG, "unknown time zone \"%s\"",
			      label);
		cns_error_detail(err, "\"%s\": %s", path, why);
		return -1;
	}
	free(buf);
	*out = tz;
	return 0;
}

int cns_tz_from_rule(const char *rule, struct cns_tz **out,
		     struct cns_error *err)
{
	struct cns_tz *tz = tz_new(rule);

	if (parse_rule(rule, &tz->rule) < 0) {
		cns_tz_free(tz);
		cns_error_set(err, CNS_E_CONFIG,
			      "invalid time zone rule \"%s\"", rule);
		cns_error_hint(err, "a rule reads like "
				    "\"EST5EDT,M3.2.0,M11.1.0\"");
		return -1;
	}
	tz->has_rule = true;
	tz->first_off = tz->rule.std_off;
	*out = tz;
	return 0;
}

static struct cns_tz *tz_utc(void)
{
	return tz_new("UTC");
}

/* The host's zone name from /etc/localtime's link or /etc/timezone. */
static void host_zone_name(char *out, size_t size)
{
	char link[PATH_MAX];
	ssize_t n = readlink("/etc/localtime", link, sizeof(link) - 1);
	FILE *f;

	snprintf(out, size, "localtime");
	if (n > 0) {
		const char *z;

		link[n] = '\0';
		z = strstr(link, "zoneinfo/");
		if (z) {
			snprintf(out, size, "%s", z + strlen("zoneinfo/"));
			return;
		}
	}
	f = fopen("/etc/timezone", "re");
	if (f) {
		char line[256];

		if (fgets(line, sizeof(line), f)) {
			line[strcspn(line, " \t\r\n")] = '\0';
			if (valid_zone_name(line))
				snprintf(out, size, "%s", line);
		}
		fclose(f);
	}
}

static int load_host(struct cns_tz **out, struct cns_error *err)
{
	const char *env = getenv("TZ");
	char path[PATH_MAX], name[256];

	if (env) {
		const char *v = env[0] == ':' ? env + 1 : env;

		if (!*v) {
			*out = tz_utc();
			return 0;
		}
		if (v[0] == '/')
			return load_path(v, v, v, out, err);
		if (valid_zone_name(v)) {
			snprintf(path, sizeof(path), "%s/%s", tz_dir(), v);
			if (access(path, R_OK) == 0)
				return load_path(path, v, v, out, err);
		}
		if (cns_tz_from_rule(v, out, NULL) == 0)
			return 0;
		return cns_error_set(err, CNS_E_CONFIG,
				     "the TZ environment variable names an "
				     "unknown time zone \"%s\"",
				     v);
	}
	host_zone_name(name, sizeof(name));
	if (access("/etc/localtime", F_OK) != 0) {
		*out = tz_utc();
		return 0;
	}
	return load_path("/etc/localtime", "/etc/localtime", name, out, err);
}

int cns_tz_load(const char *name, struct cns_tz **out, struct cns_error *err)
{
	char path[PATH_MAX];

	if (!name || !*name)
		return load_host(out, err);
	if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
		/* Always there, even without tzdata installed. */
		*out = tz_new(name);
		return 0;
	}
	if (!valid_zone_name(name)) {
		cns_error_set(err, CNS_E_CONFIG, "unknown time zone \"%s\"",
			      name);
		cns_error_hint(err, "a time zone is a name from the tz "
				    "database, such as \"Europe/London\"");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", tz_dir(), name);
	return load_path(path, name, name, out, err);
}

/* ---- ISO 8601 ---- */

char *cns_time_format(int64_t t, const struct cns_tz *tz, char *buf,
		      size_t size)
{
	int32_t off = tz ? cns_tz_offset(tz, t) : 0;
	struct civil c;
	int32_t a = off < 0 ? -off : off;

	civil_from_seconds(t + off, &c);
	if (!tz)
		snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ",
			 (long long)c.year, c.month, c.day, c.hour, c.minute,
			 c.second);
	else if (a % 60)
		snprintf(buf, size,
			 "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d:%02d",
			 (long long)c.year, c.month, c.day, c.hour, c.minute,
			 c.second, off < 0 ? '-' : '+', a / 3600, a / 60 % 60,
			 a % 60);
	else
		snprintf(buf, size,
			 "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
			 (long long)c.year, c.month, c.day, c.hour, c.minute,
			 c.second, off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
	return buf;
}

char *cns_time_format_ms(int64_t ms, char *buf, size_t size)
{
	struct civil c;

	civil_from_seconds(floor_div(ms, 1000), &c);
	snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 (long long)c.year, c.month, c.day, c.hour, c.minute, c.second,
		 (int)floor_mod(ms, 1000));
	return buf;
}

static bool take_digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

static int bad_time(const char *text, struct cns_error *err)
{
	cns_error_set(err, CNS_E_USAGE, "invalid time \"%s\"", text);
	cns_error_hint(err, "write ISO 8601 such as \"2026-03-29T00:30:00Z\" "
			    "or \"2026-03-29T01:30:00+01:00\"");
	return -1;
}

int cns_time_parse(const char *text, const struct cns_tz *tz, int64_t *t,
		   struct cns_error *err)
{
	const char *s = text;
	struct civil c = { 0 };
	int y, mo, d, oh = 0, om = 0;
	bool has_off = false;
	int sign = 1;

	if (!take_digits(&s, 4, &y) || *s++ != '-' ||
	    !take_digits(&s, 2, &mo) || *s++ != '-' || !take_digits(&s, 2, &d))
		return bad_time(text, err);
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return bad_time(text, err);
	c.year = y;
	c.month = mo;
	c.day = d;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (!take_digits(&s, 2, &c.hour) || *s++ != ':' ||
		    !take_digits(&s, 2, &c.minute))
			return bad_time(text, err);
		if (*s == ':') {
			s++;
			if (!take_digits(&s, 2, &c.second))
				return bad_time(text, err);
			if (*s == '.' || *s == ',') {
				s++;
				if (!isdigit((unsigned char)*s))
					return bad_time(text, err);
				while (isdigit((unsigned char)*s))
					s++;
			}
		}
		if (c.hour > 23 || c.minute > 59 || c.second > 59)
			return bad_time(text, err);
	}
	if (*s == 'Z' || *s == 'z') {
		has_off = true;
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		s++;
		has_off = true;
		if (!take_digits(&s, 2, &oh))
			return bad_time(text, err);
		if (*s == ':')
			s++;
		if (isdigit((unsigned char)*s) && !take_digits(&s, 2, &om))
			return bad_time(text, err);
		if (oh > 26 || om > 59)
			return bad_time(text, err);
	}
	if (*s)
		return bad_time(text, err);
	if (has_off)
		*t = seconds_from_civil(&c) - sign * (oh * 3600 + om * 60);
	else if (tz)
		cns_tz_local_to_utc(tz, seconds_from_civil(&c), t);
	else
		*t = seconds_from_civil(&c);
	return 0;
}
