/* tests/test_transform_redis.c: the Redis tier (docs/REDIS.md) with a transform
 * (llmcache_config.transform, tests/toy_transform.h) against a real redis-server this
 * program starts on 127.0.0.1 (a free port, no persistence): the value in Redis is a
 * transformed record (id in its flags, no plain bytes), another handle with the
 * transform reads it (and fills its log with it), a handle without it or with another
 * id gets a miss that is counted and told, a record altered in Redis (checksum made
 * right) fails its decode, and a plain record written by a handle without a
 * transform still reads. Needs libhiredis-dev and redis-server (tests/need.sh). */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include "redis_server.h"
#include "toy_transform.h"
#include <stdlib.h>

static redis_server srv;
static toy toy_a = {0x33, 0, 0, 0};
static llmcache_transform tf_a = {5, toy_encode, toy_decode, &toy_a};
static llmcache_transform tf_b = {6, toy_encode, toy_decode, &toy_a};
static char path[256];

typedef struct events { int errors, last_result; } events;
static events ev;
static void on_event(void *ctx, const llmcache_event *e) {
    events *x = (events *)ctx;
    if (e->type != LLMCACHE_EVENT_ERROR) return;
    x->errors++;
    x->last_result = e->result;
}

static llmcache *open_h(const llmcache_transform *t, const char *p) {
    llmcache_config cfg;
    llmcache_redis_config rc;
    llmcache *c = NULL;
    memset(&cfg, 0, sizeof cfg);
    memset(&rc, 0, sizeof rc);
    rc.port = srv.port;
    rc.command_timeout_ms = 5000;
    rc.connect_timeout_ms = 5000;
    cfg.redis = &rc;
    cfg.transform = t;
    cfg.path = p;
    cfg.on_event = on_event;
    cfg.event_ctx = &ev;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    return c;
}

static void key_of(llmcache_key *k, const char *name) { llmcache_sha256(name, strlen(name), k->bytes); }

static redisReply *raw_get(redisContext *rc, const llmcache_key *k) {
    char hex[65];
    llmcache_key_hex(k, hex);
    return (redisReply *)redisCommand(rc, "GET llmcache::%s", hex);
}

int main(void) {
    llmcache *a, *b;
    llmcache_key k, kp;
    llmcache_value v;
    llmcache_stats st;
    llmcache__record r;
    redisContext *rc;
    redisReply *rep;
    if (redis_server_start(&srv) != 0) { fprintf(stderr, "cannot start redis-server\n"); return 1; }
    rc = redis_server_connect(&srv);
    CHECK(rc != NULL);
    snprintf(path, sizeof path, "/tmp/llmcache-test-xredis-%ld.log", (long)getpid());
    unlink(path);

    /* a memory-only handle writes through to Redis in the transformed form */
    a = open_h(&tf_a, NULL);
    key_of(&k, "sealed");
    CHECK_EQ(llmcache_put(a, &k, "top secret value", 16, 0), LLMCACHE_OK);
    rep = raw_get(rc, &k);
    CHECK(rep && rep->type == REDIS_REPLY_STRING);
    if (rep && rep->type == REDIS_REPLY_STRING) {
        CHECK(llmcache__rec_check((const unsigned char *)rep->str, (uint64_t)rep->len, &r));
        CHECK_EQ(r.xform, 5);
        CHECK_EQ(llmcache__ld32(r.value), 16);
        CHECK(strstr(rep->str + LLMCACHE__REC_HDR, "secret") == NULL);
    }
    if (rep) freeReplyObject(rep);
    llmcache_close(a);

    /* another handle with the transform reads it from Redis, and its log gets it */
    b = open_h(&tf_a, path);
    CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_OK);
    CHECK_MEM(v.data, v.len, "top secret value", 16);
    llmcache_value_free(&v);
    llmcache_stats_get(b, &st);
    CHECK_EQ(st.redis_hits, 1);
    llmcache_close(b);
    {   /* the log holds it transformed too */
        llmcache_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.path = path;
        cfg.transform = &tf_a;
        CHECK_EQ(llmcache_open(&b, &cfg), LLMCACHE_OK);
        CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_OK);
        llmcache_value_free(&v);
        llmcache_close(b);
    }

    /* without the transform, or with another id: a miss, counted and told */
    b = open_h(NULL, NULL);
    memset(&ev, 0, sizeof ev);
    CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_MISS);
    CHECK(v.data == NULL);
    llmcache_stats_get(b, &st);
    CHECK_EQ(st.transform_unknown, 1);
    CHECK_EQ(st.redis_errors, 1);
    CHECK_EQ(ev.errors, 1);
    CHECK_EQ(ev.last_result, LLMCACHE_ETRANSFORM);
    /* a plain value of a handle without a transform reads anywhere */
    key_of(&kp, "plain");
    CHECK_EQ(llmcache_put(b, &kp, "in the clear", 12, 0), LLMCACHE_OK);
    llmcache_close(b);
    b = open_h(&tf_b, NULL);
    CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_MISS);
    CHECK_EQ(llmcache_get(b, &kp, &v), LLMCACHE_OK);
    CHECK_MEM(v.data, v.len, "in the clear", 12);
    llmcache_value_free(&v);
    llmcache_close(b);

    /* altered in Redis, with a right checksum: the decode fails */
    rep = raw_get(rc, &k);
    if (rep && rep->type == REDIS_REPLY_STRING) {
        unsigned char *buf = (unsigned char *)malloc(rep->len);
        char hex[65];
        redisReply *set;
        memcpy(buf, rep->str, rep->len);
        CHECK(llmcache__rec_check(buf, (uint64_t)rep->len, &r));
        buf[LLMCACHE__REC_HDR + r.meta_len + 4 + 2] ^= 1;
        llmcache__st32(buf + 4, llmcache__crc32c(0, buf + 8, r.len - 8));
        llmcache_key_hex(&k, hex);
        set = (redisReply *)redisCommand(rc, "SET llmcache::%s %b", hex, buf, (size_t)rep->len);
        CHECK(set && set->type == REDIS_REPLY_STATUS);
        if (set) freeReplyObject(set);
        free(buf);
    }
    if (rep) freeReplyObject(rep);
    b = open_h(&tf_a, NULL);
    memset(&ev, 0, sizeof ev);
    CHECK_EQ(llmcache_get(b, &k, &v), LLMCACHE_MISS);
    llmcache_stats_get(b, &st);
    CHECK_EQ(st.transform_failed, 1);
    CHECK_EQ(ev.last_result, LLMCACHE_ECORRUPT);
    llmcache_close(b);

    redisFree(rc);
    redis_server_stop(&srv);
    unlink(path);
    {
        char shm[300];
        snprintf(shm, sizeof shm, "%s-shm", path);
        unlink(shm);
    }
    return TEST_REPORT();
}
