/* tests/test.h: the tiny assertion harness shared by every test program.
 * CHECK records a pass or a failure (with file:line) and goes on; each program ends
 * with TEST_REPORT(), which prints "N passed, N failed" and returns the exit status. */
#ifndef LLMCACHE_TEST_H
#define LLMCACHE_TEST_H
#include <stdio.h>
#include <string.h>

static int test_passed_, test_failed_;

#define CHECK(cond) do { \
    if (cond) test_passed_++; \
    else { test_failed_++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_MSG(cond, ...) do { \
    if (cond) test_passed_++; \
    else { test_failed_++; fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
           fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
} while (0)

/* Integer equality that prints both sides. */
#define CHECK_EQ(a, b) do { \
    long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ == b_) test_passed_++; \
    else { test_failed_++; fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
                                   __FILE__, __LINE__, #a, a_, #b, b_); } \
} while (0)

/* Byte-range equality that prints both sides (as text when printable). */
#define CHECK_MEM(p, n, q, m) do { \
    size_t n_ = (size_t)(n), m_ = (size_t)(m); \
    if (n_ == m_ && (n_ == 0 || memcmp((p), (q), n_) == 0)) test_passed_++; \
    else { test_failed_++; fprintf(stderr, "%s:%d: CHECK_MEM failed: got %zu bytes \"%.*s\", want %zu bytes \"%.*s\"\n", \
                                   __FILE__, __LINE__, n_, (int)(n_ > 300 ? 300 : n_), (const char *)(p), \
                                   m_, (int)(m_ > 300 ? 300 : m_), (const char *)(q)); } \
} while (0)

#define CHECK_STR(s, want) CHECK_MEM((s), strlen(s), (want), strlen(want))

#define TEST_REPORT() (printf("%d passed, %d failed\n", test_passed_, test_failed_), test_failed_ ? 1 : 0)

#endif
