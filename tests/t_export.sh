#!/bin/sh
# t_export.sh BUILD - a clinic's year (394 200 reps, tests/fixtures/history-394k.sql)
# exported through the real eccd (optimised build) while it runs a set on the simulated
# rig, by the real eccctl:
#  - the CSV is complete: its clinic rows match a direct SQLite query, row for row in count
#    and in a checksum (sum of session ids, rep numbers and sets);
#  - the export is streamed, not built: eccd's peak resident memory (VmHWM) stays under
#    16 MB, and the reply really is one JSON line that --json passes through whole;
#  - other clients are served meanwhile: with the exporting eccctl stopped (SIGSTOP) half
#    way, so that its reply waits, five `eccctl status` are answered before it goes on;
#  - the control loop goes on counting reps throughout.
# How fast (rows/s) and the status latency during an export are measured by make bench
# (bench_export), not asserted here.
# Prints "ok   t_export: NAME" / "FAIL t_export: NAME".
set -u
build=${1:-build}
name=t_export
. "$(dirname "$0")/lib.sh"
eccd="$build/rel/eccd"
eccctl="$build/rel/eccctl"
pid=""
xpid=""
at_exit 'stop "$xpid"; stop "$pid"'
RSS_MAX_KB=16384

ctl() { "$eccctl" -s "$tmp/eccd.sock" "$@"; }
q() { sqlite3 -batch -noheader "$tmp/history.db" "$1"; }
start_eccd() {
    "$eccd" -c config/sim.ini --set sim.speed=5 --set history.path="$tmp/history.db" \
        --set server.socket="$tmp/eccd.sock" --duration 3600 \
        --rep-log "$tmp/reps$1.jsonl" 2>"$tmp/eccd$1.err" &
    pid=$!
    wait_for 10 test -S "$tmp/eccd.sock"
}

if ! command -v sqlite3 >/dev/null; then
    skip_all "sqlite3 is not installed (apt-get install sqlite3; make check installs it)"
fi

# eccd makes the history file, the fixture fills it, eccd starts again on it
start_eccd 0
stop "$pid"
pid=""
if ! sqlite3 "$tmp/history.db" <tests/fixtures/history-394k.sql 2>"$tmp/gen.err"; then
    fail history_made "$tmp/gen.err"
    exit 1
fi
clinic="s.patient_id IN (SELECT id FROM patients WHERE name LIKE 'clinic patient %')"
want=$(q "SELECT count(*) || ' ' || sum(s.id) || ' ' || sum(r.n) || ' ' || sum(st.n)
          FROM reps r JOIN sets st ON st.id = r.set_id JOIN sessions s ON s.id = st.session_id
          WHERE $clinic")
check history_made "${want%% *}" 394200
start_eccd 1
[ -S "$tmp/eccd.sock" ] || { fail eccd_starts "$tmp/eccd1.err"; exit 1; }
reps_before=$(grep -c '"event":"rep"' "$tmp/reps1.jsonl")

# the export, stopped half way while five status requests are answered
ctl export --csv >"$tmp/export.csv" 2>"$tmp/export.err" &
xpid=$!
wait_for 30 sh -c "[ \$(stat -c %s '$tmp/export.csv') -gt 4000000 ]"
kill -STOP "$xpid"
answered=0
for i in 1 2 3 4 5; do
    ctl status >/dev/null 2>>"$tmp/status.err" && answered=$((answered + 1))
done
size_paused=$(stat -c %s "$tmp/export.csv")
kill -CONT "$xpid"
wait "$xpid"
xrc=$?
xpid=""
if [ "$answered" -eq 5 ]; then
    ok status_answered_while_an_export_waits
else
    fail status_answered_while_an_export_waits "$answered of 5 answered while the export" \
        "waited with $size_paused bytes" "$tmp/status.err"
fi
check export_exits_0 "$xrc" 0
got=$(awk -F, 'NR > 1 && $1 ~ /^clinic patient / { n++; s += $2; r += $5; t += $4 }
               END { printf "%d %d %d %d", n, s, r, t }' "$tmp/export.csv")
check csv_rows_and_checksum_match_sqlite "$got" "$want"

# the same as one JSON line, whole
ctl --json export >"$tmp/export.json" 2>>"$tmp/export.err"
lines=$(wc -l <"$tmp/export.json")
tail=$(tail -c 40 "$tmp/export.json")
case "$lines:$tail" in
    1:*'"complete":true}') ok json_is_one_complete_line ;;
    *) fail json_is_one_complete_line "$lines lines, ending $tail" "$tmp/export.err" ;;
esac

hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
echo "  eccd's peak resident memory after two exports of 394 200 reps: $hwm kB"
if [ "${hwm:-999999}" -lt $RSS_MAX_KB ]; then
    ok eccd_peak_memory_under_16_MB
else
    fail eccd_peak_memory_under_16_MB "VmHWM ${hwm:-unknown} kB, limit $RSS_MAX_KB kB"
fi

reps_after=$(grep -c '"event":"rep"' "$tmp/reps1.jsonl")
if [ "$reps_after" -gt "$reps_before" ]; then
    ok the_set_went_on_meanwhile
else
    fail the_set_went_on_meanwhile "reps in the rep log: $reps_before before the exports," \
        "$reps_after after" "$tmp/eccd1.err"
fi
stop "$pid"
pid=""
