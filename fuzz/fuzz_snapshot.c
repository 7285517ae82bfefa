/* fuzz/fuzz_snapshot.c: fuzz target for the index snapshot (PATH-index, docs/FORMAT.md
 * "Index snapshot"): arbitrary bytes as the snapshot beside a fixed, intact log.
 *
 * `make fuzz` and `make fuzz-regress` (fuzz/fuzz.mk) build and run every target; by hand:
 * libFuzzer (from the repository root):
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o build/fuzz/fuzz_snapshot fuzz/fuzz_snapshot.c -lpthread
 *     build/fuzz/fuzz_snapshot -rss_limit_mb=2048 -malloc_limit_mb=512 -max_total_time=180 fuzz/corpus/snapshot
 * Plain replay (any compiler; each argument is a file or a directory of files):
 *     cc -std=c99 -g -DLLMCACHE_FUZZ_MAIN -fsanitize=address,undefined -o build/fuzz/replay_snapshot fuzz/fuzz_snapshot.c -lpthread
 *     build/fuzz/replay_snapshot fuzz/corpus/snapshot
 * Input: one mode byte, then the snapshot's bytes. The log (made once per process,
 * with a random file id) is the same for every input, so the mode byte lets the
 * target make parts of the snapshot right before it is written: bit 0 the log's
 * file id, bit 1 its end, last record (offset, seq, CRC) and record count, bit 2
 * the entries' CRC, bit 3 the header's CRC (in that order); bit 4 adds a writable
 * round.
 *
 * Checks:
 *  - the open never fails because of the snapshot;
 *  - a snapshot that is not used (stats index_loaded 0) changes nothing: every key
 *    has exactly the log's value or misses as it does in the log;
 *  - a used one can hide entries, or (forged with right checksums) point a key at an
 *    older intact record of that key, as records appended to the log could (so key
 *    4's first value, or deleted key 6, may come back); it never gives bytes the key
 *    did not have: every hit, by get, get_with or foreach, is a value the log holds for
 *    that key; keys the log never held miss;
 *  - writable round: a put after the load, a close (which may write a snapshot) and a
 *    read-only reopen keep the put and still give no wrong value;
 *  - no leak; no allocation beyond 4x the input + 1 MiB + what the log needs. */
#define FUZZ_NAME "fuzz_snapshot"
#include "fuzz_util.h"

#define NOW 1700000000000
#define N_KEYS 12

static int64_t fake_clock(void *ctx) { (void)ctx; return NOW; }

static char g_log[600];
static unsigned char *g_log_bytes;     /* the log as made, restored before each input */
static size_t g_log_len;
static uint64_t g_id, g_end, g_last_off, g_last_seq, g_records;
static uint32_t g_last_crc;
static unsigned char g_val[N_KEYS][48];
static size_t g_len[N_KEYS];
static int g_live[N_KEYS];
static unsigned char g_old[N_KEYS][48];   /* an earlier value in the log (key 4's first, deleted key 6's) */
static size_t g_old_len[N_KEYS];
static int g_has_old[N_KEYS];
static int g_stale_ok;                    /* a snapshot was used: an earlier value may be served */

static llmcache_key key_n(unsigned n) {
    llmcache_key k;
    memset(&k, 0, sizeof k);
    k.bytes[0] = 0xc3;
    k.bytes[31] = (unsigned char)n;
    return k;
}

/* The fixed log: keys 0..N_KEYS-3 put (one with meta, one overwritten, one
 * deleted), the last two never. */
static void make_log(void) {
    llmcache_config cfg;
    llmcache *c = NULL;
    llmcache_meta meta;
    unsigned i;
    uint64_t off;
    fuzz_path(g_log, sizeof g_log, "snap.log");
    fuzz_rm_log(g_log);
    memset(&cfg, 0, sizeof cfg);
    cfg.path = g_log;
    cfg.clock = fake_clock;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    FUZZ_ASSERT(llmcache_open(&c, &cfg) == LLMCACHE_OK);
    memset(&meta, 0, sizeof meta);
    meta.status = 200;
    for (i = 0; i + 2 < N_KEYS; i++) {
        llmcache_key k = key_n(i);
        g_len[i] = (size_t)snprintf((char *)g_val[i], sizeof g_val[i], "value of key %u", i * 37);
        FUZZ_ASSERT(llmcache_put_ex(c, &k, g_val[i], g_len[i], -1, i == 2 ? &meta : NULL) == LLMCACHE_OK);
        g_live[i] = 1;
    }
    for (i = 4; i <= 6; i += 2) {
        memcpy(g_old[i], g_val[i], g_len[i]);
        g_old_len[i] = g_len[i];
        g_has_old[i] = 1;
    }
    {
        llmcache_key k = key_n(4), d = key_n(6);
        g_len[4] = (size_t)snprintf((char *)g_val[4], sizeof g_val[4], "overwritten");
        FUZZ_ASSERT(llmcache_put(c, &k, g_val[4], g_len[4], -1) == LLMCACHE_OK);
        FUZZ_ASSERT(llmcache_del(c, &d) == LLMCACHE_OK);
        g_live[6] = 0;
    }
    llmcache_close(c);
    g_log_bytes = fuzz_read_file(g_log, &g_log_len);
    FUZZ_ASSERT(g_log_bytes != NULL && g_log_len > 64);
    g_id = fuzz_ld64(g_log_bytes + 16);
    for (off = 64; off + 80 <= g_log_len && fuzz_ld32(g_log_bytes + off) == FUZZ_REC_MAGIC;) {
        g_last_off = off;
        g_last_seq = fuzz_ld64(g_log_bytes + off + 16);
        g_last_crc = fuzz_ld32(g_log_bytes + off + 4);
        g_records++;
        off += fuzz_pad8(fuzz_ld32(g_log_bytes + off + 8));
    }
    g_end = off;
}

static void st64(unsigned char *p, uint64_t v) { fuzz_st32(p, (uint32_t)v); fuzz_st32(p + 4, (uint32_t)(v >> 32)); }

static int which_key(const llmcache_key *k) {
    unsigned char z[31];
    memset(z, 0, sizeof z);
    z[0] = 0xc3;
    if (memcmp(k->bytes, z, 31) != 0 || k->bytes[31] >= N_KEYS) return -1;
    return k->bytes[31];
}

/* A hit must be the log's live value of its key, or (g_stale_ok) its earlier one. */
static void check_value(const llmcache_key *k, const char *data, size_t len) {
    int i = which_key(k), live, old;
    FUZZ_ASSERT(i >= 0);
    live = g_live[i] && len == g_len[i] && memcmp(data, g_val[i], len) == 0;
    old = g_stale_ok && g_has_old[i] && len == g_old_len[i] && memcmp(data, g_old[i], len) == 0;
    FUZZ_ASSERT(live || old);
}

static int on_entry(void *ctx, const llmcache_entry_info *info) {
    int i = which_key(&info->key);
    (void)ctx;
    if (info->data) check_value(&info->key, info->data, info->len);
    else FUZZ_ASSERT(i >= 0 && (g_live[i] || (g_stale_ok && g_has_old[i])));
    return 0;
}

static void check_gets(llmcache *c, int exact) {
    unsigned i;
    g_stale_ok = !exact;
    for (i = 0; i < N_KEYS; i++) {
        llmcache_key k = key_n(i);
        llmcache_value v;
        int rc = llmcache_get(c, &k, &v);
        FUZZ_ASSERT(rc == LLMCACHE_OK || rc == LLMCACHE_MISS);
        if (rc == LLMCACHE_OK) check_value(&k, v.data, v.len);
        else FUZZ_ASSERT(!exact || !g_live[i]);
        if (exact) FUZZ_ASSERT((rc == LLMCACHE_OK) == g_live[i]);
        llmcache_value_free(&v);
        rc = llmcache_get_with(c, &k, on_entry, NULL);
        FUZZ_ASSERT(rc == LLMCACHE_OK || rc == LLMCACHE_MISS);
    }
    FUZZ_ASSERT(llmcache_foreach(c, 1, on_entry, NULL) == LLMCACHE_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char idx[700];
    unsigned char *snap;
    size_t n;
    unsigned mode;
    llmcache_config cfg;
    llmcache *c = NULL;
    llmcache_stats st;
    if (!g_log_bytes) make_log();
    if (size < 1) return 0;
    mode = data[0];
    n = size - 1;
    fuzz_alloc_limit = 4 * size + ((size_t)1 << 20) + 4 * g_log_len;
    snap = (unsigned char *)malloc(n ? n : 1);
    FUZZ_ASSERT(snap != NULL);
    memcpy(snap, data + 1, n);
    if (n >= 80) {
        if (mode & 1) st64(snap + 16, g_id);
        if (mode & 2) { st64(snap + 24, g_end); st64(snap + 32, g_last_off); st64(snap + 40, g_last_seq); st64(snap + 48, g_records); fuzz_st32(snap + 72, g_last_crc); }
        if (mode & 4) fuzz_st32(snap + 68, fuzz_crc32c(snap + 80, n - 80));
        if (mode & 8) fuzz_st32(snap + 76, fuzz_crc32c(snap, 76));
    }
    fuzz_rm_log(g_log);
    fuzz_write_file(g_log, g_log_bytes, g_log_len);
    snprintf(idx, sizeof idx, "%s-index", g_log);
    fuzz_write_file(idx, snap, n);
    free(snap);

    memset(&cfg, 0, sizeof cfg);
    cfg.path = g_log;
    cfg.clock = fake_clock;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    cfg.read_only = 1;
    FUZZ_ASSERT(llmcache_open(&c, &cfg) == LLMCACHE_OK);
    llmcache_stats_get(c, &st);
    check_gets(c, st.index_loaded == 0);
    llmcache_close(c);
    FUZZ_ASSERT(fuzz_allocs() == 0);

    if (mode & 16) {   /* writable: load, put, close (a new snapshot, maybe), reopen */
        llmcache_key k = key_n(N_KEYS - 1);
        llmcache_value v;
        cfg.read_only = 0;
        FUZZ_ASSERT(llmcache_open(&c, &cfg) == LLMCACHE_OK);
        llmcache_stats_get(c, &st);
        check_gets(c, st.index_loaded == 0);
        g_len[N_KEYS - 1] = 3;
        memcpy(g_val[N_KEYS - 1], "new", 3);
        g_live[N_KEYS - 1] = 1;
        FUZZ_ASSERT(llmcache_put(c, &k, "new", 3, -1) == LLMCACHE_OK);
        llmcache_close(c);
        cfg.read_only = 1;
        FUZZ_ASSERT(llmcache_open(&c, &cfg) == LLMCACHE_OK);
        FUZZ_ASSERT(llmcache_get(c, &k, &v) == LLMCACHE_OK);
        check_value(&k, v.data, v.len);
        llmcache_value_free(&v);
        check_gets(c, 0);
        llmcache_close(c);
        g_live[N_KEYS - 1] = 0;
        FUZZ_ASSERT(fuzz_allocs() == 0);
    }
    return 0;
}
