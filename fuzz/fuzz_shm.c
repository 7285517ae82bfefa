/* fuzz/fuzz_shm.c: fuzz target for the shared page beside a log (PATH-shm), which
 * is a hint (docs/FORMAT.md): two handles share a valid log, the page's fields are
 * overwritten from the input, then both handles get, put, delete and compact,
 * and a third handle opens through the page.
 *
 * `make fuzz` and `make fuzz-regress` (fuzz/fuzz.mk) build and run every target; by hand:
 * libFuzzer (from the repository root):
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o build/fuzz/fuzz_shm fuzz/fuzz_shm.c -lpthread
 *     build/fuzz/fuzz_shm -rss_limit_mb=2048 -malloc_limit_mb=512 -max_total_time=180 fuzz/corpus/shm
 * AFL++ (persistent mode; AFL's macros are not -Wpedantic clean):
 *     afl-clang-fast -g -O1 -DLLMCACHE_FUZZ_AFL -o build/fuzz/afl_shm fuzz/fuzz_shm.c -lpthread
 *     afl-fuzz -i fuzz/corpus/shm -o build/afl-shm -- build/fuzz/afl_shm
 * Plain replay (any compiler; each argument is a file or a directory of files):
 *     cc -std=c99 -g -DLLMCACHE_FUZZ_MAIN -fsanitize=address,undefined -o build/fuzz/replay_shm fuzz/fuzz_shm.c -lpthread
 *     build/fuzz/replay_shm fuzz/corpus/shm
 *
 * Input: byte 0 flags (bit 0: the tampering happens again after each operation;
 * bit 1: LLMCACHE_FSYNC_ALWAYS; bit 2: magic, version and mutex size are
 * tampered too); then, for each of gen, end, last_seq, alloc, synced_end and
 * last_sync_ms, one operation byte (mod 4: keep, set, add a signed 32-bit
 * delta, xor) and 8 operand bytes (little-endian); then one byte per operation
 * on the cache (see run_op). The page's mutex is never touched. Missing bytes
 * read as zero.
 *
 * Checks: no crash (no SIGBUS from an end or a length past the file); every get
 * on either handle gives exactly the model's value (the last put of the key, or
 * a miss after a delete), never other bytes; the log stays an llmcache log whose
 * header changes only with a compaction, verifies without damage after the
 * handles close, and reopens with exactly the model's entries; no leak. */
#define FUZZ_NAME "fuzz_shm"
#include "fuzz_util.h"

#define N_KEYS 6
#define MAX_OPS 48

typedef struct mkey { int present; unsigned value; size_t len; } mkey;

static mkey model[N_KEYS];
static llmcache_key keys[N_KEYS];
static unsigned char header[64];

/* Value number v: up to 700 bytes that depend only on v. */
static size_t value_of(unsigned v, unsigned char *buf) {
    size_t len = (size_t)(v * 2654435761u >> 7) % 700, i;
    for (i = 0; i < len; i++) buf[i] = (unsigned char)(v * 31 + i * 7 + (i >> 3));
    return len;
}

typedef struct input { const uint8_t *p; size_t n, at; } input;

static uint8_t in_byte(input *in) { return in->at < in->n ? in->p[in->at++] : 0; }
static uint64_t in_u64(input *in) {
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) v |= (uint64_t)in_byte(in) << (8 * i);
    return v;
}

/* The page fields the input sets (ops and operands read once). */
typedef struct tamper { uint8_t flags, op[6]; uint64_t arg[6]; uint8_t head[3]; } tamper;

static uint64_t apply_op(uint64_t v, uint8_t op, uint64_t arg) {
    switch (op % 4) {
    case 1: return arg;
    case 2: return v + (uint64_t)(int64_t)(int32_t)(uint32_t)arg;
    case 3: return v ^ arg;
    default: return v;
    }
}

static void do_tamper(llmcache__shm *s, const tamper *t) {
    uint64_t *f[5];
    int i;
    f[0] = &s->gen; f[1] = &s->end; f[2] = &s->last_seq; f[3] = &s->alloc; f[4] = &s->synced_end;
    for (i = 0; i < 5; i++) *f[i] = apply_op(*f[i], t->op[i], t->arg[i]);
    s->last_sync_ms = (int64_t)apply_op((uint64_t)s->last_sync_ms, t->op[5], t->arg[5]);
    if (t->flags & 4) {
        s->magic[0] = (char)(s->magic[0] ^ t->head[0]);
        s->version ^= t->head[1];
        s->mutex_size ^= t->head[2];
    }
}

static void check_get(llmcache *c, int k) {
    unsigned char want[700];
    llmcache_value v;
    int rc = llmcache_get(c, &keys[k], &v);
    if (model[k].present) {
        size_t len = value_of(model[k].value, want);
        FUZZ_ASSERT(rc == LLMCACHE_OK);
        FUZZ_ASSERT(v.len == len && (len == 0 || memcmp(v.data, want, len) == 0));
    } else {
        FUZZ_ASSERT(rc == LLMCACHE_MISS && v.data == NULL);
    }
    llmcache_value_free(&v);
}

static void check_all(llmcache *c) {
    int k;
    for (k = 0; k < N_KEYS; k++) check_get(c, k);
}

/* The log's header is the one it was created (or last compacted) with. */
static void check_header(const char *path, int save) {
    unsigned char now[64];
    uint64_t id;
    FILE *f = fopen(path, "rb");
    FUZZ_ASSERT(f != NULL);
    FUZZ_ASSERT(fread(now, 1, sizeof now, f) == sizeof now);
    fclose(f);
    FUZZ_ASSERT(llmcache__hdr_check(now, sizeof now, &id) == LLMCACHE_OK);
    if (save) memcpy(header, now, sizeof now);
    FUZZ_ASSERT(memcmp(now, header, sizeof now) == 0);
}

static void put(llmcache *c, int k, unsigned v) {
    unsigned char buf[700];
    size_t len = value_of(v, buf);
    FUZZ_ASSERT(llmcache_put(c, &keys[k], buf, len, -1) == LLMCACHE_OK);
    model[k].present = 1;
    model[k].value = v;
}

/* One operation byte: bit 0 the handle, bits 1-2 what, the rest the key. */
static void run_op(llmcache *h[2], uint8_t b, const char *path, llmcache_config *cfg, unsigned *next) {
    llmcache *c = h[b & 1];
    int k = (b >> 3) % N_KEYS, rc;
    switch ((b >> 1) & 3) {
    case 0: check_get(c, k); break;
    case 1: put(c, k, (*next)++); break;
    case 2:
        rc = llmcache_del(c, &keys[k]);
        FUZZ_ASSERT(rc == (model[k].present ? LLMCACHE_OK : LLMCACHE_MISS));
        model[k].present = 0;
        break;
    default:
        if (b & 0x80) {   /* a new file, with a new header */
            FUZZ_ASSERT(llmcache_compact(c) == LLMCACHE_OK);
            check_header(path, 1);
        } else {   /* a third handle opens through the page (a bad magic or version: EIO) */
            llmcache *t = NULL;
            rc = llmcache_open(&t, cfg);
            FUZZ_ASSERT(rc == LLMCACHE_OK || rc == LLMCACHE_EIO);
            if (t) { check_all(t); llmcache_close(t); }
        }
        break;
    }
    check_header(path, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600];
    llmcache *h[2] = { NULL, NULL };
    llmcache_config cfg;
    llmcache_verify_report rep;
    input in;
    tamper t;
    unsigned next = 1000;
    int i, k, ops;

    in.p = data; in.n = size; in.at = 0;
    t.flags = in_byte(&in);
    for (i = 0; i < 6; i++) { t.op[i] = in_byte(&in); t.arg[i] = in_u64(&in); }
    for (i = 0; i < 3; i++) t.head[i] = in_byte(&in);
    for (k = 0; k < N_KEYS; k++) {
        char name[32];
        snprintf(name, sizeof name, "shm-key-%d", k);
        llmcache_sha256(name, strlen(name), keys[k].bytes);
        model[k].present = 0;
    }
    fuzz_path(path, sizeof path, "shm.log");
    fuzz_rm_log(path);
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = (t.flags & 2) ? LLMCACHE_FSYNC_ALWAYS : LLMCACHE_FSYNC_NEVER;
    FUZZ_ASSERT(llmcache_open(&h[0], &cfg) == LLMCACHE_OK);
    FUZZ_ASSERT(llmcache_open(&h[1], &cfg) == LLMCACHE_OK);
    for (k = 0; k < N_KEYS; k++) put(h[0], k, (unsigned)k);
    check_all(h[1]);
    check_header(path, 1);

    do_tamper(h[0]->shm, &t);
    for (ops = 0; ops < MAX_OPS && in.at < in.n; ops++) {
        run_op(h, in_byte(&in), path, &cfg, &next);
        if (t.flags & 1) do_tamper(h[0]->shm, &t);
    }
    check_all(h[0]);
    check_all(h[1]);
    llmcache_close(h[0]);
    llmcache_close(h[1]);
    FUZZ_ASSERT(fuzz_allocs() == 0);

    check_header(path, 0);
    FUZZ_ASSERT(llmcache_verify(path, &rep, NULL, NULL) == LLMCACHE_OK && rep.damaged_regions == 0);
    FUZZ_ASSERT(llmcache_open(&h[0], &cfg) == LLMCACHE_OK);   /* alone: the page is rebuilt */
    check_all(h[0]);
    llmcache_close(h[0]);
    FUZZ_ASSERT(fuzz_allocs() == 0);
    fuzz_rm_log(path);
    return 0;
}
