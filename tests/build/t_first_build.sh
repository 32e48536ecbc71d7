#!/usr/bin/env bash
# The first build on a fresh machine: pkg-config knows none of the
# libraries until the install step has run.  The build must still find
# their flags, because it must not compute them before installing.
#
# A stand-in pkg-config answers nothing until a stand-in install step has
# run; the build must then compile an object that includes <libpq-fe.h>
# (outside the default include path on Debian) and record the link flags.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cns-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/bin"
real=$(command -v pkg-config) || { echo "not ok 1 - no pkg-config"; exit 1; }
cat > "$tmp/bin/pkg-config" <<EOS
#!/bin/sh
[ -e "$tmp/installed" ] || exit 1
exec "$real" "\$@"
EOS
cat > "$tmp/install" <<EOS
#!/bin/sh
touch "$tmp/installed"
EOS
chmod 755 "$tmp/bin/pkg-config" "$tmp/install"

fail=0
if PATH="$tmp/bin:$PATH" make -s -C "$ROOT" BUILD="$tmp/b" \
	INSTALL_DEPS="$tmp/install" "$tmp/b/src/pg/pg.o" >"$tmp/out" 2>&1; then
	echo "ok 1 - first build compiles against libpq after the install step"
else
	echo "not ok 1 - first build compiles against libpq after the install step"
	sed 's/^/# /' "$tmp/out"
	fail=1
fi
if grep -q -- '-lpq' "$tmp/b/deps.mk" 2>/dev/null; then
	echo "ok 2 - link flags recorded after the install step"
else
	echo "not ok 2 - link flags recorded after the install step"
	fail=1
fi
if [ -e "$tmp/installed" ]; then
	echo "ok 3 - the install step ran"
else
	echo "not ok 3 - the install step ran"
	fail=1
fi
exit $fail
