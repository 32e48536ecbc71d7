/*
 * odbc_diag.c - turns ODBC diagnostic records into one struct cns_error.
 *
 * Every record is kept: the first goes into the message, the others into
 * the detail, each with its SQLSTATE and native error.  The common
 * failures get their own message and a hint (no data source, no driver,
 * wrong password, missing table or column), failures worth retrying get
 * CNS_E_TRANSIENT, and nothing that could hold the password is shown
 * unredacted.
 */
#include "odbc_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_RECS 16

struct diag_rec {
	char state[6];
	SQLINTEGER native;
	struct cns_buf msg; /* redacted UTF-8 */
};

enum diag_class {
	DIAG_OTHER,
	DIAG_NO_DSN,
	DIAG_NO_DRIVER,
	DIAG_DRIVER_LOAD,
	DIAG_AUTH,
	DIAG_NO_TABLE,
	DIAG_NO_COLUMN,
	DIAG_TRANSIENT,
	DIAG_CANCELLED
};

/* Reads record i into r; false when there is none. */
static bool get_rec(struct cns_odbc *o, SQLSMALLINT type, SQLHANDLE h,
		    SQLSMALLINT i, struct diag_rec *r)
{
	SQLRETURN rc;
	SQLSMALLINT len = 0;
	struct cns_buf raw;

	cns_buf_init(&raw);
	if (o->wide) {
		SQLWCHAR state[6], msg[2048];

		rc = SQLGetDiagRecW(type, h, i, state, &r->native, msg,
				    (SQLSMALLINT)(sizeof(msg) / sizeof(msg[0])),
				    &len);
		if (!SQL_SUCCEEDED(rc))
			return false;
		for (int k = 0; k < 5; k++)
			r->state[k] = (char)(state[k] < 128 ? state[k] : '?');
		r->state[5] = '\0';
		if (len < 0)
			len = 0;
		if ((size_t)len >= sizeof(msg) / sizeof(msg[0]))
			len = (SQLSMALLINT)(sizeof(msg) / sizeof(msg[0]) - 1);
		if (cns_odbc_utf16_to_utf8(msg, (size_t)len, &raw) < 0)
			cns_buf_adds(&raw, "(message not readable)");
	} else {
		SQLCHAR state[6], msg[2048];

		rc = SQLGetDiagRec(type, h, i, state, &r->native, msg,
				   (SQLSMALLINT)sizeof(msg), &len);
		if (!SQL_SUCCEEDED(rc))
			return false;
		memcpy(r->state, state, 6);
		r->state[5] = '\0';
		if (len < 0)
			len = 0;
		if ((size_t)len >= sizeof(msg))
			len = (SQLSMALLINT)(sizeof(msg) - 1);
		cns_buf_add(&raw, msg, (size_t)len);
	}
	/* One line: drivers break messages with newlines and tabs
	 * (psqlODBC: "...;\nNo query has been executed..."). */
	{
		size_t w = 0;

		for (size_t k = 0; k < raw.len; k++) {
			char ch = raw.data[k];

			if (ch == '\n' || ch == '\r' || ch == '\t')
				ch = ' ';
			if (ch == ' ' && (w == 0 || raw.data[w - 1] == ' '))
				continue;
			raw.data[w++] = ch;
		}
		while (w && raw.data[w - 1] == ' ')
			w--;
		raw.len = w;
		if (raw.data)
			raw.data[w] = '\0';
	}
	cns_buf_init(&r->msg);
	cns_odbc_redact(raw.data ? raw.data : "", o->password, &r->msg);
	cns_buf_release(&raw);
	return true;
}

static bool contains(const struct diag_rec *r, const char *text)
{
	return strcasestr(r->msg.data, text) != NULL;
}

static bool is_transient_state(const char *s)
{
	return strncmp(s, "08", 2) == 0 || strcmp(s, "40001") == 0 ||
	       strcmp(s, "40P01") == 0 || strcmp(s, "HYT00") == 0 ||
	       strcmp(s, "HYT01") == 0 || strcmp(s, "57P01") == 0 ||
	       strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0;
}

/* Picks the class from all records: the driver manager often puts the
 * telling record second ("file not found" after "driver could not be
 * loaded"). */
static enum diag_class classify(struct cns_source *src,
				const struct diag_rec *r, int n,
				enum cns_odbc_step step)
{
	if (src->cancelled)
		return DIAG_CANCELLED;
	for (int i = 0; i < n; i++) {
		if (strcmp(r[i].state, "IM002") == 0)
			return src->conf->dsn ? DIAG_NO_DSN : DIAG_NO_DRIVER;
		if (strcmp(r[i].state, "IM003") == 0 ||
		    strcmp(r[i].state, "IM004") == 0 ||
		    contains(&r[i], "can't open lib") ||
		    contains(&r[i], "file not found"))
			return DIAG_DRIVER_LOAD;
	}
	for (int i = 0; i < n; i++) {
		if (strncmp(r[i].state, "28", 2) == 0 ||
		    contains(&r[i], "password authentication failed") ||
		    contains(&r[i], "access denied for user"))
			return DIAG_AUTH;
		if (step == CNS_ODBC_PREPARE || step == CNS_ODBC_EXECUTE) {
			if (strcmp(r[i].state, "42S02") == 0 ||
			    strcmp(r[i].state, "42P01") == 0 ||
			    contains(&r[i], "no such table"))
				return DIAG_NO_TABLE;
			if (strcmp(r[i].state, "42S22") == 0 ||
			    strcmp(r[i].state, "42703") == 0 ||
			    contains(&r[i], "no such column"))
				return DIAG_NO_COLUMN;
		}
		if (strcmp(r[i].state, "HY008") == 0 && src->cancelled)
			return DIAG_CANCELLED;
	}
	for (int i = 0; i < n; i++)
		if (is_transient_state(r[i].state))
			return DIAG_TRANSIENT;
	return DIAG_OTHER;
}

/* The Driver= value of the connection string, braces removed. */
static void driver_of(struct cns_source *src, char *out, size_t size)
{
	const char *v;
	size_t n;

	out[0] = '\0';
	if (!src->conf->connection ||
	    !cns_odbc_conn_get(src->conf->connection, "Driver", &v, &n))
		return;
	if (n >= 2 && v[0] == '{' && v[n - 1] == '}') {
		v++;
		n -= 2;
	}
	snprintf(out, size, "%.*s", (int)n, v);
}

/* Whether odbcinst.ini registers a driver of that name.  unixODBC takes
 * an unknown name for a library path and reports "file not found". */
static bool driver_registered(struct cns_odbc *o, const char *name)
{
	SQLCHAR desc[256], attrs[2048];
	SQLSMALLINT dl, al;
	SQLUSMALLINT dir = SQL_FETCH_FIRST;

	if (!o->env)
		return true;
	while (SQL_SUCCEEDED(SQLDrivers(o->env, dir, desc, sizeof(desc), &dl,
					attrs, sizeof(attrs), &al))) {
		if (strcasecmp((char *)desc, name) == 0)
			return true;
		dir = SQL_FETCH_NEXT;
	}
	return false;
}

static void column_list(struct cns_source *src, struct cns_buf *b)
{
	const struct cns_source_conf *c = src->conf;

	for (int i = 0; i < c->columns.n; i++)
		cns_buf_printf(b, "%s%s", i ? ", " : "", c->columns.items[i]);
	for (int i = 0; i < c->incremental.n; i++)
		cns_buf_printf(b, "%s%s", b->len ? ", " : "",
			       c->incremental.items[i]);
}

int cns_odbc_diag(struct cns_source *src, struct cns_odbc *o, SQLSMALLINT type,
		  SQLHANDLE handle, enum cns_odbc_step step, const char *doing,
		  struct cns_error *err)
{
	struct diag_rec recs[MAX_RECS];
	int n = 0;
	enum diag_class cls;
	enum cns_error_code code = CNS_E_SOURCE;
	char phrase[600], drv[256];
	struct cns_buf detail;

	if (cns_error_isset(err))
		return -1;
	while (n < MAX_RECS && handle &&
	       get_rec(o, type, handle, (SQLSMALLINT)(n + 1), &recs[n]))
		n++;
	cls = classify(src, recs, n, step);
	driver_of(src, drv, sizeof(drv));
	if (cls == DIAG_DRIVER_LOAD && drv[0] && !strchr(drv, '/') &&
	    !driver_registered(o, drv))
		cls = DIAG_NO_DRIVER;
	snprintf(phrase, sizeof(phrase), "%s", doing);
	switch (cls) {
	case DIAG_NO_DSN:
		snprintf(phrase, sizeof(phrase),
			 "data source \"%s\" is not defined", src->conf->dsn);
		break;
	case DIAG_NO_DRIVER:
		snprintf(phrase, sizeof(phrase),
			 "ODBC driver \"%s\" is not installed",
			 drv[0] ? drv : "(none named)");
		break;
	case DIAG_DRIVER_LOAD:
		snprintf(phrase, sizeof(phrase),
			 "ODBC driver \"%s\" could not be loaded",
			 drv[0]           ? drv
			 : src->conf->dsn ? src->conf->dsn
					  : "");
		break;
	case DIAG_AUTH:
		if (src->conf->user)
			snprintf(phrase, sizeof(phrase),
				 "authentication failed for user \"%s\"",
				 src->conf->user);
		else
			snprintf(phrase, sizeof(phrase),
				 "authentication failed");
		break;
	case DIAG_NO_TABLE:
		if (src->conf->table)
			snprintf(phrase, sizeof(phrase),
				 "table \"%s\" does not exist",
				 src->conf->table);
		else
			snprintf(phrase, sizeof(phrase),
				 "a table of the query does not exist");
		break;
	case DIAG_NO_COLUMN:
		if (src->conf->table)
			snprintf(phrase, sizeof(phrase),
				 "a column does not exist in table \"%s\"",
				 src->conf->table);
		else
			snprintf(phrase, sizeof(phrase),
				 "a column of the query does not exist");
		break;
	case DIAG_CANCELLED:
		code = CNS_E_CANCELLED;
		snprintf(phrase, sizeof(phrase), "extraction was cancelled");
		break;
	case DIAG_TRANSIENT: code = CNS_E_TRANSIENT; break;
	case DIAG_OTHER: break;
	}
	if (n == 0)
		cns_error_set(err, code,
			      "%s: %s: no diagnostic from the driver", o->what,
			      phrase);
	else
		cns_error_set(err, code, "%s: %s: [%s] %s (native error %ld)",
			      o->what, phrase, recs[0].state, recs[0].msg.data,
			      (long)recs[0].native);
	cns_error_in_source(err, src->conf->name);

	cns_buf_init(&detail);
	for (int i = 1; i < n; i++)
		cns_buf_printf(&detail, "%s[%s] %s (native error %ld)",
			       i > 1 ? "\n" : "", recs[i].state,
			       recs[i].msg.data, (long)recs[i].native);
	if (detail.len)
		cns_error_detail(err, "%s", detail.data);
	cns_buf_reset(&detail);

	switch (cls) {
	case DIAG_NO_DSN:
		cns_error_hint(err,
			       "data sources are read from $ODBCINI (else "
			       "~/.odbc.ini) and $ODBCSYSINI/odbc.ini (else "
			       "/etc/odbc.ini); \"odbcinst -q -s\" lists them; "
			       "or use connection = Driver=...;... instead of "
			       "dsn");
		break;
	case DIAG_NO_DRIVER:
		cns_error_hint(err,
			       "drivers are registered in "
			       "$ODBCSYSINI/odbcinst.ini (else "
			       "/etc/odbcinst.ini): \"odbcinst -q -d\" lists "
			       "them and \"odbcinst -i -d -f FILE\" adds one");
		break;
	case DIAG_DRIVER_LOAD:
		cns_error_hint(err,
			       "check the Driver= path in odbcinst.ini and "
			       "that the driver's package is installed");
		break;
	case DIAG_AUTH:
		cns_error_hint(err,
			       "check user and password (or "
			       "password_file) of source \"%s\"",
			       src->conf->name);
		break;
	case DIAG_NO_TABLE:
	case DIAG_NO_COLUMN:
		column_list(src, &detail);
		cns_error_hint(err,
			       "names are quoted, so write them as the "
			       "database stores them%s%s; the query was: "
			       "%.300s",
			       detail.len ? "; columns asked for: " : "",
			       detail.len ? detail.data : "",
			       o->sql.data ? o->sql.data : "");
		break;
	case DIAG_TRANSIENT:
		cns_error_hint(err, "the connection failed or timed out; "
				    "a later attempt may succeed");
		break;
	case DIAG_CANCELLED:
	case DIAG_OTHER: break;
	}
	cns_buf_release(&detail);
	for (int i = 0; i < n; i++)
		cns_buf_release(&recs[i].msg);
	return -1;
}
