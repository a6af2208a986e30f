#!/bin/sh
# demo-hil.sh BUILD - `make demo-hil`: the real eccd drives eccsim, the simulated rig,
# over Modbus TCP on loopback, in real time: one short set (6 reps) of the normal
# athlete, each rep printed as it is counted, then the rep table and the athlete's own
# count of valid strokes beside eccd's.
set -eu
build=${1:-build}
out="$build/demo-hil"
mkdir -p "$out"
reps=${REPS:-6}

"$build/eccsim" -c tests/hil/tcp.ini --tcp-port auto --truth-log "$out/truth.jsonl" \
    --truth-csv "$out/truth.csv" -q >"$out/eccsim.out" 2>"$out/eccsim.err" &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
i=0
until grep -q '^eccsim: ready' "$out/eccsim.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "eccsim did not start:"; cat "$out/eccsim.err"; exit 1; }
    sleep 0.1
done
sed 's/^/  /' "$out/eccsim.out"
port=$(sed -n 's/^eccsim: tcp on .*:\([0-9][0-9]*\)$/\1/p' "$out/eccsim.out")
echo
echo "eccd -> eccsim over Modbus TCP (delta-vfd at unit 1, load cell at unit 2), one set of"
echo "$reps reps in real time (about $((reps * 3 + 5)) s); each stroke as eccd judges it:"
echo
"$build/eccd" -c tests/hil/tcp.ini --set drive.port="$port" \
    --set protocol.reps_per_set="$reps" -q --start --sessions 1 --duration 300 --table \
    --rep-log "$out/reps.jsonl"
sleep 1
kill -TERM $sim
wait $sim || true
trap - EXIT
echo
"$build/eccreport" "$out/reps.jsonl" | sed -n '/^Session 1, set 1/,$p'
echo
valid=$(grep -c '"valid":true' "$out/truth.jsonl" || true)
strokes=$(grep -c '"event":"stroke"' "$out/truth.jsonl" || true)
counted=$(grep -c '"event":"rep"' "$out/reps.jsonl" || true)
echo "ground truth (eccsim): the athlete made $strokes strokes, $valid valid; eccd counted $counted"
echo "files in $out/: reps.jsonl (eccd's rep log), truth.jsonl and truth.csv (eccsim's record)"
