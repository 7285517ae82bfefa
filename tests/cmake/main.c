/* tests/cmake/main.c: the consumer of tests/test_cmake.sh. A put and a get on a
 * memory-only cache; prints the version and "consumer: 1 passed, 0 failed". */
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include <stdio.h>

int main(void) {
    llmcache *c = NULL;
    llmcache_key k;
    llmcache_value v;
    int ok;
    memset(&k, 7, sizeof k);
    if (llmcache_open(&c, NULL) != LLMCACHE_OK) { printf("consumer: 0 passed, 1 failed\n"); return 1; }
    ok = llmcache_put(c, &k, "hi", 2, 0) == LLMCACHE_OK && llmcache_get(c, &k, &v) == LLMCACHE_OK &&
         v.len == 2 && memcmp(v.data, "hi", 2) == 0;
    if (ok) llmcache_value_free(&v);
    llmcache_close(c);
    printf("llmcache %s\nconsumer: %d passed, %d failed\n", LLMCACHE_VERSION_STRING, ok, !ok);
    return ok ? 0 : 1;
}
