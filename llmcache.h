/* llmcache.h - a response cache for LLM APIs, in one C header.  v0.1.0
 *
 * Keys are SHA-256 over the RFC 8785 canonical form of the request JSON, the
 * namespace, the endpoint and the hash of the expected result's JSON schema, so
 * equal requests hit whatever their whitespace or member order, and a changed
 * schema misses by construction. Entries live in a bounded LRU with TTL in memory.
 *
 * Do this:
 *     #define LLMCACHE_IMPLEMENTATION
 * before you include this file in *one* C or C++ file to create the implementation.
 * Every other file includes it plainly.
 *
 * Example:
 *     llmcache *c; llmcache_config cfg = {0};
 *     llmcache_open(&c, &cfg);
 *     llmcache_request req = {0};
 *     req.endpoint = "https://api.openai.com/v1/chat/completions";
 *     req.body = body; req.body_len = strlen(body);
 *     llmcache_key k; llmcache_key_for(&k, NULL, &req);
 *     llmcache_value v;
 *     if (llmcache_get(c, &k, &v) == LLMCACHE_OK) { use(v.data, v.len); llmcache_value_free(&v); }
 *     else { answer = call_provider(body); llmcache_put(c, &k, answer, answer_len, 0); }
 *     llmcache_close(c);
 *
 * Compile-time options (define before the implementation include):
 *     LLMCACHE_STATIC        make every function static to the including file
 *     LLMCACHE_API           decoration of public functions (default: extern)
 *     LLMCACHE_MALLOC(sz), LLMCACHE_REALLOC(p,sz), LLMCACHE_FREE(p)
 *                            allocator hooks; define all three or none
 *     LLMCACHE_ASSERT(x)     internal assertions (default: assert)
 *     LLMCACHE_NO_THREADS    no internal locking; one handle per thread
 *     LLMCACHE_MAX_DEPTH     JSON nesting limit (default 256)
 *     LLMCACHE_MAX_VALUE     largest value accepted by put (default 1 GiB)
 *
 * What it does NOT do:
 *     - talk to a provider by itself: you pass your own HTTP call (a transport)
 *     - print anything: errors come back as result codes
 *     - keep global state: everything lives in the llmcache handle
 *     - depend on the process locale: "1.5" is 1.5 under any LC_NUMERIC
 *
 * License: MIT, at the end of this file.
 */
/* The implementation uses POSIX (clock_gettime, pread, mmap, robust mutexes) and
 * flock; strict -std=c99 hides them on glibc unless asked for before the first
 * system header. Include llmcache.h first in the implementation file. */
#if defined(LLMCACHE_IMPLEMENTATION) && defined(__linux__)
#  ifndef _POSIX_C_SOURCE
#    define _POSIX_C_SOURCE 200809L
#  endif
#  ifndef _DEFAULT_SOURCE
#    define _DEFAULT_SOURCE 1
#  endif
#endif

#ifndef LLMCACHE_H
#define LLMCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifndef LLMCACHE_API
#  ifdef LLMCACHE_STATIC
#    define LLMCACHE_API static
#  else
#    define LLMCACHE_API extern
#  endif
#endif

#define LLMCACHE_VERSION_MAJOR 0
#define LLMCACHE_VERSION_MINOR 1
#define LLMCACHE_VERSION_PATCH 0
#define LLMCACHE_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* >>results ------------------------------------------------------------------
 * Every function that can fail returns an int: LLMCACHE_OK (0), LLMCACHE_MISS
 * (a positive non-error outcome), or one of the negative codes below. */
enum {
    LLMCACHE_OK        =   0,
    LLMCACHE_MISS      =   1,  /* no live entry for the key (not an error) */
    LLMCACHE_EINVAL    =  -1,  /* invalid argument, or JSON that RFC 8785 refuses */
    LLMCACHE_ENOMEM    =  -2,  /* an allocation failed */
    LLMCACHE_ETOOBIG   =  -3,  /* a value, record or document over a hard limit */
    LLMCACHE_EIO       =  -4,  /* a read, write, sync or lock failed */
    LLMCACHE_ENOSPC    =  -5,  /* the disk (or file size limit) is full */
    LLMCACHE_ENOTCACHE =  -6,  /* the file at path is not an llmcache log: left untouched */
    LLMCACHE_EVERSION  =  -7,  /* the log was written by a newer, incompatible format */
    LLMCACHE_ECORRUPT  =  -8,  /* damaged data (checksum mismatch) */
    LLMCACHE_ETRANSPORT=  -9,  /* the transport callback failed */
    LLMCACHE_EHTTP     = -10,  /* the provider answered with a non-2xx status */
    LLMCACHE_EREJECTED = -11,  /* the validate callback refused the response */
    LLMCACHE_EUNSUPPORTED = -12 /* the feature was compiled out */
};

/* The name and a one-line description of a result code; never NULL. Thread-safe. */
LLMCACHE_API const char *llmcache_result_string(int result);

/* >>memory --------------------------------------------------------------------
 * Releases any buffer the library returned (canonical JSON, listings, ...).
 * NULL is allowed. Thread-safe. */
LLMCACHE_API void llmcache_free(void *p);

/* >>keys ----------------------------------------------------------------------
 * key = SHA-256("llmcache/key/v1" 0x00 ns 0x00 endpoint 0x00 schema_hash canonical(body))
 * schema_hash = SHA-256(canonical(schema)), or 32 zero bytes without a schema.
 * canonical() is RFC 8785 (JSON Canonicalization Scheme). See README.md. */
typedef struct llmcache_key { unsigned char bytes[32]; } llmcache_key;

typedef struct llmcache_request {
    const char *endpoint;                  /* part of the key; may be NULL */
    const char *body;   size_t body_len;   /* request JSON exactly as sent to the provider */
    const char *schema; size_t schema_len; /* JSON Schema of the expected result; NULL = none */
    /* not part of the key: */
    int         stream;                    /* 1: the response is an SSE stream of chunks */
    const char *const *headers;            /* extra "Name: value" lines for the transport, NULL-terminated */
    int64_t     timeout_ms;                /* transport timeout; 0 = the transport's default */
} llmcache_request;

/* Writes the RFC 8785 canonical form of the JSON text json[0..len) to a new
 * NUL-terminated buffer *out (release with llmcache_free) of *out_len bytes.
 * Returns LLMCACHE_EINVAL for malformed JSON or input I-JSON refuses (duplicate
 * names, lone surrogates, invalid UTF-8, numbers that overflow a double, nesting
 * beyond LLMCACHE_MAX_DEPTH). Locale-independent. Thread-safe. */
LLMCACHE_API int llmcache_canonicalize(const char *json, size_t len, char **out, size_t *out_len);

/* As llmcache_canonicalize; on LLMCACHE_EINVAL, *err_offset (if not NULL) gets the
 * byte offset of the first offending byte. */
LLMCACHE_API int llmcache_canonicalize_ex(const char *json, size_t len, char **out, size_t *out_len,
                                          size_t *err_offset);

/* SHA-256 of canonical(schema): the schema_hash part of a key. */
LLMCACHE_API int llmcache_schema_hash(const char *schema, size_t len, unsigned char out[32]);

/* The key of req in namespace ns (NULL = ""). Thread-safe. */
LLMCACHE_API int llmcache_key_for(llmcache_key *out, const char *ns, const llmcache_request *req);

/* Lowercase hex of the key, NUL-terminated. */
LLMCACHE_API void llmcache_key_hex(const llmcache_key *key, char out[65]);

/* Parses 64 hex digits (either case) into *out. LLMCACHE_EINVAL otherwise. */
LLMCACHE_API int llmcache_key_parse(llmcache_key *out, const char *hex, size_t len);

/* Plain SHA-256 of a byte range. */
LLMCACHE_API void llmcache_sha256(const void *data, size_t len, unsigned char out[32]);

/* >>cache ---------------------------------------------------------------------*/
typedef struct llmcache llmcache;

enum {
    LLMCACHE_FSYNC_INTERVAL = 0,  /* sync the log about once a second (default) */
    LLMCACHE_FSYNC_ALWAYS   = 1,  /* sync before every put/del returns */
    LLMCACHE_FSYNC_NEVER    = 2   /* leave it to the operating system */
};

#define LLMCACHE_DEFAULT_MAX_ENTRIES 100000u
#define LLMCACHE_DEFAULT_MAX_BYTES   ((size_t)256 << 20)

/* Zero-initialize, then set what you need: llmcache_config cfg = {0}; */
typedef struct llmcache_config {
    const char *path;        /* append-only log file; NULL = memory only */
    const char *ns;          /* namespace used for the keys of llmcache_call; NULL = "" */
    size_t      max_entries; /* 0 = LLMCACHE_DEFAULT_MAX_ENTRIES */
    size_t      max_bytes;   /* bytes held in memory for entries (values plus their
                                bookkeeping); 0 = LLMCACHE_DEFAULT_MAX_BYTES */
    int64_t     ttl_ms;      /* default time to live; 0 = entries never expire */
    int         fsync;       /* LLMCACHE_FSYNC_INTERVAL (0), _ALWAYS or _NEVER */
    int64_t   (*clock)(void *ctx); /* milliseconds since the Unix epoch; NULL = system clock */
    void       *clock_ctx;
} llmcache_config;

/* Metadata stored beside a value. The call-through layer fills it; plain
 * llmcache_put leaves it zero. */
typedef struct llmcache_meta {
    unsigned char schema_hash[32]; /* SHA-256 of the canonical schema, or zeros */
    int32_t  status;               /* HTTP status of the stored response; 0 = none */
    uint32_t flags;                /* LLMCACHE_META_* */
    int64_t  latency_ms;           /* how long the provider took */
    int64_t  prompt_tokens;        /* usage reported by the provider; -1 = unknown */
    int64_t  completion_tokens;
} llmcache_meta;

typedef struct llmcache_value {
    char   *data;  size_t len;    /* an owned copy; data[len] is a NUL for convenience */
    int64_t created_ms;
    int64_t expires_ms;           /* 0 = never */
    llmcache_meta meta;
} llmcache_value;

typedef struct llmcache_stats {
    uint64_t hits, misses, puts, evictions, expirations, entries, bytes;
    uint64_t deletes;             /* successful llmcache_del calls */
    uint64_t max_entries, max_bytes; /* the bounds in force */
} llmcache_stats;

/* Opens a cache. cfg may be NULL (memory only, default bounds). On success *out
 * is a handle to release with llmcache_close. */
LLMCACHE_API int  llmcache_open(llmcache **out, const llmcache_config *cfg);

/* Releases the handle and everything it holds. NULL is allowed. Not thread-safe:
 * no other call on c may be running. */
LLMCACHE_API void llmcache_close(llmcache *c);

/* Looks key up. LLMCACHE_OK fills *out with an owned copy (release with
 * llmcache_value_free); LLMCACHE_MISS when absent or expired (out is zeroed).
 * A hit counts as a use for LRU. Thread-safe. */
LLMCACHE_API int  llmcache_get(llmcache *c, const llmcache_key *key, llmcache_value *out);

/* Stores a copy of data[0..len) under key, replacing any previous value.
 * ttl_ms: 0 = the config's default, < 0 = never expires. Thread-safe. */
LLMCACHE_API int  llmcache_put(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                               int64_t ttl_ms);

/* As llmcache_put, with metadata (may be NULL) stored beside the value. */
LLMCACHE_API int  llmcache_put_ex(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                  int64_t ttl_ms, const llmcache_meta *meta);

/* Removes key. LLMCACHE_OK, or LLMCACHE_MISS when it was absent. Thread-safe. */
LLMCACHE_API int  llmcache_del(llmcache *c, const llmcache_key *key);

/* Releases the copy a get returned and zeroes *v. NULL is allowed. */
LLMCACHE_API void llmcache_value_free(llmcache_value *v);

/* Counters and sizes. Thread-safe. */
LLMCACHE_API void llmcache_stats_get(llmcache *c, llmcache_stats *out);

/* Drops every expired entry now (puts also do this a few entries at a time). */
LLMCACHE_API int  llmcache_sweep(llmcache *c);

/* Rewrites the log with the live entries only. OK without a path. Thread-safe. */
LLMCACHE_API int  llmcache_compact(llmcache *c);

#ifdef __cplusplus
}
#endif
#endif /* LLMCACHE_H */

/* ============================================================================
 * IMPLEMENTATION
 * ============================================================================ */
#if defined(LLMCACHE_IMPLEMENTATION) && !defined(LLMCACHE_IMPLEMENTATION_DONE)
#define LLMCACHE_IMPLEMENTATION_DONE

#if defined(LLMCACHE_MALLOC) && defined(LLMCACHE_REALLOC) && defined(LLMCACHE_FREE)
/* all three given */
#elif !defined(LLMCACHE_MALLOC) && !defined(LLMCACHE_REALLOC) && !defined(LLMCACHE_FREE)
#  include <stdlib.h>
#  define LLMCACHE_MALLOC(sz)    malloc(sz)
#  define LLMCACHE_REALLOC(p,sz) realloc(p,sz)
#  define LLMCACHE_FREE(p)       free(p)
#else
#  error "define all of LLMCACHE_MALLOC, LLMCACHE_REALLOC and LLMCACHE_FREE, or none"
#endif

#ifndef LLMCACHE_ASSERT
#  include <assert.h>
#  define LLMCACHE_ASSERT(x) assert(x)
#endif

#ifndef LLMCACHE_MAX_DEPTH
#  define LLMCACHE_MAX_DEPTH 256
#endif
#ifndef LLMCACHE_MAX_VALUE
#  define LLMCACHE_MAX_VALUE ((size_t)1 << 30)
#endif

#include <string.h>
#include <stdlib.h>

/* Small helpers that some configurations (no threads, no files) leave unused. */
#if defined(__GNUC__) || defined(__clang__)
#  define LLMCACHE__MAYBE_UNUSED __attribute__((unused))
#else
#  define LLMCACHE__MAYBE_UNUSED
#endif

/* >>platform ---------------------------------------------------------------------
 * Everything that differs between POSIX and Win32 lives here: the clock, sleeping,
 * mutexes and condition variables. The file layer (log backend) sits below. */
#if defined(_WIN32)
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>
#else
#  include <time.h>
#  include <errno.h>
#  include <unistd.h>
#  ifndef LLMCACHE_NO_THREADS
#    include <pthread.h>
#  endif
#endif

static LLMCACHE__MAYBE_UNUSED int64_t llmcache__system_clock_ms(void) {
#if defined(_WIN32)
    FILETIME ft;
    uint64_t t;
    GetSystemTimeAsFileTime(&ft);
    t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    return (int64_t)((t - 116444736000000000ull) / 10000u);  /* 100 ns ticks since 1601 */
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

/* Monotonic microseconds, for measuring latencies (never for expiry). */
static LLMCACHE__MAYBE_UNUSED int64_t llmcache__mono_us(void) {
#if defined(_WIN32)
    LARGE_INTEGER f, t;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    return (int64_t)((double)t.QuadPart * 1e6 / (double)f.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
#endif
}

static LLMCACHE__MAYBE_UNUSED void llmcache__sleep_ms(int64_t ms) {
    if (ms <= 0) return;
#if defined(_WIN32)
    Sleep((DWORD)ms);
#else
    {
        struct timespec ts;
        ts.tv_sec = (time_t)(ms / 1000);
        ts.tv_nsec = (long)(ms % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
#endif
}

#if defined(LLMCACHE_NO_THREADS)
typedef int llmcache__mutex;
typedef int llmcache__cond;
#  define llmcache__mutex_init(m)   (*(m) = 0, 0)
#  define llmcache__mutex_destroy(m) ((void)(m))
#  define llmcache__lock(m)         ((void)(m))
#  define llmcache__unlock(m)       ((void)(m))
#  define llmcache__cond_init(cv)   (*(cv) = 0, 0)
#  define llmcache__cond_destroy(cv) ((void)(cv))
#  define llmcache__cond_wait(cv, m) ((void)(cv), (void)(m))
#  define llmcache__cond_broadcast(cv) ((void)(cv))
#elif defined(_WIN32)
typedef SRWLOCK llmcache__mutex;
typedef CONDITION_VARIABLE llmcache__cond;
static LLMCACHE__MAYBE_UNUSED int  llmcache__mutex_init(llmcache__mutex *m) { InitializeSRWLock(m); return 0; }
static LLMCACHE__MAYBE_UNUSED void llmcache__mutex_destroy(llmcache__mutex *m) { (void)m; }
static LLMCACHE__MAYBE_UNUSED void llmcache__lock(llmcache__mutex *m) { AcquireSRWLockExclusive(m); }
static LLMCACHE__MAYBE_UNUSED void llmcache__unlock(llmcache__mutex *m) { ReleaseSRWLockExclusive(m); }
static LLMCACHE__MAYBE_UNUSED int  llmcache__cond_init(llmcache__cond *cv) { InitializeConditionVariable(cv); return 0; }
static LLMCACHE__MAYBE_UNUSED void llmcache__cond_destroy(llmcache__cond *cv) { (void)cv; }
static LLMCACHE__MAYBE_UNUSED void llmcache__cond_wait(llmcache__cond *cv, llmcache__mutex *m) { SleepConditionVariableSRW(cv, m, INFINITE, 0); }
static LLMCACHE__MAYBE_UNUSED void llmcache__cond_broadcast(llmcache__cond *cv) { WakeAllConditionVariable(cv); }
#else
typedef pthread_mutex_t llmcache__mutex;
typedef pthread_cond_t llmcache__cond;
static LLMCACHE__MAYBE_UNUSED int  llmcache__mutex_init(llmcache__mutex *m) { return pthread_mutex_init(m, NULL); }
static LLMCACHE__MAYBE_UNUSED void llmcache__mutex_destroy(llmcache__mutex *m) { pthread_mutex_destroy(m); }
static LLMCACHE__MAYBE_UNUSED void llmcache__lock(llmcache__mutex *m) { pthread_mutex_lock(m); }
static LLMCACHE__MAYBE_UNUSED void llmcache__unlock(llmcache__mutex *m) { pthread_mutex_unlock(m); }
static LLMCACHE__MAYBE_UNUSED int  llmcache__cond_init(llmcache__cond *cv) { return pthread_cond_init(cv, NULL); }
static LLMCACHE__MAYBE_UNUSED void llmcache__cond_destroy(llmcache__cond *cv) { pthread_cond_destroy(cv); }
static LLMCACHE__MAYBE_UNUSED void llmcache__cond_wait(llmcache__cond *cv, llmcache__mutex *m) { pthread_cond_wait(cv, m); }
static LLMCACHE__MAYBE_UNUSED void llmcache__cond_broadcast(llmcache__cond *cv) { pthread_cond_broadcast(cv); }
#endif

/* >>bytes ----------------------------------------------------------------------
 * Little-endian loads and stores, one byte at a time: no unaligned access. */
static LLMCACHE__MAYBE_UNUSED uint32_t llmcache__ld32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static LLMCACHE__MAYBE_UNUSED uint64_t llmcache__ld64(const unsigned char *p) {
    return (uint64_t)llmcache__ld32(p) | (uint64_t)llmcache__ld32(p + 4) << 32;
}
static LLMCACHE__MAYBE_UNUSED void llmcache__st32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static LLMCACHE__MAYBE_UNUSED void llmcache__st64(unsigned char *p, uint64_t v) {
    llmcache__st32(p, (uint32_t)v);
    llmcache__st32(p + 4, (uint32_t)(v >> 32));
}

/* >>sha256 (FIPS 180-4) ---------------------------------------------------------- */
typedef struct llmcache__sha256 {
    uint32_t h[8];
    uint64_t total;
    unsigned char block[64];
    size_t fill;
} llmcache__sha256;

static const uint32_t llmcache__sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u
};

static void llmcache__sha256_init(llmcache__sha256 *s) {
    static const uint32_t h0[8] = { 0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u };
    memcpy(s->h, h0, sizeof h0);
    s->total = 0;
    s->fill = 0;
}

#define LLMCACHE__ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void llmcache__sha256_block(uint32_t h[8], const unsigned char *p) {
    uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4*i] << 24 | (uint32_t)p[4*i+1] << 16 | (uint32_t)p[4*i+2] << 8 | p[4*i+3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 = LLMCACHE__ROR(w[i-15], 7) ^ LLMCACHE__ROR(w[i-15], 18) ^ (w[i-15] >> 3);
        uint32_t s1 = LLMCACHE__ROR(w[i-2], 17) ^ LLMCACHE__ROR(w[i-2], 19) ^ (w[i-2] >> 10);
        w[i] = w[i-16] + s0 + w[i-7] + s1;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
    for (i = 0; i < 64; i++) {
        t1 = hh + (LLMCACHE__ROR(e, 6) ^ LLMCACHE__ROR(e, 11) ^ LLMCACHE__ROR(e, 25))
                + ((e & f) ^ (~e & g)) + llmcache__sha256_k[i] + w[i];
        t2 = (LLMCACHE__ROR(a, 2) ^ LLMCACHE__ROR(a, 13) ^ LLMCACHE__ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void llmcache__sha256_update(llmcache__sha256 *s, const void *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    s->total += len;
    if (s->fill) {
        size_t take = 64 - s->fill < len ? 64 - s->fill : len;
        memcpy(s->block + s->fill, p, take);
        s->fill += take; p += take; len -= take;
        if (s->fill < 64) return;
        llmcache__sha256_block(s->h, s->block);
        s->fill = 0;
    }
    for (; len >= 64; p += 64, len -= 64) llmcache__sha256_block(s->h, p);
    if (len) { memcpy(s->block, p, len); s->fill = len; }
}

static void llmcache__sha256_final(llmcache__sha256 *s, unsigned char out[32]) {
    uint64_t bits = s->total * 8;
    int i;
    s->block[s->fill++] = 0x80;
    if (s->fill > 56) {
        memset(s->block + s->fill, 0, 64 - s->fill);
        llmcache__sha256_block(s->h, s->block);
        s->fill = 0;
    }
    memset(s->block + s->fill, 0, 56 - s->fill);
    for (i = 0; i < 8; i++) s->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    llmcache__sha256_block(s->h, s->block);
    for (i = 0; i < 8; i++) {
        out[4*i] = (unsigned char)(s->h[i] >> 24); out[4*i+1] = (unsigned char)(s->h[i] >> 16);
        out[4*i+2] = (unsigned char)(s->h[i] >> 8); out[4*i+3] = (unsigned char)s->h[i];
    }
}

LLMCACHE_API void llmcache_sha256(const void *data, size_t len, unsigned char out[32]) {
    llmcache__sha256 s;
    llmcache__sha256_init(&s);
    llmcache__sha256_update(&s, data ? data : "", data ? len : 0);
    llmcache__sha256_final(&s, out);
}

#define LLMCACHE__DEF(val, def) ((val) ? (val) : (def))

/* >>buffer ---------------------------------------------------------------------
 * A growable byte buffer. An allocation failure sets oom and makes every later
 * append a no-op, so callers check once at the end. */
typedef struct llmcache__buf { char *p; size_t len, cap; int oom; } llmcache__buf;

static LLMCACHE__MAYBE_UNUSED int llmcache__buf_reserve(llmcache__buf *b, size_t extra) {
    size_t need, cap;
    char *np;
    if (b->oom) return 0;
    if (extra > (size_t)-1 - b->len - 1) { b->oom = 1; return 0; }
    need = b->len + extra + 1;
    if (need <= b->cap) return 1;
    cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    np = (char *)LLMCACHE_REALLOC(b->p, cap);
    if (!np) { b->oom = 1; return 0; }
    b->p = np; b->cap = cap;
    return 1;
}
static LLMCACHE__MAYBE_UNUSED void llmcache__buf_put(llmcache__buf *b, const void *p, size_t n) {
    if (n == 0 || !llmcache__buf_reserve(b, n)) return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}
static LLMCACHE__MAYBE_UNUSED void llmcache__buf_putc(llmcache__buf *b, char ch) {
    if (!llmcache__buf_reserve(b, 1)) return;
    b->p[b->len++] = ch;
}
static LLMCACHE__MAYBE_UNUSED void llmcache__buf_free(llmcache__buf *b) {
    LLMCACHE_FREE(b->p);
    b->p = NULL; b->len = b->cap = 0; b->oom = 0;
}

/* >>json (RFC 8259 parser, I-JSON checks, RFC 8785 serializer) ------------------ */
#include "wip/json.h"

LLMCACHE_API void llmcache_free(void *p) { LLMCACHE_FREE(p); }

LLMCACHE_API int llmcache_canonicalize_ex(const char *json, size_t len, char **out, size_t *out_len,
                                          size_t *err_offset) {
    llmcache__buf b = {NULL, 0, 0, 0};
    int rc;
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (err_offset) *err_offset = 0;
    if ((!json && len) || !out) return LLMCACHE_EINVAL;
    rc = llmcache__jcs(json ? json : "", len, &b, err_offset);
    if (rc == LLMCACHE_OK && !llmcache__buf_reserve(&b, 0)) rc = LLMCACHE_ENOMEM;
    if (rc != LLMCACHE_OK) { llmcache__buf_free(&b); return rc; }
    b.p[b.len] = '\0';
    *out = b.p;
    if (out_len) *out_len = b.len;
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_canonicalize(const char *json, size_t len, char **out, size_t *out_len) {
    return llmcache_canonicalize_ex(json, len, out, out_len, NULL);
}

/* >>results --------------------------------------------------------------------- */
LLMCACHE_API const char *llmcache_result_string(int result) {
    switch (result) {
    case LLMCACHE_OK:          return "LLMCACHE_OK: success";
    case LLMCACHE_MISS:        return "LLMCACHE_MISS: no live entry for the key";
    case LLMCACHE_EINVAL:      return "LLMCACHE_EINVAL: invalid argument or malformed JSON";
    case LLMCACHE_ENOMEM:      return "LLMCACHE_ENOMEM: out of memory";
    case LLMCACHE_ETOOBIG:     return "LLMCACHE_ETOOBIG: over a size limit";
    case LLMCACHE_EIO:         return "LLMCACHE_EIO: input/output error";
    case LLMCACHE_ENOSPC:      return "LLMCACHE_ENOSPC: no space left on the device or over the file size limit";
    case LLMCACHE_ENOTCACHE:   return "LLMCACHE_ENOTCACHE: the file is not an llmcache log (left untouched)";
    case LLMCACHE_EVERSION:    return "LLMCACHE_EVERSION: the log was written by an incompatible version";
    case LLMCACHE_ECORRUPT:    return "LLMCACHE_ECORRUPT: damaged data (checksum mismatch)";
    case LLMCACHE_ETRANSPORT:  return "LLMCACHE_ETRANSPORT: the transport failed";
    case LLMCACHE_EHTTP:       return "LLMCACHE_EHTTP: the provider answered with a non-2xx status";
    case LLMCACHE_EREJECTED:   return "LLMCACHE_EREJECTED: the validate callback refused the response";
    case LLMCACHE_EUNSUPPORTED:return "LLMCACHE_EUNSUPPORTED: compiled out or not supported here";
    default:                   return "LLMCACHE_E?: unknown result code";
    }
}

/* >>keys ------------------------------------------------------------------------ */
LLMCACHE_API int llmcache_schema_hash(const char *schema, size_t len, unsigned char out[32]) {
    llmcache__buf b = {NULL, 0, 0, 0};
    int rc;
    if (!out) return LLMCACHE_EINVAL;
    memset(out, 0, 32);
    if (!schema) return LLMCACHE_OK;
    rc = llmcache__jcs(schema, len, &b, NULL);
    if (rc == LLMCACHE_OK && b.oom) rc = LLMCACHE_ENOMEM;
    if (rc == LLMCACHE_OK) llmcache_sha256(b.p, b.len, out);
    llmcache__buf_free(&b);
    return rc;
}

/* The key of a request whose schema hash is already known. */
static int llmcache__key_with_schema_hash(llmcache_key *out, const char *ns, const char *endpoint,
                                          const unsigned char schema_hash[32], const char *body,
                                          size_t body_len) {
    static const char domain[] = "llmcache/key/v1";
    llmcache__buf b = {NULL, 0, 0, 0};
    llmcache__sha256 s;
    int rc;
    if (!body && body_len) return LLMCACHE_EINVAL;
    rc = llmcache__jcs(body ? body : "", body_len, &b, NULL);
    if (rc == LLMCACHE_OK && b.oom) rc = LLMCACHE_ENOMEM;
    if (rc != LLMCACHE_OK) { llmcache__buf_free(&b); return rc; }
    if (!ns) ns = "";
    if (!endpoint) endpoint = "";
    llmcache__sha256_init(&s);
    llmcache__sha256_update(&s, domain, sizeof domain);   /* includes the 0x00 */
    llmcache__sha256_update(&s, ns, strlen(ns) + 1);
    llmcache__sha256_update(&s, endpoint, strlen(endpoint) + 1);
    llmcache__sha256_update(&s, schema_hash, 32);
    llmcache__sha256_update(&s, b.p, b.len);
    llmcache__sha256_final(&s, out->bytes);
    llmcache__buf_free(&b);
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_key_for(llmcache_key *out, const char *ns, const llmcache_request *req) {
    unsigned char sh[32];
    int rc;
    if (!out || !req) return LLMCACHE_EINVAL;
    rc = llmcache_schema_hash(req->schema, req->schema_len, sh);
    if (rc != LLMCACHE_OK) return rc;
    return llmcache__key_with_schema_hash(out, ns, req->endpoint, sh, req->body, req->body_len);
}

LLMCACHE_API void llmcache_key_hex(const llmcache_key *key, char out[65]) {
    static const char hex[] = "0123456789abcdef";
    int i;
    if (!out) return;
    if (!key) { out[0] = '\0'; return; }
    for (i = 0; i < 32; i++) {
        out[2*i] = hex[key->bytes[i] >> 4];
        out[2*i+1] = hex[key->bytes[i] & 15];
    }
    out[64] = '\0';
}

static int llmcache__hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

LLMCACHE_API int llmcache_key_parse(llmcache_key *out, const char *hex, size_t len) {
    int i;
    if (!out || !hex || len != 64) return LLMCACHE_EINVAL;
    for (i = 0; i < 32; i++) {
        int hi = llmcache__hexval(hex[2*i]), lo = llmcache__hexval(hex[2*i+1]);
        if (hi < 0 || lo < 0) return LLMCACHE_EINVAL;
        out->bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    return LLMCACHE_OK;
}

/* >>table (hash table + LRU list + TTL) ---------------------------------------------
 * Entries live in one array and are named by index, so links are 4 bytes and the
 * array can grow by realloc. The table is open addressing with linear probing; a
 * slot holds (32-bit hash tag << 32 | index + 1), 0 = empty; the tag's low bits
 * name the home slot, so probes, growth and deletion never touch the entries. Deletion shifts the cluster back (no tombstones).
 * The LRU list is doubly linked through the entries: head = most recent. */
#define LLMCACHE__NIL 0xffffffffu

enum { LLMCACHE__E_USED = 1, LLMCACHE__E_META = 2 };

typedef struct llmcache__entry {
    llmcache_key key;
    uint32_t prev, next;          /* LRU links; next doubles as the free-list link */
    uint32_t len;                 /* value length */
    uint32_t flags;               /* LLMCACHE__E_* */
    int64_t  created_ms, expires_ms;
    unsigned char *blob;          /* [llmcache_meta if E_META] value bytes, NUL */
} llmcache__entry;

/* Bytes charged against max_bytes for an entry: its slot in the array, two table
 * slots (the table is kept at most half full), the value allocation rounded up as
 * malloc does, and malloc's own header. */
static size_t llmcache__charge(size_t blob_size) {
    return sizeof(llmcache__entry) + 2 * sizeof(uint64_t) + ((blob_size + 15) & ~(size_t)15) + 16;
}

struct llmcache {
    llmcache__mutex mu;
    size_t   max_entries, max_bytes;
    int64_t  ttl_ms;
    int      fsync_mode;
    int64_t (*clock)(void *ctx);
    void    *clock_ctx;
    char    *ns;

    llmcache__entry *ents;
    uint32_t ents_cap, ents_top, free_head;
    uint64_t *slots;
    size_t   slot_mask;
    size_t   count, bytes;
    uint32_t lru_head, lru_tail;
    uint32_t sweep_cursor;
    uint64_t seed;

    llmcache_stats st;
};

static int64_t llmcache__now(llmcache *c) {
    return c->clock ? c->clock(c->clock_ctx) : llmcache__system_clock_ms();
}

static uint64_t llmcache__hash(const llmcache *c, const llmcache_key *k) {
    uint64_t h = llmcache__ld64(k->bytes) ^ c->seed;
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33;
    return h;
}

/* Slot index holding key, or the empty slot where it would go. */
static size_t llmcache__probe(const llmcache *c, const llmcache_key *k, uint64_t h, int *found) {
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i = (size_t)tag & c->slot_mask;
    for (;; i = (i + 1) & c->slot_mask) {
        uint64_t s = c->slots[i];
        if (!s) { *found = 0; return i; }
        if ((uint32_t)(s >> 32) == tag &&
            memcmp(c->ents[(uint32_t)s - 1].key.bytes, k->bytes, 32) == 0) { *found = 1; return i; }
    }
}

static uint32_t llmcache__find(const llmcache *c, const llmcache_key *k) {
    int found;
    size_t i;
    if (!c->count) return LLMCACHE__NIL;
    i = llmcache__probe(c, k, llmcache__hash(c, k), &found);
    return found ? (uint32_t)c->slots[i] - 1 : LLMCACHE__NIL;
}

static int llmcache__table_grow(llmcache *c) {
    size_t n = c->slot_mask ? (c->slot_mask + 1) * 2 : 16, i;
    uint64_t *old = c->slots;
    size_t old_n = c->slots ? c->slot_mask + 1 : 0;
    uint64_t *ns_ = (uint64_t *)LLMCACHE_MALLOC(n * sizeof(uint64_t));
    if (!ns_) return LLMCACHE_ENOMEM;
    memset(ns_, 0, n * sizeof(uint64_t));
    c->slots = ns_;
    c->slot_mask = n - 1;
    for (i = 0; i < old_n; i++) {
        uint64_t s = old[i];
        size_t j;
        if (!s) continue;
        j = (size_t)(s >> 32) & c->slot_mask;
        while (ns_[j]) j = (j + 1) & c->slot_mask;
        ns_[j] = s;
    }
    LLMCACHE_FREE(old);
    return LLMCACHE_OK;
}

static void llmcache__lru_unlink(llmcache *c, uint32_t i) {
    llmcache__entry *e = &c->ents[i];
    if (e->prev != LLMCACHE__NIL) c->ents[e->prev].next = e->next; else c->lru_head = e->next;
    if (e->next != LLMCACHE__NIL) c->ents[e->next].prev = e->prev; else c->lru_tail = e->prev;
}

static void llmcache__lru_push_front(llmcache *c, uint32_t i) {
    llmcache__entry *e = &c->ents[i];
    e->prev = LLMCACHE__NIL;
    e->next = c->lru_head;
    if (c->lru_head != LLMCACHE__NIL) c->ents[c->lru_head].prev = i; else c->lru_tail = i;
    c->lru_head = i;
}

static void llmcache__touch(llmcache *c, uint32_t i) {
    if (c->lru_head == i) return;
    llmcache__lru_unlink(c, i);
    llmcache__lru_push_front(c, i);
}

static size_t llmcache__blob_size(const llmcache__entry *e) {
    return (e->flags & LLMCACHE__E_META ? sizeof(llmcache_meta) : 0) + e->len + 1;
}

/* Removes entry i from the table, the LRU list and the byte count; frees its value. */
static void llmcache__remove(llmcache *c, uint32_t i) {
    llmcache__entry *e = &c->ents[i];
    int found;
    size_t hole = llmcache__probe(c, &e->key, llmcache__hash(c, &e->key), &found), j;
    LLMCACHE_ASSERT(found);
    /* backward-shift deletion: pull later members of the cluster into the hole */
    for (j = (hole + 1) & c->slot_mask; c->slots[j]; j = (j + 1) & c->slot_mask) {
        size_t home = (size_t)(c->slots[j] >> 32) & c->slot_mask;
        /* move j to hole unless its home lies cyclically in (hole, j] */
        if (((j - home) & c->slot_mask) >= ((j - hole) & c->slot_mask)) {
            c->slots[hole] = c->slots[j];
            hole = j;
        }
    }
    c->slots[hole] = 0;
    llmcache__lru_unlink(c, i);
    c->bytes -= llmcache__charge(e->blob ? llmcache__blob_size(e) : 0);
    LLMCACHE_FREE(e->blob);
    e->blob = NULL;
    e->flags = 0;
    e->next = c->free_head;
    c->free_head = i;
    c->count--;
}

static int llmcache__expired(const llmcache__entry *e, int64_t now) {
    return e->expires_ms != 0 && now >= e->expires_ms;
}

/* Drops least-recently-used entries until both bounds hold, sparing entry keep. */
static void llmcache__evict(llmcache *c, uint32_t keep) {
    while ((c->count > c->max_entries || c->bytes > c->max_bytes) && c->lru_tail != LLMCACHE__NIL) {
        uint32_t victim = c->lru_tail;
        if (victim == keep) {
            victim = c->ents[victim].prev;
            if (victim == LLMCACHE__NIL) break;
        }
        llmcache__remove(c, victim);
        c->st.evictions++;
    }
}

/* Looks at a few entries past the sweep cursor and drops the expired ones, so that
 * entries nobody reads again do not hold memory forever. Amortized O(1) per put. */
static void llmcache__sweep_some(llmcache *c, int64_t now, uint32_t n) {
    while (n-- && c->ents_top) {
        uint32_t i = c->sweep_cursor++ % c->ents_top;
        llmcache__entry *e = &c->ents[i];
        if ((e->flags & LLMCACHE__E_USED) && llmcache__expired(e, now)) {
            llmcache__remove(c, i);
            c->st.expirations++;
        }
    }
}

/* An unused entry index, growing the array when needed; NIL when out of memory. */
static uint32_t llmcache__alloc_entry(llmcache *c) {
    uint32_t i;
    if (c->free_head != LLMCACHE__NIL) {
        i = c->free_head;
        c->free_head = c->ents[i].next;
        return i;
    }
    if (c->ents_top == c->ents_cap) {
        uint32_t cap = c->ents_cap ? c->ents_cap * 2 : 16;
        llmcache__entry *ne;
        if (c->ents_cap >= 0x7fffffffu) return LLMCACHE__NIL;
        ne = (llmcache__entry *)LLMCACHE_REALLOC(c->ents, (size_t)cap * sizeof *ne);
        if (!ne) return LLMCACHE__NIL;
        c->ents = ne;
        c->ents_cap = cap;
    }
    return c->ents_top++;
}

static int64_t llmcache__expiry(const llmcache *c, int64_t now, int64_t ttl_ms) {
    if (ttl_ms == 0) ttl_ms = c->ttl_ms;
    if (ttl_ms <= 0) return 0;
    if (now > INT64_MAX - ttl_ms) return INT64_MAX;
    return now + ttl_ms;
}

/* Inserts or replaces key with a copy of the value; caller holds the lock. */
static int llmcache__mem_put(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                             int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta) {
    size_t meta_size = meta ? sizeof(llmcache_meta) : 0, blob_size = meta_size + len + 1, slot;
    unsigned char *blob;
    llmcache__entry *e;
    uint32_t i;
    int found;
    if (llmcache__charge(blob_size) > c->max_bytes) return LLMCACHE_ETOOBIG;
    blob = (unsigned char *)LLMCACHE_MALLOC(blob_size);
    if (!blob) return LLMCACHE_ENOMEM;
    if (meta) memcpy(blob, meta, sizeof *meta);
    if (len) memcpy(blob + meta_size, data, len);
    blob[meta_size + len] = 0;

    i = llmcache__find(c, key);
    if (i == LLMCACHE__NIL) {
        if ((c->count + 1) * 2 > c->slot_mask + 1 || !c->slots) {
            if (llmcache__table_grow(c) != LLMCACHE_OK) { LLMCACHE_FREE(blob); return LLMCACHE_ENOMEM; }
        }
        i = llmcache__alloc_entry(c);
        if (i == LLMCACHE__NIL) { LLMCACHE_FREE(blob); return LLMCACHE_ENOMEM; }
        e = &c->ents[i];
        e->key = *key;
        slot = llmcache__probe(c, key, llmcache__hash(c, key), &found);
        c->slots[slot] = (uint64_t)(uint32_t)(llmcache__hash(c, key) >> 32) << 32 | ((uint64_t)i + 1);
        llmcache__lru_push_front(c, i);
        c->count++;
        c->bytes += llmcache__charge(0);
    } else {
        e = &c->ents[i];
        c->bytes -= llmcache__charge(e->blob ? llmcache__blob_size(e) : 0) - llmcache__charge(0);
        LLMCACHE_FREE(e->blob);
        llmcache__touch(c, i);
    }
    e->blob = blob;
    e->len = (uint32_t)len;
    e->flags = LLMCACHE__E_USED | (meta ? LLMCACHE__E_META : 0);
    e->created_ms = created_ms;
    e->expires_ms = expires_ms;
    c->bytes += llmcache__charge(blob_size) - llmcache__charge(0);
    llmcache__evict(c, i);
    return LLMCACHE_OK;
}

/* Fills out with a copy of entry i. */
static int llmcache__copy_out(const llmcache__entry *e, llmcache_value *out) {
    size_t meta_size = e->flags & LLMCACHE__E_META ? sizeof(llmcache_meta) : 0;
    char *p = (char *)LLMCACHE_MALLOC((size_t)e->len + 1);
    if (!p) return LLMCACHE_ENOMEM;
    memcpy(p, e->blob + meta_size, (size_t)e->len + 1);
    out->data = p;
    out->len = e->len;
    out->created_ms = e->created_ms;
    out->expires_ms = e->expires_ms;
    if (meta_size) memcpy(&out->meta, e->blob, sizeof out->meta);
    return LLMCACHE_OK;
}

/* >>api (open, close, get, put, del, stats) ------------------------------------------ */
static char *llmcache__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)LLMCACHE_MALLOC(n);
    if (p) memcpy(p, s, n);
    return p;
}

LLMCACHE_API int llmcache_open(llmcache **out, const llmcache_config *cfg) {
    llmcache_config zero;
    llmcache *c;
    if (!out) return LLMCACHE_EINVAL;
    *out = NULL;
    if (!cfg) { memset(&zero, 0, sizeof zero); cfg = &zero; }
    if (cfg->fsync < 0 || cfg->fsync > LLMCACHE_FSYNC_NEVER || cfg->ttl_ms < 0) return LLMCACHE_EINVAL;
    if (cfg->max_entries > 0x7ffffffeu) return LLMCACHE_EINVAL;
    c = (llmcache *)LLMCACHE_MALLOC(sizeof *c);
    if (!c) return LLMCACHE_ENOMEM;
    memset(c, 0, sizeof *c);
    c->max_entries = LLMCACHE__DEF(cfg->max_entries, LLMCACHE_DEFAULT_MAX_ENTRIES);
    c->max_bytes = LLMCACHE__DEF(cfg->max_bytes, LLMCACHE_DEFAULT_MAX_BYTES);
    c->ttl_ms = cfg->ttl_ms;
    c->fsync_mode = cfg->fsync;
    c->clock = cfg->clock;
    c->clock_ctx = cfg->clock_ctx;
    c->free_head = c->lru_head = c->lru_tail = LLMCACHE__NIL;
    c->seed = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull ^ (uint64_t)llmcache__mono_us();
    c->ns = llmcache__strdup(cfg->ns ? cfg->ns : "");
    if (!c->ns || llmcache__mutex_init(&c->mu) != 0) {
        LLMCACHE_FREE(c->ns);
        LLMCACHE_FREE(c);
        return LLMCACHE_ENOMEM;
    }
    *out = c;
    return LLMCACHE_OK;
}

LLMCACHE_API void llmcache_close(llmcache *c) {
    uint32_t i;
    if (!c) return;
    for (i = 0; i < c->ents_top; i++) LLMCACHE_FREE(c->ents[i].blob);
    LLMCACHE_FREE(c->ents);
    LLMCACHE_FREE(c->slots);
    LLMCACHE_FREE(c->ns);
    llmcache__mutex_destroy(&c->mu);
    LLMCACHE_FREE(c);
}

LLMCACHE_API int llmcache_get(llmcache *c, const llmcache_key *key, llmcache_value *out) {
    uint32_t i;
    int rc = LLMCACHE_MISS;
    if (out) memset(out, 0, sizeof *out);
    if (!c || !key || !out) return LLMCACHE_EINVAL;
    llmcache__lock(&c->mu);
    i = llmcache__find(c, key);
    if (i != LLMCACHE__NIL) {
        llmcache__entry *e = &c->ents[i];
        if (llmcache__expired(e, llmcache__now(c))) {
            llmcache__remove(c, i);
            c->st.expirations++;
        } else {
            rc = llmcache__copy_out(e, out);
            if (rc == LLMCACHE_OK) llmcache__touch(c, i);
        }
    }
    if (rc == LLMCACHE_OK) c->st.hits++;
    else if (rc == LLMCACHE_MISS) c->st.misses++;
    llmcache__unlock(&c->mu);
    return rc;
}

LLMCACHE_API int llmcache_put_ex(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                 int64_t ttl_ms, const llmcache_meta *meta) {
    int64_t now;
    int rc;
    if (!c || !key || (!data && len)) return LLMCACHE_EINVAL;
    if (len > LLMCACHE_MAX_VALUE) return LLMCACHE_ETOOBIG;
    llmcache__lock(&c->mu);
    now = llmcache__now(c);
    llmcache__sweep_some(c, now, 4);
    rc = llmcache__mem_put(c, key, data, len, now, llmcache__expiry(c, now, ttl_ms), meta);
    if (rc == LLMCACHE_OK) c->st.puts++;
    llmcache__unlock(&c->mu);
    return rc;
}

LLMCACHE_API int llmcache_put(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                              int64_t ttl_ms) {
    return llmcache_put_ex(c, key, data, len, ttl_ms, NULL);
}

LLMCACHE_API int llmcache_del(llmcache *c, const llmcache_key *key) {
    uint32_t i;
    int rc = LLMCACHE_MISS;
    if (!c || !key) return LLMCACHE_EINVAL;
    llmcache__lock(&c->mu);
    i = llmcache__find(c, key);
    if (i != LLMCACHE__NIL) {
        int live = !llmcache__expired(&c->ents[i], llmcache__now(c));
        llmcache__remove(c, i);
        if (live) { rc = LLMCACHE_OK; c->st.deletes++; }
        else c->st.expirations++;
    }
    llmcache__unlock(&c->mu);
    return rc;
}

LLMCACHE_API void llmcache_value_free(llmcache_value *v) {
    if (!v) return;
    LLMCACHE_FREE(v->data);
    memset(v, 0, sizeof *v);
}

LLMCACHE_API void llmcache_stats_get(llmcache *c, llmcache_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!c) return;
    llmcache__lock(&c->mu);
    *out = c->st;
    out->entries = c->count;
    out->bytes = c->bytes;
    out->max_entries = c->max_entries;
    out->max_bytes = c->max_bytes;
    llmcache__unlock(&c->mu);
}

LLMCACHE_API int llmcache_sweep(llmcache *c) {
    if (!c) return LLMCACHE_EINVAL;
    llmcache__lock(&c->mu);
    llmcache__sweep_some(c, llmcache__now(c), c->ents_top);
    llmcache__unlock(&c->mu);
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_compact(llmcache *c) {
    if (!c) return LLMCACHE_EINVAL;
    return LLMCACHE_OK;
}

#endif /* LLMCACHE_IMPLEMENTATION */
