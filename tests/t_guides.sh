#!/bin/sh
# t_guides.sh BUILD - the quick-start guides' simulator sections, run as they are written.
#
# docs/quickstart-home.md and docs/quickstart-clinic.md each have a section "Try it first with
# the simulator standing in for the hardware" whose ```sh blocks, each right after a line
# "<!-- test: guide-sim -->", a newcomer pastes in order from the top of a checkout after
# `make`. For each guide this test:
#
#  - extracts the marked blocks (a marker not followed at once by a ```sh fence fails);
#  - runs them as one `sh -e` script, unchanged, in a scratch folder laid out like a checkout
#    (config/ is the repository's, build/ is BUILD/rel, so the guide's PATH line picks up the
#    binaries under test), with TMPDIR inside it (the guide's `mktemp -d` folder lands there
#    and nothing collides with other runs), in a process group of its own, under a time limit;
#  - checks that the script ran to the end, that set 1 of the first session holds
#    reps_per_set counted reps (the guide's own --set protocol.reps_per_set, else its config's)
#    both in the history database and in the `eccctl history` table the guide printed, that
#    the pain score the guide gave is on that set, and that the guide stopped every process it
#    started.
#
# Prints "ok   t_guides: NAME" / "FAIL t_guides: NAME" per check (tests/run.sh counts them),
# the wall time of each guide, and "skip t_guides: why" when it cannot run here.
set -u
name=t_guides
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.." || exit 2
repo=$(pwd)
build=${1:-build}
case $build in /*) ;; *) build="$repo/$build" ;; esac
limit_s=${GUIDE_LIMIT_S:-45}          # per guide; both together normally take about 30 s
marker='<!-- test: guide-sim -->'
group=""
at_exit '[ -n "$group" ] && kill -KILL "-$group" 2>/dev/null'

for p in eccd eccctl eccsim; do
    [ -x "$build/rel/$p" ] || skip_all "no $build/rel/$p (make first)"
done
command -v setsid >/dev/null || skip_all "no setsid (util-linux)"

guide_over() { ! alive "$group"; }
group_gone() { ! kill -0 "-$group" 2>/dev/null; }

# extract GUIDE OUT: the marked blocks in order into OUT; prints "MARKERS BLOCKS BAD".
extract() {
    awk -v m="$marker" -v out="$2" '
        want { if ($0 ~ /^```sh[ \t]*$/) { inb = 1; blocks++ } else bad++; want = 0; next }
        inb && /^```[ \t]*$/ { inb = 0; print "" > out; next }
        inb { print > out; next }
        $0 == m { markers++; want = 1 }
        END { if (inb || want) bad++; printf "%d %d %d\n", markers, blocks, bad }
    ' "$1"
}

# run_guide TAG GUIDE
run_guide() {
    tag=$1
    guide=$2
    script="$tmp/$tag.sh"
    : >"$script"
    # shellcheck disable=SC2046 # three numbers, split on purpose
    set -- $(extract "$guide" "$script")
    if [ "$1" -gt 0 ] && [ "$1" -eq "$2" ] && [ "$3" -eq 0 ]; then
        ok "${tag}_marks_its_sh_blocks ($2 blocks)"
    else
        fail "${tag}_marks_its_sh_blocks ($1 markers, $2 sh blocks after them, $3 misplaced)"
        return
    fi

    dir="$tmp/$tag"
    mkdir -p "$dir/tmp"
    ln -s "$repo/config" "$dir/config"
    ln -s "$build/rel" "$dir/build"
    out="$tmp/$tag.out"
    t0=$(now)
    (cd "$dir" && TMPDIR="$dir/tmp" exec setsid sh -e "$script" >"$out" 2>&1) &
    group=$!
    timed_out=0
    wait_for "$limit_s" guide_over || { timed_out=1; kill -TERM "-$group" 2>/dev/null; }
    wait "$group"
    rc=$?
    took=$(secs "$t0" "$(now)")
    # Whatever the guide started must be gone: give it 5 s to finish its own exit.
    wait_for 5 group_gone
    leftover=0
    if ! group_gone; then
        leftover=1
        ps -eo pgid=,pid=,args= | awk -v g="$group" '$1 == g { $1 = ""; print "  left running:" $0 }'
        kill -TERM "-$group" 2>/dev/null
        wait_for 1 group_gone || kill -KILL "-$group" 2>/dev/null
    fi
    group=""

    demo=$(find "$dir/tmp" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -n 1)   # the guide's mktemp -d
    logs="$out"
    for f in "$demo/eccd.log" "$demo/eccsim.log"; do
        [ -n "$demo" ] && [ -f "$f" ] && logs="$logs $f"
    done

    echo "  $tag: $(basename "$guide"), $2 blocks, exit $rc, ${took} s"
    if [ "$timed_out" -eq 0 ] && [ "$rc" -eq 0 ]; then
        ok "${tag}_blocks_run_to_the_end"
    else
        [ "$timed_out" -eq 1 ] && echo "  timed out after $limit_s s"
        # shellcheck disable=SC2086
        fail "${tag}_blocks_run_to_the_end" $logs
    fi

    want=$(sed -n 's/.*protocol\.reps_per_set=\([0-9][0-9]*\).*/\1/p' "$script" | head -n 1)
    if [ -z "$want" ]; then
        cfg=$(sed -n 's/.*eccd -c \(config\/[A-Za-z0-9_.-]*\.ini\).*/\1/p' "$script" | head -n 1)
        want=$(sed -n 's/^reps_per_set *= *\([0-9][0-9]*\).*/\1/p' "${cfg:-/dev/null}" | head -n 1)
    fi
    pain=$(sed -n 's/^eccctl pain \([0-9][0-9]*\).*/\1/p' "$script" | head -n 1)
    row=""
    if [ -f "$demo/history.db" ] && command -v sqlite3 >/dev/null; then
        row=$(sqlite3 -batch -noheader -separator ' ' "$demo/history.db" \
            "SELECT counted, coalesce(pain, '-') FROM sets ORDER BY session_id, n LIMIT 1" 2>&1)
    fi
    # The `eccctl history` table the guide printed: "    1       15         2      96%     3".
    table=$(grep -E "^ +1 +${want:-x} +[0-9]+ +[0-9]+% +${pain:-x} *$" "$out" | head -n 1)
    echo "  $tag: set 1 wanted ${want:-?} reps and pain ${pain:-?}; database: ${row:-none}; eccctl history: ${table:-no such row}"
    if [ -n "$want" ] && [ -n "$table" ] && { [ -z "$row" ] || [ "$row" = "$want ${pain:--}" ]; }; then
        ok "${tag}_sim_reaches_a_counted_set_with_its_pain_score"
    else
        # shellcheck disable=SC2086
        fail "${tag}_sim_reaches_a_counted_set_with_its_pain_score" $logs
    fi

    if [ "$leftover" -eq 0 ]; then
        ok "${tag}_stops_what_it_started"
    else
        fail "${tag}_stops_what_it_started"
    fi
}

start=$(now)
run_guide home docs/quickstart-home.md
run_guide clinic docs/quickstart-clinic.md
echo "  both guides: $(secs "$start" "$(now)") s"
