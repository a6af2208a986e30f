#!/bin/sh
# t_install.sh BUILD - `make install` honours DESTDIR and PREFIX and installs the
# documented tree; `make uninstall` takes it away again (leaving edited configs).
set -u
build=${1:-build}
name=t_install
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make -s install BUILD="$build" DESTDIR="$tmp/root" PREFIX=/usr >"$tmp/log" 2>&1
rc=$?
missing=""
for f in usr/bin/eccd usr/bin/eccreport etc/eccd/sim.ini etc/eccd/clinic-vfd.ini \
         etc/eccd/home-pi.ini usr/share/eccd/scenarios/normal.ini \
         usr/share/doc/eccd/README.md usr/share/doc/eccd/configuration.md; do
    [ -f "$tmp/root/$f" ] || missing="$missing $f"
done
if [ "$rc" -eq 0 ] && [ -z "$missing" ]; then echo "ok   $name: install_puts_the_documented_tree_under_destdir"
else echo "FAIL $name: install_puts_the_documented_tree_under_destdir (rc $rc, missing:$missing)"; cat "$tmp/log"; fi

if "$tmp/root/usr/bin/eccd" --version >/dev/null 2>&1 &&
   "$tmp/root/usr/bin/eccreport" --version >/dev/null 2>&1; then
    echo "ok   $name: installed_binaries_run"
else
    echo "FAIL $name: installed_binaries_run"
fi

make -s uninstall DESTDIR="$tmp/root" PREFIX=/usr >"$tmp/log" 2>&1
if [ ! -e "$tmp/root/usr/bin/eccd" ] && [ ! -e "$tmp/root/usr/share/eccd" ] &&
   [ -f "$tmp/root/etc/eccd/sim.ini" ]; then
    echo "ok   $name: uninstall_removes_all_but_the_configs"
else
    echo "FAIL $name: uninstall_removes_all_but_the_configs"
fi
