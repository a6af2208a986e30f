#!/bin/sh
# t_probe.sh BUILD - eccd --probe, the real binary against eccsim over Modbus TCP and RTU:
# the table's lines checked one by one (each link, the drive's registers by name, address
# and scaled value, the load cell's reading and sample rate, the verdict), the exit status
# (0 ready, 3 not ready, 1 cannot open), and that the probe never moves the belt (eccsim's
# truth CSV). The GPIO lines are checked on the fake GPIO in test_probe.
#
# Prints "ok   t_probe: NAME" / "FAIL t_probe: NAME" per test.
set -u
build=${1:-build}
eccd="$build/san/eccd"
eccsim="$build/san/eccsim"
name=t_probe
. "$(dirname "$0")/lib.sh"
at_exit 'stop "$simpid"'
simpid=""
export ASAN_OPTIONS=detect_leaks=1
port=""   # start_sim sets it: eccsim's, picked by the kernel
. "$(dirname "$0")/hil/sim.sh"

# lines FILE PATTERN...: each extended regex matches a line of FILE (said when not).
lines() {
    f=$1
    shift
    for re in "$@"; do
        grep -Eq -- "$re" "$f" || { echo "  no line matching: $re"; return 1; }
    done
}
moving_rows() { awk -F, 'NR > 1 && $2 + 0 > 0' "$1" 2>/dev/null | wc -l; }

# probe_case TAG CONFIG WANT-RC [eccd --set ...] -- [eccsim options]; leaves $tmp/TAG.out
probe_case() {
    tag=$1
    cfg=$2
    want=$3
    shift 3
    sets=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do sets="$sets $1"; shift; done
    [ $# -gt 0 ] && shift
    start_sim "$cfg" "$tag" "$@" || return 1
    # shellcheck disable=SC2086
    timeout 30 "$eccd" -c "$cfg" --set drive.port="$port" $sets --probe >"$tmp/$tag.out" \
        2>"$tmp/$tag.err"
    rc=$?
    stop_sim
    echo "  $tag: exit $rc (want $want), $(moving_rows "$tmp/$tag.truth.csv") non-zero setpoints"
    [ "$rc" -eq "$want" ] && [ "$(moving_rows "$tmp/$tag.truth.csv")" -eq 0 ]
}

if probe_case tcp tests/hil/tcp.ini 0 -- &&
   lines "$tmp/tcp.out" \
       '^part +item +where +value$' \
       '^drive +link +tcp 127\.0\.0\.1:[0-9]+ unit 1 +answering: [1-9][0-9]* ok, 0 failed, round trip [0-9.]+ ms' \
       '^drive +profile +- +delta-vfd$' \
       '^drive +output frequency +reg 8451 = 0x2103 \(fc 3\) +0\.00 Hz = 0\.000 m/s \(raw 0\)$' \
       '^drive +status word +reg 8449 = 0x2101 \(fc 3\) +0x[0-9A-F]{4}$' \
       '^drive +fault code +reg 8448 = 0x2100 \(fc 3\) +0 \(none\)$' \
       '^drive +output current +reg 8452 = 0x2104 \(fc 3\) +[0-9.]+ A$' \
       '^drive +setpoint +reg 8193 = 0x2001 \(fc 6\) +0 written' \
       '^drive +command +reg 8192 = 0x2000 \(fc 6\) +1 written \(stop\)$' \
       '^load cell +link +tcp 127\.0\.0\.1:[0-9]+ unit 2 +answering: [1-9][0-9]* ok, 0 failed' \
       '^load cell +reading +reg 0 \(fc 3, int32, words big\) +raw -?[0-9]+ = -?[0-9.]+ N \(offset 0, scale 0\.01\)$' \
       '^load cell +sample rate +- +[1-9][0-9.]* samples/s \(loadcell\.rate_hz = 100\)$' \
       '^inputs +e-stop +- +not watched \(inputs\.type = none\)$' \
       '^rig +verdict +- +READY: pre-flight: ready$'; then
    ok "tcp_rig_is_ready_and_every_register_is_named"
else
    fail "tcp_rig_is_ready_and_every_register_is_named" "$tmp/tcp.out" "$tmp/tcp.err"
fi

if probe_case rtu tests/hil/rtu.ini 0 --set drive.device="$tmp/tty" -- --pty-link "$tmp/tty" &&
   lines "$tmp/rtu.out" \
       "^drive +link +rtu $tmp/tty 19200 8E1 unit 1 +answering: [1-9][0-9]* ok" \
       "^load cell +link +rtu $tmp/tty 19200 8E1 unit 2 +answering: [1-9][0-9]* ok" \
       '^drive +output frequency +reg 8451 = 0x2103 \(fc 3\) +0\.00 Hz' \
       '^rig +verdict +- +READY: pre-flight: ready$'; then
    ok "rtu_rig_is_ready_over_the_serial_line"
else
    fail "rtu_rig_is_ready_over_the_serial_line" "$tmp/rtu.out" "$tmp/rtu.err"
fi

if probe_case lc_unit tests/hil/tcp.ini 3 --set loadcell.unit_id=3 -- &&
   lines "$tmp/lc_unit.out" \
       '^load cell +link +tcp 127\.0\.0\.1:[0-9]+ unit 3 +NOT ANSWERING: 0 ok, [1-9][0-9]* failed; read fc 3 at 0 \(2 registers\): exception 0B \(gateway target device failed to respond\)' \
       '^load cell +reading +reg 0 .* +no reading yet$' \
       '^load cell +sample rate +- +0\.0 samples/s' \
       '^drive +link +tcp 127\.0\.0\.1:[0-9]+ unit 1 +answering' \
       '^rig +verdict +- +NOT READY: fault force_stale \[load cell tcp 127\.0\.0\.1:[0-9]+ unit 3: read fc 3'; then
    ok "a_load_cell_nobody_answers_is_named_and_not_ready"
else
    fail "a_load_cell_nobody_answers_is_named_and_not_ready" "$tmp/lc_unit.out" "$tmp/lc_unit.err"
fi

if probe_case trip tests/hil/tcp.ini 3 -- --fault drive-trip@0 &&
   lines "$tmp/trip.out" \
       '^drive +fault code +reg 8448 = 0x2100 \(fc 3\) +[1-9][0-9]* \(tripped\)$' \
       '^rig +verdict +- +NOT READY: fault drive_trip \[drive tcp 127\.0\.0\.1:[0-9]+ unit 1: answering\]$'; then
    ok "a_tripped_drive_shows_its_fault_code_and_is_not_ready"
else
    fail "a_tripped_drive_shows_its_fault_code_and_is_not_ready" "$tmp/trip.out" "$tmp/trip.err"
fi

"$eccd" -c config/sim.ini --probe >"$tmp/sim.out" 2>"$tmp/sim.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "needs rig.backend = hw" "$tmp/sim.err"; then
    ok "the_simulated_backend_has_nothing_to_probe"
else
    fail "the_simulated_backend_has_nothing_to_probe" "$tmp/sim.err"
fi
