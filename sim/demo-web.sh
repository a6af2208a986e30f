#!/bin/sh
# demo-web.sh BUILD - `make demo-web`: the patient's page on the simulated rig, live.
#
# eccd runs the normal simulated patient in real time (3 sets of 15, a minute's rest
# between them) with a history and a control socket in BUILD/demo-web/; eccweb serves the
# page on 127.0.0.1:PORT (PORT=8080 by default; start and next set allowed from the page,
# with a press held for a second). The page opens in the desktop's browser where there is
# one; this terminal follows the rig with `eccctl watch` until Ctrl-C, which stops both.
set -eu
build=${1:-build}
port=${PORT:-8080}
mkdir -p "$build/demo-web"
out=$(cd "$build/demo-web" && pwd)     # absolute: config paths are taken from config/
rm -rf "${out:?}"/*

"$build/eccd" -c config/sim.ini --set sim.speed=1 --set "server.socket=$out/eccd.sock" \
    --set "history.path=$out/history.db" --sessions 1 --duration 3600 \
    --rep-log "$out/reps.jsonl" 2>"$out/eccd.err" &
eccd=$!
web=
watcher=
cleanup() {
    [ -z "$watcher" ] || kill "$watcher" 2>/dev/null || true
    [ -z "$web" ] || kill "$web" 2>/dev/null || true
    kill "$eccd" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM
i=0
until [ -S "$out/eccd.sock" ]; do
    i=$((i + 1))
    if [ $i -ge 100 ] || ! kill -0 "$eccd" 2>/dev/null; then
        echo "eccd did not start:"
        cat "$out/eccd.err"
        exit 1
    fi
    sleep 0.1
done
"$build/eccweb" -c config/sim.ini --set "server.socket=$out/eccd.sock" --set "web.port=$port" \
    --set "web.pin_file=$out/pin" --set web.allow_start=true 2>"$out/eccweb.err" &
web=$!
i=0
until grep -q 'serving the page' "$out/eccweb.err" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -ge 100 ] || ! kill -0 "$web" 2>/dev/null; then
        echo "eccweb did not start:"
        cat "$out/eccweb.err"
        echo "(another program on port $port? PORT=8090 make demo-web)"
        exit 1
    fi
    sleep 0.1
done
url="http://127.0.0.1:$port/"
echo "The patient's page is live at $url"
echo "  - open it in a browser on this machine (it opens by itself on a desktop);"
echo "  - from another computer: ssh -L $port:127.0.0.1:$port THIS-MACHINE, then open $url there;"
echo "  - press \"Sound: off\" on the page for the tones, chimes and the spoken rep count;"
echo "  - after each set the page asks for a pain score; \"Progress\" shows the history."
echo "The simulated patient starts the first set 2 s in; a set takes about a minute."
echo "Files: $out (history.db, reps.jsonl, eccd.err, eccweb.err). Ctrl-C stops it all."
echo
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && command -v xdg-open >/dev/null 2>&1; then
    xdg-open "$url" >/dev/null 2>&1 || true
fi
# In the background, so that Ctrl-C (or SIGTERM) reaches the trap at once: a shell runs
# its traps only between commands, and wait is where it waits here.
"$build/eccctl" -s "$out/eccd.sock" watch --rate 1 &
watcher=$!
wait "$watcher" || true
