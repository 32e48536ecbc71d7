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
 */
#ifndef CONSOLIDATE_TESTHOOK_H
#define CONSOLIDATE_TESTHOOK_H

#ifdef CNS_TEST_HOOKS
void cns_testhook(const char *point);
void cns_testhook_drop(const char *point, int fd);
#define CNS_HOOK(point) cns_testhook(point)
#define CNS_HOOK_DROP(point, fd) cns_testhook_drop(point, fd)
#else
#define CNS_HOOK(point) ((void)0)
#define CNS_HOOK_DROP(point, fd) ((void)(fd))
#endif

#endif
