#!/bin/sh
# run.sh BUILD - run every test and print the closing "N passed, N failed" line.
#
# Unit and scenario tests are C programs (tests/test_*.c) built with ASan/UBSan into
# BUILD/san/tests/; each prints "ok   FILE: NAME" or "FAIL FILE: NAME" per test.
# Shell tests (tests/t_*.sh) exercise the real binaries and print the same lines.
# A program that dies without reporting (a sanitizer abort, a crash) counts as one
# failed test under its own name.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
export ECC_BUILD="$build"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0

passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() {
    name=$1
    shift
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    s=$(grep -c '^skip ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with status $rc without reporting a failed test"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    echo "-- $name: $p passed, $f failed, $s skipped ($(( $(date +%s) - start )) s)"
}

for t in "$build"/san/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/t_*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t")" sh "$t" "$build"
done

if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
