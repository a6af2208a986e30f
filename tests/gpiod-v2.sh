#!/bin/sh
# gpiod-v2.sh BUILD - build and test eccd's GPIO code against libgpiod 2.x (the v2 API).
#
# Debian 12 ships libgpiod 1.6 (the v1 API, what `make check` builds against); its
# bookworm-backports carries 2.x. This script fetches libgpiod-dev and the runtime library
# it depends on from backports with a private apt state (its own sources list, package
# lists, cache and an empty dpkg status) and unpacks them with dpkg -x into a private
# prefix: nothing is installed and the system's apt state is not touched. The prefix is
# kept under BUILD/gpiod-v2/ and re-used while it is there.
#
# Then it builds, in BUILD/v2/, the whole library (hal/gpio_v2.c compiled in, warnings as
# errors, sanitizer and optimised flavours), eccd, and every unit test whose source
# includes a GPIO part of hal/ (hal/gpio*, hal/*gpio*, hal/hx711*, hal/loadcell_iio*,
# hal/drive_pwm*, hal/calibration*) or the fake GPIO (tests/gpio_fake.h), and runs those
# tests against the private library.
#
# Prints "ok   t_gpiod_v2: NAME" / "FAIL t_gpiod_v2: NAME" per check: the build, that
# the binaries really use libgpiod 2, and each test binary's own lines forwarded with
# "t_gpiod_v2: " put in front of them, other output as it is (a binary that dies without reporting gets one FAIL
# line of its own). "skip t_gpiod_v2: why" and exit 0 when the packages cannot be had
# (no network, no apt) or when the system's libgpiod is already 2.x.
#
# Environment: ECC_DEBIAN_MIRROR (default: the system's Debian mirror, else
# http://deb.debian.org/debian), ECC_BACKPORTS_SUITE (default: CODENAME-backports).
set -u
name=t_gpiod_v2
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.." || exit 2
build=${1:-build}
mkdir -p "$build" || exit 2
build=$(cd "$build" && pwd)
cache=$build/gpiod-v2
prefix=$cache/prefix
v2build=$build/v2
failed=0                    # a forwarded test binary's FAIL line (lib.sh counts its own)

# The Debian mirror the system already uses (deb822 .sources or one-line .list).
system_mirror() {
    sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1
    sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1
}

# apt-get on the private state under $cache/apt only.
apt_private() {
    a=$cache/apt
    apt-get -q -o Dir::Etc::sourcelist="$a/sources.list" -o Dir::Etc::sourceparts=- \
        -o Dir::Etc::preferences="$a/preferences" -o Dir::Etc::preferencesparts=- \
        -o Dir::State::Lists="$a/lists" -o Dir::State::status="$a/status" \
        -o Dir::Cache="$a/cache" -o APT::Sandbox::User="$(id -un)" \
        -o Acquire::Retries=1 -o Acquire::http::Timeout=20 "$@"
}

setup_apt() {
    [ -r /etc/os-release ] && . /etc/os-release
    suite=${ECC_BACKPORTS_SUITE:-${VERSION_CODENAME:-bookworm}-backports}
    mirror=${ECC_DEBIAN_MIRROR:-$(system_mirror | head -n 1)}
    mirror=${mirror:-http://deb.debian.org/debian}
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    signed=
    [ -f "$keyring" ] && signed="[signed-by=$keyring] "
    mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/debs"
    : >"$cache/apt/status"
    echo "deb ${signed}$mirror $suite main" >"$cache/apt/sources.list"
    echo "# $name: libgpiod from $mirror $suite"
}

# Downloads PACKAGE[=VERSION] into $cache/debs; prints the .deb's path.
download() {
    (cd "$cache/debs" && apt_private download "$1" >>"$cache/apt.log" 2>&1) || return 1
    ls -t "$cache/debs/${1%%=*}"_*.deb 2>/dev/null | head -n 1
}

# The libgpiod* packages a .deb depends on, as NAME=VERSION (exact-version deps only).
gpiod_deps() {
    dpkg-deb -f "$1" Depends | tr ',' '\n' |
        sed -n 's/^[[:space:]]*\(libgpiod[^[:space:]]*\)[[:space:]]*(=[[:space:]]*\([^)]*\)).*/\1=\2/p'
}

# Fetches libgpiod-dev 2.x and its library into $prefix; returns non-zero with the
# reason in $why when they cannot be had.
fetch() {
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
        why="no apt-get/dpkg-deb on this system"
        return 1
    fi
    setup_apt
    if ! apt_private update >"$cache/apt.log" 2>&1 || grep -q '^[WE]: Failed to fetch' "$cache/apt.log"; then
        why="apt-get update of $suite failed: $(grep '^[WE]:' "$cache/apt.log" | head -n 1)"
        return 1
    fi
    dev=$(download libgpiod-dev) ||
        { why="cannot download libgpiod-dev from $suite: $(grep '^E:' "$cache/apt.log" | tail -n 1)"; return 1; }
    version=$(dpkg-deb -f "$dev" Version)
    case $version in
    2.*) ;;
    *) why="$suite carries libgpiod-dev $version, not 2.x"; return 1 ;;
    esac
    debs=$dev
    for dep in $(gpiod_deps "$dev"); do
        deb=$(download "$dep") || { why="cannot download $dep"; return 1; }
        debs="$debs $deb"
    done
    unpack $debs
}

# dpkg -x every .deb into a fresh prefix (replacing the old one only when complete).
unpack() {
    rm -rf "$prefix.tmp"
    for deb in "$@"; do
        echo "# $name: $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
        dpkg-deb -x "$deb" "$prefix.tmp" || { why="dpkg-deb -x $deb failed"; return 1; }
    done
    [ -n "$(find "$prefix.tmp" -name libgpiod.pc)" ] ||
        { why="no libgpiod.pc in the packages"; return 1; }
    rm -rf "$prefix" && mv "$prefix.tmp" "$prefix"
}

system_major=$(pkg-config --modversion libgpiod 2>/dev/null | cut -d. -f1)
[ "$system_major" = 2 ] &&
    skip_all "the system's libgpiod is already $(pkg-config --modversion libgpiod): make check tests v2"

mkdir -p "$cache"
if [ -z "$(find "$prefix" -name libgpiod.pc 2>/dev/null)" ]; then
    why=
    fetch || skip_all "$why"
else
    echo "# $name: re-using $prefix"
fi
pc=$(find "$prefix" -name libgpiod.pc | head -n 1)
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
# The packages' .pc says prefix=/usr; point it here (again, in case BUILD has moved).
sed -i "s|^prefix=.*|prefix=$prefix/usr|" "$pc"
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
v2version=$(pkg-config --modversion libgpiod)
case $v2version in
2.*) ok "pkg-config finds libgpiod $v2version in the private prefix" ;;
*) fail "pkg-config finds libgpiod $v2version, not 2.x"; exit 1 ;;
esac

# The unit tests that exercise GPIO parts of hal/.
gpio_tests=$(grep -l -E '^#include "(hal/([a-z_]*gpio|hx711|loadcell_iio|drive_pwm|calibration)|tests/gpio_fake)' \
    tests/test_*.c 2>/dev/null | sed 's|^tests/\(.*\)\.c$|\1|')
targets="$v2build/san/libecc.a $v2build/san/eccd $v2build/rel/libecc.a"
for t in $gpio_tests; do targets="$targets $v2build/san/tests/$t"; done
# The gpio-sim smoke program too, once the Makefile has a rule for it.
smoke=$v2build/rel/tests/gpiosim/gpio_smoke
smoke_built=
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n BUILD="$v2build" "$smoke" >/dev/null 2>&1; then
    targets="$targets $smoke"
    smoke_built=1
fi

# A make started from `make check` must not take the outer BUILD or flags.
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j"$(nproc 2>/dev/null || echo 2)" \
    BUILD="$v2build" PKG_CONFIG_PATH="$PKG_CONFIG_PATH" $targets >"$cache/build.log" 2>&1; then
    ok "library, eccd and $(echo $gpio_tests | wc -w) GPIO test(s)${smoke_built:+ and gpio_smoke} build against libgpiod $v2version, warnings as errors"
else
    fail "build against libgpiod $v2version" "$(grep -m 1 -E 'error:|Error [0-9]' "$cache/build.log")"
    sed 's/^/# /' "$cache/build.log" | tail -n 30
    exit 1
fi

# gpio_v2.c is the one compiled in, and eccd loads the 2.x library.
defines() { nm "$v2build/san/hal/$1.o" | grep -q ' D gpio_libgpiod$'; }
if defines gpio_v2 && ! defines gpio_v1; then
    ok "gpio_libgpiod comes from hal/gpio_v2.c (hal/gpio_v1.c compiled empty)"
else
    fail "gpio_libgpiod comes from hal/gpio_v2.c" "see nm $v2build/san/hal/gpio_v*.o"
fi
loaded=$(LD_LIBRARY_PATH="$libdir" ldd "$v2build/san/eccd" | grep 'libgpiod\.so')
case $loaded in
*"$libdir"/libgpiod.so.[3-9]*) ok "eccd loads $(echo "$loaded" | sed 's/^[[:space:]]*//; s/ (.*//')" ;;
*) fail "eccd loads libgpiod 2.x from the private prefix" "$loaded" ;;
esac

# Each test binary, its report lines forwarded under this script's name.
for t in $gpio_tests; do
    out=$(LD_LIBRARY_PATH="$libdir" "$v2build/san/tests/$t" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed 's/^\(ok  \|FAIL\|skip\) /\1 '"$name"': /'
    printf '%s\n' "$out" | grep -q '^FAIL ' && failed=1
    if [ "$rc" -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
        fail "$t exited with status $rc without reporting a failed test"
    fi
done
exit $failed
