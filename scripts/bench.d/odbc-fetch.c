/*
 * odbc-fetch.c - the ODBC driver's own cost, for scripts/bench: runs one
 * query through SQLExecDirect and a SQLFetch loop over a block cursor
 * (column-wise binding, 1000-row arrays by default) and discards the rows.
 * Whatever consolidate's ODBC source spends beyond this is its own.
 *
 *   odbc-fetch [-a ROWS] [-m native|char|wchar] CONNECTION SQL
 *
 * -m chooses the C type every column is bound as:
 *   native  integers as SQL_C_SBIGINT, floating point as SQL_C_DOUBLE,
 *           dates and timestamps as their structs, bit as SQL_C_BIT,
 *           character data as SQL_C_WCHAR and the rest (numeric ...) as
 *           SQL_C_CHAR: the cheapest types that keep every value
 *   char    SQL_C_CHAR for every column
 *   wchar   SQL_C_WCHAR for every column
 * Buffers are sized from SQLDescribeCol; a value longer than its buffer is
 * counted, not re-read.  Prints "rows N fetches N truncated N" on stdout;
 * exit status 1 and the driver's diagnostics on stderr on failure.
 *
 * Built by scripts/bench; not part of consolidate.
 */
#define _POSIX_C_SOURCE 200809L

#include <sql.h>
#include <sqlext.h>
#include <sqlucode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void diag(SQLSMALLINT type, SQLHANDLE h, const char *what)
{
	SQLCHAR state[6], msg[1024];
	SQLINTEGER native;
	SQLSMALLINT len;

	fprintf(stderr, "odbc-fetch: %s failed\n", what);
	for (SQLSMALLINT i = 1; SQL_SUCCEEDED(SQLGetDiagRec(
		     type, h, i, state, &native, msg, sizeof(msg), &len));
	     i++)
		fprintf(stderr, "  %s (%ld): %s\n", state, (long)native, msg);
	exit(1);
}

/* The C type and buffer bytes of one cell of a column. */
static void plan(SQLSMALLINT sqltype, SQLULEN size, const char *mode,
		 SQLSMALLINT *ctype, SQLLEN *cell)
{
	if (!strcmp(mode, "native")) {
		switch (sqltype) {
		case SQL_TINYINT:
		case SQL_SMALLINT:
		case SQL_INTEGER:
		case SQL_BIGINT:
			*ctype = SQL_C_SBIGINT;
			*cell = sizeof(SQLBIGINT);
			return;
		case SQL_REAL:
		case SQL_FLOAT:
		case SQL_DOUBLE:
			*ctype = SQL_C_DOUBLE;
			*cell = sizeof(SQLDOUBLE);
			return;
		case SQL_TYPE_DATE:
			*ctype = SQL_C_TYPE_DATE;
			*cell = sizeof(SQL_DATE_STRUCT);
			return;
		case SQL_TYPE_TIMESTAMP:
			*ctype = SQL_C_TYPE_TIMESTAMP;
			*cell = sizeof(SQL_TIMESTAMP_STRUCT);
			return;
		case SQL_BIT:
			*ctype = SQL_C_BIT;
			*cell = 1;
			return;
		case SQL_CHAR:
		case SQL_VARCHAR:
		case SQL_LONGVARCHAR:
		case SQL_WCHAR:
		case SQL_WVARCHAR:
		case SQL_WLONGVARCHAR: *ctype = SQL_C_WCHAR; break;
		default: *ctype = SQL_C_CHAR; break;
		}
	} else {
		*ctype = !strcmp(mode, "wchar") ? SQL_C_WCHAR : SQL_C_CHAR;
	}
	/* Characters of up to 4 bytes of UTF-8 or 2 UTF-16 units, and the
	 * terminator; unknown or huge sizes get 4096 bytes. */
	if (size == 0 || size > 1000)
		*cell = 4096;
	else if (*ctype == SQL_C_WCHAR)
		*cell = (SQLLEN)(size * 2 + 1) * 2;
	else
		*cell = (SQLLEN)size * 4 + 1;
	if (*cell < 64)
		*cell = 64;
}

int main(int argc, char **argv)
{
	SQLHENV env;
	SQLHDBC dbc;
	SQLHSTMT st;
	SQLSMALLINT ncols;
	SQLULEN array = 1000, fetched = 0;
	const char *mode = "native";
	long long rows = 0, fetches = 0, truncated = 0;
	SQLLEN **ind;
	SQLLEN *cell;
	char *text;
	int opt;

	while ((opt = getopt(argc, argv, "a:m:")) != -1) {
		switch (opt) {
		case 'a': array = strtoul(optarg, NULL, 10); break;
		case 'm': mode = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 2 || array == 0 ||
	    (strcmp(mode, "native") && strcmp(mode, "char") &&
	     strcmp(mode, "wchar"))) {
		fprintf(stderr, "usage: odbc-fetch [-a ROWS] "
				"[-m native|char|wchar] CONNECTION SQL\n");
		return 2;
	}
	SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env);
	SQLSetEnvAttr(env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0);
	SQLAllocHandle(SQL_HANDLE_DBC, env, &dbc);
	if (!SQL_SUCCEEDED(SQLDriverConnect(dbc, NULL, (SQLCHAR *)argv[optind],
					    SQL_NTS, NULL, 0, NULL,
					    SQL_DRIVER_NOPROMPT)))
		diag(SQL_HANDLE_DBC, dbc, "connecting");
	SQLAllocHandle(SQL_HANDLE_STMT, dbc, &st);
	if (!SQL_SUCCEEDED(
		    SQLExecDirect(st, (SQLCHAR *)argv[optind + 1], SQL_NTS)))
		diag(SQL_HANDLE_STMT, st, "running the query");
	SQLNumResultCols(st, &ncols);
	SQLSetStmtAttr(st, SQL_ATTR_ROW_BIND_TYPE,
		       (SQLPOINTER)SQL_BIND_BY_COLUMN, 0);
	SQLSetStmtAttr(st, SQL_ATTR_ROW_ARRAY_SIZE, (SQLPOINTER)array, 0);
	SQLGetStmtAttr(st, SQL_ATTR_ROW_ARRAY_SIZE, &array, 0, NULL);
	SQLSetStmtAttr(st, SQL_ATTR_ROWS_FETCHED_PTR, &fetched, 0);
	ind = calloc((size_t)ncols, sizeof(*ind));
	cell = calloc((size_t)ncols, sizeof(*cell));
	text = calloc((size_t)ncols, 1);
	for (SQLSMALLINT i = 0; i < ncols; i++) {
		SQLCHAR name[256];
		SQLSMALLINT namelen, type, digits, nullable, ctype;
		SQLULEN size;
		void *buf;

		if (!SQL_SUCCEEDED(SQLDescribeCol(
			    st, (SQLUSMALLINT)(i + 1), name, sizeof(name),
			    &namelen, &type, &size, &digits, &nullable)))
			diag(SQL_HANDLE_STMT, st, "describing a column");
		plan(type, size, mode, &ctype, &cell[i]);
		text[i] = ctype == SQL_C_CHAR || ctype == SQL_C_WCHAR;
		buf = calloc(array, (size_t)cell[i]);
		ind[i] = calloc(array, sizeof(SQLLEN));
		if (!SQL_SUCCEEDED(SQLBindCol(st, (SQLUSMALLINT)(i + 1), ctype,
					      buf, cell[i], ind[i])))
			diag(SQL_HANDLE_STMT, st, "binding a column");
	}
	for (;;) {
		SQLRETURN rc = SQLFetch(st);

		if (rc == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(rc))
			diag(SQL_HANDLE_STMT, st, "fetching");
		fetches++;
		rows += (long long)fetched;
		/* Looks at every indicator, as any consumer must. */
		for (SQLSMALLINT i = 0; i < ncols; i++)
			for (SQLULEN r = 0; r < fetched; r++)
				if (text[i] && (ind[i][r] >= cell[i] ||
						ind[i][r] == SQL_NO_TOTAL))
					truncated++;
	}
	printf("rows %lld fetches %lld truncated %lld\n", rows, fetches,
	       truncated);
	SQLFreeHandle(SQL_HANDLE_STMT, st);
	SQLDisconnect(dbc);
	SQLFreeHandle(SQL_HANDLE_DBC, dbc);
	SQLFreeHandle(SQL_HANDLE_ENV, env);
	return 0;
}
