/*
 * cmd_k8s.c - `consolidate k8s JOB.conf [--image IMAGE] [--namespace NS]
 * [--bin PATH]`: the Kubernetes objects that run a job at its schedule,
 * printed as one multi-document YAML stream for `kubectl apply -f -`.
 *
 * A CronJob fires at the job's schedule (timeZone, concurrencyPolicy:
 * Forbid, activeDeadlineSeconds as the backstop of max_runtime).  Its pod
 * is the coordinator: `consolidate shard --plan` plans the run (or finds
 * the unfinished one), then the pod creates, from the templates of a
 * ConfigMap, an Indexed Job whose completions are the plan's shards
 * (JOB_COMPLETION_INDEX is the shard), waits for it, and creates the
 * finalize Job, which checks every shard itself.  The number of shards
 * is known only once the run is planned, hence templates and not Jobs:
 * the coordinator fills in the run id and the count.  A ServiceAccount
 * with a Role lets the coordinator create and watch those Jobs and
 * nothing else.  A job without shards runs `consolidate run` in the
 * CronJob's pod and needs none of this.
 *
 * Every string goes out double-quoted with JSON escapes (a subset of
 * YAML's double-quoted style), so no job name or path can change the
 * YAML's structure.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/cron.h"
#include "consolidate/runlog.h"
#include "consolidate/schedule.h"
#include "consolidate/shard.h"
#include "cli.h"
#include "commands.h"
#include "slurm.h"

/* Kubernetes limits a CronJob's name to 52 characters (it adds 11 for
 * its Jobs); names are DNS labels: lowercase letters, digits, "-". */
#define K8S_NAME_MAX 52

/* Appends the object name of a job: "consolidate-" + the name lowercased,
 * "_" and "." turned into "-", cut to K8S_NAME_MAX with a hash of the
 * whole name kept at the end when cut. */
static void k8s_name(struct cns_buf *b, const char *job)
{
	size_t start = b->len;
	uint32_t h = 2166136261u;

	cns_buf_adds(b, "consolidate-");
	for (const unsigned char *p = (const unsigned char *)job; *p; p++) {
		h = (h ^ *p) * 16777619u;
		if (*p >= 'A' && *p <= 'Z')
			cns_buf_addc(b, (char)(*p - 'A' + 'a'));
		else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
			cns_buf_addc(b, (char)*p);
		else
			cns_buf_addc(b, '-');
	}
	if (b->len - start > K8S_NAME_MAX) {
		b->len = start + K8S_NAME_MAX - 9;
		b->data[b->len] = '\0';
		cns_buf_printf(b, "-%08x", h);
	}
	while (b->len > start && b->data[b->len - 1] == '-')
		b->data[--b->len] = '\0';
}

/* Appends s as a YAML double-quoted scalar. */
static void q(struct cns_buf *b, const char *s)
{
	cns_json_add_cstr(b, s);
}

/* Appends the lines of text, each indented by `indent` spaces, for a
 * literal block scalar. */
static void block(struct cns_buf *b, const char *text, int indent)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		if (n > 0)
			cns_buf_printf(b, "%*s%.*s", indent, "", (int)n, text);
		cns_buf_addc(b, '\n');
		text += n + (text[n] == '\n');
	}
}

/* The container lines shared by every pod: image, the program and its
 * arguments (each a YAML string), at 8 spaces under `containers:`. */
static void container(struct cns_buf *b, const char *image, const char *bin,
		      const char *const *args, int nargs)
{
	cns_buf_adds(b, "        - name: consolidate\n          image: ");
	q(b, image);
	cns_buf_adds(b, "\n          command: [");
	q(b, bin);
	cns_buf_adds(b, "]\n          args:\n");
	for (int i = 0; i < nargs; i++) {
		cns_buf_adds(b, "            - ");
		q(b, args[i]);
		cns_buf_addc(b, '\n');
	}
}

/* The template of one step's Job (shards or finalize), as the ConfigMap
 * holds it: @RUN@, @RUNKEY@ and @NSHARDS@ are filled in by the
 * coordinator. */
static void step_template(struct cns_buf *b, const struct cns_job_conf *job,
			  const char *file, const char *name, const char *image,
			  const char *bin, bool shards, int64_t limit)
{
	const char *sargs[] = { "shard", file,      "--run",
				"@RUN@", "--shard", "$(JOB_COMPLETION_INDEX)" };
	const char *fargs[] = { "finalize", file, "--run", "@RUN@" };

	cns_buf_printf(b,
		       "apiVersion: batch/v1\n"
		       "kind: Job\n"
		       "metadata:\n"
		       "  generateName: %s-%s-\n"
		       "  labels:\n"
		       "    app.kubernetes.io/name: consolidate\n"
		       "    consolidate/job: %s\n"
		       "    consolidate/run: \"@RUNKEY@\"\n"
		       "    consolidate/step: %s\n"
		       "spec:\n",
		       name, shards ? "shards" : "finalize", name,
		       shards ? "shards" : "finalize");
	if (shards)
		cns_buf_printf(
			b,
			"  completionMode: Indexed\n"
			"  completions: @NSHARDS@\n"
			"  parallelism: %d\n"
			"  # a shard that failed runs again from an empty "
			"staging table\n"
			"  backoffLimit: @NSHARDS@\n",
			job->parallel_shards > 0 ? job->parallel_shards : 1);
	else
		cns_buf_adds(b, "  backoffLimit: 2\n");
	if (limit > 0)
		cns_buf_printf(b, "  activeDeadlineSeconds: %lld\n",
			       (long long)limit);
	cns_buf_adds(b, "  ttlSecondsAfterFinished: 86400\n"
			"  template:\n"
			"    metadata:\n"
			"      labels:\n"
			"        app.kubernetes.io/name: consolidate\n"
			"    spec:\n"
			"      restartPolicy: Never\n"
			"      containers:\n");
	if (shards)
		container(b, image, bin, sargs, 6);
	else
		container(b, image, bin, fargs, 4);
}

/* The coordinator's shell script: plan, create the shards Job, wait,
 * create the finalize Job, wait; exits non-zero when a step failed. */
static void coordinator_script(struct cns_buf *b, const char *file,
			       const char *bin, int64_t sleep_s)
{
	cns_buf_adds(b, "set -eu\n");
	if (sleep_s > 0)
		cns_buf_printf(b,
			       "# the job's jitter (or a seconds field)\n"
			       "sleep %lld\n",
			       (long long)sleep_s);
	cns_buf_adds(b, "plan=$(");
	cns_batch_sh_word(b, bin);
	cns_buf_adds(b, " shard ");
	cns_batch_sh_word(b, file);
	cns_buf_adds(
		b,
		" --plan)\n"
		"set -- $plan\n"
		"run=$1 nshards=$2\n"
		"case $run in\n"
		"*[!A-Za-z0-9._:-]*) echo \"unexpected run id $run\" >&2; "
		"exit 1 ;;\n"
		"esac\n"
		"# a label value: letters, digits, \"-\", \"_\" and \".\", at "
		"most 63\n"
		"key=$(printf '%s' \"$run\" | tr -c 'A-Za-z0-9._-' '-' | "
		"cut -c1-63)\n"
		"# step TEMPLATE: creates the Job and waits until it completes "
		"or fails\n"
		"step() {\n"
		"  name=$(sed -e \"s/@RUN@/$run/g\" -e \"s/@RUNKEY@/$key/g\" \\\n"
		"    -e \"s/@NSHARDS@/$nshards/g\" \"/etc/consolidate/steps/$1\" "
		"|\n"
		"    kubectl create -f - -o name)\n"
		"  echo \"$name: run $run\"\n"
		"  while :; do\n"
		"    s=$(kubectl get \"$name\" -o "
		"jsonpath='{.status.conditions[*].type}') \\\n"
		"      || s=\"\"\n"
		"    case \" $s \" in\n"
		"    *\" Complete \"*) return 0 ;;\n"
		"    *\" Failed \"*) echo \"$name failed\" >&2; return 1 ;;\n"
		"    esac\n"
		"    sleep 10\n"
		"  done\n"
		"}\n"
		"# A shard that failed leaves the run unmerged; the next "
		"schedule resumes it.\n"
		"step shards.yaml\n"
		"step finalize.yaml\n");
}

int cns_cmd_k8s(int argc, char **argv)
{
	struct cns_error err = { 0 };
	struct cns_job_conf *job = NULL;
	const char *image = "consolidate:" CNS_VERSION, *ns = "default";
	const char *bin = "consolidate", *file;
	char abs[PATH_MAX];
	struct cns_buf out, name, fields, tmpl, script;
	int c, delay = 0;
	int64_t limit, sleep_s;
	bool sharded;

	optind = 1;
	while ((c = cns_cli_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'i': /* the container image holding consolidate */
			image = optarg;
			break;
		case 'n': /* the namespace of the objects: a DNS label */
			ns = optarg;
			if (!*ns || strlen(ns) > 63 ||
			    strspn(ns,
				   "abcdefghijklmnopqrstuvwxyz0123456789-") !=
				    strlen(ns))
				return cns_cli_usage(
					"k8s",
					"invalid namespace \"%s\": "
					"expected lowercase letters, "
					"digits and \"-\"",
					ns);
			break;
		case 'b': /* the program inside the image */
			bin = optarg;
			break;
		case 'h':
			cns_cmd_help(2, (char *[]){ "help", "k8s", NULL });
			return CNS_EXIT_OK;
		default: return cns_cli_usage("k8s", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cns_cli_usage("k8s", "expected one job file");
	if (cns_config_load(argv[optind], &job, &err) < 0) {
		cns_cli_report(&err);
		return cns_error_exit_code(err.code);
	}
	/* The pods find the job file where this host has it. */
	file = realpath(job->file, abs) ? abs : job->file;
	if (!job->schedule) {
		cns_error_set(&err, CNS_E_CONFIG, "job \"%s\" has no schedule",
			      job->name);
		cns_error_hint(&err, "set \"schedule\" in [job] of \"%s\"",
			       job->file);
		goto fail;
	}
	cns_buf_init(&fields);
	if (cns_cron_crontab_text(&job->cron, &fields, &delay, &err) < 0) {
		cns_error_at(&err, job->file, 0, 0);
		cns_buf_release(&fields);
		goto fail;
	}
	sharded = cns_shard_enabled(job);
	limit = cns_batch_limit_s(job);
	sleep_s = delay +
		  cns_sched_jitter_offset(job->name, job->jitter_ms) / 1000;
	cns_buf_init(&out);
	cns_buf_init(&name);
	cns_buf_init(&tmpl);
	cns_buf_init(&script);
	k8s_name(&name, job->name);

	cns_buf_printf(&out,
		       "# consolidate job %s, written by `consolidate "
		       "k8s`; apply with kubectl apply -f -\n"
		       "# The image ",
		       job->name);
	q(&out, image);
	cns_buf_adds(&out, " must hold consolidate and the job file at ");
	q(&out, file);
	cns_buf_adds(&out, "\n# (with its transform file): build it in or "
			   "mount it there.\n");

	if (sharded) {
		cns_buf_printf(&out,
			       "---\n"
			       "apiVersion: v1\n"
			       "kind: ServiceAccount\n"
			       "metadata:\n"
			       "  name: %s\n"
			       "  namespace: %s\n"
			       "---\n"
			       "# the coordinator creates and watches the "
			       "Jobs of the shards and of finalize\n"
			       "apiVersion: rbac.authorization.k8s.io/v1\n"
			       "kind: Role\n"
			       "metadata:\n"
			       "  name: %s\n"
			       "  namespace: %s\n"
			       "rules:\n"
			       "  - apiGroups: [\"batch\"]\n"
			       "    resources: [\"jobs\"]\n"
			       "    verbs: [\"create\", \"get\", \"list\", "
			       "\"watch\"]\n"
			       "---\n"
			       "apiVersion: rbac.authorization.k8s.io/v1\n"
			       "kind: RoleBinding\n"
			       "metadata:\n"
			       "  name: %s\n"
			       "  namespace: %s\n"
			       "subjects:\n"
			       "  - kind: ServiceAccount\n"
			       "    name: %s\n"
			       "    namespace: %s\n"
			       "roleRef:\n"
			       "  apiGroup: rbac.authorization.k8s.io\n"
			       "  kind: Role\n"
			       "  name: %s\n"
			       "---\n"
			       "# the Jobs the coordinator creates for each "
			       "run, @RUN@, @RUNKEY@ and @NSHARDS@\n"
			       "# filled in from `consolidate shard --plan`\n"
			       "apiVersion: v1\n"
			       "kind: ConfigMap\n"
			       "metadata:\n"
			       "  name: %s-steps\n"
			       "  namespace: %s\n"
			       "data:\n"
			       "  shards.yaml: |\n",
			       name.data, ns, name.data, ns, name.data, ns,
			       name.data, ns, name.data, name.data, ns);
		step_template(&tmpl, job, file, name.data, image, bin, true,
			      limit);
		block(&out, tmpl.data, 4);
		cns_buf_reset(&tmpl);
		cns_buf_adds(&out, "  finalize.yaml: |\n");
		step_template(&tmpl, job, file, name.data, image, bin, false,
			      limit);
		block(&out, tmpl.data, 4);
	}

	cns_buf_printf(&out,
		       "---\n"
		       "apiVersion: batch/v1\n"
		       "kind: CronJob\n"
		       "metadata:\n"
		       "  name: %s\n"
		       "  namespace: %s\n"
		       "  labels:\n"
		       "    app.kubernetes.io/name: consolidate\n"
		       "    consolidate/job: %s\n"
		       "spec:\n"
		       "  # schedule \"%s\"\n"
		       "  schedule: ",
		       name.data, ns, name.data, job->cron.text);
	q(&out, fields.data);
	cns_buf_addc(&out, '\n');
	if (job->timezone) {
		cns_buf_adds(&out, "  timeZone: ");
		q(&out, job->timezone);
		cns_buf_addc(&out, '\n');
	}
	cns_buf_printf(
		&out,
		"  # a run never starts while the last one still runs "
		"(overlap = skip%s)\n"
		"  concurrencyPolicy: Forbid\n"
		"  # catchup = %s: %s\n"
		"  startingDeadlineSeconds: %d\n"
		"  successfulJobsHistoryLimit: 3\n"
		"  failedJobsHistoryLimit: 3\n"
		"  jobTemplate:\n"
		"    spec:\n"
		"      # a failed run is not retried: the next schedule "
		"resumes it\n"
		"      backoffLimit: 0\n",
		job->overlap == CNS_OVERLAP_QUEUE
			? "; overlap = queue has no CronJob equivalent"
			: "",
		job->catchup == CNS_CATCHUP_ONCE ? "once" : "none",
		job->catchup == CNS_CATCHUP_ONCE
			? "one missed fire of the last day is made up"
			: "a fire missed by more than a minute is skipped",
		job->catchup == CNS_CATCHUP_ONCE ? 86400 : 60);
	if (limit > 0)
		cns_buf_printf(&out,
			       "      # max_runtime + kill_grace + 1m: the "
			       "job's watchdog stops a run first\n"
			       "      activeDeadlineSeconds: %lld\n",
			       (long long)limit);
	cns_buf_adds(&out, "      template:\n"
			   "        metadata:\n"
			   "          labels:\n"
			   "            app.kubernetes.io/name: consolidate\n"
			   "        spec:\n"
			   "          restartPolicy: Never\n");
	if (sharded) {
		coordinator_script(&script, file, bin, sleep_s);
		cns_buf_printf(&out,
			       "          serviceAccountName: %s\n"
			       "          containers:\n"
			       "            - name: coordinator\n"
			       "              image: ",
			       name.data);
		q(&out, image);
		cns_buf_adds(&out, "\n              command: [\"/bin/sh\", "
				   "\"-c\"]\n"
				   "              args:\n"
				   "                - |\n");
		block(&out, script.data, 18);
		cns_buf_printf(&out,
			       "              volumeMounts:\n"
			       "                - name: steps\n"
			       "                  mountPath: "
			       "/etc/consolidate/steps\n"
			       "          volumes:\n"
			       "            - name: steps\n"
			       "              configMap:\n"
			       "                name: %s-steps\n",
			       name.data);
	} else {
		struct cns_buf one;

		cns_buf_init(&one);
		if (sleep_s > 0)
			cns_buf_printf(&one, "sleep %lld && ",
				       (long long)sleep_s);
		cns_buf_adds(&one, "exec ");
		cns_batch_sh_word(&one, bin);
		cns_buf_adds(&one, " run ");
		cns_batch_sh_word(&one, file);
		cns_buf_adds(&out, "          containers:\n"
				   "            - name: consolidate\n"
				   "              image: ");
		q(&out, image);
		cns_buf_adds(&out, "\n              command: [\"/bin/sh\", "
				   "\"-c\", ");
		q(&out, one.data);
		cns_buf_adds(&out, "]\n");
		cns_buf_release(&one);
	}
	fputs(out.data, stdout);
	cns_buf_release(&out);
	cns_buf_release(&name);
	cns_buf_release(&fields);
	cns_buf_release(&tmpl);
	cns_buf_release(&script);
	cns_config_free(job);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "consolidate: could not write the output\n");
		return CNS_EXIT_FAILED;
	}
	return CNS_EXIT_OK;
fail:
	cns_cli_report(&err);
	cns_config_free(job);
	return cns_error_exit_code(err.code);
}
