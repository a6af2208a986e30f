#!/bin/sh
# t_valgrind.sh BUILD - the optimised eccd and eccreport run a whole simulated session
# under valgrind's memcheck with no error and no leak (the sanitizer build covers the
# rest; valgrind also sees what ASan cannot, such as uninitialised reads).
set -u
build=${1:-build}
name=t_valgrind
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null 2>&1 ||
    skip_all "valgrind is not installed (apt-get install valgrind)"
vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9"
on_fail="$tmp/err"

$vg "$build/rel/eccd" -c config/sim.ini -q --sessions 1 --rep-log "$tmp/r.jsonl" \
    --trace "$tmp/r.csv" --truth-log "$tmp/t.jsonl" 2>"$tmp/err"
pass_if eccd_session_is_memcheck_clean test $? -eq 0

$vg "$build/rel/eccreport" -q --svg "$tmp/s.svg" --trace "$tmp/r.csv" "$tmp/r.jsonl" \
    >/dev/null 2>"$tmp/err"
pass_if eccreport_is_memcheck_clean test $? -eq 0

# With the history writer and the control socket threads running, and eccctl asking.
$vg "$build/rel/eccd" -c config/sim.ini -q --sessions 1 --set sim.speed=50 \
    --set history.path="$tmp/h.db" --set server.socket="$tmp/s.sock" \
    --rep-log "$tmp/h.jsonl" 2>"$tmp/err" &
pid=$!
at_exit 'stop "$pid"'
wait_for 20 test -S "$tmp/s.sock"
$vg "$build/rel/eccctl" -s "$tmp/s.sock" status >/dev/null 2>"$tmp/ctl.err"
ctl=$?
"$build/rel/eccctl" -s "$tmp/s.sock" raw '{"v":1,"cmd":"nope"}' >/dev/null 2>&1
"$build/rel/eccctl" -s "$tmp/s.sock" history >/dev/null 2>&1
wait "$pid"
rc=$?
pid=
on_fail="$tmp/err $tmp/ctl.err"
pass_if eccd_with_history_and_socket_is_memcheck_clean test "$rc:$ctl" = 0:0
