/* tests/redis_cluster.h: throwaway Redis deployments for tests/test_redis_cluster.c and
 * bench/bench_redis.c, on 127.0.0.1 with free ports, each process dying with the one
 * that started it: a cluster of three masters and three replicas (redis-cli --cluster
 * create) and a master, a replica and three redis-sentinel processes. Files (the
 * cluster's nodes.conf, the sentinels' configs) live in a temporary directory that
 * cluster_stop / sentinel_set_stop remove. Include after redis_server.h. */
#ifndef LLMCACHE_TEST_REDIS_CLUSTER_H
#define LLMCACHE_TEST_REDIS_CLUSTER_H
#include <stdarg.h>
#include <stdlib.h>

#define CLUSTER_NODES 6

#if defined(__GNUC__) || defined(__clang__)
#  define REDIS_TEST_FN static __attribute__((__unused__))   /* a user may need only some */
#else
#  define REDIS_TEST_FN static
#endif

typedef struct redis_cluster {
    redis_server node[CLUSTER_NODES];
    char dir[64];
} redis_cluster;

/* One command on a fresh plain connection to port; the reply (free it) or NULL. */
REDIS_TEST_FN redisReply *redis_at(int port, const char *fmt, ...) {
    redis_server s;
    redisContext *ctx;
    redisReply *r;
    va_list ap;
    memset(&s, 0, sizeof s);
    s.port = port;
    if (!(ctx = redis_server_connect(&s))) return NULL;
    va_start(ap, fmt);
    r = (redisReply *)redisvCommand(ctx, fmt, ap);
    va_end(ap);
    redisFree(ctx);
    return r;
}

/* Whether the reply of a command at port (a status, string or verbatim text) contains
 * want. */
REDIS_TEST_FN int redis_at_says(int port, const char *want, const char *cmd) {
    redisReply *r = redis_at(port, cmd);
    int yes = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) && r->str && strstr(r->str, want) != NULL;
    if (r) freeReplyObject(r);
    return yes;
}

/* Whether nothing listens on 127.0.0.1:port (a bind to it works). */
REDIS_TEST_FN int redis_port_free(int port) {
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    if (fd < 0) return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A free port for a cluster node: its cluster bus listens on port + 10000, which
 * must be a port too, and free. */
REDIS_TEST_FN int cluster_free_port(void) {
    int tries;
    for (tries = 0; tries < 200; tries++) {
        int port = redis_server_free_port();
        if (port > 1024 && port + 10000 <= 65535 && redis_port_free(port + 10000)) return port;
    }
    return 0;
}

REDIS_TEST_FN void redis_rmdir(const char *dir) {
    char cmd[128];
    if (!dir[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {}
}

REDIS_TEST_FN void cluster_stop(redis_cluster *cl) {
    int i;
    for (i = 0; i < CLUSTER_NODES; i++) redis_server_stop_with(&cl->node[i], SIGKILL);
    redis_rmdir(cl->dir);
}

/* Starts six cluster-enabled servers (cluster-node-timeout node_timeout_ms; the
 * healthy masters keep serving while a slot has no master), makes
 * them one cluster of three masters with a replica each, and waits until every node
 * says cluster_state:ok. 0 on success. */
REDIS_TEST_FN int cluster_start(redis_cluster *cl, int node_timeout_ms) {
    char cmd[1024], timeout[16];
    size_t len;
    int i, tries;
    memset(cl, 0, sizeof *cl);
    snprintf(cl->dir, sizeof cl->dir, "/tmp/llmcache-cluster.XXXXXX");
    if (!mkdtemp(cl->dir)) { cl->dir[0] = 0; return -1; }
    snprintf(timeout, sizeof timeout, "%d", node_timeout_ms);
    for (i = 0; i < CLUSTER_NODES; i++) {
        char port[16], conf[32];
        for (tries = 0; tries < 5; tries++) {
            char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                            "--dir", cl->dir, "--daemonize", "no", "--repl-diskless-sync-delay", "0", "--cluster-enabled", "yes",
                            "--cluster-config-file", conf, "--cluster-node-timeout", timeout,
                            "--cluster-require-full-coverage", "no", NULL};
            cl->node[i].port = cluster_free_port();
            snprintf(port, sizeof port, "%d", cl->node[i].port);
            snprintf(conf, sizeof conf, "nodes-%d.conf", cl->node[i].port);
            if (redis_proc_start(&cl->node[i], argv) == 0) break;
        }
        if (!cl->node[i].pid) { cluster_stop(cl); return -1; }
    }
    len = (size_t)snprintf(cmd, sizeof cmd, "redis-cli --cluster create");
    for (i = 0; i < CLUSTER_NODES; i++) len += (size_t)snprintf(cmd + len, sizeof cmd - len, " 127.0.0.1:%d", cl->node[i].port);
    snprintf(cmd + len, sizeof cmd - len, " --cluster-replicas 1 --cluster-yes > %s/create.log 2>&1", cl->dir);
    if (system(cmd) != 0) { cluster_stop(cl); return -1; }
    for (tries = 0; tries < 1000; tries++) {
        int ok = 1;
        for (i = 0; i < CLUSTER_NODES && ok; i++) ok = redis_at_says(cl->node[i].port, "cluster_state:ok", "CLUSTER INFO");
        if (ok) return 0;
        redis_server_sleep_ms(20);
    }
    cluster_stop(cl);
    return -1;
}

/* The node's id and role from CLUSTER NODES as port sees them: *is_master, and in
 * master_id the id of its master ("-" for a master). 0 when port knows the node. */
REDIS_TEST_FN int cluster_node_info(int port, int node_port, char id[64], int *is_master, char master_id[64]) {
    redisReply *r = redis_at(port, "CLUSTER NODES");
    char pat[32], *line, *save = NULL;
    int found = -1;
    if (!r || !r->str) { if (r) freeReplyObject(r); return -1; }
    snprintf(pat, sizeof pat, ":%d@", node_port);
    for (line = strtok_r(r->str, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char addr[128], flags[128];
        if (!strstr(line, pat)) continue;
        if (sscanf(line, "%63s %127s %127s %63s", id, addr, flags, master_id) != 4) break;
        *is_master = strstr(flags, "master") != NULL && strstr(flags, "fail") == NULL;
        found = 0;
        break;
    }
    freeReplyObject(r);
    return found;
}

/* The index of the node that serves slot as a master, as port sees it, or -1. */
REDIS_TEST_FN int cluster_slot_owner(const redis_cluster *cl, int port, int slot) {
    redisReply *r = redis_at(port, "CLUSTER SLOTS");
    size_t i;
    int owner = -1, j;
    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->elements >= 3 && e->element[0]->integer <= slot && slot <= e->element[1]->integer)
            for (j = 0; j < CLUSTER_NODES; j++)
                if (cl->node[j].port == e->element[2]->element[1]->integer) owner = j;
    }
    if (r) freeReplyObject(r);
    return owner;
}

/* A master, a replica of it and three sentinels watching it as "mymaster"
 * (down-after-milliseconds down_ms, quorum 2, failover-timeout 2 s: a second failover
 * may start 4 s after the first). */
typedef struct sentinel_set {
    redis_server master, replica, sentinel[3];
    char dir[64];
} sentinel_set;

REDIS_TEST_FN void sentinel_set_stop(sentinel_set *ss) {
    int i;
    for (i = 0; i < 3; i++) redis_server_stop_with(&ss->sentinel[i], SIGKILL);
    redis_server_stop(&ss->master);
    redis_server_stop_with(&ss->replica, SIGKILL);
    redis_rmdir(ss->dir);
}

/* Starts the set and waits until each sentinel names the master and finds the
 * quorum reachable (SENTINEL CKQUORUM). 0 on success. */
REDIS_TEST_FN int sentinel_set_start(sentinel_set *ss, int down_ms) {
    char mport[16], rport[16];
    redisReply *r;
    int i, tries;
    memset(ss, 0, sizeof *ss);
    snprintf(ss->dir, sizeof ss->dir, "/tmp/llmcache-sentinel.XXXXXX");
    if (!mkdtemp(ss->dir)) { ss->dir[0] = 0; return -1; }
    ss->master.dir = ss->dir;                 /* demoted to a replica, it writes dump.rdb there */
    if (redis_server_start(&ss->master) != 0) { sentinel_set_stop(ss); return -1; }
    r = redis_at(ss->master.port, "CONFIG SET repl-diskless-sync-delay 0");   /* its replica syncs at once */
    if (r) freeReplyObject(r);
    snprintf(mport, sizeof mport, "%d", ss->master.port);
    for (tries = 0; tries < 5 && !ss->replica.pid; tries++) {
        char *argv[] = {"redis-server", "--port", rport, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", ss->dir, "--daemonize", "no", "--repl-diskless-sync-delay", "0",
                        "--replicaof", "127.0.0.1", mport, NULL};
        ss->replica.port = redis_server_free_port();
        snprintf(rport, sizeof rport, "%d", ss->replica.port);
        (void)redis_proc_start(&ss->replica, argv);
    }
    if (!ss->replica.pid) { sentinel_set_stop(ss); return -1; }
    for (i = 0; i < 3; i++) {
        for (tries = 0; tries < 5 && !ss->sentinel[i].pid; tries++) {
            char conf[128];
            char *argv[] = {"redis-sentinel", conf, NULL};
            FILE *f;
            snprintf(conf, sizeof conf, "%s/sentinel-%d.conf", ss->dir, i);
            ss->sentinel[i].port = redis_server_free_port();
            if (!(f = fopen(conf, "w"))) break;
            fprintf(f, "port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n"
                       "sentinel monitor mymaster 127.0.0.1 %d 2\n"
                       "sentinel down-after-milliseconds mymaster %d\n"
                       "sentinel failover-timeout mymaster 2000\n",
                    ss->sentinel[i].port, ss->dir, ss->master.port, down_ms);
            fclose(f);
            (void)redis_proc_start(&ss->sentinel[i], argv);
        }
        if (!ss->sentinel[i].pid) { sentinel_set_stop(ss); return -1; }
    }
    for (tries = 0; tries < 1500; tries++) {
        int ok = 1;
        for (i = 0; i < 3 && ok; i++) ok = redis_at_says(ss->sentinel[i].port, "OK", "SENTINEL CKQUORUM mymaster");
        if (ok) return 0;
        redis_server_sleep_ms(20);
    }
    sentinel_set_stop(ss);
    return -1;
}

/* The master's port as sentinel i names it, or 0. */
REDIS_TEST_FN int sentinel_master_port(const sentinel_set *ss, int i) {
    redisReply *r = redis_at(ss->sentinel[i].port, "SENTINEL get-master-addr-by-name mymaster");
    int port = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) port = atoi(r->element[1]->str);
    if (r) freeReplyObject(r);
    return port;
}
#endif
