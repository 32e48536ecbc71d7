#!/usr/bin/env bash
# Re-driving rejects: a run rejects rows (a bad cast in two sources, and a
# row the target's own CHECK refuses); the transform is fixed (and the
# CHECK dropped); `consolidate redrive JOB last` loads the rows that now
# pass and writes the one that still fails to a new rejects file with its
# reason; the redrive is recorded as kind "redrive" (runs.jsonl,
# consolidate.runs, history); a second redrive of the same file is
# refused and changes nothing; and a redrive killed before or after its
# commit, then run again, loads each row exactly once (mode append, where
# a row loaded twice would show).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}

createdb_fresh rd_src
createdb_fresh rd_dst
q rd_src "CREATE TABLE erp (id int PRIMARY KEY, amount text, note text);
          INSERT INTO erp SELECT i, i::text, 'n' || i FROM generate_series(1, 20) i;
          UPDATE erp SET amount = '1 234' WHERE id = 3;
          UPDATE erp SET amount = '7x' WHERE id = 8;
          UPDATE erp SET amount = 'none' WHERE id = 12;
          UPDATE erp SET amount = '5000000' WHERE id = 15;
          CREATE TABLE crm (id int PRIMARY KEY, amount text, note text);
          INSERT INTO crm SELECT i, i::text, 'c, \"quoted\"' || i FROM generate_series(1, 5) i;
          UPDATE crm SET amount = '4 4' WHERE id = 4"
write_xf() {	# write_xf AMOUNT-EXPRESSION
	cat > rd.xf <<XF
[schema]
src    text not null
id     integer not null
amount integer
note   text

[from erp]
src    = 'erp'
id     = id
amount = $1
note   = note

[from crm]
src    = 'crm'
id     = id
amount = $1
note   = note
XF
}
write_job() {	# write_job FILE TABLE MODE
	local key="key = src, id"
	[ "$3" = append ] && key=""
	cat > "$1" <<JOB
[job]
name        = $2
batch_size  = 4
max_rejects = 100
transforms  = rd.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
[target]
conninfo = $(conninfo rd_dst)
table    = $2
$key
mode     = $3
[source erp]
driver   = postgres
conninfo = $(conninfo rd_src)
table    = erp
[source crm]
driver   = postgres
conninfo = $(conninfo rd_src)
table    = crm
JOB
}
BROKEN='cast(amount as integer)'
FIXED="cast(regexp_replace(amount, '[^0-9]', '', 'g') as integer)"
rows_of() { q rd_dst "SELECT string_agg(src || id || '=' || coalesce(amount::text, 'null'), ' ' ORDER BY src, id) FROM $1 WHERE $2"; }

# ---- a run with rejects, a fixed transform, a redrive ----
q rd_dst "CREATE TABLE up (src text NOT NULL, id integer NOT NULL, amount integer CHECK (amount < 1000000),
          note text, PRIMARY KEY (src, id))"
write_xf "$BROKEN"
write_job job.conf up upsert
"$CNS" run job.conf > run.out 2>&1; ok $? "a run with rejects succeeds within max_rejects"
first=$(q rd_dst "SELECT run_id FROM consolidate.runs WHERE job = 'up' ORDER BY started_at DESC LIMIT 1")
is "$(zcat "rejects/up/$first.csv.gz" | tail -n +2 | wc -l)" 5 "the rejects file holds the five refused rows"
is "$(q rd_dst 'SELECT count(*) FROM up')" 20 "the other rows loaded"
like "$(zcat "rejects/up/$first.csv.gz")" 'the target refused the row' "a row the target refused is among them"
write_xf "$FIXED"
q rd_dst "ALTER TABLE up DROP CONSTRAINT up_amount_check"
out=$("$CNS" redrive job.conf last 2>&1); rc=$?
is "$rc" 0 "redrive of the last run's rejects"
like "$out" "re-drove 5 rows of run $first: 4 loaded, 0 filtered, 1 still failing" "it says what became of the rows"
is "$(rows_of up "(src, id) IN (('erp', 3), ('erp', 8), ('erp', 15), ('crm', 4))")" \
	"crm4=44 erp3=1234 erp8=7 erp15=5000000" "the rows that now pass arrived, through the fixed transform"
is "$(q rd_dst "SELECT note FROM up WHERE src = 'crm' AND id = 4")" 'c, "quoted"4' \
	"values with commas and quotes survive the round trip"
is "$(q rd_dst "SELECT count(*) FROM up WHERE src = 'erp' AND id = 12")" 0 "the row that still fails did not"
redrive_run=$(q rd_dst "SELECT run_id FROM consolidate.runs WHERE job = 'up' AND kind = 'redrive'")
ok $([ -n "$redrive_run" ]; echo $?) "consolidate.runs records a run of kind redrive"
is "$(q rd_dst "SELECT status, rejected FROM consolidate.runs WHERE run_id = '$redrive_run'")" $'ok\t1' \
	"with its status and the rows still failing"
like "$(grep "\"run_id\":\"$redrive_run\"" log/up/runs.jsonl)" '"kind":"redrive"' "runs.jsonl records the kind"
like "$("$CNS" history job.conf)" "$redrive_run .*ok \(redrive\)" "history shows the kind"
new="rejects/up/$redrive_run.csv.gz"
like "$out" "rows that still fail: .*$redrive_run.csv.gz" "it names the new rejects file"
is "$(zcat "$new" | tail -n +2 | wc -l)" 1 "the new rejects file holds the row that still fails"
orig_row=$(zcat "rejects/up/$first.csv.gz" | grep '""amount"":""none""' | cut -d, -f2)
like "$(zcat "$new" | tail -n +2)" "^\"erp\",$orig_row,\"\",\"amount\",\"column \"\"amount\"\": invalid integer .*\"\"amount\"\":\"\"none\"\"" \
	"with its source, row number as first read, column, reason and source values"

# ---- a second redrive of the same file ----
before=$(table_digest rd_dst "SELECT t::text FROM up t")
out=$("$CNS" redrive job.conf "$first" 2>&1); rc=$?
is "$rc" 1 "a second redrive of the same file is refused"
like "$out" "the rejects of run $first were re-driven already, by run $redrive_run at .*: nothing was done" "and says so"
is "$(table_digest rd_dst "SELECT t::text FROM up t")" "$before" "and changes nothing"
is "$(q rd_dst "SELECT count(*) FROM consolidate.runs WHERE job = 'up' AND kind = 'redrive'")" 1 "nor records a run"
out=$("$CNS" redrive job.conf 20990101T000000Z-000000 2>&1); rc=$?
is "$rc" 2 "a run without a rejects file"
like "$out" 'left no rejects file' "is named as such"
# The leftovers of the redrive are its own file: re-driving that one works.
out=$("$CNS" redrive job.conf last 2>&1); rc=$?
like "$out" "re-drove 1 row of run $redrive_run: 0 loaded, 0 filtered, 1 still failing" \
	"redrive last takes the redrive's own rejects next"

# ---- replace mode is refused ----
write_job rep.conf rep replace
like "$("$CNS" redrive rep.conf last 2>&1)" 'mode replace' "mode replace refuses a redrive"

# ---- a redrive says nothing about the job's own runs ----
write_xf "$BROKEN"
write_job st.conf st upsert
sed -i "s/^mode     = upsert/mode     = upsert\ncreate   = no/" st.conf
q rd_dst "CREATE TABLE st (src text NOT NULL, id integer NOT NULL, amount integer, note text, PRIMARY KEY (src, id))"
"$CNS" run st.conf >/dev/null 2>&1; ok $? "a run of job st with rejects"
write_xf "$FIXED"
q rd_dst "ALTER TABLE st RENAME TO st_away"
"$CNS" redrive st.conf last > st.out 2>&1
is "$?" 1 "a redrive whose target is gone fails"
like "$("$CNS" history st.conf)" 'failed \(redrive\)' "and is recorded as a failed redrive"
q rd_dst "ALTER TABLE st_away RENAME TO st"
out=$("$CNS" status st.conf 2>&1); rc=$?
is "$rc" 0 "status judges the job by its runs, not by a failed redrive"
like "$out" ' ok ' "and calls it ok"

# ---- killed, then run again: each row loaded once ----
if [ -x "$HOOKS" ]; then
	for point in redrive.transformed:1 load.merged:1 load.committed:1 redrive.loaded:1; do
		tab=k_$(echo "$point" | tr -c 'a-z0-9\n' '_')
		write_xf "$BROKEN"
		write_job k.conf "$tab" append
		"$CNS" run k.conf >/dev/null 2>&1
		write_xf "$FIXED"
		CNS_KILL_AT=$point "$HOOKS" redrive k.conf last > kill.out 2>&1
		is "$?" 137 "redrive killed at $point"
		"$HOOKS" redrive k.conf last > rerun.out 2>&1
		rc=$?
		case $point in
		load.committed:1|redrive.loaded:1)
			is "$rc" 1 "after a kill past the commit, the rerun is refused ($point)" ;;
		*)
			is "$rc" 0 "after a kill before the commit, the rerun re-drives ($point)" ;;
		esac
		is "$(q rd_dst "SELECT count(*), count(DISTINCT (src, id)) FROM $tab")" $'24\t24' \
			"each row is loaded exactly once ($point)"
	done
else
	ok 1 "$HOOKS is not built (make hooks)"
fi

done_testing
