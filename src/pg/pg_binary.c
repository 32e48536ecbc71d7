/*
 * pg_binary.c - PostgreSQL's binary COPY format from text values.
 *
 * The server skips text parsing for a binary COPY, but it trusts the bytes
 * it is given: a value must be exactly what the type's input function
 * would have made of the text.  So each encoder below accepts only a
 * strict form of its type's text, for which the binary value is
 * unambiguous, and refuses everything else; the loader then sends that
 * chunk as text and the server reads it as always.  What the server would
 * refuse (out of range, a day that does not exist) is refused here too,
 * so the server's own message reaches the rejects file.
 *
 * Encoded (the strict forms):
 *   int2, int4, int8       [+-]digits, within the type's range
 *   float4, float8         [+-]digits[.digits][e[+-]digits], .digits...,
 *                          NaN, Infinity, -Infinity; read by strtof/strtod
 *                          in the C locale, as the server does (a value
 *                          out of range, even a subnormal one, goes as
 *                          text)
 *   bool                   t f true false yes no on off 1 0
 *   text, varchar, bpchar  the bytes (the server checks the encoding and
 *                          the length as for text)
 *   bytea                  \x and pairs of hex digits
 *   date                   YYYY-MM-DD [BC] (4 to 7 year digits),
 *                          infinity, -infinity
 *   timestamp              date, ' ' or 'T', HH:MM:SS[.1 to 6 digits]
 *                          [BC], infinity, -infinity
 *   timestamptz            the same with an offset +HH[:MM[:SS]] before
 *                          BC (without an offset the session's time zone
 *                          would decide: text)
 *   numeric                [+-]digits[.digits] (up to 1000 digits), NaN,
 *                          Infinity, -Infinity; no exponent
 *   uuid                   8-4-4-4-12 hex digits, or 32 hex digits
 *   json                   the text itself (the server parses it)
 *   jsonb                  version 1: the text (the server parses it)
 * Not encoded (the table travels as text): every other type, among them
 * interval, time, timetz, money, arrays, enums, ranges and composites.
 */
#include "consolidate/pgbinary.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* From PostgreSQL's datatype/timestamp.h: the Julian day of 2000-01-01
 * and the ends of the date and timestamp ranges. */
#define POSTGRES_EPOCH_JDATE 2451545
#define DATE_END_JULIAN 2147483494
#define USECS_PER_DAY INT64_C(86400000000)
#define MIN_TIMESTAMP INT64_C(-211813488000000000)
#define END_TIMESTAMP INT64_C(9223371331200000000)
#define NUMERIC_POS 0x0000
#define NUMERIC_NEG 0x4000
#define NUMERIC_NAN 0xC000
#define NUMERIC_PINF 0xD000
#define NUMERIC_NINF 0xF000
#define NUMERIC_MAX_TEXT_DIGITS 1000

static const char SIGNATURE[11] = "PGCOPY\n\377\r\n";

enum cns_pgbin_kind cns_pgbin_kind(const char *t)
{
	static const struct {
		const char *name;
		enum cns_pgbin_kind kind;
	} map[] = {
		{ "int2", CNS_PGBIN_INT2 },
		{ "int4", CNS_PGBIN_INT4 },
		{ "int8", CNS_PGBIN_INT8 },
		{ "float4", CNS_PGBIN_FLOAT4 },
		{ "float8", CNS_PGBIN_FLOAT8 },
		{ "bool", CNS_PGBIN_BOOL },
		{ "text", CNS_PGBIN_TEXT },
		{ "varchar", CNS_PGBIN_TEXT },
		{ "bpchar", CNS_PGBIN_TEXT },
		{ "bytea", CNS_PGBIN_BYTEA },
		{ "date", CNS_PGBIN_DATE },
		{ "timestamp", CNS_PGBIN_TIMESTAMP },
		{ "timestamptz", CNS_PGBIN_TIMESTAMPTZ },
		{ "numeric", CNS_PGBIN_NUMERIC },
		{ "uuid", CNS_PGBIN_UUID },
		{ "json", CNS_PGBIN_JSON },
		{ "jsonb", CNS_PGBIN_JSONB },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, t) == 0)
			return map[i].kind;
	return CNS_PGBIN_NONE;
}

/* ---- bytes in network order ---- */

static inline void put16(char *p, uint16_t v)
{
	p[0] = (char)(v >> 8);
	p[1] = (char)v;
}

static inline void put32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

static inline void put64(char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static void add16(struct cns_buf *b, uint16_t v)
{
	cns_buf_reserve(b, 2);
	put16(b->data + b->len, v);
	b->len += 2;
	b->data[b->len] = '\0';
}

static void add32(struct cns_buf *b, uint32_t v)
{
	cns_buf_reserve(b, 4);
	put32(b->data + b->len, v);
	b->len += 4;
	b->data[b->len] = '\0';
}

static void add64(struct cns_buf *b, uint64_t v)
{
	cns_buf_reserve(b, 8);
	put64(b->data + b->len, v);
	b->len += 8;
	b->data[b->len] = '\0';
}

void cns_pgbin_header(struct cns_buf *out)
{
	cns_buf_add(out, SIGNATURE, sizeof(SIGNATURE));
	add32(out, 0); /* flags: no OIDs */
	add32(out, 0); /* no header extension */
}

void cns_pgbin_trailer(struct cns_buf *out)
{
	add16(out, 0xFFFF);
}

/* ---- the strict forms ---- */

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool same(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* [+-]digits within [min, max]. */
static bool parse_int(const char *s, size_t n, int64_t min, int64_t max,
		      int64_t *out)
{
	const char *p = s, *end = s + n;
	bool neg = false;
	uint64_t v = 0, limit;

	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	if (p == end)
		return false;
	limit = neg ? (uint64_t)(-(min + 1)) + 1 : (uint64_t)max;
	for (; p < end; p++) {
		if (!is_digit(*p))
			return false;
		if (v > (limit - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (neg)
		*out = v == 0 ? 0 : -(int64_t)(v - 1) - 1;
	else
		*out = (int64_t)v;
	return true;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* A decimal float in the strict form, copied NUL-terminated into buf
 * (64 bytes); false for anything else. */
static bool float_text(const char *s, size_t n, char *buf)
{
	const char *p = s, *end = s + n;
	size_t idig = 0, fdig = 0;

	if (n == 0 || n >= 64)
		return false;
	if (*p == '+' || *p == '-')
		p++;
	while (p < end && is_digit(*p)) {
		p++;
		idig++;
	}
	if (p < end && *p == '.') {
		p++;
		while (p < end && is_digit(*p)) {
			p++;
			fdig++;
		}
	}
	if (idig + fdig == 0)
		return false;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p))
			return false;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p != end)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

/* float8 or, with single, float4: strtod or strtof in the C locale, as
 * float8in and float4in read the same text. */
static bool enc_float(struct cns_buf *b, const char *s, size_t n, bool single)
{
	char buf[64], *endp;
	double v;
	float f;
	uint64_t bits8;
	uint32_t bits4;

	if (same(s, n, "NaN"))
		v = NAN;
	else if (same(s, n, "Infinity"))
		v = INFINITY;
	else if (same(s, n, "-Infinity"))
		v = -INFINITY;
	else {
		if (!float_text(s, n, buf))
			return false;
		pthread_once(&c_locale_once, make_c_locale);
		if (c_locale == (locale_t)0)
			return false;
		errno = 0;
		if (single)
			v = strtof_l(buf, &endp, c_locale);
		else
			v = strtod_l(buf, &endp, c_locale);
		/* ERANGE, even for a subnormal result: the server decides */
		if (errno != 0 || *endp != '\0')
			return false;
	}
	if (single) {
		f = (float)v; /* exact: v came from strtof, or is special */
		memcpy(&bits4, &f, sizeof(bits4));
		add32(b, bits4);
	} else {
		memcpy(&bits8, &v, sizeof(bits8));
		add64(b, bits8);
	}
	return true;
}

static bool enc_bool(struct cns_buf *b, const char *s, size_t n)
{
	static const char *const yes[] = { "t", "true", "yes", "on", "1" };
	static const char *const no[] = { "f", "false", "no", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (same(s, n, yes[i])) {
			cns_buf_addc(b, 1);
			return true;
		}
		if (same(s, n, no[i])) {
			cns_buf_addc(b, 0);
			return true;
		}
	}
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool enc_bytea(struct cns_buf *b, const char *s, size_t n)
{
	char *d;

	if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n - 2) % 2)
		return false;
	cns_buf_reserve(b, (n - 2) / 2);
	d = b->data + b->len;
	for (size_t i = 2; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		*d++ = (char)(hi << 4 | lo);
	}
	b->len += (n - 2) / 2;
	b->data[b->len] = '\0';
	return true;
}

static bool enc_uuid(struct cns_buf *b, const char *s, size_t n)
{
	char out[16];
	size_t k = 0;

	if (n != 32 && n != 36)
		return false;
	for (size_t i = 0; i < n;) {
		int hi, lo;

		if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-')
				return false;
			i++;
			continue;
		}
		hi = hexval(s[i]);
		lo = i + 1 < n ? hexval(s[i + 1]) : -1;
		if (hi < 0 || lo < 0 || k == 16)
			return false;
		out[k++] = (char)(hi << 4 | lo);
		i += 2;
	}
	if (k != 16)
		return false;
	cns_buf_add(b, out, 16);
	return true;
}

/* ---- dates and times ---- */

/* PostgreSQL's date2j (the Julian day of a proleptic Gregorian date;
 * year 0 is 1 BC). */
static int64_t date2j(int64_t y, int m, int d)
{
	int64_t julian, century;

	if (m > 2) {
		m += 1;
		y += 4800;
	} else {
		m += 13;
		y += 4799;
	}
	century = y / 100;
	julian = y * 365 - 32167;
	julian += y / 4 - century + century / 4;
	julian += 7834 * m / 256 + d;
	return julian;
}

static bool leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* Exactly n digits at *p, advancing it. */
static bool fixed_digits(const char **p, const char *end, int n, int *out)
{
	int v = 0;

	if (end - *p < n)
		return false;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* YYYY-MM-DD (4 to 7 year digits) at *p: the year as written (1 and up),
 * month and day checked against the calendar once BC is known, so only
 * the ranges are checked here. */
static bool parse_ymd(const char **p, const char *end, int64_t *y, int *m,
		      int *d)
{
	const char *q = *p;
	int64_t year = 0;
	int nd = 0;

	while (q < end && is_digit(*q) && nd < 8) {
		year = year * 10 + (*q - '0');
		q++;
		nd++;
	}
	if (nd < 4 || nd > 7 || q == end || *q != '-')
		return false;
	q++;
	if (!fixed_digits(&q, end, 2, m) || q == end || *q != '-')
		return false;
	q++;
	if (!fixed_digits(&q, end, 2, d))
		return false;
	*p = q;
	*y = year;
	return year >= 1 && *m >= 1 && *m <= 12 && *d >= 1;
}

/* The year as the calendar counts it (1 BC is 0), when month and day
 * exist in it and the date is inside PostgreSQL's Julian range. */
static bool valid_date(int64_t year, bool bc, int m, int d, int64_t *astro)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };
	int64_t y = bc ? 1 - year : year;
	int dim = mdays[m - 1] + (m == 2 && leap(y));

	if (d > dim)
		return false;
	/* IS_VALID_JULIAN: from 4714-11 BC to 5874898-06 */
	if (!((y > -4713 || (y == -4713 && m >= 11)) &&
	      (y < 5874898 || (y == 5874898 && m < 6))))
		return false;
	*astro = y;
	return true;
}

/* " BC" at *p, advancing it. */
static bool eat_bc(const char **p, const char *end)
{
	if (end - *p == 3 && memcmp(*p, " BC", 3) == 0) {
		*p += 3;
		return true;
	}
	return false;
}

static bool enc_date(struct cns_buf *b, const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	int64_t y, astro, days;
	int m, d;
	bool bc;

	if (same(s, n, "infinity")) {
		add32(b, 0x7FFFFFFF);
		return true;
	}
	if (same(s, n, "-infinity")) {
		add32(b, 0x80000000u);
		return true;
	}
	if (!parse_ymd(&p, end, &y, &m, &d))
		return false;
	bc = eat_bc(&p, end);
	if (p != end || !valid_date(y, bc, m, d, &astro))
		return false;
	days = date2j(astro, m, d) - POSTGRES_EPOCH_JDATE;
	if (days < -POSTGRES_EPOCH_JDATE ||
	    days >= DATE_END_JULIAN - POSTGRES_EPOCH_JDATE)
		return false;
	add32(b, (uint32_t)(int32_t)days);
	return true;
}

/* [+-]HH[:MM[:SS]] at *p, in seconds east of UTC, as far as PostgreSQL
 * takes it (hours up to 15). */
static bool parse_offset(const char **p, const char *end, int64_t *secs)
{
	const char *q = *p;
	int sign, h, m = 0, s = 0;

	if (q == end || (*q != '+' && *q != '-'))
		return false;
	sign = *q++ == '-' ? -1 : 1;
	if (!fixed_digits(&q, end, 2, &h))
		return false;
	if (q < end && *q == ':') {
		q++;
		if (!fixed_digits(&q, end, 2, &m))
			return false;
		if (q < end && *q == ':') {
			q++;
			if (!fixed_digits(&q, end, 2, &s))
				return false;
		}
	}
	if (h > 15 || m > 59 || s > 59)
		return false;
	*p = q;
	*secs = sign * ((int64_t)h * 3600 + m * 60 + s);
	return true;
}

static bool enc_timestamp(struct cns_buf *b, const char *s, size_t n,
			  bool with_tz)
{
	const char *p = s, *end = s + n;
	int64_t y, astro, us, off = 0;
	int mo, d, hh, mi, ss, frac = 0;
	bool bc;

	if (same(s, n, "infinity")) {
		add64(b, (uint64_t)INT64_MAX);
		return true;
	}
	if (same(s, n, "-infinity")) {
		add64(b, (uint64_t)INT64_MIN);
		return true;
	}
	if (!parse_ymd(&p, end, &y, &mo, &d))
		return false;
	if (p == end || (*p != ' ' && *p != 'T'))
		return false;
	p++;
	if (!fixed_digits(&p, end, 2, &hh) || p == end || *p++ != ':' ||
	    !fixed_digits(&p, end, 2, &mi) || p == end || *p++ != ':' ||
	    !fixed_digits(&p, end, 2, &ss))
		return false;
	if (p < end && *p == '.') {
		int nd = 0;

		p++;
		while (p < end && is_digit(*p) && nd < 7) {
			frac = frac * 10 + (*p - '0');
			p++;
			nd++;
		}
		/* More than microseconds: the server rounds a double; that
		 * is its business. */
		if (nd == 0 || nd > 6)
			return false;
		for (; nd < 6; nd++)
			frac *= 10;
	}
	if (hh > 23 || mi > 59 || ss > 59)
		return false;
	if (with_tz && !parse_offset(&p, end, &off))
		return false;
	bc = eat_bc(&p, end);
	if (p != end || !valid_date(y, bc, mo, d, &astro))
		return false;
	us = (date2j(astro, mo, d) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY +
	     (((int64_t)hh * 60 + mi) * 60 + ss) * INT64_C(1000000) + frac -
	     off * INT64_C(1000000);
	if (us < MIN_TIMESTAMP || us >= END_TIMESTAMP)
		return false;
	add64(b, (uint64_t)us);
	return true;
}

/* ---- numeric ---- */

static bool enc_numeric(struct cns_buf *b, const char *s, size_t n)
{
	const char *p = s, *end = s + n, *digits, *ip, *fp = NULL;
	size_t il = 0, fl = 0, pad, ngroups, first, last;
	uint16_t sign = NUMERIC_POS, groups[NUMERIC_MAX_TEXT_DIGITS / 4 + 3];
	int weight;

	if (same(s, n, "NaN") || same(s, n, "Infinity") ||
	    same(s, n, "-Infinity")) {
		add16(b, 0);
		add16(b, 0);
		add16(b, s[0] == 'N'   ? NUMERIC_NAN
			 : s[0] == 'I' ? NUMERIC_PINF
				       : NUMERIC_NINF);
		add16(b, 0);
		return true;
	}
	if (p < end && (*p == '+' || *p == '-'))
		sign = *p++ == '-' ? NUMERIC_NEG : NUMERIC_POS;
	digits = p;
	while (p < end && *p == '0')
		p++;
	ip = p;
	while (p < end && is_digit(*p))
		p++;
	il = (size_t)(p - ip);
	if (p < end && *p == '.') {
		fp = ++p;
		while (p < end && is_digit(*p))
			p++;
		fl = (size_t)(p - fp);
	}
	/* Some digit, a leading zero counting: "0", "0.", ".5", "5." */
	if (p != end || (ip + il == digits && fl == 0))
		return false;
	if (il + fl > NUMERIC_MAX_TEXT_DIGITS)
		return false;
	/* Base-10000 digits aligned on the decimal point: the integer part
	 * padded on the left, the fraction on the right. */
	pad = (4 - il % 4) % 4;
	ngroups = (il + pad) / 4 + (fl + 3) / 4;
	weight = (int)((il + pad) / 4) - 1;
	for (size_t g = 0; g < ngroups; g++) {
		uint16_t v = 0;

		for (size_t k = 0; k < 4; k++) {
			/* position g*4+k in the padded digit string */
			size_t pos = g * 4 + k;
			int digit = 0;

			if (pos >= pad && pos < pad + il)
				digit = ip[pos - pad] - '0';
			else if (pos >= pad + il && pos - pad - il < fl)
				digit = fp[pos - pad - il] - '0';
			v = (uint16_t)(v * 10 + digit);
		}
		groups[g] = v;
	}
	first = 0;
	while (first < ngroups && groups[first] == 0) {
		first++;
		weight--;
	}
	last = ngroups;
	while (last > first && groups[last - 1] == 0)
		last--;
	if (first == last) {
		weight = 0;
		sign = NUMERIC_POS;
	}
	add16(b, (uint16_t)(last - first));
	add16(b, (uint16_t)(int16_t)weight);
	add16(b, sign);
	add16(b, (uint16_t)fl);
	for (size_t g = first; g < last; g++)
		add16(b, groups[g]);
	return true;
}

/* ---- rows ---- */

bool cns_pgbin_value(struct cns_buf *b, enum cns_pgbin_kind kind, const char *s,
		     size_t n)
{
	int64_t v;

	switch (kind) {
	case CNS_PGBIN_NONE: return false;
	case CNS_PGBIN_INT2:
		if (!parse_int(s, n, INT16_MIN, INT16_MAX, &v))
			return false;
		add16(b, (uint16_t)(int16_t)v);
		return true;
	case CNS_PGBIN_INT4:
		if (!parse_int(s, n, INT32_MIN, INT32_MAX, &v))
			return false;
		add32(b, (uint32_t)(int32_t)v);
		return true;
	case CNS_PGBIN_INT8:
		if (!parse_int(s, n, INT64_MIN, INT64_MAX, &v))
			return false;
		add64(b, (uint64_t)v);
		return true;
	case CNS_PGBIN_FLOAT4: return enc_float(b, s, n, true);
	case CNS_PGBIN_FLOAT8: return enc_float(b, s, n, false);
	case CNS_PGBIN_BOOL: return enc_bool(b, s, n);
	case CNS_PGBIN_TEXT:
	case CNS_PGBIN_JSON: cns_buf_add(b, s, n); return true;
	case CNS_PGBIN_JSONB:
		cns_buf_addc(b, 1);
		cns_buf_add(b, s, n);
		return true;
	case CNS_PGBIN_BYTEA: return enc_bytea(b, s, n);
	case CNS_PGBIN_DATE: return enc_date(b, s, n);
	case CNS_PGBIN_TIMESTAMP: return enc_timestamp(b, s, n, false);
	case CNS_PGBIN_TIMESTAMPTZ: return enc_timestamp(b, s, n, true);
	case CNS_PGBIN_NUMERIC: return enc_numeric(b, s, n);
	case CNS_PGBIN_UUID: return enc_uuid(b, s, n);
	}
	return false;
}

bool cns_pgbin_row(struct cns_buf *out, const struct cns_cell *cells,
		   const enum cns_pgbin_kind *kinds, int ncols,
		   const int64_t *seq)
{
	size_t start = out->len;

	add16(out, (uint16_t)(ncols + (seq ? 1 : 0)));
	for (int i = 0; i < ncols; i++) {
		size_t at;

		if (cells[i].null) {
			add32(out, 0xFFFFFFFFu);
			continue;
		}
		at = out->len;
		add32(out, 0);
		if (!cns_pgbin_value(out, kinds[i], cells[i].data,
				     cells[i].len)) {
			out->len = start;
			out->data[out->len] = '\0';
			return false;
		}
		put32(out->data + at, (uint32_t)(out->len - at - 4));
	}
	if (seq) {
		add32(out, 8);
		add64(out, (uint64_t)*seq);
	}
	out->data[out->len] = '\0';
	return true;
}
