# llmcache: build, test, demo, bench. POSIX make; run from the repository root.
#   make          examples and the command-line tool into build/
#   make demo     runs examples/quickstart.c (no network, no API key)
#   make test     every test, plain and under ASan+UBSan, the fuzz corpora, the
#                 portability matrix; last line "N passed, N failed"
#   make check    make test plus a long chaos run, ThreadSanitizer and valgrind runs
#   make bench    benchmarks (figures and ratios)
#   make fuzz     each fuzz target under libFuzzer for FUZZ_SECONDS (see fuzz/fuzz.mk)
#   make portability  gcc, clang, tcc, C++, MIPS and ARM under qemu, Windows under wine
#                 (needs ports/install-deps.sh; see ports/ports.mk)

CC      ?= cc
CXX     ?= c++
WARN     = -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Werror
CSTD     = -std=c99
OPT      = -O2 -g
LIBS     = -lpthread -lm
SAN      = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
B        = build
HDRS     = llmcache.h
TSAN     = -O1 -g -fsanitize=thread
# A source whose first line is "/* needs: FLAGS */" is built with FLAGS (e.g. libcurl).
NEEDS    = `sed -n '1s|^/\* needs: \(.*\) \*/$$|\1|p' $<`

TEST_SRCS = $(wildcard tests/test_*.c)
TEST_BINS = $(TEST_SRCS:tests/%.c=$(B)/tests/%)
TEST_ASAN = $(TEST_SRCS:tests/%.c=$(B)/asan/%)
EXAMPLES  = $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
TOOL_SRCS = $(wildcard tools/*.c)
TOOL      = $(if $(TOOL_SRCS),$(B)/llmcache)

# the default goal comes before the fragments' rules
all:

include bench/bench.mk
include fuzz/fuzz.mk
include ports/ports.mk

.PHONY: all demo test test-build check chaos-long compile-test valgrind-test bench clean

all: $(EXAMPLES) $(TOOL)

$(B)/examples/%: examples/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) -I. -o $@ $< $(LIBS) $(NEEDS)

$(B)/llmcache: $(TOOL_SRCS) tools/cli.h $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) -I. -o $@ $(TOOL_SRCS) $(LIBS)

$(B)/tests/%: tests/%.c $(HDRS) $(wildcard tests/*.h)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) -I. -o $@ $< $(LIBS) $(NEEDS)

$(B)/asan/%: tests/%.c $(HDRS) $(wildcard tests/*.h)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(SAN) -I. -o $@ $< $(LIBS) $(NEEDS)

$(B)/tsan/%: tests/%.c $(HDRS) $(wildcard tests/*.h)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(TSAN) -I. -o $@ $< $(LIBS) $(NEEDS)

# Helpers of tests/test_log.c: a writer it kills, and an LD_PRELOAD shim that
# snapshots the log at every fsync (what a power loss would leave).
$(B)/tests/log_writer: tests/log_writer.c tests/log_common.h $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) -I. -o $@ tests/log_writer.c $(LIBS)

$(B)/tests/powerloss_shim.so: tests/powerloss_shim.c
	@mkdir -p $(@D)
	$(CC) -std=gnu99 -Wall -Wextra -Werror -O2 -shared -fPIC -o $@ tests/powerloss_shim.c -ldl

demo: $(B)/examples/quickstart
	./$(B)/examples/quickstart

# The header as C99 and C++11/17 with every warning, and two translation units
# that both include it (one with the implementation) to catch duplicate symbols.
compile-test:
	@mkdir -p $(B)/compile
	@printf '#define LLMCACHE_IMPLEMENTATION\n#include "llmcache.h"\nint other(void);\nint main(void) { return other(); }\n' > $(B)/compile/impl.c
	@printf '#include "llmcache.h"\nint other(void) { char h[65]; llmcache_key k; memset(&k, 0, sizeof k); llmcache_key_hex(&k, h); return h[0] == 0x30 ? 0 : 1; }\n' > $(B)/compile/other.c
	@printf '#include <string.h>\n' | cat - $(B)/compile/other.c > $(B)/compile/other2.c
	$(CC) $(CSTD) $(WARN) -I. -c $(B)/compile/impl.c -o $(B)/compile/impl.o
	$(CC) $(CSTD) $(WARN) -I. -c $(B)/compile/other2.c -o $(B)/compile/other.o
	$(CC) -o $(B)/compile/two_units $(B)/compile/impl.o $(B)/compile/other.o $(LIBS)
	./$(B)/compile/two_units
	$(CXX) -std=c++11 -Wall -Wextra -Wpedantic -Wshadow -Werror -I. -x c++ -c $(B)/compile/impl.c -o $(B)/compile/impl_cxx11.o
	$(CXX) -std=c++17 -Wall -Wextra -Wpedantic -Wshadow -Werror -I. -x c++ -c $(B)/compile/impl.c -o $(B)/compile/impl_cxx17.o
	$(CXX) -std=c++11 -Wall -Wextra -Wpedantic -Wshadow -Werror -I. -x c++ -c $(B)/compile/other2.c -o $(B)/compile/other_cxx.o
	$(CXX) -o $(B)/compile/two_units_cxx $(B)/compile/impl_cxx11.o $(B)/compile/other_cxx.o $(LIBS)
	./$(B)/compile/two_units_cxx
	$(CC) $(CSTD) $(WARN) -DLLMCACHE_NO_THREADS -I. -c $(B)/compile/impl.c -o $(B)/compile/impl_nothreads.o
	$(CC) $(CSTD) $(WARN) -DLLMCACHE_STATIC -I. -c $(B)/compile/impl.c -o $(B)/compile/impl_static.o
	$(CC) $(CSTD) $(WARN) -DLLMCACHE_NO_FILES -I. -c $(B)/compile/impl.c -o $(B)/compile/impl_nofiles.o
	@printf '#define LLMCACHE_MALLOC(s) malloc(s)\n#include "llmcache.h"\n' > $(B)/compile/partial_alloc.c
	@if $(CC) $(CSTD) -DLLMCACHE_IMPLEMENTATION -I. -c $(B)/compile/partial_alloc.c -o $(B)/compile/partial.o 2>/dev/null; \
	  then echo "LLMCACHE_MALLOC alone was accepted"; exit 1; else echo "LLMCACHE_MALLOC alone is refused, as it should be"; fi
	@printf '#define LLMCACHE_IMPLEMENTATION\n#define LLMCACHE_MAX_VALUE 5000000000ull\n#include "llmcache.h"\n' > $(B)/compile/big_value.c
	@if $(CC) $(CSTD) -I. -c $(B)/compile/big_value.c -o $(B)/compile/big.o 2>$(B)/compile/big.err; \
	  then echo "a LLMCACHE_MAX_VALUE over the format's 32-bit lengths was accepted"; exit 1; \
	  elif grep -q max_value_fits_the_format $(B)/compile/big.err; then echo "a LLMCACHE_MAX_VALUE over the format's 32-bit lengths is refused, as it should be"; \
	  else cat $(B)/compile/big.err; exit 1; fi
	@echo "compile: 1 passed, 0 failed"

TEST_HELPERS = $(B)/tests/log_writer $(B)/tests/powerloss_shim.so

test-build: $(TEST_BINS) $(TEST_ASAN) $(TEST_HELPERS) $(BENCH_PROGS) all

test: test-build
	@sh tests/run_all.sh $(B) compile-test $(TEST_BINS) $(TEST_ASAN) $(wildcard tests/test_*.sh) fuzz-regress portability

# The threaded tests under ThreadSanitizer (test_files: two handles and the
# flusher threads; test_log: each of its processes under TSan), and every test
# program under valgrind memcheck.
TSAN_TESTS = $(B)/tsan/test_call $(B)/tsan/test_cache $(B)/tsan/test_files $(B)/tsan/test_log
check: test $(TSAN_TESTS)
	@sh tests/run_all.sh $(B) $(TSAN_TESTS) chaos-long valgrind-test

# The chaos test of tests/test_chaos.c with a main run of CHAOS_LONG seconds
# (make test runs it for 12 s, 5 s under ASan).
CHAOS_LONG = 120
chaos-long: $(B)/tests/test_chaos
	CHAOS_SECONDS=$(CHAOS_LONG) ./$(B)/tests/test_chaos

# Any memcheck error, or a block definitely lost, fails a program. test_log runs
# without the leak check: its forked children exit with the parent's log still
# mapped (256 MiB, mostly past the end of the file), which the checker scans page
# by page for minutes; test_files and test_alloc check the log code for leaks.
# test_chaos runs its main run for 5 s there (its workers are checked too).
VALGRIND = valgrind -q --error-exitcode=9
valgrind-test: $(TEST_BINS) $(TEST_HELPERS)
	@p=0; f=0; for t in $(TEST_BINS); do \
	  case $$t in */test_log) v="$(VALGRIND) --leak-check=no";; \
	               */test_chaos) v="env CHAOS_SECONDS=5 $(VALGRIND) --leak-check=full --errors-for-leak-kinds=definite";; \
	                       *) v="$(VALGRIND) --leak-check=full --errors-for-leak-kinds=definite";; esac; \
	  if $$v $$t > $(B)/valgrind.log 2>&1; then p=$$((p + 1)); echo "$$t: clean"; \
	  else f=$$((f + 1)); tail -n 40 $(B)/valgrind.log; echo "$$t: FAILED under valgrind"; fi; done; \
	echo "valgrind: $$p passed, $$f failed"; [ $$f -eq 0 ]


clean:
	rm -rf $(B)
