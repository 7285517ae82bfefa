#!/usr/bin/env python3
"""fake_provider.py - a local stand-in for LLM provider HTTP APIs (tests only).

Speaks just enough of the OpenAI chat-completions API and of the Anthropic
messages API for llmcache's transport tests and examples. Python 3 standard
library only. Binds 127.0.0.1 and never opens any other connection.

Usage:
    python3 tests/fake_provider.py [--port N] [--port-file PATH]
                                   [--idle-exit S] [--api-key KEY] [--verbose]
                                   [--behavior SPEC]

    --port N         port to bind on 127.0.0.1; 0 (default) picks a free one
    --port-file P    once listening, write the port number to P (written to a
                     temp file in the same directory, then renamed: a reader
                     never sees a partial file)
    --idle-exit S    exit after S seconds (default 120) without any request;
                     requests still in progress count as activity. 0 disables.
    --api-key KEY    the accepted key for both APIs (default: test-key)
    --verbose        log each request to stderr
    --behavior SPEC  X-Fake-Behavior for requests that send none (for clients
                     that cannot set headers, such as `llmcache batch`)

    Once listening it prints "PORT <n>" on stdout (flushed). Nothing else is
    ever written to stdout. It exits with status 0 on SIGTERM, SIGINT,
    POST /shutdown or idle timeout; with status 2 if it cannot bind.

Endpoints (query strings are ignored):
    POST /v1/chat/completions  OpenAI-compatible chat completions.
        Needs "Authorization: Bearer <key>" (else 401, code invalid_api_key)
        and a JSON object body with "model" and "messages" (else 400).
        Reply: a chat.completion object, pretty-printed like OpenAI does:
            id       "chatcmpl-" + first 24 hex digits of sha256(raw body)
            created  always 1700000000 (so equal requests give equal bytes)
            choices[0].message.content = "Echo: " + text of the last user message
            usage    prompt_tokens = whitespace-separated words in all message
                     texts (string contents and "text" parts, plus any system
                     message), min 1; completion_tokens = words in the reply,
                     min 1; total_tokens = the sum.
        "stream": true -> text/event-stream, HTTP/1.1 chunked, one chunk per
            event: a role delta, content deltas of 3 words each, a final chunk
            with finish_reason, a usage chunk (choices: []) if
            "stream_options": {"include_usage": true}, then "data: [DONE]".
        "tools": [...] (non-empty, and "tool_choice" is not "none") -> the
            answer is a call of the first tool (or of the one named by
            tool_choice), finish_reason "tool_calls", content null, arguments a
            JSON string built from the tool's parameter schema (string fields
            get the last user text, numbers 1, booleans true, ...). Streamed as
            tool_calls deltas whose arguments are split across chunks.
    POST /v1/messages  Anthropic messages API.
        Needs "x-api-key: <key>" (else 401 authentication_error) and an
        "anthropic-version" header (else 400 invalid_request_error), and a
        JSON object body with "model" and "messages" ("max_tokens" is NOT
        required, unlike the real API). Reply: a "message" object, id "msg_" +
        hash, content [{"type":"text","text":"Echo: ..."}], stop_reason
        "end_turn", usage {input_tokens, output_tokens} counted as above.
        "thinking": {...} (present and not {"type":"disabled"}) -> a thinking
            block (with a signature) comes before the text block; its words
            count in output_tokens.
        "tools": [...] -> a tool_use block instead of the text block,
            stop_reason "tool_use".
        "stream": true -> the Anthropic SSE sequence: message_start,
            content_block_start, ping, content_block_delta (thinking_delta +
            signature_delta for a thinking block, text_delta of 3 words each,
            input_json_delta for tool_use), content_block_stop, message_delta
            (stop_reason, usage.output_tokens), message_stop.
    GET  /stats     {"requests": total, "connections": TCP connections accepted
                    (all paths), "by_path": {"/v1/chat/completions": n,
                    "/v1/messages": m}, "holding": h, "streams_done": d} - every
                    request to those two paths counts, including rejected ones
                    and ones cut short; holding: streams waiting for /release;
                    streams_done: streams sent to their end.
    POST /reset     zero the counters, connections included (and forget /last,
                    the fail-times counts and /release); {"ok": true}
    POST /release   let every stream held by "hold" go on (and those to come)
    GET  /last      the last request to an API path: {"method","path",
                    "headers" (lower-cased names), "body" (text), "json"
                    (parsed body or null)}; {} if none yet
    GET  /health    {"ok": true}
    POST /shutdown  answer {"ok": true}, then exit
    anything else   404 (unknown path) or 405 (wrong method), JSON error.

Request bodies: Content-Length or "Transfer-Encoding: chunked" (as libcurl
sends for unknown-size uploads); "Expect: 100-continue" is honoured. Bodies up
to 64 MiB, larger gets 413.

Behaviour controls: request header X-Fake-Behavior, a comma-separated list of
items, any combination, unknown items ignored. Applied on the two API paths:
    delay=MS        sleep MS milliseconds before doing anything else
                    (capped at 60 s, as are all sleeps)
    status=N        (N >= 400) after the auth/body checks pass, answer N with
                    a provider-style error JSON: OpenAI {"error":{"message",
                    "type","param","code"}}, Anthropic {"type":"error",
                    "error":{"type","message"}}. 429 also gets "Retry-After: 1"
    retry-after=S   value of Retry-After on a status=429 answer (default 1)
    retry-after-date  send that Retry-After as an HTTP-date (now + S seconds,
                    IMF-fixdate) instead of delay-seconds
    fail-times=N    apply status= only to the first N requests with each
                    distinct body (then answer normally): a provider that
                    recovers, for retry tests
    garbage         200, Content-Type application/json, body not JSON (also
                    for stream requests)
    chunk-delay=MS  sleep MS milliseconds before each SSE event after the first
    hold            stream: after the first SSE event, wait for POST /release
                    (at most 60 s) before sending the rest
    cut=K           stream: send the first K SSE events (the [DONE] line counts
                    as an event), then close the connection without the final
                    zero-length chunk. Non-stream: send a Content-Length of the
                    full body but only its first min(K, len-1) bytes, then close.
Precedence: delay, then auth/header/body errors (401/400), then status=,
then garbage, then cut. Requests over HTTP/1.0 get streams without chunked
encoding, ended by closing the connection.
"""

import argparse
import email.utils
import hashlib
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHAT_PATH = "/v1/chat/completions"
MESSAGES_PATH = "/v1/messages"
API_PATHS = (CHAT_PATH, MESSAGES_PATH)
CREATED = 1700000000
MAX_BODY = 64 * 1024 * 1024
MAX_SLEEP = 60.0
WORDS_PER_DELTA = 3
ARG_PIECE = 8  # characters of tool arguments per streamed delta


class BodyError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------- helpers


def sha_hex(data):
    return hashlib.sha256(data).hexdigest()


def word_count(text):
    return len(text.split())


def content_text(content):
    """Text of a message content: a string, or a list of parts/blocks."""
    if isinstance(content, str):
        return content
    out = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    out.append(part["text"])
                elif part.get("type") == "tool_result":
                    out.append(content_text(part.get("content")))
    return " ".join(t for t in out if t)


def last_user_text(messages):
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return content_text(m.get("content"))
    return ""


def prompt_words(messages, system=None):
    n = 0
    if system is not None:
        n += word_count(content_text(system))
    for m in messages:
        if isinstance(m, dict):
            n += word_count(content_text(m.get("content")))
    return max(1, n)


def split_words(text, per=WORDS_PER_DELTA):
    """Split text into pieces of `per` words that concatenate back to text."""
    tokens = re.findall(r"\S+\s*|\s+", text)  # words with trailing space
    pieces, cur, n = [], "", 0
    for t in tokens:
        cur += t
        if t.strip():
            n += 1
        if n == per:
            pieces.append(cur)
            cur, n = "", 0
    if cur:
        if pieces and not cur.strip():
            pieces[-1] += cur
        else:
            pieces.append(cur)
    return pieces or [text]


def split_chars(text, per=ARG_PIECE):
    return [text[i:i + per] for i in range(0, len(text), per)] or [""]


def example_value(schema, text, depth=0):
    if not isinstance(schema, dict) or depth > 8:
        return text
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return schema["enum"][0]
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "string")
    if t == "object" or (t is None and "properties" in schema):
        props = schema.get("properties")
        if not isinstance(props, dict) or not props:
            return {"input": text}
        return {k: example_value(v, text, depth + 1) for k, v in props.items()}
    if t == "array":
        return [example_value(schema.get("items"), text, depth + 1)]
    if t == "integer":
        return 1
    if t == "number":
        return 1.5
    if t == "boolean":
        return True
    if t == "null":
        return None
    return text


def tool_args(schema, text):
    value = example_value(schema if isinstance(schema, dict) else {}, text)
    if not isinstance(value, dict):
        value = {"input": value}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- errors

OPENAI_ERRORS = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory",
          "Country, region, or territory not supported."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    413: ("invalid_request_error", None, "Request too large."),
    429: ("requests", "rate_limit_exceeded",
          "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None,
          "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None,
          "The engine is currently overloaded, please try again later."),
}

ANTHROPIC_ERRORS = {
    400: ("invalid_request_error", "Bad request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error",
          "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def openai_error(status, message=None, etype=None, code=None, param=None):
    d = OPENAI_ERRORS.get(status) or (
        ("server_error", None, "Server error.") if status >= 500
        else ("invalid_request_error", None, "Request failed."))
    return {"error": {"message": message or d[2], "type": etype or d[0],
                      "param": param, "code": code if code is not None else d[1]}}


def anthropic_error(status, message=None, etype=None):
    d = ANTHROPIC_ERRORS.get(status) or (
        ("api_error", "Internal server error") if status >= 500
        else ("invalid_request_error", "Request failed."))
    return {"type": "error", "error": {"type": etype or d[0], "message": message or d[1]}}


# ---------------------------------------------------------------- state


class State:
    def __init__(self, api_key, idle_exit, verbose):
        self.api_key = api_key
        self.idle_exit = idle_exit
        self.verbose = verbose
        self.lock = threading.Lock()
        self.by_path = {p: 0 for p in API_PATHS}
        self.last = {}
        self.active = 0
        self.last_activity = time.monotonic()
        self.stop = threading.Event()
        self.failed = {}  # body hash -> failures answered (fail-times)
        self.connections = 0
        self.default_behavior = None
        self.release = threading.Event()
        self.holding = 0
        self.streams_done = 0

    def touch(self):
        with self.lock:
            self.last_activity = time.monotonic()

    def begin(self):
        with self.lock:
            self.active += 1
            self.last_activity = time.monotonic()

    def end(self):
        with self.lock:
            self.active -= 1
            self.last_activity = time.monotonic()

    def idle_for(self):
        with self.lock:
            if self.active > 0:
                return 0.0
            return time.monotonic() - self.last_activity


def parse_behavior(header):
    b = {}
    if not header:
        return b
    for item in header.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        key = key.strip().lower()
        val = val.strip()
        if key in ("status", "delay", "chunk-delay", "cut", "retry-after", "fail-times"):
            try:
                n = int(val)
            except ValueError:
                continue
            if n < 0:
                continue
            b[key] = n
        elif key in ("garbage", "retry-after-date", "hold") and not sep:
            b[key] = True
    return b


def sleep_ms(ms):
    if ms and ms > 0:
        time.sleep(min(ms / 1000.0, MAX_SLEEP))


# ---------------------------------------------------------------- handler


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-provider/1.0"
    timeout = 30  # per-connection socket timeout: idle keep-alives go away

    def version_string(self):
        return self.server_version

    # -------------------------------------------------- plumbing

    @property
    def state(self):
        return self.server.state

    def setup(self):
        super().setup()
        with self.state.lock:
            self.state.connections += 1

    def log_message(self, fmt, *args):
        if self.state.verbose:
            sys.stderr.write("fake_provider: %s - %s\n" % (self.address_string(), fmt % args))

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            self.close_connection = True

    def path_only(self):
        return self.path.split("?", 1)[0]

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise BodyError(400, "truncated chunked body")
                size_s = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_s, 16)
                except ValueError:
                    raise BodyError(400, "bad chunk size")
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                total += size
                if total > MAX_BODY:
                    raise BodyError(413, "request body too large")
                data = self.rfile.read(size)
                if len(data) != size:
                    raise BodyError(400, "truncated chunked body")
                parts.append(data)
                self.rfile.readline(3)  # CRLF after chunk data
            return b"".join(parts)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        try:
            n = int(cl)
        except ValueError:
            raise BodyError(400, "bad Content-Length")
        if n < 0:
            raise BodyError(400, "bad Content-Length")
        if n > MAX_BODY:
            raise BodyError(413, "request body too large")
        data = self.rfile.read(n)
        if len(data) != n:
            raise BodyError(400, "truncated body")
        return data

    def send_bytes(self, status, body, ctype="application/json", extra=None,
                   cut=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if cut is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if cut is not None:
            n = max(0, min(cut, len(body) - 1))
            self.wfile.write(body[:n])
            self.wfile.flush()
            self.abort_connection()
        else:
            self.wfile.write(body)
            self.wfile.flush()

    def send_json(self, status, obj, extra=None, pretty=False, cut=None):
        if pretty:
            text = json.dumps(obj, ensure_ascii=False, indent=2) + "\n"
        else:
            text = dumps(obj)
        self.send_bytes(status, text.encode("utf-8"), "application/json",
                        extra, cut)

    def abort_connection(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -------------------------------------------------- SSE

    def start_stream(self, extra=None):
        self.chunked = self.request_version != "HTTP/1.0"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.flush()

    def send_events(self, events, behavior):
        """events: list of str, each one complete SSE event ("...\\n\\n")."""
        cut = behavior.get("cut")
        delay = behavior.get("chunk-delay", 0)
        for i, ev in enumerate(events):
            if cut is not None and i >= cut:
                self.abort_connection()
                return
            if i > 0:
                sleep_ms(delay)
            if i == 1 and behavior.get("hold"):
                with self.state.lock:
                    self.state.holding += 1
                self.state.release.wait(MAX_SLEEP)
                with self.state.lock:
                    self.state.holding -= 1
            data = ev.encode("utf-8")
            if self.chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)
            self.wfile.flush()
            self.state.touch()
        if cut is not None:
            self.abort_connection()
            return
        if self.chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        with self.state.lock:
            self.state.streams_done += 1

    # -------------------------------------------------- dispatch

    def do_GET(self):
        p = self.path_only()
        if p == "/stats":
            with self.state.lock:
                by = dict(self.state.by_path)
            with self.state.lock:
                conns = self.state.connections
                holding, done = self.state.holding, self.state.streams_done
            self.send_json(200, {"requests": sum(by.values()), "by_path": by, "connections": conns,
                                 "holding": holding, "streams_done": done})
        elif p == "/last":
            with self.state.lock:
                last = dict(self.state.last)
            self.send_json(200, last)
        elif p == "/health":
            self.send_json(200, {"ok": True})
        elif p in API_PATHS or p in ("/reset", "/shutdown"):
            self.drain_and(lambda: self.plain_error(405, "method not allowed"))
        else:
            self.plain_error(404, "unknown path " + p)

    def do_HEAD(self):
        self.do_GET()

    def plain_error(self, status, message):
        self.send_json(status, {"error": {"message": message,
                                          "type": "invalid_request_error"}})

    def drain_and(self, fn):
        try:
            self.read_body()
        except BodyError:
            self.close_connection = True
        fn()

    def do_POST(self):
        p = self.path_only()
        if p == "/reset":
            self.drain_and(lambda: None)
            with self.state.lock:
                for k in self.state.by_path:
                    self.state.by_path[k] = 0
                self.state.last = {}
                self.state.failed.clear()
                self.state.connections = 0
                self.state.streams_done = 0
            self.state.release.clear()
            self.send_json(200, {"ok": True})
        elif p == "/release":
            self.drain_and(lambda: None)
            self.state.release.set()
            self.send_json(200, {"ok": True})
        elif p == "/shutdown":
            self.drain_and(lambda: None)
            self.close_connection = True
            self.send_json(200, {"ok": True}, extra={"Connection": "close"})
            self.state.stop.set()
        elif p in API_PATHS:
            self.state.begin()
            try:
                self.api(p)
            finally:
                self.state.end()
        elif p in ("/stats", "/last", "/health"):
            self.drain_and(lambda: self.plain_error(405, "method not allowed"))
        else:
            self.drain_and(lambda: self.plain_error(404, "unknown path " + p))

    def do_PUT(self):
        self.drain_and(lambda: self.plain_error(405, "method not allowed"))

    do_DELETE = do_PUT
    do_PATCH = do_PUT

    # -------------------------------------------------- API

    def api(self, p):
        with self.state.lock:
            self.state.by_path[p] += 1
        openai = p == CHAT_PATH
        err = openai_error if openai else anthropic_error
        rid_hdr = "x-request-id" if openai else "request-id"
        behavior = parse_behavior(self.headers.get("X-Fake-Behavior",
                                                   self.state.default_behavior))
        try:
            body = self.read_body()
        except BodyError as e:
            self.close_connection = True
            self.send_json(e.status, err(e.status, e.message))
            return
        text = body.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if body else None
        except ValueError:
            parsed = None
        with self.state.lock:
            self.state.last = {
                "method": self.command, "path": p,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": text, "json": parsed,
            }
        h = sha_hex(body)
        extra = {rid_hdr: "req_" + h[:24]}

        sleep_ms(behavior.get("delay", 0))

        # authentication and mandatory headers
        if openai:
            auth = self.headers.get("Authorization") or ""
            scheme, _, key = auth.partition(" ")
            if not auth:
                self.send_json(401, openai_error(
                    401, "You didn't provide an API key. You need to provide your API key "
                    "in an Authorization header using Bearer auth (i.e. Authorization: "
                    "Bearer YOUR_KEY)."), extra, pretty=True)
                return
            if scheme.lower() != "bearer" or key.strip() != self.state.api_key:
                shown = key.strip()
                shown = (shown[:3] + "*" * 4 + shown[-4:]) if len(shown) > 8 else "****"
                self.send_json(401, openai_error(
                    401, "Incorrect API key provided: %s. You can find your API key at "
                    "https://platform.openai.com/account/api-keys." % shown), extra, pretty=True)
                return
        else:
            key = self.headers.get("x-api-key")
            if key is None:
                self.send_json(401, anthropic_error(401, "x-api-key header is required"), extra)
                return
            if key != self.state.api_key:
                self.send_json(401, anthropic_error(401, "invalid x-api-key"), extra)
                return
            if not self.headers.get("anthropic-version"):
                self.send_json(400, anthropic_error(
                    400, "anthropic-version: header is required"), extra)
                return

        # body validation
        if not isinstance(parsed, dict):
            if openai:
                self.send_json(400, openai_error(
                    400, "We could not parse the JSON body of your request. (HINT: This "
                    "likely means you aren't using your HTTP library correctly. The OpenAI "
                    "API expects a JSON payload, but what was sent was not valid JSON."),
                    extra, pretty=True)
            else:
                self.send_json(400, anthropic_error(
                    400, "invalid request body: not a JSON object"), extra)
            return
        for field in ("model", "messages"):
            if field not in parsed:
                if openai:
                    self.send_json(400, openai_error(
                        400, "Missing required parameter: '%s'." % field,
                        code="missing_required_parameter", param=field), extra, pretty=True)
                else:
                    self.send_json(400, anthropic_error(400, "%s: Field required" % field), extra)
                return
        if not isinstance(parsed["messages"], list):
            if openai:
                self.send_json(400, openai_error(
                    400, "Invalid type for 'messages': expected an array.",
                    code="invalid_type", param="messages"), extra, pretty=True)
            else:
                self.send_json(400, anthropic_error(
                    400, "messages: Input should be a valid list"), extra)
            return

        # behaviour overrides
        status = behavior.get("status")
        if status is not None and "fail-times" in behavior:
            with self.state.lock:
                n = self.state.failed.get(h, 0)
                if n < behavior["fail-times"]:
                    self.state.failed[h] = n + 1
                else:
                    status = None
        if status is not None and 400 <= status <= 599:
            if status == 429:
                after = behavior.get("retry-after", 1)
                extra["Retry-After"] = (email.utils.formatdate(time.time() + after, usegmt=True)
                                        if behavior.get("retry-after-date") else str(after))
            self.send_json(status, err(status), extra, pretty=openai)
            return
        if behavior.get("garbage"):
            self.send_bytes(200, b"<html><body>502 Bad Gateway? no: this is not JSON {\"id\": \n",
                            "application/json", extra)
            return

        if openai:
            self.openai_reply(parsed, h, extra, behavior)
        else:
            self.anthropic_reply(parsed, h, extra, behavior)

    # -------------------------------------------------- OpenAI

    def openai_reply(self, req, h, extra, behavior):
        model = req.get("model")
        messages = req["messages"]
        user = last_user_text(messages)
        ptok = prompt_words(messages)
        cid = "chatcmpl-" + h[:24]
        tool = self.pick_openai_tool(req)
        stream = req.get("stream") is True
        so = req.get("stream_options")
        include_usage = stream and isinstance(so, dict) and so.get("include_usage") is True

        if tool is not None:
            name, schema = tool
            args = tool_args(schema, user)
            call_id = "call_" + sha_hex(("call" + h).encode())[:24]
            ctok = max(1, len(args) // 4)
            finish = "tool_calls"
        else:
            reply = "Echo: " + user
            ctok = max(1, word_count(reply))
            finish = "stop"
        usage = {"prompt_tokens": ptok, "completion_tokens": ctok,
                 "total_tokens": ptok + ctok,
                 "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                               "accepted_prediction_tokens": 0,
                                               "rejected_prediction_tokens": 0}}

        if not stream:
            if tool is not None:
                message = {"role": "assistant", "content": None,
                           "tool_calls": [{"id": call_id, "type": "function",
                                           "function": {"name": name, "arguments": args}}],
                           "refusal": None, "annotations": []}
            else:
                message = {"role": "assistant", "content": reply,
                           "refusal": None, "annotations": []}
            obj = {"id": cid, "object": "chat.completion", "created": CREATED,
                   "model": model,
                   "choices": [{"index": 0, "message": message, "logprobs": None,
                                "finish_reason": finish}],
                   "usage": usage, "service_tier": "default",
                   "system_fingerprint": "fp_fake0001"}
            self.send_json(200, obj, extra, pretty=True, cut=behavior.get("cut"))
            return

        def chunk(delta, fin=None):
            c = {"id": cid, "object": "chat.completion.chunk", "created": CREATED,
                 "model": model, "service_tier": "default",
                 "system_fingerprint": "fp_fake0001",
                 "choices": [{"index": 0, "delta": delta, "logprobs": None,
                              "finish_reason": fin}]}
            if include_usage:
                c["usage"] = None
            return "data: " + dumps(c) + "\n\n"

        events = []
        if tool is not None:
            events.append(chunk({"role": "assistant", "content": None, "tool_calls": [
                {"index": 0, "id": call_id, "type": "function",
                 "function": {"name": name, "arguments": ""}}], "refusal": None}))
            for piece in split_chars(args):
                events.append(chunk({"tool_calls": [
                    {"index": 0, "function": {"arguments": piece}}]}))
        else:
            events.append(chunk({"role": "assistant", "content": "", "refusal": None}))
            for piece in split_words(reply):
                events.append(chunk({"content": piece}))
        events.append(chunk({}, finish))
        if include_usage:
            u = {"id": cid, "object": "chat.completion.chunk", "created": CREATED,
                 "model": model, "service_tier": "default",
                 "system_fingerprint": "fp_fake0001", "choices": [], "usage": usage}
            events.append("data: " + dumps(u) + "\n\n")
        events.append("data: [DONE]\n\n")
        self.start_stream(extra)
        self.send_events(events, behavior)

    @staticmethod
    def pick_openai_tool(req):
        tools = req.get("tools")
        if not isinstance(tools, list) or not tools:
            return None
        choice = req.get("tool_choice")
        if choice == "none":
            return None
        funcs = []
        for t in tools:
            if isinstance(t, dict):
                f = t.get("function") if isinstance(t.get("function"), dict) else t
                if isinstance(f.get("name"), str):
                    funcs.append((f["name"], f.get("parameters")))
        if not funcs:
            return None
        if isinstance(choice, dict):
            want = (choice.get("function") or {}).get("name") if isinstance(
                choice.get("function"), dict) else choice.get("name")
            for f in funcs:
                if f[0] == want:
                    return f
        return funcs[0]

    # -------------------------------------------------- Anthropic

    def anthropic_reply(self, req, h, extra, behavior):
        model = req.get("model")
        messages = req["messages"]
        user = last_user_text(messages)
        itok = prompt_words(messages, req.get("system"))
        mid = "msg_" + h[:24]
        stream = req.get("stream") is True
        thinking = req.get("thinking")
        want_thinking = thinking is not None and not (
            isinstance(thinking, dict) and thinking.get("type") == "disabled")
        tools = req.get("tools")
        tool = None
        if isinstance(tools, list) and tools:
            tc = req.get("tool_choice")
            if not (isinstance(tc, dict) and tc.get("type") == "none"):
                named = [t for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]
                if named:
                    tool = named[0]
                    if isinstance(tc, dict) and tc.get("type") == "tool":
                        tool = next((t for t in named if t["name"] == tc.get("name")), tool)

        blocks = []  # (type, payload)
        otok = 0
        if want_thinking:
            thought = "The user said: " + (user or "nothing") + ". I will echo it back."
            sig = "Sig" + sha_hex(("sig" + h).encode())[:40] + "=="
            blocks.append(("thinking", thought, sig))
            otok += word_count(thought)
        if tool is not None:
            args = tool_args(tool.get("input_schema"), user)
            tid = "toolu_" + sha_hex(("tool" + h).encode())[:24]
            blocks.append(("tool_use", tool["name"], tid, args))
            otok += max(1, len(args) // 4)
            stop = "tool_use"
        else:
            reply = "Echo: " + user
            blocks.append(("text", reply))
            otok += word_count(reply)
            stop = "end_turn"
        otok = max(1, otok)

        def block_obj(b):
            if b[0] == "thinking":
                return {"type": "thinking", "thinking": b[1], "signature": b[2]}
            if b[0] == "tool_use":
                return {"type": "tool_use", "id": b[2], "name": b[1], "input": json.loads(b[3])}
            return {"type": "text", "text": b[1]}

        usage = {"input_tokens": itok, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0, "output_tokens": otok,
                 "service_tier": "standard"}
        if not stream:
            obj = {"id": mid, "type": "message", "role": "assistant", "model": model,
                   "content": [block_obj(b) for b in blocks],
                   "stop_reason": stop, "stop_sequence": None, "usage": usage}
            self.send_json(200, obj, extra, cut=behavior.get("cut"))
            return

        def ev(name, data):
            return "event: %s\ndata: %s\n\n" % (name, dumps(data))

        start_usage = dict(usage, output_tokens=1)
        events = [ev("message_start", {"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": start_usage}})]
        for i, b in enumerate(blocks):
            if b[0] == "thinking":
                start = {"type": "thinking", "thinking": "", "signature": ""}
            elif b[0] == "tool_use":
                start = {"type": "tool_use", "id": b[2], "name": b[1], "input": {}}
            else:
                start = {"type": "text", "text": ""}
            events.append(ev("content_block_start", {"type": "content_block_start",
                                                     "index": i, "content_block": start}))
            if i == 0:
                events.append(ev("ping", {"type": "ping"}))
            if b[0] == "thinking":
                for piece in split_words(b[1]):
                    events.append(ev("content_block_delta", {
                        "type": "content_block_delta", "index": i,
                        "delta": {"type": "thinking_delta", "thinking": piece}}))
                events.append(ev("content_block_delta", {
                    "type": "content_block_delta", "index": i,
                    "delta": {"type": "signature_delta", "signature": b[2]}}))
            elif b[0] == "tool_use":
                for piece in split_chars(b[3]):
                    events.append(ev("content_block_delta", {
                        "type": "content_block_delta", "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}))
            else:
                for piece in split_words(b[1]):
                    events.append(ev("content_block_delta", {
                        "type": "content_block_delta", "index": i,
                        "delta": {"type": "text_delta", "text": piece}}))
            events.append(ev("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(ev("message_delta", {"type": "message_delta",
                                           "delta": {"stop_reason": stop, "stop_sequence": None},
                                           "usage": {"output_tokens": otok}}))
        events.append(ev("message_stop", {"type": "message_stop"}))
        self.start_stream(extra)
        self.send_events(events, behavior)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError,
                            ConnectionAbortedError, socket.timeout)):
            return
        if self.state.verbose:
            super().handle_error(request, client_address)


def write_port_file(path, port):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".port-", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake OpenAI/Anthropic API server for tests.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--idle-exit", type=float, default=120.0)
    ap.add_argument("--api-key", default="test-key")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--behavior")
    args = ap.parse_args(argv)

    state = State(args.api_key, args.idle_exit, args.verbose)
    state.default_behavior = args.behavior
    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as e:
        sys.stderr.write("fake_provider: cannot bind 127.0.0.1:%d: %s\n" % (args.port, e))
        return 2
    server.state = state
    port = server.server_address[1]

    def on_signal(signum, frame):
        state.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True)
    t.start()
    if args.port_file:
        write_port_file(args.port_file, port)
    try:
        sys.stdout.write("PORT %d\n" % port)
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError):  # no usable stdout
        pass

    reason = "stopped"
    while not state.stop.wait(0.2):
        if args.idle_exit > 0 and state.idle_for() >= args.idle_exit:
            reason = "idle for %gs" % args.idle_exit
            break
    if args.verbose:
        sys.stderr.write("fake_provider: exiting (%s)\n" % reason)
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
