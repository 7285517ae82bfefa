#!/bin/sh
# tests/test_readme.sh: README.md shows exactly the example that examples/readme.c
# compiles (the lines between README-BEGIN and README-END), so the README's code
# never rots; and the README names the two set-up commands.
cd "$(dirname "$0")/.." || exit 1
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
snippet=$(sed -n '/README-BEGIN/,/README-END/p' examples/readme.c | sed '1d;$d')
check "examples/readme.c has the markers" '[ -n "$snippet" ]'
check "README.md shows the compiled example verbatim" 'python3 -c "import sys; sys.exit(0 if sys.argv[1] in open(\"README.md\").read() else 1)" "$snippet"'
check "README.md shows make demo" 'grep -q "^make demo" README.md'
check "README.md shows make test" 'grep -q "^make test" README.md'
check "the example runs" './build/examples/readme >/dev/null 2>&1 || { make -s build/examples/readme >/dev/null && ./build/examples/readme >/dev/null; }'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
