#!/usr/bin/env bash
# check predicts the run, plan prints what the run sends.
#
# For each defective job, check must fail naming the problem (once), and
# the run must fail the same way with nothing loaded; for each good job
# both pass.  check itself changes nothing in the target.  For a postgres
# source with a stored watermark, plan's extraction is compared with the
# statement the source server received (log_statement = all).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh cp_src
createdb_fresh cp_dst
q cp_src "CREATE TABLE items (id int PRIMARY KEY, d date, n integer,
            t text, ts timestamptz, flag boolean)"
q cp_src "INSERT INTO items SELECT i, date '2026-01-01' + i, i * 10,
            'text ' || i, timestamptz '2026-01-01 00:00+00' + i * interval '1 hour',
            i % 2 = 0 FROM generate_series(1, 50) i"
q cp_src "CREATE TABLE nokey (id int, ts timestamptz)"
q cp_src "INSERT INTO nokey SELECT i, now() FROM generate_series(1, 5) i"
q cp_src 'CREATE TABLE words ("order" int PRIMARY KEY, "user" text, "select" date)'
q cp_src "INSERT INTO words SELECT i, 'u' || i, date '2026-01-01' + i FROM generate_series(1, 5) i"

# job NAME TABLE XF [SOURCE-LINES] [TARGET-LINES]: writes NAME.conf.
job() {
	cat > "$1.conf" <<JOB
[job]
name        = $1
transforms  = $3
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo cp_dst)
table    = $2
create   = yes
mode     = append
${5:-}

[source s]
driver   = postgres
conninfo = $(conninfo cp_src)
table    = items
${4:-}
JOB
}

# xf NAME COLUMN TYPE [EXPR]: a one-column transform (plus the id).
xf() {
	cat > "$1.xf" <<XF
[schema]
id  integer not null
$2  $3

[from s]
id = id
$2 = ${4:-$2}
XF
}

# predicts NAME REGEX: check fails naming REGEX exactly once, the run
# fails naming it too, and the run moved no row.
predicts() {
	local out rc n tbl
	out=$("$CNS" check "$1.conf" 2>&1); rc=$?
	is "$rc" 1 "$1: check fails"
	like "$out" "$2" "$1: check names the problem"
	# Counted over the reports, not the detail lines under them.
	n=$(printf '%s\n' "$out" | grep -E '^consolidate: ' | grep -cE -- "$2")
	is "$n" 1 "$1: check names it once"
	out=$("$CNS" run "$1.conf" 2>&1); rc=$?
	ok $((rc == 0)) "$1: the run fails too (exit $rc)"
	like "$out" "$2" "$1: the run names the same problem"
	tbl=$(sed -n 's/^table    = //p' "$1.conf" | head -1)
	rows=0
	if [ "$(q cp_dst "SELECT to_regclass('$tbl') IS NOT NULL")" = t ]; then
		rows=$(q cp_dst "SELECT count(*) FROM $tbl")
	fi
	is "$rows" 0 "$1: the run moved no row"
}

# passes NAME TABLE ROWS: check passes and changes nothing, the run passes
# and loads ROWS rows.
passes() {
	local out rc
	q cp_dst "CREATE TABLE IF NOT EXISTS cp_probe (x int)" >/dev/null
	before=$(q cp_dst "SELECT count(*) FROM pg_class WHERE relkind = 'r'")
	out=$("$CNS" check "$1.conf" 2>&1); rc=$?
	is "$rc" 0 "$1: check passes"
	[ "$rc" -eq 0 ] || echo "# $out"
	is "$(q cp_dst "SELECT count(*) FROM pg_class WHERE relkind = 'r'")" "$before" \
	   "$1: check created and dropped nothing"
	out=$("$CNS" run "$1.conf" 2>&1); rc=$?
	is "$rc" 0 "$1: the run passes"
	[ "$rc" -eq 0 ] || echo "# $out"
	is "$(q cp_dst "SELECT count(*) FROM $2")" "$3" "$1: the run loaded every row"
}

# ---- a time zone no database knows ----
xf tz ts timestamptz
job bad_tz tz_t tz.xf "timezone = Mars/Olympus"
predicts bad_tz 'Mars/Olympus'

# ---- an existing target column of a type the schema's cannot go into ----
# schema type / table column type
i=0
# (A text schema column is not among them: rows travel as text, and the
# column's own input function reads each value, as COPY does.)
for pair in date:integer integer:date timestamptz:boolean boolean:integer \
	    boolean:date 'numeric(10,2):uuid' date:interval integer:inet \
	    date:boolean timestamptz:integer; do
	i=$((i + 1))
	st=${pair%%:*} ct=${pair#*:}
	case "$st" in
	date) col=d ;; integer) col=n ;; text) col=t ;; boolean) col=flag ;;
	timestamptz) col=ts ;; *) col=n ;;
	esac
	q cp_dst "DROP TABLE IF EXISTS ty_$i; CREATE TABLE ty_$i (id integer, $col $ct)"
	xf "ty_$i" "$col" "$st"
	job "ty_$i" "ty_$i" "ty_$i.xf"
	predicts "ty_$i" "target column \"$col\" of \"ty_$i\" is $ct"
done

# ---- an incremental source without a tie-breaker ----
xf nk ts timestamptz
job no_tiebreak nk_t nk.xf "incremental = ts"
sed -i 's/^table    = items$/table    = nokey/' no_tiebreak.conf
predicts no_tiebreak 'incremental source "s" needs a tie-breaker key'

# ---- a source column that does not exist ----
xf unk t text nosuch
job unknown_col unk_t unk.xf
predicts unknown_col 'nosuch'

# ---- a target schema that does not exist ----
xf ms t text
job missing_schema nosuch_schema.t ms.xf
predicts missing_schema 'schema "nosuch_schema" does not exist'

# ---- a key column the schema lacks ----
xf kl t text
job key_lacking kl_t kl.xf "" "key = ident"
sed -i 's/^mode     = append$/mode     = upsert/' key_lacking.conf
predicts key_lacking 'key column "ident" of \[target\] is not in the \[schema\]'
like "$("$CNS" check key_lacking.conf 2>&1)" '1 problem found' \
     "key_lacking: one cause, one problem (not one more per source)"

# ---- upsert into an existing table without a unique key ----
q cp_dst "DROP TABLE IF EXISTS nouniq_t; CREATE TABLE nouniq_t (id integer, t text)"
xf nu t text
job no_unique nouniq_t nu.xf "" "key = id"
sed -i 's/^mode     = append$/mode     = upsert/' no_unique.conf
predicts no_unique 'no unique or exclusion constraint matching the ON CONFLICT'

# ---- a volume the run refuses before extraction ----
xf vol t text
job volume vol_t vol.xf "min_rows = 1000"
sed -i 's/^\[target\]$/on_volume_anomaly = fail\n\n[target]/' volume.conf
predicts volume 'volume anomaly: .*50 rows'

# ---- every problem of one job, each once ----
q cp_dst "DROP TABLE IF EXISTS many_t; CREATE TABLE many_t (id integer, d integer)"
xf many d date
job many many_t many.xf "timezone = Mars/Olympus"
out=$("$CNS" check many.conf 2>&1)
like "$out" 'Mars/Olympus' "two problems: the time zone"
like "$out" 'target column "d" of "many_t" is integer' "two problems: the column type"
like "$out" '2 problems found' "two problems: counted once each"

# ---- reserved words as column names: check and the run agree ----
cat > words.xf <<'XF'
[schema]
"order"   integer not null
"user"    text
"select"  date

[from s]
"order"  = "order"
"user"   = "user"
"select" = "select"
XF
job words words_t words.xf "" "key = \"order\""
sed -i 's/^table    = items$/table    = words/; s/^mode     = append$/mode     = upsert/' words.conf
# agree NAME ROWS: check and the run agree on the job: both fail, the
# problem that stopped the run among those check reported, or both pass
# and the run loads ROWS rows.
agree() {
	local cout rout crc rrc first tbl
	cout=$("$CNS" check "$1.conf" 2>&1); crc=$?
	rout=$("$CNS" run "$1.conf" 2>&1); rrc=$?
	is "$((crc != 0))" "$((rrc != 0))" "$1: check and the run agree (check $crc, run $rrc)"
	if [ "$crc" -ne 0 ] && [ "$rrc" -ne 0 ]; then
		# The loader names the source it loads for; check has none.
		first=$(printf '%s\n' "$rout" | head -1 | sed 's/^.* failed while/ failed while/')
		case "$cout" in
		*"$first"*) ok 0 "$1: check reported what stopped the run" ;;
		*) ok 1 "$1: check reported what stopped the run"
		   echo "#   run:   $first"; echo "#   check: $cout" ;;
		esac
	elif [ "$crc" -eq 0 ] && [ "$rrc" -eq 0 ]; then
		tbl=$(sed -n 's/^table    = //p' "$1.conf" | head -1)
		is "$(q cp_dst "SELECT count(*) FROM $tbl" 2>&1)" "$2" "$1: loaded"
	fi
}
agree words 5

# ---- a json column in an upsert (no equality operator): they agree ----
q cp_src "CREATE TABLE docs (id int PRIMARY KEY, doc json)"
q cp_src "INSERT INTO docs SELECT i, json_build_object('i', i) FROM generate_series(1, 5) i"
xf js doc json
job json_upsert json_t js.xf "" "key = id"
sed -i 's/^table    = items$/table    = docs/; s/^mode     = append$/mode     = upsert/' json_upsert.conf
agree json_upsert 5

# ---- good jobs: compatible existing columns, a fresh table ----
i=0
for pair in integer:bigint bigint:integer 'text:varchar(40)' \
	    timestamptz:timestamp integer:numeric date:timestamptz text:text \
	    timestamptz:time; do
	i=$((i + 1))
	st=${pair%%:*} ct=${pair#*:}
	case "$st" in
	date) col=d ;; integer|bigint) col=n ;; text) col=t ;;
	timestamptz) col=ts ;;
	esac
	q cp_dst "DROP TABLE IF EXISTS ok_$i; CREATE TABLE ok_$i (id integer, $col $ct)"
	xf "ok_$i" "$col" "$st"
	job "ok_$i" "ok_$i" "ok_$i.xf"
	passes "ok_$i" "ok_$i" 50
done
xf fresh t text
job fresh fresh_t fresh.xf "incremental = ts"
passes fresh fresh_t 50
# upsert and replace: check rehearses the shadow, the staging table and the
# merge statement, and leaves none of them behind.
for mode in upsert replace; do
	xf "m_$mode" t text
	job "m_$mode" "m_${mode}_t" "m_$mode.xf" "" "key = id"
	sed -i "s/^mode     = append$/mode     = $mode/" "m_$mode.conf"
	passes "m_$mode" "m_${mode}_t" 50
	"$CNS" check "m_$mode.conf" >/dev/null 2>&1
	is "$(q cp_dst "SELECT string_agg(relname, ',') FROM pg_class WHERE relkind = 'r' AND relname LIKE 'm\_${mode}\_t%'")" \
	   "m_${mode}_t" "m_$mode: a check over an existing table leaves no table of its own"
done

# ---- plan prints the SQL the next run sends ----
# After one run the watermark is stored; the next run binds it.
q cp_src "UPDATE items SET ts = ts + interval '1 day' WHERE id > 45"
q cp_src "INSERT INTO items SELECT i, NULL, i, 'late', (SELECT max(ts) FROM items), true FROM generate_series(51, 53) i"
plan=$("$CNS" plan fresh.conf 2>&1); rc=$?
is "$rc" 0 "plan passes"
sql=$(printf '%s\n' "$plan" | sed -n 's/^  extract: //p')
like "$sql" 'ORDER BY "?ts"?, "?id"?\) TO STDOUT$' "plan: ORDER BY has the tie-breaker"
wm=$(q cp_dst "SELECT value FROM consolidate.watermarks WHERE job = 'fresh'")
like "$wm" '^\{' "a watermark is stored"
like "$sql" "\\(\"?ts\"?, \"?id\"?\\) > \\('[^']+', '50'\\)" "plan: the watermark condition with the stored values"
like "$plan" 'watermark: .*, 50' "plan names the values it binds"
log="$CNS_PG_SANDBOX/server.log"
q cp_src "ALTER DATABASE cp_src SET log_statement = 'all'"
mark=$(wc -l < "$log")
"$CNS" run fresh.conf; ok $? "the planned run succeeds"
q cp_src "ALTER DATABASE cp_src RESET log_statement"
sent=$(tail -n +"$((mark + 1))" "$log" | sed -n 's/.*LOG:  statement: \(COPY .*\)$/\1/p')
is "$sent" "$sql" "plan's extraction is the statement the server received"
is "$(q cp_dst 'SELECT count(*) FROM fresh_t')" 58 "the planned run read the changed rows"
# Offline, plan still shows the extraction (without a watermark).
like "$("$CNS" plan --offline fresh.conf 2>&1)" 'extract: COPY \(SELECT' "plan --offline"

# ---- plan's CREATE TABLE is the one the run sends, for every key type ----
# The run asks the server whether a key column's type has a btree
# ordering (else the key is a unique index on its text form); plan asks
# the same, and plan --offline must come to the same answer alone.  Every
# type name the transform language knows (its table in types.c) as the
# key, with the server as the oracle.
mapfile -t KT < <(sed -n 's/^[[:space:]]*{ *"\([a-z0-9]*\)", *CNS_T_[A-Z]* *},$/\1/p' "$ROOT/src/transform/types.c")
[ "${#KT[@]}" -ge 17 ]; ok $? "the transform language knows ${#KT[@]} type names"
differ=""
for t in "${KT[@]}"; do
	cat > "kt_$t.xf" <<XF
[schema]
id  integer not null
k   $t not null

[from s]
id = id
k  = null
XF
	job "kt_$t" "kt_$t" "kt_$t.xf" "" "key = k"
	on=$("$CNS" plan "kt_$t.conf" 2>/dev/null | sed -n '/^\[target\]/,$p')
	off=$("$CNS" plan --offline "kt_$t.conf" 2>/dev/null | sed -n '/^\[target\]/,$p')
	case "$on" in *"CREATE TABLE"*) ;; *) differ+=" $t(no DDL online)" ;; esac
	[ "$on" = "$off" ] || differ+=" $t"
done
is "$differ" "" "plan and plan --offline print the same CREATE TABLE for every key type"
like "$("$CNS" plan kt_json.conf 2>/dev/null)" 'CREATE UNIQUE INDEX ON "kt_json" \(\(\("k"\)::text\)\)' \
	"plan: a json key becomes a unique index on its text form"
job json_key json_k js.xf "" "key = doc"
sed -i 's/^table    = items$/table    = docs/; s/^mode     = append$/mode     = upsert/' json_key.conf
"$CNS" run json_key.conf; ok $? "an upsert keyed by a json column runs"
is "$(q cp_dst "SELECT count(*) FROM pg_index WHERE indrelid = 'json_k'::regclass AND NOT indisprimary AND indisunique")" 1 \
	"the run made that unique index, as plan says"

done_testing
