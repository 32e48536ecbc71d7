#!/usr/bin/env bash
# The guards: overlap lock (local flock and advisory lock on the target),
# no stale lock after SIGKILL, the watchdog (max_runtime, stall_timeout)
# against sources that never answer, and SIGTERM mid-run.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh g_src
createdb_fresh g_dst
q g_src "CREATE TABLE t (id int PRIMARY KEY, v text)"
q g_src "INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 3000) i"
cat > t.xf <<'XF'
[schema]
id integer not null
v  text
XF

write_job() {	# write_job FILE NAME LOCKDIR EXTRA-SOURCE-LINES...
	local file=$1 name=$2 lockdir=$3
	shift 3
	cat > "$file" <<JOB
[job]
name        = $name
batch_size  = 500
transforms  = t.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $lockdir
rejects_dir = $TMPDIR_T/rejects
kill_grace  = 10s

[target]
conninfo = $(conninfo g_dst)
table    = $name
key      = id
mode     = upsert

[source s]
driver   = postgres
conninfo = $(conninfo g_src)
JOB
	# Lines for [job] start with "job:", the others go to the source.
	for line in "$@"; do
		case $line in
		job:*) sed -i "/^\[job\]$/a ${line#job:}" "$file" ;;
		*) echo "$line" >> "$file" ;;
		esac
	done
}

# A source that takes about three seconds: 3000 rows, 1 ms each.
slow_query="query = SELECT id, v FROM t WHERE pg_sleep(0.001) IS NOT NULL"

# -- ten runs at the same instant: exactly one runs --
write_job ten.conf ten "$TMPDIR_T/lock" "$slow_query"
for i in $(seq 1 10); do
	( "$CNS" run ten.conf > "out.$i" 2>&1; echo $? > "rc.$i" ) &
done
wait
ran=0 skipped=0 named=0
for i in $(seq 1 10); do
	case $(cat "rc.$i") in
	0) ran=$((ran + 1)) ;;
	75) skipped=$((skipped + 1))
	    grep -qE 'already running: run [0-9T]+Z-[0-9a-f]+, pid [0-9]+ on host .+, started .+ UTC, running for' "out.$i" && named=$((named + 1)) ;;
	esac
done
is "$ran" 1 "ten runs at once: exactly one runs"
is "$skipped" 9 "the nine others exit 75"
is "$named" 9 "each of them names the holder (run id, pid, host, start, duration)"
is "$(q g_dst 'SELECT count(*) FROM ten')" 3000 "the target is correct"
like "$(tail -n 3 "$TMPDIR_T/log/ten/runs.jsonl")" '"status": ?"skipped"' "skipped runs are recorded in runs.jsonl"

# -- two hosts (two lock folders), one target: the advisory lock --
write_job a.conf two "$TMPDIR_T/hostA" "$slow_query"
write_job b.conf two "$TMPDIR_T/hostB" "$slow_query"
"$CNS" run a.conf > outA 2>&1 &
pidA=$!
sleep 1
"$CNS" run b.conf > outB 2>&1; rcB=$?
wait $pidA; rcA=$?
is "$rcA" 0 "host A's run completes"
is "$rcB" 75 "host B's run of the same job exits 75"
like "$(cat outB)" 'already running against the target: held by consolidate [0-9T]+Z-' "host B is told who holds the advisory lock"

# -- SIGKILL leaves no lock behind --
write_job k.conf killed "$TMPDIR_T/lock" "$slow_query"
"$CNS" run k.conf > /dev/null 2>&1 &
pidK=$!
sleep 1
kill -KILL $pidK; wait $pidK 2>/dev/null
"$CNS" run k.conf; ok $? "the run after a SIGKILLed one is not blocked by a stale lock"
like "$(grep -c '"status": *"crashed"' "$TMPDIR_T/log/killed/runs.jsonl")" '^1$' "the killed run is recorded as crashed"
is "$(q g_dst "SELECT status FROM consolidate.runs WHERE job = 'killed' ORDER BY started_at LIMIT 1")" crashed "and marked crashed in the history table"

# -- watchdog: a source that never answers --
write_job w.conf wd "$TMPDIR_T/lock" "query = SELECT id, v FROM t WHERE pg_sleep(3600) IS NOT NULL" "job:max_runtime = 2s"
start=$(date +%s)
err=$("$CNS" run w.conf 2>&1); rc=$?
took=$(( $(date +%s) - start ))
is "$rc" 4 "the watchdog ends a hung run with exit 4"
ok $(( took <= 7 ? 0 : 1 )) "within max_runtime + 5s (took ${took}s)"
like "$err" 'exceeded max_runtime = 2s' "the message names the limit"
sleep 0.5
is "$(q g_src "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'consolidate' AND state = 'active' AND pid <> pg_backend_pid()")" 0 "no query of ours is left running on the server"
is "$(q g_dst "SELECT status FROM consolidate.runs WHERE job = 'wd' ORDER BY started_at DESC LIMIT 1")" timed_out "the run is recorded timed_out"
write_job w.conf wd "$TMPDIR_T/lock" "table = t"
"$CNS" run w.conf; ok $? "the next run succeeds"

# -- watchdog: an ODBC query that never answers (psqlODBC) --
eval "$("$ROOT/scripts/odbc-setup" "$TMPDIR_T/odbc")"
cat > wo.conf <<JOB
[job]
name        = wd_odbc
transforms  = t.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
max_runtime = 2s
[target]
conninfo = $(conninfo g_dst)
table    = wd_odbc
[source o]
driver     = odbc
connection = Driver=PostgreSQL Unicode;Servername=127.0.0.1;Port=$PGPORT;Database=g_src;Username=postgres
query      = SELECT id, v FROM t WHERE pg_sleep(3600) IS NOT NULL
JOB
start=$(date +%s)
err=$("$CNS" run wo.conf 2>&1); rc=$?
took=$(( $(date +%s) - start ))
is "$rc" 4 "the watchdog ends a hung ODBC query with exit 4"
ok $(( took <= 7 ? 0 : 1 )) "within max_runtime + 5s (took ${took}s)"
sleep 0.5
is "$(q g_src "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3600)%' AND state = 'active' AND pid <> pg_backend_pid()")" 0 "SQLCancel left no query running on the server"

# -- stall_timeout --
write_job st.conf stall "$TMPDIR_T/lock" "query = SELECT id, v FROM t WHERE pg_sleep(CASE WHEN id = 700 THEN 3600 ELSE 0 END) IS NOT NULL" "job:stall_timeout = 2s"
err=$("$CNS" run st.conf 2>&1); rc=$?
is "$rc" 4 "stall_timeout stops a run that stopped making progress"
like "$err" 'no progress for 2s' "the message names stall_timeout"
is "$(q g_dst 'SELECT count(*) % 500 FROM stall')" 0 "the target holds whole chunks only"

# -- a FIFO that never writes, for a csv source --
mkfifo never.csv
cat > fifo.conf <<JOB
[job]
name        = fifo
transforms  = t.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
max_runtime = 2s
[target]
conninfo = $(conninfo g_dst)
table    = fifo
[source f]
driver = csv
path   = never.csv
JOB
start=$(date +%s)
"$CNS" run fifo.conf 2>/dev/null; rc=$?
took=$(( $(date +%s) - start ))
is "$rc" 4 "a FIFO that never writes is stopped by the watchdog"
ok $(( took <= 7 ? 0 : 1 )) "within max_runtime + 5s (took ${took}s)"

# -- SIGTERM mid-run: clean rollback, status cancelled --
write_job term.conf term "$TMPDIR_T/lock" "$slow_query"
"$CNS" run term.conf > termout 2>&1 &
pidT=$!
sleep 1.5
kill -TERM $pidT
wait $pidT; rc=$?
is "$rc" 5 "SIGTERM ends the run with exit 5"
is "$(q g_dst 'SELECT count(*) % 500 FROM term')" 0 "the target holds whole chunks only"
is "$(q g_dst "SELECT status FROM consolidate.runs WHERE job = 'term'")" cancelled "the run is recorded cancelled"
"$CNS" run term.conf; ok $? "the next run succeeds"
is "$(q g_dst 'SELECT count(*) FROM term')" 3000 "and completes the target"
# -- runtime trend: a run that uses most of its schedule's interval --
write_job tr.conf trend "$TMPDIR_T/lock" "$slow_query" "job:schedule = */2 * * * * *"
"$CNS" run tr.conf; ok $? "a run that takes longer than its interval still runs"
like "$("$CNS" log tr.conf last)" 'WARN .*stage=trend the job needs [0-9]+s of its 2s interval' "the log warns that the job needs most of its interval"
like "$("$CNS" check --offline tr.conf 2>&1)" 'warning: the job needs [0-9]+s of its 2s interval' "check prints the trend"
# A redrive reads a rejects file, not the sources: its time is not the
# job's, so a quick one recorded last does not hide the trend.
printf '{"run_id":"20260101T000000Z-rd0001","job":"trend","kind":"redrive","host":"h","pid":1,"start":"2026-01-01T00:00:00.000Z","end":"2026-01-01T00:00:00.001Z","duration_s":0.001,"status":"ok","exit_code":0,"sources":{},"error":null,"file":"tr.conf","log":null,"version":"0"}\n' >> "$TMPDIR_T/log/trend/runs.jsonl"
like "$("$CNS" check --offline tr.conf 2>&1)" 'warning: the job needs [0-9]+s of its 2s interval' "check's trend leaves a redrive out"
# SIGTERM ends a wait for the lock at once, not at --wait's end.
write_job sw.conf sigwait "$TMPDIR_T/lock" "table = t"
flock "$TMPDIR_T/lock/sigwait.lock" sleep 30 & holder=$!
sleep 0.5
start=$(date +%s%N)
"$CNS" run --wait 60s sw.conf >/dev/null 2>sw.err & waiter=$!
sleep 1
kill -TERM "$waiter"
wait "$waiter"; rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
is "$rc" 5 "SIGTERM during --wait: exit 5 (cancelled)"
[ "$took" -lt 5000 ]; ok $? "SIGTERM during --wait ends the run at once (${took} ms, --wait 60s)"
like "$(cat sw.err)" 'stopped by a signal while waiting for the job.s lock' "the message says the wait was stopped"
done_testing
