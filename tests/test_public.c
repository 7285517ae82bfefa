/* tests/test_public.c: the public part of the header keeps its word: the TTL
 * sentinels mean the same in the config, llmcache_put and llmcache_call; foreach
 * stops on LLMCACHE_STOP without a result code that looks like an outcome of the
 * cache; every result code has its description (EREJECTED's names what gives it);
 * the replay paces keep their values; the version is one number everywhere. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <stdio.h>

typedef struct fake_clock { int64_t now; } fake_clock;
static int64_t fake_now(void *ctx) { return ((fake_clock *)ctx)->now; }

static llmcache_key key_n(unsigned n) {
    llmcache_key k;
    char buf[16];
    int len = snprintf(buf, sizeof buf, "k%u", n);
    llmcache_sha256(buf, (size_t)len, k.bytes);
    return k;
}

static int64_t expiry_of(llmcache *c, unsigned n) {
    llmcache_key k = key_n(n);
    llmcache_value v;
    int64_t e = -42;
    if (llmcache_get(c, &k, &v) == LLMCACHE_OK) e = v.expires_ms;
    llmcache_value_free(&v);
    return e;
}

static llmcache *open_ttl(fake_clock *fc, int64_t ttl_ms, int *rc) {
    llmcache *c = NULL;
    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ttl_ms = ttl_ms;
    cfg.clock = fake_now;
    cfg.clock_ctx = fc;
    *rc = llmcache_open(&c, &cfg);
    return c;
}

static int json_answer(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    const char *body = (const char *)ctx;
    (void)req;
    llmcache_sink_write(sink, body, strlen(body));
    return 200;
}

/* The expiry llmcache_call gives a fresh answer under opts.ttl_ms. */
static int64_t call_expiry(llmcache *c, int n, int64_t ttl_ms) {
    char body[64];
    llmcache_request req;
    llmcache_call_options o;
    llmcache_response r;
    int64_t e = -42;
    memset(&req, 0, sizeof req);
    memset(&o, 0, sizeof o);
    snprintf(body, sizeof body, "{\"n\":%d}", n);
    req.body = body;
    req.body_len = strlen(body);
    o.ttl_ms = ttl_ms;
    if (llmcache_call(c, &req, json_answer, (void *)"{\"ok\":1}", &o, &r) == LLMCACHE_OK && r.stored)
        e = r.expires_ms;
    llmcache_response_free(&r);
    return e;
}

static void test_ttl_names(void) {
    fake_clock fc = {1000000};
    llmcache_key k = key_n(1);
    llmcache *c;
    int rc;
    /* the contract's values */
    CHECK_EQ(LLMCACHE_TTL_DEFAULT, 0);
    CHECK_EQ(LLMCACHE_TTL_NEVER, -1);

    /* config: 0 (the default) and LLMCACHE_TTL_NEVER both mean never; other negatives are refused */
    c = open_ttl(&fc, LLMCACHE_TTL_NEVER, &rc);
    CHECK_EQ(rc, LLMCACHE_OK);
    if (c) {
        CHECK_EQ(llmcache_put(c, &k, "v", 1, LLMCACHE_TTL_DEFAULT), LLMCACHE_OK);
        CHECK_EQ(expiry_of(c, 1), 0);
        CHECK_EQ(call_expiry(c, 1, LLMCACHE_TTL_DEFAULT), 0);
        fc.now += (int64_t)1 << 50;
        CHECK_EQ(expiry_of(c, 1), 0);   /* still there, never expires */
        llmcache_close(c);
    }
    c = open_ttl(&fc, LLMCACHE_TTL_DEFAULT, &rc);
    CHECK_EQ(rc, LLMCACHE_OK);
    if (c) {
        CHECK_EQ(llmcache_put(c, &k, "v", 1, LLMCACHE_TTL_DEFAULT), LLMCACHE_OK);
        CHECK_EQ(expiry_of(c, 1), 0);
        llmcache_close(c);
    }
    c = open_ttl(&fc, -2, &rc);
    CHECK_EQ(rc, LLMCACHE_EINVAL);
    CHECK(c == NULL);

    /* put and call: LLMCACHE_TTL_DEFAULT takes the config's, LLMCACHE_TTL_NEVER never expires */
    c = open_ttl(&fc, 5000, &rc);
    CHECK_EQ(rc, LLMCACHE_OK);
    if (c) {
        CHECK_EQ(llmcache_put(c, &k, "v", 1, LLMCACHE_TTL_DEFAULT), LLMCACHE_OK);
        CHECK_EQ(expiry_of(c, 1), fc.now + 5000);
        CHECK_EQ(llmcache_put(c, &k, "v", 1, LLMCACHE_TTL_NEVER), LLMCACHE_OK);
        CHECK_EQ(expiry_of(c, 1), 0);
        CHECK_EQ(llmcache_put(c, &k, "v", 1, -7), LLMCACHE_OK);   /* any negative: never (contract) */
        CHECK_EQ(expiry_of(c, 1), 0);
        CHECK_EQ(llmcache_put(c, &k, "v", 1, 10), LLMCACHE_OK);
        CHECK_EQ(expiry_of(c, 1), fc.now + 10);
        CHECK_EQ(call_expiry(c, 2, LLMCACHE_TTL_DEFAULT), fc.now + 5000);
        CHECK_EQ(call_expiry(c, 3, LLMCACHE_TTL_NEVER), 0);
        llmcache_close(c);
    }
}

typedef struct counter { int seen, stop_at, stop_with; } counter;
static int count_entry(void *ctx, const llmcache_entry_info *info) {
    counter *n = (counter *)ctx;
    (void)info;
    return ++n->seen == n->stop_at ? n->stop_with : 0;
}

static void test_foreach_stop(void) {
    llmcache *c;
    counter n;
    unsigned i;
    CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
    for (i = 0; i < 5; i++) {
        llmcache_key k = key_n(i);
        CHECK_EQ(llmcache_put(c, &k, "v", 1, LLMCACHE_TTL_DEFAULT), LLMCACHE_OK);
    }
    CHECK(LLMCACHE_STOP > 0 && LLMCACHE_STOP != LLMCACHE_MISS);
    n.seen = 0; n.stop_at = 0; n.stop_with = 0;
    CHECK_EQ(llmcache_foreach(c, 0, count_entry, &n), LLMCACHE_OK);
    CHECK_EQ(n.seen, 5);
    n.seen = 0; n.stop_at = 3; n.stop_with = LLMCACHE_STOP;
    CHECK_EQ(llmcache_foreach(c, 1, count_entry, &n), LLMCACHE_STOP);
    CHECK_EQ(n.seen, 3);
    /* a callback's own error code stops the walk and comes back as it was (existing callers) */
    n.seen = 0; n.stop_at = 2; n.stop_with = LLMCACHE_ENOMEM;
    CHECK_EQ(llmcache_foreach(c, 0, count_entry, &n), LLMCACHE_ENOMEM);
    CHECK_EQ(n.seen, 2);
    llmcache_close(c);
}

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

static void test_result_strings(void) {
    int rc;
    llmcache *c;
    llmcache_request req;
    llmcache_response r;
    const char *s;
    /* every code from the last error up to LLMCACHE_STOP is named */
    for (rc = LLMCACHE_ENOTFILE; rc <= LLMCACHE_STOP; rc++) {
        s = llmcache_result_string(rc);
        CHECK_MSG(strncmp(s, "LLMCACHE_", 9) == 0 && !contains(s, "unknown"), "%d: %s", rc, s);
    }
    CHECK(contains(llmcache_result_string(LLMCACHE_STOP), "LLMCACHE_STOP"));
    /* EREJECTED: validate, parse, and a non-JSON body all give it; the description says so */
    s = llmcache_result_string(LLMCACHE_EREJECTED);
    CHECK_MSG(contains(s, "validate") && contains(s, "parse") && contains(s, "JSON"), "%s", s);
    CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
    memset(&req, 0, sizeof req);
    req.body = "{}";
    req.body_len = 2;
    CHECK_EQ(llmcache_call(c, &req, json_answer, (void *)"not json", NULL, &r), LLMCACHE_EREJECTED);
    llmcache_response_free(&r);
    llmcache_close(c);
}

static void test_replay_and_version(void) {
    char want[32];
    /* the contract's names and values */
    CHECK_EQ(LLMCACHE_REPLAY_INSTANT, 0);
    CHECK_EQ(LLMCACHE_REPLAY_RECORDED, 1);
    /* one version: the string is made of the numbers, the function returns the string */
    snprintf(want, sizeof want, "%d.%d.%d", LLMCACHE_VERSION_MAJOR, LLMCACHE_VERSION_MINOR,
             LLMCACHE_VERSION_PATCH);
    CHECK_STR(LLMCACHE_VERSION_STRING, want);
    CHECK_STR(llmcache_version(), want);
    CHECK_EQ(LLMCACHE_VERSION_MAJOR * 10000 + LLMCACHE_VERSION_MINOR * 100 + LLMCACHE_VERSION_PATCH, 200);
}

int main(void) {
    test_ttl_names();
    test_foreach_stop();
    test_result_strings();
    test_replay_and_version();
    return TEST_REPORT();
}
