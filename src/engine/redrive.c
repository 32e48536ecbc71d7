/*
 * redrive.c - re-drives a run's rejects file through the current
 * transform (see redrive.h).
 *
 * Order matters, as in a run: the locks first; then whether the file was
 * re-driven before (a refusal leaves no log and no record); then the log
 * and the running row; then every row is transformed again, those that
 * fail written to the redrive's own rejects file; then one transaction
 * loads the rows that pass and records the redrive; then the end of the
 * run is recorded.  All rows load in one transaction, so a redrive is
 * whole or not at all; its memory is bounded by the rejects file, which
 * max_rejects keeps small.
 */
#include "consolidate/redrive.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consolidate/guard.h"
#include "consolidate/load.h"
#include "consolidate/pg.h"
#include "consolidate/rejects.h"
#include "consolidate/rejfile.h"
#include "consolidate/runlog.h"
#include "consolidate/state.h"
#include "consolidate/testhook.h"
#include "consolidate/transform.h"

#define WHAT "the target (redrive)"
/* What the loader says before the server's words when it refused a row:
 * such a row's values are the transformed ones, not the source's. */
#define TARGET_REFUSED "the target refused the row: "

struct redrive {
	const struct cns_job_conf *job;
	struct cns_redrive_result *res;
	const struct cns_rejects_file *file;
	struct cns_rejects *rejects; /* the redrive's own */
	struct cns_runlog *log;
	struct cns_source_stats *stats; /* per job source, + 1: unknown */
	int nstats;
	struct cns_error werr; /* a rejects row that was not written */
	bool loading;          /* refusals now come from the target */
};

static const char *rejects_dir(const struct cns_job_conf *job)
{
	return job->rejects_dir ? job->rejects_dir : "rejects";
}

static void rejects_path(const struct cns_job_conf *job, const char *run,
			 char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s/%s.csv.gz", rejects_dir(job), job->name,
		 run);
}

/* RUN or "last" (the newest recorded run that left a rejects file). */
static int find_file(const struct cns_job_conf *job, const char *which,
		     struct cns_redrive_result *res, struct cns_error *err)
{
	struct cns_run_history h;

	if (strcmp(which, "last") != 0) {
		snprintf(res->rejects_run, sizeof(res->rejects_run), "%s",
			 which);
		rejects_path(job, which, res->rejects_path,
			     sizeof(res->rejects_path));
		if (access(res->rejects_path, R_OK) == 0)
			return 0;
		cns_error_set(err, CNS_E_USAGE,
			      "run \"%s\" of job \"%s\" left no rejects file "
			      "(\"%s\")",
			      which, job->name, res->rejects_path);
		cns_error_hint(err, "consolidate history shows the runs and "
				    "their rejects");
		return -1;
	}
	if (cns_runlog_history(job, 0, &h, err) < 0)
		return -1;
	for (int i = h.n - 1; i >= 0; i--) {
		rejects_path(job, h.runs[i].run_id, res->rejects_path,
			     sizeof(res->rejects_path));
		if (access(res->rejects_path, R_OK) == 0) {
			snprintf(res->rejects_run, sizeof(res->rejects_run),
				 "%s", h.runs[i].run_id);
			cns_run_history_release(&h);
			return 0;
		}
	}
	cns_run_history_release(&h);
	res->rejects_path[0] = '\0';
	return cns_error_set(err, CNS_E_USAGE,
			     "no recorded run of job \"%s\" left a rejects "
			     "file",
			     job->name);
}

/* Whether the file was re-driven before; fills res->already_*. */
static int redriven_before(PGconn *conn, const struct cns_job_conf *job,
			   struct cns_redrive_result *res,
			   struct cns_error *err)
{
	struct cns_buf q;
	PGresult *r;

	cns_buf_init(&q);
	cns_buf_adds(&q, "SELECT run_id, to_char(at AT TIME ZONE 'UTC', "
			 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM "
			 "consolidate.redrives WHERE job = ");
	cns_pg_quote_literal(&q, job->name);
	cns_buf_adds(&q, " AND rejects_run = ");
	cns_pg_quote_literal(&q, res->rejects_run);
	r = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, WHAT, err);
	cns_buf_release(&q);
	if (!r)
		return -1;
	if (PQntuples(r) > 0) {
		res->already = true;
		snprintf(res->already_by, sizeof(res->already_by), "%s",
			 PQgetvalue(r, 0, 0));
		snprintf(res->already_at, sizeof(res->already_at), "%s",
			 PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return 0;
}

static struct cns_source_stats *stats_of(struct redrive *rd, const char *source)
{
	for (int i = 0; i < rd->job->nsources; i++)
		if (!strcmp(rd->job->sources[i].name, source))
			return &rd->stats[i];
	return &rd->stats[rd->nstats - 1];
}

/* How many values a row was recorded with (none for a record that never
 * became columns). */
static int recorded_values(const struct cns_rejected_row *row)
{
	return row->nvalues < 0 ? 0 : row->nvalues;
}

/* Writes a row that still fails, with its source row number as
 * recorded. */
static void still_fails(struct redrive *rd, const struct cns_rejected_row *row,
			const struct cns_reject *now)
{
	struct cns_reject rej = {
		.source = row->source,
		.rownum = row->rownum,
		.origin = row->origin,
		.column = now ? now->column : row->column,
		.reason = now ? now->reason : row->reason,
		.values = now ? now->values : row->values,
		.nvalues = now ? now->nvalues : recorded_values(row),
		.colnames = now ? now->colnames : row->names,
	};
	struct cns_error e;

	cns_error_clear(&e);
	stats_of(rd, row->source)->rejected++;
	if (rd->loading)
		stats_of(rd, row->source)->loaded--;
	rd->res->failing++;
	if (cns_rejects_add(rd->rejects, &rej, &e) < 0 &&
	    !cns_error_isset(&rd->werr))
		rd->werr = e;
}

/* Rows carry their index in the file as row number while they are
 * transformed and loaded, so that a refusal finds its record. */
static void on_reject(void *ctx, const struct cns_reject *r)
{
	struct redrive *rd = ctx;

	if (r->rownum < 0 || r->rownum >= rd->file->n)
		return;
	still_fails(rd, &rd->file->rows[r->rownum], r);
}

static bool target_refused(const struct cns_rejected_row *row)
{
	return !strncmp(row->reason, TARGET_REFUSED, strlen(TARGET_REFUSED));
}

/* Rows of one shape: source values (not a target's refusal) of the same
 * source under the same column names. */
static bool same_shape(const struct cns_rejected_row *a,
		       const struct cns_rejected_row *b)
{
	if (a->nvalues != b->nvalues || strcmp(a->source, b->source) ||
	    target_refused(a) || target_refused(b) || a->nvalues < 0)
		return false;
	for (int k = 0; k < a->nvalues; k++)
		if (strcmp(a->names[k], b->names[k]))
			return false;
	return true;
}

/* A row the target refused holds the transformed values: it goes to out
 * as it is, its columns matched by name. */
static bool add_transformed(const struct cns_schema *s,
			    const struct cns_rejected_row *row, int64_t idx,
			    struct cns_chunk *out)
{
	int r, found = 0;

	r = cns_chunk_add_row(out, idx, row->origin);
	for (int c = 0; c < s->ncols; c++)
		for (int k = 0; k < row->nvalues; k++)
			if (!strcmp(row->names[k], s->cols[c].name)) {
				found++;
				if (!row->values[k].null)
					cns_chunk_set_ref(out, r, c,
							  row->values[k].data,
							  row->values[k].len);
			}
	if (found == s->ncols)
		return true;
	cns_chunk_drop_last(out);
	return false;
}

/* Every row of the file that carries source values of one shape (source
 * and columns) as `first`, through one program bound to them. */
static int transform_group(struct redrive *rd, const struct cns_transform *xf,
			   int first, bool *done, struct cns_chunk *out,
			   struct cns_error *err)
{
	const struct cns_rejected_row *g = &rd->file->rows[first];
	const struct cns_source_conf *sc =
		cns_config_source(rd->job, g->source);
	struct cns_program *prog = NULL;
	struct cns_eval_stats es = { 0, 0 };
	struct cns_chunk in;
	struct cns_error berr;
	int n = 0, rc = 0;

	for (int i = first; i < rd->file->n; i++)
		n += !done[i] && same_shape(&rd->file->rows[i], g);
	cns_chunk_init(&in, g->nvalues, n);
	for (int i = first; i < rd->file->n; i++) {
		const struct cns_rejected_row *row = &rd->file->rows[i];
		int r;

		if (done[i] || !same_shape(row, g))
			continue;
		done[i] = true;
		r = cns_chunk_add_row(&in, i, row->origin);
		for (int k = 0; k < row->nvalues; k++)
			if (!row->values[k].null)
				cns_chunk_set_ref(&in, r, k,
						  row->values[k].data,
						  row->values[k].len);
	}
	stats_of(rd, g->source)->read += n;
	cns_error_clear(&berr);
	if (!sc) {
		cns_error_set(&berr, CNS_E_CONFIG,
			      "source \"%s\" is no longer in the job",
			      g->source);
	} else if (cns_transform_bind(xf, g->source, g->nvalues, g->names,
				      &prog, &berr) == 0 &&
		   sc->timezone) {
		cns_program_set_timezone(prog, sc->timezone, &berr);
	}
	if (cns_error_isset(&berr)) {
		/* The transform cannot take these values any more (a
		 * column it reads is not among them): each row still
		 * fails, with that reason. */
		struct cns_reject now = { .reason = berr.message };

		for (int r = 0; r < in.nrows; r++) {
			const struct cns_rejected_row *row =
				&rd->file->rows[in.rownum[r]];

			now.values = row->values;
			now.nvalues = row->nvalues;
			now.colnames = row->names;
			still_fails(rd, row, &now);
		}
	} else if (cns_program_run(prog, &in, out, on_reject, rd, &es, err) <
		   0) {
		rc = -1;
	}
	rd->res->filtered += es.filtered;
	stats_of(rd, g->source)->filtered += es.filtered;
	cns_program_free(prog);
	/* out refers to the file's values, not to in's cells. */
	cns_chunk_release(&in);
	return rc;
}

static int transform_all(struct redrive *rd, const struct cns_transform *xf,
			 struct cns_chunk *out, struct cns_error *err)
{
	const struct cns_schema *s = cns_transform_schema(xf);
	bool *done = cns_xcalloc((size_t)rd->file->n + 1, sizeof(bool));
	int rc = 0;

	for (int i = 0; i < rd->file->n && rc == 0; i++) {
		const struct cns_rejected_row *row = &rd->file->rows[i];

		if (done[i])
			continue;
		if (row->nvalues < 0) {
			/* A record that never became columns (a broken CSV
			 * line): nothing to run through the transform. */
			done[i] = true;
			stats_of(rd, row->source)->read++;
			still_fails(rd, row, NULL);
			continue;
		}
		if (target_refused(row)) {
			done[i] = true;
			stats_of(rd, row->source)->read++;
			if (!add_transformed(s, row, i, out))
				still_fails(rd, row, NULL);
			continue;
		}
		rc = transform_group(rd, xf, i, done, out, err);
	}
	free(done);
	return rc;
}

/* The transaction: the rows, the check that the redrive still holds the
 * job's lock, and the row that says the file was re-driven. */
static int load(struct redrive *rd, const struct cns_transform *xf,
		struct cns_lock *lock, struct cns_chunk *out,
		struct cns_error *err)
{
	const struct cns_schema *s = cns_transform_schema(xf);
	struct cns_loader *l;
	struct cns_load_stats ls = { 0, 0, 0 };
	struct cns_buf q;
	int rc;

	if (cns_target_prepare(rd->job, s, err) < 0)
		return -1;
	l = cns_loader_open(rd->job, s, "the re-driven rows", err);
	if (!l)
		return -1;
	cns_loader_on_reject(l, "redrive", on_reject, rd);
	cns_buf_init(&q);
	cns_lock_check_sql(lock, rd->job, &q);
	cns_buf_adds(&q, "INSERT INTO consolidate.redrives (job, rejects_run, "
			 "run_id) VALUES (");
	cns_pg_quote_literal(&q, rd->job->name);
	cns_buf_adds(&q, ", ");
	cns_pg_quote_literal(&q, rd->res->rejects_run);
	cns_buf_adds(&q, ", ");
	cns_pg_quote_literal(&q, rd->res->run_id);
	cns_buf_adds(&q, ")");
	/* Each row counts as loaded until the target refuses it. */
	for (int r = 0; r < out->nrows; r++)
		stats_of(rd, rd->file->rows[out->rownum[r]].source)->loaded++;
	rd->loading = true;
	rc = cns_loader_load(l, out, q.data, &ls, err);
	rd->loading = false;
	cns_buf_release(&q);
	cns_loader_close(l);
	for (int i = 0; i < rd->nstats; i++) {
		if (rc < 0)
			rd->stats[i].loaded = 0;
		rd->stats[i].chunks = rc == 0 && rd->stats[i].loaded;
	}
	if (rc == 0)
		rd->res->loaded = ls.sent;
	return rc;
}

static void record(struct redrive *rd, PGconn *conn, int rc,
		   const struct cns_error *err)
{
	struct cns_run_record rec;
	struct cns_error e2;
	struct cns_buf sj;
	json_t *srcs;
	int n = rd->stats[rd->nstats - 1].read ? rd->nstats : rd->nstats - 1;

	memset(&rec, 0, sizeof(rec));
	rec.kind = "redrive";
	rec.status = rc == 0 ? CNS_RUN_OK : CNS_RUN_FAILED;
	rec.exit_code = cns_error_exit_code(rc == 0 ? CNS_OK : err->code);
	rec.error = rc == 0 ? NULL : err->message;
	rec.nsources = n;
	rec.sources = rd->stats;
	cns_error_clear(&e2);
	cns_runlog_finish(rd->log, &rec, &e2);
	if (!conn || PQstatus(conn) != CONNECTION_OK)
		return;
	srcs = cns_json_checked(json_object());
	for (int i = 0; i < n; i++) {
		const struct cns_source_stats *st = &rd->stats[i];
		json_t *so = cns_json_checked(json_object());

		cns_json_set(so, "read", json_integer(st->read));
		cns_json_set(so, "filtered", json_integer(st->filtered));
		cns_json_set(so, "rejected", json_integer(st->rejected));
		cns_json_set(so, "loaded", json_integer(st->loaded));
		cns_json_set(srcs, st->name ? st->name : "?", so);
	}
	cns_buf_init(&sj);
	cns_json_dump(srcs, &sj);
	json_decref(srcs);
	cns_error_clear(&e2);
	cns_state_run_end(conn, rd->res->run_id,
			  cns_run_status_name(rec.status), rec.exit_code,
			  sj.data, rd->res->failing, rec.error, &e2);
	cns_buf_release(&sj);
}

int cns_redrive(const struct cns_job_conf *job,
		const struct cns_redrive_options *opt,
		struct cns_redrive_result *res, struct cns_error *err)
{
	struct cns_lock lock = { .fd = -1 };
	struct cns_rejects_file file;
	struct cns_transform *xf = NULL;
	struct cns_chunk out;
	struct redrive rd;
	PGconn *conn = NULL;
	int64_t started_us = cns_wall_us();
	char host[256] = "";
	bool have_file = false, have_out = false;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&rd, 0, sizeof(rd));
	rd.job = job;
	rd.res = res;
	cns_error_clear(&rd.werr);
	if (job->target.mode == CNS_MODE_REPLACE) {
		cns_error_set(err, CNS_E_CONFIG,
			      "job \"%s\" loads in mode replace: a redrive "
			      "would replace the table with the re-driven "
			      "rows alone",
			      job->name);
		cns_error_hint(err, "run the job again: mode replace reads "
				    "every row of every source each run");
		return -1;
	}
	cns_run_id_new(started_us, res->run_id, sizeof(res->run_id));
	if (find_file(job, opt->which, res, err) < 0)
		return -1;
	lock.stop = opt->signal_flag;
	if (cns_lock_acquire(&lock, job, res->run_id, opt->wait_lock_ms, err) <
	    0)
		return -1;
	conn = cns_pg_connect(job->target.conninfo, "the target", err);
	if (!conn || cns_state_ensure(conn, err) < 0 ||
	    redriven_before(conn, job, res, err) < 0)
		goto out;
	if (res->already) {
		cns_error_set(err, CNS_E_USAGE,
			      "the rejects of run %s were re-driven already, "
			      "by run %s at %s: nothing was done",
			      res->rejects_run, res->already_by,
			      res->already_at);
		cns_error_hint(err,
			       "re-drive the rows that still failed "
			       "from that run's own rejects file: "
			       "consolidate redrive JOB.conf %s",
			       res->already_by);
		goto out;
	}
	rd.log = cns_runlog_open(job, res->run_id, started_us, err);
	if (!rd.log)
		goto out;
	snprintf(res->log_path, sizeof(res->log_path), "%s",
		 cns_runlog_path(rd.log));
	rd.nstats = job->nsources + 1;
	rd.stats = cns_xcalloc((size_t)rd.nstats, sizeof(*rd.stats));
	for (int i = 0; i < job->nsources; i++)
		rd.stats[i].name = job->sources[i].name;
	rd.stats[job->nsources].name = "(unknown source)";
	gethostname(host, sizeof(host) - 1);
	{
		struct cns_run_row row = {
			.run_id = res->run_id,
			.job = job->name,
			.host = host,
			.pid = (long)getpid(),
			.started_us = started_us,
			.kind = "redrive",
		};

		if (cns_state_mark_crashed(conn, job->name, err) < 0 ||
		    cns_state_run_begin(conn, &row, err) < 0)
			goto end;
	}
	cns_runlog_log(rd.log, CNS_LOG_INFO, "redrive", NULL,
		       "re-driving the rejects of a run",
		       CNS_KV_STR("rejects_run", res->rejects_run),
		       CNS_KV_STR("file", res->rejects_path));
	if (cns_rejects_file_read(res->rejects_path, &file, err) < 0)
		goto end;
	have_file = true;
	rd.file = &file;
	res->rows = file.n;
	if (cns_transform_load(job->transforms, started_us, &xf, err) < 0)
		goto end;
	rd.rejects = cns_rejects_open(job, res->run_id);
	cns_chunk_init(&out, cns_transform_schema(xf)->ncols,
		       file.n ? file.n : 1);
	have_out = true;
	if (transform_all(&rd, xf, &out, err) < 0)
		goto end;
	if (cns_error_isset(&rd.werr)) {
		*err = rd.werr;
		goto end;
	}
	CNS_HOOK("redrive.transformed");
	rc = load(&rd, xf, &lock, &out, err);
	if (rc == 0 && cns_error_isset(&rd.werr)) {
		/* Too late to keep the rows out: the file lost a row that
		 * is in neither place.  Said loudly. */
		*err = rd.werr;
		rc = -1;
	}
	CNS_HOOK("redrive.loaded");
end:
	if (rd.rejects) {
		struct cns_error e2;

		cns_error_clear(&e2);
		if (cns_rejects_finish(rd.rejects, &e2) < 0 && rc == 0) {
			*err = e2;
			rc = -1;
		}
		if (cns_rejects_path(rd.rejects))
			snprintf(res->new_rejects, sizeof(res->new_rejects),
				 "%s", cns_rejects_path(rd.rejects));
	}
	if (rd.log) {
		for (int i = 0; i < rd.nstats; i++)
			rd.stats[i].state = CNS_SRC_DONE;
		if (rc == 0)
			cns_runlog_log(rd.log, CNS_LOG_INFO, "redrive", NULL,
				       "rejects re-driven",
				       CNS_KV_INT("rows", res->rows),
				       CNS_KV_INT("loaded", res->loaded),
				       CNS_KV_INT("filtered", res->filtered),
				       CNS_KV_INT("still_failing",
						  res->failing));
		else
			cns_runlog_put(rd.log, CNS_LOG_ERROR, "redrive", NULL,
				       err->message, NULL);
		record(&rd, conn, rc, err);
	}
	if (rd.rejects)
		cns_rejects_close(rd.rejects, NULL);
	cns_target_release(job);
out:
	if (have_out)
		cns_chunk_release(&out);
	if (have_file)
		cns_rejects_file_release(&file);
	cns_transform_free(xf);
	free(rd.stats);
	cns_runlog_close(rd.log);
	if (conn)
		PQfinish(conn);
	cns_lock_release(&lock);
	return rc;
}
