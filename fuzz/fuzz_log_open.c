/* fuzz/fuzz_log_open.c: fuzz target for llmcache_open on arbitrary bytes as a log
 * file (header check, recovery walk, torn-tail cut, index load), then put, get,
 * del, compact and a reopen on whatever it accepted.
 *
 * `make fuzz` and `make fuzz-regress` (fuzz/fuzz.mk) build and run every target; by hand:
 * libFuzzer (from the repository root):
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o build/fuzz/fuzz_log_open fuzz/fuzz_log_open.c -lpthread
 *     build/fuzz/fuzz_log_open -dict=fuzz/log_open.dict -rss_limit_mb=2048 -malloc_limit_mb=512 -max_total_time=180 fuzz/corpus/log_open
 *   (a custom mutator recomputes the CRCs of most mutated inputs, so intact records get mutated too)
 * AFL++ (persistent mode; AFL's macros are not -Wpedantic clean):
 *     afl-clang-fast -g -O1 -DLLMCACHE_FUZZ_AFL -o build/fuzz/afl_log_open fuzz/fuzz_log_open.c -lpthread
 *     afl-fuzz -i fuzz/corpus/log_open -x fuzz/log_open.dict -o build/afl-log_open -- build/fuzz/afl_log_open
 * Plain replay (any compiler; each argument is a file or a directory of files):
 *     cc -std=c99 -g -DLLMCACHE_FUZZ_MAIN -fsanitize=address,undefined -o build/fuzz/replay_log_open fuzz/fuzz_log_open.c -lpthread
 *     build/fuzz/replay_log_open fuzz/corpus/log_open
 * Each input is written to a log in a directory of the process (under $FUZZ_TMPDIR,
 * /dev/shm or /tmp), removed with its -shm after the run. The clock is fixed.
 *
 * Checks, against an independent reading of docs/FORMAT.md (fuzz_util.h):
 *  - the open's result is what the header says (ENOTCACHE, EVERSION, ECORRUPT, or
 *    OK); a refused file is left byte for byte as it was (and ENOTCACHE creates no
 *    -shm);
 *  - after a successful open: records_recovered, records_skipped, bytes_truncated
 *    and file_bytes are those of the reference walk; the live entries (foreach and
 *    get) are exactly the last intact record of each key that is not a delete and
 *    not expired, value, times, meta and seq included; deleted keys miss; every hit's
 *    value is a run of the input or a value put after the open; an entry whose
 *    record has a transform id (this target has no transform) is LLMCACHE_ETRANSFORM,
 *    never its bytes, and foreach skips it and ends with that error;
 *  - put, overwrite, del, compact, then a reopen with a small max_bytes (cold reads
 *    from the file) keep giving exactly the model's answers; the file then
 *    verifies clean;
 *  - no leak (every library allocation freed after close), no allocation beyond
 *    4x the input + 1 MiB (a size taken from a bogus length). */
#define FUZZ_NAME "fuzz_log_open"
#define FUZZ_CRC_MUTATOR
#include "fuzz_util.h"

#define NOW 1700000000010   /* the seeds were written at 1700000000000..+10 */
#define MAX_MODEL 4096

static int64_t clock_now = NOW;
static int64_t fake_clock(void *ctx) { (void)ctx; return clock_now; }

/* what a key should hold */
typedef struct model_entry {
    llmcache_key key;
    int live;
    const unsigned char *value; size_t len;
    int64_t created, expires;
    int has_meta; llmcache_meta meta;
    uint64_t seq;                  /* of its record in the input; 0 = put by this target */
    unsigned xform;                /* its record's transform id: this target has no transform,
                                      so such an entry is live but unreadable (ETRANSFORM) */
} model_entry;

static model_entry model[MAX_MODEL];
static size_t n_model;
static const uint8_t *g_input;
static size_t g_input_len;
static unsigned char put_a[300], put_b[300];

static model_entry *model_find(const unsigned char *key, int create) {
    size_t i;
    for (i = 0; i < n_model; i++) if (memcmp(model[i].key.bytes, key, 32) == 0) return &model[i];
    if (!create) return NULL;
    FUZZ_ASSERT(n_model < MAX_MODEL);
    memset(&model[n_model], 0, sizeof model[0]);
    memcpy(model[n_model].key.bytes, key, 32);
    return &model[n_model++];
}

static void meta_from_bytes(const unsigned char *p, llmcache_meta *m) {
    memcpy(m->schema_hash, p, 32);
    m->status = (int32_t)fuzz_ld32(p + 32);
    m->flags = fuzz_ld32(p + 36);
    m->latency_ms = (int64_t)fuzz_ld64(p + 40);
    m->prompt_tokens = (int64_t)fuzz_ld64(p + 48);
    m->completion_tokens = (int64_t)fuzz_ld64(p + 56);
}

static size_t model_live(void) {
    size_t i, n = 0;
    for (i = 0; i < n_model; i++) n += model[i].live ? 1u : 0u;
    return n;
}

static size_t model_unreadable(void) {
    size_t i, n = 0;
    for (i = 0; i < n_model; i++) n += model[i].live && model[i].xform ? 1u : 0u;
    return n;
}

static int contains(const unsigned char *hay, size_t n, const char *needle, size_t m) {
    size_t i;
    if (m == 0) return 1;
    for (i = 0; i + m <= n; i++) if (hay[i] == (unsigned char)needle[0] && memcmp(hay + i, needle, m) == 0) return 1;
    return 0;
}

/* a hit must give back exactly the model's entry */
static void check_value(const model_entry *e, const llmcache_value *v) {
    FUZZ_ASSERT(e->live);
    FUZZ_ASSERT(v->len == e->len && (e->len == 0 || memcmp(v->data, e->value, e->len) == 0));
    FUZZ_ASSERT(v->data != NULL && v->data[v->len] == '\0');
    FUZZ_ASSERT(v->created_ms == e->created && v->expires_ms == e->expires);
    if (e->has_meta) FUZZ_ASSERT(memcmp(&v->meta, &e->meta, sizeof v->meta) == 0);
    else {
        llmcache_meta zero;
        memset(&zero, 0, sizeof zero);
        FUZZ_ASSERT(memcmp(&v->meta, &zero, sizeof zero) == 0);
    }
    /* the literal promise: bytes of an intact record of the input, or a value put */
    FUZZ_ASSERT(contains(g_input, g_input_len, v->data, v->len) ||
                (v->len == sizeof put_a && memcmp(v->data, put_a, v->len) == 0) ||
                (v->len == sizeof put_b && memcmp(v->data, put_b, v->len) == 0));
}

static void check_all_gets(llmcache *c) {
    size_t i;
    for (i = 0; i < n_model; i++) {
        llmcache_value v;
        int rc = llmcache_get(c, &model[i].key, &v);
        if (model[i].live && model[i].xform) {
            FUZZ_ASSERT(rc == LLMCACHE_ETRANSFORM && v.data == NULL);   /* never its stored bytes */
        } else if (model[i].live) {
            FUZZ_ASSERT(rc == LLMCACHE_OK);
            check_value(&model[i], &v);
        } else {
            FUZZ_ASSERT(rc == LLMCACHE_MISS && v.data == NULL);
        }
        llmcache_value_free(&v);
    }
}

typedef struct foreach_ctx { size_t seen; int check_seq; } foreach_ctx;

static int on_entry(void *ctx, const llmcache_entry_info *info) {
    foreach_ctx *f = (foreach_ctx *)ctx;
    const model_entry *e = model_find(info->key.bytes, 0);
    FUZZ_ASSERT(e != NULL && e->live && !e->xform);
    FUZZ_ASSERT(info->len == e->len && info->data != NULL && (e->len == 0 || memcmp(info->data, e->value, e->len) == 0));
    FUZZ_ASSERT(info->created_ms == e->created && info->expires_ms == e->expires);
    if (e->has_meta) FUZZ_ASSERT(memcmp(&info->meta, &e->meta, sizeof info->meta) == 0);
    if (f->check_seq && e->seq) FUZZ_ASSERT(info->seq == e->seq);
    f->seen++;
    return 0;
}

static void check_foreach(llmcache *c, int check_seq) {
    foreach_ctx f;
    f.seen = 0; f.check_seq = check_seq;
    FUZZ_ASSERT(llmcache_foreach(c, 1, on_entry, &f) == (model_unreadable() ? LLMCACHE_ETRANSFORM : LLMCACHE_OK));
    FUZZ_ASSERT(f.seen == model_live() - model_unreadable());
}

static void do_put(llmcache *c, const char *name, const unsigned char *value, size_t len) {
    llmcache_key k;
    model_entry *e;
    llmcache_sha256(name, strlen(name), k.bytes);
    FUZZ_ASSERT(llmcache_put(c, &k, value, len, -1) == LLMCACHE_OK);
    e = model_find(k.bytes, 1);
    e->live = 1; e->value = value; e->len = len; e->created = NOW; e->expires = 0; e->has_meta = 0; e->seq = 0;
    e->xform = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600], shm[700];
    llmcache *c = NULL;
    llmcache_config cfg;
    llmcache_stats st;
    llmcache_verify_report rep;
    fuzz_ref ref;
    int want, fresh, rc;
    size_t i, after_len;
    unsigned char *after;

    g_input = data; g_input_len = size;
    n_model = 0;
    clock_now = NOW;
    fuzz_alloc_limit = 4 * size + ((size_t)1 << 20);
    for (i = 0; i < sizeof put_a; i++) { put_a[i] = (unsigned char)(i * 7 + size); put_b[i] = (unsigned char)(i * 13 + 1); }
    fuzz_path(path, sizeof path, "open.log");
    snprintf(shm, sizeof shm, "%s-shm", path);
    fuzz_rm_log(path);
    fuzz_write_file(path, data, size);

    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.clock = fake_clock;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    want = fuzz_ref_header(data, size, &fresh);
    rc = llmcache_open(&c, &cfg);
    FUZZ_ASSERT(rc == want);
    if (rc != LLMCACHE_OK) {
        FUZZ_ASSERT(c == NULL);
        after = fuzz_read_file(path, &after_len);
        FUZZ_ASSERT(after != NULL && after_len == size && memcmp(after, data, size) == 0);
        free(after);
        if (rc == LLMCACHE_ENOTCACHE) FUZZ_ASSERT(!fuzz_exists(shm));
        fuzz_rm_log(path);
        FUZZ_ASSERT(fuzz_allocs() == 0);
        return 0;
    }

    /* what the open must have found */
    memset(&ref, 0, sizeof ref);
    if (!fresh) fuzz_ref_walk(data, 64, size, &ref);
    for (i = 0; i < ref.n_recs; i++) {
        const fuzz_rec *r = &ref.recs[i];
        model_entry *e = model_find(r->key, 1);
        if (r->type == 2 || (r->expires && clock_now >= r->expires)) { e->live = 0; continue; }
        e->live = 1;
        e->value = r->value; e->len = r->value_len;
        e->xform = r->flags >> 8;
        e->created = r->created; e->expires = r->expires;
        e->has_meta = r->meta != NULL;
        if (r->meta) meta_from_bytes(r->meta, &e->meta);
        e->seq = r->seq;
    }
    llmcache_stats_get(c, &st);
    FUZZ_ASSERT(st.entries == model_live());
    FUZZ_ASSERT(st.records_recovered == ref.n_recs);
    FUZZ_ASSERT(st.records_skipped == ref.damaged_regions);
    FUZZ_ASSERT(st.file_bytes == (fresh ? 64 : ref.good_end));
    FUZZ_ASSERT(st.bytes_truncated == (fresh ? 0 : size - ref.good_end));
    check_foreach(c, 1);
    check_all_gets(c);

    /* the cache still works: put, overwrite, delete, compact */
    do_put(c, "fuzz-new-key", put_a, sizeof put_a);
    for (i = 0; i < n_model && !model[i].live; i++) {}
    if (i < n_model && model[i].seq) {
        model_entry *e = &model[i];
        FUZZ_ASSERT(llmcache_put(c, &e->key, put_b, sizeof put_b, -1) == LLMCACHE_OK);
        e->value = put_b; e->len = sizeof put_b; e->created = NOW; e->expires = 0; e->has_meta = 0; e->seq = 0;
        e->xform = 0;
        for (i++; i < n_model && !model[i].live; i++) {}
        if (i < n_model) {
            FUZZ_ASSERT(llmcache_del(c, &model[i].key) == LLMCACHE_OK);
            model[i].live = 0;
        }
    }
    check_all_gets(c);
    FUZZ_ASSERT(llmcache_compact(c) == LLMCACHE_OK);
    check_all_gets(c);
    llmcache_close(c);
    c = NULL;
    FUZZ_ASSERT(fuzz_allocs() == 0);

    /* reopen with little memory: values come from the file */
    cfg.max_bytes = (model_live() + 4) * LLMCACHE__ENTRY_COST + 2048;
    FUZZ_ASSERT(llmcache_open(&c, &cfg) == LLMCACHE_OK);
    llmcache_stats_get(c, &st);
    FUZZ_ASSERT(st.entries == model_live() && st.records_recovered == model_live());
    FUZZ_ASSERT(st.records_skipped == 0 && st.bytes_truncated == 0);
    check_all_gets(c);
    check_foreach(c, 0);
    check_all_gets(c);
    llmcache_close(c);
    FUZZ_ASSERT(fuzz_allocs() == 0);

    rc = llmcache_verify(path, &rep, NULL, NULL);
    FUZZ_ASSERT(rc == LLMCACHE_OK && rep.damaged_regions == 0 && rep.tail_bytes == 0);
    FUZZ_ASSERT(rep.live == model_live() && rep.records == model_live());
    FUZZ_ASSERT(fuzz_allocs() == 0);
    fuzz_ref_free(&ref);
    fuzz_rm_log(path);
    return 0;
}
