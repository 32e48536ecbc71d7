/*
 * shard_runs.c - the sharded runs of a job, read from the target's plan
 * tables (consolidate.shard_runs and consolidate.shards, see shard.h):
 * runs.jsonl knows the runs of this host, while the shards of a run
 * planned for a cluster ran wherever the scheduler put them and only
 * the target saw them all.
 */
#include "shard_runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/pg.h"
#include "consolidate/util.h"

int cns_cli_print_shard_runs(const struct cns_job_conf *job, int limit)
{
	struct cns_error err;
	struct cns_buf q;
	PGconn *conn;
	PGresult *res;
	char *lit;
	int n;

	cns_error_clear(&err);
	conn = cns_pg_connect(job->target.conninfo, "the target", &err);
	if (!conn) {
		fprintf(stderr,
			"consolidate: warning: sharded runs not shown: "
			"%s\n",
			err.message);
		return 0;
	}
	res = cns_pq_exec(conn, "SELECT to_regclass('consolidate.shard_runs') "
				"IS NOT NULL AND to_regclass("
				"'consolidate.shards') IS NOT NULL");
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		PQfinish(conn);
		return 0;
	}
	PQclear(res);
	lit = PQescapeLiteral(conn, job->name, strlen(job->name));
	cns_buf_init(&q);
	cns_buf_printf(
		&q,
		"SELECT r.run_id, to_char(r.planned_at AT TIME ZONE 'UTC', "
		"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), r.state, "
		"count(*) FILTER (WHERE s.state = 'done') || '/' || r.nshards, "
		"coalesce(r.rows::text, '-'), "
		"coalesce(string_agg(s.shard || ' ' || s.state, ', ' "
		"ORDER BY s.shard) FILTER (WHERE s.state <> 'done'), '') "
		"FROM consolidate.shard_runs r LEFT JOIN consolidate.shards s "
		"USING (run_id) WHERE r.job = %s "
		"GROUP BY r.run_id ORDER BY r.planned_at DESC, r.run_id DESC "
		"LIMIT %d",
		lit ? lit : "NULL", limit);
	PQfreemem(lit);
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the target", &err);
	cns_buf_release(&q);
	if (!res) {
		fprintf(stderr,
			"consolidate: warning: sharded runs not shown: "
			"%s\n",
			err.message);
		PQfinish(conn);
		return 0;
	}
	n = PQntuples(res);
	if (n > 0) {
		printf("\nSHARDED RUN  PLANNED (UTC)  STATE  SHARDS DONE  "
		       "ROWS  NOT DONE\n");
		for (int i = 0; i < n; i++)
			printf("%s  %s  %s  %s  %s  %s\n",
			       PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			       PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
			       PQgetvalue(res, i, 4),
			       *PQgetvalue(res, i, 5) ? PQgetvalue(res, i, 5)
						      : "-");
	}
	PQclear(res);
	PQfinish(conn);
	return n;
}

/* Index of a shard state in the counts; an unknown state counts as
 * pending, the state a rerun gives it. */
static int state_index(const char *s)
{
	if (strcmp(s, "done") == 0)
		return CNS_SHS_DONE;
	if (strcmp(s, "running") == 0)
		return CNS_SHS_RUNNING;
	if (strcmp(s, "failed") == 0)
		return CNS_SHS_FAILED;
	return CNS_SHS_PENDING;
}

int cns_cli_shard_status_read(const struct cns_job_conf *job,
			      struct cns_cli_shard_status *st,
			      struct cns_error *err)
{
	struct cns_buf q;
	PGconn *conn;
	PGresult *res;
	int found = 0;

	memset(st, 0, sizeof(*st));
	st->rows = -1;
	conn = cns_pg_connect(job->target.conninfo, "the target", err);
	if (!conn)
		return -1;
	res = cns_pq_exec(conn, "SELECT to_regclass('consolidate.shard_runs') "
				"IS NOT NULL AND to_regclass("
				"'consolidate.shards') IS NOT NULL");
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		goto out;
	PQclear(res);
	/* The newest run of the job and all its shards, in one statement:
	 * each row carries the run's columns. */
	cns_buf_init(&q);
	cns_buf_adds(&q, "WITH r AS (SELECT run_id, state, planned_at, rows "
			 "FROM consolidate.shard_runs WHERE job = ");
	cns_pg_quote_literal(&q, job->name);
	cns_buf_adds(
		&q,
		" ORDER BY planned_at DESC, run_id DESC LIMIT 1) "
		"SELECT r.run_id, r.state, to_char(r.planned_at AT TIME ZONE "
		"'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), r.rows, "
		"s.shard, s.source, s.state, s.rows, to_char(s.updated_at AT "
		"TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
		"FROM r LEFT JOIN consolidate.shards s USING (run_id) "
		"ORDER BY s.shard");
	res = cns_pg_exec(conn, q.data, PGRES_TUPLES_OK, "the target", err);
	cns_buf_release(&q);
	if (!res) {
		found = -1;
		goto out;
	}
	if (PQntuples(res) == 0)
		goto out;
	found = 1;
	snprintf(st->run_id, sizeof(st->run_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(st->state, sizeof(st->state), "%s", PQgetvalue(res, 0, 1));
	snprintf(st->planned, sizeof(st->planned), "%s", PQgetvalue(res, 0, 2));
	if (!PQgetisnull(res, 0, 3))
		st->rows = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	st->v = cns_xcalloc((size_t)PQntuples(res), sizeof(*st->v));
	for (int i = 0; i < PQntuples(res); i++) {
		struct cns_cli_shard_row *r = &st->v[st->n];

		if (PQgetisnull(res, i, 4))
			continue;
		r->shard = atoi(PQgetvalue(res, i, 4));
		snprintf(r->source, sizeof(r->source), "%s",
			 PQgetvalue(res, i, 5));
		snprintf(r->state, sizeof(r->state), "%s",
			 PQgetvalue(res, i, 6));
		r->rows = PQgetisnull(res, i, 7)
				  ? -1
				  : strtoll(PQgetvalue(res, i, 7), NULL, 10);
		snprintf(r->updated, sizeof(r->updated), "%s",
			 PQgetvalue(res, i, 8));
		st->count[state_index(r->state)]++;
		st->n++;
	}
out:
	PQclear(res);
	PQfinish(conn);
	return found;
}

void cns_cli_shard_status_release(struct cns_cli_shard_status *st)
{
	free(st->v);
	memset(st, 0, sizeof(*st));
}
