#!/bin/sh
# t_eccd.sh BUILD - tests of the real eccd binary (sanitizer build): options, config
# checking, a simulated session's rep log against the athlete's ground truth, signals.
set -u
build=${1:-build}
name=t_eccd
. "$(dirname "$0")/lib.sh"
eccd="$build/san/eccd"
eccreport="$build/san/eccreport"

# -- options --------------------------------------------------------------------------
"$eccd" --help >"$tmp/help" 2>&1
pass_if "help_exits_0_and_documents_every_option" \
    sh -c "[ $? -eq 0 ] && grep -q -- '--check-config' '$tmp/help' && grep -q -- '--rep-log' '$tmp/help' && grep -q 'Exit status' '$tmp/help'"
"$eccd" --version >"$tmp/ver" 2>&1
pass_if "version" sh -c "[ $? -eq 0 ] && grep -q '^eccd [0-9]' '$tmp/ver'"
"$eccd" >"$tmp/noc" 2>&1
pass_if "no_config_is_a_usage_error" sh -c "[ $? -eq 2 ] && grep -q -- '-c FILE' '$tmp/noc'"
"$eccd" -c config/sim.ini --bogus >"$tmp/bogus" 2>&1
pass_if "unknown_option_is_a_usage_error" test $? -eq 2

# -- config ---------------------------------------------------------------------------
# Exit 0 or 3 both mean a valid config (3: this machine lacks the rig's hardware, users or
# directories; t_envcheck.sh tests that part).
for f in config/sim.ini config/clinic-vfd.ini config/home-pi.ini; do
    "$eccd" -c "$f" --check-config >"$tmp/eff.ini" 2>"$tmp/err"
    rc=$?
    "$eccd" -c "$tmp/eff.ini" --check-config >"$tmp/eff2.ini" 2>>"$tmp/err"
    rc2=$?
    pass_if "check_config_$(basename "$f" .ini)_prints_a_loadable_effective_config" \
        sh -c "{ [ $rc -eq 0 ] || [ $rc -eq 3 ]; } && [ $rc2 -eq $rc ] && grep -q '^force_low_n' '$tmp/eff.ini' && [ \"\$(tail -n +2 '$tmp/eff.ini')\" = \"\$(tail -n +2 '$tmp/eff2.ini')\" ]"
done

sed 's/^force_high_n = .*/force_high_n = 2000/' config/sim.ini >"$tmp/bad.ini"
line=$(grep -n '^force_high_n' "$tmp/bad.ini" | cut -d: -f1)
"$eccd" -c "$tmp/bad.ini" --check-config >"$tmp/out" 2>"$tmp/err"
rc=$?
pass_if "bad_value_names_file_line_key_and_range" \
    sh -c "[ $rc -eq 1 ] && grep -q '$tmp/bad.ini:$line: \[band\] force_high_n: .*allowed: 5 to 1000' '$tmp/err' && [ ! -s '$tmp/out' ]"
"$eccd" -c "$tmp/bad.ini" >"$tmp/out" 2>"$tmp/err"
pass_if "bad_config_halts_the_daemon_with_the_fix" \
    sh -c "[ $? -eq 1 ] && grep -q 'halted' '$tmp/err' && grep -q -- '--check-config' '$tmp/err'"
"$eccd" -c config/sim.ini --set band.force_low_n=120 --check-config >"$tmp/out" 2>"$tmp/err"
pass_if "contradiction_from_set_is_refused" \
    sh -c "[ $? -eq 1 ] && grep -q -- '--set: \[band\] force_low_n' '$tmp/err'"
"$eccd" -c config/sim.ini --set rig.backend=hw --duration 1 >"$tmp/out" 2>"$tmp/err"
pass_if "hw_backend_with_sim_parts_says_so" \
    sh -c "[ $? -eq 1 ] && grep -q 'rig.backend = hw, but \[drive\] type = sim' '$tmp/err'"
"$eccd" -c config/home-pi.ini --duration 1 --set inputs.chip=nosuchchip >"$tmp/out" 2>"$tmp/err"
pass_if "missing_gpio_chip_stops_start_up_and_names_it" \
    sh -c "[ $? -eq 1 ] && grep -q 'inputs: nosuchchip' '$tmp/err'"
"$eccd" -c config/sim.ini --set sim.scenario=nosuch --duration 1 >"$tmp/out" 2>"$tmp/err"
pass_if "missing_scenario_says_so" sh -c "[ $? -eq 1 ] && grep -q \"scenario 'nosuch'\" '$tmp/err'"

# -- a session: rep log against the athlete's own record ------------------------------
"$eccd" -c config/sim.ini -q --sessions 1 --set sim.scenario=partial --set sim.seed=11 \
    --rep-log "$tmp/reps.jsonl" --truth-log "$tmp/truth.jsonl" --trace "$tmp/trace.csv" 2>"$tmp/err"
rc=$?
counted=$(grep -c '"event":"rep"' "$tmp/reps.jsonl")
rejected=$(grep -c '"event":"reject"' "$tmp/reps.jsonl")
valid=$(grep -c '"valid":true' "$tmp/truth.jsonl")
strokes=$(grep -c '"event":"stroke"' "$tmp/truth.jsonl")
echo "  partial seed 11: $strokes strokes ($valid valid); eccd counted $counted, rejected $rejected"
pass_if "session_runs_and_exits_0" test "$rc" -eq 0
pass_if "counted_reps_equal_the_athletes_valid_strokes" test "$counted" -eq "$valid"
pass_if "every_stroke_is_logged" test $((counted + rejected)) -eq "$strokes"
pass_if "a_set_line_per_set_and_a_session_line" \
    sh -c "[ \$(grep -c '\"event\":\"set\"' '$tmp/reps.jsonl') -eq 3 ] && grep -q '\"event\":\"session\".*\"counted\":45' '$tmp/reps.jsonl'"
pass_if "rejected_strokes_carry_a_reason" \
    sh -c "! grep '\"event\":\"reject\"' '$tmp/reps.jsonl' | grep -v -q '\"verdict\":\"too_'"
# Every line has "wall" (UTC, ms); on the sim backend it is sim.wall_start (default
# 2026-01-05T07:00:00Z) plus the virtual time t, so the log is the same on every run.
walled=$(grep -c '"wall":"[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]\{3\}Z"' "$tmp/reps.jsonl")
sline=$(grep '"event":"session"' "$tmp/reps.jsonl")
st=$(echo "$sline" | sed 's/.*"t":\([0-9.]*\),.*/\1/')
sw=$(echo "$sline" | sed 's/.*"wall":"\([^"]*\)".*/\1/')
want_sw=$(date -u -d "@$(awk -v t="${st:-0}" 'BEGIN { printf "%.3f", 1767596400 + t }')" +%Y-%m-%dT%H:%M:%S.%3NZ)
pass_if "every_rep_log_line_has_its_wall_clock_time" \
    sh -c "[ '$walled' -eq \$(wc -l <'$tmp/reps.jsonl') ] && head -1 '$tmp/reps.jsonl' | grep -q '\"wall\":\"2026-01-05T07:00:00.000Z\"' && [ '$sw' = '$want_sw' ]"
"$eccreport" --quiet "$tmp/reps.jsonl" >"$tmp/report" 2>&1
pass_if "rep_log_is_valid_json_lines" test $? -eq 0
pass_if "trace_has_a_row_per_tick" \
    sh -c "head -1 '$tmp/trace.csv' | grep -q '^t,state,' && [ \$(wc -l <'$tmp/trace.csv') -gt 20000 ]"

# -- --sessions N exits once the belt is reported stopped -----------------------------
# The trace's speed column is the measured belt (on the sim backend: the simulated drive's
# reported motor speed, fused with the belt pulses). When the command first reaches zero
# after the session the belt still turns (so exiting there, as eccd once did, would leave
# it running); the last row, the tick eccd exits on, must have it stopped.
zero=$(awk -F, -v ts="${st:-0}" 'NR > 1 && $1 >= ts && $7 + 0 == 0 { print $1, $8; exit }' "$tmp/trace.csv")
last=$(tail -n 1 "$tmp/trace.csv" | awk -F, '{ print $1, $7, $8 }')
echo "  after the session (t = $st): command zero at t, belt = $zero; last row t, command, belt = $last"
pass_if "sessions_exit_waits_until_the_belt_is_stopped" \
    awk -v z="$zero" -v l="$last" 'BEGIN { split(z, a, " "); split(l, b, " ");
        exit !(a[2] + 0 > 0.05 && b[1] > a[1] && b[2] + 0 == 0 && b[3] + 0 < 0.001) }'

# A drive that does not stop: it runs away the moment the session ends (the run is the
# same as above up to then: virtual clock, same seed). eccd waits 1.5 x drive.decel_time_s
# (3 s) + drive.dead_time_s (0.05 s) + 1 s = 5.55 s from the command reaching zero, then
# exits 3 and says why.
"$eccd" -c config/sim.ini -q --sessions 1 --set sim.scenario=partial --set sim.seed=11 \
    --sim-fault "drive_runaway@${st:-0}" --trace "$tmp/runaway.csv" 2>"$tmp/runaway.err"
rc=$?
zero=$(awk -F, -v ts="${st:-0}" 'NR > 1 && $1 >= ts && $7 + 0 == 0 { print $1; exit }' "$tmp/runaway.csv")
last=$(tail -n 1 "$tmp/runaway.csv" | awk -F, '{ print $1, $8 }')
echo "  runaway at t = $st: exit status $rc, command zero at $zero, last row t, belt = $last"
pass_if "sessions_exit_with_a_belt_that_does_not_stop_is_an_error" \
    sh -c "[ $rc -eq 4 ] && grep -q 'the belt did not stop: .* the drive reports 1.000 m/s' '$tmp/runaway.err' &&
           awk -v z='${zero:-0}' -v l='$last' 'BEGIN { split(l, b, \" \"); w = b[1] - z;
               exit !(w >= 5.55 && w <= 5.6 && b[2] > 0.9) }'"

# -- signals: SIGTERM stops a real-time run cleanly -----------------------------------
# (once it says it is running: its signal handlers are in place and its loop is starting)
"$eccd" -c config/sim.ini --set sim.speed=1 --rep-log "$tmp/sig.jsonl" 2>"$tmp/sigerr" &
pid=$!
at_exit 'stop "$pid"'
wait_line "$tmp/sigerr" '^eccd: info: running: ' 30 "$pid"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
pass_if "sigterm_stops_cleanly" sh -c "[ $rc -eq 0 ] && grep -q 'stopped at' '$tmp/sigerr'"
