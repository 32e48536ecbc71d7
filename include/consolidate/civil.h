/*
 * civil.h - proleptic Gregorian calendar arithmetic on plain integers,
 * the one copy that cron, time zones, the transform's dates and the ODBC
 * source share (no struct tm, no libc time zone state, so every function
 * is pure and thread-safe).
 *
 * Days are counted from 1970-01-01; the day <-> date conversions are the
 * well-known era-based algorithms (400-year cycles), exact for any year an
 * int64_t day count can reach.
 */
#ifndef CONSOLIDATE_SCHEDULE_CIVIL_H
#define CONSOLIDATE_SCHEDULE_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

struct civil {
	int64_t year;
	int month; /* 1-12 */
	int day;   /* 1-31 */
	int hour, minute, second;
};

static inline int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

static inline bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline int days_in_month(int64_t y, int m)
{
	static const int dim[13] = { 0,  31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dim[m];
}

static inline int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static inline void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static inline int weekday_from_days(int64_t z)
{
	return (int)floor_mod(z + 4, 7);
}

static inline void civil_from_seconds(int64_t s, struct civil *c)
{
	int64_t days = floor_div(s, 86400);
	int64_t sod = s - days * 86400;

	civil_from_days(days, &c->year, &c->month, &c->day);
	c->hour = (int)(sod / 3600);
	c->minute = (int)(sod / 60 % 60);
	c->second = (int)(sod % 60);
}

static inline int64_t seconds_from_civil(const struct civil *c)
{
	return days_from_civil(c->year, c->month, c->day) * 86400 +
	       c->hour * 3600 + c->minute * 60 + c->second;
}

/* Seconds of 0001-01-01 and 9000-12-31, the range the scheduler accepts. */
#define CIVIL_MIN_S (-62135596800LL)
#define CIVIL_MAX_S (221876927999LL)

#endif
