#!/bin/sh
# tests/test_cmake.sh: CMakeLists.txt as a game or tool project meets it. The
# consumer tests/cmake/ builds and runs (1) with add_subdirectory of this
# repository, (2) with find_package after cmake --install to a temporary prefix,
# (3) with pkg-config's flags from the installed llmcache.pc, and (4) once more with
# add_subdirectory and LLMCACHE_REDIS=ON when hiredis is here (the define reaches
# the consumer). Needs cmake and pkg-config. Last line "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/llmcache-cmake.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() { d=$1; shift; if "$@" > "$T/last.log" 2>&1; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $d"; tail -n 20 "$T/last.log"; fi; }
G="-DCMAKE_BUILD_TYPE=Release"

check "add_subdirectory: configure" cmake -S tests/cmake -B "$T/sub" $G -DLLMCACHE_SOURCE="$ROOT"
check "add_subdirectory: build" cmake --build "$T/sub"
check "add_subdirectory: the consumer runs" "$T/sub/consumer"

check "install: configure" cmake -S . -B "$T/lib" $G -DCMAKE_INSTALL_PREFIX="$T/prefix"
check "install: cmake --install" cmake --install "$T/lib"
check "install: the header is installed" test -f "$T/prefix/include/llmcache.h"
check "install: the header is the repository's" cmp llmcache.h "$T/prefix/include/llmcache.h"
pc=$(find "$T/prefix" -name llmcache.pc | head -n 1)
check "install: llmcache.pc is installed" test -n "$pc"
check "install: the package config is installed" sh -c "find '$T/prefix' -name llmcacheConfig.cmake | grep -q ."
# the version the header says (MAJOR.MINOR.PATCH macros), which find_package must accept
V=$(for p in MAJOR MINOR PATCH; do sed -n "s/^#define LLMCACHE_VERSION_$p \([0-9]*\).*/\1/p" llmcache.h; done | paste -sd.)
check "find_package: configure" cmake -S tests/cmake -B "$T/found" $G -DCMAKE_PREFIX_PATH="$T/prefix" -DLLMCACHE_WANT="$V"
check "find_package: build" cmake --build "$T/found"
check "find_package: the consumer runs" "$T/found/consumer"

PKG_CONFIG_PATH=$(dirname "$pc"); export PKG_CONFIG_PATH
check "pkg-config: the version is the header's" sh -c "[ \"\$(pkg-config --modversion llmcache)\" = '$V' ]"
check "pkg-config: build" sh -c "${CC:-cc} -std=c99 -Wall -Wextra -Werror -o '$T/pc-consumer' tests/cmake/main.c \
  \$(pkg-config --cflags --libs llmcache)"
check "pkg-config: the include path is the prefix's" sh -c "pkg-config --cflags llmcache | grep -q -- '-I$T/prefix/include'"
check "pkg-config: the consumer runs" "$T/pc-consumer"

if sh tests/need.sh test_redis_hostile > /dev/null; then
    check "LLMCACHE_REDIS=ON: configure" cmake -S tests/cmake -B "$T/redis" $G -DLLMCACHE_SOURCE="$ROOT" -DLLMCACHE_REDIS=ON
    check "LLMCACHE_REDIS=ON: build" cmake --build "$T/redis"
    check "LLMCACHE_REDIS=ON: the define reaches the consumer" grep -rq -- '-DLLMCACHE_REDIS' "$T/redis/CMakeFiles/consumer.dir/flags.make"
else
    echo "skipped: test_cmake.sh's LLMCACHE_REDIS=ON part (needs libhiredis-dev)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
