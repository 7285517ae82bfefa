/* threads.c - single-flight: 8 threads ask the same question at the same time.
 *
 * Only one of them calls the (simulated, 200 ms) provider; the other seven wait
 * for that call and share its answer. The stats show 1 provider call, 7 shared. */
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS 8

static int slow_provider(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    static const char answer[] =
        "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"42\"}}],"
        "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":1}}";
    struct timespec ts = {0, 200 * 1000000L};
    (void)ctx; (void)req;
    nanosleep(&ts, NULL);
    return llmcache_sink_write(sink, answer, sizeof answer - 1) == LLMCACHE_OK ? 200 : -1;
}

typedef struct worker { llmcache *c; const llmcache_request *req; int rc, shared; } worker;

static void *ask(void *arg) {
    worker *w = (worker *)arg;
    llmcache_response r;
    w->rc = llmcache_call(w->c, w->req, slow_provider, NULL, NULL, &r);   /* one handle, many threads */
    w->shared = r.shared;
    llmcache_response_free(&r);
    return NULL;
}

int main(void) {
    const char *body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"The answer?\"}]}";
    pthread_t th[THREADS];
    worker w[THREADS];
    llmcache_request req;
    llmcache_stats st;
    llmcache *c;
    int i;

    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.mode = llmcache_mode_parse(getenv("LLMCACHE_MODE"));   /* record, replay, ...; unset = normal */
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) return 1;
    memset(&req, 0, sizeof req);
    req.endpoint = "https://api.openai.com/v1/chat/completions";
    req.body = body;
    req.body_len = strlen(body);

    for (i = 0; i < THREADS; i++) {
        w[i].c = c; w[i].req = &req;
        pthread_create(&th[i], NULL, ask, &w[i]);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        printf("thread %d: %s%s\n", i, llmcache_result_string(w[i].rc), w[i].shared ? " (shared)" : " (called the provider)");
    }
    llmcache_stats_get(c, &st);
    printf("calls %llu, provider calls %llu, shared %llu, tokens saved %llu\n",
           (unsigned long long)st.calls, (unsigned long long)st.transport_calls,
           (unsigned long long)st.shared, (unsigned long long)st.tokens_saved);
    llmcache_close(c);
    return st.transport_calls == 1 ? 0 : 1;
}
