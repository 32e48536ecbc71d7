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
