/* tests/test_redis_hostile.c: the Redis tier (>>redis, docs/REDIS.md "fail open, never
 * hang") against a hostile RESP server this program runs in a thread on 127.0.0.1 (an
 * ephemeral port): a reply dripped one byte per 100 ms, "*2147483647", "$3000000000"
 * and endless bytes, an endless status line, wrong reply types, an error reply, nested
 * arrays, a server that never answers and one that never reads. With
 * command_timeout_ms = 200 every get, put and delete comes back (from the local tier,
 * failing open) well within 1 s, counts a Redis error, and the process does not grow
 * (its peak RSS).
 * Then, as a cluster's seed node and as the sentinels: the same bounds on CLUSTER
 * SLOTS and SENTINEL replies, a node that redirects to itself for ever (-MOVED,
 * -ASK) and one that says -CLUSTERDOWN: each operation fails open in time.
 * Then a real redis-server holding a value over the reply bound: refused, the
 * connection dropped, and the same handle reconnects and works. Run from the
 * repository root (make build/tests/test_redis_hostile). */
#define LLMCACHE_MAX_VALUE ((size_t)8 << 20)   /* the bulk bound follows it: 8 MiB + a record */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include "redis_server.h"
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>

enum { H_DRIP, H_ARRAY, H_BULK, H_LINE, H_INT, H_ERR, H_NESTED, H_SILENT, H_NOREAD, H_MOVED, H_ASK, H_DOWN };
static const char *const mode_names[] = {
    "drip", "*2147483647", "$3000000000", "endless line", ":1", "-ERR x", "nested arrays", "silent", "never reads",
    "-MOVED to self", "-ASK to self", "-CLUSTERDOWN"
};
static const char *const topology_names[] = {"", "cluster ", "sentinel "};

static struct {
    pthread_mutex_t mu;
    int mode, stop, idle, port, fd;   /* idle: waiting for a client */
} hs;

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int hs_get(int *field) {
    int v;
    pthread_mutex_lock(&hs.mu);
    v = *field;
    pthread_mutex_unlock(&hs.mu);
    return v;
}

static void hs_set(int *field, int v) {
    pthread_mutex_lock(&hs.mu);
    *field = v;
    pthread_mutex_unlock(&hs.mu);
}

/* Sends all of p; 0 when the client is gone (or the server stops). */
static int hs_send(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0 || hs_get(&hs.stop)) return 0;
        p += k;
        n -= (size_t)k;
    }
    return 1;
}

/* Sends head, then fill repeated up to total bytes (bounded), or until the client leaves. */
static void hs_flood(int fd, const char *head, const char *fill, size_t total) {
    static char chunk[65536];
    size_t fl = strlen(fill), i, sent = 0;
    for (i = 0; i + fl <= sizeof chunk; i += fl) memcpy(chunk + i, fill, fl);
    if (!hs_send(fd, head, strlen(head))) return;
    while (sent < total && hs_send(fd, chunk, i)) sent += i;
}

/* Answers one command the way the current mode says. */
static void hs_answer(int fd, int mode) {
    static const char nested[] = "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n";
    char drip[300];
    size_t i;
    int n;
    switch (mode) {
    case H_DRIP:   /* a well-formed bulk reply of 250 bytes, one byte per 100 ms (> 25 s) */
        memset(drip, 'x', sizeof drip);
        memcpy(drip, "$250\r\n", 6);
        memcpy(drip + 256, "\r\n", 2);
        for (i = 0; i < 258 && hs_send(fd, drip + i, 1); i++) {
            struct pollfd p;                  /* 100 ms, or less when the client leaves */
            p.fd = fd; p.events = POLLIN; p.revents = 0;
            if (poll(&p, 1, 100) != 0) break;
        }
        break;
    case H_ARRAY:  hs_flood(fd, "*2147483647\r\n", ":1\r\n", (size_t)16 << 20); break;
    case H_BULK:   hs_flood(fd, "$3000000000\r\n", "x", (size_t)64 << 20); break;
    case H_LINE:   hs_flood(fd, "+", "a", (size_t)64 << 20); break;
    case H_INT:    hs_send(fd, ":1\r\n", 4); break;
    case H_ERR:    hs_send(fd, "-ERR x\r\n", 8); break;
    case H_NESTED: hs_send(fd, nested, sizeof nested - 1); break;
    case H_MOVED:
    case H_ASK:
        n = snprintf(drip, sizeof drip, "-%s 3999 127.0.0.1:%d\r\n", mode == H_MOVED ? "MOVED" : "ASK", hs_get(&hs.port));
        hs_send(fd, drip, (size_t)n);
        break;
    case H_DOWN:   hs_send(fd, "-CLUSTERDOWN The cluster is down\r\n", 34); break;
    default:       break;   /* silent */
    }
}

/* One client at a time: reads a command (any bytes), answers per mode, until it leaves. */
static void hs_serve(int fd) {
    char buf[65536];
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);   /* nothing here blocks for long */
    while (!hs_get(&hs.stop)) {
        struct pollfd p;
        int mode = hs_get(&hs.mode);
        ssize_t k;
        if (mode == H_NOREAD) { redis_server_sleep_ms(20); continue; }
        p.fd = fd; p.events = POLLIN; p.revents = 0;
        if (poll(&p, 1, 50) <= 0) continue;
        k = recv(fd, buf, sizeof buf, 0);
        if (k <= 0) break;
        hs_answer(fd, mode);
    }
    close(fd);
}

static void *hs_main(void *arg) {
    (void)arg;
    while (!hs_get(&hs.stop)) {
        struct pollfd p;
        int fd;
        p.fd = hs.fd; p.events = POLLIN; p.revents = 0;
        hs_set(&hs.idle, 1);
        if (poll(&p, 1, 50) <= 0) continue;
        hs_set(&hs.idle, 0);
        fd = accept(hs.fd, NULL, NULL);
        if (fd >= 0) hs_serve(fd);
    }
    return NULL;
}

static int hs_start(pthread_t *t) {
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    pthread_mutex_init(&hs.mu, NULL);
    hs.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (hs.fd < 0) return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(hs.fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(hs.fd, 16) != 0 ||
        getsockname(hs.fd, (struct sockaddr *)&a, &n) != 0)
        return -1;
    hs.port = ntohs(a.sin_port);
    return pthread_create(t, NULL, hs_main, NULL) == 0 ? 0 : -1;
}

/* The peak resident bytes of this process (VmHWM), after resetting the peak to the
 * current size when the kernel allows (Linux >= 4.0: "5" to clear_refs). */
static long long rss_peak(int reset) {
    char line[256];
    long long kb = 0;
    FILE *f;
    if (reset && (f = fopen("/proc/self/clear_refs", "w")) != NULL) {
        fputs("5", f);
        fclose(f);
    }
    if ((f = fopen("/proc/self/status", "r")) == NULL) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

/* A handle on 127.0.0.1:port (the server, a cluster's seed or the sentinel, as
 * topology says) whose every operation tries Redis (no breaker). */
static llmcache *open_topology(int port, int64_t command_timeout_ms, int topology) {
    llmcache_redis_config rc;
    llmcache_config cfg;
    llmcache *c = NULL;
    memset(&rc, 0, sizeof rc);
    rc.port = port;
    rc.topology = topology;
    rc.connect_timeout_ms = 200;
    rc.command_timeout_ms = command_timeout_ms;
    rc.breaker_failures = 1000000;          /* every operation tries Redis */
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = "hostile";
    cfg.redis = &rc;
    return llmcache_open(&c, &cfg) == LLMCACHE_OK ? c : NULL;
}

static llmcache *open_port(int port, int64_t command_timeout_ms) {
    return open_topology(port, command_timeout_ms, LLMCACHE_REDIS_SINGLE);
}

static llmcache_stats stats_of(llmcache *c) {
    llmcache_stats st;
    llmcache_stats_get(c, &st);
    return st;
}

static void key_of(llmcache_key *k, const char *name) { llmcache_sha256(name, strlen(name), k->bytes); }

/* ---- the reply scanner alone: whole and byte by byte */
static int scan_all(const char *p, size_t n, int want, int bytewise, int *replies) {
    llmcache__rscan s;
    size_t i;
    int ok = 1;
    memset(&s, 0, sizeof s);
    if (bytewise) for (i = 0; ok && i < n; i++) ok = llmcache__rscan_feed(&s, (const unsigned char *)p + i, 1, want);
    else ok = llmcache__rscan_feed(&s, (const unsigned char *)p, n, want);
    *replies = s.replies;
    return ok;
}

static void test_scanner(void) {
    static const struct { const char *bytes; int want; } good[] = {
        {"+OK\r\n", 1}, {"-ERR x\r\n", 1}, {":123\r\n", 1}, {"+a\rb\r\r\n", 1},
        {"$-1\r\n", 1}, {"$0\r\n\r\n", 1}, {"$5\r\nab\r\nc\r\n", 1}, {"*-1\r\n", 1}, {"*0\r\n", 1},
        {"*2\r\n$1\r\na\r\n:1\r\n", 1}, {"*2\r\n*1\r\n:1\r\n+x\r\n", 1},
        {"*16\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n", 1},
        {"+OK\r\n$-1\r\n:0\r\n", 3},
    };
    static const char *const bad[] = {
        "*17\r\n", "*1\r\n*1\r\n*1\r\n:1\r\n", "$3000000000\r\n", "*2147483647\r\n", "$-2\r\n", "$\r\n",
        "$1x\r\n", "$--1\r\n", "$-1-\r\n", "$1\n", "!\r\n", "+OK\r\n+extra\r\n",
    };
    char hdr[64], *line = (char *)malloc(LLMCACHE__REDIS_LINE_MAX + 8);
    size_t i;
    int w, replies;
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        for (w = 0; w < 2; w++) {
            CHECK_MSG(scan_all(good[i].bytes, strlen(good[i].bytes), good[i].want, w, &replies), "good %zu", i);
            CHECK_EQ(replies, good[i].want);
        }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (w = 0; w < 2; w++) CHECK_MSG(!scan_all(bad[i], strlen(bad[i]), 1, w, &replies), "bad %zu", i);
    /* the largest record (value, header, meta block, padding) passes; the bound does not */
    snprintf(hdr, sizeof hdr, "$%llu\r\n", (unsigned long long)llmcache__pad8(LLMCACHE__REC_LOAD_MAX));
    CHECK(scan_all(hdr, strlen(hdr), 1, 1, &replies));
    snprintf(hdr, sizeof hdr, "$%llu\r\n", (unsigned long long)LLMCACHE__REDIS_REPLY_MAX);
    CHECK(!scan_all(hdr, strlen(hdr), 1, 1, &replies));
    /* a line of the bound passes, one byte more does not */
    CHECK(line != NULL);
    if (!line) return;
    memset(line, 'a', LLMCACHE__REDIS_LINE_MAX + 8);
    line[0] = '+';
    memcpy(line + LLMCACHE__REDIS_LINE_MAX - 1, "\r\n", 2);
    CHECK(scan_all(line, LLMCACHE__REDIS_LINE_MAX + 1, 1, 0, &replies) && replies == 1);
    memcpy(line + LLMCACHE__REDIS_LINE_MAX - 1, "a\r\n", 3);
    CHECK(!scan_all(line, LLMCACHE__REDIS_LINE_MAX + 2, 1, 0, &replies));
    free(line);
}

/* ---- each hostile behaviour: get, put and delete come back in time, failing open */
static void test_hostile(int mode, int topology) {
    llmcache *c = open_topology(hs.port, 200, topology);
    llmcache_key k;
    llmcache_value v;
    size_t len = mode == H_NOREAD ? (size_t)7 << 20 : 100;   /* more than the socket buffers hold */
    char *val = (char *)calloc(1, len);
    long long rss0, rss1;
    int64_t t0, t_get, t_put, t_del;
    int rc_get, rc_put, rc_del, i;
    CHECK(c != NULL && val != NULL);
    if (!c || !val) { if (c) llmcache_close(c); free(val); return; }
    key_of(&k, mode_names[mode]);
    hs_set(&hs.mode, H_SILENT);                     /* a never-reads server would not see its client leave */
    for (i = 0; i < 500 && !hs_get(&hs.idle); i++) redis_server_sleep_ms(10);   /* the last case's client is gone */
    hs_set(&hs.mode, mode);
    rss0 = rss_peak(1);
    t0 = mono_ms();
    rc_get = llmcache_get(c, &k, &v);
    t_get = mono_ms() - t0;
    t0 = mono_ms();
    rc_put = llmcache_put(c, &k, val, len, 0);
    t_put = mono_ms() - t0;
    t0 = mono_ms();
    rc_del = llmcache_del(c, &k);
    t_del = mono_ms() - t0;
    rss1 = rss_peak(0);
    printf("%s%-14s get %4lld ms  put %4lld ms  del %4lld ms  redis_errors %llu  peak rss %+lld KiB\n",
           topology_names[topology], mode_names[mode], (long long)t_get, (long long)t_put, (long long)t_del, (unsigned long long)stats_of(c).redis_errors,
           (rss1 - rss0) / 1024);
    CHECK_EQ(rc_get, LLMCACHE_MISS);
    CHECK_EQ(rc_put, LLMCACHE_OK);
    CHECK_EQ(rc_del, LLMCACHE_OK);
    CHECK_MSG(t_get < 1000 && t_put < 1000 && t_del < 1000, "%s: get %lld ms, put %lld ms, del %lld ms",
              mode_names[mode], (long long)t_get, (long long)t_put, (long long)t_del);
    CHECK_MSG(stats_of(c).redis_errors >= 2, "%s: %llu errors", mode_names[mode],
              (unsigned long long)stats_of(c).redis_errors);
    CHECK_EQ(stats_of(c).redis_puts, 0);              /* no reply passed for a stored value */
    CHECK_EQ(stats_of(c).redis_hits, 0);
    if (mode == H_MOVED && topology == LLMCACHE_REDIS_CLUSTER) CHECK(stats_of(c).redis_moved >= 1);
    if (mode == H_ASK && topology == LLMCACHE_REDIS_CLUSTER) CHECK(stats_of(c).redis_asked >= 1);
    if (mode != H_NOREAD)                            /* there, the test's own 7 MiB value is in it */
        CHECK_MSG(rss1 - rss0 < (8ll << 20), "%s: the peak RSS grew by %lld KiB", mode_names[mode], (rss1 - rss0) / 1024);
    llmcache_close(c);
    free(val);
}

/* ---- a real server holding a value over the bound: refused, dropped, reconnected */
static void test_real_server(void) {
    redis_server srv;
    llmcache *a, *b;
    llmcache_key k_big, k_ok, k_max;
    llmcache_value v;
    redisContext *raw;
    redisReply *r;
    char name[128], hex[65];
    size_t over = LLMCACHE_MAX_VALUE + 4096;
    char *big = (char *)calloc(1, over);
    uint64_t connects;
    memset(&srv, 0, sizeof srv);
    CHECK(big != NULL);
    if (!big) return;
    if (redis_server_start(&srv) != 0) {
        printf("skipped: the real-server part (needs redis-server)\n");
        free(big);
        return;
    }
    a = open_port(srv.port, 10000);        /* 8 MiB values: no timing at stake here */
    b = open_port(srv.port, 10000);
    CHECK(a != NULL && b != NULL);
    key_of(&k_big, "over the bound");
    key_of(&k_ok, "ordinary");
    key_of(&k_max, "at the bound");
    raw = redis_server_connect(&srv);
    CHECK(raw != NULL);
    if (a && b && raw) {
        llmcache_key_hex(&k_big, hex);
        snprintf(name, sizeof name, "llmcache:hostile:%s", hex);
        r = (redisReply *)redisCommand(raw, "SET %s %b", name, big, over);
        CHECK(r && r->type == REDIS_REPLY_STATUS);
        if (r) freeReplyObject(r);
        CHECK_EQ(llmcache_put(a, &k_ok, "fine", 4, 0), LLMCACHE_OK);   /* connects once */
        CHECK_EQ(stats_of(a).redis_puts, 1);
        connects = stats_of(a).redis_connects;
        CHECK_EQ(connects, 1);
        CHECK_EQ(llmcache_get(a, &k_big, &v), LLMCACHE_MISS);          /* refused at its header */
        CHECK_EQ(stats_of(a).redis_errors, 1);
        CHECK_EQ(llmcache_del(a, &k_ok), LLMCACHE_OK);                 /* on a new connection */
        CHECK_EQ(stats_of(a).redis_connects, connects + 1);
        CHECK_EQ(stats_of(a).redis_errors, 1);
        CHECK_EQ(llmcache_get(b, &k_ok, &v), LLMCACHE_MISS);           /* the delete reached Redis */
        CHECK_EQ(stats_of(b).redis_misses, 1);
        /* the largest value with a meta block still fits the bound */
        {
            llmcache_meta m;
            memset(&m, 0, sizeof m);
            m.status = 200;
            CHECK_EQ(llmcache_put_ex(a, &k_max, big, LLMCACHE_MAX_VALUE, 0, &m), LLMCACHE_OK);
            CHECK_EQ(llmcache_get(b, &k_max, &v), LLMCACHE_OK);
            CHECK_EQ(v.len, LLMCACHE_MAX_VALUE);
            CHECK_EQ(v.meta.status, 200);
            llmcache_value_free(&v);
            CHECK_EQ(stats_of(b).redis_hits, 1);
            CHECK_EQ(stats_of(b).redis_errors, 0);
        }
    }
    if (raw) redisFree(raw);
    if (a) llmcache_close(a);
    if (b) llmcache_close(b);
    redis_server_stop(&srv);
    free(big);
}

int main(void) {
    pthread_t t;
    int mode;
    setvbuf(stdout, NULL, _IONBF, 0);
    test_scanner();
    if (hs_start(&t) != 0) {
        printf("could not start the hostile server\n0 passed, 1 failed\n");
        return 1;
    }
    for (mode = H_DRIP; mode <= H_NOREAD; mode++) test_hostile(mode, LLMCACHE_REDIS_SINGLE);
    for (mode = H_DRIP; mode <= H_DOWN; mode++) if (mode != H_NOREAD) test_hostile(mode, LLMCACHE_REDIS_CLUSTER);
    for (mode = H_DRIP; mode <= H_DOWN; mode++)
        if (mode == H_ARRAY || mode == H_BULK || mode == H_SILENT || mode == H_ERR || mode == H_MOVED)
            test_hostile(mode, LLMCACHE_REDIS_SENTINEL);
    hs_set(&hs.stop, 1);
    pthread_join(t, NULL);
    close(hs.fd);
    test_real_server();
    return TEST_REPORT();
}
