#!/usr/bin/env python3
"""tests/test_redis_python.py: a Python service reading and writing llmcache entries in
Redis without the C library, as docs/REDIS.md describes it.

The C side (tests/redis_writer.c, built by tests/test_redis_python.sh) stores entries
through llmcache_call / llmcache_put; this script derives each key with the Python reference
(tools/llmcache_key.py: RFC 8785 canonical JSON, SHA-256), reads the Redis value, checks the record (docs/FORMAT.md,
CRC-32C in pure Python) and the envelope (docs/ENVELOPE.md), and compares the body. It
also writes a record itself that the C side then reads, and a damaged one it refuses.

    python3 tests/test_redis_python.py PATH/TO/redis_writer

Starts its own redis-server on 127.0.0.1 (a free port, no persistence) and stops it.
Needs python3-redis (Debian). Prints "N passed, N failed" last.
"""
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

import redis

# ---- the part a Python or Node service needs (docs/REDIS.md, "Cross-language access")


# Keys: the reference implementation in tools/llmcache_key.py (RFC 8785 + SHA-256).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from llmcache_key import canonical_text as canonical, key_bytes as llmcache_key  # noqa: E402


def redis_name(key, ns="", prefix=None):
    """The Redis key of an entry: the prefix (default "llmcache:" + ns + ":") + lowercase hex."""
    return (("llmcache:%s:" % ns) if prefix is None else prefix).encode() + key.hex().encode()


_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


REC_MAGIC = 0xABC41ED7


def decode_record(buf, key):
    """A Redis value -> dict, or None when it is not an intact put record of key."""
    if len(buf) < 80:
        return None
    magic, crc, length, rtype, _reason, flags, _seq = struct.unpack_from("<IIIBBHQ", buf, 0)
    rkey = buf[24:56]
    created, expires, vlen, mlen = struct.unpack_from("<qqII", buf, 56)
    if (magic != REC_MAGIC or rtype != 1 or mlen not in (0, 64) or length != 80 + mlen + vlen
            or flags != (1 if mlen else 0) or len(buf) != (length + 7) // 8 * 8
            or crc32c(buf[8:length]) != crc or rkey != key):
        return None
    rec = {"created_ms": created, "expires_ms": expires, "value": bytes(buf[80 + mlen:length]), "meta": None}
    if mlen:
        m = buf[80:144]
        status, mflags, latency, pt, ct = struct.unpack_from("<iIqqq", m, 32)
        rec["meta"] = {"schema_hash": bytes(m[:32]), "status": status, "flags": mflags,
                       "latency_ms": latency, "prompt_tokens": pt, "completion_tokens": ct}
    return rec


def encode_record(key, value, created_ms, expires_ms=0):
    """A put record without meta, as llmcache writes it (padded to a multiple of 8)."""
    length = 80 + len(value)
    body = struct.pack("<IBBHQ", length, 1, 0, 0, 0) + key + struct.pack("<qqII", created_ms, expires_ms,
                                                                         len(value), 0) + value
    body += bytes((-length) % 8)
    return struct.pack("<II", REC_MAGIC, crc32c(body[:length - 8])) + body


def decode_envelope(v):
    """docs/ENVELOPE.md -> dict with status, body, model, chunks (list of (bytes, at_ms))."""
    if len(v) < 24 or v[:4] != b"llce" or v[4] != 1 or v[5] & ~3:
        raise ValueError("not an envelope")
    flags, hlen = v[5], struct.unpack_from("<H", v, 6)[0]
    status, n_chunks, model_len, body_len = struct.unpack_from("<iIII", v, 8)
    table = [struct.unpack_from("<II", v, hlen + 8 * i) for i in range(n_chunks)]
    p = hlen + 8 * n_chunks
    model = None
    if flags & 2:
        model = v[p:p + model_len]
        if v[p + model_len] != 0:
            raise ValueError("model without its NUL")
        p += model_len + 1
    body = v[p:]
    if len(body) != body_len:
        raise ValueError("length mismatch")
    chunks, off = [], 0
    for ln, at in table:
        chunks.append((body[off:off + ln], at))
        off += ln
    return {"status": status, "stream": bool(flags & 1), "model": model, "body": body, "chunks": chunks}


# ---- the test

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s" % what, file=sys.stderr)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(writer, *args):
    p = subprocess.run([writer] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    if p.returncode != 0:
        print("redis_writer %s: exit %d: %s" % (args[0], p.returncode, p.stderr.decode(errors="replace")),
              file=sys.stderr)
    return p.returncode, p.stdout.decode()


def self_checks():
    check(crc32c(b"123456789") == 0xE3069283, "CRC-32C check value")
    check(canonical('{"b":[1.0, 1e21, 1e-7, 0.5, -0, 123456789012345678901],"a":"\\u00e9\\n"}')
          == '{"a":"é\\n","b":[1,1e+21,1e-7,0.5,0,123456789012345680000]}'.encode(), "canonical JSON")


def test_entries(writer, port, r):
    ns = "py"
    endpoint = "https://api.openai.com/v1/chat/completions"
    # 1. a plain response: whitespace and member order differ from the canonical form
    body = ('{ "temperature": 0.7, "model": "gpt-4o-mini",\n  "messages": [ {"role": "user", '
            '"content": "Grüße, 世界 €"} ], "max_tokens": 16 }')
    answer = '{"id":"r1","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":9,"completion_tokens":2}}'
    rc, out = run(writer, "call", port, ns, endpoint, body, "-", answer, 0, "-")
    check(rc == 0, "writer call (plain)")
    key = llmcache_key(body, ns, endpoint)
    check(out.strip() == "key " + key.hex(), "Python derives the same key as C: %r vs %s" % (out, key.hex()))
    name = redis_name(key, ns)
    raw = r.get(name)
    check(raw is not None, "entry under %s" % name.decode())
    rec = decode_record(raw or b"", key)
    check(rec is not None, "an intact record (CRC-32C checked in Python)")
    if rec:
        m = rec["meta"]
        check(m is not None and m["status"] == 200 and m["flags"] == 1, "meta: status 200, ENVELOPE flag")
        check(m and m["prompt_tokens"] == 9 and m["completion_tokens"] == 2, "meta: token usage")
        check(m and m["schema_hash"] == bytes(32), "meta: no schema")
        check(rec["expires_ms"] - rec["created_ms"] == 60000, "expires = created + ttl")
        check(abs(rec["created_ms"] - time.time() * 1000) < 60000, "created is now")
        env = decode_envelope(rec["value"])
        check(env["status"] == 200 and not env["stream"] and env["model"] is None, "envelope header")
        check(env["body"] == answer.encode(), "envelope body is the response, byte for byte")
    pttl = r.pttl(name)
    check(0 < pttl <= 60000, "Redis expires it (PTTL %d)" % pttl)

    # 2. a stream with a schema and a parsed model
    body = '{"model":"m","stream":true,"messages":[{"role":"user","content":"tool please"}]}'
    schema = '{ "type": "object", "properties": { "a": { "type": "integer" } } }'
    sse = 'data: {"x":1}\n\ndata: [DONE]\n\n'
    rc, out = run(writer, "call", port, ns, endpoint, body, schema, sse, 1, '{"a":1}')
    check(rc == 0, "writer call (stream)")
    key = llmcache_key(body, ns, endpoint, schema)
    check(out.strip() == "key " + key.hex(), "key with a schema hash")
    rec = decode_record(r.get(redis_name(key, ns)) or b"", key)
    check(rec is not None, "stream record")
    if rec:
        check(rec["meta"]["flags"] == 7, "meta flags ENVELOPE|STREAM|HAS_MODEL")
        check(rec["meta"]["schema_hash"] == hashlib.sha256(canonical(schema)).digest(), "meta schema hash")
        env = decode_envelope(rec["value"])
        check(env["stream"] and env["model"] == b'{"a":1}', "envelope: stream with model")
        check([c for c, _ in env["chunks"]] == [b'data: {"x":1}\n\n', b"data: [DONE]\n\n"], "envelope chunks")
        check(env["body"] == sse.encode(), "stream body")

    # 3. a plain llmcache_put of binary bytes: no meta, no expiry
    key = hashlib.sha256(b"plain").digest()
    value = bytes(range(256)) * 3
    rc, out = run(writer, "put", port, ns, key.hex(), value.hex())
    check(rc == 0 and out.strip() == "ok", "writer put")
    rec = decode_record(r.get(redis_name(key, ns)) or b"", key)
    check(rec is not None and rec["meta"] is None and rec["expires_ms"] == 0, "plain record")
    check(rec is not None and rec["value"] == value, "plain value, byte for byte")
    check(r.pttl(redis_name(key, ns)) == -1, "no TTL in Redis")

    # 4. Python writes, C reads
    body = '{"model":"m","messages":[{"role":"user","content":"from python"}]}'
    key = llmcache_key(body, ns, endpoint)
    now = int(time.time() * 1000)
    r.set(redis_name(key, ns), encode_record(key, b"written by python\0!", now, now + 30000), px=30000)
    rc, out = run(writer, "get", port, ns, key.hex())
    lines = out.split("\n")
    check(rc == 0 and lines[0] == "ok %s %d %d 0 0" % (b"written by python\0!".hex(), now, now + 30000),
          "C reads Python's record: %r" % lines[0])
    check(lines[1:2] == ["errors 0"], "no errors")

    # 5. a damaged record is a miss on the C side, counted as an error
    bad = bytearray(encode_record(key, b"tampered", now, 0))
    bad[85] ^= 0x20
    r.set(redis_name(key, ns), bytes(bad))
    rc, out = run(writer, "get", port, ns, key.hex())
    check(rc == 0 and out.split("\n")[:2] == ["miss", "errors 1"], "damaged record refused: %r" % out)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    writer = sys.argv[1]
    exe = shutil.which("redis-server")
    if not exe:
        check(False, "redis-server not found (apt-get install redis-server)")
        print("%d passed, %d failed" % (passed, failed))
        return 1
    self_checks()
    tmp = tempfile.mkdtemp(prefix="llmcache-test-redis-py-")
    port = free_port()
    server = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(250):
            try:
                r.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        else:
            check(False, "redis-server did not start on port %d" % port)
            raise SystemExit
        test_entries(writer, port, r)
    except SystemExit:
        pass
    except Exception as e:  # a crash is a failure, with the summary line still last
        check(False, "exception: %r" % e)
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
