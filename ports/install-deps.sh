#!/bin/sh
# ports/install-deps.sh: the Debian packages `make portability` needs (cross
# compilers, qemu-user, tcc, mingw-w64, wine, and Wine's headers with lld for the
# MSVC-mode step). Run as root; .ci/run calls it.
# Idempotent: packages already present are left alone.
set -eu
PKGS="tcc gcc-mips-linux-gnu libc6-dev-mips-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
      qemu-user-static gcc-mingw-w64-x86-64 wine64 libwine-dev lld valgrind clang g++"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && { echo "install-deps: all present"; exit 0; }
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
    apt-get install -y --no-install-recommends $missing && exit 0
    sleep 5; apt-get update -qq || true
done
exit 1
