#!/bin/bash
# run.sh - run guest test programs against the kernel's GPIO simulator (gpio-sim).
#
#   tests/gpiosim/run.sh [options] PROG [ARGS...]     one program, with arguments
#   tests/gpiosim/run.sh [options] --prog P1 --prog P2 ...
#   tests/gpiosim/run.sh --setup                      install and build the cached parts only
#
# The machines this project runs on have no GPIO and cannot load kernel modules, so this
# boots Debian bookworm's own kernel under qemu-system-x86_64 (TCG; KVM when /dev/kvm is
# usable) with a small busybox initramfs, loads gpio-sim, creates the simulated chips
# through configfs and runs the programs as root in /test. No Debian kernel enables
# gpio-sim, so it is built as an out-of-tree module from the linux-source package of the
# kernel's version against its linux-headers (one line patched: irq_to_desc() is not
# exported to modules, generic_handle_irq() does the same).
#
# Options:
#   --prog PATH      a guest program (repeatable; each runs on freshly created chips)
#   --sh CMD         run CMD with the guest's busybox sh instead (repeatable, like --prog)
#   --extra PATH     a file or folder copied into the guest's /test (repeatable)
#   --lines N        lines per chip (default 16)
#   --chips N        simulated chips (default 1)
#   --cache DIR      cached kernel, module and initramfs (default: $GPIOSIM_CACHE, else
#                    BUILD/gpiosim in the source tree, BUILD from the environment or build)
#   --timeout S      qemu's wall time for the whole boot (default 120)
#   --smp N          guest CPUs (default 1: boots fastest under TCG)
#   --setup          install and build what is missing, then stop
#   --refresh        look up the kernel version again (else the cached answer is used)
#   --verbose        the kernel's log on the console too
#
# The guest programs see:
#   GPIOSIM_CHIPS, GPIOSIM_LINES                    chip count, lines per chip
#   GPIOSIM_CHIP, GPIOSIM_SYSFS                     chip 0: /dev/gpiochipN and its sim sysfs
#   GPIOSIM_CHIP<k>, GPIOSIM_SYSFS<k>               chip k (k = 0 .. chips-1)
# Lines are named sim-L (chip 0) or sim<k>-L. An input is driven by its simulated pull:
#   echo pull-up >$GPIOSIM_SYSFS/sim_gpioL/pull     (pull-down for low)
# and an output's level reads back from $GPIOSIM_SYSFS/sim_gpioL/value. gpio-sim keeps one
# pull per line: a request with a bias (pull-up) sets it too, so drive an input after the
# code under test has requested it. Wait for each edge to be read before the next toggle
# when every edge counts: the kernel merges edges its interrupt thread has not handled.
# The programs are dynamically linked, as the daemon is: the libraries ldd names (libc,
# libgpiod 1 or 2, inih, jansson, libmodbus, ...) go into the guest's /test/lib with
# LD_LIBRARY_PATH set, the loader to its own path. (Static builds would need every
# library's .a, and would not test the shared libgpiod the daemon loads.)
#
# Exit status: the guest program's (the first that failed), carried out of the guest by
# qemu's isa-debug-exit device and cross-checked with the console; guest programs exit
# 0..63. Otherwise: 2 usage, 77 cannot run here (not root and packages missing, apt or
# the mirror failing, ...: the reason is on stderr as "gpiosim: cannot run here: ..."),
# 124 timeout, 125 the guest gave no result (panic, crash, bad initramfs).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${GPIOSIM_CACHE:-$root/${BUILD:-build}/gpiosim}
lines=16
chips=1
timeout=120
smp=1
setup_only=0
refresh=0
verbose=0
progs=()       # "p:PATH" or "s:CMD"
extras=()

usage() { sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "gpiosim: $*" >&2; exit 2; }
cannot() { echo "gpiosim: cannot run here: $*" >&2; exit 77; }
log() { echo "gpiosim: $*" >&2; }
now_ms() { date +%s%3N; }
secs() { local d=$(( $(now_ms) - $1 )); printf '%d.%02d' $((d / 1000)) $((d % 1000 / 10)); }

while [ $# -gt 0 ]; do
    case $1 in
    --prog) [ $# -ge 2 ] || die "--prog needs a path"; progs+=("p:$2"); shift ;;
    --sh) [ $# -ge 2 ] || die "--sh needs a command"; progs+=("s:$2"); shift ;;
    --extra) [ $# -ge 2 ] || die "--extra needs a path"; extras+=("$2"); shift ;;
    --lines) lines=${2:-}; shift ;;
    --chips) chips=${2:-}; shift ;;
    --cache) cache=${2:-}; shift ;;
    --timeout) timeout=${2:-}; shift ;;
    --smp) smp=${2:-}; shift ;;
    --setup) setup_only=1 ;;
    --refresh) refresh=1 ;;
    --verbose) verbose=1 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (--help lists them)" ;;
    *) break ;;
    esac
    shift
done
for v in lines chips timeout smp; do
    case ${!v} in ''|*[!0-9]*) die "--$v wants a positive number" ;; esac
    [ "${!v}" -gt 0 ] || die "--$v wants a positive number"
done
[ "$chips" -le 8 ] || die "--chips: at most 8"
[ "$lines" -le 64 ] || die "--lines: at most 64"
if [ $# -gt 0 ]; then
    prog_args=("${@:2}")
    progs+=("p:$1")
else
    prog_args=()
fi
[ "$setup_only" = 1 ] || [ ${#progs[@]} -gt 0 ] ||
    die "usage: $0 [options] PROG [ARGS...] | --prog P... | --setup (--help for more)"
[ ${#prog_args[@]} -eq 0 ] || [ ${#progs[@]} -eq 1 ] ||
    die "program arguments go with a single program"

# Resolve the user's paths before anything changes directory.
for i in "${!progs[@]}"; do
    case ${progs[$i]} in
    p:*) f=${progs[$i]#p:}
         [ -f "$f" ] && [ -x "$f" ] || die "no such program: $f"
         progs[$i]="p:$(readlink -f "$f")" ;;
    esac
done
for i in "${!extras[@]}"; do
    [ -e "${extras[$i]}" ] || die "no such file: ${extras[$i]}"
    extras[$i]=$(readlink -f "${extras[$i]}")
done
[ -n "$cache" ] || die "--cache wants a folder"
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

tmp=""
qpid=""
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
    [ -n "$tmp" ] && rm -rf "$tmp"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_start=$(now_ms)

# ---------------------------------------------------------------------------------------
# Set-up, under a lock: two runs sharing a cache never build it at the same time.
exec 9>"$cache/.lock"
flock 9

is_root() { [ "$(id -u)" = 0 ]; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@"
}
apt_updated=0
apt_update() {
    [ "$apt_updated" = 0 ] || return 0
    is_root || return 1
    log "apt-get update"
    apt_get update >"$cache/apt-update.log" 2>&1 || return 1
    apt_updated=1
}
# need PKG...: install the packages that are missing.
need() {
    local missing=() p
    for p in "$@"; do installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    is_root || cannot "not root, and packages are missing: ${missing[*]}"
    log "apt-get install ${missing[*]}"
    if ! apt_get install -y --no-install-recommends "${missing[@]}" >"$cache/apt-install.log" 2>&1; then
        apt_update || cannot "apt-get update failed (see $cache/apt-update.log)"
        apt_get install -y --no-install-recommends "${missing[@]}" >"$cache/apt-install.log" 2>&1 ||
            cannot "apt-get install ${missing[*]} failed (see $cache/apt-install.log)"
    fi
}
# fetch PKG VERSION: the .deb into $cache/debs, without installing it.
fetch() {
    local f
    f=$(ls "$cache/debs/$1_"*"_"*.deb 2>/dev/null | head -n 1 || true)
    if [ -z "$f" ]; then
        log "apt-get download $1=$2"
        mkdir -p "$cache/debs"
        (cd "$cache/debs" && apt_get download "$1=$2") >"$cache/apt-download.log" 2>&1 ||
            { apt_update && (cd "$cache/debs" && apt_get download "$1=$2") >"$cache/apt-download.log" 2>&1; } ||
            cannot "apt-get download $1=$2 failed (see $cache/apt-download.log)"
        f=$(ls "$cache/debs/$1_"*"_"*.deb | head -n 1)
    fi
    echo "$f"
}

# The kernel: what bookworm's linux-image-amd64 points at, remembered in kernel.env.
if [ -f "$cache/kernel.env" ] && [ "$refresh" = 0 ]; then
    . "$cache/kernel.env"
else
    # Fresh package lists first (as root): an old list names a kernel the mirror dropped.
    is_root && { apt_update || log "apt-get update failed: going on with the lists there are"; }
    kver=$(apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n 1)
    [ -n "$kver" ] || cannot "apt knows no linux-image-amd64 (no Debian archive configured?)"
    kpkgver=$(apt-cache show "linux-image-$kver" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
    [ -n "$kpkgver" ] || cannot "apt knows no version of linux-image-$kver"
    printf 'kver=%s\nkpkgver=%s\n' "$kver" "$kpkgver" >"$cache/kernel.env"
fi
kseries=${kver%%-*}             # 6.1.0-56-amd64 -> 6.1.0
kseries=${kseries%.*}           # -> 6.1

# Host tools: qemu, a static busybox, the archive and module tools.
tools=(qemu-system-x86 cpio kmod xz-utils binutils gzip)
[ -x /bin/busybox ] || tools+=(busybox-static)
need "${tools[@]}"
# The gpiod tools (gpiodetect, gpioinfo, gpiomon...) in the guest, for --sh: nice to have.
installed gpiod || ! is_root || need gpiod
command -v qemu-system-x86_64 >/dev/null || cannot "qemu-system-x86_64 is not installed"

# Kernel image and the modules gpio-sim may need, extracted from the .deb (installing it
# would run initramfs and boot-loader hooks on this machine for nothing).
kdir=$cache/kernel-$kver
if [ ! -f "$kdir/boot/vmlinuz-$kver" ]; then
    deb=$(fetch "linux-image-$kver" "$kpkgver")
    log "extracting the kernel"
    rm -rf "$kdir" && mkdir -p "$kdir"
    dpkg-deb --fsys-tarfile "$deb" | tar x -C "$kdir" --wildcards './boot/*' \
        './lib/modules/*/kernel/fs/configfs/*' './lib/modules/*/kernel/drivers/gpio/*' \
        './lib/modules/*/modules.*' 2>/dev/null ||
        dpkg-deb --fsys-tarfile "$deb" | tar x -C "$kdir" --wildcards './boot/*'
    rm -f "$deb"
fi
kconfig=$kdir/boot/config-$kver
grep -q '^CONFIG_GPIO_CDEV=y' "$kconfig" || cannot "kernel $kver lacks CONFIG_GPIO_CDEV"

# Debian's bzImage is xz-compressed: unpacking it costs seconds a boot under TCG. Boot
# the plain ELF vmlinux through its PVH entry (the ELF note 0x12) when there is one.
boot_img=$kdir/boot/vmlinuz-$kver
if [ ! -f "$kdir/vmlinux" ] && [ ! -f "$kdir/no-pvh" ]; then
    off=$(LC_ALL=C grep -obUaP '\xfd\x37\x7a\x58\x5a\x00' "$boot_img" | head -n 1 | cut -d: -f1 || true)
    if [ -n "$off" ]; then
        tail -c +$((off + 1)) "$boot_img" | xz -dc --single-stream >"$kdir/vmlinux.tmp" 2>/dev/null || true
    fi
    if [ -s "$kdir/vmlinux.tmp" ] && readelf -n "$kdir/vmlinux.tmp" 2>/dev/null | grep -q '(0x00000012)'; then
        mv "$kdir/vmlinux.tmp" "$kdir/vmlinux"
    else
        rm -f "$kdir/vmlinux.tmp"
        touch "$kdir/no-pvh"
        log "no PVH entry in the kernel: booting the bzImage (slower)"
    fi
fi
[ -f "$kdir/vmlinux" ] && boot_img=$kdir/vmlinux

# gpio-sim.ko: the kernel's own when it has one, else built out of tree.
mdir=$cache/gpio-sim-$kver
if [ ! -f "$mdir/gpio-sim.ko" ]; then
    rm -rf "$mdir" && mkdir -p "$mdir"
    if grep -q '^CONFIG_GPIO_SIM=m' "$kconfig"; then
        f=$(find "$kdir/lib/modules" -name 'gpio-sim.ko*' | head -n 1)
        case $f in
        *.xz) xz -dc "$f" >"$mdir/gpio-sim.ko" ;;
        *) cp "$f" "$mdir/gpio-sim.ko" ;;
        esac
    else
        need gcc make "linux-headers-$kver"
        deb=$(fetch "linux-source-$kseries" "$kpkgver")
        log "building gpio-sim.ko for $kver out of tree"
        src=linux-source-$kseries
        dpkg-deb --fsys-tarfile "$deb" | tar x -O "./usr/src/$src.tar.xz" | xz -dc -T0 |
            tar x -C "$mdir" "$src/drivers/gpio/gpio-sim.c" "$src/drivers/gpio/gpiolib.h" \
                "$src/kernel/irq/irq_sim.c"
        mv "$mdir/$src/drivers/gpio/gpio-sim.c" "$mdir/gpio-sim-main.c"
        mv "$mdir/$src/drivers/gpio/gpiolib.h" "$mdir/$src/kernel/irq/irq_sim.c" "$mdir/"
        rm -rf "$mdir/${src:?}"
        sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' "$mdir/irq_sim.c"
        grep -q 'generic_handle_irq(irqnum);' "$mdir/irq_sim.c" ||
            die "irq_sim.c of $kver did not take the patch: look at $mdir/irq_sim.c"
        printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' >"$mdir/Kbuild"
        make -C "/usr/src/linux-headers-$kver" M="$mdir" modules >"$mdir/build.log" 2>&1 ||
            { tail -n 30 "$mdir/build.log" >&2; rm -f "$mdir/gpio-sim.ko"; die "gpio-sim.ko did not build"; }
        strip --strip-debug "$mdir/gpio-sim.ko"
        rm -f "$deb"
    fi
fi

# The base initramfs: busybox, the modules, /init. Rebuilt when this script changes.
base=$cache/base-$kver.cpio.gz
if [ ! -f "$base" ] || [ "$0" -nt "$base" ]; then
    log "building the base initramfs"
    r=$cache/rootfs
    rm -rf "$r"
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,test,lib/modules}
    cp /bin/busybox "$r/bin/busybox"
    if ldd /bin/busybox >/dev/null 2>&1; then
        for l in $(ldd /bin/busybox | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
            mkdir -p "$r$(dirname "$l")" && cp -L "$l" "$r$l"
        done
    fi
    : >"$r/lib/modules/order"
    for dep in $(modinfo -F depends "$mdir/gpio-sim.ko" | tr ',' ' '); do
        f=$(find "$kdir/lib/modules" -name "$dep.ko*" | head -n 1)
        [ -n "$f" ] || continue                 # built into the kernel
        case $f in
        *.xz) xz -dc "$f" >"$r/lib/modules/$dep.ko" ;;
        *) cp "$f" "$r/lib/modules/$dep.ko" ;;
        esac
        echo "$dep" >>"$r/lib/modules/order"
    done
    cp "$mdir/gpio-sim.ko" "$r/lib/modules/"
    echo gpio-sim >>"$r/lib/modules/order"
    for t in gpiodetect gpioinfo gpioget gpioset gpiomon gpiofind; do
        [ -x "/usr/bin/$t" ] || continue
        cp "/usr/bin/$t" "$r/usr/bin/"
        for l in $(ldd "/usr/bin/$t" | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
            mkdir -p "$r$(dirname "$l")" && cp -L "$l" "$r$l"
        done
    done
    cat >"$r/init" <<'EOF'
#!/bin/busybox sh
# The guest's init: load gpio-sim, then for each program create the chips, run it,
# remove the chips. The result leaves through isa-debug-exit (qemu exits (rc<<1)|1).
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/test TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
finish() {
    echo "GPIOSIM-RESULT rc=$1 uptime=$(cut -d' ' -f1 /proc/uptime)"
    printf "\\$(printf '%03o' $(($1 & 0x7f)))" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
    poweroff -f
}
for m in $(cat /lib/modules/order); do
    insmod /lib/modules/$m.ko || { echo "GPIOSIM: insmod $m failed"; finish 125; }
done
grep -q ' /sys/kernel/config ' /proc/mounts || mount -t configfs configfs /sys/kernel/config
. /test/.env
cfs=/sys/kernel/config/gpio-sim/eccd
mkchips() {
    mkdir $cfs || return 1
    k=0
    while [ $k -lt $GPIOSIM_CHIPS ]; do
        b=$cfs/bank$k
        mkdir $b && echo $GPIOSIM_LINES >$b/num_lines && echo eccd-sim$k >$b/label || return 1
        i=0
        while [ $i -lt $GPIOSIM_LINES ]; do
            mkdir $b/line$i
            if [ $k = 0 ]; then echo sim-$i >$b/line$i/name; else echo sim$k-$i >$b/line$i/name; fi
            i=$((i + 1))
        done
        k=$((k + 1))
    done
    echo 1 >$cfs/live || return 1
    dev=$(cat $cfs/dev_name)
    k=0
    while [ $k -lt $GPIOSIM_CHIPS ]; do
        c=$(cat $cfs/bank$k/chip_name)
        export GPIOSIM_CHIP$k=/dev/$c GPIOSIM_SYSFS$k=/sys/devices/platform/$dev/$c
        [ $k = 0 ] && export GPIOSIM_CHIP=/dev/$c GPIOSIM_SYSFS=/sys/devices/platform/$dev/$c
        k=$((k + 1))
    done
}
rmchips() {
    echo 0 >$cfs/live
    for d in $cfs/bank*/line* $cfs/bank* $cfs; do rmdir $d; done
}
echo "GPIOSIM-READY uptime=$(cut -d' ' -f1 /proc/uptime)"
rc=0
cd /test
for p in /test/.run/[0-9][0-9]; do
    mkchips || { echo "GPIOSIM: cannot create the simulated chips"; finish 125; }
    sh $p </dev/null
    r=$?
    echo "GPIOSIM-DONE $(cat $p.name) rc=$r uptime=$(cut -d' ' -f1 /proc/uptime)"
    [ $rc = 0 ] && rc=$r
    rmchips || { echo "GPIOSIM: cannot remove the simulated chips"; finish 125; }
done
finish $rc
EOF
    chmod +x "$r/init"
    (cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) >"$base.tmp"
    mv "$base.tmp" "$base"
    rm -rf "$r"
fi
flock -u 9

log "set-up ready in $(secs "$t_start") s (kernel $kver, $(basename "$boot_img"))"
[ "$setup_only" = 1 ] && exit 0

# ---------------------------------------------------------------------------------------
# This run's overlay: the programs, their shared libraries, the extras. The kernel takes
# concatenated cpio archives, so the base is reused as it is.
tmp=$(mktemp -d "$cache/run.XXXXXX")
o=$tmp/root
mkdir -p "$o/test/.run" "$o/test/lib"
printf 'GPIOSIM_CHIPS=%s\nGPIOSIM_LINES=%s\nexport GPIOSIM_CHIPS GPIOSIM_LINES\n' \
    "$chips" "$lines" >"$o/test/.env"
[ ${#extras[@]} -eq 0 ] || cp -a "${extras[@]}" "$o/test/"
quote() { local s; for s in "$@"; do printf " '%s'" "${s//\'/\'\\\'\'}"; done; }
n=0
for p in "${progs[@]}"; do
    n=$((n + 1))
    run=$o/test/.run/$(printf '%02d' $n)
    case $p in
    s:*) printf '%s\n' "${p#s:}" >"$run"
         echo "sh" >"$run.name" ;;
    p:*) f=${p#p:}
         b=$(basename "$f")
         cp "$f" "$o/test/$b"
         echo "$b" >"$run.name"
         # Dynamically linked: the libraries go in /test/lib, the loader at its own path.
         if ldd "$f" >/dev/null 2>&1; then
             for l in $(ldd "$f" | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
                 case $l in
                 */ld-linux*) mkdir -p "$o$(dirname "$l")" && cp -L "$l" "$o$l" ;;
                 *) cp -L "$l" "$o/test/lib/" ;;
                 esac
             done
         fi
         { printf 'LD_LIBRARY_PATH=/test/lib exec /test/%s' "$b"
           quote ${prog_args[@]+"${prog_args[@]}"}
           echo; } >"$run" ;;
    esac
done
(cd "$o" && find . -mindepth 1 | cpio -o -H newc --quiet | gzip -1) >"$tmp/overlay.cpio.gz"
cat "$base" "$tmp/overlay.cpio.gz" >"$tmp/initrd.cpio.gz"

if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    accel=(-accel kvm -cpu host)
else
    accel=(-accel "tcg,thread=multi" -cpu max)
fi
append="console=ttyS0 panic=-1 rdinit=/init"
[ "$verbose" = 1 ] || append="$append quiet loglevel=1"

# boot: one run of the guest with the accelerator in accel; sets qrc.
boot() {
    log "booting ${accel[1]%%,*} with ${#progs[@]} program(s), $chips chip(s) x $lines lines"
    t_boot=$(now_ms)
    : >"$console"
    timeout -k 5 "$timeout" qemu-system-x86_64 "${accel[@]}" -smp "$smp" -m 512 \
        -nodefaults -no-user-config -display none -no-reboot -serial "file:$console" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -kernel "$boot_img" -initrd "$tmp/initrd.cpio.gz" -append "$append" \
        </dev/null >"$tmp/qemu.out" 2>&1 &
    qpid=$!
    # Show the console as it comes, without the carriage returns.
    tail -n +1 -s 0.1 -f --pid="$qpid" "$console" 2>/dev/null | tr -d '\r' &
    tpid=$!
    set +e
    wait "$qpid"
    qrc=$?
    set -e
    qpid=""
    wait "$tpid" 2>/dev/null || true
}

console=$tmp/console.log
boot
# /dev/kvm can be there and still refuse this CPU's model (qemu aborts setting up the
# vCPU before the guest prints anything, e.g. "failed to set MSR"): the same boot under
# TCG is slower but the same guest.
if [ "$qrc" = 134 ] && [ "${accel[1]}" = kvm ] && [ ! -s "$console" ]; then
    log "KVM refused this CPU ($(grep -m 1 -i error "$tmp/qemu.out" || echo "qemu aborted")); booting again under TCG"
    accel=(-accel "tcg,thread=multi" -cpu max)
    boot
fi
cp "$console" "$cache/last-console.log"
log "qemu ran $(secs "$t_boot") s (ready at $(sed -n 's/.*GPIOSIM-READY uptime=\([0-9.]*\).*/\1/p' "$console" | tr -d '\r') s guest uptime), $(secs "$t_start") s in all"

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    log "TIMEOUT after $timeout s (console: $cache/last-console.log)"
    exit 124
fi
rc=$(tr -d '\r' <"$console" | sed -n 's/^GPIOSIM-RESULT rc=\([0-9]*\).*/\1/p' | tail -n 1)
if [ -z "$rc" ]; then
    log "the guest gave no result (qemu status $qrc; console: $cache/last-console.log)"
    sed 's/^/gpiosim: qemu: /' "$tmp/qemu.out" >&2
    exit 125
fi
[ "$qrc" = $(( (rc & 0x7f) * 2 + 1 )) ] ||
    log "note: qemu's status $qrc does not match the guest's $rc"
exit "$rc"
