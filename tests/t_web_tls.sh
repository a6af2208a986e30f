#!/bin/sh
# t_web_tls.sh BUILD - eccweb over HTTPS ([web] tls_cert, tls_key), and its refusals of
# TLS files it cannot use.
#
# A self-signed certificate is made with openssl for 127.0.0.1; eccweb serves the page and
# the API over HTTPS with it (curl checks the certificate against that file, not -k), the
# pairing cookie is marked Secure, and plain HTTP on that port gets no page. A key that is
# not PEM, a missing file and a certificate without its key are refused by --check-config
# with the key named (exit 1 or 2), before anything listens.
set -u
name=t_web_tls
. "$(dirname "$0")/lib.sh"
build=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.." || exit 2

command -v curl >/dev/null 2>&1 || skip_all "no curl (Debian package curl; make check installs it)"
command -v openssl >/dev/null 2>&1 || skip_all "no openssl (Debian package openssl; make check installs it)"
eccweb=$build/san/eccweb

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    >"$tmp/openssl.log" 2>&1
check made_a_certificate $? 0

port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')
printf '[server]\nsocket = eccd.sock\n[web]\nport = %s\npin_file = pin\ntrust_loopback = false\ntls_cert = cert.pem\ntls_key = key.pem\n' \
    "$port" >"$tmp/web.ini"
out=$("$eccweb" -c "$tmp/web.ini" --check-config 2>&1)
contains check_config_says_https "$out" "(HTTPS)"

"$eccweb" -c "$tmp/web.ini" 2>"$tmp/web.err" &
web_pid=$!
at_exit 'stop "$web_pid"'
ready() { curl -s -o /dev/null --cacert "$tmp/cert.pem" "https://127.0.0.1:$port/api/session"; }
on_fail="$tmp/web.err"
pass_if serves_https wait_for 10 ready
page=$(curl -s --cacert "$tmp/cert.pem" "https://127.0.0.1:$port/")
contains the_page_over_https "$page" "<title>eccd: live</title>"
plain=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
check no_plain_http_on_the_tls_port "$plain" 000
pin=$("$build/san/eccctl" -c "$tmp/web.ini" pair | sed -n 's/^PIN \([0-9]*\),.*/\1/p')
curl -s -D "$tmp/headers" -o /dev/null --cacert "$tmp/cert.pem" -H 'Content-Type: application/json' \
    -H 'X-Eccweb: 1' -H "Origin: https://127.0.0.1:$port" --data "{\"pin\":\"$pin\"}" \
    "https://127.0.0.1:$port/api/pair"
cookie=$(grep -i '^set-cookie:' "$tmp/headers" | tr -d '\r')
contains pairing_cookie_is_secure "$cookie" "; Secure"
contains pairing_cookie_is_httponly_strict "$cookie" "HttpOnly; SameSite=Strict"
stop "$web_pid"
web_pid=

# Files eccweb cannot use: said before anything listens.
echo "not a key" >"$tmp/bad.pem"
sed 's/^tls_key = .*/tls_key = bad.pem/' "$tmp/web.ini" >"$tmp/bad.ini"
out=$("$eccweb" -c "$tmp/bad.ini" --check-config 2>&1)
rc=$?
check a_key_that_is_not_pem_fails "$rc" 1
contains a_key_that_is_not_pem_is_named "$out" "[web] tls_key"
sed 's/^tls_cert = .*/tls_cert = gone.pem/' "$tmp/web.ini" >"$tmp/gone.ini"
out=$("$eccweb" -c "$tmp/gone.ini" --check-config 2>&1)
contains a_missing_certificate_is_named "$out" "[web] tls_cert: $tmp/gone.pem: No such file"
grep -v '^tls_key' "$tmp/web.ini" >"$tmp/half.ini"
out=$("$eccweb" -c "$tmp/half.ini" --check-config 2>&1)
rc=$?
check a_certificate_without_key_is_a_config_error "$rc" 2
contains a_certificate_without_key_says_the_fix "$out" "HTTPS needs both the certificate and its private key"
lib_exit
