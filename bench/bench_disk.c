/* bench/bench_disk.c - the persistent tier, side by side in one run.
 *
 * Same 100,000 random 32-byte keys with 1 KiB values, stored in:
 *   (a) SQLite, set up the way python-diskcache 5.4 (diskcache/core.py) sets it up:
 *         PRAGMA auto_vacuum = FULL      (diskcache: sqlite_auto_vacuum = 1, set before the tables)
 *         PRAGMA cache_size = 8192       (diskcache: sqlite_cache_size = 2**13 pages)
 *         PRAGMA journal_mode = WAL      (diskcache: sqlite_journal_mode = 'wal')
 *         PRAGMA mmap_size = 67108864    (diskcache: sqlite_mmap_size = 2**26, 64 MiB)
 *         PRAGMA synchronous = NORMAL    (diskcache: sqlite_synchronous = 1)
 *       A table shaped like diskcache's `Cache` table, reduced to the columns a plain
 *       set/get touches (rowid, key BLOB, store_time, expire_time, value BLOB), with the
 *       indexes a default diskcache.Cache has: UNIQUE(key), (expire_time), and (store_time)
 *       for its default 'least-recently-stored' eviction policy. diskcache's Settings
 *       count/size triggers, its SELECT-then-UPDATE-or-INSERT and its cull step are left
 *       out (they only make SQLite slower): one prepared `INSERT OR REPLACE` per set in
 *       autocommit mode; a get is one prepared SELECT by key (with diskcache's expiry
 *       test) and a copy of the value into a buffer.
 *   (b) LMDB: MDB_NOSYNC, 1 GiB map, one write transaction per put; a get is a read
 *       transaction (reused with mdb_txn_reset/mdb_txn_renew, LMDB's fast path),
 *       mdb_get and a copy of the value into a buffer.
 *   (c) llmcache with cfg.path, max_entries = 200,000 and max_bytes = 1 MiB (values
 *       held in memory; the rest stay on disk only), in LLMCACHE_FSYNC_NEVER
 *       (compare with LMDB's NOSYNC) and LLMCACHE_FSYNC_INTERVAL (compare with SQLite's
 *       synchronous=NORMAL). The handle is closed and reopened (untimed) between the puts
 *       and the gets, so no value is in llmcache's memory tier and, each key being read
 *       once, every get is cold: the library reads the value from the log. A get is
 *       llmcache_get (which returns a malloc'd copy) plus llmcache_value_free.
 *       SQLite and LMDB keep their own page caches warm (no reopen): that favours them.
 * The SQLite and LMDB gets copy into a reused buffer (no malloc): that favours them.
 *
 * Puts: all 100,000 keys inserted into an empty store in random order, then 20,000
 * random keys overwritten. Gets: all 100,000 keys in a new random order.
 * Every figure is the best of BENCH_ROUNDS rounds; in each round every store is
 * filled and read in turn (order rotated per round), so machine noise hits all alike.
 * Files live in a mkdtemp directory under /tmp, removed at the end.
 * The llmcache side is skipped (with the reason) unless a value put through a
 * path-backed handle is found in the file by a fresh handle after close.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include "bench/bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sqlite3.h>

#define BENCH_N       100000
#define BENCH_VLEN    1024
#define BENCH_ROUNDS  3
#ifndef BENCH_LC_VALUE_BYTES
#define BENCH_LC_VALUE_BYTES ((size_t)1 << 20)  /* values llmcache may hold in memory: 1 MiB */
#endif
#define BENCH_NOVW    20000   /* overwrites timed per round (random subset; SQLite's are slow) */

/* ---- helpers -------------------------------------------------------------- */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* 32 pseudo-random bytes derived from i: a stand-in for SHA-256 of a counter. */
static void make_key(uint64_t i, unsigned char out[32]) {
    uint64_t s = i * 0xD1B54A32D192ED03ull + 0x1234567ull;
    int w, b;
    for (w = 0; w < 4; w++) {
        uint64_t x = splitmix64(&s);
        for (b = 0; b < 8; b++) out[w * 8 + b] = (unsigned char)(x >> (8 * b));
    }
}

static void shuffle(uint32_t *a, size_t n, uint64_t seed) {
    size_t i;
    for (i = 0; i < n; i++) a[i] = (uint32_t)i;
    for (i = n; i > 1; i--) {
        size_t j = (size_t)(splitmix64(&seed) % i);
        uint32_t t = a[i - 1]; a[i - 1] = a[j]; a[j] = t;
    }
}

/* The value of key i: 1 KiB of pseudo-random bytes whose first 8 bytes are i. */
static unsigned char g_vbase[BENCH_VLEN + 8];
static void make_value(uint64_t i, unsigned char *v) {
    int b;
    memcpy(v, g_vbase + (i % 8), BENCH_VLEN);
    for (b = 0; b < 8; b++) v[b] = (unsigned char)(i >> (8 * b));
}
static int value_ok(uint64_t i, const void *p, size_t n) {
    const unsigned char *v = (const unsigned char *)p;
    int b;
    if (n != BENCH_VLEN) return 0;
    for (b = 0; b < 8; b++) if (v[b] != (unsigned char)(i >> (8 * b))) return 0;
    return v[BENCH_VLEN - 1] == g_vbase[(i % 8) + BENCH_VLEN - 1];
}

static void rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        if (d) {
            while ((e = readdir(d)) != NULL) {
                char sub[4096];
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static unsigned char (*g_keys)[32];
static unsigned char *g_vals;            /* BENCH_N values, built before any timing */
static char g_getbuf[BENCH_VLEN * 2];

/* ---- stores --------------------------------------------------------------- */
typedef struct store {
    const char *name;
    int  (*open)(struct store *s, const char *dir);
    int  (*put)(struct store *s, const unsigned char *key, const void *v, size_t n);
    /* 0 = hit (value copied into an owned buffer and checked), 1 = miss, < 0 = error */
    int  (*get)(struct store *s, uint32_t i);
    void (*close)(struct store *s);
    void (*diag)(struct store *s, char *out, size_t n);   /* optional: state on a failure */
    void *h, *h2, *h3;
    int mode, reopen_before_get;
    char path[4096];
    char err[256];
} store;

/* (a) SQLite, diskcache-style */
static int sq_exec(store *s, sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(s->err, sizeof s->err, "%s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}
static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static int sq_open(store *s, const char *dir) {
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *sel = NULL;
    snprintf(s->path, sizeof s->path, "%s/cache.db", dir);
    if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(s->err, sizeof s->err, "sqlite3_open_v2: %s", db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return -1;
    }
    if (sq_exec(s, db, "PRAGMA auto_vacuum = 1") ||
        sq_exec(s, db, "PRAGMA cache_size = 8192") ||
        sq_exec(s, db, "PRAGMA journal_mode = wal") ||
        sq_exec(s, db, "PRAGMA mmap_size = 67108864") ||
        sq_exec(s, db, "PRAGMA synchronous = 1") ||
        sq_exec(s, db, "CREATE TABLE IF NOT EXISTS Cache ("
                       " rowid INTEGER PRIMARY KEY, key BLOB, store_time REAL,"
                       " expire_time REAL, value BLOB)") ||
        sq_exec(s, db, "CREATE UNIQUE INDEX IF NOT EXISTS Cache_key ON Cache(key)") ||
        sq_exec(s, db, "CREATE INDEX IF NOT EXISTS Cache_expire_time ON Cache(expire_time)") ||
        sq_exec(s, db, "CREATE INDEX IF NOT EXISTS Cache_store_time ON Cache(store_time)")) {
        sqlite3_close(db);
        return -1;
    }
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO Cache(key, store_time, expire_time, value)"
                               " VALUES (?, ?, NULL, ?)", -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT value FROM Cache WHERE key = ?"
                               " AND (expire_time IS NULL OR expire_time > ?)", -1, &sel, NULL) != SQLITE_OK) {
        snprintf(s->err, sizeof s->err, "prepare: %s", sqlite3_errmsg(db));
        sqlite3_finalize(ins);
        sqlite3_close(db);
        return -1;
    }
    s->h = db; s->h2 = ins; s->h3 = sel;
    return 0;
}
static int sq_put(store *s, const unsigned char *key, const void *v, size_t n) {
    sqlite3_stmt *st = (sqlite3_stmt *)s->h2;
    int rc;
    sqlite3_bind_blob(st, 1, key, 32, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, wall_s());
    sqlite3_bind_blob(st, 3, v, (int)n, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(s->err, sizeof s->err, "insert: %s", sqlite3_errmsg((sqlite3 *)s->h));
        return -1;
    }
    return 0;
}
static int sq_get(store *s, uint32_t i) {
    sqlite3_stmt *st = (sqlite3_stmt *)s->h3;
    int rc, out;
    sqlite3_bind_blob(st, 1, g_keys[i], 32, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, wall_s());
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (n > sizeof g_getbuf) n = sizeof g_getbuf;
        memcpy(g_getbuf, p, n);
        out = value_ok(i, g_getbuf, n) ? 0 : -2;
    } else if (rc == SQLITE_DONE) {
        out = 1;
    } else {
        snprintf(s->err, sizeof s->err, "select: %s", sqlite3_errmsg((sqlite3 *)s->h));
        out = -1;
    }
    sqlite3_reset(st);
    return out;
}
static void sq_close(store *s) {
    sqlite3_finalize((sqlite3_stmt *)s->h2);
    sqlite3_finalize((sqlite3_stmt *)s->h3);
    sqlite3_close((sqlite3 *)s->h);
    s->h = s->h2 = s->h3 = NULL;
}

/* (b) LMDB */
static int lm_open(store *s, const char *dir) {
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi *dbi = (MDB_dbi *)malloc(sizeof *dbi);
    int rc;
    snprintf(s->path, sizeof s->path, "%s/data.mdb", dir);
    if (!dbi) { snprintf(s->err, sizeof s->err, "out of memory"); return -1; }
    if ((rc = mdb_env_create(&env)) != 0 ||
        (rc = mdb_env_set_mapsize(env, (size_t)1 << 30)) != 0 ||
        (rc = mdb_env_open(env, s->path, MDB_NOSUBDIR | MDB_NOSYNC, 0644)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, NULL, 0, dbi)) != 0 ||
        (rc = mdb_txn_commit(txn)) != 0) {
        snprintf(s->err, sizeof s->err, "lmdb open: %s", mdb_strerror(rc));
        if (env) mdb_env_close(env);
        free(dbi);
        return -1;
    }
    txn = NULL;
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
        snprintf(s->err, sizeof s->err, "lmdb read txn: %s", mdb_strerror(rc));
        mdb_env_close(env);
        free(dbi);
        return -1;
    }
    mdb_txn_reset(txn);
    s->h = env; s->h2 = dbi; s->h3 = txn;
    return 0;
}
static int lm_put(store *s, const unsigned char *key, const void *v, size_t n) {
    MDB_txn *txn;
    MDB_val k, d;
    int rc;
    k.mv_size = 32; k.mv_data = (void *)key;
    d.mv_size = n;  d.mv_data = (void *)v;
    if ((rc = mdb_txn_begin((MDB_env *)s->h, NULL, 0, &txn)) != 0) goto fail;
    if ((rc = mdb_put(txn, *(MDB_dbi *)s->h2, &k, &d, 0)) != 0) { mdb_txn_abort(txn); goto fail; }
    if ((rc = mdb_txn_commit(txn)) != 0) goto fail;
    return 0;
fail:
    snprintf(s->err, sizeof s->err, "lmdb put: %s", mdb_strerror(rc));
    return -1;
}
static int lm_get(store *s, uint32_t i) {
    MDB_txn *txn = (MDB_txn *)s->h3;
    MDB_val k, d;
    int rc, out;
    k.mv_size = 32; k.mv_data = g_keys[i];
    if ((rc = mdb_txn_renew(txn)) != 0) {
        snprintf(s->err, sizeof s->err, "lmdb renew: %s", mdb_strerror(rc));
        return -1;
    }
    rc = mdb_get(txn, *(MDB_dbi *)s->h2, &k, &d);
    if (rc == 0) {
        size_t n = d.mv_size > sizeof g_getbuf ? sizeof g_getbuf : d.mv_size;
        memcpy(g_getbuf, d.mv_data, n);
        out = value_ok(i, g_getbuf, n) ? 0 : -2;
    } else if (rc == MDB_NOTFOUND) {
        out = 1;
    } else {
        snprintf(s->err, sizeof s->err, "lmdb get: %s", mdb_strerror(rc));
        out = -1;
    }
    mdb_txn_reset(txn);
    return out;
}
static void lm_close(store *s) {
    mdb_txn_abort((MDB_txn *)s->h3);
    mdb_env_close((MDB_env *)s->h);
    free(s->h2);
    s->h = s->h2 = s->h3 = NULL;
}

/* (c) llmcache */
/* cfg.max_bytes for the llmcache runs: the values it may hold in memory. */
static const size_t g_lc_max_bytes = BENCH_LC_VALUE_BYTES;

static int lc_open_cfg(llmcache **c, const char *path, int mode, size_t max_bytes) {
    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.max_entries = 2 * BENCH_N;
    cfg.max_bytes = max_bytes;
    cfg.fsync = mode;
    return llmcache_open(c, &cfg);
}
static int lc_open_path(llmcache **c, const char *path, int mode) {
    return lc_open_cfg(c, path, mode, g_lc_max_bytes);
}
static int lc_open(store *s, const char *dir) {
    llmcache *c = NULL;
    int rc;
    snprintf(s->path, sizeof s->path, "%s/cache.llc", dir);
    rc = lc_open_path(&c, s->path, s->mode);
    if (rc != LLMCACHE_OK) {
        snprintf(s->err, sizeof s->err, "llmcache_open: %s", llmcache_result_string(rc));
        return -1;
    }
    s->h = c;
    return 0;
}
static int lc_put(store *s, const unsigned char *key, const void *v, size_t n) {
    llmcache_key k;
    int rc;
    memcpy(k.bytes, key, 32);
    rc = llmcache_put((llmcache *)s->h, &k, v, n, 0);
    if (rc != LLMCACHE_OK) {
        snprintf(s->err, sizeof s->err, "llmcache_put: %s", llmcache_result_string(rc));
        return -1;
    }
    return 0;
}
static int lc_get(store *s, uint32_t i) {
    llmcache_key k;
    llmcache_value v;
    int rc, out;
    memcpy(k.bytes, g_keys[i], 32);
    rc = llmcache_get((llmcache *)s->h, &k, &v);
    if (rc == LLMCACHE_OK) {
        out = value_ok(i, v.data, v.len) ? 0 : -2;
        llmcache_value_free(&v);
    } else if (rc == LLMCACHE_MISS) {
        out = 1;
    } else {
        snprintf(s->err, sizeof s->err, "llmcache_get: %s", llmcache_result_string(rc));
        out = -1;
    }
    return out;
}
static void lc_diag(store *s, char *out, size_t n) {
    llmcache_stats st;
    llmcache_stats_get((llmcache *)s->h, &st);
    snprintf(out, n, "llmcache_stats: %llu entries, %llu evictions after %llu puts of %d keys",
             (unsigned long long)st.entries, (unsigned long long)st.evictions,
             (unsigned long long)st.puts, BENCH_N);
}
static void lc_close(store *s) {
    llmcache_close((llmcache *)s->h);
    s->h = NULL;
}

/* Is the log backend there? A value put through a path-backed handle must be in
 * a non-empty file and be found by a fresh handle after close. */
static int lc_probe(const char *dir, char *why, size_t whylen) {
    char path[4096];
    llmcache *c = NULL;
    llmcache_key k;
    llmcache_value v;
    int rc, ok = 0;
    snprintf(path, sizeof path, "%s/probe.llc", dir);
    memset(k.bytes, 0xAB, sizeof k.bytes);
    if ((rc = lc_open_path(&c, path, LLMCACHE_FSYNC_NEVER)) != LLMCACHE_OK) {
        snprintf(why, whylen, "llmcache_open with cfg.path failed: %s", llmcache_result_string(rc));
        return 0;
    }
    rc = llmcache_put(c, &k, "probe-value", 11, 0);
    llmcache_close(c);
    c = NULL;
    if (rc != LLMCACHE_OK) {
        snprintf(why, whylen, "llmcache_put failed: %s", llmcache_result_string(rc));
    } else if (file_size(path) <= 0) {
        snprintf(why, whylen, "nothing was written to cfg.path (log backend missing)");
    } else if ((rc = lc_open_path(&c, path, LLMCACHE_FSYNC_NEVER)) != LLMCACHE_OK) {
        snprintf(why, whylen, "reopening the log failed: %s", llmcache_result_string(rc));
    } else {
        rc = llmcache_get(c, &k, &v);
        if (rc != LLMCACHE_OK) {
            snprintf(why, whylen, "a value put before close is not found after reopen (%s)",
                     llmcache_result_string(rc));
        } else {
            if (v.len == 11 && memcmp(v.data, "probe-value", 11) == 0) ok = 1;
            else snprintf(why, whylen, "reopened log returned wrong bytes");
            llmcache_value_free(&v);
        }
        llmcache_close(c);
    }
    rm_rf(path);
    return ok;
}

/* ---- driver --------------------------------------------------------------- */
enum { S_SQLITE, S_LMDB, S_LC_NEVER, S_LC_INTERVAL, S_COUNT };
static store g_st[S_COUNT];
static int g_avail[S_COUNT];
static char g_unavail[S_COUNT][256];
static double g_put[S_COUNT][BENCH_ROUNDS], g_ovw[S_COUNT][BENCH_ROUNDS], g_get[S_COUNT][BENCH_ROUNDS];

static double best(const double *a, int n) {
    double b = -1;
    int i;
    for (i = 0; i < n; i++) if (a[i] > 0 && (b < 0 || a[i] < b)) b = a[i];
    return b;
}

/* One round for one store: fill (insert), overwrite, cold get; all in random order.
 * Returns 0, or -1 with s->err set. */
static int run_round(store *s, const char *dir, int r, double *put_us, double *ovw_us, double *get_us,
                     uint32_t *order) {
    double t0, t;
    size_t j;
    int rc = 0;
    if (mkdir(dir, 0700) != 0) { snprintf(s->err, sizeof s->err, "mkdir: %s", strerror(errno)); return -1; }
    if (s->open(s, dir) != 0) return -1;

    shuffle(order, BENCH_N, 1000 + (uint64_t)r);
    t0 = bench_now_s();
    for (j = 0; j < BENCH_N && !rc; j++)
        rc = s->put(s, g_keys[order[j]], g_vals + (size_t)order[j] * BENCH_VLEN, BENCH_VLEN);
    t = bench_now_s() - t0;
    if (rc) goto out;
    *put_us = t * 1e6 / BENCH_N;

    shuffle(order, BENCH_N, 2000 + (uint64_t)r);
    t0 = bench_now_s();
    for (j = 0; j < BENCH_NOVW && !rc; j++)
        rc = s->put(s, g_keys[order[j]], g_vals + (size_t)order[j] * BENCH_VLEN, BENCH_VLEN);
    t = bench_now_s() - t0;
    if (rc) goto out;
    *ovw_us = t * 1e6 / BENCH_NOVW;

    if (s->reopen_before_get) {     /* llmcache: no value left in its memory tier */
        s->close(s);
        if (s->open(s, dir) != 0) return -1;
    }
    shuffle(order, BENCH_N, 3000 + (uint64_t)r);
    t0 = bench_now_s();
    for (j = 0; j < BENCH_N; j++) {
        rc = s->get(s, order[j]);
        if (rc) break;
    }
    t = bench_now_s() - t0;
    if (rc) {
        if (rc == 1) {
            char d[160] = "";
            if (s->diag) s->diag(s, d, sizeof d);
            snprintf(s->err, sizeof s->err, "key %u missing after put%s%s", (unsigned)order[j],
                     d[0] ? ": " : "", d);
        }
        else if (rc == -2) snprintf(s->err, sizeof s->err, "key %u: wrong value", (unsigned)order[j]);
        rc = -1;
        goto out;
    }
    *get_us = t * 1e6 / BENCH_N;
out:
    s->close(s);
    return rc ? -1 : 0;
}

static void fmt_us(char *out, size_t n, double us, int avail) {
    if (!avail || us <= 0) snprintf(out, n, "%12s", "unavailable");
    else snprintf(out, n, "%12.3f", us);
}

/* ratio = other / llmcache (how many times faster llmcache is) */
static void goal_line(const char *what, double lc, double other, double goal, int avail) {
    if (!avail || lc <= 0 || other <= 0) {
        printf("GOAL  %-44s %10s   goal >= %6.2fx   %s\n", what, "n/a", goal, "UNAVAILABLE");
        return;
    }
    printf("GOAL  %-44s %9.2fx   goal >= %6.2fx   %s\n", what, other / lc, goal,
           other / lc >= goal ? "PASS" : "MISS");
}

int main(void) {
    char tmpl[] = "/tmp/llmcache-bench-XXXXXX";
    char *root;
    char dir[4096];
    uint32_t *order;
    size_t i;
    int r, k, failed = 0;
    uint64_t seed = 42;
    double reopen_s = -1, read_s = -1;
    long long lc_file_bytes = -1;
    const char *names[S_COUNT] = { "sqlite (diskcache pragmas)", "lmdb (NOSYNC)",
                                   "llmcache (FSYNC_NEVER)", "llmcache (FSYNC_INTERVAL)" };

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (i = 0; i < sizeof g_vbase; i++) g_vbase[i] = (unsigned char)splitmix64(&seed);
    g_keys = (unsigned char (*)[32])malloc((size_t)BENCH_N * 32);
    order = (uint32_t *)malloc(BENCH_N * sizeof *order);
    g_vals = (unsigned char *)malloc((size_t)BENCH_N * BENCH_VLEN);
    if (!g_keys || !order || !g_vals) { fprintf(stderr, "out of memory\n"); return 1; }
    for (i = 0; i < BENCH_N; i++) {
        make_key(i, g_keys[i]);
        make_value(i, g_vals + i * BENCH_VLEN);
    }

    root = mkdtemp(tmpl);
    if (!root) { perror("mkdtemp"); return 1; }

    memset(g_st, 0, sizeof g_st);
    g_st[S_SQLITE].name = names[S_SQLITE];
    g_st[S_SQLITE].open = sq_open; g_st[S_SQLITE].put = sq_put;
    g_st[S_SQLITE].get = sq_get;   g_st[S_SQLITE].close = sq_close;
    g_st[S_LMDB].name = names[S_LMDB];
    g_st[S_LMDB].open = lm_open; g_st[S_LMDB].put = lm_put;
    g_st[S_LMDB].get = lm_get;   g_st[S_LMDB].close = lm_close;
    g_avail[S_SQLITE] = g_avail[S_LMDB] = 1;
    for (k = S_LC_NEVER; k <= S_LC_INTERVAL; k++) {
        g_st[k].name = names[k];
        g_st[k].open = lc_open; g_st[k].put = lc_put;
        g_st[k].get = lc_get;   g_st[k].close = lc_close; g_st[k].diag = lc_diag;
        g_st[k].reopen_before_get = 1;
        g_st[k].mode = k == S_LC_NEVER ? LLMCACHE_FSYNC_NEVER : LLMCACHE_FSYNC_INTERVAL;
    }
    {
        char why[256] = "";
        if (lc_probe(root, why, sizeof why)) {
            g_avail[S_LC_NEVER] = g_avail[S_LC_INTERVAL] = 1;
        } else {
            snprintf(g_unavail[S_LC_NEVER], sizeof g_unavail[0], "%s", why);
            snprintf(g_unavail[S_LC_INTERVAL], sizeof g_unavail[0], "%s", why);
        }
    }

    printf("== bench_disk: persistent tier, %d keys x %d-byte values, best of %d rounds ==\n",
           BENCH_N, BENCH_VLEN, BENCH_ROUNDS);
    printf("   SQLite %s, WAL, synchronous=NORMAL, cache_size=8192, mmap_size=64MiB, auto_vacuum=FULL\n",
           sqlite3_libversion());
    printf("   LMDB %s, MDB_NOSYNC, one write txn per put\n", MDB_VERSION_STRING);
    if (g_avail[S_LC_NEVER])
        printf("   llmcache %s: cfg.path set, max_entries=%d, max_bytes=%lu for values in memory;\n"
               "     reopened before the gets: all cold\n",
               LLMCACHE_VERSION_STRING, 2 * BENCH_N, (unsigned long)g_lc_max_bytes);
    for (k = 0; k < S_COUNT; k++)
        if (!g_avail[k]) printf("   %s: unavailable: %s\n", names[k], g_unavail[k]);

    for (r = 0; r < BENCH_ROUNDS; r++) {
        for (i = 0; i < S_COUNT; i++) {
            k = (int)((i + (size_t)r) % S_COUNT);          /* rotate the order per round */
            if (!g_avail[k]) continue;
            snprintf(dir, sizeof dir, "%s/r%d-s%d", root, r, k);
            if (run_round(&g_st[k], dir, r, &g_put[k][r], &g_ovw[k][r], &g_get[k][r], order) != 0) {
                printf("   %s: round %d failed: %s\n", names[k], r, g_st[k].err);
                g_avail[k] = 0;
                snprintf(g_unavail[k], sizeof g_unavail[0], "failed: %s", g_st[k].err);
                failed = 1;
            } else {
                printf("   round %d %-28s put %8.3f  overwrite %8.3f  get %8.3f us/op\n", r, names[k],
                       g_put[k][r], g_ovw[k][r], g_get[k][r]);
            }
            if (k == S_LC_NEVER && r == BENCH_ROUNDS - 1 && g_avail[k]) continue; /* keep for reopen */
            rm_rf(dir);
        }
    }

    /* Reopen of the last FSYNC_NEVER log vs reading the same file (page-cache warm). */
    if (g_avail[S_LC_NEVER]) {
        char path[4096];
        char *buf;
        snprintf(path, sizeof path, "%s/r%d-s%d/cache.llc", root, BENCH_ROUNDS - 1, S_LC_NEVER);
        lc_file_bytes = file_size(path);
        buf = lc_file_bytes > 0 ? (char *)malloc((size_t)lc_file_bytes) : NULL;
        if (buf) {
            memset(buf, 0, (size_t)lc_file_bytes);              /* fault the buffer in */
            for (r = 0; r < BENCH_ROUNDS + 1; r++) {            /* first read only warms */
                int fd = open(path, O_RDONLY);
                size_t got = 0;
                double t0 = bench_now_s(), t;
                ssize_t n = 1;
                if (fd < 0) break;
                while (got < (size_t)lc_file_bytes &&
                       (n = read(fd, buf + got, (size_t)lc_file_bytes - got)) > 0) got += (size_t)n;
                t = bench_now_s() - t0;
                close(fd);
                if (r > 0 && (read_s < 0 || t < read_s)) read_s = t;
            }
            free(buf);
            for (r = 0; r < BENCH_ROUNDS; r++) {
                llmcache *c = NULL;
                llmcache_stats st;
                double t0 = bench_now_s(), t;
                int rc = lc_open_path(&c, path, LLMCACHE_FSYNC_NEVER);
                t = bench_now_s() - t0;
                if (rc != LLMCACHE_OK) {
                    printf("   reopen failed: %s\n", llmcache_result_string(rc));
                    reopen_s = -1;
                    break;
                }
                llmcache_stats_get(c, &st);
                if (st.entries != BENCH_N)
                    printf("   note: reopened cache has %llu entries, expected %d\n",
                           (unsigned long long)st.entries, BENCH_N);
                if (reopen_s < 0 || t < reopen_s) reopen_s = t;
                llmcache_close(c);
            }
        }
    }

    printf("\n%-28s %12s %12s %12s\n", "store", "put(insert)", "put(overwr)", "cold get");
    printf("%-28s %12s %12s %12s\n", "", "us/op", "us/op", "us/op");
    for (k = 0; k < S_COUNT; k++) {
        char a[32], b[32], c[32];
        fmt_us(a, sizeof a, best(g_put[k], BENCH_ROUNDS), g_avail[k]);
        fmt_us(b, sizeof b, best(g_ovw[k], BENCH_ROUNDS), g_avail[k]);
        fmt_us(c, sizeof c, best(g_get[k], BENCH_ROUNDS), g_avail[k]);
        printf("%-28s %s %s %s\n", names[k], a, b, c);
    }
    printf("\n");
    {
        static const char *comp[S_COUNT] = { "sqlite-diskcache", "lmdb-nosync", "llmcache-never", "llmcache-interval" };
        for (k = 0; k < S_COUNT; k++) {
            if (!g_avail[k]) {
                printf("RESULT  %-22s %-22s %12s\n", comp[k], "disk put", "unavailable");
                continue;
            }
            printf("RESULT  %-22s %-22s %12.3f us/op\n", comp[k], "disk put", best(g_put[k], BENCH_ROUNDS));
            printf("RESULT  %-22s %-22s %12.3f us/op\n", comp[k], "disk overwrite", best(g_ovw[k], BENCH_ROUNDS));
            printf("RESULT  %-22s %-22s %12.3f us/op\n", comp[k], "disk cold get", best(g_get[k], BENCH_ROUNDS));
        }
        if (reopen_s > 0 && read_s > 0) {
            printf("RESULT  %-22s %-22s %12.3f ms (%.0f MB/s, %lld-byte log)\n", "llmcache-never", "reopen",
                   reopen_s * 1e3, (double)lc_file_bytes / reopen_s / 1e6, lc_file_bytes);
            printf("RESULT  %-22s %-22s %12.3f ms (%.0f MB/s)\n", "read()", "same file, cached",
                   read_s * 1e3, (double)lc_file_bytes / read_s / 1e6);
        }
    }
    printf("\n");
    goal_line("disk put: llmcache(INTERVAL) vs sqlite", best(g_put[S_LC_INTERVAL], BENCH_ROUNDS),
              best(g_put[S_SQLITE], BENCH_ROUNDS), 30.0, g_avail[S_LC_INTERVAL] && g_avail[S_SQLITE]);
    goal_line("disk put: llmcache(NEVER) vs lmdb(NOSYNC)", best(g_put[S_LC_NEVER], BENCH_ROUNDS),
              best(g_put[S_LMDB], BENCH_ROUNDS), 5.0, g_avail[S_LC_NEVER] && g_avail[S_LMDB]);
    goal_line("cold get: llmcache(INTERVAL) vs sqlite", best(g_get[S_LC_INTERVAL], BENCH_ROUNDS),
              best(g_get[S_SQLITE], BENCH_ROUNDS), 4.0, g_avail[S_LC_INTERVAL] && g_avail[S_SQLITE]);
    goal_line("cold get: llmcache(NEVER) vs lmdb", best(g_get[S_LC_NEVER], BENCH_ROUNDS),
              best(g_get[S_LMDB], BENCH_ROUNDS), 0.7, g_avail[S_LC_NEVER] && g_avail[S_LMDB]);
    /* reopen speed relative to read(): read time / reopen time */
    goal_line("reopen speed vs read() of the same file", reopen_s, read_s, 1.0 / 3.0,
              reopen_s > 0 && read_s > 0);
    printf("      (ratios: the other side's time / llmcache's time; > 1 = llmcache faster)\n");

    rm_rf(root);
    free(g_keys); free(order); free(g_vals);
    /* A failed store is reported above; benchmarks do not fail the build. */
    (void)failed;
    return 0;
}
