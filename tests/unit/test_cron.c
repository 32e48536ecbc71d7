/*
 * test_cron.c - cron expressions, next-fire arithmetic and time zones.
 *
 * Expected fire times are written as ISO 8601 with the zone's offset, as
 * `consolidate next` prints them, and were worked out by hand from the
 * calendar and the zones' DST dates (London: last Sunday of March and
 * October at 01:00 UTC; New York: second Sunday of March and first Sunday
 * of November at 02:00 local).  Two further checks do not trust this
 * file's author: zone offsets are compared with the C library's over three
 * centuries, and fire times around DST changes with a simulation of
 * cronie's minute loop (its cron.c main loop, case by case).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "consolidate/schedule.h"

/* ---- helpers ---- */

static struct cns_tz *zone(const char *name)
{
	struct cns_error err = { 0 };
	struct cns_tz *tz = NULL;

	if (cns_tz_load(name, &tz, &err) < 0)
		fail_msg("zone %s: %s", name, err.message);
	return tz;
}

static int64_t iso(const char *s)
{
	struct cns_error err = { 0 };
	int64_t t = 0;

	if (cns_time_parse(s, NULL, &t, &err) < 0)
		fail_msg("time %s: %s", s, err.message);
	return t;
}

static void parse_ok(struct cns_cron *c, const char *expr)
{
	struct cns_error err = { 0 };

	if (cns_cron_parse(c, expr, &err) < 0)
		fail_msg("\"%s\": %s", expr, err.message);
}

/* ---- next fire times ---- */

struct next_case {
	const char *expr;
	const char *zone;
	const char *from;
	const char *want[8];
};

static const struct next_case next_cases[] = {
	/* DST in London, fixed time skipped by the jump: runs at the jump
	 * (cronie, cron(8): "run immediately"). */
	{ "30 1 * * *",
	  "Europe/London",
	  "2026-03-28T12:00:00Z",
	  { "2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00",
	    "2026-03-31T01:30:00+01:00" } },
	{ "0 1 * * *",
	  "Europe/London",
	  "2026-03-28T12:00:00Z",
	  { "2026-03-29T02:00:00+01:00", "2026-03-30T01:00:00+01:00" } },
	/* Two skipped times coalesce into one run at the jump. */
	{ "0,30 1 * * *",
	  "Europe/London",
	  "2026-03-28T12:00:00Z",
	  { "2026-03-29T02:00:00+01:00", "2026-03-30T01:00:00+01:00",
	    "2026-03-30T01:30:00+01:00" } },
	/* A skipped time and the first time after the jump: one run. */
	{ "30 1,2 * * *",
	  "Europe/London",
	  "2026-03-28T12:00:00Z",
	  { "2026-03-29T02:00:00+01:00", "2026-03-29T02:30:00+01:00",
	    "2026-03-30T01:30:00+01:00" } },
	{ "0 2 * * *",
	  "Europe/London",
	  "2026-03-28T12:00:00Z",
	  { "2026-03-29T02:00:00+01:00", "2026-03-30T02:00:00+01:00" } },
	/* From just before and exactly at the jump. */
	{ "30 1 * * *",
	  "Europe/London",
	  "2026-03-29T00:59:59Z",
	  { "2026-03-29T02:00:00+01:00" } },
	{ "30 1 * * *",
	  "Europe/London",
	  "2026-03-29T01:00:00Z",
	  { "2026-03-30T01:30:00+01:00" } },
	/* Wildcard jobs follow the wall clock: 01:00 and 01:30 do not
	 * happen. */
	{ "*/30 * * * *",
	  "Europe/London",
	  "2026-03-29T00:00:00Z",
	  { "2026-03-29T00:30:00+00:00", "2026-03-29T02:00:00+01:00",
	    "2026-03-29T02:30:00+01:00" } },
	/* Autumn: a fixed-time job runs once, in the first 01:30. */
	{ "30 1 * * *",
	  "Europe/London",
	  "2026-10-24T12:00:00Z",
	  { "2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00" } },
	/* Asked from inside the second 01:00-02:00: 01:30 was seen. */
	{ "30 1 * * *",
	  "Europe/London",
	  "2026-10-25T01:10:00+00:00",
	  { "2026-10-26T01:30:00+00:00" } },
	/* Wildcard jobs run in both copies of the hour. */
	{ "*/30 * * * *",
	  "Europe/London",
	  "2026-10-25T00:00:00+01:00",
	  { "2026-10-25T00:30:00+01:00", "2026-10-25T01:00:00+01:00",
	    "2026-10-25T01:30:00+01:00", "2026-10-25T01:00:00+00:00",
	    "2026-10-25T01:30:00+00:00", "2026-10-25T02:00:00+00:00" } },
	{ "@hourly",
	  "Europe/London",
	  "2026-10-25T00:30:00+01:00",
	  { "2026-10-25T01:00:00+01:00", "2026-10-25T01:00:00+00:00",
	    "2026-10-25T02:00:00+00:00" } },
	/* Seconds field: fixed minute and hour, so fixed-time. */
	{ "*/20 30 1 * * *",
	  "Europe/London",
	  "2026-03-28T12:00:00Z",
	  { "2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00",
	    "2026-03-30T01:30:20+01:00" } },
	{ "*/20 30 1 * * *",
	  "Europe/London",
	  "2026-10-25T00:00:00Z",
	  { "2026-10-25T01:30:00+01:00", "2026-10-25T01:30:20+01:00",
	    "2026-10-25T01:30:40+01:00", "2026-10-26T01:30:00+00:00" } },

	/* DST in New York: 02:00 EST -> 03:00 EDT on 8 March 2026, 02:00
	 * EDT -> 01:00 EST on 1 November 2026. */
	{ "30 2 * * *",
	  "America/New_York",
	  "2026-03-07T12:00:00-05:00",
	  { "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00" } },
	{ "0 2 * * *",
	  "America/New_York",
	  "2026-03-07T12:00:00-05:00",
	  { "2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00" } },
	{ "15 * * * *",
	  "America/New_York",
	  "2026-03-08T00:30:00-05:00",
	  { "2026-03-08T01:15:00-05:00", "2026-03-08T03:15:00-04:00",
	    "2026-03-08T04:15:00-04:00" } },
	{ "30 1 * * *",
	  "America/New_York",
	  "2026-10-31T12:00:00-04:00",
	  { "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00" } },
	{ "15 * * * *",
	  "America/New_York",
	  "2026-11-01T00:00:00-04:00",
	  { "2026-11-01T00:15:00-04:00", "2026-11-01T01:15:00-04:00",
	    "2026-11-01T01:15:00-05:00", "2026-11-01T02:15:00-05:00" } },
	{ "*/20 1 * * *",
	  "America/New_York",
	  "2026-11-01T00:00:00-04:00",
	  { "2026-11-01T01:00:00-04:00", "2026-11-01T01:20:00-04:00",
	    "2026-11-01T01:40:00-04:00", "2026-11-01T01:00:00-05:00",
	    "2026-11-01T01:20:00-05:00", "2026-11-01T01:40:00-05:00",
	    "2026-11-02T01:00:00-05:00" } },

	/* Lord Howe Island moves by 30 minutes: 02:00 -> 02:30 on
	 * 4 October 2026. */
	{ "15 2 * * *",
	  "Australia/Lord_Howe",
	  "2026-10-03T12:00:00+10:30",
	  { "2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00" } },

	/* Leap days, including 2100, which is not a leap year. */
	{ "0 0 29 2 *",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00",
	    "2036-02-29T00:00:00+00:00" } },
	{ "0 0 29 2 *",
	  "UTC",
	  "2096-03-01T00:00:00Z",
	  { "2104-02-29T00:00:00+00:00" } },
	/* Day-of-month OR day-of-week (neither starts with "*"). */
	{ "0 0 13 * fri",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00",
	    "2026-01-13T00:00:00+00:00", "2026-01-16T00:00:00+00:00",
	    "2026-01-23T00:00:00+00:00" } },
	{ "0 0 1 * mon-fri",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-02T00:00:00+00:00", "2026-01-05T00:00:00+00:00" } },
	/* AND, because day-of-month starts with "*": odd Saturdays. */
	{ "0 16 */2 * sat",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-03T16:00:00+00:00", "2026-01-17T16:00:00+00:00",
	    "2026-01-31T16:00:00+00:00", "2026-02-07T16:00:00+00:00",
	    "2026-02-21T16:00:00+00:00" } },
	/* 7 and 0 are Sunday; names in any case. */
	{ "0 0 * * 7",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00" } },
	{ "0 0 * * SUN",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-04T00:00:00+00:00" } },
	{ "0 0 1 jan,JUL *",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00" } },
	/* A range ending in Sunday ends in 7 (cronie). */
	{ "0 0 * * Sat-Sun",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00",
	    "2026-01-10T00:00:00+00:00", "2026-01-11T00:00:00+00:00" } },
	{ "0 0 * * 5-7",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00",
	    "2026-01-04T00:00:00+00:00", "2026-01-09T00:00:00+00:00" } },
	/* Steps count within their field. */
	{ "*/35 * * * *",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-01T00:35:00+00:00", "2026-01-01T01:00:00+00:00",
	    "2026-01-01T01:35:00+00:00" } },
	{ "1-30/4 9 * * *",
	  "UTC",
	  "2026-01-01T09:20:00Z",
	  { "2026-01-01T09:21:00+00:00", "2026-01-01T09:25:00+00:00",
	    "2026-01-01T09:29:00+00:00", "2026-01-02T09:01:00+00:00" } },
	{ "0 9-17/4 * * mon-fri",
	  "UTC",
	  "2026-01-01T10:00:00Z",
	  { "2026-01-01T13:00:00+00:00", "2026-01-01T17:00:00+00:00",
	    "2026-01-02T09:00:00+00:00", "2026-01-02T13:00:00+00:00",
	    "2026-01-02T17:00:00+00:00", "2026-01-05T09:00:00+00:00" } },
	/* Sun, Tue, Thu, Sat; 1 January 2026 was a Thursday. */
	{ "0 0 * * */2",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00",
	    "2026-01-06T00:00:00+00:00", "2026-01-08T00:00:00+00:00",
	    "2026-01-10T00:00:00+00:00" } },
	/* Year rollover. */
	{ "59 23 31 12 *",
	  "UTC",
	  "2026-12-31T23:59:00Z",
	  { "2027-12-31T23:59:00+00:00" } },
	{ "0 0 1 1 *",
	  "UTC",
	  "2026-12-31T23:59:59Z",
	  { "2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00" } },
	{ "0 0 31 * *",
	  "UTC",
	  "2026-01-31T00:00:00Z",
	  { "2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00" } },
	/* Seconds. */
	{ "*/15 * * * * *",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-01T00:00:15+00:00", "2026-01-01T00:00:30+00:00",
	    "2026-01-01T00:00:45+00:00", "2026-01-01T00:01:00+00:00" } },
	{ "30 0 12 * * *",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-01T12:00:30+00:00", "2026-01-02T12:00:30+00:00" } },
	{ "* * * * * *",
	  "UTC",
	  "2026-01-01T00:00:00.900Z",
	  { "2026-01-01T00:00:01+00:00", "2026-01-01T00:00:02+00:00" } },
	/* Macros. */
	{ "@daily",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-02T00:00:00+00:00" } },
	{ "@weekly",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00" } },
	{ "@monthly",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00" } },
	{ "@YEARLY",
	  "UTC",
	  "2026-01-01T00:00:00Z",
	  { "2027-01-01T00:00:00+00:00" } },
	{ "@annually",
	  "Europe/London",
	  "2026-06-01T00:00:00Z",
	  { "2027-01-01T00:00:00+00:00" } },
	{ "@midnight",
	  "America/New_York",
	  "2026-01-01T00:00:00Z",
	  { "2026-01-01T00:00:00-05:00", "2026-01-02T00:00:00-05:00" } },
};

static void test_next_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]);
	     i++) {
		const struct next_case *k = &next_cases[i];
		struct cns_tz *tz = zone(k->zone);
		struct cns_cron c;
		int64_t t = iso(k->from);

		parse_ok(&c, k->expr);
		for (int j = 0; j < 8 && k->want[j]; j++) {
			struct cns_error err = { 0 };
			char got[40];

			if (cns_cron_next(&c, tz, t, &t, &err) < 0)
				fail_msg("\"%s\" in %s from %s: %s", k->expr,
					 k->zone, k->from, err.message);
			cns_time_format(t, tz, got, sizeof(got));
			if (strcmp(got, k->want[j]) != 0)
				fail_msg("\"%s\" in %s from %s, fire %d: got "
					 "%s, want %s",
					 k->expr, k->zone, k->from, j + 1, got,
					 k->want[j]);
		}
		cns_tz_free(tz);
	}
}

static void test_next_without_zone_is_utc(void **state)
{
	struct cns_cron c;
	struct cns_error err = { 0 };
	int64_t t;
	char buf[40];

	(void)state;
	parse_ok(&c, "30 1 * * *");
	assert_int_equal(cns_cron_next(&c, NULL, iso("2026-03-29T00:00:00Z"),
				       &t, &err),
			 0);
	assert_string_equal(cns_time_format(t, NULL, buf, sizeof(buf)),
			    "2026-03-29T01:30:00Z");
}

static void test_next_never(void **state)
{
	struct cns_cron c;
	struct cns_error err = { 0 };
	struct cns_tz *tz = zone("UTC");
	int64_t t;

	(void)state;
	/* "*\/31" is day 1 only, and starts with "*": AND with Monday.
	 * Feb 1 falls on a Monday in 2027, then in 2038. */
	parse_ok(&c, "0 0 */31 2 mon");
	assert_int_equal(cns_cron_next(&c, tz, iso("2026-02-03T00:00:00Z"), &t,
				       &err),
			 0);
	/* Feb 1 on a Monday: 2027, then 2038 - 11 years, past the
	 * horizon. */
	assert_int_equal(cns_cron_next(&c, tz, iso("2027-02-02T00:00:00Z"), &t,
				       &err),
			 -1);
	assert_string_equal(err.message,
			    "schedule \"0 0 */31 2 mon\" does not fire in the "
			    "8 years after 2027-02-02T00:00:00+00:00");
	cns_error_clear(&err);
	assert_int_equal(
		cns_cron_next(&c, tz, (int64_t)300000000000LL, &t, &err), -1);
	assert_string_equal(err.message,
			    "time 300000000000 is out of the range the "
			    "scheduler supports (years 1-9000)");
	cns_tz_free(tz);
}

/* ---- malformed expressions ---- */

struct bad_case {
	const char *expr;
	const char *message;
	const char *hint; /* NULL: not checked */
};

static const struct bad_case bad_cases[] = {
	{ "", "invalid schedule \"\": it is empty", NULL },
	{ "   ", "invalid schedule \"   \": it is empty", NULL },
	{ "* * * *",
	  "invalid schedule \"* * * *\": expected 5 fields (minute hour "
	  "day-of-month month day-of-week) or 6 with seconds first, found 4",
	  NULL },
	{ "0 0 12 * * ? 2026",
	  "invalid schedule \"0 0 12 * * ? 2026\": expected 5 fields (minute "
	  "hour day-of-month month day-of-week) or 6 with seconds first, found "
	  "7",
	  "a year field (Quartz) is not supported" },
	{ "* * * * * /usr/bin/backup --all",
	  "invalid schedule \"* * * * * /usr/bin/backup --all\": expected 5 "
	  "fields (minute hour day-of-month month day-of-week) or 6 with "
	  "seconds first, found 7",
	  NULL },
	{ "* * * * * * x y",
	  "invalid schedule \"* * * * * * x y\": expected 5 fields (minute "
	  "hour day-of-month month day-of-week) or 6 with seconds first, found "
	  "8",
	  "a job file's schedule holds the time fields only, no command" },
	{ "60 * * * *",
	  "invalid schedule \"60 * * * *\": minute \"60\" is out of range 0-59",
	  NULL },
	{ "* 24 * * *",
	  "invalid schedule \"* 24 * * *\": hour \"24\" is out of range 0-23",
	  NULL },
	{ "* * 0 * *",
	  "invalid schedule \"* * 0 * *\": day-of-month \"0\" is out of range "
	  "1-31",
	  NULL },
	{ "* * 32 * *",
	  "invalid schedule \"* * 32 * *\": day-of-month \"32\" is out of "
	  "range 1-31",
	  NULL },
	{ "* * * 13 *",
	  "invalid schedule \"* * * 13 *\": month \"13\" is out of range 1-12",
	  NULL },
	{ "* * * 0 *",
	  "invalid schedule \"* * * 0 *\": month \"0\" is out of range 1-12",
	  NULL },
	{ "* * * * 8",
	  "invalid schedule \"* * * * 8\": day-of-week \"8\" is out of range "
	  "0-7",
	  NULL },
	{ "61 * * * * *",
	  "invalid schedule \"61 * * * * *\": second \"61\" is out of range "
	  "0-59",
	  NULL },
	{ "5,60 * * * *",
	  "invalid schedule \"5,60 * * * *\": minute \"5,60\": \"60\" is out "
	  "of range 0-59",
	  NULL },
	{ "5-65 * * * *",
	  "invalid schedule \"5-65 * * * *\": minute \"5-65\": \"65\" is out "
	  "of range 0-59",
	  NULL },
	{ "0 0 * * 1,8",
	  "invalid schedule \"0 0 * * 1,8\": day-of-week \"1,8\": \"8\" is out "
	  "of range 0-7",
	  NULL },
	{ "99999999999 * * * *",
	  "invalid schedule \"99999999999 * * * *\": minute \"99999999999\" is "
	  "out of range 0-59",
	  NULL },
	{ "1,,2 * * * *",
	  "invalid schedule \"1,,2 * * * *\": minute \"1,,2\" has an empty "
	  "list item",
	  NULL },
	{ "1, * * * *",
	  "invalid schedule \"1, * * * *\": minute \"1,\" has an empty list "
	  "item",
	  NULL },
	{ "0/15 * * * *",
	  "invalid schedule \"0/15 * * * *\": minute \"0/15\" has a step but "
	  "no range",
	  "did you mean \"*/15\"?" },
	{ "5/15 * * * *",
	  "invalid schedule \"5/15 * * * *\": minute \"5/15\" has a step but "
	  "no range",
	  "did you mean \"5-59/15\"?" },
	{ "0 0 1/2 * *",
	  "invalid schedule \"0 0 1/2 * *\": day-of-month \"1/2\" has a step "
	  "but no range",
	  "did you mean \"*/2\"?" },
	{ "0 0 * * 1/2",
	  "invalid schedule \"0 0 * * 1/2\": day-of-week \"1/2\" has a step "
	  "but no range",
	  "did you mean \"1-6/2\"?" },
	{ "* * ? * *",
	  "invalid schedule \"* * ? * *\": day-of-month \"?\" is not cron "
	  "syntax",
	  "cron has no \"?\"; use \"*\"" },
	{ "0 0 L * *",
	  "invalid schedule \"0 0 L * *\": day-of-month \"L\" uses \"L\" (last "
	  "day of the month), which cron does not support",
	  "cron cannot name the last day of a month; schedule days 28-31 and "
	  "let the job check the date" },
	{ "0 0 15W * *",
	  "invalid schedule \"0 0 15W * *\": day-of-month \"15W\" uses \"W\" "
	  "(nearest weekday), which cron does not support",
	  NULL },
	{ "0 0 LW * *",
	  "invalid schedule \"0 0 LW * *\": day-of-month \"LW\" uses \"W\" "
	  "(nearest weekday), which cron does not support",
	  NULL },
	{ "0 0 * * 5L",
	  "invalid schedule \"0 0 * * 5L\": day-of-week \"5L\" uses \"L\" (last "
	  "weekday of the month), which cron does not support",
	  NULL },
	{ "0 0 * * mon#1",
	  "invalid schedule \"0 0 * * mon#1\": day-of-week \"mon#1\" uses "
	  "\"#\" (nth weekday of the month), which cron does not support",
	  NULL },
	{ "0 0 * * 1,2#2",
	  "invalid schedule \"0 0 * * 1,2#2\": day-of-week \"1,2#2\": \"2#2\" "
	  "uses \"#\" (nth weekday of the month), which cron does not support",
	  NULL },
	{ "*/0 * * * *",
	  "invalid schedule \"*/0 * * * *\": minute \"*/0\" has a step of 0",
	  "a step must be at least 1" },
	{ "*/x * * * *",
	  "invalid schedule \"*/x * * * *\": minute \"*/x\" has a step \"x\" "
	  "that is not a number",
	  NULL },
	{ "*/ * * * *",
	  "invalid schedule \"*/ * * * *\": minute \"*/\" has no step after "
	  "\"/\"",
	  NULL },
	{ "*/2/3 * * * *",
	  "invalid schedule \"*/2/3 * * * *\": minute \"*/2/3\" has more than "
	  "one \"/\"",
	  NULL },
	{ "/5 * * * *",
	  "invalid schedule \"/5 * * * *\": minute \"/5\" has a step but "
	  "nothing to step through",
	  NULL },
	{ "5-2 * * * *",
	  "invalid schedule \"5-2 * * * *\": minute \"5-2\" is a backward "
	  "range",
	  "a range runs from low to high; for one that wraps, write two: "
	  "\"5-59,0-2\"" },
	{ "0 22-2 * * *",
	  "invalid schedule \"0 22-2 * * *\": hour \"22-2\" is a backward range",
	  "a range runs from low to high; for one that wraps, write two: "
	  "\"22-23,0-2\"" },
	{ "0 0 * * 5-2",
	  "invalid schedule \"0 0 * * 5-2\": day-of-week \"5-2\" is a "
	  "backward range",
	  "a range runs from low to high; for one that wraps, write two: "
	  "\"5-7,0-2\"" },
	{ "*-5 * * * *",
	  "invalid schedule \"*-5 * * * *\": minute \"*-5\" is not a valid "
	  "range",
	  "\"*\" stands alone or before a step, as in \"*/5\"" },
	{ "-5 * * * *",
	  "invalid schedule \"-5 * * * *\": minute \"-5\" is not a valid range",
	  NULL },
	{ "5- * * * *",
	  "invalid schedule \"5- * * * *\": minute \"5-\" is not a valid range",
	  NULL },
	{ "1-2-3 * * * *",
	  "invalid schedule \"1-2-3 * * * *\": minute \"1-2-3\" is not a valid "
	  "range",
	  NULL },
	{ "*5 * * * *",
	  "invalid schedule \"*5 * * * *\": minute \"*5\" has unexpected text "
	  "after \"*\"",
	  NULL },
	{ "5% * * * *",
	  "invalid schedule \"5% * * * *\": minute \"5%\" has an unexpected "
	  "character \"%\"",
	  NULL },
	{ "0~30 * * * *",
	  "invalid schedule \"0~30 * * * *\": minute \"0~30\" uses \"~\" (a "
	  "random value), which is not supported",
	  "use \"jitter =\" in the job file to spread runs" },
	{ "mon * * * *",
	  "invalid schedule \"mon * * * *\": minute \"mon\" is not a number",
	  NULL },
	{ "0 0 1x * *",
	  "invalid schedule \"0 0 1x * *\": day-of-month \"1x\" is not a "
	  "number",
	  NULL },
	{ "0 0 * jna *",
	  "invalid schedule \"0 0 * jna *\": month \"jna\" is not a month name",
	  "did you mean \"jan\"?" },
	{ "0 0 * january *",
	  "invalid schedule \"0 0 * january *\": month \"january\" is not a "
	  "month name",
	  "did you mean \"jan\"?" },
	{ "0 0 * * monday",
	  "invalid schedule \"0 0 * * monday\": day-of-week \"monday\" is not "
	  "a day name",
	  "did you mean \"mon\"?" },
	{ "0 0 * * xyz",
	  "invalid schedule \"0 0 * * xyz\": day-of-week \"xyz\" is not a day "
	  "name",
	  "names are the first three letters: sun, mon ... sat" },
	{ "0 0 * * mon-xyz",
	  "invalid schedule \"0 0 * * mon-xyz\": day-of-week \"mon-xyz\": "
	  "\"xyz\" is not a day name",
	  NULL },
	{ "@dayly", "invalid schedule \"@dayly\": unknown macro \"@dayly\"",
	  "did you mean \"@daily\"?" },
	{ "@every 5m",
	  "invalid schedule \"@every 5m\": unknown macro \"@every\"",
	  "the macros are @yearly, @annually, @monthly, @weekly, @daily, "
	  "@midnight and @hourly" },
	{ "@reboot",
	  "invalid schedule \"@reboot\": \"@reboot\" is not "
	  "supported",
	  "consolidate schedules timed runs only; start the job from a "
	  "boot-time unit instead" },
	{ "@daily 5",
	  "invalid schedule \"@daily 5\": unexpected \"5\" after \"@daily\"",
	  "a macro stands alone" },
	{ "0 0 30 2 *",
	  "invalid schedule \"0 0 30 2 *\": day-of-month \"30\" never occurs in "
	  "month \"2\"",
	  NULL },
	{ "0 0 31 apr,jun *",
	  "invalid schedule \"0 0 31 apr,jun *\": day-of-month \"31\" never "
	  "occurs in month \"apr,jun\"",
	  NULL },
	{ "0 0 30,31 feb *",
	  "invalid schedule \"0 0 30,31 feb *\": day-of-month \"30,31\" never "
	  "occurs in month \"feb\"",
	  NULL },
};

static void test_parse_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *k = &bad_cases[i];
		struct cns_error err = { 0 };
		struct cns_cron c;

		if (cns_cron_parse(&c, k->expr, &err) == 0)
			fail_msg("\"%s\" parsed", k->expr);
		assert_int_equal(err.code, CNS_E_CONFIG);
		if (strcmp(err.message, k->message) != 0)
			fail_msg("\"%s\":\n got  %s\n want %s", k->expr,
				 err.message, k->message);
		if (k->hint && strcmp(err.hint, k->hint) != 0)
			fail_msg("\"%s\" hint:\n got  %s\n want %s", k->expr,
				 err.hint, k->hint);
	}
	/* An expression too long to quote is cut. */
	{
		char big[400];
		struct cns_error err = { 0 };
		struct cns_cron c;

		memset(big, '1', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(cns_cron_parse(&c, big, &err), -1);
		assert_string_equal(err.message,
				    "invalid schedule \"1111111111111111111111"
				    "111111111111111111...\": longer than 255 "
				    "characters");
	}
}

/* ---- representation ---- */

static void test_bitsets(void **state)
{
	struct cns_cron c;
	char buf[64];

	(void)state;
	parse_ok(&c, "*/35 1-21/4 */2 jan-mar,dec 0,7");
	assert_true(c.second == 1);
	assert_true(c.minute == ((1ull << 0) | (1ull << 35)));
	{
		uint32_t want = 0;

		for (int h = 1; h <= 21; h += 4)
			want |= 1u << h;
		assert_int_equal(c.hour, want);
	}
	assert_int_equal(c.dom, 0xaaaaaaaau);
	assert_int_equal(c.month, (1 << 1) | (1 << 2) | (1 << 3) | (1 << 12));
	assert_int_equal(c.dow, 1);
	assert_int_equal(c.flags, CNS_CRON_MIN_STAR | CNS_CRON_DOM_STAR);
	assert_false(c.flags & CNS_CRON_DOW_STAR);
	assert_true(cns_cron_is_wildcard(&c));
	assert_string_equal(
		cns_cron_field_text(&c, CNS_CRON_DOM, buf, sizeof(buf)), "*/2");
	assert_string_equal(
		cns_cron_field_text(&c, CNS_CRON_SECOND, buf, sizeof(buf)), "");

	parse_ok(&c, "  5\t 4 * * *  ");
	assert_string_equal(c.text, "5 4 * * *");
	assert_false(cns_cron_is_wildcard(&c));
	assert_int_equal(c.flags, CNS_CRON_DOM_STAR | CNS_CRON_DOW_STAR);

	parse_ok(&c, "0 * * * *");
	assert_true(cns_cron_is_wildcard(&c)); /* HR_STAR */

	parse_ok(&c, "*/10 0 12 * * *");
	assert_true(c.flags & CNS_CRON_SECONDS);
	assert_false(cns_cron_is_wildcard(&c));
	assert_string_equal(cns_cron_field_text(&c, CNS_CRON_SECOND, buf,
						sizeof(buf)),
			    "*/10");
	assert_string_equal(
		cns_cron_field_text(&c, CNS_CRON_HOUR, buf, sizeof(buf)), "12");

	parse_ok(&c, "@Hourly");
	assert_string_equal(c.text, "@hourly");
	assert_true(cns_cron_is_wildcard(&c));
	parse_ok(&c, "@weekly");
	assert_int_equal(c.flags, CNS_CRON_DOW_STAR | CNS_CRON_MACRO);
	assert_int_equal(c.dow, 1);
	parse_ok(&c, "@daily");
	assert_false(cns_cron_is_wildcard(&c));

	/* 0-7 covers the week once. */
	parse_ok(&c, "0 0 * * 0-7");
	assert_int_equal(c.dow, 0x7f);
	parse_ok(&c, "0 0 * * */3");
	assert_int_equal(c.dow, (1 << 0) | (1 << 3) | (1 << 6));
}

/* A day-of-week range that ends in Sunday ends in 7, as cronie reads it:
 * "wed-sun" and "3-0" are "3-7".  Every start day, written as a number and
 * as a name in two cases, with and without a step, must give the same days
 * as the range written up to 7. */
static void test_dow_ranges_ending_sunday(void **state)
{
	static const char *const names[] = { "sun", "mon", "tue", "wed",
					     "thu", "fri", "sat", "sun" };
	static const char *const steps[] = { "", "/2", "/3" };

	(void)state;
	for (int lo = 0; lo <= 7; lo++) {
		for (size_t k = 0; k < sizeof(steps) / sizeof(*steps); k++) {
			struct cns_cron want, got;
			char expr[64];
			char upper[4];

			/* "sun-sun" and "0-0" are Sunday alone. */
			if (lo == 0)
				snprintf(expr, sizeof(expr), "0 0 * * 0");
			else
				snprintf(expr, sizeof(expr), "0 0 * * %d-7%s",
					 lo, steps[k]);
			parse_ok(&want, expr);
			snprintf(expr, sizeof(expr), "0 0 * * %d-0%s", lo,
				 steps[k]);
			parse_ok(&got, expr);
			assert_int_equal(got.dow, want.dow);
			snprintf(expr, sizeof(expr), "0 0 * * %s-sun%s",
				 names[lo], steps[k]);
			parse_ok(&got, expr);
			assert_int_equal(got.dow, want.dow);
			for (int i = 0; i < 3; i++)
				upper[i] = (char)(names[lo][i] - 'a' + 'A');
			upper[3] = '\0';
			snprintf(expr, sizeof(expr), "0 0 * * %s-SUN%s", upper,
				 steps[k]);
			parse_ok(&got, expr);
			assert_int_equal(got.dow, want.dow);
		}
	}
	/* The days the issue of record named: Wednesday to Sunday. */
	{
		struct cns_cron c;

		parse_ok(&c, "0 0 * * Wed-Sun");
		assert_int_equal(c.dow, (1 << 0) | (1 << 3) | (1 << 4) |
						(1 << 5) | (1 << 6));
		parse_ok(&c, "0 0 * * Sat-Sun");
		assert_int_equal(c.dow, (1 << 0) | (1 << 6));
	}
}

/* ---- warnings ---- */

static void test_warnings(void **state)
{
	static const struct {
		const char *expr;
		int n;
		const char *text;
	} cases[] = {
		{ "0 16 */2 * sat", 1,
		  "day-of-month \"*/2\" starts with \"*\", so cron combines it "
		  "with day-of-week \"sat\" by AND: the job runs only on days "
		  "that match both\n" },
		{ "0 0 1-7 * */2", 1,
		  "day-of-week \"*/2\" starts with \"*\", so cron combines it "
		  "with day-of-month \"1-7\" by AND: the job runs only on days "
		  "that match both\n" },
		{ "0 0 1-7 * mon", 1,
		  "day-of-month \"1-7\" and day-of-week \"mon\" are combined by "
		  "OR: the job runs on those days of the month and also on "
		  "every one of those weekdays\n" },
		{ "*/7 * * * *", 1,
		  "minute \"*/7\" does not divide 60 evenly: after minute 56 "
		  "the next run is at minute 0, 4 minutes later, not 7\n" },
		{ "0 */5 * * *", 1,
		  "hour \"*/5\" does not divide 24 evenly: after hour 20 the "
		  "next run is at hour 0, 4 hours later, not 5\n" },
		{ "*/90 * * * *", 1,
		  "minute \"*/90\" matches minute 0 only: the step is not "
		  "smaller than 60\n" },
		{ "0 0 31 * *", 1,
		  "day-of-month \"31\" does not occur in feb, apr, jun, sep, "
		  "nov: the job does not run in those months\n" },
		{ "0 0 29 2 *", 1,
		  "day-of-month \"29\" falls in February only in leap years\n" },
		{ "*/15 * * * *", 0, "" },
		{ "0 0 1,15 * *", 0, "" },
		{ "0 0 * * mon-fri", 0, "" },
		{ "@monthly", 0, "" },
		{ "0 0 1-31 * mon", 0, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cns_cron c;
		struct cns_buf b;
		int n;

		cns_buf_init(&b);
		parse_ok(&c, cases[i].expr);
		n = cns_cron_warnings(&c, &b);
		if (n != cases[i].n ||
		    strcmp(b.data ? b.data : "", cases[i].text) != 0)
			fail_msg("\"%s\": %d warnings:\n%s", cases[i].expr, n,
				 b.data ? b.data : "");
		cns_buf_release(&b);
	}
}

/* ---- crontab and systemd text ---- */

static void test_crontab_text(void **state)
{
	static const struct {
		const char *expr, *text;
		int delay;
	} cases[] = {
		{ "*/5 * * * *", "*/5 * * * *", 0 },
		{ "@Daily", "@daily", 0 },
		{ "0 30 2 * * *", "30 2 * * *", 0 },
		{ "45 */5 * * * *", "*/5 * * * *", 45 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cns_cron c;
		struct cns_buf b;
		struct cns_error err = { 0 };
		int delay = -1;

		cns_buf_init(&b);
		parse_ok(&c, cases[i].expr);
		assert_int_equal(cns_cron_crontab_text(&c, &b, &delay, &err),
				 0);
		assert_string_equal(b.data, cases[i].text);
		assert_int_equal(delay, cases[i].delay);
		cns_buf_release(&b);
	}
	{
		struct cns_cron c;
		struct cns_buf b;
		struct cns_error err = { 0 };
		int delay;

		cns_buf_init(&b);
		parse_ok(&c, "*/10 * * * * *");
		assert_int_equal(cns_cron_crontab_text(&c, &b, &delay, &err),
				 -1);
		assert_string_equal(err.message,
				    "schedule \"*/10 * * * * *\" runs more "
				    "than once a minute, which cron cannot "
				    "express");
		cns_buf_release(&b);
	}
}

static void test_oncalendar(void **state)
{
	static const struct {
		const char *expr, *zone, *lines;
		int n;
		bool note;
	} cases[] = {
		{ "*/15 * * * *", NULL, "OnCalendar=*-*-* *:00/15:00\n", 1,
		  false },
		{ "30 2 * * *", "Europe/London",
		  "OnCalendar=*-*-* 02:30:00 Europe/London\n", 1, false },
		{ "0 9-17 * * mon-fri", NULL,
		  "OnCalendar=Mon..Fri *-*-* 09..17:00:00\n", 1, false },
		{ "0 0 29 2 *", NULL, "OnCalendar=*-02-29 00:00:00\n", 1,
		  false },
		{ "0 16 */2 * sat", NULL, "OnCalendar=Sat *-*-01/2 16:00:00\n",
		  1, false },
		{ "0 0 1,15 * sun", NULL,
		  "OnCalendar=*-*-01,15 00:00:00\n"
		  "OnCalendar=Sun *-*-* 00:00:00\n",
		  2, true },
		{ "0 0 1-31 * sun", NULL, "OnCalendar=*-*-* 00:00:00\n", 1,
		  false },
		{ "*/20 5 4 * * *", NULL, "OnCalendar=*-*-* 04:05:00/20\n", 1,
		  false },
		{ "0 0 1 1,4,7,10 *", NULL, "OnCalendar=*-01/3-01 00:00:00\n",
		  1, false },
		{ "0 0 * * sun,mon,wed-fri", NULL,
		  "OnCalendar=Sun,Mon,Wed..Fri *-*-* 00:00:00\n", 1, false },
		{ "@weekly", NULL, "OnCalendar=Sun *-*-* 00:00:00\n", 1,
		  false },
		{ "@hourly", NULL, "OnCalendar=*-*-* *:00:00\n", 1, false },
		{ "5,10 0 1 * *", NULL, "OnCalendar=*-*-01 00:05,10:00\n", 1,
		  false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cns_cron c;
		struct cns_buf b, notes;
		int n;

		cns_buf_init(&b);
		cns_buf_init(&notes);
		parse_ok(&c, cases[i].expr);
		n = cns_cron_oncalendar(&c, cases[i].zone, &b, &notes);
		if (n != cases[i].n || strcmp(b.data, cases[i].lines) != 0)
			fail_msg("\"%s\": %d lines:\n%s", cases[i].expr, n,
				 b.data);
		assert_int_equal(notes.len > 0, cases[i].note);
		cns_buf_release(&b);
		cns_buf_release(&notes);
	}
}

/* ---- time zones ---- */

static void test_tz_offsets(void **state)
{
	struct cns_tz *lon = zone("Europe/London");
	struct cns_tz *ny = zone("America/New_York");
	int64_t c;

	(void)state;
	assert_int_equal(cns_tz_offset(lon, iso("2026-01-15T12:00:00Z")), 0);
	assert_int_equal(cns_tz_offset(lon, iso("2026-07-15T12:00:00Z")), 3600);
	assert_int_equal(cns_tz_offset(lon, iso("2026-03-29T00:59:59Z")), 0);
	assert_int_equal(cns_tz_offset(lon, iso("2026-03-29T01:00:00Z")), 3600);
	c = cns_tz_next_change(lon, iso("2026-01-01T00:00:00Z"));
	assert_int_equal(c, iso("2026-03-29T01:00:00Z"));
	c = cns_tz_next_change(lon, c);
	assert_int_equal(c, iso("2026-10-25T01:00:00Z"));
	/* Far past the table: the TZif footer rule. */
	c = cns_tz_next_change(lon, iso("2300-01-01T00:00:00Z"));
	assert_int_equal(c, iso("2300-03-25T01:00:00Z"));
	assert_int_equal(cns_tz_offset(ny, iso("2026-03-08T06:59:59Z")),
			 -5 * 3600);
	assert_int_equal(cns_tz_offset(ny, iso("2026-03-08T07:00:00Z")),
			 -4 * 3600);
	assert_string_equal(cns_tz_name(ny), "America/New_York");
	cns_tz_free(lon);
	cns_tz_free(ny);
}

static void test_local_to_utc(void **state)
{
	struct cns_tz *lon = zone("Europe/London");
	int64_t u;

	(void)state;
	/* Once. */
	assert_int_equal(
		cns_tz_local_to_utc(lon, iso("2026-07-01T12:00:00Z"), &u), 0);
	assert_int_equal(u, iso("2026-07-01T11:00:00Z"));
	/* Twice: the earlier. */
	assert_int_equal(
		cns_tz_local_to_utc(lon, iso("2026-10-25T01:30:00Z"), &u), 1);
	assert_int_equal(u, iso("2026-10-25T00:30:00Z"));
	/* In the gap: read with the offset before it. */
	assert_int_equal(
		cns_tz_local_to_utc(lon, iso("2026-03-29T01:30:00Z"), &u), 2);
	assert_int_equal(u, iso("2026-03-29T01:30:00Z"));
	cns_tz_free(lon);
}

/* Zone offsets against the C library over three centuries, past the end
 * of every transition table, so that the footer rules are covered. */
static void test_tz_against_libc(void **state)
{
	static const char *zones[] = {
		"Europe/London",       "America/New_York",  "Australia/Sydney",
		"Australia/Lord_Howe", "Asia/Kathmandu",    "Pacific/Apia",
		"America/Sao_Paulo",   "Africa/Casablanca", "Europe/Dublin",
		"Asia/Tehran",         "America/St_Johns",  "Pacific/Chatham",
		"America/Santiago",    "Europe/Moscow",     "Antarctica/Troll",
	};
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	(void)state;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		struct cns_tz *tz;
		int64_t t, prev_c;
		int checked = 0;

		tz = zone(zones[z]);
		setenv("TZ", zones[z], 1);
		tzset();
		/* Every 7h 13m from 1900 to 2200. */
		for (t = iso("1900-01-01T00:00:00Z");
		     t < iso("2200-01-01T00:00:00Z"); t += 7 * 3600 + 13 * 60) {
			time_t tt = (time_t)t;
			struct tm tm;

			localtime_r(&tt, &tm);
			if (tm.tm_gmtoff != cns_tz_offset(tz, t))
				fail_msg("%s at %lld: libc %ld, ours %d",
					 zones[z], (long long)t, tm.tm_gmtoff,
					 cns_tz_offset(tz, t));
			checked++;
		}
		/* Every change is one, and at it libc agrees. */
		prev_c = iso("1900-01-01T00:00:00Z");
		for (;;) {
			int64_t c = cns_tz_next_change(tz, prev_c);
			time_t a, b;
			struct tm ta, tb;

			if (c > iso("2200-01-01T00:00:00Z"))
				break;
			assert_true(c > prev_c);
			a = (time_t)(c - 1);
			b = (time_t)c;
			localtime_r(&a, &ta);
			localtime_r(&b, &tb);
			if (ta.tm_gmtoff == tb.tm_gmtoff ||
			    tb.tm_gmtoff != cns_tz_offset(tz, c))
				fail_msg("%s: change at %lld: libc %ld -> %ld",
					 zones[z], (long long)c, ta.tm_gmtoff,
					 tb.tm_gmtoff);
			prev_c = c;
		}
		assert_true(checked > 1000);
		cns_tz_free(tz);
	}
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

static void test_tz_rules(void **state)
{
	struct cns_error err = { 0 };
	struct cns_tz *tz;

	(void)state;
	/* Southern hemisphere: DST across the new year. */
	assert_int_equal(
		cns_tz_from_rule("AEST-10AEDT,M10.1.0,M4.1.0/3", &tz, &err), 0);
	assert_int_equal(cns_tz_offset(tz, iso("2026-01-15T00:00:00Z")),
			 11 * 3600);
	assert_int_equal(cns_tz_offset(tz, iso("2026-06-15T00:00:00Z")),
			 10 * 3600);
	/* 2026-04-05 03:00 AEDT = 2026-04-04T16:00Z. */
	assert_int_equal(cns_tz_next_change(tz, iso("2026-02-01T00:00:00Z")),
			 iso("2026-04-04T16:00:00Z"));
	cns_tz_free(tz);
	/* Default dates for a bare DST name; angle-bracket names. */
	assert_int_equal(cns_tz_from_rule("EST5EDT", &tz, &err), 0);
	assert_int_equal(cns_tz_offset(tz, iso("2026-07-01T00:00:00Z")),
			 -4 * 3600);
	cns_tz_free(tz);
	assert_int_equal(cns_tz_from_rule("<+0545>-5:45", &tz, &err), 0);
	assert_int_equal(cns_tz_offset(tz, 0), 5 * 3600 + 45 * 60);
	assert_int_equal(cns_tz_next_change(tz, 0), INT64_MAX);
	cns_tz_free(tz);
	/* DST all year (RFC 8536, 3.3.1): never a change. */
	assert_int_equal(cns_tz_from_rule("EST5EDT,0/0,J365/25", &tz, &err), 0);
	assert_int_equal(cns_tz_offset(tz, iso("2026-12-31T23:00:00Z")),
			 -4 * 3600);
	assert_int_equal(cns_tz_offset(tz, iso("2027-01-01T05:30:00Z")),
			 -4 * 3600);
	assert_int_equal(cns_tz_next_change(tz, 0), INT64_MAX);
	cns_tz_free(tz);
	/* Julian day without leap days: J60 is 1 March every year. */
	assert_int_equal(cns_tz_from_rule("XST3XDT,J60/0,J300/0", &tz, &err),
			 0);
	assert_int_equal(cns_tz_next_change(tz, iso("2028-01-01T00:00:00Z")),
			 iso("2028-03-01T03:00:00Z"));
	cns_tz_free(tz);

	assert_int_equal(cns_tz_from_rule("EST", &tz, &err), -1);
	assert_string_equal(err.message, "invalid time zone rule \"EST\"");
}

static void test_tz_errors(void **state)
{
	static const struct {
		const char *name, *message, *hint;
	} cases[] = {
		{ "Europe/Londn", "unknown time zone \"Europe/Londn\"",
		  "did you mean \"Europe/London\"?" },
		{ "Erope/London", "unknown time zone \"Erope/London\"",
		  "did you mean \"Europe/London\"?" },
		{ "europe/london", "unknown time zone \"europe/london\"",
		  "did you mean \"Europe/London\"?" },
		{ "Europe", "unknown time zone \"Europe\"",
		  "\"Europe\" is a folder of zones, such as \"Europe/...\"" },
		{ "../etc/passwd", "unknown time zone \"../etc/passwd\"",
		  "a time zone is a name from the tz database, such as "
		  "\"Europe/London\"" },
		{ "/etc/passwd", "unknown time zone \"/etc/passwd\"", NULL },
		{ "Mars/Olympus_Mons",
		  "unknown time zone \"Mars/Olympus_Mons\"", NULL },
	};
	struct cns_tz *tz = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cns_error err = { 0 };

		assert_int_equal(cns_tz_load(cases[i].name, &tz, &err), -1);
		assert_int_equal(err.code, CNS_E_CONFIG);
		assert_string_equal(err.message, cases[i].message);
		if (cases[i].hint)
			assert_string_equal(err.hint, cases[i].hint);
	}
}

/* A folder of fake zones through $TZDIR: damaged and non-TZif files. */
static void test_tz_damaged(void **state)
{
	char dir[] = "/tmp/cns-tz-XXXXXX";
	char path[256];
	FILE *f;
	struct cns_error err = { 0 };
	struct cns_tz *tz;
	char *old = getenv("TZDIR") ? strdup(getenv("TZDIR")) : NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/Text", dir);
	f = fopen(path, "w");
	fputs("not a zone\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/Short", dir);
	f = fopen(path, "w");
	{
		/* A version 2 header that promises a type it does not
		 * hold. */
		unsigned char h[60] = "TZif2";

		h[39] = 1; /* typecnt */
		fwrite(h, 1, sizeof(h), f);
	}
	fclose(f);
	setenv("TZDIR", dir, 1);

	assert_int_equal(cns_tz_load("Text", &tz, &err), -1);
	assert_string_equal(err.message, "unknown time zone \"Text\"");
	snprintf(path, sizeof(path), "\"%s/Text\": it is not a TZif file", dir);
	assert_string_equal(err.detail, path);
	cns_error_clear(&err);
	assert_int_equal(cns_tz_load("Short", &tz, &err), -1);
	snprintf(path, sizeof(path), "\"%s/Short\": the file is damaged", dir);
	assert_string_equal(err.detail, path);

	if (old) {
		setenv("TZDIR", old, 1);
		free(old);
	} else {
		unsetenv("TZDIR");
	}
	snprintf(path, sizeof(path), "%s/Text", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/Short", dir);
	unlink(path);
	rmdir(dir);
}

static void test_host_zone(void **state)
{
	struct cns_error err = { 0 };
	struct cns_tz *tz;
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	(void)state;
	setenv("TZ", "Europe/London", 1);
	assert_int_equal(cns_tz_load(NULL, &tz, &err), 0);
	assert_string_equal(cns_tz_name(tz), "Europe/London");
	assert_int_equal(cns_tz_offset(tz, iso("2026-07-01T00:00:00Z")), 3600);
	cns_tz_free(tz);
	setenv("TZ", ":America/New_York", 1);
	assert_int_equal(cns_tz_load("", &tz, &err), 0);
	assert_string_equal(cns_tz_name(tz), "America/New_York");
	cns_tz_free(tz);
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	assert_int_equal(cns_tz_load(NULL, &tz, &err), 0);
	assert_int_equal(cns_tz_offset(tz, iso("2026-07-01T00:00:00Z")), 7200);
	cns_tz_free(tz);
	setenv("TZ", "", 1);
	assert_int_equal(cns_tz_load(NULL, &tz, &err), 0);
	assert_string_equal(cns_tz_name(tz), "UTC");
	cns_tz_free(tz);
	setenv("TZ", "Nowhere/Special", 1);
	assert_int_equal(cns_tz_load(NULL, &tz, &err), -1);
	assert_string_equal(err.message,
			    "the TZ environment variable names an unknown "
			    "time zone \"Nowhere/Special\"");
	unsetenv("TZ");
	cns_error_clear(&err);
	assert_int_equal(cns_tz_load(NULL, &tz, &err), 0);
	cns_tz_free(tz);
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	}
}

/* ---- ISO 8601 ---- */

static void test_time_text(void **state)
{
	static const struct {
		const char *in, *out; /* out in Europe/London */
	} good[] = {
		{ "2026-03-29T00:30:00Z", "2026-03-29T00:30:00+00:00" },
		{ "2026-03-29T01:30:00+01:00", "2026-03-29T00:30:00+00:00" },
		{ "2026-03-29T01:30:00+0100", "2026-03-29T00:30:00+00:00" },
		{ "2026-03-29T01:30:00+01", "2026-03-29T00:30:00+00:00" },
		{ "2026-07-01 12:00Z", "2026-07-01T13:00:00+01:00" },
		{ "2026-07-01T12:00:00.999-04:00",
		  "2026-07-01T17:00:00+01:00" },
		{ "2026-07-01t12:00:00z", "2026-07-01T13:00:00+01:00" },
		/* No offset: read in the zone. */
		{ "2026-07-01T12:00:00", "2026-07-01T12:00:00+01:00" },
		{ "2026-07-01", "2026-07-01T00:00:00+01:00" },
		{ "2028-02-29T00:00:00Z", "2028-02-29T00:00:00+00:00" },
	};
	static const char *bad[] = {
		"",
		"now",
		"2026-3-29",
		"2026-02-29T00:00:00Z",
		"2026-13-01",
		"2026-01-01T24:00:00Z",
		"2026-01-01T12:60Z",
		"2026-01-01T12:00:00+",
		"2026-01-01T12:00:00+27:00",
		"2026-01-01T12:00:00Zjunk",
		"2026-01-01T12",
		"2026-01-01T12:00:00.",
	};
	struct cns_tz *lon = zone("Europe/London");
	struct cns_tz *kat = zone("Asia/Kathmandu");
	char buf[40];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct cns_error err = { 0 };
		int64_t t;

		if (cns_time_parse(good[i].in, lon, &t, &err) < 0)
			fail_msg("%s: %s", good[i].in, err.message);
		assert_string_equal(cns_time_format(t, lon, buf, sizeof(buf)),
				    good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cns_error err = { 0 };
		int64_t t;
		char want[128];

		if (cns_time_parse(bad[i], lon, &t, &err) == 0)
			fail_msg("\"%s\" parsed", bad[i]);
		snprintf(want, sizeof(want), "invalid time \"%s\"", bad[i]);
		assert_string_equal(err.message, want);
		assert_string_equal(err.hint, "write ISO 8601 such as "
					      "\"2026-03-29T00:30:00Z\" or "
					      "\"2026-03-29T01:30:00+01:00\"");
	}
	assert_string_equal(cns_time_format(iso("2026-01-01T00:00:00Z"), kat,
					    buf, sizeof(buf)),
			    "2026-01-01T05:45:00+05:45");
	/* Local mean time has seconds in its offset. */
	assert_string_equal(cns_time_format(iso("1800-01-01T00:00:00Z"), lon,
					    buf, sizeof(buf)),
			    "1799-12-31T23:58:45-00:01:15");
	assert_string_equal(cns_time_format(iso("1960-01-01T00:00:00Z"), NULL,
					    buf, sizeof(buf)),
			    "1960-01-01T00:00:00Z");
	assert_string_equal(cns_time_format_ms(1767225600123LL, buf,
					       sizeof(buf)),
			    "2026-01-01T00:00:00.123Z");
	cns_tz_free(lon);
	cns_tz_free(kat);
}

/* ---- against cronie's minute loop ---- */

/* cronie wakes at every minute, reads the local minute, and compares it
 * with its "virtual" minute (cron.c, main loop):
 *   diff 1           normal: run everything for the minute
 *   diff 2..5        woke late: run everything for each missed minute
 *   diff 6..180      jump forward (DST): wildcard jobs for now, fixed-time
 *                    jobs for each minute skipped
 *   diff -180..0     jump back (DST): wildcard jobs only, the virtual
 *                    minute stays until the clock catches up
 *   otherwise        clock reset: run everything for now
 * Fire instants from this loop (with the C library's offsets) must equal
 * the chain of cns_cron_next() (with ours).  cronie would run a fixed-time
 * job once per skipped minute that matches; the scheduler runs it once,
 * so instants are compared as sets. */
static int cronie_sim(const struct cns_cron *c, const char *zonename,
		      int64_t t0, int64_t t1, int64_t *out, int max)
{
	int n = 0;
	int64_t vt;
	bool wild = cns_cron_is_wildcard(c);

	setenv("TZ", zonename, 1);
	tzset();
#define LOCAL_MIN(T)                                                           \
	({                                                                     \
		time_t tt_ = (time_t)(T);                                      \
		struct tm tm_;                                                 \
		localtime_r(&tt_, &tm_);                                       \
		((T) + tm_.tm_gmtoff) / 60;                                    \
	})
#define FIND(VT, DOWILD, DONONWILD)                                            \
	do {                                                                   \
		if (cns_cron_matches(c, (int64_t)(VT)*60) &&                   \
		    ((wild && (DOWILD)) || (!wild && (DONONWILD))) &&          \
		    (n == 0 || out[n - 1] != T) && n < max)                    \
			out[n++] = T;                                          \
	} while (0)
	vt = LOCAL_MIN(t0);
	for (int64_t T = t0 + 60; T < t1; T += 60) {
		int64_t tr = LOCAL_MIN(T);
		int64_t diff = tr - vt;

		if (diff == 1) {
			vt = tr;
			FIND(vt, 1, 1);
		} else if (diff > 180 || diff < -180) {
			vt = tr;
			FIND(tr, 1, 1);
		} else if (diff > 5) {
			FIND(tr, 1, 0);
			do {
				vt++;
				FIND(vt, 0, 1);
			} while (vt < tr);
		} else if (diff > 0) {
			do {
				vt++;
				FIND(vt, 1, 1);
			} while (vt < tr);
		} else {
			FIND(tr, 1, 0);
		}
	}
#undef FIND
#undef LOCAL_MIN
	return n;
}

static void test_against_cronie(void **state)
{
	static const char *exprs[] = {
		"30 1 * * *",   "0,30 1 * * *", "*/30 * * * *", "15 * * * *",
		"*/20 1 * * *", "0 2 * * *",    "0 3 * * *",    "59 0 * * *",
		"0 1 * * *",    "* 1 * * *",    "@hourly",      "@daily",
		"0 */2 * * *",  "45 2 * * *",   "30 0-3 * * *", "10,50 2 * * 0",
		"0 0 * * *",    "59 1 * * *",   "0 1-3 * * *",  "*/7 2 * * *",
	};
	static const struct {
		const char *zone, *day;
	} days[] = {
		{ "Europe/London", "2026-03-29" },
		{ "Europe/London", "2026-10-25" },
		{ "America/New_York", "2026-03-08" },
		{ "America/New_York", "2026-11-01" },
		{ "Australia/Lord_Howe", "2026-04-05" },
		{ "Australia/Lord_Howe", "2026-10-04" },
		{ "Australia/Sydney", "2026-04-05" },
		{ "Australia/Sydney", "2026-10-04" },
		{ "America/Havana", "2026-03-08" }, /* jumps at midnight */
		{ "America/Havana", "2026-11-01" },
	};
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	(void)state;
	for (size_t d = 0; d < sizeof(days) / sizeof(days[0]); d++) {
		char from[40];
		struct cns_tz *tz = zone(days[d].zone);
		int64_t t0, t1;

		snprintf(from, sizeof(from), "%sT00:00:00Z", days[d].day);
		t0 = iso(from) - 86400;
		t1 = iso(from) + 2 * 86400;
		for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
			struct cns_cron c;
			int64_t want[4000], got[4000], t = t0;
			int nw, ng = 0;

			parse_ok(&c, exprs[e]);
			nw = cronie_sim(&c, days[d].zone, t0, t1, want, 4000);
			for (;;) {
				struct cns_error err = { 0 };

				assert_int_equal(
					cns_cron_next(&c, tz, t, &t, &err), 0);
				if (t >= t1 || ng == 4000)
					break;
				got[ng++] = t;
			}
			for (int i = 0; i < nw || i < ng; i++) {
				char a[40] = "-", b[40] = "-";

				if (i < nw)
					cns_time_format(want[i], tz, a,
							sizeof(a));
				if (i < ng)
					cns_time_format(got[i], tz, b,
							sizeof(b));
				if (i >= nw || i >= ng || want[i] != got[i])
					fail_msg("\"%s\" in %s around %s, fire "
						 "%d: cronie %s, ours %s",
						 exprs[e], days[d].zone,
						 days[d].day, i + 1, a, b);
			}
		}
		cns_tz_free(tz);
	}
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

/* ---- jitter ---- */

static void test_jitter(void **state)
{
	int64_t a, b;

	(void)state;
	assert_int_equal(cns_sched_jitter_offset("x", 0), 0);
	a = cns_sched_jitter_offset("customer_360", 30000);
	b = cns_sched_jitter_offset("customer_360", 30000);
	assert_int_equal(a, b);
	assert_true(a >= 0 && a < 30000);
	/* Different names spread out. */
	{
		int distinct = 0;
		int64_t seen[20];

		for (int i = 0; i < 20; i++) {
			char name[32];
			bool dup = false;

			snprintf(name, sizeof(name), "job_%d", i);
			seen[i] = cns_sched_jitter_offset(name, 30000);
			for (int j = 0; j < i; j++)
				dup |= seen[j] == seen[i];
			distinct += !dup;
		}
		assert_true(distinct >= 18);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_table),
		cmocka_unit_test(test_next_without_zone_is_utc),
		cmocka_unit_test(test_next_never),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_bitsets),
		cmocka_unit_test(test_dow_ranges_ending_sunday),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_crontab_text),
		cmocka_unit_test(test_oncalendar),
		cmocka_unit_test(test_tz_offsets),
		cmocka_unit_test(test_local_to_utc),
		cmocka_unit_test(test_tz_against_libc),
		cmocka_unit_test(test_tz_rules),
		cmocka_unit_test(test_tz_errors),
		cmocka_unit_test(test_tz_damaged),
		cmocka_unit_test(test_host_zone),
		cmocka_unit_test(test_time_text),
		cmocka_unit_test(test_against_cronie),
		cmocka_unit_test(test_jitter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
