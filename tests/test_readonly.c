/* tests/test_readonly.c: read-only handles (llmcache_config.read_only, issue 11) and
 * open errors that name their cause. A read-only handle writes, creates and cuts
 * nothing: every file beside the log is byte-identical afterwards and no file
 * appears; it follows a live writer's appends, deletes and compactions through a
 * live path-shm, and keeps a snapshot of the file without one. POSIX only. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

static llmcache_key key_n(unsigned n) {
    llmcache_key k;
    char b[32];
    int len = snprintf(b, sizeof b, "ro-key-%u", n);
    llmcache_sha256(b, (size_t)len, k.bytes);
    return k;
}

static int put_n(llmcache *c, unsigned n) {
    char v[64];
    llmcache_key k = key_n(n);
    int len = snprintf(v, sizeof v, "value %u", n);
    return llmcache_put(c, &k, v, (size_t)len, -1);
}

/* 0: holds "value n"; 1: a miss; -1: anything else. */
static int state_n(llmcache *c, unsigned n) {
    char v[64];
    llmcache_key k = key_n(n);
    llmcache_value got;
    int len = snprintf(v, sizeof v, "value %u", n), rc = llmcache_get(c, &k, &got), r;
    r = rc == LLMCACHE_MISS ? 1 : rc == LLMCACHE_OK && got.len == (size_t)len && !memcmp(got.data, v, got.len) ? 0 : -1;
    llmcache_value_free(&got);
    return r;
}

static llmcache *open_at(const char *path, int read_only, int *rc_out) {
    llmcache_config cfg;
    llmcache *c = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.read_only = read_only;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    *rc_out = llmcache_open(&c, &cfg);
    return c;
}

/* A fingerprint of the directory: every name, size and content hash, in order. */
static void dir_print(char *out, size_t n) {
    struct dirent **names;
    int k, i;
    size_t used = 0;
    out[0] = 0;
    k = scandir(g_dir, &names, NULL, alphasort);
    for (i = 0; i < k; i++) {
        char p[512];
        FILE *f;
        unsigned char h[32], *buf = NULL;
        long len = 0;
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", g_dir, names[i]->d_name);
        f = names[i]->d_name[0] == '.' || stat(p, &st) != 0 || !S_ISREG(st.st_mode) ? NULL : fopen(p, "rb");
        if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
            (buf = (unsigned char *)malloc((size_t)len + 1)) != NULL && fread(buf, 1, (size_t)len, f) == (size_t)len) {
            llmcache_sha256(buf, (size_t)len, h);
            used += (size_t)snprintf(out + used, n - used, "%s:%ld:%02x%02x%02x%02x;", names[i]->d_name, len,
                                     h[0], h[1], h[2], h[3]);
        } else if (names[i]->d_name[0] != '.') {
            used += (size_t)snprintf(out + used, n - used, "%s:?;", names[i]->d_name);
        }
        free(buf);
        if (f) fclose(f);
        free(names[i]);
        if (used >= n) used = n - 1;
    }
    free(names);
}

static void pathf(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

static void test_live_follow(void) {
    char path[256];
    llmcache *w, *r;
    llmcache_stats st;
    unsigned i;
    int rc;
    pathf(path, sizeof path, "live.log");
    w = open_at(path, 0, &rc);
    CHECK_EQ(rc, LLMCACHE_OK);
    if (!w) return;
    for (i = 0; i < 20; i++) CHECK_EQ(put_n(w, i), LLMCACHE_OK);
    r = open_at(path, 1, &rc);
    CHECK_EQ(rc, LLMCACHE_OK);
    if (!r) { llmcache_close(w); return; }
    for (i = 0; i < 20; i++) CHECK_EQ(state_n(r, i), 0);
    {   /* writes are refused, with their own code */
        llmcache_key k = key_n(1);
        CHECK_EQ(put_n(r, 100), LLMCACHE_EREADONLY);
        CHECK_EQ(llmcache_del(r, &k), LLMCACHE_EREADONLY);
        CHECK_EQ(llmcache_compact(r), LLMCACHE_EREADONLY);
        CHECK_EQ(llmcache_sync(r), LLMCACHE_OK);
        CHECK(strstr(llmcache_result_string(LLMCACHE_EREADONLY), "read-only") != NULL);
    }
    /* the writer's appends, deletes and a compaction are seen without reopening */
    CHECK_EQ(put_n(w, 50), LLMCACHE_OK);
    CHECK_EQ(state_n(r, 50), 0);
    {
        llmcache_key k = key_n(3);
        CHECK_EQ(llmcache_del(w, &k), LLMCACHE_OK);
    }
    CHECK_EQ(state_n(r, 3), 1);
    CHECK_EQ(llmcache_compact(w), LLMCACHE_OK);
    CHECK_EQ(put_n(w, 51), LLMCACHE_OK);
    CHECK_EQ(state_n(r, 51), 0);
    CHECK_EQ(state_n(r, 3), 1);
    for (i = 4; i < 20; i++) CHECK_EQ(state_n(r, i), 0);
    llmcache_stats_get(r, &st);
    CHECK(st.reloads >= 1);
    llmcache_close(w);
    /* the writer gone, the reader goes on with what it has */
    CHECK_EQ(state_n(r, 51), 0);
    llmcache_close(r);
}

static void test_snapshot_touches_nothing(void) {
    char path[256], shm[300], before[8192], after[8192];
    llmcache *w, *r;
    llmcache_stats st;
    unsigned i;
    int rc;
    pathf(path, sizeof path, "snap.log");
    snprintf(shm, sizeof shm, "%s-shm", path);
    w = open_at(path, 0, &rc);
    if (!w) { CHECK(0); return; }
    for (i = 0; i < 30; i++) CHECK_EQ(put_n(w, i), LLMCACHE_OK);
    llmcache_close(w);
    unlink(shm);   /* as a shipped, pre-filled cache has none */
    dir_print(before, sizeof before);
    r = open_at(path, 1, &rc);
    CHECK_EQ(rc, LLMCACHE_OK);
    if (!r) return;
    for (i = 0; i < 30; i++) CHECK_EQ(state_n(r, i), 0);
    CHECK_EQ(state_n(r, 99), 1);
    llmcache_stats_get(r, &st);
    CHECK_EQ(st.entries, 30);
    CHECK_EQ(st.torn_bytes, 0);
    llmcache_close(r);
    dir_print(after, sizeof after);
    CHECK_STR(after, before);

    /* a torn tail: reported, not cut */
    {
        FILE *f = fopen(path, "ab");
        if (f) { fputs("garbage that is not a record, 40 bytes..", f); fclose(f); }
    }
    dir_print(before, sizeof before);
    r = open_at(path, 1, &rc);
    CHECK_EQ(rc, LLMCACHE_OK);
    if (r) {
        for (i = 0; i < 30; i++) CHECK_EQ(state_n(r, i), 0);
        llmcache_stats_get(r, &st);
        CHECK_EQ(st.torn_bytes, 40);
        CHECK(st.records_skipped >= 1);
        CHECK_EQ(st.bytes_truncated, 0);
        llmcache_close(r);
    }
    dir_print(after, sizeof after);
    CHECK_STR(after, before);
}

static void test_open_errors(void) {
    char path[256], before[8192], after[8192];
    llmcache *c;
    int rc, ro;
    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.read_only = 1;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);   /* read-only needs a path */
    for (ro = 0; ro < 2; ro++) {
        pathf(path, sizeof path, "empty.log");
        fclose(fopen(path, "wb"));
        if (ro) {
            dir_print(before, sizeof before);
            c = open_at(path, 1, &rc);
            CHECK_EQ(rc, LLMCACHE_ENOTCACHE);
            llmcache_close(c);
            dir_print(after, sizeof after);
            CHECK_STR(after, before);
        }
        pathf(path, sizeof path, "a-directory");
        mkdir(path, 0700);
        c = open_at(path, ro, &rc);
        CHECK_EQ(rc, LLMCACHE_ENOTFILE);
        llmcache_close(c);
        pathf(path, sizeof path, "no-such-dir/x.log");
        c = open_at(path, ro, &rc);
        CHECK_EQ(rc, LLMCACHE_ENOENT);
        llmcache_close(c);
        if (ro) {
            pathf(path, sizeof path, "missing.log");
            c = open_at(path, ro, &rc);
            CHECK_EQ(rc, LLMCACHE_ENOENT);
            llmcache_close(c);
            CHECK(access(path, F_OK) != 0);
        }
        c = open_at("/dev/null", ro, &rc);
        CHECK_EQ(rc, LLMCACHE_ENOTFILE);
        llmcache_close(c);
        pathf(path, sizeof path, "other.json");
        {
            FILE *f = fopen(path, "wb");
            if (f) { fputs("{\"not\": \"a log\"}\n", f); fclose(f); }
        }
        c = open_at(path, ro, &rc);
        CHECK_EQ(rc, LLMCACHE_ENOTCACHE);
        llmcache_close(c);
        if (geteuid() != 0) {   /* root reads anything: tests/test_cli.sh checks this as another user */
            pathf(path, sizeof path, "secret.log");
            fclose(fopen(path, "wb"));
            chmod(path, 0);
            c = open_at(path, ro, &rc);
            CHECK_EQ(rc, LLMCACHE_EACCES);
            llmcache_close(c);
        }
    }
    CHECK(strstr(llmcache_result_string(LLMCACHE_ENOENT), "no such file") != NULL);
    CHECK(strstr(llmcache_result_string(LLMCACHE_EACCES), "permission denied") != NULL);
    CHECK(strstr(llmcache_result_string(LLMCACHE_ENOTFILE), "not a regular file") != NULL);
}

static int fake_transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    (void)req;
    ++*(int *)ctx;
    return llmcache_sink_write(sink, "{\"ok\":1}", 8) == LLMCACHE_OK ? 200 : -1;
}

/* llmcache_call on a read-only handle answers through the transport and stores nothing. */
static void test_call(void) {
    char path[256];
    llmcache *w, *r;
    llmcache_request req;
    llmcache_response resp;
    llmcache_stats st;
    int rc, calls = 0;
    pathf(path, sizeof path, "call.log");
    w = open_at(path, 0, &rc);
    if (!w) { CHECK(0); return; }
    r = open_at(path, 1, &rc);
    if (!r) { CHECK(0); llmcache_close(w); return; }
    memset(&req, 0, sizeof req);
    req.body = "{\"q\":1}";
    req.body_len = 7;
    CHECK_EQ(llmcache_call(r, &req, fake_transport, &calls, NULL, &resp), LLMCACHE_OK);
    CHECK(resp.stored == 0 && resp.from_cache == 0);
    llmcache_response_free(&resp);
    CHECK_EQ(llmcache_call(r, &req, fake_transport, &calls, NULL, &resp), LLMCACHE_OK);
    llmcache_response_free(&resp);
    CHECK_EQ(calls, 2);
    llmcache_stats_get(r, &st);
    CHECK_EQ(st.errors, 0);
    CHECK_EQ(st.puts, 0);
    /* what a writer stores, the read-only handle serves */
    CHECK_EQ(llmcache_call(w, &req, fake_transport, &calls, NULL, &resp), LLMCACHE_OK);
    llmcache_response_free(&resp);
    CHECK_EQ(llmcache_call(r, &req, fake_transport, &calls, NULL, &resp), LLMCACHE_OK);
    CHECK(resp.from_cache == 1);
    llmcache_response_free(&resp);
    CHECK_EQ(calls, 3);
    llmcache_close(r);
    llmcache_close(w);
}

int main(void) {
    char cmd[128];
    snprintf(g_dir, sizeof g_dir, "/tmp/llmcache-ro-XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    test_live_follow();
    test_snapshot_touches_nothing();
    test_open_errors();
    test_call();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return TEST_REPORT();
}
