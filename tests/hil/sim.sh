# tests/hil/sim.sh - sourced by the HIL test scripts (t_hil.sh, t_preflight.sh): start and
# stop eccsim. The caller sets eccsim (the binary), tmp (a scratch directory) and port (the
# last TCP port used; each start takes the next one).

# start_sim CONFIG TAG [eccsim options]: start eccsim on the next port with TAG's truth files
# in $tmp, wait for its ready line. Sets simpid and sim_t0 (when it was launched).
start_sim() {
    cfg=$1
    tag=$2
    shift 2
    port=$((port + 1))
    "$eccsim" -c "$cfg" --tcp-port "$port" --truth-log "$tmp/$tag.truth.jsonl" \
        --truth-csv "$tmp/$tag.truth.csv" "$@" >"$tmp/$tag.sim.out" 2>"$tmp/$tag.sim.err" &
    simpid=$!
    sim_t0=$(date +%s.%N)
    i=0
    while ! grep -q '^eccsim: ready' "$tmp/$tag.sim.out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$simpid" 2>/dev/null; then
            echo "  eccsim did not become ready"; cat "$tmp/$tag.sim.err"; return 1
        fi
        sleep 0.1
    done
}

stop_sim() {
    kill -TERM "$simpid" 2>/dev/null
    wait "$simpid" 2>/dev/null
    simpid=""
}
