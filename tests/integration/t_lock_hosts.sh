#!/usr/bin/env bash
# A refused run changes nothing: a run on a second host (a UTS namespace
# with its own host name, its own lock folder, the same log folder and
# target) refused by the target's advisory lock must leave the first
# host's live run alone: its "running" marker stays, runs.jsonl gets no
# "crashed" record for it, and it finishes ok.  The refusal names the
# holder.  And a run refused by the lock file while the holder is between
# taking the lock and writing its details still names the holder.
#
# Needs root (unshare --uts) and, for the last part, a build with
# fault-injection points: $CNS_HOOKS (make TEST_HOOKS=1).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}

createdb_fresh h_src
createdb_fresh h_dst
q h_src "CREATE TABLE ev (id int PRIMARY KEY, payload text)"
q h_src "INSERT INTO ev SELECT i, 'p' || i FROM generate_series(1, 2000) i"
cat > ev.xf <<'XF'
[schema]
id      integer not null
payload text
XF

write_job() {	# write_job FILE LOCKDIR [WHERE]
	cat > "$1" <<JOB
[job]
name        = hosts
batch_size  = 100
transforms  = ev.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $2
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo h_dst)
table    = hosts
key      = id
mode     = upsert

[source ev]
driver   = postgres
conninfo = $(conninfo h_src)
table    = ev
JOB
	[ -n "${3:-}" ] && echo "where    = $3" >> "$1"
}
# About four seconds of reading: the first host's run is live meanwhile.
write_job a.conf "$TMPDIR_T/lock-a" "pg_sleep(0.002) IS NOT NULL"
write_job b.conf "$TMPDIR_T/lock-b"

on_host() {	# on_host NAME CMD...: CMD in a UTS namespace named NAME
	local name=$1
	shift
	unshare --uts sh -c 'hostname "$0" && exec "$@"' "$name" "$@"
}

on_host host-a "$CNS" run a.conf > a.out 2>&1 &
apid=$!
# Wait until host A's run holds the lock and has written its marker.
for _ in $(seq 1 100); do
	[ -f "$TMPDIR_T/log/hosts/running" ] && break
	sleep 0.1
done
sleep 0.5
marker_before=$(cat "$TMPDIR_T/log/hosts/running" 2>/dev/null)
like "$marker_before" '"host":"host-a"' "host A's run is live and has its marker"
out=$(on_host host-b "$CNS" run b.conf 2>&1); rc=$?
is "$rc" 75 "host B's run is refused by the advisory lock (exit 75)"
like "$out" 'already running against the target: held by consolidate [0-9TZ]+-[0-9a-f]+ host-a [0-9]+' \
	"the refusal names host A's run, host and pid"
is "$(cat "$TMPDIR_T/log/hosts/running" 2>/dev/null)" "$marker_before" \
	"host A's running marker is untouched"
ok $(grep -q '"status":"crashed"' "$TMPDIR_T/log/hosts/runs.jsonl" 2>/dev/null; echo $(( 1 - $? ))) \
	"runs.jsonl holds no crashed record for host A's live run"
ok $(q h_dst "SELECT count(*) FROM consolidate.runs WHERE status = 'crashed'" | grep -qx 0; echo $?) \
	"consolidate.runs holds no crashed run"
is "$(tail -n 1 "$TMPDIR_T/log/hosts/runs.jsonl" | sed -n 's/.*"host":"\([^"]*\)".*"status":"\([a-z]*\)".*/\1 \2/p')" \
	"host-b skipped" "host B's refusal is recorded as skipped"
wait $apid; rc=$?
is "$rc" 0 "host A's run finishes ok"
is "$(q h_dst "SELECT count(*) FROM hosts")" 2000 "host A loaded every row"
is "$(tail -n 1 "$TMPDIR_T/log/hosts/runs.jsonl" | sed -n 's/.*"host":"\([^"]*\)".*"status":"\([a-z]*\)".*/\1 \2/p')" \
	"host-a ok" "host A's record is ok"
is "$(q h_dst "SELECT string_agg(host || ' ' || status, ',') FROM consolidate.runs")" \
	"host-a ok" "consolidate.runs holds host A's run only, ok"

# The lock file's holder, between taking the lock and writing its
# details: the refused run waits for them instead of "run ?, pid 0".
if [ -x "$HOOKS" ]; then
	write_job c.conf "$TMPDIR_T/lock-c"
	CNS_PAUSE_AT=lock.taken:1 CNS_PAUSE_SECONDS=1 "$HOOKS" run c.conf > c.out 2>&1 &
	cpid=$!
	sleep 0.3
	out=$("$HOOKS" run c.conf 2>&1); rc=$?
	wait $cpid
	is "$rc" 75 "a run refused by the lock file exits 75"
	like "$out" 'already running: run [0-9TZ]+-[0-9a-f]+, pid [1-9][0-9]* on host [^?]' \
		"it names the holder that was still writing its details"
else
	echo "not ok - $HOOKS is not built (make TEST_HOOKS=1)"
	TEST_FAILED=$((TEST_FAILED + 1))
fi
done_testing
