#!/bin/sh
# tests/test_cli.sh - the llmcache command-line tool on real cache files it builds
# in a temporary directory (removed at exit). Run from the repository root:
#     sh tests/test_cli.sh
# It uses build/llmcache (LLMCACHE_BIN overrides), building it with the Makefile's
# command when missing, and python3 for the expected keys and for damaging a file.
# Last line: "N passed, N failed"; exit status 1 when anything failed.

BIN=${LLMCACHE_BIN:-build/llmcache}
if [ ! -x "$BIN" ]; then
    mkdir -p build
    cc -std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Werror -O2 -I. \
       -o build/llmcache tools/*.c -lpthread -lm || { echo "0 passed, 1 failed"; exit 1; }
    BIN=build/llmcache
fi
L="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
ROOT=$(pwd)
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
cd "$T" || exit 1

. "$ROOT/tests/cli_harness.sh"
same() { cmp -s "$1" "$2"; }
sum() { cksum < "$1"; }
key() { printf '%064d' "$1"; }    # a well-formed key for entry number N
py() { python3 -c "$1"; }

# ---- help, version, usage errors ----------------------------------------------------
run 0 "--help" "$L" --help
check "--help lists the exit statuses" has "exit status" out
run 0 "--version" "$L" --version
check "--version prints the version" has "llmcache [0-9]" out
for c in canon key stats ls get put rm purge verify repair compact export import; do
    run 0 "$c --help" "$L" "$c" --help
    check "$c --help shows its usage" has "usage: llmcache $c" out
    check "$c --help lists exit status 0" has "^  0  success" out
    check "$c --help lists exit status 2" has "^  2  usage error; or a failure: ." out
    check "README's exit status table has $c" grep -q "^| \`$c\` |" "$ROOT/README.md"
    run 0 "help $c" "$L" help "$c"
done
for c in get rm verify repair; do
    "$L" "$c" --help > out
    check "$c --help lists exit status 1" has "^  1  [a-z]" out
done
"$L" repair --help > out
check "repair --help lists exit status 3" has "^  3  refused.*another process has FILE open" out
check "repair --help explains --force" has "^  --force" out
check "README's exit status table has status 3 for repair" grep -q "^| \`repair\` |.*| refused, nothing written: another process has FILE open |$" "$ROOT/README.md"
run 2 "no command" "$L"
run 2 "unknown command" "$L" frobnicate
run 2 "unknown option" "$L" ls c.log --bogus
run 2 "missing argument" "$L" get c.log
run 2 "too many arguments" "$L" stats a b
run 2 "malformed key" "$L" get c.log 1234
run 2 "malformed --ttl" sh -c "echo x | '$L' put c.log $(key 1) --ttl 5parsecs"
run 2 "purge without a mode" "$L" purge c.log
check "usage errors leave no file behind" test ! -e c.log

# ---- canon, key ---------------------------------------------------------------------
REQ='{ "temperature": 0, "model": "gpt-4o",
  "messages": [ {"role": "user", "content": "hi"} ] }'
CANON='{"messages":[{"content":"hi","role":"user"}],"model":"gpt-4o","temperature":0}'
SCHEMA='{ "type": "object", "required": ["a"] }'
SCHEMA_CANON='{"required":["a"],"type":"object"}'
EP=https://api.openai.com/v1/chat/completions
printf '%s' "$REQ" > req.json
printf '%s' "$SCHEMA" > schema.json
run 0 "canon FILE" "$L" canon req.json
check "canon prints the RFC 8785 form" test "$(cat out)" = "$CANON"
run 0 "canon from stdin" sh -c "'$L' canon < req.json"
check "canon stdin = canon FILE" test "$(cat out)" = "$CANON"
printf '{"a":1,\n "b":tru}' > bad.json
run 2 "canon refuses malformed JSON" "$L" canon bad.json
check "canon names the line of the error" has "line 2" err
printf '{"a":1,"a":2}' > dup.json
run 2 "canon refuses duplicate names" "$L" canon dup.json

# invalid JSON: the reason, then line, column (bytes, from 1) and byte offset (from 0)
# json_err REASON LINE COLUMN BYTE FORMAT [ARG]: canon of printf FORMAT [ARG] says so
json_err() {
    if [ $# -ge 6 ]; then printf "$5" "$6"; else printf "$5"; fi > j.json
    run 2 "canon refuses ($1)" "$L" canon j.json
    check "canon says: $1 at line $2, column $3 (byte $4)" \
        has "^llmcache canon: j.json: invalid JSON: $1.* at line $2, column $3 (byte $4)\$" err
}
json_err "empty input" 1 1 0 ''
json_err "empty input" 2 3 4 ' \n  '
json_err "byte-order mark" 1 1 0 '\357\273\277{}'
json_err "duplicate member name" 2 2 9 '{"a":1,\n "a":2}'
json_err "lone surrogate" 1 3 2 '["\\ud800"]'
json_err "number out of range" 1 2 1 '[1e400]'
json_err "nesting deeper than the limit" 1 257 256 '%s' "$(py "print('[' * 300, end='')")"
json_err "invalid UTF-8" 1 4 3 '["a\377"]'
json_err "trailing data after the JSON value" 2 1 3 '{}\n{}'
json_err "unexpected end of input" 1 9 8 '{"a":tru'
json_err "unexpected character" 2 5 12 '{"a":1,\n "b"}'
json_err "unescaped control character in a string" 1 3 2 '["\t"]'
json_err "invalid escape in a string" 1 4 3 '["\\x"]'
json_err "malformed number" 1 4 3 '[1.]'
run 2 "key refuses a body with a lone surrogate" sh -c "printf '{\"a\":\"\\\\udc00\"}' | '$L' key"
check "key gives the reason and place" has "stdin: invalid JSON: lone surrogate.* at line 1, column 7 (byte 6)" err

want=$(py "import hashlib; print(hashlib.sha256(b'llmcache/key/v1\0' + b'\0' + b'\0' + bytes(32) + b'$CANON').hexdigest())")
run 0 "key FILE" "$L" key req.json
check "key matches the normative derivation" test "$(cat out)" = "$want"
want=$(py "import hashlib; sh = hashlib.sha256(b'$SCHEMA_CANON').digest(); print(hashlib.sha256(b'llmcache/key/v1\0' + b'team-a\0' + b'$EP\0' + sh + b'$CANON').hexdigest())")
run 0 "key --ns --endpoint --schema" sh -c "'$L' key --ns team-a --endpoint $EP --schema schema.json < req.json"
check "key with ns, endpoint and schema matches" test "$(cat out)" = "$want"
KEY_REQ=$(cat out)
printf '{"messages":[{"content":"hi","role":"user"}],"temperature":0,"model":"gpt-4o"}' > req2.json
run 0 "key of a reordered request" "$L" key --ns=team-a --endpoint=$EP --schema=schema.json req2.json
check "member order does not change the key" test "$(cat out)" = "$KEY_REQ"
run 2 "key refuses a malformed schema" "$L" key --schema bad.json req.json

# ---- put, get, ls, stats, rm --------------------------------------------------------
run 2 "ls of a missing file" "$L" ls c.log
check "ls does not create a missing file" test ! -e c.log
printf 'bin\000ary\377value' > v1
printf '{"answer":42,"list":[1,2,3]}' > v2
printf '{\n  "pretty": true\n}\n' > v3
: > v4
run 0 "put binary" sh -c "'$L' put c.log $(key 1) < v1"
run 0 "put JSON with --ttl 1h" sh -c "'$L' put c.log $(key 2) --ttl 1h < v2"
run 0 "put pretty JSON --raw" sh -c "'$L' put --raw c.log $(key 3) < v3"
run 2 "put of an empty stdin" sh -c "'$L' put c.log $(key 4) < v4"
check "put says --empty stores an empty value" has "stdin is empty.*--empty" err
run 1 "an empty stdin stores nothing" "$L" get c.log $(key 4)
run 0 "put --empty" sh -c "'$L' put c.log $(key 4) --empty < v4"
run 0 "put the request's response" sh -c "'$L' put c.log $KEY_REQ --ttl=2d < v2"
for i in 1 2 3 4; do
    run 0 "get $i" sh -c "'$L' get c.log $(key $i) > got$i"
    check "get $i returns the exact bytes" same got$i v$i
done
# a JSON text and one newline (LF or CRLF): the newline is not stored (--raw keeps it); other input is kept whole
# put_is N INPUT WANT: printf INPUT | put under key N stores printf WANT
put_is() {
    printf "$2" > put.in
    printf "$3" > put.want
    "$L" put c.log "$(key $1)" < put.in && "$L" get c.log "$(key $1)" > put.got
    check "put of '$2' stores '$3'" same put.got put.want
}
put_is 10 '{"a":1}\n' '{"a":1}'
put_is 11 '[1,2]\n\n' '[1,2]\n'
put_is 12 'text\n' 'text\n'
put_is 13 '{"a":1}' '{"a":1}'
put_is 14 '{"a":1}\r\n' '{"a":1}'
put_is 15 '\n' '\n'
put_is 16 '{"a":1,"a":2}\n' '{"a":1,"a":2}\n'
run 0 "put --raw of JSON and a newline" sh -c "printf '{\"a\":1}\\n' | '$L' put --raw c.log $(key 20)"
run 0 "get it" sh -c "'$L' get c.log $(key 20) > pj7.got"
check "put --raw keeps the newline" test "$(od -An -c pj7.got | tr -d ' ')" = '{"a":1}\n'
"$L" rm c.log $(key 10) $(key 11) $(key 12) $(key 13) $(key 14) $(key 15) $(key 16) $(key 20) > /dev/null
run 2 "put of an empty stdin into a new file" sh -c "'$L' put new.log $(key 1) < /dev/null"
check "an empty put creates no file" test ! -e new.log
run 0 "get -v" sh -c "'$L' get -v c.log $(key 2) > got2v"
check "get -v keeps stdout the value" same got2v v2
check "get -v prints metadata on stderr" has "expires" err
run 1 "get of an absent key" "$L" get c.log $(key 99)
run 0 "ls" "$L" ls c.log
check "ls shows a key" has "$(key 3)" out
check "ls shows the total" has "5 entries" out
check "ls shows a TTL" has "in 2d " out
run 0 "ls --json" "$L" ls --json c.log
check "ls --json prints one line per entry" test "$(wc -l < out)" -eq 5
check "ls --json has the size" has "\"key\":\"$(key 1)\",\"size\":13," out
run 0 "stats" "$L" stats c.log
check "stats counts the entries" has "^entries  *5 " out
check "stats counts the TTLs" has "2 with a TTL" out
run 0 "stats --json" "$L" stats --json c.log
check "stats --json is one line of JSON with the figures" py "
import json, os
lines = open('out').read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
assert d['entries'] == 5 and d['with_ttl'] == 2 and d['file_bytes'] > 0 and d['value_bytes'] == sum(os.path.getsize(v) for v in ['v1', 'v2', 'v2', 'v3', 'v4']), d
assert d['records_skipped'] == 0 and d['oldest_ms'] <= d['newest_ms'], d"
run 0 "rm" "$L" rm c.log $(key 4)
check "rm says what it removed" has "^removed: $(key 4)$" out
check "rm counts it" has "^1 entry removed, 0 keys were not there$" out
run 1 "get after rm" "$L" get c.log $(key 4)
run 1 "rm of an absent key" "$L" rm c.log $(key 4) $(key 3)
check "rm names the key that was not there" has "^not there: $(key 4)$" out
check "rm names the key it removed" has "^removed: $(key 3)$" out
check "rm counts both" has "^1 entry removed, 1 key was not there$" out
run 1 "the other key of that rm went" "$L" get c.log $(key 3)
run 0 "put again" sh -c "'$L' put --raw c.log $(key 3) < v3"

# ---- purge ----------------------------------------------------------------------------
run 0 "put with --ttl 1ms" sh -c "echo short | '$L' put c.log $(key 5) --ttl 1ms"
sleep 0.1 2>/dev/null || sleep 1
run 0 "purge --expired" "$L" purge c.log --expired
check "purge --expired counts it" has "purged 1 expired entry" out
run 0 "ls after purge" "$L" ls --json c.log
check "the expired entry is gone" test "$(grep -c "$(key 5)" out)" -eq 0
check "the live entries stay" test "$(wc -l < out)" -eq 4
SH=$(py "print('ab' * 32)")
for i in 6 7; do
    printf '{"key":"%s","value":{"n":%s},"created_ms":1700000000000,"expires_ms":0,"meta":{"schema_hash":"%s","status":200,"flags":0,"latency_ms":850,"prompt_tokens":12,"completion_tokens":3}}\n' \
        "$(key $i)" "$i" "$SH"
done > schema_entries.jsonl
run 0 "import entries with a schema hash" "$L" import c.log schema_entries.jsonl
run 0 "get -v of an imported entry" "$L" get -v c.log $(key 6)
check "get -v shows the schema hash" has "$SH" err
check "get -v shows the tokens" has "12 prompt, 3 completion" err
run 0 "purge --schema" "$L" purge c.log --schema "$SH"
check "purge --schema counts them" has "purged 2 entries" out
run 1 "a purged entry is gone" "$L" get c.log $(key 7)
run 0 "other entries survive purge --schema" "$L" get c.log $(key 1)

# ---- entries stored by llmcache_call: get writes the body, --raw the envelope -------------
if cc -std=c99 -Wall -Wextra -Werror -O1 -I"$ROOT" -o cli_call_writer "$ROOT/tests/cli_call_writer.c" -lpthread -lm; then
    EK=$(./cli_call_writer env.log json) || fail "cli_call_writer json"
    SK=$(./cli_call_writer envs.log stream) || fail "cli_call_writer stream"
    printf '{"id":"c1","choices":[{"message":{"content":"hello"}}],"usage":{"prompt_tokens":12,"completion_tokens":3}}' > env.want
    printf 'data: {"choices":[{"delta":{"content":"he"}}]}\n\ndata: {"choices":[{"delta":{"content":"llo"}}]}\n\ndata: [DONE]\n\n' > envs.want
    run 0 "get of a call entry" sh -c "'$L' get env.log $EK > env.got"
    check "get writes the response body, not the envelope" same env.got env.want
    run 0 "get --raw of a call entry" sh -c "'$L' get --raw env.log $EK > env.raw"
    check "get --raw writes the stored envelope" test "$(head -c 4 env.raw)" = "llce"
    check "the envelope holds the body" test "$(tail -c "$(wc -c < env.want)" env.raw)" = "$(cat env.want)"
    run 0 "get -v of a call entry" sh -c "'$L' get -v env.log $EK > env.gotv"
    check "get -v keeps stdout the body" same env.gotv env.want
    check "get -v names the envelope flag" has "^flags  *1 (call envelope)$" err
    check "get -v shows status, sizes and not a stream" has "^response  *HTTP 200, body $(wc -c < env.want | tr -d ' ') bytes, not a stream$" err
    check "get -v shows the tokens" has "12 prompt, 3 completion" err
    run 0 "get of a streamed call entry" sh -c "'$L' get -v envs.log $SK > envs.got"
    check "get writes the stream's bytes" same envs.got envs.want
    check "get -v says it is a stream of 3 events" has "^response  *HTTP 200, body .* a stream of 3 events over [0-9]* ms$" err
    check "get -v names the stream flag" has "^flags  *3 (call envelope, stream)$" err
    py "
d = bytearray(open('env.log', 'rb').read()); i = d.find(b'llce'); d[i + 4] = 0; open('bad.raw', 'wb').write(bytes(d[i:i + 24]))"
    run 0 "put an undecodable envelope" sh -c "'$L' put --raw env.log $(key 30) < bad.raw"
    run 0 "import it with the envelope flag" sh -c "'$L' export env.log | sed 's/\"flags\":0/\"flags\":1/' | '$L' import env.log"
    run 2 "get of an undecodable envelope" "$L" get env.log $(key 30)
    check "get says the envelope cannot be decoded and offers --raw" has "cannot be decoded.*--raw" err
    run 0 "get --raw of an undecodable envelope" sh -c "'$L' get --raw env.log $(key 30) > bad.got"
    check "get --raw writes it anyway" same bad.got bad.raw
else
    fail "cannot build tests/cli_call_writer.c"
fi

# ---- export, import ------------------------------------------------------------------
cp schema_entries.jsonl meta.jsonl
run 0 "import (metadata again)" "$L" import c.log meta.jsonl
run 0 "export" sh -c "'$L' export c.log > e1.jsonl"
check "export writes every entry" test "$(wc -l < e1.jsonl)" -eq 6
check "export writes one-line JSON as JSON" has "\"value\":{\"answer\":42,\"list\":\[1,2,3\]}" e1.jsonl
check "export writes other values as base64" has "\"value_b64\":\"YmluAGFyef92YWx1ZQ==\"" e1.jsonl
check "export lines are sorted by key" sh -c "cut -c1-75 e1.jsonl | sort -c"
run 0 "import into a fresh cache" "$L" import fresh.log e1.jsonl
check "import reports the count" has "imported 6 entries" out
run 0 "export -o" "$L" export fresh.log -o e2.jsonl
check "export -o reports" has "exported 6 entries" out
check "export -> import -> export gives identical lines" same e1.jsonl e2.jsonl
for i in 1 2 3; do
    run 0 "get $i from the imported cache" sh -c "'$L' get fresh.log $(key $i) > imp$i"
    check "imported value $i is byte for byte the original" same imp$i v$i
done
run 0 "import from stdin" sh -c "'$L' import fresh2.log < e1.jsonl"
run 0 "export of the stdin import" sh -c "'$L' export fresh2.log > e3.jsonl"
check "import from stdin round-trips too" same e1.jsonl e3.jsonl
printf '%s\n' "$(head -n 1 e1.jsonl)" '{"key":"zz"}' > broken.jsonl
before=$(sum fresh.log)
run 2 "import of a malformed line" "$L" import fresh.log broken.jsonl
check "import names the bad line" has "line 2" err
check "a failed import changes nothing" test "$(sum fresh.log)" = "$before"
run 2 "import of a malformed line into a new file" "$L" import new.log broken.jsonl
check "a failed import creates nothing" test ! -e new.log
run 2 "export -o into a missing directory" "$L" export c.log -o nodir/out.jsonl
check "no partial output in a missing directory" test ! -e nodir
printf 'not a cache\n' > text.txt
run 2 "export of a non-cache" "$L" export text.txt -o x.jsonl
check "a failed export leaves no file" sh -c '! ls x.jsonl* >/dev/null 2>&1'

# ---- verify, repair, compact -----------------------------------------------------------
i=1
while [ $i -le 20 ]; do
    printf 'record-%02d-payload-payload-payload' $i | "$L" put d.log "$(key $i)" || fail "put record $i"
    i=$((i + 1))
done
run 0 "verify of a clean file" "$L" verify d.log
check "verify says clean" has "clean" out
# the tail: junk after the last record is damage and tail; zeros are tail only
cp d.log tail.log
py "open('tail.log', 'ab').write(bytes(range(1, 101)))"
run 1 "verify of random bytes after the last record" "$L" verify tail.log
check "verify counts them as the tail" has "^tail:  *100 B after the last intact record" out
run 1 "verify --json of random bytes after the last record" "$L" verify --json tail.log
check "verify --json: the junk is damage and tail" py "
import json; d = json.loads(open('out').read())
assert d['clean'] is False and d['damaged_regions'] == 1 and d['damaged_bytes'] == 100 and d['tail_bytes'] == 100, d
assert d['damage'][0]['length'] == 100 and d['damage'][0]['offset'] == d['file_bytes'] - 100, d"
cp d.log tail.log
py "open('tail.log', 'ab').write(bytes(4096))"
run 0 "verify of zeros after the last record" "$L" verify --json tail.log
check "verify --json: zeros are tail, not damage" py "
import json; d = json.loads(open('out').read())
assert d['clean'] is True and d['damaged_regions'] == 0 and d['damaged_bytes'] == 0 and d['tail_bytes'] == 4096, d
assert d['damage'] == [] and d['records'] == 20, d"
off=$(py "print(open('d.log','rb').read().find(b'record-07-'))")
py "
f = open('d.log', 'r+b'); f.seek($off + 4); b = f.read(1); f.seek($off + 4); f.write(bytes([b[0] ^ 0xff])); f.close()"
before=$(sum d.log)
run 1 "verify of a damaged file" "$L" verify d.log
check "verify reports one damaged region" test "$(grep -c '^damaged: ' out)" -eq 1
region=$(sed -n 's/^damaged: bytes \([0-9]*\)-\([0-9]*\) .*/\1 \2/p' out)
check "the region covers the flipped byte ($((off + 4)) in $region)" \
    sh -c "set -- $region; [ \$1 -le $((off + 4)) ] && [ $((off + 4)) -le \$2 ]"
check "verify does not modify the file" test "$(sum d.log)" = "$before"
run 0 "repair" "$L" repair d.log
check "repair says it repaired" has "repaired" out
run 0 "verify after repair" "$L" verify d.log
run 0 "ls after repair" "$L" ls --json d.log
check "repair keeps the 19 intact records" test "$(wc -l < out)" -eq 19
intact=0
i=1
while [ $i -le 20 ]; do
    if [ $i -ne 7 ] && [ "$("$L" get d.log "$(key $i)")" = "$(printf 'record-%02d-payload-payload-payload' $i)" ]; then
        intact=$((intact + 1))
    fi
    i=$((i + 1))
done
check "every intact value reads back after repair ($intact of 19)" test $intact -eq 19
run 1 "the damaged record is gone" "$L" get d.log $(key 7)

i=1
while [ $i -le 20 ]; do
    printf 'overwrite-%02d' $i | "$L" put d.log "$(key $i)" || fail "overwrite $i"
    i=$((i + 1))
done
size_before=$(wc -c < d.log)
run 0 "stats before compact" "$L" stats d.log
check "stats sees dead bytes" sh -c "! grep -q '^dead bytes  *0 B' out"
run 0 "compact" "$L" compact d.log
check "compact reports the entries" has "20 entries" out
check "compact shrinks the file" test "$(wc -c < d.log)" -lt "$size_before"
run 0 "get after compact" "$L" get d.log $(key 20)
check "values survive compact" test "$(cat out)" = "overwrite-20"
run 0 "verify after compact" "$L" verify d.log

# ---- repair beside a live writer; a clean file with a tail of zeros -----------------------
# mtime aside, the same file: its bytes and its inode (a repair writes a new file)
ident() { printf '%s %s' "$(ls -i "$1" | cut -d' ' -f1)" "$(sum "$1")"; }
wait_acks() {   # wait_acks N: until the writer acknowledged N writes (bounded: 60 s)
    w=0
    while [ "$(wc -l < live.acks)" -lt "$1" ] && [ $w -lt 600 ] && kill -0 "$wpid" 2>/dev/null; do
        sleep 0.1; w=$((w + 1))
    done
    [ "$(wc -l < live.acks)" -ge "$1" ]
}
if cc -std=c99 -Wall -Wextra -Werror -O1 -I"$ROOT" -o cli_live_writer "$ROOT/tests/cli_live_writer.c" -lpthread -lm &&
   mkfifo live.cmd; then
    : > live.acks
    ./cli_live_writer live.log > live.acks 2> live.err < live.cmd &
    wpid=$!
    exec 3> live.cmd
    for i in 1 2 3 4 5; do echo $i >&3; done
    check "the writer acknowledged 5 writes" wait_acks 5
    before=$(ident live.log)
    run 3 "repair beside a live writer" "$L" repair live.log
    check "repair names the cause" has "refused, nothing written: another process has the file open" err
    check "the refused repair left the file as it was" test "$(ident live.log)" = "$before"
    run 3 "repair --force beside a live writer" "$L" repair --force live.log
    for i in 6 7 8 9 10; do echo $i >&3; done
    check "the writer went on: 10 writes acknowledged" wait_acks 10
    kill -9 $wpid 2>/dev/null   # waiting for input, between writes
    wait $wpid 2>/dev/null
    exec 3>&-
    before=$(ident live.log)
    run 0 "verify after the writer was killed" "$L" verify --json live.log
    check "verify: clean, a tail of zeros (space the writer reserved)" py "
import json; d = json.loads(open('out').read())
assert d['clean'] is True and d['damaged_regions'] == 0 and d['damaged_bytes'] == 0 and d['tail_bytes'] > 0, d
assert d['records'] == 10 and d['header_damaged'] is False, d"
    run 0 "repair of a clean file with a tail of zeros" "$L" repair live.log
    check "repair says: nothing to repair" has "clean, nothing to repair" out
    check "a clean file is left as it is (bytes and inode)" test "$(ident live.log)" = "$before"
    lost=0
    for i in $(cat live.acks); do
        [ "$("$L" get live.log "$(key $i)")" = "live-$i" ] || lost=$((lost + 1))
    done
    check "every acknowledged write is there ($lost lost)" test $lost -eq 0
else
    fail "cannot build tests/cli_live_writer.c or make a FIFO"
fi

# ---- progress bars on a terminal (script(1) of util-linux gives the tool one) ---------------
if script -qec true /dev/null > /dev/null 2>&1; then
    py "
import json
with open('big.jsonl', 'w') as f:
    for i in range(2500): f.write(json.dumps({'key': '%064x' % i, 'value': 'x' * 4000}) + '\\n')"
    run 0 "import of a 10 MB cache" "$L" import big.log big.jsonl
    for c in verify compact repair; do
        script -qec "'$L' $c big.log" /dev/null > tty.out 2>&1
        check "$c draws a progress bar that fills up on a terminal" \
            sh -c "tr '\\r' '\\n' < tty.out | grep -q '^${c%y}[a-z]* \\[#*\\.\\.*\\]  *[1-9][0-9]%' &&
                   tr '\\r' '\\n' < tty.out | grep -q '^${c%y}[a-z]* \\[#*\\] 100%'"
    done
    run 0 "verify of the big file, stderr not a terminal" "$L" verify big.log
    check "no bar when stderr is not a terminal" test ! -s err
    rm -f big.log big.log-shm big.jsonl
else
    echo "  skipped: progress bars (needs script from util-linux)"
fi

# ---- a damaged file header: reported, refused, rebuilt with --force -----------------------
i=1
while [ $i -le 12 ]; do
    printf 'hdr-%02d' $i | "$L" put h.log "$(key $i)" || fail "put hdr $i"
    i=$((i + 1))
done
for field in 0:magic 8:version 12:header-size 16:file-id 60:checksum; do
    at=${field%%:*}; name=${field#*:}
    cp h.log hf.log
    py "
f = open('hf.log', 'r+b'); f.seek($at); b = f.read(1); f.seek($at); f.write(bytes([b[0] ^ 0x10])); f.close()"
    before=$(sum hf.log)
    run 1 "verify: a bit flipped in the $name" "$L" verify hf.log
    check "verify reports the header ($name)" has "^damaged: bytes 0-63 (64 B): file header damaged" out
    check "verify points at repair --force ($name)" has "DAMAGED: the file header is damaged.*repair --force" out
    check "verify counts the records ($name)" has "^records: 12 intact" out
    run 1 "verify --json: a bit flipped in the $name" "$L" verify --json hf.log
    check "verify --json: header_damaged ($name)" py "
import json; d = json.loads(open('out').read())
assert d['header_damaged'] is True and d['damage'][0] == {'offset': 0, 'length': 64, 'reason': 'file header damaged'}, d"
    run 2 "ls refuses a damaged header ($name)" "$L" ls hf.log
    run 1 "repair refuses a damaged header without --force ($name)" "$L" repair hf.log
    check "repair names the cause ($name)" has "refused, nothing written: the file header is damaged.*--force" err
    check "repair without --force leaves the file ($name)" test "$(sum hf.log)" = "$before"
    run 0 "repair --force: a bit flipped in the $name" "$L" repair --force hf.log
    check "repair --force says it wrote a new header ($name)" has "repaired: a new file header" out
    run 0 "verify after repair --force ($name)" "$L" verify hf.log
    run 0 "ls after repair --force ($name)" "$L" ls --json hf.log
    check "every record is back ($name)" test "$(wc -l < out)" -eq 12
    run 0 "get after repair --force ($name)" "$L" get hf.log "$(key 7)"
    check "values read back ($name)" test "$(cat out)" = "hdr-07"
    rm -f hf.log hf.log-shm
done
# files of other formats: never modified, with or without --force, nothing made beside them
printf '{"model": "gpt", "messages": [{"role": "user", "content": "a JSON file, not a cache"}]}\n' > other.json
head -c 4096 /dev/zero > zeros.bin
py "import random; random.seed(7); open('random.bin', 'wb').write(bytes([0x78] + [random.getrandbits(8) for _ in range(4095)]))"
for f in other.json zeros.bin random.bin; do
    before=$(sum $f)
    run 2 "verify of $f" "$L" verify $f
    run 2 "repair --force of $f" "$L" repair --force $f
    check "repair --force says $f is not an llmcache file" has "not an llmcache" err
    check "$f is unchanged" test "$(sum $f)" = "$before"
    check "nothing was made beside $f" test ! -e "$f-shm"
done

# ---- a file that is not a cache is refused and left alone ----------------------------------
before=$(sum text.txt)
for c in stats ls verify repair compact export; do
    run 2 "$c refuses a text file" "$L" "$c" text.txt
done
run 2 "get refuses a text file" "$L" get text.txt $(key 1)
run 2 "rm refuses a text file" "$L" rm text.txt $(key 1)
run 2 "purge refuses a text file" "$L" purge text.txt --expired
run 2 "put refuses a text file" sh -c "echo x | '$L' put text.txt $(key 1)"
run 2 "import refuses a text file" "$L" import text.txt e1.jsonl
check "the refusal names the problem" has "not an llmcache" err
check "the text file is unchanged" test "$(sum text.txt)" = "$before"

# ---- put: a value over the limit is refused before anything is created -----------------
if cc -std=c99 -Wall -Wextra -Werror -O1 -DLLMCACHE_MAX_VALUE=4096 -I"$ROOT" -o small_llmcache "$ROOT"/tools/*.c -lpthread -lm; then
    run 2 "put over LLMCACHE_MAX_VALUE" sh -c "head -c 5000 /dev/zero | ./small_llmcache put big.log $(key 1)"
    check "put names the limit" has "more than 4096 bytes.*LLMCACHE_MAX_VALUE" err
    check "a refused put creates no file" test ! -e big.log
    run 0 "put of exactly LLMCACHE_MAX_VALUE" sh -c "head -c 4096 /dev/zero | ./small_llmcache put big.log $(key 1)"
else
    fail "cannot build the tool with a small LLMCACHE_MAX_VALUE"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
