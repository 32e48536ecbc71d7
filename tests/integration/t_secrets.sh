#!/usr/bin/env bash
# No secret leaves the job file.  A distinctive password is planted in
# every place a secret can come from (libpq conninfo quoted with blanks and
# unquoted, an unquoted value with a blank, ODBC PWD= plain and {braced},
# postgresql:// URIs plain, percent-encoded and with a bad escape that
# libpq quotes back, ${ENV} as a password and as a whole conninfo,
# password_file, PGPASSWORD), runs fail in the ways that carry them (wrong password
# against the real server with scram-sha-256 on TCP, a connection string
# libpq cannot read, a refused port, a config error) and succeed; then
# every output is searched: stderr, stdout, the logs (plain and
# compressed), runs.jsonl, the metrics file, the rejects files, history,
# log and status, and the target's consolidate.runs.  Also: the files a
# run writes are 0640, a job name cannot climb out of the configured
# folders, and core dumps are off unless asked for.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"
umask 022
eval "$("$ROOT/scripts/odbc-setup" "$TMPDIR_T/odbc")" ||
	{ echo "not ok 1 - scripts/odbc-setup"; exit 1; }

createdb_fresh s_src
createdb_fresh s_dst
q s_src "CREATE TABLE t (id int PRIMARY KEY, num text)"
q s_src "INSERT INTO t SELECT i, CASE WHEN i % 10 = 0 THEN 'x' || i ELSE i::text END FROM generate_series(1, 200) i"
right=R1ghtPassw0rd
psql -X -q -d postgres -c "DROP ROLE IF EXISTS s_pw" \
	-c "SET password_encryption = 'scram-sha-256'" \
	-c "CREATE ROLE s_pw LOGIN PASSWORD '$right'" >/dev/null
q s_src "GRANT SELECT ON t TO s_pw"
# Password authentication for this role on TCP; the sandbox trusts every
# other connection.
hba=$CNS_PG_SANDBOX/data/pg_hba.conf
cp "$hba" hba.orig
{ echo "host all s_pw 127.0.0.1/32 scram-sha-256"; cat hba.orig; } > hba.new
cat hba.new > "$hba"
restore_hba() { cat "$TMPDIR_T/hba.orig" > "$hba"; psql -X -q -d postgres -c "SELECT pg_reload_conf()" >/dev/null; }
trap restore_hba EXIT
psql -X -q -d postgres -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
tcp="host=127.0.0.1 port=$PGPORT user=s_pw dbname=s_src"
psql -X -q "$tcp password=wrong" -c "SELECT 1" >/dev/null 2>&1
is "$?" 2 "the sandbox refuses a wrong password on TCP (scram-sha-256)"
PGPASSWORD=$right psql -X -q -At "$tcp" -c "SELECT 1" >/dev/null 2>&1
is "$?" 0 "and takes the right one"

cat > t.xf <<'XF'
[schema]
id  integer not null
num integer
[from s]
id  = id
num = cast(num as integer)
XF

# Every planted secret, one per place, and what of it must not show.
secrets=(
	"Qu0tedAlpha" "Qu0tedBeta"          # libpq, quoted with a blank
	"Unqu0tedPw"                        # libpq, unquoted
	"Bl4nkFirst" "Bl4nkSecond"          # libpq, unquoted with a blank
	"0dbcPlainPw"                       # ODBC PWD=
	"0dbcBr4ced" "Semi}Part" "Semi}}Part" # ODBC PWD={..;..}}..}
	"Ur1PlainPw"                        # URI
	"Ur2%40Pct" "Ur2@Pct" "Pct%20Enc" "Pct Enc" # URI, percent-encoded
	"Ur3Bad%zzPct"                      # URI, an escape libpq quotes back
	"Env1SecretPw"                      # ${ENV} as the password
	"Env2InConnPw"                      # ${ENV} as the whole conninfo
	"F1leSecretPw"                      # password_file
	"T4rgetWrongPw"                     # the target's conninfo
	"Pgp4sswordEnv"                     # PGPASSWORD
	"Unre4chPw"                         # a port nobody listens on
	"$right"                            # the right one, in good runs
)
printf '%s\n' "${secrets[@]}" > secrets.list

n=0
run_job() {	# run_job WHAT TARGET-CONNINFO SOURCE-LINES...: runs it, keeps
		# stdout and stderr in out/, sets rc and err
	local what=$1 target=$2
	shift 2
	n=$((n + 1))
	{
		cat <<JOB
[job]
name         = sec
batch_size   = 50
transforms   = $TMPDIR_T/t.xf
log_dir      = $TMPDIR_T/log
lock_dir     = $TMPDIR_T/lock
rejects_dir  = $TMPDIR_T/rejects
metrics_file = $TMPDIR_T/metrics.prom
log_keep     = 2
max_rejects  = 50%
retries      = 0
[target]
conninfo = $target
table    = sec
key      = id
mode     = upsert
[source s]
JOB
		printf '%s\n' "$@"
	} > "jobs/$n.conf"
	cp "jobs/$n.conf" job.conf
	"$CNS" run job.conf > "out/$n.out" 2> "out/$n.err"
	rc=$?
	err=$(cat "out/$n.err")
	echo "# run $n ($what): exit $rc: $(head -c 300 "out/$n.err" | tr '\n' ' ')"
}
mkdir -p jobs out
dst=$(conninfo s_dst)
pgsrc() { printf 'driver = postgres\nconninfo = %s\ntable = t\n' "$1"; }
odbcsrc() { printf 'driver = odbc\nconnection = %s\ntable = t\n' "$1"; }
odbc_base="Driver=PostgreSQL Unicode;Servername=127.0.0.1;Port=$PGPORT;Database=s_src;UID=s_pw"

run_job "success, libpq" "$dst" "$(pgsrc "$tcp password=$right")"
is "$rc" 0 "a run with the right password succeeds"
is "$(q s_dst "SELECT count(*) FROM sec")" 180 "and loads every row but the 20 rejected"

run_job "quoted password with blanks" "$dst" \
	"$(pgsrc "$tcp password='Qu0tedAlpha Qu0tedBeta'")"
is "$rc" 1 "wrong quoted password: the run fails"
like "$err" 'password authentication failed' "with the server's message"

run_job "unquoted password" "$dst" "$(pgsrc "$tcp password=Unqu0tedPw")"
like "$err" 'password authentication failed' "wrong unquoted password: refused by the server"

run_job "unquoted password with a blank" "$dst" \
	"$(pgsrc "$tcp password=Bl4nkFirst Bl4nkSecond")"
is "$rc" 3 "an unquoted password with a blank is a config error"
like "$err" "job.conf:19: cannot read the connection string of \"conninfo\"" "naming file and line"

run_job "ODBC PWD=" "$dst" "$(odbcsrc "$odbc_base;PWD=0dbcPlainPw")"
is "$rc" 1 "ODBC, wrong PWD=: the run fails"
like "$err" 'authentication failed' "with the driver's message"

run_job "ODBC braced PWD" "$dst" \
	"$(odbcsrc "$odbc_base;PWD={0dbcBr4ced;Semi}}Part}")"
like "$err" 'authentication failed' "ODBC, wrong braced PWD={..;..}}..}: refused"

run_job "URI" "$dst" \
	"$(pgsrc "postgresql://s_pw:Ur1PlainPw@127.0.0.1:$PGPORT/s_src")"
like "$err" 'password authentication failed' "URI with a wrong password: refused"

run_job "URI percent-encoded" "$dst" \
	"$(pgsrc "postgres://s_pw:Ur2%40Pct%20Enc@127.0.0.1:$PGPORT/s_src")"
like "$err" 'password authentication failed' "percent-encoded URI password: refused"

run_job "URI bad escape" "$dst" \
	"$(pgsrc "postgresql://s_pw:Ur3Bad%zzPct@127.0.0.1:$PGPORT/s_src")"
like "$err" 'invalid percent-encoded token: "\*\*\*"' "a bad escape: libpq quotes the password back, shown as ***"

export S_SECRET_PASSWORD=Env1SecretPw
run_job "\${ENV} password" "$dst" "$(pgsrc "$tcp password=\${S_SECRET_PASSWORD}")"
like "$err" 'password authentication failed' "\${ENV} as the password: refused"

export S_CONN="$tcp password=Env2InConnPw"
run_job "\${ENV} conninfo" "$dst" "$(pgsrc "\${S_CONN}")"
like "$err" 'password authentication failed' "\${ENV} as the whole conninfo: refused"

printf 'F1leSecretPw\n' > pw.file
run_job "password_file" "$dst" \
	"$(odbcsrc "$odbc_base")" "password_file = $TMPDIR_T/pw.file"
like "$err" 'authentication failed' "password_file: refused"

run_job "target password" \
	"host=127.0.0.1 port=$PGPORT user=s_pw dbname=s_dst password=T4rgetWrongPw" \
	"$(pgsrc "$tcp password=$right")"
is "$rc" 1 "a wrong target password fails the run"

PGPASSWORD=Pgp4sswordEnv run_job "PGPASSWORD" "$dst" "$(pgsrc "$tcp")"
like "$err" 'password authentication failed' "PGPASSWORD: refused"

free_port=1
run_job "unreachable" "$dst" "$(pgsrc "host=127.0.0.1 port=$free_port user=s_pw dbname=s_src password=Unre4chPw")"
like "$err" 'could not connect|Connection refused' "a port nobody listens on: the run fails"

printf '%s\n' "$right" > right.pw
run_job "success, odbc password_file" "$dst" \
	"$(odbcsrc "$odbc_base")" "password_file = $TMPDIR_T/right.pw"
is "$rc" 0 "ODBC with the right password_file succeeds"
run_job "success again" "$dst" "$(pgsrc "postgresql://s_pw:$right@127.0.0.1:$PGPORT/s_src")"
is "$rc" 0 "and a URI with the right password"

# Everything the commands show.
"$CNS" history job.conf > out/history.out 2>&1
"$CNS" history --all job.conf > out/history-all.out 2>&1 || true
"$CNS" status job.conf > out/status.out 2>&1
"$CNS" log job.conf last > out/log-last.out 2>&1
"$CNS" log job.conf last-failed > out/log-failed.out 2>&1
for id in $(sed -n 's/.*"run_id": *"\([^"]*\)".*/\1/p' log/sec/runs.jsonl); do
	"$CNS" log job.conf "$id" >> out/log-each.out 2>&1
done
for j in jobs/*.conf; do
	b=$(basename "$j" .conf)
	"$CNS" plan "$j" > "out/plan-$b.out" 2>&1
	"$CNS" check "$j" > "out/check-$b.out" 2>&1
done
like "$(cat out/plan-5.out)" 'PWD=\*\*\*' "plan shows an ODBC connection string, its password as ***"
like "$(cat out/plan-6.out)" 'PWD=\*\*\*' "also a braced one"
q s_dst "SELECT * FROM consolidate.runs" > out/runs-table.txt
failed_rows=$(q s_dst "SELECT count(*) FROM consolidate.runs WHERE status <> 'ok' AND error IS NOT NULL")
[ "$failed_rows" -ge 8 ]; ok $? "the history table holds the failed runs with their errors ($failed_rows)"
like "$(cat out/log-each.out)" 'authentication failed' "the logs hold the servers' messages"
ls log/sec/*.log.gz >/dev/null 2>&1; ok $? "retention compressed older logs"
ls rejects/sec/* >/dev/null 2>&1 || ls rejects/* >/dev/null 2>&1; ok $? "the good runs wrote rejects files"

# The oracle: every file of outputs, plain or compressed.
mkdir -p plain
i=0
while IFS= read -r -d '' f; do
	i=$((i + 1))
	case $f in
	*.gz) zcat -f "$f" > "plain/$i.txt" 2>/dev/null ;;
	*) cat "$f" > "plain/$i.txt" ;;
	esac
	echo "$f" > "plain/$i.name"
done < <(find out log rejects metrics.prom -type f -print0)
[ "$i" -ge 70 ]; ok $? "searching $i output files"
# The search finds the secrets where they are: the job files.
found=$(grep -a -r -l -F -f secrets.list jobs | wc -l)
[ "$found" -ge 12 ]; ok $? "the search finds the secrets in the job files ($found)"
for s in "${secrets[@]}"; do
	hits=$(grep -a -l -F -e "$s" plain/*.txt 2>/dev/null |
		while read -r h; do cat "${h%.txt}.name"; done | tr '\n' ' ')
	is "$hits" "" "\"$s\" is in no output"
done
grep -a -h -o -E '.{0,60}\*\*\*.{0,20}' plain/*.txt | sort | uniq -c | sort -rn | head -n 12 | sed 's/^/# masked: /'

# 0640 for every file a run writes (logs hold rejected values).
modes=$(find log rejects -type f -printf '%m %p\n' | grep -v '^640 ' | head -n 5)
is "$modes" "" "every log, compressed log, runs.jsonl and rejects file is 0640"
like "$(find log -name '*.log.gz' -printf '%m\n' | sort -u)" '^640$' "compressed logs included"
is "$(stat -c %a metrics.prom)" 644 "the metrics file (counts only) stays readable by all"

# Job names that would leave the configured folders.
mini_job() {	# mini_job FILE DIR JOB-LINE: a job with its folders under DIR
	cat > "$1" <<JOB
[job]
$3
transforms  = $TMPDIR_T/t.xf
log_dir     = $2/log/inner
lock_dir    = $2/lock/inner
rejects_dir = $2/rejects/inner
[target]
conninfo = $dst
table    = sec
key      = id
mode     = upsert
[source s]
$(pgsrc "$tcp password=$right")
JOB
}
for bad in '..' '.' '.hidden' '../up' 'a/b'; do
	mkdir -p names
	mini_job names/j.conf "$TMPDIR_T/names" "name = $bad"
	err=$("$CNS" run names/j.conf 2>&1 >/dev/null); rc=$?
	is "$rc" 3 "job name \"$bad\": a config error"
	like "$err" "names/j.conf:2: invalid value" "naming file and line"
	is "$(find names -mindepth 1 -not -name j.conf | head -n 3)" "" "and nothing written anywhere"
done
cp names/j.conf names/.hid.conf
sed -i '/^name /d' names/.hid.conf
err=$("$CNS" run names/.hid.conf 2>&1 >/dev/null); rc=$?
is "$rc" 3 "a job named by its file \".hid.conf\": a config error"
like "$err" 'job name ".hid" taken from the file name' "saying so"

# Core dumps: off (limit 0, not dumpable: /proc/PID is then owned by
# root, which a non-root user sees), unless CONSOLIDATE_CORE_DUMPS=yes.
mkdir -p cd/jobs cd/state
chmod 777 cd/state
mini_job cd/jobs/c.conf "$TMPDIR_T/cd/state" "schedule = 0 0 1 1 *"
chmod -R a+rX cd t.xf
daemon_check() {	# daemon_check ENV...: starts the scheduler as nobody,
			# prints "corelimit owner", stops it
	local pid lim own
	env "$@" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		bash -c 'ulimit -c unlimited 2>/dev/null || ulimit -c 1000; exec "$0" schedule --state-dir "$1" "$2"' \
		"$CNS" "$TMPDIR_T/cd/state" "$TMPDIR_T/cd/jobs" >cd/daemon.out 2>&1 &
	pid=$!
	for _ in $(seq 1 50); do
		[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$CNS")" ] && break
		sleep 0.1
	done
	sleep 0.3
	lim=$(awk '/^Max core file size/ {print $5 "/" $6}' "/proc/$pid/limits")
	own=$(stat -c %U "/proc/$pid/status")
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$lim $own"
}
is "$(daemon_check)" "0/0 root" "core dumps off: core limit 0 (soft and hard), not dumpable"
got=$(daemon_check CONSOLIDATE_CORE_DUMPS=yes)
# (The hard limit: a sanitizer build lowers the soft one itself.)
like "$got" '^[^ ]+/(unlimited|[1-9][0-9]*) nobody$' "CONSOLIDATE_CORE_DUMPS=yes leaves them on ($got)"

done_testing
