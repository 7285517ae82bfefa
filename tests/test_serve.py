#!/usr/bin/env python3
"""tests/test_serve.py - `llmcache serve` end to end, on loopback only: curl and
raw HTTP clients through the proxy to tests/fake_provider.py. Run by
tests/test_serve.sh (which tests/need.sh gates); last line "N passed, N failed".

    python3 tests/test_serve.py BUILD_DIR

Covers: miss then hit (non-stream and stream, OpenAI and Anthropic) with the fake
provider's counter proving hits never reach it; byte-identical stream replay; 100
concurrent identical streams (one upstream call, identical bytes, every client's
first event while the upstream stream is provably still open: the provider holds
it until the test releases it); tenant isolation and keyed headers; per-request
Cache-Control and X-Llmcache-* headers; upstream 429/500/cut/slow; 413, 415, 400,
503 when full, the read deadline; a client leaving mid-stream; SIGTERM finishing a
stream in flight; SIGKILL mid-traffic losing no acknowledged entry; --mode,
LLMCACHE_MODE and X-Llmcache-Mode (a replay miss: 404 naming the key, upstream never
asked); /metrics checked by promtool with exact counters and money at --prices;
--redis with a real redis-server (two proxies, two cache files, one Redis); the
upstream's Retry-After, request ids and rate-limit headers forwarded on misses and
pass-through answers (a real loopback server for the latter), hop-by-hop ones not;
clients trickling headers or a body cut off by --read-timeout with a 408. Every
wait has a generous deadline; nothing asserts a duration."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ARGS = [a for a in sys.argv[1:] if a != "--sdk"]
BUILD = ARGS[0] if ARGS else "build"
TOOL = os.path.join(BUILD, "llmcache")
PASS = FAIL = 0
DEADLINE = 60.0


def check(name, cond, detail=""):
    global PASS, FAIL
    if cond:
        PASS += 1
    else:
        FAIL += 1
        print("FAIL - %s%s" % (name, (": " + str(detail)) if detail else ""), flush=True)


def wait_until(fn, limit=DEADLINE):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.02)
    return False


class Proc:
    def __init__(self, args, port_from, env=None):
        self.out = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.out, text=True,
                                  env=dict(os.environ, **env) if env else None)
        line = self.p.stdout.readline()
        self.port = port_from(line)

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            return self.p.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()


def start_provider():
    return Proc([sys.executable, os.path.join(HERE, "fake_provider.py"), "--idle-exit", "600"],
                lambda l: int(l.split()[1]))


def proxy_args(up, *extra):
    return [TOOL, "serve", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:%d" % up,
            "--anthropic-upstream", "http://127.0.0.1:%d" % up] + list(extra)


def start_proxy(up, *extra, env=None):
    return Proc(proxy_args(up, *extra), lambda l: int(l.split("127.0.0.1:")[1].split()[0]), env)


def request(port, method, path, body=None, headers=None, timeout=DEADLINE):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = r.read()
    res = (r.status, {k.lower(): v for k, v in r.getheaders()}, out)
    c.close()
    return res


def free_port():
    """A loopback port nobody listens on (now)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def provider_stats(up):
    return json.loads(request(up, "GET", "/stats")[2])


def upstream_count(up):
    return provider_stats(up)["requests"]


OA = {"Authorization": "Bearer test-key"}
AN = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}


def chat(text, stream=False):
    b = {"model": "gpt-test", "messages": [{"role": "user", "content": text}]}
    if stream:
        b["stream"] = True
    return b


def test_hits(up, px):
    n0 = upstream_count(up)
    s1, h1, b1 = request(px, "POST", "/v1/chat/completions", chat("one two three"), OA)
    s2, h2, b2 = request(px, "POST", "/v1/chat/completions", chat("one two three"), OA)
    check("chat miss 200", s1 == 200 and h1.get("x-llmcache") == "MISS", (s1, h1))
    check("chat hit", s2 == 200 and h2.get("x-llmcache") == "HIT" and "age" in h2, h2)
    check("hit bytes", b1 == b2)
    check("hit key header", h1.get("x-llmcache-key") == h2.get("x-llmcache-key") and len(h1.get("x-llmcache-key", "")) == 64)
    check("hit never reaches upstream", upstream_count(up) == n0 + 1, upstream_count(up) - n0)
    # the same body in other whitespace is the same entry (canonical keys)
    s3, h3, _ = request(px, "POST", "/v1/chat/completions",
                        b'{ "messages":[{"content":"one two three","role":"user"}], "model":"gpt-test" }', OA)
    check("canonical key", h3.get("x-llmcache") == "HIT", h3)
    # streams: byte for byte
    s1, h1, b1 = request(px, "POST", "/v1/chat/completions", chat("stream me a few words please", True), OA)
    s2, h2, b2 = request(px, "POST", "/v1/chat/completions", chat("stream me a few words please", True), OA)
    check("stream miss", s1 == 200 and h1.get("content-type") == "text/event-stream" and h1.get("x-llmcache") == "MISS", h1)
    check("stream hit", h2.get("x-llmcache") == "HIT", h2)
    check("stream bytes identical", b1 == b2 and b1.endswith(b"data: [DONE]\n\n"), b1[-40:])
    # Anthropic, through curl
    for stream in (False, True):
        body = json.dumps({"model": "claude-test", "max_tokens": 50, "stream": stream,
                           "messages": [{"role": "user", "content": "anthropic words here"}]})
        outs = []
        for _ in range(2):
            r = subprocess.run(["curl", "-sS", "-D", "-", "-H", "x-api-key: test-key", "-H", "anthropic-version: 2023-06-01",
                                "-H", "Content-Type: application/json", "--data-binary", body,
                                "http://127.0.0.1:%d/v1/messages" % px], capture_output=True, timeout=DEADLINE)
            outs.append(r.stdout)
        check("anthropic %s curl miss/hit" % ("stream" if stream else "json"),
              b"X-Llmcache: MISS" in outs[0] and b"X-Llmcache: HIT" in outs[1], outs[1][:300])
        check("anthropic %s bytes" % stream, outs[0].split(b"\r\n\r\n", 1)[1] == outs[1].split(b"\r\n\r\n", 1)[1])
    # pass-through: not an API path
    s, h, b = request(px, "GET", "/health")
    check("pass-through", s == 200 and h.get("x-llmcache") == "BYPASS" and b"ok" in b, (s, h))
    s, h, b = request(px, "GET", "/healthz")
    check("healthz", s == 200 and json.loads(b) == {"ok": True})


def test_tenants_and_controls(up, px):
    body = chat("tenant words")
    n0 = upstream_count(up)
    request(px, "POST", "/v1/chat/completions", body, OA)
    _, h, _ = request(px, "POST", "/v1/chat/completions", body, {"Authorization": "Bearer test-key"})
    check("same tenant hits", h.get("x-llmcache") == "HIT", h)
    s, h, _ = request(px, "POST", "/v1/chat/completions", body, {"Authorization": "Bearer other-key"})
    # (the fake provider refuses other-key: 401, passed through, not stored)
    check("another credential never shares", s == 401 and h.get("x-llmcache") != "HIT", (s, h))
    _, h, _ = request(px, "POST", "/v1/chat/completions", body, dict(OA, **{"OpenAI-Beta": "assistants=v2"}))
    check("keyed header misses", h.get("x-llmcache") == "MISS", h)
    _, h, _ = request(px, "POST", "/v1/chat/completions", body, dict(OA, **{"X-Llmcache-Namespace": "team-a"}))
    check("namespace header misses", h.get("x-llmcache") == "MISS", h)
    _, h, _ = request(px, "POST", "/v1/chat/completions", body, dict(OA, **{"X-Llmcache-Namespace": "team-a"}))
    check("namespace header hits", h.get("x-llmcache") == "HIT", h)
    s, _, _ = request(px, "POST", "/v1/chat/completions", body, dict(OA, **{"X-Llmcache-Namespace": "a b"}))
    check("bad namespace 400", s == 400, s)
    _, h, _ = request(px, "POST", "/v1/chat/completions", body, dict(OA, **{"Cache-Control": "no-cache"}))
    check("no-cache refresh", h.get("x-llmcache") == "REFRESH", h)
    _, h, _ = request(px, "POST", "/v1/chat/completions", body, dict(OA, **{"Cache-Control": "max-age=3600"}))
    check("max-age hit", h.get("x-llmcache") == "HIT", h)
    nb = chat("no store words")
    request(px, "POST", "/v1/chat/completions", nb, dict(OA, **{"Cache-Control": "no-store"}))
    _, h, _ = request(px, "POST", "/v1/chat/completions", nb, OA)
    check("no-store stores nothing", h.get("x-llmcache") == "MISS", h)
    _, h, _ = request(px, "POST", "/v1/chat/completions", chat("ttl words"), dict(OA, **{"X-Llmcache-Ttl": "1h"}))
    check("ttl header accepted", h.get("x-llmcache") == "MISS", h)
    s, _, _ = request(px, "POST", "/v1/chat/completions", chat("ttl words"), dict(OA, **{"X-Llmcache-Ttl": "soon"}))
    check("bad ttl 400", s == 400, s)
    check("upstream calls counted", upstream_count(up) - n0 == 8, upstream_count(up) - n0)


def test_upstream_failures(up, px):
    for st in (429, 500):
        body = chat("failing %d" % st)
        n0 = upstream_count(up)
        s, h, b = request(px, "POST", "/v1/chat/completions", body, dict(OA, **{"X-Fake-Behavior": "status=%d" % st}))
        check("%d passes through" % st, s == st and "error" in json.loads(b), (s, b[:100]))
        s, h, b = request(px, "POST", "/v1/chat/completions", body, OA)
        check("%d never stored" % st, s == 200 and h.get("x-llmcache") == "MISS" and upstream_count(up) == n0 + 2, h)
    # a cut stream: the client sees a cut, nothing is stored
    body = json.dumps(chat("cut this stream into some pieces please", True))
    r = subprocess.run(["curl", "-sS", "-N", "-H", "Authorization: Bearer test-key", "-H", "X-Fake-Behavior: cut=2",
                        "-H", "Content-Type: application/json", "--data-binary", body,
                        "http://127.0.0.1:%d/v1/chat/completions" % px], capture_output=True, timeout=DEADLINE)
    check("cut stream is cut for the client", r.returncode != 0 and b"[DONE]" not in r.stdout, (r.returncode, r.stdout[-60:]))
    s, h, b = request(px, "POST", "/v1/chat/completions", body.encode(), OA)
    check("cut stream never stored", h.get("x-llmcache") == "MISS" and b.endswith(b"[DONE]\n\n"), h)
    # a slow upstream (longer than the read deadline) is still answered
    s, h, _ = request(px, "POST", "/v1/chat/completions", chat("slow one"), dict(OA, **{"X-Fake-Behavior": "delay=2500"}))
    check("slow upstream answered", s == 200 and h.get("x-llmcache") == "MISS", (s, h))
    # no upstream at all: 502 in the provider's shape
    p2 = start_proxy(free_port())
    s, h, b = request(p2.port, "POST", "/v1/chat/completions", chat("nobody home"), OA)
    check("unreachable upstream 502", s == 502 and "error" in json.loads(b), (s, b))
    s, h, b = request(p2.port, "POST", "/v1/messages", chat("nobody home"), AN)
    check("anthropic error shape", s == 502 and json.loads(b).get("type") == "error", b)
    check("proxy stops with 0", p2.stop() == 0)


def raw(port, data, read=True, timeout=DEADLINE):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    if read:
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
                if b"\r\n\r\n" in out and b"Content-Length" in out:
                    head, _, rest = out.partition(b"\r\n\r\n")
                    n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    if len(rest) >= n:
                        break
        except socket.timeout:
            pass
    s.close()
    return out


def test_abuse(up, px):
    big = b'{"model":"m","messages":[{"role":"user","content":"' + b"x" * 70000 + b'"}]}'
    s, h, b = request(px, "POST", "/v1/chat/completions", big, OA)
    check("413 over --max-body", s == 413 and "error" in json.loads(b), (s, b[:100]))
    # chunked upload without a length: found while reading
    out = raw(px, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(b"%x\r\n%s\r\n" % (8000, b"y" * 8000) for _ in range(10)) + b"0\r\n\r\n")
    check("413 chunked", out.startswith(b"HTTP/1.1 413"), out[:60])
    s, h, b = request(px, "POST", "/v1/chat/completions", b"hello", dict(OA, **{"Content-Type": "text/plain"}))
    check("415 wrong content type", s == 415 and json.loads(b)["error"]["message"], (s, b))
    s, h, b = request(px, "POST", "/v1/chat/completions", b'{"model": "m", "messages": [', OA)
    check("400 malformed JSON", s == 400 and "JSON" in json.loads(b)["error"]["message"], (s, b))
    s, h, b = request(px, "POST", "/v1/messages", b'{"model": 1,, }', AN)
    check("400 anthropic shape", s == 400 and json.loads(b)["type"] == "error", (s, b))
    # the read deadline: a body that never completes
    sk = socket.create_connection(("127.0.0.1", px), timeout=DEADLINE)
    sk.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100\r\n\r\n{\"model\"")
    got = b""
    try:
        while True:
            d = sk.recv(4096)
            if not d:
                break
            got += d
    except (socket.timeout, ConnectionResetError):
        pass
    sk.close()
    check("read deadline closes a stalled request", got == b"" or got.startswith(b"HTTP/1.1 408"), got[:60])


def slow_client(port, head, drip, limit=DEADLINE):
    """Sends head, then drip one byte every 0.1 s (as long as the proxy lets it) and
    returns what the proxy answered once it closed the connection."""
    sk = socket.create_connection(("127.0.0.1", port), timeout=0.1)
    sk.sendall(head)
    got, i, sending = b"", 0, True
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if sending:
            try:
                sk.send(drip[i % len(drip):i % len(drip) + 1])
                i += 1
            except OSError:
                sending = False
        try:
            d = sk.recv(4096)
            if not d:
                break
            got += d
            sending = False                  # answered: read the rest
        except socket.timeout:
            continue
        except OSError:
            break
    sk.close()
    return got, i


def test_read_deadline(up, px):
    """--read-timeout (2 s here) is a total deadline: a client that keeps trickling
    bytes of its headers or of its body is cut off with a 408."""
    got, n = slow_client(px, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n", b"X-Slow-Header-Byte-By-Byte: ")
    check("trickled headers get 408", got.startswith(b"HTTP/1.1 408") and b"read-timeout" in got, (got[:80], n))
    check("... in the provider's error shape", b'"error"' in got and b"Connection: close" in got, got[-200:])
    got, n = slow_client(px, b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"x-api-key: test-key\r\nanthropic-version: 2023-06-01\r\nContent-Length: 1000\r\n\r\n",
                         b'{"model":"m","messages":[]}')
    check("trickled body gets 408 (Anthropic shape)", got.startswith(b"HTTP/1.1 408") and b'"type":"error"' in got, (got[:80], n))
    s, h, b = request(px, "GET", "/healthz")
    check("served after the cuts", s == 200, s)


def test_full(up):
    p = start_proxy(up, "--max-connections", "2")
    idle = [socket.create_connection(("127.0.0.1", p.port)) for _ in range(2)]
    got = []

    def full():  # once the server has registered both idle connections
        got[:] = [request(p.port, "POST", "/v1/chat/completions", chat("full house"), OA)]
        return got[0][0] == 503
    check("503 when full", wait_until(full) and "error" in json.loads(got[0][2]), got[:1])
    for x in idle:
        x.close()
    ok = wait_until(lambda: request(p.port, "POST", "/v1/chat/completions", chat("full house"), OA)[0] == 200)
    check("served again once connections close", ok)
    check("stop 0", p.stop() == 0)


class Streamer(threading.Thread):
    """One streaming client: records its bytes and when its first event came."""

    def __init__(self, port, body, headers):
        super().__init__(daemon=True)
        self.port, self.body, self.headers = port, body, headers
        self.first = threading.Event()
        self.data = b""
        self.status = None
        self.label = None
        self.error = None

    def run(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE * 2)
            h = {"Content-Type": "application/json"}
            h.update(self.headers)
            c.request("POST", "/v1/chat/completions", body=json.dumps(self.body).encode(), headers=h)
            r = c.getresponse()
            self.status, self.label = r.status, r.getheader("X-Llmcache")
            while True:
                d = r.read1(65536) if hasattr(r, "read1") else r.read(1)
                if not d:
                    break
                self.data += d
                if b"\n\n" in self.data:
                    self.first.set()
            c.close()
        except Exception as e:  # noqa: BLE001 - reported by the checks
            self.error = e
        self.first.set()


def test_stampede(up, px):
    request(up, "POST", "/reset")
    body = chat("a stampede of one hundred identical streaming requests", True)
    hdr = dict(OA, **{"X-Fake-Behavior": "hold"})
    ts = [Streamer(px, body, hdr) for _ in range(100)]
    for t in ts:
        t.start()
    ok = all(t.first.wait(DEADLINE) for t in ts)
    st = provider_stats(up)
    check("100 clients got their first event", ok and all(t.data for t in ts),
          sum(1 for t in ts if t.data))
    check("... while the upstream stream is still open", st["holding"] == 1 and st["streams_done"] == 0, st)
    check("one upstream call", st["requests"] == 1, st)
    request(up, "POST", "/release")
    for t in ts:
        t.join(DEADLINE)
    check("all 200", all(t.status == 200 and t.error is None for t in ts), [t.error for t in ts if t.error][:2])
    check("byte-identical streams", len({t.data for t in ts}) == 1 and ts[0].data.endswith(b"data: [DONE]\n\n"))
    labels = [t.label for t in ts]
    check("one MISS, the rest SHARED or HIT", labels.count("MISS") == 1 and
          labels.count("SHARED") + labels.count("HIT") == 99, labels)
    check("still one upstream call", upstream_count(up) == 1)

    # a client that leaves mid-stream does not break the flight
    request(up, "POST", "/reset")
    body = chat("the leader leaves early but the others stay", True)
    sk = socket.create_connection(("127.0.0.1", px), timeout=DEADLINE)
    data = json.dumps(body).encode()
    sk.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-key\r\n"
               b"X-Fake-Behavior: hold\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
    got = b""
    while b"\n\n" not in got.partition(b"\r\n\r\n")[2]:
        d = sk.recv(4096)
        if not d:
            break
        got += d
    other = Streamer(px, body, hdr)
    other.start()
    check("follower's first event", other.first.wait(DEADLINE) and other.data)
    sk.close()                                    # the leader's client goes away
    request(up, "POST", "/release")
    other.join(DEADLINE)
    check("follower completes", other.status == 200 and other.data.endswith(b"data: [DONE]\n\n"), other.data[-50:])
    _, h, b = request(px, "POST", "/v1/chat/completions", body, OA)
    check("flight stored despite the leaver", h.get("x-llmcache") == "HIT" and b == other.data, h)


def test_sigterm(up, tmp):
    request(up, "POST", "/reset")
    p = start_proxy(up, "--cache", os.path.join(tmp, "term.llmc"))
    body = chat("finish me after sigterm", True)
    t = Streamer(p.port, body, dict(OA, **{"X-Fake-Behavior": "hold"}))
    t.start()
    check("stream started", t.first.wait(DEADLINE) and t.data)
    p.p.send_signal(signal.SIGTERM)
    refused = wait_until(lambda: _refused(p.port), 20)   # (the held stream would go on by itself after 60 s)
    check("stops accepting on SIGTERM", refused)
    request(up, "POST", "/release")
    t.join(DEADLINE)
    check("the stream in flight finished", t.data.endswith(b"data: [DONE]\n\n"))
    check("exit 0 after SIGTERM", p.p.wait(DEADLINE) == 0)
    p2 = start_proxy(up, "--cache", os.path.join(tmp, "term.llmc"))
    _, h, b = request(p2.port, "POST", "/v1/chat/completions", body, OA)
    check("its answer was stored and synced", h.get("x-llmcache") == "HIT" and b == t.data, h)
    p2.stop()


def _refused(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.close()
        return False
    except OSError:
        return True


def test_sigkill(up, tmp):
    path = os.path.join(tmp, "kill.llmc")
    p = start_proxy(up, "--cache", path)
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def client(k):
        i = 0
        while not stop.is_set():
            body = chat("kill test %d %d" % (k, i), stream=(i % 2 == 1))
            i += 1
            try:
                s, h, b = request(p.port, "POST", "/v1/chat/completions", body, OA, timeout=10)
            except Exception:  # noqa: BLE001 - the kill cuts requests
                continue
            if s == 200 and (not body.get("stream") or b.endswith(b"[DONE]\n\n")):
                with lock:
                    acked.append((body, b))
    ths = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(4)]
    for t in ths:
        t.start()
    wait_until(lambda: len(acked) >= 40)
    p.p.send_signal(signal.SIGKILL)
    p.p.wait()
    stop.set()
    for t in ths:
        t.join(DEADLINE)
    p2 = start_proxy(up, "--cache", path)
    n0 = upstream_count(up)
    lost = [b for b, data in acked
            if request(p2.port, "POST", "/v1/chat/completions", b, OA)[1].get("x-llmcache") != "HIT"]
    check("SIGKILL lost no acknowledged entry (%d acknowledged)" % len(acked), len(acked) >= 40 and not lost,
          (len(acked), lost[:2]))
    check("... and none was asked again", upstream_count(up) == n0)
    p2.stop()


def test_modes(up, tmp):
    """--mode, LLMCACHE_MODE and X-Llmcache-Mode; a replay miss never reaches upstream."""
    p = start_proxy(up, "--cache", os.path.join(tmp, "modes.llmc"), "--mode", "replay")
    n0 = upstream_count(up)
    s, h, b = request(p.port, "POST", "/v1/chat/completions", chat("never recorded"), OA)
    err = json.loads(b).get("error", {})
    check("replay miss 404 REPLAY-MISS", s == 404 and h.get("x-llmcache") == "REPLAY-MISS", (s, h))
    check("replay miss names the key", len(h.get("x-llmcache-key", "")) == 64 and h["x-llmcache-key"] in err.get("message", ""),
          (h, err))
    s, h, b = request(p.port, "POST", "/v1/chat/completions", chat("never recorded stream", True), OA)
    check("replay miss (stream) 404", s == 404 and h.get("x-llmcache") == "REPLAY-MISS", (s, h))
    s, h, b = request(p.port, "POST", "/v1/messages", chat("never recorded"), AN)
    check("replay miss in Anthropic's shape", s == 404 and json.loads(b).get("error", {}).get("type") == "not_found_error",
          (s, b))
    check("replay misses never reach upstream", upstream_count(up) == n0, upstream_count(up) - n0)
    s, h, b = request(p.port, "POST", "/v1/chat/completions", chat("recorded by header"), dict(OA, **{"X-Llmcache-Mode": "record"}))
    check("X-Llmcache-Mode: record asks upstream", s == 200 and h.get("x-llmcache") == "REFRESH" and upstream_count(up) == n0 + 1,
          (s, h))
    s, h, b = request(p.port, "POST", "/v1/chat/completions", chat("recorded by header"), OA)
    check("... then replay serves it", s == 200 and h.get("x-llmcache") == "HIT", (s, h))
    s, h, b = request(p.port, "POST", "/v1/chat/completions", chat("recorded by header"), dict(OA, **{"Cache-Control": "no-cache"}))
    check("no-cache in replay mode 400", s == 400 and "replay" in json.loads(b)["error"]["message"], (s, b))
    s, h, b = request(p.port, "POST", "/v1/chat/completions", chat("x"), dict(OA, **{"X-Llmcache-Mode": "sometimes"}))
    check("bad X-Llmcache-Mode 400", s == 400 and "X-Llmcache-Mode" in json.loads(b)["error"]["message"], (s, b))
    check("modes: proxy stops 0", p.stop() == 0)
    check("modes: upstream asked once", upstream_count(up) == n0 + 1, upstream_count(up) - n0)
    # LLMCACHE_MODE as every tool reads it; --mode wins over it
    p = start_proxy(up, env={"LLMCACHE_MODE": "replay"})
    s, h, _ = request(p.port, "POST", "/v1/chat/completions", chat("env mode"), OA)
    check("LLMCACHE_MODE=replay", s == 404 and h.get("x-llmcache") == "REPLAY-MISS", (s, h))
    p.stop()
    p = start_proxy(up, "--mode", "normal", env={"LLMCACHE_MODE": "replay"})
    s, h, _ = request(p.port, "POST", "/v1/chat/completions", chat("env mode"), OA)
    check("--mode wins over LLMCACHE_MODE", s == 200 and h.get("x-llmcache") == "MISS", (s, h))
    p.stop()
    r = subprocess.run(proxy_args(up), capture_output=True, text=True, env=dict(os.environ, LLMCACHE_MODE="bogus"))
    check("bad LLMCACHE_MODE exit 2", r.returncode == 2 and "LLMCACHE_MODE" in r.stderr, r.stderr)
    r = subprocess.run(proxy_args(up, "--mode", "bogus"), capture_output=True, text=True)
    check("bad --mode exit 2", r.returncode == 2 and "--mode" in r.stderr, r.stderr)
    for mode, labels, calls in (("off", ["BYPASS", "BYPASS"], 2), ("no-store", ["MISS", "MISS"], 2),
                                ("record", ["REFRESH", "REFRESH"], 2)):
        p = start_proxy(up, "--mode", mode)
        n0 = upstream_count(up)
        got = [request(p.port, "POST", "/v1/chat/completions", chat("mode " + mode), OA)[1].get("x-llmcache") for _ in range(2)]
        check("--mode %s" % mode, got == labels and upstream_count(up) - n0 == calls, (got, upstream_count(up) - n0))
        if mode == "record":
            s, h, _ = request(p.port, "POST", "/v1/chat/completions", chat("mode " + mode), dict(OA, **{"X-Llmcache-Mode": "normal"}))
            check("record stored it", h.get("x-llmcache") == "HIT", h)
            s, h, _ = request(p.port, "POST", "/v1/chat/completions", chat("mode " + mode), dict(OA, **{"Cache-Control": "no-store"}))
            check("no-store in record mode 400", s == 400, s)
        p.stop()


def metric(text, name, **labels):
    """The value of one sample of the Prometheus text, or None."""
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head == name and not labels:
            return float(value)
        if head.startswith(name + "{") and all('%s="%s"' % kv in head for kv in labels.items()):
            return float(value)
    return None


def test_metrics(up, tmp):
    """/metrics after a scripted sequence: exact counters, money at --prices, promtool."""
    prices = os.path.join(tmp, "prices.json")
    with open(prices, "w") as f:
        json.dump({"gpt-test": {"input": 1000000, "output": 2000000}}, f)
    p = start_proxy(up, "--prices", prices)
    body = chat("metrics three words")     # 3 prompt words; the answer "Echo: metrics three words" is 4
    got = [request(p.port, "POST", "/v1/chat/completions", body, OA)[1].get("x-llmcache") for _ in range(3)]
    other = dict(chat("another model"), model="gpt-other")
    got.append(request(p.port, "POST", "/v1/chat/completions", other, OA)[1].get("x-llmcache"))
    check("metrics: the scripted sequence", got == ["MISS", "HIT", "HIT", "MISS"], got)
    s, h, b = request(p.port, "GET", "/metrics")
    text = b.decode()
    check("metrics 200 text/plain 0.0.4", s == 200 and h.get("content-type", "").startswith("text/plain; version=0.0.4"), (s, h))
    r = subprocess.run(["promtool", "check", "metrics"], input=b, capture_output=True)
    check("promtool check metrics", r.returncode == 0, (r.returncode, r.stdout[-300:], r.stderr[-300:]))
    want = {("llmcache_model_calls_total", "gpt-test"): 3, ("llmcache_model_hits_total", "gpt-test"): 2,
            ("llmcache_model_misses_total", "gpt-test"): 1, ("llmcache_model_stores_total", "gpt-test"): 1,
            ("llmcache_model_input_tokens_saved_total", "gpt-test"): 6,
            ("llmcache_model_output_tokens_saved_total", "gpt-test"): 8,
            ("llmcache_model_money_saved_microdollars_total", "gpt-test"): 22,
            ("llmcache_model_calls_total", "gpt-other"): 1, ("llmcache_model_hits_total", "gpt-other"): 0,
            ("llmcache_model_misses_total", "gpt-other"): 1}
    for (name, model), v in want.items():
        check("metrics %s{model=%s} == %d" % (name, model, v), metric(text, name, model=model) == v,
              metric(text, name, model=model))
    for name, v in (("llmcache_calls_total", 4), ("llmcache_transport_calls_total", 2), ("llmcache_shared_total", 0),
                    ("llmcache_money_saved_microdollars_total", 22), ("llmcache_input_tokens_saved_total", 6)):
        check("metrics %s == %d" % (name, v), metric(text, name) == v, metric(text, name))
    check("metrics: stops 0", p.stop() == 0)
    bad = os.path.join(tmp, "bad-prices.json")
    with open(bad, "w") as f:
        f.write('{"gpt-test": {"input": -1}}')
    for path, why in ((bad, "not a price table"), (os.path.join(tmp, "absent.json"), "absent.json")):
        r = subprocess.run(proxy_args(up, "--prices", path), capture_output=True, text=True, timeout=DEADLINE)
        check("bad --prices exit 2 (%s)" % why, r.returncode == 2 and why in r.stderr, (r.returncode, r.stderr))


def redis_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def test_redis(up, tmp):
    """--redis: two proxies with their own --cache files share entries through one
    real redis-server (the library's Redis tier)."""
    port = free_port()
    rs = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        check("redis-server up", wait_until(lambda: redis_ping(port)))
        addr = "127.0.0.1:%d" % port
        a = start_proxy(up, "--cache", os.path.join(tmp, "ra.llmc"), "--redis", addr)
        b = start_proxy(up, "--cache", os.path.join(tmp, "rb.llmc"), "--redis", addr)
        n0 = upstream_count(up)
        for stream in (False, True):
            body = chat("shared through redis %s" % stream, stream)
            s1, h1, b1 = request(a.port, "POST", "/v1/chat/completions", body, OA)
            s2, h2, b2 = request(b.port, "POST", "/v1/chat/completions", body, OA)
            check("redis: A misses (stream %s)" % stream, s1 == 200 and h1.get("x-llmcache") == "MISS", h1)
            check("redis: B hits A's entry (stream %s)" % stream, s2 == 200 and h2.get("x-llmcache") == "HIT" and b1 == b2, h2)
        s1, h1, b1 = request(b.port, "POST", "/v1/messages", chat("the other way"), AN)
        s2, h2, b2 = request(a.port, "POST", "/v1/messages", chat("the other way"), AN)
        check("redis: A hits B's entry", h1.get("x-llmcache") == "MISS" and h2.get("x-llmcache") == "HIT" and b1 == b2, (h1, h2))
        check("redis: upstream asked once per request", upstream_count(up) - n0 == 3, upstream_count(up) - n0)
        check("redis: proxies stop 0", a.stop() == 0 and b.stop() == 0)
        for bad in ("127.0.0.1", "127.0.0.1:0", ":6379", "h:99999"):
            r = subprocess.run(proxy_args(up, "--redis", bad), capture_output=True, text=True, timeout=DEADLINE)
            check("bad --redis %s exit 2" % bad, r.returncode == 2 and "--redis" in r.stderr, (r.returncode, r.stderr))
    finally:
        rs.terminate()
        rs.wait(DEADLINE)


class HeaderUpstream:
    """A real loopback HTTP server that answers with the headers the forwarding
    rules are about: GET -> 200, POST -> 503 with Retry-After."""
    def __init__(self):
        import http.server

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, status, extra):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                body = b'{"object":"list","data":[]}' if status == 200 else b'{"error":{"message":"busy","type":"server_error"}}'
                self.send_response(status)
                for k, v in [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                             ("openai-version", "2020-10-01"), ("x-ratelimit-remaining-requests", "0"),
                             ("anthropic-ratelimit-requests-reset", "2024-01-01T00:00:00Z"),
                             ("Keep-Alive", "timeout=5"), ("X-Internal-Secret", "1"), ("Set-Cookie", "a=b")] + extra:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self.answer(200, [("x-request-id", "req_pass")])

            def do_POST(self):
                self.answer(503, [("Retry-After", "3"), ("x-request-id", "req_busy"), ("Connection", "close")])

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_forward_headers(up, px):
    """The upstream's end-to-end headers reach the client on misses and pass-through
    answers (never from the cache); hop-by-hop and other headers do not."""
    s, h, _ = request(px, "POST", "/v1/chat/completions", chat("forward my headers"), OA)
    check("miss forwards x-request-id", h.get("x-llmcache") == "MISS" and h.get("x-request-id", "").startswith("req_"), h)
    check("miss does not forward Server", "server" not in h, h)
    s, h, _ = request(px, "POST", "/v1/chat/completions", chat("forward my headers"), OA)
    check("hit has no upstream header (never stored)", h.get("x-llmcache") == "HIT" and "x-request-id" not in h, h)
    s, h, _ = request(px, "POST", "/v1/chat/completions", chat("forward my headers", True), OA)
    check("stream miss forwards x-request-id", h.get("x-llmcache") == "MISS" and "x-request-id" in h, h)
    s, h, _ = request(px, "POST", "/v1/messages", chat("forward anthropic headers"), AN)
    check("anthropic miss forwards request-id", h.get("x-llmcache") == "MISS" and "request-id" in h, h)
    s, h, b = request(px, "POST", "/v1/chat/completions", chat("rate limited"),
                      dict(OA, **{"X-Fake-Behavior": "status=429,retry-after=7"}))
    check("429 reaches the client with Retry-After", s == 429 and h.get("retry-after") == "7" and "x-request-id" in h, (s, h))
    hu = HeaderUpstream()
    p = start_proxy(hu.port)
    try:
        s, h, b = request(p.port, "GET", "/v1/models", None, OA)
        check("pass-through forwards openai-*, x-ratelimit-*, anthropic-*, x-request-id",
              s == 200 and h.get("openai-version") == "2020-10-01" and h.get("x-ratelimit-remaining-requests") == "0"
              and "anthropic-ratelimit-requests-reset" in h and h.get("x-request-id") == "req_pass", (s, h))
        check("pass-through drops hop-by-hop and other headers",
              "keep-alive" not in h and "x-internal-secret" not in h and "set-cookie" not in h, h)
        s, h, b = request(p.port, "POST", "/v1/chat/completions", chat("busy upstream"), OA)
        check("503 reaches the client with Retry-After", s == 503 and h.get("retry-after") == "3"
              and h.get("x-request-id") == "req_busy" and h.get("x-llmcache") == "BYPASS", (s, h))
        check("... without the upstream's hop-by-hop or other headers", "keep-alive" not in h and "x-internal-secret" not in h, h)
        check("forward: proxy stops 0", p.stop() == 0)
    finally:
        hu.stop()


def finish(px, up):
    """Stops both servers (the proxy's exit status was checked already) and reports."""
    px.stop(signal.SIGKILL)
    up.stop()
    print("%d passed, %d failed" % (PASS, FAIL))
    return 1 if FAIL else 0


def sdk_main():
    """--sdk: the official npm SDKs (tests/sdk) through the proxy."""
    up = start_provider()
    px = start_proxy(up.port)
    try:
        r = subprocess.run(["node", os.path.join(HERE, "sdk", "sdk_test.mjs"), str(px.port), str(up.port)],
                           capture_output=True, text=True, timeout=300)
        global PASS, FAIL
        lines = r.stdout.strip().splitlines()
        sys.stdout.write("\n".join(lines[:-1]) + "\n" + r.stderr[-2000:])
        try:
            p, f = lines[-1].replace(",", "").split()[0:3:2]
            PASS += int(p); FAIL += int(f)
        except (IndexError, ValueError):
            FAIL += 1
        check("node exit 0", r.returncode == 0, r.returncode)
        check("proxy exits 0 on SIGTERM", px.stop() == 0)
    except Exception as e:  # noqa: BLE001 - a failure, reported; the servers still stop
        check("no exception", False, repr(e))
    return finish(px, up)


def main():
    if "--sdk" in sys.argv:
        return sdk_main()
    tmp = tempfile.mkdtemp(prefix="llmcache-serve.")
    r = subprocess.run([TOOL, "serve", "--help"], capture_output=True, text=True)
    check("--help", r.returncode == 0 and "--max-connections" in r.stdout and "X-Llmcache" in r.stdout)
    r = subprocess.run([TOOL, "serve", "--bogus", "1"], capture_output=True, text=True)
    check("unknown option exit 2", r.returncode == 2 and "unknown option" in r.stderr, r.stderr)
    up = start_provider()
    px = start_proxy(up.port, "--cache", os.path.join(tmp, "c.llmc"), "--max-body", "65536", "--read-timeout", "2s")
    try:
        test_hits(up.port, px.port)
        test_tenants_and_controls(up.port, px.port)
        test_upstream_failures(up.port, px.port)
        test_abuse(up.port, px.port)
        test_read_deadline(up.port, px.port)
        test_full(up.port)
        test_modes(up.port, tmp)
        test_metrics(up.port, tmp)
        test_redis(up.port, tmp)
        test_forward_headers(up.port, px.port)
        test_stampede(up.port, px.port)
        test_sigterm(up.port, tmp)
        test_sigkill(up.port, tmp)
        check("proxy exits 0 on SIGTERM", px.stop() == 0)
    except Exception as e:  # noqa: BLE001 - a failure, reported; the servers still stop
        check("no exception", False, repr(e))
    return finish(px, up)


if __name__ == "__main__":
    sys.exit(main())
