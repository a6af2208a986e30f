#!/bin/sh
# t_sync.sh BUILD - rigs replicating into one real PostgreSQL 15, and its failures
# (docs/fleet.md). The harness (tests/synclib.sh): a throwaway server with TLS, the schema made
# with eccsync --migrate, one role per rig with eccsync --add-rig; each rig is the real
# eccd on the simulator (three simulated days of the tolerant patient, sim.skip_quiet) with
# its own history file and its own eccsync over TCP with sslmode=verify-full. After each
# case, tests/sync_check compares the central database with the rigs' files row for row
# (0 lost, 0 differing, 0 extra: nothing lost, nothing twice, every field equal):
#  - three rigs training and replicating at once;
#  - the server stopped mid-sync and started again: eccsync waits and catches up;
#  - eccsync killed with SIGKILL at 20 seeded points of its catching up, started again each
#    time: the server's progress never goes back, and in the end every row is there once;
#  - a rig offline for a simulated week (its server unreachable), then back: it catches up;
#  - two rigs whose clocks disagree by five hours;
#  - eccd killed with SIGKILL in the middle of a set while eccsync runs: every row it had
#    committed arrives, the session as open;
#  - a rig that presents another rig's credentials: refused, nothing written.
set -u
name=t_sync
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/synclib.sh"
sync_setup

# ---- three rigs at once ------------------------------------------------------------------
for r in a b c; do rig $r || fail "role_$r" "$tmp/roles.log"; done
pids=
for r in a b c; do
    sync_rig $r bg
    pids="$pids $sync_pid"
    train $r 3 &
    trains="${trains:-} $!"
done
for p in $trains; do wait "$p"; done
wait_for 60 checked a="$tmp/a/h.db" b="$tmp/b/h.db" c="$tmp/c/h.db"
on_fail="$tmp/check.out"
pass_if three_rigs_training_at_once_replicate_every_row \
    checked a="$tmp/a/h.db" b="$tmp/b/h.db" c="$tmp/c/h.db"
echo "   $(tail -1 "$tmp/check.out")"
for p in $pids; do stop "$p" >/dev/null; done

# ---- the server stopped mid-sync ------------------------------------------------------------
rig d && train d 7 --set sim.scenario="$tmp/week.ini"
sync_rig d bg --set sync.batch_rows=1          # a transaction a row: seconds of sending
started_sending() { p=$(progress d); [ "${p:-0}" -gt 0 ]; }
wait_for 20 started_sending
stop_server
head_d=$(sqlite3 "$tmp/d/h.db" "SELECT seq FROM sync_counter" 2>/dev/null || echo 0)
start_server
at_restart=$(progress d)
pass_if the_server_stopped_mid_sync [ "${at_restart:-0}" -gt 0 ] && [ "${at_restart:-0}" -lt "$head_d" ]
wait_for 90 checked d="$tmp/d/h.db"
on_fail="$tmp/check.out"
pass_if server_stopped_mid_sync_and_back_loses_nothing checked d="$tmp/d/h.db"
on_fail="$tmp/d/sync.log"
pass_if eccsync_said_the_server_was_away grep -q "did not reach the server\|cannot reach" "$tmp/d/sync.log"
stop "$sync_pid" >/dev/null

# ---- SIGKILL at 20 seeded points -------------------------------------------------------------
rig e && train e 3
last=0
backwards=0
for seed in $(seq 1 20); do
    sync_rig e bg --set sync.batch_rows=7
    delay=$(awk -v s="$seed" 'BEGIN { srand(s); printf "%.3f", 0.02 + rand() * 0.3 }')
    sleep "$delay"          # the seeded point: killed wherever it is then
    kill -KILL "$sync_pid" 2>/dev/null
    wait "$sync_pid" 2>/dev/null
    now=$(progress e)
    now=${now:-0}
    [ "$now" -lt "$last" ] && backwards=$((backwards + 1))
    last=$now
done
check progress_never_goes_back_across_20_kills "$backwards" 0
echo "   progress after the 20th kill: $last"
sync_rig e once
on_fail="$tmp/check.out"
pass_if killed_20_times_every_row_once_every_field_equal checked e="$tmp/e/h.db"

# ---- a week offline ----------------------------------------------------------------------
rig f
closed=$(awk 'BEGIN { srand(7); print 40001 + int(rand() * 20000) }')
sed "s/port=$port/port=$closed/" "$tmp/f/cred" >"$tmp/f/cred.off"
chmod 600 "$tmp/f/cred.off"
sync_rig f bg --set sync.credentials="$tmp/f/cred.off"
train f 7 --set sim.scenario="$tmp/week.ini"
stop "$sync_pid" >/dev/null
check nothing_arrives_while_offline "$(progress f)" ""
sync_rig f once
on_fail="$tmp/check.out"
pass_if a_week_offline_catches_up checked f="$tmp/f/h.db"
echo "   $(tail -1 "$tmp/check.out")"

# ---- clocks five hours apart -----------------------------------------------------------------
rig g && rig h
train g 2 --set sim.wall_start=1767596400 &
g_pid=$!
train h 2 --set sim.wall_start=$((1767596400 + 5 * 3600))
wait "$g_pid"
sync_rig g once
sync_rig h once
on_fail="$tmp/check.out"
pass_if rigs_whose_clocks_disagree_keep_their_own_rows checked g="$tmp/g/h.db" h="$tmp/h/h.db"

# ---- eccd killed mid-set --------------------------------------------------------------------
rig j
sync_rig j bg
"$eccd" -c config/sim.ini --set history.path="$tmp/j/h.db" --set sim.speed=10 --sessions 1 \
    --rep-log "$tmp/j/reps.jsonl" >/dev/null 2>"$tmp/j/eccd.err" &
jpid=$!
wait_line "$tmp/j/reps.jsonl" '"event":"rep".*"rep":4,' 60 "$jpid"
kill -KILL "$jpid" 2>/dev/null
wait "$jpid" 2>/dev/null
wait_for 30 checked j="$tmp/j/h.db"
on_fail="$tmp/check.out"
pass_if eccd_killed_mid_set_every_committed_row_arrives checked j="$tmp/j/h.db"
check the_interrupted_session_arrives_open "$(psql -X -At "$(cat "$admin")" \
    -c "SELECT status FROM ecc.sessions WHERE rig_id = 'j'")" open
stop "$sync_pid" >/dev/null

# ---- another rig's credentials ----------------------------------------------------------------
rig i && train i 1
before=$(psql -X -At "$(cat "$admin")" -c "SELECT count(*) FROM ecc.sessions WHERE rig_id = 'i'")
"$eccsync" -c config/sim.ini --set history.path="$tmp/i/h.db" --set sync.rig_id=i \
    --set sync.credentials="$tmp/a/cred" --set sync.retry_max_s=1 --once >"$tmp/i/sync.log" 2>&1 &
spoof=$!
wait_line "$tmp/i/sync.log" "refused\|cannot read this rig" 20 "$spoof"
stop "$spoof" >/dev/null
after=$(psql -X -At "$(cat "$admin")" -c "SELECT count(*) FROM ecc.sessions WHERE rig_id = 'i'")
check another_rigs_credentials_write_nothing "$after" "$before"
contains another_rigs_credentials_are_refused "$(cat "$tmp/i/sync.log")" "refused"

# ---- the checker itself sees a lost row and a changed field ----------------------------------
psql -X -q "$(cat "$admin")" -c "DELETE FROM ecc.reps WHERE rig_id = 'a' AND local_id = 5" \
    -c "UPDATE ecc.sets SET pain = coalesce(pain, 0) + 1 WHERE rig_id = 'b' AND local_id = 2" \
    >/dev/null 2>&1
checked a="$tmp/a/h.db" b="$tmp/b/h.db"
check checker_fails_on_a_damaged_copy $? 1
contains checker_names_the_lost_row "$(cat "$tmp/check.out")" "lost: rig a, reps 5"
contains checker_names_the_changed_field "$(cat "$tmp/check.out")" "differs: rig b, sets 2, column pain"
lib_exit
