/* examples/transform_zstd.h - a reference transform for llmcache_config.transform:
 * zstd compression (libzstd), optionally with a dictionary trained on a sample of
 * the cache (`llmcache train-dict`). The library itself never needs libzstd: build
 * examples/transform_zstd.c into your program and link -lzstd.
 *
 *     llmcache_zstd *z;
 *     llmcache_transform t;
 *     llmcache_zstd_new(&z, dict, dict_len, 0);     (dict NULL: no dictionary)
 *     llmcache_zstd_transform(z, &t);
 *     cfg.transform = &t;                           (then llmcache_open; z outlives the handle)
 *
 * Records carry id LLMCACHE_ZSTD_ID; a zstd frame names its dictionary, so a record
 * written with another dictionary fails its decode (LLMCACHE_ECORRUPT), never
 * returning garbage. Thread-safe: one llmcache_zstd may serve several handles and
 * threads at once. */
#ifndef LLMCACHE_TRANSFORM_ZSTD_H
#define LLMCACHE_TRANSFORM_ZSTD_H
#include "llmcache.h"

#define LLMCACHE_ZSTD_ID 1u   /* the transform id records written by it carry */

typedef struct llmcache_zstd llmcache_zstd;

/* Makes a compressor: dict[0..dict_len) (copied; NULL = none) and a zstd level
 * (0 = 3). LLMCACHE_OK, LLMCACHE_EINVAL (a dictionary libzstd refuses), ENOMEM. */
int  llmcache_zstd_new(llmcache_zstd **out, const void *dict, size_t dict_len, int level);

/* Releases it; no handle may still use it. NULL is fine. */
void llmcache_zstd_free(llmcache_zstd *z);

/* Fills *t with id LLMCACHE_ZSTD_ID and z's encode and decode. */
void llmcache_zstd_transform(llmcache_zstd *z, llmcache_transform *t);

/* Trains a dictionary of at most cap bytes into dict from n samples laid end to end
 * in samples (sizes[i] bytes each), with ZDICT_trainFromBuffer. Returns its size,
 * or 0 when training failed (too few or too small samples). */
size_t llmcache_zstd_train(void *dict, size_t cap, const void *samples, const size_t *sizes, unsigned n);

#endif
