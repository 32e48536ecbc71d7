#!/usr/bin/env bash
# Values are read as PostgreSQL reads them.  For every type of the
# transform language, a large table of input strings (valid, at the edges
# of each range, just past them, special words in every case, signs,
# exponents, blanks around the value, BC dates, years past 9999, fractions
# of a second past microseconds) goes through a run (CSV source -> cast ->
# PostgreSQL target) and through the server's own input function for the
# same type.  For every string the two must agree on whether the value is
# accepted and, when it is, on the value stored.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh dst_values
# The oracle's session and the loaded values are read in UTC; the
# timestamptz strings without an offset are read in the source's zone,
# which the oracle sets as its own.
export PGTZ=UTC

create_try_input dst_values

# words W: W in lower, upper, capitalised and mixed case, signed and with
# blanks around it.
words() {
	local w
	for w in "$@"; do
		printf '%s\n' "$w" "${w^^}" "${w^}" "$(echo "$w" | sed 's/\(.\)\(.\)/\1\u\2/g')" \
			"+$w" "-$w" " $w" "$w " "  $w  " "${w}x" "${w:0:${#w}-1}"
	done
}

# blanks V...: each value as it is and with blanks around it.
blanks() {
	local v
	for v in "$@"; do
		printf '%s\n' "$v" " $v" "$v " "	$v	" "  $v  "
	done
}

# around N: N-1, N and N+1 with bash's 64-bit arithmetic where it fits.
int_edges() {	# int_edges MIN MAX
	local min=$1 max=$2
	printf '%s\n' "$min" "$max" "$((max - 1))" "$((min + 1))" \
		"$(echo "$max + 1" | bc)" "$(echo "$min - 1" | bc)" \
		"$(echo "$max * 10" | bc)" "$(echo "$min * 10" | bc)" \
		"+$max" "0$max" "-0$((-(min + 1)))" "00000000000000000000000$max"
}

gen_int() {
	case $1 in
	smallint) int_edges -32768 32767 ;;
	integer) int_edges -2147483648 2147483647 ;;
	bigint) printf '%s\n' -9223372036854775808 9223372036854775807 \
		9223372036854775806 -9223372036854775807 \
		9223372036854775808 -9223372036854775809 \
		99999999999999999999 -99999999999999999999 \
		+9223372036854775807 00009223372036854775807 ;;
	esac
	blanks 0 -0 +0 5 -5 +5 007 -007 42
	printf '%s\n' "" " " "+" "-" "--5" "+-5" "5-" "5+" "1.0" "1." ".0" \
		"1e3" "1E3" "0x10" "1_000" "1 000" "1,000" "5x" "x5" "٥" \
		"12345678901234567890123456789" "-" "0.5" "NaN" "Infinity"
}

gen_float() {
	blanks 0 -0 +0 0.0 1 -1 1.5 0.1 .5 5. -.5 1e10 1E-10 1e+5 1.5e3 \
		3.4028235e+38 -3.4028235e+38 3.4028234e+38 3.4028236e+38 \
		3.40282347e+38 3.4028235677973366e+38 3.5e38 -3.5e38 1e38 1e39 \
		1e-45 -1e-45 1.4e-45 7e-46 8e-46 1e-46 1.17549435e-38 1e-38 \
		1.1754943e-38 1e-39 1e-44 \
		1.7976931348623157e308 -1.7976931348623157e308 \
		1.7976931348623158e308 1.7976931348623159e308 1.8e308 1e308 \
		1e309 -1e309 4.9e-324 5e-324 2.5e-324 2.4e-324 3e-324 1e-324 \
		1e-400 0e-400 0e400 2.2250738585072014e-308 1e-310 \
		0.1234567890123456789 123456789012345678901234567890 \
		16777217 9007199254740993 1e0 1e-0 00001.5 1.5000000000
	words nan infinity inf
	printf '%s\n' "" " " "+" "-" "." "e" "1e" "1e+" "e5" ".e5" "1.2.3" \
		"1e5.5" "0x10" "0x1p3" "1,5" "1 5" "1_000" "--1" "+-1" "1f" \
		"1d" "nan(123)" "infinityx" "-nan" "+nan" "NaN " " -Infinity" \
		"1e-45 x" "∞"
}

gen_numeric() {
	blanks 0 -0 +0 0.0 -0.0 1.50 +.5 -.5 .5 5. -5. 007.10 \
		1e3 1E-3 1.5e+10 1.5e-10 -1.5e2 1e0 1e-0 1e+0 00.000 \
		123456789012345678901234567890.123456789012345678901234567890
	local e
	for e in 1 2 5 10 20 30 100 300; do
		printf '%s\n' "1e$e" "1e-$e" "-2.5e$e" "9.99e-$e"
	done
	printf '%s\n' "$(printf '9%.0s' {1..500})" "-0.$(printf '0%.0s' {1..300})1"
	# PostgreSQL's own limits: 131072 digits before the point, 16383
	# after it, an exponent within half the range of int32.
	local nines
	nines=$(head -c 131072 /dev/zero | tr '\0' 9)
	printf '%s\n' "1${nines:0:1000}" "$nines" "1$nines" "-$nines.5" \
		"0.${nines:0:16383}" "0.${nines:0:16384}" "1.${nines:0:16382}e-1" \
		"1.5e1000" "1e1001" "1e-1000" "1e-1001" "${nines:0:2000}e1000" \
		"0e1000" "0e1001" "0e200000" "0e-16383" "0e-16384" "0.0e-16383" \
		"1e-16383" "1e-16384" "1e131071" "1e131072" "5e1073741823" \
		"0e1073741823" "0e1073741824" "1e-1073741824"
	words nan infinity inf
	printf '%s\n' "" " " "+" "-" "." "e" "1e" "1e+" "e5" ".e5" "1.2.3" \
		"1e5.5" "0x10" "1,5" "1 5" "1_000" "--1" "+-1" "1f" "1.5 x" \
		"1e 5" "1e +5" "1 e5" "- 1" "+ 1" "nan(1)" "-nan" "1e2147483647" \
		"1e-2147483648" "1e99999999999999999999" "5e-1000" "5e-999"
}

gen_numeric_typmod() {
	blanks 0 0.005 0.015 0.025 -0.005 -0.015 0.0049999 1.005 2.675 \
		99999999.994 99999999.995 -99999999.995 12345678.9 123456789 \
		1e7 1e8 -1e8 1e-3 5e-3 NaN nan Infinity -Infinity inf
}

gen_bool() {
	local w k
	for w in true false yes no on off; do
		for k in $(seq 1 ${#w}); do
			printf '%s\n' "${w:0:$k}" "${w^^}" "$(echo "${w:0:$k}" | tr a-z A-Z)"
		done
		printf '%s\n' " $w " "${w}x" "x$w" "	$w"
	done
	printf '%s\n' 1 0 " 1 " 2 10 01 -1 "" " " "o" "of" "offf" "tru e" \
		"t rue" "nope" "yess" "ja" "1.0" "0.0"
}

gen_date() {
	blanks 2024-02-29 2023-02-29 1900-02-29 2000-02-29 2100-02-29 \
		0001-01-01 0000-01-01 9999-12-31 10000-01-01 99999-12-31 \
		5874897-12-31 5874898-01-01 "0044-03-15 BC" "0001-01-01 BC" \
		"4713-01-01 BC" "4714-11-24 BC" "4714-11-23 BC" "4714-11-24 bc" \
		"2024-01-05 AD" "2024-01-05 ad" "0002-02-29 BC" "0005-02-29 BC" \
		2024-1-5 2024-01-5 2024-13-01 2024-00-10 2024-01-32 2024-04-31 \
		"2024-01-05 10:00" "2024-01-05T10:00:00" "2024-01-05 24:00" \
		"2024-01-05 10:00+02" "12024-01-05" "2024-01-05 BC"
	words infinity epoch
	printf '%s\n' "" " " "2024-01" "2024" "2024-01-05x" "x2024-01-05" \
		"2024--01-05" "2024-01-05 BCE" "2024-01-05BC" "-2024-01-05" \
		"+2024-01-05" "2024-01-05 25:00"
}

gen_time() {
	blanks 00:00 00:00:00 10:11 1:02 01:02:03 23:59:59 24:00 24:00:00 \
		24:00:00.000001 24:00:01 23:59:59.999999 23:59:59.9999995 \
		23:59:59.9999994 23:59:60 10:60 25:00 10:11:60 10:11:12.5 \
		10:11:12.1234565 10:11:12.1234575 10:11:12.0000005 \
		10:11:12.0000015 10:11:12.0000025 10:11:12.0000035 \
		10:11:12.12345649999 10:11:12.123456500001 10:11:12.999999999 \
		10:11:12.000000499 10:11:12.0000004999999 \
		"10:11:12+02" "10:11:12Z" "10:11:12 UTC"
	printf '%s\n' "" " " "10" "10:" "10:1" ":10" "10:11:" "10:11:1" \
		"10:11:12." "10:11:12.x" "-10:00" "10:00x" "100:00" "10.11" \
		"2024-01-05 10:00"
}

gen_timestamp() {
	local d t
	for d in 2024-02-29 0001-01-01 9999-12-31 10000-01-01 "0044-03-15" \
		294246-12-31 294277-01-01 4713-11-24 4714-11-24 4714-11-23; do
		for t in 00:00:00 23:59:59.999999 12:00:00.0000005 \
			12:00:00.0000015 12:00:00.9999995 12:00:00.12345678; do
			printf '%s\n' "$d $t" "$d $t BC"
		done
	done
	blanks "2024-01-05 10:11:12" "2024-01-05T10:11:12" "2024-01-05t10:11:12" \
		"2024-01-05 10:11" "2024-01-05" "2024-01-05 24:00" \
		"2024-01-05 24:00:00.000001" "2024-01-05 23:59:60" \
		"2024-01-05 10:11:12Z" "2024-01-05 10:11:12+05:30" \
		"2024-01-05 10:11:12 UTC" "2024-02-30 00:00" \
		"2024-01-05 10:11:12.1234565" "2024-01-05 10:11:12.1234575" \
		"2024-01-05 10:11:12.0000025" "2024-01-05 10:11:12.0000035" \
		"2024-12-31 23:59:59.9999995" "2024-01-05 10:11:12 BC"
	words infinity epoch
	printf '%s\n' "" " " "2024-01-05 10" "2024-01-05 10:" "2024-01-05x" \
		"2024-01-05 10:11:12x" "10:11:12" "2024-01-05  10:11"
}

gen_timestamptz() {
	gen_timestamp
	local o
	for o in +00 -00 +05:30 -0800 +14 -12 +15 -15 +15:59 +16 +1 +0530 \
		+05:30:15 Z z " UTC" " GMT" " +02" +02:60 +24; do
		printf '%s\n' "2024-01-05 10:11:12$o" "2024-07-05 10:11:12.5$o"
	done
	printf '%s\n' "2026-03-29 02:30" "2026-10-25 02:30" "2026-03-29 01:59:59" \
		"0044-03-15 10:00+02 BC" "0044-03-15 10:00 BC"
}

gen_uuid() {
	blanks a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 \
		A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11 \
		"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}" \
		a0eebc999c0b4ef8bb6d6bb9bd380a11 \
		a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11 \
		a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11
	printf '%s\n' "" "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1" \
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111" "{a0eebc999c0b4ef8bb6d6bb9bd380a11" \
		"g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11" \
		"-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-"
}

gen_json() {
	blanks '{}' '[]' 5 -0 1e400 '"x"' true null '[1, 2.5e3, true]' '{"a": {"b": []}}'
	printf '%s\n' "" " " "{" "[1,]" "01" "1." ".5" "+1" "nul" "NULL" "True" \
		'"\u0000"' '"\ud800"' '"\ud83d\ude00"' '"\x"' "'x'" '{"a":1} x' \
		'{"a" 1}' '[1 2]' 'NaN' '-' '1e' '"tab	"'
}

gen_bytea() {
	printf '%s\n' '\x' '\xDEADbeef' '\x de ad' 'abc' 'a\\b' '\001' '\377' \
		'\400' '\x1' '\xg0' 'a\b' '\\' '' ' ' '\x 0 1' '\x01 ' '\X01'
}

gen_varchar() {
	printf '%s\n' "" "a" "abcde" "abcdef" "été!!" "étéété" "abcde " "abcde  " \
		"abcd " " abcde" "山田太郎花" "山田太郎花子"
}

# types, each with its generator
types=(smallint:gen_int integer:gen_int bigint:gen_int numeric:gen_numeric
	"numeric(10,2):gen_numeric_typmod" real:gen_float
	"double precision:gen_float" boolean:gen_bool date:gen_date
	time:gen_time timestamp:gen_timestamp timestamptz:gen_timestamptz
	uuid:gen_uuid json:gen_json jsonb:gen_json bytea:gen_bytea
	"varchar(5):gen_varchar" text:gen_varchar)

total=0
k=0
for entry in "${types[@]}"; do
	ty=${entry%%:*}
	g=${entry#*:}
	k=$((k + 1))
	tbl="v$k"
	# one CSV field per string, every field quoted (a quoted empty field
	# is an empty string, not NULL)
	"$g" "$ty" | awk 'BEGIN { print "id,s" } { gsub(/"/, "\"\""); print NR ",\"" $0 "\"" }' > "$tbl.csv"
	n=$(($(wc -l < "$tbl.csv") - 1))
	total=$((total + n))
	cat > "$tbl.xf" <<XF
[schema]
id integer not null
v  $ty

[from f]
id = cast(id as integer)
v  = cast(s as $ty)
XF
	cat > "$tbl.conf" <<JOB
[job]
name        = $tbl
transforms  = $tbl.xf
max_rejects = 100%
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo dst_values)
table    = $tbl
mode     = append

[source f]
driver   = csv
path     = $tbl.csv
timezone = UTC
JOB
	"$CNS" run "$tbl.conf" > "$tbl.out" 2>&1
	rc=$?
	ok $rc "$ty: the run over $n strings succeeds"
	[ $rc -eq 0 ] || sed 's/^/#   /' "$tbl.out" | head -n 20
	q dst_values "CREATE TABLE in_$tbl (id integer, s text);
		CREATE TABLE o_$tbl (v $ty)" >/dev/null
	q dst_values "\\copy in_$tbl FROM '$tbl.csv' WITH (FORMAT csv, HEADER)" >/dev/null
	# one line per string: id, the server's verdict, the run's verdict
	diffs=$(q dst_values "
		SELECT i.id || ' ' || quote_literal(i.s) || ': server '
		       || o.r || ', run ' || coalesce('ok:' || v.v::text, 'err')
		FROM in_$tbl i
		CROSS JOIN LATERAL (SELECT try_input(i.s, 'o_$tbl') AS r) o
		LEFT JOIN $tbl v ON v.id = i.id
		WHERE o.r IS DISTINCT FROM coalesce('ok:' || v.v::text, 'err')
		ORDER BY i.id")
	[ -z "$diffs" ] || printf '%s\n' "$diffs" > "$ROOT/build/t_values.$k.diff" 2>/dev/null
	is "$diffs" "" "$ty: the run accepts what the server accepts, with the same value ($n strings)"
	is "$(q dst_values "SELECT count(*) FROM in_$tbl")" "$n" "$ty: the server read $n strings"
done
# The one documented difference: timestamps are microseconds since 1970
# in 64 bits, which end in January 294247, where PostgreSQL goes on to
# 294276.  The run refuses those with a reason; nothing wraps around.
printf 'id,s\n1,294247-01-01\n2,294276-12-31 23:59:59\n3,294247-01-01 BC\n' > late.csv
cp v11.xf late.xf	# timestamp
sed 's/v11/late/g' v11.conf > late.conf
"$CNS" run late.conf > late.out 2>&1
is "$(q dst_values "SELECT count(*) FROM late")" 0 "timestamps past 294246 are refused"
like "$(cat late.out; find "$TMPDIR_T/rejects" -path '*late*' -type f -exec zcat -f {} +)" \
	'invalid timestamp ""294247-01-01""' "with a reason"
# The same values through ODBC: psqlODBC hands a real, a double and a
# numeric over as text, which the run reads by the same rules.  What
# PostgreSQL itself prints for the extremes of real (3.4028235e+38,
# 1e-45) and the special values must arrive unchanged.
eval "$("$ROOT/scripts/odbc-setup" "$TMPDIR_T/odbc")"
q dst_values "CREATE TABLE edges (id int PRIMARY KEY, r real,
	d double precision, n numeric)" >/dev/null
q dst_values "INSERT INTO edges VALUES
	(1, '3.4028235e+38', '1.7976931348623157e308', 'NaN'),
	(2, '-3.4028235e+38', '-1.7976931348623157e308', 'Infinity'),
	(3, '1e-45', '5e-324', '-Infinity'),
	(4, '-1e-45', '2.2250738585072014e-308', '-0.000000000000000000001'),
	(5, 'NaN', 'NaN', '123456789012345678901234567890.5'),
	(6, 'Infinity', '-Infinity', '0'),
	(7, '1.17549435e-38', '0.1', '1e-300')" >/dev/null
cat > edges.xf <<'XF'
[schema]
id integer not null
r  real
d  double precision
n  numeric

[from erp]
id = id
r  = r
d  = d
n  = n
XF
cat > edges.conf <<JOB
[job]
name        = edges
transforms  = edges.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo dst_values)
table    = edges_copy

[source erp]
driver     = odbc
connection = Driver=PostgreSQL Unicode;Servername=127.0.0.1;Port=$PGPORT;Database=dst_values
user       = $PGUSER
table      = edges
JOB
"$CNS" run edges.conf > edges.out 2>&1
rc=$?
ok $rc "odbc: real, double and numeric extremes and special values load"
[ $rc -eq 0 ] || sed 's/^/#   /' edges.out | head -n 20
is "$(q dst_values "SELECT count(*) FROM edges e JOIN edges_copy c USING (id)
	WHERE e.r::text = c.r::text AND e.d::text = c.d::text
	  AND e.n::text = c.n::text")" 7 "odbc: every value arrives as the server holds it"

echo "# $total strings compared with the server's input functions"
done_testing
