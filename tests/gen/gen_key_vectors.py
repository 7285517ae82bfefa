#!/usr/bin/env python3
"""Writes tests/data/key_vectors.jsonl: requests with their llmcache keys computed in
Python (tools/llmcache_key.py, hashlib), for tests/test_keys.c to check the C library
against an independent implementation. Run from the repository root:
    python3 tests/gen/gen_key_vectors.py
One JSON object per line: ns, endpoint, schema (JSON text or null), body (JSON text),
canonical (the body's canonical form), key (64 hex)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from llmcache_key import canonical_text, key_hex  # noqa: E402

CHAT = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is a cache?"}]}'
SCHEMA = '{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]}'
CASES = [
    ("", "", None, "{}"),
    ("", "", None, CHAT),
    ("", "https://api.openai.com/v1/chat/completions", None, CHAT),
    ("tenant-a", "https://api.openai.com/v1/chat/completions", None, CHAT),
    ("tenant-a", "https://api.openai.com/v1/chat/completions", SCHEMA, CHAT),
    ("", "https://api.openai.com/v1/chat/completions", None,
     '{ "messages":[{"content":"What is a cache?","role":"user"}],  "model":"gpt-4o-mini" }'),
    ("", "anthropic", None,
     '{"model":"claude-3-5-sonnet","max_tokens":1024,"temperature":0.7,"top_p":1.0,'
     '"messages":[{"role":"user","content":"Gr\\u00fc\\u00dfe, \\"world\\" \\ud83d\\ude00 \\n tab\\t"}]}'),
    ("ns", "e", None, '{"numbers":[1e21,1e-7,0.000001,123456789012345678901,-0.0,5e-324,1.7976931348623157e308]}'),
    ("\u00e9t\u00e9", "/v1/messages", '{"b":1,"a":2}', '{"\\u20ac":1,"\\r":2,"\\ufb33":3,"1":4,"\\ud83d\\ude00":5,"\\u0080":6,"\\u00f6":7}'),
    ("", "", None, '[true,false,null,"",[],{},"\\u0000\\u001f\\u007f"]'),
]


def main():
    out = os.path.join(os.path.dirname(__file__), "..", "data", "key_vectors.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for ns, endpoint, schema, body in CASES:
            f.write(json.dumps({"ns": ns, "endpoint": endpoint, "schema": schema, "body": body,
                                "canonical": canonical_text(body).decode("utf-8"),
                                "key": key_hex(body, ns, endpoint, schema)}, ensure_ascii=True) + "\n")
    print("%d vectors -> %s" % (len(CASES), out))


if __name__ == "__main__":
    main()
