#!/bin/sh
# t_eccctl.sh BUILD - eccctl against the real eccd (sanitizer build) on the simulated rig,
# paced at 20 x real time, with a history file and a control socket in a scratch folder.
#
#  - status, patients, pain, history and export answer with what the database holds;
#  - malformed, oversized, unknown and wrong-version requests get error replies and the
#    daemon keeps answering (and counting reps) afterwards;
#  - the socket is mode 0660 with the configured group; a user outside the group cannot
#    connect (the file mode), and with the mode opened up, eccd's own peer check refuses
#    it; a user in the group is served;
#  - stop, start and reset-fault go through; a tare on the simulated cell completes and
#    goes into the history, a span without a mass on the plate fails; SIGTERM ends eccd
#    cleanly and removes the socket.
# Prints "ok   t_eccctl: NAME" / "FAIL t_eccctl: NAME".
set -u
build=${1:-build}
name=t_eccctl
. "$(dirname "$0")/lib.sh"
eccd="$build/san/eccd"
eccctl="$build/san/eccctl"
chmod 0755 "$tmp"     # the other user must reach the socket; its own mode guards it
pid=""
at_exit 'stop "$pid"'
export ASAN_OPTIONS=detect_leaks=1

ctl() { "$eccctl" -s "$tmp/eccd.sock" "$@" 2>&1; }
q() { sqlite3 -batch -noheader "$tmp/history.db" "$1"; }

# A group the test's other user is put in for the positive case.
gid=4242
"$eccd" -c config/sim.ini --set sim.speed=20 --set history.path="$tmp/history.db" \
    --set server.socket="$tmp/eccd.sock" --set server.group=$gid \
    --set protocol.reps_per_set=3 --set protocol.rest_s=5 --duration 3600 \
    --rep-log "$tmp/reps.jsonl" 2>"$tmp/eccd.err" &
pid=$!
wait_for 10 test -S "$tmp/eccd.sock"
[ -S "$tmp/eccd.sock" ] || { fail "eccd_starts" "$tmp/eccd.err"; exit 0; }
ok eccd_starts

# -- access ---------------------------------------------------------------------------
check socket_mode_and_group "$(stat -c '%a %g' "$tmp/eccd.sock")" "660 $gid"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$eccctl" -s "$tmp/eccd.sock" status 2>&1)
    rc=$?
    case "$rc:$out" in
        3:*"ermission denied"*) ok outsider_cannot_connect ;;
        *) fail outsider_cannot_connect "exit $rc: $out" ;;
    esac
    chmod 0666 "$tmp/eccd.sock"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$eccctl" -s "$tmp/eccd.sock" status 2>&1)
    rc=$?
    case "$rc:$out" in
        1:*"may not control eccd"*) ok outsider_refused_by_eccd ;;
        *) fail outsider_refused_by_eccd "exit $rc: $out" ;;
    esac
    chmod 0660 "$tmp/eccd.sock"
    out=$(setpriv --reuid=65534 --regid=65534 --groups=$gid "$eccctl" -s "$tmp/eccd.sock" status 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then ok group_member_served; else fail group_member_served "exit $rc: $out"; fi
else
    for t in outsider_cannot_connect outsider_refused_by_eccd group_member_served; do
        skip "$t" "peer access needs root (CAP_SETUID, CAP_SETGID) and setpriv"
    done
fi

# -- requests eccd must shrug off -------------------------------------------------------
long=$(head -c 5000 /dev/zero | tr '\0' x)
for req in 'not json' '{"v":1}' '{"v":2,"cmd":"status"}' '{"v":1,"cmd":"fly"}' \
           '{"v":1,"cmd":"pain","score":11}' '{"v":1,"cmd":"status","x":1}' \
           '[1,2,3]' "{\"v\":1,\"cmd\":\"status\",\"tag\":\"$long\"}"; do
    out=$(ctl raw "$req")
    rc=$?
    case "$rc:$out" in
        1:*'"ok":false'*) ;;
        *) fail malformed_requests_refused "$req -> exit $rc: $out"; req=bad; break ;;
    esac
done
[ "$req" = bad ] || ok malformed_requests_refused
contains too_long_named "$(ctl raw "{\"v\":1,\"cmd\":\"status\",\"tag\":\"$long\"}")" '"error":"too_long"'
contains version_named "$(ctl raw '{"v":2,"cmd":"status"}')" '"error":"version"'
out=$(ctl status)
contains still_answers_after_junk "$out" "patient"

# -- patients, reps, pain, history, export ----------------------------------------------
contains patient_add "$(ctl patient add 'Ann, "A"' --force-low 70 --force-high 110)" "added"
contains patient_add_duplicate_refused "$(ctl patient add 'Ann, "A"'; echo "rc=$?")" "rc=1"
contains patient_list "$(ctl patient list)" 'Ann, "A"'
# the athlete starts the set itself; wait for the session to end (3 x 3 reps)
session_done() { [ "$(q "SELECT count(*) FROM sessions WHERE status = 'done'" 2>/dev/null)" = 1 ]; }
wait_for 120 session_done
check session_done_in_database "$(q "SELECT count(*) FROM sessions WHERE status = 'done'")" 1
contains pain_recorded "$(ctl pain 4)" "set 3"
check pain_in_database "$(q 'SELECT pain FROM sets WHERE n = 3')" 4
reps=$(q 'SELECT count(*) FROM reps')
check reps_in_database "$reps" 9
check rep_log_matches_database "$(grep -c '"event":"rep"' "$tmp/reps.jsonl")" "$reps"
hist=$(ctl history --days 1)
contains history_lists_the_session "$hist" "done"
ctl export --csv -o "$tmp/export.csv" >/dev/null
check export_rows "$(($(wc -l <"$tmp/export.csv") - 1))" "$reps"
contains export_header "$(head -n 1 "$tmp/export.csv")" "patient,session,session_started,set,rep"
contains start_refused_by_the_day_rule "$(ctl start)" "allowed in"
contains select_other_patient "$(ctl patient select 2)" "Ann"
contains status_shows_patient "$(ctl status)" 'Ann, "A"'
contains tare_on_sim "$(ctl tare)" "tare started"
# The simulated cell tares as a real one does: over a second of readings (sim time).
tare_done() { ctl status | grep -q "calibration  1 tare and 0 spans done"; }
wait_for 20 tare_done
contains tare_done_on_sim "$(ctl status)" "calibration  1 tare and 0 spans done"
# A span needs a mass, which the simulated plate never carries: refused as on an empty plate.
contains calibrate_on_sim "$(ctl calibrate 20)" "span calibration started"
wait_line "$tmp/eccd.err" "load cell: calibration failed: Numerical argument out of domain" 20
contains span_without_a_mass_fails "$(cat "$tmp/eccd.err")" "calibration failed: Numerical argument out of domain"
contains no_span_counted "$(ctl status)" "calibration  1 tare and 0 spans done"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
check sigterm_exit_status "$rc" 0
if [ -e "$tmp/eccd.sock" ]; then fail socket_removed_on_exit; else ok socket_removed_on_exit; fi
check integrity_after_exit "$(q 'PRAGMA integrity_check')" ok
check calibration_recorded "$(q "SELECT count(*) FROM calibrations WHERE kind = 'tare'")" 1
if grep -q "ERROR: AddressSanitizer\|runtime error" "$tmp/eccd.err"; then
    fail sanitizers_quiet "$(grep -m3 "ERROR\|runtime error" "$tmp/eccd.err")"
else
    ok sanitizers_quiet
fi
