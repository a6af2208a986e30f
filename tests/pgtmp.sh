#!/bin/sh
# pgtmp.sh - a throwaway PostgreSQL 15 for tests: the recipe tests/pgtmp.c (the C tests'
# harness) runs, and the commands a shell test uses (docs/fleet.md, "The test harness").
#
#   pgtmp.sh init DIR [tls]    DIR: a fresh empty folder (mktemp -d). Makes DIR/data with
#                              initdb (superuser "postgres", UTF8, no locale), the server's
#                              settings (below), DIR/postgres.log, and with tls a throwaway CA
#                              (DIR/ca.pem) and a server certificate for localhost and
#                              127.0.0.1 signed by it. Exit 0, or 1 after printing initdb's or
#                              openssl's output.
#   pgtmp.sh run DIR PORT      the server in the foreground, its output to DIR/postgres.log:
#                              the shell is replaced by postgres (exec), so the pid of a
#                              `pgtmp.sh run ... &` is the postmaster's. Listens on DIR (its
#                              Unix socket) and on 127.0.0.1:PORT.
#   pgtmp.sh ready DIR PORT SECONDS
#                              wait, bounded, until it accepts connections (pg_isready): 0, or 1
#   pgtmp.sh conninfo DIR PORT the superuser's conninfo (over the socket: psql "$(...)")
#   pgtmp.sh stop DIR PID      fast shutdown (SIGINT), SIGKILL after 10 s, then SIGKILL every
#                              process still working in DIR/data (a killed postmaster's
#                              children) until none is left; DIR is the caller's to remove
#
# As root (the tests in CI), initdb and postgres refuse to run: both run as the user nobody
# (setpriv), DIR is chowned to it. As any other user they run as that user.
#
# Who may connect (pg_hba.conf): anyone on the socket, without a password ("trust": the
# socket is in DIR, mode 0700, which only its owner and root can enter); over TCP only
# with a password (scram-sha-256), and with tls only over TLS. The rigs' roles connect
# over TCP, the superuser (the admin) over the socket.
#
# A shell test (after tests/lib.sh):
#     pg=$(mktemp -d /tmp/pgtmp-XXXXXX); at_exit 'rm -rf "$pg"'
#     sh tests/pgtmp.sh init "$pg" tls || fail ...
#     port=...; sh tests/pgtmp.sh run "$pg" "$port" & pg_pid=$!
#     at_exit 'sh tests/pgtmp.sh stop "$pg" "$pg_pid"'
#     sh tests/pgtmp.sh ready "$pg" "$port" 30 && psql "$(sh tests/pgtmp.sh conninfo "$pg" "$port")" ...
set -u
bin=${PGTMP_BIN:-/usr/lib/postgresql/15/bin}

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

# as_owner CMD...: CMD as the user that owns the cluster (nobody when we are root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups -- "$@"
    else
        "$@"
    fi
}

# certificates DIR: a CA and a server certificate it signed (localhost, 127.0.0.1), P-256
# keys (quick to make), valid two days from now.
certificates() {
    cat >"$1/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = pgtmp
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    # shellcheck disable=SC2086 # $ec: options, split on purpose
    openssl req -x509 $ec -days 2 -config "$1/openssl.cnf" -extensions ca \
        -subj "/CN=pgtmp test CA" -keyout "$1/ca.key" -out "$1/ca.pem" &&
    openssl req $ec -config "$1/openssl.cnf" -subj "/CN=localhost" \
        -keyout "$1/server.key" -out "$1/server.csr" &&
    openssl x509 -req -in "$1/server.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" \
        -CAcreateserial -days 2 -extfile "$1/openssl.cnf" -extensions server \
        -out "$1/server.pem"
}

# settings DIR TLS: appended to postgresql.conf. Quick and small: a throwaway server needs
# no fsync (a killed postmaster loses nothing the page cache holds; crash recovery still
# runs), and mmap'ed dynamic shared memory does not depend on /dev/shm's size (a container's
# is often 64 MB).
settings() {
    cat <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$1'
unix_socket_permissions = 0700
max_connections = 40
shared_buffers = 16MB
dynamic_shared_memory_type = mmap
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
log_min_messages = warning
log_connections = off
EOF
    if [ "$2" = tls ]; then
        echo "ssl = on"
        echo "ssl_cert_file = '$1/server.pem'"
        echo "ssl_key_file = '$1/server.key'"
        echo "ssl_min_protocol_version = 'TLSv1.2'"
    fi
}

hba() {
    echo "local all all trust"
    if [ "$1" = tls ]; then
        echo "hostssl all all 127.0.0.1/32 scram-sha-256"
        echo "hostnossl all all 127.0.0.1/32 reject"
    else
        echo "host all all 127.0.0.1/32 scram-sha-256"
    fi
}

init() {
    dir=$1
    tls=${2:-plain}
    if ! [ -d "$dir" ] || [ -n "$(ls -A "$dir")" ]; then
        echo "pgtmp: $dir: not an empty folder (make one with mktemp -d)" >&2
        exit 1
    fi
    if ! [ -x "$bin/initdb" ]; then
        echo "PostgreSQL 15 is not installed (apt-get install postgresql-15)" >&2
        exit 1
    fi
    if [ "$tls" = tls ] && ! certificates "$dir" >"$dir/openssl.log" 2>&1; then
        cat "$dir/openssl.log" >&2
        exit 1
    fi
    [ "$(id -u)" -eq 0 ] && chown -R nobody "$dir"
    chmod 0700 "$dir"
    [ -f "$dir/server.key" ] && chmod 0600 "$dir/server.key"
    if ! as_owner "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --no-locale -A trust \
            --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        exit 1
    fi
    settings "$dir" "$tls" >>"$dir/data/postgresql.conf"
    hba "$tls" >"$dir/data/pg_hba.conf"
    : >"$dir/postgres.log"
    [ "$(id -u)" -eq 0 ] && chown nobody "$dir/postgres.log" "$dir/data/pg_hba.conf"
    return 0
}

run() {
    exec >>"$1/postgres.log" 2>&1 </dev/null
    if [ "$(id -u)" -eq 0 ]; then
        exec setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups -- \
            "$bin/postgres" -D "$1/data" -p "$2"
    fi
    exec "$bin/postgres" -D "$1/data" -p "$2"
}

ready() {
    n=$(($3 * 10))
    until "$bin/pg_isready" -q -h "$1" -p "$2" -U postgres -d postgres; do
        [ "$n" -gt 0 ] || return 1
        n=$((n - 1))
        sleep 0.1
    done
}

# in_cluster DIR: the pids of the processes whose working folder is DIR/data (every
# process of a cluster works there), zombies excluded (theirs cannot be read).
in_cluster() {
    want=$(cd "$1/data" 2>/dev/null && pwd -P) || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/cwd" 2>/dev/null)" = "$want" ] && echo "${p#/proc/}"
    done
}

stop() {
    kill -INT "$2" 2>/dev/null
    n=100
    while kill -0 "$2" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z ' "/proc/$2/stat" 2>/dev/null &&
          [ "$n" -gt 0 ]; do
        sleep 0.1
        n=$((n - 1))
    done
    kill -KILL "$2" 2>/dev/null
    wait "$2" 2>/dev/null
    n=100
    while left=$(in_cluster "$1") && [ -n "$left" ] && [ "$n" -gt 0 ]; do
        # shellcheck disable=SC2086 # a list of pids
        kill -KILL $left 2>/dev/null
        sleep 0.1
        n=$((n - 1))
    done
    [ -z "$(in_cluster "$1")" ]
}

[ $# -ge 2 ] || usage
cmd=$1
shift
case $cmd in
init) init "$@" ;;
run) [ $# -eq 2 ] || usage; run "$@" ;;
ready) [ $# -eq 3 ] || usage; ready "$@" ;;
conninfo) [ $# -eq 2 ] || usage; echo "host=$1 port=$2 user=postgres dbname=postgres" ;;
stop) [ $# -eq 2 ] || usage; stop "$@" ;;
*) usage ;;
esac
