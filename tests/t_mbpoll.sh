#!/bin/sh
# t_mbpoll.sh BUILD - an independent Modbus master (mbpoll) reads and writes eccsim.
#
# Starts BUILD/san/eccsim on a free TCP port with a config written here, once as a
# delta-vfd and once as an optidrive-e3 (drive unit 1, load cell unit 2), and checks
# the profile's registers the way a technician with mbpoll would: output frequency 0 while
# stopped, a setpoint and a run command written, the output frequency reaching the
# setpoint, the fault register, the load cell's int32 reading, and the exceptions for a
# register the drive does not have. One more check goes over RTU, on eccsim's pty.
# Prints "ok   t_mbpoll: NAME" / "FAIL t_mbpoll: NAME" per test, "skip t_mbpoll: why"
# without mbpoll. Bounded: every mbpoll call has a 1 s timeout; about 10 s in all.
set -u
name=t_mbpoll
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.." || exit 2
build=${1:-build}
eccsim="$build/san/eccsim"
pid=

stop_rc=
stop_eccsim() {
    if [ -n "$pid" ]; then
        stop "$pid"
        stop_rc=$?
        pid=
    fi
}
# After SIGTERM: exit status 0 and no sanitizer report.
stopped_cleanly() {
    detail="status $stop_rc; $(grep -m 1 'Sanitizer\|runtime error' "$tmp/err")"
    [ "$stop_rc" = 0 ] && ! grep -q 'Sanitizer\|runtime error' "$tmp/err"
}
at_exit stop_eccsim

command -v mbpoll >/dev/null 2>&1 || skip_all "mbpoll is not installed (Debian package mbpoll)"
if [ ! -x "$eccsim" ]; then
    fail "eccsim_is_built" "$eccsim missing"
    exit 1
fi

# -- eccsim ---------------------------------------------------------------------------
cat >"$tmp/rig.ini" <<EOF
[drive]
unit_id = 1
baud = 19200
parity = even
watchdog_s = 10                 ; mbpoll writes once: keep the drive's watchdog quiet
[loadcell]
unit_id = 2
register = 0
reg_kind = holding
data_type = int32
word_order = big
scale = 0.01                    ; N per count
offset = 0
[sim]
scenario = $PWD/sim/scenarios/normal.ini
drive_accel_mps2 = 3
[eccsim]
listen = 127.0.0.1
pace_bytes = true
EOF

# start_eccsim PROFILE: on a free port the kernel picks; sets pid, port and pty.
start_eccsim() {
    "$eccsim" -c "$tmp/rig.ini" --set drive.profile="$1" --tcp-port auto \
        >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    # up to 10 s for the sanitizer build to start
    if wait_line "$tmp/out" '^eccsim: ready' 10 "$pid"; then
        pty=$(sed -n 's/^eccsim: rtu on //p' "$tmp/out")
        port=$(sed -n 's/^eccsim: tcp on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/out")
        [ -n "$port" ] && return 0
    fi
    stop_eccsim
    detail=$(head -n 3 "$tmp/err" | tr '\n' ' ')
    return 1
}

mb() { mbpoll -m tcp -p "$port" -o 1 "$@" 2>&1; }
# mbread OPTIONS...: the first value read, or nothing
mbread() { mb "$@" -1 127.0.0.1 | sed -n 's/^\[[0-9]*\]:[[:space:]]*//p' | head -n 1; }
# mbwrite VALUE OPTIONS...: true when mbpoll says it wrote
mbwrite() {
    v=$1
    shift
    mb "$@" 127.0.0.1 "$v" >"$tmp/mb"
    detail=$(tail -n 1 "$tmp/mb")
    grep -q 'Written 1 reference' "$tmp/mb"
}
# near VALUE WANT TOLERANCE
near() {
    detail="read '$1', want $2 +- $3"
    [ -n "$1" ] && awk -v x="$1" -v w="$2" -v t="$3" 'BEGIN { d = x - w; exit !(d <= t && -d <= t) }'
}
is() { detail="read '$1', want $2"; [ "$1" = "$2" ]; }
bit0_set() { detail="read '$1'"; [ -n "$1" ] && [ $(( $1 & 1 )) -eq 1 ]; }
exception() {
    detail=$(tail -n 1 "$tmp/mb")
    grep -q 'Illegal data address' "$tmp/mb"
}
timed_out() {
    detail=$(tail -n 1 "$tmp/mb")
    grep -q 'timed out' "$tmp/mb"
}
# The output frequency at the setpoint the tests write (18 Hz, in each profile's unit).
delta_at_speed() { near "$(mbread -a 1 -0 -r 0x2103)" 1800 20; }
optidrive_at_speed() { near "$(mbread -a 1 -r 7)" 180 2; }

# -- delta-vfd: registers as in its manual, 0-based (mbpoll -0) -----------------------
if start_eccsim delta-vfd; then
    ok "eccsim_serves_delta_vfd_on_tcp"
    pass_if "delta_output_frequency_0x2103_reads_0_while_stopped" \
        is "$(mbread -a 1 -0 -r 0x2103)" 0
    pass_if "delta_fault_0x2100_reads_0" is "$(mbread -a 1 -0 -r 0x2100)" 0
    v=$(mbread -a 2 -0 -r 0 -t 4:int -B)
    pass_if "loadcell_int32_reads_about_0_n_with_the_foot_off" \
        near "$(awk -v r="${v:-x}" 'BEGIN { if (r ~ /^-?[0-9]+$/) print r * 0.01 }')" 0 5
    pass_if "delta_setpoint_0x2001_write_18_hz" mbwrite 1800 -a 1 -0 -r 0x2001
    pass_if "delta_run_forward_0x2000_write_0x0012" mbwrite 18 -a 1 -0 -r 0x2000
    wait_for 5 delta_at_speed           # 0.3 m/s at 3 m/s^2 takes 0.1 s
    pass_if "delta_output_frequency_reaches_the_setpoint" delta_at_speed
    pass_if "delta_setpoint_reads_back" is "$(mbread -a 1 -0 -r 0x2001)" 1800
    pass_if "delta_status_0x2101_shows_running" bit0_set "$(mbread -a 1 -0 -r 0x2101)"
    pass_if "delta_fault_still_0_while_running" is "$(mbread -a 1 -0 -r 0x2100)" 0
    mb -a 1 -0 -r 0x2103 127.0.0.1 5 >"$tmp/mb"
    pass_if "write_to_a_register_the_drive_lacks_is_illegal_data_address" exception
    mb -a 1 -0 -r 0x0100 -1 127.0.0.1 >"$tmp/mb"
    pass_if "read_outside_the_drive_map_is_illegal_data_address" exception
    pass_if "delta_stop_0x2000_write_0x0001" mbwrite 1 -a 1 -0 -r 0x2000
    if [ -n "$pty" ]; then
        v=$(mbpoll -m rtu -b 19200 -P even -o 1 -a 1 -0 -r 0x2001 -1 "$pty" 2>&1 |
            sed -n 's/^\[[0-9]*\]:[[:space:]]*//p' | head -n 1)
        pass_if "rtu_on_the_pty_reads_the_same_setpoint" is "$v" 1800
        mbpoll -m rtu -b 19200 -P even -o 0.3 -a 7 -0 -r 0 -1 "$pty" >"$tmp/mb" 2>&1
        pass_if "rtu_ignores_other_unit_ids" timed_out
    else
        fail "rtu_pty_announced" "no 'eccsim: rtu on' line"
    fi
    stop_eccsim
    pass_if "delta_eccsim_exits_0_on_sigterm" stopped_cleanly
else
    fail "eccsim_serves_delta_vfd_on_tcp" "$detail"
fi

# -- optidrive-e3: registers numbered from 1, as mbpoll numbers them by default -------
if start_eccsim optidrive-e3; then
    ok "eccsim_serves_optidrive_e3_on_tcp"
    pass_if "optidrive_output_frequency_register_7_reads_0_while_stopped" \
        is "$(mbread -a 1 -r 7)" 0
    pass_if "optidrive_setpoint_register_2_write_18_hz" mbwrite 180 -a 1 -r 2
    pass_if "optidrive_run_register_1_write_1" mbwrite 1 -a 1 -r 1
    wait_for 5 optidrive_at_speed
    pass_if "optidrive_output_frequency_reaches_the_setpoint" optidrive_at_speed
    pass_if "optidrive_setpoint_reads_back" is "$(mbread -a 1 -r 2)" 180
    mb -a 1 -r 7 127.0.0.1 5 >"$tmp/mb"
    pass_if "optidrive_write_to_output_frequency_is_illegal_data_address" exception
    stop_eccsim
    pass_if "optidrive_eccsim_exits_0_on_sigterm" stopped_cleanly
else
    fail "eccsim_serves_optidrive_e3_on_tcp" "$detail"
fi
exit 0
