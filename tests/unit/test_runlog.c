/*
 * test_runlog.c - what runs leave behind, and the commands that read it:
 * log lines in text and JSON (also from four threads at once), the
 * runs.jsonl record, a crashed run noticed through its marker, the
 * metrics file against a strict checker of the Prometheus text format
 * (and replaced atomically under a reader), retention by count and by
 * age, the trimming of runs.jsonl, skipped runs, secrets that must appear
 * nowhere, and `history`, `log` and `status` called as the CLI calls
 * them, with stdout captured.
 *
 * Everything happens in a temporary folder that the group teardown
 * removes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "consolidate/secrets.h"
#include "consolidate/config.h"
#include "consolidate/htmlreport.h"
#include "consolidate/runlog.h"
#include "consolidate/status.h"
#include "../../src/cli/commands.h"
#include "../../src/runlog/internal.h"
#include "json_helper.h"

static char tmpdir[256];

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	char *real;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cns-test-runlog-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	real = realpath(tmpdir, NULL);
	snprintf(tmpdir, sizeof(tmpdir), "%s", real);
	free(real);
	unsetenv("CNS_NOW");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ---- */

static const char *in_tmp(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* A path under tmpdir, in one of 8 rotating static buffers. */
static const char *in_tmp(const char *fmt, ...)
{
	static char bufs[8][1024];
	static int next;
	char *b = bufs[next++ % 8];
	char rel[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(b, 1024, "%s/%s", tmpdir, rel);
	return b;
}

static struct cns_job_conf *make_job(const char *name)
{
	struct cns_job_conf *job = calloc(1, sizeof(*job));
	struct cns_arena *a = &job->arena;

	cns_arena_init(a, 8192);
	job->name = cns_arena_strdup(a, name);
	job->file = cns_arena_printf(a, "%s/%s.conf", tmpdir, name);
	job->dir = cns_arena_strdup(a, tmpdir);
	job->log_dir = cns_arena_printf(a, "%s/log", tmpdir);
	job->rejects_dir = cns_arena_printf(a, "%s/rejects", tmpdir);
	job->log_keep = cns_arena_strdup(a, "30");
	job->target.conninfo = cns_arena_strdup(a, "service=warehouse");
	return job;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		fail_msg("could not open %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static char *read_gz(const char *path)
{
	gzFile gz = gzopen(path, "rb");
	struct cns_buf b;
	char chunk[4096];
	int n;

	assert_non_null(gz);
	cns_buf_init(&b);
	cns_buf_add(&b, "", 0);
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0)
		cns_buf_add(&b, chunk, (size_t)n);
	gzclose(gz);
	return b.data;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fail_msg("could not create %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void mkdirs(const char *path)
{
	assert_int_equal(cns_mkdir_p(path), 0);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The n-th line (0-based) of s, in a static buffer. */
static const char *line_of(const char *s, int n)
{
	static char buf[8192];

	while (n-- > 0) {
		s = strchr(s, '\n');
		assert_non_null(s);
		s++;
	}
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(s, "\n"), s);
	return buf;
}

static bool matches(const char *re, const char *s)
{
	regex_t r;
	bool ok;

	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	ok = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return ok;
}

/* Calls a command with stdout sent to a file; returns what it printed
 * (malloc'ed) and its exit code in *rc. */
static char *capture(int (*fn)(int, char **), int *rc, ...)
{
	char *argv[16];
	int argc = 0, saved, fd;
	const char *path = in_tmp("stdout.txt");
	va_list ap;

	va_start(ap, rc);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	*rc = fn(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	return read_all(path);
}

static struct cns_runlog *open_ok(const struct cns_job_conf *job,
				  const char *run_id, int64_t started_us)
{
	struct cns_error err;
	struct cns_runlog *l;

	cns_error_clear(&err);
	l = cns_runlog_open(job, run_id, started_us, &err);
	if (!l)
		fail_msg("open: %s", err.message);
	return l;
}

static void finish_ok(struct cns_runlog *l, const struct cns_run_record *rec)
{
	struct cns_error err;

	cns_error_clear(&err);
	if (cns_runlog_finish(l, rec, &err) < 0)
		fail_msg("finish: %s", err.message);
	cns_runlog_close(l);
}

#define TS_RE                                                                  \
	"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "

/* 2026-11-22T03:15:00Z */
#define T0 ((int64_t)1795317300 * 1000000)

/* ---- run ids and file names ---- */

static void test_run_id(void **state)
{
	char id[64], id2[64];

	(void)state;
	cns_run_id_new(T0 + 123456, id, sizeof(id));
	assert_true(matches("^20261122T031500Z-[0-9a-f]{6}$", id));
	cns_run_id_new(T0, id2, sizeof(id2));
	assert_string_not_equal(id, id2);
}

static void test_file_names(void **state)
{
	struct cns_job_conf *job = make_job("names");
	struct cns_runlog *l;
	char want[1024];

	(void)state;
	/* A run id that starts with the start's stamp is not repeated. */
	l = open_ok(job, "20261122T031500Z-a1b2c3", T0);
	snprintf(want, sizeof(want), "%s/log/names/20261122T031500Z-a1b2c3.log",
		 tmpdir);
	assert_string_equal(cns_runlog_path(l), want);
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });

	l = open_ok(job, "manual-1", T0 + 60000000);
	snprintf(want, sizeof(want),
		 "%s/log/names/20261122T031600Z-manual-1.log", tmpdir);
	assert_string_equal(cns_runlog_path(l), want);
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	cns_config_free(job);
}

static void test_write_errors(void **state)
{
	struct cns_job_conf *job = make_job("errs");
	struct cns_runlog *l;
	struct cns_error err;
	char want[2048], dir[1024], *text;

	(void)state;
	/* A log folder that cannot be created. */
	write_text(in_tmp("not-a-dir"), "x");
	job->log_dir =
		cns_arena_printf(&job->arena, "%s/not-a-dir/log", tmpdir);
	cns_error_clear(&err);
	assert_null(cns_runlog_open(job, "20261122T031500Z-0000e1", T0, &err));
	assert_int_equal(err.code, CNS_E_IO);
	snprintf(want, sizeof(want),
		 "could not create the log folder \"%s/not-a-dir/log/errs\": "
		 "Not a directory",
		 tmpdir);
	assert_string_equal(err.message, want);

	/* runs.jsonl and the metrics file cannot be written: finish says
	 * so (the metrics file first: it is written first), turns the
	 * success into a failure in the log, and still ends the log and
	 * removes the marker. */
	job->log_dir = cns_arena_printf(&job->arena, "%s/log", tmpdir);
	job->metrics_file =
		cns_arena_printf(&job->arena, "%s/not-a-dir/m.prom", tmpdir);
	cns_runlog_dir(job, dir, sizeof(dir));
	mkdirs(in_tmp("log/errs/runs.jsonl"));
	l = open_ok(job, "20261122T031500Z-0000e2", T0);
	cns_error_clear(&err);
	assert_int_equal(cns_runlog_finish(l,
					   &(struct cns_run_record){
						   .status = CNS_RUN_OK },
					   &err),
			 -1);
	snprintf(want, sizeof(want),
		 "could not write the metrics file \"%s/not-a-dir/m.prom\": "
		 "Not a directory",
		 tmpdir);
	assert_string_equal(err.message, want);
	text = read_all(cns_runlog_path(l));
	assert_null(strstr(text, "run succeeded"));
	assert_non_null(strstr(text, "stage=end run failed: could not write "
				     "the metrics file"));
	assert_non_null(strstr(text, "ERROR run=20261122T031500Z-0000e2 "
				     "stage=metrics could not write the "
				     "metrics file"));
	free(text);
	{
		struct cns_run_marker m;

		assert_int_equal(cns_runlog_marker(job, &m, NULL), 0);
	}
	cns_runlog_close(l);
	cns_config_free(job);
}

/* ---- log lines ---- */

static void test_text_lines(void **state)
{
	struct cns_job_conf *job = make_job("text");
	struct cns_runlog *l;
	char *text, re[512];
	const char *id = "20261122T031500Z-000001";

	(void)state;
	l = open_ok(job, id, T0);
	cns_runlog_log(l, CNS_LOG_INFO, "load", "erp", "chunk committed",
		       CNS_KV_INT("rows", 10), CNS_KV_INT("bytes", 2048));
	cns_runlog_log(l, CNS_LOG_WARN, "extract", NULL,
		       "two\nlines\tand a \x01 control");
	cns_runlog_log(l, CNS_LOG_ERROR, NULL, "crm", "boom");
	cns_runlog_put(l, CNS_LOG_DEBUG, "x", NULL, NULL, NULL);
	text = read_all(cns_runlog_path(l));
	assert_int_equal(count_lines(text), 5);
	snprintf(re, sizeof(re),
		 TS_RE "INFO  run=%s stage=start run started job=text "
		       "file=%s/text.conf host=[^ ]+ pid=%ld version=[^ ]+$",
		 id, tmpdir, (long)getpid());
	assert_true(matches(re, line_of(text, 0)));
	snprintf(re, sizeof(re),
		 TS_RE "INFO  run=%s stage=load source=erp chunk committed "
		       "rows=10 bytes=2048$",
		 id);
	assert_true(matches(re, line_of(text, 1)));
	assert_string_equal(strstr(line_of(text, 2), "WARN "),
			    "WARN  run=20261122T031500Z-000001 stage=extract "
			    "two\\nlines\\tand a \\x01 control");
	assert_string_equal(strstr(line_of(text, 3), "ERROR"),
			    "ERROR run=20261122T031500Z-000001 stage=run "
			    "source=crm boom");
	assert_string_equal(strstr(line_of(text, 4), "DEBUG"),
			    "DEBUG run=20261122T031500Z-000001 stage=x ");
	free(text);
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	cns_config_free(job);
}

static void test_json_lines(void **state)
{
	struct cns_job_conf *job = make_job("json");
	struct cns_runlog *l;
	json_t *o;
	char *text;
	const char *line;

	(void)state;
	job->log_format = CNS_LOGFMT_JSON;
	l = open_ok(job, "20261122T031500Z-000002", T0);
	cns_runlog_log(l, CNS_LOG_INFO, "load", "erp", "chunk committed",
		       CNS_KV_INT("rows", 10),
		       CNS_KV_STR("file", "a \"b\" c.csv"),
		       CNS_KV_SEC("ratio", 0.5), CNS_KV_STR("code", "007"),
		       CNS_KV_STR("msg", "hi"), CNS_KV_INT("neg", -3));
	cns_runlog_log(l, CNS_LOG_WARN, "extract", NULL,
		       "line\nbreak and \xff byte");
	cns_runlog_log(l, CNS_LOG_INFO, "x", NULL, "",
		       CNS_KV_STR("only", "pairs"), CNS_KV_INT("here", 1));
	cns_runlog_log(l, CNS_LOG_INFO, "x", NULL, "no pairs = here");
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	text = read_all(in_tmp("log/json/20261122T031500Z-000002.log"));

	/* Every line is one JSON object. */
	for (int i = 0; i < count_lines(text); i++) {
		line = line_of(text, i);
		o = tj_parse(line, strlen(line));
		if (!json_is_object(o))
			fail_msg("line %d is not a JSON object: %s", i, line);
		assert_true(matches("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z$",
				    tj_str(o, "ts")));
		assert_string_equal(tj_str(o, "run"),
				    "20261122T031500Z-000002");
	}
	line = line_of(text, 0);
	o = tj_parse(line, strlen(line));
	assert_string_equal(tj_str(o, "level"), "info");
	assert_string_equal(tj_str(o, "stage"), "start");
	assert_string_equal(tj_str(o, "msg"), "run started");
	assert_string_equal(tj_str(o, "job"), "json");

	line = line_of(text, 1);
	o = tj_parse(line, strlen(line));
	assert_string_equal(tj_str(o, "stage"), "load");
	assert_string_equal(tj_str(o, "source"), "erp");
	assert_string_equal(tj_str(o, "msg"), "chunk committed");
	/* Numbers as numbers, the rest as strings, quotes decoded; a pair
	 * never shadows a field of the line. */
	assert_int_equal(tj_type(o, "rows"), JSON_INTEGER);
	assert_int_equal(cns_json_int(o, "rows", 0), 10);
	assert_int_equal(cns_json_int(o, "neg", 0), -3);
	assert_true(cns_json_num(o, "ratio", 0) == 0.5);
	assert_string_equal(tj_str(o, "code"), "007");
	assert_string_equal(tj_str(o, "file"), "a \"b\" c.csv");
	assert_string_equal(tj_str(o, "msg_"), "hi");

	line = line_of(text, 2);
	o = tj_parse(line, strlen(line));
	assert_string_equal(tj_str(o, "level"), "warn");
	assert_null(json_object_get(o, "source"));
	assert_string_equal(tj_str(o, "msg"),
			    "line\nbreak and \xef\xbf\xbd byte");

	line = line_of(text, 3);
	o = tj_parse(line, strlen(line));
	assert_string_equal(tj_str(o, "msg"), "");
	assert_string_equal(tj_str(o, "only"), "pairs");

	line = line_of(text, 4);
	o = tj_parse(line, strlen(line));
	assert_string_equal(tj_str(o, "msg"), "no pairs = here");

	/* The last line is the end line. */
	line = line_of(text, count_lines(text) - 1);
	assert_true(cns_runlog_is_end_line(line, strlen(line)));
	o = tj_parse(line, strlen(line));
	assert_string_equal(tj_str(o, "stage"), "end");
	assert_string_equal(tj_str(o, "status"), "ok");
	tj_free_all();
	free(text);
	cns_config_free(job);
}

/* ---- typed pairs, rendered as text and as JSON ---- */

/* String values and how a text line writes them. */
static const struct {
	const char *val, *text;
} str_cases[] = {
	{ "plain", "plain" },
	{ "", "\"\"" },
	{ NULL, "\"\"" },
	{ "with space", "\"with space\"" },
	{ "a \"b\" c", "\"a \\\"b\\\" c\"" },
	{ "\"", "\"\\\"\"" },
	{ "back\\slash", "\"back\\\\slash\"" },
	{ "\\", "\"\\\\\"" },
	{ "end\\", "\"end\\\\\"" },
	{ "line\nbreak", "\"line\\nbreak\"" },
	{ "cr\rlf", "\"cr\\rlf\"" },
	{ "tab\there", "\"tab\\there\"" },
	{ "ctl\x01x", "ctl\\x01x" },
	{ "a=b", "a=b" },
	{ "k=\"v w\"", "\"k=\\\"v w\\\"\"" },
	{ "caf\xc3\xa9", "caf\xc3\xa9" },
};

#define NSTR (int)(sizeof(str_cases) / sizeof(str_cases[0]))

/* Writes the same events to a log in the given format; returns the log's
 * text (malloc'ed).  Line 0 is the start line. */
static char *write_typed_events(struct cns_job_conf *job, const char *id)
{
	struct cns_runlog *l = open_ok(job, id, T0);
	char *text;

	for (int i = 0; i < NSTR; i++)
		cns_runlog_log(l, CNS_LOG_INFO, "x", NULL, "v",
			       CNS_KV_STR("k", str_cases[i].val));
	cns_runlog_log(l, CNS_LOG_INFO, "x", NULL, "numbers",
		       CNS_KV_INT("zero", 0), CNS_KV_INT("neg", -1),
		       CNS_KV_INT("min", INT64_MIN),
		       CNS_KV_INT("max", INT64_MAX), CNS_KV_SEC("s", 1.5),
		       CNS_KV_SEC("neg_s", -0.25), CNS_KV_SEC("big_s", 1e6),
		       CNS_KV_SEC("inf_s", INFINITY));
	cns_runlog_log(l, CNS_LOG_INFO, "x", NULL, "reserved",
		       CNS_KV_STR("ts", "a"), CNS_KV_STR("level", "b"),
		       CNS_KV_STR("run", "c"), CNS_KV_STR("stage", "d"),
		       CNS_KV_STR("source", "e"), CNS_KV_STR("msg", "f"));
	cns_runlog_log(l, CNS_LOG_WARN, "retry", "erp",
		       "transient failure, retrying from the last checkpoint",
		       CNS_KV_INT("attempt", 2), CNS_KV_INT("of", 5),
		       CNS_KV_INT("delay_ms", 400),
		       CNS_KV_STR("cause",
				  "could not read from source \"erp\": "
				  "server closed\nthe connection"));
	cns_runlog_log(l, CNS_LOG_INFO, "x", NULL, "",
		       CNS_KV_STR("only", "pairs"), CNS_KV_INT("n", 1));
	cns_runlog_log(l, CNS_LOG_INFO, "x", NULL, "k=v in a message");
	text = read_all(cns_runlog_path(l));
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	return text;
}

static void test_typed_text(void **state)
{
	struct cns_job_conf *job = make_job("typed-text");
	const char *id = "20261122T031500Z-0000a1";
	char *text, want[512];
	int n = 1;

	(void)state;
	text = write_typed_events(job, id);
	for (int i = 0; i < NSTR; i++, n++) {
		snprintf(want, sizeof(want), "INFO  run=%s stage=x v k=%s", id,
			 str_cases[i].text);
		assert_string_equal(strstr(line_of(text, n), "INFO "), want);
	}
	assert_string_equal(strstr(line_of(text, n++), "stage="),
			    "stage=x numbers zero=0 neg=-1 "
			    "min=-9223372036854775808 max=9223372036854775807 "
			    "s=1.500 neg_s=-0.250 big_s=1000000.000 inf_s=inf");
	/* Text has no fields to shadow: the pairs come after the message
	 * and the first " stage=" is still the line's. */
	assert_string_equal(strstr(line_of(text, n++), "stage="),
			    "stage=x reserved ts=a level=b run=c stage=d "
			    "source=e msg=f");
	assert_string_equal(
		strstr(line_of(text, n++), "WARN "),
		"WARN  run=20261122T031500Z-0000a1 stage=retry source=erp "
		"transient failure, retrying from the last checkpoint "
		"attempt=2 of=5 delay_ms=400 cause=\"could not read from "
		"source \\\"erp\\\": server closed\\nthe connection\"");
	/* No message: no blank before the first pair. */
	assert_string_equal(strstr(line_of(text, n++), "stage="),
			    "stage=x only=pairs n=1");
	assert_string_equal(strstr(line_of(text, n++), "stage="),
			    "stage=x k=v in a message");
	assert_int_equal(count_lines(text), n);
	free(text);
	cns_config_free(job);
}

/* The number member `key` of o, as written in line: jansson keeps the
 * value, not its spelling, so the spelling is read from the line after
 * jansson has said that the member is a number. */
static const char *json_number(const json_t *o, const char *line,
			       const char *key)
{
	static char buf[64];
	char pat[80];
	const char *p;
	size_t n;

	if (!json_is_number(json_object_get(o, key)))
		fail_msg("\"%s\" is not a JSON number", key);
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	if (!p)
		fail_msg("\"%s\" is not in %s", key, line);
	p += strlen(pat);
	n = strspn(p, "-+0123456789.eE");
	snprintf(buf, sizeof(buf), "%.*s", (int)n, p);
	return buf;
}

static void test_typed_json(void **state)
{
	struct cns_job_conf *job = make_job("typed-json");
	const char *id = "20261122T031500Z-0000a2";
	json_t *o;
	const char *line;
	char *text;
	int n = 1;

	(void)state;
	job->log_format = CNS_LOGFMT_JSON;
	text = write_typed_events(job, id);
#define PARSE()                                                                \
	do {                                                                   \
		line = line_of(text, n++);                                     \
		o = tj_parse(line, strlen(line));                              \
		if (!o)                                                        \
			fail_msg("not JSON: %s", line);                        \
	} while (0)
	for (int i = 0; i < NSTR; i++) {
		PARSE();
		assert_string_equal(tj_str(o, "msg"), "v");
		assert_string_equal(tj_str(o, "k"),
				    str_cases[i].val ? str_cases[i].val : "");
	}

	PARSE();
	{
		static const char *const num[][2] = {
			{ "zero", "0" },
			{ "neg", "-1" },
			{ "min", "-9223372036854775808" },
			{ "max", "9223372036854775807" },
			{ "s", "1.500" },
			{ "neg_s", "-0.250" },
			{ "big_s", "1000000.000" },
		};

		for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++)
			assert_string_equal(json_number(o, line, num[i][0]),
					    num[i][1]);
	}
	/* Not a number JSON can hold. */
	assert_true(json_is_null(json_object_get(o, "inf_s")));

	/* A pair never shadows a field of the line. */
	PARSE();
	assert_true(
		matches("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z$", tj_str(o, "ts")));
	assert_string_equal(tj_str(o, "level"), "info");
	assert_string_equal(tj_str(o, "run"), id);
	assert_string_equal(tj_str(o, "stage"), "x");
	assert_null(json_object_get(o, "source"));
	assert_string_equal(tj_str(o, "msg"), "reserved");
	{
		static const char *const renamed[][2] = {
			{ "ts_", "a" },    { "level_", "b" },  { "run_", "c" },
			{ "stage_", "d" }, { "source_", "e" }, { "msg_", "f" },
		};

		for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]);
		     i++)
			assert_string_equal(tj_str(o, renamed[i][0]),
					    renamed[i][1]);
	}

	/* A retry whose cause holds quotes and a line break keeps every
	 * field, typed. */
	PARSE();
	assert_string_equal(tj_str(o, "stage"), "retry");
	assert_string_equal(tj_str(o, "source"), "erp");
	assert_string_equal(
		tj_str(o, "msg"),
		"transient failure, retrying from the last checkpoint");
	assert_string_equal(json_number(o, line, "attempt"), "2");
	assert_string_equal(json_number(o, line, "of"), "5");
	assert_string_equal(json_number(o, line, "delay_ms"), "400");
	assert_string_equal(tj_str(o, "cause"),
			    "could not read from source \"erp\": "
			    "server closed\nthe connection");

	PARSE();
	assert_string_equal(tj_str(o, "msg"), "");
	assert_string_equal(tj_str(o, "only"), "pairs");
	assert_string_equal(json_number(o, line, "n"), "1");

	/* Text in a message is never read back as pairs. */
	PARSE();
	assert_string_equal(tj_str(o, "msg"), "k=v in a message");
	assert_null(json_object_get(o, "k"));
#undef PARSE
	assert_int_equal(count_lines(text), n);
	tj_free_all();
	free(text);
	cns_config_free(job);
}

struct emitter {
	struct cns_runlog *l;
	int id;
};

static void *emit_many(void *arg)
{
	struct emitter *e = arg;
	char src[8];

	snprintf(src, sizeof(src), "s%d", e->id);
	for (int i = 0; i < 1000; i++)
		cns_runlog_log(e->l, CNS_LOG_INFO, "work", src, "event",
			       CNS_KV_INT("t", e->id), CNS_KV_INT("i", i),
			       CNS_KV_STR("pad",
					  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
					  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
					  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
	return NULL;
}

static void test_threads(void **state)
{
	for (int json = 0; json < 2; json++) {
		struct cns_job_conf *job =
			make_job(json ? "thr-json" : "thr-text");
		struct emitter e[4];
		pthread_t th[4];
		struct cns_runlog *l;
		static int seen[4][1000];
		char *text, *p;
		int n = 0;

		(void)state;
		job->log_format = json ? CNS_LOGFMT_JSON : CNS_LOGFMT_TEXT;
		memset(seen, 0, sizeof(seen));
		l = open_ok(job, "20261122T031500Z-000003", T0);
		for (int i = 0; i < 4; i++) {
			e[i].l = l;
			e[i].id = i;
			assert_int_equal(pthread_create(&th[i], NULL, emit_many,
							&e[i]),
					 0);
		}
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		text = read_all(cns_runlog_path(l));
		cns_runlog_close(l);
		assert_int_equal(count_lines(text), 4001);
		for (p = strchr(text, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
			size_t len = strcspn(p, "\n");
			char line[512];
			int t, i;

			assert_true(len < sizeof(line));
			memcpy(line, p, len);
			line[len] = '\0';
			if (json) {
				json_t *o = tj_parse(line, len);

				assert_non_null(o);
				assert_string_equal(tj_str(o, "msg"), "event");
				t = (int)cns_json_int(o, "t", -1);
				i = (int)cns_json_int(o, "i", -1);
				assert_int_equal(strlen(tj_str(o, "pad")), 93);
				tj_free_all();
			} else {
				const char *m = strstr(line, "stage=work");

				assert_true(matches(TS_RE "INFO  run=", line));
				assert_non_null(m);
				assert_int_equal(
					sscanf(m,
					       "stage=work source=s%*d "
					       "event t=%d i=%d",
					       &t, &i),
					2);
				assert_true(matches(" pad=x{93}$", line));
			}
			assert_true(t >= 0 && t < 4 && i >= 0 && i < 1000);
			seen[t][i]++;
			n++;
		}
		assert_int_equal(n, 4000);
		for (int t = 0; t < 4; t++)
			for (int i = 0; i < 1000; i++)
				assert_int_equal(seen[t][i], 1);
		free(text);
		cns_config_free(job);
	}
}

/* ---- runs.jsonl ---- */

static struct cns_source_stats two_sources[2] = {
	{ .name = "erp",
	  .state = CNS_SRC_DONE,
	  .read = 1234,
	  .filtered = 4,
	  .rejected = 30,
	  .loaded = 1200,
	  .written = 1100,
	  .chunks = 2,
	  .bytes = 99999,
	  .started_ms = 1000,
	  .finished_ms = 3500 },
	{ .name = "crm",
	  .state = CNS_SRC_FAILED,
	  .read = 10,
	  .loaded = 0,
	  .started_ms = 1000,
	  .finished_ms = 0 },
};

static void test_record(void **state)
{
	struct cns_job_conf *job = make_job("record");
	struct cns_runlog *l;
	json_t *o, *s;
	const char *before[] = { "[\"2026-11-01\",\"7\"]", NULL };
	const char *after[] = { "[\"2026-11-02\",\"9\"]", "not json" };
	struct cns_run_history h;
	struct cns_error err;
	char *text, host[256] = "";
	const char *line;

	(void)state;
	gethostname(host, sizeof(host) - 1);
	l = open_ok(job, "20261122T031500Z-000004", T0);
	/* A marker while the run is going. */
	{
		struct cns_run_marker m;

		assert_int_equal(cns_runlog_marker(job, &m, NULL), 1);
		assert_string_equal(m.run_id, "20261122T031500Z-000004");
		assert_int_equal(m.pid, getpid());
		assert_string_equal(m.host, host);
		assert_true(m.started_us == T0);
		assert_string_equal(m.log, "20261122T031500Z-000004.log");
	}
	finish_ok(l, &(struct cns_run_record){
			     .started_us = T0,
			     .ended_us = T0 + 12345000,
			     .status = CNS_RUN_FAILED,
			     .exit_code = 1,
			     .nsources = 2,
			     .sources = two_sources,
			     .watermark_before = before,
			     .watermark_after = after,
			     .error = "could not connect to source \"crm\": "
				      "refused\nDETAIL: more",
		     });
	/* The marker is gone. */
	{
		struct cns_run_marker m;

		assert_int_equal(cns_runlog_marker(job, &m, NULL), 0);
	}

	text = read_all(in_tmp("log/record/runs.jsonl"));
	assert_int_equal(count_lines(text), 1);
	o = tj_parse(text, strlen(text));
	assert_non_null(o);
	assert_string_equal(tj_str(o, "run_id"), "20261122T031500Z-000004");
	assert_string_equal(tj_str(o, "job"), "record");
	assert_string_equal(tj_str(o, "host"), host);
	assert_int_equal(cns_json_int(o, "pid", 0), getpid());
	assert_string_equal(tj_str(o, "start"), "2026-11-22T03:15:00.000Z");
	assert_string_equal(tj_str(o, "end"), "2026-11-22T03:15:12.345Z");
	assert_true(cns_json_num(o, "duration_s", 0) == 12.345);
	assert_string_equal(tj_str(o, "status"), "failed");
	assert_int_equal(cns_json_int(o, "exit_code", -1), 1);
	assert_string_equal(tj_str(o, "error"),
			    "could not connect to source \"crm\": "
			    "refused\nDETAIL: more");
	assert_string_equal(tj_str(o, "log"), "20261122T031500Z-000004.log");
	s = json_object_get(json_object_get(o, "sources"), "erp");
	assert_non_null(s);
	assert_string_equal(tj_str(s, "status"), "ok");
	assert_int_equal(cns_json_int(s, "read", 0), 1234);
	assert_int_equal(cns_json_int(s, "filtered", 0), 4);
	assert_int_equal(cns_json_int(s, "rejected", 0), 30);
	assert_int_equal(cns_json_int(s, "loaded", 0), 1200);
	assert_int_equal(cns_json_int(s, "written", 0), 1100);
	assert_int_equal(cns_json_int(s, "chunks", 0), 2);
	assert_int_equal(cns_json_int(s, "bytes", 0), 99999);
	assert_true(cns_json_num(s, "seconds", 0) == 2.5);
	assert_int_equal(tj_type(s, "watermark_before"), JSON_ARRAY);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(s, "watermark_after"), 0)),
			    "2026-11-02");
	s = json_object_get(json_object_get(o, "sources"), "crm");
	assert_string_equal(tj_str(s, "status"), "failed");
	assert_int_equal(tj_type(s, "seconds"), JSON_NULL);
	assert_int_equal(tj_type(s, "watermark_before"), JSON_NULL);
	/* A watermark that is not JSON is kept as a string. */
	assert_string_equal(tj_str(s, "watermark_after"), "not json");
	tj_free_all();
	free(text);

	/* The log ends with a summary per source and the end line. */
	text = read_all(in_tmp("log/record/20261122T031500Z-000004.log"));
	assert_int_equal(count_lines(text), 4);
	assert_non_null(strstr(line_of(text, 1),
			       "INFO  run=20261122T031500Z-000004 "
			       "stage=summary source=erp source done "
			       "status=ok read=1234 filtered=4 rejected=30 "
			       "loaded=1200 written=1100 chunks=2 bytes=99999 "
			       "seconds=2.500"));
	assert_non_null(strstr(line_of(text, 2),
			       "ERROR run=20261122T031500Z-000004 "
			       "stage=summary source=crm source ended "
			       "status=failed"));
	line = line_of(text, 3);
	assert_non_null(strstr(line, "ERROR run=20261122T031500Z-000004 "
				     "stage=end run failed: could not "
				     "connect to source \"crm\": refused"
				     "\\nDETAIL: more "
				     "status=failed exit=1 seconds=12.345 "
				     "read=1244 loaded=1200 rejected=30"));
	assert_true(cns_runlog_is_end_line(line, strlen(line)));
	assert_false(cns_runlog_is_end_line(line_of(text, 1),
					    strlen(line_of(text, 1))));
	free(text);

	/* Read back as history. */
	cns_error_clear(&err);
	assert_int_equal(cns_runlog_history(job, 10, &h, &err), 0);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.runs[0].status, CNS_RUN_FAILED);
	assert_true(h.runs[0].started_us == T0);
	assert_true(h.runs[0].ended_us == T0 + 12345000);
	assert_int_equal(h.runs[0].nsources, 2);
	assert_string_equal(h.runs[0].sources[1].name, "crm");
	assert_int_equal(h.runs[0].sources[0].loaded, 1200);
	cns_run_history_release(&h);
	cns_config_free(job);
}

/* ---- crashed runs ---- */

static long dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return (long)pid;
}

static void write_marker(const struct cns_job_conf *job, const char *id,
			 long pid, const char *host, int64_t started_us)
{
	char dir[1024], path[1100], text[1024];

	cns_runlog_dir(job, dir, sizeof(dir));
	mkdirs(dir);
	snprintf(path, sizeof(path), "%s/running", dir);
	snprintf(text, sizeof(text),
		 "{\"run_id\":\"%s\",\"pid\":%ld,\"host\":\"%s\","
		 "\"start\":\"x\",\"started_us\":%lld,\"log\":\"%s.log\"}\n",
		 id, pid, host, (long long)started_us, id);
	write_text(path, text);
	snprintf(path, sizeof(path), "%s/%s.log", dir, id);
	write_text(path, "2026-11-22T03:00:00.000Z INFO  run=x stage=start "
			 "run started\n");
}

static void test_crashed(void **state)
{
	struct cns_job_conf *job = make_job("crash");
	struct cns_runlog *l;
	struct cns_run_history h;
	char host[256] = "", *text;

	(void)state;
	gethostname(host, sizeof(host) - 1);
	write_marker(job, "20261122T030000Z-dead01", dead_pid(), host,
		     T0 - 900000000);
	l = open_ok(job, "20261122T031500Z-000005", T0);
	text = read_all(cns_runlog_path(l));
	assert_non_null(strstr(line_of(text, 1),
			       "WARN  run=20261122T031500Z-000005 stage=start "
			       "earlier run 20261122T030000Z-dead01 ended "
			       "without a record"));
	free(text);
	/* The crashed run's own log says so at its end. */
	text = read_all(in_tmp("log/crash/20261122T030000Z-dead01.log"));
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(line_of(text, 1),
			       "ERROR run=20261122T030000Z-dead01 stage=end "
			       "run presumed crashed"));
	assert_true(cns_runlog_is_end_line(line_of(text, 1),
					   strlen(line_of(text, 1))));
	free(text);

	assert_int_equal(cns_runlog_history(job, 0, &h, NULL), 0);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.runs[0].run_id, "20261122T030000Z-dead01");
	assert_int_equal(h.runs[0].status, CNS_RUN_CRASHED);
	assert_true(h.runs[0].ended_us == -1);
	assert_true(h.runs[0].duration_s == -1);
	assert_int_equal(h.runs[0].exit_code, -1);
	assert_true(h.runs[0].started_us == T0 - 900000000);
	assert_non_null(strstr(h.runs[0].line, "\"end\":null"));
	cns_run_history_release(&h);
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });

	/* A marker whose run did record its end (it died just before
	 * removing the marker) is not recorded twice. */
	write_marker(job, "20261122T031500Z-000005", dead_pid(), host, T0);
	l = open_ok(job, "20261122T033000Z-000006", T0 + 900000000);
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	assert_int_equal(cns_runlog_history(job, 0, &h, NULL), 0);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.runs[1].run_id, "20261122T031500Z-000005");
	assert_int_equal(h.runs[1].status, CNS_RUN_OK);
	assert_string_equal(h.runs[2].run_id, "20261122T033000Z-000006");
	cns_run_history_release(&h);

	/* A live process that started before its run: left alone, with a
	 * warning. */
	write_marker(job, "20261122T034500Z-alive1", (long)getppid(), host,
		     cns_wall_us());
	l = open_ok(job, "20261122T040000Z-000007", T0 + 2700000000);
	text = read_all(cns_runlog_path(l));
	assert_non_null(strstr(text, "WARN  run=20261122T040000Z-000007 "
				     "stage=start run 20261122T034500Z-alive1 "
				     "still appears to be running"));
	free(text);
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	assert_int_equal(cns_runlog_history(job, 0, &h, NULL), 0);
	assert_int_equal(h.n, 4);
	assert_int_equal(h.runs[3].status, CNS_RUN_OK);
	cns_run_history_release(&h);
	cns_config_free(job);
}

static void test_marker_alive(void **state)
{
	struct cns_run_marker m;

	(void)state;
	memset(&m, 0, sizeof(m));
	gethostname(m.host, sizeof(m.host) - 1);
	m.started_us = cns_wall_us();
	m.pid = (long)getppid();
	assert_true(cns_runlog_marker_alive(&m, false));
	/* A pid reused by a process that started after the run. */
	m.started_us = cns_wall_us() - (int64_t)3600 * 1000000 * 24 * 365 * 30;
	assert_false(cns_runlog_marker_alive(&m, false));
	m.started_us = cns_wall_us();
	m.pid = dead_pid();
	assert_false(cns_runlog_marker_alive(&m, false));
	/* Our own process is never the marker's (that run is over). */
	m.pid = (long)getpid();
	assert_false(cns_runlog_marker_alive(&m, false));
	/* Another host: as the caller says. */
	snprintf(m.host, sizeof(m.host), "elsewhere.example");
	m.pid = (long)getppid();
	assert_false(cns_runlog_marker_alive(&m, false));
	assert_true(cns_runlog_marker_alive(&m, true));
}

/* ---- metrics ---- */

static bool valid_name(const char *s, size_t n, bool metric)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_' || (metric && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return !(n >= 2 && s[0] == '_' && s[1] == '_');
}

struct family {
	char name[128];
	char type[16];
	bool help, sampled, closed;
};

/* A strict checker of the Prometheus text format: every line is a HELP,
 * a TYPE or a sample `name{labels} value`; names and label names are
 * valid; each family has one HELP and one TYPE before its samples, its
 * samples are together, no series repeats, counters are not negative;
 * every sample carries job="<job>".  Returns NULL, or what is wrong. */
static const char *check_prometheus(const char *text, const char *job)
{
	static char why[1200];
	struct family fam[64];
	int nfam = 0, cur = -1;
	char series[512][256];
	int nseries = 0;
	const char *p = text;

	if (!*text || text[strlen(text) - 1] != '\n')
		return "does not end with a newline";
	while (*p) {
		size_t len = strcspn(p, "\n");
		char line[1024];
		struct family *f = NULL;

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + 1;
		if (!strncmp(line, "# HELP ", 7) ||
		    !strncmp(line, "# TYPE ", 7)) {
			const char *name = line + 7;
			size_t nl = strcspn(name, " ");
			bool help = line[2] == 'H';

			if (!valid_name(name, nl, true) || !name[nl] ||
			    !name[nl + 1])
				goto bad;
			for (int i = 0; i < nfam; i++)
				if (strlen(fam[i].name) == nl &&
				    !strncmp(fam[i].name, name, nl))
					f = &fam[i];
			if (!f) {
				if (nfam == 64)
					goto bad;
				f = &fam[nfam++];
				memset(f, 0, sizeof(*f));
				snprintf(f->name, sizeof(f->name), "%.*s",
					 (int)nl, name);
			}
			if (f->sampled)
				goto bad; /* metadata after samples */
			if (help) {
				if (f->help)
					goto bad;
				f->help = true;
			} else {
				const char *t = name + nl + 1;

				if (f->type[0] || (strcmp(t, "counter") &&
						   strcmp(t, "gauge") &&
						   strcmp(t, "histogram") &&
						   strcmp(t, "summary") &&
						   strcmp(t, "untyped")))
					goto bad;
				snprintf(f->type, sizeof(f->type), "%s", t);
			}
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			goto bad;
		{
			size_t nl = strcspn(line, "{ ");
			const char *q = line + nl, *vs;
			bool has_job = false;
			char *end;
			double v;
			int idx = -1;

			if (!valid_name(line, nl, true) || *q != '{')
				goto bad;
			for (int i = 0; i < nfam; i++)
				if (strlen(fam[i].name) == nl &&
				    !strncmp(fam[i].name, line, nl))
					idx = i;
			if (idx < 0 || !fam[idx].type[0] || !fam[idx].help)
				goto bad; /* no TYPE or HELP before */
			if (idx != cur) {
				if (fam[idx].closed)
					goto bad; /* family not together */
				if (cur >= 0)
					fam[cur].closed = true;
				cur = idx;
			}
			fam[idx].sampled = true;
			q++;
			while (*q != '}') {
				size_t kl = strcspn(q, "=");
				const char *val;

				if (!valid_name(q, kl, false) || q[kl] != '=' ||
				    q[kl + 1] != '"')
					goto bad;
				val = q + kl + 2;
				if (kl == 3 && !strncmp(q, "job", 3)) {
					size_t jl = strlen(job);

					has_job = !strncmp(val, job, jl) &&
						  val[jl] == '"';
				}
				q = val;
				while (*q && *q != '"') {
					if (*q == '\\') {
						if (!strchr("\\\"n", q[1]))
							goto bad;
						q++;
					}
					if (*q == '\n')
						goto bad;
					q++;
				}
				if (*q != '"')
					goto bad;
				q++;
				if (*q == ',')
					q++;
				else if (*q != '}')
					goto bad;
			}
			if (!has_job)
				goto bad;
			if (nseries == 512)
				goto bad;
			snprintf(series[nseries], 256, "%.*s",
				 (int)(q + 1 - line), line);
			for (int i = 0; i < nseries; i++)
				if (!strcmp(series[i], series[nseries]))
					goto bad; /* repeated series */
			nseries++;
			if (q[1] != ' ')
				goto bad;
			vs = q + 2;
			if (strcmp(vs, "NaN") && strcmp(vs, "+Inf") &&
			    strcmp(vs, "-Inf")) {
				v = strtod(vs, &end);
				if (end == vs || *end)
					goto bad;
				if (!strcmp(fam[idx].type, "counter") && v < 0)
					goto bad;
			}
		}
		continue;
bad:
		snprintf(why, sizeof(why), "bad line: %s", line);
		return why;
	}
	for (int i = 0; i < nfam; i++)
		if (!fam[i].type[0] || !fam[i].help) {
			snprintf(why, sizeof(why), "%s lacks TYPE or HELP",
				 fam[i].name);
			return why;
		}
	return NULL;
}

/* The value of the sample that starts with `series`, or NAN. */
static double sample(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -12345;
}

static void test_checker_itself(void **state)
{
	static const char *const bad[] = {
		"",
		"x{job=\"j\"} 1\n", /* no TYPE */
		"# HELP x h\n# TYPE x gauge\nx{job=\"j\"} one\n",
		"# HELP x h\n# TYPE x gauge\nx{job=\"j\"} 1",
		"# HELP x h\n# TYPE x gauge\nx{job=\"k\"} 1\n",
		"# HELP x h\n# TYPE x gauge\nx{job=\"j\"} 1\nx{job=\"j\"} 2\n",
		"# HELP x h\n# TYPE x gauge\n9x{job=\"j\"} 1\n",
		"# HELP x h\n# TYPE x gaug\nx{job=\"j\"} 1\n",
		"# HELP x h\n# TYPE x counter\nx{job=\"j\"} -1\n",
		"# HELP x h\n# TYPE x gauge\nx{job=\"j\",a=\"\\q\"} 1\n",
		"# HELP x h\n# TYPE x gauge\n# HELP y h\n# TYPE y gauge\n"
		"x{job=\"j\"} 1\ny{job=\"j\"} 1\nx{job=\"j\",a=\"b\"} 1\n",
		"# HELP x h\n# TYPE x gauge\n\nx{job=\"j\"} 1\n",
	};

	(void)state;
	assert_null(check_prometheus("# HELP x h\n# TYPE x gauge\n"
				     "x{job=\"j\",a=\"q\\\"\\\\\\n\"} 1.5e3\n",
				     "j"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!check_prometheus(bad[i], "j"))
			fail_msg("checker accepted case %zu", i);
}

static void test_metrics(void **state)
{
	struct cns_job_conf *job = make_job("metrics");
	struct cns_runlog *l;
	const char *problem;
	struct stat st1, st2;
	char *text;
	DIR *d;
	struct dirent *de;
	int files = 0;

	(void)state;
	job->metrics_file = cns_arena_printf(
		&job->arena, "%s/textfile/sub/metrics.prom", tmpdir);
	l = open_ok(job, "20261122T031500Z-000008", T0);
	finish_ok(l, &(struct cns_run_record){
			     .started_us = T0,
			     .ended_us = T0 + 2000000,
			     .status = CNS_RUN_OK,
			     .nsources = 1,
			     .sources = two_sources,
		     });
	text = read_all(job->metrics_file);
	problem = check_prometheus(text, "metrics");
	if (problem)
		fail_msg("%s\n%s", problem, text);
	assert_true(sample(text, "consolidate_last_run_start_timestamp_seconds"
				 "{job=\"metrics\"}") == 1795317300.0);
	assert_true(sample(text, "consolidate_last_run_end_timestamp_seconds"
				 "{job=\"metrics\"}") == 1795317302.0);
	assert_true(sample(text, "consolidate_last_run_duration_seconds"
				 "{job=\"metrics\"}") == 2.0);
	assert_true(sample(text, "consolidate_last_run_status{job=\"metrics\","
				 "status=\"ok\"}") == 1);
	assert_true(sample(text, "consolidate_last_run_status{job=\"metrics\","
				 "status=\"failed\"}") == 0);
	assert_true(sample(text, "consolidate_last_success_timestamp_seconds"
				 "{job=\"metrics\"}") == 1795317302.0);
	assert_true(sample(text, "consolidate_rows_total{job=\"metrics\","
				 "source=\"erp\",kind=\"read\"}") == 1234);
	assert_true(sample(text, "consolidate_rows_total{job=\"metrics\","
				 "source=\"erp\",kind=\"loaded\"}") == 1200);
	assert_true(sample(text, "consolidate_last_run_rows{job=\"metrics\","
				 "source=\"erp\",kind=\"rejected\"}") == 30);
	assert_true(sample(text, "consolidate_rejected_rows"
				 "{job=\"metrics\"}") == 30);
	free(text);
	assert_int_equal(stat(job->metrics_file, &st1), 0);
	assert_int_equal(st1.st_mode & 0777, 0644);

	/* A failed run: the last success is carried from runs.jsonl, the
	 * counters add up, and the file is a new one (renamed in). */
	l = open_ok(job, "20261122T033000Z-000009", T0 + 900000000);
	finish_ok(l, &(struct cns_run_record){
			     .started_us = T0 + 900000000,
			     .ended_us = T0 + 905000000,
			     .status = CNS_RUN_FAILED,
			     .exit_code = 1,
			     .nsources = 2,
			     .sources = two_sources,
			     .error = "boom",
		     });
	text = read_all(job->metrics_file);
	problem = check_prometheus(text, "metrics");
	if (problem)
		fail_msg("%s\n%s", problem, text);
	assert_true(sample(text, "consolidate_last_run_status{job=\"metrics\","
				 "status=\"failed\"}") == 1);
	assert_true(sample(text, "consolidate_last_run_status{job=\"metrics\","
				 "status=\"ok\"}") == 0);
	assert_true(sample(text, "consolidate_last_run_exit_code"
				 "{job=\"metrics\"}") == 1);
	assert_true(sample(text, "consolidate_last_success_timestamp_seconds"
				 "{job=\"metrics\"}") == 1795317302.0);
	assert_true(sample(text, "consolidate_rows_total{job=\"metrics\","
				 "source=\"erp\",kind=\"read\"}") == 2468);
	assert_true(sample(text, "consolidate_rows_total{job=\"metrics\","
				 "source=\"crm\",kind=\"read\"}") == 10);
	free(text);
	assert_int_equal(stat(job->metrics_file, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);

	/* A run without the crm source keeps crm's counters. */
	l = open_ok(job, "20261122T034500Z-00000a", T0 + 1800000000);
	finish_ok(l, &(struct cns_run_record){
			     .status = CNS_RUN_OK,
			     .nsources = 1,
			     .sources = two_sources,
		     });
	text = read_all(job->metrics_file);
	assert_null(check_prometheus(text, "metrics"));
	assert_true(sample(text, "consolidate_rows_total{job=\"metrics\","
				 "source=\"crm\",kind=\"read\"}") == 10);
	assert_true(sample(text, "consolidate_rows_total{job=\"metrics\","
				 "source=\"erp\",kind=\"read\"}") == 3702);
	free(text);

	/* No temporary file is left behind. */
	d = opendir(in_tmp("textfile/sub"));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || strstr(de->d_name, "tmp"))
			files++;
	closedir(d);
	assert_int_equal(files, 1);
	cns_config_free(job);
}

struct reader {
	const char *path;
	volatile int stop;
	int reads;
	const char *problem;
};

static void *read_metrics(void *arg)
{
	struct reader *r = arg;

	while (!r->stop) {
		FILE *f = fopen(r->path, "r");
		char buf[16384];
		size_t n;

		if (!f)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		if (!r->problem && check_prometheus(buf, "atomic"))
			r->problem = "a reader saw a partial metrics file";
		r->reads++;
	}
	return NULL;
}

static void test_metrics_atomic(void **state)
{
	struct cns_job_conf *job = make_job("atomic");
	struct reader r = { 0 };
	pthread_t th;
	struct cns_error err;

	(void)state;
	job->metrics_file =
		cns_arena_printf(&job->arena, "%s/atomic.prom", tmpdir);
	r.path = job->metrics_file;
	cns_error_clear(&err);
	assert_int_equal(cns_metrics_write(job,
					   &(struct cns_run_record){
						   .status = CNS_RUN_OK,
						   .started_us = T0,
						   .ended_us = T0 + 1000000,
						   .nsources = 2,
						   .sources = two_sources },
					   &err),
			 0);
	assert_int_equal(pthread_create(&th, NULL, read_metrics, &r), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(
			cns_metrics_write(
				job,
				&(struct cns_run_record){
					.status = i % 2 ? CNS_RUN_OK
							: CNS_RUN_FAILED,
					.started_us = T0,
					.ended_us = T0 + 1000000,
					.nsources = 2,
					.sources = two_sources },
				&err),
			0);
	r.stop = 1;
	pthread_join(th, NULL);
	assert_null(r.problem);
	assert_true(r.reads > 0);
	cns_config_free(job);
}

/* ---- retention ---- */

static void set_mtime(const char *path, int64_t us)
{
	struct timeval tv[2];

	tv[0].tv_sec = tv[1].tv_sec = (time_t)(us / 1000000);
	tv[0].tv_usec = tv[1].tv_usec = 0;
	assert_int_equal(utimes(path, tv), 0);
}

/* Fake runs k = 1..n, k hours before now: a log and a rejects file. */
static void fake_runs(const struct cns_job_conf *job, int n)
{
	char dir[1024], rdir[1024], path[1200], id[64], stamp[32];
	int64_t now = cns_wall_us();

	cns_runlog_dir(job, dir, sizeof(dir));
	snprintf(rdir, sizeof(rdir), "%s/%s", job->rejects_dir, job->name);
	mkdirs(dir);
	mkdirs(rdir);
	for (int k = 1; k <= n; k++) {
		int64_t start = now - (int64_t)k * 3600 * 1000000;

		cns_runlog_compact(start, stamp, sizeof(stamp));
		snprintf(id, sizeof(id), "%s-%06x", stamp, k);
		snprintf(path, sizeof(path), "%s/%s.log", dir, id);
		write_text(path, "line one\nline two\n");
		set_mtime(path, start + 60 * 1000000);
		snprintf(path, sizeof(path), "%s/%s.csv.gz", rdir, id);
		write_text(path, "fake");
		set_mtime(path, start + 30 * 1000000);
	}
}

static void log_state(const struct cns_job_conf *job, int k, bool *plain,
		      bool *gz, bool *rejects)
{
	char dir[1024], path[1200], stamp[32];
	int64_t start = cns_wall_us() - (int64_t)k * 3600 * 1000000;

	/* The hour may not have turned since fake_runs; the stamp is
	 * only to the second and fake_runs ran a moment ago. */
	cns_runlog_compact(start, stamp, sizeof(stamp));
	cns_runlog_dir(job, dir, sizeof(dir));
	*plain = *gz = *rejects = false;
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		char suffix[16];

		snprintf(suffix, sizeof(suffix), "-%06x.log", k);
		while ((de = readdir(d)) != NULL) {
			if (strstr(de->d_name, suffix) &&
			    !strcmp(strstr(de->d_name, suffix), suffix))
				*plain = true;
			snprintf(path, sizeof(path), "%s.gz", suffix);
			if (strstr(de->d_name, path))
				*gz = true;
		}
		closedir(d);
		snprintf(dir, sizeof(dir), "%s/%s", job->rejects_dir,
			 job->name);
		d = opendir(dir);
		snprintf(suffix, sizeof(suffix), "-%06x.csv.gz", k);
		while ((de = readdir(d)) != NULL)
			if (strstr(de->d_name, suffix))
				*rejects = true;
		closedir(d);
	}
	(void)stamp;
}

static void test_retention_count(void **state)
{
	struct cns_job_conf *job = make_job("keepcount");
	struct cns_runlog *l;
	bool plain, gz, rejects;
	char id[64];

	(void)state;
	job->log_keep = cns_arena_strdup(&job->arena, "3");
	fake_runs(job, 8);
	cns_run_id_new(cns_wall_us(), id, sizeof(id));
	l = open_ok(job, id, cns_wall_us());
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	/* Ranks: the new run 1, fake k has rank k + 1.  Plain up to 3,
	 * compressed up to 6, gone after; rejects past rank 3 gone. */
	for (int k = 1; k <= 8; k++) {
		log_state(job, k, &plain, &gz, &rejects);
		if (k + 1 <= 3) {
			assert_true(plain && !gz && rejects);
		} else if (k + 1 <= 6) {
			if (!(gz && !plain && !rejects))
				fail_msg("run %d: plain %d gz %d rejects %d", k,
					 plain, gz, rejects);
		} else {
			assert_true(!plain && !gz && !rejects);
		}
	}
	/* A compressed log reads back whole, with its time kept. */
	{
		char dir[1024], path[1300];
		DIR *d;
		struct dirent *de;
		struct stat st;

		cns_runlog_dir(job, dir, sizeof(dir));
		d = opendir(dir);
		while ((de = readdir(d)) != NULL) {
			char *text;

			if (!strstr(de->d_name, "-000004.log.gz"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			text = read_gz(path);
			assert_string_equal(text, "line one\nline two\n");
			free(text);
			assert_int_equal(stat(path, &st), 0);
			assert_true(llabs((long long)st.st_mtime -
					  (cns_wall_us() / 1000000 - 4 * 3600 +
					   60)) < 5);
		}
		closedir(d);
	}
	/* `log` still finds a compressed run. */
	{
		int rc;
		char *out;

		write_text(in_tmp("keepcount.conf"),
			   "[job]\ntransforms = t.xf\n[target]\n"
			   "conninfo = service=w\ntable = t\n"
			   "[source a]\ndriver = csv\npath = a.csv\n");
		out = capture(cns_cmd_log, &rc, "log",
			      (char *)in_tmp("keepcount.conf"), "000004", NULL);
		assert_int_equal(rc, 0);
		assert_string_equal(out, "line one\nline two\n");
		free(out);
	}
	cns_config_free(job);
}

static void test_retention_age(void **state)
{
	struct cns_job_conf *job = make_job("keepage");
	struct cns_runlog *l;
	bool plain, gz, rejects;
	char id[64];

	(void)state;
	/* Logs end a minute after the fake start: age k hours - 1 min. */
	job->log_keep = cns_arena_strdup(&job->arena, "150m");
	fake_runs(job, 6);
	cns_run_id_new(cns_wall_us(), id, sizeof(id));
	l = open_ok(job, id, cns_wall_us());
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	for (int k = 1; k <= 6; k++) {
		log_state(job, k, &plain, &gz, &rejects);
		if (k <= 2)
			assert_true(plain && !gz && rejects);
		else if (k <= 5)
			assert_true(gz && !plain && !rejects);
		else
			assert_true(!plain && !gz && !rejects);
	}
	cns_config_free(job);
}

static void set_mtime_ns(const char *path, int64_t us)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = (time_t)(us / 1000000);
	ts[0].tv_nsec = ts[1].tv_nsec = (long)(us % 1000000) * 1000;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* The rejects file of the run before the oldest kept one goes, even when
 * it was closed in the second that run started: the cut is at the first
 * line's millisecond, not the name's second. */
static void test_retention_rejects_precise(void **state)
{
	struct cns_job_conf *job = make_job("precise");
	struct cns_runlog *l;
	char dir[1024], rdir[1024], path[1200], stamp[32], iso[40];
	char line[256], id[64];
	int64_t s = (cns_wall_us() / 1000000 - 3600) * 1000000;

	(void)state;
	job->log_keep = cns_arena_strdup(&job->arena, "2");
	cns_runlog_dir(job, dir, sizeof(dir));
	snprintf(rdir, sizeof(rdir), "%s/%s", job->rejects_dir, job->name);
	mkdirs(dir);
	mkdirs(rdir);
	/* Run A (older, second S - 1) and run B (second S, first line at
	 * S + 0.5 s). */
	cns_runlog_compact(s - 1000000, stamp, sizeof(stamp));
	snprintf(path, sizeof(path), "%s/%s-aaaaaa.log", dir, stamp);
	write_text(path, "x\n");
	set_mtime_ns(path, s + 100000);
	snprintf(path, sizeof(path), "%s/%s-aaaaaa.csv.gz", rdir, stamp);
	write_text(path, "x");
	set_mtime_ns(path, s + 200000); /* closed in B's second */
	cns_runlog_compact(s, stamp, sizeof(stamp));
	snprintf(path, sizeof(path), "%s/%s-bbbbbb.log", dir, stamp);
	snprintf(line, sizeof(line), "%s INFO  run=%s-bbbbbb stage=start x\n",
		 cns_runlog_iso(s + 500000, true, iso, sizeof(iso)), stamp);
	write_text(path, line);
	set_mtime_ns(path, s + 900000);
	snprintf(path, sizeof(path), "%s/%s-bbbbbb.csv.gz", rdir, stamp);
	write_text(path, "x");
	set_mtime_ns(path, s + 700000);

	cns_run_id_new(cns_wall_us(), id, sizeof(id));
	l = open_ok(job, id, cns_wall_us());
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	cns_runlog_compact(s - 1000000, stamp, sizeof(stamp));
	snprintf(path, sizeof(path), "%s/%s-aaaaaa.csv.gz", rdir, stamp);
	assert_int_equal(access(path, F_OK), -1);
	cns_runlog_compact(s, stamp, sizeof(stamp));
	snprintf(path, sizeof(path), "%s/%s-bbbbbb.csv.gz", rdir, stamp);
	assert_int_equal(access(path, F_OK), 0);
	cns_config_free(job);
}

static void test_runs_trimmed(void **state)
{
	struct cns_job_conf *job = make_job("trim");
	struct cns_runlog *l;
	struct cns_run_history h;
	char dir[1024], path[1200];
	FILE *f;
	char *text;

	(void)state;
	cns_runlog_dir(job, dir, sizeof(dir));
	mkdirs(dir);
	snprintf(path, sizeof(path), "%s/runs.jsonl", dir);
	f = fopen(path, "w");
	for (int i = 0; i < 2000; i++)
		fprintf(f, "{\"run_id\":\"old-%d\",\"status\":\"ok\"}\n", i);
	fclose(f);
	l = open_ok(job, "20261122T031500Z-00000b", T0);
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	text = read_all(path);
	assert_int_equal(count_lines(text), 1000);
	assert_string_equal(line_of(text, 0),
			    "{\"run_id\":\"old-1001\",\"status\":\"ok\"}");
	free(text);
	assert_int_equal(cns_runlog_history(job, 5, &h, NULL), 0);
	assert_int_equal(h.n, 5);
	assert_string_equal(h.runs[4].run_id, "20261122T031500Z-00000b");
	assert_string_equal(h.runs[0].run_id, "old-1996");
	cns_run_history_release(&h);
	cns_config_free(job);
}

static void test_record_skip(void **state)
{
	struct cns_job_conf *job = make_job("skip");
	struct cns_runlog *l;
	struct cns_run_history h;
	struct cns_error err;
	char *text;

	(void)state;
	cns_error_clear(&err);
	job->syslog = true;
	l = open_ok(job, "20261122T031500Z-00000c", T0);
	/* While it runs, another run is refused the lock. */
	assert_int_equal(
		cns_runlog_record_skip(
			job,
			&(struct cns_run_record){
				.run_id = "20261122T031600Z-00000d",
				.started_us = T0 + 60000000,
				.exit_code = 75,
				.error = "job \"skip\" is locked by process 1" },
			&err),
		0);
	text = read_all(cns_runlog_path(l));
	assert_non_null(strstr(line_of(text, 1),
			       "WARN  run=20261122T031600Z-00000d stage=skip "
			       "run skipped: job \"skip\" is locked by "
			       "process 1 pid="));
	free(text);
	finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_OK });
	assert_int_equal(cns_runlog_history(job, 0, &h, NULL), 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.runs[0].status, CNS_RUN_SKIPPED);
	assert_int_equal(h.runs[0].exit_code, 75);
	assert_null(h.runs[0].log);
	assert_int_equal(h.runs[1].status, CNS_RUN_OK);
	cns_run_history_release(&h);
	cns_config_free(job);
}

/* ---- secrets ---- */

static const char *const secrets[] = { "Sup3rS3cret!", "pa ss'quoted",
				       "OdbcPa55word", "br4ces;semi}",
				       "UriPa55wd",    "QueryPa55wd",
				       "FilePa55word" };

static bool file_has_secret(const char *path, bool gz)
{
	char *text = gz ? read_gz(path) : read_all(path);
	bool found = false;

	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strstr(text, secrets[i])) {
			print_error("%s holds \"%s\":\n%s\n", path, secrets[i],
				    text);
			found = true;
		}
	free(text);
	return found;
}

static int scan_fn(const char *path, const struct stat *sb, int flag,
		   struct FTW *ftw)
{
	size_t n = strlen(path);

	(void)sb;
	(void)ftw;
	if (flag != FTW_F || strstr(path, "/secrets-input"))
		return 0;
	return file_has_secret(path, n > 3 && !strcmp(path + n - 3, ".gz")) ? 1
									    : 0;
}

/* A free-text event whose message is formatted here, as a caller that
 * quotes an error in its message does. */
static void say(struct cns_runlog *l, enum cns_log_level level,
		const char *stage, const char *source, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void say(struct cns_runlog *l, enum cns_log_level level,
		const char *stage, const char *source, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cns_runlog_put(l, level, stage, source, msg, NULL);
}

static void test_secrets(void **state)
{
	struct cns_job_conf *job = make_job("secret");
	struct cns_arena *a = &job->arena;
	struct cns_runlog *l;
	struct cns_error err;
	char *err_text;

	(void)state;
	cns_error_clear(&err);
	mkdirs(in_tmp("secrets-input"));
	write_text(in_tmp("secrets-input/pw"), "FilePa55word\n");
	job->target.conninfo =
		cns_arena_strdup(a, "host=db password=Sup3rS3cret! dbname=w");
	job->metrics_file =
		cns_arena_printf(a, "%s/secret-metrics/m.prom", tmpdir);
	job->syslog = true;
	job->nsources = 3;
	job->sources = cns_arena_zalloc(a, 3 * sizeof(*job->sources));
	job->sources[0].name = "erp";
	job->sources[0].conninfo =
		cns_arena_strdup(a, "host=x password='pa ss\\'quoted' user=u");
	job->sources[1].name = "inv";
	job->sources[1].connection = cns_arena_strdup(
		a, "Driver=X;UID=u;PWD={br4ces;semi}}};Database=d");
	job->sources[1].password = cns_arena_strdup(a, "OdbcPa55word");
	job->sources[1].password_file =
		cns_arena_strdup(a, in_tmp("secrets-input/pw"));
	job->sources[2].name = "wh";
	job->sources[2].conninfo = cns_arena_strdup(
		a, "postgresql://me:UriPa55wd@h/db?sslmode=require&password="
		   "QueryPa55wd");
	/* What cns_config_load() collects from such a job file. */
	cns_secrets_add_conn(job->target.conninfo, CNS_CONN_LIBPQ);
	cns_secrets_add_conn(job->sources[0].conninfo, CNS_CONN_LIBPQ);
	cns_secrets_add_conn(job->sources[1].connection, CNS_CONN_ODBC);
	cns_secrets_add(job->sources[1].password,
			strlen(job->sources[1].password));
	cns_secrets_add_file(job->sources[1].password_file);
	cns_secrets_add_conn(job->sources[2].conninfo, CNS_CONN_LIBPQ);

	for (int json = 0; json < 2; json++) {
		char id[64];

		job->log_format = json ? CNS_LOGFMT_JSON : CNS_LOGFMT_TEXT;
		snprintf(id, sizeof(id), "20261122T03150%dZ-00000e", json);
		l = open_ok(job, id, T0 + json * 1000000);
		/* Messages that carry every secret in every form. */
		say(l, CNS_LOG_ERROR, "connect", "erp",
		    "could not connect with \"%s\"", job->target.conninfo);
		say(l, CNS_LOG_ERROR, "connect", "erp", "conninfo=%s",
		    job->sources[0].conninfo);
		say(l, CNS_LOG_ERROR, "connect", "erp",
		    "the password pa ss'quoted was refused");
		say(l, CNS_LOG_WARN, "connect", "inv", "%s",
		    job->sources[1].connection);
		say(l, CNS_LOG_WARN, "connect", "inv",
		    "login as u/OdbcPa55word failed; "
		    "file said FilePa55word");
		say(l, CNS_LOG_WARN, "connect", "wh", "URI %s refused",
		    job->sources[2].conninfo);
		say(l, CNS_LOG_WARN, "connect", "wh",
		    "key=value password=ShortOne PWD=x;y");
		/* The same secrets as typed values: each string value is
		 * scrubbed, and a pair named like a password is hidden
		 * whole, however short. */
		cns_runlog_log(l, CNS_LOG_WARN, "connect", "erp", "typed",
			       CNS_KV_STR("conninfo", job->target.conninfo),
			       CNS_KV_STR("source", job->sources[0].conninfo),
			       CNS_KV_STR("odbc", job->sources[1].connection),
			       CNS_KV_STR("uri", job->sources[2].conninfo),
			       CNS_KV_STR("cause", "login as u/OdbcPa55word"),
			       CNS_KV_STR("password", "ShortTwo"),
			       CNS_KV_STR("PWD", "x"));
		err_text = "could not connect: password=Sup3rS3cret! and "
			   "UriPa55wd\nDETAIL: FilePa55word";
		finish_ok(l, &(struct cns_run_record){ .status = CNS_RUN_FAILED,
						       .exit_code = 1,
						       .error = err_text });
	}
	/* The key-based redaction also covers unknown values. */
	{
		char *text = read_all(
			in_tmp("log/secret/20261122T031500Z-00000e.log"));

		assert_null(strstr(text, "ShortOne"));
		assert_null(strstr(text, "ShortTwo"));
		assert_non_null(strstr(text, "password=***"));
		assert_non_null(strstr(text, " password=*** PWD=***\n"));
		free(text);
	}
	/* Nothing under the temporary folder holds a secret: logs,
	 * runs.jsonl, the marker, metrics. */
	assert_int_equal(nftw(tmpdir, scan_fn, 16, FTW_PHYS), 0);

	/* The scrubber on its own. */
	{
		struct cns_buf out;

		cns_buf_init(&out);
		cns_secrets_scrub("a Sup3rS3cret! b https://u:x@h/p?q=1&pwd=z "
				  "c",
				  &out);
		assert_string_equal(out.data,
				    "a *** b https://u:***@h/p?q=1&pwd=*** c");
		cns_buf_reset(&out);
		cns_secrets_scrub("odbc said PWD={br4ces;semi}}}; and "
				  "OdbcPa55word",
				  &out);
		assert_string_equal(out.data, "odbc said PWD=***; and ***");
		cns_buf_release(&out);
	}
	cns_secrets_reset();
	cns_config_free(job);
}

/* ---- commands ---- */

static const char *write_job(const char *dir, const char *name,
			     const char *extra)
{
	static char path[1024];
	char text[2048];

	mkdirs(dir);
	snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
	snprintf(text, sizeof(text),
		 "[job]\nname = %s\ntransforms = t.xf\n%s\n[target]\n"
		 "conninfo = service=w\ntable = t\n\n[source erp]\n"
		 "driver = csv\npath = a.csv\n",
		 name, extra);
	write_text(path, text);
	return path;
}

/* Appends a run record as cns_runlog_finish() writes it. */
static void add_run(const char *dir, const char *name, const char *id,
		    const char *start, const char *end, const char *status,
		    const char *error)
{
	char path[1200], line[2048], errj[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/log/%s", dir, name);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/log/%s/runs.jsonl", dir, name);
	if (error)
		snprintf(errj, sizeof(errj), "\"%s\"", error);
	else
		snprintf(errj, sizeof(errj), "null");
	snprintf(line, sizeof(line),
		 "{\"run_id\":\"%s\",\"job\":\"%s\",\"host\":\"h\","
		 "\"pid\":1,\"start\":\"%s\",\"end\":%s%s%s,"
		 "\"duration_s\":61.5,\"status\":\"%s\",\"exit_code\":%d,"
		 "\"sources\":{\"erp\":{\"status\":\"ok\",\"read\":1234,"
		 "\"filtered\":0,\"rejected\":3,\"loaded\":1200,"
		 "\"written\":1200,\"chunks\":1,\"bytes\":10,"
		 "\"seconds\":60}},\"error\":%s,\"log\":\"%s.log\"}\n",
		 id, name, start, end ? "\"" : "", end ? end : "null",
		 end ? "\"" : "", status, strcmp(status, "ok") ? 1 : 0, errj,
		 id);
	f = fopen(path, "a");
	fputs(line, f);
	fclose(f);
}

/* ---- records as earlier versions wrote them ---- */

/* Lines of runs.jsonl written by the version before jansson (its own
 * writer, linked and run): a failed run with two sources, counts above
 * 2^53, a source name and an error that were not UTF-8; a redrive; a
 * skipped run.  They must read back as they did. */
static const char *const old_records[] = {
	"{\"run_id\":\"20261122T031500Z-000004\",\"job\":\"old\",\""
	"host\":\"h1\",\"pid\":4242,\"start\":\"2026-11-22T05:15:00"
	".000Z\",\"end\":\"2026-11-22T05:15:12.345Z\",\"duration_s\""
	":12.345,\"status\":\"failed\",\"exit_code\":1,\"sources\":"
	"{\"erp\":{\"status\":\"ok\",\"read\":1234,\"filtered\":4,\""
	"rejected\":30,\"loaded\":1200,\"written\":1100,\"chunks\":"
	"2,\"bytes\":9007199254740993,\"seconds\":2.500,\"watermark"
	"_before\":[\"2026-11-01\", \"7\"],\"watermark_after\":[\"2"
	"026-11-02\",\"9\"]},\"cr\\ufffdm\":{\"status\":\"failed\","
	"\"read\":10,\"filtered\":0,\"rejected\":0,\"loaded\":0,\"w"
	"ritten\":0,\"chunks\":0,\"bytes\":0,\"seconds\":null,\"wat"
	"ermark_before\":null,\"watermark_after\":\"not json\"}},\""
	"error\":\"could not connect \\u0001\\u0008\\u000c\\u001f t"
	"o \\\"crm\\\": refused\\nDETAIL: caf\xc3\xa9 \\ufffd\\t/x\""
	",\"file\":\"/jobs/old.conf\",\"log\":\"20261122T051500Z-20"
	"261122T031500Z-000004.log\",\"version\":\"0.1.0\"}",
	"{\"run_id\":\"20261122T041500Z-000005\",\"job\":\"old\",\""
	"kind\":\"redrive\",\"host\":\"h1\",\"pid\":4243,\"start\":"
	"\"2026-11-22T06:15:00.000Z\",\"end\":\"2026-11-22T06:15:00"
	".001Z\",\"duration_s\":0.001,\"status\":\"ok\",\"exit_code"
	"\":0,\"sources\":{},\"error\":null,\"file\":\"/jobs/old.co"
	"nf\",\"log\":\"20261122T061500Z-20261122T041500Z-000005.lo"
	"g\",\"version\":\"0.1.0\"}",
	"{\"run_id\":\"20261122T051500Z-000006\",\"job\":\"old\",\""
	"host\":\"h1\",\"pid\":4244,\"start\":\"2026-11-22T07:15:00"
	".000Z\",\"end\":\"2026-11-22T07:15:00.000Z\",\"duration_s\""
	":0.000,\"status\":\"skipped\",\"exit_code\":75,\"sources\""
	":{},\"error\":\"locked by pid 1\",\"file\":\"/jobs/old.con"
	"f\",\"log\":null,\"version\":\"0.1.0\"}",
};

/* A crashed run's record as record_crash() wrote it, and one with a
 * status a newer version might write. */
static const char old_crashed[] =
	"{\"run_id\":\"20261122T061500Z-000007\",\"job\":\"old\",\"host\":\"h1\","
	"\"pid\":77,\"start\":\"2026-11-22T08:15:00.000Z\",\"end\":null,"
	"\"duration_s\":null,\"status\":\"crashed\",\"exit_code\":null,"
	"\"sources\":{},\"error\":\"the run ended without a record: process "
	"77 on \\\"h1\\\" is gone\",\"file\":\"/jobs/old.conf\",\"log\":null,"
	"\"version\":\"0.1.0\"}";
static const char newer_status[] =
	"{\"run_id\":\"20261122T071500Z-000008\",\"job\":\"old\",\"host\":\"h1\","
	"\"pid\":78,\"start\":\"2026-11-22T09:15:00.000Z\",\"end\":"
	"\"2026-11-22T09:15:01.000Z\",\"duration_s\":1.0,\"status\":"
	"\"partial\",\"exit_code\":3,\"sources\":{},\"error\":\"some <b>\","
	"\"file\":\"/jobs/old.conf\",\"log\":null,\"version\":\"9.0.0\"}";

/* Replaces the runs.jsonl of job `name` of the job folder dir. */
static void write_runs(const char *dir, const char *name,
		       const char *const *lines, int n)
{
	char path[1200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/log/%s", dir, name);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/log/%s/runs.jsonl", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	fclose(f);
}

/* A string written piece by piece (the log's JSON lines, a rejected
 * row's values) is what jansson writes for it, whether or not it takes
 * the short way; bytes that are not UTF-8 become U+FFFD; it reads back. */
static void test_json_strings(void **state)
{
	static const char *const texts[] = {
		"",
		"plain text 123",
		"say \"hi\"",
		"back\\slash",
		"tab\there",
		"nl\ncr\r",
		"\x01\x1f\x7f",
		"caf\xc3\xa9",
		"\xf0\x9f\x98\x80",
		"bad \xff byte",
		"cut \xc3",
		"surrogate \xed\xa0\x80",
		"overlong \xc0\xaf",
		"/slash/",
	};
	char one[2];

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]) + 256; i++) {
		const char *t = texts[0];
		size_t n;
		struct cns_buf piece, whole;
		json_t *v, *back;

		if (i < sizeof(texts) / sizeof(texts[0])) {
			t = texts[i];
			n = strlen(t);
		} else {
			/* Every single byte, NUL included. */
			one[0] = (char)(i - sizeof(texts) / sizeof(texts[0]));
			t = one;
			n = 1;
		}
		cns_buf_init(&piece);
		cns_buf_init(&whole);
		cns_json_add_str(&piece, t, n);
		v = cns_json_text(t, n);
		cns_json_dump(v, &whole);
		assert_string_equal(piece.data, whole.data);
		back = tj_parse(piece.data, piece.len);
		assert_non_null(back);
		assert_int_equal(json_string_length(back),
				 json_string_length(v));
		assert_memory_equal(json_string_value(back),
				    json_string_value(v),
				    json_string_length(v));
		json_decref(v);
		cns_buf_release(&piece);
		cns_buf_release(&whole);
		tj_free_all();
	}
	/* What the repair gives, and a NULL string. */
	{
		struct cns_buf b;

		cns_buf_init(&b);
		cns_json_add_str(&b,
				 "a\xff"
				 "b\xc3",
				 4);
		assert_string_equal(b.data, "\"a\xef\xbf\xbd"
					    "b\xef\xbf\xbd\"");
		cns_buf_reset(&b);
		cns_json_add_cstr(&b, NULL);
		assert_string_equal(b.data, "null");
		cns_buf_release(&b);
	}
}

static void test_status_names(void **state)
{
	static const char *const bad[] = { "",        "OK",   "ok ",
					   "unknown", "fail", "timed-out",
					   "partial" };
	enum cns_source_state st;

	(void)state;
	/* Every status prints as a name that reads back as itself, and no
	 * two share a name. */
	for (int s = CNS_RUN_UNKNOWN + 1; s < CNS_RUN_NSTATUS; s++) {
		const char *name = cns_run_status_name((enum cns_run_status)s);

		assert_int_equal(cns_run_status_of(name), s);
		for (int t = CNS_RUN_UNKNOWN; t < s; t++)
			assert_string_not_equal(
				name,
				cns_run_status_name((enum cns_run_status)t));
	}
	assert_string_equal(cns_run_status_name(CNS_RUN_OK), "ok");
	assert_string_equal(cns_run_status_name(CNS_RUN_TIMED_OUT),
			    "timed_out");
	assert_string_equal(cns_run_status_name(CNS_RUN_CRASHED), "crashed");
	assert_string_equal(cns_run_status_name(CNS_RUN_UNKNOWN), "unknown");
	assert_string_equal(cns_run_status_name((enum cns_run_status)99),
			    "unknown");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cns_run_status_of(bad[i]), CNS_RUN_UNKNOWN);
	assert_int_equal(cns_run_status_of(NULL), CNS_RUN_UNKNOWN);

	/* A source's states likewise; done is recorded as "ok". */
	for (int s = CNS_SRC_PENDING; s <= CNS_SRC_SKIPPED; s++) {
		const char *name =
			cns_source_state_name((enum cns_source_state)s);

		assert_int_equal(cns_source_state_of(name, &st), 0);
		assert_int_equal(st, s);
	}
	assert_string_equal(cns_source_state_name(CNS_SRC_DONE), "ok");
	assert_int_equal(cns_source_state_of("done", &st), -1);
	assert_int_equal(cns_source_state_of(NULL, &st), -1);
}

static void test_old_records(void **state)
{
	struct cns_job_conf *job = make_job("old");
	char dir[1024], file[1024];
	const char *lines[8];
	struct cns_run_history h;
	struct cns_error err;
	const struct cns_run_entry *e;
	int n = 0, rc;
	char *out;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", in_tmp("oldrec"));
	snprintf(file, sizeof(file), "%s", write_job(dir, "old", ""));
	job->log_dir = cns_arena_printf(&job->arena, "%s/log", dir);
	for (size_t i = 0; i < sizeof(old_records) / sizeof(old_records[0]);
	     i++)
		lines[n++] = old_records[i];
	lines[n++] = old_crashed;
	lines[n++] = newer_status;
	write_runs(dir, "old", lines, n);

	cns_error_clear(&err);
	assert_int_equal(cns_runlog_history(job, 0, &h, &err), 0);
	assert_int_equal(h.nbad, 0);
	assert_int_equal(h.n, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(h.runs[i].line, lines[i]);

	e = &h.runs[0];
	assert_string_equal(e->run_id, "20261122T031500Z-000004");
	assert_string_equal(e->job, "old");
	assert_string_equal(e->host, "h1");
	assert_int_equal(e->pid, 4242);
	assert_int_equal(e->status, CNS_RUN_FAILED);
	assert_string_equal(e->status_name, "failed");
	assert_false(cns_run_entry_is_redrive(e));
	assert_true(e->duration_s == 12.345);
	assert_true(e->ended_us - e->started_us == 12345000);
	assert_int_equal(e->exit_code, 1);
	assert_string_equal(
		e->error, "could not connect \x01\b\f\x1f to \"crm\": refused\n"
			  "DETAIL: caf\xc3\xa9 \xef\xbf\xbd\t/x");
	assert_string_equal(e->log,
			    "20261122T051500Z-20261122T031500Z-000004.log");
	assert_int_equal(e->nsources, 2);
	assert_string_equal(e->sources[0].name, "erp");
	assert_true(e->sources[0].ok);
	assert_true(e->sources[0].read == 1234);
	assert_true(e->sources[0].written == 1100);
	/* Above 2^53: exact, not through a double. */
	assert_true(e->sources[0].bytes == 9007199254740993LL);
	assert_true(e->sources[0].seconds == 2.5);
	assert_string_equal(e->sources[1].name, "cr\xef\xbf\xbdm");
	assert_false(e->sources[1].ok);
	assert_string_equal(e->sources[1].status, "failed");
	assert_true(e->sources[1].seconds == -1);

	e = &h.runs[1];
	assert_int_equal(e->status, CNS_RUN_OK);
	assert_string_equal(e->kind, "redrive");
	assert_true(cns_run_entry_is_redrive(e));
	assert_null(e->error);
	assert_int_equal(e->nsources, 0);

	e = &h.runs[2];
	assert_int_equal(e->status, CNS_RUN_SKIPPED);
	assert_int_equal(e->exit_code, 75);
	assert_null(e->log);
	assert_true(e->duration_s == 0);

	e = &h.runs[3];
	assert_int_equal(e->status, CNS_RUN_CRASHED);
	assert_true(e->ended_us == -1);
	assert_true(e->duration_s == -1);
	assert_int_equal(e->exit_code, -1);
	assert_string_equal(e->error, "the run ended without a record: "
				      "process 77 on \"h1\" is gone");

	/* A status this version does not know: kept as read, not ok. */
	e = &h.runs[4];
	assert_int_equal(e->status, CNS_RUN_UNKNOWN);
	assert_string_equal(e->status_name, "partial");
	cns_run_history_release(&h);

	/* `history` prints every status as recorded, the unknown one too;
	 * --json the lines as written. */
	out = capture(cns_cmd_history, &rc, "history", file, NULL);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "failed"));
	assert_non_null(strstr(out, "ok (redrive)"));
	assert_non_null(strstr(out, "skipped"));
	assert_non_null(strstr(out, "crashed"));
	assert_non_null(strstr(out, "partial"));
	assert_non_null(strstr(out, "(failed)"));
	free(out);
	out = capture(cns_cmd_history, &rc, "history", file, "--json", NULL);
	assert_int_equal(rc, 0);
	for (int i = 0; i < n; i++)
		assert_non_null(strstr(out, lines[i]));
	free(out);

	/* status judges by the last run: the unknown status is not a
	 * success, and is named as recorded. */
	{
		struct cns_job_status js;

		cns_status_judge(file, 1795400000, &js);
		assert_int_equal(js.verdict, CNS_VERDICT_FAILING);
		assert_int_equal(js.last, CNS_RUN_UNKNOWN);
		assert_string_equal(js.last_status, "partial");
		assert_string_equal(js.why.data, "last run partial: some <b>");
		cns_job_status_release(&js);
	}
	cns_config_free(job);
}

/* Every member of a in b, in the same order, recursively. */
static void assert_same_order(json_t *a, json_t *b)
{
	void *i = json_object_iter(a), *j = json_object_iter(b);

	for (; i && j;
	     i = json_object_iter_next(a, i), j = json_object_iter_next(b, j)) {
		assert_string_equal(json_object_iter_key(i),
				    json_object_iter_key(j));
		if (json_is_object(json_object_iter_value(i)))
			assert_same_order(json_object_iter_value(i),
					  json_object_iter_value(j));
	}
	assert_null(i);
	assert_null(j);
}

/* The writer, now on jansson, writes what the earlier one wrote: the
 * same members in the same order with the same types and values (only
 * the spelling of numbers and escapes may differ: 2.5 for 2.500). */
static void test_old_records_rewritten(void **state)
{
	struct cns_source_stats two[2];
	const char *before[] = { "[\"2026-11-01\", \"7\"]", NULL };
	const char *after[] = { "[\"2026-11-02\",\"9\"]", "not json" };
	const int64_t t0 = 1795324500000000LL, hour = 3600000000LL;
	struct cns_job_conf *job = make_job("rewrite");
	struct cns_runlog *l;
	struct cns_error err;
	char *text;

	(void)state;
	/* The sources of the run the earlier writer recorded. */
	memcpy(two, two_sources, sizeof(two));
	two[0].bytes = 9007199254740993LL;
	two[1].name = "cr\xffm";
	two[1].read = 10;
	job->name = "old";
	job->file = "/jobs/old.conf";
	job->log_dir = cns_arena_printf(&job->arena, "%s/rewrite", tmpdir);
	l = open_ok(job, "20261122T031500Z-000004", t0);
	finish_ok(l, &(struct cns_run_record){
			     .host = "h1",
			     .pid = 4242,
			     .started_us = t0,
			     .ended_us = t0 + 12345000,
			     .status = CNS_RUN_FAILED,
			     .exit_code = 1,
			     .nsources = 2,
			     .sources = two,
			     .watermark_before = before,
			     .watermark_after = after,
			     .error = "could not connect \x01\b\f\x1f to "
				      "\"crm\": refused\nDETAIL: caf\xc3\xa9 "
				      "\xff\t/x",
		     });
	l = open_ok(job, "20261122T041500Z-000005", t0 + hour);
	finish_ok(l, &(struct cns_run_record){ .host = "h1",
					       .pid = 4243,
					       .started_us = t0 + hour,
					       .ended_us = t0 + hour + 1000,
					       .status = CNS_RUN_OK,
					       .exit_code = 0,
					       .kind = "redrive" });
	cns_error_clear(&err);
	assert_int_equal(cns_runlog_record_skip(
				 job,
				 &(struct cns_run_record){
					 .run_id = "20261122T051500Z-000006",
					 .host = "h1",
					 .pid = 4244,
					 .started_us = t0 + 2 * hour,
					 .exit_code = 75,
					 .error = "locked by pid 1" },
				 &err),
			 0);

	text = read_all(in_tmp("rewrite/old/runs.jsonl"));
	assert_int_equal(count_lines(text),
			 sizeof(old_records) / sizeof(old_records[0]));
	for (size_t i = 0; i < sizeof(old_records) / sizeof(old_records[0]);
	     i++) {
		json_t *was = tj_parse_s(old_records[i]);
		json_t *now = tj_parse_s(line_of(text, (int)i));

		assert_non_null(was);
		assert_non_null(now);
		assert_string_equal(tj_str(now, "version"), CNS_VERSION);
		json_object_del(was, "version");
		json_object_del(now, "version");
		assert_same_order(was, now);
		if (!json_equal(was, now))
			fail_msg("record %zu differs:\n%s\n%s", i,
				 old_records[i], line_of(text, (int)i));
	}
	tj_free_all();
	free(text);
	job->name = NULL;
	job->file = NULL;
	cns_config_free(job);
}

/* Lines that cannot be read are skipped and counted, never fatal, and
 * the lines around them still read. */
static void test_damaged_records(void **state)
{
	static const char good[] =
		"{\"run_id\":\"20261122T031500Z-000001\",\"status\":\"ok\","
		"\"start\":\"2026-11-22T03:15:00.000Z\",\"pid\":5,"
		"\"sources\":{\"erp\":{\"status\":\"ok\",\"read\":7}}}";
	static const char *const damaged[] = {
		/* truncated: a disk that filled up mid-line */
		"{\"run_id\":\"20261122T031500Z-000001\",\"status\":\"o",
		"{\"run_id\":\"20261122T031500Z-000001\",\"status\":\"ok\"",
		"{\"run_id\":",
		/* not an object, or without the members it needs */
		"[\"run_id\",\"status\"]",
		"\"ok\"",
		"{\"run_id\":\"x\"}",
		"{\"run_id\":\"x\",\"status\":1}",
		"{\"run_id\":null,\"status\":\"ok\"}",
		"{\"run_id\":\"x\",\"status\":[\"ok\"]}",
		/* numbers beyond 64 bits or a double */
		"{\"run_id\":\"x\",\"status\":\"ok\",\"pid\":"
		"99999999999999999999999}",
		"{\"run_id\":\"x\",\"status\":\"ok\",\"duration_s\":1e400}",
		/* not UTF-8, or a surrogate half */
		"{\"run_id\":\"x\xff\",\"status\":\"ok\"}",
		"{\"run_id\":\"x\",\"status\":\"ok\",\"host\":\"\xc3\"}",
		"{\"run_id\":\"x\",\"status\":\"ok\",\"host\":\"\xed\xa0\x80\"}",
		"{\"run_id\":\"x\",\"status\":\"ok\",\"host\":\"\\ud800\"}",
		/* not JSON */
		"run_id=x status=ok",
		"{\"run_id\":\"x\",\"status\":\"ok\"} trailing",
		"{'run_id':'x','status':'ok'}",
	};
	/* Wrong types of members that are not needed: read with the
	 * member unknown. */
	static const char odd[] =
		"{\"run_id\":\"20261122T031500Z-000002\",\"status\":\"failed\","
		"\"pid\":\"5\",\"start\":7,\"duration_s\":\"1\",\"exit_code\":"
		"1.9,\"error\":{},\"sources\":[1,2],\"kind\":false}";
	const char *lines[64];
	struct cns_job_conf *job = make_job("damaged");
	char dir[1024], file[1024], *out;
	struct cns_run_history h;
	struct cns_error err;
	const int nd = (int)(sizeof(damaged) / sizeof(damaged[0]));
	int n = 0, rc, fd, saved;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", in_tmp("damaged"));
	snprintf(file, sizeof(file), "%s", write_job(dir, "damaged", ""));
	job->log_dir = cns_arena_printf(&job->arena, "%s/log", dir);
	lines[n++] = good;
	for (int i = 0; i < nd; i++)
		lines[n++] = damaged[i];
	lines[n++] = odd;
	write_runs(dir, "damaged", lines, n);

	cns_error_clear(&err);
	assert_int_equal(cns_runlog_history(job, 0, &h, &err), 0);
	assert_int_equal(h.nbad, nd);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.runs[0].status, CNS_RUN_OK);
	assert_int_equal(h.runs[0].pid, 5);
	assert_int_equal(h.runs[0].nsources, 1);
	assert_true(h.runs[0].sources[0].read == 7);
	assert_int_equal(h.runs[1].status, CNS_RUN_FAILED);
	assert_int_equal(h.runs[1].pid, 0);
	assert_true(h.runs[1].started_us == -1);
	assert_true(h.runs[1].duration_s == -1);
	assert_int_equal(h.runs[1].exit_code, 1);
	assert_null(h.runs[1].error);
	assert_int_equal(h.runs[1].nsources, 0);
	assert_false(cns_run_entry_is_redrive(&h.runs[1]));
	cns_run_history_release(&h);

	/* history says how many lines it skipped, on stderr. */
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(in_tmp("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	out = capture(cns_cmd_history, &rc, "history", file, NULL);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "20261122T031500Z-000002"));
	free(out);
	out = read_all(in_tmp("stderr.txt"));
	{
		char want[1200];

		snprintf(want, sizeof(want),
			 "consolidate: %d damaged lines in "
			 "\"%s/log/damaged/runs.jsonl\" skipped\n",
			 nd, dir);
		assert_string_equal(out, want);
	}
	free(out);
	cns_config_free(job);
}

/* The report draws every record, and a status it does not know is text
 * from a file: escaped in the charts' titles as in the tables. */
static void test_report_unknown_status(void **state)
{
	static const char odd[] =
		"{\"run_id\":\"20261122T031500Z-0000aa\",\"job\":\"rep\","
		"\"start\":\"2026-11-22T03:15:00.000Z\",\"end\":"
		"\"2026-11-22T03:15:02.000Z\",\"duration_s\":2.0,"
		"\"status\":\"x<svg onload=alert(1)>\",\"exit_code\":1,"
		"\"sources\":{\"erp\":{\"status\":\"ok\",\"read\":5}},"
		"\"error\":\"e\"}";
	const char *lines[] = { odd };
	char dir[1024], file[1024];
	char *files[] = { file };
	struct cns_htmlreport_opts o = {
		.files = files, .nfiles = 1, .runs = 10, .now = 1795400000
	};
	struct cns_buf b;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", in_tmp("report"));
	snprintf(file, sizeof(file), "%s", write_job(dir, "rep", ""));
	write_runs(dir, "rep", lines, 1);
	cns_buf_init(&b);
	cns_htmlreport_write(&o, &b);
	assert_null(strstr(b.data, "<svg onload"));
	assert_non_null(strstr(b.data, "x&lt;svg onload=alert(1)&gt;: 2 s"));
	cns_buf_release(&b);
}

static void test_history_cmd(void **state)
{
	char dir[1024], job[1024];
	char *out;
	int rc;

	snprintf(dir, sizeof(dir), "%s", in_tmp("hist"));
	snprintf(job, sizeof(job), "%s", write_job(dir, "hist", ""));

	(void)state;
	out = capture(cns_cmd_history, &rc, "history", job, NULL);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "no runs of job \"hist\" recorded"));
	free(out);

	add_run(dir, "hist", "20261122T030000Z-aaaaa1",
		"2026-11-22T03:00:00.000Z", "2026-11-22T03:01:01.500Z", "ok",
		NULL);
	add_run(dir, "hist", "20261122T031500Z-aaaaa2",
		"2026-11-22T03:15:00.000Z", "2026-11-22T03:16:01.500Z",
		"failed",
		"could not connect to source \\\"erp\\\"\\nDETAIL: refused");
	add_run(dir, "hist", "20261122T033000Z-aaaaa3",
		"2026-11-22T03:30:00.000Z", "2026-11-22T03:31:01.500Z", "ok",
		NULL);

	out = capture(cns_cmd_history, &rc, "history", job, NULL);
	assert_int_equal(rc, 0);
	/* Header, three runs newest first, the duration line. */
	assert_true(matches("^RUN +START \\(UTC\\) +DURATION +STATUS +ROWS "
			    "\\(read/loaded\\) +REJECTS +ERROR$",
			    line_of(out, 0)));
	assert_true(matches("^20261122T033000Z-aaaaa3 +2026-11-22T03:30:00Z +"
			    "1m02s +ok +erp 1,234/1,200 +3 +$",
			    line_of(out, 1)));
	assert_true(matches("^20261122T031500Z-aaaaa2 .* failed +erp "
			    "1,234/1,200 +3 +could not connect to source "
			    "\"erp\"$",
			    line_of(out, 2)));
	assert_true(matches("^20261122T030000Z-aaaaa1 ", line_of(out, 3)));
	assert_string_equal(line_of(out, 5),
			    "last successful run took 1m02s; median of 2 "
			    "successful runs shown: 1m02s");
	free(out);

	out = capture(cns_cmd_history, &rc, "history", job, "-n", "2", "--json",
		      NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(out), 2);
	assert_true(matches("^\\{\"run_id\":\"20261122T031500Z-aaaaa2\"",
			    line_of(out, 0)));
	assert_true(matches("^\\{\"run_id\":\"20261122T033000Z-aaaaa3\"",
			    line_of(out, 1)));
	free(out);

	out = capture(cns_cmd_history, &rc, "history", job, "-n", "0", NULL);
	assert_int_equal(rc, 2);
	free(out);
	out = capture(cns_cmd_history, &rc, "history", NULL);
	assert_int_equal(rc, 2);
	free(out);
}

struct appender {
	const char *path;
	const char *marker;
};

static void *append_later(void *arg)
{
	struct appender *a = arg;
	const struct timespec t = { 0, 300 * 1000000L };
	FILE *f;

	nanosleep(&t, NULL);
	f = fopen(a->path, "a");
	fputs("2026-11-22T03:45:01.000Z INFO  run=r stage=load more\n", f);
	fflush(f);
	nanosleep(&t, NULL);
	fputs("2026-11-22T03:45:02.000Z INFO  run=r stage=end run "
	      "succeeded status=ok\n",
	      f);
	fclose(f);
	return NULL;
}

static void test_log_cmd(void **state)
{
	char dir[1024], job[1024], logdir[1200], path[1400];
	char *out;
	int rc;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", in_tmp("logc"));
	snprintf(job, sizeof(job), "%s", write_job(dir, "logc", ""));
	snprintf(logdir, sizeof(logdir), "%s/log/logc", dir);

	out = capture(cns_cmd_log, &rc, "log", job, NULL);
	assert_int_equal(rc, 1);
	free(out);

	mkdirs(logdir);
	snprintf(path, sizeof(path), "%s/20261122T030000Z-abc111.log", logdir);
	write_text(path, "first run\n");
	snprintf(path, sizeof(path), "%s/20261122T031500Z-abc222.log.gz",
		 logdir);
	{
		gzFile gz = gzopen(path, "wb");

		gzputs(gz, "second run, compressed\n");
		gzclose(gz);
	}
	snprintf(path, sizeof(path), "%s/20261122T033000Z-def333.log", logdir);
	write_text(path, "third run\n");
	add_run(dir, "logc", "20261122T031500Z-abc222",
		"2026-11-22T03:15:00.000Z", NULL, "crashed", NULL);
	add_run(dir, "logc", "20261122T033000Z-def333",
		"2026-11-22T03:30:00.000Z", "2026-11-22T03:31:00.000Z", "ok",
		NULL);

	out = capture(cns_cmd_log, &rc, "log", job, NULL);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "third run\n");
	free(out);
	out = capture(cns_cmd_log, &rc, "log", job, "last-failed", NULL);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "second run, compressed\n");
	free(out);
	/* A prefix of the id, or of its part after the stamp. */
	out = capture(cns_cmd_log, &rc, "log", job, "20261122T0300", NULL);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "first run\n");
	free(out);
	out = capture(cns_cmd_log, &rc, "log", job, "def", NULL);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "third run\n");
	free(out);
	/* Ambiguous, and unknown. */
	out = capture(cns_cmd_log, &rc, "log", job, "abc", NULL);
	assert_int_equal(rc, 2);
	free(out);
	out = capture(cns_cmd_log, &rc, "log", job, "zzz", NULL);
	assert_int_equal(rc, 2);
	free(out);
	{
		struct cns_job_conf *j = NULL;
		struct cns_error err;
		char p[4096];

		cns_error_clear(&err);
		assert_int_equal(cns_config_load(job, &j, &err), 0);
		assert_int_equal(cns_runlog_find(j, "abc", p, sizeof(p), &err),
				 -1);
		assert_string_equal(err.message,
				    "\"abc\" matches 2 runs of job \"logc\"");
		assert_string_equal(err.detail, "20261122T031500Z-abc222, "
						"20261122T030000Z-abc111");
		cns_config_free(j);
	}

	/* --follow on a finished run prints it and returns. */
	snprintf(path, sizeof(path), "%s/20261122T034500Z-fff444.log", logdir);
	write_text(path, "2026-11-22T03:45:00.000Z INFO  run=r stage=start "
			 "run started\n"
			 "2026-11-22T03:45:00.500Z INFO  run=r stage=end run "
			 "succeeded status=ok\n");
	out = capture(cns_cmd_log, &rc, "log", job, "--follow", NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(out), 2);
	free(out);

	/* --follow on a running run: prints what comes until the end
	 * line. */
	snprintf(path, sizeof(path), "%s/20261122T040000Z-fff555.log", logdir);
	write_text(path, "2026-11-22T04:00:00.000Z INFO  run=r stage=start "
			 "run started\n");
	{
		char mpath[1400], host[256] = "", text[1024];
		struct appender ap = { path, NULL };
		pthread_t th;

		gethostname(host, sizeof(host) - 1);
		snprintf(mpath, sizeof(mpath), "%s/running", logdir);
		snprintf(text, sizeof(text),
			 "{\"run_id\":\"20261122T040000Z-fff555\",\"pid\":%ld,"
			 "\"host\":\"%s\",\"started_us\":%lld,"
			 "\"log\":\"20261122T040000Z-fff555.log\"}\n",
			 (long)getppid(), host, (long long)cns_wall_us());
		write_text(mpath, text);
		assert_int_equal(pthread_create(&th, NULL, append_later, &ap),
				 0);
		out = capture(cns_cmd_log, &rc, "log", job, "last", "-f", NULL);
		pthread_join(th, NULL);
		assert_int_equal(rc, 0);
		assert_int_equal(count_lines(out), 3);
		assert_true(matches("stage=end run succeeded status=ok$",
				    line_of(out, 2)));
		free(out);

		/* The marker gone: --follow stops without an end line. */
		unlink(mpath);
		snprintf(path, sizeof(path), "%s/20261122T041500Z-fff666.log",
			 logdir);
		write_text(path, "started, then killed\n");
		out = capture(cns_cmd_log, &rc, "log", job, "-f", NULL);
		assert_int_equal(rc, 0);
		assert_string_equal(out, "started, then killed\n");
		free(out);
	}
}

/* Runs that start in the same second: the one written last is the
 * newest, whatever its random suffix. */
static void test_same_second(void **state)
{
	struct cns_job_conf *job = make_job("samesec");
	static const char *const ids[] = { "20261122T031500Z-ffffff",
					   "20261122T031500Z-000000",
					   "20261122T031500Z-888888" };
	char dir[1024], path[1200], want[1200];
	struct cns_error err;

	(void)state;
	cns_error_clear(&err);
	cns_runlog_dir(job, dir, sizeof(dir));
	mkdirs(dir);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s.log", dir, ids[i]);
		write_text(path, ids[i]);
		set_mtime(path, T0 + (int64_t)(i + 1) * 1000000);
	}
	assert_int_equal(cns_runlog_find(job, "last", path, sizeof(path), &err),
			 0);
	snprintf(want, sizeof(want), "%s/%s.log", dir, ids[2]);
	assert_string_equal(path, want);
	cns_config_free(job);
}

static void test_status_cmd(void **state)
{
	const char *sched = "schedule = */15 * * * *\ntimezone = UTC";
	char *out, dir[1024], ok_job[1024], late_job[1024];
	int rc;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", in_tmp("jobs"));
	snprintf(ok_job, sizeof(ok_job), "%s", write_job(dir, "a-ok", sched));
	/* Last success 03:45-03:46; next fires 04:00, 04:15: ok at 04:00. */
	add_run(dir, "a-ok", "20261122T034500Z-000001",
		"2026-11-22T03:45:00.000Z", "2026-11-22T03:46:01.500Z", "ok",
		NULL);
	snprintf(late_job, sizeof(late_job), "%s",
		 write_job(dir, "b-late", sched));
	/* Last success 03:00; the runs due at 03:15 and 03:30 never came. */
	add_run(dir, "b-late", "20261122T030000Z-000002",
		"2026-11-22T03:00:00.000Z", "2026-11-22T03:01:01.500Z", "ok",
		NULL);
	add_run(dir, "b-late", "20261122T031500Z-000003",
		"2026-11-22T03:15:00.000Z", "2026-11-22T03:15:00.000Z",
		"skipped", "locked");
	write_job(dir, "c-failing", sched);
	add_run(dir, "c-failing", "20261122T033000Z-000004",
		"2026-11-22T03:30:00.000Z", "2026-11-22T03:31:01.500Z", "ok",
		NULL);
	add_run(dir, "c-failing", "20261122T034500Z-000005",
		"2026-11-22T03:45:00.000Z", "2026-11-22T03:46:01.500Z",
		"failed", "could not connect\\nDETAIL: refused");
	write_job(dir, "d-never", sched);
	/* No schedule and no max_age: never late. */
	write_job(dir, "e-unscheduled", "");
	add_run(dir, "e-unscheduled", "20201122T030000Z-000006",
		"2020-11-22T03:00:00.000Z", "2020-11-22T03:01:00.000Z", "ok",
		NULL);
	/* max_age decides over the schedule. */
	write_job(dir, "f-maxage",
		  "schedule = @daily\nmax_age = 30m\n"
		  "timezone = UTC");
	add_run(dir, "f-maxage", "20261122T032000Z-000007",
		"2026-11-22T03:20:00.000Z", "2026-11-22T03:21:00.000Z", "ok",
		NULL);

	out = capture(cns_cmd_status, &rc, "status", dir, "--now",
		      "2026-11-22T04:00:00Z", NULL);
	assert_int_equal(rc, 2);
	assert_string_equal(line_of(out, 0),
			    "CONSOLIDATE CRITICAL: 1 failing, 2 late, 1 never, "
			    "0 error, 2 ok");
	assert_true(matches("^JOB +VERDICT +LAST RUN \\(UTC\\) +STATUS +LAST "
			    "SUCCESS +NEXT RUN +DETAIL$",
			    line_of(out, 2)));
	assert_true(matches("^a-ok +ok +2026-11-22T03:45:00Z +ok +"
			    "2026-11-22T03:46:01Z +2026-11-22T04:15:00Z +$",
			    line_of(out, 3)));
	assert_true(matches("^b-late +late +2026-11-22T03:00:00Z +ok +"
			    "2026-11-22T03:01:01Z +2026-11-22T04:15:00Z +no "
			    "success since 2026-11-22T03:01:01Z: the runs due "
			    "at 2026-11-22T03:15:00Z and 2026-11-22T03:30:00Z "
			    "did not succeed$",
			    line_of(out, 4)));
	assert_true(matches("^c-failing +failing +2026-11-22T03:45:00Z +failed "
			    "+2026-11-22T03:31:01Z +.* last run failed: could "
			    "not connect$",
			    line_of(out, 5)));
	assert_true(matches("^d-never +never +- +- +- +2026-11-22T04:15:00Z +"
			    "no run recorded$",
			    line_of(out, 6)));
	assert_true(matches("^e-unscheduled +ok +2020-11-22T03:00:00Z .* - +$",
			    line_of(out, 7)));
	assert_true(matches("^f-maxage +late .* last success 39m ago, more "
			    "than max_age = 30m$",
			    line_of(out, 8)));
	free(out);

	/* Only the ok job: 0; ok and late: 1 (warning); by the
	 * environment's time. */
	out = capture(cns_cmd_status, &rc, "status", ok_job, "--now",
		      "2026-11-22T04:00:00Z", NULL);
	assert_int_equal(rc, 0);
	assert_string_equal(line_of(out, 0), "CONSOLIDATE OK: 0 failing, 0 "
					     "late, 0 never, 0 error, 1 ok");
	free(out);
	setenv("CNS_NOW", "2026-11-22T04:00:00Z", 1);
	out = capture(cns_cmd_status, &rc, "status", ok_job, late_job, NULL);
	unsetenv("CNS_NOW");
	assert_int_equal(rc, 1);
	free(out);
	/* Later, the ok job turns late too: its 04:00 and 04:15 runs did
	 * not come (04:15 + the 61 s it took last time). */
	out = capture(cns_cmd_status, &rc, "status", ok_job, "--now",
		      "2026-11-22T04:16:01Z", NULL);
	assert_int_equal(rc, 0);
	free(out);
	out = capture(cns_cmd_status, &rc, "status", ok_job, "--now",
		      "2026-11-22T04:16:03Z", NULL);
	assert_int_equal(rc, 1);
	free(out);

	/* JSON. */
	out = capture(cns_cmd_status, &rc, "status", dir, "--json", "--now",
		      "2026-11-22T04:00:00Z", NULL);
	assert_int_equal(rc, 2);
	{
		json_t *o, *j;

		o = tj_parse(out, strlen(out));
		assert_non_null(o);
		assert_string_equal(tj_str(o, "status"), "critical");
		assert_int_equal(cns_json_int(o, "exit_code", -1), 2);
		j = json_array_get(json_object_get(o, "jobs"), 0);
		assert_string_equal(tj_str(j, "job"), "a-ok");
		assert_string_equal(tj_str(j, "verdict"), "ok");
		assert_string_equal(tj_str(j, "next_run"),
				    "2026-11-22T04:15:00Z");
		assert_string_equal(
			tj_str(json_object_get(j, "last_run"), "status"), "ok");
		j = json_array_get(json_object_get(o, "jobs"), 3);
		assert_string_equal(tj_str(j, "verdict"), "never");
		assert_int_equal(tj_type(j, "last_run"), JSON_NULL);
		tj_free_all();
	}
	free(out);

	/* A job file that does not load: unknown (3), below critical. */
	{
		char badjob[1024];

		mkdirs(in_tmp("jobs-bad"));
		snprintf(badjob, sizeof(badjob), "%s/jobs-bad/broken.conf",
			 tmpdir);
		write_text(badjob, "[job]\nnosuchkey = 1\n");
		out = capture(cns_cmd_status, &rc, "status", badjob, ok_job,
			      "--now", "2026-11-22T04:00:00Z", NULL);
		assert_int_equal(rc, 3);
		assert_true(matches("^broken +error +- +- +- +- +.+$",
				    line_of(out, 3)));
		free(out);
		out = capture(cns_cmd_status, &rc, "status", badjob, dir,
			      "--now", "2026-11-22T04:00:00Z", NULL);
		assert_int_equal(rc, 2);
		free(out);
		out = capture(cns_cmd_status, &rc, "status", ok_job, "--now",
			      "yesterday", NULL);
		assert_int_equal(rc, 3);
		free(out);
		out = capture(cns_cmd_status, &rc, "status",
			      (char *)in_tmp("nosuch"), NULL);
		assert_int_equal(rc, 3);
		free(out);
	}

	/* A run that died without a record shows as failing at once. */
	{
		char mdir[1200], text[1024], host[256] = "";
		char *job = (char *)write_job(dir, "g-crashed", sched);

		add_run(dir, "g-crashed", "20261122T033000Z-000008",
			"2026-11-22T03:30:00.000Z", "2026-11-22T03:31:00.000Z",
			"ok", NULL);
		gethostname(host, sizeof(host) - 1);
		snprintf(mdir, sizeof(mdir), "%s/log/g-crashed/running", dir);
		snprintf(text, sizeof(text),
			 "{\"run_id\":\"20261122T034500Z-000009\",\"pid\":%ld,"
			 "\"host\":\"%s\",\"started_us\":%lld,\"log\":\"x\"}\n",
			 dead_pid(), host, (long long)(T0 + 1800000000));
		write_text(mdir, text);
		out = capture(cns_cmd_status, &rc, "status", job, "--now",
			      "2026-11-22T04:00:00Z", NULL);
		assert_int_equal(rc, 2);
		assert_true(matches("^g-crashed +failing +2026-11-22T03:45:00Z "
				    "+crashed .* last run crashed: the run "
				    "ended without a record",
				    line_of(out, 3)));
		free(out);
		/* A live one shows as running and changes nothing. */
		snprintf(text, sizeof(text),
			 "{\"run_id\":\"20261122T034500Z-000009\",\"pid\":%ld,"
			 "\"host\":\"%s\",\"started_us\":%lld,\"log\":\"x\"}\n",
			 (long)getppid(), host, (long long)cns_wall_us());
		write_text(mdir, text);
		out = capture(cns_cmd_status, &rc, "status", job, "--now",
			      "2026-11-22T04:00:00Z", NULL);
		assert_int_equal(rc, 0);
		assert_true(matches("^g-crashed +ok +2026-11-22T03:30:00Z +ok, "
				    "running ",
				    line_of(out, 3)));
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_id),
		cmocka_unit_test(test_file_names),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_text_lines),
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test(test_typed_text),
		cmocka_unit_test(test_typed_json),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_crashed),
		cmocka_unit_test(test_marker_alive),
		cmocka_unit_test(test_checker_itself),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_metrics_atomic),
		cmocka_unit_test(test_retention_count),
		cmocka_unit_test(test_retention_age),
		cmocka_unit_test(test_retention_rejects_precise),
		cmocka_unit_test(test_runs_trimmed),
		cmocka_unit_test(test_record_skip),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_old_records),
		cmocka_unit_test(test_old_records_rewritten),
		cmocka_unit_test(test_damaged_records),
		cmocka_unit_test(test_report_unknown_status),
		cmocka_unit_test(test_history_cmd),
		cmocka_unit_test(test_log_cmd),
		cmocka_unit_test(test_same_second),
		cmocka_unit_test(test_status_cmd),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
