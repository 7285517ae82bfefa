/* bench/bench_redis.c - a hit served by the Redis tier vs a bare hiredis GET.
 *
 * Starts its own redis-server on 127.0.0.1 (a free port, no persistence; it dies with
 * this process). For values of 1 KiB, 16 KiB and 256 KiB:
 *   - llmcache: llmcache_get on a memory-only handle with max_entries = 1, alternating
 *     between two keys, so the memory tier never holds the key asked for: every get is
 *     a local miss + GET over loopback + record check (CRC-32C) + fill of the memory
 *     tier (an eviction included) + the caller's copy + llmcache_value_free;
 *   - bare hiredis: redisCommandArgv("GET", name) of the same two Redis values over one
 *     connection + freeReplyObject (what any client pays for the round trip).
 * Both run side by side: 15 rounds, each timing a batch of one then the other (the
 * order flips every round); the figure is the median over rounds of the mean per get.
 * Goal (issue 6): llmcache within 1.5x of the bare GET.
 *
 *   cc -std=c99 -O2 -I. -DLLMCACHE_REDIS -o build/bench/bench_redis bench/bench_redis.c -lhiredis -lpthread -lm
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include "bench/bench.h"
#include "tests/redis_server.h"
#include <stdlib.h>

#define ROUNDS 15
#define GOAL_RATIO 1.5

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Mean microseconds per get over n gets, alternating the two keys. */
static double run_llmcache(llmcache *c, const llmcache_key keys[2], int n, size_t want, int *bad) {
    double t0 = bench_now_s() * 1e6;
    int i;
    for (i = 0; i < n; i++) {
        llmcache_value v;
        if (llmcache_get(c, &keys[i & 1], &v) != LLMCACHE_OK || v.len != want) (*bad)++;
        llmcache_value_free(&v);
    }
    return (bench_now_s() * 1e6 - t0) / n;
}

static double run_bare(redisContext *ctx, char names[2][80], int n, size_t want, int *bad) {
    double t0 = bench_now_s() * 1e6;
    int i;
    for (i = 0; i < n; i++) {
        const char *argv[2];
        size_t len[2];
        redisReply *r;
        argv[0] = "GET"; len[0] = 3;
        argv[1] = names[i & 1]; len[1] = strlen(names[i & 1]);
        r = (redisReply *)redisCommandArgv(ctx, 2, argv, len);
        if (!r || r->type != REDIS_REPLY_STRING || r->len != want) (*bad)++;
        if (r) freeReplyObject(r);
    }
    return (bench_now_s() * 1e6 - t0) / n;
}

int main(void) {
    static const size_t sizes[] = {1024, 16384, 262144};
    static const int batch[] = {2000, 1000, 200};
    redis_server srv;
    llmcache_redis_config rc;
    llmcache_config cfg;
    redisContext *ctx;
    size_t s;
    int status = 0;
    memset(&srv, 0, sizeof srv);
    if (redis_server_start(&srv) != 0) {
        printf("bench_redis: could not start redis-server (apt-get install redis-server): skipped\n");
        return 0;
    }
    ctx = redis_server_connect(&srv);
    if (!ctx) { printf("bench_redis: no connection to redis-server\n"); redis_server_stop(&srv); return 1; }
    memset(&rc, 0, sizeof rc);
    rc.port = srv.port;
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = "bench";
    cfg.redis = &rc;
    cfg.max_entries = 1;                  /* the key asked for is never in memory */
    printf("== bench_redis: redis-server on 127.0.0.1:%d (TCP loopback), hiredis %d.%d; "
           "median of %d rounds, us per get ==\n", srv.port, HIREDIS_MAJOR, HIREDIS_MINOR, ROUNDS);
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        llmcache *c = NULL;
        llmcache_key keys[2];
        char names[2][80], hex[65], what[64];
        char *value = (char *)malloc(sizes[s]);
        double lt[ROUNDS], bt[ROUNDS], lm, bm, ratio;
        size_t rec = (size_t)((80 + sizes[s] + 7) / 8 * 8), i;
        int r, bad = 0;
        if (!value || llmcache_open(&c, &cfg) != LLMCACHE_OK) { status = 1; free(value); break; }
        for (i = 0; i < sizes[s]; i++) value[i] = (char)('a' + i % 26);
        for (i = 0; i < 2; i++) {
            char nm[32];
            snprintf(nm, sizeof nm, "bench-%d-%d", (int)sizes[s], (int)i);
            llmcache_sha256(nm, strlen(nm), keys[i].bytes);
            if (llmcache_put(c, &keys[i], value, sizes[s], 0) != LLMCACHE_OK) bad++;
            llmcache_key_hex(&keys[i], hex);
            snprintf(names[i], sizeof names[i], "llmcache:bench:%s", hex);
        }
        run_llmcache(c, keys, batch[s] / 4, sizes[s], &bad);           /* warm up both */
        run_bare(ctx, names, batch[s] / 4, rec, &bad);
        for (r = 0; r < ROUNDS; r++) {
            if (r & 1) {
                lt[r] = run_llmcache(c, keys, batch[s], sizes[s], &bad);
                bt[r] = run_bare(ctx, names, batch[s], rec, &bad);
            } else {
                bt[r] = run_bare(ctx, names, batch[s], rec, &bad);
                lt[r] = run_llmcache(c, keys, batch[s], sizes[s], &bad);
            }
        }
        {
            llmcache_stats st;
            llmcache_stats_get(c, &st);
            if (st.redis_hits < (uint64_t)(ROUNDS * batch[s]) || st.redis_errors) bad++;
        }
        lm = median(lt, ROUNDS);
        bm = median(bt, ROUNDS);
        ratio = lm / bm;
        snprintf(what, sizeof what, "redis hit %zu KiB", sizes[s] / 1024);
        printf("RESULT  %-22s %-22s %12.2f us/op\n", "llmcache-redis", what, lm);
        printf("RESULT  %-22s %-22s %12.2f us/op (the %zu-byte record)\n", "hiredis", "bare GET", bm, rec);
        snprintf(what, sizeof what, "redis hit / bare GET, %zu KiB", sizes[s] / 1024);
        printf("GOAL  %-36s %12.3f %-6s goal %s %7.2f %-6s %s\n", what, ratio, "x", "<=", GOAL_RATIO, "x",
               ratio <= GOAL_RATIO ? "OK" : "MISS");
        if (bad) { printf("bench_redis: %d wrong answers\n", bad); status = 1; }
        llmcache_close(c);
        free(value);
    }
    redisFree(ctx);
    redis_server_stop(&srv);
    return status;
}
