#!/usr/bin/env bash
# Rows deleted at the source (deletes = soft | hard): after a complete
# full read, the target rows of a source that the run did not read are
# marked (deleted_at) or removed, each source touching only the rows its
# source_key picks; a row that comes back is un-deleted; a run that would
# delete more than max_deletes fails and deletes nothing; an incremental
# source is refused; check and plan show the statements; and a run killed
# anywhere, then run again, deletes exactly what a clean run deletes.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}

createdb_fresh d_src
createdb_fresh d_dst
reset_source() {
	q d_src "DROP TABLE IF EXISTS erp, crm;
	         CREATE TABLE erp (id int PRIMARY KEY, name text);
	         CREATE TABLE crm (id int PRIMARY KEY, name text);
	         INSERT INTO erp SELECT i, 'e' || i FROM generate_series(1, 10) i;
	         INSERT INTO crm SELECT i, 'c' || i FROM generate_series(1, 10) i"
}
cat > d.xf <<'XF'
[schema]
source_system text not null
id            integer not null
name          text

[from erp]
source_system = 'erp'
id            = id
name          = name

[from crm]
source_system = 'crm'
id            = id
name          = name
XF
write_job() {	# write_job FILE TABLE ERP_DELETES CRM_DELETES [EXTRA LINES for erp]
	local f=$1 table=$2 ed=$3 cd=$4
	shift 4
	cat > "$f" <<JOB
[job]
name        = $table
batch_size  = 3
transforms  = d.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
[target]
conninfo = $(conninfo d_dst)
table    = $table
key      = source_system, id
mode     = upsert
[source crm]
driver      = postgres
conninfo    = $(conninfo d_src)
table       = crm
deletes     = $cd
source_key  = source_system = 'crm'
max_deletes = 50%
[source erp]
driver      = postgres
conninfo    = $(conninfo d_src)
table       = erp
deletes     = $ed
source_key  = source_system = 'erp'
JOB
	for l in "$@"; do echo "$l" >> "$f"; done
}
rows() { q d_dst "SELECT string_agg(source_system || id || CASE WHEN $2 THEN '*' ELSE '' END, ' ' ORDER BY source_system, id) FROM $1"; }
seen_tables() { q d_dst "SELECT count(*) FROM pg_tables WHERE schemaname = 'consolidate' AND tablename LIKE 'cns_seen_%'"; }

# ---- soft and hard, two sources, each its own rows ----
reset_source
write_job job.conf del hard soft "max_deletes = 50%"
"$CNS" run job.conf; ok $? "first run"
is "$(q d_dst 'SELECT count(*) FROM del')" 20 "every row loaded"
is "$(q d_dst "SELECT count(*) FROM information_schema.columns WHERE table_name = 'del' AND column_name = 'deleted_at'")" 1 \
	"deletes = soft adds the deleted_at column the first time"
# A row no source of this job brings: neither source may touch it.
q d_dst "INSERT INTO del VALUES ('other', 1, 'x'), ('other', 2, 'y')"
q d_src "DELETE FROM erp WHERE id IN (1, 2); DELETE FROM crm WHERE id IN (3, 4);
         UPDATE erp SET name = 'changed' WHERE id = 5"
"$CNS" run job.conf > run2.out 2>&1; ok $? "a run after rows were deleted at the source"
is "$(q d_dst "SELECT string_agg(source_system || id, ' ' ORDER BY source_system, id) FROM del WHERE source_system = 'erp'")" \
	"erp3 erp4 erp5 erp6 erp7 erp8 erp9 erp10" "hard: the rows gone from erp are gone from the target"
is "$(q d_dst "SELECT string_agg(id::text, ' ' ORDER BY id) FROM del WHERE source_system = 'crm' AND deleted_at IS NOT NULL")" \
	"3 4" "soft: the rows gone from crm are marked, the others not"
is "$(q d_dst "SELECT count(*) FROM del WHERE source_system = 'crm'")" 10 "soft: the marked rows stay"
is "$(q d_dst "SELECT count(*) FROM del WHERE source_system = 'other' AND deleted_at IS NULL")" 2 \
	"rows of no source of the job are left alone"
is "$(q d_dst "SELECT name FROM del WHERE source_system = 'erp' AND id = 5")" changed "the same run loaded its changes"
like "$(cat log/del/*.log 2>/dev/null; cat log/*.log 2>/dev/null)" 'deleted rows=2 of=10' "the log says how many rows were deleted"
is "$(seen_tables)" 0 "the run's seen-keys tables are gone after it"
marked_at=$(q d_dst "SELECT deleted_at FROM del WHERE source_system = 'crm' AND id = 4")

# A row that comes back is un-deleted; one still gone keeps its mark.
q d_src "INSERT INTO crm VALUES (3, 'back')"
"$CNS" run job.conf; ok $? "a run after a row came back"
is "$(q d_dst "SELECT deleted_at IS NULL, name FROM del WHERE source_system = 'crm' AND id = 3")" $'t\tback' \
	"the row that came back is un-deleted and up to date"
is "$(q d_dst "SELECT deleted_at FROM del WHERE source_system = 'crm' AND id = 4")" "$marked_at" \
	"a row still gone keeps the time it was first marked"

# ---- the guard ----
q d_src "DELETE FROM crm WHERE id IN (5, 6, 7, 8, 9, 10); UPDATE crm SET name = 'seen' WHERE id = 1"
before=$(rows del "deleted_at IS NOT NULL")
out=$("$CNS" run job.conf 2>&1); rc=$?
ok $([ $rc -ne 0 ]; echo $?) "a run that would delete more than max_deletes fails (exit $rc)"
like "$out" 'source "crm": 6 of its 9 rows in the target were not read, more than max_deletes = 50%: nothing was deleted' \
	"with a message that says how many and which limit"
is "$(rows del "deleted_at IS NOT NULL")" "$before" "nothing was deleted or marked"
is "$(q d_dst "SELECT name FROM del WHERE source_system = 'crm' AND id = 1")" seen "the rows it read were loaded"
like "$("$CNS" history job.conf 2>&1)" "failed .*max_deletes" "history records the run as failed"
is "$(seen_tables)" 0 "a failed run drops its seen-keys tables"
sed -i 's/^max_deletes = 50%$/max_deletes = 6/' job.conf
"$CNS" run job.conf; ok $? "within max_deletes = 6 the same deletes pass"
is "$(q d_dst "SELECT string_agg(id::text, ' ' ORDER BY id) FROM del WHERE source_system = 'crm' AND deleted_at IS NULL")" \
	"1 2 3" "and the six rows are marked"

# ---- refused configurations ----
write_job inc.conf del hard ignore "incremental = id"
out=$("$CNS" check inc.conf 2>&1); rc=$?
is "$rc" 3 "deletes on an incremental source are refused"
like "$out" 'cannot be used with "incremental": an incremental read sees only rows that changed since the watermark, never rows that are gone' \
	"the message says why"
like "$out" 'read the source in full' "and the hint says what to do"
write_job app.conf del hard ignore
sed -i 's/^mode     = upsert/mode     = append/' app.conf
like "$("$CNS" check app.conf 2>&1)" '"deletes" in \[source erp\] needs mode upsert' "mode append is refused"
write_job nokey.conf del hard ignore
sed -i "/^source_key  = source_system = 'erp'/d" nokey.conf
like "$("$CNS" check nokey.conf 2>&1)" 'needs "source_key" when the job has several sources' \
	"several sources need a source_key"

# ---- check and plan show the statements ----
out=$("$CNS" plan job.conf 2>&1)
like "$out" "DELETE FROM \"?del\"? AS t WHERE \(source_system = 'erp'\) AND NOT EXISTS" "plan shows the hard delete"
like "$out" "UPDATE \"?del\"? AS t SET deleted_at = now\(\) WHERE \(source_system = 'crm'\) AND t.deleted_at IS NULL" \
	"plan shows the soft delete"
out=$("$CNS" check job.conf 2>&1); ok $? "check passes"
like "$out" "deletes: DELETE FROM" "check shows the delete statement"
write_job bad.conf del hard soft
sed -i "s/^source_key  = source_system = 'erp'/source_key  = no_such_column = 'erp'/" bad.conf
like "$("$CNS" check bad.conf 2>&1)" 'source_key.*no_such_column' "check tries source_key on the target"

# ---- killed anywhere, then run again ----
if [ -x "$HOOKS" ]; then
	# The reference: a clean run, the source changes, a clean run.
	change() { q d_src "DELETE FROM erp WHERE id IN (2, 7); DELETE FROM crm WHERE id = 9; INSERT INTO erp VALUES (11, 'new')"; }
	reset_source
	write_job ref.conf ref hard soft "max_deletes = 50%"
	"$CNS" run ref.conf >/dev/null 2>&1
	change
	"$CNS" run ref.conf >/dev/null 2>&1
	ref=$(rows ref "deleted_at IS NOT NULL")
	is "$ref" "crm1 crm2 crm3 crm4 crm5 crm6 crm7 crm8 crm9* crm10 erp1 erp3 erp4 erp5 erp6 erp8 erp9 erp10 erp11" \
		"the reference deletes what is gone"
	equal=0 n=0 killed=0
	for point in load.committed:1 load.committed:3 load.checkpointed:2 run.finished:1 deletes.before_commit:1; do
		reset_source
		q d_dst "DROP TABLE IF EXISTS k"
		write_job k.conf k hard soft "max_deletes = 50%"
		"$CNS" run k.conf >/dev/null 2>&1
		change
		CNS_KILL_AT=$point "$HOOKS" run k.conf > kill.out 2>&1
		[ $? -eq 137 ] && killed=$((killed + 1))
		killed_rows=$(rows k "deleted_at IS NOT NULL")
		"$HOOKS" run k.conf > rerun.out 2>&1; rc=$?
		got=$(rows k "deleted_at IS NOT NULL")
		n=$((n + 1))
		if [ $rc -eq 0 ] && [ "$got" = "$ref" ]; then
			equal=$((equal + 1))
		else
			echo "# $point: rerun exit $rc"
			echo "#   after kill: $killed_rows"
			echo "#   got:        $got"
		fi
		# Before its last transaction a killed run deleted nothing.
		if [ "$point" != run.finished:1 ] &&
		   { case "$killed_rows" in *'*'*) true ;; *) false ;; esac ||
		     ! echo " $killed_rows " | grep -q ' erp2 .* erp7 '; }; then
			echo "# $point: the killed run deleted something: $killed_rows"
			equal=$((equal - 1))
		fi
	done
	is "$killed" 5 "every kill point was reached"
	is "$equal" "$n" "killed anywhere, the rerun's target equals the clean one's ($equal of $n)"
	is "$(seen_tables)" 0 "no seen-keys table is left behind"
else
	ok 1 "$HOOKS is not built (make hooks)"
fi

done_testing
