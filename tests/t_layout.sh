#!/bin/sh
# t_layout.sh BUILD - the folders keep the architecture's one-way arrows (tests/layout.sh,
# docs/architecture.md): the tree passes; a copy of it with a planted include from the pure
# core to an OS header, one from the core to the daemon, one from hal/ up to the daemon,
# and a clock read in the core, each fails naming the planted file.
#
# Prints "ok   t_layout: NAME" / "FAIL t_layout: NAME" per test.
set -u
name=t_layout
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.." || exit 2

sh tests/layout.sh . >"$tmp/tree.out" 2>&1
rc=$?
pass_if the_tree_keeps_the_include_rules [ $rc -eq 0 ] || cat "$tmp/tree.out"

# plant NAME FILE LINE EXPECT: a copy of the tree with LINE added to FILE must fail, and
# the breach reported must name FILE and EXPECT.
plant() {
    copy=$tmp/$1
    mkdir -p "$copy"
    for d in util config controller proto hal sim daemon client; do
        cp -r "$d" "$copy/"
    done
    printf '%s\n' "$3" >>"$copy/$2"
    sh tests/layout.sh "$copy" >"$tmp/$1.out" 2>&1
    prc=$?
    detail="exit $prc; $(cat "$tmp/$1.out")"
    pass_if "$1" sh -c "[ $prc -eq 1 ] && grep -q '^$2.*$4' '$tmp/$1.out'"
}

plant a_core_include_of_an_os_header_fails controller/filter.c '#include <pthread.h>' \
    'includes <pthread.h>'
plant a_core_include_of_the_daemon_fails controller/rep.h '#include "daemon/store.h"' \
    'includes "daemon/store.h"'
plant a_hal_include_of_the_daemon_fails hal/modbus_link.c '#include "daemon/loop.h"' \
    'includes "daemon/loop.h"'
plant a_clock_read_in_the_core_fails controller/safety.c \
    'static double now_(void) { struct timespec t; clock_gettime(0, &t); return t.tv_sec; }' \
    'calls clock_gettime'
plant a_client_include_of_the_daemon_fails client/ctlfmt.c '#include "daemon/service.h"' \
    'includes "daemon/service.h"'
