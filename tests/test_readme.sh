#!/bin/sh
# tests/test_readme.sh: README.md and the doc block at the top of llmcache.h show
# exactly the example that examples/readme.c compiles (the lines between README-BEGIN
# and README-END; in the header each behind " * ", ending on its first screen), so
# their code never rots; the C++ spelling they recommend (cfg{} for = {0}) compiles
# without warnings; and the README names the two set-up commands.
cd "$(dirname "$0")/.." || exit 1
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
snippet=$(sed -n '/README-BEGIN/,/README-END/p' examples/readme.c | sed '1d;$d')
check "examples/readme.c has the markers" '[ -n "$snippet" ]'
check "README.md shows the compiled example verbatim" 'python3 -c "import sys; sys.exit(0 if sys.argv[1] in open(\"README.md\").read() else 1)" "$snippet"'
check "llmcache.h's first 50 lines show the compiled example verbatim" 'python3 -c "
import sys
want = \"\n\".join(\" * \" + l if l else \" *\" for l in sys.argv[1].split(\"\n\"))
sys.exit(0 if want in \"\".join(open(\"llmcache.h\").readlines()[:50]) else 1)" "$snippet"'
check "README.md and llmcache.h show the C++ spelling" 'grep -q "llmcache_config cfg{};" README.md && grep -q "llmcache_config cfg{};" llmcache.h'
cxx=${CXX:-c++}
if command -v "$cxx" >/dev/null 2>&1; then
    mkdir -p build/readme_cxx
    sed 's/ = {0};/{};/' examples/readme.c > build/readme_cxx/readme.cc
    check "the example in C++ spelling compiles without warnings" \
        '"$cxx" -std=c++11 -Wall -Wextra -Wpedantic -Wshadow -Werror -I. -c build/readme_cxx/readme.cc -o build/readme_cxx/readme.o'
else
    echo "skipped: the example as C++ (needs g++)"
fi
check "README.md shows make demo" 'grep -q "^make demo" README.md'
check "README.md shows make test" 'grep -q "^make test" README.md'
check "the example runs" './build/examples/readme >/dev/null 2>&1 || { make -s build/examples/readme >/dev/null && ./build/examples/readme >/dev/null; }'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
