#!/bin/sh
# tests/test_cli_transform.sh - the command-line tool on caches whose values are
# transformed at rest: train-dict, --zstd-dict, --key-file with ls, get, export and
# import; files mixing plain and transformed records; an unknown transform and a
# wrong key reported cleanly (exit status, a message naming the cause, no garbage on
# stdout). Needs build/llmcache built with libzstd and libsodium (tests/need.sh).
# Run from the repository root: sh tests/test_cli_transform.sh
BIN=${LLMCACHE_BIN:-build/llmcache}
[ -x "$BIN" ] || { echo "$BIN missing (make build/llmcache)"; echo "0 passed, 1 failed"; exit 1; }
L="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
ROOT=$(pwd)
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
cd "$T" || exit 1

. "$ROOT/tests/cli_harness.sh"

# 300 chat-completion-like entries as an export (JSON values), deterministic
python3 - > in.jsonl <<'PY'
import json, random
r = random.Random(7)
words = ("the cache key value request response model token data file time memory process system result "
         "because however first then also only other new some these into one use make way how what there").split()
for i in range(300):
    text = " ".join(r.choice(words) for _ in range(r.randint(40, 300)))
    v = {"id": "chatcmpl-%016x" % r.getrandbits(64), "object": "chat.completion", "created": 1733390000 + i,
         "model": "gpt-4o-mini-2024-07-18",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 12, "completion_tokens": len(text.split()), "total_tokens": 0}}
    meta = {"schema_hash": "0" * 64, "status": 200, "flags": 0, "latency_ms": 900, "prompt_tokens": 12,
            "completion_tokens": 40}
    print(json.dumps({"key": "%064x" % (i + 1), "value": v, "created_ms": 1733390000000, "expires_ms": 0,
                      "meta": meta}, separators=(",", ":")))
PY
K1=$(printf '%064x' 1)
K2=$(printf '%064x' 2)

run 0 "import plain" "$L" import plain.log in.jsonl
run 0 "train-dict" "$L" train-dict plain.log -o d.dict
check "dictionary written" test -s d.dict
has "trained a" out || fail "train-dict says what it did"
run 2 "train-dict needs -o" "$L" train-dict plain.log

# zstd with the dictionary: smaller, round trip through export
run 0 "import --zstd-dict" "$L" import z.log in.jsonl --zstd-dict d.dict
sz_plain=$(wc -c < plain.log); sz_z=$(wc -c < z.log)
"$L" stats plain.log --json > sp; "$L" stats z.log --json --zstd-dict d.dict > sz
lp=$(python3 -c 'import json,sys; print(json.load(open("sp"))["live_bytes"])')
lz=$(python3 -c 'import json,sys; print(json.load(open("sz"))["live_bytes"])')
check "zstd+dict stores fewer bytes ($lz of $lp)" test "$lz" -lt $((lp / 2))
run 0 "export plain" "$L" export plain.log -o plain.out
run 0 "export --zstd-dict" "$L" export z.log -o z.out --zstd-dict d.dict
check "the same export" cmp -s plain.out z.out
run 0 "get --zstd-dict" "$L" get z.log "$K1" --zstd-dict d.dict
"$L" get plain.log "$K1" > want1
check "the same value" cmp -s out want1

# without the transform: reported, never garbage
run 2 "get without the dictionary" "$L" get z.log "$K1"
has "transform" err || fail "get names the transform"
has "zstd-dict" err || fail "get says which options read it"
check "nothing on stdout" test ! -s out
run 2 "export without the dictionary" "$L" export z.log -o z2.out
has "transform" err || fail "export names the transform"
check "no partial export" test ! -e z2.out
run 1 "ls lists, and says what it cannot read" "$L" ls z.log
has "UNREADABLE" err || fail "ls reports unreadable values"
check "ls lists every entry" test "$(grep -c '^0000' out)" -eq 300
run 2 "zstd without the dictionary fails its decode" "$L" get z.log "$K1" --zstd
has "decode" err || fail "a failed decode is named"

# mixed: plain records added to the zstd file read back with the option
printf '{"plain":true}' | "$L" put z.log "$(printf '%064x' 999)" >/dev/null 2>&1
run 0 "plain record in a zstd file" "$L" get z.log "$(printf '%064x' 999)" --zstd-dict d.dict
has '"plain":true' out || fail "the plain value"
run 0 "plain record read without options" "$L" get z.log "$(printf '%064x' 999)"
run 0 "zstd record in the mixed file" "$L" get z.log "$K2" --zstd-dict d.dict

# encryption
python3 -c 'print("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")' > k1
python3 -c 'print("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100")' > k2
run 0 "import --key-file" "$L" import e.log in.jsonl --key-file k1
check "no plain text in the file" sh -c '! grep -q chat.completion e.log'
run 0 "get --key-file" "$L" get e.log "$K1" --key-file k1
check "the same value, decrypted" cmp -s out want1
run 0 "export --key-file" "$L" export e.log -o e.out --key-file k1
check "the same export, decrypted" cmp -s plain.out e.out
run 2 "another key is refused" "$L" get e.log "$K1" --key-file k2
has "decode" err || fail "a failed authentication is named"
check "nothing on stdout" test ! -s out
run 2 "a zstd reader on an encrypted file" "$L" get e.log "$K1" --zstd-dict d.dict
has "another transform" err || fail "an unknown transform id is named"
echo short > k3
run 2 "a bad key file" "$L" get e.log "$K1" --key-file k3
has "not a key" err || fail "the key file is named"
run 2 "one transform at a time" "$L" get e.log "$K1" --key-file k1 --zstd
run 0 "verify: records intact whatever their transform" "$L" verify e.log

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
