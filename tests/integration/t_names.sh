#!/usr/bin/env bash
# Names and types as real schemas have them, with the server as the oracle:
# every keyword the server lists (pg_get_keywords, not unreserved) as a
# column name in a target and in a postgres source's columns list, in
# append, upsert (as the key too) and replace; mixed-case names and names
# with blanks, for tables, schemas and columns; 63-byte table names in
# replace and upsert, where the target keeps its rows and no DROP of it is
# ever issued; every built-in base type of the server as a value column
# and as a key; two replace runs of one table at once.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh src_n
createdb_fresh dst_n

# A DROP that names a protected table fails, so a run that issued one
# fails; and every statement a run sends is in the server log, read back
# through the server itself.
q dst_n "CREATE TABLE public.protected (ident text PRIMARY KEY)"
q dst_n "CREATE FUNCTION public.no_drop() RETURNS event_trigger
  LANGUAGE plpgsql AS \$\$
DECLARE o record;
BEGIN
  FOR o IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
    IF o.object_type = 'table' AND EXISTS (SELECT 1 FROM public.protected p
        WHERE p.ident = o.object_identity) THEN
      RAISE EXCEPTION 'DROP of protected table %', o.object_identity;
    END IF;
  END LOOP;
END \$\$"
q dst_n "CREATE EVENT TRIGGER no_drop ON sql_drop
  EXECUTE FUNCTION public.no_drop()"
q postgres "ALTER DATABASE dst_n SET log_statement = 'all'"
logfile="$CNS_PG_SANDBOX/server.log"
server_log() {	# the server log from byte offset $1
	q postgres "SELECT pg_read_file('$logfile', $1,
	  (pg_stat_file('$logfile')).size - $1)"
}
log_size() { q postgres "SELECT (pg_stat_file('$logfile')).size"; }

# write_job FILE NAME MODE TABLE KEY XF SRCTABLE COLUMNS [EXTRA SOURCE LINES]
write_job() {
	cat > "$1" <<JOB
[job]
name        = $2
batch_size  = ${BATCH:-500}
transforms  = $6
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects

[target]
conninfo = $(conninfo dst_n)
table    = $4
mode     = $3
create   = ${CREATE:-yes}
JOB
	[ -n "$5" ] && echo "key      = $5" >> "$1"
	cat >> "$1" <<JOB

[source src]
driver   = postgres
conninfo = $(conninfo src_n)
table    = $7
JOB
	[ -n "$8" ] && echo "columns  = $8" >> "$1"
	[ -n "${9:-}" ] && printf '%s\n' "$9" >> "$1"
	return 0
}

rows_of() {	# rows_of DB TABLE-SQL: digest of every row's text form
	table_digest "$1" "SELECT t::text FROM $2 AS t"
}

# gen_xf FIRST SUFFIX NAME...: a transform file whose schema is the column
# FIRST ("id bigint not null") and each NAME as text (then SUFFIX), every
# column copied from source src.
gen_xf() {
	local first=$1 suffix=$2 n
	shift 2
	echo "[schema]"
	echo "$first"
	for n; do echo "\"$n\" text$suffix"; done
	echo
	echo "[from src]"
	echo "${first%% *} = ${first%% *}"
	for n; do echo "\"$n\" = \"$n\""; done
}

# ---- every keyword as a column name ----
mapfile -t KW < <(q postgres "SELECT word FROM pg_get_keywords()
  WHERE catcode <> 'U' ORDER BY word")
[ "${#KW[@]}" -gt 100 ]; ok $? "the server lists ${#KW[@]} keywords that are not unreserved"
{
	echo "CREATE TABLE kw (id int PRIMARY KEY"
	for w in "${KW[@]}"; do echo ", \"$w\" text"; done
	echo "); INSERT INTO kw SELECT i"
	for w in "${KW[@]}"; do echo ", '$w ' || i"; done
	echo " FROM generate_series(1, 1200) i"
} > kw.sql
q src_n "$(cat kw.sql)"
gen_xf "id bigint not null" "" "${KW[@]}" > kw.xf
quoted=id unquoted=id
for w in "${KW[@]}"; do quoted+=", \"$w\""; unquoted+=", $w"; done

# Pre-existing rows that replace must remove, under names that collide
# with nothing.
write_job kw_append.conf kw_append append public.kw_append "" kw.xf kw "$quoted"
"$CNS" run kw_append.conf; ok $? "append: keyword columns, quoted in columns ="
is "$(rows_of dst_n kw_append)" "$(rows_of src_n kw)" "append: every keyword column holds the source's values"

write_job kw_upsert.conf kw_upsert upsert public.kw_upsert '"select", "order"' kw.xf kw "$unquoted"
"$CNS" run kw_upsert.conf; ok $? "upsert: keyword columns written bare in columns =, keyword key"
is "$(rows_of dst_n kw_upsert)" "$(rows_of src_n kw)" "upsert: target equals source"
is "$(q dst_n "SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey, a.attnum))
  FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
  WHERE i.indisprimary AND i.indrelid = 'kw_upsert'::regclass")" "select,order" \
  "create made the keyword key the primary key"
write_job kw_dd.conf kw_dd upsert public.kw_dd id kw.xf kw "$quoted"
sed -i 's/^mode     = upsert/&\ndedupe   = yes\ndedupe_order = "user", "from"/' kw_dd.conf
"$CNS" run kw_dd.conf; ok $? "dedupe_order naming keyword columns in quotes"
is "$(rows_of dst_n kw_dd)" "$(rows_of src_n kw)" "dedupe: target equals source"
q src_n "UPDATE kw SET \"user\" = 'changed ' || id, \"from\" = NULL WHERE id % 7 = 0"
"$CNS" run kw_upsert.conf; ok $? "upsert rerun after changes"
is "$(rows_of dst_n kw_upsert)" "$(rows_of src_n kw)" "upsert: changes in keyword columns arrive"

q dst_n "CREATE TABLE kw_replace (LIKE kw_upsert INCLUDING ALL);
  INSERT INTO kw_replace (id, \"select\", \"order\") VALUES (-1, 'old', 'old')"
write_job kw_replace.conf kw_replace replace public.kw_replace '"select", "order"' kw.xf kw "$quoted"
"$CNS" run kw_replace.conf; ok $? "replace: keyword columns and key"
is "$(rows_of dst_n kw_replace)" "$(rows_of src_n kw)" "replace: target equals source"
out=$("$CNS" check kw_replace.conf 2>&1); ok $? "check passes for keyword columns"

# ---- mixed case, blanks, and PostgreSQL's folding rule ----
q src_n 'CREATE SCHEMA "Sales"; CREATE SCHEMA sales;
  CREATE TABLE "Sales"."Orders" ("Order Id" int PRIMARY KEY, "CustomerName" text,
    "updated At" timestamptz NOT NULL, "select" text);
  CREATE TABLE sales.orders (LIKE "Sales"."Orders" INCLUDING ALL);
  INSERT INTO "Sales"."Orders" SELECT i, $$Name "$$ || i, timestamptz $$2026-01-01$$ + (i / 100) * interval $$1 hour$$, $$s$$ || i
    FROM generate_series(1, 2000) i;
  INSERT INTO sales.orders SELECT i, $$lower $$ || i, now(), NULL FROM generate_series(1, 30) i'
q dst_n 'CREATE SCHEMA "Sales Copy"; CREATE SCHEMA sales_lower'
cat > orders.xf <<'XF'
[schema]
"Order Id"     bigint not null
"CustomerName" text
"updated At"   timestamptz
"select"       text

[from src]
"Order Id"     = "Order Id"
"CustomerName" = "CustomerName"
"updated At"   = "updated At"
"select"       = "select"
XF
BATCH=150 write_job orders.conf orders upsert '"Sales Copy"."Orders Copy"' '"Order Id"' orders.xf \
	'"Sales"."Orders"' '"Order Id", "CustomerName", "updated At", "select"' \
	'incremental = "updated At"'
out=$("$CNS" check orders.conf 2>&1); ok $? "check: mixed-case incremental table with blanks in names"
out=$("$CNS" run orders.conf 2>&1); ok $? "run: the mixed-case table's primary key is its tie-breaker"
is "$out" "" "no complaint about a missing tie-breaker"
is "$(rows_of dst_n '"Sales Copy"."Orders Copy"')" "$(rows_of src_n '"Sales"."Orders"')" \
	"mixed case: target equals source"
q src_n 'INSERT INTO "Sales"."Orders" SELECT i, $$late $$ || i, timestamptz $$2026-01-01$$ + 20 * interval $$1 hour$$, NULL
    FROM generate_series(2001, 2300) i'
"$CNS" run orders.conf; ok $? "incremental rerun"
is "$(rows_of dst_n '"Sales Copy"."Orders Copy"')" "$(rows_of src_n '"Sales"."Orders"')" \
	"incremental rerun: target equals source, nothing lost at ties"
is "$(q dst_n "SELECT count(*) FROM consolidate.watermarks WHERE job = 'orders'")" 1 \
	"the watermark of the mixed-case source is stored"

# Unquoted parts fold to lower case, as in PostgreSQL: Sales.Orders is
# sales.orders, and the target Sales_Lower.T is sales_lower.t.
write_job fold.conf fold append Sales_Lower.T "" orders.xf Sales.Orders ""
"$CNS" run fold.conf; ok $? "unquoted table names fold to lower case"
is "$(rows_of dst_n sales_lower.t)" "$(rows_of src_n sales.orders)" "Sales.Orders read sales.orders"
write_job bad.conf bad append 'My Table' "" orders.xf Sales.Orders ""
err=$("$CNS" check bad.conf 2>&1); rc=$?
is "$rc" 3 "a table name with a blank and no quotes is a config error"
like "$err" 'bad table name "My Table".*blanks needs double quotes' "the message says why"
write_job blank.conf blank append '"My Table"' "" orders.xf '"Sales"."Orders"' ""
"$CNS" run blank.conf; ok $? "a quoted table name with a blank is created and loaded"
is "$(q dst_n 'SELECT count(*) FROM "My Table"')" 2300 "\"My Table\" holds every row"

# ---- 63-byte names: the target keeps its rows, no DROP of it ----
q src_n "CREATE TABLE long_src (id int PRIMARY KEY, v text);
  INSERT INTO long_src SELECT i, 'v' || i FROM generate_series(1, 3000) i"
cat > long.xf <<'XF'
[schema]
id bigint not null
v  text

[from src]
id = id
v  = v
XF
N63=t63_$(printf 'x%.0s' $(seq 59))
U63=$(printf 'ü%.0s' $(seq 31))x
is "${#N63}:$(printf '%s' "$U63" | wc -c)" "63:63" "the long names are 63 bytes"
for name in "$N63" "$U63"; do
	q dst_n "CREATE TABLE \"$name\" (id bigint PRIMARY KEY, v text);
	  INSERT INTO \"$name\" SELECT -i, 'old' FROM generate_series(1, 10) i;
	  INSERT INTO public.protected SELECT 'public.' || quote_ident('$name')"
done
# A table named like a shadow but without the marker is not ours: it must
# survive; one with the marker of this target is a leftover and goes.
q dst_n "CREATE TABLE \"${N63:0:45}_cns_000000000000\" (x int);
  CREATE TABLE leftover (x int);
  DO \$\$ BEGIN EXECUTE format('COMMENT ON TABLE leftover IS %L',
    'consolidate replace shadow of table ' || '\"$N63\"'::regclass::oid || ' run 0'); END \$\$"
off=$(log_size)
CREATE=no write_job long_r.conf long_r replace "\"$N63\"" "" long.xf long_src ""
out=$("$CNS" run long_r.conf 2>&1); ok $? "replace into a 63-byte table name"
is "$(rows_of dst_n "\"$N63\"")" "$(rows_of src_n long_src)" "replace: the 63-byte target holds the source's rows"
CREATE=no write_job long_u.conf long_u upsert "\"$U63\"" id long.xf long_src ""
"$CNS" run long_u.conf; ok $? "upsert into a 63-byte UTF-8 table name"
is "$(q dst_n "SELECT count(*) FROM \"$U63\"")" 3010 "upsert: the 63-byte target kept its rows and got the new ones"
# Rows the target refuses are isolated in the per-run staging table.
q dst_n "ALTER TABLE \"$U63\" ADD CONSTRAINT no_x CHECK (v NOT LIKE '%x') NOT VALID"
q src_n "UPDATE long_src SET v = v || 'x' WHERE id IN (77, 2500); UPDATE long_src SET v = 'changed' WHERE id = 1"
sed -i 's/^\[job\]$/&\nmax_rejects = 5/' long_u.conf
"$CNS" run long_u.conf; ok $? "upsert with two rows the target refuses, under max_rejects"
is "$(q dst_n "SELECT count(*) || ' ' || count(*) FILTER (WHERE v LIKE '%x') || ' ' || max(v) FILTER (WHERE id = 1) FROM \"$U63\"")" \
	"3010 0 changed" "the refused rows stay out, the other changes arrive"
q src_n "UPDATE long_src SET v = rtrim(v, 'x') WHERE id IN (77, 2500)"
"$CNS" run long_r.conf; ok $? "replace again"
is "$(rows_of dst_n "\"$N63\"")" "$(rows_of src_n long_src)" "second replace: exact"
drops=$(server_log "$off" | grep -a 'statement:' | tr ';' '\n' | grep -a -i 'DROP TABLE')
ok "$(printf '%s\n' "$drops" | grep -a -c -F "\"$N63\"" | grep -qx 0; echo $?)" \
	"no DROP statement names the 63-byte target"
ok "$(printf '%s\n' "$drops" | grep -a -c -F "\"$U63\"" | grep -qx 0; echo $?)" \
	"no DROP statement names the 63-byte UTF-8 target"
is "$(q dst_n "SELECT to_regclass('\"${N63:0:45}_cns_000000000000\"') IS NOT NULL, to_regclass('leftover') IS NULL")" \
	"t	t" "a look-alike without the marker survives; a marked leftover of this target is dropped"
is "$(q dst_n "SELECT count(*) FROM pg_class c JOIN pg_description d ON d.objoid = c.oid
  WHERE d.description LIKE 'consolidate replace shadow%'")" 0 "no shadow is left after successful runs"

# ---- every built-in base type, as a value and as a key ----
# The types are the server's own list; these are left out, with why:
#   pg_node_tree, pg_ndistinct, pg_dependencies, pg_mcv_list,
#   pg_brin_bloom_summary, pg_brin_minmax_multi_summary: the server
#     accepts no value of them ("cannot accept a value of type"); only it
#     makes them, for its catalogs and statistics;
#   gtsvector: an internal GiST storage type without an input function;
#   array types (_name): arrays of the types here; int4[], text[],
#     json[] and point[] stand for them.
EXCLUDED="'pg_node_tree','pg_ndistinct','pg_dependencies','pg_mcv_list',
  'pg_brin_bloom_summary','pg_brin_minmax_multi_summary','gtsvector'"
# Sample values, "type|value", at least two distinct ones per type; the
# first two of box have the same area, which box's own "=" calls equal.
cat > samples.txt <<'S'
aclitem|postgres=r/postgres
aclitem|postgres=w/postgres
aclitem|postgres=arwd/postgres
bit|0
bit|1
bool|true
bool|false
box|(1,1),(0,0)
box|(2,2),(1,1)
box|(3,3),(0,0)
bpchar|a
bpchar|b c
bpchar|d
bytea|\x00
bytea|\xdeadbeef
bytea|\x
char|a
char|b
char|c
cid|1
cid|2
cid|4294967295
cidr|10.0.0.0/8
cidr|192.168.0.0/16
cidr|::1/128
circle|<(0,0),1>
circle|<(1,1),1>
circle|<(2,2),3>
date|2026-01-01
date|0044-03-15 BC
date|infinity
float4|1.5
float4|3.4028235e+38
float4|NaN
float8|1.5
float8|1e-308
float8|-Infinity
inet|127.0.0.1
inet|::1
inet|10.1.2.3/8
int2|1
int2|-32768
int2|32767
int4|1
int4|-2147483648
int4|2147483647
int8|1
int8|-9223372036854775808
int8|9223372036854775807
interval|1 day
interval|1 mon 2 days 03:04:05
interval|-1 year
json|{"a": 1}
json|{"a":1}
json|[1, 2,  3]
jsonb|{"a": 1}
jsonb|[1, 2, 3]
jsonb|null
jsonpath|$.a
jsonpath|$[*]
jsonpath|$.a ? (@ > 1)
line|{1,-1,0}
line|{1,1,1}
line|{0,1,2}
lseg|[(0,0),(1,1)]
lseg|[(1,1),(0,0)]
lseg|[(0,1),(1,0)]
macaddr|08:00:2b:01:02:03
macaddr|08:00:2b:01:02:04
macaddr|ff:ff:ff:ff:ff:ff
macaddr8|08:00:2b:01:02:03:04:05
macaddr8|08:00:2b:01:02:03:04:06
macaddr8|ff:ff:ff:ff:ff:ff:ff:ff
money|1.00
money|-2.50
money|1000.99
name|alpha
name|Beta
name|gamma delta
numeric|1.5
numeric|NaN
numeric|-1e-20
numeric|Infinity
oid|1
oid|4294967295
oid|42
path|[(0,0),(1,1)]
path|((0,0),(1,1),(2,0))
path|[(1,1),(2,2)]
pg_lsn|0/0
pg_lsn|16/B374D848
pg_lsn|FFFFFFFF/FFFFFFFF
pg_snapshot|10:20:10,14,15
pg_snapshot|10:10:
pg_snapshot|1:2:1
point|(0,0)
point|(1.5,-2)
point|(1e+10,3)
polygon|((0,0),(1,1),(1,0))
polygon|((1,0),(0,0),(1,1))
polygon|((1,1),(2,2),(3,1))
refcursor|c1
refcursor|c 2
refcursor|C3
regclass|pg_class
regclass|pg_type
regclass|pg_proc
regcollation|"C"
regcollation|"POSIX"
regcollation|"default"
regconfig|english
regconfig|simple
regconfig|french
regdictionary|simple
regdictionary|english_stem
regdictionary|french_stem
regnamespace|public
regnamespace|pg_catalog
regnamespace|information_schema
regoper|||/
regoper||/
regoper|^@
regoperator|+(integer,integer)
regoperator|-(integer,integer)
regoperator|*(integer,integer)
regproc|now
regproc|pg_backend_pid
regproc|version
regprocedure|abs(integer)
regprocedure|abs(bigint)
regprocedure|lower(text)
regrole|postgres
regrole|pg_monitor
regrole|pg_read_all_data
regtype|integer
regtype|text
regtype|json
text|a
text|ü "q" \ z
text|
tid|(0,1)
tid|(1,2)
tid|(4294967295,65535)
time|00:00:00
time|23:59:59.999999
time|24:00:00
timestamp|2026-06-01 12:00:00
timestamp|infinity
timestamp|1999-01-08 04:05:06.789
timestamptz|2026-06-01 12:00:00+02
timestamptz|-infinity
timestamptz|1999-01-08 04:05:06.789+00
timetz|12:00:00+02
timetz|00:00:00-14
timetz|23:59:59.999999+14:59
tsquery|a & b
tsquery|a | !c
tsquery|'x y':*
tsvector|a b
tsvector|'x y' z:1
tsvector|c
txid_snapshot|10:20:10,14,15
txid_snapshot|10:10:
txid_snapshot|1:2:1
uuid|00000000-0000-0000-0000-000000000000
uuid|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11
uuid|ffffffff-ffff-ffff-ffff-ffffffffffff
varbit|1010
varbit|0
varbit|
varchar|a
varchar|b
varchar|c d
xid|1
xid|4294967295
xid|3
xid8|1
xid8|18446744073709551615
xid8|3
xml|<a/>
xml|<b x="1">t</b>
xml|text
int2vector|1 2
int2vector|3
int2vector|
oidvector|1 2
oidvector|3
oidvector|
int4[]|{1,2}
int4[]|{}
int4[]|{NULL,3}
text[]|{a,"b c"}
text[]|{}
text[]|{"x,y"}
json[]|{"{\"a\": 1}"}
json[]|{"{\"a\":1}"}
json[]|{}
point[]|{"(0,0)"}
point[]|{"(1,1)","(2,2)"}
point[]|{}
S
{
	echo "CREATE TABLE samples (typ text, n serial, val text);"
	while IFS= read -r line; do
		printf "INSERT INTO samples (typ, val) VALUES (\$t\$%s\$t\$, \$v\$%s\$v\$);\n" \
			"${line%%|*}" "${line#*|}"
	done < samples.txt
} > samples.sql
q src_n "$(cat samples.sql)"
q dst_n "$(cat samples.sql)"
mapfile -t TYPES < <(q src_n "SELECT typname FROM pg_type
  WHERE typtype = 'b' AND typnamespace = 'pg_catalog'::regnamespace
    AND typname NOT LIKE '\_%' AND typname NOT IN ($EXCLUDED)
  UNION ALL SELECT unnest(ARRAY['int4[]', 'text[]', 'json[]', 'point[]'])
  ORDER BY 1")
missing=$(q src_n "SELECT string_agg(t, ', ') FROM unnest(ARRAY[$(printf "'%s'," "${TYPES[@]}" | sed 's/,$//')]) t
  WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.typ = t)")
is "$missing" "" "every built-in base type (${#TYPES[@]}) has sample values"

# Every type as a key column.  An index has at most 32 columns, so the
# types go in groups, each a table whose key is every column of the
# group; the target's unique index takes a column as it is where the
# server allows a unique index on the type alone, else its text form.
q dst_n "CREATE SCHEMA \"Dst Schema\""
plain=() bytext=() nokey=()
for t in "${TYPES[@]}"; do
	# An index the type's values can go into: json[] takes the index
	# (arrays have a class) but not two rows (json has no ordering).
	fill="INSERT INTO x SELECT val::$t FROM samples WHERE typ = '$t'"
	if q dst_n "CREATE TEMP TABLE x (k $t); CREATE UNIQUE INDEX ON x (k); $fill" 2>/dev/null; then
		plain+=("$t")
	elif q dst_n "CREATE TEMP TABLE x (k $t); CREATE UNIQUE INDEX ON x ((k::text)); $fill" 2>/dev/null; then
		bytext+=("$t")
	else
		nokey+=("$t")
	fi
done
is "$(printf '%s,' "${bytext[@]}" | grep -c 'json,.*point,.*xml')" 1 \
	"the server takes ${#plain[@]} types as a unique key, ${#bytext[@]} (json, point, xml among them) through their text form"
echo "# no unique key of any form for: ${nokey[*]}"
KEYTYPES=("${plain[@]}" "${bytext[@]}")
g=0
for ((i = 0; i < ${#KEYTYPES[@]}; i += 25)); do
	g=$((g + 1))
	grp=("${KEYTYPES[@]:i:25}")
	{
		echo "CREATE TABLE \"keys $g\" (v int"
		for t in "${grp[@]}"; do echo ", \"c $t\" $t NOT NULL"; done
		echo ");"
	} > kg.sql
	q src_n "$(sed 's/ NOT NULL//' kg.sql); INSERT INTO \"keys $g\" (v) SELECT generate_series(1, 3);
	  $(for t in "${grp[@]}"; do
		echo "UPDATE \"keys $g\" a SET \"c $t\" = s.val::$t FROM (SELECT val, row_number() OVER (ORDER BY n) AS i, count(*) OVER () AS m FROM samples WHERE typ = '$t') s WHERE s.i = (a.v - 1) % s.m + 1;"
	  done)"
	idx="" key=""
	for t in "${grp[@]}"; do
		if printf '%s\n' "${plain[@]}" | grep -qxF -- "$t"; then idx+=", \"c $t\""; else idx+=", (\"c $t\"::text)"; fi
		key+=", \"c $t\""
	done
	q dst_n "$(cat kg.sql) CREATE UNIQUE INDEX ON \"keys $g\" (${idx#, })"
	cols=()
	for t in "${grp[@]}"; do cols+=("c $t"); done
	gen_xf "v integer" " not null" "${cols[@]}" > kg$g.xf
	CREATE=no write_job ku$g.conf ku$g upsert "\"keys $g\"" "${key#, }" kg$g.xf "\"keys $g\"" ""
	"$CNS" run ku$g.conf; ok $? "upsert keyed by ${grp[*]}"
	is "$(rows_of dst_n "\"keys $g\"")" "$(rows_of src_n "\"keys $g\"")" "upsert, key group $g: exact"
	q src_n "UPDATE \"keys $g\" SET v = v + 1000"
	"$CNS" run ku$g.conf; ok $? "upsert rerun, key group $g"
	is "$(rows_of dst_n "\"keys $g\"")" "$(rows_of src_n "\"keys $g\"")" "upsert rerun, key group $g: every key found again"
	q src_n "UPDATE \"keys $g\" SET v = v + 1000"
	CREATE=no write_job kr$g.conf kr$g replace "\"keys $g\"" "${key#, }" kg$g.xf "\"keys $g\"" ""
	"$CNS" run kr$g.conf; ok $? "keyed replace, key group $g"
	is "$(rows_of dst_n "\"keys $g\"")" "$(rows_of src_n "\"keys $g\"")" "keyed replace, key group $g: exact"
done

# One wide table of every type as value columns, "Dst Schema"."All Types".
{
	echo "CREATE TABLE \"All Types\" (id int PRIMARY KEY"
	for t in "${TYPES[@]}"; do echo ", \"c $t\" $t"; done
	echo "); INSERT INTO \"All Types\" (id) SELECT generate_series(1, 4);"
	for t in "${TYPES[@]}"; do
		echo "UPDATE \"All Types\" a SET \"c $t\" = s.val::$t FROM (SELECT val, row_number() OVER (ORDER BY n) AS i FROM samples WHERE typ = '$t') s WHERE s.i = a.id;"
	done
} > all.sql
q src_n "$(cat all.sql)"
q dst_n "$(sed 's/^CREATE TABLE "All Types"/CREATE TABLE "Dst Schema"."All Types"/; /^); INSERT/s/ INSERT.*//; /^UPDATE/d' all.sql)"
q dst_n "CREATE TABLE \"Dst Schema\".\"All Types Append\" (LIKE \"Dst Schema\".\"All Types\");
  INSERT INTO \"Dst Schema\".\"All Types\" (id) VALUES (-1);
  INSERT INTO public.protected VALUES ('\"Dst Schema\".\"All Types\"')"
cols=()
for t in "${TYPES[@]}"; do cols+=("c $t"); done
gen_xf "id integer not null" "" "${cols[@]}" > all.xf
CREATE=no write_job all_a.conf all_a append '"Dst Schema"."All Types Append"' "" all.xf '"All Types"' ""
"$CNS" run all_a.conf; ok $? "append: every type as a value column"
is "$(rows_of dst_n '"Dst Schema"."All Types Append"')" "$(rows_of src_n '"All Types"')" "append: every type arrives exactly"
CREATE=no write_job all_r.conf all_r replace '"Dst Schema"."All Types"' "" all.xf '"All Types"' ""
"$CNS" run all_r.conf; ok $? "replace into \"Dst Schema\".\"All Types\""
is "$(rows_of dst_n '"Dst Schema"."All Types"')" "$(rows_of src_n '"All Types"')" "replace: every type arrives exactly"
CREATE=no write_job all_u.conf all_u upsert '"Dst Schema"."All Types"' id all.xf '"All Types"' ""
"$CNS" run all_u.conf; ok $? "upsert with every type as a compared column (json, xml, point, box, ...)"
# Rotate every column's values between rows: each compared column changes
# (box to one of the same area, json to the same keys written otherwise).
q src_n "UPDATE \"All Types\" a SET $(for t in "${TYPES[@]}"; do printf '"c %s" = b."c %s", ' "$t" "$t"; done | sed 's/, $//')
  FROM \"All Types\" b WHERE b.id = CASE WHEN a.id = 1 THEN 2 WHEN a.id = 2 THEN 1 ELSE a.id END"
"$CNS" run all_u.conf; ok $? "upsert rerun after every column changed"
is "$(rows_of dst_n '"Dst Schema"."All Types"')" "$(rows_of src_n '"All Types"')" "upsert: every change is seen, whatever the type"
is "$(q dst_n "SELECT \"c json\"::text || ' ' || \"c box\"::text FROM \"Dst Schema\".\"All Types\" WHERE id = 1")" \
   '{"a":1} (2,2),(1,1)' "json and box changes the type's own = would miss are written"
CREATE=no write_job all_rk.conf all_rk replace '"Dst Schema"."All Types"' id all.xf '"All Types"' ""
"$CNS" run all_rk.conf; ok $? "keyed replace with every type as a compared column"
is "$(rows_of dst_n '"Dst Schema"."All Types"')" "$(rows_of src_n '"All Types"')" "keyed replace: exact"

# json as a key with create = yes: no btree class, so the key is a unique
# index on its text form, which ON CONFLICT names.
cat > jkey.xf <<'XF'
[schema]
k json not null
v integer

[from src]
k = k
v = v
XF
q src_n 'CREATE TABLE "k json" (k json, v int);
  INSERT INTO "k json" SELECT val::json, n FROM samples WHERE typ = $$json$$'
write_job jk.conf jk upsert public.jkey k jkey.xf '"k json"' ""
"$CNS" run jk.conf; ok $? "create = yes with a json key"
"$CNS" run jk.conf; ok $? "and an upsert rerun into it"
is "$(rows_of dst_n public.jkey)" "$(rows_of src_n '"k json"')" "json key: exact"

# ---- two replace runs of one table ----
q src_n "CREATE TABLE big (id int PRIMARY KEY, v text);
  INSERT INTO big SELECT i, 'big ' || i FROM generate_series(1, 20000) i;
  CREATE VIEW slow AS SELECT id, v FROM big
    WHERE CASE WHEN id % 2000 = 0 THEN pg_sleep(0.3) IS NOT NULL ELSE true END;
  CREATE TABLE other (id int PRIMARY KEY, v text);
  INSERT INTO other SELECT i, 'other ' || i FROM generate_series(100001, 105000) i"
q dst_n "CREATE TABLE conc (id bigint PRIMARY KEY, v text);
  INSERT INTO conc VALUES (-1, 'old')"
CREATE=no write_job c1.conf c1 replace conc "" long.xf slow ""
CREATE=no write_job c2.conf c2 replace conc "" long.xf other ""
"$CNS" run c1.conf > c1.out 2>&1 &
c1=$!
for _ in $(seq 100); do
	[ "$(q dst_n "SELECT count(*) FROM pg_description WHERE description LIKE
	  'consolidate replace shadow of table ' || 'conc'::regclass::oid || ' run %'")" = 1 ] && break
	sleep 0.1
done

err=$("$CNS" run c2.conf 2>&1); rc=$?
is "$rc" 75 "a second replace of a table being replaced is refused"
like "$err" 'target table "conc" is being replaced by another run' "the refusal says why"
shadows() {
	q dst_n "SELECT count(*) FROM pg_description WHERE description LIKE
	  'consolidate replace shadow of table ' || 'conc'::regclass::oid || ' run %'"
}
is "$(shadows)" 1 "the refused run made no shadow and dropped none"
wait "$c1"; ok $? "the first replace run succeeds"
is "$(rows_of dst_n conc)" "$(rows_of src_n big)" "the target holds exactly the first run's rows"
"$CNS" run c2.conf; ok $? "once the first run ended, the other job replaces the table"
is "$(rows_of dst_n conc)" "$(rows_of src_n other)" "and the target holds exactly its rows"
# A replace run that fails drops the shadow it made as it ends.
q src_n "CREATE VIEW failing AS SELECT id, v FROM other WHERE 1 / (id - 104000) <> 0"
CREATE=no write_job c3.conf c3 replace conc "" long.xf failing ""
err=$("$CNS" run c3.conf 2>&1); rc=$?
is "$rc" 1 "a replace run whose source fails"
is "$(shadows)" 0 "leaves no shadow behind"
is "$(rows_of dst_n conc)" "$(rows_of src_n other)" "and the old rows in place"

done_testing
