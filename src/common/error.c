/*
 * error.c - the one error type: set once, add context on the way up,
 * format for a person, map to an exit code.  Every text is scrubbed of
 * the job's secrets here, when the error is created, so that no output
 * (stderr, logs, records, the history table) can show one.
 */
#include "consolidate/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "consolidate/secrets.h"

/* Formats into a scratch buffer larger than the field, then writes the
 * scrubbed text into the field: a secret cut by the field's end would
 * otherwise escape the scrubber half-written. */
static void set_text(char *field, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void set_text(char *field, size_t size, const char *fmt, va_list ap)
{
	char raw[4096];
	int n = vsnprintf(raw, sizeof(raw), fmt, ap);

	cns_secrets_scrub_fixed(raw, n >= (int)sizeof(raw), field, size);
}

void cns_error_clear(struct cns_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int cns_error_set(struct cns_error *err, enum cns_error_code code,
		  const char *fmt, ...)
{
	va_list ap;

	if (!err || err->code != CNS_OK)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	set_text(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

void cns_error_detail(struct cns_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->detail[0])
		return;
	va_start(ap, fmt);
	set_text(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

void cns_error_hint(struct cns_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->hint[0])
		return;
	va_start(ap, fmt);
	set_text(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void cns_error_at(struct cns_error *err, const char *file, int line, int column)
{
	if (!err)
		return;
	if (!err->file[0] && file)
		snprintf(err->file, sizeof(err->file), "%s", file);
	if (!err->line) {
		err->line = line;
		err->column = column;
	}
}

void cns_error_in_source(struct cns_error *err, const char *source)
{
	if (err && !err->source[0] && source)
		snprintf(err->source, sizeof(err->source), "%s", source);
}

const char *cns_error_code_name(enum cns_error_code code)
{
	switch (code) {
	case CNS_OK: return "ok";
	case CNS_E_USAGE: return "usage";
	case CNS_E_CONFIG: return "config";
	case CNS_E_SOURCE: return "source";
	case CNS_E_TARGET: return "target";
	case CNS_E_TRANSFORM: return "transform";
	case CNS_E_REJECTS: return "rejects";
	case CNS_E_IO: return "io";
	case CNS_E_NOMEM: return "nomem";
	case CNS_E_LOCKED: return "locked";
	case CNS_E_TIMEOUT: return "timeout";
	case CNS_E_CANCELLED: return "cancelled";
	case CNS_E_INTERNAL: return "internal";
	case CNS_E_TRANSIENT: return "transient";
	case CNS_E__COUNT: break;
	}
	return "unknown";
}

int cns_error_exit_code(enum cns_error_code code)
{
	switch (code) {
	case CNS_OK: return CNS_EXIT_OK;
	case CNS_E_USAGE: return CNS_EXIT_USAGE;
	case CNS_E_CONFIG: return CNS_EXIT_CONFIG;
	case CNS_E_LOCKED: return CNS_EXIT_LOCKED;
	case CNS_E_TIMEOUT: return CNS_EXIT_TIMEOUT;
	case CNS_E_CANCELLED: return CNS_EXIT_CANCELLED;
	case CNS_E_SOURCE:
	case CNS_E_TARGET:
	case CNS_E_TRANSFORM:
	case CNS_E_REJECTS:
	case CNS_E_IO:
	case CNS_E_NOMEM:
	case CNS_E_INTERNAL:
	case CNS_E_TRANSIENT:
	case CNS_E__COUNT: break;
	}
	return CNS_EXIT_FAILED;
}

/* Appends the detail to buf[0..*n).  Each thing is said once: a detail
 * whose first line repeats what is already in buf (the location and the
 * message, as a transform's list of errors starts) goes on without that
 * line, and without the "DETAIL:" label, so that a quoted source line and
 * its caret keep their columns; a detail that is the message again is
 * left out. */
static void format_detail(const struct cns_error *err, char *buf, size_t size,
			  size_t *n)
{
	const char *d = err->detail;
	size_t have = *n < size ? *n : (size ? size - 1 : 0);
	size_t first = strcspn(d, "\n");

	if (!d[0] || *n >= size || strcmp(d, err->message) == 0)
		return;
	if (first == have && strncmp(d, buf, first) == 0) {
		if (d[first])
			*n += (size_t)snprintf(buf + *n, size - *n, "%s",
					       d + first);
		return;
	}
	*n += (size_t)snprintf(buf + *n, size - *n, "\nDETAIL: %s", d);
}

char *cns_error_format(const struct cns_error *err, char *buf, size_t size)
{
	size_t n = 0;

#define ADD(...)                                                               \
	do {                                                                   \
		if (n < size)                                                  \
			n += (size_t)snprintf(buf + n, size - n, __VA_ARGS__); \
	} while (0)
	if (size)
		buf[0] = '\0';
	if (err->file[0] && err->line && err->column)
		ADD("%s:%d:%d: ", err->file, err->line, err->column);
	else if (err->file[0] && err->line)
		ADD("%s:%d: ", err->file, err->line);
	else if (err->file[0])
		ADD("%s: ", err->file);
	if (err->source[0] && !strstr(err->message, err->source))
		ADD("source \"%s\": ", err->source);
	ADD("%s", err->message);
	format_detail(err, buf, size, &n);
	/* A hint already in the detail (the caret line of a transform
	 * error carries its suggestion) is not said twice. */
	if (err->hint[0] && !strstr(err->detail, err->hint))
		ADD("\nHINT: %s", err->hint);
#undef ADD
	return buf;
}
