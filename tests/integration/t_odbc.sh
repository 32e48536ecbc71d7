#!/usr/bin/env bash
# ODBC sources end to end, through the consolidate binary: SQLite
# (libsqliteodbc, by a user DSN), MariaDB (Connector/ODBC on a throwaway
# scripts/mariadb-sandbox, password in a password_file) and PostgreSQL
# (psqlODBC on the suite's cluster) into the PostgreSQL target.  check and
# plan, a run whose target equals the sources row for row, an incremental
# rerun that reads only what changed, the volume guard judging each driver
# before extraction, and the messages a user meets first when something
# is wrong.  The password reaches neither the output nor the
# logs.  Drivers are registered in a private odbcinst.ini.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

eval "$("$ROOT/scripts/odbc-setup" "$TMPDIR_T/odbc")" ||
	{ echo "not ok 1 - scripts/odbc-setup"; exit 1; }
export ODBCINI="$TMPDIR_T/user-odbc.ini"
mdb_env=$("$ROOT/scripts/mariadb-sandbox" start "$TMPDIR_T/mdb") ||
	{ echo "not ok 1 - the MariaDB sandbox starts"; exit 1; }
eval "$mdb_env"
trap '"$ROOT/scripts/mariadb-sandbox" stop "$TMPDIR_T/mdb"' EXIT

my() {	# my SQL: MariaDB as root, tab-separated, no headers
	mariadb --no-defaults --default-character-set=utf8mb4 \
		-S "$MARIADB_SOCKET" -uroot -N -B "$MARIADB_DATABASE" -e "$1"
}
digest() { LC_ALL=C sort | md5sum | cut -d' ' -f1; }

# ---- sources: the same kind of rows in three databases ----
# name: NULL, '', UTF-8 or plain; price with cents; a timestamp with
# microseconds.
sqlite3 -bail inv.db <<'SQL'
CREATE TABLE items (sku integer PRIMARY KEY, name text,
                    price numeric(10,2), updated_at timestamp);
WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 3000)
INSERT INTO items SELECT i,
  CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'Łukasz ' || i
             ELSE 'item ' || i END,
  i * 0.25,
  strftime('%Y-%m-%d %H:%M:%S', 1767225600 + i * 60, 'unixepoch') || '.' ||
    printf('%06d', 100000 + i * 7 % 899999)
FROM g;
SQL
printf '[inv_dsn]\nDriver = SQLite3\nDatabase = %s/inv.db\n' "$TMPDIR_T" > "$ODBCINI"

my "CREATE TABLE contacts (id int PRIMARY KEY, name varchar(200),
      price decimal(10,2), updated_at datetime(6)) DEFAULT CHARSET=utf8mb4;
    INSERT INTO contacts SELECT id,
      CASE id % 4 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN CONCAT('山田 ', id)
                  ELSE CONCAT('contact ', id) END,
      id * 0.25,
      TIMESTAMPADD(MICROSECOND, id * 60000000 + 100000 + id * 7 % 899999,
                   '2026-01-01 00:00:00')
    FROM (SELECT CAST(seq AS SIGNED) AS id FROM seq_1_to_2000) g"
printf '%s\n' "$MARIADB_PASSWORD" > crm.pw
chmod 600 crm.pw

createdb_fresh odbc_erp
createdb_fresh odbc_dst
q odbc_erp "CREATE TABLE accounts (id int PRIMARY KEY, name text,
              price numeric(10,2), updated_at timestamp(6))"
q odbc_erp "INSERT INTO accounts SELECT i,
              CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'Zoë ' || i
                         ELSE 'account ' || i END,
              i * 0.25,
              timestamp '2026-01-01' + i * interval '1 minute' +
                (100000 + i * 7 % 899999) * interval '1 microsecond'
            FROM generate_series(1, 2500) i"

cat > odbc.xf <<'XF'
[schema]
source_system text not null
id            bigint not null
name          text
price         numeric(12,2)
updated_at    timestamp

[from inv]
source_system = 'inv'
id            = sku
name          = name
price         = cast(price as numeric(12,2))
updated_at    = cast(updated_at as timestamp)

[from crm]
source_system = 'crm'
id            = id
name          = name
price         = cast(price as numeric(12,2))
updated_at    = cast(updated_at as timestamp)

[from erp]
source_system = 'erp'
id            = id
name          = name
price         = cast(price as numeric(12,2))
updated_at    = cast(updated_at as timestamp)
XF

write_job() {	# write_job [CRM_TABLE] [CRM_PASSWORD_FILE] [ERP_DRIVER]
	cat > job.conf <<JOB
[job]
name        = odbc_e2e
batch_size  = 500
parallel    = 3
transforms  = odbc.xf
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo odbc_dst)
table    = public.unified
key      = source_system, id
mode     = upsert
create   = yes

[source inv]
driver = odbc
dsn    = inv_dsn
table  = items

[source crm]
driver        = odbc
connection    = Driver=MariaDB;Server=127.0.0.1;Port=$MARIADB_PORT;Database=$MARIADB_DATABASE
user          = $MARIADB_USER
password_file = ${2:-$TMPDIR_T/crm.pw}
table         = ${1:-contacts}
incremental   = updated_at
key           = id

[source erp]
driver      = odbc
connection  = Driver=${3:-PostgreSQL Unicode};Servername=127.0.0.1;Port=$PGPORT;Database=odbc_erp
user        = $PGUSER
table       = accounts
incremental = updated_at
JOB
}

# One line per row: id|name or <null>|price with two decimals|timestamp
# with six digits.
src_rows() {
	case $1 in
	inv) sqlite3 -separator '|' inv.db "SELECT sku, coalesce(name, '<null>'),
	       printf('%.2f', price), updated_at FROM items" ;;
	crm) my "SELECT CONCAT_WS('|', id, COALESCE(name, '<null>'), price,
	       DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f')) FROM contacts" ;;
	erp) q odbc_erp "SELECT concat_ws('|', id, coalesce(name, '<null>'),
	       price, to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US'))
	       FROM accounts" ;;
	esac
}
dst_rows() {
	q odbc_dst "SELECT concat_ws('|', id, coalesce(name, '<null>'), price,
	  to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US')) FROM unified
	  WHERE source_system = '$1'"
}

# ---- check, plan, run ----
write_job
out=$("$CNS" check job.conf 2>&1); rc=$?
is "$rc" 0 "check passes against the three live sources"
[ "$rc" -eq 0 ] || echo "# $out"
plan=$("$CNS" plan job.conf 2>&1); ok $? "plan"
like "$plan" 'PWD=\*\*\*' "the plan shows the connection with the password masked"
ok "$(printf '%s' "$plan" | grep -c -- "$MARIADB_PASSWORD")" "the plan never shows the password"
like "$plan" 'SELECT \* FROM `contacts`' "MariaDB names are quoted with its own quote"
like "$plan" 'SELECT \* FROM `items`' "SQLite names are quoted with backquotes"
like "$plan" 'SELECT \* FROM "accounts"' "PostgreSQL names are quoted with double quotes"

"$CNS" run job.conf; ok $? "the first run succeeds"
counts() { q odbc_dst "SELECT string_agg(source_system || '=' || n, ',' ORDER BY source_system)
                       FROM (SELECT source_system, count(*) n FROM unified GROUP BY 1) s"; }
is "$(counts)" "crm=2000,erp=2500,inv=3000" "every row of every source arrived"
is "$(src_rows inv | wc -l),$(src_rows crm | wc -l),$(src_rows erp | wc -l)" \
   "3000,2000,2500" "the sources read back for comparison"
for s in inv crm erp; do
	is "$(dst_rows $s | digest)" "$(src_rows $s | digest)" \
	   "$s: the target equals the source row for row"
done
is "$(q odbc_dst "SELECT name FROM unified WHERE source_system = 'crm' AND id = 2")" \
   "山田 2" "UTF-8 from MariaDB arrives intact"
is "$(q odbc_dst "SELECT count(*) FILTER (WHERE name IS NULL) || ',' ||
                  count(*) FILTER (WHERE name = '') FROM unified
                  WHERE source_system = 'inv'")" "750,750" \
   "NULL and the empty string stay distinct"

# ---- incremental: only what changed is read ----
my "UPDATE contacts SET name = 'changed', updated_at = '2026-06-01 00:00:00.000001' WHERE id IN (7, 8);
    INSERT INTO contacts VALUES (2001, 'new', 1.5, '2026-06-02 00:00:00.5')"
q odbc_erp "UPDATE accounts SET name = 'changed', updated_at = '2026-06-01 00:00:00.000001' WHERE id = 9"
summary=$("$CNS" run --summary job.conf 2>&1); ok $? "the incremental run succeeds"
like "$summary" 'crm +ok +3 ' "crm: only the three changed rows are read"
like "$summary" 'erp +ok +1 ' "erp: only the changed row is read (primary key as tie-breaker)"
for s in inv crm erp; do
	is "$(dst_rows $s | digest)" "$(src_rows $s | digest)" \
	   "$s: the target equals the source after the rerun"
done
is "$(q odbc_dst "SELECT array_to_string(value, ',') FROM consolidate.watermarks WHERE job = 'odbc_e2e' AND source = 'crm'")" \
   "2026-06-02 00:00:00.500000,2001" "the watermark is the last row's (updated_at, id)"

# ---- plan prints the statement psqlODBC sends, with the bound values ----
# psqlODBC puts the bound values into the text and wraps it in a cursor
# (UseDeclareFetch): the server's log, less that wrapper and with each
# literal read back as a "?", must be plan's text, and the literals must
# be the watermark plan names.
q odbc_erp "UPDATE accounts SET updated_at = '2026-06-03 00:00:00' WHERE id = 10"
"$CNS" plan job.conf > plan.out 2>&1
planned=$(awk '/^\[source / { on = ($0 == "[source erp] driver odbc") }
	on && /^  extract: / { grab = 1; sub(/^  extract: /, "") }
	on && /^  [a-z]+: / && !/extract/ { grab = 0 }
	grab && NF { print }' plan.out | grep -v '^-- ' | tr '\n' ' ' | sed 's/ $//')
wm=$(sed -n '/^\[source erp\]/,/^$/s/^  watermark: //p' plan.out)
like "$planned" '^SELECT \* FROM "accounts" WHERE .*\?' "plan shows the erp extraction with its parameters"
log="$CNS_PG_SANDBOX/server.log"
q odbc_erp "ALTER DATABASE odbc_erp SET log_statement = 'all'"
mark=$(wc -l < "$log")
"$CNS" run job.conf >/dev/null 2>&1; ok $? "the planned run succeeds"
q odbc_erp "ALTER DATABASE odbc_erp RESET log_statement"
sent=$(tail -n +"$((mark + 1))" "$log" | grep -F 'FROM "accounts" WHERE' | tail -n 1 |
	sed -E 's/.*LOG:  (statement|execute [^:]*): //; s/^BEGIN;declare "[^"]*" cursor with hold for //; s/;fetch [0-9]+ in "[^"]*"$//')
is "$(printf '%s' "$sent" | sed -E "s/'[^']*'/?/g")" "$planned" \
	"plan's erp extraction is the statement the server received through psqlODBC"
is "$(printf '%s' "$sent" | grep -oE "'[^']*'" | tr -d "'" | sort -u | paste -sd,)" \
   "$(printf '%s\n' "$wm" | sed 's/, /\n/g' | sort -u | paste -sd,)" \
	"the values it bound are the watermark plan names ($wm)"

# ---- volume guard: judged before extraction, by a count on the source ----
# Append mode, incremental, one job per driver: once the history shows
# about 50 new rows a run, 500 new rows fail the run before any row moves,
# so neither the target nor the watermark changes; with warn the same run
# then loads each row exactly once.
add_rows() {	# add_rows FIRST COUNT DAY: new rows in all three sources
	local a=$1 b=$(($1 + $2 - 1)) ts="2026-07-$3 00:00:00"
	sqlite3 -bail inv.db "WITH RECURSIVE g(i) AS (SELECT $a UNION ALL
	  SELECT i + 1 FROM g WHERE i < $b)
	  INSERT INTO items SELECT i, 'v ' || i, 1.25, '$ts.000000' FROM g"
	my "INSERT INTO contacts SELECT seq, CONCAT('v ', seq), 1.25, '$ts'
	    FROM seq_${a}_to_${b}"
	q odbc_erp "INSERT INTO accounts SELECT i, 'v ' || i, 1.25, '$ts'
	            FROM generate_series($a, $b) i"
}
for s in inv crm erp; do	# vol_S.conf: source S alone
	sed -e "s/^name        = odbc_e2e\$/name        = odbc_vol_$s/" \
	    -e 's/^table    = public.unified$/table    = public.vol/' \
	    -e 's/^mode     = upsert$/mode     = append/' -e '/^key      = /d' \
	    -e 's/^\[job\]$/[job]\non_volume_anomaly = fail/' \
	    -e 's/^table  = items$/table  = items\nincremental = updated_at/' job.conf |
		awk -v keep="[source $s]" '/^\[/ { skip = /^\[source / && $0 != keep }
		     !skip { print } $0 == keep { print "max_change = 50%" }' > vol_$s.conf
done
vol_wm() { q odbc_dst "SELECT array_to_string(value, ',') FROM consolidate.watermarks
                       WHERE job = 'odbc_vol_$1'"; }
vol_count() { q odbc_dst "SELECT count(*) FROM vol WHERE source_system = '$1'"; }
fails=0
for d in 1 2 3 4 5; do
	add_rows $((100000 + d * 100)) 50 0$d
	for s in inv crm erp; do
		"$CNS" run vol_$s.conf >/dev/null 2>vol.err ||
			{ fails=$((fails + 1)); sed 's/^/# /' vol.err; }
	done
done
is "$fails" 0 "volume: five runs of about 50 new rows each succeed"
add_rows 200000 500 10
for s in inv crm erp; do
	wm=$(vol_wm $s); rows=$(vol_count $s)
	"$CNS" run vol_$s.conf >/dev/null 2>&1; rc=$?
	is "$rc" 1 "volume: $s: ten times the usual new rows fail the run"
	like "$("$CNS" log vol_$s.conf last)" \
	     "stage=volume source=$s volume anomaly before extraction.*source \"$s\": 500 rows" \
	     "volume: $s: counted through the driver before extraction"
	is "$(vol_count $s)" "$rows" "volume: $s: the target did not change"
	is "$(vol_wm $s)" "$wm" "volume: $s: the watermark did not move"
	sed -i 's/^on_volume_anomaly = fail$/on_volume_anomaly = warn/' vol_$s.conf
	"$CNS" run vol_$s.conf >/dev/null 2>&1; ok $? "volume: $s: with warn the run loads them"
done
vol_rows() {
	q odbc_dst "SELECT concat_ws('|', id, coalesce(name, '<null>'), price,
	  to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US')) FROM vol
	  WHERE source_system = '$1'"
}
for s in inv crm erp; do
	is "$(vol_rows $s | digest)" "$(src_rows $s | digest)" \
	   "volume: $s: every source row is in the target exactly once"
done

# ---- what a user sees when something is wrong ----
printf 'not-the-password-42\n' > wrong.pw
write_job contacts "$TMPDIR_T/wrong.pw"
err=$("$CNS" check job.conf 2>&1); rc=$?
ok $((rc == 0)) "check fails on a wrong password"
like "$err" 'crm.*authentication failed for user "cns": \[28000\]' \
     "the message says authentication failed, with the SQLSTATE"
ok "$(printf '%s' "$err" | grep -c 'not-the-password-42')" \
   "the wrong password is not shown"
"$CNS" run job.conf >/dev/null 2>&1
ok "$(grep -rl -e 'not-the-password-42' -e "$MARIADB_PASSWORD" "$TMPDIR_T/log" 2>/dev/null | wc -l)" \
   "no password in the run logs"

write_job nosuch
err=$("$CNS" check job.conf 2>&1); rc=$?
ok $((rc == 0)) "check fails on a missing table"
like "$err" 'table "nosuch" does not exist: \[42S02\]' "and names the table"

write_job contacts "" "No Such Driver"
err=$("$CNS" check job.conf 2>&1)
like "$err" 'ODBC driver "No Such Driver" is not installed' \
     "a driver that is not registered is named"
like "$err" 'odbcinst -q -d' "with a hint on how to list the drivers"

done_testing
