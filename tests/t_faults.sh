#!/bin/sh
# t_faults.sh BUILD - fault injection through the real eccd binary (sanitizer build) on
# the simulated rig: for every software-visible hazard row of docs/safety.md, the fault is
# injected 10 s into a set (eccd --sim-fault) and the rep log and trace must show
#   - the matching fault latched, within the row's stated time;
#   - the command is zero from the latching tick on, and stays zero (no reset is given);
#   - where the rig can stop the belt (all but a runaway or a lost drive, which are the
#     hardware's: e-stop, drive watchdog, dead-man), the belt reaches zero.
set -u
build=${1:-build}
name=t_faults
. "$(dirname "$0")/lib.sh"
eccd="$build/san/eccd"

# kind  allowed-faults(|-separated)  bound-s  belt-must-stop
# drive_runaway: the runaway drive carries the belt past the overspeed limit (0.805 m/s) on
# the simulated drive's own ramp (0.3 m/s^2, 0.05 s dead time): from the slowest running
# speed (0.08 m/s) that takes 2.47 s; the bound adds a tick and slack.
cases="estop estop 0.011 yes
lc_stale force_stale 0.52 yes
lc_stuck force_stuck 2.03 yes
lc_saturate force_saturated 0.025 yes
lc_negative force_implausible 0.025 yes
encoder_silent speed_disagree|speed_silent 3.02 no
drive_runaway overspeed|speed_disagree 2.6 no
drive_comm drive_comm 0.011 no
drive_trip drive_trip 0.011 yes
nan_speed force_stale 0.52 yes
lc_drift force_drift 25 yes"

echo "$cases" | while read -r kind want bound stop; do
    "$eccd" -c config/sim.ini -q --sim-fault "$kind@10" --duration 40 \
        --rep-log "$tmp/$kind.jsonl" --trace "$tmp/$kind.csv" 2>"$tmp/$kind.err"
    rc=$?
    line=$(grep -m1 '"event":"fault"' "$tmp/$kind.jsonl")
    got=$(echo "$line" | sed 's/.*"fault":"\([a-z_]*\)".*/\1/')
    t_latch=$(echo "$line" | sed 's/.*"t":\([0-9.]*\),.*/\1/')
    # From the latching tick on: every commanded speed (column 7) is 0, the state stays fault.
    moved=$(awk -F, -v t="${t_latch:-99}" 'NR > 1 && $1 >= t && ($7 + 0 != 0 || $2 != "fault")' "$tmp/$kind.csv" | wc -l)
    belt=$(tail -n 1 "$tmp/$kind.csv" | cut -d, -f8)
    late=$(awk -v t="${t_latch:-99}" 'BEGIN { printf "%.3f", t - 10 }')
    echo "  $kind: latched ${got:-nothing} ${late} s after onset (bound $bound s); commands after it not zero: $moved; belt at the end $belt m/s"
    ok=1
    [ "$rc" -eq 0 ] || ok=0
    echo "|$want|" | grep -q "|$got|" || ok=0
    awk -v l="$late" -v b="$bound" 'BEGIN { exit !(l >= 0 && l <= b) }' || ok=0
    [ "$moved" -eq 0 ] || ok=0
    if [ "$stop" = yes ]; then awk -v v="$belt" 'BEGIN { exit !(v + 0 < 0.01) }' || ok=0; fi
    if [ $ok -eq 1 ]; then ok "${kind}_latches_${got}_and_nothing_moves_after"
    else fail "${kind}_latches_${want}_and_nothing_moves_after" "$tmp/$kind.err"; fi
done
