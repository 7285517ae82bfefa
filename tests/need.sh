#!/bin/sh
# tests/need.sh: what each optional suite needs beyond a C compiler, make and python3,
# and whether this machine has it. The one table of such needs: run_all.sh, the
# Makefile, fuzz/fuzz.mk and ports/portability.sh all ask here. Run from the
# repository root.
#
#   sh tests/need.sh SUITE         exit 0 when SUITE can run here; otherwise print
#                                  the Debian packages it lacks ("a, b") and exit 1
#   sh tests/need.sh --can SUITE...  print the SUITEs that can run here, one a line
#
# A SUITE is a test program's or script's base name (test_curl, test_cmake.sh), a
# make target (valgrind-test), an example or bench program (openai, bench_disk), a
# portability step (port-mips) or fuzz-libfuzzer; any other name needs nothing more.
# LLMCACHE_NEED_HIDE="curl redis-server ..." makes the named checks fail, to try the
# path of a machine without them (the words are the first argument of lib/cmd/py).
CC=${CC:-cc}
missing=""

hidden() { case " ${LLMCACHE_NEED_HIDE:-} " in *" $1 "*) return 0;; esac; return 1; }
lack() { case ", $missing, " in *", $1, "*) ;; *) missing="${missing:+$missing, }$1";; esac; }

# lib HEADER PACKAGE: the C compiler finds HEADER
lib() { { ! hidden "$1" && printf '#include <%s>\n' "$1" | $CC -E -x c - > /dev/null 2>&1; } || lack "$2"; }
# cmd COMMAND PACKAGE: COMMAND is on the PATH (or is that file)
cmd() { { ! hidden "$1" && command -v "$1" > /dev/null 2>&1; } || lack "$2"; }
# file PATH PACKAGE: PATH exists (headers for another system)
file() { { ! hidden "$1" && [ -e "$1" ]; } || lack "$2"; }
# py MODULE PACKAGE: Debian's python3 (or the one on the PATH) imports MODULE
py() {
    { ! hidden "$1" && { /usr/bin/python3 -c "import $1" || python3 -c "import $1"; } > /dev/null 2>&1; } || lack "$2"
}
# libfuzzer: ${FUZZ_CLANG:-clang} builds and runs a libFuzzer program
libfuzzer() {
    c=${FUZZ_CLANG:-clang}
    if hidden libfuzzer || ! command -v "$c" > /dev/null 2>&1; then lack "clang, libclang-rt-14-dev"; return; fi
    d=$(mktemp -d "${TMPDIR:-/tmp}/llmcache-need.XXXXXX") || { lack "mktemp"; return; }
    echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$d/p.c"
    "$c" -fsanitize=fuzzer,address,undefined -o "$d/p" "$d/p.c" > /dev/null 2>&1 && "$d/p" -runs=1 > /dev/null 2>&1 ||
        lack "libclang-rt-14-dev"
    rm -rf "$d"
}

needs() {
    missing=""
    case "$1" in
    test_curl|test_replay|openai|replay_test|test_replay_example.sh|cli_batch) lib curl/curl.h libcurl4-openssl-dev ;;
    test_cli_batch.sh)     lib curl/curl.h libcurl4-openssl-dev; cmd curl curl ;;
    serve)                 lib microhttpd.h libmicrohttpd-dev; lib curl/curl.h libcurl4-openssl-dev ;;
    test_serve.sh)         lib microhttpd.h libmicrohttpd-dev; lib curl/curl.h libcurl4-openssl-dev; cmd curl curl
                           cmd promtool prometheus; lib hiredis/hiredis.h libhiredis-dev; cmd redis-server redis-server ;;
    cli-redis)             lib hiredis/hiredis.h libhiredis-dev ;;
    test_serve_sdk.sh)     lib microhttpd.h libmicrohttpd-dev; lib curl/curl.h libcurl4-openssl-dev; cmd node nodejs
                           file tests/sdk/node_modules/openai "npm ci in tests/sdk" ;;
    test_redis)            lib hiredis/hiredis.h libhiredis-dev; cmd redis-server redis-server ;;
    bench_batch)           lib microhttpd.h libmicrohttpd-dev; lib curl/curl.h libcurl4-openssl-dev ;;
    test_redis_cluster|redis-cluster-long) lib hiredis/hiredis.h libhiredis-dev; cmd redis-server redis-server; cmd redis-cli redis-tools
                           cmd redis-sentinel redis-sentinel ;;
    test_redis_hostile|bench_redis) lib hiredis/hiredis.h libhiredis-dev ;;
    test_redis_python.sh)  lib hiredis/hiredis.h libhiredis-dev; cmd redis-server redis-server; py redis python3-redis ;;
    test_fake_provider.sh) cmd curl curl; cmd bash bash ;;
    test_acct_export.sh)   cmd promtool prometheus ;;
    test_cmake.sh)         cmd cmake cmake; cmd pkg-config pkgconf ;;
    bench_disk)            lib sqlite3.h libsqlite3-dev; lib lmdb.h liblmdb-dev ;;
    test_transform_libs|bench_xform) lib zstd.h libzstd-dev; lib sodium.h libsodium-dev ;;
    test_transform_redis)  lib hiredis/hiredis.h libhiredis-dev; cmd redis-server redis-server ;;
    cli-zstd)              lib zstd.h libzstd-dev ;;
    test_cli_transform.sh) lib zstd.h libzstd-dev; lib sodium.h libsodium-dev ;;
    cli-sodium)            lib sodium.h libsodium-dev ;;
    bench_scale)           lib lmdb.h liblmdb-dev ;;
    valgrind-test)         cmd valgrind valgrind ;;
    fuzz-libfuzzer)        libfuzzer ;;
    port-clang)            cmd "${PORT_CLANG:-clang}" clang ;;
    port-tcc)              cmd "${PORT_TCC:-tcc}" tcc ;;
    port-c++11|port-c++17) cmd "${PORT_CXX:-g++}" g++ ;;
    port-mips)             cmd "${PORT_MIPS_CC:-mips-linux-gnu-gcc}" "gcc-mips-linux-gnu, libc6-dev-mips-cross"
                           cmd "${PORT_MIPS_QEMU:-qemu-mips-static}" qemu-user-static ;;
    port-arm)              cmd "${PORT_ARM_CC:-arm-linux-gnueabihf-gcc}" "gcc-arm-linux-gnueabihf, libc6-dev-armhf-cross"
                           cmd "${PORT_ARM_QEMU:-qemu-arm-static}" qemu-user-static ;;
    port-windows)          cmd "${PORT_MINGW_CC:-x86_64-w64-mingw32-gcc}" gcc-mingw-w64-x86-64
                           cmd "${PORT_WINE:-/usr/lib/wine/wine64}" wine64 ;;
    port-msvc)             cmd "${PORT_CLANG:-clang}" clang; cmd "${PORT_LLD_LINK:-lld-link}" lld
                           file "${PORT_WINE_INC:-/usr/include/wine/wine}/windows/windows.h" libwine-dev
                           cmd "${PORT_WINE:-/usr/lib/wine/wine64}" wine64 ;;
    esac
    [ -z "$missing" ]
}

if [ "${1:-}" = --can ]; then
    shift
    for s in "$@"; do needs "$s" && echo "$s"; done
    exit 0
fi
needs "${1:?usage: sh tests/need.sh SUITE | --can SUITE...}" && exit 0
echo "$missing"
exit 1
