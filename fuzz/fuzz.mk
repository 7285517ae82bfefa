# fuzz/fuzz.mk: the fuzz targets (fuzz/fuzz_*.c), included by the Makefile. Run from
# the repository root.
#   make fuzz           each target under libFuzzer (clang) for FUZZ_SECONDS (60), one
#                       after the other; new inputs collect in build/fuzz/corpus_<target>,
#                       crashes in build/fuzz/artifacts/
#   make fuzz-regress   each target built with $(CC) as a plain replay program (ASan +
#                       UBSan) and run over its whole corpus fuzz/corpus/<target>; then,
#                       when clang's libFuzzer works here, each libFuzzer build for a
#                       short bounded run (FUZZ_REGRESS_SECONDS, FUZZ_REGRESS_RUNS), all
#                       at once, from a fixed seed (FUZZ_REGRESS_SEED, 1) so that `make test`
#                       makes the same inputs on every machine (a slower one a prefix of
#                       them): it never fails on a run of luck; exploring is make fuzz's job.
#                       Last line: "fuzz: N passed, N failed" (N counts targets).
#                       Without libFuzzer: the corpora only, and a line "skipped:
#                       fuzz-libfuzzer (needs ...)" (tests/need.sh).
#   make fuzz-long      fuzz-regress with FUZZ_LONG_SECONDS and FUZZ_LONG_RUNS and a new
#                       random seed each run (make check)
# A crash: replay it with build/fuzz/replay_<target> FILE (FUZZ_OPS_TRACE=1 for fuzz_ops).

FUZZ_CLANG           ?= clang
FUZZ_SECONDS         ?= 60
FUZZ_REGRESS_SECONDS ?= 10
FUZZ_REGRESS_RUNS    ?= 200000
FUZZ_REGRESS_SEED    ?= 1
FUZZ_LONG_SECONDS    ?= 60
FUZZ_LONG_RUNS       ?= 5000000
FUZZ_OUT              = build/fuzz
FUZZ_TARGETS          = $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_DEPS             = llmcache.h $(wildcard fuzz/*.h)
FUZZ_WARN             = -std=c99 -Wall -Wextra -Wpedantic -Werror
FUZZ_SAN              = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIBFUZZER        = -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_LIBS             = -lpthread -lm
FUZZ_LIMITS           = -rss_limit_mb=2048 -malloc_limit_mb=512
FUZZ_ENV              = UBSAN_OPTIONS=print_stacktrace=1
FUZZ_REPLAYS          = $(FUZZ_TARGETS:%=$(FUZZ_OUT)/replay_%)
FUZZ_BINS             = $(FUZZ_TARGETS:%=$(FUZZ_OUT)/fuzz_%)

.PHONY: fuzz fuzz-regress fuzz-long

$(FUZZ_OUT)/replay_%: fuzz/fuzz_%.c $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(CC) $(FUZZ_WARN) $(FUZZ_SAN) -DLLMCACHE_FUZZ_MAIN -o $@ $< $(FUZZ_LIBS)

$(FUZZ_OUT)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CLANG) $(FUZZ_WARN) $(FUZZ_LIBFUZZER) -o $@ $< $(FUZZ_LIBS)

# Whether clang can build and run a libFuzzer program here ("yes" or "no"); else
# tests/need.sh names the packages (clang, libclang-rt-14-dev).
FUZZ_PROBE = FUZZ_CLANG='$(FUZZ_CLANG)' sh tests/need.sh fuzz-libfuzzer > /dev/null && echo yes || echo no
FUZZ_NEEDS = FUZZ_CLANG='$(FUZZ_CLANG)' sh tests/need.sh fuzz-libfuzzer

# Sub-makes read this file alone (it is self-contained), whoever includes it.
FUZZ_MAKE = $(MAKE) --no-print-directory -f fuzz/fuzz.mk

fuzz:
	@lf=`$(FUZZ_PROBE)`; \
	if [ "$$lf" != yes ]; then echo "fuzz: $(FUZZ_CLANG) cannot build libFuzzer programs here (needs `$(FUZZ_NEEDS)`)"; echo "fuzz: 0 passed, 1 failed"; exit 1; fi; \
	pass=0; fail=0; mkdir -p $(FUZZ_OUT)/artifacts; \
	for t in $(FUZZ_TARGETS); do \
	  dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	  mkdir -p $(FUZZ_OUT)/corpus_$$t; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s (log: $(FUZZ_OUT)/fuzz_$$t.log)"; \
	  if $(FUZZ_MAKE) $(FUZZ_OUT)/fuzz_$$t > $(FUZZ_OUT)/fuzz_$$t.log 2>&1 && \
	     $(FUZZ_ENV) ./$(FUZZ_OUT)/fuzz_$$t $$dict $(FUZZ_LIMITS) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	       -artifact_prefix=$(FUZZ_OUT)/artifacts/$$t- $(FUZZ_OUT)/corpus_$$t fuzz/corpus/$$t >> $(FUZZ_OUT)/fuzz_$$t.log 2>&1; then \
	    pass=$$((pass + 1)); grep -a -E '^#[0-9]+' $(FUZZ_OUT)/fuzz_$$t.log | tail -n 1 | cut -c1-100; \
	  else \
	    fail=$$((fail + 1)); echo "---- fuzz_$$t FAILED ----"; tail -n 40 $(FUZZ_OUT)/fuzz_$$t.log 2>/dev/null; \
	  fi; \
	done; \
	echo "fuzz: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# Each target on its own, all at once: build both programs, replay the corpus, then
# the bounded libFuzzer run; build/fuzz/regress_<target>.rc records a failure.
fuzz-regress:
	@lf=`$(FUZZ_PROBE)`; mkdir -p $(FUZZ_OUT)/artifacts; \
	[ "$$lf" = yes ] || echo "skipped: fuzz-libfuzzer (needs `$(FUZZ_NEEDS)`)"; \
	for t in $(FUZZ_TARGETS); do \
	  log=$(FUZZ_OUT)/regress_$$t.log; rc=$(FUZZ_OUT)/regress_$$t.rc; rm -f $$log $$rc; \
	  ( bins=$(FUZZ_OUT)/replay_$$t; [ "$$lf" = yes ] && bins="$$bins $(FUZZ_OUT)/fuzz_$$t"; \
	    $(FUZZ_MAKE) $$bins > $$log 2>&1 || { echo "fuzz_$$t: build failed" >> $$log; echo 1 > $$rc; exit 0; }; \
	    $(FUZZ_ENV) ./$(FUZZ_OUT)/replay_$$t fuzz/corpus/$$t >> $$log 2>&1 || { echo 1 > $$rc; exit 0; }; \
	    [ "$$lf" = yes ] || exit 0; \
	    dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	    rm -rf $(FUZZ_OUT)/regress_corpus_$$t; mkdir -p $(FUZZ_OUT)/regress_corpus_$$t; \
	    $(FUZZ_ENV) ./$(FUZZ_OUT)/fuzz_$$t $$dict $(FUZZ_LIMITS) -max_total_time=$(FUZZ_REGRESS_SECONDS) \
	      -runs=$(FUZZ_REGRESS_RUNS) -seed=$(FUZZ_REGRESS_SEED) -print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/artifacts/$$t- \
	      $(FUZZ_OUT)/regress_corpus_$$t fuzz/corpus/$$t >> $$log 2>&1 || echo 1 > $$rc ) & \
	done; wait; \
	pass=0; fail=0; \
	for t in $(FUZZ_TARGETS); do \
	  log=$(FUZZ_OUT)/regress_$$t.log; \
	  if [ -f $(FUZZ_OUT)/regress_$$t.rc ]; then \
	    fail=$$((fail + 1)); echo "---- fuzz_$$t FAILED (log: $$log) ----"; tail -n 30 $$log; \
	  else \
	    pass=$$((pass + 1)); runs=`grep -a -E '^stat::number_of_executed_units' $$log | sed 's/.*: *//'`; \
	    echo "fuzz_$$t: clean; corpus: `grep -a ' inputs, ' $$log | tail -n 1 | sed 's/^[^:]*: //'`; libFuzzer: $${runs:-no} runs"; \
	  fi; \
	done; \
	echo "fuzz: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

fuzz-long:
	@$(FUZZ_MAKE) fuzz-regress FUZZ_REGRESS_SECONDS=$(FUZZ_LONG_SECONDS) FUZZ_REGRESS_RUNS=$(FUZZ_LONG_RUNS) FUZZ_REGRESS_SEED=0
