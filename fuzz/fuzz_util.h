/* fuzz/fuzz_util.h: what the file-backed fuzz targets (fuzz_log_open, fuzz_record,
 * fuzz_envelope, fuzz_ops, fuzz_shm) share. Include it first, instead of llmcache.h: it
 * routes the library's allocations through counting hooks, then includes the
 * implementation.
 *
 *   FUZZ_ASSERT(x)      abort with file:line unless x (libFuzzer and AFL see a crash)
 *   allocator hooks     every LLMCACHE_MALLOC/REALLOC/FREE is counted; fuzz_allocs()
 *                       is the number of live blocks (0 after llmcache_close means no
 *                       leak, in any build, sanitizer or not), and a request above
 *                       fuzz_alloc_limit aborts (a size taken from a bogus length)
 *   fuzz_tmpdir()       a directory of this process under $FUZZ_TMPDIR, else /dev/shm
 *                       when writable (tmpfs: no disk syncs), else $TMPDIR or /tmp;
 *                       removed at exit
 *   fuzz_ref_*          an independent reading of docs/FORMAT.md (CRC-32C, "intact
 *                       record", the walk with resync) to check the library against
 *   fuzz_fix_crcs()     for custom mutators: recomputes the header CRC and the CRC of
 *                       every record-shaped run, so mutations reach past the checksums
 *   main()              with -DLLMCACHE_FUZZ_MAIN: replays files and directories of
 *                       files; with -DLLMCACHE_FUZZ_AFL (afl-clang-fast): AFL++
 *                       persistent mode reading stdin / shared memory
 * POSIX only (temporary files, unlink, mkdtemp). */
#ifndef LLMCACHE_FUZZ_UTIL_H
#define LLMCACHE_FUZZ_UTIL_H
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L   /* mkdtemp, dirent.h, stat */
#endif
#include <stddef.h>

static void *fuzz_malloc(size_t n);
static void *fuzz_realloc(void *p, size_t n);
static void fuzz_free(void *p);
#define LLMCACHE_MALLOC(sz)    fuzz_malloc(sz)
#define LLMCACHE_REALLOC(p,sz) fuzz_realloc(p, sz)
#define LLMCACHE_FREE(p)       fuzz_free(p)
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUZZ_NAME
#  define FUZZ_NAME "fuzz"
#endif
#define FUZZ_ASSERT(x) do { if (!(x)) fuzz_fail(__FILE__, __LINE__, #x); } while (0)
static void fuzz_fail(const char *file, int line, const char *what);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- allocator hooks */
static long fuzz_live_blocks;
static size_t fuzz_alloc_limit = (size_t)1 << 30;

static void fuzz_check_size(size_t n) {
    if (n > fuzz_alloc_limit) {
        fprintf(stderr, FUZZ_NAME ": the library asked for %lu bytes (limit %lu for this input)\n",
                (unsigned long)n, (unsigned long)fuzz_alloc_limit);
        abort();
    }
}
static void *fuzz_malloc(size_t n) {
    void *p;
    fuzz_check_size(n);
    p = malloc(n ? n : 1);
    if (p) fuzz_live_blocks++;
    return p;
}
static void *fuzz_realloc(void *p, size_t n) {
    void *q;
    fuzz_check_size(n);
    q = realloc(p, n ? n : 1);
    if (q && !p) fuzz_live_blocks++;
    return q;
}
static void fuzz_free(void *p) {
    if (!p) return;
    fuzz_live_blocks--;
    free(p);
}
static LLMCACHE__MAYBE_UNUSED long fuzz_allocs(void) { return fuzz_live_blocks; }

/* ---- files */
static char fuzz_dir_[512];

static LLMCACHE__MAYBE_UNUSED void fuzz_rm_dir(void) {
    DIR *d;
    struct dirent *e;
    char p[1024];
    if (!fuzz_dir_[0] || !(d = opendir(fuzz_dir_))) return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", fuzz_dir_, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(fuzz_dir_);
}

static LLMCACHE__MAYBE_UNUSED const char *fuzz_tmpdir(void) {
    const char *base = getenv("FUZZ_TMPDIR");
    if (fuzz_dir_[0]) return fuzz_dir_;
    if (!base || !base[0]) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/llmcache-" FUZZ_NAME "-XXXXXX", base);
    if (!mkdtemp(fuzz_dir_)) { perror(fuzz_dir_); abort(); }
    atexit(fuzz_rm_dir);
    return fuzz_dir_;
}

static const char *fuzz_input_name;   /* replay: the file being replayed */

/* a failed check: report it, remove the temporary files, crash */
static void fuzz_fail(const char *file, int line, const char *what) {
    fprintf(stderr, FUZZ_NAME ": %s:%d: check failed: %s\n", file, line, what);
    if (fuzz_input_name) fprintf(stderr, FUZZ_NAME ": input: %s\n", fuzz_input_name);
    fuzz_rm_dir();
    abort();
}

/* path of name inside the temporary directory */
static LLMCACHE__MAYBE_UNUSED void fuzz_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", fuzz_tmpdir(), name);
}

static LLMCACHE__MAYBE_UNUSED int fuzz_exists(const char *path) { struct stat st; return stat(path, &st) == 0; }

/* Removes a log and every file the library puts beside it. */
static LLMCACHE__MAYBE_UNUSED void fuzz_rm_log(const char *path) {
    static const char *const side[] = { "-shm", "-index", ".compact", ".repair" };
    char p[700];
    size_t i;
    unlink(path);
    for (i = 0; i < sizeof side / sizeof side[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, side[i]);
        unlink(p);
    }
}

static LLMCACHE__MAYBE_UNUSED void fuzz_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    FUZZ_ASSERT(f != NULL);
    FUZZ_ASSERT(n == 0 || fwrite(data, 1, n, f) == n);
    FUZZ_ASSERT(fclose(f) == 0);
}

/* The whole file (malloc'd, NULL when it cannot be opened); *len its size. */
static LLMCACHE__MAYBE_UNUSED unsigned char *fuzz_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, got;
    *len = 0;
    if (!f) return NULL;
    do {
        if (cap - *len < 4096) {
            unsigned char *nb = (unsigned char *)realloc(buf, cap = cap * 2 + 4096);
            FUZZ_ASSERT(nb != NULL);
            buf = nb;
        }
        got = fread(buf + *len, 1, cap - *len, f);
        *len += got;
    } while (got > 0);
    fclose(f);
    return buf;
}

/* ---- an independent reading of docs/FORMAT.md */
static LLMCACHE__MAYBE_UNUSED uint32_t fuzz_ld32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static LLMCACHE__MAYBE_UNUSED uint64_t fuzz_ld64(const unsigned char *p) { return (uint64_t)fuzz_ld32(p) | (uint64_t)fuzz_ld32(p + 4) << 32; }
static LLMCACHE__MAYBE_UNUSED void fuzz_st32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static LLMCACHE__MAYBE_UNUSED uint64_t fuzz_pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* CRC-32C, bit by bit (reflected polynomial 0x82F63B78) */
static LLMCACHE__MAYBE_UNUSED uint32_t fuzz_crc32c(const unsigned char *p, size_t n) {
    uint32_t crc = 0xffffffffu;
    int k;
    while (n--) {
        crc ^= *p++;
        for (k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

typedef struct fuzz_rec {
    uint64_t off;                  /* in the buffer walked */
    uint32_t len, value_len, meta_len;
    unsigned type, reason, flags;
    uint64_t seq;
    const unsigned char *key, *meta, *value;
    int64_t created, expires;
} fuzz_rec;

#define FUZZ_REC_MAGIC 0xABC41ED7u

/* "A record is intact when its magic is right, len is at least 80 and agrees with
 * the value and meta lengths, type and flags are valid, the whole padded record
 * lies inside the file, and the CRC matches." Flags (u16): "bit 0: a meta block is
 * present (must equal meta len != 0); bits 1..7 zero; bits 8..15: transform id (0 =
 * plain; a put whose value starts with its u32 plain length)"; a delete carries no
 * value and no transform. */
static LLMCACHE__MAYBE_UNUSED int fuzz_ref_intact(const unsigned char *p, uint64_t avail, fuzz_rec *r) {
    uint32_t len, vl, ml, flags;
    if (avail < 80 || fuzz_ld32(p) != FUZZ_REC_MAGIC) return 0;
    len = fuzz_ld32(p + 8);
    vl = fuzz_ld32(p + 72);
    ml = fuzz_ld32(p + 76);
    flags = (uint32_t)p[14] | (uint32_t)p[15] << 8;
    if (len < 80 || fuzz_pad8(len) > avail) return 0;
    if (p[12] != 1 && p[12] != 2) return 0;
    if (ml != 0 && ml != 64) return 0;
    if ((uint64_t)80 + ml + vl != len) return 0;
    if (p[12] == 2 && vl != 0) return 0;
    if ((flags & 0xffu) != (ml ? 1u : 0u)) return 0;
    if ((flags >> 8) && (p[12] != 1 || vl < 4)) return 0;
    if (fuzz_ld32(p + 4) != fuzz_crc32c(p + 8, len - 8)) return 0;
    memset(r, 0, sizeof *r);
    r->len = len; r->value_len = vl; r->meta_len = ml;
    r->type = p[12]; r->reason = p[13]; r->flags = flags;
    r->seq = fuzz_ld64(p + 16);
    r->key = p + 24;
    r->created = (int64_t)fuzz_ld64(p + 56);
    r->expires = (int64_t)fuzz_ld64(p + 64);
    r->meta = ml ? p + 80 : NULL;
    r->value = p + 80 + ml;
    return 1;
}

typedef struct fuzz_region { uint64_t off, len; int zero_tail; } fuzz_region;

/* What a walk of m[from, to) finds: the intact records and the damaged runs. */
typedef struct fuzz_ref {
    fuzz_rec *recs; size_t n_recs, cap_recs;
    fuzz_region *dmg; size_t n_dmg, cap_dmg;
    uint64_t good_end;             /* end of the last intact record, or from */
    uint64_t damaged_regions, damaged_bytes, tail_bytes, puts, deletes, last_seq;
} fuzz_ref;

static LLMCACHE__MAYBE_UNUSED void fuzz_ref_free(fuzz_ref *w) { free(w->recs); free(w->dmg); memset(w, 0, sizeof *w); }

/* "Start at offset 64; while bytes remain: if an intact record starts here, apply
 * it and move past its padding. Otherwise the bytes here are damage: look for the
 * next offset, a multiple of 8, where an intact record starts, skip to it, and
 * count one damaged region." A run of zeros reaching the end is preallocated
 * space, not damage; the tail is every byte after the last intact record. */
static LLMCACHE__MAYBE_UNUSED void fuzz_ref_walk(const unsigned char *m, uint64_t from, uint64_t to, fuzz_ref *w) {
    uint64_t off = from;
    memset(w, 0, sizeof *w);
    w->good_end = from;
    while (off < to) {
        fuzz_rec r;
        uint64_t next, i;
        int zeros = 1;
        if (fuzz_ref_intact(m + off, to - off, &r)) {
            r.off = off;
            if (w->n_recs == w->cap_recs) {
                w->cap_recs = w->cap_recs * 2 + 16;
                w->recs = (fuzz_rec *)realloc(w->recs, w->cap_recs * sizeof *w->recs);
                FUZZ_ASSERT(w->recs != NULL);
            }
            w->recs[w->n_recs++] = r;
            if (r.type == 1) w->puts++; else w->deletes++;
            if (r.seq > w->last_seq) w->last_seq = r.seq;
            off += fuzz_pad8(r.len);
            w->good_end = off;
            continue;
        }
        for (next = fuzz_pad8(off + 8); next < to; next += 8)
            if (fuzz_ref_intact(m + next, to - next, &r)) break;
        if (next > to) next = to;
        for (i = off; i < next; i++) if (m[i]) { zeros = 0; break; }
        if (w->n_dmg == w->cap_dmg) {
            w->cap_dmg = w->cap_dmg * 2 + 16;
            w->dmg = (fuzz_region *)realloc(w->dmg, w->cap_dmg * sizeof *w->dmg);
            FUZZ_ASSERT(w->dmg != NULL);
        }
        w->dmg[w->n_dmg].off = off;
        w->dmg[w->n_dmg].len = next - off;
        w->dmg[w->n_dmg].zero_tail = next == to && zeros;
        if (!(next == to && zeros)) { w->damaged_regions++; w->damaged_bytes += next - off; }
        w->n_dmg++;
        off = next;
    }
    w->tail_bytes = to - w->good_end;   /* after the last intact record, zeros or not */
}

/* What llmcache_open makes of a file of n bytes, as far as its first 64 bytes
 * tell: only an empty file becomes a new log (*fresh = 1); anything shorter than
 * the header, or without the magic, is not a log; then the CRC (a damaged header);
 * then the version (a newer log, under a right CRC); then the header's size field. */
static LLMCACHE__MAYBE_UNUSED int fuzz_ref_header(const unsigned char *p, size_t n, int *fresh) {
    *fresh = n == 0;
    if (n == 0) return LLMCACHE_OK;
    if (n < 64 || memcmp(p, "LLMCACHE", 8) != 0) return LLMCACHE_ENOTCACHE;
    if (fuzz_ld32(p + 60) != fuzz_crc32c(p, 60)) return LLMCACHE_ECORRUPT;
    if (fuzz_ld32(p + 8) != 1) return LLMCACHE_EVERSION;
    if (fuzz_ld32(p + 12) != 64) return LLMCACHE_ECORRUPT;
    return LLMCACHE_OK;
}

/* Makes every record-shaped run at an 8-aligned offset carry its right CRC, and
 * the header too when data starts with the magic (records then start at 64, else
 * at 0); bit i of skip leaves the i-th such place alone (so damage stays reachable). */
static LLMCACHE__MAYBE_UNUSED void fuzz_fix_crcs(unsigned char *data, size_t size, unsigned skip) {
    size_t off = 0;
    unsigned k = 0;
    if (size >= 8 && memcmp(data, "LLMCACHE", 8) == 0) {
        if (size >= 64 && !(skip & 1u)) fuzz_st32(data + 60, fuzz_crc32c(data, 60));
        off = 64;
    }
    for (; off + 80 <= size; off += 8) {
        uint32_t len;
        if (fuzz_ld32(data + off) != FUZZ_REC_MAGIC) continue;
        len = fuzz_ld32(data + off + 8);
        if (len < 80 || len > size - off) continue;
        if (++k < 32 && (skip >> k & 1u)) continue;
        fuzz_st32(data + off + 4, fuzz_crc32c(data + off + 8, len - 8));
    }
}

/* ---- drivers */
#if defined(FUZZ_CRC_MUTATOR) && !defined(LLMCACHE_FUZZ_MAIN) && !defined(LLMCACHE_FUZZ_AFL)
/* libFuzzer: the usual mutations, then (three times in four) the checksums made
 * right again, so that the decoders' later checks get exercised too. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    size = LLVMFuzzerMutate(data, size, max_size);
    if (seed % 4 != 0) fuzz_fix_crcs(data, size, seed % 3 == 0 ? seed >> 2 : 0);
    return size;
}
#endif

#if defined(LLMCACHE_FUZZ_MAIN)
/* Replays each file named (or found in a directory named) on the command line. */
static int fuzz_replay_file(const char *path) {
    size_t len;
    unsigned char *buf = fuzz_read_file(path, &len);
    if (!buf) { perror(path); return 1; }
    fuzz_input_name = path;
    LLVMFuzzerTestOneInput(buf, len);
    fuzz_input_name = NULL;
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    int i, files = 0, bad = 0;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { perror(argv[i]); bad++; continue; }
        if (S_ISDIR(st.st_mode)) {
            DIR *dir = opendir(argv[i]);
            struct dirent *e;
            if (!dir) { perror(argv[i]); bad++; continue; }
            while ((e = readdir(dir)) != NULL) {
                char path[4096];
                struct stat fst;
                if (e->d_name[0] == '.') continue;
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                if (stat(path, &fst) == 0 && S_ISREG(fst.st_mode)) { bad += fuzz_replay_file(path); files++; }
            }
            closedir(dir);
        } else {
            bad += fuzz_replay_file(argv[i]);
            files++;
        }
    }
    printf(FUZZ_NAME ": %d inputs, %d unreadable\n", files, bad);
    return bad ? 1 : 0;
}
#elif defined(LLMCACHE_FUZZ_AFL)
/* AFL++ persistent mode (afl-clang-fast / afl-clang-lto only). */
__AFL_FUZZ_INIT();
int main(void) {
    unsigned char *buf;
    __AFL_INIT();
    buf = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(10000)) LLVMFuzzerTestOneInput(buf, (size_t)__AFL_FUZZ_TESTCASE_LEN);
    return 0;
}
#endif

#endif /* LLMCACHE_FUZZ_UTIL_H */
