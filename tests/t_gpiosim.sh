#!/bin/sh
# t_gpiosim.sh [--bench] BUILD - the GPIO code on the kernel's own GPIO simulator (gpio-sim)
# in a qemu guest (tests/gpiosim/run.sh), run by tests/run.sh as part of `make check`.
#
# Builds the guest programs of tests/gpiosim/ (pulse_test, inputs_test, and gpio_smoke
# when it is there) with the project's warning flags against BUILD/rel/libecc.a, the
# optimised library `make` builds, sets up the harness (cached in BUILD/gpiosim: about a
# minute the first time, for package installs, the kernel and the gpio-sim module), then
# boots once per program and forwards its "ok"/"FAIL" lines (and, with GPIOSIM_VERBOSE=1,
# everything else it and the harness print).
#
# --bench: builds and runs tests/gpiosim/edge_bench instead (2 s or so of guest time) and
# prints its "gpiosim edge rate: N events/s without loss" line.
#
# When qemu cannot run here (not root with packages missing, no apt or mirror, ...) it
# prints "skip t_gpiosim: why" and exits 0. Result lines through tests/lib.sh; the guest
# programs' own "ok"/"FAIL" lines are forwarded as they are.
#
# Environment: GPIOSIM_LIB (default BUILD/rel/libecc.a: another build's library, e.g.
# the libgpiod 2 one, with PKG_CONFIG_PATH and LD_LIBRARY_PATH pointing at that libgpiod),
# GPIOSIM_CACHE (default BUILD/gpiosim), GPIOSIM_VERBOSE=1, GPIOSIM_TIMEOUT (s per boot,
# default 120).
set -u
bench=0
if [ "${1:-}" = --bench ]; then
    bench=1
    shift
fi
build=${1:-build}
name=t_gpiosim
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.." || exit 2
lib=${GPIOSIM_LIB:-$build/rel/libecc.a}
cache=${GPIOSIM_CACHE:-$build/gpiosim}
verbose=${GPIOSIM_VERBOSE:-0}
boot_timeout=${GPIOSIM_TIMEOUT:-120}

bin=$tmp/bin
say() { [ "$verbose" = 1 ] && echo "# $name: $*"; return 0; }
since() { secs "$1" "$(now)"; }

[ -f "$lib" ] || { fail the_library_is_built "no $lib: build it first (make)"; exit 1; }
mkdir -p "$bin"

# The project's flags (as the Makefile has them) and its libraries.
pkgs="inih jansson libmodbus libgpiod"
warn="-std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
-Wmissing-prototypes -Wformat=2"
cppflags="-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I."
gpiod_major=$(pkg-config --modversion libgpiod 2>/dev/null | cut -d. -f1)
pkg_cflags=$(pkg-config --cflags $pkgs) || { fail pkg_config_finds_the_libraries \
    "pkg-config --cflags $pkgs failed"; exit 1; }
pkg_libs=$(pkg-config --libs $pkgs)

# build PROG: tests/gpiosim/PROG.c -> $bin/PROG, or a FAIL line.
build_prog() {
    if ${CC:-cc} -O2 -g $warn $cppflags $pkg_cflags -DECC_GPIOD_MAJOR="${gpiod_major:-1}" \
        -pthread "tests/gpiosim/$1.c" "$lib" $pkg_libs -lm -pthread -o "$bin/$1" \
        >"$tmp/$1.build" 2>&1; then
        say "built $bin/$1"
        return 0
    fi
    fail "${1}_builds_warning_free" "against $lib:" "$tmp/$1.build"
    return 1
}

if [ "$bench" = 1 ]; then
    progs=edge_bench
else
    progs="pulse_test inputs_test"
    [ -f tests/gpiosim/gpio_smoke.c ] && progs="$progs gpio_smoke"
fi
built=""
failed=0
for p in $progs; do
    if build_prog "$p"; then built="$built $p"; else failed=1; fi
done

# The set-up: packages, kernel, module, initramfs (cached; bounded in case apt hangs).
t0=$(now)
GPIOSIM_CACHE=$cache timeout 900 bash tests/gpiosim/run.sh --setup >"$tmp/setup.log" 2>&1
rc=$?
[ "$verbose" = 1 ] && sed 's/^/# /' "$tmp/setup.log"
case $rc in
0) say "set-up ready in $(since "$t0") s" ;;
77) why=$(sed -n 's/^gpiosim: cannot run here: //p' "$tmp/setup.log" | tail -n 1)
    [ "$bench" = 1 ] && { echo "gpiosim edge rate: skipped (${why:-qemu cannot run here})"; exit 0; }
    skip_all "${why:-qemu cannot run here}" ;;
124) fail the_gpio_sim_set_up_finishes "it took over 900 s" "$tmp/setup.log"; exit 1 ;;
*) fail the_gpio_sim_set_up_finishes "status $rc" "$tmp/setup.log"; exit 1 ;;
esac

# One boot per program: its lines forwarded, its exit status checked.
smp=1
for p in $built; do
    t0=$(now)
    GPIOSIM_CACHE=$cache bash tests/gpiosim/run.sh --timeout "$boot_timeout" --smp "$smp" \
        "$bin/$p" >"$tmp/$p.out" 2>"$tmp/$p.err"
    rc=$?
    if [ "$verbose" = 1 ]; then
        grep -v '^$' "$tmp/$p.out" || true
        sed 's/^/# /' "$tmp/$p.err"
    elif [ "$bench" = 1 ]; then
        grep -E '^(# |gpiosim |FAIL )' "$tmp/$p.out" || true
    else
        grep -E '^(ok |FAIL |skip )' "$tmp/$p.out" || true
    fi
    say "$p: status $rc after $(since "$t0") s"
    case $rc in
    0) ;;
    77) skip_all "$(sed -n 's/^gpiosim: cannot run here: //p' "$tmp/$p.err" | tail -n 1)" ;;
    124) fail "${p}_finishes" "not within $boot_timeout s (console: $cache/last-console.log)" ;;
    125) fail "${p}_gives_a_result" "the guest gave none" "$cache/last-console.log" ;;
    *) grep -q '^FAIL ' "$tmp/$p.out" || fail "${p}_reports_its_failure" \
           "exited with status $rc without reporting a failed test" "$tmp/$p.err"
       failed=1 ;;
    esac
done
[ "$failed" -eq 0 ] || exit 1
