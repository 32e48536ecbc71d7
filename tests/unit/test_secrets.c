/*
 * test_secrets.c - the one secrets rule: the tokenizer of libpq conninfo
 * strings, URIs and ODBC strings (well-formed and malformed: unterminated
 * quotes and braces, empty keys, words with no "=", "@" and percent
 * escapes in passwords), what the secrets set collects from them, the
 * scrubber over free text (server messages that quote a secret back,
 * truncated text, fixed buffers), and errors scrubbed as they are set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consolidate/error.h"
#include "consolidate/secrets.h"

/* Tokens as text: "P key=value", "W word", "U user", "S password",
 * each followed by "*" when secret and "!" when it has a problem,
 * separated by " | ". */
static void describe(const struct cns_conn_token *t, void *arg)
{
	struct cns_buf *b = arg;

	if (b->len)
		cns_buf_adds(b, " | ");
	switch (t->kind) {
	case CNS_CONN_PAIR:
		cns_buf_printf(b, "P %.*s=", (int)t->keylen, t->key);
		break;
	case CNS_CONN_WORD: cns_buf_adds(b, "W "); break;
	case CNS_CONN_USER: cns_buf_adds(b, "U "); break;
	case CNS_CONN_PASS: cns_buf_adds(b, "S "); break;
	}
	cns_buf_add(b, t->value, t->len);
	if (t->secret)
		cns_buf_addc(b, '*');
	if (t->problem)
		cns_buf_addc(b, '!');
}

static void test_tokenizer(void **state)
{
	static const struct {
		enum cns_conn_style style;
		const char *in, *want;
		int problems;
	} cases[] = {
		/* libpq conninfo */
		{ CNS_CONN_LIBPQ, "host=db password=hunter2 user=u",
		  "P host=db | P password=hunter2* | P user=u", 0 },
		{ CNS_CONN_LIBPQ, "  password = 'a b\\' c'  dbname=x ",
		  "P password=a b' c* | P dbname=x", 0 },
		{ CNS_CONN_LIBPQ, "PassWord=x sslpassword=y PWD=z passwd=w",
		  "P PassWord=x* | P sslpassword=y* | P PWD=z* | P passwd=w*",
		  0 },
		{ CNS_CONN_LIBPQ, "host=a\\ b password=p\\'q",
		  "P host=a b | P password=p'q*", 0 },
		{ CNS_CONN_LIBPQ, "password=''", "P password=*", 0 },
		{ CNS_CONN_LIBPQ, "mydb", "P dbname=mydb", 0 },
		{ CNS_CONN_LIBPQ, "", "", 0 },
		/* What libpq refuses. */
		{ CNS_CONN_LIBPQ, "password=Top Secret4blank",
		  "P password=Top* | W Secret4blank*!", 1 },
		{ CNS_CONN_LIBPQ, "user=u password='abc def",
		  "P user=u | P password=abc def*!", 1 },
		{ CNS_CONN_LIBPQ, "password='abc\\", "P password=abc\\*!", 1 },
		{ CNS_CONN_LIBPQ, "=v host=h", "P =v! | P host=h", 1 },
		{ CNS_CONN_LIBPQ, "host=h =", "P host=h | P =!", 1 },
		{ CNS_CONN_LIBPQ, "a b=c", "W a*! | P b=c", 1 },
		/* URIs */
		{ CNS_CONN_LIBPQ, "postgresql://u:hunter2@h:5432/db?sslmode=x",
		  "U u | S hunter2* | P sslmode=x", 0 },
		{ CNS_CONN_LIBPQ, "postgres://u:p%40ss%20w%3a@h/db",
		  "U u | S p@ss w:*", 0 },
		{ CNS_CONN_LIBPQ, "postgres://h/db?password=hun%74er2&user=u",
		  "P password=hunter2* | P user=u", 0 },
		{ CNS_CONN_LIBPQ, "postgres://u@h/db", "U u", 0 },
		{ CNS_CONN_LIBPQ, "postgresql://", "", 0 },
		{ CNS_CONN_LIBPQ, "postgresql://u:@h", "U u | S *", 0 },
		{ CNS_CONN_LIBPQ, "postgresql://u:p@ss@h/db", "U u | S p@ss*!",
		  1 },
		{ CNS_CONN_LIBPQ, "postgresql://h/db?Secret4word&x=1",
		  "W Secret4word*! | P x=1", 1 },
		{ CNS_CONN_LIBPQ, "postgresql://h/db?=v", "P =v!", 1 },
		{ CNS_CONN_LIBPQ, "postgresql://u:p%zz@h", "U u | S p%zz*", 0 },
		/* ODBC */
		{ CNS_CONN_ODBC, "Driver=X;PWD={a;b}};c};UID=u",
		  "P Driver=X | P PWD=a;b};c* | P UID=u", 0 },
		{ CNS_CONN_ODBC, "DSN=x;Password=hunter2;",
		  "P DSN=x | P Password=hunter2*", 0 },
		{ CNS_CONN_ODBC, " UID = u ; PWD=Two words ;",
		  "P UID=u  | P PWD=Two words *", 0 },
		{ CNS_CONN_ODBC, "PWD= {a;b} ;X=1", "P PWD=a;b* | P X=1", 0 },
		{ CNS_CONN_ODBC, "UID=u;PWD={abc", "P UID=u | P PWD=abc*!", 1 },
		{ CNS_CONN_ODBC, "UID=u;PWD={abc}}", "P UID=u | P PWD=abc}*!",
		  1 },
		{ CNS_CONN_ODBC, "DSN=x;;garbage;=v",
		  "P DSN=x | W garbage*! | P =v!", 2 },
		{ CNS_CONN_ODBC, "", "", 0 },
	};
	struct cns_buf b;

	(void)state;
	cns_buf_init(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n;

		cns_buf_reset(&b);
		cns_buf_add(&b, "", 0);
		n = cns_conn_scan(cases[i].in, cases[i].style, describe, &b);
		if (strcmp(b.data, cases[i].want) || n != cases[i].problems)
			fail_msg("case %zu \"%s\":\n want %s (%d problems)\n "
				 "got  %s (%d)",
				 i, cases[i].in, cases[i].want,
				 cases[i].problems, b.data, n);
	}
	cns_buf_release(&b);
}

static void test_keys(void **state)
{
	static const char *const yes[] = { "password", "PASSWORD",
					   "pwd",      "Pwd",
					   "passwd",   "sslpassword",
					   " pwd ",    "Password\t" };
	static const char *const no[] = { "pass",      "user", "passwords",
					  "xpassword", "",     "pw d" };

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(cns_secret_key(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(cns_secret_key(no[i], strlen(no[i])));
}

static char *scrub(const char *text)
{
	static char buf[4096];
	struct cns_buf b;

	cns_buf_init(&b);
	cns_secrets_scrub(text, &b);
	snprintf(buf, sizeof(buf), "%s", b.data);
	cns_buf_release(&b);
	return buf;
}

static void test_redact_conn(void **state)
{
	static const struct {
		enum cns_conn_style style;
		const char *in, *out;
	} cases[] = {
		{ CNS_CONN_LIBPQ, "host=db password=hunter2 user=u",
		  "host=db password=*** user=u" },
		{ CNS_CONN_LIBPQ, "password = 'a b\\' c' dbname=x",
		  "password = *** dbname=x" },
		{ CNS_CONN_LIBPQ, "service=erp", "service=erp" },
		{ CNS_CONN_LIBPQ, "user=u password='abc",
		  "user=u password=***" },
		{ CNS_CONN_LIBPQ, "password=Top Secret4blank host=h",
		  "password=*** *** host=h" },
		{ CNS_CONN_LIBPQ, "postgresql://u:hunter2@h:5432/db?sslmode=r",
		  "postgresql://u:***@h:5432/db?sslmode=r" },
		{ CNS_CONN_LIBPQ, "postgres://h/db?password=hunter2&user=u",
		  "postgres://h/db?password=***&user=u" },
		{ CNS_CONN_LIBPQ, "postgres://u@h/db", "postgres://u@h/db" },
		{ CNS_CONN_LIBPQ, "postgresql://u:p@ss@h/db",
		  "postgresql://u:***@h/db" },
		{ CNS_CONN_LIBPQ, "", "" },
		{ CNS_CONN_ODBC, "Driver=X;PWD={a;b}};c};UID=u",
		  "Driver=X;PWD=***;UID=u" },
		{ CNS_CONN_ODBC, "DSN=x;Password=hunter2;",
		  "DSN=x;Password=***;" },
		{ CNS_CONN_ODBC, "UID=u;PWD={abc", "UID=u;PWD=***" },
	};
	struct cns_buf b;

	(void)state;
	cns_buf_init(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cns_buf_reset(&b);
		cns_secrets_redact_conn(cases[i].in, cases[i].style, &b);
		assert_string_equal(b.data, cases[i].out);
	}
	cns_buf_release(&b);
}

/* Each way a secret comes in, and each way a message may carry it. */
static void test_collect_and_scrub(void **state)
{
	char path[] = "/tmp/cns-test-secrets-XXXXXX";
	int fd;

	(void)state;
	cns_secrets_reset();
	cns_secrets_add_conn("host=h password=Top Secret4blank",
			     CNS_CONN_LIBPQ);
	cns_secrets_add_conn("user=u password='Quoted Pa55 w\\'d'",
			     CNS_CONN_LIBPQ);
	cns_secrets_add_conn("postgresql://u:Uri%40Pa55@h/db", CNS_CONN_LIBPQ);
	cns_secrets_add_conn("postgresql://u:At@Sign4pw@h/db", CNS_CONN_LIBPQ);
	cns_secrets_add_conn("Driver=x;PWD={Br4ced;Semi}}}", CNS_CONN_ODBC);
	cns_secrets_add_conn("Driver=x;PWD=Plain0dbc", CNS_CONN_ODBC);
	cns_secrets_add("abc", 3); /* too short to hide everywhere */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "F1le Pa55 \nsecond\n", 18), 18);
	close(fd);
	cns_secrets_add_file(path);
	unlink(path);

	/* libpq quotes the word after the blank back. */
	assert_string_equal(
		scrub("could not connect: missing \"=\" after \"Secret4blank\" "
		      "in connection info string"),
		"could not connect: missing \"=\" after \"***\" in connection "
		"info string");
	/* Even a fragment too short for the set. */
	assert_string_equal(
		scrub("missing \"=\" after \"ab\" in connection info string"),
		"missing \"=\" after \"***\" in connection info string");
	assert_string_equal(scrub("a Secret4blank b Top c"), "a *** b Top c");
	assert_string_equal(scrub("x Quoted Pa55 w'd y"), "x *** y");
	assert_string_equal(scrub("x Quoted Pa55 w\\'d y"), "x *** y");
	assert_string_equal(scrub("raw Uri%40Pa55 decoded Uri@Pa55"),
			    "raw *** decoded ***");
	/* libpq reads "At" as the password and "Sign4pw@h" as the host. */
	assert_string_equal(
		scrub("could not translate host name \"Sign4pw@h\""),
		"could not translate host name \"***@h\"");
	assert_string_equal(scrub("[odbc] Br4ced;Semi} and Plain0dbc"),
			    "[odbc] *** and ***");
	/* The line as written (trailing blank) and trimmed. */
	assert_string_equal(scrub("F1le Pa55 and F1le Pa55."), "***and ***.");
	assert_string_equal(scrub("abc stays"), "abc stays");
	/* Pairs and URIs with values nobody collected. */
	assert_string_equal(scrub("password=xyz PWD={a;b} passwd = 'q r'"),
			    "password=*** PWD=*** passwd = ***");
	assert_string_equal(scrub("see postgres://me:unknown@h/d?pwd=v&a=b"),
			    "see postgres://me:***@h/d?pwd=***&a=b");
	assert_string_equal(scrub("no secret here"), "no secret here");
	assert_string_equal(scrub(""), "");
	cns_secrets_reset();
	assert_string_equal(scrub("Secret4blank"), "Secret4blank");
}

static void test_fixed(void **state)
{
	char out[16];
	char big[64];

	(void)state;
	cns_secrets_reset();
	cns_secrets_add("Sup3rS3cret", 11);
	/* Cut inside a secret: the tail that starts it goes too. */
	cns_secrets_scrub_fixed("key Sup3rS", true, big, sizeof(big));
	assert_string_equal(big, "key ***");
	cns_secrets_scrub_fixed("key Sup3rS", false, big, sizeof(big));
	assert_string_equal(big, "key Sup3rS");
	/* Too short a tail is not taken for one. */
	cns_secrets_scrub_fixed("key Sup", true, big, sizeof(big));
	assert_string_equal(big, "key Sup");
	/* The output is cut to the buffer, NUL-terminated. */
	cns_secrets_scrub_fixed("0123456789abcdefghij Sup3rS3cret", false, out,
				sizeof(out));
	assert_string_equal(out, "0123456789abcde");
	cns_secrets_scrub_fixed("x", false, out, 0);
	cns_secrets_reset();
}

static void test_errors(void **state)
{
	struct cns_error err;
	char long_text[3000], buf[4096];

	(void)state;
	cns_secrets_reset();
	cns_secrets_add("Sup3rS3cret", 11);
	cns_error_clear(&err);
	cns_error_set(&err, CNS_E_TARGET, "could not connect: %s",
		      "FATAL: password Sup3rS3cret refused");
	cns_error_detail(&err, "conninfo was host=h password=Other0ne");
	cns_error_hint(&err, "try postgresql://u:Sup3rS3cret@h");
	assert_string_equal(err.message,
			    "could not connect: FATAL: password *** refused");
	assert_string_equal(err.detail, "conninfo was host=h password=***");
	assert_string_equal(err.hint, "try postgresql://u:***@h");
	assert_null(strstr(cns_error_format(&err, buf, sizeof(buf)),
			   "Sup3rS3cret"));
	/* A secret beyond the field's end is cut before it, never half
	 * shown: the text is scrubbed before it is cut. */
	memset(long_text, 'x', sizeof(long_text));
	long_text[1018] = ' ';
	memcpy(long_text + 1019, "Sup3rS3cret", 11);
	long_text[sizeof(long_text) - 1] = '\0';
	cns_error_clear(&err);
	cns_error_set(&err, CNS_E_TARGET, "%s", long_text);
	assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
	assert_null(strstr(err.message, "Sup3"));
	cns_secrets_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokenizer),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_redact_conn),
		cmocka_unit_test(test_collect_and_scrub),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
