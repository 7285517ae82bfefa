/* tests/test_alloc.c: the allocator hooks. LLMCACHE_MALLOC/REALLOC/FREE route every
 * allocation of the library through counting functions: the library uses them (and
 * nothing else), frees everything it allocates, and fails cleanly when they fail. */
/* the allocators below need <stdlib.h> before llmcache.h: ask for POSIX first, as
 * any program that includes system headers before the implementation must */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#include <stdlib.h>
#include <stddef.h>
static long live_blocks, total_allocs, fail_after = -1;
static void *t_malloc(size_t n) {
    if (fail_after == 0) return NULL;
    if (fail_after > 0) fail_after--;
    total_allocs++;
    live_blocks++;
    return malloc(n ? n : 1);
}
static void *t_realloc(void *p, size_t n) {
    void *q;
    if (fail_after == 0) return NULL;
    if (fail_after > 0) fail_after--;
    q = realloc(p, n ? n : 1);
    if (q && !p) { live_blocks++; total_allocs++; }
    return q;
}
static void t_free(void *p) { if (p) { live_blocks--; free(p); } }
#define LLMCACHE_MALLOC(n) t_malloc(n)
#define LLMCACHE_REALLOC(p, n) t_realloc(p, n)
#define LLMCACHE_FREE(p) t_free(p)
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <time.h>

/* One run of everything that allocates: a memory cache, a log-backed cache,
 * canonical JSON and keys. Returns the first error met, or LLMCACHE_OK. */
static int workload(const char *path) {
    static const char body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi \\u00e9\"}],\"t\":0.7}";
    llmcache *c = NULL;
    llmcache_config cfg;
    llmcache_request req;
    llmcache_key k;
    llmcache_value v;
    char *canon = NULL;
    size_t n;
    int rc, i;
    rc = llmcache_canonicalize(body, sizeof body - 1, &canon, &n);
    llmcache_free(canon);
    if (rc) return rc;
    memset(&req, 0, sizeof req);
    req.body = body; req.body_len = sizeof body - 1;
    req.schema = "{\"type\":\"object\"}"; req.schema_len = 17;
    rc = llmcache_key_for(&k, "ns", &req);
    if (rc) return rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    cfg.max_entries = 20;
    rc = llmcache_open(&c, &cfg);
    if (rc) return rc;
    for (i = 0; i < 50 && !rc; i++) {
        k.bytes[0] = (unsigned char)i;
        rc = llmcache_put(c, &k, body, sizeof body - 1, 0);
        if (!rc && llmcache_get(c, &k, &v) == LLMCACHE_OK) llmcache_value_free(&v);
        if (!rc && i % 7 == 0) rc = llmcache_del(c, &k);
    }
    if (!rc) rc = llmcache_compact(c);
    llmcache_close(c);
    return rc;
}

/* Removes the log and its shared file (standard C only: the test runs on Windows too). */
static void rm_log(const char *path) {
    char shm[600];
    snprintf(shm, sizeof shm, "%s-shm", path);
    remove(path);
    remove(shm);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    char path[512];
    long ok_allocs;
    int rc, failures_clean = 1;
    if (!tmp || !*tmp) tmp = getenv("TEMP");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(path, sizeof path, "%s/llmcache-alloc-%lx-%lx.log", tmp, (unsigned long)time(NULL),
             (unsigned long)clock());
    rc = workload(path);
    CHECK_EQ(rc, LLMCACHE_OK);
    CHECK(total_allocs > 50);          /* the hooks are really used */
    CHECK_EQ(live_blocks, 0);          /* and everything is given back */
    ok_allocs = total_allocs;
    /* fail the k-th allocation for every k: an error comes back, nothing leaks */
    {
        long k;
        for (k = 0; k < ok_allocs; k += 1 + k / 16) {
            rm_log(path);
            live_blocks = 0;
            fail_after = k;
            rc = workload(path);
            fail_after = -1;
            if (live_blocks != 0 || (rc != LLMCACHE_OK && rc != LLMCACHE_ENOMEM)) {
                failures_clean = 0;
                fprintf(stderr, "allocation %ld failed: rc %d, %ld blocks leaked\n", k, rc, live_blocks);
            }
        }
    }
    CHECK(failures_clean);
    rm_log(path);
    return TEST_REPORT();
}
