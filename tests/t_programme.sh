#!/bin/sh
# t_programme.sh BUILD - twelve weeks of the programme through the real eccd on the
# simulated rig, for three simulated patients (sim/scenarios/*12.ini, sim/patient.h):
#
#  - the clinician sets the programme with eccctl (band 60-100 N, steps of 5%, floor 50 N,
#    ceiling 160 N) on an eccd paced to real time, before the patient's first morning;
#  - eccd then runs the 84 days on the virtual clock (sim.skip_quiet: the quiet hours cost
#    a tick), the patient coming twice a day by the clock, entering a pain score after
#    each set and a morning score each day through the sim's HAL check-ins.
#
# Then, from the history file:
#  - tolerant: at least 4 steps up; irritable: at least one step down and a clinician's
#    morning flag; non-adherent: the adherence flag;
#  - every patient: no two steps up within 7 days, no step up in the first week; every
#    session's band inside [floor, ceiling]; every step and flag with its reason; every
#    finished set with its pain score; a morning score each day the patient came; the
#    patient's band and the programme's level agree with the latest step; PRAGMA
#    integrity_check ok;
#  - eccd afterwards: eccctl programme shows the level, eccctl report writes the report.
# The wall time of each twelve weeks is printed (make bench measures it: bench_programme).
set -u
name=t_programme
. "$(dirname "$0")/lib.sh"
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
eccd="$build/rel/eccd"
eccctl="$build/rel/eccctl"
days=84
at_exit 'kill $(jobs -p) 2>/dev/null'

command -v sqlite3 >/dev/null || skip_all "the sqlite3 command is missing (apt-get install sqlite3)"

q() { sqlite3 -batch -noheader "$1" "$2" 2>&1; }

# set_programme DIR SCENARIO: eccd paced to real time (the patient's first act is half an
# hour away), the clinician's eccctl programme set, eccd stopped.
set_programme() {
    "$eccd" -c "$here/config/sim.ini" --set history.path="$1/h.db" \
        --set server.socket="$1/s.sock" --set sim.speed=1 --set sim.scenario="$2" \
        >/dev/null 2>"$1/setup.err" &
    pid=$!
    wait_for 20 test -S "$1/s.sock" || { stop $pid; return 1; }
    "$eccctl" -s "$1/s.sock" programme set --band 60:100 --step 0.05 --floor 50 \
        --ceiling 160 --weeks 12 >"$1/setup.out" 2>&1
    rc=$?
    stop $pid >/dev/null
    return $rc
}

# run_weeks DIR SCENARIO: the twelve weeks; the wall time into DIR/seconds.
run_weeks() {
    t0=$(date +%s.%N)
    "$eccd" -c "$here/config/sim.ini" --set history.path="$1/h.db" --set sim.scenario="$2" \
        --set sim.skip_quiet=true --duration $((days * 86400)) --rep-log "$1/reps.jsonl" \
        >/dev/null 2>"$1/run.err"
    rc=$?
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >"$1/seconds"
    return $rc
}

patient() {
    dir="$tmp/$1"
    mkdir -p "$dir"
    set_programme "$dir" "$1" && run_weeks "$dir" "$1"
    echo $? >"$dir/rc"
}

# The three run side by side: each is one eccd process on one core.
for p in tolerant12 irritable12 nonadherent12; do
    patient $p &
done
wait

count_kind() { q "$1" "SELECT count(*) FROM progression WHERE kind = '$2'"; }

common_checks() {
    p=$1
    db="$tmp/$p/h.db"
    on_fail="$tmp/$p/run.err"
    check "${p}_ran_the_twelve_weeks" "$(cat "$tmp/$p/rc")" 0
    echo "   $p: twelve simulated weeks in $(cat "$tmp/$p/seconds") s (eccd $build/rel)"
    check "${p}_integrity" "$(q "$db" 'PRAGMA integrity_check')" ok
    check "${p}_sessions_inside_floor_and_ceiling" "$(q "$db" "SELECT count(*) FROM sessions s,
        programmes p WHERE s.band_low IS NULL OR s.band_low < p.floor_n - 1e-6
        OR s.band_high > p.ceiling_n + 1e-6")" 0
    check "${p}_steps_inside_floor_and_ceiling" "$(q "$db" "SELECT count(*) FROM progression r,
        programmes p WHERE r.band_low < p.floor_n - 1e-6 OR r.band_high > p.ceiling_n + 1e-6")" 0
    check "${p}_every_step_and_flag_has_its_reason" "$(q "$db" "SELECT count(*) FROM progression
        WHERE reason IS NULL OR length(reason) < 20")" 0
    check "${p}_steps_up_a_week_apart" "$(q "$db" "SELECT count(*) FROM progression a JOIN
        progression b ON b.kind = 'up' AND b.id > a.id AND b.t - a.t < 7 * 86400
        WHERE a.kind = 'up'")" 0
    check "${p}_no_step_up_in_the_first_week" "$(q "$db" "SELECT count(*) FROM progression,
        programmes p WHERE kind = 'up' AND progression.t < p.start + 7 * 86400")" 0
    check "${p}_every_set_has_its_pain" "$(q "$db" "SELECT count(*) FROM sets
        WHERE ended IS NOT NULL AND pain IS NULL")" 0
    check "${p}_level_and_band_follow_the_latest_step" "$(q "$db" "SELECT p.level = r.level_to
        AND abs(pt.force_high - r.band_high) < 1e-6 FROM programmes p, patients pt,
        (SELECT level_to, band_high FROM progression WHERE kind IN ('up', 'down', 'set')
        ORDER BY id DESC LIMIT 1) r WHERE pt.id = p.patient_id")" 1
}

common_checks tolerant12
common_checks irritable12
common_checks nonadherent12

db="$tmp/tolerant12/h.db"
ups=$(count_kind "$db" up)
pass_if tolerant12_steps_up_at_least_4_times [ "$ups" -ge 4 ]
echo "   tolerant12: $ups steps up, level $(q "$db" 'SELECT level FROM programmes'),"\
     "$(q "$db" 'SELECT count(*) FROM sessions') sessions"
check tolerant12_all_168_sessions "$(q "$db" 'SELECT count(*) FROM sessions')" 168
check tolerant12_a_morning_score_every_day "$(q "$db" "SELECT count(*) FROM checkins
    WHERE kind = 'morning'")" $days

db="$tmp/irritable12/h.db"
downs=$(count_kind "$db" down)
pass_if irritable12_steps_down [ "$downs" -ge 1 ]
pass_if irritable12_raises_the_morning_flag [ "$(count_kind "$db" flag_morning)" -ge 1 ]
pass_if irritable12_a_session_ended_on_pain [ "$(count_kind "$db" stop_session)" -ge 1 ]
echo "   irritable12: $downs steps down, $(count_kind "$db" flag_morning) morning flags,"\
     "$(count_kind "$db" stop_session) sessions ended on pain"

db="$tmp/nonadherent12/h.db"
pass_if nonadherent12_raises_the_adherence_flag [ "$(count_kind "$db" flag_adherence)" -ge 1 ]
done_sessions=$(q "$db" 'SELECT count(*) FROM sessions')
pass_if nonadherent12_did_under_70_percent [ "$done_sessions" -lt 118 ]
echo "   nonadherent12: $done_sessions of 168 sessions, $(count_kind "$db" flag_adherence)"\
     "adherence flags"

# Afterwards: eccd on each patient's history answers programme and report; each report is
# rendered to PNG by headless chromium, and kept in BUILD/programme/ (make programme-report
# copies the tolerant patient's into docs/).
keep="$build/programme"
mkdir -p "$keep"
for p in tolerant12 irritable12 nonadherent12; do
    dir="$tmp/$p"
    "$eccd" -c "$here/config/sim.ini" --set history.path="$dir/h.db" \
        --set server.socket="$dir/s.sock" --set sim.speed=1 --set sim.scenario=normal \
        --set sim.wall_start=$((1767596400 + days * 86400)) >/dev/null 2>"$dir/after.err" &
    pid=$!
    if ! wait_for 20 test -S "$dir/s.sock"; then
        fail "${p}_eccd_answers_after_the_weeks" "$dir/after.err"
        stop $pid >/dev/null
        continue
    fi
    out=$("$eccctl" -s "$dir/s.sock" programme 2>&1)
    contains "${p}_programme_shows_the_level" "$out" \
        "at level $(q "$dir/h.db" 'SELECT level FROM programmes')"
    "$eccctl" -s "$dir/s.sock" report -o "$keep/$p.html" >"$dir/report.out" 2>&1
    on_fail="$dir/report.out"
    html=$(cat "$keep/$p.html" 2>/dev/null)
    contains "${p}_report_is_written" "$html" "</html>"
    contains "${p}_report_has_its_calendar" "$html" "Adherence"
    check "${p}_report_fetches_nothing" "$(grep -c -i -E 'https?://|src=' "$keep/$p.html")" 0
    if [ -x /usr/bin/chromium ]; then
        rm -f "$keep/$p.png"
        "$eccctl" -s "$dir/s.sock" report --png -o "$keep/$p.png" >"$dir/png.out" 2>&1
        on_fail="$dir/png.out"
        check "${p}_report_renders_to_png" "$(head -c 8 "$keep/$p.png" 2>/dev/null | od -An -tx1 |
            tr -d ' \n')" 89504e470d0a1a0a
    else
        skip "${p}_report_renders_to_png" "no /usr/bin/chromium (apt-get install chromium)"
    fi
    stop $pid >/dev/null
done
