#!/bin/sh
# t_sync_report.sh BUILD - the clinician's report from the clinic's database (docs/fleet.md,
# "The clinic's view"), on the sync harness (tests/synclib.sh: a throwaway PostgreSQL 15
# with TLS, the schema, a role per rig):
#
#  - rig a is the real eccd on the simulator: the clinician sets the programme with eccctl,
#    the tolerant patient trains three simulated days, a questionnaire score is entered,
#    and eccd's own report document is taken (eccctl --json report, thresholds from the
#    rig's config); eccsync --once ships the history. eccsync --admin --report --json
#    (thresholds from a clinic INI with the same keys, TZ=UTC like the simulator's clock)
#    must give the same document, field by field (tests/report_same.c), but for what
#    legitimately differs: generated, the patient's id (rig-local: absent centrally) and
#    the central additions (patient.uuid, patient.rigs, each entry's rig_id);
#  - rig b's rows for the same patient (its UUID), written straight into the central
#    tables with local ids that collide with rig a's: the report covers both rigs, sessions
#    in time order and interleaved, counts and rejects summed, rig b's sets, reps and
#    rejects under rig b's sessions only, rig a's entries unchanged;
#  - the HTML renders and refers to nothing outside it (and to PNG with chromium, when
#    installed); the patient by name; --patients lists the patient with both rigs;
#  - an unknown UUID, a patient without a programme, a name two patients share: a clear
#    message, exit status 1 and the -o file untouched; the time zone is the machine's
#    (TZ) and the thresholds -c's.
set -u
name=t_sync_report
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/synclib.sh"
eccctl="$build/rel/eccctl"
same="$build/rel/tests/report_same"
sync_setup

# ---- rig a: the programme, three days, eccd's own report ------------------------------------
rig a || fail role_a "$tmp/roles.log"
d="$tmp/a"
# eccd with a socket, paced to real time: the patient's first act is half an hour away
socket_eccd() {
    "$eccd" -c config/sim.ini --set history.path="$d/h.db" --set server.socket="$d/s.sock" \
        --set sim.speed=1 --set sim.scenario="$tmp/three.ini" "$@" >/dev/null 2>>"$d/socket.err" &
    pid=$!
    wait_for 20 test -S "$d/s.sock"
}
socket_eccd
"$eccctl" -s "$d/s.sock" programme set --band 60:100 --step 0.05 --floor 50 --ceiling 160 \
    --weeks 12 >"$d/setup.out" 2>&1
on_fail="$d/setup.out"
check programme_set_with_eccctl $? 0
stop $pid >/dev/null
rm -f "$d/s.sock"

train a 3
on_fail="$d/eccd.err"
check rig_a_trains_three_days $? 0

# afterwards (the simulated clock three days on): a questionnaire, then eccd's report,
# with the clinic's thresholds rather than the defaults
thresholds="--set progression.up_in_band=0.8 --set progression.pain_stop=6"
printf '[progression]\nup_in_band = 0.8\npain_stop = 6\n' >"$tmp/clinic.ini"
# shellcheck disable=SC2086
socket_eccd --set sim.wall_start=$((1767596400 + 3 * 86400)) $thresholds
"$eccctl" -s "$d/s.sock" questionnaire 55 --instrument VISA-A >"$d/q.out" 2>&1
on_fail="$d/q.out"
check questionnaire_entered $? 0
"$eccctl" -s "$d/s.sock" --json report >"$tmp/rig.json" 2>"$d/report.err"
on_fail="$d/report.err"
check eccd_reports $? 0
stop $pid >/dev/null

sync_rig a once
on_fail="$d/sync.log"
check rig_a_syncs $? 0
on_fail="$tmp/check.out"
pass_if central_rows_equal_the_file checked a="$d/h.db"

uuid=$(sql "SELECT uuid FROM ecc.patients")
pname=$(sql "SELECT name FROM ecc.patients")
report() { TZ=UTC "$eccsync" --admin "$admin" "$@" 2>>"$tmp/report.err"; }

report --report "$uuid" -c "$tmp/clinic.ini" --json -o "$tmp/central.json"
on_fail="$tmp/report.err"
check central_report_made $? 0
ignore="--ignore generated --ignore patient.id --ignore patient.uuid --ignore patient.rigs
        --ignore sessions.*.rig_id --ignore checkins.*.rig_id --ignore progression.*.rig_id"
# shellcheck disable=SC2086
"$same" same "$tmp/rig.json" "$tmp/central.json" $ignore >"$tmp/same.out" 2>&1
on_fail="$tmp/same.out"
check central_report_equals_eccds_field_by_field $? 0
echo "   $(cat "$tmp/same.out")"
"$same" summary "$tmp/central.json" >"$tmp/one.txt"
v() { sed -n "s/^$1=//p" "$2"; }
pass_if the_document_has_sessions_sets_checkins_and_steps \
    [ "$(v sessions "$tmp/one.txt")" -ge 5 ] && [ "$(v sets "$tmp/one.txt")" -ge 15 ] &&
    [ "$(v checkins "$tmp/one.txt")" -ge 3 ] && [ "$(v progression "$tmp/one.txt")" -ge 1 ]
check the_document_names_rig_a "$(v rigs "$tmp/one.txt")" a
check thresholds_from_the_config_file "$(v up_in_band "$tmp/one.txt") $(v pain_stop "$tmp/one.txt")" \
    "0.8 6"
check utc_offset_of_tz_utc "$(v utc_offset_s "$tmp/one.txt")" 0
echo "   rig a: $(v sessions "$tmp/one.txt") sessions, $(v reps "$tmp/one.txt") reps," \
     "$(v rejects_by_reason "$tmp/one.txt") rejected strokes, patient $pname ($uuid)"

# ---- the time zone and the defaults -----------------------------------------------------------
TZ=Asia/Kolkata "$eccsync" --admin "$admin" --report "$uuid" --json >"$tmp/ist.json" 2>>"$tmp/report.err"
"$same" summary "$tmp/ist.json" >"$tmp/ist.txt"
check utc_offset_is_this_machines_zone "$(v utc_offset_s "$tmp/ist.txt")" 19800
check without_c_the_default_thresholds "$(v up_in_band "$tmp/ist.txt") $(v pain_stop "$tmp/ist.txt")" \
    "0.9 5"

# ---- rig b's rows for the same patient, straight into the central tables ---------------------
rig b || fail role_b "$tmp/roles.log"
d0=1767596400          # 2026-01-05 07:00 UTC, the simulator's day 0
cat >"$tmp/b.sql" <<EOF
SELECT ecc.ensure_partitions_for(ARRAY[$d0::double precision]);
INSERT INTO ecc.sessions(rig_id, local_id, patient_uuid, started, ended, status, resumes,
                         band_low, band_high) VALUES
 ('b', 1, '$uuid', $d0 + 5*3600, $d0 + 5*3600 + 600, 'done', 0, 60, 100),
 ('b', 2, '$uuid', 86400 + $d0 + 5*3600, 86400 + $d0 + 5*3600 + 300, 'aborted', 0, 63, 105);
INSERT INTO ecc.sets(rig_id, local_id, session_id, n, started, ended, counted, rejected,
                     in_band_share, pain) VALUES
 ('b', 1, 1, 1, $d0 + 5*3600 + 10, $d0 + 5*3600 + 200, 15, 2, 0.8, 2),
 ('b', 2, 1, 2, $d0 + 5*3600 + 300, $d0 + 5*3600 + 500, 14, 1, 0.7, 3),
 ('b', 3, 2, 1, 86400 + $d0 + 5*3600 + 10, 86400 + $d0 + 5*3600 + 200, 15, 0, 0.9, 1);
INSERT INTO ecc.reps(rig_id, local_id, set_id, n, t, mean_n, month) VALUES
 ('b', 1, 1, 1, $d0 + 5*3600 + 20, 70, ecc.month_of($d0 + 5*3600 + 20)),
 ('b', 2, 1, 2, $d0 + 5*3600 + 30, 90, ecc.month_of($d0 + 5*3600 + 30)),
 ('b', 3, 2, 1, $d0 + 5*3600 + 310, 80, ecc.month_of($d0 + 5*3600 + 310)),
 ('b', 4, 3, 1, 86400 + $d0 + 5*3600 + 20, 100, ecc.month_of(86400 + $d0 + 5*3600 + 20));
INSERT INTO ecc.rejects(rig_id, local_id, set_id, t, verdict, month) VALUES
 ('b', 1, 1, $d0 + 5*3600 + 40, 'too_short', ecc.month_of($d0 + 5*3600 + 40)),
 ('b', 2, 1, $d0 + 5*3600 + 50, 'out_of_band', ecc.month_of($d0 + 5*3600 + 50)),
 ('b', 3, 2, $d0 + 5*3600 + 320, 'too_little_travel', ecc.month_of($d0 + 5*3600 + 320)),
 ('b', 4, NULL, $d0 + 5*3600 + 330, 'aborted', ecc.month_of($d0 + 5*3600 + 330));
INSERT INTO ecc.checkins(rig_id, local_id, patient_uuid, t, kind, score, instrument) VALUES
 ('b', 1, '$uuid', 86400 + $d0 + 5*3600 + 1800, 'morning', 2, NULL),
 ('b', 2, '$uuid', 86400 + $d0 + 5*3600 + 1900, 'questionnaire', 60, 'VISA-H');
INSERT INTO ecc.progression(rig_id, local_id, patient_uuid, session_id, t, kind, level_from,
                            level_to, band_low, band_high, reason) VALUES
 ('b', 1, '$uuid', 2, 86400 + $d0 + 5*3600 + 2000, 'hold', 0, 0, NULL, NULL,
  'rig b: held at level 0 for the test');
EOF
psql -X -q -v ON_ERROR_STOP=1 "$(cat "$admin")" -1 -f "$tmp/b.sql" >"$tmp/b.out" 2>&1
on_fail="$tmp/b.out"
check rig_b_rows_written $? 0

report --report "$uuid" -c "$tmp/clinic.ini" --json -o "$tmp/both.json"
on_fail="$tmp/report.err"
check cross_rig_report_made $? 0
"$same" summary "$tmp/both.json" >"$tmp/two.txt"
on_fail="$tmp/two.txt"
check cross_rig_sessions_are_both_rigs "$(v sessions "$tmp/two.txt")" $(($(v sessions "$tmp/one.txt") + 2))
check cross_rig_sessions_in_time_order "$(v time_ordered "$tmp/two.txt")" 1
contains cross_rig_sessions_interleave "$(v order "$tmp/two.txt")" "a,b,a"
check cross_rig_patient_rigs "$(v rigs "$tmp/two.txt")" "a,b"
check cross_rig_reps_summed "$(v reps "$tmp/two.txt")" $(($(v reps "$tmp/one.txt") + 44))
check cross_rig_rejects_summed "$(v rejects "$tmp/two.txt")" $(($(v rejects "$tmp/one.txt") + 3))
check cross_rig_rejects_by_reason_summed "$(v rejects_by_reason "$tmp/two.txt")" \
    $(($(v rejects_by_reason "$tmp/one.txt") + 3))
check cross_rig_too_short_summed "$(v reject.too_short "$tmp/two.txt")" \
    $(($(v reject.too_short "$tmp/one.txt" | grep . || echo 0) + 1))
check cross_rig_checkins "$(v checkins "$tmp/two.txt")" $(($(v checkins "$tmp/one.txt") + 2))
check cross_rig_progression "$(v progression "$tmp/two.txt")" $(($(v progression "$tmp/one.txt") + 1))
check rig_b_session_1_has_its_own_sets_reps_rejects "$(grep '^session b/1 ' "$tmp/two.txt")" \
    "session b/1 reps=29 rejects=3 sets=2 mean_n=80.000 max_pain=3"
check rig_b_session_2_has_its_own_set "$(grep '^session b/2 ' "$tmp/two.txt")" \
    "session b/2 reps=15 rejects=0 sets=1 mean_n=100.000 max_pain=1"
"$same" same "$tmp/central.json" "$tmp/both.json" --drop-rig b --ignore generated \
    --ignore patient.rigs --ignore rejects_by_reason >"$tmp/same_a.out" 2>&1
on_fail="$tmp/same_a.out"
check rig_a_entries_unchanged_by_rig_bs_colliding_ids $? 0

# ---- the HTML, the name, the list ----------------------------------------------------------
report --report "$uuid" -c "$tmp/clinic.ini" -o "$tmp/both.html"
on_fail="$tmp/report.err"
check html_report_written $? 0
html=$(cat "$tmp/both.html" 2>/dev/null)
contains html_is_whole "$html" "</html>"
contains html_has_its_calendar "$html" "Adherence"
contains html_names_the_patient "$html" "$pname"
check html_refers_to_nothing_outside "$(grep -c -i -E 'https?://|src=|url\(|<script|<link' "$tmp/both.html")" 0
if [ -x /usr/bin/chromium ]; then
    report --report "$uuid" --png -o "$tmp/both.png"
    check report_renders_to_png "$(head -c 8 "$tmp/both.png" 2>/dev/null | od -An -tx1 |
        tr -d ' \n')" 89504e470d0a1a0a
else
    skip report_renders_to_png "no /usr/bin/chromium (apt-get install chromium)"
fi

report --report "$pname" -c "$tmp/clinic.ini" --json -o "$tmp/byname.json"
"$same" same "$tmp/both.json" "$tmp/byname.json" --ignore generated >"$tmp/same_n.out" 2>&1
on_fail="$tmp/same_n.out"
check the_patient_by_name $? 0

report --patients >"$tmp/patients.out"
on_fail="$tmp/report.err"
check patients_listed $? 0
line=$(grep "^$uuid " "$tmp/patients.out")
contains patients_list_the_uuid_and_name "$line" "$pname"
contains patients_list_both_rigs "$line" " a,b "
contains patients_list_the_sessions "$line" " $(v sessions "$tmp/two.txt") "

# ---- refusals: a message, exit status 1, nothing written ---------------------------------------
echo old >"$tmp/kept.html"
TZ=UTC "$eccsync" --admin "$admin" --report 00000000-0000-4000-8000-000000000000 \
    -o "$tmp/kept.html" >"$tmp/unknown.out" 2>&1
check unknown_uuid_exits_1 $? 1
contains unknown_uuid_says_so "$(cat "$tmp/unknown.out")" \
    "no patient with UUID 00000000-0000-4000-8000-000000000000"
check unknown_uuid_writes_nothing "$(cat "$tmp/kept.html")" old
check unknown_uuid_leaves_no_temporary_file "$(ls -a "$tmp" | grep -c '^\.kept\.html\.')" 0

sql "INSERT INTO ecc.patients(uuid, name, created) VALUES
     ('11111111-1111-4111-8111-111111111111', 'Nobody Planned', $d0),
     ('22222222-2222-4222-8222-222222222222', 'Twin', $d0),
     ('33333333-3333-4333-8333-333333333333', 'Twin', $d0)" >/dev/null
"$eccsync" --admin "$admin" --report 'Nobody Planned' -o "$tmp/none.html" >"$tmp/noprog.out" 2>&1
check no_programme_exits_1 $? 1
contains no_programme_says_so "$(cat "$tmp/noprog.out")" "has no programme"
pass_if no_programme_writes_nothing [ ! -e "$tmp/none.html" ]
"$eccsync" --admin "$admin" --report Twin --json >"$tmp/twin.out" 2>&1
check shared_name_exits_1 $? 1
contains shared_name_asks_for_the_uuid "$(cat "$tmp/twin.out")" "2 patients are named 'Twin'"
"$eccsync" --admin "$admin" --report 'Nobody Here' --json >"$tmp/nobody.out" 2>&1
check unknown_name_exits_1 $? 1
"$eccsync" --admin "$admin" --report "$uuid" --pdf >"$tmp/usage.out" 2>&1
check pdf_without_o_is_a_usage_error $? 2

lib_exit
