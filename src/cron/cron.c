/*
 * cron.c - cron expressions: parsing into cronie's representation and the
 * next-fire arithmetic the scheduler, `consolidate next` and the tests all
 * share.
 *
 * The grammar and the day rule are cronie's (src/entry.c, src/cron.c):
 * each field is a list of "*", "N", "N-M", each optionally "/STEP"; names
 * (jan, mon, any case) in the month and day-of-week fields; 0 and 7 are
 * both Sunday; a step counts within its field ("*\/35" minutes is :00 and
 * :35).  Day-of-month and day-of-week combine with OR only when neither
 * field starts with "*", otherwise with AND.  Our one extension is an
 * optional leading seconds field.  What cronie rejects ("0/15", "?", "L",
 * "W", "#") we reject too, with a hint; stray text cronie would skip over
 * ("*x") is an error here.
 *
 * Next fire: the zone's offset is constant between two changes, so the
 * search walks those segments, each a plain calendar search on local
 * readings.  Around a change it applies cronie's DST rules: fixed-time jobs
 * skipped by a jump forward run once at the jump; fixed-time jobs do not
 * run again while a repeated hour replays readings already seen; wildcard
 * jobs simply follow the wall clock.
 */
#include "consolidate/cron.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "consolidate/civil.h"

struct field_spec {
	const char *name;
	int low, high;
	const char *const *names; /* names[i] is value i + name_base */
	int nnames;
	int name_base;
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr",
					   "may", "jun", "jul", "aug",
					   "sep", "oct", "nov", "dec" };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed",
					 "thu", "fri", "sat" };

static const struct field_spec specs[6] = {
	[CNS_CRON_SECOND] = { "second", 0, 59, NULL, 0, 0 },
	[CNS_CRON_MINUTE] = { "minute", 0, 59, NULL, 0, 0 },
	[CNS_CRON_HOUR] = { "hour", 0, 23, NULL, 0, 0 },
	[CNS_CRON_DOM] = { "day-of-month", 1, 31, NULL, 0, 0 },
	[CNS_CRON_MONTH] = { "month", 1, 12, month_names, 12, 1 },
	[CNS_CRON_DOW] = { "day-of-week", 0, 7, dow_names, 7, 0 },
};

/* What a field parser needs to say where a problem is. */
struct pctx {
	const char *expr;
	const struct field_spec *spec;
	const char *ftext; /* the field, not NUL-terminated */
	size_t flen;
	struct cns_error *err;
};

/* Sets "invalid schedule "EXPR": FIELD "TEXT"[: "SUB"] PHRASE", naming the
 * part of the field the phrase is about unless it is the whole field. */
static int field_error(struct pctx *p, const char *sub, size_t sublen,
		       const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int field_error(struct pctx *p, const char *sub, size_t sublen,
		       const char *fmt, ...)
{
	char phrase[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(phrase, sizeof(phrase), fmt, ap);
	va_end(ap);
	if (sub && !(sub == p->ftext && sublen == p->flen))
		return cns_error_set(p->err, CNS_E_CONFIG,
				     "invalid schedule \"%s\": %s \"%.*s\": "
				     "\"%.*s\" %s",
				     p->expr, p->spec->name, (int)p->flen,
				     p->ftext, (int)sublen, sub, phrase);
	return cns_error_set(p->err, CNS_E_CONFIG,
			     "invalid schedule \"%s\": %s \"%.*s\" %s", p->expr,
			     p->spec->name, (int)p->flen, p->ftext, phrase);
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool all_alpha(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalpha((unsigned char)s[i]))
			return false;
	return true;
}

/* Digits to a number; anything past 9 digits is "big", which is out of
 * every field's range anyway. */
static long digits_value(const char *s, size_t n)
{
	long v = 0;

	if (n > 9)
		return 1000000000L;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Quartz and friends write "L" (last), "15W" (nearest weekday) and "5L"
 * (last Friday); cronie has none of them.  Says which one a token is. */
static const char *quartz_letter(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && isdigit((unsigned char)s[i]))
		i++;
	if (n - i == 2 && tolower((unsigned char)s[i]) == 'l' &&
	    tolower((unsigned char)s[i + 1]) == 'w')
		return "LW";
	if (n - i != 1)
		return NULL;
	switch (tolower((unsigned char)s[i])) {
	case 'l': return "L";
	case 'w': return "W";
	}
	return NULL;
}

static int quartz_error(struct pctx *p, const char *tok, size_t n,
			const char *letter)
{
	if (strcmp(letter, "W") == 0 || strcmp(letter, "LW") == 0) {
		field_error(p, tok, n,
			    "uses \"W\" (nearest weekday), which cron does "
			    "not support");
		cns_error_hint(p->err, "cron cannot move a run to the nearest "
				       "weekday; list the days instead");
		return -1;
	}
	if (p->spec == &specs[CNS_CRON_DOW]) {
		field_error(p, tok, n,
			    "uses \"L\" (last weekday of the month), which "
			    "cron does not support");
		cns_error_hint(p->err, "cron cannot name the last weekday of "
				       "a month; schedule the weekday and let "
				       "the job check the date");
		return -1;
	}
	field_error(p, tok, n,
		    "uses \"L\" (last day of the month), which cron does not "
		    "support");
	cns_error_hint(p->err, "cron cannot name the last day of a month; "
			       "schedule days 28-31 and let the job check the "
			       "date");
	return -1;
}

/* The closest name for an unknown one: "january" -> "jan", "mnday" ->
 * "mon".  NULL when nothing is close. */
static const char *suggest_name(const struct field_spec *spec, const char *s,
				size_t n)
{
	char tok[64];
	int best = 3, besti = -1;

	if (n >= sizeof(tok))
		return NULL;
	for (size_t i = 0; i < n; i++)
		tok[i] = (char)tolower((unsigned char)s[i]);
	tok[n] = '\0';
	for (int i = 0; i < spec->nnames; i++)
		if (n > 3 && strncmp(tok, spec->names[i], 3) == 0)
			return spec->names[i];
	for (int i = 0; i < spec->nnames; i++) {
		int d = cns_edit_distance(tok, spec->names[i]);

		if (d < best) {
			best = d;
			besti = i;
		}
	}
	return besti >= 0 ? spec->names[besti] : NULL;
}

/* Parses one value (number, or name where the field has names). */
static int parse_value(struct pctx *p, const char *tok, size_t n, int *out)
{
	const struct field_spec *spec = p->spec;
	const char *letter;

	if (n == 0)
		return -1; /* callers report the missing part */
	if (all_digits(tok, n)) {
		long v = digits_value(tok, n);

		if (v < spec->low || v > spec->high)
			return field_error(p, tok, n, "is out of range %d-%d",
					   spec->low, spec->high);
		*out = (int)v;
		return 0;
	}
	if ((spec == &specs[CNS_CRON_DOM] || spec == &specs[CNS_CRON_DOW]) &&
	    (letter = quartz_letter(tok, n)) != NULL)
		return quartz_error(p, tok, n, letter);
	if (spec->names && all_alpha(tok, n)) {
		const char *hint;

		for (int i = 0; i < spec->nnames; i++)
			if (n == 3 &&
			    strncasecmp(tok, spec->names[i], 3) == 0) {
				*out = i + spec->name_base;
				return 0;
			}
		field_error(p, tok, n, "is not a %s name",
			    spec == &specs[CNS_CRON_MONTH] ? "month" : "day");
		hint = suggest_name(spec, tok, n);
		if (hint)
			cns_error_hint(p->err, "did you mean \"%s\"?", hint);
		else
			cns_error_hint(p->err,
				       "names are the first three "
				       "letters: %s",
				       spec == &specs[CNS_CRON_MONTH]
					       ? "jan, feb ... dec"
					       : "sun, mon ... sat");
		return -1;
	}
	return field_error(p, tok, n, "is not a number");
}

static void set_bits(uint64_t *bits, int lo, int hi, int step)
{
	for (int i = lo; i <= hi; i += step)
		*bits |= (uint64_t)1 << i;
}

/* One list item: "*", "N", "N-M", "*\/S", "N-M/S". */
/* The last value a step may reach: Saturday for days of the week, where 7
 * repeats Sunday. */
static int high_item(const struct field_spec *spec)
{
	return spec == &specs[CNS_CRON_DOW] ? 6 : spec->high;
}

static int parse_item(struct pctx *p, const char *e, size_t n, uint64_t *bits)
{
	const struct field_spec *spec = p->spec;
	const char *slash = memchr(e, '/', n);
	size_t blen = slash ? (size_t)(slash - e) : n;
	long step = 1;
	int lo, hi;
	const char *c;

	if ((c = memchr(e, '?', n)) != NULL) {
		field_error(p, e, n, "is not cron syntax");
		cns_error_hint(p->err, "cron has no \"?\"; use \"*\"");
		return -1;
	}
	if (memchr(e, '#', n)) {
		field_error(p, e, n,
			    "uses \"#\" (nth weekday of the month), which "
			    "cron does not support");
		cns_error_hint(p->err, "cron cannot name the nth weekday of a "
				       "month; schedule the weekday and let "
				       "the job check the date");
		return -1;
	}
	if (memchr(e, '~', n)) {
		field_error(p, e, n,
			    "uses \"~\" (a random value), which is not "
			    "supported");
		cns_error_hint(p->err, "use \"jitter =\" in the job file to "
				       "spread runs");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)e[i];

		if (!isalnum(ch) && ch != '*' && ch != '-' && ch != '/')
			return field_error(p, e, n,
					   "has an unexpected character "
					   "\"%c\"",
					   ch);
	}

	if (slash) {
		const char *s = slash + 1;
		size_t slen = n - blen - 1;

		if (memchr(s, '/', slen))
			return field_error(p, e, n, "has more than one \"/\"");
		if (slen == 0)
			return field_error(p, e, n, "has no step after \"/\"");
		if (!all_digits(s, slen))
			return field_error(p, e, n,
					   "has a step \"%.*s\" that is not a "
					   "number",
					   (int)slen, s);
		step = digits_value(s, slen);
		if (step == 0) {
			field_error(p, e, n, "has a step of 0");
			cns_error_hint(p->err, "a step must be at least 1");
			return -1;
		}
		if (step > 1000)
			step = 1000; /* only the first value is reached */
	}

	if (blen == 1 && e[0] == '*') {
		lo = spec->low;
		hi = spec->high;
	} else if (blen > 0 && e[0] == '*') {
		if (memchr(e, '-', blen)) {
			field_error(p, e, n, "is not a valid range");
			cns_error_hint(p->err, "\"*\" stands alone or before a "
					       "step, as in \"*/5\"");
			return -1;
		}
		return field_error(p, e, n, "has unexpected text after \"*\"");
	} else {
		const char *dash = memchr(e, '-', blen);

		if (!dash) {
			if (blen == 0)
				return field_error(p, e, n,
						   "has a step but nothing to "
						   "step through");
			if (parse_value(p, e, blen, &lo) < 0)
				return -1;
			if (slash) {
				/* cronie rejects "0/15"; Quartz users mean
				 * "from 0, every 15". */
				field_error(p, e, n, "has a step but no range");
				if (lo == spec->low)
					cns_error_hint(p->err,
						       "did you mean "
						       "\"*/%.*s\"?",
						       (int)(n - blen - 1),
						       slash + 1);
				else
					cns_error_hint(p->err,
						       "did you mean "
						       "\"%d-%d/%.*s\"?",
						       lo, high_item(spec),
						       (int)(n - blen - 1),
						       slash + 1);
				return -1;
			}
			hi = lo;
		} else {
			const char *b = dash + 1;
			size_t alen = (size_t)(dash - e);
			size_t bl = blen - alen - 1;

			if (alen == 0 || bl == 0 || memchr(b, '-', bl))
				return field_error(p, e, slash ? blen : n,
						   "is not a valid range");
			if (parse_value(p, e, alen, &lo) < 0 ||
			    parse_value(p, b, bl, &hi) < 0)
				return -1;
			/* Sunday is 0 and 7: a day-of-week range that
			 * ends in Sunday ("wed-sun", "6-0") ends in 7, as
			 * cronie reads it.  "sun-sun" stays Sunday. */
			if (spec == &specs[CNS_CRON_DOW] && hi == 0 && lo > 0)
				hi = 7;
			if (lo > hi) {
				field_error(p, e, blen, "is a backward range");
				cns_error_hint(p->err,
					       "a range runs from low to "
					       "high; for one that wraps, "
					       "write two: \"%d-%d,%d-%d\"",
					       lo, spec->high, spec->low, hi);
				return -1;
			}
		}
	}
	set_bits(bits, lo, hi, (int)step);
	return 0;
}

static int parse_field(struct pctx *p, uint64_t *bits)
{
	const char *s = p->ftext, *end = p->ftext + p->flen;

	*bits = 0;
	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *e = comma ? comma : end;

		if (e == s)
			return field_error(p, NULL, 0,
					   "has an empty list item");
		if (parse_item(p, s, (size_t)(e - s), bits) < 0)
			return -1;
		if (!comma)
			break;
		s = comma + 1;
	}
	if (p->spec == &specs[CNS_CRON_DOW] && (*bits & (1u << 7))) {
		*bits &= ~(uint64_t)(1u << 7);
		*bits |= 1; /* 7 is Sunday too */
	}
	return 0;
}

static const struct {
	const char *name;
	const char *fields; /* minute hour dom month dow */
	unsigned flags;
} macros[] = {
	/* Flags as cronie sets them: @hourly follows the wall clock,
	 * @weekly, @monthly and @yearly combine the days with AND. */
	{ "@yearly", "0 0 1 1 *", CNS_CRON_DOW_STAR },
	{ "@annually", "0 0 1 1 *", CNS_CRON_DOW_STAR },
	{ "@monthly", "0 0 1 * *", CNS_CRON_DOW_STAR },
	{ "@weekly", "0 0 * * 0", CNS_CRON_DOW_STAR },
	{ "@daily", "0 0 * * *", 0 },
	{ "@midnight", "0 0 * * *", 0 },
	{ "@hourly", "0 * * * *", CNS_CRON_HR_STAR },
};

static int parse_macro(struct cns_cron *c, const char *expr, const char *tok,
		       size_t n, const char *rest, struct cns_error *err)
{
	char name[64];

	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	for (size_t i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)tok[i]);
	name[n] = '\0';
	if (strcmp(name, "@reboot") == 0) {
		cns_error_set(err, CNS_E_CONFIG,
			      "invalid schedule \"%s\": \"@reboot\" is not "
			      "supported",
			      expr);
		cns_error_hint(err, "consolidate schedules timed runs only; "
				    "start the job from a boot-time unit "
				    "instead");
		return -1;
	}
	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
		struct cns_cron tmp;

		if (strcmp(name, macros[i].name) != 0)
			continue;
		if (*rest) {
			cns_error_set(err, CNS_E_CONFIG,
				      "invalid schedule \"%s\": unexpected "
				      "\"%s\" after \"%s\"",
				      expr, rest, macros[i].name);
			cns_error_hint(err, "a macro stands alone");
			return -1;
		}
		if (cns_cron_parse(&tmp, macros[i].fields, err) < 0)
			return -1;
		*c = tmp;
		c->flags = macros[i].flags | CNS_CRON_MACRO;
		snprintf(c->text, sizeof(c->text), "%s", macros[i].name);
		return 0;
	}
	cns_error_set(err, CNS_E_CONFIG,
		      "invalid schedule \"%s\": unknown macro \"%.*s\"", expr,
		      (int)n, tok);
	{
		int best = 3;
		const char *hint = NULL;

		for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]);
		     i++) {
			int d = cns_edit_distance(name, macros[i].name);

			if (d < best) {
				best = d;
				hint = macros[i].name;
			}
		}
		if (hint)
			cns_error_hint(err, "did you mean \"%s\"?", hint);
		else
			cns_error_hint(err, "the macros are @yearly, "
					    "@annually, @monthly, @weekly, "
					    "@daily, @midnight and @hourly");
	}
	return -1;
}

/* Under the AND rule a schedule whose days never fall in its months (day
 * 30 of February) never fires; say so now rather than at the first
 * fruitless search. */
static int check_days_exist(const struct cns_cron *c, const char *expr,
			    const char *domtext, const char *montext,
			    struct cns_error *err)
{
	static const int maxdim[13] = { 0,  31, 29, 31, 30, 31, 30,
					31, 31, 30, 31, 30, 31 };

	if (!(c->flags & (CNS_CRON_DOM_STAR | CNS_CRON_DOW_STAR)))
		return 0; /* OR: any weekday of any month will do */
	for (int m = 1; m <= 12; m++) {
		uint32_t days;

		if (!(c->month & (1u << m)))
			continue;
		days = maxdim[m] == 31 ? 0xfffffffeu
				       : (((uint32_t)1 << (maxdim[m] + 1)) - 2);
		if (c->dom & days)
			return 0;
	}
	return cns_error_set(err, CNS_E_CONFIG,
			     "invalid schedule \"%s\": day-of-month \"%s\" "
			     "never occurs in month \"%s\"",
			     expr, domtext, montext);
}

int cns_cron_parse(struct cns_cron *c, const char *expr, struct cns_error *err)
{
	const char *tok[8];
	size_t len[8];
	int n = 0;
	const char *s = expr;
	size_t total = strlen(expr);
	int first;
	uint64_t bits[6];
	char domtext[CNS_CRON_MAX + 1], montext[CNS_CRON_MAX + 1];

	memset(c, 0, sizeof(*c));
	if (total > CNS_CRON_MAX)
		return cns_error_set(err, CNS_E_CONFIG,
				     "invalid schedule \"%.40s...\": longer "
				     "than %d characters",
				     expr, CNS_CRON_MAX);
	while (*s) {
		const char *b;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		b = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		if (n < 8) {
			tok[n] = b;
			len[n] = (size_t)(s - b);
		}
		n++;
	}
	if (n == 0)
		return cns_error_set(err, CNS_E_CONFIG,
				     "invalid schedule \"%s\": it is empty",
				     expr);
	if (tok[0][0] == '@') {
		const char *rest = tok[0] + len[0];

		while (*rest == ' ' || *rest == '\t')
			rest++;
		if (n > 1) {
			/* trailing blanks are not "rest" */
			char trimmed[CNS_CRON_MAX + 1];
			size_t rl = strlen(rest);

			while (rl &&
			       (rest[rl - 1] == ' ' || rest[rl - 1] == '\t'))
				rl--;
			snprintf(trimmed, sizeof(trimmed), "%.*s", (int)rl,
				 rest);
			return parse_macro(c, expr, tok[0], len[0], trimmed,
					   err);
		}
		return parse_macro(c, expr, tok[0], len[0], "", err);
	}
	if (n != 5 && n != 6) {
		cns_error_set(err, CNS_E_CONFIG,
			      "invalid schedule \"%s\": expected 5 fields "
			      "(minute hour day-of-month month day-of-week) "
			      "or 6 with seconds first, found %d",
			      expr, n);
		if (n == 7)
			cns_error_hint(err, "a year field (Quartz) is not "
					    "supported");
		else if (n > 6)
			cns_error_hint(err, "a job file's schedule holds the "
					    "time fields only, no command");
		return -1;
	}

	first = n == 6 ? CNS_CRON_SECOND : CNS_CRON_MINUTE;
	bits[CNS_CRON_SECOND] = 1;
	for (int i = 0; i < n; i++) {
		struct pctx p = { expr, &specs[first + i], tok[i], len[i],
				  err };

		if (parse_field(&p, &bits[first + i]) < 0)
			return -1;
	}
	c->second = bits[CNS_CRON_SECOND];
	c->minute = bits[CNS_CRON_MINUTE];
	c->hour = (uint32_t)bits[CNS_CRON_HOUR];
	c->dom = (uint32_t)bits[CNS_CRON_DOM];
	c->month = (uint16_t)bits[CNS_CRON_MONTH];
	c->dow = (uint8_t)bits[CNS_CRON_DOW];
	if (n == 6)
		c->flags |= CNS_CRON_SECONDS;
	if (tok[CNS_CRON_MINUTE - first][0] == '*')
		c->flags |= CNS_CRON_MIN_STAR;
	if (tok[CNS_CRON_HOUR - first][0] == '*')
		c->flags |= CNS_CRON_HR_STAR;
	if (tok[CNS_CRON_DOM - first][0] == '*')
		c->flags |= CNS_CRON_DOM_STAR;
	if (tok[CNS_CRON_DOW - first][0] == '*')
		c->flags |= CNS_CRON_DOW_STAR;

	{
		size_t off = 0;

		for (int i = 0; i < n; i++)
			off += (size_t)snprintf(c->text + off,
						sizeof(c->text) - off, "%s%.*s",
						i ? " " : "", (int)len[i],
						tok[i]);
	}
	snprintf(domtext, sizeof(domtext), "%.*s",
		 (int)len[CNS_CRON_DOM - first], tok[CNS_CRON_DOM - first]);
	snprintf(montext, sizeof(montext), "%.*s",
		 (int)len[CNS_CRON_MONTH - first], tok[CNS_CRON_MONTH - first]);
	return check_days_exist(c, expr, domtext, montext, err);
}

bool cns_cron_is_wildcard(const struct cns_cron *c)
{
	return (c->flags & (CNS_CRON_MIN_STAR | CNS_CRON_HR_STAR)) != 0;
}

char *cns_cron_field_text(const struct cns_cron *c, enum cns_cron_field f,
			  char *buf, size_t size)
{
	int want, i = 0;
	const char *s = c->text;

	if (size)
		buf[0] = '\0';
	if (c->flags & CNS_CRON_MACRO)
		return buf;
	want = (c->flags & CNS_CRON_SECONDS) ? (int)f : (int)f - 1;
	if (want < 0)
		return buf;
	while (*s) {
		const char *e = strchr(s, ' ');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (i == want) {
			snprintf(buf, size, "%.*s", (int)n, s);
			return buf;
		}
		if (!e)
			break;
		s = e + 1;
		i++;
	}
	return buf;
}

/* ---- matching and searching ---- */

static bool day_matches(const struct cns_cron *c, int day, int wday)
{
	bool dom = (c->dom >> day) & 1;
	bool dow = (c->dow >> wday) & 1;

	if (c->flags & (CNS_CRON_DOM_STAR | CNS_CRON_DOW_STAR))
		return dom && dow;
	return dom || dow;
}

bool cns_cron_matches(const struct cns_cron *c, int64_t local)
{
	struct civil cv;
	int64_t days = floor_div(local, 86400);

	civil_from_seconds(local, &cv);
	return ((c->second >> cv.second) & 1) &&
	       ((c->minute >> cv.minute) & 1) && ((c->hour >> cv.hour) & 1) &&
	       ((c->month >> cv.month) & 1) &&
	       day_matches(c, cv.day, weekday_from_days(days));
}

/* Lowest set bit >= from, or -1. */
static int next_bit(uint64_t bits, int from)
{
	if (from > 63)
		return -1;
	bits >>= from;
	if (!bits)
		return -1;
	return from + __builtin_ctzll(bits);
}

/* Finds the first local reading m in [lo, hi) that matches.  Moves field
 * by field (month, day, hour, minute, second) instead of second by second,
 * so a year is a few hundred steps at worst. */
static bool match_local(const struct cns_cron *c, int64_t lo, int64_t hi,
			int64_t *out)
{
	struct civil cv;
	int64_t y;
	int mo, d, h, mi, s;

	if (lo >= hi)
		return false;
	civil_from_seconds(lo, &cv);
	y = cv.year;
	mo = cv.month;
	d = cv.day;
	h = cv.hour;
	mi = cv.minute;
	s = cv.second;
	for (;;) {
		int64_t day, t;
		int nb;

		if (mo > 12) {
			y++;
			mo = 1;
		}
		if (!((c->month >> mo) & 1)) {
			nb = next_bit(c->month, mo + 1);
			if (nb < 0) {
				y++;
				nb = next_bit(c->month, 1);
			}
			mo = nb;
			d = 1;
			h = mi = s = 0;
		}
		if (d > days_in_month(y, mo)) {
			mo++;
			d = 1;
			h = mi = s = 0;
			continue;
		}
		day = days_from_civil(y, mo, d);
		if (day * 86400 >= hi)
			return false;
		if (!day_matches(c, d, weekday_from_days(day))) {
			d++;
			h = mi = s = 0;
			continue;
		}
		nb = next_bit(c->hour, h);
		if (nb < 0) {
			d++;
			h = mi = s = 0;
			continue;
		}
		if (nb != h) {
			h = nb;
			mi = s = 0;
		}
		nb = next_bit(c->minute, mi);
		if (nb < 0) {
			h++;
			mi = s = 0;
			continue;
		}
		if (nb != mi) {
			mi = nb;
			s = 0;
		}
		nb = next_bit(c->second, s);
		if (nb < 0) {
			mi++;
			s = 0;
			continue;
		}
		s = nb;
		t = day * 86400 + h * 3600 + mi * 60 + s;
		if (t >= hi)
			return false;
		*out = t;
		return true;
	}
}

int cns_cron_next(const struct cns_cron *c, const struct cns_tz *tz,
		  int64_t after, int64_t *next, struct cns_error *err)
{
	const int64_t back = 2 * 86400;
	bool fixed = !cns_cron_is_wildcard(c);
	int64_t t0, limit, u, maxlocal = INT64_MIN, m;
	int32_t o;

	if (after < CIVIL_MIN_S + 2 * back ||
	    after > CIVIL_MAX_S - CNS_CRON_HORIZON_S - 2 * back)
		return cns_error_set(err, CNS_E_USAGE,
				     "time %" PRId64 " is out of the range "
				     "the scheduler supports (years 1-9000)",
				     after);
	t0 = after + 1;
	limit = t0 + CNS_CRON_HORIZON_S;

	if (!tz) {
		if (match_local(c, t0, limit, &m)) {
			*next = m;
			return 0;
		}
		goto none;
	}

	/* Start two days early so that a repeated hour just before t0 is
	 * known: fixed-time jobs must not fire again in its second copy. */
	u = t0 - back;
	o = cns_tz_offset(tz, u);
	while (u < limit) {
		int64_t b = cns_tz_next_change(tz, u);
		int64_t seg_end = b < limit ? b : limit;
		int64_t start = u > t0 ? u : t0;
		int32_t o2;

		if (start < seg_end) {
			int64_t lo = start + o;

			if (fixed && lo < maxlocal)
				lo = maxlocal;
			if (match_local(c, lo, seg_end + o, &m)) {
				*next = m - o;
				return 0;
			}
		}
		if (b >= limit)
			break;
		o2 = cns_tz_offset(tz, b);
		/* Jump forward: readings [b + o, b + o2) never happen; a
		 * fixed-time job due in them runs once, at the jump. */
		if (fixed && o2 > o && b >= t0 &&
		    match_local(c, b + o, b + o2, &m)) {
			*next = b;
			return 0;
		}
		if (b + o > maxlocal)
			maxlocal = b + o;
		u = b;
		o = o2;
	}
none : {
	char when[40];

	cns_time_format(after, tz, when, sizeof(when));
	return cns_error_set(err, CNS_E_CONFIG,
			     "schedule \"%s\" does not fire in the 8 "
			     "years after %s",
			     c->text, when);
}
}
