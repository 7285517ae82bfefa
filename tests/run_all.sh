#!/bin/sh
# tests/run_all.sh BUILD_DIR TARGET... : runs every test program, shell test (*.sh) or
# make target (a bare word), prints each one's output, and sums their closing
# "N passed, N failed" lines. A program that dies without that line counts as one
# failure. The last line is the total.
#
# A target whose needs (tests/need.sh) this machine lacks is not run: one line
# "skipped: SUITE (needs PACKAGE)" says so. A target may skip a part of itself with
# such a line of its own, which is shown too. With LLMCACHE_REQUIRE_ALL=1 (CI) every
# skip counts as a failure instead.
B=$1; shift
total_p=0; total_f=0; broken=""; skipped=" "
log=$B/test-logs
mkdir -p "$log"

# skip LINE: shows a skip line once; under LLMCACHE_REQUIRE_ALL=1 it is a failure
skip() {
    case "$skipped" in *" $1 "*) return;; esac
    skipped="$skipped$1 "
    if [ "${LLMCACHE_REQUIRE_ALL:-0}" = 1 ]; then
        echo "FAILED (LLMCACHE_REQUIRE_ALL=1): $1"; total_f=$((total_f + 1)); broken="$broken $2"
    else
        echo "$1"
    fi
}

for t in "$@"; do
    name=$(echo "$t" | tr '/' '_')
    suite=${t##*/}
    if ! why=$(sh tests/need.sh "$suite"); then
        skip "skipped: $suite (needs $why)" "$t"
        continue
    fi
    start=$(date +%s)
    case "$t" in
        *.sh) bash "$t" > "$log/$name.log" 2>&1; rc=$? ;;
        */*)  "./$t" > "$log/$name.log" 2>&1; rc=$? ;;
        *)    ${MAKE:-make} --no-print-directory "$t" > "$log/$name.log" 2>&1; rc=$? ;;
    esac
    secs=$(( $(date +%s) - start ))
    line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$log/$name.log" | tail -n 1)
    p=$(echo "$line" | sed -n 's/^\(.*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*$/\2/p')
    f=$(echo "$line" | sed -n 's/^\(.*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*$/\3/p')
    if [ -z "$p" ]; then p=0; f=1; fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$f" -ne 0 ]; then
        broken="$broken $t"
        echo "---- $t (exit $rc) ----"; tail -n 40 "$log/$name.log"
    fi
    printf '%-40s %8s passed %4s failed  %4ss\n' "$t" "$p" "$f" "$secs"
    total_p=$((total_p + p)); total_f=$((total_f + f))
    grep -a '^skipped: ' "$log/$name.log" > "$log/$name.skips"
    while IFS= read -r s; do skip "$s" "$t"; done < "$log/$name.skips"
done
[ -n "$broken" ] && echo "failing:$broken"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
