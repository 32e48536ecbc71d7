#!/usr/bin/env bash
# One job, three systems at once: an ERP in PostgreSQL (customers and
# orders, through libpq), an inventory in SQLite (through ODBC) and a CRM
# export (gzipped CSV), consolidated into one target.  The sources run in
# parallel: the whole job takes less wall time than its sources one by one.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
command -v sqlite3 >/dev/null || { echo "not ok 1 - sqlite3 is not installed (scripts/install-deps)"; exit 1; }

createdb_fresh erp
createdb_fresh warehouse
psql -X -q -d erp -f "$ROOT/data/erp.sql" >/dev/null 2>&1
# More orders than the demo, so that each source takes a moment.
q erp "INSERT INTO orders SELECT o, 1 + o % 4000, timestamptz '2025-01-01' + o * interval '1 second', o % 997, 'paid' FROM generate_series(12001, 250000) o"
export CNS_DEMO_DIR=$TMPDIR_T
sqlite3 inventory.db < "$ROOT/data/inventory.sql"
sqlite3 inventory.db "WITH RECURSIVE n(i) AS (SELECT 6001 UNION ALL SELECT i + 1 FROM n WHERE i < 80000)
  INSERT INTO stock_movements SELECT i, 'SKU-' || (i % 900), 'Leeds', (i % 50) - 10, '2025-02-01 00:00:00' FROM n"
eval "$("$ROOT/scripts/odbc-setup" "$TMPDIR_T/odbc")"
{
	echo 'cust_no,full_name,email,country,signup_date,lifetime_value,updated_at'
	seq 1 120000 | awk '{ printf "%d,\"Name %d, Jr\",c%d@example.com,GB,2020-01-01,%d.50,2025-03-01 10:00:00+00\n", $1, $1, $1, $1 % 1000 }'
} | gzip > crm.csv.gz
sed -e "s#../transforms/activity.xf#$ROOT/transforms/activity.xf#" \
    -e "s#../data/crm-customers.csv.gz#$TMPDIR_T/crm.csv.gz#" \
    "$ROOT/jobs/activity.conf" > activity.conf

"$CNS" check activity.conf > check.out 2>&1; ok $? "check connects to all three systems"
like "$(cat check.out)" 'source inventory +ok \(odbc' "including the ODBC one"

wall() {	# wall CMD...: runs it, prints milliseconds
	local t0 t1
	t0=$(date +%s%N)
	"$@" > /dev/null 2>&1 || echo "# failed: $*" >&2
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000000 ))
}
sum=0
for s in erp_customers erp_orders inventory crm; do
	ms=$(wall "$CNS" run --source $s activity.conf)
	echo "# $s alone: ${ms} ms"
	sum=$((sum + ms))
done
q warehouse "TRUNCATE activity; DELETE FROM consolidate.watermarks"
all=$(wall "$CNS" run activity.conf)
echo "# all four sources in one run: ${all} ms, one by one: ${sum} ms"
ok $(( all < sum ? 0 : 1 )) "the sources run in parallel: ${all} ms < ${sum} ms"
is "$(q warehouse "SELECT string_agg(source_system || ':' || n, ' ' ORDER BY source_system) FROM (SELECT source_system, count(*) n FROM activity GROUP BY 1) s")" \
   "crm:120000 erp:254000 inventory:80000" "every system's rows are in the target"
is "$(q warehouse "SELECT detail FROM activity WHERE event_id = 'move-2'")" 'SKU-00074 @ Lyon' "UTF-8 and values from SQLite arrive intact"
is "$(q warehouse "SELECT count(*) FROM activity WHERE source_system = 'inventory' AND detail LIKE '%Kraków'")" 2000 "non-ASCII text from SQLite through ODBC"
done_testing
