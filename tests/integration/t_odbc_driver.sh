#!/usr/bin/env bash
# The odbc source driver against the real drivers: SQLite (libsqliteodbc),
# PostgreSQL (psqlODBC) and MariaDB (Connector/ODBC), each on a server the
# program starts and stops itself (tests/integration/test_odbc.c).  A
# driver whose server does not start fails the test; nothing is skipped.
. "$ROOT/tests/integration/lib.sh"
cd "$TMPDIR_T"

bin=${CNS_ODBC_TEST:-$ROOT/build/tests/integration/test_odbc}
[ -x "$bin" ]; ok $? "the odbc driver test is built ($bin)"
out=$(cd "$ROOT" && TMPDIR="$TMPDIR_T" "$bin" 2>&1); rc=$?
is "$rc" 0 "every case against SQLite, psqlODBC and MariaDB passes"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | tail -n 40 | sed 's/^/# /'
passed=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p')
like "${passed:-0}" '^[1-9][0-9]*$' "cases ran (${passed:-0} passed)"
skipped=$(printf '%s\n' "$out" | grep -c '^\[  SKIPPED \]')
is "$skipped" 0 "no case was skipped"
done_testing
