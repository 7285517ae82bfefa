/* fuzz/fuzz_record.c: fuzz target for the log's record decoder (llmcache__rec_check,
 * llmcache__walk and its resync) and for llmcache_verify / llmcache_repair on the
 * input written as a file.
 *
 * `make fuzz` and `make fuzz-regress` (fuzz/fuzz.mk) build and run every target; by hand:
 * libFuzzer (from the repository root):
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o build/fuzz/fuzz_record fuzz/fuzz_record.c -lpthread
 *     build/fuzz/fuzz_record -dict=fuzz/record.dict -rss_limit_mb=2048 -malloc_limit_mb=512 -max_total_time=180 fuzz/corpus/record
 *   (a custom mutator recomputes the CRCs of most mutated inputs, so accepted records get mutated too)
 * AFL++ (persistent mode; AFL's macros are not -Wpedantic clean):
 *     afl-clang-fast -g -O1 -DLLMCACHE_FUZZ_AFL -o build/fuzz/afl_record fuzz/fuzz_record.c -lpthread
 *     afl-fuzz -i fuzz/corpus/record -x fuzz/record.dict -o build/afl-record -- build/fuzz/afl_record
 * Plain replay (any compiler; each argument is a file or a directory of files):
 *     cc -std=c99 -g -DLLMCACHE_FUZZ_MAIN -fsanitize=address,undefined -o build/fuzz/replay_record fuzz/fuzz_record.c -lpthread
 *     build/fuzz/replay_record fuzz/corpus/record
 * Temporary files go to a directory of the process under $FUZZ_TMPDIR, /dev/shm or /tmp.
 *
 * Checks, against an independent reading of docs/FORMAT.md (fuzz_util.h):
 *  - rec_check on an exactly sized heap copy (ASan catches any overread) accepts
 *    exactly the intact records; when it accepts, its lengths are consistent and
 *    lie inside the input, and re-encoding the decoded fields gives the same bytes;
 *  - walking the bytes finds the same records and damaged runs, which tile them;
 *  - llmcache_verify on the bytes as a file refuses what is not a log (shorter than
 *    the header; a header that fails its checks without records that show a log;
 *    another version under a right CRC), counts a damaged header as one damaged
 *    region, reports the same counts and damaged regions as the reference walk, and
 *    leaves the file untouched;
 *  - llmcache_repair leaves a clean file as it is, refuses a damaged header without
 *    force, and never loses an intact record: it either keeps every one (in order,
 *    byte for byte) in a file that verifies clean, or fails and leaves the file
 *    untouched; with force likewise for a damaged header;
 *  - no leak (every library allocation freed) and no allocation beyond 4x the input. */
#define FUZZ_NAME "fuzz_record"
#define FUZZ_CRC_MUTATOR
#include "fuzz_util.h"

typedef struct walk_log {
    uint64_t *rec_off, *rec_len; size_t n_rec, cap;
    fuzz_region *dmg; size_t n_dmg, cap_dmg;
} walk_log;

static void on_rec(void *ctx, uint64_t off, const llmcache__record *r) {
    walk_log *w = (walk_log *)ctx;
    FUZZ_ASSERT(w->n_rec < w->cap);
    w->rec_off[w->n_rec] = off;
    w->rec_len[w->n_rec++] = r->len;
}

static void on_dmg(void *ctx, uint64_t off, uint64_t len, int zero_tail) {
    walk_log *w = (walk_log *)ctx;
    FUZZ_ASSERT(w->n_dmg < w->cap_dmg);
    w->dmg[w->n_dmg].off = off;
    w->dmg[w->n_dmg].len = len;
    w->dmg[w->n_dmg++].zero_tail = zero_tail;
}

typedef struct damage_log { const fuzz_ref *ref; size_t next; int header; } damage_log;

/* llmcache_verify's on_damage: a damaged header first, then the non-tail regions
   of the reference, in order. */
static void on_verify_damage(void *ctx, uint64_t off, uint64_t len, const char *reason) {
    damage_log *d = (damage_log *)ctx;
    const fuzz_ref *ref = d->ref;
    FUZZ_ASSERT(reason != NULL && reason[0] != '\0');
    if (d->header) {
        FUZZ_ASSERT(off == 0 && len == 64);
        d->header = 0;
        return;
    }
    while (d->next < ref->n_dmg && ref->dmg[d->next].zero_tail) d->next++;
    FUZZ_ASSERT(d->next < ref->n_dmg);
    FUZZ_ASSERT(ref->dmg[d->next].off == off && ref->dmg[d->next].len == len);
    d->next++;
}

/* rec_check at p[0..n) (an exact heap copy) against the reference */
static void check_one_record(const unsigned char *p, size_t n) {
    llmcache__record r;
    fuzz_rec want;
    int got = llmcache__rec_check(p, n, &r), ref = fuzz_ref_intact(p, n, &want);
    unsigned char *enc;
    llmcache_meta meta;
    uint32_t len;
    FUZZ_ASSERT(got == ref);
    if (!got) return;
    FUZZ_ASSERT(r.len == want.len && r.len >= LLMCACHE__REC_HDR && llmcache__pad8(r.len) <= n);
    FUZZ_ASSERT(r.type == want.type && r.reason == want.reason);
    FUZZ_ASSERT(r.flags == want.flags);
    FUZZ_ASSERT(r.value_len == want.value_len && r.meta_len == want.meta_len);
    FUZZ_ASSERT((uint64_t)LLMCACHE__REC_HDR + r.meta_len + r.value_len == r.len);
    FUZZ_ASSERT(r.seq == want.seq && memcmp(r.key.bytes, want.key, 32) == 0);
    FUZZ_ASSERT(r.created_ms == want.created && r.expires_ms == want.expires);
    FUZZ_ASSERT(r.meta == want.meta && r.value == want.value);
    FUZZ_ASSERT(r.value >= p + LLMCACHE__REC_HDR && r.value + r.value_len <= p + n);
    /* encode(decode(x)) == x over the record (the padding, which the CRC does not
       cover, aside) */
    enc = (unsigned char *)malloc((size_t)llmcache__pad8(r.len));
    FUZZ_ASSERT(enc != NULL);
    if (r.meta) llmcache__meta_decode(r.meta, &meta);
    len = llmcache__rec_encode(enc, r.type, r.reason, r.seq, &r.key, r.created_ms, r.expires_ms,
                               r.meta ? &meta : NULL, r.value, r.value_len, r.xform);
    FUZZ_ASSERT(len == r.len);
    FUZZ_ASSERT(memcmp(enc, p, r.len) == 0);
    free(enc);
}

/* walk p[from, n) with the library and with the reference */
static void check_walk(const unsigned char *p, size_t n, uint64_t from) {
    walk_log w;
    fuzz_ref ref;
    llmcache__walker lw;
    uint64_t end, at = from;
    size_t i, ri = 0, di = 0;
    if (from > n) return;
    fuzz_ref_walk(p, from, n, &ref);
    w.cap = n / 80 + 1;
    w.cap_dmg = n / 8 + 2;
    w.rec_off = (uint64_t *)malloc(w.cap * sizeof(uint64_t));
    w.rec_len = (uint64_t *)malloc(w.cap * sizeof(uint64_t));
    w.dmg = (fuzz_region *)malloc(w.cap_dmg * sizeof(fuzz_region));
    FUZZ_ASSERT(w.rec_off && w.rec_len && w.dmg);
    w.n_rec = w.n_dmg = 0;
    lw.on_record = on_rec; lw.on_damage = on_dmg; lw.ctx = &w;
    end = llmcache__walk(p, from, n, &lw);
    FUZZ_ASSERT(end == ref.good_end);
    FUZZ_ASSERT(w.n_rec == ref.n_recs && w.n_dmg == ref.n_dmg);
    for (i = 0; i < ref.n_recs; i++)
        FUZZ_ASSERT(w.rec_off[i] == ref.recs[i].off && w.rec_len[i] == ref.recs[i].len);
    for (i = 0; i < ref.n_dmg; i++)
        FUZZ_ASSERT(w.dmg[i].off == ref.dmg[i].off && w.dmg[i].len == ref.dmg[i].len &&
                    w.dmg[i].zero_tail == ref.dmg[i].zero_tail);
    /* records and damaged runs tile [from, n) */
    while (ri < ref.n_recs || di < ref.n_dmg) {
        if (ri < ref.n_recs && ref.recs[ri].off == at) at += llmcache__pad8(ref.recs[ri++].len);
        else { FUZZ_ASSERT(di < ref.n_dmg && ref.dmg[di].off == at && ref.dmg[di].len > 0); at += ref.dmg[di++].len; }
    }
    FUZZ_ASSERT(at == n);
    free(w.rec_off);
    free(w.rec_len);
    free(w.dmg);
    fuzz_ref_free(&ref);
}

/* keys live at the end of the reference's records (expiry ignored), as verify counts */
static uint64_t live_keys(const fuzz_ref *ref) {
    size_t i, j, live = 0;
    for (i = 0; i < ref->n_recs; i++) {
        int later = 0;
        for (j = i + 1; j < ref->n_recs && !later; j++) later = memcmp(ref->recs[j].key, ref->recs[i].key, 32) == 0;
        if (!later && ref->recs[i].type == 1) live++;
    }
    return live;
}

/* Whether the records after a header that fails its checks show a log: an intact
 * record at 64, or intact records making up at least half of the bytes after the
 * header, a tail of zeros not counted (docs/FORMAT.md, "Repair and verify"). */
static int ref_log_despite_header(const fuzz_ref *ref, size_t size) {
    uint64_t intact = 0, rest = size - 64;
    size_t i;
    if (ref->n_recs == 0) return 0;
    if (ref->recs[0].off == 64) return 1;
    for (i = 0; i < ref->n_recs; i++) intact += fuzz_pad8(ref->recs[i].len);
    if (ref->n_dmg && ref->dmg[ref->n_dmg - 1].zero_tail) rest -= ref->dmg[ref->n_dmg - 1].len;
    return intact * 2 >= rest;
}

static void check_file(const unsigned char *data, size_t size) {
    char path[600];
    llmcache_verify_report rep, rep2;
    llmcache_repair_options force;
    fuzz_ref ref;
    damage_log dl;
    int want, fresh, bad_header, rc;
    unsigned char *after;
    size_t after_len, i;
    uint64_t at;

    fuzz_path(path, sizeof path, "record.log");
    fuzz_rm_log(path);
    fuzz_write_file(path, data, size);
    /* a file shorter than the header, or of another version, is refused; so is one
       whose header fails its checks, unless its records show a log: then the header
       is one damaged region, and the records are walked */
    memset(&ref, 0, sizeof ref);
    want = size < 64 ? LLMCACHE_ENOTCACHE : fuzz_ref_header(data, size, &fresh);
    bad_header = want == LLMCACHE_ECORRUPT || want == LLMCACHE_ENOTCACHE;
    if (size < 64) bad_header = 0;
    if (want == LLMCACHE_OK || bad_header) {
        fuzz_ref_walk(data, 64, size, &ref);
        if (bad_header && !ref_log_despite_header(&ref, size)) {
            fuzz_ref_free(&ref);
            bad_header = 0;
            want = LLMCACHE_ENOTCACHE;
        } else {
            want = bad_header || ref.damaged_regions ? LLMCACHE_ECORRUPT : LLMCACHE_OK;
        }
    }

    dl.ref = &ref; dl.next = 0; dl.header = bad_header;
    rc = llmcache_verify(path, &rep, on_verify_damage, &dl);
    FUZZ_ASSERT(rc == want);
    FUZZ_ASSERT(rep.file_bytes == size);
    if (rc == LLMCACHE_OK || rc == LLMCACHE_ECORRUPT) {
        FUZZ_ASSERT(!dl.header);
        FUZZ_ASSERT(rep.records == ref.n_recs && rep.puts == ref.puts && rep.deletes == ref.deletes);
        FUZZ_ASSERT(rep.damaged_regions == ref.damaged_regions + (uint64_t)bad_header);
        FUZZ_ASSERT(rep.damaged_bytes == ref.damaged_bytes + (bad_header ? 64u : 0u));
        /* the tail is every byte after the last intact record; only a zeroed one is not damage */
        FUZZ_ASSERT(rep.tail_bytes == size - ref.good_end && rep.last_seq == ref.last_seq);
        FUZZ_ASSERT(rep.live == live_keys(&ref));
        FUZZ_ASSERT(rep.damaged_bytes <= size && rep.tail_bytes <= size - 64);
        FUZZ_ASSERT(rep.header_damaged == (uint64_t)bad_header);
    }
    after = fuzz_read_file(path, &after_len);
    FUZZ_ASSERT(after && after_len == size && memcmp(after, data, size) == 0);   /* verify writes nothing */
    free(after);
    FUZZ_ASSERT(fuzz_allocs() == 0);

    /* repair never loses an intact record: it refuses (leaving the file as it was),
       leaves a clean file as it is, or keeps every intact record after the header,
       in order, byte for byte; a damaged header only with force */
    rc = llmcache_repair(path, &rep2);
    if (bad_header) {
        FUZZ_ASSERT(rc == LLMCACHE_ECORRUPT && rep2.header_damaged == 1);
        after = fuzz_read_file(path, &after_len);
        FUZZ_ASSERT(after && after_len == size && memcmp(after, data, size) == 0);
        free(after);
        memset(&force, 0, sizeof force);
        force.force = 1;
        rc = llmcache_repair_ex(path, &force, &rep2);
    }
    after = fuzz_read_file(path, &after_len);
    FUZZ_ASSERT(after != NULL);
    if (want != LLMCACHE_OK && want != LLMCACHE_ECORRUPT) FUZZ_ASSERT(rc == want);
    if (rc != LLMCACHE_OK || want == LLMCACHE_OK) {
        FUZZ_ASSERT(want != LLMCACHE_OK || rc == LLMCACHE_OK);
        FUZZ_ASSERT(after_len == size && memcmp(after, data, size) == 0);
    } else {
        FUZZ_ASSERT(after_len >= 64);
        at = 64;
        for (i = 0; i < ref.n_recs; i++) {
            size_t padded = (size_t)fuzz_pad8(ref.recs[i].len);
            FUZZ_ASSERT(at + padded <= after_len);
            FUZZ_ASSERT(memcmp(after + at, data + ref.recs[i].off, padded) == 0);
            at += padded;
        }
        FUZZ_ASSERT(at == after_len);
        rc = llmcache_verify(path, &rep2, NULL, NULL);
        FUZZ_ASSERT(rc == LLMCACHE_OK && rep2.damaged_regions == 0 && rep2.tail_bytes == 0);
        FUZZ_ASSERT(rep2.records == ref.n_recs && rep2.live == live_keys(&ref));
    }
    free(after);
    fuzz_rm_log(path);
    fuzz_ref_free(&ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *p = (unsigned char *)malloc(size ? size : 1);   /* exactly sized: ASan sees overreads */
    FUZZ_ASSERT(p != NULL);
    if (size) memcpy(p, data, size);
    fuzz_alloc_limit = 4 * size + ((size_t)1 << 20);
    check_one_record(p, size);
    check_walk(p, size, 0);
    check_walk(p, size, 64);
    free(p);
    FUZZ_ASSERT(fuzz_allocs() == 0);
    check_file(data, size);
    FUZZ_ASSERT(fuzz_allocs() == 0);
    return 0;
}
