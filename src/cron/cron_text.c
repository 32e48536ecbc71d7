/*
 * cron_text.c - what the scheduler says about a cron expression: warnings
 * for `consolidate check`, and the same schedule written for crontab(5) and
 * for systemd.time(7), for `consolidate crontab` and `consolidate systemd`.
 *
 * The systemd form is rendered from the bitsets, not from the text, so it
 * cannot disagree with what the scheduler computes.
 */
#include "consolidate/cron.h"

#include <stdio.h>
#include <string.h>

#define DOM_ALL 0xfffffffeu
#define DOW_ALL 0x7fu

static bool dom_all(const struct cns_cron *c)
{
	return c->dom == DOM_ALL;
}

static bool dow_all(const struct cns_cron *c)
{
	return c->dow == DOW_ALL;
}

static const char *const dow_short[] = { "sun", "mon", "tue", "wed",
					 "thu", "fri", "sat" };

/* "*\/N" steps that do not divide their field leave one short gap. */
static int warn_step(const struct cns_cron *c, enum cns_cron_field f,
		     const char *name, int size, const char *unit,
		     struct cns_buf *out)
{
	char text[CNS_CRON_MAX + 1];
	int step, last;

	cns_cron_field_text(c, f, text, sizeof(text));
	if (strncmp(text, "*/", 2) != 0 || sscanf(text + 2, "%d", &step) != 1)
		return 0;
	if (step <= 1 || size % step == 0 || strchr(text, ','))
		return 0;
	last = (size - 1) / step * step;
	if (step >= size)
		cns_buf_printf(out,
			       "%s \"%s\" matches %s 0 only: the step is not "
			       "smaller than %d\n",
			       name, text, unit, size);
	else
		cns_buf_printf(out,
			       "%s \"%s\" does not divide %d evenly: after "
			       "%s %d the next run is at %s 0, %d %ss later, "
			       "not %d\n",
			       name, text, size, unit, last, unit, size - last,
			       unit, step);
	return 1;
}

/* Under the AND rule, days 29-31 are missing from some months. */
static int warn_short_months(const struct cns_cron *c, const char *dom,
			     struct cns_buf *out)
{
	static const int maxdim[13] = { 0,  31, 29, 31, 30, 31, 30,
					31, 31, 30, 31, 30, 31 };
	static const char *const mon[13] = { "",    "jan", "feb", "mar", "apr",
					     "may", "jun", "jul", "aug", "sep",
					     "oct", "nov", "dec" };
	char lacking[64] = "";
	int n = 0;

	for (int m = 1; m <= 12; m++) {
		uint32_t days = (((uint64_t)1 << (maxdim[m] + 1)) - 2);

		if ((c->month >> m) & 1 && !(c->dom & days)) {
			size_t l = strlen(lacking);

			snprintf(lacking + l, sizeof(lacking) - l, "%s%s",
				 l ? ", " : "", mon[m]);
		}
	}
	if (lacking[0]) {
		cns_buf_printf(out,
			       "day-of-month \"%s\" does not occur in %s: "
			       "the job does not run in those months\n",
			       dom, lacking);
		n++;
	}
	if ((c->month >> 2) & 1 && !(c->dom & ((1u << 29) - 2)) &&
	    (c->dom >> 29) & 1) {
		cns_buf_printf(out,
			       "day-of-month \"%s\" falls in February only "
			       "in leap years\n",
			       dom);
		n++;
	}
	return n;
}

int cns_cron_warnings(const struct cns_cron *c, struct cns_buf *out)
{
	char dom[CNS_CRON_MAX + 1], dow[CNS_CRON_MAX + 1];
	int n = 0;

	if (c->flags & CNS_CRON_MACRO)
		return 0;
	cns_cron_field_text(c, CNS_CRON_DOM, dom, sizeof(dom));
	cns_cron_field_text(c, CNS_CRON_DOW, dow, sizeof(dow));

	if (!dom_all(c) && !dow_all(c)) {
		if (c->flags & CNS_CRON_DOM_STAR) {
			cns_buf_printf(out,
				       "day-of-month \"%s\" starts with \"*\", "
				       "so cron combines it with day-of-week "
				       "\"%s\" by AND: the job runs only on "
				       "days that match both\n",
				       dom, dow);
			n++;
		} else if (c->flags & CNS_CRON_DOW_STAR) {
			cns_buf_printf(out,
				       "day-of-week \"%s\" starts with \"*\", "
				       "so cron combines it with day-of-month "
				       "\"%s\" by AND: the job runs only on "
				       "days that match both\n",
				       dow, dom);
			n++;
		} else {
			cns_buf_printf(out,
				       "day-of-month \"%s\" and day-of-week "
				       "\"%s\" are combined by OR: the job "
				       "runs on those days of the month and "
				       "also on every one of those weekdays\n",
				       dom, dow);
			n++;
		}
	}
	if (c->flags & (CNS_CRON_DOM_STAR | CNS_CRON_DOW_STAR))
		n += warn_short_months(c, dom, out);
	n += warn_step(c, CNS_CRON_SECOND, "second", 60, "second", out);
	n += warn_step(c, CNS_CRON_MINUTE, "minute", 60, "minute", out);
	n += warn_step(c, CNS_CRON_HOUR, "hour", 24, "hour", out);
	return n;
}

int cns_cron_crontab_text(const struct cns_cron *c, struct cns_buf *out,
			  int *delay_s, struct cns_error *err)
{
	const char *s = c->text;

	*delay_s = 0;
	if (c->flags & CNS_CRON_SECONDS) {
		if (__builtin_popcountll(c->second) != 1)
			return cns_error_set(err, CNS_E_CONFIG,
					     "schedule \"%s\" runs more than "
					     "once a minute, which cron cannot "
					     "express",
					     c->text);
		*delay_s = __builtin_ctzll(c->second);
		s = strchr(s, ' ') + 1;
	}
	cns_buf_adds(out, s);
	return 0;
}

/* ---- systemd calendar events ---- */

/* Writes the set bits low..high of a field: "*", "00/15" for a step that
 * runs to the end of the field, else a list of values and "a..b" runs. */
static void render(struct cns_buf *b, uint64_t bits, int low, int high,
		   const char *const *names)
{
	int v[64], n = 0, step;
	bool first = true;

	for (int i = low; i <= high; i++)
		if ((bits >> i) & 1)
			v[n++] = i;
	if (n == high - low + 1) {
		cns_buf_addc(b, '*');
		return;
	}
	if (n >= 2 && !names) {
		step = v[1] - v[0];
		for (int i = 2; i < n && step; i++)
			if (v[i] - v[i - 1] != step)
				step = 0;
		if (step >= 2 && v[n - 1] + step > high) {
			cns_buf_printf(b, "%02d/%d", v[0], step);
			return;
		}
	}
	for (int i = 0; i < n;) {
		int j = i;

		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (!first)
			cns_buf_addc(b, ',');
		first = false;
		if (names) {
			char nm[4];

			snprintf(nm, sizeof(nm), "%c%s", names[v[i]][0] - 32,
				 names[v[i]] + 1);
			cns_buf_adds(b, nm);
			if (j - i >= 2) {
				snprintf(nm, sizeof(nm), "%c%s",
					 names[v[j]][0] - 32, names[v[j]] + 1);
				cns_buf_printf(b, "..%s", nm);
			} else if (j > i) {
				snprintf(nm, sizeof(nm), "%c%s",
					 names[v[j]][0] - 32, names[v[j]] + 1);
				cns_buf_printf(b, ",%s", nm);
			}
		} else if (j - i >= 2) {
			cns_buf_printf(b, "%02d..%02d", v[i], v[j]);
		} else if (j > i) {
			cns_buf_printf(b, "%02d,%02d", v[i], v[j]);
		} else {
			cns_buf_printf(b, "%02d", v[i]);
		}
		i = j + 1;
	}
}

static void oncalendar_line(const struct cns_cron *c, const char *zone,
			    bool weekdays, bool days, struct cns_buf *out)
{
	cns_buf_adds(out, "OnCalendar=");
	if (weekdays) {
		render(out, c->dow, 0, 6, dow_short);
		cns_buf_addc(out, ' ');
	}
	cns_buf_adds(out, "*-");
	render(out, c->month, 1, 12, NULL);
	cns_buf_addc(out, '-');
	if (days)
		render(out, c->dom, 1, 31, NULL);
	else
		cns_buf_addc(out, '*');
	cns_buf_addc(out, ' ');
	render(out, c->hour, 0, 23, NULL);
	cns_buf_addc(out, ':');
	render(out, c->minute, 0, 59, NULL);
	cns_buf_addc(out, ':');
	render(out, c->second, 0, 59, NULL);
	if (zone)
		cns_buf_printf(out, " %s", zone);
	cns_buf_addc(out, '\n');
}

int cns_cron_oncalendar(const struct cns_cron *c, const char *zone,
			struct cns_buf *out, struct cns_buf *notes)
{
	bool and_rule = c->flags & (CNS_CRON_DOM_STAR | CNS_CRON_DOW_STAR);

	if (and_rule) {
		/* systemd combines weekday and date by AND, as cron does
		 * here. */
		oncalendar_line(c, zone, !dow_all(c), true, out);
		return 1;
	}
	if (dom_all(c) || dow_all(c)) {
		/* OR with a full field: every day. */
		oncalendar_line(c, zone, false, false, out);
		return 1;
	}
	cns_buf_adds(notes,
		     "# cron runs this job on the listed days of the month OR "
		     "on the listed\n# weekdays; systemd combines a date and a "
		     "weekday by AND, so it takes\n# two OnCalendar lines.\n");
	oncalendar_line(c, zone, false, true, out);
	oncalendar_line(c, zone, true, false, out);
	return 2;
}
