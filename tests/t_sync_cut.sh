#!/bin/sh
# t_sync_cut.sh BUILD - eccsync's connections cut in the middle of their traffic, mid-
# transaction and with a COMMIT's reply lost, by a loopback proxy (docs/fleet.md, "Testing").
#
# The harness is tests/synclib.sh (a throwaway PostgreSQL 15 with TLS, the schema, a role
# per rig). Rig a trains four simulated weeks (tolerant12), then its eccsync catches up
# through tests/tcpcut, a relay on 127.0.0.1 between it and the server that parses nothing
# (TLS is end to end: sslmode=verify-full still verifies the server's certificate). The
# relay cuts the first 20 connections after a seeded number of bytes, in a seeded direction,
# with a RST both ways, and passes the later ones whole:
#  - client->server, 8 KB to 110 KB: mostly in the middle of a batch of 50 upserts (about
#    66 KB, sent pipelined as several 16 KB TLS records): the server has run BEGIN and the
#    rows of the records it could decrypt, then the client is gone. PostgreSQL logs
#    "unexpected EOF on client connection with an open transaction" and rolls it back;
#  - server->client, 2.6 KB to 6.5 KB: past the TLS handshake and the login, in the replies
#    to the first batches. A batch's replies come together after its COMMIT ran (the
#    pipeline is synced once, at its end), so a cut there loses the reply to a COMMIT that
#    happened: eccsync cannot know the batch arrived. It logs the batch as failed, and on
#    reconnecting reads the server's progress, which is already at or past that batch
#    ("arrived after all"), so it goes on from there; a batch delivered twice would change
#    nothing either (t_sync.sh's SIGKILL case).
# Checked: the proxy cut at least 20 connections; the server logged clients gone with a
# transaction open; eccsync logged the failures and reconnected; the progress sampled during
# the run never went back; in the end the server's progress is the rig's last change and
# tests/sync_check finds 0 lost, 0 differ, 0 extra. The seed is fixed (SEED=N overrides).
set -u
name=t_sync_cut
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/synclib.sh"
cutter="$build/rel/tests/tcpcut"
[ -x "$cutter" ] || { fail tcpcut_built "no $cutter (make BUILD=... $cutter)"; lib_exit; }
sync_setup
[ -z "${KEEP:-}" ] || at_exit 'cp "$pg/postgres.log" "$tmp/" 2>/dev/null'

proxy=$((port + 1))
"$cutter" --listen "$proxy" --to "$port" --seed "${SEED:-7}" --cuts 20 \
    --min-bytes 8000 --max-bytes 110000 --s2c-min-bytes 2600 --s2c-max-bytes 6500 \
    --log "$tmp/cut.log" 2>"$tmp/cut.err" &
cut_pid=$!
at_exit 'stop "$cut_pid" 5'
on_fail="$tmp/cut.err"
pass_if proxy_listens wait_line "$tmp/cut.log" "listening on" 10 "$cut_pid"

rig a "$proxy" || fail role_a "$tmp/roles.log"
cp sim/scenarios/tolerant12.ini "$tmp/weeks.ini"
train a 28 --set sim.scenario="$tmp/weeks.ini"
head_a=$(sqlite3 "$tmp/a/h.db" "SELECT seq FROM sync_counter" 2>/dev/null)
on_fail="$tmp/a/eccd.err"
pass_if four_weeks_trained [ "${head_a:-0}" -gt 3000 ]
t0=$(now)
sync_rig a bg --set sync.batch_rows=50
# The progress sampled until it reaches the rig's last change (or about 40 s).
: >"$tmp/samples"
caught_up() {
    p=$(progress a)
    echo "${p:-0}" >>"$tmp/samples"
    [ "${p:-0}" -ge "${head_a:-0}" ]
}
wait_for 20 caught_up
t1=$(now)
stop "$sync_pid" >/dev/null
stop "$cut_pid" 5
check proxy_exits_0_on_sigterm $? 0
cut_pid=

cuts=$(count " cut after " "$tmp/cut.log")
c2s=$(count " cut after .* bytes client->server" "$tmp/cut.log")
s2c=$(count " cut after .* bytes server->client" "$tmp/cut.log")
open_eof=$(count "unexpected EOF on client connection with an open transaction" "$pg/postgres.log")
failed=$(count "did not reach the server\|cannot reach\|cannot read this rig" "$tmp/a/sync.log")
connects=$(count "connected as rig a" "$tmp/a/sync.log")
# A batch that failed on the link, up to change N, and the next connection's progress M:
# M >= N when the batch had committed and only the reply was lost.
lost_replies=$(awk '/did not reach the server/ { n = $0; sub(/.* up to change /, "", n);
                        sub(/ .*/, "", n); failed_at = n + 0 }
                    /connected as rig/ { m = $0; sub(/.* up to /, "", m);
                        if (failed_at && m + 0 >= failed_at) lost++; failed_at = 0 }
                    END { print lost + 0 }' "$tmp/a/sync.log")
backwards=$(awk 'NR > 1 && $1 < prev { b++ } { prev = $1 } END { print b + 0 }' "$tmp/samples")

on_fail="$tmp/cut.log"
pass_if proxy_cut_at_least_20_connections [ "$cuts" -ge 20 ]
pass_if cuts_in_both_directions [ "$c2s" -ge 1 ] && [ "$s2c" -ge 1 ]
on_fail="$pg/postgres.log"
pass_if server_saw_clients_vanish_with_a_transaction_open [ "$open_eof" -ge 1 ]
on_fail="$tmp/a/sync.log"
pass_if eccsync_logged_the_link_failures [ "$failed" -ge 10 ]
pass_if eccsync_reconnected_after_each [ "$connects" -gt "$failed" ] || [ "$connects" -ge 20 ]
pass_if a_commit_whose_reply_was_lost_had_arrived [ "$lost_replies" -ge 1 ]
on_fail="$tmp/samples"
check progress_never_goes_back "$backwards" 0
check progress_is_the_rigs_last_change "$(progress a)" "$head_a"
on_fail="$tmp/check.out"
pass_if cut_connections_lose_nothing_and_write_nothing_twice checked a="$tmp/a/h.db"
echo "   $cuts cuts ($c2s client->server, $s2c server->client); the server logged $open_eof" \
     "EOFs with a transaction open; eccsync: $failed link failures, $connects connections," \
     "$lost_replies COMMIT replies lost; $(wc -l <"$tmp/samples") progress samples;" \
     "caught up in $(secs "$t0" "$t1") s"
echo "   $(tail -1 "$tmp/check.out")"
lib_exit
