/* tests/test_nofiles.c: a build without the file backend (LLMCACHE_NO_FILES, for
 * platforms that have no file system): a path is refused with
 * LLMCACHE_EUNSUPPORTED and nothing is created, verify and repair say the same,
 * and the memory-only cache works as usual. */
#ifndef LLMCACHE_NO_FILES
#  define LLMCACHE_NO_FILES
#endif
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <stdio.h>
#include <string.h>

int main(void) {
    static const char path[] = "build/nofiles-must-not-exist.log";
    llmcache_config cfg;
    llmcache *c = NULL;
    llmcache_key k;
    llmcache_value v;
    FILE *f;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EUNSUPPORTED);
    CHECK(c == NULL);
    f = fopen(path, "rb");
    CHECK_MSG(f == NULL, "%s was created", path);
    if (f) { fclose(f); remove(path); }
    CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_EUNSUPPORTED);
    CHECK_EQ(llmcache_repair(path, NULL), LLMCACHE_EUNSUPPORTED);
    CHECK(strstr(llmcache_result_string(LLMCACHE_EUNSUPPORTED), "EUNSUPPORTED") != NULL);

    cfg.path = NULL;
    cfg.max_entries = 2;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (c) {
        memset(&k, 0, sizeof k);
        CHECK_EQ(llmcache_put(c, &k, "value", 5, 0), LLMCACHE_OK);
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
        CHECK_MEM(v.data, v.len, "value", 5);
        llmcache_value_free(&v);
        k.bytes[0] = 1;
        CHECK_EQ(llmcache_put(c, &k, "one", 3, 0), LLMCACHE_OK);
        k.bytes[0] = 2;
        CHECK_EQ(llmcache_put(c, &k, "two", 3, 0), LLMCACHE_OK);
        k.bytes[0] = 0;
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_MISS);   /* the least recently used went */
        CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);        /* nothing to do without a file */
        CHECK_EQ(llmcache_del(c, &k), LLMCACHE_MISS);
        llmcache_close(c);
    }
    return TEST_REPORT();
}
