/*
 * runlog_util.c - the plumbing under the run log and the rejects file:
 * JSON strings out, a small JSON reader for runs.jsonl and the marker,
 * UTC timestamps and atomic file replacement.
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

void cns_json_add_str(struct cns_buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	cns_buf_reserve(b, n + 2);
	cns_buf_addc(b, '"');
	while (i < n) {
		unsigned char c = s[i];
		size_t run = i;

		/* Copy the longest stretch that needs no escape at once. */
		while (run < n && s[run] >= 0x20 && s[run] < 0x80 &&
		       s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i) {
			cns_buf_add(b, s + i, run - i);
			i = run;
			continue;
		}
		switch (c) {
		case '"': cns_buf_adds(b, "\\\""); break;
		case '\\': cns_buf_adds(b, "\\\\"); break;
		case '\n': cns_buf_adds(b, "\\n"); break;
		case '\r': cns_buf_adds(b, "\\r"); break;
		case '\t': cns_buf_adds(b, "\\t"); break;
		default:
			if (c < 0x20) {
				cns_buf_printf(b, "\\u%04x", c);
			} else {
				size_t len = utf8_seq(s + i, n - i);

				if (len == 0) {
					cns_buf_adds(b, "\\ufffd");
				} else {
					cns_buf_add(b, s + i, len);
					i += len;
					continue;
				}
			}
			break;
		}
		i++;
	}
	cns_buf_addc(b, '"');
}

void cns_json_add_cstr(struct cns_buf *b, const char *s)
{
	if (!s)
		cns_buf_adds(b, "null");
	else
		cns_json_add_str(b, s, strlen(s));
}

/* ---- JSON in ---- */

struct jparser {
	struct cns_arena *a;
	const char *p, *end;
	int depth;
};

static void skip_ws(struct jparser *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int hex4(const char *p, const char *end, uint32_t *v)
{
	*v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int c = p[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*v = (*v << 4) | (uint32_t)d;
	}
	return 0;
}

static void put_utf8(struct cns_buf *b, uint32_t cp)
{
	char u[4];

	if (cp < 0x80) {
		cns_buf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		cns_buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		cns_buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		cns_buf_add(b, u, 4);
	}
}

/* Reads a string literal at j->p (on the opening quote) into the arena. */
static const char *jstring(struct jparser *j, size_t *len)
{
	struct cns_buf b;
	const char *out;

	j->p++;
	cns_buf_init(&b);
	cns_buf_add(&b, "", 0);
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;

		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			cns_buf_addc(&b, (char)c);
			j->p++;
			continue;
		}
		if (++j->p >= j->end)
			goto bad;
		switch (*j->p++) {
		case '"': cns_buf_addc(&b, '"'); break;
		case '\\': cns_buf_addc(&b, '\\'); break;
		case '/': cns_buf_addc(&b, '/'); break;
		case 'b': cns_buf_addc(&b, '\b'); break;
		case 'f': cns_buf_addc(&b, '\f'); break;
		case 'n': cns_buf_addc(&b, '\n'); break;
		case 'r': cns_buf_addc(&b, '\r'); break;
		case 't': cns_buf_addc(&b, '\t'); break;
		case 'u': {
			uint32_t cp, lo;

			if (hex4(j->p, j->end, &cp) < 0)
				goto bad;
			j->p += 4;
			/* A surrogate pair is one character. */
			if (cp >= 0xD800 && cp <= 0xDBFF &&
			    j->end - j->p >= 6 && j->p[0] == '\\' &&
			    j->p[1] == 'u' &&
			    hex4(j->p + 2, j->end, &lo) == 0 && lo >= 0xDC00 &&
			    lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (lo - 0xDC00);
				j->p += 6;
			} else if (cp >= 0xD800 && cp <= 0xDFFF) {
				cp = 0xFFFD;
			}
			put_utf8(&b, cp);
			break;
		}
		default: goto bad;
		}
	}
	if (j->p >= j->end)
		goto bad;
	j->p++;
	out = cns_arena_strndup(j->a, b.data, b.len);
	*len = b.len;
	cns_buf_release(&b);
	return out;
bad:
	cns_buf_release(&b);
	return NULL;
}

static struct cns_json *jvalue(struct jparser *j);

static struct cns_json *jnode(struct jparser *j, enum cns_json_type t)
{
	struct cns_json *v = cns_arena_zalloc(j->a, sizeof(*v));

	v->type = t;
	v->start = j->p;
	return v;
}

static bool jword(struct jparser *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n))
		return false;
	j->p += n;
	return true;
}

static struct cns_json *jnumber(struct jparser *j)
{
	struct cns_json *v = jnode(j, CNS_JSON_NUMBER);
	const char *s = j->p;
	char tmp[64];

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || !isdigit((unsigned char)*j->p))
		return NULL;
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && isdigit((unsigned char)*j->p))
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || !isdigit((unsigned char)*j->p))
			return NULL;
		while (j->p < j->end && isdigit((unsigned char)*j->p))
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || !isdigit((unsigned char)*j->p))
			return NULL;
		while (j->p < j->end && isdigit((unsigned char)*j->p))
			j->p++;
	}
	if ((size_t)(j->p - s) >= sizeof(tmp))
		return NULL;
	memcpy(tmp, s, (size_t)(j->p - s));
	tmp[j->p - s] = '\0';
	v->num = strtod(tmp, NULL);
	v->str = cns_arena_strdup(j->a, tmp);
	v->len = (size_t)(j->p - s);
	return v;
}

static struct cns_json *jcompound(struct jparser *j, bool object)
{
	struct cns_json *v =
		jnode(j, object ? CNS_JSON_OBJECT : CNS_JSON_ARRAY);
	struct cns_json **tail = &v->child;
	char close = object ? '}' : ']';

	if (++j->depth > 64)
		return NULL;
	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return v;
	}
	for (;;) {
		const char *key = NULL;
		struct cns_json *item;
		size_t klen;

		skip_ws(j);
		if (object) {
			if (j->p >= j->end || *j->p != '"')
				return NULL;
			key = jstring(j, &klen);
			if (!key)
				return NULL;
			skip_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return NULL;
			j->p++;
		}
		item = jvalue(j);
		if (!item)
			return NULL;
		item->key = key;
		*tail = item;
		tail = &item->next;
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			j->depth--;
			return v;
		}
		return NULL;
	}
}

static struct cns_json *jvalue(struct jparser *j)
{
	struct cns_json *v;

	skip_ws(j);
	if (j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '{': v = jcompound(j, true); break;
	case '[': v = jcompound(j, false); break;
	case '"':
		v = jnode(j, CNS_JSON_STRING);
		v->str = jstring(j, &v->len);
		if (!v->str)
			return NULL;
		break;
	case 't':
	case 'f':
		v = jnode(j, CNS_JSON_BOOL);
		v->b = *j->p == 't';
		if (!jword(j, v->b ? "true" : "false"))
			return NULL;
		break;
	case 'n':
		v = jnode(j, CNS_JSON_NULL);
		if (!jword(j, "null"))
			return NULL;
		break;
	default: v = jnumber(j); break;
	}
	if (v)
		v->end = j->p;
	return v;
}

struct cns_json *cns_json_parse(struct cns_arena *a, const char *text,
				size_t len)
{
	struct jparser j = { a, text, text + len, 0 };
	struct cns_json *v = jvalue(&j);

	if (!v)
		return NULL;
	skip_ws(&j);
	return j.p == j.end ? v : NULL;
}

const struct cns_json *cns_json_get(const struct cns_json *obj, const char *key)
{
	if (!obj || obj->type != CNS_JSON_OBJECT)
		return NULL;
	for (const struct cns_json *m = obj->child; m; m = m->next)
		if (!strcmp(m->key, key))
			return m;
	return NULL;
}

const char *cns_json_get_str(const struct cns_json *obj, const char *key)
{
	const struct cns_json *m = cns_json_get(obj, key);

	return m && m->type == CNS_JSON_STRING ? m->str : NULL;
}

int64_t cns_json_get_int(const struct cns_json *obj, const char *key,
			 int64_t def)
{
	const struct cns_json *m = cns_json_get(obj, key);

	if (!m || m->type != CNS_JSON_NUMBER)
		return def;
	/* strtoll keeps counts above 2^53 exact; a fraction stops it. */
	return strtoll(m->str, NULL, 10);
}

double cns_json_get_num(const struct cns_json *obj, const char *key, double def)
{
	const struct cns_json *m = cns_json_get(obj, key);

	return m && m->type == CNS_JSON_NUMBER ? m->num : def;
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
