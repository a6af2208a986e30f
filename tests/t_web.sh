#!/bin/sh
# t_web.sh BUILD - eccweb stuck or killed during a set changes nothing in eccd.
#
# The simulator is deterministic in the rig's own time (docs/simulation.md), so the same
# session run twice gives the same rep log and the same trace tick for tick. The
# reference runs eccd alone, as fast as it can. The second runs it at 8 x real time with
# its control socket, eccweb watching it and three live pages (curl on /events); mid-set
# eccweb is stopped (SIGSTOP: it reads nothing while eccd keeps writing to it), then
# killed (SIGKILL). Then:
#  - the rep logs are the same but for the run line (every rep, reject, set, fault: the
#    counts and every figure of every stroke);
#  - the traces (every tick's force, command, speed, state) are the same;
#  - eccd reports no overrun (no tick started late), and ended by itself after its session;
#  - the pages got live events before the stop (eccweb served them);
#  - before all that: `eccctl pair` shows the PIN eccweb wrote, which pairs a client once,
#    and an unpaired client (trust_loopback = false stands for a phone) cannot stop; and
#    eccweb listening on every address with the defaults, reached at this machine's own LAN
#    address (a peer that is not loopback), gives that client no control, while a browser
#    on 127.0.0.1 has it.
set -u
name=t_web
. "$(dirname "$0")/lib.sh"
build=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.." || exit 2

command -v curl >/dev/null 2>&1 || skip_all "no curl (Debian package curl; make check installs it)"
eccd=$build/san/eccd
eccweb=$build/san/eccweb
common="--set protocol.reps_per_set=5 --set sim.scenario=partial --sessions 1"

# shellcheck disable=SC2086 # the options are words
"$eccd" -c config/sim.ini $common --rep-log "$tmp/ref.jsonl" --trace "$tmp/ref.csv" \
    >/dev/null 2>"$tmp/ref.err"
check reference_run_ends_well $? 0

# shellcheck disable=SC2086
"$eccd" -c config/sim.ini $common --set sim.speed=8 --set "server.socket=$tmp/eccd.sock" \
    --rep-log "$tmp/run.jsonl" --trace "$tmp/run.csv" >"$tmp/run.out" 2>"$tmp/run.err" &
eccd_pid=$!
at_exit 'stop "$eccd_pid"'
wait_for 10 test -S "$tmp/eccd.sock"
port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')
printf '[server]\nsocket = eccd.sock\n[web]\nport = %s\npin_file = pin\ntrust_loopback = false\n' \
    "$port" >"$tmp/web.ini"
"$eccweb" -c "$tmp/web.ini" 2>"$tmp/web.err" &
web_pid=$!
at_exit 'kill -KILL "$web_pid" 2>/dev/null; wait "$web_pid" 2>/dev/null'
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$port/api/session"
# eccctl pair shows the PIN eccweb wrote; it pairs this (untrusted) client once.
said=$("$build/san/eccctl" -c "$tmp/web.ini" pair)
pin=$(printf '%s\n' "$said" | sed -n 's/^PIN \([0-9]*\),.*/\1/p')
echo "  eccctl pair: $said"
pair() {
    curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'X-Eccweb: 1' \
        --data "{\"pin\":\"$1\"}" "http://127.0.0.1:$port/api/pair"
}
stop_code() {
    curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'X-Eccweb: 1' \
        ${1:+-b "$1"} --data '{}' "http://127.0.0.1:$port/api/stop"
}
check unpaired_stop_refused "$(stop_code)" 403
check eccctl_pair_pin_pairs "$(pair "$pin")" 200
check a_pin_pairs_once "$(pair "$pin")" 403

# A browser on another machine: eccweb on every address with the defaults (trust_loopback
# on), reached at this machine's own LAN address, so the peer is not loopback.
lan=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
if [ -z "$lan" ]; then
    skip lan_client_gets_no_control "this machine has no non-loopback IPv4 address"
else
    lport=$(awk 'BEGIN { srand(); print 40000 + int(rand() * 20000) }')
    printf '[server]\nsocket = eccd.sock\n[web]\nlisten = 0.0.0.0\nport = %s\npin_file = pin-lan\n' \
        "$lport" >"$tmp/lan.ini"
    "$eccweb" -c "$tmp/lan.ini" 2>"$tmp/lan.err" &
    lan_pid=$!
    at_exit 'stop "$lan_pid"'
    wait_for 10 curl -s -o /dev/null "http://$lan:$lport/api/session"
    seen=$(curl -s "http://$lan:$lport/api/session")
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        -H 'X-Eccweb: 1' --data '{}' "http://$lan:$lport/api/stop")
    local_seen=$(curl -s "http://127.0.0.1:$lport/api/session")
    echo "  from $lan: stop -> $code; /api/session says control $(echo "$seen" | sed -n 's/.*"control":\([a-z]*\).*/\1/p'); from 127.0.0.1: $(echo "$local_seen" | sed -n 's/.*"control":\([a-z]*\).*/\1/p')"
    check lan_client_cannot_stop "$code" 403
    contains lan_client_gets_no_control "$seen" '"control":false'
    contains the_rig_itself_may_control "$local_seen" '"control":true'
    stop "$lan_pid"
    lan_pid=
fi

pages=
for i in 1 2 3; do
    curl -s -N "http://127.0.0.1:$port/events" >"$tmp/page$i.txt" 2>/dev/null &
    pages="$pages $!"
done
at_exit 'for p in $pages; do kill "$p" 2>/dev/null; done'

# Mid-set: eccweb stops reading (SIGSTOP) for two reps, then is killed.
wait_for 60 sh -c "[ \$(grep -c '\"event\":\"rep\"' '$tmp/run.jsonl' 2>/dev/null) -ge 2 ]"
kill -STOP "$web_pid"
wait_for 60 sh -c "[ \$(grep -c '\"event\":\"rep\"' '$tmp/run.jsonl' 2>/dev/null) -ge 4 ]"
kill -KILL "$web_pid"
wait "$web_pid" 2>/dev/null
web_pid=
events=$(cat "$tmp"/page*.txt | grep -c '^data: {"watch"')
echo "  3 pages got $events live events before eccweb was stopped"
# Served: each page got live events (how many depends on the machine's load, not asserted).
every_page_got_events() {
    for i in 1 2 3; do
        grep -q '^data: {"watch"' "$tmp/page$i.txt" || { detail="page $i got no live event"; return 1; }
    done
}
pass_if pages_were_served every_page_got_events

wait "$eccd_pid"
rc=$?
eccd_pid=
check eccd_ended_by_itself "$rc" 0
on_fail="$tmp/run.err"
grep -v '"event":"run"' "$tmp/ref.jsonl" >"$tmp/ref.events"
grep -v '"event":"run"' "$tmp/run.jsonl" >"$tmp/run.events"
reps=$(count '"event":"rep"' "$tmp/run.events")
rejects=$(count '"event":"reject"' "$tmp/run.events")
echo "  the session: $reps reps and $rejects rejected strokes in 3 sets; $(wc -l <"$tmp/run.csv") ticks traced"
detail=$(diff "$tmp/ref.events" "$tmp/run.events" | head -5)
pass_if rep_log_unchanged cmp -s "$tmp/ref.events" "$tmp/run.events"
detail=$(diff "$tmp/ref.csv" "$tmp/run.csv" | head -5)
pass_if every_tick_unchanged cmp -s "$tmp/ref.csv" "$tmp/run.csv"
check fifteen_reps "$reps" 15
overruns=$(sed -n 's/.* \([0-9]*\) overruns.*/\1/p' "$tmp/run.err" | tail -1)
echo "  eccd's last line: $(grep 'stopped at' "$tmp/run.err" | sed 's/^eccd: info: //')"
check no_tick_late "$overruns" 0
lib_exit
