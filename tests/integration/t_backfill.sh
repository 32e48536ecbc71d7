#!/usr/bin/env bash
# run --range FROM..TO: rows changed at the source below the watermark
# (their incremental column unchanged, so an ordinary run never sees them)
# are re-read for the window, both ends included and nothing outside it;
# the watermark stays as it was; a second backfill changes and doubles
# nothing; plan --range prints the window's SQL.  Jobs that cannot
# backfill are refused before anything runs: append and replace mode, a
# source read in full (csv), an odbc source, a bad range.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh b_src
createdb_fresh b_dst
q b_src "CREATE TABLE ev (id int PRIMARY KEY, updated_at timestamptz NOT NULL, payload text)"
# One row an hour from midnight; rows 41 and 42 share an hour, so that a
# bound falls on two rows.
q b_src "INSERT INTO ev SELECT i, timestamptz '2026-01-01 00:00:00+00'
  + (least(i, 41)) * interval '1 hour', 'p' || i FROM generate_series(1, 100) i"

cat > ev.xf <<'XF'
[schema]
id         integer not null
updated_at timestamptz
payload    text
XF

write_job() {	# write_job FILE MODE [SOURCE DRIVER LINES]
	cat > "$1" <<JOB
[job]
name        = b_$2
batch_size  = 7
transforms  = ev.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo b_dst)
table    = ev_$2
mode     = $2
JOB
	[ "$2" = append ] || echo "key      = id" >> "$1"
	cat >> "$1" <<JOB

[source ev]
driver      = postgres
conninfo    = $(conninfo b_src)
table       = ev
incremental = updated_at
JOB
	[ "$2" = replace ] && sed -i '/^incremental/d' "$1"
	return 0
}
wm() { q b_dst "SELECT array_to_string(value, ',') || ' ' || run_id FROM consolidate.watermarks WHERE job = 'b_upsert'"; }
target() { table_digest b_dst "SELECT concat_ws('|', id, updated_at, payload) FROM ev_upsert"; }
source() { table_digest b_src "SELECT concat_ws('|', id, updated_at, payload) FROM ev"; }

write_job up.conf upsert
"$CNS" run up.conf; ok $? "the first run loads every row"
is "$(target)" "$(source)" "the target equals the source"
wm0=$(wm)
like "$wm0" "^2026-01-02 17:00:00\+00,100 " "the watermark is the last row's"

# Changed below the watermark, the incremental column left as it was:
# inside the window 10:00..20:00 (rows 10 to 20, the bounds included) and
# just outside it (rows 9 and 21); and rows 41 and 42, which share 17:00
# of the next day, the upper bound of a second window.
q b_src "UPDATE ev SET payload = payload || '+' WHERE id BETWEEN 9 AND 21 OR id IN (41, 42)"
"$CNS" run up.conf; ok $? "an ordinary run succeeds"
is "$(q b_dst "SELECT count(*) FROM ev_upsert WHERE payload LIKE '%+'")" "0" "an ordinary run does not see rows changed below the watermark"

"$CNS" plan up.conf --range '2026-01-01 10:00+00..2026-01-01 20:00+00' > plan.out 2>&1; rc=$?
is $rc 0 "plan --range succeeds"
like "$(cat plan.out)" "AND \"updated_at\" BETWEEN '2026-01-01 10:00\+00' AND '2026-01-01 20:00\+00' ORDER BY \"updated_at\", \"id\"" \
     "plan --range prints the window's SQL"
like "$(cat plan.out)" "watermark: not used by the window, and kept: 2026-01-02 17:00:00\+00, 100" "plan --range shows the watermark it keeps"
like "$(cat plan.out)" "backfill of 2026-01-01 10:00\+00..2026-01-01 20:00\+00 \(run --range\): the watermarks stay" "plan --range says the watermarks stay"
is "$(wm)" "$wm0" "plan --range moves no watermark"

"$CNS" run up.conf --range '2026-01-01 10:00+00..2026-01-01 20:00+00' > r1.out 2>&1; rc=$?
is $rc 0 "run --range succeeds"
[ $rc -eq 0 ] || sed 's/^/#   /' r1.out
is "$(q b_dst "SELECT string_agg(id::text, ',' ORDER BY id) FROM ev_upsert WHERE payload LIKE '%+'")" \
   "10,11,12,13,14,15,16,17,18,19,20" "run --range loads the changed rows of the window, both bounds included, none outside"
is "$(wm)" "$wm0" "run --range leaves the watermark (and its run) as it was"
is "$(q b_dst "SELECT count(*) FROM ev_upsert")" "100" "run --range doubles no row"
log1=$(ls -t log/b_upsert/*.log | head -1)
like "$(cat "$log1")" "backfill: rows with updated_at from 2026-01-01 10:00\+00 to 2026-01-01 20:00\+00 \(both included\); the watermark stays" \
     "the run log says it is a backfill"
like "$(cat "$log1")" "read=11 .*changed=11 " "the backfill read the window's 11 rows and changed them"

"$CNS" run up.conf --range '2026-01-01 10:00+00..2026-01-01 20:00+00' > r2.out 2>&1; rc=$?
is $rc 0 "a second run --range succeeds"
log2=$(ls -t log/b_upsert/*.log | head -1)
like "$(cat "$log2")" "read=11 .*changed=0 " "a second backfill changes nothing"
is "$(q b_dst "SELECT count(*) FROM ev_upsert")" "100" "a second backfill doubles nothing"
is "$(wm)" "$wm0" "the watermark is still as it was"

# Two rows share the upper bound: both are read.  With --source.
"$CNS" run up.conf --source ev --range '2026-01-02 00:00+00..2026-01-02 17:00+00'; ok $? "run --source --range succeeds"
is "$(q b_dst "SELECT string_agg(id::text, ',' ORDER BY id) FROM ev_upsert WHERE payload LIKE '%+'")" \
   "10,11,12,13,14,15,16,17,18,19,20,41,42" "the second window brings both rows of its shared upper bound, and rows 9 and 21 stay outside"
is "$(wm)" "$wm0" "the watermark is still as it was"
"$CNS" run up.conf; ok $? "an ordinary run after backfills succeeds"
is "$(wm)" "$wm0" "and finds nothing new: the watermark did not go back"

# ---- the same lock: a backfill while a run holds the job ----
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}
if [ -x "$HOOKS" ]; then
	CNS_PAUSE_AT=load.begin:1 CNS_PAUSE_SECONDS=3 "$HOOKS" run up.conf --full-refresh > hold.out 2>&1 &
	hpid=$!
	for _ in $(seq 50); do grep -q . "$TMPDIR_T"/lock/*.lock 2>/dev/null && break; sleep 0.1; done
	sleep 0.5
	"$CNS" run up.conf --range '2026-01-01..2026-01-02' > locked.out 2>&1; rc=$?
	wait $hpid; hrc=$?
	is $rc 75 "run --range while another run holds the job's lock: exit 75"
	like "$(cat locked.out)" 'already running' "it names the run that holds the lock"
	is $hrc 0 "the holding run completes"
	wm0=$(wm)
else
	echo "not ok - $HOOKS is not built (make TEST_HOOKS=1)"
	TEST_FAILED=$((TEST_FAILED + 1))
fi

# ---- refused before anything runs ----
refused() {	# refused WHAT CONF EXPECTED-EXIT REGEX [ARGS...]
	local what=$1 conf=$2 want=$3 re=$4
	shift 4
	"$CNS" run "$conf" "$@" > ref.out 2>&1; rc=$?
	is $rc "$want" "$what: refused (exit $want)"
	like "$(cat ref.out)" "$re" "$what: the message says why"
}
write_job ap.conf append
refused append ap.conf 3 '--range needs mode = upsert, and job "b_append" appends: the window.s rows would be loaded a second time' --range '1..2'
write_job rp.conf replace
refused replace rp.conf 3 '--range needs mode = upsert, and job "b_replace" replaces its table' --range '1..2'
"$CNS" plan ap.conf --range '1..2' > ref.out 2>&1; rc=$?
is $rc 3 "plan --range of an append job is refused"
printf 'id,updated_at,payload\n1,2026-01-01,x\n' > ev.csv
write_job csv.conf upsert
sed -i -e '/^\[source ev\]/,$d' csv.conf
printf '[source ev]\ndriver = csv\npath   = %s/ev.csv\nheader = yes\n' "$TMPDIR_T" >> csv.conf
refused csv csv.conf 3 '--range re-reads a window of an incremental source, and source "ev" \(csv\) is read in full' --range '1..2'
write_job odbc.conf upsert
sed -i -e '/^\[source ev\]/,$d' odbc.conf
printf '[source ev]\ndriver = odbc\nconnection = Driver=SQLite3;Database=%s/none.db\ntable = ev\nincremental = updated_at\nkey = id\n' "$TMPDIR_T" >> odbc.conf
refused odbc odbc.conf 3 '--range reads windows of postgres sources only, and source "ev" is odbc' --range '1..2'
refused "a range without .." up.conf 2 'invalid range "2026-01-01": expected FROM..TO' --range '2026-01-01'
refused "an empty bound" up.conf 2 'invalid range "..2026-01-01"' --range '..2026-01-01'
refused "--range with --full-refresh" up.conf 2 '--range and --full-refresh exclude each other' --range '1..2' --full-refresh
refused "a bound the column cannot take" up.conf 1 'invalid input syntax for type timestamp with time zone: "yesterday-ish"' --range 'yesterday-ish..2026-01-02'
is "$(wm)" "$wm0" "no refused run moved the watermark"

done_testing
