/* tests/cli_call_writer.c - a helper of tests/test_cli.sh: stores one response in a
 * cache file through llmcache_call (so the value is a call envelope) with a
 * transport that answers from memory, and prints the entry's key.
 *     cli_call_writer FILE json     a JSON body, status 200, 12 + 3 tokens
 *     cli_call_writer FILE stream   an SSE stream of three events */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"

#include <stdio.h>
#include <string.h>

static const char json_body[] =
    "{\"id\":\"c1\",\"choices\":[{\"message\":{\"content\":\"hello\"}}],"
    "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}";
static const char *const stream_events[] = {
    "data: {\"choices\":[{\"delta\":{\"content\":\"he\"}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"llo\"}}]}\n\n",
    "data: [DONE]\n\n",
};

static int answer(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    size_t i;
    (void)ctx;
    if (!req->stream) return llmcache_sink_write(sink, json_body, sizeof json_body - 1) ? -1 : 200;
    llmcache_sink_header(sink, "Content-Type", "text/event-stream");
    for (i = 0; i < sizeof stream_events / sizeof stream_events[0]; i++)
        if (llmcache_sink_write(sink, stream_events[i], strlen(stream_events[i]))) return -1;
    return 200;
}

int main(int argc, char **argv) {
    static const char body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    llmcache_config cfg;
    llmcache_request req;
    llmcache_response r;
    llmcache *c;
    char hex[65];
    int rc;
    if (argc != 3) { fprintf(stderr, "usage: cli_call_writer FILE json|stream\n"); return 2; }
    memset(&cfg, 0, sizeof cfg);
    cfg.path = argv[1];
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) { fprintf(stderr, "cannot open %s\n", argv[1]); return 2; }
    memset(&req, 0, sizeof req);
    req.endpoint = "test";
    req.body = body;
    req.body_len = sizeof body - 1;
    req.stream = strcmp(argv[2], "stream") == 0;
    rc = llmcache_call(c, &req, answer, NULL, NULL, &r);
    if (rc == LLMCACHE_OK && r.stored) {
        llmcache_key_hex(&r.key, hex);
        printf("%s\n", hex);
    } else {
        fprintf(stderr, "llmcache_call: %s, stored %d\n", llmcache_result_string(rc), r.stored);
    }
    llmcache_response_free(&r);
    llmcache_close(c);
    return rc == LLMCACHE_OK ? 0 : 2;
}
