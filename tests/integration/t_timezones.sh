#!/usr/bin/env bash
# Casts of a timestamptz source column honour the value's offset and the
# source's time zone, as PostgreSQL's do.  A table of instants around the
# DST changes of 2026 and around day boundaries goes through a run in
# several zones (postgres source -> cast(at as date), cast(at as
# timestamp), cast(at as time), date_trunc('day', at) -> PostgreSQL); every
# row must hold what the server itself answers with SET TimeZone to the
# source's zone.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh tz_src
createdb_fresh tz_dst
export PGTZ=UTC
# every 20 minutes from a day before to a day after each change (EU, US,
# AU, NZ, Chile; Lord Howe's half hour; Chatham's 45 minutes), and the
# last microsecond before and the first of each hour around 2026-06-01
q tz_src "CREATE TABLE inst (id serial PRIMARY KEY, at timestamptz)" >/dev/null
q tz_src "INSERT INTO inst (at)
	SELECT c + m * interval '20 minutes'
	FROM unnest(ARRAY['2026-03-08 10:00+00', '2026-03-29 01:00+00',
	                  '2026-04-04 16:00+00', '2026-04-05 03:00+00',
	                  '2026-09-27 14:00+00', '2026-10-03 16:00+00',
	                  '2026-10-25 01:00+00', '2026-11-01 06:00+00',
	                  '2026-09-06 04:00+00']::timestamptz[]) AS c,
	     generate_series(-72, 72) AS m
	UNION ALL
	SELECT timestamptz '2026-06-01 00:00+00' + h * interval '1 hour' + d
	FROM generate_series(-2, 26) AS h,
	     unnest(ARRAY[interval '0', interval '-1 microsecond',
	                  interval '30 minutes']) AS d" >/dev/null
n=$(q tz_src "SELECT count(*) FROM inst")

cat > tz.xf <<'XF'
[schema]
id integer not null
d  date
ts timestamp
tt time
tr timestamptz

[from src]
id = id
d  = cast(at as date)
ts = cast(at as timestamp)
tt = cast(at as time)
tr = date_trunc('day', at)
XF

zones="Europe/Berlin America/New_York Australia/Sydney Australia/Lord_Howe
	Pacific/Auckland Pacific/Chatham America/Santiago Asia/Kolkata
	Pacific/Kiritimati Pacific/Pago_Pago Asia/Kathmandu UTC"
total=0
for zone in $zones; do
	tbl=t_$(echo "$zone" | tr -c 'A-Za-z0-9\n' _ | tr A-Z a-z)
	cat > "$tbl.conf" <<JOB
[job]
name        = $tbl
transforms  = tz.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo tz_dst)
table    = $tbl

[source src]
driver   = postgres
conninfo = $(conninfo tz_src)
table    = inst
timezone = $zone
JOB
	"$CNS" run "$tbl.conf" > "$tbl.out" 2>&1
	rc=$?
	ok $rc "$zone: the run succeeds"
	[ $rc -eq 0 ] || sed 's/^/#   /' "$tbl.out" | head -n 20
	# the server's answers for the same instants, in the same zone
	PGTZ=$zone psql -X -q -At -F $'\t' -d tz_src -c \
		"SELECT id, at::date, at::timestamp, at::time,
		        (date_trunc('day', at) AT TIME ZONE 'UTC')::text
		 FROM inst ORDER BY id" > "$tbl.want"
	q tz_dst "SELECT id, d, ts, tt, (tr AT TIME ZONE 'UTC')::text
		FROM $tbl ORDER BY id" > "$tbl.got"
	is "$(diff "$tbl.want" "$tbl.got" | head -n 12)" "" \
		"$zone: date, timestamp, time and date_trunc of $n instants as the server gives them"
	total=$((total + n))
done
echo "# $total instants compared with the server's answers"
done_testing
