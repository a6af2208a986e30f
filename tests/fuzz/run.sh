#!/bin/sh
# run.sh BUILD_DIR SECONDS [--update-corpus] - build the fuzz targets and run each one.
#
# Builds fuzz_request (proto/request.c) and fuzz_config (config/config.c + inih) with
# clang's libFuzzer, ASan and UBSan into BUILD_DIR/fuzz, then runs each for SECONDS on a
# scratch copy of its corpus (tests/fuzz/corpus/NAME) in BUILD_DIR/fuzz/work/NAME: the
# committed corpus is not touched. With --update-corpus, what the run found is merged
# back with -merge=1, which adds only the inputs that reach new coverage.
#
# Prints one line per target ("fuzz NAME: ..." with runs, coverage and corpus size) and
# exits 1 if any target crashed, leaked, timed out or broke an oracle; the line then
# names the input that did it (replay: BUILD_DIR/fuzz/NAME FILE) and the log.
# FUZZ_CC picks the compiler (default clang-14, else clang).
set -u

usage() {
    echo "usage: $0 BUILD_DIR SECONDS [--update-corpus]" >&2
    exit 2
}
[ $# -ge 2 ] || usage
build=$1
secs=$2
update=0
case "${3:-}" in
    --update-corpus) update=1 ;;
    "") ;;
    *) usage ;;
esac
case "$secs" in
    ''|*[!0-9]*) usage ;;
esac
cd "$(dirname "$0")/../.." || exit 2

cc=${FUZZ_CC:-$(command -v clang-14 || command -v clang)}
[ -n "$cc" ] || { echo "fuzz: no clang found (apt-get install clang)" >&2; exit 2; }
out=$build/fuzz
mkdir -p "$out" || exit 2
flags="-std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. \
-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"

# build NAME PKG SOURCES...
build() {
    name=$1
    pkg=$2
    shift 2
    # shellcheck disable=SC2046,SC2086  # word splitting wanted: flag lists
    "$cc" $flags $(pkg-config --cflags "$pkg") "$@" $(pkg-config --libs "$pkg") -lm \
        -o "$out/$name" || { echo "fuzz: cannot build $name" >&2; exit 2; }
}

build fuzz_request jansson tests/fuzz/fuzz_request.c proto/request.c
build fuzz_config inih tests/fuzz/fuzz_config.c config/config.c
# The config dictionary comes from config.c's own key table.
# shellcheck disable=SC2046
if ! "$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. tests/fuzz/config_dict.c \
    config/config.c $(pkg-config --cflags --libs inih) -lm -o "$out/config_dict" ||
    ! "$out/config_dict" >"$out/config.dict"; then
    echo "fuzz: cannot make config.dict" >&2
    exit 2
fi

files() {
    find "$1" -type f | wc -l
}

# The last "#N ... cov: C ft: F corp: K/..." figures libFuzzer printed.
last_stat() {
    grep -o "$2: [0-9]*" "$1" | tail -n 1 | sed 's/.*: //'
}

# run NAME DICT MAX_LEN
run() {
    name=$1
    dict=$2
    maxlen=$3
    corpus=tests/fuzz/corpus/${name#fuzz_}
    work=$out/work/$name
    log=$out/$name.log
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/crashes"
    cp "$corpus"/* "$work/corpus/"
    seeds=$(files "$work/corpus")
    start=$(date +%s)
    "$out/$name" -max_total_time="$secs" -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -dict="$dict" -artifact_prefix="$work/crashes/" \
        "$work/corpus" >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    figures="${runs:-?} runs in $took s (${rate:-?}/s), cov $(last_stat "$log" cov),"
    figures="$figures ft $(last_stat "$log" ft), corpus $seeds -> $(files "$work/corpus")"
    if [ "$rc" -ne 0 ]; then
        input=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n 1)
        why=$(grep -m 1 -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_[a-z]+:|.*runtime error:)' "$log")
        echo "FAIL fuzz $name: exit $rc after $figures: ${why:-see the log}"
        echo "     input: ${input:-none written}; replay: $out/$name ${input:-FILE}; log: $log"
        return 1
    fi
    echo "fuzz $name: $figures"
    if [ "$update" -eq 1 ]; then
        before=$(files "$corpus")
        "$out/$name" -merge=1 -max_len="$maxlen" "$corpus" "$work/corpus" >"$work/merge.log" 2>&1 ||
            { echo "FAIL fuzz $name: merge failed, see $work/merge.log"; return 1; }
        echo "fuzz $name: corpus $corpus: $before -> $(files "$corpus") files"
    fi
}

failed=0
run fuzz_request tests/fuzz/request.dict 4200 || failed=1
run fuzz_config "$out/config.dict" 8192 || failed=1
exit "$failed"
