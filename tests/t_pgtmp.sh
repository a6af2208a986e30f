#!/bin/sh
# t_pgtmp.sh BUILD - tests/pgtmp.sh, the throwaway PostgreSQL 15 a shell test can use
# (docs/fleet.md, "The test harness"): a cluster with TLS made (as root: owned by nobody),
# run, ready within a bound; the superuser over the socket; a role with a password over TCP
# with sslmode=verify-full against the throwaway CA, refused for a name the certificate
# does not carry; stop leaves no process of the cluster.
set -u
name=t_pgtmp
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.." || exit 2

missing="PostgreSQL 15 is not installed (apt-get install postgresql-15)"
[ -x /usr/lib/postgresql/15/bin/initdb ] || skip_all "$missing"
command -v psql >/dev/null 2>&1 || skip_all "$missing"
command -v openssl >/dev/null 2>&1 || skip_all "no openssl (Debian package openssl; make check installs it)"

pg=$(mktemp -d /tmp/pgtmp-XXXXXX) || exit 2
at_exit 'rm -rf "$pg"'
sh tests/pgtmp.sh init "$pg" tls >"$tmp/init.log" 2>&1
rc=$?
on_fail="$tmp/init.log"
pass_if init_makes_a_cluster [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || lib_exit

port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')
sh tests/pgtmp.sh run "$pg" "$port" &
pg_pid=$!
at_exit '[ -n "$pg_pid" ] && sh tests/pgtmp.sh stop "$pg" "$pg_pid"; wait $pg_pid 2>/dev/null'
on_fail="$pg/postgres.log"
pass_if accepts_connections sh tests/pgtmp.sh ready "$pg" "$port" 60

admin=$(sh tests/pgtmp.sh conninfo "$pg" "$port")
out=$(psql -X -q -At "$admin" -c "CREATE ROLE r LOGIN PASSWORD 'pw r'" -c "SELECT current_user" 2>&1)
check superuser_over_the_socket "$out" postgres

tcp="host=localhost hostaddr=127.0.0.1 port=$port user=r dbname=postgres sslmode=verify-full sslrootcert=$pg/ca.pem"
out=$(PGPASSWORD='pw r' psql -X -At "$tcp" -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)
check tls_verify_full_with_the_ca "$out" t
out=$(PGPASSWORD='pw r' psql -X -At "$tcp host=wrong.invalid" -c "SELECT 1" 2>&1)
contains verify_full_refuses_another_name "$out" "does not match host name"
out=$(PGPASSWORD='pw r' psql -X -At "$tcp sslmode=disable" -c "SELECT 1" 2>&1)
contains no_tcp_in_clear "$out" "no encryption"

sh tests/pgtmp.sh stop "$pg" "$pg_pid"
check stop_leaves_no_process $? 0
wait "$pg_pid" 2>/dev/null
pg_pid=
lib_exit
