/* tests/log_bytes.h: reading and rewriting a log file's bytes in the tests that
 * change records by hand (tests/test_transform.c, tests/test_transform_libs.c).
 * Include after llmcache.h with its implementation. */
#ifndef LLMCACHE_TEST_LOG_BYTES_H
#define LLMCACHE_TEST_LOG_BYTES_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file at path (malloc'd; *n bytes), or NULL. */
static unsigned char *log_slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long sz;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = (unsigned char *)malloc((size_t)sz + 1);
    *n = b ? fread(b, 1, (size_t)sz, f) : 0;
    fclose(f);
    return b;
}

/* Writes b[0..n) over the file at path. */
static void log_spill(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b, 1, n, f);
    fclose(f);
}

/* The offset of the last intact record of key k in the log b[0..n) (walked from the
 * header while records are intact), with the record in *r (if r is not NULL); 0 when none. */
static uint64_t log_find_record(const unsigned char *b, size_t n, const llmcache_key *k, llmcache__record *r) {
    uint64_t off = LLMCACHE__HDR_SIZE, found = 0;
    llmcache__record x;
    while (off < n && llmcache__rec_check(b + off, n - off, &x)) {
        if (memcmp(x.key.bytes, k->bytes, 32) == 0) { found = off; if (r) *r = x; }
        off += llmcache__pad8(x.len);
    }
    return found;
}

/* Whether the string s occurs in b[0..n). */
static int log_contains(const unsigned char *b, size_t n, const char *s) {
    size_t m = strlen(s), i;
    for (i = 0; i + m <= n; i++) if (memcmp(b + i, s, m) == 0) return 1;
    return 0;
}
#endif
