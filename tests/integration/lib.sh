# lib.sh - helpers for the integration tests (sourced by each t_*.sh).
# Every assertion prints "ok N - what" or "not ok N - what" and keeps going,
# so one run shows every failure.

TEST_N=0
TEST_FAILED=0

ok() {	# ok CONDITION-EXIT-CODE WHAT
	TEST_N=$((TEST_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TEST_N - $2"
	else
		echo "not ok $TEST_N - $2"
		TEST_FAILED=$((TEST_FAILED + 1))
	fi
}

is() {	# is GOT EXPECTED WHAT
	TEST_N=$((TEST_N + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $TEST_N - $3"
	else
		echo "not ok $TEST_N - $3"
		echo "#   got:      $(printf '%s' "$1" | head -c 2000)"
		echo "#   expected: $(printf '%s' "$2" | head -c 2000)"
		TEST_FAILED=$((TEST_FAILED + 1))
	fi
}

like() {	# like GOT REGEX WHAT
	TEST_N=$((TEST_N + 1))
	if printf '%s' "$1" | grep -qE -- "$2"; then
		echo "ok $TEST_N - $3"
	else
		echo "not ok $TEST_N - $3"
		echo "#   got:      $(printf '%s' "$1" | head -c 2000)"
		echo "#   expected to match: $2"
		TEST_FAILED=$((TEST_FAILED + 1))
	fi
}

done_testing() {
	[ "$TEST_FAILED" -eq 0 ]
	exit $?
}

# q DB SQL: one value or rows, unaligned, tab-separated.
q() {
	psql -X -q -At -F $'\t' -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# createdb_fresh NAME: a new empty database.
createdb_fresh() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$1\"" >/dev/null
	psql -X -q -d postgres -c "CREATE DATABASE \"$1\"" >/dev/null
}

# table_digest DB SQL: an order-independent digest of a query's rows.
table_digest() {
	q "$1" "SELECT count(*) || ':' || coalesce(md5(string_agg(r, E'\n' ORDER BY r)), '-') FROM ($2) AS s(r)"
}

# conninfo DB: a libpq connection string for the sandbox.
conninfo() {
	echo "host=$PGHOST port=$PGPORT user=$PGUSER dbname=$1"
}

# slurm_start DIR: a Slurm sandbox (scripts/slurm-sandbox) in DIR, its
# exports (SLURM_CONF) evaluated in the calling shell, stopped on exit.
# Returns 1 when Slurm is not installed, 2 when it did not start.
slurm_start() {
	command -v sbatch >/dev/null 2>&1 || return 1
	SLURM_SB=$1
	trap '"$ROOT/scripts/slurm-sandbox" stop "$SLURM_SB" >/dev/null 2>&1' EXIT
	local e
	e=$("$ROOT/scripts/slurm-sandbox" start "$SLURM_SB") || return 2
	eval "$e"
}

# slurm_wait SECONDS ID...: waits until every job (every task of an array)
# has left the queue; returns 1 when SECONDS pass first.
slurm_wait() {
	local limit=$(( $1 * 10 )) i j all
	shift
	for ((i = 0; i < limit; i++)); do
		all=1
		for j in "$@"; do
			[ -z "$(squeue -h -j "$j" 2>/dev/null)" ] || all=""
		done
		[ -n "$all" ] && return 0
		sleep 0.1
	done
	return 1
}

# slurm_state ID: the job's state as scontrol tells it (COMPLETED, FAILED,
# CANCELLED...).
slurm_state() {
	scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' |
		head -1 | cut -d= -f2
}

# create_try_input DB: makes try_input(s, table) in DB, which returns
# "ok:" and the text of s once stored into the one column (v) of table
# (the type's input function and the assignment to a column of the
# type, as a load does), or "err".  pg_input_is_valid() needs PostgreSQL
# 16; this works on 15.
create_try_input() {
	q "$1" "CREATE FUNCTION try_input(s text, tbl text) RETURNS text
LANGUAGE plpgsql AS \$\$
DECLARE r text;
BEGIN
	EXECUTE format('INSERT INTO %I VALUES (%L) RETURNING v::text', tbl, s)
		INTO r;
	RETURN 'ok:' || r;
EXCEPTION WHEN OTHERS THEN
	RETURN 'err';
END \$\$" >/dev/null
}
