#!/usr/bin/env bash
# tests/test_cli_batch.sh - `llmcache batch` against tests/fake_provider.py on
# 127.0.0.1: the result format (input order, custom_id, status, from_cache, tokens,
# errors), identical requests sent once, retries of 429/503 honouring Retry-After
# (delay-seconds and HTTP-date), and resume after SIGKILL (the provider's counter
# proves the rerun called only what had not finished). Needs curl, python3 and a
# build/llmcache with libcurl. Last line "N passed, N failed". About 10 s.
set -u
cd "$(dirname "$0")/.." || exit 2
B=${B:-build}
TOOL=$B/llmcache
PY=${PYTHON:-python3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/llmcache-batch.XXXXXX")
PIDS=""
PASS=0
FAIL=0
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()  { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1${2:+: $2}"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
# pyl FILE 'EXPR over L (the list of parsed JSON lines)'
pyl() {
    "$PY" -c 'import json,sys
L=[json.loads(l) for l in open(sys.argv[1],encoding="utf-8") if l.strip()]
r=eval("("+sys.argv[2]+")")
sys.exit(0 if r else 1)' "$1" "$2"
}

# start NAME [--behavior SPEC]: a provider; sets PORT
start() {
    local name=$1; shift
    "$PY" tests/fake_provider.py --port-file "$TMP/$name.port" --idle-exit 60 "$@" > /dev/null 2>&1 &
    PIDS="$PIDS $!"
    for _ in $(seq 1 200); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
    PORT=$(cat "$TMP/$name.port" 2>/dev/null)
    [ -n "$PORT" ] || { echo "could not start the fake provider"; echo "0 passed, 1 failed"; exit 1; }
}
requests() { curl -s "http://127.0.0.1:$1/stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }
body() { printf '{"model":"m","messages":[{"role":"user","content":"%s"}]}' "$1"; }

[ -x "$TOOL" ] || { echo "$TOOL not built"; echo "0 passed, 1 failed"; exit 1; }
export OPENAI_API_KEY=test-key

# ---- the result format, input order, dedup, errors
start fmt
URL=http://127.0.0.1:$PORT/v1/chat/completions
{
    body "one two three"; echo
    printf '{"custom_id":"req-2","method":"POST","url":"/v1/chat/completions","body":%s}\n' "$(body "second")"
    echo
    body "one two three"; echo
    printf '{"custom_id":7,"body":{"model":"m"}}\n'
    printf '{"body":%s,"custom_id":{"k":[1]}}\n' "$(body "last one")"
} > "$TMP/in.jsonl"
"$TOOL" batch "$TMP/in.jsonl" --cache "$TMP/c1.llmc" --endpoint "$URL" --concurrency 3 -o "$TMP/out.jsonl" 2> "$TMP/err"
check "a failed request makes the status 1" test $? -eq 1
check "five results, in input order, with their line numbers" pyl "$TMP/out.jsonl" \
    '[x["line"] for x in L] == [1, 2, 4, 5, 6]'
check "custom_id as given (any JSON value), null without one" pyl "$TMP/out.jsonl" \
    '[x["custom_id"] for x in L] == [None, "req-2", None, 7, {"k": [1]}]'
check "status, error and from_cache" pyl "$TMP/out.jsonl" \
    '[(x["status"], x["error"] is None, x["from_cache"]) for x in L] == [(200,True,False),(200,True,False),(200,True,False),(400,False,False),(200,True,False)]'
check "tokens of the answers" pyl "$TMP/out.jsonl" \
    'L[0]["tokens"] == {"prompt": 3, "completion": 4} and L[1]["tokens"]["prompt"] == 1'
check "the body is the answer's JSON" pyl "$TMP/out.jsonl" \
    'L[0]["body"]["choices"][0]["message"]["content"] == "Echo: one two three" and L[4]["body"]["choices"][0]["message"]["content"] == "Echo: last one"'
check "the error names the result and the provider's error body is kept" pyl "$TMP/out.jsonl" \
    '"LLMCACHE_EHTTP" in L[3]["error"] and "error" in L[3]["body"]'
check "identical requests are sent once" test "$(requests "$PORT")" -eq 4
check "a summary on stderr" grep -q "batch: 5 requests, 0 from the cache, 1 failed" "$TMP/err"
"$TOOL" batch "$TMP/in.jsonl" --cache "$TMP/c1.llmc" --endpoint "$URL" > "$TMP/out2.jsonl" 2> /dev/null
check "again: the answers come from the cache (stdout without -o)" pyl "$TMP/out2.jsonl" \
    '[x["from_cache"] for x in L] == [True, True, True, False, True] and L[0]["body"] == json.loads(open(sys.argv[1]).readline())["body"]'
check "again: only the failed one is sent" test "$(requests "$PORT")" -eq 5
printf '{"model":"m"}\n{"custom_id":"x"}\n' > "$TMP/bad.jsonl"
"$TOOL" batch "$TMP/bad.jsonl" --cache "$TMP/c1.llmc" --endpoint "$URL" > /dev/null 2> "$TMP/err"
check "a malformed line: status 2, its line and column named" \
    sh -c "test $? -eq 2 && grep -q 'line 2, column 18: \"custom_id\" without a \"body\"' '$TMP/err'"
"$TOOL" batch "$TMP/in.jsonl" --cache "$TMP/c1.llmc" > /dev/null 2>&1
check "no --endpoint: status 2" test $? -eq 2
"$TOOL" batch "$TMP/in.jsonl" --cache "$TMP/c1.llmc" --endpoint "$URL" --concurrency 0 > /dev/null 2>&1
check "--concurrency 0: status 2" test $? -eq 2

# ---- connections are kept alive and reused (llmcache_curl.pool)
start keep
URL=http://127.0.0.1:$PORT/v1/chat/completions
for i in 1 2 3 4 5 6; do body "keep $i"; echo; done > "$TMP/keep.jsonl"
"$TOOL" batch "$TMP/keep.jsonl" --cache "$TMP/keep.llmc" --endpoint "$URL" --concurrency 1 > /dev/null 2>&1
check "six requests one after the other over one connection" \
    test "$(curl -s "http://127.0.0.1:$PORT/stats" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["connections"])')" = "6 2"

# ---- retries: 429 with Retry-After (seconds, then an HTTP-date), 503 with backoff
for spec in "status=429,fail-times=1,retry-after=1" "status=429,fail-times=1,retry-after=1,retry-after-date" \
            "status=503,fail-times=2"; do
    start "r$RANDOM" --behavior "$spec"
    URL=http://127.0.0.1:$PORT/v1/chat/completions
    { body "a"; echo; body "b"; echo; body "c"; echo; } > "$TMP/r.jsonl"
    t0=$(date +%s%N)
    "$TOOL" batch "$TMP/r.jsonl" --cache "$TMP/r$PORT.llmc" --endpoint "$URL" --concurrency 3 -o "$TMP/r.out" 2> /dev/null
    rc=$?
    t1=$(date +%s%N)
    want=6; case $spec in *fail-times=2*) want=9;; esac
    check "$spec: every request answered" sh -c "test $rc -eq 0"
    check "$spec: all 200" pyl "$TMP/r.out" '[x["status"] for x in L] == [200, 200, 200]'
    check "$spec: each failure was retried ($want requests)" test "$(requests "$PORT")" -eq $want
    case $spec in *retry-after=1) check "$spec: waited the Retry-After second" test $(( (t1 - t0) / 1000000 )) -ge 990;; esac
done

# ---- resume after SIGKILL
start slow --behavior "delay=300"
URL=http://127.0.0.1:$PORT/v1/chat/completions
N=40
for i in $(seq 1 $N); do printf '{"custom_id":"r%d","body":%s}\n' "$i" "$(body "question $i")"; done > "$TMP/big.jsonl"
"$TOOL" batch "$TMP/big.jsonl" --cache "$TMP/k.llmc" --endpoint "$URL" --concurrency 2 -o "$TMP/k1.out" > /dev/null 2>&1 &
BATCH=$!
for _ in $(seq 1 600); do [ "$(requests "$PORT")" -ge 12 ] && break; sleep 0.05; done
kill -9 $BATCH 2> /dev/null
wait $BATCH 2> /dev/null
killed=$(requests "$PORT")
stored=$("$TOOL" ls "$TMP/k.llmc" --json | grep -c key)
check "killed half way ($killed requests sent, $stored answers stored)" \
    sh -c "test $stored -ge 10 && test $stored -lt $N && test $stored -ge $((killed - 2))"
check "the killed run wrote no partial results file" test ! -e "$TMP/k1.out"
"$TOOL" batch "$TMP/big.jsonl" --cache "$TMP/k.llmc" --endpoint "$URL" --concurrency 2 -o "$TMP/k2.out" 2> /dev/null
check "the rerun finishes" test $? -eq 0
check "the rerun called only the rest ($((N - stored)))" test "$(( $(requests "$PORT") - killed ))" -eq $((N - stored))
check "the rerun served the finished part from the cache" pyl "$TMP/k2.out" \
    "sum(x['from_cache'] for x in L) == $stored and [x['custom_id'] for x in L] == ['r%d' % i for i in range(1, $N + 1)]"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
