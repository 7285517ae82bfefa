/* tests/test_files.c: the log-file backend through nothing but the library's own
 * platform layer and standard C (no fork, no POSIX calls), so that the same test
 * runs natively, under qemu-user and on Windows (mingw-w64, wine): persistence,
 * the byte order of the file format, two handles on one file, another process's
 * writes, compaction beside another handle, a writer that dies holding the writer
 * lock (a child process that exits mid-compaction), files that are not logs,
 * verify and repair, and a UTF-8 file name.
 *
 *     test_files              the whole test, files under $TMPDIR, $TEMP or /tmp
 *     test_files write PATH   writes the reference log at PATH
 *     test_files read PATH    checks that PATH holds the reference log's entries and
 *                             that this machine writes the same bytes (PATH.local)
 * make portability writes the reference log on one machine and reads it on another.
 * Child processes run through system(); LLMCACHE_TEST_RUNNER in the environment
 * goes in front of their command (an emulator, e.g. qemu-mips-static). */
#define LLMCACHE_TEST_HOOKS
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include "log_common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if !defined(_WIN32) && !defined(LLMCACHE_NO_THREADS)
#  include <errno.h>
#  include <pthread.h>
#endif
#ifdef _WIN32
#  include <process.h>
#endif

static char g_self[1024];     /* this program, as a command */
static char g_base[512];      /* prefix of every file this run makes */

static void pathf(char *out, size_t n, const char *name) { snprintf(out, n, "%s%s", g_base, name); }

static void rm_log(const char *path) {
    static const char *const sfx[] = {"", "-shm", ".compact", ".repair", ".local"};
    char p[600];
    size_t i;
    for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        llmcache__f_unlink(p);
    }
}

/* The whole file through the library's file layer (UTF-8 names on Win32 too). */
static unsigned char *slurp(const char *path, size_t *len) {
    llmcache__fd fd;
    uint64_t size;
    unsigned char *p = NULL;
    *len = 0;
    if (llmcache__f_open(path, LLMCACHE__F_RDONLY, 0, &fd) != LLMCACHE_OK) return NULL;
    if (llmcache__f_size(fd, &size) == LLMCACHE_OK && (p = (unsigned char *)malloc((size_t)size + 1)) != NULL) {
        if (size && llmcache__f_pread(fd, p, (size_t)size, 0) != LLMCACHE_OK) { free(p); p = NULL; }
        else *len = (size_t)size;
    }
    llmcache__f_close(fd);
    return p;
}

static int spit(const char *path, const void *p, size_t n) {
    llmcache__fd fd;
    int rc = llmcache__f_open(path, LLMCACHE__F_CREATE, 0600, &fd);
    if (rc != LLMCACHE_OK) return rc;
    rc = llmcache__f_truncate(fd, 0);
    if (rc == LLMCACHE_OK && n) rc = llmcache__f_pwrite(fd, p, n, 0);
    llmcache__f_close(fd);
    return rc;
}

static int exists(const char *path) {
    llmcache__fd fd;
    if (llmcache__f_open(path, LLMCACHE__F_RDONLY, 0, &fd) != LLMCACHE_OK) return 0;
    llmcache__f_close(fd);
    return 1;
}

/* Runs this program with the arguments argv[0..] (NULL-terminated); its exit
 * status, or -1 when it could not be started. On Win32 the child is spawned
 * directly (no cmd.exe, which under a busy wine sometimes fails to start), and a
 * spawn that fails is tried again: the test checks the child, not the spawner. */
static int run_child(const char *const *argv) {
    const char *runner = getenv("LLMCACHE_TEST_RUNNER");
    char cmd[2048];
    size_t n = 0;
    int st = -1, i, attempt;
    fflush(stdout);
    fflush(stderr);
#ifdef _WIN32
    {
        char quoted[8][600];
        const char *av[10];
        (void)runner; (void)cmd; (void)n;
        snprintf(quoted[0], sizeof quoted[0], "\"%s\"", g_self);
        av[0] = quoted[0];
        for (i = 0; argv[i] && i < 7; i++) {
            snprintf(quoted[i + 1], sizeof quoted[i + 1], "\"%s\"", argv[i]);
            av[i + 1] = quoted[i + 1];
        }
        av[i + 1] = NULL;
        for (attempt = 0; attempt < 5 && st == -1; attempt++) {
            if (attempt) Sleep(200);
            st = (int)_spawnv(_P_WAIT, g_self, av);
        }
    }
#else
    n += (size_t)snprintf(cmd + n, sizeof cmd - n, "%s%s'%s'", runner ? runner : "", runner ? " " : "", g_self);
    for (i = 0; argv[i] && n < sizeof cmd; i++) n += (size_t)snprintf(cmd + n, sizeof cmd - n, " '%s'", argv[i]);
    for (attempt = 0; attempt < 5 && st == -1; attempt++) st = system(cmd);
    if (st != -1) st = (st >> 8) & 0xff;   /* WEXITSTATUS, without <sys/wait.h> */
#endif
    return st;
}

static llmcache *open_log(const char *path, int fsync_mode, int64_t (*clk)(void *), int *rc_out) {
    llmcache_config cfg;
    llmcache *c = NULL;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = fsync_mode;
    cfg.clock = clk;
    rc = llmcache_open(&c, &cfg);
    if (rc_out) *rc_out = rc;
    else CHECK_MSG(rc == LLMCACHE_OK, "open %s: %s", path, llmcache_result_string(rc));
    return rc == LLMCACHE_OK ? c : NULL;
}

static int lc_put(llmcache *c, uint32_t n) {
    unsigned char buf[LC_VALUE_MAX];
    llmcache_key k = lc_key(n);
    size_t len = lc_value(n, buf);
    return llmcache_put(c, &k, buf, len, 0);
}

/* 1 when key n holds lc_value(n). */
static int lc_is(llmcache *c, uint32_t n) {
    unsigned char buf[LC_VALUE_MAX];
    llmcache_key k = lc_key(n);
    size_t len = lc_value(n, buf);
    llmcache_value v;
    int ok = llmcache_get(c, &k, &v) == LLMCACHE_OK && v.len == len && memcmp(v.data, buf, len) == 0;
    llmcache_value_free(&v);
    return ok;
}

static int lc_absent(llmcache *c, uint32_t n) {
    llmcache_key k = lc_key(n);
    llmcache_value v;
    int rc = llmcache_get(c, &k, &v);
    llmcache_value_free(&v);
    return rc == LLMCACHE_MISS;
}

/* ---- the reference log (the same bytes on every machine) ------------------------ */

#define REF_T0 1700000000000LL
#define REF_N  300u
#define REF_BASE 7000000u

static int64_t ref_clock(void *ctx) { (void)ctx; return REF_T0; }
static int ref_deleted(uint32_t i) { return i % 17 == 5; }
static int ref_overwritten(uint32_t i) { return i % 13 == 0; }
static int64_t ref_expires(uint32_t i) { return i % 7 == 0 ? REF_T0 + 86400000LL * (int64_t)(i + 1) : 0; }
static int ref_meta(uint32_t i, llmcache_meta *m) {
    int k;
    memset(m, 0, sizeof *m);
    if (i % 11) return 0;
    for (k = 0; k < 32; k++) m->schema_hash[k] = (unsigned char)(i * 7 + (uint32_t)k);
    m->status = (int32_t)(200 + i);
    m->flags = i;
    m->latency_ms = (int64_t)i * 3 - 1000;
    m->prompt_tokens = (int64_t)i * 100000007;
    m->completion_tokens = -1;
    return 1;
}
static size_t ref_value(uint32_t i, int second, unsigned char *buf) {
    return lc_value(REF_BASE + i + (second ? 100000u : 0u), buf);
}

static int ref_write(const char *path) {
    llmcache *c;
    uint32_t i;
    int rc = LLMCACHE_OK;
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, ref_clock, NULL);
    if (!c) return LLMCACHE_EIO;
    for (i = 0; i < REF_N && rc == LLMCACHE_OK; i++) {
        unsigned char buf[LC_VALUE_MAX];
        llmcache_meta m;
        llmcache_key k = lc_key(REF_BASE + i);
        size_t len = ref_value(i, 0, buf);
        int has = ref_meta(i, &m);
        rc = llmcache_put_at(c, &k, buf, len, REF_T0 - (int64_t)i, ref_expires(i), has ? &m : NULL);
    }
    for (i = 0; i < REF_N && rc == LLMCACHE_OK; i++) {
        unsigned char buf[LC_VALUE_MAX];
        llmcache_meta m;
        llmcache_key k = lc_key(REF_BASE + i);
        size_t len;
        int has;
        if (!ref_overwritten(i)) continue;
        len = ref_value(i, 1, buf);
        has = ref_meta(i, &m);
        rc = llmcache_put_at(c, &k, buf, len, REF_T0 + (int64_t)i, ref_expires(i), has ? &m : NULL);
    }
    for (i = 0; i < REF_N && rc == LLMCACHE_OK; i++) {
        llmcache_key k = lc_key(REF_BASE + i);
        if (ref_deleted(i)) rc = llmcache_del(c, &k);
    }
    llmcache_close(c);
    return rc;
}

/* Every reference entry as written; returns the number of mismatches. */
static int ref_check(const char *path) {
    llmcache *c = open_log(path, LLMCACHE_FSYNC_NEVER, ref_clock, NULL);
    llmcache_stats st;
    uint32_t i, live = 0;
    int bad = 0;
    if (!c) return 1;
    for (i = 0; i < REF_N; i++) {
        unsigned char buf[LC_VALUE_MAX];
        llmcache_meta m;
        llmcache_value v;
        llmcache_key k = lc_key(REF_BASE + i);
        int rc = llmcache_get(c, &k, &v), has = ref_meta(i, &m);
        size_t len = ref_value(i, ref_overwritten(i), buf);
        if (ref_deleted(i)) {
            if (rc != LLMCACHE_MISS && bad++ < 5) fprintf(stderr, "  ref %u: deleted, get gave %d\n", (unsigned)i, rc);
        } else if (rc != LLMCACHE_OK || v.len != len || memcmp(v.data, buf, len) != 0 ||
                   v.expires_ms != ref_expires(i) ||
                   v.created_ms != REF_T0 + (ref_overwritten(i) ? (int64_t)i : -(int64_t)i) ||
                   (has && memcmp(&v.meta, &m, sizeof m) != 0)) {
            if (bad++ < 5)
                fprintf(stderr, "  ref %u: get %s, %u bytes (want %u)\n", (unsigned)i, llmcache_result_string(rc),
                        (unsigned)v.len, (unsigned)len);
        } else {
            live++;
        }
        llmcache_value_free(&v);
    }
    llmcache_stats_get(c, &st);
    if (st.entries != live) { bad++; fprintf(stderr, "  ref: %u entries, want %u\n", (unsigned)st.entries, (unsigned)live); }
    llmcache_close(c);
    return bad;
}

static uint32_t ld32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The bytes of a reference log that every machine must write the same way: all
 * but the header's file id and creation time (16..31) and its checksum (60..63). */
static int same_bytes(const unsigned char *a, size_t na, const unsigned char *b, size_t nb) {
    size_t i;
    if (na != nb || na < 64) return 0;
    for (i = 0; i < na; i++)
        if (a[i] != b[i] && !(i >= 16 && i < 32) && !(i >= 60 && i < 64)) return 0;
    return 1;
}

/* The format is little-endian whatever the machine: known bytes of the first record. */
static void check_known_bytes(const unsigned char *f, size_t n) {
    static const unsigned char magic[4] = {0xD7, 0x1E, 0xC4, 0xAB};                 /* 0xABC41ED7 */
    static const unsigned char seq1[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char t0[8] = {0x00, 0x68, 0xE5, 0xCF, 0x8B, 0x01, 0, 0};  /* 1700000000000 */
    unsigned char buf[LC_VALUE_MAX];
    size_t len = ref_value(0, 0, buf);
    CHECK(n >= 64 + 80 + 64);
    if (n < 64 + 80 + 64) return;
    CHECK_MEM(f, 8, "LLMCACHE", 8);
    CHECK_MEM(f + 8, 4, "\1\0\0\0", 4);      /* version 1 */
    CHECK_MEM(f + 12, 4, "\100\0\0\0", 4);   /* header size 64 */
    CHECK_MEM(f + 64, 4, magic, 4);
    CHECK_EQ(ld32(f + 64 + 8), 80 + 64 + len);   /* key 0 has metadata */
    CHECK_EQ(f[64 + 12], 1);                     /* a put */
    CHECK_MEM(f + 64 + 16, 8, seq1, 8);
    CHECK_MEM(f + 64 + 56, 8, t0, 8);            /* created_ms */
    CHECK_EQ(ld32(f + 64 + 72), len);
    CHECK_EQ(ld32(f + 64 + 80 + 32), 200);       /* meta status */
    CHECK_EQ(ld32(f + 64 + 4), llmcache__crc32c(0, f + 64 + 8, 80 + 64 + len - 8));
}

/* read mode: PATH came from another machine. */
static void test_reference_from(const char *path) {
    char local[600];
    unsigned char *a, *b;
    size_t na, nb;
    snprintf(local, sizeof local, "%s.local", path);
    a = slurp(path, &na);
    CHECK_MSG(a != NULL, "cannot read %s", path);
    if (a) check_known_bytes(a, na);
    CHECK_EQ(ref_check(path), 0);
    CHECK_EQ(ref_write(local), LLMCACHE_OK);
    b = slurp(local, &nb);
    CHECK_MSG(a && b && same_bytes(a, na, b, nb), "%s (%u bytes) and the log this machine writes (%u bytes) differ",
              path, (unsigned)na, (unsigned)nb);
    rm_log(local);
    free(a);
    free(b);
}

static void test_reference(void) {
    char path[600], again[600];
    unsigned char *a, *b;
    size_t na, nb;
    pathf(path, sizeof path, "ref.log");
    pathf(again, sizeof again, "ref2.log");
    CHECK_EQ(ref_write(path), LLMCACHE_OK);
    CHECK_EQ(ref_check(path), 0);
    a = slurp(path, &na);
    CHECK(a != NULL);
    if (a) check_known_bytes(a, na);
    CHECK_EQ(ref_write(again), LLMCACHE_OK);
    b = slurp(again, &nb);
    CHECK_MSG(a && b && same_bytes(a, na, b, nb), "two reference logs differ");
    CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
    free(a);
    free(b);
    rm_log(path);
    rm_log(again);
}

/* ---- two handles, other processes ------------------------------------------------- */

static void test_two_handles(void) {
    char path[600];
    llmcache *a, *b;
    uint32_t i;
    int bad = 0;
    pathf(path, sizeof path, "two.log");
    rm_log(path);
    a = open_log(path, LLMCACHE_FSYNC_INTERVAL, NULL, NULL);
    b = open_log(path, LLMCACHE_FSYNC_ALWAYS, NULL, NULL);
    if (!a || !b) { llmcache_close(a); llmcache_close(b); return; }
    for (i = 0; i < 200; i++) bad += lc_put(i % 2 ? a : b, i) != LLMCACHE_OK;
    CHECK_EQ(bad, 0);
    for (i = 0; i < 200; i++) bad += !lc_is(a, i) + !lc_is(b, i);
    CHECK_EQ(bad, 0);
    {
        llmcache_key k = lc_key(7);
        CHECK_EQ(llmcache_del(b, &k), LLMCACHE_OK);
        CHECK(lc_absent(a, 7));
        CHECK_EQ(llmcache_put(a, &k, "seven", 5, 0), LLMCACHE_OK);
        {
            llmcache_value v;
            CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_OK);
            CHECK_MEM(v.data, v.len, "seven", 5);
            llmcache_value_free(&v);
        }
    }
    llmcache_close(a);
    CHECK(lc_is(b, 100));
    CHECK_EQ(lc_put(b, 1000), LLMCACHE_OK);
    llmcache_close(b);
    a = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (a) {
        CHECK(lc_is(a, 0));
        CHECK(lc_is(a, 199));
        CHECK(lc_is(a, 1000));
        llmcache_close(a);
    }
    rm_log(path);
}

/* Child: puts keys FROM..FROM+N-1 and deletes key DEL on PATH, then closes. */
static int child_put(const char *path, uint32_t from, uint32_t n, uint32_t del) {
    llmcache *c = open_log(path, LLMCACHE_FSYNC_INTERVAL, NULL, NULL);
    llmcache_key k = lc_key(del);
    uint32_t i;
    if (!c) return 2;
    for (i = from; i < from + n; i++) if (lc_put(c, i) != LLMCACHE_OK) return 4;
    if (llmcache_del(c, &k) != LLMCACHE_OK) return 5;
    llmcache_close(c);
    return 0;
}

static void test_processes(void) {
    char path[600];
    llmcache *c;
    uint32_t i;
    int bad = 0;
    pathf(path, sizeof path, "proc.log");
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (!c) return;
    for (i = 0; i < 50; i++) bad += lc_put(c, i) != LLMCACHE_OK;
    CHECK(lc_is(c, 3));
    {
        const char *av[] = { "put", path, "500", "300", "3", NULL };
        CHECK_EQ(run_child(av), 0);
    }
    /* seen without reopening */
    for (i = 500; i < 800; i++) bad += !lc_is(c, i);
    CHECK_EQ(bad, 0);
    CHECK(lc_absent(c, 3));
    CHECK(lc_is(c, 4));
    CHECK_EQ(lc_put(c, 900), LLMCACHE_OK);
    llmcache_close(c);
    rm_log(path);
}

/* ---- compaction ------------------------------------------------------------------ */

static void test_compaction(void) {
    char path[600];
    llmcache *c, *o;
    llmcache_stats st;
    uint32_t i, round;
    int bad = 0, rc;
    size_t before, after;
    unsigned char *f;
    pathf(path, sizeof path, "compact.log");
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (!c) return;
    for (round = 0; round < 4; round++)
        for (i = 0; i < 300; i++) {
            unsigned char buf[200];
            llmcache_key k = lc_key(i);
            lc_fill(i * 10 + round, buf, sizeof buf);
            bad += llmcache_put(c, &k, buf, sizeof buf, 0) != LLMCACHE_OK;
        }
    for (i = 0; i < 300; i++) bad += lc_put(c, i) != LLMCACHE_OK;
    CHECK_EQ(bad, 0);
    llmcache_stats_get(c, &st);
    before = (size_t)st.file_bytes;
    CHECK(st.dead_bytes > 0);
    /* beside another handle: POSIX replaces the file under it; Win32 replaces no
       file that another handle maps, so the compaction fails and nothing changes */
    o = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    rc = llmcache_compact(c);
#ifdef _WIN32
    CHECK_MSG(rc == LLMCACHE_OK || rc == LLMCACHE_EIO, "compaction beside a handle: %s", llmcache_result_string(rc));
#else
    CHECK_MSG(rc == LLMCACHE_OK, "compaction beside a handle: %s", llmcache_result_string(rc));
#endif
    printf("  compaction beside another handle: %s\n", llmcache_result_string(rc));
    for (i = 0; i < 300; i++) bad += !lc_is(c, i) + (o ? !lc_is(o, i) : 0);
    CHECK_EQ(bad, 0);
    if (o) CHECK_EQ(lc_put(o, 5000), LLMCACHE_OK);
    CHECK(lc_is(c, 5000));
    llmcache_close(o);
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.dead_bytes, 0);
    for (i = 0; i < 300; i++) bad += !lc_is(c, i);
    CHECK_EQ(bad, 0);
    CHECK_EQ(lc_put(c, 5001), LLMCACHE_OK);
    llmcache_close(c);
    f = slurp(path, &after);
    free(f);
    CHECK_MSG(after < before, "compacted %u bytes to %u", (unsigned)before, (unsigned)after);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (c) {
        for (i = 0; i < 300; i++) bad += !lc_is(c, i);
        CHECK_EQ(bad, 0);
        CHECK(lc_is(c, 5000));
        CHECK(lc_is(c, 5001));
        llmcache_close(c);
    }
    CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
    rm_log(path);
}

/* ---- a writer that dies holding the writer lock ------------------------------------- */

/* Whether a holder that dies makes the writer lock say so. The robust mutex of
 * POSIX builds does not under qemu-user, which does not emulate set_robust_list:
 * there the next writer would wait for ever. */
#if !defined(_WIN32) && !defined(LLMCACHE_NO_THREADS)
static pthread_mutex_t g_probe;
static void *probe_hold(void *arg) { (void)arg; pthread_mutex_lock(&g_probe); return NULL; }
static int dead_owner_detected(void) {
    pthread_mutexattr_t a;
    pthread_t t;
    int r;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&g_probe, &a);
    pthread_mutexattr_destroy(&a);
    if (pthread_create(&t, NULL, probe_hold, NULL) != 0) return 0;
    pthread_join(t, NULL);
    r = pthread_mutex_trylock(&g_probe);
    if (r == EOWNERDEAD) { pthread_mutex_consistent(&g_probe); pthread_mutex_unlock(&g_probe); }
    return r == EOWNERDEAD;
}
#else
static int dead_owner_detected(void) { return 1; }
#endif

static void exit_at(void *ctx, int n) { if (n == *(int *)ctx) exit(3); }

/* Child: compacts PATH (points 1 to 4), or puts key 2000 (point 5), and exits at
 * test point N while holding the writer lock. */
static int child_crash(const char *path, int point) {
    static int p;
    llmcache *c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (!c) return 2;
    p = point;
    c->test_point = exit_at;
    c->test_ctx = &p;
    if (point == 5) return lc_put(c, 2000) == LLMCACHE_OK ? 0 : 1;
    return llmcache_compact(c) == LLMCACHE_OK ? 0 : 1;   /* the point was not reached */
}

/* A writer that dies after writing a record but before committing it, while this
 * process has the log open: the record never shows, and taking the lock heals
 * the file (POSIX cuts it at the committed end; Win32, which shrinks no mapped
 * file, voids the record instead). */
static void test_dead_appender(void) {
    char path[600];
    llmcache *p, *q, *c;
    llmcache__record r;
    unsigned char *f;
    uint64_t end;
    size_t n;
    uint32_t i;
    int bad = 0;
    if (!dead_owner_detected()) {
        printf("  skipped test_dead_appender: a robust mutex whose owner died does not report it here "
               "(qemu-user does not emulate set_robust_list)\n");
        return;
    }
    pathf(path, sizeof path, "append.log");
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (!c) return;
    for (i = 0; i < 50; i++) bad += lc_put(c, i) != LLMCACHE_OK;
    llmcache_close(c);
    p = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (!p) return;
    {
        const char *av[] = { "crash", path, "5", NULL };
        CHECK_EQ(run_child(av), 3);
    }
    CHECK(lc_absent(p, 2000));
    CHECK_EQ(llmcache_sync(p), LLMCACHE_OK);   /* takes the lock: heals */
    end = p->end;
    f = slurp(path, &n);
    CHECK_MSG(f && (n <= end || !llmcache__rec_check(f + end, n - end, &r)),
              "the uncommitted record is still intact at %u (file %u bytes)", (unsigned)end, (unsigned)n);
    free(f);
    q = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (q) {
        CHECK(lc_absent(q, 2000));
        for (i = 0; i < 50; i++) bad += !lc_is(q, i);
        CHECK_EQ(lc_put(q, 2001), LLMCACHE_OK);
        llmcache_close(q);
    }
    CHECK(lc_is(p, 2001));
    llmcache_close(p);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (c) {
        CHECK(lc_absent(c, 2000));
        CHECK(lc_is(c, 2001));
        for (i = 0; i < 50; i++) bad += !lc_is(c, i);
        llmcache_close(c);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
    rm_log(path);
}

static void count_temp(void *ctx, const char *file, const char *suffix) {
    (void)file;
    if (strncmp(suffix, LLMCACHE__TEMP_COMPACT, strlen(LLMCACHE__TEMP_COMPACT)) == 0) ++*(int *)ctx;
}

/* Compaction's temporary files beside path (what a dead compaction leaves). */
static int temps(const char *path) {
    int n = 0;
    llmcache__f_each_own(path, count_temp, &n);
    return n;
}

static void test_dead_writer(void) {
    char path[600], point_s[16];
    int point, hold;
    if (!dead_owner_detected()) {
        printf("  skipped test_dead_writer: a robust mutex whose owner died does not report it here "
               "(qemu-user does not emulate set_robust_list)\n");
        return;
    }
    pathf(path, sizeof path, "dead.log");
    for (hold = 0; hold < 2; hold++)
        for (point = 1; point <= 4; point++) {
            llmcache *p = NULL, *c;
            uint32_t i;
            int bad = 0, st;
            rm_log(path);
            c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
            if (!c) return;
            for (i = 0; i < 100; i++) bad += lc_put(c, i) != LLMCACHE_OK;
            for (i = 0; i < 50; i++) bad += lc_put(c, i) != LLMCACHE_OK;
            llmcache_close(c);
            /* with hold, this process keeps the log open while the child dies, and
               its next write must heal; without, the next open recovers alone */
            if (hold && !(p = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL))) return;
            snprintf(point_s, sizeof point_s, "%d", point);
            {
                const char *av[] = { "crash", path, point_s, NULL };
                st = run_child(av);
            }
            /* 3: died at the point; 1: the compaction failed before it (Win32 at 3 and 4
               with hold: this process maps the file, so the child cannot replace it) */
            CHECK_MSG(st == 3 || (st == 1 && hold), "crash child at point %d: status %d", point, st);
            if (st == 3 && point <= 2) CHECK_EQ(temps(path), 1);   /* died before the rename */
            printf("  writer killed at compaction point %d%s: %s\n", point, hold ? " (log held)" : "",
                   st == 3 ? "died holding the lock" : st == 1 ? "compaction failed before the point" : "?");
            if (p) {
                for (i = 0; i < 100; i++) bad += !lc_is(p, i);
                CHECK_EQ(lc_put(p, 1000), LLMCACHE_OK);   /* takes over the dead holder's lock */
                for (i = 0; i < 100; i++) bad += !lc_is(p, i);
                CHECK_MSG(bad == 0, "point %d: %d keys wrong", point, bad);
                CHECK(lc_is(p, 1000));
                CHECK_MSG(temps(path) == 0, "point %d: a temporary file left behind", point);
                llmcache_close(p);
            }
            c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
            if (!c) continue;
            for (i = 0; i < 100; i++) bad += !lc_is(c, i);
            CHECK_MSG(bad == 0, "point %d reopened: %d keys wrong", point, bad);
            if (hold) CHECK(lc_is(c, 1000));
            CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
            CHECK_MSG(temps(path) == 0, "point %d: a temporary file left behind", point);
            CHECK_EQ(lc_put(c, 1001), LLMCACHE_OK);
            llmcache_close(c);
            CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
        }
    rm_log(path);
}

/* ---- files that are not logs, damage, repair, names ---------------------------------- */

static void test_not_a_log(void) {
    static const char text[] = "just some text, not a log\n";
    char path[600];
    unsigned char *back;
    size_t n;
    int rc;
    pathf(path, sizeof path, "text.txt");
    rm_log(path);
    CHECK_EQ(spit(path, text, sizeof text - 1), LLMCACHE_OK);
    CHECK(open_log(path, LLMCACHE_FSYNC_NEVER, NULL, &rc) == NULL);
    CHECK_EQ(rc, LLMCACHE_ENOTCACHE);
    back = slurp(path, &n);
    CHECK_MSG(back && n == sizeof text - 1 && memcmp(back, text, n) == 0, "the text file was modified");
    free(back);
    rm_log(path);
}

static void test_damage_repair(void) {
    char path[600];
    unsigned char *f;
    size_t n;
    llmcache_verify_report rep;
    llmcache *c;
    uint32_t i;
    int bad = 0;
    pathf(path, sizeof path, "damage.log");
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_ALWAYS, NULL, NULL);
    if (!c) return;
    for (i = 0; i < 20; i++) bad += lc_put(c, i) != LLMCACHE_OK;
    llmcache_close(c);
    CHECK_EQ(bad, 0);
    f = slurp(path, &n);
    if (!f) { CHECK(0); return; }
    f[n / 2] ^= 0x40;   /* somewhere inside a record */
    CHECK_EQ(spit(path, f, n), LLMCACHE_OK);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_ECORRUPT);
    CHECK_EQ(rep.damaged_regions, 1);
    CHECK_EQ(llmcache_repair(path, &rep), LLMCACHE_OK);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(rep.records, 19);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (c) {
        uint32_t ok = 0;
        for (i = 0; i < 20; i++) ok += (uint32_t)lc_is(c, i);
        CHECK_EQ(ok, 19);
        CHECK_EQ(lc_put(c, 99), LLMCACHE_OK);
        llmcache_close(c);
    }
    free(f);
    rm_log(path);
}

static void test_utf8_name(void) {
    char path[600];
    llmcache *c;
    pathf(path, sizeof path, "caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac.log");   /* café-日本.log */
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (!c) return;
    CHECK_EQ(lc_put(c, 42), LLMCACHE_OK);
    llmcache_close(c);
    CHECK(exists(path));
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL, NULL);
    if (c) { CHECK(lc_is(c, 42)); llmcache_close(c); }
    rm_log(path);
    CHECK(!exists(path));
    {   /* not UTF-8: refused, not mangled */
        llmcache_config cfg;
        llmcache *bad = NULL;
        int rc;
        pathf(path, sizeof path, "bad\xff.log");
        memset(&cfg, 0, sizeof cfg);
        cfg.path = path;
        rc = llmcache_open(&bad, &cfg);
#ifdef _WIN32
        CHECK_EQ(rc, LLMCACHE_EINVAL);
#endif
        llmcache_close(bad);
        if (rc == LLMCACHE_OK) rm_log(path);
    }
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
    const char *tmp = getenv("TMPDIR");
    unsigned long run = (unsigned long)time(NULL) ^ ((unsigned long)clock() << 16);
    if (!tmp || !*tmp) tmp = getenv("TEMP");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(g_self, sizeof g_self, "%s", argv[0]);
#ifdef _WIN32
    {
        char *s;
        for (s = g_self; *s; s++) if (*s == '/') *s = '\\';
    }
#endif
    if (argc == 3 && strcmp(argv[1], "write") == 0) {
        int rc = ref_write(argv[2]);
        CHECK_MSG(rc == LLMCACHE_OK, "writing %s: %s", argv[2], llmcache_result_string(rc));
        return TEST_REPORT();
    }
    if (argc == 3 && strcmp(argv[1], "read") == 0) {
        test_reference_from(argv[2]);
        return TEST_REPORT();
    }
    if (argc == 6 && strcmp(argv[1], "put") == 0)
        return child_put(argv[2], (uint32_t)atol(argv[3]), (uint32_t)atol(argv[4]), (uint32_t)atol(argv[5]));
    if (argc == 4 && strcmp(argv[1], "crash") == 0) return child_crash(argv[2], atoi(argv[3]));
    if (argc != 1) {
        fprintf(stderr, "usage: test_files [write PATH | read PATH]\n");
        return 2;
    }
    snprintf(g_base, sizeof g_base, "%s/llmcache-files-%lx-", tmp, run & 0xffffffffUL);
    printf("test_files: files %s*\n", g_base);
#define RUN(f) do { f(); printf("  %-20s (%d passed, %d failed so far)\n", #f, test_passed_, test_failed_); \
                    fflush(stdout); } while (0)
    RUN(test_reference);
    RUN(test_two_handles);
    RUN(test_processes);
    RUN(test_compaction);
    RUN(test_dead_writer);
    RUN(test_dead_appender);
    RUN(test_not_a_log);
    RUN(test_damage_repair);
    RUN(test_utf8_name);
    return TEST_REPORT();
}
