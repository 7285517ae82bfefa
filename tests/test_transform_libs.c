/* tests/test_transform_libs.c: the reference transforms of examples/ on real logs:
 * zstd without and with a dictionary trained (ZDICT_trainFromBuffer) on generated
 * answers (tests/answer_gen.h), and XChaCha20-Poly1305 (libsodium) with the record's
 * key as associated data. Round trips (cold reads after reopening), records that are
 * tampered with (checksum recomputed), moved to another key, read with another secret
 * key or another dictionary: all LLMCACHE_ECORRUPT, counted, never returned; key
 * files. Needs libzstd-dev and libsodium-dev (tests/need.sh). Run from the root:
 *   gcc -std=c99 -Wall -Wextra -Werror -I. -Iexamples -o /tmp/ttl tests/test_transform_libs.c \
 *       examples/transform_zstd.c examples/transform_sodium.c -lzstd -lsodium -lpthread -lm && /tmp/ttl */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include "log_bytes.h"
#include "answer_gen.h"
#include "../examples/transform_zstd.h"
#include "../examples/transform_sodium.h"
#include <unistd.h>

static char path[256];

static llmcache *open_with(const llmcache_transform *t) {
    llmcache_config cfg;
    llmcache *c = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.transform = t;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    return c;
}

static void key_n(llmcache_key *k, unsigned i) { llmcache_sha256(&i, sizeof i, k->bytes); }

/* Puts answers id..id+n-1 (streams and completions in turn; completions of 200..600
 * tokens only when small) through t, reopens, reads each back; returns the log's
 * record bytes. */
static int small;
#define ANSWER_OF(i, lenp) answer_make(id + (i), small ? 200 + ((i) * 97) % 400 : 200 + ((i) * 397) % 1800, \
                                       small ? 0 : (int)((i) & 1), lenp)
static uint64_t round_trip(const llmcache_transform *t, unsigned n, unsigned id, unsigned expect_xform) {
    llmcache *c;
    llmcache_stats st;
    unsigned i;
    unlink(path);
    c = open_with(t);
    for (i = 0; i < n; i++) {
        size_t len;
        char *a = ANSWER_OF(i, &len);
        llmcache_key k;
        key_n(&k, id + i);
        CHECK_EQ(llmcache_put(c, &k, a, len, 0), LLMCACHE_OK);
        free(a);
    }
    llmcache_close(c);
    c = open_with(t);
    for (i = 0; i < n; i++) {
        size_t len;
        char *a = ANSWER_OF(i, &len);
        llmcache_key k;
        llmcache_value v;
        key_n(&k, id + i);
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
        CHECK_MEM(v.data, v.len, a, len);
        llmcache_value_free(&v);
        free(a);
    }
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.transform_failed + st.transform_unknown, 0);
    llmcache_close(c);
    {
        size_t fn;
        unsigned char *b = log_slurp(path, &fn);
        llmcache__record r;
        llmcache_key k;
        key_n(&k, id);
        CHECK(log_find_record(b, fn, &k, &r) != 0);
        CHECK_EQ(r.xform, expect_xform);
        free(b);
    }
    return st.live_bytes;
}

/* Rewrites the record of key k: flips a byte of its stored value (at + 4 past the
 * plain length) and recomputes the CRC, then expects get to fail with ECORRUPT. */
static void expect_tamper_rejected(const llmcache_transform *t, const llmcache_key *k, size_t at) {
    size_t n;
    unsigned char *b = log_slurp(path, &n);
    llmcache__record r;
    uint64_t off = log_find_record(b, n, k, &r);
    llmcache *c;
    llmcache_value v;
    llmcache_stats st;
    CHECK(off != 0);
    b[off + LLMCACHE__REC_HDR + r.meta_len + 4 + at] ^= 0x20;
    llmcache__st32(b + off + 4, llmcache__crc32c(0, b + off + 8, r.len - 8));
    log_spill(path, b, n);
    free(b);
    c = open_with(t);
    CHECK_EQ(llmcache_get(c, k, &v), LLMCACHE_ECORRUPT);
    CHECK(v.data == NULL);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.transform_failed, 1);
    llmcache_close(c);
}

static void test_zstd(void) {
    llmcache_zstd *z, *zd, *zd2;
    llmcache_transform t, td, td2;
    char *samples = NULL;
    size_t *sizes, total = 0, dict_len;
    unsigned i, n = 400;
    unsigned char dict[16384];
    uint64_t plain, packed, packed_dict;
    CHECK_EQ(llmcache_zstd_new(&z, NULL, 0, 0), LLMCACHE_OK);
    llmcache_zstd_transform(z, &t);
    CHECK_EQ(t.id, LLMCACHE_ZSTD_ID);
    /* a dictionary from answers other than the ones stored */
    sizes = (size_t *)malloc(n * sizeof *sizes);
    for (i = 0; i < n; i++) {
        char *a = answer_make(100000 + i, 200 + (i * 131) % 1500, (int)(i & 1), &sizes[i]);
        samples = (char *)realloc(samples, total + sizes[i]);
        memcpy(samples + total, a, sizes[i]);
        total += sizes[i];
        free(a);
    }
    dict_len = llmcache_zstd_train(dict, sizeof dict, samples, sizes, n);
    CHECK(dict_len > 1000);
    CHECK_EQ(llmcache_zstd_new(&zd, dict, dict_len, 0), LLMCACHE_OK);
    llmcache_zstd_transform(zd, &td);
    dict_len = llmcache_zstd_train(dict, 4096, samples + sizes[0], sizes + 1, n - 1);   /* another one */
    CHECK(dict_len > 500);
    CHECK_EQ(llmcache_zstd_new(&zd2, dict, dict_len, 0), LLMCACHE_OK);
    llmcache_zstd_transform(zd2, &td2);
    free(samples);
    free(sizes);

    plain = round_trip(NULL, 40, 1, 0);
    packed = round_trip(&t, 40, 1, LLMCACHE_ZSTD_ID);
    packed_dict = round_trip(&td, 40, 1, LLMCACHE_ZSTD_ID);
    CHECK(packed < plain / 2);
    CHECK(packed_dict < plain / 2);
    small = 1;   /* a dictionary pays on short answers */
    plain = round_trip(NULL, 40, 1, 0);
    packed = round_trip(&t, 40, 1, LLMCACHE_ZSTD_ID);
    packed_dict = round_trip(&td, 40, 1, LLMCACHE_ZSTD_ID);
    small = 0;
    printf("stored bytes of 40 chat completions: plain %llu, zstd %llu, zstd+dict %llu\n",
           (unsigned long long)plain, (unsigned long long)packed, (unsigned long long)packed_dict);
    CHECK(packed < plain / 10 * 7);
    CHECK(packed_dict < packed);
    {   /* the file written with dictionary 1: another dictionary, or none, cannot read it */
        llmcache *c;
        llmcache_key k;
        llmcache_value v;
        key_n(&k, 2);
        c = open_with(&td2);
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_ECORRUPT);
        llmcache_close(c);
        c = open_with(&t);
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_ECORRUPT);
        llmcache_close(c);
        expect_tamper_rejected(&td, &k, 9);
    }
    {   /* plain records and zstd ones in one file */
        llmcache *c = open_with(NULL);
        llmcache_key k;
        llmcache_value v;
        key_n(&k, 999);
        CHECK_EQ(llmcache_put(c, &k, "plain", 5, 0), LLMCACHE_OK);
        llmcache_close(c);
        c = open_with(&td);
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
        llmcache_value_free(&v);
        key_n(&k, 3);
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
        llmcache_value_free(&v);
        llmcache_close(c);
    }
    llmcache_zstd_free(z);
    llmcache_zstd_free(zd);
    llmcache_zstd_free(zd2);
}

static void test_sodium(void) {
    unsigned char key1[32], key2[32];
    llmcache_sodium *s1, *s2;
    llmcache_transform t1, t2;
    llmcache *c;
    llmcache_key k, k2;
    llmcache_value v;
    uint64_t plain, sealed;
    size_t n;
    unsigned char *b;
    llmcache__record r, r2;
    uint64_t off, off2;
    unsigned i;
    for (i = 0; i < 32; i++) { key1[i] = (unsigned char)i; key2[i] = (unsigned char)(i + 1); }
    CHECK_EQ(llmcache_sodium_new(&s1, key1), LLMCACHE_OK);
    CHECK_EQ(llmcache_sodium_new(&s2, key2), LLMCACHE_OK);
    llmcache_sodium_transform(s1, &t1);
    llmcache_sodium_transform(s2, &t2);
    CHECK_EQ(t1.id, LLMCACHE_SODIUM_ID);
    plain = round_trip(NULL, 20, 50, 0);
    sealed = round_trip(&t1, 20, 50, LLMCACHE_SODIUM_ID);
    CHECK(sealed > plain);   /* 4 + 24 + 16 bytes more per value, then padding */
    CHECK(sealed <= plain + 20 * (44 + 8));
    b = log_slurp(path, &n);
    CHECK(!log_contains(b, n, "chat.completion"));   /* nothing readable in the file */
    free(b);
    key_n(&k, 51);
    c = open_with(&t2);   /* another secret key */
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_ECORRUPT);
    llmcache_close(c);
    /* a value moved under another key (the CRC made right) fails authentication */
    b = log_slurp(path, &n);
    key_n(&k2, 52);
    off = log_find_record(b, n, &k, &r);
    off2 = log_find_record(b, n, &k2, &r2);
    CHECK(off && off2);
    memcpy(b + off2 + 24, k.bytes, 32);   /* record 52 now claims key 51 */
    llmcache__st32(b + off2 + 4, llmcache__crc32c(0, b + off2 + 8, r2.len - 8));
    log_spill(path, b, n);
    free(b);
    c = open_with(&t1);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_ECORRUPT);   /* the newest record of 51 is 52's value */
    CHECK_EQ(llmcache_get(c, &k2, &v), LLMCACHE_MISS);      /* 52 has no record of its own any more */
    llmcache_close(c);
    key_n(&k, 53);
    expect_tamper_rejected(&t1, &k, 30);   /* a ciphertext byte */
    key_n(&k, 54);
    c = open_with(&t1);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);   /* the others are fine */
    llmcache_value_free(&v);
    llmcache_close(c);
    llmcache_sodium_free(s1);
    llmcache_sodium_free(s2);
}

static void test_key_file(void) {
    char kp[300];
    unsigned char key[32];
    FILE *f;
    snprintf(kp, sizeof kp, "%s.key", path);
    f = fopen(kp, "w");
    fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", f);
    fclose(f);
    CHECK_EQ(llmcache_sodium_key_file(kp, key), LLMCACHE_OK);
    CHECK_EQ(key[0], 0);
    CHECK_EQ(key[31], 31);
    f = fopen(kp, "w");
    fputs("too short\n", f);
    fclose(f);
    CHECK_EQ(llmcache_sodium_key_file(kp, key), LLMCACHE_EINVAL);
    unlink(kp);
    CHECK_EQ(llmcache_sodium_key_file(kp, key), LLMCACHE_ENOENT);
}

int main(void) {
    char shm[300];
    snprintf(path, sizeof path, "/tmp/llmcache-test-xlibs-%ld.log", (long)getpid());
    test_zstd();
    test_sodium();
    test_key_file();
    unlink(path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    unlink(shm);
    return TEST_REPORT();
}
