#!/usr/bin/env bash
# Every thread starts or the run fails: pthread_create made to fail at its
# Nth call (CNS_FAIL_AT=pthread_create:N), for every N from 1 to the number
# of threads a run creates, in replace, append and upsert mode with two
# sources loaded in parallel.  Each time: a non-zero exit with a clear
# message, the run recorded failed in runs.jsonl and in the target's
# history, both locks released, no hang, and the target exactly as before
# (replace) or, for append and upsert, at committed chunks from which the
# next clean run produces exactly the target of runs never interrupted.
#
# Needs a build with fault-injection points: $CNS_HOOKS (make TEST_HOOKS=1).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}
[ -x "$HOOKS" ] || { echo "not ok 1 - $HOOKS is not built (make TEST_HOOKS=1)"; exit 1; }

createdb_fresh th_src
createdb_fresh th_dst

reset_source() {
	q th_src "DROP TABLE IF EXISTS a, b;
	          CREATE TABLE a (id int PRIMARY KEY, v text);
	          CREATE TABLE b (id int PRIMARY KEY, v text);
	          INSERT INTO a SELECT i, 'a' || i FROM generate_series(1, 600) i;
	          INSERT INTO b SELECT i, 'b' || i FROM generate_series(100001, 100600) i"
}
change_source() {
	q th_src "INSERT INTO a SELECT i, 'a' || i FROM generate_series(601, 900) i;
	          INSERT INTO b SELECT i, 'b' || i FROM generate_series(100601, 100900) i;
	          UPDATE a SET v = v || '+' WHERE id % 7 = 0 AND id > 500"
}

cat > th.xf <<'XF'
[schema]
id integer not null
v  text
XF

write_job() {	# write_job JOB MODE
	local key="" inc=""
	[ "$2" = append ] || key="key = id"
	[ "$2" = replace ] || inc="incremental = id"
	cat > "$1.conf" <<JOB
[job]
name        = $1
batch_size  = 100
parallel    = 2
transforms  = th.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo th_dst)
table    = $1
$key
mode     = $2

[source a]
driver   = postgres
conninfo = $(conninfo th_src)
table    = a
key      = id
$inc

[source b]
driver   = postgres
conninfo = $(conninfo th_src)
table    = b
key      = id
$inc
JOB
}

digest() { table_digest th_dst "SELECT concat_ws('|', id, v) FROM $1"; }
reset_target() {
	q th_dst "DROP TABLE IF EXISTS $1; DROP TABLE IF EXISTS ${1}__consolidate_new"
	q th_dst "DELETE FROM consolidate.watermarks WHERE job = '$1'" 2>/dev/null || true
}
# lock_free JOB: the local lock can be taken and no session holds the
# job's advisory lock.
lock_free() {
	flock -n "$TMPDIR_T/lock/$1.lock" true || return 1
	[ "$(q th_dst "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 0 ]
}

# How many threads one run creates: the count of a clean run.
reset_source
write_job count replace
CNS_FAIL_COUNT=1 "$HOOKS" run count.conf 2> count.err
ok $? "a clean run succeeds"
K=$(sed -n 's/^testhook: calls pthread_create \([0-9]*\).*/\1/p' count.err)
ok $(( ${K:-0} >= 6 ? 0 : 1 )) "a run with two sources in parallel creates at least 6 threads (watchdog, canceller, 2 workers, 2 extractors): $K"

swept=0
for mode in replace append upsert; do
	# The reference: a clean first run, the change, a clean second run.
	reset_source
	write_job "ref_$mode" $mode
	reset_target "ref_$mode"
	"$HOOKS" run "ref_$mode.conf" || echo "# reference run 1 failed"
	change_source
	"$HOOKS" run "ref_$mode.conf" || echo "# reference run 2 failed"
	ref=$(digest "ref_$mode")

	for n in $(seq 1 "$K"); do
		job="t_$mode"
		reset_source
		write_job "$job" $mode
		reset_target "$job"
		"$HOOKS" run "$job.conf" > first.out 2>&1 || echo "# first run failed: $(cat first.out)"
		change_source
		before=$(digest "$job")
		start=$(date +%s)
		CNS_FAIL_AT=pthread_create:$n timeout 60 "$HOOKS" run "$job.conf" > fail.out 2>&1
		rc=$?
		took=$(( $(date +%s) - start ))
		what="$mode, pthread_create fails at call $n"
		ok $(( rc != 0 && rc != 124 ? 0 : 1 )) "$what: the run fails (exit $rc, ${took}s, no hang)"
		like "$(cat fail.out)" 'could not start the (run.s watchdog|threads of the run|extraction thread of source "[ab]"): Resource temporarily unavailable' "$what: the message says why"
		like "$(tail -n 1 "log/$job/runs.jsonl")" '"status": ?"failed"' "$what: runs.jsonl records failed"
		run_id=$(tail -n 1 "log/$job/runs.jsonl" | sed -n 's/^{"run_id":"\([^"]*\)".*/\1/p')
		hist=$(q th_dst "SELECT status FROM consolidate.runs WHERE run_id = '$run_id'")
		if grep -q "could not start the run's watchdog" fail.out; then
			# The watchdog starts before the target is reached:
			# the run ends before it is recorded there.
			is "$hist" "" "$what: no history row (the target was never reached)"
		else
			is "$hist" failed "$what: the history table records failed"
		fi
		lock_free "$job"; ok $? "$what: both locks are released"
		if [ $mode = replace ]; then
			is "$(digest "$job")" "$before" "$what: the target is exactly as before"
		else
			"$HOOKS" run "$job.conf" > rerun.out 2>&1
			ok $? "$what: the next clean run succeeds"
			is "$(digest "$job")" "$ref" "$what: and the target is exact"
		fi
		swept=$((swept + 1))
	done
	# One past the last thread: nothing fails.
	job="t_$mode"
	CNS_FAIL_AT=pthread_create:$((K + 1)) "$HOOKS" run "$job.conf" > pass.out 2>&1
	ok $? "$mode: with pthread_create failing at call $((K + 1)) the run succeeds"
done
echo "# swept $swept runs with a failed thread start (N = 1..$K per mode)"
done_testing
