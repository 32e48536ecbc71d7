/*
 * daemon.c - the long-running scheduler behind `consolidate schedule`.
 *
 * It loads every job file, works out each job's next fire time with
 * cns_cron_next() (so DST is handled by the arithmetic, in UTC instants,
 * not by watching the clock), and at each fire starts `consolidate run
 * JOBFILE` as a child through /proc/self/exe, so every run takes the lock,
 * the watchdog and the run log like any other run.
 *
 * Testing aid: when $CNS_SCHEDULE_COMMAND is set, `consolidate schedule`
 * runs that shell command through /bin/sh -c, with the job file path as
 * its argument ("$1", appended to the command), instead of `consolidate
 * run`, so tests can schedule cheap commands without a database.
 *
 * The loop, like cronie's: signal handlers only set flags; the loop
 * blocks the signals and waits in ppoll() with them unblocked, so a signal
 * wakes it at once and is acted on outside the handler.  The wait is a
 * monotonic timeout recomputed on every pass from the wall clock (the
 * schedule is wall-clock time) and never longer than MAX_SLEEP_MS, so a
 * change of the wall clock (or a resume) is noticed within a second.  Each
 * pass compares how far the wall clock and the monotonic clock moved and
 * names the kind of change:
 *   late wake-up   a fire is due but the pass comes late (a busy machine,
 *                  a stopped process): fires up to LATE_TOLERANCE_S late
 *                  still run, once, however many times they fell due;
 *   DST            not a clock change at all here: fire times are UTC
 *                  instants computed with cronie's DST rules;
 *   jump forward   a suspend or a clock set forward: fires older than the
 *                  tolerance are missed and follow `catchup` (none: logged
 *                  and skipped; once: one run for all of them);
 *   jump back      up to LARGE_JUMP_S: fire times already handled are not
 *                  handled again (each job waits for its next fire);
 *                  beyond that the old clock was wrong, and schedules
 *                  restart from the new time, as cronie does.
 * A job is never fired twice for one scheduled time: each job keeps the
 * last scheduled time it handled and only ever looks after it.
 *
 * That mark is also written to a state file next to the lock, so that
 * after the scheduler or the machine was down, the fires missed meanwhile
 * follow `catchup` as well.
 */
#include "consolidate/schedule.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "consolidate/civil.h"

extern char **environ;

#define LATE_TOLERANCE_S 300    /* cronie runs late wake-ups up to 5 min */
#define CLOCK_STEP_MS 5000      /* drift that counts as a clock change */
#define LARGE_JUMP_S (3 * 3600) /* cronie: beyond 3 hours, a clock reset */
#define MAX_SLEEP_MS 1000       /* wake this often to see clock changes */
#define COUNT_MAX 1000          /* missed fires counted one by one */

#define LOCK_NAME ".consolidate-schedule.lock"
#define STATE_NAME ".consolidate-schedule.state"

struct folder {
	char *dir;  /* holds the lock and the state file */
	char *real; /* realpath of dir, to match job files to it */
	int lock_fd;
	bool dirty; /* state changed since written */
	bool state_error_logged;
};

struct job {
	char *file;  /* absolute path */
	char *label; /* job name once loaded, else the file */
	int folder;
	bool has_def;
	struct cns_sched_def def;
	bool removed; /* file gone: kept only until its run ends */
	bool seen;    /* found by the last scan */

	int64_t next;         /* next scheduled time (UTC s), INT64_MAX: none */
	int64_t done_through; /* scheduled times up to this one are handled */

	pid_t pid;            /* running child, 0 when none */
	int64_t started_mono; /* ms, for the run's duration */
	int64_t started_wall; /* ms, for messages */
	bool queued;          /* overlap = queue: run when the child ends */
	int64_t queued_sched;

	long fired, skipped, queued_count, missed, caught_up;
};

struct saved {
	char *file;
	int64_t t;
};

struct sched {
	const struct cns_scheduler_opts *opts;
	struct job **jobs;
	int njobs, capjobs;
	struct folder *folders;
	int nfolders;
	struct saved *saved; /* state read at start */
	int nsaved;
	int log_fd;
	int64_t prev_wall, prev_mono;
	bool stopping;
};

static volatile sig_atomic_t got_hup, got_term, got_chld;

static void on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void on_chld(int sig)
{
	(void)sig;
	got_chld = 1;
}

#ifdef CNS_TEST_HOOKS
/* Test builds: $CNS_TEST_CLOCK_FILE holds a number of seconds added to
 * the wall clock, read on every look at the clock, so that tests can move
 * the scheduler's clock forward and back while the monotonic clock goes
 * on. */
static int64_t test_clock_offset_ms(void)
{
	const char *path = getenv("CNS_TEST_CLOCK_FILE");
	FILE *f;
	double secs = 0;

	if (!path || !(f = fopen(path, "re")))
		return 0;
	if (fscanf(f, "%lf", &secs) != 1)
		secs = 0;
	fclose(f);
	return (int64_t)(secs * 1000);
}
#endif

static int64_t wall_ms(void)
{
	int64_t ms = cns_wall_us() / 1000;

#ifdef CNS_TEST_HOOKS
	ms += test_clock_offset_ms();
#endif
	return ms;
}

/* ---- log ---- */

/* One line per decision: "<UTC time> [job NAME: ]message", written with a
 * single write() so that lines from children do not cut into it. */
static void slog(struct sched *s, const struct job *j, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void slog(struct sched *s, const struct job *j, const char *fmt, ...)
{
	char ts[40], line[2048];
	int n;
	va_list ap;

	cns_time_format_ms(wall_ms(), ts, sizeof(ts));
	n = j ? snprintf(line, sizeof(line), "%s job %s: ", ts, j->label)
	      : snprintf(line, sizeof(line), "%s ", ts);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nothing sensible to do: stderr is gone */
	}
	if (s->log_fd >= 0 && write(s->log_fd, line, (size_t)n) < 0) {
		/* the same */
	}
}

/* An error on one line, for the log: "message; DETAIL: ...; HINT: ...". */
static const char *err_line(const struct cns_error *err, char *buf, size_t size)
{
	char tmp[4096];
	size_t n = 0;

	cns_error_format(err, tmp, sizeof(tmp));
	for (const char *p = tmp; *p && n + 3 < size; p++) {
		if (*p == '\n') {
			buf[n++] = ';';
			buf[n++] = ' ';
		} else {
			buf[n++] = *p;
		}
	}
	buf[n] = '\0';
	return buf;
}

static const char *when(const struct job *j, int64_t t, char *buf, size_t size)
{
	if (t == INT64_MAX)
		return "never";
	return cns_time_format(t, j->has_def ? j->def.tz : NULL, buf, size);
}

static const char *dur(int64_t ms, char *buf, size_t size)
{
	if (ms < 0)
		ms = -ms;
	/* The two clocks are read a few ms apart: round to the second. */
	if (ms >= 60000)
		ms = (ms + 500) / 1000 * 1000;
	if (ms < 60000)
		snprintf(buf, size, "%.1fs", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(buf, size, "%lldm%02llds", (long long)(ms / 60000),
			 (long long)(ms / 1000 % 60));
	else
		snprintf(buf, size, "%lldh%02lldm", (long long)(ms / 3600000),
			 (long long)(ms / 60000 % 60));
	return buf;
}

/* ---- folders: lock and state ---- */

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = cns_xmalloc(n);

	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static char *dir_of(const char *file)
{
	const char *slash = strrchr(file, '/');
	size_t n;
	char *d;

	if (!slash)
		return cns_xstrdup(".");
	if (slash == file)
		return cns_xstrdup("/");
	n = (size_t)(slash - file);
	d = cns_xmalloc(n + 1);
	memcpy(d, file, n);
	d[n] = '\0';
	return d;
}

static int add_folder(struct sched *s, const char *dir, struct cns_error *err)
{
	char real[PATH_MAX];
	struct folder *f;

	if (!realpath(dir, real))
		return cns_error_set(err, CNS_E_IO, "could not open \"%s\": %s",
				     dir, strerror(errno));
	for (int i = 0; i < s->nfolders; i++)
		if (strcmp(s->folders[i].real, real) == 0)
			return 0;
	s->folders = cns_xrealloc(s->folders, (size_t)(s->nfolders + 1) *
						      sizeof(*s->folders));
	f = &s->folders[s->nfolders++];
	memset(f, 0, sizeof(*f));
	f->dir = cns_xstrdup(dir);
	f->real = cns_xstrdup(real);
	f->lock_fd = -1;
	return 0;
}

static int lock_folder(struct folder *f, struct cns_error *err)
{
	char *path = path_join(f->dir, LOCK_NAME);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	char buf[32];

	if (fd < 0) {
		cns_error_set(err, CNS_E_IO,
			      "could not create the scheduler's lock file "
			      "\"%s\": %s",
			      path, strerror(errno));
		cns_error_hint(err, "give a folder the scheduler may write "
				    "to with --state-dir");
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = errno == EWOULDBLOCK
				    ? pread(fd, buf, sizeof(buf) - 1, 0)
				    : -1;
		long pid = 0;

		if (n > 0) {
			buf[n] = '\0';
			pid = strtol(buf, NULL, 10);
		}
		close(fd);
		if (n >= 0 || errno == EWOULDBLOCK) {
			cns_error_set(err, CNS_E_LOCKED,
				      "the scheduler is already running for "
				      "\"%s\" (pid %ld)",
				      f->dir, pid);
			cns_error_detail(err, "lock file: %s", path);
		} else {
			cns_error_set(err, CNS_E_IO,
				      "could not lock \"%s\": %s", path,
				      strerror(errno));
		}
		free(path);
		return -1;
	}
	free(path);
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 ||
	    pwrite(fd, buf, strlen(buf), 0) != (ssize_t)strlen(buf)) {
		/* The lock holds; only the pid in messages is lost. */
	}
	f->lock_fd = fd;
	return 0;
}

static void read_state(struct sched *s, const struct folder *f)
{
	char *path = path_join(f->dir, STATE_NAME);
	FILE *fp = fopen(path, "re");
	char line[PATH_MAX + 64];

	free(path);
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		char *tab = strchr(line, '\t'), *end;
		long long t;

		if (!tab)
			continue;
		line[strcspn(line, "\n")] = '\0';
		t = strtoll(line, &end, 10);
		if (end != tab || !tab[1])
			continue;
		s->saved = cns_xrealloc(s->saved, (size_t)(s->nsaved + 1) *
							  sizeof(*s->saved));
		s->saved[s->nsaved].file = cns_xstrdup(tab + 1);
		s->saved[s->nsaved++].t = t;
	}
	fclose(fp);
}

static void write_state(struct sched *s, struct folder *f)
{
	char *path = path_join(f->dir, STATE_NAME);
	char *tmp = path_join(f->dir, STATE_NAME ".tmp");
	FILE *fp = fopen(tmp, "we");
	bool ok = fp != NULL;
	int fi = (int)(f - s->folders);

	if (fp) {
		fputs("# consolidate schedule: last scheduled time handled "
		      "per job (UTC seconds)\n",
		      fp);
		for (int i = 0; i < s->njobs; i++) {
			const struct job *j = s->jobs[i];

			if (j->folder == fi && j->has_def && j->def.schedule)
				fprintf(fp, "%lld\t%s\n",
					(long long)j->done_through, j->file);
		}
		ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
		ok = fclose(fp) == 0 && ok;
	}
	if (ok && rename(tmp, path) == 0) {
		f->dirty = false;
		f->state_error_logged = false;
	} else {
		if (!f->state_error_logged)
			slog(s, NULL,
			     "could not write the state file \"%s\": "
			     "%s",
			     path, strerror(errno));
		f->state_error_logged = true;
		unlink(tmp);
	}
	free(path);
	free(tmp);
}

static int folder_of(struct sched *s, const char *file)
{
	char real[PATH_MAX];
	char *dir;

	if (s->opts->state_dir)
		return 0;
	dir = dir_of(file);
	if (realpath(dir, real))
		for (int i = 0; i < s->nfolders; i++)
			if (strcmp(s->folders[i].real, real) == 0) {
				free(dir);
				return i;
			}
	free(dir);
	return 0;
}

/* ---- jobs ---- */

static int64_t now_for(const struct job *j, int64_t wall)
{
	return floor_div(wall - j->def.jitter_offset_ms, 1000);
}

static int64_t due_ms(const struct job *j)
{
	if (j->next == INT64_MAX)
		return INT64_MAX;
	return j->next * 1000 + j->def.jitter_offset_ms;
}

static bool schedulable(const struct job *j)
{
	return j->has_def && !j->removed && j->def.schedule;
}

/* Next scheduled time after t, or INT64_MAX (logged) when none. */
static int64_t next_after(struct sched *s, struct job *j, int64_t t)
{
	struct cns_error err = { 0 };
	int64_t n;
	char buf[2048];

	if (cns_cron_next(&j->def.cron, j->def.tz, t, &n, &err) < 0) {
		slog(s, j, "not scheduled: %s",
		     err_line(&err, buf, sizeof(buf)));
		return INT64_MAX;
	}
	return n;
}

static void log_next(struct sched *s, struct job *j, const char *what)
{
	char a[40];

	if (!j->def.schedule) {
		slog(s, j, "%s: no schedule, not scheduled", what);
		return;
	}
	if (j->def.jitter_offset_ms)
		slog(s, j,
		     "%s: schedule \"%s\" in %s, next fire %s (+%lldms "
		     "jitter)",
		     what, j->def.cron.text, cns_tz_name(j->def.tz),
		     when(j, j->next, a, sizeof(a)),
		     (long long)j->def.jitter_offset_ms);
	else
		slog(s, j, "%s: schedule \"%s\" in %s, next fire %s", what,
		     j->def.cron.text, cns_tz_name(j->def.tz),
		     when(j, j->next, a, sizeof(a)));
}

static struct job *find_job(struct sched *s, const char *file)
{
	for (int i = 0; i < s->njobs; i++)
		if (strcmp(s->jobs[i]->file, file) == 0)
			return s->jobs[i];
	return NULL;
}

static void set_label(struct job *j)
{
	free(j->label);
	j->label = cns_xstrdup(j->has_def ? j->def.name : j->file);
}

static struct job *add_job(struct sched *s, const char *file)
{
	struct job *j = cns_xcalloc(1, sizeof(*j));

	j->file = cns_xstrdup(file);
	j->folder = folder_of(s, file);
	j->next = INT64_MAX;
	set_label(j);
	if (s->njobs == s->capjobs) {
		s->capjobs = s->capjobs ? s->capjobs * 2 : 16;
		s->jobs = cns_xrealloc(s->jobs,
				       (size_t)s->capjobs * sizeof(*s->jobs));
	}
	s->jobs[s->njobs++] = j;
	return j;
}

static void free_job(struct job *j)
{
	if (j->has_def)
		cns_sched_def_release(&j->def);
	free(j->file);
	free(j->label);
	free(j);
}

static void drop_job(struct sched *s, struct job *j)
{
	for (int i = 0; i < s->njobs; i++)
		if (s->jobs[i] == j) {
			memmove(&s->jobs[i], &s->jobs[i + 1],
				(size_t)(s->njobs - i - 1) * sizeof(*s->jobs));
			s->njobs--;
			break;
		}
	free_job(j);
}

/* Where a newly defined job starts: after its saved mark when the state
 * file has one (so fires missed while the scheduler was down count), else
 * now. */
static void start_job(struct sched *s, struct job *j, int64_t wall)
{
	int64_t now = now_for(j, wall);

	j->done_through = now;
	for (int i = 0; i < s->nsaved; i++)
		if (strcmp(s->saved[i].file, j->file) == 0) {
			/* A mark in the future means the clock was set
			 * back meanwhile; far in the future, it was wrong. */
			if (s->saved[i].t <= now + LARGE_JUMP_S)
				j->done_through = s->saved[i].t;
			break;
		}
	j->next = j->def.schedule ? next_after(s, j, j->done_through)
				  : INT64_MAX;
}

/* ---- running jobs ---- */

static void spawn_run(struct sched *s, struct job *j, int64_t sched,
		      const char *what)
{
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	sigset_t none, dflt;
	char *script = NULL;
	char *argv[6];
	const char *path;
	pid_t pid;
	int rc;
	char a[40], b[40];

	if (s->opts->command) {
		size_t n = strlen(s->opts->command) + 8;

		script = cns_xmalloc(n);
		snprintf(script, n, "%s \"$@\"", s->opts->command);
		path = "/bin/sh";
		argv[0] = (char *)"sh";
		argv[1] = (char *)"-c";
		argv[2] = script;
		argv[3] = (char *)"sh";
		argv[4] = j->file;
		argv[5] = NULL;
	} else {
		path = "/proc/self/exe";
		argv[0] = (char *)"consolidate";
		argv[1] = (char *)"run";
		argv[2] = j->file;
		argv[3] = NULL;
	}
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGHUP);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGCHLD);
	sigaddset(&dflt, SIGPIPE);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	/* Its own process group: a Ctrl-C meant for the scheduler must not
	 * cut a run short, and a stop signals the whole run. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETPGROUP);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
					 O_RDONLY, 0);
	rc = posix_spawn(&pid, path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(script);
	if (rc != 0) {
		slog(s, j, "could not start the run (scheduled %s): %s",
		     when(j, sched, a, sizeof(a)), strerror(rc));
		return;
	}
	j->pid = pid;
	j->started_mono = cns_now_ms();
	j->started_wall = wall_ms();
	j->fired++;
	slog(s, j, "%s (scheduled %s): pid %ld, next fire %s", what,
	     when(j, sched, a, sizeof(a)), (long)pid,
	     when(j, j->next, b, sizeof(b)));
}

/* A fire is due: start a run, or apply `overlap` when one still runs. */
static void launch(struct sched *s, struct job *j, int64_t sched,
		   const char *what)
{
	char a[40], b[40];

	if (s->stopping)
		return;
	if (!j->pid) {
		spawn_run(s, j, sched, what);
		return;
	}
	cns_time_format_ms(j->started_wall, b, sizeof(b));
	switch (j->def.overlap) {
	case CNS_OVERLAP_SKIP:
		j->skipped++;
		slog(s, j,
		     "skipped (scheduled %s): the run started %s (pid "
		     "%ld) is still running; %ld skipped so far",
		     when(j, sched, a, sizeof(a)), b, (long)j->pid, j->skipped);
		return;
	case CNS_OVERLAP_QUEUE:
		if (j->queued) {
			slog(s, j,
			     "queued (scheduled %s): coalesced with the "
			     "run already waiting for pid %ld",
			     when(j, sched, a, sizeof(a)), (long)j->pid);
		} else {
			j->queued_count++;
			slog(s, j,
			     "queued (scheduled %s): waits for the run "
			     "started %s (pid %ld)",
			     when(j, sched, a, sizeof(a)), b, (long)j->pid);
		}
		j->queued = true;
		j->queued_sched = sched;
		return;
	}
}

/* Handles every scheduled time of j that is due at wall time `wall`. */
static void process_due(struct sched *s, struct job *j, int64_t wall)
{
	int64_t now, win, x, latest, n_due = 0, missed;
	bool on_time, capped = false;
	char a[40], b[40], w[80];

	if (!schedulable(j) || wall < due_ms(j))
		return;
	now = now_for(j, wall);
	win = now - LATE_TOLERANCE_S;
	/* Count the scheduled times in (done_through, now]; the last one
	 * decides whether this is a late wake-up or missed fires. */
	x = j->next;
	for (;;) {
		int64_t y;
		struct cns_error err = { 0 };

		if (cns_cron_next(&j->def.cron, j->def.tz, x, &y, &err) < 0 ||
		    y > now)
			break;
		if (++n_due >= COUNT_MAX) {
			capped = true;
			break;
		}
		x = y;
	}
	n_due++;
	latest = x;
	if (capped) {
		/* Too many to count: find the last one from the start of the
		 * tolerance window instead (at most one a second there). */
		int64_t z = x > win ? x : win, y;
		struct cns_error err = { 0 };

		while (cns_cron_next(&j->def.cron, j->def.tz, z, &y, &err) ==
			       0 &&
		       y <= now)
			z = y;
		if (z > win)
			latest = z;
		n_due = COUNT_MAX;
	}
	on_time = latest > win;
	missed = on_time && !capped ? n_due - 1 : n_due;
	j->done_through = now;
	j->next = next_after(s, j, now);
	s->folders[j->folder].dirty = true;

	snprintf(w, sizeof(w), "%s%lld", capped ? "more than " : "",
		 (long long)(capped ? COUNT_MAX : missed));
	if (on_time) {
		int64_t late = wall - (latest * 1000 + j->def.jitter_offset_ms);
		char what[160];

		if (missed > 0 && late >= 2000)
			snprintf(what, sizeof(what),
				 "fired %s late, %s earlier fires missed",
				 dur(late, a, sizeof(a)), w);
		else if (missed > 0)
			snprintf(what, sizeof(what),
				 "fired, %s earlier fires missed", w);
		else if (late >= 2000)
			snprintf(what, sizeof(what), "fired %s late",
				 dur(late, a, sizeof(a)));
		else
			snprintf(what, sizeof(what), "fired");
		j->missed += missed;
		launch(s, j, latest, what);
		return;
	}
	switch (j->def.catchup) {
	case CNS_CATCHUP_ONCE: {
		char what[160];

		j->caught_up++;
		snprintf(what, sizeof(what),
			 "caught up: one run for %s missed fires", w);
		launch(s, j, latest, what);
		return;
	}
	case CNS_CATCHUP_NONE:
		j->missed += missed;
		slog(s, j,
		     "missed %s fires, the last scheduled %s (catchup = "
		     "none); next fire %s",
		     w, when(j, latest, a, sizeof(a)),
		     when(j, j->next, b, sizeof(b)));
		return;
	}
}

static void reap(struct sched *s)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct job *j = NULL;
		char d[32];

		for (int i = 0; i < s->njobs; i++)
			if (s->jobs[i]->pid == pid)
				j = s->jobs[i];
		if (!j)
			continue;
		dur(cns_now_ms() - j->started_mono, d, sizeof(d));
		if (WIFEXITED(st))
			slog(s, j, "exited with code %d after %s (pid %ld)%s",
			     WEXITSTATUS(st), d, (long)pid,
			     WEXITSTATUS(st) == CNS_EXIT_LOCKED
				     ? ": another run held the job's lock"
				     : "");
		else if (WIFSIGNALED(st))
			slog(s, j,
			     "killed by signal %d (%s) after %s (pid %ld)",
			     WTERMSIG(st), strsignal(WTERMSIG(st)), d,
			     (long)pid);
		j->pid = 0;
		if (j->removed) {
			drop_job(s, j);
			continue;
		}
		if (j->queued && !s->stopping) {
			j->queued = false;
			spawn_run(s, j, j->queued_sched,
				  "fired the queued run");
		}
	}
}

static int running(const struct sched *s)
{
	int n = 0;

	for (int i = 0; i < s->njobs; i++)
		n += s->jobs[i]->pid != 0;
	return n;
}

/* ---- loading ---- */

/* Loads or reloads one job file.  A file that does not parse keeps the
 * previous definition; a changed schedule starts from where the old one
 * left off, so no scheduled time is handled twice. */
static void load_file(struct sched *s, const char *file, int64_t wall,
		      bool reload)
{
	struct job *j = find_job(s, file);
	struct cns_sched_def d;
	struct cns_error err = { 0 };
	char buf[2048];

	if (!j)
		j = add_job(s, file);
	j->seen = true;
	if (j->removed) {
		j->removed = false; /* back while its last run went on */
		j->queued = false;
	}
	if (cns_sched_def_load(file, &d, &err) < 0) {
		/* The label names the file already, unless a line does. */
		if (!err.line && strcmp(err.file, file) == 0)
			err.file[0] = '\0';
		err_line(&err, buf, sizeof(buf));
		if (j->has_def)
			slog(s, j,
			     "invalid, keeping the previous definition: "
			     "%s",
			     buf);
		else
			slog(s, j, "invalid, not scheduled: %s", buf);
		return;
	}
	if (!j->has_def) {
		j->def = d;
		j->has_def = true;
		set_label(j);
		start_job(s, j, wall);
		log_next(s, j, reload ? "added" : "loaded");
		return;
	}
	if (cns_sched_def_same(&j->def, &d)) {
		cns_sched_def_release(&d);
		return;
	}
	cns_sched_def_release(&j->def);
	j->def = d;
	set_label(j);
	if (j->def.overlap != CNS_OVERLAP_QUEUE)
		j->queued = false;
	{
		int64_t now = now_for(j, wall);

		if (j->done_through < now ||
		    j->done_through > now + LARGE_JUMP_S)
			j->done_through = now;
		j->next = j->def.schedule ? next_after(s, j, j->done_through)
					  : INT64_MAX;
	}
	s->folders[j->folder].dirty = true;
	log_next(s, j, "reloaded");
}

static int scan(struct sched *s, bool reload, struct cns_error *err)
{
	char **files;
	int nfiles;
	int64_t wall = wall_ms();

	if (cns_sched_list_files(s->opts->paths, s->opts->npaths, &files,
				 &nfiles, err) < 0)
		return -1;
	for (int i = 0; i < s->njobs; i++)
		s->jobs[i]->seen = false;
	for (int i = 0; i < nfiles; i++)
		load_file(s, files[i], wall, reload);
	cns_sched_files_free(files, nfiles);
	for (int i = 0; i < s->njobs; i++) {
		struct job *j = s->jobs[i];

		if (j->seen || j->removed)
			continue;
		if (j->pid) {
			j->removed = true;
			j->queued = false;
			slog(s, j,
			     "removed: its job file is gone; the run in "
			     "progress (pid %ld) goes on",
			     (long)j->pid);
		} else {
			slog(s, j, "removed: its job file is gone");
			s->folders[j->folder].dirty = true;
			drop_job(s, j);
			i--;
		}
	}
	return 0;
}

static void reload(struct sched *s)
{
	struct cns_error err = { 0 };
	char buf[2048];
	int n = 0;

	slog(s, NULL, "reloading job files (SIGHUP)");
	if (s->opts->log_file) {
		/* Let logrotate move the file away. */
		int fd = open(s->opts->log_file,
			      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd >= 0) {
			if (s->log_fd >= 0)
				close(s->log_fd);
			s->log_fd = fd;
		}
	}
	if (scan(s, true, &err) < 0) {
		slog(s, NULL, "reload failed, nothing changed: %s",
		     err_line(&err, buf, sizeof(buf)));
		return;
	}
	for (int i = 0; i < s->njobs; i++)
		n += schedulable(s->jobs[i]);
	slog(s, NULL, "reloaded: %d jobs scheduled", n);
}

/* ---- clock ---- */

static void check_clock(struct sched *s, int64_t wall, int64_t mono)
{
	int64_t drift = (wall - s->prev_wall) - (mono - s->prev_mono);
	char d[32];

	s->prev_wall = wall;
	s->prev_mono = mono;
	if (drift > CLOCK_STEP_MS) {
		/* Suspend, or the clock set forward: fires now due are
		 * late or missed, and process_due() says which. */
		slog(s, NULL, "clock jumped forward by %s",
		     dur(drift, d, sizeof(d)));
	} else if (drift < -CLOCK_STEP_MS && -drift <= LARGE_JUMP_S * 1000) {
		/* Fires up to the old time were handled: each job keeps
		 * waiting for its next fire, so none repeats. */
		slog(s, NULL,
		     "clock went back by %s: fires already made are "
		     "not made again",
		     dur(drift, d, sizeof(d)));
	} else if (drift < -CLOCK_STEP_MS) {
		slog(s, NULL,
		     "clock jumped back by %s: the old time was "
		     "wrong, schedules restart from now",
		     dur(drift, d, sizeof(d)));
		for (int i = 0; i < s->njobs; i++) {
			struct job *j = s->jobs[i];

			if (!schedulable(j))
				continue;
			j->done_through = now_for(j, wall);
			j->next = next_after(s, j, j->done_through);
			s->folders[j->folder].dirty = true;
			log_next(s, j, "rescheduled");
		}
	}
}

/* ---- stop ---- */

static void stop(struct sched *s, sigset_t *waitmask)
{
	int64_t grace = s->opts->grace_ms, deadline, kill_deadline = 0;
	bool termed = false, killed = false;
	char d[32];

	s->stopping = true;
	got_term = 0;
	for (int i = 0; i < s->njobs; i++)
		if (s->jobs[i]->queued) {
			s->jobs[i]->queued = false;
			slog(s, s->jobs[i], "queued run dropped: stopping");
		}
	reap(s);
	if (running(s))
		slog(s, NULL,
		     "stopping: no new runs; waiting up to %s for %d "
		     "running",
		     dur(grace, d, sizeof(d)), running(s));
	deadline = cns_now_ms() + grace;
	while (running(s)) {
		int64_t mono = cns_now_ms(), wake;
		struct timespec ts;

		if (!termed && (mono >= deadline || got_term)) {
			/* A second SIGTERM or SIGINT cuts the wait short. */
			termed = true;
			for (int i = 0; i < s->njobs; i++) {
				struct job *j = s->jobs[i];

				if (!j->pid)
					continue;
				if (kill(-j->pid, SIGTERM) < 0)
					kill(j->pid, SIGTERM);
				slog(s, j, "sent SIGTERM to pid %ld (%s)",
				     (long)j->pid,
				     got_term ? "second stop signal"
					      : "grace period over");
			}
			got_term = 0;
			kill_deadline = mono + grace;
		} else if (termed && !killed &&
			   (mono >= kill_deadline || got_term)) {
			killed = true;
			for (int i = 0; i < s->njobs; i++) {
				struct job *j = s->jobs[i];

				if (!j->pid)
					continue;
				if (kill(-j->pid, SIGKILL) < 0)
					kill(j->pid, SIGKILL);
				slog(s, j,
				     "sent SIGKILL to pid %ld: it did not "
				     "stop after SIGTERM",
				     (long)j->pid);
			}
		}
		wake = !termed   ? deadline
		       : !killed ? kill_deadline
				 : mono + 1000;
		if (wake - mono > 1000)
			wake = mono + 1000;
		if (wake < mono)
			wake = mono;
		ts.tv_sec = (wake - mono) / 1000;
		ts.tv_nsec = (long)((wake - mono) % 1000) * 1000000L;
		got_chld = 0;
		ppoll(NULL, 0, &ts, waitmask);
		reap(s);
	}
}

/* ---- main loop ---- */

static void summary(struct sched *s)
{
	for (int i = 0; i < s->njobs; i++) {
		const struct job *j = s->jobs[i];

		if (j->has_def && j->def.schedule)
			slog(s, j,
			     "fired %ld, skipped %ld, queued %ld, "
			     "missed %ld, caught up %ld",
			     j->fired, j->skipped, j->queued_count, j->missed,
			     j->caught_up);
	}
}

static void release(struct sched *s)
{
	for (int i = 0; i < s->njobs; i++)
		free_job(s->jobs[i]);
	free(s->jobs);
	for (int i = 0; i < s->nfolders; i++) {
		if (s->folders[i].lock_fd >= 0)
			close(s->folders[i].lock_fd);
		free(s->folders[i].dir);
		free(s->folders[i].real);
	}
	free(s->folders);
	for (int i = 0; i < s->nsaved; i++)
		free(s->saved[i].file);
	free(s->saved);
	if (s->log_fd >= 0)
		close(s->log_fd);
}

static int setup_folders(struct sched *s, struct cns_error *err)
{
	static char *const def[] = { (char *)CNS_SCHED_DEFAULT_DIR };
	char *const *paths = s->opts->npaths ? s->opts->paths : def;
	int npaths = s->opts->npaths ? s->opts->npaths : 1;

	if (s->opts->state_dir) {
		if (add_folder(s, s->opts->state_dir, err) < 0)
			return -1;
	} else {
		for (int i = 0; i < npaths; i++) {
			struct stat st;
			char *dir;
			int rc;

			if (stat(paths[i], &st) < 0)
				return cns_error_set(
					err, CNS_E_IO,
					"could not open \"%s\": %s", paths[i],
					strerror(errno));
			dir = S_ISDIR(st.st_mode) ? cns_xstrdup(paths[i])
						  : dir_of(paths[i]);
			rc = add_folder(s, dir, err);
			free(dir);
			if (rc < 0)
				return -1;
		}
	}
	for (int i = 0; i < s->nfolders; i++) {
		if (lock_folder(&s->folders[i], err) < 0)
			return -1;
		read_state(s, &s->folders[i]);
	}
	return 0;
}

int cns_scheduler_run(const struct cns_scheduler_opts *opts,
		      struct cns_error *err)
{
	struct sched s = { 0 };
	struct sigaction sa;
	sigset_t block, oldmask, waitmask;
	int n = 0;

	s.opts = opts;
	s.log_fd = -1;
	if (opts->log_file) {
		s.log_fd = open(opts->log_file,
				O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				0644);
		if (s.log_fd < 0)
			return cns_error_set(err, CNS_E_IO,
					     "could not open the log file "
					     "\"%s\": %s",
					     opts->log_file, strerror(errno));
	}
	if (setup_folders(&s, err) < 0) {
		release(&s);
		return -1;
	}

	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	waitmask = oldmask;
	sigdelset(&waitmask, SIGHUP);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGCHLD);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);

	if (scan(&s, false, err) < 0) {
		release(&s);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		return -1;
	}
	for (int i = 0; i < s.njobs; i++)
		n += schedulable(s.jobs[i]);
	slog(&s, NULL, "started: pid %ld, %d jobs scheduled%s", (long)getpid(),
	     n, opts->command ? " (runs through $CNS_SCHEDULE_COMMAND)" : "");
	s.prev_wall = wall_ms();
	s.prev_mono = cns_now_ms();

	for (;;) {
		int64_t wall, mono, wake = INT64_MAX, timeout;
		struct timespec ts;

		got_chld = 0;
		reap(&s);
		if (got_term)
			break;
		if (got_hup) {
			got_hup = 0;
			reload(&s);
		}
		wall = wall_ms();
		mono = cns_now_ms();
		check_clock(&s, wall, mono);
		for (int i = 0; i < s.njobs; i++)
			process_due(&s, s.jobs[i], wall);
		for (int i = 0; i < s.nfolders; i++)
			if (s.folders[i].dirty)
				write_state(&s, &s.folders[i]);
		for (int i = 0; i < s.njobs; i++)
			if (schedulable(s.jobs[i]) && due_ms(s.jobs[i]) < wake)
				wake = due_ms(s.jobs[i]);
		/* Recomputed on every pass: a wait measured on the
		 * monotonic clock towards a wall-clock time. */
		wall = wall_ms();
		timeout = wake == INT64_MAX ? MAX_SLEEP_MS : wake - wall;
		if (timeout > MAX_SLEEP_MS)
			timeout = MAX_SLEEP_MS;
		if (timeout < 0)
			timeout = 0;
		ts.tv_sec = timeout / 1000;
		ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
		if (got_chld || got_hup || got_term)
			continue;
		ppoll(NULL, 0, &ts, &waitmask);
	}

	stop(&s, &waitmask);
	for (int i = 0; i < s.nfolders; i++)
		if (s.folders[i].dirty)
			write_state(&s, &s.folders[i]);
	summary(&s);
	slog(&s, NULL, "stopped");
	release(&s);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return 0;
}
