/*
 * odbc.c - the odbc source driver: any database with an ODBC driver,
 * through unixODBC.
 *
 * open() connects with `dsn` or `connection` plus user and password, asks
 * the driver who it is and, for drivers that need it, reconnects with the
 * options that keep memory bounded and text in UTF-8 (see odbc_sql.c,
 * quirks).  describe() prepares the extraction query and describes its
 * columns without running it, so `check` touches no data.  next_chunk()
 * executes it and reads rows through a block cursor (odbc_fetch.c).
 * Errors carry every diagnostic record (odbc_diag.c).  The password lives
 * only in the connection string sent to the driver; whatever is shown
 * (plan, errors) is redacted.
 */
#include "odbc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cns_odbc *impl(struct cns_source *src)
{
	return src->impl;
}

/* The driver state exists from the first call on, so that `plan` can
 * show the query without connecting. */
static struct cns_odbc *odbc_state(struct cns_source *src)
{
	struct cns_odbc *o = src->impl;

	if (o)
		return o;
	o = cns_xcalloc(1, sizeof(*o));
	src->impl = o;
	snprintf(o->what, sizeof(o->what), "source \"%s\"", src->conf->name);
	pthread_mutex_init(&o->lock, NULL);
	cns_buf_init(&o->conn);
	cns_buf_init(&o->sql);
	cns_buf_init(&o->plan);
	cns_buf_init(&o->params);
	cns_buf_init(&o->longval);
	cns_buf_init(&o->conv);
	strcpy(o->quote, "\"");
	return o;
}

/* Reads the first line of password_file into o->password. */
static int read_password(struct cns_source *src, struct cns_odbc *o,
			 struct cns_error *err)
{
	const struct cns_source_conf *c = src->conf;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (c->password) {
		o->password = cns_xstrdup(c->password);
		return 0;
	}
	if (!c->password_file)
		return 0;
	f = fopen(c->password_file, "r");
	if (!f) {
		cns_error_set(err, CNS_E_IO,
			      "%s: could not read password_file \"%s\": %s",
			      o->what, c->password_file, strerror(errno));
		cns_error_in_source(err, c->name);
		return -1;
	}
	n = getline(&line, &cap, f);
	fclose(f);
	if (n < 0) {
		/* An empty file is an empty password. */
		free(line);
		o->password = cns_xstrdup("");
		return 0;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	o->password = line;
	return 0;
}

/* The connection string without per-driver options: the job's string or
 * DSN, then user and password.  With password == NULL a configured
 * password shows as "***" (for plans). */
static void base_conn(struct cns_source *src, const char *password,
		      struct cns_buf *b)
{
	const struct cns_source_conf *c = src->conf;

	cns_buf_reset(b);
	if (c->connection)
		cns_buf_adds(b, c->connection);
	else if (c->dsn)
		cns_odbc_conn_add(b, "DSN", c->dsn);
	if (c->user)
		cns_odbc_conn_add(b, "UID", c->user);
	if (password)
		cns_odbc_conn_add(b, "PWD", password);
	else if (c->password || c->password_file)
		cns_odbc_conn_add(b, "PWD", "***");
}

/* Rows per round trip for drivers that take it as an option. */
static int fetch_size(struct cns_source *src)
{
	int n = src->batch_size;

	return n > 0 && n < CNS_ODBC_MAX_ARRAY ? n : CNS_ODBC_MAX_ARRAY;
}

/* Appends the quirks' options that the connection string does not set. */
static void add_quirk_options(struct cns_source *src,
			      const struct cns_odbc_quirks *q,
			      struct cns_buf *b)
{
	const char *v;
	size_t n;

	for (int i = 0; q->options && q->options[i]; i++) {
		const char *opt = q->options[i], *eq = strchr(opt, '=');
		char key[64], val[64];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - opt), opt);
		if (cns_odbc_conn_get(b->data ? b->data : "", key, &v, &n))
			continue;
		if (strcmp(eq + 1, "%F") == 0)
			snprintf(val, sizeof(val), "%d", fetch_size(src));
		else
			snprintf(val, sizeof(val), "%s", eq + 1);
		cns_odbc_conn_add(b, key, val);
	}
}

static int driver_connect(struct cns_source *src, struct cns_odbc *o,
			  struct cns_error *err)
{
	SQLRETURN rc;

	if (o->wide) {
		struct cns_buf w;

		cns_buf_init(&w);
		if (cns_odbc_utf8_to_utf16(o->conn.data, o->conn.len, &w) < 0) {
			cns_buf_release(&w);
			cns_error_set(err, CNS_E_CONFIG,
				      "%s: the connection string is not valid "
				      "UTF-8",
				      o->what);
			return -1;
		}
		rc = SQLDriverConnectW(o->dbc, NULL, (SQLWCHAR *)w.data,
				       SQL_NTS, NULL, 0, NULL,
				       SQL_DRIVER_NOPROMPT);
		memset(w.data, 0, w.len);
		cns_buf_release(&w);
	} else {
		rc = SQLDriverConnect(o->dbc, NULL, (SQLCHAR *)o->conn.data,
				      SQL_NTS, NULL, 0, NULL,
				      SQL_DRIVER_NOPROMPT);
	}
	if (!SQL_SUCCEEDED(rc))
		return cns_odbc_diag(src, o, SQL_HANDLE_DBC, o->dbc,
				     CNS_ODBC_CONNECT, "could not connect",
				     err);
	o->connected = true;
	return 0;
}

static void get_info_str(struct cns_odbc *o, SQLUSMALLINT what, char *out,
			 size_t size)
{
	SQLSMALLINT len = 0;

	out[0] = '\0';
	if (!SQL_SUCCEEDED(
		    SQLGetInfo(o->dbc, what, out, (SQLSMALLINT)size, &len)))
		out[0] = '\0';
	out[size - 1] = '\0';
}

/* Refuses a user or password given twice: the driver would silently use
 * whichever comes first. */
static int check_duplicates(struct cns_source *src, struct cns_odbc *o,
			    struct cns_error *err)
{
	const struct cns_source_conf *c = src->conf;
	const char *v;
	size_t n;
	const char *conn = c->connection ? c->connection : "";

	if (c->user && (cns_odbc_conn_get(conn, "UID", &v, &n) ||
			cns_odbc_conn_get(conn, "User", &v, &n)))
		return cns_error_set(err, CNS_E_CONFIG,
				     "%s: the user is set both by \"user\" "
				     "and in \"connection\"",
				     o->what);
	if ((c->password || c->password_file) &&
	    (cns_odbc_conn_get(conn, "PWD", &v, &n) ||
	     cns_odbc_conn_get(conn, "Password", &v, &n)))
		return cns_error_set(err, CNS_E_CONFIG,
				     "%s: the password is set both by "
				     "\"password\" or \"password_file\" and in "
				     "\"connection\"",
				     o->what);
	if (!c->connection && !c->dsn)
		return cns_error_set(err, CNS_E_CONFIG,
				     "%s: odbc needs \"dsn\" or \"connection\"",
				     o->what);
	return 0;
}

/* Allocates a statement on the connection into *slot (under the lock, so
 * that cancel() reaches it), with the job's statement timeout. */
static int new_stmt(struct cns_source *src, struct cns_odbc *o, SQLHSTMT *slot,
		    struct cns_error *err)
{
	SQLHSTMT stmt = NULL;

	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, o->dbc, &stmt)))
		return cns_odbc_diag(src, o, SQL_HANDLE_DBC, o->dbc,
				     CNS_ODBC_SETUP,
				     "could not allocate a statement", err);
	pthread_mutex_lock(&o->lock);
	*slot = stmt;
	pthread_mutex_unlock(&o->lock);
	if (src->job && src->job->statement_timeout_ms > 0) {
		SQLULEN secs =
			(SQLULEN)((src->job->statement_timeout_ms + 999) /
				  1000);

		/* Not every driver has query timeouts; the watchdog still
		 * cancels. */
		SQLSetStmtAttr(stmt, SQL_ATTR_QUERY_TIMEOUT, (SQLPOINTER)secs,
			       0);
	}
	return 0;
}

/* Whole seconds, rounded up, for an ODBC timeout attribute. */
static SQLULEN whole_seconds(int64_t ms)
{
	return (SQLULEN)((ms + 999) / 1000);
}

/* Timeouts of the connection, set before connecting (they stay set for
 * the second connection with the driver's options): the source's
 * login_timeout bounds each connection attempt, which the watchdog's
 * stall_timeout does not reach while the run is still connecting, and
 * the job's stall_timeout bounds the wait for any answer on the
 * connection.  Drivers without one of them refuse it or ignore it; the
 * watchdog still cancels. */
static void set_timeouts(struct cns_source *src, struct cns_odbc *o)
{
	int64_t stall = src->job ? src->job->stall_timeout_ms : 0;

	if (src->conf->login_timeout_ms > 0)
		SQLSetConnectAttr(
			o->dbc, SQL_ATTR_LOGIN_TIMEOUT,
			(SQLPOINTER)whole_seconds(src->conf->login_timeout_ms),
			0);
	if (stall > 0)
		SQLSetConnectAttr(o->dbc, SQL_ATTR_CONNECTION_TIMEOUT,
				  (SQLPOINTER)whole_seconds(stall), 0);
}

/* Frees the statement in *slot, if any. */
static void free_stmt(struct cns_odbc *o, SQLHSTMT *slot)
{
	pthread_mutex_lock(&o->lock);
	if (*slot) {
		SQLFreeStmt(*slot, SQL_CLOSE);
		SQLFreeHandle(SQL_HANDLE_STMT, *slot);
	}
	*slot = NULL;
	pthread_mutex_unlock(&o->lock);
}

static int odbc_open(struct cns_source *src, struct cns_error *err)
{
	struct cns_odbc *o = odbc_state(src);
	const struct cns_odbc_quirks *q;
	struct cns_buf again;
	SQLUINTEGER gd = 0;

	if (check_duplicates(src, o, err) < 0 || read_password(src, o, err) < 0)
		goto fail;
	if (!SQL_SUCCEEDED(
		    SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &o->env))) {
		o->env = NULL;
		cns_error_set(err, CNS_E_SOURCE,
			      "%s: could not initialise the ODBC driver "
			      "manager",
			      o->what);
		goto fail;
	}
	SQLSetEnvAttr(o->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3,
		      0);
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, o->env, &o->dbc))) {
		o->dbc = NULL;
		cns_odbc_diag(src, o, SQL_HANDLE_ENV, o->env, CNS_ODBC_SETUP,
			      "could not allocate a connection", err);
		goto fail;
	}
	set_timeouts(src, o);
	base_conn(src, o->password, &o->conn);
	if (driver_connect(src, o, err) < 0)
		goto fail;

	/* The driver's name is only known once connected; drivers that
	 * need options get a second connection with them. */
	get_info_str(o, SQL_DRIVER_NAME, o->driver_name,
		     sizeof(o->driver_name));
	q = o->quirks = cns_odbc_quirks_for(o->driver_name);
	cns_buf_init(&again);
	cns_buf_adds(&again, o->conn.data);
	add_quirk_options(src, q, &again);
	if (again.len != o->conn.len || q->wide) {
		SQLDisconnect(o->dbc);
		o->connected = false;
		memset(o->conn.data, 0, o->conn.len);
		cns_buf_reset(&o->conn);
		cns_buf_adds(&o->conn, again.data);
		o->wide = q->wide;
		memset(again.data, 0, again.len);
		cns_buf_release(&again);
		if (driver_connect(src, o, err) < 0)
			goto fail;
	} else {
		memset(again.data, 0, again.len);
		cns_buf_release(&again);
	}

	get_info_str(o, SQL_DBMS_NAME, o->dbms, sizeof(o->dbms));
	get_info_str(o, SQL_IDENTIFIER_QUOTE_CHAR, o->quote, sizeof(o->quote));
	if (o->quote[0] == ' ')
		o->quote[0] = '\0';
	if (q->quote)
		snprintf(o->quote, sizeof(o->quote), "%s", q->quote);
	if (!SQL_SUCCEEDED(SQLGetInfo(o->dbc, SQL_GETDATA_EXTENSIONS, &gd,
				      sizeof(gd), NULL)))
		gd = 0;
	o->block_getdata = (gd & SQL_GD_BLOCK) && !q->no_block_getdata;

	if (new_stmt(src, o, &o->stmt, err) < 0)
		goto fail;
	return 0;
fail:
	cns_error_in_source(err, src->conf->name);
	return -1;
}

/* The ordering columns and watermark rules of this run, as the postgres
 * driver applies them: the columns the run set (incremental, then the
 * tie-breaker key), else the configured incremental columns. */
static void order_of(struct cns_source *src, struct cns_odbc_order *ord)
{
	const struct cns_source_conf *c = src->conf;

	memset(ord, 0, sizeof(*ord));
	if (src->ninc > 0) {
		ord->cols = src->inc_cols;
		ord->n = src->ninc;
	} else {
		ord->cols = (const char *const *)c->incremental.items;
		ord->n = c->incremental.n;
	}
	/* NULL never compares greater, so once there is a watermark such
	 * rows are never read again; `skip` leaves them out from the
	 * start. */
	if (ord->n > 0 &&
	    (c->null_incremental == CNS_NULLINC_SKIP || src->nwatermark > 0))
		ord->notnull = c->incremental.n;
	if (ord->n > 0 && src->nwatermark == ord->n) {
		if (src->lookback_ms > 0 && src->watermark[0])
			ord->lookback = true;
		else
			ord->nwm = ord->n;
	}
}

/* Builds the extraction query into b and sets the parameter values. */
static int make_sql(struct cns_source *src, struct cns_odbc *o,
		    struct cns_buf *b, bool count, struct cns_error *err)
{
	struct cns_odbc_order ord;
	int *param_of = NULL;

	order_of(src, &ord);
	ord.unordered = count;
	if (ord.lookback &&
	    cns_odbc_lookback(src->watermark[0], src->lookback_ms,
			      o->lookback_val, sizeof(o->lookback_val)) < 0) {
		cns_error_set(err, CNS_E_CONFIG,
			      "%s: lookback needs a date or timestamp in "
			      "incremental column \"%s\", but the watermark "
			      "is \"%s\"",
			      o->what, ord.cols[0], src->watermark[0]);
		return -1;
	}
	o->nparams =
		cns_odbc_build_sql(b, src->conf, o->quote, &ord, &param_of);
	free(o->param_val);
	o->param_val =
		cns_xcalloc((size_t)o->nparams + 1, sizeof(*o->param_val));
	for (int i = 0; i < o->nparams; i++)
		o->param_val[i] = ord.lookback ? o->lookback_val
					       : src->watermark[param_of[i]];
	free(param_of);
	return 0;
}

/* Reads a text column of the current row of a catalog result. */
static bool get_text(struct cns_odbc *o, SQLHSTMT st, SQLUSMALLINT col,
		     char *out, size_t size)
{
	SQLLEN ind = 0;

	out[0] = '\0';
	if (o->wide) {
		SQLWCHAR w[256];
		struct cns_buf b;
		bool ok;

		if (!SQL_SUCCEEDED(SQLGetData(st, col, SQL_C_WCHAR, w,
					      sizeof(w), &ind)) ||
		    ind == SQL_NULL_DATA)
			return false;
		if (ind < 0 || (size_t)ind >= sizeof(w))
			ind = sizeof(w) - sizeof(SQLWCHAR);
		cns_buf_init(&b);
		ok = cns_odbc_utf16_to_utf8(w, (size_t)ind / sizeof(SQLWCHAR),
					    &b) == 0;
		if (ok)
			snprintf(out, size, "%s", b.data ? b.data : "");
		cns_buf_release(&b);
		return ok;
	}
	if (!SQL_SUCCEEDED(
		    SQLGetData(st, col, SQL_C_CHAR, out, (SQLLEN)size, &ind)) ||
	    ind == SQL_NULL_DATA)
		return false;
	return true;
}

static SQLRETURN primary_keys(struct cns_odbc *o, SQLHSTMT st, const char *cat,
			      const char *sch, const char *tab)
{
	SQLRETURN rc;

	if (o->wide) {
		struct cns_buf w[3];
		const char *in[3] = { cat, sch, tab };
		SQLWCHAR *p[3];

		for (int i = 0; i < 3; i++) {
			cns_buf_init(&w[i]);
			p[i] = NULL;
			if (in[i][0] &&
			    cns_odbc_utf8_to_utf16(in[i], strlen(in[i]),
						   &w[i]) == 0)
				p[i] = (SQLWCHAR *)w[i].data;
		}
		rc = SQLPrimaryKeysW(st, p[0], p[0] ? SQL_NTS : 0, p[1],
				     p[1] ? SQL_NTS : 0, p[2], SQL_NTS);
		for (int i = 0; i < 3; i++)
			cns_buf_release(&w[i]);
		return rc;
	}
	return SQLPrimaryKeys(st, cat[0] ? (SQLCHAR *)cat : NULL,
			      cat[0] ? SQL_NTS : 0,
			      sch[0] ? (SQLCHAR *)sch : NULL,
			      sch[0] ? SQL_NTS : 0, (SQLCHAR *)tab, SQL_NTS);
}

/* Looks up the primary key of conf->table (a default tie-breaker for
 * incremental runs).  Finding none is not an error. */
static void find_pkey(struct cns_source *src, struct cns_odbc *o)
{
	char cat[256], sch[256], tab[256], first[256], s2[256], name[256];
	char *keys[16];
	int n = 0;

	if (!src->conf->table)
		return;
	cns_odbc_split_table(src->conf->table, o->quote, cat, sch, tab,
			     sizeof(cat));
	for (int attempt = 0; attempt < 2 && n == 0; attempt++) {
		SQLHSTMT st;

		/* "a.b" is schema.table, or catalog.table (MariaDB). */
		if (attempt == 1) {
			if (!sch[0] || cat[0])
				break;
			snprintf(cat, sizeof(cat), "%s", sch);
			sch[0] = '\0';
		}
		if (!SQL_SUCCEEDED(
			    SQLAllocHandle(SQL_HANDLE_STMT, o->dbc, &st)))
			return;
		first[0] = '\0';
		if (SQL_SUCCEEDED(primary_keys(o, st, cat, sch, tab))) {
			while (n < 16 && SQL_SUCCEEDED(SQLFetch(st))) {
				/* Without a schema, keep to the first
				 * table found. */
				if (!get_text(o, st, 2, s2, sizeof(s2)))
					s2[0] = '\0';
				if (n == 0)
					memcpy(first, s2, sizeof(first));
				else if (strcmp(first, s2) != 0)
					break;
				if (get_text(o, st, 4, name, sizeof(name)))
					keys[n++] = cns_arena_strdup(
						&src->arena, name);
			}
		}
		SQLFreeStmt(st, SQL_CLOSE);
		SQLFreeHandle(SQL_HANDLE_STMT, st);
	}
	if (n == 0)
		return;
	src->npkey = n;
	src->pkey = cns_arena_zalloc(&src->arena, sizeof(char *) * (size_t)n);
	memcpy(src->pkey, keys, sizeof(char *) * (size_t)n);
}

/* Prepares o->sql in the driver. */
static int prepare(struct cns_source *src, struct cns_odbc *o,
		   struct cns_error *err)
{
	SQLRETURN rc;

	if (o->wide) {
		struct cns_buf w;

		cns_buf_init(&w);
		if (cns_odbc_utf8_to_utf16(o->sql.data, o->sql.len, &w) < 0) {
			cns_buf_release(&w);
			return cns_error_set(err, CNS_E_CONFIG,
					     "%s: the query is not valid UTF-8",
					     o->what);
		}
		rc = SQLPrepareW(o->stmt, (SQLWCHAR *)w.data, SQL_NTS);
		cns_buf_release(&w);
	} else {
		rc = SQLPrepare(o->stmt, (SQLCHAR *)o->sql.data, SQL_NTS);
	}
	if (!SQL_SUCCEEDED(rc))
		return cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->stmt,
				     CNS_ODBC_PREPARE,
				     "could not prepare the extraction query",
				     err);
	return 0;
}

/* Describes column i (0-based) into col; the name goes to src->arena. */
static int describe_col(struct cns_source *src, struct cns_odbc *o, int i,
			struct cns_odbc_col *col, struct cns_error *err)
{
	SQLSMALLINT nlen = 0, nullable;
	SQLLEN uns = SQL_FALSE;
	SQLRETURN rc;

	if (o->wide) {
		SQLWCHAR name[512];

		rc = SQLDescribeColW(o->stmt, (SQLUSMALLINT)(i + 1), name, 512,
				     &nlen, &col->sqltype, &col->size,
				     &col->digits, &nullable);
		if (SQL_SUCCEEDED(rc)) {
			if (nlen < 0 || nlen > 511)
				nlen = nlen < 0 ? 0 : 511;
			cns_buf_reset(&o->conv);
			if (cns_odbc_utf16_to_utf8(name, (size_t)nlen,
						   &o->conv) < 0)
				cns_buf_printf(&o->conv, "column%d", i + 1);
			col->name = cns_arena_strdup(&src->arena, o->conv.data);
		}
	} else {
		SQLCHAR name[1024];

		rc = SQLDescribeCol(o->stmt, (SQLUSMALLINT)(i + 1), name,
				    sizeof(name), &nlen, &col->sqltype,
				    &col->size, &col->digits, &nullable);
		if (SQL_SUCCEEDED(rc)) {
			if (nlen < 0 || nlen > (SQLSMALLINT)sizeof(name) - 1)
				nlen = nlen < 0 ? 0 : sizeof(name) - 1;
			col->name = cns_arena_strndup(&src->arena, (char *)name,
						      (size_t)nlen);
		}
	}
	if (!SQL_SUCCEEDED(rc))
		return cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->stmt,
				     CNS_ODBC_PREPARE,
				     "could not describe the result columns",
				     err);
	/* Unsigned integers need a wider type; drivers that do not know
	 * say signed. */
	if (!SQL_SUCCEEDED(SQLColAttribute(o->stmt, (SQLUSMALLINT)(i + 1),
					   SQL_DESC_UNSIGNED, NULL, 0, NULL,
					   &uns)))
		uns = SQL_FALSE;
	col->is_unsigned = uns == SQL_TRUE;
	return 0;
}

static int odbc_describe(struct cns_source *src, struct cns_error *err)
{
	struct cns_odbc *o = impl(src);
	const struct cns_source_conf *c = src->conf;
	SQLSMALLINT n = 0;

	if (!o || !o->connected)
		return cns_error_set(err, CNS_E_INTERNAL,
				     "%s: describe before open",
				     src->conf->name);
	if (!c->query && !c->table)
		return cns_error_set(err, CNS_E_CONFIG,
				     "%s: odbc needs \"table\" or \"query\"",
				     o->what);
	if (o->prepared) {
		/* Described again: start over. */
		SQLFreeStmt(o->stmt, SQL_CLOSE);
		SQLFreeStmt(o->stmt, SQL_UNBIND);
		SQLFreeStmt(o->stmt, SQL_RESET_PARAMS);
		cns_odbc_unbind(o);
		free(o->cols);
		o->cols = NULL;
		o->prepared = o->executed = o->eof = false;
	}
	if (make_sql(src, o, &o->sql, false, err) < 0)
		goto fail;
	if (prepare(src, o, err) < 0)
		goto fail;
	if (!SQL_SUCCEEDED(SQLNumResultCols(o->stmt, &n))) {
		cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->stmt,
			      CNS_ODBC_PREPARE,
			      "could not describe the result columns", err);
		goto fail;
	}
	if (n <= 0) {
		cns_error_set(err, CNS_E_CONFIG,
			      "%s: the extraction query returns no columns",
			      o->what);
		cns_error_hint(err, "the query was: %.400s", o->sql.data);
		goto fail;
	}
	o->ncols = n;
	o->cols = cns_xcalloc((size_t)n, sizeof(*o->cols));
	src->ncols = n;
	src->colnames =
		cns_arena_zalloc(&src->arena, sizeof(char *) * ((size_t)n + 1));
	src->coltypes =
		cns_arena_zalloc(&src->arena, sizeof(char *) * ((size_t)n + 1));
	for (int i = 0; i < n; i++) {
		struct cns_odbc_col *col = &o->cols[i];

		if (describe_col(src, o, i, col, err) < 0)
			goto fail;
		cns_odbc_plan_column(col, o->wide, o->block_getdata,
				     o->quirks->unsized_text);
		if (o->quirks->native_datetime)
			cns_odbc_plan_native(col);
		src->colnames[i] = col->name;
		src->coltypes[i] = cns_odbc_type_name(&src->arena, col->sqltype,
						      col->size, col->digits,
						      col->is_unsigned);
	}
	find_pkey(src, o);
	o->prepared = true;
	return 0;
fail:
	cns_error_in_source(err, src->conf->name);
	return -1;
}

/* The run sets the ordering columns and the watermark after describe():
 * the query that runs may differ from the one described. */
static int reprepare_if_changed(struct cns_source *src, struct cns_odbc *o,
				struct cns_error *err)
{
	struct cns_buf sql;
	SQLSMALLINT n = 0;
	int rc = 0;

	cns_buf_init(&sql);
	if (make_sql(src, o, &sql, false, err) < 0) {
		cns_buf_release(&sql);
		return -1;
	}
	if (strcmp(sql.data, o->sql.data) != 0) {
		cns_buf_reset(&o->sql);
		cns_buf_adds(&o->sql, sql.data);
		SQLFreeStmt(o->stmt, SQL_CLOSE);
		SQLFreeStmt(o->stmt, SQL_RESET_PARAMS);
		rc = prepare(src, o, err);
		if (rc == 0 && (!SQL_SUCCEEDED(SQLNumResultCols(o->stmt, &n)) ||
				n != o->ncols))
			rc = cns_error_set(err, CNS_E_INTERNAL,
					   "%s: the incremental query returns "
					   "%d columns, the described one %d",
					   o->what, (int)n, o->ncols);
	}
	cns_buf_release(&sql);
	return rc;
}

static int odbc_next_chunk(struct cns_source *src, struct cns_chunk *chunk,
			   struct cns_error *err)
{
	struct cns_odbc *o = impl(src);

	if (src->cancelled) {
		cns_error_set(err, CNS_E_CANCELLED,
			      "%s: extraction was cancelled",
			      o ? o->what : src->conf->name);
		cns_error_in_source(err, src->conf->name);
		return -1;
	}
	if (!o || !o->connected)
		return cns_error_set(err, CNS_E_INTERNAL,
				     "%s: next_chunk before open",
				     src->conf->name);
	if (!o->prepared && odbc_describe(src, err) < 0)
		return -1;
	if (o->eof)
		return 0;
	if (!o->executed && (reprepare_if_changed(src, o, err) < 0 ||
			     cns_odbc_execute(src, o, err) < 0)) {
		cns_error_in_source(err, src->conf->name);
		return -1;
	}
	return cns_odbc_fill(src, o, chunk, err);
}

static void odbc_cancel(struct cns_source *src)
{
	struct cns_odbc *o = impl(src);

	src->cancelled = 1;
	if (!o)
		return;
	/* SQLCancel may be called from another thread while the statement
	 * executes or fetches (ODBC 3); the lock only keeps close() from
	 * freeing the handle meanwhile. */
	pthread_mutex_lock(&o->lock);
	if (o->stmt)
		SQLCancel(o->stmt);
	if (o->count_stmt)
		SQLCancel(o->count_stmt);
	pthread_mutex_unlock(&o->lock);
}

static void odbc_close(struct cns_source *src)
{
	struct cns_odbc *o = impl(src);

	if (!o)
		return;
	free_stmt(o, &o->count_stmt);
	free_stmt(o, &o->stmt);
	if (o->connected)
		SQLDisconnect(o->dbc);
	if (o->dbc)
		SQLFreeHandle(SQL_HANDLE_DBC, o->dbc);
	if (o->env)
		SQLFreeHandle(SQL_HANDLE_ENV, o->env);
	cns_odbc_unbind(o);
	if (o->password) {
		memset(o->password, 0, strlen(o->password));
		free(o->password);
	}
	if (o->conn.data)
		memset(o->conn.data, 0, o->conn.len);
	cns_buf_release(&o->conn);
	cns_buf_release(&o->sql);
	cns_buf_release(&o->plan);
	cns_buf_release(&o->params);
	cns_buf_release(&o->longval);
	cns_buf_release(&o->conv);
	free(o->param_val);
	free(o->param_ind);
	free(o->cols);
	free(o->piece);
	pthread_mutex_destroy(&o->lock);
	free(o);
	src->impl = NULL;
}

static const char *odbc_describe_plan(struct cns_source *src)
{
	struct cns_odbc *o = odbc_state(src);
	struct cns_odbc_order ord;
	struct cns_buf conn, sql;
	char lowered[80];
	int *param_of = NULL;
	int np;

	cns_buf_init(&conn);
	if (o->connected)
		cns_buf_adds(&conn, o->conn.data);
	else
		base_conn(src, NULL, &conn);
	cns_buf_reset(&o->plan);
	cns_buf_adds(&o->plan, "-- odbc: ");
	cns_odbc_redact(conn.data ? conn.data : "", o->password, &o->plan);
	if (conn.data)
		memset(conn.data, 0, conn.len);
	cns_buf_release(&conn);
	if (o->connected)
		cns_buf_printf(&o->plan, "\n-- driver: %s (%s)%s",
			       o->driver_name, o->dbms,
			       o->wide ? ", wide API" : "");
	cns_buf_addc(&o->plan, '\n');
	if (!src->conf->query && !src->conf->table)
		return o->plan.data;
	order_of(src, &ord);
	if (ord.lookback &&
	    cns_odbc_lookback(src->watermark[0], src->lookback_ms, lowered,
			      sizeof(lowered)) < 0)
		snprintf(lowered, sizeof(lowered), "(not a date or time)");
	cns_buf_init(&sql);
	np = cns_odbc_build_sql(&sql, src->conf, o->quote, &ord, &param_of);
	cns_buf_adds(&o->plan, sql.data);
	cns_buf_release(&sql);
	for (int i = 0; i < np; i++) {
		const char *v = ord.lookback ? lowered
					     : src->watermark[param_of[i]];

		cns_buf_printf(&o->plan, "%s%d = %s%s%s",
			       i ? ", " : "\n-- parameters: ", i + 1,
			       v ? "'" : "", v ? v : "NULL", v ? "'" : "");
	}
	free(param_of);
	return o->plan.data;
}

/* Runs SQL text on st, through the wide API when the driver needs it. */
static SQLRETURN exec_direct(struct cns_odbc *o, SQLHSTMT st,
			     const struct cns_buf *sql)
{
	struct cns_buf w;
	SQLRETURN rc;

	if (!o->wide)
		return SQLExecDirect(st, (SQLCHAR *)sql->data, SQL_NTS);
	cns_buf_init(&w);
	if (cns_odbc_utf8_to_utf16(sql->data, sql->len, &w) < 0)
		rc = SQL_ERROR;
	else
		rc = SQLExecDirectW(st, (SQLWCHAR *)w.data, SQL_NTS);
	cns_buf_release(&w);
	return rc;
}

/* Counts the rows the extraction would return, watermark applied, with
 * SELECT COUNT(*) over the same query and parameters on a statement of
 * its own, so that the volume guard can judge before any row moves. */
static int odbc_count_rows(struct cns_source *src, int64_t *n,
			   struct cns_error *err)
{
	struct cns_odbc *o = odbc_state(src);
	struct cns_buf sql, q;
	char text[32], *end;
	int rc = -1;

	cns_buf_init(&sql);
	cns_buf_init(&q);
	if (!o->connected) {
		cns_error_set(err, CNS_E_INTERNAL, "%s: count before open",
			      o->what);
		goto out;
	}
	if (make_sql(src, o, &sql, true, err) < 0 ||
	    new_stmt(src, o, &o->count_stmt, err) < 0 ||
	    cns_odbc_bind_params(src, o, o->count_stmt, err) < 0)
		goto out;
	cns_buf_printf(&q, "SELECT COUNT(*) FROM (%s) cns_count", sql.data);
	if (!SQL_SUCCEEDED(exec_direct(o, o->count_stmt, &q))) {
		cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->count_stmt,
			      CNS_ODBC_EXECUTE,
			      "could not count the rows to extract", err);
		goto out;
	}
	if (!SQL_SUCCEEDED(SQLFetch(o->count_stmt)) ||
	    !get_text(o, o->count_stmt, 1, text, sizeof(text))) {
		cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->count_stmt,
			      CNS_ODBC_EXECUTE,
			      "could not read the count of rows to extract",
			      err);
		goto out;
	}
	*n = strtoll(text, &end, 10);
	if (end == text || *n < 0) {
		cns_error_set(err, CNS_E_SOURCE,
			      "%s: the count of rows to extract is \"%s\"",
			      o->what, text);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		cns_error_in_source(err, src->conf->name);
	free_stmt(o, &o->count_stmt);
	cns_buf_release(&q);
	cns_buf_release(&sql);
	return rc;
}

const struct cns_source_ops cns_source_odbc_ops = {
	.name = "odbc",
	.open = odbc_open,
	.describe = odbc_describe,
	.next_chunk = odbc_next_chunk,
	.cancel = odbc_cancel,
	.close = odbc_close,
	.describe_plan = odbc_describe_plan,
	.count_rows = odbc_count_rows,
};
