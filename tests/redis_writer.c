/* tests/redis_writer.c: the C side of tests/test_redis_python.py. It stores entries in
 * Redis through llmcache (a fresh memory-only handle on 127.0.0.1:PORT each run) and
 * reads entries Python wrote. Built by tests/test_redis_python.sh:
 *   cc -std=c99 -I. -DLLMCACHE_REDIS -o redis_writer tests/redis_writer.c -lhiredis -lpthread -lm
 * Commands (strings are passed as is; hex is lowercase):
 *   call PORT NS ENDPOINT BODY SCHEMA|- RESPONSE STREAM MODEL|-
 *        llmcache_call with ttl 60 s; the transport answers 200 with RESPONSE (an SSE
 *        stream when STREAM is 1); a parse callback adds MODEL unless it is "-".
 *        Prints "key HEX".
 *   put PORT NS KEYHEX VALUEHEX    llmcache_put, no TTL. Prints "ok".
 *   get PORT NS KEYHEX             llmcache_get. Prints "ok VALUEHEX CREATED EXPIRES STATUS
 *                                  FLAGS" or "miss", then "errors N" (stats.redis_errors).
 * Exit status 0 when the command worked. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include <stdio.h>
#include <stdlib.h>

static const char *response, *model;

static int transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    (void)ctx; (void)req;
    return llmcache_sink_write(sink, response, strlen(response)) == LLMCACHE_OK ? 200 : -1;
}

static int parse(void *ctx, const llmcache_response *resp, llmcache_sink *out) {
    (void)ctx; (void)resp;
    return llmcache_sink_write(out, model, strlen(model));
}

static int unhex(const char *hex, unsigned char **out, size_t *len) {
    size_t n = strlen(hex), i;
    unsigned char *p = (unsigned char *)malloc(n / 2 + 1);
    if (!p || n % 2) { free(p); return -1; }
    for (i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) { free(p); return -1; }
        p[i] = (unsigned char)v;
    }
    *out = p;
    *len = n / 2;
    return 0;
}

int main(int argc, char **argv) {
    llmcache_redis_config rc;
    llmcache_config cfg;
    llmcache *c = NULL;
    llmcache_key key;
    int status = 1;
    if (argc < 4) { fprintf(stderr, "usage: see the comment at the top of tests/redis_writer.c\n"); return 2; }
    memset(&rc, 0, sizeof rc);
    rc.port = atoi(argv[2]);
    rc.command_timeout_ms = 2000;
    rc.connect_timeout_ms = 2000;
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = argv[3];
    cfg.redis = &rc;
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) { fprintf(stderr, "llmcache_open failed\n"); return 1; }
    if (strcmp(argv[1], "call") == 0 && argc == 10) {
        llmcache_request req;
        llmcache_call_options o;
        llmcache_response r;
        char hex[65];
        int rc2;
        memset(&req, 0, sizeof req);
        req.endpoint = argv[4];
        req.body = argv[5]; req.body_len = strlen(argv[5]);
        if (strcmp(argv[6], "-") != 0) { req.schema = argv[6]; req.schema_len = strlen(argv[6]); }
        req.stream = atoi(argv[8]);
        response = argv[7];
        model = argv[9];
        memset(&o, 0, sizeof o);
        o.ttl_ms = 60000;
        if (strcmp(model, "-") != 0) o.parse = parse;
        rc2 = llmcache_call(c, &req, transport, NULL, &o, &r);
        if (rc2 == LLMCACHE_OK && r.stored) {
            llmcache_key_hex(&r.key, hex);
            printf("key %s\n", hex);
            status = 0;
        } else {
            fprintf(stderr, "llmcache_call: %s (stored %d)\n", llmcache_result_string(rc2), r.stored);
        }
        llmcache_response_free(&r);
    } else if (strcmp(argv[1], "put") == 0 && argc == 6) {
        unsigned char *v = NULL;
        size_t n = 0;
        if (llmcache_key_parse(&key, argv[4], strlen(argv[4])) == LLMCACHE_OK && unhex(argv[5], &v, &n) == 0 &&
            llmcache_put(c, &key, v, n, 0) == LLMCACHE_OK) {
            llmcache_stats st;
            llmcache_stats_get(c, &st);
            if (st.redis_puts == 1) { printf("ok\n"); status = 0; }
        }
        free(v);
    } else if (strcmp(argv[1], "get") == 0 && argc == 5) {
        llmcache_value v;
        llmcache_stats st;
        if (llmcache_key_parse(&key, argv[4], strlen(argv[4])) == LLMCACHE_OK) {
            int g = llmcache_get(c, &key, &v);
            size_t i;
            if (g == LLMCACHE_OK) {
                printf("ok ");
                for (i = 0; i < v.len; i++) printf("%02x", (unsigned char)v.data[i]);
                if (v.len == 0) printf("-");
                printf(" %lld %lld %d %u\n", (long long)v.created_ms, (long long)v.expires_ms, (int)v.meta.status,
                       (unsigned)v.meta.flags);
                status = 0;
            } else if (g == LLMCACHE_MISS) {
                printf("miss\n");
                status = 0;
            }
            llmcache_value_free(&v);
            llmcache_stats_get(c, &st);
            printf("errors %llu\n", (unsigned long long)st.redis_errors);
        }
    } else {
        fprintf(stderr, "redis_writer: bad command line\n");
    }
    llmcache_close(c);
    return status;
}
