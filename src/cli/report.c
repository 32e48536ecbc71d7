/*
 * report.c - progress line and summary table of `consolidate run`.
 */
#include "report.h"

#include <string.h>

char *cns_report_count(int64_t n, char *buf, size_t size)
{
	char raw[32];
	size_t len, o = 0;

	snprintf(raw, sizeof(raw), "%lld", (long long)(n < 0 ? -n : n));
	len = strlen(raw);
	if (n < 0 && o + 1 < size)
		buf[o++] = '-';
	for (size_t i = 0; i < len && o + 1 < size; i++) {
		if (i && (len - i) % 3 == 0 && o + 2 < size)
			buf[o++] = ',';
		buf[o++] = raw[i];
	}
	buf[o] = '\0';
	return buf;
}

static double seconds_of(const struct cns_source_stats *s, int64_t now_ms)
{
	int64_t end;

	if (!s->started_ms)
		return 0;
	end = s->finished_ms ? s->finished_ms : now_ms;
	return (double)(end - s->started_ms) / 1000.0;
}

static int64_t rate_of(const struct cns_source_stats *s, int64_t now_ms)
{
	double secs = seconds_of(s, now_ms);

	return secs > 0.05 ? (int64_t)((double)s->read / secs) : 0;
}

void cns_report_progress(FILE *out, const struct cns_source_stats *st, int n,
			 int64_t now_ms)
{
	char line[512];
	size_t o = 0;

	for (int i = 0; i < n && o < sizeof(line) - 1; i++) {
		char rows[32], rate[32];

		if (st[i].state == CNS_SRC_SKIPPED)
			continue;
		o += (size_t)snprintf(
			line + o, sizeof(line) - o, "%s%s %s rows %s/s%s",
			o ? "  |  " : "", st[i].name,
			cns_report_count(st[i].read, rows, sizeof(rows)),
			cns_report_count(rate_of(&st[i], now_ms), rate,
					 sizeof(rate)),
			st[i].state == CNS_SRC_DONE      ? " done"
			: st[i].state == CNS_SRC_FAILED  ? " failed"
			: st[i].state == CNS_SRC_PENDING ? " waiting"
							 : "");
	}
	if (o >= sizeof(line))
		o = sizeof(line) - 1;
	line[o] = '\0';
	fprintf(out, "\r\033[K%s", line);
	fflush(out);
}

void cns_report_progress_clear(FILE *out)
{
	fprintf(out, "\r\033[K");
	fflush(out);
}

static const char *state_name(enum cns_source_state s)
{
	switch (s) {
	case CNS_SRC_PENDING: return "not run";
	case CNS_SRC_RUNNING: return "stopped";
	case CNS_SRC_DONE: return "ok";
	case CNS_SRC_FAILED: return "failed";
	case CNS_SRC_SKIPPED: return "skipped";
	}
	return "?";
}

void cns_report_summary(FILE *out, const struct cns_source_stats *st, int n,
			int64_t now_ms)
{
	struct cns_source_stats total;
	char c[6][32];

	memset(&total, 0, sizeof(total));
	fprintf(out, "%-16s %-8s %12s %10s %10s %12s %12s %8s %10s\n", "source",
		"status", "read", "filtered", "rejected", "loaded", "changed",
		"seconds", "rows/s");
	for (int i = 0; i < n; i++) {
		const struct cns_source_stats *s = &st[i];

		fprintf(out, "%-16s %-8s %12s %10s %10s %12s %12s %8.1f %10s\n",
			s->name, state_name(s->state),
			cns_report_count(s->read, c[0], 32),
			cns_report_count(s->filtered, c[1], 32),
			cns_report_count(s->rejected, c[2], 32),
			cns_report_count(s->loaded, c[3], 32),
			cns_report_count(s->written, c[4], 32),
			seconds_of(s, now_ms),
			cns_report_count(rate_of(s, now_ms), c[5], 32));
		total.read += s->read;
		total.filtered += s->filtered;
		total.rejected += s->rejected;
		total.loaded += s->loaded;
		total.written += s->written;
	}
	if (n > 1)
		fprintf(out, "%-16s %-8s %12s %10s %10s %12s %12s\n", "total",
			"", cns_report_count(total.read, c[0], 32),
			cns_report_count(total.filtered, c[1], 32),
			cns_report_count(total.rejected, c[2], 32),
			cns_report_count(total.loaded, c[3], 32),
			cns_report_count(total.written, c[4], 32));
}
