/* tests/test_replay.c: record and replay (llmcache_config.mode) through the libcurl
 * transport against tests/fake_provider.py on 127.0.0.1, counting the requests the
 * provider really received: record makes one per call, replay none (a replay miss is
 * LLMCACHE_MISS naming its key), no-store and off store nothing, per-call modes and
 * their conflicts; a stream recorded into a log file and replayed from it after a
 * reopen, byte for byte and event for event.
 * Build (from the repository root, where it must also run):
 *   cc -std=c99 -DLLMCACHE_CURL -I. -o build/tests/test_replay tests/test_replay.c -lcurl -lpthread -lm */
#define LLMCACHE_IMPLEMENTATION
#ifndef LLMCACHE_CURL
#define LLMCACHE_CURL
#endif
#include "../llmcache.h"
#include "test.h"
#include "provider.h"

static llmcache_curl openai;
static char base_url[64];
static char cache_path[96];

static const char *const ASK = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
static const char *const OTHER = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"something new\"}]}";
static const char *const STREAM = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                                  "\"messages\":[{\"role\":\"user\",\"content\":\"tell me a long story please now\"}]}";

static llmcache_request req_of(const char *body) {
    llmcache_request r;
    memset(&r, 0, sizeof r);
    r.body = body;
    r.body_len = strlen(body);
    r.stream = strstr(body, "\"stream\":true") != NULL;
    return r;
}

/* events seen through on_event */
typedef struct events { int errors, last_result; char last_message[256]; } events;
static void on_event(void *ctx, const llmcache_event *ev) {
    events *e = (events *)ctx;
    if (ev->type != LLMCACHE_EVENT_ERROR) return;
    e->errors++;
    e->last_result = ev->result;
    snprintf(e->last_message, sizeof e->last_message, "%s", ev->message);
}

static llmcache *open_mode(int mode, events *ev) {
    llmcache_config cfg;
    llmcache *c = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = cache_path;
    cfg.mode = mode;
    cfg.on_event = on_event;
    cfg.event_ctx = ev;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    return c;
}

/* one call; returns its result, and the provider's request count for it in *upstream */
static int call(llmcache *c, const char *body, const llmcache_call_options *o, llmcache_response *r, long *upstream) {
    llmcache_request req = req_of(body);
    int rc;
    server_reset();
    rc = llmcache_call(c, &req, llmcache_curl_transport, &openai, o, r);
    *upstream = server_requests();
    return rc;
}

static void test_modes(void) {
    events ev;
    llmcache *c;
    llmcache_response r;
    llmcache_call_options o;
    llmcache_stats st;
    llmcache_key k;
    llmcache_request req = req_of(OTHER);
    long up;
    char hex[65];
    int i;
    memset(&ev, 0, sizeof ev);
    memset(&o, 0, sizeof o);

    /* record: one provider request per call, hit or not, each stored */
    c = open_mode(LLMCACHE_MODE_RECORD, &ev);
    for (i = 0; i < 3; i++) {
        CHECK_EQ(call(c, ASK, NULL, &r, &up), LLMCACHE_OK);
        CHECK_EQ(up, 1);
        CHECK_EQ(r.from_cache, 0);
        CHECK_EQ(r.stored, 1);
        llmcache_response_free(&r);
    }
    o.no_store = 1;       /* contradicts record */
    CHECK_EQ(call(c, ASK, &o, &r, &up), LLMCACHE_EINVAL);
    CHECK_EQ(up, 0);
    llmcache_response_free(&r);
    o.no_store = 0;
    llmcache_close(c);

    /* replay: hits make no request; a miss makes none either and names its key */
    c = open_mode(LLMCACHE_MODE_REPLAY, &ev);
    CHECK_EQ(call(c, ASK, NULL, &r, &up), LLMCACHE_OK);
    CHECK_EQ(up, 0);
    CHECK_EQ(r.from_cache, 1);
    CHECK(r.body && strstr(r.body, "Echo: hello there") != NULL);
    llmcache_response_free(&r);
    CHECK_EQ(call(c, OTHER, NULL, &r, &up), LLMCACHE_MISS);
    CHECK_EQ(up, 0);
    CHECK_EQ(llmcache_key_for(&k, NULL, &req), LLMCACHE_OK);
    CHECK(memcmp(&r.key, &k, sizeof k) == 0);
    CHECK(r.body == NULL && r.status == 0);
    llmcache_response_free(&r);
    llmcache_key_hex(&k, hex);
    CHECK_EQ(ev.errors, 1);
    CHECK_EQ(ev.last_result, LLMCACHE_MISS);
    CHECK(strstr(ev.last_message, hex) != NULL);
    o.refresh = 1;        /* contradicts replay: an error, not a silent call */
    CHECK_EQ(call(c, ASK, &o, &r, &up), LLMCACHE_EINVAL);
    CHECK_EQ(up, 0);
    llmcache_response_free(&r);
    o.refresh = 0;
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.replay_misses, 1);
    CHECK_EQ(st.misses, 1);
    CHECK_EQ(st.hits, 1);
    CHECK_EQ(st.transport_calls, 0);
    /* a per-call mode over the config's */
    o.mode = LLMCACHE_CALL_MODE(LLMCACHE_MODE_NORMAL);
    CHECK_EQ(call(c, OTHER, &o, &r, &up), LLMCACHE_OK);
    CHECK_EQ(up, 1);
    CHECK_EQ(r.stored, 1);
    llmcache_response_free(&r);
    o.mode = 0;
    CHECK_EQ(call(c, OTHER, NULL, &r, &up), LLMCACHE_OK);    /* now recorded */
    CHECK_EQ(up, 0);
    CHECK_EQ(r.from_cache, 1);
    llmcache_response_free(&r);
    llmcache_close(c);

    /* no-store: hits served, misses called and never stored */
    c = open_mode(LLMCACHE_MODE_NO_STORE, &ev);
    CHECK_EQ(call(c, ASK, NULL, &r, &up), LLMCACHE_OK);
    CHECK_EQ(up, 0);
    CHECK_EQ(r.from_cache, 1);
    llmcache_response_free(&r);
    for (i = 0; i < 2; i++) {
        CHECK_EQ(call(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL, &r, &up),
                 LLMCACHE_OK);
        CHECK_EQ(up, 1);
        CHECK_EQ(r.stored, 0);
        llmcache_response_free(&r);
    }
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.entries, 2);
    llmcache_close(c);

    /* off: always called, nothing looked up, nothing stored */
    c = open_mode(LLMCACHE_MODE_OFF, &ev);
    for (i = 0; i < 2; i++) {
        CHECK_EQ(call(c, ASK, NULL, &r, &up), LLMCACHE_OK);
        CHECK_EQ(up, 1);
        CHECK_EQ(r.from_cache, 0);
        CHECK_EQ(r.stored, 0);
        llmcache_response_free(&r);
        CHECK_EQ(call(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"y\"}]}", NULL, &r, &up),
                 LLMCACHE_OK);
        CHECK_EQ(up, 1);
        CHECK_EQ(r.stored, 0);
        llmcache_response_free(&r);
    }
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.entries, 2);
    CHECK_EQ(st.hits, 0);
    CHECK_EQ(st.puts, 0);
    llmcache_close(c);
    CHECK_EQ(ev.errors, 1);   /* only the replay miss */
}

/* ---- a stream, recorded then replayed after a reopen */
typedef struct chunks { llmcache__buf all; int n; } chunks;
static void on_chunk(void *ctx, const llmcache_chunk *ch) {
    chunks *c = (chunks *)ctx;
    unsigned char len[4];
    llmcache__st32(len, (uint32_t)ch->len);       /* length-prefixed: boundaries compare too */
    llmcache__buf_put(&c->all, len, 4);
    llmcache__buf_put(&c->all, ch->data, ch->len);
    c->n++;
}

static void test_stream(void) {
    events ev;
    llmcache *c;
    llmcache_response r, h;
    llmcache_call_options o;
    chunks live, replayed;
    long up;
    size_t i;
    memset(&ev, 0, sizeof ev);
    memset(&o, 0, sizeof o);
    memset(&live, 0, sizeof live);
    memset(&replayed, 0, sizeof replayed);
    o.on_chunk = on_chunk;
    c = open_mode(LLMCACHE_MODE_RECORD, &ev);
    o.chunk_ctx = &live;
    CHECK_EQ(call(c, STREAM, &o, &r, &up), LLMCACHE_OK);
    CHECK_EQ(up, 1);
    CHECK(r.n_chunks > 3);
    CHECK_EQ(live.n, (int)r.n_chunks);
    llmcache_close(c);

    c = open_mode(LLMCACHE_MODE_REPLAY, &ev);
    o.chunk_ctx = &replayed;
    CHECK_EQ(call(c, STREAM, &o, &h, &up), LLMCACHE_OK);
    CHECK_EQ(up, 0);
    CHECK_EQ(h.from_cache, 1);
    CHECK_MEM(h.body, h.len, r.body, r.len);
    CHECK_EQ(h.n_chunks, r.n_chunks);
    for (i = 0; i < h.n_chunks && i < r.n_chunks; i++) CHECK_MEM(h.chunks[i].data, h.chunks[i].len, r.chunks[i].data, r.chunks[i].len);
    CHECK_MEM(replayed.all.p, replayed.all.len, live.all.p, live.all.len);
    CHECK(h.request != NULL && strstr(h.request, "\"stream\":true") != NULL);
    llmcache_response_free(&r);
    llmcache_response_free(&h);
    llmcache_close(c);
    llmcache__buf_free(&live.all);
    llmcache__buf_free(&replayed.all);
}

static void remove_cache(void) {
    char shm[128];
    remove(cache_path);
    snprintf(shm, sizeof shm, "%s-shm", cache_path);
    remove(shm);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (provider_setup(&openai, base_url) != 0) {
        CHECK(0);
        return TEST_REPORT();
    }
    snprintf(cache_path, sizeof cache_path, "/tmp/llmcache_test_replay_%ld.cache", (long)getpid());
    remove_cache();
    test_modes();
    test_stream();
    remove_cache();
    stop_server();
    curl_global_cleanup();
    return TEST_REPORT();
}
