/*
 * guard.h - what keeps runs of one job from overlapping, and runaway runs
 * from running forever.
 *
 * Local lock: a non-blocking flock(2) on <lock_dir>/<job>.lock.  The lock
 * belongs to the open file, so it dies with the process: a crash or SIGKILL
 * can never leave a stale lock.  The file's content (pid, host, run id,
 * start) is only there to say who holds it.
 *
 * Cluster lock: a PostgreSQL session advisory lock on the target, keyed by
 * a stable hash of the job name, held on a connection of its own for the
 * whole run; it too ends with the connection, so with the process.
 *
 * Watchdog: pure arithmetic over the run's progress, called by the CLI's
 * supervision loop, which does the cancelling.
 */
#ifndef CONSOLIDATE_GUARD_H
#define CONSOLIDATE_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <stdatomic.h>

#include "consolidate/config.h"
#include "consolidate/error.h"

struct cns_lock_holder {
	long pid;
	char host[256];
	char run_id[64];
	int64_t started_us; /* wall clock, microseconds since the epoch */
};

struct cns_lock {
	int fd; /* -1 when not held */
	char path[4096];
	void *pg;     /* PGconn of the advisory lock, or NULL */
	char app[64]; /* its application_name; "" when no advisory
				lock was taken */
	/* Set by the caller before taking the locks: when it becomes
	 * non-zero (a signal), a wait for a lock ends with CNS_E_CANCELLED
	 * at once.  NULL: nothing ends the wait but wait_ms. */
	const atomic_int *stop;
};

/* The folder for lock files: lock_dir when set; else /run/lock/consolidate
 * when it can be created and written; else $XDG_RUNTIME_DIR/consolidate;
 * else /tmp/consolidate-<uid>.  Writes it into buf. */
int cns_lock_dir(const struct cns_job_conf *job, char *buf, size_t size,
		 struct cns_error *err);

/* Takes the job's locks (job->lock: local, target or both).  When another
 * run holds one, waits up to wait_ms (0: not at all) and then fails with
 * CNS_E_LOCKED and a message naming the holder. */
int cns_lock_acquire(struct cns_lock *l, const struct cns_job_conf *job,
		     const char *run_id, int64_t wait_ms,
		     struct cns_error *err);
/* The two halves of cns_lock_acquire(), for a caller that wants to open
 * its run log between them (so that a target it cannot reach is logged):
 * the local lock (unless job->lock is target), then the advisory lock
 * (unless job->lock is local).  The target half releases nothing of the
 * local one on failure. */
int cns_lock_acquire_local(struct cns_lock *l, const struct cns_job_conf *job,
			   const char *run_id, int64_t wait_ms,
			   struct cns_error *err);
int cns_lock_acquire_target(struct cns_lock *l, const struct cns_job_conf *job,
			    const char *run_id, int64_t wait_ms,
			    struct cns_error *err);

/* The session that holds the advisory lock can end while the run goes
 * on (terminated, the server restarted, idle_session_timeout), and the
 * lock with it.  cns_lock_ensure() checks that the session still holds
 * the lock; when it does not, it opens a new session and takes the lock
 * again, setting *retaken.  Returns -1 with err when the target cannot be
 * reached (CNS_E_TRANSIENT) or another run holds the lock now
 * (CNS_E_TARGET: the run must stop).  Not thread-safe: callers
 * serialize. */
int cns_lock_ensure(struct cns_lock *l, const struct cns_job_conf *job,
		    bool *retaken, struct cns_error *err);
/* Appends to q a statement (ending in ';') for a chunk's transaction that
 * fails with SQLSTATE 55P03 (lock_not_available) unless this run's lock
 * session holds the advisory lock at that moment: a run that lost its
 * lock cannot commit.  Appends nothing without an advisory lock. */
void cns_lock_check_sql(const struct cns_lock *l,
			const struct cns_job_conf *job, struct cns_buf *q);

/* Releases both locks; safe to call when nothing is held. */
void cns_lock_release(struct cns_lock *l);

/* Reads who holds the job's local lock.  Returns 1 and fills *h when it is
 * held, 0 when it is free, -1 on error. */
int cns_lock_holder(const struct cns_job_conf *job, struct cns_lock_holder *h,
		    struct cns_error *err);

/* The advisory lock key of a job: a stable 64-bit FNV-1a hash of
 * "consolidate:" + name, the same on every host and release. */
int64_t cns_lock_key(const char *job_name);

/* Watchdog verdicts. */
enum cns_watchdog {
	CNS_WD_OK,
	CNS_WD_RUNTIME, /* max_runtime passed */
	CNS_WD_STALL    /* no progress for stall_timeout */
};

/* Judges a run that started at start_ms and last made progress at
 * progress_ms (monotonic milliseconds). */
enum cns_watchdog cns_watchdog_check(const struct cns_job_conf *job,
				     int64_t start_ms, int64_t progress_ms,
				     int64_t now_ms);

#endif
