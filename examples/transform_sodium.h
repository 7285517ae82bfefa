/* examples/transform_sodium.h - a reference transform for llmcache_config.transform:
 * authenticated encryption with libsodium's crypto_aead_xchacha20poly1305_ietf. The
 * library itself never needs libsodium: build examples/transform_sodium.c into your
 * program and link -lsodium.
 *
 *     llmcache_sodium *s;
 *     llmcache_transform t;
 *     llmcache_sodium_new(&s, key);                 (32 bytes, from your secret store)
 *     llmcache_sodium_transform(s, &t);
 *     cfg.transform = &t;                           (then llmcache_open; s outlives the handle)
 *
 * Stored form: a random 24-byte nonce, then the ciphertext and its 16-byte tag. The
 * associated data is the record's key, so a value copied under another key, altered,
 * or read with another secret key fails authentication: LLMCACHE_ECORRUPT, counted
 * (llmcache_stats.transform_failed), never returned. Entry metadata (times, HTTP
 * status, token counts) and keys are not encrypted. Thread-safe. */
#ifndef LLMCACHE_TRANSFORM_SODIUM_H
#define LLMCACHE_TRANSFORM_SODIUM_H
#include "llmcache.h"

#define LLMCACHE_SODIUM_ID 2u        /* the transform id records written by it carry */
#define LLMCACHE_SODIUM_KEY_BYTES 32u

typedef struct llmcache_sodium llmcache_sodium;

/* Makes an encrypter with a copy of key (kept in locked memory where the system
 * allows). LLMCACHE_OK, LLMCACHE_EIO (sodium_init failed), ENOMEM. */
int  llmcache_sodium_new(llmcache_sodium **out, const unsigned char key[LLMCACHE_SODIUM_KEY_BYTES]);

/* Wipes the key and releases it; no handle may still use it. NULL is fine. */
void llmcache_sodium_free(llmcache_sodium *s);

/* Fills *t with id LLMCACHE_SODIUM_ID and s's encode and decode. */
void llmcache_sodium_transform(llmcache_sodium *s, llmcache_transform *t);

/* Reads a key file: exactly 32 bytes, or 64 hex digits (a trailing newline allowed).
 * LLMCACHE_OK, LLMCACHE_ENOENT / EACCES / EIO for the file, EINVAL for other contents. */
int  llmcache_sodium_key_file(const char *path, unsigned char key[LLMCACHE_SODIUM_KEY_BYTES]);

#endif
