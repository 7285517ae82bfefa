/* tests/test_cache.c: the memory cache (hash table, LRU order, TTL, byte bounds,
 * binary values, argument checks) and keys/SHA-256 known answers. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <stdlib.h>

typedef struct fake_clock { int64_t now; } fake_clock;
static int64_t fake_now(void *ctx) { return ((fake_clock *)ctx)->now; }

static llmcache_key key_n(uint32_t n) {
    llmcache_key k;
    unsigned char buf[4];
    llmcache__st32(buf, n);
    llmcache_sha256(buf, 4, k.bytes);
    return k;
}

static int has(llmcache *c, uint32_t n) {
    llmcache_key k = key_n(n);
    llmcache_value v;
    int rc = llmcache_get(c, &k, &v);
    llmcache_value_free(&v);
    return rc == LLMCACHE_OK;
}

static void put_n(llmcache *c, uint32_t n, int64_t ttl) {
    llmcache_key k = key_n(n);
    char buf[32];
    int len = snprintf(buf, sizeof buf, "value-%u", (unsigned)n);
    CHECK_EQ(llmcache_put(c, &k, buf, (size_t)len, ttl), LLMCACHE_OK);
}

static void test_basic(void) {
    llmcache *c;
    llmcache_value v;
    llmcache_key k = key_n(1), k2 = key_n(2);
    static const char bin[] = { 'a', 0, 'b', 0, (char)0xff };
    llmcache_stats st;
    CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_MISS);
    CHECK(v.data == NULL && v.len == 0);
    CHECK_EQ(llmcache_put(c, &k, bin, sizeof bin, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
    CHECK_MEM(v.data, v.len, bin, sizeof bin);
    CHECK_EQ(v.data[v.len], 0);
    CHECK_EQ(v.expires_ms, 0);
    llmcache_value_free(&v);
    CHECK(v.data == NULL);
    /* empty value */
    CHECK_EQ(llmcache_put(c, &k2, "", 0, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_get(c, &k2, &v), LLMCACHE_OK);
    CHECK_EQ(v.len, 0);
    CHECK(v.data != NULL && v.data[0] == 0);
    llmcache_value_free(&v);
    CHECK_EQ(llmcache_put(c, &k2, NULL, 0, 0), LLMCACHE_OK);
    /* overwrite */
    CHECK_EQ(llmcache_put(c, &k, "new", 3, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
    CHECK_MEM(v.data, v.len, "new", 3);
    llmcache_value_free(&v);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.entries, 2);
    CHECK_EQ(st.hits, 3);
    CHECK_EQ(st.misses, 1);
    CHECK_EQ(st.puts, 4);
    CHECK_EQ(st.max_entries, LLMCACHE_DEFAULT_MAX_ENTRIES);
    CHECK_EQ(st.max_bytes, LLMCACHE_DEFAULT_MAX_BYTES);
    /* delete */
    CHECK_EQ(llmcache_del(c, &k), LLMCACHE_OK);
    CHECK_EQ(llmcache_del(c, &k), LLMCACHE_MISS);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_MISS);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.entries, 1);
    llmcache_close(c);
}

static void test_args(void) {
    llmcache *c;
    llmcache_key k = key_n(1);
    llmcache_value v;
    llmcache_config cfg;
    llmcache_stats st;
    CHECK_EQ(llmcache_open(NULL, NULL), LLMCACHE_EINVAL);
    memset(&cfg, 0, sizeof cfg);
    cfg.fsync = 7;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    CHECK(c == NULL);
    cfg.fsync = 0; cfg.ttl_ms = -5;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
    CHECK_EQ(llmcache_get(NULL, &k, &v), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_get(c, NULL, &v), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_get(c, &k, NULL), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_put(c, &k, NULL, 5, 0), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_put(NULL, &k, "x", 1, 0), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_put(c, NULL, "x", 1, 0), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_del(c, NULL), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_del(NULL, &k), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_sweep(NULL), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_compact(NULL), LLMCACHE_EINVAL);
    llmcache_stats_get(NULL, &st);
    CHECK_EQ(st.entries, 0);
    llmcache_stats_get(c, NULL);
    llmcache_value_free(NULL);
    llmcache_close(NULL);
    llmcache_free(NULL);
    CHECK(strstr(llmcache_result_string(LLMCACHE_EINVAL), "EINVAL") != NULL);
    CHECK(strstr(llmcache_result_string(LLMCACHE_MISS), "MISS") != NULL);
    CHECK(strstr(llmcache_result_string(12345), "unknown") != NULL);
    {   /* every code has its own text */
        int a, b;
        for (a = LLMCACHE_ENOTFILE; a <= LLMCACHE_MISS; a++)
            for (b = a + 1; b <= LLMCACHE_MISS; b++)
                CHECK(strcmp(llmcache_result_string(a), llmcache_result_string(b)) != 0);
    }
    llmcache_close(c);
}

/* A cache bounded to N entries holds exactly the N most recently used ones. */
static void test_lru(void) {
    enum { N = 100 };
    llmcache *c;
    llmcache_config cfg;
    llmcache_stats st;
    uint32_t i;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_entries = N;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    for (i = 0; i < N; i++) put_n(c, i, 0);
    /* use the even ones: they become the most recent */
    for (i = 0; i < N; i += 2) CHECK(has(c, i));
    /* 50 new entries push out exactly the 50 odd (least recently used) ones */
    for (i = N; i < N + N / 2; i++) put_n(c, i, 0);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.entries, N);
    CHECK_EQ(st.evictions, N / 2);
    {
        int evens = 0, odds = 0, fresh = 0;
        for (i = 0; i < N; i++) (i % 2 ? (odds += has(c, i)) : (evens += has(c, i)));
        for (i = N; i < N + N / 2; i++) fresh += has(c, i);
        CHECK_EQ(evens, N / 2);
        CHECK_EQ(odds, 0);
        CHECK_EQ(fresh, N / 2);
    }
    llmcache_close(c);
}

/* Random operations against a reference model: LRU order exactly as specified. */
static void test_lru_model(void) {
    enum { CAP = 64, KEYS = 200, OPS = 200000 };
    llmcache *c;
    llmcache_config cfg;
    uint32_t order[CAP]; /* most recent first */
    int n = 0, i, j, bad = 0;
    unsigned rng = 12345;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_entries = CAP;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    for (i = 0; i < OPS && !bad; i++) {
        uint32_t k, op;
        int pos = -1, got;
        rng = rng * 1103515245u + 12345u;
        k = (rng >> 8) % KEYS;
        op = (rng >> 24) % 4;
        for (j = 0; j < n; j++) if (order[j] == k) { pos = j; break; }
        if (op == 0) { /* put */
            put_n(c, k, 0);
            if (pos < 0) { if (n < CAP) n++; pos = n - 1; }
            memmove(order + 1, order, (size_t)pos * sizeof order[0]);
            order[0] = k;
        } else if (op == 1) { /* del */
            llmcache_key kk = key_n(k);
            got = llmcache_del(c, &kk);
            if ((got == LLMCACHE_OK) != (pos >= 0)) bad = 1;
            if (pos >= 0) { memmove(order + pos, order + pos + 1, (size_t)(n - pos - 1) * sizeof order[0]); n--; }
        } else { /* get */
            got = has(c, k);
            if (got != (pos >= 0)) bad = 1;
            if (pos >= 0) { memmove(order + 1, order, (size_t)pos * sizeof order[0]); order[0] = k; }
        }
    }
    CHECK_MSG(!bad, "model diverged at op %d", i);
    {
        llmcache_stats st;
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.entries, (uint64_t)n);
    }
    llmcache_close(c);
}

static void test_ttl(void) {
    fake_clock fc;
    llmcache *c;
    llmcache_config cfg;
    llmcache_value v;
    llmcache_key k = key_n(7);
    llmcache_stats st;
    uint32_t i;
    fc.now = 1700000000000;
    memset(&cfg, 0, sizeof cfg);
    cfg.clock = fake_now;
    cfg.clock_ctx = &fc;
    cfg.ttl_ms = 1000;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &k, "a", 1, 0), LLMCACHE_OK);          /* default ttl 1000 */
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
    CHECK_EQ(v.created_ms, fc.now);
    CHECK_EQ(v.expires_ms, fc.now + 1000);
    llmcache_value_free(&v);
    fc.now += 999;
    CHECK(has(c, 7));
    fc.now += 1;
    CHECK(!has(c, 7));                                               /* expires at exactly +1000 */
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.expirations, 1);
    CHECK_EQ(st.entries, 0);
    CHECK_EQ(llmcache_put(c, &k, "b", 1, -1), LLMCACHE_OK);          /* never */
    fc.now += 1000000000;
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
    CHECK_EQ(v.expires_ms, 0);
    llmcache_value_free(&v);
    CHECK_EQ(llmcache_put(c, &k, "c", 1, 50), LLMCACHE_OK);          /* explicit */
    fc.now += 50;
    CHECK(!has(c, 7));
    CHECK_EQ(llmcache_put(c, &k, "d", 1, INT64_MAX), LLMCACHE_OK);   /* no overflow */
    fc.now += 1000000;
    CHECK(has(c, 7));
    /* an expired entry is deleted as a miss */
    CHECK_EQ(llmcache_put(c, &k, "e", 1, 10), LLMCACHE_OK);
    fc.now += 10;
    CHECK_EQ(llmcache_del(c, &k), LLMCACHE_MISS);
    /* the sweep frees entries nobody reads again */
    for (i = 0; i < 1000; i++) put_n(c, i, 100);
    fc.now += 100;
    for (i = 1000; i < 1400; i++) put_n(c, i, -1);   /* puts sweep a few at a time */
    llmcache_stats_get(c, &st);
    CHECK_MSG(st.entries < 1400, "puts swept nothing: %llu entries", (unsigned long long)st.entries);
    CHECK_EQ(llmcache_sweep(c), LLMCACHE_OK);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.entries, 400);
    llmcache_close(c);
}

static void test_bytes(void) {
    llmcache *c;
    llmcache_config cfg;
    llmcache_stats st;
    llmcache_key k;
    char *big;
    uint32_t i;
    size_t one = LLMCACHE__ENTRY_COST + llmcache__blob_cost(LLMCACHE__BLOB_HDR + 1000 + 1);
    memset(&cfg, 0, sizeof cfg);
    cfg.max_bytes = one * 10;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    big = (char *)malloc(1000);
    memset(big, 'x', 1000);
    for (i = 0; i < 25; i++) {
        k = key_n(i);
        CHECK_EQ(llmcache_put(c, &k, big, 1000, 0), LLMCACHE_OK);
        llmcache_stats_get(c, &st);
        CHECK(st.bytes <= cfg.max_bytes);
    }
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.entries, 10);
    CHECK_EQ(st.bytes, one * 10);
    CHECK_EQ(st.evictions, 15);
    for (i = 15; i < 25; i++) CHECK(has(c, i));
    /* bytes count real memory, not just payload */
    CHECK(st.bytes > 10 * 1000);
    /* a value that alone exceeds the bound is refused, the cache is intact */
    k = key_n(99);
    CHECK_EQ(llmcache_put(c, &k, big, 0, 0), LLMCACHE_OK);
    free(big);
    big = (char *)malloc(one * 11);
    memset(big, 'y', one * 11);
    CHECK_EQ(llmcache_put(c, &k, big, one * 11, 0), LLMCACHE_ETOOBIG);
    CHECK(has(c, 99));
    free(big);
    llmcache_close(c);
    /* 16 MiB values fit the default bounds */
    CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
    big = (char *)malloc(16u << 20);
    for (i = 0; i < (16u << 20); i++) big[i] = (char)(i * 7);
    k = key_n(1);
    CHECK_EQ(llmcache_put(c, &k, big, 16u << 20, 0), LLMCACHE_OK);
    {
        llmcache_value v;
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
        CHECK(v.len == (16u << 20) && memcmp(v.data, big, v.len) == 0);
        llmcache_value_free(&v);
    }
    free(big);
    llmcache_close(c);
}

/* Many keys: the table grows and deletes keep every other key reachable. */
static void test_many(void) {
    enum { N = 50000 };
    llmcache *c;
    llmcache_config cfg;
    uint32_t i;
    int missing = 0, present = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_entries = N;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    for (i = 0; i < N; i++) put_n(c, i, 0);
    for (i = 0; i < N; i += 3) { llmcache_key k = key_n(i); CHECK(llmcache_del(c, &k) == LLMCACHE_OK); }
    for (i = 0; i < N; i++) {
        int h = has(c, i);
        if (i % 3 == 0) present += h; else missing += !h;
    }
    CHECK_EQ(present, 0);
    CHECK_EQ(missing, 0);
    llmcache_close(c);
}

static void hex32(const char *hex, unsigned char out[32]) {
    llmcache_key k;
    llmcache_key_parse(&k, hex, 64);
    memcpy(out, k.bytes, 32);
}

/* NIST FIPS 180-4 / CSRC "SHA256.pdf" example values, and the long messages of the
 * NIST SHA test vectors (one million 'a'). */
static void test_sha256(void) {
    unsigned char got[32], want[32];
    llmcache__sha256 s;
    char *m;
    size_t i;
    llmcache_sha256("", 0, got);
    hex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
    CHECK(memcmp(got, want, 32) == 0);
    llmcache_sha256("abc", 3, got);
    hex32("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
    CHECK(memcmp(got, want, 32) == 0);
    llmcache_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, got);
    hex32("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", want);
    CHECK(memcmp(got, want, 32) == 0);
    {
        static const char m896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
        llmcache_sha256(m896, strlen(m896), got);
    }
    hex32("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1", want);
    CHECK(memcmp(got, want, 32) == 0);
    m = (char *)malloc(1000000);
    memset(m, 'a', 1000000);
    llmcache_sha256(m, 1000000, got);
    hex32("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", want);
    CHECK(memcmp(got, want, 32) == 0);
    /* the same message fed in odd-sized pieces */
    llmcache__sha256_init(&s);
    for (i = 0; i < 1000000; ) {
        size_t n = (i * 7 + 13) % 131;
        if (n > 1000000 - i) n = 1000000 - i;
        llmcache__sha256_update(&s, m + i, n);
        i += n;
    }
    llmcache__sha256_final(&s, got);
    CHECK(memcmp(got, want, 32) == 0);
    free(m);
}

/* The SHA extensions path and the portable one agree block for block. */
static void test_sha256_paths(void) {
#ifdef LLMCACHE__SHA_NI
    unsigned char data[64 * 9];
    uint32_t h1[8], h2[8];
    unsigned x = 99;
    size_t i, n;
    if (!LLMCACHE__HAVE_SHA_NI()) { printf("note: no SHA extensions here; portable path only\n"); return; }
    for (n = 1; n <= 9; n++) {
        llmcache__sha256 s;
        for (i = 0; i < sizeof data; i++) { x = x * 1103515245u + 12345u; data[i] = (unsigned char)(x >> 16); }
        llmcache__sha256_init(&s);
        memcpy(h1, s.h, sizeof h1);
        memcpy(h2, s.h, sizeof h2);
        llmcache__sha256_blocks_ni(h1, data, n);
        for (i = 0; i < n; i++) llmcache__sha256_block(h2, data + 64 * i);
        CHECK(memcmp(h1, h2, sizeof h1) == 0);
    }
#else
    printf("note: built without the SHA extensions path\n");
#endif
}

static void test_key_hex(void) {
    llmcache_key k, k2;
    char hex[65];
    int i;
    for (i = 0; i < 32; i++) k.bytes[i] = (unsigned char)(i * 17);
    llmcache_key_hex(&k, hex);
    CHECK_STR(hex, "00112233445566778899aabbccddeeff102132435465768798a9bacbdcedfe0f");
    CHECK_EQ(llmcache_key_parse(&k2, hex, 64), LLMCACHE_OK);
    CHECK(memcmp(k.bytes, k2.bytes, 32) == 0);
    CHECK_EQ(llmcache_key_parse(&k2, "00112233445566778899AABBCCDDEEFF102132435465768798A9BACBDCEDFE0F", 64), LLMCACHE_OK);
    CHECK(memcmp(k.bytes, k2.bytes, 32) == 0);
    CHECK_EQ(llmcache_key_parse(&k2, hex, 63), LLMCACHE_EINVAL);
    hex[5] = 'g';
    CHECK_EQ(llmcache_key_parse(&k2, hex, 64), LLMCACHE_EINVAL);
}

/* CRC-32C check value (RFC 3720 appendix B.4 lists CRC-32C examples; "123456789"
 * -> 0xE3069283 is the catalogue check value), and the hardware and table paths agree. */
static void test_crc32c(void) {
    unsigned char buf[1000];
    uint32_t i, a, b;
    CHECK_EQ(llmcache__crc32c(0, "123456789", 9), 0xE3069283u);
    memset(buf, 0, 32);
    CHECK_EQ(llmcache__crc32c(0, buf, 32), 0x8A9136AAu);   /* RFC 3720 B.4: 32 bytes of zeros */
    memset(buf, 0xff, 32);
    CHECK_EQ(llmcache__crc32c(0, buf, 32), 0x62A8AB43u);   /* RFC 3720 B.4: 32 bytes of 0xff */
    for (i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 31 + 7);
    a = llmcache__crc32c(0, buf, sizeof buf);
    b = llmcache__crc32c(llmcache__crc32c(0, buf, 333), buf + 333, sizeof buf - 333);
    CHECK_EQ(a, b);
    CHECK_EQ(~llmcache__crc32c_sw(~0u, buf + 1, 999), llmcache__crc32c(0, buf + 1, 999));
    {   /* every length and alignment through the three-stream path and its tail */
        static unsigned char big[4000];
        size_t n, off;
        int agree = 1;
        for (n = 0; n < sizeof big; n++) big[n] = (unsigned char)(n * 131 + (n >> 7));
        for (off = 0; off < 8; off++)
            for (n = 0; n + off <= sizeof big; n += 1 + off)
                if (~llmcache__crc32c_sw(~0u, big + off, n) != llmcache__crc32c(0, big + off, n)) agree = 0;
        CHECK(agree);
    }
}

/* Mean distance of the table's entries from their home slot (linear probing). */
static double mean_probe(const llmcache *c) {
    size_t i, n = 0, sum = 0;
    for (i = 0; i <= c->slot_mask; i++) {
        size_t home;
        if (!c->slots[i].tag_idx) continue;
        home = (size_t)(c->slots[i].tag_idx >> 32) & c->slot_mask;
        sum += (i - home) & c->slot_mask;
        n++;
    }
    return n ? (double)sum / (double)n : 0.0;
}

/* Issue 10, defect 8: keys chosen to collide (a counter in one 8-byte word, the
 * rest equal: llmcache_key_parse of counters, a crafted import) must spread over
 * the table as random keys do. Counted in probe distance, not time. */
static void test_adversarial_keys(void) {
    static const int where[4] = { 0, 8, 16, 24 };
    llmcache_config cfg;
    llmcache *c;
    double random_mean;
    uint32_t n, bad;
    int w;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_entries = 50000;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    for (n = 0; n < 40000; n++) put_n(c, n, 0);
    random_mean = mean_probe(c);
    llmcache_close(c);
    CHECK_MSG(random_mean < 2.0, "random keys: mean probe %.2f", random_mean);
    for (w = 0; w < 4; w++) {
        double m;
        CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
        for (n = 0, bad = 0; n < 40000; n++) {
            llmcache_key k;
            memset(k.bytes, 0xab, 32);
            llmcache__st32(k.bytes + where[w] + 4, n);   /* counters in the word's high half */
            if (llmcache_put(c, &k, "v", 1, 0) != LLMCACHE_OK) bad++;
        }
        CHECK_EQ(bad, 0);
        m = mean_probe(c);
        CHECK_MSG(m < 2.0 * random_mean + 1.0, "counter in bytes %d..%d: mean probe %.2f, random keys %.2f",
                  where[w], where[w] + 7, m, random_mean);
        for (n = 0; n < 40000; n += 997) {
            llmcache_key k;
            llmcache_value v;
            memset(k.bytes, 0xab, 32);
            llmcache__st32(k.bytes + where[w] + 4, n);
            CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
            llmcache_value_free(&v);
        }
        llmcache_close(c);
    }
}

/* TTLs at the ends of the clock's range saturate: every put with a positive TTL
 * stores an entry that is live now and expires (issue 10, "Also"). */
static void test_ttl_extremes(void) {
    static const int64_t nows[] = { INT64_MIN, INT64_MIN + 1, -1000, -1, 0, 1, INT64_MAX - 1000, INT64_MAX - 1 };
    static const int64_t ttls[] = { 1, 100, INT64_MAX };
    size_t i, j;
    for (i = 0; i < sizeof nows / sizeof *nows; i++) {
        for (j = 0; j < sizeof ttls / sizeof *ttls; j++) {
            fake_clock clk;
            llmcache_config cfg;
            llmcache *c;
            llmcache_key k = key_n(7);
            llmcache_value v;
            int rc;
            memset(&cfg, 0, sizeof cfg);
            cfg.clock = fake_now;
            cfg.clock_ctx = &clk;
            clk.now = nows[i];
            if (llmcache_open(&c, &cfg) != LLMCACHE_OK) { CHECK(0); return; }
            rc = llmcache_put(c, &k, "x", 1, ttls[j]);
            CHECK_MSG(rc == LLMCACHE_OK, "now %lld ttl %lld: put %s", (long long)nows[i], (long long)ttls[j],
                      llmcache_result_string(rc));
            rc = llmcache_get(c, &k, &v);
            CHECK_MSG(rc == LLMCACHE_OK && v.expires_ms > 0 && v.expires_ms > nows[i],
                      "now %lld ttl %lld: get %s, expires %lld", (long long)nows[i], (long long)ttls[j],
                      llmcache_result_string(rc), (long long)v.expires_ms);
            if (rc == LLMCACHE_OK && v.expires_ms > 0) {
                clk.now = v.expires_ms;
                llmcache_value_free(&v);
                CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_MISS);
            }
            llmcache_value_free(&v);
            llmcache_close(c);
        }
    }
}

/* Request bodies and schemas over LLMCACHE_MAX_BODY are refused before parsing. */
static void test_max_body(void) {
    char *big = (char *)malloc(LLMCACHE_MAX_BODY + 1);   /* never read: refused by its length */
    llmcache_request req;
    llmcache_key k;
    unsigned char sh[32];
    if (!big) { CHECK(0); return; }
    memset(&req, 0, sizeof req);
    req.body = big;
    req.body_len = LLMCACHE_MAX_BODY + 1;
    CHECK_EQ(llmcache_key_for(&k, NULL, &req), LLMCACHE_ETOOBIG);
    req.body = "{}";
    req.body_len = 2;
    req.schema = big;
    req.schema_len = LLMCACHE_MAX_BODY + 1;
    CHECK_EQ(llmcache_key_for(&k, NULL, &req), LLMCACHE_ETOOBIG);
    CHECK_EQ(llmcache_schema_hash(big, LLMCACHE_MAX_BODY + 1, sh), LLMCACHE_ETOOBIG);
    req.schema = NULL;
    req.schema_len = 0;
    CHECK_EQ(llmcache_key_for(&k, NULL, &req), LLMCACHE_OK);
    free(big);
}

int main(void) {
    test_crc32c();
    test_basic();
    test_args();
    test_lru();
    test_lru_model();
    test_ttl();
    test_bytes();
    test_many();
    test_adversarial_keys();
    test_ttl_extremes();
    test_max_body();
    test_sha256();
    test_sha256_paths();
    test_key_hex();
    return TEST_REPORT();
}
