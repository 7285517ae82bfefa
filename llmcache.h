/* llmcache.h - a response cache for LLM APIs, in one C header.  v0.1.0
 *
 * Keys are SHA-256 over the RFC 8785 canonical form of the request JSON, the
 * namespace, the endpoint and the hash of the expected result's JSON schema, so
 * equal requests hit whatever their whitespace or member order, and a changed
 * schema misses by construction. Entries live in a bounded LRU with TTL in memory,
 * optionally backed by a crash-safe append-only log file that several processes
 * share (docs/FORMAT.md) and by Redis (LLMCACHE_REDIS). llmcache_call wraps the
 * caller's own HTTP code: hits, stores, SSE stream replay, single-flight.
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
 *     LLMCACHE_NO_FILES      no log-file backend (a config path fails: EUNSUPPORTED)
 *     LLMCACHE_CURL          the bundled libcurl transport (link -lcurl)
 *     LLMCACHE_REDIS         the shared Redis tier through hiredis (link -lhiredis)
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
/* The implementation uses POSIX 2008 (clock_gettime, pread, mmap, robust mutexes,
 * posix_fallocate), or Win32 on Windows (file handles, file mappings, LockFileEx,
 * SRW locks); strict -std=c99 hides the POSIX ones on glibc unless asked for before the
 * first system header. Include llmcache.h first in the implementation file, or
 * compile with -D_POSIX_C_SOURCE=200809L. */
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
#    if defined(__GNUC__) || defined(__clang__)
#      define LLMCACHE_API static __attribute__((unused))
#    else
#      define LLMCACHE_API static
#    endif
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

/* What the optional event callback is told. Pointers are valid during the call only. */
enum {
    LLMCACHE_EVENT_HIT = 1,   /* llmcache_call answered from the cache */
    LLMCACHE_EVENT_MISS,      /* llmcache_call found nothing and calls the transport */
    LLMCACHE_EVENT_STORE,     /* a fresh response was stored */
    LLMCACHE_EVENT_SHARED,    /* a concurrent identical call's result was shared (single-flight) */
    LLMCACHE_EVENT_ERROR      /* something failed; result says what, message says where */
};
typedef struct llmcache_event {
    int type;                 /* LLMCACHE_EVENT_* */
    const llmcache_key *key;  /* the entry concerned, or NULL */
    int result;               /* a result code (LLMCACHE_OK unless type is ERROR) */
    const char *message;      /* a short human-readable description, never NULL */
} llmcache_event;

/* The shared Redis tier (compiled in with LLMCACHE_REDIS and hiredis; without it a
 * config that names one fails with LLMCACHE_EUNSUPPORTED). Zero = defaults. */
typedef struct llmcache_redis_config {
    const char *host;              /* NULL = "127.0.0.1" */
    int         port;              /* 0 = 6379 */
    const char *password;          /* NULL = no AUTH */
    int         db;                /* SELECT db; 0 = default */
    const char *prefix;            /* key prefix; NULL = "llmcache:" + namespace + ":" */
    int64_t     connect_timeout_ms;/* 0 = 200 */
    int64_t     command_timeout_ms;/* 0 = 200 */
    int         breaker_failures;  /* consecutive failures that open the breaker; 0 = 3 */
    int64_t     breaker_cooldown_ms; /* how long it stays open; 0 = 5000 */
} llmcache_redis_config;

/* Zero-initialize, then set what you need: llmcache_config cfg = {0}; */
typedef struct llmcache_config {
    const char *path;        /* append-only log file; NULL = memory only */
    const char *ns;          /* namespace used for the keys of llmcache_call; NULL = "" */
    size_t      max_entries; /* 0 = LLMCACHE_DEFAULT_MAX_ENTRIES */
    size_t      max_bytes;   /* bytes of values held in memory, counted as allocated
                                (and, without a path, with their entries' bookkeeping);
                                0 = LLMCACHE_DEFAULT_MAX_BYTES. With a path, values
                                beyond it stay on disk only */
    int64_t     ttl_ms;      /* default time to live; 0 = entries never expire */
    int         fsync;       /* LLMCACHE_FSYNC_INTERVAL (0), _ALWAYS or _NEVER */
    int64_t   (*clock)(void *ctx); /* milliseconds since the Unix epoch; NULL = system clock */
    void       *clock_ctx;
    /* optional: told about hits, misses, stores and errors; called without locks
       held, from whichever thread made the call; NULL = silent */
    void      (*on_event)(void *ctx, const llmcache_event *ev);
    void       *event_ctx;
    const llmcache_redis_config *redis;  /* shared tier below memory and file; NULL = none */
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
                                  /* bytes: what max_bytes bounds (see llmcache_config) */
    uint64_t deletes;             /* successful llmcache_del calls */
    uint64_t max_entries, max_bytes; /* the bounds in force */
    /* call-through (llmcache_call) */
    uint64_t calls;               /* llmcache_call invocations */
    uint64_t transport_calls;     /* times the transport was really called */
    uint64_t shared;              /* calls answered by a concurrent identical call */
    uint64_t errors;              /* store read/write failures survived by failing open */
    uint64_t time_saved_ms;       /* sum of stored provider latencies served from cache */
    uint64_t tokens_saved;        /* sum of stored prompt + completion tokens served from cache */
    /* log file (cfg.path) */
    uint64_t file_bytes;          /* committed length of the log */
    uint64_t live_bytes;          /* bytes of the records that are still live */
    uint64_t dead_bytes;          /* bytes of records superseded, deleted or evicted
                                     (what compaction would give back) */
    uint64_t records_recovered;   /* intact records read at open */
    uint64_t records_skipped;     /* damaged records skipped at open or on read */
    uint64_t bytes_truncated;     /* torn or garbage tail cut off at open */
    uint64_t compactions;         /* compactions done by this handle */
    uint64_t reloads;             /* switches to a log compacted by another process */
    uint64_t cold_reads;          /* gets served from the file (value not in memory) */
    /* Redis tier (cfg.redis; docs/REDIS.md) */
    uint64_t redis_hits;          /* local misses answered by Redis (also counted in hits) */
    uint64_t redis_misses;        /* local misses Redis had no live entry for */
    uint64_t redis_puts;          /* values written to Redis */
    uint64_t redis_errors;        /* failed Redis commands (down, timeout, error reply) and
                                     values that are not an intact record of their key */
    uint64_t redis_skipped;       /* Redis operations not tried because the breaker was open */
    uint64_t redis_breaker_opens; /* times the circuit breaker opened */
    uint64_t redis_breaker_open;  /* 1 while the breaker is open (or probing), else 0 */
    uint64_t redis_connects;      /* connections made to Redis */
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

/* As llmcache_put_ex with explicit times (for import and replication):
 * expires_ms is absolute (0 = never); an entry already expired is not stored
 * and LLMCACHE_OK is returned. */
LLMCACHE_API int  llmcache_put_at(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                  int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta);

/* Removes key. LLMCACHE_OK, or LLMCACHE_MISS when it was absent. Thread-safe. */
LLMCACHE_API int  llmcache_del(llmcache *c, const llmcache_key *key);

/* Releases the copy a get returned and zeroes *v. NULL is allowed. */
LLMCACHE_API void llmcache_value_free(llmcache_value *v);

/* Counters and sizes. Thread-safe. */
LLMCACHE_API void llmcache_stats_get(llmcache *c, llmcache_stats *out);

/* Drops every expired entry now (puts also do this a few entries at a time). */
LLMCACHE_API int  llmcache_sweep(llmcache *c);

/* Rewrites the log with the live entries only: expired, deleted and evicted
 * entries are dropped. Crash-safe (new file, fsync, rename, fsync directory).
 * OK without a path. Thread-safe. Puts also compact automatically once dead
 * records outweigh live ones (and the file exceeds 1 MiB). On Windows a file
 * that another handle or process has open cannot be replaced: then this returns
 * LLMCACHE_EIO and the log stays as it was (automatic compaction tries again
 * once the log has grown by what it would copy). */
LLMCACHE_API int  llmcache_compact(llmcache *c);

/* Makes every acknowledged write durable now (fsync). OK without a path. */
LLMCACHE_API int  llmcache_sync(llmcache *c);

/* One live entry, as llmcache_foreach reports it. Pointers valid during the call. */
typedef struct llmcache_entry_info {
    llmcache_key key;
    size_t   len;                 /* value length */
    int64_t  created_ms, expires_ms;
    uint64_t seq;                 /* log sequence number (0 without a path) */
    llmcache_meta meta;
    const char *data;             /* the value bytes, or NULL when not asked for */
} llmcache_entry_info;

/* Calls fn for every live entry (in no particular order); fn returns 0 to go
 * on, anything else to stop (llmcache_foreach then returns that value). With
 * with_values, info->data holds the value (read and checksum-verified from the
 * file when needed). fn must not call back into c. Holds the handle's lock. */
LLMCACHE_API int  llmcache_foreach(llmcache *c, int with_values,
                                   int (*fn)(void *ctx, const llmcache_entry_info *info), void *ctx);

/* What llmcache_verify found in a log file. */
typedef struct llmcache_verify_report {
    uint64_t file_bytes;          /* size of the file */
    uint64_t records;             /* intact records (puts and deletes) */
    uint64_t puts, deletes;       /* intact records by kind */
    uint64_t live;                /* keys live at the end of the log (ignoring expiry) */
    uint64_t damaged_regions;     /* runs of bytes that are not intact records */
    uint64_t damaged_bytes;
    uint64_t tail_bytes;          /* of which after the last intact record */
    uint64_t last_seq;
} llmcache_verify_report;

/* Walks the log at path read-only and reports every damaged region through
 * on_damage (may be NULL: offset, length, reason). Never modifies the file.
 * Returns LLMCACHE_OK when the file is clean, LLMCACHE_ECORRUPT when damage was
 * found (report filled), LLMCACHE_ENOTCACHE / LLMCACHE_EIO / LLMCACHE_EVERSION
 * when it cannot be read as a log. Thread-safe. */
LLMCACHE_API int  llmcache_verify(const char *path, llmcache_verify_report *report,
                                  void (*on_damage)(void *ctx, uint64_t offset, uint64_t len,
                                                    const char *reason),
                                  void *ctx);

/* Rewrites the log at path keeping every intact record (damaged regions and a
 * torn tail are dropped), then swaps the clean copy in (fsync, rename, fsync
 * directory). Other processes must not have the file open. report may be NULL. */
LLMCACHE_API int  llmcache_repair(const char *path, llmcache_verify_report *report);

/* >>call-through (llmcache_call, transports, streaming) ------------------------- */
#include "wip/call_api.h"

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

/* Waits on cv for at most ms milliseconds (spurious wake-ups allowed). */
#if defined(LLMCACHE_NO_THREADS)
#  define llmcache__cond_timedwait(cv, m, ms) ((void)(cv), (void)(m), (void)(ms))
#elif defined(_WIN32)
static LLMCACHE__MAYBE_UNUSED void llmcache__cond_timedwait(llmcache__cond *cv, llmcache__mutex *m, int64_t ms) {
    SleepConditionVariableSRW(cv, m, (DWORD)ms, 0);
}
#else
static LLMCACHE__MAYBE_UNUSED void llmcache__cond_timedwait(llmcache__cond *cv, llmcache__mutex *m, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(cv, m, &ts);
}
#endif

/* A thread that runs fn(arg) (the log's flusher); join waits for its end. */
#if !defined(LLMCACHE_NO_THREADS)
typedef struct llmcache__thread {
#  if defined(_WIN32)
    HANDLE handle;
#  else
    pthread_t id;
#  endif
    void (*fn)(void *arg);
    void *arg;
} llmcache__thread;
#  if defined(_WIN32)
static DWORD WINAPI llmcache__thread_main(LPVOID t) {
    ((llmcache__thread *)t)->fn(((llmcache__thread *)t)->arg);
    return 0;
}
static LLMCACHE__MAYBE_UNUSED int llmcache__thread_start(llmcache__thread *t, void (*fn)(void *), void *arg) {
    t->fn = fn; t->arg = arg;
    t->handle = CreateThread(NULL, 0, llmcache__thread_main, t, 0, NULL);
    return t->handle ? 0 : -1;
}
static LLMCACHE__MAYBE_UNUSED void llmcache__thread_join(llmcache__thread *t) {
    WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
}
#  else
static void *llmcache__thread_main(void *t) {
    ((llmcache__thread *)t)->fn(((llmcache__thread *)t)->arg);
    return NULL;
}
static LLMCACHE__MAYBE_UNUSED int llmcache__thread_start(llmcache__thread *t, void (*fn)(void *), void *arg) {
    t->fn = fn; t->arg = arg;
    return pthread_create(&t->id, NULL, llmcache__thread_main, t) == 0 ? 0 : -1;
}
static LLMCACHE__MAYBE_UNUSED void llmcache__thread_join(llmcache__thread *t) { pthread_join(t->id, NULL); }
#  endif
#endif

/* Atomic loads and stores of 64-bit words in memory shared between processes. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__GCC_ATOMIC_LLONG_LOCK_FREE) && \
    __GCC_ATOMIC_LLONG_LOCK_FREE < 2
/* No lock-free 64-bit atomics (32-bit MIPS; libatomic's stand-in locks within one
 * process only): two atomic 32-bit halves. Enough for the shared page: its offsets
 * stay below 4 GiB on such machines (the log must fit the address space) and its
 * file ids are only compared for equality, a torn one never equals the reader's. */
typedef uint32_t llmcache__half __attribute__((may_alias));
static LLMCACHE__MAYBE_UNUSED uint64_t llmcache__load_acquire(const uint64_t *p) {
    const volatile llmcache__half *h = (const volatile llmcache__half *)(const volatile void *)p;
    uint32_t w[2];
    uint64_t v;
    w[0] = __atomic_load_n(&h[0], __ATOMIC_ACQUIRE);
    w[1] = __atomic_load_n(&h[1], __ATOMIC_ACQUIRE);
    memcpy(&v, w, sizeof v);
    return v;
}
static LLMCACHE__MAYBE_UNUSED void llmcache__store_release(uint64_t *p, uint64_t v) {
    volatile llmcache__half *h = (volatile llmcache__half *)(volatile void *)p;
    uint32_t w[2];
    memcpy(w, &v, sizeof v);
    __atomic_store_n(&h[0], w[0], __ATOMIC_RELEASE);
    __atomic_store_n(&h[1], w[1], __ATOMIC_RELEASE);
}
#elif defined(__GNUC__) || defined(__clang__)
#  define llmcache__load_acquire(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#  define llmcache__store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#elif defined(_MSC_VER)
#  define llmcache__load_acquire(p)     ((uint64_t)InterlockedOr64((volatile LONG64 *)(p), 0))
#  define llmcache__store_release(p, v) ((void)InterlockedExchange64((volatile LONG64 *)(p), (LONG64)(v)))
#else
#  define llmcache__load_acquire(p)     (*(volatile uint64_t *)(p))
#  define llmcache__store_release(p, v) (*(volatile uint64_t *)(p) = (v))
#endif

/* >>files -----------------------------------------------------------------------
 * Files, positioned I/O, mappings, byte-range locks and the process-shared
 * writer lock: everything the log backend asks of the operating system. POSIX
 * first, then Win32; LLMCACHE_NO_FILES leaves the cache memory-only and makes a
 * path fail with LLMCACHE_EUNSUPPORTED. Where the two differ, the log code does
 * what both allow: it unmaps a file before it shrinks or replaces it, and takes
 * the length a mapping got from llmcache__f_map. */
#if !defined(LLMCACHE_NO_FILES)
#  define LLMCACHE__FILES 1
#  if !defined(_WIN32)
#    include <fcntl.h>
#    include <sys/mman.h>
#    include <sys/stat.h>
#    include <sys/types.h>
#    include <stdio.h>   /* rename */
#    if defined(__linux__) && !defined(F_OFD_SETLK)
#      define F_OFD_SETLK  37   /* Linux ABI; glibc hides it without _GNU_SOURCE */
#      define F_OFD_SETLKW 38
#    endif
#  endif
#endif

#if defined(_WIN32)
typedef intptr_t llmcache__fd;   /* a HANDLE */
#else
typedef int llmcache__fd;
#endif
#define LLMCACHE__NOFD (-1)

#ifdef LLMCACHE__FILES
enum { LLMCACHE__F_CREATE = 1, LLMCACHE__F_RDONLY = 2 };

#if !defined(_WIN32)
static int llmcache__errno_result(int e) {
    switch (e) {
    case ENOSPC: case EFBIG:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return LLMCACHE_ENOSPC;
    case ENOMEM: return LLMCACHE_ENOMEM;
    default: return LLMCACHE_EIO;
    }
}

static int llmcache__f_open(const char *path, int flags, llmcache__fd *fd) {
    int o = (flags & LLMCACHE__F_RDONLY) ? O_RDONLY : O_RDWR;
    if (flags & LLMCACHE__F_CREATE) o |= O_CREAT;
#ifdef O_CLOEXEC
    o |= O_CLOEXEC;
#endif
    do { *fd = open(path, o, 0644); } while (*fd < 0 && errno == EINTR);
    return *fd < 0 ? llmcache__errno_result(errno) : LLMCACHE_OK;
}

static void llmcache__f_close(llmcache__fd fd) { if (fd >= 0) close(fd); }

/* A second handle on the same open file (the flusher syncs through it unlocked);
 * LLMCACHE__NOFD when that fails. */
static LLMCACHE__MAYBE_UNUSED llmcache__fd llmcache__f_dup(llmcache__fd fd) { return dup(fd); }

static int llmcache__f_size(llmcache__fd fd, uint64_t *size) {
    struct stat st;
    if (fstat(fd, &st) != 0) return LLMCACHE_EIO;
    *size = (uint64_t)st.st_size;
    return LLMCACHE_OK;
}

static int llmcache__f_pread(llmcache__fd fd, void *buf, size_t n, uint64_t off) {
    char *p = (char *)buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return LLMCACHE_EIO;
        p += r; n -= (size_t)r; off += (uint64_t)r;
    }
    return LLMCACHE_OK;
}

static int llmcache__f_pwrite(llmcache__fd fd, const void *buf, size_t n, uint64_t off) {
    const char *p = (const char *)buf;
    while (n) {
        ssize_t r = pwrite(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return llmcache__errno_result(errno);
        if (r == 0) return LLMCACHE_EIO;
        p += r; n -= (size_t)r; off += (uint64_t)r;
    }
    return LLMCACHE_OK;
}

static int llmcache__f_sync(llmcache__fd fd) {
    int r;
    do { r = fdatasync(fd); } while (r != 0 && errno == EINTR);
    return r == 0 ? LLMCACHE_OK : llmcache__errno_result(errno);
}

static int llmcache__f_truncate(llmcache__fd fd, uint64_t size) {
    int r;
    do { r = ftruncate(fd, (off_t)size); } while (r != 0 && errno == EINTR);
    return r == 0 ? LLMCACHE_OK : llmcache__errno_result(errno);
}

/* Gives the file real blocks up to off+len, so writes through a mapping never
 * meet a full disk (which would be a SIGBUS): ENOSPC comes back here instead. */
static int llmcache__f_allocate(llmcache__fd fd, uint64_t off, uint64_t len) {
    int r = posix_fallocate(fd, (off_t)off, (off_t)len);
    if (r == EINVAL || r == EOPNOTSUPP) return llmcache__f_truncate(fd, off + len);
    return r == 0 ? LLMCACHE_OK : llmcache__errno_result(r);
}

/* Maps [0, *len) of the file; *len becomes the length the mapping covers (Win32
 * maps no more than the file holds, as a larger view would grow the file). */
static int llmcache__f_map(llmcache__fd fd, size_t *len, int writable, unsigned char **out) {
    void *p = mmap(NULL, *len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { *out = NULL; return LLMCACHE_ENOMEM; }
    *out = (unsigned char *)p;
    return LLMCACHE_OK;
}

static void llmcache__f_unmap(unsigned char *p, size_t len) { if (p) munmap(p, len); }

/* Makes [off, off+len) of a mapping of fd durable. */
static int llmcache__f_msync(llmcache__fd fd, unsigned char *map, uint64_t off, uint64_t len) {
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = off & ~(page - 1);
    (void)fd;
    if (len == 0) return LLMCACHE_OK;
    return msync(map + start, (size_t)(off + len - start), MS_SYNC) == 0 ? LLMCACHE_OK
                                                                      : llmcache__errno_result(errno);
}

/* A one-byte lock at offset byte: mode 0 unlocks, 1 shared, 2 exclusive. Open
 * file description locks where the system has them (they belong to this handle,
 * not to the process). LLMCACHE_MISS when busy and !wait. */
static int llmcache__f_lock(llmcache__fd fd, int byte, int mode, int wait) {
    struct flock fl;
    int cmd, r;
    memset(&fl, 0, sizeof fl);
    fl.l_type = (short)(mode == 0 ? F_UNLCK : mode == 1 ? F_RDLCK : F_WRLCK);
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
#ifdef F_OFD_SETLK
    cmd = wait ? F_OFD_SETLKW : F_OFD_SETLK;
#else
    cmd = wait ? F_SETLKW : F_SETLK;
#endif
    do { r = fcntl(fd, cmd, &fl); } while (r != 0 && errno == EINTR);
    if (r == 0) return LLMCACHE_OK;
    return (errno == EAGAIN || errno == EACCES) ? LLMCACHE_MISS : LLMCACHE_EIO;
}

/* Renames from over to and makes the rename durable (fsync of the directory). */
static int llmcache__f_replace(const char *from, const char *to) {
    char *dir;
    const char *slash = strrchr(to, '/');
    size_t n = slash ? (size_t)(slash - to) : 1;
    int dfd, rc = LLMCACHE_OK;
    if (rename(from, to) != 0) return llmcache__errno_result(errno);
    dir = (char *)LLMCACHE_MALLOC(n + 1);
    if (!dir) return LLMCACHE_ENOMEM;
    if (slash) memcpy(dir, to, n); else dir[0] = '.';
    if (slash && n == 0) { dir[0] = '/'; n = 1; }
    dir[n] = '\0';
    dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        if (fsync(dfd) != 0) rc = LLMCACHE_EIO;
        close(dfd);
    }
    LLMCACHE_FREE(dir);
    return rc;
}

static void llmcache__f_unlink(const char *path) { unlink(path); }

static uint64_t llmcache__f_random64(void) {
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != (ssize_t)sizeof v) v = 0;
        close(fd);
    }
    v ^= (uint64_t)llmcache__mono_us() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32;
    return v ? v : 1;
}
#else /* _WIN32: the same functions on Win32 handles, mappings and byte-range locks */
#define LLMCACHE__H(fd) ((HANDLE)(fd))

static int llmcache__win_result(DWORD e) {
    switch (e) {
    case ERROR_DISK_FULL: case ERROR_HANDLE_DISK_FULL: case ERROR_FILE_TOO_LARGE: return LLMCACHE_ENOSPC;
    case ERROR_NOT_ENOUGH_MEMORY: case ERROR_OUTOFMEMORY: case ERROR_COMMITMENT_LIMIT: return LLMCACHE_ENOMEM;
    default: return LLMCACHE_EIO;
    }
}

/* A UTF-8 path as UTF-16 for the W functions; release with LLMCACHE_FREE. */
static int llmcache__wpath(const char *path, wchar_t **out) {
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
    *out = NULL;
    if (n <= 0) return LLMCACHE_EINVAL;
    *out = (wchar_t *)LLMCACHE_MALLOC((size_t)n * sizeof(wchar_t));
    if (!*out) return LLMCACHE_ENOMEM;
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, *out, n) != n) {
        LLMCACHE_FREE(*out);
        *out = NULL;
        return LLMCACHE_EINVAL;
    }
    return LLMCACHE_OK;
}

/* Every open shares read, write and delete, as POSIX does: other handles may
 * rename the file or write to it. Handles are not inherited by child processes. */
static int llmcache__f_open(const char *path, int flags, llmcache__fd *fd) {
    wchar_t *w;
    HANDLE h;
    int rc = llmcache__wpath(path, &w);
    *fd = LLMCACHE__NOFD;
    if (rc != LLMCACHE_OK) return rc;
    h = CreateFileW(w, GENERIC_READ | ((flags & LLMCACHE__F_RDONLY) ? 0 : GENERIC_WRITE),
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                    (flags & LLMCACHE__F_CREATE) ? OPEN_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    LLMCACHE_FREE(w);
    if (h == INVALID_HANDLE_VALUE) return llmcache__win_result(GetLastError());
    *fd = (llmcache__fd)h;
    return LLMCACHE_OK;
}

static void llmcache__f_close(llmcache__fd fd) { if (fd != LLMCACHE__NOFD) CloseHandle(LLMCACHE__H(fd)); }

static LLMCACHE__MAYBE_UNUSED llmcache__fd llmcache__f_dup(llmcache__fd fd) {
    HANDLE h;
    if (!DuplicateHandle(GetCurrentProcess(), LLMCACHE__H(fd), GetCurrentProcess(), &h, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) return LLMCACHE__NOFD;
    return (llmcache__fd)h;
}

static int llmcache__f_size(llmcache__fd fd, uint64_t *size) {
    LARGE_INTEGER s;
    if (!GetFileSizeEx(LLMCACHE__H(fd), &s)) return LLMCACHE_EIO;
    *size = (uint64_t)s.QuadPart;
    return LLMCACHE_OK;
}

/* ReadFile and WriteFile at an offset (OVERLAPPED on a synchronous handle): the
 * file pointer, shared by every user of the handle, plays no part. */
static int llmcache__f_pread(llmcache__fd fd, void *buf, size_t n, uint64_t off) {
    char *p = (char *)buf;
    while (n) {
        OVERLAPPED ov;
        DWORD chunk = n > 0x40000000u ? 0x40000000u : (DWORD)n, got = 0;
        memset(&ov, 0, sizeof ov);
        ov.Offset = (DWORD)off;
        ov.OffsetHigh = (DWORD)(off >> 32);
        if (!ReadFile(LLMCACHE__H(fd), p, chunk, &got, &ov) || got == 0) return LLMCACHE_EIO;
        p += got; n -= got; off += got;
    }
    return LLMCACHE_OK;
}

static int llmcache__f_pwrite(llmcache__fd fd, const void *buf, size_t n, uint64_t off) {
    const char *p = (const char *)buf;
    while (n) {
        OVERLAPPED ov;
        DWORD chunk = n > 0x40000000u ? 0x40000000u : (DWORD)n, put = 0;
        memset(&ov, 0, sizeof ov);
        ov.Offset = (DWORD)off;
        ov.OffsetHigh = (DWORD)(off >> 32);
        if (!WriteFile(LLMCACHE__H(fd), p, chunk, &put, &ov)) return llmcache__win_result(GetLastError());
        if (put == 0) return LLMCACHE_EIO;
        p += put; n -= put; off += put;
    }
    return LLMCACHE_OK;
}

static int llmcache__f_sync(llmcache__fd fd) {
    return FlushFileBuffers(LLMCACHE__H(fd)) ? LLMCACHE_OK : llmcache__win_result(GetLastError());
}

/* Fails (LLMCACHE_EIO) to shrink a file that some process maps: the log code
 * unmaps its own views first, and copes when others still map it. */
static int llmcache__f_truncate(llmcache__fd fd, uint64_t size) {
    FILE_END_OF_FILE_INFO eof;
    eof.EndOfFile.QuadPart = (LONGLONG)size;
    if (!SetFileInformationByHandle(LLMCACHE__H(fd), FileEndOfFileInfo, &eof, sizeof eof))
        return llmcache__win_result(GetLastError());
    return LLMCACHE_OK;
}

/* Moves the end of the file to off+len (never back). A file that is not sparse
 * gets its clusters then, so a full disk says so here, not in a write through
 * the mapping; the new bytes read as zeros. */
static int llmcache__f_allocate(llmcache__fd fd, uint64_t off, uint64_t len) {
    uint64_t size;
    int rc = llmcache__f_size(fd, &size);
    if (rc != LLMCACHE_OK || off + len <= size) return rc;
    return llmcache__f_truncate(fd, off + len);
}

static int llmcache__f_map(llmcache__fd fd, size_t *len, int writable, unsigned char **out) {
    uint64_t size;
    HANDLE m;
    void *p = NULL;
    *out = NULL;
    if (llmcache__f_size(fd, &size) != LLMCACHE_OK) return LLMCACHE_EIO;
    if ((uint64_t)*len > size) *len = (size_t)size;
    if (*len == 0) return LLMCACHE_EIO;
    m = CreateFileMappingW(LLMCACHE__H(fd), NULL, writable ? PAGE_READWRITE : PAGE_READONLY,
                           (DWORD)((uint64_t)*len >> 32), (DWORD)*len, NULL);
    if (!m) return llmcache__win_result(GetLastError());
    p = MapViewOfFile(m, writable ? FILE_MAP_READ | FILE_MAP_WRITE : FILE_MAP_READ, 0, 0, *len);
    CloseHandle(m);   /* the view keeps the mapping alive */
    if (!p) return LLMCACHE_ENOMEM;
    *out = (unsigned char *)p;
    return LLMCACHE_OK;
}

static void llmcache__f_unmap(unsigned char *p, size_t len) { (void)len; if (p) UnmapViewOfFile(p); }

/* FlushViewOfFile writes the pages; FlushFileBuffers waits until the disk has them. */
static int llmcache__f_msync(llmcache__fd fd, unsigned char *map, uint64_t off, uint64_t len) {
    if (len == 0) return LLMCACHE_OK;
    if (!FlushViewOfFile(map + off, (SIZE_T)len)) return llmcache__win_result(GetLastError());
    return llmcache__f_sync(fd);
}

/* LockFileEx locks are mandatory for ReadFile and WriteFile, so they sit past
 * the shared page (which is only ever mapped), 4 GiB in. Unlike POSIX, a new
 * lock does not replace one the handle holds on the byte: that one goes first,
 * and comes back (shared: the only lock ever held when asking for a stronger
 * one) when the new one is refused. The system drops them when the process dies. */
static int llmcache__f_lock(llmcache__fd fd, int byte, int mode, int wait) {
    OVERLAPPED ov;
    HANDLE h = LLMCACHE__H(fd);
    DWORD flags = (mode == 2 ? LOCKFILE_EXCLUSIVE_LOCK : 0) | (wait ? 0 : LOCKFILE_FAIL_IMMEDIATELY), err;
    int held;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)byte;
    ov.OffsetHigh = 1;
    held = UnlockFileEx(h, 0, 1, 0, &ov) != 0;
    if (mode == 0) return LLMCACHE_OK;
    if (LockFileEx(h, flags, 0, 1, 0, &ov)) return LLMCACHE_OK;
    err = GetLastError();
    if (held) LockFileEx(h, LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov);
    return err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING ? LLMCACHE_MISS : LLMCACHE_EIO;
}

/* MoveFileExW cannot replace a file that any process still maps or has open:
 * then it fails (LLMCACHE_EIO) instead of waiting. */
static int llmcache__f_replace(const char *from, const char *to) {
    wchar_t *wf, *wt;
    int rc = llmcache__wpath(from, &wf);
    if (rc != LLMCACHE_OK) return rc;
    rc = llmcache__wpath(to, &wt);
    if (rc == LLMCACHE_OK) {
        if (!MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
            rc = llmcache__win_result(GetLastError());
        LLMCACHE_FREE(wt);
    }
    LLMCACHE_FREE(wf);
    return rc;
}

static void llmcache__f_unlink(const char *path) {
    wchar_t *w;
    if (llmcache__wpath(path, &w) != LLMCACHE_OK) return;
    DeleteFileW(w);
    LLMCACHE_FREE(w);
}

/* File ids need only differ between the generations of one log: the clocks,
 * the process and thread ids and an address, mixed (splitmix64). */
static uint64_t llmcache__f_random64(void) {
    LARGE_INTEGER t;
    FILETIME ft;
    uint64_t v;
    QueryPerformanceCounter(&t);
    GetSystemTimeAsFileTime(&ft);
    v = (uint64_t)t.QuadPart ^ ((uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime) * 0x9e3779b97f4a7c15ull ^
        (uint64_t)GetCurrentProcessId() << 40 ^ (uint64_t)GetCurrentThreadId() << 20 ^ (uint64_t)(uintptr_t)&t;
    v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ull;
    v = (v ^ (v >> 27)) * 0x94d049bb133111ebull;
    v ^= v >> 31;
    return v ? v : 1;
}
#endif /* _WIN32 */

/* The lock that makes appends from several processes take turns: a robust
 * process-shared mutex in the shared page (no system call when uncontended; a
 * holder that dies hands it over with EOWNERDEAD), or, on Win32 and without
 * threads, an exclusive lock on byte 2 of the shared file. */
#if !defined(LLMCACHE_NO_THREADS) && !defined(_WIN32)
typedef pthread_mutex_t llmcache__pmutex;
static int llmcache__pmutex_init(llmcache__pmutex *m) {
    pthread_mutexattr_t a;
    int r;
    if (pthread_mutexattr_init(&a) != 0) return LLMCACHE_EIO;
    r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
#if defined(PTHREAD_MUTEX_ROBUST) || defined(__linux__)
    if (r == 0) r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
#endif
    if (r == 0) r = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return r == 0 ? LLMCACHE_OK : LLMCACHE_EIO;
}
/* LLMCACHE_OK, or LLMCACHE_ECORRUPT when the previous holder died holding it
 * (the caller repairs what it may have left half done, then calls _consistent). */
static int llmcache__pmutex_lock(llmcache__pmutex *m, llmcache__fd fd) {
    int r = pthread_mutex_lock(m);
    (void)fd;
    if (r == 0) return LLMCACHE_OK;
#if defined(PTHREAD_MUTEX_ROBUST) || defined(__linux__)
    if (r == EOWNERDEAD) return LLMCACHE_ECORRUPT;
#endif
    return LLMCACHE_EIO;
}
static void llmcache__pmutex_consistent(llmcache__pmutex *m) {
#if defined(PTHREAD_MUTEX_ROBUST) || defined(__linux__)
    pthread_mutex_consistent(m);
#else
    (void)m;
#endif
}
static void llmcache__pmutex_unlock(llmcache__pmutex *m, llmcache__fd fd) { (void)fd; pthread_mutex_unlock(m); }
#else
/* The byte lock dies with its holder, but says nothing of it: the word in the
 * shared page does. A holder sets it to 1 on taking the lock and back to 0 just
 * before letting go, so a new holder that finds 1 knows the last one died
 * holding it (and gets LLMCACHE_ECORRUPT, as EOWNERDEAD above). */
typedef uint64_t llmcache__pmutex;
static int llmcache__pmutex_init(llmcache__pmutex *m) { *m = 0; return LLMCACHE_OK; }
static int llmcache__pmutex_lock(llmcache__pmutex *m, llmcache__fd fd) {
    if (llmcache__f_lock(fd, 2, 2, 1) != LLMCACHE_OK) return LLMCACHE_EIO;
    if (llmcache__load_acquire(m)) return LLMCACHE_ECORRUPT;
    llmcache__store_release(m, 1);
    return LLMCACHE_OK;
}
static void llmcache__pmutex_consistent(llmcache__pmutex *m) { llmcache__store_release(m, 1); }
static void llmcache__pmutex_unlock(llmcache__pmutex *m, llmcache__fd fd) {
    llmcache__store_release(m, 0);
    llmcache__f_lock(fd, 2, 0, 0);
}
#endif
#endif /* LLMCACHE__FILES */

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

/* SHA-256 with the x86 SHA extensions (about 5x the portable code): used when the
 * compiler targets them (-msha) or, with GCC, when the processor reports them. The
 * state is kept as the instructions want it: ABEF and CDGH, two rounds a step. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__TINYC__) && !defined(LLMCACHE_NO_SIMD) && \
    (defined(__SHA__) || (defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11))
#  define LLMCACHE__SHA_NI 1
#  include <immintrin.h>
#  if defined(__SHA__)
#    define LLMCACHE__HAVE_SHA_NI() 1
#  else
#    define LLMCACHE__HAVE_SHA_NI() (__builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1"))
#  endif
__attribute__((target("sha,sse4.1")))
static void llmcache__sha256_blocks_ni(uint32_t h[8], const unsigned char *p, size_t nblocks) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    __m128i abef, cdgh, t, m[4], msg, abef0, cdgh0;
    int i;
    t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&h[0]), 0xB1);    /* CDAB */
    cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&h[4]), 0x1B); /* EFGH */
    abef = _mm_alignr_epi8(t, cdgh, 8);
    cdgh = _mm_blend_epi16(cdgh, t, 0xF0);
    for (; nblocks; nblocks--, p += 64) {
        abef0 = abef; cdgh0 = cdgh;
        for (i = 0; i < 16; i++) {
            __m128i *w = &m[i & 3];
            if (i < 4) {
                *w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)), bswap);
            } else {   /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time */
                __m128i x = _mm_sha256msg1_epu32(*w, m[(i + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(m[(i + 3) & 3], m[(i + 2) & 3], 4));
                *w = _mm_sha256msg2_epu32(x, m[(i + 3) & 3]);
            }
            msg = _mm_add_epi32(*w, _mm_loadu_si128((const __m128i *)(const void *)&llmcache__sha256_k[4 * i]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(msg, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    t = _mm_shuffle_epi32(abef, 0x1B);     /* FEBA */
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);  /* DCHG */
    _mm_storeu_si128((__m128i *)(void *)&h[0], _mm_blend_epi16(t, cdgh, 0xF0));   /* DCBA */
    _mm_storeu_si128((__m128i *)(void *)&h[4], _mm_alignr_epi8(cdgh, t, 8));      /* HGFE */
}
#endif

/* Compresses nblocks 64-byte blocks into h. */
static void llmcache__sha256_blocks(uint32_t h[8], const unsigned char *p, size_t nblocks) {
#ifdef LLMCACHE__SHA_NI
    if (LLMCACHE__HAVE_SHA_NI()) { llmcache__sha256_blocks_ni(h, p, nblocks); return; }
#endif
    for (; nblocks; nblocks--, p += 64) llmcache__sha256_block(h, p);
}

static void llmcache__sha256_update(llmcache__sha256 *s, const void *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    s->total += len;
    if (s->fill) {
        size_t take = 64 - s->fill < len ? 64 - s->fill : len;
        memcpy(s->block + s->fill, p, take);
        s->fill += take; p += take; len -= take;
        if (s->fill < 64) return;
        llmcache__sha256_blocks(s->h, s->block, 1);
        s->fill = 0;
    }
    llmcache__sha256_blocks(s->h, p, len / 64);
    p += len & ~(size_t)63;
    len &= 63;
    if (len) { memcpy(s->block, p, len); s->fill = len; }
}

static void llmcache__sha256_final(llmcache__sha256 *s, unsigned char out[32]) {
    uint64_t bits = s->total * 8;
    int i;
    s->block[s->fill++] = 0x80;
    if (s->fill > 56) {
        memset(s->block + s->fill, 0, 64 - s->fill);
        llmcache__sha256_blocks(s->h, s->block, 1);
        s->fill = 0;
    }
    memset(s->block + s->fill, 0, 56 - s->fill);
    for (i = 0; i < 8; i++) s->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    llmcache__sha256_blocks(s->h, s->block, 1);
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


/* >>crc32c (Castagnoli, reflected polynomial 0x82F63B78) ---------------------------
 * SSE4.2's crc32 instruction when the processor has it, else a byte table. */
static const uint32_t llmcache__crc32c_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu, 0x26a1e7e8u, 0xd4ca64ebu,
    0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu, 0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u,
    0x105ec76fu, 0xe235446cu, 0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
    0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu, 0xbc267848u, 0x4e4dfb4bu,
    0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au, 0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u,
    0xaa64d611u, 0x580f5512u, 0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
    0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu, 0x1642ae59u, 0xe4292d5au,
    0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au, 0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u,
    0x417b1dbcu, 0xb3109ebfu, 0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
    0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu, 0xed03a29bu, 0x1f682198u,
    0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u, 0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u,
    0xdbfc821cu, 0x2997011fu, 0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
    0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu, 0x4767748au, 0xb50cf789u,
    0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u, 0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u,
    0x7198540du, 0x83f3d70eu, 0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu, 0xdde0eb2au, 0x2f8b6829u,
    0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu, 0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u,
    0x082f63b7u, 0xfa44e0b4u, 0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
    0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu, 0xb4091bffu, 0x466298fcu,
    0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu, 0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u,
    0xa24bb5a6u, 0x502036a5u, 0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u, 0x0e330a81u, 0xfc588982u,
    0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du, 0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u,
    0x38cc2a06u, 0xcaa7a905u, 0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
    0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u, 0xe52cc12cu, 0x1747422fu,
    0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu, 0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u,
    0xd3d3e1abu, 0x21b862a8u, 0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
    0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u, 0x7fab5e8cu, 0x8dc0dd8fu,
    0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu, 0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u,
    0x69e9f0d5u, 0x9b8273d6u, 0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u, 0xd5cf889du, 0x27a40b9eu,
    0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu, 0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u
};

static uint32_t llmcache__crc32c_sw(uint32_t crc, const unsigned char *p, size_t n) {
    while (n--) crc = llmcache__crc32c_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    return crc;
}

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)) && !defined(__TINYC__)
#  define LLMCACHE__CRC_HW 1
__attribute__((target("sse4.2")))
static uint32_t llmcache__crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n && ((uintptr_t)p & 7)) { c = __builtin_ia32_crc32qi((uint32_t)c, *p++); n--; }
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);   /* aligned here; memcpy keeps the compiler honest */
        c = __builtin_ia32_crc32di(c, v);
    }
    while (n--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

/* Continues a CRC-32C: start with crc = 0. */
static uint32_t llmcache__crc32c(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    crc = ~crc;
#ifdef LLMCACHE__CRC_HW
    if (__builtin_cpu_supports("sse4.2")) return ~llmcache__crc32c_hw(crc, p, n);
#endif
    return ~llmcache__crc32c_sw(crc, p, n);
}

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

/* >>table (hash table + LRU lists + TTL) -------------------------------------------
 * Entries live in one array and are named by index, so links are 4 bytes and the
 * array can grow by realloc. The table is open addressing with linear probing; a
 * slot holds (32-bit hash tag << 32 | index + 1), 0 = empty; the tag's low bits
 * name the home slot, so probes, growth and deletion never touch the entries.
 * Deletion shifts the cluster back (no tombstones).
 * Recency of entries (for max_entries) is a queue of (index, stamp) records, one
 * appended per use; an entry's current record is the one whose stamp matches the
 * entry's, older ones are skipped when they reach the front. So a hit writes only
 * the entry it already has in cache and the queue's tail (exact LRU without
 * touching list neighbours). With a log file, the entries whose value is held in
 * memory also form a doubly linked list, most recent first (for max_bytes). */
#define LLMCACHE__NIL 0xffffffffu

enum { LLMCACHE__E_USED = 1, LLMCACHE__E_META = 2 };

typedef struct llmcache__entry {
    llmcache_key key;
    uint32_t stamp;               /* stamp of the last use (see the recency queue) */
    uint32_t vprev, vnext;        /* LRU of values held in memory (log mode); vnext
                                     doubles as the free-list link */
    uint32_t len;                 /* value length */
    uint32_t flags;               /* LLMCACHE__E_* */
    int64_t  created_ms, expires_ms;
    unsigned char *blob;          /* the value in memory (see llmcache__blobhdr); NULL = on disk only */
    uint64_t off;                 /* offset of the entry's record in the log */
    uint32_t rec_len;             /* length of that record, padding excluded */
} llmcache__entry;

/* A value held in memory: a header repeating what a hit needs from the entry, then
 * [llmcache_meta if E_META], the value bytes, a NUL. The table slot points at it,
 * so a hit reads the slot and this block, and only writes the entry (its stamp). */
typedef struct llmcache__blobhdr {
    llmcache_key key;             /* first: the probe compares these 32 bytes */
    int64_t  created_ms, expires_ms;
    uint32_t len, flags;
} llmcache__blobhdr;
#define LLMCACHE__BLOB_HDR sizeof(llmcache__blobhdr)

typedef struct llmcache__slot {
    uint64_t tag_idx;             /* 32-bit hash tag << 32 | entry index + 1; 0 = empty */
    unsigned char *blob;          /* the entry's value in memory, or NULL */
} llmcache__slot;

/* Bytes charged against max_bytes: a value held in memory (its allocation rounded
 * up as malloc does, plus malloc's own header) and, in a memory-only cache, its
 * entry (the array slot, two table slots with the table at most half full, two
 * recency-queue slots). With a log file the entries are the index of the file,
 * bounded by max_entries; max_bytes bounds the values kept in memory. */
#define LLMCACHE__ENTRY_COST (sizeof(llmcache__entry) + 2 * sizeof(llmcache__slot) + 2 * sizeof(uint64_t))
#define LLMCACHE__ENTRY_CHARGE(c) ((c)->path ? 0 : LLMCACHE__ENTRY_COST)
static size_t llmcache__blob_cost(size_t blob_size) { return ((blob_size + 15) & ~(size_t)15) + 16; }

/* The process-shared page beside a log (path + "-shm"): host-endian, rebuilt by
 * the first process that opens the log, never a carrier of cached data. */
#define LLMCACHE__SHM_MAGIC "llmcshm1"
#define LLMCACHE__SHM_SIZE 4096
#ifdef LLMCACHE__FILES
typedef struct llmcache__shm {
    char     magic[8];
    uint32_t version, mutex_size;
    uint64_t gen;                 /* file id of the current log (changes at compaction) */
    uint64_t end;                 /* committed length: records before it are complete */
    uint64_t last_seq;            /* sequence number of the last committed record */
    uint64_t alloc;               /* bytes given to the file (records are written below) */
    uint64_t synced_end;          /* everything before it is durable */
    int64_t  last_sync_ms;
    llmcache__pmutex mu;          /* taken by writers */
} llmcache__shm;
#endif

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
    llmcache__slot *slots;
    size_t   slot_mask;
    size_t   count, bytes;
    uint64_t *lru;                /* recency queue: ring of (index << 32 | stamp) */
    size_t   lru_cap, lru_head, lru_len;
    uint32_t stamp;               /* last stamp given out */
    uint32_t val_head, val_tail;
    uint32_t sweep_cursor;
    uint64_t seed;
    void   (*on_event)(void *ctx, const llmcache_event *ev);
    void    *event_ctx;
    struct llmcache__callstate *calls;  /* single-flight table; NULL until first needed */
    struct llmcache__redis *redis;      /* the shared Redis tier (wip/redis.h); NULL = none */

    /* log file; path == NULL for a memory-only cache */
    char    *path, *shm_path, *tmp_path;
    llmcache__fd fd, shm_fd;
    unsigned char *map;           /* the log, mapped read/write */
    size_t   map_len;
    uint64_t gen, end;            /* the log generation and length this index reflects */
    uint64_t live_bytes;          /* padded lengths of the records the index points at */
    uint64_t compact_after;       /* after a failed compaction, no automatic one before this end */
    int      dirty;               /* this handle wrote since the last sync */
    int      loading;             /* the open is reading the log (counts records_recovered) */
#ifdef LLMCACHE__FILES
    llmcache__shm *shm;
#endif
#if !defined(LLMCACHE_NO_THREADS)
    llmcache__thread flusher;
    int      flusher_running, stopping;
    llmcache__cond flusher_cv;
#endif

#ifdef LLMCACHE_TEST_HOOKS
    void   (*test_point)(void *ctx, int n);   /* tests crash the process here */
    void    *test_ctx;
#endif

    llmcache_stats st;
};

static int64_t llmcache__now(llmcache *c) {
    return c->clock ? c->clock(c->clock_ctx) : llmcache__system_clock_ms();
}

/* Tells the caller's event callback (if any); call without c->mu held. */
static LLMCACHE__MAYBE_UNUSED void llmcache__emit(llmcache *c, int type, const llmcache_key *key, int result,
                                                  const char *message) {
    llmcache_event ev;
    if (!c->on_event) return;
    ev.type = type; ev.key = key; ev.result = result; ev.message = message;
    c->on_event(c->event_ctx, &ev);
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
        const llmcache__slot *s = &c->slots[i];
        if (!s->tag_idx) { *found = 0; return i; }
        if ((uint32_t)(s->tag_idx >> 32) == tag &&
            memcmp(s->blob ? s->blob : c->ents[(uint32_t)s->tag_idx - 1].key.bytes, k->bytes, 32) == 0) {
            *found = 1;
            return i;
        }
    }
}

/* The entry holding key (NIL if none) and, in *blob, its value in memory or NULL. */
static uint32_t llmcache__find_value(const llmcache *c, const llmcache_key *k, unsigned char **blob) {
    int found;
    size_t i;
    *blob = NULL;
    if (!c->count) return LLMCACHE__NIL;
    i = llmcache__probe(c, k, llmcache__hash(c, k), &found);
    if (!found) return LLMCACHE__NIL;
    *blob = c->slots[i].blob;
    return (uint32_t)c->slots[i].tag_idx - 1;
}

static uint32_t llmcache__find(const llmcache *c, const llmcache_key *k) {
    unsigned char *blob;
    return llmcache__find_value(c, k, &blob);
}

/* The slot of entry i (which is in the table). */
static llmcache__slot *llmcache__slot_of(llmcache *c, uint32_t i) {
    int found;
    size_t s = llmcache__probe(c, &c->ents[i].key, llmcache__hash(c, &c->ents[i].key), &found);
    LLMCACHE_ASSERT(found);
    (void)found;
    return &c->slots[s];
}

static int llmcache__table_grow(llmcache *c) {
    size_t n = c->slots ? (c->slot_mask + 1) * 2 : 16, i;
    llmcache__slot *old = c->slots;
    size_t old_n = c->slots ? c->slot_mask + 1 : 0;
    llmcache__slot *fresh = (llmcache__slot *)LLMCACHE_MALLOC(n * sizeof(llmcache__slot));
    if (!fresh) return LLMCACHE_ENOMEM;
    memset(fresh, 0, n * sizeof(llmcache__slot));
    c->slots = fresh;
    c->slot_mask = n - 1;
    for (i = 0; i < old_n; i++) {
        size_t j;
        if (!old[i].tag_idx) continue;
        j = (size_t)(old[i].tag_idx >> 32) & c->slot_mask;
        while (fresh[j].tag_idx) j = (j + 1) & c->slot_mask;
        fresh[j] = old[i];
    }
    LLMCACHE_FREE(old);
    return LLMCACHE_OK;
}

/* List operations on either LRU list: off_prev/off_next select the links. */
#define LLMCACHE__LIST_UNLINK(c, i, P, N, HEAD, TAIL) do { \
    llmcache__entry *e_ = &(c)->ents[i]; \
    if (e_->P != LLMCACHE__NIL) (c)->ents[e_->P].N = e_->N; else (c)->HEAD = e_->N; \
    if (e_->N != LLMCACHE__NIL) (c)->ents[e_->N].P = e_->P; else (c)->TAIL = e_->P; \
} while (0)
#define LLMCACHE__LIST_PUSH(c, i, P, N, HEAD, TAIL) do { \
    llmcache__entry *e_ = &(c)->ents[i]; \
    e_->P = LLMCACHE__NIL; e_->N = (c)->HEAD; \
    if ((c)->HEAD != LLMCACHE__NIL) (c)->ents[(c)->HEAD].P = (i); else (c)->TAIL = (i); \
    (c)->HEAD = (i); \
} while (0)

static int llmcache__lru_current(const llmcache *c, uint64_t rec) {
    const llmcache__entry *e = &c->ents[(uint32_t)(rec >> 32)];
    return (e->flags & LLMCACHE__E_USED) && e->stamp == (uint32_t)rec;
}

/* Drops the stale records from the queue, in place, keeping their order. */
static void llmcache__lru_squeeze(llmcache *c) {
    size_t r, w = c->lru_head, kept = 0, n;
    for (n = 0, r = c->lru_head; n < c->lru_len; n++, r = (r + 1) % c->lru_cap) {
        if (!llmcache__lru_current(c, c->lru[r])) continue;
        c->lru[w] = c->lru[r];
        w = (w + 1) % c->lru_cap;
        kept++;
    }
    c->lru_len = kept;
}

/* Room for the records of one more entry: the queue keeps at least twice as many
 * slots as entries, so squeezing always frees half of it and a use never allocates. */
static int llmcache__lru_reserve(llmcache *c) {
    size_t need = 2 * (c->count + 1) + 16, cap, n, r;
    uint64_t *q;
    if (c->lru_cap >= need) return LLMCACHE_OK;
    cap = c->lru_cap ? c->lru_cap * 2 : 64;
    while (cap < need) cap *= 2;
    q = (uint64_t *)LLMCACHE_MALLOC(cap * sizeof *q);
    if (!q) return LLMCACHE_ENOMEM;
    for (n = 0, r = c->lru_head; n < c->lru_len; n++, r = (r + 1) % c->lru_cap) q[n] = c->lru[r];
    LLMCACHE_FREE(c->lru);
    c->lru = q;
    c->lru_cap = cap;
    c->lru_head = 0;
    return LLMCACHE_OK;
}

/* Marks entry i as the most recently used. */
static void llmcache__touch(llmcache *c, uint32_t i) {
    if (c->lru_len == c->lru_cap) llmcache__lru_squeeze(c);
    c->ents[i].stamp = ++c->stamp;
    c->lru[(c->lru_head + c->lru_len++) % c->lru_cap] = (uint64_t)i << 32 | c->stamp;
    if (c->path && c->ents[i].blob && c->val_head != i) {
        LLMCACHE__LIST_UNLINK(c, i, vprev, vnext, val_head, val_tail);
        LLMCACHE__LIST_PUSH(c, i, vprev, vnext, val_head, val_tail);
    }
}

static size_t llmcache__blob_size(const llmcache__entry *e) {
    return LLMCACHE__BLOB_HDR + (e->flags & LLMCACHE__E_META ? sizeof(llmcache_meta) : 0) + e->len + 1;
}

/* Frees entry i's value held in memory (the record stays on disk). */
static void llmcache__drop_value(llmcache *c, uint32_t i) {
    llmcache__entry *e = &c->ents[i];
    if (!e->blob) return;
    llmcache__slot_of(c, i)->blob = NULL;
    if (c->path) LLMCACHE__LIST_UNLINK(c, i, vprev, vnext, val_head, val_tail);
    c->bytes -= llmcache__blob_cost(llmcache__blob_size(e));
    LLMCACHE_FREE(e->blob);
    e->blob = NULL;
}

/* Gives entry i (which has none) the value blob made by llmcache__make_blob for
 * the entry's current fields; fills the blob's header from them. */
static void llmcache__set_value(llmcache *c, uint32_t i, unsigned char *blob) {
    llmcache__entry *e = &c->ents[i];
    llmcache__blobhdr h;
    h.key = e->key;
    h.created_ms = e->created_ms;
    h.expires_ms = e->expires_ms;
    h.len = e->len;
    h.flags = e->flags;
    memcpy(blob, &h, sizeof h);
    e->blob = blob;
    llmcache__slot_of(c, i)->blob = blob;
    c->bytes += llmcache__blob_cost(llmcache__blob_size(e));
    if (c->path) LLMCACHE__LIST_PUSH(c, i, vprev, vnext, val_head, val_tail);
}

static uint64_t llmcache__pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* The least recently used entry other than keep (NIL if none); stale records at
 * the front of the queue are dropped on the way. */
static uint32_t llmcache__lru_oldest(llmcache *c, uint32_t keep) {
    while (c->lru_len) {
        uint64_t rec = c->lru[c->lru_head];
        if (llmcache__lru_current(c, rec)) {
            uint32_t i = (uint32_t)(rec >> 32);
            return i == keep ? LLMCACHE__NIL : i;   /* keep is the newest: it is alone */
        }
        c->lru_head = (c->lru_head + 1) % c->lru_cap;
        c->lru_len--;
    }
    return LLMCACHE__NIL;
}

/* Removes entry i from the table and the lists; frees its value. */
static void llmcache__remove(llmcache *c, uint32_t i) {
    llmcache__entry *e = &c->ents[i];
    size_t hole, j;
    llmcache__drop_value(c, i);
    hole = (size_t)(llmcache__slot_of(c, i) - c->slots);
    /* backward-shift deletion: pull later members of the cluster into the hole */
    for (j = (hole + 1) & c->slot_mask; c->slots[j].tag_idx; j = (j + 1) & c->slot_mask) {
        size_t home = (size_t)(c->slots[j].tag_idx >> 32) & c->slot_mask;
        /* move j to hole unless its home lies cyclically in (hole, j] */
        if (((j - home) & c->slot_mask) >= ((j - hole) & c->slot_mask)) {
            c->slots[hole] = c->slots[j];
            hole = j;
        }
    }
    c->slots[hole].tag_idx = 0;
    c->slots[hole].blob = NULL;
    c->bytes -= LLMCACHE__ENTRY_CHARGE(c);
    if (c->path) c->live_bytes -= llmcache__pad8(e->rec_len);
    e->flags = 0;
    e->vnext = c->free_head;
    c->free_head = i;
    c->count--;
}

static int llmcache__expired(const llmcache__entry *e, int64_t now) {
    return e->expires_ms != 0 && now >= e->expires_ms;
}

/* An unused entry index, growing the array when needed; NIL when out of memory. */
static uint32_t llmcache__alloc_entry(llmcache *c) {
    uint32_t i;
    if (c->free_head != LLMCACHE__NIL) {
        i = c->free_head;
        c->free_head = c->ents[i].vnext;
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

/* The entry for key, created (most recently used, no value) when absent; NIL when
 * out of memory. *created tells which. */
static uint32_t llmcache__upsert(llmcache *c, const llmcache_key *key, int *created) {
    uint32_t i = llmcache__find(c, key);
    uint64_t h;
    size_t slot;
    int found;
    *created = 0;
    if (i != LLMCACHE__NIL) return i;
    if ((c->count + 1) * 2 > c->slot_mask + 1 || !c->slots) {
        if (llmcache__table_grow(c) != LLMCACHE_OK) return LLMCACHE__NIL;
    }
    if (llmcache__lru_reserve(c) != LLMCACHE_OK) return LLMCACHE__NIL;
    i = llmcache__alloc_entry(c);
    if (i == LLMCACHE__NIL) return LLMCACHE__NIL;
    memset(&c->ents[i], 0, sizeof c->ents[i]);
    c->ents[i].key = *key;
    c->ents[i].flags = LLMCACHE__E_USED;
    h = llmcache__hash(c, key);
    slot = llmcache__probe(c, key, h, &found);
    c->slots[slot].tag_idx = (uint64_t)(uint32_t)(h >> 32) << 32 | ((uint64_t)i + 1);
    c->slots[slot].blob = NULL;
    c->count++;
    llmcache__touch(c, i);
    c->bytes += LLMCACHE__ENTRY_CHARGE(c);
    *created = 1;
    return i;
}

/* A value blob: header (filled by llmcache__set_value), [meta], bytes, NUL. NULL
 * when out of memory. */
static unsigned char *llmcache__make_blob(const void *data, size_t len, const llmcache_meta *meta) {
    size_t at = LLMCACHE__BLOB_HDR + (meta ? sizeof(llmcache_meta) : 0);
    unsigned char *blob = (unsigned char *)LLMCACHE_MALLOC(at + len + 1);
    if (!blob) return NULL;
    if (meta) memcpy(blob + LLMCACHE__BLOB_HDR, meta, sizeof *meta);
    if (len) memcpy(blob + at, data, len);
    blob[at + len] = 0;
    return blob;
}

/* Whether a value of blob_size bytes may be held in memory next to an entry. A
 * log-backed cache keeps values larger than a quarter of max_bytes on disk only. */
static int llmcache__value_fits(const llmcache *c, size_t blob_size) {
    size_t cost = llmcache__blob_cost(blob_size);
    return c->path ? cost <= c->max_bytes / 4 : cost + LLMCACHE__ENTRY_COST <= c->max_bytes;
}

static int64_t llmcache__expiry(const llmcache *c, int64_t now, int64_t ttl_ms) {
    if (ttl_ms == 0) ttl_ms = c->ttl_ms;
    if (ttl_ms <= 0) return 0;
    if (now > INT64_MAX - ttl_ms) return INT64_MAX;
    return now + ttl_ms;
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

/* Fills out with a copy of a value held in memory. */
static int llmcache__copy_out(const unsigned char *blob, llmcache_value *out) {
    llmcache__blobhdr h;
    size_t meta_size;
    char *p;
    memcpy(&h, blob, sizeof h);
    meta_size = h.flags & LLMCACHE__E_META ? sizeof(llmcache_meta) : 0;
    p = (char *)LLMCACHE_MALLOC((size_t)h.len + 1);
    if (!p) return LLMCACHE_ENOMEM;
    memcpy(p, blob + LLMCACHE__BLOB_HDR + meta_size, (size_t)h.len + 1);
    out->data = p;
    out->len = h.len;
    out->created_ms = h.created_ms;
    out->expires_ms = h.expires_ms;
    if (meta_size) memcpy(&out->meta, blob + LLMCACHE__BLOB_HDR, sizeof out->meta);
    return LLMCACHE_OK;
}

/* >>record (the log's byte format; docs/FORMAT.md is the reference) -----------------
 * File header, 64 bytes: "LLMCACHE", u32 version, u32 header size, u64 file id,
 * i64 created ms, 28 reserved zero bytes, u32 CRC-32C of bytes 0..59.
 * Record, 8-byte aligned, zero-padded to a multiple of 8:
 *   0 u32 magic 0xABC41ED7   4 u32 CRC-32C of bytes 8..len   8 u32 len
 *  12 u8 type (1 put, 2 delete)  13 u8 reason (delete: 0 user, 1 evicted, 2 purged)
 *  14 u16 flags (bit 0: meta present)   16 u64 seq   24 key[32]
 *  56 i64 created ms   64 i64 expires ms (0 never)   72 u32 value len   76 u32 meta len
 *  80 meta (0 or 64 bytes)   then the value. */
#define LLMCACHE__FILE_MAGIC   "LLMCACHE"
#define LLMCACHE__FILE_VERSION 1u
#define LLMCACHE__HDR_SIZE     64u
#define LLMCACHE__REC_MAGIC    0xABC41ED7u
#define LLMCACHE__REC_HDR      80u
#define LLMCACHE__META_SIZE    64u
#define LLMCACHE__REC_MAX      ((uint64_t)LLMCACHE__REC_HDR + LLMCACHE__META_SIZE + LLMCACHE_MAX_VALUE)
enum { LLMCACHE__R_PUT = 1, LLMCACHE__R_DEL = 2 };
enum { LLMCACHE__WHY_USER = 0, LLMCACHE__WHY_EVICT = 1, LLMCACHE__WHY_PURGE = 2 };

typedef struct llmcache__record {
    unsigned type, reason, flags;
    uint32_t len, value_len, meta_len;
    uint64_t seq;
    llmcache_key key;
    int64_t created_ms, expires_ms;
    const unsigned char *meta, *value;
} llmcache__record;

static void llmcache__meta_encode(unsigned char *p, const llmcache_meta *m) {
    memcpy(p, m->schema_hash, 32);
    llmcache__st32(p + 32, (uint32_t)m->status);
    llmcache__st32(p + 36, m->flags);
    llmcache__st64(p + 40, (uint64_t)m->latency_ms);
    llmcache__st64(p + 48, (uint64_t)m->prompt_tokens);
    llmcache__st64(p + 56, (uint64_t)m->completion_tokens);
}

static LLMCACHE__MAYBE_UNUSED void llmcache__meta_decode(const unsigned char *p, llmcache_meta *m) {
    memcpy(m->schema_hash, p, 32);
    m->status = (int32_t)llmcache__ld32(p + 32);
    m->flags = llmcache__ld32(p + 36);
    m->latency_ms = (int64_t)llmcache__ld64(p + 40);
    m->prompt_tokens = (int64_t)llmcache__ld64(p + 48);
    m->completion_tokens = (int64_t)llmcache__ld64(p + 56);
}

static LLMCACHE__MAYBE_UNUSED uint64_t llmcache__rec_size(size_t value_len, int has_meta) {
    return llmcache__pad8((uint64_t)LLMCACHE__REC_HDR + (has_meta ? LLMCACHE__META_SIZE : 0) + value_len);
}

/* Writes a whole record (header, meta, value, padding, checksum) at p; returns its
 * unpadded length. */
static LLMCACHE__MAYBE_UNUSED uint32_t llmcache__rec_encode(unsigned char *p, unsigned type, unsigned reason,
                                                            uint64_t seq, const llmcache_key *key,
                                                            int64_t created_ms, int64_t expires_ms,
                                                            const llmcache_meta *meta, const void *value,
                                                            size_t value_len) {
    uint32_t meta_len = meta ? LLMCACHE__META_SIZE : 0;
    uint32_t len = (uint32_t)(LLMCACHE__REC_HDR + meta_len + value_len);
    llmcache__st32(p, LLMCACHE__REC_MAGIC);
    llmcache__st32(p + 8, len);
    p[12] = (unsigned char)type;
    p[13] = (unsigned char)reason;
    p[14] = (unsigned char)(meta ? 1 : 0);
    p[15] = 0;
    llmcache__st64(p + 16, seq);
    memcpy(p + 24, key->bytes, 32);
    llmcache__st64(p + 56, (uint64_t)created_ms);
    llmcache__st64(p + 64, (uint64_t)expires_ms);
    llmcache__st32(p + 72, (uint32_t)value_len);
    llmcache__st32(p + 76, meta_len);
    if (meta) llmcache__meta_encode(p + LLMCACHE__REC_HDR, meta);
    if (value_len) memcpy(p + LLMCACHE__REC_HDR + meta_len, value, value_len);
    memset(p + len, 0, (size_t)(llmcache__pad8(len) - len));
    llmcache__st32(p + 4, llmcache__crc32c(0, p + 8, len - 8));
    return len;
}

/* Decodes the record at p if it is intact and fits in avail bytes (padding
 * included); returns 1 and fills r, else 0. Never reads past p + avail. */
static int llmcache__rec_check(const unsigned char *p, uint64_t avail, llmcache__record *r) {
    uint32_t len;
    if (avail < LLMCACHE__REC_HDR || llmcache__ld32(p) != LLMCACHE__REC_MAGIC) return 0;
    len = llmcache__ld32(p + 8);
    r->type = p[12]; r->reason = p[13]; r->flags = (unsigned)p[14] | (unsigned)p[15] << 8;
    r->value_len = llmcache__ld32(p + 72);
    r->meta_len = llmcache__ld32(p + 76);
    if (len < LLMCACHE__REC_HDR || (uint64_t)len > LLMCACHE__REC_MAX || llmcache__pad8(len) > avail) return 0;
    if ((r->type != LLMCACHE__R_PUT && r->type != LLMCACHE__R_DEL) ||
        (r->meta_len != 0 && r->meta_len != LLMCACHE__META_SIZE) ||
        (uint64_t)LLMCACHE__REC_HDR + r->meta_len + r->value_len != len ||
        (r->type == LLMCACHE__R_DEL && r->value_len) || r->flags != (r->meta_len ? 1u : 0u))
        return 0;
    if (llmcache__ld32(p + 4) != llmcache__crc32c(0, p + 8, len - 8)) return 0;
    r->len = len;
    r->seq = llmcache__ld64(p + 16);
    memcpy(r->key.bytes, p + 24, 32);
    r->created_ms = (int64_t)llmcache__ld64(p + 56);
    r->expires_ms = (int64_t)llmcache__ld64(p + 64);
    r->meta = r->meta_len ? p + LLMCACHE__REC_HDR : NULL;
    r->value = p + LLMCACHE__REC_HDR + r->meta_len;
    return 1;
}

static LLMCACHE__MAYBE_UNUSED void llmcache__hdr_encode(unsigned char *p, uint64_t file_id, int64_t created_ms) {
    memset(p, 0, LLMCACHE__HDR_SIZE);
    memcpy(p, LLMCACHE__FILE_MAGIC, 8);
    llmcache__st32(p + 8, LLMCACHE__FILE_VERSION);
    llmcache__st32(p + 12, LLMCACHE__HDR_SIZE);
    llmcache__st64(p + 16, file_id);
    llmcache__st64(p + 24, (uint64_t)created_ms);
    llmcache__st32(p + 60, llmcache__crc32c(0, p, 60));
}

/* LLMCACHE_OK and the file id, or ENOTCACHE / EVERSION / ECORRUPT. */
static LLMCACHE__MAYBE_UNUSED int llmcache__hdr_check(const unsigned char *p, size_t n, uint64_t *file_id) {
    if (n < 8 || memcmp(p, LLMCACHE__FILE_MAGIC, 8) != 0) return LLMCACHE_ENOTCACHE;
    if (n < LLMCACHE__HDR_SIZE) return LLMCACHE_ECORRUPT;
    if (llmcache__ld32(p + 8) != LLMCACHE__FILE_VERSION) return LLMCACHE_EVERSION;
    if (llmcache__ld32(p + 60) != llmcache__crc32c(0, p, 60) || llmcache__ld32(p + 12) != LLMCACHE__HDR_SIZE)
        return LLMCACHE_ECORRUPT;
    *file_id = llmcache__ld64(p + 16);
    return LLMCACHE_OK;
}

/* The first intact record at an 8-aligned offset in [off, limit), or limit. */
static uint64_t llmcache__resync(const unsigned char *map, uint64_t off, uint64_t limit) {
    llmcache__record r;
    for (off = llmcache__pad8(off); off + LLMCACHE__REC_HDR <= limit; off += 8)
        if (llmcache__ld32(map + off) == LLMCACHE__REC_MAGIC && llmcache__rec_check(map + off, limit - off, &r))
            return off;
    return limit;
}

static int llmcache__all_zero(const unsigned char *p, uint64_t n) {
    while (n--) if (*p++) return 0;
    return 1;
}

/* Walks records in map[from, to): on_record for each intact one, on_damage for
 * each run of other bytes (zero_tail tells a run of zeros reaching `to`, which is
 * preallocated space, not damage). Returns the end of the last intact record. */
typedef struct llmcache__walker {
    void (*on_record)(void *ctx, uint64_t off, const llmcache__record *r);
    void (*on_damage)(void *ctx, uint64_t off, uint64_t len, int zero_tail);
    void *ctx;
} llmcache__walker;

static LLMCACHE__MAYBE_UNUSED uint64_t llmcache__walk(const unsigned char *map, uint64_t from, uint64_t to,
                                                const llmcache__walker *w) {
    uint64_t off = from, good_end = from;
    while (off < to) {
        llmcache__record r;
        uint64_t next;
        if (llmcache__rec_check(map + off, to - off, &r)) {
            if (w->on_record) w->on_record(w->ctx, off, &r);
            off += llmcache__pad8(r.len);
            good_end = off;
            continue;
        }
        next = llmcache__resync(map, off + 8, to);
        if (w->on_damage) w->on_damage(w->ctx, off, next - off, next == to && llmcache__all_zero(map + off, to - off));
        off = next;
    }
    return good_end;
}

/* >>log (the log file behind the table: open, recover, catch up, append, compact) -- */
#ifdef LLMCACHE__FILES
#define LLMCACHE__GROW_MIN ((uint64_t)1 << 20)
#define LLMCACHE__MAP_MIN  ((uint64_t)256 << 20)
#define LLMCACHE__COMPACT_MIN ((uint64_t)1 << 20)

#ifdef LLMCACHE_TEST_HOOKS
/* Tests crash the process at numbered points (see tests/test_log.c). */
#  define LLMCACHE__TEST_POINT(c, n) do { if ((c)->test_point) (c)->test_point((c)->test_ctx, (n)); } while (0)
#else
#  define LLMCACHE__TEST_POINT(c, n) ((void)0)
#endif

/* Makes sure the mapping covers [0, need). */
static int llmcache__log_map(llmcache *c, uint64_t need) {
    uint64_t len = c->map_len > LLMCACHE__MAP_MIN ? c->map_len : LLMCACHE__MAP_MIN;
    unsigned char *m;
    size_t got;
    int rc;
    if (c->map && need <= c->map_len) return LLMCACHE_OK;
    while (len < need) len *= 2;
    if ((uint64_t)(size_t)len != len) return LLMCACHE_ENOMEM;
    got = (size_t)len;
    rc = llmcache__f_map(c->fd, &got, 1, &m);
    if (rc != LLMCACHE_OK) return rc;
    if (got < need) { llmcache__f_unmap(m, got); return LLMCACHE_EIO; }   /* Win32: the file is shorter */
    llmcache__f_unmap(c->map, c->map_len);
    c->map = m;
    c->map_len = got;
    return LLMCACHE_OK;
}

/* Holds the bounds in this process only, writing no records (load and catch-up):
 * values leave memory first, then the least recently used entries other than
 * keep; slack entries over the bounds are let be. */
static void llmcache__log_trim(llmcache *c, uint32_t keep, size_t slack) {
    for (;;) {
        uint32_t victim;
        if (c->bytes > c->max_bytes && c->val_tail != LLMCACHE__NIL) {
            llmcache__drop_value(c, c->val_tail);
            continue;
        }
        if (c->count <= c->max_entries + slack) return;
        victim = llmcache__lru_oldest(c, keep);
        if (victim == LLMCACHE__NIL) return;
        llmcache__remove(c, victim);
        c->st.evictions++;
    }
}

/* Applies one record to the index (load and catch-up). */
static void llmcache__apply(void *ctx, uint64_t off, const llmcache__record *r) {
    llmcache *c = (llmcache *)ctx;
    uint32_t i;
    int created;
    if (c->loading) c->st.records_recovered++;
    if (r->type == LLMCACHE__R_DEL) {
        i = llmcache__find(c, &r->key);
        if (i != LLMCACHE__NIL) llmcache__remove(c, i);
        return;
    }
    if (r->expires_ms && llmcache__now(c) >= r->expires_ms) {
        i = llmcache__find(c, &r->key);
        if (i != LLMCACHE__NIL) llmcache__remove(c, i);
        return;
    }
    i = llmcache__upsert(c, &r->key, &created);
    if (i == LLMCACHE__NIL) return;   /* out of memory: the entry stays on disk only */
    if (!created) {
        llmcache__drop_value(c, i);
        c->live_bytes -= llmcache__pad8(c->ents[i].rec_len);
        llmcache__touch(c, i);
    }
    c->ents[i].off = off;
    c->ents[i].rec_len = r->len;
    c->ents[i].len = r->value_len;
    c->ents[i].flags = LLMCACHE__E_USED | (r->meta_len ? LLMCACHE__E_META : 0);
    c->ents[i].created_ms = r->created_ms;
    c->ents[i].expires_ms = r->expires_ms;
    c->live_bytes += llmcache__pad8(r->len);
    /* bounds hold locally, with one entry of slack: the writer's own eviction
       arrives as a delete record right after its put */
    llmcache__log_trim(c, i, 1);
}

static void llmcache__count_skip(void *ctx, uint64_t off, uint64_t len, int zero_tail) {
    llmcache *c = (llmcache *)ctx;
    (void)off; (void)len;
    if (!zero_tail) c->st.records_skipped++;
}

/* Applies the records in [from, to) of the current log. */
static uint64_t llmcache__log_apply_range(llmcache *c, uint64_t from, uint64_t to) {
    llmcache__walker w;
    uint64_t end;
    w.on_record = llmcache__apply;
    w.on_damage = llmcache__count_skip;
    w.ctx = c;
    end = llmcache__walk(c->map, from, to, &w);
    llmcache__log_trim(c, LLMCACHE__NIL, 0);   /* a range ends where a writer's operation did */
    return end;
}

/* Forgets every entry (before a reload). */
static void llmcache__clear(llmcache *c) {
    uint32_t i;
    for (i = 0; i < c->ents_top; i++) LLMCACHE_FREE(c->ents[i].blob);
    c->ents_top = 0;
    c->free_head = c->val_head = c->val_tail = LLMCACHE__NIL;
    c->lru_head = c->lru_len = 0;
    if (c->slots) memset(c->slots, 0, (c->slot_mask + 1) * sizeof(llmcache__slot));
    c->count = 0;
    c->bytes = 0;
    c->live_bytes = 0;
}

/* Opens path, checks its header and returns the file id. */
static int llmcache__log_open_file(const char *path, llmcache__fd *fd, uint64_t *file_id, uint64_t *size) {
    unsigned char hdr[LLMCACHE__HDR_SIZE];
    int rc = llmcache__f_open(path, 0, fd);
    if (rc != LLMCACHE_OK) return rc;
    rc = llmcache__f_size(*fd, size);
    if (rc == LLMCACHE_OK)
        rc = *size < LLMCACHE__HDR_SIZE ? LLMCACHE_ECORRUPT : llmcache__f_pread(*fd, hdr, sizeof hdr, 0);
    if (rc == LLMCACHE_OK) rc = llmcache__hdr_check(hdr, sizeof hdr, file_id);
    if (rc != LLMCACHE_OK) { llmcache__f_close(*fd); *fd = LLMCACHE__NOFD; }
    return rc;
}

/* Re-reads the log at path from scratch: after another process compacted it.
 * The caller holds the writer lock. */
static int llmcache__log_reload(llmcache *c) {
    llmcache__fd fd;
    uint64_t id, size, end = llmcache__load_acquire(&c->shm->end);
    int rc = llmcache__log_open_file(c->path, &fd, &id, &size);
    if (rc != LLMCACHE_OK) return rc;
    if (id != c->shm->gen || size < end) { llmcache__f_close(fd); return LLMCACHE_ECORRUPT; }
    llmcache__f_unmap(c->map, c->map_len);
    llmcache__f_close(c->fd);
    c->map = NULL; c->map_len = 0;
    c->fd = fd;
    llmcache__clear(c);
    c->gen = 0;
    rc = llmcache__log_map(c, end);
    if (rc != LLMCACHE_OK) return rc;
    llmcache__log_apply_range(c, LLMCACHE__HDR_SIZE, end);
    c->gen = id;
    c->end = end;
    c->st.reloads++;
    return LLMCACHE_OK;
}

/* Brings the index up to the committed end of the log; the caller holds the
 * writer lock (so the generation cannot change under it). */
static int llmcache__log_catch_up_locked(llmcache *c) {
    uint64_t end = c->shm->end;
    int rc;
    if (c->shm->gen != c->gen || end < c->end) return llmcache__log_reload(c);
    if (end == c->end) return LLMCACHE_OK;
    rc = llmcache__log_map(c, end);
    if (rc != LLMCACHE_OK) return rc;
    llmcache__log_apply_range(c, c->end, end);
    c->end = end;
    return LLMCACHE_OK;
}

/* When the file cannot be cut at the committed end (Win32 shrinks no file that a
 * process maps), the intact records a dead writer left past it lose their magic
 * instead, so that no later recovery takes them for committed ones. */
static void llmcache__log_void_tail(llmcache__fd fd, uint64_t from, uint64_t size) {
    llmcache__record r;
    unsigned char *m;
    size_t n = (size_t)size;
    if ((uint64_t)n != size || llmcache__f_map(fd, &n, 1, &m) != LLMCACHE_OK) return;
    while (from < n && llmcache__rec_check(m + from, n - from, &r)) {
        memset(m + from, 0, 4);
        from += llmcache__pad8(r.len);
    }
    llmcache__f_unmap(m, n);
}

/* After a writer died holding the lock: drop what it left uncommitted beyond the
 * end, or finish the switch to a compacted file it had already renamed in place. */
static void llmcache__log_heal(llmcache *c) {
    llmcache__fd fd;
    uint64_t id, size;
    llmcache__f_unlink(c->tmp_path);
    if (llmcache__log_open_file(c->path, &fd, &id, &size) != LLMCACHE_OK) return;
    /* a compacted file whose switch is unfinished: not yet published, or its
       generation published but not its end (which still is the old file's) */
    if (id != c->shm->gen || size < c->shm->end) {
        unsigned char *m;
        size_t n = (size_t)size;
        if (llmcache__f_map(fd, &n, 0, &m) == LLMCACHE_OK) {
            llmcache__walker w;
            uint64_t end;
            memset(&w, 0, sizeof w);
            end = llmcache__walk(m, LLMCACHE__HDR_SIZE, n, &w);
            llmcache__f_unmap(m, n);
            llmcache__f_truncate(fd, end);
            c->shm->alloc = c->shm->synced_end = end;
            llmcache__store_release(&c->shm->gen, id);
            llmcache__store_release(&c->shm->end, end);
        }
    } else if (size > c->shm->end) {
        if (llmcache__f_truncate(fd, c->shm->end) != LLMCACHE_OK) llmcache__log_void_tail(fd, c->shm->end, size);
        c->shm->alloc = c->shm->end;
    }
    llmcache__f_close(fd);
}

static int llmcache__log_lock(llmcache *c) {
    int rc = llmcache__pmutex_lock(&c->shm->mu, c->shm_fd);
    if (rc == LLMCACHE_ECORRUPT) {
        llmcache__log_heal(c);
        llmcache__pmutex_consistent(&c->shm->mu);
        rc = LLMCACHE_OK;
    }
    if (rc == LLMCACHE_OK) {
        rc = llmcache__log_catch_up_locked(c);
        if (rc != LLMCACHE_OK) llmcache__pmutex_unlock(&c->shm->mu, c->shm_fd);
    }
    return rc;
}

static void llmcache__log_unlock(llmcache *c) { llmcache__pmutex_unlock(&c->shm->mu, c->shm_fd); }

/* Cheap check before every operation: two loads from the shared page when
 * nothing changed; else apply what other processes committed. */
static int llmcache__log_refresh(llmcache *c) {
    uint64_t g1 = llmcache__load_acquire(&c->shm->gen);
    uint64_t end = llmcache__load_acquire(&c->shm->end);
    uint64_t g2 = llmcache__load_acquire(&c->shm->gen);
    int rc;
    if (g1 == c->gen && g2 == g1 && end == c->end) return LLMCACHE_OK;
    if (g1 == c->gen && g2 == g1 && end > c->end) {
        rc = llmcache__log_map(c, end);
        if (rc != LLMCACHE_OK) return rc;
        llmcache__log_apply_range(c, c->end, end);
        c->end = end;
        return LLMCACHE_OK;
    }
    rc = llmcache__log_lock(c);   /* the generation changed: reload under the lock */
    if (rc == LLMCACHE_OK) llmcache__log_unlock(c);
    return rc;
}

/* Appends one record at *wend (the caller holds the writer lock and publishes
 * the new end later); *off gets its offset. */
static int llmcache__log_append(llmcache *c, uint64_t *wend, unsigned type, unsigned reason, const llmcache_key *key,
                                int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta,
                                const void *data, size_t len, uint64_t *off, uint32_t *rec_len) {
    uint64_t size = llmcache__rec_size(len, meta != NULL), need = *wend + size;
    uint64_t seq = c->shm->last_seq + 1;
    int rc;
    if (need > c->shm->alloc) {
        uint64_t grow = c->shm->alloc / 8;
        if (grow < LLMCACHE__GROW_MIN) grow = LLMCACHE__GROW_MIN;
        if (grow < need - c->shm->alloc) grow = need - c->shm->alloc;
        rc = llmcache__f_allocate(c->fd, c->shm->alloc, grow);
        if (rc != LLMCACHE_OK && grow > need - c->shm->alloc)
            rc = llmcache__f_allocate(c->fd, c->shm->alloc, need - c->shm->alloc);
        if (rc != LLMCACHE_OK) return rc;
        rc = llmcache__f_size(c->fd, &c->shm->alloc);
        if (rc != LLMCACHE_OK) return rc;
        if (c->shm->alloc < need) return LLMCACHE_EIO;
    }
    rc = llmcache__log_map(c, need);
    if (rc != LLMCACHE_OK) return rc;
    *rec_len = llmcache__rec_encode(c->map + *wend, type, reason, seq, key, created_ms, expires_ms, meta, data, len);
    c->shm->last_seq = seq;
    *off = *wend;
    *wend = need;
    return LLMCACHE_OK;
}

/* Makes the log durable up to end. */
static int llmcache__log_sync_to(llmcache *c, uint64_t end) {
    uint64_t from = c->shm->synced_end < end ? c->shm->synced_end : end;
    int rc = llmcache__f_msync(c->fd, c->map, from, end - from);
    if (rc != LLMCACHE_OK) return rc;
    if (end > c->shm->synced_end) c->shm->synced_end = end;
    c->shm->last_sync_ms = llmcache__system_clock_ms();
    c->dirty = 0;
    return LLMCACHE_OK;
}

/* Commits everything appended up to wend: durable first if the mode asks, then
 * visible to every process. */
static int llmcache__log_publish(llmcache *c, uint64_t wend) {
    int rc = LLMCACHE_OK;
    if (wend == c->end) return LLMCACHE_OK;
    c->dirty = 1;
    if (c->fsync_mode == LLMCACHE_FSYNC_ALWAYS ||
        (c->fsync_mode == LLMCACHE_FSYNC_INTERVAL && llmcache__system_clock_ms() - c->shm->last_sync_ms >= 1000))
        rc = llmcache__log_sync_to(c, wend);
    if (rc != LLMCACHE_OK) return rc;
    LLMCACHE__TEST_POINT(c, 5);   /* written, not yet committed */
    llmcache__store_release(&c->shm->end, wend);
    c->end = wend;
    return LLMCACHE_OK;
}

/* Appends a delete record for entry i (when possible) and removes it. */
static void llmcache__log_drop(llmcache *c, uint64_t *wend, uint32_t i, unsigned reason) {
    uint64_t off;
    uint32_t rl;
    llmcache__entry *e = &c->ents[i];
    llmcache__log_append(c, wend, LLMCACHE__R_DEL, reason, &e->key, llmcache__now(c), 0, NULL, NULL, 0, &off, &rl);
    llmcache__remove(c, i);
}

/* Holds the bounds after a write: values leave memory for max_bytes (they stay
 * on disk); entries leave the cache for max_entries, with a delete record so that
 * every process and the next open agree. */
static void llmcache__log_bound(llmcache *c, uint64_t *wend, uint32_t keep) {
    while (c->bytes > c->max_bytes && c->val_tail != LLMCACHE__NIL) llmcache__drop_value(c, c->val_tail);
    while (c->count > c->max_entries) {
        uint32_t victim = llmcache__lru_oldest(c, keep);
        if (victim == LLMCACHE__NIL) break;
        llmcache__log_drop(c, wend, victim, LLMCACHE__WHY_EVICT);
        c->st.evictions++;
    }
}

/* Reads entry i's value from its record, checksum verified; on damage the entry
 * is dropped and LLMCACHE_MISS returned. */
static int llmcache__log_read(llmcache *c, uint32_t i, llmcache_value *out, unsigned char **blob_out) {
    llmcache__entry *e = &c->ents[i];
    llmcache__record r;
    llmcache_meta meta;
    if (e->off + llmcache__pad8(e->rec_len) > c->end ||
        !llmcache__rec_check(c->map + e->off, c->end - e->off, &r) || r.len != e->rec_len ||
        r.type != LLMCACHE__R_PUT || memcmp(r.key.bytes, e->key.bytes, 32) != 0) {
        llmcache__remove(c, i);
        c->st.records_skipped++;
        return LLMCACHE_MISS;
    }
    memset(&meta, 0, sizeof meta);
    if (r.meta) llmcache__meta_decode(r.meta, &meta);
    *blob_out = llmcache__make_blob(r.value, r.value_len, r.meta ? &meta : NULL);
    if (!*blob_out) return LLMCACHE_ENOMEM;
    if (out) {
        out->data = (char *)LLMCACHE_MALLOC((size_t)r.value_len + 1);
        if (!out->data) { LLMCACHE_FREE(*blob_out); *blob_out = NULL; return LLMCACHE_ENOMEM; }
        memcpy(out->data, r.value, r.value_len);
        out->data[r.value_len] = 0;
        out->len = r.value_len;
        out->created_ms = r.created_ms;
        out->expires_ms = r.expires_ms;
        out->meta = meta;
    }
    c->st.cold_reads++;
    return LLMCACHE_OK;
}

/* Writes the live entries, least recently used first, to a new file and swaps
 * it in. The caller holds c->mu and the writer lock. */
static int llmcache__log_compact_locked(llmcache *c) {
    unsigned char hdr[LLMCACHE__HDR_SIZE];
    llmcache__buf b = {NULL, 0, 0, 0};
    llmcache__fd fd;
    uint64_t *new_off = NULL, id = llmcache__f_random64(), pos = LLMCACHE__HDR_SIZE, wrote = 0;
    unsigned char *m = NULL;
    int64_t now = llmcache__now(c);
    uint32_t i;
    size_t n, q, m_len = 0;
    int rc;
    llmcache__f_unlink(c->tmp_path);
    rc = llmcache__f_open(c->tmp_path, LLMCACHE__F_CREATE, &fd);
    if (rc != LLMCACHE_OK) return rc;
    new_off = (uint64_t *)LLMCACHE_MALLOC(((size_t)c->ents_top + 1) * sizeof(uint64_t));
    if (!new_off) { rc = LLMCACHE_ENOMEM; goto fail; }
    llmcache__hdr_encode(hdr, id, now);
    llmcache__buf_put(&b, hdr, sizeof hdr);
    for (n = 0, q = c->lru_head; n < c->lru_len; n++, q = (q + 1) % c->lru_cap) {
        llmcache__entry *e;
        llmcache__record r;
        if (!llmcache__lru_current(c, c->lru[q])) continue;
        i = (uint32_t)(c->lru[q] >> 32);
        e = &c->ents[i];
        if (llmcache__expired(e, now)) { llmcache__remove(c, i); c->st.expirations++; continue; }
        if (!llmcache__rec_check(c->map + e->off, c->end - e->off, &r) || r.len != e->rec_len) {
            llmcache__remove(c, i);
            c->st.records_skipped++;
            continue;
        }
        new_off[i] = pos;
        llmcache__buf_put(&b, c->map + e->off, (size_t)llmcache__pad8(r.len));
        pos += llmcache__pad8(r.len);
        if (b.len >= ((size_t)1 << 20)) {
            if (b.oom) { rc = LLMCACHE_ENOMEM; goto fail; }
            rc = llmcache__f_pwrite(fd, b.p, b.len, wrote);
            if (rc != LLMCACHE_OK) goto fail;
            wrote += b.len;
            b.len = 0;
        }
    }
    if (b.oom) { rc = LLMCACHE_ENOMEM; goto fail; }
    rc = llmcache__f_pwrite(fd, b.p, b.len, wrote);
    LLMCACHE__TEST_POINT(c, 1);
    if (rc == LLMCACHE_OK) rc = llmcache__f_sync(fd);
    LLMCACHE__TEST_POINT(c, 2);
    m_len = (size_t)(pos > LLMCACHE__MAP_MIN ? pos : LLMCACHE__MAP_MIN);
    if (rc == LLMCACHE_OK) rc = llmcache__f_map(fd, &m_len, 1, &m);
    if (rc != LLMCACHE_OK) goto fail;
    /* let go of the old file first (Win32 replaces no file this process maps or has
       open); when the replace fails (Win32: another process maps it), take it back */
    llmcache__f_unmap(c->map, c->map_len);
    llmcache__f_close(c->fd);
    c->map = NULL;
    c->map_len = 0;
    rc = llmcache__f_replace(c->tmp_path, c->path);
    if (rc != LLMCACHE_OK) {
        uint64_t old_id, old_size;
        if (llmcache__log_open_file(c->path, &c->fd, &old_id, &old_size) != LLMCACHE_OK || old_id != c->gen ||
            llmcache__log_map(c, c->end) != LLMCACHE_OK)
            c->gen = 0;   /* the next operation reloads the log */
        goto fail;
    }
    LLMCACHE__TEST_POINT(c, 3);
    /* the new file is in place: switch to it */
    c->fd = fd;
    c->map = m;
    c->map_len = m_len;
    for (i = 0; i < c->ents_top; i++) if (c->ents[i].flags & LLMCACHE__E_USED) c->ents[i].off = new_off[i];
    c->live_bytes = pos - LLMCACHE__HDR_SIZE;
    c->shm->alloc = c->shm->synced_end = pos;
    c->shm->last_sync_ms = llmcache__system_clock_ms();
    llmcache__store_release(&c->shm->gen, id);
    LLMCACHE__TEST_POINT(c, 4);
    llmcache__store_release(&c->shm->end, pos);
    c->gen = id;
    c->end = pos;
    c->st.compactions++;
    llmcache__buf_free(&b);
    LLMCACHE_FREE(new_off);
    return LLMCACHE_OK;
fail:
    llmcache__f_unmap(m, m_len);
    llmcache__f_close(fd);
    llmcache__f_unlink(c->tmp_path);
    llmcache__buf_free(&b);
    LLMCACHE_FREE(new_off);
    return rc;
}

/* Compacts when dead records outweigh live ones in a file past 1 MiB. After a
 * failure (on Win32, another process that has the log open), tries again once
 * the log has grown by what a compaction copies, so retries cost O(1) per byte. */
static void llmcache__log_maybe_compact(llmcache *c) {
    uint64_t dead = c->end - LLMCACHE__HDR_SIZE - c->live_bytes;
    if (c->end < LLMCACHE__COMPACT_MIN || dead <= c->live_bytes || c->end < c->compact_after) return;
    if (llmcache__log_lock(c) != LLMCACHE_OK) return;
    dead = c->end - LLMCACHE__HDR_SIZE - c->live_bytes;
    if (c->end >= LLMCACHE__COMPACT_MIN && dead > c->live_bytes && llmcache__log_compact_locked(c) != LLMCACHE_OK)
        c->compact_after = c->end + (c->live_bytes > LLMCACHE__COMPACT_MIN ? c->live_bytes : LLMCACHE__COMPACT_MIN);
    llmcache__log_unlock(c);
}

#if !defined(LLMCACHE_NO_THREADS)
/* LLMCACHE_FSYNC_INTERVAL: a thread per handle syncs twice a second when this
 * handle wrote, so at most about a second of writes is ever at risk. */
static void llmcache__flusher_main(void *arg) {
    llmcache *c = (llmcache *)arg;
    llmcache__lock(&c->mu);
    while (!c->stopping) {
        llmcache__cond_timedwait(&c->flusher_cv, &c->mu, 500);
        if (!c->stopping && c->dirty && c->fd != LLMCACHE__NOFD) {
            llmcache__fd fd = llmcache__f_dup(c->fd);
            c->dirty = 0;
            llmcache__unlock(&c->mu);
            if (fd != LLMCACHE__NOFD) {
                if (llmcache__f_sync(fd) != LLMCACHE_OK) { llmcache__lock(&c->mu); c->dirty = 1; c->st.errors++; llmcache__unlock(&c->mu); }
                llmcache__f_close(fd);
            }
            llmcache__lock(&c->mu);
        }
    }
    llmcache__unlock(&c->mu);
}
#endif

/* First opener of a log (no other handle has it): recover the file, cut off a
 * torn tail, and (re)build the shared page from it. */
static int llmcache__log_open_alone(llmcache *c, uint64_t size) {
    unsigned char hdr[LLMCACHE__HDR_SIZE];
    uint64_t id = 0, end;
    int rc;
    if (size >= LLMCACHE__HDR_SIZE) {
        rc = llmcache__f_pread(c->fd, hdr, sizeof hdr, 0);
        if (rc == LLMCACHE_OK) rc = llmcache__hdr_check(hdr, sizeof hdr, &id);
        if (rc != LLMCACHE_OK) return rc;
    } else {   /* an empty file: a new log */
        id = llmcache__f_random64();
        llmcache__hdr_encode(hdr, id, llmcache__system_clock_ms());
        rc = llmcache__f_pwrite(c->fd, hdr, sizeof hdr, 0);
        if (rc == LLMCACHE_OK) rc = llmcache__f_truncate(c->fd, LLMCACHE__HDR_SIZE);
        if (rc == LLMCACHE_OK) rc = llmcache__f_sync(c->fd);
        if (rc != LLMCACHE_OK) return rc;
        size = LLMCACHE__HDR_SIZE;
    }
    rc = llmcache__log_map(c, size);
    if (rc != LLMCACHE_OK) return rc;
    end = llmcache__log_apply_range(c, LLMCACHE__HDR_SIZE, size);
    {   /* the sequence number continues from the last intact record */
        uint64_t last = 0, off = LLMCACHE__HDR_SIZE;
        llmcache__record r;
        while (off < end) {
            if (llmcache__rec_check(c->map + off, end - off, &r)) { last = r.seq; off += llmcache__pad8(r.len); }
            else off = llmcache__resync(c->map, off + 8, end);
        }
        c->shm->last_seq = last;
    }
    if (end < size) {
        c->st.bytes_truncated = size - end;
        llmcache__f_unmap(c->map, c->map_len);   /* Win32 shrinks no mapped file */
        c->map = NULL;
        c->map_len = 0;
        rc = llmcache__f_truncate(c->fd, end);
        if (rc == LLMCACHE_OK) rc = llmcache__f_sync(c->fd);
        if (rc == LLMCACHE_OK) rc = llmcache__log_map(c, end);
        if (rc != LLMCACHE_OK) return rc;
    }
    rc = llmcache__pmutex_init(&c->shm->mu);
    if (rc != LLMCACHE_OK) return rc;
    memcpy(c->shm->magic, LLMCACHE__SHM_MAGIC, 8);
    c->shm->version = 1;
    c->shm->mutex_size = (uint32_t)sizeof(llmcache__pmutex);
    c->shm->alloc = c->shm->synced_end = end;
    c->shm->last_sync_ms = llmcache__system_clock_ms();
    llmcache__store_release(&c->shm->gen, id);
    llmcache__store_release(&c->shm->end, end);
    c->gen = id;
    c->end = end;
    llmcache__f_unlink(c->tmp_path);
    return LLMCACHE_OK;
}

static char *llmcache__concat(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    char *p = (char *)LLMCACHE_MALLOC(n + m + 1);
    if (!p) return NULL;
    memcpy(p, a, n);
    memcpy(p + n, b, m + 1);
    return p;
}

static int llmcache__log_open(llmcache *c, const char *path) {
    unsigned char head[LLMCACHE__HDR_SIZE];
    uint64_t size, id;
    unsigned char *shm;
    size_t shm_len = LLMCACHE__SHM_SIZE;
    int rc, alone;
    c->path = llmcache__concat(path, "");
    c->shm_path = llmcache__concat(path, "-shm");
    c->tmp_path = llmcache__concat(path, ".compact");
    if (!c->path || !c->shm_path || !c->tmp_path) return LLMCACHE_ENOMEM;
    rc = llmcache__f_open(path, LLMCACHE__F_CREATE, &c->fd);
    if (rc != LLMCACHE_OK) return rc;
    /* never touch a file that is not ours: check before anything is written */
    rc = llmcache__f_size(c->fd, &size);
    if (rc != LLMCACHE_OK) return rc;
    if (size > 0) {
        size_t n = size < sizeof head ? (size_t)size : sizeof head;
        rc = llmcache__f_pread(c->fd, head, n, 0);
        if (rc != LLMCACHE_OK) return rc;
        /* only an empty file becomes a new log; anything else must be one already */
        rc = llmcache__hdr_check(head, n, &id);
        if (rc == LLMCACHE_ECORRUPT && n < sizeof head) rc = LLMCACHE_ENOTCACHE;
        if (rc != LLMCACHE_OK) return rc;
    }
    rc = llmcache__f_open(c->shm_path, LLMCACHE__F_CREATE, &c->shm_fd);
    if (rc != LLMCACHE_OK) return rc;
    c->loading = 1;
    rc = llmcache__f_lock(c->shm_fd, 0, 2, 1);   /* byte 0: one opener or closer at a time */
    if (rc != LLMCACHE_OK) return LLMCACHE_EIO;
    alone = llmcache__f_lock(c->shm_fd, 1, 2, 0) == LLMCACHE_OK;   /* byte 1: held shared while open */
    rc = llmcache__f_size(c->shm_fd, &size);
    if (rc == LLMCACHE_OK && size < LLMCACHE__SHM_SIZE) rc = llmcache__f_truncate(c->shm_fd, LLMCACHE__SHM_SIZE);
    if (rc == LLMCACHE_OK) rc = llmcache__f_map(c->shm_fd, &shm_len, 1, &shm);
    if (rc == LLMCACHE_OK && shm_len < LLMCACHE__SHM_SIZE) {
        llmcache__f_unmap(shm, shm_len);
        rc = LLMCACHE_EIO;
    }
    if (rc == LLMCACHE_OK) {
        c->shm = (llmcache__shm *)(void *)shm;
        if (alone) {
            memset(shm, 0, LLMCACHE__SHM_SIZE);
            rc = llmcache__f_size(c->fd, &size);
            if (rc == LLMCACHE_OK) rc = llmcache__log_open_alone(c, size);
            if (rc == LLMCACHE_OK) rc = llmcache__f_lock(c->shm_fd, 1, 1, 0);
        } else if (memcmp(c->shm->magic, LLMCACHE__SHM_MAGIC, 8) != 0 ||
                   c->shm->mutex_size != (uint32_t)sizeof(llmcache__pmutex)) {
            rc = LLMCACHE_EIO;
        } else {
            rc = llmcache__f_lock(c->shm_fd, 1, 1, 0);
            if (rc == LLMCACHE_OK) {
                c->gen = (uint64_t)-1;   /* forces a load of the current file */
                rc = llmcache__log_lock(c);
                if (rc == LLMCACHE_OK) llmcache__log_unlock(c);
            }
        }
    }
    llmcache__f_lock(c->shm_fd, 0, 0, 0);
    c->loading = 0;
#if !defined(LLMCACHE_NO_THREADS)
    if (rc == LLMCACHE_OK && c->fsync_mode == LLMCACHE_FSYNC_INTERVAL) {
        if (llmcache__cond_init(&c->flusher_cv) != 0) return LLMCACHE_ENOMEM;
        if (llmcache__thread_start(&c->flusher, llmcache__flusher_main, c) != 0) {
            llmcache__cond_destroy(&c->flusher_cv);
            return LLMCACHE_ENOMEM;
        }
        c->flusher_running = 1;
    }
#endif
    return rc;
}

static void llmcache__log_close(llmcache *c) {
#if !defined(LLMCACHE_NO_THREADS)
    if (c->flusher_running) {
        llmcache__lock(&c->mu);
        c->stopping = 1;
        llmcache__cond_broadcast(&c->flusher_cv);
        llmcache__unlock(&c->mu);
        llmcache__thread_join(&c->flusher);
        llmcache__cond_destroy(&c->flusher_cv);
    }
#endif
    if (c->shm && c->map) {
        llmcache__f_unmap(c->map, c->map_len);   /* Win32 shrinks no mapped file; the sync covers it */
        c->map = NULL;
        if (c->dirty && c->fsync_mode != LLMCACHE_FSYNC_NEVER) llmcache__f_sync(c->fd);
        if (llmcache__f_lock(c->shm_fd, 0, 2, 1) == LLMCACHE_OK) {
            /* the last one out gives back the preallocated space */
            if (llmcache__f_lock(c->shm_fd, 1, 2, 0) == LLMCACHE_OK && c->shm->gen == c->gen &&
                c->shm->alloc > c->shm->end) {
                if (llmcache__f_truncate(c->fd, c->shm->end) == LLMCACHE_OK) c->shm->alloc = c->shm->end;
            }
            /* let go of byte 1 before byte 0, or two handles closing at once
               could each see the other still open and neither truncate */
            llmcache__f_lock(c->shm_fd, 1, 0, 0);
            llmcache__f_lock(c->shm_fd, 0, 0, 0);
        }
    }
    llmcache__f_unmap(c->map, c->map_len);
    if (c->shm) llmcache__f_unmap((unsigned char *)(void *)c->shm, LLMCACHE__SHM_SIZE);
    llmcache__f_close(c->fd);
    llmcache__f_close(c->shm_fd);   /* releases the byte locks too */
}
#endif /* LLMCACHE__FILES */

/* >>api (open, close, get, put, del, stats, foreach, verify, repair) ----------------- */
static char *llmcache__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)LLMCACHE_MALLOC(n);
    if (p) memcpy(p, s, n);
    return p;
}

struct llmcache__callstate;
static void llmcache__callstate_free(struct llmcache__callstate *s);
#ifdef LLMCACHE_REDIS   /* wip/redis.h */
struct llmcache__redis;
static int  llmcache__redis_open(llmcache *c, const llmcache_redis_config *cfg);
static void llmcache__redis_free(struct llmcache__redis *r);
static int  llmcache__redis_get(llmcache *c, const llmcache_key *key, llmcache_value *out);
static int  llmcache__redis_put(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta, int rc);
static int  llmcache__redis_del(llmcache *c, const llmcache_key *key, int rc);
static void llmcache__redis_stats(llmcache *c, llmcache_stats *out);
#endif

LLMCACHE_API void llmcache_close(llmcache *c) {
    uint32_t i;
    if (!c) return;
    llmcache__callstate_free(c->calls);
#ifdef LLMCACHE_REDIS
    llmcache__redis_free(c->redis);
#endif
#ifdef LLMCACHE__FILES
    if (c->path) llmcache__log_close(c);
#endif
    for (i = 0; i < c->ents_top; i++) LLMCACHE_FREE(c->ents[i].blob);
    LLMCACHE_FREE(c->ents);
    LLMCACHE_FREE(c->slots);
    LLMCACHE_FREE(c->lru);
    LLMCACHE_FREE(c->ns);
    LLMCACHE_FREE(c->path);
    LLMCACHE_FREE(c->shm_path);
    LLMCACHE_FREE(c->tmp_path);
    llmcache__mutex_destroy(&c->mu);
    LLMCACHE_FREE(c);
}

LLMCACHE_API int llmcache_open(llmcache **out, const llmcache_config *cfg) {
    llmcache_config zero;
    llmcache *c;
    int rc = LLMCACHE_OK;
    if (!out) return LLMCACHE_EINVAL;
    *out = NULL;
    if (!cfg) { memset(&zero, 0, sizeof zero); cfg = &zero; }
    if (cfg->fsync < 0 || cfg->fsync > LLMCACHE_FSYNC_NEVER || cfg->ttl_ms < 0) return LLMCACHE_EINVAL;
    if (cfg->max_entries > 0x7ffffffeu || (cfg->path && !cfg->path[0])) return LLMCACHE_EINVAL;
#ifndef LLMCACHE__FILES
    if (cfg->path) return LLMCACHE_EUNSUPPORTED;
#endif
#ifndef LLMCACHE_REDIS
    if (cfg->redis) return LLMCACHE_EUNSUPPORTED;
#endif
    c = (llmcache *)LLMCACHE_MALLOC(sizeof *c);
    if (!c) return LLMCACHE_ENOMEM;
    memset(c, 0, sizeof *c);
    c->max_entries = LLMCACHE__DEF(cfg->max_entries, LLMCACHE_DEFAULT_MAX_ENTRIES);
    c->max_bytes = LLMCACHE__DEF(cfg->max_bytes, LLMCACHE_DEFAULT_MAX_BYTES);
    c->ttl_ms = cfg->ttl_ms;
    c->fsync_mode = cfg->fsync;
    c->clock = cfg->clock;
    c->clock_ctx = cfg->clock_ctx;
    c->on_event = cfg->on_event;
    c->event_ctx = cfg->event_ctx;
    c->free_head = c->val_head = c->val_tail = LLMCACHE__NIL;
    c->fd = c->shm_fd = LLMCACHE__NOFD;
    c->seed = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull ^ (uint64_t)llmcache__mono_us();
    c->ns = llmcache__strdup(cfg->ns ? cfg->ns : "");
    if (!c->ns || llmcache__mutex_init(&c->mu) != 0) {
        LLMCACHE_FREE(c->ns);
        LLMCACHE_FREE(c);
        return LLMCACHE_ENOMEM;
    }
#ifdef LLMCACHE__FILES
    if (cfg->path) {
        rc = llmcache__log_open(c, cfg->path);
        c->st.reloads = 0;
    }
#endif
#ifdef LLMCACHE_REDIS
    if (rc == LLMCACHE_OK && cfg->redis) rc = llmcache__redis_open(c, cfg->redis);
#endif
    if (rc != LLMCACHE_OK) { llmcache_close(c); return rc; }
    *out = c;
    return LLMCACHE_OK;
}

/* Brings a log-backed index up to date; no-op for a memory-only cache. */
static int llmcache__refresh(llmcache *c) {
#ifdef LLMCACHE__FILES
    if (c->path) return llmcache__log_refresh(c);
#else
    (void)c;
#endif
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_get(llmcache *c, const llmcache_key *key, llmcache_value *out) {
    unsigned char *blob = NULL;
    uint32_t i;
    int rc;
    if (out) memset(out, 0, sizeof *out);
    if (!c || !key || !out) return LLMCACHE_EINVAL;
    llmcache__lock(&c->mu);
    rc = llmcache__refresh(c);
    i = rc == LLMCACHE_OK ? llmcache__find_value(c, key, &blob) : LLMCACHE__NIL;
    if (rc == LLMCACHE_OK) rc = LLMCACHE_MISS;
    if (i != LLMCACHE__NIL && blob) {   /* the hot path: the slot and the value block only */
        int64_t expires_ms;
        memcpy(&expires_ms, blob + offsetof(llmcache__blobhdr, expires_ms), sizeof expires_ms);
        if (expires_ms && llmcache__now(c) >= expires_ms) {   /* no clock read without a TTL */
            llmcache__remove(c, i);
            c->st.expirations++;
        } else {
            rc = llmcache__copy_out(blob, out);
            if (rc == LLMCACHE_OK) llmcache__touch(c, i);
        }
    } else if (i != LLMCACHE__NIL) {
        llmcache__entry *e = &c->ents[i];
        if (llmcache__expired(e, llmcache__now(c))) {
            llmcache__remove(c, i);
            c->st.expirations++;
        } else {
#ifdef LLMCACHE__FILES
            rc = llmcache__log_read(c, i, out, &blob);
            if (rc == LLMCACHE_OK) {
                llmcache__touch(c, i);
                if (llmcache__value_fits(c, llmcache__blob_size(e))) {
                    llmcache__set_value(c, i, blob);
                    blob = NULL;
                    while (c->bytes > c->max_bytes && c->val_tail != LLMCACHE__NIL && c->val_tail != i)
                        llmcache__drop_value(c, c->val_tail);
                }
                LLMCACHE_FREE(blob);
            }
#endif
        }
    }
#ifdef LLMCACHE_REDIS   /* a local miss asks Redis; c->mu is dropped meanwhile */
    if (rc == LLMCACHE_MISS) rc = llmcache__redis_get(c, key, out);
#endif
    if (rc == LLMCACHE_OK) c->st.hits++;
    else if (rc == LLMCACHE_MISS) c->st.misses++;
    llmcache__unlock(&c->mu);
    return rc;
}

/* The put itself, for both kinds of cache; the caller holds c->mu. */
static int llmcache__put_locked(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta) {
    size_t blob_size = (meta ? sizeof(llmcache_meta) : 0) + len + 1;
    int fits = llmcache__value_fits(c, blob_size), created;
    unsigned char *blob = NULL;
    uint32_t i;
    if (!c->path && !fits) return LLMCACHE_ETOOBIG;
    if (fits && !(blob = llmcache__make_blob(data, len, meta))) return LLMCACHE_ENOMEM;
#ifdef LLMCACHE__FILES
    if (c->path) {
        uint64_t wend, off;
        uint32_t rec_len;
        int rc = llmcache__log_lock(c);
        if (rc != LLMCACHE_OK) { LLMCACHE_FREE(blob); return rc; }
        wend = c->end;
        rc = llmcache__log_append(c, &wend, LLMCACHE__R_PUT, 0, key, created_ms, expires_ms, meta, data, len,
                                  &off, &rec_len);
        if (rc == LLMCACHE_OK) {
            i = llmcache__upsert(c, key, &created);
            if (i == LLMCACHE__NIL) rc = LLMCACHE_ENOMEM;
        }
        if (rc != LLMCACHE_OK) { llmcache__log_unlock(c); LLMCACHE_FREE(blob); return rc; }
        if (!created) {
            llmcache__drop_value(c, i);
            c->live_bytes -= llmcache__pad8(c->ents[i].rec_len);
            llmcache__touch(c, i);
        }
        c->ents[i].off = off;
        c->ents[i].rec_len = rec_len;
        c->live_bytes += llmcache__pad8(rec_len);
        c->ents[i].len = (uint32_t)len;
        c->ents[i].flags = LLMCACHE__E_USED | (meta ? LLMCACHE__E_META : 0);
        c->ents[i].created_ms = created_ms;
        c->ents[i].expires_ms = expires_ms;
        if (blob) llmcache__set_value(c, i, blob);
        llmcache__log_bound(c, &wend, i);
        rc = llmcache__log_publish(c, wend);
        llmcache__log_unlock(c);
        if (rc != LLMCACHE_OK) {   /* not durable as asked: forget it */
            i = llmcache__find(c, key);
            if (i != LLMCACHE__NIL) llmcache__remove(c, i);
            return rc;
        }
        llmcache__log_maybe_compact(c);
        return LLMCACHE_OK;
    }
#endif
    i = llmcache__upsert(c, key, &created);
    if (i == LLMCACHE__NIL) { LLMCACHE_FREE(blob); return LLMCACHE_ENOMEM; }
    if (!created) { llmcache__drop_value(c, i); llmcache__touch(c, i); }
    c->ents[i].len = (uint32_t)len;
    c->ents[i].flags = LLMCACHE__E_USED | (meta ? LLMCACHE__E_META : 0);
    c->ents[i].created_ms = created_ms;
    c->ents[i].expires_ms = expires_ms;
    llmcache__set_value(c, i, blob);
    while (c->count > c->max_entries || c->bytes > c->max_bytes) {
        uint32_t victim = llmcache__lru_oldest(c, i);
        if (victim == LLMCACHE__NIL) break;
        llmcache__remove(c, victim);
        c->st.evictions++;
    }
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_put_at(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                 int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta) {
    int64_t now;
    int rc;
    if (!c || !key || (!data && len) || expires_ms < 0) return LLMCACHE_EINVAL;
    if (len > LLMCACHE_MAX_VALUE) return LLMCACHE_ETOOBIG;
    llmcache__lock(&c->mu);
    now = llmcache__now(c);
    rc = llmcache__refresh(c);
    if (rc == LLMCACHE_OK) {
        llmcache__sweep_some(c, now, 4);
        if (expires_ms && now >= expires_ms) {   /* already expired: drop any older value */
            uint32_t i = llmcache__find(c, key);
            llmcache__unlock(&c->mu);
            if (i != LLMCACHE__NIL) llmcache_del(c, key);
            return LLMCACHE_OK;
        }
        rc = llmcache__put_locked(c, key, data, len, created_ms, expires_ms, meta);
    }
    if (rc == LLMCACHE_OK) c->st.puts++;
    llmcache__unlock(&c->mu);
#ifdef LLMCACHE_REDIS   /* write through, outside c->mu */
    rc = llmcache__redis_put(c, key, data, len, created_ms, expires_ms, meta, rc);
#endif
    return rc;
}

LLMCACHE_API int llmcache_put_ex(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                 int64_t ttl_ms, const llmcache_meta *meta) {
    int64_t now;
    if (!c) return LLMCACHE_EINVAL;
    now = llmcache__now(c);
    return llmcache_put_at(c, key, data, len, now, llmcache__expiry(c, now, ttl_ms), meta);
}

LLMCACHE_API int llmcache_put(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                              int64_t ttl_ms) {
    return llmcache_put_ex(c, key, data, len, ttl_ms, NULL);
}

/* Deletes entry i for good (a delete record with a log); the caller holds c->mu. */
static int llmcache__delete_locked(llmcache *c, const llmcache_key *key, unsigned reason) {
    uint32_t i;
#ifdef LLMCACHE__FILES
    if (c->path) {
        uint64_t wend;
        int rc = llmcache__log_lock(c);
        if (rc != LLMCACHE_OK) return rc;
        i = llmcache__find(c, key);
        if (i == LLMCACHE__NIL || llmcache__expired(&c->ents[i], llmcache__now(c))) {
            llmcache__log_unlock(c);
            if (i != LLMCACHE__NIL) { llmcache__remove(c, i); c->st.expirations++; }
            return LLMCACHE_MISS;
        }
        wend = c->end;
        {   /* the entry goes only once its delete record is committed: a failed
               delete (full disk) leaves the cache as the file has it */
            uint64_t off;
            uint32_t rl;
            rc = llmcache__log_append(c, &wend, LLMCACHE__R_DEL, reason, key, llmcache__now(c), 0, NULL, NULL, 0,
                                      &off, &rl);
        }
        if (rc == LLMCACHE_OK) rc = llmcache__log_publish(c, wend);
        if (rc == LLMCACHE_OK) llmcache__remove(c, i);
        llmcache__log_unlock(c);
        if (rc != LLMCACHE_OK) return rc;
        llmcache__log_maybe_compact(c);
        return LLMCACHE_OK;
    }
#endif
    (void)reason;
    i = llmcache__find(c, key);
    if (i == LLMCACHE__NIL) return LLMCACHE_MISS;
    if (llmcache__expired(&c->ents[i], llmcache__now(c))) {
        llmcache__remove(c, i);
        c->st.expirations++;
        return LLMCACHE_MISS;
    }
    llmcache__remove(c, i);
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_del(llmcache *c, const llmcache_key *key) {
    int rc;
    if (!c || !key) return LLMCACHE_EINVAL;
    llmcache__lock(&c->mu);
    rc = llmcache__refresh(c);
    if (rc == LLMCACHE_OK) rc = llmcache__delete_locked(c, key, LLMCACHE__WHY_USER);
    if (rc == LLMCACHE_OK) c->st.deletes++;
    llmcache__unlock(&c->mu);
#ifdef LLMCACHE_REDIS
    rc = llmcache__redis_del(c, key, rc);
#endif
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
    llmcache__refresh(c);
    *out = c->st;
    out->entries = c->count;
    out->bytes = c->bytes;
    out->max_entries = c->max_entries;
    out->max_bytes = c->max_bytes;
    out->file_bytes = c->path ? c->end : 0;
    out->live_bytes = c->path ? c->live_bytes : 0;
    out->dead_bytes = c->path ? c->end - LLMCACHE__HDR_SIZE - c->live_bytes : 0;
#ifdef LLMCACHE_REDIS
    llmcache__redis_stats(c, out);
#endif
    llmcache__unlock(&c->mu);
}

LLMCACHE_API int llmcache_sweep(llmcache *c) {
    int rc;
    if (!c) return LLMCACHE_EINVAL;
    llmcache__lock(&c->mu);
    rc = llmcache__refresh(c);
    if (rc == LLMCACHE_OK) llmcache__sweep_some(c, llmcache__now(c), c->ents_top);
    llmcache__unlock(&c->mu);
    return rc;
}

#ifdef LLMCACHE__FILES
static int llmcache__log_sync_all(llmcache *c) { return llmcache__log_sync_to(c, c->end); }

/* Runs fn on a log-backed cache under both locks; OK without a path. */
static int llmcache__with_log(llmcache *c, int (*fn)(llmcache *c)) {
    int rc;
    if (!c->path) return LLMCACHE_OK;
    llmcache__lock(&c->mu);
    rc = llmcache__log_lock(c);
    if (rc == LLMCACHE_OK) {
        rc = fn(c);
        llmcache__log_unlock(c);
    }
    llmcache__unlock(&c->mu);
    return rc;
}
#endif

LLMCACHE_API int llmcache_compact(llmcache *c) {
    if (!c) return LLMCACHE_EINVAL;
#ifdef LLMCACHE__FILES
    return llmcache__with_log(c, llmcache__log_compact_locked);
#else
    return LLMCACHE_OK;
#endif
}

LLMCACHE_API int llmcache_sync(llmcache *c) {
    if (!c) return LLMCACHE_EINVAL;
#ifdef LLMCACHE__FILES
    return llmcache__with_log(c, llmcache__log_sync_all);
#else
    return LLMCACHE_OK;
#endif
}

LLMCACHE_API int llmcache_foreach(llmcache *c, int with_values,
                                  int (*fn)(void *ctx, const llmcache_entry_info *info), void *ctx) {
    uint32_t i;
    int rc, stop = 0;
    int64_t now;
    if (!c || !fn) return LLMCACHE_EINVAL;
    llmcache__lock(&c->mu);
    rc = llmcache__refresh(c);
    now = llmcache__now(c);
    for (i = 0; rc == LLMCACHE_OK && !stop && i < c->ents_top; i++) {
        llmcache__entry *e = &c->ents[i];
        llmcache_entry_info info;
        unsigned char *blob = NULL;
        if (!(e->flags & LLMCACHE__E_USED) || llmcache__expired(e, now)) continue;
        memset(&info, 0, sizeof info);
        info.key = e->key;
        info.len = e->len;
        info.created_ms = e->created_ms;
        info.expires_ms = e->expires_ms;
#ifdef LLMCACHE__FILES
        if (c->path && e->off + LLMCACHE__REC_HDR <= c->end) info.seq = llmcache__ld64(c->map + e->off + 16);
        if (!e->blob && c->path && ((e->flags & LLMCACHE__E_META) || with_values)) {
            int r2 = llmcache__log_read(c, i, NULL, &blob);
            if (r2 == LLMCACHE_MISS) continue;   /* damaged: dropped */
            if (r2 != LLMCACHE_OK) { rc = r2; break; }
        }
#endif
        {
            const unsigned char *b = e->blob ? e->blob : blob;
            size_t ms = e->flags & LLMCACHE__E_META ? sizeof(llmcache_meta) : 0;
            if (b && ms) memcpy(&info.meta, b + LLMCACHE__BLOB_HDR, sizeof info.meta);
            if (b && with_values) info.data = (const char *)b + LLMCACHE__BLOB_HDR + ms;
        }
        stop = fn(ctx, &info);
        LLMCACHE_FREE(blob);
    }
    llmcache__unlock(&c->mu);
    return rc != LLMCACHE_OK ? rc : stop;
}

#ifdef LLMCACHE__FILES
/* Reads a whole log read-only for verify and repair. */
typedef struct llmcache__scan {
    llmcache_verify_report *rep;
    void (*on_damage)(void *ctx, uint64_t offset, uint64_t len, const char *reason);
    void *ctx;
    llmcache *index;              /* a memory-only table to count live keys */
    llmcache__buf *copy;          /* repair: intact records go here */
} llmcache__scan;

static void llmcache__scan_record(void *ctx, uint64_t off, const llmcache__record *r) {
    llmcache__scan *s = (llmcache__scan *)ctx;
    int created;
    (void)off;
    s->rep->records++;
    if (r->seq > s->rep->last_seq) s->rep->last_seq = r->seq;
    if (r->type == LLMCACHE__R_PUT) {
        s->rep->puts++;
        llmcache__upsert(s->index, &r->key, &created);
    } else {
        uint32_t i = llmcache__find(s->index, &r->key);
        s->rep->deletes++;
        if (i != LLMCACHE__NIL) llmcache__remove(s->index, i);
    }
    if (s->copy) llmcache__buf_put(s->copy, (const unsigned char *)r->value - LLMCACHE__REC_HDR - r->meta_len,
                                   (size_t)llmcache__pad8(r->len));
}

static void llmcache__scan_damage(void *ctx, uint64_t off, uint64_t len, int zero_tail) {
    llmcache__scan *s = (llmcache__scan *)ctx;
    if (zero_tail) { s->rep->tail_bytes += len; return; }
    s->rep->damaged_regions++;
    s->rep->damaged_bytes += len;
    if (s->on_damage) s->on_damage(s->ctx, off, len, "not an intact record (bad magic, length or checksum)");
}

static int llmcache__scan_file(const char *path, llmcache_verify_report *rep,
                               void (*on_damage)(void *, uint64_t, uint64_t, const char *), void *ctx,
                               llmcache__buf *copy, uint64_t *file_id) {
    llmcache__fd fd;
    unsigned char hdr[LLMCACHE__HDR_SIZE], *m = NULL;
    llmcache__scan s;
    llmcache__walker w;
    llmcache_config cfg;
    uint64_t size = 0;
    size_t map_len;
    int rc = llmcache__f_open(path, LLMCACHE__F_RDONLY, &fd);
    memset(rep, 0, sizeof *rep);
    if (rc != LLMCACHE_OK) return rc;
    rc = llmcache__f_size(fd, &size);
    rep->file_bytes = size;
    if (rc == LLMCACHE_OK && size < LLMCACHE__HDR_SIZE) rc = LLMCACHE_ENOTCACHE;
    if (rc == LLMCACHE_OK) rc = llmcache__f_pread(fd, hdr, sizeof hdr, 0);
    if (rc == LLMCACHE_OK) rc = llmcache__hdr_check(hdr, sizeof hdr, file_id);
    if (rc == LLMCACHE_ECORRUPT) {   /* our magic and version, a damaged header: the records may be fine */
        rep->damaged_regions++;
        rep->damaged_bytes += LLMCACHE__HDR_SIZE;
        if (on_damage) on_damage(ctx, 0, LLMCACHE__HDR_SIZE, "file header checksum mismatch");
        rc = LLMCACHE_OK;
    }
    if (rc == LLMCACHE_OK && size > LLMCACHE__HDR_SIZE) {
        map_len = (size_t)size;
        rc = llmcache__f_map(fd, &map_len, 0, &m);
        size = map_len;   /* Win32: a file that shrank meanwhile maps shorter */
    }
    llmcache__f_close(fd);
    if (rc != LLMCACHE_OK) return rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_entries = 0x7ffffffe;
    cfg.max_bytes = (size_t)-1;
    rc = llmcache_open(&s.index, &cfg);
    if (rc != LLMCACHE_OK) { llmcache__f_unmap(m, (size_t)size); return rc; }
    s.rep = rep; s.on_damage = on_damage; s.ctx = ctx; s.copy = copy;
    w.on_record = llmcache__scan_record; w.on_damage = llmcache__scan_damage; w.ctx = &s;
    if (m) llmcache__walk(m, LLMCACHE__HDR_SIZE, size, &w);
    rep->live = s.index->count;
    llmcache_close(s.index);
    llmcache__f_unmap(m, (size_t)size);
    if (copy && copy->oom) return LLMCACHE_ENOMEM;
    return rep->damaged_regions ? LLMCACHE_ECORRUPT : LLMCACHE_OK;
}
#endif

LLMCACHE_API int llmcache_verify(const char *path, llmcache_verify_report *report,
                                 void (*on_damage)(void *ctx, uint64_t offset, uint64_t len, const char *reason),
                                 void *ctx) {
    llmcache_verify_report local;
#ifdef LLMCACHE__FILES
    uint64_t id;
    if (!path) return LLMCACHE_EINVAL;
    return llmcache__scan_file(path, report ? report : &local, on_damage, ctx, NULL, &id);
#else
    (void)path; (void)report; (void)on_damage; (void)ctx; (void)local;
    return LLMCACHE_EUNSUPPORTED;
#endif
}

LLMCACHE_API int llmcache_repair(const char *path, llmcache_verify_report *report) {
    llmcache_verify_report local;
#ifdef LLMCACHE__FILES
    llmcache__buf b = {NULL, 0, 0, 0};
    unsigned char hdr[LLMCACHE__HDR_SIZE];
    llmcache__fd fd;
    char *tmp;
    uint64_t id;
    int rc;
    if (!path) return LLMCACHE_EINVAL;
    if (!report) report = &local;
    llmcache__hdr_encode(hdr, llmcache__f_random64(), llmcache__system_clock_ms());
    llmcache__buf_put(&b, hdr, sizeof hdr);
    rc = llmcache__scan_file(path, report, NULL, NULL, &b, &id);
    if (rc != LLMCACHE_OK && rc != LLMCACHE_ECORRUPT) { llmcache__buf_free(&b); return rc; }
    if (rc == LLMCACHE_OK && report->tail_bytes == 0) { llmcache__buf_free(&b); return LLMCACHE_OK; }
    tmp = llmcache__concat(path, ".repair");
    if (!tmp) { llmcache__buf_free(&b); return LLMCACHE_ENOMEM; }
    rc = llmcache__f_open(tmp, LLMCACHE__F_CREATE, &fd);
    if (rc == LLMCACHE_OK) {
        rc = llmcache__f_truncate(fd, 0);
        if (rc == LLMCACHE_OK) rc = llmcache__f_pwrite(fd, b.p, b.len, 0);
        if (rc == LLMCACHE_OK) rc = llmcache__f_sync(fd);
        llmcache__f_close(fd);
        if (rc == LLMCACHE_OK) rc = llmcache__f_replace(tmp, path);
        if (rc != LLMCACHE_OK) llmcache__f_unlink(tmp);
    }
    LLMCACHE_FREE(tmp);
    llmcache__buf_free(&b);
    return rc;
#else
    (void)path; (void)report; (void)local;
    return LLMCACHE_EUNSUPPORTED;
#endif
}

#include "wip/redis.h"
#include "wip/call.h"

#endif /* LLMCACHE_IMPLEMENTATION */

/*
 * SPDX-License-Identifier: MIT
 *
 * Copyright (c) 2026 the llmcache authors
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy of
 * this software and associated documentation files (the "Software"), to deal in
 * the Software without restriction, including without limitation the rights to
 * use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of
 * the Software, and to permit persons to whom the Software is furnished to do so,
 * subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in all
 * copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS
 * FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
 * COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
 * IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
 * CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
 */
