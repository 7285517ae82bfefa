/* examples/transform_zstd.c - zstd compression as an llmcache transform; see
 * examples/transform_zstd.h. Link with -lzstd (and -lpthread). */
#include "transform_zstd.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zdict.h>

/* the largest value a frame may announce (the library's default LLMCACHE_MAX_VALUE) */
#define ZSTD_VALUE_MAX ((unsigned long long)1 << 30)

struct llmcache_zstd {
    ZSTD_CDict *cdict;            /* NULL without a dictionary */
    ZSTD_DDict *ddict;
    int level;
    pthread_mutex_t mu;           /* guards the spare contexts */
    ZSTD_CCtx *spare_c;           /* one context of each kind kept between calls */
    ZSTD_DCtx *spare_d;
};

int llmcache_zstd_new(llmcache_zstd **out, const void *dict, size_t dict_len, int level) {
    llmcache_zstd *z = (llmcache_zstd *)calloc(1, sizeof *z);
    *out = NULL;
    if (!z) return LLMCACHE_ENOMEM;
    z->level = level ? level : 3;
    if (dict && dict_len) {
        z->cdict = ZSTD_createCDict(dict, dict_len, z->level);
        z->ddict = ZSTD_createDDict(dict, dict_len);
        if (!z->cdict || !z->ddict) { llmcache_zstd_free(z); return LLMCACHE_EINVAL; }
    }
    pthread_mutex_init(&z->mu, NULL);
    *out = z;
    return LLMCACHE_OK;
}

void llmcache_zstd_free(llmcache_zstd *z) {
    if (!z) return;
    ZSTD_freeCDict(z->cdict);
    ZSTD_freeDDict(z->ddict);
    ZSTD_freeCCtx(z->spare_c);
    ZSTD_freeDCtx(z->spare_d);
    pthread_mutex_destroy(&z->mu);
    free(z);
}

/* Takes the spare context (or makes one when another thread has it). */
static ZSTD_CCtx *zstd_take_c(llmcache_zstd *z) {
    ZSTD_CCtx *cc;
    pthread_mutex_lock(&z->mu);
    cc = z->spare_c;
    z->spare_c = NULL;
    pthread_mutex_unlock(&z->mu);
    return cc ? cc : ZSTD_createCCtx();
}
static void zstd_give_c(llmcache_zstd *z, ZSTD_CCtx *cc) {
    pthread_mutex_lock(&z->mu);
    if (!z->spare_c) { z->spare_c = cc; cc = NULL; }
    pthread_mutex_unlock(&z->mu);
    ZSTD_freeCCtx(cc);
}
static ZSTD_DCtx *zstd_take_d(llmcache_zstd *z) {
    ZSTD_DCtx *dc;
    pthread_mutex_lock(&z->mu);
    dc = z->spare_d;
    z->spare_d = NULL;
    pthread_mutex_unlock(&z->mu);
    return dc ? dc : ZSTD_createDCtx();
}
static void zstd_give_d(llmcache_zstd *z, ZSTD_DCtx *dc) {
    pthread_mutex_lock(&z->mu);
    if (!z->spare_d) { z->spare_d = dc; dc = NULL; }
    pthread_mutex_unlock(&z->mu);
    ZSTD_freeDCtx(dc);
}

static int zstd_encode(void *ctx, const llmcache_key *key, const void *in, size_t len, llmcache_xform_out *out) {
    llmcache_zstd *z = (llmcache_zstd *)ctx;
    size_t bound = ZSTD_compressBound(len), n;
    unsigned char *dst = llmcache_xform_reserve(out, bound);
    ZSTD_CCtx *cc;
    (void)key;
    if (!dst || !(cc = zstd_take_c(z))) return -1;
    n = z->cdict ? ZSTD_compress_usingCDict(cc, dst, bound, in, len, z->cdict)
                 : ZSTD_compressCCtx(cc, dst, bound, in, len, z->level);
    zstd_give_c(z, cc);
    if (ZSTD_isError(n)) return -1;
    llmcache_xform_commit(out, n);
    return 0;
}

static int zstd_decode(void *ctx, const llmcache_key *key, const void *in, size_t len, llmcache_xform_out *out) {
    llmcache_zstd *z = (llmcache_zstd *)ctx;
    unsigned long long size = ZSTD_getFrameContentSize(in, len);
    unsigned char *dst;
    ZSTD_DCtx *dc;
    size_t n;
    (void)key;
    /* the frame states its size (we always write it); a hostile one is bounded */
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR || size > ZSTD_VALUE_MAX) return -1;
    dst = llmcache_xform_reserve(out, (size_t)size);
    if (!dst || !(dc = zstd_take_d(z))) return -1;
    n = z->ddict ? ZSTD_decompress_usingDDict(dc, dst, (size_t)size, in, len, z->ddict)
                 : ZSTD_decompressDCtx(dc, dst, (size_t)size, in, len);
    zstd_give_d(z, dc);
    if (ZSTD_isError(n) || n != size) return -1;
    llmcache_xform_commit(out, n);
    return 0;
}

void llmcache_zstd_transform(llmcache_zstd *z, llmcache_transform *t) {
    memset(t, 0, sizeof *t);
    t->id = LLMCACHE_ZSTD_ID;
    t->encode = zstd_encode;
    t->decode = zstd_decode;
    t->ctx = z;
}

size_t llmcache_zstd_train(void *dict, size_t cap, const void *samples, const size_t *sizes, unsigned n) {
    size_t got = ZDICT_trainFromBuffer(dict, cap, samples, sizes, n);
    return ZDICT_isError(got) ? 0 : got;
}
