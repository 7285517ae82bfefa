#!/usr/bin/env bash
# Self-test of tests/fake_provider.py: starts it on 127.0.0.1, exercises every
# endpoint and behaviour with curl, stops it. Last line: "N passed, N failed";
# exit status 1 if anything failed. Needs bash, curl, python3. Runs in ~3 s.
#
#     bash tests/test_fake_provider.sh

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
SERVER="$HERE/fake_provider.py"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fakeprov.XXXXXX")
PIDS=""
PASS=0
FAIL=0

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()  { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1${2:+: $2}"; }
check() { # check NAME COMMAND...   (pass if the command succeeds)
    local name=$1; shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

# jq-like assertion in Python: pyj FILE 'EXPR over d'
pyj() {
    "$PY" -c 'import json,sys
d=json.load(open(sys.argv[1],encoding="utf-8"))
sys.exit(0 if eval("("+sys.argv[2]+")") else 1)' "$1" "$2" 2>/dev/null
}

# sse_py FILE 'EXPR over ev (list of (event, data_string))' for SSE bodies
sse() {
    "$PY" -c 'import json,sys
ev=[]; name=None
for block in open(sys.argv[1],encoding="utf-8").read().split("\n\n"):
    if not block.strip(): continue
    name=None; data=[]
    for line in block.split("\n"):
        if line.startswith("event: "): name=line[7:]
        elif line.startswith("data: "): data.append(line[6:])
    ev.append((name,"\n".join(data)))
J=lambda s: json.loads(s)
sys.exit(0 if eval("("+sys.argv[2]+")") else 1)' "$1" "$2" 2>/dev/null
}

wait_file() { # wait_file PATH: up to 10 s
    local i
    for i in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done
    return 1
}

wait_gone() { # wait_gone PID TENTHS
    local i
    for i in $(seq 1 "$2"); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    return 1
}

start() { # start NAME ARGS... ; sets SPID and SPORT
    local name=$1; shift
    "$PY" "$SERVER" --port-file "$TMP/$name.port" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SPID=$!
    PIDS="$PIDS $SPID"
    SPORT=""
    if wait_file "$TMP/$name.port"; then SPORT=$(cat "$TMP/$name.port"); fi
}

# ---------------------------------------------------------------- start
start idle --idle-exit 1           # must go away by itself
IDLE_PID=$SPID
start term                         # for the SIGTERM test
TERM_PID=$SPID; TERM_PORT=$SPORT
start main --idle-exit 30
MAIN_PID=$SPID; PORT=$SPORT
if [ -z "$PORT" ]; then
    bad "server wrote its port file" "$(cat "$TMP/main.err")"
    echo "$PASS passed, $FAIL failed"; exit 1
fi
ok "server wrote its port file ($PORT)"
check "stdout says PORT <n>" grep -qx "PORT $PORT" "$TMP/main.out"
check "port file is a bare number" grep -qxE '[0-9]+' "$TMP/main.port"

BASE="http://127.0.0.1:$PORT"
CHAT="$BASE/v1/chat/completions"
MSGS="$BASE/v1/messages"
OAUTH=(-H "Authorization: Bearer test-key" -H "Content-Type: application/json")
AAUTH=(-H "x-api-key: test-key" -H "anthropic-version: 2023-06-01" -H "Content-Type: application/json")
B="$TMP/body"; H="$TMP/headers"

# http URL ARGS... -> prints status code; body in $B, headers in $H
http() {
    local url=$1; shift
    curl -sS --max-time 5 -o "$B" -D "$H" -w '%{http_code}' "$@" "$url" 2>"$TMP/curl.err"
}

CHAT_BODY='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"hello big world"}]}'

# ---------------------------------------------------------------- misc
s=$(http "$BASE/health"); check "GET /health 200" [ "$s" = 200 ]
s=$(http "$BASE/nope"); check "unknown path 404" [ "$s" = 404 ]
s=$(http "$CHAT" "${OAUTH[@]}"); check "GET on chat path 405" [ "$s" = 405 ]
s=$(http "$BASE/reset" -X POST); check "POST /reset 200" [ "$s" = 200 ]

# ---------------------------------------------------------------- OpenAI
s=$(http "$CHAT" -H "Content-Type: application/json" -d "$CHAT_BODY")
check "chat: no key -> 401" [ "$s" = 401 ]
check "chat: 401 body is an OpenAI error" pyj "$B" 'd["error"]["code"]=="invalid_api_key" and d["error"]["type"]=="invalid_request_error" and d["error"]["message"]'
s=$(http "$CHAT" -H "Authorization: Bearer wrong-key" -d "$CHAT_BODY")
check "chat: wrong key -> 401" [ "$s" = 401 ]
s=$(http "$CHAT" "${OAUTH[@]}" -d '{"model":"m"}')
check "chat: no messages -> 400" [ "$s" = 400 ]
check "chat: 400 body is an OpenAI error" pyj "$B" '"messages" in d["error"]["message"]'
s=$(http "$CHAT" "${OAUTH[@]}" -d '{"model":')
check "chat: broken JSON -> 400" [ "$s" = 400 ]

s=$(http "$CHAT" "${OAUTH[@]}" -d "$CHAT_BODY")
check "chat: 200" [ "$s" = 200 ]
check "chat: chat.completion with echo and usage" pyj "$B" '
d["object"]=="chat.completion" and d["id"].startswith("chatcmpl-") and d["model"]=="gpt-4o-mini"
and d["choices"][0]["message"]=={**d["choices"][0]["message"],"role":"assistant","content":"Echo: hello big world"}
and d["choices"][0]["finish_reason"]=="stop"
and d["usage"]["prompt_tokens"]==6 and d["usage"]["completion_tokens"]==4 and d["usage"]["total_tokens"]==10'
cp "$B" "$TMP/first"
http "$CHAT" "${OAUTH[@]}" -d "$CHAT_BODY" >/dev/null
check "chat: same request, same bytes" cmp -s "$B" "$TMP/first"

s=$(http "$CHAT" "${OAUTH[@]}" -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"one two three four five six seven"}]}')
check "chat stream: 200" [ "$s" = 200 ]
check "chat stream: text/event-stream, chunked" sh -c "grep -qi '^content-type: text/event-stream' '$H' && grep -qi '^transfer-encoding: chunked' '$H'"
check "chat stream: chunks rebuild the echo, ends with [DONE]" sse "$B" '
ev[-1][1]=="[DONE]" and J(ev[0][1])["choices"][0]["delta"]["role"]=="assistant"
and all(J(e[1])["object"]=="chat.completion.chunk" for e in ev[:-1])
and "".join(J(e[1])["choices"][0]["delta"].get("content") or "" for e in ev[:-1])=="Echo: one two three four five six seven"
and len(ev)>=5 and J(ev[-2][1])["choices"][0]["finish_reason"]=="stop"'

s=$(http "$CHAT" "${OAUTH[@]}" -d '{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a b"}]}')
check "chat stream include_usage: usage chunk before [DONE]" sse "$B" '
ev[-1][1]=="[DONE]" and J(ev[-2][1])["choices"]==[] and J(ev[-2][1])["usage"]["total_tokens"]==5'

TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}}}]'
s=$(http "$CHAT" "${OAUTH[@]}" -d '{"model":"m",'"$TOOLS"',"messages":[{"role":"user","content":"Paris"}]}')
check "chat tools: tool_calls with JSON arguments" pyj "$B" '
d["choices"][0]["finish_reason"]=="tool_calls" and d["choices"][0]["message"]["content"] is None
and d["choices"][0]["message"]["tool_calls"][0]["function"]["name"]=="get_weather"
and json.loads(d["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])=={"city":"Paris","days":1}'
s=$(http "$CHAT" "${OAUTH[@]}" -d '{"model":"m","stream":true,'"$TOOLS"',"messages":[{"role":"user","content":"Paris"}]}')
check "chat tools stream: arguments split over deltas" sse "$B" '
ev[-1][1]=="[DONE]" and J(ev[0][1])["choices"][0]["delta"]["tool_calls"][0]["function"]["name"]=="get_weather"
and sum(1 for e in ev[1:-2] if "tool_calls" in J(e[1])["choices"][0]["delta"])>=2
and json.loads("".join(J(e[1])["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for e in ev[:-2]))=={"city":"Paris","days":1}
and J(ev[-2][1])["choices"][0]["finish_reason"]=="tool_calls"'

# ---------------------------------------------------------------- Anthropic
MSG_BODY='{"model":"claude-sonnet-4-5","max_tokens":256,"system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"hi there you"}]}]}'
s=$(http "$MSGS" -H "anthropic-version: 2023-06-01" -d "$MSG_BODY")
check "messages: no x-api-key -> 401" [ "$s" = 401 ]
check "messages: 401 is an Anthropic error" pyj "$B" 'd["type"]=="error" and d["error"]["type"]=="authentication_error"'
s=$(http "$MSGS" -H "x-api-key: nope" -H "anthropic-version: 2023-06-01" -d "$MSG_BODY")
check "messages: wrong key -> 401" [ "$s" = 401 ]
s=$(http "$MSGS" -H "x-api-key: test-key" -d "$MSG_BODY")
check "messages: no anthropic-version -> 400" [ "$s" = 400 ]
check "messages: 400 is invalid_request_error" pyj "$B" 'd["error"]["type"]=="invalid_request_error"'

s=$(http "$MSGS" "${AAUTH[@]}" -d "$MSG_BODY")
check "messages: 200 message with usage" pyj "$B" '
d["type"]=="message" and d["id"].startswith("msg_") and d["role"]=="assistant"
and d["content"]==[{"type":"text","text":"Echo: hi there you"}] and d["stop_reason"]=="end_turn"
and d["stop_sequence"] is None and d["usage"]["input_tokens"]==5 and d["usage"]["output_tokens"]==4'

s=$(http "$MSGS" "${AAUTH[@]}" -d '{"model":"c","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"one two three four five"}]}')
check "messages stream: full event sequence" sse "$B" '
ev[0][0]=="message_start" and ev[-1][0]=="message_stop" and ev[-2][0]=="message_delta"
and all(J(e[1])["type"]==e[0] for e in ev)
and [e[0] for e in ev if e[0]!="content_block_delta"]==["message_start","content_block_start","ping","content_block_stop","message_delta","message_stop"]
and "".join(J(e[1])["delta"]["text"] for e in ev if e[0]=="content_block_delta")=="Echo: one two three four five"
and J(ev[-2][1])["usage"]["output_tokens"]==6 and J(ev[-2][1])["delta"]["stop_reason"]=="end_turn"'

s=$(http "$MSGS" "${AAUTH[@]}" -d '{"model":"c","max_tokens":2048,"stream":true,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"think"}]}')
check "messages stream thinking: thinking_delta before text_delta" sse "$B" '
[J(e[1])["delta"]["type"] for e in ev if e[0]=="content_block_delta"][0]=="thinking_delta"
and "signature_delta" in [J(e[1])["delta"]["type"] for e in ev if e[0]=="content_block_delta"]
and [J(e[1])["delta"]["type"] for e in ev if e[0]=="content_block_delta"][-1]=="text_delta"
and ev[-1][0]=="message_stop"'

# ---------------------------------------------------------------- behaviours
s=$(http "$CHAT" "${OAUTH[@]}" -H "X-Fake-Behavior: status=429" -d "$CHAT_BODY")
check "status=429 -> 429" [ "$s" = 429 ]
check "status=429: Retry-After: 1" grep -qi '^retry-after: 1' "$H"
check "status=429: OpenAI rate_limit_exceeded" pyj "$B" 'd["error"]["code"]=="rate_limit_exceeded"'
s=$(http "$MSGS" "${AAUTH[@]}" -H "X-Fake-Behavior: status=429" -d "$MSG_BODY")
check "messages status=429: rate_limit_error" sh -c "[ '$s' = 429 ] && grep -q rate_limit_error '$B'"
s=$(http "$CHAT" "${OAUTH[@]}" -H "X-Fake-Behavior: status=500" -d "$CHAT_BODY")
check "status=500 -> 500 server_error" sh -c "[ '$s' = 500 ] && grep -q server_error '$B'"
s=$(http "$CHAT" "${OAUTH[@]}" -H "X-Fake-Behavior: bogus, wat=1, status=x" -d "$CHAT_BODY")
check "unknown behaviours ignored" [ "$s" = 200 ]

t=$(curl -sS --max-time 5 -o /dev/null -w '%{time_total}' "${OAUTH[@]}" -H "X-Fake-Behavior: delay=300" -d "$CHAT_BODY" "$CHAT")
check "delay=300 takes >= 0.3 s ($t)" "$PY" -c "import sys; sys.exit(0 if float('$t')>=0.29 else 1)"
t=$(curl -sS --max-time 5 -o /dev/null -w '%{time_total}' "${OAUTH[@]}" -H "X-Fake-Behavior: chunk-delay=100" \
    -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"a b c d e f"}]}' "$CHAT")
check "chunk-delay=100 over 5 events takes >= 0.4 s ($t)" "$PY" -c "import sys; sys.exit(0 if float('$t')>=0.39 else 1)"

curl -sS --max-time 5 -o "$B" "${OAUTH[@]}" -H "X-Fake-Behavior: cut=2" \
    -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"a b c d e f g h i"}]}' "$CHAT" 2>"$TMP/curl.err"
rc=$?
check "cut=2 stream: curl error (rc=$rc)" [ "$rc" -ne 0 ]
check "cut=2 stream: exactly 2 events, no [DONE]" sse "$B" 'len(ev)==2 and all(e[1]!="[DONE]" for e in ev)'
curl -sS --max-time 5 -o "$B" "${AAUTH[@]}" -H "X-Fake-Behavior: cut=3" \
    -d '{"model":"c","stream":true,"messages":[{"role":"user","content":"a b c d e f g h i"}]}' "$MSGS" 2>"$TMP/curl.err"
rc=$?
check "cut=3 messages stream: curl error, no message_stop" sh -c "[ $rc -ne 0 ] && ! grep -q message_stop '$B'"
curl -sS --max-time 5 -o "$B" "${OAUTH[@]}" -H "X-Fake-Behavior: cut=10" -d "$CHAT_BODY" "$CHAT" 2>"$TMP/curl.err"
rc=$?
check "cut=10 non-stream: curl error (rc=$rc), 10 bytes" sh -c "[ $rc -ne 0 ] && [ \$(wc -c <'$B') -eq 10 ]"

s=$(http "$CHAT" "${OAUTH[@]}" -H "X-Fake-Behavior: garbage" -d "$CHAT_BODY")
check "garbage: 200 with a non-JSON body" sh -c "[ '$s' = 200 ] && ! '$PY' -c 'import json,sys; json.load(open(sys.argv[1]))' '$B' 2>/dev/null"

# ---------------------------------------------------------------- bodies, keep-alive
s=$(http "$CHAT" "${OAUTH[@]}" -H "Transfer-Encoding: chunked" --data-binary "$CHAT_BODY")
check "chunked request body" sh -c "[ '$s' = 200 ] && grep -q 'Echo: hello big world' '$B'"
"$PY" -c 'import json; print(json.dumps({"model":"m","messages":[{"role":"user","content":"w "*1500000}]}))' >"$TMP/big.json"
s=$(http "$CHAT" "${OAUTH[@]}" --data-binary @"$TMP/big.json")
check "3 MB request body" pyj "$B" 'd["usage"]["prompt_tokens"]==1500000'
s=$(http "$CHAT" "${OAUTH[@]}" -H "Transfer-Encoding: chunked" --data-binary @"$TMP/big.json")
check "3 MB chunked request body" pyj "$B" 'd["usage"]["prompt_tokens"]==1500000'
out=$(curl -sS --max-time 5 -w '%{http_code}|%{num_connects}\n' -o /dev/null -o /dev/null "${OAUTH[@]}" -d "$CHAT_BODY" "$CHAT" "$CHAT" 2>&1)
check "keep-alive: 2 requests, 1 connection" [ "$(echo $out)" = "200|1 200|0" ]

# ---------------------------------------------------------------- stats
s=$(http "$BASE/stats")
check "/stats counts every API request" pyj "$B" '
d["by_path"]=={"/v1/chat/completions":23,"/v1/messages":8} and d["requests"]==31'
http "$BASE/reset" -X POST >/dev/null
http "$MSGS" "${AAUTH[@]}" -d "$MSG_BODY" >/dev/null
http "$BASE/stats" >/dev/null
check "/reset zeroes, then counts again" pyj "$B" 'd["connections"]==2 and d.pop("connections") and d=={"requests":1,"by_path":{"/v1/chat/completions":0,"/v1/messages":1},"holding":0,"streams_done":0}'
http "$BASE/last" >/dev/null
check "/last shows the last API request" pyj "$B" 'd["path"]=="/v1/messages" and d["headers"]["x-api-key"]=="test-key" and d["json"]["max_tokens"]==256'

# ---------------------------------------------------------------- stopping
if [ -n "$TERM_PORT" ]; then
    kill -TERM "$TERM_PID"
    wait "$TERM_PID"; rc=$?
    check "SIGTERM: clean exit (rc=$rc)" [ "$rc" = 0 ]
else
    bad "second server started"
fi
s=$(http "$BASE/shutdown" -X POST)
check "POST /shutdown answers 200" [ "$s" = 200 ]
if wait_gone "$MAIN_PID" 30; then wait "$MAIN_PID"; rc=$?; check "POST /shutdown: exit (rc=$rc)" [ "$rc" = 0 ]
else bad "POST /shutdown: server still running after 3 s"; fi
if wait_gone "$IDLE_PID" 30; then ok "--idle-exit 1: exited by itself"
else bad "--idle-exit 1: still running"; fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
