#!/bin/sh
# demo.sh BUILD - `make demo`: one full session (3 x 15) of the normal athlete on the
# simulated rig, closed loop, then the same athlete and seed at a fixed belt speed
# (the plain treadmill of the clinical case report), then the rep tables, the
# comparison and an SVG plot of the first set.
set -eu
build=${1:-build}
out="$build/demo"
mkdir -p "$out"
seed=${SEED:-1}
scenario=${SCENARIO:-normal}

echo "eccd demo: one session of the '$scenario' athlete (seed $seed) on the simulated rig"
echo
for mode in continuous fixed; do
    "$build/eccd" -c config/sim.ini -q --sessions 1 --duration 3600 \
        --set control.mode=$mode --set sim.seed="$seed" --set sim.scenario="$scenario" \
        --rep-log "$out/$mode.jsonl" --trace "$out/$mode.csv" \
        --truth-log "$out/$mode-truth.jsonl"
done

"$build/eccreport" --compare "$out/fixed.jsonl" \
    --svg "$out/set1.svg" --trace "$out/continuous.csv" --compare-trace "$out/fixed.csv" \
    "$out/continuous.jsonl"

echo
for mode in continuous fixed; do
    strokes=$(grep -c '"event":"stroke"' "$out/$mode-truth.jsonl" || true)
    valid=$(grep -c '"valid":true' "$out/$mode-truth.jsonl" || true)
    counted=$(grep -c '"event":"rep"' "$out/$mode.jsonl" || true)
    echo "ground truth ($mode): the athlete made $strokes strokes, $valid valid; eccd counted $counted"
done
echo
echo "files in $out/:"
echo "  continuous.jsonl, fixed.jsonl   rep logs (one JSON line per rep, stroke, set, fault)"
echo "  continuous.csv, fixed.csv       traces (one row per 10 ms control tick)"
echo "  *-truth.jsonl                   the simulated athlete's own record of every stroke"
echo "  set1.svg                        force and belt speed through set 1, closed loop beside fixed"
