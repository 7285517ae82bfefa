/* tests/test_log.c: the log-file backend (issue 3): persistence, files that are
 * not logs, torn tails, byte flips, zeroed tails, a full disk, kill -9, power
 * loss, several processes, compaction interrupted at each step, max_entries,
 * a model-based random test, verify and repair.
 *
 * Runs from the repository root. Child processes: build/tests/log_writer and
 * build/tests/powerloss_shim.so (built here with cc when missing or older than
 * their sources). Everything happens in a fresh directory under /tmp, removed at
 * the end. LLMCACHE_TEST_SEED=n in the environment replays a run. */
#define LLMCACHE_TEST_HOOKS
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include "log_common.h"
#include "robust_probe.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WRITER_BIN "build/tests/log_writer"
#define SHIM_SO    "build/tests/powerloss_shim.so"
/* The helpers' build commands (%s: a temporary name, renamed into place so
 * that two test runs building at once do not trip over each other). */
#define WRITER_CMD "cc -std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Werror -O2 -I. " \
                   "-o %s tests/log_writer.c -lpthread -lm"
#define SHIM_CMD   "cc -shared -fPIC -o %s tests/powerloss_shim.c -ldl"

static char g_dir[256];
static char g_writer[PATH_MAX], g_shim[PATH_MAX];
static int g_have_writer, g_have_shim;
static uint64_t g_rng;

/* ---- small helpers ---------------------------------------------------------- */

static uint64_t rnd(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return g_rng;
}
static uint32_t rnd_below(uint32_t n) { return n ? (uint32_t)(rnd() % n) : 0; }

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pathf(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

static int exists(const char *path) { struct stat st; return stat(path, &st) == 0; }

static void side_path(char *out, size_t n, const char *path, const char *suffix) {
    snprintf(out, n, "%s%s", path, suffix);
}

/* Removes a log and everything beside it. */
static void rm_log(const char *path) {
    char p[600];
    unlink(path);
    side_path(p, sizeof p, path, "-shm"); unlink(p);
    side_path(p, sizeof p, path, ".compact"); unlink(p);
    side_path(p, sizeof p, path, ".durable"); unlink(p);
    side_path(p, sizeof p, path, ".durable.tmp"); unlink(p);
    side_path(p, sizeof p, path, ".repair"); unlink(p);
}

/* The whole file (NULL when it cannot be read); *len its size. */
static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *p;
    long n;
    *len = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return NULL; }
    p = (unsigned char *)malloc((size_t)n + 1);
    if (p && n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    fclose(f);
    if (p) *len = (size_t)n;
    return p;
}

static int spit(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f) return 0;
    ok = (n == 0 || fwrite(p, 1, n, f) == n);
    return fclose(f) == 0 && ok;
}

/* Writes n bytes at off of an existing file (another descriptor than the cache's). */
static int poke(const char *path, uint64_t off, const void *p, size_t n) {
    int fd = open(path, O_WRONLY);
    ssize_t w;
    if (fd < 0) return 0;
    w = pwrite(fd, p, n, (off_t)off);
    close(fd);
    return w == (ssize_t)n;
}

/* Flips the bits x of the byte at off of an existing file. */
static int poke_xor(const char *path, uint64_t off, unsigned char x) {
    int fd = open(path, O_RDWR);
    unsigned char b;
    int ok;
    if (fd < 0) return 0;
    ok = pread(fd, &b, 1, (off_t)off) == 1;
    b ^= x;
    ok = ok && pwrite(fd, &b, 1, (off_t)off) == 1;
    close(fd);
    return ok;
}

typedef struct fclock { int64_t now; } fclock;
static int64_t g_open_ttl;   /* cfg.ttl_ms of the handles open_log opens */
static int64_t fclock_now(void *ctx) { return ((fclock *)ctx)->now; }

static llmcache *open_log_rc(const char *path, int fsync_mode, size_t max_entries, size_t max_bytes,
                             fclock *clk, int *rc_out) {
    llmcache_config cfg;
    llmcache *c = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = fsync_mode;
    cfg.max_entries = max_entries;
    cfg.max_bytes = max_bytes;
    cfg.ttl_ms = g_open_ttl;
    if (clk) { cfg.clock = fclock_now; cfg.clock_ctx = clk; }
    *rc_out = llmcache_open(&c, &cfg);
    return *rc_out == LLMCACHE_OK ? c : NULL;
}

static llmcache *open_log(const char *path, int fsync_mode, size_t max_entries, size_t max_bytes, fclock *clk) {
    int rc;
    llmcache *c = open_log_rc(path, fsync_mode, max_entries, max_bytes, clk, &rc);
    CHECK_MSG(rc == LLMCACHE_OK, "open %s: %s", path, llmcache_result_string(rc));
    return c;
}

/* 1 when get(k) returns exactly want[0..len) (quietly), else 0 and a message. */
static int get_is(llmcache *c, const llmcache_key *k, const void *want, size_t len, const char *what) {
    llmcache_value v;
    int rc = llmcache_get(c, k, &v), ok;
    ok = rc == LLMCACHE_OK && v.len == len && v.data && (len == 0 || memcmp(v.data, want, len) == 0) &&
         v.data[len] == 0;
    if (!ok) {
        if (rc == LLMCACHE_OK)
            fprintf(stderr, "  %s: get returned %zu bytes, want %zu (%s)\n", what, v.len, len,
                    v.len == len ? "bytes differ" : "length differs");
        else
            fprintf(stderr, "  %s: get returned %s, want %zu bytes\n", what, llmcache_result_string(rc), len);
    }
    llmcache_value_free(&v);
    return ok;
}

static int get_miss(llmcache *c, const llmcache_key *k, const char *what) {
    llmcache_value v;
    int rc = llmcache_get(c, k, &v);
    if (rc != LLMCACHE_MISS)
        fprintf(stderr, "  %s: get returned %s (%zu bytes), want a miss\n", what, llmcache_result_string(rc), v.len);
    llmcache_value_free(&v);
    return rc == LLMCACHE_MISS;
}

/* 0: exactly want; 1: a miss; -1: anything else (wrong bytes, an error). */
static int get_class(llmcache *c, const llmcache_key *k, const void *want, size_t len) {
    llmcache_value v;
    int rc = llmcache_get(c, k, &v), r;
    if (rc == LLMCACHE_MISS) r = 1;
    else if (rc == LLMCACHE_OK && v.len == len && (len == 0 || memcmp(v.data, want, len) == 0)) r = 0;
    else r = -1;
    llmcache_value_free(&v);
    return r;
}

/* Checks that key lc_key(n) holds lc_value(n); quiet on success. */
static int lc_is(llmcache *c, uint32_t n) {
    unsigned char buf[LC_VALUE_MAX];
    llmcache_key k = lc_key(n);
    char what[64];
    size_t len = lc_value(n, buf);
    snprintf(what, sizeof what, "key %u", (unsigned)n);
    return get_is(c, &k, buf, len, what);
}

static int lc_put(llmcache *c, uint32_t n) {
    unsigned char buf[LC_VALUE_MAX];
    llmcache_key k = lc_key(n);
    size_t len = lc_value(n, buf);
    return llmcache_put(c, &k, buf, len, -1);
}

static int lc_absent(llmcache *c, uint32_t n) {
    llmcache_key k = lc_key(n);
    char what[64];
    snprintf(what, sizeof what, "key %u", (unsigned)n);
    return get_miss(c, &k, what);
}

static uint64_t file_end(llmcache *c) {
    llmcache_stats st;
    llmcache_stats_get(c, &st);
    return st.file_bytes;
}

/* ---- child processes that report their CHECKs back ---------------------------- */

static int g_result_fd = -1;

static int write_all(int fd, const void *p, size_t n) {
    const char *q = (const char *)p;
    while (n) {
        ssize_t w = write(fd, q, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0;
        q += w; n -= (size_t)w;
    }
    return 1;
}

static int read_all(int fd, void *p, size_t n) {
    char *q = (char *)p;
    while (n) {
        ssize_t r = read(fd, q, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        q += r; n -= (size_t)r;
    }
    return 1;
}

/* fork(): 0 in the child (which counts its own CHECKs from zero), the pid in the
 * parent (*rfd: the pipe the child reports through), -1 on failure. */
static pid_t fork_child(int *rfd) {
    int p[2];
    pid_t pid;
    fflush(stdout); fflush(stderr);
    if (pipe(p) != 0) { CHECK(0); return -1; }
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        g_result_fd = p[1];
        test_passed_ = test_failed_ = 0;
        return 0;
    }
    close(p[1]);
    if (pid < 0) { close(p[0]); CHECK(pid >= 0); return -1; }
    *rfd = p[0];
    return pid;
}

static void child_send(const void *p, size_t n) { write_all(g_result_fd, p, n); }

/* Ends a child: sends its pass/fail counts and exits without running atexit. */
static void child_done(void) {
    int v[2];
    v[0] = test_passed_; v[1] = test_failed_;
    child_send(v, sizeof v);
    _exit(0);
}

/* Waits for a child; with a report, adds its counts to ours. */
static void child_wait(pid_t pid, int rfd, int with_report) {
    int v[2], got = with_report ? read_all(rfd, v, sizeof v) : 0, st = 0;
    close(rfd);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status 0x%x", (int)pid, st);
    if (with_report) {
        CHECK_MSG(got, "child %d reported nothing", (int)pid);
        if (got) { test_passed_ += v[0]; test_failed_ += v[1]; }
    }
}

/* ---- 1. persistence across close and open ------------------------------------- */

typedef struct expect {
    llmcache_key key;
    const unsigned char *data;
    size_t len;
    int present;
    int64_t created, expires;
    const llmcache_meta *meta;
} expect;

static int meta_eq(const llmcache_meta *a, const llmcache_meta *b) {
    return memcmp(a->schema_hash, b->schema_hash, 32) == 0 && a->status == b->status && a->flags == b->flags &&
           a->latency_ms == b->latency_ms && a->prompt_tokens == b->prompt_tokens &&
           a->completion_tokens == b->completion_tokens;
}

static void check_expect(llmcache *c, const expect *e, size_t n, const char *phase) {
    size_t i;
    llmcache_meta zero;
    memset(&zero, 0, sizeof zero);
    for (i = 0; i < n; i++) {
        llmcache_value v;
        int rc = llmcache_get(c, &e[i].key, &v);
        if (!e[i].present) {
            CHECK_MSG(rc == LLMCACHE_MISS, "%s: entry %zu: %s, want a miss", phase, i, llmcache_result_string(rc));
        } else {
            CHECK_MSG(rc == LLMCACHE_OK, "%s: entry %zu: %s", phase, i, llmcache_result_string(rc));
            if (rc == LLMCACHE_OK) {
                CHECK_MEM(v.data, v.len, e[i].data, e[i].len);
                CHECK_EQ(v.data[v.len], 0);
                CHECK_EQ(v.created_ms, e[i].created);
                CHECK_EQ(v.expires_ms, e[i].expires);
                CHECK(meta_eq(&v.meta, e[i].meta ? e[i].meta : &zero));
            }
        }
        llmcache_value_free(&v);
    }
}

static void test_persistence(void) {
    char path[300];
    fclock clk;
    llmcache *c;
    llmcache_meta meta;
    llmcache_stats st;
    llmcache_verify_report rep;
    static const unsigned char bin[] = { 'a', 0, 'b', 0, 0xff, 0, 0 };
    static const unsigned char zero[1] = { 0 };
    size_t big_len = (size_t)16 << 20, i;
    unsigned char *big = (unsigned char *)malloc(big_len);
    expect e[11];
    int64_t t0 = 1700000000000;
    if (!big) { CHECK(big != NULL); return; }
    lc_fill(424242, big, big_len);
    memset(&meta, 0, sizeof meta);
    for (i = 0; i < 32; i++) meta.schema_hash[i] = (unsigned char)(i * 7 + 1);
    meta.status = 200; meta.flags = 5; meta.latency_ms = 1234; meta.prompt_tokens = 17; meta.completion_tokens = -1;
    memset(e, 0, sizeof e);
    for (i = 0; i < 11; i++) {
        e[i].key = lc_key((uint32_t)(100000 + i));
        e[i].present = 1;
        e[i].created = t0;
    }
    e[0].data = (const unsigned char *)"zero"; e[0].len = 4;
    e[1].data = (const unsigned char *)"one, overwritten"; e[1].len = 16;
    e[2].present = 0;
    e[3].data = (const unsigned char *)"short ttl"; e[3].len = 9; e[3].expires = t0 + 1000;
    e[4].data = (const unsigned char *)"forever"; e[4].len = 7;
    e[5].data = bin; e[5].len = sizeof bin;
    e[6].data = zero; e[6].len = 0;
    e[7].data = big; e[7].len = big_len;
    e[8].data = (const unsigned char *)"{\"with\":\"meta\"}"; e[8].len = 15; e[8].meta = &meta; e[8].expires = t0 + 3600000;
    e[9].data = (const unsigned char *)"ttl removed"; e[9].len = 11;
    e[10].data = zero; e[10].len = 0;

    pathf(path, sizeof path, "persist.log");
    clk.now = t0;
    c = open_log(path, LLMCACHE_FSYNC_INTERVAL, 0, 0, &clk);
    if (!c) { free(big); return; }
    CHECK_EQ(llmcache_put(c, &e[0].key, "zero", 4, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[1].key, "one", 3, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[1].key, "one, overwritten", 16, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[2].key, "two", 3, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_del(c, &e[2].key), LLMCACHE_OK);
    CHECK_EQ(llmcache_del(c, &e[2].key), LLMCACHE_MISS);
    CHECK_EQ(llmcache_put(c, &e[3].key, "short ttl", 9, 1000), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[4].key, "forever", 7, -1), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[5].key, bin, sizeof bin, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[6].key, NULL, 0, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[7].key, big, big_len, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put_ex(c, &e[8].key, e[8].data, e[8].len, 3600000, &meta), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[9].key, "ttl 5000", 8, 5000), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[9].key, "ttl removed", 11, -1), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[10].key, "not empty yet", 13, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &e[10].key, "", 0, 0), LLMCACHE_OK);
    check_expect(c, e, 11, "before close");
    llmcache_close(c);

    clk.now = t0 + 500;
    c = open_log(path, LLMCACHE_FSYNC_INTERVAL, 0, 0, &clk);
    if (!c) { free(big); return; }
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.entries, 10);
    CHECK_EQ(st.records_recovered, 15);   /* intact records read: 14 puts, 1 delete */
    CHECK_EQ(st.records_skipped, 0);
    CHECK_EQ(st.bytes_truncated, 0);
    check_expect(c, e, 11, "after reopen");
    llmcache_stats_get(c, &st);
    CHECK(st.cold_reads >= 10);   /* values come back from the file */
    CHECK_EQ(llmcache_del(c, &e[2].key), LLMCACHE_MISS);
    clk.now = t0 + 1000;           /* e[3] expires now */
    e[3].present = 0;
    check_expect(c, e, 11, "after expiry");
    CHECK_EQ(llmcache_del(c, &e[0].key), LLMCACHE_OK);
    e[0].present = 0;
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    check_expect(c, e, 11, "after compaction");
    llmcache_close(c);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(rep.records, 8);     /* compaction kept the live puts only */
    CHECK_EQ(rep.deletes, 0);
    CHECK_EQ(rep.live, 8);

    clk.now = t0 + 2000;
    c = open_log(path, LLMCACHE_FSYNC_INTERVAL, 0, 0, &clk);
    if (!c) { free(big); return; }
    check_expect(c, e, 11, "after compaction and reopen");
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.entries, 8);
    llmcache_close(c);
    /* a reader whose clock is earlier still does not see what compaction dropped */
    clk.now = t0;
    c = open_log(path, LLMCACHE_FSYNC_INTERVAL, 0, 0, &clk);
    if (c) {
        CHECK(get_miss(c, &e[0].key, "deleted key"));
        CHECK(get_miss(c, &e[2].key, "deleted key"));
        CHECK(get_miss(c, &e[3].key, "expired key dropped by compaction"));
        check_expect(c, e + 4, 7, "earlier clock");
        llmcache_close(c);
    }
    free(big);
    rm_log(path);
}

/* ---- 2. files that are not logs ------------------------------------------------ */

static void expect_refused(const char *name, const unsigned char *bytes, size_t n, int want) {
    char path[300], shm[320];
    unsigned char *after;
    size_t after_len;
    llmcache *c;
    llmcache_verify_report rep;
    int rc;
    pathf(path, sizeof path, name);
    side_path(shm, sizeof shm, path, "-shm");
    rm_log(path);
    CHECK(spit(path, bytes, n));
    c = open_log_rc(path, LLMCACHE_FSYNC_ALWAYS, 0, 0, NULL, &rc);
    CHECK_MSG(rc == want, "%s: open returned %s, want %s", name, llmcache_result_string(rc),
              llmcache_result_string(want));
    CHECK(c == NULL);
    llmcache_close(c);
    after = slurp(path, &after_len);
    CHECK(after != NULL);
    if (after) CHECK_MEM(after, after_len, bytes, n);
    free(after);
    CHECK_MSG(!exists(shm), "%s: open created %s", name, shm);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), want);
    CHECK_EQ(llmcache_repair(path, &rep), want);
    after = slurp(path, &after_len);
    if (after) CHECK_MEM(after, after_len, bytes, n);
    free(after);
    rm_log(path);
}

static void test_not_a_log(void) {
    static const char text[] = "This is somebody's notes file.\nIt is not an llmcache log.\n";
    unsigned char rnd100[100], hdr[200];
    size_t i;
    expect_refused("notes.txt", (const unsigned char *)text, sizeof text - 1, LLMCACHE_ENOTCACHE);
    for (i = 0; i < sizeof rnd100; i++) rnd100[i] = (unsigned char)rnd();
    if (rnd100[0] == 'L') rnd100[0] = 'x';
    expect_refused("random.bin", rnd100, sizeof rnd100, LLMCACHE_ENOTCACHE);
    /* an llmcache log of a future version (the header's CRC right) */
    llmcache__hdr_encode(hdr, 12345, 1700000000000);
    llmcache__st32(hdr + 8, 2);
    llmcache__st32(hdr + 60, llmcache__crc32c(0, hdr, 60));
    for (i = 64; i < sizeof hdr; i++) hdr[i] = (unsigned char)(i * 3);
    expect_refused("future.log", hdr, sizeof hdr, LLMCACHE_EVERSION);
    /* short files, even ones that start like the magic, are not logs */
    expect_refused("llm.txt", (const unsigned char *)"LLM", 3, LLMCACHE_ENOTCACHE);
    llmcache__hdr_encode(hdr, 12345, 1700000000000);
    expect_refused("torn.log", hdr, 40, LLMCACHE_ENOTCACHE);
}

/* ---- a log of n records with known offsets -------------------------------------- */

/* Puts keys base .. base+n-1 (lc values) into a fresh log; offs[i] is where record
 * i starts, offs[n] the end. */
static void build_log(const char *path, uint32_t base, uint32_t n, uint64_t *offs) {
    llmcache *c;
    uint32_t i;
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
    if (!c) return;
    offs[0] = file_end(c);
    CHECK_EQ(offs[0], 64);
    for (i = 0; i < n; i++) {
        CHECK_EQ(lc_put(c, base + i), LLMCACHE_OK);
        offs[i + 1] = file_end(c);
    }
    llmcache_close(c);
}

/* ---- 3. torn tails --------------------------------------------------------------- */

static void test_torn_tail(void) {
    char src[300], path[300];
    uint64_t offs[31];
    unsigned char *orig;
    size_t size, cut;
    uint32_t base = 200000, n = 30, i;
    int bad_cuts = 0, cuts = 0;
    pathf(src, sizeof src, "torn-src.log");
    pathf(path, sizeof path, "torn.log");
    build_log(src, base, n, offs);
    orig = slurp(src, &size);
    CHECK(orig != NULL);
    if (!orig) return;
    CHECK_EQ(size, offs[n]);
    for (cut = (size_t)offs[n - 3]; cut <= size; cut++) {
        llmcache *c;
        llmcache_stats st;
        uint64_t boundary = 0;
        int bad = 0, rc;
        rm_log(path);
        if (!spit(path, orig, cut)) { bad++; continue; }
        for (i = 0; i <= n; i++) if (offs[i] <= cut) boundary = offs[i];
        c = open_log_rc(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL, &rc);
        if (!c) { fprintf(stderr, "  cut %zu: open: %s\n", cut, llmcache_result_string(rc)); bad++; goto next; }
        llmcache_stats_get(c, &st);
        if (st.bytes_truncated != cut - boundary) {
            fprintf(stderr, "  cut %zu: bytes_truncated %llu, want %llu\n", cut,
                    (unsigned long long)st.bytes_truncated, (unsigned long long)(cut - boundary));
            bad++;
        }
        if (cut != boundary && st.bytes_truncated == 0) bad++;
        for (i = 0; i < n; i++) {
            if (offs[i + 1] <= cut) bad += !lc_is(c, base + i);
            else bad += !lc_absent(c, base + i);
        }
        if (lc_put(c, base + 1000) != LLMCACHE_OK) bad++;
        llmcache_close(c);
        c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
        if (!c) { bad++; goto next; }
        bad += !lc_is(c, base + 1000);
        for (i = 0; i < n; i++) {
            if (offs[i + 1] <= cut) bad += !lc_is(c, base + i);
            else bad += !lc_absent(c, base + i);
        }
        llmcache_stats_get(c, &st);
        if (st.bytes_truncated != 0) bad++;
        llmcache_close(c);
    next:
        cuts++;
        if (bad) { bad_cuts++; fprintf(stderr, "  torn tail: cut at %zu of %zu failed\n", cut, size); }
    }
    CHECK_EQ(bad_cuts, 0);
    CHECK(cuts > 100);
    free(orig);
    rm_log(src);
    rm_log(path);
}

/* ---- 4. random byte flips ---------------------------------------------------------- */

static void test_byte_flips(void) {
    char src[300], path[300];
    unsigned char *orig, *copy;
    size_t size;
    uint32_t base = 300000, nkeys = 45, i, t;
    int deleted[45];
    llmcache *c;
    int trials_bad = 0, lost_any = 0;
    pathf(src, sizeof src, "flip-src.log");
    pathf(path, sizeof path, "flip.log");
    rm_log(src);
    c = open_log(src, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
    if (!c) return;
    for (i = 0; i < nkeys; i++) { CHECK_EQ(lc_put(c, base + i), LLMCACHE_OK); deleted[i] = 0; }
    for (i = 5; i <= 25; i += 5) {
        llmcache_key k = lc_key(base + i);
        CHECK_EQ(llmcache_del(c, &k), LLMCACHE_OK);
        deleted[i] = 1;
    }
    llmcache_close(c);
    orig = slurp(src, &size);
    CHECK(orig != NULL && size > 64);
    if (!orig) return;
    copy = (unsigned char *)malloc(size);
    if (!copy) { free(orig); return; }
    for (t = 0; t < 200; t++) {
        size_t off = 64 + rnd_below((uint32_t)(size - 64));
        unsigned char x = (unsigned char)(1 + rnd_below(255));
        int lost = 0, wrong = 0, pass;
        memcpy(copy, orig, size);
        copy[off] ^= x;
        rm_log(path);
        if (!spit(path, copy, size)) { trials_bad++; continue; }
        for (pass = 0; pass < 2; pass++) {   /* after the damaged open, and after a write and reopen */
            lost = wrong = 0;
            c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
            if (!c) { wrong++; break; }
            for (i = 0; i < nkeys; i++) {
                unsigned char buf[LC_VALUE_MAX];
                llmcache_key k = lc_key(base + i);
                size_t len = lc_value(base + i, buf);
                int r = get_class(c, &k, buf, len);
                if (r < 0) wrong++;
                else if (deleted[i] ? r == 0 : r == 1) lost++;   /* a lost put, or a lost delete */
            }
            if (pass == 0) {
                if (lc_put(c, base + 999) != LLMCACHE_OK || !lc_is(c, base + 999)) wrong++;
            } else if (!lc_is(c, base + 999)) wrong++;
            llmcache_close(c);
            if (wrong || lost > 1) break;
        }
        if (lost) lost_any++;
        if (wrong || lost > 1) {
            trials_bad++;
            fprintf(stderr, "  flip at %zu (^0x%02x): %d wrong, %d records lost\n", off, x, wrong, lost);
        }
    }
    CHECK_EQ(trials_bad, 0);
    CHECK(lost_any > 50);   /* most flips hit a record: the test did bite */

    /* damage after open, under a handle whose values are cold (on disk only) */
    {
        uint64_t offs[21];
        unsigned char val[3000];
        llmcache_stats st;
        size_t max_bytes = 8192;   /* values of 3000 bytes exceed max_bytes / 4: never held */
        rm_log(path);
        c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, max_bytes, NULL);
        if (!c) { free(orig); free(copy); return; }
        offs[0] = file_end(c);
        for (i = 0; i < 20; i++) {
            llmcache_key k = lc_key(base + 100 + i);
            lc_fill(base + 100 + i, val, sizeof val);
            CHECK_EQ(llmcache_put(c, &k, val, sizeof val, 0), LLMCACHE_OK);
            offs[i + 1] = file_end(c);
        }
        for (i = 0; i < 20; i++) {
            llmcache_key k = lc_key(base + 100 + i);
            lc_fill(base + 100 + i, val, sizeof val);
            CHECK(get_is(c, &k, val, sizeof val, "cold value"));
        }
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.cold_reads, 20);
        /* record 3: a value byte; record 7: the length; record 11: the sequence number */
        CHECK(poke_xor(path, offs[3] + 80 + 1000, 0x5a));
        CHECK(poke_xor(path, offs[7] + 9, 0x77));
        CHECK(poke_xor(path, offs[11] + 17, 0x01));
        for (i = 0; i < 20; i++) {
            llmcache_key k = lc_key(base + 100 + i);
            lc_fill(base + 100 + i, val, sizeof val);
            if (i == 3 || i == 7 || i == 11) CHECK(get_miss(c, &k, "record damaged after open"));
            else CHECK(get_is(c, &k, val, sizeof val, "intact cold value"));
        }
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.records_skipped, 3);
        {
            llmcache_key k = lc_key(base + 103);
            CHECK(get_miss(c, &k, "damaged, asked again"));
            CHECK_EQ(llmcache_put(c, &k, "rewritten", 9, 0), LLMCACHE_OK);
            CHECK(get_is(c, &k, "rewritten", 9, "rewritten after damage"));
        }
        llmcache_close(c);
        c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, max_bytes, NULL);
        if (c) {
            for (i = 0; i < 20; i++) {
                llmcache_key k = lc_key(base + 100 + i);
                lc_fill(base + 100 + i, val, sizeof val);
                if (i == 3) CHECK(get_is(c, &k, "rewritten", 9, "rewritten, reopened"));
                else if (i == 7 || i == 11) CHECK(get_miss(c, &k, "damaged, reopened"));
                else CHECK(get_is(c, &k, val, sizeof val, "intact, reopened"));
            }
            llmcache_stats_get(c, &st);
            CHECK(st.records_skipped >= 3);   /* records 3 (old), 7 and 11 */
            llmcache_close(c);
        }
    }
    free(orig);
    free(copy);
    rm_log(src);
    rm_log(path);
}

/* ---- 5. zeroed tail ----------------------------------------------------------------- */

static void test_zeroed_tail(void) {
    char path[300];
    uint64_t offs[31], boundary = 0, cut;
    unsigned char zeros[500];
    uint32_t base = 400000, n = 30, i;
    llmcache *c;
    llmcache_stats st;
    pathf(path, sizeof path, "zero.log");
    build_log(path, base, n, offs);
    memset(zeros, 0, sizeof zeros);
    cut = offs[n] - sizeof zeros;
    CHECK(poke(path, cut, zeros, sizeof zeros));
    for (i = 0; i <= n; i++) if (offs[i] <= cut) boundary = offs[i];
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
    if (!c) return;
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.bytes_truncated, offs[n] - boundary);
    CHECK_EQ(st.file_bytes, boundary);
    for (i = 0; i < n; i++) {
        if (offs[i + 1] <= cut) CHECK(lc_is(c, base + i));
        else CHECK(lc_absent(c, base + i));
    }
    CHECK_EQ(lc_put(c, base + 1000), LLMCACHE_OK);
    llmcache_close(c);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
    if (!c) return;
    CHECK(lc_is(c, base + 1000));
    for (i = 0; i < n; i++) if (offs[i + 1] <= cut) CHECK(lc_is(c, base + i));
    llmcache_close(c);
    CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
    rm_log(path);
}

/* ---- 6. full disk (RLIMIT_FSIZE) ------------------------------------------------------- */

typedef struct acked_put { uint32_t key, len; } acked_put;

static void full_value(uint32_t key, uint32_t len, unsigned char *buf) { lc_fill((uint64_t)key * 31 + len, buf, len); }

static void test_full_disk(void) {
    char path[300];
    int rfd;
    pid_t pid;
    uint32_t base = 500000;
    pathf(path, sizeof path, "full.log");
    rm_log(path);
    pid = fork_child(&rfd);
    if (pid < 0) return;
    if (pid == 0) {
        static acked_put acked[4096];
        static unsigned char buf[4096];
        struct rlimit rl;
        llmcache *c;
        uint32_t n = 0, key = base, len = 1500, i;
        int rc;
        signal(SIGXFSZ, SIG_IGN);
        rl.rlim_cur = rl.rlim_max = 256 * 1024;
        CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
        c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
        if (!c) { n = 0; child_send(&n, sizeof n); child_done(); }
        /* big values until the first failure */
        for (;;) {
            llmcache_key k = lc_key(key);
            uint32_t l = len + (key % 7) * 100;
            full_value(key, l, buf);
            rc = llmcache_put(c, &k, buf, l, 0);
            if (rc != LLMCACHE_OK) break;
            acked[n].key = key; acked[n].len = l; n++;
            key++;
            if (n >= 4000) break;
        }
        CHECK_MSG(rc == LLMCACHE_ENOSPC, "first failed put: %s", llmcache_result_string(rc));
        CHECK(n > 50);
        {   /* the failed key is absent, every earlier one intact */
            llmcache_key k = lc_key(key);
            CHECK(get_miss(c, &k, "failed put"));
        }
        for (i = 0; i < n; i++) {
            llmcache_key k = lc_key(acked[i].key);
            full_value(acked[i].key, acked[i].len, buf);
            CHECK(get_is(c, &k, buf, acked[i].len, "put before the disk filled"));
        }
        /* then smaller and smaller values, until even an empty one does not fit */
        key++;
        len = 1024;
        for (;;) {
            llmcache_key k = lc_key(key);
            full_value(key, len, buf);
            rc = llmcache_put(c, &k, buf, len, 0);
            if (rc == LLMCACHE_OK) {
                acked[n].key = key; acked[n].len = len; n++;
            } else {
                CHECK_MSG(rc == LLMCACHE_ENOSPC, "put of %u bytes: %s", (unsigned)len, llmcache_result_string(rc));
                CHECK(get_miss(c, &k, "failed small put"));
                if (len == 0) break;
                len /= 2;
            }
            key++;
        }
        {   /* an overwrite and a delete do not fit either; the old values stay */
            llmcache_key k0 = lc_key(acked[0].key), k1 = lc_key(acked[1].key);
            rc = llmcache_put(c, &k1, "x", 1, 0);
            CHECK_MSG(rc == LLMCACHE_ENOSPC, "overwrite on a full disk: %s", llmcache_result_string(rc));
            full_value(acked[1].key, acked[1].len, buf);
            CHECK(get_is(c, &k1, buf, acked[1].len, "value after a failed overwrite"));
            rc = llmcache_del(c, &k0);
            CHECK_MSG(rc == LLMCACHE_ENOSPC, "delete on a full disk: %s", llmcache_result_string(rc));
            full_value(acked[0].key, acked[0].len, buf);
            CHECK(get_is(c, &k0, buf, acked[0].len, "value after a failed delete"));
        }
        for (i = 0; i < n; i++) {
            llmcache_key k = lc_key(acked[i].key);
            full_value(acked[i].key, acked[i].len, buf);
            CHECK(get_is(c, &k, buf, acked[i].len, "acknowledged put, full disk"));
        }
        {
            llmcache_stats st;
            llmcache_stats_get(c, &st);
            CHECK_EQ(st.entries, n);
        }
        llmcache_close(c);
        child_send(&n, sizeof n);
        child_send(acked, n * sizeof acked[0]);
        child_done();
    } else {
        static acked_put acked[4096];
        static unsigned char buf[4096];
        uint32_t n = 0, i;
        int ok = read_all(rfd, &n, sizeof n) && n <= 4096 && read_all(rfd, acked, n * sizeof acked[0]);
        llmcache *c;
        llmcache_stats st;
        child_wait(pid, rfd, 1);
        CHECK(ok);
        if (!ok) return;
        c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
        if (!c) return;
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.entries, n);   /* every acknowledged put and nothing else */
        CHECK_EQ(st.records_skipped, 0);
        for (i = 0; i < n; i++) {
            llmcache_key k = lc_key(acked[i].key);
            full_value(acked[i].key, acked[i].len, buf);
            CHECK(get_is(c, &k, buf, acked[i].len, "acknowledged put, reopened"));
        }
        /* with room again, deletes and puts work */
        {
            llmcache_key k0 = lc_key(acked[0].key);
            CHECK_EQ(llmcache_del(c, &k0), LLMCACHE_OK);
            CHECK_EQ(lc_put(c, base + 9999), LLMCACHE_OK);
        }
        llmcache_close(c);
        c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
        if (c) {
            llmcache_key k0 = lc_key(acked[0].key);
            CHECK(get_miss(c, &k0, "deleted after the disk had room"));
            CHECK(lc_is(c, base + 9999));
            llmcache_close(c);
        }
        rm_log(path);
    }
}

/* ---- the writer process (kill -9, power loss) ------------------------------------------ */

typedef struct acks {
    uint32_t start, n;        /* keys start .. start+n-1 were acknowledged */
    int64_t *ms;              /* when each was acknowledged (CLOCK_MONOTONIC) */
    size_t cap;
    int bad;                  /* out-of-order or malformed lines */
    char part[64];
    size_t part_len;
} acks;

static void acks_line(acks *a, const char *line) {
    unsigned long i;
    long long ms;
    if (sscanf(line, "%lu %lld", &i, &ms) != 2 || i != (unsigned long)a->start + a->n) { a->bad++; return; }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        int64_t *p = (int64_t *)realloc(a->ms, cap * sizeof *p);
        if (!p) { a->bad++; return; }
        a->ms = p; a->cap = cap;
    }
    a->ms[a->n++] = (int64_t)ms;
}

static void acks_feed(acks *a, const char *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] == '\n') {
            a->part[a->part_len] = 0;
            acks_line(a, a->part);
            a->part_len = 0;
        } else if (a->part_len + 1 < sizeof a->part) {
            a->part[a->part_len++] = p[i];
        } else a->bad++;
    }
}

/* Runs the writer on path for run_ms and then until at least min_old of its writes
 * were acknowledged more than old_ms ago (a slow machine lengthens the run instead of
 * failing the test; two minutes more at most), or until it acknowledged max_acks
 * puts (when not 0); kills it with SIGKILL and collects what it acknowledged. shim:
 * run it under the power-loss shim. Returns 1 when it ran and was killed (not exited
 * on its own). */
static int run_writer(const char *path, const char *mode, uint32_t start, unsigned delay_us, int64_t run_ms,
                      uint32_t min_old, int64_t old_ms, uint32_t max_acks, int shim, acks *a, int64_t *kill_ms) {
    int p[2], st = 0;
    pid_t pid;
    char sstart[32], sdelay[32], env1[PATH_MAX + 32], env2[PATH_MAX + 32], buf[4096];
    char *argv[6], *envp[3];
    int64_t deadline;
    memset(a, 0, sizeof *a);
    a->start = start;
    snprintf(sstart, sizeof sstart, "%u", (unsigned)start);
    snprintf(sdelay, sizeof sdelay, "%u", delay_us);
    argv[0] = g_writer; argv[1] = (char *)path; argv[2] = (char *)mode; argv[3] = sstart; argv[4] = sdelay; argv[5] = NULL;
    snprintf(env1, sizeof env1, "LD_PRELOAD=%s", g_shim);
    snprintf(env2, sizeof env2, "LLMCACHE_SHIM_FILE=%s", path);
    envp[0] = shim ? env1 : NULL; envp[1] = shim ? env2 : NULL; envp[2] = NULL;
    fflush(stdout); fflush(stderr);
    if (pipe(p) != 0) return 0;
    pid = fork();
    if (pid < 0) { close(p[0]); close(p[1]); return 0; }
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]); close(p[1]);
        execve(g_writer, argv, envp);
        _exit(127);
    }
    close(p[1]);
    deadline = mono_ms() + run_ms;
    for (;;) {
        struct pollfd pf;
        int64_t now = mono_ms();
        ssize_t r;
        if (max_acks && a->n >= max_acks) break;
        if (now >= deadline &&
            (min_old == 0 || (a->n >= min_old && a->ms[min_old - 1] < now - old_ms) || now >= deadline + 120000))
            break;
        pf.fd = p[0]; pf.events = POLLIN; pf.revents = 0;
        if (poll(&pf, 1, now < deadline ? (int)(deadline - now) : 50) <= 0) continue;
        r = read(p[0], buf, sizeof buf);
        if (r > 0) acks_feed(a, buf, (size_t)r);
        else if (r == 0) break;   /* the writer died on its own */
    }
    *kill_ms = mono_ms();
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    for (;;) {   /* what it wrote before it died is still in the pipe */
        ssize_t r = read(p[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        acks_feed(a, buf, (size_t)r);
    }
    close(p[0]);
    CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "writer (%s) ended by itself: status 0x%x", mode, st);
    CHECK_EQ(a->bad, 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/* After a writer round: keys [start, start+must) are there with their values, key
 * start+must (the put in flight) may be, nothing after it is. Returns the failures. */
static int check_round(llmcache *c, uint32_t start, uint32_t must, uint32_t scanned, const char *what) {
    uint32_t i;
    int bad = 0;
    for (i = 0; i < must; i++) if (!lc_is(c, start + i)) bad++;
    if (get_class(c, &(llmcache_key){{0}}, NULL, 0) == 0) bad++;   /* never a value for a key never put */
    {
        llmcache_key k = lc_key(start + must);
        unsigned char buf[LC_VALUE_MAX];
        size_t len = lc_value(start + must, buf);
        if (get_class(c, &k, buf, len) < 0) { bad++; fprintf(stderr, "  %s: in-flight key has wrong bytes\n", what); }
    }
    for (i = must + 1; i < must + 1 + scanned; i++)
        if (!lc_absent(c, start + i)) { bad++; fprintf(stderr, "  %s: key %u beyond the last acknowledged\n", what, (unsigned)i); }
    if (bad) fprintf(stderr, "  %s: %d failures (%u acknowledged)\n", what, bad, (unsigned)must);
    return bad;
}

static void test_kill9(void) {
    char path[300];
    uint32_t start = 600000, r;
    uint32_t rstart[20], rmust[20], first = 0, total = 0;
    int rounds = 0;
    pathf(path, sizeof path, "kill.log");
    rm_log(path);
    if (!g_have_writer) { CHECK_MSG(0, "no %s", WRITER_BIN); return; }
    for (r = 0; r < 20; r++) {
        static const char *const modes[4] = { "always", "always", "never", "interval" };
        const char *mode = modes[r % 4];
        acks a;
        int64_t kill_ms;
        llmcache *c, *held;
        uint32_t j;
        int bad;
        if (total > 50000) {   /* a fresh file before the default max_entries (100000) would evict */
            rm_log(path);
            first = r;
            total = 0;
        }
        /* every other round this process keeps the log open while the writer runs:
           the writer may die holding the append lock, which the held handle then
           takes over (EOWNERDEAD); it must see every acknowledged write, without
           reopening */
        held = r % 2 ? open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL) : NULL;
        if (!run_writer(path, mode, start, 0, 5 + rnd_below(146), 0, 0, 0, 0, &a, &kill_ms)) {
            free(a.ms);
            llmcache_close(held);
            rstart[r] = start; rmust[r] = 0;
            continue;
        }
        rounds++;
        bad = 0;
        if (held) {
            int rc;
            bad += check_round(held, start, a.n, 20, "held handle");
            rc = lc_put(held, 690000000u + r);
            if (rc != LLMCACHE_OK) { bad++; fprintf(stderr, "  put after the kill: %s\n", llmcache_result_string(rc)); }
            bad += !lc_is(held, 690000000u + r);
            bad += check_round(held, start, a.n, 20, "held handle, after its put");
            llmcache_close(held);
        }
        c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
        if (!c) { free(a.ms); break; }
        bad += check_round(c, start, a.n, 20, mode);
        if (held) bad += !lc_is(c, 690000000u + r);
        /* the earlier rounds are intact too (a sample of their keys) */
        for (j = first; j < r; j++) {
            uint32_t i;
            for (i = 0; i < rmust[j]; i += 1 + rmust[j] / 64) if (!lc_is(c, rstart[j] + i)) bad++;
        }
        CHECK_MSG(bad == 0, "kill -9 round %u (%s, %u acknowledged)", (unsigned)r, mode, (unsigned)a.n);
        llmcache_close(c);
        rstart[r] = start; rmust[r] = a.n;
        start += a.n + 2;
        total += a.n + 2;
        free(a.ms);
    }
    CHECK(rounds >= 18);
    CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
    rm_log(path);
}

/* ---- 8. simulated power loss --------------------------------------------------------------- */

static void test_power_loss(void) {
    char path[300], durable[320], shm[320];
    int r;
    pathf(path, sizeof path, "power.log");
    side_path(durable, sizeof durable, path, ".durable");
    side_path(shm, sizeof shm, path, "-shm");
    if (!g_have_writer || !g_have_shim) { CHECK_MSG(0, "no %s or %s", WRITER_BIN, SHIM_SO); return; }
    for (r = 0; r < 5; r++) {
        int interval = r >= 3;
        uint32_t start = 700000 + (uint32_t)r * 100000, i, must = 0, present = 0;
        acks a;
        int64_t kill_ms;
        llmcache *c;
        int bad = 0;
        rm_log(path);
        if (!run_writer(path, interval ? "interval" : "always", start, interval ? 300u : 0u,
                        interval ? 3000 : 100 + rnd_below(200), interval ? 1001u : 6u, interval ? 1500 : 0, 0, 1,
                        &a, &kill_ms)) { free(a.ms); continue; }
        CHECK_MSG(exists(durable), "no snapshot %s", durable);
        /* the power goes out: the file is what the last sync made durable */
        if (rename(durable, path) != 0) unlink(path);
        unlink(shm);
        if (interval) {
            while (must < a.n && a.ms[must] < kill_ms - 1500) must++;
            CHECK_MSG(must > 1000, "interval: only %u writes older than 1.5 s", (unsigned)must);
        } else {
            must = a.n;
            CHECK_MSG(a.n > 5, "always: only %u writes", (unsigned)a.n);
        }
        c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
        if (!c) { free(a.ms); continue; }
        for (i = 0; i < must; i++) if (!lc_is(c, start + i)) bad++;
        /* whatever else survived is a prefix of the writes, with the right bytes */
        for (i = must; i < a.n + 1; i++) {
            unsigned char buf[LC_VALUE_MAX];
            llmcache_key k = lc_key(start + i);
            size_t len = lc_value(start + i, buf);
            int cl = get_class(c, &k, buf, len);
            if (cl < 0) bad++;
            else if (cl == 0) { if (present != i - must) bad++; present++; }
        }
        for (i = a.n + 1; i < a.n + 21; i++) if (!lc_absent(c, start + i)) bad++;
        CHECK_MSG(bad == 0, "power loss round %d (%s): %d failures, %u acknowledged, %u required",
                  r, interval ? "interval" : "always", bad, (unsigned)a.n, (unsigned)must);
        CHECK_EQ(lc_put(c, start + 99999), LLMCACHE_OK);
        llmcache_close(c);
        free(a.ms);
    }
    rm_log(path);
}

/* ---- 8b. power loss after a writer died between its sync and its commit ---------------------
 * (issue 10, defect 2) The dead writer's record was synced, never published: the
 * heal cuts it, and the page must not keep claiming it durable, or the next
 * LLMCACHE_FSYNC_ALWAYS puts (smaller than it) would be acknowledged unsynced. */

static void crash_at(void *ctx, int n);

static void test_heal_then_power_loss(void) {
    char path[300], durable[320], shm[320];
    uint32_t start = 800000, i;
    llmcache *held, *c;
    acks a;
    int64_t kill_ms;
    int rfd, bad = 0;
    pid_t pid;
    pathf(path, sizeof path, "heal.log");
    side_path(durable, sizeof durable, path, ".durable");
    side_path(shm, sizeof shm, path, "-shm");
    if (!g_have_writer || !g_have_shim) { CHECK_MSG(0, "no %s or %s", WRITER_BIN, SHIM_SO); return; }
    rm_log(path);
    held = open_log(path, LLMCACHE_FSYNC_ALWAYS, 0, 0, NULL);   /* keeps the page as the dead writer leaves it */
    if (!held) return;
    for (i = 0; i < 10; i++) CHECK_EQ(lc_put(held, start + i), LLMCACHE_OK);
    pid = fork_child(&rfd);
    if (pid == 0) {   /* a 1 MiB put, synced, and the writer dies before publishing it */
        static int point = 5;
        size_t big = (size_t)1 << 20;
        unsigned char *v = (unsigned char *)malloc(big);
        llmcache_key k = lc_key(start + 99);
        llmcache *w = open_log(path, LLMCACHE_FSYNC_ALWAYS, 0, 0, NULL);
        if (!w || !v) _exit(2);
        memset(v, 0x5a, big);
        w->test_point = crash_at;
        w->test_ctx = &point;
        llmcache_put(w, &k, v, big, -1);
        _exit(3);
    }
    if (pid > 0) child_wait(pid, rfd, 0);
    /* the next writer heals, then acknowledges small FSYNC_ALWAYS puts */
    if (!run_writer(path, "always", start + 10, 0, 30000, 0, 0, 20, 1, &a, &kill_ms)) { free(a.ms); llmcache_close(held); return; }
    CHECK_MSG(a.n >= 20, "only %u puts acknowledged", (unsigned)a.n);
    llmcache_close(held);
    /* the power goes out: the file is what the last sync made durable */
    CHECK_MSG(exists(durable), "no sync after the heal: no snapshot %s", durable);
    if (rename(durable, path) != 0) unlink(path);
    unlink(shm);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
    if (c) {
        for (i = 0; i < 10 + a.n; i++) if (!lc_is(c, start + i)) bad++;
        CHECK_MSG(bad == 0, "%d of %u acknowledged puts lost", bad, (unsigned)(10 + a.n));
        CHECK(lc_absent(c, start + 99));
        llmcache_close(c);
    }
    free(a.ms);
    rm_log(path);
}

/* ---- 9. four processes appending at once -------------------------------------------------- */

static void shared_value(int child, uint32_t j, char *out, size_t n) {
    snprintf(out, n, "shared value written by child %d at step %u", child, (unsigned)j);
}

static void test_four_writers(void) {
    char path[300];
    pid_t pids[4];
    int rfds[4], gate[2], i;
    uint32_t base = 800000, j;
    llmcache *c;
    llmcache_verify_report rep;
    pathf(path, sizeof path, "four.log");
    rm_log(path);
    if (pipe(gate) != 0) { CHECK(0); return; }
    for (i = 0; i < 4; i++) {
        pids[i] = fork_child(&rfds[i]);
        if (pids[i] == 0) {
            char x;
            llmcache *cc;
            close(gate[1]);
            while (read(gate[0], &x, 1) < 0 && errno == EINTR) {}   /* all start together */
            cc = open_log(path, LLMCACHE_FSYNC_INTERVAL, 0, 0, NULL);
            if (!cc) child_done();
            for (j = 0; j < 2000; j++) {
                CHECK_EQ(lc_put(cc, base + (uint32_t)i * 10000 + j), LLMCACHE_OK);
                if (j % 20 == 0) {
                    char v[96];
                    llmcache_key k = lc_key(base + 99000 + j % 7);
                    shared_value(i, j, v, sizeof v);
                    CHECK_EQ(llmcache_put(cc, &k, v, strlen(v), 0), LLMCACHE_OK);
                }
            }
            for (j = 0; j < 2000; j++) CHECK(lc_is(cc, base + (uint32_t)i * 10000 + j));
            llmcache_close(cc);
            child_done();
        }
    }
    close(gate[0]);
    close(gate[1]);   /* go */
    for (i = 0; i < 4; i++) if (pids[i] > 0) child_wait(pids[i], rfds[i], 1);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
    if (!c) return;
    {
        int bad = 0;
        llmcache_stats st;
        for (i = 0; i < 4; i++)
            for (j = 0; j < 2000; j++) bad += !lc_is(c, base + (uint32_t)i * 10000 + j);
        CHECK_EQ(bad, 0);
        for (j = 0; j < 7; j++) {   /* a shared key holds one of the values written to it */
            llmcache_key k = lc_key(base + 99000 + j);
            llmcache_value v;
            int ok = 0, ch;
            CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
            for (ch = 0; v.data && ch < 4; ch++) {
                uint32_t s;
                for (s = j; s < 2000; s += 7) {
                    char w[96];
                    if (s % 20) continue;
                    shared_value(ch, s, w, sizeof w);
                    if (v.len == strlen(w) && memcmp(v.data, w, v.len) == 0) ok = 1;
                }
            }
            CHECK_MSG(ok, "shared key %u: \"%.*s\"", (unsigned)j, (int)v.len, v.data ? v.data : "");
            llmcache_value_free(&v);
        }
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.entries, 8007);
        CHECK_EQ(st.records_skipped, 0);
        CHECK_EQ(st.bytes_truncated, 0);
    }
    llmcache_close(c);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(rep.damaged_regions, 0);
    CHECK_EQ(rep.live, 8007);
    CHECK_EQ(rep.puts, 8000 + 4 * 100);
    rm_log(path);
}

/* ---- 10. visibility across processes without reopening -------------------------------------- */

static void test_visibility(void) {
    char path[300];
    llmcache *c;
    llmcache_stats st;
    llmcache_key k = lc_key(900001), k2 = lc_key(900002), k3 = lc_key(900003), k4 = lc_key(900004),
                 kb = lc_key(900005), k6 = lc_key(900006);
    size_t blen = 200000;
    unsigned char *big1 = (unsigned char *)malloc(blen), *big2 = (unsigned char *)malloc(blen);
    int rfd;
    pid_t pid;
    if (!big1 || !big2) { free(big1); free(big2); CHECK(0); return; }
    lc_fill(1, big1, blen);
    lc_fill(2, big2, blen);
    pathf(path, sizeof path, "visible.log");
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
    if (!c) { free(big1); free(big2); return; }
    CHECK_EQ(llmcache_put(c, &k, "first", 5, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &k2, "to be deleted", 13, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &kb, big1, blen, 0), LLMCACHE_OK);
    CHECK(get_is(c, &k, "first", 5, "k before"));
    CHECK(get_is(c, &kb, big1, blen, "big before"));
    CHECK(get_miss(c, &k3, "k3 before"));

    pid = fork_child(&rfd);
    if (pid == 0) {
        llmcache *cc = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
        if (cc) {
            CHECK(get_is(cc, &k, "first", 5, "child sees k"));
            CHECK_EQ(llmcache_put(cc, &k, "second", 6, 0), LLMCACHE_OK);
            CHECK_EQ(llmcache_del(cc, &k2), LLMCACHE_OK);
            CHECK_EQ(llmcache_put(cc, &k3, "third", 5, 0), LLMCACHE_OK);
            CHECK_EQ(llmcache_put(cc, &kb, big2, blen, 0), LLMCACHE_OK);
            llmcache_close(cc);
        }
        child_done();
    }
    if (pid > 0) child_wait(pid, rfd, 1);
    CHECK(get_is(c, &k, "second", 6, "overwrite by another process"));
    CHECK(get_miss(c, &k2, "delete by another process"));
    CHECK(get_is(c, &k3, "third", 5, "put by another process"));
    CHECK(get_is(c, &kb, big2, blen, "big overwrite by another process"));
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.reloads, 0);
    CHECK_EQ(st.entries, 3);

    pid = fork_child(&rfd);
    if (pid == 0) {
        llmcache *cc = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
        if (cc) {
            llmcache_stats cst;
            CHECK_EQ(llmcache_compact(cc), LLMCACHE_OK);
            llmcache_stats_get(cc, &cst);
            CHECK_EQ(cst.compactions, 1);
            CHECK_EQ(llmcache_put(cc, &k4, "fourth", 6, 0), LLMCACHE_OK);
            CHECK_EQ(llmcache_put(cc, &k, "k after compaction", 18, 0), LLMCACHE_OK);
            llmcache_close(cc);
        }
        child_done();
    }
    if (pid > 0) child_wait(pid, rfd, 1);
    CHECK(get_is(c, &k, "k after compaction", 18, "k across a compaction"));
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.reloads, 1);
    CHECK(get_miss(c, &k2, "k2 across a compaction"));
    CHECK(get_is(c, &k3, "third", 5, "k3 across a compaction"));
    CHECK(get_is(c, &k4, "fourth", 6, "k4 across a compaction"));
    CHECK(get_is(c, &kb, big2, blen, "big across a compaction"));
    /* this handle writes into the new file */
    CHECK_EQ(llmcache_put(c, &k6, "sixth", 5, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_del(c, &k3), LLMCACHE_OK);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.reloads, 1);
    CHECK_EQ(st.entries, 4);
    pid = fork_child(&rfd);
    if (pid == 0) {
        llmcache *cc = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
        if (cc) {
            CHECK(get_is(cc, &k6, "sixth", 5, "the other way round"));
            CHECK(get_miss(cc, &k3, "deleted the other way round"));
            llmcache_close(cc);
        }
        child_done();
    }
    if (pid > 0) child_wait(pid, rfd, 1);
    llmcache_close(c);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
    if (c) {
        CHECK(get_is(c, &k, "k after compaction", 18, "k reopened"));
        CHECK(get_miss(c, &k2, "k2 reopened"));
        CHECK(get_miss(c, &k3, "k3 reopened"));
        CHECK(get_is(c, &k4, "fourth", 6, "k4 reopened"));
        CHECK(get_is(c, &kb, big2, blen, "big reopened"));
        CHECK(get_is(c, &k6, "sixth", 5, "k6 reopened"));
        llmcache_close(c);
    }
    free(big1);
    free(big2);
    rm_log(path);
}

/* ---- 11. compaction interrupted at each step --------------------------------------------------- */

static void crash_at(void *ctx, int n) { if (n == *(int *)ctx) _exit(0); }

#define M_BASE 950000u
/* The model of the log test_compaction_crash builds: 0..19 overwritten, 20..29
 * deleted, 30..34 expired, 35..59 as first put. */
static void m_value(uint32_t i, unsigned char *buf, size_t *len) {
    if (i < 20) { *len = 100; lc_fill(i + 777, buf, 100); }
    else *len = lc_value(M_BASE + i, buf);
}

static int check_m(llmcache *c, const char *what) {
    uint32_t i;
    int bad = 0;
    for (i = 0; i < 60; i++) {
        unsigned char buf[LC_VALUE_MAX];
        size_t len;
        llmcache_key k = lc_key(M_BASE + i);
        m_value(i, buf, &len);
        if (i >= 20 && i < 35) bad += !get_miss(c, &k, what);
        else bad += !get_is(c, &k, buf, len, what);
    }
    return bad;
}

static void test_compaction_crash(void) {
    char path[300], tmp[320];
    int point, hold;
    fclock clk;
    pathf(path, sizeof path, "crash.log");
    side_path(tmp, sizeof tmp, path, ".compact");
    for (hold = 0; hold < 2; hold++) {
        for (point = 1; point <= 4; point++) {
            llmcache *c, *p = NULL;
            uint32_t i;
            int rfd, rc;
            pid_t pid;
            char what[80];
            snprintf(what, sizeof what, "crash at point %d%s", point, hold ? " (handle held)" : "");
            rm_log(path);
            clk.now = 1700000000000;
            c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, &clk);
            if (!c) return;
            for (i = 0; i < 60; i++) CHECK_EQ(lc_put(c, M_BASE + i), LLMCACHE_OK);
            for (i = 0; i < 20; i++) {
                unsigned char buf[100];
                llmcache_key k = lc_key(M_BASE + i);
                lc_fill(i + 777, buf, 100);
                CHECK_EQ(llmcache_put(c, &k, buf, 100, 0), LLMCACHE_OK);
            }
            for (i = 20; i < 30; i++) { llmcache_key k = lc_key(M_BASE + i); CHECK_EQ(llmcache_del(c, &k), LLMCACHE_OK); }
            for (i = 30; i < 35; i++) {
                unsigned char buf[LC_VALUE_MAX];
                llmcache_key k = lc_key(M_BASE + i);
                size_t len = lc_value(M_BASE + i, buf);
                CHECK_EQ(llmcache_put(c, &k, buf, len, 1000), LLMCACHE_OK);
            }
            llmcache_close(c);
            clk.now += 5000;   /* 30..34 have expired */
            if (hold) {
                p = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, &clk);
                if (p) CHECK_EQ(check_m(p, what), 0);
            }
            pid = fork_child(&rfd);
            if (pid == 0) {
                llmcache *cc = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, &clk);
                if (!cc) _exit(2);
                cc->test_point = crash_at;
                cc->test_ctx = &point;
                llmcache_compact(cc);
                _exit(3);   /* the crash point was never reached */
            }
            if (pid > 0) child_wait(pid, rfd, 0);
            if (p) {
                /* the survivor reads, then writes (taking over the dead holder's lock) */
                CHECK_MSG(check_m(p, what) == 0, "%s: reading with the held handle", what);
                rc = lc_put(p, M_BASE + 100);
                CHECK_MSG(rc == LLMCACHE_OK, "%s: put after the crash: %s", what, llmcache_result_string(rc));
                CHECK(lc_is(p, M_BASE + 100));
                CHECK_MSG(check_m(p, what) == 0, "%s: after the survivor's put", what);
                CHECK_MSG(!exists(tmp), "%s: %s left behind", what, tmp);
                {   /* a second handle while the first is open */
                    llmcache *q = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, &clk);
                    if (q) {
                        CHECK_MSG(check_m(q, what) == 0, "%s: a second handle", what);
                        CHECK(lc_is(q, M_BASE + 100));
                        CHECK_EQ(llmcache_compact(q), LLMCACHE_OK);
                        CHECK_EQ(lc_put(q, M_BASE + 101), LLMCACHE_OK);
                        llmcache_close(q);
                    }
                }
                CHECK(lc_is(p, M_BASE + 101));
                CHECK_MSG(check_m(p, what) == 0, "%s: after another compaction", what);
                llmcache_close(p);
            }
            c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, &clk);
            if (!c) continue;
            CHECK_MSG(check_m(c, what) == 0, "%s: reopened", what);
            CHECK_MSG(!exists(tmp), "%s: %s left behind", what, tmp);
            if (hold) { CHECK(lc_is(c, M_BASE + 100)); CHECK(lc_is(c, M_BASE + 101)); }
            CHECK_EQ(lc_put(c, M_BASE + 102), LLMCACHE_OK);
            CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
            CHECK_MSG(check_m(c, what) == 0, "%s: compacted again", what);
            llmcache_close(c);
            c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, &clk);
            if (!c) continue;
            CHECK_MSG(check_m(c, what) == 0, "%s: compacted and reopened", what);
            CHECK(lc_is(c, M_BASE + 102));
            llmcache_close(c);
            CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
        }
    }
    rm_log(path);
}

/* ---- 12. max_entries with a path ------------------------------------------------------------ */

typedef struct keyset { uint32_t n; llmcache_key keys[64]; int values_ok; } keyset;

static int collect(void *ctx, const llmcache_entry_info *info) {
    keyset *s = (keyset *)ctx;
    uint32_t i;
    if (s->n < 64) s->keys[s->n++] = info->key;
    for (i = 0; i < 64; i++) {   /* values are lc values of keys 960000.. */
        llmcache_key k = lc_key(960000 + i);
        if (memcmp(k.bytes, info->key.bytes, 32) == 0) {
            unsigned char buf[LC_VALUE_MAX];
            size_t len = lc_value(960000 + i, buf);
            if (!info->data || info->len != len || memcmp(info->data, buf, len) != 0) s->values_ok = 0;
            return 0;
        }
    }
    s->values_ok = 0;
    return 0;
}

/* 1 when the live keys of c are exactly lc_key(960000 + ids[i]). */
static int holds_exactly(llmcache *c, const uint32_t *ids, uint32_t n, const char *what) {
    keyset s;
    uint32_t i, j;
    int ok;
    memset(&s, 0, sizeof s);
    s.values_ok = 1;
    ok = llmcache_foreach(c, 1, collect, &s) == 0 && s.values_ok && s.n == n;
    for (i = 0; ok && i < n; i++) {
        llmcache_key k = lc_key(960000 + ids[i]);
        int found = 0;
        for (j = 0; j < s.n; j++) if (memcmp(s.keys[j].bytes, k.bytes, 32) == 0) found = 1;
        if (!found) ok = 0;
    }
    if (!ok) fprintf(stderr, "  %s: %u entries (values %s), want %u\n", what, (unsigned)s.n,
                     s.values_ok ? "right" : "WRONG", (unsigned)n);
    return ok;
}

static void test_max_entries(void) {
    char path[300];
    llmcache *c;
    llmcache_verify_report rep;
    llmcache_stats st;
    uint32_t i;
    static const uint32_t order[5] = { 3, 1, 4, 0, 2 };
    static const uint32_t want1[10] = { 0, 1, 2, 3, 4, 10, 11, 12, 13, 14 };
    static const uint32_t want2[10] = { 0, 1, 2, 4, 10, 11, 12, 13, 14, 20 };   /* 3 was least recently used */
    static const uint32_t want3[5] = { 14, 2, 0, 4, 20 };   /* the 5 most recently used of want2 */
    pathf(path, sizeof path, "bounded.log");
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 10, 0, NULL);
    if (!c) return;
    for (i = 0; i < 10; i++) CHECK_EQ(lc_put(c, 960000 + i), LLMCACHE_OK);
    for (i = 0; i < 5; i++) CHECK(lc_is(c, 960000 + order[i]));   /* uses: 3 1 4 0 2 */
    for (i = 10; i < 15; i++) CHECK_EQ(lc_put(c, 960000 + i), LLMCACHE_OK);   /* evicts 5..9 */
    CHECK(holds_exactly(c, want1, 10, "bounded, open"));
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.entries, 10);
    CHECK_EQ(st.evictions, 5);
    llmcache_close(c);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 10, 0, NULL);
    if (!c) return;
    CHECK(holds_exactly(c, want1, 10, "bounded, reopened"));
    llmcache_close(c);

    /* compaction keeps exactly those, in LRU order */
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 10, 0, NULL);
    if (!c) return;
    for (i = 0; i < 5; i++) CHECK(lc_is(c, 960000 + order[i]));      /* uses: 3 1 4 0 2 */
    for (i = 10; i < 15; i++) CHECK(lc_is(c, 960000 + i));           /* then 10..14: 3 is the LRU */
    CHECK(lc_is(c, 960000 + 2));
    CHECK(lc_is(c, 960000 + 0));
    CHECK(lc_is(c, 960000 + 4));
    CHECK(lc_is(c, 960000 + 14));   /* MRU first: 14 4 0 2 13 12 11 10 1 3 */
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    llmcache_close(c);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(rep.records, 10);
    CHECK_EQ(rep.puts, 10);
    CHECK_EQ(rep.deletes, 0);
    CHECK_EQ(rep.live, 10);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 10, 0, NULL);
    if (!c) return;
    CHECK(holds_exactly(c, want1, 10, "bounded, compacted"));
    CHECK_EQ(lc_put(c, 960000 + 20), LLMCACHE_OK);   /* evicts the least recently used: 3 */
    CHECK(holds_exactly(c, want2, 10, "bounded, compacted, one more"));
    CHECK(lc_is(c, 960000 + 20));   /* MRU first: 20 14 4 0 2 13 12 11 10 1 */
    CHECK(lc_is(c, 960000 + 4));
    CHECK(lc_is(c, 960000 + 0));
    CHECK(lc_is(c, 960000 + 2));
    CHECK(lc_is(c, 960000 + 14));   /* MRU first: 14 2 0 4 20 ... */
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    llmcache_close(c);
    /* opened with a smaller bound: the 5 most recently used */
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 5, 0, NULL);
    if (!c) return;
    CHECK(holds_exactly(c, want3, 5, "rebounded to 5"));
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    llmcache_close(c);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(rep.records, 5);
    CHECK_EQ(rep.live, 5);
    rm_log(path);
}

/* Issue 10, defect 1: two processes, max_entries 3, an entry that expires. The
 * reader's view must be a function of the log and the clock, never of its own
 * history: when A expires and the writer puts D, the reader must not evict its own
 * least recently used live entry (B) without a record, and a compaction by the
 * reader must keep every entry that is live in the log. */
static void test_ttl_evictions_agree(void) {
    char path[300];
    fclock clk = { 1700000000000 };
    llmcache *w, *r;
    llmcache_key a = lc_key(970000);
    unsigned char buf[LC_VALUE_MAX];
    size_t len = lc_value(970000, buf);
    uint32_t n;
    pathf(path, sizeof path, "agree.log");
    rm_log(path);
    w = open_log(path, LLMCACHE_FSYNC_NEVER, 3, 0, &clk);
    r = open_log(path, LLMCACHE_FSYNC_NEVER, 3, 0, &clk);
    if (!w || !r) { llmcache_close(w); llmcache_close(r); return; }
    CHECK_EQ(llmcache_put(w, &a, buf, len, 150), LLMCACHE_OK);
    CHECK_EQ(lc_put(w, 970001), LLMCACHE_OK);
    CHECK_EQ(lc_put(w, 970002), LLMCACHE_OK);
    CHECK(lc_is(r, 970001));
    CHECK(lc_is(r, 970002));
    CHECK(get_is(r, &a, buf, len, "A before it expires"));
    clk.now += 300;
    CHECK_EQ(lc_put(w, 970003), LLMCACHE_OK);
    for (n = 970001; n <= 970003; n++) { CHECK(lc_is(w, n)); CHECK(lc_is(r, n)); }
    CHECK(get_miss(w, &a, "A expired, writer"));
    CHECK(get_miss(r, &a, "A expired, reader"));
    CHECK_EQ(llmcache_compact(r), LLMCACHE_OK);
    for (n = 970001; n <= 970003; n++) { CHECK(lc_is(w, n)); CHECK(lc_is(r, n)); }
    llmcache_close(w);
    llmcache_close(r);
    w = open_log(path, LLMCACHE_FSYNC_NEVER, 3, 0, &clk);
    if (!w) return;
    for (n = 970001; n <= 970003; n++) CHECK(lc_is(w, n));
    CHECK(get_miss(w, &a, "A expired, reopened"));
    llmcache_close(w);
    rm_log(path);
}

/* ---- 13. model-based random test ------------------------------------------------------------- */

#define MODEL_KEYS 200
typedef struct mentry {
    int present;
    unsigned char *data;
    size_t len;
    int64_t created, expires;
    int has_meta;
    llmcache_meta meta;
} mentry;

static void test_model(void) {
    char path[300];
    static mentry m[MODEL_KEYS];
    static unsigned char buf[3001];
    fclock clk;
    llmcache *c;
    uint32_t op, i;
    int bad = 0, reopens = 0, compactions = 0, gets = 0, hits = 0;
    size_t live;
    uint64_t cold = 0;
    llmcache_stats st;
    size_t max_bytes = 256 * 1024;   /* values spill to disk: cold reads */
    const uint32_t nops = 20000;
    pathf(path, sizeof path, "model.log");
    rm_log(path);
    memset(m, 0, sizeof m);
    clk.now = 1700000000000;
    g_open_ttl = 100000;
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, max_bytes, &clk);
    if (!c) { g_open_ttl = 0; return; }
    for (op = 0; op < nops && bad < 10; op++) {
        uint32_t r = rnd_below(1000), ki = rnd_below(MODEL_KEYS);
        llmcache_key k = lc_key(990000 + ki);
        mentry *e = &m[ki];
        int live_now = e->present && !(e->expires && clk.now >= e->expires);
        if (r < 400) {   /* put (sometimes with meta) */
            size_t len = rnd_below(10) == 0 ? 0 : rnd_below(3001);
            uint32_t t = rnd_below(10);
            int64_t ttl = t < 3 ? (int64_t)(1 + rnd_below(5000)) : t < 4 ? -1 : 0;
            int with_meta = rnd_below(5) == 0, rc;
            llmcache_meta meta;
            lc_fill(rnd(), buf, len);
            memset(&meta, 0, sizeof meta);
            if (with_meta) {
                meta.status = (int32_t)rnd_below(600);
                meta.latency_ms = (int64_t)rnd_below(100000);
                meta.prompt_tokens = (int64_t)rnd_below(5000);
                meta.completion_tokens = -1;
                meta.schema_hash[0] = (unsigned char)op;
            }
            rc = with_meta ? llmcache_put_ex(c, &k, buf, len, ttl, &meta) : llmcache_put(c, &k, buf, len, ttl);
            if (rc != LLMCACHE_OK) { bad++; fprintf(stderr, "  op %u: put: %s\n", (unsigned)op, llmcache_result_string(rc)); continue; }
            free(e->data);
            e->data = (unsigned char *)malloc(len + 1);
            if (!e->data) { bad++; break; }
            memcpy(e->data, buf, len);
            e->len = len;
            e->present = 1;
            e->created = clk.now;
            e->expires = ttl > 0 ? clk.now + ttl : ttl < 0 ? 0 : clk.now + 100000;   /* cfg ttl 100 s */
            e->has_meta = with_meta;
            e->meta = meta;
        } else if (r < 750) {   /* get */
            llmcache_value v;
            int rc = llmcache_get(c, &k, &v);
            gets++;
            if (live_now) {
                hits++;
                if (rc != LLMCACHE_OK || v.len != e->len || (e->len && memcmp(v.data, e->data, e->len) != 0) ||
                    v.created_ms != e->created || v.expires_ms != e->expires ||
                    (e->has_meta && !meta_eq(&v.meta, &e->meta))) {
                    bad++;
                    fprintf(stderr, "  op %u: get key %u: %s, %zu bytes, want %zu\n", (unsigned)op, (unsigned)ki,
                            llmcache_result_string(rc), v.len, e->len);
                }
            } else if (rc != LLMCACHE_MISS) {
                bad++;
                fprintf(stderr, "  op %u: get key %u: %s, want a miss\n", (unsigned)op, (unsigned)ki, llmcache_result_string(rc));
            }
            llmcache_value_free(&v);
            if (!live_now) e->present = 0;
        } else if (r < 850) {   /* delete */
            int rc = llmcache_del(c, &k);
            if (rc != (live_now ? LLMCACHE_OK : LLMCACHE_MISS)) {
                bad++;
                fprintf(stderr, "  op %u: del key %u: %s\n", (unsigned)op, (unsigned)ki, llmcache_result_string(rc));
            }
            e->present = 0;
        } else if (r < 980) {   /* time passes */
            clk.now += rnd_below(1500);
        } else if (r < 990) {
            int rc = llmcache_compact(c);
            compactions++;
            if (rc != LLMCACHE_OK) { bad++; fprintf(stderr, "  op %u: compact: %s\n", (unsigned)op, llmcache_result_string(rc)); }
        } else {
            llmcache_stats_get(c, &st);
            cold += st.cold_reads;
            llmcache_close(c);
            reopens++;
            c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, max_bytes, &clk);
            if (!c) { bad++; break; }
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(reopens > 50 && compactions > 50 && hits > 1000);
    if (c) {
        for (i = 0, live = 0; i < MODEL_KEYS; i++)
            if (m[i].present && !(m[i].expires && clk.now >= m[i].expires)) live++;
        CHECK_EQ(llmcache_sweep(c), LLMCACHE_OK);
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.entries, live);
        CHECK(cold + st.cold_reads > 100);
        CHECK_EQ(st.records_skipped, 0);
        /* finally every key, once more, after a reopen */
        llmcache_close(c);
        c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, max_bytes, &clk);
        if (c) {
            for (i = 0; i < MODEL_KEYS; i++) {
                llmcache_key k = lc_key(990000 + i);
                if (m[i].present && !(m[i].expires && clk.now >= m[i].expires)) bad += !get_is(c, &k, m[i].data, m[i].len, "model, final");
                else bad += !get_miss(c, &k, "model, final");
            }
            CHECK_EQ(bad, 0);
            llmcache_stats_get(c, &st);
            CHECK_EQ(st.entries, live);
            llmcache_close(c);
        }
        CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
    }
    for (i = 0; i < MODEL_KEYS; i++) free(m[i].data);
    g_open_ttl = 0;
    rm_log(path);
}

/* ---- 14. verify and repair -------------------------------------------------------------------- */

typedef struct damage_log { int n; uint64_t off[8], len[8]; } damage_log;
static void on_damage(void *ctx, uint64_t off, uint64_t len, const char *reason) {
    damage_log *d = (damage_log *)ctx;
    (void)reason;
    if (d->n < 8) { d->off[d->n] = off; d->len[d->n] = len; }
    d->n++;
}

static void test_verify_repair(void) {
    char path[300];
    uint64_t offs[21];
    uint32_t base = 970000, i;
    llmcache_verify_report rep;
    damage_log d;
    unsigned char *before, *after;
    size_t blen, alen;
    llmcache *c;
    pathf(path, sizeof path, "verify.log");
    build_log(path, base, 20, offs);
    memset(&d, 0, sizeof d);
    CHECK_EQ(llmcache_verify(path, &rep, on_damage, &d), LLMCACHE_OK);
    CHECK_EQ(d.n, 0);
    CHECK_EQ(rep.file_bytes, offs[20]);
    CHECK_EQ(rep.records, 20);
    CHECK_EQ(rep.puts, 20);
    CHECK_EQ(rep.deletes, 0);
    CHECK_EQ(rep.live, 20);
    CHECK_EQ(rep.damaged_regions, 0);
    CHECK_EQ(rep.tail_bytes, 0);
    CHECK_EQ(rep.last_seq, 20);
    /* damage records 10 (a value byte) and 15 (the magic) */
    CHECK(poke_xor(path, offs[10] + 80, 0xee));
    CHECK(poke_xor(path, offs[15], 0xff));
    before = slurp(path, &blen);
    CHECK_EQ(llmcache_verify(path, &rep, on_damage, &d), LLMCACHE_ECORRUPT);
    after = slurp(path, &alen);
    CHECK(before && after);
    if (before && after) CHECK_MEM(after, alen, before, blen);   /* verify never writes */
    free(before); free(after);
    CHECK_EQ(rep.damaged_regions, 2);
    CHECK_EQ(rep.records, 18);
    CHECK_EQ(d.n, 2);
    CHECK_EQ(d.off[0], offs[10]);
    CHECK_EQ(d.len[0], offs[11] - offs[10]);
    CHECK_EQ(d.off[1], offs[15]);
    CHECK_EQ(d.len[1], offs[16] - offs[15]);
    CHECK_EQ(rep.damaged_bytes, offs[11] - offs[10] + offs[16] - offs[15]);
    CHECK_EQ(llmcache_repair(path, &rep), LLMCACHE_OK);
    CHECK_EQ(rep.records, 18);
    memset(&d, 0, sizeof d);
    CHECK_EQ(llmcache_verify(path, &rep, on_damage, &d), LLMCACHE_OK);
    CHECK_EQ(d.n, 0);
    CHECK_EQ(rep.records, 18);
    CHECK_EQ(rep.live, 18);
    CHECK_EQ(rep.file_bytes, offs[20] - (offs[11] - offs[10]) - (offs[16] - offs[15]));
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 0, NULL);
    if (c) {
        for (i = 0; i < 20; i++) {
            if (i == 10 || i == 15) CHECK(lc_absent(c, base + i));
            else CHECK(lc_is(c, base + i));
        }
        CHECK_EQ(lc_put(c, base + 100), LLMCACHE_OK);
        llmcache_close(c);
    }
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(rep.records, 19);
    /* a torn tail of garbage: damage for verify, cut by repair */
    {
        unsigned char junk[37];
        uint64_t size = rep.file_bytes;
        for (i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(0x80 | i);
        CHECK(poke(path, size, junk, sizeof junk));
        CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_ECORRUPT);
        CHECK_EQ(rep.damaged_bytes, sizeof junk);
        CHECK_EQ(llmcache_repair(path, &rep), LLMCACHE_OK);
        CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
        CHECK_EQ(rep.file_bytes, size);
        CHECK_EQ(rep.records, 19);
    }
    rm_log(path);
}

/* ---- main ----------------------------------------------------------------------------------------- */

static int newer_than(const char *bin, const char *src) {
    struct stat a, b;
    if (stat(bin, &a) != 0) return 0;
    if (stat(src, &b) != 0) return 1;
    return a.st_mtime >= b.st_mtime;
}

/* Builds bin with cmd when it is missing or older than its sources. */
static int ensure_helper(const char *bin, const char *cmd, const char *src1, const char *src2, char *abs) {
    if (!newer_than(bin, src1) || !newer_than(bin, src2) || !newer_than(bin, "tests/log_common.h")) {
        char tmp[300], line[1200];
        snprintf(tmp, sizeof tmp, "%s.tmp%ld", bin, (long)getpid());
        snprintf(line, sizeof line, cmd, tmp);
        fprintf(stderr, "building %s: %s\n", bin, line);
        if (system("mkdir -p build/tests") != 0 || system(line) != 0 || rename(tmp, bin) != 0) {
            unlink(tmp);
            return 0;
        }
    }
    return realpath(bin, abs) != NULL;
}

/* Cold reads made by a get of k[n] (-1: the get failed). */
static long cold_after_get(llmcache *c, const llmcache_key *k, int n) {
    llmcache_stats st;
    llmcache_value v;
    uint64_t cold;
    int rc;
    llmcache_stats_get(c, &st);
    cold = st.cold_reads;
    rc = llmcache_get(c, &k[n], &v);
    if (rc != LLMCACHE_OK) return -1;
    llmcache_value_free(&v);
    llmcache_stats_get(c, &st);
    return (long)(st.cold_reads - cold);
}

/* The values held in memory beside a log form their own LRU (max_bytes): room for
 * exactly four here. A put writes to the file only; a get of a value on disk reads it
 * (a cold read) and holds it, dropping the least recently used value held; a hit
 * moves a value to the front. */
static void test_value_lru(void) {
    char path[300];
    llmcache *c;
    llmcache_key k[6];
    char val[100];
    int i;
    size_t one = llmcache__blob_cost(LLMCACHE__BLOB_HDR + sizeof val + 1);
    pathf(path, sizeof path, "value_lru.log");
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, 0, 4 * one, NULL);
    if (!c) return;
    memset(k, 0, sizeof k);
    for (i = 0; i < 6; i++) {
        k[i].bytes[0] = (unsigned char)(0xa0 + i);
        memset(val, 'a' + i, sizeof val);
        if (i < 5) CHECK_EQ(llmcache_put(c, &k[i], val, sizeof val, 0), LLMCACHE_OK);   /* A..E */
    }
    /* values enter memory when read: none is held yet */
    CHECK_EQ(cold_after_get(c, k, 0), 1);   /* held: A */
    CHECK_EQ(cold_after_get(c, k, 2), 1);   /* C A */
    CHECK_EQ(cold_after_get(c, k, 4), 1);   /* E C A */
    CHECK_EQ(cold_after_get(c, k, 1), 1);   /* B E C A */
    CHECK_EQ(cold_after_get(c, k, 0), 0);   /* A B E C */
    CHECK_EQ(cold_after_get(c, k, 3), 1);   /* D A B E, C dropped */
    CHECK_EQ(cold_after_get(c, k, 2), 1);   /* C D A B, E dropped */
    CHECK_EQ(cold_after_get(c, k, 1), 0);   /* B C D A */
    memset(val, 'a', sizeof val);
    CHECK_EQ(llmcache_put(c, &k[0], val, sizeof val, 0), LLMCACHE_OK);   /* A rewritten: not held; B C D */
    CHECK_EQ(cold_after_get(c, k, 4), 1);   /* E B C D */
    CHECK_EQ(cold_after_get(c, k, 0), 1);   /* A E B C, D dropped */
    CHECK_EQ(cold_after_get(c, k, 3), 1);   /* D A E B, C dropped */
    CHECK_EQ(cold_after_get(c, k, 1), 0);   /* B D A E */
    CHECK_EQ(cold_after_get(c, k, 2), 1);   /* C B D A, E dropped */
    CHECK_EQ(cold_after_get(c, k, 4), 1);   /* E C B D, A dropped */
    CHECK_EQ(cold_after_get(c, k, 3), 0);   /* D E C B */
    CHECK_EQ(cold_after_get(c, k, 5), -1);   /* never written */
    llmcache_close(c);
    rm_log(path);
}

/* A writer drops an expired entry without a delete record (it is dead for everyone):
 * a follower that still holds it and then takes the writer's put must not hold more
 * than max_entries (fuzz_ops found two in a cache of one). */
static void test_follower_bound_expired(void) {
    char path[512];
    fclock clk;
    llmcache *a, *b;
    llmcache_stats st;
    llmcache_key k6 = lc_key(6), k0 = lc_key(0);
    unsigned char buf[LC_VALUE_MAX];
    size_t len = lc_value(6, buf);
    clk.now = 1700000000000;
    pathf(path, sizeof path, "follower-bound.log");
    rm_log(path);
    a = open_log(path, LLMCACHE_FSYNC_NEVER, 1, 0, &clk);
    b = open_log(path, LLMCACHE_FSYNC_NEVER, 1, 0, &clk);
    CHECK_EQ(llmcache_put(b, &k6, buf, len, 50), LLMCACHE_OK);   /* expires in 50 ms */
    clk.now += 100;
    len = lc_value(0, buf);
    CHECK_EQ(llmcache_put(a, &k0, buf, len, -1), LLMCACHE_OK);   /* k6 goes, no record */
    llmcache_stats_get(b, &st);                                   /* b takes a's put */
    CHECK_MSG(st.entries <= 1, "the follower holds %llu entries, max_entries 1", (unsigned long long)st.entries);
    CHECK(lc_is(b, 0));
    CHECK(lc_absent(b, 6));
    llmcache_close(a);
    llmcache_close(b);
    rm_log(path);
}

int main(void) {
    const char *seed = getenv("LLMCACHE_TEST_SEED");
    char cmd[400];
    int64_t t0 = mono_ms(), t;
    int robust = dead_owner_detected();
    g_rng = seed ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    if (!g_rng) g_rng = 1;
    printf("test_log: seed %llu (LLMCACHE_TEST_SEED replays it)\n", (unsigned long long)g_rng);
    snprintf(g_dir, sizeof g_dir, "/tmp/llmcache-test-log-XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    g_have_writer = ensure_helper(WRITER_BIN, WRITER_CMD, "tests/log_writer.c", "llmcache.h", g_writer);
    g_have_shim = ensure_helper(SHIM_SO, SHIM_CMD, "tests/powerloss_shim.c", "tests/powerloss_shim.c", g_shim);
    CHECK_MSG(g_have_writer, "cannot build %s", WRITER_BIN);
    CHECK_MSG(g_have_shim, "cannot build %s", SHIM_SO);

#define RUN(f) do { t = mono_ms(); f(); printf("  %-24s %6lld ms  (%d passed, %d failed so far)\n", #f, \
                                               (long long)(mono_ms() - t), test_passed_, test_failed_); fflush(stdout); } while (0)
    RUN(test_persistence);
    RUN(test_not_a_log);
    RUN(test_torn_tail);
    RUN(test_byte_flips);
    RUN(test_zeroed_tail);
    RUN(test_full_disk);
    if (!robust)
        printf("  skipped test_kill9, test_power_loss, test_heal_then_power_loss, test_compaction_crash: a robust mutex whose owner "
               "died does not report it here (qemu-user does not emulate set_robust_list)\n");
    if (robust) RUN(test_kill9);
    if (robust) RUN(test_power_loss);
    if (robust) RUN(test_heal_then_power_loss);
    RUN(test_four_writers);
    RUN(test_visibility);
    if (robust) RUN(test_compaction_crash);
    RUN(test_max_entries);
    RUN(test_value_lru);
    RUN(test_ttl_evictions_agree);
    RUN(test_follower_bound_expired);
    RUN(test_model);
    RUN(test_verify_repair);
    printf("  total %lld ms\n", (long long)(mono_ms() - t0));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return TEST_REPORT();
}
