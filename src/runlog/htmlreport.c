/*
 * runlog_htmlreport.c - the HTML report (see htmlreport.h).
 *
 * Charts are SVG written by hand: a few rectangles, lines and texts per
 * chart, scaled to the data.  Every value that comes from a job file or a
 * run record is escaped before it reaches the page; run records hold no
 * secrets (they are scrubbed when written).
 */
#include "consolidate/htmlreport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/runlog.h"
#include "consolidate/status.h"
#include "consolidate/trend.h"
#include "consolidate/tz.h"
#include "internal.h"

/* Chart geometry, in SVG user units. */
#define W 720
#define H 200
#define ML 56 /* left margin: the y axis labels */
#define MR 12
#define MT 12
#define MB 28 /* bottom margin: the x axis labels */

static const char *const palette[] = { "#1f77b4", "#ff7f0e", "#2ca02c",
				       "#9467bd", "#8c564b", "#e377c2",
				       "#7f7f7f", "#bcbd22", "#17becf" };
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

static void esc(struct cns_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': cns_buf_adds(b, "&amp;"); break;
		case '<': cns_buf_adds(b, "&lt;"); break;
		case '>': cns_buf_adds(b, "&gt;"); break;
		case '"': cns_buf_adds(b, "&quot;"); break;
		case '\'': cns_buf_adds(b, "&#39;"); break;
		default: cns_buf_addc(b, *s);
		}
	}
}

/* The first line of s, escaped. */
static void esc_line(struct cns_buf *b, const char *s)
{
	size_t n = s ? strcspn(s, "\n") : 0;
	char *line = cns_xmalloc(n + 1);

	memcpy(line, s ? s : "", n);
	line[n] = '\0';
	esc(b, line);
	free(line);
}

static void time_cell(struct cns_buf *b, int64_t us)
{
	char t[40];

	if (us < 0)
		cns_buf_adds(b, "<td>-</td>");
	else
		cns_buf_printf(b, "<td>%s</td>",
			       cns_time_format(us / 1000000, NULL, t,
					       sizeof(t)));
}

static const char *status_color(enum cns_run_status status)
{
	if (status == CNS_RUN_OK)
		return "#2ca02c";
	if (status == CNS_RUN_SKIPPED)
		return "#bbbbbb";
	return "#d62728";
}

/* A round upper bound for the y axis: 1, 2 or 5 times a power of ten. */
static double nice_max(double v)
{
	double p = 1;

	if (v <= 0)
		return 1;
	while (p * 10 <= v)
		p *= 10;
	while (p > v)
		p /= 10;
	for (int i = 0; i < 3; i++) {
		static const double steps[] = { 1, 2, 5 };

		if (steps[i] * p >= v)
			return steps[i] * p;
	}
	return 10 * p;
}

static double xpos(int i, int n)
{
	return ML + (W - ML - MR) * (n > 1 ? (i + 0.5) / n : 0.5);
}

static double ypos(double v, double max)
{
	return MT + (H - MT - MB) * (1 - v / max);
}

/* The frame of a chart: axes, the y maximum, the first and last run's
 * date on the x axis. */
static void frame(struct cns_buf *b, const char *kind, const char *title,
		  double max, const struct cns_run_history *h)
{
	char t[40];

	cns_buf_printf(b,
		       "<figure class=\"chart\" data-chart=\"%s\">"
		       "<figcaption>%s</figcaption>"
		       "<svg xmlns=\"http://www.w3.org/2000/svg\" "
		       "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
		       "role=\"img\">",
		       kind, title, W, H, W, H);
	cns_buf_printf(b,
		       "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" "
		       "y2=\"%d\"/><line class=\"axis\" x1=\"%d\" y1=\"%d\" "
		       "x2=\"%d\" y2=\"%d\"/>",
		       ML, MT, ML, H - MB, ML, H - MB, W - MR, H - MB);
	cns_buf_printf(b,
		       "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%g</text>"
		       "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>",
		       ML - 4, MT + 10, max, ML - 4, H - MB);
	if (h->n > 0) {
		int64_t first = h->runs[0].started_us;
		int64_t last = h->runs[h->n - 1].started_us;

		if (first >= 0)
			cns_buf_printf(b, "<text x=\"%d\" y=\"%d\">%s</text>",
				       ML, H - 8,
				       cns_time_format(first / 1000000, NULL, t,
						       sizeof(t)));
		if (last >= 0)
			cns_buf_printf(b,
				       "<text x=\"%d\" y=\"%d\" "
				       "text-anchor=\"end\">%s</text>",
				       W - MR, H - 8,
				       cns_time_format(last / 1000000, NULL, t,
						       sizeof(t)));
	}
}

/* One run's bar; at least min_px high, so that a run much shorter than
 * the scale still shows its status colour. */
static void bar(struct cns_buf *b, int i, int n, double v, double max,
		double min_px, const char *color, const struct cns_run_entry *e,
		const char *what)
{
	double slot = (double)(W - ML - MR) / (n > 0 ? n : 1);
	double w = slot * 0.7 > 1 ? slot * 0.7 : 1;
	double y = ypos(v, max);

	if (H - MB - y < min_px)
		y = H - MB - min_px;

	cns_buf_printf(b,
		       "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" "
		       "width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
		       "<title>",
		       xpos(i, n) - w / 2, y, w, H - MB - y, color);
	esc(b, e->run_id);
	/* The status as recorded: a name this version does not know is
	 * still text from a file, escaped like the rest. */
	cns_buf_addc(b, ' ');
	esc(b, e->status_name);
	cns_buf_printf(b, ": %g %s</title></rect>", v, what);
}

/* Duration per run, coloured by status, against the interval between the
 * schedule's fire times: a run that grows towards the line will soon
 * overlap the next one. */
static void duration_chart(struct cns_buf *b, const struct cns_job_conf *job,
			   const struct cns_run_history *h, int64_t now)
{
	double max = 0, interval = 0;

	if (job && job->schedule)
		interval = (double)cns_trend_interval(job, now);
	for (int i = 0; i < h->n; i++)
		if (h->runs[i].duration_s > max)
			max = h->runs[i].duration_s;
	{
		char title[160];

		snprintf(title, sizeof(title),
			 "Duration per run (seconds; longest %.3g s); dashed: "
			 "the schedule's interval (%.0f s)",
			 max, interval);
		if (interval <= 0)
			snprintf(title, sizeof(title),
				 "Duration per run (seconds; longest %.3g s)",
				 max);
		max = nice_max(max > interval ? max : interval);
		frame(b, "duration", title, max, h);
	}
	for (int i = 0; i < h->n; i++) {
		const struct cns_run_entry *e = &h->runs[i];

		bar(b, i, h->n, e->duration_s > 0 ? e->duration_s : 0, max, 3,
		    status_color(e->status), e, "s");
	}
	if (interval > 0)
		cns_buf_printf(b,
			       "<line class=\"limit\" x1=\"%d\" y1=\"%.1f\" "
			       "x2=\"%d\" y2=\"%.1f\"><title>interval "
			       "%gs</title></line>",
			       ML, ypos(interval, max), W - MR,
			       ypos(interval, max), interval);
	cns_buf_adds(b, "</svg></figure>");
}

/* The sources that appear in any run, in order of first appearance. */
static int source_names(const struct cns_run_history *h, const char **names,
			int max)
{
	int n = 0;

	for (int i = 0; i < h->n; i++) {
		for (int k = 0; k < h->runs[i].nsources; k++) {
			const char *s = h->runs[i].sources[k].name;
			int j;

			for (j = 0; j < n; j++)
				if (!strcmp(names[j], s))
					break;
			if (j == n && n < max)
				names[n++] = s;
		}
	}
	return n;
}

static const struct cns_run_source_entry *
source_of(const struct cns_run_entry *e, const char *name)
{
	for (int k = 0; k < e->nsources; k++)
		if (!strcmp(e->sources[k].name, name))
			return &e->sources[k];
	return NULL;
}

/* Rows read per run, one line per source: a seasonal swing or a source
 * that suddenly delivers nothing shows at a glance. */
static void rows_chart(struct cns_buf *b, const struct cns_run_history *h)
{
	const char *names[NPALETTE];
	int ns = source_names(h, names, (int)NPALETTE);
	double max = 0;

	for (int i = 0; i < h->n; i++)
		for (int k = 0; k < h->runs[i].nsources; k++)
			if ((double)h->runs[i].sources[k].read > max)
				max = (double)h->runs[i].sources[k].read;
	max = nice_max(max);
	frame(b, "rows", "Rows read per run, per source", max, h);
	for (int s = 0; s < ns; s++) {
		cns_buf_printf(b,
			       "<polyline class=\"series\" fill=\"none\" "
			       "stroke=\"%s\" stroke-width=\"2\" points=\"",
			       palette[s]);
		for (int i = 0; i < h->n; i++) {
			const struct cns_run_source_entry *se =
				source_of(&h->runs[i], names[s]);

			if (se)
				cns_buf_printf(b, "%.1f,%.1f ", xpos(i, h->n),
					       ypos((double)se->read, max));
		}
		cns_buf_adds(b, "\"><title>");
		esc(b, names[s]);
		cns_buf_adds(b, "</title></polyline>");
		for (int i = 0; i < h->n; i++) {
			const struct cns_run_source_entry *se =
				source_of(&h->runs[i], names[s]);

			if (se)
				cns_buf_printf(
					b,
					"<circle cx=\"%.1f\" cy=\"%.1f\" "
					"r=\"2.5\" fill=\"%s\"/>",
					xpos(i, h->n),
					ypos((double)se->read, max),
					palette[s]);
		}
		cns_buf_printf(b, "<text x=\"%d\" y=\"%d\" fill=\"%s\">",
			       ML + 8 + 110 * s, MT + 10, palette[s]);
		esc(b, names[s]);
		cns_buf_adds(b, "</text>");
	}
	cns_buf_adds(b, "</svg></figure>");
}

/* Rejected rows per run. */
static void rejects_chart(struct cns_buf *b, const struct cns_run_history *h)
{
	double max = 0;
	double *rej = cns_xcalloc((size_t)(h->n ? h->n : 1), sizeof(*rej));

	for (int i = 0; i < h->n; i++) {
		for (int k = 0; k < h->runs[i].nsources; k++)
			rej[i] += (double)h->runs[i].sources[k].rejected;
		if (rej[i] > max)
			max = rej[i];
	}
	max = nice_max(max);
	frame(b, "rejects", "Rejected rows per run", max, h);
	for (int i = 0; i < h->n; i++)
		bar(b, i, h->n, rej[i], max, 0, "#ff7f0e", &h->runs[i],
		    "rejected");
	cns_buf_adds(b, "</svg></figure>");
	free(rej);
}

static void failures(struct cns_buf *b, const struct cns_run_history *h)
{
	int shown = 0;

	cns_buf_adds(b, "<h3>Failures</h3>");
	for (int i = h->n - 1; i >= 0; i--) {
		const struct cns_run_entry *e = &h->runs[i];

		if (e->status == CNS_RUN_OK || e->status == CNS_RUN_SKIPPED)
			continue;
		if (!shown++)
			cns_buf_adds(b, "<table class=\"failures\"><tr>"
					"<th>Run</th><th>Started (UTC)</th>"
					"<th>Status</th><th>Error</th></tr>");
		cns_buf_adds(b, "<tr><td>");
		esc(b, e->run_id);
		cns_buf_adds(b, "</td>");
		time_cell(b, e->started_us);
		cns_buf_adds(b, "<td>");
		esc(b, e->status_name);
		cns_buf_adds(b, "</td><td>");
		esc_line(b, e->error);
		cns_buf_adds(b, "</td></tr>");
	}
	if (shown)
		cns_buf_adds(b, "</table>");
	else
		cns_buf_adds(b, "<p>None among these runs.</p>");
}

static void summary(struct cns_buf *b, struct cns_job_status *js, int n)
{
	cns_buf_adds(b, "<table class=\"summary\"><tr><th>Job</th>"
			"<th>Verdict</th><th>Last run (UTC)</th>"
			"<th>Status</th><th>Last success</th>"
			"<th>Next run</th><th>Detail</th></tr>");
	for (int i = 0; i < n; i++) {
		char t[40];

		cns_buf_adds(b, "<tr><td><a href=\"#job-");
		esc(b, js[i].name);
		cns_buf_adds(b, "\">");
		esc(b, js[i].name);
		cns_buf_printf(b, "</a></td><td class=\"verdict %s\">%s</td>",
			       cns_verdict_name(js[i].verdict),
			       cns_verdict_name(js[i].verdict));
		time_cell(b, js[i].last_start_us);
		cns_buf_adds(b, "<td>");
		esc(b, js[i].has_last ? js[i].last_status : "-");
		cns_buf_adds(b, js[i].running ? ", running</td>" : "</td>");
		time_cell(b, js[i].success_us);
		if (js[i].next_s >= 0)
			cns_buf_printf(b, "<td>%s</td>",
				       cns_time_format(js[i].next_s, NULL, t,
						       sizeof(t)));
		else
			cns_buf_adds(b, "<td>-</td>");
		cns_buf_adds(b, "<td>");
		esc(b, js[i].why.len ? js[i].why.data : "");
		cns_buf_adds(b, "</td></tr>");
	}
	cns_buf_adds(b, "</table>");
}

/* A redrive reads a rejects file, not the sources, and is not one of the
 * schedule's runs: its rows and its time would stand in the charts as a
 * run's (status and history leave it out the same way). */
static void skip_redrives(struct cns_run_history *h)
{
	int n = 0;

	for (int i = 0; i < h->n; i++)
		if (!cns_run_entry_is_redrive(&h->runs[i]))
			h->runs[n++] = h->runs[i];
	h->n = n;
}

static void job_section(struct cns_buf *b, const char *file,
			const struct cns_job_status *js, int runs, int64_t now)
{
	struct cns_job_conf *job = NULL;
	struct cns_run_history h;
	struct cns_error err;

	cns_buf_adds(b, "<section class=\"job\" id=\"job-");
	esc(b, js->name);
	cns_buf_adds(b, "\"><h2>");
	esc(b, js->name);
	cns_buf_adds(b, "</h2>");
	cns_error_clear(&err);
	if (cns_config_load(file, &job, &err) < 0 ||
	    cns_runlog_history(job, runs, &h, &err) < 0) {
		char msg[1024];

		cns_buf_adds(b, "<p class=\"error\">");
		esc_line(b, cns_error_format(&err, msg, sizeof(msg)));
		cns_buf_adds(b, "</p></section>");
		cns_config_free(job);
		return;
	}
	skip_redrives(&h);
	if (h.n == 0) {
		cns_buf_adds(b, "<p>No run recorded.</p>");
	} else {
		duration_chart(b, job, &h, now);
		rows_chart(b, &h);
		rejects_chart(b, &h);
		failures(b, &h);
	}
	cns_buf_adds(b, "</section>");
	cns_run_history_release(&h);
	cns_config_free(job);
}

static const char style[] =
	"body{font-family:sans-serif;margin:2em;color:#222}"
	"table{border-collapse:collapse;margin:1em 0}"
	"th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;"
	"vertical-align:top}"
	"th{background:#f3f3f3}"
	".verdict.ok{color:#2ca02c}.verdict.failing,.verdict.error"
	"{color:#d62728;font-weight:bold}.verdict.late,.verdict.never"
	"{color:#b8860b}"
	"figure{margin:1em 0}figcaption{font-size:90%;color:#555}"
	"svg text{font-size:11px;fill:#555}"
	".axis{stroke:#999;stroke-width:1}"
	".limit{stroke:#d62728;stroke-width:1.5;stroke-dasharray:6 4}"
	".error{color:#d62728}";

void cns_htmlreport_write(const struct cns_htmlreport_opts *o,
			  struct cns_buf *b)
{
	struct cns_job_status *js =
		cns_xcalloc((size_t)(o->nfiles ? o->nfiles : 1), sizeof(*js));
	char t[40];

	for (int i = 0; i < o->nfiles; i++)
		cns_status_judge(o->files[i], o->now, &js[i]);
	cns_buf_printf(b,
		       "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		       "<meta charset=\"utf-8\">"
		       "<title>consolidate report</title>"
		       "<style>%s</style></head><body>"
		       "<h1>consolidate report</h1>"
		       "<p>As of %s UTC; the last %d runs of each job.</p>",
		       style, cns_time_format(o->now, NULL, t, sizeof(t)),
		       o->runs);
	summary(b, js, o->nfiles);
	for (int i = 0; i < o->nfiles; i++)
		job_section(b, o->files[i], &js[i], o->runs, o->now);
	cns_buf_adds(b, "</body></html>\n");
	for (int i = 0; i < o->nfiles; i++)
		cns_job_status_release(&js[i]);
	free(js);
}

int cns_htmlreport_save(const struct cns_htmlreport_opts *o, const char *path,
			struct cns_error *err)
{
	struct cns_buf b;
	int rc = 0;

	cns_buf_init(&b);
	cns_htmlreport_write(o, &b);
	if (!strcmp(path, "-")) {
		if (fwrite(b.data, 1, b.len, stdout) != b.len ||
		    fflush(stdout) != 0)
			rc = cns_error_set(err, CNS_E_IO,
					   "could not write the report: %s",
					   strerror(errno));
	} else if (cns_write_atomic(path, b.data, b.len, 0640) < 0) {
		rc = cns_error_set(err, CNS_E_IO, "could not write \"%s\": %s",
				   path, strerror(errno));
	}
	cns_buf_release(&b);
	return rc;
}
