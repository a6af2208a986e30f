#!/bin/sh
# t_control.sh BUILD - issue 11's verdicts on the whole matrix of simulated plants, every
# cell at seeds 1..5 (the optimised build's bench_control --check, about 10 s): eccd has at
# least the best fixed speed's strict time in band in every cell; no fixed speed beats it
# on both time in band and throughput; it counts every valid stroke and no other (paired
# with the athlete's ground truth stroke by stroke); its command never leads the drive's
# true output by more than control.lead_margin_mps; on HARD it is within 4 points of the
# oracle at equal throughput with at least 15 valid strokes per 45 s.
#
# bench_control prints the table (for the log) and one "ok"/"FAIL t_control: NAME" line
# per verdict; a run that cannot be set up reports no verdict, which run.sh counts failed.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 2
exec "$build/rel/tests/bench_control" --check
