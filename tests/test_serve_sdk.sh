#!/usr/bin/env bash
# The official `openai` and `@anthropic-ai/sdk` npm packages (installed by
# `npm ci` in tests/sdk; .ci/run does it) through `llmcache serve` to the fake
# provider: tests/sdk/sdk_test.mjs, driven by tests/test_serve.py --sdk.
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
[ -x "$B/llmcache" ] || make --no-print-directory "$B/llmcache" >/dev/null || exit 1
exec python3 tests/test_serve.py --sdk "$B"
