/*
 * secrets.h - the one rule for what a secret is, and the one place that
 * hides secrets.
 *
 * A job's secrets are collected when the job is loaded (passwords in
 * connection strings and URIs, the password and password_file keys,
 * secret-looking ${ENV} values) into the process's secrets set.  Errors
 * (cns_error_set and friends) and run-log events are scrubbed against that
 * set when they are created, so that every output built from them (stderr,
 * the log, runs.jsonl, the history table, metrics, syslog) is clean by
 * construction instead of each output masking on its own.
 *
 * Connection strings are read by one tokenizer that follows the readers
 * of the programs that consume them: libpq's conninfo ("key=value",
 * values quoted with '...' and backslash escapes), libpq's URIs
 * ("postgresql://user:password@host/db?key=value", percent-encoded) and
 * ODBC's "KEY=value;" (values in {braces}, "}}" for a brace).
 */
#ifndef CONSOLIDATE_SECRETS_H
#define CONSOLIDATE_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include "consolidate/util.h"

/* The dialect of a connection string.  CNS_CONN_LIBPQ also reads a
 * postgresql:// or postgres:// URI, as libpq does. */
enum cns_conn_style {
	CNS_CONN_LIBPQ,
	CNS_CONN_ODBC
};

/* What a token is. */
enum cns_conn_kind {
	CNS_CONN_PAIR, /* key=value (also a URI's query parameter) */
	CNS_CONN_WORD, /* a word with no "=": libpq refuses it and quotes it
			* back in its message, and it may be the rest of a
			* password with a blank that was not quoted */
	CNS_CONN_USER, /* a URI's user name */
	CNS_CONN_PASS  /* a URI's password */
};

/* One token of a connection string, passed to a cns_conn_fn. */
struct cns_conn_token {
	enum cns_conn_kind kind;
	const char *key; /* as written, NULL for WORD, USER and PASS;
			    * "dbname" for a libpq string with no "=",
			    * which libpq reads as a database name */
	size_t keylen;
	const char *start; /* the value as written, quotes included */
	const char *end;
	const char *value; /* unquoted, unescaped, percent-decoded; valid
			    * during the call only */
	size_t len;
	bool secret;         /* the value is (or may be part of) a secret */
	const char *problem; /* NULL, or why the program that reads the
			      * string would refuse it ("unterminated quoted
			      * value", "empty key", "no \"=\" after a word") */
};

typedef void (*cns_conn_fn)(const struct cns_conn_token *t, void *arg);

/* Calls fn for every token of conn in order.  Never fails: a malformed
 * part becomes a token with a problem, and everything that could be a
 * secret is marked secret.  Returns the number of tokens with a
 * problem. */
int cns_conn_scan(const char *conn, enum cns_conn_style style, cns_conn_fn fn,
		  void *arg);

/* True when a connection-string key names a secret: password, passwd,
 * pwd, sslpassword (case-insensitive, blanks around it ignored). */
bool cns_secret_key(const char *key, size_t n);

/* ---- the process's secrets set ----
 * Filled while jobs are loaded (before any thread starts), read by every
 * thread; a mutex guards it, so adding later is safe too. */

/* Adds s[0..n).  Values shorter than 4 bytes are not kept: hiding them
 * wherever they occur would blank ordinary words, and they are still
 * hidden where they stand as a password value. */
void cns_secrets_add(const char *s, size_t n);
/* Adds every secret of a connection string: values as written and as
 * decoded, and the words libpq would quote back. */
void cns_secrets_add_conn(const char *conn, enum cns_conn_style style);
/* Adds the first line of a password file (the line odbc sends); a file
 * that cannot be read adds nothing (opening the source reports it). */
void cns_secrets_add_file(const char *path);
/* Forgets every secret (tests). */
void cns_secrets_reset(void);

/* Appends text to out with every secret hidden as "***": the values of
 * the set, password pairs in either dialect, the password of any
 * "scheme://user:password@host", and the word libpq quotes in
 * 'missing "=" after "..."'. */
void cns_secrets_scrub(const char *text, struct cns_buf *out);
/* The same into a fixed buffer, never allocating (for errors).  With
 * truncated, text was cut short: a tail that starts a secret is hidden
 * too. */
void cns_secrets_scrub_fixed(const char *text, bool truncated, char *out,
			     size_t size);
/* Appends conn with the value of every secret token replaced by "***"
 * and the rest as written (for plans and messages that show a
 * connection string). */
void cns_secrets_redact_conn(const char *conn, enum cns_conn_style style,
			     struct cns_buf *out);

#endif
