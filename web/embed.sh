#!/bin/sh
# embed.sh OUT.c FILE... - the page's files as a C table (web/assets.h) for eccweb.
# index.html is served as "/", every other file as "/NAME". od, sed: no other tool.
set -eu
out=$1
shift
tmp="$out.tmp"
{
    echo "/* Made by web/embed.sh from web/page/: do not edit. */"
    echo "#include \"web/assets.h\""
    i=0
    for f in "$@"; do
        echo "static const unsigned char a$i[] = {"
        od -An -v -tx1 "$f" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
        echo "0};"
        i=$((i + 1))
    done
    echo "const struct web_asset web_assets[] = {"
    i=0
    for f in "$@"; do
        name=$(basename "$f")
        case $name in
        *.html) type="text/html; charset=utf-8" ;;
        *.js) type="text/javascript; charset=utf-8" ;;
        *.css) type="text/css; charset=utf-8" ;;
        *.svg) type="image/svg+xml" ;;
        *.json|*.webmanifest) type="application/manifest+json" ;;
        *) echo "embed.sh: $f: no Content-Type known for it" >&2; exit 1 ;;
        esac
        path="/$name"
        [ "$name" = index.html ] && path="/"
        size=$(wc -c <"$f" | tr -d ' ')
        echo "    {\"$path\", \"$type\", a$i, $size},"
        i=$((i + 1))
    done
    echo "};"
    echo "const int web_n_assets = $i;"
} >"$tmp"
mv "$tmp" "$out"
