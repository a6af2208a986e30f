#!/bin/sh
# leftovers.sh TOKEN PGID - the processes a test run left running, one line each:
# "PID (TEST) ARGS", TEST being the test program that started it.
#
# Found two ways. (1) Its environment holds ECC_TEST_RUN=TOKEN: tests/run.sh exports that
# before it starts the first test, so every process a test starts inherits it, also one
# that daemonised, left the process group or runs under qemu-user or valgrind (TEST comes
# from ECC_TEST_PROG, which run.sh sets for each program). (2) It is one of the programs
# the tests run (eccd, eccsim, eccctl, eccreport, eccweb, qemu-*, valgrind, mbpoll,
# chromedriver, chromium, a test or bench binary) in process group PGID, run.sh's own: one started with a cleared
# environment. A zombie is not running and is not listed.
#
# Run it without ECC_TEST_RUN in its own environment (env -u ECC_TEST_RUN), so that it and
# the commands it runs cannot find themselves.
set -u
token=$1
pgid=$2

# The test program named in process $1's environment, else "?".
started_by() {
    prog=$(tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | sed -n 's/^ECC_TEST_PROG=//p')
    echo "${prog:-?}"
}

# True if process $1 is one of the tests' programs in process group $pgid, not a zombie.
ours_by_group() {
    p=$1
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || return 1
    # shellcheck disable=SC2086 # the fields after "pid (comm) ", split on purpose
    set -- ${stat##*) }
    [ "$1" != Z ] && [ "$3" = "$pgid" ] || return 1
    case $(cat "/proc/$p/comm" 2>/dev/null) in
    ecc* | qemu-* | valgrind* | memcheck-* | mbpoll | test_* | bench_* | chromedriver | chromium) return 0 ;;
    esac
    return 1
}

for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" = $$ ] && continue
    if grep -qzxF "ECC_TEST_RUN=$token" "$dir/environ" 2>/dev/null || ours_by_group "$pid"; then
        args=$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null)
        [ -n "$args" ] && echo "$pid ($(started_by "$pid")) $args"
    fi
done
exit 0
