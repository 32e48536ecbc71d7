/*
 * runlog_util.c - the plumbing under the run log and the rejects file:
 * JSON strings out, a small JSON reader for runs.jsonl and the marker,
 * UTC timestamps, atomic file replacement, and the scrubbing that keeps
 * every secret of a job file out of logs, records and metrics.
 */
#include "consolidate/testhook.h"
#include "runlog_internal.h"

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
		case '"':
			cns_buf_adds(b, "\\\"");
			break;
		case '\\':
			cns_buf_adds(b, "\\\\");
			break;
		case '\n':
			cns_buf_adds(b, "\\n");
			break;
		case '\r':
			cns_buf_adds(b, "\\r");
			break;
		case '\t':
			cns_buf_adds(b, "\\t");
			break;
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
			    hex4(j->p + 2, j->end, &lo) == 0 &&
			    lo >= 0xDC00 && lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (lo - 0xDC00);
				j->p += 6;
			} else if (cp >= 0xD800 && cp <= 0xDFFF) {
				cp = 0xFFFD;
			}
			put_utf8(&b, cp);
			break;
		}
		default:
			goto bad;
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
	struct cns_json *v = jnode(j, object ? CNS_JSON_OBJECT
					     : CNS_JSON_ARRAY);
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
	case '{':
		v = jcompound(j, true);
		break;
	case '[':
		v = jcompound(j, false);
		break;
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
	default:
		v = jnumber(j);
		break;
	}
	if (v)
		v->end = j->p;
	return v;
}

struct cns_json *cns_json_parse(struct cns_arena *a, const char *text,
				size_t len)
{
	struct jparser j = {a, text, text + len, 0};
	struct cns_json *v = jvalue(&j);

	if (!v)
		return NULL;
	skip_ws(&j);
	return j.p == j.end ? v : NULL;
}

const struct cns_json *cns_json_get(const struct cns_json *obj,
				    const char *key)
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

double cns_json_get_num(const struct cns_json *obj, const char *key,
			double def)
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

/* ---- secrets ---- */

struct secret_list {
	char **v;
	int n, cap;
};

static void secret_add(struct secret_list *l, const char *s, size_t n)
{
	if (n < 4)
		return;
	for (int i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == n && !memcmp(l->v[i], s, n))
			return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = cns_xrealloc(l->v, (size_t)l->cap * sizeof(*l->v));
	}
	l->v[l->n] = cns_xmalloc(n + 1);
	memcpy(l->v[l->n], s, n);
	l->v[l->n][n] = '\0';
	l->n++;
}

static bool is_password_key(const char *s, size_t n)
{
	return (n == 8 && !strncasecmp(s, "password", 8)) ||
	       (n == 3 && !strncasecmp(s, "pwd", 3));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Adds a URI component as written and percent-decoded. */
static void secret_add_pct(struct secret_list *l, const char *s, size_t n)
{
	struct cns_buf b;

	secret_add(l, s, n);
	cns_buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			int hi = hexval((unsigned char)s[i + 1]);
			int lo = hexval((unsigned char)s[i + 2]);

			cns_buf_addc(&b, (char)(hi * 16 + lo));
			i += 2;
		} else {
			cns_buf_addc(&b, s[i]);
		}
	}
	if (b.len)
		secret_add(l, b.data, b.len);
	cns_buf_release(&b);
}

/* The passwords of one connection string: libpq "key=value" (values
 * quoted with '...'), ODBC "KEY=value;" (values quoted with {...}) and
 * postgresql:// URIs. */
static void conn_secrets(const char *conn, struct secret_list *l)
{
	const char *s = conn;
	bool odbc = strchr(conn, ';') != NULL;
	struct cns_buf b;

	if (!strncmp(conn, "postgres://", 11) ||
	    !strncmp(conn, "postgresql://", 13)) {
		const char *auth = strstr(conn, "://") + 3, *at = NULL;
		const char *colon, *q;
		size_t alen = strcspn(auth, "/?#");

		for (const char *t = auth; t < auth + alen; t++)
			if (*t == '@')
				at = t;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon)
			secret_add_pct(l, colon + 1, (size_t)(at - colon - 1));
		q = strchr(auth, '?');
		while (q && *q) {
			size_t n;

			q++;
			n = strcspn(q, "=&#");
			if (q[n] == '=' && is_password_key(q, n)) {
				size_t vn = strcspn(q + n + 1, "&#");

				secret_add_pct(l, q + n + 1, vn);
			}
			q += strcspn(q, "&#");
			if (*q == '#')
				break;
		}
		return;
	}
	cns_buf_init(&b);
	while (*s) {
		const char *key = s, *v;
		size_t n;

		if (isspace((unsigned char)*s) || *s == ';') {
			s++;
			continue;
		}
		n = strcspn(s, "= \t;");
		v = s + n;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != '=') {
			s = v;
			if (*s && *s != ';' && !isspace((unsigned char)*s))
				s++;
			continue;
		}
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		s = v;
		cns_buf_reset(&b);
		if (*s == '\'') {
			for (s++; *s && *s != '\''; s++) {
				if (*s == '\\' && s[1])
					s++;
				cns_buf_addc(&b, *s);
			}
			if (*s)
				s++;
		} else if (*s == '{') {
			for (s++; *s; s++) {
				if (*s == '}' && s[1] == '}')
					s++;
				else if (*s == '}')
					break;
				cns_buf_addc(&b, *s);
			}
			if (*s)
				s++;
		} else {
			size_t vn = odbc ? strcspn(s, ";") : strcspn(s, " \t");

			cns_buf_add(&b, s, vn);
			s += vn;
		}
		if (is_password_key(key, n)) {
			secret_add(l, v, (size_t)(s - v));
			if (b.len)
				secret_add(l, b.data, b.len);
		}
	}
	cns_buf_release(&b);
}

static void file_secret(const char *path, struct secret_list *l)
{
	char line[1024];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		secret_add(l, line, strlen(line));
	}
	fclose(f);
}

static int longest_first(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

char **cns_secrets_collect(const struct cns_job_conf *job, int *n)
{
	struct secret_list l = {NULL, 0, 0};

	if (job->target.conninfo)
		conn_secrets(job->target.conninfo, &l);
	for (int i = 0; i < job->nsources; i++) {
		const struct cns_source_conf *s = &job->sources[i];

		if (s->conninfo)
			conn_secrets(s->conninfo, &l);
		if (s->connection)
			conn_secrets(s->connection, &l);
		if (s->password)
			secret_add(&l, s->password, strlen(s->password));
		if (s->password_file)
			file_secret(s->password_file, &l);
	}
	/* A secret that contains another must be replaced first. */
	if (l.n > 1)
		qsort(l.v, (size_t)l.n, sizeof(*l.v), longest_first);
	*n = l.n;
	return l.v;
}

void cns_secrets_free(char **secrets, int n)
{
	for (int i = 0; i < n; i++)
		free(secrets[i]);
	free(secrets);
}

/* Hides the password of every "scheme://user:password@host" and every
 * password=... in a URI's query string. */
static void scrub_uris(const char *s, struct cns_buf *out)
{
	const char *p;

	while ((p = strstr(s, "://")) != NULL) {
		const char *auth = p + 3, *end, *at = NULL, *colon, *t;
		size_t ulen = strcspn(auth, " \t\r\n\"'<>`");

		end = auth + ulen;
		t = auth + strcspn(auth, "/?#");
		if (t > end)
			t = end;
		for (const char *u = auth; u < t; u++)
			if (*u == '@')
				at = u;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			cns_buf_add(out, s, (size_t)(colon + 1 - s));
			cns_buf_adds(out, "***");
			s = at;
		}
		/* The query string. */
		for (t = s; t < end; t++) {
			if ((*t == '?' || *t == '&') && t + 1 < end) {
				size_t n = strcspn(t + 1, "=&# \t\r\n\"'");

				if (t[1 + n] == '=' &&
				    is_password_key(t + 1, n)) {
					const char *v = t + 2 + n;

					cns_buf_add(out, s, (size_t)(v - s));
					cns_buf_adds(out, "***");
					while (v < end && *v != '&' &&
					       *v != '#')
						v++;
					s = v;
					t = v - 1;
				}
			}
		}
		cns_buf_add(out, s, (size_t)(end - s));
		s = end;
	}
	cns_buf_adds(out, s);
}

/* Hides the value of every password=, pwd= and passwd= pair in free
 * text, whatever the quoting ('...' of libpq, {...} of ODBC, "..."), up
 * to a blank, ';', '&' or ',' when it is not quoted.  Free text mixes the
 * two styles of connection strings, so no single style's rule would do. */
static void scrub_pairs(const char *s, struct cns_buf *out)
{
	static const char *const keys[] = {"password", "passwd", "pwd"};
	const char *start = s;

	while (*s) {
		const char *v = NULL;

		if (s == start ||
		    !(isalnum((unsigned char)s[-1]) || s[-1] == '_')) {
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]);
			     k++) {
				size_t kl = strlen(keys[k]);
				const char *e = s + kl;

				if (strncasecmp(s, keys[k], kl))
					continue;
				while (*e == ' ' || *e == '\t')
					e++;
				if (*e != '=')
					continue;
				e++;
				while (*e == ' ' || *e == '\t')
					e++;
				v = e;
				break;
			}
		}
		if (!v) {
			cns_buf_addc(out, *s++);
			continue;
		}
		cns_buf_add(out, s, (size_t)(v - s));
		cns_buf_adds(out, "***");
		s = cns_conn_value_end(v, "'\"", " \t\r\n;&,");
	}
}

void cns_secrets_scrub(char *const *secrets, int n, const char *text,
		       struct cns_buf *out)
{
	struct cns_buf a, b;

	cns_buf_init(&a);
	cns_buf_init(&b);
	cns_buf_adds(&a, text);
	for (int i = 0; i < n; i++) {
		const char *s = a.data, *hit;
		size_t sl = strlen(secrets[i]);

		if (!strstr(s, secrets[i]))
			continue;
		cns_buf_reset(&b);
		while ((hit = strstr(s, secrets[i])) != NULL) {
			cns_buf_add(&b, s, (size_t)(hit - s));
			cns_buf_adds(&b, "***");
			s = hit + sl;
		}
		cns_buf_adds(&b, s);
		cns_buf_reset(&a);
		cns_buf_add(&a, b.data, b.len);
	}
	cns_buf_reset(&b);
	scrub_uris(a.data, &b);
	cns_buf_reset(&a);
	scrub_pairs(b.data, &a);
	cns_config_redact(a.data, out);
	cns_buf_release(&a);
	cns_buf_release(&b);
}

/* ---- files ---- */

int cns_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0750) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int cns_write_atomic(const char *path, const char *data, size_t len,
		     int mode)
{
	static unsigned counter;
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, saved;
	size_t off = 0;

	if (slash)
		snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmp-%ld-%u",
			 (int)(slash - path), path, slash + 1, (long)getpid(),
			 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	else
		snprintf(tmp, sizeof(tmp), ".%s.tmp-%ld-%u", path,
			 (long)getpid(),
			 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	/* The umask must not make a metrics file unreadable to the
	 * collector. */
	if (fchmod(fd, (mode_t)mode) < 0)
		goto fail;
	while (off < len) {
		ssize_t w;

		if (cns_fail_now("write")) {
			errno = ENOSPC;
			goto fail;
		}
		w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (cns_fail_now("fsync")) {
		errno = EIO;
		goto fail;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (cns_fail_now("rename")) {
		errno = EIO;
		goto fail;
	}
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}
