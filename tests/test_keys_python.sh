#!/bin/sh
# tests/test_keys_python.sh: the C library (through `build/llmcache key`) and the
# Python reference (tools/llmcache_key.py) give the same key for 400 random
# documents of tests/data/canon.txt used as request bodies, with and without a
# namespace, endpoint and schema. Prints "N passed, N failed" last.
cd "$(dirname "$0")/.." || exit 1
[ -x build/llmcache ] || { echo "build/llmcache missing (run make)"; echo "0 passed, 1 failed"; exit 1; }
python3 - <<'PY'
import os, subprocess, sys, tempfile
sys.path.insert(0, "tools")
from llmcache_key import key_hex
lines = open("tests/data/canon.txt", encoding="utf-8", newline="").read().split("\n")
docs = [lines[i] for i in range(0, len(lines) - 1, 2)]
schema = '{"type":"object","properties":{"x":{"type":"number"}}}'
passed = failed = 0
with tempfile.TemporaryDirectory() as d:
    sp = os.path.join(d, "schema.json")
    open(sp, "w").write(schema)
    for i, doc in enumerate(docs):
        ns, ep, use_schema = ("tenant-%d" % i, "https://example.test/v1/%d" % i, i % 2 == 0) if i % 3 else ("", "", False)
        args = ["build/llmcache", "key"]
        if ns: args += ["--ns", ns]
        if ep: args += ["--endpoint", ep]
        if use_schema: args += ["--schema", sp]
        got = subprocess.run(args, input=doc.encode("utf-8"), capture_output=True).stdout.decode().strip()
        want = key_hex(doc, ns, ep, schema if use_schema else None)
        if got == want:
            passed += 1
        else:
            failed += 1
            print("doc %d: C %s, Python %s" % (i, got, want))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
