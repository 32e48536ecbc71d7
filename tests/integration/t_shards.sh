#!/usr/bin/env bash
# Sharded runs: one job split into shards (quantile ranges of a skewed
# column with NULLs, a hash of a text key, ctid blocks) gives the target
# of the same job unsharded, row for row, in append, upsert and replace
# mode; incremental runs advance the watermark once, at finalize.  Killed
# with SIGKILL in a shard, in the coordinator and in finalize, a rerun
# resumes the same plan and the target still equals the reference,
# nothing doubled.  The steps run apart (shard --plan, shard --run,
# finalize) give the same target as local workers.
#
# The kills need a build with fault-injection points: $CNS_HOOKS
# (make TEST_HOOKS=1).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}
[ -x "$HOOKS" ] || { echo "not ok 1 - $HOOKS is not built (make TEST_HOOKS=1)"; exit 1; }

createdb_fresh sh_src
createdb_fresh sh_dst
# Skewed: half the rows share grp 0, a tail of distinct values, and NULLs.
q sh_src "CREATE TABLE ev (id int PRIMARY KEY, grp int, code text,
            updated_at timestamptz NOT NULL, payload text)"
q sh_src "INSERT INTO ev SELECT i,
            CASE WHEN i % 2 = 0 THEN 0 WHEN i % 11 = 0 THEN NULL ELSE i END,
            CASE WHEN i % 13 = 0 THEN NULL ELSE 'k' || (i * 7919 % 1000) END,
            timestamptz '2026-01-01 00:00:00+00' + (i / 10) * interval '1 second',
            'p' || i FROM generate_series(1, 6000) i"

cat > ev.xf <<'XF'
[schema]
id         integer not null
grp        integer
code       text
updated_at timestamptz
payload    text

[from src]
id         = id
grp        = grp
code       = code
updated_at = updated_at
payload    = payload
XF

# write_job NAME MODE [key = value lines for the source...]
write_job() {
	local name=$1 mode=$2
	shift 2
	{
		cat <<JOB
[job]
name       = $name
batch_size = 500
transforms = ev.xf
log_dir    = $TMPDIR_T/log
lock_dir   = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
parallel_shards = 3

[target]
conninfo = $(conninfo sh_dst)
table    = public.$name
mode     = $mode
JOB
		[ "$mode" = append ] || echo "key      = id"
		cat <<JOB

[source src]
driver   = postgres
conninfo = $(conninfo sh_src)
table    = ev
JOB
		for kv in "$@"; do echo "$kv"; done
	} > "$name.conf"
}

digest() { table_digest sh_dst "SELECT concat_ws('|', id, coalesce(grp::text, '<null>'), coalesce(code, '<null>'), updated_at, payload) FROM $1"; }
plans_open() { q sh_dst "SELECT count(*) FROM consolidate.shard_runs WHERE job = '$1' AND state = 'planned'"; }
stagings() { q sh_dst "SELECT count(*) FROM pg_tables WHERE schemaname = 'consolidate' AND tablename LIKE 'stage%'"; }

for mode in append upsert replace; do
	write_job "ref_$mode" "$mode"
	"$CNS" run "ref_$mode.conf"; ok $? "$mode: the unsharded reference runs"
	write_job "sh_$mode" "$mode" "shards = 4" "split_by = grp"
	out=$("$CNS" run "sh_$mode.conf" 2>&1); ok $? "$mode: the sharded run succeeds"
	is "$out" "" "$mode: silent on success"
	is "$(digest "sh_$mode")" "$(digest "ref_$mode")" "$mode: sharded target equals the unsharded one"
	is "$(plans_open "sh_$mode")" 0 "$mode: the plan is merged"
done
is "$(stagings)" 0 "no staging table is left"
is "$(q sh_dst "SELECT nshards FROM consolidate.shard_runs r WHERE job = 'sh_append'")" 4 \
   "the skewed column gives 3 distinct ranges plus the NULL shard"
is "$(q sh_dst "SELECT count(*) FROM consolidate.shard_runs r JOIN consolidate.shards s USING (run_id)
               WHERE job = 'sh_append' AND s.rows > 0")" 4 "every shard read rows"
is "$(q sh_dst "SELECT s.rows FROM consolidate.shard_runs r JOIN consolidate.shards s USING (run_id)
               WHERE job = 'sh_append' AND predicate LIKE '%IS NULL%'")" \
   "$(q sh_src "SELECT count(*) FROM ev WHERE grp IS NULL")" "the NULL shard holds the NULL rows"
run=$(q sh_dst "SELECT run_id FROM consolidate.shard_runs WHERE job = 'sh_append'")
like "$("$CNS" history sh_append.conf 2>&1)" "$run .* ok +src 6,000/6,000" \
     "history shows the merged run with the rows of its shards"

# Other splits: a hash of a text key with NULLs, and ctid blocks.
write_job sh_hash upsert "shards = 5" "split_by = code" "split_method = hash"
"$CNS" run sh_hash.conf; ok $? "hash split runs"
is "$(digest sh_hash)" "$(digest ref_upsert)" "hash split: target equals the unsharded one"
is "$(q sh_dst "SELECT nshards FROM consolidate.shard_runs WHERE job = 'sh_hash'")" 6 "hash: 5 shards and the NULL shard"
write_job sh_blocks append "shards = 3"
"$CNS" run sh_blocks.conf; ok $? "block split runs"
is "$(digest sh_blocks)" "$(digest ref_append)" "block split: target equals the unsharded one"
like "$(q sh_dst "SELECT string_agg(predicate, ';') FROM consolidate.shard_runs JOIN consolidate.shards USING (run_id) WHERE job = 'sh_blocks'")" \
     "ctid >= '\(0,0\)'::tid AND ctid < " "blocks: the shards are ctid ranges"

# plan shows each shard's predicate and estimate.
out=$("$CNS" plan sh_append.conf 2>&1); ok $? "plan of a sharded job succeeds"
like "$out" 'shard 0: "grp" <= ' "plan shows the first range"
like "$out" '"grp" IS NULL.*\(about [0-9]+ rows\)' "plan shows the NULL shard with its estimate"

# The steps apart, as a cluster scheduler runs them: the coordinator's
# snapshot is gone when the shards run.
write_job sh_apart upsert "shards = 3" "split_by = id"
set -- $("$CNS" shard sh_apart.conf --plan)
run=$1 n=$2
is "$n" 4 "shard --plan prints the run id and 3 ranges plus the NULL shard"
set -- $("$CNS" shard sh_apart.conf --plan)
is "$1 $2" "$run $n" "planning again finds the same plan"
"$CNS" finalize sh_apart.conf --run "$run" 2> fin.err; rc=$?
is "$rc" 1 "finalize refuses while shards are not done"
like "$(cat fin.err)" "shard 0 of run \"$run\" is not done" "and names the shard"
for i in $(seq 0 $((n - 1))); do
	"$CNS" shard sh_apart.conf --run "$run" --shard "$i"; ok $? "shard $i runs"
done
"$CNS" shard sh_apart.conf --run "$run" --shard 1; ok $? "a shard already done runs again as a no-op"
like "$(q sh_dst "SELECT string_agg(read_snapshot, ',' ORDER BY shard) FROM consolidate.shards WHERE run_id = '$run' AND shard < 3")" \
     '^own:0,own:1,own:2$' "with the coordinator gone each shard read its own snapshot"
is "$(q sh_dst "SELECT rows || ' ' || (read_snapshot = snapshot) FROM consolidate.shards WHERE run_id = '$run' AND shard = 3")" "0 true" \
   "the NULL shard of a column without NULLs was done at planning, in the planned snapshot"
"$CNS" finalize sh_apart.conf --run "$run" 2> fin.err; ok $? "finalize merges"
like "$(cat fin.err)" "warning: run \"$run\": 1 full-load source was read again by finalize under one new snapshot" \
     "finalize says it read the full load again"
is "$(q sh_dst "SELECT count(DISTINCT read_snapshot) || ' ' || count(*) FILTER (WHERE read_snapshot LIKE 'own:%')
               FROM consolidate.shards WHERE run_id = '$run'")" "1 0" \
   "finalize read the full load again, all shards in one snapshot"
is "$(digest sh_apart)" "$(digest ref_upsert)" "steps apart: target equals the unsharded one"
"$CNS" finalize sh_apart.conf --run "$run"; ok $? "finalize of a merged run is a no-op"
is "$(digest sh_apart)" "$(digest ref_upsert)" "and changes nothing"

# The coordinator held (shard --plan --hold): shards started apart read
# in its snapshot, and finalize reads nothing again.
write_job sh_hold upsert "shards = 3" "split_by = grp"
"$CNS" shard sh_hold.conf --plan --hold > hold.out 2> hold.err &
hold_pid=$!
for _ in $(seq 100); do [ -s hold.out ] && break; sleep 0.1; done
set -- $(cat hold.out)
run=$1 n=$2
# status shows the shards of the run while it is under way: two done,
# then one failed (its staging table refuses rows), then all done.
for i in 0 1; do
	"$CNS" shard sh_hold.conf --run "$run" --shard "$i"; ok $? "held: shard $i runs"
done
out=$("$CNS" status sh_hold.conf 2>&1)
like "$out" "SHARDS OF sh_hold: run $run planned .*, planned: 2 done, 0 running, 0 failed, $((n - 2)) pending" \
     "status: a held plan with two shards done"
like "$out" "^1 +src +done +[0-9]+ " "status: one row per shard, with its state and rows"
like "$out" "^3 +src +pending +- " "status: a shard not started is pending, no rows"
stage2=$(q sh_dst "SELECT staging FROM consolidate.shards WHERE run_id = '$run' AND shard = 2")
q sh_dst "ALTER TABLE consolidate.\"$stage2\" ADD CONSTRAINT refuse CHECK (false) NOT VALID" > /dev/null
"$CNS" shard sh_hold.conf --run "$run" --shard 2 2> shard2.err; rc=$?
ok $((rc == 0)) "held: shard 2 fails when its staging table refuses rows"
out=$("$CNS" status --json sh_hold.conf 2>&1)
is "$(printf '%s' "$out" | jq -r '.jobs[0].shards | "\(.run_id) \(.state) \(.done) \(.running) \(.failed) \(.pending) \(.list[2].state) \(.list[0].rows > 0)"')" \
   "$run planned 2 0 1 $((n - 3)) failed true" "status --json: the failed shard and the counts"
like "$("$CNS" status sh_hold.conf 2>&1)" "^2 +src +failed " "status: the failed shard"
like "$("$CNS" history sh_hold.conf 2>&1)" "$run .* planned .* 2 failed" "history names the failed shard"
q sh_dst "ALTER TABLE consolidate.\"$stage2\" DROP CONSTRAINT refuse" > /dev/null
for i in $(seq 2 $((n - 1))); do
	"$CNS" shard sh_hold.conf --run "$run" --shard "$i"; ok $? "held: shard $i runs"
done
like "$("$CNS" status sh_hold.conf 2>&1)" "planned: $n done, 0 running, 0 failed, 0 pending" \
     "status: every shard done, not merged yet"
is "$(q sh_dst "SELECT count(*) FROM consolidate.shards WHERE run_id = '$run' AND read_snapshot = snapshot")" "$n" \
   "held: every shard read in the coordinator's snapshot"
"$CNS" finalize sh_hold.conf --run "$run"; ok $? "held: finalize merges"
wait "$hold_pid"; ok $? "the holder exits 0 once the run is merged"
like "$("$CNS" status sh_hold.conf 2>&1)" "SHARDS OF sh_hold: run $run planned .*, merged, [0-9]+ rows: $n done" \
     "status: the merged run with its rows"
is "$(CNS_NOW=2026-01-01T00:00:00Z "$CNS" status --json ref_upsert.conf | jq -c '.jobs[0].shards')" null \
   "status --json: a job without shards has none"
is "$(digest sh_hold)" "$(digest ref_upsert)" "held: target equals the unsharded one"
"$CNS" shard sh_hold.conf --plan --hold > hold2.out 2>&1 &
hold_pid=$!
for _ in $(seq 100); do [ -s hold2.out ] && break; sleep 0.1; done
kill -TERM "$hold_pid"; wait "$hold_pid"; rc=$?
is "$rc" 5 "SIGTERM ends the hold (exit 5), the plan stays for a rerun"
set -- $(cat hold2.out)
"$CNS" run sh_hold.conf; ok $? "run resumes the plan the holder left"
is "$(q sh_dst "SELECT state FROM consolidate.shard_runs WHERE run_id = '$1'")" merged "that plan is merged"

# Staging tables are unlogged: a server crash (immediate stop) empties
# them while the plan, which is logged, says the shards are done.  The
# merge checks each staging table's count as it reads it, rolls back on a
# short one, and finalize reads those shards again (a full load: all of
# them, in one snapshot) and merges; the target equals the reference, in
# every mode.
for mode in append upsert replace; do
	write_job "sh_crash_$mode" "$mode" "shards = 3" "split_by = grp"
	set -- $("$CNS" shard "sh_crash_$mode.conf" --plan)
	run=$1 n=$2
	for i in $(seq 0 $((n - 1))); do
		"$CNS" shard "sh_crash_$mode.conf" --run "$run" --shard "$i"; ok $? "crash, $mode: shard $i runs"
	done
	stage0=$(q sh_dst "SELECT staging FROM consolidate.shards WHERE run_id = '$run' AND shard = 0")
	is "$(q sh_dst "SELECT count(*) > 0 FROM consolidate.\"$stage0\"")" t "crash, $mode: shard 0 staged rows"
	"$ROOT/scripts/pg-sandbox" crash "$CNS_PG_SANDBOX" > /dev/null
	is "$(q sh_dst "SELECT count(*) FROM consolidate.\"$stage0\"")" 0 \
	   "crash, $mode: the server crash emptied the unlogged staging"
	is "$(q sh_dst "SELECT count(*) FROM consolidate.shards WHERE run_id = '$run' AND state = 'done'")" "$n" \
	   "crash, $mode: the plan survived, every shard done"
	"$CNS" finalize "sh_crash_$mode.conf" --run "$run" 2> crash.err
	ok $? "crash, $mode: finalize reads the emptied shards again and merges"
	is "$(digest "sh_crash_$mode")" "$(digest "ref_$mode")" "crash, $mode: target equals the unsharded one"
	is "$(q sh_dst "SELECT count(DISTINCT read_snapshot) FROM consolidate.shards WHERE run_id = '$run'")" 1 \
	   "crash, $mode: the full load was read in one snapshot"
done

# Not emptied but short: rows missing from one staging table (not a
# crash; anything that is not the shard's own load) are found by the
# merge's count all the same, and that shard is read again.
write_job sh_short append "shards = 3" "split_by = grp"
set -- $("$CNS" shard sh_short.conf --plan)
run=$1 n=$2
for i in $(seq 0 $((n - 1))); do
	"$CNS" shard sh_short.conf --run "$run" --shard "$i"; ok $? "short: shard $i runs"
done
stage1=$(q sh_dst "SELECT staging FROM consolidate.shards WHERE run_id = '$run' AND shard = 1")
q sh_dst "DELETE FROM consolidate.\"$stage1\" WHERE ctid IN (SELECT ctid FROM consolidate.\"$stage1\" LIMIT 7)" > /dev/null
"$CNS" finalize sh_short.conf --run "$run" 2> short.err; ok $? "short: finalize reads the short shard again and merges"
is "$(digest sh_short)" "$(digest ref_append)" "short: target equals the unsharded one, no row lost"

# Local workers share one process: each shard's chunks are the job's
# batch_size divided among them (at least 1000 rows), so that memory
# stays that of one unsharded run.
write_job sh_batch append "shards = 3" "split_by = grp"
sed -i 's/^batch_size = 500$/batch_size = 9000/' sh_batch.conf
"$CNS" run sh_batch.conf; ok $? "batch: the sharded run succeeds"
like "$(cat "$TMPDIR_T"/log/sh_batch.shard0/*.log 2>/dev/null)" "batch_size=3000 " \
     "batch: each of 3 workers reads chunks of 9000 / 3 rows"
is "$(digest sh_batch)" "$(digest ref_append)" "batch: target equals the unsharded one"

# A plan left awaiting a holder that never came (a submit whose holder
# was cancelled): a local run resumes it without waiting for one.
set -- $("$CNS" shard sh_batch.conf --plan)
q sh_dst "UPDATE consolidate.shard_runs SET hold = 'submitted' WHERE run_id = '$1'" > /dev/null
start=$(date +%s)
"$CNS" run sh_batch.conf; ok $? "awaiting a holder: a local run resumes the plan"
ok $(( $(date +%s) - start >= 60 )) "and waits for no holder"
is "$(q sh_dst "SELECT state FROM consolidate.shard_runs WHERE run_id = '$1'")" merged "that plan is merged"

# Plan tables made before the hold column: it is added on first use.
q sh_dst "ALTER TABLE consolidate.shard_runs DROP COLUMN hold" > /dev/null
"$CNS" run sh_batch.conf; ok $? "plan tables without the hold column: a sharded run succeeds"
is "$(q sh_dst "SELECT count(*) FROM pg_attribute WHERE attrelid = 'consolidate.shard_runs'::regclass AND attname = 'hold' AND NOT attisdropped")" 1 \
   "and the column is back"

# A csv source of several files splits by file.
mkdir -p csv
for f in 1 2 3; do
	{ echo "id,name"; seq $((f * 1000)) $((f * 1000 + 499)) | sed 's/.*/&,n&/'; } > "csv/part$f.csv"
done
cat > files.xf <<'XF'
[schema]
id   integer not null
name text

[from files]
id   = cast(id as integer)
name = name
XF
write_csv() {	# write_csv NAME [source lines...]
	local name=$1
	shift
	{
		printf '[job]\nname = %s\ntransforms = files.xf\nlog_dir = %s/log\nlock_dir = %s/lock\nrejects_dir = %s/rejects\nparallel_shards = 2\n\n' \
			"$name" "$TMPDIR_T" "$TMPDIR_T" "$TMPDIR_T"
		printf '[target]\nconninfo = %s\ntable = public.%s\n\n' "$(conninfo sh_dst)" "$name"
		printf '[source files]\ndriver = csv\npath = %s/csv/part*.csv\n' "$TMPDIR_T"
		for kv in "$@"; do echo "$kv"; done
	} > "$name.conf"
}
csv_digest() { table_digest sh_dst "SELECT id || '|' || name FROM $1"; }
write_csv csv_ref; "$CNS" run csv_ref.conf; ok $? "csv: the unsharded reference runs"
write_csv csv_sh "shards = 3"; "$CNS" run csv_sh.conf; ok $? "csv: the sharded run succeeds"
is "$(csv_digest csv_sh)" "$(csv_digest csv_ref)" "csv: sharded target equals the unsharded one"
is "$(q sh_dst "SELECT string_agg(regexp_replace(predicate, '.*/', ''), ',' ORDER BY shard) FROM consolidate.shard_runs JOIN consolidate.shards USING (run_id) WHERE job = 'csv_sh'")" \
   "part1.csv,part2.csv,part3.csv" "csv: one shard per file"

# Incremental (replace: a full load), killed anywhere: SIGKILL at a point of the coordinator, a
# shard or finalize, a rerun, a change at the source, a run; the target
# and the watermark equal those of unsharded uninterrupted runs.
reset_source() {
	q sh_src "DROP TABLE IF EXISTS ev2; CREATE TABLE ev2 AS SELECT * FROM ev; ALTER TABLE ev2 ADD PRIMARY KEY (id)"
}
change_source() {
	q sh_src "UPDATE ev2 SET payload = payload || '+', updated_at = updated_at + interval '1 day' WHERE id % 37 = 0"
	q sh_src "INSERT INTO ev2 SELECT i, CASE WHEN i % 3 = 0 THEN NULL ELSE i % 50 END, 'k' || i,
	            timestamptz '2026-02-01 00:00:00+00' + (i / 10) * interval '1 second', 'new' || i
	          FROM generate_series(6001, 6400) i"
}
write_inc() {	# write_inc NAME MODE [source lines...]
	local name=$1 mode=$2
	shift 2
	if [ "$mode" = replace ]; then	# a full load: replace reads every row
		write_job "$name" "$mode" "$@"
	else
		write_job "$name" "$mode" "incremental = updated_at" "key = id" "$@"
	fi
	sed -i 's/^table    = ev$/table    = ev2/' "$name.conf"
}
watermark() { q sh_dst "SELECT array_to_string(value, ',') FROM consolidate.watermarks WHERE job = '$1'"; }

for mode in append upsert replace; do
	reset_source
	write_inc "iref_$mode" "$mode"
	"$CNS" run "iref_$mode.conf"; change_source; "$CNS" run "iref_$mode.conf"
	ok $? "$mode: incremental reference runs"
	points="shard.plan_begin:1 shard.planned:1 load.committed:3 shard.loaded:2 shard.done:1 finalize.checked:1 finalize.merged:1"
	if [ "$mode" = replace ]; then
		points="$points finalize.shadow_loaded:1 swap.before_commit:1"
	else
		points="$points load.tables_merged:1"
	fi
	for point in $points; do
		name="k_${mode}_$(echo "$point" | tr -c 'a-z0-9\n' _)"
		reset_source
		write_inc "$name" "$mode" "shards = 3" "split_by = grp"
		CNS_KILL_AT=$point "$HOOKS" run "$name.conf" > kill.out 2>&1; rc=$?
		is "$rc" 137 "$mode: killed at $point"
		"$CNS" run "$name.conf"; ok $? "$mode $point: the rerun succeeds"
		change_source
		"$CNS" run "$name.conf"; ok $? "$mode $point: the next run succeeds"
		is "$(digest "$name")" "$(digest "iref_$mode")" "$mode $point: target equals the reference"
		is "$(watermark "$name")" "$(watermark "iref_$mode")" "$mode $point: watermark equals the reference's"
		is "$(plans_open "$name")" 0 "$mode $point: no plan left open"
	done
done
is "$(stagings)" 0 "no staging table is left after the kills"

done_testing
