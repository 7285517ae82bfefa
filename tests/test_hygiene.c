/* tests/test_hygiene.c: the implementation leaves the rest of the file that includes
 * it alone. It defines none of the system's macros for the user's own code (no
 * _FILE_OFFSET_BITS, so off_t stays what the user's flags make it; no F_OFD_SETLK,
 * which glibc shows only under _GNU_SOURCE), and its attributes survive a user's
 * `#define unused` (as BSD code and some projects have). Then it works: a file-backed
 * cache past a put, a get and a reopen, built with LLMCACHE_STATIC. */
#define unused do_not_use_this_name
#define LLMCACHE_STATIC
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef _FILE_OFFSET_BITS
static const int file_offset_bits_defined = 1;
#else
static const int file_offset_bits_defined = 0;
#endif
#if defined(F_OFD_SETLK) && !defined(_GNU_SOURCE)
static const int ofd_setlk_defined = 1;
#else
static const int ofd_setlk_defined = 0;
#endif

int main(void) {
    char dir[] = "/tmp/llmcache_hygiene_XXXXXX", path[64];
    llmcache_config cfg;
    llmcache_key k;
    llmcache_value v;
    llmcache *c = NULL;
    CHECK_EQ(file_offset_bits_defined, 0);
    CHECK_EQ(ofd_setlk_defined, 0);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/log", dir);
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    memset(&k, 7, sizeof k);
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (c) {
        CHECK_EQ(llmcache_put(c, &k, "value", 5, 0), LLMCACHE_OK);
        llmcache_close(c);
        c = NULL;
    }
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (c) {
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
        CHECK_MEM(v.data, v.len, "value", 5);
        llmcache_value_free(&v);
        llmcache_close(c);
    }
    unlink(path);
    snprintf(path, sizeof path, "%s/log-shm", dir);
    unlink(path);
    rmdir(dir);
    return TEST_REPORT();
}
