#!/usr/bin/env bash
# What every run leaves behind: log lines, a runs.jsonl record, a row in
# the target's history table, for a successful, a failed (source down), a
# timed-out and a killed run; history, log and status; the metrics file;
# the volume guard; and no secret anywhere.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh r_src
createdb_fresh r_dst
psql -X -q -d postgres -c "DROP ROLE IF EXISTS r_secret" -c "CREATE ROLE r_secret LOGIN PASSWORD 'S3cretPassw0rd'" >/dev/null
q r_src "CREATE TABLE t (id int PRIMARY KEY, ts timestamptz, v text)"
q r_src "INSERT INTO t SELECT i, '2026-01-01'::timestamptz + i * interval '1 minute', 'v' || i FROM generate_series(1, 1000) i"
q r_src "GRANT SELECT ON t TO r_secret"
cat > t.xf <<'XF'
[schema]
id integer not null
ts timestamptz
v  text
XF
write_job() {	# write_job EXTRA-SOURCE-LINES...
	cat > job.conf <<JOB
[job]
name         = rl
schedule     = */10 * * * *
batch_size   = 250
transforms   = t.xf
log_dir      = $TMPDIR_T/log
lock_dir     = $TMPDIR_T/lock
rejects_dir  = $TMPDIR_T/rejects
metrics_file = $TMPDIR_T/metrics.prom
on_volume_anomaly = fail
[target]
conninfo = $(conninfo r_dst)
table    = rl
key      = id
mode     = upsert
[source s]
driver      = postgres
conninfo    = $(conninfo r_src) user=r_secret password=S3cretPassw0rd
table       = t
incremental = ts
JOB
	for l in "$@"; do echo "$l" >> job.conf; done
}
last_record() { tail -n 1 log/rl/runs.jsonl; }
history_status() { q r_dst "SELECT status FROM consolidate.runs WHERE job = 'rl' ORDER BY started_at DESC LIMIT 1"; }

# never: no run yet
write_job
out=$("$CNS" status job.conf); rc=$?
is "$rc" 1 "status: a job that never ran is a warning (exit 1)"
like "$out" 'never' "status says never"

# success
"$CNS" run job.conf; ok $? "a successful run"
log=$(ls log/rl/*.log | tail -n 1)
like "$(cat "$log")" 'stage=start .*run started' "the log has the start line"
like "$(cat "$log")" 'stage=extract source=s source connected' "the connect line"
like "$(cat "$log")" 'stage=load source=s chunk committed rows=250 .*rows_per_s=' "a line per committed chunk with rows and rows/s"
like "$(cat "$log")" 'stage=end .*status=ok' "the end line with the status"
like "$(last_record)" '"status": ?"ok"' "runs.jsonl records the run as ok"
like "$(last_record)" '"read": ?1000' "with rows per source"
is "$(history_status)" ok "the history table has the run as ok"
out=$("$CNS" status job.conf); rc=$?
is "$rc" 0 "status: ok (exit 0)"
like "$("$CNS" history job.conf)" 'ok' "history lists the run"
like "$("$CNS" log job.conf last)" 'run started' "log last prints the run's log"
like "$(cat metrics.prom)" 'consolidate_last_run_status\{job="rl",status="ok"\} 1' "metrics file: last run ok"
bad=$(grep -vE '^(# (HELP|TYPE) [a-z_]+ .*|[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+)$' metrics.prom | head -n 3)
is "$bad" "" "every line of the metrics file is valid Prometheus text"

# late: the schedule is every 10 minutes; an hour later nothing ran
later=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
out=$("$CNS" status --now "$later" job.conf); rc=$?
is "$rc" 1 "status: no success for longer than two intervals is late (exit 1)"
like "$out" 'late' "status says late"

# failure: the source database is gone
write_job
sed -i 's/dbname=r_src/dbname=r_nowhere/' job.conf
err=$("$CNS" run job.conf 2>&1); rc=$?
is "$rc" 1 "a run whose source is down fails (exit 1)"
like "$err" 'source "s".*database "r_nowhere" does not exist' "the error names the source and the reason"
like "$(last_record)" '"status": ?"failed"' "runs.jsonl records it as failed"
is "$(history_status)" failed "so does the history table"
like "$("$CNS" log job.conf last-failed)" 'does not exist' "log last-failed shows why"
out=$("$CNS" status job.conf); rc=$?
is "$rc" 2 "status: failing is critical (exit 2)"
like "$out" 'failing' "status says failing"

# failure: the target is gone, which the advisory lock meets first
write_job
sed -i 's/dbname=r_dst/dbname=r_target_gone/' job.conf
err=$("$CNS" run job.conf 2>&1); rc=$?
is "$rc" 1 "a run whose target is down fails (exit 1)"
like "$err" 'could not connect to the target.*r_target_gone' "the error names the target"
like "$(last_record)" '"status": ?"failed".*r_target_gone' "runs.jsonl records it, so monitoring sees it at once"

# timed out
write_job "where = pg_sleep(3600) IS NOT NULL"
sed -i 's/^\[target\]/max_runtime = 1s\n[target]/' job.conf
"$CNS" run --full-refresh job.conf 2>/dev/null; rc=$?
is "$rc" 4 "a timed-out run exits 4"
like "$(last_record)" '"status": ?"timed_out"' "runs.jsonl records it as timed_out"
like "$("$CNS" log job.conf last)" 'stage=watchdog' "the log names the watchdog"

# killed
write_job "where = pg_sleep(0.01) IS NOT NULL"
"$CNS" run --full-refresh job.conf 2>/dev/null &
pid=$!
sleep 1
kill -KILL $pid; wait $pid 2>/dev/null
write_job
"$CNS" run job.conf; ok $? "the run after a killed one succeeds"
like "$(grep -c '"status": *"crashed"' log/rl/runs.jsonl)" '^1$' "the killed run is recorded as crashed in runs.jsonl"
is "$(q r_dst "SELECT count(*) FROM consolidate.runs WHERE job = 'rl' AND status = 'crashed'")" 1 "and in the history table"

# volume guard: a job whose runs bring about 50 new rows each, then 500
q r_src "CREATE TABLE v (id int PRIMARY KEY, ts timestamptz, v text); GRANT SELECT ON v TO r_secret"
vol_job() {
	write_job "max_change = 50%"
	sed -i 's/^name         = rl$/name         = rlv/; s/^table       = t$/table       = v/; s/^table    = rl$/table    = rlv/' job.conf
}
vol_job
for i in 1 2 3 4 5; do
	q r_src "INSERT INTO v SELECT i, '2026-01-01'::timestamptz + i * interval '1 second', 'x' FROM generate_series($((i * 1000 + 1)), $((i * 1000 + 50))) i"
	"$CNS" run job.conf || echo "# run $i failed"
done
wm_before=$(q r_dst "SELECT value FROM consolidate.watermarks WHERE job = 'rlv'")
q r_src "INSERT INTO v SELECT i, '2026-02-01'::timestamptz + i * interval '1 second', 'y' FROM generate_series(9001, 9500) i"
err=$("$CNS" run job.conf 2>&1); rc=$?
is "$rc" 1 "a run with ten times the usual rows fails with on_volume_anomaly = fail"
like "$err" 'volume anomaly: source "s": 500 rows' "and says so"
is "$(q r_dst "SELECT value FROM consolidate.watermarks WHERE job = 'rlv'")" "$wm_before" "the watermark is held (upsert)"
like "$err" 'nothing was loaded' "before any row moved"
# The same in append mode: judged before extraction, so neither the
# target nor the watermark moves, and nothing is loaded twice later.
q r_src "CREATE TABLE v2 AS SELECT * FROM v WHERE id < 9000; ALTER TABLE v2 ADD PRIMARY KEY (id); GRANT SELECT ON v2 TO r_secret"
sed -e 's/^name         = rlv$/name         = rlva/' -e 's/^table       = v$/table       = v2/' \
    -e 's/^table    = rlv$/table    = rlva/' -e 's/^mode     = upsert$/mode     = append/' -e '/^key      = id$/d' job.conf > append.conf
for i in 1 2 3 4 5; do
	q r_src "INSERT INTO v2 SELECT i, '2026-03-01'::timestamptz + i * interval '1 second', 'z' FROM generate_series($((20000 + i * 100 + 1)), $((20000 + i * 100 + 50))) i"
	"$CNS" run append.conf >/dev/null 2>&1 || echo "# append run $i failed"
done
before_rows=$(q r_dst "SELECT count(*) FROM rlva")
wm_a=$(q r_dst "SELECT value FROM consolidate.watermarks WHERE job = 'rlva'")
q r_src "INSERT INTO v2 SELECT i, '2026-04-01'::timestamptz + i * interval '1 second', 'w' FROM generate_series(30001, 30500) i"
"$CNS" run append.conf >/dev/null 2>&1; rc=$?
is "$rc" 1 "append mode: the anomaly fails the run"
is "$(q r_dst "SELECT count(*) FROM rlva")" "$before_rows" "append mode: the target did not change"
is "$(q r_dst "SELECT value FROM consolidate.watermarks WHERE job = 'rlva'")" "$wm_a" "append mode: the watermark is held"
sed -i 's/^on_volume_anomaly = fail$/on_volume_anomaly = warn/' append.conf
"$CNS" run append.conf; ok $? "append mode: with warn the run loads the rows"
is "$(q r_dst "SELECT count(*) FROM rlva")" "$((before_rows + 500))" "exactly once"
sed -i 's/^on_volume_anomaly = fail$/on_volume_anomaly = warn/' job.conf
"$CNS" run job.conf; ok $? "with on_volume_anomaly = warn the same run succeeds"
like "$("$CNS" log job.conf last)" 'WARN .*volume anomaly' "and logs a warning"

# The same for a csv source: its files are counted by reading them once
# more before any row moves, in append mode (in replace mode the judgement
# after the read still comes before the swap); a FIFO cannot be read
# twice, so it is judged after the read.
csv_job() {	# csv_job NAME MODE PATH
	cat > "$1.conf" <<JOB
[job]
name       = $1
transforms = c.xf
log_dir    = $TMPDIR_T/log
lock_dir   = $TMPDIR_T/lock
on_volume_anomaly = fail
[target]
conninfo = $(conninfo r_dst)
table    = $1
mode     = $2
create   = yes
[source f]
driver     = csv
path       = $3
max_change = 50%
JOB
}
printf '[schema]\nid integer not null\nv text\n' > c.xf
csv_rows() { { echo id,v; seq "$1" "$2" | sed 's/$/,x/'; } > "$3"; }
mkdir -p feed && csv_rows 1 50 feed/f.csv
csv_job rlc append "$TMPDIR_T/feed/*.csv"
csv_job rlr replace "$TMPDIR_T/feed/*.csv"
for i in 1 2 3; do
	"$CNS" run rlc.conf >/dev/null 2>&1 || echo "# csv append run $i failed"
	"$CNS" run rlr.conf >/dev/null 2>&1 || echo "# csv replace run $i failed"
done
csv_rows 1 5 feed/f.csv
"$CNS" run rlc.conf >/dev/null 2>&1; rc=$?
is "$rc" 1 "csv, append: a file of 5 rows where 50 were usual fails the run"
is "$(q r_dst "SELECT count(*) FROM rlc")" 150 "csv, append: nothing was appended"
like "$("$CNS" log rlc.conf last)" 'volume anomaly before extraction.*source "f": 5 rows' \
     "csv, append: judged before extraction"
"$CNS" run rlr.conf >/dev/null 2>&1; rc=$?
is "$rc" 1 "csv, replace: the same file fails the run"
is "$(q r_dst "SELECT count(*) FROM rlr")" 50 "csv, replace: the target keeps its rows"
like "$("$CNS" log rlr.conf last)" 'volume anomaly, failing the run: source "f": 5 rows' \
     "csv, replace: judged after the read, before the swap"
mkfifo feed.pipe
csv_job rlc append "$TMPDIR_T/feed.pipe"
csv_rows 1 5 /dev/stdout > feed.pipe &
writer=$!
"$CNS" run rlc.conf >/dev/null 2>&1; rc=$?
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null
is "$rc" 1 "csv from a FIFO: the anomaly still fails the run"
like "$("$CNS" log rlc.conf last)" 'volume anomaly, failing the run: source "f": 5 rows' \
     "csv from a FIFO: judged after the read, which cannot be repeated"

# no secret anywhere
leaks=$(grep -rl 'S3cretPassw0rd' log rejects metrics.prom 2>/dev/null)
is "$leaks" "" "no log, record, rejects or metrics file holds the password"
is "$(q r_dst "SELECT count(*) FROM consolidate.runs WHERE error LIKE '%S3cretPassw0rd%'")" 0 "nor the history table"
done_testing
