#!/bin/sh
# run.sh BUILD - run every test and print the closing "N passed, N failed, N skipped" line.
#
# Unit and scenario tests are C programs (tests/test_*.c) built with ASan/UBSan into
# BUILD/san/tests/; each prints "ok   FILE: NAME", "FAIL FILE: NAME" or
# "skip FILE: NAME: REASON" per test (tests/test.h). Shell tests (tests/t_*.sh) exercise
# the real binaries and print the same lines (tests/lib.sh). A skipped test is counted as
# skipped, never as passed. A program that dies without reporting a failed test (a
# sanitizer abort, a crash), or that reports no result at all, counts as one failed test
# under its own name.
#
# Every process the tests start carries ECC_TEST_RUN (this run) and ECC_TEST_PROG (the
# test program) in its environment. When the last test is over, the check
# "run.sh: no_process_left_behind" lists any such process still running 3 s later
# (tests/leftovers.sh says how they are found), fails, and kills them.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
export ECC_BUILD="$build"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
ECC_TEST_RUN="$$.$(date +%s%N)"
export ECC_TEST_RUN
pgid=$(ps -o pgid= -p $$ | tr -d ' ')

passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() {
    name=$1
    shift
    start=$(date +%s)
    ECC_TEST_PROG=$name "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    s=$(grep -c '^skip ' "$log")
    if [ $((p + f + s)) -eq 0 ]; then
        echo "FAIL $name: reported no result (exit status $rc)"
        f=1
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with status $rc without reporting a failed test"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    echo "-- $name: $p passed, $f failed, $s skipped ($(( $(date +%s) - start )) s)"
}

# The processes of this run still running: "PID (TEST) ARGS" lines.
leftovers() {
    env -u ECC_TEST_RUN -u ECC_TEST_PROG sh tests/leftovers.sh "$ECC_TEST_RUN" "$pgid"
}

# Give what the last tests stopped 3 s to finish exiting; what is still there was left
# behind: fail, list it, and stop it (SIGTERM, then SIGKILL 2 s later).
no_process_left_behind() {
    left=$(leftovers)
    i=0
    while [ -n "$left" ] && [ $i -lt 30 ]; do
        sleep 0.1
        i=$((i + 1))
        left=$(leftovers)
    done
    if [ -z "$left" ]; then
        echo "ok   run.sh: no_process_left_behind"
        passed=$((passed + 1))
        return
    fi
    echo "FAIL run.sh: no_process_left_behind"
    printf '%s\n' "$left" | sed 's/^/  left running: /'
    failed=$((failed + 1))
    pids=$(printf '%s\n' "$left" | cut -d' ' -f1)
    # shellcheck disable=SC2086 # a list of pids
    kill -TERM $pids 2>/dev/null
    i=0
    while [ -n "$(leftovers)" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
    # shellcheck disable=SC2086
    [ -n "$(leftovers)" ] && kill -KILL $(leftovers | cut -d' ' -f1) 2>/dev/null
}

for t in "$build"/san/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/t_*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t")" sh "$t" "$build"
done
no_process_left_behind

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
