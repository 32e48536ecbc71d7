#!/usr/bin/env bash
# t_k8s.sh - `consolidate k8s`: the YAML parses (python3-yaml), carries
# every field (CronJob schedule, timeZone, concurrencyPolicy: Forbid,
# startingDeadlineSeconds, activeDeadlineSeconds from max_runtime; the
# Indexed Job with completions = shards and JOB_COMPLETION_INDEX as the
# shard; the finalize Job), and the coordinator's script does what it
# says when run against stand-ins for consolidate and kubectl (no cluster
# is available here).
set -u
. "$ROOT/tests/integration/lib.sh"
T=${TMPDIR_T:?}

job() { # job FILE NAME [KEY = VALUE...] -- [SOURCE KEY = VALUE...]
	local f=$1 name=$2 l
	shift 2
	{
		echo "[job]"
		echo "name = $name"
		echo "transforms = t.xf"
		while [ $# -gt 0 ] && [ "$1" != -- ]; do echo "$1"; shift; done
		[ $# -gt 0 ] && shift
		echo
		echo "[target]"
		echo "driver = postgres"
		echo "conninfo = host=/nonexistent"
		echo "table = t"
		echo
		echo "[source a]"
		echo "driver = postgres"
		echo "conninfo = host=/nonexistent"
		echo "table = orders"
		for l in "$@"; do echo "$l"; done
	} >"$f"
}

job "$T/big.conf" Big_Orders "schedule = 0 3 * * 1-5" \
	"timezone = Europe/Paris" "max_runtime = 2h" "kill_grace = 30s" \
	"parallel_shards = 3" -- "shards = 8" "split_by = id"
"$CNS" k8s "$T/big.conf" --image reg.example/cns:1 --namespace etl \
	--bin /usr/bin/consolidate >"$T/big.yaml" 2>"$T/err"
ok $? "k8s exits 0 for a sharded job"

# check.py FILE: prints one line per fact, which the test compares.
cat >"$T/check.py" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
print("kinds", " ".join(d["kind"] for d in docs))
by = {d["kind"]: d for d in docs}
cj = by["CronJob"]
s = cj["spec"]
print("cronjob", cj["metadata"]["name"], cj["metadata"]["namespace"])
print("schedule", s["schedule"])
print("timeZone", s.get("timeZone"))
print("concurrencyPolicy", s["concurrencyPolicy"])
print("startingDeadlineSeconds", s["startingDeadlineSeconds"])
js = s["jobTemplate"]["spec"]
print("activeDeadlineSeconds", js.get("activeDeadlineSeconds"))
pod = js["template"]["spec"]
print("restartPolicy", pod["restartPolicy"])
c = pod["containers"][0]
print("image", c["image"])
print("command", " ".join(c["command"]))
if "ConfigMap" in by:
    print("serviceAccountName", pod["serviceAccountName"])
    cm = by["ConfigMap"]
    print("volume", pod["volumes"][0]["configMap"]["name"] == cm["metadata"]["name"])
    print("rolebinding", by["RoleBinding"]["subjects"][0]["name"] == pod["serviceAccountName"],
          by["RoleBinding"]["roleRef"]["name"] == by["Role"]["metadata"]["name"])
    print("verbs", " ".join(by["Role"]["rules"][0]["verbs"]))
    for t in ("shards.yaml", "finalize.yaml"):
        text = cm["data"][t].replace("@RUN@", "r1:x").replace("@RUNKEY@", "r1-x").replace("@NSHARDS@", "8")
        j = yaml.safe_load(text)
        sp = j["spec"]
        print(t, j["kind"], sp.get("completionMode"), sp.get("completions"),
              sp.get("parallelism"), sp.get("activeDeadlineSeconds"),
              j["metadata"]["labels"]["consolidate/run"])
        ct = sp["template"]["spec"]["containers"][0]
        print(t, "run", " ".join(ct["command"] + ct["args"]))
else:
    print("run", c["args"] if "args" in c else "")
PY
facts=$(python3 "$T/check.py" "$T/big.yaml" 2>&1)
ok $? "the output parses as YAML"
is "$facts" "kinds ServiceAccount Role RoleBinding ConfigMap CronJob
cronjob consolidate-big-orders etl
schedule 0 3 * * 1-5
timeZone Europe/Paris
concurrencyPolicy Forbid
startingDeadlineSeconds 60
activeDeadlineSeconds 7290
restartPolicy Never
image reg.example/cns:1
command /bin/sh -c
serviceAccountName consolidate-big-orders
volume True
rolebinding True True
verbs create get list watch
shards.yaml Job Indexed 8 3 7290 r1-x
shards.yaml run /usr/bin/consolidate shard $T/big.conf --run r1:x --shard \$(JOB_COMPLETION_INDEX)
finalize.yaml Job None None None 7290 r1-x
finalize.yaml run /usr/bin/consolidate finalize $T/big.conf --run r1:x" \
	"every object and field is there (deadline = 2h + 30s + 1m)"

# The coordinator's script against stand-ins: consolidate plans run
# "r1:x" of 4 shards, kubectl stores what it is asked to create and
# reports each Job as $KSTATE.
mkdir -p "$T/bin" "$T/steps"
cat >"$T/bin/consolidate" <<'SH'
#!/bin/sh
echo "consolidate $*" >>"$T/calls"
[ "$2" = "$T/big.conf" ] && [ "$3" = --plan ] && echo "r1:x 4"
SH
cat >"$T/bin/kubectl" <<'SH'
#!/bin/sh
echo "kubectl $*" >>"$T/calls"
case $1 in
create) n=$(ls "$T" | grep -c '^created'); cat >"$T/created$n.yaml"
	echo "job.batch/fake-$n" ;;
get) echo "SuccessCriteriaMet $KSTATE" ;;
esac
SH
chmod +x "$T/bin/consolidate" "$T/bin/kubectl"
python3 -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap":
        for k, v in d["data"].items():
            open(sys.argv[2] + "/" + k, "w").write(v)
    if d and d["kind"] == "CronJob":
        c = d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        open(sys.argv[2] + "/script", "w").write(c["args"][0])
' "$T/big.yaml" "$T/steps"
sed -e "s#/etc/consolidate/steps#$T/steps#" -e 's/^sleep [0-9]*$/:/' \
	-e 's#/usr/bin/consolidate#consolidate#' "$T/steps/script" >"$T/script.sh"
export T
PATH=$T/bin:$PATH KSTATE=Complete sh "$T/script.sh" >"$T/out" 2>&1
ok $? "the coordinator succeeds when both Jobs complete"
is "$(sed "s#$T#T#g" "$T/calls")" "consolidate shard T/big.conf --plan
kubectl create -f - -o name
kubectl get job.batch/fake-0 -o jsonpath={.status.conditions[*].type}
kubectl create -f - -o name
kubectl get job.batch/fake-1 -o jsonpath={.status.conditions[*].type}" \
	"it plans, creates the shards Job, waits, creates finalize, waits"
is "$(python3 -c 'import sys,yaml; j=yaml.safe_load(open(sys.argv[1])); s=j["spec"]; print(s["completionMode"], s["completions"], s["backoffLimit"], j["metadata"]["labels"]["consolidate/run"], j["spec"]["template"]["spec"]["containers"][0]["args"][3])' "$T/created0.yaml")" \
	"Indexed 4 4 r1-x r1:x" "the shards Job it creates has completions = the plan's shards"
is "$(python3 -c 'import sys,yaml; j=yaml.safe_load(open(sys.argv[1])); print(j["spec"]["template"]["spec"]["containers"][0]["args"])' "$T/created1.yaml")" \
	"['finalize', '$T/big.conf', '--run', 'r1:x']" "the finalize Job it creates names the run"
rm -f "$T"/created* "$T/calls"
PATH=$T/bin:$PATH KSTATE=Failed sh "$T/script.sh" >"$T/out" 2>&1
is "$?" 1 "the coordinator fails when the shards Job fails"
is "$(grep -c create "$T/calls")" 1 "and creates no finalize Job"

# A job without shards: only the CronJob, which runs the job.
job "$T/small.conf" small "schedule = */15 * * * *" "catchup = once"
"$CNS" k8s "$T/small.conf" >"$T/small.yaml"
ok $? "k8s exits 0 for a job without shards"
facts=$(python3 "$T/check.py" "$T/small.yaml" 2>&1)
is "$facts" "kinds CronJob
cronjob consolidate-small default
schedule */15 * * * *
timeZone None
concurrencyPolicy Forbid
startingDeadlineSeconds 86400
activeDeadlineSeconds None
restartPolicy Never
image consolidate:$("$CNS" version | head -1 | awk '{print $2}')
command /bin/sh -c exec consolidate run $T/small.conf
run " "a job without shards runs consolidate run in the CronJob's pod"

# Names that are no DNS label, and a name too long for a CronJob.
long=$(printf 'x%.0s' $(seq 1 80))
job "$T/long.conf" "A.$long" "schedule = @daily"
name=$("$CNS" k8s "$T/long.conf" | python3 -c 'import sys,yaml; print([d for d in yaml.safe_load_all(sys.stdin) if d][-1]["metadata"]["name"])')
like "$name" '^consolidate-a-x+-[0-9a-f]{8}$' "the name is a DNS label with a hash when cut"
is "${#name}" 52 "cut to the 52 characters of a CronJob name"

job "$T/none.conf" none
"$CNS" k8s "$T/none.conf" >/dev/null 2>"$T/err"
is "$?" 3 "a job without a schedule is refused (exit 3)"
"$CNS" k8s "$T/big.conf" --namespace 'Bad NS' >/dev/null 2>&1
is "$?" 2 "an invalid namespace is a usage error"
done_testing
