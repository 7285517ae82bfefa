/* tests/test_call_headers.c: llmcache_call_options.on_header (issue 16, the proxy
 * forwards the provider's headers on a miss): told every header the transport
 * passes to llmcache_sink_header, before the first event, only when the call asks
 * the transport (miss, refresh, a non-2xx answer; never a hit), and never stored. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"

static const char REQ[] = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
static const char BODY[] = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";

typedef struct seen {
    char heads[512]; size_t len;   /* "name=value;" for each header told */
    int headers, chunks, header_after_chunk;
} seen;

static int status_to_send = 200;

static int transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    (void)ctx; (void)req;
    llmcache_sink_header(sink, "x-request-id", "req_abc");
    llmcache_sink_header(sink, "Content-Type", "text/event-stream");
    if (status_to_send == 429) llmcache_sink_header(sink, "Retry-After", " 7");
    llmcache_sink_write(sink, BODY, sizeof BODY - 1);
    return status_to_send;
}

static void on_header(void *ctx, const char *name, const char *value) {
    seen *s = (seen *)ctx;
    int n = snprintf(s->heads + s->len, sizeof s->heads - s->len, "%s=%s;", name, value);
    if (n > 0 && (size_t)n < sizeof s->heads - s->len) s->len += (size_t)n;
    s->headers++;
    if (s->chunks) s->header_after_chunk = 1;
}

static void on_chunk(void *ctx, const llmcache_chunk *ch) {
    (void)ch;
    ((seen *)ctx)->chunks++;
}

static int call(llmcache *c, int refresh, seen *s, int *from_cache) {
    llmcache_request req;
    llmcache_call_options o;
    llmcache_response out;
    int rc;
    memset(&req, 0, sizeof req);
    memset(&o, 0, sizeof o);
    memset(s, 0, sizeof *s);
    req.endpoint = "https://example.invalid/v1/chat/completions";
    req.body = REQ;
    req.body_len = sizeof REQ - 1;
    req.stream = 1;
    o.refresh = refresh;
    o.on_header = on_header;
    o.on_chunk = on_chunk;
    o.chunk_ctx = s;
    rc = llmcache_call(c, &req, transport, NULL, &o, &out);
    *from_cache = out.from_cache;
    llmcache_response_free(&out);
    return rc;
}

/* counts the entries whose value does not hold the header's value */
static int count_clean(void *ctx, const llmcache_entry_info *e) {
    size_t i;
    if (!e->data) return 0;
    for (i = 0; i + 7 <= e->len; i++) if (memcmp(e->data + i, "req_abc", 7) == 0) return 0;
    (*(int *)ctx)++;
    return 0;
}

int main(void) {
    llmcache *c = NULL;
    llmcache_config cfg;
    llmcache_stats st;
    seen s;
    int from_cache = 0;
    memset(&cfg, 0, sizeof cfg);
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);

    CHECK_EQ(call(c, 0, &s, &from_cache), LLMCACHE_OK);            /* a miss */
    CHECK(!from_cache);
    CHECK_EQ(s.headers, 2);
    CHECK(strcmp(s.heads, "x-request-id=req_abc;Content-Type=text/event-stream;") == 0);
    CHECK_EQ(s.chunks, 2);
    CHECK(!s.header_after_chunk);

    CHECK_EQ(call(c, 0, &s, &from_cache), LLMCACHE_OK);            /* a hit: nothing told */
    CHECK(from_cache);
    CHECK_EQ(s.headers, 0);
    CHECK_EQ(s.chunks, 2);

    CHECK_EQ(call(c, 1, &s, &from_cache), LLMCACHE_OK);            /* a refresh asks again */
    CHECK(!from_cache);
    CHECK_EQ(s.headers, 2);

    status_to_send = 429;                                          /* a non-2xx answer, trimmed value */
    CHECK_EQ(call(c, 1, &s, &from_cache), LLMCACHE_EHTTP);
    CHECK(strstr(s.heads, "Retry-After=7;") != NULL);
    CHECK_EQ(s.headers, 3);

    /* nothing of the headers is stored: the one entry's value never holds them */
    {
        int n = 0;
        CHECK_EQ(llmcache_foreach(c, 1, count_clean, &n), LLMCACHE_OK);
        CHECK_EQ(n, 1);
    }
    llmcache_stats_get(c, &st);
    CHECK_EQ((long long)st.transport_calls, 3);
    llmcache_close(c);
    return TEST_REPORT();
}
