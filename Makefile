# llmcache: build, test, demo, bench. POSIX make; run from the repository root.
#   make          examples and the command-line tool into build/
#   make demo     runs examples/quickstart.c (no network, no API key)
#   make replay-demo  replays the checked-in cassette (examples/replay_test.c)
#   make test     every test that this machine can run, plain and under ASan+UBSan,
#                 and the fuzz corpora; needs only a C compiler, make and python3.
#                 A suite whose packages are missing prints "skipped: SUITE (needs
#                 PACKAGE)" (tests/need.sh); LLMCACHE_REQUIRE_ALL=1 (CI) makes each
#                 skip a failure. Last line "N passed, N failed"
#   make check    make test plus ThreadSanitizer, valgrind, a long chaos run, the
#                 portability matrix and longer fuzzing
#   make bench    benchmarks (figures and ratios)
#   make fuzz     each fuzz target under libFuzzer for FUZZ_SECONDS (see fuzz/fuzz.mk)
#   make portability  gcc, clang, tcc, C++, MIPS and ARM under qemu, Windows under
#                 wine (mingw-w64, and clang in MSVC mode); see ports/ports.mk
# CMake users: CMakeLists.txt (target llmcache::llmcache, install, find_package,
# pkg-config); tests/test_cmake.sh checks it.

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

# The optional programs whose packages this machine has (tests/need.sh); the rest
# are neither built by test-build nor run (make test prints their skip lines).
OPT_PROGS = test_curl test_replay test_redis test_redis_hostile test_redis_cluster openai replay_test test_transform_libs test_transform_redis serve
CAN      := $(shell CC='$(CC)' sh tests/need.sh --can $(OPT_PROGS))
CANNOT    = $(filter-out $(CAN),$(OPT_PROGS))

TEST_SRCS = $(wildcard tests/test_*.c)
TEST_ALL  = $(TEST_SRCS:tests/%.c=%)
TEST_HERE = $(filter-out $(CANNOT),$(TEST_ALL))
TEST_BINS = $(TEST_HERE:%=$(B)/tests/%)
TEST_ASAN = $(TEST_HERE:%=$(B)/asan/%)
# examples/transform_*.c are transforms (no main): the tests, the CLI and bench link them
XFORM_SRCS = $(wildcard examples/transform_*.c)
EXAMPLES  = $(filter-out $(CANNOT:%=$(B)/examples/%),$(patsubst examples/%.c,$(B)/examples/%,$(filter-out $(XFORM_SRCS),$(wildcard examples/*.c))))
TOOL_SRCS = $(wildcard tools/*.c)
TOOL      = $(if $(TOOL_SRCS),$(B)/llmcache)

# Programs built with an optional part of the library: extra flags and libraries.
CURL_PROGS  = $(B)/examples/openai $(B)/examples/replay_test $(foreach d,tests asan tsan,$(B)/$(d)/test_curl $(B)/$(d)/test_replay)
REDIS_PROGS = $(foreach d,tests asan tsan,$(B)/$(d)/test_redis $(B)/$(d)/test_redis_hostile $(B)/$(d)/test_redis_cluster)
$(CURL_PROGS):  XFLAGS = -DLLMCACHE_CURL
$(CURL_PROGS):  XLIBS  = -lcurl
$(REDIS_PROGS): XFLAGS = -DLLMCACHE_REDIS
$(REDIS_PROGS): XLIBS  = -lhiredis
XFORM_PROGS = $(foreach d,tests asan tsan,$(B)/$(d)/test_transform_libs)
$(XFORM_PROGS): XFLAGS = examples/transform_zstd.c examples/transform_sodium.c
$(XFORM_PROGS): XLIBS  = -lzstd -lsodium
$(foreach d,tests asan tsan,$(B)/$(d)/test_transform_redis): XFLAGS = -DLLMCACHE_REDIS
$(foreach d,tests asan tsan,$(B)/$(d)/test_transform_redis): XLIBS  = -lhiredis
# The command-line tool loads the reference transforms whose libraries are here
# (--zstd, --zstd-dict, --key-file, train-dict; tests/need.sh cli-zstd, cli-sodium),
# and has the Redis tier where hiredis is (serve --redis; cli-redis).
CLI_CAN   := $(shell CC='$(CC)' sh tests/need.sh --can cli-zstd cli-sodium cli-redis)
CLI_XFORM  = $(if $(filter cli-zstd,$(CLI_CAN)),-DCLI_ZSTD examples/transform_zstd.c -lzstd) \
             $(if $(filter cli-sodium,$(CLI_CAN)),-DCLI_SODIUM examples/transform_sodium.c -lsodium) \
             $(if $(filter cli-redis,$(CLI_CAN)),-DLLMCACHE_REDIS -lhiredis)

# the default goal comes before the fragments' rules
all:

include bench/bench.mk
include fuzz/fuzz.mk
include ports/ports.mk

.PHONY: all demo test test-build check chaos-long redis-cluster-long compile-test valgrind-test bench clean

all: $(EXAMPLES) $(TOOL)

$(B)/examples/%: examples/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) $(XFLAGS) -I. -o $@ $< $(LIBS) $(XLIBS)

# The tool's batch command uses the libcurl transport when libcurl is here;
# `llmcache serve` (tools/cli_serve.c) is built where libmicrohttpd and libcurl are
# (the proxy's test also runs the tool built with ASan+UBSan).
TOOL_CURL := $(if $(shell CC='$(CC)' sh tests/need.sh --can cli_batch),-DLLMCACHE_CURL)
SERVE_ASAN = $(if $(filter serve,$(CAN)),$(B)/asan/llmcache)
$(B)/llmcache $(B)/asan/llmcache: XFLAGS = $(TOOL_CURL) $(if $(filter serve,$(CAN)),-DLLMCACHE_SERVE)
$(B)/llmcache $(B)/asan/llmcache: XLIBS  = $(if $(filter serve,$(CAN)),-lmicrohttpd) $(if $(TOOL_CURL),-lcurl)
$(B)/llmcache $(B)/asan/llmcache: $(TOOL_SRCS) tools/cli.h $(HDRS) $(XFORM_SRCS) $(XFORM_SRCS:.c=.h)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(if $(findstring asan,$@),$(SAN),$(OPT)) $(XFLAGS) -I. -o $@ $(TOOL_SRCS) $(CLI_XFORM) $(LIBS) $(XLIBS)

$(B)/tests/%: tests/%.c $(HDRS) $(wildcard tests/*.h) $(XFORM_SRCS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) $(XFLAGS) -I. -o $@ $< $(LIBS) $(XLIBS)

$(B)/asan/%: tests/%.c $(HDRS) $(wildcard tests/*.h) $(XFORM_SRCS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(SAN) $(XFLAGS) -I. -o $@ $< $(LIBS) $(XLIBS)

$(B)/tsan/%: tests/%.c $(HDRS) $(wildcard tests/*.h)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(TSAN) $(XFLAGS) -I. -o $@ $< $(LIBS) $(XLIBS)

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

# Testing with recorded answers (README): the cassette in git, replayed offline by
# examples/replay_test.c (no provider, no key); LLMCACHE_MODE=record re-records it.
.PHONY: replay-demo
replay-demo: $(B)/examples/replay_test $(B)/llmcache
	rm -f $(B)/ci.cache $(B)/ci.cache-shm
	./$(B)/llmcache import $(B)/ci.cache examples/cassettes/npc.jsonl
	LLMCACHE_MODE=replay ./$(B)/examples/replay_test $(B)/ci.cache

# The header as C99 and C++11/17 with every warning, and two translation units
# that both include it (one with the implementation) to catch duplicate symbols;
# the compile-time options; and two configurations that must be refused.
CB = $(B)/compile
CXXWARN = -Wall -Wextra -Wpedantic -Wshadow -Werror
COMPILE_OBJS = $(CB)/impl_nothreads.o $(CB)/impl_static.o $(CB)/impl_nofiles.o $(CB)/impl_cxx17.o

$(CB)/impl.o: tests/compile/impl.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) -I. -c $< -o $@
$(CB)/other.o: tests/compile/other.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) -I. -c $< -o $@
$(CB)/impl_cxx11.o $(CB)/other_cxx.o: CXXSTD = -std=c++11
$(CB)/impl_cxx17.o: CXXSTD = -std=c++17
$(CB)/impl_cxx11.o $(CB)/impl_cxx17.o: tests/compile/impl.c $(HDRS)
	@mkdir -p $(@D)
	$(CXX) $(CXXSTD) $(CXXWARN) -I. -x c++ -c $< -o $@
$(CB)/other_cxx.o: tests/compile/other.c $(HDRS)
	@mkdir -p $(@D)
	$(CXX) $(CXXSTD) $(CXXWARN) -I. -x c++ -c $< -o $@
$(CB)/two_units: $(CB)/impl.o $(CB)/other.o
	$(CC) -o $@ $(CB)/impl.o $(CB)/other.o $(LIBS)
$(CB)/two_units_cxx: $(CB)/impl_cxx11.o $(CB)/other_cxx.o
	$(CXX) -o $@ $(CB)/impl_cxx11.o $(CB)/other_cxx.o $(LIBS)
$(CB)/impl_nothreads.o: OPTION = -DLLMCACHE_NO_THREADS
$(CB)/impl_static.o:    OPTION = -DLLMCACHE_STATIC
$(CB)/impl_nofiles.o:   OPTION = -DLLMCACHE_NO_FILES
$(CB)/impl_nothreads.o $(CB)/impl_static.o $(CB)/impl_nofiles.o: tests/compile/impl.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPTION) -I. -c $< -o $@

compile-test: $(CB)/two_units $(CB)/two_units_cxx $(COMPILE_OBJS)
	./$(CB)/two_units
	./$(CB)/two_units_cxx
	@if $(CC) $(CSTD) -I. -c tests/compile/partial_alloc.c -o $(CB)/partial.o 2>/dev/null; \
	  then echo "LLMCACHE_MALLOC alone was accepted"; exit 1; else echo "LLMCACHE_MALLOC alone is refused, as it should be"; fi
	@if $(CC) $(CSTD) -I. -c tests/compile/big_value.c -o $(CB)/big.o 2>$(CB)/big.err; \
	  then echo "a LLMCACHE_MAX_VALUE over the format's 32-bit lengths was accepted"; exit 1; \
	  elif grep -q max_value_fits_the_format $(CB)/big.err; then echo "a LLMCACHE_MAX_VALUE over the format's 32-bit lengths is refused, as it should be"; \
	  else cat $(CB)/big.err; exit 1; fi
	@echo "compile: 1 passed, 0 failed"

TEST_HELPERS = $(B)/tests/log_writer $(B)/tests/powerloss_shim.so

test-build: $(TEST_BINS) $(TEST_ASAN) $(TEST_HELPERS) $(SERVE_ASAN) all

# Every test program (one this machine cannot build prints its skip line), the
# shell tests, the benchmarks' build and the fuzz corpora.
TEST_RUN = compile-test $(TEST_ALL:%=$(B)/tests/%) $(TEST_ALL:%=$(B)/asan/%) \
           $(wildcard tests/test_*.sh) bench-build fuzz-regress
test: test-build
	@sh tests/run_all.sh $(B) $(TEST_RUN)

# The threaded tests under ThreadSanitizer (test_files: two handles and the
# flusher threads; test_log: each of its processes under TSan), every test
# program under valgrind memcheck, the long chaos run, the portability matrix
# and each fuzz target under libFuzzer for FUZZ_LONG_SECONDS.
TSAN_TESTS = $(B)/tsan/test_call $(B)/tsan/test_batch $(B)/tsan/test_flight_live $(B)/tsan/test_cache $(B)/tsan/test_files \
             $(B)/tsan/test_log $(B)/tsan/test_acct $(if $(filter test_redis_cluster,$(CAN)),$(B)/tsan/test_redis_cluster)
check: test $(TSAN_TESTS)
	@sh tests/run_all.sh $(B) $(TSAN_TESTS) chaos-long redis-cluster-long valgrind-test portability fuzz-long

# tests/test_redis_cluster.c's long form: 2000 slots resharded under traffic too.
redis-cluster-long: $(B)/tests/test_redis_cluster
	LLMCACHE_CLUSTER_LONG=1 ./$(B)/tests/test_redis_cluster

# The chaos test of tests/test_chaos.c with a main run of CHAOS_LONG seconds
# (make test runs it for 12 s, 5 s under ASan).
CHAOS_LONG = 120
chaos-long: $(B)/tests/test_chaos
	CHAOS_SECONDS=$(CHAOS_LONG) ./$(B)/tests/test_chaos

# Any memcheck error, or a block definitely lost, fails a program. test_log,
# test_shm and test_repair run without the leak check: their forked children exit with the parent's log still
# mapped (256 MiB, mostly past the end of the file), which the checker scans page
# by page for minutes; test_files and test_alloc check the log code for leaks.
# test_chaos runs its main run for 5 s there (its workers are checked too).
# test_index runs without its crash test (LLMCACHE_TEST_NO_FORK): the children it
# kills at a test point would be leak-checked with the log mapped, for minutes.
VALGRIND = valgrind -q --error-exitcode=9
valgrind-test: $(TEST_BINS) $(TEST_HELPERS)
	@p=0; f=0; for t in $(TEST_BINS); do \
	  case $$t in */test_log|*/test_shm|*/test_repair) v="$(VALGRIND) --leak-check=no";; \
	               */test_chaos) v="env CHAOS_SECONDS=5 $(VALGRIND) --leak-check=full --errors-for-leak-kinds=definite";; \
	               */test_index) v="env LLMCACHE_TEST_NO_FORK=1 $(VALGRIND) --leak-check=full --errors-for-leak-kinds=definite";; \
	                       *) v="$(VALGRIND) --leak-check=full --errors-for-leak-kinds=definite";; esac; \
	  if $$v $$t > $(B)/valgrind.log 2>&1; then p=$$((p + 1)); echo "$$t: clean"; \
	  else f=$$((f + 1)); tail -n 40 $(B)/valgrind.log; echo "$$t: FAILED under valgrind"; fi; done; \
	echo "valgrind: $$p passed, $$f failed"; [ $$f -eq 0 ]


clean:
	rm -rf $(B)
