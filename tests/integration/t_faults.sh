#!/usr/bin/env bash
# Nothing lost, nothing doubled: kill consolidate with SIGKILL at named
# points (extraction, mid-COPY, between COPY and COMMIT, around the
# watermark update, during the replace swap) in append, upsert and replace
# mode, change the source, run again to completion, and compare the target
# row for row with the target of runs that were never interrupted.  Then
# the server-side faults: the source's backend terminated mid-run, the
# target server restarted mid-run, and INSERT revoked mid-run.
#
# Needs a build with fault-injection points: $CNS_HOOKS (make TEST_HOOKS=1).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}
[ -x "$HOOKS" ] || { echo "not ok 1 - $HOOKS is not built (make TEST_HOOKS=1)"; exit 1; }

createdb_fresh f_src
createdb_fresh f_dst
psql -X -q -d postgres -c "DROP ROLE IF EXISTS f_loader" -c "CREATE ROLE f_loader LOGIN" >/dev/null
q f_dst "GRANT ALL ON SCHEMA public TO f_loader; GRANT CREATE ON DATABASE f_dst TO f_loader"

reset_source() {
	q f_src "DROP TABLE IF EXISTS ev; CREATE TABLE ev (id int PRIMARY KEY,
	           updated_at timestamptz NOT NULL, payload text)"
	# Groups of ten rows share an updated_at, so chunk boundaries fall
	# inside groups: the tie-breaker key must hold.
	q f_src "INSERT INTO ev SELECT i, timestamptz '2026-01-01 00:00:00.000001+00'
	           + (i / 10) * interval '1.000001 second', 'p' || i
	         FROM generate_series(1, 2000) i"
}
change_source() {
	q f_src "UPDATE ev SET payload = payload || '+', updated_at = updated_at + interval '1 day' WHERE id % 37 = 0"
	q f_src "INSERT INTO ev SELECT i, timestamptz '2026-02-01 00:00:00+00' + (i / 10) * interval '1 second', 'new' || i
	         FROM generate_series(2001, 2300) i"
}

cat > ev.xf <<'XF'
[schema]
id         integer not null
updated_at timestamptz
payload    text
XF

write_job() {	# write_job FILE JOBNAME TABLE MODE [WHERE]
	local key=""
	[ "$4" = append ] || key="key = id"
	cat > "$1" <<JOB
[job]
name        = $2
batch_size  = 150
retries     = 5
retry_delay = 200ms
transforms  = ev.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo f_dst) user=f_loader
table    = $3
$key
mode     = $4

[source ev]
driver      = postgres
conninfo    = $(conninfo f_src)
table       = ev
incremental = updated_at
JOB
	if [ "$4" = replace ]; then
		sed -i '/^incremental/d' "$1"
	fi
	if [ -n "${5:-}" ]; then
		echo "where       = $5" >> "$1"
	fi
}
# A source that takes about two seconds to read, so that a fault can hit
# it mid-extraction.
slow="pg_sleep(0.001) IS NOT NULL"

reset_target() {	# reset_target TABLE JOB
	q f_dst "DROP TABLE IF EXISTS $1; DROP TABLE IF EXISTS ${1}__consolidate_new"
	q f_dst "DELETE FROM consolidate.watermarks WHERE job = '$2'" 2>/dev/null || true
}

digest() { table_digest f_dst "SELECT concat_ws('|', id, updated_at, payload) FROM $1"; }

points="extract.chunk:1 extract.chunk:4 extract.chunk:9 load.begin:1 load.begin:6
load.mid_copy:1 load.mid_copy:3 load.mid_copy:8 load.copied:2 load.copied:7
load.merged:1 load.merged:5 load.checkpointed:1 load.checkpointed:4
load.checkpointed:11 load.committed:1 load.committed:3 load.committed:10
swap.begin:1 swap.before_commit:1 swap.done:1 run.finished:1"

scenarios=0 equal=0 killed=0
for mode in append upsert replace; do
	# The reference: the same two runs, never interrupted.
	reset_source
	write_job ref.conf "ref_$mode" "ref_$mode" $mode
	reset_target "ref_$mode" "ref_$mode"
	"$CNS" run ref.conf || echo "# reference run 1 failed"
	change_source
	"$CNS" run ref.conf || echo "# reference run 2 failed"
	ref=$(digest "ref_$mode")

	for point in $points; do
		reset_source
		write_job t.conf "t_$mode" "t_$mode" $mode
		reset_target "t_$mode" "t_$mode"
		CNS_KILL_AT=$point "$HOOKS" run t.conf > kill.out 2>&1
		rc=$?
		reached=$([ $rc -eq 137 ] && echo killed || echo "not reached, exit $rc")
		[ $rc -eq 137 ] && killed=$((killed + 1))
		if [ $mode = append ]; then
			# Append keeps every version of a row it read, so
			# the rerun must see the state the killed run saw;
			# the change comes before the next scheduled run.
			"$HOOKS" run t.conf > rerun.out 2>&1
			rc2=$?
			change_source
			[ $rc2 -eq 0 ] && { "$HOOKS" run t.conf >> rerun.out 2>&1; rc2=$?; }
		else
			# Upsert and replace: the source changes between the
			# killed run and the rerun.
			change_source
			"$HOOKS" run t.conf > rerun.out 2>&1
			rc2=$?
		fi
		got=$(digest "t_$mode")
		scenarios=$((scenarios + 1))
		if [ $rc2 -eq 0 ] && [ "$got" = "$ref" ]; then
			equal=$((equal + 1))
		else
			echo "# $mode $point: rerun exit $rc2, target $got, reference $ref"
			sed 's/^/#   /' rerun.out
		fi
		ok $(( rc2 == 0 ? 0 : 1 )) "$mode, SIGKILL at $point ($reached): the next run completes"
		is "$got" "$ref" "$mode, SIGKILL at $point: target equals the uninterrupted reference"
	done
done

# -- server-side faults, upsert mode, incremental source --
reset_source
write_job ref.conf ref_srv ref_srv upsert
reset_target ref_srv ref_srv
"$CNS" run ref.conf
ref=$(digest ref_srv)

# The source's backend is terminated mid-run: a transient failure, retried
# from the last checkpoint.
write_job t.conf t_term t_term upsert "$slow"
reset_target t_term t_term
"$HOOKS" run t.conf > term.out 2>&1 &
pid=$!
sleep 1
q f_src "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'f_src' AND application_name = 'consolidate' AND pid <> pg_backend_pid()" > /dev/null
wait $pid; rc=$?
scenarios=$((scenarios + 1))
is "$rc" 0 "source backend terminated mid-run: the run retries and completes"
like "$(cat "$TMPDIR_T"/log/t_term/*.log)" 'retrying from the last checkpoint' "the retry is in the run log"
got=$(digest t_term); [ "$got" = "$ref" ] && equal=$((equal + 1))
is "$got" "$ref" "source backend terminated: target equals the reference"

# The target server restarts mid-run.
write_job t.conf t_restart t_restart upsert "$slow"
reset_target t_restart t_restart
"$HOOKS" run t.conf > restart.out 2>&1 &
pid=$!
sleep 1
"$ROOT/scripts/pg-sandbox" restart "$CNS_PG_SANDBOX"
wait $pid; rc=$?
if [ $rc -ne 0 ]; then
	# Exhausting the retries is a clean failure too; then the next
	# run must complete.
	echo "# first run after the restart ended with $rc:"; sed 's/^/#   /' restart.out
	"$HOOKS" run t.conf; rc=$?
fi
scenarios=$((scenarios + 1))
is "$rc" 0 "target restarted mid-run: a completed retry or a clean failure, then success"
got=$(digest t_restart); [ "$got" = "$ref" ] && equal=$((equal + 1))
is "$got" "$ref" "target restarted: target equals the reference"

# INSERT is revoked mid-run: a permanent failure, not retried.
write_job t.conf t_revoke t_revoke upsert "$slow"
reset_target t_revoke t_revoke
"$HOOKS" run t.conf > revoke.out 2>&1 &
pid=$!
sleep 1
q f_dst "REVOKE INSERT ON t_revoke FROM f_loader"
wait $pid; rc=$?
is "$rc" 1 "INSERT revoked mid-run: the run fails at once"
like "$(cat revoke.out)" 'permission denied' "with the server's reason"
ok $(grep -q 'retrying' "$TMPDIR_T"/log/t_revoke/*.log; echo $(( ! $? ))) "a permanent failure is not retried"
q f_dst "GRANT INSERT ON t_revoke TO f_loader"
"$HOOKS" run t.conf; rc=$?
scenarios=$((scenarios + 1))
is "$rc" 0 "once INSERT is granted again the next run completes"
got=$(digest t_revoke); [ "$got" = "$ref" ] && equal=$((equal + 1))
is "$got" "$ref" "INSERT revoked: target equals the reference"

echo "# fault injection: $scenarios scenarios ($killed killed by SIGKILL at their point), $equal ended with a target equal to the reference"
is "$equal" "$scenarios" "every scenario ends with a target equal to the reference"
ok $(( killed >= 60 ? 0 : 1 )) "at least 20 kill points x 3 modes were reached ($killed)"
done_testing
