#!/usr/bin/env python3
"""bench/bench_serve.py BUILD_DIR - `llmcache serve` under wrk, beside nginx as a
caching reverse proxy of POST bodies (bench/nginx_cache.conf: proxy_cache with the
request body in the key) and the fake provider answering directly. All on
loopback, one run, so the ratios compare like with like.

For each target: one warm-up request (the miss), then wrk posting the same chat
request for BENCH_SERVE_SECONDS (default 5) at 1, 16 and 64 connections (2 wrk
threads). Prints a table, RESULT lines (requests/s, p50 and p99 in ms) and GOAL
lines: a hit's p99 under 1 ms at 64 connections; hit throughput at least nginx's
at 64 connections. Also the proxy's resident memory before and after (its growth
under load must stay bounded; the 10-minute run is BENCH_SERVE_SECONDS=600).
Needs wrk and nginx (Debian: wrk, nginx-light); missing ones are reported."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SECONDS = int(os.environ.get("BENCH_SERVE_SECONDS", "5"))
BODY = '{"model":"gpt-test","messages":[{"role":"user","content":"benchmark this request through the proxy please"}]}'
LUA = """wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer test-key"
done = function(summary, latency, requests)
  io.write(string.format("STATS %%d %%.3f %%.3f %%.3f %%d %%d\\n", summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
""" % BODY


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(url, limit=20):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            req = urllib.request.Request(url, data=BODY.encode(), headers={"Content-Type": "application/json",
                                                                           "Authorization": "Bearer test-key"})
            with urllib.request.urlopen(req, timeout=5) as r:
                r.read()
                return True
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    return False


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wrk(url, conns, script):
    out = subprocess.run(["wrk", "-t", "2" if conns > 1 else "1", "-c", str(conns), "-d", "%ds" % SECONDS,
                          "-s", script, url], capture_output=True, text=True).stdout
    m = re.search(r"^STATS (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+) (\d+)", out, re.M)
    if not m:
        return None
    return {"requests": int(m.group(1)), "rps": float(m.group(2)), "p50": float(m.group(3)),
            "p99": float(m.group(4)), "bad": int(m.group(5)) + int(m.group(6))}


def main():
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            print("skipped: bench_serve (needs %s)" % tool)
            return 0
    tmp = tempfile.mkdtemp(prefix="llmcache-bench-serve.")
    script = os.path.join(tmp, "post.lua")
    with open(script, "w") as f:
        f.write(LUA)
    procs = []
    try:
        fp = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "fake_provider.py"), "--idle-exit", "0"],
                              stdout=subprocess.PIPE, text=True)
        procs.append(fp)
        up = int(fp.stdout.readline().split()[1])
        px_port = free_port()
        px = subprocess.Popen([os.path.join(BUILD, "llmcache"), "serve", "--quiet", "--listen", "127.0.0.1:%d" % px_port,
                               "--upstream", "http://127.0.0.1:%d" % up, "--max-connections", "512"])
        procs.append(px)
        ng_port = free_port()
        conf = open(os.path.join(HERE, "nginx_cache.conf")).read()
        conf = conf.replace("@TMP@", tmp).replace("@PORT@", str(ng_port)).replace("@UPSTREAM@", str(up))
        if os.geteuid() == 0:   # workers would run as nobody, who cannot enter the private temp folder
            conf = "user root;\n" + conf
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write(conf)
        ng = subprocess.Popen(["nginx", "-p", tmp, "-c", os.path.join(tmp, "nginx.conf")],
                              stderr=subprocess.DEVNULL)
        procs.append(ng)
        targets = [("llmcache serve", px_port), ("nginx proxy_cache", ng_port), ("fake provider", up)]
        for name, port in targets:
            if not wait_http("http://127.0.0.1:%d/v1/chat/completions" % port):
                print("bench_serve: %s did not answer" % name)
                return 1
        rss0 = rss_kib(px.pid)
        rows = {}
        for name, port in targets:
            for c in (1, 16, 64):
                r = wrk("http://127.0.0.1:%d/v1/chat/completions" % port, c, script)
                rows[(name, c)] = r
        rss1 = rss_kib(px.pid)
        print("%-20s %5s %12s %10s %10s %8s" % ("target", "conns", "requests/s", "p50 ms", "p99 ms", "errors"))
        for name, _ in targets:
            for c in (1, 16, 64):
                r = rows[(name, c)]
                if r:
                    print("%-20s %5d %12.0f %10.3f %10.3f %8d" % (name, c, r["rps"], r["p50"], r["p99"], r["bad"]))
                else:
                    print("%-20s %5d %12s" % (name, c, "wrk failed"))
        for name, _ in targets:
            for c in (1, 16, 64):
                r = rows[(name, c)]
                if r:
                    print("RESULT  %-22s %-22s %12.0f req/s  p50 %.3f ms  p99 %.3f ms" %
                          ("serve/" + name.split()[0], "hit %d conns" % c, r["rps"], r["p50"], r["p99"]))
        print("RESULT  %-22s %-22s %12d KiB before, %d KiB after" % ("serve/llmcache", "resident memory", rss0, rss1))
        ours, theirs = rows[("llmcache serve", 64)], rows[("nginx proxy_cache", 64)]
        if ours:
            print("GOAL  %-36s %12.3f %-6s goal %s %7.2f %-6s %s" % ("proxy hit p99, 64 connections", ours["p99"], "ms",
                  "< ", 1.0, "ms", "PASS" if ours["p99"] < 1.0 else "MISS"))
        if ours and theirs:
            ratio = ours["rps"] / theirs["rps"] if theirs["rps"] else 0
            print("GOAL  %-36s %12.2f %-6s goal %s %7.2f %-6s %s" % ("proxy hits/s vs nginx, 64 conns", ratio, "x",
                  ">=", 1.0, "x", "PASS" if ratio >= 1.0 else "MISS"))
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM if p is not procs[-1] else signal.SIGQUIT)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
