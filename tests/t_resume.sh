#!/bin/sh
# t_resume.sh BUILD [POINTS] - a crash never loses a counted rep: the real eccd against
# eccsim over Modbus TCP, in real time, killed with SIGKILL at seeded random points across
# a set, then started again.
#
# For each point (seed 1..POINTS, kill time drawn from the seed over the set; odd seeds
# against the "normal" simulated athlete, even ones against "partial", who cuts about 30%
# of the strokes short, so rejected strokes are in the history before the kill too):
#  - right after the kill: PRAGMA integrity_check says ok; every rep in eccd's rep log
#    (written after each commit) is in the database; and the database holds every valid
#    stroke the athlete finished more than 0.5 s before the kill (eccsim's ground truth)
#    and none it had not finished;
#  - eccd is started again: it carries on the same session and set (a "set_start" event
#    with "resumed":true), its first rep is numbered one past the reps kept and its first
#    stroke one past the strokes kept, and when the set is done the database holds reps
#    1..N of one session, once each, the session finished and marked resumed once;
#  - every stroke number (counted or rejected) is in the history once, 1..M, and in the two
#    rep logs at most once;
#  - the set's line after the restart covers the whole set: its reps (N), its rejects (all
#    of them, before and after the kill, as the database has them), its time in band (over
#    every stroke's loaded window in the database) and its duration (the time it had run
#    before the kill, as the history kept it, plus the time since the resumed start).
# Points run ECC_RESUME_JOBS at a time (default 5): each eccd/eccsim pair sleeps most
# of the time. Prints "ok   t_resume: NAME" / "FAIL t_resume: NAME" per point.
set -u
name=t_resume
. "$(dirname "$0")/lib.sh"
build=$(cd "${1:-build}" && pwd)
points=${2:-20}
jobs=${ECC_RESUME_JOBS:-5}
reps_per_set=6
here=$(cd "$(dirname "$0")" && pwd)
cfg="$here/hil/tcp.ini"
at_exit 'kill $(jobs -p) 2>/dev/null'
export ASAN_OPTIONS=detect_leaks=1

command -v sqlite3 >/dev/null || skip_all "the sqlite3 command is missing (apt-get install sqlite3)"

q() { sqlite3 -batch -noheader "$1" "$2" 2>&1; }

# The kill time for a seed: uniform over 1.5 .. 16 s after eccd starts (the sixth rep of
# the set comes about 18 to 20 s in on the default 0.3 m/s^2 simulated drive).
kill_time() { awk -v s="$1" 'BEGIN { srand(s); printf "%.2f", 1.5 + rand() * 14.5 }'; }

# Valid strokes in the truth log whose release came before T (s, eccsim's clock).
valid_before() {
    awk -v t="$2" -F'"t_release":' '/"valid":true/ { split($2, a, ","); if (a[1] + 0 < t) n++ }
        END { print n + 0 }' "$1"
}

# Every stroke the history holds, counted or rejected.
strokes_sql="(SELECT stroke FROM reps UNION ALL SELECT stroke FROM rejects)"

# field NAME: the number after "NAME": on stdin's line.
field() { sed -n "s/.*\"$1\":\([-0-9.]*\).*/\1/p"; }

# strokes_once DIR: "" if every stroke number is in the history once (1..M) and in the rep
# logs at most once; else "; why".
strokes_once() {
    nums=$(q "$1/history.db" "SELECT count(*), count(DISTINCT stroke), min(stroke), max(stroke) FROM $strokes_sql")
    n=${nums%%|*}
    [ "$nums" = "$n|$n|1|$n" ] || echo "; stroke numbers in the history (count|distinct|min|max): $nums"
    twice=$(cat "$1/run1.reps.jsonl" "$1/run2.reps.jsonl" | grep -E '"event":"(rep|reject)"' |
            field stroke | sort -n | uniq -d | tr '\n' ' ')
    [ -z "$twice" ] || echo "; strokes logged twice: $twice"
}

# whole_set DIR RAN_S: "" if the set line after the restart covers the whole set (RAN_S: how
# long the set had run at the kill, as the history kept it); else "; why".
whole_set() {
    line=$(grep '"event":"set"' "$1/run2.reps.jsonl")
    [ -n "$line" ] || { echo "; no set line after the restart"; return; }
    start=$(grep '"event":"set_start".*"resumed":true' "$1/run2.reps.jsonl" | field t)
    db=$(q "$1/history.db" "SELECT (SELECT count(*) FROM rejects), (SELECT rejected FROM sets),
            (SELECT sum(in_band_s) / sum(window_s) FROM (SELECT in_band_s, window_s FROM reps
             UNION ALL SELECT in_band_s, window_s FROM rejects))")
    got="$(echo "$line" | field counted)|$(echo "$line" | field rejected)"
    [ "$got" = "$reps_per_set|${db%%|*}" ] ||
        echo "; set line counted|rejected $got, the set has $reps_per_set|${db%%|*}"
    awk -v db="$db" -v share="$(echo "$line" | field in_band_share)" \
        -v dur="$(echo "$line" | field duration_s)" -v t="$(echo "$line" | field t)" \
        -v t0="${start:-0}" -v ran="$2" 'BEGIN { split(db, a, "|");
            if (a[2] != a[1]) printf "; the set row says %s rejected, %s rows", a[2], a[1];
            if (share - a[3] > 0.0015 || a[3] - share > 0.0015)
                printf "; set line in band %s, its strokes in the history %.4f", share, a[3];
            want = ran + t - t0;
            if (dur - want > 0.0025 || want - dur > 0.0025)
                printf "; set line duration %s s, want %.3f (%.3f before the kill + %.3f since)",
                       dur, want, ran, t - t0 }'
}

# eccd BIN DIR PORT TAG: run eccd in the background against eccsim on PORT.
eccd_start() {
    "$1" -c "$cfg" --set drive.port="$3" --set protocol.reps_per_set=$reps_per_set \
        --set history.path="$2/history.db" --set server.socket="$2/eccd.sock" \
        --start --sessions 1 -q --rep-log "$2/$4.reps.jsonl" 2>"$2/$4.err" &
    eccd_pid=$!
}

# sim_start DIR SCENARIO: eccsim on a free port the kernel picks; sets sim_pid and port.
sim_start() {
    "$build/rel/eccsim" -c "$cfg" --tcp-port auto --set sim.scenario="$2" -q \
        --truth-log "$1/truth.jsonl" \
        --truth-csv "$1/truth.csv" >"$1/sim.out" 2>"$1/sim.err" &
    sim_pid=$!
    wait_line "$1/sim.out" '^eccsim: ready' 10 "$sim_pid" || return 1
    port=$(sed -n 's/^eccsim: tcp on .*:\([0-9][0-9]*\)$/\1/p' "$1/sim.out")
    [ -n "$port" ]
}

eccd_over() { ! alive "$eccd_pid"; }

# point SEED: one kill and restart; writes "ok|FAIL ..." to DIR/result.
point() {
    seed=$1
    d="$tmp/p$seed"
    mkdir -p "$d"
    at=$(kill_time "$seed")
    scenario=normal
    [ $((seed % 2)) -eq 0 ] && scenario=partial
    tag="seed_${seed}_${scenario}_kill_at_${at}s"
    bin="$build/rel/eccd"
    [ "$seed" -eq 1 ] && bin="$build/san/eccd"      # one point with the sanitizers
    say() {
        if [ "$1" = ok ]; then ok "$tag${2:+ ($2)}"; else fail "$tag" "$2"; fi >"$d/result"
    }

    sim_start "$d" "$scenario" || { say FAIL "eccsim did not start"; return; }
    eccd_start "$bin" "$d" "$port" run1
    sleep "$at"                                 # the kill time is the point's input
    if ! kill -0 "$eccd_pid" 2>/dev/null; then
        say FAIL "eccd had already exited: $(tail -n 3 "$d/run1.err" | tr '\n' ' ')"
        kill "$sim_pid"; return
    fi
    kill -9 "$eccd_pid"
    t_kill=$(tail -n 1 "$d/truth.csv" | cut -d, -f1)
    wait "$eccd_pid" 2>/dev/null
    cp "$d/truth.jsonl" "$d/truth.at_kill.jsonl"

    check=$(q "$d/history.db" "PRAGMA integrity_check")
    kept=$(q "$d/history.db" "SELECT count(*) FROM reps")
    kept_strokes=$(q "$d/history.db" "SELECT coalesce(max(stroke), 0) FROM $strokes_sql")
    ran_s=$(q "$d/history.db" "SELECT coalesce(max(duration_s), 0) FROM sets")
    logged=$(grep -c '"event":"rep"' "$d/run1.reps.jsonl")
    missing=$(grep '"event":"rep"' "$d/run1.reps.jsonl" | sed 's/.*"rep":\([0-9]*\).*/\1/' |
              while read -r n; do
                  [ "$(q "$d/history.db" "SELECT count(*) FROM reps WHERE n = $n")" = 1 ] || echo "$n"
              done)
    lo=$(valid_before "$d/truth.at_kill.jsonl" "$(awk -v t="$t_kill" 'BEGIN { print t - 0.5 }')")
    hi=$(valid_before "$d/truth.at_kill.jsonl" "$(awk -v t="$t_kill" 'BEGIN { print t + 0.1 }')")
    why=""
    [ "$check" = ok ] || why="integrity_check: $check"
    [ -z "$missing" ] || why="$why; logged reps missing from the database: $missing"
    [ "$kept" -ge "$lo" ] && [ "$kept" -le "$hi" ] ||
        why="$why; database holds $kept reps, the athlete finished $lo..$hi valid strokes"
    [ "$kept" -lt "$reps_per_set" ] || why="$why; the set was already over at the kill"

    eccd_start "$bin" "$d" "$port" run2
    if ! wait_for 150 eccd_over; then
        kill -9 "$eccd_pid"; why="$why; the resumed set did not finish in 150 s"
    fi
    wait "$eccd_pid" 2>/dev/null
    kill "$sim_pid"; wait "$sim_pid" 2>/dev/null

    first=$(grep -m1 '"event":"rep"' "$d/run2.reps.jsonl" | sed 's/.*"rep":\([0-9]*\).*/\1/')
    first_stroke=$(grep -m1 -E '"event":"(rep|reject)"' "$d/run2.reps.jsonl" | field stroke)
    [ "${first_stroke:-0}" = $((kept_strokes + 1)) ] ||
        why="$why; first stroke after the restart is ${first_stroke:-none}, not $((kept_strokes + 1))"
    why="$why$(strokes_once "$d")$(whole_set "$d" "$ran_s")"
    grep -q '"event":"set_start".*"resumed":true' "$d/run2.reps.jsonl" ||
        why="$why; no resumed set_start after the restart"
    [ "${first:-0}" = $((kept + 1)) ] || why="$why; first rep after the restart is ${first:-none}, not $((kept + 1))"
    final=$(q "$d/history.db" "SELECT count(*), count(DISTINCT n), min(n), max(n) FROM reps")
    sess=$(q "$d/history.db" "SELECT count(*), max(status), max(resumes) FROM sessions")
    check=$(q "$d/history.db" "PRAGMA integrity_check")
    [ "$final" = "$reps_per_set|$reps_per_set|1|$reps_per_set" ] || why="$why; reps at the end: $final"
    [ "$sess" = "1|done|1" ] || why="$why; sessions (count|status|resumes): $sess"
    [ "$check" = ok ] || why="$why; integrity_check at the end: $check"
    if [ -z "$why" ]; then
        say ok "$kept of $logged logged reps and $kept_strokes strokes kept at t=$t_kill s; valid strokes $lo..$hi; at the end $(q "$d/history.db" "SELECT count(*) FROM $strokes_sql") strokes, $(q "$d/history.db" "SELECT count(*) FROM rejects") rejected"
    else
        say FAIL "$why"
        for f in run1.err run2.err sim.err; do tail -n 5 "$d/$f" | sed "s/^/  $f: /" >>"$d/result"; done
    fi
}

seed=1
while [ $seed -le "$points" ]; do
    running=0
    while [ $running -lt "$jobs" ] && [ $seed -le "$points" ]; do
        point "$seed" &
        running=$((running + 1))
        seed=$((seed + 1))
    done
    wait
done
for s in $(seq 1 "$points"); do
    if [ -f "$tmp/p$s/result" ]; then cat "$tmp/p$s/result"; else fail "seed_$s" "no result"; fi
done
