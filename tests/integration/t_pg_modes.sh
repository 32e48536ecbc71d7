#!/usr/bin/env bash
# PostgreSQL -> PostgreSQL in append, upsert and replace mode; an upsert
# rerun changes nothing; NULL and empty string stay distinct; a replace run
# that fails midway leaves the old table as it was.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh src_pg
createdb_fresh dst_pg
q src_pg "CREATE TABLE items (id int PRIMARY KEY, name text, note text,
            amount numeric(10,2), ts timestamptz)"
q src_pg "INSERT INTO items SELECT i, 'item ' || i || E' \\\\ tab\\there',
            CASE WHEN i % 3 = 0 THEN NULL WHEN i % 3 = 1 THEN '' ELSE 'n' || i END,
            i * 1.25, timestamptz '2026-01-01 00:00:00.123456+00' + i * interval '1 minute'
          FROM generate_series(1, 5000) i"

cat > items.xf <<'XF'
[schema]
id      bigint not null
name    text
note    text
amount  numeric(10,2)
ts      timestamptz

[from src]
id     = id
name   = name
note   = note
amount = amount
ts     = ts
XF

write_job() {	# write_job MODE [WHERE]
	cat > job.conf <<JOB
[job]
name       = items_$1
batch_size = 700
transforms = items.xf
log_dir    = $TMPDIR_T/log
lock_dir   = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo dst_pg)
table    = public.items_$1
mode     = $1

[source src]
driver   = postgres
conninfo = $(conninfo src_pg)
table    = items
JOB
	if [ -n "${2:-}" ]; then
		echo "where = $2" >> job.conf
	fi
	if [ "$1" != append ]; then
		sed -i 's/^mode     = /key      = id\nmode     = /' job.conf
	fi
}

src_digest() { table_digest src_pg "SELECT concat_ws('|', id, name, coalesce(note, '<null>'), amount, ts) FROM items"; }
dst_digest() { table_digest dst_pg "SELECT concat_ws('|', id, name, coalesce(note, '<null>'), amount, ts) FROM items_$1"; }

# append
write_job append
"$CNS" run job.conf; ok $? "append run succeeds"
is "$(dst_digest append)" "$(src_digest)" "append: target equals source"
is "$(q dst_pg "SELECT count(*) FILTER (WHERE note IS NULL) || ',' || count(*) FILTER (WHERE note = '') FROM items_append")" \
   "$(q src_pg "SELECT count(*) FILTER (WHERE note IS NULL) || ',' || count(*) FILTER (WHERE note = '') FROM items")" \
   "NULL and empty string stay distinct"
is "$(q dst_pg "SELECT name FROM items_append WHERE id = 7")" 'item 7 \ tab	here' "backslash and tab survive"
out=$("$CNS" run job.conf 2>&1); ok $? "second append run succeeds"
is "$(q dst_pg 'SELECT count(*) FROM items_append')" 10000 "append appends"
is "$out" "" "silent on success when not on a terminal"
# Append into a table with a primary key: the duplicates are refused row by
# row, the run fails on max_rejects, and the rejects file says why.
q dst_pg "ALTER TABLE items_append ADD COLUMN seq serial; DELETE FROM items_append WHERE id <= 10 OR seq > 5000; ALTER TABLE items_append ADD PRIMARY KEY (id); ALTER TABLE items_append DROP COLUMN seq"
err=$("$CNS" run job.conf 2>&1); rc=$?
is "$rc" 1 "duplicates refused by the target fail the run past max_rejects"
like "$err" 'rows were rejected, more than max_rejects = 0' "the message names max_rejects"
rej=$(ls "$TMPDIR_T"/rejects/items_append/*.csv.gz | tail -n 1)
like "$(zcat "$rej" | head -n 3)" 'duplicate key value violates unique constraint' "the rejects file carries the server's reason"
# max_rejects = 0: the chunk holding the first refused row is rolled back,
# so the ten missing rows that share it are not loaded either.
is "$(q dst_pg 'SELECT count(*) FROM items_append')" 4990 "no chunk holding a refused row is committed"

# upsert
write_job upsert
"$CNS" run job.conf; ok $? "upsert run succeeds"
is "$(dst_digest upsert)" "$(src_digest)" "upsert: target equals source"
summary=$("$CNS" run --summary job.conf 2>&1); ok $? "upsert rerun succeeds"
like "$summary" 'src +ok +5,000 +0 +0 +5,000 +0 ' "upsert rerun changes nothing (0 changed)"
q src_pg "UPDATE items SET note = 'changed' WHERE id <= 10"
q src_pg "INSERT INTO items SELECT i, 'new', NULL, 0, now() FROM generate_series(5001, 5005) i"
summary=$("$CNS" run --summary job.conf 2>&1); ok $? "upsert after changes succeeds"
like "$summary" 'src +ok +5,005 +0 +0 +5,005 +15 ' "only the 15 changed or new rows are written"
is "$(dst_digest upsert)" "$(src_digest)" "upsert: target equals changed source"

# replace
write_job replace
"$CNS" run job.conf; ok $? "replace run succeeds"
q src_pg "DELETE FROM items WHERE id > 4900"
"$CNS" run job.conf; ok $? "second replace run succeeds"
is "$(dst_digest replace)" "$(src_digest)" "replace: target equals source, deleted rows gone"
before=$(dst_digest replace)
# Division by zero at id 3000: the source fails after several chunks have
# reached the shadow table.
write_job replace "1 / (id - 3000) <> 0 OR id > 0"
err=$("$CNS" run job.conf 2>&1); rc=$?
is "$rc" 1 "a replace run whose source fails midway exits 1"
like "$err" 'source "src".*division by zero' "the error names the source and the server's reason"
is "$(dst_digest replace)" "$before" "the failed replace run left the old table untouched"
write_job replace
"$CNS" run job.conf; ok $? "the next replace run succeeds"
is "$(q dst_pg "SELECT count(*) FROM pg_class WHERE relname LIKE 'items\_replace\_cns\_%'")" 0 "no shadow table is left behind"
is "$(dst_digest replace)" "$(src_digest)" "replace: target equals source after recovery"
# dedupe: two sources bring the same keys in parallel; the row with the
# latest updated_at wins, whichever source's chunk arrives first.
q src_pg "CREATE TABLE a (id int, updated_at timestamptz, v text); CREATE TABLE b (LIKE a)"
q src_pg "INSERT INTO a SELECT i, '2026-01-01'::timestamptz + (i % 2) * interval '1 day', 'a' FROM generate_series(1, 3000) i"
q src_pg "INSERT INTO b SELECT i, '2026-01-01'::timestamptz + ((i + 1) % 2) * interval '1 day', 'b' FROM generate_series(1, 3000) i"
cat > dd.xf <<'XF'
[schema]
id         integer not null
updated_at timestamptz
v          text
XF
cat > dd.conf <<JOB
[job]
name        = dd
batch_size  = 500
parallel    = 2
transforms  = dd.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
[target]
conninfo     = $(conninfo dst_pg)
table        = dd
key          = id
mode         = upsert
dedupe       = yes
dedupe_order = updated_at
[source a]
driver   = postgres
conninfo = $(conninfo src_pg)
table    = a
[source b]
driver   = postgres
conninfo = $(conninfo src_pg)
table    = b
JOB
"$CNS" run dd.conf; ok $? "a dedupe run with two sources in parallel"
is "$(q dst_pg "SELECT count(*) FILTER (WHERE v = CASE WHEN id % 2 = 1 THEN 'a' ELSE 'b' END) || '/' || count(*) FROM dd")" "3000/3000" \
   "one row per key, the one with the latest updated_at"
# check and run refuse a key the schema lacks or a source does not map.
sed 's/^key          = id$/key          = ident/' dd.conf > badkey.conf
err=$("$CNS" run badkey.conf 2>&1); rc=$?
is "$rc" 3 "a key column that is not in the schema is a configuration error"
like "$err" 'key column "ident" of \[target\] is not in the \[schema\]' "naming the column"
sed -i 's/^id         integer not null$/id         integer not null\nextra      text/' dd.xf
sed 's/^key          = id$/key          = id, extra/' dd.conf > unmapped.conf
err=$("$CNS" check unmapped.conf 2>&1); rc=$?
is "$rc" 1 "check reports a key column that a source does not map"
like "$err" 'source "a" does not map key column "extra"' "naming the source and the column"
done_testing
