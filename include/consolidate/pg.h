/*
 * pg.h - what the postgres source and the PostgreSQL target share: connecting
 * with errors that keep secrets out, classifying failures as transient or
 * permanent, and the COPY text format in both directions.
 */
#ifndef CONSOLIDATE_PG_H
#define CONSOLIDATE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "consolidate/chunk.h"
#include "consolidate/error.h"
#include "consolidate/util.h"

/* Connects with conninfo (application_name defaults to "consolidate",
 * client_encoding is UTF8).  `what` names the peer in messages, e.g.
 * "source \"erp\"" or "the target".  Returns NULL with err set; the
 * message carries libpq's reason, never the conninfo (it may hold a
 * password). */
PGconn *cns_pg_connect(const char *conninfo, const char *what,
		       struct cns_error *err);

/* PQexec(), counted and failable in test builds (CNS_FAIL_AT=PQexec:N
 * makes the server refuse that statement).  Every statement of the
 * engine goes through it; the caller judges the result (may be NULL) and
 * PQclear()s it. */
PGresult *cns_pq_exec(PGconn *conn, const char *sql);

/* Runs sql (one or more statements) and checks that it succeeded
 * (PGRES_COMMAND_OK or PGRES_TUPLES_OK); returns 0, or -1 with err set
 * as cns_pg_error() does, with the statement as detail.  The one checked
 * path for statements whose result is not needed. */
int cns_pg_exec_ok(PGconn *conn, const char *sql, const char *what,
		   struct cns_error *err);

/* Runs sql, expecting `expect` (PGRES_COMMAND_OK or PGRES_TUPLES_OK).
 * Returns the result (caller PQclear()s it) or NULL with err set.  */
PGresult *cns_pg_exec(PGconn *conn, const char *sql, ExecStatusType expect,
		      const char *what, struct cns_error *err);
/* Same, when the result is not needed. */
int cns_pg_command(PGconn *conn, const char *sql, const char *what,
		   struct cns_error *err);

/* Sets err from a failed result or connection: message from the server,
 * DETAIL/HINT when the server sent them, and CNS_E_TRANSIENT for failures
 * worth a retry (connection lost, admin shutdown, serialization failure,
 * deadlock, too many connections).  Returns -1. */
int cns_pg_error(PGconn *conn, const PGresult *res, enum cns_error_code code,
		 const char *what, const char *doing, struct cns_error *err);

/* True when the connection is gone, whatever libpq said about it (it may
 * still say CONNECTION_OK after the server vanished). */
bool cns_pg_conn_lost(PGconn *conn);

/* True when the SQLSTATE names a failure worth a retry. */
bool cns_pg_sqlstate_transient(const char *sqlstate);

/* Parses one COPY text-format row (without its newline) into row `row` of
 * chunk, de-escaping into the chunk's arena; \N is NULL.  With borrow,
 * fields that need no de-escaping point into `line` instead of being
 * copied, and the caller keeps line alive until the chunk is reset.
 * Returns the number of fields found (the caller compares with ncols). */
int cns_pg_copy_parse_row(struct cns_chunk *chunk, int row, const char *line,
			  size_t len, bool borrow);

/* Appends one row in COPY text format (tab-separated, escaped, \N for NULL,
 * newline-terminated). */
void cns_pg_copy_format_row(struct cns_buf *out, const struct cns_cell *cells,
			    int ncols);

#endif

/* ---- every connection of the process (pg_conns.c) ---- */

/* Connection defaults, in force unless the conninfo sets the key itself:
 * a connect gives up after connect_timeout seconds, an idle connection is
 * probed by TCP keepalives (idle, interval, count), and sent data that
 * the peer does not acknowledge ends the connection after
 * tcp_user_timeout milliseconds: the job's stall_timeout when it has one,
 * else CNS_PG_TCP_USER_TIMEOUT_MS. */
#define CNS_PG_CONNECT_TIMEOUT "30"
#define CNS_PG_KEEPALIVES_IDLE "30"
#define CNS_PG_KEEPALIVES_INTERVAL "10"
#define CNS_PG_KEEPALIVES_COUNT "3"
#define CNS_PG_TCP_USER_TIMEOUT_MS 60000

/* Sets the stall_timeout the connection defaults derive from (0: none);
 * call before the run starts its threads. */
void cns_pg_set_timeouts(int64_t stall_timeout_ms);
/* Fills keys/vals (room for 6) with the defaults above; buf (32 bytes)
 * holds a value.  Returns how many. */
int cns_pg_default_params(const char **keys, const char **vals, char *buf,
			  size_t size);

/* Adds conn to the process's list of open connections; PQfinish() takes
 * it out.  cns_pg_connect() does this for every connection. */
void cns_pg_register(PGconn *conn);
/* Marks conn as one that cns_pg_cancel_all() leaves alone (the run's own
 * records and lock). */
void cns_pg_keep(PGconn *conn);
/* Sends a cancel request to every listed connection not kept; returns how
 * many were sent.  Blocks while a peer does not answer: call it from a
 * thread nobody waits for. */
int cns_pg_cancel_all(void);
