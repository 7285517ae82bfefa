/* tests/toy_transform.h: a transform for the tests that needs no library: the value
 * XOR a mask, then FNV-1a (little-endian) of the entry's key and the value, so that
 * its decode fails, as an authenticated one does, on altered bytes or another key.
 * Counts its calls; fail_encode makes encode fail. Include after llmcache.h with
 * its implementation (it uses llmcache__ld32). */
#ifndef LLMCACHE_TEST_TOY_TRANSFORM_H
#define LLMCACHE_TEST_TOY_TRANSFORM_H

typedef struct toy { unsigned char mask; int fail_encode; int encodes, decodes; } toy;

static uint32_t toy_sum(const llmcache_key *key, const unsigned char *p, size_t n) {
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < 32; i++) h = (h ^ key->bytes[i]) * 16777619u;
    for (i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static int toy_encode(void *ctx, const llmcache_key *key, const void *in, size_t len, llmcache_xform_out *out) {
    toy *t = (toy *)ctx;
    const unsigned char *p = (const unsigned char *)in;
    unsigned char *d;
    uint32_t h = toy_sum(key, p, len);
    size_t i;
    t->encodes++;
    if (t->fail_encode) return -1;
    d = llmcache_xform_reserve(out, len);
    if (!d) return -1;
    for (i = 0; i < len; i++) d[i] = (unsigned char)(p[i] ^ t->mask);
    llmcache_xform_commit(out, len);
    { unsigned char le[4]; le[0] = (unsigned char)h; le[1] = (unsigned char)(h >> 8);
      le[2] = (unsigned char)(h >> 16); le[3] = (unsigned char)(h >> 24);
      return llmcache_xform_write(out, le, 4) == LLMCACHE_OK ? 0 : -1; }
}

static int toy_decode(void *ctx, const llmcache_key *key, const void *in, size_t len, llmcache_xform_out *out) {
    toy *t = (toy *)ctx;
    const unsigned char *p = (const unsigned char *)in;
    unsigned char *d;
    size_t i;
    t->decodes++;
    if (len < 4) return -1;
    d = llmcache_xform_reserve(out, len - 4);
    if (!d) return -1;
    for (i = 0; i < len - 4; i++) d[i] = (unsigned char)(p[i] ^ t->mask);
    if (toy_sum(key, d, len - 4) != llmcache__ld32(p + len - 4)) return -1;
    llmcache_xform_commit(out, len - 4);
    return 0;
}

#endif
