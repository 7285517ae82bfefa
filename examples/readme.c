/* readme.c - the example shown in README.md, compiled by `make` so it never rots
 * (tests/test_readme.sh checks that README.md shows exactly the lines between the
 * markers). my_http_post stands for the caller's own HTTP code. */
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
    llmcache_config cfg = {0};                    /* zero = defaults: bounded, in memory */
    cfg.path = "build/readme.cache";              /* optional: persist in a crash-safe log */
    llmcache_open(&cache, &cfg);

    llmcache_request req = {0};
    req.endpoint = "https://api.openai.com/v1/chat/completions";
    req.body = body; req.body_len = strlen(body);
    llmcache_response r;
    if (llmcache_call(cache, &req, my_http_post, NULL, NULL, &r) == LLMCACHE_OK)
        printf("%s (%s)\n", r.body, r.from_cache ? "from the cache" : "fresh");
    llmcache_response_free(&r);
    llmcache_close(cache);
    /* README-END */
    return 0;
}
