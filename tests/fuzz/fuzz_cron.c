/*
 * fuzz_cron.c - libFuzzer target for cron expressions: the input is
 * parsed as a schedule; when it parses, every reader of a parsed
 * expression runs on it: the next fire times in UTC and in a zone with
 * DST changes, the warnings, the text of each field, the crontab line and
 * the systemd OnCalendar lines.
 *
 * Built and run by `make fuzz`; seeds are tests/fuzz/seeds/cron.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_util.h"

#include "consolidate/error.h"
#include "consolidate/schedule.h"
#include "consolidate/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cns_tz *zone;
	static int loaded;
	struct cns_cron c;
	struct cns_error err;
	struct cns_buf out, notes;
	char *text, field[CNS_CRON_MAX + 1];
	int64_t t, next;
	int delay;

	if (!loaded) {
		cns_error_clear(&err);
		loaded = 1;
		if (cns_tz_load("Europe/London", &zone, &err) < 0)
			zone = NULL;
	}
	text = fuzz_text(data, size);
	if (!text)
		return 0;
	cns_error_clear(&err);
	if (cns_cron_parse(&c, text, &err) == 0) {
		cns_buf_init(&out);
		cns_buf_init(&notes);
		/* a few fire times across a year with two DST changes */
		t = 1774000000; /* March 2026 */
		for (int i = 0; i < 4; i++) {
			cns_error_clear(&err);
			if (cns_cron_next(&c, i % 2 ? zone : NULL, t, &next,
					  &err) < 0)
				break;
			t = next;
		}
		cns_cron_warnings(&c, &out);
		for (int f = CNS_CRON_SECOND; f <= CNS_CRON_DOW; f++)
			cns_cron_field_text(&c, (enum cns_cron_field)f, field,
					    sizeof(field));
		cns_error_clear(&err);
		cns_cron_crontab_text(&c, &out, &delay, &err);
		cns_cron_oncalendar(&c, "Europe/London", &out, &notes);
		cns_buf_release(&out);
		cns_buf_release(&notes);
	}
	free(text);
	return 0;
}
