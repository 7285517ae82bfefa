#!/usr/bin/env python3
"""bench/bench_python.py - what Python programs use as a response cache, for comparison.

The same shape as the C benchmarks: 32-byte keys (SHA-256 of a counter), 1 KiB values,
keys in random order, best of 3 passes, printed as

    RESULT  <component>            <operation>            <value> us/op

  - functools.lru_cache: a hit of a cached function; a miss (call + store) with eviction
  - dict: get of an existing key; overwrite; insert of a new key
  - diskcache.Cache (SQLite, WAL): set and get of 1 KiB values
  - redis-py against a redis-server this script starts on 127.0.0.1 (a free port, no
    persistence), stopped at the end: SET and GET

Python's dict and lru_cache return a reference to the stored object (no copy);
diskcache and redis return a new bytes object. Each figure includes the Python loop
overhead (about 0.02-0.05 us on this kind of machine), reported on its own line.

Usage: python3 bench/bench_python.py [N_MEM] [N_DISK]
  N_MEM  keys for lru_cache/dict (default 1,000,000)
  N_DISK keys for diskcache/redis (default 20,000: diskcache sets are ~100x slower)
diskcache and redis come from Debian's python3-diskcache / python3-redis /
redis-server; a missing one is skipped with a message.
"""
import functools
import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PASSES = 3
VLEN = 1024


def result(component, op, us, extra=""):
    if us is None:
        print("RESULT  %-22s %-22s %12s%s" % (component, op, "unavailable", extra), flush=True)
    else:
        print("RESULT  %-22s %-22s %12.3f us/op%s" % (component, op, us, extra), flush=True)


def make_keys(n, start=0):
    return [hashlib.sha256(b"%d" % i).digest() for i in range(start, start + n)]


def best_of(fn, passes=PASSES):
    """fn() returns (seconds, ops); best per-op time in microseconds."""
    best = None
    for _ in range(passes):
        t, n = fn()
        us = t * 1e6 / n
        if best is None or us < best:
            best = us
    return best


def shuffled(seq, seed):
    s = list(seq)
    random.Random(seed).shuffle(s)
    return s


def bench_loop_overhead(keys):
    order = shuffled(keys, 1)

    def run():
        t0 = time.perf_counter()
        for k in order:
            pass
        return time.perf_counter() - t0, len(order)
    return best_of(run)


def bench_lru(keys, value):
    n = len(keys)

    @functools.lru_cache(maxsize=n)
    def cached(k):
        return value

    for k in keys:
        cached(k)
    seeds = iter(range(100, 200))

    def hit():
        order = shuffled(keys, next(seeds))
        t0 = time.perf_counter()
        for k in order:
            cached(k)
        return time.perf_counter() - t0, len(order)
    hit_us = best_of(hit)
    info = cached.cache_info()
    if info.currsize != n:
        print("  note: lru_cache holds %d entries, expected %d" % (info.currsize, n))

    # misses: new keys into the full cache, each one evicts the least recently used
    fresh = [make_keys(n // 10, n + p * (n // 10)) for p in range(PASSES)]
    it = iter(fresh)

    def miss():
        order = next(it)
        t0 = time.perf_counter()
        for k in order:
            cached(k)
        return time.perf_counter() - t0, len(order)
    miss_us = best_of(miss)
    cached.cache_clear()
    return hit_us, miss_us


def bench_dict(keys, value):
    d = {}
    for k in keys:
        d[k] = value
    seeds = iter(range(300, 400))

    def get():
        order = shuffled(keys, next(seeds))
        t0 = time.perf_counter()
        for k in order:
            d[k]
        return time.perf_counter() - t0, len(order)

    def overwrite():
        order = shuffled(keys, next(seeds))
        t0 = time.perf_counter()
        for k in order:
            d[k] = value
        return time.perf_counter() - t0, len(order)

    n = len(keys)
    new = make_keys(n // 10, 10 * n)

    def insert():
        for k in new:
            d.pop(k, None)
        t0 = time.perf_counter()
        for k in new:
            d[k] = value
        return time.perf_counter() - t0, len(new)
    return best_of(get), best_of(overwrite), best_of(insert)


def bench_diskcache(keys, values):
    try:
        import diskcache
    except ImportError:
        print("  diskcache: not installed for %s (Debian: apt-get install python3-diskcache)"
              % sys.executable)
        return None, None
    tmp = tempfile.mkdtemp(prefix="llmcache-bench-dc-", dir="/tmp")
    try:
        sets, gets = [], []
        for p in range(PASSES):
            path = os.path.join(tmp, "p%d" % p)
            with diskcache.Cache(path) as cache:
                order = shuffled(range(len(keys)), 500 + p)
                t0 = time.perf_counter()
                for i in order:
                    cache.set(keys[i], values[i])
                sets.append((time.perf_counter() - t0) * 1e6 / len(order))
                order = shuffled(range(len(keys)), 600 + p)
                bad = 0
                t0 = time.perf_counter()
                for i in order:
                    v = cache.get(keys[i])
                    if v is None or len(v) != VLEN:
                        bad += 1
                gets.append((time.perf_counter() - t0) * 1e6 / len(order))
                if bad:
                    print("  diskcache: %d gets returned nothing or wrong bytes" % bad)
            shutil.rmtree(path, ignore_errors=True)
        print("  diskcache %s: per pass set %s, get %s us/op" % (
            diskcache.__version__, " ".join("%.1f" % x for x in sets),
            " ".join("%.1f" % x for x in gets)))
        return min(sets), min(gets)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bench_redis(keys, values):
    try:
        import redis
    except ImportError:
        print("  redis: redis-py not installed for %s (Debian: apt-get install python3-redis)"
              % sys.executable)
        return None, None
    exe = shutil.which("redis-server")
    if not exe:
        print("  redis: redis-server not found (Debian: apt-get install redis-server): skipped")
        return None, None
    tmp = tempfile.mkdtemp(prefix="llmcache-bench-redis-", dir="/tmp")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", tmp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.time() + 10
        while True:
            try:
                r.ping()
                break
            except redis.exceptions.ConnectionError:
                if proc.poll() is not None or time.time() > deadline:
                    print("  redis: redis-server did not start on port %d: skipped" % port)
                    return None, None
                time.sleep(0.05)
        sets, gets = [], []
        for p in range(PASSES):
            r.flushall()
            order = shuffled(range(len(keys)), 700 + p)
            t0 = time.perf_counter()
            for i in order:
                r.set(keys[i], values[i])
            sets.append((time.perf_counter() - t0) * 1e6 / len(order))
            order = shuffled(range(len(keys)), 800 + p)
            bad = 0
            t0 = time.perf_counter()
            for i in order:
                v = r.get(keys[i])
                if v is None or len(v) != VLEN:
                    bad += 1
            gets.append((time.perf_counter() - t0) * 1e6 / len(order))
            if bad:
                print("  redis: %d gets returned nothing or wrong bytes" % bad)
        ver = r.info("server").get("redis_version", "?")
        print("  redis-server %s, redis-py %s, one round trip per op over TCP loopback" %
              (ver, redis.__version__))
        r.close()
        return min(sets), min(gets)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    n_mem = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    n_disk = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    print("== bench_python: %s %s; %d keys in memory, %d on disk / redis; 1 KiB values, best of %d =="
          % (os.path.basename(sys.executable), sys.version.split()[0], n_mem, n_disk, PASSES),
          flush=True)
    rnd = random.Random(7)
    base = bytes(rnd.getrandbits(8) for _ in range(VLEN))
    value = base

    keys = make_keys(n_mem)
    loop = bench_loop_overhead(keys)
    result("python", "empty for-loop", loop, "   (included in every python figure)")
    hit, miss = bench_lru(keys, value)
    result("functools.lru_cache", "get (hit)", hit)
    result("functools.lru_cache", "set (miss, evict)", miss)
    get, ovw, ins = bench_dict(keys, value)
    result("dict", "get (hit)", get)
    result("dict", "set (overwrite)", ovw)
    result("dict", "set (insert)", ins)
    del keys

    dkeys = make_keys(n_disk)
    values = [i.to_bytes(8, "little") + base[8:] for i in range(n_disk)]
    s, g = bench_diskcache(dkeys, values)
    result("diskcache.Cache", "disk put", s)
    result("diskcache.Cache", "disk get", g)
    s, g = bench_redis(dkeys, values)
    result("redis-py", "set", s)
    result("redis-py", "get", g)


if __name__ == "__main__":
    main()
