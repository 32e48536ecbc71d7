#!/usr/bin/env bash
# Dependencies point down.  Each folder of src/ is a module with a rank;
# a file may include the public header (include/consolidate/X.h) of a
# module of lower rank, or of its own module, and a private header only
# of its own module.  A cycle or an upward include fails the test.
#
#   0 common   arena, buffers, errors, UTF-8, zones and time, files
#   1 cron     cron expressions
#   2 config   job files
#   3 pg       libpq helpers       3 transform  the transform language
#   4 source   source drivers      4 target     the PostgreSQL target
#   5 runlog   run records, logs, verdicts, the report
#   6 engine   prepare, pipeline, run, guards
#   7 schedule the daemon
#   8 cli      the program
#
# Modules of the same rank are siblings and may not include each other.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1

declare -A rank=([common]=0 [cron]=1 [config]=2 [pg]=3 [transform]=3
	[source]=4 [target]=4 [runlog]=5 [engine]=6 [schedule]=7 [cli]=8)
# The module of each public header.
declare -A header=(
	[util]=common [error]=common [testhook]=common [chunk]=common
	[tz]=common [fs]=common [secrets]=common [civil]=common
	[cron]=cron [config]=config [pg]=pg [pgbinary]=pg [transform]=transform
	[source]=source [load]=target [state]=target [target]=target
	[runlog]=runlog [status]=runlog [htmlreport]=runlog [trend]=runlog [rejfile]=runlog
	[stats]=common [evolve]=target
	[pipeline]=engine [runner]=engine [guard]=engine [volume]=engine
	[rejects]=engine [notify]=engine [prepare]=engine [deletes]=engine [redrive]=engine
	[shard]=engine
	[schedule]=schedule
)

bad=0 n=0
module_of_src() {	# src/MODULE/...
	local p=${1#src/}
	echo "${p%%/*}"
}
check() {	# check FILE MODULE
	local file=$1 mod=$2 inc dep
	while IFS= read -r inc; do
		n=$((n + 1))
		case $inc in
		consolidate/*.h)
			dep=${inc#consolidate/}
			dep=${header[${dep%.h}]:-}
			if [ -z "$dep" ]; then
				echo "not ok - $file: $inc belongs to no module (add it to t_layers.sh)"
				bad=$((bad + 1))
			elif [ "$dep" != "$mod" ] &&
			     [ "${rank[$dep]}" -ge "${rank[$mod]}" ]; then
				echo "not ok - $file ($mod) includes $inc ($dep): not below it"
				bad=$((bad + 1))
			fi
			;;
		*)
			# A private header: in the file's own module.
			local target
			target=$(realpath -m "$(dirname "$file")/$inc")
			case $target in
			"$ROOT/src/$mod/"*|"$ROOT/tests/"*) ;;
			*)
				echo "not ok - $file ($mod) includes $inc from outside its module"
				bad=$((bad + 1))
				;;
			esac
			;;
		esac
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
}

for f in $(git ls-files 'src/*.c' 'src/*.h'; git ls-files --others --exclude-standard 'src/*.c' 'src/*.h'); do
	mod=$(module_of_src "$f")
	if [ -z "${rank[$mod]:-}" ]; then
		echo "not ok - $f is in no module folder of src/"
		bad=$((bad + 1))
		continue
	fi
	check "$f" "$mod"
done
for f in include/consolidate/*.h; do
	h=$(basename "$f" .h)
	mod=${header[$h]:-}
	if [ -z "$mod" ]; then
		echo "not ok - $f belongs to no module (add it to t_layers.sh)"
		bad=$((bad + 1))
		continue
	fi
	check "$f" "$mod"
done
if [ "$bad" -eq 0 ]; then
	echo "ok - $n includes, every one pointing down"
else
	echo "$bad includes point up or sideways"
fi
[ "$bad" -eq 0 ]
