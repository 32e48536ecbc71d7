/*
 * tz.h - time zones read from the system's TZif files: UTC <-> local
 * conversion without touching the process's TZ, so it is safe in
 * threads; ISO 8601 formatting and parsing.
 *
 * Times are int64_t seconds since the Unix epoch (UTC) unless a name says
 * otherwise; "local" seconds are the wall-clock reading of a zone counted
 * as if it were UTC.
 */
#ifndef CONSOLIDATE_TZ_H
#define CONSOLIDATE_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "consolidate/error.h"

struct cns_tz;

/* ---- time zones ---- */

/* Folder of the tz database; $TZDIR overrides it. */
#define CNS_TZ_DIR "/usr/share/zoneinfo"

/* Loads zone `name` ("Europe/London", "UTC") from the tz database, or the
 * host's zone when name is NULL or empty ($TZ, else /etc/localtime, else
 * UTC).  On success *out must be freed with cns_tz_free().  On error sets
 * err (CNS_E_CONFIG for an unknown name, with a suggestion when one is
 * close) and returns -1.  A loaded zone is immutable: share it between
 * threads freely. */
int cns_tz_load(const char *name, struct cns_tz **out, struct cns_error *err);
/* Builds a zone from a POSIX TZ rule such as "EST5EDT,M3.2.0,M11.1.0". */
int cns_tz_from_rule(const char *rule, struct cns_tz **out,
		     struct cns_error *err);
void cns_tz_free(struct cns_tz *tz);

/* The zone's name as given (or as found for the host's zone). */
const char *cns_tz_name(const struct cns_tz *tz);

/* Offset from UTC in seconds (east positive) in effect at instant t. */
int32_t cns_tz_offset(const struct cns_tz *tz, int64_t t);

/* The first instant c > t at which the offset changes (offset(c) !=
 * offset(c - 1)), or INT64_MAX when it never changes again. */
int64_t cns_tz_next_change(const struct cns_tz *tz, int64_t t);

/* Converts a local reading to UTC.  Returns 0 when the reading exists
 * once, 1 when it exists twice (the earlier instant is chosen), 2 when it
 * falls in a gap (converted with the offset before the gap, so 01:30 in a
 * 01:00->02:00 jump becomes 02:30 after it). */
int cns_tz_local_to_utc(const struct cns_tz *tz, int64_t local, int64_t *utc);

/* Formats t as ISO 8601 with the zone's offset ("2026-03-29T02:00:00+01:00";
 * an offset with seconds is written +hh:mm:ss), or in UTC with "Z" when tz
 * is NULL.  Returns buf; size 32 is always enough. */
char *cns_time_format(int64_t t, const struct cns_tz *tz, char *buf,
		      size_t size);
/* The same in UTC with milliseconds, for log lines
 * ("2026-03-29T01:00:00.123Z"). */
char *cns_time_format_ms(int64_t ms, char *buf, size_t size);

/* Parses ISO 8601: "2026-03-29T00:30:00Z", "...+01:00", "...+0100",
 * fractions of a second (dropped), a space instead of "T", a date alone
 * (midnight).  A time without an offset is read in zone tz (NULL: UTC).
 * On error sets err (CNS_E_USAGE) and returns -1. */
int cns_time_parse(const char *s, const struct cns_tz *tz, int64_t *t,
		   struct cns_error *err);

#endif
