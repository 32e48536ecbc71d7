#!/usr/bin/env bash
# Chunk commits do not wait for the WAL flush (synchronous_commit = off in
# the chunk's transaction); the run's last commit does.  A chunk commit
# that a server crash loses takes its watermark and its ledger row with
# it, so the next run loads those rows again: exactly once still holds.
#
# The WAL writer is slowed down (wal_writer_delay = 10s), so that a crash
# right after a chunk commit loses it.  For append and upsert
# (incremental sources): the run is stopped right after its third chunk
# commit, the target crashes (immediate shutdown), and then
#   - the target holds exactly the source rows up to the stored watermark
#     (whatever the crash kept), none twice;
#   - the next run leaves exactly the reference target.
# And a run that exits 0 is durable: a crash right after it keeps every
# row.
#
# Needs a build with fault-injection points: $CNS_HOOKS (make TEST_HOOKS=1).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}
[ -x "$HOOKS" ] || { echo "not ok 1 - $HOOKS is not built (make TEST_HOOKS=1)"; exit 1; }

createdb_fresh ac_src
createdb_fresh ac_dst
q ac_src "CREATE TABLE ev (id int PRIMARY KEY, updated_at timestamptz NOT NULL, payload text);
          INSERT INTO ev SELECT i, timestamptz '2026-01-01 00:00:00+00' + (i / 10) * interval '1 second',
                 'p' || i || repeat('x', i % 50)
          FROM generate_series(1, 3000) i"
cat > ev.xf <<'XF'
[schema]
id         integer not null
updated_at timestamptz
payload    text
XF

write_job() {	# write_job NAME MODE
	local key=""
	[ "$2" = upsert ] && key="key      = id"
	cat > "$1.conf" <<JOB
[job]
name        = $1
batch_size  = 300
retries     = 0
transforms  = ev.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo ac_dst)
table    = $1
mode     = $2
$key

[source ev]
driver      = postgres
conninfo    = $(conninfo ac_src)
table       = ev
incremental = updated_at
key         = id
JOB
}

digest() { table_digest ac_dst "SELECT concat_ws('|', id, updated_at, payload) FROM $1"; }
count() { q ac_dst "SELECT count(*) FROM $1"; }

write_job ac_ref append
"$CNS" run ac_ref.conf > ref.out 2>&1 || sed 's/^/#   /' ref.out
ref=$(digest ac_ref)
is "${ref%%:*}" 3000 "the reference holds the 3000 source rows"

set_wal_writer() {	# set_wal_writer VALUE|DEFAULT
	if [ "$1" = DEFAULT ]; then
		q postgres "ALTER SYSTEM RESET wal_writer_delay" >/dev/null
	else
		q postgres "ALTER SYSTEM SET wal_writer_delay = '$1'" >/dev/null
	fi
	q postgres "SELECT pg_reload_conf()" >/dev/null
}
trap 'set_wal_writer DEFAULT 2>/dev/null' EXIT
set_wal_writer 10s

# at_watermark NAME: the target's rows are exactly the source's rows up
# to the stored watermark, none twice.
at_watermark() {
	local wm want got
	wm=$(q ac_dst "SELECT value[1] || '|' || value[2] FROM consolidate.watermarks
	               WHERE job = '$1' AND source = 'ev'")
	if [ -n "$wm" ]; then
		want=$(table_digest ac_src "SELECT concat_ws('|', id, updated_at, payload) FROM ev
		        WHERE (updated_at, id) <= ('${wm%%|*}'::timestamptz, ${wm##*|})")
	else
		want="0:-"
	fi
	got=$(digest "$1")
	[ "$got" = "$want" ] || echo "# $1: target $got, rows up to the watermark ($wm) $want"
	[ "$got" = "$want" ]
}

lost_any=0
for mode in append upsert; do
	name=ac_$mode
	write_job $name $mode
	CNS_PAUSE_AT=load.committed:3 CNS_PAUSE_SECONDS=5 "$HOOKS" run $name.conf > $name.out 2>&1 &
	pid=$!
	# Paused right after its third commit: 900 rows are visible.
	for _ in $(seq 1 200); do
		[ "$(count $name 2>/dev/null)" = 900 ] && break
		sleep 0.05
	done
	heard=$(count $name)
	"$ROOT/scripts/pg-sandbox" crash "$CNS_PG_SANDBOX"
	wait $pid
	rc=$?
	kept=$(count $name)
	echo "# $mode: $heard rows committed before the crash, $kept kept by it; the run exited $rc"
	[ "$kept" -lt "$heard" ] && lost_any=1
	is "$heard" 900 "$mode: the run was stopped after its third chunk commit"
	ok $(at_watermark $name; echo $?) "$mode: after the crash the target is at its stored watermark"
	"$HOOKS" run $name.conf > $name.2.out 2>&1
	rc=$?
	is "$rc" 0 "$mode: the next run completes"
	[ $rc -eq 0 ] || sed 's/^/#   /' $name.2.out | head -n 10
	is "$(digest $name)" "$ref" "$mode: and leaves the reference target"
done
echo "# a crash lost chunk commits in this test: $([ $lost_any = 1 ] && echo yes || echo no)"

# A run that exits 0 is durable, even with the WAL writer asleep.
write_job ac_done upsert
"$HOOKS" run ac_done.conf > ac_done.out 2>&1
rc=$?
"$ROOT/scripts/pg-sandbox" crash "$CNS_PG_SANDBOX"
is "$rc" 0 "a run completes"
is "$(digest ac_done)" "$ref" "a crash right after it keeps every row"
done_testing
