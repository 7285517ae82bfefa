/* >>redis (the shared tier below memory and file; LLMCACHE_REDIS, hiredis) --------------
 * docs/REDIS.md is the reference. A Redis value is exactly one log record (section
 * >>record, padding included) under prefix + 64 hex digits of the key, with the
 * entry's time to live given to Redis (SET ... PX). A get that misses locally asks
 * Redis and fills the memory tier (and the log, if any) through the ordinary put
 * path; a put writes through after the local put; a delete deletes in Redis too.
 * Fail open, never hang: connect and command timeouts on every connection, and a
 * circuit breaker that stops asking Redis for a while after repeated failures. No
 * Redis I/O ever happens with c->mu held. */
#ifdef LLMCACHE_REDIS
#include <hiredis/hiredis.h>
#include <stdio.h>      /* snprintf */
#if !defined(_WIN32)
#  include <signal.h>
#  include <sys/time.h>
#endif

#define LLMCACHE__REDIS_POOL       8     /* idle connections kept per handle */
#define LLMCACHE__REDIS_PREFIX_MAX 1024
#define LLMCACHE__REDIS_NAME_MAX   (LLMCACHE__REDIS_PREFIX_MAX + 5 + 64 + 1)
#define LLMCACHE__REDIS_POLL_MS    20    /* single-flight followers look this often */
#define LLMCACHE__REDIS_PX_MAX     ((int64_t)1 << 45)  /* ~1100 years: beyond, no PX */
#define LLMCACHE__REDIS_LOCK_MAX   ((int64_t)86400000) /* redis_lock_ms is capped at a day */

enum { LLMCACHE__BRK_CLOSED = 0, LLMCACHE__BRK_OPEN = 1, LLMCACHE__BRK_PROBE = 2 };

struct llmcache__redis {
    /* settings, fixed at open */
    char    *host, *password, *prefix;
    size_t   prefix_len;
    int      port, db, max_failures;
    int64_t  connect_ms, command_ms, cooldown_ms;
    /* guarded by mu, which is held for a few instructions only: never during I/O,
       never while taking c->mu (the order is c->mu, then mu) */
    llmcache__mutex mu;
    redisContext *idle[LLMCACHE__REDIS_POOL];
    int      n_idle;
    int      breaker;             /* LLMCACHE__BRK_*; PROBE: one caller is trying Redis again */
    int      failures;            /* consecutive failed operations */
    int64_t  open_until_us;       /* monotonic time when an open breaker lets a probe through */
    uint64_t tokens;              /* lock tokens given out */
    uint64_t hits, misses, puts, errors, skipped, opens, connects;
};

static char *llmcache__memdup_nul(const void *p, size_t n);   /* wip/call.h */

/* Redis command arguments (binary-safe). */
typedef struct llmcache__rcmd { int argc; const char *argv[6]; size_t len[6]; } llmcache__rcmd;

static void llmcache__rcmd_arg(llmcache__rcmd *cmd, const void *p, size_t n) {
    cmd->argv[cmd->argc] = (const char *)p;
    cmd->len[cmd->argc++] = n;
}

static void llmcache__redis_free(struct llmcache__redis *r) {
    int i;
    if (!r) return;
    for (i = 0; i < r->n_idle; i++) redisFree(r->idle[i]);
    LLMCACHE_FREE(r->host);
    LLMCACHE_FREE(r->password);
    LLMCACHE_FREE(r->prefix);
    llmcache__mutex_destroy(&r->mu);
    LLMCACHE_FREE(r);
}

/* Sets up c->redis from cfg; connects lazily (Redis being down is no reason to fail). */
static int llmcache__redis_open(llmcache *c, const llmcache_redis_config *cfg) {
    struct llmcache__redis *r;
    size_t ns_len = strlen(c->ns);
    if (cfg->port < 0 || cfg->port > 65535 || cfg->db < 0 || cfg->connect_timeout_ms < 0 ||
        cfg->command_timeout_ms < 0 || cfg->breaker_failures < 0 || cfg->breaker_cooldown_ms < 0 ||
        (cfg->host && !cfg->host[0]))
        return LLMCACHE_EINVAL;
    if ((cfg->prefix ? strlen(cfg->prefix) : ns_len + 10) > LLMCACHE__REDIS_PREFIX_MAX) return LLMCACHE_EINVAL;
    r = (struct llmcache__redis *)LLMCACHE_MALLOC(sizeof *r);
    if (!r) return LLMCACHE_ENOMEM;
    memset(r, 0, sizeof *r);
    r->host = r->password = r->prefix = NULL;
    if (llmcache__mutex_init(&r->mu) != 0) { LLMCACHE_FREE(r); return LLMCACHE_ENOMEM; }
    c->redis = r;
    r->port = LLMCACHE__DEF(cfg->port, 6379);
    r->db = cfg->db;
    r->max_failures = LLMCACHE__DEF(cfg->breaker_failures, 3);
    r->connect_ms = LLMCACHE__DEF(cfg->connect_timeout_ms, 200);
    r->command_ms = LLMCACHE__DEF(cfg->command_timeout_ms, 200);
    r->cooldown_ms = LLMCACHE__DEF(cfg->breaker_cooldown_ms, 5000);
    r->host = llmcache__strdup(cfg->host ? cfg->host : "127.0.0.1");
    if (cfg->password) r->password = llmcache__strdup(cfg->password);
    if (cfg->prefix) {
        r->prefix = llmcache__strdup(cfg->prefix);
    } else if ((r->prefix = (char *)LLMCACHE_MALLOC(ns_len + 11)) != NULL) {
        memcpy(r->prefix, "llmcache:", 9);              /* "llmcache:" + namespace + ":" */
        memcpy(r->prefix + 9, c->ns, ns_len);
        memcpy(r->prefix + 9 + ns_len, ":", 2);
    }
    if (!r->host || !r->prefix || (cfg->password && !r->password)) return LLMCACHE_ENOMEM;
    r->prefix_len = strlen(r->prefix);
    return LLMCACHE_OK;
}

/* The Redis name of key: prefix [+ "lock:"] + 64 lowercase hex digits; returns its length. */
static size_t llmcache__redis_name(const struct llmcache__redis *r, const llmcache_key *key, int lock,
                                   char name[LLMCACHE__REDIS_NAME_MAX]) {
    size_t n = r->prefix_len;
    memcpy(name, r->prefix, n);
    if (lock) { memcpy(name + n, "lock:", 5); n += 5; }
    llmcache_key_hex(key, name + n);
    return n + 64;
}

/* hiredis writes with write(2), so a connection the server reset would raise SIGPIPE
 * and kill the process. Redis I/O runs with SIGPIPE blocked in the calling thread and
 * a SIGPIPE it raised is taken back before unblocking: no process-wide handler changes. */
#if !defined(_WIN32)
#  ifdef LLMCACHE_NO_THREADS
#    define LLMCACHE__SIGMASK sigprocmask
#  else
#    define LLMCACHE__SIGMASK pthread_sigmask
#  endif
typedef struct llmcache__nopipe { sigset_t old; int pending; } llmcache__nopipe;

static void llmcache__nopipe_begin(llmcache__nopipe *g) {
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    LLMCACHE__SIGMASK(SIG_BLOCK, &set, &g->old);
    g->pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1;
}

static void llmcache__nopipe_end(llmcache__nopipe *g) {
    sigset_t set, pend;
    if (!g->pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1) {
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
#  if defined(__linux__)
        {
            struct timespec zero = {0, 0};
            while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {}
        }
#  else
        {
            int sig;
            sigwait(&set, &sig);
        }
#  endif
    }
    LLMCACHE__SIGMASK(SIG_SETMASK, &g->old, NULL);
}
#else
typedef int llmcache__nopipe;
#  define llmcache__nopipe_begin(g) ((void)(g))
#  define llmcache__nopipe_end(g)   ((void)(g))
#endif

static struct timeval llmcache__redis_tv(int64_t ms) {
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
    return tv;
}

/* A new connection (AUTH and SELECT done), or NULL. */
static redisContext *llmcache__redis_connect(struct llmcache__redis *r) {
    redisContext *ctx = redisConnectWithTimeout(r->host, r->port, llmcache__redis_tv(r->connect_ms));
    llmcache__rcmd cmd[2];
    char db[16];
    int n = 0, i, ok;
    if (!ctx) return NULL;
    ok = !ctx->err && redisSetTimeout(ctx, llmcache__redis_tv(r->command_ms)) == REDIS_OK;
    if (r->password) {
        cmd[n].argc = 0;
        llmcache__rcmd_arg(&cmd[n], "AUTH", 4);
        llmcache__rcmd_arg(&cmd[n], r->password, strlen(r->password));
        n++;
    }
    if (r->db) {
        snprintf(db, sizeof db, "%d", r->db);
        cmd[n].argc = 0;
        llmcache__rcmd_arg(&cmd[n], "SELECT", 6);
        llmcache__rcmd_arg(&cmd[n], db, strlen(db));
        n++;
    }
    for (i = 0; ok && i < n; i++) ok = redisAppendCommandArgv(ctx, cmd[i].argc, cmd[i].argv, cmd[i].len) == REDIS_OK;
    for (i = 0; ok && i < n; i++) {
        void *p = NULL;
        ok = redisGetReply(ctx, &p) == REDIS_OK && p && ((redisReply *)p)->type == REDIS_REPLY_STATUS;
        if (p) freeReplyObject(p);
    }
    if (!ok) { redisFree(ctx); return NULL; }
    llmcache__lock(&r->mu);
    r->connects++;
    llmcache__unlock(&r->mu);
    return ctx;
}

/* Whether to try Redis now (an idle connection in *ctx, or NULL: connect). An open
 * breaker says no (counted) until its cooldown is over; then one caller probes. */
static int llmcache__redis_take(struct llmcache__redis *r, redisContext **ctx) {
    int go = 1;
    *ctx = NULL;
    llmcache__lock(&r->mu);
    if (r->breaker == LLMCACHE__BRK_OPEN && llmcache__mono_us() >= r->open_until_us) {
        r->breaker = LLMCACHE__BRK_PROBE;     /* half-open: this caller tries */
    } else if (r->breaker != LLMCACHE__BRK_CLOSED) {
        r->skipped++;
        go = 0;
    }
    if (go && r->n_idle) *ctx = r->idle[--r->n_idle];
    llmcache__unlock(&r->mu);
    return go;
}

/* Ends an attempt: a success closes the breaker and keeps the connection; a failure
 * is counted, closes the connection and may open the breaker. */
static void llmcache__redis_done(llmcache *c, const llmcache_key *key, redisContext *ctx, int ok) {
    struct llmcache__redis *r = c->redis;
    redisContext *drop[LLMCACHE__REDIS_POOL];
    int n_drop = 0, opened = 0;
    llmcache__lock(&r->mu);
    if (ok) {
        r->failures = 0;
        r->breaker = LLMCACHE__BRK_CLOSED;
        if (ctx && r->n_idle < LLMCACHE__REDIS_POOL) { r->idle[r->n_idle++] = ctx; ctx = NULL; }
    } else {
        r->errors++;
        r->failures++;
        if (r->breaker == LLMCACHE__BRK_PROBE ||
            (r->breaker == LLMCACHE__BRK_CLOSED && r->failures >= r->max_failures)) {
            r->breaker = LLMCACHE__BRK_OPEN;
            r->open_until_us = llmcache__mono_us() + r->cooldown_ms * 1000;
            r->opens++;
            opened = 1;
            while (r->n_idle) drop[n_drop++] = r->idle[--r->n_idle];   /* likely dead too */
        }
    }
    llmcache__unlock(&r->mu);
    if (ctx) redisFree(ctx);
    while (n_drop) redisFree(drop[--n_drop]);
    if (!ok) llmcache__emit(c, LLMCACHE_EVENT_ERROR, key, LLMCACHE_EIO,
                            opened ? "redis: command failed; circuit breaker open, Redis not tried for a while"
                                   : "redis: command failed (down, slow or an error reply); failing open");
}

/* Sends n commands in one round trip and reads their replies into rep[0..n).
 * LLMCACHE_OK: all arrived and none is an error reply (release each with
 * freeReplyObject). LLMCACHE_EIO: Redis failed or was not tried (open breaker);
 * rep is all NULL then. Call without c->mu held. */
static int llmcache__redis_exec(llmcache *c, const llmcache_key *key, int n, llmcache__rcmd *cmd,
                                redisReply **rep) {
    struct llmcache__redis *r = c->redis;
    llmcache__nopipe g;
    redisContext *ctx;
    int i, ok = 1;
    for (i = 0; i < n; i++) rep[i] = NULL;
    if (!llmcache__redis_take(r, &ctx)) return LLMCACHE_EIO;
    llmcache__nopipe_begin(&g);
    if (!ctx) ctx = llmcache__redis_connect(r);
    if (!ctx) ok = 0;
    for (i = 0; ok && i < n; i++) ok = redisAppendCommandArgv(ctx, cmd[i].argc, cmd[i].argv, cmd[i].len) == REDIS_OK;
    for (i = 0; ok && i < n; i++) {
        void *p = NULL;
        ok = redisGetReply(ctx, &p) == REDIS_OK && p != NULL;
        rep[i] = (redisReply *)p;
        if (ok && rep[i]->type == REDIS_REPLY_ERROR) ok = 0;
    }
    llmcache__nopipe_end(&g);
    if (!ok) for (i = 0; i < n; i++) { if (rep[i]) freeReplyObject(rep[i]); rep[i] = NULL; }
    llmcache__redis_done(c, key, ctx, ok);
    return ok ? LLMCACHE_OK : LLMCACHE_EIO;
}

/* One command; the reply or NULL (failed, counted). */
static redisReply *llmcache__redis_cmd(llmcache *c, const llmcache_key *key, llmcache__rcmd *cmd) {
    redisReply *rep;
    return llmcache__redis_exec(c, key, 1, cmd, &rep) == LLMCACHE_OK ? rep : NULL;
}

static void llmcache__redis_count(struct llmcache__redis *r, uint64_t *counter) {
    llmcache__lock(&r->mu);
    (*counter)++;
    llmcache__unlock(&r->mu);
}

/* Reads key from Redis; when it is there, fills the memory tier (and the log) unless
 * it holds the key in a version at least as new, and copies it into *out (if not
 * NULL). LLMCACHE_OK, LLMCACHE_MISS (also when Redis fails or holds a value that is
 * not an intact record of this key: both counted as errors), or LLMCACHE_ENOMEM.
 * Call without c->mu held. */
static int llmcache__redis_load(llmcache *c, const llmcache_key *key, llmcache_value *out) {
    struct llmcache__redis *r = c->redis;
    char name[LLMCACHE__REDIS_NAME_MAX];
    llmcache__rcmd cmd;
    llmcache__record rec;
    llmcache_meta meta;
    redisReply *rep;
    uint32_t i;
    int rc = LLMCACHE_MISS;
    cmd.argc = 0;
    llmcache__rcmd_arg(&cmd, "GET", 3);
    llmcache__rcmd_arg(&cmd, name, llmcache__redis_name(r, key, 0, name));
    rep = llmcache__redis_cmd(c, key, &cmd);
    if (!rep) return LLMCACHE_MISS;
    if (rep->type == REDIS_REPLY_NIL) {
        llmcache__redis_count(r, &r->misses);
        freeReplyObject(rep);
        return LLMCACHE_MISS;
    }
    if (rep->type != REDIS_REPLY_STRING ||
        !llmcache__rec_check((const unsigned char *)rep->str, (uint64_t)rep->len, &rec) ||
        rec.type != LLMCACHE__R_PUT || llmcache__pad8(rec.len) != (uint64_t)rep->len ||
        memcmp(rec.key.bytes, key->bytes, 32) != 0) {
        llmcache__redis_count(r, &r->errors);
        freeReplyObject(rep);
        llmcache__emit(c, LLMCACHE_EVENT_ERROR, key, LLMCACHE_ECORRUPT,
                       "redis: the value is not an intact record of this key; treated as a miss");
        return LLMCACHE_MISS;
    }
    memset(&meta, 0, sizeof meta);
    if (rec.meta) llmcache__meta_decode(rec.meta, &meta);
    llmcache__lock(&c->mu);
    if (rec.expires_ms == 0 || llmcache__now(c) < rec.expires_ms) {
        rc = LLMCACHE_OK;
        if (out) {
            out->data = llmcache__memdup_nul(rec.value, rec.value_len);
            if (!out->data) rc = LLMCACHE_ENOMEM;
            out->len = rec.value_len;
            out->created_ms = rec.created_ms;
            out->expires_ms = rec.expires_ms;
            out->meta = meta;
        }
        if (rc == LLMCACHE_OK && llmcache__refresh(c) == LLMCACHE_OK) {
            i = llmcache__find(c, key);
            if (i == LLMCACHE__NIL || llmcache__expired(&c->ents[i], llmcache__now(c)) ||
                c->ents[i].created_ms < rec.created_ms)   /* a put may have raced us: keep the newer */
                (void)llmcache__put_locked(c, key, rec.value, rec.value_len, rec.created_ms, rec.expires_ms,
                                           rec.meta ? &meta : NULL);
        }
    }
    llmcache__unlock(&c->mu);
    llmcache__redis_count(r, rc == LLMCACHE_OK ? &r->hits : &r->misses);
    freeReplyObject(rep);
    return rc;
}

/* llmcache_get's miss path, entered and left with c->mu held (dropped meanwhile). */
static int llmcache__redis_get(llmcache *c, const llmcache_key *key, llmcache_value *out) {
    int rc;
    if (!c->redis) return LLMCACHE_MISS;
    llmcache__unlock(&c->mu);
    rc = llmcache__redis_load(c, key, out);
    llmcache__lock(&c->mu);
    return rc;
}

/* Writes a put through to Redis after the local put returned rc (called without
 * c->mu). A Redis failure never changes rc; a value too big for a memory-only cache
 * (LLMCACHE_ETOOBIG) is stored in Redis alone, and then the put succeeds. */
static int llmcache__redis_put(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                               int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta, int rc) {
    char name[LLMCACHE__REDIS_NAME_MAX], px[24];
    unsigned char *buf;
    llmcache__rcmd cmd;
    redisReply *rep;
    size_t size;
    int64_t ttl = 0;
    if (!c->redis || (rc != LLMCACHE_OK && (rc != LLMCACHE_ETOOBIG || c->path))) return rc;
    if (expires_ms) {
        ttl = expires_ms - llmcache__now(c);
        if (ttl <= 0) return rc;                /* already expired: not written */
    }
    size = (size_t)llmcache__rec_size(len, meta != NULL);
    buf = (unsigned char *)LLMCACHE_MALLOC(size);
    if (!buf) return rc;
    llmcache__rec_encode(buf, LLMCACHE__R_PUT, 0, 0, key, created_ms, expires_ms, meta, data, len);
    cmd.argc = 0;
    llmcache__rcmd_arg(&cmd, "SET", 3);
    llmcache__rcmd_arg(&cmd, name, llmcache__redis_name(c->redis, key, 0, name));
    llmcache__rcmd_arg(&cmd, buf, size);
    if (ttl > 0 && ttl < LLMCACHE__REDIS_PX_MAX) {
        snprintf(px, sizeof px, "%lld", (long long)ttl);
        llmcache__rcmd_arg(&cmd, "PX", 2);
        llmcache__rcmd_arg(&cmd, px, strlen(px));
    }
    rep = llmcache__redis_cmd(c, key, &cmd);
    LLMCACHE_FREE(buf);
    if (!rep) return rc;
    freeReplyObject(rep);
    llmcache__redis_count(c->redis, &c->redis->puts);
    if (rc == LLMCACHE_ETOOBIG) {
        llmcache__lock(&c->mu);
        c->st.puts++;
        llmcache__unlock(&c->mu);
        rc = LLMCACHE_OK;
    }
    return rc;
}

/* Deletes key in Redis after the local delete returned rc (called without c->mu):
 * a key only Redis held makes a local LLMCACHE_MISS an LLMCACHE_OK. */
static int llmcache__redis_del(llmcache *c, const llmcache_key *key, int rc) {
    char name[LLMCACHE__REDIS_NAME_MAX];
    llmcache__rcmd cmd;
    redisReply *rep;
    if (!c->redis || (rc != LLMCACHE_OK && rc != LLMCACHE_MISS)) return rc;
    cmd.argc = 0;
    llmcache__rcmd_arg(&cmd, "DEL", 3);
    llmcache__rcmd_arg(&cmd, name, llmcache__redis_name(c->redis, key, 0, name));
    rep = llmcache__redis_cmd(c, key, &cmd);
    if (!rep) return rc;
    if (rc == LLMCACHE_MISS && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0) {
        rc = LLMCACHE_OK;
        llmcache__lock(&c->mu);
        c->st.deletes++;
        llmcache__unlock(&c->mu);
    }
    freeReplyObject(rep);
    return rc;
}

/* Adds the Redis counters to *out; called with c->mu held. */
static void llmcache__redis_stats(llmcache *c, llmcache_stats *out) {
    struct llmcache__redis *r = c->redis;
    if (!r) return;
    llmcache__lock(&r->mu);
    out->redis_hits = r->hits;
    out->redis_misses = r->misses;
    out->redis_puts = r->puts;
    out->redis_errors = r->errors;
    out->redis_skipped = r->skipped;
    out->redis_breaker_opens = r->opens;
    out->redis_breaker_open = r->breaker != LLMCACHE__BRK_CLOSED;
    out->redis_connects = r->connects;
    llmcache__unlock(&r->mu);
}

/* ---- single-flight across machines (llmcache_call_options.redis_lock_ms) */
struct llmcache__result;
static int llmcache__lookup(llmcache *c, const llmcache_key *key, const llmcache_call_options *o,
                            struct llmcache__result *res);

/* A lock token unlikely to be anybody else's: a hash of the time, process, handle
 * and a counter, as 16 hex digits. */
static uint64_t llmcache__redis_token(llmcache *c) {
    unsigned char seed[40], h[32];
    uint64_t n, t = 0;
    int i;
    llmcache__lock(&c->redis->mu);
    n = ++c->redis->tokens;
    llmcache__unlock(&c->redis->mu);
    llmcache__st64(seed, (uint64_t)llmcache__mono_us());
    llmcache__st64(seed + 8, (uint64_t)llmcache__system_clock_ms());
    llmcache__st64(seed + 16, (uint64_t)(uintptr_t)c);
    llmcache__st64(seed + 24, n);
#if !defined(_WIN32)
    llmcache__st64(seed + 32, (uint64_t)getpid());
#else
    llmcache__st64(seed + 32, (uint64_t)GetCurrentProcessId());
#endif
    llmcache_sha256(seed, sizeof seed, h);
    for (i = 0; i < 8; i++) t = t << 8 | h[i];
    return t ? t : 1;
}

static void llmcache__redis_token_hex(uint64_t t, char hex[17]) {
    static const char digits[] = "0123456789abcdef";
    int i;
    for (i = 15; i >= 0; i--, t >>= 4) hex[i] = digits[t & 15u];
    hex[16] = '\0';
}

/* On a miss of llmcache_call with o->redis_lock_ms > 0: takes the lock key
 * (SET prefix+"lock:"+hex token NX PX ms) and returns LLMCACHE_MISS with *token set:
 * the caller calls the provider, stores, then calls llmcache__redis_unlock. When
 * another worker holds the lock, polls until it is released and then looks the key up:
 * LLMCACHE_OK with res filled as by a hit. Redis failing, the wait reaching
 * redis_lock_ms, or a lookup error: LLMCACHE_MISS with *token 0 (go alone). */
static int llmcache__redis_flight(llmcache *c, const llmcache_key *key, const llmcache_call_options *o,
                                  struct llmcache__result *res, uint64_t *token) {
    char name[LLMCACHE__REDIS_NAME_MAX], hex[17], px[24];
    int64_t lock_ms = o->redis_lock_ms < LLMCACHE__REDIS_LOCK_MAX ? o->redis_lock_ms : LLMCACHE__REDIS_LOCK_MAX;
    int64_t deadline = llmcache__mono_us() + lock_ms * 1000;
    llmcache__rcmd set, exists;
    uint64_t t;
    *token = 0;
    if (!c->redis || lock_ms <= 0) return LLMCACHE_MISS;
    t = llmcache__redis_token(c);
    llmcache__redis_token_hex(t, hex);
    snprintf(px, sizeof px, "%lld", (long long)lock_ms);
    set.argc = 0;
    llmcache__rcmd_arg(&set, "SET", 3);
    llmcache__rcmd_arg(&set, name, llmcache__redis_name(c->redis, key, 1, name));
    llmcache__rcmd_arg(&set, hex, 16);
    llmcache__rcmd_arg(&set, "NX", 2);
    llmcache__rcmd_arg(&set, "PX", 2);
    llmcache__rcmd_arg(&set, px, strlen(px));
    exists.argc = 0;
    llmcache__rcmd_arg(&exists, "EXISTS", 6);
    llmcache__rcmd_arg(&exists, name, set.len[1]);
    for (;;) {
        redisReply *rep = llmcache__redis_cmd(c, key, &set);
        int won, held = 1, rc;
        if (!rep) return LLMCACHE_MISS;
        won = rep->type == REDIS_REPLY_STATUS;    /* "OK"; nil when the key exists */
        freeReplyObject(rep);
        if (won) { *token = t; return LLMCACHE_MISS; }
        while (held) {                            /* another worker is calling the provider */
            int64_t left = (deadline - llmcache__mono_us()) / 1000;
            if (left <= 0) return LLMCACHE_MISS;
            llmcache__sleep_ms(left < LLMCACHE__REDIS_POLL_MS ? left : LLMCACHE__REDIS_POLL_MS);
            rep = llmcache__redis_cmd(c, key, &exists);
            if (!rep) return LLMCACHE_MISS;
            held = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
            freeReplyObject(rep);
        }
        (void)llmcache__redis_load(c, key, NULL); /* the memory tier may hold an older version */
        rc = llmcache__lookup(c, key, o, res);
        llmcache__lock(&c->mu);                   /* count one lookup per call */
        if (c->st.misses) c->st.misses--;
        llmcache__unlock(&c->mu);
        if (rc != LLMCACHE_MISS) return rc == LLMCACHE_OK ? LLMCACHE_OK : LLMCACHE_MISS;
        /* released without an answer (the provider failed): try to take over */
    }
}

/* Releases the lock key if it still holds our token (it may have expired and been
 * taken by another worker meanwhile). */
static void llmcache__redis_unlock(llmcache *c, const llmcache_key *key, uint64_t token) {
    static const char script[] =
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
    char name[LLMCACHE__REDIS_NAME_MAX], hex[17];
    llmcache__rcmd cmd;
    redisReply *rep;
    if (!c->redis || !token) return;
    llmcache__redis_token_hex(token, hex);
    cmd.argc = 0;
    llmcache__rcmd_arg(&cmd, "EVAL", 4);
    llmcache__rcmd_arg(&cmd, script, sizeof script - 1);
    llmcache__rcmd_arg(&cmd, "1", 1);
    llmcache__rcmd_arg(&cmd, name, llmcache__redis_name(c->redis, key, 1, name));
    llmcache__rcmd_arg(&cmd, hex, 16);
    rep = llmcache__redis_cmd(c, key, &cmd);
    if (rep) freeReplyObject(rep);
}
#endif /* LLMCACHE_REDIS */
