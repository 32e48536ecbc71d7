/*
 * odbc_fetch.c - executing the extraction query and reading its rows
 * through a block cursor.
 *
 * Columns are bound column-wise to arrays of array-size cells, so one
 * SQLFetch delivers a whole rowset.  A value longer than its cell is read
 * completely with SQLGetData in pieces: within a rowset after SQLSetPos
 * when the driver can do that reliably, otherwise the statement fetches
 * one row at a time, but only when a column may hold such values (its
 * declared size does not fit a cell).  The re-read value is checked
 * against the truncated copy in the cell, so a driver that positions
 * wrongly fails loudly instead of mixing rows.  Nothing is truncated
 * silently.
 *
 * Memory: the bound cells (at most CNS_ODBC_BUDGET bytes, see
 * odbc_int.h), one piece buffer, and the longest single value.
 */
#include "odbc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/testhook.h"

#ifdef CNS_TEST_HOOKS
int cns_odbc_test_max_array;
#endif

void cns_odbc_unbind(struct cns_odbc *o)
{
	for (int i = 0; o->cols && i < o->ncols; i++) {
		free(o->cols[i].buf);
		free(o->cols[i].ind);
		o->cols[i].buf = NULL;
		o->cols[i].ind = NULL;
	}
	free(o->status);
	o->status = NULL;
	o->array = 0;
	o->nfetched = 0;
	o->rowpos = 0;
}

int cns_odbc_bind_params(struct cns_source *src, struct cns_odbc *o,
			 SQLHSTMT st, struct cns_error *err)
{
	size_t *off;

	if (o->nparams == 0)
		return 0;
	off = cns_xcalloc((size_t)o->nparams, sizeof(*off));
	free(o->param_ind);
	o->param_ind = cns_xcalloc((size_t)o->nparams, sizeof(SQLLEN));
	cns_buf_reset(&o->params);
	/* All values go into one buffer first: it must not move once the
	 * driver holds pointers into it. */
	for (int i = 0; i < o->nparams; i++) {
		const char *v = o->param_val[i];
		size_t start;

		/* Keep every value aligned for SQLWCHAR. */
		if (o->params.len % 2)
			cns_buf_addc(&o->params, '\0');
		start = o->params.len;
		off[i] = start;
		if (!v) {
			/* Compares as unknown, like the postgres driver's
			 * NULL in a row comparison. */
			o->param_ind[i] = SQL_NULL_DATA;
			cns_buf_add(&o->params, "\0\0", 2);
			continue;
		}
		if (o->wide) {
			if (cns_odbc_utf8_to_utf16(v, strlen(v), &o->params) <
			    0) {
				free(off);
				return cns_error_set(err, CNS_E_SOURCE,
						     "%s: watermark value %d "
						     "is not valid UTF-8",
						     o->what, i + 1);
			}
		} else {
			cns_buf_adds(&o->params, v);
		}
		o->param_ind[i] = (SQLLEN)(o->params.len - start);
		/* A terminator unit after each value. */
		cns_buf_add(&o->params, "\0\0", 2);
	}
	for (int i = 0; i < o->nparams; i++) {
		SQLLEN len = o->param_ind[i] < 0 ? 0 : o->param_ind[i];
		SQLULEN chars = (SQLULEN)(o->wide ? len / 2 : len);
		SQLRETURN rc;

		rc = SQLBindParameter(
			st, (SQLUSMALLINT)(i + 1), SQL_PARAM_INPUT,
			o->wide ? SQL_C_WCHAR : SQL_C_CHAR,
			o->wide ? SQL_WVARCHAR : SQL_VARCHAR, chars ? chars : 1,
			0, o->params.data + off[i], len + 2, &o->param_ind[i]);
		if (!SQL_SUCCEEDED(rc)) {
			free(off);
			return cns_odbc_diag(src, o, SQL_HANDLE_STMT, st,
					     CNS_ODBC_EXECUTE,
					     "could not bind the watermark",
					     err);
		}
	}
	free(off);
	return 0;
}

/* Sets the row array size, adapting to what the driver accepts. */
static SQLULEN set_array_size(struct cns_odbc *o, SQLULEN want)
{
	SQLRETURN rc;
	SQLULEN got = 0;

	rc = SQLSetStmtAttr(o->stmt, SQL_ATTR_ROW_ARRAY_SIZE, (SQLPOINTER)want,
			    0);
#ifdef CNS_TEST_HOOKS
	if (cns_odbc_test_max_array > 0 &&
	    want > (SQLULEN)cns_odbc_test_max_array) {
		SQLSetStmtAttr(o->stmt, SQL_ATTR_ROW_ARRAY_SIZE,
			       (SQLPOINTER)(SQLULEN)cns_odbc_test_max_array, 0);
		rc = SQL_SUCCESS_WITH_INFO;
	}
#endif
	if (rc == SQL_SUCCESS)
		return want;
	/* 01S02 "option value changed": the driver chose another size;
	 * an error: it has no block cursors at all.  Either way ask. */
	if (!SQL_SUCCEEDED(SQLGetStmtAttr(o->stmt, SQL_ATTR_ROW_ARRAY_SIZE,
					  &got, 0, NULL)) ||
	    got == 0) {
		SQLSetStmtAttr(o->stmt, SQL_ATTR_ROW_ARRAY_SIZE,
			       (SQLPOINTER)(SQLULEN)1, 0);
		got = 1;
	}
	return got;
}

int cns_odbc_execute(struct cns_source *src, struct cns_odbc *o,
		     struct cns_error *err)
{
	SQLRETURN rc;
	SQLULEN want;
	bool any_unbounded = false;

	if (cns_odbc_bind_params(src, o, o->stmt, err) < 0)
		goto fail;
	rc = SQLExecute(o->stmt);
	if (!SQL_SUCCEEDED(rc) && rc != SQL_NO_DATA) {
		cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->stmt,
			      CNS_ODBC_EXECUTE,
			      "could not run the extraction query", err);
		goto fail;
	}
	for (int i = 0; i < o->ncols; i++)
		any_unbounded |= o->cols[i].unbounded;
	/* Without SQLGetData inside a rowset, a long value can only be
	 * read completely when the rowset is that one row. */
	if (any_unbounded && !o->block_getdata)
		want = 1;
	else
		want = cns_odbc_array_size(o->cols, o->ncols, src->batch_size);
	SQLSetStmtAttr(o->stmt, SQL_ATTR_ROW_BIND_TYPE,
		       (SQLPOINTER)SQL_BIND_BY_COLUMN, 0);
	o->array = set_array_size(o, want);
	o->status = cns_xcalloc(o->array, sizeof(*o->status));
	if (!o->piece)
		o->piece = cns_xmalloc(CNS_ODBC_PIECE);
	if (!SQL_SUCCEEDED(SQLSetStmtAttr(o->stmt, SQL_ATTR_ROWS_FETCHED_PTR,
					  &o->nfetched, 0))) {
		cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->stmt, CNS_ODBC_SETUP,
			      "could not set up the block cursor", err);
		goto fail;
	}
	/* The status array is optional: all rows count as fetched
	 * without it. */
	SQLSetStmtAttr(o->stmt, SQL_ATTR_ROW_STATUS_PTR, o->status, 0);
	for (int i = 0; i < o->ncols; i++) {
		struct cns_odbc_col *c = &o->cols[i];

		c->buf = cns_xcalloc(o->array, c->cell);
		c->ind = cns_xcalloc(o->array, sizeof(*c->ind));
		rc = SQLBindCol(o->stmt, (SQLUSMALLINT)(i + 1), c->ctype,
				c->buf, (SQLLEN)c->cell, c->ind);
		if (!SQL_SUCCEEDED(rc)) {
			cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->stmt,
				      CNS_ODBC_SETUP, "could not bind a column",
				      err);
			goto fail;
		}
	}
	o->executed = true;
	return 0;
fail:
	cns_error_in_source(err, src->conf->name);
	return -1;
}

/* Bytes of a cell that hold data when the value was cut (the rest is
 * the terminator). */
static size_t cell_room(const struct cns_odbc_col *c)
{
	switch (c->fmt) {
	case CNS_ODBC_TEXT: return c->cell - 1;
	case CNS_ODBC_WTEXT: return c->cell - sizeof(SQLWCHAR);
	case CNS_ODBC_BIT:
	case CNS_ODBC_BINARY:
	case CNS_ODBC_DATE:
	case CNS_ODBC_TIMESTAMP: break;
	}
	return c->cell;
}

/* Reads the whole value of column i of rowset row r into o->longval.
 * Returns 0, or 1 when the value turned out to be NULL, or -1. */
static int read_long(struct cns_source *src, struct cns_odbc *o, int i,
		     SQLULEN r, struct cns_error *err)
{
	struct cns_odbc_col *c = &o->cols[i];
	size_t term = c->fmt == CNS_ODBC_TEXT    ? 1
		      : c->fmt == CNS_ODBC_WTEXT ? sizeof(SQLWCHAR)
						 : 0;
	size_t full = CNS_ODBC_PIECE - term, room = cell_room(c);
	const unsigned char *cell = c->buf + r * c->cell;

	if (o->array > 1) {
		if (!o->block_getdata) {
			cns_error_set(err, CNS_E_SOURCE,
				      "%s: a value of column \"%s\" in row "
				      "%lld is longer than its declared size",
				      o->what, c->name,
				      (long long)src->rows_read);
			cns_error_detail(err,
					 "the column was bound with %zu bytes "
					 "and the driver \"%s\" cannot read "
					 "longer values within a rowset",
					 c->cell, o->driver_name);
			cns_error_hint(err, "declare the column without a "
					    "length limit, or cast it to a "
					    "long text type in a query");
			return -1;
		}
		if (!SQL_SUCCEEDED(SQLSetPos(o->stmt, (SQLSETPOSIROW)(r + 1),
					     SQL_POSITION, SQL_LOCK_NO_CHANGE)))
			return cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->stmt,
					     CNS_ODBC_FETCH,
					     "could not position on a row to "
					     "read a long value",
					     err);
	}
	cns_buf_reset(&o->longval);
	for (;;) {
		SQLLEN ind = 0;
		SQLRETURN rc;
		size_t got;

		rc = SQLGetData(o->stmt, (SQLUSMALLINT)(i + 1), c->ctype,
				o->piece, CNS_ODBC_PIECE, &ind);
		if (rc == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(rc))
			return cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->stmt,
					     CNS_ODBC_FETCH,
					     "could not read a long value",
					     err);
		if (ind == SQL_NULL_DATA)
			return 1;
		if (ind == SQL_NO_TOTAL || (size_t)ind > full)
			got = full;
		else
			got = (size_t)ind;
		if (c->fmt == CNS_ODBC_WTEXT)
			got -= got % sizeof(SQLWCHAR);
		cns_buf_add(&o->longval, o->piece, got);
		if (rc == SQL_SUCCESS || got < full)
			break;
	}
	/* The cell holds the value's first bytes: a re-read that does not
	 * start with them came from another row. */
	if (o->longval.len < room || memcmp(o->longval.data, cell, room)) {
		cns_error_set(err, CNS_E_SOURCE,
			      "%s: the driver returned a different value when "
			      "column \"%s\" of row %lld was read again",
			      o->what, c->name, (long long)src->rows_read);
		cns_error_detail(err,
				 "driver \"%s\": SQLSetPos followed by "
				 "SQLGetData is not reliable",
				 o->driver_name);
		return -1;
	}
	return 0;
}

/* Passes a row that cannot be delivered to the reject callback, or fails
 * without one.  Returns 1 (row dropped) or -1. */
static int reject_row(struct cns_source *src, struct cns_odbc *o,
		      struct cns_chunk *chunk, const char *reason,
		      struct cns_error *err)
{
	if (!src->reject) {
		cns_error_set(err, CNS_E_SOURCE, "%s: row %lld: %s", o->what,
			      (long long)src->rows_read, reason);
		return -1;
	}
	src->reject(src->reject_ctx, src, src->rows_read, NULL, reason);
	cns_chunk_drop_last(chunk);
	return 1;
}

/* Copies column i of rowset row r into chunk row `row`.  Returns 0, 1
 * when the row was rejected, or -1. */
static int put_cell(struct cns_source *src, struct cns_odbc *o,
		    struct cns_chunk *chunk, int row, int i, SQLULEN r,
		    struct cns_error *err)
{
	struct cns_odbc_col *c = &o->cols[i];
	SQLLEN ind = c->ind[r];
	const unsigned char *data = c->buf + r * c->cell;
	size_t len;
	char reason[300];
	long bad;

	if (ind == SQL_NULL_DATA)
		return 0;
	if (c->fmt == CNS_ODBC_BIT) {
		cns_chunk_set_ref(chunk, row, i, data[0] ? "t" : "f", 1);
		src->bytes_read += 1;
		return 0;
	}
	if (c->fmt == CNS_ODBC_DATE || c->fmt == CNS_ODBC_TIMESTAMP) {
		char text[CNS_ODBC_DATETIME_TEXT];

		/* A struct is never cut: its indicator is not a length. */
		if (c->fmt == CNS_ODBC_DATE)
			len = cns_odbc_format_date(
				(const SQL_DATE_STRUCT *)(const void *)data,
				text);
		else
			len = cns_odbc_format_timestamp(
				(const SQL_TIMESTAMP_STRUCT *)(const void *)data,
				text);
		cns_chunk_set(chunk, row, i, text, len);
		src->bytes_read += (int64_t)len;
		return 0;
	}
	if (ind == SQL_NO_TOTAL || ind < 0 || (size_t)ind > cell_room(c)) {
		int rc = read_long(src, o, i, r, err);

		if (rc < 0)
			return -1;
		if (rc == 1)
			return 0;
		data = (const unsigned char *)o->longval.data;
		len = o->longval.len;
	} else {
		len = (size_t)ind;
	}
	switch (c->fmt) {
	case CNS_ODBC_TEXT:
		bad = cns_utf8_invalid_at((const char *)data, len);
		if (bad >= 0) {
			snprintf(reason, sizeof(reason),
				 "invalid UTF-8 in column \"%s\" at byte %ld",
				 c->name, bad);
			return reject_row(src, o, chunk, reason, err);
		}
		cns_chunk_set(chunk, row, i, (const char *)data, len);
		break;
	case CNS_ODBC_WTEXT:
		cns_buf_reset(&o->conv);
		if (cns_odbc_utf16_to_utf8((const SQLWCHAR *)data,
					   len / sizeof(SQLWCHAR),
					   &o->conv) < 0) {
			snprintf(reason, sizeof(reason),
				 "invalid UTF-16 in column \"%s\"", c->name);
			return reject_row(src, o, chunk, reason, err);
		}
		len = o->conv.len;
		cns_chunk_set(chunk, row, i, o->conv.data, len);
		break;
	case CNS_ODBC_BINARY:
		cns_buf_reset(&o->conv);
		cns_odbc_hex(data, len, &o->conv);
		len = o->conv.len;
		cns_chunk_set(chunk, row, i, o->conv.data, len);
		break;
	case CNS_ODBC_BIT:
	case CNS_ODBC_DATE:
	case CNS_ODBC_TIMESTAMP: break;
	}
	src->bytes_read += (int64_t)len;
	return 0;
}

/* Fetches the next rowset; returns 1, 0 at the end, -1 on error. */
static int fetch(struct cns_source *src, struct cns_odbc *o,
		 struct cns_error *err)
{
	SQLRETURN rc;

	memset(o->status, 0, o->array * sizeof(*o->status));
	o->nfetched = 0;
	o->rowpos = 0;
	if (cns_fail_now("SQLFetch"))
		return cns_error_set(err, CNS_E_SOURCE,
				     "source \"%s\": could not fetch rows: "
				     "injected failure of SQLFetch",
				     src->conf->name);
	rc = SQLFetch(o->stmt);
	o->fetches++;
	if (rc == SQL_NO_DATA || (SQL_SUCCEEDED(rc) && o->nfetched == 0)) {
		o->eof = true;
		SQLFreeStmt(o->stmt, SQL_CLOSE);
		return 0;
	}
	if (!SQL_SUCCEEDED(rc))
		return cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->stmt,
				     CNS_ODBC_FETCH, "could not fetch rows",
				     err);
	if (o->nfetched > o->array)
		o->nfetched = o->array;
	return 1;
}

int cns_odbc_fill(struct cns_source *src, struct cns_odbc *o,
		  struct cns_chunk *chunk, struct cns_error *err)
{
	while (!cns_chunk_full(chunk)) {
		SQLULEN r;
		int row, rc = 0;

		if (o->rowpos >= o->nfetched) {
			if (o->eof || src->cancelled)
				break;
			rc = fetch(src, o, err);
			if (rc < 0)
				goto fail;
			if (rc == 0)
				break;
		}
		r = o->rowpos++;
		if (o->status[r] == SQL_ROW_NOROW ||
		    o->status[r] == SQL_ROW_DELETED)
			continue;
		src->rows_read++;
		if (o->status[r] == SQL_ROW_ERROR) {
			cns_odbc_diag(src, o, SQL_HANDLE_STMT, o->stmt,
				      CNS_ODBC_FETCH, "could not convert a row",
				      err);
			cns_error_detail(err, "row %lld of the result",
					 (long long)src->rows_read);
			goto fail;
		}
		row = cns_chunk_add_row(chunk, src->rows_read, NULL);
		rc = 0;
		for (int i = 0; i < o->ncols && rc == 0; i++)
			rc = put_cell(src, o, chunk, row, i, r, err);
		if (rc < 0)
			goto fail;
	}
	/* A cancelled statement may end like a finished one (MariaDB's
	 * KILL QUERY): the rows are not all there. */
	if (src->cancelled) {
		cns_error_set(err, CNS_E_CANCELLED,
			      "%s: extraction was cancelled", o->what);
		goto fail;
	}
	/* The longest value stays allocated only until the next one. */
	if (o->longval.cap > 4 * CNS_ODBC_PIECE)
		cns_buf_release(&o->longval);
	return chunk->nrows > 0;
fail:
	cns_error_in_source(err, src->conf->name);
	return -1;
}
