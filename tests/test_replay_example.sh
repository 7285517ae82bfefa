#!/bin/sh
# tests/test_replay_example.sh - examples/replay_test.c as the test it is meant to be:
# the checked-in cassette (examples/cassettes/npc.jsonl) imported into a fresh cache
# passes in replay mode with no provider and no key; an edited prompt fails with
# status 1 and a message naming the key that missed; a bad LLMCACHE_MODE is refused.
# Needs build/examples/replay_test (libcurl) and build/llmcache. Last line: "N passed, N failed".
EX=build/examples/replay_test
L=build/llmcache
[ -x "$EX" ] && [ -x "$L" ] || { echo "build/examples/replay_test or build/llmcache missing (run make)"; echo "0 passed, 1 failed"; exit 1; }
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
check() { d=$1; shift; if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $d" >&2; fi; }

"$L" import "$T/ci.cache" examples/cassettes/npc.jsonl > /dev/null || failed=$((failed + 1))
# no provider: a base URL where nothing listens, so any transport call would fail
LLMCACHE_MODE=replay OPENAI_BASE_URL=http://127.0.0.1:1/v1 "$EX" "$T/ci.cache" > "$T/ok.out" 2>&1; rc=$?
check "replay passes offline" test $rc -eq 0
check "two cases passed" grep -q 'replay_test (mode replay): 2 passed, 0 failed' "$T/ok.out"
LLMCACHE_MODE=replay OPENAI_BASE_URL=http://127.0.0.1:1/v1 "$EX" "$T/ci.cache" --persona "You are Brom, a cheerful smith." \
    > "$T/miss.out" 2>&1; rc=$?
check "an edited prompt fails" test $rc -eq 1
check "the miss names its key" grep -q 'replay miss: no recorded answer for this request (key [0-9a-f]\{64\})' "$T/miss.out"
check "and how to see why" grep -q 'llmcache explain --near' "$T/miss.out"
LLMCACHE_MODE=replya "$EX" "$T/ci.cache" > "$T/bad.out" 2>&1; rc=$?
check "a bad LLMCACHE_MODE is refused" test $rc -eq 2
check "naming the modes" grep -q 'normal, record, replay, no-store, off' "$T/bad.out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
