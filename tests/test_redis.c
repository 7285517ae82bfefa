/* tests/test_redis.c: the Redis tier (section >>redis of llmcache.h, docs/REDIS.md) against a real
 * redis-server this program starts on 127.0.0.1 (free ports, no persistence) and
 * stops at the end (and which dies with it on a crash): round trip with meta, TTL
 * kept by Redis, two processes sharing entries, values that are not intact records,
 * AUTH and SELECT, the log file filled from Redis, call-through across handles,
 * single-flight across processes, Redis frozen (SIGSTOP) and killed mid-test with the
 * circuit breaker opening and closing again, threads. Run from the repository root:
 *   gcc -std=c99 -O1 -g -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Werror \
 *       -fsanitize=address,undefined -I. -o /tmp/test_redis tests/test_redis.c \
 *       -DLLMCACHE_REDIS -lhiredis -lpthread -lm && /tmp/test_redis */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include "redis_server.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>

static redis_server srv;            /* the main server */

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static llmcache_redis_config redis_cfg(const redis_server *s) {
    llmcache_redis_config rc;
    memset(&rc, 0, sizeof rc);
    rc.port = s->port;
    return rc;
}

/* A handle on namespace ns with Redis config rc (NULL = none) and log path (NULL = memory). */
static llmcache *open_ns(const llmcache_redis_config *rc, const char *ns, const char *path) {
    llmcache_config cfg;
    llmcache *c = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = ns;
    cfg.redis = rc;
    cfg.path = path;
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) return NULL;
    return c;
}

static void key_of(llmcache_key *k, const char *name) { llmcache_sha256(name, strlen(name), k->bytes); }

/* "llmcache:" + ns + ":" + hex(key) */
static void redis_name(char *out, size_t n, const char *prefix, const llmcache_key *k) {
    char hex[65];
    llmcache_key_hex(k, hex);
    snprintf(out, n, "%s%s", prefix, hex);
}

/* One command on a fresh plain connection to s; the reply (free it) or NULL. */
static redisReply *raw(const redis_server *s, const char *fmt, ...) {
    redisContext *ctx = redis_server_connect(s);
    redisReply *r = NULL;
    va_list ap;
    if (!ctx) return NULL;
    va_start(ap, fmt);
    r = (redisReply *)redisvCommand(ctx, fmt, ap);
    va_end(ap);
    redisFree(ctx);
    return r;
}

static long long raw_int(const redis_server *s, const char *cmd, const char *name) {
    redisReply *r = raw(s, "%s %s", cmd, name);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    if (r) freeReplyObject(r);
    return v;
}

static llmcache_stats stats_of(llmcache *c) {
    llmcache_stats st;
    llmcache_stats_get(c, &st);
    return st;
}

/* ---- round trip, meta, namespaces, prefixes, deletes, bounds, the log file, SELECT */
static void test_round_trip(void) {
    llmcache_redis_config rc = redis_cfg(&srv), rc_prefix = redis_cfg(&srv), rc_db = redis_cfg(&srv);
    llmcache *a = open_ns(&rc, "rt", NULL), *b = open_ns(&rc, "rt", NULL), *c2, *d, *e, *g, *h;
    llmcache_key k1, k2, k3, k4, k5, k6;
    llmcache_meta m;
    llmcache_value va, vb;
    char name[256], path[128], shm[160];
    char *val = (char *)malloc(3000), *big = (char *)malloc((size_t)1 << 20);
    redisReply *r;
    size_t i;
    CHECK(a != NULL && b != NULL && val && big);
    if (!a || !b || !val || !big) return;
    for (i = 0; i < 3000; i++) val[i] = (char)(i * 7 % 256);          /* NULs included */
    for (i = 0; i < ((size_t)1 << 20); i++) big[i] = (char)(i * 131 % 251);
    key_of(&k1, "rt-1"); key_of(&k2, "rt-2"); key_of(&k3, "rt-3");
    key_of(&k4, "rt-4"); key_of(&k5, "rt-5"); key_of(&k6, "rt-6");
    memset(&m, 0, sizeof m);
    memset(m.schema_hash, 0xab, 32);
    m.status = 200; m.flags = 1; m.latency_ms = 123; m.prompt_tokens = 10; m.completion_tokens = 20;

    CHECK_EQ(llmcache_put_ex(a, &k1, val, 3000, -1, &m), LLMCACHE_OK);
    CHECK_EQ(stats_of(a).redis_puts, 1);
    /* the Redis value: one padded log record of this key */
    redis_name(name, sizeof name, "llmcache:rt:", &k1);
    r = raw(&srv, "GET %s", name);
    CHECK(r && r->type == REDIS_REPLY_STRING);
    if (r && r->type == REDIS_REPLY_STRING) {
        const unsigned char *p = (const unsigned char *)r->str;
        CHECK_EQ(r->len, (80 + 64 + 3000 + 7) / 8 * 8);
        CHECK_EQ(llmcache__ld32(p), 0xABC41ED7u);
        CHECK(memcmp(p + 24, k1.bytes, 32) == 0);
        CHECK_EQ(llmcache__ld32(p + 72), 3000);
        CHECK_EQ(llmcache__ld32(p + 76), 64);
    }
    if (r) freeReplyObject(r);
    CHECK_EQ(raw_int(&srv, "PTTL", name), -1);           /* ttl < 0: no expiry in Redis either */

    /* b's memory is empty: Redis answers, byte-exact, with meta and times */
    CHECK_EQ(llmcache_get(a, &k1, &va), LLMCACHE_OK);
    CHECK_EQ(llmcache_get(b, &k1, &vb), LLMCACHE_OK);
    CHECK_MEM(vb.data, vb.len, val, 3000);
    CHECK(vb.data && vb.data[vb.len] == '\0');
    CHECK_EQ(vb.created_ms, va.created_ms);
    CHECK_EQ(vb.expires_ms, 0);
    CHECK(memcmp(&vb.meta, &m, sizeof m) == 0);
    CHECK_EQ(stats_of(b).redis_hits, 1);
    CHECK_EQ(stats_of(b).hits, 1);
    CHECK_EQ(stats_of(b).entries, 1);                    /* filled into memory */
    CHECK_EQ(stats_of(b).puts, 0);                       /* a fill is not a put */
    llmcache_value_free(&vb);
    CHECK_EQ(llmcache_get(b, &k1, &vb), LLMCACHE_OK);     /* now from memory */
    CHECK_EQ(stats_of(b).redis_hits, 1);
    CHECK_EQ(stats_of(b).hits, 2);
    CHECK(memcmp(&vb.meta, &m, sizeof m) == 0);
    llmcache_value_free(&va);
    llmcache_value_free(&vb);

    /* empty and 1 MiB values */
    CHECK_EQ(llmcache_put(a, &k2, "", 0, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(a, &k3, big, (size_t)1 << 20, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_get(b, &k2, &vb), LLMCACHE_OK);
    CHECK_EQ(vb.len, 0);
    llmcache_value_free(&vb);
    CHECK_EQ(llmcache_get(b, &k3, &vb), LLMCACHE_OK);
    CHECK_MEM(vb.data, vb.len, big, (size_t)1 << 20);
    llmcache_value_free(&vb);

    /* another namespace is another prefix: no hit */
    c2 = open_ns(&rc, "other", NULL);
    CHECK(c2 != NULL);
    if (c2) {
        CHECK_EQ(llmcache_get(c2, &k1, &vb), LLMCACHE_MISS);
        CHECK_EQ(stats_of(c2).redis_misses, 1);
        CHECK_EQ(stats_of(c2).misses, 1);
        llmcache_close(c2);
    }
    /* a prefix of one's own */
    rc_prefix.prefix = "custom/";
    d = open_ns(&rc_prefix, "rt", NULL);
    CHECK(d != NULL);
    if (d) {
        CHECK_EQ(llmcache_put(d, &k4, "p", 1, 0), LLMCACHE_OK);
        redis_name(name, sizeof name, "custom/", &k4);
        CHECK_EQ(raw_int(&srv, "EXISTS", name), 1);
        llmcache_close(d);
    }

    /* deletes reach Redis; a key only Redis holds deletes with OK */
    CHECK_EQ(llmcache_del(a, &k1), LLMCACHE_OK);
    redis_name(name, sizeof name, "llmcache:rt:", &k1);
    CHECK_EQ(raw_int(&srv, "EXISTS", name), 0);
    e = open_ns(&rc, "rt", NULL);
    CHECK(e != NULL);
    if (e) {
        CHECK_EQ(llmcache_get(e, &k1, &vb), LLMCACHE_MISS);
        CHECK_EQ(llmcache_del(e, &k3), LLMCACHE_OK);     /* not in e's memory, but in Redis */
        CHECK_EQ(stats_of(e).deletes, 1);
        redis_name(name, sizeof name, "llmcache:rt:", &k3);
        CHECK_EQ(raw_int(&srv, "EXISTS", name), 0);
        CHECK_EQ(llmcache_del(e, &k3), LLMCACHE_MISS);
        llmcache_close(e);
    }

    /* a log-backed handle: the fill goes through the log, so it is there after a reopen */
    snprintf(path, sizeof path, "/tmp/llmcache-test-redis-%d.log", (int)getpid());
    snprintf(shm, sizeof shm, "%s-shm", path);
    unlink(path); unlink(shm);
    CHECK_EQ(llmcache_put(a, &k5, "from redis", 10, 0), LLMCACHE_OK);
    g = open_ns(&rc, "rt", path);
    CHECK(g != NULL);
    if (g) {
        CHECK_EQ(llmcache_get(g, &k5, &vb), LLMCACHE_OK);
        CHECK_MEM(vb.data, vb.len, "from redis", 10);
        llmcache_value_free(&vb);
        llmcache_close(g);
    }
    h = open_ns(NULL, "rt", path);
    CHECK(h != NULL);
    if (h) {
        CHECK_EQ(llmcache_get(h, &k5, &vb), LLMCACHE_OK);
        CHECK_MEM(vb.data, vb.len, "from redis", 10);
        llmcache_value_free(&vb);
        llmcache_close(h);
    }
    unlink(path); unlink(shm);

    /* SELECT: db 3 holds it, db 0 does not */
    rc_db.db = 3;
    d = open_ns(&rc_db, "rt", NULL);
    CHECK(d != NULL);
    if (d) {
        redisContext *ctx = redis_server_connect(&srv);
        CHECK_EQ(llmcache_put(d, &k6, "db3", 3, 0), LLMCACHE_OK);
        redis_name(name, sizeof name, "llmcache:rt:", &k6);
        CHECK_EQ(raw_int(&srv, "EXISTS", name), 0);
        if (ctx) {
            r = (redisReply *)redisCommand(ctx, "SELECT 3");
            if (r) freeReplyObject(r);
            r = (redisReply *)redisCommand(ctx, "EXISTS %s", name);
            CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
            if (r) freeReplyObject(r);
            redisFree(ctx);
        }
        llmcache_close(d);
    }

    /* fills respect the memory bounds */
    {
        llmcache_config cfg;
        llmcache *f = NULL;
        memset(&cfg, 0, sizeof cfg);
        cfg.ns = "rt";
        cfg.redis = &rc;
        cfg.max_entries = 2;
        CHECK_EQ(llmcache_open(&f, &cfg), LLMCACHE_OK);
        if (f) {
            llmcache_key ks[4];
            char nm[16];
            for (i = 0; i < 4; i++) {
                snprintf(nm, sizeof nm, "bound-%d", (int)i);
                key_of(&ks[i], nm);
                CHECK_EQ(llmcache_put(a, &ks[i], nm, strlen(nm), 0), LLMCACHE_OK);
            }
            for (i = 0; i < 4; i++) {
                CHECK_EQ(llmcache_get(f, &ks[i], &vb), LLMCACHE_OK);
                llmcache_value_free(&vb);
            }
            CHECK_EQ(stats_of(f).entries, 2);
            CHECK_EQ(stats_of(f).evictions, 2);
            CHECK_EQ(stats_of(f).redis_hits, 4);
            llmcache_close(f);
        }
    }
    /* a value too big for a memory-only cache lives in Redis alone */
    {
        llmcache_config cfg;
        llmcache *f = NULL, *f2 = open_ns(&rc, "rt", NULL);
        llmcache_key kb;
        memset(&cfg, 0, sizeof cfg);
        cfg.ns = "rt";
        cfg.redis = &rc;
        cfg.max_bytes = 4096;
        key_of(&kb, "too-big");
        CHECK_EQ(llmcache_open(&f, &cfg), LLMCACHE_OK);
        if (f && f2) {
            CHECK_EQ(llmcache_put(f, &kb, big, 100000, 0), LLMCACHE_OK);
            CHECK_EQ(stats_of(f).entries, 0);
            CHECK_EQ(stats_of(f).puts, 1);
            CHECK_EQ(llmcache_get(f, &kb, &vb), LLMCACHE_OK);   /* from Redis each time */
            CHECK_MEM(vb.data, vb.len, big, 100000);
            llmcache_value_free(&vb);
            CHECK_EQ(llmcache_get(f2, &kb, &vb), LLMCACHE_OK);
            CHECK_MEM(vb.data, vb.len, big, 100000);
            llmcache_value_free(&vb);
        }
        llmcache_close(f);
        llmcache_close(f2);
    }
    llmcache_close(a);
    llmcache_close(b);
    free(val);
    free(big);
}

/* ---- TTL: Redis expires entries itself (PX) */
static int64_t clock_ahead(void *ctx) { return wall_ms() + *(int64_t *)ctx; }

static void test_ttl(void) {
    llmcache_redis_config rc = redis_cfg(&srv);
    llmcache *a = open_ns(&rc, "ttl", NULL), *b = open_ns(&rc, "ttl", NULL), *c2 = open_ns(&rc, "ttl", NULL);
    llmcache_key k, k2, k3;
    llmcache_value v;
    char name[256];
    long long pttl;
    CHECK(a && b && c2);
    if (!a || !b || !c2) return;
    key_of(&k, "ttl-1"); key_of(&k2, "ttl-2"); key_of(&k3, "ttl-3");
    CHECK_EQ(llmcache_put(a, &k, "short", 5, 400), LLMCACHE_OK);
    redis_name(name, sizeof name, "llmcache:ttl:", &k);
    pttl = raw_int(&srv, "PTTL", name);
    CHECK_MSG(pttl > 200 && pttl <= 400, "PTTL %lld", pttl);
    CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_OK);
    CHECK(v.expires_ms > wall_ms() && v.expires_ms <= wall_ms() + 400);
    llmcache_value_free(&v);
    redis_server_sleep_ms(600);
    CHECK_EQ(raw_int(&srv, "EXISTS", name), 0);          /* Redis dropped it */
    CHECK_EQ(llmcache_get(c2, &k, &v), LLMCACHE_MISS);
    CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_MISS);     /* and the filled copy expired too */

    /* an entry already expired is not written */
    CHECK_EQ(llmcache_put_at(a, &k2, "old", 3, wall_ms() - 2000, wall_ms() - 1000, NULL), LLMCACHE_OK);
    redis_name(name, sizeof name, "llmcache:ttl:", &k2);
    CHECK_EQ(raw_int(&srv, "EXISTS", name), 0);

    /* a record Redis still holds but whose expiry has passed by the reader's clock is a miss */
    CHECK_EQ(llmcache_put(a, &k3, "minute", 6, 60000), LLMCACHE_OK);
    {
        int64_t ahead = 120000;
        llmcache_config cfg;
        llmcache *late = NULL;
        memset(&cfg, 0, sizeof cfg);
        cfg.ns = "ttl";
        cfg.redis = &rc;
        cfg.clock = clock_ahead;
        cfg.clock_ctx = &ahead;
        CHECK_EQ(llmcache_open(&late, &cfg), LLMCACHE_OK);
        if (late) {
            CHECK_EQ(llmcache_get(late, &k3, &v), LLMCACHE_MISS);
            CHECK_EQ(stats_of(late).entries, 0);
            llmcache_close(late);
        }
    }
    llmcache_close(a);
    llmcache_close(b);
    llmcache_close(c2);
}

/* ---- two processes share entries through Redis */
static void test_processes(void) {
    llmcache_redis_config rc = redis_cfg(&srv);
    llmcache *c;
    pid_t pid;
    int status = -1, i, ok = 0;
    char nm[32], want[32];
    llmcache_key k;
    llmcache_value v;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        llmcache *cc = open_ns(&rc, "proc", NULL);
        int bad = cc == NULL;
        for (i = 0; cc && i < 50; i++) {
            snprintf(nm, sizeof nm, "proc-%d", i);
            snprintf(want, sizeof want, "value-%d", i);
            key_of(&k, nm);
            if (llmcache_put(cc, &k, want, strlen(want), 0) != LLMCACHE_OK) bad = 1;
        }
        llmcache_close(cc);
        _exit(bad);
    }
    CHECK(pid > 0);
    if (pid > 0) waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    c = open_ns(&rc, "proc", NULL);
    CHECK(c != NULL);
    if (!c) return;
    for (i = 0; i < 50; i++) {
        snprintf(nm, sizeof nm, "proc-%d", i);
        snprintf(want, sizeof want, "value-%d", i);
        key_of(&k, nm);
        if (llmcache_get(c, &k, &v) == LLMCACHE_OK && v.len == strlen(want) && memcmp(v.data, want, v.len) == 0) ok++;
        llmcache_value_free(&v);
    }
    CHECK_EQ(ok, 50);
    CHECK_EQ(stats_of(c).redis_hits, 50);

    /* and the other way: the parent writes, a child reads */
    key_of(&k, "from-parent");
    CHECK_EQ(llmcache_put(c, &k, "hello child", 11, 0), LLMCACHE_OK);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        llmcache *cc = open_ns(&rc, "proc", NULL);
        int good = cc && llmcache_get(cc, &k, &v) == LLMCACHE_OK && v.len == 11 && memcmp(v.data, "hello child", 11) == 0;
        llmcache_value_free(&v);
        llmcache_close(cc);
        _exit(good ? 0 : 1);
    }
    status = -1;
    if (pid > 0) waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    llmcache_close(c);
}

/* ---- values that are not an intact record of their key are misses, never wrong bytes */
static void set_raw(const char *name, const void *p, size_t n) {
    redisReply *r = raw(&srv, "SET %s %b", name, p, n);
    CHECK(r && r->type == REDIS_REPLY_STATUS);
    if (r) freeReplyObject(r);
}

static void test_corrupt(void) {
    llmcache_redis_config rc = redis_cfg(&srv);
    llmcache *a = open_ns(&rc, "bad", NULL), *b;
    llmcache_key k, k2;
    llmcache_value v;
    char name[256], name2[256];
    redisReply *r;
    unsigned char rec[256];
    size_t n = 0;
    uint64_t errors;
    CHECK(a != NULL);
    if (!a) return;
    key_of(&k, "bad-1"); key_of(&k2, "bad-2");
    redis_name(name, sizeof name, "llmcache:bad:", &k);
    redis_name(name2, sizeof name2, "llmcache:bad:", &k2);
    CHECK_EQ(llmcache_put(a, &k2, "the value of key 2", 18, 0), LLMCACHE_OK);
    r = raw(&srv, "GET %s", name2);
    if (r && r->type == REDIS_REPLY_STRING && r->len <= sizeof rec) { memcpy(rec, r->str, r->len); n = r->len; }
    if (r) freeReplyObject(r);
    CHECK(n == 104);

    b = open_ns(&rc, "bad", NULL);
    CHECK(b != NULL);
    if (!b) { llmcache_close(a); return; }
    set_raw(name, "garbage", 7);
    CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_MISS);
    CHECK(v.data == NULL && v.len == 0);
    CHECK_EQ(stats_of(b).redis_errors, 1);
    CHECK_EQ(stats_of(b).misses, 1);
    CHECK_EQ(stats_of(b).entries, 0);

    set_raw(name, rec, n);                                /* an intact record, of another key */
    CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_MISS);
    CHECK_EQ(stats_of(b).redis_errors, 2);

    rec[90] ^= 1;                                         /* a flipped bit in the value */
    set_raw(name2, rec, n);
    CHECK_EQ(llmcache_get(b, &k2, &v), LLMCACHE_MISS);
    rec[90] ^= 1;
    set_raw(name2, rec, n - 8);                           /* cut short */
    CHECK_EQ(llmcache_get(b, &k2, &v), LLMCACHE_MISS);
    set_raw(name2, rec, n);                               /* intact again */
    CHECK_EQ(llmcache_get(b, &k2, &v), LLMCACHE_OK);
    CHECK_MEM(v.data, v.len, "the value of key 2", 18);
    llmcache_value_free(&v);
    CHECK_EQ(stats_of(b).redis_errors, 4);
    CHECK_EQ(stats_of(b).redis_breaker_opens, 0);         /* bad data is not a sick server */

    /* an error reply (WRONGTYPE) fails open too */
    r = raw(&srv, "DEL %s", name);
    if (r) freeReplyObject(r);
    r = raw(&srv, "RPUSH %s x", name);
    if (r) freeReplyObject(r);
    errors = stats_of(b).redis_errors;
    CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_MISS);
    CHECK_EQ(stats_of(b).redis_errors, errors + 1);
    CHECK_EQ(llmcache_put(b, &k, "fresh", 5, 0), LLMCACHE_OK);   /* SET replaces the list */
    llmcache_close(a);
    a = open_ns(&rc, "bad", NULL);
    CHECK(a && llmcache_get(a, &k, &v) == LLMCACHE_OK);
    CHECK_MEM(v.data, v.len, "fresh", 5);
    llmcache_value_free(&v);
    llmcache_close(a);
    llmcache_close(b);
}

/* ---- AUTH */
static void test_auth(void) {
    redis_server ps;
    llmcache_redis_config good, bad;
    llmcache *a, *b, *w;
    llmcache_key k;
    llmcache_value v;
    char name[256];
    memset(&ps, 0, sizeof ps);
    strcpy(ps.password, "s3cret pass");
    CHECK_EQ(redis_server_start(&ps), 0);
    if (!ps.pid) return;
    good = redis_cfg(&ps);
    good.password = "s3cret pass";
    bad = good;
    bad.password = "wrong";
    key_of(&k, "auth-1");
    a = open_ns(&good, "auth", NULL);
    b = open_ns(&good, "auth", NULL);
    w = open_ns(&bad, "auth", NULL);
    CHECK(a && b && w);
    if (a && b && w) {
        CHECK_EQ(llmcache_put(a, &k, "secret", 6, 0), LLMCACHE_OK);
        CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_OK);
        CHECK_MEM(v.data, v.len, "secret", 6);
        llmcache_value_free(&v);
        CHECK_EQ(llmcache_get(w, &k, &v), LLMCACHE_MISS);   /* refused: a miss, counted */
        CHECK_EQ(stats_of(w).redis_errors, 1);
        key_of(&k, "auth-2");
        CHECK_EQ(llmcache_put(w, &k, "local", 5, 0), LLMCACHE_OK);
        redis_name(name, sizeof name, "llmcache:auth:", &k);
        CHECK_EQ(raw_int(&ps, "EXISTS", name), 0);
    }
    llmcache_close(a);
    llmcache_close(b);
    llmcache_close(w);
    redis_server_stop(&ps);
}

/* ---- configuration */
static void test_config(void) {
    llmcache_redis_config rc = redis_cfg(&srv);
    llmcache_config cfg;
    llmcache *c = NULL;
    llmcache_key k;
    llmcache_value v;
    char longp[1100];
    memset(&cfg, 0, sizeof cfg);
    cfg.redis = &rc;
    rc.port = 70000;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    rc = redis_cfg(&srv);
    rc.command_timeout_ms = -1;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    rc = redis_cfg(&srv);
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    rc.prefix = longp;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    CHECK(c == NULL);
    /* nobody listens there: open still works, and so does the cache */
    rc = redis_cfg(&srv);
    rc.port = redis_server_free_port();
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (c) {
        key_of(&k, "nobody");
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_MISS);
        CHECK_EQ(llmcache_put(c, &k, "x", 1, 0), LLMCACHE_OK);
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
        llmcache_value_free(&v);
        CHECK_EQ(stats_of(c).redis_errors, 2);
        CHECK_EQ(stats_of(c).redis_connects, 0);
        llmcache_close(c);
    }
}

/* ---- call-through: a second handle's llmcache_call is answered from Redis */
typedef struct transport_ctx {
    const char *body;
    int status;
    int sleep_ms;
    int calls;
    const char *count_file;   /* when set, each call appends a line to it */
    int fail_first;           /* with count_file: 500 while the file is empty */
} transport_ctx;

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    int n = 0, ch;
    if (!f) return 0;
    while ((ch = fgetc(f)) != EOF) if (ch == '\n') n++;
    fclose(f);
    return n;
}

static int transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    transport_ctx *t = (transport_ctx *)ctx;
    int status = t->status ? t->status : 200;
    (void)req;
    t->calls++;
    if (t->count_file) {
        int fd;
        if (t->fail_first && count_lines(t->count_file) == 0) status = 500;
        fd = open(t->count_file, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd >= 0) { if (write(fd, "x\n", 2) != 2) status = -1; close(fd); }
    }
    if (t->sleep_ms) redis_server_sleep_ms(t->sleep_ms);
    llmcache_sink_write(sink, t->body, strlen(t->body));
    return status;
}

static llmcache_request request(const char *body) {
    llmcache_request req;
    memset(&req, 0, sizeof req);
    req.endpoint = "https://api.example.com/v1/chat/completions";
    req.body = body;
    req.body_len = strlen(body);
    return req;
}

static void test_call_through(void) {
    llmcache_redis_config rc = redis_cfg(&srv);
    llmcache *a = open_ns(&rc, "call", NULL), *b = open_ns(&rc, "call", NULL);
    llmcache_request req = request("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    const char *answer = "{\"id\":\"x\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}";
    transport_ctx t;
    llmcache_response r1, r2;
    memset(&t, 0, sizeof t);
    t.body = answer;
    CHECK(a && b);
    if (!a || !b) { llmcache_close(a); llmcache_close(b); return; }
    CHECK_EQ(llmcache_call(a, &req, transport, &t, NULL, &r1), LLMCACHE_OK);
    CHECK_EQ(r1.from_cache, 0);
    CHECK_EQ(r1.stored, 1);
    CHECK_EQ(llmcache_call(b, &req, transport, &t, NULL, &r2), LLMCACHE_OK);
    CHECK_EQ(r2.from_cache, 1);
    CHECK_EQ(t.calls, 1);
    CHECK_MEM(r2.body, r2.len, answer, strlen(answer));
    CHECK_EQ(r2.meta.status, 200);
    CHECK_EQ(r2.meta.prompt_tokens, 5);
    CHECK_EQ(r2.meta.completion_tokens, 7);
    CHECK(r2.meta.flags & LLMCACHE_META_ENVELOPE);
    CHECK_EQ(r2.created_ms, r1.created_ms);
    CHECK_EQ(stats_of(b).redis_hits, 1);
    CHECK_EQ(stats_of(b).hits, 1);
    CHECK_EQ(stats_of(b).misses, 0);
    llmcache_response_free(&r1);
    llmcache_response_free(&r2);
    llmcache_close(a);
    llmcache_close(b);
}

/* ---- single-flight across processes */
/* Forks two workers that wait on a pipe, then make the same call; returns how many
 * transport calls were made (lines in the count file); sets each worker's exit code
 * (10 + from_cache when the call returned the expected body, 1 otherwise). */
static int two_workers(const char *body, int64_t lock_ms, int fail_first, int codes[2]) {
    llmcache_redis_config rc = redis_cfg(&srv);
    char count_file[128];
    int go[2], i, n;
    pid_t pids[2];
    snprintf(count_file, sizeof count_file, "/tmp/llmcache-test-redis-sf-%d", (int)getpid());
    unlink(count_file);
    if (pipe(go) != 0) return -1;
    fflush(NULL);
    for (i = 0; i < 2; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            llmcache *c = open_ns(&rc, "sf", NULL);
            llmcache_request req = request(body);
            llmcache_call_options o;
            llmcache_response r;
            transport_ctx t;
            const char *answer = "{\"answer\":42}";
            char b;
            int code = 1, rcode;
            close(go[1]);
            memset(&t, 0, sizeof t);
            t.body = answer;
            t.sleep_ms = 400;
            t.count_file = count_file;
            t.fail_first = fail_first;
            memset(&o, 0, sizeof o);
            o.redis_lock_ms = lock_ms;
            if (read(go[0], &b, 1) != 1) _exit(2);
            rcode = c ? llmcache_call(c, &req, transport, &t, &o, &r) : LLMCACHE_EINVAL;
            if (rcode == LLMCACHE_OK && r.len == strlen(answer) && memcmp(r.body, answer, r.len) == 0)
                code = 10 + r.from_cache;
            else if (rcode == LLMCACHE_EHTTP && fail_first)
                code = 20;
            llmcache_response_free(&r);
            llmcache_close(c);
            _exit(code);
        }
    }
    close(go[0]);
    redis_server_sleep_ms(100);                          /* both are waiting on the pipe */
    if (write(go[1], "gg", 2) != 2) return -1;
    close(go[1]);
    for (i = 0; i < 2; i++) {
        int status = -1;
        if (pids[i] > 0) waitpid(pids[i], &status, 0);
        codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    n = count_lines(count_file);
    unlink(count_file);
    return n;
}

static void test_single_flight(void) {
    int codes[2];
    llmcache_key k;
    char name[256];
    llmcache_request req = request("{\"q\":\"single flight\"}");
    CHECK_EQ(two_workers(req.body, 5000, 0, codes), 1);      /* one transport call in all */
    CHECK_MSG((codes[0] == 10 && codes[1] == 11) || (codes[0] == 11 && codes[1] == 10),
              "exit codes %d %d", codes[0], codes[1]);
    llmcache_key_for(&k, "sf", &req);
    redis_name(name, sizeof name, "llmcache:sf:lock:", &k);
    CHECK_EQ(raw_int(&srv, "EXISTS", name), 0);              /* the lock was released */
    /* without the option both call */
    CHECK_EQ(two_workers("{\"q\":\"no lock\"}", 0, 0, codes), 2);
    CHECK(codes[0] == 10 && codes[1] == 10);
    /* the holder fails (HTTP 500, not stored): the other takes over and calls */
    CHECK_EQ(two_workers("{\"q\":\"holder fails\"}", 5000, 1, codes), 2);
    CHECK_MSG((codes[0] == 20 && codes[1] == 10) || (codes[0] == 10 && codes[1] == 20),
              "exit codes %d %d", codes[0], codes[1]);
}

/* ---- Redis frozen, then killed, then back: fail open within the timeouts */
#define CMD_MS 100
#define LIMIT_MS (2 * CMD_MS)

static int64_t worst_ms;
static int timed_get(llmcache *c, const char *name) {
    llmcache_key k;
    llmcache_value v;
    int64_t t0 = mono_ms(), dt;
    int rc;
    key_of(&k, name);
    rc = llmcache_get(c, &k, &v);
    dt = mono_ms() - t0;
    if (dt > worst_ms) worst_ms = dt;
    llmcache_value_free(&v);
    return rc;
}
static int timed_put(llmcache *c, const char *name) {
    llmcache_key k;
    int64_t t0 = mono_ms(), dt;
    int rc;
    key_of(&k, name);
    rc = llmcache_put(c, &k, name, strlen(name), 0);
    dt = mono_ms() - t0;
    if (dt > worst_ms) worst_ms = dt;
    return rc;
}

static void test_down(void) {
    redis_server ds;
    llmcache_redis_config rc;
    llmcache *c;
    llmcache_key k;
    llmcache_response r;
    llmcache_request req;
    transport_ctx t;
    char name[256];
    int64_t t0;
    int i;
    memset(&ds, 0, sizeof ds);
    CHECK_EQ(redis_server_start(&ds), 0);
    if (!ds.pid) return;
    rc = redis_cfg(&ds);
    rc.connect_timeout_ms = CMD_MS;
    rc.command_timeout_ms = CMD_MS;
    rc.breaker_failures = 3;
    rc.breaker_cooldown_ms = 700;
    c = open_ns(&rc, "down", NULL);
    CHECK(c != NULL);
    if (!c) { redis_server_stop(&ds); return; }
    memset(&t, 0, sizeof t);
    t.body = "{\"fresh\":true}";
    CHECK_EQ(timed_put(c, "before"), LLMCACHE_OK);
    CHECK_EQ(stats_of(c).redis_puts, 1);

    /* frozen: connections are accepted by the kernel, commands time out */
    kill(ds.pid, SIGSTOP);
    worst_ms = 0;
    CHECK_EQ(timed_get(c, "absent-1"), LLMCACHE_MISS);
    CHECK_EQ(stats_of(c).redis_errors, 1);
    CHECK_EQ(timed_get(c, "before"), LLMCACHE_OK);       /* a local hit never asks Redis */
    CHECK_EQ(timed_put(c, "frozen-put"), LLMCACHE_OK);
    CHECK_EQ(timed_get(c, "frozen-put"), LLMCACHE_OK);
    CHECK_EQ(stats_of(c).redis_breaker_opens, 0);
    CHECK_EQ(timed_get(c, "absent-2"), LLMCACHE_MISS);
    CHECK_MSG(worst_ms <= LIMIT_MS, "slowest call %lld ms (timeout %d ms)", (long long)worst_ms, CMD_MS);
    CHECK_EQ(stats_of(c).redis_errors, 3);
    CHECK_EQ(stats_of(c).redis_breaker_opens, 1);
    CHECK_EQ(stats_of(c).redis_breaker_open, 1);
    /* open breaker: Redis is not tried at all */
    worst_ms = 0;
    for (i = 0; i < 20; i++) CHECK_EQ(timed_get(c, "absent-3"), LLMCACHE_MISS);
    CHECK_EQ(timed_put(c, "skipped-put"), LLMCACHE_OK);
    CHECK_MSG(worst_ms < 20, "slowest call with the breaker open %lld ms", (long long)worst_ms);
    CHECK_EQ(stats_of(c).redis_skipped, 21);
    CHECK_EQ(stats_of(c).redis_errors, 3);
    req = request("{\"q\":\"while frozen\"}");
    t0 = mono_ms();
    CHECK_EQ(llmcache_call(c, &req, transport, &t, NULL, &r), LLMCACHE_OK);
    CHECK_EQ(t.calls, 1);
    CHECK_MEM(r.body, r.len, t.body, strlen(t.body));
    CHECK(mono_ms() - t0 < 50);
    llmcache_response_free(&r);

    /* thawed: after the cooldown one probe closes the breaker */
    kill(ds.pid, SIGCONT);
    redis_server_sleep_ms(rc.breaker_cooldown_ms + 100);
    CHECK_EQ(timed_get(c, "absent-4"), LLMCACHE_MISS);
    CHECK_EQ(stats_of(c).redis_breaker_open, 0);
    CHECK_EQ(stats_of(c).redis_misses, 1);
    CHECK_EQ(timed_put(c, "thawed"), LLMCACHE_OK);
    key_of(&k, "thawed");
    redis_name(name, sizeof name, "llmcache:down:", &k);
    CHECK_EQ(raw_int(&ds, "EXISTS", name), 1);

    /* killed: connections are refused */
    redis_server_stop_with(&ds, SIGKILL);
    worst_ms = 0;
    CHECK_EQ(timed_get(c, "absent-5"), LLMCACHE_MISS);
    CHECK_EQ(timed_get(c, "thawed"), LLMCACHE_OK);
    CHECK_EQ(timed_put(c, "killed-put"), LLMCACHE_OK);
    req = request("{\"q\":\"while killed\"}");
    CHECK_EQ(llmcache_call(c, &req, transport, &t, NULL, &r), LLMCACHE_OK);   /* the 3rd failure is in here */
    CHECK_EQ(t.calls, 2);
    CHECK_MEM(r.body, r.len, t.body, strlen(t.body));
    llmcache_response_free(&r);
    CHECK_EQ(timed_get(c, "absent-6"), LLMCACHE_MISS);
    CHECK_MSG(worst_ms <= LIMIT_MS, "slowest call %lld ms (timeout %d ms)", (long long)worst_ms, CMD_MS);
    CHECK_EQ(stats_of(c).redis_breaker_opens, 2);
    CHECK_EQ(stats_of(c).redis_breaker_open, 1);

    /* restarted on the same port: after the cooldown the breaker closes and puts land */
    CHECK_EQ(redis_server_start(&ds), 0);
    redis_server_sleep_ms(rc.breaker_cooldown_ms + 100);
    CHECK_EQ(timed_put(c, "after"), LLMCACHE_OK);
    CHECK_EQ(stats_of(c).redis_breaker_open, 0);
    key_of(&k, "after");
    redis_name(name, sizeof name, "llmcache:down:", &k);
    CHECK_EQ(raw_int(&ds, "EXISTS", name), 1);
    {
        llmcache *fresh = open_ns(&rc, "down", NULL);
        llmcache_value v;
        CHECK(fresh && llmcache_get(fresh, &k, &v) == LLMCACHE_OK);
        CHECK_MEM(v.data, v.len, "after", 5);
        llmcache_value_free(&v);
        llmcache_close(fresh);
    }
    llmcache_close(c);
    redis_server_stop(&ds);
}

/* ---- several threads on one handle */
typedef struct thread_arg { llmcache *c; int id, bad; } thread_arg;

static void *worker(void *p) {
    thread_arg *a = (thread_arg *)p;
    int i;
    for (i = 0; i < 200; i++) {
        char nm[32];
        llmcache_key k;
        llmcache_value v;
        int rc;
        snprintf(nm, sizeof nm, "thr-%d", (i * 7 + a->id) % 64);
        key_of(&k, nm);
        if (i % 3 == 0) { if (llmcache_put(a->c, &k, nm, strlen(nm), 0) != LLMCACHE_OK) a->bad++; continue; }
        rc = llmcache_get(a->c, &k, &v);
        if (rc == LLMCACHE_OK && (v.len != strlen(nm) || memcmp(v.data, nm, v.len) != 0)) a->bad++;
        if (rc != LLMCACHE_OK && rc != LLMCACHE_MISS) a->bad++;
        llmcache_value_free(&v);
    }
    return NULL;
}

static void test_threads(void) {
    llmcache_redis_config rc = redis_cfg(&srv);
    llmcache_config cfg;
    llmcache *c = NULL;
    pthread_t th[8];
    thread_arg args[8];
    int i, bad = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = "threads";
    cfg.redis = &rc;
    cfg.max_entries = 16;                                 /* so gets keep going to Redis */
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (!c) return;
    for (i = 0; i < 8; i++) {
        args[i].c = c; args[i].id = i; args[i].bad = 0;
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (i = 0; i < 8; i++) { pthread_join(th[i], NULL); bad += args[i].bad; }
    CHECK_EQ(bad, 0);
    CHECK(stats_of(c).redis_hits > 0);
    CHECK_EQ(stats_of(c).redis_errors, 0);
    CHECK(stats_of(c).redis_connects <= 8 + 8);
    llmcache_close(c);
}

static pid_t owner;
static void cleanup(void) { if (getpid() == owner) redis_server_stop(&srv); }

int main(void) {
    owner = getpid();
    memset(&srv, 0, sizeof srv);
    if (redis_server_start(&srv) != 0) {
        fprintf(stderr, "test_redis: could not start redis-server (apt-get install redis-server)\n");
        CHECK(0);
        return TEST_REPORT();
    }
    atexit(cleanup);
    test_config();
    test_round_trip();
    test_ttl();
    test_processes();
    test_corrupt();
    test_auth();
    test_call_through();
    test_single_flight();
    test_threads();
    test_down();
    redis_server_stop(&srv);
    return TEST_REPORT();
}
