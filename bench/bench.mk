# bench/bench.mk - `make bench`: benchmarks of llmcache beside SQLite (set up as
# python-diskcache sets it up), LMDB, and Python's lru_cache / dict / diskcache / redis.
# Included by the main Makefile; run from the repository root. Uses only $(CC) and the
# BENCH_* variables below. Plain -O2 (no -march=native) so figures are portable.
#
#   make bench        build into build/bench/, run bench_mem, bench_disk, bench_python.py,
#                     then print every RESULT and GOAL line again as one summary table.
#
# Needs libsqlite3-dev and liblmdb-dev to build bench_disk (skipped with a message if
# either header is missing); python3 with python3-diskcache and python3-redis and
# redis-server for the Python side, libhiredis-dev and redis-server for bench_redis (each
# missing part is skipped with a message).
# A missed goal prints MISS; it never fails the build. About 2 minutes on 2 cores.
#
# Before building, two probes (bench_mem.c with -DBENCH_PROBE=1 / =2) check whether
# llmcache.h already builds a working cache and a real llmcache_key_for; the parts that
# do not work yet are compiled out and print "unavailable" instead of figures.

BENCH_DIR    = build/bench
BENCH_CFLAGS = -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -I.
BENCH_LIBS   = -lpthread -lm
BENCH_DBLIBS = -lsqlite3 -llmdb
BENCH_PYARGS =

bench:
	@mkdir -p $(BENCH_DIR)
	@have_cache=0; have_key=0; \
	if $(CC) $(BENCH_CFLAGS) -DBENCH_PROBE=1 -o $(BENCH_DIR)/probe_cache bench/bench_mem.c $(BENCH_LIBS) \
	      >$(BENCH_DIR)/probe_cache.log 2>&1 && ./$(BENCH_DIR)/probe_cache; then have_cache=1; \
	else echo "bench: llmcache.h does not yet build a working cache (see $(BENCH_DIR)/probe_cache.log): its figures are unavailable"; fi; \
	if $(CC) $(BENCH_CFLAGS) -DBENCH_PROBE=2 -o $(BENCH_DIR)/probe_key bench/bench_mem.c $(BENCH_LIBS) \
	      >$(BENCH_DIR)/probe_key.log 2>&1 && ./$(BENCH_DIR)/probe_key; then have_key=1; \
	else echo "bench: llmcache_key_for is not yet there or not canonical (see $(BENCH_DIR)/probe_key.log): key figures unavailable"; fi; \
	flags="-DBENCH_HAVE_LLMCACHE=$$have_cache -DBENCH_HAVE_KEYFOR=$$have_key"; \
	echo "$(CC) $(BENCH_CFLAGS) $$flags -o $(BENCH_DIR)/bench_mem bench/bench_mem.c $(BENCH_LIBS)"; \
	$(CC) $(BENCH_CFLAGS) $$flags -o $(BENCH_DIR)/bench_mem bench/bench_mem.c $(BENCH_LIBS) || exit 1; \
	rm -f $(BENCH_DIR)/bench_disk; \
	if printf '#include <sqlite3.h>\n#include <lmdb.h>\nint main(void){return 0;}\n' | \
	     $(CC) -x c -o $(BENCH_DIR)/probe_db - $(BENCH_DBLIBS) >/dev/null 2>&1; then \
	  echo "$(CC) $(BENCH_CFLAGS) -DBENCH_HAVE_LLMCACHE=$$have_cache -o $(BENCH_DIR)/bench_disk bench/bench_disk.c $(BENCH_DBLIBS) $(BENCH_LIBS)"; \
	  $(CC) $(BENCH_CFLAGS) -DBENCH_HAVE_LLMCACHE=$$have_cache -o $(BENCH_DIR)/bench_disk bench/bench_disk.c \
	    $(BENCH_DBLIBS) $(BENCH_LIBS) || exit 1; \
	else echo "bench: sqlite3.h / lmdb.h missing (apt-get install libsqlite3-dev liblmdb-dev): bench_disk skipped"; fi; \
	rm -f $(BENCH_DIR)/bench_redis; \
	if printf '#include <hiredis/hiredis.h>\nint main(void){return 0;}\n' | \
	     $(CC) -x c -o $(BENCH_DIR)/probe_redis - -lhiredis >/dev/null 2>&1; then \
	  echo "$(CC) $(BENCH_CFLAGS) -DLLMCACHE_REDIS -o $(BENCH_DIR)/bench_redis bench/bench_redis.c -lhiredis $(BENCH_LIBS)"; \
	  $(CC) $(BENCH_CFLAGS) -DLLMCACHE_REDIS -o $(BENCH_DIR)/bench_redis bench/bench_redis.c -lhiredis $(BENCH_LIBS) || exit 1; \
	else echo "bench: hiredis missing (apt-get install libhiredis-dev): bench_redis skipped"; fi
	@status=0; \
	run() { name=$$1; shift; echo; \
	  { "$$@"; echo $$? > $(BENCH_DIR)/$$name.rc; } 2>&1 | tee $(BENCH_DIR)/$$name.txt; \
	  rc=`cat $(BENCH_DIR)/$$name.rc`; \
	  if [ "$$rc" != 0 ]; then echo "bench: $$name exited with status $$rc"; status=1; fi; }; \
	rm -f $(BENCH_DIR)/*.txt; \
	run bench_mem ./$(BENCH_DIR)/bench_mem; \
	if [ -x $(BENCH_DIR)/bench_disk ]; then run bench_disk ./$(BENCH_DIR)/bench_disk; fi; \
	if [ -x $(BENCH_DIR)/bench_redis ]; then run bench_redis ./$(BENCH_DIR)/bench_redis; fi; \
	py=; for p in /usr/bin/python3 python3; do \
	  if $$p -c 'import diskcache' >/dev/null 2>&1; then py=$$p; break; fi; done; \
	if [ -z "$$py" ] && command -v python3 >/dev/null 2>&1; then py=python3; fi; \
	if [ -n "$$py" ]; then run bench_python $$py bench/bench_python.py $(BENCH_PYARGS); \
	else echo "bench: no python3: bench_python.py skipped"; fi; \
	echo; echo "== bench summary (us/op unless stated; GOAL ratios: other / llmcache) =="; \
	for f in bench_mem bench_disk bench_redis bench_python; do \
	  if [ -f $(BENCH_DIR)/$$f.txt ]; then grep '^RESULT' $(BENCH_DIR)/$$f.txt | sed 's/^RESULT  //'; fi; done; \
	echo; \
	for f in bench_mem bench_disk bench_redis; do \
	  if [ -f $(BENCH_DIR)/$$f.txt ]; then grep '^GOAL' $(BENCH_DIR)/$$f.txt; fi; done; \
	exit $$status
