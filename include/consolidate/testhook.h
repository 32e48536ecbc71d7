/*
 * testhook.h - named points where the fault-injection tests stop the
 * process or make a call fail, and the one place where the engine starts
 * threads.  The points exist only in builds made with -DCNS_TEST_HOOKS
 * (make TEST_HOOKS=1, and the sanitizer builds); in a release build
 * CNS_HOOK() is nothing at all and cns_fail_now() is always false.
 *
 * Environment, read once:
 *   CNS_KILL_AT=point:N[,point:N...]   raise SIGKILL at the Nth time the
 *                                      process reaches `point`
 *   CNS_PAUSE_AT=point:N               stop there for CNS_PAUSE_SECONDS
 *                                      (default 30), for tests that send
 *                                      a signal from outside
 *   CNS_FAIL_AT=call:N[,call:N...]     make the Nth call of `call` fail
 *                                      (as the wrapper of that call says);
 *                                      `call` is one of the names in
 *                                      testhook.c's fail_calls table, an
 *                                      unknown one is reported on stderr
 *   CNS_FAIL_REPORT=1                  at exit, print to stderr how many
 *                                      times each failable call was made
 *                                      ("testhook: calls pthread_create
 *                                      5"), so a sweep knows its range
 */
#ifndef CONSOLIDATE_TESTHOOK_H
#define CONSOLIDATE_TESTHOOK_H

#include <pthread.h>
#include <stdbool.h>

#ifdef CNS_TEST_HOOKS
void cns_testhook(const char *point);
/* Counts a call of `call` and says whether this one must fail. */
bool cns_fail_now(const char *call);
#define CNS_HOOK(point) cns_testhook(point)
#else
#define CNS_HOOK(point) ((void)0)
#define cns_fail_now(call) ((void)(call), false)
#endif

/* Starts a thread of the engine; returns 0 or an errno value, like
 * pthread_create (EAGAIN under CNS_FAIL_AT=pthread_create:N).  The new
 * thread starts with SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE
 * blocked: they are for the thread that handles them (the CLI's main
 * thread), never for a worker inside libpq or a driver. */
int cns_thread_create(pthread_t *tid, void *(*fn)(void *), void *arg);

#endif
