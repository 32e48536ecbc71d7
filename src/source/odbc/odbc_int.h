/*
 * odbc_int.h - internals of the odbc source driver, shared by its files
 * (odbc.c: the driver, odbc_fetch.c: the block cursor, odbc_sql.c:
 * connection strings, SQL text, types and text conversion, odbc_diag.c:
 * diagnostics) and by tests/unit/test_odbc.c.
 *
 * Nothing here is part of the public API: the pipeline only sees
 * cns_source_odbc_ops.
 */
#ifndef CONSOLIDATE_SOURCE_ODBC_INT_H
#define CONSOLIDATE_SOURCE_ODBC_INT_H

#include "consolidate/source.h"
#include "consolidate/util.h"

#include <pthread.h>
#include <sql.h>
#include <sqlext.h>
#include <sqlucode.h>
#include <stdbool.h>
#include <stddef.h>

/* Limits of the bound buffers (see man/consolidate-odbc.txt, "Memory").
 * A rowset holds at most CNS_ODBC_MAX_ARRAY rows and at most
 * CNS_ODBC_BUDGET bytes of bound buffers (or one row when a single row is
 * wider).  One cell is at most CNS_ODBC_CELL bytes when the driver can
 * read a longer value afterwards (SQLSetPos + SQLGetData), and at most
 * CNS_ODBC_CELL_FIXED bytes when it cannot and the column's declared size
 * says that every value fits. */
#define CNS_ODBC_MAX_ARRAY 1000
#define CNS_ODBC_BUDGET (16u * 1024 * 1024)
#define CNS_ODBC_CELL 4096u
#define CNS_ODBC_CELL_FIXED (64u * 1024)
#define CNS_ODBC_PIECE (64u * 1024) /* one SQLGetData call */

/* How a column travels from the driver into a chunk cell. */
enum cns_odbc_fmt {
	CNS_ODBC_TEXT,     /* SQL_C_CHAR: bytes as they come (UTF-8) */
	CNS_ODBC_WTEXT,    /* SQL_C_WCHAR: UTF-16, converted to UTF-8 */
	CNS_ODBC_BIT,      /* SQL_C_BIT: "t" or "f" */
	CNS_ODBC_BINARY,   /* SQL_C_BINARY: "\x" and hex digits (bytea) */
	CNS_ODBC_DATE,     /* SQL_C_TYPE_DATE, written as psqlODBC would */
	CNS_ODBC_TIMESTAMP /* SQL_C_TYPE_TIMESTAMP, likewise */
};

/* Per-driver adjustments, found by the driver's file name
 * (SQLGetInfo SQL_DRIVER_NAME). */
struct cns_odbc_quirks {
	const char *match; /* substring of the lower-case driver name */
	const char *const *options; /* "Key=value" added unless the
				      connection sets Key; "%F" in a
				      value becomes the fetch size */
	bool wide;                  /* use the wide (UTF-16) API */
	bool no_block_getdata;      /* SQLSetPos + SQLGetData in a rowset is
				  unreliable even if advertised */
	bool unsized_text;          /* declared text lengths are not enforced */
	const char *quote;          /* identifier quote to use instead of the
				  driver's, or NULL */
	bool native_datetime;       /* dates and timestamps are bound as their
				  structs (see cns_odbc_plan_native) */
};

/* Returns the quirks for a driver name, or an entry with match == NULL
 * (no adjustments). */
const struct cns_odbc_quirks *cns_odbc_quirks_for(const char *driver_name);

struct cns_odbc_col {
	char *name;          /* UTF-8, in src->arena */
	SQLSMALLINT sqltype; /* SQLDescribeCol */
	SQLULEN size;
	SQLSMALLINT digits;
	bool is_unsigned;
	enum cns_odbc_fmt fmt;
	SQLSMALLINT ctype;  /* SQL_C_... used to bind */
	size_t cell;        /* bytes of one bound cell */
	bool unbounded;     /* a value may not fit the cell */
	unsigned char *buf; /* array_size * cell, malloc'd */
	SQLLEN *ind;        /* array_size indicators, malloc'd */
};

struct cns_odbc {
	char what[160]; /* "source \"erp\"" for messages */
	SQLHENV env;
	SQLHDBC dbc;
	SQLHSTMT stmt;        /* guarded by lock against cancel() */
	SQLHSTMT count_stmt;  /* while counting rows; same guard */
	pthread_mutex_t lock; /* guards stmt's lifetime for cancel() */
	bool connected;
	bool wide;
	bool block_getdata; /* SQLSetPos + SQLGetData trusted */
	const struct cns_odbc_quirks *quirks;
	char driver_name[128];
	char dbms[128];
	char quote[8]; /* identifier quote, "" when none */

	char *password;      /* malloc'd, wiped and freed on close */
	struct cns_buf conn; /* connection string as sent (secret) */
	struct cns_buf sql;  /* extraction query */
	struct cns_buf plan; /* describe_plan text */
	int nparams;
	const char **param_val; /* per parameter: watermark text, or
				      NULL for SQL NULL */
	char lookback_val[80];  /* the watermark minus the lookback */
	struct cns_buf params;  /* parameter buffers (text or UTF-16) */
	SQLLEN *param_ind;

	bool prepared, executed, eof;
	int ncols;
	struct cns_odbc_col *cols;
	SQLULEN array;        /* rows per fetch actually in use */
	SQLULEN nfetched;     /* rows in the current rowset */
	SQLULEN rowpos;       /* next row of the rowset to deliver */
	SQLUSMALLINT *status; /* array row status */
	long fetches;         /* SQLFetch calls, for tests */

	unsigned char *piece;   /* CNS_ODBC_PIECE bytes for SQLGetData */
	struct cns_buf longval; /* a value read in pieces */
	struct cns_buf conv;    /* UTF-8 of a UTF-16 value, hex, ... */
};

/* ---- odbc_sql.c: connection strings ---- */

/* Finds key (case-insensitive) in an ODBC connection string, honouring
 * {braced} values; returns true and sets *val and *len to its value (braces
 * kept) when present. */
bool cns_odbc_conn_get(const char *conn, const char *key, const char **val,
		       size_t *len);
/* Appends "key=value;" to b, bracing the value when it needs it, and a
 * ';' before it when b does not end with one. */
void cns_odbc_conn_add(struct cns_buf *b, const char *key, const char *value);
/* Appends conn to out with every PWD or Password value shown as "***" and,
 * when secret is non-empty, every occurrence of secret as well. */
void cns_odbc_redact(const char *conn, const char *secret, struct cns_buf *out);

/* ---- odbc_sql.c: SQL text ---- */

/* Appends name quoted with quote ("" means: as written).  A name that
 * already starts with the quote is taken as written. */
void cns_odbc_quote_ident(struct cns_buf *b, const char *name,
			  const char *quote);
/* Same for a table: "schema.table" is quoted part by part. */
void cns_odbc_quote_table(struct cns_buf *b, const char *name,
			  const char *quote);
/* What shapes the extraction query besides conf. */
struct cns_odbc_order {
	const char *const *cols; /* ordering columns: incremental, then the
				    tie-breaker key */
	int n;
	int notnull;    /* leading columns that get "IS NOT NULL" */
	int nwm;        /* 0, or n: compare (cols) > (watermark) */
	bool lookback;  /* instead: cols[0] > one value (the watermark
			  minus the lookback, computed by the caller) */
	bool unordered; /* no ORDER BY: the query is only counted */
};

/* Builds the extraction query of conf into b: columns, table, where,
 * then the NULL rule, the watermark comparison written out as the
 * expanded lexicographic form with ? markers, and ORDER BY.  Returns the
 * number of ? markers; *param_of receives, per marker, the index of the
 * watermark value it stands for (malloc'd, caller frees; NULL when there
 * are none). */
int cns_odbc_build_sql(struct cns_buf *b, const struct cns_source_conf *conf,
		       const char *quote, const struct cns_odbc_order *ord,
		       int **param_of);
/* Writes into out the date or timestamp text wm moved back by ms
 * milliseconds, in the same shape (separator, fraction, zone suffix kept).
 * Returns -1 when wm is not an ISO date or timestamp. */
int cns_odbc_lookback(const char *wm, int64_t ms, char *out, size_t size);
/* Splits "a.b.c" (quotes removed) into catalog, schema and table; parts
 * that are absent are "". */
void cns_odbc_split_table(const char *name, const char *quote, char *cat,
			  char *schema, char *table, size_t size);

/* ---- odbc_sql.c: types ---- */

/* The type name stored in src->coltypes for a described column, in
 * arena. */
char *cns_odbc_type_name(struct cns_arena *arena, SQLSMALLINT sqltype,
			 SQLULEN size, SQLSMALLINT digits, bool is_unsigned);
/* Chooses fmt, ctype, cell and unbounded for col. */
void cns_odbc_plan_column(struct cns_odbc_col *col, bool wide,
			  bool block_getdata, bool unsized_text);
/* For a driver whose text of a date or timestamp is printed from the
 * same struct it fills for SQL_C_TYPE_DATE and SQL_C_TYPE_TIMESTAMP
 * (psqlODBC parses the server's text into it either way): binds such a
 * column as the struct, which spares the driver a printf and a scanf per
 * value, and writes the text itself (cns_odbc_format_*).  Other columns
 * keep the plan of cns_odbc_plan_column. */
void cns_odbc_plan_native(struct cns_odbc_col *col);
/* The text psqlODBC writes for a date or timestamp struct as SQL_C_CHAR:
 * "YYYY-MM-DD", then " HH:MM:SS", then the fraction without trailing
 * zeros, then " BC" for a negative year.  out holds at least
 * CNS_ODBC_DATETIME_TEXT bytes; returns the length. */
#define CNS_ODBC_DATETIME_TEXT 64
size_t cns_odbc_format_date(const SQL_DATE_STRUCT *d, char *out);
size_t cns_odbc_format_timestamp(const SQL_TIMESTAMP_STRUCT *t, char *out);
/* Rows per fetch for these columns: min(batch, CNS_ODBC_MAX_ARRAY, what
 * CNS_ODBC_BUDGET holds), at least 1. */
SQLULEN cns_odbc_array_size(const struct cns_odbc_col *cols, int ncols,
			    int batch);

/* ---- odbc_sql.c: text ---- */

/* Appends the UTF-16 units w[0..n) to out as UTF-8.  Returns -1 at a
 * lone surrogate (nothing is appended then), else 0. */
int cns_odbc_utf16_to_utf8(const SQLWCHAR *w, size_t n, struct cns_buf *out);
/* Appends s[0..n) (UTF-8) to out as UTF-16 units plus a 0 unit, which
 * out->len does not count.  Returns -1 on invalid UTF-8, else 0. */
int cns_odbc_utf8_to_utf16(const char *s, size_t n, struct cns_buf *out);
/* Appends "\x" and two lower-case hex digits per byte. */
void cns_odbc_hex(const unsigned char *p, size_t n, struct cns_buf *out);

/* ---- odbc_diag.c ---- */

/* What failed, for the choice of message and hint. */
enum cns_odbc_step {
	CNS_ODBC_CONNECT,
	CNS_ODBC_PREPARE,
	CNS_ODBC_EXECUTE,
	CNS_ODBC_FETCH,
	CNS_ODBC_SETUP
};

/* Sets err from every diagnostic record of handle: the first in the
 * message, the rest in the detail, with SQLSTATE and native error; picks
 * the error code (CNS_E_TRANSIENT for connection loss and timeouts,
 * CNS_E_CANCELLED after cancel()) and a hint.  Never shows the password.
 * Always returns -1. */
int cns_odbc_diag(struct cns_source *src, struct cns_odbc *o, SQLSMALLINT type,
		  SQLHANDLE handle, enum cns_odbc_step step, const char *doing,
		  struct cns_error *err);

/* ---- odbc_fetch.c ---- */

/* Binds o->param_val as text parameters of st; o->params holds their
 * buffers until the next call. */
int cns_odbc_bind_params(struct cns_source *src, struct cns_odbc *o,
			 SQLHSTMT st, struct cns_error *err);
/* Binds parameters, executes the prepared query and binds the rowset. */
int cns_odbc_execute(struct cns_source *src, struct cns_odbc *o,
		     struct cns_error *err);
/* Fills chunk from the result; returns 1, 0 at the end, -1 on error. */
int cns_odbc_fill(struct cns_source *src, struct cns_odbc *o,
		  struct cns_chunk *chunk, struct cns_error *err);
/* Frees the bound buffers. */
void cns_odbc_unbind(struct cns_odbc *o);

#ifdef CNS_TEST_HOOKS
/* When > 0, the driver behaves as if the ODBC driver had lowered the row
 * array size to this value with 01S02 "option value changed". */
extern int cns_odbc_test_max_array;
#endif

#endif
