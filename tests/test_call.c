/* tests/test_call.c: llmcache_call (hit, miss, refresh, no-store, max-age, TTL),
 * failures never stored, fail-open, SSE record and byte-exact replay, paced replay,
 * single-flight across threads, the envelope decoder on hostile bytes,
 * purge_schema, events and the saved time/tokens stats.
 * Also run under ThreadSanitizer:
 *   gcc -std=c99 -g -O1 -fsanitize=thread -I. -o /tmp/test_call_tsan tests/test_call.c -lpthread -lm */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#ifndef _WIN32   /* fork and RLIMIT_FSIZE: test_fail_open_full_disk */
#  include <signal.h>
#  include <sys/resource.h>
#  include <sys/wait.h>
#endif

/* ---- a scripted transport */
typedef struct fake {
    pthread_mutex_t mu;
    int calls;               /* transport invocations (under mu) */
    int status;              /* returned status; 0 = 200 */
    const char *body;        /* bytes to write; NULL = "" */
    size_t piece;            /* write in pieces of this many bytes; 0 = at once */
    int sleep_ms;            /* before the first byte */
    int event_sleep_ms;      /* between SSE events (split after each blank line) */
    int fail;                /* return -1 after writing */
    const char *content_type;/* told through llmcache_sink_header */
    int counter;             /* when set, "%d" in body is replaced by the call number */
} fake;

static void fake_init(fake *f, const char *body) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->body = body;
}
static int fake_calls(fake *f) {
    int n;
    pthread_mutex_lock(&f->mu);
    n = f->calls;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static void sleep_ms(int ms) { llmcache__sleep_ms(ms); }

static int fake_transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    fake *f = (fake *)ctx;
    char buf[4096];
    const char *b = f->body ? f->body : "";
    size_t n, i = 0;
    int call;
    (void)req;
    pthread_mutex_lock(&f->mu);
    call = ++f->calls;
    pthread_mutex_unlock(&f->mu);
    if (f->counter) { snprintf(buf, sizeof buf, b, call); b = buf; }
    n = strlen(b);
    if (f->sleep_ms) sleep_ms(f->sleep_ms);
    if (f->content_type) llmcache_sink_header(sink, "Content-Type", f->content_type);
    while (i < n) {
        size_t m = n - i;
        if (f->event_sleep_ms) {
            const char *e = strstr(b + i, "\n\n");
            m = e ? (size_t)(e - (b + i)) + 2 : n - i;
            if (i) sleep_ms(f->event_sleep_ms);
        } else if (f->piece && f->piece < m) m = f->piece;
        if (llmcache_sink_write(sink, b + i, m) != LLMCACHE_OK) return -1;
        i += m;
    }
    if (f->fail) return -1;
    return f->status ? f->status : 200;
}

/* ---- an injected clock */
static int64_t test_clock(void *ctx) { return *(int64_t *)ctx; }

/* ---- an event recorder */
typedef struct events {
    pthread_mutex_t mu;
    int n[8];
    int last_result;
    llmcache_key last_key;
    int key_ok;
} events;
static void on_event(void *ctx, const llmcache_event *ev) {
    events *e = (events *)ctx;
    pthread_mutex_lock(&e->mu);
    if (ev->type > 0 && ev->type < 8) e->n[ev->type]++;
    e->last_result = ev->result;
    if (ev->key) e->last_key = *ev->key;
    e->key_ok = ev->message != NULL;
    pthread_mutex_unlock(&e->mu);
}

/* ---- a chunk recorder */
typedef struct chunks {
    char data[64][512];
    size_t len[64];
    int64_t at[64];
    int n;
} chunks;
static void on_chunk(void *ctx, const llmcache_chunk *ch) {
    chunks *c = (chunks *)ctx;
    if (c->n < 64 && ch->len < 512) {
        memcpy(c->data[c->n], ch->data, ch->len);
        c->len[c->n] = ch->len;
        c->at[c->n] = ch->at_ms;
    }
    c->n++;
}

static const char CHAT_BODY[] =
    "{\n  \"id\": \"chatcmpl-1\",\n  \"object\": \"chat.completion\",\n  \"created\": 1700000000,\n"
    "  \"model\": \"gpt-4o-mini\",\n  \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\","
    " \"content\": \"Hello there!\"}, \"finish_reason\": \"stop\"}],\n"
    "  \"usage\": {\"prompt_tokens\": 12, \"completion_tokens\": 5, \"total_tokens\": 17}\n}\n";

static const char REQ_BODY[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
static const char REQ_BODY_WS[] = "{ \"messages\" : [ { \"content\":\"Hi\", \"role\":\"user\" } ], \"model\":\"gpt-4o-mini\" }";

static llmcache_request make_req(const char *body) {
    llmcache_request r;
    memset(&r, 0, sizeof r);
    r.endpoint = "https://api.openai.com/v1/chat/completions";
    r.body = body;
    r.body_len = strlen(body);
    return r;
}

static llmcache *open_cache(int64_t *clock_ms, events *ev, size_t max_bytes) {
    llmcache *c = NULL;
    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = "tests";
    cfg.max_bytes = max_bytes;
    if (clock_ms) { cfg.clock = test_clock; cfg.clock_ctx = clock_ms; }
    if (ev) { cfg.on_event = on_event; cfg.event_ctx = ev; }
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    return c;
}

static void test_hit_miss(void) {
    int64_t now = 1000000;
    llmcache *c = open_cache(&now, NULL, 0);
    fake f;
    llmcache_request req = make_req(REQ_BODY), req2 = make_req(REQ_BODY_WS);
    llmcache_response r, r2;
    llmcache_key k;
    llmcache_stats st;
    fake_init(&f, CHAT_BODY);
    f.piece = 7;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 0);
    CHECK_EQ(r.stored, 1);
    CHECK_EQ(r.status, 200);
    CHECK_MEM(r.body, r.len, CHAT_BODY, strlen(CHAT_BODY));
    CHECK_EQ(r.body[r.len], 0);
    CHECK(r.model == NULL);
    CHECK_EQ(r.n_chunks, 0);
    CHECK_EQ(r.meta.prompt_tokens, 12);
    CHECK_EQ(r.meta.completion_tokens, 5);
    CHECK_EQ(r.meta.status, 200);
    CHECK(r.meta.flags & LLMCACHE_META_ENVELOPE);
    CHECK(!(r.meta.flags & LLMCACHE_META_STREAM));
    CHECK_EQ(r.created_ms, now);
    CHECK_EQ(r.expires_ms, 0);
    CHECK_EQ(llmcache_key_for(&k, "tests", &req), LLMCACHE_OK);
    CHECK(memcmp(k.bytes, r.key.bytes, 32) == 0);
    /* the same request with other whitespace and member order is a hit */
    CHECK_EQ(llmcache_call(c, &req2, fake_transport, &f, NULL, &r2), LLMCACHE_OK);
    CHECK_EQ(r2.from_cache, 1);
    CHECK_EQ(r2.stored, 0);
    CHECK_EQ(r2.status, 200);
    CHECK_MEM(r2.body, r2.len, CHAT_BODY, strlen(CHAT_BODY));
    CHECK_EQ(r2.body[r2.len], 0);
    CHECK_EQ(r2.meta.prompt_tokens, 12);
    CHECK_EQ(r2.created_ms, now);
    CHECK_EQ(fake_calls(&f), 1);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.calls, 2);
    CHECK_EQ(st.transport_calls, 1);
    CHECK_EQ(st.hits, 1);
    CHECK_EQ(st.misses, 1);
    CHECK_EQ(st.tokens_saved, 17);
    CHECK_EQ(st.errors, 0);
    llmcache_response_free(&r);
    llmcache_response_free(&r2);
    llmcache_response_free(&r2);   /* twice is harmless: it was zeroed */
    CHECK(r2.body == NULL);
    llmcache_close(c);
}

static void test_controls(void) {
    int64_t now = 5000000;
    llmcache *c = open_cache(&now, NULL, 0);
    fake f;
    llmcache_request req = make_req(REQ_BODY);
    llmcache_call_options o;
    llmcache_response r;
    fake_init(&f, "{\"n\": %d, \"usage\": {\"prompt_tokens\": 1, \"completion_tokens\": 2}}");
    f.counter = 1;
    memset(&o, 0, sizeof o);

    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK_STR(r.body, "{\"n\": 1, \"usage\": {\"prompt_tokens\": 1, \"completion_tokens\": 2}}");
    llmcache_response_free(&r);

    /* refresh: skips the lookup, stores the fresh answer */
    o.refresh = 1;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 0);
    CHECK_EQ(r.stored, 1);
    CHECK(strstr(r.body, "\"n\": 2") != NULL);
    llmcache_response_free(&r);
    o.refresh = 0;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    CHECK(strstr(r.body, "\"n\": 2") != NULL);
    llmcache_response_free(&r);
    CHECK_EQ(fake_calls(&f), 2);

    /* max-age: too old an entry is refetched (and replaced) */
    now += 10000;
    o.max_age_ms = 5000;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 0);
    CHECK(strstr(r.body, "\"n\": 3") != NULL);
    CHECK_EQ(r.created_ms, now);
    llmcache_response_free(&r);
    now += 4000;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    CHECK(strstr(r.body, "\"n\": 3") != NULL);
    llmcache_response_free(&r);
    o.max_age_ms = 0;

    /* no-store: a fresh answer is not kept; a stored one is still served */
    {
        llmcache_request other = make_req("{\"model\":\"m\",\"messages\":[]}");
        o.no_store = 1;
        CHECK_EQ(llmcache_call(c, &other, fake_transport, &f, &o, &r), LLMCACHE_OK);
        CHECK_EQ(r.stored, 0);
        CHECK_EQ(r.created_ms, 0);
        llmcache_response_free(&r);
        o.no_store = 0;
        CHECK_EQ(llmcache_call(c, &other, fake_transport, &f, &o, &r), LLMCACHE_OK);
        CHECK_EQ(r.from_cache, 0);
        llmcache_response_free(&r);
        CHECK_EQ(fake_calls(&f), 5);
        o.no_store = 1;
        CHECK_EQ(llmcache_call(c, &other, fake_transport, &f, &o, &r), LLMCACHE_OK);
        CHECK_EQ(r.from_cache, 1);
        llmcache_response_free(&r);
        o.no_store = 0;
    }

    /* TTL override */
    {
        llmcache_request other = make_req("{\"model\":\"ttl\",\"messages\":[]}");
        o.ttl_ms = 100;
        CHECK_EQ(llmcache_call(c, &other, fake_transport, &f, &o, &r), LLMCACHE_OK);
        CHECK_EQ(r.expires_ms, now + 100);
        llmcache_response_free(&r);
        now += 99;
        CHECK_EQ(llmcache_call(c, &other, fake_transport, &f, &o, &r), LLMCACHE_OK);
        CHECK_EQ(r.from_cache, 1);
        CHECK_EQ(r.expires_ms, now + 1);
        llmcache_response_free(&r);
        now += 1;
        CHECK_EQ(llmcache_call(c, &other, fake_transport, &f, &o, &r), LLMCACHE_OK);
        CHECK_EQ(r.from_cache, 0);
        llmcache_response_free(&r);
        o.ttl_ms = 0;
    }

    /* a malformed request is refused before any transport call */
    {
        llmcache_request bad = make_req("{\"model\": ");
        int before = fake_calls(&f);
        CHECK_EQ(llmcache_call(c, &bad, fake_transport, &f, &o, &r), LLMCACHE_EINVAL);
        CHECK(r.body == NULL);
        CHECK_EQ(fake_calls(&f), before);
        bad = make_req(REQ_BODY);
        bad.schema = "{bad";
        bad.schema_len = 4;
        CHECK_EQ(llmcache_call(c, &bad, fake_transport, &f, &o, &r), LLMCACHE_EINVAL);
        CHECK_EQ(llmcache_call(NULL, &req, fake_transport, &f, &o, &r), LLMCACHE_EINVAL);
        CHECK_EQ(llmcache_call(c, &req, NULL, &f, &o, &r), LLMCACHE_EINVAL);
        CHECK_EQ(fake_calls(&f), before);
    }
    llmcache_close(c);
}

static int reject_all(void *ctx, const llmcache_response *r) {
    (void)ctx;
    return r->status == 200;
}

static int parse_content(void *ctx, const llmcache_response *r, llmcache_sink *model) {
    const char *p = strstr(r->body, "\"content\": \"");
    const char *e;
    int *n = (int *)ctx;
    (*n)++;
    if (!p) return 1;
    p += 12;
    e = strchr(p, '"');
    if (!e) return 1;
    return llmcache_sink_write(model, p, (size_t)(e - p)) == LLMCACHE_OK ? 0 : 1;
}

static void test_failures_not_stored(void) {
    events ev;
    llmcache *c;
    fake f;
    llmcache_request req = make_req(REQ_BODY);
    llmcache_call_options o;
    llmcache_response r;
    llmcache_stats st;
    int statuses[4] = {500, 429, 401, 302}, i, parses = 0;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.mu, NULL);
    c = open_cache(NULL, &ev, 0);
    memset(&o, 0, sizeof o);

    for (i = 0; i < 4; i++) {
        fake_init(&f, "{\"error\": {\"message\": \"nope\"}}");
        f.status = statuses[i];
        CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_EHTTP);
        CHECK_EQ(r.status, statuses[i]);
        CHECK_STR(r.body, "{\"error\": {\"message\": \"nope\"}}");
        CHECK_EQ(r.stored, 0);
        llmcache_response_free(&r);
        CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_EHTTP);
        CHECK_EQ(fake_calls(&f), 2);
        llmcache_response_free(&r);
    }

    /* the transport failing, after some bytes */
    fake_init(&f, "{\"partial\": ");
    f.fail = 1;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_ETRANSPORT);
    CHECK_EQ(r.status, 0);
    CHECK_STR(r.body, "{\"partial\": ");
    llmcache_response_free(&r);

    /* a 200 whose body is not JSON */
    fake_init(&f, "<html>gateway</html>");
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_EREJECTED);
    CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "<html>gateway</html>");
    llmcache_response_free(&r);

    /* validate refuses */
    fake_init(&f, CHAT_BODY);
    o.validate = reject_all;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_EREJECTED);
    CHECK_MEM(r.body, r.len, CHAT_BODY, strlen(CHAT_BODY));
    llmcache_response_free(&r);
    o.validate = NULL;
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.puts, 0);
    CHECK_EQ(st.entries, 0);
    CHECK_EQ(ev.n[LLMCACHE_EVENT_STORE], 0);
    CHECK_EQ(ev.n[LLMCACHE_EVENT_HIT], 0);

    /* parse refusing also rejects; accepting stores the model */
    fake_init(&f, "{\"usage\": {}}");
    o.parse = parse_content;
    o.parse_ctx = &parses;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_EREJECTED);
    llmcache_response_free(&r);
    fake_init(&f, CHAT_BODY);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK(r.model != NULL);
    if (r.model) CHECK_STR(r.model, "Hello there!");
    CHECK_EQ(r.model_len, 12);
    CHECK(r.meta.flags & LLMCACHE_META_HAS_MODEL);
    llmcache_response_free(&r);
    o.parse = NULL;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    CHECK(r.model != NULL);
    if (r.model) CHECK_MEM(r.model, r.model_len, "Hello there!", 12);
    CHECK_MEM(r.body, r.len, CHAT_BODY, strlen(CHAT_BODY));
    CHECK_EQ(parses, 2);
    llmcache_response_free(&r);

    /* raw_body: a non-JSON 200 is stored when asked for */
    {
        llmcache_request audio = make_req("{\"model\":\"tts\",\"input\":\"hi\"}");
        fake_init(&f, "RIFF\x01\x02 binary");
        o.raw_body = 1;
        CHECK_EQ(llmcache_call(c, &audio, fake_transport, &f, &o, &r), LLMCACHE_OK);
        CHECK_EQ(r.meta.prompt_tokens, -1);
        llmcache_response_free(&r);
        CHECK_EQ(llmcache_call(c, &audio, fake_transport, &f, &o, &r), LLMCACHE_OK);
        CHECK_EQ(r.from_cache, 1);
        CHECK_STR(r.body, "RIFF\x01\x02 binary");
        llmcache_response_free(&r);
        o.raw_body = 0;
    }

    /* a hit without a stored model runs parse on the stored body (not stored back) */
    {
        llmcache_request q = make_req("{\"model\":\"parse-on-hit\",\"messages\":[]}");
        fake_init(&f, CHAT_BODY);
        CHECK_EQ(llmcache_call(c, &q, fake_transport, &f, &o, &r), LLMCACHE_OK);
        CHECK(r.model == NULL);
        llmcache_response_free(&r);
        o.parse = parse_content;
        CHECK_EQ(llmcache_call(c, &q, fake_transport, &f, &o, &r), LLMCACHE_OK);
        CHECK_EQ(r.from_cache, 1);
        CHECK(r.model != NULL);
        if (r.model) CHECK_STR(r.model, "Hello there!");
        CHECK_MEM(r.body, r.len, CHAT_BODY, strlen(CHAT_BODY));
        llmcache_response_free(&r);
        o.parse = NULL;
        CHECK_EQ(fake_calls(&f), 1);
    }
    llmcache_close(c);
    pthread_mutex_destroy(&ev.mu);
}

/* The store refuses every value (max_bytes too small): answers still come back. */
static void test_fail_open(void) {
    events ev;
    llmcache *c;
    fake f;
    llmcache_request req = make_req(REQ_BODY);
    llmcache_response r;
    llmcache_stats st;
    llmcache_key k;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.mu, NULL);
    c = open_cache(NULL, &ev, 300);
    fake_init(&f, CHAT_BODY);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK_MEM(r.body, r.len, CHAT_BODY, strlen(CHAT_BODY));
    CHECK_EQ(r.stored, 0);
    llmcache_response_free(&r);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 0);
    llmcache_response_free(&r);
    CHECK_EQ(fake_calls(&f), 2);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.errors, 2);
    CHECK_EQ(ev.n[LLMCACHE_EVENT_ERROR], 2);
    CHECK_EQ(ev.last_result, LLMCACHE_ETOOBIG);
    llmcache_close(c);

    /* a stored value that is not an envelope: reported, then replaced */
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.mu, NULL);
    c = open_cache(NULL, &ev, 0);
    CHECK_EQ(llmcache_key_for(&k, "tests", &req), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &k, "garbage", 7, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 0);
    CHECK_EQ(r.stored, 1);
    llmcache_response_free(&r);
    CHECK_EQ(ev.n[LLMCACHE_EVENT_ERROR], 1);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    llmcache_response_free(&r);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.errors, 1);
    CHECK_EQ(st.hits, 1);
    CHECK_EQ(st.misses, 1);
    llmcache_close(c);
    pthread_mutex_destroy(&ev.mu);
}

/* ---- streams */
static const char OPENAI_STREAM[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":\"Let me think\"}}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\" about \\u00e9t\\u00e9 \xe2\x98\x83.\"}}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":21,\"completion_tokens\":9,\"total_tokens\":30}}\n\n"
    "data: [DONE]\n\n";

static const char ANTHROPIC_STREAM[] =
    "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\r\n\r\n"
    "event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\r\n\r\n"
    "event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n"
    "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Hmm, 2+2\"}}\r\n\r\n"
    "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM\"}}\r\n\r\n"
    "event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\",\"index\":0}\r\n\r\n"
    "event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"calc\",\"input\":{}}}\r\n\r\n"
    "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"expr\\\": \\\"2+\"}}\r\n\r\n"
    "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"2\\\"}\"}}\r\n\r\n"
    "event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\",\"index\":1}\r\n\r\n"
    "event: message_delta\r\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":42}}\r\n\r\n"
    "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n";

/* Splits text after each occurrence of sep (the expected events). */
static int split_events(const char *text, const char *sep, const char **at, size_t *len, int max) {
    int n = 0;
    const char *p = text, *e;
    while (*p && n < max && (e = strstr(p, sep)) != NULL) {
        at[n] = p;
        len[n] = (size_t)(e - p) + strlen(sep);
        p = e + strlen(sep);
        n++;
    }
    return n;
}

static void check_stream(const char *stream, const char *sep, size_t piece, int64_t pt, int64_t ct) {
    llmcache *c = open_cache(NULL, NULL, 0);
    fake f;
    llmcache_request req = make_req("{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}]}");
    llmcache_call_options o;
    llmcache_response r, h;
    chunks live, replay;
    const char *at[64];
    size_t len[64], i;
    int n = split_events(stream, sep, at, len, 64), k;
    req.stream = 1;
    fake_init(&f, stream);
    f.piece = piece;
    memset(&o, 0, sizeof o);
    memset(&live, 0, sizeof live);
    memset(&replay, 0, sizeof replay);
    o.on_chunk = on_chunk;
    o.chunk_ctx = &live;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK_EQ(live.n, n);
    CHECK_EQ(r.n_chunks, (size_t)n);
    for (k = 0; k < n && k < live.n; k++) CHECK_MEM(live.data[k], live.len[k], at[k], len[k]);
    CHECK_MEM(r.body, r.len, stream, strlen(stream));
    CHECK(r.meta.flags & LLMCACHE_META_STREAM);
    CHECK_EQ(r.meta.prompt_tokens, pt);
    CHECK_EQ(r.meta.completion_tokens, ct);
    o.chunk_ctx = &replay;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &h), LLMCACHE_OK);
    CHECK_EQ(h.from_cache, 1);
    CHECK_EQ(replay.n, n);
    for (k = 0; k < n && k < replay.n; k++) CHECK_MEM(replay.data[k], replay.len[k], live.data[k], live.len[k]);
    CHECK_EQ(h.n_chunks, r.n_chunks);
    for (i = 0; i < h.n_chunks && i < r.n_chunks; i++) {
        CHECK_MEM(h.chunks[i].data, h.chunks[i].len, r.chunks[i].data, r.chunks[i].len);
        CHECK_EQ(h.chunks[i].at_ms, r.chunks[i].at_ms);
    }
    CHECK_MEM(h.body, h.len, stream, strlen(stream));
    CHECK(h.meta.flags & LLMCACHE_META_STREAM);
    CHECK_EQ(h.meta.prompt_tokens, pt);
    CHECK_EQ(h.meta.completion_tokens, ct);
    CHECK_EQ(fake_calls(&f), 1);
    llmcache_response_free(&r);
    llmcache_response_free(&h);
    llmcache_close(c);
}

/* Fail open on a full disk: a log-backed cache whose file cannot grow (RLIMIT_FSIZE
 * in a child process) still answers every call through the transport, stores
 * nothing, and reports each failed store. The child reports its failed checks in
 * its exit status. */
#ifndef _WIN32
static void test_fail_open_full_disk(void) {
    char dir[] = "/tmp/llmcache-call-XXXXXX", path[80], shm[96];
    pid_t pid;
    int status = 0;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/full.log", dir);
    snprintf(shm, sizeof shm, "%s-shm", path);
    pid = fork();
    if (pid == 0) {
        events ev;
        llmcache *c = NULL;
        llmcache_config cfg;
        llmcache_request req = make_req(REQ_BODY);
        llmcache_response r;
        llmcache_stats st;
        struct rlimit rl;
        fake f;
        int bad = 0;
        memset(&ev, 0, sizeof ev);
        pthread_mutex_init(&ev.mu, NULL);
        memset(&cfg, 0, sizeof cfg);
        cfg.ns = "tests";
        cfg.path = path;
        cfg.on_event = on_event;
        cfg.event_ctx = &ev;
        if (llmcache_open(&c, &cfg) != LLMCACHE_OK) _exit(100);
        signal(SIGXFSZ, SIG_IGN);
        rl.rlim_cur = rl.rlim_max = 64;              /* the file cannot grow past its header */
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(101);
        fake_init(&f, CHAT_BODY);
        bad += llmcache_call(c, &req, fake_transport, &f, NULL, &r) != LLMCACHE_OK;
        bad += r.len != strlen(CHAT_BODY) || memcmp(r.body, CHAT_BODY, r.len) != 0;
        bad += r.stored != 0 || r.from_cache != 0;
        llmcache_response_free(&r);
        bad += llmcache_call(c, &req, fake_transport, &f, NULL, &r) != LLMCACHE_OK;
        bad += r.from_cache != 0;
        llmcache_response_free(&r);
        bad += fake_calls(&f) != 2;
        llmcache_stats_get(c, &st);
        bad += st.errors != 2;
        bad += ev.n[LLMCACHE_EVENT_ERROR] != 2 || ev.last_result != LLMCACHE_ENOSPC;
        llmcache_close(c);
        _exit(bad);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    unlink(path);
    unlink(shm);
    rmdir(dir);
}
#endif

static void test_streams(void) {
    size_t pieces[4] = {0, 1, 5, 64}, i;
    for (i = 0; i < 4; i++) {
        check_stream(OPENAI_STREAM, "\n\n", pieces[i], 21, 9);
        check_stream(ANTHROPIC_STREAM, "\r\n\r\n", pieces[i], 25, 42);
    }
}

/* A stream announced only by its Content-Type is recorded as one. */
static void test_stream_by_header(void) {
    llmcache *c = open_cache(NULL, NULL, 0);
    fake f;
    llmcache_request req = make_req("{\"model\":\"m\",\"stream\":true,\"messages\":[]}");
    llmcache_response r;
    fake_init(&f, OPENAI_STREAM);
    f.content_type = "text/event-stream; charset=utf-8";
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK(r.meta.flags & LLMCACHE_META_STREAM);
    CHECK_EQ(r.n_chunks, 9);
    llmcache_response_free(&r);
    llmcache_close(c);
}

static void test_stream_cut(void) {
    llmcache *c = open_cache(NULL, NULL, 0);
    fake f;
    llmcache_request req = make_req("{\"model\":\"m\",\"stream\":true,\"messages\":[]}");
    llmcache_call_options o;
    llmcache_response r;
    llmcache_stats st;
    chunks live;
    char cut[sizeof OPENAI_STREAM];
    const char *done = strstr(OPENAI_STREAM, "data: [DONE]");
    size_t keep = (size_t)(done - OPENAI_STREAM);
    memcpy(cut, OPENAI_STREAM, keep);
    cut[keep] = '\0';
    req.stream = 1;
    memset(&o, 0, sizeof o);
    memset(&live, 0, sizeof live);
    o.on_chunk = on_chunk;
    o.chunk_ctx = &live;

    /* the transport reports success, but the terminator never came */
    fake_init(&f, cut);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_ETRANSPORT);
    CHECK_EQ(r.status, 200);
    CHECK_EQ(live.n, 8);
    CHECK_EQ(r.n_chunks, 8);
    CHECK_EQ(r.stored, 0);
    llmcache_response_free(&r);
    /* cut inside an event, and the transport says so */
    fake_init(&f, OPENAI_STREAM);
    f.body = cut;
    cut[keep - 30] = '\0';
    f.fail = 1;
    live.n = 0;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_ETRANSPORT);
    CHECK_EQ(r.status, 0);
    CHECK_EQ(live.n, 7);
    llmcache_response_free(&r);
    /* a terminator inside an event that never ends does not count */
    fake_init(&f, "data: {\"a\":1}\n\ndata: [DONE]\n");
    live.n = 0;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_ETRANSPORT);
    CHECK_EQ(live.n, 1);
    llmcache_response_free(&r);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.puts, 0);
    CHECK_EQ(st.entries, 0);
    llmcache_close(c);
}

static void test_paced_replay(void) {
    llmcache *c = open_cache(NULL, NULL, 0);
    fake f;
    llmcache_request req = make_req("{\"model\":\"m\",\"stream\":true,\"messages\":[]}");
    llmcache_call_options o;
    llmcache_response r;
    chunks got;
    int64_t t0, dt;
    req.stream = 1;
    fake_init(&f, "data: {\"x\":1}\n\ndata: {\"x\":2}\n\ndata: {\"x\":3}\n\ndata: [DONE]\n\n");
    f.event_sleep_ms = 40;
    memset(&o, 0, sizeof o);
    memset(&got, 0, sizeof got);
    o.on_chunk = on_chunk;
    o.chunk_ctx = &got;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK_EQ(r.n_chunks, 4);
    if (r.n_chunks == 4) {
        CHECK(r.chunks[3].at_ms >= 110);
        CHECK(r.chunks[1].at_ms >= 35 && r.chunks[1].at_ms < r.chunks[3].at_ms);
    }
    CHECK(r.meta.latency_ms >= 110);
    llmcache_response_free(&r);
    /* instant replay */
    got.n = 0;
    t0 = llmcache__mono_us();
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    dt = (llmcache__mono_us() - t0) / 1000;
    CHECK(dt < 60);
    CHECK_EQ(got.n, 4);
    llmcache_response_free(&r);
    /* at the recorded pace: about 120 ms */
    got.n = 0;
    o.replay_pace = LLMCACHE_REPLAY_RECORDED;
    t0 = llmcache__mono_us();
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    dt = (llmcache__mono_us() - t0) / 1000;
    CHECK_MSG(dt >= 100 && dt < 1000, "paced replay took %lld ms", (long long)dt);
    CHECK_EQ(r.from_cache, 1);
    CHECK_EQ(got.n, 4);
    llmcache_response_free(&r);
    CHECK_EQ(fake_calls(&f), 1);
    llmcache_close(c);
}

/* ---- single-flight */
typedef struct racer {
    llmcache *c;
    fake *f;
    const llmcache_request *req;
    int rc, shared, from_cache;
    char body[512];
    chunks got;
    int stream, refresh;
    pthread_barrier_t *start;    /* so that all calls overlap, even under valgrind */
} racer;

static void *race(void *arg) {
    racer *r = (racer *)arg;
    llmcache_call_options o;
    llmcache_response resp;
    memset(&o, 0, sizeof o);
    if (r->stream) { o.on_chunk = on_chunk; o.chunk_ctx = &r->got; }
    o.refresh = r->refresh;
    pthread_barrier_wait(r->start);
    r->rc = llmcache_call(r->c, r->req, fake_transport, r->f, &o, &resp);
    r->shared = resp.shared;
    r->from_cache = resp.from_cache;
    if (resp.body && resp.len < sizeof r->body) memcpy(r->body, resp.body, resp.len + 1);
    llmcache_response_free(&resp);
    return NULL;
}

static void run_race_ex(llmcache *c, fake *f, const llmcache_request *req, racer *rs, int stream, int refresh) {
    pthread_t th[8];
    pthread_barrier_t start;
    int i;
    pthread_barrier_init(&start, NULL, 8);
    for (i = 0; i < 8; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].c = c; rs[i].f = f; rs[i].req = req; rs[i].stream = stream; rs[i].refresh = refresh;
        rs[i].start = &start;
        CHECK_EQ(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    for (i = 0; i < 8; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
}
static void run_race(llmcache *c, fake *f, const llmcache_request *req, racer *rs, int stream) {
    run_race_ex(c, f, req, rs, stream, 0);
}

static void test_single_flight(void) {
    events ev;
    llmcache *c;
    fake f;
    llmcache_request req = make_req(REQ_BODY);
    racer rs[8];
    llmcache_stats st;
    int i, shared = 0;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.mu, NULL);
    c = open_cache(NULL, &ev, 0);

    fake_init(&f, CHAT_BODY);
    f.sleep_ms = 100;
    run_race(c, &f, &req, rs, 0);
    CHECK_EQ(fake_calls(&f), 1);
    for (i = 0; i < 8; i++) {
        CHECK_EQ(rs[i].rc, LLMCACHE_OK);
        CHECK_STR(rs[i].body, CHAT_BODY);
        shared += rs[i].shared;
    }
    CHECK_EQ(shared, 7);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.calls, 8);
    CHECK_EQ(st.transport_calls, 1);
    CHECK_EQ(st.shared, 7);
    CHECK_EQ(st.tokens_saved, 7 * 17);
    CHECK_EQ(ev.n[LLMCACHE_EVENT_SHARED], 7);
    CHECK_EQ(ev.n[LLMCACHE_EVENT_MISS], 1);
    CHECK_EQ(ev.n[LLMCACHE_EVENT_STORE], 1);

    /* a failure is shared too, and not stored */
    {
        llmcache_request other = make_req("{\"model\":\"fails\",\"messages\":[]}");
        fake_init(&f, "{\"error\":\"overloaded\"}");
        f.sleep_ms = 100;
        f.status = 503;
        run_race(c, &f, &other, rs, 0);
        CHECK_EQ(fake_calls(&f), 1);
        for (i = 0; i < 8; i++) {
            CHECK_EQ(rs[i].rc, LLMCACHE_EHTTP);
            CHECK_STR(rs[i].body, "{\"error\":\"overloaded\"}");
        }
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.entries, 1);
    }

    /* a stream: followers get the same chunks, replayed */
    {
        llmcache_request s = make_req("{\"model\":\"stream\",\"stream\":true,\"messages\":[]}");
        const char *at[64];
        size_t len[64];
        int n = split_events(OPENAI_STREAM, "\n\n", at, len, 64), k;
        s.stream = 1;
        fake_init(&f, OPENAI_STREAM);
        f.sleep_ms = 100;
        f.piece = 10;
        run_race(c, &f, &s, rs, 1);
        CHECK_EQ(fake_calls(&f), 1);
        for (i = 0; i < 8; i++) {
            CHECK_EQ(rs[i].rc, LLMCACHE_OK);
            CHECK_EQ(rs[i].got.n, n);
            for (k = 0; k < n && k < rs[i].got.n; k++) CHECK_MEM(rs[i].got.data[k], rs[i].got.len[k], at[k], len[k]);
        }
    }

    /* refresh calls share one fresh transport call, never a cached answer */
    fake_init(&f, "{\"fresh\": %d}");
    f.counter = 1;
    f.sleep_ms = 100;
    run_race_ex(c, &f, &req, rs, 0, 1);
    CHECK_EQ(fake_calls(&f), 1);
    for (i = 0; i < 8; i++) {
        CHECK_EQ(rs[i].rc, LLMCACHE_OK);
        CHECK_EQ(rs[i].from_cache, 0);
        CHECK_STR(rs[i].body, "{\"fresh\": 1}");
    }

    /* single-flight off: every thread calls */
    {
        llmcache_request other = make_req("{\"model\":\"nosf\",\"messages\":[]}");
        llmcache_call_options o;
        llmcache_response r1;
        memset(&o, 0, sizeof o);
        o.no_single_flight = 1;
        fake_init(&f, CHAT_BODY);
        CHECK_EQ(llmcache_call(c, &other, fake_transport, &f, &o, &r1), LLMCACHE_OK);
        CHECK_EQ(r1.shared, 0);
        llmcache_response_free(&r1);
    }
    llmcache_close(c);
    pthread_mutex_destroy(&ev.mu);
}

/* Many threads, few keys, short calls: races between finishing and joining flights. */
static void test_flight_churn(void) {
    llmcache *c = open_cache(NULL, NULL, 0);
    fake f;
    racer rs[8];
    int round;
    fake_init(&f, CHAT_BODY);
    f.sleep_ms = 1;
    for (round = 0; round < 20; round++) {
        char body[128];
        llmcache_request req;
        int i;
        snprintf(body, sizeof body, "{\"model\":\"churn\",\"round\":%d}", round);
        req = make_req(body);
        run_race(c, &f, &req, rs, 0);
        for (i = 0; i < 8; i++) CHECK_EQ(rs[i].rc, LLMCACHE_OK);
    }
    CHECK_EQ(fake_calls(&f), 20);
    llmcache_close(c);
}

/* ---- the envelope decoder on hostile bytes */
static uint32_t rnd_state = 12345;
static uint32_t rnd(void) { rnd_state = rnd_state * 1103515245u + 12345u; return rnd_state >> 8; }

static void test_envelope(void) {
    llmcache__buf b = {NULL, 0, 0, 0};
    llmcache_chunk ch[3];
    llmcache_response r;
    const char body[] = "data: a\n\ndata: bb\n\ndata: [DONE]\n\ntail";
    size_t n, i;
    int k, ok = 0, bad = 0, wrong = 0;
    ch[0].data = body;      ch[0].len = 9;  ch[0].at_ms = 5;
    ch[1].data = body + 9;  ch[1].len = 10; ch[1].at_ms = 70000;
    ch[2].data = body + 19; ch[2].len = 14; ch[2].at_ms = 80000;
    llmcache__env_build(&b, 200, 1, ch, 3, "model!", 6, body, strlen(body));
    CHECK(!b.oom);
    n = b.len;
    CHECK_EQ(n, 48 + 3 * 8 + 7 + strlen(body));
    CHECK_EQ(llmcache_response_decode(b.p, n, &r), LLMCACHE_OK);
    CHECK_EQ(r.status, 200);
    CHECK_MEM(r.body, r.len, body, strlen(body));
    CHECK_MEM(r.model, r.model_len, "model!", 6);
    CHECK_EQ(r.n_chunks, 3);
    if (r.n_chunks == 3) {
        CHECK_MEM(r.chunks[1].data, r.chunks[1].len, "data: bb\n\n", 10);
        CHECK_EQ(r.chunks[1].at_ms, 70000);
    }
    llmcache_response_free(&r);
    /* every truncation fails cleanly */
    for (i = 0; i < n; i++) {
        int rc = llmcache_response_decode(b.p, i, &r);
        if (rc == LLMCACHE_ECORRUPT && r.body == NULL) ok++;
        llmcache_response_free(&r);
    }
    CHECK_EQ(ok, (int)n);
    /* a newer version */
    b.p[4] = 2;
    CHECK_EQ(llmcache_response_decode(b.p, n, &r), LLMCACHE_EVERSION);
    b.p[4] = 1;
    /* random damage: no crash, no read out of bounds (ASan), and a decoded
       response always lies within the bytes */
    ok = 0;
    for (k = 0; k < 20000; k++) {
        char *m = (char *)malloc(n);
        int flips = 1 + (int)(rnd() % 4), j, rc;
        size_t len = k % 3 == 0 ? rnd() % (n + 1) : n;
        memcpy(m, b.p, n);
        for (j = 0; j < flips; j++) {
            size_t at = k % 2 ? rnd() % 48 : rnd() % n;   /* aim at the header half the time */
            m[at] = (char)(rnd() & 0xff);
        }
        rc = llmcache_response_decode(m, len, &r);
        if (rc == LLMCACHE_OK) {
            size_t sum = 0;
            for (i = 0; i < r.n_chunks; i++) sum += r.chunks[i].len;
            if (r.len <= len && sum <= r.len && r.body[r.len] == '\0') ok++;
            else wrong++;
        } else if (rc == LLMCACHE_ECORRUPT || rc == LLMCACHE_EVERSION) {
            bad++;
        } else wrong++;
        llmcache_response_free(&r);
        free(m);
    }
    CHECK_EQ(wrong, 0);
    CHECK(bad > 1000);
    CHECK(ok > 0);
    CHECK_EQ(llmcache_response_decode(NULL, 0, &r), LLMCACHE_ECORRUPT);
    CHECK_EQ(llmcache_response_decode("llce", 4, &r), LLMCACHE_ECORRUPT);
    llmcache__buf_free(&b);
    /* no stream, no model */
    llmcache__env_build(&b, 404, 0, NULL, 0, NULL, 0, "", 0);
    CHECK_EQ(b.len, 48);
    CHECK_EQ(llmcache_response_decode(b.p, b.len, &r), LLMCACHE_OK);
    CHECK_EQ(r.status, 404);
    CHECK_EQ(r.len, 0);
    CHECK_STR(r.body, "");
    CHECK(r.model == NULL);
    llmcache_response_free(&r);
    llmcache__buf_free(&b);
}

/* The two examples of docs/ENVELOPE.md, byte for byte. */
static void test_envelope_doc_examples(void) {
    static const unsigned char ex1[] = {
        0x6c,0x6c,0x63,0x65, 0x01, 0x00, 0x30,0x00, 0xc8,0,0,0, 0,0,0,0, 0,0,0,0, 0x0b,0,0,0,
        0,0,0,0, 0,0,0,0, 0xff,0xff,0xff,0xff,0xff,0xff,0xff,0xff, 0xff,0xff,0xff,0xff,0xff,0xff,0xff,0xff,
        '{','"','o','k','"',':','t','r','u','e','}' };
    static const unsigned char ex2[] = {
        0x6c,0x6c,0x63,0x65, 0x01, 0x03, 0x30,0x00, 0xc8,0,0,0, 0x02,0,0,0, 0x01,0,0,0, 0x17,0,0,0,
        0x05,0,0,0, 0,0,0,0, 0x0c,0,0,0,0,0,0,0, 0x03,0,0,0,0,0,0,0,
        0x09,0,0,0, 0x05,0,0,0, 0x0e,0,0,0, 0x09,0,0,0,
        'x', 0x00,
        'd','a','t','a',':',' ','a','\n','\n', 'd','a','t','a',':',' ','[','D','O','N','E',']','\n','\n' };
    const char *stream = "data: a\n\ndata: [DONE]\n\n";
    llmcache__buf b = {NULL, 0, 0, 0};
    llmcache_chunk ch[2];
    llmcache_response r;
    llmcache__env_fields x;
    llmcache__env_build(&b, 200, 0, NULL, 0, NULL, 0, "{\"ok\":true}", 11);
    CHECK_MEM(b.p, b.len, ex1, sizeof ex1);
    llmcache__buf_free(&b);
    CHECK_EQ(llmcache_response_decode(ex1, sizeof ex1, &r), LLMCACHE_OK);
    CHECK_EQ(r.ttfe_ms, 0);
    CHECK_EQ(r.cached_input_tokens, -1);
    CHECK_EQ(r.cache_write_tokens, -1);
    llmcache_response_free(&r);
    ch[0].data = stream; ch[0].len = 9; ch[0].at_ms = 5;
    ch[1].data = stream + 9; ch[1].len = 14; ch[1].at_ms = 9;
    x.ttfe_ms = 5; x.cached_input_tokens = 12; x.cache_write_tokens = 3;
    x.request = NULL; x.request_len = 0;
    llmcache__env_build_ex(&b, 200, 1, ch, 2, "x", 1, stream, strlen(stream), &x);
    CHECK_MEM(b.p, b.len, ex2, sizeof ex2);
    llmcache__buf_free(&b);
    CHECK_EQ(llmcache_response_decode(ex2, sizeof ex2, &r), LLMCACHE_OK);
    CHECK_EQ(r.ttfe_ms, 5);
    CHECK_EQ(r.cached_input_tokens, 12);
    CHECK_EQ(r.cache_write_tokens, 3);
    CHECK_EQ(r.n_chunks, 2);
    CHECK_STR(r.model, "x");
    CHECK_STR(r.body, stream);
    llmcache_response_free(&r);
}

/* ---- purge by schema */
static void test_purge_schema(void) {
    llmcache *c = open_cache(NULL, NULL, 0);
    fake f;
    const char *schema_a = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}";
    const char *schema_b = "{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"number\"}}}";
    const char *bodies[3] = {"{\"q\":1}", "{\"q\":2}", "{\"q\":3}"};
    unsigned char ha[32];
    llmcache_response r;
    llmcache_request req;
    size_t removed = 99;
    int i;
    fake_init(&f, CHAT_BODY);
    for (i = 0; i < 3; i++) {
        req = make_req(bodies[i]);
        req.schema = i < 2 ? schema_a : schema_b;
        req.schema_len = strlen(req.schema);
        CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
        llmcache_response_free(&r);
    }
    req = make_req(bodies[0]);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);  /* no schema */
    llmcache_response_free(&r);
    CHECK_EQ(fake_calls(&f), 4);
    CHECK_EQ(llmcache_schema_hash(schema_a, strlen(schema_a), ha), LLMCACHE_OK);
    req = make_req(bodies[0]);
    req.schema = schema_a; req.schema_len = strlen(schema_a);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    CHECK(memcmp(r.meta.schema_hash, ha, 32) == 0);
    llmcache_response_free(&r);

    CHECK_EQ(llmcache_purge_schema(c, ha, &removed), LLMCACHE_OK);
    CHECK_EQ(removed, 2);
    CHECK_EQ(llmcache_purge_schema(c, ha, &removed), LLMCACHE_OK);
    CHECK_EQ(removed, 0);
    CHECK_EQ(llmcache_purge_schema(NULL, ha, &removed), LLMCACHE_EINVAL);
    for (i = 0; i < 3; i++) {
        req = make_req(bodies[i]);
        req.schema = i < 2 ? schema_a : schema_b;
        req.schema_len = strlen(req.schema);
        CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
        CHECK_EQ(r.from_cache, i < 2 ? 0 : 1);
        llmcache_response_free(&r);
    }
    req = make_req(bodies[0]);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    llmcache_response_free(&r);
    llmcache_close(c);
}

/* ---- with a log file: streams replay byte for byte after a reopen, purges persist */
static void test_log_backed(void) {
    char path[64], shm[80];
    llmcache_config cfg;
    llmcache *c = NULL;
    fake f, g;
    llmcache_request req = make_req("{\"model\":\"m\",\"stream\":true,\"messages\":[]}");
    llmcache_request plain = make_req(REQ_BODY);
    llmcache_call_options o;
    llmcache_response r, h;
    chunks live, replay;
    unsigned char sh[32];
    size_t removed = 0;
    int k;
    snprintf(path, sizeof path, "/tmp/llmcache_test_call_%ld.log", (long)getpid());
    snprintf(shm, sizeof shm, "%s-shm", path);
    remove(path); remove(shm);
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.ns = "tests";
    req.stream = 1;
    plain.schema = "{\"type\":\"object\"}";
    plain.schema_len = strlen(plain.schema);
    memset(&o, 0, sizeof o);
    memset(&live, 0, sizeof live);
    memset(&replay, 0, sizeof replay);
    o.on_chunk = on_chunk;

    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (!c) return;
    fake_init(&f, OPENAI_STREAM);
    fake_init(&g, CHAT_BODY);
    f.piece = 3;
    o.chunk_ctx = &live;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK_EQ(r.stored, 1);
    o.chunk_ctx = NULL;
    o.on_chunk = NULL;
    CHECK_EQ(llmcache_call(c, &plain, fake_transport, &g, &o, &h), LLMCACHE_OK);
    llmcache_response_free(&h);
    llmcache_close(c);

    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (!c) return;
    o.on_chunk = on_chunk;
    o.chunk_ctx = &replay;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &h), LLMCACHE_OK);
    CHECK_EQ(h.from_cache, 1);
    CHECK_EQ(replay.n, live.n);
    for (k = 0; k < live.n && k < replay.n; k++) CHECK_MEM(replay.data[k], replay.len[k], live.data[k], live.len[k]);
    CHECK_MEM(h.body, h.len, r.body, r.len);
    CHECK_EQ(h.meta.prompt_tokens, 21);
    CHECK(h.meta.flags & LLMCACHE_META_STREAM);
    llmcache_response_free(&h);
    llmcache_response_free(&r);
    CHECK_EQ(llmcache_schema_hash(plain.schema, plain.schema_len, sh), LLMCACHE_OK);
    CHECK_EQ(llmcache_purge_schema(c, sh, &removed), LLMCACHE_OK);
    CHECK_EQ(removed, 1);
    llmcache_close(c);

    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (!c) return;
    o.on_chunk = NULL;
    CHECK_EQ(llmcache_call(c, &plain, fake_transport, &g, &o, &h), LLMCACHE_OK);
    CHECK_EQ(h.from_cache, 0);
    llmcache_response_free(&h);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &h), LLMCACHE_OK);
    CHECK_EQ(h.from_cache, 1);
    llmcache_response_free(&h);
    CHECK_EQ(fake_calls(&f), 1);
    CHECK_EQ(fake_calls(&g), 2);
    llmcache_close(c);
    remove(path); remove(shm);
}

/* ---- events and saved time/tokens */
static void test_events_and_savings(void) {
    events ev;
    llmcache *c;
    fake f;
    llmcache_request req = make_req(REQ_BODY);
    llmcache_response r;
    llmcache_stats st;
    llmcache_key k;
    int i;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.mu, NULL);
    c = open_cache(NULL, &ev, 0);
    fake_init(&f, CHAT_BODY);
    f.sleep_ms = 30;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK(r.meta.latency_ms >= 30);
    llmcache_response_free(&r);
    CHECK_EQ(ev.n[LLMCACHE_EVENT_MISS], 1);
    CHECK_EQ(ev.n[LLMCACHE_EVENT_STORE], 1);
    CHECK_EQ(llmcache_key_for(&k, "tests", &req), LLMCACHE_OK);
    CHECK(memcmp(ev.last_key.bytes, k.bytes, 32) == 0);
    for (i = 0; i < 3; i++) {
        CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
        llmcache_response_free(&r);
    }
    CHECK_EQ(ev.n[LLMCACHE_EVENT_HIT], 3);
    CHECK_EQ(ev.n[LLMCACHE_EVENT_ERROR], 0);
    CHECK(ev.key_ok);
    llmcache_stats_get(c, &st);
    CHECK(st.time_saved_ms >= 90);
    CHECK_EQ(st.tokens_saved, 3 * 17);
    CHECK_EQ(st.hits, 3);
    CHECK_EQ(st.misses, 1);
    llmcache_close(c);
    pthread_mutex_destroy(&ev.mu);
}

/* ---- the SSE splitter on odd inputs */
static void test_sse_edges(void) {
    llmcache *c = open_cache(NULL, NULL, 0);
    fake f;
    llmcache_request req = make_req("{\"model\":\"edges\",\"stream\":true}");
    llmcache_response r;
    /* CR-only line ends, a leading blank line, a comment, "data:" without space */
    const char *s = "\n: hello\r\rdata:{\"a\":1}\r\rdata:[DONE]\r\r";
    req.stream = 1;
    fake_init(&f, s);
    f.piece = 1;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.n_chunks, 3);
    if (r.n_chunks == 3) {
        CHECK_MEM(r.chunks[0].data, r.chunks[0].len, "\n: hello\r\r", 10);
        CHECK_MEM(r.chunks[2].data, r.chunks[2].len, "data:[DONE]\r\r", 13);
    }
    llmcache_response_free(&r);
    llmcache_close(c);
}

static int usage_of(const char *json, int64_t *pt, int64_t *ct) {
    int64_t cached = -1, write = -1;
    return llmcache__usage(json, strlen(json), pt, ct, &cached, &write);
}

/* OpenAI's responses API: its own terminator, usage inside "response". */
static void test_responses_api_and_usage(void) {
    static const char stream[] =
        "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"usage\":null}}\n\n"
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n"
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\","
        "\"usage\":{\"input_tokens\":14,\"output_tokens\":3,\"total_tokens\":17}}}\n\n";
    llmcache *c = open_cache(NULL, NULL, 0);
    fake f;
    llmcache_request req = make_req("{\"model\":\"gpt-5\",\"input\":\"hi\",\"stream\":true}");
    llmcache_response r;
    int64_t pt = -1, ct = -1;
    req.stream = 1;
    fake_init(&f, stream);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.n_chunks, 3);
    CHECK_EQ(r.meta.prompt_tokens, 14);
    CHECK_EQ(r.meta.completion_tokens, 3);
    llmcache_response_free(&r);
    llmcache_close(c);
    /* Anthropic prompt caching counts its cached input apart */
    CHECK_EQ(usage_of("{\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":100,"
                      "\"cache_creation_input_tokens\":20,\"output_tokens\":7}}", &pt, &ct), 0);
    CHECK_EQ(pt, 125);
    CHECK_EQ(ct, 7);
    pt = ct = -1;
    CHECK_EQ(usage_of("{\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"input_tokens\":1}}", &pt, &ct), 0);
    CHECK_EQ(pt, 9);
    CHECK_EQ(ct, 2);
    pt = ct = -1;
    CHECK_EQ(usage_of("{\"usage\":null,\"x\":[1,2]}", &pt, &ct), 0);
    CHECK_EQ(pt, -1);
    CHECK_EQ(usage_of("{\"usage\":", &pt, &ct), -1);
}

/* A 256 KiB event written a byte at a time: the splitter must not rescan. */
static int byte_by_byte(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    const char *b = (const char *)ctx;
    size_t i, n = strlen(b);
    (void)req;
    for (i = 0; i < n; i++)
        if (llmcache_sink_write(sink, b + i, 1) != LLMCACHE_OK) return -1;
    return 200;
}
static void test_long_event(void) {
    llmcache *c = open_cache(NULL, NULL, 0);
    llmcache_request req = make_req("{\"model\":\"long\",\"stream\":true}");
    llmcache_response r;
    size_t n = 256 * 1024, i;
    char *b = (char *)malloc(n + 64);
    int64_t t0;
    memcpy(b, "data: \"", 7);
    for (i = 7; i < n; i++) b[i] = 'x';
    strcpy(b + n, "\"\n\ndata: [DONE]\n\n");
    req.stream = 1;
    t0 = llmcache__mono_us();
    CHECK_EQ(llmcache_call(c, &req, byte_by_byte, b, NULL, &r), LLMCACHE_OK);
    CHECK_MSG(llmcache__mono_us() - t0 < 3000000, "took %lld us", (long long)(llmcache__mono_us() - t0));
    CHECK_EQ(r.n_chunks, 2);
    CHECK_EQ(r.len, strlen(b));
    llmcache_response_free(&r);
    llmcache_close(c);
    free(b);
}

/* ---- statistics counted once, where the event happens: a call whose lookup finds
 * an answer too old for max_age is a miss, and never shows as a hit, not even for a
 * moment (the clock callback looks at the stats between the lookup and the age check) */
typedef struct peek_clock {
    int64_t now;
    llmcache *c;
    int armed, peeks;
    llmcache_stats seen;
} peek_clock;
static int64_t peek_clock_fn(void *ctx) {
    peek_clock *p = (peek_clock *)ctx;
    if (p->armed) {
        p->armed = 0;
        llmcache_stats_get(p->c, &p->seen);
        p->peeks++;
    }
    return p->now;
}

static void test_stats_counted_once(void) {
    peek_clock pc;
    llmcache_config cfg;
    llmcache *c = NULL;
    fake f;
    llmcache_request req = make_req(REQ_BODY);
    llmcache_call_options o;
    llmcache_response r;
    llmcache_stats st;
    memset(&pc, 0, sizeof pc);
    pc.now = 1000000;
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = "tests";
    cfg.clock = peek_clock_fn;
    cfg.clock_ctx = &pc;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (!c) return;
    pc.c = c;
    fake_init(&f, CHAT_BODY);
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, NULL, &r), LLMCACHE_OK);
    llmcache_response_free(&r);
    pc.now += 10000;
    memset(&o, 0, sizeof o);
    o.max_age_ms = 5000;
    pc.armed = 1;
    CHECK_EQ(llmcache_call(c, &req, fake_transport, &f, &o, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 0);
    llmcache_response_free(&r);
    CHECK_EQ(pc.peeks, 1);
    CHECK_EQ(pc.seen.hits, 0);
    CHECK_EQ(pc.seen.misses, 1);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.hits, 0);
    CHECK_EQ(st.misses, 2);
    CHECK_EQ(st.calls, 2);
    CHECK_EQ(fake_calls(&f), 2);
    llmcache_close(c);
}

int main(void) {
    test_hit_miss();
    test_controls();
    test_failures_not_stored();
    test_fail_open();
#ifndef _WIN32
    test_fail_open_full_disk();
#endif
    test_streams();
    test_stream_by_header();
    test_stream_cut();
    test_paced_replay();
    test_single_flight();
    test_flight_churn();
    test_envelope();
    test_envelope_doc_examples();
    test_purge_schema();
    test_log_backed();
    test_events_and_savings();
    test_sse_edges();
    test_responses_api_and_usage();
    test_long_event();
    test_stats_counted_once();
    return TEST_REPORT();
}
