/*
 * guard.c - the overlap locks (flock + PostgreSQL advisory lock) and the
 * watchdog's arithmetic.
 */
#include "consolidate/guard.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "consolidate/pg.h"
#include "consolidate/testhook.h"

#define LOCK_POLL_MS 200
/* How long a refused run waits for the holder's details to appear. */
#define HOLDER_WAIT_MS 2000

static bool dir_usable(const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return false;
	return access(dir, W_OK | X_OK) == 0;
}

int cns_lock_dir(const struct cns_job_conf *job, char *buf, size_t size,
		 struct cns_error *err)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (job->lock_dir) {
		if (!dir_usable(job->lock_dir))
			return cns_error_set(
				err, CNS_E_IO,
				"could not use lock_dir \"%s\": %s",
				job->lock_dir, strerror(errno));
		snprintf(buf, size, "%s", job->lock_dir);
		return 0;
	}
	if (dir_usable("/run/lock/consolidate")) {
		snprintf(buf, size, "/run/lock/consolidate");
		return 0;
	}
	if (xdg && *xdg) {
		snprintf(buf, size, "%s/consolidate", xdg);
		if (dir_usable(buf))
			return 0;
	}
	snprintf(buf, size, "/tmp/consolidate-%ld", (long)getuid());
	if (dir_usable(buf))
		return 0;
	return cns_error_set(err, CNS_E_IO,
			     "could not find a folder for lock files");
}

static int lock_path(const struct cns_job_conf *job, char *buf, size_t size,
		     struct cns_error *err)
{
	char dir[4000];

	if (cns_lock_dir(job, dir, sizeof(dir), err) < 0)
		return -1;
	snprintf(buf, size, "%s/%s.lock", dir, job->name);
	return 0;
}

static void parse_holder(const char *text, struct cns_lock_holder *h)
{
	const char *p;
	long long v;

	memset(h, 0, sizeof(*h));
	if ((p = strstr(text, "pid=")) != NULL)
		h->pid = strtol(p + 4, NULL, 10);
	if ((p = strstr(text, "host=")) != NULL)
		sscanf(p + 5, "%255s", h->host);
	if ((p = strstr(text, "run_id=")) != NULL)
		sscanf(p + 7, "%63s", h->run_id);
	if ((p = strstr(text, "started_us=")) != NULL &&
	    sscanf(p + 11, "%lld", &v) == 1)
		h->started_us = v;
}

static void read_holder_fd(int fd, struct cns_lock_holder *h)
{
	char text[1024];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	text[n > 0 ? n : 0] = '\0';
	parse_holder(text, h);
}

/* "run 20261122T0315Z-ab12, pid 4242 on host db1, started
 * 2026-11-22 03:15:00 UTC, running for 12m3s" */
static void describe_holder(const struct cns_lock_holder *h, char *buf,
			    size_t size)
{
	char started[64] = "an unknown time", took[32] = "?";
	time_t t = (time_t)(h->started_us / 1000000);
	struct tm tm;

	if (h->started_us > 0 && gmtime_r(&t, &tm)) {
		strftime(started, sizeof(started), "%Y-%m-%d %H:%M:%S UTC",
			 &tm);
		cns_format_duration((cns_wall_us() - h->started_us) / 1000 /
					    1000 * 1000,
				    took, sizeof(took));
	}
	snprintf(buf, size,
		 "run %s, pid %ld on host %s, started %s, running for %s",
		 h->run_id[0] ? h->run_id : "?", h->pid,
		 h->host[0] ? h->host : "?", started, took);
}

/* A signal arrived while waiting for a lock: the wait ends now, not at
 * --wait's end. */
static bool stopped(const struct cns_lock *l, struct cns_error *err)
{
	if (!l->stop || !atomic_load(l->stop))
		return false;
	cns_error_set(err, CNS_E_CANCELLED,
		      "stopped by a signal while waiting for the job's lock");
	return true;
}

static int take_local(struct cns_lock *l, const struct cns_job_conf *job,
		      const char *run_id, int64_t wait_ms,
		      struct cns_error *err)
{
	int64_t deadline = cns_now_ms() + wait_ms;
	char host[256] = "";
	char text[1024];
	int n;

	if (lock_path(job, l->path, sizeof(l->path), err) < 0)
		return -1;
	l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (l->fd < 0)
		return cns_error_set(err, CNS_E_IO,
				     "could not open lock file \"%s\": %s",
				     l->path, strerror(errno));
	while (flock(l->fd, LOCK_EX | LOCK_NB) < 0) {
		struct cns_lock_holder h;
		char who[512];

		if (errno != EWOULDBLOCK && errno != EINTR)
			return cns_error_set(err, CNS_E_IO,
					     "could not lock \"%s\": %s",
					     l->path, strerror(errno));
		if (stopped(l, err)) {
			close(l->fd);
			l->fd = -1;
			return -1;
		}
		if (cns_now_ms() < deadline) {
			struct timespec ts = { 0, LOCK_POLL_MS * 1000000L };

			nanosleep(&ts, NULL);
			continue;
		}
		read_holder_fd(l->fd, &h);
		/* The holder writes its details just after taking the lock:
		 * an empty file means it is between the two (or releasing).
		 * Asking again until the details are there makes taking the
		 * lock and naming the holder one step for the reader. */
		if (!h.run_id[0] && cns_now_ms() < deadline + HOLDER_WAIT_MS) {
			struct timespec ts = { 0, 20 * 1000000L };

			nanosleep(&ts, NULL);
			continue;
		}
		describe_holder(&h, who, sizeof(who));
		close(l->fd);
		l->fd = -1;
		cns_error_set(err, CNS_E_LOCKED,
			      "job \"%s\" is already running: %s", job->name,
			      who);
		return -1;
	}
	CNS_HOOK("lock.taken");
	gethostname(host, sizeof(host) - 1);
	n = snprintf(text, sizeof(text),
		     "pid=%ld\nhost=%s\nrun_id=%s\nstarted_us=%lld\n",
		     (long)getpid(), host, run_id, (long long)cns_wall_us());
	/* One write of the whole text, then the length: a reader never
	 * sees half of it. */
	errno = 0;
	if (cns_fail_now("write") || pwrite(l->fd, text, (size_t)n, 0) != n ||
	    ftruncate(l->fd, n) < 0)
		return cns_error_set(err, CNS_E_IO,
				     "could not write lock file \"%s\": %s",
				     l->path, strerror(errno ? errno : ENOSPC));
	return 0;
}

int64_t cns_lock_key(const char *job_name)
{
	uint64_t h = 1469598103934665603ULL;
	const char *prefix = "consolidate:";

	for (const char *p = prefix; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (const char *p = job_name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (int64_t)h;
}

/* Who holds the advisory lock, from pg_locks and pg_stat_activity: the
 * holder's application_name says "consolidate <run id> <host> <pid>". */
static void advisory_holder(PGconn *conn, int64_t key, char *buf, size_t size)
{
	char q[512];
	PGresult *res;

	snprintf(q, sizeof(q),
		 "SELECT a.application_name, a.client_addr, a.backend_start "
		 "FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
		 "WHERE l.locktype = 'advisory' AND l.granted "
		 "AND ((l.classid::bigint << 32) | l.objid::bigint) = "
		 "%lld::bigint",
		 (long long)key);
	res = cns_pq_exec(conn, q);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
		snprintf(buf, size, "%s (from %s, connected since %s)",
			 PQgetvalue(res, 0, 0),
			 PQgetisnull(res, 0, 1) ? "local socket"
						: PQgetvalue(res, 0, 1),
			 PQgetvalue(res, 0, 2));
	else
		snprintf(buf, size, "another session");
	PQclear(res);
}

/* Opens the lock session, named so that other runs can tell who holds
 * the lock; l->app is kept, so a session opened again has the same
 * name. */
static PGconn *open_lock_session(struct cns_lock *l,
				 const struct cns_job_conf *job,
				 struct cns_error *err)
{
	char q[256];
	PGconn *conn;

	conn = cns_pg_connect(job->target.conninfo, "the target", err);
	if (!conn)
		return NULL;
	snprintf(q, sizeof(q), "SET application_name = '%s'", l->app);
	/* Before the lock, so that the lock and its holder's name come
	 * together; a run that cannot name itself does not take it. */
	if (cns_pg_exec_ok(conn, q, "the target", err) < 0) {
		PQfinish(conn);
		return NULL;
	}
	/* The session idles for the whole run: a server-wide
	 * idle_session_timeout must not end it (and the lock).  Servers
	 * before 14 know no such setting and need none, so its failure is
	 * the one result here that is not an error. */
	if (PQserverVersion(conn) >= 140000 &&
	    cns_pg_exec_ok(conn, "SET idle_session_timeout = 0", "the target",
			   err) < 0) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* One attempt at the advisory lock: 1 taken, 0 held by another session,
 * -1 with err. */
static int try_advisory(PGconn *conn, int64_t key, struct cns_error *err)
{
	char q[128];
	PGresult *res;
	bool got;

	snprintf(q, sizeof(q), "SELECT pg_try_advisory_lock(%lld)",
		 (long long)key);
	res = cns_pg_exec(conn, q, PGRES_TUPLES_OK, "the target", err);
	if (!res)
		return -1;
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return got;
}

static int take_advisory(struct cns_lock *l, const struct cns_job_conf *job,
			 const char *run_id, int64_t wait_ms,
			 struct cns_error *err)
{
	int64_t key = cns_lock_key(job->name);
	int64_t deadline = cns_now_ms() + wait_ms;
	char host[200] = "";
	PGconn *conn;

	gethostname(host, sizeof(host) - 1);
	/* application_name is how other runs learn who holds the lock. */
	snprintf(l->app, sizeof(l->app), "consolidate %s %.20s %ld", run_id,
		 host, (long)getpid());
	conn = open_lock_session(l, job, err);
	if (!conn)
		return -1;
	/* Its statements never block (pg_try_advisory_lock), and a run's
	 * cancel must not reach the session that holds its lock. */
	cns_pg_keep(conn);
	l->pg = conn;
	for (;;) {
		int got = try_advisory(conn, key, err);

		if (got < 0)
			return -1;
		if (got)
			return 0;
		if (stopped(l, err))
			return -1;
		if (cns_now_ms() >= deadline)
			break;
		struct timespec ts = { 0, LOCK_POLL_MS * 1000000L };

		nanosleep(&ts, NULL);
	}
	char who[512];

	advisory_holder(conn, key, who, sizeof(who));
	cns_error_set(err, CNS_E_LOCKED,
		      "job \"%s\" is already running against the target: "
		      "held by %s",
		      job->name, who);
	cns_error_detail(err, "advisory lock %lld on the target database",
			 (long long)key);
	return -1;
}

/* True when conn is alive and holds the advisory lock `key`. */
static bool holds_advisory(PGconn *conn, int64_t key)
{
	char q[512];
	PGresult *res;
	bool held;

	/* A session the server ended has an answer waiting (or EOF): read
	 * it, so that libpq knows before the query is sent. */
	if (PQstatus(conn) != CONNECTION_OK || !PQconsumeInput(conn) ||
	    PQstatus(conn) != CONNECTION_OK)
		return false;
	snprintf(q, sizeof(q),
		 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
		 "AND granted AND pid = pg_backend_pid() "
		 "AND ((classid::bigint << 32) | objid::bigint) = %lld::bigint",
		 (long long)key);
	res = PQexec(conn, q);
	held = PQresultStatus(res) == PGRES_TUPLES_OK &&
	       strcmp(PQgetvalue(res, 0, 0), "1") == 0;
	PQclear(res);
	return held;
}

int cns_lock_ensure(struct cns_lock *l, const struct cns_job_conf *job,
		    bool *retaken, struct cns_error *err)
{
	int64_t key = cns_lock_key(job->name);
	char who[512];
	int got;

	*retaken = false;
	if (!l->app[0])
		return 0; /* no advisory lock for this job */
	if (l->pg && holds_advisory(l->pg, key))
		return 0;
	if (l->pg)
		PQfinish(l->pg);
	l->pg = open_lock_session(l, job, err);
	if (!l->pg)
		return -1; /* CNS_E_TRANSIENT: asked again at the next try */
	got = try_advisory(l->pg, key, err);
	if (got < 0)
		return -1;
	if (got) {
		*retaken = true;
		return 0;
	}
	advisory_holder(l->pg, key, who, sizeof(who));
	cns_error_set(err, CNS_E_TARGET,
		      "job \"%s\" lost its advisory lock on the target (the "
		      "session holding it ended) and another run holds it "
		      "now: %s",
		      job->name, who);
	cns_error_hint(err, "this run stopped before its next commit; the "
			    "chunks it committed stay, and the other run "
			    "carries on from them");
	return -1;
}

void cns_lock_check_sql(const struct cns_lock *l,
			const struct cns_job_conf *job, struct cns_buf *q)
{
	if (!l->app[0])
		return;
	/* application_name, not the pid: a session opened again by
	 * cns_lock_ensure() keeps the name.  The functions behind the views
	 * pg_locks and pg_stat_activity, not the views: the same rows, but
	 * the view's joins to pg_database and pg_authid cost the server
	 * about 1.3 ms of planning and execution in every chunk's
	 * transaction, this 0.2 ms. */
	cns_buf_printf(q,
		       "SELECT consolidate.fail_unless(EXISTS (SELECT 1 FROM "
		       "pg_catalog.pg_lock_status() l JOIN "
		       "pg_catalog.pg_stat_get_activity(NULL) a USING (pid) "
		       "WHERE l.locktype = 'advisory' AND l.granted "
		       "AND ((l.classid::bigint << 32) | l.objid::bigint) = "
		       "%lld::bigint AND a.application_name = ",
		       (long long)cns_lock_key(job->name));
	cns_pg_quote_literal(q, l->app);
	cns_buf_adds(q, "), '55P03', ");
	{
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "the run no longer holds the advisory lock of job "
			 "\"%s\" (its session ended)",
			 job->name);
		cns_pg_quote_literal(q, msg);
	}
	cns_buf_adds(q, ");");
}

int cns_lock_acquire_local(struct cns_lock *l, const struct cns_job_conf *job,
			   const char *run_id, int64_t wait_ms,
			   struct cns_error *err)
{
	l->fd = -1;
	l->pg = NULL;
	l->path[0] = '\0';
	l->app[0] = '\0';
	if (job->lock != CNS_LOCK_TARGET &&
	    take_local(l, job, run_id, wait_ms, err) < 0) {
		cns_lock_release(l);
		return -1;
	}
	return 0;
}

int cns_lock_acquire_target(struct cns_lock *l, const struct cns_job_conf *job,
			    const char *run_id, int64_t wait_ms,
			    struct cns_error *err)
{
	if (job->lock == CNS_LOCK_LOCAL)
		return 0;
	if (take_advisory(l, job, run_id, wait_ms > 0 ? wait_ms : 0, err) < 0) {
		l->app[0] = '\0';
		if (l->pg) {
			PQfinish(l->pg);
			l->pg = NULL;
		}
		return -1;
	}
	return 0;
}

int cns_lock_acquire(struct cns_lock *l, const struct cns_job_conf *job,
		     const char *run_id, int64_t wait_ms, struct cns_error *err)
{
	int64_t start = cns_now_ms();

	if (cns_lock_acquire_local(l, job, run_id, wait_ms, err) < 0)
		return -1;
	if (cns_lock_acquire_target(l, job, run_id,
				    wait_ms - (cns_now_ms() - start),
				    err) < 0) {
		cns_lock_release(l);
		return -1;
	}
	return 0;
}

void cns_lock_release(struct cns_lock *l)
{
	if (l->pg) {
		PQfinish(l->pg);
		l->pg = NULL;
	}
	if (l->fd >= 0) {
		/* Emptied before unlocking, so nobody reads a stale holder;
		 * the file itself stays, as unlinking a lock file races with
		 * a run that just opened it. */
		if (ftruncate(l->fd, 0) < 0) {
			/* nothing more to do: the lock goes with close */
		}
		close(l->fd);
		l->fd = -1;
	}
}

int cns_lock_holder(const struct cns_job_conf *job, struct cns_lock_holder *h,
		    struct cns_error *err)
{
	char path[4096];
	int fd, held;

	if (lock_path(job, path, sizeof(path), err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT
			       ? 0
			       : cns_error_set(err, CNS_E_IO,
					       "could not open \"%s\": %s",
					       path, strerror(errno));
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	if (held)
		read_holder_fd(fd, h);
	else
		flock(fd, LOCK_UN);
	close(fd);
	return held;
}

enum cns_watchdog cns_watchdog_check(const struct cns_job_conf *job,
				     int64_t start_ms, int64_t progress_ms,
				     int64_t now_ms)
{
	if (job->max_runtime_ms > 0 && now_ms - start_ms >= job->max_runtime_ms)
		return CNS_WD_RUNTIME;
	if (job->stall_timeout_ms > 0 &&
	    now_ms - progress_ms >= job->stall_timeout_ms)
		return CNS_WD_STALL;
	return CNS_WD_OK;
}
