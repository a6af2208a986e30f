# synclib.sh - what the t_sync*.sh scripts share (docs/fleet.md, "Testing"): a throwaway
# PostgreSQL 15 with TLS (tests/pgtmp.sh), the central schema (eccsync --migrate), one role
# per rig (eccsync --add-rig), and rigs that are the real eccd on the simulator with their
# own history file and their own eccsync over TCP with sslmode=verify-full. A script sets
# its name, sources lib.sh, then this file; it needs $1 (the build folder).
#
#   $eccd $eccsync $check_bin  the binaries under test (sync_check: tests/sync_check.c)
#   $pg $port $admin           the server's folder and port, a superuser's conninfo file
#   start_server, stop_server  the server (the script starts it once, after sourcing)
#   rig ID [PORT]              rig ID's folder $tmp/ID, role rig_ID, password, credentials
#                              (to PORT: default the server's, another for a proxy)
#   train ID DAYS [SETS...]    the rig's eccd over DAYS simulated days of $tmp/three.ini
#   sync_rig ID MODE [SETS...] the rig's eccsync: MODE "once" runs it to the end, anything
#                              else in the background ($sync_pid)
#   checked RIG=FILE...        sync_check: the database against the rigs' files ($tmp/check.out)
#   progress ID                the rig's last_seq on the server (empty: none yet)
#   sql SQL                    psql as the superuser on the ecc database, unaligned
set -u
cd "$(dirname "$0")/.." || exit 2
build=$(cd "${1:-build}" && pwd)
eccd="$build/rel/eccd"
eccsync="$build/rel/eccsync"
check_bin="$build/rel/tests/sync_check"
at_exit 'kill $(jobs -p) 2>/dev/null'

missing="PostgreSQL 15 is not installed (apt-get install postgresql-15)"
[ -x /usr/lib/postgresql/15/bin/initdb ] || skip_all "$missing"
command -v psql >/dev/null 2>&1 || skip_all "$missing"
command -v openssl >/dev/null 2>&1 || skip_all "no openssl (Debian package openssl)"

pg=$(mktemp -d /tmp/pgtmp-XXXXXX) || exit 2
at_exit 'rm -rf "$pg"'
sh tests/pgtmp.sh init "$pg" tls >"$tmp/init.log" 2>&1 || { fail server_init "$tmp/init.log"; lib_exit; }
# a random port from /dev/urandom: awk's srand() seeds by the second, so two sync scripts
# started in the same second (t_sync.sh beside t_sync_report.sh) drew the same port
port=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
start_server() {
    sh tests/pgtmp.sh run "$pg" "$port" &
    pg_pid=$!
    sh tests/pgtmp.sh ready "$pg" "$port" 60
}
stop_server() {
    [ -n "$pg_pid" ] && sh tests/pgtmp.sh stop "$pg" "$pg_pid" >/dev/null
    wait "$pg_pid" 2>/dev/null
    pg_pid=
}
pg_pid=
at_exit 'stop_server'
admin="$tmp/admin.conninfo"

# The server up, the ecc database and its schema: results server_starts, schema_migrates.
sync_setup() {
    on_fail="$pg/postgres.log"
    pass_if server_starts start_server
    psql -X -q "$(sh tests/pgtmp.sh conninfo "$pg" "$port")" -c "CREATE DATABASE ecc" >/dev/null
    (umask 077; echo "$(sh tests/pgtmp.sh conninfo "$pg" "$port") dbname=ecc" >"$admin")
    "$eccsync" --admin "$admin" --migrate >"$tmp/migrate.log" 2>&1
    check schema_migrates $? 0
    # A patient's three days (the tolerant patient's scenario, shortened), and a week.
    sed 's/^programme_days = .*/programme_days = 3/' sim/scenarios/tolerant12.ini >"$tmp/three.ini"
    sed 's/^programme_days = .*/programme_days = 7/' sim/scenarios/tolerant12.ini >"$tmp/week.ini"
}

rig() {
    d="$tmp/$1"
    mkdir -p "$d"
    (umask 077; echo "pw-$1" >"$d/password")
    "$eccsync" --admin "$admin" --add-rig "$1" --role "rig_$1" --password-file "$d/password" \
        >>"$tmp/roles.log" 2>&1 || return 1
    (umask 077; echo "host=localhost hostaddr=127.0.0.1 port=${2:-$port} dbname=ecc" \
        "user=rig_$1 password=pw-$1 sslmode=verify-full sslrootcert=$pg/ca.pem" >"$d/cred")
}

train() {
    d="$tmp/$1"
    days=$2
    shift 2
    "$eccd" -c config/sim.ini --set history.path="$d/h.db" --set sim.scenario="$tmp/three.ini" \
        --set sim.skip_quiet=true --duration $((days * 86400)) "$@" >/dev/null 2>"$d/eccd.err"
}

sync_rig() {
    d="$tmp/$1"
    id=$1
    mode=$2
    shift 2
    set -- -c config/sim.ini --set history.path="$d/h.db" --set sync.rig_id="$id" \
        --set sync.credentials="$d/cred" --set sync.interval_s=0.1 --set sync.retry_max_s=1 \
        --set sync.batch_rows=50 "$@"
    if [ "$mode" = once ]; then
        "$eccsync" "$@" --once >>"$d/sync.log" 2>&1
    else
        "$eccsync" "$@" >>"$d/sync.log" 2>&1 &
        sync_pid=$!
    fi
}

checked() { "$check_bin" "$admin" "$@" >"$tmp/check.out" 2>&1; }
sql() { psql -X -At "$(cat "$admin")" -c "$1"; }
progress() { sql "SELECT last_seq FROM ecc.sync_progress WHERE rig_id = '$1'" 2>/dev/null; }
