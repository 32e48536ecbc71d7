#!/usr/bin/env bash
# t_scrontab.sh - `consolidate scrontab`: the entries it prints (job name,
# --time from max_runtime, cron fields, jitter as a sleep, the zone
# warning), and that a real slurmctld (scripts/slurm-sandbox) accepts them
# as cron jobs with those options.
set -u
. "$ROOT/tests/integration/lib.sh"
T=${TMPDIR_T:?}
SB=$T/slurm

job() { # job NAME SCHEDULE [KEY = VALUE...]
	local name=$1 sched=$2 l
	shift 2
	{
		echo "[job]"
		echo "name = $name"
		echo "schedule = $sched"
		echo "transforms = t.xf"
		for l in "$@"; do echo "$l"; done
		echo
		echo "[target]"
		echo "driver = postgres"
		echo "conninfo = host=/nonexistent"
		echo "table = t"
		echo
		echo "[source a]"
		echo "driver = csv"
		echo "path = a.csv"
	} >"$T/jobs/$name.conf"
}
mkdir -p "$T/jobs"
job hourly "5 * * * *" "max_runtime = 10m" "kill_grace = 30s"
job london "30 1 * * *" "timezone = Europe/London"
job odd.name-1 "0 3 * * 1-5" "jitter = 5m"
job sharded "0 4 * * *"
printf 'shards = 3\n' >>"$T/jobs/sharded.conf"

out=$("$CNS" scrontab --bin /opt/c/consolidate "$T/jobs" 2>"$T/err")
ok $? "scrontab exits 0"
body=$(printf '%s\n' "$out" | grep -v '^# ' | grep -v '^$')
off=$(printf '%s\n' "$out" | sed -n 's/^0 3 \* \* 1-5 sleep \([0-9]*\) && .*/\1/p')
like "$off" '^[0-9]+$' "jitter becomes a sleep before the run"
[ "${off:-301}" -lt 300 ]
ok $? "the sleep is within the jitter (5m)"
is "$body" "#SCRON --job-name=consolidate-hourly-cron
#SCRON --time=0-00:12:00
5 * * * * /opt/c/consolidate run $T/jobs/hourly.conf
#SCRON --job-name=consolidate-london-cron
30 1 * * * /opt/c/consolidate run $T/jobs/london.conf
#SCRON --job-name=consolidate-odd.name-1-cron
0 3 * * 1-5 sleep $off && /opt/c/consolidate run $T/jobs/odd.name-1.conf
#SCRON --job-name=consolidate-sharded-cron
0 4 * * * /opt/c/consolidate submit $T/jobs/sharded.conf --slurm" \
	"the entries: job name, --time = max_runtime + kill_grace + 1m (minutes), fields, command"
like "$out" "# WARNING: this schedule is meant in Europe/London; scrontab reads it in the" \
	"a job with a timezone gets a warning in the file"
like "$(grep -c WARNING <<<"$out")" '^1$' "only the job with a timezone"
like "$(cat "$T/err")" 'warning: job "london" is scheduled in Europe/London, but scrontab fires in the zone of slurmctld' \
	"and on stderr"
like "$(cat "$T/err")" 'HINT: run slurmctld with that TZ' "with a hint"

job bad "* * * * * *"
"$CNS" scrontab "$T/jobs/bad.conf" >"$T/bad.out" 2>&1
is "$?" 3 "a schedule scrontab cannot say fails with exit 3"
like "$(cat "$T/bad.out")" '# .*; use `consolidate schedule`' \
	"and says so in the file"
rm -f "$T/jobs/bad.conf"

# A real slurmctld takes the options.  Debian's slurm-client has no
# scrontab program, so each entry's #SCRON options are given to
# `sbatch --test-only`, which parses and checks them as scrontab does.
slurm_start "$SB"
rc=$?
if [ $rc -eq 1 ]; then
	ok 0 "# SKIP slurm-wlm is not installed"
	done_testing
fi
ok $rc "the Slurm sandbox starts"
opts=()
checked=0
while IFS= read -r l; do
	case "$l" in
	"#SCRON "*) opts+=("${l#\#SCRON }") ;;
	[0-9*]*)
		r=$(sbatch --test-only "${opts[@]}" --wrap true 2>&1)
		like "$r" "to start at" "sbatch accepts ${opts[*]}"
		checked=$((checked + 1))
		opts=()
		;;
	esac
done <<<"$out"
is "$checked" 4 "every entry was checked"
r=$(sbatch --test-only --time=0-00:00:99x --wrap true 2>&1)
like "$r" "[Ii]nvalid" "(and sbatch --test-only does refuse a bad --time)"
"$ROOT/scripts/slurm-sandbox" stop "$SB"
ok $? "the sandbox stops"
done_testing
