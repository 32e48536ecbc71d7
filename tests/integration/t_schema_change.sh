#!/usr/bin/env bash
# on_schema_change, with the server as the oracle: in append, upsert and
# replace mode a [schema] that adds columns (a reserved word, a mixed-case
# name), widens a varchar, an integer to bigint and a numeric's precision
# fails the run under "fail" with the difference shown and the table
# untouched; check and plan show the difference and the DDL and change
# nothing; a run killed after its ALTER TABLE (and before its commit)
# leaves the table as it was; "evolve" then alters it, keeping the rows,
# the indexes and, in replace mode, the extra columns (at their default).
# A narrower [schema] never narrows a column, in either mode.  Then every
# widening of the documented table, each compared with the type the server
# gives the schema's type, and every keyword the server lists as a new
# column.
#
# Needs a build with fault-injection points: $CNS_HOOKS (make TEST_HOOKS=1).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}
[ -x "$HOOKS" ] || { echo "not ok 1 - $HOOKS is not built (make TEST_HOOKS=1)"; exit 1; }

createdb_fresh sc_src
createdb_fresh sc_dst
q sc_src "CREATE TABLE src (id int PRIMARY KEY, name text, qty int,
  price numeric(8,2), \"select\" text, \"Order Id\" text)"
q sc_src "INSERT INTO src SELECT i, 'n' || i, i, i + 0.25, 's' || i, 'o' || i
  FROM generate_series(1, 60) i"

cat > v1.xf <<'XF'
[schema]
id    integer not null
name  varchar(10)
qty   integer
price numeric(8,2)
XF
cat > v2.xf <<'XF'
[schema]
id         integer not null
name       varchar(40)
qty        bigint
price      numeric(12,2)
"select"   text
"Order Id" text
XF
# v1 widened only: the table takes what fits, as it always did.
cat > v1w.xf <<'XF'
[schema]
id    integer not null
name  varchar(40)
qty   bigint
price numeric(12,2)
XF
# v2 narrowed back where it can be: never applied to the table.
cat > v3.xf <<'XF'
[schema]
id         integer not null
name       varchar(10)
qty        integer
price      numeric(8,2)
"select"   text
"Order Id" text
XF

write_job() {	# write_job FILE MODE XF ON_SCHEMA_CHANGE
	cat > "$1" <<JOB
[job]
name        = sc_$2
batch_size  = 20
transforms  = $3
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo sc_dst)
table    = t_$2
mode     = $2
JOB
	[ "$2" = append ] || echo "key      = id" >> "$1"
	[ -n "$4" ] && echo "on_schema_change = $4" >> "$1"
	cat >> "$1" <<JOB

[source src]
driver   = postgres
conninfo = $(conninfo sc_src)
table    = src
JOB
}

types() {	# the table's columns and types, in order
	q sc_dst "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', '
	  ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$1'::regclass
	  AND attnum > 0 AND NOT attisdropped"
}
state() {	# types, rows and indexes: what must not change
	echo "$(types "$1") / $(table_digest sc_dst "SELECT t::text FROM $1 t") / $(q sc_dst "SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE tablename = '$1'")"
}

for mode in append upsert replace; do
	t=t_$mode
	write_job v1.conf $mode v1.xf ""
	"$CNS" run v1.conf; ok $? "$mode: the first run creates the table from the old [schema]"
	q sc_dst "CREATE INDEX ${t}_name ON $t (name)"
	[ $mode = replace ] && q sc_dst "ALTER TABLE $t ADD COLUMN extra text DEFAULT 'dflt'; UPDATE $t SET extra = 'mine'"
	before=$(state $t)

	# -- fail (the default) --
	write_job fail.conf $mode v2.xf ""
	"$CNS" run fail.conf > fail.out 2>&1; rc=$?
	is $rc 1 "$mode, fail: the run fails"
	out=$(cat fail.out)
	like "$out" "target table \"$t\" differs from the \[schema\] of" "$mode, fail: the message says the table differs"
	like "$out" 'column "select" \(text\) is not in the table' "$mode, fail: it names the new reserved-word column"
	like "$out" 'column "Order Id" \(text\) is not in the table' "$mode, fail: it names the new mixed-case column"
	like "$out" 'column "name" is character varying\(10\) in the table, varchar\(40\) in \[schema\]' "$mode, fail: it shows the varchar widening"
	like "$out" 'column "qty" is integer in the table, bigint in \[schema\]' "$mode, fail: it shows integer to bigint"
	like "$out" 'column "price" is numeric\(8,2\) in the table, numeric\(12,2\) in \[schema\]' "$mode, fail: it shows the numeric precision"
	like "$out" 'on_schema_change = evolve.*ALTER TABLE "'$t'" .*ADD COLUMN "select" text, ADD COLUMN "Order Id" text' "$mode, fail: the hint gives the DDL evolve would run"
	is "$(state $t)" "$before" "$mode, fail: the table is as it was"
	"$CNS" check fail.conf > check.out 2>&1; rc=$?
	is $rc 1 "$mode, fail: check reports the difference as a problem"
	like "$(cat check.out)" 'a run fails; with on_schema_change = evolve it would execute' "$mode, fail: check says what evolve would execute"
	write_job failw.conf $mode v1w.xf ""
	"$CNS" check failw.conf > check.out 2>&1; rc=$?
	is $rc 0 "$mode, fail, widenings only: check passes"
	like "$(cat check.out)" 'a run loads into the table as it is; with on_schema_change = evolve it would execute:' \
	     "$mode, fail, widenings only: check says the run goes on, and what evolve would do"
	"$CNS" run failw.conf > failw.out 2>&1; rc=$?
	is $rc 0 "$mode, fail, widenings only: the run loads into the narrower columns, as before"
	is "$(types $t)" "$(echo "$before" | sed 's| / .*||')" "$mode, fail, widenings only: no column changes"
	like "$(cat log/sc_$mode/*.log)" 'WARN.*schema change: column "qty" is integer in the table, bigint in \[schema\]: a safe widening' \
	     "$mode, fail, widenings only: the run log warns"
	before=$(state $t)

	# -- evolve: check and plan show, change nothing --
	write_job evolve.conf $mode v2.xf evolve
	"$CNS" check evolve.conf > check.out 2>&1; rc=$?
	is $rc 0 "$mode, evolve: check passes"
	like "$(cat check.out)" "ALTER TABLE \"$t\" ALTER COLUMN \"name\" TYPE varchar\(40\).*ADD COLUMN \"select\" text, ADD COLUMN \"Order Id\" text" "$mode, evolve: check prints the DDL"
	"$CNS" plan evolve.conf > plan.out 2>&1; rc=$?
	is $rc 0 "$mode, evolve: plan passes"
	like "$(cat plan.out)" "ALTER TABLE \"$t\" ALTER COLUMN \"name\" TYPE varchar\(40\), ALTER COLUMN \"qty\" TYPE bigint, ALTER COLUMN \"price\" TYPE numeric\(12,2\)" "$mode, evolve: plan prints the DDL"
	if [ $mode = replace ]; then
		like "$(cat plan.out)" "in the swap's transaction" "$mode, evolve: plan says when the DDL runs"
	else
		like "$(cat plan.out)" "in the transaction of its first chunk" "$mode, evolve: plan says when the DDL runs"
	fi
	is "$(state $t)" "$before" "$mode, evolve: check and plan changed nothing"

	# -- evolve: killed after the DDL, before its commit --
	if [ $mode = replace ]; then
		points="swap.begin:1 swap.before_commit:1"
	else
		points="evolve.altered:1 load.merged:1 load.checkpointed:1"
	fi
	for point in $points; do
		CNS_KILL_AT=$point "$HOOKS" run evolve.conf > kill.out 2>&1; rc=$?
		is $rc 137 "$mode, evolve: killed at $point"
		is "$(state $t)" "$before" "$mode, evolve: killed at $point, the table is as it was"
	done

	# -- evolve: the run --
	"$CNS" run evolve.conf > evolve.out 2>&1; rc=$?
	is $rc 0 "$mode, evolve: the run succeeds"
	[ $rc -eq 0 ] || sed 's/^/#   /' evolve.out
	want="id integer, name character varying(40), qty bigint, price numeric(12,2)"
	[ $mode = replace ] && want="$want, extra text"
	want="$want, select text, Order Id text"
	is "$(types $t)" "$want" "$mode, evolve: the columns are added and widened, nothing dropped"
	is "$(q sc_dst "SELECT count(*) FROM pg_indexes WHERE tablename = '$t'")" \
	   "$([ $mode = append ] && echo 1 || echo 2)" "$mode, evolve: the table keeps its indexes"
	src=$(table_digest sc_src "SELECT concat_ws('|', id, name, qty, price, \"select\", \"Order Id\") FROM src")
	if [ $mode = append ]; then
		is "$(q sc_dst "SELECT count(*) || ':' || count(\"select\") || ':' || count(\"Order Id\") FROM $t")" "180:60:60" \
		   "$mode, evolve: the old rows stay, the new ones carry the new columns"
	else
		is "$(table_digest sc_dst "SELECT concat_ws('|', id, name, qty, price, \"select\", \"Order Id\") FROM $t")" "$src" \
		   "$mode, evolve: the target equals the source in every column"
	fi
	[ $mode = replace ] && is "$(q sc_dst "SELECT string_agg(DISTINCT extra, ',') FROM $t")" "dflt" \
	   "replace, evolve: a column [schema] lacks holds its default after the swap"
	like "$(cat log/sc_$mode/*.log 2>/dev/null; cat log/*.log 2>/dev/null)" 'schema change: column "select" \(text\) is not in the table' \
	   "$mode, evolve: the run log says what changed"
	"$CNS" run evolve.conf > again.out 2>&1; ok $? "$mode, evolve: the next run finds nothing to change"
	after=$(types $t)

	# -- a narrower [schema]: never applied, in either mode --
	for osc in fail evolve; do
		write_job narrow.conf $mode v3.xf $osc
		"$CNS" check narrow.conf > check.out 2>&1
		like "$(cat check.out)" 'column "qty" is bigint in the table, integer in \[schema\]: kept, a column is never narrowed' \
		     "$mode, $osc: check says a narrower [schema] keeps the column"
		"$CNS" run narrow.conf > narrow.out 2>&1; rc=$?
		is $rc 0 "$mode, $osc: a narrower [schema] loads into the wider column"
		is "$(types $t)" "$after" "$mode, $osc: no column is narrowed"
	done
	# -- a change no mode makes: a type the table cannot take --
	sed 's/^qty .*/qty date/' v2.xf > bad.xf
	for osc in fail evolve; do
		write_job bad.conf $mode bad.xf $osc
		"$CNS" run bad.conf > bad.out 2>&1; rc=$?
		is $rc 1 "$mode, $osc: a type the column cannot take fails the run"
		like "$(cat bad.out)" 'target column "qty" of "'$t'" is bigint, which cannot take the schema.s date' \
		     "$mode, $osc: the message names the column and both types"
		is "$(types $t)" "$after" "$mode, $osc: the table is as it was"
	done
done

# ---- two sources loading at once: one alters, the other waits ----
# Each source's loader opens while the other may hold the ALTER's lock;
# whichever commits first changes the table, the other finds nothing left
# to do.  Several rounds, so that either can come first.
q sc_src "CREATE TABLE src2 AS SELECT id + 1000 AS id, name, qty, price, \"select\", \"Order Id\" FROM src"
for round in 1 2 3; do
	q sc_dst "DROP TABLE IF EXISTS t_par"
	write_job par.conf upsert v1.xf evolve
	sed -i -e 's/^table    = t_upsert/table    = t_par/' -e 's/^name        = sc_upsert/name        = sc_par/' par.conf
	printf '\n[source src2]\ndriver   = postgres\nconninfo = %s\ntable    = src2\n' "$(conninfo sc_src)" >> par.conf
	"$CNS" run par.conf; ok $? "two sources, round $round: the first run creates the table"
	sed -i 's/^transforms  = v1.xf/transforms  = v2.xf/' par.conf
	"$CNS" run par.conf > par.out 2>&1; rc=$?
	is $rc 0 "two sources, round $round: the evolving run succeeds"
	[ $rc -eq 0 ] || sed 's/^/#   /' par.out
	is "$(types t_par)" "id integer, name character varying(40), qty bigint, price numeric(12,2), select text, Order Id text" \
	   "two sources, round $round: the table is altered once"
	is "$(q sc_dst "SELECT count(*) || ':' || count(\"Order Id\") FROM t_par")" "120:120" \
	   "two sources, round $round: both sources' rows carry the new columns"
done

# ---- every documented widening, the server's spelling as the oracle ----
# [schema] writes time types without a precision (the most, 6): their
# narrower side exists only in the table.
pairs="smallint:integer integer:bigint smallint:bigint real:double_precision
varchar(10):varchar(40) varchar(10):text varchar(10):varchar numeric(8,2):numeric(12,2)
numeric(8,2):numeric timestamp(0):timestamp timestamptz(2):timestamptz time(0):time"
nnarrow=9
old_cols="" new_cols="" narrow_cols="" i=0
for p in $pairs; do
	i=$((i + 1))
	from=${p%%:*}; to=${p#*:}; to=${to//_/ }
	old_cols="$old_cols, c$i $from"
	new_cols="$new_cols
c$i $to"
	[ $i -le $nnarrow ] || from=$to
	narrow_cols="$narrow_cols
c$i $from"
done
q sc_dst "DROP TABLE IF EXISTS w; CREATE TABLE w (id integer PRIMARY KEY $old_cols)"
q sc_dst "INSERT INTO w VALUES (1, 7, 7, 7, 1.5, 'abc', 'abc', 'abc', 12.34, 12.34,
  '2026-01-02 03:04:05', '2026-01-02 03:04:05.12+00', '01:02:03')"
oldlist=$(seq -s, -f 'c%g' 1 $i)
before_vals=$(q sc_dst "SELECT ($oldlist) FROM w")
oracle=$(psql -X -q -At -d sc_dst <<SQL
CREATE TEMP TABLE o (id integer $(echo "$new_cols" | sed '/^$/d' | sed 's/^/, /' | tr '\n' ' '),
  d1 text, d2 numeric(6,2), d3 boolean, d4 timestamptz);
SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
  FROM pg_attribute WHERE attrelid = 'o'::regclass AND attnum > 0;
SQL
)
# New columns with defaults: a constant one is the column's default
# (NOT NULL kept) and fills the rows already there; now() is per row.
printf '[schema]\nid integer not null%s\n%s\n' "$new_cols" "d1 text not null default 'it''s'
d2 numeric(6,2) default 2.5
d3 boolean default true
d4 timestamptz default now()" > w.xf
printf '[schema]\nid integer not null%s\n' "$narrow_cols" > wn.xf
q sc_src "CREATE TABLE wsrc (id int PRIMARY KEY)"
cat > w.conf <<JOB
[job]
name        = sc_w
transforms  = w.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo sc_dst)
table    = w
mode     = upsert
key      = id
on_schema_change = evolve

[source src]
driver   = postgres
conninfo = $(conninfo sc_src)
table    = wsrc
JOB
"$CNS" check w.conf > wcheck.out 2>&1; ok $? "widenings: check passes under evolve"
is "$(grep -c ': a safe widening$' wcheck.out)" "$i" "widenings: check finds all $i widenings"
# An empty source commits no chunk, so it changes nothing.
"$CNS" run w.conf; ok $? "widenings: a run that loads nothing succeeds"
like "$(types w)" "c1 smallint" "widenings: a run that loads nothing leaves the table as it was"
q sc_src "INSERT INTO wsrc VALUES (2)"
"$CNS" run w.conf > wrun.out 2>&1; ok $? "widenings: the run succeeds"
is "$(types w)" "$oracle" "widenings: every column has the type the server gives the schema's type"
is "$(q sc_dst "SELECT ($oldlist) FROM w WHERE id = 1")" "$before_vals" "widenings: every stored value is unchanged"
is "$(q sc_dst "SELECT concat_ws('|', d1, d2, d3, d4 IS NULL) FROM w WHERE id = 1")" "it's|2.50|t|t" \
   "new columns: a row already there gets each constant default, and no value for now()"
is "$(q sc_dst "SELECT string_agg(attname || ':' || attnotnull, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'w'::regclass AND attname LIKE 'd_'")" \
   "d1:true,d2:false,d3:false,d4:false" "new columns: not null is kept where a constant default fills the old rows"
like "$(cat wcheck.out)" "ADD COLUMN \"d1\" text NOT NULL DEFAULT CAST\('it''s' AS text\), ADD COLUMN \"d2\" numeric\(6,2\) DEFAULT CAST\(2.5 AS numeric\(6,2\)\), ADD COLUMN \"d3\" boolean DEFAULT CAST\(true AS boolean\), ADD COLUMN \"d4\" timestamptz;" \
     "new columns: check prints each constant default"
sed -i 's/^transforms .*/transforms  = wn.xf/' w.conf
"$CNS" check w.conf > wn.out 2>&1
is "$(grep -c 'kept, a column is never narrowed$' wn.out)" "$nnarrow" "narrowings: check keeps all $nnarrow columns as they are"
"$CNS" run w.conf; ok $? "narrowings: the run loads into the wider columns"
is "$(types w)" "$oracle" "narrowings: no column is narrowed"

# ---- every keyword the server lists, as a new column ----
mapfile -t KW < <(q postgres "SELECT word FROM pg_get_keywords() WHERE catcode <> 'U' ORDER BY word")
{ echo "[schema]"; echo "id integer not null"; } > k1.xf
cp k1.xf k2.xf
{ for k in "${KW[@]}"; do echo "\"$k\" text"; echo "\"Mixed $k\" text"; done; echo; echo "[from src]"; echo "id = id"
  for k in "${KW[@]}"; do echo "\"$k\" = '$k'"; echo "\"Mixed $k\" = upper('$k')"; done; } >> k2.xf
sed -e 's/^name .*/name        = sc_k/' -e 's/^table    = w$/table    = kw/' -e 's/^transforms .*/transforms  = k1.xf/' w.conf > k.conf
"$CNS" run k.conf; ok $? "keywords: the table is created with the key only"
sed -i 's/^transforms .*/transforms  = k2.xf/' k.conf
q sc_src "INSERT INTO wsrc VALUES (3)"
"$CNS" run k.conf > k.out 2>&1; ok $? "keywords: ${#KW[@]} keywords and as many mixed-case names are added"
[ -s k.out ] && sed 's/^/#   /' k.out | head -5
is "$(q sc_dst "SELECT count(*) FROM pg_attribute WHERE attrelid = 'kw'::regclass AND attnum > 1")" "$((2 * ${#KW[@]}))" \
   "keywords: every new column is there"
is "$(q sc_dst "SELECT count(*) FROM kw WHERE \"select\" = 'select' AND \"Mixed order\" = 'ORDER'")" "2" \
   "keywords: every row carries the new columns' values"

done_testing
