/*
 * pg.c - libpq helpers shared by the postgres source and the target loader.
 */
#include "consolidate/pg.h"

#include <stdio.h>
#include <string.h>

#include "consolidate/testhook.h"

/* Server notices ("schema already exists, skipping") are not for the
 * person running the job: libpq's default prints them on stderr, which
 * under cron becomes a mail. */
static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

PGconn *cns_pg_connect(const char *conninfo, const char *what,
		       struct cns_error *err)
{
	const char *keys[12], *vals[12];
	char buf[32];
	PGconn *conn;
	char *msg, *nl;
	int n;

	/* dbname carries the whole conninfo string (expand_dbname).  libpq
	 * takes the keys in order, the last value winning: the timeout and
	 * keepalive defaults come before it, so that the conninfo can
	 * override them, application_name and client_encoding after. */
	n = cns_pg_default_params(keys, vals, buf, sizeof(buf));
	keys[n] = "dbname";
	vals[n++] = conninfo;
	keys[n] = "application_name";
	vals[n++] = "consolidate";
	keys[n] = "client_encoding";
	vals[n++] = "UTF8";
	keys[n] = NULL;
	vals[n] = NULL;
	conn = cns_fail_now("PQconnectdb") ? NULL
					   : PQconnectdbParams(keys, vals, 1);
	if (conn && PQstatus(conn) == CONNECTION_OK) {
		cns_pg_register(conn);
		PQsetNoticeProcessor(conn, ignore_notice, NULL);
		/* Values travel as text between two sessions: both must write
		 * and read dates the same way, and floats exactly, whatever
		 * the servers' defaults.  A session where they did not take
		 * would move wrong values without a word: it is refused. */
		if (cns_pg_exec_ok(conn,
				   "SET DateStyle = 'ISO, YMD'; "
				   "SET IntervalStyle = 'postgres'; "
				   "SET extra_float_digits = 3",
				   what, err) < 0) {
			PQfinish(conn);
			return NULL;
		}
		return conn;
	}
	msg = conn ? PQerrorMessage(conn)
		   : "could not allocate the connection (out of memory)";
	cns_error_set(err, CNS_E_TRANSIENT, "could not connect to %s: %s", what,
		      msg);
	/* libpq messages end with a newline; keep the first line only in
	 * the message and the rest as detail. */
	if (err && (nl = strchr(err->message, '\n')) != NULL) {
		*nl = '\0';
		if (nl[1])
			cns_error_detail(err, "%s", nl + 1);
		nl = strrchr(err->detail, '\n');
		if (nl && nl[1] == '\0')
			*nl = '\0';
	}
	/* A refused password or a missing database will not heal by
	 * itself; a server that is down or starting up may. */
	if (err && (strstr(msg, "password authentication failed") ||
		    strstr(msg, "does not exist") ||
		    strstr(msg, "invalid connection option") ||
		    strstr(msg, "missing \"=\"") ||
		    strstr(msg, "no pg_hba.conf entry")))
		err->code = CNS_E_SOURCE;
	PQfinish(conn);
	return NULL;
}

bool cns_pg_sqlstate_transient(const char *s)
{
	static const char *const transient[] = {
		"40001", /* serialization_failure */
		"40P01", /* deadlock_detected */
		"53300", /* too_many_connections */
		"57P01", /* admin_shutdown */
		"57P02", /* crash_shutdown */
		"57P03", /* cannot_connect_now */
		"55P03", /* lock_not_available */
	};

	if (!s)
		return true; /* no SQLSTATE: the connection itself failed */
	if (strncmp(s, "08", 2) == 0) /* connection exceptions */
		return true;
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strcmp(s, transient[i]) == 0)
			return true;
	return false;
}

bool cns_pg_conn_lost(PGconn *conn)
{
	/* After a server crash libpq may report "server closed the
	 * connection unexpectedly" with no SQLSTATE while PQstatus still
	 * says OK: reading what is left on the socket settles it. */
	if (PQstatus(conn) == CONNECTION_BAD || PQsocket(conn) < 0)
		return true;
	if (PQisBusy(conn) || PQtransactionStatus(conn) == PQTRANS_ACTIVE)
		return false; /* a result is pending: not ours to read */
	/* Twice: a server that shut down first sends a FATAL message, which
	 * an idle connection takes for a notice; the end of the connection
	 * comes to light at the next read. */
	for (int i = 0; i < 2; i++)
		if (!PQconsumeInput(conn))
			return true;
	return PQstatus(conn) == CONNECTION_BAD;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

int cns_pg_error(PGconn *conn, const PGresult *res, enum cns_error_code code,
		 const char *what, const char *doing, struct cns_error *err)
{
	const char *primary = NULL, *detail = NULL, *hint = NULL;
	const char *state = NULL;
	char buf[1024];

	if (res) {
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	}
	if (!primary) {
		snprintf(buf, sizeof(buf), "%s",
			 conn ? PQerrorMessage(conn) : "unknown error");
		chomp(buf);
		primary = buf;
	}
	if (conn && cns_pg_conn_lost(conn))
		code = CNS_E_TRANSIENT;
	else if (cns_pg_sqlstate_transient(state) && state)
		code = CNS_E_TRANSIENT;
	cns_error_set(err, code, "%s failed while %s: %s%s%s%s", what, doing,
		      primary, state ? " (SQLSTATE " : "", state ? state : "",
		      state ? ")" : "");
	if (detail)
		cns_error_detail(err, "%s", detail);
	if (hint)
		cns_error_hint(err, "%s", hint);
	return -1;
}

PGresult *cns_pq_exec(PGconn *conn, const char *sql)
{
	/* An injected failure is a real one: the server refuses a
	 * statement in this session, as it would a statement it cannot
	 * run, and the caller sees an ordinary error result. */
	if (cns_fail_now("PQexec"))
		return PQexec(conn, "DO $$BEGIN RAISE EXCEPTION "
				    "'injected failure of a statement' "
				    "USING ERRCODE = 'XX000'; END$$");
	return PQexec(conn, sql);
}

int cns_pg_exec_ok(PGconn *conn, const char *sql, const char *what,
		   struct cns_error *err)
{
	PGresult *res = cns_pq_exec(conn, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(res);
		return 0;
	}
	cns_pg_error(conn, res, CNS_E_TARGET, what, "running a statement", err);
	if (err && !err->detail[0])
		cns_error_detail(err, "statement: %.400s", sql);
	PQclear(res);
	return -1;
}

PGresult *cns_pg_exec(PGconn *conn, const char *sql, ExecStatusType expect,
		      const char *what, struct cns_error *err)
{
	PGresult *res = cns_pq_exec(conn, sql);

	if (res && PQresultStatus(res) == expect)
		return res;
	cns_pg_error(conn, res, CNS_E_TARGET, what, "running a statement", err);
	if (err && !err->detail[0])
		cns_error_detail(err, "statement: %.400s", sql);
	PQclear(res);
	return NULL;
}

int cns_pg_command(PGconn *conn, const char *sql, const char *what,
		   struct cns_error *err)
{
	PGresult *res = cns_pg_exec(conn, sql, PGRES_COMMAND_OK, what, err);

	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

/* Decodes the backslash escapes of the COPY text format into dst, which
 * must hold len bytes; returns the decoded length. */
static size_t copy_unescape(char *dst, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c != '\\' || i + 1 == len) {
			dst[o++] = c;
			continue;
		}
		c = s[++i];
		switch (c) {
		case 'n': dst[o++] = '\n'; break;
		case 't': dst[o++] = '\t'; break;
		case 'r': dst[o++] = '\r'; break;
		case 'b': dst[o++] = '\b'; break;
		case 'f': dst[o++] = '\f'; break;
		case 'v': dst[o++] = '\v'; break;
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7': {
			int v = c - '0';

			for (int k = 0; k < 2 && i + 1 < len &&
					s[i + 1] >= '0' && s[i + 1] <= '7';
			     k++)
				v = v * 8 + (s[++i] - '0');
			dst[o++] = (char)v;
			break;
		}
		case 'x': {
			int v = 0, k = 0;

			while (k < 2 && i + 1 < len &&
			       strchr("0123456789abcdefABCDEF", s[i + 1]) &&
			       s[i + 1]) {
				char h = s[++i];

				v = v * 16 + (h <= '9' ? h - '0'
						       : (h | 0x20) - 'a' + 10);
				k++;
			}
			dst[o++] = (char)v;
			break;
		}
		default: dst[o++] = c; break;
		}
	}
	return o;
}

int cns_pg_copy_parse_row(struct cns_chunk *chunk, int row, const char *line,
			  size_t len, bool borrow)
{
	const char *p = line, *end = line + len;
	int col = 0;

	for (;;) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		const char *fend = tab ? tab : end;
		size_t flen = (size_t)(fend - p);

		if (col < chunk->ncols) {
			if (flen == 2 && p[0] == '\\' && p[1] == 'N') {
				cns_chunk_set_null(chunk, row, col);
			} else if (!memchr(p, '\\', flen)) {
				if (borrow)
					cns_chunk_set_ref(chunk, row, col, p,
							  flen);
				else
					cns_chunk_set(chunk, row, col, p, flen);
			} else {
				char *dst = cns_arena_alloc(&chunk->arena,
							    flen + 1);
				size_t n = copy_unescape(dst, p, flen);

				dst[n] = '\0';
				cns_chunk_set_ref(chunk, row, col, dst, n);
			}
		}
		col++;
		if (!tab)
			break;
		p = tab + 1;
	}
	return col;
}

/* Bytes the COPY text format escapes, and what follows their backslash. */
static const char copy_escape[256] = {
	['\\'] = '\\',
	['\t'] = 't',
	['\n'] = 'n',
	['\r'] = 'r',
};

/* True when one of the eight bytes of w is a backslash, tab, newline or
 * carriage return (the classic "has a zero byte" test on w xor each). */
static inline bool word_needs_escape(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;
	uint64_t a = w ^ (ones * '\\'), b = w ^ (ones * '\t');
	uint64_t c = w ^ (ones * '\n'), e = w ^ (ones * '\r');

	return (((a - ones) & ~a) | ((b - ones) & ~b) | ((c - ones) & ~c) |
		((e - ones) & ~e)) &
	       highs;
}

void cns_pg_copy_format_row(struct cns_buf *out, const struct cns_cell *cells,
			    int ncols)
{
	size_t need = (size_t)ncols * 3 + 1;
	char *d;

	/* One reservation per row: the worst case doubles every byte. */
	for (int i = 0; i < ncols; i++)
		need += (size_t)cells[i].len * 2;
	cns_buf_reserve(out, need);
	d = out->data + out->len;
	for (int i = 0; i < ncols; i++) {
		const struct cns_cell *c = &cells[i];
		const unsigned char *p = (const unsigned char *)c->data;
		const unsigned char *end = p + c->len;

		if (i)
			*d++ = '\t';
		if (c->null) {
			*d++ = '\\';
			*d++ = 'N';
			continue;
		}
		/* Copy runs of plain bytes at once, eight at a time while
		 * no byte of the word needs an escape; most values have no
		 * such byte at all. */
		while (end - p >= 8) {
			uint64_t w;

			memcpy(&w, p, 8);
			if (word_needs_escape(w))
				break;
			memcpy(d, p, 8);
			d += 8;
			p += 8;
		}
		while (p < end) {
			const unsigned char *run = p;

			while (p < end && !copy_escape[*p])
				p++;
			memcpy(d, run, (size_t)(p - run));
			d += p - run;
			if (p < end) {
				*d++ = '\\';
				*d++ = copy_escape[*p++];
			}
		}
	}
	*d++ = '\n';
	out->len = (size_t)(d - out->data);
	out->data[out->len] = '\0';
}
