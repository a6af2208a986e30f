# tests/hil/sim.sh - sourced by the HIL test scripts (t_hil.sh, t_preflight.sh, t_probe.sh)
# after tests/lib.sh: start and stop eccsim. The caller sets eccsim (the binary); $tmp is
# lib.sh's.

# sim_port FILE: the TCP port on eccsim's 'eccsim: tcp on ADDR:PORT' line in FILE
sim_port() { sed -n 's/^eccsim: tcp on .*:\([0-9][0-9]*\)$/\1/p' "$1"; }

# start_sim CONFIG TAG [eccsim options]: start eccsim on a free port the kernel picks (so
# two runs at once never collide) with TAG's truth files in $tmp, wait for its ready line.
# Sets simpid and port (eccsim's).
start_sim() {
    cfg=$1
    tag=$2
    shift 2
    "$eccsim" -c "$cfg" --tcp-port auto --truth-log "$tmp/$tag.truth.jsonl" \
        --truth-csv "$tmp/$tag.truth.csv" "$@" >"$tmp/$tag.sim.out" 2>"$tmp/$tag.sim.err" &
    simpid=$!
    if wait_line "$tmp/$tag.sim.out" '^eccsim: ready' 10 "$simpid"; then
        port=$(sim_port "$tmp/$tag.sim.out")
        [ -n "$port" ] && return 0
        echo "  eccsim named no TCP port"
        return 1
    fi
    echo "  eccsim did not become ready"
    cat "$tmp/$tag.sim.err"
    return 1
}

stop_sim() {
    stop "$simpid"
    simpid=""
}
