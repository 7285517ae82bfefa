#!/bin/sh
# tests/test_run_all.sh: the skip protocol of tests/run_all.sh and tests/need.sh.
# A suite whose need is missing (LLMCACHE_NEED_HIDE plays a machine without it)
# is not run and gets one "skipped: SUITE (needs PACKAGE)" line, also for its plain
# and ASan builds together; a suite's own skip line is shown; the run still ends
# with "N passed, N failed"; LLMCACHE_REQUIRE_ALL=1 makes every skip a failure.
# The inner runs' output goes to files (their skip lines must not reach make test's).
cd "$(dirname "$0")/.." || exit 1
T=build/test-run-all
rm -rf "$T"; mkdir -p "$T/tests" "$T/asan"
pass=0; fail=0
check() { d=$1; shift; if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $d"; sed 's/^/    | /' "$T/out"; fi; }
for d in tests asan; do
    printf '#!/bin/sh\necho "3 passed, 0 failed"\n' > "$T/$d/test_curl"
    printf '#!/bin/sh\necho "skipped: part of it (needs frobnicator)"\necho "2 passed, 0 failed"\n' > "$T/$d/test_part"
    chmod +x "$T/$d/test_curl" "$T/$d/test_part"
done
all="$T/tests/test_curl $T/asan/test_curl $T/tests/test_part $T/asan/test_part"

LLMCACHE_NEED_HIDE=curl/curl.h LLMCACHE_REQUIRE_ALL= sh tests/run_all.sh "$T" $all > "$T/out" 2>&1; rc=$?
check "a missing need is a skip, not a failure" [ $rc -eq 0 ]
check "one skip line for the plain and ASan builds" [ "$(grep -c '^skipped: test_curl (needs libcurl4-openssl-dev)$' "$T/out")" -eq 1 ]
check "the suite's own skip line is shown once" [ "$(grep -c '^skipped: part of it (needs frobnicator)$' "$T/out")" -eq 1 ]
check "the skipped suite did not run; the total is the rest" [ "$(tail -n 1 "$T/out")" = "4 passed, 0 failed" ]

LLMCACHE_NEED_HIDE=curl/curl.h LLMCACHE_REQUIRE_ALL=1 sh tests/run_all.sh "$T" $all > "$T/out" 2>&1; rc=$?
check "LLMCACHE_REQUIRE_ALL=1: a skip fails the run" [ $rc -ne 0 ]
check "LLMCACHE_REQUIRE_ALL=1: each skip is one failure" [ "$(tail -n 1 "$T/out")" = "4 passed, 2 failed" ]
check "LLMCACHE_REQUIRE_ALL=1: says why" grep -q '^FAILED (LLMCACHE_REQUIRE_ALL=1): skipped: test_curl (needs libcurl4-openssl-dev)$' "$T/out"

LLMCACHE_NEED_HIDE="curl/curl.h hiredis/hiredis.h" sh tests/need.sh --can test_curl test_redis_hostile test_cli.sh > "$T/out" 2>&1
check "need.sh --can lists what can run" [ "$(cat "$T/out")" = "test_cli.sh" ]
LLMCACHE_NEED_HIDE="redis-server redis" sh tests/need.sh test_redis_python.sh > "$T/out" 2>&1; rc=$?
check "need.sh names every missing package" sh -c "[ $rc -eq 1 ] && grep -q 'redis-server, python3-redis' '$T/out'"
rm -rf "$T"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
