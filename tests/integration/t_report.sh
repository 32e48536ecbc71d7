#!/usr/bin/env bash
# consolidate report: one self-contained HTML page with the verdicts of
# status and, per job, charts of its last runs, rendered by a real browser
# (headless Chromium) to check that it loads without console errors and
# that every chart is drawn.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

createdb_fresh rp_src
createdb_fresh rp_dst
q rp_src "CREATE TABLE t (id int PRIMARY KEY, v text)"
q rp_src "INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 300) i"
mkdir -p jobs
cat > jobs/t.xf <<'XF'
[schema]
id integer not null
v  text
[from pg]
id = id
v  = v
[from csv]
id = cast(id as integer)
v  = v
XF
write_job() {	# write_job NAME CONNINFO
	cat > "jobs/$1.conf" <<JOB
[job]
name        = $1
schedule    = */10 * * * *
transforms  = t.xf
max_rejects = 100%
log_dir     = $TMPDIR_T/log
lock_dir    = $TMPDIR_T/lock
rejects_dir = $TMPDIR_T/rejects
retries     = 0
[target]
conninfo = $2
table    = $1
mode     = replace
[source pg]
driver   = postgres
conninfo = $(conninfo rp_src)
table    = t
[source csv]
driver = csv
path   = $TMPDIR_T/in.csv
JOB
}
write_job sales "$(conninfo rp_dst)"
# Runs with a growing csv, one with rejected rows, one failed.
for n in 10 20 30; do
	{ echo id,v; seq 1001 $((1000 + n)) | sed 's/$/,x/'; } > in.csv
	"$CNS" run jobs/sales.conf >/dev/null 2>&1
done
{ echo id,v; echo 'abc,bad'; echo 'def,bad'; echo '2001,ok'; } > in.csv
"$CNS" run jobs/sales.conf >/dev/null 2>&1
write_job sales "host=127.0.0.1 port=1 dbname=x connect_timeout=5"
"$CNS" run jobs/sales.conf >/dev/null 2>&1
write_job sales "$(conninfo rp_dst)"
write_job idle "$(conninfo rp_dst)"
# A redrive in the history (a copy of the first run, of kind redrive, with
# a long duration): not one of the schedule's runs, so not drawn.
head -n 1 log/sales/runs.jsonl | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
r["run_id"] = r["run_id"] + "r"
r["kind"] = "redrive"
print(json.dumps(r, separators=(",", ":")))' >> log/sales/runs.jsonl
printf '[job]\nbogus = 1\n' > jobs/broken.conf

"$CNS" report jobs -o report.html; rc=$?
is "$rc" 0 "report writes the page"
page=$(cat report.html)
like "$page" '^<!DOCTYPE html>' "the page is HTML"
is "$(stat -c %a report.html)" 640 "the page is written with mode 0640"

# The same verdicts as status.
status=$("$CNS" status --json jobs)
for job in sales idle broken; do
	want=$(printf '%s' "$status" | python3 -c "import json,sys; print([j['verdict'] for j in json.load(sys.stdin)['jobs'] if j['job']=='$job' or j['file'].endswith('/$job.conf')][0])")
	like "$page" "href=\"#job-$job\">$job</a></td><td class=\"verdict $want\">$want<" \
		"report and status agree on $job: $want"
done
like "$page" 'could not connect to the target' "the failed run's first error line is listed"

# Self-contained: nothing loaded from elsewhere, no scripts.
if printf '%s' "$page" | grep -qiE '<script|<link|<img|<iframe|@import|url\(|(src|href)="[a-z]+:'; then
	ok 1 "the page loads nothing from elsewhere and runs no script"
else
	ok 0 "the page loads nothing from elsewhere and runs no script"
fi

# Rendered by a real browser.
browser=$(command -v chromium || command -v chromium-browser)
[ -n "$browser" ]; ok $? "headless Chromium is installed"
render() {	# render ARGS...: Chromium on the page, bounded in time
	timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu \
		--no-first-run --no-default-browser-check \
		--user-data-dir="$TMPDIR_T/chrome" --enable-logging=stderr \
		--v=0 "$@" "file://$TMPDIR_T/report.html"
}
dom=$(render --dump-dom 2>chrome.err)
ok $? "Chromium loads the page"
console=$(grep -E 'CONSOLE|Uncaught|ERROR:.*(html|svg)' chrome.err || true)
is "$console" "" "no console error while loading"
# Each chart of the job with runs is drawn with its marks: one bar per
# run in the duration and rejects charts, one line per source.
runs=$(grep -vc '"kind":"redrive"' log/sales/runs.jsonl)
for chart in duration rows rejects; do
	like "$dom" "data-chart=\"$chart\"><figcaption>[^<]*</figcaption><svg" \
		"the $chart chart is in the rendered page"
done
sales=$(printf '%s' "$dom" | python3 -c '
import re, sys
m = re.search(r"<section class=\"job\" id=\"job-sales\">.*?</section>", sys.stdin.read(), re.S)
print(m.group(0) if m else "")')
is "$(printf '%s' "$sales" | grep -o 'class="bar"' | wc -l)" $((2 * runs)) \
	"one bar per run in the duration and rejects charts ($runs runs, the redrive left out)"
is "$(printf '%s' "$sales" | grep -o '<polyline' | wc -l)" 2 \
	"one line per source in the rows chart"
like "$sales" 'class="limit"' "the duration chart draws the schedule's interval"
render --screenshot="$TMPDIR_T/report.png" --window-size=1000,1400 \
	>/dev/null 2>&1
[ -s report.png ]; ok $? "Chromium renders the page to a PNG"
colours=$(python3 - "$TMPDIR_T/report.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
pos, idat = 8, b''
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    if kind == b'IDAT':
        idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
print(len(set(zlib.decompress(idat))))
PY
)
[ "${colours:-0}" -gt 50 ]; ok $? "the rendering is not blank ($colours distinct byte values)"
[ -n "${CNS_KEEP_REPORT:-}" ] && cp report.html report.png "$CNS_KEEP_REPORT/"
done_testing
