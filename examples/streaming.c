/* streaming.c - a streamed (SSE) response recorded once and replayed from the cache.
 *
 * The simulated provider sends OpenAI-style "data: {...}" events 80 ms apart. The
 * first call forwards each event live to on_chunk and records it; the second one
 * replays the same events, byte for byte, instantly; the third at the recorded pace. */
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const events[] = {
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Streams \"}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"are cached \"}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"too.\"}}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5}}\n\n",
    "data: [DONE]\n\n",
};

/* A provider that streams: each write is what one network read would deliver. */
static int simulated_stream(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    struct timespec gap = {0, 80 * 1000000L};
    size_t i;
    (void)ctx; (void)req;
    for (i = 0; i < sizeof events / sizeof events[0]; i++) {
        if (i) nanosleep(&gap, NULL);
        if (llmcache_sink_write(sink, events[i], strlen(events[i])) != LLMCACHE_OK) return -1;
    }
    return 200;
}

/* Told each event: live from the provider, or replayed from the cache. */
static void print_chunk(void *ctx, const llmcache_chunk *ch) {
    int len = (int)ch->len;
    while (len > 0 && ch->data[len - 1] == '\n') len--;   /* the blank line that ends the event */
    printf("  %s (recorded at +%3lld ms)  %.*s\n", (const char *)ctx, (long long)ch->at_ms, len, ch->data);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(void) {
    const char *body = "{\"model\":\"gpt-4o-mini\",\"stream\":true,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"Are streams cached?\"}]}";
    static const char *const labels[3] = {"live  ", "replay", "paced "};
    llmcache_call_options opts;
    llmcache_request req;
    llmcache_response r;
    llmcache *c;
    double t;
    int i, rc;

    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.mode = llmcache_mode_parse(getenv("LLMCACHE_MODE"));   /* record, replay, ...; unset = normal */
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) return 1;
    memset(&req, 0, sizeof req);
    req.endpoint = "https://api.openai.com/v1/chat/completions";
    req.body = body;
    req.body_len = strlen(body);
    req.stream = 1;                                     /* split the answer into SSE events */

    memset(&opts, 0, sizeof opts);
    opts.on_chunk = print_chunk;
    for (i = 0; i < 3; i++) {
        opts.chunk_ctx = (void *)labels[i];
        opts.replay_pace = i == 2 ? LLMCACHE_REPLAY_RECORDED : LLMCACHE_REPLAY_INSTANT;
        t = now_ms();
        rc = llmcache_call(c, &req, simulated_stream, NULL, &opts, &r);
        printf("%s: %s, %zu events, %lld+%lld tokens, %.1f ms\n\n", labels[i],
               rc != LLMCACHE_OK ? llmcache_result_string(rc) : r.from_cache ? "hit" : "miss",
               r.n_chunks, (long long)r.meta.prompt_tokens, (long long)r.meta.completion_tokens, now_ms() - t);
        llmcache_response_free(&r);
    }
    llmcache_close(c);
    return 0;
}
