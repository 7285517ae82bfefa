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
 * Then the same 1 KiB and 16 KiB hits through a Redis Cluster (three masters, three
 * replicas, started with redis-cli --cluster create; issue 17): llmcache routing by
 * slot vs a bare GET on a connection to the master that holds both keys, and vs the
 * one-node hit (measured again just before on a server of its own, since a loaded
 * machine drifts); single-client throughput is 1e6 / (us per get).
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
#include "tests/redis_cluster.h"
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

static double run_bare(redisContext *ctx, char names[2][96], int n, size_t want, int *bad) {
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

/* Times hits of sizes[s] through c (two keys, never in memory) against bare GETs of
 * names on ctx; prints the figures as what; *per_get the llmcache figure. 0 when every
 * answer was right. */
static int measure(llmcache *c, redisContext *ctx, const llmcache_key keys[2], char names[2][96], size_t size,
                   int n, const char *who, const char *where, double *per_get, int quiet) {
    double lt[ROUNDS], bt[ROUNDS], lm, bm, ratio;
    size_t rec = (size_t)((80 + size + 7) / 8 * 8);
    char what[80];
    int r, bad = 0;
    llmcache_stats st;
    run_llmcache(c, keys, n / 4, size, &bad);           /* warm up both */
    run_bare(ctx, names, n / 4, rec, &bad);
    for (r = 0; r < ROUNDS; r++) {
        if (r & 1) {
            lt[r] = run_llmcache(c, keys, n, size, &bad);
            bt[r] = run_bare(ctx, names, n, rec, &bad);
        } else {
            bt[r] = run_bare(ctx, names, n, rec, &bad);
            lt[r] = run_llmcache(c, keys, n, size, &bad);
        }
    }
    llmcache_stats_get(c, &st);
    if (st.redis_hits < (uint64_t)(ROUNDS * n) || st.redis_errors) bad++;
    lm = median(lt, ROUNDS);
    bm = median(bt, ROUNDS);
    ratio = lm / bm;
    *per_get = lm;
    if (quiet) return bad;
    snprintf(what, sizeof what, "%s hit %zu KiB", where, size / 1024);
    printf("RESULT  %-22s %-30s %12.2f us/op %10.0f ops/s\n", who, what, lm, 1e6 / lm);
    printf("RESULT  %-22s %-30s %12.2f us/op (the %zu-byte record)\n", "hiredis", "bare GET", bm, rec);
    snprintf(what, sizeof what, "%s hit / bare GET, %zu KiB", where, size / 1024);
    printf("GOAL  %-36s %12.3f %-6s goal %s %7.2f %-6s %s\n", what, ratio, "x", "<=", GOAL_RATIO, "x",
           ratio <= GOAL_RATIO ? "OK" : "MISS");
    if (bad)
        printf("bench_redis: %d wrong answers (redis errors %llu, moved %llu, asked %llu, skipped %llu)\n", bad,
               (unsigned long long)st.redis_errors, (unsigned long long)st.redis_moved,
               (unsigned long long)st.redis_asked, (unsigned long long)st.redis_skipped);
    return bad;
}

/* The one-node hit of size measured again (quietly) into *per_get, on a server of
 * its own, so that the cluster's ratio compares figures taken minutes apart no more. */
static int one_node_again(size_t size, int n, double *per_get) {
    redis_server srv;
    llmcache_redis_config rc;
    llmcache_config cfg;
    llmcache *c = NULL;
    redisContext *ctx;
    llmcache_key keys[2];
    char names[2][96], hex[65];
    char *value = (char *)malloc(size);
    int i, bad = 0;
    size_t j;
    memset(&srv, 0, sizeof srv);
    if (!value || redis_server_start(&srv) != 0) { free(value); return 1; }
    memset(&rc, 0, sizeof rc);
    memset(&cfg, 0, sizeof cfg);
    rc.port = srv.port;
    cfg.ns = "bench";
    cfg.redis = &rc;
    cfg.max_entries = 1;
    ctx = redis_server_connect(&srv);
    if (ctx && llmcache_open(&c, &cfg) == LLMCACHE_OK) {
        for (j = 0; j < size; j++) value[j] = (char)('a' + j % 26);
        for (i = 0; i < 2; i++) {
            char nm[32];
            snprintf(nm, sizeof nm, "again-%d-%d", (int)size, i);
            llmcache_sha256(nm, strlen(nm), keys[i].bytes);
            if (llmcache_put(c, &keys[i], value, size, 0) != LLMCACHE_OK) bad++;
            llmcache_key_hex(&keys[i], hex);
            snprintf(names[i], sizeof names[i], "llmcache:bench:%s", hex);
        }
        bad += measure(c, ctx, keys, names, size, n, "", "", per_get, 1);
        llmcache_close(c);
    } else bad++;
    if (ctx) redisFree(ctx);
    redis_server_stop(&srv);
    free(value);
    return bad;
}

/* The cluster part: hits of sizes through a six-node cluster, each beside a bare GET
 * on the master holding the keys and the one-node hit taken just before. */
static int bench_cluster(const size_t *sizes, const int *batch, int n_sizes) {
    redis_cluster cl;
    const char *seeds[2];
    char seed[32];
    int s, status = 0;
    if (cluster_start(&cl, 2000) != 0) {
        printf("bench_redis: could not start a Redis Cluster (redis-cli --cluster create): cluster part skipped\n");
        return 0;
    }
    snprintf(seed, sizeof seed, "127.0.0.1:%d", cl.node[0].port);
    seeds[0] = seed;
    seeds[1] = NULL;
    printf("== bench_redis: a Redis Cluster of 3 masters + 3 replicas on 127.0.0.1; the bare GET goes to the "
           "master holding both keys ==\n");
    for (s = 0; s < n_sizes && !status; s++) {
        llmcache_redis_config rc;
        llmcache_config cfg;
        llmcache *c = NULL;
        llmcache_key keys[2];
        char names[2][96], hex[65], what[64];
        char *value = (char *)malloc(sizes[s]);
        redisContext *ctx = NULL;
        size_t i;
        int found = 0, owner = -1, tries;
        double lm;
        memset(&rc, 0, sizeof rc);
        memset(&cfg, 0, sizeof cfg);
        rc.topology = LLMCACHE_REDIS_CLUSTER;
        rc.nodes = seeds;
        cfg.ns = "bench";
        cfg.redis = &rc;
        cfg.max_entries = 1;
        if (!value || llmcache_open(&c, &cfg) != LLMCACHE_OK) { status = 1; free(value); break; }
        for (i = 0; i < sizes[s]; i++) value[i] = (char)('a' + i % 26);
        for (tries = 0; found < 2 && tries < 1000; tries++) {   /* two keys on one master */
            char nm[40];
            int slot;
            snprintf(nm, sizeof nm, "bench-cluster-%d-%d", (int)sizes[s], tries);
            llmcache_sha256(nm, strlen(nm), keys[found].bytes);
            llmcache_key_hex(&keys[found], hex);
            snprintf(names[found], sizeof names[found], "llmcache:bench:{%s}", hex);
            slot = llmcache__redis_keyslot(names[found], strlen(names[found]));
            if (found == 0) owner = cluster_slot_owner(&cl, cl.node[0].port, slot);
            else if (cluster_slot_owner(&cl, cl.node[0].port, slot) != owner) continue;
            if (llmcache_put(c, &keys[found], value, sizes[s], 0) != LLMCACHE_OK) status = 1;
            found++;
        }
        if (found == 2 && owner >= 0) ctx = redis_server_connect(&cl.node[owner]);
        if (!ctx) status = 1;
        if (!status) {
            double again;
            status = one_node_again(sizes[s], batch[s], &again) ||
                     measure(c, ctx, keys, names, sizes[s], batch[s], "llmcache-cluster", "cluster", &lm, 0);
            snprintf(what, sizeof what, "cluster hit / one-node hit, %zu KiB", sizes[s] / 1024);
            printf("RATIO %-36s %12.3f x (the one-node hit measured again just before: %.2f us)\n", what,
                   lm / again, again);
        }
        if (ctx) redisFree(ctx);
        llmcache_close(c);
        free(value);
    }
    cluster_stop(&cl);
    return status;
}

int main(void) {
    static const size_t sizes[] = {1024, 16384, 262144};
    static const int batch[] = {2000, 1000, 200};
    redis_server srv;
    llmcache_redis_config rc;
    llmcache_config cfg;
    redisContext *ctx;
    double one[3] = {0, 0, 0};
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
        char names[2][96], hex[65];
        char *value = (char *)malloc(sizes[s]);
        size_t i;
        int bad = 0;
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
        if (bad || measure(c, ctx, keys, names, sizes[s], batch[s], "llmcache-redis", "redis", &one[s], 0)) status = 1;
        llmcache_close(c);
        free(value);
    }
    redisFree(ctx);
    redis_server_stop(&srv);
    if (!status) status = bench_cluster(sizes, batch, 2);
    return status;
}
