#!/bin/sh
# check-gpio.sh BUILD - `make check-gpio`: only the gpio-sim tests (tests/t_gpiosim.sh),
# verbose: the harness's steps and timings, each guest's whole console output, then the
# closing "N passed, N failed" line.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
out=$(mktemp)
trap 'rm -f "$out" "$out.rc"' EXIT
start=$(date +%s)
{ GPIOSIM_VERBOSE=1 sh tests/t_gpiosim.sh "$build"; echo $? >"$out.rc"; } | tee "$out"
rc=$(cat "$out.rc")
p=$(grep -c '^ok ' "$out")
f=$(grep -c '^FAIL ' "$out")
s=$(grep -c '^skip ' "$out")
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL t_gpiosim: exited with status $rc without reporting a failed test"
    f=1
fi
echo "$p passed, $f failed, $s skipped ($(( $(date +%s) - start )) s)"
[ "$f" -eq 0 ]
