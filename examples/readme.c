/* readme.c - the example shown in README.md, compiled by `make` so it never rots
 * (tests/test_readme.sh checks that README.md shows exactly the lines between the
 * markers, and that the doc block at the top of llmcache.h shows them too). The
 * comments are // ones so that the lines fit inside the header's comment.
 * my_http_post stands for the caller's own HTTP code. */
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include <stdio.h>
#include <string.h>

static int my_http_post(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    static const char answer[] = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"4\"}}],"
                                 "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1}}";
    (void)ctx; (void)req;                       /* a real one would POST req->body to req->endpoint */
    llmcache_sink_write(sink, answer, strlen(answer));
    return 200;                                 /* the HTTP status */
}

int main(void) {
    const char *body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"2+2?\"}]}";
    /* README-BEGIN */
    llmcache *cache;
    llmcache_config cfg = {0};                    // zero = defaults: bounded, in memory
    cfg.path = "build/readme.cache";              // optional: persist in a crash-safe log
    int rc = llmcache_open(&cache, &cfg);
    if (rc != LLMCACHE_OK) { fprintf(stderr, "%s\n", llmcache_result_string(rc)); return 1; }

    llmcache_request req = {0};
    req.endpoint = "https://api.openai.com/v1/chat/completions";
    req.body = body; req.body_len = strlen(body);
    llmcache_response r;
    rc = llmcache_call(cache, &req, my_http_post, NULL, NULL, &r);  // a hit, or my_http_post
    if (rc == LLMCACHE_OK) printf("%s (%s)\n", r.body, r.from_cache ? "from the cache" : "fresh");
    else fprintf(stderr, "%s\n", llmcache_result_string(rc));
    llmcache_response_free(&r);                   // after an error too
    llmcache_close(cache);
    /* README-END */
    return 0;
}
