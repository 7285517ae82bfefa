#!/usr/bin/env python3
"""llmcache key derivation in Python: a reference for other languages.

    canonical(x) = RFC 8785 (JCS) serialization of JSON text x
    schema_hash  = SHA-256(canonical(schema)), or 32 zero bytes without a schema
    key          = SHA-256("llmcache/key/v1" 0x00 ns 0x00 endpoint 0x00 schema_hash canonical(body))

With an ignore list (llmcache_config.key_ignore), each JSON Pointer (RFC 6901) that
resolves in the body is removed from it first, in list order; pointers that do not
resolve are skipped; a malformed one is a ValueError. No list = the key above.

Usage as a program:
    python3 tools/llmcache_key.py [--ns NS] [--endpoint URL] [--schema FILE] [--ignore PTR]... [FILE]
prints the 64-hex key of the request JSON in FILE (or stdin), like `llmcache key`.
As a module: key_hex(body_text, ns="", endpoint="", schema_text=None, ignore=()).

Standard library only. Refuses what RFC 8785 / I-JSON refuses (duplicate names,
lone surrogates, non-finite numbers) with ValueError.
"""
import hashlib
import json
import math
import sys


def _reject_duplicates(pairs):
    seen = set()
    for name, _ in pairs:
        if name in seen:
            raise ValueError("duplicate member name: %r" % name)
        seen.add(name)
    return dict(pairs)


def _reject_constant(name):
    raise ValueError("not JSON: %s" % name)


def _number(x):
    """ECMAScript Number::toString, from Python's shortest round-trip digits."""
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError("non-finite number")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    # n: position of the decimal point relative to the digit string (ES spec's n)
    n = len(whole.lstrip("0")) if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")))
    n += int(exp) if exp else 0
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    es = ("+" if e >= 0 else "-") + str(abs(e))
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + es


def _string(s):
    for ch in s:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError("lone surrogate")
    return json.dumps(s, ensure_ascii=False)


def canonical(value):
    """RFC 8785 serialization of a parsed JSON value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        names = sorted(value, key=lambda s: s.encode("utf-16-be"))   # UTF-16 code units
        return "{" + ",".join(_string(n) + ":" + canonical(value[n]) for n in names) + "}"
    raise TypeError("not a JSON value: %r" % (value,))


def _pointer_tokens(pointer):
    """The reference tokens of an RFC 6901 pointer below the root, or ValueError."""
    if not pointer.startswith("/"):
        raise ValueError("not a JSON Pointer below the root: %r" % pointer)
    for i, ch in enumerate(pointer):
        if ch == "~" and pointer[i + 1:i + 2] not in ("0", "1"):
            raise ValueError("bad ~ escape in JSON Pointer: %r" % pointer)
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def remove_pointer(value, pointer):
    """Removes what pointer names from value (in place), if it names anything."""
    tokens = _pointer_tokens(pointer)
    for i, tok in enumerate(tokens):
        last = i == len(tokens) - 1
        if isinstance(value, dict):
            if tok not in value:
                return
            if last:
                del value[tok]
                return
            value = value[tok]
        elif isinstance(value, list):
            if not tok.isdigit() or not tok.isascii() or (len(tok) > 1 and tok[0] == "0") or int(tok) >= len(value):
                return
            if last:
                del value[int(tok)]
                return
            value = value[int(tok)]
        else:
            return


def canonical_text(text, ignore=()):
    value = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant,
                       parse_int=float)
    for pointer in ignore:
        remove_pointer(value, pointer)
    return canonical(value).encode("utf-8")


def key_bytes(body_text, ns="", endpoint="", schema_text=None, ignore=()):
    schema_hash = hashlib.sha256(canonical_text(schema_text)).digest() if schema_text is not None else bytes(32)
    h = hashlib.sha256()
    h.update(b"llmcache/key/v1\x00")
    h.update(ns.encode("utf-8") + b"\x00")
    h.update(endpoint.encode("utf-8") + b"\x00")
    h.update(schema_hash)
    h.update(canonical_text(body_text, ignore))
    return h.digest()


def key_hex(body_text, ns="", endpoint="", schema_text=None, ignore=()):
    return key_bytes(body_text, ns, endpoint, schema_text, ignore).hex()


def main(argv):
    ns, endpoint, schema, path, ignore = "", "", None, None, []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--ns":
            ns = args.pop(0)
        elif a == "--endpoint":
            endpoint = args.pop(0)
        elif a == "--schema":
            with open(args.pop(0), encoding="utf-8") as f:
                schema = f.read()
        elif a == "--ignore":
            ignore.append(args.pop(0))
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        else:
            path = a
    body = open(path, encoding="utf-8").read() if path else sys.stdin.read()
    print(key_hex(body, ns, endpoint, schema, ignore))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
