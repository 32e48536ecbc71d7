#!/usr/bin/env bash
# What a run commits when rows are refused: with max_rejects = 0 no chunk
# that holds a bad row is committed, in every mode, wherever the bad row
# falls (first, middle, last chunk); a rejects file on a full filesystem
# stops the run before the refused row's chunk commits, and every record
# (exit status, consolidate.runs, runs.jsonl) says failed with the real
# reason; a log folder on a full filesystem fails the run the same way.
#
# Mounts small tmpfs filesystems (needs root) and unmounts them at the end.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh r_src
createdb_fresh r_dst
N=3000
B=200
q r_src "CREATE TABLE ev (id int PRIMARY KEY, updated_at timestamptz NOT NULL,
           payload text)"
reset_source() {	# reset_source BAD-ID...
	q r_src "TRUNCATE ev; INSERT INTO ev SELECT i,
	           timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
	           i::text FROM generate_series(1, $N) i"
	for b in "$@"; do
		q r_src "UPDATE ev SET payload = 'bad$b' WHERE id = $b"
	done
}

cat > ev.xf <<'XF'
[schema]
id         integer not null
updated_at timestamptz
n          integer

[from ev]
id         = id
updated_at = updated_at
n          = cast(payload as integer)
XF

write_job() {	# write_job NAME MODE MAX_REJECTS [REJECTS_DIR [LOG_DIR]]
	local key="key = id" inc="incremental = updated_at"
	[ "$2" = append ] && key=""
	[ "$2" = replace ] && inc=""
	cat > "$1.conf" <<JOB
[job]
name        = $1
batch_size  = $B
max_rejects = $3
transforms  = ev.xf
log_dir     = ${5:-$TMPDIR_T/log}
lock_dir    = $TMPDIR_T/lock
rejects_dir = ${4:-$TMPDIR_T/rejects}

[target]
conninfo = $(conninfo r_dst)
table    = $1
$key
mode     = $2

[source ev]
driver   = postgres
conninfo = $(conninfo r_src)
table    = ev
$inc
JOB
}

last_status() {	# last_status JOB: the newest status in consolidate.runs
	q r_dst "SELECT status FROM consolidate.runs WHERE job = '$1'
	         ORDER BY started_at DESC LIMIT 1"
}
jsonl_status() {	# jsonl_status LOGDIR JOB: the newest record's status
	tail -n 1 "$1/$2/runs.jsonl" 2>/dev/null |
		sed -n 's/.*"status":"\([a-z_]*\)","exit_code.*/\1/p'
}

# -- max_rejects = 0: a bad row in the first, a middle and the last chunk --
for mode in append upsert replace; do
	for bad in 1 1437 $N; do
		job="z_${mode}_$bad"
		reset_source "$bad"
		write_job "$job" "$mode" 0
		q r_dst "DROP TABLE IF EXISTS $job"
		if [ "$mode" = replace ]; then
			# The old table must survive untouched.
			q r_dst "CREATE TABLE $job (id integer PRIMARY KEY,
			           updated_at timestamptz, n integer);
			         INSERT INTO $job VALUES (-1, now(), -1)"
		fi
		out=$("$CNS" run "$job.conf" 2>&1); rc=$?
		is "$rc" 1 "$mode, max_rejects = 0, bad row $bad: exit 1"
		like "$out" "1 rows were rejected, more than max_rejects = 0" \
			"$mode, bad row $bad: the message names the limit"
		chunk_start=$(( (bad - 1) / B * B + 1 ))
		if [ "$mode" = replace ]; then
			is "$(q r_dst "SELECT string_agg(id::text, ',') FROM $job")" -1 \
				"replace, bad row $bad: the old table is untouched"
		else
			got=$(q r_dst "SELECT count(*) || ' ' || coalesce(max(id), 0)
			               || ' ' || count(*) FILTER (WHERE id >= $chunk_start)
			               FROM $job")
			set -- $got
			is "$3" 0 "$mode, bad row $bad: nothing of its chunk (from row $chunk_start) is committed"
			# Whole chunks only: what is there is a prefix.
			is "$1 $2" "$2 $2" "$mode, bad row $bad: the target is a prefix of whole chunks"
			# The watermark orders by (updated_at, id).
			wm=$(q r_dst "SELECT coalesce((SELECT value[2] FROM consolidate.watermarks
			              WHERE job = '$job'), '0')")
			ok $(( ${wm:-0} < bad ? 0 : 1 )) "$mode, bad row $bad: the watermark (row ${wm:-none}) stays before it"
		fi
		is "$(last_status "$job")" failed "$mode, bad row $bad: consolidate.runs says failed"
		is "$(jsonl_status "$TMPDIR_T/log" "$job")" failed "$mode, bad row $bad: runs.jsonl says failed"
		# Fixed, the next run loads everything.
		q r_src "UPDATE ev SET payload = id::text WHERE id = $bad"
		"$CNS" run "$job.conf" >/dev/null 2>&1
		is "$(q r_dst "SELECT count(*) || ' ' || count(DISTINCT id) FROM $job")" "$N $N" \
			"$mode, bad row $bad fixed: the next run loads every row once"
	done
done

# -- the rejects folder on a full filesystem --
mnt=$TMPDIR_T/full
mkdir -p "$mnt"
umount_all() { umount "$mnt" 2>/dev/null; umount "$TMPDIR_T/fulllog" 2>/dev/null; }
trap umount_all EXIT
if ! mount -t tmpfs -o size=64k tmpfs "$mnt"; then
	echo "not ok - could not mount a tmpfs (needs root)"
	exit 1
fi
mkdir -p "$mnt/rejects/full_upsert" "$mnt/rejects/full_append"
dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
for mode in upsert append; do
	job="full_$mode"
	# Every 20th row is bad: 150 refused rows spread over all chunks.
	reset_source $(seq 20 20 $N)
	write_job "$job" "$mode" "100%" "$mnt/rejects"
	q r_dst "DROP TABLE IF EXISTS $job"
	out=$("$CNS" run "$job.conf" 2>&1); rc=$?
	is "$rc" 1 "$mode, rejects on a full disk: exit 1"
	like "$out" 'could not write the rejects file .*: No space left on device' \
		"$mode, rejects on a full disk: the message gives the real reason"
	ok $(printf '%s' "$out" | grep -q 'Success'; echo $(( 1 - $? ))) \
		"$mode, rejects on a full disk: no message ends in \"Success\""
	in_target=$(q r_dst "SELECT count(*) FROM $job WHERE id % 20 = 0" 2>/dev/null)
	is "${in_target:-0}" 0 "$mode: no refused row is in the target"
	maxid=$(q r_dst "SELECT coalesce(max(id), 0) FROM $job" 2>/dev/null)
	ok $(( ${maxid:-0} < 20 ? 0 : 1 )) "$mode: nothing past the first refused row is committed (max id ${maxid:-0})"
	is "$(last_status "$job")" failed "$mode, full disk: consolidate.runs says failed"
	is "$(jsonl_status "$TMPDIR_T/log" "$job")" failed "$mode, full disk: runs.jsonl says failed"
done

# -- the log folder on a full filesystem: room for the marker and one page
# of log lines, then the disk is full mid-run --
logmnt=$TMPDIR_T/fulllog
mkdir -p "$logmnt"
mount -t tmpfs -o size=64k tmpfs "$logmnt"
mkdir -p "$logmnt/log/logfull"
dd if=/dev/zero of="$logmnt/fill" bs=4k 2>/dev/null
rm -f "$logmnt/fill"
dd if=/dev/zero of="$logmnt/fill" bs=4k count=13 2>/dev/null
reset_source
write_job logfull upsert 0 "$TMPDIR_T/rejects" "$logmnt/log"
# Small chunks: more log lines than one page holds.
sed -i 's/^batch_size .*/batch_size  = 40/' logfull.conf
q r_dst "DROP TABLE IF EXISTS logfull"
out=$("$CNS" run logfull.conf 2>&1); rc=$?
is "$rc" 1 "log folder on a full disk: exit 1"
like "$out" 'could not write the run log .*: No space left on device' \
	"log folder on a full disk: the message gives the real reason"
is "$(last_status logfull)" failed "log folder on a full disk: consolidate.runs says failed"
ok $(grep -q '"status":"ok"' "$logmnt/log/logfull/runs.jsonl" 2>/dev/null; echo $(( 1 - $? ))) \
	"log folder on a full disk: runs.jsonl holds no ok record"
is "$(q r_dst "SELECT count(*) || ' ' || count(DISTINCT id) FROM logfull")" "$N $N" \
	"log folder on a full disk: the rows themselves are loaded once"
umount_all
trap - EXIT
done_testing
