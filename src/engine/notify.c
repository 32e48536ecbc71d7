/*
 * notify.c - alerts (see notify.h): notify_command through posix_spawn,
 * notify_url through libcurl.
 *
 * The command runs without a shell (so nothing in the facts can be read
 * as shell syntax), in a process group of its own so that a time-out
 * stops whatever it started too, with /dev/null for its standard streams
 * (its output would otherwise reach cron's mail on every failure).  The
 * URL gets up to three attempts, 1 s and 2 s apart, each bounded by
 * notify_timeout, and stops early once the time limit is spent.
 */
#include "consolidate/notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "consolidate/runlog.h"

extern char **environ;

const char *cns_notify_kind_name(enum cns_notify_kind k)
{
	switch (k) {
	case CNS_NOTIFY_FAILED: return "failed";
	case CNS_NOTIFY_RECOVERED: return "recovered";
	case CNS_NOTIFY_WARNING: return "warning";
	}
	return "?";
}

static void say(cns_notify_log_fn log, void *ctx, int level, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

static void say(cns_notify_log_fn log, void *ctx, int level, const char *fmt,
		...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log)
		log(ctx, level, msg);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- the command ---- */

/* The environment of the command: ours plus the CNS_* facts. */
static char **command_env(const struct cns_notify_event *ev,
			  struct cns_arena *a)
{
	const char *facts[][2] = {
		{ "CNS_EVENT", cns_notify_kind_name(ev->kind) },
		{ "CNS_JOB", ev->job },
		{ "CNS_RUN_ID", ev->run_id },
		{ "CNS_STATUS", ev->status },
		{ "CNS_ERROR", ev->error },
		{ "CNS_WARNING", ev->warning },
		{ "CNS_LOG", ev->log },
	};
	const int64_t counts[] = { ev->rows_read, ev->rows_loaded,
				   ev->rows_rejected };
	const char *const count_names[] = { "CNS_ROWS_READ", "CNS_ROWS_LOADED",
					    "CNS_ROWS_REJECTED" };
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = cns_arena_alloc(a, (n + 11) * sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "CNS_", 4) != 0)
			env[k++] = environ[i];
	for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++)
		env[k++] = cns_arena_printf(a, "%s=%s", facts[i][0],
					    facts[i][1] ? facts[i][1] : "");
	for (size_t i = 0; i < 3; i++)
		env[k++] = cns_arena_printf(a, "%s=%lld", count_names[i],
					    (long long)counts[i]);
	env[k] = NULL;
	return env;
}

static void run_command(const struct cns_job_conf *job,
			const struct cns_notify_event *ev,
			cns_notify_log_fn log, void *ctx)
{
	struct cns_arena a;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *argv[] = { job->notify_command, NULL };
	int64_t waited = 0;
	pid_t pid;
	int rc, status = 0;

	cns_arena_init(&a, 4096);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&pid, job->notify_command, &fa, &attr, argv,
			 command_env(ev, &a));
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	cns_arena_release(&a);
	if (rc != 0) {
		say(log, ctx, 1, "could not run notify_command \"%s\": %s",
		    job->notify_command, strerror(rc));
		return;
	}
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			say(log, ctx, 1, "notify_command: %s", strerror(errno));
			return;
		}
		if (waited >= job->notify_timeout_ms) {
			/* Its whole group: a script's children too. */
			kill(-pid, SIGTERM);
			sleep_ms(1000);
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			say(log, ctx, 1,
			    "notify_command \"%s\" took longer than %lld ms "
			    "and was stopped",
			    job->notify_command,
			    (long long)job->notify_timeout_ms);
			return;
		}
		sleep_ms(20);
		waited += 20;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		say(log, ctx, 0, "notify_command \"%s\" ran (%s)",
		    job->notify_command, cns_notify_kind_name(ev->kind));
	else if (WIFEXITED(status))
		say(log, ctx, 1, "notify_command \"%s\" exited with %d",
		    job->notify_command, WEXITSTATUS(status));
	else
		say(log, ctx, 1, "notify_command \"%s\" ended by signal %d",
		    job->notify_command, WTERMSIG(status));
}

/* ---- the URL ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *body_of(const struct cns_notify_event *ev)
{
	json_t *o = cns_json_checked(json_object());
	struct cns_buf b;

	cns_json_set(o, "event",
		     cns_json_ctext(cns_notify_kind_name(ev->kind)));
	cns_json_set(o, "job", cns_json_ctext(ev->job));
	cns_json_set(o, "run_id", cns_json_ctext(ev->run_id));
	cns_json_set(o, "status", cns_json_ctext(ev->status));
	cns_json_set(o, "error", cns_json_ctext(ev->error));
	cns_json_set(o, "warning", cns_json_ctext(ev->warning));
	cns_json_set(o, "log", cns_json_ctext(ev->log));
	cns_json_set(o, "rows_read", json_integer(ev->rows_read));
	cns_json_set(o, "rows_loaded", json_integer(ev->rows_loaded));
	cns_json_set(o, "rows_rejected", json_integer(ev->rows_rejected));
	cns_buf_init(&b);
	cns_json_dump(o, &b);
	json_decref(o);
	return b.data;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static void post_url(const struct cns_job_conf *job,
		     const struct cns_notify_event *ev, cns_notify_log_fn log,
		     void *ctx)
{
	char *body = body_of(ev);
	struct curl_slist *hdr = NULL;
	char cerr[CURL_ERROR_SIZE];
	int64_t spent = 0, t0;
	long code = 0;
	CURLcode rc = CURLE_OK;
	CURL *c;

	pthread_once(&curl_once, curl_init);
	c = curl_init_rc == CURLE_OK ? curl_easy_init() : NULL;
	if (!c) {
		say(log, ctx, 1, "notify_url: could not start libcurl");
		free(body);
		return;
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, job->notify_url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	for (int attempt = 1;; attempt++) {
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
				 (long)(job->notify_timeout_ms - spent));
		cerr[0] = '\0';
		t0 = cns_now_ms();
		rc = curl_easy_perform(c);
		spent += cns_now_ms() - t0;
		code = 0;
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (rc == CURLE_OK && code >= 200 && code < 300) {
			say(log, ctx, 0, "notify_url answered %ld (%s)", code,
			    cns_notify_kind_name(ev->kind));
			break;
		}
		if (attempt == 3 ||
		    spent + attempt * 1000 >= job->notify_timeout_ms) {
			/* The URL is a secret: the run log scrubs it from
			 * this message if libcurl quoted it. */
			if (rc != CURLE_OK)
				say(log, ctx, 1,
				    "notify_url failed after %d attempt%s: %s",
				    attempt, attempt == 1 ? "" : "s",
				    cerr[0] ? cerr : curl_easy_strerror(rc));
			else
				say(log, ctx, 1,
				    "notify_url answered %ld after %d "
				    "attempt%s",
				    code, attempt, attempt == 1 ? "" : "s");
			break;
		}
		sleep_ms(attempt * 1000);
		spent += attempt * 1000;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	free(body);
}

void cns_notify_send(const struct cns_job_conf *job,
		     const struct cns_notify_event *ev, cns_notify_log_fn log,
		     void *ctx)
{
	if (job->notify_command)
		run_command(job, ev, log, ctx);
	if (job->notify_url)
		post_url(job, ev, log, ctx);
}
