/*
 * secrets.c - what a secret is (one list of keys, one tokenizer for
 * connection strings and URIs), the process's secrets set, and the
 * scrubber that errors and run-log events pass through when they are
 * created.  Everything in the program that must not show a password asks
 * this file, so that a new way of writing one is taught in one place.
 */
#include "consolidate/secrets.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Keys whose value is a secret, in any dialect.  sslpassword is libpq's
 * passphrase of the client key; passwd is what some ODBC drivers and
 * hand-written strings use. */
static const char *const secret_keys[] = { "password", "passwd", "pwd",
					   "sslpassword" };
#define NKEYS (sizeof(secret_keys) / sizeof(secret_keys[0]))

/* Shorter values are not hidden wherever they occur (see secrets.h). */
#define MIN_SECRET 4

bool cns_secret_key(const char *key, size_t n)
{
	while (n && isspace((unsigned char)*key)) {
		key++;
		n--;
	}
	while (n && isspace((unsigned char)key[n - 1]))
		n--;
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(secret_keys[i]) == n &&
		    !strncasecmp(key, secret_keys[i], n))
			return true;
	return false;
}

/* ---- tokenizer ---- */

struct scan {
	cns_conn_fn fn;
	void *arg;
	int problems;
	struct cns_buf val; /* the decoded value of the current token */
};

static void emit(struct scan *sc, enum cns_conn_kind kind, const char *key,
		 size_t keylen, const char *start, const char *end, bool secret,
		 const char *problem)
{
	struct cns_conn_token t;

	cns_buf_add(&sc->val, "", 0);
	t.kind = kind;
	t.key = key;
	t.keylen = keylen;
	t.start = start;
	t.end = end;
	t.value = sc->val.data;
	t.len = sc->val.len;
	t.secret = secret;
	t.problem = problem;
	if (problem)
		sc->problems++;
	sc->fn(&t, sc->arg);
	cns_buf_reset(&sc->val);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes s[0..n) into b; a bad escape is kept as written. */
static void pct_decode(struct cns_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			cns_buf_addc(
				b, (char)(hexval((unsigned char)s[i + 1]) * 16 +
					  hexval((unsigned char)s[i + 2])));
			i += 2;
		} else {
			cns_buf_addc(b, s[i]);
		}
	}
}

static bool is_uri(const char *s)
{
	return !strncmp(s, "postgresql://", 13) ||
	       !strncmp(s, "postgres://", 11);
}

/* libpq's URI reader: the user information ends at the first "@" before
 * the first "/", the password starts after the first ":" in it.  A second
 * "@" means an unencoded one in the password: libpq would read part of
 * the password as the host and quote it back, so the whole stretch up to
 * the last "@" is the secret. */
static void scan_uri(struct scan *sc, const char *conn)
{
	const char *auth = strstr(conn, "://") + 3;
	const char *stop = auth + strcspn(auth, "/"), *first = NULL;
	const char *last = NULL, *q;

	for (const char *t = auth; t < stop; t++)
		if (*t == '@') {
			if (!first)
				first = t;
			last = t;
		}
	if (first) {
		const char *colon = memchr(auth, ':', (size_t)(first - auth));
		const char *uend = colon ? colon : first;

		pct_decode(&sc->val, auth, (size_t)(uend - auth));
		emit(sc, CNS_CONN_USER, NULL, 0, auth, uend, false, NULL);
		if (colon) {
			pct_decode(&sc->val, colon + 1,
				   (size_t)(last - colon - 1));
			emit(sc, CNS_CONN_PASS, NULL, 0, colon + 1, last, true,
			     first != last ? "unencoded \"@\" in the password"
					   : NULL);
		} else if (first != last) {
			pct_decode(&sc->val, first + 1,
				   (size_t)(last - first - 1));
			emit(sc, CNS_CONN_WORD, NULL, 0, first + 1, last, true,
			     "unencoded \"@\" in the user information");
		}
	}
	q = strchr(last ? last : auth, '?');
	while (q && *q && *q != '#') {
		const char *k = q + 1, *eq, *e;

		e = k + strcspn(k, "&#");
		eq = memchr(k, '=', (size_t)(e - k));
		if (e == k) {
			/* "?&" or a trailing "?": nothing to read. */
		} else if (!eq) {
			pct_decode(&sc->val, k, (size_t)(e - k));
			emit(sc, CNS_CONN_WORD, NULL, 0, k, e, true,
			     "no \"=\" in a query parameter");
		} else {
			pct_decode(&sc->val, eq + 1, (size_t)(e - eq - 1));
			emit(sc, CNS_CONN_PAIR, k, (size_t)(eq - k), eq + 1, e,
			     cns_secret_key(k, (size_t)(eq - k)),
			     eq == k ? "empty key" : NULL);
		}
		q = *e == '&' ? e : NULL;
	}
}

/* libpq's conninfo reader (conninfo_parse): a key runs to "=" or a blank;
 * blanks may surround "="; a value is '...' (backslash escapes) or runs
 * to the next blank (backslash escapes too).  Anything else is a word
 * libpq refuses, quoting it in its message. */
static void scan_libpq(struct scan *sc, const char *s)
{
	while (*s) {
		const char *key, *kend, *v;
		const char *problem = NULL;

		if (isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		key = s;
		while (*s && *s != '=' && !isspace((unsigned char)*s))
			s++;
		kend = s;
		while (isspace((unsigned char)*s))
			s++;
		if (*s != '=') {
			cns_buf_add(&sc->val, key, (size_t)(kend - key));
			emit(sc, CNS_CONN_WORD, NULL, 0, key, kend, true,
			     "no \"=\" after a word");
			continue;
		}
		s++;
		if (kend == key)
			problem = "empty key";
		while (isspace((unsigned char)*s))
			s++;
		v = s;
		if (*s == '\'') {
			for (s++; *s && *s != '\''; s++) {
				if (*s == '\\' && s[1])
					s++;
				cns_buf_addc(&sc->val, *s);
			}
			if (*s)
				s++;
			else
				problem = "unterminated quoted value";
		} else {
			for (; *s && !isspace((unsigned char)*s); s++) {
				if (*s == '\\' && s[1])
					s++;
				cns_buf_addc(&sc->val, *s);
			}
		}
		emit(sc, CNS_CONN_PAIR, key, (size_t)(kend - key), v, s,
		     cns_secret_key(key, (size_t)(kend - key)), problem);
	}
}

/* ODBC's reader (SQLDriverConnect): pairs end at ";", a value in {...}
 * may hold ";" and "}}" stands for "}". */
static void scan_odbc(struct scan *sc, const char *s)
{
	while (*s) {
		const char *key, *kend, *v, *e;
		const char *problem = NULL;

		if (*s == ';' || isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		key = s;
		s += strcspn(s, "=;");
		kend = s;
		while (kend > key && isspace((unsigned char)kend[-1]))
			kend--;
		if (*s != '=') {
			cns_buf_add(&sc->val, key, (size_t)(kend - key));
			emit(sc, CNS_CONN_WORD, NULL, 0, key, kend, true,
			     "no \"=\" after a word");
			continue;
		}
		if (kend == key)
			problem = "empty key";
		/* Blanks before a value are not part of it (a brace after
		 * them still opens a braced value). */
		for (s++; *s == ' ' || *s == '\t'; s++)
			;
		v = s;
		if (*s == '{') {
			for (s++; *s; s++) {
				if (*s == '}' && s[1] == '}')
					s++;
				else if (*s == '}')
					break;
				cns_buf_addc(&sc->val, *s);
			}
			if (*s)
				s++;
			else
				problem = "unterminated braced value";
			e = s;
			/* Whatever follows the brace up to ";" is junk the
			 * driver skips, or an unbraced remainder: keep it in
			 * the token. */
			s += strcspn(s, ";");
			if (s != e)
				e = s;
		} else {
			s += strcspn(s, ";");
			e = s;
			cns_buf_add(&sc->val, v, (size_t)(e - v));
		}
		emit(sc, CNS_CONN_PAIR, key, (size_t)(kend - key), v, e,
		     cns_secret_key(key, (size_t)(kend - key)), problem);
	}
}

int cns_conn_scan(const char *conn, enum cns_conn_style style, cns_conn_fn fn,
		  void *arg)
{
	struct scan sc = { fn, arg, 0, { NULL, 0, 0 } };

	cns_buf_init(&sc.val);
	switch (style) {
	case CNS_CONN_LIBPQ:
		/* libpq reads a string with no "=" as a database name
		 * (expand_dbname). */
		if (is_uri(conn)) {
			scan_uri(&sc, conn);
		} else if (!strchr(conn, '=')) {
			if (*conn) {
				cns_buf_adds(&sc.val, conn);
				emit(&sc, CNS_CONN_PAIR, "dbname", 6, conn,
				     conn + strlen(conn), false, NULL);
			}
		} else {
			scan_libpq(&sc, conn);
		}
		break;
	case CNS_CONN_ODBC: scan_odbc(&sc, conn); break;
	}
	cns_buf_release(&sc.val);
	return sc.problems;
}

/* ---- the set ---- */

/* Guards set, nset and cap; held while scrubbing so that a secret added
 * by another thread is either used whole or not at all. */
static pthread_mutex_t set_lock = PTHREAD_MUTEX_INITIALIZER;
static char **set; /* longest first, so a secret that holds another is
		     * hidden whole */
static size_t nset, cap;

void cns_secrets_add(const char *s, size_t n)
{
	size_t i;
	char *c;

	if (n < MIN_SECRET)
		return;
	pthread_mutex_lock(&set_lock);
	for (i = 0; i < nset; i++)
		if (strlen(set[i]) == n && !memcmp(set[i], s, n))
			goto out;
	if (nset == cap) {
		cap = cap ? cap * 2 : 16;
		set = cns_xrealloc(set, cap * sizeof(*set));
	}
	c = cns_xmalloc(n + 1);
	memcpy(c, s, n);
	c[n] = '\0';
	for (i = nset; i > 0 && strlen(set[i - 1]) < n; i--)
		set[i] = set[i - 1];
	set[i] = c;
	nset++;
out:
	pthread_mutex_unlock(&set_lock);
}

static void add_token(const struct cns_conn_token *t, void *arg)
{
	(void)arg;
	if (!t->secret)
		return;
	cns_secrets_add(t->start, (size_t)(t->end - t->start));
	cns_secrets_add(t->value, t->len);
	/* A quoted value without its quotes as written (escapes kept), and
	 * the pieces of a password that held an unencoded "@". */
	if (t->end - t->start >= 2 && (*t->start == '\'' || *t->start == '{'))
		cns_secrets_add(t->start + 1, (size_t)(t->end - t->start - 2));
	if (t->kind == CNS_CONN_PASS)
		for (const char *p = t->start, *e; p < t->end; p = e + 1) {
			e = memchr(p, '@', (size_t)(t->end - p));
			if (!e)
				e = t->end;
			if (e != t->end || p != t->start)
				cns_secrets_add(p, (size_t)(e - p));
		}
	/* A value with blanks may be cut at any of them by a reader that
	 * did not expect them: each word is a fragment. */
	if (t->value[strcspn(t->value, " \t\r\n")])
		for (const char *p = t->value; *p;) {
			size_t w = strcspn(p, " \t\r\n");

			cns_secrets_add(p, w);
			p += w;
			p += strspn(p, " \t\r\n");
		}
}

void cns_secrets_add_conn(const char *conn, enum cns_conn_style style)
{
	cns_conn_scan(conn, style, add_token, NULL);
}

void cns_secrets_add_file(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");

		cns_secrets_add(line, n);
		/* A reader that trims blanks would send this. */
		while (n && isspace((unsigned char)line[n - 1]))
			n--;
		cns_secrets_add(line, n);
	}
	fclose(f);
}

void cns_secrets_reset(void)
{
	pthread_mutex_lock(&set_lock);
	for (size_t i = 0; i < nset; i++)
		free(set[i]);
	free(set);
	set = NULL;
	nset = cap = 0;
	pthread_mutex_unlock(&set_lock);
}

/* ---- scrubbing ---- */

/* Where a pass writes: a growable buffer, or a fixed array that keeps
 * what fits (errors must be settable without allocating). */
struct sink {
	struct cns_buf *b;
	char *p;
	size_t len, cap;
};

static void put(struct sink *k, const char *s, size_t n)
{
	if (k->b) {
		cns_buf_add(k->b, s, n);
		return;
	}
	if (!k->cap)
		return;
	if (n > k->cap - 1 - k->len)
		n = k->cap - 1 - k->len;
	memcpy(k->p + k->len, s, n);
	k->len += n;
	k->p[k->len] = '\0';
}

static void puts_(struct sink *k, const char *s)
{
	put(k, s, strlen(s));
}

/* Every value of the set, longest first; with truncated, also a tail of
 * at least MIN_SECRET bytes that starts a secret. */
static void pass_literal(const char *s, bool truncated, struct sink *out)
{
	size_t n = strlen(s);

	pthread_mutex_lock(&set_lock);
	for (size_t i = 0; i < n;) {
		size_t hit = 0;

		for (size_t j = 0; j < nset && !hit; j++) {
			size_t sl = strlen(set[j]);

			if (set[j][0] != s[i])
				continue;
			if (i + sl <= n && !memcmp(s + i, set[j], sl))
				hit = sl;
			else if (truncated && i + sl > n &&
				 n - i >= MIN_SECRET &&
				 !memcmp(s + i, set[j], n - i))
				hit = n - i;
		}
		if (hit) {
			puts_(out, "***");
			i += hit;
		} else {
			put(out, s + i, 1);
			i++;
		}
	}
	pthread_mutex_unlock(&set_lock);
}

/* The password of every "scheme://user:password@host" in free text (up
 * to the last "@" before the path: an unencoded "@" is part of it) and
 * every secret key in a URI's query string. */
static void pass_uris(const char *s, struct sink *out)
{
	const char *p;

	while ((p = strstr(s, "://")) != NULL) {
		const char *auth = p + 3, *end, *at = NULL, *colon, *t;

		end = auth + strcspn(auth, " \t\r\n\"'<>`");
		t = auth + strcspn(auth, "/");
		if (t > end)
			t = end;
		for (const char *u = auth; u < t; u++)
			if (*u == '@')
				at = u;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			put(out, s, (size_t)(colon + 1 - s));
			puts_(out, "***");
			s = at;
		}
		for (t = s; t < end; t++) {
			size_t n;

			if ((*t != '?' && *t != '&') || t + 1 >= end)
				continue;
			n = strcspn(t + 1, "=&# \t\r\n\"'");
			if (t[1 + n] == '=' && cns_secret_key(t + 1, n)) {
				const char *v = t + 2 + n;

				put(out, s, (size_t)(v - s));
				puts_(out, "***");
				while (v < end && *v != '&' && *v != '#')
					v++;
				s = v;
				t = v - 1;
			}
		}
		put(out, s, (size_t)(end - s));
		s = end;
	}
	puts_(out, s);
}

/* The end of a value in free text that starts at v: past a value quoted
 * with one of `quotes` (backslash escapes) or in ODBC's {braces} ("}}"
 * for a brace), else at the first character of `stops`. */
static const char *value_end(const char *v, const char *quotes,
			     const char *stops)
{
	if (*v && strchr(quotes, *v)) {
		char q = *v;

		for (v++; *v && *v != q; v++)
			if (*v == '\\' && v[1])
				v++;
		return *v ? v + 1 : v;
	}
	if (*v == '{') {
		for (v++; *v; v++) {
			if (*v == '}' && v[1] == '}')
				v++;
			else if (*v == '}')
				return v + 1;
		}
		return v;
	}
	return v + strcspn(v, stops);
}

/* The value of every secret key written as a pair in free text, whatever
 * the quoting ('...' of libpq, {...} of ODBC, "..."), up to a blank, ";",
 * "&" or "," when it is not quoted.  Free text mixes both dialects, so
 * neither one's rule would do. */
static void pass_pairs(const char *s, struct sink *out)
{
	const char *start = s;

	while (*s) {
		const char *v = NULL;

		if (s == start ||
		    !(isalnum((unsigned char)s[-1]) || s[-1] == '_')) {
			for (size_t k = 0; k < NKEYS; k++) {
				size_t kl = strlen(secret_keys[k]);
				const char *e = s + kl;

				if (strncasecmp(s, secret_keys[k], kl))
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
			put(out, s++, 1);
			continue;
		}
		put(out, s, (size_t)(v - s));
		puts_(out, "***");
		s = value_end(v, "'\"", " \t\r\n;&,");
	}
}

/* libpq quotes back the part of a connection string it could not read;
 * that part may be the rest of a password (a blank in an unquoted value,
 * a stray "@"), so what it quotes is hidden. */
static void pass_quoted(const char *s, struct sink *out)
{
	static const char *const lead[] = {
		"missing \"=\" after \"",
		"URI query parameter: \"",
		"invalid percent-encoded token: \"",
	};

	while (*s) {
		const char *best = NULL;
		size_t bl = 0;

		for (size_t i = 0; i < sizeof(lead) / sizeof(lead[0]); i++) {
			const char *h = strstr(s, lead[i]);

			if (h && (!best || h < best)) {
				best = h;
				bl = strlen(lead[i]);
			}
		}
		if (!best) {
			puts_(out, s);
			return;
		}
		put(out, s, (size_t)(best - s) + bl);
		s = best + bl;
		/* The quoted text may hold a '"': it ends at the last '"'
		 * of the line. */
		{
			const char *nl = s + strcspn(s, "\n");
			const char *q = NULL;

			for (const char *t = s; t < nl; t++)
				if (*t == '"')
					q = t;
			puts_(out, "***");
			s = q ? q : nl;
		}
	}
}

void cns_secrets_scrub(const char *text, struct cns_buf *out)
{
	struct cns_buf a, b;
	struct sink sa = { &a, NULL, 0, 0 }, sb = { &b, NULL, 0, 0 };
	struct sink so = { out, NULL, 0, 0 };

	cns_buf_init(&a);
	cns_buf_init(&b);
	cns_buf_add(&a, "", 0);
	cns_buf_add(&b, "", 0);
	cns_buf_add(out, "", 0);
	pass_literal(text, false, &sa);
	pass_uris(a.data, &sb);
	cns_buf_reset(&a);
	cns_buf_add(&a, "", 0);
	pass_pairs(b.data, &sa);
	pass_quoted(a.data, &so);
	cns_buf_release(&a);
	cns_buf_release(&b);
}

void cns_secrets_scrub_fixed(const char *text, bool truncated, char *out,
			     size_t size)
{
	char a[4096], b[4096];
	struct sink sa = { NULL, a, 0, sizeof(a) },
		    sb = { NULL, b, 0, sizeof(b) };
	struct sink so = { NULL, out, 0, size };

	a[0] = b[0] = '\0';
	if (size)
		out[0] = '\0';
	pass_literal(text, truncated, &sa);
	pass_uris(a, &sb);
	sa.len = 0;
	a[0] = '\0';
	pass_pairs(b, &sa);
	pass_quoted(a, &so);
}

struct redact {
	const char *pos;
	struct cns_buf *out;
};

static void redact_token(const struct cns_conn_token *t, void *arg)
{
	struct redact *r = arg;

	if (!t->secret)
		return;
	cns_buf_add(r->out, r->pos, (size_t)(t->start - r->pos));
	cns_buf_adds(r->out, "***");
	r->pos = t->end;
}

void cns_secrets_redact_conn(const char *conn, enum cns_conn_style style,
			     struct cns_buf *out)
{
	struct redact r = { conn, out };

	cns_buf_add(out, "", 0);
	cns_conn_scan(conn, style, redact_token, &r);
	cns_buf_adds(out, r.pos);
}
