/* tests/test_ignore.c: keys that ignore what should not matter, and the parts of
 * record and replay that need no provider: cfg.key_ignore and llmcache_key_for_ex
 * (RFC 6901 pointers; with no pointers the keys are today's, frozen vectors from
 * tools/llmcache_key.py), llmcache_mode_parse, the checks of llmcache_open, the
 * envelope's extension fields (docs/ENVELOPE.md: H = 24, or 48 + request_len) and
 * the canonical request an llmcache_call stores beside its answer. The modes against
 * the fake provider are in tests/test_replay.c. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"

static const char *const CHAT =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
    "\"user\":\"u1\",\"metadata\":{\"user_id\":\"x\",\"team\":\"t\"}}";

static llmcache_request req_of(const char *body, const char *endpoint) {
    llmcache_request r;
    memset(&r, 0, sizeof r);
    r.endpoint = endpoint;
    r.body = body;
    r.body_len = strlen(body);
    return r;
}

/* The canonical body and key hex after ignoring list (NULL-terminated). */
static int pruned(const char *body, const char *ns, const char *const *list, char **canon, char hex[65]) {
    llmcache_request req = req_of(body, NULL);
    llmcache_key k;
    int rc = llmcache_key_for_ex(&k, ns, &req, list, canon, NULL);
    llmcache_key_hex(&k, hex);
    return rc;
}

static void test_frozen_keys(void) {
    /* computed by tools/llmcache_key.py, the independent reference; must never change */
    llmcache_request req = req_of(CHAT, "https://api.openai.com/v1/chat/completions");
    static const char *const none[] = { NULL };
    llmcache_key k1, k2, k3;
    char hex[65];
    CHECK_EQ(llmcache_key_for(&k1, NULL, &req), LLMCACHE_OK);
    CHECK_EQ(llmcache_key_for_ex(&k2, NULL, &req, NULL, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(llmcache_key_for_ex(&k3, NULL, &req, none, NULL, NULL), LLMCACHE_OK);
    llmcache_key_hex(&k1, hex);
    CHECK_STR(hex, "cf834bc7c5ab7ea43aed63da7d4a5601905d52e13e4733136778e5065ca327c1");
    CHECK(memcmp(&k1, &k2, sizeof k1) == 0);
    CHECK(memcmp(&k1, &k3, sizeof k1) == 0);
    {
        char *canon = NULL;
        CHECK_EQ(pruned("{\"b\":[1,2,{\"c~d\":1,\"e/f\":2}],\"a\":\"x\"}", "tenant", NULL, &canon, hex), LLMCACHE_OK);
        CHECK_STR(hex, "42ec2e07b78c7d2c6c9745d987c74e3d02e08a5602b493f8920bcd20461199fd");
        CHECK_STR(canon, "{\"a\":\"x\",\"b\":[1,2,{\"c~d\":1,\"e/f\":2}]}");
        llmcache_free(canon);
    }
}

/* ---- llmcache_call keeps the canonical request, pruned, unless omit_request */
static int echo_transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    int *calls = (int *)ctx;
    (*calls)++;
    (void)req;
    llmcache_sink_write(sink, "{\"ok\":true}", 11);
    return 200;
}

static void test_pointers(void) {
    static const char *const user[] = { "/user", "/metadata/user_id", NULL };
    static const char *const escaped[] = { "/b/2/c~0d", "/b/2/e~1f", NULL };
    static const char *const items[] = { "/b/0", "/b/0", NULL };          /* twice: 1, then 2 */
    static const char *const unresolved[] = { "/zz", "/a/x", "/b/-", "/b/01", "/b/9", "/b/2/q/r", NULL };
    static const char *const whole[] = { "/b", "/a", NULL };
    static const char *const bad1[] = { "user", NULL };
    static const char *const bad2[] = { "/a~2", NULL };
    static const char *const bad3[] = { "", NULL };
    static const char *const bad4[] = { "/ok", "/tilde~", NULL };
    const char *doc = "{\"b\":[1,2,{\"c~d\":1,\"e/f\":2}],\"a\":\"x\"}";
    char *canon = NULL, hex[65], hex2[65];
    llmcache_key k;
    llmcache_request req = req_of(doc, NULL);

    CHECK_EQ(pruned(CHAT, NULL, user, &canon, hex), LLMCACHE_OK);
    CHECK_STR(canon, "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"metadata\":{\"team\":\"t\"},\"model\":\"gpt-4o-mini\"}");
    llmcache_free(canon);
    /* another user, another user_id: the same key */
    CHECK_EQ(pruned("{\"user\":\"u2\",\"model\":\"gpt-4o-mini\",\"metadata\":{\"team\":\"t\",\"user_id\":[1]},"
                    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", NULL, user, NULL, hex2), LLMCACHE_OK);
    CHECK_STR(hex, hex2);

    CHECK_EQ(pruned(doc, NULL, escaped, &canon, hex), LLMCACHE_OK);
    CHECK_STR(canon, "{\"a\":\"x\",\"b\":[1,2,{}]}");
    llmcache_free(canon);
    CHECK_EQ(pruned(doc, NULL, items, &canon, hex), LLMCACHE_OK);
    CHECK_STR(canon, "{\"a\":\"x\",\"b\":[{\"c~d\":1,\"e/f\":2}]}");
    llmcache_free(canon);
    CHECK_EQ(pruned(doc, NULL, unresolved, &canon, hex), LLMCACHE_OK);
    CHECK_STR(canon, "{\"a\":\"x\",\"b\":[1,2,{\"c~d\":1,\"e/f\":2}]}");
    llmcache_free(canon);
    CHECK_EQ(pruned(doc, NULL, whole, &canon, hex), LLMCACHE_OK);
    CHECK_STR(canon, "{}");
    llmcache_free(canon);
    /* a scalar body: nothing resolves */
    CHECK_EQ(pruned("[\"x\"]", NULL, user, &canon, hex), LLMCACHE_OK);
    CHECK_STR(canon, "[\"x\"]");
    llmcache_free(canon);

    {   /* a pointer longer than the token buffer on the stack */
        char name[301], ptr[303], body[340];
        const char *longp[2];
        memset(name, 'n', 300);
        name[300] = '\0';
        snprintf(ptr, sizeof ptr, "/%s", name);
        snprintf(body, sizeof body, "{\"%s\":1,\"k\":2}", name);
        longp[0] = ptr; longp[1] = NULL;
        CHECK_EQ(pruned(body, NULL, longp, &canon, hex), LLMCACHE_OK);
        CHECK_STR(canon, "{\"k\":2}");
        llmcache_free(canon);
    }
    {   /* a per-call mode out of range */
        llmcache *c = NULL;
        llmcache_call_options o;
        llmcache_response r;
        int calls = 0;
        memset(&o, 0, sizeof o);
        o.mode = LLMCACHE_CALL_MODE(LLMCACHE_MODE_OFF) + 1;
        CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
        CHECK_EQ(llmcache_call(c, &req, echo_transport, &calls, &o, &r), LLMCACHE_EINVAL);
        CHECK_EQ(calls, 0);
        llmcache_response_free(&r);
        o.mode = LLMCACHE_CALL_MODE(LLMCACHE_MODE_OFF);
        o.refresh = 1;    /* no contradiction: off always calls */
        CHECK_EQ(llmcache_call(c, &req, echo_transport, &calls, &o, &r), LLMCACHE_OK);
        CHECK(calls == 1 && r.stored == 0);
        llmcache_response_free(&r);
        llmcache_close(c);
    }
    CHECK_EQ(llmcache_key_for_ex(&k, NULL, &req, bad1, &canon, NULL), LLMCACHE_EINVAL);
    CHECK(canon == NULL);
    CHECK_EQ(llmcache_key_for_ex(&k, NULL, &req, bad2, NULL, NULL), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_key_for_ex(&k, NULL, &req, bad3, NULL, NULL), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_key_for_ex(&k, NULL, &req, bad4, NULL, NULL), LLMCACHE_EINVAL);
    req = req_of("{\"a\":", NULL);
    CHECK_EQ(llmcache_key_for_ex(&k, NULL, &req, user, NULL, NULL), LLMCACHE_EINVAL);
}

static void test_modes_parse(void) {
    CHECK_EQ(llmcache_mode_parse(NULL), LLMCACHE_MODE_NORMAL);
    CHECK_EQ(llmcache_mode_parse(""), LLMCACHE_MODE_NORMAL);
    CHECK_EQ(llmcache_mode_parse("normal"), LLMCACHE_MODE_NORMAL);
    CHECK_EQ(llmcache_mode_parse("record"), LLMCACHE_MODE_RECORD);
    CHECK_EQ(llmcache_mode_parse("replay"), LLMCACHE_MODE_REPLAY);
    CHECK_EQ(llmcache_mode_parse("no-store"), LLMCACHE_MODE_NO_STORE);
    CHECK_EQ(llmcache_mode_parse("off"), LLMCACHE_MODE_OFF);
    CHECK_EQ(llmcache_mode_parse("Replay"), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_mode_parse("no_store"), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_mode_parse("replay "), LLMCACHE_EINVAL);
    CHECK_STR(llmcache_mode_name(LLMCACHE_MODE_NO_STORE), "no-store");
    CHECK_STR(llmcache_mode_name(7), "invalid");
}

static void test_open_checks(void) {
    static const char *const bad[] = { "/ok", "nope", NULL };
    static const char *const good[] = { "/user", NULL };
    llmcache_config cfg;
    llmcache *c = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.mode = llmcache_mode_parse("bogus");
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    CHECK(c == NULL);
    cfg.mode = 5;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    cfg.mode = LLMCACHE_MODE_REPLAY;
    cfg.key_ignore = bad;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    cfg.key_ignore = good;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    llmcache_close(c);
}

/* ---- the envelope's extension (docs/ENVELOPE.md) */
/* The envelope of the answer {} to request req[0..n), the other fields unknown. */
static void env_with_request(llmcache__buf *b, const char *req, size_t n) {
    llmcache__env_fields x;
    x.ttfe_ms = 0;
    x.cached_input_tokens = x.cache_write_tokens = -1;
    x.request = req;
    x.request_len = n;
    llmcache__env_build_ex(b, 200, 0, NULL, 0, NULL, 0, "{}", 2, &x);
}

static void test_envelope_request(void) {
    static const char req[] = "{\"a\":1}";
    llmcache__buf b = {NULL, 0, 0, 0};
    llmcache_response r;
    unsigned char *m;
    env_with_request(&b, req, 7);
    CHECK_EQ(b.len, 48 + 7 + 2);
    CHECK_EQ(b.p[6], 48 + 7);
    CHECK_EQ(llmcache__ld32((const unsigned char *)b.p + 24), 0);          /* ttfe_ms */
    CHECK_EQ(llmcache__ld32((const unsigned char *)b.p + 28), 7);          /* request_len */
    CHECK_EQ((int64_t)llmcache__ld64((const unsigned char *)b.p + 32), -1);
    CHECK_EQ((int64_t)llmcache__ld64((const unsigned char *)b.p + 40), -1);
    CHECK_EQ(llmcache_response_decode(b.p, b.len, &r), LLMCACHE_OK);
    CHECK_MEM(r.request, r.request_len, req, 7);
    CHECK_STR(r.body, "{}");
    llmcache_response_free(&r);
    m = (unsigned char *)malloc(b.len);
    /* request_len must be H - 48 */
    memcpy(m, b.p, b.len);
    m[28] = 6;
    CHECK_EQ(llmcache_response_decode(m, b.len, &r), LLMCACHE_ECORRUPT);
    /* an older writer's 24-byte header: still read, no request */
    memcpy(m, b.p, 24);
    m[6] = 24;
    memcpy(m + 24, "{}", 2);
    CHECK_EQ(llmcache_response_decode(m, 26, &r), LLMCACHE_OK);
    CHECK(r.request == NULL && r.request_len == 0);
    CHECK_STR(r.body, "{}");
    llmcache_response_free(&r);
    /* 25..47 is neither */
    memcpy(m, b.p, b.len);
    m[6] = 30;
    llmcache__st32(m + 20, (uint32_t)(b.len - 30));
    CHECK_EQ(llmcache_response_decode(m, b.len, &r), LLMCACHE_ECORRUPT);
    free(m);
    llmcache__buf_free(&b);
    /* a request too long for the u16 header is not kept */
    {
        size_t n = 0xffff - 48 + 1;
        char *big = (char *)malloc(n);
        memset(big, ' ', n);
        env_with_request(&b, big, n);
        CHECK_EQ(b.len, 48 + 2);
        llmcache__buf_free(&b);
        env_with_request(&b, big, n - 1);
        CHECK_EQ(b.len, 0xffff + 2);
        CHECK_EQ(llmcache_response_decode(b.p, b.len, &r), LLMCACHE_OK);
        CHECK_EQ(r.request_len, n - 1);
        llmcache_response_free(&r);
        llmcache__buf_free(&b);
        free(big);
    }
}

static void test_call_keeps_request(void) {
    static const char *const user[] = { "/user", "/metadata/user_id", NULL };
    llmcache_config cfg;
    llmcache *c = NULL;
    llmcache_request req = req_of(CHAT, "e");
    llmcache_response r;
    int calls = 0;
    char *canon = NULL;
    size_t canon_len = 0;
    llmcache_key k;
    memset(&cfg, 0, sizeof cfg);
    cfg.key_ignore = user;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    CHECK_EQ(llmcache_key_for_ex(&k, NULL, &req, user, &canon, &canon_len), LLMCACHE_OK);
    CHECK_EQ(llmcache_call(c, &req, echo_transport, &calls, NULL, &r), LLMCACHE_OK);
    CHECK(memcmp(&r.key, &k, sizeof k) == 0);
    CHECK_MEM(r.request, r.request_len, canon, canon_len);
    llmcache_response_free(&r);
    /* another user: a hit, with the stored request */
    req = req_of("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                 "\"user\":\"u9\",\"metadata\":{\"user_id\":\"y\",\"team\":\"t\"}}", "e");
    CHECK_EQ(llmcache_call(c, &req, echo_transport, &calls, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    CHECK_EQ(calls, 1);
    CHECK_MEM(r.request, r.request_len, canon, canon_len);
    llmcache_response_free(&r);
    llmcache_close(c);
    llmcache_free(canon);

    cfg.key_ignore = NULL;
    cfg.omit_request = 1;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    CHECK_EQ(llmcache_call(c, &req, echo_transport, &calls, NULL, &r), LLMCACHE_OK);
    CHECK(r.request == NULL && r.request_len == 0);
    llmcache_response_free(&r);
    CHECK_EQ(llmcache_call(c, &req, echo_transport, &calls, NULL, &r), LLMCACHE_OK);
    CHECK(r.from_cache == 1 && r.request == NULL);
    CHECK_EQ(r.len, 11);
    llmcache_response_free(&r);
    llmcache_close(c);
}

int main(void) {
    test_frozen_keys();
    test_pointers();
    test_modes_parse();
    test_open_checks();
    test_envelope_request();
    test_call_keeps_request();
    return TEST_REPORT();
}
