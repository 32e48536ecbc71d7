#!/usr/bin/env bash
# Incremental extraction: the watermark advances with each committed chunk
# at full precision, an empty run leaves it, --full-refresh resets it,
# --source runs one source, NULL incremental values follow
# null_incremental, lookback re-reads a window, and a tie on the
# incremental column across chunk boundaries loses nothing.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh i_src
createdb_fresh i_dst
q i_src "CREATE TABLE s (id int PRIMARY KEY, ts timestamptz, v text)"
# 1000 rows, ten per timestamp (ties), microsecond precision.
q i_src "INSERT INTO s SELECT i, timestamptz '2026-03-01 12:00:00.123456+00' + (i / 10) * interval '1.000001 second', 'v' || i FROM generate_series(1, 1000) i"
cat > s.xf <<'XF'
[schema]
id integer not null
ts timestamptz
v  text
XF
write_job() {	# write_job MODE EXTRA...
	local mode=$1
	shift
	cat > job.conf <<JOB
[job]
name        = inc_$mode
batch_size  = 95
transforms  = s.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
[target]
conninfo = $(conninfo i_dst)
table    = inc_$mode
key      = id
mode     = $mode
[source a]
driver      = postgres
conninfo    = $(conninfo i_src)
table       = s
incremental = ts
JOB
	for l in "$@"; do echo "$l" >> job.conf; done
}
wm() { q i_dst "SELECT array_to_string(value, ',') FROM consolidate.watermarks WHERE job = '$1' AND source = '${2:-a}'"; }

write_job upsert
"$CNS" run job.conf; ok $? "first incremental run"
is "$(q i_dst 'SELECT count(*) FROM inc_upsert')" 1000 "all rows loaded"
is "$(wm inc_upsert)" "$(q i_src "SELECT max(ts)::text || ',1000' FROM s")" "watermark is the last row's (ts, key), at full precision"
summary=$("$CNS" run --summary job.conf 2>&1); ok $? "a run with nothing new"
like "$summary" 'a +ok +0 ' "reads nothing"
is "$(wm inc_upsert)" "$(q i_src "SELECT max(ts)::text || ',1000' FROM s")" "an empty run leaves the watermark as it was"
q i_src "UPDATE s SET v = 'changed', ts = ts + interval '1 hour' WHERE id IN (5, 500)"
q i_src "INSERT INTO s VALUES (1001, '2026-03-01 12:00:00+00', 'late, older ts')"
summary=$("$CNS" run --summary job.conf 2>&1)
like "$summary" 'a +ok +2 ' "only the two changed rows are read"
is "$(q i_dst "SELECT v FROM inc_upsert WHERE id = 500")" changed "the change arrived"
is "$(q i_dst "SELECT count(*) FROM inc_upsert WHERE id = 1001")" 0 "a row committed late with an older ts is behind the watermark"
write_job upsert "lookback = 1000d"
"$CNS" run job.conf
is "$(q i_dst "SELECT count(*) FROM inc_upsert WHERE id = 1001")" 1 "lookback re-reads a window and picks it up"
is "$(q i_dst 'SELECT count(*) FROM inc_upsert')" 1001 "upsert makes the re-read harmless"
"$CNS" run --full-refresh --summary job.conf > fr.out 2>&1; ok $? "--full-refresh"
like "$(cat fr.out)" 'a +ok +1,001 ' "--full-refresh reads everything again"

# Tie-breaker: without a key and without a primary key the run refuses.
q i_src "CREATE TABLE nokey (ts timestamptz, v text)"
q i_src "INSERT INTO nokey VALUES (now(), 'x')"
write_job append
sed -i 's/^table       = s$/table       = nokey/' job.conf
sed -i 's/^key      = id$//' job.conf
err=$("$CNS" run job.conf 2>&1); rc=$?
is "$rc" 3 "an incremental source without a tie-breaker key is refused"
like "$err" 'needs a tie-breaker key' "with a message that says why"

# NULL incremental values.
q i_src "CREATE TABLE n (id int PRIMARY KEY, ts timestamptz, v text)"
q i_src "INSERT INTO n VALUES (1, '2026-01-01', 'a'), (2, NULL, 'null ts'), (3, '2026-01-02', 'c')"
for rule in skip include-once error; do
	write_job upsert "null_incremental = $rule"
	sed -i "s/^name        = inc_upsert$/name        = null_$rule/; s/^table       = s$/table       = n/; s/^table    = inc_upsert$/table    = null_${rule//-/_}/" job.conf
	"$CNS" run job.conf > null.out 2>&1; rc=$?
	case $rule in
	skip) is "$rc,$(q i_dst 'SELECT count(*) FROM null_skip')" "0,2" "null_incremental = skip leaves the NULL row out" ;;
	include-once) is "$rc,$(q i_dst 'SELECT count(*) FROM null_include_once')" "0,3" "null_incremental = include-once loads it on the first run"
		      "$CNS" run --summary job.conf > null2.out 2>&1
		      like "$(cat null2.out)" 'a +ok +0 ' "and not again" ;;
	error) is "$rc" 1 "null_incremental = error fails the run"
	       like "$(cat null.out)" 'NULL in incremental column "ts"' "naming the column" ;;
	esac
done

# --source runs one source only.
cat >> job.conf <<JOB
[source b]
driver      = postgres
conninfo    = $(conninfo i_src)
table       = s
incremental = ts
JOB
sed -i 's/^null_incremental = error$/null_incremental = skip/; s/^name        = null_error$/name        = two_sources/; s/^table    = null_error$/table    = two_sources/' job.conf
"$CNS" run --source b --summary job.conf > one.out 2>&1; ok $? "--source b"
like "$(cat one.out)" 'a +skipped' "source a was skipped"
is "$(wm two_sources a)" "" "source a's watermark was not touched"
done_testing
