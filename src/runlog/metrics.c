/*
 * runlog_metrics.c - the metrics file: after each run, the job's state in
 * the Prometheus text format, for node_exporter's textfile collector or
 * any scraper that reads files.
 *
 * Every sample carries job="NAME".  The last run's status is a state set
 * (one sample per known status, 1 for the current one), which alerts can
 * test without knowing numeric codes.  consolidate_rows_total is a real
 * counter: each run adds to the totals read back from the file it
 * replaces.  The file is replaced atomically, so a scraper never sees
 * half of it.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A counter carried over from the last metrics file. */
struct counter {
	char source[256];
	char kind[16];
	double value;
};

static void add_label(struct cns_buf *b, const char *name, const char *v)
{
	cns_buf_printf(b, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\')
			cns_buf_adds(b, "\\\\");
		else if (*v == '"')
			cns_buf_adds(b, "\\\"");
		else if (*v == '\n')
			cns_buf_adds(b, "\\n");
		else
			cns_buf_addc(b, *v);
	}
	cns_buf_addc(b, '"');
}

/* Reads one label value at p (just after the opening quote) into out;
 * returns the position after the closing quote, or NULL. */
static const char *read_label(const char *p, char *out, size_t size)
{
	size_t n = 0;

	for (; *p && *p != '"'; p++) {
		char c = *p;

		if (c == '\\' && p[1]) {
			p++;
			c = *p == 'n' ? '\n' : *p;
		}
		if (n + 1 < size)
			out[n++] = c;
	}
	out[n] = '\0';
	return *p == '"' ? p + 1 : NULL;
}

/* The consolidate_rows_total counters of the previous metrics file. */
static struct counter *read_counters(const char *path, int *n)
{
	static const char name[] = "consolidate_rows_total{";
	struct counter *c = NULL;
	int cap = 0;
	char line[2048];
	FILE *f = fopen(path, "r");

	*n = 0;
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		struct counter cur;
		const char *p;
		bool ok = true;

		if (strncmp(line, name, sizeof(name) - 1))
			continue;
		memset(&cur, 0, sizeof(cur));
		p = line + sizeof(name) - 1;
		while (ok && *p && *p != '}') {
			char key[32], val[256];
			size_t kn = strcspn(p, "=");

			if (kn >= sizeof(key) || p[kn] != '=' ||
			    p[kn + 1] != '"') {
				ok = false;
				break;
			}
			memcpy(key, p, kn);
			key[kn] = '\0';
			p = read_label(p + kn + 2, val, sizeof(val));
			if (!p) {
				ok = false;
				break;
			}
			if (!strcmp(key, "source"))
				snprintf(cur.source, sizeof(cur.source), "%s",
					 val);
			else if (!strcmp(key, "kind"))
				snprintf(cur.kind, sizeof(cur.kind), "%.15s",
					 val);
			if (*p == ',')
				p++;
		}
		if (!ok || *p != '}' || !cur.source[0] || !cur.kind[0])
			continue;
		cur.value = strtod(p + 1, NULL);
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			c = cns_xrealloc(c, (size_t)cap * sizeof(*c));
		}
		c[(*n)++] = cur;
	}
	fclose(f);
	return c;
}

static double take_counter(struct counter *c, int n, const char *source,
			   const char *kind)
{
	for (int i = 0; i < n; i++) {
		if (!strcmp(c[i].source, source) && !strcmp(c[i].kind, kind)) {
			double v = c[i].value;

			c[i].kind[0] = '\0'; /* taken */
			return v;
		}
	}
	return 0;
}

static void metric_head(struct cns_buf *b, const char *name, const char *type,
			const char *help)
{
	cns_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		       type);
}

static void metric_job(struct cns_buf *b, const char *name, const char *job)
{
	cns_buf_printf(b, "%s{", name);
	add_label(b, "job", job);
}

/* The end of the last successful run before this one, from runs.jsonl,
 * in seconds; 0 when there is none. */
static double last_success_s(const struct cns_job_conf *job)
{
	struct cns_run_history h;
	double t = 0;

	if (cns_runlog_history(job, 0, &h, NULL) < 0)
		return 0;
	for (int i = h.n - 1; i >= 0; i--) {
		const struct cns_run_entry *e = &h.runs[i];

		if (e->status != CNS_RUN_OK)
			continue;
		if (e->ended_us >= 0)
			t = (double)e->ended_us / 1e6;
		else if (e->started_us >= 0)
			t = (double)e->started_us / 1e6;
		break;
	}
	cns_run_history_release(&h);
	return t;
}

int cns_metrics_write(const struct cns_job_conf *jc,
		      const struct cns_run_record *r, struct cns_error *err)
{
	static const char *const kinds[] = { "read", "filtered", "rejected",
					     "loaded", "written" };
	const char *path = jc->metrics_file, *job = jc->name;
	struct counter *prev;
	int nprev;
	struct cns_buf b;
	double success;
	int64_t rejected = 0;
	char dir[PATH_MAX];
	const char *slash;
	int rc = 0;

	prev = read_counters(path, &nprev);
	success = r->status == CNS_RUN_OK ? (double)r->ended_us / 1e6
					  : last_success_s(jc);
	cns_buf_init(&b);

	metric_head(&b, "consolidate_last_run_start_timestamp_seconds", "gauge",
		    "Start of the last run, seconds since the epoch.");
	metric_job(&b, "consolidate_last_run_start_timestamp_seconds", job);
	cns_buf_printf(&b, "} %.3f\n", (double)r->started_us / 1e6);
	metric_head(&b, "consolidate_last_run_end_timestamp_seconds", "gauge",
		    "End of the last run, seconds since the epoch.");
	metric_job(&b, "consolidate_last_run_end_timestamp_seconds", job);
	cns_buf_printf(&b, "} %.3f\n", (double)r->ended_us / 1e6);
	metric_head(&b, "consolidate_last_run_duration_seconds", "gauge",
		    "Duration of the last run.");
	metric_job(&b, "consolidate_last_run_duration_seconds", job);
	cns_buf_printf(&b, "} %.3f\n",
		       (double)(r->ended_us - r->started_us) / 1e6);

	metric_head(&b, "consolidate_last_run_status", "gauge",
		    "Outcome of the last run: 1 for its status, 0 for the "
		    "others.");
	/* Every status a run can end with, from the one name table. */
	for (int s = CNS_RUN_UNKNOWN + 1; s < CNS_RUN_NSTATUS; s++) {
		metric_job(&b, "consolidate_last_run_status", job);
		cns_buf_addc(&b, ',');
		add_label(&b, "status",
			  cns_run_status_name((enum cns_run_status)s));
		cns_buf_printf(&b, "} %d\n", s == (int)r->status);
	}
	metric_head(&b, "consolidate_last_run_exit_code", "gauge",
		    "Exit code of the last run.");
	metric_job(&b, "consolidate_last_run_exit_code", job);
	cns_buf_printf(&b, "} %d\n", r->exit_code);
	metric_head(&b, "consolidate_last_success_timestamp_seconds", "gauge",
		    "End of the last successful run, seconds since the "
		    "epoch (0: none recorded).");
	metric_job(&b, "consolidate_last_success_timestamp_seconds", job);
	cns_buf_printf(&b, "} %.3f\n", success);

	metric_head(&b, "consolidate_last_run_rows", "gauge",
		    "Rows of the last run per source and kind.");
	for (int i = 0; i < r->nsources && r->sources; i++) {
		const struct cns_source_stats *s = &r->sources[i];
		const int64_t v[] = { s->read, s->filtered, s->rejected,
				      s->loaded, s->written };

		rejected += s->rejected;
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			metric_job(&b, "consolidate_last_run_rows", job);
			cns_buf_addc(&b, ',');
			add_label(&b, "source", s->name ? s->name : "?");
			cns_buf_addc(&b, ',');
			add_label(&b, "kind", kinds[k]);
			cns_buf_printf(&b, "} %lld\n", (long long)v[k]);
		}
	}
	metric_head(&b, "consolidate_rows_total", "counter",
		    "Rows over all runs recorded in this file, per source and "
		    "kind.");
	for (int i = 0; i < r->nsources && r->sources; i++) {
		const struct cns_source_stats *s = &r->sources[i];
		const char *name = s->name ? s->name : "?";
		const int64_t v[] = { s->read, s->filtered, s->rejected,
				      s->loaded, s->written };

		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			double total =
				take_counter(prev, nprev, name, kinds[k]) +
				(double)v[k];

			metric_job(&b, "consolidate_rows_total", job);
			cns_buf_addc(&b, ',');
			add_label(&b, "source", name);
			cns_buf_addc(&b, ',');
			add_label(&b, "kind", kinds[k]);
			cns_buf_printf(&b, "} %.0f\n", total);
		}
	}
	/* A source that did not run this time keeps its counters: a counter
	 * must never go back. */
	for (int i = 0; i < nprev; i++) {
		if (!prev[i].kind[0])
			continue;
		metric_job(&b, "consolidate_rows_total", job);
		cns_buf_addc(&b, ',');
		add_label(&b, "source", prev[i].source);
		cns_buf_addc(&b, ',');
		add_label(&b, "kind", prev[i].kind);
		cns_buf_printf(&b, "} %.0f\n", prev[i].value);
	}
	metric_head(&b, "consolidate_rejected_rows", "gauge",
		    "Rows rejected by the last run.");
	metric_job(&b, "consolidate_rejected_rows", job);
	cns_buf_printf(&b, "} %lld\n", (long long)rejected);
	metric_head(&b, "consolidate_last_run_source_duration_seconds", "gauge",
		    "Time each source took in the last run.");
	for (int i = 0; i < r->nsources && r->sources; i++) {
		double secs = cns_source_seconds(&r->sources[i]);

		if (secs < 0)
			continue;
		metric_job(&b, "consolidate_last_run_source_duration_seconds",
			   job);
		cns_buf_addc(&b, ',');
		add_label(&b, "source",
			  r->sources[i].name ? r->sources[i].name : "?");
		cns_buf_printf(&b, "} %.3f\n", secs);
	}

	slash = strrchr(path, '/');
	if (slash && slash != path) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		(void)cns_mkdir_p(dir);
	}
	if (cns_write_atomic(path, b.data, b.len, 0644) < 0)
		rc = cns_error_set(err, CNS_E_IO,
				   "could not write the metrics file \"%s\": "
				   "%s",
				   path, strerror(errno));
	cns_buf_release(&b);
	free(prev);
	return rc;
}
