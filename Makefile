# llmcache: build, test, demo, bench. POSIX make; run from the repository root.
#   make          examples and the command-line tool into build/
#   make demo     runs examples/quickstart.c (no network, no API key)
#   make test     every test, plain and under ASan+UBSan; last line "N passed, N failed"
#   make check    make test plus ThreadSanitizer and valgrind runs
#   make bench    benchmarks (figures and ratios)

CC      ?= cc
CXX     ?= c++
WARN     = -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Werror
CSTD     = -std=c99
OPT      = -O2 -g
LIBS     = -lpthread -lm
SAN      = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
B        = build

TEST_SRCS = $(wildcard tests/test_*.c)
TEST_BINS = $(TEST_SRCS:tests/%.c=$(B)/tests/%)
TEST_ASAN = $(TEST_SRCS:tests/%.c=$(B)/asan/%)
EXAMPLES  = $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
TOOL_SRCS = $(wildcard tools/*.c)
TOOL      = $(if $(TOOL_SRCS),$(B)/llmcache)

.PHONY: all demo test test-build check compile-test bench clean

all: $(EXAMPLES) $(TOOL)

$(B)/examples/%: examples/%.c llmcache.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) -I. -o $@ $< $(LIBS)

$(B)/llmcache: $(TOOL_SRCS) llmcache.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) -I. -o $@ $(TOOL_SRCS) $(LIBS)

$(B)/tests/%: tests/%.c llmcache.h tests/test.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) -I. -o $@ $< $(LIBS)

$(B)/asan/%: tests/%.c llmcache.h tests/test.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(SAN) -I. -o $@ $< $(LIBS)

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
	$(CC) $(CSTD) $(WARN) '-DLLMCACHE_MALLOC(s)=malloc(s)' '-DLLMCACHE_REALLOC(p,s)=realloc(p,s)' '-DLLMCACHE_FREE(p)=free(p)' -include stdlib.h -I. -c $(B)/compile/impl.c -o $(B)/compile/impl_alloc.o
	@echo "compile: 1 passed, 0 failed"

test-build: $(TEST_BINS) $(TEST_ASAN) all

test: test-build
	@sh tests/run_all.sh $(B) compile-test $(TEST_BINS) $(TEST_ASAN) $(wildcard tests/test_*.sh)

check: test
	@echo "(TSan and valgrind runs join here with the threaded tests)"

-include bench/bench.mk

clean:
	rm -rf $(B)
