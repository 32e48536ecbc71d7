#!/usr/bin/env bash
# What a person reads: each error said once (no DETAIL or HINT that
# repeats the message), one end line per run in the log, a reject summary
# that reads as a sentence, the rejects-reading example of consolidate(1)
# working on long values, and `version` naming every library.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh m_dst

# ---- configuration errors: each problem once ----
cat > one.conf <<'JOB'
[job]
transforms = t.xf
batchsize = 5
[target]
conninfo = dbname=x
table = t
[source a]
driver = csv
path = a.csv
JOB
err=$("$CNS" check one.conf 2>&1); rc=$?
is "$rc" 3 "one bad key: exit 3"
is "$(printf '%s\n' "$err" | grep -c 'unknown key "batchsize"')" 1 \
	"one bad key: the problem is said once"
is "$(printf '%s\n' "$err" | grep -c '^DETAIL')" 0 \
	"one bad key: no DETAIL that repeats it"
is "$(printf '%s\n' "$err" | grep -c 'did you mean "batch_size"')" 1 \
	"one bad key: the suggestion is said once"

cat > two.conf <<'JOB'
[job]
transforms = t.xf
batchsize = 5
parallel = 0
[target]
conninfo = dbname=x
table = t
[source a]
driver = csv
path = a.csv
JOB
err=$("$CNS" check two.conf 2>&1)
for p in 'unknown key "batchsize"' 'for "parallel"'; do
	is "$(printf '%s\n' "$err" | grep -c "$p")" 1 \
		"two problems: $p is said exactly once"
done

# ---- transform errors: said once, quoted as a compiler does ----
printf '[schema]\nid bigint not null\nv  txt\n[from a]\nid = 1\nv = v\n' > bad1.xf
printf '[schema]\nid bigintt not null\nv  txt\n[from a]\nid = 1\nv = v\n' > bad2.xf
for n in 1 2; do
	sed "s/^transforms = t.xf/transforms = bad$n.xf/" one.conf | sed '/^batchsize/d' > bad$n.conf
	err=$("$CNS" check bad$n.conf 2>&1)
	is "$(printf '%s\n' "$err" | grep -c 'unknown type "txt"')" 1 \
		"$n transform error(s): \"unknown type\" of v is said once"
	is "$(printf '%s\n' "$err" | grep -cE '^(DETAIL|HINT)')" 0 \
		"$n transform error(s): no DETAIL or HINT that repeats it"
	is "$(printf '%s\n' "$err" | grep -c 'did you mean "text"')" 1 \
		"$n transform error(s): the suggestion is said once"
	like "$err" $'\n  v  txt\n     \\^~~ did you mean' \
		"$n transform error(s): the line, and a caret under the word"
done

# ---- a failed run: one end line ----
cat > t.xf <<'XF'
[schema]
id bigint not null
v  text
[from a]
id = cast(id as bigint)
v  = v
XF
printf 'id,v\n1,a\n' > a.csv
cat > down.conf <<JOB
[job]
name        = down
transforms  = t.xf
retries     = 0
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
lock        = local
[target]
conninfo = host=127.0.0.1 port=1 dbname=x connect_timeout=5
table    = t
[source a]
driver = csv
path   = a.csv
JOB
"$CNS" run down.conf >/dev/null 2>&1
is "$?" 1 "a run whose target is down fails with exit 1"
log=$(ls log/down/*.log | tail -n 1)
is "$(grep -c 'stage=end' "$log")" 1 "the failed run's log has one end line"
like "$(grep 'stage=end' "$log")" 'run failed: could not connect to the target.*status=failed' \
	"the end line gives the error and the status"

# ---- the reject summary, and reading the rejects file ----
big=$(head -c 200000 /dev/zero | tr '\0' 'x')
{
	printf 'id,v\n'
	printf '1,ok\n'
	printf 'abc,bad\n'
	printf '%s,long\n' "$big"
	printf '4,"comma, ""quote""\nand newline"\n'
} > a.csv
cat > rej.conf <<JOB
[job]
name        = rej
transforms  = t.xf
max_rejects = 100%
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
[target]
conninfo = $(conninfo m_dst)
table    = t
[source a]
driver = csv
path   = a.csv
JOB
out=$("$CNS" run --summary rej.conf 2>&1); rc=$?
is "$rc" 0 "a run with rejects under max_rejects succeeds"
like "$out" 'a id: 2 rows: invalid bigint "\.\.\." \(first: row [0-9]+, invalid bigint "abc"\)' \
	"the summary says source, column, count, reason and the first example"
if printf '%s\n' "$out" | grep -q 'column "\.\.\."'; then
	ok 1 "the summary does not repeat the column as 'column \"...\"'"
else
	ok 0 "the summary does not repeat the column as 'column \"...\"'"
fi

rejfile=$(ls rejects/rej/*.csv.gz | head -n 1)
# The example exactly as consolidate(1) prints it.
script=$(sed -n '/^python3 -c .import csv,gzip,json,sys/,/FILE$/p' \
	"$ROOT/man/consolidate.1" | sed -e '1s/^python3 -c .//' -e '$s/. FILE$//')
[ -n "$script" ]; ok $? "consolidate(1) has the rejects-reading example"
read_out=$(python3 -c "$script" "$rejfile" 2>&1); rc=$?
is "$rc" 0 "the example reads a rejects file with a 200,000-byte value"
is "$(printf '%s\n' "$read_out" | grep -c 'invalid bigint')" 2 \
	"the example prints both rejected rows"

# ---- version ----
v=$("$CNS" version)
for lib in libpq zlib libcsv jansson unixODBC; do
	like "$v" "$lib [0-9]" "version names $lib with its version"
done

done_testing
