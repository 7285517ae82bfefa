/* tests/test_small_value.c: a build whose LLMCACHE_MAX_VALUE is 1 MiB opening a log
 * that holds a 2 MiB record (as a default build writes it). The file format, not a
 * compile-time option, decides which records are intact: the big record is kept on
 * disk, reported as too big to load, and survives reopen and compaction; the
 * records around it stay readable (issue 10, defect 7). */
#define LLMCACHE_MAX_VALUE ((size_t)1 << 20)
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static llmcache_key key_of(const char *s) {
    llmcache_key k;
    llmcache_sha256(s, strlen(s), k.bytes);
    return k;
}

static llmcache *open_path(const char *path) {
    llmcache_config cfg;
    llmcache *c = NULL;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    rc = llmcache_open(&c, &cfg);
    CHECK_MSG(rc == LLMCACHE_OK, "open: %s", llmcache_result_string(rc));
    return c;
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

int main(void) {
    char dir[] = "/tmp/llmcache-small-XXXXXX", path[128], side[160];
    size_t big_len = (size_t)2 << 20;
    unsigned char *rec, *big;
    uint32_t rec_len;
    llmcache_key kb = key_of("big");
    llmcache_value v;
    llmcache_verify_report rep;
    llmcache *c;
    FILE *f;
    long before;
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(path, sizeof path, "%s/small.log", dir);

    /* a log with a small record, the 2 MiB record a default build would write, another small one */
    c = open_path(path);
    if (!c) return TEST_REPORT();
    CHECK_EQ(llmcache_put(c, &(llmcache_key){{0}}, "x", 1, -1), LLMCACHE_OK);
    llmcache_close(c);
    c = NULL;
    big = (unsigned char *)malloc(big_len);
    rec = (unsigned char *)malloc((size_t)llmcache__rec_size(big_len, 0));
    if (!big || !rec) return 1;
    memset(big, 'b', big_len);
    f = fopen(path, "ab");
    if (!f) { perror(path); return 1; }
    rec_len = llmcache__rec_encode(rec, LLMCACHE__R_PUT, 0, 1000, &kb, 1, 0, NULL, big, big_len, 0);
    CHECK(fwrite(rec, 1, (size_t)llmcache__pad8(rec_len), f) == (size_t)llmcache__pad8(rec_len));
    fclose(f);
    c = open_path(path);
    if (!c) return TEST_REPORT();
    CHECK_EQ(llmcache_put(c, &kb, big, big_len, -1), LLMCACHE_ETOOBIG);   /* this build cannot put it */
    CHECK(llmcache_put(c, &(llmcache_key){{1}}, "after", 5, -1) == LLMCACHE_OK);
    llmcache_close(c);
    before = file_size(path);

    /* reopen: nothing cut, the big one is there but too big to load here */
    c = open_path(path);
    if (!c) return TEST_REPORT();
    CHECK_EQ(file_size(path), before);
    CHECK_EQ(llmcache_get(c, &kb, &v), LLMCACHE_ETOOBIG);
    llmcache_value_free(&v);
    {
        llmcache_stats st;
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.entries, 3);
        CHECK_EQ(st.records_skipped, 0);
        CHECK_EQ(st.bytes_truncated, 0);
    }
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    CHECK_EQ(llmcache_get(c, &kb, &v), LLMCACHE_ETOOBIG);
    llmcache_value_free(&v);
    llmcache_close(c);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(rep.puts, 3);
    CHECK_EQ(rep.live, 3);
    CHECK(rep.file_bytes > big_len);
    c = open_path(path);
    if (c) {
        llmcache_value w;
        llmcache_key k0 = {{0}}, k1 = {{1}};
        CHECK_EQ(llmcache_get(c, &k0, &w), LLMCACHE_OK);
        CHECK(w.len == 1 && w.data[0] == 'x');
        llmcache_value_free(&w);
        CHECK_EQ(llmcache_get(c, &k1, &w), LLMCACHE_OK);
        CHECK(w.len == 5 && !memcmp(w.data, "after", 5));
        llmcache_value_free(&w);
        llmcache_close(c);
    }
    free(big);
    free(rec);
    snprintf(side, sizeof side, "rm -rf '%s'", dir);
    if (system(side) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_REPORT();
}
