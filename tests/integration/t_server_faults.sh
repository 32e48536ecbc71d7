#!/usr/bin/env bash
# What real servers do to a run: the target crashes (immediate shutdown,
# crash recovery) mid-run, the session holding the advisory lock ends and
# a second run starts, the acknowledgement of a chunk's COMMIT is lost
# after the server committed it.  Each scenario compares the target row
# for row with a clean reference run, and checks what the run and its
# records say.
#
# Needs a build with fault-injection points: $CNS_HOOKS (make TEST_HOOKS=1).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}
[ -x "$HOOKS" ] || { echo "not ok 1 - $HOOKS is not built (make TEST_HOOKS=1)"; exit 1; }

createdb_fresh sf_src
createdb_fresh sf_dst

# Source "one" is small; source "two" is slow (a millisecond a row), so
# that a fault lands while it loads.
q sf_src "CREATE TABLE one (id int PRIMARY KEY, updated_at timestamptz NOT NULL, payload text);
          INSERT INTO one SELECT i, timestamptz '2026-01-01 00:00:00+00' + (i / 10) * interval '1 second', 'one' || i
          FROM generate_series(1, 3000) i"
q sf_src "CREATE TABLE two (id int PRIMARY KEY, updated_at timestamptz NOT NULL, payload text);
          INSERT INTO two SELECT i, timestamptz '2026-01-01 00:00:00+00' + (i / 10) * interval '1 second', 'two' || i
          FROM generate_series(100001, 104000) i"

cat > t.xf <<'XF'
[schema]
id         integer not null
updated_at timestamptz
payload    text
XF

write_job() {	# write_job FILE NAME MODE LOCKDIR SOURCES [JOB-LINES...]
	local file=$1 name=$2 mode=$3 lockdir=$4 sources=$5 key=""
	shift 5
	[ "$mode" = append ] || key="key      = id"
	cat > "$file" <<JOB
[job]
name        = $name
batch_size  = 200
parallel    = 1
retries     = 8
retry_delay = 200ms
transforms  = t.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $lockdir
rejects_dir = $TMPDIR_T/rejects
JOB
	for line in "$@"; do echo "$line" >> "$file"; done
	cat >> "$file" <<JOB

[target]
conninfo = $(conninfo sf_dst)
table    = $name
$key
mode     = $mode
JOB
	for s in $sources; do
		cat >> "$file" <<JOB

[source $s]
driver   = postgres
conninfo = $(conninfo sf_src)
JOB
		case $mode in
		replace) echo "query    = SELECT id, updated_at, payload FROM $s WHERE pg_sleep(0.001) IS NOT NULL" >> "$file" ;;
		*) printf 'table    = %s\nincremental = updated_at\nkey      = id\n' "$s" >> "$file" ;;
		esac
	done
}

# slow_table NAME: the target table, made slow to write (a millisecond a
# row, by a trigger), so that a fault lands between two chunks of an
# incremental source (whose ordered query delivers its rows all at once).
q sf_dst "CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS
          \$\$BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END\$\$"
slow_table() {
	q sf_dst "CREATE TABLE $1 (id integer NOT NULL PRIMARY KEY, updated_at timestamptz, payload text);
	          CREATE TRIGGER slow BEFORE INSERT ON $1 FOR EACH ROW EXECUTE FUNCTION slow_row()"
}

digest() { table_digest sf_dst "SELECT concat_ws('|', id, updated_at, payload) FROM $1"; }
doubled() { q sf_dst "SELECT count(*) - count(DISTINCT id) FROM $1"; }
runs_of() { q sf_dst "SELECT string_agg(status, ',' ORDER BY started_at) FROM consolidate.runs WHERE job = '$1'"; }

# wait_log JOB REGEX: waits (up to 30 s) until the job's run log matches.
wait_log() {
	for _ in $(seq 1 300); do
		cat "$TMPDIR_T"/log/"$1"/*.log 2>/dev/null | grep -qE -- "$2" && return 0
		sleep 0.1
	done
	return 1
}

# crash_mid_run CONF JOB REGEX: runs the job, crashes the target once its
# log matches REGEX, and waits for the run; sets rc.
crash_mid_run() {
	"$HOOKS" run "$1" > "$2.out" 2>&1 &
	local pid=$!
	wait_log "$2" "$3" || echo "# $2: the log never matched $3"
	sleep 0.5
	"$ROOT/scripts/pg-sandbox" crash "$CNS_PG_SANDBOX"
	wait $pid; rc=$?
}

# ---- references: the same jobs, never disturbed ----
write_job ref_rep.conf ref_rep replace "$TMPDIR_T/lock" "one two"
"$CNS" run ref_rep.conf || echo "# reference replace run failed"
ref_rep=$(digest ref_rep)
write_job ref_app.conf ref_app append "$TMPDIR_T/lock" "two"
"$CNS" run ref_app.conf || echo "# reference append run failed"
ref_app=$(digest ref_app)
is "$ref_app" "4000:$(cut -d: -f2 <<<"$ref_app")" "the append reference holds 4000 rows"

# ---- 1. replace: the target crashes while the second source loads ----
# The shadow table is unlogged, so crash recovery empties it: the rows of
# source "one", committed before the crash, are gone from it.  The run
# must notice and either reload every source or fail and leave the old
# table as it was.
q sf_dst "CREATE TABLE t_rep (id integer NOT NULL PRIMARY KEY, updated_at timestamptz, payload text);
          INSERT INTO t_rep VALUES (1, '2020-01-01', 'old'), (2, '2020-01-01', 'old')"
old_rep=$(digest t_rep)
write_job rep.conf t_rep replace "$TMPDIR_T/lock" "one two"
crash_mid_run rep.conf t_rep 'source=two chunk committed'
got=$(digest t_rep)
echo "# replace after a target crash: exit $rc, target $got (reference $ref_rep, old $old_rep)"
ok $([ "$got" = "$ref_rep" ] || [ "$got" = "$old_rep" ]; echo $?) "replace after a crash: the target holds the whole old or the whole new table"
if [ $rc -eq 0 ]; then
	is "$got" "$ref_rep" "replace after a crash: a run that exits 0 leaves the reference table"
else
	is "$got" "$old_rep" "replace after a crash: a failed run leaves the old table"
	like "$(cat t_rep.out)" 'lost|restart|crash' "the failure says the shadow table lost rows"
	is "$(runs_of t_rep)" "failed" "consolidate.runs records the run as failed"
	"$HOOKS" run rep.conf > rep2.out 2>&1; rc=$?
	is "$rc" 0 "the next run completes"
	is "$(digest t_rep)" "$ref_rep" "and leaves the reference table"
fi

# ---- 4. upsert: the target crashes mid-run, retries = 8 ----
# Every connection of the run dies (loader, source, run state, lock); the
# failure has no SQLSTATE.  It is transient: the run reconnects them all,
# takes its lock again and resumes after the last committed chunk.
slow_table t_up
write_job up.conf t_up upsert "$TMPDIR_T/lock" "two"
crash_mid_run up.conf t_up 'chunk committed'
echo "# upsert after a target crash: exit $rc, target $(digest t_up)"
is "$rc" 0 "upsert, target crashed mid-run: the run retries and completes"
[ $rc -eq 0 ] || sed 's/^/#   /' t_up.out
like "$(cat "$TMPDIR_T"/log/t_up/*.log)" 'retrying from the last checkpoint' "the retry is in the run log"
like "$(cat "$TMPDIR_T"/log/t_up/*.log)" 'advisory lock had ended: lock taken again' "the run took its advisory lock again on a new session"
ok $(grep -q 'the target (run state) failed' "$TMPDIR_T"/log/t_up/*.log; echo $(( ! $? ))) "the run state connection was opened again before use, not found dead"
is "$(digest t_up)" "$ref_app" "upsert after a crash: the target equals the reference"
is "$(runs_of t_up)" "ok" "consolidate.runs records the run as ok"

# ---- 2. the advisory lock's session ends; a run from another lock folder starts ----
q sf_dst "CREATE TABLE t_lk (id integer NOT NULL, updated_at timestamptz, payload text);
          CREATE TRIGGER slow BEFORE INSERT ON t_lk FOR EACH ROW EXECUTE FUNCTION slow_row()"
write_job lk_a.conf t_lk append "$TMPDIR_T/lockA" "two"
write_job lk_b.conf t_lk append "$TMPDIR_T/lockB" "two"
"$HOOKS" run lk_a.conf > lk_a.out 2>&1 &
pid=$!
wait_log t_lk 'chunk committed' || echo "# no chunk committed"
# The lock session names the run; the loaders are plain "consolidate".
ended=$(q sf_dst "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'consolidate %'")
is "$ended" 1 "the session holding the advisory lock is terminated"
"$HOOKS" run lk_b.conf > lk_b.out 2>&1; rc_b=$?
wait $pid; rc_a=$?
echo "# lock session ended: first run exit $rc_a, second run exit $rc_b, doubled $(doubled t_lk)"
is "$(doubled t_lk)" 0 "lost lock session: no row loaded twice by the two runs"
ok $(( rc_a == 0 && rc_b == 0 ? 1 : 0 )) "not both runs succeed"
"$HOOKS" run lk_a.conf > lk_c.out 2>&1; rc=$?
is "$rc" 0 "a third run completes"
is "$(doubled t_lk)" 0 "no row loaded twice"
is "$(digest t_lk)" "$ref_app" "lost lock session: the target equals the reference"

# idle_session_timeout on the target ends idle sessions, and the lock
# session idles for the whole run: it must keep its lock, so a second run
# is refused rather than loading the same rows.
q sf_dst "CREATE TABLE t_idle (id integer NOT NULL, updated_at timestamptz, payload text);
          CREATE TRIGGER slow BEFORE INSERT ON t_idle FOR EACH ROW EXECUTE FUNCTION slow_row()"
write_job id_a.conf t_idle append "$TMPDIR_T/lockA" "two"
write_job id_b.conf t_idle append "$TMPDIR_T/lockB" "two"
q sf_dst "ALTER DATABASE sf_dst SET idle_session_timeout = '300ms'"
"$HOOKS" run id_a.conf > id_a.out 2>&1 &
pid=$!
wait_log t_idle 'chunk committed' || echo "# no chunk committed"
sleep 1
"$HOOKS" run id_b.conf > id_b.out 2>&1; rc_b=$?
wait $pid; rc_a=$?
q sf_dst "ALTER DATABASE sf_dst RESET idle_session_timeout"
echo "# idle_session_timeout: first run exit $rc_a, second run exit $rc_b, doubled $(doubled t_idle)"
is "$rc_a" 0 "idle_session_timeout: the run keeps its lock session and completes"
is "$rc_b" 75 "a second run is refused by the lock"
is "$(doubled t_idle)" 0 "no row loaded twice"
is "$(digest t_idle)" "$ref_app" "idle_session_timeout: the target equals the reference"

# With no advisory lock at all (lock = local) and two lock folders, two
# runs overlap: the watermark, which moves only from the value a run last
# read or wrote, stops the second one to commit.
q sf_dst "CREATE TABLE t_wm (id integer NOT NULL, updated_at timestamptz, payload text);
          CREATE TRIGGER slow BEFORE INSERT ON t_wm FOR EACH ROW EXECUTE FUNCTION slow_row()"
write_job wm_a.conf t_wm append "$TMPDIR_T/lockA" "two" "lock        = local"
write_job wm_b.conf t_wm append "$TMPDIR_T/lockB" "two" "lock        = local"
"$HOOKS" run wm_a.conf > wm_a.out 2>&1 &
pid=$!
wait_log t_wm 'chunk committed' || echo "# no chunk committed"
"$HOOKS" run wm_b.conf > wm_b.out 2>&1; rc_b=$?
wait $pid; rc_a=$?
echo "# overlapping runs without an advisory lock: exit $rc_a and $rc_b, doubled $(doubled t_wm)"
is "$(doubled t_wm)" 0 "overlapping runs: no row loaded twice"
ok $(( rc_a == 0 && rc_b == 0 ? 1 : 0 )) "not both runs succeed"
like "$(cat wm_a.out wm_b.out)" 'watermark of source "two" moved since this run read it' "the one stopped says the watermark moved"
"$HOOKS" run wm_a.conf > wm_c.out 2>&1; rc=$?
is "$rc" 0 "a third run completes"
is "$(digest t_wm)" "$ref_app" "overlapping runs: the target equals the reference"

# ---- 3. the acknowledgement of a COMMIT is lost ----
# The server commits the first chunk; the client never reads the answer.
# Source "one" is not incremental: only the server knows that the chunk
# is in, and a retry from the start would load it twice.
write_job ack.conf t_ack append "$TMPDIR_T/lock" ""
cat >> ack.conf <<JOB

[source one]
driver   = postgres
conninfo = $(conninfo sf_src)
table    = one
JOB
CNS_DROP_AT=load.commit_sent:1 "$HOOKS" run ack.conf > ack.out 2>&1; rc=$?
like "$(cat ack.out)" 'connection dropped at load.commit_sent' "the acknowledgement of the first COMMIT was lost"
echo "# lost COMMIT acknowledgement (not incremental): exit $rc, target $(q sf_dst "SELECT count(*) FROM t_ack") rows"
is "$(doubled t_ack)" 0 "lost acknowledgement: no row loaded twice"
ok $(( rc == 0 )) "the run does not claim success"
like "$(cat ack.out)" 'committed' "the failure says the chunk committed"
is "$(runs_of t_ack)" "failed" "consolidate.runs records the run as failed"
# The same loss on an incremental source: the watermark committed with
# the chunk, so the retry resumes after it.
write_job acki.conf t_acki append "$TMPDIR_T/lock" "two"
CNS_DROP_AT=load.commit_sent:2 "$HOOKS" run acki.conf > acki.out 2>&1; rc=$?
is "$rc" 0 "lost acknowledgement, incremental source: the retry completes"
is "$(doubled t_acki)" 0 "no row loaded twice"
is "$(digest t_acki)" "$ref_app" "the target equals the reference"
# The lost chunk committed: its rows count as read once, not again by
# the retry and not never.
like "$(grep -h 'stage=summary source=two' "$TMPDIR_T"/log/t_acki/*.log)" \
     " read=$(q sf_src "SELECT count(*) FROM two") " "the retried source counts each row read once"
like "$(cat "$TMPDIR_T"/log/t_acki/*.log)" 'stage=retry source=two transient failure, retrying from the last checkpoint attempt=1 of=8 delay_ms=[0-9]+ cause="[^"]*\\"' \
	"the text log's retry line: typed pairs, the cause quoted with its quotes escaped"
# The same with log_format = json: the retry's line keeps its pairs as
# members, though its cause quotes a name (attempt and delay_ms numbers,
# cause a string).
write_job ackj.conf t_ackj append "$TMPDIR_T/lock" "two" "log_format  = json"
CNS_DROP_AT=load.commit_sent:2 "$HOOKS" run ackj.conf > ackj.out 2>&1; rc=$?
is "$rc" 0 "lost acknowledgement, JSON log: the retry completes"
retry=$(grep -h '"stage":"retry"' "$TMPDIR_T"/log/t_ackj/*.log | head -n 1)
echo "# $retry"
is "$(python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
c = o.get("cause")
print(o.get("msg"), "|", type(o.get("attempt")).__name__, o.get("attempt"), o.get("of"),
      type(o.get("delay_ms")).__name__, type(c).__name__, isinstance(c, str) and "\"" in c)
' <<<"$retry" 2>&1)" "transient failure, retrying from the last checkpoint | int 1 8 int str True" \
	"JSON log: the retry keeps attempt, of, delay_ms (numbers) and a cause with quotes (a string)"

done_testing
