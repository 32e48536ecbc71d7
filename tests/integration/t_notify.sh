#!/usr/bin/env bash
# Alerts: notify_command and notify_url on a failed run, on the first
# success after failures (recovery), and on a guard's warning; nothing on
# an ordinary success; a notification that fails or hangs never fails the
# run.  The URL is a listener on 127.0.0.1 that this test starts and stops.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh n_src
createdb_fresh n_dst
q n_src "CREATE TABLE t (id int PRIMARY KEY, v text)"
q n_src "INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 100) i"
cat > t.xf <<'XF'
[schema]
id integer not null
v  text
XF

# The listener: answers the first $FAILS posts with 500, then 200, and
# appends each body to posts.jsonl.
cat > listener.py <<'PY'
import http.server, os, sys
fails = int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global fails
        body = self.rfile.read(int(self.headers['Content-Length']))
        with open('posts.jsonl', 'ab') as f:
            f.write(body + b'\n')
        code = 500 if fails > 0 else 200
        fails -= 1
        self.send_response(code)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
open(sys.argv[1], 'w').write(str(s.server_port))
s.serve_forever()
PY
listener_pid=
start_listener() {	# start_listener FAILS
	rm -f port posts.jsonl
	python3 listener.py port "$1" & listener_pid=$!
	for _ in $(seq 50); do [ -s port ] && break; sleep 0.1; done
	PORT=$(cat port)
}
stop_listener() {
	[ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
	wait "$listener_pid" 2>/dev/null
	listener_pid=
}
trap stop_listener EXIT

cat > notify.sh <<'SH'
#!/bin/sh
env | grep '^CNS_' | sort > "$(dirname "$0")/notified.$CNS_EVENT.$$"
SH
chmod 755 notify.sh

write_job() {	# write_job TARGET-CONNINFO [EXTRA-JOB-LINES...]
	local target=$1
	shift
	{
		cat <<JOB
[job]
name           = nt
transforms     = t.xf
retries        = 0
log_dir        = $TMPDIR_T/log
lock_dir       = $TMPDIR_T/lock
rejects_dir    = $TMPDIR_T/rejects
notify_command = $TMPDIR_T/notify.sh
notify_url     = http://127.0.0.1:$PORT/hook
notify_timeout = ${NOTIFY_TIMEOUT:-10s}
lock           = local
JOB
		for l in "$@"; do echo "$l"; done
		cat <<JOB
[target]
conninfo = $target
table    = nt
mode     = replace
[source s]
driver   = postgres
conninfo = $(conninfo n_src)
table    = t
JOB
	} > job.conf
}
notified() { ls notified.* 2>/dev/null | sed 's/^notified\.\([a-z]*\)\..*/\1/' | sort | tr '\n' ' '; }
posts() { [ -f posts.jsonl ] && grep -c . posts.jsonl || echo 0; }

start_listener 0
down="host=127.0.0.1 port=1 dbname=x connect_timeout=5"

# An ordinary success: nothing.
write_job "$(conninfo n_dst)"
"$CNS" run job.conf; ok $? "a first successful run"
is "$(notified)" "" "an ordinary success runs no notify_command"
is "$(posts)" 0 "an ordinary success posts nothing"

# A failure: both channels, with the facts.  (lock = local: the run
# opens its log before it meets the target that is down.)
write_job "$down"
"$CNS" run job.conf >/dev/null 2>&1
is "$?" 1 "a run whose target is down fails"
is "$(notified)" "failed " "the failure runs notify_command with CNS_EVENT=failed"
env_file=$(ls notified.failed.*)
like "$(cat "$env_file")" 'CNS_JOB=nt' "the command gets the job"
like "$(cat "$env_file")" 'CNS_STATUS=failed' "the command gets the status"
like "$(cat "$env_file")" 'CNS_ERROR=could not connect to the target' "the command gets the error"
like "$(cat "$env_file")" 'CNS_RUN_ID=[0-9]{8}T[0-9]{6}Z-' "the command gets the run id"
like "$(cat "$env_file")" 'CNS_LOG=.*/log/nt/.*\.log' "the command gets the log's path"
is "$(posts)" 1 "the failure posts once to notify_url"
body=$(head -n 1 posts.jsonl)
is "$(printf '%s' "$body" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["event"], d["job"], d["status"])')" \
	"failed nt failed" "the post is JSON with event, job and status"
rm -f notified.*

# A second failure notifies again; then the recovery.
"$CNS" run job.conf >/dev/null 2>&1
is "$(notified)" "failed " "a second failure notifies again"
rm -f notified.*
write_job "$(conninfo n_dst)"
"$CNS" run job.conf; ok $? "the first success after failures"
is "$(notified)" "recovered " "the recovery runs notify_command with CNS_EVENT=recovered"
like "$(cat notified.recovered.*)" 'CNS_ROWS_LOADED=100' "the recovery gets the rows loaded"
like "$(tail -n 1 posts.jsonl)" '"event":"recovered"' "the recovery is posted"
rm -f notified.*
"$CNS" run job.conf; ok $? "the next success"
is "$(notified)" "" "a success after a success is not a recovery"

# A guard's warning.
q n_src "DELETE FROM t WHERE id > 10"
write_job "$(conninfo n_dst)"
sed -i 's/^table    = t$/table    = t\nmin_rows = 50/' job.conf
"$CNS" run job.conf; ok $? "a run under min_rows with on_volume_anomaly = warn succeeds"
is "$(notified)" "warning " "the volume warning runs notify_command with CNS_EVENT=warning"
like "$(cat notified.warning.*)" 'CNS_WARNING=source "s": volume anomaly' "the command gets the warning"
rm -f notified.*

# The URL answers 500 twice, then 200: retried.
stop_listener
start_listener 2
write_job "$down"
"$CNS" run job.conf >/dev/null 2>&1
is "$(posts)" 3 "a post answered 500 is retried, up to three attempts"
log=$(ls -t log/nt/*.log | head -n 1)
like "$(cat "$log")" 'stage=notify notify_url answered 200' "the log says how the post went"

# Nothing listens: the run's own result stands.
stop_listener
NOTIFY_TIMEOUT=3s write_job "$(conninfo n_dst)"
q n_src "INSERT INTO t SELECT i, 'v' || i FROM generate_series(11, 100) i"
"$CNS" run job.conf >/dev/null 2>&1
is "$?" 0 "a notification that cannot be delivered does not fail the run"
log=$(ls -t log/nt/*.log | head -n 1)
like "$(cat "$log")" 'stage=notify notify_url failed' "the log says the post failed"

# A command that hangs is stopped at notify_timeout.
cat > notify.sh <<'SH'
#!/bin/sh
sleep 60 &
echo $! > "$(dirname "$0")/child.pid"
sleep 60
SH
NOTIFY_TIMEOUT=2s write_job "$down"
start=$(date +%s)
"$CNS" run job.conf >/dev/null 2>&1
is "$?" 1 "the failing run still exits 1"
took=$(( $(date +%s) - start ))
[ "$took" -lt 15 ]; ok $? "a hanging notify_command is stopped at notify_timeout (run took ${took}s)"
sleep 1
! kill -0 "$(cat child.pid)" 2>/dev/null; ok $? "what the command started is stopped too"
log=$(ls -t log/nt/*.log | head -n 1)
like "$(cat "$log")" 'notify_command .* took longer than 2000 ms' "the log says the command was stopped"
done_testing
