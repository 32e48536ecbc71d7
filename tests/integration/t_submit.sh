#!/usr/bin/env bash
# t_submit.sh - `consolidate submit --slurm` on a real Slurm
# (scripts/slurm-sandbox) against the real PostgreSQL of the suite.
#
#  - A job without shards goes to Slurm as one `consolidate run`, with the
#    job's name, --dependency=singleton and --time from max_runtime; the
#    target equals that of a run started by hand.
#  - A sharded job in append, upsert and replace mode: the shards run as a
#    throttled array and finalize after it.  In each mode one shard is
#    killed (SIGKILL of its process, scancel of a running task, scancel
#    of a task before it started): finalize then refuses to merge and
#    the target is exactly as before; submitted again, the same plan is
#    resumed and the target equals, row for row, that of the job without
#    shards.
#  - Every sharded submit queues a holder that exports the run's
#    snapshots: it ends once the run is merged, when finalize failed, or
#    when cancelled.  A full load is read in one snapshot: rows changed
#    after the holder exported it never reach the target, and finalize
#    does not read the source again.  With the holder cancelled, finalize
#    reads the source again, says so, and the target is still right.
set -u
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T" || exit 1
T=$TMPDIR_T

slurm_start "$T/slurm"
rc=$?
if [ $rc -eq 1 ]; then
	ok 0 "# SKIP slurm-wlm is not installed"
	done_testing
fi
ok $rc "the Slurm sandbox starts"

createdb_fresh src_sub
createdb_fresh dst_sub
# grp has NULLs and a skew.  Through the view each row costs the reader
# 4 ms, so that a shard runs long enough to be killed while it reads; the
# seeds and the references read the table.
q src_sub "CREATE TABLE items (id int PRIMARY KEY, grp int, name text)"
q src_sub "INSERT INTO items SELECT i, CASE WHEN i % 10 = 0 THEN NULL
             WHEN i % 3 = 0 THEN 7 ELSE i END, 'item ' || i
           FROM generate_series(1, 1200) i"
q src_sub "CREATE VIEW slow_items AS
           SELECT id, grp, name, pg_sleep(0.004) IS NULL AS s FROM items"

cat > items.xf <<'XF'
[schema]
id    bigint not null
grp   integer
name  text

[from src]
id   = id
grp  = grp
name = name
XF

# write_job FILE NAME TABLE MODE [SOURCE KEY = VALUE...]: reads the view
# when a source key is given, else the table.
write_job() {
	local f=$1 name=$2 table=$3 mode=$4 l src=items
	shift 4
	[ $# -eq 0 ] || src=slow_items
	{
		cat <<JOB
[job]
name        = $name
batch_size  = 200
max_runtime = 5m
parallel_shards = 2
transforms  = items.xf
log_dir     = $T/log
lock_dir    = $T/lock
rejects_dir = $T/rejects

[target]
conninfo = $(conninfo dst_sub)
table    = public.$table
mode     = $mode
JOB
		[ "$mode" = append ] || echo "key      = id"
		cat <<JOB

[source src]
driver   = postgres
conninfo = $(conninfo src_sub)
table    = $src
JOB
		for l in "$@"; do echo "$l"; done
	} >"$f"
}
digest() { table_digest dst_sub "SELECT concat_ws('|', id, coalesce(grp::text, '<null>'), name) FROM $1"; }

# ---- a job without shards ----
write_job whole.conf whole whole_t upsert
out=$("$CNS" submit whole.conf --slurm -o "$T/whole.out" 2>&1)
ok $? "submit of a job without shards exits 0"
id=$(printf '%s\n' "$out" | sed -n 's/^run \([0-9]*\)$/\1/p')
like "$id" '^[0-9]+$' "it prints the Slurm job id ($out)"
info=$(scontrol show job "$id" 2>&1)
like "$info" 'JobName=consolidate-whole($| )' "the Slurm job carries the job's name"
like "$info" 'TimeLimit=00:07:00 ' \
	"--time = max_runtime + kill_grace + 1m, rounded up to the minute"
like "$info" 'Dependency=(singleton|\(null\))' "and --dependency=singleton"
slurm_wait 120 "$id"
ok $? "the Slurm job ends"
is "$(slurm_state "$id")" COMPLETED "it completes"
write_job ref.conf ref_whole ref_whole_t upsert
"$CNS" run ref.conf
ok $? "the reference run succeeds"
is "$(digest whole_t)" "$(digest ref_whole_t)" \
	"the target equals that of a run by hand"
is "$(q dst_sub 'SELECT count(*) FROM whole_t')" 1200 "1200 rows"

# Usage.
"$CNS" submit whole.conf >/dev/null 2>&1
is "$?" 2 "submit without --slurm is a usage error"

# ---- sharded, in each mode ----
if ! "$CNS" shard "$T/whole.conf" --plan >/dev/null 2>"$T/plan.err" &&
	grep -q 'not built yet' "$T/plan.err"; then
	ok 0 "# SKIP sharded runs are not built in this tree"
	done_testing
fi

# A change between the seed and the run, so upsert and replace have
# something to do.
change_source() {
	q src_sub "UPDATE items SET name = name || ' v2' WHERE id % 7 = 0"
	q src_sub "DELETE FROM items WHERE id % 11 = 0"
	q src_sub "INSERT INTO items SELECT i, i % 5, 'new ' || i
		   FROM generate_series(1201, 1300) i"
}
reset_source() {
	q src_sub "TRUNCATE items"
	q src_sub "INSERT INTO items SELECT i, CASE WHEN i % 10 = 0 THEN NULL
		     WHEN i % 3 = 0 THEN 7 ELSE i END, 'item ' || i
		   FROM generate_series(1, 1200) i"
}

# running_task ARRAY N: waits until task N of the array runs.
running_task() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(squeue -h -j "$1_$2" -o %T 2>/dev/null)" = RUNNING ] &&
			return 0
		sleep 0.1
	done
	return 1
}

for mode in append upsert replace; do
	reset_source
	write_job "seed_ref_$mode.conf" "seedr_$mode" "ref_$mode" "$mode"
	write_job "seed_sh_$mode.conf" "seeds_$mode" "sh_$mode" "$mode"
	write_job "ref_$mode.conf" "ref_$mode" "ref_$mode" "$mode"
	write_job "sh_$mode.conf" "sh_$mode" "sh_$mode" "$mode" \
		"shards = 2" "split_by = grp"
	"$CNS" run "seed_ref_$mode.conf" && "$CNS" run "seed_sh_$mode.conf"
	ok $? "$mode: both targets seeded"
	change_source
	"$CNS" run "ref_$mode.conf"
	ok $? "$mode: the reference run (no shards) succeeds"
	seed=$(digest "sh_$mode")

	# replace: held, so that a task is surely cancelled before it starts.
	hold=()
	[ "$mode" = replace ] && hold=(--hold)
	out=$("$CNS" submit "sh_$mode.conf" --slurm -o "$T/sh_$mode-%A_%a.out" \
		"${hold[@]}" 2>&1)
	ok $? "$mode: submit exits 0"
	run=$(printf '%s\n' "$out" | sed -n 's/^run \([^ ]*\) shards [0-9]*$/\1/p')
	n=$(printf '%s\n' "$out" | sed -n 's/^run [^ ]* shards \([0-9]*\)$/\1/p')
	hid=$(printf '%s\n' "$out" | sed -n 's/^holder \([0-9]*\)$/\1/p')
	arr=$(printf '%s\n' "$out" | sed -n 's/^shards \([0-9]*\)$/\1/p')
	fin=$(printf '%s\n' "$out" | sed -n 's/^finalize \([0-9]*\)$/\1/p')
	like "$run:$n:$hid:$arr:$fin" '^.+:[0-9]+:[0-9]+:[0-9]+:[0-9]+$' \
		"$mode: it prints the run, its shards and the three job ids ($out)"
	like "$(scontrol show job "$hid")" "JobName=consolidate-sh_$mode.hold(\$| )" \
		"$mode: the holder has a name of its own"
	info=$(scontrol show job "$arr" 2>&1)
	# The dependency is gone once the holder started.
	like "$info" "Dependency=(after:$hid[^ ]*|\(null\))" "$mode: the shards start after the holder started"
	like "$info" "ArrayTaskThrottle=2" "$mode: the array runs 2 shards at a time"
	like "$info" "JobName=consolidate-sh_$mode(\$| )" "$mode: the array carries the job's name"
	like "$(scontrol show job "$fin")" "Dependency=afterany:${arr}_\\*" \
		"$mode: finalize waits for the whole array (afterany)"

	case $mode in
	append) # SIGKILL of the shard's process while it reads.
		running_task "$arr" 1
		ok $? "$mode: shard 1 runs"
		sleep 0.5
		scancel --full --signal=KILL "${arr}_1"
		how="SIGKILL of its process" ;;
	upsert) # scancel of a running task (SIGTERM, then SIGKILL).
		running_task "$arr" 1
		ok $? "$mode: shard 1 runs"
		sleep 0.5
		scancel "${arr}_1"
		how="scancel while it runs" ;;
	replace) # scancel before the task started (sbatch options pass).
		like "$(squeue -h -j "$arr" -o %r | sort -u)" '^JobHeldUser$' \
			"$mode: --hold after --slurm reached sbatch"
		scancel "${arr}_$((n - 1))"
		scontrol release "$hid" "$arr" "$fin"
		how="scancel before it started" ;;
	esac
	slurm_wait 180 "$arr" "$fin"
	ok $? "$mode: the array and finalize end"
	is "$(slurm_state "$fin")" FAILED \
		"$mode: finalize refuses the run with a shard killed ($how)"
	slurm_wait 30 "$hid"
	ok $? "$mode: the holder ends when finalize failed"
	like "$(cat "$T/sh_$mode-${hid}_"*.out 2>/dev/null)" "finalize failed" \
		"$mode: and says why"
	is "$(digest "sh_$mode")" "$seed" "$mode: and the target is as before"
	case $mode in
	replace) killed=$((n - 1)) ;;
	*) killed=1 ;;
	esac
	like "$("$CNS" history "sh_$mode.conf" 2>&1)" \
		"^$run  [0-9T:Z-]+  planned  $((n - 1))/$n  -  $killed (pending|running|failed)\$" \
		"$mode: history shows the run planned, with the shard not done"

	out2=$("$CNS" submit "sh_$mode.conf" --slurm -o "$T/sh_$mode-%A_%a.out" 2>&1)
	ok $? "$mode: the second submit exits 0"
	like "$out2" "^run $run shards $n" "$mode: it resumes the same plan"
	hid2=$(printf '%s\n' "$out2" | sed -n 's/^holder \([0-9]*\)$/\1/p')
	arr2=$(printf '%s\n' "$out2" | sed -n 's/^shards \([0-9]*\)$/\1/p')
	fin2=$(printf '%s\n' "$out2" | sed -n 's/^finalize \([0-9]*\)$/\1/p')
	slurm_wait 180 "$arr2" "$fin2" "$hid2"
	ok $? "$mode: the second holder, array and finalize end"
	is "$(slurm_state "$fin2")" COMPLETED "$mode: finalize merges the run"
	is "$(slurm_state "$hid2")" COMPLETED "$mode: the holder ends once the run is merged"
	is "$(q dst_sub "SELECT count(*) FROM consolidate.shards WHERE run_id = '$run'
		AND read_snapshot = snapshot")" "$n" \
		"$mode: every shard read in the holder's snapshot"
	is "$(digest "sh_$mode")" "$(digest "ref_$mode")" \
		"$mode: the sharded target equals the unsharded one, row for row"
	like "$("$CNS" history "sh_$mode.conf" 2>&1)" \
		"^$run  [0-9T:Z-]+  merged  $n/$n  [0-9]+  -\$" \
		"$mode: history shows the run merged, every shard done"
done

# ---- a full load read in one snapshot across the cluster ----
# The holder submit queues exports the snapshot; rows changed at the
# source after it did must not reach the target, and finalize must not
# read the source again (it would see them).  Then the holder is
# cancelled before the shards read: they read in snapshots of their own,
# and finalize reads the source again, says so, and the target is right.
reset_source
write_job ref_hold.conf ref_hold ref_hold upsert
"$CNS" run ref_hold.conf
ok $? "hold: the reference run (no shards) succeeds"
write_job sh_hold.conf sh_hold sh_hold upsert "shards = 3" "split_by = grp"
# submit_held TAG: submits sh_hold with every job held; sets run hid arr fin.
submit_held() {
	out=$("$CNS" submit sh_hold.conf --slurm -o "$T/$1-%j.out" --hold 2>&1)
	ok $? "$1: submit exits 0"
	run=$(printf '%s\n' "$out" | sed -n 's/^run \([^ ]*\) shards [0-9]*$/\1/p')
	hid=$(printf '%s\n' "$out" | sed -n 's/^holder \([0-9]*\)$/\1/p')
	arr=$(printf '%s\n' "$out" | sed -n 's/^shards \([0-9]*\)$/\1/p')
	fin=$(printf '%s\n' "$out" | sed -n 's/^finalize \([0-9]*\)$/\1/p')
	is "$(q dst_sub "SELECT hold FROM consolidate.shard_runs WHERE run_id = '$run'")" submitted \
		"$1: the run awaits its holder"
	scontrol release "$hid"
	for ((i = 0; i < 600; i++)); do
		[ "$(q dst_sub "SELECT hold FROM consolidate.shard_runs WHERE run_id = '$run'")" = held ] && break
		sleep 0.1
	done
	is "$(q dst_sub "SELECT hold FROM consolidate.shard_runs WHERE run_id = '$run'")" held \
		"$1: the holder exported its snapshot"
}
late_change() {
	q src_sub "UPDATE items SET name = name || ' late$1' WHERE id % 5 = 0"
	q src_sub "INSERT INTO items SELECT i, i % 4, 'late$1 ' || i
		   FROM generate_series($2, $2 + 49) i"
}
submit_held hold
like "$(scontrol show job "$arr")" "Dependency=after:$hid" \
	"hold: the shards wait for the holder to start"
late_change 1 2001
scontrol release "$arr" "$fin"
slurm_wait 180 "$arr" "$fin" "$hid"
ok $? "hold: the holder, the array and finalize end"
is "$(slurm_state "$fin")" COMPLETED "hold: finalize merges the run"
is "$(slurm_state "$hid")" COMPLETED "hold: the holder ends once the run is merged"
is "$(q dst_sub "SELECT count(*) FROM consolidate.shards WHERE run_id = '$run'
	AND snapshot IS NOT NULL AND read_snapshot = snapshot")" 4 \
	"hold: every shard read in the holder's snapshot"
is "$(digest sh_hold)" "$(digest ref_hold)" \
	"hold: the target is the source as of the snapshot, row for row"
is "$(q dst_sub "SELECT count(*) FROM sh_hold WHERE name LIKE '%late%'")" 0 \
	"hold: no row changed after the snapshot reached the target"
grep -q "read again" "$T/hold-$fin.out"
ok $((!$?)) "hold: finalize did not read the source again"

submit_held died
scancel "$hid"
slurm_wait 30 "$hid"
ok $? "died: the holder ends when cancelled"
is "$(slurm_state "$hid")" CANCELLED "died: it was cancelled"
late_change 2 3001
scontrol release "$arr" "$fin"
slurm_wait 180 "$arr" "$fin"
ok $? "died: the array and finalize end"
is "$(slurm_state "$fin")" COMPLETED "died: finalize merges the run"
like "$(cat "$T/died-$fin.out")" "warning: run \"$run\": 1 full-load source was read again by finalize" \
	"died: finalize says it read the source again"
"$CNS" run ref_hold.conf
ok $? "died: the reference runs again"
is "$(digest sh_hold)" "$(digest ref_hold)" \
	"died: the target equals the unsharded one, row for row"
is "$(squeue -h -n consolidate-sh_hold.hold,consolidate-sh_hold | wc -l)" 0 \
	"no job of the run is left in the queue"
done_testing
