#!/usr/bin/env bash
# t_slurm.sh - scripts/slurm-sandbox: a single-node Slurm cluster starts,
# runs real jobs (srun, a throttled sbatch array, a job that depends on the
# array with afterany, also when one of the array's tasks is cancelled, and
# --dependency=singleton), and stops leaving no daemon behind.
#
# Skipped (with one ok line) when Slurm is not installed.
set -u
. "$ROOT/tests/integration/lib.sh"
T=${TMPDIR_T:?}
SB=$T/slurm

slurm_start "$SB"
rc=$?
if [ $rc -eq 1 ]; then
	ok 0 "# SKIP slurm-wlm is not installed"
	done_testing
fi
ok $rc "the sandbox starts"
pids=$(cat "$SB"/munged.pid "$SB"/slurmctld.pid "$SB"/slurmd.pid 2>/dev/null)
is "$(printf '%s\n' "$pids" | grep -c .)" 3 "three daemons wrote their pids"
status=$("$ROOT/scripts/slurm-sandbox" status "$SB")
ok $? "status says all three run"

is "$(sinfo -h -o '%P %a %T' 2>&1)" "debug* up idle" "sinfo sees the idle node"
is "$(timeout 60 srun -t 1 hostname 2>&1)" "$(hostname -s)" \
	"srun runs a command on the node"
# The controller listens on loopback only.
like "$(scontrol show config | grep -i '^CommunicationParameters')" \
	"NoCtldInAddrAny" "the daemons bind loopback only"

# An array of 4 tasks, 2 at a time, and a job that runs after it.
arr=$(sbatch --parsable --array=0-3%2 -o "$T/task_%a.out" \
	--wrap 'echo "task $SLURM_ARRAY_TASK_ID"')
like "$arr" '^[0-9]+$' "sbatch submits an array"
fin=$(sbatch --parsable --dependency="afterany:$arr" -o "$T/fin.out" \
	--wrap "cat $T/task_*.out > $T/all.out")
like "$fin" '^[0-9]+$' "sbatch submits a dependent job"
like "$(scontrol show job "$arr" | grep -o 'ArrayTaskThrottle=[0-9]*' | head -1)" \
	'ArrayTaskThrottle=2' "the array runs at most 2 tasks at a time"
slurm_wait 60 "$arr" "$fin"
ok $? "the array and the dependent job finish"
is "$(cat "$T/all.out" 2>/dev/null)" "$(printf 'task %d\n' 0 1 2 3)" \
	"the dependent job ran after every task"

# afterany: the dependent job runs even when a task was cancelled.
arr=$(sbatch --parsable --array=0-2 -o /dev/null \
	--wrap '[ "$SLURM_ARRAY_TASK_ID" = 1 ] && sleep 300; exit 0')
fin=$(sbatch --parsable --dependency="afterany:$arr" -o "$T/fin2.out" \
	--wrap 'echo ran')
for _ in $(seq 1 100); do
	[ "$(squeue -h -j "${arr}_1" -o %T 2>/dev/null)" = RUNNING ] && break
	sleep 0.1
done
scancel "${arr}_1"
slurm_wait 60 "$arr" "$fin"
ok $? "a cancelled task ends the array"
is "$(cat "$T/fin2.out" 2>/dev/null)" ran \
	"afterany runs the dependent job after a cancelled task"
like "$(scontrol show job "${arr}_1" 2>&1 | grep -o 'JobState=[A-Z]*')" \
	'JobState=CANCELLED' "the task is recorded as cancelled"

# singleton: two jobs of one name never run at once.
s1=$(sbatch --parsable -J cns-single --dependency=singleton -o /dev/null \
	--wrap "date +%s.%N >> $T/single.log; sleep 2; date +%s.%N >> $T/single.log")
s2=$(sbatch --parsable -J cns-single --dependency=singleton -o /dev/null \
	--wrap "date +%s.%N >> $T/single.log; sleep 1; date +%s.%N >> $T/single.log")
slurm_wait 60 "$s1" "$s2"
ok $? "two singleton jobs finish"
ordered=$(awk 'NR == 2 { e = $1 } NR == 3 { exit !($1 >= e) }' \
	"$T/single.log" && echo yes)
is "$ordered" yes "the second singleton job started after the first ended"

"$ROOT/scripts/slurm-sandbox" stop "$SB"
ok $? "the sandbox stops"
left=""
for p in $pids; do
	kill -0 "$p" 2>/dev/null && left="$left $p"
done
is "$left" "" "no daemon is left"
ok "$([ ! -e "$SB" ]; echo $?)" "the sandbox folder is removed"
done_testing
