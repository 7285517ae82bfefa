/* tests/test_index.c: zero-copy hits (llmcache_get_with) and the index snapshot
 * beside a log (PATH-index, issue 15): written at close and compaction, used at
 * open, and ignored whole (a full read of the log) when it is damaged, truncated,
 * from another log, from before a compaction, ahead of the log, planted as a link,
 * or left half-written by a process killed while writing it. A snapshot that passes
 * its checksums but lies is still never trusted for a value.
 * Runs from the repository root; files live in a fresh directory under /tmp. */
#define LLMCACHE_TEST_HOOKS
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[256];

static void pathf(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

static llmcache_key key_n(unsigned n) {
    llmcache_key k;
    memset(&k, 0, sizeof k);
    k.bytes[0] = 0x5a;
    k.bytes[28] = (unsigned char)(n >> 24); k.bytes[29] = (unsigned char)(n >> 16);
    k.bytes[30] = (unsigned char)(n >> 8);  k.bytes[31] = (unsigned char)n;
    return k;
}

static size_t value_n(unsigned n, char *out) { return (size_t)sprintf(out, "value %u of the index test", n); }

static llmcache *open_bounded(const char *path, size_t max_bytes, size_t max_entries) {
    llmcache_config cfg;
    llmcache *c = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    cfg.max_bytes = max_bytes;
    cfg.max_entries = max_entries;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    return c;
}

static llmcache *open_at(const char *path, size_t max_bytes) { return open_bounded(path, max_bytes, 0); }

static void rm_log(const char *path) {
    char p[512];
    unlink(path);
    snprintf(p, sizeof p, "%s-shm", path); unlink(p);
    snprintf(p, sizeof p, "%s-index", path); unlink(p);
}

static int copy_file(const char *from, const char *to) {
    FILE *f = fopen(from, "rb"), *g;
    char buf[4096];
    size_t n;
    if (!f) return 0;
    g = fopen(to, "wb");
    if (!g) { fclose(f); return 0; }
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, g);
    fclose(f);
    return fclose(g) == 0;
}

static long file_len(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Puts keys from..to-1 with their values. */
static void put_range(llmcache *c, unsigned from, unsigned to) {
    unsigned i;
    char v[64];
    for (i = from; i < to; i++) {
        llmcache_key k = key_n(i);
        CHECK_EQ(llmcache_put(c, &k, v, value_n(i, v), 0), LLMCACHE_OK);
    }
}

/* Every key below n is present with its value, except `gone` (~0u = none). */
static int all_there(llmcache *c, unsigned n, unsigned gone) {
    unsigned i, bad = 0;
    char v[64];
    for (i = 0; i < n + 3; i++) {
        llmcache_key k = key_n(i);
        llmcache_value got;
        int rc = llmcache_get(c, &k, &got);
        size_t len = value_n(i, v);
        if (i >= n || i == gone) { if (rc != LLMCACHE_MISS) bad++; }
        else if (rc != LLMCACHE_OK || got.len != len || memcmp(got.data, v, len) != 0) bad++;
        llmcache_value_free(&got);
    }
    if (bad) fprintf(stderr, "all_there: %u keys wrong\n", bad);
    return bad == 0;
}

/* How the last load used the snapshot: 0 not at all (the whole log read), 1 for a
 * part of the log (the rest read), 2 for all of it. */
static int loaded(llmcache *c) {
    llmcache_stats st;
    llmcache_stats_get(c, &st);
    return st.index_loaded == 0 ? 0 : st.index_loaded == st.file_bytes - 64 ? 2 : 1;
}

/* ---- llmcache_get_with ------------------------------------------------------ */

typedef struct seen { int calls; char data[128]; size_t len; const char *ptr; int64_t expires_ms; int ret; } seen;

static int see(void *ctx, const llmcache_entry_info *info) {
    seen *s = (seen *)ctx;
    s->calls++;
    s->len = info->len < sizeof s->data ? info->len : sizeof s->data - 1;
    memcpy(s->data, info->data, s->len);
    s->ptr = info->data;
    s->expires_ms = info->expires_ms;
    CHECK_EQ(info->data[info->len], 0);
    return s->ret;
}

static int64_t g_now;
static int64_t fake_clock(void *ctx) { (void)ctx; return g_now; }

static void test_get_with(void) {
    llmcache *c = NULL;
    llmcache_config cfg;
    llmcache_key k = key_n(1), k2 = key_n(2);
    llmcache_stats st;
    seen s;
    char path[300];
    int pass;
    /* memory only, then a log whose values stay on disk (max_bytes tiny) */
    for (pass = 0; pass < 2; pass++) {
        memset(&cfg, 0, sizeof cfg);
        g_now = 1000000;
        cfg.clock = fake_clock;
        if (pass) {
            pathf(path, sizeof path, "getwith.log");
            rm_log(path);
            cfg.path = path;
            cfg.max_bytes = 64;
            cfg.fsync = LLMCACHE_FSYNC_NEVER;
        }
        CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
        if (!c) return;
        memset(&s, 0, sizeof s);
        CHECK_EQ(llmcache_get_with(c, &k, see, &s), LLMCACHE_MISS);
        CHECK_EQ(s.calls, 0);
        CHECK_EQ(llmcache_put(c, &k, "hello pinned", 12, 0), LLMCACHE_OK);
        CHECK_EQ(llmcache_get_with(c, &k, see, &s), LLMCACHE_OK);
        CHECK_EQ(s.calls, 1);
        CHECK_MEM(s.data, s.len, "hello pinned", 12);
        if (!pass) {   /* no copy: the same bytes twice, inside the cache */
            const char *first = s.ptr;
            CHECK_EQ(llmcache_get_with(c, &k, see, &s), LLMCACHE_OK);
            CHECK(s.ptr == first);
        }
        s.ret = -77;   /* fn's own result comes back */
        CHECK_EQ(llmcache_get_with(c, &k, see, &s), -77);
        s.ret = 0;
        CHECK_EQ(llmcache_put(c, &k2, "short-lived", 11, 50), LLMCACHE_OK);
        CHECK_EQ(llmcache_get_with(c, &k2, see, &s), LLMCACHE_OK);
        CHECK_EQ(s.expires_ms, 1000050);
        g_now += 50;
        s.calls = 0;
        CHECK_EQ(llmcache_get_with(c, &k2, see, &s), LLMCACHE_MISS);
        CHECK_EQ(s.calls, 0);
        CHECK_EQ(llmcache_get_with(NULL, &k, see, &s), LLMCACHE_EINVAL);
        CHECK_EQ(llmcache_get_with(c, NULL, see, &s), LLMCACHE_EINVAL);
        CHECK_EQ(llmcache_get_with(c, &k, NULL, &s), LLMCACHE_EINVAL);
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.hits, pass ? 3 : 4);
        CHECK_EQ(st.misses, 2);
        if (pass) {
            CHECK_EQ(st.cold_reads, 3);   /* each from the file, checksum verified */
            llmcache_close(c);
            /* a flipped value byte: a miss, never the damaged bytes */
            {
                FILE *f = fopen(path, "r+b");
                long at = 64 + 80 + 3;
                int ch;
                CHECK(f != NULL);
                if (f) { fseek(f, at, SEEK_SET); ch = fgetc(f); fseek(f, at, SEEK_SET); fputc(ch ^ 0x20, f); fclose(f); }
            }
            c = open_at(path, 64);
            if (!c) return;
            s.calls = 0;
            CHECK_EQ(llmcache_get_with(c, &k, see, &s), LLMCACHE_MISS);
            CHECK_EQ(s.calls, 0);
            rm_log(path);
        }
        llmcache_close(c);
    }
}

/* ---- the index snapshot ----------------------------------------------------- */

static void test_snapshot_used(void) {
    char path[300], idx[320];
    llmcache *c;
    llmcache_stats st, st_full;
    llmcache_key k = key_n(5);
    pathf(path, sizeof path, "used.log");
    snprintf(idx, sizeof idx, "%s-index", path);
    rm_log(path);
    c = open_at(path, 0);
    if (!c) return;
    put_range(c, 0, 200);
    CHECK_EQ(llmcache_del(c, &k), LLMCACHE_OK);
    llmcache_close(c);
    CHECK_EQ(file_len(idx), 80 + 199 * 64);
    c = open_at(path, 0);
    if (!c) return;
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.index_loaded, st.file_bytes - 64);   /* the whole log, from the snapshot */
    CHECK_EQ(st.entries, 199);
    CHECK_EQ(st.records_recovered, 201);   /* as a full read counts them */
    CHECK(all_there(c, 200, 5));
    llmcache_close(c);
    /* the same figures without a snapshot */
    unlink(idx);
    c = open_at(path, 0);
    if (!c) return;
    llmcache_stats_get(c, &st_full);
    CHECK_EQ(st_full.index_loaded, 0);
    CHECK_EQ(st_full.records_recovered, 201);
    CHECK_EQ(st_full.entries, st.entries);
    CHECK_EQ(st_full.live_bytes, st.live_bytes);
    /* puts continue the sequence: a put after a snapshot open is not lost on the next */
    llmcache_close(c);
    c = open_at(path, 0);
    if (!c) return;
    put_range(c, 200, 210);
    llmcache_close(c);
    c = open_at(path, 0);
    if (!c) return;
    CHECK_EQ(loaded(c), 2);
    CHECK(all_there(c, 210, 5));
    llmcache_close(c);
    /* compaction writes one for the new file; a handle that reloads after another
       compacted, and one that opens beside it, take the index from it */
    c = open_at(path, 0);
    if (!c) return;
    {
        llmcache *d = open_at(path, 0), *e;
        CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.index_writes, 1);
        if (d) {
            CHECK(all_there(d, 210, 5));
            llmcache_stats_get(d, &st);
            CHECK_EQ(st.reloads, 1);
            CHECK_EQ(st.index_loaded, st.file_bytes - 64);
            llmcache_close(d);
        }
        e = open_at(path, 0);
        if (e) { CHECK_EQ(loaded(e), 2); CHECK(all_there(e, 210, 5)); llmcache_close(e); }
    }
    llmcache_close(c);
    rm_log(path);
}

/* An older snapshot of the same log: used, the records after it read. */
static void test_snapshot_behind(void) {
    char path[300], idx[320], old[340];
    llmcache *c;
    llmcache_key k = key_n(3);
    pathf(path, sizeof path, "behind.log");
    snprintf(idx, sizeof idx, "%s-index", path);
    snprintf(old, sizeof old, "%s.old", idx);
    rm_log(path);
    c = open_at(path, 0);
    if (!c) return;
    put_range(c, 0, 50);
    llmcache_close(c);
    CHECK(copy_file(idx, old));
    c = open_at(path, 0);
    if (!c) return;
    put_range(c, 50, 80);
    CHECK_EQ(llmcache_del(c, &k), LLMCACHE_OK);
    llmcache_close(c);
    CHECK(rename(old, idx) == 0);
    c = open_at(path, 0);
    if (!c) return;
    CHECK_EQ(loaded(c), 1);
    CHECK(all_there(c, 80, 3));
    llmcache_close(c);
    rm_log(path);
}

/* Snapshots that must be ignored whole: the log is read in full and every value is right. */
static void expect_ignored(const char *path, unsigned n, unsigned gone, const char *what) {
    llmcache *c = open_at(path, 0);
    if (!c) return;
    CHECK_MSG(loaded(c) == 0, "%s: snapshot used", what);
    CHECK_MSG(all_there(c, n, gone), "%s", what);
    llmcache_close(c);
}

static void test_snapshot_ignored(void) {
    char path[300], idx[320], other[300], oidx[320], saved[340], link_target[320];
    llmcache *c;
    long len, at;
    pathf(path, sizeof path, "ign.log");
    pathf(other, sizeof other, "other.log");
    snprintf(idx, sizeof idx, "%s-index", path);
    snprintf(oidx, sizeof oidx, "%s-index", other);
    snprintf(saved, sizeof saved, "%s.saved", idx);
    rm_log(path);
    rm_log(other);
    c = open_at(path, 0);
    if (!c) return;
    put_range(c, 0, 3);
    llmcache_close(c);
    CHECK(copy_file(idx, saved));
    len = file_len(saved);
    CHECK_EQ(len, 80 + 3 * 64);

    /* truncated at every length */
    for (at = 0; at < len; at++) {
        CHECK(copy_file(saved, idx));
        CHECK(truncate(idx, at) == 0);
        expect_ignored(path, 3, ~0u, "truncated");
        unlink(idx);   /* the close above wrote none (nothing changed), or a good one */
    }
    /* one bit flipped in every byte */
    for (at = 0; at < len; at++) {
        FILE *f;
        int ch;
        CHECK(copy_file(saved, idx));
        f = fopen(idx, "r+b");
        if (!f) continue;
        fseek(f, at, SEEK_SET); ch = fgetc(f); fseek(f, at, SEEK_SET); fputc(ch ^ (1 << (at % 8)), f); fclose(f);
        expect_ignored(path, 3, ~0u, "bit flip");
    }
    /* from another log (same keys, another file id) */
    c = open_at(other, 0);
    if (c) { put_range(c, 0, 3); llmcache_close(c); }
    CHECK(copy_file(oidx, idx));
    expect_ignored(path, 3, ~0u, "another log's");
    /* from before a compaction (the log's old file id) */
    CHECK(copy_file(saved, idx));
    c = open_at(path, 0);
    if (c) { CHECK_EQ(llmcache_compact(c), LLMCACHE_OK); llmcache_close(c); }
    CHECK(copy_file(saved, idx));
    expect_ignored(path, 3, ~0u, "older than the log");
    /* ahead of the log: the log cut back behind the snapshot's end */
    c = open_at(path, 0);
    if (c) { put_range(c, 3, 6); llmcache_close(c); }
    CHECK(copy_file(idx, saved));
    {
        long size = file_len(path);
        CHECK(truncate(path, size - 8) == 0);   /* tears the last record (key 5) */
        CHECK(copy_file(saved, idx));
        expect_ignored(path, 5, ~0u, "newer than the log");
    }
    /* the log's last record rewritten in place (same length and sequence number, other
       bytes, a right checksum: a power loss kept the snapshot, not the log's tail) */
    c = open_at(path, 0);
    if (c) { put_range(c, 5, 6); llmcache_close(c); }
    CHECK(copy_file(idx, saved));
    {
        FILE *f = fopen(path, "r+b");
        unsigned char rec[200];
        long size = file_len(path), off = -1, pos;
        CHECK(f != NULL);
        if (f) {
            for (pos = 64; pos + 80 <= size;) {   /* find the last record */
                uint32_t rl;
                fseek(f, pos, SEEK_SET);
                if (fread(rec, 1, 80, f) != 80 || llmcache__ld32(rec) != LLMCACHE__REC_MAGIC) break;
                off = pos;
                rl = llmcache__ld32(rec + 8);
                pos += (long)((rl + 7) & ~7u);
            }
            CHECK(off > 0);
            fseek(f, off, SEEK_SET);
            CHECK(fread(rec, 1, sizeof rec, f) >= 80 + 20);
            rec[80 + 6] ^= 0x01;   /* "value 5 of ..." becomes "value 4 of ..." */
            llmcache__st32(rec + 4, llmcache__crc32c(0, rec + 8, llmcache__ld32(rec + 8) - 8));
            fseek(f, off, SEEK_SET);
            fwrite(rec, 1, llmcache__ld32(rec + 8), f);
            fclose(f);
        }
        CHECK(copy_file(saved, idx));
        c = open_at(path, 0);
        if (c) {
            llmcache_key k5 = key_n(5);
            llmcache_value v;
            CHECK_EQ(loaded(c), 0);
            CHECK_EQ(llmcache_get(c, &k5, &v), LLMCACHE_OK);
            CHECK_MEM(v.data, v.len, "value 4 of the index test", 25);   /* what the log says now */
            llmcache_value_free(&v);
            CHECK_EQ(llmcache_del(c, &k5), LLMCACHE_OK);
            llmcache_close(c);
        }
    }
    /* a link planted at PATH-index: not followed at open, replaced (not written through) at close */
    snprintf(link_target, sizeof link_target, "%s/target", g_dir);
    {
        FILE *f = fopen(link_target, "wb");
        if (f) { fputs("not an index", f); fclose(f); }
    }
    unlink(idx);
    CHECK(symlink(link_target, idx) == 0);
    c = open_at(path, 0);
    if (c) {
        CHECK_EQ(loaded(c), 0);
        put_range(c, 5, 7);
        llmcache_close(c);
    }
    CHECK_EQ(file_len(link_target), 12);
    {
        struct stat st;
        CHECK(lstat(idx, &st) == 0 && S_ISREG(st.st_mode));
    }
    c = open_at(path, 0);
    if (c) { CHECK_EQ(loaded(c), 2); CHECK(all_there(c, 7, ~0u)); llmcache_close(c); }
    unlink(link_target);
    unlink(saved);
    rm_log(path);
    rm_log(other);
}

/* Reads the snapshot at idx (n bytes: the header and its entries), lets edit change
 * it, and writes it back with both checksums right: a snapshot that lies, not a
 * damaged one. */
static void snapshot_forge(const char *idx, size_t n, void (*edit)(unsigned char *buf)) {
    unsigned char buf[80 + 3 * 64];
    FILE *f = fopen(idx, "rb");
    CHECK(n <= sizeof buf && f && fread(buf, 1, n, f) == n);
    if (f) fclose(f);
    if (n > sizeof buf) return;
    edit(buf);
    llmcache__st32(buf + 68, llmcache__crc32c(0, buf + 80, n - 80));
    llmcache__st32(buf + 76, llmcache__crc32c(0, buf, 76));
    f = fopen(idx, "wb");
    CHECK(f && fwrite(buf, 1, n, f) == n);
    if (f) fclose(f);
}

/* A log of keys 0..2 at path (under name), its snapshot forged by edit, opened again. */
static llmcache *reopen_forged(char *path, size_t path_size, const char *name, void (*edit)(unsigned char *buf)) {
    char idx[320];
    llmcache *c;
    pathf(path, path_size, name);
    snprintf(idx, sizeof idx, "%s-index", path);
    rm_log(path);
    c = open_at(path, 0);
    if (!c) return NULL;
    put_range(c, 0, 3);
    llmcache_close(c);
    snapshot_forge(idx, 80 + 3 * 64, edit);
    return open_at(path, 0);
}

static void offset_of_next(unsigned char *buf) { memcpy(buf + 80 + 32, buf + 80 + 64 + 32, 8); }

/* A snapshot that passes every checksum but points a key at another key's record:
 * the read checks the record's key and checksum, so that key is a miss, never the
 * other's value. */
static void test_snapshot_lies(void) {
    char path[300];
    llmcache_key k0 = key_n(0);
    llmcache_value v;
    /* entry 0 (key 0) takes entry 1's offset */
    llmcache *c = reopen_forged(path, sizeof path, "lies.log", offset_of_next);
    if (!c) return;
    CHECK_EQ(loaded(c), 2);
    CHECK_EQ(llmcache_get(c, &k0, &v), LLMCACHE_MISS);
    llmcache_value_free(&v);
    llmcache_close(c);
    rm_log(path);
}

/* A snapshot that passes its checksums but lists one key twice (entry 1 a copy of
 * entry 0) is not used: the open reads the log, and every key is there. */
static void first_twice(unsigned char *buf) { memcpy(buf + 80 + 64, buf + 80, 64); }

static void test_snapshot_twice(void) {
    char path[300];
    llmcache *c = reopen_forged(path, sizeof path, "twice.log", first_twice);
    if (!c) return;
    CHECK_EQ(loaded(c), 0);
    CHECK(all_there(c, 3, ~0u));
    llmcache_close(c);
    rm_log(path);
}

/* A snapshot (right checksums) that says a record has no meta block when it has one:
 * the value is laid out as the record says, so a listing with values gives the
 * value's bytes, not the meta block's. */
static int g_meta_bad;
static int check_listed(void *ctx, const llmcache_entry_info *info) {
    (void)ctx;
    if (!info->data || info->len != 5 || memcmp(info->data, "hello", 5) != 0) g_meta_bad++;
    return 0;
}

static void no_meta(unsigned char *buf) {   /* value length = record length - header: "no meta" */
    llmcache__st32(buf + 80 + 44, llmcache__ld32(buf + 80 + 40) - 80);
}

static void test_snapshot_meta_lie(void) {
    char path[300], idx[320];
    llmcache *c;
    llmcache_meta meta;
    llmcache_key k = key_n(1);
    pathf(path, sizeof path, "metalie.log");
    snprintf(idx, sizeof idx, "%s-index", path);
    rm_log(path);
    c = open_at(path, 64);   /* values on disk only: read from the record when listed */
    if (!c) return;
    memset(&meta, 0, sizeof meta);
    meta.status = 200;
    CHECK_EQ(llmcache_put_ex(c, &k, "hello", 5, -1, &meta), LLMCACHE_OK);
    llmcache_close(c);
    snapshot_forge(idx, 80 + 64, no_meta);
    c = open_at(path, 64);
    if (!c) return;
    CHECK_EQ(loaded(c), 2);
    g_meta_bad = 0;
    CHECK_EQ(llmcache_foreach(c, 1, check_listed, NULL), LLMCACHE_OK);
    CHECK_EQ(g_meta_bad, 0);
    llmcache_close(c);
    rm_log(path);
}

/* Killed while writing the snapshot (hook 10: the entries written, not the header;
 * hook 11: renamed in place): the next open is right either way, and finds no
 * temporary file left. */
static int g_crash_at;
static void crash_at(void *ctx, int n) { (void)ctx; if (n == g_crash_at) _exit(0); }

static void test_snapshot_crash(void) {
    int point;
    for (point = 10; point <= 11; point++) {
        char path[300], idx[320], cmd[600];
        llmcache *c;
        pid_t pid;
        int status = 0;
        pathf(path, sizeof path, "crash.log");
        snprintf(idx, sizeof idx, "%s-index", path);
        rm_log(path);
        c = open_at(path, 0);
        if (!c) return;
        put_range(c, 0, 20);
        llmcache_close(c);   /* a good snapshot of 20 */
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            llmcache *w = open_at(path, 0);
            if (!w) _exit(1);
            put_range(w, 20, 40);
            g_crash_at = point;
            w->test_point = crash_at;
            llmcache_close(w);
            _exit(2);   /* the hook did not fire */
        }
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "point %d: status %d", point, status);
        c = open_at(path, 0);
        if (!c) return;
        CHECK_EQ(loaded(c), point == 10 ? 1 : 2);   /* the old snapshot and the rest, or the new one */
        CHECK(all_there(c, 40, ~0u));
        llmcache_close(c);
        snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q 'crash.log.index-'", g_dir);
        CHECK_MSG(system(cmd) != 0, "point %d: a temporary snapshot was left behind", point);
        rm_log(path);
    }
}

/* ---- an open from the snapshot gives the index a full read gives ---------------- */

/* Which of keys 0..n-1 a handle on path with max_entries n holds after one more put
 * (key 100): the put evicts the least recently used, a bit set per key still held. */
static unsigned survivors(const char *path, unsigned n, int *how) {
    llmcache *c = open_bounded(path, 0, n);
    llmcache_key k = key_n(100);
    unsigned i, held = 0;
    if (!c) return ~0u;
    *how = loaded(c);
    CHECK_EQ(llmcache_put(c, &k, "x", 1, 0), LLMCACHE_OK);
    for (i = 0; i < n; i++) {
        llmcache_key ki = key_n(i);
        llmcache_value v;
        if (llmcache_get(c, &ki, &v) == LLMCACHE_OK) held |= 1u << i;
        llmcache_value_free(&v);
    }
    llmcache_close(c);
    return held;
}

/* The recency after a reopen is the order of the records in the log, whether the
 * open used the snapshot or read the whole log (the snapshot is an optimisation and
 * must not change what the cache holds): hits before the close do not reorder it. */
static void test_snapshot_same_recency(void) {
    char path[512], copy[512];
    llmcache *c;
    llmcache_value v;
    llmcache_key k0 = key_n(0);
    unsigned with, without;
    int how_with, how_without;
    pathf(path, sizeof path, "recency.log");
    pathf(copy, sizeof copy, "recency-copy.log");
    rm_log(path);
    rm_log(copy);
    c = open_at(path, 0);
    put_range(c, 0, 4);
    CHECK_EQ(llmcache_get(c, &k0, &v), LLMCACHE_OK);   /* key 0 most recently used now */
    llmcache_value_free(&v);
    llmcache_close(c);                                  /* writes the snapshot */
    CHECK(copy_file(path, copy));                       /* the same log, no snapshot */
    with = survivors(path, 4, &how_with);
    without = survivors(copy, 4, &how_without);
    CHECK_EQ(how_with, 2);
    CHECK_EQ(how_without, 0);
    CHECK_MSG(with == without, "held after the eviction: %#x from the snapshot, %#x from the log", with, without);
    CHECK_EQ(without, 0xeu);                            /* key 0, first in the log, went */
    rm_log(path);
    rm_log(copy);
    /* 3000 entries (a log of several sort passes), hits in a scrambled order, keys
       3000.. rewritten in the middle, then 1000 new ones: the 1000 oldest records go */
    c = open_at(path, 0);
    put_range(c, 0, 3000);
    {
        unsigned i, bad = 0, held;
        for (i = 0; i < 3000; i++) {
            llmcache_key k = key_n((i * 7919u) % 3000u);
            CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
            llmcache_value_free(&v);
        }
        put_range(c, 500, 600);                         /* their records move to the end */
        llmcache_close(c);
        c = open_bounded(path, 0, 3000);
        if (!c) return;
        CHECK_EQ(loaded(c), 2);
        put_range(c, 10000, 11000);
        for (i = 0, held = 0; i < 3000; i++) {
            llmcache_key k = key_n(i);
            int want = i >= 1100 || (i >= 500 && i < 600);   /* 0..499 and 600..1099 were the oldest */
            int rc = llmcache_get(c, &k, &v);
            llmcache_value_free(&v);
            if ((rc == LLMCACHE_OK) != want) bad++;
            held += rc == LLMCACHE_OK;
        }
        CHECK_MSG(bad == 0, "%u keys held or evicted out of log order (%u held)", bad, held);
        llmcache_close(c);
    }
    rm_log(path);
}

/* ---- the index keeps hashes, not keys ---------------------------------------- */

#define COLLIDE_KEYS 48

/* Checks every key against the model (version of each key's value, 0 = absent). */
static unsigned collide_check(llmcache *c, const unsigned *model) {
    unsigned i, bad = 0;
    for (i = 0; i < COLLIDE_KEYS; i++) {
        llmcache_key k = key_n(i);
        llmcache_value got;
        char v[64];
        int rc = llmcache_get(c, &k, &got);
        size_t len = value_n(i * 1000 + model[i], v);
        if (!model[i]) { if (rc != LLMCACHE_MISS) bad++; }
        else if (rc != LLMCACHE_OK || got.len != len || memcmp(got.data, v, len) != 0) bad++;
        llmcache_value_free(&got);
    }
    return bad;
}

static int count_entry(void *ctx, const llmcache_entry_info *info) { (void)info; ++*(unsigned *)ctx; return 0; }

/* One run with the bits `clear` cleared from every table hash (all: every hash equal;
 * path NULL: memory only; max_bytes 64: values on disk only): puts, overwrites, deletes and gets against a model, then a reopen
 * from the snapshot, one reading the log, a compaction, the listing and verify;
 * then the eviction order. Each lookup has to find its key among 48 entries that
 * all have the same hash. */
static void collide_run(const char *path, size_t max_bytes, uint64_t clear) {
    unsigned model[COLLIDE_KEYS], i, n, bad = 0, live, listed;
    uint64_t s = 7;
    llmcache_config cfg;
    llmcache *c = NULL;
    memset(model, 0, sizeof model);
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    cfg.max_bytes = max_bytes;
    if (path) rm_log(path);
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (!c) return;
    llmcache__test_collide(c, clear);
    for (n = 0; n < 3000; n++) {
        unsigned k, op;
        llmcache_key key;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        k = (unsigned)(s >> 33) % COLLIDE_KEYS;
        op = (unsigned)(s >> 20) % 4;
        key = key_n(k);
        if (op <= 1) {
            char v[64];
            size_t len = value_n(k * 1000 + n % 997 + 1, v);
            if (llmcache_put(c, &key, v, len, 0) != LLMCACHE_OK) bad++;
            model[k] = n % 997 + 1;
        } else if (op == 2) {
            int rc = llmcache_del(c, &key);
            if (rc != (model[k] ? LLMCACHE_OK : LLMCACHE_MISS)) bad++;
            model[k] = 0;
        } else if (n % 50 == 0) {
            bad += collide_check(c, model);
        }
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(collide_check(c, model), 0);
    for (i = 0, live = 0; i < COLLIDE_KEYS; i++) live += model[i] != 0;
    listed = 0;
    CHECK_EQ(llmcache_foreach(c, 0, count_entry, &listed), LLMCACHE_OK);
    CHECK_EQ(listed, live);
    if (path) {
        char idx[320];
        llmcache_verify_report rep;
        llmcache_close(c);
        CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
        CHECK_EQ(rep.live, live);
        c = open_at(path, max_bytes);   /* from the snapshot */
        if (!c) return;
        llmcache__test_collide(c, clear);
        CHECK_EQ(loaded(c), 2);
        CHECK_EQ(collide_check(c, model), 0);
        {   /* a put, so that the next close writes a snapshot from this one's keys */
            llmcache_key key = key_n(0);
            char v[64];
            model[0] = 999;
            CHECK_EQ(llmcache_put(c, &key, v, value_n(999, v), 0), LLMCACHE_OK);
        }
        llmcache_close(c);
        c = open_at(path, max_bytes);
        if (!c) return;
        llmcache__test_collide(c, clear);
        CHECK_EQ(loaded(c), 2);
        CHECK_EQ(collide_check(c, model), 0);
        CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
        CHECK_EQ(collide_check(c, model), 0);
        llmcache_close(c);
        snprintf(idx, sizeof idx, "%s-index", path);
        unlink(idx);
        c = open_at(path, max_bytes);   /* reading every record */
        if (!c) return;
        llmcache__test_collide(c, clear);
        CHECK_EQ(loaded(c), 0);
        CHECK_EQ(collide_check(c, model), 0);
    }
    llmcache_close(c);
    /* eviction: 10 entries at most; key 0 used before the overflow stays, 1..3 go */
    cfg.max_entries = 10;
    if (path) rm_log(path);
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (!c) return;
    llmcache__test_collide(c, clear);
    memset(model, 0, sizeof model);
    for (i = 0; i < 10; i++) {
        llmcache_key key = key_n(i);
        char v[64];
        CHECK_EQ(llmcache_put(c, &key, v, value_n(i * 1000 + 1, v), 0), LLMCACHE_OK);
        model[i] = 1;
    }
    {
        llmcache_key key = key_n(0);
        llmcache_value got;
        CHECK_EQ(llmcache_get(c, &key, &got), LLMCACHE_OK);
        llmcache_value_free(&got);
    }
    for (i = 10; i < 13; i++) {
        llmcache_key key = key_n(i);
        char v[64];
        CHECK_EQ(llmcache_put(c, &key, v, value_n(i * 1000 + 1, v), 0), LLMCACHE_OK);
        model[i] = 1;
        model[i - 9] = 0;
    }
    CHECK_EQ(collide_check(c, model), 0);
    llmcache_close(c);
    if (path) {
        c = open_at(path, max_bytes);
        if (c) { llmcache__test_collide(c, clear); CHECK_EQ(collide_check(c, model), 0); llmcache_close(c); }
        rm_log(path);
    }
}

static void test_hash_collisions(void) {
    char path[300];
    pathf(path, sizeof path, "collide.log");
    uint64_t all = ~(uint64_t)0, half = 0x0000ffff0000ffffull;   /* every hash 0; some collide, others share tags or homes */
    collide_run(NULL, 0, all);
    collide_run(path, 0, all);     /* values read into memory */
    collide_run(path, 64, all);    /* values on disk only: keys compared in the records */
    collide_run(NULL, 0, half);
    collide_run(path, 64, half);
}

/* The index keeps the keys of the entries it loaded from a snapshot in that file
 * (kept open) and takes them from it for the next snapshot. A snapshot changed in
 * place meanwhile (the same file) must not pass its changes on: each key taken
 * from it has to hash to what the index holds, else it comes from the record. */
static void test_snapshot_keys_kept(void) {
    char path[300], idx[320];
    llmcache *c;
    FILE *f;
    unsigned i;
    pathf(path, sizeof path, "kept.log");
    snprintf(idx, sizeof idx, "%s-index", path);
    rm_log(path);
    c = open_at(path, 64);   /* values on disk only: nothing read into memory */
    if (!c) return;
    put_range(c, 0, 300);
    llmcache_close(c);
    c = open_at(path, 64);
    if (!c) return;
    CHECK_EQ(loaded(c), 2);
    f = fopen(idx, "r+b");   /* the same file the handle keeps open */
    CHECK(f != NULL);
    if (f) {
        for (i = 0; i < 300; i += 3) {   /* every third entry's key: that of key 100000 + i */
            llmcache_key k = key_n(100000 + i);
            fseek(f, 80 + (long)i * 64, SEEK_SET);
            fwrite(k.bytes, 1, 32, f);
        }
        fclose(f);
    }
    put_range(c, 300, 310);
    llmcache_close(c);   /* a new snapshot, its keys from the changed one where they hash right */
    c = open_at(path, 64);
    if (!c) return;
    CHECK_EQ(loaded(c), 2);
    CHECK(all_there(c, 310, ~0u));
    {
        llmcache_key k = key_n(100000 + 3);
        llmcache_value got;
        CHECK_EQ(llmcache_get(c, &k, &got), LLMCACHE_MISS);
    }
    llmcache_close(c);
    rm_log(path);
}

/* More entries than one chunk of the entry array (65,536): the first chunk grows to
 * its full size and whole chunks follow, in a memory cache and a log, at open from
 * the snapshot (reserved at once), reading the log, and after deletes and reuse. */
static void test_many_entries(void) {
    char path[300], idx[320];
    const unsigned n = 70000;
    llmcache *c, *m;
    llmcache_config cfg;
    unsigned i;
    pathf(path, sizeof path, "many.log");
    snprintf(idx, sizeof idx, "%s-index", path);
    rm_log(path);
    memset(&cfg, 0, sizeof cfg);
    m = NULL;
    CHECK_EQ(llmcache_open(&m, &cfg), LLMCACHE_OK);
    c = open_at(path, 64);
    if (!c || !m) return;
    put_range(c, 0, n);
    put_range(m, 0, n);
    CHECK(all_there(m, n, ~0u));
    for (i = 0; i < n; i += 3) {   /* a third deleted, then put again: entries reused */
        llmcache_key k = key_n(i);
        CHECK_EQ(llmcache_del(m, &k), LLMCACHE_OK);
    }
    put_range(m, 0, n);
    CHECK(all_there(m, n, ~0u));
    llmcache_close(m);
    llmcache_close(c);
    c = open_at(path, 64);   /* from the snapshot */
    if (!c) return;
    CHECK_EQ(loaded(c), 2);
    CHECK(all_there(c, n, ~0u));
    {
        llmcache_key k = key_n(n - 1);
        CHECK_EQ(llmcache_del(c, &k), LLMCACHE_OK);
    }
    put_range(c, n, n + 100);
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    llmcache_close(c);
    unlink(idx);
    c = open_at(path, 64);   /* reading every record */
    if (!c) return;
    CHECK_EQ(loaded(c), 0);
    CHECK(all_there(c, n + 100, n - 1));
    llmcache_close(c);
    rm_log(path);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/llmcache-index-%ld", (long)getpid());
    if (mkdir(g_dir, 0700) != 0) { perror("mkdir"); return 1; }
    test_get_with();
    test_snapshot_used();
    test_snapshot_behind();
    test_snapshot_ignored();
    test_snapshot_lies();
    test_snapshot_twice();
    test_snapshot_meta_lie();
    if (!getenv("LLMCACHE_TEST_NO_FORK")) test_snapshot_crash();   /* see valgrind-test */
    test_snapshot_same_recency();
    test_hash_collisions();
    test_snapshot_keys_kept();
    test_many_entries();
    rmdir(g_dir);
    return TEST_REPORT();
}
