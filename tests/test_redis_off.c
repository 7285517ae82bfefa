/* tests/test_redis_off.c: built without LLMCACHE_REDIS, a config that names a Redis
 * tier is refused with LLMCACHE_EUNSUPPORTED (and the Redis stats stay zero). */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"

static int answer(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    (void)req;
    ++*(int *)ctx;
    llmcache_sink_write(sink, "{\"ok\":1}", 8);
    return 200;
}

int main(void) {
    llmcache_redis_config rc;
    llmcache_config cfg;
    llmcache_call_options o;
    llmcache_stats st;
    llmcache *c = NULL;
    memset(&rc, 0, sizeof rc);
    memset(&cfg, 0, sizeof cfg);
    cfg.redis = &rc;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EUNSUPPORTED);
    CHECK(c == NULL);
    cfg.redis = NULL;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.redis_hits + st.redis_errors + st.redis_connects + st.redis_breaker_open, 0);
    memset(&o, 0, sizeof o);
    o.redis_lock_ms = 1000;                 /* ignored without a Redis tier */
    {
        llmcache_request req;
        llmcache_response r;
        int calls = 0;
        memset(&req, 0, sizeof req);
        req.body = "{}";
        req.body_len = 2;
        CHECK_EQ(llmcache_call(c, &req, answer, &calls, &o, &r), LLMCACHE_OK);
        CHECK_EQ(calls, 1);
        llmcache_response_free(&r);
        CHECK_EQ(llmcache_call(c, &req, answer, &calls, &o, &r), LLMCACHE_OK);
        CHECK_EQ(r.from_cache, 1);
        llmcache_response_free(&r);
    }
    llmcache_close(c);
    return TEST_REPORT();
}
