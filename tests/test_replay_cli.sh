#!/bin/sh
# tests/test_replay_cli.sh - the record-and-replay commands of the llmcache tool on
# cache files it builds in a temporary directory: export --sorted of call answers
# (a JSON body and an SSE stream) is stable, and a cache rebuilt from it in a fresh
# directory exports the same bytes (export -> import -> export); diff finds added,
# removed and changed answers; explain prints the key parts and, with --near, the
# closest stored request with a JSON diff; key --ignore agrees with the Python
# reference (tools/llmcache_key.py) on 200 documents with pointer lists.
# Run from the repository root. Last line: "N passed, N failed".

BIN=${LLMCACHE_BIN:-build/llmcache}
[ -x "$BIN" ] || { echo "build/llmcache missing (run make)"; echo "0 passed, 1 failed"; exit 1; }
L="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
ROOT=$(pwd)
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { d=$1; shift; if "$@"; then pass; else fail "$d"; fi; }

cc -std=c99 -Wall -Wextra -Werror -O1 -I"$ROOT" -o "$T/writer" "$ROOT/tests/cli_call_writer.c" -lpthread -lm ||
    { echo "cannot build tests/cli_call_writer.c"; echo "0 passed, 1 failed"; exit 1; }
cd "$T" || exit 1

# ---- a JSON answer and a stream, in one cache (through a plain export and import)
./writer json.cache json > /dev/null && ./writer stream.cache stream > /dev/null || fail "cli_call_writer"
"$L" export json.cache -o all.jsonl > /dev/null
"$L" export stream.cache | sed 's/"key":"[0-9a-f]*"/"key":"00000000000000000000000000000000000000000000000000000000000000ff"/' >> all.jsonl
"$L" import a.cache all.jsonl > /dev/null || fail "import of the plain export"
"$L" export --sorted a.cache -o a1.jsonl > /dev/null || fail "export --sorted"
"$L" export --sorted a.cache > a2.jsonl || fail "export --sorted to stdout"
check "export --sorted is stable" cmp -s a1.jsonl a2.jsonl
check "a JSON body is inline" grep -q '"envelope":{"status":200,"request":{"messages":\[{"content":"hi","role":"user"}\],"model":"m"},"body":{"id":"c1"' a1.jsonl
check "a stream is an array of events" grep -q '"events":\[{"at_ms":[0-9]*,"data":"data: {\\"choices\\"' a1.jsonl
check "two lines" test "$(wc -l < a1.jsonl)" -eq 2

# another machine: a fresh directory, the cassette only
mkdir fresh && cp a1.jsonl fresh/cassette.jsonl
(cd fresh && "$L" import rebuilt.cache cassette.jsonl > /dev/null && "$L" export --sorted rebuilt.cache -o again.jsonl > /dev/null) ||
    fail "rebuild in a fresh directory"
check "export -> import -> export is byte-identical" cmp -s a1.jsonl fresh/again.jsonl
# the rebuilt values are the recorded ones, byte for byte
"$L" export a.cache > v1.jsonl && "$L" export fresh/rebuilt.cache > v2.jsonl
check "the stored envelopes are identical" cmp -s v1.jsonl v2.jsonl

# ---- diff
"$L" diff a.cache fresh/cassette.jsonl > d0.out; rc=$?
check "diff of equal caches: status 0" test $rc -eq 0
check "diff of equal caches: 2 the same" grep -q '0 only in A (a.cache), 0 only in B (fresh/cassette.jsonl), 0 changed, 2 the same' d0.out
grep -v '"key":"0000' a1.jsonl | sed 's/hello/HELLO/' > b.jsonl
"$L" diff a.cache b.jsonl > d1.out; rc=$?
check "diff: status 1 when they differ" test $rc -eq 1
check "diff: a changed answer" grep -q '^changed  ' d1.out
check "diff: its request" grep -q '    request {"messages":\[{"content":"hi","role":"user"}\],"model":"m"}' d1.out
check "diff: a JSON diff of the body" grep -q '    + /choices/0/message/content "HELLO"' d1.out
check "diff: the stream only in A" grep -q '^only in A  00000000000000000000000000000000000000000000000000000000000000ff' d1.out
check "diff: the counts" grep -q '1 only in A (a.cache), 0 only in B (b.jsonl), 1 changed, 0 the same' d1.out

# ---- explain
printf '{"model":"m","messages":[{"role":"user","content":"hi"}]}' > hit.json
printf '{"model":"m","messages":[{"role":"user","content":"hi there"}],"user":"u7"}' > miss.json
"$L" explain --endpoint test hit.json a.cache > e0.out; rc=$?
check "explain: a hit, status 0" test $rc -eq 0
check "explain: present" grep -q 'cache      a.cache: present (a hit)' e0.out
check "explain: the canonical form" grep -q '^canonical  {"messages":\[{"content":"hi","role":"user"}\],"model":"m"}$' e0.out
check "explain: the key is key's" grep -q "^key        $("$L" key --endpoint test hit.json)\$" e0.out
"$L" explain --near --ignore /user --endpoint test miss.json a.cache > e1.out; rc=$?
check "explain: a miss, status 1" test $rc -eq 1
check "explain: ignored pointers" grep -q '^ignored    /user$' e1.out
check "explain: the canonical form without /user" grep -q '^canonical  {"messages":\[{"content":"hi there","role":"user"}\],"model":"m"}$' e1.out
check "explain --near: the stored request" grep -q '^near       1 stored request of this namespace, endpoint and schema' e1.out
check "explain --near: this request" grep -q '^    - /messages/0/content "hi there"$' e1.out
check "explain --near: the stored one" grep -q '^    + /messages/0/content "hi"$' e1.out
"$L" explain --near --endpoint other miss.json a.cache > e2.out
check "explain --near: another endpoint has none" grep -q '^near       0 stored requests' e2.out
"$L" explain --ignore user hit.json > /dev/null 2> e3.err; rc=$?
check "explain: a malformed pointer is an error" test $rc -eq 2

# ---- LLMCACHE_MODE, read by every command that opens a cache
LLMCACHE_MODE=replay "$L" diff a.cache fresh/cassette.jsonl > /dev/null; rc=$?
check "LLMCACHE_MODE=replay is accepted" test $rc -eq 0
LLMCACHE_MODE=replya "$L" stats a.cache > /dev/null 2> m.err; rc=$?
check "an unknown LLMCACHE_MODE fails with status 2" test $rc -eq 2
check "naming the modes" grep -q 'LLMCACHE_MODE=replya: not one of normal, record, replay, no-store, off' m.err

# ---- key --ignore: C and Python agree
cd "$ROOT" || exit 1
out=$(python3 - "$L" <<'PY'
import json, random, subprocess, sys
sys.path.insert(0, "tools")
from llmcache_key import key_hex
lines = open("tests/data/canon.txt", encoding="utf-8", newline="").read().split("\n")
docs = [lines[i] for i in range(0, len(lines) - 1, 2)]
rnd = random.Random(13)
def pointers(v, prefix=""):
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            p = prefix + "/" + k.replace("~", "~0").replace("/", "~1")
            out.append(p); out += pointers(x, p)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            p = prefix + "/" + str(i)
            out.append(p); out += pointers(x, p)
    return out
passed = failed = 0
for i, doc in enumerate(docs[:200]):
    try:
        ps = pointers(json.loads(doc))
    except Exception:
        ps = []
    ps = [p for p in ps if "\0" not in p]          # an argument cannot hold a NUL
    ign = rnd.sample(ps, min(len(ps), rnd.randint(1, 3))) + ["/nope", "/-"][: rnd.randint(0, 2)]
    args = [sys.argv[1], "key"]
    for p in ign: args += ["--ignore", p]
    r = subprocess.run(args, input=doc.encode("utf-8"), capture_output=True)
    got = r.stdout.decode().strip()
    try:
        want = key_hex(doc, ignore=ign)
    except ValueError:
        want = ""
    if got == want: passed += 1
    else:
        failed += 1
        print("doc %d %r: C %s, Python %s" % (i, ign, got, want), file=sys.stderr)
print(passed, failed)
PY
)
set -- $out
passed=$((passed + ${1:-0})); failed=$((failed + ${2:-1}))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
