/* fuzz/fuzz_ops.c: fuzz target for sequences of API operations (put, put_ex,
 * put_at, get, del, compact, sweep, sync, close and reopen, a fake clock moving
 * on, verify) decoded from the input, on a log-backed cache (or two handles on
 * one log, or a memory-only cache), checked against a reference map.
 *
 * `make fuzz` and `make fuzz-regress` (fuzz/fuzz.mk) build and run every target; by hand:
 * libFuzzer (from the repository root):
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o build/fuzz/fuzz_ops fuzz/fuzz_ops.c -lpthread
 *     build/fuzz/fuzz_ops -rss_limit_mb=2048 -malloc_limit_mb=512 -max_total_time=180 fuzz/corpus/ops
 * AFL++ (persistent mode; AFL's macros are not -Wpedantic clean):
 *     afl-clang-fast -g -O1 -DLLMCACHE_FUZZ_AFL -o build/fuzz/afl_ops fuzz/fuzz_ops.c -lpthread
 *     afl-fuzz -i fuzz/corpus/ops -o build/afl-ops -- build/fuzz/afl_ops
 * Plain replay (any compiler; each argument is a file or a directory of files):
 *     cc -std=c99 -g -DLLMCACHE_FUZZ_MAIN -fsanitize=address,undefined -o build/fuzz/replay_ops fuzz/fuzz_ops.c -lpthread
 *     build/fuzz/replay_ops fuzz/corpus/ops
 * FUZZ_OPS_TRACE=1 in the environment prints each operation (to follow a crash).
 *
 * Input: byte 0 the configuration (bit 0: max_entries 1..7; bit 1: a small
 * max_bytes, so values are read back from the file; bit 2: two handles on the
 * log; bit 3: memory only; bit 4: LLMCACHE_FSYNC_ALWAYS; bit 5: a default TTL; bit 6:
 * every key's table hash the same, so each lookup compares keys in value blocks and
 * records: LLMCACHE_TEST_HOOKS' llmcache__test_collide),
 * byte 1 a parameter, then operations of one to four bytes each (see run_op);
 * keys come from a set of 8, values have input-chosen lengths (0 to 48 KiB).
 *
 * The model: each key's last value (bytes, created, expires, meta), its recency
 * (exact LRU) and its place in the file (which gives the recency after a reopen).
 * Every get and del must agree with it exactly, and the entry count too; where
 * the library may evict by its own rules the model does not follow (several
 * handles or expiring entries with a small max_entries, a memory-only cache with
 * a small max_bytes), a get must still miss or give exactly the model's value,
 * never stale or deleted bytes. The log verifies clean at every step and after
 * the last close; no leak, no allocation beyond 16 MiB. */
#define FUZZ_NAME "fuzz_ops"
#define LLMCACHE_TEST_HOOKS
#include "fuzz_util.h"

#define N_KEYS 8
#define T0 1700000000000
#define MAX_OPS 256

typedef struct mkey {
    int present;
    unsigned char *value; size_t len;
    int64_t created, expires;
    int has_meta; llmcache_meta meta;
    uint64_t stamp;                /* last use (put or hit) */
    uint64_t rank;                 /* place of its record in the log */
} mkey;

static mkey model[N_KEYS];
static llmcache_key keys[N_KEYS];
static int64_t now;
static uint64_t stamp_ctr, rank_ctr;
static int trace;

typedef struct setup {
    int small_entries, small_bytes, two, memory, always, ttl, collide;
    size_t max_entries, max_bytes;
    int ttl_used;                  /* an entry that expires was ever stored */
    int loose;                     /* the model has not known the exact set since */
    uint64_t compactions[2];       /* seen in each handle's stats */
    char path[600];
    llmcache *h[2];
    llmcache_config cfg;
} setup;

static int64_t fake_clock(void *ctx) { (void)ctx; return now; }

static int expired(const mkey *m) { return m->expires != 0 && now >= m->expires; }
static int live(const mkey *m) { return m->present && !expired(m); }

/* whether the model knows exactly which entries the cache holds: once it did not,
   it never does again (the cache may have evicted what the model keeps) */
static int exact(setup *s) {
    if ((s->memory && s->small_bytes) || (s->small_entries && (s->two || s->ttl_used))) s->loose = 1;
    return !s->loose;
}

static void model_drop(int k) {
    free(model[k].value);
    memset(&model[k], 0, sizeof model[k]);
}

static size_t model_count(void) {
    size_t i, n = 0;
    for (i = 0; i < N_KEYS; i++) n += model[i].present ? 1u : 0u;
    return n;
}

/* put of key k succeeded: the model evicts like the cache (exact LRU), as long as
   it knows the cache's set exactly; else it keeps every key (a miss is allowed) */
static void model_set(setup *s, int k, const unsigned char *v, size_t len, int64_t created, int64_t expires,
                      const llmcache_meta *meta) {
    mkey *m = &model[k];
    free(m->value);
    m->present = 1;
    m->value = (unsigned char *)malloc(len ? len : 1);
    FUZZ_ASSERT(m->value != NULL);
    if (len) memcpy(m->value, v, len);
    m->len = len;
    m->created = created;
    m->expires = expires;
    m->has_meta = meta != NULL;
    if (meta) m->meta = *meta; else memset(&m->meta, 0, sizeof m->meta);
    m->stamp = ++stamp_ctr;
    m->rank = ++rank_ctr;
    while (exact(s) && model_count() > s->max_entries) {
        int i, victim = -1;
        for (i = 0; i < N_KEYS; i++)
            if (i != k && model[i].present && (victim < 0 || model[i].stamp < model[victim].stamp)) victim = i;
        FUZZ_ASSERT(victim >= 0);
        model_drop(victim);
    }
}

/* the present keys in order of a field (stamp or rank), oldest first */
static int model_order(int *out, int by_rank) {
    int i, j, n = 0;
    for (i = 0; i < N_KEYS; i++) {
        uint64_t v;
        if (!model[i].present) continue;
        v = by_rank ? model[i].rank : model[i].stamp;
        for (j = n; j > 0 && (by_rank ? model[out[j - 1]].rank : model[out[j - 1]].stamp) > v; j--) out[j] = out[j - 1];
        out[j] = i;
        n++;
    }
    return n;
}

/* compaction: expired entries go, the log holds the rest least recently used first */
static void model_compact(void) {
    int order[N_KEYS], n, i;
    for (i = 0; i < N_KEYS; i++) if (model[i].present && expired(&model[i])) model_drop(i);
    n = model_order(order, 0);
    for (i = 0; i < n; i++) model[order[i]].rank = ++rank_ctr;
}

/* after a reopen the recency is the order of the records in the log */
static void model_reload(const setup *s) {
    int order[N_KEYS], n, i;
    for (i = 0; i < N_KEYS; i++)
        if (model[i].present && (s->memory || expired(&model[i]))) model_drop(i);
    n = model_order(order, 1);
    for (i = 0; i < n; i++) model[order[i]].stamp = ++stamp_ctr;
}

/* a put or del may have compacted the log by itself (dead records past 1 MiB) */
static void note_compactions(setup *s, int h) {
    llmcache_stats st;
    if (s->memory) return;
    llmcache_stats_get(s->h[h], &st);
    if (st.compactions > s->compactions[h]) {
        if (trace) fprintf(stderr, "  (auto-compaction by h%d)\n", h);
        model_compact();
    }
    s->compactions[h] = st.compactions;
}

static void fill(unsigned char *p, size_t n, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    size_t i;
    for (i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; p[i] = (unsigned char)x; }
}

static void open_handle(setup *s, int h) {
    int rc = llmcache_open(&s->h[h], &s->cfg);
    if (rc != LLMCACHE_OK) fprintf(stderr, "fuzz_ops: open: %s\n", llmcache_result_string(rc));
    FUZZ_ASSERT(rc == LLMCACHE_OK);
    if (s->collide) llmcache__test_collide(s->h[h], ~(uint64_t)0);   /* every key hashes alike */
}

static void check_get(setup *s, int h, int k) {
    llmcache_value v;
    int rc = llmcache_get(s->h[h], &keys[k], &v);
    mkey *m = &model[k];
    if (trace) fprintf(stderr, "  get h%d k%d -> %d (model %s)\n", h, k, rc, live(m) ? "live" : "absent");
    FUZZ_ASSERT(rc == LLMCACHE_OK || rc == LLMCACHE_MISS);
    if (rc == LLMCACHE_OK) {
        FUZZ_ASSERT(live(m));
        FUZZ_ASSERT(v.len == m->len && (m->len == 0 || memcmp(v.data, m->value, m->len) == 0));
        FUZZ_ASSERT(v.data[v.len] == '\0');
        FUZZ_ASSERT(v.created_ms == m->created && v.expires_ms == m->expires);
        if (m->has_meta) FUZZ_ASSERT(memcmp(&v.meta, &m->meta, sizeof v.meta) == 0);
        m->stamp = ++stamp_ctr;
    } else {
        FUZZ_ASSERT(v.data == NULL && v.len == 0);
        FUZZ_ASSERT(!live(m) || !exact(s));
        if (m->present && expired(m)) model_drop(k);
    }
    llmcache_value_free(&v);
}

static void check_count(setup *s, int h) {
    llmcache_stats st;
    llmcache_stats_get(s->h[h], &st);
    FUZZ_ASSERT(st.entries <= N_KEYS && st.entries <= s->max_entries);
    if (exact(s) && !s->ttl_used) FUZZ_ASSERT(st.entries == model_count());
}

static void check_verify(setup *s, int final) {
    llmcache_verify_report rep;
    int rc;
    if (s->memory) return;
    rc = llmcache_verify(s->path, &rep, NULL, NULL);
    FUZZ_ASSERT(rc == LLMCACHE_OK && rep.damaged_regions == 0 && rep.live <= N_KEYS);
    if (final) FUZZ_ASSERT(rep.tail_bytes == 0);
}

/* one operation from p[0..n); returns the bytes it used */
static size_t run_op(setup *s, const unsigned char *p, size_t n, uint32_t serial) {
    unsigned op = p[0] % 11, arg = n > 1 ? p[1] : 0;
    int k = (int)(arg & 7u), h = s->two ? (int)(arg >> 3 & 1u) : 0;
    llmcache *c = s->h[h];
    static unsigned char buf[49152];
    switch (op) {
    case 0: case 7: {   /* put (0) or put_ex with meta (7): arg, length class, ttl class */
        unsigned lc = n > 2 ? p[2] : 0, tc = n > 3 ? p[3] : 0;
        size_t len = lc < 200 ? lc : lc < 250 ? (lc - 200) * 64u : (lc - 249) * 8192u;
        int64_t ttl = (tc & 3u) == 0 ? 0 : (tc & 3u) == 1 ? -1 : (int64_t)(1 + (tc >> 2));
        int64_t expires = ttl == 0 ? (s->ttl ? now + 50 : 0) : ttl < 0 ? 0 : now + ttl;
        llmcache_meta meta;
        int rc;
        fill(buf, len, serial);
        memset(&meta, 0, sizeof meta);
        meta.status = 200 + (int)k;
        meta.flags = tc;
        meta.latency_ms = (int64_t)serial;
        meta.prompt_tokens = -1;
        meta.completion_tokens = (int64_t)len;
        memset(meta.schema_hash, (int)serial, 32);
        rc = op == 0 ? llmcache_put(c, &keys[k], buf, len, ttl) : llmcache_put_ex(c, &keys[k], buf, len, ttl, &meta);
        if (trace) fprintf(stderr, "  put h%d k%d len %lu ttl %ld -> %d\n", h, k, (unsigned long)len, (long)ttl, rc);
        if (s->memory && rc == LLMCACHE_ETOOBIG) return 4;   /* over max_bytes: nothing changed */
        FUZZ_ASSERT(rc == LLMCACHE_OK);
        if (expires) s->ttl_used = 1;
        model_set(s, k, buf, len, now, expires, op == 7 ? &meta : NULL);
        note_compactions(s, h);
        return 4;
    }
    case 1:
        check_get(s, h, k);
        return 2;
    case 2: {
        int rc = llmcache_del(c, &keys[k]);
        if (trace) fprintf(stderr, "  del h%d k%d -> %d\n", h, k, rc);
        FUZZ_ASSERT(rc == LLMCACHE_OK || rc == LLMCACHE_MISS);
        if (rc == LLMCACHE_OK) FUZZ_ASSERT(live(&model[k]));
        else FUZZ_ASSERT(!live(&model[k]) || !exact(s));
        model_drop(k);
        note_compactions(s, h);
        return 2;
    }
    case 3:
        if (trace) fprintf(stderr, "  compact h%d\n", h);
        FUZZ_ASSERT(llmcache_compact(c) == LLMCACHE_OK);
        if (!s->memory) {
            llmcache_stats st;
            model_compact();
            llmcache_stats_get(c, &st);
            s->compactions[h] = st.compactions;
        }
        return 2;
    case 4:   /* close and reopen one handle (the other, if any, stays open) */
        if (trace) fprintf(stderr, "  reopen h%d\n", h);
        llmcache_close(c);
        s->h[h] = NULL;
        if (!s->two) FUZZ_ASSERT(fuzz_allocs() == 0);
        open_handle(s, h);
        s->compactions[h] = 0;
        if (!s->two) model_reload(s);
        return 2;
    case 5:   /* the clock moves on: arg ms, or arg seconds past 200 */
        now += arg < 200 ? (int64_t)arg : (int64_t)(arg - 199) * 1000;
        if (trace) fprintf(stderr, "  clock +%u\n", arg);
        return 2;
    case 6:
        FUZZ_ASSERT(llmcache_sweep(c) == LLMCACHE_OK);
        return 2;
    case 8: {   /* put_at with an absolute expiry: in the past (drops the key) or never */
        int64_t expires = (arg & 0x80u) ? now - (int64_t)(arg >> 4 & 7u) : 0;
        int rc;
        fill(buf, 16, serial);
        rc = llmcache_put_at(c, &keys[k], buf, 16, now - 5, expires, NULL);
        if (trace) fprintf(stderr, "  put_at h%d k%d expires %ld -> %d\n", h, k, (long)expires, rc);
        FUZZ_ASSERT(rc == LLMCACHE_OK);
        if (expires) model_drop(k);
        else model_set(s, k, buf, 16, now - 5, 0, NULL);
        note_compactions(s, h);
        return 2;
    }
    case 9:   /* counts; and with arg bits 4-6 set a verify of the open log (it walks
                 the preallocated MiB of zeros too: slow under coverage instrumentation) */
        check_count(s, h);
        if ((arg & 0x70u) == 0x70u) check_verify(s, 0);
        return 2;
    default:
        FUZZ_ASSERT(llmcache_sync(c) == LLMCACHE_OK);
        return 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup s;
    size_t at = 2, ops = 0;
    int i, k;
    if (size < 2) return 0;
    trace = getenv("FUZZ_OPS_TRACE") != NULL;
    fuzz_alloc_limit = (size_t)16 << 20;
    memset(&s, 0, sizeof s);
    s.small_entries = data[0] & 1;
    s.small_bytes = data[0] >> 1 & 1;
    s.memory = data[0] >> 3 & 1;
    s.two = !s.memory && (data[0] >> 2 & 1);
    s.always = data[0] >> 4 & 1;
    s.ttl = data[0] >> 5 & 1;
    s.collide = data[0] >> 6 & 1;
    s.max_entries = s.small_entries ? 1 + data[1] % 7u : LLMCACHE_DEFAULT_MAX_ENTRIES;
    s.max_bytes = s.small_bytes ? 1024 + (size_t)(data[1] >> 4) * 512 : LLMCACHE_DEFAULT_MAX_BYTES;
    for (k = 0; k < N_KEYS; k++) {
        char name[32];
        snprintf(name, sizeof name, "ops-key-%d", k);
        llmcache_sha256(name, strlen(name), keys[k].bytes);
        memset(&model[k], 0, sizeof model[k]);
    }
    now = T0;
    stamp_ctr = rank_ctr = 0;
    if (trace) fprintf(stderr, "config: entries %lu bytes %lu two %d memory %d always %d ttl %d\n",
                       (unsigned long)s.max_entries, (unsigned long)s.max_bytes, s.two, s.memory, s.always, s.ttl);
    if (!s.memory) {
        fuzz_path(s.path, sizeof s.path, "ops.log");
        fuzz_rm_log(s.path);
        s.cfg.path = s.path;
    }
    s.cfg.max_entries = s.small_entries ? s.max_entries : 0;
    s.cfg.max_bytes = s.small_bytes ? s.max_bytes : 0;
    s.cfg.ttl_ms = s.ttl ? 50 : 0;
    s.cfg.fsync = s.always ? LLMCACHE_FSYNC_ALWAYS : LLMCACHE_FSYNC_NEVER;
    s.cfg.clock = fake_clock;
    open_handle(&s, 0);
    if (s.two) open_handle(&s, 1);

    while (at < size && ops++ < MAX_OPS) at += run_op(&s, data + at, size - at, (uint32_t)at);

    /* everything the model holds, through every handle, then after a last reopen */
    for (i = 0; i < 1 + s.two; i++) for (k = 0; k < N_KEYS; k++) check_get(&s, i, k);
    llmcache_close(s.h[0]);
    if (s.two) llmcache_close(s.h[1]);
    FUZZ_ASSERT(fuzz_allocs() == 0);
    check_verify(&s, 1);
    s.two = 0;
    open_handle(&s, 0);
    model_reload(&s);
    check_count(&s, 0);
    for (k = 0; k < N_KEYS; k++) check_get(&s, 0, k);
    llmcache_close(s.h[0]);
    FUZZ_ASSERT(fuzz_allocs() == 0);
    if (!s.memory) fuzz_rm_log(s.path);
    for (k = 0; k < N_KEYS; k++) model_drop(k);
    return 0;
}
