/* tests/log_common.h: the keys and values that tests/log_writer.c puts and
 * tests/test_log.c checks byte for byte. Include after llmcache.h. */
#ifndef LLMCACHE_LOG_COMMON_H
#define LLMCACHE_LOG_COMMON_H
#include <string.h>

#define LC_VALUE_MAX 4096

/* Key number n: SHA-256 of "lc-key" and n (little-endian). */
static llmcache_key lc_key(uint32_t n) {
    llmcache_key k;
    unsigned char buf[10];
    memcpy(buf, "lc-key", 6);
    buf[6] = (unsigned char)n; buf[7] = (unsigned char)(n >> 8);
    buf[8] = (unsigned char)(n >> 16); buf[9] = (unsigned char)(n >> 24);
    llmcache_sha256(buf, sizeof buf, k.bytes);
    return k;
}

/* len pseudo-random bytes (NULs included) that depend only on seed. */
static void lc_fill(uint64_t seed, unsigned char *p, size_t len) {
    uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ 0x632BE59BD9B4E019ull;
    size_t i;
    if (!x) x = 1;
    for (i = 0; i < len; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i] = (unsigned char)(x >> 29);
    }
}

/* The value of key number n into buf (LC_VALUE_MAX bytes); returns its length:
 * 1 to 600 bytes, every 97th one 3000. */
static size_t lc_value(uint32_t n, unsigned char *buf) {
    size_t len = (size_t)((((uint64_t)n * 2654435761u) >> 7) % 600) + 1;   /* % before the cast: 32-bit too */
    if (n % 97 == 3) len = 3000;
    lc_fill(n, buf, len);
    return len;
}

#endif
