/*
 * cmd_submit.c - `consolidate submit JOB.conf [--bin PATH] --slurm [sbatch
 * options]`: one run of a job handed to Slurm.
 *
 * A sharded job is planned here (the coordinator step, which resumes the
 * job's unfinished plan if there is one).  A holder job goes first
 * (`consolidate shard JOB --plan --hold --run ID`, named
 * consolidate-NAME.hold): it exports new snapshots of the plan and keeps
 * them open until the run is merged or finalize fails, so that every
 * shard of a full load reads in one snapshot and finalize reads nothing
 * again.  Then its shards go to Slurm, with --dependency=after:HOLDER
 * (they start once it started, and wait for its snapshots), as
 * one job array, `--array=0-(N-1)%K` with K = parallel_shards, each task
 * running `consolidate shard JOB --run ID --shard $SLURM_ARRAY_TASK_ID`,
 * and a finalize job follows with `--dependency=afterany:ARRAY`: it runs
 * however the tasks ended and checks each shard itself, so a shard that
 * failed or was cancelled leaves the run unmerged (and the next submit
 * resumes the same plan) instead of merging part of it.  A job without
 * shards is submitted as one `consolidate run`.
 *
 * Runs never overlap: every job submitted carries the job's name and
 * --dependency=singleton, on top of the advisory lock on the target.
 * --time is max_runtime + kill_grace + 1m, so the job's own watchdog
 * (which records the run as stopped) acts before Slurm's limit.  The
 * user's sbatch options come after ours and so win.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "consolidate/config.h"
#include "consolidate/shard.h"
#include "cli.h"
#include "commands.h"
#include "slurm.h"

extern char **environ;

/* A growable argument vector; the strings are owned by it. */
struct argv_buf {
	char **v;
	int n, cap;
};

static void arg_add(struct argv_buf *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? 2 * a->cap : 16;
		a->v = cns_xrealloc(a->v, (size_t)a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = cns_xstrdup(s);
	a->v[a->n] = NULL;
}

static void arg_release(struct argv_buf *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* Runs `sbatch --parsable ARGS...` and writes the job id it prints into
 * id.  sbatch's stderr goes to ours, so its own message explains a
 * refusal.  Returns 0, or -1 with err set. */
static int sbatch(const struct argv_buf *a, char *id, size_t size,
		  struct cns_error *err)
{
	posix_spawn_file_actions_t fa;
	int fds[2], status, rc;
	pid_t pid;
	char out[256];
	size_t len = 0;
	ssize_t r;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return cns_error_set(err, CNS_E_IO, "could not run sbatch: %s",
				     strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawnp(&pid, a->v[0], &fa, NULL, a->v, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		return cns_error_set(err, CNS_E_IO, "could not run \"%s\": %s",
				     a->v[0], strerror(rc));
	}
	/* Job ids are short: anything past the buffer is dropped, but read
	 * to the end so sbatch never blocks on a full pipe. */
	for (;;) {
		char skip[256];

		r = read(fds[0], len < sizeof(out) - 1 ? out + len : skip,
			 len < sizeof(out) - 1 ? sizeof(out) - 1 - len
					       : sizeof(skip));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (len < sizeof(out) - 1)
			len += (size_t)r;
	}
	close(fds[0]);
	out[len] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cns_error_set(err, CNS_E_IO,
				     "sbatch refused the job (exit %d)",
				     WIFEXITED(status)
					     ? WEXITSTATUS(status)
					     : 128 + WTERMSIG(status));
	/* --parsable: "id" or "id;cluster". */
	out[strspn(out, "0123456789")] = '\0';
	len = strlen(out);
	if (len == 0 || len >= size)
		return cns_error_set(err, CNS_E_IO, "sbatch printed no job id");
	memcpy(id, out, len + 1);
	return 0;
}

/* sbatch, then "LABEL ID" on stdout at once (the ids already submitted
 * are known even if a later step fails); a is released. */
static int submit_printed(struct argv_buf *a, const char *label, char *id,
			  size_t size, struct cns_error *err)
{
	int rc = sbatch(a, id, size, err);

	arg_release(a);
	if (rc == 0) {
		printf("%s %s\n", label, id);
		fflush(stdout);
	}
	return rc;
}

/* Cancels a job submitted for a run that could not be submitted whole
 * (the holder, which would wait for a merge that cannot come).  Best
 * effort: its own time limit ends it otherwise. */
static void scancel(const char *id)
{
	char *argv[] = { "scancel", (char *)id, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) == 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	posix_spawn_file_actions_destroy(&fa);
}

/* The options every job of the run gets, then the user's. */
static void common_opts(struct argv_buf *a, const struct cns_job_conf *job,
			const char *name_suffix, const char *dependency,
			char **user, int nuser)
{
	struct cns_buf b;
	int64_t limit = cns_batch_limit_s(job);

	arg_add(a, "sbatch");
	arg_add(a, "--parsable");
	cns_buf_init(&b);
	cns_buf_adds(&b, "--job-name=");
	cns_batch_job_name(&b, job->name);
	cns_buf_adds(&b, name_suffix);
	arg_add(a, b.data);
	cns_buf_reset(&b);
	cns_buf_printf(&b, "--dependency=%s", dependency);
	arg_add(a, b.data);
	if (limit > 0) {
		cns_buf_reset(&b);
		cns_buf_adds(&b, "--time=");
		cns_batch_slurm_time(&b, limit);
		arg_add(a, b.data);
	}
	cns_buf_release(&b);
	for (int i = 0; i < nuser; i++)
		arg_add(a, user[i]);
}

/* Appends the --wrap option running `BIN VERB FILE REST` (REST is shell
 * text, e.g. with $SLURM_ARRAY_TASK_ID). */
static void wrap(struct argv_buf *a, const char *bin, const char *verb,
		 const char *file, const char *rest)
{
	struct cns_buf b;

	cns_buf_init(&b);
	cns_buf_adds(&b, "--wrap=exec ");
	cns_batch_sh_word(&b, bin);
	cns_buf_printf(&b, " %s ", verb);
	cns_batch_sh_word(&b, file);
	cns_buf_adds(&b, rest);
	arg_add(a, b.data);
	cns_buf_release(&b);
}

static int submit_sharded(const struct cns_job_conf *job, const char *bin,
			  const char *file, char **user, int nuser,
			  struct cns_error *err)
{
	char run_id[64], hold_id[64], array_id[64], fin_id[64];
	int n = 0, k = job->parallel_shards > 0 ? job->parallel_shards : 1;
	struct argv_buf a = { 0 };
	struct cns_buf b;
	int rc;

	if (cns_shard_coordinate(job, false, run_id, sizeof(run_id), &n, err) <
	    0)
		return -1;
	if (n < 1)
		return cns_error_set(err, CNS_E_INTERNAL,
				     "run \"%s\" has no shards", run_id);
	printf("run %s shards %d\n", run_id, n);
	fflush(stdout);

	/* The holder first, under a name of its own: it stays up until
	 * the run is merged, so the singleton of the job's name would keep
	 * finalize waiting for it. */
	if (cns_shard_expect_holder(job, run_id, err) < 0)
		return -1;
	cns_buf_init(&b);
	common_opts(&a, job, ".hold", "singleton", user, nuser);
	cns_buf_adds(&b, " --plan --hold --run ");
	cns_batch_sh_word(&b, run_id);
	wrap(&a, bin, "shard", file, b.data);
	if (submit_printed(&a, "holder", hold_id, sizeof(hold_id), err) < 0) {
		cns_buf_release(&b);
		return -1;
	}

	/* after: the shards start once the holder started (or was
	 * cancelled), and wait a bounded time for its snapshots. */
	cns_buf_reset(&b);
	cns_buf_printf(&b, "after:%s,singleton", hold_id);
	common_opts(&a, job, "", b.data, user, nuser);
	cns_buf_reset(&b);
	cns_buf_printf(&b, "--array=0-%d%%%d", n - 1, k < n ? k : n);
	arg_add(&a, b.data);
	cns_buf_reset(&b);
	cns_buf_adds(&b, " --run ");
	cns_batch_sh_word(&b, run_id);
	cns_buf_adds(&b, " --shard \"$SLURM_ARRAY_TASK_ID\"");
	wrap(&a, bin, "shard", file, b.data);
	if (submit_printed(&a, "shards", array_id, sizeof(array_id), err) < 0) {
		scancel(hold_id);
		cns_buf_release(&b);
		return -1;
	}

	cns_buf_reset(&b);
	cns_buf_printf(&b, "afterany:%s,singleton", array_id);
	common_opts(&a, job, "", b.data, user, nuser);
	cns_buf_reset(&b);
	cns_buf_adds(&b, " --run ");
	cns_batch_sh_word(&b, run_id);
	wrap(&a, bin, "finalize", file, b.data);
	rc = submit_printed(&a, "finalize", fin_id, sizeof(fin_id), err);
	cns_buf_release(&b);
	if (rc < 0) {
		scancel(hold_id);
		cns_error_hint(err,
			       "the shards were submitted as job %s; "
			       "submit again to finalize run \"%s\"",
			       array_id, run_id);
		return -1;
	}
	return 0;
}

static int submit_whole(const struct cns_job_conf *job, const char *bin,
			const char *file, char **user, int nuser,
			struct cns_error *err)
{
	struct argv_buf a = { 0 };
	char id[64];

	common_opts(&a, job, "", "singleton", user, nuser);
	wrap(&a, bin, "run", file, "");
	return submit_printed(&a, "run", id, sizeof(id), err);
}

int cns_cmd_submit(int argc, char **argv)
{
	struct cns_error err = { 0 };
	struct cns_job_conf *job = NULL;
	char exe[PATH_MAX], abs[PATH_MAX];
	const char *bin = NULL, *file;
	int c, own = argc, rc;

	/* Everything after --slurm belongs to sbatch, so getopt sees only
	 * what comes before it. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--slurm") == 0) {
			own = i;
			break;
		}
	optind = 1;
	while ((c = cns_cli_getopt(own, argv)) != -1) {
		switch (c) {
		case 'b': /* the consolidate program the Slurm jobs run */
			bin = optarg;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "submit", NULL });
			return CNS_EXIT_OK;
		default: return cns_cli_usage("submit", "invalid option");
		}
	}
	if (optind + 1 != own)
		return cns_cli_usage("submit", "expected one job file");
	if (own == argc)
		return cns_cli_usage("submit", "expected --slurm (the only "
					       "batch system submit knows)");
	if (!bin)
		bin = realpath("/proc/self/exe", exe) ? exe : "consolidate";
	if (cns_config_load(argv[optind], &job, &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	/* The jobs may start in another folder, on another host. */
	file = realpath(job->file, abs) ? abs : job->file;
	if (cns_shard_enabled(job))
		rc = submit_sharded(job, bin, file, argv + own + 1,
				    argc - own - 1, &err);
	else
		rc = submit_whole(job, bin, file, argv + own + 1,
				  argc - own - 1, &err);
	cns_config_free(job);
	if (fflush(stdout) != 0 && rc == 0)
		rc = cns_error_set(&err, CNS_E_IO,
				   "could not write the output");
	if (rc < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	return CNS_EXIT_OK;
}
