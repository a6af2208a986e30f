# lib.sh - what the t_*.sh scripts share. A script sets its name, then sources it:
#     name=t_x
#     . "$(dirname "$0")/lib.sh"
#
# Result lines, the ones tests/run.sh counts (and tests/test.h prints for the C tests):
#   ok NAME                 "ok   $name: NAME"
#   fail NAME [DETAIL...]   "FAIL $name: NAME", then each DETAIL indented: a file shows its
#                           last 15 lines under "--- FILE", any other text itself
#   skip NAME REASON        "skip $name: NAME: REASON": counted as skipped, never as passed
#   skip_all REASON         "skip $name: REASON" and exit 0: the script cannot run here
# Checks, one result line each:
#   check NAME GOT WANT     ok if GOT = WANT, else fail saying both
#   contains NAME TEXT PART ok if TEXT contains PART, else fail saying both
#   pass_if NAME CMD...     ok if CMD succeeds, else fail with $detail (a condition may set
#                           it to say why) and the files in $on_fail (a script may set it)
# Scratch files and processes:
#   $tmp                    a fresh directory, removed when the script exits (KEEP=1 keeps it)
#   at_exit CMD             CMD (a string, eval'd then) runs when the script exits, even on
#                           SIGINT or SIGTERM; the latest first, before $tmp goes
#   alive PID               PID is running (not gone, not a zombie)
#   stop PID [SECONDS]      SIGTERM, then SIGKILL after SECONDS (10) if it is still running;
#                           reaps it when it is the script's child; its exit status. No
#                           PID (""): nothing to do (clear a PID once it has been waited for)
#   wait_for SECONDS CMD... run CMD every 0.1 s until it succeeds: 0, or 1 when it did not
#                           within about SECONDS (a bounded loop: never a bare sleep)
#   wait_line FILE PATTERN SECONDS [PID]
#                           wait_for a line of FILE matching PATTERN (grep); 1 at once
#                           when PID is given and has exited
#   count PATTERN FILE      how many lines of FILE match (0 without the file)
#   now; secs T0 T1         times to print (a test never asserts on them)
# A script that printed a FAIL line through fail exits 1.

ok() { echo "ok   $name: $1"; }

lib_failed=0
fail() {
    echo "FAIL $name: $1"
    lib_failed=$((lib_failed + 1))
    shift
    for lib_d in "$@"; do
        if [ -f "$lib_d" ]; then
            echo "  --- $lib_d"
            tail -n 15 "$lib_d" | sed 's/^/  /'
        elif [ -n "$lib_d" ]; then
            printf '%s\n' "$lib_d" | sed 's/^/  /'
        fi
    done
}

skip() { echo "skip $name: $1: $2"; }

skip_all() {
    echo "skip $name: $1"
    exit 0
}

check() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected [$3], got [$2]"; fi
}

contains() {
    case $2 in
    *"$3"*) ok "$1" ;;
    *) fail "$1" "no [$3] in: $2" ;;
    esac
}

detail=
on_fail=
pass_if() {
    lib_what=$1
    shift
    detail=
    if "$@"; then
        ok "$lib_what"
    else
        # shellcheck disable=SC2086 # a list of files
        fail "$lib_what" "$detail" $on_fail
    fi
}

lib_exit_cmds=
at_exit() {
    lib_exit_cmds="$1
$lib_exit_cmds"
}

lib_exit() {
    lib_rc=$?
    trap - EXIT
    eval "$lib_exit_cmds"
    if [ -z "${KEEP:-}" ]; then
        chmod -R u+rwx "$tmp" 2>/dev/null
        rm -rf "$tmp"
    fi
    [ "$lib_rc" -ne 0 ] || [ "$lib_failed" -eq 0 ] || lib_rc=1
    exit "$lib_rc"
}

alive() {
    [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null
}

stop() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null
    lib_n=$(( ${2:-10} * 10 ))
    while alive "$1" && [ "$lib_n" -gt 0 ]; do
        sleep 0.1
        lib_n=$((lib_n - 1))
    done
    alive "$1" && kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

wait_for() {
    lib_n=$(( $1 * 10 ))
    shift
    until "$@"; do
        [ "$lib_n" -gt 0 ] || return 1
        lib_n=$((lib_n - 1))
        sleep 0.1
    done
}

wait_line() {
    lib_n=$(( $3 * 10 ))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        [ "$lib_n" -gt 0 ] || return 1
        [ -z "${4:-}" ] || alive "$4" || return 1
        lib_n=$((lib_n - 1))
        sleep 0.1
    done
}

count() {
    lib_c=$(grep -c -- "$1" "$2" 2>/dev/null)
    echo "${lib_c:-0}"
}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

tmp=$(mktemp -d) || exit 2
trap lib_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
