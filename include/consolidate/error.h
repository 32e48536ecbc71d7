/*
 * error.h - the one error type of consolidate.
 *
 * Every fallible function returns 0 on success or -1 on failure and takes a
 * struct cns_error * as its last argument.  The first error set wins: later
 * calls to cns_error_set() on an error that is already set change nothing,
 * so the root cause is what reaches the caller.  Context (job, source,
 * file:line:column, row) may be added on the way up.  Only the CLI turns an
 * error into an exit code.
 *
 * The struct holds its text in fixed buffers, so setting an error never
 * allocates and an error can be set on any path, also out of memory.
 *
 * Message, detail and hint are scrubbed of the secrets of the jobs loaded
 * (secrets.h) as they are set: an error may quote a server or a driver
 * that echoes a password, and it must be safe to print wherever it goes.
 */
#ifndef CONSOLIDATE_ERROR_H
#define CONSOLIDATE_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Append-only: a new code goes at the end, before CNS_E__COUNT. */
enum cns_error_code {
	CNS_OK = 0,
	CNS_E_USAGE,     /* bad command line */
	CNS_E_CONFIG,    /* job file or transform file is invalid */
	CNS_E_SOURCE,    /* a source could not be read */
	CNS_E_TARGET,    /* the target refused or failed */
	CNS_E_TRANSFORM, /* a transform failed at run time */
	CNS_E_REJECTS,   /* more rejected rows than max_rejects allows */
	CNS_E_IO,        /* a local file could not be read or written */
	CNS_E_NOMEM,     /* out of memory */
	CNS_E_LOCKED,    /* another run holds the job's lock */
	CNS_E_TIMEOUT,   /* the watchdog stopped the run */
	CNS_E_CANCELLED, /* a signal stopped the run */
	CNS_E_INTERNAL,  /* a bug: an invariant did not hold */
	CNS_E_TRANSIENT, /* a failure worth retrying (connection lost, ...) */
	CNS_E__COUNT
};

struct cns_error {
	enum cns_error_code code; /* CNS_OK while no error is set */
	char message[1024];       /* primary message, lowercase, no full stop */
	char detail[1024];        /* optional: what was seen */
	char hint[512];           /* optional: what to do about it */
	char file[512];           /* optional: file the error is about */
	int line;                 /* 0 when unknown */
	int column;               /* 0 when unknown */
	char source[128];         /* optional: source name */
	int64_t row;              /* 0 when unknown */
};

/* Clears err so that it can be reused. */
void cns_error_clear(struct cns_error *err);

/* Sets code and message unless err already holds an error; always returns
 * -1 so that "return cns_error_set(err, ...)" reads naturally.  err may be
 * NULL, in which case nothing is recorded. */
int cns_error_set(struct cns_error *err, enum cns_error_code code,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Add detail or hint to the error that is set (they keep the first value). */
void cns_error_detail(struct cns_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cns_error_hint(struct cns_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Add context where it is still empty. */
void cns_error_at(struct cns_error *err, const char *file, int line,
		  int column);
void cns_error_in_source(struct cns_error *err, const char *source);

static inline bool cns_error_isset(const struct cns_error *err)
{
	return err && err->code != CNS_OK;
}

/* A short stable name for the code ("config", "source", ...). */
const char *cns_error_code_name(enum cns_error_code code);

/* The documented process exit codes; see consolidate(1). */
enum cns_exit {
	CNS_EXIT_OK = 0,
	CNS_EXIT_FAILED = 1,    /* the run failed */
	CNS_EXIT_USAGE = 2,     /* bad usage */
	CNS_EXIT_CONFIG = 3,    /* bad configuration */
	CNS_EXIT_TIMEOUT = 4,   /* stopped by the watchdog */
	CNS_EXIT_CANCELLED = 5, /* stopped by SIGTERM or SIGINT */
	CNS_EXIT_LOCKED = 75    /* EX_TEMPFAIL: an earlier run holds the lock */
};

/* Maps an error code to the exit code the CLI uses for it. */
int cns_error_exit_code(enum cns_error_code code);

/* Formats the error for a person: "[file:line:col: ]message" plus
 * "\nDETAIL: ..." and "\nHINT: ..." lines.  Returns buf. */
char *cns_error_format(const struct cns_error *err, char *buf, size_t size);

#endif
