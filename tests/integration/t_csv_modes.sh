#!/usr/bin/env bash
# CSV (plain and gzip, a glob over two files) -> PostgreSQL in the three
# modes, with quoted commas, embedded newlines, empty fields and UTF-8.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh dst_csv
mkdir in
{
	echo 'id,name,note'
	echo '1,"Smith, Jane",'
	echo '2,Zoë,""'
	echo '3,"multi'
	echo 'line",x'
	echo '4,山田,"say ""hi"""'
} > in/a.csv
{
	echo 'id,name,note'
	for i in $(seq 5 2000); do echo "$i,name $i,n$i"; done
} | gzip > in/b.csv.gz

cat > people.xf <<'XF'
[schema]
id    integer not null
name  text
note  text

[from files]
id   = cast(id as integer)
name = name
note = note
XF

write_job() {
	cat > job.conf <<JOB
[job]
name        = people_$1
batch_size  = 300
transforms  = people.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo dst_csv)
table    = people_$1
key      = id
mode     = $1

[source files]
driver = csv
path   = in/*.csv*
JOB
}

for mode in append upsert replace; do
	write_job $mode
	"$CNS" run job.conf; ok $? "$mode: run succeeds"
	is "$(q dst_csv "SELECT count(*) FROM people_$mode")" 2000 "$mode: 2000 rows"
	is "$(q dst_csv "SELECT name || '|' || coalesce(note, '<null>') FROM people_$mode WHERE id = 1")" \
	   'Smith, Jane|<null>' "$mode: quoted comma kept, empty field is NULL"
	is "$(q dst_csv "SELECT name || '|' || coalesce(note, '<null>') FROM people_$mode WHERE id = 2")" \
	   'Zoë|' "$mode: quoted empty field is an empty string"
	is "$(q dst_csv "SELECT name FROM people_$mode WHERE id = 3")" $'multi\nline' "$mode: embedded newline kept"
	is "$(q dst_csv "SELECT name || '|' || note FROM people_$mode WHERE id = 4")" '山田|say "hi"' "$mode: UTF-8 and doubled quotes"
done
write_job upsert
summary=$("$CNS" run --summary job.conf 2>&1)
like "$summary" 'files +ok +2,000 +0 +0 +2,000 +0 ' "upsert rerun from CSV changes nothing"
# Timestamps without an offset are read in the source's declared zone.
printf 'id,at\n1,2026-07-01 12:00:00\n2,2026-01-15 12:00:00\n3,2026-03-08 02:30:00\n' > tz.csv
cat > tz.xf <<'XF'
[schema]
id integer not null
at timestamptz
XF
cat > tz.conf <<JOB
[job]
name        = tz
transforms  = tz.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
[target]
conninfo = $(conninfo dst_csv)
table    = tz
[source f]
driver   = csv
path     = tz.csv
timezone = America/New_York
JOB
"$CNS" run tz.conf; ok $? "a source with a declared time zone"
is "$(q dst_csv "SELECT string_agg(to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), ',' ORDER BY id) FROM tz")" \
   "2026-07-01 16:00,2026-01-15 17:00,2026-03-08 07:30" "its local times become the right instants, summer, winter and in the DST gap"
done_testing
