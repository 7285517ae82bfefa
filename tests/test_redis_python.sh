#!/bin/bash
# tests/test_redis_python.sh: builds tests/redis_writer.c (the C side) and runs
# tests/test_redis_python.py, which starts its own redis-server, lets C write entries,
# reads them from Python with nothing but the documented formats (and writes one for
# C to read). Needs redis-server and python3-redis (Debian); a missing one is a
# failure, not a skip: CI installs both. Run from anywhere; last line "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
fail() { echo "test_redis_python: $*"; echo "0 passed, 1 failed"; exit 1; }

command -v redis-server >/dev/null 2>&1 || fail "redis-server not found (apt-get install redis-server)"
py=
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import redis' >/dev/null 2>&1; then py=$p; break; fi
done
[ -n "$py" ] || fail "no python3 with the redis module (apt-get install python3-redis)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmcache-redis-py.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c99 -O1 -g -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Werror -I. \
    -DLLMCACHE_REDIS -o "$tmp/redis_writer" tests/redis_writer.c -lhiredis -lpthread -lm \
    || fail "could not build tests/redis_writer.c"

"$py" tests/test_redis_python.py "$tmp/redis_writer" > "$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
if ! tail -n 1 "$tmp/out" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
    echo "test_redis_python.py ended without its summary (exit $rc)"
    echo "0 passed, 1 failed"
    exit 1
fi
exit $rc
