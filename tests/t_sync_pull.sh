#!/bin/sh
# t_sync_pull.sh BUILD - what the clinic sets centrally reaches the rigs (docs/fleet.md,
# "What the clinic sets"), with the harness of tests/synclib.sh (a real PostgreSQL 15 with
# TLS, the real eccd on the simulator, eccsync over verify-full):
#  - the clinic adds a patient and its programme to the central database; each rig's
#    eccsync brings them back and hands them to its eccd over the control socket, which
#    adds the patient under the clinic's UUID with the clinic's programme (eccd stays the
#    only writer of the rig's file);
#  - a clinic patient whose name another patient on the rig has is refused and said, and
#    the others still arrive;
#  - the patient trains on rig a, then the clinic changes the programme by SQL (stamped
#    with the server's time): rig a takes it between sessions, with a progression row that
#    says it came from the clinic's database; rig b, where the patient trains next, has it;
#  - an older programme (a rig's copy before the clinic's change) does not undo it;
#  - in the end the central database equals both rigs' files (tests/sync_check), and holds
#    the patient's sessions from both rigs under one UUID; the clinic's report of the
#    patient (eccsync --admin --report) covers both rigs and shows the clinic's change;
#  - a change the clinic makes while the patient trains on rig a is refused by eccd for the
#    session's length (the session keeps its programme, eccsync says why once) and taken
#    once the session is over, by the same eccd.
set -u
name=t_sync_pull
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/synclib.sh"
eccctl="$build/rel/eccctl"
command -v sqlite3 >/dev/null || skip_all "the sqlite3 command is missing (apt-get install sqlite3)"
sync_setup
q() { sqlite3 -batch -noheader "$1" "$2" 2>&1; }

uuid=6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f
clash=6f1c2d3e-4b5a-4c6d-8e7f-00000000c1a5
start=1767596400                              # the simulated rig's first day
sql "INSERT INTO ecc.patients(uuid, name, created) VALUES ('$uuid', 'Clinic Ann', $start - 86400),
     ('$clash', 'patient', $start - 86400)" >/dev/null
sql "INSERT INTO ecc.programmes(patient_uuid, start, weeks, sessions_per_day, sets, reps,
     band_low, band_high, step_share, floor_n, ceiling_n, locked, level, updated)
     VALUES ('$uuid', $start, 12, 2, 3, 15, 60, 100, 0.05, 50, 160, 0, 0, $start - 86400)" >/dev/null

# serve ID: the rig's eccd paced to real time with its socket (the simulated patient's
# first act is half an hour away: no session starts), in the background ($serve_pid).
serve() {
    d="$tmp/$1"
    shift
    "$eccd" -c config/sim.ini --set history.path="$d/h.db" --set server.socket="$d/s.sock" \
        --set sim.speed=1 --set sim.scenario="$tmp/three.ini" "$@" >/dev/null 2>>"$d/serve.err" &
    serve_pid=$!
    wait_for 20 test -S "$d/s.sock"
}
pulled() { [ "$(q "$tmp/$1/h.db" "SELECT count(*) FROM patients p JOIN programmes g
                ON g.patient_id = p.id WHERE p.uuid = '$uuid' AND g.$2")" = 1 ]; }
local_id() { q "$tmp/$1/h.db" "SELECT id FROM patients WHERE uuid = '$uuid'"; }

# ---- the clinic's patient reaches rig a ------------------------------------------------
rig a && rig b
serve a
sync_rig a bg --set server.socket="$tmp/a/s.sock" --set sync.pull_s=0.2
on_fail="$tmp/a/sync.log"
pass_if the_clinics_patient_and_programme_reach_the_rig wait_for 30 pulled a "band_low = 60"
check the_patient_keeps_the_clinics_uuid_and_name \
    "$(q "$tmp/a/h.db" "SELECT name FROM patients WHERE uuid = '$uuid'")" "Clinic Ann"
check a_name_taken_on_the_rig_is_not_added \
    "$(q "$tmp/a/h.db" "SELECT count(*) FROM patients WHERE uuid = '$clash'")" 0
contains a_name_taken_on_the_rig_is_said "$(cat "$tmp/a/sync.log")" "another UUID"
"$eccctl" -s "$tmp/a/s.sock" patient select "$(local_id a)" >"$tmp/a/select.out" 2>&1
check the_clinics_patient_is_selected $? 0
stop "$serve_pid" >/dev/null

# ---- trains on rig a; the clinic changes the programme; rig a takes it --------------------
train a 3
on_fail="$tmp/a/eccd.err"
check the_patient_trained_on_rig_a "$(q "$tmp/a/h.db" "SELECT count(*) FROM sessions s
    JOIN patients p ON p.id = s.patient_id WHERE p.uuid = '$uuid' AND s.status = 'done'")" 6
wait_for 30 checked a="$tmp/a/h.db"
sql "UPDATE ecc.programmes SET ceiling_n = 150, level = 1 WHERE patient_uuid = '$uuid'" >/dev/null
stamped=$(sql "SELECT updated > extract(epoch FROM now()) - 600 FROM ecc.programmes
               WHERE patient_uuid = '$uuid'")
check the_clinics_edit_is_stamped_with_the_servers_time "$stamped" t
serve a
on_fail="$tmp/a/sync.log"
pass_if rig_a_takes_the_clinics_change_between_sessions \
    wait_for 30 pulled a "ceiling_n = 150 AND g.level = 1"
check the_change_is_recorded_as_from_the_clinic "$(q "$tmp/a/h.db" "SELECT count(*) FROM
    progression WHERE reason LIKE 'from the clinic''s database%' AND level_to = 1")" 1
stop "$serve_pid" >/dev/null
stop "$sync_pid" >/dev/null

# ---- rig b: the patient trains there next ------------------------------------------------
serve b --set sim.wall_start=$((start + 3 * 86400))
sync_rig b bg --set server.socket="$tmp/b/s.sock" --set sync.pull_s=0.2
on_fail="$tmp/b/sync.log"
pass_if rig_b_has_the_changed_programme wait_for 30 pulled b "ceiling_n = 150 AND g.level = 1"
"$eccctl" -s "$tmp/b/s.sock" patient select "$(local_id b)" >"$tmp/b/select.out" 2>&1
stop "$serve_pid" >/dev/null
train b 2 --set sim.wall_start=$((start + 3 * 86400))
stop "$sync_pid" >/dev/null

# ---- an older copy does not undo the clinic's change ---------------------------------------
sync_rig a once --set sync.pull_s=0
sync_rig b once --set sync.pull_s=0
check an_older_copy_leaves_the_clinics_change "$(sql "SELECT ceiling_n || '/' || level FROM
    ecc.programmes WHERE patient_uuid = '$uuid'")" "150/1"
on_fail="$tmp/check.out"
pass_if the_central_database_equals_both_rigs checked a="$tmp/a/h.db" b="$tmp/b/h.db"
echo "   $(tail -1 "$tmp/check.out")"
check one_patient_sessions_from_both_rigs "$(sql "SELECT count(DISTINCT rig_id) || ' rigs, ' ||
    count(*) || ' sessions' FROM ecc.sessions WHERE patient_uuid = '$uuid'")" "2 rigs, 10 sessions"

# ---- the clinic's report of the patient covers both rigs -------------------------------------
"$eccsync" --admin "$admin" --report "$uuid" --json -o "$tmp/report.json" >"$tmp/report.err" 2>&1
check the_clinics_report_is_made $? 0
"$build/rel/tests/report_same" summary "$tmp/report.json" >"$tmp/summary.txt" 2>&1
on_fail="$tmp/summary.txt"
check the_report_covers_both_rigs "$(sed -n 's/^rigs=//p' "$tmp/summary.txt")" "a,b"
check the_report_has_every_session "$(sed -n 's/^sessions=//p' "$tmp/summary.txt")" 10
contains the_report_shows_the_clinics_change "$(cat "$tmp/report.json")" "from the clinic's database"
# ---- while the patient trains on rig a, the clinic's change waits for the session's end ------
refusals() { grep -c "tried again later" "$tmp/a/sync.log"; }
before=$(refusals)
sync_rig a bg --set server.socket="$tmp/a/s.sock" --set sync.pull_s=0.2
"$eccd" -c config/sim.ini --set history.path="$tmp/a/h.db" --set server.socket="$tmp/a/s.sock" \
    --set sim.speed=20 --set sim.wall_start=$((start + 10 * 86400)) \
    --rep-log "$tmp/a/reps.jsonl" >/dev/null 2>"$tmp/a/session.err" &
tpid=$!
on_fail="$tmp/a/session.err"
pass_if a_session_runs_on_rig_a wait_line "$tmp/a/reps.jsonl" '"event":"rep"' 60 "$tpid"
sql "UPDATE ecc.programmes SET ceiling_n = 140 WHERE patient_uuid = '$uuid'" >/dev/null
refused_again() { [ "$(refusals)" -gt "$before" ]; }
on_fail="$tmp/a/sync.log"
pass_if eccd_refuses_the_change_mid_session wait_for 30 refused_again
contains the_refusal_says_why "$(grep "tried again later" "$tmp/a/sync.log" | tail -1)" \
    "only between sessions"
check the_session_keeps_its_programme "$(q "$tmp/a/h.db" "SELECT g.ceiling_n FROM programmes g
    JOIN patients p ON p.id = g.patient_id WHERE p.uuid = '$uuid'")" 150.0
three_sets() { [ "$(grep -c '"event":"set"' "$tmp/a/reps.jsonl")" -ge 3 ]; }
on_fail="$tmp/a/session.err"
pass_if the_session_ends wait_for 120 three_sets
on_fail="$tmp/a/sync.log"
pass_if the_change_is_taken_after_the_session wait_for 30 pulled a "ceiling_n = 140"
stop "$tpid" >/dev/null
stop "$sync_pid" >/dev/null
sync_rig a once --set sync.pull_s=0

lib_exit
