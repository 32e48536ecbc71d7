#!/usr/bin/env bash
# Binary COPY gives the target exactly what text COPY would.  Two oracles,
# both the server's own:
#   1. raw strings: a text column of the schema goes into a typed target
#      column, so the loader's binary encoder meets the strings as they
#      are (blanks, signs, exponents, words, out of range, BC, offsets);
#      one string per chunk, so each is encoded on its own or goes as
#      text.  For every string the run and the type's input function must
#      agree on whether it is accepted and on the value stored.
#   2. typed values at the edges (NaN and infinities, subnormals, numerics
#      of many digits and scales, BC and infinite dates and timestamps,
#      time zone offsets with seconds) copied from a PostgreSQL source to
#      a target of the same types: the md5 of the ordered rows' text must
#      be the same on both sides.
# The server log (log_statement = all in the target database) shows that
# the binary format was used for every type that has an encoder, and not
# for one that has none (interval).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
set -f	# the strings below are words, not patterns

createdb_fresh bin_src
createdb_fresh bin_dst
q postgres "ALTER DATABASE bin_dst SET log_statement = 'all'" >/dev/null
LOG=$CNS_PG_SANDBOX/server.log
# Offsets with minutes and seconds: Amsterdam kept local mean time
# (+00:19:32) until 1937.
export PGTZ=Europe/Amsterdam

create_try_input bin_dst
q bin_dst "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)" >/dev/null

binary_copies() {	# binary_copies TABLE: COPY ... (FORMAT binary) into it so far
	grep -c "COPY [\"a-z.]*\"$1\" .*FORMAT binary" "$LOG" || true
}

run_job() {	# run_job NAME SOURCE-SECTION: a pass-through job into bin_dst.NAME
	cat > "$1.conf" <<JOB
[job]
name        = $1
transforms  = $1.xf
batch_size  = 1
max_rejects = 100%
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo bin_dst)
table    = $1
mode     = append
create   = no

$2
JOB
	"$CNS" run "$1.conf" > "$1.out" 2>&1
}

# ---- 1. raw strings into typed columns ----

ints='0 -0 +0 5 -5 +5 007 -007 32767 32768 -32768 -32769 2147483647
2147483648 -2147483648 -2147483649 9223372036854775807 9223372036854775808
-9223372036854775808 -9223372036854775809 99999999999999999999 1.0 1e3 0x10
_5 5_'
floats='0 -0 1.5 -1.5 .5 5. -.5 1e10 1E-10 1e+5 3.4028235e+38 3.4028236e+38
1e39 1e-45 1e-46 1.17549435e-38 1.7976931348623157e308 1.8e308 5e-324
2.5e-324 1e-400 0.1 0.1234567890123456789 16777217 9007199254740993 NaN nan
Infinity infinity -Infinity +Infinity inf -inf 1e 1.2.3 0x1p3 e5 .'
numerics='0 -0 +0 0.0 -0.000 1.50 +.5 -.5 .5 5. 007.10 00.000 1 10 100
1000 10000 100000000 0.0001 0.00001 0.000000010 -12345.6789
123456789012345678901234567890.123456789012345678901234567890
99999999.995 -99999999.995 0.005 0.015 1e3 1E-3 NaN nan Infinity -Infinity
inf . - 1.2.3'
bools='t f true false yes no on off 1 0 T TRUE True y n tr fa of 2 x'
dates='2024-02-29 2023-02-29 1900-02-29 2000-02-29 0001-01-01 0000-01-01
9999-12-31 10000-01-01 5874897-12-31 5874898-01-01 4713-01-01_BC
4714-11-24_BC 4714-11-23_BC 0001-01-01_BC 0005-02-29_BC 0004-02-29_BC
2024-01-05_bc 2024-1-5 2024-13-01 2024-00-10 2024-01-32 2024-04-31
20240105 infinity -infinity Infinity epoch 2024-01-05T10:00:00'
timestamps='2024-01-05_10:11:12 2024-01-05T10:11:12 2024-01-05_10:11
2024-01-05_24:00:00 2024-01-05_23:59:60 2024-01-05_10:11:12.5
2024-01-05_10:11:12.123456 2024-01-05_10:11:12.1234565
2024-01-05_10:11:12.0000005 2024-01-05_10:11:12_BC
4714-11-24_00:00:00_BC 4714-11-23_23:59:59_BC 294276-12-31_23:59:59.999999
294277-01-01_00:00:00 0001-01-01_00:00:00 2024-02-30_00:00:00 infinity
-infinity 2024-01-05_10:11:12+02 2024-01-05_10:11:12+05:30
2024-01-05_10:11:12-08:00:15 2024-01-05_10:11:12+15:59 2024-01-05_10:11:12+16
2024-01-05_10:11:12Z 2024-01-05_10:11:12_UTC 0044-03-15_10:00:00+00:19:32_BC
2024-03-31_02:30:00'
uuids='a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11
a0eebc999c0b4ef8bb6d6bb9bd380a11 {a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}
a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11 a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1
g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'
byteas='\x \xDEADbeef \x0 \xg0 \x_de_ad abc a\\b \001 \X01'
jsons='{} [] 5 -0 1e400 "x" true null [1,2.5e3,true] {"a":{"b":[]}} { [1,]
01 NaN {"a":1}_x "\u0000" "\ud83d\ude00"'
texts='a abcde abcdef été!! étéété abcde_ abcd_ 山田太郎花 山田太郎花子 _ x\\y'

# types: target type, then its strings (an underscore stands for a blank)
types=("smallint:ints" "integer:ints" "bigint:ints" "posint:ints"
	"real:floats" "double precision:floats" "numeric:numerics"
	"numeric(10,2):numerics" "boolean:bools" "date:dates"
	"timestamp:timestamps" "timestamp(0):timestamps"
	"timestamptz:timestamps" "uuid:uuids" "bytea:byteas" "json:jsons"
	"jsonb:jsons" "text:texts" "varchar(5):texts" "char(5):texts"
	"interval:ints")
k=0
total=0
for entry in "${types[@]}"; do
	ty=${entry%%:*}
	list=${entry#*:}
	k=$((k + 1))
	tbl=raw$k
	{
		echo "id,s"
		n=0
		for s in ${!list}; do
			n=$((n + 1))
			s=${s//_/ }
			printf '%d,"%s"\n' "$n" "${s//\"/\"\"}"
		done
		# the empty string, and NULL
		printf '%d,""\n%d,\n' $((n + 1)) $((n + 2))
	} > $tbl.csv
	n=$(($(wc -l < $tbl.csv) - 1))
	total=$((total + n))
	printf '[schema]\nid integer not null\ns  text\n' > $tbl.xf
	q bin_dst "CREATE TABLE $tbl (id integer, s $ty);
		CREATE TABLE in_$tbl (id integer, s text);
		CREATE TABLE o_$tbl (v $ty)" >/dev/null
	run_job $tbl "[source f]
driver = csv
path   = $tbl.csv"
	rc=$?
	ok $rc "$ty: the run over $n strings succeeds"
	[ $rc -eq 0 ] || sed 's/^/#   /' $tbl.out | head -n 20
	q bin_dst "\\copy in_$tbl FROM '$tbl.csv' WITH (FORMAT csv, HEADER)" >/dev/null
	# NULL stays NULL: the oracle reads it as 'ok:' || NULL
	diffs=$(q bin_dst "
		SELECT i.id || ' ' || coalesce(quote_literal(i.s), 'NULL') || ': server '
		       || coalesce(o.r, 'null') || ', run ' || coalesce('ok:' || v.s::text, CASE WHEN v.id IS NULL THEN 'err' ELSE 'null' END)
		FROM in_$tbl i
		CROSS JOIN LATERAL (SELECT CASE WHEN i.s IS NULL THEN NULL ELSE try_input(i.s, 'o_$tbl') END AS r) o
		LEFT JOIN $tbl v ON v.id = i.id
		WHERE o.r IS DISTINCT FROM coalesce('ok:' || v.s::text, CASE WHEN v.id IS NULL THEN 'err' END)
		ORDER BY i.id")
	is "$diffs" "" "$ty: the run stores what the server's input function makes of each string ($n strings)"
	bin=$(binary_copies $tbl)
	if [ "$ty" = interval ]; then
		is "$bin" 0 "$ty: no encoder, every chunk goes as text"
	else
		ok $([ "$bin" -gt 0 ]; echo $?) "$ty: $bin of the chunks went in binary"
	fi
done

# ---- 2. typed values at the edges, PostgreSQL to PostgreSQL ----

edges=(
	"smallint|-32768 ;; 32767 ;; 0 ;; -1"
	"bigint|-9223372036854775808 ;; 9223372036854775807 ;; 0"
	"real|'NaN' ;; 'Infinity' ;; '-Infinity' ;; '-0' ;; '3.4028235e+38' ;; '1e-45' ;; '1.17549435e-38' ;; '0.1'"
	"double precision|'NaN' ;; 'Infinity' ;; '-Infinity' ;; '-0' ;; '1.7976931348623157e308' ;; '5e-324' ;; '2.2250738585072014e-308' ;; '0.1' ;; '1e-300'"
	"numeric|'NaN' ;; 'Infinity' ;; '-Infinity' ;; '0' ;; '-0.000' ;; '0.0000000000000000000000000001' ;; '123456789012345678901234567890.123456789012345678901234567890' ;; '-99999999999999999999.99' ;; '1e100' ;; '1e-100' ;; '10000' ;; '0.00010000' ;; '9999.9999'"
	"numeric(12,2)|'0' ;; '-0.01' ;; '9999999999.99' ;; '-9999999999.99' ;; '0.10'"
	"date|'4714-11-24 BC' ;; '0001-01-01 BC' ;; '0001-01-01' ;; '1999-12-31' ;; '2000-01-01' ;; '2000-02-29' ;; '5874897-12-31' ;; 'infinity' ;; '-infinity'"
	"timestamp|'4714-11-24 00:00:00 BC' ;; '0001-01-01 00:00:00 BC' ;; '1999-12-31 23:59:59.999999' ;; '2000-01-01 00:00:00' ;; '294276-12-31 23:59:59.999999' ;; 'infinity' ;; '-infinity'"
	"timestamptz|'4714-11-24 00:00:00+00 BC' ;; '1900-01-01 00:00:00+00' ;; '1937-06-30 23:59:59+00' ;; '2024-03-31 01:00:00+00' ;; '2024-10-27 00:59:59.999999+00' ;; '294276-12-31 12:00:00+00' ;; 'infinity' ;; '-infinity'"
	"boolean|true ;; false"
	"uuid|'00000000-0000-0000-0000-000000000000' ;; 'ffffffff-ffff-ffff-ffff-ffffffffffff'"
	"bytea|'\\x' ;; '\\x00ff10' ;; decode('c3a9', 'hex')"
	"text|'' ;; ' ' ;; E'tab\\there' ;; E'new\\nline' ;; 'back\\\\slash' ;; '\\N' ;; '山田'"
	"jsonb|'{\"b\": 1, \"a\": [1, 2.50, null]}' ;; '\"\\\\u00e9\"' ;; '1e400'"
	"json|'{\"b\": 1,   \"a\": 2}' ;; '[]'"
)
k=0
for entry in "${edges[@]}"; do
	ty=${entry%%|*}
	vals=${entry#*|}
	k=$((k + 1))
	tbl=edge$k
	q bin_src "CREATE TABLE $tbl (id serial, v $ty);
		INSERT INTO $tbl (v) VALUES (${vals// ;; /), (}), (NULL)" >/dev/null ||
		echo "# could not make $tbl"
	q bin_dst "CREATE TABLE $tbl (id integer, v $ty)" >/dev/null
	printf '[schema]\nid integer not null\nv  %s\n' "$ty" > $tbl.xf
	run_job $tbl "[source s]
driver   = postgres
conninfo = $(conninfo bin_src)
table    = $tbl"
	rc=$?
	ok $rc "$ty: the edge values load"
	[ $rc -eq 0 ] || sed 's/^/#   /' $tbl.out | head -n 20
	want=$(q bin_src "SELECT count(*) || ':' || md5(string_agg(id || ':' || coalesce(v::text, 'NULL'), ',' ORDER BY id)) FROM $tbl")
	got=$(q bin_dst "SELECT count(*) || ':' || md5(string_agg(id || ':' || coalesce(v::text, 'NULL'), ',' ORDER BY id)) FROM $tbl")
	is "$got" "$want" "$ty: the target's ordered rows have the source's md5"
	[ "$got" = "$want" ] || q bin_dst "SELECT id, v FROM $tbl ORDER BY id" | sed 's/^/#   /'
	bin=$(binary_copies $tbl)
	ok $([ "$bin" -gt 0 ]; echo $?) "$ty: $bin of the chunks went in binary"
done
q postgres "ALTER DATABASE bin_dst RESET log_statement" >/dev/null
echo "# $total strings compared with the server's input functions"
done_testing
