/*
 * test_csv.c - the csv source driver on real files in a temporary folder:
 * quoting, byte order marks, gzip, globs, headers and column lists, rejected
 * records, NULL against the empty string, rows carried across chunks and
 * blocks, and cancel() while a FIFO has no writer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "consolidate/source.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char dir[256];

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/cns-test-csv-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ---- */

static char *path_in(const char *name)
{
	static char buf[4][512];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

static void write_file(const char *name, const char *data, size_t len, bool gz)
{
	const char *path = path_in(name);

	if (gz) {
		gzFile f = gzopen(path, "wb");

		assert_non_null(f);
		if (len)
			assert_int_equal(gzwrite(f, data, (unsigned)len),
					 (int)len);
		assert_int_equal(gzclose(f), Z_OK);
	} else {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(data, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
	}
}

/* Replaces every "{dir}" in s with the temporary folder. */
static void expand(char *out, size_t size, const char *s)
{
	size_t n = 0;

	out[0] = '\0';
	while (*s && n + 1 < size) {
		if (strncmp(s, "{dir}", 5) == 0) {
			n += (size_t)snprintf(out + n, size - n, "%s", dir);
			s += 5;
		} else {
			out[n++] = *s++;
			out[n] = '\0';
		}
	}
}

static struct cns_list split_list(const char *s, char **store)
{
	struct cns_list l = { 0, NULL };
	char *p;

	if (!s)
		return l;
	*store = strdup(s);
	l.items = calloc(64, sizeof(char *));
	for (p = strtok(*store, ","); p; p = strtok(NULL, ","))
		l.items[l.n++] = p;
	return l;
}

/* What a run of a source produced. */
struct result {
	struct cns_buf cols;
	struct cns_buf rows;
	struct cns_buf rejects;
	struct cns_error err;
	int64_t rows_read;
	int64_t bytes_read;
	int chunks;
};

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void on_reject(void *ctx, struct cns_source *src, int64_t rownum,
		      const char *origin, const char *reason)
{
	struct result *res = ctx;

	(void)src;
	cns_buf_printf(&res->rejects, "%s:%" PRId64 ": %s\n", base(origin),
		       rownum, reason);
}

static void dump_chunk(struct result *res, const struct cns_chunk *c)
{
	for (int r = 0; r < c->nrows; r++) {
		const struct cns_cell *row = cns_chunk_row(c, r);

		cns_buf_printf(&res->rows, "%s:%" PRId64 ":",
			       base(c->origin[r]), c->rownum[r]);
		for (int i = 0; i < c->ncols; i++) {
			if (i)
				cns_buf_addc(&res->rows, '|');
			if (row[i].null)
				cns_buf_adds(&res->rows, "\\N");
			else
				cns_buf_add(&res->rows, row[i].data,
					    row[i].len);
		}
		cns_buf_addc(&res->rows, '\n');
	}
}

static void result_init(struct result *res)
{
	memset(res, 0, sizeof(*res));
	cns_buf_init(&res->cols);
	cns_buf_init(&res->rows);
	cns_buf_init(&res->rejects);
	cns_buf_adds(&res->cols, "");
	cns_buf_adds(&res->rows, "");
	cns_buf_adds(&res->rejects, "");
}

static void result_release(struct result *res)
{
	cns_buf_release(&res->cols);
	cns_buf_release(&res->rows);
	cns_buf_release(&res->rejects);
}

/* Opens, describes and reads a source to the end into res.  Returns 0, or
 * -1 with res->err set. */
static int run_source(const struct cns_source_conf *conf, int cap,
		      bool with_reject, struct result *res)
{
	struct cns_job_conf job = { .name = "test", .batch_size = cap };
	struct cns_source *src = cns_source_new(&job, conf);
	struct cns_chunk chunk = { 0 };
	bool chunk_live = false;
	int rc = -1;

	assert_ptr_equal(src->ops, &cns_source_csv_ops);
	if (with_reject) {
		src->reject = on_reject;
		src->reject_ctx = res;
	}
	if (src->ops->open(src, &res->err) < 0)
		goto done;
	if (src->ops->describe(src, &res->err) < 0)
		goto done;
	/* A second describe() changes nothing and reads no row. */
	if (src->ops->describe(src, &res->err) < 0)
		goto done;
	for (int i = 0; i < src->ncols; i++)
		cns_buf_printf(&res->cols, "%s%s", i ? "," : "",
			       src->colnames[i]);
	cns_chunk_init(&chunk, src->ncols, cap);
	chunk_live = true;
	for (;;) {
		int got = src->ops->next_chunk(src, &chunk, &res->err);

		if (got < 0)
			goto done;
		assert_true(chunk.nrows <= cap);
		if (got == 0) {
			assert_int_equal(chunk.nrows, 0);
			break;
		}
		assert_true(chunk.nrows > 0);
		res->chunks++;
		dump_chunk(res, &chunk);
		cns_chunk_reset(&chunk);
	}
	/* The end stays the end. */
	assert_int_equal(src->ops->next_chunk(src, &chunk, &res->err), 0);
	rc = 0;
done:
	res->rows_read = src->rows_read;
	res->bytes_read = src->bytes_read;
	if (chunk_live)
		cns_chunk_release(&chunk);
	cns_source_free(src);
	return rc;
}

static void conf_init(struct cns_source_conf *conf, const char *path)
{
	memset(conf, 0, sizeof(*conf));
	conf->name = "crm";
	conf->driver = "csv";
	conf->path = (char *)path;
	conf->header = true;
	conf->delimiter = ',';
	conf->quote = '"';
	conf->min_rows = -1;
	conf->max_change = -1;
}

/* ---- the table ---- */

/* A string literal and its length, NUL bytes included. */
#define LIT(s) s, sizeof(s) - 1

struct tfile {
	const char *name;
	const char *data;
	size_t len; /* 0: strlen(data) */
	bool gz;
};

struct tcase {
	const char *name;
	struct tfile files[4];
	const char *path; /* relative to the folder; NULL: the first file */
	bool no_header;
	char delim;
	char quote;
	const char *columns; /* comma-separated, no spaces */
	const char *encoding;
	int cap;             /* 0: 100 */
	const char *cols;    /* expected column names */
	const char *rows;    /* expected rows: file:row:cell|cell, \N null */
	const char *rejects; /* expected rejects: file:row: reason */
	const char *error;   /* expected message, {dir} is the folder */
	const char *detail;
	const char *hint;
};

static const struct tcase cases[] = {
	{
		.name = "quoted delimiters and doubled quotes",
		.files = { { "a.csv", "id,name,note\n"
				      "1,\"Smith, Jane\",plain\n"
				      "2,\"say \"\"hi\"\"\",\"\"\"\"\n" } },
		.cols = "id,name,note",
		.rows = "a.csv:1:1|Smith, Jane|plain\n"
			"a.csv:2:2|say \"hi\"|\"\n",
	},
	{
		.name = "embedded line ends in quoted fields",
		.files = { { "a.csv", "id,text\n"
				      "1,\"line one\nline two\"\n"
				      "2,\"crlf\r\ninside\"\n"
				      "3,\"\n\"\n" } },
		.cols = "id,text",
		.rows = "a.csv:1:1|line one\nline two\n"
			"a.csv:2:2|crlf\r\ninside\n"
			"a.csv:3:3|\n\n",
	},
	{
		.name = "CRLF line ends",
		.files = { { "a.csv", "id,name\r\n1,a\r\n2,b\r\n" } },
		.cols = "id,name",
		.rows = "a.csv:1:1|a\na.csv:2:2|b\n",
	},
	{
		.name = "byte order mark skipped",
		.files = { { "a.csv", "\xEF\xBB\xBFid,name\n1,x\n" } },
		.cols = "id,name",
		.rows = "a.csv:1:1|x\n",
	},
	{
		.name = "byte order mark in a file without header",
		.files = { { "a.csv", "\xEF\xBB\xBF"
				      "1,x\n" } },
		.no_header = true,
		.cols = "c1,c2",
		.rows = "a.csv:1:1|x\n",
	},
	{
		.name = "gzip",
		.files = { { "a.csv.gz",
			     "\xEF\xBB\xBFid,name\n1,Zo\xC3\xAB\n2,\"a,b\"\n",
			     0, true } },
		.cols = "id,name",
		.rows = "a.csv.gz:1:1|Zo\xC3\xAB\na.csv.gz:2:2|a,b\n",
	},
	{
		.name = "gzip of an empty file",
		.files = { { "a.csv.gz", "", 0, true } },
		.cols = "",
		.rows = "",
	},
	{
		.name = "empty file",
		.files = { { "a.csv", "" } },
		.cols = "",
		.rows = "",
	},
	{
		.name = "empty file with columns",
		.files = { { "a.csv", "" } },
		.columns = "id,name",
		.cols = "id,name",
		.rows = "",
	},
	{
		.name = "header only",
		.files = { { "a.csv", "id,name\n" } },
		.cols = "id,name",
		.rows = "",
	},
	{
		.name = "header only, no line end",
		.files = { { "a.csv", "id,name" } },
		.cols = "id,name",
		.rows = "",
	},
	{
		.name = "last record without line end",
		.files = { { "a.csv", "id,name\n1,x\n2,\"y\"" } },
		.cols = "id,name",
		.rows = "a.csv:1:1|x\na.csv:2:2|y\n",
	},
	{
		.name = "blank lines are skipped",
		.files = { { "a.csv", "id\n\n1\n\n\n2\n\n" } },
		.cols = "id",
		.rows = "a.csv:1:1\na.csv:2:2\n",
	},
	{
		.name = "ragged records rejected with their row",
		.files = { { "a.csv", "a,b,c,d\n"
				      "1,2,3,4\n"
				      "1,2,3\n"
				      "1,2,3,4,5\n"
				      "9\n"
				      "5,6,7,8\n" } },
		.cols = "a,b,c,d",
		.rows = "a.csv:1:1|2|3|4\na.csv:5:5|6|7|8\n",
		.rejects = "a.csv:2: record has 3 fields, expected 4\n"
			   "a.csv:3: record has 5 fields, expected 4\n"
			   "a.csv:4: record has 1 field, expected 4\n",
	},
	{
		.name = "invalid UTF-8 rejected",
		.files = { { "a.csv", "id,name\n"
				      "1,Zo\xC3\xAB\n"
				      "2,ab\xFF"
				      "c\n"
				      "3,\xC3\n"
				      "4,ok\n" } },
		.cols = "id,name",
		.rows = "a.csv:1:1|Zo\xC3\xAB\na.csv:4:4|ok\n",
		.rejects =
			"a.csv:2: invalid UTF-8 in column \"name\" at byte 3\n"
			"a.csv:3: invalid UTF-8 in column \"name\" at byte 1\n",
	},
	{
		.name = "invalid UTF-8 in a column not read is ignored",
		.files = { { "a.csv", "id,name\n1,ab\xFF\n" } },
		.columns = "id",
		.cols = "id",
		.rows = "a.csv:1:1\n",
	},
	{
		.name = "NUL byte rejected",
		.files = { { "a.csv", LIT("id,name\n1,a\0b\n2,c\n") } },
		.cols = "id,name",
		.rows = "a.csv:2:2|c\n",
		.rejects = "a.csv:1: NUL byte in column \"name\" at byte 2\n",
	},
	{
		.name = "NULL and the empty string stay apart",
		.files = { { "a.csv", "a,b,c\n"
				      ",\"\",x\n"
				      "\"\",,\n"
				      " , \" \",\n" } },
		.cols = "a,b,c",
		.rows = "a.csv:1:\\N||x\n"
			"a.csv:2:|\\N|\\N\n"
			"a.csv:3: | \" \"|\\N\n",
	},
	{
		.name = "spaces are kept",
		.files = { { "a.csv", "id,email\n1,  Jane@Example.COM \n" } },
		.cols = "id,email",
		.rows = "a.csv:1:1|  Jane@Example.COM \n",
	},
	{
		.name = "tab delimiter",
		.files = { { "a.tsv", "id\tname\tnote\n"
				      "1\tSmith, Jane\t\n"
				      "2\t\"tab\there\"\t\"\"\n" } },
		.delim = '\t',
		.cols = "id,name,note",
		.rows = "a.tsv:1:1|Smith, Jane|\\N\n"
			"a.tsv:2:2|tab\there|\n",
	},
	{
		.name = "semicolon delimiter and single quote",
		.files = { { "a.csv", "id;name\n1;'a;b'\n2;'it''s'\n" } },
		.delim = ';',
		.quote = '\'',
		.cols = "id,name",
		.rows = "a.csv:1:1|a;b\na.csv:2:2|it's\n",
	},
	{
		.name = "no header: names c1..cN",
		.files = { { "a.csv", "1,a\n2,b\n" } },
		.no_header = true,
		.cols = "c1,c2",
		.rows = "a.csv:1:1|a\na.csv:2:2|b\n",
	},
	{
		.name = "no header: names from columns",
		.files = { { "a.csv", "1,a\n2,b\n3\n" } },
		.no_header = true,
		.columns = "id,name",
		.cols = "id,name",
		.rows = "a.csv:1:1|a\na.csv:2:2|b\n",
		.rejects = "a.csv:3: record has 1 field, expected 2\n",
	},
	{
		.name = "no header: columns of another width",
		.files = { { "a.csv", "1,a,x\n" } },
		.no_header = true,
		.columns = "id,name",
		.error = "source \"crm\": \"{dir}/a.csv\" has 3 fields per "
			 "record but columns names 2",
	},
	{
		.name = "glob over three files, rows counted per file",
		.files = { { "c.csv", "id,name\n5,e\n6,f\n" },
			   { "a.csv", "id,name\n1,a\n2,b\n" },
			   { "b.csv.gz", "id,name\n3,c\n4,d\n", 0, true },
			   { "notes.txt", "not,read\n" } },
		.path = "*.csv*",
		.cols = "id,name",
		.rows = "a.csv:1:1|a\na.csv:2:2|b\n"
			"b.csv.gz:1:3|c\nb.csv.gz:2:4|d\n"
			"c.csv:1:5|e\nc.csv:2:6|f\n",
	},
	{
		.name = "glob: empty files are skipped",
		.files = { { "a.csv", "" },
			   { "b.csv", "id\n1\n" },
			   { "c.csv", "id\n" } },
		.path = "*.csv",
		.cols = "id",
		.rows = "b.csv:1:1\n",
	},
	{
		.name = "columns choose and order a subset",
		.files = { { "a.csv", "id,name,email\n1,a,a@x\n2,b,\n" } },
		.columns = "email,id",
		.cols = "email,id",
		.rows = "a.csv:1:a@x|1\na.csv:2:\\N|2\n",
	},
	{
		.name = "unknown column",
		.files = { { "a.csv", "id,name,email\n1,a,a@x\n" } },
		.columns = "id,emial",
		.error = "source \"crm\": column \"emial\" is not in the "
			 "header of \"{dir}/a.csv\"",
		.hint = "did you mean \"email\"?",
	},
	{
		.name = "unknown column, nothing close",
		.files = { { "a.csv", "id,name\n" } },
		.columns = "signup_date",
		.error = "source \"crm\": column \"signup_date\" is not in the "
			 "header of \"{dir}/a.csv\"",
		.hint = "",
	},
	{
		.name = "column listed twice",
		.files = { { "a.csv", "id,name\n" } },
		.columns = "id,id",
		.error = "source \"crm\": column \"id\" is listed twice in "
			 "columns",
	},
	{
		.name = "duplicate header name",
		.files = { { "a.csv", "id,name,id\n1,a,1\n" } },
		.error = "source \"crm\": column \"id\" appears twice in the "
			 "header of \"{dir}/a.csv\"",
		.hint = "list the columns to read with \"columns =\"",
	},
	{
		.name = "duplicate header name not read",
		.files = { { "a.csv", "id,x,x\n1,a,b\n" } },
		.columns = "id",
		.cols = "id",
		.rows = "a.csv:1:1\n",
	},
	{
		.name = "empty header names",
		.files = { { "a.csv", "id,,\"\"\n1,a,b\n" } },
		.cols = "id,c2,c3",
		.rows = "a.csv:1:1|a|b\n",
	},
	{
		.name = "header differs in a later file",
		.files = { { "a.csv", "id,name\n1,x\n" },
			   { "b.csv", "id,nom\n2,y\n" } },
		.path = "*.csv",
		.error = "source \"crm\": the header of \"{dir}/b.csv\" "
			 "differs from the header of \"{dir}/a.csv\"",
		.detail = "column 2 is \"nom\" in \"{dir}/b.csv\" but \"name\" "
			  "in \"{dir}/a.csv\"",
	},
	{
		.name = "header longer in a later file",
		.files = { { "a.csv", "id,name\n1,x\n" },
			   { "b.csv", "id,name,extra\n2,y,z\n" } },
		.path = "*.csv",
		.error = "source \"crm\": the header of \"{dir}/b.csv\" "
			 "differs from the header of \"{dir}/a.csv\"",
		.detail = "\"{dir}/b.csv\" has 3 columns but \"{dir}/a.csv\" "
			  "has 2",
	},
	{
		.name = "missing file",
		.files = { { "a.csv", "id\n" } },
		.path = "nope.csv",
		.error = "source \"crm\": could not open \"{dir}/nope.csv\": "
			 "No such file or directory",
	},
	{
		.name = "glob without a match",
		.files = { { "a.csv", "id\n" } },
		.path = "x/*.csv",
		.error = "source \"crm\": no file matches \"{dir}/x/*.csv\"",
	},
	{
		.name = "unterminated quote",
		.files = { { "a.csv",
			     "id,name\n1,x\n2,\"never closed\n3,y\n" } },
		.error = "source \"crm\": unterminated quoted field in "
			 "\"{dir}/a.csv\" at row 2",
	},
	{
		.name = "invalid UTF-8 in the header",
		.files = { { "a.csv", "id,n\xFF\n1,x\n" } },
		.error = "source \"crm\": invalid UTF-8 in the header of "
			 "\"{dir}/a.csv\" in column 2",
	},
	{
		.name = "unsupported encoding",
		.files = { { "a.csv", "id\n" } },
		.encoding = "latin1",
		.error = "source \"crm\": encoding \"latin1\" is not supported",
		.hint = "only utf-8 is supported; convert the files with "
			"iconv(1)",
	},
	{
		.name = "chunks of 3 over 10 rows",
		/* The records that fill a chunk span lines. */
		.files = { { "a.csv",
			     "n,t\n1,a\n2,b\n3,\"c\nc\"\n4,d\n5,\"\"\n"
			     "6,\"f\r\n\"\"f\"\"\"\n7,\n8,h\n9,\"i\n\"\n"
			     "10,j" } },
		.cap = 3,
		.cols = "n,t",
		.rows = "a.csv:1:1|a\na.csv:2:2|b\na.csv:3:3|c\nc\n"
			"a.csv:4:4|d\na.csv:5:5|\na.csv:6:6|f\r\n\"f\"\n"
			"a.csv:7:7|\\N\na.csv:8:8|h\na.csv:9:9|i\n\n"
			"a.csv:10:10|j\n",
	},
	{
		.name = "chunks of 1 with rejects in between",
		.files = { { "a.csv", "n\n1\n2,x\n3\n" },
			   { "b.csv", "n\n4\n" } },
		.path = "*.csv",
		.cap = 1,
		.cols = "n",
		.rows = "a.csv:1:1\na.csv:3:3\nb.csv:1:4\n",
		.rejects = "a.csv:2: record has 2 fields, expected 1\n",
	},
};

static void run_case(const struct tcase *tc, int cap)
{
	struct cns_source_conf conf;
	struct result res;
	char path[512], want[4096];
	char *store = NULL;
	int rc;

	for (int i = 0; i < 4 && tc->files[i].name; i++)
		write_file(tc->files[i].name, tc->files[i].data,
			   tc->files[i].len ? tc->files[i].len
					    : strlen(tc->files[i].data),
			   tc->files[i].gz);
	snprintf(path, sizeof(path), "%s",
		 path_in(tc->path ? tc->path : tc->files[0].name));
	conf_init(&conf, path);
	conf.header = !tc->no_header;
	if (tc->delim)
		conf.delimiter = tc->delim;
	if (tc->quote)
		conf.quote = tc->quote;
	conf.columns = split_list(tc->columns, &store);
	conf.encoding = (char *)tc->encoding;

	result_init(&res);
	rc = run_source(&conf, cap, true, &res);
	if (tc->error) {
		assert_int_equal(rc, -1);
		expand(want, sizeof(want), tc->error);
		assert_string_equal(res.err.message, want);
		assert_string_equal(res.err.source, "crm");
		if (tc->detail) {
			expand(want, sizeof(want), tc->detail);
			assert_string_equal(res.err.detail, want);
		}
		if (tc->hint)
			assert_string_equal(res.err.hint, tc->hint);
	} else {
		if (rc != 0)
			fail_msg("%s, %d rows a chunk: %s", tc->name, cap,
				 res.err.message);
		assert_string_equal(res.cols.data, tc->cols);
		assert_string_equal(res.rows.data, tc->rows);
		assert_string_equal(res.rejects.data,
				    tc->rejects ? tc->rejects : "");
	}
	result_release(&res);
	free(conf.columns.items);
	free(store);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("csv: %s\n", cases[i].name);
		/* Every case gets a fresh folder, so globs see only it. */
		assert_int_equal(teardown(NULL), 0);
		assert_int_equal(setup(NULL), 0);
		run_case(&cases[i], cases[i].cap ? cases[i].cap : 100);
		/* The same rows, rejects and errors whatever the chunk's
		 * size: records complete in one parser call up to the room
		 * left in the chunk. */
		for (int cap = 1; cap <= 4 && !cases[i].cap; cap++) {
			assert_int_equal(teardown(NULL), 0);
			assert_int_equal(setup(NULL), 0);
			run_case(&cases[i], cap);
		}
	}
}

/* ---- generated data ---- */

/* Many rows, quoted line ends among them, so that records straddle the
 * 64 KiB blocks and the chunks in every possible way. */
static void test_many_rows(void **state)
{
	const int n = 30000;
	struct cns_buf data;
	struct cns_source_conf conf;
	struct result res;

	(void)state;
	cns_buf_init(&data);
	cns_buf_adds(&data, "id,name,note\r\n");
	for (int i = 1; i <= n; i++) {
		cns_buf_printf(&data, "%d,name %d,\"l1\r\nl%d \"\"q\"\"\"\r\n",
			       i, i, i);
	}
	for (int gz = 0; gz <= 1; gz++) {
		const char *name = gz ? "big.csv.gz" : "big.csv";
		struct cns_buf w;

		write_file(name, data.data, data.len, gz);
		conf_init(&conf, path_in(name));
		result_init(&res);
		assert_int_equal(run_source(&conf, 7, true, &res), 0);
		assert_int_equal(res.rows_read, n);
		assert_int_equal(res.bytes_read, (int64_t)data.len);
		assert_int_equal(res.chunks, (n + 6) / 7);
		/* The expected text, with this file's name. */
		cns_buf_init(&w);
		for (int i = 1; i <= n; i++)
			cns_buf_printf(&w,
				       "%s:%d:%d|name %d|l1\r\nl%d "
				       "\"q\"\n",
				       name, i, i, i, i);
		assert_string_equal(res.rows.data, w.data);
		assert_string_equal(res.rejects.data, "");
		cns_buf_release(&w);
		result_release(&res);
	}
	cns_buf_release(&data);
}

static void test_large_field(void **state)
{
	const size_t big = 200 * 1024;
	struct cns_buf data;
	struct cns_source_conf conf;
	struct cns_job_conf job = { .name = "test", .batch_size = 2 };
	struct cns_error err = { 0 };
	struct cns_source *src;
	struct cns_chunk chunk;
	char *field = malloc(big);

	(void)state;
	for (size_t i = 0; i < big; i++)
		field[i] = (char)('a' + i % 26);
	field[1000] = ',';
	field[2000] = '\n';
	cns_buf_init(&data);
	cns_buf_adds(&data, "id,big\n1,\"");
	cns_buf_add(&data, field, big);
	cns_buf_adds(&data, "\"\n2,small\n3,");
	cns_buf_add(&data, field + 3000, 100000); /* unquoted, no , or \n */
	cns_buf_adds(&data, "\n");
	write_file("big.csv", data.data, data.len, false);

	conf_init(&conf, path_in("big.csv"));
	src = cns_source_new(&job, &conf);
	assert_int_equal(src->ops->open(src, &err), 0);
	assert_int_equal(src->ops->describe(src, &err), 0);
	cns_chunk_init(&chunk, 2, 2);
	assert_int_equal(src->ops->next_chunk(src, &chunk, &err), 1);
	assert_int_equal(chunk.nrows, 2);
	assert_int_equal(cns_chunk_row(&chunk, 0)[1].len, big);
	assert_memory_equal(cns_chunk_row(&chunk, 0)[1].data, field, big);
	assert_int_equal(cns_chunk_row(&chunk, 1)[1].len, 5);
	assert_memory_equal(cns_chunk_row(&chunk, 1)[1].data, "small", 5);
	cns_chunk_reset(&chunk);
	assert_int_equal(src->ops->next_chunk(src, &chunk, &err), 1);
	assert_int_equal(chunk.nrows, 1);
	assert_int_equal(chunk.rownum[0], 3);
	assert_int_equal(cns_chunk_row(&chunk, 0)[1].len, 100000);
	assert_memory_equal(cns_chunk_row(&chunk, 0)[1].data, field + 3000,
			    100000);
	cns_chunk_reset(&chunk);
	assert_int_equal(src->ops->next_chunk(src, &chunk, &err), 0);
	cns_chunk_release(&chunk);
	cns_source_free(src);
	cns_buf_release(&data);
	free(field);
}

/* `cat a.gz b.gz` is one valid gzip file of two members. */
static void test_gzip_members(void **state)
{
	struct cns_source_conf conf;
	struct result res;
	gzFile f;

	(void)state;
	f = gzopen(path_in("m.csv.gz"), "wb");
	gzputs(f, "id,name\n1,a\n");
	gzclose(f);
	f = gzopen(path_in("m.csv.gz"), "ab");
	gzputs(f, "2,b\n");
	gzclose(f);
	conf_init(&conf, path_in("m.csv.gz"));
	result_init(&res);
	assert_int_equal(run_source(&conf, 10, true, &res), 0);
	assert_string_equal(res.rows.data, "m.csv.gz:1:1|a\nm.csv.gz:2:2|b\n");
	result_release(&res);
}

static void test_gzip_truncated(void **state)
{
	struct cns_source_conf conf;
	struct result res;
	struct cns_buf data;
	char want[1024];
	FILE *f;
	char buf[4096];
	size_t n;

	(void)state;
	cns_buf_init(&data);
	cns_buf_adds(&data, "id,name\n");
	for (int i = 0; i < 2000; i++)
		cns_buf_printf(&data, "%d,name %d\n", i, i * 7919 % 1000);
	write_file("t.csv.gz", data.data, data.len, true);
	f = fopen(path_in("t.csv.gz"), "rb");
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 100);
	f = fopen(path_in("t.csv.gz"), "wb");
	fwrite(buf, 1, n - 20, f);
	fclose(f);

	conf_init(&conf, path_in("t.csv.gz"));
	result_init(&res);
	assert_int_equal(run_source(&conf, 100, true, &res), -1);
	expand(want, sizeof(want),
	       "source \"crm\": could not read \"{dir}/t.csv.gz\": unexpected "
	       "end of compressed data");
	assert_string_equal(res.err.message, want);
	result_release(&res);
	cns_buf_release(&data);
}

/* Without a reject callback a bad record is skipped all the same. */
static void test_reject_without_callback(void **state)
{
	struct cns_source_conf conf;
	struct result res;

	(void)state;
	write_file("a.csv", LIT("a,b\n1,2\n3\n\xFF,4\n5,6\n"), false);
	conf_init(&conf, path_in("a.csv"));
	result_init(&res);
	assert_int_equal(run_source(&conf, 10, false, &res), 0);
	assert_string_equal(res.rows.data, "a.csv:1:1|2\na.csv:4:5|6\n");
	assert_int_equal(res.rows_read, 4);
	result_release(&res);
}

static void test_describe_plan(void **state)
{
	struct cns_job_conf job = { .name = "test", .batch_size = 10 };
	struct cns_source_conf conf;
	struct cns_error err = { 0 };
	struct cns_source *src;
	char want[1024];
	char *store = NULL;

	(void)state;
	write_file("crm-1.csv.gz", "id\n", 3, true);
	write_file("crm-2.csv.gz", "id\n", 3, true);
	conf_init(&conf, path_in("crm-*.csv.gz"));
	src = cns_source_new(&job, &conf);
	assert_int_equal(src->ops->open(src, &err), 0);
	expand(want, sizeof(want),
	       "read 2 files matching \"{dir}/crm-*.csv.gz\" (header, "
	       "delimiter ',')");
	assert_string_equal(src->ops->describe_plan(src), want);
	cns_source_free(src);

	write_file("x.tsv", "1\t2\n", 4, false);
	conf_init(&conf, path_in("x.tsv"));
	conf.header = false;
	conf.delimiter = '\t';
	conf.quote = '\'';
	conf.columns = split_list("a,b", &store);
	src = cns_source_new(&job, &conf);
	assert_int_equal(src->ops->open(src, &err), 0);
	expand(want, sizeof(want),
	       "read \"{dir}/x.tsv\" (no header, delimiter '\\t', quote "
	       "''', columns a, b)");
	assert_string_equal(src->ops->describe_plan(src), want);
	cns_source_free(src);
	free(conf.columns.items);
	free(store);
}

/* ---- FIFOs ---- */

struct fifo_reader {
	struct cns_source *src;
	struct cns_error err;
	int rc;
};

static void *describe_thread(void *arg)
{
	struct fifo_reader *fr = arg;

	fr->rc = fr->src->ops->describe(fr->src, &fr->err);
	return NULL;
}

/* A FIFO nobody writes to: cancel() must end the wait promptly. */
static void test_fifo_cancel(void **state)
{
	struct cns_job_conf job = { .name = "test", .batch_size = 10 };
	struct cns_source_conf conf;
	struct fifo_reader fr = { 0 };
	struct timespec t0, t1, pause = { 0, 300 * 1000 * 1000 };
	pthread_t th;
	double waited;

	(void)state;
	assert_int_equal(mkfifo(path_in("pipe.csv"), 0600), 0);
	conf_init(&conf, path_in("pipe.csv"));
	fr.src = cns_source_new(&job, &conf);
	assert_int_equal(fr.src->ops->open(fr.src, &fr.err), 0);
	assert_int_equal(pthread_create(&th, NULL, describe_thread, &fr), 0);
	nanosleep(&pause, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fr.src->ops->cancel(fr.src);
	pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) +
		 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(fr.rc, -1);
	assert_int_equal(fr.err.code, CNS_E_CANCELLED);
	assert_string_equal(fr.err.message,
			    "source \"crm\": reading was cancelled");
	assert_true(waited < 1.0);
	cns_source_free(fr.src);
}

struct fifo_writer {
	const char *path;
	int rows;
};

static bool put(int fd, const char *s, size_t n)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };

	nanosleep(&pause, NULL);
	return write(fd, s, n) == (ssize_t)n;
}

static void *writer_thread(void *arg)
{
	struct fifo_writer *fw = arg;
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	char line[64];
	int fd = -1;

	/* Opening for writing fails until the reader has the FIFO open;
	 * retry, but give up rather than hang the test. */
	for (int tries = 0; tries < 500 && fd < 0; tries++) {
		fd = open(fw->path, O_WRONLY | O_NONBLOCK);
		if (fd < 0)
			nanosleep(&pause, NULL);
	}
	if (fd < 0)
		return NULL;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	/* The header in pieces, the byte order mark split: the reader must
	 * wait for more, not take a pause for the end. */
	if (put(fd, "\xEF", 1) && put(fd, "\xBB\xBFid,na", 7) &&
	    put(fd, "me\n", 3)) {
		for (int i = 1; i <= fw->rows; i++) {
			int n = snprintf(line, sizeof(line), "%d,\"n\n%d\"\n",
					 i, i);

			if (write(fd, line, (size_t)n) != n)
				break;
			if (i % 1000 == 0 && !put(fd, "", 0))
				break;
		}
	}
	close(fd);
	return NULL;
}

static void test_fifo_data(void **state)
{
	struct cns_source_conf conf;
	struct fifo_writer fw = { path_in("pipe.csv"), 5000 };
	struct result res;
	struct cns_buf want;
	pthread_t th;

	(void)state;
	assert_int_equal(mkfifo(fw.path, 0600), 0);
	assert_int_equal(pthread_create(&th, NULL, writer_thread, &fw), 0);
	conf_init(&conf, fw.path);
	result_init(&res);
	assert_int_equal(run_source(&conf, 64, true, &res), 0);
	pthread_join(th, NULL);
	cns_buf_init(&want);
	for (int i = 1; i <= fw.rows; i++)
		cns_buf_printf(&want, "pipe.csv:%d:%d|n\n%d\n", i, i, i);
	assert_string_equal(res.cols.data, "id,name");
	assert_string_equal(res.rows.data, want.data);
	cns_buf_release(&want);
	result_release(&res);
}

static void test_close_unopened(void **state)
{
	struct cns_job_conf job = { .name = "test", .batch_size = 10 };
	struct cns_source_conf conf;
	struct cns_source *src;
	struct cns_error err = { 0 };

	(void)state;
	conf_init(&conf, path_in("none.csv"));
	src = cns_source_new(&job, &conf);
	assert_null(src->ops->describe_plan(src));
	assert_int_equal(src->ops->describe(src, &err), -1);
	assert_int_equal(err.code, CNS_E_INTERNAL);
	cns_source_free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_rows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_large_field, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_gzip_members, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_gzip_truncated, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reject_without_callback,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_describe_plan, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fifo_cancel, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fifo_data, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_unopened, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("csv", tests, NULL, NULL);
}
