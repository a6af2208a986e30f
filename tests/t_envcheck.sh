#!/bin/sh
# t_envcheck.sh BUILD - `eccd -c FILE --check-config` on this machine (sanitizer build): a
# config whose paths all point into a scratch folder is ready (exit 0); broken paths give
# one "problem:" line each, with the fix, and exit 3; a bad config still exits 1.
#
# Permissions: as a user other than root, an unwritable directory is judged for that user.
# Root may write anywhere, so as root the same case runs with [daemon] user = nobody (eccd
# started as root becomes that user before it opens its history), or says "skip" without it.
set -u
build=${1:-build}
name=t_envcheck
. "$(dirname "$0")/lib.sh"
eccd="$build/san/eccd"
pub=$(mktemp -d /tmp/t_envcheck.XXXXXX)      # searchable by nobody (for the root case)
chmod 0755 "$pub"
at_exit 'chmod -R u+rwx "$pub" 2>/dev/null; rm -rf "$pub"'
on_fail="$tmp/err $tmp/out"                  # a failed check shows what eccd said
has() { grep -qF -- "$1" "$tmp/err"; }
problems() { grep -c '^eccd: problem: ' "$tmp/err"; }

# check_config CONFIG [--set ...]: runs eccd --check-config, stdout to out, stderr to err; rc
check_config() {
    cfg=$1
    shift
    "$eccd" -c "$cfg" --check-config "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# -- ready ---------------------------------------------------------------------------------
check_config config/sim.ini --set history.path="$tmp/h.db" --set server.socket="$tmp/eccd.sock" \
    --rep-log "$tmp/reps.jsonl" --trace "$tmp/trace.csv"
pass_if "ready_machine_exits_0_and_says_so" \
    sh -c "[ $rc -eq 0 ] && grep -q '^eccd: environment: ready' '$tmp/err' && \
           ! grep -q '^eccd: problem:' '$tmp/err' && grep -q '^force_low_n' '$tmp/out'"

check_config config/clinic-vfd.ini --set drive.type=modbus-tcp --set drive.host=127.0.0.1 \
    --set inputs.type=none --set history.path="$tmp/h.db" --set server.socket="$tmp/eccd.sock" \
    --set server.group=
pass_if "tcp_drive_is_a_note_not_a_problem" \
    sh -c "[ $rc -eq 0 ] && grep -q '^eccd: note: \[drive\] host: 127.0.0.1:502: a Modbus TCP link is not checked offline' '$tmp/err'"

# -- broken --------------------------------------------------------------------------------
check_config config/home-pi.ini --set inputs.chip="$tmp/gpiochip9" \
    --set encoder.chip="$tmp/gpiochip9" --set loadcell.hx711_chip="$tmp/gpiochip9" \
    --set drive.device=/dev/ttyFOO --set history.path="$tmp/nodir/h.db" \
    --set server.socket="$tmp/eccd.sock" --set server.group=eccd-no-such-group \
    --set loadcell.calibration="$tmp/loadcell.cal"
pass_if "broken_machine_exits_3" test "$rc" -eq 3
pass_if "one_gpio_chip_one_line_naming_every_key_with_the_fix" \
    has "eccd: problem: [inputs] chip, [encoder] chip, [loadcell] hx711_chip: $tmp/gpiochip9: No such file or directory; fix: no GPIO chip $tmp/gpiochip9 on this machine: gpiodetect lists them"
pass_if "missing_serial_port_says_to_plug_the_adapter_in" \
    has "eccd: problem: [drive] device: /dev/ttyFOO: No such file or directory; fix: plug in the USB-RS485 adapter"
pass_if "missing_history_directory_with_the_install_command" \
    sh -c "grep -q '^eccd: problem: \[history\] path: $tmp/nodir: No such file or directory; fix: sudo install -d -o [^ ]* -g [^ ]* -m 0750 $tmp/nodir\$' '$tmp/err'"
pass_if "missing_socket_group_with_the_command_that_makes_it" \
    has "eccd: problem: [server] group: eccd-no-such-group: no such group on this machine; fix: sudo groupadd --system eccd-no-such-group"
pass_if "every_problem_counted_and_the_config_still_printed" \
    sh -c "[ \$(grep -c '^eccd: problem: ' '$tmp/err') -eq 4 ] && grep -q '^eccd: environment: 4 problems would stop a start' '$tmp/err' && grep -q '^force_low_n' '$tmp/out'"

: >"$tmp/regular"
check_config config/home-pi.ini --set inputs.type=none --set encoder.chip=/dev/null \
    --set drive.device="$tmp/regular" --set history.path= --set server.socket= \
    --set loadcell.calibration=
pass_if "a_file_is_not_a_serial_port_nor_dev_null_a_gpio_chip" \
    sh -c "[ $rc -eq 3 ] && grep -qF 'eccd: problem: [drive] device: $tmp/regular: not a device but a regular file' '$tmp/err' && grep -qF 'eccd: problem: [encoder] chip: /dev/null: ' '$tmp/err' && grep -qF 'it is not a GPIO chip' '$tmp/err'"

check_config config/home-pi.ini --set inputs.type=none --set encoder.type=drive \
    --set drive.type=pwm --set drive.device="$tmp/pwmchip9" --set loadcell.type=iio \
    --set loadcell.iio_device="$tmp/iio:device9" --set history.path= --set server.socket= \
    --set loadcell.calibration=
pass_if "pwm_chip_and_iio_device_missing_say_which_overlay" \
    sh -c "[ $rc -eq 3 ] && grep -qF 'pwmchip9: No such file or directory; fix: turn the PWM on (dtoverlay=pwm' '$tmp/err' && grep -qF 'eccd: problem: [loadcell] iio_device: $tmp/iio:device9: No such file or directory; fix: load the kernel' '$tmp/err'"

sed 's/^force_high_n = .*/force_high_n = 2000/' config/sim.ini >"$tmp/bad.ini"
check_config "$tmp/bad.ini"
pass_if "bad_config_still_exits_1_and_checks_no_machine" \
    sh -c "[ $rc -eq 1 ] && ! grep -q 'environment' '$tmp/err'"

# -- permissions ----------------------------------------------------------------------------
mkdir "$pub/closed" && chmod 0555 "$pub/closed"
if [ "$(id -u)" -ne 0 ]; then
    check_config config/sim.ini --set history.path="$pub/closed/h.db"
    pass_if "unwritable_history_directory_for_this_user" \
        sh -c "[ $rc -eq 3 ] && grep -qF 'eccd: problem: [history] path: $pub/closed: Permission denied (' '$tmp/err'"
elif id nobody >/dev/null 2>&1; then
    check_config config/sim.ini --set history.path="$pub/closed/h.db" \
        --set server.socket="$pub/eccd.sock" --set daemon.user=nobody
    pass_if "unwritable_history_directory_for_the_daemon_user" \
        sh -c "[ $rc -eq 3 ] && grep -qF 'eccd: problem: [history] path: $pub/closed: Permission denied (root:root 0555: nobody may not create files in it)' '$tmp/err' && grep -qF 'eccd: problem: [server] socket: $pub: Permission denied' '$tmp/err'"
else
    skip unwritable_history_directory "runs as root, and there is no user nobody to judge it for"
fi

# -- a start that fails on one of them carries the same fix -----------------------------------
"$eccd" -c config/home-pi.ini --set inputs.chip="$tmp/gpiochip9" --set history.path= \
    --set server.socket= --set loadcell.calibration= --duration 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
pass_if "failed_start_on_a_gpio_chip_gives_the_fix_and_the_check" \
    sh -c "[ $rc -eq 1 ] && grep -qF 'inputs: $tmp/gpiochip9: No such file or directory; fix: no GPIO chip $tmp/gpiochip9 on this machine: gpiodetect lists them' '$tmp/err' && grep -qF 'eccd -c config/home-pi.ini --check-config lists every such problem at once' '$tmp/err'"
"$eccd" -c config/clinic-vfd.ini --set inputs.type=none --set drive.device=/dev/ttyFOO \
    --set history.path= --set server.socket= --duration 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
pass_if "failed_start_on_a_serial_port_gives_the_fix" \
    sh -c "[ $rc -eq 1 ] && grep -qF '[drive] device: /dev/ttyFOO: No such file or directory; fix: plug in the USB-RS485 adapter' '$tmp/err'"
