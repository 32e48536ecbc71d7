/*
 * odbc_sql.c - the pure parts of the odbc source driver: connection
 * strings (lookup, quoting, redaction), the extraction query, the mapping
 * of ODBC types to type names and bindings, UTF-16 and hex conversion, and
 * the table of per-driver adjustments.  No ODBC calls happen here, so all
 * of it is unit-tested without a server.
 */
#include "odbc_int.h"

#include "consolidate/civil.h"
#include "consolidate/secrets.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(SQLWCHAR) == 2, "unixODBC SQLWCHAR is UTF-16");

/* ---- per-driver adjustments ---- */

/* psqlODBC holds a whole result set in memory unless it reads through a
 * cursor (UseDeclareFetch), and by default reports booleans as varchar
 * "1"/"0".  Its Unicode build converts narrow text through the process
 * locale's character set, so it is used through the wide API.  Its text
 * of a date or timestamp is printed from the struct it parsed the
 * server's text into, so binding the struct gives the same values for
 * less work (native_datetime). */
static const char *const psql_options[] = { "UseDeclareFetch=1", "Fetch=%F",
					    "BoolsAsChar=0", NULL };
/* MariaDB Connector/ODBC: text in UTF-8 whatever the server's default;
 * NO_CACHE streams the result (3.1.17 and later; older versions ignore
 * it and hold the result in memory).  Its SQLSetPos ignores the row
 * number, so long values are read with one row per fetch. */
static const char *const maria_options[] = { "CHARSET=utf8mb4", "NO_CACHE=1",
					     NULL };
/* SQLite's driver reads the whole result into memory unless StepAPI is
 * on; declared lengths such as varchar(10) are not enforced by SQLite.
 * SQLite takes a "double-quoted" name that matches no column for a
 * string literal, so a misspelt column would silently become a constant:
 * names are quoted with backquotes, which are always identifiers. */
static const char *const sqlite_options[] = { "StepAPI=1", NULL };

static const struct cns_odbc_quirks quirks[] = {
	{ "psqlodbcw", psql_options, true, false, false, NULL, true },
	{ "psqlodbc", psql_options, false, false, false, NULL, true },
	{ "maodbc", maria_options, false, true, false, NULL, false },
	{ "sqlite3odbc", sqlite_options, false, false, true, "`", false },
	{ NULL, NULL, false, false, false, NULL, false }
};

const struct cns_odbc_quirks *cns_odbc_quirks_for(const char *driver_name)
{
	char low[128];
	size_t i;

	for (i = 0; driver_name[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)tolower((unsigned char)driver_name[i]);
	low[i] = '\0';
	for (i = 0; quirks[i].match; i++)
		if (strstr(low, quirks[i].match))
			break;
	return &quirks[i];
}

/* ---- connection strings ---- */

struct conn_get {
	const char *key;
	const char *val;
	size_t len;
	bool found;
};

static void conn_get_token(const struct cns_conn_token *t, void *arg)
{
	struct conn_get *g = arg;
	size_t n = (size_t)(t->end - t->start);

	if (g->found || t->kind != CNS_CONN_PAIR ||
	    strlen(g->key) != t->keylen ||
	    strncasecmp(t->key, g->key, t->keylen))
		return;
	while (n && isspace((unsigned char)t->start[n - 1]))
		n--;
	g->val = t->start;
	g->len = n;
	g->found = true;
}

/* The first value of key as written (braces kept), read by the one
 * tokenizer of connection strings. */
bool cns_odbc_conn_get(const char *conn, const char *key, const char **val,
		       size_t *len)
{
	struct conn_get g = { key, NULL, 0, false };

	cns_conn_scan(conn, CNS_CONN_ODBC, conn_get_token, &g);
	if (g.found) {
		*val = g.val;
		*len = g.len;
	}
	return g.found;
}

void cns_odbc_conn_add(struct cns_buf *b, const char *key, const char *value)
{
	size_t n = strlen(value);
	bool brace = strpbrk(value, ";{}") != NULL ||
		     (n && (isspace((unsigned char)value[0]) ||
			    isspace((unsigned char)value[n - 1])));

	if (b->len && b->data[b->len - 1] != ';')
		cns_buf_addc(b, ';');
	cns_buf_printf(b, "%s=", key);
	if (!brace) {
		cns_buf_adds(b, value);
	} else {
		cns_buf_addc(b, '{');
		for (const char *p = value; *p; p++) {
			if (*p == '}')
				cns_buf_addc(b, '}');
			cns_buf_addc(b, *p);
		}
		cns_buf_addc(b, '}');
	}
	cns_buf_addc(b, ';');
}

/* Driver messages are free text, not connection strings: the one
 * scrubber hides password pairs and every secret of the set, which from
 * now on holds this source's password too. */
void cns_odbc_redact(const char *conn, const char *secret, struct cns_buf *out)
{
	if (secret)
		cns_secrets_add(secret, strlen(secret));
	cns_secrets_scrub(conn, out);
}

/* ---- SQL text ---- */

void cns_odbc_quote_ident(struct cns_buf *b, const char *name,
			  const char *quote)
{
	if (!quote[0] || name[0] == quote[0]) {
		cns_buf_adds(b, name);
		return;
	}
	cns_buf_adds(b, quote);
	for (const char *p = name; *p; p++) {
		if (*p == quote[0])
			cns_buf_addc(b, *p);
		cns_buf_addc(b, *p);
	}
	cns_buf_adds(b, quote);
}

void cns_odbc_quote_table(struct cns_buf *b, const char *name,
			  const char *quote)
{
	const char *dot;

	/* A name that quotes itself anywhere is taken as written: its
	 * dots may be inside quotes. */
	if (!quote[0] || strchr(name, quote[0])) {
		cns_buf_adds(b, name);
		return;
	}
	while ((dot = strchr(name, '.')) != NULL) {
		char part[512];
		size_t n = (size_t)(dot - name);

		if (n >= sizeof(part))
			n = sizeof(part) - 1;
		memcpy(part, name, n);
		part[n] = '\0';
		cns_odbc_quote_ident(b, part, quote);
		cns_buf_addc(b, '.');
		name = dot + 1;
	}
	cns_odbc_quote_ident(b, name, quote);
}

int cns_odbc_build_sql(struct cns_buf *b, const struct cns_source_conf *c,
		       const char *quote, const struct cns_odbc_order *o,
		       int **param_of)
{
	int np = 0, *pof = NULL;
	bool where = false;

	cns_buf_reset(b);
	*param_of = NULL;
	if (c->query) {
		size_t n = strlen(c->query);

		if (o->n == 0) {
			cns_buf_adds(b, c->query);
			return 0;
		}
		/* Wrapped, so that the watermark applies to the query's
		 * output columns; a trailing ';' would end the subquery. */
		while (n && (isspace((unsigned char)c->query[n - 1]) ||
			     c->query[n - 1] == ';'))
			n--;
		cns_buf_adds(b, "SELECT * FROM (");
		cns_buf_add(b, c->query, n);
		cns_buf_adds(b, ") cns_q");
	} else {
		cns_buf_adds(b, "SELECT ");
		if (c->columns.n == 0)
			cns_buf_adds(b, "*");
		for (int i = 0; i < c->columns.n; i++) {
			if (i)
				cns_buf_adds(b, ", ");
			cns_odbc_quote_ident(b, c->columns.items[i], quote);
		}
		cns_buf_adds(b, " FROM ");
		cns_odbc_quote_table(b, c->table, quote);
		if (c->where && c->where[0]) {
			cns_buf_printf(b, " WHERE (%s)", c->where);
			where = true;
		}
	}
	for (int i = 0; i < o->notnull && i < o->n; i++) {
		cns_buf_adds(b, where ? " AND " : " WHERE ");
		where = true;
		cns_odbc_quote_ident(b, o->cols[i], quote);
		cns_buf_adds(b, " IS NOT NULL");
	}
	if (o->lookback && o->n > 0) {
		pof = cns_xmalloc(sizeof(int));
		cns_buf_adds(b, where ? " AND " : " WHERE ");
		cns_odbc_quote_ident(b, o->cols[0], quote);
		cns_buf_adds(b, " > ?");
		pof[np++] = 0;
	} else if (o->nwm > 0) {
		int nwm = o->nwm < o->n ? o->nwm : o->n;

		/* (a, b) > (x, y) written out as (a > x) OR (a = x AND
		 * b > y): row comparisons are not portable. */
		pof = cns_xmalloc(sizeof(int) * (size_t)(nwm * (nwm + 1) / 2));
		cns_buf_adds(b, where ? " AND (" : " WHERE (");
		for (int i = 0; i < nwm; i++) {
			if (i)
				cns_buf_adds(b, " OR ");
			cns_buf_addc(b, '(');
			for (int j = 0; j < i; j++) {
				cns_odbc_quote_ident(b, o->cols[j], quote);
				cns_buf_adds(b, " = ? AND ");
				pof[np++] = j;
			}
			cns_odbc_quote_ident(b, o->cols[i], quote);
			cns_buf_adds(b, " > ?)");
			pof[np++] = i;
		}
		cns_buf_addc(b, ')');
	}
	if (o->n > 0 && !o->unordered) {
		cns_buf_adds(b, " ORDER BY ");
		for (int i = 0; i < o->n; i++) {
			if (i)
				cns_buf_adds(b, ", ");
			cns_odbc_quote_ident(b, o->cols[i], quote);
		}
	}
	*param_of = pof;
	return np;
}

/* Reads exactly n digits; -1 when they are not there. */
static long digits(const char *s, int n)
{
	long v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int cns_odbc_lookback(const char *wm, int64_t ms, char *out, size_t size)
{
	const char *p = wm, *tail;
	long y, mo, d, h = 0, mi = 0, sec = 0;
	int64_t us, frac = 0, days;
	int fdigits = 0, m2, d2;
	int64_t y2;
	char sep = 0;

	y = digits(p, 4);
	if (y < 0 || p[4] != '-' || (mo = digits(p + 5, 2)) < 1 || mo > 12 ||
	    p[7] != '-' || (d = digits(p + 8, 2)) < 1 || d > 31)
		return -1;
	p += 10;
	if ((*p == ' ' || *p == 'T') && isdigit((unsigned char)p[1])) {
		sep = *p;
		if ((h = digits(p + 1, 2)) < 0 || h > 23 || p[3] != ':' ||
		    (mi = digits(p + 4, 2)) < 0 || mi > 59)
			return -1;
		p += 6;
		if (*p == ':') {
			if ((sec = digits(p + 1, 2)) < 0 || sec > 60)
				return -1;
			p += 3;
		}
		if (*p == '.') {
			for (p++; isdigit((unsigned char)*p); p++) {
				if (fdigits < 6) {
					frac = frac * 10 + (*p - '0');
					fdigits++;
				}
			}
			for (int k = fdigits; k < 6; k++)
				frac *= 10;
		}
	}
	tail = p;
	days = days_from_civil(y, (int)mo, (int)d);
	us = ((days * 24 + h) * 60 + mi) * 60000000LL + sec * 1000000LL + frac -
	     ms * 1000;
	/* Floor division: the window opens at or before the wanted time. */
	days = us >= 0 ? us / 86400000000LL
		       : -((-us + 86400000000LL - 1) / 86400000000LL);
	us -= days * 86400000000LL;
	civil_from_days(days, &y2, &m2, &d2);
	if (!sep) {
		snprintf(out, size, "%04lld-%02d-%02d%s", (long long)y2, m2, d2,
			 tail);
		return 0;
	}
	h = (long)(us / 3600000000LL);
	mi = (long)(us / 60000000LL % 60);
	sec = (long)(us / 1000000LL % 60);
	frac = us % 1000000LL;
	if (frac || fdigits)
		snprintf(out, size,
			 "%04lld-%02d-%02d%c%02ld:%02ld:%02ld.%06lld%s",
			 (long long)y2, m2, d2, sep, h, mi, sec,
			 (long long)frac, tail);
	else
		snprintf(out, size, "%04lld-%02d-%02d%c%02ld:%02ld:%02ld%s",
			 (long long)y2, m2, d2, sep, h, mi, sec, tail);
	return 0;
}

void cns_odbc_split_table(const char *name, const char *quote, char *cat,
			  char *schema, char *table, size_t size)
{
	char parts[3][256];
	int n = 0;
	const char *p = name;
	char q = quote[0] ? quote[0] : '"';

	memset(parts, 0, sizeof(parts));
	while (*p && n < 3) {
		size_t len = 0;

		if (*p == q || *p == '"' || *p == '`' || *p == '[') {
			char close = *p == '[' ? ']' : *p;

			for (p++; *p && !(*p == close && p[1] != close); p++) {
				if (*p == close)
					p++;
				if (len < sizeof(parts[n]) - 1)
					parts[n][len++] = *p;
			}
			if (*p)
				p++;
		} else {
			for (; *p && *p != '.'; p++)
				if (len < sizeof(parts[n]) - 1)
					parts[n][len++] = *p;
		}
		n++;
		if (*p == '.')
			p++;
	}
	snprintf(cat, size, "%s", n == 3 ? parts[0] : "");
	snprintf(schema, size, "%s",
		 n == 3   ? parts[1]
		 : n == 2 ? parts[0]
			  : "");
	snprintf(table, size, "%s", parts[n ? n - 1 : 0]);
}

/* ---- types ---- */

static bool is_binary_type(SQLSMALLINT t)
{
	return t == SQL_BINARY || t == SQL_VARBINARY || t == SQL_LONGVARBINARY;
}

static bool is_interval_type(SQLSMALLINT t)
{
	return t >= SQL_INTERVAL_YEAR && t <= SQL_INTERVAL_MINUTE_TO_SECOND;
}

char *cns_odbc_type_name(struct cns_arena *arena, SQLSMALLINT t, SQLULEN size,
			 SQLSMALLINT digits, bool is_unsigned)
{
	const char *name = "text";

	switch (t) {
	case SQL_DECIMAL:
	case SQL_NUMERIC:
		if (size > 0 && size <= 1000)
			return cns_arena_printf(arena, "numeric(%lu,%d)",
						(unsigned long)size,
						digits > 0 ? digits : 0);
		name = "numeric";
		break;
	case SQL_TINYINT: name = "smallint"; break;
	case SQL_SMALLINT: name = is_unsigned ? "integer" : "smallint"; break;
	case SQL_INTEGER: name = is_unsigned ? "bigint" : "integer"; break;
	case SQL_BIGINT: name = is_unsigned ? "numeric(20,0)" : "bigint"; break;
	case SQL_REAL: name = "real"; break;
	case SQL_FLOAT:
	case SQL_DOUBLE: name = "double precision"; break;
	case SQL_BIT: name = "boolean"; break;
	case SQL_TYPE_DATE:
	case SQL_DATE: name = "date"; break;
	case SQL_TYPE_TIME:
	case SQL_TIME: name = "time"; break;
	case SQL_TYPE_TIMESTAMP:
	case SQL_TIMESTAMP: name = "timestamp"; break;
	case SQL_BINARY:
	case SQL_VARBINARY:
	case SQL_LONGVARBINARY: name = "bytea"; break;
	case SQL_GUID: name = "uuid"; break;
	default:
		if (is_interval_type(t))
			name = "interval";
		break;
	}
	return cns_arena_strdup(arena, name);
}

/* Types whose text is ASCII digits and punctuation. */
static bool is_ascii_type(SQLSMALLINT t)
{
	switch (t) {
	case SQL_DECIMAL:
	case SQL_NUMERIC:
	case SQL_TINYINT:
	case SQL_SMALLINT:
	case SQL_INTEGER:
	case SQL_BIGINT:
	case SQL_REAL:
	case SQL_FLOAT:
	case SQL_DOUBLE:
	case SQL_TYPE_DATE:
	case SQL_TYPE_TIME:
	case SQL_TYPE_TIMESTAMP:
	case SQL_DATE:
	case SQL_TIME:
	case SQL_TIMESTAMP:
	case SQL_GUID: return true;
	}
	return is_interval_type(t);
}

/* Bytes a bound cell needs to hold any value of the column, or 0 when
 * the driver does not say (or says what the database does not enforce). */
static size_t needed_cell(const struct cns_odbc_col *c, bool unsized_text)
{
	SQLULEN size = c->size;

	switch (c->fmt) {
	case CNS_ODBC_BIT: return 1;
	case CNS_ODBC_DATE: return sizeof(SQL_DATE_STRUCT);
	case CNS_ODBC_TIMESTAMP: return sizeof(SQL_TIMESTAMP_STRUCT);
	case CNS_ODBC_BINARY:
		return unsized_text || size == 0 || size > (1u << 24)
			       ? 0
			       : (size_t)size;
	case CNS_ODBC_WTEXT:
	case CNS_ODBC_TEXT: break;
	}
	switch (c->sqltype) {
	case SQL_DECIMAL:
	case SQL_NUMERIC:
		/* Digits, sign, point, NUL. */
		return size == 0 || size > 1000 ? 0 : (size_t)size + 4;
	case SQL_TINYINT:
	case SQL_SMALLINT:
	case SQL_INTEGER:
	case SQL_BIGINT: return 24;
	case SQL_REAL:
	case SQL_FLOAT:
	case SQL_DOUBLE: return 40;
	}
	if (is_ascii_type(c->sqltype))
		/* Dates, times, intervals, GUIDs: ISO text, with room for a
		 * fraction in nanoseconds and a zone. */
		return 64;
	if (unsized_text || size == 0 || size > (1u << 24))
		return 0;
	/* A character is up to 4 bytes of UTF-8 or 2 UTF-16 units; plus
	 * the terminating NUL. */
	return c->fmt == CNS_ODBC_WTEXT
		       ? ((size_t)size * 2 + 1) * sizeof(SQLWCHAR)
		       : (size_t)size * 4 + 1;
}

void cns_odbc_plan_column(struct cns_odbc_col *c, bool wide, bool block_getdata,
			  bool unsized_text)
{
	size_t need, cap;

	if (c->sqltype == SQL_BIT) {
		c->fmt = CNS_ODBC_BIT;
		c->ctype = SQL_C_BIT;
	} else if (is_binary_type(c->sqltype)) {
		c->fmt = CNS_ODBC_BINARY;
		c->ctype = SQL_C_BINARY;
	} else if (is_ascii_type(c->sqltype) || !wide) {
		c->fmt = CNS_ODBC_TEXT;
		c->ctype = SQL_C_CHAR;
	} else {
		/* Character data, and types we do not know, may hold any
		 * character. */
		c->fmt = CNS_ODBC_WTEXT;
		c->ctype = SQL_C_WCHAR;
	}
	need = needed_cell(c, unsized_text);
	cap = block_getdata ? CNS_ODBC_CELL : CNS_ODBC_CELL_FIXED;
	if (need == 0 || need > cap) {
		c->cell = CNS_ODBC_CELL;
		c->unbounded = true;
	} else {
		c->cell = need < 16 && c->fmt != CNS_ODBC_BIT ? 16 : need;
		c->unbounded = false;
	}
	/* UTF-16 cells hold whole units. */
	if (c->fmt == CNS_ODBC_WTEXT && c->cell % 2)
		c->cell++;
}

void cns_odbc_plan_native(struct cns_odbc_col *c)
{
	switch (c->sqltype) {
	case SQL_TYPE_DATE:
	case SQL_DATE:
		c->fmt = CNS_ODBC_DATE;
		c->ctype = SQL_C_TYPE_DATE;
		c->cell = sizeof(SQL_DATE_STRUCT);
		break;
	case SQL_TYPE_TIMESTAMP:
	case SQL_TIMESTAMP:
		c->fmt = CNS_ODBC_TIMESTAMP;
		c->ctype = SQL_C_TYPE_TIMESTAMP;
		c->cell = sizeof(SQL_TIMESTAMP_STRUCT);
		break;
	default: return;
	}
	c->unbounded = false;
}

/* Writes n (0 <= n < 10^width, or wider) with at least width digits. */
static char *put_digits(char *p, long n, int width)
{
	char tmp[24];
	int len = 0;

	do {
		tmp[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	while (len < width)
		tmp[len++] = '0';
	while (len > 0)
		*p++ = tmp[--len];
	return p;
}

/* "YYYY-MM-DD" of a year that may be negative (BC, written last). */
static char *put_ymd(char *p, long y, long m, long d)
{
	p = put_digits(p, y < 0 ? -y : y, 4);
	*p++ = '-';
	p = put_digits(p, m < 0 ? 0 : m, 2);
	*p++ = '-';
	return put_digits(p, d < 0 ? 0 : d, 2);
}

size_t cns_odbc_format_date(const SQL_DATE_STRUCT *d, char *out)
{
	char *p = put_ymd(out, d->year, d->month, d->day);

	if (d->year < 0) {
		memcpy(p, " BC", 3);
		p += 3;
	}
	*p = '\0';
	return (size_t)(p - out);
}

size_t cns_odbc_format_timestamp(const SQL_TIMESTAMP_STRUCT *t, char *out)
{
	char *p = put_ymd(out, t->year, t->month, t->day);
	unsigned long fr = t->fraction % 1000000000u;

	*p++ = ' ';
	p = put_digits(p, t->hour, 2);
	*p++ = ':';
	p = put_digits(p, t->minute, 2);
	*p++ = ':';
	p = put_digits(p, t->second, 2);
	if (fr > 0) {
		int digits = 9;

		/* Nanoseconds, without the trailing zeros. */
		while (fr % 10 == 0) {
			fr /= 10;
			digits--;
		}
		*p++ = '.';
		p = put_digits(p, (long)fr, digits);
	}
	if (t->year < 0) {
		memcpy(p, " BC", 3);
		p += 3;
	}
	*p = '\0';
	return (size_t)(p - out);
}

SQLULEN cns_odbc_array_size(const struct cns_odbc_col *cols, int ncols,
			    int batch)
{
	size_t row = sizeof(SQLUSMALLINT);
	size_t n, max = CNS_ODBC_MAX_ARRAY;

	for (int i = 0; i < ncols; i++)
		row += cols[i].cell + sizeof(SQLLEN);
	if (batch > 0 && (size_t)batch < max)
		max = (size_t)batch;
	n = CNS_ODBC_BUDGET / row;
	if (n > max)
		n = max;
	return n ? (SQLULEN)n : 1;
}

/* ---- text ---- */

int cns_odbc_utf16_to_utf8(const SQLWCHAR *w, size_t n, struct cns_buf *out)
{
	size_t start = out->len;
	char *p;

	/* A unit becomes at most 3 bytes (a surrogate pair, 2 units, 4):
	 * one reservation covers the whole value. */
	cns_buf_reserve(out, n * 3);
	p = out->data + out->len;
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = w[i];

		if (cp < 0x80) {
			*p++ = (char)cp;
			continue;
		}
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (i + 1 >= n || w[i + 1] < 0xDC00 ||
			    w[i + 1] > 0xDFFF)
				goto bad;
			cp = 0x10000 + ((cp - 0xD800) << 10) +
			     (uint32_t)(w[i + 1] - 0xDC00);
			i++;
		} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
			goto bad;
		}
		if (cp < 0x800) {
			p[0] = (char)(0xC0 | (cp >> 6));
			p[1] = (char)(0x80 | (cp & 0x3F));
			p += 2;
		} else if (cp < 0x10000) {
			p[0] = (char)(0xE0 | (cp >> 12));
			p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
			p[2] = (char)(0x80 | (cp & 0x3F));
			p += 3;
		} else {
			p[0] = (char)(0xF0 | (cp >> 18));
			p[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
			p[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
			p[3] = (char)(0x80 | (cp & 0x3F));
			p += 4;
		}
	}
	out->len = (size_t)(p - out->data);
	out->data[out->len] = '\0';
	return 0;
bad:
	out->len = start;
	out->data[out->len] = '\0';
	return -1;
}

int cns_odbc_utf8_to_utf16(const char *str, size_t n, struct cns_buf *out)
{
	const unsigned char *s = (const unsigned char *)str;
	SQLWCHAR unit;

	if (cns_utf8_invalid_at(str, n) >= 0)
		return -1;
	for (size_t i = 0; i < n;) {
		uint32_t cp;

		if (s[i] < 0x80) {
			cp = s[i++];
		} else if (s[i] < 0xE0) {
			cp = (uint32_t)(s[i] & 0x1F) << 6 | (s[i + 1] & 0x3F);
			i += 2;
		} else if (s[i] < 0xF0) {
			cp = (uint32_t)(s[i] & 0x0F) << 12 |
			     (uint32_t)(s[i + 1] & 0x3F) << 6 |
			     (s[i + 2] & 0x3F);
			i += 3;
		} else {
			cp = (uint32_t)(s[i] & 0x07) << 18 |
			     (uint32_t)(s[i + 1] & 0x3F) << 12 |
			     (uint32_t)(s[i + 2] & 0x3F) << 6 |
			     (s[i + 3] & 0x3F);
			i += 4;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			unit = (SQLWCHAR)(0xD800 | (cp >> 10));
			cns_buf_add(out, &unit, sizeof(unit));
			cp = 0xDC00 | (cp & 0x3FF);
		}
		unit = (SQLWCHAR)cp;
		cns_buf_add(out, &unit, sizeof(unit));
	}
	/* The terminating 0 unit: cns_buf keeps one NUL byte after len,
	 * a second one makes a whole unit. */
	cns_buf_reserve(out, 2);
	out->data[out->len] = '\0';
	out->data[out->len + 1] = '\0';
	return 0;
}

void cns_odbc_hex(const unsigned char *p, size_t n, struct cns_buf *out)
{
	static const char digits[] = "0123456789abcdef";
	char *q;

	cns_buf_reserve(out, 2 + 2 * n);
	q = out->data + out->len;
	*q++ = '\\';
	*q++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*q++ = digits[p[i] >> 4];
		*q++ = digits[p[i] & 15];
	}
	out->len += 2 + 2 * n;
	out->data[out->len] = '\0';
}
