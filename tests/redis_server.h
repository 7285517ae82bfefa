/* tests/redis_server.h: a throwaway redis-server for tests/test_redis.c and
 * bench/bench_redis.c. Started on 127.0.0.1 on a free port with no persistence
 * (--save '' --appendonly no), its output sent to /dev/null. It dies with the
 * process that started it, even when that process crashes (PR_SET_PDEATHSIG on
 * Linux); redis_server_stop ends it normally. Include after llmcache.h (which sets
 * _POSIX_C_SOURCE) and <hiredis/hiredis.h>. */
#ifndef LLMCACHE_TEST_REDIS_SERVER_H
#define LLMCACHE_TEST_REDIS_SERVER_H
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#if defined(__linux__)
#  include <sys/prctl.h>
#endif

typedef struct redis_server {
    pid_t pid;                /* 0 = not running */
    int port;
    char password[64];        /* "" = none */
    const char *dir;          /* its working directory (where a replica writes dump.rdb); NULL = /tmp */
} redis_server;

static void redis_server_sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* A TCP port on 127.0.0.1 that nothing listens on right now, or 0. */
static int redis_server_free_port(void) {
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
    if (fd < 0) return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Whether the server answers PING within ms. */
static int redis_server_ready(const redis_server *s, long ms) {
    long waited;
    for (waited = 0; waited <= ms; waited += 20) {
        struct timeval tv = {0, 200000};
        redisContext *ctx = redisConnectWithTimeout("127.0.0.1", s->port, tv);
        if (ctx && !ctx->err) {
            redisReply *r = NULL;
            if (s->password[0]) {
                r = (redisReply *)redisCommand(ctx, "AUTH %s", s->password);
                if (r) freeReplyObject(r);
            }
            r = (redisReply *)redisCommand(ctx, "PING");
            if (r && r->type == REDIS_REPLY_STATUS) { freeReplyObject(r); redisFree(ctx); return 1; }
            if (r) freeReplyObject(r);
        }
        if (ctx) redisFree(ctx);
        redis_server_sleep_ms(20);
    }
    return 0;
}

/* Ends the server with sig (SIGTERM: a clean stop; SIGKILL: a crash) and reaps it. */
static void redis_server_stop_with(redis_server *s, int sig) {
    if (!s->pid) return;
    kill(s->pid, SIGCONT);   /* in case a test froze it */
    kill(s->pid, sig);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* Starts argv[0] with argv (NULL-terminated; a server that listens on s->port), its
 * output sent to /dev/null, dying with this process; 0 when it answers PING. */
static int redis_proc_start(redis_server *s, char *const argv[]) {
    pid_t parent = getpid(), pid;
    fflush(NULL);
    pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
#if defined(__linux__)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        if (getppid() != parent) _exit(127);
        if (null >= 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); }
        execvp(argv[0], argv);
        _exit(127);
    }
    s->pid = pid;
    if (redis_server_ready(s, 5000)) return 0;
    redis_server_stop_with(s, SIGKILL);
    return -1;
}

/* Starts redis-server on s->port (0: a free one, stored back) with s->password (if
 * set). Returns 0 when it answers, -1 otherwise. */
static int redis_server_start(redis_server *s) {
    char port[16];
    int tries;
    for (tries = 0; tries < 5; tries++) {
        char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", (char *)(s->dir ? s->dir : "/tmp"), "--daemonize", "no", NULL, NULL, NULL};
        int fixed = s->port != 0;
        if (!fixed) s->port = redis_server_free_port();
        if (!s->port) return -1;
        snprintf(port, sizeof port, "%d", s->port);
        if (s->password[0]) { argv[13] = "--requirepass"; argv[14] = s->password; }
        if (redis_proc_start(s, argv) == 0) return 0;
        if (fixed) return -1;
        s->port = 0;
    }
    return -1;
}

static void redis_server_stop(redis_server *s) { redis_server_stop_with(s, SIGTERM); }

/* A plain hiredis connection to s (AUTH done), or NULL. */
static redisContext *redis_server_connect(const redis_server *s) {
    struct timeval tv = {2, 0};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (!ctx || ctx->err) { if (ctx) redisFree(ctx); return NULL; }
    redisSetTimeout(ctx, tv);
    if (s->password[0]) {
        redisReply *r = (redisReply *)redisCommand(ctx, "AUTH %s", s->password);
        if (r) freeReplyObject(r);
    }
    return ctx;
}
#endif
