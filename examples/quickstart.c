/* quickstart.c - the llmcache demo (`make demo`): no network, no API key.
 *
 * A simulated provider (a transport function that takes ~100 ms and answers
 * with a realistic chat completion) sits behind llmcache_call. The first call
 * misses and goes to the provider; the second is a hit. The cache lives in
 * build/quickstart.cache, so on the next run even the first call is a hit. */
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_PATH "build/quickstart.cache"

/* The caller's HTTP code would go here; this one pretends. */
static int simulated_provider(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    static const char answer[] =
        "{\n"
        "  \"id\": \"chatcmpl-demo\",\n"
        "  \"object\": \"chat.completion\",\n"
        "  \"created\": 1700000000,\n"
        "  \"model\": \"gpt-4o-mini\",\n"
        "  \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\",\n"
        "    \"content\": \"A cache stores answers so that the same question is not paid for twice.\"},\n"
        "    \"finish_reason\": \"stop\"}],\n"
        "  \"usage\": {\"prompt_tokens\": 24, \"completion_tokens\": 16, \"total_tokens\": 40}\n"
        "}\n";
    struct timespec ts = {0, 100 * 1000000L};
    (void)ctx; (void)req;
    nanosleep(&ts, NULL);                              /* the provider thinking */
    if (llmcache_sink_write(sink, answer, sizeof answer - 1) != LLMCACHE_OK) return -1;
    return 200;                                        /* the HTTP status */
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void show(int n, int rc, const llmcache_response *r, double us) {
    if (rc != LLMCACHE_OK) { printf("call %d: %s\n", n, llmcache_result_string(rc)); return; }
    if (r->from_cache && n == 1)
        printf("call %d: HIT   %8.1f us  served from the file %s, stored by an earlier run\n", n, us, CACHE_PATH);
    else if (r->from_cache)
        printf("call %d: HIT   %8.1f us  served from the cache\n", n, us);
    else
        printf("call %d: MISS  %8.1f ms  the provider answered%s\n", n, us / 1000, r->stored ? "; stored" : "");
}

int main(void) {
    const char *body =
        "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"What is a cache?\"}]}";
    llmcache_config cfg;
    llmcache_request req;
    llmcache_response r;
    llmcache_stats st;
    llmcache *c;
    char hex[65];
    double t;
    int rc, i;

    memset(&cfg, 0, sizeof cfg);
    cfg.path = CACHE_PATH;                             /* NULL would keep it in memory only */
    cfg.mode = llmcache_mode_parse(getenv("LLMCACHE_MODE"));   /* record, replay, ...; unset = normal */
    rc = llmcache_open(&c, &cfg);
    if (rc != LLMCACHE_OK) {
        fprintf(stderr, "cannot open %s: %s (run from the repository root after make)\n", CACHE_PATH,
                llmcache_result_string(rc));
        return 1;
    }

    memset(&req, 0, sizeof req);
    req.endpoint = "https://api.openai.com/v1/chat/completions";
    req.body = body;
    req.body_len = strlen(body);

    for (i = 1; i <= 2; i++) {
        t = now_us();
        rc = llmcache_call(c, &req, simulated_provider, NULL, NULL, &r);
        show(i, rc, &r, now_us() - t);
        if (i == 1) {
            llmcache_key_hex(&r.key, hex);
            printf("        key %s\n", hex);
        }
        llmcache_response_free(&r);
    }

    llmcache_stats_get(c, &st);
    printf("stats:  hits %llu, misses %llu, provider calls %llu, time saved %llu ms, tokens saved %llu\n",
           (unsigned long long)st.hits, (unsigned long long)st.misses,
           (unsigned long long)st.transport_calls, (unsigned long long)st.time_saved_ms,
           (unsigned long long)st.tokens_saved);
    printf("run it again: the first call will be a hit from %s (rm it to start over)\n", CACHE_PATH);
    llmcache_close(c);
    return 0;
}
