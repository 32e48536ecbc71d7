/*
 * cron.h - cron expressions: parsed into cronie's representation (one
 * bitset per field plus DOM_STAR/DOW_STAR flags), with the next fire time
 * after an instant, in a given time zone, by cronie's rules for the days
 * and for daylight-saving changes; and their text for crontab and
 * systemd.
 *
 * Times are int64_t seconds since the Unix epoch (UTC) unless a name says
 * otherwise; "local" seconds are the wall-clock reading of a zone counted
 * as if it were UTC.
 *
 * DST rules (cronie's, see cron(8)): a job whose minute and hour fields do
 * not start with "*" is a fixed-time job.  When the clock jumps forward
 * over a fixed-time job's local time, the job runs once, at the instant of
 * the jump; when the clock goes back, it does not run again in the
 * repeated hour.  A job with "*" first in its minute or hour field follows
 * the wall clock: it runs at every reading of the clock that matches, so
 * twice in a repeated hour and never in a skipped one.
 */
#ifndef CONSOLIDATE_CRON_H
#define CONSOLIDATE_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consolidate/error.h"
#include "consolidate/tz.h"
#include "consolidate/util.h"

/* ---- cron expressions ---- */

/* Longest accepted expression, in bytes. */
#define CNS_CRON_MAX 255

/* How far ahead cns_cron_next() looks before it gives up (8 years, like
 * other crons' searches). */
#define CNS_CRON_HORIZON_S ((int64_t)8 * 366 * 86400)

enum cns_cron_field {
	CNS_CRON_SECOND,
	CNS_CRON_MINUTE,
	CNS_CRON_HOUR,
	CNS_CRON_DOM,
	CNS_CRON_MONTH,
	CNS_CRON_DOW
};

/* Flags, as cronie names them. */
#define CNS_CRON_DOM_STAR 0x01 /* day-of-month starts with "*" */
#define CNS_CRON_DOW_STAR 0x02 /* day-of-week starts with "*" */
#define CNS_CRON_MIN_STAR 0x04 /* minute starts with "*" */
#define CNS_CRON_HR_STAR 0x08  /* hour starts with "*" */
#define CNS_CRON_SECONDS 0x10  /* written with a leading seconds field */
#define CNS_CRON_MACRO 0x20    /* written as @daily, @hourly ... */

/* A parsed expression.  Bit n of a field is set when the field matches the
 * value n: second and minute 0-59, hour 0-23, dom 1-31, month 1-12, dow 0-6
 * with 0 = Sunday (a 7 in the text sets bit 0).  Without a seconds field,
 * `second` is bit 0 only.  The struct is plain data: copy it freely. */
struct cns_cron {
	uint64_t second;
	uint64_t minute;
	uint32_t hour;
	uint32_t dom;
	uint16_t month;
	uint8_t dow;
	unsigned flags;
	/* The expression as written, blanks squeezed to one space; a macro
	 * in lower case. */
	char text[CNS_CRON_MAX + 1];
};

/* Parses a 5-field expression (minute hour day-of-month month day-of-week),
 * a 6-field one with seconds first, or a macro (@yearly @annually @monthly
 * @weekly @daily @midnight @hourly).  On error sets err (CNS_E_CONFIG) with
 * a message naming the field and the value, often with a hint, and returns
 * -1; *c is then unspecified.  An expression that can never fire (day 30
 * of February) is an error too. */
int cns_cron_parse(struct cns_cron *c, const char *expr, struct cns_error *err);

/* True for a job that follows the wall clock across DST changes: "*" first
 * in its minute or hour field (cronie's MIN_STAR/HR_STAR). */
bool cns_cron_is_wildcard(const struct cns_cron *c);

/* True when the local wall-clock reading `local` (seconds) matches every
 * field, with cronie's day-of-month/day-of-week rule. */
bool cns_cron_matches(const struct cns_cron *c, int64_t local);

/* Finds the first fire time strictly after `after` (UTC seconds) in zone
 * tz (NULL: UTC), following the DST rules above.  Returns 0 and sets
 * *next, or -1 with err set when there is none within CNS_CRON_HORIZON_S
 * or `after` is out of the supported range (years 1-9000). */
int cns_cron_next(const struct cns_cron *c, const struct cns_tz *tz,
		  int64_t after, int64_t *next, struct cns_error *err);

/* Appends to `out` one line (ending in '\n') per trap the expression falls
 * into: the day-of-month/day-of-week rule (`0 16 *\/2 * sat` fires on odd
 * days that are Saturdays, `0 0 1-7 * mon` on days 1-7 and on every
 * Monday), steps that do not divide their field (`*\/7` minutes leave a
 * 4-minute gap at the hour), days that some months lack.  Returns the
 * number of warnings (0: nothing to say).  For `consolidate check`. */
int cns_cron_warnings(const struct cns_cron *c, struct cns_buf *out);

/* Copies the text of one field as written into buf (empty for a macro or
 * an absent seconds field).  Returns buf. */
char *cns_cron_field_text(const struct cns_cron *c, enum cns_cron_field f,
			  char *buf, size_t size);

/* The 5 fields for a crontab line (or the macro).  A seconds field that
 * holds one value s is returned in *delay_s (the caller sleeps that long);
 * more than one second value cannot be expressed: -1 with err set. */
int cns_cron_crontab_text(const struct cns_cron *c, struct cns_buf *out,
			  int *delay_s, struct cns_error *err);

/* Appends the systemd OnCalendar= lines (each ending in '\n') that fire at
 * the same local times, with `zone` appended when not NULL, and to `notes`
 * comment lines ("# ...\n") on what systemd cannot say the same way (the
 * day-of-month/day-of-week OR rule needs two lines; DST handling
 * differs).  Returns the number of OnCalendar lines. */
int cns_cron_oncalendar(const struct cns_cron *c, const char *zone,
			struct cns_buf *out, struct cns_buf *notes);

#endif
