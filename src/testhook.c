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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_POINTS 32

/* The calls that CNS_FAIL_AT can make fail; each has a wrapper that asks
 * cns_fail_now() with this name.  Add a name here with its wrapper. */
static const char *const fail_calls[] = {
	"pthread_create",
};
#define NCALLS (sizeof(fail_calls) / sizeof(fail_calls[0]))

struct point {
	char name[64];
	long hits;
	long kill_at;  /* 0: never */
	long pause_at; /* 0: never */
};

static struct point points[MAX_POINTS];
static int npoints;
static long calls[NCALLS];   /* guarded by mu */
static long fail_at[NCALLS]; /* 0: never; written once by init */
static bool report;
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

static int call_index(const char *name)
{
	for (size_t i = 0; i < NCALLS; i++)
		if (strcmp(fail_calls[i], name) == 0)
			return (int)i;
	return -1;
}

enum what { KILL, PAUSE, FAIL };

static void parse(const char *spec, enum what what)
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
		int c;

		if (colon) {
			*colon = '\0';
			n = atol(colon + 1);
		}
		if (what == FAIL) {
			/* A misspelt call would fail nothing and let a
			 * sweep pass for the wrong reason. */
			if ((c = call_index(tok)) < 0)
				fprintf(stderr,
					"testhook: CNS_FAIL_AT names an "
					"unknown call \"%s\"\n",
					tok);
			else
				fail_at[c] = n;
			continue;
		}
		p = find(tok, 1);
		if (!p)
			continue;
		if (what == KILL)
			p->kill_at = n;
		else
			p->pause_at = n;
	}
}

static void print_report(void)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < NCALLS; i++)
		fprintf(stderr, "testhook: calls %s %ld\n", fail_calls[i],
			calls[i]);
	pthread_mutex_unlock(&mu);
}

static void init(void)
{
	const char *s = getenv("CNS_PAUSE_SECONDS");

	parse(getenv("CNS_KILL_AT"), KILL);
	parse(getenv("CNS_PAUSE_AT"), PAUSE);
	parse(getenv("CNS_FAIL_AT"), FAIL);
	if (s)
		pause_seconds = atoi(s);
	s = getenv("CNS_FAIL_REPORT");
	report = s && *s && strcmp(s, "0") != 0;
	if (report)
		atexit(print_report);
}

bool cns_fail_now(const char *call)
{
	int c;
	bool fail;

	pthread_once(&once, init);
	c = call_index(call);
	if (c < 0)
		return false;
	pthread_mutex_lock(&mu);
	fail = ++calls[c] == fail_at[c];
	pthread_mutex_unlock(&mu);
	if (fail)
		fprintf(stderr, "testhook: failing call %ld of %s\n",
			(long)fail_at[c], call);
	return fail;
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
#endif
