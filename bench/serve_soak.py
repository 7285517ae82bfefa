#!/usr/bin/env python3
"""bench/serve_soak.py [BUILD] - the proxy's memory under a long load.

Starts tests/fake_provider.py and `llmcache serve` on loopback, then runs wrk with 64
connections of cache hits (the request of bench_serve.py) for SOAK_SECONDS (default
600) and prints the proxy's resident memory (VmRSS) every SOAK_STEP seconds (default
60), then the requests served. Memory is bounded when the figures stop growing after
the first minutes. Not part of `make bench` (it takes ten minutes): run it by hand,
`python3 bench/serve_soak.py build`.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_serve as bs  # noqa: E402  (free_port, wait_http, rss_kib, LUA)

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
STEP = int(os.environ.get("SOAK_STEP", "60"))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    import tempfile
    tmp = tempfile.mkdtemp(prefix="llmcache-soak.")
    script = os.path.join(tmp, "post.lua")
    with open(script, "w") as f:
        f.write(bs.LUA)
    fp = subprocess.Popen([sys.executable, os.path.join(bs.ROOT, "tests", "fake_provider.py"), "--idle-exit", "0"],
                          stdout=subprocess.PIPE, text=True)
    up = int(fp.stdout.readline().split()[1])
    port = bs.free_port()
    px = subprocess.Popen([os.path.join(build, "llmcache"), "serve", "--quiet", "--listen", "127.0.0.1:%d" % port,
                           "--upstream", "http://127.0.0.1:%d" % up, "--cache", os.path.join(tmp, "soak.cache"),
                           "--max-connections", "512"])
    try:
        url = "http://127.0.0.1:%d/v1/chat/completions" % port
        if not bs.wait_http(url):
            print("serve_soak: the proxy did not answer")
            return 1
        w = subprocess.Popen(["wrk", "-t", "2", "-c", "64", "-d", "%ds" % SECONDS, "-s", script, url],
                             stdout=subprocess.PIPE, text=True)
        t0 = time.time()
        print("%8s %12s" % ("seconds", "VmRSS KiB"))
        print("%8d %12d" % (0, bs.rss_kib(px.pid)), flush=True)
        due = STEP
        while w.poll() is None:
            time.sleep(0.5)
            t = time.time() - t0
            if t >= due:
                print("%8d %12d" % (due, bs.rss_kib(px.pid)), flush=True)
                due += STEP
        out = w.stdout.read()
        for line in out.splitlines():
            if line.startswith("STATS") or "Requests/sec" in line:
                print(line)
        print("%8s %12d (after the load)" % ("end", bs.rss_kib(px.pid)))
        return 0
    finally:
        px.terminate()
        fp.terminate()
        px.wait()
        fp.wait()


if __name__ == "__main__":
    sys.exit(main())
