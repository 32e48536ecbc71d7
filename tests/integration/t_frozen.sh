#!/usr/bin/env bash
# Bounded time whatever the network or the servers do.  A run is frozen
# mid-way in every way a peer can stop answering without closing:
#   - a loopback proxy in front of a postgres source, stopped (SIGSTOP)
#   - the same proxy in front of the target (records and lock included)
#   - the source's server backend of the run stopped (SIGSTOP)
#   - the target's backends of the run stopped
#   - the target unreachable from the start (a stopped proxy: the connect
#     hangs), ended by max_runtime, by SIGTERM, and by a connect_timeout
#     set in the conninfo (which wins over the run's default)
#   - a replace swap blocked by a reader holding a lock on the table,
#     ended by max_runtime and, separately, by SIGTERM
# Each time the run must end within max_runtime + kill_grace + 5 s (or
# kill_grace + 1 s after a SIGTERM), with its local and advisory locks
# released, its record written (timed_out or cancelled in runs.jsonl, and
# in the target when the target answers), whole chunks only in the target,
# the old table intact for replace, and no lock request of the run left
# queued on the server.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh fz_src
createdb_fresh fz_dst
q fz_src "CREATE TABLE t (id int PRIMARY KEY, v text)"
q fz_src "INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 3000) i"

cat > t.xf <<'XF'
[schema]
id integer not null
v  text
XF

MAX=4 GRACE=2
LIMIT_MS=$(( (MAX + GRACE + 5) * 1000 ))
now_ms() { date +%s%3N; }

PROXY_PIDS=()
# start_proxy NAME: a frozen-able proxy in front of the sandbox; sets
# PROXY_PID and PROXY_PORT.
start_proxy() {
	rm -f "$1.port"
	python3 "$ROOT/scripts/tcp-proxy" 127.0.0.1 "$PGPORT" "$1.port" &
	PROXY_PID=$!
	PROXY_PIDS+=("$PROXY_PID")
	for _ in $(seq 100); do [ -s "$1.port" ] && break; sleep 0.05; done
	PROXY_PORT=$(cat "$1.port")
}
stop_proxy() { kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
FROZEN_BACKENDS=""
cleanup() {
	for p in "${PROXY_PIDS[@]}"; do stop_proxy "$p"; done
	# shellcheck disable=SC2086
	[ -n "$FROZEN_BACKENDS" ] && kill -CONT $FROZEN_BACKENDS 2>/dev/null
	[ -n "${READER:-}" ] && kill "$READER" 2>/dev/null
	true
}
trap cleanup EXIT

via() { echo "host=127.0.0.1 port=$1 user=$PGUSER dbname=$2"; }

# write_job NAME TARGET-CONNINFO SOURCE-CONNINFO MODE SOURCE-LINE
write_job() {
	cat > "$1.conf" <<JOB
[job]
name        = $1
batch_size  = 100
max_runtime = ${MAX}s
kill_grace  = ${GRACE}s
transforms  = t.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $2
table    = $1
mode     = $4

[source s]
driver   = postgres
conninfo = $3
$5
JOB
}
slow="query = SELECT id, v FROM t WHERE pg_sleep(0.002) IS NOT NULL"

last_status() { tail -n 1 "log/$1/runs.jsonl" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])'; }
last_run_id() { tail -n 1 "log/$1/runs.jsonl" | sed -n 's/^{"run_id":"\([^"]*\)".*/\1/p'; }
history() { q fz_dst "SELECT status FROM consolidate.runs WHERE run_id = '$(last_run_id "$1")'"; }
local_lock_free() { flock -n "$TMPDIR_T/lock/$1.lock" true; }
advisory_free() {	# no session holds an advisory lock (after a moment)
	for _ in $(seq 50); do
		[ "$(q fz_dst "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
queued_locks() { q fz_dst "SELECT count(*) FROM pg_locks WHERE NOT granted"; }

# run_frozen NAME FREEZE-CMD: starts the run, runs FREEZE-CMD 1.5 s in,
# waits; sets RC and TOOK (ms).
run_frozen() {
	local start pid
	start=$(now_ms)
	timeout -k 5 120 "$CNS" run "$1.conf" > "$1.out" 2>&1 &
	pid=$!
	sleep 1.5
	eval "$2"
	wait "$pid"; RC=$?
	TOOK=$(( $(now_ms) - start ))
}

# run_term NAME WAIT-CMD: starts the run, runs WAIT-CMD (until the run is
# where the test wants it), sends SIGTERM, waits; sets RC and TOOK (ms
# since the signal).
run_term() {
	local t0 pid
	timeout -k 5 120 "$CNS" run "$1.conf" > "$1.out" 2>&1 &
	pid=$!
	eval "$2"
	t0=$(now_ms)
	kill -TERM "$pid"
	wait "$pid"; RC=$?
	TOOK=$(( $(now_ms) - t0 ))
}

# checks NAME WHAT EXIT STATUS HISTORY: what every frozen run must leave.
checks() {
	is "$RC" "$3" "$2: the run ends with exit $3"
	ok $(( TOOK <= LIMIT_MS ? 0 : 1 )) "$2: within max_runtime + kill_grace + 5 s (took ${TOOK} ms)"
	like "$(cat "$1.out")" 'exceeded max_runtime = 4s|cancelled by SIGTERM' "$2: the message names the cause"
	local_lock_free "$1"; ok $? "$2: the local lock is released"
	is "$(last_status "$1")" "$4" "$2: runs.jsonl records $4"
	if [ -n "$5" ]; then
		like "$(history "$1")" "$5" "$2: the target's history records it"
	fi
}

# -- 1. the source behind a proxy that stops forwarding --
start_proxy src
write_job fa "$(conninfo fz_dst)" "$(via "$PROXY_PORT" fz_src)" append "$slow"
run_frozen fa "kill -STOP $PROXY_PID"
checks fa "source network frozen" 4 timed_out '^timed_out$'
advisory_free; ok $? "source network frozen: the advisory lock is released"
is "$(q fz_dst 'SELECT count(*) % 100 FROM fa')" 0 "source network frozen: the target holds whole chunks only"
stop_proxy "$PROXY_PID"

# -- 2. the target behind a proxy that stops forwarding --
start_proxy dst
write_job fb "$(via "$PROXY_PORT" fz_dst)" "$(conninfo fz_src)" append "$slow"
run_frozen fb "kill -STOP $PROXY_PID"
checks fb "target network frozen" 4 timed_out ''
stop_proxy "$PROXY_PID"	# the server sees the connections close
advisory_free; ok $? "target network frozen: the advisory lock is released once the connections close"
is "$(q fz_dst 'SELECT count(*) % 100 FROM fb')" 0 "target network frozen: the target holds whole chunks only"
write_job fb "$(conninfo fz_dst)" "$(conninfo fz_src)" append "table = t"
"$CNS" run fb.conf > fb2.out 2>&1; ok $? "target network frozen: the next run succeeds"

# -- 3. the source's backend stopped --
write_job fc "$(conninfo fz_dst)" "$(conninfo fz_src)" append "$slow"
freeze_src_backend() {
	FROZEN_BACKENDS=$(q fz_src "SELECT pid FROM pg_stat_activity WHERE datname = 'fz_src' AND application_name = 'consolidate' AND query LIKE '%pg_sleep(0.002)%' AND pid <> pg_backend_pid()")
	echo "# stopping source backend(s): $FROZEN_BACKENDS"
	# shellcheck disable=SC2086
	kill -STOP $FROZEN_BACKENDS
}
run_frozen fc freeze_src_backend
is "$(echo "$FROZEN_BACKENDS" | wc -w)" 1 "source backend frozen: the run's source backend was found"
checks fc "source backend frozen" 4 timed_out '^timed_out$'
advisory_free; ok $? "source backend frozen: the advisory lock is released"
# shellcheck disable=SC2086
kill -CONT $FROZEN_BACKENDS; FROZEN_BACKENDS=""

# -- 4. the target's backends stopped (loaders and the run's records) --
write_job fd "$(conninfo fz_dst)" "$(conninfo fz_src)" append "$slow"
freeze_dst_backends() {
	FROZEN_BACKENDS=$(q fz_dst "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE datname = 'fz_dst' AND application_name = 'consolidate' AND pid <> pg_backend_pid()")
	echo "# stopping target backend(s): $FROZEN_BACKENDS"
	# shellcheck disable=SC2086
	kill -STOP $FROZEN_BACKENDS
}
run_frozen fd freeze_dst_backends
ok $(( $(echo "$FROZEN_BACKENDS" | wc -w) >= 2 ? 0 : 1 )) "target backends frozen: the run's target backends were found ($FROZEN_BACKENDS)"
checks fd "target backends frozen" 4 timed_out ''
# shellcheck disable=SC2086
kill -CONT $FROZEN_BACKENDS; FROZEN_BACKENDS=""
advisory_free; ok $? "target backends frozen: the advisory lock is released once they run again"
is "$(q fz_dst 'SELECT count(*) % 100 FROM fd')" 0 "target backends frozen: the target holds whole chunks only"

# -- 5. a target that hangs at connect: max_runtime, then SIGTERM --
start_proxy hang
kill -STOP "$PROXY_PID"
write_job fe "$(via "$PROXY_PORT" fz_dst)" "$(conninfo fz_src)" append "table = t"
run_frozen fe true
checks fe "connect hangs" 4 timed_out ''
run_term fe "sleep 1"
is "$RC" 5 "SIGTERM during a hanging connect: exit 5"
ok $(( TOOK <= GRACE * 1000 + 1000 ? 0 : 1 )) "SIGTERM during a hanging connect: ends within kill_grace (took ${TOOK} ms)"
like "$(cat fe.out)" 'cancelled by SIGTERM' "SIGTERM during a hanging connect: the message says so"
is "$(last_status fe)" cancelled "SIGTERM during a hanging connect: runs.jsonl records cancelled"
local_lock_free fe; ok $? "SIGTERM during a hanging connect: the local lock is released"
# The connection defaults give way to the conninfo: connect_timeout=1
# ends the hanging connect of a run without max_runtime in a second.
write_job ff "$(via "$PROXY_PORT" fz_dst) connect_timeout=1" "$(conninfo fz_src)" append "table = t"
sed -i '/^max_runtime/d' ff.conf
start=$(now_ms)
timeout -k 5 60 "$CNS" run ff.conf > ff.out 2>&1; rc=$?
took=$(( $(now_ms) - start ))
is "$rc" 1 "connect_timeout from the conninfo: the run fails"
ok $(( took <= 4000 ? 0 : 1 )) "connect_timeout from the conninfo: after about a second (took ${took} ms)"
like "$(cat ff.out)" 'could not connect to the target: .*timeout expired' "connect_timeout from the conninfo: the message says why"
stop_proxy "$PROXY_PID"

# -- 6. a replace swap blocked by a reader: max_runtime, then SIGTERM --
write_job fr "$(conninfo fz_dst)" "$(conninfo fz_src)" replace "table = t"
"$CNS" run fr.conf; ok $? "replace: the first run succeeds"
q fz_src "UPDATE t SET v = v || '+' WHERE id % 10 = 0"
before=$(table_digest fz_dst "SELECT concat_ws('|', id, v) FROM fr")
start_reader() {
	psql -X -q -d fz_dst -c "BEGIN; LOCK TABLE fr IN ACCESS SHARE MODE; SELECT pg_sleep(300); COMMIT" > /dev/null 2>&1 &
	READER=$!
	for _ in $(seq 100); do
		[ "$(q fz_dst "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'fr' AND l.granted AND l.pid <> pg_backend_pid()")" -ge 1 ] && break
		sleep 0.05
	done
}
stop_reader() {
	q fz_dst "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(300)%' AND pid <> pg_backend_pid()" > /dev/null
	wait "$READER" 2>/dev/null; READER=""
}
start_reader
run_frozen fr true
checks fr "swap blocked by a reader" 4 timed_out '^timed_out$'
is "$(queued_locks)" 0 "swap blocked by a reader: no lock request of the run is left queued"
is "$(table_digest fz_dst "SELECT concat_ws('|', id, v) FROM fr")" "$before" "swap blocked by a reader: the old table is intact"
advisory_free; ok $? "swap blocked by a reader: the advisory lock is released"
stop_reader

start_reader
swap_waits() {	# until the swap waits for its lock
	for _ in $(seq 100); do
		[ "$(queued_locks)" -ge 1 ] && break
		sleep 0.05
	done
	QUEUED=$(queued_locks)
}
run_term fr swap_waits
is "$QUEUED" 1 "SIGTERM during a blocked swap: the swap was waiting for its lock"
is "$RC" 5 "SIGTERM during a blocked swap: exit 5"
ok $(( TOOK <= GRACE * 1000 + 1000 ? 0 : 1 )) "SIGTERM during a blocked swap: ends within kill_grace (took ${TOOK} ms)"
is "$(last_status fr)" cancelled "SIGTERM during a blocked swap: runs.jsonl records cancelled"
is "$(history fr)" cancelled "SIGTERM during a blocked swap: the target's history records cancelled"
is "$(queued_locks)" 0 "SIGTERM during a blocked swap: no lock request left queued"
is "$(table_digest fz_dst "SELECT concat_ws('|', id, v) FROM fr")" "$before" "SIGTERM during a blocked swap: the old table is intact"
stop_reader
"$CNS" run fr.conf; ok $? "replace: the next run succeeds"
is "$(table_digest fz_dst "SELECT concat_ws('|', id, v) FROM fr")" \
   "$(table_digest fz_src "SELECT concat_ws('|', id, v) FROM t")" "replace: and swaps in the new rows"
done_testing
