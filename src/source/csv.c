/*
 * csv.c - the csv source driver: one CSV file, or several picked by a glob,
 * plain or gzip-compressed, streamed through libcsv.
 *
 * Reading.  Files are read with read(2) in 64 KiB blocks and never held
 * whole in memory.  A file that starts with the gzip magic bytes is inflated
 * with zlib on the way, whatever its name (concatenated gzip members, as
 * `cat a.gz b.gz` makes them, are read in turn).  A FIFO is polled in 200 ms
 * steps, so that cancel() is seen while no writer sends anything.
 *
 * Parsing.  libcsv is fed one segment at a time, each ending at the next CR
 * or LF, so that one call completes at most one record.  next_chunk() stops
 * as soon as the record that fills the chunk is complete and keeps the
 * unparsed rest of the block for the next call: no record is lost or read
 * twice across chunks, and memory is bounded by the chunk, one block and the
 * longest record.
 *
 * Values.  Spaces are kept as written (RFC 4180 says they are part of the
 * field).  An empty unquoted field is NULL; a quoted empty field "" is the
 * empty string.  A record whose field count differs from the header's, or
 * which holds invalid UTF-8 or a NUL byte in a column that is delivered, is
 * handed to the source's reject callback and skipped.
 *
 * Headers.  With header = yes the first record of every file is its header;
 * column names come from the first file that holds a record, and every
 * other file must carry the same header.  describe() learns the columns by
 * parsing the first record with a second parser, without consuming it, so
 * next_chunk() reads the same bytes again: a FIFO works as well as a file.
 *
 * Counters.  src->rows_read counts the data records read, rejected ones
 * included; src->bytes_read counts bytes after decompression.
 */
#include "consolidate/source.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define BLOCK_SIZE (64 * 1024)
#define POLL_STEP_MS 200
/* A cell's length is 32 bits; far below that, a field this long is a broken
 * file (an unterminated quote) rather than data. */
#define MAX_FIELD_BYTES ((size_t)1 << 30)
/* Bounds the header kept in memory; PostgreSQL allows 1600 columns. */
#define MAX_FIELDS 10000

/* A list of names kept in one buffer, each NUL-terminated. */
struct names {
	struct cns_buf bytes;
	size_t *off;
	int n;
	int cap;
};

/* The open file: raw bytes in, decoded bytes in buf[pos..len). */
struct reader {
	int fd;          /* -1 when no file is open */
	bool poll_first; /* a FIFO or other non-blocking file */
	bool gz;
	bool gz_done; /* the last gzip member has ended */
	bool raw_eof;
	bool zs_live;
	z_stream zs;
	unsigned char *raw; /* compressed input, BLOCK_SIZE bytes */
	char *buf;
	size_t pos;
	size_t len;
	size_t cap;
};

enum phase {
	PHASE_HEADER,
	PHASE_DATA
};

struct csv_state {
	struct cns_source *src;
	char **files; /* sorted; a chunk's origin points at these */
	int nfiles;
	bool is_glob;
	unsigned char delim;
	unsigned char quote;

	/* The file being read.  cur is its index, or the index of the next
	 * file to open when file_open is false. */
	int cur;
	bool file_open;
	struct reader rd;
	struct csv_parser parser;
	bool parser_live;
	enum phase phase;
	int64_t rownum; /* data records of the current file so far */

	/* The columns, set by describe(). */
	bool described;
	struct names ref;     /* the header all files must carry */
	const char *ref_file; /* the file it came from */
	int width;            /* fields a record must have */
	int *map;             /* field index -> chunk column, or -1 */

	/* The record being parsed. */
	struct names hdr;  /* header fields, in PHASE_HEADER */
	int field;         /* fields seen so far */
	int row;           /* its chunk row, -1 before its first field */
	int64_t row_bytes; /* chunk->bytes before the row was added */
	int bad_col;       /* first column with a bad value, or -1 */
	long bad_at;       /* 0-based offset of the bad byte */
	bool bad_nul;      /* the bad byte is a NUL, not bad UTF-8 */

	struct cns_chunk *chunk; /* the chunk being filled */
	struct cns_error *err;   /* the error of the current call */
	bool failed;
	int64_t rejected; /* records skipped, also without a reject callback */
	char *plan;
};

/* ---- helpers ---- */

/* Sets err to "source "NAME": ..." and marks the source failed. */
static int fail(struct csv_state *st, enum cns_error_code code, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));

static int fail(struct csv_state *st, enum cns_error_code code, const char *fmt,
		...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->failed = true;
	cns_error_set(st->err, code, "source \"%s\": %s", st->src->conf->name,
		      msg);
	cns_error_in_source(st->err, st->src->conf->name);
	return -1;
}

static void names_init(struct names *l)
{
	memset(l, 0, sizeof(*l));
	cns_buf_init(&l->bytes);
}

static void names_add(struct names *l, const char *s, size_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->off = cns_xrealloc(l->off, (size_t)l->cap * sizeof(*l->off));
	}
	l->off[l->n++] = l->bytes.len;
	cns_buf_add(&l->bytes, s, len);
	cns_buf_addc(&l->bytes, '\0');
}

static const char *names_get(const struct names *l, int i)
{
	return l->bytes.data + l->off[i];
}

/* Length of name i, which may hold NUL bytes before its end. */
static size_t names_len(const struct names *l, int i)
{
	size_t end = i + 1 < l->n ? l->off[i + 1] : l->bytes.len;

	return end - l->off[i] - 1;
}

static void names_reset(struct names *l)
{
	cns_buf_reset(&l->bytes);
	l->n = 0;
}

static void names_release(struct names *l)
{
	cns_buf_release(&l->bytes);
	free(l->off);
	names_init(l);
}

static const char *cur_file(const struct csv_state *st)
{
	return st->files[st->cur];
}

/* libcsv grows its field buffer with this; refusing past the limit turns a
 * runaway field into CSV_ENOMEM instead of exhausting memory. */
static void *limited_realloc(void *p, size_t n)
{
	if (n > MAX_FIELD_BYTES)
		return NULL;
	return realloc(p, n);
}

/* Spaces are data: libcsv would trim them around unquoted fields. */
static int no_space(unsigned char c)
{
	(void)c;
	return 0;
}

static void parser_setup(struct csv_state *st, struct csv_parser *p)
{
	csv_init(p, CSV_EMPTY_IS_NULL);
	csv_set_delim(p, st->delim);
	csv_set_quote(p, st->quote);
	csv_set_space_func(p, no_space);
	csv_set_realloc_func(p, limited_realloc);
	csv_set_blk_size(p, BLOCK_SIZE);
}

/* Grows the field buffer by its own size at a time: libcsv's fixed step
 * would make a long field cost quadratic time.  A segment is at most one
 * block, so one call grows it at most once. */
static void parser_grow_step(struct csv_parser *p)
{
	size_t have = csv_get_buffer_size(p);

	csv_set_blk_size(p, have > BLOCK_SIZE ? have : BLOCK_SIZE);
}

/* Reports why csv_parse() stopped early. */
static int parse_error(struct csv_state *st, struct csv_parser *p)
{
	int status = csv_error(p);

	/* limited_realloc() lets the buffer reach the limit exactly before
	 * it refuses, so a buffer at the limit means the field is too long
	 * rather than memory short. */
	if (status == CSV_ETOOBIG ||
	    (status == CSV_ENOMEM && csv_get_buffer_size(p) >= MAX_FIELD_BYTES))
		return fail(st, CNS_E_SOURCE,
			    "a field in \"%s\" at row %" PRId64
			    " is longer than %zu GB",
			    cur_file(st), st->rownum + 1,
			    MAX_FIELD_BYTES >> 30);
	if (status == CSV_ENOMEM)
		return fail(st, CNS_E_NOMEM, "out of memory parsing \"%s\"",
			    cur_file(st));
	return fail(st, CNS_E_SOURCE, "could not parse \"%s\": %s",
		    cur_file(st), csv_strerror(status));
}

/* ---- reading bytes ---- */

static int cancelled(struct csv_state *st)
{
	return fail(st, CNS_E_CANCELLED, "reading was cancelled");
}

/* Reads up to n raw bytes of the open file.  Returns the count, 0 at the
 * end of the file, -1 with the error set. */
static ssize_t raw_read(struct csv_state *st, void *dst, size_t n)
{
	struct reader *r = &st->rd;

	for (;;) {
		ssize_t got;

		if (st->src->cancelled)
			return cancelled(st);
		if (r->poll_first) {
			/* A FIFO without a writer reads as the end of the
			 * file: wait for data or a hang-up first, in short
			 * steps so that cancel() is seen. */
			struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
			int pr = poll(&pfd, 1, POLL_STEP_MS);

			if (pr < 0 && errno != EINTR)
				return fail(st, CNS_E_SOURCE,
					    "could not read \"%s\": %s",
					    cur_file(st), strerror(errno));
			if (pr <= 0)
				continue;
		}
		got = read(r->fd, dst, n);
		if (got >= 0)
			return got;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			r->poll_first = true;
			continue;
		}
		return fail(st, CNS_E_SOURCE, "could not read \"%s\": %s",
			    cur_file(st), strerror(errno));
	}
}

/* Refills the compressed input when it is used up.  Returns -1 on error. */
static int raw_refill(struct csv_state *st)
{
	struct reader *r = &st->rd;
	ssize_t n;

	if (r->zs.avail_in > 0 || r->raw_eof)
		return 0;
	n = raw_read(st, r->raw, BLOCK_SIZE);
	if (n < 0)
		return -1;
	if (n == 0)
		r->raw_eof = true;
	r->zs.next_in = r->raw;
	r->zs.avail_in = (uInt)n;
	return 0;
}

/* Inflates up to BLOCK_SIZE bytes to buf + len.  Returns the count, 0 at
 * the end of the data, -1 on error. */
static ssize_t inflate_more(struct csv_state *st)
{
	struct reader *r = &st->rd;

	while (!r->gz_done) {
		size_t got;
		int zr;

		if (raw_refill(st) < 0)
			return -1;
		r->zs.next_out = (Bytef *)r->buf + r->len;
		r->zs.avail_out = BLOCK_SIZE;
		zr = inflate(&r->zs, Z_NO_FLUSH);
		got = BLOCK_SIZE - r->zs.avail_out;
		switch (zr) {
		case Z_STREAM_END:
			/* Another member may follow; anything else after
			 * the end is ignored, as gzip(1) does. */
			if (raw_refill(st) < 0)
				return -1;
			if (r->zs.avail_in > 0 && r->zs.next_in[0] == 0x1f)
				inflateReset(&r->zs);
			else
				r->gz_done = true;
			break;
		case Z_OK: break;
		case Z_BUF_ERROR:
			/* No progress is possible: the input ended inside
			 * a member. */
			return fail(st, CNS_E_SOURCE,
				    "could not read \"%s\": unexpected end of "
				    "compressed data",
				    cur_file(st));
		default:
			return fail(st, CNS_E_SOURCE,
				    "could not read \"%s\": invalid compressed "
				    "data (%s)",
				    cur_file(st),
				    r->zs.msg ? r->zs.msg : zError(zr));
		}
		if (got > 0)
			return (ssize_t)got;
	}
	return 0;
}

/* Makes room for one more block after buf[len], keeping buf[pos..len). */
static void reader_make_room(struct reader *r)
{
	if (r->pos == r->len)
		r->pos = r->len = 0;
	if (r->cap - r->len >= BLOCK_SIZE)
		return;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->cap - r->len < BLOCK_SIZE) {
		while (r->cap - r->len < BLOCK_SIZE)
			r->cap = r->cap ? 2 * r->cap : 2 * BLOCK_SIZE;
		r->buf = cns_xrealloc(r->buf, r->cap);
	}
}

/* Appends up to one block of decoded bytes to buf, keeping what is not
 * consumed yet.  Returns the count, 0 at the end of the file, -1 on
 * error. */
static ssize_t reader_more(struct csv_state *st)
{
	struct reader *r = &st->rd;
	ssize_t n;

	reader_make_room(r);
	if (r->gz)
		n = inflate_more(st);
	else
		n = raw_read(st, r->buf + r->len, BLOCK_SIZE);
	if (n > 0) {
		r->len += (size_t)n;
		st->src->bytes_read += n;
	}
	return n;
}

static void reader_close(struct reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (r->zs_live)
		inflateEnd(&r->zs);
	r->zs_live = false;
	r->pos = r->len = 0;
}

/* Opens files[cur], tells gzip from plain by the magic bytes and skips a
 * UTF-8 byte order mark.  Returns -1 with the error set. */
static int reader_open(struct csv_state *st)
{
	struct reader *r = &st->rd;
	const char *path = cur_file(st);
	struct stat sb;
	ssize_t n;
	int e = 0;

	/* Non-blocking, so that opening a FIFO without a writer returns at
	 * once; regular files ignore the flag. */
	r->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (r->fd < 0)
		return fail(st, CNS_E_SOURCE, "could not open \"%s\": %s", path,
			    strerror(errno));
	if (fstat(r->fd, &sb) < 0)
		e = errno;
	else if (S_ISDIR(sb.st_mode))
		e = EISDIR;
	if (e) {
		reader_close(r);
		return fail(st, CNS_E_SOURCE, "could not open \"%s\": %s", path,
			    strerror(e));
	}
	r->poll_first = S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode);
	r->gz = r->gz_done = r->raw_eof = false;
	r->pos = r->len = 0;
	reader_make_room(r);

	/* Two bytes decide gzip; a FIFO may deliver them one at a time. */
	while (r->len < 2) {
		n = raw_read(st, r->buf + r->len, BLOCK_SIZE - r->len);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		r->len += (size_t)n;
	}
	if (r->len >= 2 && (unsigned char)r->buf[0] == 0x1f &&
	    (unsigned char)r->buf[1] == 0x8b) {
		if (!r->raw)
			r->raw = cns_xmalloc(BLOCK_SIZE);
		memset(&r->zs, 0, sizeof(r->zs));
		if (inflateInit2(&r->zs, 15 + 16) != Z_OK)
			return fail(st, CNS_E_NOMEM,
				    "out of memory opening \"%s\"", path);
		r->zs_live = true;
		r->gz = true;
		memcpy(r->raw, r->buf, r->len);
		r->zs.next_in = r->raw;
		r->zs.avail_in = (uInt)r->len;
		r->len = 0;
	} else {
		st->src->bytes_read += (int64_t)r->len;
	}

	while (r->len - r->pos < 3) {
		n = reader_more(st);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
	}
	if (r->len - r->pos >= 3 &&
	    memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
		r->pos += 3;
	return 0;
}

/* ---- the record callbacks of the main parser ---- */

static void reject_row(struct csv_state *st, const char *reason)
{
	st->rejected++;
	if (st->src->reject)
		st->src->reject(st->src->reject_ctx, st->src, st->rownum,
				cur_file(st), reason);
}

/* True when s[0..n) is ASCII without a NUL byte, as most fields are:
 * checked eight bytes at a time.  Any other field takes the full UTF-8
 * and NUL checks. */
static bool plain_ascii(const char *s, size_t n)
{
	const uint64_t high = UINT64_C(0x8080808080808080);
	const uint64_t ones = UINT64_C(0x0101010101010101);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		/* A high bit, or a zero byte (exact when no high bit is
		 * set). */
		if ((w & high) || ((w - ones) & ~w & high))
			return false;
	}
	for (; i < n; i++)
		if ((unsigned char)s[i] - 1u >= 0x7Fu)
			return false;
	return true;
}

static void on_field(void *s, size_t len, void *data)
{
	struct csv_state *st = data;
	int i = st->field++;
	int col;
	long at;

	if (st->failed)
		return;
	if (st->phase == PHASE_HEADER) {
		if (st->hdr.n >= MAX_FIELDS) {
			fail(st, CNS_E_SOURCE,
			     "the header of \"%s\" has more than %d fields",
			     cur_file(st), MAX_FIELDS);
			return;
		}
		names_add(&st->hdr, s ? s : "", s ? len : 0);
		return;
	}
	if (st->row < 0) {
		st->row_bytes = st->chunk->bytes;
		st->row = cns_chunk_add_row(st->chunk, st->rownum + 1,
					    cur_file(st));
		st->bad_col = -1;
	}
	if (i >= st->width || !s)
		return;
	col = st->map[i];
	if (col < 0 || st->bad_col >= 0)
		return;
	if (plain_ascii(s, len)) {
		cns_chunk_set(st->chunk, st->row, col, s, len);
		return;
	}
	at = cns_utf8_invalid_at(s, len);
	st->bad_nul = false;
	if (at < 0) {
		const char *nul = memchr(s, '\0', len);

		if (nul) {
			at = nul - (const char *)s;
			st->bad_nul = true;
		}
	}
	if (at >= 0) {
		st->bad_col = col;
		st->bad_at = at;
		return;
	}
	cns_chunk_set(st->chunk, st->row, col, s, len);
}

/* Compares the header just read with the reference header. */
static void check_header(struct csv_state *st)
{
	const struct names *a = &st->ref, *b = &st->hdr;
	int i;

	if (!st->ref_file)
		return; /* no columns known: nothing to compare with */
	for (i = 0; i < a->n && i < b->n; i++)
		if (names_len(a, i) != names_len(b, i) ||
		    memcmp(names_get(a, i), names_get(b, i), names_len(a, i)) !=
			    0)
			break;
	if (i == a->n && i == b->n)
		return;
	fail(st, CNS_E_SOURCE,
	     "the header of \"%s\" differs from the header of \"%s\"",
	     cur_file(st), st->ref_file);
	if (i < a->n && i < b->n)
		cns_error_detail(st->err,
				 "column %d is \"%s\" in \"%s\" but \"%s\" in "
				 "\"%s\"",
				 i + 1, names_get(b, i), cur_file(st),
				 names_get(a, i), st->ref_file);
	else
		cns_error_detail(st->err,
				 "\"%s\" has %d columns but \"%s\" has %d",
				 cur_file(st), b->n, st->ref_file, a->n);
	cns_error_hint(st->err,
		       "all files read by one source must have the same "
		       "header");
}

static void on_record(int c, void *data)
{
	struct csv_state *st = data;
	int nfields = st->field;
	char reason[512];

	(void)c;
	st->field = 0;
	if (st->failed)
		return;
	if (st->phase == PHASE_HEADER) {
		check_header(st);
		names_reset(&st->hdr);
		st->phase = PHASE_DATA;
		return;
	}
	st->rownum++;
	st->src->rows_read++;
	st->row = -1;
	if (nfields != st->width)
		snprintf(reason, sizeof(reason),
			 "record has %d field%s, expected %d", nfields,
			 nfields == 1 ? "" : "s", st->width);
	else if (st->bad_col >= 0)
		snprintf(reason, sizeof(reason),
			 "%s in column \"%s\" at byte %ld",
			 st->bad_nul ? "NUL byte" : "invalid UTF-8",
			 st->src->colnames[st->bad_col], st->bad_at + 1);
	else
		return;
	cns_chunk_drop_last(st->chunk);
	st->chunk->bytes = st->row_bytes;
	reject_row(st, reason);
}

/* ---- files ---- */

static int file_open(struct csv_state *st)
{
	if (reader_open(st) < 0) {
		reader_close(&st->rd);
		return -1;
	}
	parser_setup(st, &st->parser);
	st->parser_live = true;
	st->file_open = true;
	st->phase = st->src->conf->header ? PHASE_HEADER : PHASE_DATA;
	st->rownum = 0;
	st->field = 0;
	st->row = -1;
	names_reset(&st->hdr);
	return 0;
}

static void file_close(struct csv_state *st)
{
	reader_close(&st->rd);
	if (st->parser_live)
		csv_free(&st->parser);
	st->parser_live = false;
	st->file_open = false;
}

/* Ends the current file: delivers a last record without a line end and
 * moves on to the next file.  The chunk must have room for one row. */
static int file_finish(struct csv_state *st)
{
	/* Strict only for this call: an unterminated quote at the end of the
	 * file has swallowed the rest of it and must not pass silently. */
	csv_set_opts(&st->parser,
		     CSV_EMPTY_IS_NULL | CSV_STRICT | CSV_STRICT_FINI);
	if (csv_fini(&st->parser, on_field, on_record, st) != 0) {
		if (st->phase == PHASE_HEADER)
			return fail(st, CNS_E_SOURCE,
				    "unterminated quoted field in the header "
				    "of \"%s\"",
				    cur_file(st));
		return fail(st, CNS_E_SOURCE,
			    "unterminated quoted field in \"%s\" at row "
			    "%" PRId64,
			    cur_file(st), st->rownum + 1);
	}
	if (st->failed)
		return -1;
	file_close(st);
	st->cur++;
	return 0;
}

/* The length of p[0..avail) up to and including its ends-th CR or LF,
 * or avail.  Line ends are nearly always a lone LF: memchr finds them,
 * and a byte loop counts only when a CR is among them. */
static size_t segment_end(const char *p, size_t avail, int ends)
{
	const char *q = p, *end = p + avail;
	size_t seg;

	for (int n = ends; q < end;) {
		const char *lf = memchr(q, '\n', (size_t)(end - q));

		q = lf ? lf + 1 : end;
		if (--n == 0)
			break;
	}
	if (!memchr(p, '\r', (size_t)(q - p)))
		return (size_t)(q - p);
	for (seg = 0; seg < avail; seg++)
		if ((p[seg] == '\n' || p[seg] == '\r') && --ends == 0)
			return seg + 1;
	return avail;
}

/* Parses the next segment of the open file: up to and including the
 * k-th CR or LF, where k is the number of rows the chunk has room for (at
 * least one, to finish a record whose row it already holds).  A line end
 * completes at most one record and a record takes at most one row, so
 * the chunk never overflows, while one libcsv call covers many records.
 * Returns -1 on error. */
static int feed(struct csv_state *st)
{
	struct reader *r = &st->rd;
	const char *p;
	size_t avail, seg, done;
	int ends;

	if (r->pos == r->len) {
		ssize_t n = reader_more(st);

		if (n < 0)
			return -1;
		if (n == 0)
			return file_finish(st);
	}
	p = r->buf + r->pos;
	avail = r->len - r->pos;
	ends = st->chunk->cap - st->chunk->nrows;
	seg = segment_end(p, avail, ends < 1 ? 1 : ends);
	parser_grow_step(&st->parser);
	done = csv_parse(&st->parser, p, seg, on_field, on_record, st);
	r->pos += done;
	if (st->failed)
		return -1;
	if (done < seg)
		return parse_error(st, &st->parser);
	return 0;
}

/* ---- describe: the first record, without consuming it ---- */

struct peek {
	struct names *names;
	bool done;
	bool too_many;
};

static void peek_field(void *s, size_t len, void *data)
{
	struct peek *pk = data;

	if (pk->done)
		return;
	if (pk->names->n >= MAX_FIELDS) {
		pk->too_many = true;
		return;
	}
	names_add(pk->names, s ? s : "", s ? len : 0);
}

static void peek_record(int c, void *data)
{
	struct peek *pk = data;

	(void)c;
	pk->done = true;
}

/* Parses the first record of the open file into names, reading more
 * blocks as needed but consuming nothing.  Returns 1 when there is one, 0
 * when the file holds no record, -1 on error. */
static int peek_first_record(struct csv_state *st, struct names *names)
{
	struct reader *r = &st->rd;
	struct csv_parser p;
	struct peek pk = { .names = names };
	size_t off = 0; /* bytes parsed, from r->pos */
	int ret = 0;

	names_reset(names);
	parser_setup(st, &p);
	while (!pk.done && !pk.too_many) {
		size_t avail, done;

		if (r->pos + off == r->len) {
			ssize_t n = reader_more(st);

			if (n < 0) {
				ret = -1;
				break;
			}
			if (n == 0) {
				csv_fini(&p, peek_field, peek_record, &pk);
				break;
			}
		}
		avail = r->len - r->pos - off;
		parser_grow_step(&p);
		done = csv_parse(&p, r->buf + r->pos + off, avail, peek_field,
				 peek_record, &pk);
		off += done;
		if (done < avail && !pk.done) {
			ret = parse_error(st, &p);
			break;
		}
	}
	csv_free(&p);
	if (ret < 0)
		return -1;
	if (pk.too_many)
		return fail(st, CNS_E_SOURCE,
			    "\"%s\" has a record with more than %d fields",
			    cur_file(st), MAX_FIELDS);
	return pk.done ? 1 : 0;
}

/* Finds the header name closest to an unknown column, for a hint. */
static const char *closest_name(char **names, int n, const char *want)
{
	const char *best = NULL;
	int best_d = 0;

	for (int i = 0; i < n; i++) {
		int d = cns_edit_distance(names[i], want);

		if (!best || d < best_d) {
			best = names[i];
			best_d = d;
		}
	}
	if (best && best_d <= (int)strlen(want) / 2 + 1)
		return best;
	return NULL;
}

/* Sets the columns from the header in st->ref (found) or from the columns
 * list when no file holds a record. */
static int columns_from_header(struct csv_state *st, bool found)
{
	struct cns_source *src = st->src;
	const struct cns_list *want = &src->conf->columns;
	char **hnames;
	int w = st->ref.n;

	if (!found) {
		/* Nothing to read: the columns list, if any, is taken on
		 * trust so that the transform can still be checked. */
		src->ncols = want->n;
		src->colnames = cns_arena_alloc(
			&src->arena, sizeof(char *) * (size_t)(want->n + 1));
		for (int j = 0; j < want->n; j++)
			src->colnames[j] =
				cns_arena_strdup(&src->arena, want->items[j]);
		st->width = 0;
		return 0;
	}

	st->ref_file = cur_file(st);
	hnames = cns_arena_alloc(&src->arena, sizeof(char *) * (size_t)w);
	for (int i = 0; i < w; i++) {
		const char *s = names_get(&st->ref, i);
		size_t len = names_len(&st->ref, i);

		if (cns_utf8_invalid_at(s, len) >= 0 || strlen(s) != len)
			return fail(st, CNS_E_SOURCE,
				    "invalid UTF-8 in the header of \"%s\" in "
				    "column %d",
				    st->ref_file, i + 1);
		/* An empty name (often a trailing delimiter) gets the
		 * name a headerless file would give it. */
		hnames[i] = len ? cns_arena_strdup(&src->arena, s)
				: cns_arena_printf(&src->arena, "c%d", i + 1);
	}

	st->width = w;
	st->map = cns_xmalloc(sizeof(int) * (size_t)(w ? w : 1));
	for (int i = 0; i < w; i++)
		st->map[i] = -1;

	if (want->n == 0) {
		for (int i = 0; i < w; i++)
			for (int k = 0; k < i; k++)
				if (strcmp(hnames[i], hnames[k]) == 0) {
					fail(st, CNS_E_SOURCE,
					     "column \"%s\" appears twice in "
					     "the header of \"%s\"",
					     hnames[i], st->ref_file);
					cns_error_hint(st->err,
						       "list the columns to "
						       "read with \"columns "
						       "=\"");
					return -1;
				}
		for (int i = 0; i < w; i++)
			st->map[i] = i;
		src->ncols = w;
		src->colnames = hnames;
		return 0;
	}

	for (int j = 0; j < want->n; j++) {
		const char *name = want->items[j];
		int at = -1;

		for (int i = 0; i < w; i++) {
			if (strcmp(hnames[i], name) != 0)
				continue;
			if (at >= 0)
				return fail(st, CNS_E_SOURCE,
					    "column \"%s\" appears twice in "
					    "the header of \"%s\"",
					    name, st->ref_file);
			at = i;
		}
		if (at < 0) {
			const char *near = closest_name(hnames, w, name);

			fail(st, CNS_E_SOURCE,
			     "column \"%s\" is not in the header of \"%s\"",
			     name, st->ref_file);
			if (near)
				cns_error_hint(st->err, "did you mean \"%s\"?",
					       near);
			return -1;
		}
		if (st->map[at] >= 0)
			return fail(st, CNS_E_SOURCE,
				    "column \"%s\" is listed twice in columns",
				    name);
		st->map[at] = j;
	}
	src->ncols = want->n;
	src->colnames =
		cns_arena_alloc(&src->arena, sizeof(char *) * (size_t)want->n);
	for (int j = 0; j < want->n; j++)
		src->colnames[j] =
			cns_arena_strdup(&src->arena, want->items[j]);
	return 0;
}

/* Sets the columns of a file without a header: the columns list, or c1..cN
 * after the width of the first record. */
static int columns_headerless(struct csv_state *st, bool found)
{
	struct cns_source *src = st->src;
	const struct cns_list *want = &src->conf->columns;
	int w = want->n ? want->n : found ? st->ref.n : 0;

	if (want->n && found && st->ref.n != want->n) {
		fail(st, CNS_E_SOURCE,
		     "\"%s\" has %d field%s per record but columns names %d",
		     cur_file(st), st->ref.n, st->ref.n == 1 ? "" : "s",
		     want->n);
		cns_error_hint(st->err,
			       "give one name per field in \"columns =\", or "
			       "set \"header = yes\" if the first record names "
			       "the columns");
		return -1;
	}
	st->width = w;
	st->map = cns_xmalloc(sizeof(int) * (size_t)(w ? w : 1));
	src->ncols = w;
	src->colnames = cns_arena_alloc(&src->arena,
					sizeof(char *) * (size_t)(w ? w : 1));
	for (int i = 0; i < w; i++) {
		st->map[i] = i;
		src->colnames[i] =
			want->n ? cns_arena_strdup(&src->arena, want->items[i])
				: cns_arena_printf(&src->arena, "c%d", i + 1);
	}
	return 0;
}

/* ---- the driver functions ---- */

static int path_is_glob(const char *path)
{
	return strpbrk(path, "*?[") != NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expands conf->path into st->files, sorted bytewise; directories that a
 * pattern matches are left out. */
static int expand_path(struct csv_state *st)
{
	const char *path = st->src->conf->path;
	glob_t g;
	int rc;

	if (!path_is_glob(path)) {
		struct stat sb;

		if (stat(path, &sb) < 0)
			return fail(st, CNS_E_SOURCE,
				    "could not open \"%s\": %s", path,
				    strerror(errno));
		st->files = cns_xmalloc(sizeof(char *));
		st->files[0] = cns_xstrdup(path);
		st->nfiles = 1;
		return 0;
	}
	st->is_glob = true;
	memset(&g, 0, sizeof(g));
	rc = glob(path, GLOB_MARK, NULL, &g);
	if (rc == GLOB_ABORTED || rc == GLOB_NOSPACE) {
		globfree(&g);
		if (rc == GLOB_NOSPACE)
			return fail(st, CNS_E_NOMEM,
				    "out of memory matching \"%s\"", path);
		return fail(st, CNS_E_SOURCE,
			    "could not read the folders of \"%s\"", path);
	}
	st->files = cns_xmalloc(sizeof(char *) * (rc == 0 ? g.gl_pathc : 1));
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
		const char *f = g.gl_pathv[i];
		size_t n = strlen(f);

		if (n > 0 && f[n - 1] == '/')
			continue;
		st->files[st->nfiles++] = cns_xstrdup(f);
	}
	globfree(&g);
	if (st->nfiles == 0)
		return fail(st, CNS_E_SOURCE, "no file matches \"%s\"", path);
	qsort(st->files, (size_t)st->nfiles, sizeof(char *), cmp_str);
	return 0;
}

static int is_utf8_name(const char *enc)
{
	return cns_strcasecmp(enc, "utf-8") == 0 ||
	       cns_strcasecmp(enc, "utf8") == 0;
}

static int csv_open(struct cns_source *src, struct cns_error *err)
{
	const struct cns_source_conf *conf = src->conf;
	struct csv_state *st = cns_xcalloc(1, sizeof(*st));

	src->impl = st;
	st->src = src;
	st->err = err;
	st->rd.fd = -1;
	st->row = -1;
	st->bad_col = -1;
	names_init(&st->ref);
	names_init(&st->hdr);
	st->delim = (unsigned char)(conf->delimiter ? conf->delimiter : ',');
	st->quote = (unsigned char)(conf->quote ? conf->quote : '"');

	if (conf->encoding && !is_utf8_name(conf->encoding)) {
		fail(st, CNS_E_CONFIG, "encoding \"%s\" is not supported",
		     conf->encoding);
		cns_error_hint(err, "only utf-8 is supported; convert the "
				    "files with iconv(1)");
		return -1;
	}
	if (st->delim == st->quote)
		return fail(st, CNS_E_CONFIG,
			    "the delimiter and the quote are the same "
			    "character");
	if (st->delim == '\r' || st->delim == '\n' || st->quote == '\r' ||
	    st->quote == '\n')
		return fail(st, CNS_E_CONFIG,
			    "the delimiter and the quote cannot be a line end");
	if (!conf->path || !conf->path[0])
		return fail(st, CNS_E_CONFIG, "path is not set");
	return expand_path(st);
}

static int csv_describe(struct cns_source *src, struct cns_error *err)
{
	struct csv_state *st = src->impl;
	int found = 0;

	if (!st)
		return cns_error_set(err, CNS_E_INTERNAL,
				     "source \"%s\": described before it was "
				     "opened",
				     src->conf->name);
	st->err = err;
	if (st->described)
		return 0;
	if (st->failed)
		return fail(st, CNS_E_INTERNAL, "described after an error");
	/* Files without a record add nothing: skip them, so that the
	 * columns come from the first file that has one. */
	while (st->cur < st->nfiles) {
		if (!st->file_open && file_open(st) < 0)
			return -1;
		found = peek_first_record(st, &st->ref);
		if (found < 0)
			return -1;
		if (found)
			break;
		file_close(st);
		st->cur++;
	}
	if (src->conf->header ? columns_from_header(st, found)
			      : columns_headerless(st, found))
		return -1;
	src->coltypes = cns_arena_alloc(
		&src->arena,
		sizeof(char *) * (size_t)(src->ncols ? src->ncols : 1));
	for (int i = 0; i < src->ncols; i++)
		src->coltypes[i] = "text";
	st->described = true;
	return 0;
}

static int csv_next_chunk(struct cns_source *src, struct cns_chunk *chunk,
			  struct cns_error *err)
{
	struct csv_state *st = src->impl;

	if (!st)
		return cns_error_set(err, CNS_E_INTERNAL,
				     "source \"%s\": read before it was opened",
				     src->conf->name);
	st->err = err;
	if (!st->described && csv_describe(src, err) < 0)
		return -1;
	if (st->failed)
		return fail(st, CNS_E_INTERNAL, "read after an error");
	if (chunk->ncols != src->ncols || chunk->cap <= 0)
		return fail(st, CNS_E_INTERNAL,
			    "chunk of %d columns and %d rows for %d columns",
			    chunk->ncols, chunk->cap, src->ncols);
	st->chunk = chunk;
	/* A record takes its row at its first field: a full chunk may still
	 * wait for the rest of its last record. */
	while (st->row >= 0 || !cns_chunk_full(chunk)) {
		if (src->cancelled) {
			cancelled(st);
			break;
		}
		if (!st->file_open) {
			if (st->cur >= st->nfiles)
				break;
			if (file_open(st) < 0)
				break;
		}
		if (feed(st) < 0)
			break;
	}
	st->chunk = NULL;
	if (st->failed)
		return -1;
	return chunk->nrows > 0 ? 1 : 0;
}

static void csv_cancel(struct cns_source *src)
{
	src->cancelled = 1;
}

static void csv_close(struct cns_source *src)
{
	struct csv_state *st = src->impl;

	if (!st)
		return;
	file_close(st);
	free(st->rd.buf);
	free(st->rd.raw);
	for (int i = 0; i < st->nfiles; i++)
		free(st->files[i]);
	free(st->files);
	free(st->map);
	names_release(&st->ref);
	names_release(&st->hdr);
	free(st);
	src->impl = NULL;
}

static void add_char(struct cns_buf *b, unsigned char c)
{
	if (c == '\t')
		cns_buf_adds(b, "'\\t'");
	else if (c < 0x20 || c >= 0x7f)
		cns_buf_printf(b, "'\\x%02x'", c);
	else
		cns_buf_printf(b, "'%c'", c);
}

static const char *csv_describe_plan(struct cns_source *src)
{
	struct csv_state *st = src->impl;
	const struct cns_source_conf *conf = src->conf;
	struct cns_buf b;

	if (!st)
		return NULL;
	if (st->plan)
		return st->plan;
	cns_buf_init(&b);
	if (st->is_glob)
		cns_buf_printf(&b, "read %d file%s matching \"%s\"", st->nfiles,
			       st->nfiles == 1 ? "" : "s", conf->path);
	else
		cns_buf_printf(&b, "read \"%s\"", conf->path);
	cns_buf_printf(&b, " (%s, delimiter ",
		       conf->header ? "header" : "no header");
	add_char(&b, st->delim);
	if (st->quote != '"') {
		cns_buf_adds(&b, ", quote ");
		add_char(&b, st->quote);
	}
	if (conf->columns.n > 0) {
		cns_buf_adds(&b, ", columns ");
		for (int i = 0; i < conf->columns.n; i++)
			cns_buf_printf(&b, "%s%s", i ? ", " : "",
				       conf->columns.items[i]);
	}
	cns_buf_addc(&b, ')');
	st->plan = cns_arena_strdup(&src->arena, b.data);
	cns_buf_release(&b);
	return st->plan;
}

/* Counts the records the extraction would deliver by reading the files
 * once more through a second source, so that the volume guard can judge
 * before any row moves; rejects are not reported twice, since the second
 * source has no reject callback.  A FIFO or socket cannot be read twice:
 * *n is -1 then, and the run judges once it has read the rows. */
static int csv_count_rows(struct cns_source *src, int64_t *n,
			  struct cns_error *err)
{
	struct csv_state *st = src->impl;
	struct cns_source *again;
	struct cns_chunk chunk;
	struct stat sb;
	int rc = 0;

	*n = -1;
	for (int i = 0; st && i < st->nfiles; i++)
		if (stat(st->files[i], &sb) < 0 || !S_ISREG(sb.st_mode))
			return 0;
	again = cns_source_new(src->job, src->conf);
	again->batch_size = src->batch_size;
	if (csv_open(again, err) < 0 || csv_describe(again, err) < 0) {
		cns_source_free(again);
		return -1;
	}
	cns_chunk_init(&chunk, again->ncols,
		       again->batch_size > 0 ? again->batch_size : 1000);
	*n = 0;
	while (!src->cancelled &&
	       (rc = csv_next_chunk(again, &chunk, err)) > 0) {
		*n += chunk.nrows;
		cns_chunk_reset(&chunk);
	}
	if (src->cancelled)
		rc = cancelled(again->impl);
	cns_chunk_release(&chunk);
	cns_source_free(again);
	return rc < 0 ? -1 : 0;
}

const struct cns_source_ops cns_source_csv_ops = {
	.name = "csv",
	.open = csv_open,
	.describe = csv_describe,
	.next_chunk = csv_next_chunk,
	.cancel = csv_cancel,
	.close = csv_close,
	.describe_plan = csv_describe_plan,
	.count_rows = csv_count_rows,
};
