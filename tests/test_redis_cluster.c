/* tests/test_redis_cluster.c: the Redis tier on a Redis Cluster and behind Redis
 * Sentinel (section >>redis of llmcache.h, docs/REDIS.md "Deployments"), against real
 * servers this program starts on 127.0.0.1 (free ports, no persistence; they die with
 * it): CRC16 and hash tags against the specification's vector and the server's own
 * CLUSTER KEYSLOT; a six-node cluster (three masters, three replicas) with entries and
 * locks spread over all masters, entries written through one handle read through
 * another, a slot migrated while traffic runs (-ASK, then -MOVED, both counted), a
 * master killed mid-traffic and its replica promoted (no wrong value, no error, no
 * hang, the tier back); a master, a replica and three sentinels: a switchover
 * (SENTINEL FAILOVER) and then the new master killed, each failover followed. With LLMCACHE_CLUSTER_LONG=1 (make redis-cluster-long, part of
 * make check) also 2000 slots resharded by redis-cli --cluster reshard under traffic
 * from three threads. Run from the repository root:
 *   gcc -std=c99 -O1 -g -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Werror \
 *       -fsanitize=address,undefined -I. -o /tmp/test_redis_cluster tests/test_redis_cluster.c \
 *       -DLLMCACHE_REDIS -lhiredis -lpthread -lm && /tmp/test_redis_cluster */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include "redis_server.h"
#include "redis_cluster.h"
#include <pthread.h>

#define KEYS 300
#define OP_HANG_MS 8000          /* an operation slower than this counts as a hang */

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void key_of(llmcache_key *k, int i) {
    char name[32];
    snprintf(name, sizeof name, "entry-%d", i);
    llmcache_sha256(name, strlen(name), k->bytes);
}

static void value_of(char *v, size_t n, int i) { snprintf(v, n, "{\"answer\":%d,\"pad\":\"%0*d\"}", i, 40, i); }

/* DEBUG_EVENTS=1: the sentinel handles print their error events (when and what). */
static void print_event(void *ctx, const llmcache_event *ev) {
    (void)ctx;
    if (ev->type == LLMCACHE_EVENT_ERROR) fprintf(stderr, "%lld event: %s\n", (long long)mono_ms() % 100000, ev->message);
}

/* A handle on the deployment topology with the nodes given (NULL-terminated). */
static llmcache *open_topo(int topology, const char *const *nodes, size_t max_entries) {
    llmcache_redis_config rc;
    llmcache_config cfg;
    llmcache *c = NULL;
    memset(&rc, 0, sizeof rc);
    memset(&cfg, 0, sizeof cfg);
    rc.topology = topology;
    rc.nodes = nodes;
    rc.breaker_cooldown_ms = 200;
    rc.command_timeout_ms = 1000;      /* a busy 2-core machine with eight servers on it */
    cfg.ns = "cl";
    cfg.redis = &rc;
    cfg.max_entries = max_entries;
    if (getenv("DEBUG_EVENTS") && topology == LLMCACHE_REDIS_SENTINEL) cfg.on_event = print_event;
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) return NULL;
    return c;
}

static llmcache_stats stats_of(llmcache *c) {
    llmcache_stats st;
    memset(&st, 0, sizeof st);
    llmcache_stats_get(c, &st);
    return st;
}

/* ---- no servers: the slot function and the configuration */
static void test_slots(void) {
    char name[LLMCACHE__REDIS_NAME_MAX];
    struct llmcache__redis r;
    llmcache_key k;
    CHECK_EQ(llmcache__crc16("123456789", 9), 0x31C3);   /* the Redis Cluster specification's vector */
    CHECK_EQ(llmcache__redis_keyslot("{user1000}.following", 20), llmcache__redis_keyslot("{user1000}.followers", 20));
    CHECK_EQ(llmcache__redis_keyslot("{user1000}.following", 20), (int)(llmcache__crc16("user1000", 8) & 16383));
    CHECK_EQ(llmcache__redis_keyslot("foo{}{bar}", 10), (int)(llmcache__crc16("foo{}{bar}", 10) & 16383));
    CHECK_EQ(llmcache__redis_keyslot("foo{{bar}}zap", 13), (int)(llmcache__crc16("{bar", 4) & 16383));
    CHECK_EQ(llmcache__redis_keyslot("foo{bar}{zap}", 13), (int)(llmcache__crc16("bar", 3) & 16383));
    CHECK_EQ(llmcache__redis_keyslot("foo{bar", 7), (int)(llmcache__crc16("foo{bar", 7) & 16383));
    /* an entry and its lock share a slot, the tag being the key's hex digits */
    memset(&r, 0, sizeof r);
    r.topology = LLMCACHE_REDIS_CLUSTER;
    r.prefix = (char *)"app:";
    r.prefix_len = 4;
    key_of(&k, 7);
    {
        size_t n = llmcache__redis_name(&r, &k, 0, name);
        int slot = llmcache__redis_keyslot(name, n);
        CHECK(name[4] == '{' && name[n - 1] == '}');
        n = llmcache__redis_name(&r, &k, 1, name);
        CHECK_EQ(llmcache__redis_keyslot(name, n), slot);
    }
}

static void test_config(void) {
    static const char *const bad_addr[] = {"127.0.0.1", NULL}, *const bad_port[] = {"h:0", NULL},
                             *const big_port[] = {"h:65536", NULL}, *const empty[] = {NULL},
                             *const good[] = {"127.0.0.1:1", "[::1]:2", NULL};
    llmcache_redis_config rc;
    llmcache_config cfg;
    llmcache *c = NULL;
    struct { int topology, db; const char *const *nodes; const char *prefix, *master; int want; } cases[] = {
        {3, 0, NULL, NULL, NULL, LLMCACHE_EINVAL},
        {-1, 0, NULL, NULL, NULL, LLMCACHE_EINVAL},
        {LLMCACHE_REDIS_CLUSTER, 1, NULL, NULL, NULL, LLMCACHE_EINVAL},      /* a cluster has db 0 only */
        {LLMCACHE_REDIS_CLUSTER, 0, bad_addr, NULL, NULL, LLMCACHE_EINVAL},
        {LLMCACHE_REDIS_CLUSTER, 0, bad_port, NULL, NULL, LLMCACHE_EINVAL},
        {LLMCACHE_REDIS_CLUSTER, 0, big_port, NULL, NULL, LLMCACHE_EINVAL},
        {LLMCACHE_REDIS_CLUSTER, 0, empty, NULL, NULL, LLMCACHE_EINVAL},
        {LLMCACHE_REDIS_CLUSTER, 0, NULL, "app{x:", NULL, LLMCACHE_EINVAL}, /* the lock would get "{x:lock:{" */
        {LLMCACHE_REDIS_CLUSTER, 0, NULL, "app{}:", NULL, LLMCACHE_EINVAL},
        {LLMCACHE_REDIS_SENTINEL, 0, good, NULL, "", LLMCACHE_EINVAL},
        {LLMCACHE_REDIS_CLUSTER, 0, good, "app{x}:", NULL, LLMCACHE_OK},    /* one slot for all, as asked */
        {LLMCACHE_REDIS_SENTINEL, 3, good, NULL, "cache", LLMCACHE_OK},
        {LLMCACHE_REDIS_SINGLE, 0, good, NULL, NULL, LLMCACHE_OK},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&rc, 0, sizeof rc);
        memset(&cfg, 0, sizeof cfg);
        rc.topology = cases[i].topology;
        rc.db = cases[i].db;
        rc.nodes = cases[i].nodes;
        rc.prefix = cases[i].prefix;
        rc.master_name = cases[i].master;
        cfg.redis = &rc;
        CHECK_MSG(llmcache_open(&c, &cfg) == cases[i].want, "case %d", (int)i);
        llmcache_close(c);
        c = NULL;
    }
}

/* ---- traffic: threads that get and put KEYS entries while the cluster changes */
typedef struct traffic {
    llmcache *c;
    int from, to;                 /* the entries it touches */
    int stop;                     /* set by the main thread (atomically) */
    long ops, hits, wrong, errors; /* wrong: a value that is not the entry's; errors: a result other than OK/MISS */
    int64_t slowest_ms;
    pthread_t th;
} traffic;

static void *traffic_main(void *arg) {
    traffic *t = (traffic *)arg;
    unsigned seed = 12345u + (unsigned)t->from;
    char want[96];
    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
        int i = t->from + (int)((seed = seed * 1103515245u + 12345u) >> 8) % (t->to - t->from);
        llmcache_key k;
        llmcache_value v;
        int64_t t0 = mono_ms(), took;
        int rc;
        key_of(&k, i);
        value_of(want, sizeof want, i);
        if (t->ops % 4 == 3) {
            rc = llmcache_put(t->c, &k, want, strlen(want), LLMCACHE_TTL_DEFAULT);
            if (rc != LLMCACHE_OK) t->errors++;
        } else {
            rc = llmcache_get(t->c, &k, &v);
            if (rc == LLMCACHE_OK) {
                t->hits++;
                if (v.len != strlen(want) || memcmp(v.data, want, v.len) != 0) t->wrong++;
                llmcache_value_free(&v);
            } else if (rc != LLMCACHE_MISS) t->errors++;
        }
        took = mono_ms() - t0;
        if (took > t->slowest_ms) t->slowest_ms = took;
        t->ops++;
    }
    return NULL;
}

static void traffic_start(traffic *t, llmcache *c, int from, int to) {
    memset(t, 0, sizeof *t);
    t->c = c;
    t->from = from;
    t->to = to;
    if (pthread_create(&t->th, NULL, traffic_main, t) != 0) t->c = NULL;
}

static void traffic_stop(traffic *t, const char *what) {
    if (!t->c) { CHECK_MSG(0, "%s: no traffic thread", what); return; }
    __atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
    pthread_join(t->th, NULL);
    CHECK_MSG(t->ops > 0, "%s: ops %ld", what, t->ops);
    CHECK_MSG(t->wrong == 0, "%s: %ld wrong values", what, t->wrong);
    CHECK_MSG(t->errors == 0, "%s: %ld errors", what, t->errors);
    CHECK_MSG(t->slowest_ms < OP_HANG_MS, "%s: an operation took %lld ms", what, (long long)t->slowest_ms);
    printf("%-30s ops %6ld  hits %6ld  slowest %5lld ms\n", what, t->ops, t->hits, (long long)t->slowest_ms);
}

/* Polls until get of entry i through c returns its value, up to ms; 1 when it did. */
static int get_within(llmcache *c, int i, long ms) {
    int64_t end = mono_ms() + ms;
    char want[96];
    llmcache_key k;
    key_of(&k, i);
    value_of(want, sizeof want, i);
    for (;;) {                                  /* at least one try */
        llmcache_value v;
        if (llmcache_get(c, &k, &v) == LLMCACHE_OK) {
            int same = v.len == strlen(want) && memcmp(v.data, want, v.len) == 0;
            llmcache_value_free(&v);
            return same;
        }
        if (mono_ms() >= end) return 0;
        redis_server_sleep_ms(50);
    }
}

/* The Redis name of key k (lock: its lock) in a cluster, namespace "cl". */
static size_t cluster_key_name(char *name, const llmcache_key *k, int lock) {
    struct llmcache__redis r;
    memset(&r, 0, sizeof r);
    r.topology = LLMCACHE_REDIS_CLUSTER;
    r.prefix = (char *)"llmcache:cl:";
    r.prefix_len = strlen(r.prefix);
    return llmcache__redis_name(&r, k, lock, name);
}

/* The Redis name of entry i (lock: its lock). */
static size_t cluster_name(char *name, int i, int lock) {
    llmcache_key k;
    key_of(&k, i);
    return cluster_key_name(name, &k, lock);
}

static int is_master(const redis_cluster *cl, int i) {
    char id[64], mid[64];
    int m = 0;
    return cluster_node_info(cl->node[i].port, cl->node[i].port, id, &m, mid) == 0 && m;
}

/* ---- the cluster */
typedef struct lock_probe { const redis_cluster *cl; int seen[CLUSTER_NODES]; int held, calls; int entry; } lock_probe;

/* The transport of test_cluster_locks: while llmcache_call holds the lock of the
 * entry, finds it on the master that owns the entry's slot. */
static int lock_transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    lock_probe *p = (lock_probe *)ctx;
    char name[LLMCACHE__REDIS_NAME_MAX], body[96];
    int owner, slot;
    llmcache_key k;
    size_t n;
    llmcache_key_for(&k, "cl", req);
    n = cluster_key_name(name, &k, 1);
    slot = llmcache__redis_keyslot(name, n);
    owner = cluster_slot_owner(p->cl, p->cl->node[0].port, slot);
    if (owner >= 0) {
        redisReply *r = redis_at(p->cl->node[owner].port, "EXISTS %b", name, n);
        if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1) { p->held++; p->seen[owner]++; }
        if (r) freeReplyObject(r);
    }
    p->calls++;
    value_of(body, sizeof body, p->entry);
    llmcache_sink_write(sink, body, strlen(body));
    return 200;
}

static void test_cluster_locks(const redis_cluster *cl, const char *const *seeds) {
    llmcache *c = open_topo(LLMCACHE_REDIS_CLUSTER, seeds, 0);
    lock_probe p;
    int i, masters = 0, spread = 1;
    memset(&p, 0, sizeof p);
    p.cl = cl;
    CHECK(c != NULL);
    if (!c) return;
    for (i = 0; i < 60; i++) {
        llmcache_call_options o;
        llmcache_request req;
        llmcache_response resp;
        char body[64];
        memset(&o, 0, sizeof o);
        memset(&req, 0, sizeof req);
        o.redis_lock_ms = 5000;
        snprintf(body, sizeof body, "{\"n\":%d}", 1000 + i);
        req.endpoint = "https://api.example.com/v1/chat/completions";
        req.body = body;
        req.body_len = strlen(body);
        p.entry = 1000 + i;
        CHECK_EQ(llmcache_call(c, &req, lock_transport, &p, &o, &resp), LLMCACHE_OK);
        llmcache_response_free(&resp);
    }
    for (i = 0; i < CLUSTER_NODES; i++) if (p.seen[i]) masters++;
    CHECK_EQ(p.calls, 60);
    CHECK_EQ(p.held, 60);                  /* each lock was on its entry's master */
    CHECK_EQ(masters, 3);
    for (i = 0; i < CLUSTER_NODES; i++) if (p.seen[i] && !is_master(cl, i)) spread = 0;
    CHECK(spread);
    CHECK_EQ(stats_of(c).redis_errors, 0);
    llmcache_close(c);
}

static void test_cluster(void) {
    redis_cluster cl;
    const char *seed_one[2], *seed_other[2], *seed_all[CLUSTER_NODES + 1];
    char addr[CLUSTER_NODES][32], name[LLMCACHE__REDIS_NAME_MAX], lock[LLMCACHE__REDIS_NAME_MAX];
    llmcache *a, *b, *c, *d;
    llmcache_stats st;
    traffic tr[2];
    int i, j, masters = 0, total = 0, same_slot = 1, keyslot_ok = 1, first_replica = -1;
    int64_t t0 = mono_ms();
    if (cluster_start(&cl, 1000) != 0) { CHECK_MSG(0, "the cluster did not start"); return; }
    printf("cluster up in %lld ms\n", (long long)(mono_ms() - t0));
    for (i = 0; i < CLUSTER_NODES; i++) {
        snprintf(addr[i], sizeof addr[i], "127.0.0.1:%d", cl.node[i].port);
        seed_all[i] = addr[i];
        if (first_replica < 0 && !is_master(&cl, i)) first_replica = i;
    }
    seed_all[CLUSTER_NODES] = NULL;
    seed_one[0] = addr[0]; seed_one[1] = NULL;
    seed_other[0] = addr[first_replica < 0 ? 1 : first_replica]; seed_other[1] = NULL;   /* a replica redirects too */

    /* our slot of a name is the server's */
    for (i = 0; i < 200; i++) {
        size_t n = cluster_name(name, i, i & 1);
        redisReply *r = redis_at(cl.node[0].port, "CLUSTER KEYSLOT %b", name, n);
        if (!r || r->integer != llmcache__redis_keyslot(name, n)) keyslot_ok = 0;
        if (r) freeReplyObject(r);
    }
    CHECK(keyslot_ok);

    /* entries written through one handle spread over the three masters, each with its lock's slot */
    a = open_topo(LLMCACHE_REDIS_CLUSTER, seed_one, 0);
    CHECK(a != NULL);
    if (!a) { cluster_stop(&cl); return; }
    for (i = 0; i < KEYS; i++) {
        char v[96];
        llmcache_key k;
        key_of(&k, i);
        value_of(v, sizeof v, i);
        CHECK_EQ(llmcache_put(a, &k, v, strlen(v), LLMCACHE_TTL_DEFAULT), LLMCACHE_OK);
    }
    st = stats_of(a);
    CHECK_EQ(st.redis_puts, KEYS);
    CHECK_EQ(st.redis_errors, 0);
    CHECK(st.redis_topology_refreshes >= 1);
    for (i = 0; i < CLUSTER_NODES; i++) {
        redisReply *r;
        if (!is_master(&cl, i)) continue;
        masters++;
        r = redis_at(cl.node[i].port, "DBSIZE");
        CHECK_MSG(r && r->integer > KEYS / 6, "master %d holds %lld", i, r ? r->integer : -1);
        if (r) { total += (int)r->integer; freeReplyObject(r); }
        r = redis_at(cl.node[i].port, "WAIT 1 3000");       /* its replica has them too */
        if (r) freeReplyObject(r);
    }
    CHECK_EQ(masters, 3);
    CHECK_EQ(total, KEYS);
    for (i = 0; i < 50; i++) {
        size_t n = cluster_name(name, i, 0), m = cluster_name(lock, i, 1);
        if (llmcache__redis_keyslot(name, n) != llmcache__redis_keyslot(lock, m)) same_slot = 0;
    }
    CHECK(same_slot);

    /* read through another handle, seeded with a replica */
    b = open_topo(LLMCACHE_REDIS_CLUSTER, seed_other, 0);
    CHECK(b != NULL);
    if (b) {
        int got = 0;
        for (i = 0; i < KEYS; i++) got += get_within(b, i, 1);
        CHECK_EQ(got, KEYS);
        st = stats_of(b);
        CHECK_EQ(st.redis_hits, KEYS);
        CHECK_EQ(st.redis_errors, 0);
    }
    test_cluster_locks(&cl, seed_one);

    /* a slot migrated while traffic runs: -ASK while it moves, -MOVED once it moved */
    {
        size_t n = cluster_name(name, 0, 0);
        int slot = llmcache__redis_keyslot(name, n), src = cluster_slot_owner(&cl, cl.node[0].port, slot), dst = -1;
        char src_id[64], dst_id[64], mid[64];
        int m = 0, moved_ok;
        redisReply *r;
        for (i = 0; i < CLUSTER_NODES; i++) if (i != src && is_master(&cl, i)) { dst = i; break; }
        CHECK(src >= 0 && dst >= 0);
        if (src < 0 || dst < 0) goto out;
        cluster_node_info(cl.node[0].port, cl.node[src].port, src_id, &m, mid);
        cluster_node_info(cl.node[0].port, cl.node[dst].port, dst_id, &m, mid);
        c = open_topo(LLMCACHE_REDIS_CLUSTER, seed_all, 4);     /* few entries in memory: gets go to Redis */
        d = open_topo(LLMCACHE_REDIS_CLUSTER, seed_all, 4);
        CHECK(c && d);
        if (!c || !d) { llmcache_close(c); llmcache_close(d); goto out; }
        CHECK(get_within(d, 1, 2000));                        /* d reads the slot map now, before the move */
        traffic_start(&tr[0], c, 0, KEYS);
        redis_server_sleep_ms(200);
        r = redis_at(cl.node[dst].port, "CLUSTER SETSLOT %d IMPORTING %s", slot, src_id);
        CHECK(r && r->type == REDIS_REPLY_STATUS);
        if (r) freeReplyObject(r);
        r = redis_at(cl.node[src].port, "CLUSTER SETSLOT %d MIGRATING %s", slot, dst_id);
        CHECK(r && r->type == REDIS_REPLY_STATUS);
        if (r) freeReplyObject(r);
        r = redis_at(cl.node[src].port, "MIGRATE 127.0.0.1 %d %b 0 5000", cl.node[dst].port, name, n);
        CHECK(r && r->type == REDIS_REPLY_STATUS);
        if (r) freeReplyObject(r);
        CHECK(get_within(c, 0, 2000));                        /* the source says -ASK */
        CHECK(get_within(d, 0, 2000));
        CHECK(stats_of(d).redis_asked >= 1);
        redis_server_sleep_ms(200);
        for (j = 0; j < CLUSTER_NODES; j++) {
            if (!is_master(&cl, j)) continue;
            r = redis_at(cl.node[j].port, "CLUSTER SETSLOT %d NODE %s", slot, dst_id);
            CHECK(r && r->type == REDIS_REPLY_STATUS);
            if (r) freeReplyObject(r);
        }
        moved_ok = 0;
        for (j = 0; j < 40 && !moved_ok; j++) {               /* gets of entry 0 miss memory (4 entries kept) */
            for (i = 2; i < 12; i++) (void)get_within(d, i, 500);
            moved_ok = get_within(d, 0, 2000) && stats_of(d).redis_moved >= 1;
        }
        CHECK(moved_ok);
        redis_server_sleep_ms(200);
        traffic_stop(&tr[0], "cluster: slot migrated");
        st = stats_of(d);
        printf("migration: d asked %llu, moved %llu; traffic handle asked %llu, moved %llu\n",
               (unsigned long long)st.redis_asked, (unsigned long long)st.redis_moved,
               (unsigned long long)stats_of(c).redis_asked, (unsigned long long)stats_of(c).redis_moved);
        CHECK_EQ(cluster_slot_owner(&cl, cl.node[dst].port, slot), dst);
        llmcache_close(d);

        /* the long form: redis-cli moves 2000 slots back while three threads work */
        if (getenv("LLMCACHE_CLUSTER_LONG")) {
            llmcache *e = open_topo(LLMCACHE_REDIS_CLUSTER, seed_all, 4);
            llmcache_stats se;
            char cmd[512];
            int64_t t1 = mono_ms();
            d = open_topo(LLMCACHE_REDIS_CLUSTER, seed_all, 4);
            CHECK(d && e);
            if (!d || !e) { llmcache_close(d); llmcache_close(e); llmcache_close(c); goto out; }
            traffic_start(&tr[0], c, 0, KEYS);
            traffic_start(&tr[1], d, 0, KEYS);
            {
                traffic t3;
                traffic_start(&t3, e, 0, KEYS);
                snprintf(cmd, sizeof cmd, "redis-cli --cluster reshard 127.0.0.1:%d --cluster-from %s --cluster-to %s "
                         "--cluster-slots 2000 --cluster-yes > %s/reshard.log 2>&1",
                         cl.node[0].port, dst_id, src_id, cl.dir);
                CHECK_EQ(system(cmd), 0);
                redis_server_sleep_ms(500);
                traffic_stop(&t3, "cluster: 2000 slots resharded (c)");
            }
            traffic_stop(&tr[0], "cluster: 2000 slots resharded (a)");
            traffic_stop(&tr[1], "cluster: 2000 slots resharded (b)");
            se = stats_of(e);
            CHECK(se.redis_moved + stats_of(d).redis_moved + stats_of(c).redis_moved >= 1);
            printf("reshard of 2000 slots: %lld ms; e moved %llu, asked %llu\n", (long long)(mono_ms() - t1),
                   (unsigned long long)se.redis_moved, (unsigned long long)se.redis_asked);
            for (i = 0, j = 0; i < KEYS; i++) j += get_within(e, i, 1000);
            CHECK_EQ(j, KEYS);
            llmcache_close(d);
            llmcache_close(e);
        }

        /* a master killed mid-traffic, its replica promoted */
        {
            int victim = -1, replica = -1, victim_entry = -1, back, healthy[2] = {-1, -1};
            llmcache *h;
            char vid[64];
            int64_t killed;
            for (i = 0; i < CLUSTER_NODES; i++) if (i != dst && is_master(&cl, i)) { victim = i; break; }
            cluster_node_info(cl.node[0].port, cl.node[victim].port, vid, &m, mid);
            for (i = 0; i < CLUSTER_NODES; i++) {
                char id[64], his[64];
                if (cluster_node_info(cl.node[0].port, cl.node[i].port, id, &m, his) == 0 && strcmp(his, vid) == 0)
                    replica = i;
            }
            for (i = 1; i < KEYS && victim_entry < 0; i++) {
                n = cluster_name(name, i, 0);
                if (cluster_slot_owner(&cl, cl.node[0].port, llmcache__redis_keyslot(name, n)) == victim) victim_entry = i;
            }
            CHECK(victim >= 0 && replica >= 0 && victim_entry >= 0);
            if (victim < 0 || replica < 0 || victim_entry < 0) { traffic_stop(&tr[0], "x"); llmcache_close(c); goto out; }
            r = redis_at(cl.node[victim].port, "WAIT 1 3000");
            if (r) freeReplyObject(r);
            d = open_topo(LLMCACHE_REDIS_CLUSTER, seed_all, 4);
            h = open_topo(LLMCACHE_REDIS_CLUSTER, seed_all, 1);
            for (i = 1; i < KEYS && healthy[1] < 0; i++) {
                n = cluster_name(name, i, 0);
                if (cluster_slot_owner(&cl, cl.node[0].port, llmcache__redis_keyslot(name, n)) != victim)
                    healthy[healthy[0] < 0 ? 0 : 1] = i;
            }
            CHECK(h != NULL && healthy[1] > 0 && get_within(h, healthy[0], 2000));
            traffic_start(&tr[0], c, 0, KEYS);
            traffic_start(&tr[1], d, 0, KEYS);
            redis_server_sleep_ms(300);
            redis_server_stop_with(&cl.node[victim], SIGKILL);
            killed = mono_ms();
            if (h && healthy[1] > 0) {       /* the dead master's breaker opens; the others' stay closed */
                llmcache_stats sh;
                uint64_t hits0;
                for (j = 0; j < 3; j++) CHECK(!get_within(h, victim_entry, 0));
                sh = stats_of(h);
                hits0 = sh.redis_hits;
                CHECK(sh.redis_breaker_opens >= 1 && sh.redis_breaker_open == 1);
                CHECK(get_within(h, healthy[1], 2000) && get_within(h, healthy[0], 2000));
                sh = stats_of(h);
                CHECK_EQ(sh.redis_hits, hits0 + 2);          /* from Redis: one entry in memory */
                printf("master killed: its breaker open after %lld ms, the other masters served\n",
                       (long long)(mono_ms() - killed));
            }
            llmcache_close(h);
            for (j = 0; j < 600 && !is_master(&cl, replica); j++) redis_server_sleep_ms(50);
            CHECK(is_master(&cl, replica));
            printf("replica promoted %lld ms after the kill\n", (long long)(mono_ms() - killed));
            back = get_within(c, victim_entry, 20000);
            CHECK(back);
            printf("tier back for the killed master's slots %lld ms after the kill\n", (long long)(mono_ms() - killed));
            redis_server_sleep_ms(300);
            traffic_stop(&tr[0], "cluster: master killed (a)");
            traffic_stop(&tr[1], "cluster: master killed (b)");
            st = stats_of(c);
            CHECK(st.redis_errors + st.redis_skipped > 0);    /* it did notice, and failed open */
            printf("master killed: errors %llu, skipped %llu, breaker opens %llu, refreshes %llu\n",
                   (unsigned long long)st.redis_errors, (unsigned long long)st.redis_skipped,
                   (unsigned long long)st.redis_breaker_opens, (unsigned long long)st.redis_topology_refreshes);
            llmcache_close(d);
        }
        llmcache_close(c);
    }
out:
    llmcache_close(a);
    llmcache_close(b);
    cluster_stop(&cl);
}

/* ---- sentinel */
/* Puts entry i through c until server's DBSIZE is want (the write reached it), up to
 * ms; 1 when it did. */
static int put_until(llmcache *c, int i, const redis_server *server, long long want, long ms) {
    int64_t end = mono_ms() + ms;
    char v[96];
    llmcache_key k;
    key_of(&k, i);
    value_of(v, sizeof v, i);
    while (mono_ms() < end) {
        redisReply *r;
        long long n;
        if (llmcache_put(c, &k, v, strlen(v), LLMCACHE_TTL_DEFAULT) != LLMCACHE_OK) return 0;
        r = redis_at(server->port, "DBSIZE");
        n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        if (r) freeReplyObject(r);
        if (n == want) return 1;
        redis_server_sleep_ms(50);
    }
    return 0;
}

/* Polls until every sentinel names server as the master, up to 30 s. */
static int sentinels_name(const sentinel_set *ss, const redis_server *server) {
    int j, i, all = 0;
    for (j = 0; j < 600 && !all; j++) {
        for (i = 0, all = 1; i < 3 && all; i++) all = sentinel_master_port(ss, i) == server->port;
        if (!all) redis_server_sleep_ms(50);
    }
    return all;
}

/* Polls WAIT on the master until its replica acknowledged everything, up to 20 s. */
static int replica_synced(const redis_server *master) {
    int j, ok = 0;
    for (j = 0; j < 40 && !ok; j++) {
        redisReply *r = redis_at(master->port, "WAIT 1 500");
        ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (r) freeReplyObject(r);
    }
    return ok;
}

static void test_sentinel(void) {
    sentinel_set ss;
    char addr[3][32];
    const char *sentinels[4];
    llmcache *c, *d;
    llmcache_stats st;
    traffic tr;
    redisReply *r;
    redis_server *cur, *other;
    int i, j, ok = 0;
    int64_t t0 = mono_ms(), t1;
    if (sentinel_set_start(&ss, 1000) != 0) { CHECK_MSG(0, "the sentinels did not start"); return; }
    printf("sentinels up in %lld ms\n", (long long)(mono_ms() - t0));
    for (i = 0; i < 3; i++) {
        snprintf(addr[i], sizeof addr[i], "127.0.0.1:%d", ss.sentinel[i].port);
        sentinels[i] = addr[i];
    }
    sentinels[3] = NULL;
    c = open_topo(LLMCACHE_REDIS_SENTINEL, sentinels, 4);
    d = open_topo(LLMCACHE_REDIS_SENTINEL, sentinels, 4);
    CHECK(c && d);
    if (!c || !d) goto out;
    for (i = 0; i < 100; i++) {
        char v[96];
        llmcache_key k;
        key_of(&k, i);
        value_of(v, sizeof v, i);
        CHECK_EQ(llmcache_put(c, &k, v, strlen(v), LLMCACHE_TTL_DEFAULT), LLMCACHE_OK);
    }
    r = redis_at(ss.master.port, "DBSIZE");
    CHECK_MSG(r && r->integer == 100, "DBSIZE %lld", r ? r->integer : -1);   /* on the master the sentinels named */
    if (r) freeReplyObject(r);
    CHECK(replica_synced(&ss.master));
    CHECK(get_within(d, 5, 2000));

    /* a graceful failover (SENTINEL FAILOVER): the old master is demoted, the handles follow */
    t1 = mono_ms();
    for (j = 0; j < 100 && !ok; j++) {                        /* until the sentinels know the replica */
        r = redis_at(ss.sentinel[0].port, "SENTINEL FAILOVER mymaster");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r) freeReplyObject(r);
        if (!ok) redis_server_sleep_ms(100);
    }
    CHECK(ok);
    printf("sentinel: SENTINEL FAILOVER accepted after %lld ms (%d tries)\n", (long long)(mono_ms() - t1), j);
    CHECK(sentinels_name(&ss, &ss.replica));
    printf("sentinel: every sentinel names the replica after %lld ms\n", (long long)(mono_ms() - t1));
    /* a write reaches the promoted replica soon (the old master, still writable, is asked no more) */
    CHECK(put_until(c, 101, &ss.replica, 101, 5000));
    CHECK(get_within(d, 101, 20000));
    printf("sentinel: switched over, written to the new master %lld ms after SENTINEL FAILOVER\n",
           (long long)(mono_ms() - t1));
    cur = &ss.replica;
    other = &ss.master;
    r = redis_at(other->port, "REPLICAOF 127.0.0.1 %d", cur->port);   /* what the sentinels do in up to 10 s */
    if (r) freeReplyObject(r);
    CHECK(replica_synced(cur));                               /* the demoted master follows it */

    /* the master killed mid-traffic */
    traffic_start(&tr, d, 0, 100);
    redis_server_sleep_ms(300);
    redis_server_stop_with(cur, SIGKILL);
    t1 = mono_ms();
    ok = sentinels_name(&ss, other);
    CHECK(ok);
    printf("sentinels promoted the replica %lld ms after the kill\n", (long long)(mono_ms() - t1));
    CHECK(get_within(c, 50, 20000));
    CHECK(put_until(c, 102, other, 102, 20000));
    printf("sentinel: the tier wrote to the new master %lld ms after the kill\n", (long long)(mono_ms() - t1));
    redis_server_sleep_ms(300);
    traffic_stop(&tr, "sentinel: master killed");
    st = stats_of(c);
    CHECK(st.redis_topology_refreshes >= 3);
    printf("sentinel: refreshes %llu, errors %llu, skipped %llu\n", (unsigned long long)st.redis_topology_refreshes,
           (unsigned long long)st.redis_errors, (unsigned long long)st.redis_skipped);
out:
    llmcache_close(c);
    llmcache_close(d);
    sentinel_set_stop(&ss);
}

int main(void) {
    test_slots();
    test_config();
    test_cluster();
    test_sentinel();
    return TEST_REPORT();
}
