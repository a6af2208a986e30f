#!/bin/sh
# bench_programme.sh BUILD - twelve simulated weeks through the real eccd (optimised build),
# for each simulated patient of tests/t_programme.sh, one at a time: the wall time of the
# 84 days (median of 3 runs), the loop's ticks and the sessions done. Goal: under 30 s.
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
days=84

# The clinician's programme, set with eccctl on an eccd paced to real time (as t_programme).
set_programme() {
    "$build/rel/eccd" -c "$here/config/sim.ini" --set history.path="$tmp/h.db" \
        --set server.socket="$tmp/s.sock" --set sim.speed=1 --set sim.scenario="$1" \
        >/dev/null 2>"$tmp/setup.err" &
    pid=$!
    i=0
    while [ ! -S "$tmp/s.sock" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
    "$build/rel/eccctl" -s "$tmp/s.sock" programme set --band 60:100 --step 0.05 --floor 50 \
        --ceiling 160 --weeks 12 >/dev/null || { kill $pid; exit 1; }
    kill $pid
    wait $pid
}

echo "bench_programme: twelve simulated weeks ($days days) of the real eccd, sim.skip_quiet"
printf '  %-14s %9s %12s %9s\n' patient "median s" ticks sessions
for p in tolerant12 irritable12 nonadherent12; do
    : >"$tmp/times"
    for run in 1 2 3; do
        rm -f "$tmp/h.db"*
        set_programme $p
        t0=$(date +%s.%N)
        "$build/rel/eccd" -c "$here/config/sim.ini" --set history.path="$tmp/h.db" \
            --set sim.scenario=$p --set sim.skip_quiet=true --duration $((days * 86400)) \
            >/dev/null 2>"$tmp/err" || { echo "  $p: eccd failed"; cat "$tmp/err"; exit 1; }
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }' >>"$tmp/times"
    done
    ticks=$(sed -n 's/.*: \([0-9]*\) ticks, .*/\1/p' "$tmp/err")
    sessions=$(sed -n 's/.* ticks, \([0-9]*\) sessions done.*/\1/p' "$tmp/err")
    printf '  %-14s %9s %12s %9s\n' $p "$(sort -n "$tmp/times" | sed -n 2p)" "$ticks" "$sessions"
done
