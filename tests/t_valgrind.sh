#!/bin/sh
# t_valgrind.sh BUILD - the optimised eccd and eccreport run a whole simulated session
# under valgrind's memcheck with no error and no leak (the sanitizer build covers the
# rest; valgrind also sees what ASan cannot, such as uninitialised reads).
set -u
build=${1:-build}
name=t_valgrind
if ! command -v valgrind >/dev/null 2>&1; then
    echo "skip $name: valgrind is not installed (apt-get install valgrind)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9"

$vg "$build/rel/eccd" -c config/sim.ini -q --sessions 1 --rep-log "$tmp/r.jsonl" \
    --trace "$tmp/r.csv" --truth-log "$tmp/t.jsonl" 2>"$tmp/err"
if [ $? -eq 0 ]; then echo "ok   $name: eccd_session_is_memcheck_clean"
else echo "FAIL $name: eccd_session_is_memcheck_clean"; cat "$tmp/err"; fi

$vg "$build/rel/eccreport" -q --svg "$tmp/s.svg" --trace "$tmp/r.csv" "$tmp/r.jsonl" \
    >/dev/null 2>"$tmp/err"
if [ $? -eq 0 ]; then echo "ok   $name: eccreport_is_memcheck_clean"
else echo "FAIL $name: eccreport_is_memcheck_clean"; cat "$tmp/err"; fi

# With the history writer and the control socket threads running, and eccctl asking.
$vg "$build/rel/eccd" -c config/sim.ini -q --sessions 1 --set sim.speed=50 \
    --set history.path="$tmp/h.db" --set server.socket="$tmp/s.sock" \
    --rep-log "$tmp/h.jsonl" 2>"$tmp/err" &
pid=$!
i=0
while [ ! -S "$tmp/s.sock" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
$vg "$build/rel/eccctl" -s "$tmp/s.sock" status >/dev/null 2>"$tmp/ctl.err"
ctl=$?
"$build/rel/eccctl" -s "$tmp/s.sock" raw '{"v":1,"cmd":"nope"}' >/dev/null 2>&1
"$build/rel/eccctl" -s "$tmp/s.sock" history >/dev/null 2>&1
wait "$pid"
if [ $? -eq 0 ] && [ $ctl -eq 0 ]; then echo "ok   $name: eccd_with_history_and_socket_is_memcheck_clean"
else echo "FAIL $name: eccd_with_history_and_socket_is_memcheck_clean"; cat "$tmp/err" "$tmp/ctl.err"; fi
