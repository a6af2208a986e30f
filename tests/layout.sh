#!/bin/sh
# layout.sh [ROOT] - check that every source file includes only what its folder may, so the
# picture in docs/architecture.md stays true. Prints one line per breach and exits 1 if
# there is any, 0 (and nothing) otherwise.
#
# The folders and the one-way arrows between them (a folder may also include itself):
#
#   util        the log, the worker thread              -> (nothing)
#   config      the INI layer                          -> util
#   controller  the pure core: time in, decisions out  -> config, hal/hal.h (the interface
#                                                         types only); C library headers for
#                                                         arithmetic and text only
#   proto       the control socket's protocol          -> config, util
#   hal         hardware backends and their interfaces -> config, util
#   sim         the simulated rig and eccsim           -> config, hal, util
#   daemon      eccd: main, loop, services             -> config, controller, proto, hal, sim, util
#   client      eccctl and its renderer                -> config, proto, util
#   web         eccweb: the patient's page             -> config, proto, client, util
#   sync        eccsync: the history to the clinic,    -> config, client, controller, util
#               and the clinic's report from it           (and libpq)
#   tests       anything
#
# controller/ may not call the clock, allocate, print or start threads either: those calls
# are looked for by name in its .c files.
set -u
root=${1:-.}
cd "$root" || exit 2

allowed() {
    case $1 in
        util) echo "" ;;
        config) echo "util" ;;
        controller) echo "config hal/hal.h" ;;
        proto) echo "config util" ;;
        hal) echo "config util" ;;
        sim) echo "config hal util" ;;
        daemon) echo "config controller proto hal sim util" ;;
        client) echo "config proto util" ;;
        web) echo "config proto client util" ;;
        sync) echo "config client controller util" ;;
    esac
}

# C library headers the pure core may use: arithmetic, text (stdarg.h: a reason built with
# vsnprintf), and time conversions.
core_system="math.h stdarg.h stdbool.h stddef.h stdint.h stdio.h string.h time.h float.h limits.h"
# Calls that would make the core impure (a clock read, allocation, I/O, threads).
core_calls='\b(clock_gettime|gettimeofday|time|malloc|calloc|realloc|free|fopen|printf|fprintf|puts|fputs|pthread_[a-z_]+|sleep|usleep|nanosleep)[[:space:]]*\('

bad=0
breach() {
    echo "$1"
    bad=1
}

for dir in util config controller proto hal sim daemon client web sync; do
    [ -d "$dir" ] || continue
    ok_dirs=$(allowed "$dir")
    for f in "$dir"/*.c "$dir"/*.h; do
        [ -f "$f" ] || continue
        # Project headers: "folder/file.h".
        for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
            top=${inc%%/*}
            [ "$top" = "$dir" ] && continue
            pass=0
            for a in $ok_dirs; do
                case $a in
                    */*) [ "$inc" = "$a" ] && pass=1 ;;
                    *) [ "$top" = "$a" ] && pass=1 ;;
                esac
            done
            [ $pass -eq 1 ] || breach "$f: includes \"$inc\": $dir/ may include only from: ${ok_dirs:-nothing}"
        done
        [ "$dir" = controller ] || continue
        # The pure core: only the C library's arithmetic and text headers.
        for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' "$f"); do
            case " $core_system " in
                *" $inc "*) ;;
                *) breach "$f: includes <$inc>: controller/ is pure logic (allowed: $core_system)" ;;
            esac
        done
        grep -nE "$core_calls" "$f" | grep -vE '^[0-9]+:[[:space:]]*(/?\*|//)' |
            while IFS= read -r line; do
                echo "$f:${line%%:*}: calls $(echo "$line" | grep -oE "$core_calls" | head -n 1 | tr -d ' (')(): controller/ reads no clock, allocates nothing, prints nothing, starts no thread"
            done | { if read -r first; then echo "$first"; cat; exit 1; fi; } || bad=1
    done
done
exit $bad
