#!/usr/bin/env bash
# Values through psqlODBC exactly as PostgreSQL has them, for the types
# whose binding the odbc source chooses per type (dates and timestamps as
# ODBC structs, the rest as text): bigint and integer extremes, doubles
# with 17 significant digits, numerics, timestamps with every length of
# fraction, the first and last dates and timestamps of the calendar, NULL
# in every column and empty strings, through the Unicode and the ANSI
# driver.  The oracle is the server: the source and the target, both
# printed by PostgreSQL, must be equal row for row.
# (psqlODBC itself turns infinity into 9999-12-31 23:59:59 and drops BC:
# such values are not part of this test.)
#
# Then the connection timeouts: an ODBC source behind a listener that
# accepts connections and never answers fails after its login_timeout
# instead of hanging.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

eval "$("$ROOT/scripts/odbc-setup" "$TMPDIR_T/odbc")" ||
	{ echo "not ok 1 - scripts/odbc-setup"; exit 1; }

createdb_fresh ov_src
createdb_fresh ov_dst
COLS="id, big, i, s, dbl, r, n, ts, d, t"
q ov_src "CREATE TABLE v (id integer PRIMARY KEY, big bigint, i integer,
	s smallint, dbl double precision, r real, n numeric(30,9),
	ts timestamp(6), d date, t text)"
q ov_src "INSERT INTO v VALUES
	(1, 9223372036854775807, 2147483647, 32767, 0.1, 1.5,
	 123456789012345678901.123456789, '2024-02-29 23:59:59.999999',
	 '2024-02-29', 'plain'),
	(2, -9223372036854775808, -2147483648, -32768, 1.0000000000000002,
	 -3.4028235e38, -0.000000001, '0001-01-01 00:00:00', '0001-01-01', ''),
	(3, 0, 0, 0, 2.2250738585072014e-308, 1.17549435e-38, 0,
	 '9999-12-31 23:59:59.999999', '9999-12-31', 'Zoë 山田 x😀y'),
	(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(5, 1, -1, 1, 1.7976931348623157e308, 0.1, 0.5,
	 '2020-01-01 10:00:00.5', '1970-01-01', ' leading and trailing '),
	(6, -1, 1, -1, -123456789.12345679, 3.14159, -99.999999999,
	 '2020-01-01 00:00:37.000001', '2000-02-29', 'tab	and \"quotes\"'),
	(7, 4611686018427387904, 65536, 256, 0.30000000000000004, 1e-45,
	 1e20, '1999-12-31 23:59:59.12', '1900-03-01', NULL),
	(8, 42, 42, 42, -0.0, 'NaN', 'NaN', '2024-06-30 12:34:56.010203',
	 '2024-06-30', '')"
# Many rows as well, so that fractions of every length and NULLs fall
# at every position of a rowset.
q ov_src "INSERT INTO v SELECT g, g * 7919 - 4000000000, g % 7 - 3, g % 300,
	g / 7.0, g / 3.0, g / 11.0,
	CASE WHEN g % 9 = 0 THEN NULL ELSE timestamp '2001-01-01'
	  + g * interval '1 hour 1 second' + (g * 37 % 1000000) * interval '1 microsecond' END,
	CASE WHEN g % 10 = 0 THEN NULL ELSE date '1950-01-01' + g % 40000 END,
	CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'row ' || g END
	FROM generate_series(100, 5099) g"

cat > v.xf <<'XF'
[schema]
id   integer not null
big  bigint
i    integer
s    smallint
dbl  double precision
r    real
n    numeric(30,9)
ts   timestamp
d    date
t    text
XF

# job NAME DRIVER BATCH: a job reading table v through psqlODBC.
job() {
	cat > "$1.conf" <<EOF
[job]
name        = $1
transforms  = $TMPDIR_T/v.xf
batch_size  = $3
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo ov_dst)
table    = public.$1
mode     = append

[source src]
driver     = odbc
connection = Driver=$2;Servername=127.0.0.1;Port=$PGPORT;Database=ov_src;Uid=$PGUSER
table      = public.v
EOF
}

rows_of() {	# rows_of DB TABLE: every row as PostgreSQL prints it
	q "$1" "SELECT $COLS FROM $2 ORDER BY id"
}
want=$(rows_of ov_src v)
for drv in "PostgreSQL Unicode" "PostgreSQL ANSI"; do
	for batch in 7 1000; do
		name=v_$(echo "$drv" | awk '{ print tolower($2) }')_$batch
		job "$name" "$drv" "$batch"
		out=$("$CNS" run "$name.conf" 2>&1)
		is "$?" 0 "$drv, batch_size $batch: the run succeeds"
		got=$(rows_of ov_dst "$name")
		is "$(printf '%s\n' "$got" | wc -l)" "$(printf '%s\n' "$want" | wc -l)" \
			"$drv, batch_size $batch: every row arrived"
		if [ "$got" = "$want" ]; then
			ok 0 "$drv, batch_size $batch: every value is the source's"
		else
			ok 1 "$drv, batch_size $batch: every value is the source's"
			diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -n 20 | sed 's/^/#   /'
			printf '%s\n' "$out" | head -n 5 | sed 's/^/#   /'
		fi
	done
done

# ---- a server that accepts the connection and never answers ----
# A listener that never reads: the kernel completes the TCP handshake,
# and the driver waits for the server's first answer.
python3 - "$TMPDIR_T/mute.port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
PY
MUTE=$!
trap 'kill "$MUTE" 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s mute.port ] && break; sleep 0.05; done
MUTE_PORT=$(cat mute.port)

# mute_job NAME EXTRA: a job whose source is the mute listener.
mute_job() {
	job "$1" "PostgreSQL Unicode" 100
	sed -i "s/Port=$PGPORT;/Port=$MUTE_PORT;/" "$1.conf"
	[ -z "$2" ] || printf '%s\n' "$2" >> "$1.conf"
}
mute_job mute2 "login_timeout = 2s"
t0=$(date +%s%3N)
out=$(timeout 60 "$CNS" check mute2.conf 2>&1)
rc=$?
ms=$(( $(date +%s%3N) - t0 ))
ok $(( rc != 0 && rc != 124 ? 0 : 1 )) "login_timeout = 2s: check fails instead of waiting"
ok $(( ms < 20000 ? 0 : 1 )) "login_timeout = 2s: it gives up within 20 s (took ${ms} ms)"
like "$out" 'source "src"' "login_timeout = 2s: the message names the source"

# The default is 30 s: ended by our own timeout here when the default is
# not applied, so the test stays short either way.
mute_job mute_default ""
t0=$(date +%s%3N)
timeout 50 "$CNS" check mute_default.conf >/dev/null 2>&1
rc=$?
ms=$(( $(date +%s%3N) - t0 ))
ok $(( rc != 0 && rc != 124 ? 0 : 1 )) "the default login timeout ends the attempt by itself"
ok $(( ms > 25000 && ms < 45000 ? 0 : 1 )) "the default login timeout is about 30 s (took ${ms} ms)"

mute_job mute_bad "login_timeout = soon"
out=$("$CNS" check mute_bad.conf 2>&1)
like "$out" 'login_timeout' "a login_timeout that is not a duration is a config error naming the key"

done_testing
