/* bench/bench_xform.c - values transformed at rest (llmcache_config.transform) with
 * the reference transforms of examples/: plain, zstd (level 3), zstd with a 64 KiB
 * dictionary trained on other answers, XChaCha20-Poly1305 (libsodium).
 *
 * The answers are what llmcache_call stores (call envelopes, docs/ENVELOPE.md) for
 * tests/answer_gen.h's deterministic OpenAI-style answers: 300 chat completions and
 * 300 streams (SSE chunks, one per token) of 200 to 3000 tokens, made by an in-process
 * transport. The dictionary is trained (ZDICT_trainFromBuffer, as `llmcache
 * train-dict`) on 600 other answers of the same kinds.
 *
 * For each transform, on a log file in /tmp:
 *   - stored bytes per answer: the log's live record bytes (headers, meta, padding
 *     included) / answers, for completions and streams apart, and their ratio to plain;
 *   - put: llmcache_put_ex of each answer (encode included), us/op;
 *   - cold get: llmcache_get after reopening (read from the file, CRC, decode), us/op,
 *     for completions and streams apart;
 *   - hit: llmcache_get of a value held in memory (plain there, whatever the
 *     transform), us/op, for completions and streams apart.
 * Each figure is the best of 3 passes (CPU time). One line per figure; GOAL lines for
 * zstd+dict <= 0.35 of plain (all answers) and a completion hit < 20 us. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include "bench/bench.h"
#include "tests/answer_gen.h"
#include "examples/transform_zstd.h"
#include "examples/transform_sodium.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_EACH   300
#define N        (2 * N_EACH)
#define PASSES   3
#define GOAL_RATIO  0.35
#define GOAL_HIT_US 20.0

typedef struct answer { llmcache_key key; char *data; size_t len; llmcache_meta meta; } answer;

static const char *g_body;
static size_t g_body_len;
static int transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    (void)ctx; (void)req;
    return llmcache_sink_write(sink, g_body, g_body_len) == LLMCACHE_OK ? 200 : LLMCACHE_ETRANSPORT;
}

/* answers first..first+N-1: completions (even i < N_EACH) then streams; their envelopes */
static void make_answers(answer *a, unsigned first) {
    llmcache *c;
    llmcache_config cfg;
    unsigned i;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_bytes = (size_t)2 << 30;
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) exit(1);
    for (i = 0; i < N; i++) {
        int stream = i >= N_EACH;
        size_t tokens = 200 + (size_t)((i * 2654435761u) % 2801u), len;
        char *body = answer_make(first + i, tokens, stream, &len), req_body[128];
        llmcache_request req;
        llmcache_response res;
        llmcache_value v;
        snprintf(req_body, sizeof req_body, "{\"model\":\"gpt-4o-mini\",\"stream\":%s,\"n\":%u}",
                 stream ? "true" : "false", first + i);
        memset(&req, 0, sizeof req);
        req.body = req_body;
        req.body_len = strlen(req_body);
        req.stream = stream;
        g_body = body;
        g_body_len = len;
        if (llmcache_call(c, &req, transport, NULL, NULL, &res) != LLMCACHE_OK) { fprintf(stderr, "call failed\n"); exit(1); }
        a[i].key = res.key;
        llmcache_response_free(&res);
        if (llmcache_get(c, &a[i].key, &v) != LLMCACHE_OK) exit(1);
        a[i].data = v.data;
        a[i].len = v.len;
        a[i].meta = v.meta;
        free(body);
    }
    llmcache_close(c);
}

typedef struct figures {
    double bytes_c, bytes_s;      /* stored bytes per completion, per stream */
    double put_us, cold_c_us, cold_s_us, hit_c_us, hit_s_us;
} figures;

static char g_path[256];

static llmcache *open_log(const llmcache_transform *t) {
    llmcache_config cfg;
    llmcache *c;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = g_path;
    cfg.transform = t;
    cfg.max_bytes = (size_t)2 << 30;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) { fprintf(stderr, "open failed\n"); exit(1); }
    return c;
}

static void remove_log(void) {
    char shm[300];
    unlink(g_path);
    snprintf(shm, sizeof shm, "%s-shm", g_path);
    unlink(shm);
}

static double min_d(double a, double b) { return a < b ? a : b; }

static void measure(const llmcache_transform *t, const answer *a, figures *f) {
    int pass;
    unsigned i;
    f->put_us = f->cold_c_us = f->cold_s_us = f->hit_c_us = f->hit_s_us = 1e30;
    for (pass = 0; pass < PASSES; pass++) {
        llmcache *c;
        llmcache_stats st;
        llmcache_value v;
        double t0;
        remove_log();
        c = open_log(t);
        t0 = bench_cpu_s();
        for (i = 0; i < N_EACH; i++)
            if (llmcache_put_ex(c, &a[i].key, a[i].data, a[i].len, 0, &a[i].meta) != LLMCACHE_OK) exit(1);
        llmcache_stats_get(c, &st);
        f->bytes_c = (double)st.live_bytes / N_EACH;
        for (; i < N; i++)
            if (llmcache_put_ex(c, &a[i].key, a[i].data, a[i].len, 0, &a[i].meta) != LLMCACHE_OK) exit(1);
        f->put_us = min_d(f->put_us, (bench_cpu_s() - t0) * 1e6 / N);
        llmcache_stats_get(c, &st);
        f->bytes_s = ((double)st.live_bytes - f->bytes_c * N_EACH) / N_EACH;
        llmcache_close(c);
        c = open_log(t);
        t0 = bench_cpu_s();
        for (i = 0; i < N; i++) {
            if (i == N_EACH) {
                f->cold_c_us = min_d(f->cold_c_us, (bench_cpu_s() - t0) * 1e6 / N_EACH);
                t0 = bench_cpu_s();
            }
            if (llmcache_get(c, &a[i].key, &v) != LLMCACHE_OK || v.len != a[i].len) { fprintf(stderr, "get\n"); exit(1); }
            llmcache_value_free(&v);
        }
        f->cold_s_us = min_d(f->cold_s_us, (bench_cpu_s() - t0) * 1e6 / N_EACH);
        {
            int r;
            for (r = 0; r < 2; r++) {
                double h0 = bench_cpu_s();
                for (i = 0; i < N_EACH; i++) { llmcache_get(c, &a[i].key, &v); llmcache_value_free(&v); }
                f->hit_c_us = min_d(f->hit_c_us, (bench_cpu_s() - h0) * 1e6 / N_EACH);
                h0 = bench_cpu_s();
                for (; i < N; i++) { llmcache_get(c, &a[i].key, &v); llmcache_value_free(&v); }
                f->hit_s_us = min_d(f->hit_s_us, (bench_cpu_s() - h0) * 1e6 / N_EACH);
            }
        }
        llmcache_stats_get(c, &st);
        if (st.transform_failed || st.transform_unknown || st.cold_reads != N) { fprintf(stderr, "reads\n"); exit(1); }
        llmcache_close(c);
    }
    remove_log();
}

int main(void) {
    static answer a[N], train[N];
    static figures f[4];
    static const char *name[4] = { "plain", "zstd", "zstd+dict", "xchacha20poly1305" };
    llmcache_zstd *z, *zd;
    llmcache_sodium *s;
    llmcache_transform t[4];
    unsigned char key[32], *dict;
    char *samples;
    size_t *sizes, total = 0, dict_len;
    double plain_all, dict_all, bytes_plain_c = 0, bytes_plain_s = 0;
    unsigned i, k;
    snprintf(g_path, sizeof g_path, "/tmp/llmcache-bench-xform-%ld.log", (long)getpid());
    make_answers(a, 1);
    make_answers(train, 1000000);
    for (i = 0; i < N; i++) total += train[i].len < 131072 ? train[i].len : 131072;
    samples = (char *)malloc(total);
    sizes = (size_t *)malloc(N * sizeof *sizes);
    dict = (unsigned char *)malloc(65536);
    for (total = 0, i = 0; i < N; i++) {
        sizes[i] = train[i].len < 131072 ? train[i].len : 131072;
        memcpy(samples + total, train[i].data, sizes[i]);
        total += sizes[i];
    }
    dict_len = llmcache_zstd_train(dict, 65536, samples, sizes, N);
    if (!dict_len) { fprintf(stderr, "dictionary training failed\n"); return 1; }
    for (i = 0; i < 32; i++) key[i] = (unsigned char)(i * 7 + 1);
    if (llmcache_zstd_new(&z, NULL, 0, 0) != LLMCACHE_OK || llmcache_zstd_new(&zd, dict, dict_len, 0) != LLMCACHE_OK ||
        llmcache_sodium_new(&s, key) != LLMCACHE_OK)
        return 1;
    memset(&t[0], 0, sizeof t[0]);
    llmcache_zstd_transform(z, &t[1]);
    llmcache_zstd_transform(zd, &t[2]);
    llmcache_sodium_transform(s, &t[3]);
    {
        double lc = 0, ls = 0;
        for (i = 0; i < N_EACH; i++) { lc += (double)a[i].len; ls += (double)a[N_EACH + i].len; }
        printf("answers: %u completions (mean %.0f bytes stored by llmcache_call), %u streams (mean %.0f bytes); "
               "dictionary %zu bytes from %u other answers\n", N_EACH, lc / N_EACH, N_EACH, ls / N_EACH, dict_len, N);
    }
    for (k = 0; k < 4; k++) measure(k ? &t[k] : NULL, a, &f[k]);
    bytes_plain_c = f[0].bytes_c;
    bytes_plain_s = f[0].bytes_s;
    for (k = 0; k < 4; k++) {
        printf("RESULT  %-20s %-30s %12.0f bytes (%.3f of plain)\n", name[k], "stored per completion", f[k].bytes_c,
               f[k].bytes_c / bytes_plain_c);
        printf("RESULT  %-20s %-30s %12.0f bytes (%.3f of plain)\n", name[k], "stored per stream", f[k].bytes_s,
               f[k].bytes_s / bytes_plain_s);
        printf("RESULT  %-20s %-30s %12.3f us/op\n", name[k], "put (log, encode)", f[k].put_us);
        printf("RESULT  %-20s %-30s %12.3f us/op\n", name[k], "cold get, completion (file)", f[k].cold_c_us);
        printf("RESULT  %-20s %-30s %12.3f us/op\n", name[k], "cold get, stream (file)", f[k].cold_s_us);
        printf("RESULT  %-20s %-30s %12.3f us/op\n", name[k], "hit, completion (memory)", f[k].hit_c_us);
        printf("RESULT  %-20s %-30s %12.3f us/op\n", name[k], "hit, stream (memory)", f[k].hit_s_us);
    }
    plain_all = f[0].bytes_c + f[0].bytes_s;
    dict_all = f[2].bytes_c + f[2].bytes_s;
    printf("GOAL  %-44s %9.3f    goal <= %5.2f    %s\n", "zstd+dict stored bytes / plain (all answers)",
           dict_all / plain_all, GOAL_RATIO, dict_all / plain_all <= GOAL_RATIO ? "ok" : "MISS");
    printf("GOAL  %-44s %9.3f    goal <= %5.2f    %s\n", "zstd+dict stored bytes / plain (completions)",
           f[2].bytes_c / f[0].bytes_c, GOAL_RATIO, f[2].bytes_c / f[0].bytes_c <= GOAL_RATIO ? "ok" : "MISS");
    printf("GOAL  %-44s %9.3f us goal <  %5.1f us %s\n", "zstd+dict hit, completion", f[2].hit_c_us, GOAL_HIT_US,
           f[2].hit_c_us < GOAL_HIT_US ? "ok" : "MISS");
    printf("GOAL  %-44s %9.3f us goal <  %5.1f us %s\n", "zstd+dict cold get (file, decode), completion",
           f[2].cold_c_us, GOAL_HIT_US, f[2].cold_c_us < GOAL_HIT_US ? "ok" : "MISS");
    for (i = 0; i < N; i++) { llmcache_free(a[i].data); llmcache_free(train[i].data); }
    free(samples);
    free(sizes);
    free(dict);
    llmcache_zstd_free(z);
    llmcache_zstd_free(zd);
    llmcache_sodium_free(s);
    return 0;
}
