/* tests/test_curl_off.c: built without LLMCACHE_CURL, the bundled transport is still
 * declared (a program compiles either way) and answers LLMCACHE_EUNSUPPORTED without
 * sending anything; llmcache_call passes that on, stores nothing and counts no hit. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"

int main(void) {
    llmcache_curl t;
    llmcache_request req;
    llmcache_response r;
    llmcache_stats st;
    llmcache *c = NULL;
    memset(&t, 0, sizeof t);
    t.kind = LLMCACHE_CURL_ANTHROPIC;
    t.base_url = "http://127.0.0.1:9";        /* never contacted */
    memset(&req, 0, sizeof req);
    req.body = "{\"model\":\"m\"}";
    req.body_len = strlen(req.body);
    CHECK_EQ(llmcache_curl_transport(&t, &req, NULL), LLMCACHE_EUNSUPPORTED);
    CHECK(llmcache_curl_pool_new() == NULL);
    llmcache_curl_pool_free(NULL);
    CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
    CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, &t, NULL, &r), LLMCACHE_EUNSUPPORTED);
    CHECK_EQ(r.status, 0);
    CHECK_EQ(r.stored, 0);
    CHECK_EQ(r.from_cache, 0);
    llmcache_response_free(&r);
    CHECK_EQ(llmcache_call(c, &req, llmcache_curl_transport, &t, NULL, &r), LLMCACHE_EUNSUPPORTED);
    llmcache_response_free(&r);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.hits, 0);
    CHECK_EQ(st.entries, 0);
    CHECK_EQ(st.transport_calls, 2);
    llmcache_close(c);
    return TEST_REPORT();
}
