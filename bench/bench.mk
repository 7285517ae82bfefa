# bench/bench.mk - `make bench` (included by the Makefile; run from the repository root).
# Builds into build/bench/ with plain -O2 and runs, one after the other:
#   bench_mem     the memory tier: hit, put, key derivation, memory per entry, scaling
#   bench_call    llmcache_call: a hit and the miss path's overhead, provider excluded
#   bench_canon   RFC 8785 canonicalization speed
#   bench_disk    the log file beside SQLite (set up as python-diskcache does) and LMDB
#   bench_redis   a hit served by Redis beside a bare hiredis GET (starts redis-server)
#   bench_batch   llmcache_call_many: 10,000 requests at concurrency 64 against a 50 ms
#                 provider (libcurl, a local libmicrohttpd server), then all hits
#   bench_xform   values at rest: stored bytes, put, cold get and hit, plain / zstd /
#                 zstd with a dictionary / XChaCha20-Poly1305 (libzstd, libsodium)
#   bench_scale   10^6 entries: reopen with the index snapshot vs read() vs none, index
#                 bytes per entry, get_with hit and log put beside LMDB, page faults
#   bench_python.py  functools.lru_cache, dict, diskcache.Cache, redis-py
#   bench_serve.py   `llmcache serve` under wrk beside nginx proxy_cache and the fake
#                    provider (BENCH_SERVE_SECONDS per run, default 5; needs wrk, nginx)
# then prints every RESULT and GOAL line again as one table. A missed goal prints MISS;
# only a crash fails the target. Needs what .ci/run installs (libsqlite3-dev,
# liblmdb-dev, libhiredis-dev, redis-server, python3-diskcache, python3-redis).
# About 3 minutes on 2 cores. The machine is shared: compare ratios from one run.
# `make bench-build` (part of make test) builds the programs whose libraries are
# here (tests/need.sh) and prints a skip line for the others.
# bench/bench.h holds the timing helpers every program shares.

BENCH_DIR    = build/bench
BENCH_CFLAGS = -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -I.
BENCH_LIBS   = -lpthread -lm
BENCH_PROGS  = $(BENCH_DIR)/bench_mem $(BENCH_DIR)/bench_call $(BENCH_DIR)/bench_canon \
               $(BENCH_DIR)/bench_disk $(BENCH_DIR)/bench_redis $(BENCH_DIR)/bench_batch $(BENCH_DIR)/bench_xform \
               $(BENCH_DIR)/bench_scale
BENCH_PY     = /usr/bin/python3

$(BENCH_DIR)/bench_disk: bench/bench_disk.c bench/bench.h $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ bench/bench_disk.c -lsqlite3 -llmdb $(BENCH_LIBS)

$(BENCH_DIR)/bench_scale: bench/bench_scale.c bench/bench.h $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ bench/bench_scale.c -llmdb $(BENCH_LIBS)

$(BENCH_DIR)/bench_redis: bench/bench_redis.c bench/bench.h $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DLLMCACHE_REDIS -o $@ bench/bench_redis.c -lhiredis $(BENCH_LIBS)

$(BENCH_DIR)/bench_batch: bench/bench_batch.c bench/bench.h $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DLLMCACHE_CURL -o $@ bench/bench_batch.c -lmicrohttpd -lcurl $(BENCH_LIBS)

$(BENCH_DIR)/bench_xform: bench/bench_xform.c bench/bench.h tests/answer_gen.h $(HDRS) $(XFORM_SRCS)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ bench/bench_xform.c $(XFORM_SRCS) -lzstd -lsodium $(BENCH_LIBS)

$(BENCH_DIR)/%: bench/%.c bench/bench.h $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(BENCH_LIBS)

.PHONY: bench bench-build

bench-build:
	@p=0; for b in $(BENCH_PROGS); do n=$${b##*/}; \
	  if why=`sh tests/need.sh $$n`; then \
	    $(MAKE) --no-print-directory $$b || { echo "bench-build: $$p passed, 1 failed"; exit 1; }; p=$$((p + 1)); \
	  else echo "skipped: $$n (needs $$why)"; fi; \
	done; echo "bench-build: $$p passed, 0 failed"

bench: $(BENCH_PROGS) $(B)/llmcache
	@status=0; rm -f $(BENCH_DIR)/*.txt; \
	for p in $(BENCH_PROGS) "$(BENCH_PY) bench/bench_python.py" "$(BENCH_PY) bench/bench_serve.py $(B)"; do \
	  name=`basename "$${p%% *}" | sed 's/\.py$$//'`; [ "$$name" = python3 ] && name=bench_python; case "$$p" in *bench_serve.py*) name=bench_serve;; esac; \
	  echo; echo "== $$p"; \
	  $$p > $(BENCH_DIR)/$$name.txt 2>&1; rc=$$?; cat $(BENCH_DIR)/$$name.txt; \
	  if [ $$rc -ne 0 ]; then echo "bench: $$p exited with status $$rc"; status=1; fi; \
	done; \
	echo; echo "== summary (us/op unless stated) =="; \
	cat $(BENCH_DIR)/*.txt | grep '^RESULT' | sed 's/^RESULT  //'; echo; \
	cat $(BENCH_DIR)/*.txt | grep '^GOAL'; \
	exit $$status
