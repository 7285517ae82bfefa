#!/usr/bin/env bash
# `llmcache serve` end to end against tests/fake_provider.py (tests/test_serve.py
# says what it covers), with the tool as built, then (when make test-build made
# it) built with ASan+UBSan. Needs the proxy built (libmicrohttpd, libcurl), curl.
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
[ -x "$B/llmcache" ] || make --no-print-directory "$B/llmcache" >/dev/null || exit 1
p=0; f=0
for dir in "$B" "$B/asan"; do
    [ -x "$dir/llmcache" ] || continue
    echo "== $dir/llmcache"
    python3 tests/test_serve.py "$dir" > "$B/test_serve.out" 2>&1
    rc=$?
    cat "$B/test_serve.out"
    line=$(tail -n 1 "$B/test_serve.out")
    case "$line" in *" passed, "*" failed") ;; *) line="0 passed, 1 failed" ;; esac
    set -- $line
    p=$((p + $1)); f=$((f + $3))
    [ "$rc" -ne 0 ] && [ "$3" -eq 0 ] && f=$((f + 1))
done
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
