/* tests/test_chaos.c: a multi-process chaos test of the shared log file, with a
 * checker of every observation against what could legally have won (issue 10).
 *
 * Four workers put (and overwrite), get and delete 24 keys with TTLs from a
 * small set, max_entries 8 and a small max_bytes (values are read back from the
 * file), all through one log; a fifth process compacts it every few ms; this
 * process, the supervisor, SIGKILLs one of the five every 100-300 ms and starts
 * it again. Time is a logical clock in a shared mapping that every operation
 * advances by one, so all processes agree on it and expiry is checked exactly.
 * The processes are fork()ed from here (the ASan build runs ASan workers).
 *
 * Each process appends to its own history file, one write(2) per line, so a
 * SIGKILL loses at most the acknowledgement of the operation in flight:
 *   S op kind key value ttl clock mono_ns     before the call
 *   R seq type reason key expires value       each record the call appends to the
 *                                             log (hook test_record, LLMCACHE_TEST_HOOKS)
 *   A op result value expires clock mono_ns   after it returned
 *   P key value                               a planted fault (below)
 *
 * The checker takes the log as the truth: an entry is live iff the last
 * committed record of its key is a put that has not expired by the shared clock
 * (evictions are delete records like any other). Records are committed in seq
 * order; those of an acknowledged operation are committed, those of an
 * operation cut by a kill may or may not be. A get sees the log as of one
 * committed end s: at least the records of every operation acknowledged before
 * it started, and only records of operations that started before it returned.
 * Its result must be what the last committed record of its key says for such
 * an s, at a clock reading within the call. A delete's OK or MISS is checked the
 * same way. After the run this process opens the log alone, gets every key (a
 * history like the others') and counts the live ones against max_entries.
 *
 * Three runs: "main" (max_entries 8); "control" with max_entries above the key
 * space (no evictions), which must show no violation; "planted", where worker 0
 * now and then drops a key it just read from its own index without a record
 * (the class of bug this is for) and reads it again: the checker must object.
 *
 * CHAOS_SECONDS=n sets the length of the main run (make check runs a long one);
 * LLMCACHE_TEST_SEED=n replays a run's random choices (not its timing). Each run
 * works in a directory under /tmp, removed at the end; CHAOS_KEEP=1 keeps those
 * of runs with violations (the planted one aside). */
#define LLMCACHE_TEST_HOOKS
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#  define CHAOS_SANITIZED 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define CHAOS_SANITIZED 1
#  endif
#endif
#ifndef CHAOS_SANITIZED
#  define CHAOS_SANITIZED 0
#endif

#define NKEYS    24
#define NWORKERS 4
#define NPROCS   (NWORKERS + 1)       /* the workers and the compactor */
#define FINAL    NPROCS               /* the process index of the final check */
#define VID      32                   /* room for a value id */
#define CLOCK0   1700000000000ll      /* the logical clock starts here (ms) */
#define MAX_VIOLATIONS_SHOWN 6

static const int64_t g_ttls[4] = {-1, 25, 80, 300};   /* ticks of the logical clock; -1 = none */

/* The page every process of a run maps. */
typedef struct chaos_shared {
    int64_t clock;                    /* the logical clock (ms since the epoch) */
    int32_t stop;                     /* set: workers finish their operation and exit */
    int32_t plants;                   /* faults planted so far */
} chaos_shared;

typedef struct chaos_run {
    const char *name;
    char dir[128], path[160];
    size_t max_entries;
    int plant;                        /* worker 0 plants faults */
    int64_t ms;                       /* how long to run */
    int min_plants;                   /* planted run: go on until this many */
    uint64_t rng;
    chaos_shared *sh;
    pid_t pid[NPROCS];
    int incs[NPROCS];                 /* incarnations started, per process */
    int kills, crashes, hung;
} chaos_run;

/* ---- small helpers ------------------------------------------------------------ */

static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint32_t below(uint64_t *s, uint32_t n) { return (uint32_t)(mix(s) % n); }

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_us(long us) {
    struct timespec ts;
    ts.tv_sec = us / 1000000;
    ts.tv_nsec = (us % 1000000) * 1000;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int64_t chaos_clock(void *ctx) { return __atomic_load_n(&((chaos_shared *)ctx)->clock, __ATOMIC_SEQ_CST); }

/* Key number k: byte 0 is k, the rest a fixed pattern. -1 for any other key. */
static llmcache_key chaos_key(int k) {
    llmcache_key key;
    int i;
    for (i = 0; i < 32; i++) key.bytes[i] = (unsigned char)(0xC5 ^ i);
    key.bytes[0] = (unsigned char)k;
    return key;
}
static int chaos_key_index(const unsigned char *p) {
    llmcache_key want = chaos_key(p[0]);
    return p[0] < NKEYS && memcmp(want.bytes, p, 32) == 0 ? p[0] : -1;
}

/* The value of id: "id|" and 0 to 150 letters that depend on id only. */
static size_t chaos_value(char *out, const char *id) {
    uint64_t h = 14695981039346656037ull;
    size_t n = strlen(id), len, i;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    memcpy(out, id, n);
    out[n++] = '|';
    len = (size_t)(h % 151);
    for (i = 0; i < len; i++) out[n + i] = (char)('a' + ((h >> 8) + i) % 26);
    return n + len;
}

/* How a history names a result: ok, miss or errN. */
static const char *chaos_res(int rc, char *buf, size_t n) {
    if (rc == LLMCACHE_OK) return "ok";
    if (rc == LLMCACHE_MISS) return "miss";
    snprintf(buf, n, "err%d", rc);
    return buf;
}

/* Appends one line to a history file with one write(2). */
static void hist(int fd, const char *fmt, ...) {
    char line[256];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof line || write(fd, line, (size_t)n) != (ssize_t)n) _exit(3);
}

static void hist_path(char *out, size_t n, const chaos_run *run, int proc, int inc) {
    if (proc == FINAL) snprintf(out, n, "%s/h-final", run->dir);
    else snprintf(out, n, "%s/h-%d-%d", run->dir, proc, inc);
}

static llmcache_config chaos_config(const chaos_run *run) {
    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = run->path;
    cfg.max_entries = run->max_entries;
    cfg.max_bytes = 2048;             /* most values live on disk only */
    cfg.fsync = LLMCACHE_FSYNC_NEVER; /* SIGKILL, not power loss: the page cache survives */
    cfg.clock = chaos_clock;
    cfg.clock_ctx = run->sh;
    return cfg;
}

/* ---- the processes ---------------------------------------------------------------- */

typedef struct chaos_proc {
    int fd;                           /* its history */
} chaos_proc;

/* test_record: logs a record the moment it is appended, before it is committed. */
static void chaos_on_record(void *ctx, const unsigned char *p) {
    chaos_proc *w = (chaos_proc *)ctx;
    uint32_t vlen = llmcache__ld32(p + 72), mlen = llmcache__ld32(p + 76);
    const unsigned char *v = p + 80 + mlen;
    char id[VID];
    size_t n = 0;
    while (n < vlen && n < VID - 1 && v[n] != '|') { id[n] = (char)v[n]; n++; }
    id[n] = 0;
    hist(w->fd, "R %llu %u %u %d %lld %s\n", (unsigned long long)llmcache__ld64(p + 16), p[12], p[13],
         chaos_key_index(p + 24), (long long)(int64_t)llmcache__ld64(p + 64), n ? id : "-");
}

/* One get, logged; checks the bytes against the value its id names. Returns the
 * result; *exp_out gets the value's expiry. */
static int chaos_get(llmcache *c, chaos_proc *w, chaos_shared *sh, int op, int key, int64_t *exp_out) {
    llmcache_key k = chaos_key(key);
    llmcache_value v;
    char want[VID + 160], id[VID];
    int64_t clk0 = __atomic_add_fetch(&sh->clock, 1, __ATOMIC_SEQ_CST), t0 = mono_ns();
    int rc;
    hist(w->fd, "S %d g %d - 0 %lld %lld\n", op, key, (long long)clk0, (long long)t0);
    rc = llmcache_get(c, &k, &v);
    if (rc == LLMCACHE_OK) {
        const char *bar = (const char *)memchr(v.data, '|', v.len);
        size_t n = bar ? (size_t)(bar - v.data) : 0;
        int good = bar && n > 0 && n < VID;
        if (good) {
            memcpy(id, v.data, n);
            id[n] = 0;
            good = chaos_value(want, id) == v.len && memcmp(want, v.data, v.len) == 0;
        }
        *exp_out = v.expires_ms;
        hist(w->fd, "A %d %s %s %lld %lld %lld\n", op, good ? "ok" : "bad", good ? id : "-",
             (long long)v.expires_ms, (long long)chaos_clock(sh), (long long)mono_ns());
        llmcache_value_free(&v);
        if (!good) rc = LLMCACHE_ECORRUPT;
    } else {
        hist(w->fd, "A %d %s - 0 %lld %lld\n", op, chaos_res(rc, id, sizeof id), (long long)chaos_clock(sh),
             (long long)mono_ns());
    }
    return rc;
}

/* A worker (proc < NWORKERS) or the compactor, until the supervisor says stop. */
static void chaos_proc_main(const chaos_run *run, int proc, int inc, uint64_t seed) {
    chaos_shared *sh = run->sh;
    llmcache_config cfg = chaos_config(run);
    llmcache *c;
    chaos_proc w;
    char path[200], val[VID + 160], id[VID], res[16];
    int op, rc, again = -1;
    hist_path(path, sizeof path, run, proc, inc);
    w.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
    if (w.fd < 0) _exit(3);
    rc = llmcache_open(&c, &cfg);
    if (rc != LLMCACHE_OK) { hist(w.fd, "E open %d\n", rc); _exit(2); }
    c->test_record = chaos_on_record;
    c->test_ctx = &w;
    for (op = 0; !__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST); op++) {
        int64_t clk0, t0, exp = 0;
        uint32_t r = below(&seed, 100);
        int key = (int)below(&seed, NKEYS);
        llmcache_key k;
        if (proc == NWORKERS) {   /* the compactor */
            t0 = mono_ns();
            hist(w.fd, "S %d c -1 - 0 %lld %lld\n", op, (long long)chaos_clock(sh), (long long)t0);
            rc = llmcache_compact(c);
            hist(w.fd, "A %d %s - 0 %lld %lld\n", op, chaos_res(rc, res, sizeof res), (long long)chaos_clock(sh),
                 (long long)mono_ns());
            sleep_us(1000 + (long)below(&seed, 3000));
            continue;
        }
        if (again >= 0) { key = again; r = 50; again = -1; }   /* read a planted key again */
        k = chaos_key(key);
        if (r < 40) {
            int64_t ttl = g_ttls[below(&seed, 4)];
            size_t len;
            snprintf(id, sizeof id, "w%d.%d-%d", proc, inc, op);
            len = chaos_value(val, id);
            clk0 = __atomic_add_fetch(&sh->clock, 1, __ATOMIC_SEQ_CST);
            t0 = mono_ns();
            hist(w.fd, "S %d p %d %s %lld %lld %lld\n", op, key, id, (long long)ttl, (long long)clk0, (long long)t0);
            rc = llmcache_put(c, &k, val, len, ttl);
            hist(w.fd, "A %d %s - 0 %lld %lld\n", op, chaos_res(rc, res, sizeof res), (long long)chaos_clock(sh),
                 (long long)mono_ns());
        } else if (r < 88) {
            rc = chaos_get(c, &w, sh, op, key, &exp);
            if (rc == LLMCACHE_OK && run->plant && proc == 0 && exp == 0 && below(&seed, 4) == 0) {
                uint32_t i;
                llmcache__lock(&c->mu);   /* the fault: forget the key here, write no record */
                i = llmcache__find(c, &k);
                if (i != LLMCACHE__NIL) llmcache__remove(c, i);
                llmcache__unlock(&c->mu);
                hist(w.fd, "P %d\n", key);
                __atomic_add_fetch(&sh->plants, 1, __ATOMIC_SEQ_CST);
                again = key;
            }
        } else {
            clk0 = __atomic_add_fetch(&sh->clock, 1, __ATOMIC_SEQ_CST);
            t0 = mono_ns();
            hist(w.fd, "S %d d %d - 0 %lld %lld\n", op, key, (long long)clk0, (long long)t0);
            rc = llmcache_del(c, &k);
            hist(w.fd, "A %d %s - 0 %lld %lld\n", op, chaos_res(rc, res, sizeof res), (long long)chaos_clock(sh),
                 (long long)mono_ns());
        }
        if (below(&seed, 4) == 0) sleep_us((long)below(&seed, 300));
    }
    llmcache_close(c);
    close(w.fd);
    exit(0);
}

static void chaos_start(chaos_run *run, int proc) {
    uint64_t seed = run->rng ^ ((uint64_t)proc << 40) ^ ((uint64_t)run->incs[proc] << 20);
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) chaos_proc_main(run, proc, run->incs[proc], seed);
    if (pid < 0) { perror("fork"); exit(1); }
    run->pid[proc] = pid;
    run->incs[proc]++;
}

/* A process that exited without being told to: a crash (or a failed open). */
static void chaos_reap(chaos_run *run, int proc, int status) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    run->crashes++;
    fprintf(stderr, "chaos %s: process %d.%d ended by itself (%s %d)\n", run->name, proc, run->incs[proc] - 1,
            WIFSIGNALED(status) ? "signal" : "status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static void chaos_supervise(chaos_run *run) {
    int64_t end = mono_ns() + run->ms * 1000000, give_up = mono_ns() + (int64_t)600 * 1000000000;
    int p, status;
    for (p = 0; p < NPROCS; p++) chaos_start(run, p);
    while (mono_ns() < end || (run->min_plants && __atomic_load_n(&run->sh->plants, __ATOMIC_SEQ_CST) < run->min_plants &&
                                mono_ns() < give_up)) {
        sleep_us(100000 + (long)below(&run->rng, 200000));
        for (p = 0; p < NPROCS; p++)
            if (waitpid(run->pid[p], &status, WNOHANG) == run->pid[p]) { chaos_reap(run, p, status); chaos_start(run, p); }
        p = (int)below(&run->rng, NPROCS);
        kill(run->pid[p], SIGKILL);
        if (waitpid(run->pid[p], &status, 0) == run->pid[p] && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            chaos_reap(run, p, status);
        run->kills++;
        chaos_start(run, p);
    }
    __atomic_store_n(&run->sh->stop, 1, __ATOMIC_SEQ_CST);
    for (p = 0; p < NPROCS; p++) {
        int waited = 0;   /* a generous bound, for a deadlock: not a timing assertion */
        while (waitpid(run->pid[p], &status, WNOHANG) == 0) {
            if (++waited > 12000) { kill(run->pid[p], SIGKILL); waitpid(run->pid[p], &status, 0); run->hung++; break; }
            sleep_us(10000);
        }
        if (waited <= 12000) chaos_reap(run, p, status);
    }
}

/* The last look: open the log alone and get every key, as a history. Returns
 * how many keys are live. */
static int chaos_final(chaos_run *run) {
    llmcache_config cfg = chaos_config(run);
    llmcache *c;
    chaos_proc w;
    char path[200];
    int k, live = 0, rc;
    hist_path(path, sizeof path, run, FINAL, 0);
    w.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
    if (w.fd < 0) return -1;
    rc = llmcache_open(&c, &cfg);
    if (rc != LLMCACHE_OK) { hist(w.fd, "E open %d\n", rc); close(w.fd); return -1; }
    c->test_record = chaos_on_record;
    c->test_ctx = &w;
    for (k = 0; k < NKEYS; k++) {
        int64_t exp;
        if (chaos_get(c, &w, run->sh, k, k, &exp) == LLMCACHE_OK) live++;
    }
    llmcache_close(c);
    close(w.fd);
    return live;
}

/* ---- the checker ------------------------------------------------------------------ */

typedef struct chaos_op {
    int proc, inc, n;                 /* process, incarnation, operation number */
    char kind;                        /* p put, g get, d delete, c compact */
    int key;
    char val[VID];                    /* put: the value's id */
    int64_t clk0, clk1, t0, t1;       /* clock and CLOCK_MONOTONIC ns before and after */
    int acked;
    char res[16];                     /* ok, miss, bad, errN */
    char got[VID];                    /* get: the value's id */
    int64_t got_exp;
    uint64_t maxseq;                  /* its last record's seq; 0 = none */
} chaos_op;

typedef struct chaos_rec {
    uint64_t seq;
    int type, reason, key, op, dead;  /* dead: a seq taken again, so never committed */
    int64_t expires;
    char val[VID];
} chaos_rec;

typedef struct chaos_hist {
    chaos_op *ops; size_t nops, capops;
    chaos_rec *recs; size_t nrecs, caprecs;
    size_t *by_key[NKEYS]; size_t nkey[NKEYS];   /* records of each key, by seq */
    size_t *acked_by_t1; uint64_t *lo_max; size_t nacked;   /* s_lo: prefix max of seq */
    size_t *all_by_t0; uint64_t *hi_max;                    /* s_hi */
    long violations, by_proc[NPROCS + 1], gets, dels, plants, errors;
} chaos_hist;

static chaos_hist *g_sort_h;   /* qsort has no context argument */
static int cmp_rec(const void *a, const void *b) {
    const chaos_rec *x = (const chaos_rec *)a, *y = (const chaos_rec *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}
static int cmp_t1(const void *a, const void *b) {
    int64_t x = g_sort_h->ops[*(const size_t *)a].t1, y = g_sort_h->ops[*(const size_t *)b].t1;
    return x < y ? -1 : x > y;
}
static int cmp_t0(const void *a, const void *b) {
    int64_t x = g_sort_h->ops[*(const size_t *)a].t0, y = g_sort_h->ops[*(const size_t *)b].t0;
    return x < y ? -1 : x > y;
}

static void *grow(void *p, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return p;
    *cap = *cap ? *cap * 2 : 1024;
    p = realloc(p, *cap * size);
    if (!p) { perror("realloc"); exit(1); }
    return p;
}

static void violation(chaos_hist *h, int show, const char *fmt, ...) {
    va_list ap;
    if (h->violations++ >= MAX_VIOLATIONS_SHOWN && !show) return;
    va_start(ap, fmt);
    fprintf(stderr, "  violation: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* Reads one history file into h. */
static void chaos_load(chaos_hist *h, const char *path, int proc, int inc) {
    FILE *f = fopen(path, "r");
    char line[512];
    long cur = -1;   /* the operation in flight */
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        long long a, b, c2;
        unsigned long long seq;
        if (!strchr(line, '\n')) break;   /* cut by a kill */
        if (line[0] == 'S') {
            chaos_op *o;
            h->ops = (chaos_op *)grow(h->ops, &h->capops, h->nops, sizeof *h->ops);
            o = &h->ops[h->nops];
            memset(o, 0, sizeof *o);
            o->proc = proc; o->inc = inc;
            if (sscanf(line, "S %d %c %d %31s %lld %lld %lld", &o->n, &o->kind, &o->key, o->val, &a, &b, &c2) != 7) break;
            o->clk0 = o->clk1 = b;
            o->t0 = c2;
            o->t1 = INT64_MAX;
            cur = (long)h->nops++;
        } else if (line[0] == 'R' && cur >= 0) {
            chaos_rec *r;
            unsigned ty, re;
            h->recs = (chaos_rec *)grow(h->recs, &h->caprecs, h->nrecs, sizeof *h->recs);
            r = &h->recs[h->nrecs];
            memset(r, 0, sizeof *r);
            if (sscanf(line, "R %llu %u %u %d %lld %31s", &seq, &ty, &re, &r->key, &a, r->val) != 6) break;
            r->seq = (uint64_t)seq;
            r->type = (int)ty; r->reason = (int)re;
            r->expires = a;
            r->op = (int)cur;
            if (r->key < 0) { violation(h, 0, "a record of a key that was never used (seq %llu)\n", seq); continue; }
            h->ops[cur].maxseq = r->seq;
            h->nrecs++;
        } else if (line[0] == 'A' && cur >= 0) {
            chaos_op *o = &h->ops[cur];
            int n;
            if (sscanf(line, "A %d %15s %31s %lld %lld %lld", &n, o->res, o->got, &a, &b, &c2) != 6 || n != o->n) break;
            o->got_exp = a;
            o->clk1 = b;
            o->t1 = c2;
            o->acked = 1;
            cur = -1;
        } else if (line[0] == 'P') {
            h->plants++;
        } else if (line[0] == 'E') {
            violation(h, 0, "process %d.%d could not open the log: %s", proc, inc, line);
        }
    }
    fclose(f);
}

/* The prefix maxima of seq over ops sorted by t1 (acked only) and by t0 (all). */
static void chaos_index(chaos_hist *h) {
    size_t i, k, n = 0;
    uint64_t m;
    qsort(h->recs, h->nrecs, sizeof *h->recs, cmp_rec);
    for (i = 0; i < h->nrecs; i = k) {   /* a seq twice: the unacknowledged ones were never committed */
        size_t known = 0, j;
        for (k = i; k < h->nrecs && h->recs[k].seq == h->recs[i].seq; k++) known += (size_t)h->ops[h->recs[k].op].acked;
        if (k - i == 1) continue;
        for (j = i; j < k; j++) if (known && !h->ops[h->recs[j].op].acked) h->recs[j].dead = 1;
        if (known > 1) violation(h, 0, "seq %llu appears in %zu acknowledged records\n", (unsigned long long)h->recs[i].seq, known);
    }
    for (i = 0; i < h->nrecs; i++) h->nkey[h->recs[i].key]++;
    for (k = 0; k < NKEYS; k++) {
        h->by_key[k] = (size_t *)malloc((h->nkey[k] + 1) * sizeof(size_t));
        h->nkey[k] = 0;
    }
    for (i = 0; i < h->nrecs; i++) h->by_key[h->recs[i].key][h->nkey[h->recs[i].key]++] = i;
    h->acked_by_t1 = (size_t *)malloc((h->nops + 1) * sizeof(size_t));
    h->all_by_t0 = (size_t *)malloc((h->nops + 1) * sizeof(size_t));
    h->lo_max = (uint64_t *)malloc((h->nops + 1) * sizeof(uint64_t));
    h->hi_max = (uint64_t *)malloc((h->nops + 1) * sizeof(uint64_t));
    for (i = 0; i < h->nops; i++) {
        if (h->ops[i].acked) h->acked_by_t1[n++] = i;
        h->all_by_t0[i] = i;
    }
    h->nacked = n;
    g_sort_h = h;
    qsort(h->acked_by_t1, n, sizeof(size_t), cmp_t1);
    qsort(h->all_by_t0, h->nops, sizeof(size_t), cmp_t0);
    for (m = 0, i = 0; i < n; i++) {
        if (h->ops[h->acked_by_t1[i]].maxseq > m) m = h->ops[h->acked_by_t1[i]].maxseq;
        h->lo_max[i] = m;
    }
    for (m = 0, i = 0; i < h->nops; i++) {
        if (h->ops[h->all_by_t0[i]].maxseq > m) m = h->ops[h->all_by_t0[i]].maxseq;
        h->hi_max[i] = m;
    }
}

/* How many of the n ops listed in idx (sorted by field) have field < t. */
static size_t count_before(const chaos_hist *h, const size_t *idx, size_t n, int64_t t, int by_t1) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t v = by_t1 ? h->ops[idx[mid]].t1 : h->ops[idx[mid]].t0;
        if (v < t) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Checks what get or delete g observed against what the log allowed; with
 * show, prints the records it weighed. */
static int chaos_legal(chaos_hist *h, size_t gi, int show) {
    const chaos_op *g = &h->ops[gi];
    const size_t *list = h->by_key[g->key];
    size_t n = h->nkey[g->key], lo = 0, hi = n, x, nb;
    uint64_t s_lo, s_hi;
    long j;
    int miss_ok, any_hit = 0, match = 0;
    nb = count_before(h, h->acked_by_t1, h->nacked, g->t0, 1);
    s_lo = nb ? h->lo_max[nb - 1] : 0;
    nb = count_before(h, h->all_by_t0, h->nops, g->t1, 0);
    s_hi = nb ? h->hi_max[nb - 1] : 0;
    while (lo < hi) {   /* the first record past s_lo */
        size_t mid = lo + (hi - lo) / 2;
        if (h->recs[list[mid]].seq <= s_lo) lo = mid + 1; else hi = mid;
    }
    for (j = (long)lo - 1; j >= 0; j--) {   /* the last committed record at s_lo */
        const chaos_rec *r = &h->recs[list[j]];
        if (!r->dead && h->ops[r->op].acked) break;
    }
    miss_ok = j < 0;
    if (show) fprintf(stderr, "    seen log end between seq %llu and %llu; %s\n", (unsigned long long)s_lo,
                      (unsigned long long)s_hi, j < 0 ? "no committed record of the key before" : "records weighed:");
    for (x = j < 0 ? 0 : (size_t)j; x < n && h->recs[list[x]].seq <= s_hi; x++) {
        const chaos_rec *r = &h->recs[list[x]];
        const chaos_op *o = &h->ops[r->op];
        if (r->dead || r->op == (int)gi || ((long)x != j && o->t0 >= g->t1)) continue;
        if (r->type == 1) {
            if (!r->expires || g->clk0 < r->expires) {
                any_hit = 1;
                if (strcmp(r->val, g->got) == 0 && r->expires == g->got_exp) match = 1;
            }
            if (r->expires && g->clk1 >= r->expires) miss_ok = 1;
        } else {
            miss_ok = 1;
        }
        if (show)
            fprintf(stderr, "      seq %llu %s %s expires %lld, by %c of %d.%d op %d (%s)\n",
                    (unsigned long long)r->seq, r->type == 1 ? "put" : r->reason == 1 ? "evict" : "delete", r->val,
                    (long long)r->expires, o->kind, o->proc, o->inc, o->n, o->acked ? "acknowledged" : "cut by a kill");
    }
    if (g->kind == 'g') return strcmp(g->res, "ok") == 0 ? match : miss_ok;
    return strcmp(g->res, "ok") == 0 ? any_hit : miss_ok;
}

/* Checks every history of a run; returns the number of violations. */
typedef struct chaos_figures {
    long ops, checked, plants, by_proc[NPROCS + 1];
    size_t recs;
} chaos_figures;

static long chaos_check(chaos_run *run, int live, chaos_figures *fig) {
    chaos_hist h;
    char path[200];
    size_t k;
    int p, inc;
    memset(&h, 0, sizeof h);
    for (p = 0; p < NPROCS; p++)
        for (inc = 0; inc < run->incs[p]; inc++) { hist_path(path, sizeof path, run, p, inc); chaos_load(&h, path, p, inc); }
    hist_path(path, sizeof path, run, FINAL, 0);
    chaos_load(&h, path, FINAL, 0);
    chaos_index(&h);
    for (k = 0; k < h.nops; k++) {   /* in the order they started: the first divergence first */
        size_t i = h.all_by_t0[k];
        chaos_op *o = &h.ops[i];
        if (!o->acked) continue;
        if (strcmp(o->res, "ok") != 0 && strcmp(o->res, "miss") != 0) {
            h.errors++;
            violation(&h, 0, "%c of key %d by %d.%d op %d returned %s\n", o->kind, o->key, o->proc, o->inc, o->n, o->res);
            continue;
        }
        if (o->kind == 'p' && !o->maxseq)
            violation(&h, 0, "put of key %d by %d.%d op %d acknowledged without a record\n", o->key, o->proc, o->inc, o->n);
        if (o->kind != 'g' && o->kind != 'd') continue;
        if (o->kind == 'g') h.gets++; else h.dels++;
        if (!chaos_legal(&h, i, 0)) {
            int saw = o->kind == 'g' && strcmp(o->res, "ok") == 0, show = o->proc == FINAL;   /* all of those */
            violation(&h, show, "%s of key %d by %s %d.%d op %d (clock %lld..%lld) %s %s\n",
                      o->kind == 'g' ? "get" : "delete", o->key, o->proc == FINAL ? "the final check" : "process",
                      o->proc, o->inc, o->n, (long long)(o->clk0 - CLOCK0), (long long)(o->clk1 - CLOCK0),
                      saw ? "saw" : "returned", saw ? o->got : o->res);
            if (h.violations <= MAX_VIOLATIONS_SHOWN || show) chaos_legal(&h, i, 1);
            h.by_proc[o->proc]++;
        }
    }
    if (live > (int)run->max_entries)
        violation(&h, 0, "the final log holds %d live entries, max_entries is %zu\n", live, run->max_entries);
    if (h.violations > MAX_VIOLATIONS_SHOWN)
        fprintf(stderr, "  ... and %ld more violations\n", h.violations - MAX_VIOLATIONS_SHOWN);
    fig->ops = (long)h.nops;
    fig->checked = h.gets + h.dels;
    fig->recs = h.nrecs;
    fig->plants = h.plants;
    memcpy(fig->by_proc, h.by_proc, sizeof h.by_proc);
    for (p = 0; p < NKEYS; p++) free(h.by_key[p]);
    free(h.ops); free(h.recs); free(h.acked_by_t1); free(h.all_by_t0); free(h.lo_max); free(h.hi_max);
    return h.violations;
}

/* ---- the runs ------------------------------------------------------------------- */

/* Runs one chaos run; returns its violations (-1 when it could not run). */
static long chaos_run_one(const char *name, size_t max_entries, int plant, int64_t ms, uint64_t seed) {
    chaos_run run;
    chaos_figures fig;
    long violations;
    int fd, live;
    char cmd[200];
    memset(&run, 0, sizeof run);
    run.name = name;
    run.max_entries = max_entries;
    run.plant = plant;
    run.ms = ms;
    run.min_plants = plant ? 20 : 0;
    run.rng = seed;
    snprintf(run.dir, sizeof run.dir, "/tmp/llmcache-chaos-XXXXXX");
    if (!mkdtemp(run.dir)) { perror("mkdtemp"); return -1; }
    snprintf(run.path, sizeof run.path, "%s/log", run.dir);
    snprintf(cmd, sizeof cmd, "%s/shared", run.dir);
    fd = open(cmd, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) != 0) { perror("shared page"); return -1; }
    run.sh = (chaos_shared *)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (run.sh == MAP_FAILED) { perror("mmap"); return -1; }
    run.sh->clock = CLOCK0;
    chaos_supervise(&run);
    live = chaos_final(&run);
    violations = chaos_check(&run, live, &fig);
    violations += run.crashes + run.hung + (live < 0);
    printf("chaos %s: seed %llu, max_entries %zu, %lld ms: %d processes (%d started), %d kills, %ld operations, "
           "%zu records, %ld gets and deletes checked, %d keys live at the end, %ld planted faults: %ld violations "
           "(gets and deletes of workers 0-3: %ld %ld %ld %ld, of the final check: %ld)\n",
           name, (unsigned long long)seed, max_entries, (long long)ms, NPROCS,
           run.incs[0] + run.incs[1] + run.incs[2] + run.incs[3] + run.incs[4], run.kills, fig.ops, fig.recs,
           fig.checked, live, fig.plants, violations, fig.by_proc[0], fig.by_proc[1], fig.by_proc[2], fig.by_proc[3],
           fig.by_proc[FINAL]);
    if (run.crashes || run.hung) printf("  %d processes crashed, %d hung\n", run.crashes, run.hung);
    munmap((void *)run.sh, 4096);
    if (violations && !plant && getenv("CHAOS_KEEP")) {
        printf("  histories and log kept in %s\n", run.dir);
    } else {
        if (violations && !plant) printf("  (CHAOS_KEEP=1 keeps the histories and the log)\n");
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", run.dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", run.dir);
    }
    fflush(stdout);
    return violations;
}

int main(void) {
    const char *s = getenv("LLMCACHE_TEST_SEED"), *secs = getenv("CHAOS_SECONDS");
    uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    int64_t main_ms = secs ? (int64_t)(atof(secs) * 1000) : CHAOS_SANITIZED ? 5000 : 12000;
    int64_t short_ms = CHAOS_SANITIZED ? 2000 : 4000;
    long v;
    printf("test_chaos: seed %llu (LLMCACHE_TEST_SEED replays its choices)\n", (unsigned long long)seed);
    fflush(stdout);
    v = chaos_run_one("main", 8, 0, main_ms, seed);
    CHECK_MSG(v == 0, "%ld violations with max_entries 8", v);
    v = chaos_run_one("control", 64, 0, short_ms, seed + 1);
    CHECK_MSG(v == 0, "%ld violations without evictions", v);
    v = chaos_run_one("planted", 64, 1, short_ms, seed + 2);
    CHECK_MSG(v > 0, "the checker missed the planted faults");
    return TEST_REPORT();
}
