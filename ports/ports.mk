# ports/ports.mk: the portability matrix (issue 7), included by the Makefile.
#   make portability    every step below, one line each, then
#                       "portability: N passed, N failed" (N = test programs)
#   make port-STEP      one step (port-gcc, port-mips, port-windows, ...)
# Installs nothing: ports/install-deps.sh brings tcc, clang, lld, the MIPS, ARM and
# mingw-w64 cross compilers, qemu-user-static, wine64 and libwine-dev (as root,
# Debian 12). A step whose tools are missing prints "skipped: port-STEP (needs
# PACKAGES)" (tests/need.sh); LLMCACHE_REQUIRE_ALL=1 makes that a failure.
# Steps run PORT_JOBS at a time; each writes its logs to $(PORT_B)/STEP/.
#   gcc, clang   C99, every warning an error: every test that needs no extra library
#   tcc          test_cache, test_canon, test_keys, test_files
#   c++11, c++17 the tests (test_log aside) compiled as C++ with g++ -x c++
#   mips, arm    32-bit big-endian MIPS and 32-bit ARM, static, under qemu-user;
#                plus a log written here opens there with the same bytes, and back
#   windows      mingw-w64, the tests under wine (file backend on Win32), and the
#                same log exchange with Linux
#   msvc         clang in MSVC mode against Wine's MSVC-compatible headers, lld-link,
#                the tests under wine: once as clang-cl builds them, once as cl.exe
#                sees the header (__clang__ undefined: the _MSC_VER paths); and C++
#   no-threads, static, alloc, no-files   LLMCACHE_NO_THREADS, LLMCACHE_STATIC, the
#                allocator macros (and one alone refused), LLMCACHE_NO_FILES
B           ?= build
PORT_B       = $(B)/ports
PORT_JOBS    = 2
PORT_TIMEOUT = 600
PORT_WARN    = -std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror
PORT_GCC     = gcc
PORT_CLANG   = clang
PORT_TCC     = tcc
PORT_CXX     = g++
PORT_MIPS_CC   = mips-linux-gnu-gcc
PORT_MIPS_QEMU = qemu-mips-static
PORT_ARM_CC    = arm-linux-gnueabihf-gcc
PORT_ARM_QEMU  = qemu-arm-static
PORT_MINGW_CC  = x86_64-w64-mingw32-gcc
PORT_WINE      = /usr/lib/wine/wine64
PORT_LLD_LINK  = lld-link
PORT_WINE_INC  = /usr/include/wine/wine
PORT_WINE_LIB  = /usr/lib/x86_64-linux-gnu/wine/x86_64-windows
# the slow steps first, so that two jobs finish together
PORT_STEPS   = windows msvc mips arm gcc clang c++11 c++17 tcc no-threads static alloc no-files
PORT_ENV     = PORT_B='$(PORT_B)' PORT_TIMEOUT='$(PORT_TIMEOUT)' PORT_WARN='$(PORT_WARN)' \
               PORT_GCC='$(PORT_GCC)' PORT_CLANG='$(PORT_CLANG)' PORT_TCC='$(PORT_TCC)' PORT_CXX='$(PORT_CXX)' \
               PORT_MIPS_CC='$(PORT_MIPS_CC)' PORT_MIPS_QEMU='$(PORT_MIPS_QEMU)' PORT_ARM_CC='$(PORT_ARM_CC)' \
               PORT_ARM_QEMU='$(PORT_ARM_QEMU)' PORT_MINGW_CC='$(PORT_MINGW_CC)' PORT_WINE='$(PORT_WINE)' \
               PORT_LLD_LINK='$(PORT_LLD_LINK)' PORT_WINE_INC='$(PORT_WINE_INC)' PORT_WINE_LIB='$(PORT_WINE_LIB)'

# (wherever the Makefile includes this file, it leaves the default goal alone)
PORT_GOAL   := $(.DEFAULT_GOAL)

.PHONY: portability $(PORT_STEPS:%=port-%)

# (the steps run in a make of this file alone, so the including Makefile's own
# targets never run in parallel with them)
portability:
	@mkdir -p $(PORT_B)
	@$(MAKE) --no-print-directory -f ports/ports.mk -j$(PORT_JOBS) B='$(B)' $(PORT_STEPS:%=port-%)
	@sh ports/portability.sh summary $(PORT_STEPS)

$(PORT_STEPS:%=port-%):
	@$(PORT_ENV) sh ports/portability.sh step $(@:port-%=%) || true

.DEFAULT_GOAL := $(PORT_GOAL)
