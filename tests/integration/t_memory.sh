#!/usr/bin/env bash
# Memory is bounded by the chunk, not by the table: the peak RSS of a
# 200,000-row run stays near that of a 20,000-row run.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh mem
q mem "CREATE TABLE big (id int, a text, b text, c numeric, d timestamptz)"
q mem "INSERT INTO big SELECT i, repeat('x', 40) || i, md5(i::text), i / 7.0,
         timestamptz '2026-01-01' + i * interval '1 second'
       FROM generate_series(1, 200000) i"
cat > big.xf <<'XF'
[schema]
id bigint not null
a  text
b  text
c  numeric
d  timestamptz
XF
run_rows() {	# run_rows N -> peak RSS in kB
	cat > job.conf <<JOB
[job]
name       = big_$1
batch_size = 5000
transforms = big.xf
log_dir    = $TMPDIR_T/log
lock_dir   = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
[target]
conninfo = $(conninfo mem)
table    = big_copy_$1
[source big]
driver   = postgres
conninfo = $(conninfo mem)
table    = big
where    = id <= $1
JOB
	/usr/bin/time -f '%M' -o rss.txt "$CNS" run job.conf || echo "run failed" >&2
	cat rss.txt
}
small=$(run_rows 20000)
large=$(run_rows 200000)
echo "# peak RSS: 20,000 rows ${small} kB, 200,000 rows ${large} kB"
is "$(q mem 'SELECT count(*) FROM big_copy_200000')" 200000 "200,000 rows loaded"
ok $(( large <= small * 12 / 10 + 2048 ? 0 : 1 )) "peak RSS at 200,000 rows (${large} kB) is within 20% of 20,000 rows (${small} kB)"
done_testing
