/* bench/bench_scale.c - a million answers on one machine (issue 15), in one run:
 *   reopen   a log of N entries (1 KiB values) opened with its index snapshot
 *            (PATH-index), without it (the whole log read and checked), and read()
 *            of the same file into a buffer (page cache warm): best of 3 each
 *   memory   anonymous RSS added by an open (the index; values stay on disk), per entry
 *   hits     llmcache_get_with (zero-copy) and llmcache_get (a copy) on a memory cache
 *            of N entries (1 KiB values) beside LMDB's mdb_get with a copy of the
 *            value (read transaction reset/renewed), random keys, best of 3
 *   puts     the log's N puts (FSYNC_NEVER) beside LMDB's (MDB_NOSYNC, one write
 *            transaction per put) into empty stores; SQLite as diskcache configures
 *            it is in bench_disk (10^5 puts: 10^6 would take minutes)
 * Page faults (getrusage, minor + major) are printed beside each time.
 *   10^7     the index of a log of LLMCACHE_BENCH_SCALE_BIG entries (10,000,000; 0
 *            skips it) of 16-byte values: bytes per entry after an open with the
 *            snapshot and after a full read, and the open beside read() of the log
 *            (about 1 GB of disk, 1.5 GB of memory, 40 s)
 * N = 1,000,000, or LLMCACHE_BENCH_SCALE_N from the environment (10000000 needs
 * about 12 GB of disk and 25 GB of memory). Files in a mkdtemp directory under
 * /tmp, removed at the end. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include "bench/bench.h"

#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define VLEN   1024
#define ROUNDS 3

static size_t g_n;
static unsigned char *g_keys;       /* g_n keys of 32 bytes */
static unsigned char g_val[VLEN + 8];
static uint32_t *g_order;
static char g_buf[VLEN];
static volatile unsigned g_sink;

static const unsigned char *key_of(size_t i) { return g_keys + i * 32; }

static void make_data(void) {
    uint64_t s = 7;
    size_t i;
    g_keys = (unsigned char *)malloc(g_n * 32);
    g_order = (uint32_t *)malloc(g_n * sizeof *g_order);
    if (!g_keys || !g_order) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (i = 0; i < g_n * 4; i++) {
        uint64_t x = bench_splitmix64(&s);
        memcpy(g_keys + i * 8, &x, 8);
    }
    for (i = 0; i < sizeof g_val; i++) g_val[i] = (unsigned char)bench_splitmix64(&s);
    for (i = 0; i < g_n; i++) g_order[i] = (uint32_t)i;
    for (i = g_n; i > 1; i--) {
        size_t j = (size_t)(bench_splitmix64(&s) % i);
        uint32_t t = g_order[i - 1]; g_order[i - 1] = g_order[j]; g_order[j] = t;
    }
}

/* A timed step: CPU seconds of this process (user + system: a busy machine disturbs
 * them less than the wall clock) and page faults. */
typedef struct span { double t0; long f0; double s; long faults; } span;
static void span_start(span *sp) { sp->f0 = bench_faults(); sp->t0 = bench_cpu_s(); }
static void span_stop(span *sp) { sp->s = bench_cpu_s() - sp->t0; sp->faults = bench_faults() - sp->f0; }
static void span_best(span *best, const span *sp) { if (best->s <= 0 || sp->s < best->s) *best = *sp; }

/* read() of the whole file at path into a 1 MiB buffer, timed into *sp; 0 on success. */
static int read_file(const char *path, span *sp) {
    static char buf[(size_t)1 << 20];
    ssize_t got;
    int fd = open(path, O_RDONLY);
    if (fd < 0) { perror(path); return -1; }
    span_start(sp);
    while ((got = read(fd, buf, sizeof buf)) > 0) g_sink += (unsigned char)buf[got - 1];
    span_stop(sp);
    close(fd);
    return 0;
}

static int lc_open_log_n(llmcache **c, const char *path, size_t n) {
    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    cfg.max_entries = 2 * n;
    return llmcache_open(c, &cfg);
}
static int lc_open_log(llmcache **c, const char *path) { return lc_open_log_n(c, path, g_n); }

/* Anonymous memory (KiB) an open of the log adds, measured in a new process (this
 * program run again with --open-anon: a forked child would reuse the heap that
 * earlier handles freed, and count nothing for it); -1 on failure. */
static long open_anon_kib_n(const char *path, size_t n) {
    char num[32], line[64];
    int fds[2];
    long kib = -1;
    ssize_t got;
    pid_t pid;
    snprintf(num, sizeof num, "%zu", n);
    if (pipe(fds) != 0) return -1;
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/proc/self/exe", "bench_scale", "--open-anon", path, num, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    if (pid > 0 && (got = read(fds[0], line, sizeof line - 1)) > 0) {
        line[got] = '\0';
        kib = atol(line);
    }
    close(fds[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    return kib;
}

/* --open-anon PATH N: prints the KiB of anonymous memory an open of PATH adds. */
static int open_anon_main(const char *path, const char *num) {
    llmcache *c = NULL;
    long a0 = bench_rss_anon_kib(), d = -1;
    if (lc_open_log_n(&c, path, (size_t)atol(num)) == LLMCACHE_OK) d = bench_rss_anon_kib() - a0;
    printf("%ld\n", d);
    fflush(stdout);
    _exit(0);   /* no close: the snapshot on disk stays as it is */
}
static long open_anon_kib(const char *path) { return open_anon_kib_n(path, g_n); }

/* ---- the index at 10^7 (LLMCACHE_BENCH_SCALE_BIG entries; 0 skips it): values of 16
 * bytes, since what the index costs does not depend on them; the keys made on the fly.
 * Fills *snap_b / *full_b with the bytes per entry after an open with the snapshot and
 * after a full read, *open with the CPU seconds and page faults of the open with the
 * snapshot and *read_s with read() of the log; 0 on success. */
static int big_index(const char *root, size_t n, double *snap_b, double *full_b, span *open, double *read_s) {
    char log[4200], idx[4300], shm[4300];
    llmcache *c = NULL;
    uint64_t s = 11, k[4];
    size_t i;
    span sp;
    int j;
    snprintf(log, sizeof log, "%s/big.llc", root);
    snprintf(idx, sizeof idx, "%s-index", log);
    snprintf(shm, sizeof shm, "%s-shm", log);
    if (lc_open_log_n(&c, log, n) != LLMCACHE_OK) return -1;
    for (i = 0; i < n; i++) {
        for (j = 0; j < 4; j++) k[j] = bench_splitmix64(&s);
        if (llmcache_put(c, (const llmcache_key *)(const void *)k, g_val, 16, 0) != LLMCACHE_OK) return -1;
    }
    llmcache_close(c);   /* writes the snapshot */
    for (j = 0; j < 2; j++)   /* the first round warms the page cache */
        if (read_file(log, &sp) != 0) return -1;
    *read_s = sp.s;
    span_start(&sp);
    if (lc_open_log_n(&c, log, n) != LLMCACHE_OK) return -1;
    span_stop(&sp);
    *open = sp;
    llmcache_close(c);
    *snap_b = open_anon_kib_n(log, n) * 1024.0 / (double)n;
    unlink(idx);
    *full_b = open_anon_kib_n(log, n) * 1024.0 / (double)n;
    unlink(log);
    unlink(idx);
    unlink(shm);
    return 0;
}

/* ---- LMDB ---- */
typedef struct lm { MDB_env *env; MDB_dbi dbi; MDB_txn *rtxn; } lm;

static int lm_open(lm *m, const char *path) {
    MDB_txn *txn;
    int rc;
    memset(m, 0, sizeof *m);
    if ((rc = mdb_env_create(&m->env)) != 0 ||
        (rc = mdb_env_set_mapsize(m->env, (size_t)(g_n * (VLEN + 200)) * 2 + ((size_t)64 << 20))) != 0 ||
        (rc = mdb_env_open(m->env, path, MDB_NOSUBDIR | MDB_NOSYNC, 0644)) != 0 ||
        (rc = mdb_txn_begin(m->env, NULL, 0, &txn)) != 0 || (rc = mdb_dbi_open(txn, NULL, 0, &m->dbi)) != 0 ||
        (rc = mdb_txn_commit(txn)) != 0 || (rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &m->rtxn)) != 0) {
        fprintf(stderr, "lmdb: %s\n", mdb_strerror(rc));
        return -1;
    }
    mdb_txn_reset(m->rtxn);
    return 0;
}

static int lm_put(lm *m, const unsigned char *key) {
    MDB_txn *txn;
    MDB_val k, d;
    k.mv_size = 32; k.mv_data = (void *)key;
    d.mv_size = VLEN; d.mv_data = g_val;
    if (mdb_txn_begin(m->env, NULL, 0, &txn) != 0) return -1;
    if (mdb_put(txn, m->dbi, &k, &d, 0) != 0) { mdb_txn_abort(txn); return -1; }
    return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

static int lm_get_copy(lm *m, const unsigned char *key) {
    MDB_val k, d;
    int rc;
    k.mv_size = 32; k.mv_data = (void *)key;
    if (mdb_txn_renew(m->rtxn) != 0) return -1;
    rc = mdb_get(m->rtxn, m->dbi, &k, &d);
    if (rc == 0) memcpy(g_buf, d.mv_data, d.mv_size < VLEN ? d.mv_size : VLEN);
    mdb_txn_reset(m->rtxn);
    return rc == 0 ? 0 : -1;
}

static void lm_close(lm *m) {
    mdb_txn_abort(m->rtxn);
    mdb_env_close(m->env);
}

/* ---- llmcache_get_with's callback: looks at the value, copies nothing */
static int look(void *ctx, const llmcache_entry_info *info) {
    (void)ctx;
    g_sink += (unsigned)info->len + (unsigned char)info->data[info->len - 1];
    return 0;
}

static void result(const char *what, const span *ours, const char *peer_name, const span *peer, double per) {
    printf("RESULT  %-40s %10.3f %s (%ld faults)   %s %10.3f (%ld faults)   ratio %.2fx\n", what, ours->s * per,
           per == 1e3 ? "ms" : "us/op", ours->faults, peer_name, peer->s * per, peer->faults,
           ours->s > 0 ? peer->s / ours->s : 0.0);
}

int main(int argc, char **argv) {
    char tmpl[] = "/tmp/llmcache-bench-scale-XXXXXX", log[4200], idx[4300], mdb[4200];
    const char *env = getenv("LLMCACHE_BENCH_SCALE_N"), *big_env = getenv("LLMCACHE_BENCH_SCALE_BIG");
    size_t big_n = big_env ? (size_t)atol(big_env) : 10000000;
    double big_snap = 0, big_full = 0, big_read = 0;
    span big_open = {0, 0, 0, 0}, put_lc = {0, 0, 0, 0}, put_lm = {0, 0, 0, 0}, rd = {0, 0, 0, 0}, snap = {0, 0, 0, 0},
         full = {0, 0, 0, 0}, hw = {0, 0, 0, 0}, hg = {0, 0, 0, 0}, hl = {0, 0, 0, 0}, sp;
    long long log_bytes;
    long anon_snap = -1, anon_full = -1;
    char *root;
    llmcache *c = NULL;
    llmcache_stats st;
    lm m;
    size_t i;
    int r;

    if (argc == 4 && strcmp(argv[1], "--open-anon") == 0) return open_anon_main(argv[2], argv[3]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_n = env && atol(env) > 0 ? (size_t)atol(env) : 1000000;
    make_data();
    root = mkdtemp(tmpl);
    if (!root) { perror("mkdtemp"); return 1; }
    snprintf(log, sizeof log, "%s/scale.llc", root);
    snprintf(idx, sizeof idx, "%s-index", log);
    snprintf(mdb, sizeof mdb, "%s/scale.mdb", root);
    printf("== bench_scale: %zu entries, %d-byte values, random 32-byte keys ==\n", g_n, VLEN);

    /* puts: the log and LMDB, N keys into empty stores */
    if (lc_open_log(&c, log) != LLMCACHE_OK) { fprintf(stderr, "open failed\n"); return 1; }
    span_start(&put_lc);
    for (i = 0; i < g_n; i++)
        if (llmcache_put(c, (const llmcache_key *)(const void *)key_of(i), g_val, VLEN, 0) != LLMCACHE_OK) {
            fprintf(stderr, "put failed\n");
            return 1;
        }
    span_stop(&put_lc);
    llmcache_close(c);   /* writes the snapshot (untimed) */
    if (lm_open(&m, mdb) != 0) return 1;
    span_start(&put_lm);
    for (i = 0; i < g_n; i++)
        if (lm_put(&m, key_of(i)) != 0) { fprintf(stderr, "lmdb put failed\n"); return 1; }
    span_stop(&put_lm);

    /* reopen: read() of the log, with the snapshot, without it */
    log_bytes = 0;
    {
        struct stat s;
        if (stat(log, &s) == 0) log_bytes = (long long)s.st_size;
    }
    for (r = 0; r <= ROUNDS; r++) {   /* the first round only warms the page cache (and the buffer) */
        if (read_file(log, &sp) != 0) return 1;
        if (r) span_best(&rd, &sp);
    }
    anon_snap = open_anon_kib(log);
    for (r = 0; r < ROUNDS; r++) {
        span_start(&sp);
        if (lc_open_log(&c, log) != LLMCACHE_OK) { fprintf(stderr, "reopen failed\n"); return 1; }
        span_stop(&sp);
        span_best(&snap, &sp);
        llmcache_stats_get(c, &st);
        if (st.index_loaded == 0 || st.entries != g_n)
            printf("   note: snapshot open: %llu log bytes from the snapshot, %llu entries\n",
                   (unsigned long long)st.index_loaded, (unsigned long long)st.entries);
        llmcache_close(c);
    }
    unlink(idx);
    anon_full = open_anon_kib(log);
    for (r = 0; r < ROUNDS; r++) {
        unlink(idx);
        span_start(&sp);
        if (lc_open_log(&c, log) != LLMCACHE_OK) { fprintf(stderr, "reopen failed\n"); return 1; }
        span_stop(&sp);
        span_best(&full, &sp);
        llmcache_stats_get(c, &st);
        if (st.index_loaded != 0 || st.entries != g_n) printf("   note: full open: %llu entries\n", (unsigned long long)st.entries);
        llmcache_close(c);   /* writes the snapshot again */
    }
    unlink(log);
    unlink(idx);
    {
        char shm[4300];
        snprintf(shm, sizeof shm, "%s-shm", log);
        unlink(shm);
    }

    /* hits: a memory cache of N values beside LMDB */
    {
        llmcache_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.max_entries = g_n;
        cfg.max_bytes = g_n * (VLEN + 512);
        if (llmcache_open(&c, &cfg) != LLMCACHE_OK) return 1;
        for (i = 0; i < g_n; i++)
            if (llmcache_put(c, (const llmcache_key *)(const void *)key_of(i), g_val, VLEN, 0) != LLMCACHE_OK) {
                fprintf(stderr, "memory put failed\n");
                return 1;
            }
    }
    for (r = 0; r < ROUNDS; r++) {
        span_start(&sp);
        for (i = 0; i < g_n; i++)
            if (llmcache_get_with(c, (const llmcache_key *)(const void *)key_of(g_order[i]), look, NULL) != LLMCACHE_OK) {
                fprintf(stderr, "get_with missed\n");
                return 1;
            }
        span_stop(&sp);
        span_best(&hw, &sp);
        span_start(&sp);
        for (i = 0; i < g_n; i++) {
            llmcache_value v;
            if (llmcache_get(c, (const llmcache_key *)(const void *)key_of(g_order[i]), &v) != LLMCACHE_OK) return 1;
            g_sink += (unsigned char)v.data[VLEN - 1];
            llmcache_value_free(&v);
        }
        span_stop(&sp);
        span_best(&hg, &sp);
        span_start(&sp);
        for (i = 0; i < g_n; i++)
            if (lm_get_copy(&m, key_of(g_order[i])) != 0) { fprintf(stderr, "lmdb get failed\n"); return 1; }
        span_stop(&sp);
        span_best(&hl, &sp);
    }
    llmcache_close(c);
    lm_close(&m);
    unlink(mdb);
    {
        char lock[4300];
        snprintf(lock, sizeof lock, "%s-lock", mdb);
        unlink(lock);
    }
    if (big_n && big_index(root, big_n, &big_snap, &big_full, &big_open, &big_read) != 0) {
        fprintf(stderr, "the index at %zu entries failed\n", big_n);
        return 1;
    }
    rmdir(root);

    printf("\n");
    result("reopen with snapshot vs read() of the log", &snap, "read()", &rd, 1e3);
    result("reopen with snapshot vs no snapshot", &snap, "full read", &full, 1e3);
    printf("RESULT  %-40s %10.1f bytes/entry (with snapshot), %.1f (full read); %lld-byte log\n",
           "index memory after open (RssAnon)", anon_snap * 1024.0 / (double)g_n, anon_full * 1024.0 / (double)g_n,
           log_bytes);
    if (big_n) {
        printf("RESULT  %-40s %10.1f bytes/entry (with snapshot), %.1f (full read)\n", "index memory at 10^7 (RssAnon)",
               big_snap, big_full);
        printf("RESULT  %-40s %10.3f ms (%ld faults)   read() %10.3f   ratio %.2fx\n",
               "reopen 10^7 with snapshot vs read()", big_open.s * 1e3, big_open.faults, big_read * 1e3,
               big_open.s > 0 ? big_read / big_open.s : 0.0);
    }
    result("memory hit: get_with vs lmdb get+copy", &hw, "lmdb", &hl, 1e6 / (double)g_n);
    result("memory hit: get (copy) vs lmdb get+copy", &hg, "lmdb", &hl, 1e6 / (double)g_n);
    result("log put (FSYNC_NEVER) vs lmdb (NOSYNC)", &put_lc, "lmdb", &put_lm, 1e6 / (double)g_n);
    printf("\n");
    bench_goal("reopen 10^6: snapshot vs read() of the log", snap.s, rd.s, 1.0);
    bench_goal("reopen 10^6: snapshot vs no snapshot", snap.s, full.s, 1.0);
    {
        double per = anon_snap * 1024.0 / (double)g_n;   /* anon_snap -1: not measured, a MISS */
        printf("GOAL  %-44s %9.1fB   goal <= %6.0fB   %s\n", "index bytes/entry (values on disk)", per, 64.0,
               per > 0 && per <= 64.0 ? "PASS" : "MISS");
    }
    if (big_n)
        printf("GOAL  %-44s %9.1fB   goal <= %6.0fB   %s\n", "index bytes/entry at 10^7",
               big_snap, 64.0, big_snap > 0 && big_snap <= 64.0 ? "PASS" : "MISS");
    bench_goal("hit 10^6: get_with vs lmdb get+copy", hw.s, hl.s, 4.0);
    printf("GOAL  %-44s %9.3fus  goal <  %6.2fus  %s\n", "hit 10^6: get_with time", hw.s * 1e6 / (double)g_n, 0.3,
           hw.s * 1e6 / (double)g_n < 0.3 ? "PASS" : "MISS");
    bench_goal("put 10^6: log vs lmdb (NOSYNC)", put_lc.s, put_lm.s, 5.0);
    free(g_keys);
    free(g_order);
    return g_sink == 12345 ? 2 : 0;
}
