#!/bin/sh
# t_hil.sh BUILD - hardware-in-the-loop: the real eccd binary against eccsim, the
# simulated rig served over Modbus TCP and over Modbus RTU on a pseudo-terminal with
# bytes paced at 19200 baud, in real time.
#
#  - a whole set over TCP (15 reps), over RTU (6 reps) and with a Huanyang HY drive in its own
#    framing on the pty (6 reps, the load cell over TCP): reps counted equal the athlete's
#    valid strokes (eccsim's ground truth), and the belt stops after the set; for the HY, no
#    fault and the belt speed eccd used is the one the drive reported;
#  - the same on the hard cell (tests/hil/hard.ini: slow drive, dead time, erratic
#    patient), plus strict time in band and the command never running ahead of the belt;
#  - each scripted fault latches the matching fault in eccd and the belt is stopped (a trip
#    of the HY too, which it shows only by refusing to run);
#  - kill -9 of eccd mid-set: eccsim's drive watchdog stops the belt within its time.
#
# Prints "ok   t_hil: NAME" / "FAIL t_hil: NAME" per test (tests/run.sh counts them).
set -u
build=${1:-build}
eccd="$build/san/eccd"
eccsim="$build/san/eccsim"
name=t_hil
. "$(dirname "$0")/lib.sh"
simpid=""
at_exit 'stop "$simpid"'
# Sanitizer runtimes add start-up time, not behaviour; keep their reports.
export ASAN_OPTIONS=detect_leaks=1

port=""   # start_sim sets it: eccsim's, picked by the kernel

. "$(dirname "$0")/hil/sim.sh"

# The last row of eccsim's truth CSV: t,setpoint_mps,motor_mps,belt_mps,force_n,running,...
last_motor() { tail -n 1 "$1" | cut -d, -f3; }

# verdicts_disagree REPLOG TRUTH BORDER: strokes (paired in order) that eccd counted and the
# truth calls invalid, or the other way round, leaving out those whose true in-band share is
# within BORDER of rep.min_in_band (0.5): on the threshold, a real-time run's timing decides
# (BORDER 0: every stroke).
verdicts_disagree() {
    grep -E '"event":"(rep|reject)"' "$1" | sed 's/.*"event":"\([a-z]*\)".*/\1/' >"$tmp/v.eccd"
    grep '"event":"stroke"' "$2" |
        sed 's/.*"in_band_share":\([0-9.]*\).*"valid":\([a-z]*\).*/\1 \2/' >"$tmp/v.truth"
    paste -d' ' "$tmp/v.eccd" "$tmp/v.truth" | awk -v b="$3" '
        { counted = $1 == "rep"; valid = $3 == "true"; d = $2 - 0.5; if (d < 0) d = -d
          if (counted != valid && (b == 0 || d > b)) n++ }
        END { print n + 0 }'
}

# -- a whole set ------------------------------------------------------------------------
whole_set() {
    tag=$1
    cfg=$2
    shift 2
    start_sim "$cfg" "$tag" "$@" || { fail "${tag}_whole_set" "$tmp/$tag.sim.err"; return; }
    timeout 240 "$eccd" -c "$cfg" --set drive.port="$port" --set loadcell.port="$port" -q \
        --start --sessions 1 \
        --rep-log "$tmp/$tag.reps.jsonl" --trace "$tmp/$tag.trace.csv" $dev_set \
        2>"$tmp/$tag.eccd.err"
    rc=$?
    sleep 1.5                                   # the belt ramps down after eccd's stop
    stop_sim
    reps=$(count '"event":"rep"' "$tmp/$tag.reps.jsonl")
    rejected=$(count '"event":"reject"' "$tmp/$tag.reps.jsonl")
    want=$(grep -m1 '^reps_per_set' "$cfg" | sed 's/.*= *//')
    valid=$(count '"valid":true' "$tmp/$tag.truth.jsonl")
    strokes=$(count '"event":"stroke"' "$tmp/$tag.truth.jsonl")
    motor=$(last_motor "$tmp/$tag.truth.csv")
    echo "  $tag: eccd exit $rc, $reps counted, $rejected rejected; eccsim: $strokes strokes, $valid valid; belt at the end $motor m/s"
    mism=$(verdicts_disagree "$tmp/$tag.reps.jsonl" "$tmp/$tag.truth.jsonl" "${border:-0}")
    [ "${border:-0}" = 0 ] || echo "  $tag: strokes judged unlike the truth, clear of the threshold by $border: $mism"
    if [ "$rc" -eq 0 ] && [ "$reps" -eq "$want" ] && [ "$mism" -eq 0 ] &&
       { [ "${border:-0}" != 0 ] || [ "$reps" -eq "$valid" ]; } &&
       [ $((reps + rejected)) -eq "$strokes" ]; then
        ok "${tag}_set_counts_the_athletes_valid_strokes"
    else
        fail "${tag}_set_counts_the_athletes_valid_strokes" "$tmp/$tag.eccd.err" "$tmp/$tag.sim.err"
    fi
    if awk -v m="$motor" 'BEGIN { exit !(m + 0 < 0.005) }' && grep -q '"event":"set"' "$tmp/$tag.reps.jsonl"; then
        ok "${tag}_belt_stops_after_the_set"
    else
        fail "${tag}_belt_stops_after_the_set" "$tmp/$tag.truth.csv"
    fi
}

dev_set=""
whole_set tcp tests/hil/tcp.ini
dev_set="--set drive.device=$tmp/tty"
whole_set rtu tests/hil/rtu.ini --pty-link "$tmp/tty"
whole_set hy tests/hil/hy.ini --pty-link "$tmp/tty"
dev_set=""

# The HY set: no fault, and the belt speed eccd worked with (encoder.type = drive) is what the
# HY reported as its output frequency: its peak is the simulated motor's (within 10%).
peak_eccd=$(awk -F, 'NR > 1 && $8 > m { m = $8 } END { printf "%.4f", m + 0 }' "$tmp/hy.trace.csv")
peak_true=$(awk -F, 'NR > 1 && $3 > m { m = $3 } END { printf "%.4f", m + 0 }' "$tmp/hy.truth.csv")
faults=$(count '"event":"fault"' "$tmp/hy.reps.jsonl")
echo "  hy: $faults faults; peak belt speed eccd read $peak_eccd m/s, the simulated motor's $peak_true m/s"
if [ "$faults" -eq 0 ] && awk -v e="$peak_eccd" -v t="$peak_true" \
       'BEGIN { d = e - t; if (d < 0) d = -d; exit !(t >= 0.1 && d <= 0.1 * t) }'; then
    ok "hy_set_has_no_fault_and_the_drives_reported_speed_is_read"
else
    fail "hy_set_has_no_fault_and_the_drives_reported_speed_is_read" "$tmp/hy.reps.jsonl" "$tmp/hy.eccd.err"
fi

# -- the hard cell (docs/control.md): a slow drive with dead time, an erratic patient ----
# On top of the whole set: strict time in band over every stroke's loaded window (eccsim's
# truth), eccd's command never more than control.lead_margin_mps above the belt speed it
# measured (its trace), and the drive's setpoint never more above its true output than
# that plus what the drive's ramp adds over its dead time and a bus cycle (eccsim's CSV).
border=0.03
whole_set hard tests/hil/hard.ini
border=0
strict=$(awk -F'"window_in_band_s":' 'NF > 1 { split($2, a, ","); inb += a[1];
             split($0, b, "\"window_s\":"); split(b[2], c, ","); win += c[1] }
         END { printf "%.3f", (win > 0 ? inb / win : 0) }' "$tmp/hard.truth.jsonl")
lead=$(awk -F, 'NR > 1 && $7 > 0 { d = $7 - $8; if (d > m) m = d } END { printf "%.4f", m + 0 }' \
       "$tmp/hard.trace.csv")
drive_lead=$(awk -F, 'NR > 1 && $2 > 0 { d = $2 - $3; if (d > m) m = d } END { printf "%.4f", m + 0 }' \
             "$tmp/hard.truth.csv")
echo "  hard: strict time in band $strict; command above the measured belt at most $lead m/s;" \
     "setpoint above the drive's output at most $drive_lead m/s"
if awk -v s="$strict" -v l="$lead" -v d="$drive_lead" \
       'BEGIN { exit !(s >= 0.90 && l <= 0.05 + 1e-6 && d <= 0.05 + 0.33 * (0.05 + 0.05)) }'; then
    ok "hard_cell_holds_the_band_and_never_runs_ahead_of_the_drive"
else
    fail "hard_cell_holds_the_band_and_never_runs_ahead_of_the_drive" "$tmp/hard.truth.jsonl"
fi

# -- scripted faults --------------------------------------------------------------------
# fault_case TAG CONFIG FAULT-SPEC EXPECTED-FAULT [eccsim options]
fault_case() {
    tag=$1
    cfg=$2
    spec=$3
    want=$4
    shift 4
    start_sim "$cfg" "$tag" --fault "$spec" "$@" || { fail "fault_$tag" "$tmp/$tag.sim.err"; return; }
    timeout 60 "$eccd" -c "$cfg" --set drive.port="$port" --set loadcell.port="$port" -q \
        --start --duration 11 \
        --rep-log "$tmp/$tag.reps.jsonl" $dev_set 2>"$tmp/$tag.eccd.err"
    sleep 1.5
    stop_sim
    first=$(grep -m1 '"event":"fault"' "$tmp/$tag.reps.jsonl" | sed 's/.*"fault":"\([a-z_]*\)".*/\1/')
    motor=$(last_motor "$tmp/$tag.truth.csv")
    echo "  $tag: fault $spec -> eccd latched '${first:-nothing}', belt at the end $motor m/s"
    if [ "$first" = "$want" ] && awk -v m="$motor" 'BEGIN { exit !(m + 0 < 0.005) }'; then
        ok "fault_${tag}_latches_${want}_and_stops_the_belt"
    else
        fail "fault_${tag}_latches_${want}_and_stops_the_belt" "$tmp/$tag.reps.jsonl" "$tmp/$tag.eccd.err" "$tmp/$tag.sim.err"
    fi
}

fault_case drive_silent tests/hil/tcp.ini drive-silent@6:2 drive_comm
fault_case drive_late tests/hil/tcp.ini drive-late@6:2 drive_comm
fault_case drive_exception tests/hil/tcp.ini drive-exception@6:2 drive_comm
fault_case drive_trip tests/hil/tcp.ini drive-trip@6 drive_trip
fault_case lc_silent tests/hil/tcp.ini lc-silent@6 force_stale
fault_case lc_freeze tests/hil/tcp.ini lc-freeze@6 force_stuck
fault_case lc_saturate tests/hil/tcp.ini lc-saturate@6 force_saturated
dev_set="--set drive.device=$tmp/tty"
fault_case drive_corrupt_rtu tests/hil/rtu.ini drive-corrupt@6:2 drive_comm --pty-link "$tmp/tty"
fault_case drive_trip_hy tests/hil/hy.ini drive-trip@6 drive_trip --pty-link "$tmp/tty"
dev_set=""

# -- kill -9 mid-set: the drive's own watchdog stops the belt ---------------------------
# Judged on eccsim's own clock alone: fed_t (its last column) is when the drive last got a
# setpoint or run command, which is what its watchdog counts from; no time of the shell's.
start_sim tests/hil/tcp.ini kill || fail "kill9_watchdog" "$tmp/kill.sim.err"
if [ -n "$simpid" ]; then
    "$eccd" -c tests/hil/tcp.ini --set drive.port="$port" -q --start 2>"$tmp/kill.eccd.err" &
    eccdpid=$!
    sleep 8                                     # the kill time is the test's input
    kill -9 "$eccdpid"
    wait "$eccdpid" 2>/dev/null
    eccdpid=""
    # until eccsim shows the watchdog fired and the motor stopped (at most 10 s)
    i=0
    while [ $i -lt 100 ] &&
          ! awk -F, 'NR > 1 && $8 == 1 && $3 + 0 < 0.005 { f = 1 } END { exit !f }' "$tmp/kill.truth.csv"; do
        sleep 0.1
        i=$((i + 1))
    done
    stop_sim
    cfgval() { "$eccd" -c tests/hil/tcp.ini --check-config 2>/dev/null | awk -v k="$1" '$1 == k { print $3; exit }'; }
    wd=$(cfgval watchdog_s)
    accel=$(cfgval drive_accel_mps2)
    dead=$(cfgval drive_dead_time_s)
    fired=$(awk -F, 'NR > 1 && $8 == 1 { print $1; exit }' "$tmp/kill.truth.csv")
    fed=$(awk -F, 'NR > 1 && $8 == 1 { print $9; exit }' "$tmp/kill.truth.csv")
    speed=$(awk -F, -v tf="${fed:-0}" 'NR > 1 && $1 <= tf { v = $3 } END { print v + 0 }' "$tmp/kill.truth.csv")
    stopped=$(awk -F, -v tf="${fired:-1e9}" 'NR > 1 && $1 >= tf && $3 + 0 < 0.005 { print $1; exit }' "$tmp/kill.truth.csv")
    # the watchdog fires watchdog_s after the last word (+ one 20 Hz row); the motor then
    # ramps down from the speed it had (sim.drive_accel_mps2) after the dead time, + 0.3 s
    fire_limit=$(awk -v f="${fed:-0}" -v w="${wd:-1}" 'BEGIN { printf "%.3f", f + w + 0.1 }')
    stop_limit=$(awk -v f="${fed:-0}" -v w="${wd:-1}" -v v="$speed" -v a="${accel:-0.3}" -v d="${dead:-0}" \
                 'BEGIN { printf "%.3f", f + w + d + v / a + 0.3 }')
    echo "  eccd's last word at ${fed:-never} s (motor at $speed m/s): watchdog fired at ${fired:-never} (limit $fire_limit), motor stopped at ${stopped:-never} (limit $stop_limit), eccsim's clock"
    if [ -n "$stopped" ] && [ -n "$fired" ] && [ -n "$fed" ] &&
       awk -v f="$fired" -v fl="$fire_limit" -v s="$stopped" -v sl="$stop_limit" -v w="${wd:-1}" -v t="$fed" \
           'BEGIN { exit !(f <= fl && f >= t + w - 0.06 && s <= sl) }'; then
        ok "kill9_mid_set_drive_watchdog_stops_the_belt"
    else
        fail "kill9_mid_set_drive_watchdog_stops_the_belt" "$tmp/kill.truth.csv" "$tmp/kill.sim.err"
    fi
fi
