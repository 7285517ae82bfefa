/* bench/bench_batch.c: llmcache_call_many at scale, the way `llmcache batch` runs it.
 *     cc -std=c99 -O2 -DLLMCACHE_CURL -I. -o build/bench/bench_batch bench/bench_batch.c \
 *        -lmicrohttpd -lcurl -lpthread -lm
 * 10,000 distinct chat requests (BENCH_BATCH_N overrides) at concurrency 64 through
 * the bundled libcurl transport to a provider on 127.0.0.1 that answers each after
 * 50 ms: a small libmicrohttpd server in this program (a thread per connection).
 * tests/fake_provider.py, the test suites' provider, cannot keep up here: Python's
 * threaded http.server serves about 230 such requests per second on 2 cores, where
 * the bound is 64 / 50 ms = 1280. Figures:
 *   cold   wall time of the first run (every request a miss) against the ideal
 *          n / concurrency x latency (goal: within 1.2x);
 *   warm   the same batch again through a fresh handle on the same cache file:
 *          every answer from the cache (goal: under 1 s). */
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include "bench/bench.h"
#include <curl/curl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONCURRENCY 64
#define LATENCY_MS  50
#define GOAL_RATIO  1.2
#define GOAL_WARM_S 1.0

static const char answer[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"m\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Echo: a question\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":3,\"total_tokens\":6}}";

static llmcache__mutex served_mu;
static long served;

/* libmicrohttpd's request handler: read the body, wait the latency, answer. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **state) {
    static int started;
    struct MHD_Response *r;
    enum MHD_Result ret;
    (void)cls; (void)url; (void)method; (void)version; (void)data;
    if (!*state) { *state = &started; return MHD_YES; }
    if (*data_size) { *data_size = 0; return MHD_YES; }
    llmcache__sleep_ms(LATENCY_MS);
    llmcache__lock(&served_mu);
    served++;
    llmcache__unlock(&served_mu);
    r = MHD_create_response_from_buffer(sizeof answer - 1, (void *)answer, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* One run over a fresh handle on path: seconds, and the hits and failures. */
static double run(const char *path, const llmcache_request *reqs, size_t n, llmcache_curl *t, size_t *hits,
                  size_t *failed) {
    llmcache_config cfg;
    llmcache_batch_options o;
    llmcache_response *out = (llmcache_response *)calloc(n, sizeof *out);
    int *rcs = (int *)calloc(n, sizeof *rcs);
    llmcache *c = NULL;
    double t0, secs;
    size_t i;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    if (!out || !rcs || llmcache_open(&c, &cfg) != LLMCACHE_OK) { fprintf(stderr, "cannot open %s\n", path); exit(1); }
    memset(&o, 0, sizeof o);
    o.concurrency = CONCURRENCY;
    o.results = rcs;
    t0 = bench_now_s();
    if (llmcache_call_many(c, reqs, n, llmcache_curl_transport, t, &o, out) != LLMCACHE_OK) exit(1);
    secs = bench_now_s() - t0;
    *hits = *failed = 0;
    for (i = 0; i < n; i++) {
        *hits += out[i].from_cache ? 1u : 0u;
        *failed += rcs[i] != LLMCACHE_OK;
        llmcache_response_free(&out[i]);
    }
    llmcache_close(c);
    free(out);
    free(rcs);
    return secs;
}

int main(void) {
    const char *env = getenv("BENCH_BATCH_N");
    size_t n = env && atol(env) > 0 ? (size_t)atol(env) : 10000, i, hits, failed;
    char dir[] = "/tmp/llmcache-bench-batch-XXXXXX", path[256], url[128], (*bodies)[96];
    llmcache_request *reqs;
    llmcache_curl t;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    double cold, warm, ideal = (double)n / CONCURRENCY * LATENCY_MS / 1000.0;

    llmcache__mutex_init(&served_mu);
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                         on_request, NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U,
                         MHD_OPTION_CONNECTION_LIMIT, 4096U, MHD_OPTION_END);
    info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info || !mkdtemp(dir)) { fprintf(stderr, "cannot start the local provider\n"); return 1; }
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/chat/completions", (unsigned)info->port);
    snprintf(path, sizeof path, "%s/batch.llmc", dir);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&t, 0, sizeof t);
    t.api_key = "bench";
    t.pool = getenv("BENCH_BATCH_NO_POOL") ? NULL : llmcache_curl_pool_new();
    bodies = (char (*)[96])calloc(n, sizeof *bodies);
    reqs = (llmcache_request *)calloc(n, sizeof *reqs);
    if (!bodies || !reqs) return 1;
    for (i = 0; i < n; i++) {
        snprintf(bodies[i], sizeof bodies[i], "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"question %zu\"}]}", i);
        reqs[i].endpoint = url;
        reqs[i].body = bodies[i];
        reqs[i].body_len = strlen(bodies[i]);
    }

    cold = run(path, reqs, n, &t, &hits, &failed);
    printf("cold: %zu requests, %ld served by the provider, %zu failed, %.2f s (ideal %.2f s)\n", n, served, failed,
           cold, ideal);
    if (failed || (size_t)served != n) return 1;
    warm = run(path, reqs, n, &t, &hits, &failed);
    printf("warm: %zu requests, %zu from the cache, %zu failed, %.3f s\n", n, hits, failed, warm);
    if (failed || hits != n) return 1;

    printf("RESULT  %-22s %-22s %12.3f s (%zu requests, %d in flight, %d ms each)\n", "llmcache-batch", "cold run",
           cold, n, CONCURRENCY, LATENCY_MS);
    printf("RESULT  %-22s %-22s %12.3f s\n", "llmcache-batch", "ideal n/conc*latency", ideal);
    printf("RESULT  %-22s %-22s %12.3f s\n", "llmcache-batch", "warm run (all hits)", warm);
    printf("GOAL  %-36s %12.3f %-6s goal %s %7.2f %-6s %s\n", "batch cold / ideal", cold / ideal, "x", "< ",
           GOAL_RATIO, "x", cold / ideal < GOAL_RATIO ? "PASS" : "MISS");
    printf("GOAL  %-36s %12.3f %-6s goal %s %7.2f %-6s %s\n", "batch warm run, all hits", warm, "s", "< ",
           GOAL_WARM_S, "s", warm < GOAL_WARM_S ? "PASS" : "MISS");
    llmcache_curl_pool_free(t.pool);
    MHD_stop_daemon(d);
    curl_global_cleanup();
    unlink(path);
    {
        char shm[300];
        snprintf(shm, sizeof shm, "%s-shm", path);
        unlink(shm);
    }
    rmdir(dir);
    free(bodies);
    free(reqs);
    return 0;
}
