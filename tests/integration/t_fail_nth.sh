#!/usr/bin/env bash
# Fail the Nth call, in the style of SQLite's test_malloc.c: for each mode
# (append, upsert, replace) and each wrapped function (the allocators,
# write, fsync, rename, PQconnectdb, PQexec, PQputCopyData, SQLFetch),
# make its Nth call fail for N = 1 .. the number of calls a clean run
# makes, and assert after each run:
#   - no crash (exit < 128) and no hang (a timeout);
#   - exit 0 only with the exact target;
#   - otherwise a clear error (not empty, no "Success"), no "ok" record
#     of the run anywhere, a failed or crashed record of it, and the
#     target as before (replace) or at a committed checkpoint (append,
#     upsert: the rows present are exactly the source rows up to the
#     stored watermark, none twice);
#   - the next clean run produces the exact target.
# Within the test's time budget, every N is tried for names that a run
# calls at most SWEEP_FULL_UPTO (4) times; for the others N is sampled:
# the first and last calls and SWEEP_SAMPLE (1) evenly spread between.
# SWEEP_FULL=1 tries every N of every name (about 20 minutes).
# Prints the counts: calls per name, runs failed per name, outcomes.
#
# Needs a build with fault-injection points: $CNS_HOOKS (make TEST_HOOKS=1).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}
[ -x "$HOOKS" ] || { echo "not ok 1 - $HOOKS is not built (make TEST_HOOKS=1)"; exit 1; }
FULL_UPTO=${SWEEP_FULL_UPTO:-4}	# every N for names with at most this many calls
SAMPLE=${SWEEP_SAMPLE:-1}	# N values tried between the first and last
TIMEOUT=${SWEEP_TIMEOUT:-60}

createdb_fresh n_src
createdb_fresh n_dst
q n_src "CREATE TABLE ev (id int PRIMARY KEY, updated_at timestamptz NOT NULL,
           payload text)"
q n_src "INSERT INTO ev SELECT i, timestamptz '2026-01-01 00:00:00+00'
           + (i / 7) * interval '1 second', 'p' || i
         FROM generate_series(1, 250) i"
# A second source read through ODBC (SQLite), so that SQLFetch is swept.
sqlite3 inv.db "CREATE TABLE inv (id integer PRIMARY KEY, payload text);
  WITH RECURSIVE s(i) AS (SELECT 1001 UNION ALL SELECT i + 1 FROM s WHERE i < 1100)
  INSERT INTO inv SELECT i, 'q' || i FROM s;"

cat > ev.xf <<'XF'
[schema]
id         integer not null
updated_at timestamptz
payload    text

[from inv]
id         = cast(id as integer)
payload    = payload
XF

write_job() {	# write_job MODE
	local key="key = id" inc="incremental = updated_at"
	[ "$1" = append ] && key=""
	[ "$1" = replace ] && inc=""
	cat > "$1.conf" <<JOB
[job]
name        = nth_$1
batch_size  = 60
transforms  = ev.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
metrics_file = $TMPDIR_T/metrics/nth_$1.prom

[target]
conninfo = $(conninfo n_dst)
table    = nth_$1
$key
mode     = $1

[source ev]
driver   = postgres
conninfo = $(conninfo n_src)
table    = ev
$inc

[source inv]
driver     = odbc
connection = Driver=SQLite3;Database=$TMPDIR_T/inv.db
table      = inv
JOB
	if [ "$1" != replace ]; then
		printf 'incremental = id\nkey        = id\n' >> "$1.conf"
	fi
}
mkdir -p metrics

row_sql="concat_ws('|', id, updated_at, payload)"
want_all=$( (q n_src "SELECT $row_sql FROM ev"; sqlite3 inv.db "SELECT id || '|' || payload FROM inv") | sort | md5sum | cut -c1-32)
target_rows() { q n_dst "SELECT $row_sql FROM nth_$1" 2>/dev/null | sort; }
target_digest() { target_rows "$1" | md5sum | cut -c1-32; }

# A committed checkpoint: no row twice, and each source's rows in the
# target are exactly its rows up to its stored watermark.
checkpoint_ok() {	# checkpoint_ok MODE
	local m=$1 wm want got dup
	dup=$(q n_dst "SELECT count(*) - count(DISTINCT id) FROM nth_$m" 2>/dev/null || echo 0)
	[ "${dup:-0}" = 0 ] || { echo "# $m: $dup rows doubled"; return 1; }
	wm=$(q n_dst "SELECT value[1] || '|' || value[2] FROM consolidate.watermarks
	              WHERE job = 'nth_$m' AND source = 'ev'" 2>/dev/null)
	want=""
	[ -n "$wm" ] && want=$(q n_src "SELECT $row_sql FROM ev WHERE (updated_at, id) <=
	            ('${wm%%|*}'::timestamptz, ${wm##*|})" | sort)
	got=$(q n_dst "SELECT $row_sql FROM nth_$m WHERE id <= 1000" 2>/dev/null | sort)
	[ "$got" = "$want" ] || { echo "# $m: ev rows are not the rows up to its watermark ($wm)"; return 1; }
	wm=$(q n_dst "SELECT value[1] FROM consolidate.watermarks
	              WHERE job = 'nth_$m' AND source = 'inv'" 2>/dev/null)
	want=""
	[ -n "$wm" ] && want=$(sqlite3 inv.db "SELECT id || '|' || payload FROM inv WHERE id <= $wm" | sort)
	got=$(q n_dst "SELECT $row_sql FROM nth_$m WHERE id > 1000" 2>/dev/null | sort)
	[ "$got" = "$want" ] || { echo "# $m: inv rows are not the rows up to its watermark ($wm)"; return 1; }
	return 0
}

reset_target() {	# reset_target MODE (one round trip)
	local old=""
	[ "$1" = replace ] && old="CREATE TABLE nth_replace (id integer PRIMARY KEY,
	           updated_at timestamptz, payload text);
	         INSERT INTO nth_replace SELECT i, NULL, 'old' || i
	           FROM generate_series(1, 40) i;"
	# The old table of replace is what a failed replace must leave.
	q n_dst "DROP TABLE IF EXISTS nth_$1;
	         DO \$\$BEGIN IF to_regclass('consolidate.runs') IS NOT NULL THEN
	           DELETE FROM consolidate.watermarks WHERE job = 'nth_$1';
	           DELETE FROM consolidate.runs WHERE job = 'nth_$1';
	         END IF; END\$\$; $old" >/dev/null
	rm -rf "log/nth_$1"
}

# records MODE: "OK BAD" - ok records, and failed or crashed ones, in
# runs.jsonl and consolidate.runs together.
records() {
	local f="log/nth_$1/runs.jsonl" jok=0 jbad=0 t
	if [ -f "$f" ]; then
		# The run's status follows its duration (sources have one too).
		jok=$(grep -cE '"duration_s":[^,]*,"status":"ok"' "$f")
		jbad=$(grep -cE '"duration_s":[^,]*,"status":"(failed|crashed|timed_out)"' "$f")
	fi
	t=$(q n_dst "SELECT count(*) FILTER (WHERE status = 'ok') || ' ' ||
	             count(*) FILTER (WHERE status IN ('failed', 'crashed'))
	             FROM consolidate.runs WHERE job = 'nth_$1'" 2>/dev/null || echo "0 0")
	echo "$(( jok + ${t% *} )) $(( jbad + ${t#* } ))"
}

names=${SWEEP_NAMES:-"PQconnectdb PQexec PQputCopyData SQLFetch write fsync rename malloc"}
count_names="PQconnectdb PQexec PQputCopyData SQLFetch write fsync rename malloc"
# A failure in writing the run's own records comes after its data
# committed (replace: after the swap); the run then fails with the new
# target in place, which is a consistent target too.
late='could not write (the run log|the metrics file|"[^"]*runs\.jsonl")'

# sweep MODE: one mode's sweep; prints "not ok" lines and, at the end,
# "COUNT name calls", "FAILED name runs" and "OUTCOME kind n" lines.
sweep() {
	local mode=$1 c n name rc rc2 msg what bad before old ns
	local ok_runs=0 failed_ok=0 died=0 problems=0 tried=0
	declare -A calls failed_runs
	reset_target $mode
	old=$(target_digest $mode)
	# Count the calls of a clean run.
	CNS_FAIL_COUNT=1 timeout $TIMEOUT "$HOOKS" run $mode.conf > count.$mode.out 2>&1
	rc=$?
	[ $rc -eq 0 ] && [ "$(target_digest $mode)" = "$want_all" ] ||
		echo "not ok - $mode: the counting run is not clean (exit $rc)"
	for name in $count_names; do
		c=$(sed -n "s/^testhook: calls $name \([0-9]*\) .*/\1/p" count.$mode.out)
		calls[$name]=${c:-0}
		echo "COUNT $name ${c:-0}"
	done
	for name in $names; do
		c=${calls[$name]}
		[ "$c" -gt 0 ] || continue
		if [ "${SWEEP_FULL:-0}" = 1 ] || [ "$c" -le "$FULL_UPTO" ]; then
			ns=$(seq 1 "$c")
		else
			# Sampled: the first and last calls and an even spread.
			ns=$( (echo 1; echo "$c"; for k in $(seq 1 "$SAMPLE"); do
				echo $(( c * k / (SAMPLE + 1) )); done) | sort -nu)
			echo "SAMPLED $name $c $(echo $ns)"
		fi
		for n in $ns; do
			reset_target $mode
			before=$(records $mode)
			CNS_FAIL_AT=$name:$n timeout $TIMEOUT "$HOOKS" run $mode.conf > f.$mode.out 2>&1
			rc=$?
			tried=$((tried + 1))
			msg=$(grep -v '^testhook:' f.$mode.out)
			what="$mode, $name fails at call $n of $c"
			bad=""
			if [ $rc -eq 124 ]; then
				bad="hang (timeout ${TIMEOUT}s)"
			elif [ $rc -ge 128 ]; then
				bad="crash (exit $rc)"
			elif [ $rc -eq 0 ]; then
				if [ "$(target_digest $mode)" = "$want_all" ]; then
					ok_runs=$((ok_runs + 1))
				else
					bad="exit 0 with a target that is not exact"
				fi
			else
				failed_runs[$name]=$(( ${failed_runs[$name]:-0} + 1 ))
				if [ -z "$msg" ]; then
					bad="failed without a message"
				elif printf '%s' "$msg" | grep -q 'Success'; then
					bad="a message with \"Success\""
				elif [ $mode = replace ]; then
					got=$(target_digest $mode)
					if [ "$got" != "$old" ] && ! { [ "$got" = "$want_all" ] &&
					     printf '%s' "$msg" | grep -qE "$late|^consolidate: out of memory \\("; }; then
						bad="failed, and the old table changed"
					fi
				elif ! checkpoint_ok $mode; then
					bad="failed, and the target is not at a committed checkpoint"
				fi
				# Out of memory ends the process at once, as a
				# kill would: its records are judged by the next
				# run (crashed), not by it.
				if [ -z "$bad" ] && ! printf '%s' "$msg" | grep -q '^consolidate: out of memory (' &&
				   [ "$(records $mode | cut -d' ' -f1)" != "${before% *}" ]; then
					bad="failed, but an ok record was written"
				fi
			fi
			# The next clean run produces the exact target (and
			# records a run that died without its end as crashed).
			timeout $TIMEOUT "$HOOKS" run $mode.conf > r.$mode.out 2>&1
			rc2=$?
			if [ -z "$bad" ] && [ $rc2 -ne 0 ]; then
				bad="the next clean run failed (exit $rc2): $(head -c 300 r.$mode.out)"
			elif [ -z "$bad" ] && [ "$(target_digest $mode)" != "$want_all" ]; then
				bad="the next clean run's target is not exact"
			elif [ -z "$bad" ] && [ $rc -ne 0 ] && ! printf '%s' "$msg" | grep -q '^consolidate: out of memory (' &&
			     [ "$(records $mode | cut -d' ' -f2)" -le "${before#* }" ]; then
				bad="no failed or crashed record of the failed run"
			fi
			if [ -n "$bad" ]; then
				problems=$((problems + 1))
				echo "not ok - $what: $bad"
				echo "#   exit $rc: $(printf '%s' "$msg" | head -c 400)"
			elif [ $rc -ne 0 ] && printf '%s' "$msg" | grep -q '^consolidate: out of memory ('; then
				died=$((died + 1))
			elif [ $rc -ne 0 ]; then
				failed_ok=$((failed_ok + 1))
			fi
		done
	done
	for name in $count_names; do
		echo "FAILED $name ${failed_runs[$name]:-0}"
	done
	echo "OUTCOME tried $tried"
	echo "OUTCOME ok $ok_runs"
	echo "OUTCOME failed $failed_ok"
	echo "OUTCOME died $died"
	echo "OUTCOME problems $problems"
}

# The modes use their own job, table and files: they run side by side.
modes=${SWEEP_MODES:-"append upsert replace"}
for mode in $modes; do
	write_job $mode
	sweep $mode > sweep.$mode.out 2>&1 &
done
wait

sum() { cat $(for m in $modes; do echo sweep.$m.out; done) | awk -v k="$1" '$1 == "OUTCOME" && $2 == k { s += $3 } END { print s + 0 }'; }
for mode in $modes; do
	grep -E '^(not ok|#)' sweep.$mode.out
	TEST_FAILED=$(( TEST_FAILED + $(grep -c '^not ok' sweep.$mode.out) ))
	line="# $mode:"
	for name in $count_names; do
		line="$line $name $(awk -v k=$name '$1 == "FAILED" && $2 == k { print $3 }' sweep.$mode.out)/$(awk -v k=$name '$1 == "COUNT" && $2 == k { print $3 }' sweep.$mode.out)"
	done
	echo "$line  (runs failed / calls in a clean run)"
	sed -n 's/^SAMPLED \([^ ]*\) \([0-9]*\) \(.*\)/#   \1: \2 calls, sampled N = \3/p' sweep.$mode.out
done
echo "# sweep: $(sum tried) runs with one failed call"
echo "# outcomes: $(sum ok) succeeded with the exact target, $(sum failed) failed cleanly (clear error, failed record, target intact or at a checkpoint), $(sum died) ended at once on out of memory (target intact, the next run exact), $(sum problems) problems"
ok $(( $(sum problems) == 0 ? 0 : 1 )) "every run with a failed call succeeded exactly or failed cleanly, and the next run was exact"
done_testing
