#!/bin/sh
# bench_sync.sh BUILD - eccsync into a real PostgreSQL 15 (a throwaway server with TLS, as in
# t_sync.sh; fsync off, so the server's disk is not what is measured):
#  1. rows per second: a rig's twelve weeks (the tolerant patient) delivered by one eccsync
#     --once, in batches of 50 and of 500;
#  2. the lag from a rep durable on the rig (counted in its SQLite file) to visible
#     centrally: eccd paced at 5 x real time for a set with eccsync running ([sync]
#     interval_s 0.2 and the default 2), both counts polled every 20 ms; median and p99;
#  3. 50 rigs x one simulated day each (both sessions) replicated into one server, the
#     eccsyncs two at a time (this machine's cores): the wall time and the database's size;
#  4. the clinic's change of a programme (an UPDATE in the central database) until the
#     rig's eccd has taken it (in its SQLite file), eccsync pulling every [sync] pull_s
#     (1 s and the default 30 s), 9 and 3 changes, polled every 20 ms: median and most.
set -u
build=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.." || exit 2
tmp=$(mktemp -d)
pg=$(mktemp -d /tmp/pgtmp-XXXXXX)
pg_pid=
cleanup() {
    kill $(jobs -p) 2>/dev/null
    [ -n "$pg_pid" ] && sh tests/pgtmp.sh stop "$pg" "$pg_pid" >/dev/null 2>&1
    rm -rf "$tmp" "$pg"
}
trap cleanup EXIT INT TERM

[ -x /usr/lib/postgresql/15/bin/initdb ] || { echo "bench_sync: no PostgreSQL 15: skipped"; exit 0; }
sh tests/pgtmp.sh init "$pg" tls >"$tmp/init.log" 2>&1 || { cat "$tmp/init.log"; exit 1; }
port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')
sh tests/pgtmp.sh run "$pg" "$port" &
pg_pid=$!
sh tests/pgtmp.sh ready "$pg" "$port" 60 || exit 1
psql -X -q "$(sh tests/pgtmp.sh conninfo "$pg" "$port")" -c "CREATE DATABASE ecc" >/dev/null
admin="$tmp/admin"
(umask 077; echo "$(sh tests/pgtmp.sh conninfo "$pg" "$port") dbname=ecc" >"$admin")
"$build/rel/eccsync" --admin "$admin" --migrate >/dev/null 2>&1 || exit 1
sql() { psql -X -At "$(cat "$admin")" -c "$1"; }
now() { date +%s.%N; }

rig() {
    d="$tmp/$1"
    mkdir -p "$d"
    (umask 077; echo "pw-$1" >"$d/pw")
    "$build/rel/eccsync" --admin "$admin" --add-rig "$1" --role "rig_$1" --password-file "$d/pw" \
        >/dev/null 2>&1
    (umask 077; echo "host=localhost hostaddr=127.0.0.1 port=$port dbname=ecc user=rig_$1" \
        "password=pw-$1 sslmode=verify-full sslrootcert=$pg/ca.pem" >"$d/cred")
}
sync_args() {
    echo "-c config/sim.ini --set history.path=$tmp/$1/h.db --set sync.rig_id=$1" \
         "--set sync.credentials=$tmp/$1/cred --set sync.retry_max_s=1"
}

echo "bench_sync: eccsync into PostgreSQL 15 (throwaway, TLS verify-full, fsync off)"

# ---- 1. rows per second ---------------------------------------------------------------------
rig weeks
"$build/rel/eccd" -c config/sim.ini --set history.path="$tmp/weeks/h.db" \
    --set sim.scenario=tolerant12 --set sim.skip_quiet=true --duration $((84 * 86400)) \
    >/dev/null 2>&1
rows=$(sqlite3 "$tmp/weeks/h.db" "SELECT seq FROM sync_counter")
deliver() {     # deliver ID BATCH WHAT: a run of eccsync --once, timed
    t0=$(now)
    # shellcheck disable=SC2046
    "$build/rel/eccsync" $(sync_args "$1") --set sync.batch_rows="$2" --once >/dev/null 2>&1
    t1=$(now)
    awk -v n="$rows" -v a="$t0" -v b="$t1" -v k="$2" -v w="$3" 'BEGIN {
        printf "  twelve weeks, %d changes, batches of %3d, %s: %.2f s, %.0f rows/s\n", n, k, w,
               b - a, n / (b - a) }'
}
for batch in 50 500; do
    rig "weeks$batch"
    cp "$tmp/weeks/h.db" "$tmp/weeks$batch/h.db"
    deliver "weeks$batch" "$batch" "new rows"
done
sql "DELETE FROM ecc.sync_progress WHERE rig_id = 'weeks500'" >/dev/null
deliver weeks500 500 "all again (a redelivery: nothing rewritten)"

# ---- 2. lag from durable on the rig to visible centrally --------------------------------------
lag() {
    interval=$1
    id=lag$2
    rig "$id"
    # shellcheck disable=SC2046
    "$build/rel/eccsync" $(sync_args "$id") --set sync.interval_s="$interval" >/dev/null 2>&1 &
    spid=$!
    "$build/rel/eccd" -c config/sim.ini --set history.path="$tmp/$id/h.db" --set sim.speed=5 \
        --sessions 1 >/dev/null 2>&1 &
    epid=$!
    : >"$tmp/$id/polls"
    while kill -0 "$epid" 2>/dev/null || [ "$(tail -1 "$tmp/$id/polls" | cut -d' ' -f2)" != \
          "$(tail -1 "$tmp/$id/polls" | cut -d' ' -f3)" ]; do
        l=$(sqlite3 "$tmp/$id/h.db" "SELECT count(*) FROM reps" 2>/dev/null || echo 0)
        c=$(sql "SELECT count(*) FROM ecc.reps WHERE rig_id = '$id'" 2>/dev/null || echo 0)
        echo "$(now) ${l:-0} ${c:-0}" >>"$tmp/$id/polls"
        [ "$(wc -l <"$tmp/$id/polls")" -gt 6000 ] && break
        sleep 0.02
    done
    kill "$spid" 2>/dev/null
    wait "$spid" "$epid" 2>/dev/null
    # for rep k: the first poll that saw it locally, the first that saw it centrally
    awk '{ t = $1; for (k = seen_l + 1; k <= $2; k++) tl[k] = t; if ($2 > seen_l) seen_l = $2;
           for (k = seen_c + 1; k <= $3; k++) tc[k] = t; if ($3 > seen_c) seen_c = $3 }
         END { for (k = 1; k <= seen_c; k++) if (k in tl) printf "%.6f\n", tc[k] - tl[k] }' \
        "$tmp/$id/polls" | sort -n >"$tmp/$id/lags"
    awk -v iv="$interval" '{ d[NR] = $1 } END {
        if (!NR) { print "  lag: no rep seen"; exit }
        p = int(0.99 * NR + 0.5); if (p < 1) p = 1
        printf "  lag, rep durable on the rig -> visible centrally, interval_s %s: median %.0f ms, p99 %.0f ms (%d reps, polled every 20 ms)\n",
               iv, 1000 * d[int((NR + 1) / 2)], 1000 * d[p], NR }' "$tmp/$id/lags"
}
lag 0.2 1
lag 2 2

# ---- 3. 50 rigs x one simulated day ------------------------------------------------------------
for i in $(seq 1 50); do
    rig "r$i"
    "$build/rel/eccd" -c config/sim.ini --set history.path="$tmp/r$i/h.db" --set sim.scenario=day \
        --set sim.seed="$i" --set sim.skip_quiet=true --duration 86400 >/dev/null 2>&1
done
size0=$(sql "SELECT pg_database_size('ecc')")
t0=$(now)
for i in $(seq 1 2 50); do
    # shellcheck disable=SC2046
    "$build/rel/eccsync" $(sync_args "r$i") --once >/dev/null 2>&1 &
    p=$!
    # shellcheck disable=SC2046
    "$build/rel/eccsync" $(sync_args "r$((i + 1))") --once >/dev/null 2>&1
    wait "$p"
done
t1=$(now)
rows=$(sql "SELECT count(*) FROM ecc.reps WHERE rig_id LIKE 'r%'")
size1=$(sql "SELECT pg_database_size('ecc')")
awk -v a="$t0" -v b="$t1" -v r="$rows" -v s0="$size0" -v s1="$size1" 'BEGIN {
    printf "  50 rigs x one day (%d reps): %.1f s, the database grew %.1f MB to %.1f MB\n",
           r, b - a, (s1 - s0) / 1048576, s1 / 1048576 }'

# ---- 4. the clinic's change to the rig -------------------------------------------------------
pull_lag() {
    every=$1
    n=$2
    id=pull$3
    uuid=00000000-0000-4000-8000-00000000000$3
    rig "$id"
    sql "INSERT INTO ecc.patients(uuid, name, created) VALUES ('$uuid', 'bench $3', 1)" >/dev/null
    sql "INSERT INTO ecc.programmes(patient_uuid, start, weeks, sessions_per_day, sets, reps,
         band_low, band_high, step_share, floor_n, ceiling_n, locked, level, updated)
         VALUES ('$uuid', 1767596400, 12, 2, 3, 15, 60, 100, 0.05, 50, 160, 0, 0, 1)" >/dev/null
    "$build/rel/eccd" -c config/sim.ini --set history.path="$tmp/$id/h.db" \
        --set server.socket="$tmp/$id/s.sock" --set sim.speed=1 --set sim.scenario=day >/dev/null 2>&1 &
    epid=$!
    # shellcheck disable=SC2046
    "$build/rel/eccsync" $(sync_args "$id") --set server.socket="$tmp/$id/s.sock" \
        --set sync.pull_s="$every" >/dev/null 2>&1 &
    spid=$!
    : >"$tmp/$id/lags"
    for k in $(seq 1 "$n"); do
        t0=$(now)
        sql "UPDATE ecc.programmes SET level = $k WHERE patient_uuid = '$uuid'" >/dev/null
        polls=0
        while [ "$(sqlite3 "$tmp/$id/h.db" "SELECT level FROM programmes g JOIN patients p
                  ON p.id = g.patient_id WHERE p.uuid = '$uuid'" 2>/dev/null)" != "$k" ] &&
              [ "$polls" -lt 5000 ]; do
            polls=$((polls + 1))
            sleep 0.02
        done
        echo "$(now) $t0" | awk '{ printf "%.6f\n", $1 - $2 }' >>"$tmp/$id/lags"
    done
    kill "$spid" "$epid" 2>/dev/null
    wait "$spid" "$epid" 2>/dev/null
    sort -n "$tmp/$id/lags" | awk -v e="$every" '{ d[NR] = $1 } END {
        printf "  the clinic'"'"'s change -> taken by the rig'"'"'s eccd, pull_s %s: median %.2f s, most %.2f s (%d changes)\n",
               e, d[int((NR + 1) / 2)], d[NR], NR }'
}
pull_lag 1 9 1
pull_lag 30 3 2
