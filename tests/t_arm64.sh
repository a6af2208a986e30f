#!/bin/sh
# t_arm64.sh BUILD - the arm64 cross build (64-bit Raspberry Pi OS / Debian arm64) and the
# arm64 binaries at work under qemu-user.
#
#  - `make CROSS=aarch64-linux-gnu BUILD=BUILD/arm64 all` builds every program (its deps
#    step installs the :arm64 -dev packages and the cross gcc when run as root);
#  - each of eccd, eccctl, eccsim, eccreport, eccweb and eccsync is a 64-bit AArch64 ELF
#    (eccsync linked against the arm64 libpq5, with the native libpq-dev's headers);
#  - the arm64 eccsim and the arm64 eccd, both under qemu-aarch64(-static) with the arm64
#    libraries from Debian's multiarch packages, against each other over Modbus TCP for a
#    short set (tests/hil/tcp.ini, 4 reps): reps counted equal the athlete's valid strokes
#    in eccsim's truth log, the belt is stopped after the set, and eccd's control loop kept
#    up under emulation (no loop_late fault, overruns under 1% of the ticks). The limits
#    are the config's own: no allowance is made for qemu.
#
# Prints "ok   t_arm64: NAME" / "FAIL t_arm64: NAME" per check (tests/run.sh counts them)
# and one "skip t_arm64: why" (exit 0) when the arm64 packages or qemu cannot be installed
# (not root, no network, apt fails), with the apt-get commands that would install them.
set -u
name=t_arm64
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.." || exit 2
build=${1:-build}
cross=aarch64-linux-gnu
abuild=$build/arm64
cfg=tests/hil/tcp.ini
reps_want=4
simpid=""
at_exit 'stop "$simpid"'

# A make started from `make check` would inherit its command-line variables (CC=, OPT=,
# BUILD=) through MAKEFLAGS: the cross build starts clean.
unset MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL
xmake() { make -s CROSS=$cross BUILD="$abuild" "$@"; }

# install_hint LOG: the apt-get commands for what ensure-deps found missing.
install_hint() {
    pkgs=$(sed -n 's/^ensure-deps: missing Debian packages: *//p' "$1" | head -n 1)
    cmds=""
    case " $(dpkg --print-foreign-architectures 2>/dev/null | tr '\n' ' ') " in
    *" arm64 "*) ;;
    *) case $pkgs in *:arm64*) cmds="dpkg --add-architecture arm64 && apt-get update && " ;; esac ;;
    esac
    why="not root"
    [ "$(id -u)" -eq 0 ] && why="apt-get failed: $(grep -m1 '^E:' "$1" || tail -n 1 "$1")"
    echo "missing ${pkgs:-?} ($why); as root: ${cmds}apt-get install -y ${pkgs:-?}"
}

# -- the cross build ------------------------------------------------------------------
if ! xmake deps >"$tmp/deps.log" 2>&1; then
    skip_all "cannot install the arm64 build packages: $(install_hint "$tmp/deps.log")"
fi
t0=$(now)
if xmake -j2 all >"$tmp/build.log" 2>&1; then
    echo "  cross build (make CROSS=$cross all, -j2): $(secs "$t0" "$(now)") s into $abuild"
    ok cross_build_makes_every_program
else
    fail cross_build_makes_every_program "$tmp/build.log"
    exit 1
fi

bad=""
for p in eccd eccctl eccsim eccreport eccweb eccsync; do
    f=$abuild/rel/$p
    h=$(readelf -h "$f" 2>/dev/null)
    if printf '%s\n' "$h" | grep -q 'Class:[[:space:]]*ELF64' &&
       printf '%s\n' "$h" | grep -q 'Machine:[[:space:]]*AArch64'; then
        if command -v file >/dev/null 2>&1; then echo "  $(file -b "$f" | cut -d, -f1-3)"; fi
    else
        bad="$bad $p"
    fi
done
if [ -z "$bad" ]; then
    ok every_program_is_an_aarch64_elf
else
    echo "  not a 64-bit AArch64 ELF:$bad"
    fail every_program_is_an_aarch64_elf
fi
# The GPIO code is compiled for the arm64 libgpiod's API, not the build machine's.
gpiod_v=$(PKG_CONFIG_LIBDIR=/usr/lib/$cross/pkgconfig:/usr/share/pkgconfig PKG_CONFIG_PATH= \
          pkg-config --modversion libgpiod 2>/dev/null)
if [ -n "$gpiod_v" ] && xmake -n --always-make "$abuild/rel/hal/gpio_v1.o" 2>/dev/null |
   grep -q "ECC_GPIOD_MAJOR=${gpiod_v%%.*} "; then
    ok built_against_the_arm64_libgpiod_"${gpiod_v%%.*}"
else
    fail built_against_the_arm64_libgpiod "$tmp/build.log"
fi

# -- under qemu-user ------------------------------------------------------------------
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$qemu" ]; then
    if ! .ci/ensure-deps bin/qemu-aarch64:qemu-user >"$tmp/qemu.log" 2>&1; then
        skip_all "no qemu-aarch64 to run the arm64 binaries: $(install_hint "$tmp/qemu.log")"
    fi
    qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64)
fi
# The arm64 libraries are Debian's multiarch ones (/usr/lib/aarch64-linux-gnu, with
# libc6:arm64's loader in /lib): the host's root is the arm64 root. Without libc6:arm64,
# the cross toolchain's libc (-L /usr/aarch64-linux-gnu).
if [ -e /lib/ld-linux-aarch64.so.1 ]; then root=/; else root=/usr/$cross; fi
arm() { "$qemu" -L "$root" "$@"; }

if v=$(arm "$abuild/rel/eccd" --version 2>&1) && arm "$abuild/rel/eccreport" --version >/dev/null 2>&1 &&
   arm "$abuild/rel/eccctl" --version >/dev/null 2>&1 && arm "$abuild/rel/eccsim" --version >/dev/null 2>&1 &&
   arm "$abuild/rel/eccsync" --version >/dev/null 2>&1; then
    echo "  $(basename "$qemu") -L $root: $v"
    ok arm64_programs_run_under_qemu
else
    echo "$v" >"$tmp/version.out"
    fail arm64_programs_run_under_qemu "$tmp/version.out"
    exit 1
fi

# A whole short set: the arm64 eccd drives the arm64 eccsim over Modbus TCP.
# qemu itself in the background, not the arm() function: a function run with & is a
# subshell, and killing its pid would leave qemu (and eccsim) running.
"$qemu" -L "$root" "$abuild/rel/eccsim" -c "$cfg" --set protocol.reps_per_set=$reps_want \
    --tcp-port auto --truth-log "$tmp/truth.jsonl" --truth-csv "$tmp/truth.csv" \
    >"$tmp/sim.out" 2>"$tmp/sim.err" &
simpid=$!
if ! wait_line "$tmp/sim.out" '^eccsim: ready' 30 "$simpid"; then
    fail qemu_set_counts_the_athletes_valid_strokes "$tmp/sim.err"
    exit 1
fi
port=$(sed -n 's/^eccsim: tcp on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/sim.out")
t0=$(now)
timeout 180 "$qemu" -L "$root" "$abuild/rel/eccd" -c "$cfg" --set drive.port="$port" \
    --set protocol.reps_per_set=$reps_want --start --sessions 1 \
    --rep-log "$tmp/reps.jsonl" 2>"$tmp/eccd.err"
rc=$?
t_set=$(secs "$t0" "$(now)")
# The belt ramps down after eccd's stop: eccsim's rows (flushed each) say when it is still.
belt_stopped() {
    awk -v m="$(tail -n 1 "$tmp/truth.csv" 2>/dev/null | cut -d, -f3)" \
        'BEGIN { exit !(m != "" && m + 0 < 0.005) }'
}
wait_for 10 belt_stopped
stop "$simpid"
simpid=""

reps=$(count '"event":"rep"' "$tmp/reps.jsonl")
rejected=$(count '"event":"reject"' "$tmp/reps.jsonl")
valid=$(count '"valid":true' "$tmp/truth.jsonl")
strokes=$(count '"event":"stroke"' "$tmp/truth.jsonl")
motor=$(tail -n 1 "$tmp/truth.csv" 2>/dev/null | cut -d, -f3)
echo "  qemu set: ${t_set} s, eccd exit $rc, $reps counted, $rejected rejected; eccsim: $strokes strokes, $valid valid; belt at the end ${motor:-?} m/s"
if [ "$rc" -eq 0 ] && [ "$reps" -eq "$reps_want" ] && [ "$reps" -eq "$valid" ] &&
   [ $((reps + rejected)) -eq "$strokes" ]; then
    ok qemu_set_counts_the_athletes_valid_strokes
else
    fail qemu_set_counts_the_athletes_valid_strokes "$tmp/eccd.err" "$tmp/sim.err"
fi
if awk -v m="${motor:-1}" 'BEGIN { exit !(m + 0 < 0.005) }' && grep -q '"event":"set"' "$tmp/reps.jsonl"; then
    ok qemu_belt_stops_after_the_set
else
    fail qemu_belt_stops_after_the_set "$tmp/truth.csv"
fi

# eccd's summary line: "stopped at t = T s: N ticks, S sessions done, O overruns (at most L ms
# late), E setpoints the drive interface refused".
stats=$(sed -n 's/.*stopped at t = \([0-9.]*\) s: \([0-9]*\) ticks, [0-9]* sessions done, \([0-9]*\) overruns (at most \([0-9]*\) ms late), \([0-9]*\) setpoints.*/\1 \2 \3 \4 \5/p' "$tmp/eccd.err" | tail -n 1)
set -- $stats
late=$(count '"fault":"loop_late"' "$tmp/reps.jsonl")
echo "  eccd's loop under qemu: ${2:-?} ticks in ${1:-?} s, ${3:-?} overruns, at most ${4:-?} ms late, ${5:-?} setpoints refused, $late loop_late faults"
# Keeping up: no loop_late fault, no tick started loop_late_s (the config's 0.1 s) late, and
# under 1% of the ticks overran their 10 ms period (each overrun is one tick skipped, not
# caught up).
if [ -n "$stats" ] && [ "$late" -eq 0 ] && [ "${4:-1000}" -lt 100 ] &&
   [ $(( ${3:-0} * 100 )) -lt "${2:-0}" ]; then
    ok qemu_loop_keeps_up
else
    fail qemu_loop_keeps_up "$tmp/eccd.err" "$tmp/reps.jsonl"
fi
