# tests/hil/sim.sh - sourced by the HIL test scripts (t_hil.sh, t_preflight.sh, t_probe.sh)
# after tests/lib.sh: start and stop eccsim. The caller sets eccsim (the binary) and port
# (the last TCP port used; each start takes the next one); $tmp is lib.sh's.

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
    wait_line "$tmp/$tag.sim.out" '^eccsim: ready' 10 "$simpid" && return 0
    echo "  eccsim did not become ready"
    cat "$tmp/$tag.sim.err"
    return 1
}

stop_sim() {
    stop "$simpid"
    simpid=""
}
