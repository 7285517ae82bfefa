#!/bin/sh
# tests/test_strict_c99.sh - under strict -std=c99, a system header included before the
# implementation hides the POSIX declarations it needs (glibc): the compiler then
# reports one error, llmcache.h's own, which says what to do; included first, or
# with -D_DEFAULT_SOURCE, the same file compiles. Run from the repository root; last
# line "N passed, N failed".
CC=${CC:-cc}
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

printf '#include <string.h>\n#define LLMCACHE_IMPLEMENTATION\n#include "llmcache.h"\nint main(void) { return 0; }\n' > "$T/late.c"
printf '#define LLMCACHE_IMPLEMENTATION\n#include "llmcache.h"\n#include <string.h>\nint main(void) { return 0; }\n' > "$T/first.c"
if printf '#include <string.h>\n#ifndef __GLIBC__\n#error no glibc\n#endif\n' | $CC -std=c99 -x c -E - > /dev/null 2>&1; then
    if $CC -std=c99 -I. -c "$T/late.c" -o "$T/late.o" > "$T/late.err" 2>&1; then
        fail "a system header first under -std=c99 compiled"
    else
        n=$(grep -c 'error' "$T/late.err")
        # gcc quotes the line it reports: the message then appears twice
        if grep -q 'include llmcache.h before any other header' "$T/late.err" && \
           [ "$(grep 'error' "$T/late.err" | grep -vc 'include llmcache.h before any other header')" -eq 0 ]; then pass
        else fail "more than llmcache.h's one error ($n lines):"; head -n 20 "$T/late.err" >&2; fi
    fi
    if $CC -std=c99 -D_DEFAULT_SOURCE -I. -c "$T/late.c" -o "$T/late.o" 2> "$T/late2.err"; then pass
    else fail "-D_DEFAULT_SOURCE did not help:"; head -n 20 "$T/late2.err" >&2; fi
else
    echo "not glibc: the check applies to glibc only"
fi
if $CC -std=c99 -I. -c "$T/first.c" -o "$T/first.o" 2> "$T/first.err"; then pass
else fail "llmcache.h first did not compile:"; head -n 20 "$T/first.err" >&2; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
