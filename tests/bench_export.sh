#!/bin/sh
# bench_export.sh BUILD - `make bench`, the history's export: a clinic's year (394 200 reps,
# tests/fixtures/history-394k.sql) exported through the real eccd and eccctl (optimised
# builds) while eccd runs a set on the simulated rig:
#   - export throughput: rows per second of `eccctl export --csv -o FILE`, end to end;
#   - eccd's resident memory: its peak (VmHWM) after the export;
#   - `eccctl status` from another client throughout the export: how long each took (a
#     whole eccctl run: process start, connect, request, reply), median and worst.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
eccd="$build/rel/eccd"
eccctl="$build/rel/eccctl"
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
start_eccd() {
    "$eccd" -c config/sim.ini --set sim.speed=5 --set history.path="$tmp/history.db" \
        --set server.socket="$tmp/eccd.sock" --duration 3600 2>"$tmp/eccd.err" &
    pid=$!
    i=0
    while [ ! -S "$tmp/eccd.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}

echo "== the history's export (394 200 reps) through eccd and eccctl"
start_eccd
kill "$pid"; wait "$pid"
sqlite3 "$tmp/history.db" <tests/fixtures/history-394k.sql || exit 1
rm -f "$tmp/eccd.sock"
start_eccd
rows=$(sqlite3 "$tmp/history.db" "SELECT count(*) FROM reps")

t0=$(now_ms)
"$eccctl" -s "$tmp/eccd.sock" export --csv -o "$tmp/export.csv" &
xpid=$!
: >"$tmp/status.ms"
while kill -0 "$xpid" 2>/dev/null; do
    s0=$(now_ms)
    "$eccctl" -s "$tmp/eccd.sock" status >/dev/null || echo "status failed" >&2
    echo $(($(now_ms) - s0)) >>"$tmp/status.ms"
done
wait "$xpid"
t1=$(now_ms)
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
n=$(wc -l <"$tmp/status.ms")
sort -n "$tmp/status.ms" >"$tmp/status.sorted"
med=$(sed -n "$(((n + 1) / 2))p" "$tmp/status.sorted")
max=$(tail -n 1 "$tmp/status.sorted")
echo "export: $rows rows in $((t1 - t0)) ms: $((rows * 1000 / (t1 - t0 + 1))) rows/s" \
     "($(($(stat -c %s "$tmp/export.csv") / 1048576)) MiB of CSV)"
echo "eccd peak RSS (VmHWM) after the export: $hwm kB"
echo "eccctl status during the export: $n runs, median $med ms, worst $max ms" \
     "(a whole eccctl process each)"
