/* tests/test_curl.c: llmcache_call through the libcurl transport against
 * tests/fake_provider.py, which this program starts on 127.0.0.1 and stops:
 * OpenAI and Anthropic round trips (the second call is a hit the server never
 * sees), streams of both, 401/429/500 and non-JSON 200s not stored, a timeout,
 * cut streams and bodies, a refused connection.
 * Build (from the repository root, where it must also run):
 *   cc -std=c99 -DLLMCACHE_CURL -I. -o build/tests/test_curl tests/test_curl.c -lcurl -lpthread -lm */
#define LLMCACHE_IMPLEMENTATION
#ifndef LLMCACHE_CURL
#define LLMCACHE_CURL
#endif
#include "../llmcache.h"
#include "test.h"
#include "provider.h"

/* ---- chunk recording */
typedef struct chunks { llmcache__buf all; int n; int last_done; } chunks;
static void on_chunk(void *ctx, const llmcache_chunk *ch) {
    chunks *c = (chunks *)ctx;
    unsigned char len[4];
    llmcache__st32(len, (uint32_t)ch->len);       /* length-prefixed, to compare boundaries */
    llmcache__buf_put(&c->all, len, 4);
    llmcache__buf_put(&c->all, ch->data, ch->len);
    c->n++;
    c->last_done = (ch->len >= 12 && memcmp(ch->data, "data: [DONE]", 12) == 0) ||
                   (ch->len >= 19 && memcmp(ch->data, "event: message_stop", 19) == 0);
}

static llmcache_curl openai, anthropic;
static char base_url[64];

static llmcache_request req_of(const char *body, const char *const *headers) {
    llmcache_request r;
    memset(&r, 0, sizeof r);
    r.body = body;
    r.body_len = strlen(body);
    r.headers = headers;
    return r;
}

static void test_round_trips(llmcache *c) {
    llmcache_request req = req_of("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there world\"}]}", NULL);
    llmcache_response r;
    server_reset();
    CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, &openai, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(r.from_cache, 0);
    CHECK(r.body && strstr(r.body, "Echo: hello there world") != NULL);
    CHECK_EQ(r.meta.prompt_tokens, 3);
    CHECK_EQ(r.meta.completion_tokens, 4);
    llmcache_response_free(&r);
    CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, &openai, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    CHECK(r.body && strstr(r.body, "Echo: hello there world") != NULL);
    llmcache_response_free(&r);
    CHECK_EQ(server_requests(), 1);

    /* Anthropic */
    server_reset();
    req = req_of("{\"model\":\"claude-x\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"hi claude\"}]}", NULL);
    CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, &anthropic, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.status, 200);
    CHECK(r.body && strstr(r.body, "\"Echo: hi claude\"") != NULL);
    CHECK_EQ(r.meta.prompt_tokens, 2);
    CHECK_EQ(r.meta.completion_tokens, 3);
    llmcache_response_free(&r);
    CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, &anthropic, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    llmcache_response_free(&r);
    CHECK_EQ(server_requests(), 1);

    /* a full URL as the endpoint */
    {
        char url[128];
        server_reset();
        snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", port);
        req = req_of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"full url\"}]}", NULL);
        req.endpoint = url;
        CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, &openai, NULL, &r), LLMCACHE_OK);
        CHECK(r.body && strstr(r.body, "chat.completion") != NULL);
        llmcache_response_free(&r);
        CHECK_EQ(server_requests(), 1);
    }
}

static void check_stream(llmcache *c, llmcache_curl *t, const char *body, int64_t pt, int64_t ct) {
    llmcache_request req = req_of(body, NULL);
    llmcache_call_options o;
    llmcache_response r, h;
    chunks live, replay;
    size_t i;
    memset(&o, 0, sizeof o);
    memset(&live, 0, sizeof live);
    memset(&replay, 0, sizeof replay);
    req.stream = 1;
    o.on_chunk = on_chunk;
    o.chunk_ctx = &live;
    server_reset();
    CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, t, &o, &r), LLMCACHE_OK);
    CHECK(live.n > 3);
    CHECK(live.last_done);
    CHECK_EQ((size_t)live.n, r.n_chunks);
    CHECK(r.meta.flags & LLMCACHE_META_STREAM);
    CHECK_EQ(r.meta.prompt_tokens, pt);
    CHECK_EQ(r.meta.completion_tokens, ct);
    o.chunk_ctx = &replay;
    CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, t, &o, &h), LLMCACHE_OK);
    CHECK_EQ(h.from_cache, 1);
    CHECK_EQ(replay.n, live.n);
    CHECK_MEM(replay.all.p, replay.all.len, live.all.p, live.all.len);
    CHECK_MEM(h.body, h.len, r.body, r.len);
    for (i = 0; i < h.n_chunks && i < r.n_chunks; i++) CHECK_EQ(h.chunks[i].at_ms, r.chunks[i].at_ms);
    CHECK_EQ(server_requests(), 1);
    llmcache_response_free(&r);
    llmcache_response_free(&h);
    llmcache__buf_free(&live.all);
    llmcache__buf_free(&replay.all);
}

static void test_streams(llmcache *c) {
    /* "one two three four five six seven" -> content deltas of 3 words, usage chunk */
    check_stream(c, &openai,
                 "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"one two three four five six seven\"}]}", 7, 8);
    /* tool call deltas */
    check_stream(c, &openai,
                 "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"weather in Paris\"}],"
                 "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
                 "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]}", -1, -1);
    /* Anthropic with thinking */
    check_stream(c, &anthropic,
                 "{\"model\":\"claude\",\"stream\":true,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"think about this\"}]}", 3, 15);
}

static void check_not_stored(llmcache *c, llmcache_curl *t, const char *body, const char *behavior, int stream,
                             int want_rc, int want_status) {
    const char *hdrs[2];
    char line[128];
    llmcache_request req;
    llmcache_response r;
    int i;
    snprintf(line, sizeof line, "X-Fake-Behavior: %s", behavior);
    hdrs[0] = line;
    hdrs[1] = NULL;
    req = req_of(body, hdrs);
    req.stream = stream;
    server_reset();
    for (i = 0; i < 2; i++) {
        CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, t, NULL, &r), want_rc);
        CHECK_EQ(r.status, want_status);
        CHECK_EQ(r.from_cache, 0);
        CHECK_EQ(r.stored, 0);
        llmcache_response_free(&r);
    }
    CHECK_MSG(server_requests() == 2, "%s: the second call reached the server", behavior);
}

static void test_failures(llmcache *c) {
    llmcache_curl wrong = openai;
    llmcache_request req;
    llmcache_response r;
    int64_t t0, ms;
    wrong.api_key = "not-the-key";
    check_not_stored(c, &wrong, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", "", 0,
                     LLMCACHE_EHTTP, 401);
    wrong = anthropic;
    wrong.api_key = "nope";
    check_not_stored(c, &wrong, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"b\"}]}", "", 0,
                     LLMCACHE_EHTTP, 401);
    check_not_stored(c, &openai, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"c\"}]}",
                     "status=429", 0, LLMCACHE_EHTTP, 429);
    check_not_stored(c, &anthropic, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"d\"}]}",
                     "status=500", 0, LLMCACHE_EHTTP, 500);
    check_not_stored(c, &openai, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"e\"}]}",
                     "garbage", 0, LLMCACHE_EREJECTED, 200);
    /* cut streams (after 3 events; and right before [DONE]) and a cut body */
    check_not_stored(c, &openai, "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"f g h i j k l\"}]}",
                     "cut=3", 1, LLMCACHE_ETRANSPORT, 0);
    check_not_stored(c, &anthropic, "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"f g h i j k l\"}]}",
                     "cut=4", 1, LLMCACHE_ETRANSPORT, 0);
    check_not_stored(c, &openai, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"g\"}]}",
                     "cut=40", 0, LLMCACHE_ETRANSPORT, 0);
    /* every event, [DONE] included, but the connection drops before the chunked
       encoding ends: curl reports the transfer failed, so nothing is stored */
    check_not_stored(c, &openai, "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                     "cut=4", 1, LLMCACHE_ETRANSPORT, 0);

    /* a timeout */
    {
        const char *hdrs[2] = {"X-Fake-Behavior: delay=3000", NULL};
        server_reset();
        req = req_of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"slow\"}]}", hdrs);
        req.timeout_ms = 300;
        t0 = llmcache__mono_us();
        CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, &openai, NULL, &r), LLMCACHE_ETRANSPORT);
        ms = (llmcache__mono_us() - t0) / 1000;
        CHECK_MSG(ms >= 250 && ms < 2500, "the timeout took %lld ms", (long long)ms);
        CHECK_EQ(r.status, 0);
        llmcache_response_free(&r);
    }
    /* a stream slower than the timeout, after its 200 */
    {
        const char *hdrs[2] = {"X-Fake-Behavior: chunk-delay=400", NULL};
        req = req_of("{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"slow stream\"}]}", hdrs);
        req.stream = 1;
        req.timeout_ms = 600;
        CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, &openai, NULL, &r), LLMCACHE_ETRANSPORT);
        CHECK(r.len > 0);
        llmcache_response_free(&r);
    }
    /* nobody listening */
    {
        llmcache_curl nowhere = openai;
        nowhere.base_url = "http://127.0.0.1:1/v1";
        req = req_of("{\"model\":\"m\",\"messages\":[]}", NULL);
        CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, &nowhere, NULL, &r), LLMCACHE_ETRANSPORT);
        llmcache_response_free(&r);
    }
    {
        llmcache_stats st;
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.errors, 0);
    }
}

int main(void) {
    llmcache *c = NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (provider_setup(&openai, base_url) != 0) {
        CHECK(0);
        return TEST_REPORT();
    }
    anthropic = openai;
    anthropic.kind = LLMCACHE_CURL_ANTHROPIC;
    CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
    test_round_trips(c);
    test_streams(c);
    test_failures(c);
    llmcache_close(c);
    stop_server();
    curl_global_cleanup();
    return TEST_REPORT();
}
