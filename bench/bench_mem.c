/* bench/bench_mem.c - the memory tier.
 *
 * 1,000,000 entries (cfg.max_entries = 1000000, cfg.max_bytes = 2 GiB so all fit) of
 * random 32-byte keys and 1 KiB values, keys accessed in random order:
 *   - hit:              llmcache_get of a 1 KiB value (the copy included) + llmcache_value_free
 *   - put, overwrite:   llmcache_put of an existing key
 *   - put, insert:      llmcache_put of a new key (900,000 entries -> 1,000,000, no eviction;
 *                       3 passes, the keys deleted untimed between passes: the first pass
 *                       grows into fresh memory, the later ones reuse freed memory)
 *   - put, evicting:    llmcache_put of a new key into the full cache (one LRU eviction each)
 * Each figure is timed with clock_gettime(CLOCK_MONOTONIC) around batches of 64 operations,
 * divided by 64: the "median" and "p99" are over batches (the p99 of single operations is
 * higher: a batch average smooths one slow operation over 64). Hits, overwrites and
 * inserts: the pass with the best median of 3 (evicting inserts: one pass).
 *   - key: llmcache_key_for (RFC 8785 canonicalization + SHA-256) of a ~4 KiB chat request,
 *     and llmcache_canonicalize alone, in MB/s of request text (best of 3).
 *   - memory per entry at 10^4, 10^5, 10^6 entries: VmRSS (from /proc/self/status) before
 *     and after filling, divided by the count, each size in a fresh child process (fork)
 *     so freed memory of one size is not reused by the next; plus the hit median there.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include "bench/bench.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_N      1000000
#define BENCH_VLEN   1024
#define BENCH_BATCH  64
#define BENCH_PASSES 3

#define GOAL_HIT_US   0.4
#define GOAL_PUT_US   1.0
#define GOAL_KEY_MBS  100.0

typedef struct lat { double median, p99; size_t samples; } lat;

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static lat summarize(double *v, size_t n) {
    lat l;
    l.samples = n;
    l.median = l.p99 = -1;
    if (n == 0) return l;
    qsort(v, n, sizeof *v, bench_cmp_double);
    l.median = v[n / 2];
    l.p99 = v[(size_t)((double)(n - 1) * 0.99)];
    return l;
}

static void print_goal(const char *what, double value, const char *unit, const char *cmp, double goal,
                       int pass, int avail) {
    if (!avail)
        printf("GOAL  %-36s %12s %-6s goal %s %7.2f %-6s UNAVAILABLE\n", what, "n/a", "", cmp, goal, unit);
    else
        printf("GOAL  %-36s %12.3f %-6s goal %s %7.2f %-6s %s\n", what, value, unit, cmp, goal, unit,
               pass ? "PASS" : "MISS");
}

static llmcache_key *g_keys;          /* BENCH_N + BENCH_N / 10 keys */
static llmcache_key *g_pkeys;         /* the keys of one timed pass, in access order */
static unsigned char g_val[BENCH_VLEN];
static double *g_samples;
static unsigned long g_errors;

static void shuffle(uint32_t *a, size_t n, uint32_t base, uint64_t seed) {
    size_t i;
    for (i = 0; i < n; i++) a[i] = base + (uint32_t)i;
    for (i = n; i > 1; i--) {
        size_t j = (size_t)(splitmix64(&seed) % i);
        uint32_t t = a[i - 1]; a[i - 1] = a[j]; a[j] = t;
    }
}

static void make_keys(size_t n) {
    uint64_t s = 0xC0FFEEull;
    size_t i;
    int w, b;
    g_keys = (llmcache_key *)malloc(n * sizeof *g_keys);
    g_pkeys = (llmcache_key *)malloc(n * sizeof *g_pkeys);
    if (!g_keys || !g_pkeys) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (i = 0; i < n; i++)
        for (w = 0; w < 4; w++) {
            uint64_t x = splitmix64(&s);
            for (b = 0; b < 8; b++) g_keys[i].bytes[w * 8 + b] = (unsigned char)(x >> (8 * b));
        }
    memset(g_pkeys, 0, n * sizeof *g_pkeys);
    for (i = 0; i < BENCH_VLEN; i++) g_val[i] = (unsigned char)splitmix64(&s);
}

static long vmrss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) { kib = strtol(line + 6, NULL, 10); break; }
    fclose(f);
    return kib;
}

static int open_cache(llmcache **c, size_t max_entries) {
    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_entries = max_entries;
    cfg.max_bytes = (size_t)2 << 30;     /* 2 GiB: holds 10^6 1-KiB values */
    return llmcache_open(c, &cfg);
}

/* The value stored under key i: g_val with i in its first 4 bytes. */
static void stamp(uint32_t i) { memcpy(g_val, &i, sizeof i); }

static int check(const llmcache_value *v, uint32_t i) {
    uint32_t got;
    if (v->len != BENCH_VLEN) return 0;
    memcpy(&got, v->data, sizeof got);
    return got == i;
}

/* Untimed fill of keys [from, to). */
static int fill(llmcache *c, uint32_t from, uint32_t to) {
    uint32_t i;
    for (i = from; i < to; i++) {
        stamp(i);
        if (llmcache_put(c, &g_keys[i], g_val, BENCH_VLEN, 0) != LLMCACHE_OK) return -1;
    }
    return 0;
}

enum { OP_GET, OP_PUT };

/* Times ops over idx[0..n) in batches of BENCH_BATCH; returns per-op batch statistics. */
static lat timed(llmcache *c, int op, const uint32_t *idx, size_t n) {
    size_t nb = n / BENCH_BATCH, b, j;
    /* The keys in access order, contiguous: the timed loop reads them sequentially, as a
     * caller would have its key at hand, instead of taking a cache miss in g_keys. */
    for (j = 0; j < n; j++) g_pkeys[j] = g_keys[idx[j]];
    for (b = 0; b < nb; b++) {
        const uint32_t *p = idx + b * BENCH_BATCH;
        const llmcache_key *pk = g_pkeys + b * BENCH_BATCH;
        double t0, t1;
        if (op == OP_GET) {
            int bad = 0;
            t0 = bench_now_s();
            for (j = 0; j < BENCH_BATCH; j++) {
                llmcache_value v;
                if (llmcache_get(c, &pk[j], &v) == LLMCACHE_OK) {
                    bad += !check(&v, p[j]);
                    llmcache_value_free(&v);
                } else {
                    bad++;
                }
            }
            t1 = bench_now_s();
            g_errors += (unsigned long)bad;
        } else {
            int bad = 0;
            t0 = bench_now_s();
            for (j = 0; j < BENCH_BATCH; j++) {
                stamp(p[j]);
                bad += llmcache_put(c, &pk[j], g_val, BENCH_VLEN, 0) != LLMCACHE_OK;
            }
            t1 = bench_now_s();
            g_errors += (unsigned long)bad;
        }
        g_samples[b] = (t1 - t0) * 1e6 / BENCH_BATCH;
    }
    for (j = nb * BENCH_BATCH; j < n; j++) {      /* the remainder, untimed */
        if (op == OP_GET) {
            llmcache_value v;
            if (llmcache_get(c, &g_keys[idx[j]], &v) == LLMCACHE_OK) {
                g_errors += !check(&v, idx[j]);
                llmcache_value_free(&v);
            } else {
                g_errors++;
            }
        } else {
            stamp(idx[j]);
            g_errors += llmcache_put(c, &g_keys[idx[j]], g_val, BENCH_VLEN, 0) != LLMCACHE_OK;
        }
    }
    return summarize(g_samples, nb);
}

static lat best_of(llmcache *c, int op, uint32_t *idx, size_t n, uint64_t seed) {
    lat best, l;
    int p;
    best.median = -1; best.p99 = -1; best.samples = 0;
    for (p = 0; p < BENCH_PASSES; p++) {
        shuffle(idx, n, 0, seed + (uint64_t)p);
        l = timed(c, op, idx, n);
        if (best.median < 0 || l.median < best.median) best = l;
    }
    return best;
}

/* Reference, no cache: what a hit must at least do at 10^6 entries on this machine:
 * malloc, copy a random one of 10^6 1-KiB blocks, free. Same batches, best of 3. */
static lat ref_copy(uint32_t *idx) {
    unsigned char **blobs = (unsigned char **)malloc(BENCH_N * sizeof *blobs);
    lat best, l;
    size_t i, b, j, nb = BENCH_N / BENCH_BATCH;
    int p;
    unsigned sink = 0;
    best.median = -1; best.p99 = -1; best.samples = 0;
    if (!blobs) return best;
    for (i = 0; i < BENCH_N; i++) {
        blobs[i] = (unsigned char *)malloc(BENCH_VLEN + 1);
        if (!blobs[i]) { while (i--) free(blobs[i]); free(blobs); return best; }
        memcpy(blobs[i], g_val, BENCH_VLEN);
        blobs[i][0] = (unsigned char)i;
    }
    for (p = 0; p < BENCH_PASSES; p++) {
        shuffle(idx, BENCH_N, 0, 300 + (uint64_t)p);
        for (b = 0; b < nb; b++) {
            const uint32_t *q = idx + b * BENCH_BATCH;
            double t0 = bench_now_s(), t1;
            for (j = 0; j < BENCH_BATCH; j++) {
                unsigned char *v = (unsigned char *)malloc(BENCH_VLEN + 1);
                if (!v) continue;
                memcpy(v, blobs[q[j]], BENCH_VLEN);
                v[BENCH_VLEN] = 0;
                sink += v[0];
                free(v);
            }
            t1 = bench_now_s();
            g_samples[b] = (t1 - t0) * 1e6 / BENCH_BATCH;
        }
        l = summarize(g_samples, nb);
        if (best.median < 0 || l.median < best.median) best = l;
    }
    for (i = 0; i < BENCH_N; i++) free(blobs[i]);
    free(blobs);
    if (sink == 1) printf(" ");   /* keeps the copies from being optimized away */
    return best;
}

/* Memory per entry and hit latency at n entries, in a child process; prints one row. */
static void mem_row(size_t n, uint32_t *idx) {
    pid_t pid;
    fflush(stdout);
    pid = fork();
    if (pid < 0) { perror("fork"); return; }
    if (pid == 0) {
        llmcache *c = NULL;
        long before, after;
        lat l;
        size_t ngets = n < 200000 ? 200000 : n, j;
        int rc;
        before = vmrss_kib();
        rc = open_cache(&c, n);
        if (rc != LLMCACHE_OK || fill(c, 0, (uint32_t)n) != 0) {
            printf("%10lu  fill failed\n", (unsigned long)n);
            fflush(stdout);
            _exit(0);
        }
        after = vmrss_kib();
        /* hit latency: random keys of this cache, ngets gets, best median of 3 passes */
        {
            lat best;
            int p;
            best.median = -1; best.p99 = -1; best.samples = 0;
            for (p = 0; p < BENCH_PASSES; p++) {
                uint64_t s = 77 + (uint64_t)p;
                for (j = 0; j < ngets; j++) idx[j] = (uint32_t)(splitmix64(&s) % n);
                l = timed(c, OP_GET, idx, ngets);
                if (best.median < 0 || l.median < best.median) best = l;
            }
            l = best;
        }
        printf("%10lu  %12.1f  %12.1f  %12.3f  %12.3f%s\n", (unsigned long)n,
               (double)(after - before) * 1024.0 / (double)n,
               (double)(after - before) * 1024.0 / (double)n - BENCH_VLEN - 32,
               l.median, l.p99, g_errors ? "  (ERRORS)" : "");
        printf("RESULT  %-22s %-22s %12.3f us/op\n", "llmcache-mem",
               n == 10000 ? "get @1e4" : n == 100000 ? "get @1e5" : "get @1e6", l.median);
        printf("RESULT  %-22s %-22s %12.1f bytes (1 KiB value + 32 B key incl.)\n", "llmcache-mem",
               n == 10000 ? "mem/entry @1e4" : n == 100000 ? "mem/entry @1e5" : "mem/entry @1e6",
               (double)(after - before) * 1024.0 / (double)n);
        fflush(stdout);
        llmcache_close(c);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
}

/* A realistic ~4 KiB chat request: model, system/user/assistant messages with long
 * contents (escapes, non-ASCII), temperature, max_tokens, tools with a JSON schema. */
static size_t build_request(char *buf, size_t cap) {
    static const char *para =
        "The quarterly report covers revenue, churn and the \\\"north star\\\" metric. "
        "Summarise each section in two sentences, keep the numbers exact (e.g. 12.5% and 1,204 users), "
        "and flag anything that looks inconsistent. R\\u00e9sum\\u00e9 of caf\\u00e9 sales: "
        "na\\u00efve forecasts \\u2014 see appendix.\\n\\n";
    static const char *tools =
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"lookup_metric\","
        "\"description\":\"Fetch a metric value for a date range from the analytics warehouse.\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{"
        "\"metric\":{\"type\":\"string\",\"enum\":[\"revenue\",\"churn\",\"active_users\",\"nps\"],"
        "\"description\":\"Which metric to fetch.\"},"
        "\"start\":{\"type\":\"string\",\"format\":\"date\",\"description\":\"First day, inclusive.\"},"
        "\"end\":{\"type\":\"string\",\"format\":\"date\",\"description\":\"Last day, inclusive.\"},"
        "\"granularity\":{\"type\":\"string\",\"enum\":[\"day\",\"week\",\"month\"],\"default\":\"week\"},"
        "\"filters\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
        "\"field\":{\"type\":\"string\"},\"op\":{\"type\":\"string\",\"enum\":[\"=\",\"!=\",\"<\",\">\"]},"
        "\"value\":{\"type\":[\"string\",\"number\"]}},\"required\":[\"field\",\"op\",\"value\"],"
        "\"additionalProperties\":false},\"maxItems\":8}},"
        "\"required\":[\"metric\",\"start\",\"end\"],\"additionalProperties\":false}}}]";
    size_t n = 0;
    int i;
#define APPEND(s) do { size_t l_ = strlen(s); if (n + l_ < cap) { memcpy(buf + n, s, l_); n += l_; } } while (0)
    APPEND("{\n  \"model\": \"gpt-4o-2024-08-06\",\n  \"messages\": [\n"
           "    {\"role\": \"system\", \"content\": \"You are a careful financial analyst. ");
    for (i = 0; i < 3; i++) APPEND(para);
    APPEND("\"},\n    {\"role\": \"user\", \"content\": \"");
    for (i = 0; i < 4; i++) APPEND(para);
    APPEND("\"},\n    {\"role\": \"assistant\", \"content\": \"I will look the metrics up first.\"},\n"
           "    {\"role\": \"user\", \"content\": \"");
    for (i = 0; i < 3; i++) APPEND(para);
    APPEND("\"}\n  ],\n  \"temperature\": 0.2,\n  \"top_p\": 1,\n  \"max_tokens\": 1024,\n"
           "  \"seed\": 12345,\n  \"tool_choice\": \"auto\",\n  ");
    APPEND(tools);
    APPEND(",\n  \"response_format\": {\"type\": \"text\"}\n}\n");
#undef APPEND
    buf[n] = '\0';
    return n;
}

int main(void) {
    int have_cache = 1, have_key = 1;
    lat ref = { -1, -1, 0 }, hit = { -1, -1, 0 }, ovw = { -1, -1, 0 }, ins = { -1, -1, 0 }, evi = { -1, -1, 0 };
    double key_mbs = -1, canon_mbs = -1;
    size_t body_len = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("== bench_mem: memory tier, %d entries x %d-byte values, batches of %d ops ==\n",
           BENCH_N, BENCH_VLEN, BENCH_BATCH);

    {
        llmcache *c = NULL;
        uint32_t *idx;
        size_t extra = BENCH_N / 10, nins = BENCH_N / 10;
        int rc;
        llmcache_stats st;

        make_keys(BENCH_N + extra);
        idx = (uint32_t *)malloc((BENCH_N + extra) * sizeof *idx);
        g_samples = (double *)malloc((BENCH_N / BENCH_BATCH + 1) * sizeof *g_samples);
        if (!idx || !g_samples) { fprintf(stderr, "out of memory\n"); return 1; }
        memset(idx, 0, (BENCH_N + extra) * sizeof *idx);
        memset(g_samples, 0, (BENCH_N / BENCH_BATCH + 1) * sizeof *g_samples);

        printf("\nmemory per entry (VmRSS delta / entries; fresh process per size)\n");
        printf("%10s  %12s  %12s  %12s  %12s\n", "entries", "bytes/entry", "overhead", "get med us", "get p99 us");
        mem_row(10000, idx);
        mem_row(100000, idx);
        mem_row(1000000, idx);

        rc = open_cache(&c, BENCH_N);
        if (rc != LLMCACHE_OK) {
            printf("llmcache_open failed: %s: memory-tier figures unavailable\n", llmcache_result_string(rc));
            have_cache = 0;
        } else {
            /* 900,000 entries, then 100,000 timed inserts up to 1,000,000 */
            if (fill(c, 0, (uint32_t)(BENCH_N - nins)) != 0) { printf("fill failed\n"); have_cache = 0; }
            if (have_cache) {
                /* pass 0 grows the cache into fresh memory; passes 1.. re-insert the same
                 * keys after deleting them (untimed), so malloc reuses memory */
                int p;
                for (p = 0; p < BENCH_PASSES; p++) {
                    lat l;
                    size_t j;
                    if (p > 0)
                        for (j = 0; j < nins; j++)
                            if (llmcache_del(c, &g_keys[BENCH_N - nins + j]) != LLMCACHE_OK) g_errors++;
                    shuffle(idx, nins, (uint32_t)(BENCH_N - nins), 5 + (uint64_t)p);
                    l = timed(c, OP_PUT, idx, nins);
                    if (ins.median < 0 || l.median < ins.median) ins = l;
                }
                llmcache_stats_get(c, &st);
                if (st.entries != BENCH_N)
                    printf("note: %llu entries after filling, expected %d\n", (unsigned long long)st.entries, BENCH_N);
                hit = best_of(c, OP_GET, idx, BENCH_N, 100);
                ovw = best_of(c, OP_PUT, idx, BENCH_N, 200);
                /* full cache: each insert of a new key evicts the least recently used one */
                shuffle(idx, extra, (uint32_t)BENCH_N, 6);
                evi = timed(c, OP_PUT, idx, extra);
                llmcache_stats_get(c, &st);
                printf("\nafter the run: %llu entries, %llu evictions, %lu errors%s\n",
                       (unsigned long long)st.entries, (unsigned long long)st.evictions, g_errors,
                       g_errors ? " (SOME OPERATIONS FAILED OR RETURNED WRONG BYTES)" : "");
            }
            llmcache_close(c);
        }
        if (have_cache) ref = ref_copy(idx);
        free(idx); free(g_samples); free(g_keys); free(g_pkeys);
    }

    {
        static char body[8192];
        llmcache_request req;
        llmcache_key k;
        int p, rc;
        body_len = build_request(body, sizeof body);
        memset(&req, 0, sizeof req);
        req.endpoint = "https://api.openai.com/v1/chat/completions";
        req.body = body;
        req.body_len = body_len;
        rc = llmcache_key_for(&k, "tenant-a", &req);
        if (rc != LLMCACHE_OK) {
            printf("llmcache_key_for refused the request: %s: key figures unavailable\n", llmcache_result_string(rc));
            have_key = 0;
        } else {
            for (p = 0; p < BENCH_PASSES; p++) {
                long it, iters = 0;
                double t0 = bench_now_s(), t;
                do {
                    for (it = 0; it < 200; it++) rc |= llmcache_key_for(&k, "tenant-a", &req);
                    iters += 200;
                    t = bench_now_s() - t0;
                } while (t < 0.25);
                if ((double)iters * (double)body_len / t / 1e6 > key_mbs)
                    key_mbs = (double)iters * (double)body_len / t / 1e6;
            }
            for (p = 0; p < BENCH_PASSES; p++) {
                long it, iters = 0;
                double t0 = bench_now_s(), t;
                do {
                    for (it = 0; it < 200; it++) {
                        char *out = NULL;
                        size_t out_len = 0;
                        rc |= llmcache_canonicalize(body, body_len, &out, &out_len);
                        llmcache_free(out);
                    }
                    iters += 200;
                    t = bench_now_s() - t0;
                } while (t < 0.25);
                if ((double)iters * (double)body_len / t / 1e6 > canon_mbs)
                    canon_mbs = (double)iters * (double)body_len / t / 1e6;
            }
            if (rc != LLMCACHE_OK) printf("note: some key/canonicalize calls failed\n");
        }
    }

    printf("\n%-36s %12s %12s\n", "operation (1e6 entries, 1 KiB)", "median us", "p99 us");
    if (have_cache) {
        printf("%-36s %12.3f %12.3f\n", "hit (get + copy + value_free)", hit.median, hit.p99);
        printf("%-36s %12.3f %12.3f\n", "put, overwrite existing key", ovw.median, ovw.p99);
        printf("%-36s %12.3f %12.3f\n", "put, insert new key (no eviction)", ins.median, ins.p99);
        printf("%-36s %12.3f %12.3f\n", "put, insert new key (evicts LRU)", evi.median, evi.p99);
        printf("%-36s %12.3f %12.3f\n", "reference: malloc+copy+free, no cache", ref.median, ref.p99);
        printf("  (the reference copies a random one of 10^6 1-KiB blocks: the floor for a hit here)\n");
    } else {
        printf("%-36s %12s\n", "hit / put", "unavailable");
    }
    if (have_key) {
        printf("%-36s %12.1f MB/s  (%lu-byte request)\n", "key_for (canonicalize + SHA-256)", key_mbs,
               (unsigned long)body_len);
        printf("%-36s %12.1f MB/s\n", "canonicalize alone", canon_mbs);
    } else {
        printf("%-36s %12s\n", "key_for", "unavailable");
    }
    printf("(median / p99 over batches of %d operations, per operation)\n\n", BENCH_BATCH);

    if (have_cache) {
        printf("RESULT  %-22s %-22s %12.3f us/op\n", "llmcache-mem", "get (hit)", hit.median);
        printf("RESULT  %-22s %-22s %12.3f us/op\n", "llmcache-mem", "set (overwrite)", ovw.median);
        printf("RESULT  %-22s %-22s %12.3f us/op\n", "llmcache-mem", "set (insert)", ins.median);
        printf("RESULT  %-22s %-22s %12.3f us/op\n", "llmcache-mem", "set (insert, evict)", evi.median);
        printf("RESULT  %-22s %-22s %12.3f us/op\n", "reference", "malloc+1KiB copy+free", ref.median);
    }
    if (have_key) {
        printf("RESULT  %-22s %-22s %12.3f us/op (%.1f MB/s)\n", "llmcache-mem", "key_for 4KiB request",
               (double)body_len / key_mbs, key_mbs);
    }
    printf("\n");
    print_goal("mem hit median", hit.median, "us", "<=", GOAL_HIT_US, hit.median <= GOAL_HIT_US, have_cache);
    print_goal("mem put median (overwrite)", ovw.median, "us", "< ", GOAL_PUT_US, ovw.median < GOAL_PUT_US, have_cache);
    print_goal("mem put median (insert)", ins.median, "us", "< ", GOAL_PUT_US, ins.median < GOAL_PUT_US, have_cache);
    print_goal("key_for of a 4 KiB chat request", key_mbs, "MB/s", ">=", GOAL_KEY_MBS, key_mbs >= GOAL_KEY_MBS, have_key);
    return 0;
}
