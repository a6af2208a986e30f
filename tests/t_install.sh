#!/bin/sh
# t_install.sh BUILD - `make install` honours DESTDIR and PREFIX and installs the tree
# documented in docs/install.md (binaries, example configs and eccd.ini, the systemd unit
# with its paths filled in, sysusers.d, the udev rule, man pages, docs, scenarios), under
# PREFIX=/usr and PREFIX=/usr/local; `systemd-analyze verify` accepts the installed unit;
# systemd-sysusers accepts the sysusers.d file; an edited eccd.ini survives a reinstall;
# `make uninstall` takes everything away again except /etc/eccd (edited configs).
set -u
build=${1:-build}
name=t_install
. "$(dirname "$0")/lib.sh"

# The files a PREFIX install puts under DESTDIR, relative to it.
tree() {
    p=${1#/}
    for f in bin/eccd bin/eccctl bin/eccreport bin/eccsim bin/eccweb bin/eccsync \
             lib/systemd/system/eccd.service lib/systemd/system/eccweb.service \
             lib/systemd/system/eccsync.service share/doc/eccd/fleet.md \
             lib/sysusers.d/eccd.conf share/man/man8/eccd.8 share/man/man8/eccweb.8 \
             share/man/man1/eccctl.1 share/doc/eccd/web.md \
             share/eccd/scenarios/normal.ini share/doc/eccd/README.md \
             share/doc/eccd/configuration.md share/doc/eccd/install.md; do
        echo "$p/$f"
    done
    for f in etc/eccd/eccd.ini etc/eccd/sim.ini etc/eccd/clinic-vfd.ini etc/eccd/home-pi.ini \
             etc/udev/rules.d/99-eccd-ftdi-latency.rules; do
        echo "$f"
    done
}

check_prefix() {
    prefix=$1
    tag=$(echo "$prefix" | tr / _)          # _usr, _usr_local
    root="$tmp/root$tag"
    unit="$root$prefix/lib/systemd/system/eccd.service"

    make -s install BUILD="$build" DESTDIR="$root" PREFIX="$prefix" >"$tmp/log" 2>&1
    rc=$?
    missing=""
    for f in $(tree "$prefix"); do
        [ -f "$root/$f" ] || missing="$missing $f"
    done
    t=install_puts_the_documented_tree_under_destdir$tag
    if [ "$rc" -eq 0 ] && [ -z "$missing" ]; then ok "$t"
    else fail "$t" "rc $rc, missing:$missing" "$tmp/log"; fi

    if grep -q 'Next steps' "$tmp/log"; then fail "no_next_steps_with_destdir$tag"
    else ok "no_next_steps_with_destdir$tag"; fi

    if "$root$prefix/bin/eccd" --version >/dev/null 2>&1 &&
       "$root$prefix/bin/eccreport" --version >/dev/null 2>&1; then ok "installed_binaries_run$tag"
    else fail "installed_binaries_run$tag"; fi

    # @BINDIR@ and @ETCDIR@ filled in, nothing of DESTDIR leaked into the unit, mode 0644.
    if [ -f "$unit" ] && ! grep -q '@[A-Z]*@' "$unit" && ! grep -qF "$root" "$unit" &&
       grep -qx "ExecStart=$prefix/bin/eccd -c /etc/eccd/eccd.ini" "$unit" &&
       [ "$(stat -c %a "$unit")" = 644 ]; then ok "unit_paths_substituted$tag"
    else fail "unit_paths_substituted$tag" "$(grep -n 'ExecStart\|@' "$unit")"; fi

    # The unit as systemd reads it. verify --root=DESTDIR does not work for this (it wants
    # the root's own sysinit.target and looks for the man pages on the host), so a copy
    # whose ExecStart is the DESTDIR binary is verified, with MANPATH at the DESTDIR man
    # pages so Documentation=man:eccd(8) man:eccctl(1) are checked too. Any output fails.
    if ! command -v systemd-analyze >/dev/null 2>&1; then
        skip "systemd_analyze_verify_accepts_the_unit$tag" "no systemd-analyze (Debian package systemd)"
    else
        mkdir -p "$tmp/verify$tag"
        for u in eccd eccweb eccsync; do
            sed "s|^ExecStart=$prefix/bin/$u|ExecStart=$root$prefix/bin/$u|" \
                "$root$prefix/lib/systemd/system/$u.service" >"$tmp/verify$tag/$u.service"
            out=$(MANPATH="$root$prefix/share/man" systemd-analyze verify \
                  "$tmp/verify$tag/$u.service" 2>&1)
            vrc=$?
            t=systemd_analyze_verify_accepts_the_unit$tag
            [ "$u" = eccd ] || t=systemd_analyze_verify_accepts_the_${u}_unit$tag
            if [ "$vrc" -eq 0 ] && [ -z "$out" ]; then ok "$t"
            else fail "$t" "rc $vrc" "$out"; fi
        done
    fi

    # eccd.ini starts as a copy of home-pi.ini, and a valid config (exit 0, or 3 where this
    # machine lacks the Pi's GPIO chip, serial port, user eccd or directories).
    ini="$root/etc/eccd/eccd.ini"
    "$root$prefix/bin/eccd" -c "$ini" --check-config >/dev/null 2>&1
    crc=$?
    if [ -f "$ini" ] && tail -n +4 "$ini" | cmp -s - config/home-pi.ini &&
       { [ "$crc" -eq 0 ] || [ "$crc" -eq 3 ]; }; then
        ok "eccd_ini_is_a_valid_copy_of_home_pi$tag"
    else fail "eccd_ini_is_a_valid_copy_of_home_pi$tag"; fi

    # A second install replaces the examples but keeps the edited eccd.ini.
    echo "; edited for this rig" >>"$ini"
    cp "$ini" "$tmp/edited"
    make -s install BUILD="$build" DESTDIR="$root" PREFIX="$prefix" >"$tmp/log" 2>&1
    if cmp -s "$ini" "$tmp/edited" && grep -q 'kept .*eccd.ini' "$tmp/log"; then
        ok "reinstall_keeps_an_edited_eccd_ini$tag"
    else fail "reinstall_keeps_an_edited_eccd_ini$tag" "$tmp/log"; fi

    make -s uninstall DESTDIR="$root" PREFIX="$prefix" >"$tmp/log" 2>&1
    urc=$?
    left=$(cd "$root" && find . -type f ! -path './etc/eccd/*' | sort)
    if [ "$urc" -eq 0 ] && [ -z "$left" ] && cmp -s "$ini" "$tmp/edited" &&
       [ -f "$root/etc/eccd/sim.ini" ] && grep -q 'left .*/etc/eccd in place' "$tmp/log"; then
        ok "uninstall_removes_all_but_etc_eccd$tag"
    else fail "uninstall_removes_all_but_etc_eccd$tag" "rc $urc, left: $left" "$tmp/log"; fi
}

check_prefix /usr
check_prefix /usr/local

# Without DESTDIR the next steps are printed, not run (PREFIX and every /etc path pointed
# into the scratch directory, so nothing outside it is touched).
p="$tmp/nodestdir"
make -s install BUILD="$build" PREFIX="$p/usr" ETCDIR="$p/etc/eccd" UDEVDIR="$p/etc/udev/rules.d" \
    >"$tmp/log" 2>&1
if grep -q 'Next steps' "$tmp/log" &&
   grep -q "systemd-sysusers $p/usr/lib/sysusers.d/eccd.conf" "$tmp/log" &&
   grep -q 'systemctl daemon-reload' "$tmp/log" && grep -q 'udevadm control --reload' "$tmp/log" &&
   grep -q 'systemctl enable --now eccd' "$tmp/log" &&
   grep -qx "ExecStart=$p/usr/bin/eccd -c $p/etc/eccd/eccd.ini" \
       "$p/usr/lib/systemd/system/eccd.service"; then
    ok "install_without_destdir_prints_the_next_steps"
else
    fail "install_without_destdir_prints_the_next_steps" "$tmp/log"
fi

# The sysusers.d file creates the users eccd, eccweb and eccsync (both members of group eccd),
# and gpio, in an empty root.
if ! command -v systemd-sysusers >/dev/null 2>&1; then
    skip sysusers_creates_eccd_and_gpio "no systemd-sysusers (Debian package systemd)"
else
    s="$tmp/sysroot"
    mkdir -p "$s/etc" "$s/usr/lib/sysusers.d"
    cp config/eccd-sysusers.conf "$s/usr/lib/sysusers.d/eccd.conf"
    if systemd-sysusers --root="$s" >"$tmp/log" 2>&1 &&
       grep -q '^eccd:x:[0-9]*:[0-9]*:.*:/var/lib/eccd:/usr/sbin/nologin$' "$s/etc/passwd" &&
       grep -q '^eccd:x:[0-9]*:\(eccsync,eccweb\|eccweb,eccsync\)$' "$s/etc/group" &&
       grep -q '^gpio:x:' "$s/etc/group" &&
       grep -q '^eccweb:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$s/etc/passwd" &&
       grep -q '^eccsync:x:[0-9]*:[0-9]*:.*:/var/lib/eccd:/usr/sbin/nologin$' "$s/etc/passwd"; then
        ok "sysusers_creates_eccd_and_gpio"
    else
        fail "sysusers_creates_eccd_and_gpio" "$tmp/log" "$s/etc/passwd" "$s/etc/group"
    fi
fi

# The udev rule: FTDI ttyUSB devices get a 1 ms latency timer.
rule='^ACTION=="add", SUBSYSTEM=="usb-serial", .*DRIVER=="ftdi_sio", ATTR\{latency_timer\}="1"$'
if grep -Eq "$rule" config/99-eccd-ftdi-latency.rules; then
    ok "udev_rule_sets_the_ftdi_latency_timer"
else
    fail "udev_rule_sets_the_ftdi_latency_timer"
fi
