/* examples/transform_sodium.c - XChaCha20-Poly1305 (libsodium) as an llmcache
 * transform; see examples/transform_sodium.h. Link with -lsodium. */
#include "transform_sodium.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG   crypto_aead_xchacha20poly1305_ietf_ABYTES

struct llmcache_sodium { unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES]; };

typedef char sodium_key_size_matches[LLMCACHE_SODIUM_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES ? 1 : -1];

int llmcache_sodium_new(llmcache_sodium **out, const unsigned char key[LLMCACHE_SODIUM_KEY_BYTES]) {
    llmcache_sodium *s;
    *out = NULL;
    if (sodium_init() < 0) return LLMCACHE_EIO;
    s = (llmcache_sodium *)sodium_malloc(sizeof *s);
    if (!s) return LLMCACHE_ENOMEM;
    memcpy(s->key, key, sizeof s->key);
    *out = s;
    return LLMCACHE_OK;
}

void llmcache_sodium_free(llmcache_sodium *s) {
    if (s) sodium_free(s);   /* wipes it */
}

static int sodium_encode(void *ctx, const llmcache_key *key, const void *in, size_t len, llmcache_xform_out *out) {
    llmcache_sodium *s = (llmcache_sodium *)ctx;
    unsigned char *dst = llmcache_xform_reserve(out, NONCE + len + TAG);
    unsigned long long clen;
    if (!dst) return -1;
    randombytes_buf(dst, NONCE);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(dst + NONCE, &clen, (const unsigned char *)in, len,
                                                   key->bytes, sizeof key->bytes, NULL, dst, s->key) != 0)
        return -1;
    llmcache_xform_commit(out, NONCE + (size_t)clen);
    return 0;
}

static int sodium_decode(void *ctx, const llmcache_key *key, const void *in, size_t len, llmcache_xform_out *out) {
    llmcache_sodium *s = (llmcache_sodium *)ctx;
    const unsigned char *p = (const unsigned char *)in;
    unsigned char *dst;
    unsigned long long mlen;
    if (len < NONCE + TAG) return -1;
    dst = llmcache_xform_reserve(out, len - NONCE - TAG);
    if (!dst) return -1;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &mlen, NULL, p + NONCE, len - NONCE, key->bytes,
                                                   sizeof key->bytes, p, s->key) != 0)
        return -1;   /* forged, altered, moved to another key, or another secret key */
    llmcache_xform_commit(out, (size_t)mlen);
    return 0;
}

void llmcache_sodium_transform(llmcache_sodium *s, llmcache_transform *t) {
    memset(t, 0, sizeof *t);
    t->id = LLMCACHE_SODIUM_ID;
    t->encode = sodium_encode;
    t->decode = sodium_decode;
    t->ctx = s;
}

int llmcache_sodium_key_file(const char *path, unsigned char key[LLMCACHE_SODIUM_KEY_BYTES]) {
    unsigned char buf[2 * LLMCACHE_SODIUM_KEY_BYTES + 3];
    size_t n, bin_len;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? LLMCACHE_ENOENT : errno == EACCES ? LLMCACHE_EACCES : LLMCACHE_EIO;
    n = fread(buf, 1, sizeof buf, f);
    if (ferror(f)) { fclose(f); return LLMCACHE_EIO; }
    fclose(f);
    if (n == LLMCACHE_SODIUM_KEY_BYTES) { memcpy(key, buf, n); sodium_memzero(buf, sizeof buf); return LLMCACHE_OK; }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    if (n != 2 * LLMCACHE_SODIUM_KEY_BYTES ||
        sodium_hex2bin(key, LLMCACHE_SODIUM_KEY_BYTES, (const char *)buf, n, NULL, &bin_len, NULL) != 0 ||
        bin_len != LLMCACHE_SODIUM_KEY_BYTES) {
        sodium_memzero(buf, sizeof buf);
        return LLMCACHE_EINVAL;
    }
    sodium_memzero(buf, sizeof buf);
    return LLMCACHE_OK;
}
