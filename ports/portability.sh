#!/bin/sh
# ports/portability.sh: the steps of `make portability` (ports/ports.mk sets the
# PORT_* variables and runs them). Run from the repository root.
#
#   sh ports/portability.sh step NAME     builds and runs one step, prints one line
#   sh ports/portability.sh summary NAME...  adds the steps up:
#                                         "portability: N passed, N failed"
#
# A step builds test programs for one configuration (compiler, language, machine
# or compile-time option) with every warning an error, runs each one and reads its
# closing "N passed, N failed" line. A program counts as passed when it built, ran
# to its end with status 0 and reported no failed check. The step's line gives
# programs passed and failed, the checks they made, and its time; the build and
# run output of each program is in $PORT_B/NAME/*.log.
set -u

B=${PORT_B:-build/ports}
TIMEOUT=${PORT_TIMEOUT:-600}
WARN=${PORT_WARN:--std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror}
CXXWARN=${PORT_CXXWARN:--Wall -Wextra -Wpedantic -Wshadow -Werror}

mode=$1; shift

if [ "$mode" = summary ]; then
    p=0; f=0; failed=""
    for s in "$@"; do
        r=$(cat "$B/$s/result" 2>/dev/null || echo "0 1")
        sp=${r% *}; sf=${r#* }
        p=$((p + sp)); f=$((f + sf))
        [ "$sf" -ne 0 ] && failed="$failed $s"
    done
    [ -n "$failed" ] && echo "failing steps:$failed (logs in $B/STEP/)"
    echo "portability: $p passed, $f failed"
    [ "$f" -eq 0 ]
    exit
fi

step=$1
D=$B/$step
rm -rf "$D"; mkdir -p "$D"
passed=0; failed=0; checks=0; notes=""
start=$(date +%s)

note() { notes="$notes${notes:+; }$1"; }

# build NAME CC FLAGS... -- SOURCE [LIBS...]: builds $D/NAME, 1 when it failed.
build() {
    name=$1; shift
    if "$@" > "$D/$name.build.log" 2>&1; then return 0; fi
    failed=$((failed + 1)); note "$name: build failed"
    return 1
}

# run NAME COMMAND...: runs it with the time limit and counts its closing line.
run() {
    name=$1; shift
    timeout "$TIMEOUT" "$@" > "$D/$name.log" 2>&1
    rc=$?
    line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$D/$name.log" | tail -n 1)
    cp=$(echo "$line" | sed -n 's/^\(.*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*$/\2/p')
    cf=$(echo "$line" | sed -n 's/^\(.*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*$/\3/p')
    checks=$((checks + ${cp:-0}))
    if [ "$rc" -eq 0 ] && [ -n "$cp" ] && [ "$cf" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        if [ "$rc" -eq 124 ]; then note "$name: timed out after ${TIMEOUT}s"
        else note "$name: exit $rc, ${cf:-no} failed checks"; fi
    fi
    skip=$(grep -m1 '^ *skipped ' "$D/$name.log" | sed 's/^ *skipped \([^:]*\):.*(\(.*\))$/\1 skipped (\2)/')
    [ -n "$skip" ] && note "$name: $skip"
    return 0
}

# Builds each test with CC FLAGS and runs it (through RUNNER, if set).
suite() {
    cc=$1; flags=$2; libs=$3; runner=$4; shift 4
    for t in "$@"; do
        # shellcheck disable=SC2086
        build "$t" $cc $flags -I. -o "$D/$t$EXE" "tests/$t.c" $libs && run "$t" $runner "$D/$t$EXE"
    done
}

# Log files cross machines: the reference log written here opens there with the
# same entries and the same bytes, and the other way round.
exchange() {
    native=$1; foreign=$2; runner=$3
    if [ ! -x "$native" ] || [ ! -f "$foreign" ]; then
        failed=$((failed + 1)); note "exchange: test_files missing"; return
    fi
    rm -f "$D/here.log"* "$D/there.log"*
    run write-here "$native" write "$D/here.log"
    run read-there $runner "$foreign" read "$(winpath "$D/here.log")"
    run write-there $runner "$foreign" write "$(winpath "$D/there.log")"
    run read-here "$native" read "$D/there.log"
}

winpath() { if [ -n "$WIN" ]; then echo "Z:$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" | tr / '\\'; else echo "$1"; fi; }

# the step's tools (tests/need.sh port-STEP): when some are missing, the step is
# skipped with a line "skipped: port-STEP (needs PACKAGES)" (ports/install-deps.sh
# installs them), a failure under LLMCACHE_REQUIRE_ALL=1
tools() {
    why=$(sh tests/need.sh "port-$step") && return 0
    if [ "${LLMCACHE_REQUIRE_ALL:-0}" = 1 ]; then failed=$((failed + 1)); note "needs $why (ports/install-deps.sh)"
    else echo "skipped: port-$step (needs $why)"; note "skipped"; fi
    return 1
}

EXE=""; WIN=""

# wine_up WINE, wine_down WINE: a fresh wine prefix for the step (a few seconds), removed after.
wine_up() {
    EXE=.exe; WIN=1
    WINEPREFIX=$(mktemp -d "${TMPDIR:-/tmp}/llmcache-wine-XXXXXX"); export WINEPREFIX
    WINEDEBUG=-all; export WINEDEBUG
    "$1" cmd /c exit > "$D/wineboot.log" 2>&1
}
wine_down() { "$(dirname "$1")/wineserver" -k > /dev/null 2>&1; rm -rf "$WINEPREFIX"; }
NATIVE="test_cache test_canon test_keys test_log test_call test_alloc test_files test_nofiles"
QEMU_TESTS="test_cache test_canon test_keys test_log test_files"
case "$step" in
gcc)   suite "${PORT_GCC:-gcc}" "$WARN -Wstrict-prototypes -O2" "-lpthread -lm" "" $NATIVE ;;
clang) tools && suite "${PORT_CLANG:-clang}" "$WARN -Wstrict-prototypes -O2" "-lpthread -lm" "" $NATIVE ;;
tcc)   tools && suite "${PORT_TCC:-tcc}" "-Wall -Werror" "-lpthread -lm" "" \
           test_cache test_canon test_keys test_files ;;
c++11|c++17)
       tools && suite "${PORT_CXX:-g++}" "-std=$step $CXXWARN -O1 -x c++" "-lpthread" "" \
           test_cache test_canon test_keys test_call test_files ;;
mips|arm)
       if [ "$step" = mips ]; then cc=${PORT_MIPS_CC:-mips-linux-gnu-gcc}; q=${PORT_MIPS_QEMU:-qemu-mips-static}
       else cc=${PORT_ARM_CC:-arm-linux-gnueabihf-gcc}; q=${PORT_ARM_QEMU:-qemu-arm-static}; fi
       if tools; then
           export LLMCACHE_TEST_RUNNER="$q"   # test_files runs its children through it
           suite "$cc" "$WARN -Wstrict-prototypes -O2 -static" "-lpthread -lm" "$q" $QEMU_TESTS
           build native-test_files "${PORT_GCC:-gcc}" $WARN -O2 -I. -o "$D/native-test_files" tests/test_files.c -lpthread -lm
           exchange "$D/native-test_files" "$D/test_files" "$q"
       fi ;;
windows)
       cc=${PORT_MINGW_CC:-x86_64-w64-mingw32-gcc}; wine=${PORT_WINE:-/usr/lib/wine/wine64}
       if tools; then
           wine_up "$wine"
           suite "$cc" "$WARN -Wstrict-prototypes -O2 -static" "-lpthread" "$wine" \
               test_cache test_canon test_keys test_call test_alloc test_files test_nofiles
           build no-threads-test_files "$cc" $WARN -O2 -static -DLLMCACHE_NO_THREADS -I. \
               -o "$D/no-threads-test_files.exe" tests/test_files.c &&
               run no-threads-test_files "$wine" "$D/no-threads-test_files.exe"
           build native-test_files "${PORT_GCC:-gcc}" $WARN -O2 -I. -o "$D/native-test_files" tests/test_files.c -lpthread -lm
           exchange "$D/native-test_files" "$D/test_files.exe" "$wine"
           wine_down "$wine"
       fi ;;
msvc)
       # clang in MSVC mode (--target=x86_64-pc-windows-msvc: _MSC_VER, _WIN32, the
       # Microsoft ABI) against Wine's MSVC-compatible CRT and Win32 headers, linked
       # by lld-link with Wine's import libraries (ucrtbase, kernel32; winecrt0 for
       # _fltused), run under wine. Twice: as clang-cl compiles, and as cl.exe sees
       # the header: __clang__ undefined, so no GNU attribute, builtin or __atomic,
       # the _MSC_VER paths (no -Wunused-function: cl warns of those at /W4 only).
       # test_call needs <pthread.h>, which MSVC lacks. The header also as C++, as
       # cl.exe sees it (with __clang__, Wine's winnt.h redefines a clang builtin in
       # C++); WINE_UNICODE_NATIVE: WCHAR is wchar_t, as in Microsoft's headers.
       wine=${PORT_WINE:-/usr/lib/wine/wine64}; clang=${PORT_CLANG:-clang}
       inc=${PORT_WINE_INC:-/usr/include/wine/wine}; lib=${PORT_WINE_LIB:-/usr/lib/x86_64-linux-gnu/wine/x86_64-windows}
       if tools; then
           wine_up "$wine"
           msvc="--target=x86_64-pc-windows-msvc -nostdinc -isystem $("$clang" -print-resource-dir)/include
                 -isystem $inc/msvcrt -isystem $inc/windows -DWINE_UNICODE_NATIVE -I."
           link="-fuse-ld=lld -nostdlib -Wl,-entry:mainCRTStartup -Wl,-subsystem:console
                 $lib/libucrtbase.a $lib/libkernel32.a $lib/libwinecrt0.a"
           cl="-U__clang__ -Wno-builtin-macro-redefined -Wno-unused-function"
           for mode in clang-cl cl; do
               as=""; [ $mode = cl ] && as=$cl
               for t in test_cache test_canon test_keys test_alloc test_files test_nofiles; do
                   # shellcheck disable=SC2086
                   build "$mode-$t" "$clang" $msvc $WARN -Wstrict-prototypes -O1 $as -o "$D/$mode-$t.exe" "tests/$t.c" $link &&
                       run "$mode-$t" "$wine" "$D/$mode-$t.exe"
               done
           done
           # shellcheck disable=SC2086
           build cl-c++ "$clang" $msvc -x c++ -std=c++17 $CXXWARN $cl -c -o "$D/cl-cxx.obj" tests/compile/impl.c &&
               passed=$((passed + 1))
           wine_down "$wine"
       fi ;;
no-threads)
       suite "${PORT_GCC:-gcc}" "$WARN -Wstrict-prototypes -O2 -DLLMCACHE_NO_THREADS" "-lm" "" \
           test_cache test_canon test_keys test_alloc test_files ;;
static)
       suite "${PORT_GCC:-gcc}" "$WARN -Wstrict-prototypes -O2 -DLLMCACHE_STATIC" "-lpthread -lm" "" \
           test_cache test_keys test_files ;;
alloc)
       suite "${PORT_GCC:-gcc}" "$WARN -Wstrict-prototypes -O2" "-lpthread -lm" "" test_alloc
       if ${PORT_GCC:-gcc} $WARN -I. -c tests/compile/partial_alloc.c -o "$D/partial.o" > "$D/partial.log" 2>&1; then
           failed=$((failed + 1)); note "LLMCACHE_MALLOC alone was accepted"
       else passed=$((passed + 1)); fi ;;
no-files)
       suite "${PORT_GCC:-gcc}" "$WARN -Wstrict-prototypes -O2 -DLLMCACHE_NO_FILES" "-lpthread -lm" "" \
           test_cache test_canon test_keys test_nofiles ;;
*)     echo "unknown step $step" >&2; exit 2 ;;
esac

secs=$(( $(date +%s) - start ))
echo "$passed $failed" > "$D/result"
printf '%-11s %3s passed %3s failed  %8s checks %4ss%s\n' "$step:" "$passed" "$failed" "$checks" "$secs" \
    "${notes:+  ($notes)}"
[ "$failed" -eq 0 ]
