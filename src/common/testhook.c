/*
 * testhook.c - the fault-injection points of test builds (see testhook.h),
 * and cns_thread_create, the one place where threads start, so that the
 * fault injection and the signal mask cover every thread.
 */
#include "consolidate/testhook.h"

#include <errno.h>
#include <signal.h>

int cns_thread_create(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	sigset_t block, old;
	int rc;

	if (cns_fail_now("pthread_create"))
		return EAGAIN;
	/* A thread inherits the mask of its creator: block around the
	 * create, so the new thread starts blocked and this one is left as
	 * it was. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(tid, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

#ifdef CNS_TEST_HOOKS
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_POINTS 32

struct point {
	char name[64];
	long hits;
	long kill_at;  /* 0: never */
	long pause_at; /* 0: never */
	long drop_at;  /* 0: never */
};

static struct point points[MAX_POINTS];
static int npoints;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int pause_seconds = 30;

static struct point *find(const char *name, int create)
{
	for (int i = 0; i < npoints; i++)
		if (strcmp(points[i].name, name) == 0)
			return &points[i];
	if (!create || npoints == MAX_POINTS)
		return NULL;
	snprintf(points[npoints].name, sizeof(points[0].name), "%s", name);
	return &points[npoints++];
}

enum action {
	KILL,
	PAUSE,
	DROP
};

static void parse(const char *spec, enum action what)
{
	char buf[1024], *save = NULL;

	if (!spec)
		return;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(tok, ':');
		long n = 1;
		struct point *p;

		if (colon) {
			*colon = '\0';
			n = atol(colon + 1);
		}
		p = find(tok, 1);
		if (!p)
			continue;
		if (what == KILL)
			p->kill_at = n;
		else if (what == PAUSE)
			p->pause_at = n;
		else
			p->drop_at = n;
	}
}

static void init(void)
{
	const char *s = getenv("CNS_PAUSE_SECONDS");

	parse(getenv("CNS_KILL_AT"), KILL);
	parse(getenv("CNS_PAUSE_AT"), PAUSE);
	parse(getenv("CNS_DROP_AT"), DROP);
	if (s)
		pause_seconds = atoi(s);
}

void cns_testhook(const char *name)
{
	struct point *p;
	long hits;
	int kill = 0, pause = 0;

	pthread_once(&once, init);
	if (npoints == 0)
		return;
	pthread_mutex_lock(&mu);
	p = find(name, 0);
	if (p) {
		hits = ++p->hits;
		kill = p->kill_at && hits == p->kill_at;
		pause = p->pause_at && hits == p->pause_at;
	}
	pthread_mutex_unlock(&mu);
	if (kill) {
		fprintf(stderr, "testhook: SIGKILL at %s\n", name);
		raise(SIGKILL);
	}
	if (pause) {
		fprintf(stderr, "testhook: paused at %s\n", name);
		sleep((unsigned)pause_seconds);
	}
}

void cns_testhook_drop(const char *point, int fd)
{
	struct timespec ts = { 0, 300 * 1000000L };
	struct point *p;
	int drop = 0, pair[2];

	pthread_once(&once, init);
	if (npoints == 0 || fd < 0)
		return;
	pthread_mutex_lock(&mu);
	p = find(point, 0);
	if (p && p->drop_at)
		drop = ++p->hits == p->drop_at;
	pthread_mutex_unlock(&mu);
	if (!drop)
		return;
	/* Time for the server to carry out what was sent; then the socket
	 * is replaced by one whose peer is gone, so the answer is never
	 * read and the next read sees the connection end. */
	nanosleep(&ts, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
		return;
	fprintf(stderr, "testhook: connection dropped at %s\n", point);
	dup2(pair[0], fd);
	close(pair[0]);
	close(pair[1]);
}

/* ---- fail the Nth call ---- */

#define MAX_FAILS 32

struct failpoint {
	char name[32];
	long calls;
	long fail_at; /* 0: never */
	long failed;
};

static struct failpoint fails[MAX_FAILS];
static int nfails;
static int fail_count_report;
static pthread_once_t fail_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;

/* Called with fail_mu held, or before any thread exists. */
static struct failpoint *fail_find(const char *name, int create)
{
	for (int i = 0; i < nfails; i++)
		if (strcmp(fails[i].name, name) == 0)
			return &fails[i];
	if (!create || nfails == MAX_FAILS)
		return NULL;
	snprintf(fails[nfails].name, sizeof(fails[0].name), "%s", name);
	return &fails[nfails++];
}

static void fail_report(void)
{
	pthread_mutex_lock(&fail_mu);
	for (int i = 0; i < nfails; i++)
		fprintf(stderr, "testhook: calls %s %ld failed %ld\n",
			fails[i].name, fails[i].calls, fails[i].failed);
	pthread_mutex_unlock(&fail_mu);
}

/* Called with fail_mu held, or before any thread exists. */
static void fail_parse(const char *spec)
{
	char buf[1024], *save = NULL;

	if (!spec)
		return;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(tok, ':');
		struct failpoint *f;

		if (!colon)
			continue;
		*colon = '\0';
		f = fail_find(tok, 1);
		if (f)
			f->fail_at = atol(colon + 1);
	}
}

static void fail_init(void)
{
	const char *count = getenv("CNS_FAIL_COUNT");

	fail_parse(getenv("CNS_FAIL_AT"));
	if (count && *count && strcmp(count, "0") != 0) {
		fail_count_report = 1;
		atexit(fail_report);
	}
}

int cns_fail_now(const char *name)
{
	struct failpoint *f;
	int fail = 0;

	pthread_once(&fail_once, fail_init);
	if (nfails == 0 && !fail_count_report)
		return 0;
	pthread_mutex_lock(&fail_mu);
	f = fail_find(name, fail_count_report);
	if (f) {
		f->calls++;
		fail = f->fail_at && f->calls == f->fail_at;
		if (fail)
			f->failed++;
	}
	pthread_mutex_unlock(&fail_mu);
	if (fail)
		fprintf(stderr, "testhook: failing call %ld of %s\n",
			f->fail_at, name);
	return fail;
}

void cns_fail_reset(const char *spec)
{
	pthread_once(&fail_once, fail_init);
	pthread_mutex_lock(&fail_mu);
	memset(fails, 0, sizeof(fails));
	nfails = 0;
	fail_parse(spec);
	pthread_mutex_unlock(&fail_mu);
}

long cns_fail_calls(const char *name)
{
	struct failpoint *f;
	long n;

	pthread_mutex_lock(&fail_mu);
	f = fail_find(name, 0);
	n = f ? f->calls : 0;
	pthread_mutex_unlock(&fail_mu);
	return n;
}
#endif
