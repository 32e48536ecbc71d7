/*
 * testhook.h - named points where the fault-injection tests stop the
 * process.  Exists only in builds made with -DCNS_TEST_HOOKS (make
 * TEST_HOOKS=1, and the sanitizer build); in a release build CNS_HOOK()
 * is nothing at all.
 *
 * Environment, read once:
 *   CNS_KILL_AT=point:N[,point:N...]   raise SIGKILL at the Nth time the
 *                                      process reaches `point`
 *   CNS_PAUSE_AT=point:N               stop there for CNS_PAUSE_SECONDS
 *                                      (default 30), for tests that send
 *                                      a signal from outside
 *   CNS_DROP_AT=point:N                cut the connection whose socket is
 *                                      given at CNS_HOOK_DROP(point, fd):
 *                                      the peer gets the request already
 *                                      sent, the process never reads the
 *                                      answer (a lost acknowledgement)
 *   CNS_FAIL_AT=name:N[,name:N...]     make the Nth call of a wrapped
 *                                      function fail (once), in the style
 *                                      of SQLite's test_malloc.c
 *   CNS_FAIL_COUNT=1                   print "testhook: calls NAME N" for
 *                                      every wrapped function at exit, so
 *                                      a test knows how far to count
 *
 * Wrapped functions, by name: malloc (the cns_x* allocators), write,
 * fsync, rename (files the run owns), PQconnectdb, PQexec,
 * PQputCopyData, SQLFetch, pthread_create (cns_thread_create).  The call site asks cns_fail_now(name) just
 * before the real call and, when it says 1, fails the way the real call
 * would (NULL, -1 with errno, a bad status).
 */
#ifndef CONSOLIDATE_TESTHOOK_H
#define CONSOLIDATE_TESTHOOK_H

#include <pthread.h>

#ifdef CNS_TEST_HOOKS
void cns_testhook(const char *point);
void cns_testhook_drop(const char *point, int fd);
#define CNS_HOOK(point) cns_testhook(point)
#define CNS_HOOK_DROP(point, fd) cns_testhook_drop(point, fd)
/* Counts this call of `name`; returns 1 when it is the call that
 * CNS_FAIL_AT says must fail.  Safe from any thread; never allocates. */
int cns_fail_now(const char *name);
/* For a test that fails the Nth call of each N in one process: replaces
 * what CNS_FAIL_AT said with spec (its syntax; "name:0" counts the calls
 * of name and fails none; NULL: nothing) and starts every count at 0. */
void cns_fail_reset(const char *spec);
/* How often name was called since the last reset (only names in the
 * spec are counted). */
long cns_fail_calls(const char *name);
#else
#define CNS_HOOK(point) ((void)0)
#define CNS_HOOK_DROP(point, fd) ((void)(fd))
#define cns_fail_now(name) ((void)(name), 0)
#endif

/* Starts a thread of the engine; returns 0 or an errno value, like
 * pthread_create (EAGAIN under CNS_FAIL_AT=pthread_create:N).  The new
 * thread starts with SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE
 * blocked: they are for the thread that handles them (the CLI's main
 * thread), never for a worker inside libpq or a driver. */
int cns_thread_create(pthread_t *tid, void *(*fn)(void *), void *arg);

#endif
