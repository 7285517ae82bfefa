#!/bin/sh
# tests/test_docs.sh: every public function of llmcache.h is documented where it is
# declared. Each LLMCACHE_API declaration in the public part (above the
# implementation) has a comment right above it that says its thread safety in the
# header's words, "Thread-safe" or "Not thread-safe", and, when it hands memory to
# the caller (a char ** or a handle out-parameter, an llmcache_value or
# llmcache_response it fills), the function that releases it.
cd "$(dirname "$0")/.." || exit 1
python3 - <<'EOF'
import re, sys
text = open("llmcache.h").read()
public = text[:text.index("#if defined(LLMCACHE_IMPLEMENTATION) && !defined(LLMCACHE_IMPLEMENTATION_DONE)")]
lines = public.split("\n")
passed = failed = 0
def check(ok, what):
    global passed, failed
    if ok: passed += 1
    else: failed += 1; print("FAIL: " + what)
decls = 0
for i, line in enumerate(lines):
    if not line.startswith("LLMCACHE_API "):
        continue
    decls += 1
    decl = line
    j = i
    while ";" not in decl and j + 1 < len(lines):
        j += 1; decl += " " + lines[j].strip()
    name = re.search(r"(llmcache_\w+)\s*\(", decl).group(1)
    # the comment that ends on the line right above the declaration
    k = i - 1
    comment = []
    if k >= 0 and lines[k].rstrip().endswith("*/"):
        while k >= 0:
            comment.insert(0, lines[k])
            if "/*" in lines[k]: break
            k -= 1
    doc = " ".join(c.strip(" */") for c in comment)
    check(doc != "", name + ": no comment right above the declaration")
    check("Thread-safe" in doc or "Not thread-safe" in doc,
          name + ": the comment does not say 'Thread-safe' or 'Not thread-safe'")
    params = decl[decl.index("(") + 1:]
    if name.endswith("_free") or name == "llmcache_close":
        continue
    owners = []
    if re.search(r"char\s*\*\*", params): owners.append("llmcache_free")
    if re.search(r"llmcache\s*\*\*", params): owners.append("llmcache_close")
    if re.search(r"\bllmcache_value\s*\*", params): owners.append("llmcache_value_free")
    if re.search(r"\bllmcache_response\s*\*", params) and "const llmcache_response" not in params:
        owners.append("llmcache_response_free")
    for o in owners:
        check(o in doc, name + ": the comment does not say that " + o + " releases what it returns")
check(decls >= 36, "found only %d LLMCACHE_API declarations" % decls)
print("%d declarations checked" % decls)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
