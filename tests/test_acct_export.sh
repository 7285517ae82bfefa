#!/bin/sh
# tests/test_acct_export.sh - the accounting export through real parsers: the
# Prometheus text of llmcache_stats_write (both views) and of `llmcache stats
# --prometheus` through `promtool check metrics` (Debian's prometheus package), the
# JSON through python3's json, with the exact figures of the scenario checked.
# Run from the repository root: sh tests/test_acct_export.sh. It uses
# build/tests/test_acct and build/llmcache (built with the Makefile when missing).
# Last line: "N passed, N failed"; exit status 1 when anything failed.

[ -x build/tests/test_acct ] || make -s build/tests/test_acct > /dev/null || { echo "0 passed, 1 failed"; exit 1; }
[ -x build/llmcache ] || make -s build/llmcache > /dev/null || { echo "0 passed, 1 failed"; exit 1; }
ROOT=$(pwd)
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { d=$1; shift; if "$@"; then pass; else fail "$d"; fi; }
# promtool lints too (names, units, HELP/TYPE): any complaint fails
prom_ok() { promtool check metrics < "$1" > "$T/promtool.out" 2>&1 || { sed 's/^/    | /' "$T/promtool.out" >&2; return 1; }; }

check "test_acct writes the exports" "$ROOT/build/tests/test_acct" "$T" > "$T/test_acct.out"
for f in calls.prom entries.prom; do
    check "promtool accepts $f" prom_ok "$T/$f"
done
check "every counter ends in _total" sh -c "! grep '^# TYPE' '$T/calls.prom' | grep ' counter\$' | grep -v '_total counter\$'"
check "every metric is llmcache_*" sh -c "! grep -v '^#' '$T/calls.prom' '$T/entries.prom' | grep -v ':llmcache_'"
check "calls.json parses, with the scenario's figures" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
rows = {(r['namespace'], r['model']): r for r in d['rows']}
g = rows[('teamA', 'gpt-4o')]
assert d['totals']['money_saved_microdollars'] == 37188, d['totals']
assert g['money_saved_microdollars'] == 28008 and g['shared'] == 3 and g['hits'] == 4, g
assert g['cached_input_tokens_saved'] == 2807 and g['input_tokens_saved'] == 4200, g
assert rows[('teamA', 'claude-x')]['cache_write_tokens_saved'] == 2000
assert sum(r['input_tokens_saved'] for r in d['rows']) == d['totals']['input_tokens_saved']
" "$T/calls.json"
check "entries.json parses" python3 -c "import json, sys; json.load(open(sys.argv[1]))" "$T/entries.json"

# the command line on the log test_acct wrote (a gpt-4o answer twice, a claude-x stream)
cat > "$T/prices.json" <<'JSON'
{"gpt-4o": {"input": 2500000, "output": 10000000, "cached_input": 1250000},
 "claude-x": {"input": 3000000, "output": 15000000, "cached_input": 300000, "cache_write": 3750000}}
JSON
check "stats --prometheus" sh -c "build/llmcache stats '$T/acct.log' --prometheus --prices '$T/prices.json' --ns 'a\"b' > '$T/file.prom'"
check "promtool accepts stats --prometheus" prom_ok "$T/file.prom"
check "stats --prometheus has the recorded cost" \
    grep -q '^llmcache_stored_cost_microdollars{namespace="a\\"b",model="claude-x"} 9180$' "$T/file.prom"
check "stats --json" sh -c "build/llmcache stats '$T/acct.log' --json --prices '$T/prices.json' > '$T/file.json'"
check "stats --json parses, with the recorded costs" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['entries'] == 3, d
rows = {r['model']: r for r in d['accounting']['rows']}
g, c = rows['gpt-4o'], rows['claude-x']
assert g['entries'] == 2 and g['cost_microdollars'] == 8002 and g['cached_input_tokens'] == 802, g   # 2 * 4001.25
assert c['entries'] == 1 and c['cost_microdollars'] == 9180 and c['cache_write_tokens'] == 2000, c
" "$T/file.json"
check "stats without --prices: nothing priced" sh -c "build/llmcache stats '$T/acct.log' --prometheus | grep -q '^llmcache_stored_unpriced_entries{namespace=\"\",model=\"gpt-4o\"} 2\$'"
echo '{"m": {"input": -1}}' > "$T/bad.json"
check "a bad price table is refused (exit 2)" sh -c "build/llmcache stats '$T/acct.log' --json --prices '$T/bad.json' 2> '$T/err'; [ \$? -eq 2 ] && grep -q 'not a price table' '$T/err'"
check "--json with --prometheus is refused" sh -c "! build/llmcache stats '$T/acct.log' --json --prometheus 2> /dev/null"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
