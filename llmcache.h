/* llmcache.h - a response cache for LLM APIs, in one C header (see LLMCACHE_VERSION_*).
 *
 * llmcache_call answers a request from the cache or, on a miss, through your own
 * HTTP code (a transport), and stores the answer: SSE streams are replayed event
 * for event, concurrent identical calls make one provider call; llmcache_call_many
 * runs a batch of them with bounded concurrency and retries. Keys are SHA-256
 * over the RFC 8785 canonical form of the request JSON, the namespace, the endpoint
 * and the hash of the expected result's JSON schema. Entries live in a bounded LRU
 * with TTL in memory, optionally backed by a crash-safe append-only log file that
 * several processes share (docs/FORMAT.md) and by Redis (LLMCACHE_REDIS); values
 * may be compressed or encrypted at rest by a transform of yours (llmcache_config.
 * transform; examples/transform_zstd.c, examples/transform_sodium.c).
 *
 * Do this:
 *     #define LLMCACHE_IMPLEMENTATION
 * before you include this file in *one* C or C++ file to create the implementation.
 * Every other file includes it plainly.
 *
 * Example (examples/readme.c; my_http_post is your HTTP code, an llmcache_transport_fn):
 *     llmcache *cache;
 *     llmcache_config cfg = {0};                    // zero = defaults: bounded, in memory
 *     cfg.path = "build/readme.cache";              // optional: persist in a crash-safe log
 *     int rc = llmcache_open(&cache, &cfg);
 *     if (rc != LLMCACHE_OK) { fprintf(stderr, "%s\n", llmcache_result_string(rc)); return 1; }
 *
 *     llmcache_request req = {0};
 *     req.endpoint = "https://api.openai.com/v1/chat/completions";
 *     req.body = body; req.body_len = strlen(body);
 *     llmcache_response r;
 *     rc = llmcache_call(cache, &req, my_http_post, NULL, NULL, &r);  // a hit, or my_http_post
 *     if (rc == LLMCACHE_OK) printf("%s (%s)\n", r.body, r.from_cache ? "from the cache" : "fresh");
 *     else fprintf(stderr, "%s\n", llmcache_result_string(rc));
 *     llmcache_response_free(&r);                   // after an error too
 *     llmcache_close(cache);
 *
 * In C++, zero-initialize with llmcache_config cfg{}; and llmcache_request req{};
 * (= {0} warns there under -Wextra), or memset(&cfg, 0, sizeof cfg) in either language.
 * The plain key-value API: llmcache_key_for, llmcache_get, llmcache_put (ttl_ms
 * LLMCACHE_TTL_DEFAULT or LLMCACHE_TTL_NEVER), llmcache_del; llmcache_get_with
 * shows a hit to a callback without copying it.
 *
 * Conventions:
 *     results     LLMCACHE_OK (0), a positive outcome that is not an error
 *                 (LLMCACHE_MISS, LLMCACHE_STOP) or a negative LLMCACHE_E* code;
 *                 llmcache_result_string names each
 *     memory      a buffer the library returns is released with llmcache_free; an
 *                 llmcache_value with llmcache_value_free, an llmcache_response with
 *                 llmcache_response_free, a handle with llmcache_close
 *     threads     each function's comment says "Thread-safe" (it may run on several
 *                 threads at once, on one handle too; with LLMCACHE_NO_THREADS a
 *                 handle belongs to one thread at a time) or "Not thread-safe" and why
 *
 * Versions:
 *     library     LLMCACHE_VERSION_MAJOR, _MINOR, _PATCH below, llmcache_version()
 *                 for the compiled one; changes in CHANGELOG.md
 *     keys        "llmcache/key/v1", the domain string hashed into every key
 *     log file    format version 1 (docs/FORMAT.md); a newer file is LLMCACHE_EVERSION
 *                 (records may carry a transform id: "Transformed values" there)
 *     envelope    version 1, the value llmcache_call stores (docs/ENVELOPE.md); header
 *                 of 48 + request_len bytes (24-byte ones, written before, still read)
 *     path-shm    page version 1 (docs/FORMAT.md); machine-local, rebuilt from the log
 *     path-index  index snapshot version 1 (docs/FORMAT.md); a hint that makes an open
 *                 read only the log after it, ignored whole when it does not fit the log
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
 *     LLMCACHE_MAX_BODY      largest request body or schema a key is made of (default
 *                            64 MiB; more is LLMCACHE_ETOOBIG). A key parses the whole
 *                            body: measured, 10 ms and 3 bytes of memory per byte for
 *                            long strings (base64 images), up to 50 ms per MiB and 11
 *                            bytes per byte for dense small objects
 *     LLMCACHE_MAX_VALUE     largest value this build puts or loads (default 1 GiB; at most
 *                            4 GiB less 152 bytes, the file format's bound). An intact
 *                            larger record written by another build is kept on disk and
 *                            its get returns LLMCACHE_ETOOBIG
 *
 * What it does NOT do:
 *     - talk to a provider by itself: you pass your own HTTP call (a transport)
 *     - print anything: errors come back as result codes
 *     - keep global state: everything lives in the llmcache handle
 *     - depend on the process locale: "1.5" is 1.5 under any LC_NUMERIC
 *
 * License: MIT, at the end of this file.
 *
 * Sections (search for ">>name"):
 *     public part       >>results >>memory >>keys >>cache >>call-through >>accounting
 *                       >>batch >>curl transport
 *     implementation    >>platform >>files >>bytes >>sha256 >>crc32c >>buffer >>json
 *                       >>impl results >>impl keys >>table >>record >>transform >>log
 *                       >>index snapshot (inside >>log) >>cache core >>redis >>impl accounting
 *                       >>single-flight >>impl cache >>impl call-through >>redis single-flight
 *                       >>impl stats export >>impl batch >>impl curl transport
 */
/* The implementation uses POSIX 2008 (clock_gettime, pread, mmap, robust mutexes,
 * posix_fallocate), or Win32 on Windows (file handles, file mappings, LockFileEx,
 * SRW locks); strict -std=c99 hides the POSIX ones on glibc unless asked for before the
 * first system header. Include llmcache.h first in the implementation file, or
 * compile it with -D_DEFAULT_SOURCE (else it stops with an #error that says so). */
#if defined(LLMCACHE_IMPLEMENTATION) && defined(__linux__)
#  ifndef _POSIX_C_SOURCE
#    define _POSIX_C_SOURCE 200809L
#  endif
#  ifndef _LARGEFILE64_SOURCE
#    define _LARGEFILE64_SOURCE 1   /* pread64 & co: logs past 2 GiB on 32-bit systems, off_t unchanged */
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
#      define LLMCACHE_API static __attribute__((__unused__))
#    else
#      define LLMCACHE_API static
#    endif
#  else
#    define LLMCACHE_API extern
#  endif
#endif

/* The library's version, set here only (CHANGELOG.md says what each one changed);
 * LLMCACHE_VERSION_STRING is made of the numbers ("MAJOR.MINOR.PATCH"). */
#define LLMCACHE_VERSION_MAJOR 0
#define LLMCACHE_VERSION_MINOR 2
#define LLMCACHE_VERSION_PATCH 0
#define LLMCACHE__VERSION_TEXT_(x) #x
#define LLMCACHE__VERSION_TEXT(x) LLMCACHE__VERSION_TEXT_(x)
#define LLMCACHE_VERSION_STRING LLMCACHE__VERSION_TEXT(LLMCACHE_VERSION_MAJOR) "." \
    LLMCACHE__VERSION_TEXT(LLMCACHE_VERSION_MINOR) "." LLMCACHE__VERSION_TEXT(LLMCACHE_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* >>results ------------------------------------------------------------------
 * Every function that can fail returns an int: LLMCACHE_OK (0), a positive outcome
 * that is not an error (LLMCACHE_MISS, LLMCACHE_STOP), or one of the negative codes
 * below. */
enum {
    LLMCACHE_OK        =   0,
    LLMCACHE_MISS      =   1,  /* no live entry for the key (not an error) */
    LLMCACHE_STOP      =   2,  /* an llmcache_foreach callback asked to stop (not an error);
                                  llmcache_call_many: cancelled, some requests not made */
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
    LLMCACHE_EREJECTED = -11,  /* llmcache_call: the validate or parse callback refused the
                                  response, or a non-stream body is not JSON (see raw_body) */
    LLMCACHE_EUNSUPPORTED = -12,/* the feature was compiled out */
    LLMCACHE_ESYMLINK  = -13,  /* a file beside the log (path-shm, a temporary file), or
                                  the log under its resolved name, is a symbolic link:
                                  refused, nothing written through it */
    LLMCACHE_EREADONLY = -14,  /* a write (put, del, compact) on a handle opened read_only */
    LLMCACHE_EBUSY     = -15,  /* repair: another process (or handle) has the log open;
                                  nothing written */
    LLMCACHE_ENOENT    = -16,  /* no such file, or a directory on its path is missing */
    LLMCACHE_EACCES    = -17,  /* permission denied (or a read-only file system) */
    LLMCACHE_ENOTFILE  = -18,  /* the path names a directory, a device or another non-regular
                                  file: never a log */
    LLMCACHE_ETRANSFORM = -19  /* a stored value was written with a transform (llmcache_transform)
                                  whose id this handle was not given: the record is kept, its
                                  bytes never returned (a value whose decode fails, such as one
                                  failing authentication, is LLMCACHE_ECORRUPT) */
};

/* The name and a one-line description of a result code, as a static string; never
 * NULL (unknown codes get a generic text). Thread-safe. */
LLMCACHE_API const char *llmcache_result_string(int result);

/* The version of the compiled implementation, LLMCACHE_VERSION_STRING as it was
 * there (compare it with the header's to catch a stale build); a static string.
 * Thread-safe. */
LLMCACHE_API const char *llmcache_version(void);

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

/* As llmcache_canonicalize (release *out with llmcache_free); on LLMCACHE_EINVAL,
 * *err_offset (if not NULL) gets the byte offset of the first offending byte.
 * Thread-safe. */
LLMCACHE_API int llmcache_canonicalize_ex(const char *json, size_t len, char **out, size_t *out_len,
                                          size_t *err_offset);

/* Why JSON text was refused: llmcache_json_error.code. The values are stable. */
enum {
    LLMCACHE_JSON_OK         =  0,  /* no JSON error (success, or a result other than EINVAL) */
    LLMCACHE_JSON_EEMPTY     =  1,  /* no value: the input is empty or only whitespace */
    LLMCACHE_JSON_EBOM       =  2,  /* the input starts with a byte-order mark */
    LLMCACHE_JSON_ESYNTAX    =  3,  /* a character that cannot stand here */
    LLMCACHE_JSON_ETRUNCATED =  4,  /* the input ends inside a value */
    LLMCACHE_JSON_ETRAILING  =  5,  /* more than whitespace after the value */
    LLMCACHE_JSON_EUTF8      =  6,  /* an ill-formed UTF-8 sequence */
    LLMCACHE_JSON_ECONTROL   =  7,  /* an unescaped control character in a string */
    LLMCACHE_JSON_EESCAPE    =  8,  /* an invalid escape in a string */
    LLMCACHE_JSON_ESURROGATE =  9,  /* a \u escape of a surrogate that is not in a pair */
    LLMCACHE_JSON_EDUPLICATE = 10,  /* a member name that occurs twice in one object */
    LLMCACHE_JSON_ENUMBER    = 11,  /* a malformed number */
    LLMCACHE_JSON_ERANGE     = 12,  /* a number beyond the range of a double */
    LLMCACHE_JSON_EDEPTH     = 13   /* arrays and objects nested deeper than LLMCACHE_MAX_DEPTH */
};

/* Where and why JSON text was refused. */
typedef struct llmcache_json_error {
    size_t      offset;  /* byte offset of the first offending byte (as llmcache_canonicalize_ex) */
    int         code;    /* LLMCACHE_JSON_* */
    const char *reason;  /* llmcache_json_error_string(code): static, never NULL */
} llmcache_json_error;

/* As llmcache_canonicalize_ex (release *out with llmcache_free); *err (if not
 * NULL) is always filled: on LLMCACHE_EINVAL for refused JSON with its offset, code
 * and reason (a static string), otherwise with LLMCACHE_JSON_OK and offset 0.
 * Thread-safe. */
LLMCACHE_API int llmcache_canonicalize_err(const char *json, size_t len, char **out, size_t *out_len,
                                           llmcache_json_error *err);

/* A one-line description of an LLMCACHE_JSON_* code, such as "duplicate member
 * name"; never NULL (unknown codes get a generic text). Thread-safe. */
LLMCACHE_API const char *llmcache_json_error_string(int code);

/* Writes SHA-256(canonical(schema[0..len))) to out: the schema_hash part of a key
 * (32 zero bytes for a NULL schema). LLMCACHE_EINVAL for JSON that RFC 8785
 * refuses, LLMCACHE_ETOOBIG over LLMCACHE_MAX_BODY. Thread-safe. */
LLMCACHE_API int llmcache_schema_hash(const char *schema, size_t len, unsigned char out[32]);

/* Writes the key of req in namespace ns (NULL = "") to *out. LLMCACHE_EINVAL for a
 * body or schema that RFC 8785 refuses, LLMCACHE_ETOOBIG over LLMCACHE_MAX_BODY.
 * Thread-safe. */
LLMCACHE_API int llmcache_key_for(llmcache_key *out, const char *ns, const llmcache_request *req);

/* As llmcache_key_for, with the body pruned first: every JSON Pointer (RFC 6901) of
 * the NULL-terminated list ignore (may be NULL) that resolves in the body is removed
 * from it, in list order (a pointer that does not resolve is skipped; "/a/0" removes
 * the first item of the array "a"). With no pointers the key is llmcache_key_for's.
 * canonical (may be NULL) gets the canonical form of the pruned body that was hashed,
 * NUL-terminated, *canonical_len (may be NULL) bytes; release it with llmcache_free.
 * LLMCACHE_EINVAL also for a malformed pointer (not "/..." or "~" not followed by 0
 * or 1; the whole document "" cannot be ignored). Thread-safe. */
LLMCACHE_API int llmcache_key_for_ex(llmcache_key *out, const char *ns, const llmcache_request *req,
                                     const char *const *ignore, char **canonical, size_t *canonical_len);

/* Writes the key as 64 lowercase hex digits and a NUL into the caller's out.
 * Thread-safe. */
LLMCACHE_API void llmcache_key_hex(const llmcache_key *key, char out[65]);

/* Parses exactly 64 hex digits (either case) of hex[0..len) into *out;
 * LLMCACHE_EINVAL otherwise. Thread-safe. */
LLMCACHE_API int llmcache_key_parse(llmcache_key *out, const char *hex, size_t len);

/* Writes the plain SHA-256 of data[0..len) to out. Thread-safe. */
LLMCACHE_API void llmcache_sha256(const void *data, size_t len, unsigned char out[32]);

/* >>cache ---------------------------------------------------------------------*/
typedef struct llmcache llmcache;

enum {
    LLMCACHE_FSYNC_INTERVAL = 0,  /* sync the log about once a second (default) */
    LLMCACHE_FSYNC_ALWAYS   = 1,  /* sync before every put/del returns */
    LLMCACHE_FSYNC_NEVER    = 2   /* leave it to the operating system */
};

/* Time to live (ttl_ms) sentinels, the same in llmcache_put, llmcache_call_options
 * and llmcache_config: LLMCACHE_TTL_DEFAULT takes the config's ttl_ms (whose own
 * default is: never), LLMCACHE_TTL_NEVER never expires. A positive ttl_ms is a
 * time to live in milliseconds. */
enum {
    LLMCACHE_TTL_DEFAULT = 0,
    LLMCACHE_TTL_NEVER   = -1
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
    int64_t     command_timeout_ms;/* each command as a whole, reply included; 0 = 200 */
    int         breaker_failures;  /* consecutive failures that open the breaker; 0 = 3 */
    int64_t     breaker_cooldown_ms; /* how long it stays open; 0 = 5000 (each node has its own
                                      breaker: one failing node does not stop the others) */
    /* the deployment (docs/REDIS.md, "Deployments") */
    int         topology;          /* LLMCACHE_REDIS_SINGLE (0): the server at host:port;
                                      LLMCACHE_REDIS_CLUSTER: a Redis Cluster, found through the
                                      seed nodes (db must be 0); LLMCACHE_REDIS_SENTINEL: the
                                      master that the sentinels in nodes name master_name */
    const char *const *nodes;      /* NULL-terminated "host:port" list: the cluster's seed nodes
                                      or the sentinels (at most 64); NULL = host:port alone. With
                                      LLMCACHE_REDIS_SINGLE, nodes[0] replaces host:port */
    const char *master_name;       /* LLMCACHE_REDIS_SENTINEL: the master's name as the sentinels
                                      know it; NULL = "mymaster" */
} llmcache_redis_config;

/* llmcache_redis_config.topology */
enum { LLMCACHE_REDIS_SINGLE = 0, LLMCACHE_REDIS_CLUSTER = 1, LLMCACHE_REDIS_SENTINEL = 2 };

/* Progress of a long job over a file (verify, repair, compaction): done of total
 * units (bytes), told at most every few MiB with done rising, then once with
 * done == total when the job finishes. */
typedef void (*llmcache_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Prices of one model for the accounting of llmcache_call (see >>accounting), in
 * micro-dollars (millionths of a US dollar) per million tokens, so that $2.50 per
 * million tokens is 2500000. No price is built in: a model without one is counted
 * as "unpriced", never guessed. Each class is priced as given (0 = free):
 * input counts uncached input tokens only; provider-cached input read and Anthropic
 * cache writes (cache_creation_input_tokens, which Anthropic bills above the input
 * price: give that rate) have their own price. */
typedef struct llmcache_price {
    const char *model;            /* the request's "model" member, exactly ("" = absent) */
    int64_t input;                /* uncached input tokens; 0 .. 10^12 */
    int64_t output;               /* output (completion) tokens */
    int64_t cached_input;         /* provider-cached input tokens read */
    int64_t cache_write;          /* input tokens written to the provider's cache */
} llmcache_price;

/* A price table: n prices, one per model (a model twice is LLMCACHE_EINVAL). */
typedef struct llmcache_prices {
    const llmcache_price *models;
    size_t n;
} llmcache_prices;

#define LLMCACHE_DEFAULT_ACCT_ROWS 256u
/* What llmcache_call does with the cache (llmcache_config.mode): record once, replay
 * forever. "hit" is a live entry for the key; the transport is the provider. */
enum {
    LLMCACHE_MODE_NORMAL   = 0,  /* hit: serve it; miss: call the transport, store a good answer */
    LLMCACHE_MODE_RECORD   = 1,  /* always call the transport and store (refresh everything) */
    LLMCACHE_MODE_REPLAY   = 2,  /* hit: serve it; miss: never call, return LLMCACHE_MISS */
    LLMCACHE_MODE_NO_STORE = 3,  /* hit: serve it; miss: call the transport, store nothing */
    LLMCACHE_MODE_OFF      = 4   /* bypass the cache: always call, store nothing */
};

/* The mode named text: "normal", "record", "replay", "no-store" or "off" (NULL or ""
 * = LLMCACHE_MODE_NORMAL); LLMCACHE_EINVAL for anything else, which llmcache_open
 * refuses in turn, so cfg.mode = llmcache_mode_parse(getenv("LLMCACHE_MODE")); is
 * a complete setup. The library never reads the environment itself. Thread-safe. */
LLMCACHE_API int llmcache_mode_parse(const char *text);

/* The name of a mode as llmcache_mode_parse reads it ("no-store"), or "invalid";
 * a static string. Thread-safe. */
LLMCACHE_API const char *llmcache_mode_name(int mode);

/* Values transformed at rest (compressed, encrypted): llmcache_config.transform.
 * encode turns a value into the bytes stored in the log and in Redis, decode turns
 * them back; both write their output through llmcache_xform_write (or _reserve and
 * _commit) and return 0, or nonzero when they fail. key is the entry's key (an
 * encryption binds it as associated data, so a value cannot be moved to another
 * key). Memory holds plain values. docs/FORMAT.md: each record carries its
 * transform id; plain records (id 0) read back under any transform. The callbacks
 * may run on several threads at once (one handle used by several threads, or
 * several handles), each call with its own out. */
typedef struct llmcache_xform_out llmcache_xform_out;
typedef struct llmcache_transform {
    unsigned id;   /* 1..255, stored in each record written with it; 0 = no transform */
    int (*encode)(void *ctx, const llmcache_key *key, const void *in, size_t len, llmcache_xform_out *out);
    int (*decode)(void *ctx, const llmcache_key *key, const void *in, size_t len, llmcache_xform_out *out);
    void *ctx;     /* given to both */
} llmcache_transform;

/* Appends data[0..len) to a transform's output. LLMCACHE_OK, or LLMCACHE_ENOMEM
 * (the transform should then fail; the library fails the operation anyway).
 * Call only from inside encode or decode, with the out they were given.
 * Thread-safe for distinct outs (each call of encode or decode has its own). */
LLMCACHE_API int llmcache_xform_write(llmcache_xform_out *out, const void *data, size_t len);

/* Space for up to n more bytes at the end of a transform's output, to write into
 * directly (then llmcache_xform_commit says how many were written); NULL when out
 * of memory. The pointer is valid until the next call on out. From inside encode
 * or decode only. Thread-safe for distinct outs. */
LLMCACHE_API unsigned char *llmcache_xform_reserve(llmcache_xform_out *out, size_t n);

/* Adds n bytes, written into the space llmcache_xform_reserve gave (n at most what
 * was reserved), to a transform's output. From inside encode or decode only.
 * Thread-safe for distinct outs. */
LLMCACHE_API void llmcache_xform_commit(llmcache_xform_out *out, size_t n);

/* Zero-initialize, then set what you need: llmcache_config cfg = {0}; */
typedef struct llmcache_config {
    const char *path;        /* append-only log file; NULL = memory only */
    const char *ns;          /* namespace used for the keys of llmcache_call; NULL = "" */
    size_t      max_entries; /* 0 = LLMCACHE_DEFAULT_MAX_ENTRIES */
    size_t      max_bytes;   /* bytes of values held in memory, counted as allocated
                                (and, without a path, with their entries' bookkeeping);
                                0 = LLMCACHE_DEFAULT_MAX_BYTES. With a path, values
                                beyond it stay on disk only */
    int64_t     ttl_ms;      /* default time to live of puts and calls that pass
                                LLMCACHE_TTL_DEFAULT; 0 (LLMCACHE_TTL_DEFAULT) or
                                LLMCACHE_TTL_NEVER = entries never expire; other
                                negative values are LLMCACHE_EINVAL */
    int         fsync;       /* LLMCACHE_FSYNC_INTERVAL (0), _ALWAYS or _NEVER */
    int64_t   (*clock)(void *ctx); /* milliseconds since the Unix epoch; NULL = system clock */
    void       *clock_ctx;
    /* optional: told about hits, misses, stores and errors; called without locks
       held, from whichever thread made the call; NULL = silent */
    void      (*on_event)(void *ctx, const llmcache_event *ev);
    void       *event_ctx;
    const llmcache_redis_config *redis;  /* shared tier below memory and file; NULL = none */
    unsigned    file_mode;   /* POSIX permission bits (at most 0777) of the log and path-shm
                                when this open creates them, set as given (the umask does not
                                narrow them); 0 = 0600. Existing files keep theirs; compaction
                                and repair give the new file the log's mode and owner.
                                Ignored on Windows (files take the directory's ACL) */
    int         read_only;   /* 1: never write, create or lock anything for writing (with a
                                path only): no header on an empty file, no cut of a torn tail,
                                no path-shm, no flusher thread, no compaction. Gets read the
                                log, seeing other processes' appends when a live path-shm can
                                be read, else the file as it was at open. put, del and compact
                                return LLMCACHE_EREADONLY; llmcache_call answers but does not
                                store. Works on a file this process may only read */
    /* optional: told how far each compaction of this handle's log is (llmcache_compact
       and the automatic ones; bytes of records copied of the live bytes), called with
       the handle's locks held: it must not call into the cache; NULL = none */
    llmcache_progress_fn on_progress;
    void       *progress_ctx;
    /* prices for the money saved by llmcache_call (copied; NULL = none: money 0, every
       save "unpriced"); see llmcache_price */
    const llmcache_prices *prices;
    size_t      acct_max_rows; /* (namespace, model) rows of the accounting; 0 =
                                  LLMCACHE_DEFAULT_ACCT_ROWS, at most 1048576 */
    /* LLMCACHE_MODE_* (0 = normal): what llmcache_call does on a hit and on a miss;
       anything else is LLMCACHE_EINVAL at open (see llmcache_mode_parse) */
    int         mode;
    /* JSON Pointers (RFC 6901), NULL-terminated (NULL = none), removed from the body
       of every llmcache_call request before its key is made (e.g. "/user",
       "/metadata/user_id"): requests that differ only there share an entry. Pointers
       that do not resolve are skipped; a malformed one is LLMCACHE_EINVAL at open.
       Copied. With none the keys are llmcache_key_for's (see llmcache_key_for_ex) */
    const char *const *key_ignore;
    /* 1: do not keep the canonical request in stored answers (privacy; `llmcache
       explain --near` then cannot compare). Keeping it costs its canonical length in
       bytes per entry (docs/ENVELOPE.md) */
    int         omit_request;
    /* optional: values are stored in the log and in Redis as transform->encode made
       them (id 1..255 in each record), and read back through transform->decode;
       plain records (written without a transform) read back too, a record with
       another id is LLMCACHE_ETRANSFORM. Copied at open (ctx kept). NULL = plain */
    const llmcache_transform *transform;
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
    uint64_t redis_errors;        /* failed Redis commands (down, timeout, error reply, a
                                     reply over a bound or of the wrong type) and values
                                     that are not an intact record of their key */
    uint64_t redis_skipped;       /* Redis operations not tried because the breaker was open */
    uint64_t redis_breaker_opens; /* times the circuit breaker opened */
    uint64_t redis_breaker_open;  /* 1 while the breaker is open (or probing), else 0 */
    uint64_t redis_connects;      /* connections made to Redis */
    /* log file (cfg.path), continued */
    uint64_t torn_bytes;          /* read_only: bytes after the last intact record left in place
                                     (garbage or a torn write; a zero-filled tail is not counted) */
    uint64_t shm_rebuilds;        /* times this handle found the shared page (PATH-shm) not
                                     describing the log and rebuilt it from the file */
    /* accounting of llmcache_call, the sums of its rows (>>accounting) */
    uint64_t refreshes;           /* refresh calls that called the provider */
    uint64_t ttfe_saved_ms;       /* recorded time to first event of stream hits */
    uint64_t input_tokens_saved;  /* uncached input tokens; with the three below, never twice */
    uint64_t output_tokens_saved;
    uint64_t cached_input_tokens_saved;
    uint64_t cache_write_tokens_saved;
    uint64_t money_saved_microdollars;  /* at cfg.prices; rounded down once, not per call */
    uint64_t unpriced_saves;      /* saves of a model without a price */
    uint64_t acct_rows;           /* (namespace, model) rows in use, the other row not counted */
    uint64_t acct_folded;         /* calls counted in the other row */
    /* call-through, continued */
    uint64_t replay_misses;       /* LLMCACHE_MODE_REPLAY calls that found no answer (LLMCACHE_MISS,
                                     no transport call); also counted in misses */
    uint64_t retries;             /* transport calls repeated after a 429, a 5xx or a transport
                                     failure (llmcache_call_options.retries) */
    /* values transformed at rest (cfg.transform) */
    uint64_t transform_unknown;   /* reads of a record whose transform id this handle lacks
                                     (LLMCACHE_ETRANSFORM; from Redis: a miss) */
    uint64_t transform_failed;    /* reads whose decode failed: authentication, damaged data,
                                     or a length other than the record's (LLMCACHE_ECORRUPT;
                                     from Redis: a miss) */
    /* Redis tier, continued: cluster and sentinel deployments */
    uint64_t redis_moved;         /* -MOVED redirections followed (a slot has a new owner) */
    uint64_t redis_asked;         /* -ASK redirections followed (a slot being migrated) */
    uint64_t redis_topology_refreshes; /* slot maps read (CLUSTER SLOTS) or masters asked of
                                     the sentinels, successfully */
    uint64_t index_loaded;        /* bytes of the log the last load took from its index
                                     snapshot (PATH-index) instead of reading them: the
                                     snapshot's end less the 64-byte header; 0: the whole
                                     log was read */
    uint64_t index_writes;        /* index snapshots this handle wrote (compaction, close) */
} llmcache_stats;

/* Opens a cache. cfg may be NULL (memory only, default bounds); cfg, its strings
 * and *cfg->redis are copied (the ctx pointers and callbacks are kept). On
 * success *out is a handle to release with llmcache_close; on failure *out is NULL
 * and the result names the cause (LLMCACHE_EINVAL for a bad config, LLMCACHE_ENOENT,
 * _EACCES, _ENOTFILE, _ENOTCACHE, _EVERSION, _ESYMLINK for the file). A cfg->path
 * that is a symbolic link to a log (POSIX) is resolved here: path-shm and the
 * temporary files live beside the target. A link at path-shm fails with
 * LLMCACHE_ESYMLINK. Thread-safe: handles share nothing in the process, and
 * several may have one path open, in one process or in many. */
LLMCACHE_API int  llmcache_open(llmcache **out, const llmcache_config *cfg);

/* Releases the handle and everything it holds. NULL is allowed. Not thread-safe:
 * no other call on c may be running. */
LLMCACHE_API void llmcache_close(llmcache *c);

/* Looks key up. LLMCACHE_OK fills *out with an owned copy (release with
 * llmcache_value_free); LLMCACHE_MISS when absent or expired (out is zeroed).
 * A hit counts as a use for LRU. Thread-safe. */
LLMCACHE_API int  llmcache_get(llmcache *c, const llmcache_key *key, llmcache_value *out);

/* Stores a copy of data[0..len) under key, replacing any previous value.
 * ttl_ms: LLMCACHE_TTL_DEFAULT (0) = the config's ttl_ms, LLMCACHE_TTL_NEVER (or
 * any value < 0) = never expires, > 0 = expires that many ms from now. Thread-safe. */
LLMCACHE_API int  llmcache_put(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                               int64_t ttl_ms);

/* As llmcache_put, with metadata (may be NULL; copied) stored beside the value.
 * Thread-safe. */
LLMCACHE_API int  llmcache_put_ex(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                  int64_t ttl_ms, const llmcache_meta *meta);

/* As llmcache_put_ex with explicit times (for import and replication):
 * expires_ms is absolute (0 = never); an entry already expired is not stored
 * and LLMCACHE_OK is returned. Thread-safe. */
LLMCACHE_API int  llmcache_put_at(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                  int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta);

/* Removes key. LLMCACHE_OK, or LLMCACHE_MISS when it was absent. Thread-safe. */
LLMCACHE_API int  llmcache_del(llmcache *c, const llmcache_key *key);

/* Releases the copy llmcache_get returned and zeroes *v (so a second call does
 * nothing). NULL and zeroed values are fine. Thread-safe for distinct values. */
LLMCACHE_API void llmcache_value_free(llmcache_value *v);

/* Counters and sizes. Thread-safe. */
LLMCACHE_API void llmcache_stats_get(llmcache *c, llmcache_stats *out);

/* Drops every expired entry from memory now (puts also do this a few entries at a
 * time); an expired entry is already a miss, so this only frees memory sooner, and
 * writes nothing to the log. Thread-safe. */
LLMCACHE_API int  llmcache_sweep(llmcache *c);

/* Rewrites the log with the live entries only: expired, deleted and evicted
 * entries are dropped. Crash-safe (new file, fsync, rename, fsync directory); the
 * new file (path.compact- and 16 random hex digits, created exclusively, never
 * through a link) gets the log's mode and, where permitted, its owner.
 * OK without a path. Thread-safe. Puts also compact automatically once dead
 * records outweigh live ones (and the file exceeds 1 MiB). On Windows a file
 * that another handle or process has open cannot be replaced: then this returns
 * LLMCACHE_EIO and the log stays as it was (automatic compaction tries again
 * once the log has grown by what it would copy). */
LLMCACHE_API int  llmcache_compact(llmcache *c);

/* Makes every acknowledged write durable now (fsync). OK without a path or on a
 * read_only handle. Thread-safe. */
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

/* Calls fn for every live entry (in no particular order). fn returns 0 to go on,
 * LLMCACHE_STOP to stop early, or a negative LLMCACHE_E* code to stop with that
 * error (any other nonzero value stops too). llmcache_foreach returns LLMCACHE_OK
 * after the last entry, what fn returned when it stopped the walk, or its own error
 * reading the log. With with_values, info->data holds the value (read and
 * checksum-verified from the file when needed). A value stored with a transform
 * (llmcache_config.transform) that this handle cannot decode is listed without
 * with_values; with it the entry is skipped (counted in the stats) and the walk
 * goes on, then returns LLMCACHE_ETRANSFORM or LLMCACHE_ECORRUPT (the first such)
 * unless fn stopped it. Thread-safe, but it holds the
 * handle's lock throughout: fn must not call back into c, and other calls on c wait. */
LLMCACHE_API int  llmcache_foreach(llmcache *c, int with_values,
                                   int (*fn)(void *ctx, const llmcache_entry_info *info), void *ctx);

/* Looks key up as llmcache_get does, without copying the value: on a hit, calls
 * fn(ctx, info) once with info->data pointing at the value's info->len bytes
 * (followed by a NUL), its times, meta and key (info->seq is 0). The bytes are
 * the cache's own (pinned: the handle's lock is held during the call), valid only
 * until fn returns: copy what you keep. fn must not call into c (it would wait for
 * itself), and other calls on c wait until it returns, so keep it short. A value
 * read from the log is checksum-verified before fn sees it. Returns LLMCACHE_MISS
 * (fn not called) when absent or expired, LLMCACHE_OK when fn returned 0, else
 * what fn returned (use a negative code, or one of your own outside the
 * LLMCACHE_* range). A hit counts as a use for LRU and in the stats, as with
 * llmcache_get. Thread-safe. */
LLMCACHE_API int  llmcache_get_with(llmcache *c, const llmcache_key *key,
                                    int (*fn)(void *ctx, const llmcache_entry_info *info), void *ctx);

/* What llmcache_verify found in a log file. */
typedef struct llmcache_verify_report {
    uint64_t file_bytes;          /* size of the file */
    uint64_t records;             /* intact records (puts and deletes) */
    uint64_t puts, deletes;       /* intact records by kind */
    uint64_t live;                /* keys live at the end of the log (ignoring expiry) */
    uint64_t damaged_regions;     /* runs of bytes that are not intact records (a tail of zeros is not
                                     one), and a damaged file header (header_damaged) */
    uint64_t damaged_bytes;       /* bytes in those runs: a damaged tail included, a zeroed one not;
                                     the header's 64 when it is damaged */
    uint64_t tail_bytes;          /* bytes after the last intact record, zeros (preallocated space) or not */
    uint64_t last_seq;
    uint64_t header_damaged;      /* 1: the file header fails its checks but the records show the
                                     file is a log (also one damaged region, bytes 0..63) */
} llmcache_verify_report;

/* Walks the log at path read-only and reports every damaged region through
 * on_damage (may be NULL: offset, length, reason). Never modifies the file.
 * Returns LLMCACHE_OK when the file is clean, LLMCACHE_ECORRUPT when damage was
 * found (report filled), LLMCACHE_ENOTCACHE / LLMCACHE_EIO / LLMCACHE_EVERSION
 * when it cannot be read as a log. A file header that fails its checks (magic,
 * version, size or checksum) is damage, not a foreign file, when the records show
 * the file is a log: an intact record right after the header, or intact records
 * making up at least half of the bytes after it (a tail of zeros not counted);
 * report->header_damaged then says so. Without such records the file is not a log
 * (LLMCACHE_ENOTCACHE); LLMCACHE_EVERSION only for a header whose checksum is right.
 * Thread-safe. */
LLMCACHE_API int  llmcache_verify(const char *path, llmcache_verify_report *report,
                                  void (*on_damage)(void *ctx, uint64_t offset, uint64_t len,
                                                    const char *reason),
                                  void *ctx);

/* llmcache_verify's callbacks; zero-initialize. */
typedef struct llmcache_verify_options {
    void (*on_damage)(void *ctx, uint64_t offset, uint64_t len, const char *reason);  /* NULL = none */
    llmcache_progress_fn on_progress;   /* bytes of the file walked; NULL = none */
    void *ctx;                          /* given to both */
} llmcache_verify_options;

/* As llmcache_verify, with options (NULL = none). Thread-safe. */
LLMCACHE_API int  llmcache_verify_ex(const char *path, const llmcache_verify_options *opts,
                                     llmcache_verify_report *report);

/* Rewrites the log at path keeping every intact record (damaged regions and a
 * torn tail are dropped), then swaps the clean copy in (fsync, rename, fsync
 * directory), with the log's mode and owner; a path that is a link keeps pointing
 * at the log. A clean file, one with a tail of zeros (preallocated space) included,
 * is left as it is (LLMCACHE_OK, report->damaged_regions 0). No handle may have
 * the log open, in another process or (where byte locks belong to the open file,
 * as on Linux and Windows) in this one: LLMCACHE_EBUSY, nothing written; it
 * holds path-shm's open lock (making path-shm, with the log's mode and owner, when
 * missing) so that nobody opens the log until the repair is over. A damaged file
 * header (see llmcache_verify) is refused with LLMCACHE_ECORRUPT and
 * report->header_damaged set, nothing written (llmcache_repair_ex with force
 * rebuilds it); a file that is not a log is never modified. report may be NULL.
 * Thread-safe (it opens the file itself; an llmcache_open of the log waits for it). */
LLMCACHE_API int  llmcache_repair(const char *path, llmcache_verify_report *report);

/* llmcache_repair's options; zero-initialize. */
typedef struct llmcache_repair_options {
    int force;                          /* 1: also rebuild a log whose file header is damaged:
                                           a fresh header and its intact records */
    llmcache_progress_fn on_progress;   /* bytes of the file walked; NULL = none */
    void *ctx;
} llmcache_repair_options;

/* As llmcache_repair, with options (NULL = none). Thread-safe. */
LLMCACHE_API int  llmcache_repair_ex(const char *path, const llmcache_repair_options *opts,
                                     llmcache_verify_report *report);

/* >>call-through (llmcache_call, transports, streaming) -------------------------
 * Call-through: one function answers a provider request from the cache or, on a
 * miss, through the caller's own HTTP code (a "transport"), and stores the answer.
 *
 *     llmcache_response r;
 *     int rc = llmcache_call(c, &req, my_transport, my_ctx, NULL, &r);
 *     if (rc == LLMCACHE_OK) use(r.body, r.len, r.from_cache);
 *     llmcache_response_free(&r);          (also after an error: r may hold a body)
 *
 * What is stored is one byte string, the "envelope" (docs/ENVELOPE.md): the raw
 * response body exactly as received, the optional "model" bytes a parse callback
 * produced from it, and for a stream its events with their arrival times. Status,
 * latency, token usage and the schema hash go in the entry's llmcache_meta.
 * Failures are never stored: non-2xx statuses, transport errors, bodies refused by
 * validate/parse, non-JSON bodies, streams that end without their terminator. */

/* llmcache_meta.flags of an entry stored by llmcache_call */
#define LLMCACHE_META_ENVELOPE  0x1u  /* the value is a call envelope (docs/ENVELOPE.md) */
#define LLMCACHE_META_STREAM    0x2u  /* the response was an SSE stream; it holds chunks */
#define LLMCACHE_META_HAS_MODEL 0x4u  /* the envelope holds model bytes from a parse callback */

/* llmcache_call_options.replay_pace */
enum {
    LLMCACHE_REPLAY_INSTANT  = 0,  /* replay stored chunks at once (default) */
    LLMCACHE_REPLAY_RECORDED = 1   /* sleep so chunks arrive at their recorded offsets */
};

/* Where a transport writes what it receives; owned by the library, valid only
 * during the transport call (or the parse callback it is passed to). */
typedef struct llmcache_sink llmcache_sink;

/* Appends data[0..len) as it arrives from the provider: for a stream, exactly the
 * bytes received, in any pieces (the library splits them into SSE events itself).
 * The library copies the bytes. Returns LLMCACHE_OK, or LLMCACHE_ENOMEM /
 * LLMCACHE_ETOOBIG (over LLMCACHE_MAX_VALUE): then the transport should stop and
 * return a negative value. Not thread-safe: call it only from the thread running
 * the transport (or the parse callback the sink was given to). */
LLMCACHE_API int llmcache_sink_write(llmcache_sink *sink, const void *data, size_t len);

/* Optional: tells the library a response header. Two are used: Content-Type
 * "text/event-stream" before the first body byte makes the response a stream even
 * when the request did not set stream; Retry-After (seconds or an HTTP-date) sets
 * the wait before a retry (llmcache_call_options.retries). Names are case-insensitive; nothing is kept
 * after the call. Every header also goes to llmcache_call_options.on_header. Returns LLMCACHE_OK (LLMCACHE_EINVAL for a NULL argument). Not
 * thread-safe: as llmcache_sink_write. */
LLMCACHE_API int llmcache_sink_header(llmcache_sink *sink, const char *name, const char *value);

/* The caller's HTTP code: sends req (endpoint, body, headers, timeout_ms) to the
 * provider, writes the response body through llmcache_sink_write as it arrives and
 * returns the HTTP status (100..999), or a negative value when the exchange failed
 * (no connection, timeout, a cut transfer: also after a 200). It may run on
 * several threads at once, one call per thread. */
typedef int (*llmcache_transport_fn)(void *ctx, const llmcache_request *req, llmcache_sink *sink);

/* One SSE event of a streamed response: every byte from the end of the previous
 * event up to and including the blank line that ends this one ("data: {...}\n\n"),
 * so the chunks of a response concatenate to its body (less any bytes after the
 * last complete event). */
typedef struct llmcache_chunk {
    const char *data; size_t len;
    int64_t at_ms;                 /* when it arrived, in ms after the transport started */
} llmcache_chunk;

/* The answer of llmcache_call. Release with llmcache_response_free. */
typedef struct llmcache_response {
    int      status;               /* HTTP status; 0 when the transport failed */
    char    *body;  size_t len;    /* the raw body (for a stream, all its bytes); body[len] is a NUL */
    char    *model; size_t model_len; /* bytes the parse callback produced, NUL-terminated; NULL = none */
    llmcache_chunk *chunks; size_t n_chunks; /* a stream's events, in order, pointing into body */
    int      from_cache;           /* 1: served from the cache (a hit) */
    int      shared;               /* 1: a concurrent identical call's result (single-flight follower) */
    int      stored;               /* 1: this call stored the response */
    llmcache_key  key;             /* the request's key */
    llmcache_meta meta;            /* status, flags, latency, token usage (-1 = unknown), schema hash */
    int64_t  created_ms, expires_ms; /* of the stored entry (expires 0 = never); 0 when not stored */
    void    *mem_;                 /* private: the block body and model point into */
    /* recorded with the answer (docs/ENVELOPE.md); on a hit, what the miss recorded */
    int64_t  ttfe_ms;              /* a stream: ms from the transport's start to the end of its
                                      first event; 0 for a non-stream or when not recorded */
    int64_t  cached_input_tokens;  /* provider-cached input tokens read (OpenAI
                                      prompt_tokens_details.cached_tokens, Anthropic
                                      cache_read_input_tokens); -1 = unknown */
    int64_t  cache_write_tokens;   /* Anthropic cache_creation_input_tokens; -1 = unknown */
    const char *request; size_t request_len; /* the canonical request the key was made of, as
                                     stored with the answer (not NUL-terminated); NULL = not
                                     kept (cfg.omit_request, over 65487 bytes, an older entry) */
} llmcache_response;

/* Releases what a response holds (body, model, chunks) and zeroes it. NULL and zeroed responses are fine. Thread-safe for distinct responses. */
LLMCACHE_API void llmcache_response_free(llmcache_response *r);

/* Per-call controls. Zero-initialize: every zero member means "the default". */
typedef struct llmcache_call_options {
    int64_t ttl_ms;          /* time to live of the stored answer, as llmcache_put's:
                                LLMCACHE_TTL_DEFAULT (0) = the config's, LLMCACHE_TTL_NEVER
                                (or any value < 0) = never expires */
    int64_t max_age_ms;      /* > 0: accept only an entry younger than this (else call and store anew) */
    int     refresh;         /* 1: skip the lookup, call the transport, store the fresh answer */
    int     no_store;        /* 1: look up, but never store the answer */
    int     no_single_flight;/* 1: never wait for / share with a concurrent identical call */
    int     replay_pace;     /* LLMCACHE_REPLAY_INSTANT (0) or LLMCACHE_REPLAY_RECORDED */
    int     raw_body;        /* 1: a non-stream 2xx body need not be JSON (binary endpoints) */
    /* Checks a fresh 2xx response before it is stored; nonzero refuses it
       (llmcache_call returns LLMCACHE_EREJECTED, nothing is stored). Not called on hits. */
    int   (*validate)(void *ctx, const llmcache_response *resp);
    void   *validate_ctx;
    /* Builds the "model" (e.g. the tool-call arguments) from a fresh 2xx response,
       after validate, writing it with llmcache_sink_write(model, ...); it is stored
       beside the body. Nonzero refuses the response like validate. On a hit whose
       entry has no model it runs on the stored response (the result is not stored). */
    int   (*parse)(void *ctx, const llmcache_response *resp, llmcache_sink *model);
    void   *parse_ctx;
    /* Told each SSE event: live, from inside llmcache_sink_write on the transport's
       thread, or replayed from the cache. A single-flight follower is told the
       leader's events live too, on the follower's own thread: first those that
       came before it joined, then each as the leader's transport delivers it (a
       slow callback never holds the leader up: the flight keeps a copy of the
       events, at most the response's bytes, until its last follower read them).
       chunk->data is valid during the call only. */
    void  (*on_chunk)(void *ctx, const llmcache_chunk *chunk);
    void   *chunk_ctx;
    /* > 0, with a Redis tier (LLMCACHE_REDIS, cfg.redis): single-flight across
       machines. On a miss the call takes a lock key in Redis for this many ms
       (SET NX PX); a worker that finds it taken polls until the holder released
       it (then serves the stored answer) or the time is over (then calls the
       provider itself). Without a Redis tier it is ignored. docs/REDIS.md */
    int64_t redis_lock_ms;
    /* 0 = the config's mode; LLMCACHE_CALL_MODE(LLMCACHE_MODE_x) = that mode for this call.
       A refresh in replay mode and no_store in record mode are LLMCACHE_EINVAL */
    int     mode;
    /* How many times to repeat the transport call after a 429, a 5xx status or a
       transport failure (no connection, timeout, a cut stream), waiting between tries:
       the Retry-After the provider sent (delay-seconds or HTTP-date, passed on with
       llmcache_sink_header; one over 60 s ends the retries), else exponential backoff
       from retry_base_ms, doubling up to 30 s, with jitter (a random wait between half
       and all of it). A stream whose events already reached on_chunk, or a
       single-flight follower, is not repeated.
       Each repeat counts in stats.retries and stats.transport_calls. llmcache_call: 0
       (default) or less = none; llmcache_call_many: 0 = LLMCACHE_BATCH_RETRIES, < 0 = none */
    int     retries;
    int64_t retry_base_ms;   /* first backoff wait; 0 = 500 ms */
    /* The namespace of this call's key; NULL = the handle's (cfg.ns). A server
       gives each tenant its own, e.g. with a hash of the credential in it. */
    const char *ns;
    /* Told once, with chunk_ctx, before the first on_chunk and before the call
       returns, where the answer comes from: LLMCACHE_EVENT_HIT (the cache),
       LLMCACHE_EVENT_MISS (this call asks the transport; also for a refresh) or
       LLMCACHE_EVENT_SHARED (a concurrent identical call's). head is the response
       so far, valid during the call: its key always; for a hit also status,
       meta, created_ms and expires_ms. Not told when the call fails before (bad
       arguments). Lets a server send its headers before the first event. */
    void  (*on_source)(void *ctx, int event, const llmcache_response *head);
    /* Told, with chunk_ctx, each response header the transport passes to
       llmcache_sink_header (name and value valid during the call only), on the
       thread running the transport: only when this call asks the transport (a
       miss, a refresh; never a hit or a single-flight follower), before the
       first on_chunk when the transport gives headers first (the curl transport
       does); with retries, the headers of every try. Nothing is stored. Lets a
       server forward the provider's request ids and rate limits. NULL = none. */
    void  (*on_header)(void *ctx, const char *name, const char *value);
} llmcache_call_options;

/* llmcache_call_options.mode for a mode (0 there means "the config's"). */
#define LLMCACHE_CALL_MODE(mode) ((mode) + 1)

/* Answers req from the cache or through the transport fn(fn_ctx, ...), and stores a
 * fresh 2xx answer. The key is llmcache_key_for(c's namespace, req). opts may be NULL.
 * *out is always filled (release it with llmcache_response_free, whatever the result).
 * Returns:
 *   LLMCACHE_OK         a hit (out->from_cache) or a fresh 2xx answer
 *   LLMCACHE_EHTTP      the provider answered non-2xx; out->status and out->body say what
 *   LLMCACHE_ETRANSPORT the transport returned a negative value, or a stream ended
 *                       without its terminator (OpenAI chat "data: [DONE]", Anthropic
 *                       "event: message_stop", OpenAI responses "event:
 *                       response.completed"); out holds what arrived
 *   LLMCACHE_EUNSUPPORTED the transport returned it: it is not built in (as
 *                       llmcache_curl_transport without LLMCACHE_CURL); nothing was sent
 *   LLMCACHE_EREJECTED  validate or parse refused the answer, or a non-stream body is
 *                       not JSON (see raw_body)
 *   LLMCACHE_MISS       replay mode (LLMCACHE_MODE_REPLAY) without a stored answer:
 *                       the transport was not called; out->key names the key that
 *                       missed, and an LLMCACHE_EVENT_ERROR (result LLMCACHE_MISS) says
 *                       it in hex; counted in stats.replay_misses
 *   LLMCACHE_EINVAL     bad arguments, malformed request body or schema JSON, or
 *                       options that contradict the mode (see llmcache_call_options.mode)
 *   LLMCACHE_ENOMEM, LLMCACHE_ETOOBIG  the response could not be held
 * The store failing (a lookup error, a failed put) never fails the call: it counts in
 * stats.errors, is reported as LLMCACHE_EVENT_ERROR, and the provider's answer is
 * returned. Concurrent identical calls on one handle make one transport call
 * (single-flight); the others wait and share its result, failures included (a
 * stream's events reach their on_chunk live, as the leader receives them).
 * Thread-safe; callbacks run on the calling thread without library locks held, but
 * a transport must not make an identical llmcache_call (it would wait for itself). */
LLMCACHE_API int llmcache_call(llmcache *c, const llmcache_request *req, llmcache_transport_fn fn,
                               void *fn_ctx, const llmcache_call_options *opts, llmcache_response *out);

/* Decodes a stored call value (the data of llmcache_get for an entry with
 * LLMCACHE_META_ENVELOPE) into *out, copying it. Returns LLMCACHE_ECORRUPT for bytes
 * that are not a well-formed envelope (never reads outside data[0..len)),
 * LLMCACHE_EVERSION for a newer format. Only status, body, model, chunks, ttfe_ms,
 * cached_input_tokens, cache_write_tokens and request are set.
 * *out is zeroed first, and holds nothing after an error; after LLMCACHE_OK release
 * it with llmcache_response_free. Thread-safe. */
LLMCACHE_API int llmcache_response_decode(const void *data, size_t len, llmcache_response *out);

/* Encodes r into a new envelope (docs/ENVELOPE.md) *out of *out_len bytes (release
 * with llmcache_free): status, body, the model when r->model is not NULL, the chunks
 * (a stream when n_chunks > 0 or r->meta.flags has LLMCACHE_META_STREAM) and the
 * request (kept when not NULL and at most 65487 bytes). The inverse of
 * llmcache_response_decode, for tools that rebuild stored answers (cassettes).
 * LLMCACHE_EINVAL unless the chunks are contiguous slices of body from its start.
 * Thread-safe. */
LLMCACHE_API int llmcache_response_encode(const llmcache_response *r, char **out, size_t *out_len);

/* Removes every entry stored with this schema hash (see llmcache_schema_hash);
 * *removed (may be NULL) gets how many. Thread-safe, but not atomic: entries stored
 * meanwhile may survive. */
LLMCACHE_API int llmcache_purge_schema(llmcache *c, const unsigned char schema_hash[32], size_t *removed);

/* >>accounting (what the cache saved, per namespace and model; the export) -------
 * llmcache_call counts its outcomes per (namespace, model) row next to the handle's
 * totals in llmcache_stats: the namespace is the handle's (cfg.ns), the model the
 * request body's "model" member ("" when absent). A hit saves its entry's recorded
 * usage, money and latency (for a stream also its time to first event); a
 * single-flight follower saves the usage and money of the leader's answer (which it
 * did not pay again) but no time (it waited); a miss and a refresh save nothing.
 * Tokens are split so that none is counted twice: input excludes provider-cached
 * input and cache writes, which have their own counters and prices. Money is exact:
 * micro-dollars, with the fraction below one micro-dollar carried, not rounded per
 * call. At most cfg.acct_max_rows rows exist; calls of further (namespace, model)
 * pairs, and models longer than 256 bytes or holding a NUL, are counted in the one
 * "other" row (exported as namespace and model "(other)"; stats.acct_folded counts
 * those calls). */

/* One row, as llmcache_acct_rows reports it. */
typedef struct llmcache_acct_row {
    const char *ns, *model;       /* NUL-terminated; "(other)" for the other row */
    int      other;               /* 1: the row of the calls that found the table full */
    uint64_t calls;               /* llmcache_call invocations */
    uint64_t hits;                /* answered from the cache */
    uint64_t misses;              /* found nothing usable (also counted by followers that did) */
    uint64_t refreshes;           /* calls with refresh set that called the provider */
    uint64_t stores;              /* fresh answers stored */
    uint64_t errors;              /* store failures survived by failing open */
    uint64_t shared;              /* single-flight followers */
    uint64_t replay_misses;       /* replay mode: a request the cache could not answer */
    uint64_t time_saved_ms;       /* recorded provider latency of the hits */
    uint64_t ttfe_saved_ms;       /* recorded time to first event of the stream hits */
    uint64_t input_tokens_saved;        /* uncached input tokens not paid again */
    uint64_t output_tokens_saved;
    uint64_t cached_input_tokens_saved; /* provider-cached input tokens not paid again */
    uint64_t cache_write_tokens_saved;  /* provider cache-write tokens not paid again */
    uint64_t money_saved_microdollars;  /* at cfg.prices (rounded down, exact sums) */
    uint64_t unpriced;            /* saves of a model the price table does not name */
} llmcache_acct_row;

/* A snapshot of the handle's rows (the other row last, when it counted anything),
 * sorted by namespace then model: *rows is one block (strings included) to release
 * with llmcache_free; *n its length. Returns LLMCACHE_OK or LLMCACHE_ENOMEM.
 * Thread-safe. */
LLMCACHE_API int llmcache_acct_rows(llmcache *c, llmcache_acct_row **rows, size_t *n);

/* Where llmcache_stats_write writes: write(ctx, data, len) returns 0, or nonzero to
 * stop (the export then returns LLMCACHE_EIO). */
typedef struct llmcache_writer {
    int  (*write)(void *ctx, const void *data, size_t len);
    void  *ctx;
} llmcache_writer;

/* llmcache_stats_write formats, and the view flag */
enum {
    LLMCACHE_STATS_JSON       = 1,     /* one JSON object and a newline */
    LLMCACHE_STATS_PROMETHEUS = 2,     /* the Prometheus text exposition format (0.0.4) */
    LLMCACHE_STATS_ENTRIES    = 0x100  /* or-ed in: describe the stored entries, not the counters */
};

/* Writes the handle's statistics to sink in one call of sink->write: the totals of
 * llmcache_stats and the accounting rows (counters: llmcache_*_total, labels
 * namespace and model). With LLMCACHE_STATS_ENTRIES it describes what the cache
 * holds instead: per (namespace, model) the live entries, their bytes and their
 * recorded usage, latency and cost (gauges, llmcache_stored_*); the model is the
 * stored request's when the envelope keeps it, else the "model" the provider
 * reported in the answer; entries that are not call envelopes count under model "".
 * It reads every value (from the file when needed) and holds the handle's lock
 * meanwhile. Names, units and the JSON layout: docs/ACCOUNTING.md. Returns
 * LLMCACHE_OK, LLMCACHE_EINVAL (bad format or arguments), LLMCACHE_ENOMEM,
 * LLMCACHE_EIO (the sink refused), or a read error. Thread-safe. */
LLMCACHE_API int llmcache_stats_write(llmcache *c, int format, const llmcache_writer *sink);

/* Parses a price table from JSON: an object whose members name models, each an
 * object of integers in micro-dollars per million tokens, any of "input",
 * "output", "cached_input", "cache_write" (absent = 0), e.g.
 * {"gpt-4o":{"input":2500000,"output":10000000,"cached_input":1250000}}.
 * *out is one block to release with llmcache_free. Returns LLMCACHE_OK, or
 * LLMCACHE_EINVAL for anything else (other members, negative, fractional or
 * larger than 10^12 prices). Thread-safe. */
LLMCACHE_API int llmcache_prices_parse(const char *json, size_t len, llmcache_prices **out);

/* >>batch (llmcache_call_many) ---------------------------------------------------
 * Many calls at once, with bounded concurrency: identical requests are made once,
 * answers come back in request order, failures are retried (see retries above).
 * Every answer is stored as llmcache_call stores it, so a batch that was killed or
 * cancelled and is run again calls the provider only for what did not finish. */
#define LLMCACHE_BATCH_RETRIES     4   /* the default retries of llmcache_call_many */
#define LLMCACHE_BATCH_CONCURRENCY 8   /* the default calls in flight */
#define LLMCACHE_BATCH_MAX_THREADS 1024

/* Told after each request (or group of identical requests) finished: done of total
 * requests, how many of those were hits (from_cache) and how many failed. Calls are
 * serialized (never two at once) but come from the batch's threads, while other
 * calls run: keep it short. Nonzero cancels the batch: requests not yet started are
 * not made. */
typedef int (*llmcache_batch_progress_fn)(void *ctx, size_t done, size_t total, size_t hits, size_t errors);

/* Zero-initialize: every zero member means "the default". */
typedef struct llmcache_batch_options {
    llmcache_call_options call;  /* for every call (its callbacks run on the batch's threads,
                                    concurrently); call.retries 0 = LLMCACHE_BATCH_RETRIES */
    int     concurrency;         /* calls in flight at most (threads, the calling one included);
                                    0 = LLMCACHE_BATCH_CONCURRENCY, at most LLMCACHE_BATCH_MAX_THREADS */
    llmcache_batch_progress_fn progress; /* optional */
    void   *progress_ctx;
    int    *results;             /* optional, n ints: what llmcache_call returned for each
                                    request; LLMCACHE_STOP for one not made (cancelled) */
} llmcache_batch_options;

/* Makes the n calls reqs[0..n) as llmcache_call(c, &reqs[i], fn, fn_ctx, &opts->call,
 * &responses[i]) would, at most opts->concurrency at a time (worker threads; the
 * calling thread is one of them; with LLMCACHE_NO_THREADS one after the other).
 * Requests with the same key are made once: the others get a copy of its response
 * (shared = 1; counted in stats.calls and stats.shared). responses[i] answers
 * reqs[i]; all n are filled (zeroed for a request not made) and each must be
 * released with llmcache_response_free. opts may be NULL. Returns LLMCACHE_OK when
 * every request was made, whatever each one's result (see opts->results,
 * responses[i].status); LLMCACHE_STOP when the progress callback cancelled it before
 * the end; LLMCACHE_EINVAL for bad arguments; LLMCACHE_ENOMEM. Thread-safe; fn must
 * be callable from several threads at once. */
LLMCACHE_API int llmcache_call_many(llmcache *c, const llmcache_request *reqs, size_t n, llmcache_transport_fn fn,
                                    void *fn_ctx, const llmcache_batch_options *opts, llmcache_response *responses);

/* >>curl transport -------------------------------------------------------------
 * A transport over libcurl for OpenAI-compatible chat completions and Anthropic
 * messages. Pass a filled llmcache_curl as the transport context.
 * URL: a request endpoint that starts with "http://" or "https://" is used as is;
 * one that starts with "/" is appended to base_url; otherwise (NULL or a service
 * name) base_url + "/chat/completions" (OpenAI) or "/messages" (Anthropic).
 * Programs that start threads should call curl_global_init(CURL_GLOBAL_DEFAULT)
 * once before them (libcurl's own rule). Declared in every build; without
 * LLMCACHE_CURL (and -lcurl) the transport sends nothing and returns
 * LLMCACHE_EUNSUPPORTED, which llmcache_call passes on. */
enum { LLMCACHE_CURL_OPENAI = 0, LLMCACHE_CURL_ANTHROPIC = 1 };

typedef struct llmcache_curl {
    int         kind;              /* LLMCACHE_CURL_OPENAI (0) or LLMCACHE_CURL_ANTHROPIC */
    const char *base_url;          /* NULL = https://api.openai.com/v1 or https://api.anthropic.com/v1 */
    const char *api_key;           /* NULL = send no key */
    const char *anthropic_version; /* NULL = "2023-06-01" */
    int64_t     connect_timeout_ms;/* 0 = 10 s */
    int64_t     timeout_ms;        /* whole exchange; 0 = 10 min; req->timeout_ms overrides */
    struct llmcache_curl_pool *pool; /* optional: reuse connections (keep-alive, TLS sessions)
                                        across calls; NULL = a new connection per call */
} llmcache_curl;

/* Idle libcurl handles kept with their open connections, so that calls to the same
 * host reuse one (no new TCP and TLS handshake per request): what a batch of many
 * calls wants. Each handle serves one call at a time; any number of threads may share
 * a pool. */
typedef struct llmcache_curl_pool llmcache_curl_pool;

/* A new, empty pool for llmcache_curl.pool; NULL when out of memory (and always
 * without LLMCACHE_CURL). Thread-safe;
 * the pool itself may be used by any number of threads at once. */
LLMCACHE_API llmcache_curl_pool *llmcache_curl_pool_new(void);

/* Closes the pool's connections and frees it (NULL is fine). Not thread-safe: no call
 * may be using the pool. */
LLMCACHE_API void llmcache_curl_pool_free(llmcache_curl_pool *pool);

/* The transport: POSTs req->body (Content-Type: application/json) with the auth
 * headers of ctx->kind (Authorization: Bearer, or x-api-key + anthropic-version)
 * and req->headers, streams the answer into sink, and returns the HTTP status, or
 * LLMCACHE_ETRANSPORT when the connection fails, times out or is cut (also after a
 * 200). ctx is a const llmcache_curl *. Thread-safe (one curl handle per call). */
LLMCACHE_API int llmcache_curl_transport(void *ctx, const llmcache_request *req, llmcache_sink *sink);

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
#ifndef LLMCACHE_MAX_BODY
#  define LLMCACHE_MAX_BODY ((size_t)64 << 20)
#endif

#include <string.h>
#include <stdlib.h>

/* A system header included before llmcache.h under strict -std=c99 fixed glibc's
 * feature set without the POSIX 2008 and BSD declarations the platform layer uses:
 * say so once instead of a wall of undeclared identifiers. */
#if defined(__GLIBC__) && (!defined(__USE_XOPEN2K8) || !defined(__USE_MISC))
#  error "llmcache.h: the implementation needs POSIX 2008 (mmap, pread, robust mutexes) and madvise, which strict -std=c99 hides when a system header comes first: include llmcache.h before any other header in the file that defines LLMCACHE_IMPLEMENTATION, or compile that file with -D_DEFAULT_SOURCE (or -std=gnu99)"
#else   /* the rest of the implementation, up to the end of the file */


/* The accessors that only tests and fuzz targets use (LLMCACHE_TEST_HOOKS): a
 * test that defines the hooks need not use them all. */
#if defined(__GNUC__) || defined(__clang__)
#  define LLMCACHE__MAYBE_UNUSED __attribute__((__unused__))
#else
#  define LLMCACHE__MAYBE_UNUSED
#endif

/* A copy of p[0..n) with a NUL after it (n may be 0, p then NULL); NULL when out
 * of memory. Every string or byte copy of the implementation is made here. */
static char *llmcache__memdup_nul(const void *p, size_t n) {
    char *q = (char *)LLMCACHE_MALLOC(n + 1);
    if (!q) return NULL;
    if (n) memcpy(q, p, n);
    q[n] = '\0';
    return q;
}
#define LLMCACHE__STRDUP(s) llmcache__memdup_nul((s), strlen(s))

/* The first n bytes of a, then b (file names: a path and a suffix, a directory and a name). */
static char *llmcache__concat(const char *a, size_t n, const char *b) {
    size_t m = strlen(b);
    char *p = (char *)LLMCACHE_MALLOC(n + m + 1);
    if (!p) return NULL;
    memcpy(p, a, n);
    memcpy(p + n, b, m + 1);
    return p;
}

/* >>platform ---------------------------------------------------------------------
 * Everything that differs between POSIX and Win32 lives here: the clock, sleeping,
 * mutexes and condition variables. The file layer (log backend) sits below. */
#if defined(_WIN32)
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#    define LLMCACHE__LEAN 1
#  endif
#  include <windows.h>
#  ifdef LLMCACHE__LEAN   /* the user's code in this file sees windows.h as it asked for it */
#    undef WIN32_LEAN_AND_MEAN
#    undef LLMCACHE__LEAN
#  endif
#else
#  include <time.h>
#  include <errno.h>
#  include <unistd.h>
#  ifndef LLMCACHE_NO_THREADS
#    include <pthread.h>
#  endif
#endif

static int64_t llmcache__system_clock_ms(void) {
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
static int64_t llmcache__mono_us(void) {
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

static void llmcache__sleep_ms(int64_t ms) {
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
static int  llmcache__mutex_init(llmcache__mutex *m) { InitializeSRWLock(m); return 0; }
static void llmcache__mutex_destroy(llmcache__mutex *m) { (void)m; }
static void llmcache__lock(llmcache__mutex *m) { AcquireSRWLockExclusive(m); }
static void llmcache__unlock(llmcache__mutex *m) { ReleaseSRWLockExclusive(m); }
static int  llmcache__cond_init(llmcache__cond *cv) { InitializeConditionVariable(cv); return 0; }
static void llmcache__cond_destroy(llmcache__cond *cv) { (void)cv; }
static void llmcache__cond_wait(llmcache__cond *cv, llmcache__mutex *m) { SleepConditionVariableSRW(cv, m, INFINITE, 0); }
static void llmcache__cond_broadcast(llmcache__cond *cv) { WakeAllConditionVariable(cv); }
#else
typedef pthread_mutex_t llmcache__mutex;
typedef pthread_cond_t llmcache__cond;
static int  llmcache__mutex_init(llmcache__mutex *m) { return pthread_mutex_init(m, NULL); }
static void llmcache__mutex_destroy(llmcache__mutex *m) { pthread_mutex_destroy(m); }
static void llmcache__lock(llmcache__mutex *m) { pthread_mutex_lock(m); }
static void llmcache__unlock(llmcache__mutex *m) { pthread_mutex_unlock(m); }
static int  llmcache__cond_init(llmcache__cond *cv) { return pthread_cond_init(cv, NULL); }
static void llmcache__cond_destroy(llmcache__cond *cv) { pthread_cond_destroy(cv); }
static void llmcache__cond_wait(llmcache__cond *cv, llmcache__mutex *m) { pthread_cond_wait(cv, m); }
static void llmcache__cond_broadcast(llmcache__cond *cv) { pthread_cond_broadcast(cv); }
#endif

/* Waits on cv for at most ms milliseconds (spurious wake-ups allowed). */
#if defined(LLMCACHE_NO_THREADS)
#  define llmcache__cond_timedwait(cv, m, ms) ((void)(cv), (void)(m), (void)(ms))
#elif defined(_WIN32)
static void llmcache__cond_timedwait(llmcache__cond *cv, llmcache__mutex *m, int64_t ms) {
    SleepConditionVariableSRW(cv, m, (DWORD)ms, 0);
}
#else
static void llmcache__cond_timedwait(llmcache__cond *cv, llmcache__mutex *m, int64_t ms) {
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
static int llmcache__thread_start(llmcache__thread *t, void (*fn)(void *), void *arg) {
    t->fn = fn; t->arg = arg;
    t->handle = CreateThread(NULL, 0, llmcache__thread_main, t, 0, NULL);
    return t->handle ? 0 : -1;
}
static void llmcache__thread_join(llmcache__thread *t) {
    WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
}
#  else
static void *llmcache__thread_main(void *t) {
    ((llmcache__thread *)t)->fn(((llmcache__thread *)t)->arg);
    return NULL;
}
static int llmcache__thread_start(llmcache__thread *t, void (*fn)(void *), void *arg) {
    t->fn = fn; t->arg = arg;
    return pthread_create(&t->id, NULL, llmcache__thread_main, t) == 0 ? 0 : -1;
}
static void llmcache__thread_join(llmcache__thread *t) { pthread_join(t->id, NULL); }
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
static uint64_t llmcache__load_acquire(const uint64_t *p) {
    const volatile llmcache__half *h = (const volatile llmcache__half *)(const volatile void *)p;
    uint32_t w[2];
    uint64_t v;
    w[0] = __atomic_load_n(&h[0], __ATOMIC_ACQUIRE);
    w[1] = __atomic_load_n(&h[1], __ATOMIC_ACQUIRE);
    memcpy(&v, w, sizeof v);
    return v;
}
static void llmcache__store_release(uint64_t *p, uint64_t v) {
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
/* MSVC: an aligned 64-bit access is single-copy atomic on x64 and ARM64; the fences
 * order it. No interlocked read: a read-only handle maps path-shm without write access. */
static LLMCACHE__MAYBE_UNUSED uint64_t llmcache__load_acquire(const uint64_t *p) {
    uint64_t v = *(const volatile uint64_t *)p;
    MemoryBarrier();
    return v;
}
static LLMCACHE__MAYBE_UNUSED void llmcache__store_release(uint64_t *p, uint64_t v) {
    MemoryBarrier();
    *(volatile uint64_t *)p = v;
}
#else
#  define llmcache__load_acquire(p)     (*(volatile uint64_t *)(p))
#  define llmcache__store_release(p, v) (*(volatile uint64_t *)(p) = (v))
#endif

/* Sockets, for the Redis tier (LLMCACHE_REDIS): a wait for bytes with a timeout, the
 * process id for lock tokens, and writes that never raise SIGPIPE. */
#ifdef LLMCACHE_REDIS
#  include <limits.h>     /* INT_MAX */
#  if defined(_WIN32)
#    include <winsock2.h>
typedef SOCKET llmcache__socket;
#  else
#    include <poll.h>
#    include <signal.h>
#    include <sys/socket.h>
#    include <sys/time.h>
typedef int llmcache__socket;
#  endif

/* Waits at most ms for bytes on s, then receives once: the bytes received (at most
 * n); 0 when none came (the time passed, or a signal came first); -1 on an error or
 * the end of the stream. */
static long llmcache__sock_recv(llmcache__socket s, char *buf, size_t n, int64_t ms) {
    int ready, again;
    long got;
#  if defined(_WIN32)
    WSAPOLLFD p;
    p.fd = s; p.events = POLLRDNORM; p.revents = 0;
    ready = WSAPoll(&p, 1, (INT)(ms < INT_MAX ? ms : INT_MAX));
    got = ready > 0 ? (long)recv(s, buf, (int)(n < INT_MAX ? n : INT_MAX), 0) : 0;
    again = 0;
#  else
    struct pollfd p;
    p.fd = s; p.events = POLLIN; p.revents = 0;
    ready = poll(&p, 1, (int)(ms < INT_MAX ? ms : INT_MAX));
    got = ready > 0 ? (long)recv(s, buf, n, 0) : 0;
    again = (ready < 0 || got < 0) && errno == EINTR;
#  endif
    if (again || ready == 0) return 0;
    return got > 0 ? got : -1;
}

static uint64_t llmcache__process_id(void) {
#  if defined(_WIN32)
    return (uint64_t)GetCurrentProcessId();
#  else
    return (uint64_t)getpid();
#  endif
}

/* hiredis writes with write(2), so a connection the server reset would raise SIGPIPE
 * and kill the process. Redis I/O runs with SIGPIPE blocked in the calling thread and
 * a SIGPIPE it raised is taken back before unblocking: no process-wide handler changes. */
#  if !defined(_WIN32)
#    ifdef LLMCACHE_NO_THREADS
#      define LLMCACHE__SIGMASK sigprocmask
#    else
#      define LLMCACHE__SIGMASK pthread_sigmask
#    endif
typedef struct llmcache__nopipe { sigset_t old; int pending; } llmcache__nopipe;

static void llmcache__nopipe_begin(llmcache__nopipe *g) {
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    LLMCACHE__SIGMASK(SIG_BLOCK, &set, &g->old);
    g->pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1;
}

static void llmcache__nopipe_end(llmcache__nopipe *g) {
    sigset_t set, pend;
    if (!g->pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1) {
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
#    if defined(__linux__)
        {
            struct timespec zero = {0, 0};
            while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {}
        }
#    else
        {
            int sig;
            sigwait(&set, &sig);
        }
#    endif
    }
    LLMCACHE__SIGMASK(SIG_SETMASK, &g->old, NULL);
}
#  else
typedef int llmcache__nopipe;
#    define llmcache__nopipe_begin(g) ((void)(g))
#    define llmcache__nopipe_end(g)   ((void)(g))
#  endif
#endif /* LLMCACHE_REDIS */

/* >>files -----------------------------------------------------------------------
 * Files, positioned I/O, mappings, byte-range locks and the process-shared
 * writer lock: everything the log backend asks of the operating system. POSIX
 * first, then Win32; LLMCACHE_NO_FILES leaves the cache memory-only and makes a
 * path fail with LLMCACHE_EUNSUPPORTED. Where the two differ, the log code does
 * what both allow: it unmaps a file before it shrinks or replaces it, and takes
 * the length a mapping got from llmcache__f_map. */
#if !defined(LLMCACHE_NO_FILES)
#  define LLMCACHE__FILES 1
#  define LLMCACHE__HAVE_FILES 1
#  if !defined(_WIN32)
#    include <fcntl.h>
#    include <sys/mman.h>
#    include <sys/stat.h>
#    include <sys/types.h>
#    include <dirent.h>
#    include <stdio.h>   /* rename */
#    if defined(F_OFD_SETLK)
#      define LLMCACHE__OFD_SETLK  F_OFD_SETLK
#      define LLMCACHE__OFD_SETLKW F_OFD_SETLKW
#    elif defined(__linux__)
#      define LLMCACHE__OFD_SETLK  37   /* Linux ABI; glibc hides it without _GNU_SOURCE */
#      define LLMCACHE__OFD_SETLKW 38
#    endif
#    if defined(MADV_POPULATE_WRITE)
#      define LLMCACHE__POPULATE_WRITE MADV_POPULATE_WRITE
#    elif defined(__linux__)
#      define LLMCACHE__POPULATE_WRITE 23   /* Linux ABI (5.14); older headers lack it */
#    endif
/* 64-bit offsets on 32-bit glibc without _FILE_OFFSET_BITS, which would change off_t
 * for the code around the implementation: the large-file interface (*64 functions);
 * elsewhere off_t is 64 bits (BSDs, macOS, musl) or the plain functions are all there is. */
#    if defined(__GLIBC__) && defined(__USE_LARGEFILE64)
typedef off64_t llmcache__off;
typedef struct stat64 llmcache__stat;
#      define llmcache__fstat     fstat64
#      define llmcache__lstat     lstat64
#      define llmcache__sys_pread     pread64
#      define llmcache__sys_pwrite    pwrite64
#      define llmcache__ftruncate ftruncate64
#      define llmcache__fallocate posix_fallocate64
#      define LLMCACHE__O_LARGE   O_LARGEFILE
#      define llmcache__readdir   readdir64
typedef struct dirent64 llmcache__dirent;
#    else
typedef off_t llmcache__off;
typedef struct stat llmcache__stat;
#      define llmcache__fstat     fstat
#      define llmcache__lstat     lstat
#      define llmcache__sys_pread     pread
#      define llmcache__sys_pwrite    pwrite
#      define llmcache__ftruncate ftruncate
#      define llmcache__fallocate posix_fallocate
#      define LLMCACHE__O_LARGE   0
#      define llmcache__readdir   readdir
typedef struct dirent llmcache__dirent;
#    endif
#  endif
#endif

#if defined(_WIN32)
typedef intptr_t llmcache__fd;   /* a HANDLE */
#else
typedef int llmcache__fd;
#endif
#define LLMCACHE__NOFD (-1)
#define LLMCACHE__FILE_MODE 0600u   /* new logs and path-shm when cfg.file_mode is 0 */

/* llmcache__f_open: _CREATE makes the file when it is absent, _EXCL makes a new one
 * only (any name that exists, a link included, fails), _NOFOLLOW refuses a symbolic
 * link at path (LLMCACHE_ESYMLINK), _RDONLY opens for reading only. */
enum { LLMCACHE__F_CREATE = 1, LLMCACHE__F_RDONLY = 2, LLMCACHE__F_EXCL = 4, LLMCACHE__F_NOFOLLOW = 8 };

/* The lock bytes of path-shm (docs/FORMAT.md), taken with llmcache__f_lock. */
typedef enum llmcache__lock_byte {
    LLMCACHE__BYTE_OPENER = 0,   /* exclusive while a handle opens or closes the log (shared: a
                                    read-only opener), so that these take turns */
    LLMCACHE__BYTE_LIVE   = 1,   /* shared by every handle that has the log open; exclusive only
                                    for one that is alone (rebuilds the page, repair) */
    LLMCACHE__BYTE_WRITER = 2    /* the writer lock where no robust process-shared mutex serves
                                    (Win32, LLMCACHE_NO_THREADS): see llmcache__pmutex */
} llmcache__lock_byte;
typedef enum llmcache__lock_mode { LLMCACHE__UNLOCK = 0, LLMCACHE__SHARED = 1, LLMCACHE__EXCLUSIVE = 2 } llmcache__lock_mode;
typedef enum llmcache__lock_wait { LLMCACHE__NOWAIT = 0, LLMCACHE__WAIT = 1 } llmcache__lock_wait;

#ifdef LLMCACHE__FILES
/* Where the base name of path starts (after its last separator). */
static const char *llmcache__f_base(const char *path) {
    const char *b = path, *p;
    for (p = path; *p; p++) {
        if (*p == '/') b = p + 1;
#if defined(_WIN32)
        if (*p == '\\' || *p == ':') b = p + 1;
#endif
    }
    return b;
}


#if !defined(_WIN32)
static int llmcache__errno_result(int e) {
    switch (e) {
    case ENOSPC: case EFBIG:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return LLMCACHE_ENOSPC;
    case ENOMEM: return LLMCACHE_ENOMEM;
    case ENOENT: case ENOTDIR: return LLMCACHE_ENOENT;
    case EACCES: case EPERM: case EROFS: return LLMCACHE_EACCES;
    case EISDIR: return LLMCACHE_ENOTFILE;
    default: return LLMCACHE_EIO;
    }
}

static int llmcache__f_is_link(const char *path) {
    llmcache__stat st;
    return llmcache__lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Opens path (flags: LLMCACHE__F_*). A file this call creates gets the permission
 * bits mode exactly: it is created exclusively, so that the mode goes to no file
 * that was there before, and the umask is undone with fchmod (when that fails the
 * file keeps the narrower mode the umask left). A name that vanishes or appears
 * between the two tries is tried again, a few times. */
static int llmcache__f_open(const char *path, int flags, unsigned mode, llmcache__fd *fd) {
    int o = ((flags & LLMCACHE__F_RDONLY) ? O_RDONLY : O_RDWR) | LLMCACHE__O_LARGE, tries, e = ENOENT;
#ifdef O_CLOEXEC
    o |= O_CLOEXEC;
#endif
    if (flags & LLMCACHE__F_NOFOLLOW) o |= O_NOFOLLOW;
    for (tries = 0; tries < 8; tries++) {
        if (flags & (LLMCACHE__F_CREATE | LLMCACHE__F_EXCL)) {
            do { *fd = open(path, o | O_CREAT | O_EXCL, (mode_t)mode); } while (*fd < 0 && errno == EINTR);
            if (*fd >= 0) {
                if (fchmod(*fd, (mode_t)mode) != 0) { /* the umask's narrower mode stays */ }
                return LLMCACHE_OK;
            }
            e = errno;
            if (e != EEXIST || (flags & LLMCACHE__F_EXCL)) break;
        }
        do { *fd = open(path, o); } while (*fd < 0 && errno == EINTR);
        if (*fd >= 0) return LLMCACHE_OK;
        e = errno;
        if (e != ENOENT || !(flags & LLMCACHE__F_CREATE)) break;
    }
    *fd = LLMCACHE__NOFD;
    /* O_NOFOLLOW says ELOOP on Linux, EMLINK or EFTYPE elsewhere: ask lstat */
    if ((flags & LLMCACHE__F_NOFOLLOW) && llmcache__f_is_link(path)) return LLMCACHE_ESYMLINK;
    return llmcache__errno_result(e);
}

/* Gives fd the permission bits and, where permitted, the owner and group of the
 * file open as from (a compacted or repaired log replaces that file). A change of
 * owner that is not permitted is skipped; the group alone is tried then. */
static int llmcache__f_copy_owner(llmcache__fd fd, llmcache__fd from) {
    llmcache__stat st;
    if (llmcache__fstat(from, &st) != 0) return LLMCACHE_EIO;
    if (fchown(fd, st.st_uid, st.st_gid) != 0) {
        if (errno != EPERM) return llmcache__errno_result(errno);
        if (fchown(fd, (uid_t)-1, st.st_gid) != 0) { /* not a member of the group: keep ours */ }
    }
    return fchmod(fd, st.st_mode & 0777) == 0 ? LLMCACHE_OK : llmcache__errno_result(errno);
}

/* The name of the file path leads to once every symbolic link on the way is
 * followed, so that every opener, through a link or not, meets the same files
 * beside it; path as given when it does not resolve (it does not exist yet).
 * Release with LLMCACHE_FREE; NULL when out of memory. */
static char *llmcache__f_resolve(const char *path) {
    char *r = realpath(path, NULL), *out = LLMCACHE__STRDUP(r ? r : path);
    free(r);   /* realpath's buffer comes from malloc, whatever LLMCACHE_MALLOC is */
    return out;
}

/* Calls fn(ctx, file, suffix) for each regular file (no link, no directory) that
 * this user owns in the directory of path and whose name is path's base name
 * followed by a non-empty suffix. */
static void llmcache__f_each_own(const char *path, void (*fn)(void *ctx, const char *file, const char *suffix),
                                 void *ctx) {
    const char *base = llmcache__f_base(path);
    size_t dir_len = (size_t)(base - path), base_len = strlen(base);
    char *dir = dir_len ? llmcache__memdup_nul(path, dir_len) : LLMCACHE__STRDUP(".");
    DIR *d = dir ? opendir(dir) : NULL;
    llmcache__dirent *e;
    while (d && (e = llmcache__readdir(d)) != NULL) {
        llmcache__stat st;
        char *file;
        if (strncmp(e->d_name, base, base_len) != 0 || !e->d_name[base_len]) continue;
        file = llmcache__concat(path, dir_len, e->d_name);
        if (file && llmcache__lstat(file, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
            fn(ctx, file, file + dir_len + base_len);
        LLMCACHE_FREE(file);
    }
    if (d) closedir(d);
    LLMCACHE_FREE(dir);
}

static void llmcache__f_close(llmcache__fd fd) { if (fd >= 0) close(fd); }

#if !defined(LLMCACHE_NO_THREADS)
/* A second handle on the same open file (the flusher syncs through it unlocked);
 * LLMCACHE__NOFD when that fails. */
static llmcache__fd llmcache__f_dup(llmcache__fd fd) { return dup(fd); }
#endif

static int llmcache__f_size(llmcache__fd fd, uint64_t *size) {
    llmcache__stat st;
    if (llmcache__fstat(fd, &st) != 0) return LLMCACHE_EIO;
    *size = (uint64_t)st.st_size;
    return LLMCACHE_OK;
}

static int llmcache__f_pread(llmcache__fd fd, void *buf, size_t n, uint64_t off) {
    char *p = (char *)buf;
    while (n) {
        ssize_t r = llmcache__sys_pread(fd, p, n, (llmcache__off)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return LLMCACHE_EIO;
        p += r; n -= (size_t)r; off += (uint64_t)r;
    }
    return LLMCACHE_OK;
}

static int llmcache__f_pwrite(llmcache__fd fd, const void *buf, size_t n, uint64_t off) {
    const char *p = (const char *)buf;
    while (n) {
        ssize_t r = llmcache__sys_pwrite(fd, p, n, (llmcache__off)off);
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
    do { r = llmcache__ftruncate(fd, (llmcache__off)size); } while (r != 0 && errno == EINTR);
    return r == 0 ? LLMCACHE_OK : llmcache__errno_result(errno);
}

/* Gives the file real blocks up to off+len, so writes through a mapping never
 * meet a full disk (which would be a SIGBUS): ENOSPC comes back here instead. */
static int llmcache__f_allocate(llmcache__fd fd, uint64_t off, uint64_t len) {
    int r = llmcache__fallocate(fd, (llmcache__off)off, (llmcache__off)len);
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

/* Faults [off, off+len) of a writable mapping in with one system call, instead of
 * one page fault per page when records are written there (Linux 5.14 and later;
 * elsewhere, or when refused, the faults happen as usual). */
static void llmcache__f_prefault(unsigned char *map, uint64_t off, uint64_t len) {
#ifdef LLMCACHE__POPULATE_WRITE
    if (len) madvise(map + off, (size_t)len, LLMCACHE__POPULATE_WRITE);
#else
    (void)map; (void)off; (void)len;
#endif
}

/* The size of a memory page (4 KiB, 16 KiB, 64 KiB: kernels differ). */
static uint64_t llmcache__f_page_size(void) {
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (uint64_t)n : 4096u;
}

/* Asks for huge pages under a large block of memory that is about to be written
 * whole (the index's table; its entries when their number is known), so that first
 * touching it costs one fault per 2 MiB, not per page (Linux with transparent huge
 * pages in "madvise" mode; elsewhere nothing happens). Not for blocks only partly
 * used: a huge page is resident whole. */
#ifdef MADV_HUGEPAGE
#  define LLMCACHE__HUGE ((size_t)2 << 20)   /* a huge page: a block meant for them may start on one */
#endif
static void llmcache__f_advise_huge(void *p, size_t len) {
#ifdef MADV_HUGEPAGE
    uintptr_t huge = (uintptr_t)LLMCACHE__HUGE, from = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t to = ((uintptr_t)p + len) & ~(huge - 1);
    if (to > from) madvise((void *)from, (size_t)(to - from), MADV_HUGEPAGE);
#else
    (void)p; (void)len;
#endif
}

/* Makes [off, off+len) of a mapping of fd durable. */
static int llmcache__f_msync(llmcache__fd fd, unsigned char *map, uint64_t off, uint64_t len) {
    uint64_t page = llmcache__f_page_size(), start = off & ~(page - 1);
    (void)fd;
    if (len == 0) return LLMCACHE_OK;
    return msync(map + start, (size_t)(off + len - start), MS_SYNC) == 0 ? LLMCACHE_OK
                                                                      : llmcache__errno_result(errno);
}

/* A one-byte lock on byte, taken (shared or exclusive) or given back. Open file
 * description locks where the system has them (they belong to this handle, not to
 * the process). LLMCACHE_MISS when busy and LLMCACHE__NOWAIT. */
static int llmcache__f_lock(llmcache__fd fd, llmcache__lock_byte byte, llmcache__lock_mode mode,
                            llmcache__lock_wait wait) {
    struct flock fl;
    int cmd, r;
    memset(&fl, 0, sizeof fl);
    fl.l_type = (short)(mode == LLMCACHE__UNLOCK ? F_UNLCK : mode == LLMCACHE__SHARED ? F_RDLCK : F_WRLCK);
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
#ifdef LLMCACHE__OFD_SETLK
    cmd = wait == LLMCACHE__WAIT ? LLMCACHE__OFD_SETLKW : LLMCACHE__OFD_SETLK;
#else
    cmd = wait == LLMCACHE__WAIT ? F_SETLKW : F_SETLK;
#endif
    do { r = fcntl(fd, cmd, &fl); } while (r != 0 && errno == EINTR);
    if (r == 0) return LLMCACHE_OK;
    return (errno == EAGAIN || errno == EACCES) ? LLMCACHE_MISS : LLMCACHE_EIO;
}

/* Whether another handle holds a lock on byte (asked without taking one, so that a
 * read-only descriptor can ask too). */
static int llmcache__f_lock_held(llmcache__fd fd, llmcache__lock_byte byte) {
    struct flock fl;
    int r;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
#ifdef F_OFD_GETLK
    do { r = fcntl(fd, F_OFD_GETLK, &fl); } while (r != 0 && errno == EINTR);
#else
    do { r = fcntl(fd, F_GETLK, &fl); } while (r != 0 && errno == EINTR);
#endif
    return r == 0 && fl.l_type != F_UNLCK;
}

/* Whether fd is a regular file (not a directory, a device, a pipe). */
static int llmcache__f_regular(llmcache__fd fd) {
    llmcache__stat st;
    return llmcache__fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* Renames from over to and makes the rename durable (fsync of the directory). */
static int llmcache__f_replace(const char *from, const char *to) {
    size_t n = (size_t)(llmcache__f_base(to) - to);
    char *dir;
    int dfd, rc = LLMCACHE_OK;
    if (rename(from, to) != 0) return llmcache__errno_result(errno);
    dir = n ? llmcache__memdup_nul(to, n) : LLMCACHE__STRDUP(".");   /* "/": the root itself */
    if (!dir) return LLMCACHE_ENOMEM;
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
    case ERROR_FILE_NOT_FOUND: case ERROR_PATH_NOT_FOUND: return LLMCACHE_ENOENT;
    case ERROR_ACCESS_DENIED: case ERROR_WRITE_PROTECT: return LLMCACHE_EACCES;
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
 * rename the file or write to it. Handles are not inherited by child processes.
 * _NOFOLLOW opens a reparse point (symbolic link, junction) itself, to refuse it;
 * mode is not used (a new file takes the directory's ACL). */
static int llmcache__f_open(const char *path, int flags, unsigned mode, llmcache__fd *fd) {
    wchar_t *w;
    HANDLE h;
    DWORD attrs = FILE_ATTRIBUTE_NORMAL | ((flags & LLMCACHE__F_NOFOLLOW) ? FILE_FLAG_OPEN_REPARSE_POINT : 0), err;
    BY_HANDLE_FILE_INFORMATION info;
    int rc = llmcache__wpath(path, &w);
    (void)mode;
    *fd = LLMCACHE__NOFD;
    if (rc != LLMCACHE_OK) return rc;
    h = CreateFileW(w, GENERIC_READ | ((flags & LLMCACHE__F_RDONLY) ? 0 : GENERIC_WRITE),
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                    (flags & LLMCACHE__F_EXCL) ? CREATE_NEW : (flags & LLMCACHE__F_CREATE) ? OPEN_ALWAYS : OPEN_EXISTING,
                    attrs, NULL);
    err = GetLastError();
    if (h == INVALID_HANDLE_VALUE) {
        DWORD a = GetFileAttributesW(w);
        LLMCACHE_FREE(w);
        if ((flags & LLMCACHE__F_NOFOLLOW) && a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_REPARSE_POINT))
            return LLMCACHE_ESYMLINK;
        if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY)) return LLMCACHE_ENOTFILE;
        return llmcache__win_result(err);
    }
    LLMCACHE_FREE(w);
    if ((flags & LLMCACHE__F_NOFOLLOW) &&
        (!GetFileInformationByHandle(h, &info) || (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT))) {
        CloseHandle(h);
        return LLMCACHE_ESYMLINK;
    }
    *fd = (llmcache__fd)h;
    return LLMCACHE_OK;
}

/* Owners and permission bits are POSIX notions; a new file inherits the ACL. */
static int llmcache__f_copy_owner(llmcache__fd fd, llmcache__fd from) { (void)fd; (void)from; return LLMCACHE_OK; }

/* Links are not resolved on Windows: the path is used as given. */
static char *llmcache__f_resolve(const char *path) { return LLMCACHE__STRDUP(path); }

/* As the POSIX one: files (no reparse point, no directory) beside path whose name
 * is path's base name and a suffix; ownership is left to the ACLs. */
static void llmcache__f_each_own(const char *path, void (*fn)(void *ctx, const char *file, const char *suffix),
                                 void *ctx) {
    const char *base = llmcache__f_base(path);
    size_t dir_len = (size_t)(base - path), base_len = strlen(base);
    char *pattern = llmcache__concat(path, strlen(path), "*"), name[1024];
    wchar_t *w;
    WIN32_FIND_DATAW fd;
    HANDLE h;
    if (!pattern) return;
    if (llmcache__wpath(pattern, &w) != LLMCACHE_OK) { LLMCACHE_FREE(pattern); return; }
    LLMCACHE_FREE(pattern);
    h = FindFirstFileW(w, &fd);
    LLMCACHE_FREE(w);
    if (h == INVALID_HANDLE_VALUE) return;
    do {
        char *file;
        if (fd.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT)) continue;
        if (WideCharToMultiByte(CP_UTF8, 0, fd.cFileName, -1, name, (int)sizeof name, NULL, NULL) <= 0) continue;
        if (strncmp(name, base, base_len) != 0 || !name[base_len]) continue;
        file = llmcache__concat(path, dir_len, name);
        if (file) fn(ctx, file, file + dir_len + base_len);
        LLMCACHE_FREE(file);
    } while (FindNextFileW(h, &fd));
    FindClose(h);
}

static void llmcache__f_close(llmcache__fd fd) { if (fd != LLMCACHE__NOFD) CloseHandle(LLMCACHE__H(fd)); }

#if !defined(LLMCACHE_NO_THREADS)
static llmcache__fd llmcache__f_dup(llmcache__fd fd) {
    HANDLE h;
    if (!DuplicateHandle(GetCurrentProcess(), LLMCACHE__H(fd), GetCurrentProcess(), &h, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) return LLMCACHE__NOFD;
    return (llmcache__fd)h;
}
#endif

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

static void llmcache__f_prefault(unsigned char *map, uint64_t off, uint64_t len) { (void)map; (void)off; (void)len; }
static void llmcache__f_advise_huge(void *p, size_t len) { (void)p; (void)len; }

static uint64_t llmcache__f_page_size(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize ? (uint64_t)si.dwPageSize : 4096u;
}

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
static int llmcache__f_lock(llmcache__fd fd, llmcache__lock_byte byte, llmcache__lock_mode mode,
                            llmcache__lock_wait wait) {
    OVERLAPPED ov;
    HANDLE h = LLMCACHE__H(fd);
    DWORD flags = (mode == LLMCACHE__EXCLUSIVE ? LOCKFILE_EXCLUSIVE_LOCK : 0) |
                  (wait == LLMCACHE__WAIT ? 0 : LOCKFILE_FAIL_IMMEDIATELY), err;
    int held;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)byte;
    ov.OffsetHigh = 1;
    held = UnlockFileEx(h, 0, 1, 0, &ov) != 0;
    if (mode == LLMCACHE__UNLOCK) return LLMCACHE_OK;
    if (LockFileEx(h, flags, 0, 1, 0, &ov)) return LLMCACHE_OK;
    err = GetLastError();
    if (held) LockFileEx(h, LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov);
    return err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING ? LLMCACHE_MISS : LLMCACHE_EIO;
}

/* Whether another handle holds a lock on byte: an exclusive lock is refused then
 * (one this handle gets is given back at once). */
static int llmcache__f_lock_held(llmcache__fd fd, llmcache__lock_byte byte) {
    if (llmcache__f_lock(fd, byte, LLMCACHE__EXCLUSIVE, LLMCACHE__NOWAIT) != LLMCACHE_OK) return 1;
    llmcache__f_lock(fd, byte, LLMCACHE__UNLOCK, LLMCACHE__NOWAIT);
    return 0;
}

/* Whether fd is a regular file on a disk. */
static int llmcache__f_regular(llmcache__fd fd) { return GetFileType(LLMCACHE__H(fd)) == FILE_TYPE_DISK; }

/* MoveFileExW cannot replace a file that any process still maps or has open:
 * then it fails (ERROR_ACCESS_DENIED, reported as LLMCACHE_EIO) instead of waiting. */
static int llmcache__f_replace(const char *from, const char *to) {
    wchar_t *wf, *wt;
    int rc = llmcache__wpath(from, &wf);
    if (rc != LLMCACHE_OK) return rc;
    rc = llmcache__wpath(to, &wt);
    if (rc == LLMCACHE_OK) {
        if (!MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
            DWORD e = GetLastError();
            rc = e == ERROR_ACCESS_DENIED ? LLMCACHE_EIO : llmcache__win_result(e);
        }
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
 * threads, an exclusive lock on the writer byte of the shared file (LLMCACHE__BYTE_WRITER). */
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
    if (llmcache__f_lock(fd, LLMCACHE__BYTE_WRITER, LLMCACHE__EXCLUSIVE, LLMCACHE__WAIT) != LLMCACHE_OK) return LLMCACHE_EIO;
    if (llmcache__load_acquire(m)) return LLMCACHE_ECORRUPT;
    llmcache__store_release(m, 1);
    return LLMCACHE_OK;
}
static void llmcache__pmutex_consistent(llmcache__pmutex *m) { llmcache__store_release(m, 1); }
static void llmcache__pmutex_unlock(llmcache__pmutex *m, llmcache__fd fd) {
    llmcache__store_release(m, 0);
    llmcache__f_lock(fd, LLMCACHE__BYTE_WRITER, LLMCACHE__UNLOCK, LLMCACHE__NOWAIT);
}
#endif
#else /* LLMCACHE_NO_FILES: the no-op file layer. Nothing opens, so no log exists and
       the log code above the file layer never runs past a failed llmcache__f_open. */
#define LLMCACHE__HAVE_FILES 0
static int llmcache__f_open(const char *path, int flags, unsigned mode, llmcache__fd *fd) {
    (void)path; (void)flags; (void)mode;
    *fd = LLMCACHE__NOFD;
    return LLMCACHE_EUNSUPPORTED;
}
static int llmcache__f_copy_owner(llmcache__fd fd, llmcache__fd from) { (void)fd; (void)from; return LLMCACHE_EUNSUPPORTED; }
static char *llmcache__f_resolve(const char *path) { return LLMCACHE__STRDUP(path); }
static void llmcache__f_each_own(const char *path, void (*fn)(void *ctx, const char *file, const char *suffix),
                                 void *ctx) { (void)path; (void)fn; (void)ctx; }
static void llmcache__f_close(llmcache__fd fd) { (void)fd; }
#if !defined(LLMCACHE_NO_THREADS)
static llmcache__fd llmcache__f_dup(llmcache__fd fd) { (void)fd; return LLMCACHE__NOFD; }
#endif
static int llmcache__f_size(llmcache__fd fd, uint64_t *size) { (void)fd; *size = 0; return LLMCACHE_EUNSUPPORTED; }
static int llmcache__f_pread(llmcache__fd fd, void *buf, size_t n, uint64_t off) {
    (void)fd; (void)buf; (void)n; (void)off;
    return LLMCACHE_EUNSUPPORTED;
}
static int llmcache__f_pwrite(llmcache__fd fd, const void *buf, size_t n, uint64_t off) {
    (void)fd; (void)buf; (void)n; (void)off;
    return LLMCACHE_EUNSUPPORTED;
}
static int llmcache__f_sync(llmcache__fd fd) { (void)fd; return LLMCACHE_EUNSUPPORTED; }
static int llmcache__f_truncate(llmcache__fd fd, uint64_t size) { (void)fd; (void)size; return LLMCACHE_EUNSUPPORTED; }
static int llmcache__f_allocate(llmcache__fd fd, uint64_t off, uint64_t len) {
    (void)fd; (void)off; (void)len;
    return LLMCACHE_EUNSUPPORTED;
}
static int llmcache__f_map(llmcache__fd fd, size_t *len, int writable, unsigned char **out) {
    (void)fd; (void)len; (void)writable;
    *out = NULL;
    return LLMCACHE_EUNSUPPORTED;
}
static void llmcache__f_unmap(unsigned char *p, size_t len) { (void)p; (void)len; }
static void llmcache__f_prefault(unsigned char *map, uint64_t off, uint64_t len) { (void)map; (void)off; (void)len; }
static void llmcache__f_advise_huge(void *p, size_t len) { (void)p; (void)len; }
static uint64_t llmcache__f_page_size(void) { return 4096u; }
static int llmcache__f_msync(llmcache__fd fd, unsigned char *map, uint64_t off, uint64_t len) {
    (void)fd; (void)map; (void)off; (void)len;
    return LLMCACHE_EUNSUPPORTED;
}
static int llmcache__f_lock(llmcache__fd fd, llmcache__lock_byte byte, llmcache__lock_mode mode,
                            llmcache__lock_wait wait) {
    (void)fd; (void)byte; (void)mode; (void)wait;
    return LLMCACHE_EUNSUPPORTED;
}
static int llmcache__f_lock_held(llmcache__fd fd, llmcache__lock_byte byte) { (void)fd; (void)byte; return 0; }
static int llmcache__f_regular(llmcache__fd fd) { (void)fd; return 0; }
static int llmcache__f_replace(const char *from, const char *to) { (void)from; (void)to; return LLMCACHE_EUNSUPPORTED; }
static void llmcache__f_unlink(const char *path) { (void)path; }
/* 0: no source of randomness here (the table seed keeps the address and the clock) */
static uint64_t llmcache__f_random64(void) { return 0; }
typedef uint64_t llmcache__pmutex;
static int llmcache__pmutex_init(llmcache__pmutex *m) { *m = 0; return LLMCACHE_EUNSUPPORTED; }
static int llmcache__pmutex_lock(llmcache__pmutex *m, llmcache__fd fd) { (void)m; (void)fd; return LLMCACHE_EUNSUPPORTED; }
static void llmcache__pmutex_consistent(llmcache__pmutex *m) { (void)m; }
static void llmcache__pmutex_unlock(llmcache__pmutex *m, llmcache__fd fd) { (void)m; (void)fd; }
#endif /* LLMCACHE__FILES */

/* >>bytes ----------------------------------------------------------------------
 * Little-endian loads and stores, one byte at a time: no unaligned access. */
static uint32_t llmcache__ld32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t llmcache__ld64(const unsigned char *p) {
    return (uint64_t)llmcache__ld32(p) | (uint64_t)llmcache__ld32(p + 4) << 32;
}
static void llmcache__st32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void llmcache__st64(unsigned char *p, uint64_t v) {
    llmcache__st32(p, (uint32_t)v);
    llmcache__st32(p + 4, (uint32_t)(v >> 32));
}

/* Lowercase hexadecimal digits: keys, JSON escapes, file-name suffixes, lock tokens. */
static const char llmcache__hex_digits[] = "0123456789abcdef";

/* v as 16 hex digits, most significant first (no NUL). */
static void llmcache__hex64(uint64_t v, char out[16]) {
    int i;
    for (i = 15; i >= 0; i--, v >>= 4) out[i] = llmcache__hex_digits[v & 15u];
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

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)) && !defined(__TINYC__) && \
    !defined(_MSC_VER)   /* clang-cl has neither __builtin_cpu_supports's runtime nor the pclmul header */
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

/* The crc32 instruction has a latency of three cycles and a throughput of one, so
 * three independent streams over adjacent 256-byte blocks run three times as fast;
 * their CRCs are joined by carry-less multiplication: appending L zero bytes to a
 * CRC register v gives crc32q(0, clmul(v, x^(8L-33) mod P)) in the instruction's
 * bit-reflected form. The two constants are x^(8*512-33) and x^(8*256-33) mod P. */
#  include <immintrin.h>
#  define LLMCACHE__CRC_BLOCK 256
__attribute__((target("sse4.2,pclmul")))
static uint32_t llmcache__crc32c_hw3(uint32_t crc, const unsigned char *p, size_t n) {
    const __m128i k = _mm_set_epi64x(0xb9e02b86ll, 0xdd7e3b0cll);   /* high: 256 bytes, low: 512 */
    uint64_t a = crc;
    while (n && ((uintptr_t)p & 7)) { a = __builtin_ia32_crc32qi((uint32_t)a, *p++); n--; }
    for (; n >= 3 * LLMCACHE__CRC_BLOCK; p += 3 * LLMCACHE__CRC_BLOCK, n -= 3 * LLMCACHE__CRC_BLOCK) {
        uint64_t b = 0, c = 0, x, y, z;
        __m128i ab;
        size_t i;
        for (i = 0; i < LLMCACHE__CRC_BLOCK; i += 8) {
            memcpy(&x, p + i, 8);
            memcpy(&y, p + LLMCACHE__CRC_BLOCK + i, 8);
            memcpy(&z, p + 2 * LLMCACHE__CRC_BLOCK + i, 8);
            a = __builtin_ia32_crc32di(a, x);
            b = __builtin_ia32_crc32di(b, y);
            c = __builtin_ia32_crc32di(c, z);
        }
        ab = _mm_set_epi64x((long long)b, (long long)a);
        x = (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(_mm_clmulepi64_si128(ab, k, 0x00),
                                                      _mm_clmulepi64_si128(ab, k, 0x11)));
        a = __builtin_ia32_crc32di(0, x) ^ c;
    }
    return llmcache__crc32c_hw((uint32_t)a, p, n);
}
#endif

/* Continues a CRC-32C: start with crc = 0. */
static uint32_t llmcache__crc32c(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    crc = ~crc;
#ifdef LLMCACHE__CRC_HW
    if (n >= 3 * LLMCACHE__CRC_BLOCK && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.2"))
        return ~llmcache__crc32c_hw3(crc, p, n);
    if (__builtin_cpu_supports("sse4.2")) return ~llmcache__crc32c_hw(crc, p, n);
#endif
    return ~llmcache__crc32c_sw(crc, p, n);
}

/* >>buffer ---------------------------------------------------------------------
 * A growable byte buffer. An allocation failure sets oom and makes every later
 * append a no-op, so callers check once at the end. */
typedef struct llmcache__buf { char *p; size_t len, cap; int oom; } llmcache__buf;

static int llmcache__buf_reserve(llmcache__buf *b, size_t extra) {
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
static void llmcache__buf_put(llmcache__buf *b, const void *p, size_t n) {
    if (n == 0 || !llmcache__buf_reserve(b, n)) return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}
static void llmcache__buf_putc(llmcache__buf *b, char ch) {
    if (!llmcache__buf_reserve(b, 1)) return;
    b->p[b->len++] = ch;
}
static void llmcache__buf_free(llmcache__buf *b) {
    LLMCACHE_FREE(b->p);
    b->p = NULL; b->len = b->cap = 0; b->oom = 0;
}

/* >>json (RFC 8259 parser, I-JSON checks, RFC 8785 serializer) ------------------
 * A section of llmcache.h's implementation: it follows llmcache__buf and the
 * allocator macros.
 *
 * llmcache__json_parse builds a read-only DOM in an arena owned by a
 * llmcache__jdoc: strings are decoded into one block as large as the input (a
 * decoded string is never longer than its source), nodes go into chunks that
 * double in size, and the members of each object are merge-sorted by their
 * names as UTF-16 code units when the object closes, so that duplicates sit side
 * by side and the serializer writes them in order. llmcache__jcs is parse plus
 * serialize. Numbers convert without the C library, so no locale applies:
 * decimal -> double is Clinger's exact fast path, else a double approximation
 * corrected by exact big-integer comparisons with the halfway points; double ->
 * shortest is a 15-digit exact fast path, else Burger & Dybvig with big integers.
 * Recursion is bounded by LLMCACHE_MAX_DEPTH (one small frame per level).
 *
 * Error offsets: the first byte where the text stops being a prefix of valid
 * JSON; an ill-formed UTF-8 sequence, a lone surrogate escape or a number that
 * overflows is reported at its first byte; a duplicate name at the opening quote
 * of its later occurrence (found when its object closes, so a syntax error
 * inside that object is reported first). Each error carries an LLMCACHE_JSON_*
 * code, set where it is found; llmcache__json_unexpected names a byte that cannot
 * stand where it is (end of input, byte-order mark, invalid UTF-8, or syntax). */
#include <float.h>

typedef char llmcache__json_ieee_double[sizeof(double) == 8 && DBL_MANT_DIG == 53 ? 1 : -1];

/* The exact fast paths need double arithmetic without excess precision
   (tests define LLMCACHE__JSON_FAST 0 to check the slow paths alone). */
#ifndef LLMCACHE__JSON_FAST
#  if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0 && !defined(__FAST_MATH__)
#    define LLMCACHE__JSON_FAST 1
#  else
#    define LLMCACHE__JSON_FAST 0
#  endif
#endif

enum { LLMCACHE__JNULL, LLMCACHE__JFALSE, LLMCACHE__JTRUE, LLMCACHE__JNUM, LLMCACHE__JSTR,
       LLMCACHE__JARR, LLMCACHE__JOBJ };

typedef struct llmcache__jv llmcache__jv;
typedef struct llmcache__jmem llmcache__jmem;

/* A value. Strings are decoded UTF-8 followed by a NUL (they may hold NULs). */
struct llmcache__jv {
    unsigned char type;  /* LLMCACHE__J* */
    unsigned char esc;   /* JSTR: holds '"', '\\' or a control character */
    size_t n;            /* JSTR: bytes; JARR: items; JOBJ: members */
    union { double num; const char *str; const llmcache__jv *items; const llmcache__jmem *mems; } u;
};

/* An object member; an object's members are sorted by name (UTF-16 order). */
struct llmcache__jmem {
    llmcache__jv name;   /* a JSTR */
    llmcache__jv val;
    size_t off;          /* offset of the name's opening quote in the source */
};

typedef struct llmcache__jchunk { struct llmcache__jchunk *next; size_t cap, used; } llmcache__jchunk;
#define LLMCACHE__JCHUNK_HDR ((sizeof(llmcache__jchunk) + 15u) & ~(size_t)15u)

/* Owns every node and string of a parsed document. */
typedef struct llmcache__jdoc {
    llmcache__jchunk *chunks; /* newest first; allocation goes into the first */
    size_t grow;              /* capacity of the next chunk */
} llmcache__jdoc;

static void llmcache__json_free(llmcache__jdoc *doc) {
    llmcache__jchunk *c = doc->chunks, *next;
    for (; c; c = next) { next = c->next; LLMCACHE_FREE(c); }
    doc->chunks = NULL;
    doc->grow = 0;
}

/* size bytes, 8-aligned, from the arena; NULL when out of memory. */
static void *llmcache__json_alloc(llmcache__jdoc *doc, size_t size) {
    llmcache__jchunk *c = doc->chunks;
    size = (size + 7u) & ~(size_t)7u;
    if (size == 0) size = 8;
    if (!c || c->cap - c->used < size) {
        size_t cap = doc->grow > size ? doc->grow : size;
        if (cap > (size_t)-1 - LLMCACHE__JCHUNK_HDR) return NULL;
        c = (llmcache__jchunk *)LLMCACHE_MALLOC(LLMCACHE__JCHUNK_HDR + cap);
        if (!c) return NULL;
        c->cap = cap; c->used = 0;
        c->next = doc->chunks; doc->chunks = c;
        doc->grow = cap > (size_t)-1 / 4 ? cap : cap * 2;
    }
    c->used += size;
    return (char *)c + LLMCACHE__JCHUNK_HDR + c->used - size;
}

/* ---- big integers, for exact number conversion --------------------------- */
#define LLMCACHE__JBIGW 128  /* 4096 bits: the largest product needed is ~2700 bits */
typedef struct llmcache__jbig { uint32_t w[LLMCACHE__JBIGW]; size_t n; } llmcache__jbig;

static void llmcache__jbig_set(llmcache__jbig *b, uint64_t v) {
    b->w[0] = (uint32_t)v;
    b->w[1] = (uint32_t)(v >> 32);
    b->n = (v >> 32) ? 2 : v ? 1 : 0;
}
static void llmcache__jbig_copy(llmcache__jbig *d, const llmcache__jbig *s) {
    memcpy(d->w, s->w, s->n * sizeof s->w[0]);
    d->n = s->n;
}
static void llmcache__jbig_push(llmcache__jbig *b, uint32_t w) {
    LLMCACHE_ASSERT(b->n < LLMCACHE__JBIGW);
    if (b->n < LLMCACHE__JBIGW) b->w[b->n++] = w;
}
/* b = b * m + a */
static void llmcache__jbig_muladd(llmcache__jbig *b, uint32_t m, uint32_t a) {
    uint64_t carry = a;
    size_t i;
    for (i = 0; i < b->n; i++) {
        uint64_t t = (uint64_t)b->w[i] * m + carry;
        b->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry) llmcache__jbig_push(b, (uint32_t)carry);
}
static void llmcache__jbig_shl(llmcache__jbig *b, size_t bits) {
    size_t words = bits / 32, sh = bits % 32, n = b->n, i;
    if (n == 0) return;
    LLMCACHE_ASSERT(n + words < LLMCACHE__JBIGW);
    if (n + words >= LLMCACHE__JBIGW) { b->n = 0; return; }
    if (sh) {
        uint32_t top = b->w[n - 1] >> (32 - sh);
        for (i = n - 1; i > 0; i--) b->w[i + words] = (b->w[i] << sh) | (b->w[i - 1] >> (32 - sh));
        b->w[words] = b->w[0] << sh;
        b->n = n + words;
        if (top) b->w[b->n++] = top;
    } else {
        memmove(b->w + words, b->w, n * sizeof b->w[0]);
        b->n = n + words;
    }
    memset(b->w, 0, words * sizeof b->w[0]);
}
static int llmcache__jbig_cmp(const llmcache__jbig *a, const llmcache__jbig *b) {
    size_t i;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (i = a->n; i-- > 0;)
        if (a->w[i] != b->w[i]) return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}
/* b += a */
static void llmcache__jbig_add(llmcache__jbig *b, const llmcache__jbig *a) {
    size_t i, n = a->n > b->n ? a->n : b->n;
    uint64_t carry = 0;
    for (i = 0; i < n; i++) {
        uint64_t t = carry + (i < b->n ? b->w[i] : 0) + (i < a->n ? a->w[i] : 0);
        b->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    b->n = n;
    if (carry) llmcache__jbig_push(b, (uint32_t)carry);
}
/* b -= a, where b >= a */
static void llmcache__jbig_sub(llmcache__jbig *b, const llmcache__jbig *a) {
    size_t i;
    uint64_t borrow = 0;
    for (i = 0; i < b->n; i++) {
        uint64_t t = (uint64_t)b->w[i] - (i < a->n ? a->w[i] : 0) - borrow;
        b->w[i] = (uint32_t)t;
        borrow = (t >> 32) ? 1 : 0;
    }
    while (b->n && b->w[b->n - 1] == 0) b->n--;
}
static void llmcache__jbig_mul64(llmcache__jbig *b, uint64_t m) {
    llmcache__jbig hi;
    if ((m >> 32) == 0) { llmcache__jbig_muladd(b, (uint32_t)m, 0); return; }
    llmcache__jbig_copy(&hi, b);
    llmcache__jbig_muladd(&hi, (uint32_t)(m >> 32), 0);
    llmcache__jbig_shl(&hi, 32);
    llmcache__jbig_muladd(b, (uint32_t)m, 0);
    llmcache__jbig_add(b, &hi);
}
static void llmcache__jbig_pow5(llmcache__jbig *b, int64_t e) {
    static const uint32_t p5[13] = { 1u, 5u, 25u, 125u, 625u, 3125u, 15625u, 78125u, 390625u,
                                     1953125u, 9765625u, 48828125u, 244140625u };
    for (; e >= 13; e -= 13) llmcache__jbig_muladd(b, 1220703125u, 0);
    if (e > 0) llmcache__jbig_muladd(b, p5[e], 0);
}
static void llmcache__jbig_pow10(llmcache__jbig *b, int64_t e) {
    llmcache__jbig_pow5(b, e);
    llmcache__jbig_shl(b, (size_t)e);
}

/* ---- decimal -> double ------------------------------------------------------ */
static const double llmcache__json_p10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

#define LLMCACHE__JSON_MAXDIG 800    /* more than the 767 a halfway point can need */
#define LLMCACHE__JSON_DBL_MAX_BITS 0x7fefffffffffffffu

static uint64_t llmcache__json_bits(double d) { uint64_t u; memcpy(&u, &d, sizeof u); return u; }
static double llmcache__json_double(uint64_t u) { double d; memcpy(&d, &u, sizeof d); return d; }

/* Compares V = D * 10^e with c * 2^p (-1, 0, 1), where x = D * 5^max(e,0) and
   y5 = 5^max(-e,0): both sides times 5^max(-e,0) are x * 2^e and c * y5 * 2^p. */
static int llmcache__json_cmp_mid(const llmcache__jbig *x, const llmcache__jbig *y5, int64_t e,
                                  uint64_t c, int p) {
    llmcache__jbig l, r;
    int64_t t = e - p;
    llmcache__jbig_copy(&l, x);
    llmcache__jbig_copy(&r, y5);
    llmcache__jbig_mul64(&r, c);
    if (t > 0) llmcache__jbig_shl(&l, (size_t)t);
    else llmcache__jbig_shl(&r, (size_t)-t);
    return llmcache__jbig_cmp(&l, &r);
}

/* The double nearest to the significant digits in s[i0..i1) ++ s[f0..f1) times
   10^(k - number of digits) (ties to even), starting from the guess approx.
   Returns 0, or 2 on overflow. */
static int llmcache__json_num_slow(const char *s, size_t i0, size_t i1, size_t f0, size_t f1,
                                   int64_t k, double approx, uint64_t *bits) {
    llmcache__jbig x, y5;
    size_t i, nd = 0;
    uint32_t chunk = 0, mul = 1;
    int sticky = 0, pass;
    int64_t e;
    uint64_t u;
    x.n = 0;
    for (pass = 0; pass < 2; pass++) {
        size_t a = pass ? f0 : i0, b = pass ? f1 : i1;
        for (i = a; i < b; i++) {
            uint32_t d = (uint32_t)(s[i] - '0');
            if (nd == 0 && d == 0) continue;
            if (nd == LLMCACHE__JSON_MAXDIG) { if (d) sticky = 1; continue; }
            chunk = chunk * 10 + d; mul *= 10; nd++;
            if (mul == 1000000000u) { llmcache__jbig_muladd(&x, mul, chunk); chunk = 0; mul = 1; }
        }
    }
    if (sticky) { chunk = chunk * 10 + 1; mul *= 10; nd++; }
    if (mul > 1) llmcache__jbig_muladd(&x, mul, chunk);
    e = k - (int64_t)nd;
    llmcache__jbig_set(&y5, 1);
    if (e > 0) llmcache__jbig_pow5(&x, e);
    else llmcache__jbig_pow5(&y5, -e);

    u = approx <= DBL_MAX ? llmcache__json_bits(approx) : (uint64_t)LLMCACHE__JSON_DBL_MAX_BITS;
    for (;;) {
        int be = (int)(u >> 52), c;
        uint64_t frac = u & (((uint64_t)1 << 52) - 1);
        uint64_t m = be ? frac | ((uint64_t)1 << 52) : frac;
        int e2 = be ? be - 1075 : -1074;
        c = llmcache__json_cmp_mid(&x, &y5, e, 2 * m + 1, e2 - 1);
        if (c > 0 || (c == 0 && (m & 1))) {
            if (u == LLMCACHE__JSON_DBL_MAX_BITS) return 2;
            u++;
            continue;
        }
        if (u == 0) break;
        if (frac == 0 && be > 1) c = llmcache__json_cmp_mid(&x, &y5, e, 4 * m - 1, e2 - 2);
        else c = llmcache__json_cmp_mid(&x, &y5, e, 2 * m - 1, e2 - 1);
        if (c < 0 || (c == 0 && (m & 1))) { u--; continue; }
        break;
    }
    *bits = u;
    return 0;
}

static int llmcache__json_isdigit(char c) { return c >= '0' && c <= '9'; }

/* Scans an RFC 8259 number at the start of s[0..n) and converts it, correctly
   rounded. Returns 0 with *used = the token's length, 1 when malformed (*used =
   offset of the offending byte), 2 when it overflows a double. */
static int llmcache__json_scan_num(const char *s, size_t n, size_t *used, double *out) {
    size_t i = 0, i0, i1, f0, f1;
    int neg = 0, cnt = 0, trunc = 0, pass;
    int64_t ex = 0, e10, k;
    uint64_t mant = 0;
    double v;
    if (i < n && s[i] == '-') { neg = 1; i++; }
    i0 = i;
    if (i >= n || !llmcache__json_isdigit(s[i])) { *used = i; return 1; }
    if (s[i] == '0') i++;
    else while (i < n && llmcache__json_isdigit(s[i])) i++;
    i1 = f0 = f1 = i;
    if (i < n && s[i] == '.') {
        f0 = ++i;
        if (i >= n || !llmcache__json_isdigit(s[i])) { *used = i; return 1; }
        while (i < n && llmcache__json_isdigit(s[i])) i++;
        f1 = i;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        if (i >= n || !llmcache__json_isdigit(s[i])) { *used = i; return 1; }
        for (; i < n && llmcache__json_isdigit(s[i]); i++)
            if (ex < ((int64_t)1 << 50)) ex = ex * 10 + (s[i] - '0');
        if (eneg) ex = -ex;
    }
    *used = i;

    /* mant = the first 19 significant digits, value ~ mant * 10^e10 */
    e10 = ex;
    for (pass = 0; pass < 2; pass++) {
        size_t a = pass ? f0 : i0, b = pass ? f1 : i1, j;
        for (j = a; j < b; j++) {
            int d = s[j] - '0';
            if (cnt < 19) {
                if (cnt || d) { mant = mant * 10 + (uint64_t)d; cnt++; }
                if (pass) e10--;
            } else {
                if (!pass) e10++;
                if (d) trunc = 1;
            }
        }
    }
    k = e10 + cnt;  /* 10^(k-1) <= value < 10^k */
    if (cnt == 0 || k <= -324) v = 0.0;
    else if (k >= 310) return 2;
    else {
        (void)trunc;
#if LLMCACHE__JSON_FAST
        if (!trunc && mant <= ((uint64_t)1 << 53)) {
            if (e10 >= 0 && e10 <= 22) {
                *out = (neg ? -1.0 : 1.0) * ((double)mant * llmcache__json_p10[e10]);
                return 0;
            }
            if (e10 < 0 && e10 >= -22) {
                *out = (neg ? -1.0 : 1.0) * ((double)mant / llmcache__json_p10[-e10]);
                return 0;
            }
            if (e10 > 22 && e10 <= 22 + 15) {
                uint64_t p = 1;
                int64_t j;
                for (j = 22; j < e10; j++) p *= 10;
                if (mant <= ((uint64_t)1 << 53) / p) {
                    *out = (neg ? -1.0 : 1.0) * ((double)(mant * p) * 1e22);
                    return 0;
                }
            }
        }
#endif
        {
            double a = (double)mant;
            int64_t e = e10;
            uint64_t u;
            for (; e > 22; e -= 22) a *= 1e22;
            for (; e < -22; e += 22) a /= 1e22;
            a = e >= 0 ? a * llmcache__json_p10[e] : a / llmcache__json_p10[-e];
            if (llmcache__json_num_slow(s, i0, i1, f0, f1, k, a, &u)) return 2;
            v = llmcache__json_double(u);
        }
    }
    *out = neg ? -v : v;
    return 0;
}

#ifdef LLMCACHE_TEST_HOOKS   /* for tests/test_canon.c and fuzz/fuzz_canon.c */
/* Correctly rounded decimal -> double of the RFC 8259 number token s[0..n);
   0 on success, -1 if malformed or it overflows to infinity. */
static LLMCACHE__MAYBE_UNUSED int llmcache__json_parse_num(const char *s, size_t n, double *out) {
    size_t used;
    double v;
    if (llmcache__json_scan_num(s, n, &used, &v) != 0 || used != n) return -1;
    *out = v;
    return 0;
}
#endif

/* ---- double -> shortest decimal (ECMAScript Number::toString) -------------- */

/* Writes the decimal digits of v (no leading zeros, v > 0); returns their count. */
static int llmcache__json_u64_digits(uint64_t v, char *dig) {
    char tmp[20];
    int n = 0, i;
    do { tmp[n++] = (char)('0' + (int)(v % 10)); v /= 10; } while (v);
    for (i = 0; i < n; i++) dig[i] = tmp[n - 1 - i];
    return n;
}

#if LLMCACHE__JSON_FAST
/* Exact when x has a representation of at most 15 significant digits (most
   numbers written by people): finds it with one multiply and checks it with one
   correctly rounded division. Returns the digit count, or 0 to fall back. */
static int llmcache__json_short15(double x, int etop, char *dig, int *k) {
    int e10 = etop >= 0 ? (etop * 78913) >> 18 : -((-etop * 78913 + 262143) >> 18);
    int s = 14 - e10, n, tries;
    double y = 0;
    uint64_t t;
    for (tries = 0; tries < 3; tries++) {
        if (s < -22 || s > 22) return 0;
        y = s >= 0 ? x * llmcache__json_p10[s] : x / llmcache__json_p10[-s];
        if (y >= 1e15) s--;
        else if (y < 1e14) s++;
        else break;
    }
    if (tries == 3) return 0;
    t = (uint64_t)(y + 0.5);
    if ((s >= 0 ? (double)t / llmcache__json_p10[s] : (double)t * llmcache__json_p10[-s]) != x) return 0;
    n = llmcache__json_u64_digits(t, dig);
    *k = n - s;
    while (dig[n - 1] == '0') n--;
    return n;
}
#endif

/* Burger & Dybvig free-format shortest digits of f * 2^e, the closest of the
   shortest when several round-trip (ties to the even digit). */
static int llmcache__json_shortest(uint64_t f, int e, char *dig, int *kout) {
    llmcache__jbig r, s, mp, mm, t;
    int even = (f & 1) == 0, asym = f == ((uint64_t)1 << 52) && e > -1074;
    int etop = e, k, nd = 0;
    uint64_t g;
    for (g = f; g > 1; g >>= 1) etop++;
    if (e >= 0) {
        llmcache__jbig_set(&r, f); llmcache__jbig_shl(&r, (size_t)e + 1 + (size_t)asym);
        llmcache__jbig_set(&s, asym ? 4 : 2);
        llmcache__jbig_set(&mp, 1); llmcache__jbig_shl(&mp, (size_t)e + (size_t)asym);
        llmcache__jbig_set(&mm, 1); llmcache__jbig_shl(&mm, (size_t)e);
    } else {
        llmcache__jbig_set(&r, f); llmcache__jbig_shl(&r, 1 + (size_t)asym);
        llmcache__jbig_set(&s, 1); llmcache__jbig_shl(&s, (size_t)(1 - e) + (size_t)asym);
        llmcache__jbig_set(&mp, asym ? 2 : 1);
        llmcache__jbig_set(&mm, 1);
    }
    /* k ~ ceil(log10(v)); the loops below correct it */
    k = (etop >= 0 ? (etop * 78913) >> 18 : -((-etop * 78913 + 262143) >> 18)) + 1;
    if (k >= 0) llmcache__jbig_pow10(&s, k);
    else {
        llmcache__jbig_pow10(&r, -k); llmcache__jbig_pow10(&mp, -k); llmcache__jbig_pow10(&mm, -k);
    }
    for (;;) {  /* high boundary must be below 10^k (or at it, when excluded) */
        int c;
        llmcache__jbig_copy(&t, &r); llmcache__jbig_add(&t, &mp);
        c = llmcache__jbig_cmp(&t, &s);
        if (even ? c < 0 : c <= 0) break;
        llmcache__jbig_muladd(&s, 10, 0); k++;
    }
    for (;;) {  /* ... and not below 10^(k-1) */
        int c;
        llmcache__jbig_copy(&t, &r); llmcache__jbig_add(&t, &mp); llmcache__jbig_muladd(&t, 10, 0);
        c = llmcache__jbig_cmp(&t, &s);
        if (even ? c >= 0 : c > 0) break;
        llmcache__jbig_muladd(&r, 10, 0); llmcache__jbig_muladd(&mp, 10, 0); llmcache__jbig_muladd(&mm, 10, 0);
        k--;
    }
    for (;;) {
        int d = 0, lo, hi, c;
        llmcache__jbig_muladd(&r, 10, 0); llmcache__jbig_muladd(&mp, 10, 0); llmcache__jbig_muladd(&mm, 10, 0);
        while (llmcache__jbig_cmp(&r, &s) >= 0) { llmcache__jbig_sub(&r, &s); d++; }
        c = llmcache__jbig_cmp(&r, &mm);
        lo = even ? c <= 0 : c < 0;
        llmcache__jbig_copy(&t, &r); llmcache__jbig_add(&t, &mp);
        c = llmcache__jbig_cmp(&t, &s);
        hi = even ? c >= 0 : c > 0;
        if (lo && hi) {  /* both d and d+1 round-trip: the closer one */
            llmcache__jbig_copy(&t, &r); llmcache__jbig_shl(&t, 1);
            c = llmcache__jbig_cmp(&t, &s);
            if (c > 0 || (c == 0 && (d & 1))) d++;
        } else if (hi) d++;
        LLMCACHE_ASSERT(d <= 9 && nd < 18);
        dig[nd++] = (char)('0' + d);
        if (lo || hi || nd >= 18) break;
    }
    *kout = k;
    return nd;
}

/* ES Number::toString of a finite double into out (NUL-terminated); returns
   the length (<= 25). -0 prints "0". */
static size_t llmcache__json_fmt_num(double d, char out[32]) {
    uint64_t u = llmcache__json_bits(d), frac = u & (((uint64_t)1 << 52) - 1);
    int neg = (int)(u >> 63), be = (int)((u >> 52) & 0x7ff), nd = 0, k = 0, i;
    char dig[24];
    size_t o = 0;
    if (be == 0x7ff) {
        const char *w = frac ? "NaN" : neg ? "-Infinity" : "Infinity";
        size_t n = strlen(w);
        memcpy(out, w, n + 1);
        return n;
    }
    if (be == 0 && frac == 0) { out[0] = '0'; out[1] = '\0'; return 1; }
    if (neg) { out[o++] = '-'; d = -d; }
    if (d < 9007199254740992.0 && d == (double)(int64_t)d) {  /* integers below 2^53 */
        o += (size_t)llmcache__json_u64_digits((uint64_t)d, out + o);
        out[o] = '\0';
        return o;
    }
#if LLMCACHE__JSON_FAST
    if (be) nd = llmcache__json_short15(d, be - 1023, dig, &k);
#endif
    if (nd == 0) {
        uint64_t f = be ? frac | ((uint64_t)1 << 52) : frac;
        nd = llmcache__json_shortest(f, be ? be - 1075 : -1074, dig, &k);
    }
    /* value = 0.dig * 10^k; the cases of ES Number::toString */
    if (k >= nd && k <= 21) {
        memcpy(out + o, dig, (size_t)nd); o += (size_t)nd;
        for (i = nd; i < k; i++) out[o++] = '0';
    } else if (k > 0 && k <= 21) {
        memcpy(out + o, dig, (size_t)k); o += (size_t)k;
        out[o++] = '.';
        memcpy(out + o, dig + k, (size_t)(nd - k)); o += (size_t)(nd - k);
    } else if (k > -6 && k <= 0) {
        out[o++] = '0'; out[o++] = '.';
        for (i = k; i < 0; i++) out[o++] = '0';
        memcpy(out + o, dig, (size_t)nd); o += (size_t)nd;
    } else {
        int x = k - 1;
        out[o++] = dig[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, dig + 1, (size_t)(nd - 1)); o += (size_t)(nd - 1);
        }
        out[o++] = 'e';
        out[o++] = x < 0 ? '-' : '+';
        o += (size_t)llmcache__json_u64_digits((uint64_t)(x < 0 ? -x : x), out + o);
    }
    out[o] = '\0';
    return o;
}

/* ---- parser ----------------------------------------------------------------- */
typedef struct llmcache__jparser {
    const unsigned char *s, *p, *end;
    char *sp;                      /* next free byte of the string block */
    llmcache__jdoc *doc;
    llmcache__jmem *stk;           /* pending items and members of open containers */
    size_t stk_n, stk_cap;
    size_t err;                    /* offset of the error */
    int err_code;                  /* LLMCACHE_JSON_* */
    llmcache__jmem stk0[32];
} llmcache__jparser;

static int llmcache__json_fail(llmcache__jparser *P, const unsigned char *at, int code) {
    P->err = (size_t)(at - P->s);
    P->err_code = code;
    return LLMCACHE_EINVAL;
}

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t llmcache__json_utf8(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0], lo = 0x80, hi = 0xbf;
    size_t n, i, avail = (size_t)(end - p);
    if (c < 0xc2 || c > 0xf4) return 0;
    if (c < 0xe0) n = 2;
    else if (c < 0xf0) { n = 3; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
    else { n = 4; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
    if (avail < n || p[1] < lo || p[1] > hi) return 0;
    for (i = 2; i < n; i++) if ((p[i] & 0xc0) != 0x80) return 0;
    return n;
}

/* A byte that cannot come at `at` (or the end): names what it is. */
static int llmcache__json_unexpected(llmcache__jparser *P, const unsigned char *at) {
    int code = LLMCACHE_JSON_ESYNTAX;
    if (at == P->end) code = LLMCACHE_JSON_ETRUNCATED;
    else if (at == P->s && P->end - at >= 3 && at[0] == 0xef && at[1] == 0xbb && at[2] == 0xbf)
        code = LLMCACHE_JSON_EBOM;
    else if (*at >= 0x80 && !llmcache__json_utf8(at, P->end)) code = LLMCACHE_JSON_EUTF8;
    return llmcache__json_fail(P, at, code);
}

/* Doubles the pending-entry stack (it starts inside the parser). */
static int llmcache__json_grow(llmcache__jparser *P) {
    size_t cap = P->stk_cap * 2;
    llmcache__jmem *ns;
    if (cap > (size_t)-1 / sizeof *ns) return LLMCACHE_ENOMEM;
    if (P->stk == P->stk0) {
        ns = (llmcache__jmem *)LLMCACHE_MALLOC(cap * sizeof *ns);
        if (ns) memcpy(ns, P->stk, P->stk_n * sizeof *ns);
    } else {
        ns = (llmcache__jmem *)LLMCACHE_REALLOC(P->stk, cap * sizeof *ns);
    }
    if (!ns) return LLMCACHE_ENOMEM;
    P->stk = ns;
    P->stk_cap = cap;
    return LLMCACHE_OK;
}
#define LLMCACHE__JSON_PUSH(P, m) \
    ((P)->stk_n < (P)->stk_cap || llmcache__json_grow(P) == LLMCACHE_OK ? ((P)->stk[(P)->stk_n++] = (m), 1) : 0)

static const unsigned char *llmcache__json_ws(const unsigned char *p, const unsigned char *end) {
    while (p < end && *p <= ' ') {
        if (*p == ' ' && end - p >= 8) {  /* indentation, 8 spaces at a time */
            uint64_t w;
            memcpy(&w, p, 8);
            if (w == 0x2020202020202020u) { p += 8; continue; }
        }
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') break;
        p++;
    }
    return p;
}

static int llmcache__json_hex4(const unsigned char *p, const unsigned char *end, unsigned *out,
                               const unsigned char **bad) {
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned c = p + i < end ? p[i] : 0u, d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = (c | 0x20) - 'a' + 10;
        else { *bad = p + i; return 0; }
        v = v << 4 | d;
    }
    *out = v;
    return 1;
}

/* Eight bytes hold a '"', a '\\' or a control character. */
static int llmcache__json_esc8(uint64_t w) {
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high ? 1 : 0;
}

/* ... or a byte >= 0x80. */
static int llmcache__json_special8(uint64_t w) {
    return (w & 0x8080808080808080u) != 0 || llmcache__json_esc8(w);
}

/* The string at P->p (its opening quote), decoded into the string block. Runs
   of bytes that need no decoding are validated, then copied with one memcpy. */
static int llmcache__json_str_parse(llmcache__jparser *P, llmcache__jv *out) {
    const unsigned char *p = P->p + 1, *end = P->end, *run = p;
    char *d = P->sp, *d0 = d;
    unsigned char esc = 0;
    for (;;) {
        unsigned c;
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (llmcache__json_special8(w)) break;
            p += 8;
        }
        if (p == end) return llmcache__json_fail(P, p, LLMCACHE_JSON_ETRUNCATED);
        c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') { p++; continue; }
        if (c >= 0x80) {
            size_t n;
            if (c >= 0xc2 && c < 0xe0 && end - p >= 2 && (p[1] & 0xc0) == 0x80) { p += 2; continue; }
            n = llmcache__json_utf8(p, end);
            if (!n) return llmcache__json_fail(P, p, LLMCACHE_JSON_EUTF8);
            p += n;
            continue;
        }
        memcpy(d, run, (size_t)(p - run));
        d += p - run;
        if (c == '"') break;
        if (c < 0x20) return llmcache__json_fail(P, p, LLMCACHE_JSON_ECONTROL);
        /* an escape */
        if (end - p < 2) return llmcache__json_fail(P, end, LLMCACHE_JSON_ETRUNCATED);
        switch (p[1]) {
        case '"':  *d++ = '"';  esc = 1; p += 2; break;
        case '\\': *d++ = '\\'; esc = 1; p += 2; break;
        case '/':  *d++ = '/';  p += 2; break;
        case 'b':  *d++ = '\b'; esc = 1; p += 2; break;
        case 'f':  *d++ = '\f'; esc = 1; p += 2; break;
        case 'n':  *d++ = '\n'; esc = 1; p += 2; break;
        case 'r':  *d++ = '\r'; esc = 1; p += 2; break;
        case 't':  *d++ = '\t'; esc = 1; p += 2; break;
        case 'u': {
            unsigned cp, lo;
            const unsigned char *bad;
            if (!llmcache__json_hex4(p + 2, end, &cp, &bad)) return llmcache__json_fail(P, bad, LLMCACHE_JSON_EESCAPE);
            if (cp >= 0xdc00 && cp <= 0xdfff) return llmcache__json_fail(P, p, LLMCACHE_JSON_ESURROGATE);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
                    !llmcache__json_hex4(p + 8, end, &lo, &bad) || lo < 0xdc00 || lo > 0xdfff)
                    return llmcache__json_fail(P, p, LLMCACHE_JSON_ESURROGATE);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            p += 6;
            if (cp < 0x80) {
                *d++ = (char)cp;
                if (cp < 0x20 || cp == '"' || cp == '\\') esc = 1;
            } else if (cp < 0x800) {
                *d++ = (char)(0xc0 | (cp >> 6));
                *d++ = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                *d++ = (char)(0xe0 | (cp >> 12));
                *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *d++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *d++ = (char)(0xf0 | (cp >> 18));
                *d++ = (char)(0x80 | ((cp >> 12) & 0x3f));
                *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *d++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: return llmcache__json_fail(P, p + 1, LLMCACHE_JSON_EESCAPE);
        }
        run = p;
    }
    P->p = p + 1;
    *d = '\0';
    out->type = LLMCACHE__JSTR;
    out->esc = esc;
    out->n = (size_t)(d - d0);
    out->u.str = d0;
    P->sp = d + 1;
    return LLMCACHE_OK;
}

/* Orders names as sequences of UTF-16 code units (RFC 8785 3.2.3). In UTF-8,
   byte order is code point order; it differs from UTF-16 order only where a
   character above U+FFFF (lead 0xF0-0xF4, surrogates in UTF-16) meets one in
   U+E000-U+FFFF (lead 0xEE-0xEF), so those two leads are moved above 0xF4. */
static int llmcache__json_keycmp(const llmcache__jv *a, const llmcache__jv *b) {
    const unsigned char *x = (const unsigned char *)a->u.str, *y = (const unsigned char *)b->u.str;
    size_t n = a->n < b->n ? a->n : b->n, i;
    for (i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            unsigned cx = x[i], cy = y[i];
            if (cx == 0xee || cx == 0xef) cx += 0x10;
            if (cy == 0xee || cy == 0xef) cy += 0x10;
            return cx < cy ? -1 : 1;
        }
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

/* Stable merge sort of a[0..n) by name, with tmp[0..n) as scratch. */
static void llmcache__json_sort(llmcache__jmem *a, llmcache__jmem *tmp, size_t n) {
    size_t h = n / 2, i, j, o;
    if (n <= 8) {
        for (i = 1; i < n; i++) {
            llmcache__jmem m = a[i];
            for (j = i; j > 0 && llmcache__json_keycmp(&a[j - 1].name, &m.name) > 0; j--) a[j] = a[j - 1];
            a[j] = m;
        }
        return;
    }
    llmcache__json_sort(a, tmp, h);
    llmcache__json_sort(a + h, tmp, n - h);
    if (llmcache__json_keycmp(&a[h - 1].name, &a[h].name) <= 0) return;
    for (i = 0, j = h, o = 0; i < h && j < n;)
        tmp[o++] = llmcache__json_keycmp(&a[j].name, &a[i].name) < 0 ? a[j++] : a[i++];
    while (i < h) tmp[o++] = a[i++];
    memcpy(a, tmp, o * sizeof *a);  /* a[j..n) is already in place */
}

/* Moves the pending entries above base into a new arena array (sorted and
   checked for duplicate names when obj). */
static int llmcache__json_close(llmcache__jparser *P, size_t base, int obj, llmcache__jv *out) {
    size_t n = P->stk_n - base, i;
    llmcache__jmem *src = P->stk + base;
    out->type = (unsigned char)(obj ? LLMCACHE__JOBJ : LLMCACHE__JARR);
    out->esc = 0;
    out->n = n;
    out->u.items = NULL;
    if (n == 0) return LLMCACHE_OK;
    if (obj) {
        llmcache__jmem *mems;
        size_t dup = (size_t)-1;
        if (n > (size_t)-1 / sizeof *mems) return LLMCACHE_ENOMEM;
        mems = (llmcache__jmem *)llmcache__json_alloc(P->doc, n * sizeof *mems);
        if (!mems) return LLMCACHE_ENOMEM;
        llmcache__json_sort(src, mems, n);
        for (i = 1; i < n; i++)
            if (src[i].name.n == src[i - 1].name.n &&
                memcmp(src[i].name.u.str, src[i - 1].name.u.str, src[i].name.n) == 0 &&
                src[i].off < dup)
                dup = src[i].off;
        if (dup != (size_t)-1) return llmcache__json_fail(P, P->s + dup, LLMCACHE_JSON_EDUPLICATE);
        memcpy(mems, src, n * sizeof *mems);
        out->u.mems = mems;
    } else {
        llmcache__jv *items;
        if (n > (size_t)-1 / sizeof *items) return LLMCACHE_ENOMEM;
        items = (llmcache__jv *)llmcache__json_alloc(P->doc, n * sizeof *items);
        if (!items) return LLMCACHE_ENOMEM;
        for (i = 0; i < n; i++) items[i] = src[i].val;
        out->u.items = items;
    }
    P->stk_n = base;
    return LLMCACHE_OK;
}

/* A value that is not a container, at p (after whitespace). */
static int llmcache__json_scalar(llmcache__jparser *P, llmcache__jv *out, int depth) {
    const unsigned char *p = P->p;
    const char *lit = NULL;
    size_t i, avail = (size_t)(P->end - p);
    if (p == P->end) return llmcache__json_fail(P, p, depth ? LLMCACHE_JSON_ETRUNCATED : LLMCACHE_JSON_EEMPTY);
    out->esc = 0;
    out->n = 0;
    switch (*p) {
    case '"': return llmcache__json_str_parse(P, out);
    case 't': lit = "true";  out->type = LLMCACHE__JTRUE;  break;
    case 'f': lit = "false"; out->type = LLMCACHE__JFALSE; break;
    case 'n': lit = "null";  out->type = LLMCACHE__JNULL;  break;
    default: {
        size_t used;
        int rc;
        if (*p != '-' && !llmcache__json_isdigit((char)*p)) return llmcache__json_unexpected(P, p);
        rc = llmcache__json_scan_num((const char *)p, avail, &used, &out->u.num);
        if (rc) return llmcache__json_fail(P, rc == 2 ? p : p + used, rc == 2 ? LLMCACHE_JSON_ERANGE : LLMCACHE_JSON_ENUMBER);
        out->type = LLMCACHE__JNUM;
        P->p = p + used;
        return LLMCACHE_OK;
    }
    }
    for (i = 0; lit[i]; i++)
        if (i >= avail || p[i] != (unsigned char)lit[i]) return llmcache__json_unexpected(P, p + i);
    out->u.str = NULL;
    P->p = p + i;
    return LLMCACHE_OK;
}

/* One value at P->p (after optional whitespace); depth = enclosing containers. An
 * array or object recurses here for each item, its entries pending on P's stack. */
static int llmcache__json_value(llmcache__jparser *P, llmcache__jv *out, int depth) {
    size_t base = P->stk_n;
    llmcache__jmem m;
    int rc, obj;
    unsigned char close;
    P->p = llmcache__json_ws(P->p, P->end);
    if (P->p == P->end || (*P->p != '{' && *P->p != '[')) return llmcache__json_scalar(P, out, depth);
    if (depth >= LLMCACHE_MAX_DEPTH) return llmcache__json_fail(P, P->p, LLMCACHE_JSON_EDEPTH);
    obj = *P->p == '{';
    close = obj ? '}' : ']';
    memset(&m, 0, sizeof m);
    P->p = llmcache__json_ws(P->p + 1, P->end);
    if (P->p < P->end && *P->p == close) { P->p++; return llmcache__json_close(P, base, obj, out); }
    for (;;) {
        if (obj) {
            P->p = llmcache__json_ws(P->p, P->end);
            if (P->p == P->end || *P->p != '"') return llmcache__json_unexpected(P, P->p);
            m.off = (size_t)(P->p - P->s);
            if ((rc = llmcache__json_str_parse(P, &m.name)) != LLMCACHE_OK) return rc;
            P->p = llmcache__json_ws(P->p, P->end);
            if (P->p == P->end || *P->p != ':') return llmcache__json_unexpected(P, P->p);
            P->p++;
        }
        if ((rc = llmcache__json_value(P, &m.val, depth + 1)) != LLMCACHE_OK) return rc;
        if (!LLMCACHE__JSON_PUSH(P, m)) return LLMCACHE_ENOMEM;
        P->p = llmcache__json_ws(P->p, P->end);
        if (P->p == P->end) return llmcache__json_unexpected(P, P->p);
        if (*P->p == ',') { P->p++; continue; }
        if (*P->p == close) { P->p++; return llmcache__json_close(P, base, obj, out); }
        return llmcache__json_unexpected(P, P->p);
    }
}

/* Parses json[0..len) into doc (released with llmcache__json_free, also after
   an error). *root points into doc. Returns LLMCACHE_OK, LLMCACHE_EINVAL (with
   *err, when not NULL) or LLMCACHE_ENOMEM. */
static int llmcache__json_parse(const char *json, size_t len, llmcache__jdoc *doc,
                                const llmcache__jv **root, llmcache_json_error *err) {
    llmcache__jparser P;
    llmcache__jv *top;
    int rc;
    doc->chunks = NULL;
    doc->grow = 0;
    *root = NULL;
    if (err) { err->offset = 0; err->code = LLMCACHE_JSON_OK; err->reason = llmcache_json_error_string(0); }
    if (!json) {
        if (len) return LLMCACHE_EINVAL;
        json = "";
    }
    if (len > (size_t)-1 / 2 - 4096) return LLMCACHE_ENOMEM;
    P.s = P.p = (const unsigned char *)json;
    P.end = P.s + len;
    P.doc = doc;
    P.stk = P.stk0;
    P.stk_n = 0;
    P.stk_cap = sizeof P.stk0 / sizeof P.stk0[0];
    P.err = 0;
    P.err_code = LLMCACHE_JSON_OK;
    /* one chunk: the string block first, then room for a typical number of nodes */
    doc->grow = len + 16 + len / 2 + 1024;
    P.sp = (char *)llmcache__json_alloc(doc, len + 16);
    top = (llmcache__jv *)llmcache__json_alloc(doc, sizeof *top);
    if (!P.sp || !top) rc = LLMCACHE_ENOMEM;
    else {
        rc = llmcache__json_value(&P, top, 0);
        if (rc == LLMCACHE_OK) {
            P.p = llmcache__json_ws(P.p, P.end);
            if (P.p != P.end) rc = llmcache__json_fail(&P, P.p, LLMCACHE_JSON_ETRAILING);
        }
    }
    if (P.stk != P.stk0) LLMCACHE_FREE(P.stk);
    if (rc == LLMCACHE_EINVAL && err) {
        err->offset = P.err;
        err->code = P.err_code;
        err->reason = llmcache_json_error_string(P.err_code);
    }
    if (rc == LLMCACHE_OK) *root = top;
    return rc;
}

/* ---- accessors (NULL-safe) --------------------------------------------------- */
/* The LLMCACHE__J* type, or -1 for NULL (an absent member). */
static int llmcache__json_type(const llmcache__jv *v) {
    return v ? v->type : -1;
}
/* The number, or 0 when v is not a number. */
static double llmcache__json_num(const llmcache__jv *v) {
    return v && v->type == LLMCACHE__JNUM ? v->u.num : 0.0;
}
#ifdef LLMCACHE_TEST_HOOKS   /* the rest of a document's tree, for tests/test_canon.c and test_keys.c */
/* The decoded UTF-8 (NUL-terminated; *len bytes, may hold NULs), or NULL. */
static LLMCACHE__MAYBE_UNUSED const char *llmcache__json_str(const llmcache__jv *v, size_t *len) {
    if (!v || v->type != LLMCACHE__JSTR) { if (len) *len = 0; return NULL; }
    if (len) *len = v->n;
    return v->u.str;
}
/* Items of an array, members of an object, bytes of a string; else 0. */
static LLMCACHE__MAYBE_UNUSED size_t llmcache__json_len(const llmcache__jv *v) {
    return v && (v->type == LLMCACHE__JSTR || v->type == LLMCACHE__JARR || v->type == LLMCACHE__JOBJ) ? v->n : 0;
}
static LLMCACHE__MAYBE_UNUSED const llmcache__jv *llmcache__json_at(const llmcache__jv *arr, size_t i) {
    return arr && arr->type == LLMCACHE__JARR && i < arr->n ? &arr->u.items[i] : NULL;
}
/* The i-th member of an object in name order (name and its length to *name,
   *name_len when not NULL), or NULL. */
static LLMCACHE__MAYBE_UNUSED const llmcache__jv *llmcache__json_member(const llmcache__jv *obj, size_t i, const char **name,
                                                 size_t *name_len) {
    if (!obj || obj->type != LLMCACHE__JOBJ || i >= obj->n) return NULL;
    if (name) *name = obj->u.mems[i].name.u.str;
    if (name_len) *name_len = obj->u.mems[i].name.n;
    return &obj->u.mems[i].val;
}
#endif
/* The member named name (binary search), or NULL. */
static const llmcache__jv *llmcache__json_get(const llmcache__jv *obj, const char *name) {
    llmcache__jv key;
    size_t lo = 0, hi;
    if (!obj || obj->type != LLMCACHE__JOBJ || !name) return NULL;
    key.type = LLMCACHE__JSTR; key.esc = 0; key.n = strlen(name); key.u.str = name;
    hi = obj->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = llmcache__json_keycmp(&obj->u.mems[mid].name, &key);
        if (c == 0) return &obj->u.mems[mid].val;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

/* ---- RFC 8785 serializer ------------------------------------------------------ */
/* Room for n more bytes (and the NUL llmcache__buf keeps); 0 when out of memory. */
#define LLMCACHE__JSON_ROOM(b, n) ((b)->cap - (b)->len > (n) || llmcache__buf_reserve((b), (n)))

/* A string as ECMAScript JSON.stringify writes it. */
static void llmcache__json_put_str(llmcache__buf *b, const llmcache__jv *v) {
    const unsigned char *s = (const unsigned char *)v->u.str, *end = s + v->n;
    const char *hex = llmcache__hex_digits;
    char *o;
    if (v->n > ((size_t)-1 - 2) / 6) { b->oom = 1; return; }
    if (!LLMCACHE__JSON_ROOM(b, (v->esc ? 6 * v->n : v->n) + 2)) return;
    o = b->p + b->len;
    *o++ = '"';
    if (!v->esc) {
        memcpy(o, s, v->n);
        o += v->n;
    } else {
        while (s < end) {
            unsigned c;
            while (end - s >= 8) {
                uint64_t w;
                memcpy(&w, s, 8);
                if (llmcache__json_esc8(w)) break;
                memcpy(o, &w, 8);
                s += 8; o += 8;
            }
            if (s == end) break;
            c = *s++;
            if (c >= 0x20 && c != '"' && c != '\\') { *o++ = (char)c; continue; }
            *o++ = '\\';
            switch (c) {
            case '"':  *o++ = '"';  break;
            case '\\': *o++ = '\\'; break;
            case '\b': *o++ = 'b';  break;
            case '\f': *o++ = 'f';  break;
            case '\n': *o++ = 'n';  break;
            case '\r': *o++ = 'r';  break;
            case '\t': *o++ = 't';  break;
            default:
                *o++ = 'u'; *o++ = '0'; *o++ = '0'; *o++ = hex[c >> 4]; *o++ = hex[c & 15];
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
}

static void llmcache__json_write(llmcache__buf *b, const llmcache__jv *v) {
    size_t i;
    if (!LLMCACHE__JSON_ROOM(b, 32)) return;
    switch (v->type) {
    case LLMCACHE__JNULL:  memcpy(b->p + b->len, "null", 4);  b->len += 4; break;
    case LLMCACHE__JFALSE: memcpy(b->p + b->len, "false", 5); b->len += 5; break;
    case LLMCACHE__JTRUE:  memcpy(b->p + b->len, "true", 4);  b->len += 4; break;
    case LLMCACHE__JNUM:   b->len += llmcache__json_fmt_num(v->u.num, b->p + b->len); break;
    case LLMCACHE__JSTR:   llmcache__json_put_str(b, v); break;
    case LLMCACHE__JARR:
        b->p[b->len++] = '[';
        for (i = 0; i < v->n; i++) {
            if (i) {
                if (!LLMCACHE__JSON_ROOM(b, 1)) return;
                b->p[b->len++] = ',';
            }
            llmcache__json_write(b, &v->u.items[i]);
        }
        if (!LLMCACHE__JSON_ROOM(b, 1)) return;
        b->p[b->len++] = ']';
        break;
    default:
        b->p[b->len++] = '{';
        for (i = 0; i < v->n; i++) {
            if (i) {
                if (!LLMCACHE__JSON_ROOM(b, 1)) return;
                b->p[b->len++] = ',';
            }
            llmcache__json_put_str(b, &v->u.mems[i].name);
            if (!LLMCACHE__JSON_ROOM(b, 1)) return;
            b->p[b->len++] = ':';
            llmcache__json_write(b, &v->u.mems[i].val);
        }
        if (!LLMCACHE__JSON_ROOM(b, 1)) return;
        b->p[b->len++] = '}';
    }
}

/* ---- JSON Pointers (RFC 6901) removed before canonicalization (key_ignore) ---- */
/* 1 when p is a JSON Pointer below the root: "/" and tokens in which every "~" is
   followed by "0" or "1". */
static int llmcache__pointer_ok(const char *p) {
    if (!p || p[0] != '/') return 0;
    for (; *p; p++)
        if (*p == '~' && p[1] != '0' && p[1] != '1') return 0;
    return 1;
}

/* An array index token: "0" or digits without a leading zero, below n. */
static int llmcache__pointer_index(const char *t, size_t len, size_t n, size_t *idx) {
    size_t i, v = 0;
    if (len == 0 || (len > 1 && t[0] == '0')) return 0;
    for (i = 0; i < len; i++) {
        if (t[i] < '0' || t[i] > '9' || v > ((size_t)-1 - 9) / 10) return 0;
        v = v * 10 + (size_t)(t[i] - '0');
    }
    *idx = v;
    return v < n;
}

/* Removes what the checked pointer ptr names from the tree under root, if it names
   anything; tok has room for the pointer's length. The tree's nodes live in its
   document's arena, so they are edited in place (a sorted object stays sorted). */
static void llmcache__pointer_remove(llmcache__jv *root, const char *ptr, char *tok) {
    llmcache__jv *v = root;
    const char *p = ptr;
    while (*p == '/') {
        llmcache__jv name;
        size_t n = 0, i = 0, lo = 0, hi;
        const char *q = p + 1;
        int last, found = 0;
        for (; *q && *q != '/'; q++) {
            if (*q == '~') { tok[n++] = q[1] == '0' ? '~' : '/'; q++; }
            else tok[n++] = *q;
        }
        tok[n] = '\0';
        last = *q == '\0';
        if (v->type == LLMCACHE__JOBJ) {
            llmcache__jmem *mems = (llmcache__jmem *)(uintptr_t)v->u.mems;
            name.type = LLMCACHE__JSTR; name.esc = 0; name.n = n; name.u.str = tok;
            for (hi = v->n; lo < hi && !found;) {
                size_t mid = lo + (hi - lo) / 2;
                int c = llmcache__json_keycmp(&mems[mid].name, &name);
                if (c == 0) { i = mid; found = 1; }
                else if (c < 0) lo = mid + 1;
                else hi = mid;
            }
            if (!found) return;
            if (last) { memmove(mems + i, mems + i + 1, (v->n - i - 1) * sizeof *mems); v->n--; return; }
            v = &mems[i].val;
        } else if (v->type == LLMCACHE__JARR) {
            llmcache__jv *items = (llmcache__jv *)(uintptr_t)v->u.items;
            if (!llmcache__pointer_index(tok, n, v->n, &i)) return;
            if (last) { memmove(items + i, items + i + 1, (v->n - i - 1) * sizeof *items); v->n--; return; }
            v = &items[i];
        } else return;
        p = q;
    }
}

/* Appends the RFC 8785 canonical form of json[0..len), less what the checked
   pointers of the NULL-terminated list ignore (may be NULL) name, to out. Returns
   LLMCACHE_OK, LLMCACHE_EINVAL (with *err when not NULL) or LLMCACHE_ENOMEM. */
static int llmcache__jcs_pruned(const char *json, size_t len, const char *const *ignore, llmcache__buf *out,
                                llmcache_json_error *err) {
    llmcache__jdoc doc;
    const llmcache__jv *root;
    int rc = llmcache__json_parse(json, len, &doc, &root, err);
    if (rc == LLMCACHE_OK && ignore && ignore[0]) {
        const char *const *ptr;
        size_t longest = 0;
        char small[256], *tok = small;   /* a decoded token is never longer than its pointer */
        for (ptr = ignore; *ptr; ptr++) if (strlen(*ptr) > longest) longest = strlen(*ptr);
        if (longest >= sizeof small && !(tok = (char *)LLMCACHE_MALLOC(longest + 1))) rc = LLMCACHE_ENOMEM;
        for (ptr = ignore; tok && *ptr; ptr++) llmcache__pointer_remove((llmcache__jv *)(uintptr_t)root, *ptr, tok);
        if (tok != small) LLMCACHE_FREE(tok);
    }
    if (rc == LLMCACHE_OK) {
        llmcache__buf_reserve(out, len + 16);
        llmcache__json_write(out, root);
        if (out->oom) rc = LLMCACHE_ENOMEM;
    }
    llmcache__json_free(&doc);
    return rc;
}

/* Appends the RFC 8785 canonical form of json[0..len) to out. Returns
   LLMCACHE_OK, LLMCACHE_EINVAL (with *err when not NULL) or LLMCACHE_ENOMEM. */
static int llmcache__jcs(const char *json, size_t len, llmcache__buf *out, llmcache_json_error *err) {
    return llmcache__jcs_pruned(json, len, NULL, out, err);
}

LLMCACHE_API void llmcache_free(void *p) { LLMCACHE_FREE(p); }

LLMCACHE_API const char *llmcache_json_error_string(int code) {
    switch (code) {
    case LLMCACHE_JSON_OK:         return "no JSON error";
    case LLMCACHE_JSON_EEMPTY:     return "empty input: no JSON value";
    case LLMCACHE_JSON_EBOM:       return "byte-order mark (JSON text starts without one)";
    case LLMCACHE_JSON_ESYNTAX:    return "unexpected character";
    case LLMCACHE_JSON_ETRUNCATED: return "unexpected end of input";
    case LLMCACHE_JSON_ETRAILING:  return "trailing data after the JSON value";
    case LLMCACHE_JSON_EUTF8:      return "invalid UTF-8";
    case LLMCACHE_JSON_ECONTROL:   return "unescaped control character in a string";
    case LLMCACHE_JSON_EESCAPE:    return "invalid escape in a string";
    case LLMCACHE_JSON_ESURROGATE: return "lone surrogate (a \\u escape of U+D800..U+DFFF not in a pair)";
    case LLMCACHE_JSON_EDUPLICATE: return "duplicate member name";
    case LLMCACHE_JSON_ENUMBER:    return "malformed number";
    case LLMCACHE_JSON_ERANGE:     return "number out of range (beyond a double)";
    case LLMCACHE_JSON_EDEPTH:     return "nesting deeper than the limit (LLMCACHE_MAX_DEPTH)";
    default:                       return "unknown JSON error";
    }
}

LLMCACHE_API int llmcache_canonicalize_err(const char *json, size_t len, char **out, size_t *out_len,
                                           llmcache_json_error *err) {
    llmcache__buf b = {NULL, 0, 0, 0};
    int rc;
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (err) { err->offset = 0; err->code = LLMCACHE_JSON_OK; err->reason = llmcache_json_error_string(0); }
    if ((!json && len) || !out) return LLMCACHE_EINVAL;
    rc = llmcache__jcs(json ? json : "", len, &b, err);
    if (rc == LLMCACHE_OK && !llmcache__buf_reserve(&b, 0)) rc = LLMCACHE_ENOMEM;
    if (rc != LLMCACHE_OK) { llmcache__buf_free(&b); return rc; }
    b.p[b.len] = '\0';
    *out = b.p;
    if (out_len) *out_len = b.len;
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_canonicalize_ex(const char *json, size_t len, char **out, size_t *out_len,
                                          size_t *err_offset) {
    llmcache_json_error err;
    int rc = llmcache_canonicalize_err(json, len, out, out_len, &err);
    if (err_offset) *err_offset = err.offset;
    return rc;
}

LLMCACHE_API int llmcache_canonicalize(const char *json, size_t len, char **out, size_t *out_len) {
    return llmcache_canonicalize_ex(json, len, out, out_len, NULL);
}

/* >>impl results ---------------------------------------------------------------- */
LLMCACHE_API const char *llmcache_result_string(int result) {
    switch (result) {
    case LLMCACHE_OK:          return "LLMCACHE_OK: success";
    case LLMCACHE_MISS:        return "LLMCACHE_MISS: no live entry for the key";
    case LLMCACHE_STOP:        return "LLMCACHE_STOP: the foreach callback asked to stop";
    case LLMCACHE_EINVAL:      return "LLMCACHE_EINVAL: invalid argument or malformed JSON";
    case LLMCACHE_ENOMEM:      return "LLMCACHE_ENOMEM: out of memory";
    case LLMCACHE_ETOOBIG:     return "LLMCACHE_ETOOBIG: over a size limit";
    case LLMCACHE_EIO:         return "LLMCACHE_EIO: input/output error";
    case LLMCACHE_ENOSPC:      return "LLMCACHE_ENOSPC: no space left on the device or over the file size limit";
    case LLMCACHE_ENOTCACHE:   return "LLMCACHE_ENOTCACHE: the file is not an llmcache log (left untouched)";
    case LLMCACHE_EVERSION:    return "LLMCACHE_EVERSION: the log was written by an incompatible version";
    case LLMCACHE_ECORRUPT:    return "LLMCACHE_ECORRUPT: damaged data (checksum mismatch, or a transformed value whose decode failed)";
    case LLMCACHE_ETRANSPORT:  return "LLMCACHE_ETRANSPORT: the transport failed";
    case LLMCACHE_EHTTP:       return "LLMCACHE_EHTTP: the provider answered with a non-2xx status";
    case LLMCACHE_EREJECTED:   return "LLMCACHE_EREJECTED: the validate or parse callback refused the response, or its body is not JSON";
    case LLMCACHE_EUNSUPPORTED:return "LLMCACHE_EUNSUPPORTED: compiled out or not supported here";
    case LLMCACHE_ESYMLINK:    return "LLMCACHE_ESYMLINK: a file beside the log (path-shm or a temporary file) is a symbolic link: refused";
    case LLMCACHE_EREADONLY:   return "LLMCACHE_EREADONLY: the cache was opened read-only";
    case LLMCACHE_ENOENT:      return "LLMCACHE_ENOENT: no such file or directory";
    case LLMCACHE_EACCES:      return "LLMCACHE_EACCES: permission denied";
    case LLMCACHE_ENOTFILE:    return "LLMCACHE_ENOTFILE: not a regular file (a directory or a device): never a log";
    case LLMCACHE_EBUSY:       return "LLMCACHE_EBUSY: the log is open in another process (close it there first)";
    case LLMCACHE_ETRANSFORM:  return "LLMCACHE_ETRANSFORM: the value was stored with a transform (compression, encryption) this handle was not given";
    default:                   return "LLMCACHE_E?: unknown result code";
    }
}

LLMCACHE_API const char *llmcache_version(void) { return LLMCACHE_VERSION_STRING; }

/* >>impl keys ------------------------------------------------------------------- */
LLMCACHE_API int llmcache_schema_hash(const char *schema, size_t len, unsigned char out[32]) {
    llmcache__buf b = {NULL, 0, 0, 0};
    int rc;
    if (!out) return LLMCACHE_EINVAL;
    memset(out, 0, 32);
    if (!schema) return LLMCACHE_OK;
    if (len > LLMCACHE_MAX_BODY) return LLMCACHE_ETOOBIG;
    rc = llmcache__jcs(schema, len, &b, NULL);
    if (rc == LLMCACHE_OK && b.oom) rc = LLMCACHE_ENOMEM;
    if (rc == LLMCACHE_OK) llmcache_sha256(b.p, b.len, out);
    llmcache__buf_free(&b);
    return rc;
}

/* The key of a request whose schema hash is already known, its body pruned of the
 * checked pointers of ignore (may be NULL). With canon not NULL, *canon gets the
 * canonical pruned body (NUL-terminated on success; the caller frees it). */
static int llmcache__key_pruned(llmcache_key *out, const char *ns, const char *endpoint,
                                const unsigned char schema_hash[32], const char *body, size_t body_len,
                                const char *const *ignore, llmcache__buf *canon) {
    static const char domain[] = "llmcache/key/v1";
    llmcache__buf b = {NULL, 0, 0, 0};
    llmcache__sha256 s;
    int rc;
    if (!body && body_len) return LLMCACHE_EINVAL;
    if (body_len > LLMCACHE_MAX_BODY) return LLMCACHE_ETOOBIG;
    rc = llmcache__jcs_pruned(body ? body : "", body_len, ignore, &b, NULL);
    if (rc == LLMCACHE_OK && (b.oom || !llmcache__buf_reserve(&b, 0))) rc = LLMCACHE_ENOMEM;
    if (rc != LLMCACHE_OK) { llmcache__buf_free(&b); return rc; }
    b.p[b.len] = '\0';
    if (!ns) ns = "";
    if (!endpoint) endpoint = "";
    llmcache__sha256_init(&s);
    llmcache__sha256_update(&s, domain, sizeof domain);   /* includes the 0x00 */
    llmcache__sha256_update(&s, ns, strlen(ns) + 1);
    llmcache__sha256_update(&s, endpoint, strlen(endpoint) + 1);
    llmcache__sha256_update(&s, schema_hash, 32);
    llmcache__sha256_update(&s, b.p, b.len);
    llmcache__sha256_final(&s, out->bytes);
    if (canon) *canon = b;
    else llmcache__buf_free(&b);
    return LLMCACHE_OK;
}

/* The key of a request: its schema's hash into sh, then the key of the body less the
 * ignore pointers (NULL = none), its canonical form into *canon when not NULL. The
 * one derivation behind llmcache_key_for(_ex), llmcache_call and llmcache_call_many. */
static int llmcache__req_key(llmcache_key *out, const char *ns, const llmcache_request *req,
                             const char *const *ignore, unsigned char sh[32], llmcache__buf *canon) {
    int rc = llmcache_schema_hash(req->schema, req->schema_len, sh);
    if (rc != LLMCACHE_OK) return rc;
    return llmcache__key_pruned(out, ns, req->endpoint, sh, req->body, req->body_len, ignore, canon);
}

LLMCACHE_API int llmcache_key_for(llmcache_key *out, const char *ns, const llmcache_request *req) {
    unsigned char sh[32];
    if (!out || !req) return LLMCACHE_EINVAL;
    return llmcache__req_key(out, ns, req, NULL, sh, NULL);
}

LLMCACHE_API int llmcache_key_for_ex(llmcache_key *out, const char *ns, const llmcache_request *req,
                                     const char *const *ignore, char **canonical, size_t *canonical_len) {
    llmcache__buf b = {NULL, 0, 0, 0};
    const char *const *ptr;
    unsigned char sh[32];
    int rc;
    if (canonical) *canonical = NULL;
    if (canonical_len) *canonical_len = 0;
    if (!out || !req) return LLMCACHE_EINVAL;
    for (ptr = ignore; ptr && *ptr; ptr++)
        if (!llmcache__pointer_ok(*ptr)) return LLMCACHE_EINVAL;
    rc = llmcache__req_key(out, ns, req, ignore, sh, canonical ? &b : NULL);
    if (rc == LLMCACHE_OK && canonical) {
        *canonical = b.p;
        if (canonical_len) *canonical_len = b.len;
    }
    return rc;
}

LLMCACHE_API void llmcache_key_hex(const llmcache_key *key, char out[65]) {
    const char *hex = llmcache__hex_digits;
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
 * Entries live in an array of chunks and are named by index, so links are 4 bytes
 * and the array grows without moving or copying an entry (the first chunk grows by
 * doubling up to its full size). An entry keeps the 64-bit table hash of its key,
 * not the key itself: the key is in the entry's value block when its value is held
 * in memory, else in the entry's record in the log; a probe whose hash matches
 * compares the key there (a hit reads that block or record anyway). The table is
 * open addressing with linear probing, at most 3/4 full; a slot is 8 bytes, (32-bit
 * hash tag << 32 | index + 1), 0 = empty; the tag is the hash's high half, its low
 * bits name the home slot, so growth and deletion never touch the entries, and a
 * probe reads an entry only when the tags match. Deletion shifts the cluster back
 * (no tombstones).
 * Recency (for max_entries) is a doubly linked list through the entries, most
 * recently used first: exact LRU. With a log file, the entries whose value is held
 * in memory also form a doubly linked list, most recent first (for max_bytes),
 * through their value blocks. */
#define LLMCACHE__NIL 0xffffffffu
#define LLMCACHE__CHUNK_BITS 16u
#define LLMCACHE__CHUNK ((size_t)1 << LLMCACHE__CHUNK_BITS)   /* entries in a full chunk */
#define LLMCACHE__ENTS_MAX 0x7fff0000u                         /* entry indexes stay below this */
#ifndef LLMCACHE__HUGE
#  define LLMCACHE__HUGE ((size_t)0)   /* no huge pages to align blocks for (platform layer) */
#endif

enum { LLMCACHE__E_USED = 1, LLMCACHE__E_META = 2, LLMCACHE__E_MEM = 4 };

typedef struct llmcache__entry {
    uint64_t h;                   /* llmcache__hash of the key */
    union {
        uint64_t off;             /* no E_MEM: offset of the entry's record in the log */
        unsigned char *blob;      /* E_MEM: the value in memory (llmcache__blobhdr), which holds
                                     the record's offset */
    } at;
    int64_t  expires_ms;          /* 0 = never */
    uint32_t prev, next;          /* recency list; next also links the unused entries */
    uint32_t rec_len;             /* length of the entry's record in the log, padding excluded */
    uint32_t flags;               /* LLMCACHE__E_* */
} llmcache__entry;

/* A value held in memory: a header with the entry's key and what a hit needs, then
 * [llmcache_meta if E_META], the value bytes, a NUL. The entry points at it, so a
 * hit reads the slot, the entry and this block, and writes the recency list. */
typedef struct llmcache__blobhdr {
    llmcache_key key;
    int64_t  created_ms, expires_ms;
    uint64_t off;                 /* log mode: offset of the entry's record */
    uint32_t len, flags;
    uint32_t vprev, vnext;        /* LRU of values held in memory (log mode): entry indexes */
} llmcache__blobhdr;
#define LLMCACHE__BLOB_HDR sizeof(llmcache__blobhdr)

/* A chunk of the entry array: its entries, and the allocation they are in (a full
 * chunk starts on a huge page boundary inside a larger block, LLMCACHE__HUGE). */
typedef struct llmcache__chunk {
    llmcache__entry *e;
    void *mem;
} llmcache__chunk;

typedef struct llmcache__slot {
    uint64_t tag_idx;             /* 32-bit hash tag << 32 | entry index + 1; 0 = empty */
} llmcache__slot;

/* Bytes charged against max_bytes: a value held in memory (its allocation rounded
 * up as malloc does, plus malloc's own header) and, in a memory-only cache, its
 * entry (the array slot and two 8-byte table slots, the table being between 3/8 and
 * 3/4 full: 56 bytes on 64-bit machines). With a log file the entries are the index
 * of the file, bounded by max_entries; max_bytes bounds the values kept in memory. */
#define LLMCACHE__ENTRY_COST (sizeof(llmcache__entry) + 2 * sizeof(llmcache__slot))
#define LLMCACHE__ENTRY_CHARGE(c) ((c)->path ? 0 : LLMCACHE__ENTRY_COST)
static size_t llmcache__blob_cost(size_t blob_size) { return ((blob_size + 15) & ~(size_t)15) + 16; }

/* The process-shared page beside a log (path + "-shm"): host-endian, rebuilt by
 * the first process that opens the log, never a carrier of cached data. */
#define LLMCACHE__SHM_MAGIC "llmcshm1"
#define LLMCACHE__SHM_VERSION 1u
#define LLMCACHE__SHM_SIZE 4096
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

/* Two locks guard a handle, always taken in this order:
 *  - c->mu, the handle's mutex (llmcache__handle_lock): its table, lists and
 *    counters. A function named *_locked is called with c->mu held.
 *  - the writer lock of a log (llmcache__log_lock): appends, compaction and the
 *    writes to the shared page; taken with c->mu held, or while the handle is
 *    opened or closed (no other thread has it then). A function named *_writer is
 *    called with the writer lock held.
 * mu_held and writer_held say who holds what, for the assertions of debug builds. */
struct llmcache {
    llmcache__mutex mu;
    int      mu_held;             /* c->mu is held (set and cleared by its holder) */
    int      writer_held;         /* this handle holds the writer lock of its log */
    size_t   max_entries, max_bytes;
    int64_t  ttl_ms;
    int      fsync_mode;
    int64_t (*clock)(void *ctx);
    void    *clock_ctx;
    char    *ns;
    int      mode;                /* cfg.mode: LLMCACHE_MODE_* */
    char   **key_ignore;          /* cfg.key_ignore copied, NULL-terminated, in one block; NULL = none */
    int      omit_request;        /* cfg.omit_request */

    struct llmcache__chunk *chunks;   /* the entry array: n_chunks chunks (>>table) */
    uint32_t n_chunks;
    uint32_t ents_cap, ents_top, free_head;   /* entries allocated, ever used, the first unused */
    llmcache__slot *slots;
    size_t   slot_mask;
    size_t   count, bytes;
    uint32_t lru_head, lru_tail;  /* recency list: the most and the least recently used entry */
    uint32_t val_head, val_tail;
    uint32_t sweep_cursor;
    uint64_t seed;
    void   (*on_event)(void *ctx, const llmcache_event *ev);
    void    *event_ctx;
    llmcache_progress_fn on_progress;   /* compactions (cfg.on_progress) */
    void    *progress_ctx;
    struct llmcache__callstate *calls;  /* single-flight table; NULL until first needed */
    struct llmcache__redis *redis;      /* the shared Redis tier (>>redis); NULL = none */

    /* log file; path == NULL for a memory-only cache */
    char    *path, *shm_path;     /* path: the log's resolved name (llmcache__f_resolve) */
    unsigned file_mode;           /* permission bits of a new log and path-shm */
    int      read_only;           /* cfg.read_only; shm_fd is NOFD for a snapshot of the file,
                                     whose page (shm) is this handle's own copy */
    llmcache__fd fd, shm_fd;
    unsigned char *map;           /* the log, mapped read/write */
    size_t   map_len;
    uint64_t gen, end;            /* the log generation and length this index reflects */
    uint64_t live_bytes;          /* padded lengths of the records the index points at */
    uint64_t compact_after;       /* after a failed compaction, no automatic one before this end */
    int      dirty;               /* this handle wrote since the last sync */
    int      loading;             /* the open is reading the log (counts records_recovered) */
    int      partial;             /* the index lacks live entries of the log (out of memory while
                                     applying): no compaction, which would drop them, until a reload */
    uint64_t last_seq_seen;       /* highest sequence number applied or appended */
    uint64_t prefaulted;          /* the mapping is faulted in up to here (appends) */
    uint64_t size_seen;           /* the log's size when this handle last looked (fstat) */
    uint64_t page_size;           /* the system's memory page (prefaulting works in whole pages) */
    llmcache__shm *shm;
#if !defined(LLMCACHE_NO_THREADS)
    llmcache__thread flusher;
    int      flusher_running, stopping;
    llmcache__cond flusher_cv;
#endif

#ifdef LLMCACHE_TEST_HOOKS
    void   (*test_point)(void *ctx, int n);   /* tests crash the process here */
    void   (*test_record)(void *ctx, const unsigned char *rec);  /* told each record appended, uncommitted yet */
    void    *test_ctx;
    uint64_t test_hash_clear;     /* bits cleared from every table hash (llmcache__test_collide) */
#endif

    llmcache_stats st;
    struct llmcache__acct *acct;  /* accounting rows and prices (>>accounting) */
    llmcache_transform xform;     /* cfg.transform, copied; id 0 = values stored plain */
    char    *index_path;          /* path + "-index", the index snapshot (>>index snapshot) */
    uint64_t index_gen, index_end;/* the log generation and end the snapshot on disk covers, as far
                                     as this handle knows (loaded or written by it); 0 = none */
    llmcache__fd index_fd;        /* the snapshot this handle loaded or wrote last, kept open: the
                                     keys of the entries it lists, for the next snapshot; NOFD = none */
    uint64_t index_fd_gen, index_fd_end, index_fd_count;   /* its log generation, end and entries */
    uint64_t rec_count;           /* intact records in the log before c->end */
    uint64_t last_rec_off;        /* offset of the last of them (0: none) */
    uint64_t skipped_base;        /* st.records_skipped when the log was last known clean (compaction) */
};

/* A call's row in the accounting (>>accounting): row index and price index (-1 = none). */
typedef struct llmcache__acct_ref { uint32_t row; int32_t price; } llmcache__acct_ref;

/* Takes and gives back c->mu. (The flusher thread takes c->mu itself: it waits on
 * a condition variable with it and calls nothing that asserts.) */
static void llmcache__handle_lock(llmcache *c) {
    llmcache__lock(&c->mu);
    c->mu_held = 1;
}
static void llmcache__handle_unlock(llmcache *c) {
    LLMCACHE_ASSERT(c->mu_held);
    c->mu_held = 0;
    llmcache__unlock(&c->mu);
}

static int64_t llmcache__now(llmcache *c) {
    return c->clock ? c->clock(c->clock_ctx) : llmcache__system_clock_ms();
}

/* Tells the caller's event callback (if any); call without c->mu held. */
static void llmcache__emit(llmcache *c, int type, const llmcache_key *key, int result,
                                                  const char *message) {
    llmcache_event ev;
    if (!c->on_event) return;
    ev.type = type; ev.key = key; ev.result = result; ev.message = message;
    c->on_event(c->event_ctx, &ev);
}

/* Adds one to a counter that mu guards (c->st under c->mu, the Redis tier's under its
 * own), for events counted outside any other locked section. */
static void llmcache__stat_inc(llmcache__mutex *mu, uint64_t *counter) {
    llmcache__lock(mu);
    (*counter)++;
    llmcache__unlock(mu);
}

/* A per-handle secret for the table hash: random where the file layer has a source
 * of randomness, else the handle's address and the clock. */
static uint64_t llmcache__handle_seed(const llmcache *c) {
    return (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull ^ (uint64_t)llmcache__mono_us() ^ llmcache__f_random64();
}

/* The table hash: all 32 bytes of the key, mixed with the handle's random seed, so
 * that keys chosen to collide (counters from llmcache_key_parse, a crafted import)
 * cannot pile up in one cluster. Each step is a bijection of h for a fixed word, so
 * keys differing in one word never collide in all 64 bits. */
static uint64_t llmcache__hash(const llmcache *c, const llmcache_key *k) {
    uint64_t h = c->seed;
    int i;
    for (i = 0; i < 32; i += 8) {
        h = (h ^ llmcache__ld64(k->bytes + i)) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
#ifdef LLMCACHE_TEST_HOOKS
    h &= ~c->test_hash_clear;
#endif
    return h;
}

/* Entry i of the array. */
static llmcache__entry *llmcache__ent(const llmcache *c, uint32_t i) {
    return &c->chunks[i >> LLMCACHE__CHUNK_BITS].e[i & (LLMCACHE__CHUNK - 1)];
}

/* The offset of entry e's record in the log (log mode). */
static uint64_t llmcache__ent_off(const llmcache__entry *e) {
    uint64_t off;
    if (!(e->flags & LLMCACHE__E_MEM)) return e->at.off;
    memcpy(&off, e->at.blob + offsetof(llmcache__blobhdr, off), sizeof off);
    return off;
}

static void llmcache__ent_set_off(llmcache__entry *e, uint64_t off) {
    if (e->flags & LLMCACHE__E_MEM) memcpy(e->at.blob + offsetof(llmcache__blobhdr, off), &off, sizeof off);
    else e->at.off = off;
}

static const unsigned char *llmcache__rec_key(const llmcache *c, uint64_t off);   /* >>record */

/* Entry e's key (32 bytes): in its value block, else in its record in the log;
 * NULL when that record is not in the mapped log. */
static const unsigned char *llmcache__ent_key(const llmcache *c, const llmcache__entry *e) {
    if (e->flags & LLMCACHE__E_MEM) return e->at.blob;   /* the block starts with the key */
    return llmcache__rec_key(c, e->at.off);
}

/* Slot index holding key (whose hash is h), or the empty slot where it would go. */
static size_t llmcache__probe(const llmcache *c, const llmcache_key *k, uint64_t h, int *found) {
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i = (size_t)tag & c->slot_mask;
    for (;; i = (i + 1) & c->slot_mask) {
        const llmcache__slot *s = &c->slots[i];
        const llmcache__entry *e;
        const unsigned char *key;
        if (!s->tag_idx) { *found = 0; return i; }
        if ((uint32_t)(s->tag_idx >> 32) != tag) continue;
        e = llmcache__ent(c, (uint32_t)s->tag_idx - 1);
        if (e->h == h && (key = llmcache__ent_key(c, e)) != NULL && memcmp(key, k->bytes, 32) == 0) {
            *found = 1;
            return i;
        }
    }
}

/* The entry holding key (NIL if none) and, in *blob, its value in memory or NULL. */
static uint32_t llmcache__find_value(const llmcache *c, const llmcache_key *k, unsigned char **blob) {
    const llmcache__entry *e;
    uint32_t i;
    int found;
    size_t s;
    *blob = NULL;
    if (!c->count) return LLMCACHE__NIL;
    s = llmcache__probe(c, k, llmcache__hash(c, k), &found);
    if (!found) return LLMCACHE__NIL;
    i = (uint32_t)c->slots[s].tag_idx - 1;
    e = llmcache__ent(c, i);
    if (e->flags & LLMCACHE__E_MEM) *blob = e->at.blob;
    return i;
}

static uint32_t llmcache__find(const llmcache *c, const llmcache_key *k) {
    unsigned char *blob;
    return llmcache__find_value(c, k, &blob);
}

/* The slot of entry i (which is in the table): found from its hash's tag. */
static size_t llmcache__slot_of(const llmcache *c, uint32_t i) {
    uint64_t want = (llmcache__ent(c, i)->h >> 32) << 32 | ((uint64_t)i + 1);
    size_t j = (size_t)(want >> 32) & c->slot_mask;
    while (c->slots[j].tag_idx != want) {
        LLMCACHE_ASSERT(c->slots[j].tag_idx != 0);
        j = (j + 1) & c->slot_mask;
    }
    return j;
}

/* Whether a table of `slots` slots may hold n entries (at most 3/4 full). */
static int llmcache__table_room(size_t slots, size_t n) { return n <= slots / 4 * 3; }

static int llmcache__table_grow_to(llmcache *c, size_t n) {
    llmcache__slot *old = c->slots;
    size_t old_n = c->slots ? c->slot_mask + 1 : 0, i;
    llmcache__slot *fresh;
    if (n > (size_t)-1 / sizeof(llmcache__slot)) return LLMCACHE_ENOMEM;
    fresh = (llmcache__slot *)LLMCACHE_MALLOC(n * sizeof(llmcache__slot));
    if (!fresh) return LLMCACHE_ENOMEM;
    llmcache__f_advise_huge(fresh, n * sizeof(llmcache__slot));   /* before the first touch: huge pages */
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

/* Room in the table for n entries: one table of the final size. */
static int llmcache__table_fit(llmcache *c, size_t n) {
    size_t slots = c->slots ? c->slot_mask + 1 : 16;
    if (c->slots && llmcache__table_room(slots, n)) return LLMCACHE_OK;
    while (!llmcache__table_room(slots, n)) {
        if (slots > (size_t)-1 / 2) return LLMCACHE_ENOMEM;
        slots *= 2;
    }
    return llmcache__table_grow_to(c, slots);
}

/* Room in the entry array for n entries (fewer than LLMCACHE__ENTS_MAX): the first
 * chunk grows to min(n, a full chunk) by realloc, then whole chunks are added. */
static int llmcache__ents_fit(llmcache *c, size_t n) {
    if (n <= c->ents_cap) return LLMCACHE_OK;
    if (n >= LLMCACHE__ENTS_MAX) return LLMCACHE_ENOMEM;
    if (c->ents_cap < LLMCACHE__CHUNK) {   /* the first chunk, not full yet */
        size_t cap = c->ents_cap ? (size_t)c->ents_cap * 2 : 16;
        llmcache__entry *first;
        if (cap < n) cap = n;
        if (cap > LLMCACHE__CHUNK) cap = LLMCACHE__CHUNK;
        if (!c->chunks && !(c->chunks = (llmcache__chunk *)LLMCACHE_MALLOC(sizeof *c->chunks))) return LLMCACHE_ENOMEM;
        first = (llmcache__entry *)LLMCACHE_REALLOC(c->n_chunks ? c->chunks[0].e : NULL, cap * sizeof *first);
        if (!first) return LLMCACHE_ENOMEM;
        c->chunks[0].e = first;
        c->chunks[0].mem = first;
        c->n_chunks = 1;
        c->ents_cap = (uint32_t)cap;
    }
    while (n > c->ents_cap) {   /* whole chunks, each from a huge page boundary (the slack is never touched) */
        size_t bytes = LLMCACHE__CHUNK * sizeof(llmcache__entry);
        llmcache__chunk *cs;
        uintptr_t at;
        void *mem;
        cs = (llmcache__chunk *)LLMCACHE_REALLOC(c->chunks, ((size_t)c->n_chunks + 1) * sizeof *cs);
        if (!cs) return LLMCACHE_ENOMEM;
        c->chunks = cs;
        mem = LLMCACHE_MALLOC(bytes + LLMCACHE__HUGE);
        if (!mem) return LLMCACHE_ENOMEM;
        at = LLMCACHE__HUGE ? ((uintptr_t)mem + LLMCACHE__HUGE - 1) & ~(uintptr_t)(LLMCACHE__HUGE - 1) : (uintptr_t)mem;
        llmcache__f_advise_huge((void *)at, bytes);
        c->chunks[c->n_chunks].e = (llmcache__entry *)at;
        c->chunks[c->n_chunks++].mem = mem;
        c->ents_cap += (uint32_t)LLMCACHE__CHUNK;
    }
    return LLMCACHE_OK;
}

/* Frees the entry array (the values first: llmcache__free_values). */
static void llmcache__ents_free(llmcache *c) {
    uint32_t k;
    for (k = 0; k < c->n_chunks; k++) LLMCACHE_FREE(c->chunks[k].mem);
    LLMCACHE_FREE(c->chunks);
    c->chunks = NULL;
    c->n_chunks = c->ents_cap = c->ents_top = 0;
}

/* The list of entries whose value is held in memory (log mode), most recent first;
 * its links are in the value blocks' headers, so an entry on disk only has none. */
#define LLMCACHE__VPREV offsetof(llmcache__blobhdr, vprev)
#define LLMCACHE__VNEXT offsetof(llmcache__blobhdr, vnext)
static uint32_t llmcache__vlink(const llmcache *c, uint32_t i, size_t which) {
    uint32_t v;
    memcpy(&v, llmcache__ent(c, i)->at.blob + which, sizeof v);
    return v;
}
static void llmcache__vlink_set(llmcache *c, uint32_t i, size_t which, uint32_t v) {
    memcpy(llmcache__ent(c, i)->at.blob + which, &v, sizeof v);
}
static void llmcache__vlist_unlink(llmcache *c, uint32_t i) {
    uint32_t prev = llmcache__vlink(c, i, LLMCACHE__VPREV), next = llmcache__vlink(c, i, LLMCACHE__VNEXT);
    if (prev != LLMCACHE__NIL) llmcache__vlink_set(c, prev, LLMCACHE__VNEXT, next); else c->val_head = next;
    if (next != LLMCACHE__NIL) llmcache__vlink_set(c, next, LLMCACHE__VPREV, prev); else c->val_tail = prev;
}
static void llmcache__vlist_push(llmcache *c, uint32_t i) {
    llmcache__vlink_set(c, i, LLMCACHE__VPREV, LLMCACHE__NIL);
    llmcache__vlink_set(c, i, LLMCACHE__VNEXT, c->val_head);
    if (c->val_head != LLMCACHE__NIL) llmcache__vlink_set(c, c->val_head, LLMCACHE__VPREV, i); else c->val_tail = i;
    c->val_head = i;
}

/* The recency list: entries in the table, most recently used first. */
static void llmcache__lru_unlink(llmcache *c, uint32_t i) {
    llmcache__entry *e = llmcache__ent(c, i);
    if (e->prev != LLMCACHE__NIL) llmcache__ent(c, e->prev)->next = e->next; else c->lru_head = e->next;
    if (e->next != LLMCACHE__NIL) llmcache__ent(c, e->next)->prev = e->prev; else c->lru_tail = e->prev;
}
static void llmcache__lru_push(llmcache *c, uint32_t i) {
    llmcache__entry *e = llmcache__ent(c, i);
    e->prev = LLMCACHE__NIL;
    e->next = c->lru_head;
    if (c->lru_head != LLMCACHE__NIL) llmcache__ent(c, c->lru_head)->prev = i; else c->lru_tail = i;
    c->lru_head = i;
}

/* Marks entry i as the most recently used. */
static void llmcache__touch(llmcache *c, uint32_t i) {
    if (c->lru_head != i) {
        llmcache__lru_unlink(c, i);
        llmcache__lru_push(c, i);
    }
    if (c->path && (llmcache__ent(c, i)->flags & LLMCACHE__E_MEM) && c->val_head != i) {
        llmcache__vlist_unlink(c, i);
        llmcache__vlist_push(c, i);
    }
}

/* The size of a value block, from its header. */
static size_t llmcache__blob_size(const unsigned char *blob) {
    uint32_t len, flags;
    memcpy(&len, blob + offsetof(llmcache__blobhdr, len), sizeof len);
    memcpy(&flags, blob + offsetof(llmcache__blobhdr, flags), sizeof flags);
    return LLMCACHE__BLOB_HDR + (flags & LLMCACHE__E_META ? sizeof(llmcache_meta) : 0) + len + 1;
}

/* Frees entry i's value held in memory (the record stays on disk). */
static void llmcache__drop_value(llmcache *c, uint32_t i) {
    llmcache__entry *e = llmcache__ent(c, i);
    unsigned char *blob = e->at.blob;
    if (!(e->flags & LLMCACHE__E_MEM)) return;
    if (c->path) llmcache__vlist_unlink(c, i);
    c->bytes -= llmcache__blob_cost(llmcache__blob_size(blob));
    e->at.off = llmcache__ent_off(e);
    e->flags &= ~(uint32_t)LLMCACHE__E_MEM;
    LLMCACHE_FREE(blob);
}

/* Gives entry i (which has none) the value block made by llmcache__make_blob; the
 * block takes the entry's record offset. */
static void llmcache__set_value(llmcache *c, uint32_t i, unsigned char *blob) {
    llmcache__entry *e = llmcache__ent(c, i);
    uint64_t off = e->at.off;
    LLMCACHE_ASSERT(!(e->flags & LLMCACHE__E_MEM));
    memcpy(blob + offsetof(llmcache__blobhdr, off), &off, sizeof off);
    e->at.blob = blob;
    e->flags |= LLMCACHE__E_MEM;
    c->bytes += llmcache__blob_cost(llmcache__blob_size(blob));
    if (c->path) llmcache__vlist_push(c, i);
}

static uint64_t llmcache__pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* The least recently used entry other than keep (NIL if none). */
static uint32_t llmcache__lru_oldest(const llmcache *c, uint32_t keep) {
    return c->lru_tail == keep ? LLMCACHE__NIL : c->lru_tail;   /* keep is the newest: it is alone */
}

/* Removes entry i from the table and the lists; frees its value. */
static void llmcache__remove(llmcache *c, uint32_t i) {
    llmcache__entry *e = llmcache__ent(c, i);
    size_t hole, j;
    llmcache__drop_value(c, i);
    hole = llmcache__slot_of(c, i);
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
    llmcache__lru_unlink(c, i);
    c->bytes -= LLMCACHE__ENTRY_CHARGE(c);
    if (c->path) c->live_bytes -= llmcache__pad8(e->rec_len);
    e->flags = 0;
    e->next = c->free_head;
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
        c->free_head = llmcache__ent(c, i)->next;
        return i;
    }
    if (llmcache__ents_fit(c, (size_t)c->ents_top + 1) != LLMCACHE_OK) return LLMCACHE__NIL;
    return c->ents_top++;
}

/* Puts entry i, whose key hashes to h and is not in the table, in the first empty
 * slot from its home. */
static void llmcache__slot_put(llmcache *c, uint64_t h, uint32_t i) {
    size_t slot = (size_t)(h >> 32) & c->slot_mask;
    while (c->slots[slot].tag_idx) slot = (slot + 1) & c->slot_mask;
    c->slots[slot].tag_idx = (h >> 32) << 32 | ((uint64_t)i + 1);
}

/* The entry for key, created (most recently used, no value) when absent; NIL when
 * out of memory. *created tells which. */
static uint32_t llmcache__upsert(llmcache *c, const llmcache_key *key, int *created) {
    uint64_t h = llmcache__hash(c, key);
    llmcache__entry *e;
    uint32_t i;
    size_t slot;
    int found = 0;
    *created = 0;
    if (c->count) {
        slot = llmcache__probe(c, key, h, &found);
        if (found) return (uint32_t)c->slots[slot].tag_idx - 1;
    }
    if (llmcache__table_fit(c, c->count + 1) != LLMCACHE_OK) return LLMCACHE__NIL;
    i = llmcache__alloc_entry(c);
    if (i == LLMCACHE__NIL) return LLMCACHE__NIL;
    e = llmcache__ent(c, i);
    memset(e, 0, sizeof *e);
    e->h = h;
    e->flags = LLMCACHE__E_USED;
    llmcache__slot_put(c, h, i);
    c->count++;
    llmcache__lru_push(c, i);
    c->bytes += LLMCACHE__ENTRY_CHARGE(c);
    *created = 1;
    return i;
}

/* What a value block's header says of a value: its key, length, whether a meta
 * block comes with it, its times. */
static llmcache__blobhdr llmcache__value_desc(const llmcache_key *key, size_t len, int has_meta, int64_t created_ms,
                                              int64_t expires_ms) {
    llmcache__blobhdr d;
    d.key = *key;
    d.len = (uint32_t)len;
    d.flags = LLMCACHE__E_USED | (has_meta ? LLMCACHE__E_META : 0);
    d.created_ms = created_ms;
    d.expires_ms = expires_ms;
    d.off = 0;
    d.vprev = d.vnext = LLMCACHE__NIL;
    return d;
}

/* Gives entry i, just returned by llmcache__upsert (created: a new one), the value
 * described by d: an entry that held one loses its value in memory and becomes the
 * most recently used. With a log, the record at off (rec_len bytes) holds the value. */
static void llmcache__entry_update(llmcache *c, uint32_t i, int created, const llmcache__blobhdr *d, uint64_t off,
                                   uint32_t rec_len) {
    llmcache__entry *e = llmcache__ent(c, i);
    if (!created) {
        llmcache__drop_value(c, i);
        if (c->path) c->live_bytes -= llmcache__pad8(e->rec_len);
        llmcache__touch(c, i);
    }
    e->at.off = off;
    e->rec_len = rec_len;
    if (c->path) c->live_bytes += llmcache__pad8(rec_len);
    e->flags = d->flags & (LLMCACHE__E_USED | LLMCACHE__E_META);
    e->expires_ms = d->expires_ms;
}

/* A value block for the value described by d: header, [meta], bytes, NUL (the
 * record offset is set by llmcache__set_value). NULL when out of memory. */
static unsigned char *llmcache__make_blob(const llmcache__blobhdr *d, const void *data, const llmcache_meta *meta) {
    size_t at = LLMCACHE__BLOB_HDR + (meta ? sizeof(llmcache_meta) : 0);
    unsigned char *blob = (unsigned char *)LLMCACHE_MALLOC(at + d->len + 1);
    llmcache__blobhdr h = *d;
    if (!blob) return NULL;
    h.flags = LLMCACHE__E_USED | (meta ? LLMCACHE__E_META : 0);
    h.vprev = h.vnext = LLMCACHE__NIL;
    memcpy(blob, &h, sizeof h);
    if (meta) memcpy(blob + LLMCACHE__BLOB_HDR, meta, sizeof *meta);
    if (d->len) memcpy(blob + at, data, d->len);
    blob[at + d->len] = 0;
    return blob;
}

/* Whether a value of blob_size bytes may be held in memory next to an entry. A
 * log-backed cache keeps values larger than a quarter of max_bytes on disk only. */
static int llmcache__value_fits(const llmcache *c, size_t blob_size) {
    size_t cost = llmcache__blob_cost(blob_size);
    return c->path ? cost <= c->max_bytes / 4 : cost + LLMCACHE__ENTRY_COST <= c->max_bytes;
}

/* now + ttl, saturated to [1, INT64_MAX]: 0 means "never" and a negative time is
 * no expiry at all, so a clock near either end of its range still gives an entry
 * that expires (at the first representable time). */
static int64_t llmcache__expiry(const llmcache *c, int64_t now, int64_t ttl_ms) {
    if (ttl_ms == 0) ttl_ms = c->ttl_ms;
    if (ttl_ms <= 0) return 0;
    if (now > INT64_MAX - ttl_ms) return INT64_MAX;
    return now + ttl_ms < 1 ? 1 : now + ttl_ms;
}

/* Looks at a few entries past the sweep cursor and drops the expired ones, so that
 * entries nobody reads again do not hold memory forever. Amortized O(1) per put. */
static void llmcache__sweep_some(llmcache *c, int64_t now, uint32_t n) {
    while (n-- && c->ents_top) {
        uint32_t i = c->sweep_cursor++ % c->ents_top;
        llmcache__entry *e = llmcache__ent(c, i);
        if ((e->flags & LLMCACHE__E_USED) && llmcache__expired(e, now)) {
            llmcache__remove(c, i);
            c->st.expirations++;
        }
    }
}

#ifdef LLMCACHE_TEST_HOOKS
/* Tests make keys collide: clears these bits from every table hash of c from now on
 * (all of them: every key hashes alike), and rehashes the entries c holds. */
static LLMCACHE__MAYBE_UNUSED void llmcache__test_collide(llmcache *c, uint64_t clear) {
    uint32_t i;
    llmcache__handle_lock(c);
    c->test_hash_clear = clear;
    if (c->slots) memset(c->slots, 0, (c->slot_mask + 1) * sizeof *c->slots);
    for (i = 0; i < c->ents_top; i++) {
        llmcache__entry *e = llmcache__ent(c, i);
        const unsigned char *k = llmcache__ent_key(c, e);
        llmcache_key key;
        if (!(e->flags & LLMCACHE__E_USED) || !k) continue;
        memcpy(key.bytes, k, 32);
        e->h = llmcache__hash(c, &key);
        llmcache__slot_put(c, e->h, i);
    }
    llmcache__handle_unlock(c);
}
#endif

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
 *  14 u16 flags (bit 0: meta present; bits 8..15: transform id, 0 = plain)   16 u64 seq
 *  24 key[32]   56 i64 created ms   64 i64 expires ms (0 never)   72 u32 value len
 *  76 u32 meta len   80 meta (0 or 64 bytes)   then the value; a transformed value
 *  is u32 plain length, then the transform's output. */
#define LLMCACHE__FILE_MAGIC   "LLMCACHE"
#define LLMCACHE__FILE_VERSION 1u
#define LLMCACHE__HDR_SIZE     64u
#define LLMCACHE__REC_MAGIC    0xABC41ED7u
#define LLMCACHE__REC_HDR      80u
#define LLMCACHE__META_SIZE    64u
/* The format's own bound on a record (lengths are 32-bit): it alone decides which
 * records on disk are intact. LLMCACHE_MAX_VALUE only bounds what this build puts
 * and loads; a larger intact record stays on disk and reads as LLMCACHE_ETOOBIG. */
#define LLMCACHE__REC_MAX      ((uint64_t)0xfffffff8u)
/* The largest record this build puts or loads. */
#define LLMCACHE__REC_LOAD_MAX ((uint64_t)LLMCACHE__REC_HDR + LLMCACHE__META_SIZE + LLMCACHE_MAX_VALUE)
typedef char llmcache__max_value_fits_the_format
    [(uint64_t)LLMCACHE_MAX_VALUE <= LLMCACHE__REC_MAX - LLMCACHE__REC_HDR - LLMCACHE__META_SIZE ? 1 : -1];
enum { LLMCACHE__R_PUT = 1, LLMCACHE__R_DEL = 2 };
enum { LLMCACHE__WHY_USER = 0, LLMCACHE__WHY_EVICT = 1, LLMCACHE__WHY_PURGE = 2 };

typedef struct llmcache__record {
    unsigned type, reason, flags;
    unsigned xform;               /* transform id (flags bits 8..15); 0 = plain value */
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

static void llmcache__meta_decode(const unsigned char *p, llmcache_meta *m) {
    memcpy(m->schema_hash, p, 32);
    m->status = (int32_t)llmcache__ld32(p + 32);
    m->flags = llmcache__ld32(p + 36);
    m->latency_ms = (int64_t)llmcache__ld64(p + 40);
    m->prompt_tokens = (int64_t)llmcache__ld64(p + 48);
    m->completion_tokens = (int64_t)llmcache__ld64(p + 56);
}

static uint64_t llmcache__rec_size(size_t value_len, int has_meta) {
    return llmcache__pad8((uint64_t)LLMCACHE__REC_HDR + (has_meta ? LLMCACHE__META_SIZE : 0) + value_len);
}

/* Writes a whole record (header, meta, value, padding, checksum) at p; returns its
 * unpadded length. xform: the transform id of a value already in its stored form
 * (llmcache__xform_encode), else 0. */
static uint32_t llmcache__rec_encode(unsigned char *p, unsigned type, unsigned reason,
                                                            uint64_t seq, const llmcache_key *key,
                                                            int64_t created_ms, int64_t expires_ms,
                                                            const llmcache_meta *meta, const void *value,
                                                            size_t value_len, unsigned xform) {
    uint32_t meta_len = meta ? LLMCACHE__META_SIZE : 0;
    uint32_t len = (uint32_t)(LLMCACHE__REC_HDR + meta_len + value_len);
    llmcache__st32(p, LLMCACHE__REC_MAGIC);
    llmcache__st32(p + 8, len);
    p[12] = (unsigned char)type;
    p[13] = (unsigned char)reason;
    p[14] = (unsigned char)(meta ? 1 : 0);
    p[15] = (unsigned char)xform;
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

/* Decodes the record at p if its header is well formed and it fits in avail bytes
 * (padding included); returns 1 and fills r, else 0. Reads no byte past the header
 * and does not check the CRC (llmcache__rec_check does). */
static int llmcache__rec_head(const unsigned char *p, uint64_t avail, llmcache__record *r) {
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
        (r->type == LLMCACHE__R_DEL && r->value_len) || (r->flags & 0xffu) != (r->meta_len ? 1u : 0u))
        return 0;
    r->xform = r->flags >> 8;
    if (r->xform && (r->type != LLMCACHE__R_PUT || r->value_len < 4)) return 0;
    r->len = len;
    r->seq = llmcache__ld64(p + 16);
    memcpy(r->key.bytes, p + 24, 32);
    r->created_ms = (int64_t)llmcache__ld64(p + 56);
    r->expires_ms = (int64_t)llmcache__ld64(p + 64);
    r->meta = r->meta_len ? p + LLMCACHE__REC_HDR : NULL;
    r->value = p + LLMCACHE__REC_HDR + r->meta_len;
    return 1;
}

/* Decodes the record at p if it is intact (well formed, its CRC right) and fits in
 * avail bytes (padding included); returns 1 and fills r, else 0. Never reads past
 * p + avail. */
static int llmcache__rec_check(const unsigned char *p, uint64_t avail, llmcache__record *r) {
    return llmcache__rec_head(p, avail, r) && llmcache__ld32(p + 4) == llmcache__crc32c(0, p + 8, r->len - 8);
}

/* The key of the record at off in the mapped log (>>table); NULL when the log is not
 * mapped that far. The record was intact when the index took it; a value is returned
 * only after llmcache__rec_check. */
static const unsigned char *llmcache__rec_key(const llmcache *c, uint64_t off) {
    if (!c->map || off > c->map_len || c->map_len - off < LLMCACHE__REC_HDR) return NULL;
    return c->map + off + 24;
}

static void llmcache__hdr_encode(unsigned char *p, uint64_t file_id, int64_t created_ms) {
    memset(p, 0, LLMCACHE__HDR_SIZE);
    memcpy(p, LLMCACHE__FILE_MAGIC, 8);
    llmcache__st32(p + 8, LLMCACHE__FILE_VERSION);
    llmcache__st32(p + 12, LLMCACHE__HDR_SIZE);
    llmcache__st64(p + 16, file_id);
    llmcache__st64(p + 24, (uint64_t)created_ms);
    llmcache__st32(p + 60, llmcache__crc32c(0, p, 60));
}

/* LLMCACHE_OK and the file id, or ENOTCACHE (no magic) / ECORRUPT (a checksum or
 * header size that is wrong) / EVERSION (another version, under a right checksum:
 * a version field damaged in place is ECORRUPT). */
static int llmcache__hdr_check(const unsigned char *p, size_t n, uint64_t *file_id) {
    if (n < 8 || memcmp(p, LLMCACHE__FILE_MAGIC, 8) != 0) return LLMCACHE_ENOTCACHE;
    if (n < LLMCACHE__HDR_SIZE || llmcache__ld32(p + 60) != llmcache__crc32c(0, p, 60)) return LLMCACHE_ECORRUPT;
    if (llmcache__ld32(p + 8) != LLMCACHE__FILE_VERSION) return LLMCACHE_EVERSION;
    if (llmcache__ld32(p + 12) != LLMCACHE__HDR_SIZE) return LLMCACHE_ECORRUPT;
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

static uint64_t llmcache__walk(const unsigned char *map, uint64_t from, uint64_t to,
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

static void llmcache__add_rec_bytes(void *ctx, uint64_t off, const llmcache__record *r) {
    (void)off;
    *(uint64_t *)ctx += llmcache__pad8(r->len);
}

/* Whether map[0, size), whose header fails its checks, is still a log (a damaged
 * header, not a foreign file): an intact record right after the header, or intact
 * records making up at least half of the bytes after it, a tail of zeros not
 * counted (docs/FORMAT.md, "Repair and verify"). */
static int llmcache__hdr_damaged_log(const unsigned char *map, uint64_t size) {
    llmcache__walker w;
    llmcache__record r;
    uint64_t intact = 0, end;
    if (size <= LLMCACHE__HDR_SIZE) return 0;
    if (llmcache__rec_check(map + LLMCACHE__HDR_SIZE, size - LLMCACHE__HDR_SIZE, &r)) return 1;
    w.on_record = llmcache__add_rec_bytes; w.on_damage = NULL; w.ctx = &intact;
    end = llmcache__walk(map, LLMCACHE__HDR_SIZE, size, &w);
    if (llmcache__all_zero(map + end, size - end)) size = end;
    return intact > 0 && intact * 2 >= size - LLMCACHE__HDR_SIZE;
}

/* >>transform (values transformed at rest: llmcache_config.transform) ----------------
 * A transformed record (flags bits 8..15: the id) holds as its value u32 plain
 * length, then what the transform's encode wrote; the checksum covers both, and
 * decode runs only on an intact record. Memory holds plain values. */
struct llmcache_xform_out { llmcache__buf b; };

LLMCACHE_API int llmcache_xform_write(llmcache_xform_out *out, const void *data, size_t len) {
    if (!out || (!data && len)) return LLMCACHE_EINVAL;
    llmcache__buf_put(&out->b, data, len);
    return out->b.oom ? LLMCACHE_ENOMEM : LLMCACHE_OK;
}

LLMCACHE_API unsigned char *llmcache_xform_reserve(llmcache_xform_out *out, size_t n) {
    if (!out || !llmcache__buf_reserve(&out->b, n)) return NULL;
    return (unsigned char *)out->b.p + out->b.len;
}

LLMCACHE_API void llmcache_xform_commit(llmcache_xform_out *out, size_t n) {
    if (!out || out->b.oom) return;
    if (!out->b.p || n > out->b.cap - 1 - out->b.len) { out->b.oom = 1; return; }   /* past the reserve */
    out->b.len += n;
}

/* The stored form of data[0..len) under transform t (id 0: none): *out and *out_len
 * name it (data itself when plain), *xform gets the id; an encoded form lives in
 * tmp, which the caller frees. LLMCACHE_ETRANSFORM when encode fails, ETOOBIG when
 * its output exceeds LLMCACHE_MAX_VALUE, ENOMEM. */
static int llmcache__xform_encode(const llmcache_transform *t, const llmcache_key *key, const void *data,
                                  size_t len, llmcache__buf *tmp, const void **out, size_t *out_len,
                                  unsigned *xform) {
    llmcache_xform_out o;
    unsigned char plain_len[4];
    *out = data; *out_len = len; *xform = 0;
    if (!t->id) return LLMCACHE_OK;
    memset(&o, 0, sizeof o);
    llmcache__st32(plain_len, (uint32_t)len);
    llmcache__buf_put(&o.b, plain_len, 4);
    if (t->encode(t->ctx, key, data ? data : "", len, &o) != 0 && !o.b.oom) {
        llmcache__buf_free(&o.b);
        return LLMCACHE_ETRANSFORM;
    }
    if (o.b.oom) { llmcache__buf_free(&o.b); return LLMCACHE_ENOMEM; }
    if (o.b.len > LLMCACHE_MAX_VALUE) { llmcache__buf_free(&o.b); return LLMCACHE_ETOOBIG; }
    *tmp = o.b;
    *out = o.b.p; *out_len = o.b.len; *xform = t->id;
    return LLMCACHE_OK;
}

/* The plain value of the intact put record r under transform t: *plain and
 * *plain_len name it (in the record itself when r is plain; else in *owned, which
 * the caller frees). LLMCACHE_ETRANSFORM for an id other than t's, LLMCACHE_ECORRUPT
 * when decode fails or gives another length than the record states, ETOOBIG over
 * LLMCACHE_MAX_VALUE, ENOMEM. Counts nothing (llmcache__xform_count does). */
static int llmcache__xform_decode(const llmcache_transform *t, const llmcache__record *r,
                                  const unsigned char **plain, size_t *plain_len, unsigned char **owned) {
    llmcache_xform_out o;
    uint32_t want;
    *owned = NULL;
    *plain = r->value; *plain_len = r->value_len;
    if (!r->xform) return LLMCACHE_OK;
    if (r->xform != t->id) return LLMCACHE_ETRANSFORM;
    want = llmcache__ld32(r->value);
    if (want > LLMCACHE_MAX_VALUE) return LLMCACHE_ETOOBIG;
    memset(&o, 0, sizeof o);
    llmcache__buf_reserve(&o.b, want);
    if (t->decode(t->ctx, &r->key, r->value + 4, r->value_len - 4, &o) != 0 && !o.b.oom) {
        llmcache__buf_free(&o.b);
        return LLMCACHE_ECORRUPT;
    }
    if (o.b.oom) { llmcache__buf_free(&o.b); return LLMCACHE_ENOMEM; }
    if (o.b.len != want) { llmcache__buf_free(&o.b); return LLMCACHE_ECORRUPT; }
    if (!o.b.p) llmcache__buf_reserve(&o.b, 1);   /* an empty value still gets a buffer */
    if (o.b.oom) return LLMCACHE_ENOMEM;
    *owned = (unsigned char *)o.b.p;
    *plain = *owned; *plain_len = want;
    return LLMCACHE_OK;
}

/* The length of the plain value of the intact put record r, without decoding. */
static size_t llmcache__xform_plain_len(const llmcache__record *r) {
    return r->xform ? llmcache__ld32(r->value) : r->value_len;
}

/* What entry e's value block or record header says of it (key, plain value length,
 * times, meta flag), for listings and the index snapshot, not for a value returned
 * (the record's CRC is not read); 0 when its record is not in the mapped log. */
static int llmcache__ent_desc(const llmcache *c, const llmcache__entry *e, llmcache__blobhdr *d) {
    llmcache__record r;
    if (e->flags & LLMCACHE__E_MEM) { memcpy(d, e->at.blob, sizeof *d); return 1; }
    if (!c->map || e->at.off > c->map_len ||
        !llmcache__rec_head(c->map + e->at.off, c->map_len - e->at.off, &r) || r.len != e->rec_len ||
        r.type != LLMCACHE__R_PUT)
        return 0;
    *d = llmcache__value_desc(&r.key, llmcache__xform_plain_len(&r), r.meta != NULL, r.created_ms, r.expires_ms);
    d->off = e->at.off;
    return 1;
}

/* Counts a failed decode (rc from llmcache__xform_decode); the caller holds c->mu. */
static void llmcache__xform_count(llmcache *c, int rc) {
    LLMCACHE_ASSERT(c->mu_held);
    if (rc == LLMCACHE_ETRANSFORM) c->st.transform_unknown++;
    else if (rc == LLMCACHE_ECORRUPT) c->st.transform_failed++;
}

/* The event that tells why a read of key failed its transform, if rc says so. */
static const char *llmcache__xform_why(int rc) {
    if (rc == LLMCACHE_ETRANSFORM) return "stored value has a transform id this handle was not given; not returned";
    if (rc == LLMCACHE_ECORRUPT) return "stored value failed its transform's decode (authentication or damage); not returned";
    return NULL;
}

/* >>log (the log file behind the table: open, recover, catch up, append, compact) -- */
#define LLMCACHE__PROGRESS_STEP ((uint64_t)4 << 20)

/* A caller's progress callback (llmcache_progress_fn), told at most every
 * LLMCACHE__PROGRESS_STEP units of work and once more at the end. */
typedef struct llmcache__progress {
    llmcache_progress_fn fn;
    void *ctx;
    uint64_t total, next;
} llmcache__progress;

static void llmcache__progress_start(llmcache__progress *p, llmcache_progress_fn fn, void *ctx, uint64_t total) {
    p->fn = fn;
    p->ctx = ctx;
    p->total = total;
    p->next = LLMCACHE__PROGRESS_STEP;
}

/* done: the work done so far, never less than at the previous call */
static void llmcache__progress_tell(llmcache__progress *p, uint64_t done) {
    if (!p->fn || done < p->next || done >= p->total) return;
    p->fn(p->ctx, done, p->total);
    p->next = done + LLMCACHE__PROGRESS_STEP;
}

static void llmcache__progress_end(llmcache__progress *p) {
    if (p->fn) p->fn(p->ctx, p->total, p->total);
}
#define LLMCACHE__GROW_MIN ((uint64_t)1 << 20)
#define LLMCACHE__MAP_MIN  ((uint64_t)256 << 20)
#define LLMCACHE__COMPACT_MIN ((uint64_t)1 << 20)
#define LLMCACHE__PREFAULT ((uint64_t)64 << 10)

#ifdef LLMCACHE_TEST_HOOKS
/* Tests crash the process at numbered points (see tests/test_log.c). */
#  define LLMCACHE__TEST_POINT(c, n) do { if ((c)->test_point) (c)->test_point((c)->test_ctx, (n)); } while (0)
/* Tests log every record as it is appended (see tests/test_chaos.c). */
#  define LLMCACHE__TEST_RECORD(c, p) do { if ((c)->test_record) (c)->test_record((c)->test_ctx, (p)); } while (0)
#else
#  define LLMCACHE__TEST_POINT(c, n) ((void)0)
#  define LLMCACHE__TEST_RECORD(c, p) ((void)0)
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
    rc = llmcache__f_map(c->fd, &got, !c->read_only, &m);
    if (rc != LLMCACHE_OK) return rc;
    if (got < need) { llmcache__f_unmap(m, got); return LLMCACHE_EIO; }   /* Win32: the file is shorter */
    llmcache__f_unmap(c->map, c->map_len);
    c->map = m;
    c->map_len = got;
    return LLMCACHE_OK;
}

/* Applies one record to the index (load and catch-up). */
static void llmcache__apply(void *ctx, uint64_t off, const llmcache__record *r) {
    llmcache *c = (llmcache *)ctx;
    llmcache__blobhdr d;
    uint32_t i;
    int created;
    if (c->loading) c->st.records_recovered++;
    if (r->seq > c->last_seq_seen) c->last_seq_seen = r->seq;
    c->rec_count++;
    c->last_rec_off = off;
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
    if (i == LLMCACHE__NIL) { c->partial = 1; return; }   /* out of memory: the entry stays on disk only */
    d = llmcache__value_desc(&r->key, llmcache__xform_plain_len(r), r->meta_len != 0, r->created_ms, r->expires_ms);
    llmcache__entry_update(c, i, created, &d, off, r->len);
}

static void llmcache__count_skip(void *ctx, uint64_t off, uint64_t len, int zero_tail) {
    llmcache *c = (llmcache *)ctx;
    (void)off; (void)len;
    if (!zero_tail) c->st.records_skipped++;
}

/* Maps the current log up to `to` and applies its records in [from, to) to the
 * index; *good: the end of the last intact record. */
static int llmcache__log_apply_range(llmcache *c, uint64_t from, uint64_t to, uint64_t *good) {
    llmcache__walker w;
    int rc = llmcache__log_map(c, to);
    if (rc != LLMCACHE_OK) return rc;
    w.on_record = llmcache__apply;
    w.on_damage = llmcache__count_skip;
    w.ctx = c;
    *good = llmcache__walk(c->map, from, to, &w);
    return LLMCACHE_OK;
}

/* Frees the values held in memory (the entries stay as they are). */
static void llmcache__free_values(llmcache *c) {
    uint32_t i;
    for (i = 0; i < c->ents_top; i++) {
        llmcache__entry *e = llmcache__ent(c, i);
        if (e->flags & LLMCACHE__E_MEM) LLMCACHE_FREE(e->at.blob);
        e->flags = 0;
    }
}

/* Forgets every entry (before a reload). */
static void llmcache__clear(llmcache *c) {
    llmcache__free_values(c);
    c->ents_top = 0;
    c->free_head = c->val_head = c->val_tail = LLMCACHE__NIL;
    c->lru_head = c->lru_tail = LLMCACHE__NIL;
    if (c->slots) memset(c->slots, 0, (c->slot_mask + 1) * sizeof(llmcache__slot));
    c->count = 0;
    c->bytes = 0;
    c->live_bytes = 0;
    c->partial = 0;
    c->rec_count = c->last_rec_off = 0;
}

/* Temporary files beside a log (the compacted or repaired copy before it is
 * renamed over the log): path, a kind, and 16 hex digits of a random number, so
 * that no one can plant a link at the name beforehand; created exclusively and
 * never through a link, with the log's mode and owner. A crash leaves the file
 * behind until llmcache__log_remove_temps. */
#define LLMCACHE__TEMP_COMPACT ".compact-"
#define LLMCACHE__TEMP_REPAIR  ".repair-"
#define LLMCACHE__TEMP_INDEX   ".index-"   /* an index snapshot (>>index snapshot) */
#define LLMCACHE__TEMP_DIGITS  16
static int llmcache__temp_create(const char *path, const char *kind, llmcache__fd log_fd, llmcache__fd *fd,
                                 char **name) {
    char sfx[32];
    size_t k = strlen(kind);
    int rc;
    memcpy(sfx, kind, k);
    llmcache__hex64(llmcache__f_random64(), sfx + k);
    sfx[k + LLMCACHE__TEMP_DIGITS] = '\0';
    *fd = LLMCACHE__NOFD;
    *name = llmcache__concat(path, strlen(path), sfx);
    if (!*name) return LLMCACHE_ENOMEM;
    rc = llmcache__f_open(*name, LLMCACHE__F_EXCL | LLMCACHE__F_NOFOLLOW, LLMCACHE__FILE_MODE, fd);
    if (rc == LLMCACHE_OK && (rc = llmcache__f_copy_owner(*fd, log_fd)) != LLMCACHE_OK) {
        llmcache__f_close(*fd);
        *fd = LLMCACHE__NOFD;
        llmcache__f_unlink(*name);
    }
    if (rc != LLMCACHE_OK) { LLMCACHE_FREE(*name); *name = NULL; }
    return rc;
}

static void llmcache__temp_unlink_stale(void *ctx, const char *file, const char *suffix) {
    static const char *const kinds[] = {LLMCACHE__TEMP_COMPACT, LLMCACHE__TEMP_REPAIR, LLMCACHE__TEMP_INDEX};
    size_t i, k;
    (void)ctx;
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        k = strlen(kinds[i]);
        if (strncmp(suffix, kinds[i], k) == 0 && strlen(suffix + k) == LLMCACHE__TEMP_DIGITS &&
            strspn(suffix + k, llmcache__hex_digits) == LLMCACHE__TEMP_DIGITS)
            llmcache__f_unlink(file);
    }
}

/* Removes the temporary files beside the log at path that this user's processes
 * left when they died in a compaction or repair. Only where none can be under way:
 * by the first opener (no other handle, so no compaction; repair wants the log
 * closed everywhere) and by the writer that heals after a dead one. */
static void llmcache__log_remove_temps(const char *path) {
    llmcache__f_each_own(path, llmcache__temp_unlink_stale, NULL);
}

/* Keeps every handle off the log at path while a repair rewrites it, with the
 * lock bytes of path-shm (see llmcache__log_open): the opener byte, waiting for an
 * opener or closer to finish, then the live byte exclusive, which only succeeds when no handle
 * has the log open (each holds it shared), both kept until *shm_fd is closed so
 * that nobody opens the log meanwhile; the next opener is then alone and rebuilds
 * the page from the new file. A missing path-shm is made, with the log's mode and
 * owner, when the log's header is valid; under a header that is not, no handle can
 * open the log, so without a path-shm there is nothing to lock (*shm_fd stays
 * LLMCACHE__NOFD). LLMCACHE_EBUSY: a handle has the log open. */
static int llmcache__log_lock_out(const char *path, llmcache__fd log_fd, llmcache__fd *shm_fd) {
    unsigned char hdr[LLMCACHE__HDR_SIZE];
    uint64_t size, id;
    char *shm_path = llmcache__concat(path, strlen(path), "-shm");
    int rc, valid;
    *shm_fd = LLMCACHE__NOFD;
    if (!shm_path) return LLMCACHE_ENOMEM;
    valid = llmcache__f_size(log_fd, &size) == LLMCACHE_OK && size >= LLMCACHE__HDR_SIZE &&
            llmcache__f_pread(log_fd, hdr, sizeof hdr, 0) == LLMCACHE_OK &&
            llmcache__hdr_check(hdr, sizeof hdr, &id) == LLMCACHE_OK;
    rc = llmcache__f_open(shm_path, (valid ? LLMCACHE__F_CREATE : 0) | LLMCACHE__F_NOFOLLOW, LLMCACHE__FILE_MODE,
                          shm_fd);
    LLMCACHE_FREE(shm_path);
    if (rc != LLMCACHE_OK) return valid ? rc : LLMCACHE_OK;
    rc = llmcache__f_lock(*shm_fd, LLMCACHE__BYTE_OPENER, LLMCACHE__EXCLUSIVE, LLMCACHE__WAIT);
    if (rc == LLMCACHE_OK) rc = llmcache__f_lock(*shm_fd, LLMCACHE__BYTE_LIVE, LLMCACHE__EXCLUSIVE, LLMCACHE__NOWAIT);
    if (rc == LLMCACHE_MISS) rc = LLMCACHE_EBUSY;
    /* empty: made here (an opener sizes it under the opener byte at once) */
    if (rc == LLMCACHE_OK && llmcache__f_size(*shm_fd, &size) == LLMCACHE_OK && size == 0)
        rc = llmcache__f_copy_owner(*shm_fd, log_fd);
    if (rc != LLMCACHE_OK) {
        llmcache__f_close(*shm_fd);   /* releases the lock bytes */
        *shm_fd = LLMCACHE__NOFD;
    }
    return rc;
}

/* >>index snapshot (PATH-index: the index as of a log position, a hint for the next open) ----
 * Written at compaction and by the last handle to close a log; read at an open or a
 * reload, which then walks only the log after the position it covers. Nothing in it
 * is trusted: a file that fails any check (checksums, sizes, the log's file id, an
 * intact record with the stated sequence number ending exactly at the position it
 * covers, each entry inside that range, no key twice) is ignored whole and the log
 * is walked from its start; values are always read from their records, checksum
 * verified.
 * Little-endian, docs/FORMAT.md "Index snapshot" is the reference.
 * Header, 80 bytes: "LLMCIDX1", u32 version, u32 header size, u64 log file id,
 * u64 end (records in [64, end) are reflected), u64 offset of the last record before
 * end, u64 its sequence number, u64 intact records in [64, end), u64 entries, u32
 * entry size, u32 CRC-32C of the entries, u32 the last record's own CRC field, u32
 * CRC-32C of bytes 0..75.
 * Entry, 64 bytes, in the order of their records (so that an open from it has the
 * recency a full read gives): key[32], u64 record offset, u32 record
 * length (padding excluded), u32 value length, i64 created ms, i64 expires ms. */
#define LLMCACHE__INDEX_MAGIC   "LLMCIDX1"
#define LLMCACHE__INDEX_VERSION 1u
#define LLMCACHE__INDEX_HDR     80u
#define LLMCACHE__INDEX_ENTRY   64u

/* What an index snapshot's header says. */
typedef struct llmcache__index_hdr {
    uint64_t file_id, end, last_off, last_seq, records, count;
    uint32_t entries_crc, last_crc;
} llmcache__index_hdr;

static void llmcache__index_hdr_encode(unsigned char *p, const llmcache__index_hdr *h) {
    memset(p, 0, LLMCACHE__INDEX_HDR);
    memcpy(p, LLMCACHE__INDEX_MAGIC, 8);
    llmcache__st32(p + 8, LLMCACHE__INDEX_VERSION);
    llmcache__st32(p + 12, LLMCACHE__INDEX_HDR);
    llmcache__st64(p + 16, h->file_id);
    llmcache__st64(p + 24, h->end);
    llmcache__st64(p + 32, h->last_off);
    llmcache__st64(p + 40, h->last_seq);
    llmcache__st64(p + 48, h->records);
    llmcache__st64(p + 56, h->count);
    llmcache__st32(p + 64, LLMCACHE__INDEX_ENTRY);
    llmcache__st32(p + 68, h->entries_crc);
    llmcache__st32(p + 72, h->last_crc);
    llmcache__st32(p + 76, llmcache__crc32c(0, p, 76));
}

/* Decodes the header p[0, 80) of a snapshot of n bytes if it passes its checks and n
 * is the size it gives; 0 otherwise (the entries' CRC is checked as they are read). */
static int llmcache__index_hdr_check(const unsigned char *p, uint64_t n, llmcache__index_hdr *h) {
    if (n < LLMCACHE__INDEX_HDR || memcmp(p, LLMCACHE__INDEX_MAGIC, 8) != 0 ||
        llmcache__ld32(p + 76) != llmcache__crc32c(0, p, 76) || llmcache__ld32(p + 8) != LLMCACHE__INDEX_VERSION ||
        llmcache__ld32(p + 12) != LLMCACHE__INDEX_HDR || llmcache__ld32(p + 64) != LLMCACHE__INDEX_ENTRY)
        return 0;
    h->file_id = llmcache__ld64(p + 16);
    h->end = llmcache__ld64(p + 24);
    h->last_off = llmcache__ld64(p + 32);
    h->last_seq = llmcache__ld64(p + 40);
    h->records = llmcache__ld64(p + 48);
    h->count = llmcache__ld64(p + 56);
    h->entries_crc = llmcache__ld32(p + 68);
    h->last_crc = llmcache__ld32(p + 72);
    return h->count <= (n - LLMCACHE__INDEX_HDR) / LLMCACHE__INDEX_ENTRY &&
           n == LLMCACHE__INDEX_HDR + h->count * LLMCACHE__INDEX_ENTRY;
}

/* Whether the snapshot h describes map[0, size), the log whose file id is id: its
 * end a record boundary within the file, the record before it the one it names (its
 * offset, sequence number and checksum: records rewritten after a power loss that
 * kept the snapshot but not the log's tail do not pass). */
static int llmcache__index_fits(const llmcache__index_hdr *h, uint64_t id, const unsigned char *map,
                                uint64_t size) {
    llmcache__record r;
    if (h->file_id != id || h->end % 8 || h->end < LLMCACHE__HDR_SIZE || h->end > size) return 0;
    if (h->end == LLMCACHE__HDR_SIZE) return h->count == 0 && h->records == 0 && h->last_seq == 0 && h->last_crc == 0;
    return h->last_off % 8 == 0 && h->last_off >= LLMCACHE__HDR_SIZE && h->last_off < h->end &&
           llmcache__rec_check(map + h->last_off, h->end - h->last_off, &r) &&
           h->last_off + llmcache__pad8(r.len) == h->end && r.seq == h->last_seq &&
           llmcache__ld32(map + h->last_off + 4) == h->last_crc && h->records <= h->end / 8;
}

/* Makes room for n entries at once (table and entry array), so that a load grows
 * nothing entry by entry. */
static int llmcache__table_reserve(llmcache *c, size_t n) {
    if (n >= LLMCACHE__ENTS_MAX) return LLMCACHE_ENOMEM;
    if (llmcache__table_fit(c, n) != LLMCACHE_OK) return LLMCACHE_ENOMEM;
    return llmcache__ents_fit(c, n);
}

/* Entries read from a snapshot at a time (one buffer, reused: no page faults per entry). */
#define LLMCACHE__INDEX_CHUNK 16384u

/* Takes n snapshot entries at p into the entry array and the recency list, in their
 * order (expired ones skipped), and appends (hash tag << 32 | entry index) of each to
 * pairs[*np]; their table slots come after (llmcache__index_slots). 0 when one is
 * invalid (its record not inside [64, end), lengths that do not fit). The index was
 * empty and has room for them all (llmcache__table_reserve). */
static int llmcache__index_take(llmcache *c, const unsigned char *p, size_t n, uint64_t end, int64_t now,
                                uint64_t *pairs, size_t *np) {
    size_t k;
    for (k = 0; k < n; k++, p += LLMCACHE__INDEX_ENTRY) {
        uint64_t off = llmcache__ld64(p + 32);
        uint32_t rec_len = llmcache__ld32(p + 40), value_len = llmcache__ld32(p + 44), i;
        int64_t expires_ms = (int64_t)llmcache__ld64(p + 56);
        llmcache__entry *e;
        llmcache_key key;
        if (off % 8 || off < LLMCACHE__HDR_SIZE || off + llmcache__pad8(rec_len) > end || expires_ms < 0 ||
            (rec_len != (uint64_t)LLMCACHE__REC_HDR + value_len &&
             rec_len != (uint64_t)LLMCACHE__REC_HDR + LLMCACHE__META_SIZE + value_len))
            return 0;
        if (expires_ms && now >= expires_ms) continue;
        LLMCACHE_ASSERT(c->ents_top < c->ents_cap);
        i = c->ents_top++;
        e = llmcache__ent(c, i);
        memcpy(key.bytes, p, 32);
        e->h = llmcache__hash(c, &key);
        e->at.off = off;
        e->expires_ms = expires_ms;
        e->rec_len = rec_len;
        e->flags = LLMCACHE__E_USED | (rec_len != LLMCACHE__REC_HDR + value_len ? LLMCACHE__E_META : 0);
        llmcache__lru_push(c, i);
        c->count++;
        c->live_bytes += llmcache__pad8(rec_len);
        pairs[(*np)++] = (e->h >> 32) << 32 | i;
    }
    return 1;
}

/* Puts the entries named in pairs[0..n) (from llmcache__index_take) in the empty
 * table, in the order of their home slots (a counting sort on the home's top 16 bits,
 * through tmp[]), so that the table is written front to back, not at random. 0 when
 * two have the same key (a snapshot that lists a key twice is not used) or out of
 * memory. */
static int llmcache__index_slots(llmcache *c, const uint64_t *pairs, uint64_t *tmp, size_t n) {
    unsigned bits = 0, shift;
    size_t k, b, sum, buckets;
    uint32_t *count;
    while (((size_t)1 << bits) <= c->slot_mask) bits++;   /* the table has 2^bits slots */
    shift = bits > 16 ? bits - 16 : 0;
    buckets = (size_t)1 << (bits - shift);
    count = (uint32_t *)LLMCACHE_MALLOC(buckets * sizeof *count);
    if (!count) return 0;
    memset(count, 0, buckets * sizeof *count);
    for (k = 0; k < n; k++) count[((size_t)(pairs[k] >> 32) & c->slot_mask) >> shift]++;
    for (b = 0, sum = 0; b < buckets; b++) { size_t x = count[b]; count[b] = (uint32_t)sum; sum += x; }
    for (k = 0; k < n; k++) tmp[count[((size_t)(pairs[k] >> 32) & c->slot_mask) >> shift]++] = pairs[k];
    LLMCACHE_FREE(count);
    for (k = 0; k < n; k++) {
        uint64_t t = tmp[k];
        size_t j = (size_t)(t >> 32) & c->slot_mask;
        for (; c->slots[j].tag_idx; j = (j + 1) & c->slot_mask) {
            const llmcache__entry *x, *y;
            const unsigned char *kx, *ky;
            if (c->slots[j].tag_idx >> 32 != t >> 32) continue;
            x = llmcache__ent(c, (uint32_t)t);
            y = llmcache__ent(c, (uint32_t)c->slots[j].tag_idx - 1);
            kx = llmcache__ent_key(c, x);
            ky = llmcache__ent_key(c, y);
            if (x->h == y->h && (!kx || !ky || memcmp(kx, ky, 32) == 0)) return 0;
        }
        c->slots[j].tag_idx = t + 1;   /* tag << 32 | index + 1 */
    }
    return 1;
}

/* Keeps fd, a snapshot of log generation gen up to end listing count entries (loaded
 * or just written), open as the source of keys for the next snapshot (the index keeps
 * only their hashes). */
static void llmcache__index_keep(llmcache *c, llmcache__fd fd, uint64_t gen, uint64_t end, uint64_t count) {
    llmcache__f_close(c->index_fd);
    c->index_fd = fd;
    c->index_fd_gen = gen;
    c->index_fd_end = end;
    c->index_fd_count = count;
}

/* Reads the entries of the kept snapshot (c->index_fd) forward, a chunk at a time. */
typedef struct llmcache__index_src {
    llmcache__fd fd;
    uint64_t count, next;         /* entries in the file, the next one to read from it */
    unsigned char *buf;           /* LLMCACHE__INDEX_CHUNK entries; NULL = no source */
    size_t have, at;              /* entries in buf, the next one to look at */
} llmcache__index_src;

/* The kept snapshot's entry for the record at off, or NULL. Its entries are in the
 * order of their records, so the reader only moves forward (an older file in another
 * order just finds fewer: their keys then come from the log). */
static const unsigned char *llmcache__index_src_find(llmcache__index_src *s, uint64_t off) {
    for (;;) {
        const unsigned char *p;
        uint64_t at;
        if (s->at == s->have) {
            size_t k;
            if (!s->buf || s->next == s->count) return NULL;
            k = s->count - s->next < LLMCACHE__INDEX_CHUNK ? (size_t)(s->count - s->next) : LLMCACHE__INDEX_CHUNK;
            if (llmcache__f_pread(s->fd, s->buf, k * LLMCACHE__INDEX_ENTRY,
                                  LLMCACHE__INDEX_HDR + s->next * LLMCACHE__INDEX_ENTRY) != LLMCACHE_OK) {
                s->count = s->next;   /* read no further */
                return NULL;
            }
            s->have = k;
            s->at = 0;
            s->next += k;
        }
        p = s->buf + s->at * LLMCACHE__INDEX_ENTRY;
        at = llmcache__ld64(p + 32);
        if (at > off) return NULL;
        s->at++;
        if (at == off) return p;
    }
}

/* Fills the empty index from the snapshot at c->index_path if it describes the log
 * (file id id, mapped up to size); *from: where the walk of the log goes on (the
 * snapshot's end, or the header's end when there is no usable snapshot, the index
 * then still empty). An open's records recovered count the snapshot's. */
static void llmcache__index_load(llmcache *c, uint64_t id, uint64_t size, uint64_t *from) {
    unsigned char hdr[LLMCACHE__INDEX_HDR], *buf = NULL;
    llmcache__fd fd;
    llmcache__index_hdr h;
    uint64_t n = 0, done = 0, *pairs = NULL;
    size_t np = 0;
    uint32_t crc = 0;
    int64_t now = llmcache__now(c);
    int ok;
    LLMCACHE_ASSERT(c->count == 0 && c->ents_top == 0);
    *from = LLMCACHE__HDR_SIZE;
    if (llmcache__f_open(c->index_path, LLMCACHE__F_RDONLY | LLMCACHE__F_NOFOLLOW, 0, &fd) != LLMCACHE_OK) return;
    ok = llmcache__f_regular(fd) && llmcache__f_size(fd, &n) == LLMCACHE_OK && n >= LLMCACHE__INDEX_HDR &&
         llmcache__f_pread(fd, hdr, sizeof hdr, 0) == LLMCACHE_OK && llmcache__index_hdr_check(hdr, n, &h) &&
         llmcache__index_fits(&h, id, c->map, size) && (uint64_t)(size_t)h.count == h.count &&
         llmcache__table_reserve(c, (size_t)h.count) == LLMCACHE_OK;
    if (ok && h.count) {   /* pairs: two arrays of h.count (llmcache__index_slots sorts into the second) */
        buf = (unsigned char *)LLMCACHE_MALLOC(LLMCACHE__INDEX_CHUNK * LLMCACHE__INDEX_ENTRY);
        ok = buf && h.count <= (size_t)-1 / (2 * sizeof *pairs) &&
             (pairs = (uint64_t *)LLMCACHE_MALLOC(2 * (size_t)h.count * sizeof *pairs)) != NULL;
        if (ok) llmcache__f_advise_huge(pairs, 2 * (size_t)h.count * sizeof *pairs);
    }
    while (ok && done < h.count) {
        size_t k = h.count - done < LLMCACHE__INDEX_CHUNK ? (size_t)(h.count - done) : LLMCACHE__INDEX_CHUNK;
        ok = llmcache__f_pread(fd, buf, k * LLMCACHE__INDEX_ENTRY, LLMCACHE__INDEX_HDR + done * LLMCACHE__INDEX_ENTRY) ==
             LLMCACHE_OK;
        if (ok) {
            crc = llmcache__crc32c(crc, buf, k * LLMCACHE__INDEX_ENTRY);
            ok = llmcache__index_take(c, buf, k, h.end, now, pairs, &np);
        }
        done += k;
    }
    LLMCACHE_FREE(buf);
    if (ok && crc != h.entries_crc) ok = 0;
    if (ok && np) ok = llmcache__index_slots(c, pairs, pairs + h.count, np);   /* (pairs is NULL for none) */
    LLMCACHE_FREE(pairs);
    if (!ok) {   /* a full walk instead */
        llmcache__f_close(fd);
        if (c->count) llmcache__clear(c);
        return;
    }
    llmcache__index_keep(c, fd, id, h.end, h.count);
    if (c->loading) c->st.records_recovered += h.records;   /* as the walk counts them */
    c->rec_count = h.records;
    c->last_rec_off = h.last_off;
    c->st.index_loaded = h.end - LLMCACHE__HDR_SIZE;
    c->last_seq_seen = h.last_seq;
    c->index_gen = id;
    c->index_end = h.end;
    *from = h.end;
}

/* Sorts the n entry indexes v[] by their records' offsets, all below `end` (least
 * significant digit first, 11 bits a pass; tmp[] holds n more). */
static void llmcache__sort_by_off(const llmcache *c, uint32_t *v, uint32_t *tmp, size_t n, uint64_t end) {
    size_t count[2048], k, d, sum;
    unsigned shift, passes = 0;
    for (shift = 3; shift < 64 && (end >> shift); shift += 11, passes++) {   /* offsets are 8-aligned */
        uint32_t *t;
        memset(count, 0, sizeof count);
        for (k = 0; k < n; k++) count[(llmcache__ent_off(llmcache__ent(c, v[k])) >> shift) & 2047u]++;
        for (d = 0, sum = 0; d < 2048; d++) { size_t x = count[d]; count[d] = sum; sum += x; }
        for (k = 0; k < n; k++) tmp[count[(llmcache__ent_off(llmcache__ent(c, v[k])) >> shift) & 2047u]++] = v[k];
        t = v; v = tmp; tmp = t;
    }
    if (passes % 2) memcpy(tmp, v, n * sizeof *v);   /* the result back where it started */
}

/* The index snapshot of the index as it is (c->gen, c->end), written beside the log
 * (temporary file, then rename over c->index_path), unless the file on disk already
 * covers that. No fsync: a snapshot torn by a crash fails its checksums and is
 * ignored. The caller holds the writer lock. A failure leaves the old snapshot. */
static void llmcache__index_write_writer(llmcache *c) {
    llmcache__buf b = {NULL, 0, 0, 0};
    llmcache__index_hdr h;
    unsigned char hdr[LLMCACHE__INDEX_HDR];
    llmcache__index_src src;
    llmcache__record r;
    llmcache__fd fd;
    uint64_t off;
    size_t k, n;
    uint32_t *order, i;
    char *tmp;
    int rc, lost = 0;
    LLMCACHE_ASSERT(c->writer_held);
    if (c->partial || !c->gen || (c->index_gen == c->gen && c->index_end == c->end) ||
        c->st.records_skipped != c->skipped_base ||   /* damage seen: the next open reads it all, and reports it */
        llmcache__log_map(c, c->end) != LLMCACHE_OK)
        return;
    memset(&h, 0, sizeof h);
    h.file_id = c->gen;
    h.end = c->end;
    if (c->end > LLMCACHE__HDR_SIZE) {   /* the last record before the end, as the handle knows it */
        off = c->last_rec_off;
        if (off < LLMCACHE__HDR_SIZE || off >= c->end || !llmcache__rec_check(c->map + off, c->end - off, &r) ||
            off + llmcache__pad8(r.len) != c->end)
            return;
        h.last_off = off;
        h.last_seq = r.seq;
        h.last_crc = llmcache__ld32(c->map + off + 4);
        h.records = c->rec_count;
    }
    if (!c->count) order = NULL;   /* nothing to sort */
    else if (!(order = (uint32_t *)LLMCACHE_MALLOC(2 * c->count * sizeof *order))) return;
    for (i = 0, n = 0; i < c->ents_top && n < c->count; i++)
        if (llmcache__ent(c, i)->flags & LLMCACHE__E_USED) order[n++] = i;
    if (n > 1) llmcache__sort_by_off(c, order, order + c->count, n, c->end);
    memset(&src, 0, sizeof src);
    src.fd = c->index_fd;
    if (n && c->index_fd != LLMCACHE__NOFD && c->index_fd_gen == c->gen) {
        src.count = c->index_fd_count;
        src.buf = (unsigned char *)LLMCACHE_MALLOC(LLMCACHE__INDEX_CHUNK * LLMCACHE__INDEX_ENTRY);
    }
    memset(hdr, 0, sizeof hdr);
    llmcache__buf_put(&b, hdr, sizeof hdr);
    for (k = 0; k < n && !b.oom; k++) {
        unsigned char e[LLMCACHE__INDEX_ENTRY];
        const llmcache__entry *en = llmcache__ent(c, order[k]);
        const unsigned char *old = NULL;
        llmcache__blobhdr d;
        llmcache_key key;
        off = llmcache__ent_off(en);
        /* the key: from the kept snapshot when it lists this very record, else from the
           value block or the record; either way it must hash to what the index holds */
        if (off < c->index_fd_end) old = llmcache__index_src_find(&src, off);
        if (old) memcpy(key.bytes, old, 32);
        if (old && llmcache__ld32(old + 40) == en->rec_len && (int64_t)llmcache__ld64(old + 56) == en->expires_ms &&
            llmcache__hash(c, &key) == en->h) {
            memcpy(e, old, sizeof e);
        } else if (llmcache__ent_desc(c, en, &d) && llmcache__hash(c, &d.key) == en->h) {
            memcpy(e, d.key.bytes, 32);
            llmcache__st64(e + 32, off);
            llmcache__st32(e + 40, en->rec_len);
            llmcache__st32(e + 44, d.len);
            llmcache__st64(e + 48, (uint64_t)d.created_ms);
            llmcache__st64(e + 56, (uint64_t)en->expires_ms);
        } else {
            lost = 1;   /* a key not found: no snapshot (the next open reads the log) */
            break;
        }
        llmcache__buf_put(&b, e, sizeof e);
        h.count++;
    }
    LLMCACHE_FREE(src.buf);
    LLMCACHE_FREE(order);
    if (b.oom || lost) { llmcache__buf_free(&b); return; }
    h.entries_crc = llmcache__crc32c(0, b.p + LLMCACHE__INDEX_HDR, b.len - LLMCACHE__INDEX_HDR);
    llmcache__index_hdr_encode((unsigned char *)b.p, &h);
    if (llmcache__temp_create(c->path, LLMCACHE__TEMP_INDEX, c->fd, &fd, &tmp) != LLMCACHE_OK) {
        llmcache__buf_free(&b);
        return;
    }
    rc = llmcache__f_pwrite(fd, b.p + LLMCACHE__INDEX_HDR, b.len - LLMCACHE__INDEX_HDR, LLMCACHE__INDEX_HDR);
    LLMCACHE__TEST_POINT(c, 10);   /* the entries written, not the header */
    if (rc == LLMCACHE_OK) rc = llmcache__f_pwrite(fd, b.p, LLMCACHE__INDEX_HDR, 0);
    if (rc == LLMCACHE_OK) rc = llmcache__f_replace(tmp, c->index_path);
    if (rc != LLMCACHE_OK) {
        llmcache__f_close(fd);
        llmcache__f_unlink(tmp);
    } else {
        llmcache__index_keep(c, fd, c->gen, c->end, h.count);
        c->index_gen = c->gen;
        c->index_end = c->end;
        c->st.index_writes++;
    }
    LLMCACHE__TEST_POINT(c, 11);
    LLMCACHE_FREE(tmp);
    llmcache__buf_free(&b);
}

/* Loads the empty index from the log (file id id) up to `to`: from its index
 * snapshot when one describes it, then the records after the snapshot's end;
 * *good: the end of the last intact record. */
static int llmcache__log_load(llmcache *c, uint64_t id, uint64_t to, uint64_t *good) {
    uint64_t from;
    int rc = llmcache__log_map(c, to);
    if (rc != LLMCACHE_OK) return rc;
    c->st.index_loaded = 0;
    llmcache__index_load(c, id, to, &from);
    return llmcache__log_apply_range(c, from, to, good);
}

/* Opens path, checks its header and returns the file id. */
static int llmcache__log_open_file(const char *path, llmcache__fd *fd, uint64_t *file_id, uint64_t *size) {
    unsigned char hdr[LLMCACHE__HDR_SIZE];
    int rc = llmcache__f_open(path, LLMCACHE__F_NOFOLLOW, 0, fd);
    if (rc != LLMCACHE_OK) return rc;
    rc = llmcache__f_size(*fd, size);
    if (rc == LLMCACHE_OK)
        rc = *size < LLMCACHE__HDR_SIZE ? LLMCACHE_ECORRUPT : llmcache__f_pread(*fd, hdr, sizeof hdr, 0);
    if (rc == LLMCACHE_OK) rc = llmcache__hdr_check(hdr, sizeof hdr, file_id);
    if (rc != LLMCACHE_OK) { llmcache__f_close(*fd); *fd = LLMCACHE__NOFD; }
    return rc;
}

/* The shared page is a hint: an end read from it is used only if it is 8-aligned,
 * past the header, not before from (a record boundary known from the file) and
 * within the file's size bytes; then a walk from `from` must end exactly there. */
static int llmcache__log_end_fits(uint64_t end, uint64_t from, uint64_t size) {
    return end % 8 == 0 && end >= LLMCACHE__HDR_SIZE && end >= from && end <= size;
}

/* Describes the log in the shared page: its file id, committed end, the sequence
 * number reached (the caller has just read the whole file), the file's length and
 * how much of it is known durable. The caller is alone or holds the writer lock. */
static void llmcache__log_set_page(llmcache *c, uint64_t id, uint64_t end, uint64_t alloc, uint64_t synced_end) {
    LLMCACHE_ASSERT(c->writer_held || c->loading);
    c->shm->last_seq = c->last_seq_seen;
    c->shm->alloc = alloc;
    c->shm->synced_end = synced_end;
    c->shm->last_sync_ms = llmcache__system_clock_ms();
    llmcache__store_release(&c->shm->gen, id);
    llmcache__store_release(&c->shm->end, end);
}

/* Re-reads the log at path from scratch: after another process compacted it, or,
 * with rebuild, to rebuild the shared page from the file (every intact record up
 * to its size; nothing past the header taken as durable) when the page does not
 * describe it. LLMCACHE_MISS: the page's generation or end do not fit the file.
 * The caller holds the writer lock. */
static int llmcache__log_reload(llmcache *c, int rebuild) {
    LLMCACHE_ASSERT(c->writer_held || c->read_only);
    llmcache__fd fd;
    uint64_t id, size, good, end = llmcache__load_acquire(&c->shm->end);
    int rc = llmcache__log_open_file(c->path, &fd, &id, &size);
    if (rc != LLMCACHE_OK) return rc;
    if (rebuild) end = size;
    else if (id != c->shm->gen || !llmcache__log_end_fits(end, LLMCACHE__HDR_SIZE, size)) {
        llmcache__f_close(fd);
        return LLMCACHE_MISS;
    }
    llmcache__f_unmap(c->map, c->map_len);
    llmcache__f_close(c->fd);
    c->map = NULL; c->map_len = 0;
    c->fd = fd;
    llmcache__clear(c);
    c->gen = 0;
    rc = llmcache__log_load(c, id, end, &good);
    if (rc != LLMCACHE_OK) return rc;
    if (rebuild) {
        llmcache__log_set_page(c, id, good, size, LLMCACHE__HDR_SIZE);
        c->st.shm_rebuilds++;
    } else if (good != end) {
        return LLMCACHE_MISS;   /* c->gen stays 0 */
    } else if (!c->loading) {   /* an open's first load is no reload */
        c->st.reloads++;
    }
    c->gen = id;
    c->end = good;
    c->size_seen = size;
    return LLMCACHE_OK;
}

/* After records of other processes: entries leave a follower's index only through
 * delete records, except expired ones, which a writer drops without one (they are
 * dead for everyone). So when the index holds more than max_entries, the expired
 * entries it still has go: the least recently used first, then a bounded sweep
 * (further ones go with the next catch-ups, a sweep or a write). */
static void llmcache__drop_expired_over(llmcache *c) {
    int64_t now;
    if (c->count <= c->max_entries) return;
    now = llmcache__now(c);
    while (c->count > c->max_entries) {
        uint32_t i = llmcache__lru_oldest(c, LLMCACHE__NIL);
        if (i == LLMCACHE__NIL || !llmcache__expired(llmcache__ent(c, i), now)) break;
        llmcache__remove(c, i);
        c->st.expirations++;
    }
    if (c->count > c->max_entries) llmcache__sweep_some(c, now, 256);
}

/* Applies what other processes committed up to end, an end read from the shared
 * page, if it fits the file and ends the intact records that follow c->end (one
 * fstat, only when the end moved). LLMCACHE_MISS when it does not (the index may
 * then hold some of the records walked: the caller rebuilds). */
static int llmcache__log_advance(llmcache *c, uint64_t end) {
    uint64_t size, good;
    int rc;
    if (end == c->end) return LLMCACHE_OK;
    rc = llmcache__f_size(c->fd, &size);
    if (rc != LLMCACHE_OK) return rc;
    if (!llmcache__log_end_fits(end, c->end, size)) return LLMCACHE_MISS;
    rc = llmcache__log_apply_range(c, c->end, end, &good);
    if (rc != LLMCACHE_OK) return rc;
    if (good != end) return LLMCACHE_MISS;
    c->end = end;
    llmcache__drop_expired_over(c);
    return LLMCACHE_OK;
}

/* The rest of the shared page, once its generation and end are checked (c->end is
 * the end): the sequence number not behind a record applied, nothing durable past
 * the end, the preallocated length between the end and the file's size (one fstat
 * when it changed), and no intact record at the end (an end behind the file's
 * records, where an append would overwrite committed ones). */
static int llmcache__log_page_ok(llmcache *c) {
    const llmcache__shm *s = c->shm;
    llmcache__record r;
    if (s->last_seq < c->last_seq_seen || s->synced_end > c->end || s->alloc < c->end) return 0;
    if (s->alloc != c->size_seen && llmcache__f_size(c->fd, &c->size_seen) != LLMCACHE_OK) return 0;
    if (s->alloc > c->size_seen) return 0;
    return s->alloc - c->end < LLMCACHE__REC_HDR || llmcache__log_map(c, s->alloc) != LLMCACHE_OK ||
           llmcache__ld32(c->map + c->end) != LLMCACHE__REC_MAGIC ||
           !llmcache__rec_check(c->map + c->end, s->alloc - c->end, &r);
}

/* Brings the index up to the committed end of the log; the caller holds the
 * writer lock (so the generation cannot change under it). A shared page that does
 * not describe the file is rebuilt from it, so every handle recovers. */
static int llmcache__log_catch_up_writer(llmcache *c) {
    int rc;
    LLMCACHE_ASSERT(c->writer_held);
    if (!c->gen || c->shm->gen != c->gen) rc = llmcache__log_reload(c, 0);
    else rc = llmcache__log_advance(c, c->shm->end);
    if (rc == LLMCACHE_OK && !llmcache__log_page_ok(c)) rc = LLMCACHE_MISS;
    if (rc == LLMCACHE_MISS) rc = llmcache__log_reload(c, 1);
    return rc;
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
 * end, or finish the switch to a compacted file it had already renamed in place.
 * Leaves nothing durable past the end in the page (the dead writer may have synced
 * a record it never published: later syncs must not take it for theirs). */
static void llmcache__log_heal(llmcache *c) {
    LLMCACHE_ASSERT(c->writer_held);
    llmcache__fd fd;
    uint64_t id, size, end = c->shm->end;
    unsigned char *m;
    size_t n;
    llmcache__log_remove_temps(c->path);
    if (llmcache__log_open_file(c->path, &fd, &id, &size) != LLMCACHE_OK) return;
    n = (size_t)size;
    if ((uint64_t)n == size && llmcache__f_map(fd, &n, 0, &m) == LLMCACHE_OK) {
        llmcache__walker w;
        uint64_t from = c->gen == id ? c->end : LLMCACHE__HDR_SIZE;
        memset(&w, 0, sizeof w);
        /* a compacted file whose switch is unfinished (not yet published, or its
           generation published but not its end, which still is the old file's),
           or a page whose end does not fit the file: cut after the last intact record */
        if (id != c->shm->gen || !llmcache__log_end_fits(end, from, size) || llmcache__walk(m, from, end, &w) != end) {
            end = llmcache__walk(m, LLMCACHE__HDR_SIZE, n, &w);
            llmcache__f_unmap(m, n);
            llmcache__f_truncate(fd, end);
            c->shm->alloc = end;
            c->shm->synced_end = LLMCACHE__HDR_SIZE;
            llmcache__store_release(&c->shm->gen, id);
            llmcache__store_release(&c->shm->end, end);
        } else {
            llmcache__f_unmap(m, n);
            if (size > end) {
                if (llmcache__f_truncate(fd, end) != LLMCACHE_OK) llmcache__log_void_tail(fd, end, size);
                c->shm->alloc = end;
            }
        }
    }
    if (c->shm->synced_end > c->shm->end) c->shm->synced_end = c->shm->end;
    llmcache__f_close(fd);
}

static void llmcache__log_unlock(llmcache *c) {
    LLMCACHE_ASSERT(c->writer_held);
    c->writer_held = 0;
    llmcache__pmutex_unlock(&c->shm->mu, c->shm_fd);
}

/* Takes the writer lock (healing after a holder that died with it) and brings the
 * index up to the committed end; on failure the lock is not held. */
static int llmcache__log_lock(llmcache *c) {
    int rc = llmcache__pmutex_lock(&c->shm->mu, c->shm_fd);
    if (rc != LLMCACHE_OK && rc != LLMCACHE_ECORRUPT) return rc;
    LLMCACHE_ASSERT(!c->writer_held);
    c->writer_held = 1;
    if (rc == LLMCACHE_ECORRUPT) {
        llmcache__log_heal(c);
        llmcache__pmutex_consistent(&c->shm->mu);
    }
    rc = llmcache__log_catch_up_writer(c);
    if (rc != LLMCACHE_OK) llmcache__log_unlock(c);
    return rc;
}

/* Cheap check before every operation: two loads from the shared page when
 * nothing changed; else apply what other processes committed. */
static int llmcache__log_refresh(llmcache *c) {
    uint64_t g1 = llmcache__load_acquire(&c->shm->gen);
    uint64_t end = llmcache__load_acquire(&c->shm->end);
    uint64_t g2 = llmcache__load_acquire(&c->shm->gen);
    int rc;
    if (g1 == c->gen && g2 == g1 && end == c->end) return LLMCACHE_OK;
    if (g1 == c->gen && g2 == g1 && end > c->end) {
        rc = llmcache__log_advance(c, end);
        if (rc != LLMCACHE_MISS) return rc;
    }
    /* the generation changed (reload), or the end does not fit the file: under the
       lock; a read-only handle, which can neither lock nor rebuild the page, reloads
       when the page fits the file and else keeps what it has for now (a compaction
       publishes its generation just before its end) */
    if (c->read_only) {
        rc = llmcache__log_reload(c, 0);
        return rc == LLMCACHE_MISS ? LLMCACHE_OK : rc;
    }
    rc = llmcache__log_lock(c);
    if (rc == LLMCACHE_OK) llmcache__log_unlock(c);
    return rc;
}

/* Appends one record at *wend (the caller holds the writer lock and publishes
 * the new end later); *off gets its offset. data is the value's stored form
 * (transform xform, 0 = plain). */
static int llmcache__log_append(llmcache *c, uint64_t *wend, unsigned type, unsigned reason, const llmcache_key *key,
                                int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta,
                                const void *data, size_t len, unsigned xform, uint64_t *off, uint32_t *rec_len) {
    uint64_t size = llmcache__rec_size(len, meta != NULL), need = *wend + size;
    uint64_t seq = c->shm->last_seq + 1;
    int rc;
    LLMCACHE_ASSERT(c->writer_held);
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
        c->size_seen = c->shm->alloc;
        if (c->shm->alloc < need) return LLMCACHE_EIO;
    }
    rc = llmcache__log_map(c, need);
    if (rc != LLMCACHE_OK) return rc;
    if (need > c->prefaulted || *wend + LLMCACHE__PREFAULT < c->prefaulted) {
        /* fault the next pages in at once, a little ahead (pages dirtied early are
           pages about to be written anyway) */
        uint64_t from = *wend & ~(c->page_size - 1), to = (need + LLMCACHE__PREFAULT) & ~(c->page_size - 1);
        if (to > c->shm->alloc) to = c->shm->alloc;
        if (to > from) llmcache__f_prefault(c->map, from, to - from);
        c->prefaulted = to;
    }
    *rec_len = llmcache__rec_encode(c->map + *wend, type, reason, seq, key, created_ms, expires_ms, meta, data, len,
                                    xform);
    LLMCACHE__TEST_RECORD(c, c->map + *wend);
    c->shm->last_seq = c->last_seq_seen = seq;
    c->rec_count++;
    c->last_rec_off = *wend;
    *off = *wend;
    *wend = need;
    return LLMCACHE_OK;
}

/* Makes the log durable up to end. */
static int llmcache__log_sync_to(llmcache *c, uint64_t end) {
    uint64_t from = c->shm->synced_end < end ? c->shm->synced_end : end;
    int rc = llmcache__f_msync(c->fd, c->map, from, end - from);
    LLMCACHE_ASSERT(c->writer_held);
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
    LLMCACHE_ASSERT(c->writer_held);
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

/* Holds the bounds after a write. Values leave memory for max_bytes (they stay on
 * disk). Entries leave the cache for max_entries only through a delete record
 * (reason "evicted") appended before they go, so that every process and the next
 * open agree (docs/FORMAT.md, "Liveness"); an expired victim is dead for everyone
 * already and goes without one. A failed append stops here and is returned. */
static int llmcache__log_bound(llmcache *c, uint64_t *wend, uint32_t keep) {
    int64_t now = 0;
    LLMCACHE_ASSERT(c->writer_held);
    while (c->bytes > c->max_bytes && c->val_tail != LLMCACHE__NIL) llmcache__drop_value(c, c->val_tail);
    while (c->count > c->max_entries) {
        uint32_t victim = llmcache__lru_oldest(c, keep);
        llmcache__entry *e;
        const unsigned char *k;
        llmcache_key key;
        uint64_t off;
        uint32_t rl;
        int rc;
        if (victim == LLMCACHE__NIL) break;
        e = llmcache__ent(c, victim);
        if (!now) now = llmcache__now(c);
        k = llmcache__ent_key(c, e);
        if (llmcache__expired(e, now)) {
            llmcache__remove(c, victim);
            c->st.expirations++;
            continue;
        }
        if (!k) {   /* its record is not in the mapped log: damage */
            llmcache__remove(c, victim);
            c->st.records_skipped++;
            continue;
        }
        memcpy(key.bytes, k, 32);   /* the append may move the mapping */
        rc = llmcache__log_append(c, wend, LLMCACHE__R_DEL, LLMCACHE__WHY_EVICT, &key, now, 0, NULL, NULL, 0, 0,
                                  &off, &rl);
        if (rc != LLMCACHE_OK) return rc;
        llmcache__remove(c, victim);
        c->st.evictions++;
    }
    return LLMCACHE_OK;
}

/* Reads entry i's value from its record, checksum verified, into a new value block
 * (*blob_out, header filled); on damage the entry is dropped and LLMCACHE_MISS returned. */
static int llmcache__log_read(llmcache *c, uint32_t i, unsigned char **blob_out) {
    llmcache__entry *e = llmcache__ent(c, i);
    llmcache__blobhdr d;
    llmcache__record r;
    llmcache_meta meta;
    const unsigned char *val;
    unsigned char *owned;
    size_t val_len;
    uint64_t off = llmcache__ent_off(e);
    int rc;
    if (off + llmcache__pad8(e->rec_len) > c->end ||
        !llmcache__rec_check(c->map + off, c->end - off, &r) || r.len != e->rec_len ||
        r.type != LLMCACHE__R_PUT || llmcache__hash(c, &r.key) != e->h) {
        llmcache__remove(c, i);
        c->st.records_skipped++;
        return LLMCACHE_MISS;
    }
    if (r.value_len > LLMCACHE_MAX_VALUE) return LLMCACHE_ETOOBIG;   /* intact, kept: another build's */
    rc = llmcache__xform_decode(&c->xform, &r, &val, &val_len, &owned);
    if (rc != LLMCACHE_OK) { llmcache__xform_count(c, rc); return rc; }
    memset(&meta, 0, sizeof meta);
    if (r.meta) llmcache__meta_decode(r.meta, &meta);
    d = llmcache__value_desc(&r.key, val_len, r.meta != NULL, r.created_ms, r.expires_ms);
    *blob_out = llmcache__make_blob(&d, val, r.meta ? &meta : NULL);
    LLMCACHE_FREE(owned);
    if (!*blob_out) return LLMCACHE_ENOMEM;
    c->st.cold_reads++;
    return LLMCACHE_OK;
}

/* Writes the live entries, least recently used first, to a new file and swaps
 * it in. The caller holds c->mu and the writer lock. */
static int llmcache__log_compact_writer(llmcache *c) {
    unsigned char hdr[LLMCACHE__HDR_SIZE];
    LLMCACHE_ASSERT(c->writer_held && c->mu_held);
    llmcache__buf b = {NULL, 0, 0, 0};
    llmcache__progress prog;
    llmcache__fd fd;
    uint64_t *new_off = NULL, id = llmcache__f_random64(), pos = LLMCACHE__HDR_SIZE, wrote = 0, copied = 0;
    uint64_t last_off = 0;
    unsigned char *m = NULL;
    int64_t now = llmcache__now(c);
    uint32_t i, older;
    size_t m_len = 0;
    char *tmp;
    int rc;
    if (c->partial) return LLMCACHE_ENOMEM;
    llmcache__progress_start(&prog, c->on_progress, c->progress_ctx, c->live_bytes);
    rc = llmcache__temp_create(c->path, LLMCACHE__TEMP_COMPACT, c->fd, &fd, &tmp);
    if (rc != LLMCACHE_OK) return rc;
    new_off = (uint64_t *)LLMCACHE_MALLOC(((size_t)c->ents_top + 1) * sizeof(uint64_t));
    if (!new_off) { rc = LLMCACHE_ENOMEM; goto fail; }
    llmcache__hdr_encode(hdr, id, now);
    llmcache__buf_put(&b, hdr, sizeof hdr);
    for (i = c->lru_tail; i != LLMCACHE__NIL; i = older) {   /* least recently used first */
        llmcache__entry *e = llmcache__ent(c, i);
        llmcache__record r;
        uint64_t off = llmcache__ent_off(e);
        older = e->prev;
        if (llmcache__expired(e, now)) { llmcache__remove(c, i); c->st.expirations++; continue; }
        if (!llmcache__rec_check(c->map + off, c->end - off, &r) || r.len != e->rec_len ||
            llmcache__hash(c, &r.key) != e->h) {
            llmcache__remove(c, i);
            c->st.records_skipped++;
            continue;
        }
        new_off[i] = last_off = pos;
        copied++;
        llmcache__buf_put(&b, c->map + off, (size_t)llmcache__pad8(r.len));
        pos += llmcache__pad8(r.len);
        if (b.len >= ((size_t)1 << 20)) {
            if (b.oom) { rc = LLMCACHE_ENOMEM; goto fail; }
            rc = llmcache__f_pwrite(fd, b.p, b.len, wrote);
            if (rc != LLMCACHE_OK) goto fail;
            wrote += b.len;
            b.len = 0;
            llmcache__progress_tell(&prog, pos - LLMCACHE__HDR_SIZE);
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
    rc = llmcache__f_replace(tmp, c->path);
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
    for (i = 0; i < c->ents_top; i++)
        if (llmcache__ent(c, i)->flags & LLMCACHE__E_USED) llmcache__ent_set_off(llmcache__ent(c, i), new_off[i]);
    c->live_bytes = pos - LLMCACHE__HDR_SIZE;
    c->shm->alloc = c->shm->synced_end = pos;
    c->shm->last_sync_ms = llmcache__system_clock_ms();
    llmcache__store_release(&c->shm->gen, id);
    LLMCACHE__TEST_POINT(c, 4);
    llmcache__store_release(&c->shm->end, pos);
    c->gen = id;
    c->end = pos;
    c->rec_count = copied;
    c->last_rec_off = last_off;
    c->skipped_base = c->st.records_skipped;
    c->st.compactions++;
    llmcache__index_write_writer(c);
    llmcache__progress_end(&prog);
    llmcache__buf_free(&b);
    LLMCACHE_FREE(new_off);
    LLMCACHE_FREE(tmp);
    return LLMCACHE_OK;
fail:
    llmcache__f_unmap(m, m_len);
    llmcache__f_close(fd);
    llmcache__f_unlink(tmp);
    llmcache__buf_free(&b);
    LLMCACHE_FREE(new_off);
    LLMCACHE_FREE(tmp);
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
    if (c->end >= LLMCACHE__COMPACT_MIN && dead > c->live_bytes && llmcache__log_compact_writer(c) != LLMCACHE_OK)
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

/* Starts the handle's flusher (LLMCACHE_FSYNC_INTERVAL). */
static int llmcache__flusher_start(llmcache *c) {
    if (llmcache__cond_init(&c->flusher_cv) != 0) return LLMCACHE_ENOMEM;
    if (llmcache__thread_start(&c->flusher, llmcache__flusher_main, c) != 0) {
        llmcache__cond_destroy(&c->flusher_cv);
        return LLMCACHE_ENOMEM;
    }
    c->flusher_running = 1;
    return LLMCACHE_OK;
}

static void llmcache__flusher_stop(llmcache *c) {
    if (!c->flusher_running) return;
    llmcache__handle_lock(c);
    c->stopping = 1;
    llmcache__cond_broadcast(&c->flusher_cv);
    llmcache__handle_unlock(c);
    llmcache__thread_join(&c->flusher);
    llmcache__cond_destroy(&c->flusher_cv);
}
#else   /* no threads: no flusher; an interval-mode handle syncs when it writes (log_publish) */
static int llmcache__flusher_start(llmcache *c) { (void)c; return LLMCACHE_OK; }
static void llmcache__flusher_stop(llmcache *c) { (void)c; }
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
    c->last_seq_seen = 0;   /* the sequence continues from the last intact record */
    rc = llmcache__log_load(c, id, size, &end);
    if (rc != LLMCACHE_OK) return rc;
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
    c->shm->version = LLMCACHE__SHM_VERSION;
    c->shm->mutex_size = (uint32_t)sizeof(llmcache__pmutex);
    llmcache__log_set_page(c, id, end, end, end);
    c->gen = id;
    c->end = end;
    llmcache__log_remove_temps(c->path);
    return LLMCACHE_OK;
}

/* A handle whose bound is below the live entries of the log it opened (written with
 * a larger max_entries) evicts down to it at once, with delete records as every
 * writer does. On failure the next operation reloads and the bound waits for the
 * next write. */
static void llmcache__log_enforce_bound(llmcache *c) {
    uint64_t wend;
    int rc;
    if (c->count <= c->max_entries || llmcache__log_lock(c) != LLMCACHE_OK) return;
    wend = c->end;
    rc = llmcache__log_bound(c, &wend, LLMCACHE__NIL);
    if (rc == LLMCACHE_OK) rc = llmcache__log_publish(c, wend);
    llmcache__log_unlock(c);
    if (rc != LLMCACHE_OK) c->gen = 0;
}

/* A read-only open writes nothing. With a live shared page (another handle has the
 * log open: it holds the live byte of path-shm), the page is mapped read-only and
 * followed as by any handle, and this handle holds the live byte shared too; otherwise the handle
 * reads the file as it is now and keeps that snapshot: a page of its own that never
 * changes, and the bytes after the last intact record counted, not cut. */
static int llmcache__log_open_readonly(llmcache *c) {
    unsigned char hdr[LLMCACHE__HDR_SIZE], *shm = NULL;
    uint64_t size, id, end;
    size_t shm_len = LLMCACHE__SHM_SIZE;
    int rc = llmcache__f_open(c->path, LLMCACHE__F_RDONLY | LLMCACHE__F_NOFOLLOW, 0, &c->fd), live = 0;
    if (rc == LLMCACHE_OK && !llmcache__f_regular(c->fd)) rc = LLMCACHE_ENOTFILE;
    if (rc == LLMCACHE_OK) rc = llmcache__f_size(c->fd, &size);
    if (rc != LLMCACHE_OK) return rc;
    if (size < LLMCACHE__HDR_SIZE) return LLMCACHE_ENOTCACHE;   /* an empty file too: only a writer makes it a log */
    rc = llmcache__f_pread(c->fd, hdr, sizeof hdr, 0);
    if (rc == LLMCACHE_OK) rc = llmcache__hdr_check(hdr, sizeof hdr, &id);
    if (rc != LLMCACHE_OK) return rc;
    c->loading = 1;
    if (llmcache__f_open(c->shm_path, LLMCACHE__F_RDONLY | LLMCACHE__F_NOFOLLOW, 0, &c->shm_fd) == LLMCACHE_OK &&
        /* after any opener or closer */
        llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_OPENER, LLMCACHE__SHARED, LLMCACHE__WAIT) == LLMCACHE_OK) {
        live = llmcache__f_lock_held(c->shm_fd, LLMCACHE__BYTE_LIVE) &&
               llmcache__f_map(c->shm_fd, &shm_len, 0, &shm) == LLMCACHE_OK;
        if (live && (shm_len < LLMCACHE__SHM_SIZE || memcmp(shm, LLMCACHE__SHM_MAGIC, 8) != 0)) live = 0;
        if (live) {
            c->shm = (llmcache__shm *)(void *)shm;
            live = c->shm->version == LLMCACHE__SHM_VERSION &&
                   llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_LIVE, LLMCACHE__SHARED, LLMCACHE__NOWAIT) == LLMCACHE_OK;
            if (live) {
                c->gen = 0;
                rc = llmcache__log_refresh(c);
                live = rc == LLMCACHE_OK && c->gen != 0;   /* else the page does not fit the file */
            }
        }
        llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_OPENER, LLMCACHE__UNLOCK, LLMCACHE__NOWAIT);
    }
    if (!live) {   /* a snapshot */
        llmcache__clear(c);
        if (shm) llmcache__f_unmap(shm, shm_len);
        llmcache__f_close(c->shm_fd);
        c->shm_fd = LLMCACHE__NOFD;
        c->shm = (llmcache__shm *)LLMCACHE_MALLOC(sizeof *c->shm);
        if (!c->shm) return LLMCACHE_ENOMEM;
        memset(c->shm, 0, sizeof *c->shm);
        rc = llmcache__log_load(c, id, size, &end);
        if (rc != LLMCACHE_OK) return rc;
        if (end < size && !llmcache__all_zero(c->map + end, size - end)) c->st.torn_bytes = size - end;
        c->shm->gen = c->gen = id;
        c->shm->end = c->end = end;
    }
    c->loading = 0;
    return rc;
}

static int llmcache__log_open(llmcache *c, const char *path) {
    unsigned char head[LLMCACHE__HDR_SIZE];
    uint64_t size, id;
    unsigned char *shm;
    size_t shm_len = LLMCACHE__SHM_SIZE;
    int rc, alone;
    /* a path that is a link to a log: the log and its companions live beside the
       target, where every opener meets them and compaction replaces the target */
    c->page_size = llmcache__f_page_size();
    c->path = llmcache__f_resolve(path);
    if (!c->path || !(c->shm_path = llmcache__concat(c->path, strlen(c->path), "-shm")) ||
        !(c->index_path = llmcache__concat(c->path, strlen(c->path), "-index")))
        return LLMCACHE_ENOMEM;
    if (c->read_only) return llmcache__log_open_readonly(c);
    rc = llmcache__f_open(c->path, LLMCACHE__F_CREATE | LLMCACHE__F_NOFOLLOW, c->file_mode, &c->fd);
    if (rc == LLMCACHE_OK && !llmcache__f_regular(c->fd)) rc = LLMCACHE_ENOTFILE;
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
    rc = llmcache__f_open(c->shm_path, LLMCACHE__F_CREATE | LLMCACHE__F_NOFOLLOW, c->file_mode, &c->shm_fd);
    if (rc != LLMCACHE_OK) return rc;
    c->loading = 1;
    rc = llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_OPENER, LLMCACHE__EXCLUSIVE, LLMCACHE__WAIT);
    if (rc != LLMCACHE_OK) return LLMCACHE_EIO;
    alone = llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_LIVE, LLMCACHE__EXCLUSIVE, LLMCACHE__NOWAIT) == LLMCACHE_OK;
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
            if (rc == LLMCACHE_OK) rc = llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_LIVE, LLMCACHE__SHARED, LLMCACHE__NOWAIT);
        } else if (memcmp(c->shm->magic, LLMCACHE__SHM_MAGIC, 8) != 0 || c->shm->version != LLMCACHE__SHM_VERSION ||
                   c->shm->mutex_size != (uint32_t)sizeof(llmcache__pmutex)) {
            rc = LLMCACHE_EIO;
        } else {
            rc = llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_LIVE, LLMCACHE__SHARED, LLMCACHE__NOWAIT);
            if (rc == LLMCACHE_OK) {
                c->gen = 0;   /* forces a load of the current file */
                rc = llmcache__log_lock(c);
                if (rc == LLMCACHE_OK) llmcache__log_unlock(c);
            }
        }
    }
    llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_OPENER, LLMCACHE__UNLOCK, LLMCACHE__NOWAIT);
    c->loading = 0;
    if (rc == LLMCACHE_OK) llmcache__log_enforce_bound(c);
    if (rc == LLMCACHE_OK && c->fsync_mode == LLMCACHE_FSYNC_INTERVAL) rc = llmcache__flusher_start(c);
    return rc;
}

static void llmcache__log_close(llmcache *c) {
    if (c->read_only) {
        llmcache__f_unmap(c->map, c->map_len);
        if (c->shm_fd == LLMCACHE__NOFD) LLMCACHE_FREE(c->shm);
        else if (c->shm) llmcache__f_unmap((unsigned char *)(void *)c->shm, LLMCACHE__SHM_SIZE);
        llmcache__f_close(c->fd);
        llmcache__f_close(c->shm_fd);
        return;
    }
    llmcache__flusher_stop(c);
    if (c->shm && c->map) {
        llmcache__f_unmap(c->map, c->map_len);   /* Win32 shrinks no mapped file; the sync covers it */
        c->map = NULL;
        if (c->dirty && c->fsync_mode != LLMCACHE_FSYNC_NEVER) llmcache__f_sync(c->fd);
        if (llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_OPENER, LLMCACHE__EXCLUSIVE, LLMCACHE__WAIT) == LLMCACHE_OK) {
            /* the last one out gives back the preallocated space, past an end
               checked against the file (the catch-up may map the log again) */
            if (llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_LIVE, LLMCACHE__EXCLUSIVE, LLMCACHE__NOWAIT) == LLMCACHE_OK &&
                c->shm->gen == c->gen &&
                llmcache__log_lock(c) == LLMCACHE_OK) {
                llmcache__index_write_writer(c);
                llmcache__f_unmap(c->map, c->map_len);
                c->map = NULL;
                if (c->shm->alloc > c->end && llmcache__f_truncate(c->fd, c->end) == LLMCACHE_OK)
                    c->shm->alloc = c->end;
                llmcache__log_unlock(c);
            }
            /* let go of the live byte before the opener byte, or two handles closing at once
               could each see the other still open and neither truncate */
            llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_LIVE, LLMCACHE__UNLOCK, LLMCACHE__NOWAIT);
            llmcache__f_lock(c->shm_fd, LLMCACHE__BYTE_OPENER, LLMCACHE__UNLOCK, LLMCACHE__NOWAIT);
        }
    }
    llmcache__f_unmap(c->map, c->map_len);
    if (c->shm) llmcache__f_unmap((unsigned char *)(void *)c->shm, LLMCACHE__SHM_SIZE);
    llmcache__f_close(c->fd);
    llmcache__f_close(c->shm_fd);   /* releases the byte locks too */
}

/* >>cache core (the local tiers: memory and the log, under c->mu) -------------------- */
/* Brings a log-backed index up to date; no-op for a memory-only cache. */
static int llmcache__refresh(llmcache *c) {
    return c->path ? llmcache__log_refresh(c) : LLMCACHE_OK;
}

/* Finds key's live value in memory or, checksum verified, in the log, counting
 * nothing; the caller holds c->mu. LLMCACHE_OK sets *blob to its value block
 * (llmcache__blobhdr, [meta], bytes, NUL), valid while c->mu is held; *owned: the
 * block was read from the log and memory did not keep it (the caller frees it). */
static int llmcache__pin_locked(llmcache *c, const llmcache_key *key, unsigned char **blob, int *owned) {
    uint32_t i;
    int rc = llmcache__refresh(c);
    LLMCACHE_ASSERT(c->mu_held);
    *blob = NULL;
    *owned = 0;
    i = rc == LLMCACHE_OK ? llmcache__find_value(c, key, blob) : LLMCACHE__NIL;
    if (rc == LLMCACHE_OK) rc = LLMCACHE_MISS;
    if (i != LLMCACHE__NIL && *blob) {   /* the hot path: the slot, the entry, the value block */
        int64_t expires_ms;
        memcpy(&expires_ms, *blob + offsetof(llmcache__blobhdr, expires_ms), sizeof expires_ms);
        if (expires_ms && llmcache__now(c) >= expires_ms) {   /* no clock read without a TTL */
            llmcache__remove(c, i);
            c->st.expirations++;
            *blob = NULL;
        } else {
            llmcache__touch(c, i);
            rc = LLMCACHE_OK;
        }
    } else if (i != LLMCACHE__NIL) {
        llmcache__entry *e = llmcache__ent(c, i);
        if (e->expires_ms && llmcache__expired(e, llmcache__now(c))) {
            llmcache__remove(c, i);
            c->st.expirations++;
        } else {
            rc = llmcache__log_read(c, i, blob);
            if (rc == LLMCACHE_OK) {
                llmcache__touch(c, i);
                if (llmcache__value_fits(c, llmcache__blob_size(*blob))) {
                    llmcache__set_value(c, i, *blob);
                    while (c->bytes > c->max_bytes && c->val_tail != LLMCACHE__NIL && c->val_tail != i)
                        llmcache__drop_value(c, c->val_tail);
                } else {
                    *owned = 1;
                }
            }
        }
    }
    return rc;
}

/* Looks key up in memory and in the log (out zeroed by the caller), counting
 * nothing; the caller holds c->mu. */
static int llmcache__get_local_locked(llmcache *c, const llmcache_key *key, llmcache_value *out) {
    unsigned char *blob;
    int owned, rc = llmcache__pin_locked(c, key, &blob, &owned);
    if (rc == LLMCACHE_OK) rc = llmcache__copy_out(blob, out);
    if (owned) LLMCACHE_FREE(blob);
    return rc;
}

/* The put itself, for both kinds of cache; the caller holds c->mu. With a log the
 * value goes to the file only: values enter memory when they are read. */
static int llmcache__put_locked(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta) {
    size_t blob_size = LLMCACHE__BLOB_HDR + (meta ? sizeof(llmcache_meta) : 0) + len + 1;
    int fits = !c->path && llmcache__value_fits(c, blob_size), created;
    llmcache__blobhdr d = llmcache__value_desc(key, len, meta != NULL, created_ms, expires_ms);
    unsigned char *blob = NULL;
    uint32_t i;
    LLMCACHE_ASSERT(c->mu_held);
    if (!c->path && !fits) return LLMCACHE_ETOOBIG;
    if (fits && !(blob = llmcache__make_blob(&d, data, meta))) return LLMCACHE_ENOMEM;
    if (c->path) {
        llmcache__buf enc = {NULL, 0, 0, 0};
        const void *stored;
        size_t stored_len;
        uint64_t wend, off;
        uint32_t rec_len;
        unsigned xform;
        int rc = llmcache__xform_encode(&c->xform, key, data, len, &enc, &stored, &stored_len, &xform);
        if (rc == LLMCACHE_OK) rc = llmcache__log_lock(c);
        if (rc != LLMCACHE_OK) { llmcache__buf_free(&enc); LLMCACHE_FREE(blob); return rc; }
        wend = c->end;
        rc = llmcache__log_append(c, &wend, LLMCACHE__R_PUT, 0, key, created_ms, expires_ms, meta, stored, stored_len,
                                  xform, &off, &rec_len);
        llmcache__buf_free(&enc);
        if (rc == LLMCACHE_OK) {
            i = llmcache__upsert(c, key, &created);
            if (i == LLMCACHE__NIL) rc = LLMCACHE_ENOMEM;
        }
        if (rc != LLMCACHE_OK) { llmcache__log_unlock(c); LLMCACHE_FREE(blob); return rc; }
        llmcache__entry_update(c, i, created, &d, off, rec_len);
        if (blob) llmcache__set_value(c, i, blob);
        rc = llmcache__log_bound(c, &wend, i);
        if (rc == LLMCACHE_OK) rc = llmcache__log_publish(c, wend);
        llmcache__log_unlock(c);
        if (rc != LLMCACHE_OK) {   /* not committed: the next operation rebuilds the index from the log */
            c->gen = 0;
            return rc;
        }
        llmcache__log_maybe_compact(c);
        return LLMCACHE_OK;
    }
    i = llmcache__upsert(c, key, &created);
    if (i == LLMCACHE__NIL) { LLMCACHE_FREE(blob); return LLMCACHE_ENOMEM; }
    llmcache__entry_update(c, i, created, &d, 0, 0);
    llmcache__set_value(c, i, blob);
    while (c->count > c->max_entries || c->bytes > c->max_bytes) {
        uint32_t victim = llmcache__lru_oldest(c, i);
        if (victim == LLMCACHE__NIL) break;
        llmcache__remove(c, victim);
        c->st.evictions++;
    }
    return LLMCACHE_OK;
}

/* Deletes entry i for good (a delete record with a log); the caller holds c->mu. */
static int llmcache__delete_locked(llmcache *c, const llmcache_key *key, unsigned reason) {
    uint32_t i;
    LLMCACHE_ASSERT(c->mu_held);
    if (c->path) {
        uint64_t wend;
        int rc = llmcache__log_lock(c);
        if (rc != LLMCACHE_OK) return rc;
        i = llmcache__find(c, key);
        if (i == LLMCACHE__NIL || llmcache__expired(llmcache__ent(c, i), llmcache__now(c))) {
            llmcache__log_unlock(c);
            if (i != LLMCACHE__NIL) { llmcache__remove(c, i); c->st.expirations++; }
            return LLMCACHE_MISS;
        }
        wend = c->end;
        {   /* the entry goes only once its delete record is committed: a failed
               delete (full disk) leaves the cache as the file has it */
            uint64_t off;
            uint32_t rl;
            rc = llmcache__log_append(c, &wend, LLMCACHE__R_DEL, reason, key, llmcache__now(c), 0, NULL, NULL, 0, 0,
                                      &off, &rl);
        }
        if (rc == LLMCACHE_OK) rc = llmcache__log_publish(c, wend);
        if (rc == LLMCACHE_OK) llmcache__remove(c, i);
        llmcache__log_unlock(c);
        if (rc != LLMCACHE_OK) return rc;
        llmcache__log_maybe_compact(c);
        return LLMCACHE_OK;
    }
    i = llmcache__find(c, key);
    if (i == LLMCACHE__NIL) return LLMCACHE_MISS;
    if (llmcache__expired(llmcache__ent(c, i), llmcache__now(c))) {
        llmcache__remove(c, i);
        c->st.expirations++;
        return LLMCACHE_MISS;
    }
    llmcache__remove(c, i);
    return LLMCACHE_OK;
}

/* >>redis (the shared tier below memory and file; LLMCACHE_REDIS, hiredis) --------------
 * docs/REDIS.md is the reference. A Redis value is exactly one log record (section
 * >>record, padding included) under prefix + 64 hex digits of the key, with the
 * entry's time to live given to Redis (SET ... PX). A get that misses locally asks
 * Redis and fills the memory tier (and the log, if any) through the ordinary put
 * path; a put writes through after the local put; a delete deletes in Redis too.
 * Fail open, never hang: a connect timeout, a deadline for each command as a whole,
 * bounds on what a reply may announce, and a circuit breaker that stops asking Redis
 * for a while after repeated failures. No Redis I/O ever happens with c->mu held.
 * Deployments (docs/REDIS.md "Deployments"): every command goes through
 * llmcache__redis_exec, which routes it to a node (the single server, the owner of
 * its key's slot in a Redis Cluster, or the master Redis Sentinel names), follows
 * -MOVED and -ASK, and keeps one connection pool and one breaker per node. */
#ifdef LLMCACHE_REDIS
#define LLMCACHE__HAVE_REDIS 1
#include <hiredis/hiredis.h>
#include <stdio.h>      /* snprintf */

#define LLMCACHE__REDIS_POOL       8     /* idle connections kept per handle */
#define LLMCACHE__REDIS_PREFIX_MAX 1024
#define LLMCACHE__REDIS_NAME_MAX   (LLMCACHE__REDIS_PREFIX_MAX + 5 + 64 + 2 + 1)
#define LLMCACHE__REDIS_POLL_MS    20    /* single-flight followers look this often */
#define LLMCACHE__REDIS_PX_MAX     ((int64_t)1 << 45)  /* ~1100 years: beyond, no PX */
#define LLMCACHE__REDIS_LOCK_MAX   ((int64_t)86400000) /* redis_lock_ms is capped at a day */
/* Bounds on what a reply may announce, checked before hiredis buffers or allocates it:
 * one reply is at most a padded record (the largest value with its header and meta
 * block) and its framing; a status, error or integer line at most 64 KiB; our data
 * commands return no arrays, so 16 elements and one level of nesting are plenty. */
#define LLMCACHE__REDIS_REPLY_MAX  (llmcache__pad8(LLMCACHE__REC_LOAD_MAX) + 64)
#define LLMCACHE__REDIS_LINE_MAX   65536
#define LLMCACHE__REDIS_ELEMS_MAX  16
#define LLMCACHE__REDIS_DEPTH_MAX  2
/* A command that wants an array (CLUSTER SLOTS, ROLE, SENTINEL get-master-addr-by-name)
 * may get one range per slot, each nested four deep (range, node, metadata). */
#define LLMCACHE__REDIS_MAP_ELEMS_MAX 16384
#define LLMCACHE__REDIS_MAP_DEPTH_MAX 4
/* Deployments: the cluster's slots, the nodes a handle may learn of, how many
 * redirections one command follows, how often a stale topology is asked again. */
#define LLMCACHE__REDIS_SLOTS      16384
#define LLMCACHE__REDIS_NODES_MAX  64
#define LLMCACHE__REDIS_HOST_MAX   255
#define LLMCACHE__REDIS_HOPS_MAX   5
#define LLMCACHE__REDIS_REFRESH_MS 100
#define LLMCACHE__REDIS_ASK_MAX    2     /* nodes or sentinels one refresh waits for */
#define LLMCACHE__REDIS_RECHECK_MS 1000  /* sentinels: asked again this often even when all is well */
#define LLMCACHE__REDIS_CMDS_MAX   4     /* commands in one llmcache__redis_exec */

enum { LLMCACHE__BRK_CLOSED = 0, LLMCACHE__BRK_OPEN = 1, LLMCACHE__BRK_PROBE = 2 };

/* One server: its address, idle connections and circuit breaker (all under r->mu). */
typedef struct llmcache__rnode {
    char    *host;
    int      port;
    int      used;                /* slots the cluster's map gives it; 1 for the single node or
                                     the sentinels' master; 0 = known but not routed to */
    redisContext *idle[LLMCACHE__REDIS_POOL];
    int      n_idle;
    int      breaker;             /* LLMCACHE__BRK_*; PROBE: one caller is trying it again */
    int      failures;            /* consecutive failed operations */
    int64_t  open_until_us;       /* monotonic time when an open breaker lets a probe through */
} llmcache__rnode;

struct llmcache__redis {
    /* settings, fixed at open */
    char    *password, *prefix, *master_name;
    size_t   prefix_len;
    int      topology, db, max_failures;
    int64_t  connect_ms, command_ms, cooldown_ms;
    char    *seed_host[LLMCACHE__REDIS_NODES_MAX];  /* cluster seeds or sentinels */
    int      seed_port[LLMCACHE__REDIS_NODES_MAX];
    int      n_seeds;
    /* guarded by mu, which is held for a few instructions only: never during I/O,
       never while taking c->mu (the order is c->mu, then mu) */
    llmcache__mutex mu;
    llmcache__rnode *nodes[LLMCACHE__REDIS_NODES_MAX];  /* known servers, kept until close */
    int      n_nodes;
    int      master;              /* single, sentinel: the node commands go to; -1 = unknown */
    unsigned char *slot_node;     /* cluster: node index + 1 of each slot; 0 = unknown */
    int      stale;               /* the topology is to be asked again */
    int      refreshing;          /* a caller is asking it now */
    int      next_seed;           /* where the next refresh starts asking */
    int64_t  refresh_after_us;    /* no refresh before (monotonic) */
    int64_t  recheck_us;          /* sentinels: when to ask them again anyway (a switchover leaves
                                     the old master writable until they reconfigure it) */
    uint64_t tokens;              /* lock tokens given out */
    uint64_t hits, misses, puts, errors, skipped, opens, connects, moved, asked, refreshes;
};

/* A Redis command: its arguments (binary-safe) and the reply types it may get, as a
 * mask of LLMCACHE__RWANT bits; any other type (an error reply included) is a failure. */
typedef struct llmcache__rcmd { int argc; unsigned want; const char *argv[6]; size_t len[6]; } llmcache__rcmd;
#define LLMCACHE__RWANT(type) (1u << (type))

static void llmcache__rcmd_arg(llmcache__rcmd *cmd, const void *p, size_t n) {
    cmd->argv[cmd->argc] = (const char *)p;
    cmd->len[cmd->argc++] = n;
}

/* Starts cmd with its verb and the reply types it accepts. */
static void llmcache__rcmd_start(llmcache__rcmd *cmd, const char *verb, unsigned want) {
    cmd->argc = 0;
    cmd->want = want;
    llmcache__rcmd_arg(cmd, verb, strlen(verb));
}

static void llmcache__redis_free(struct llmcache__redis *r) {
    int i, j;
    if (!r) return;
    for (i = 0; i < r->n_nodes; i++) {
        for (j = 0; j < r->nodes[i]->n_idle; j++) redisFree(r->nodes[i]->idle[j]);
        LLMCACHE_FREE(r->nodes[i]->host);
        LLMCACHE_FREE(r->nodes[i]);
    }
    for (i = 0; i < r->n_seeds; i++) LLMCACHE_FREE(r->seed_host[i]);
    LLMCACHE_FREE(r->slot_node);
    LLMCACHE_FREE(r->master_name);
    LLMCACHE_FREE(r->password);
    LLMCACHE_FREE(r->prefix);
    llmcache__mutex_destroy(&r->mu);
    LLMCACHE_FREE(r);
}

/* CRC16 as the Redis Cluster specification defines it (XMODEM: polynomial 0x1021,
 * initial value 0, neither input nor output reflected): "123456789" gives 0x31C3.
 * A nibble at a time: the table is the CRC of each nibble in the top four bits. */
static unsigned llmcache__crc16(const void *data, size_t n) {
    static const unsigned short nib[16] = {0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
                                           0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef};
    const unsigned char *p = (const unsigned char *)data;
    unsigned crc = 0;
    while (n--) {
        crc = ((crc << 4) & 0xffffu) ^ nib[(crc >> 12) ^ (*p >> 4)];
        crc = ((crc << 4) & 0xffffu) ^ nib[(crc >> 12) ^ (*p++ & 15u)];
    }
    return crc;
}

/* The cluster slot of a key name: CRC16 of its hash tag (what lies between the first
 * '{' and the first '}' after it, when that is not empty), else of the whole name. */
static int llmcache__redis_keyslot(const char *name, size_t n) {
    const char *lb = (const char *)memchr(name, '{', n), *rb;
    if (lb) {
        rb = (const char *)memchr(lb + 1, '}', n - (size_t)(lb + 1 - name));
        if (rb && rb > lb + 1) return (int)(llmcache__crc16(lb + 1, (size_t)(rb - lb - 1)) & 16383u);
    }
    return (int)(llmcache__crc16(name, n) & 16383u);
}

/* Splits "host:port" (the last ':' ends the host; "[v6]:port" too) into a new string
 * *host and *port; an empty host is dflt (if not NULL). 0 when it is not such an
 * address (or out of memory: *host NULL). */
static int llmcache__redis_addr(const char *s, size_t n, const char *dflt, char **host, int *port) {
    size_t colon = n, i;
    long v = 0;
    for (i = 0; i < n; i++) if (s[i] == ':') colon = i;
    if (colon == n || colon + 1 == n || n - colon > 6) return 0;
    for (i = colon + 1; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535) return 0;
    if (colon >= 2 && s[0] == '[' && s[colon - 1] == ']') { s++; colon -= 2; }
    if (colon == 0 && dflt) { s = dflt; colon = strlen(dflt); }
    if (colon == 0 || colon > LLMCACHE__REDIS_HOST_MAX) return 0;
    *host = llmcache__memdup_nul(s, colon);
    *port = (int)v;
    return *host != NULL;
}

/* The index of the node host:port, added when new; -1 when out of memory or when the
 * handle knows LLMCACHE__REDIS_NODES_MAX nodes already. Called with r->mu held. */
static int llmcache__rnode_find_locked(struct llmcache__redis *r, const char *host, size_t host_len, int port) {
    llmcache__rnode *nd;
    int i;
    for (i = 0; i < r->n_nodes; i++)
        if (r->nodes[i]->port == port && strlen(r->nodes[i]->host) == host_len &&
            memcmp(r->nodes[i]->host, host, host_len) == 0) return i;
    if (r->n_nodes == LLMCACHE__REDIS_NODES_MAX || host_len == 0 || host_len > LLMCACHE__REDIS_HOST_MAX) return -1;
    nd = (llmcache__rnode *)LLMCACHE_MALLOC(sizeof *nd);
    if (!nd) return -1;
    memset(nd, 0, sizeof *nd);
    nd->host = llmcache__memdup_nul(host, host_len);
    nd->port = port;
    if (!nd->host) { LLMCACHE_FREE(nd); return -1; }
    r->nodes[r->n_nodes] = nd;
    return r->n_nodes++;
}

/* Whether a cluster's key names keep an entry and its lock in one slot with this
 * prefix: a '{' in it must open a non-empty hash tag that closes in it too. */
static int llmcache__redis_prefix_ok(const char *prefix) {
    const char *lb = strchr(prefix, '{'), *rb;
    if (!lb) return 1;
    rb = strchr(lb + 1, '}');
    return rb && rb > lb + 1;
}

/* Sets up c->redis from cfg; connects lazily (Redis being down is no reason to fail). */
static int llmcache__redis_open(llmcache *c, const llmcache_redis_config *cfg) {
    struct llmcache__redis *r;
    size_t ns_len = strlen(c->ns);
    int i, n_nodes = 0;
    if (cfg->port < 0 || cfg->port > 65535 || cfg->db < 0 || cfg->connect_timeout_ms < 0 ||
        cfg->command_timeout_ms < 0 || cfg->breaker_failures < 0 || cfg->breaker_cooldown_ms < 0 ||
        (cfg->host && !cfg->host[0]) || cfg->topology < LLMCACHE_REDIS_SINGLE ||
        cfg->topology > LLMCACHE_REDIS_SENTINEL || (cfg->topology == LLMCACHE_REDIS_CLUSTER && cfg->db != 0) ||
        (cfg->master_name && (!cfg->master_name[0] || strlen(cfg->master_name) > LLMCACHE__REDIS_HOST_MAX)))
        return LLMCACHE_EINVAL;
    if (cfg->nodes) {
        while (cfg->nodes[n_nodes]) n_nodes++;
        if (n_nodes == 0 || n_nodes > LLMCACHE__REDIS_NODES_MAX) return LLMCACHE_EINVAL;
    }
    if ((cfg->prefix ? strlen(cfg->prefix) : ns_len + 10) > LLMCACHE__REDIS_PREFIX_MAX) return LLMCACHE_EINVAL;
    if (cfg->topology == LLMCACHE_REDIS_CLUSTER && cfg->prefix && !llmcache__redis_prefix_ok(cfg->prefix))
        return LLMCACHE_EINVAL;
    r = (struct llmcache__redis *)LLMCACHE_MALLOC(sizeof *r);
    if (!r) return LLMCACHE_ENOMEM;
    memset(r, 0, sizeof *r);
    if (llmcache__mutex_init(&r->mu) != 0) { LLMCACHE_FREE(r); return LLMCACHE_ENOMEM; }
    c->redis = r;
    r->topology = cfg->topology;
    r->db = cfg->db;
    r->max_failures = LLMCACHE__DEF(cfg->breaker_failures, 3);
    r->connect_ms = LLMCACHE__DEF(cfg->connect_timeout_ms, 200);
    r->command_ms = LLMCACHE__DEF(cfg->command_timeout_ms, 200);
    r->cooldown_ms = LLMCACHE__DEF(cfg->breaker_cooldown_ms, 5000);
    r->master = -1;
    for (i = 0; i < n_nodes; i++) {
        if (!llmcache__redis_addr(cfg->nodes[i], strlen(cfg->nodes[i]), NULL, &r->seed_host[i], &r->seed_port[i]))
            return LLMCACHE_EINVAL;
        r->n_seeds++;
    }
    if (!n_nodes) {
        r->seed_host[0] = LLMCACHE__STRDUP(cfg->host ? cfg->host : "127.0.0.1");
        r->seed_port[0] = LLMCACHE__DEF(cfg->port, 6379);
        if (!r->seed_host[0]) return LLMCACHE_ENOMEM;
        r->n_seeds = 1;
    }
    if (r->topology != LLMCACHE_REDIS_SENTINEL) {   /* the sentinels are asked, never routed to */
        for (i = 0; i < (r->topology == LLMCACHE_REDIS_SINGLE ? 1 : r->n_seeds); i++)
            if (llmcache__rnode_find_locked(r, r->seed_host[i], strlen(r->seed_host[i]), r->seed_port[i]) < 0)
                return LLMCACHE_ENOMEM;
    }
    if (r->topology == LLMCACHE_REDIS_SINGLE) {
        r->master = 0;
        r->nodes[0]->used = 1;
    } else {
        r->stale = 1;                              /* the topology is asked on first use */
        r->master_name = LLMCACHE__STRDUP(cfg->master_name ? cfg->master_name : "mymaster");
        if (!r->master_name) return LLMCACHE_ENOMEM;
    }
    if (r->topology == LLMCACHE_REDIS_CLUSTER) {
        r->slot_node = (unsigned char *)LLMCACHE_MALLOC(LLMCACHE__REDIS_SLOTS);
        if (!r->slot_node) return LLMCACHE_ENOMEM;
        memset(r->slot_node, 0, LLMCACHE__REDIS_SLOTS);
    }
    if (cfg->password) r->password = LLMCACHE__STRDUP(cfg->password);
    if (cfg->prefix) {
        r->prefix = LLMCACHE__STRDUP(cfg->prefix);
    } else if ((r->prefix = (char *)LLMCACHE_MALLOC(ns_len + 11)) != NULL) {
        memcpy(r->prefix, "llmcache:", 9);              /* "llmcache:" + namespace + ":" */
        memcpy(r->prefix + 9, c->ns, ns_len);
        memcpy(r->prefix + 9 + ns_len, ":", 2);
    }
    if (!r->prefix || (cfg->password && !r->password)) return LLMCACHE_ENOMEM;
    r->prefix_len = strlen(r->prefix);
    return LLMCACHE_OK;
}

/* The Redis name of key: prefix [+ "lock:"] + 64 lowercase hex digits; returns its
 * length. In a cluster the digits are a hash tag, "{" hex "}": an entry and its lock
 * share a slot. */
static size_t llmcache__redis_name(const struct llmcache__redis *r, const llmcache_key *key, int lock,
                                   char name[LLMCACHE__REDIS_NAME_MAX]) {
    size_t n = r->prefix_len;
    int tag = r->topology == LLMCACHE_REDIS_CLUSTER;
    memcpy(name, r->prefix, n);
    if (lock) { memcpy(name + n, "lock:", 5); n += 5; }
    if (tag) name[n++] = '{';
    llmcache_key_hex(key, name + n);
    n += 64;
    if (tag) name[n++] = '}';
    return n;
}

static struct timeval llmcache__redis_tv(int64_t ms) {
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
    return tv;
}

/* ---- one round trip within the command timeout, replies checked before hiredis
 * sees them. A socket timeout bounds each wait, not a command (a server dripping a
 * byte now and then never trips it), and hiredis's reader buffers a bulk string of
 * whatever length its header announces and allocates an array of whatever count. So
 * the replies are read here: poll and recv until the command's deadline, and each
 * chunk goes through a small RESP2 scanner before redisReaderFeed. The scanner only
 * follows the framing (types, lengths, counts, nesting) and refuses a bulk, line,
 * count or depth over the LLMCACHE__REDIS_*_MAX bounds as soon as its header shows it
 * (a bulk header, not its bytes); hiredis still parses. Custom reply functions could
 * refuse a big array, but only once hiredis had buffered a whole bulk. */
enum { LLMCACHE__RS_TYPE, LLMCACHE__RS_LINE, LLMCACHE__RS_LINE_CR, LLMCACHE__RS_NUM, LLMCACHE__RS_NUM_LF,
       LLMCACHE__RS_BULK };

typedef struct llmcache__rscan {
    int      state;          /* LLMCACHE__RS_*: what the next byte is */
    int      kind;           /* '$' or '*' while a length or count is read */
    int      neg, digits;
    int      depth;          /* open arrays */
    int      replies;        /* complete replies */
    uint64_t num;            /* the length or count so far; bytes of a line; bulk bytes left */
    uint64_t size;           /* bytes of the current reply so far */
    uint64_t elems_max;      /* 0 = LLMCACHE__REDIS_ELEMS_MAX; _MAP_ELEMS_MAX when an array is wanted */
    int      depth_max;      /* 0 = LLMCACHE__REDIS_DEPTH_MAX; _MAP_DEPTH_MAX when an array is wanted */
    uint64_t left[LLMCACHE__REDIS_MAP_DEPTH_MAX];   /* elements still due in each open array */
} llmcache__rscan;

/* Scans the next n bytes of the replies (split anywhere); 0 when they break a bound,
 * are not RESP2, or go past the want-th reply. */
static int llmcache__rscan_feed(llmcache__rscan *s, const unsigned char *p, size_t n, int want) {
    size_t i = 0;
    while (i < n) {
        if (s->replies >= want) return 0;               /* bytes nobody asked for */
        if (s->state == LLMCACHE__RS_BULK) {            /* the payload and its CRLF */
            size_t k = n - i < s->num ? n - i : (size_t)s->num;
            i += k;
            s->size += k;
            s->num -= k;
            if (s->num) continue;
        } else {
            unsigned b = p[i++];
            if (++s->size > LLMCACHE__REDIS_REPLY_MAX) return 0;
            switch (s->state) {                         /* continue: more to come; break: element done */
            case LLMCACHE__RS_TYPE:
                s->num = 0;
                s->neg = s->digits = 0;
                if (b == '+' || b == '-' || b == ':') s->state = LLMCACHE__RS_LINE;
                else if (b == '$' || b == '*') { s->kind = (int)b; s->state = LLMCACHE__RS_NUM; }
                else return 0;
                continue;
            case LLMCACHE__RS_LINE:
            case LLMCACHE__RS_LINE_CR:                  /* a line ends at its first CRLF */
                if (++s->num > LLMCACHE__REDIS_LINE_MAX) return 0;
                if (b == '\n' && s->state == LLMCACHE__RS_LINE_CR) break;
                s->state = b == '\r' ? LLMCACHE__RS_LINE_CR : LLMCACHE__RS_LINE;
                continue;
            case LLMCACHE__RS_NUM:                      /* digits, or -1 (nil); too big: refused now */
                if (b >= '0' && b <= '9') {
                    s->num = s->num * 10 + (b - '0');
                    s->digits = 1;
                    if (s->num > (s->kind == '$' ? LLMCACHE__REDIS_REPLY_MAX - s->size
                                                 : LLMCACHE__DEF(s->elems_max, LLMCACHE__REDIS_ELEMS_MAX)))
                        return 0;
                    continue;
                }
                if (b == '-' && !s->digits && !s->neg) { s->neg = 1; continue; }
                if (b != '\r' || !s->digits || (s->neg && s->num != 1)) return 0;
                s->state = LLMCACHE__RS_NUM_LF;
                continue;
            default:                                    /* LLMCACHE__RS_NUM_LF */
                if (b != '\n') return 0;
                if (s->neg) break;                      /* nil */
                if (s->kind == '$') { s->num += 2; s->state = LLMCACHE__RS_BULK; continue; }
                if (s->num == 0) break;                 /* an empty array */
                if (s->depth == LLMCACHE__DEF(s->depth_max, LLMCACHE__REDIS_DEPTH_MAX)) return 0;
                s->left[s->depth++] = s->num;
                s->state = LLMCACHE__RS_TYPE;
                continue;
            }
        }
        s->state = LLMCACHE__RS_TYPE;                   /* an element is complete, and each array it ends */
        while (s->depth && --s->left[s->depth - 1] == 0) s->depth--;
        if (!s->depth) { s->replies++; s->size = 0; }
    }
    return 1;
}

/* Waits until ctx's socket has bytes or the deadline (monotonic us) passes, then
 * receives once: the bytes received, 0 when the deadline passed, -1 on an error or
 * the end of the stream. */
static long llmcache__redis_recv(redisContext *ctx, char *buf, size_t n, int64_t deadline_us) {
    for (;;) {
        int64_t left = (deadline_us - llmcache__mono_us() + 999) / 1000;
        long got;
        if (left <= 0) return 0;
        got = llmcache__sock_recv((llmcache__socket)ctx->fd, buf, n, left);
        if (got != 0) return got;                      /* else the loop's first line ends a passed deadline */
    }
}

/* Sends n commands in one round trip and reads their replies into rep[0..n), all
 * within command_ms: the writes with the socket's send timeout set to the time left,
 * the reads through llmcache__redis_recv and the scanner. 1 when every reply arrived
 * and is of a type its command accepts (release each with freeReplyObject); else 0,
 * rep all NULL, and ctx is to be dropped. */
static int llmcache__redis_roundtrip(struct llmcache__redis *r, redisContext *ctx, int n, llmcache__rcmd *cmd,
                                     redisReply **rep) {
    int64_t deadline = llmcache__mono_us() + r->command_ms * 1000;
    llmcache__rscan scan;
    char buf[16384];
    int i, got = 0, done = 0, ok = !ctx->err;
    memset(&scan, 0, sizeof scan);
    for (i = 0; i < n; i++) {
        rep[i] = NULL;
        if (cmd[i].want & LLMCACHE__RWANT(REDIS_REPLY_ARRAY)) {
            scan.elems_max = LLMCACHE__REDIS_MAP_ELEMS_MAX;
            scan.depth_max = LLMCACHE__REDIS_MAP_DEPTH_MAX;
        }
    }
    for (i = 0; ok && i < n; i++) ok = redisAppendCommandArgv(ctx, cmd[i].argc, cmd[i].argv, cmd[i].len) == REDIS_OK;
    while (ok && !done) {
        int64_t left = (deadline - llmcache__mono_us() + 999) / 1000;
        ok = left > 0 && redisSetTimeout(ctx, llmcache__redis_tv(left)) == REDIS_OK &&
             redisBufferWrite(ctx, &done) == REDIS_OK;
    }
    while (ok && got < n) {
        void *p = NULL;
        long k;
        if (redisReaderGetReply(ctx->reader, &p) != REDIS_OK) {
            ok = 0;
        } else if (p) {
            rep[got] = (redisReply *)p;
            ok = (cmd[got].want & LLMCACHE__RWANT(rep[got]->type)) != 0;
            got++;
        } else {
            k = llmcache__redis_recv(ctx, buf, sizeof buf, deadline);
            ok = k > 0 && llmcache__rscan_feed(&scan, (const unsigned char *)buf, (size_t)k, n) &&
                 redisReaderFeed(ctx->reader, buf, (size_t)k) == REDIS_OK;
        }
    }
    if (!ok) for (i = 0; i < n; i++) { if (rep[i]) freeReplyObject(rep[i]); rep[i] = NULL; }
    return ok;
}

/* A new connection to nd (AUTH and SELECT done; behind sentinels, ROLE says it is a
 * master), or NULL. */
static redisContext *llmcache__redis_connect(struct llmcache__redis *r, const llmcache__rnode *nd) {
    redisContext *ctx = redisConnectWithTimeout(nd->host, nd->port, llmcache__redis_tv(r->connect_ms));
    llmcache__rcmd cmd[3];
    redisReply *rep[3];
    char db[16];
    int n = 0, i, ok;
    if (!ctx) return NULL;
    if (r->password) {
        llmcache__rcmd_start(&cmd[n], "AUTH", LLMCACHE__RWANT(REDIS_REPLY_STATUS));
        llmcache__rcmd_arg(&cmd[n], r->password, strlen(r->password));
        n++;
    }
    if (r->db) {
        snprintf(db, sizeof db, "%d", r->db);
        llmcache__rcmd_start(&cmd[n], "SELECT", LLMCACHE__RWANT(REDIS_REPLY_STATUS));
        llmcache__rcmd_arg(&cmd[n], db, strlen(db));
        n++;
    }
    if (r->topology == LLMCACHE_REDIS_SENTINEL)     /* a failover may have made it a replica */
        llmcache__rcmd_start(&cmd[n++], "ROLE", LLMCACHE__RWANT(REDIS_REPLY_ARRAY));
    ok = llmcache__redis_roundtrip(r, ctx, n, cmd, rep);
    if (ok && r->topology == LLMCACHE_REDIS_SENTINEL) {
        const redisReply *role = rep[n - 1];
        ok = role->elements >= 1 && role->element[0]->type == REDIS_REPLY_STRING &&
             role->element[0]->len == 6 && memcmp(role->element[0]->str, "master", 6) == 0;
    }
    for (i = 0; i < n && rep[i]; i++) freeReplyObject(rep[i]);
    if (!ok) { redisFree(ctx); return NULL; }
    llmcache__stat_inc(&r->mu, &r->connects);
    return ctx;
}

/* Whether to try node nd now (an idle connection in *ctx, or NULL: connect). An open
 * breaker says no (counted) until its cooldown is over; then one caller probes. */
static int llmcache__redis_take(struct llmcache__redis *r, llmcache__rnode *nd, redisContext **ctx) {
    int go = 1;
    *ctx = NULL;
    llmcache__lock(&r->mu);
    if (nd->breaker == LLMCACHE__BRK_OPEN && llmcache__mono_us() >= nd->open_until_us) {
        nd->breaker = LLMCACHE__BRK_PROBE;    /* half-open: this caller tries */
    } else if (nd->breaker != LLMCACHE__BRK_CLOSED) {
        r->skipped++;
        if (r->topology != LLMCACHE_REDIS_SINGLE) r->stale = 1;   /* its slots may have moved */
        go = 0;
    }
    if (go && nd->n_idle) *ctx = nd->idle[--nd->n_idle];
    llmcache__unlock(&r->mu);
    return go;
}

/* Ends an attempt on nd: a success closes its breaker and keeps the connection; a
 * failure is counted, closes the connection, may open the breaker and makes a
 * cluster's or the sentinels' topology stale. */
static void llmcache__redis_done(llmcache *c, const llmcache_key *key, llmcache__rnode *nd, redisContext *ctx,
                                 int ok) {
    struct llmcache__redis *r = c->redis;
    redisContext *drop[LLMCACHE__REDIS_POOL];
    int n_drop = 0, opened = 0;
    llmcache__lock(&r->mu);
    if (ok) {
        nd->failures = 0;
        nd->breaker = LLMCACHE__BRK_CLOSED;
        if (ctx && nd->n_idle < LLMCACHE__REDIS_POOL) { nd->idle[nd->n_idle++] = ctx; ctx = NULL; }
    } else {
        r->errors++;
        nd->failures++;
        if (r->topology != LLMCACHE_REDIS_SINGLE) r->stale = 1;
        if (nd->breaker == LLMCACHE__BRK_PROBE ||
            (nd->breaker == LLMCACHE__BRK_CLOSED && nd->failures >= r->max_failures)) {
            nd->breaker = LLMCACHE__BRK_OPEN;
            nd->open_until_us = llmcache__mono_us() + r->cooldown_ms * 1000;
            r->opens++;
            opened = 1;
            while (nd->n_idle) drop[n_drop++] = nd->idle[--nd->n_idle];   /* likely dead too */
        }
    }
    llmcache__unlock(&r->mu);
    if (ctx) redisFree(ctx);
    while (n_drop) redisFree(drop[--n_drop]);
    if (!ok) llmcache__emit(c, LLMCACHE_EVENT_ERROR, key, LLMCACHE_EIO,
                            opened ? "redis: command failed; circuit breaker open, Redis not tried for a while"
                                   : "redis: command failed (down, slow or an error reply); failing open");
}

/* One round trip of n commands on nd, its breaker permitting: -1 not tried (counted
 * as skipped), 0 failed, 1 with every reply in rep. Unless -1, the caller ends the
 * attempt with llmcache__redis_done(..., nd, *ctx, ok). */
static int llmcache__redis_try(struct llmcache__redis *r, llmcache__rnode *nd, int n, llmcache__rcmd *cmd,
                               redisReply **rep, redisContext **ctx) {
    llmcache__nopipe g;
    int ok, i;
    for (i = 0; i < n; i++) rep[i] = NULL;
    if (!llmcache__redis_take(r, nd, ctx)) return -1;
    llmcache__nopipe_begin(&g);
    if (!*ctx) *ctx = llmcache__redis_connect(r, nd);
    ok = *ctx && llmcache__redis_roundtrip(r, *ctx, n, cmd, rep);
    llmcache__nopipe_end(&g);
    return ok;
}

/* ---- topology: the cluster's slot map (CLUSTER SLOTS, -MOVED, -ASK) and the
 * sentinels' master (SENTINEL get-master-addr-by-name, -READONLY, ROLE) */

/* Fills map (node index + 1 per slot) from a CLUSTER SLOTS reply that node from gave;
 * 0 when the reply is not one. An empty host (or "?") means from's own. */
static int llmcache__redis_slots_parse(struct llmcache__redis *r, const llmcache__rnode *from,
                                       const redisReply *rep, unsigned char *map) {
    size_t i;
    memset(map, 0, LLMCACHE__REDIS_SLOTS);
    for (i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i], *m;
        const char *host;
        size_t host_len;
        long long lo, hi;
        int idx;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY) return 0;
        lo = e->element[0]->integer;
        hi = e->element[1]->integer;
        m = e->element[2];
        if (lo < 0 || hi < lo || hi >= LLMCACHE__REDIS_SLOTS || m->elements < 2 ||
            m->element[0]->type != REDIS_REPLY_STRING || m->element[1]->type != REDIS_REPLY_INTEGER ||
            m->element[1]->integer < 1 || m->element[1]->integer > 65535) return 0;
        host = m->element[0]->str;
        host_len = m->element[0]->len;
        if (host_len == 0 || (host_len == 1 && host[0] == '?')) { host = from->host; host_len = strlen(host); }
        llmcache__lock(&r->mu);
        idx = llmcache__rnode_find_locked(r, host, host_len, (int)m->element[1]->integer);
        llmcache__unlock(&r->mu);
        if (idx >= 0) memset(map + lo, idx + 1, (size_t)(hi - lo + 1));   /* else: unknown, redirected */
    }
    return 1;
}

/* Reads the slot map from the first node that answers CLUSTER SLOTS (starting with a
 * different one each time, trying at most LLMCACHE__REDIS_ASK_MAX) and installs it;
 * 1 when it did. */
static int llmcache__redis_slots_load(llmcache *c) {
    struct llmcache__redis *r = c->redis;
    unsigned char *map = (unsigned char *)LLMCACHE_MALLOC(LLMCACHE__REDIS_SLOTS);
    llmcache__rcmd cmd;
    int n, start, i, j, asked = 0, ok = 0;
    if (!map) return 0;
    llmcache__rcmd_start(&cmd, "CLUSTER", LLMCACHE__RWANT(REDIS_REPLY_ARRAY));
    llmcache__rcmd_arg(&cmd, "SLOTS", 5);
    llmcache__lock(&r->mu);
    n = r->n_nodes;
    start = r->next_seed++ & 0xffff;
    llmcache__unlock(&r->mu);
    for (i = 0; i < n && !ok && asked < LLMCACHE__REDIS_ASK_MAX; i++) {
        llmcache__rnode *nd;
        redisContext *ctx;
        redisReply *rep;
        int tried;
        llmcache__lock(&r->mu);
        nd = r->nodes[(start + i) % n];
        llmcache__unlock(&r->mu);
        tried = llmcache__redis_try(r, nd, 1, &cmd, &rep, &ctx);
        if (tried < 0) continue;                  /* its breaker is open: costs nothing */
        asked++;
        ok = tried && llmcache__redis_slots_parse(r, nd, rep, map);
        llmcache__redis_done(c, NULL, nd, ctx, ok);
        if (rep) freeReplyObject(rep);
    }
    if (ok) {
        llmcache__lock(&r->mu);
        memcpy(r->slot_node, map, LLMCACHE__REDIS_SLOTS);
        for (j = 0; j < r->n_nodes; j++) r->nodes[j]->used = 0;
        for (j = 0; j < LLMCACHE__REDIS_SLOTS; j++) if (map[j]) r->nodes[map[j] - 1]->used++;
        llmcache__unlock(&r->mu);
    }
    LLMCACHE_FREE(map);
    return ok;
}

/* Asks the sentinels (the first that answers, starting with a different one each
 * time, at most LLMCACHE__REDIS_ASK_MAX) where the master is, and routes to it; 1
 * when one said. */
static int llmcache__redis_sentinels_ask(struct llmcache__redis *r) {
    llmcache__rcmd cmd;
    int i, start, found = 0;
    llmcache__rcmd_start(&cmd, "SENTINEL", LLMCACHE__RWANT(REDIS_REPLY_ARRAY) | LLMCACHE__RWANT(REDIS_REPLY_NIL));
    llmcache__rcmd_arg(&cmd, "get-master-addr-by-name", 23);
    llmcache__rcmd_arg(&cmd, r->master_name, strlen(r->master_name));
    llmcache__lock(&r->mu);
    start = r->next_seed++ & 0xffff;
    llmcache__unlock(&r->mu);
    for (i = 0; i < r->n_seeds && i < LLMCACHE__REDIS_ASK_MAX && !found; i++) {
        int j = (start + i) % r->n_seeds, ok, port = 0;
        llmcache__nopipe g;
        redisContext *ctx;
        redisReply *rep = NULL;
        const redisReply *h, *p;
        size_t k;
        llmcache__nopipe_begin(&g);
        ctx = redisConnectWithTimeout(r->seed_host[j], r->seed_port[j], llmcache__redis_tv(r->connect_ms));
        ok = ctx && llmcache__redis_roundtrip(r, ctx, 1, &cmd, &rep);
        llmcache__nopipe_end(&g);
        if (ctx) redisFree(ctx);
        if (!ok) { llmcache__stat_inc(&r->mu, &r->errors); continue; }
        llmcache__stat_inc(&r->mu, &r->connects);
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
            (h = rep->element[0])->type == REDIS_REPLY_STRING && (p = rep->element[1])->type == REDIS_REPLY_STRING &&
            p->len >= 1 && p->len <= 5) {
            for (k = 0; k < p->len && p->str[k] >= '0' && p->str[k] <= '9'; k++) port = port * 10 + (p->str[k] - '0');
            if (k == p->len && port >= 1 && port <= 65535) {
                llmcache__lock(&r->mu);
                j = llmcache__rnode_find_locked(r, h->str, h->len, port);
                if (j >= 0) {
                    if (r->master >= 0) r->nodes[r->master]->used = 0;
                    r->master = j;
                    r->nodes[j]->used = 1;
                    found = 1;
                }
                llmcache__unlock(&r->mu);
            }
        }
        freeReplyObject(rep);
    }
    return found;
}

/* Asks the topology again when it is stale (or, behind sentinels, every
 * LLMCACHE__REDIS_RECHECK_MS), due (at most every LLMCACHE__REDIS_REFRESH_MS) and no
 * other caller is asking. */
static void llmcache__redis_refresh(llmcache *c) {
    struct llmcache__redis *r = c->redis;
    int64_t now = llmcache__mono_us();
    int go, ok;
    llmcache__lock(&r->mu);
    go = (r->stale || (r->topology == LLMCACHE_REDIS_SENTINEL && now >= r->recheck_us)) && !r->refreshing &&
         now >= r->refresh_after_us;
    if (go) {
        r->refreshing = 1;
        r->stale = 0;                 /* a failure or -MOVED meanwhile sets it again */
        r->refresh_after_us = now + LLMCACHE__REDIS_REFRESH_MS * 1000;
    }
    llmcache__unlock(&r->mu);
    if (!go) return;
    ok = r->topology == LLMCACHE_REDIS_CLUSTER ? llmcache__redis_slots_load(c) : llmcache__redis_sentinels_ask(r);
    llmcache__lock(&r->mu);
    r->refreshing = 0;
    if (ok) {
        r->refreshes++;
        r->recheck_us = now + LLMCACHE__REDIS_RECHECK_MS * 1000;
    } else r->stale = 1;
    llmcache__unlock(&r->mu);
}

/* The node for a command: the one an -ASK named (ask >= 0), else the owner of slot in
 * the map, else the single node or the sentinels' master; a cluster slot not mapped
 * yet goes to any node (it redirects). NULL when none is known. */
static llmcache__rnode *llmcache__redis_route(struct llmcache__redis *r, int slot, int ask) {
    llmcache__rnode *nd = NULL;
    int i = ask;
    if (r->topology == LLMCACHE_REDIS_SINGLE) return r->nodes[0];   /* set at open, never changed */
    llmcache__lock(&r->mu);
    if (i < 0 && slot >= 0) i = (int)r->slot_node[slot] - 1;
    if (i < 0) i = r->master;
    if (i < 0 && r->topology == LLMCACHE_REDIS_CLUSTER && r->n_nodes) {
        for (i = 0; i < r->n_nodes && r->nodes[i]->breaker != LLMCACHE__BRK_CLOSED; i++) {}
        if (i == r->n_nodes) i = 0;
    }
    if (i >= 0 && i < r->n_nodes) nd = r->nodes[i];
    llmcache__unlock(&r->mu);
    return nd;
}

enum { LLMCACHE__RX_OK, LLMCACHE__RX_RETRY, LLMCACHE__RX_SOFT, LLMCACHE__RX_FAIL };

/* What an error reply e from node from asks for: LLMCACHE__RX_RETRY for -MOVED (the
 * slot's owner noted in the map, which is then read again), -ASK (*ask = the node to
 * ask once, with ASKING) and -READONLY (the sentinels are asked again at once);
 * LLMCACHE__RX_SOFT for a cluster that is down or busy (-CLUSTERDOWN, -TRYAGAIN,
 * -LOADING, -MASTERDOWN: the node itself is fine); LLMCACHE__RX_FAIL otherwise. */
static int llmcache__redis_redirect(struct llmcache__redis *r, const llmcache__rnode *from, const redisReply *e,
                                    int *ask) {
    const char *p = e->str, *end = e->str + e->len;
    int moved = e->len > 6 && memcmp(p, "MOVED ", 6) == 0, idx, port;
    long slot = 0;
    char *host;
    if (moved || (e->len > 4 && memcmp(p, "ASK ", 4) == 0)) {
        p += moved ? 6 : 4;
        while (p < end && *p >= '0' && *p <= '9' && slot < LLMCACHE__REDIS_SLOTS) slot = slot * 10 + (*p++ - '0');
        if (p == end || *p != ' ' || slot >= LLMCACHE__REDIS_SLOTS || r->topology != LLMCACHE_REDIS_CLUSTER ||
            !llmcache__redis_addr(p + 1, (size_t)(end - p - 1), from->host, &host, &port)) return LLMCACHE__RX_FAIL;
        llmcache__lock(&r->mu);
        idx = llmcache__rnode_find_locked(r, host, strlen(host), port);
        if (idx >= 0 && moved) {
            r->slot_node[slot] = (unsigned char)(idx + 1);
            r->stale = 1;
            r->moved++;
        } else if (idx >= 0) {
            *ask = idx;
            r->asked++;
        }
        llmcache__unlock(&r->mu);
        LLMCACHE_FREE(host);
        return idx >= 0 ? LLMCACHE__RX_RETRY : LLMCACHE__RX_SOFT;
    }
    if (e->len >= 8 && memcmp(p, "READONLY", 8) == 0 && r->topology == LLMCACHE_REDIS_SENTINEL) {
        llmcache__lock(&r->mu);
        r->stale = 1;
        r->refresh_after_us = 0;
        llmcache__unlock(&r->mu);
        return LLMCACHE__RX_RETRY;
    }
    if ((e->len >= 11 && memcmp(p, "CLUSTERDOWN", 11) == 0) || (e->len >= 8 && memcmp(p, "TRYAGAIN", 8) == 0) ||
        (e->len >= 7 && memcmp(p, "LOADING", 7) == 0) || (e->len >= 10 && memcmp(p, "MASTERDOWN", 10) == 0))
        return LLMCACHE__RX_SOFT;
    return LLMCACHE__RX_FAIL;
}

/* Sends n commands about key in one round trip to the node that holds key and reads
 * their replies into rep[0..n), following -MOVED and -ASK (at most
 * LLMCACHE__REDIS_HOPS_MAX hops). LLMCACHE_OK: all arrived in time, each of a type its
 * command accepts (release each with freeReplyObject). LLMCACHE_EIO: Redis failed or
 * was not tried (open breaker); rep is all NULL then. Call without c->mu held. */
static int llmcache__redis_exec(llmcache *c, const llmcache_key *key, int n, llmcache__rcmd *cmd,
                                redisReply **rep) {
    struct llmcache__redis *r = c->redis;
    llmcache__rcmd all[LLMCACHE__REDIS_CMDS_MAX + 1];
    redisReply *got[LLMCACHE__REDIS_CMDS_MAX + 1];
    char name[LLMCACHE__REDIS_NAME_MAX];
    int slot = -1, ask = -1, hop, i, how = LLMCACHE__RX_SOFT;
    LLMCACHE_ASSERT(n >= 1 && n <= LLMCACHE__REDIS_CMDS_MAX);
    for (i = 0; i < n; i++) rep[i] = NULL;
    if (r->slot_node) slot = llmcache__redis_keyslot(name, llmcache__redis_name(r, key, 0, name));
    for (hop = 0; hop < LLMCACHE__REDIS_HOPS_MAX; hop++) {
        llmcache__rnode *nd;
        redisContext *ctx;
        int k = 0, tried, asking = ask >= 0;
        if (r->topology != LLMCACHE_REDIS_SINGLE) llmcache__redis_refresh(c);
        nd = llmcache__redis_route(r, slot, ask);
        ask = -1;
        if (!nd) break;
        if (asking) llmcache__rcmd_start(&all[k++], "ASKING", LLMCACHE__RWANT(REDIS_REPLY_STATUS));
        for (i = 0; i < n; i++, k++) {
            all[k] = cmd[i];
            if (r->topology != LLMCACHE_REDIS_SINGLE) all[k].want |= LLMCACHE__RWANT(REDIS_REPLY_ERROR);
        }
        tried = llmcache__redis_try(r, nd, k, all, got, &ctx);
        if (tried < 0) return LLMCACHE_EIO;
        how = tried ? LLMCACHE__RX_OK : LLMCACHE__RX_FAIL;
        for (i = k - n; tried && how == LLMCACHE__RX_OK && i < k; i++)
            if (got[i]->type == REDIS_REPLY_ERROR) how = llmcache__redis_redirect(r, nd, got[i], &ask);
        llmcache__redis_done(c, key, nd, ctx, tried && how != LLMCACHE__RX_FAIL);
        if (tried && how == LLMCACHE__RX_OK) {
            if (asking) freeReplyObject(got[0]);
            for (i = 0; i < n; i++) rep[i] = got[k - n + i];
            return LLMCACHE_OK;
        }
        for (i = 0; tried && i < k; i++) freeReplyObject(got[i]);
        if (!tried || how != LLMCACHE__RX_RETRY) break;
    }
    if (how != LLMCACHE__RX_FAIL) {       /* failures were counted by llmcache__redis_done */
        llmcache__stat_inc(&r->mu, &r->errors);
        llmcache__emit(c, LLMCACHE_EVENT_ERROR, key, LLMCACHE_EIO,
                       "redis: no node to ask, the cluster down or busy, or redirected too often; failing open");
    }
    return LLMCACHE_EIO;
}

/* One command; the reply or NULL (failed, counted). */
static redisReply *llmcache__redis_cmd(llmcache *c, const llmcache_key *key, llmcache__rcmd *cmd) {
    redisReply *rep;
    return llmcache__redis_exec(c, key, 1, cmd, &rep) == LLMCACHE_OK ? rep : NULL;
}

/* Reads key from Redis; when it is there, fills the memory tier (and the log) unless
 * it holds the key in a version at least as new, and copies it into *out (if not
 * NULL). LLMCACHE_OK, LLMCACHE_MISS (also when Redis fails or holds a value that is
 * not an intact record of this key: both counted as errors), or LLMCACHE_ENOMEM.
 * Call without c->mu held. */
static int llmcache__redis_load(llmcache *c, const llmcache_key *key, llmcache_value *out) {
    struct llmcache__redis *r = c->redis;
    char name[LLMCACHE__REDIS_NAME_MAX];
    llmcache__rcmd cmd;
    llmcache__record rec;
    llmcache_meta meta;
    redisReply *rep;
    const unsigned char *val;
    unsigned char *owned;
    size_t val_len;
    uint32_t i;
    int rc = LLMCACHE_MISS;
    llmcache__rcmd_start(&cmd, "GET", LLMCACHE__RWANT(REDIS_REPLY_STRING) | LLMCACHE__RWANT(REDIS_REPLY_NIL));
    llmcache__rcmd_arg(&cmd, name, llmcache__redis_name(r, key, 0, name));
    rep = llmcache__redis_cmd(c, key, &cmd);
    if (!rep) return LLMCACHE_MISS;
    if (rep->type == REDIS_REPLY_NIL) {
        llmcache__stat_inc(&r->mu, &r->misses);
        freeReplyObject(rep);
        return LLMCACHE_MISS;
    }
    if (!llmcache__rec_check((const unsigned char *)rep->str, (uint64_t)rep->len, &rec) ||
        rec.type != LLMCACHE__R_PUT || llmcache__pad8(rec.len) != (uint64_t)rep->len ||
        memcmp(rec.key.bytes, key->bytes, 32) != 0) {
        llmcache__stat_inc(&r->mu, &r->errors);
        freeReplyObject(rep);
        llmcache__emit(c, LLMCACHE_EVENT_ERROR, key, LLMCACHE_ECORRUPT,
                       "redis: the value is not an intact record of this key; treated as a miss");
        return LLMCACHE_MISS;
    }
    rc = llmcache__xform_decode(&c->xform, &rec, &val, &val_len, &owned);
    if (rc != LLMCACHE_OK) {   /* intact, but not ours to read: counted (llmcache_get tells), a miss */
        llmcache__stat_inc(&r->mu, &r->errors);
        llmcache__handle_lock(c);
        llmcache__xform_count(c, rc);
        llmcache__handle_unlock(c);
        freeReplyObject(rep);
        return rc == LLMCACHE_ENOMEM ? rc : LLMCACHE_MISS;
    }
    rc = LLMCACHE_MISS;
    memset(&meta, 0, sizeof meta);
    if (rec.meta) llmcache__meta_decode(rec.meta, &meta);
    llmcache__handle_lock(c);
    if (rec.expires_ms == 0 || llmcache__now(c) < rec.expires_ms) {
        rc = LLMCACHE_OK;
        if (out) {
            out->data = llmcache__memdup_nul(val, val_len);
            if (!out->data) rc = LLMCACHE_ENOMEM;
            out->len = val_len;
            out->created_ms = rec.created_ms;
            out->expires_ms = rec.expires_ms;
            out->meta = meta;
        }
        if (rc == LLMCACHE_OK && llmcache__refresh(c) == LLMCACHE_OK) {
            llmcache__blobhdr have;
            i = llmcache__find(c, key);
            if (i == LLMCACHE__NIL || llmcache__expired(llmcache__ent(c, i), llmcache__now(c)) ||
                !llmcache__ent_desc(c, llmcache__ent(c, i), &have) ||
                have.created_ms < rec.created_ms)   /* a put may have raced us: keep the newer */
                (void)llmcache__put_locked(c, key, val, val_len, rec.created_ms, rec.expires_ms,
                                           rec.meta ? &meta : NULL);
        }
    }
    llmcache__handle_unlock(c);
    LLMCACHE_FREE(owned);
    llmcache__stat_inc(&r->mu, rc == LLMCACHE_OK ? &r->hits : &r->misses);
    freeReplyObject(rep);
    return rc;
}

/* llmcache_get's miss path, entered and left with c->mu held (dropped meanwhile). */
static int llmcache__redis_get(llmcache *c, const llmcache_key *key, llmcache_value *out) {
    int rc;
    LLMCACHE_ASSERT(c->mu_held);
    if (!c->redis) return LLMCACHE_MISS;
    llmcache__handle_unlock(c);
    rc = llmcache__redis_load(c, key, out);
    llmcache__handle_lock(c);
    return rc;
}

/* Writes a put through to Redis after the local put returned rc (called without
 * c->mu). A Redis failure never changes rc; a value too big for a memory-only cache
 * (LLMCACHE_ETOOBIG) is stored in Redis alone, and then the put succeeds. */
static int llmcache__redis_put(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                               int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta, int rc) {
    char name[LLMCACHE__REDIS_NAME_MAX], px[24];
    llmcache__buf enc = {NULL, 0, 0, 0};
    const void *stored;
    size_t stored_len;
    unsigned xform;
    unsigned char *buf;
    llmcache__rcmd cmd;
    redisReply *rep;
    size_t size;
    int64_t ttl = 0;
    if (!c->redis || (rc != LLMCACHE_OK && (rc != LLMCACHE_ETOOBIG || c->path))) return rc;
    if (expires_ms) {
        ttl = expires_ms - llmcache__now(c);
        if (ttl <= 0) return rc;                /* already expired: not written */
    }
    if (llmcache__xform_encode(&c->xform, key, data, len, &enc, &stored, &stored_len, &xform) != LLMCACHE_OK)
        return rc;
    size = (size_t)llmcache__rec_size(stored_len, meta != NULL);
    buf = (unsigned char *)LLMCACHE_MALLOC(size);
    if (buf) llmcache__rec_encode(buf, LLMCACHE__R_PUT, 0, 0, key, created_ms, expires_ms, meta, stored, stored_len,
                                  xform);
    llmcache__buf_free(&enc);
    if (!buf) return rc;
    llmcache__rcmd_start(&cmd, "SET", LLMCACHE__RWANT(REDIS_REPLY_STATUS));
    llmcache__rcmd_arg(&cmd, name, llmcache__redis_name(c->redis, key, 0, name));
    llmcache__rcmd_arg(&cmd, buf, size);
    if (ttl > 0 && ttl < LLMCACHE__REDIS_PX_MAX) {
        snprintf(px, sizeof px, "%lld", (long long)ttl);
        llmcache__rcmd_arg(&cmd, "PX", 2);
        llmcache__rcmd_arg(&cmd, px, strlen(px));
    }
    rep = llmcache__redis_cmd(c, key, &cmd);
    LLMCACHE_FREE(buf);
    if (!rep) return rc;
    freeReplyObject(rep);
    llmcache__stat_inc(&c->redis->mu, &c->redis->puts);
    if (rc == LLMCACHE_ETOOBIG) {
        llmcache__stat_inc(&c->mu, &c->st.puts);
        rc = LLMCACHE_OK;
    }
    return rc;
}

/* Deletes key in Redis after the local delete returned rc (called without c->mu):
 * a key only Redis held makes a local LLMCACHE_MISS an LLMCACHE_OK. */
static int llmcache__redis_del(llmcache *c, const llmcache_key *key, int rc) {
    char name[LLMCACHE__REDIS_NAME_MAX];
    llmcache__rcmd cmd;
    redisReply *rep;
    if (!c->redis || (rc != LLMCACHE_OK && rc != LLMCACHE_MISS)) return rc;
    llmcache__rcmd_start(&cmd, "DEL", LLMCACHE__RWANT(REDIS_REPLY_INTEGER));
    llmcache__rcmd_arg(&cmd, name, llmcache__redis_name(c->redis, key, 0, name));
    rep = llmcache__redis_cmd(c, key, &cmd);
    if (!rep) return rc;
    if (rc == LLMCACHE_MISS && rep->integer > 0) {
        rc = LLMCACHE_OK;
        llmcache__stat_inc(&c->mu, &c->st.deletes);
    }
    freeReplyObject(rep);
    return rc;
}

/* Adds the Redis counters to *out; called with c->mu held. */
static void llmcache__redis_stats(llmcache *c, llmcache_stats *out) {
    struct llmcache__redis *r = c->redis;
    int i;
    LLMCACHE_ASSERT(c->mu_held);
    if (!r) return;
    llmcache__lock(&r->mu);
    out->redis_hits = r->hits;
    out->redis_misses = r->misses;
    out->redis_puts = r->puts;
    out->redis_errors = r->errors;
    out->redis_skipped = r->skipped;
    out->redis_breaker_opens = r->opens;
    out->redis_breaker_open = 0;
    for (i = 0; i < r->n_nodes; i++)
        if (r->nodes[i]->used && r->nodes[i]->breaker != LLMCACHE__BRK_CLOSED) out->redis_breaker_open = 1;
    out->redis_connects = r->connects;
    out->redis_moved = r->moved;
    out->redis_asked = r->asked;
    out->redis_topology_refreshes = r->refreshes;
    llmcache__unlock(&r->mu);
}

#else   /* no Redis tier: the no-op side of its interface (a config asking for it fails) */
#define LLMCACHE__HAVE_REDIS 0
static int llmcache__redis_open(llmcache *c, const llmcache_redis_config *cfg) {
    (void)c; (void)cfg;
    return LLMCACHE_EUNSUPPORTED;
}
static void llmcache__redis_free(struct llmcache__redis *r) { (void)r; }
static int llmcache__redis_get(llmcache *c, const llmcache_key *key, llmcache_value *out) {
    (void)c; (void)key; (void)out;
    return LLMCACHE_MISS;
}
static int llmcache__redis_put(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                               int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta, int rc) {
    (void)c; (void)key; (void)data; (void)len; (void)created_ms; (void)expires_ms; (void)meta;
    return rc;
}
static int llmcache__redis_del(llmcache *c, const llmcache_key *key, int rc) { (void)c; (void)key; return rc; }
static void llmcache__redis_stats(llmcache *c, llmcache_stats *out) { (void)c; (void)out; }
#endif /* LLMCACHE_REDIS */

/* >>impl accounting (per namespace and model: counters, prices, rows) ----------------
 * The call-through counts its events here (llmcache__acct_*), under c->mu like the
 * handle's totals. A table of rows, found by a hash of (namespace, model); rows are
 * never removed, so a row index stays valid for the handle's life. rows[0] is the
 * "other" row. The same table type collects the stored-entries view of the export. */
#define LLMCACHE__ACCT_NAME_MAX 256u          /* a longer model folds into the other row */
#define LLMCACHE__ACCT_ROWS_MAX 1048576u
#define LLMCACHE__PRICE_MAX 1000000000000ll   /* $1M per million tokens, in micro-dollars */
#define LLMCACHE__MILLION 1000000u

enum {
    LLMCACHE__A_CALLS, LLMCACHE__A_HITS, LLMCACHE__A_MISSES, LLMCACHE__A_REFRESHES, LLMCACHE__A_STORES,
    LLMCACHE__A_ERRORS, LLMCACHE__A_SHARED, LLMCACHE__A_REPLAY_MISSES, LLMCACHE__A_TIME_MS,
    LLMCACHE__A_TTFE_MS, LLMCACHE__A_INPUT, LLMCACHE__A_OUTPUT, LLMCACHE__A_CACHED, LLMCACHE__A_WRITE,
    LLMCACHE__A_MONEY, LLMCACHE__A_UNPRICED,
    LLMCACHE__A_ENTRIES, LLMCACHE__A_BYTES,    /* the stored-entries view only */
    LLMCACHE__A_N
};

typedef struct llmcache__arow {
    char *name;                /* ns, NUL, model, NUL (one allocation); NULL for the other row */
    size_t ns_len, model_len;
    uint64_t hash;
    uint64_t n[LLMCACHE__A_N];
    uint64_t money_frac;       /* millionths of a micro-dollar not yet in n[MONEY] */
} llmcache__arow;

struct llmcache__acct {
    llmcache__arow *rows;      /* rows[0]: the other row */
    uint32_t n_rows, cap_rows, max_rows;
    uint32_t *slots;           /* row index, 0 = empty (rows[0] is never hashed) */
    uint32_t slot_mask;
    llmcache_price *prices;    /* sorted by model; models point into price_names */
    size_t n_prices;
    char *price_names;
    int owns_prices;
    uint64_t money_frac;       /* of the handle's total (c->st) */
};

static uint64_t llmcache__acct_hash(const char *ns, size_t ns_len, const char *model, size_t model_len) {
    uint64_t h = 0xcbf29ce484222325ull;    /* FNV-1a over ns, 0, model */
    size_t i;
    for (i = 0; i < ns_len; i++) h = (h ^ (unsigned char)ns[i]) * 0x100000001b3ull;
    h *= 0x100000001b3ull;
    for (i = 0; i < model_len; i++) h = (h ^ (unsigned char)model[i]) * 0x100000001b3ull;
    return h;
}

static int llmcache__acct_init(struct llmcache__acct *a, size_t max_rows) {
    uint32_t slots = 4;
    memset(a, 0, sizeof *a);
    a->max_rows = (uint32_t)LLMCACHE__DEF(max_rows, LLMCACHE_DEFAULT_ACCT_ROWS);
    while (slots < a->max_rows * 2u) slots *= 2;
    a->slots = (uint32_t *)LLMCACHE_MALLOC(slots * sizeof *a->slots);
    a->rows = (llmcache__arow *)LLMCACHE_MALLOC(8 * sizeof *a->rows);
    if (!a->slots || !a->rows) return LLMCACHE_ENOMEM;
    memset(a->slots, 0, slots * sizeof *a->slots);
    memset(a->rows, 0, sizeof *a->rows);
    a->slot_mask = slots - 1;
    a->cap_rows = 8;
    a->n_rows = 1;
    return LLMCACHE_OK;
}

static void llmcache__acct_release(struct llmcache__acct *a) {
    uint32_t i;
    if (!a) return;
    for (i = 0; a->rows && i < a->n_rows; i++) LLMCACHE_FREE(a->rows[i].name);
    LLMCACHE_FREE(a->rows);
    LLMCACHE_FREE(a->slots);
    if (a->owns_prices) { LLMCACHE_FREE(a->prices); LLMCACHE_FREE(a->price_names); }
    memset(a, 0, sizeof *a);
}

static int llmcache__acct_namecmp(const char *a, size_t an, const char *b, size_t bn) {
    int d = memcmp(a, b, an < bn ? an : bn);
    return d ? d : an < bn ? -1 : an > bn ? 1 : 0;
}

static int llmcache__price_cmp(const void *x, const void *y) {
    const llmcache_price *a = (const llmcache_price *)x, *b = (const llmcache_price *)y;
    return llmcache__acct_namecmp(a->model, strlen(a->model), b->model, strlen(b->model));
}

/* Copies and checks a price table into a (sorted, for the lookup). */
static int llmcache__acct_set_prices(struct llmcache__acct *a, const llmcache_prices *p) {
    size_t i, names = 0, off = 0;
    if (!p || !p->n) return LLMCACHE_OK;
    if (!p->models || p->n > ((size_t)-1) / sizeof *a->prices) return LLMCACHE_EINVAL;
    for (i = 0; i < p->n; i++) {
        const llmcache_price *q = &p->models[i];
        if (!q->model || q->input < 0 || q->output < 0 || q->cached_input < 0 || q->cache_write < 0 ||
            q->input > LLMCACHE__PRICE_MAX || q->output > LLMCACHE__PRICE_MAX ||
            q->cached_input > LLMCACHE__PRICE_MAX || q->cache_write > LLMCACHE__PRICE_MAX)
            return LLMCACHE_EINVAL;
        names += strlen(q->model) + 1;
    }
    a->prices = (llmcache_price *)LLMCACHE_MALLOC(p->n * sizeof *a->prices);
    a->price_names = (char *)LLMCACHE_MALLOC(names);
    a->owns_prices = 1;
    if (!a->prices || !a->price_names) return LLMCACHE_ENOMEM;
    for (i = 0; i < p->n; i++) {
        size_t len = strlen(p->models[i].model) + 1;
        a->prices[i] = p->models[i];
        memcpy(a->price_names + off, p->models[i].model, len);
        a->prices[i].model = a->price_names + off;
        off += len;
    }
    a->n_prices = p->n;
    qsort(a->prices, a->n_prices, sizeof *a->prices, llmcache__price_cmp);
    for (i = 1; i < a->n_prices; i++)
        if (strcmp(a->prices[i - 1].model, a->prices[i].model) == 0) return LLMCACHE_EINVAL;
    return LLMCACHE_OK;
}

/* The index of model's price, or -1. */
static int32_t llmcache__acct_price(const struct llmcache__acct *a, const char *model, size_t len) {
    size_t lo = 0, hi = a->n_prices;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = a->prices[mid].model;
        int d = llmcache__acct_namecmp(m, strlen(m), model, len);
        if (d == 0) return (int32_t)mid;
        if (d < 0) lo = mid + 1; else hi = mid;
    }
    return -1;
}

/* The row of (ns, model), made when missing; 0 (the other row) when the table is
 * full or memory is short; *folded set then. */
static uint32_t llmcache__acct_row(struct llmcache__acct *a, const char *ns, size_t ns_len, const char *model,
                                   size_t model_len, int *folded) {
    uint64_t h = llmcache__acct_hash(ns, ns_len, model, model_len);
    uint32_t j = (uint32_t)h & a->slot_mask, i;
    llmcache__arow *r;
    *folded = 0;
    while ((i = a->slots[j]) != 0) {
        r = &a->rows[i];
        if (r->hash == h && r->ns_len == ns_len && r->model_len == model_len &&
            memcmp(r->name, ns, ns_len) == 0 && memcmp(r->name + ns_len + 1, model, model_len) == 0)
            return i;
        j = (j + 1) & a->slot_mask;
    }
    if (a->n_rows - 1 >= a->max_rows) { *folded = 1; return 0; }
    if (a->n_rows == a->cap_rows) {
        uint32_t cap = a->cap_rows * 2;
        llmcache__arow *nr = (llmcache__arow *)LLMCACHE_REALLOC(a->rows, cap * sizeof *nr);
        if (!nr) { *folded = 1; return 0; }
        a->rows = nr;
        a->cap_rows = cap;
    }
    r = &a->rows[a->n_rows];
    memset(r, 0, sizeof *r);
    r->name = (char *)LLMCACHE_MALLOC(ns_len + model_len + 2);
    if (!r->name) { *folded = 1; return 0; }
    memcpy(r->name, ns, ns_len);
    r->name[ns_len] = '\0';
    memcpy(r->name + ns_len + 1, model, model_len);
    r->name[ns_len + 1 + model_len] = '\0';
    r->ns_len = ns_len;
    r->model_len = model_len;
    r->hash = h;
    a->slots[j] = a->n_rows;
    return a->n_rows++;
}

/* The "model" member of a JSON document's root, or of its "message" (Anthropic
 * message_start) or "response" (OpenAI responses events): 1 and *m, *len set when
 * found as a string; 0 when absent or not a string. */
static int llmcache__acct_model_in(const llmcache__jv *root, const char **m, size_t *len) {
    const llmcache__jv *v = llmcache__json_get(root, "model");
    if (llmcache__json_type(v) != LLMCACHE__JSTR) v = llmcache__json_get(llmcache__json_get(root, "message"), "model");
    if (llmcache__json_type(v) != LLMCACHE__JSTR) v = llmcache__json_get(llmcache__json_get(root, "response"), "model");
    if (llmcache__json_type(v) != LLMCACHE__JSTR) return 0;
    *m = v->u.str;
    *len = v->n;
    return 1;
}

/* The row for a call of model (len bytes) in namespace ns, counting a fold. Caller
 * holds c->mu. */
static uint32_t llmcache__acct_row_locked(llmcache *c, const char *ns, const char *model, size_t len) {
    int folded = 1;
    uint32_t row = 0;
    if (len <= LLMCACHE__ACCT_NAME_MAX && !memchr(model, '\0', len)) {
        uint32_t before = c->acct->n_rows;
        row = llmcache__acct_row(c->acct, ns, strlen(ns), model, len, &folded);
        if (c->acct->n_rows != before) c->st.acct_rows++;
    }
    if (folded) c->st.acct_folded++;
    return row;
}

/* Past the string whose opening quote is at p[i]: the index after its closing quote
 * (n when it has none); *esc set when it holds an escape. */
static size_t llmcache__acct_skip_str(const char *p, size_t n, size_t i, int *esc) {
    for (i++; i < n && p[i] != '"'; i++)
        if (p[i] == '\\') { *esc = 1; i++; }
    return i < n ? i + 1 : n;
}

static size_t llmcache__acct_ws(const char *p, size_t n, size_t i) {
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
    return i;
}

/* The root's "model" member of JSON text already known to be valid, found without
 * building a tree (a call's hot path): 1 with *m, *len pointing into p when it is a
 * string without escapes; 0 when absent or not a string; -1 when an escape (in a
 * member name or in the model) needs the full parser. */
static int llmcache__acct_scan_model(const char *p, size_t n, const char **m, size_t *len) {
    size_t i = llmcache__acct_ws(p, n, 0);
    if (i >= n || p[i] != '{') return 0;
    for (i++;;) {
        size_t k0, k1, v0;
        int kesc = 0, vesc = 0, is_model;
        i = llmcache__acct_ws(p, n, i);
        if (i >= n || p[i] != '"') return 0;          /* "}" of an empty object */
        k0 = i + 1;
        i = llmcache__acct_skip_str(p, n, i, &kesc);
        k1 = i - 1;
        if (kesc) return -1;
        is_model = k1 - k0 == 5 && memcmp(p + k0, "model", 5) == 0;
        i = llmcache__acct_ws(p, n, llmcache__acct_ws(p, n, i) + 1);   /* past the colon */
        v0 = i;
        if (i < n && p[i] == '"') {
            i = llmcache__acct_skip_str(p, n, i, &vesc);
            if (is_model) {
                if (vesc) return -1;
                *m = p + v0 + 1;
                *len = i - v0 - 2;
                return 1;
            }
        } else {
            int depth = 0;
            if (is_model) return 0;
            for (; i < n; i++) {
                char ch = p[i];
                if (ch == '"') { i = llmcache__acct_skip_str(p, n, i, &vesc) - 1; continue; }
                if (ch == '{' || ch == '[') depth++;
                else if (ch == '}' || ch == ']') { if (depth == 0) break; depth--; }
                else if (ch == ',' && depth == 0) break;
            }
        }
        i = llmcache__acct_ws(p, n, i);
        if (i >= n || p[i] != ',') return 0;
        i++;
    }
}

/* The start of a call: finds its row (the body's "model") and counts the call. */
static llmcache__acct_ref llmcache__acct_begin(llmcache *c, const char *ns, const char *body, size_t len) {
    llmcache__acct_ref ref;
    llmcache__jdoc doc;
    const llmcache__jv *root;
    const char *model = "";
    size_t model_len = 0;
    int found = llmcache__acct_scan_model(body ? body : "", body ? len : 0, &model, &model_len), parsed = 0;
    if (found < 0) {
        model = "";
        model_len = 0;
        parsed = 1;
        if (llmcache__json_parse(body, len, &doc, &root, NULL) == LLMCACHE_OK) {
            const llmcache__jv *v = llmcache__json_get(root, "model");
            if (llmcache__json_type(v) == LLMCACHE__JSTR) { model = v->u.str; model_len = v->n; }
        }
    } else if (!found) {
        model = "";
        model_len = 0;
    }
    ref.price = llmcache__acct_price(c->acct, model, model_len);
    llmcache__handle_lock(c);
    ref.row = llmcache__acct_row_locked(c, ns, model, model_len);
    c->acct->rows[ref.row].n[LLMCACHE__A_CALLS]++;
    llmcache__handle_unlock(c);
    if (parsed) llmcache__json_free(&doc);
    return ref;
}

/* Adds one to counter `what` (LLMCACHE__A_*) of the call's row; caller holds c->mu. */
static void llmcache__acct_inc_locked(llmcache *c, llmcache__acct_ref ref, int what) {
    c->acct->rows[ref.row].n[what]++;
    if (what == LLMCACHE__A_REFRESHES) c->st.refreshes++;
}

static void llmcache__acct_inc(llmcache *c, llmcache__acct_ref ref, int what) {
    llmcache__handle_lock(c);
    llmcache__acct_inc_locked(c, ref, what);
    llmcache__handle_unlock(c);
}

/* The recorded usage of an answer split into classes that do not overlap:
 * tok[0] uncached input, [1] output, [2] cached input read, [3] cache writes. */
static void llmcache__acct_split(const llmcache_meta *m, int64_t cached, int64_t write, uint64_t tok[4]) {
    int64_t in = m->prompt_tokens > 0 ? m->prompt_tokens : 0;
    cached = cached > 0 ? cached : 0;
    write = write > 0 ? write : 0;
    in = cached >= in ? 0 : in - cached;   /* never cached + write: both may be near INT64_MAX */
    in = write >= in ? 0 : in - write;
    tok[0] = (uint64_t)in;
    tok[1] = (uint64_t)(m->completion_tokens > 0 ? m->completion_tokens : 0);
    tok[2] = (uint64_t)cached;
    tok[3] = (uint64_t)write;
}

static uint64_t llmcache__sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* The exact price of tok (see llmcache__acct_split) at price p: whole micro-dollars
 * into *whole, the rest in millionths of a micro-dollar into *frac (< 10^6). */
static void llmcache__acct_cost(const llmcache_price *p, const uint64_t tok[4], uint64_t *whole, uint64_t *frac) {
    uint64_t price[4], part = 0, sum = 0;
    int k;
    price[0] = (uint64_t)p->input; price[1] = (uint64_t)p->output;
    price[2] = (uint64_t)p->cached_input; price[3] = (uint64_t)p->cache_write;
    for (k = 0; k < 4; k++) {
        uint64_t q = tok[k] / LLMCACHE__MILLION, r = tok[k] % LLMCACHE__MILLION;
        sum = llmcache__sat_add(sum, price[k] && q > UINT64_MAX / price[k] ? UINT64_MAX : q * price[k]);
        part += r * price[k];              /* < 4 * 10^6 * 10^12: no overflow */
    }
    *whole = llmcache__sat_add(sum, part / LLMCACHE__MILLION);
    *frac = part % LLMCACHE__MILLION;
}

/* Adds money (whole micro-dollars and a fraction) to a counter and its carried fraction. */
static void llmcache__acct_add_money(uint64_t *counter, uint64_t *carry, uint64_t whole, uint64_t frac) {
    *carry += frac;
    whole = llmcache__sat_add(whole, *carry / LLMCACHE__MILLION);
    *carry %= LLMCACHE__MILLION;
    *counter = llmcache__sat_add(*counter, whole);
}

/* A save: the tokens and money of answer r (and, with_time, its recorded latency and
 * time to first event) in the call's row and in the handle's totals. The handle's
 * time_saved_ms and tokens_saved are the caller's. Caller holds c->mu. */
static void llmcache__acct_saved_locked(llmcache *c, llmcache__acct_ref ref, const llmcache_response *r,
                                        int with_time) {
    llmcache__arow *row = &c->acct->rows[ref.row];
    uint64_t tok[4], whole = 0, frac = 0;
    llmcache__acct_split(&r->meta, r->cached_input_tokens, r->cache_write_tokens, tok);
    row->n[LLMCACHE__A_INPUT] += tok[0];  c->st.input_tokens_saved += tok[0];
    row->n[LLMCACHE__A_OUTPUT] += tok[1]; c->st.output_tokens_saved += tok[1];
    row->n[LLMCACHE__A_CACHED] += tok[2]; c->st.cached_input_tokens_saved += tok[2];
    row->n[LLMCACHE__A_WRITE] += tok[3];  c->st.cache_write_tokens_saved += tok[3];
    if (with_time) {
        uint64_t ttfe = (uint64_t)(r->ttfe_ms > 0 ? r->ttfe_ms : 0);
        row->n[LLMCACHE__A_TIME_MS] += (uint64_t)(r->meta.latency_ms > 0 ? r->meta.latency_ms : 0);
        row->n[LLMCACHE__A_TTFE_MS] += ttfe;
        c->st.ttfe_saved_ms += ttfe;
    }
    if (ref.price < 0) {
        row->n[LLMCACHE__A_UNPRICED]++;
        c->st.unpriced_saves++;
        return;
    }
    llmcache__acct_cost(&c->acct->prices[ref.price], tok, &whole, &frac);
    llmcache__acct_add_money(&row->n[LLMCACHE__A_MONEY], &row->money_frac, whole, frac);
    llmcache__acct_add_money(&c->st.money_saved_microdollars, &c->acct->money_frac, whole, frac);
}

/* For llmcache_open and llmcache_close. */
static int llmcache__acct_open(llmcache *c, const llmcache_config *cfg) {
    int rc;
    if (cfg->acct_max_rows > LLMCACHE__ACCT_ROWS_MAX) return LLMCACHE_EINVAL;
    c->acct = (struct llmcache__acct *)LLMCACHE_MALLOC(sizeof *c->acct);
    if (!c->acct) return LLMCACHE_ENOMEM;
    rc = llmcache__acct_init(c->acct, cfg->acct_max_rows);
    if (rc == LLMCACHE_OK) rc = llmcache__acct_set_prices(c->acct, cfg->prices);
    return rc;
}

static void llmcache__acct_free(llmcache *c) {
    llmcache__acct_release(c->acct);
    LLMCACHE_FREE(c->acct);
    c->acct = NULL;
}

/* ---- snapshots of rows, sorted by namespace then model, the other row last */
typedef struct llmcache__arow_view { const char *ns, *model; const uint64_t *n; int other; } llmcache__arow_view;

static int llmcache__arow_view_cmp(const void *x, const void *y) {
    const llmcache__arow_view *a = (const llmcache__arow_view *)x, *b = (const llmcache__arow_view *)y;
    int d;
    if (a->other != b->other) return a->other - b->other;
    d = strcmp(a->ns, b->ns);
    return d ? d : strcmp(a->model, b->model);
}

/* Views of a's rows (counters copied into block) sorted; the other row only when it
 * counted something. *views is one allocation (free with LLMCACHE_FREE). */
static int llmcache__acct_views(const struct llmcache__acct *a, llmcache__arow_view **views, size_t *n) {
    uint32_t i;
    size_t k = 0;
    llmcache__arow_view *v;
    uint64_t *counters;
    int other_used = 0;
    for (i = 0; i < LLMCACHE__A_N; i++) if (a->rows[0].n[i]) other_used = 1;
    v = (llmcache__arow_view *)LLMCACHE_MALLOC(a->n_rows * (sizeof *v + sizeof a->rows[0].n));
    *views = v;
    *n = 0;
    if (!v) return LLMCACHE_ENOMEM;
    counters = (uint64_t *)(void *)(v + a->n_rows);
    for (i = other_used ? 0 : 1; i < a->n_rows; i++, k++) {
        memcpy(counters + k * LLMCACHE__A_N, a->rows[i].n, sizeof a->rows[i].n);
        v[k].n = counters + k * LLMCACHE__A_N;
        v[k].other = i == 0;
        v[k].ns = i ? a->rows[i].name : "(other)";
        v[k].model = i ? a->rows[i].name + a->rows[i].ns_len + 1 : "(other)";
    }
    qsort(v, k, sizeof *v, llmcache__arow_view_cmp);
    *n = k;
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_acct_rows(llmcache *c, llmcache_acct_row **rows, size_t *n) {
    llmcache__arow_view *v = NULL;
    llmcache_acct_row *out;
    size_t k, count = 0, names = 0;
    char *s;
    int rc;
    if (rows) *rows = NULL;
    if (n) *n = 0;
    if (!c || !rows || !n) return LLMCACHE_EINVAL;
    llmcache__handle_lock(c);
    rc = llmcache__acct_views(c->acct, &v, &count);   /* names stay valid: rows are never removed */
    llmcache__handle_unlock(c);
    if (rc != LLMCACHE_OK) return rc;
    for (k = 0; k < count; k++) names += strlen(v[k].ns) + strlen(v[k].model) + 2;
    out = (llmcache_acct_row *)LLMCACHE_MALLOC(count * sizeof *out + names + 1);
    if (!out) { LLMCACHE_FREE(v); return LLMCACHE_ENOMEM; }
    s = (char *)(out + count);
    for (k = 0; k < count; k++) {
        llmcache_acct_row *r = &out[k];
        const uint64_t *x = v[k].n;
        size_t l;
        memset(r, 0, sizeof *r);
        l = strlen(v[k].ns) + 1; memcpy(s, v[k].ns, l); r->ns = s; s += l;
        l = strlen(v[k].model) + 1; memcpy(s, v[k].model, l); r->model = s; s += l;
        r->other = v[k].other;
        r->calls = x[LLMCACHE__A_CALLS]; r->hits = x[LLMCACHE__A_HITS]; r->misses = x[LLMCACHE__A_MISSES];
        r->refreshes = x[LLMCACHE__A_REFRESHES]; r->stores = x[LLMCACHE__A_STORES];
        r->errors = x[LLMCACHE__A_ERRORS]; r->shared = x[LLMCACHE__A_SHARED];
        r->replay_misses = x[LLMCACHE__A_REPLAY_MISSES]; r->time_saved_ms = x[LLMCACHE__A_TIME_MS];
        r->ttfe_saved_ms = x[LLMCACHE__A_TTFE_MS]; r->input_tokens_saved = x[LLMCACHE__A_INPUT];
        r->output_tokens_saved = x[LLMCACHE__A_OUTPUT]; r->cached_input_tokens_saved = x[LLMCACHE__A_CACHED];
        r->cache_write_tokens_saved = x[LLMCACHE__A_WRITE]; r->money_saved_microdollars = x[LLMCACHE__A_MONEY];
        r->unpriced = x[LLMCACHE__A_UNPRICED];
    }
    LLMCACHE_FREE(v);
    *rows = out;
    *n = count;
    return LLMCACHE_OK;
}

/* >>single-flight (concurrent identical calls of one handle share one answer) --------
 * A call that misses becomes the leader of a "flight" for its key; identical calls
 * that come meanwhile wait for it and share its result. Needs threads: without them
 * (LLMCACHE_NO_THREADS) the no-op side below makes every call go alone. */

/* A call's result, shared between a flight's leader and its followers. */
typedef struct llmcache__result {
    int rc;
    char *env; size_t env_len;     /* owned envelope; env[env_len] is a NUL; NULL = none */
    llmcache_meta meta;
    int from_cache, stored;
    int64_t created_ms, expires_ms;
    llmcache__acct_ref acct;       /* the call's accounting row (>>accounting) */
    int retry_after; int64_t retry_ms;  /* the transport's Retry-After (llmcache_sink) */
    size_t live_events;                 /* SSE events already told to on_chunk */
    size_t flight_events;               /* SSE events handed to the flight's followers */
} llmcache__result;

#if !defined(LLMCACHE_NO_THREADS)
#define LLMCACHE__FLIGHT_BUCKETS 64u

/* One SSE event of a flight's stream, as the leader received it: immutable once
 * linked into the flight, freed with the flight. data follows the struct. */
typedef struct llmcache__flight_ev {
    struct llmcache__flight_ev *next;
    llmcache_chunk ch;
} llmcache__flight_ev;

typedef struct llmcache__flight {
    struct llmcache__flight *next;
    llmcache_key key;
    unsigned waiters;            /* followers that still have to read res */
    int fetching;                /* the leader is calling the transport (its answer is fresh) */
    int done;
    int ev_lost;                 /* an event could not be kept: followers get the rest at the end */
    llmcache__flight_ev *evs, **ev_tail; /* the stream's events so far, for followers, live */
    llmcache__result res;        /* a copy for the followers, set before done */
} llmcache__flight;

struct llmcache__callstate {
    llmcache__mutex mu;          /* guards the table and the flights; never held with c->mu */
    llmcache__cond cv;           /* broadcast when a flight is done */
    llmcache__flight *buckets[LLMCACHE__FLIGHT_BUCKETS];
};

/* Frees the events a flight kept. */
static void llmcache__flight_drop_events(llmcache__flight *f) {
    while (f->evs) {
        llmcache__flight_ev *e = f->evs;
        f->evs = e->next;
        LLMCACHE_FREE(e);
    }
    f->ev_tail = &f->evs;
    f->ev_lost = 0;
}

/* Frees a flight that nobody reads any more, its events and its result copy. */
static void llmcache__flight_free(llmcache__flight *f) {
    llmcache__flight_drop_events(f);
    LLMCACHE_FREE(f->res.env);
    LLMCACHE_FREE(f);
}

static void llmcache__callstate_free(struct llmcache__callstate *s) {
    size_t i;
    if (!s) return;
    for (i = 0; i < LLMCACHE__FLIGHT_BUCKETS; i++) {
        while (s->buckets[i]) {
            llmcache__flight *f = s->buckets[i];
            s->buckets[i] = f->next;
            llmcache__flight_free(f);
        }
    }
    llmcache__cond_destroy(&s->cv);
    llmcache__mutex_destroy(&s->mu);
    LLMCACHE_FREE(s);
}

/* The handle's call state, created on first use; NULL when out of memory. */
static struct llmcache__callstate *llmcache__callstate_get(llmcache *c) {
    struct llmcache__callstate *s;
    llmcache__handle_lock(c);
    s = c->calls;
    if (!s) {
        s = (struct llmcache__callstate *)LLMCACHE_MALLOC(sizeof *s);
        if (s) {
            memset(s, 0, sizeof *s);
            if (llmcache__mutex_init(&s->mu) != 0) { LLMCACHE_FREE(s); s = NULL; }
            else if (llmcache__cond_init(&s->cv) != 0) {
                llmcache__mutex_destroy(&s->mu);
                LLMCACHE_FREE(s);
                s = NULL;
            } else c->calls = s;
        }
    }
    llmcache__handle_unlock(c);
    return s;
}

/* Joins the flight of key (*leader = 0), or starts one (*leader = 1). NULL when
 * out of memory, or when a fresh answer is wanted (refresh, max-age) and the
 * flight in progress may still answer from the cache: then the caller goes alone. */
static llmcache__flight *llmcache__flight_join(struct llmcache__callstate *s,
                                                                      const llmcache_key *key, int fresh,
                                                                      int refresh, int *leader) {
    llmcache__flight **head = &s->buckets[key->bytes[0] % LLMCACHE__FLIGHT_BUCKETS], *f;
    llmcache__lock(&s->mu);
    for (f = *head; f; f = f->next)
        if (memcmp(f->key.bytes, key->bytes, 32) == 0) break;
    if (f && fresh && !f->fetching) {
        f = NULL;
    } else if (f) {
        f->waiters++;
        *leader = 0;
    } else {
        f = (llmcache__flight *)LLMCACHE_MALLOC(sizeof *f);
        if (f) {
            memset(f, 0, sizeof *f);
            f->key = *key;
            f->ev_tail = &f->evs;
            f->fetching = refresh;           /* no lookup first: the answer will be fresh */
            f->next = *head;
            *head = f;
            *leader = 1;
        }
    }
    llmcache__unlock(&s->mu);
    return f;
}

/* Leader: from now on its answer comes from the transport. */
static void llmcache__flight_fetching(struct llmcache__callstate *s, llmcache__flight *f) {
    llmcache__lock(&s->mu);
    f->fetching = 1;
    llmcache__unlock(&s->mu);
}

/* Leader: hands one event of its stream to the followers, live (called from the
 * sink, on the transport's thread). The leader never waits for a follower: it
 * holds s->mu only to link a copy of the event; followers read linked events
 * without the lock (they are immutable), so a slow follower callback costs the
 * leader nothing. The copies live until the last follower has read them: at most
 * the stream's bytes, which LLMCACHE_MAX_VALUE bounds like the response itself. */
static void llmcache__flight_event(struct llmcache__callstate *s, llmcache__flight *f, const llmcache_chunk *ch) {
    llmcache__flight_ev *e;
    if (!f || f->ev_lost) return;          /* ev_lost is only written by this thread */
    e = (llmcache__flight_ev *)LLMCACHE_MALLOC(sizeof *e + ch->len + 1);
    llmcache__lock(&s->mu);
    if (!e) f->ev_lost = 1;
    else {
        e->next = NULL;
        e->ch = *ch;
        e->ch.data = (const char *)(e + 1);
        memcpy(e + 1, ch->data, ch->len);
        *f->ev_tail = e;
        f->ev_tail = &e->next;
        if (f->waiters) llmcache__cond_broadcast(&s->cv);
    }
    llmcache__unlock(&s->mu);
}

/* Leader, before trying the transport again: forgets the events of the failed try,
 * unless a follower has joined (it may have seen them): then 0, do not try again. */
static int llmcache__flight_rewind(struct llmcache__callstate *s, llmcache__flight *f) {
    int alone;
    if (!f) return 1;
    llmcache__lock(&s->mu);
    alone = f->waiters == 0;
    if (alone) llmcache__flight_drop_events(f);
    llmcache__unlock(&s->mu);
    return alone;
}

/* Leader: takes the flight out of the table and hands a copy of res to its followers. */
static void llmcache__flight_finish(struct llmcache__callstate *s, llmcache__flight *f,
                                                           const llmcache__result *res) {
    llmcache__flight **pp = &s->buckets[f->key.bytes[0] % LLMCACHE__FLIGHT_BUCKETS];
    unsigned waiters;
    llmcache__lock(&s->mu);
    while (*pp != f) pp = &(*pp)->next;
    *pp = f->next;                           /* no follower can join from now on */
    waiters = f->waiters;
    llmcache__unlock(&s->mu);
    if (!waiters) { llmcache__flight_free(f); return; }
    f->res = *res;                           /* followers read it only after done */
    f->res.stored = 0;
    if (res->env) {
        f->res.env = llmcache__memdup_nul(res->env, res->env_len);
        if (!f->res.env) f->res.rc = LLMCACHE_ENOMEM;
    }
    llmcache__lock(&s->mu);
    f->done = 1;
    llmcache__cond_broadcast(&s->cv);
    llmcache__unlock(&s->mu);
}

/* Follower: waits for the leader and takes a copy of its result; meanwhile passes
 * each event of the leader's stream to o->on_chunk as it arrives (those that came
 * before it joined first), on this thread and without the lock. *live gets how
 * many events it passed on. */
static void llmcache__flight_wait(struct llmcache__callstate *s, llmcache__flight *f,
                                  const llmcache_call_options *o, llmcache__result *res, size_t *live) {
    const llmcache__flight_ev *cur = NULL, *next;
    int last;
    *live = 0;
    llmcache__lock(&s->mu);
    for (;;) {
        next = cur ? cur->next : f->evs;
        if (next && o->on_chunk) {
            llmcache__unlock(&s->mu);
            o->on_chunk(o->chunk_ctx, &next->ch);
            ++*live;
            cur = next;
            llmcache__lock(&s->mu);
        } else if (f->done) {
            break;                           /* every event is linked before done */
        } else {
            llmcache__cond_wait(&s->cv, &s->mu);
        }
    }
    llmcache__unlock(&s->mu);
    *res = f->res;                           /* immutable once done */
    res->env = NULL;
    if (f->res.env) {
        res->env = llmcache__memdup_nul(f->res.env, f->res.env_len);
        if (!res->env) res->rc = LLMCACHE_ENOMEM;
    }
    llmcache__lock(&s->mu);
    last = --f->waiters == 0;
    llmcache__unlock(&s->mu);
    if (last) llmcache__flight_free(f);
}
#else   /* no threads: no flights (llmcache__callstate_get says so) */
typedef struct llmcache__flight llmcache__flight;
static void llmcache__callstate_free(struct llmcache__callstate *s) { (void)s; }
static struct llmcache__callstate *llmcache__callstate_get(llmcache *c) { (void)c; return NULL; }
static llmcache__flight *llmcache__flight_join(struct llmcache__callstate *s, const llmcache_key *key, int fresh,
                                               int refresh, int *leader) {
    (void)s; (void)key; (void)fresh; (void)refresh; (void)leader;
    return NULL;
}
static void llmcache__flight_fetching(struct llmcache__callstate *s, llmcache__flight *f) { (void)s; (void)f; }
static void llmcache__flight_finish(struct llmcache__callstate *s, llmcache__flight *f, const llmcache__result *res) {
    (void)s; (void)f; (void)res;
}
static void llmcache__flight_event(struct llmcache__callstate *s, llmcache__flight *f, const llmcache_chunk *ch) {
    (void)s; (void)f; (void)ch;
}
static int llmcache__flight_rewind(struct llmcache__callstate *s, llmcache__flight *f) {
    (void)s; (void)f;
    return 1;
}
static void llmcache__flight_wait(struct llmcache__callstate *s, llmcache__flight *f,
                                  const llmcache_call_options *o, llmcache__result *res, size_t *live) {
    (void)s; (void)f; (void)o; (void)res;
    *live = 0;
}
#endif

/* >>impl cache (open, close, get, put, del, stats, foreach, verify, repair) ------------ */
LLMCACHE_API void llmcache_close(llmcache *c) {
    if (!c) return;
    llmcache__callstate_free(c->calls);
    llmcache__redis_free(c->redis);
    llmcache__acct_free(c);
    if (c->path) llmcache__log_close(c);
    llmcache__free_values(c);
    llmcache__ents_free(c);
    LLMCACHE_FREE(c->slots);
    llmcache__f_close(c->index_fd);
    LLMCACHE_FREE(c->ns);
    LLMCACHE_FREE(c->key_ignore);
    LLMCACHE_FREE(c->path);
    LLMCACHE_FREE(c->shm_path);
    LLMCACHE_FREE(c->index_path);
    llmcache__mutex_destroy(&c->mu);
    LLMCACHE_FREE(c);
}

/* A NULL-terminated copy of the checked pointer list (cfg.key_ignore) in one block
 * into *out (NULL for an empty list). LLMCACHE_EINVAL for a malformed pointer. */
static int llmcache__pointers_copy(const char *const *list, char ***out) {
    size_t n = 0, bytes = 0, i;
    char **v, *at;
    *out = NULL;
    for (; list && list[n]; n++) {
        if (!llmcache__pointer_ok(list[n])) return LLMCACHE_EINVAL;
        bytes += strlen(list[n]) + 1;
    }
    if (n == 0) return LLMCACHE_OK;
    v = (char **)LLMCACHE_MALLOC((n + 1) * sizeof *v + bytes);
    if (!v) return LLMCACHE_ENOMEM;
    at = (char *)(v + n + 1);
    for (i = 0; i < n; i++) {
        size_t len = strlen(list[i]) + 1;
        memcpy(at, list[i], len);
        v[i] = at;
        at += len;
    }
    v[n] = NULL;
    *out = v;
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_open(llmcache **out, const llmcache_config *cfg) {
    llmcache_config zero;
    llmcache *c;
    int rc = LLMCACHE_OK;
    if (!out) return LLMCACHE_EINVAL;
    *out = NULL;
    if (!cfg) { memset(&zero, 0, sizeof zero); cfg = &zero; }
    if (cfg->fsync < 0 || cfg->fsync > LLMCACHE_FSYNC_NEVER || cfg->ttl_ms < LLMCACHE_TTL_NEVER) return LLMCACHE_EINVAL;
    if (cfg->max_entries > 0x7ffffffeu || (cfg->path && !cfg->path[0]) || cfg->file_mode > 0777u ||
        (cfg->read_only && !cfg->path) || cfg->mode < LLMCACHE_MODE_NORMAL || cfg->mode > LLMCACHE_MODE_OFF)
        return LLMCACHE_EINVAL;
    if (cfg->path && !LLMCACHE__HAVE_FILES) return LLMCACHE_EUNSUPPORTED;
    if (cfg->redis && !LLMCACHE__HAVE_REDIS) return LLMCACHE_EUNSUPPORTED;
    c = (llmcache *)LLMCACHE_MALLOC(sizeof *c);
    if (!c) return LLMCACHE_ENOMEM;
    memset(c, 0, sizeof *c);
    c->max_entries = LLMCACHE__DEF(cfg->max_entries, LLMCACHE_DEFAULT_MAX_ENTRIES);
    c->max_bytes = LLMCACHE__DEF(cfg->max_bytes, LLMCACHE_DEFAULT_MAX_BYTES);
    c->ttl_ms = cfg->ttl_ms;
    c->fsync_mode = cfg->fsync;
    c->file_mode = LLMCACHE__DEF(cfg->file_mode, LLMCACHE__FILE_MODE);
    c->read_only = cfg->read_only != 0;
    c->clock = cfg->clock;
    c->clock_ctx = cfg->clock_ctx;
    c->on_progress = cfg->on_progress;
    c->progress_ctx = cfg->progress_ctx;
    c->on_event = cfg->on_event;
    c->event_ctx = cfg->event_ctx;
    if (cfg->transform) {
        if (cfg->transform->id < 1 || cfg->transform->id > 255 || !cfg->transform->encode ||
            !cfg->transform->decode) {
            LLMCACHE_FREE(c);
            return LLMCACHE_EINVAL;
        }
        c->xform = *cfg->transform;
    }
    c->free_head = c->val_head = c->val_tail = c->lru_head = c->lru_tail = LLMCACHE__NIL;
    c->fd = c->shm_fd = c->index_fd = LLMCACHE__NOFD;
    c->seed = llmcache__handle_seed(c);
    c->mode = cfg->mode;
    c->omit_request = cfg->omit_request != 0;
    rc = llmcache__pointers_copy(cfg->key_ignore, &c->key_ignore);
    if (rc != LLMCACHE_OK) { LLMCACHE_FREE(c); return rc; }
    c->ns = LLMCACHE__STRDUP(cfg->ns ? cfg->ns : "");
    if (!c->ns || llmcache__mutex_init(&c->mu) != 0) {
        LLMCACHE_FREE(c->ns);
        LLMCACHE_FREE(c->key_ignore);
        LLMCACHE_FREE(c);
        return LLMCACHE_ENOMEM;
    }
    rc = llmcache__acct_open(c, cfg);
    if (rc == LLMCACHE_OK && cfg->path) rc = llmcache__log_open(c, cfg->path);
    if (rc == LLMCACHE_OK && cfg->redis) rc = llmcache__redis_open(c, cfg->redis);
    if (rc != LLMCACHE_OK) { llmcache_close(c); return rc; }
    *out = c;
    return LLMCACHE_OK;
}

/* The lookup of llmcache_get, which counts its outcome itself (out zeroed by the
 * caller): memory and the log, then Redis; the caller holds c->mu, which a local
 * miss that asks Redis drops meanwhile. */
static int llmcache__get_locked(llmcache *c, const llmcache_key *key, llmcache_value *out) {
    int rc = llmcache__get_local_locked(c, key, out);
    if (rc == LLMCACHE_MISS) rc = llmcache__redis_get(c, key, out);
    return rc;
}

LLMCACHE_API int llmcache_get(llmcache *c, const llmcache_key *key, llmcache_value *out) {
    uint64_t unknown, failed;
    int rc;
    if (out) memset(out, 0, sizeof *out);
    if (!c || !key || !out) return LLMCACHE_EINVAL;
    llmcache__handle_lock(c);
    unknown = c->st.transform_unknown;
    failed = c->st.transform_failed;
    rc = llmcache__get_locked(c, key, out);
    if (rc == LLMCACHE_OK) c->st.hits++;
    else if (rc == LLMCACHE_MISS) c->st.misses++;
    unknown = c->st.transform_unknown - unknown;   /* a value of the log's or Redis's */
    failed = c->st.transform_failed - failed;
    llmcache__handle_unlock(c);
    if (unknown || failed) {
        int why = unknown ? LLMCACHE_ETRANSFORM : LLMCACHE_ECORRUPT;
        llmcache__emit(c, LLMCACHE_EVENT_ERROR, key, why, llmcache__xform_why(why));
    }
    return rc;
}

/* Shows a value block (llmcache__blobhdr, [meta], bytes, NUL) to a get_with callback. */
static int llmcache__blob_show(const unsigned char *blob, int (*fn)(void *ctx, const llmcache_entry_info *info),
                               void *ctx) {
    llmcache__blobhdr h;
    llmcache_entry_info info;
    size_t meta_size;
    memcpy(&h, blob, sizeof h);
    meta_size = h.flags & LLMCACHE__E_META ? sizeof(llmcache_meta) : 0;
    memset(&info, 0, sizeof info);
    info.key = h.key;
    info.len = h.len;
    info.created_ms = h.created_ms;
    info.expires_ms = h.expires_ms;
    if (meta_size) memcpy(&info.meta, blob + LLMCACHE__BLOB_HDR, sizeof info.meta);
    info.data = (const char *)blob + LLMCACHE__BLOB_HDR + meta_size;
    return fn(ctx, &info);
}

/* llmcache_get_with under c->mu, counting nothing: the local tiers pinned, else
 * Redis's copy (shown, then freed). *hit: fn was called. */
static int llmcache__view_locked(llmcache *c, const llmcache_key *key,
                                 int (*fn)(void *ctx, const llmcache_entry_info *info), void *ctx, int *hit) {
    unsigned char *blob;
    int owned, rc = llmcache__pin_locked(c, key, &blob, &owned);
    *hit = 0;
    if (rc == LLMCACHE_MISS) {
        llmcache_value v;
        memset(&v, 0, sizeof v);
        rc = llmcache__redis_get(c, key, &v);
        if (rc == LLMCACHE_OK) {
            llmcache_entry_info info;
            memset(&info, 0, sizeof info);
            info.key = *key;
            info.len = v.len;
            info.created_ms = v.created_ms;
            info.expires_ms = v.expires_ms;
            info.meta = v.meta;
            info.data = v.data;
            *hit = 1;
            rc = fn(ctx, &info);
            llmcache_value_free(&v);
        }
        return rc;
    }
    if (rc != LLMCACHE_OK) return rc;
    *hit = 1;
    rc = llmcache__blob_show(blob, fn, ctx);
    if (owned) LLMCACHE_FREE(blob);
    return rc;
}

LLMCACHE_API int llmcache_get_with(llmcache *c, const llmcache_key *key,
                                   int (*fn)(void *ctx, const llmcache_entry_info *info), void *ctx) {
    int rc, hit;
    if (!c || !key || !fn) return LLMCACHE_EINVAL;
    llmcache__handle_lock(c);
    rc = llmcache__view_locked(c, key, fn, ctx, &hit);
    if (hit) c->st.hits++;
    else if (rc == LLMCACHE_MISS) c->st.misses++;
    llmcache__handle_unlock(c);
    return hit && rc == 0 ? LLMCACHE_OK : rc;
}

/* llmcache_put_at with the clock already read (puts read it once). */
static int llmcache__put_now(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                             int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta, int64_t now) {
    int rc;
    if (!key || (!data && len) || expires_ms < 0) return LLMCACHE_EINVAL;
    if (len > LLMCACHE_MAX_VALUE) return LLMCACHE_ETOOBIG;
    if (c->read_only) return LLMCACHE_EREADONLY;
    llmcache__handle_lock(c);
    rc = llmcache__refresh(c);
    if (rc == LLMCACHE_OK) {
        llmcache__sweep_some(c, now, 4);
        if (expires_ms && now >= expires_ms) {   /* already expired: drop any older value */
            uint32_t i = llmcache__find(c, key);
            llmcache__handle_unlock(c);
            if (i != LLMCACHE__NIL) llmcache_del(c, key);
            return LLMCACHE_OK;
        }
        rc = llmcache__put_locked(c, key, data, len, created_ms, expires_ms, meta);
    }
    if (rc == LLMCACHE_OK) c->st.puts++;
    llmcache__handle_unlock(c);
    rc = llmcache__redis_put(c, key, data, len, created_ms, expires_ms, meta, rc);   /* outside c->mu */
    return rc;
}

LLMCACHE_API int llmcache_put_at(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                 int64_t created_ms, int64_t expires_ms, const llmcache_meta *meta) {
    if (!c) return LLMCACHE_EINVAL;
    return llmcache__put_now(c, key, data, len, created_ms, expires_ms, meta, llmcache__now(c));
}

LLMCACHE_API int llmcache_put_ex(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                                 int64_t ttl_ms, const llmcache_meta *meta) {
    int64_t now;
    if (!c) return LLMCACHE_EINVAL;
    now = llmcache__now(c);
    return llmcache__put_now(c, key, data, len, now, llmcache__expiry(c, now, ttl_ms), meta, now);
}

LLMCACHE_API int llmcache_put(llmcache *c, const llmcache_key *key, const void *data, size_t len,
                              int64_t ttl_ms) {
    return llmcache_put_ex(c, key, data, len, ttl_ms, NULL);
}

/* llmcache_del with the reason its delete record carries (user or purge). */
static int llmcache__del_why(llmcache *c, const llmcache_key *key, unsigned reason) {
    int rc;
    if (!c || !key) return LLMCACHE_EINVAL;
    if (c->read_only) return LLMCACHE_EREADONLY;
    llmcache__handle_lock(c);
    rc = llmcache__refresh(c);
    if (rc == LLMCACHE_OK) rc = llmcache__delete_locked(c, key, reason);
    if (rc == LLMCACHE_OK) c->st.deletes++;
    llmcache__handle_unlock(c);
    rc = llmcache__redis_del(c, key, rc);
    return rc;
}

LLMCACHE_API int llmcache_del(llmcache *c, const llmcache_key *key) {
    return llmcache__del_why(c, key, LLMCACHE__WHY_USER);
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
    llmcache__handle_lock(c);
    llmcache__refresh(c);
    *out = c->st;
    out->entries = c->count;
    out->bytes = c->bytes;
    out->max_entries = c->max_entries;
    out->max_bytes = c->max_bytes;
    out->file_bytes = c->path ? c->end : 0;
    out->live_bytes = c->path ? c->live_bytes : 0;
    out->dead_bytes = c->path ? c->end - LLMCACHE__HDR_SIZE - c->live_bytes : 0;
    llmcache__redis_stats(c, out);
    llmcache__handle_unlock(c);
}

LLMCACHE_API int llmcache_sweep(llmcache *c) {
    int rc;
    if (!c) return LLMCACHE_EINVAL;
    llmcache__handle_lock(c);
    rc = llmcache__refresh(c);
    if (rc == LLMCACHE_OK) llmcache__sweep_some(c, llmcache__now(c), c->ents_top);
    llmcache__handle_unlock(c);
    return rc;
}

static int llmcache__log_sync_all(llmcache *c) { return llmcache__log_sync_to(c, c->end); }

/* Runs fn on a log-backed cache under both locks; OK without a path. */
static int llmcache__with_log(llmcache *c, int (*fn)(llmcache *c)) {
    int rc;
    if (!c->path) return LLMCACHE_OK;
    llmcache__handle_lock(c);
    rc = llmcache__log_lock(c);
    if (rc == LLMCACHE_OK) {
        rc = fn(c);
        llmcache__log_unlock(c);
    }
    llmcache__handle_unlock(c);
    return rc;
}

LLMCACHE_API int llmcache_compact(llmcache *c) {
    if (!c) return LLMCACHE_EINVAL;
    if (c->read_only) return LLMCACHE_EREADONLY;
    return llmcache__with_log(c, llmcache__log_compact_writer);
}

LLMCACHE_API int llmcache_sync(llmcache *c) {
    if (!c) return LLMCACHE_EINVAL;
    if (c->read_only) return LLMCACHE_OK;   /* nothing of this handle's to make durable */
    return llmcache__with_log(c, llmcache__log_sync_all);
}

LLMCACHE_API int llmcache_foreach(llmcache *c, int with_values,
                                  int (*fn)(void *ctx, const llmcache_entry_info *info), void *ctx) {
    uint32_t i;
    int rc, stop = 0, xform_rc = 0;
    int64_t now;
    if (!c || !fn) return LLMCACHE_EINVAL;
    llmcache__handle_lock(c);
    rc = llmcache__refresh(c);
    now = llmcache__now(c);
    for (i = 0; rc == LLMCACHE_OK && !stop && i < c->ents_top; i++) {
        llmcache__entry *e = llmcache__ent(c, i);
        llmcache_entry_info info;
        llmcache__blobhdr d;
        unsigned char *blob = NULL;
        uint64_t off;
        if (!(e->flags & LLMCACHE__E_USED) || llmcache__expired(e, now) || !llmcache__ent_desc(c, e, &d)) continue;
        off = llmcache__ent_off(e);
        memset(&info, 0, sizeof info);
        info.key = d.key;
        info.len = d.len;
        info.created_ms = d.created_ms;
        info.expires_ms = e->expires_ms;
        if (c->path && off + LLMCACHE__REC_HDR <= c->end) info.seq = llmcache__ld64(c->map + off + 16);
        if (!(e->flags & LLMCACHE__E_MEM) && c->path && ((e->flags & LLMCACHE__E_META) || with_values)) {
            int r2 = llmcache__log_read(c, i, &blob);
            if (r2 == LLMCACHE_MISS) continue;   /* damaged: dropped */
            if (r2 == LLMCACHE_ETOOBIG && !with_values) r2 = LLMCACHE_OK;   /* listed without its meta */
            if (r2 == LLMCACHE_ETRANSFORM || r2 == LLMCACHE_ECORRUPT) {   /* its transform's decode */
                if (!with_values) {   /* listed; the meta is read from the record as it is */
                    if (e->flags & LLMCACHE__E_META) llmcache__meta_decode(c->map + off + LLMCACHE__REC_HDR, &info.meta);
                    stop = fn(ctx, &info);
                } else if (!xform_rc) xform_rc = r2;   /* skipped (counted); said at the end */
                continue;
            }
            if (r2 != LLMCACHE_OK) { rc = r2; break; }
        }
        {
            const unsigned char *b = e->flags & LLMCACHE__E_MEM ? e->at.blob : blob;
            uint32_t bf = 0;   /* the block's own flags: the layout is the record's, whatever a snapshot said */
            size_t ms;
            if (b) memcpy(&bf, b + offsetof(llmcache__blobhdr, flags), sizeof bf);
            ms = bf & LLMCACHE__E_META ? sizeof(llmcache_meta) : 0;
            if (b && ms) memcpy(&info.meta, b + LLMCACHE__BLOB_HDR, sizeof info.meta);
            if (b && with_values) info.data = (const char *)b + LLMCACHE__BLOB_HDR + ms;
        }
        stop = fn(ctx, &info);
        LLMCACHE_FREE(blob);
    }
    llmcache__handle_unlock(c);
    return rc != LLMCACHE_OK ? rc : stop ? stop : xform_rc;
}

/* Reads a whole log read-only for verify and repair. */
typedef struct llmcache__scan {
    llmcache_verify_report *rep;
    const llmcache_verify_options *opts;
    llmcache__progress progress;  /* bytes of the file walked */
    llmcache *index;              /* a memory-only table to count live keys */
    llmcache__buf *copy;          /* repair: intact records go here */
} llmcache__scan;

static void llmcache__scan_record(void *ctx, uint64_t off, const llmcache__record *r) {
    llmcache__scan *s = (llmcache__scan *)ctx;   /* s->index maps the log (its entries' keys) */
    int created;
    s->rep->records++;
    if (r->seq > s->rep->last_seq) s->rep->last_seq = r->seq;
    if (r->type == LLMCACHE__R_PUT) {
        uint32_t i = llmcache__upsert(s->index, &r->key, &created);
        s->rep->puts++;
        if (i != LLMCACHE__NIL) llmcache__ent(s->index, i)->at.off = off;   /* its key: in the record */
    } else {
        uint32_t i = llmcache__find(s->index, &r->key);
        s->rep->deletes++;
        if (i != LLMCACHE__NIL) llmcache__remove(s->index, i);
    }
    if (s->copy) llmcache__buf_put(s->copy, (const unsigned char *)r->value - LLMCACHE__REC_HDR - r->meta_len,
                                   (size_t)llmcache__pad8(r->len));
    llmcache__progress_tell(&s->progress, off + llmcache__pad8(r->len));
}

/* A tail of zeros is preallocated space: tail (counted by scan_file), not damage. */
static void llmcache__scan_damage(void *ctx, uint64_t off, uint64_t len, int zero_tail) {
    llmcache__scan *s = (llmcache__scan *)ctx;
    llmcache__progress_tell(&s->progress, off + len);
    if (zero_tail) return;
    s->rep->damaged_regions++;
    s->rep->damaged_bytes += len;
    if (s->opts->on_damage)
        s->opts->on_damage(s->opts->ctx, off, len, "not an intact record (bad magic, length or checksum)");
}

/* Fills rep (file_id: the header's, when it is intact); LLMCACHE_OK (clean),
 * LLMCACHE_ECORRUPT (damage found, rep->header_damaged among it), or the reason the
 * file cannot be read as a log. The progress callback is left for the caller to end. */
static int llmcache__scan_file(const char *path, llmcache_verify_report *rep, const llmcache_verify_options *opts,
                               llmcache__buf *copy, uint64_t *file_id) {
    llmcache__fd fd;
    unsigned char hdr[LLMCACHE__HDR_SIZE], *m = NULL;
    llmcache__scan s;
    llmcache__walker w;
    llmcache_config cfg;
    uint64_t size = 0;
    size_t map_len;
    int hdr_rc = LLMCACHE_OK, rc = llmcache__f_open(path, LLMCACHE__F_RDONLY, 0, &fd);
    memset(rep, 0, sizeof *rep);
    if (rc == LLMCACHE_OK && !llmcache__f_regular(fd)) { llmcache__f_close(fd); rc = LLMCACHE_ENOTFILE; }
    if (rc != LLMCACHE_OK) return rc;
    rc = llmcache__f_size(fd, &size);
    rep->file_bytes = size;
    if (rc == LLMCACHE_OK && size < LLMCACHE__HDR_SIZE) rc = LLMCACHE_ENOTCACHE;
    if (rc == LLMCACHE_OK) rc = llmcache__f_pread(fd, hdr, sizeof hdr, 0);
    if (rc == LLMCACHE_OK) hdr_rc = llmcache__hdr_check(hdr, sizeof hdr, file_id);
    if (hdr_rc == LLMCACHE_EVERSION) rc = hdr_rc;   /* a newer log, its header intact */
    if (rc == LLMCACHE_OK && size > LLMCACHE__HDR_SIZE) {
        map_len = (size_t)size;
        rc = llmcache__f_map(fd, &map_len, 0, &m);
        size = map_len;   /* Win32: a file that shrank meanwhile maps shorter */
    }
    llmcache__f_close(fd);
    if (rc == LLMCACHE_OK && hdr_rc != LLMCACHE_OK) {   /* the records tell a damaged header from a foreign file */
        if (!m || !llmcache__hdr_damaged_log(m, size)) rc = LLMCACHE_ENOTCACHE;
        else {
            rep->header_damaged = 1;
            rep->damaged_regions++;
            rep->damaged_bytes += LLMCACHE__HDR_SIZE;
            if (opts->on_damage) opts->on_damage(opts->ctx, 0, LLMCACHE__HDR_SIZE, "file header damaged");
        }
    }
    if (rc != LLMCACHE_OK) { llmcache__f_unmap(m, (size_t)size); return rc; }
    memset(&cfg, 0, sizeof cfg);
    cfg.max_entries = 0x7ffffffe;
    cfg.max_bytes = (size_t)-1;
    rc = llmcache_open(&s.index, &cfg);
    if (rc != LLMCACHE_OK) { llmcache__f_unmap(m, (size_t)size); return rc; }
    s.rep = rep; s.opts = opts; s.copy = copy;
    llmcache__progress_start(&s.progress, opts->on_progress, opts->ctx, rep->file_bytes);
    w.on_record = llmcache__scan_record; w.on_damage = llmcache__scan_damage; w.ctx = &s;
    s.index->map = m;   /* lent: the index's entries read their keys from the records */
    s.index->map_len = (size_t)size;
    if (m) rep->tail_bytes = size - llmcache__walk(m, LLMCACHE__HDR_SIZE, size, &w);
    rep->live = s.index->count;
    s.index->map = NULL;
    s.index->map_len = 0;
    llmcache_close(s.index);
    llmcache__f_unmap(m, (size_t)size);
    if (copy && copy->oom) return LLMCACHE_ENOMEM;
    return rep->damaged_regions ? LLMCACHE_ECORRUPT : LLMCACHE_OK;
}

LLMCACHE_API int llmcache_verify(const char *path, llmcache_verify_report *report,
                                 void (*on_damage)(void *ctx, uint64_t offset, uint64_t len, const char *reason),
                                 void *ctx) {
    llmcache_verify_options opts;
    memset(&opts, 0, sizeof opts);
    opts.on_damage = on_damage;
    opts.ctx = ctx;
    return llmcache_verify_ex(path, &opts, report);
}

LLMCACHE_API int llmcache_verify_ex(const char *path, const llmcache_verify_options *opts,
                                    llmcache_verify_report *report) {
    llmcache_verify_report local;
    llmcache_verify_options none;
    llmcache__progress done;
    uint64_t id;
    int rc;
    if (!LLMCACHE__HAVE_FILES) return LLMCACHE_EUNSUPPORTED;
    if (!path) return LLMCACHE_EINVAL;
    if (!opts) { memset(&none, 0, sizeof none); opts = &none; }
    if (!report) report = &local;
    rc = llmcache__scan_file(path, report, opts, NULL, &id);
    llmcache__progress_start(&done, opts->on_progress, opts->ctx, report->file_bytes);
    if (rc == LLMCACHE_OK || rc == LLMCACHE_ECORRUPT) llmcache__progress_end(&done);
    return rc;
}

LLMCACHE_API int llmcache_repair(const char *path, llmcache_verify_report *report) {
    return llmcache_repair_ex(path, NULL, report);
}

LLMCACHE_API int llmcache_repair_ex(const char *path, const llmcache_repair_options *opts,
                                    llmcache_verify_report *report) {
    llmcache_verify_report local;
    llmcache_repair_options none;
    llmcache_verify_options vo;
    llmcache__progress done;
    llmcache__buf b = {NULL, 0, 0, 0};
    unsigned char hdr[LLMCACHE__HDR_SIZE];
    llmcache__fd fd, log_fd, shm_fd = LLMCACHE__NOFD;
    char *tmp = NULL, *real;
    uint64_t id;
    int rc;
    if (!LLMCACHE__HAVE_FILES) return LLMCACHE_EUNSUPPORTED;
    if (!path) return LLMCACHE_EINVAL;
    if (!opts) { memset(&none, 0, sizeof none); opts = &none; }
    if (!report) report = &local;
    memset(report, 0, sizeof *report);
    memset(&vo, 0, sizeof vo);
    vo.on_progress = opts->on_progress;
    vo.ctx = opts->ctx;
    real = llmcache__f_resolve(path);   /* as llmcache_open: a link keeps pointing at the log */
    if (!real) return LLMCACHE_ENOMEM;
    rc = llmcache__f_open(real, LLMCACHE__F_RDONLY | LLMCACHE__F_NOFOLLOW, 0, &log_fd);
    if (rc == LLMCACHE_OK) {
        /* nobody may have the log open, or open it, until the new file is in place */
        rc = llmcache__log_lock_out(real, log_fd, &shm_fd);
        llmcache__hdr_encode(hdr, llmcache__f_random64(), llmcache__system_clock_ms());
        llmcache__buf_put(&b, hdr, sizeof hdr);
        if (rc == LLMCACHE_OK) rc = llmcache__scan_file(real, report, &vo, &b, &id);
        /* clean (a tail of zeros is preallocated space): left as it is; a damaged
           header only with force */
        if (rc == LLMCACHE_ECORRUPT && (!report->header_damaged || opts->force)) {
            rc = llmcache__temp_create(real, LLMCACHE__TEMP_REPAIR, log_fd, &fd, &tmp);
            llmcache__f_close(log_fd);   /* Win32 replaces no file that is open */
            log_fd = LLMCACHE__NOFD;
            if (rc == LLMCACHE_OK) {
                rc = llmcache__f_pwrite(fd, b.p, b.len, 0);
                if (rc == LLMCACHE_OK) rc = llmcache__f_sync(fd);
                llmcache__f_close(fd);
                if (rc == LLMCACHE_OK) rc = llmcache__f_replace(tmp, real);
                if (rc != LLMCACHE_OK) llmcache__f_unlink(tmp);
            }
        }
        llmcache__f_close(shm_fd);   /* lets openers in */
        llmcache__f_close(log_fd);
    }
    llmcache__progress_start(&done, opts->on_progress, opts->ctx, report->file_bytes);
    if (rc == LLMCACHE_OK) llmcache__progress_end(&done);
    LLMCACHE_FREE(tmp);
    LLMCACHE_FREE(real);
    llmcache__buf_free(&b);
    return rc;
}

/* >>impl call-through (llmcache_call, sink, SSE, envelope) ---------------------------
 * A call looks its key up; on a miss it becomes the leader of a "flight" for the key
 * (concurrent identical calls wait for it and share its result), runs the transport
 * into a sink that splits SSE events as they arrive, checks the answer, packs it
 * into an envelope (docs/ENVELOPE.md), stores it, and decodes the envelope into the
 * caller's response: hits, fresh answers and shared ones all come back one way. */

/* ---- envelope (docs/ENVELOPE.md) */
#define LLMCACHE__ENV_HEADER 24u      /* the fixed fields; an older writer's whole header */
#define LLMCACHE__ENV_HEADER_EXT 48u  /* with the extension fields, before the stored request */
#define LLMCACHE__ENV_REQUEST_MAX (0xffffu - LLMCACHE__ENV_HEADER_EXT)  /* H is a u16 */
#define LLMCACHE__ENV_VERSION 1u
#define LLMCACHE__ENV_STREAM 1u
#define LLMCACHE__ENV_MODEL  2u

typedef struct llmcache__env {
    int32_t status;
    unsigned flags;                /* LLMCACHE__ENV_* */
    uint32_t n_chunks;
    const unsigned char *table;    /* n_chunks x (u32 len, u32 at_ms) */
    const char *model; uint32_t model_len;
    const char *body;  uint32_t body_len;
    uint32_t ttfe_ms;              /* header bytes 24..: 0, -1, -1 in a 24-byte header */
    int64_t cached_input_tokens, cache_write_tokens;
    const char *request; uint32_t request_len;  /* the canonical request; NULL = none */
} llmcache__env;

/* The fields of the extended header that the call knows (docs/ENVELOPE.md). */
typedef struct llmcache__env_fields {
    int64_t ttfe_ms;               /* saturated into a u32 */
    int64_t cached_input_tokens, cache_write_tokens;   /* -1 = unknown */
    const char *request; size_t request_len;           /* the canonical request; NULL = not kept */
} llmcache__env_fields;

/* The extended header's fields of a response (to encode it again). */
static void llmcache__env_fields_of(const llmcache_response *r, llmcache__env_fields *x) {
    x->ttfe_ms = r->ttfe_ms;
    x->cached_input_tokens = r->cached_input_tokens;
    x->cache_write_tokens = r->cache_write_tokens;
    x->request = r->request;
    x->request_len = r->request_len;
}

/* Checks p[0..n) and points e into it. Never reads outside p[0..n). */
static int llmcache__env_parse(const unsigned char *p, size_t n, llmcache__env *e) {
    uint64_t hlen, need, sum = 0;
    uint32_t i;
    memset(e, 0, sizeof *e);
    if (!p || n < LLMCACHE__ENV_HEADER || memcmp(p, "llce", 4) != 0) return LLMCACHE_ECORRUPT;
    if (p[4] != LLMCACHE__ENV_VERSION) return p[4] > LLMCACHE__ENV_VERSION ? LLMCACHE_EVERSION : LLMCACHE_ECORRUPT;
    if (p[5] & ~(LLMCACHE__ENV_STREAM | LLMCACHE__ENV_MODEL)) return LLMCACHE_ECORRUPT;
    hlen = (uint64_t)p[6] | (uint64_t)p[7] << 8;
    e->flags = p[5];
    e->status = (int32_t)llmcache__ld32(p + 8);
    e->n_chunks = llmcache__ld32(p + 12);
    e->model_len = llmcache__ld32(p + 16);
    e->body_len = llmcache__ld32(p + 20);
    /* H is 24 (an older writer: no extension) or 48 + request_len */
    if (hlen != LLMCACHE__ENV_HEADER &&
        (hlen < LLMCACHE__ENV_HEADER_EXT || n < LLMCACHE__ENV_HEADER_EXT ||
         llmcache__ld32(p + 28) != hlen - LLMCACHE__ENV_HEADER_EXT))
        return LLMCACHE_ECORRUPT;
    e->cached_input_tokens = e->cache_write_tokens = -1;
    if (hlen >= LLMCACHE__ENV_HEADER_EXT) {
        e->ttfe_ms = llmcache__ld32(p + 24);
        e->cached_input_tokens = (int64_t)llmcache__ld64(p + 32);
        e->cache_write_tokens = (int64_t)llmcache__ld64(p + 40);
    }
    if (!(e->flags & LLMCACHE__ENV_STREAM) && e->n_chunks) return LLMCACHE_ECORRUPT;
    if (!(e->flags & LLMCACHE__ENV_MODEL) && e->model_len) return LLMCACHE_ECORRUPT;
    /* 64-bit sums of 32-bit fields cannot overflow */
    need = hlen + (uint64_t)e->n_chunks * 8u + (e->flags & LLMCACHE__ENV_MODEL ? (uint64_t)e->model_len + 1u : 0u)
         + e->body_len;
    if (need != (uint64_t)n) return LLMCACHE_ECORRUPT;
    e->table = p + (size_t)hlen;
    e->request_len = hlen > LLMCACHE__ENV_HEADER_EXT ? (uint32_t)(hlen - LLMCACHE__ENV_HEADER_EXT) : 0u;
    e->request = e->request_len ? (const char *)p + LLMCACHE__ENV_HEADER_EXT : NULL;
    for (i = 0; i < e->n_chunks; i++) sum += llmcache__ld32(e->table + (size_t)i * 8u);
    if (sum > e->body_len) return LLMCACHE_ECORRUPT;
    e->model = (const char *)e->table + (size_t)e->n_chunks * 8u;
    if (e->flags & LLMCACHE__ENV_MODEL) {
        if (e->model[e->model_len] != '\0') return LLMCACHE_ECORRUPT;
        e->body = e->model + (size_t)e->model_len + 1u;
    } else {
        e->body = e->model;
        e->model = NULL;
    }
    return LLMCACHE_OK;
}

/* Appends the envelope of a response to b. chunks point into body, in order; x may
 * be NULL (the extended header's fields unknown, no request kept); a request longer
 * than LLMCACHE__ENV_REQUEST_MAX is not kept. */
static void llmcache__env_build_ex(llmcache__buf *b, int status, int stream, const llmcache_chunk *chunks,
                                   size_t n_chunks, const char *model, size_t model_len,
                                   const char *body, size_t body_len, const llmcache__env_fields *x) {
    unsigned char h[LLMCACHE__ENV_HEADER_EXT];
    size_t i, hlen, request_len = x && x->request ? x->request_len : 0;
    int64_t ttfe = x ? x->ttfe_ms : 0;
    if (n_chunks > 0xffffffffu || model_len >= 0xffffffffu || body_len > 0xffffffffu) { b->oom = 1; return; }
    if (request_len > LLMCACHE__ENV_REQUEST_MAX) request_len = 0;
    hlen = LLMCACHE__ENV_HEADER_EXT + request_len;
    memcpy(h, "llce", 4);
    h[4] = (unsigned char)LLMCACHE__ENV_VERSION;
    h[5] = (unsigned char)((stream ? LLMCACHE__ENV_STREAM : 0u) | (model ? LLMCACHE__ENV_MODEL : 0u));
    h[6] = (unsigned char)(hlen & 0xffu); h[7] = (unsigned char)(hlen >> 8);
    llmcache__st32(h + 8, (uint32_t)status);
    llmcache__st32(h + 12, (uint32_t)(stream ? n_chunks : 0));
    llmcache__st32(h + 16, (uint32_t)(model ? model_len : 0));
    llmcache__st32(h + 20, (uint32_t)body_len);
    llmcache__st32(h + 24, ttfe < 0 ? 0u : ttfe > 0xffffffffll ? 0xffffffffu : (uint32_t)ttfe);
    llmcache__st32(h + 28, (uint32_t)request_len);
    llmcache__st64(h + 32, (uint64_t)(x && x->cached_input_tokens >= 0 ? x->cached_input_tokens : -1));
    llmcache__st64(h + 40, (uint64_t)(x && x->cache_write_tokens >= 0 ? x->cache_write_tokens : -1));
    llmcache__buf_put(b, h, sizeof h);
    if (request_len) llmcache__buf_put(b, x->request, request_len);
    for (i = 0; stream && i < n_chunks; i++) {
        unsigned char rec[8];
        int64_t at = chunks[i].at_ms;
        llmcache__st32(rec, (uint32_t)chunks[i].len);
        llmcache__st32(rec + 4, at < 0 ? 0u : at > 0xffffffffll ? 0xffffffffu : (uint32_t)at);
        llmcache__buf_put(b, rec, 8);
    }
    if (model) { llmcache__buf_put(b, model, model_len); llmcache__buf_putc(b, '\0'); }
    llmcache__buf_put(b, body, body_len);
    if (llmcache__buf_reserve(b, 0)) b->p[b->len] = '\0';   /* so the body ends with a NUL */
}

/* llmcache__env_build_ex with the extended header's fields unknown. */
static LLMCACHE__MAYBE_UNUSED void llmcache__env_build(llmcache__buf *b, int status, int stream,
                                                       const llmcache_chunk *chunks, size_t n_chunks,
                                                       const char *model, size_t model_len,
                                                       const char *body, size_t body_len) {
    llmcache__env_build_ex(b, status, stream, chunks, n_chunks, model, model_len, body, body_len, NULL);
}

LLMCACHE_API void llmcache_response_free(llmcache_response *r) {
    if (!r) return;
    LLMCACHE_FREE(r->mem_);
    LLMCACHE_FREE(r->chunks);
    memset(r, 0, sizeof *r);
}

/* Makes *out a view of the envelope mem[0..len) (mem[len] must be a NUL) and takes
 * ownership of mem, also on failure. */
static int llmcache__response_adopt(llmcache_response *out, char *mem, size_t len) {
    llmcache__env e;
    size_t i, off = 0;
    int rc = llmcache__env_parse((const unsigned char *)mem, len, &e);
    out->mem_ = mem;
    if (rc != LLMCACHE_OK) return rc;
    if (e.n_chunks) {
        out->chunks = (llmcache_chunk *)LLMCACHE_MALLOC((size_t)e.n_chunks * sizeof *out->chunks);
        if (!out->chunks) return LLMCACHE_ENOMEM;
    }
    out->status = (int)e.status;
    out->body = mem + (e.body - mem);
    out->len = e.body_len;
    if (e.model) { out->model = mem + (e.model - mem); out->model_len = e.model_len; }
    if (e.request) { out->request = e.request; out->request_len = e.request_len; }
    for (i = 0; i < e.n_chunks; i++) {
        out->chunks[i].data = out->body + off;
        out->chunks[i].len = llmcache__ld32(e.table + i * 8u);
        out->chunks[i].at_ms = (int64_t)llmcache__ld32(e.table + i * 8u + 4u);
        off += out->chunks[i].len;
    }
    out->n_chunks = e.n_chunks;
    out->ttfe_ms = (int64_t)e.ttfe_ms;
    out->cached_input_tokens = e.cached_input_tokens < 0 ? -1 : e.cached_input_tokens;
    out->cache_write_tokens = e.cache_write_tokens < 0 ? -1 : e.cache_write_tokens;
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_response_decode(const void *data, size_t len, llmcache_response *out) {
    char *mem;
    int rc;
    if (out) memset(out, 0, sizeof *out);
    if (!out || (!data && len)) return LLMCACHE_EINVAL;
    mem = llmcache__memdup_nul(data, len);
    if (!mem) return LLMCACHE_ENOMEM;
    rc = llmcache__response_adopt(out, mem, len);
    if (rc != LLMCACHE_OK) llmcache_response_free(out);
    return rc;
}

LLMCACHE_API int llmcache_response_encode(const llmcache_response *r, char **out, size_t *out_len) {
    llmcache__buf b = {NULL, 0, 0, 0};
    llmcache__env_fields x;
    size_t i, off = 0;
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!r || !out || (!r->body && r->len) || (!r->chunks && r->n_chunks)) return LLMCACHE_EINVAL;
    for (i = 0; i < r->n_chunks; off += r->chunks[i].len, i++)
        if (r->chunks[i].data != r->body + off || r->chunks[i].len > r->len - off) return LLMCACHE_EINVAL;
    llmcache__env_fields_of(r, &x);
    llmcache__env_build_ex(&b, r->status, r->n_chunks > 0 || (r->meta.flags & LLMCACHE_META_STREAM) != 0,
                           r->chunks, r->n_chunks, r->model, r->model ? r->model_len : 0, r->body ? r->body : "",
                           r->len, &x);
    if (b.oom) { llmcache__buf_free(&b); return LLMCACHE_ENOMEM; }
    *out = b.p;
    if (out_len) *out_len = b.len;
    return LLMCACHE_OK;
}

/* ---- sink: the body buffer, and the SSE event splitter */
typedef struct llmcache__sserec { size_t off, len; int64_t at_ms; } llmcache__sserec;

struct llmcache_sink {
    llmcache__buf buf;
    int err;                     /* the first write error */
    int stream;                  /* split the bytes into SSE events */
    int model;                   /* the output of a parse callback: plain bytes */
    size_t line, ev;             /* start of the line being scanned, of the current event */
    size_t scan;                 /* the line has no end before this offset (avoids rescans) */
    int ev_lines, ev_term, terminated;
    llmcache__sserec *recs; size_t n_recs, cap_recs;
    int64_t t0_us;
    void (*on_chunk)(void *ctx, const llmcache_chunk *chunk);
    void *chunk_ctx;
    int retry_after;             /* LLMCACHE__RETRY_* : what a Retry-After header said */
    int64_t retry_ms;            /* its delay (ms), or the moment (ms since the epoch) */
    struct llmcache__callstate *fcs; llmcache__flight *flight; /* the leader's flight: events go to its followers */
    void (*on_header)(void *ctx, const char *name, const char *value); /* opts.on_header, with chunk_ctx */
};

static int llmcache__line_is(const char *p, size_t n, const char *field, const char *value) {
    size_t fl = strlen(field), vl = strlen(value);
    if (n < fl + 1 || memcmp(p, field, fl) != 0 || p[fl] != ':') return 0;
    p += fl + 1; n -= fl + 1;
    if (n && *p == ' ') { p++; n--; }
    return n == vl && memcmp(p, value, vl) == 0;
}

/* Finds the events completed in buf[line..len) and records (and forwards) each.
 * An event ends with a blank line; lines end with CRLF, LF or CR (RFC: SSE). */
static void llmcache__sse_scan(llmcache_sink *s, int final) {
    const char *p = s->buf.p;
    size_t n = s->buf.len, i = s->line;
    while (i < n && !s->err) {
        size_t j = s->scan > i ? s->scan : i, end;
        while (j < n && p[j] != '\n' && p[j] != '\r') j++;
        s->scan = j;
        if (j == n) break;                                   /* the line is not complete yet */
        if (p[j] == '\r' && j + 1 == n && !final) break;     /* a CR whose LF may follow */
        end = (p[j] == '\r' && j + 1 < n && p[j + 1] == '\n') ? j + 2 : j + 1;
        if (j > i) {
            s->ev_lines++;
            if (llmcache__line_is(p + i, j - i, "data", "[DONE]") ||              /* OpenAI chat */
                llmcache__line_is(p + i, j - i, "event", "message_stop") ||       /* Anthropic */
                llmcache__line_is(p + i, j - i, "event", "response.completed"))   /* OpenAI responses */
                s->ev_term = 1;
        } else if (s->ev_lines) {                            /* a blank line ends the event */
            llmcache__sserec *r;
            if (s->n_recs == s->cap_recs) {
                size_t cap = s->cap_recs ? s->cap_recs * 2 : 32;
                llmcache__sserec *nr = (llmcache__sserec *)LLMCACHE_REALLOC(s->recs, cap * sizeof *nr);
                if (!nr) { s->err = LLMCACHE_ENOMEM; break; }
                s->recs = nr; s->cap_recs = cap;
            }
            r = &s->recs[s->n_recs++];
            r->off = s->ev;
            r->len = end - s->ev;
            r->at_ms = (llmcache__mono_us() - s->t0_us) / 1000;
            if (s->ev_term) s->terminated = 1;
            s->ev = end;
            s->ev_lines = s->ev_term = 0;
            if (s->on_chunk || s->flight) {
                llmcache_chunk ch;
                ch.data = p + r->off; ch.len = r->len; ch.at_ms = r->at_ms;
                if (s->on_chunk) s->on_chunk(s->chunk_ctx, &ch);
                llmcache__flight_event(s->fcs, s->flight, &ch);
            }
        }
        i = end;
    }
    s->line = i;
}

LLMCACHE_API int llmcache_sink_write(llmcache_sink *s, const void *data, size_t len) {
    if (!s || (!data && len)) return LLMCACHE_EINVAL;
    if (s->err) return s->err;
    if (len > LLMCACHE_MAX_VALUE - s->buf.len) { s->err = LLMCACHE_ETOOBIG; return s->err; }
    llmcache__buf_put(&s->buf, data, len);
    if (s->buf.oom) { s->err = LLMCACHE_ENOMEM; return s->err; }
    if (s->stream) llmcache__sse_scan(s, 0);
    return s->err;
}

static int llmcache__ieq(const char *a, const char *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return 0;
    }
    return 1;
}

/* ---- Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date */
enum { LLMCACHE__RETRY_NONE = 0, LLMCACHE__RETRY_DELAY = 1, LLMCACHE__RETRY_AT = 2 };

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12). */
static int64_t llmcache__days_from_civil(int64_t y, int m, int d) {
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads n digits (n > 0) at *p into *v; 0, or -1 when they are not all digits. */
static int llmcache__digits(const char **p, int n, int *v) {
    *v = 0;
    while (n--) {
        if (**p < '0' || **p > '9') return -1;
        *v = *v * 10 + (*(*p)++ - '0');
    }
    return 0;
}

static int llmcache__month(const char **p) {
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int m;
    for (m = 0; m < 12; m++)
        if (strncmp(*p, names + 3 * m, 3) == 0) { *p += 3; return m + 1; }
    return 0;
}

/* An HTTP-date in any of its three forms (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT",
 * RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6 08:49:37 1994") into
 * ms since the epoch; 0, or -1 when s is none of them. */
static int llmcache__http_date(const char *s, int64_t *ms) {
    int day, mon, year = 0, hh, mi, ss, asc = 0;
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) s++;       /* the weekday */
    if (*s == ',') {
        char sep;
        if (*++s != ' ') return -1;
        s++;
        if (llmcache__digits(&s, 2, &day)) return -1;
        sep = *s++;
        if ((sep != ' ' && sep != '-') || !(mon = llmcache__month(&s)) || *s++ != sep) return -1;
        if (sep == ' ' ? llmcache__digits(&s, 4, &year) : llmcache__digits(&s, 2, &year)) return -1;
        if (sep == '-') year += year < 70 ? 2000 : 1900;
        if (*s++ != ' ') return -1;
    } else {
        if (*s++ != ' ' || !(mon = llmcache__month(&s)) || *s++ != ' ') return -1;
        if (*s == ' ') s++;
        if (llmcache__digits(&s, s[1] == ' ' ? 1 : 2, &day) || *s++ != ' ') return -1;
        asc = 1;
    }
    if (llmcache__digits(&s, 2, &hh) || *s++ != ':' || llmcache__digits(&s, 2, &mi) || *s++ != ':' ||
        llmcache__digits(&s, 2, &ss)) return -1;
    if (*s++ != ' ') return -1;
    if (asc ? llmcache__digits(&s, 4, &year) != 0 : strncmp(s, "GMT", 3) != 0) return -1;
    if (!asc) s += 3;
    while (*s == ' ' || *s == '\t') s++;
    if (*s || day < 1 || day > 31 || hh > 23 || mi > 59 || ss > 60) return -1;
    *ms = ((llmcache__days_from_civil(year, mon, day) * 24 + hh) * 60 + mi) * 60000 + (int64_t)ss * 1000;
    return 0;
}

/* A Retry-After value into *kind and *ms (LLMCACHE__RETRY_*); a malformed one is ignored. */
static void llmcache__retry_after(const char *v, int *kind, int64_t *ms) {
    const char *p = v;
    int64_t secs = 0;
    while (*p >= '0' && *p <= '9') {
        if (secs < 100000000) secs = secs * 10 + (*p - '0');
        p++;
    }
    while (*p == ' ' || *p == '\t') p++;
    if (p != v && *p == '\0') { *kind = LLMCACHE__RETRY_DELAY; *ms = secs * 1000; }
    else if (llmcache__http_date(v, ms) == 0) *kind = LLMCACHE__RETRY_AT;
}

LLMCACHE_API int llmcache_sink_header(llmcache_sink *s, const char *name, const char *value) {
    static const char sse[] = "text/event-stream";
    if (!s || !name || !value) return LLMCACHE_EINVAL;
    while (*value == ' ' || *value == '\t') value++;
    if (strlen(name) == 11 && llmcache__ieq(name, "retry-after", 11))
        llmcache__retry_after(value, &s->retry_after, &s->retry_ms);
    if (!s->model && s->buf.len == 0 && strlen(name) == 12 && llmcache__ieq(name, "content-type", 12) &&
        strlen(value) >= sizeof sse - 1 && llmcache__ieq(value, sse, sizeof sse - 1)) s->stream = 1;
    if (s->on_header) s->on_header(s->chunk_ctx, name, value);
    return LLMCACHE_OK;
}

static void llmcache__sink_free(llmcache_sink *s) {
    llmcache__buf_free(&s->buf);
    LLMCACHE_FREE(s->recs);
    s->recs = NULL;
}

/* ---- token usage, read from a response body or from the events of a stream */

/* Usage counters of one JSON document: its "usage" object, or that of its
 * "message" (Anthropic message_start) or "response" (OpenAI responses events).
 * Prompt: prompt_tokens, else input_tokens + cache_creation_input_tokens +
 * cache_read_input_tokens (Anthropic counts those apart); completion:
 * completion_tokens, else output_tokens; provider-cached input (*cached, part of the
 * prompt): prompt_tokens_details.cached_tokens (OpenAI chat),
 * input_tokens_details.cached_tokens (OpenAI responses) or cache_read_input_tokens
 * (Anthropic); cache writes (*write, part of the prompt): cache_creation_input_tokens.
 * Counters the document lacks leave *pt, *ct, *cached and *write as they are (a
 * stream's later events update earlier ones). Returns 0, or -1 when the text is not
 * JSON. */
static int64_t llmcache__count(const llmcache__jv *obj, const char *name, int *found) {
    const llmcache__jv *v = llmcache__json_get(obj, name);
    double d = llmcache__json_num(v);
    if (llmcache__json_type(v) != LLMCACHE__JNUM || d < 0 || d > 9e15) return 0;
    *found = 1;
    return (int64_t)d;
}

static int llmcache__usage(const char *json, size_t len, int64_t *pt, int64_t *ct, int64_t *cached,
                           int64_t *write) {
    llmcache__jdoc doc;
    const llmcache__jv *root, *u;
    int64_t n;
    int found = 0;
    if (llmcache__json_parse(json, len, &doc, &root, NULL) != LLMCACHE_OK) {
        llmcache__json_free(&doc);
        return -1;
    }
    u = llmcache__json_get(root, "usage");
    if (llmcache__json_type(u) != LLMCACHE__JOBJ) u = llmcache__json_get(llmcache__json_get(root, "message"), "usage");
    if (llmcache__json_type(u) != LLMCACHE__JOBJ) u = llmcache__json_get(llmcache__json_get(root, "response"), "usage");
    n = llmcache__count(u, "prompt_tokens", &found);
    if (!found) {
        n = llmcache__count(u, "input_tokens", &found);
        n += llmcache__count(u, "cache_creation_input_tokens", &found);
        n += llmcache__count(u, "cache_read_input_tokens", &found);
    }
    if (found) *pt = n;
    found = 0;
    n = llmcache__count(u, "completion_tokens", &found);
    if (!found) n = llmcache__count(u, "output_tokens", &found);
    if (found) *ct = n;
    found = 0;
    n = llmcache__count(llmcache__json_get(u, "prompt_tokens_details"), "cached_tokens", &found);
    if (!found) n = llmcache__count(llmcache__json_get(u, "input_tokens_details"), "cached_tokens", &found);
    if (!found) n = llmcache__count(u, "cache_read_input_tokens", &found);
    if (found) *cached = n;
    found = 0;
    n = llmcache__count(u, "cache_creation_input_tokens", &found);
    if (found) *write = n;
    llmcache__json_free(&doc);
    return 0;
}

/* The data of an SSE event (its "data:" lines joined by LF) into b. */
static void llmcache__sse_data(const char *p, size_t n, llmcache__buf *b) {
    size_t i = 0, lines = 0;
    b->len = 0;
    while (i < n) {
        size_t j = i, end;
        while (j < n && p[j] != '\n' && p[j] != '\r') j++;
        end = j < n && p[j] == '\r' && j + 1 < n && p[j + 1] == '\n' ? j + 2 : j + 1;
        if (j - i >= 5 && memcmp(p + i, "data:", 5) == 0) {
            size_t k = i + 5;
            if (k < j && p[k] == ' ') k++;
            if (lines++) llmcache__buf_putc(b, '\n');
            llmcache__buf_put(b, p + k, j - k);
        }
        i = end;
    }
}

static int llmcache__contains(const char *p, size_t n, const char *needle) {
    size_t m = strlen(needle), i;
    for (i = 0; i + m <= n; i++)
        if (p[i] == needle[0] && memcmp(p + i, needle, m) == 0) return 1;
    return 0;
}

/* ---- events and stats */
/* A store failure survived by failing open: counted and reported. */
static void llmcache__store_error(llmcache *c, const llmcache_key *key, int rc, const char *msg) {
    llmcache__stat_inc(&c->mu, &c->st.errors);
    llmcache__emit(c, LLMCACHE_EVENT_ERROR, key, rc, msg);
}

static uint64_t llmcache__tokens(const llmcache_meta *m) {
    return (uint64_t)(m->prompt_tokens > 0 ? m->prompt_tokens : 0) +
           (uint64_t)(m->completion_tokens > 0 ? m->completion_tokens : 0);
}

/* Moves res into *out (which keeps its key). Returns res->rc, or the decoding error. */
static int llmcache__result_out(llmcache__result *res, llmcache_response *out) {
    int rc = res->rc;
    if (res->env) {
        int drc = llmcache__response_adopt(out, res->env, res->env_len);
        if (drc != LLMCACHE_OK) rc = drc;
    }
    res->env = NULL;
    out->meta = res->meta;
    out->from_cache = res->from_cache;
    out->stored = res->stored;
    out->created_ms = res->created_ms;
    out->expires_ms = res->expires_ms;
    if (!out->status) out->status = res->meta.status;
    return rc;
}

/* The recorded pace never waits past the stored provider latency, nor ten minutes:
 * arrival times come from stored bytes, which may be damaged or hostile. */
#define LLMCACHE__REPLAY_MAX_MS 600000

static void llmcache__replay(const llmcache_call_options *o, const llmcache_response *r) {
    int64_t t0 = llmcache__mono_us(), cap_ms = LLMCACHE__REPLAY_MAX_MS;
    size_t i;
    if (!o->on_chunk) return;
    if (r->meta.latency_ms > 0 && r->meta.latency_ms < cap_ms) cap_ms = r->meta.latency_ms;
    for (i = 0; i < r->n_chunks; i++) {
        if (o->replay_pace == LLMCACHE_REPLAY_RECORDED) {
            int64_t at_ms = r->chunks[i].at_ms < cap_ms ? r->chunks[i].at_ms : cap_ms;
            int64_t wait_us = at_ms * 1000 - (llmcache__mono_us() - t0);
            if (wait_us >= 1000) llmcache__sleep_ms(wait_us / 1000);
        }
        o->on_chunk(o->chunk_ctx, &r->chunks[i]);
    }
}

/* ---- the call */

/* Looks key up for a call, counting neither a hit nor a miss (the call counts what
 * it serves). LLMCACHE_OK fills res with the hit; LLMCACHE_MISS when absent or older
 * than max_age; a negative code when the store failed or held an undecodable value
 * (reported here: the call fails open and goes on as a miss). *missed (if missed is
 * not NULL) tells whether the cache held no usable answer: absent, too old or not
 * an envelope, as opposed to a lookup that failed. */
/* What llmcache__lookup's view of a stored value needs and gives back. */
typedef struct llmcache__lookup_view {
    int64_t now;                  /* read before c->mu is taken: a clock may call into c */
    const llmcache_call_options *o;
    llmcache__result *res;
    int bad_env, oom;
} llmcache__lookup_view;

/* Checks a stored value in place (an envelope, not older than max_age) and copies
 * it into the result only then: a refused value is never copied. */
static int llmcache__lookup_take(void *ctx, const llmcache_entry_info *info) {
    llmcache__lookup_view *lv = (llmcache__lookup_view *)ctx;
    llmcache__result *res = lv->res;
    llmcache__env e;
    int rc = llmcache__env_parse((const unsigned char *)info->data, info->len, &e);
    if (rc != LLMCACHE_OK) { lv->bad_env = 1; return rc; }
    if (lv->o->max_age_ms > 0 && lv->now - info->created_ms >= lv->o->max_age_ms) return LLMCACHE_MISS;
    res->env = llmcache__memdup_nul(info->data, info->len);
    if (!res->env) { lv->oom = 1; return LLMCACHE_ENOMEM; }
    res->rc = LLMCACHE_OK;
    res->env_len = info->len;
    res->meta = info->meta;
    res->meta.status = e.status;
    res->from_cache = 1;
    res->stored = 0;
    res->created_ms = info->created_ms;
    res->expires_ms = info->expires_ms;
    return LLMCACHE_OK;
}

static int llmcache__lookup(llmcache *c, const llmcache_key *key, const llmcache_call_options *o,
                            llmcache__result *res, int *missed) {
    llmcache__lookup_view lv;
    int rc, hit;
    lv.now = o->max_age_ms > 0 ? llmcache__now(c) : 0;
    lv.o = o; lv.res = res; lv.bad_env = lv.oom = 0;
    llmcache__handle_lock(c);
    rc = llmcache__view_locked(c, key, llmcache__lookup_take, &lv, &hit);
    llmcache__handle_unlock(c);
    if (missed) *missed = (hit && !lv.oom) || rc == LLMCACHE_MISS;
    if (rc == LLMCACHE_OK || rc == LLMCACHE_MISS) return rc;
    llmcache__store_error(c, key, rc, lv.bad_env ? "llmcache_call: stored value is not a valid envelope; calling the provider"
                                                 : "llmcache_call: lookup failed; calling the provider");
    llmcache__acct_inc(c, res->acct, LLMCACHE__A_ERRORS);
    return rc;
}

/* Runs the parse callback on r; on success *model holds what it wrote (NUL-terminated). */
static int llmcache__run_parse(const llmcache_call_options *o, const llmcache_response *r, llmcache__buf *model) {
    llmcache_sink ms;
    int rc;
    memset(&ms, 0, sizeof ms);
    ms.model = 1;
    rc = o->parse(o->parse_ctx, r, &ms) != 0 ? LLMCACHE_EREJECTED : ms.err;
    if (rc == LLMCACHE_OK && !llmcache__buf_reserve(&ms.buf, 0)) rc = LLMCACHE_ENOMEM;
    if (rc == LLMCACHE_OK) { *model = ms.buf; ms.buf.p = NULL; }
    llmcache__sink_free(&ms);
    return rc;
}

/* The leader's miss path: runs the transport and builds res (envelope, meta, rc);
 * the stream's events also go live to the followers of flight (NULL = none). */
static void llmcache__fetch(llmcache *c, const llmcache_request *req, llmcache_transport_fn fn, void *fn_ctx,
                            const llmcache_call_options *o, const unsigned char schema_hash[32],
                            const llmcache__buf *canon, struct llmcache__callstate *cs, llmcache__flight *flight,
                            llmcache__result *res) {
    llmcache_sink s;
    llmcache_response view;
    llmcache__buf env = {NULL, 0, 0, 0}, model = {NULL, 0, 0, 0}, data = {NULL, 0, 0, 0};
    llmcache_chunk *chunks = NULL;
    llmcache__env_fields x;
    int status, rc = LLMCACHE_OK, have_model = 0;
    size_t i;
    int64_t t0;
    llmcache__acct_ref acct = res->acct;   /* the call's accounting row survives the reset */

    memset(&s, 0, sizeof s);
    s.stream = req->stream != 0;
    s.on_chunk = o->on_chunk;
    s.chunk_ctx = o->chunk_ctx;
    s.on_header = o->on_header;
    s.fcs = cs;
    s.flight = flight;
    memset(res, 0, sizeof *res);
    res->acct = acct;
    memcpy(res->meta.schema_hash, schema_hash, 32);
    res->meta.prompt_tokens = res->meta.completion_tokens = -1;
    x.ttfe_ms = 0;
    x.cached_input_tokens = x.cache_write_tokens = -1;

    t0 = s.t0_us = llmcache__mono_us();
    status = fn(fn_ctx, req, &s);
    res->meta.latency_ms = (llmcache__mono_us() - t0) / 1000;
    res->retry_after = s.retry_after;
    res->retry_ms = s.retry_ms;
    llmcache__stat_inc(&c->mu, &c->st.transport_calls);
    if (s.stream && !s.err) llmcache__sse_scan(&s, 1);
    res->live_events = s.on_chunk ? s.n_recs : 0;
    res->flight_events = s.flight ? s.n_recs : 0;
    if (!llmcache__buf_reserve(&s.buf, 0) && !s.err) s.err = LLMCACHE_ENOMEM;
    if (s.buf.p) s.buf.p[s.buf.len] = '\0';

    if (s.err) rc = s.err;
    else if (status == LLMCACHE_EUNSUPPORTED) rc = status;          /* a transport not built in: nothing sent */
    else if (status < 100 || status > 999) rc = LLMCACHE_ETRANSPORT;
    else if (status < 200 || status > 299) rc = LLMCACHE_EHTTP;
    else if (s.stream && !s.terminated) rc = LLMCACHE_ETRANSPORT;  /* the stream ended early */
    if (status < 100 || status > 999) status = 0;                   /* a transport failure */

    if (s.n_recs) {
        chunks = (llmcache_chunk *)LLMCACHE_MALLOC(s.n_recs * sizeof *chunks);
        if (!chunks) { rc = LLMCACHE_ENOMEM; s.n_recs = 0; }
    }
    for (i = 0; i < s.n_recs; i++) {
        chunks[i].data = s.buf.p + s.recs[i].off;
        chunks[i].len = s.recs[i].len;
        chunks[i].at_ms = s.recs[i].at_ms;
    }

    res->meta.status = (int32_t)status;
    res->meta.flags = LLMCACHE_META_ENVELOPE | (s.stream ? LLMCACHE_META_STREAM : 0u);
    if (rc == LLMCACHE_OK) {
        if (s.stream) {
            for (i = 0; i < s.n_recs; i++)
                if (llmcache__contains(chunks[i].data, chunks[i].len, "usage")) {
                    llmcache__sse_data(chunks[i].data, chunks[i].len, &data);
                    if (!data.oom) (void)llmcache__usage(data.p ? data.p : "", data.len,
                                                         &res->meta.prompt_tokens, &res->meta.completion_tokens,
                                                         &x.cached_input_tokens, &x.cache_write_tokens);
                }
            if (s.n_recs) x.ttfe_ms = s.recs[0].at_ms;
        } else if (llmcache__usage(s.buf.p ? s.buf.p : "", s.buf.len, &res->meta.prompt_tokens,
                                   &res->meta.completion_tokens, &x.cached_input_tokens,
                                   &x.cache_write_tokens) != 0 && !o->raw_body) {
            rc = LLMCACHE_EREJECTED;
        }
    }
    memset(&view, 0, sizeof view);
    view.status = status;
    view.body = s.buf.p;
    view.len = s.buf.len;
    view.chunks = chunks;
    view.n_chunks = s.n_recs;
    view.meta = res->meta;
    if (rc == LLMCACHE_OK && o->validate && o->validate(o->validate_ctx, &view) != 0) rc = LLMCACHE_EREJECTED;
    if (rc == LLMCACHE_OK && o->parse) {
        rc = llmcache__run_parse(o, &view, &model);
        have_model = rc == LLMCACHE_OK;
    }
    if (have_model) res->meta.flags |= LLMCACHE_META_HAS_MODEL;
    x.request = c->omit_request ? NULL : canon->p;
    x.request_len = canon->len;
    llmcache__env_build_ex(&env, status, s.stream, chunks, s.n_recs, have_model ? (model.p ? model.p : "") : NULL,
                           model.len, s.buf.p ? s.buf.p : "", s.buf.len, &x);
    if (env.oom) { llmcache__buf_free(&env); rc = LLMCACHE_ENOMEM; }
    res->env = env.p;
    res->env_len = env.len;
    res->rc = rc;
    LLMCACHE_FREE(chunks);
    llmcache__buf_free(&model);
    llmcache__buf_free(&data);
    llmcache__sink_free(&s);
}

/* ---- retries (llmcache_call_options.retries) */
#define LLMCACHE__RETRY_BASE_MS      500
#define LLMCACHE__RETRY_CAP_MS     30000   /* the longest backoff wait */
#define LLMCACHE__RETRY_AFTER_MAX  60000   /* a longer Retry-After ends the retries */

/* splitmix64's finalizer: the jitter's randomness from a seed that differs per call. */
static uint64_t llmcache__mix64(uint64_t v) {
    v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ull;
    v = (v ^ (v >> 27)) * 0x94d049bb133111ebull;
    return v ^ (v >> 31);
}

/* The wait (ms) before retry number attempt (0 = the first) of the failed call res,
 * or -1 when it is not to be repeated: not a 429, 5xx or transport failure, a stream
 * whose events the caller already saw, or a Retry-After beyond the bound. */
static int64_t llmcache__retry_wait(llmcache *c, const llmcache_key *key, const llmcache_call_options *o,
                                    const llmcache__result *res, int attempt) {
    int status = res->meta.status;
    int64_t wait, base = o->retry_base_ms > 0 ? o->retry_base_ms : LLMCACHE__RETRY_BASE_MS;
    uint64_t seed;
    if (res->live_events) return -1;
    if (!(res->rc == LLMCACHE_ETRANSPORT || (res->rc == LLMCACHE_EHTTP && (status == 429 || (status >= 500 && status <= 599)))))
        return -1;
    if (res->retry_after != LLMCACHE__RETRY_NONE) {
        wait = res->retry_after == LLMCACHE__RETRY_DELAY ? res->retry_ms : res->retry_ms - llmcache__now(c);
        if (wait > LLMCACHE__RETRY_AFTER_MAX) return -1;
        return wait > 0 ? wait : 0;
    }
    for (wait = base; attempt > 0 && wait < LLMCACHE__RETRY_CAP_MS; attempt--) wait *= 2;
    if (wait > LLMCACHE__RETRY_CAP_MS) wait = LLMCACHE__RETRY_CAP_MS;
    seed = llmcache__ld32(key->bytes) ^ (uint64_t)llmcache__mono_us() << 16 ^ (uint64_t)attempt;
    return wait - (int64_t)(llmcache__mix64(seed) % (uint64_t)(wait / 2 + 1));   /* in [wait/2, wait] */
}

/* llmcache__fetch, repeated as o->retries allows; res holds the last try. */
static void llmcache__fetch_retrying(llmcache *c, const llmcache_key *key, const llmcache_request *req,
                                     llmcache_transport_fn fn, void *fn_ctx, const llmcache_call_options *o,
                                     const unsigned char schema_hash[32], const llmcache__buf *canon,
                                     struct llmcache__callstate *cs, llmcache__flight *flight,
                                     llmcache__result *res) {
    int attempt;
    for (attempt = 0;; attempt++) {
        int64_t wait;
        llmcache__fetch(c, req, fn, fn_ctx, o, schema_hash, canon, cs, flight, res);
        if (attempt >= o->retries || (wait = llmcache__retry_wait(c, key, o, res, attempt)) < 0) return;
        if (res->flight_events && !llmcache__flight_rewind(cs, flight)) return;   /* a follower saw them */
        LLMCACHE_FREE(res->env);
        res->env = NULL;
        llmcache__stat_inc(&c->mu, &c->st.retries);
        llmcache__sleep_ms(wait);
    }
}

/* Stores a fresh successful result (failing open) and reports it. */
static void llmcache__store(llmcache *c, const llmcache_key *key, const llmcache_call_options *o,
                            llmcache__result *res) {
    int64_t now;
    int rc;
    if (res->rc != LLMCACHE_OK || o->no_store || !res->env || c->read_only) return;
    now = llmcache__now(c);   /* one clock reading: the stored times are the reported ones */
    rc = llmcache_put_at(c, key, res->env, res->env_len, now, llmcache__expiry(c, now, o->ttl_ms), &res->meta);
    if (rc != LLMCACHE_OK) {
        llmcache__store_error(c, key, rc, "llmcache_call: storing the response failed; returning it anyway");
        llmcache__acct_inc(c, res->acct, LLMCACHE__A_ERRORS);
        return;
    }
    llmcache__acct_inc(c, res->acct, LLMCACHE__A_STORES);
    res->stored = 1;
    res->created_ms = now;
    res->expires_ms = llmcache__expiry(c, now, o->ttl_ms);
    llmcache__emit(c, LLMCACHE_EVENT_STORE, key, LLMCACHE_OK, "llmcache_call: stored the response");
}

/* A hit: model on demand, stats, event, replay. */
static int llmcache__serve_hit(llmcache *c, const llmcache_call_options *o, llmcache__result *res,
                               llmcache_response *out) {
    int rc = llmcache__result_out(res, out);
    llmcache__stat_inc(&c->mu, &c->st.hits);
    llmcache__acct_inc(c, res->acct, LLMCACHE__A_HITS);
    if (rc != LLMCACHE_OK) return rc;
    if (o->parse && !out->model) {
        llmcache__buf model = {NULL, 0, 0, 0}, env = {NULL, 0, 0, 0};
        rc = llmcache__run_parse(o, out, &model);
        if (rc == LLMCACHE_OK) {
            llmcache_response fresh;
            llmcache__env_fields x;
            llmcache__env_fields_of(out, &x);
            llmcache__env_build_ex(&env, out->status, (out->meta.flags & LLMCACHE_META_STREAM) != 0, out->chunks,
                                   out->n_chunks, model.p ? model.p : "", model.len, out->body, out->len, &x);
            memset(&fresh, 0, sizeof fresh);
            rc = env.oom ? LLMCACHE_ENOMEM : llmcache__response_adopt(&fresh, env.p, env.len);
            if (env.oom) llmcache__buf_free(&env);
            if (rc == LLMCACHE_OK) {
                LLMCACHE_FREE(out->mem_); LLMCACHE_FREE(out->chunks);
                out->mem_ = fresh.mem_; out->chunks = fresh.chunks; out->n_chunks = fresh.n_chunks;
                out->body = fresh.body; out->len = fresh.len;
                out->model = fresh.model; out->model_len = fresh.model_len;
                out->request = fresh.request; out->request_len = fresh.request_len;
            } else llmcache_response_free(&fresh);
        }
        llmcache__buf_free(&model);
        if (rc != LLMCACHE_OK) return rc;
    }
    llmcache__handle_lock(c);
    c->st.time_saved_ms += (uint64_t)(out->meta.latency_ms > 0 ? out->meta.latency_ms : 0);
    c->st.tokens_saved += llmcache__tokens(&out->meta);
    llmcache__acct_saved_locked(c, res->acct, out, 1);
    llmcache__handle_unlock(c);
    llmcache__emit(c, LLMCACHE_EVENT_HIT, &out->key, LLMCACHE_OK, "llmcache_call: served from the cache");
    if (o->on_source) o->on_source(o->chunk_ctx, LLMCACHE_EVENT_HIT, out);
    llmcache__replay(o, out);
    return LLMCACHE_OK;
}

/* >>redis single-flight (across machines: llmcache_call_options.redis_lock_ms) ------- */
#ifdef LLMCACHE_REDIS

/* A lock token unlikely to be anybody else's: a hash of the time, process, handle
 * and a counter, as 16 hex digits. */
static uint64_t llmcache__redis_token(llmcache *c) {
    unsigned char seed[40], h[32];
    uint64_t n, t = 0;
    int i;
    llmcache__lock(&c->redis->mu);
    n = ++c->redis->tokens;
    llmcache__unlock(&c->redis->mu);
    llmcache__st64(seed, (uint64_t)llmcache__mono_us());
    llmcache__st64(seed + 8, (uint64_t)llmcache__system_clock_ms());
    llmcache__st64(seed + 16, (uint64_t)(uintptr_t)c);
    llmcache__st64(seed + 24, n);
    llmcache__st64(seed + 32, llmcache__process_id());
    llmcache_sha256(seed, sizeof seed, h);
    for (i = 0; i < 8; i++) t = t << 8 | h[i];
    return t ? t : 1;
}

/* On a miss of llmcache_call with o->redis_lock_ms > 0: takes the lock key
 * (SET prefix+"lock:"+hex token NX PX ms) and returns LLMCACHE_MISS with *token set:
 * the caller calls the provider, stores, then calls llmcache__redis_unlock. When
 * another worker holds the lock, polls until it is released and then looks the key up:
 * LLMCACHE_OK with res filled as by a hit. Redis failing, the wait reaching
 * redis_lock_ms, or a lookup error: LLMCACHE_MISS with *token 0 (go alone). */
static int llmcache__redis_flight(llmcache *c, const llmcache_key *key, const llmcache_call_options *o,
                                  llmcache__result *res, uint64_t *token) {
    char name[LLMCACHE__REDIS_NAME_MAX], hex[16], px[24];
    int64_t lock_ms = o->redis_lock_ms < LLMCACHE__REDIS_LOCK_MAX ? o->redis_lock_ms : LLMCACHE__REDIS_LOCK_MAX;
    int64_t deadline = llmcache__mono_us() + lock_ms * 1000;
    llmcache__rcmd set, exists;
    uint64_t t;
    *token = 0;
    if (!c->redis || lock_ms <= 0) return LLMCACHE_MISS;
    t = llmcache__redis_token(c);
    llmcache__hex64(t, hex);
    snprintf(px, sizeof px, "%lld", (long long)lock_ms);
    llmcache__rcmd_start(&set, "SET", LLMCACHE__RWANT(REDIS_REPLY_STATUS) | LLMCACHE__RWANT(REDIS_REPLY_NIL));
    llmcache__rcmd_arg(&set, name, llmcache__redis_name(c->redis, key, 1, name));
    llmcache__rcmd_arg(&set, hex, 16);
    llmcache__rcmd_arg(&set, "NX", 2);
    llmcache__rcmd_arg(&set, "PX", 2);
    llmcache__rcmd_arg(&set, px, strlen(px));
    llmcache__rcmd_start(&exists, "EXISTS", LLMCACHE__RWANT(REDIS_REPLY_INTEGER));
    llmcache__rcmd_arg(&exists, name, set.len[1]);
    for (;;) {
        redisReply *rep = llmcache__redis_cmd(c, key, &set);
        int won, held = 1, rc;
        if (!rep) return LLMCACHE_MISS;
        won = rep->type == REDIS_REPLY_STATUS;    /* "OK"; nil when the key exists */
        freeReplyObject(rep);
        if (won) { *token = t; return LLMCACHE_MISS; }
        while (held) {                            /* another worker is calling the provider */
            int64_t left = (deadline - llmcache__mono_us()) / 1000;
            if (left <= 0) return LLMCACHE_MISS;
            llmcache__sleep_ms(left < LLMCACHE__REDIS_POLL_MS ? left : LLMCACHE__REDIS_POLL_MS);
            rep = llmcache__redis_cmd(c, key, &exists);
            if (!rep) return LLMCACHE_MISS;
            held = rep->integer > 0;
            freeReplyObject(rep);
        }
        (void)llmcache__redis_load(c, key, NULL); /* the memory tier may hold an older version */
        rc = llmcache__lookup(c, key, o, res, NULL);
        if (rc != LLMCACHE_MISS) return rc == LLMCACHE_OK ? LLMCACHE_OK : LLMCACHE_MISS;
        /* released without an answer (the provider failed): try to take over */
    }
}

/* Releases the lock key if it still holds our token (it may have expired and been
 * taken by another worker meanwhile). */
static void llmcache__redis_unlock(llmcache *c, const llmcache_key *key, uint64_t token) {
    static const char script[] =
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
    char name[LLMCACHE__REDIS_NAME_MAX], hex[16];
    llmcache__rcmd cmd;
    redisReply *rep;
    if (!c->redis || !token) return;
    llmcache__hex64(token, hex);
    llmcache__rcmd_start(&cmd, "EVAL", LLMCACHE__RWANT(REDIS_REPLY_INTEGER));
    llmcache__rcmd_arg(&cmd, script, sizeof script - 1);
    llmcache__rcmd_arg(&cmd, "1", 1);
    llmcache__rcmd_arg(&cmd, name, llmcache__redis_name(c->redis, key, 1, name));
    llmcache__rcmd_arg(&cmd, hex, 16);
    rep = llmcache__redis_cmd(c, key, &cmd);
    if (rep) freeReplyObject(rep);
}
#else   /* no Redis tier: every call goes alone */
static int llmcache__redis_flight(llmcache *c, const llmcache_key *key, const llmcache_call_options *o,
                                  llmcache__result *res, uint64_t *token) {
    (void)c; (void)key; (void)o; (void)res;
    *token = 0;
    return LLMCACHE_MISS;
}
static void llmcache__redis_unlock(llmcache *c, const llmcache_key *key, uint64_t token) {
    (void)c; (void)key; (void)token;
}
#endif /* LLMCACHE_REDIS */

/* ---- modes (record and replay) */
static const char *const llmcache__mode_names[] = { "normal", "record", "replay", "no-store", "off" };

LLMCACHE_API int llmcache_mode_parse(const char *text) {
    int m;
    if (!text || !text[0]) return LLMCACHE_MODE_NORMAL;
    for (m = LLMCACHE_MODE_NORMAL; m <= LLMCACHE_MODE_OFF; m++)
        if (strcmp(text, llmcache__mode_names[m]) == 0) return m;
    return LLMCACHE_EINVAL;
}

LLMCACHE_API const char *llmcache_mode_name(int mode) {
    return mode >= LLMCACHE_MODE_NORMAL && mode <= LLMCACHE_MODE_OFF ? llmcache__mode_names[mode] : "invalid";
}

/* The options a call runs with under its mode (the config's, or opts->mode): record
 * is a refresh, no-store and off never store, off neither looks up nor shares.
 * LLMCACHE_EINVAL for an unknown mode or options that contradict it. */
static int llmcache__mode_apply(const llmcache *c, const llmcache_call_options *o, llmcache_call_options *eff,
                                int *mode) {
    *eff = *o;
    *mode = o->mode ? o->mode - 1 : c->mode;
    switch (*mode) {
    case LLMCACHE_MODE_NORMAL:   return LLMCACHE_OK;
    case LLMCACHE_MODE_RECORD:   if (o->no_store) return LLMCACHE_EINVAL;
                                 eff->refresh = 1; return LLMCACHE_OK;
    case LLMCACHE_MODE_REPLAY:   return o->refresh ? LLMCACHE_EINVAL : LLMCACHE_OK;
    case LLMCACHE_MODE_NO_STORE: eff->no_store = 1; return LLMCACHE_OK;
    case LLMCACHE_MODE_OFF:      eff->refresh = eff->no_store = eff->no_single_flight = 1; return LLMCACHE_OK;
    default:                     return LLMCACHE_EINVAL;
    }
}

/* A replay-mode call found no answer: the one place a replay miss is counted and
 * reported (the event names the key in hex). */
static int llmcache__replay_miss(llmcache *c, llmcache__acct_ref acct, const llmcache_key *key, int missed) {
    static const char head[] = "llmcache_call: replay miss, key ", tail[] = " not recorded (llmcache explain shows why)";
    char msg[sizeof head - 1 + 64 + sizeof tail];
    memcpy(msg, head, sizeof head - 1);
    llmcache_key_hex(key, msg + sizeof head - 1);
    memcpy(msg + sizeof head - 1 + 64, tail, sizeof tail);
    llmcache__handle_lock(c);
    c->st.replay_misses++;
    llmcache__acct_inc_locked(c, acct, LLMCACHE__A_REPLAY_MISSES);
    if (missed) { c->st.misses++; llmcache__acct_inc_locked(c, acct, LLMCACHE__A_MISSES); }
    llmcache__handle_unlock(c);
    llmcache__emit(c, LLMCACHE_EVENT_ERROR, key, LLMCACHE_MISS, msg);
    return LLMCACHE_MISS;
}

/* ---- the call */
LLMCACHE_API int llmcache_call(llmcache *c, const llmcache_request *req, llmcache_transport_fn fn,
                               void *fn_ctx, const llmcache_call_options *opts, llmcache_response *out) {
    llmcache_call_options defaults, eff;
    llmcache__result res;
    llmcache__buf canon = {NULL, 0, 0, 0};  /* the canonical request, stored beside the answer */
    unsigned char sh[32];
    llmcache_key key;
    int rc, missed, mode;
    struct llmcache__callstate *cs = NULL;
    llmcache__flight *flight = NULL;
    uint64_t redis_lock = 0;                /* our lock token in Redis; 0 = none held */
    if (out) memset(out, 0, sizeof *out);
    if (!c || !req || !fn || !out) return LLMCACHE_EINVAL;
    if (!opts) { memset(&defaults, 0, sizeof defaults); opts = &defaults; }
    if (llmcache__mode_apply(c, opts, &eff, &mode) != LLMCACHE_OK) return LLMCACHE_EINVAL;
    opts = &eff;
    rc = llmcache__req_key(&key, opts->ns ? opts->ns : c->ns, req, (const char *const *)c->key_ignore, sh, &canon);
    if (rc != LLMCACHE_OK) return rc;
    out->key = key;
    llmcache__stat_inc(&c->mu, &c->st.calls);
    memset(&res, 0, sizeof res);
    res.acct = llmcache__acct_begin(c, opts->ns ? opts->ns : c->ns, req->body, req->body_len);

    missed = 0;   /* a refresh looks nothing up, and a failed lookup is no miss */
    rc = opts->refresh ? LLMCACHE_MISS : llmcache__lookup(c, &key, opts, &res, &missed);
    if (rc == LLMCACHE_OK || mode == LLMCACHE_MODE_REPLAY) {
        llmcache__buf_free(&canon);
        return rc == LLMCACHE_OK ? llmcache__serve_hit(c, opts, &res, out) : llmcache__replay_miss(c, res.acct, &key, missed);
    }

    if (!opts->no_single_flight && (cs = llmcache__callstate_get(c)) != NULL) {
        int leader = 0;
        flight = llmcache__flight_join(cs, &key, opts->refresh || opts->max_age_ms > 0, opts->refresh != 0,
                                       &leader);
        if (flight && !leader) {
            size_t live;
            if (opts->on_source) opts->on_source(opts->chunk_ctx, LLMCACHE_EVENT_SHARED, out);
            llmcache__flight_wait(cs, flight, opts, &res, &live);
            rc = llmcache__result_out(&res, out);
            out->shared = 1;
            llmcache__handle_lock(c);
            c->st.shared++;
            llmcache__acct_inc_locked(c, res.acct, LLMCACHE__A_SHARED);
            if (missed) { c->st.misses++; llmcache__acct_inc_locked(c, res.acct, LLMCACHE__A_MISSES); }
            if (rc == LLMCACHE_OK) {
                c->st.tokens_saved += llmcache__tokens(&out->meta);
                llmcache__acct_saved_locked(c, res.acct, out, 0);   /* the leader's usage; no time */
            }
            llmcache__handle_unlock(c);
            llmcache__emit(c, LLMCACHE_EVENT_SHARED, &out->key, rc, "llmcache_call: shared a concurrent identical call");
            if (live < out->n_chunks) {          /* the events that did not come live */
                llmcache_response rest = *out;
                rest.chunks += live;
                rest.n_chunks -= live;
                llmcache__replay(opts, &rest);
            }
            llmcache__buf_free(&canon);
            return rc;
        }
        /* a leader: an earlier flight may have stored the answer since our lookup */
        if (flight && rc == LLMCACHE_MISS && !opts->refresh) {
            rc = llmcache__lookup(c, &key, opts, &res, NULL);
            if (rc == LLMCACHE_OK) {
                llmcache__flight_finish(cs, flight, &res);
                llmcache__buf_free(&canon);
                return llmcache__serve_hit(c, opts, &res, out);
            }
        }
        if (flight && !opts->refresh) llmcache__flight_fetching(cs, flight);
    }
    /* single-flight across machines: another worker's answer */
    if (!opts->refresh && llmcache__redis_flight(c, &key, opts, &res, &redis_lock) == LLMCACHE_OK) {
        if (flight) llmcache__flight_finish(cs, flight, &res);
        llmcache__buf_free(&canon);
        return llmcache__serve_hit(c, opts, &res, out);
    }
    if (missed) llmcache__stat_inc(&c->mu, &c->st.misses);
    if (missed) llmcache__acct_inc(c, res.acct, LLMCACHE__A_MISSES);
    if (opts->refresh) llmcache__acct_inc(c, res.acct, LLMCACHE__A_REFRESHES);
    llmcache__emit(c, LLMCACHE_EVENT_MISS, &key, LLMCACHE_OK,
                   opts->refresh ? "llmcache_call: refresh; calling the provider" : "llmcache_call: miss; calling the provider");
    if (opts->on_source) opts->on_source(opts->chunk_ctx, LLMCACHE_EVENT_MISS, out);
    llmcache__fetch_retrying(c, &key, req, fn, fn_ctx, opts, sh, &canon, cs, flight, &res);
    llmcache__buf_free(&canon);
    llmcache__store(c, &key, opts, &res);
    llmcache__redis_unlock(c, &key, redis_lock);   /* the answer is in Redis (or the call failed) */
    if (flight) llmcache__flight_finish(cs, flight, &res);
    return llmcache__result_out(&res, out);
}

/* ---- schema invalidation */
typedef struct llmcache__keylist {
    const unsigned char *schema_hash;
    llmcache_key *keys;
    size_t n, cap;
} llmcache__keylist;

static int llmcache__collect_schema(void *ctx, const llmcache_entry_info *info) {
    llmcache__keylist *l = (llmcache__keylist *)ctx;
    if (memcmp(info->meta.schema_hash, l->schema_hash, 32) != 0) return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        llmcache_key *nk = (llmcache_key *)LLMCACHE_REALLOC(l->keys, cap * sizeof *nk);
        if (!nk) return LLMCACHE_ENOMEM;
        l->keys = nk;
        l->cap = cap;
    }
    l->keys[l->n++] = info->key;
    return 0;
}

LLMCACHE_API int llmcache_purge_schema(llmcache *c, const unsigned char schema_hash[32], size_t *removed) {
    llmcache__keylist l;
    size_t i, gone = 0;
    int rc;
    if (removed) *removed = 0;
    if (!c || !schema_hash) return LLMCACHE_EINVAL;
    /* collect first (foreach holds the lock), then delete (records say "purged") */
    memset(&l, 0, sizeof l);
    l.schema_hash = schema_hash;
    rc = llmcache_foreach(c, 0, llmcache__collect_schema, &l);
    for (i = 0; rc == LLMCACHE_OK && i < l.n; i++) {
        int d = llmcache__del_why(c, &l.keys[i], LLMCACHE__WHY_PURGE);
        if (d == LLMCACHE_OK) gone++;
        else if (d != LLMCACHE_MISS) rc = d;
    }
    LLMCACHE_FREE(l.keys);
    if (removed) *removed = gone;
    return rc;
}

/* >>impl stats export (llmcache_stats_write, llmcache_prices_parse) -------------------
 * After the call-through: the stored-entries view reads envelopes. */
/* s[0..n) as the inside of a JSON string (json) or of a Prometheus label value:
 * quote, backslash and newline escaped; in JSON also the other control characters;
 * bytes that are not UTF-8 become U+FFFD. */
static void llmcache__export_str(llmcache__buf *b, const char *s, size_t n, int json) {
    size_t i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        size_t len = ch < 0x80 ? 1 : ch >= 0xc2 && ch <= 0xdf ? 2 : ch >= 0xe0 && ch <= 0xef ? 3 :
                     ch >= 0xf0 && ch <= 0xf4 ? 4 : 0, k;
        int ok = len > 0 && i + len <= n;
        for (k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
        if (ok && len == 3) {
            unsigned char c1 = (unsigned char)s[i + 1];
            ok = !(ch == 0xe0 && c1 < 0xa0) && !(ch == 0xed && c1 >= 0xa0);   /* overlong, surrogate */
        }
        if (ok && len == 4) {
            unsigned char c1 = (unsigned char)s[i + 1];
            ok = !(ch == 0xf0 && c1 < 0x90) && !(ch == 0xf4 && c1 >= 0x90);
        }
        if (!ok) { llmcache__buf_put(b, "\xef\xbf\xbd", 3); i++; continue; }
        if (ch == '"' || ch == '\\') { llmcache__buf_putc(b, '\\'); llmcache__buf_putc(b, (char)ch); }
        else if (ch == '\n') llmcache__buf_put(b, "\\n", 2);
        else if (json && ch < 0x20) {
            char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
            esc[4] = llmcache__hex_digits[ch >> 4];
            esc[5] = llmcache__hex_digits[ch & 15];
            llmcache__buf_put(b, esc, 6);
        } else llmcache__buf_put(b, s + i, len);
        i += len;
    }
}

static void llmcache__export_u64(llmcache__buf *b, uint64_t v) {
    char d[24];
    int k = 24;
    do { d[--k] = (char)('0' + v % 10); v /= 10; } while (v);
    llmcache__buf_put(b, d + k, (size_t)(24 - k));
}

static void llmcache__export_cstr(llmcache__buf *b, const char *s) { llmcache__buf_put(b, s, strlen(s)); }

/* A Prometheus sample value: v, or for milliseconds v / 1000 written exactly. */
static void llmcache__export_value(llmcache__buf *b, uint64_t v, const char *json_name) {
    size_t n = strlen(json_name);
    char frac[4];
    if (n < 3 || strcmp(json_name + n - 3, "_ms") != 0) { llmcache__export_u64(b, v); return; }
    llmcache__export_u64(b, v / 1000);
    frac[0] = '.';
    frac[1] = (char)('0' + v % 1000 / 100);
    frac[2] = (char)('0' + v % 100 / 10);
    frac[3] = (char)('0' + v % 10);
    llmcache__buf_put(b, frac, 4);
}

/* A metric of the export: its JSON member, Prometheus name and help; `at` names an
 * llmcache_stats member (offset) or a row counter (LLMCACHE__A_*). Members whose
 * JSON name ends in "_ms" are milliseconds, written as seconds for Prometheus. */
typedef struct llmcache__metric {
    const char *json, *prom, *help;
    int counter;               /* 1: counter (name ends in _total); 0: gauge */
    size_t at;                 /* offsetof(llmcache_stats, x), or the row counter index */
} llmcache__metric;

#define LLMCACHE__STAT(m) offsetof(llmcache_stats, m)
static const llmcache__metric llmcache__totals_calls[] = {
    { "calls", "llmcache_calls_total", "llmcache_call invocations.", 1, LLMCACHE__STAT(calls) },
    { "transport_calls", "llmcache_transport_calls_total", "Times the transport (the provider) was really called.", 1, LLMCACHE__STAT(transport_calls) },
    { "hits", "llmcache_hits_total", "Lookups answered from the cache (gets and calls).", 1, LLMCACHE__STAT(hits) },
    { "misses", "llmcache_misses_total", "Lookups that found nothing usable (gets and calls).", 1, LLMCACHE__STAT(misses) },
    { "puts", "llmcache_puts_total", "Values stored (puts and stored call answers).", 1, LLMCACHE__STAT(puts) },
    { "errors", "llmcache_errors_total", "Store failures survived by failing open.", 1, LLMCACHE__STAT(errors) },
    { "shared", "llmcache_shared_total", "Calls answered by a concurrent identical call (single-flight followers).", 1, LLMCACHE__STAT(shared) },
    { "refreshes", "llmcache_refreshes_total", "Refresh calls that called the provider.", 1, LLMCACHE__STAT(refreshes) },
    { "replay_misses", "llmcache_replay_misses_total", "Replay-mode calls the cache could not answer (the transport was not called).", 1, LLMCACHE__STAT(replay_misses) },
    { "retries", "llmcache_retries_total", "Transport calls repeated after a 429, a 5xx or a transport failure.", 1, LLMCACHE__STAT(retries) },
    { "transform_unknown", "llmcache_transform_unknown_total", "Reads of a record written with a transform this handle lacks.", 1, LLMCACHE__STAT(transform_unknown) },
    { "transform_failed", "llmcache_transform_failed_total", "Reads whose transform decode failed (authentication, damage).", 1, LLMCACHE__STAT(transform_failed) },
    { "evictions", "llmcache_evictions_total", "Entries evicted by the bounds.", 1, LLMCACHE__STAT(evictions) },
    { "expirations", "llmcache_expirations_total", "Entries dropped after their time to live.", 1, LLMCACHE__STAT(expirations) },
    { "time_saved_ms", "llmcache_time_saved_seconds_total", "Recorded provider latency of the answers served from the cache.", 1, LLMCACHE__STAT(time_saved_ms) },
    { "ttfe_saved_ms", "llmcache_first_event_time_saved_seconds_total", "Recorded time to first event of the streams served from the cache.", 1, LLMCACHE__STAT(ttfe_saved_ms) },
    { "input_tokens_saved", "llmcache_input_tokens_saved_total", "Uncached input tokens not paid again.", 1, LLMCACHE__STAT(input_tokens_saved) },
    { "output_tokens_saved", "llmcache_output_tokens_saved_total", "Output tokens not paid again.", 1, LLMCACHE__STAT(output_tokens_saved) },
    { "cached_input_tokens_saved", "llmcache_cached_input_tokens_saved_total", "Provider-cached input tokens not paid again.", 1, LLMCACHE__STAT(cached_input_tokens_saved) },
    { "cache_write_tokens_saved", "llmcache_cache_write_tokens_saved_total", "Provider cache-write input tokens not paid again.", 1, LLMCACHE__STAT(cache_write_tokens_saved) },
    { "money_saved_microdollars", "llmcache_money_saved_microdollars_total", "Money saved at the configured prices, in micro-dollars.", 1, LLMCACHE__STAT(money_saved_microdollars) },
    { "unpriced_saves", "llmcache_unpriced_saves_total", "Saves of a model the price table does not name.", 1, LLMCACHE__STAT(unpriced_saves) },
    { "acct_folded", "llmcache_acct_folded_total", "Calls counted in the other row (the row table was full).", 1, LLMCACHE__STAT(acct_folded) },
    { "acct_rows", "llmcache_acct_rows", "Namespace and model rows in use.", 0, LLMCACHE__STAT(acct_rows) },
    { "entries", "llmcache_entries", "Live entries.", 0, LLMCACHE__STAT(entries) },
    { "bytes", "llmcache_bytes", "Bytes of values held in memory.", 0, LLMCACHE__STAT(bytes) },
    { "file_bytes", "llmcache_file_bytes", "Committed length of the log file.", 0, LLMCACHE__STAT(file_bytes) },
};
static const llmcache__metric llmcache__rows_calls[] = {
    { "calls", "llmcache_model_calls_total", "llmcache_call invocations.", 1, LLMCACHE__A_CALLS },
    { "hits", "llmcache_model_hits_total", "Calls answered from the cache.", 1, LLMCACHE__A_HITS },
    { "misses", "llmcache_model_misses_total", "Calls that found nothing usable in the cache.", 1, LLMCACHE__A_MISSES },
    { "refreshes", "llmcache_model_refreshes_total", "Refresh calls that called the provider.", 1, LLMCACHE__A_REFRESHES },
    { "stores", "llmcache_model_stores_total", "Fresh answers stored.", 1, LLMCACHE__A_STORES },
    { "errors", "llmcache_model_errors_total", "Store failures survived by failing open.", 1, LLMCACHE__A_ERRORS },
    { "shared", "llmcache_model_shared_total", "Single-flight followers.", 1, LLMCACHE__A_SHARED },
    { "replay_misses", "llmcache_model_replay_misses_total", "Replay-mode requests the cache could not answer.", 1, LLMCACHE__A_REPLAY_MISSES },
    { "time_saved_ms", "llmcache_model_time_saved_seconds_total", "Recorded provider latency of the hits.", 1, LLMCACHE__A_TIME_MS },
    { "ttfe_saved_ms", "llmcache_model_first_event_time_saved_seconds_total", "Recorded time to first event of the stream hits.", 1, LLMCACHE__A_TTFE_MS },
    { "input_tokens_saved", "llmcache_model_input_tokens_saved_total", "Uncached input tokens not paid again.", 1, LLMCACHE__A_INPUT },
    { "output_tokens_saved", "llmcache_model_output_tokens_saved_total", "Output tokens not paid again.", 1, LLMCACHE__A_OUTPUT },
    { "cached_input_tokens_saved", "llmcache_model_cached_input_tokens_saved_total", "Provider-cached input tokens not paid again.", 1, LLMCACHE__A_CACHED },
    { "cache_write_tokens_saved", "llmcache_model_cache_write_tokens_saved_total", "Provider cache-write input tokens not paid again.", 1, LLMCACHE__A_WRITE },
    { "money_saved_microdollars", "llmcache_model_money_saved_microdollars_total", "Money saved at the configured prices, in micro-dollars.", 1, LLMCACHE__A_MONEY },
    { "unpriced", "llmcache_model_unpriced_saves_total", "Saves of a model the price table does not name.", 1, LLMCACHE__A_UNPRICED },
};
static const llmcache__metric llmcache__totals_entries[] = {
    { "entries", "llmcache_entries", "Live entries.", 0, LLMCACHE__STAT(entries) },
    { "file_bytes", "llmcache_file_bytes", "Committed length of the log file.", 0, LLMCACHE__STAT(file_bytes) },
    { "live_bytes", "llmcache_live_bytes", "Bytes of the log's records that are still live.", 0, LLMCACHE__STAT(live_bytes) },
    { "dead_bytes", "llmcache_dead_bytes", "Bytes of superseded, deleted or evicted records (compaction gives them back).", 0, LLMCACHE__STAT(dead_bytes) },
};
static const llmcache__metric llmcache__rows_entries[] = {
    { "entries", "llmcache_stored_entries", "Live entries.", 0, LLMCACHE__A_ENTRIES },
    { "value_bytes", "llmcache_stored_value_bytes", "Bytes of the live values.", 0, LLMCACHE__A_BYTES },
    { "latency_ms", "llmcache_stored_latency_seconds", "Recorded provider latency of the live answers, summed.", 0, LLMCACHE__A_TIME_MS },
    { "ttfe_ms", "llmcache_stored_first_event_seconds", "Recorded time to first event of the live streams, summed.", 0, LLMCACHE__A_TTFE_MS },
    { "input_tokens", "llmcache_stored_input_tokens", "Recorded uncached input tokens of the live answers.", 0, LLMCACHE__A_INPUT },
    { "output_tokens", "llmcache_stored_output_tokens", "Recorded output tokens of the live answers.", 0, LLMCACHE__A_OUTPUT },
    { "cached_input_tokens", "llmcache_stored_cached_input_tokens", "Recorded provider-cached input tokens of the live answers.", 0, LLMCACHE__A_CACHED },
    { "cache_write_tokens", "llmcache_stored_cache_write_tokens", "Recorded provider cache-write input tokens of the live answers.", 0, LLMCACHE__A_WRITE },
    { "cost_microdollars", "llmcache_stored_cost_microdollars", "What the live answers cost when made, at the given prices, in micro-dollars.", 0, LLMCACHE__A_MONEY },
    { "unpriced", "llmcache_stored_unpriced_entries", "Live answers of a model the price table does not name.", 0, LLMCACHE__A_UNPRICED },
};
#undef LLMCACHE__STAT

static uint64_t llmcache__stat_at(const llmcache_stats *st, size_t off) {
    uint64_t v;
    memcpy(&v, (const char *)st + off, sizeof v);
    return v;
}

/* The text of one export into b. */
static void llmcache__export(llmcache__buf *b, int prom, const llmcache_stats *st, const llmcache__metric *tm,
                             size_t n_tm, const llmcache__metric *rm, size_t n_rm, const llmcache__arow_view *v,
                             size_t n_rows, uint64_t max_rows) {
    size_t i, k;
    if (prom) {
        for (i = 0; i < n_tm + n_rm; i++) {
            const llmcache__metric *m = i < n_tm ? &tm[i] : &rm[i - n_tm];
            llmcache__export_cstr(b, "# HELP "); llmcache__export_cstr(b, m->prom);
            llmcache__buf_putc(b, ' '); llmcache__export_cstr(b, m->help);
            llmcache__export_cstr(b, "\n# TYPE "); llmcache__export_cstr(b, m->prom);
            llmcache__export_cstr(b, m->counter ? " counter\n" : " gauge\n");
            if (i < n_tm) {
                llmcache__export_cstr(b, m->prom); llmcache__buf_putc(b, ' ');
                llmcache__export_value(b, llmcache__stat_at(st, m->at), m->json);
                llmcache__buf_putc(b, '\n');
                continue;
            }
            for (k = 0; k < n_rows; k++) {
                llmcache__export_cstr(b, m->prom);
                llmcache__export_cstr(b, "{namespace=\"");
                llmcache__export_str(b, v[k].ns, strlen(v[k].ns), 0);
                llmcache__export_cstr(b, "\",model=\"");
                llmcache__export_str(b, v[k].model, strlen(v[k].model), 0);
                llmcache__export_cstr(b, "\"} ");
                llmcache__export_value(b, v[k].n[m->at], m->json);
                llmcache__buf_putc(b, '\n');
            }
        }
        return;
    }
    llmcache__export_cstr(b, "{\"totals\":{");
    for (i = 0; i < n_tm; i++) {
        if (i) llmcache__buf_putc(b, ',');
        llmcache__buf_putc(b, '"'); llmcache__export_cstr(b, tm[i].json); llmcache__export_cstr(b, "\":");
        llmcache__export_u64(b, llmcache__stat_at(st, tm[i].at));
    }
    llmcache__export_cstr(b, "},\"max_rows\":");
    llmcache__export_u64(b, max_rows);
    llmcache__export_cstr(b, ",\"rows\":[");
    for (k = 0; k < n_rows; k++) {
        llmcache__export_cstr(b, k ? ",{\"namespace\":\"" : "{\"namespace\":\"");
        llmcache__export_str(b, v[k].ns, strlen(v[k].ns), 1);
        llmcache__export_cstr(b, "\",\"model\":\"");
        llmcache__export_str(b, v[k].model, strlen(v[k].model), 1);
        llmcache__export_cstr(b, v[k].other ? "\",\"other\":true" : "\",\"other\":false");
        for (i = 0; i < n_rm; i++) {
            llmcache__export_cstr(b, ",\""); llmcache__export_cstr(b, rm[i].json); llmcache__export_cstr(b, "\":");
            llmcache__export_u64(b, v[k].n[rm[i].at]);
        }
        llmcache__buf_putc(b, '}');
    }
    llmcache__export_cstr(b, "]}\n");
}

/* The stored-entries view: one row per (namespace, model) of the live entries. */
typedef struct llmcache__entries_walk {
    struct llmcache__acct *t;          /* the view's own table; prices borrowed */
    const char *ns;
    llmcache__buf data;                /* scratch: an event's data */
} llmcache__entries_walk;

/* The model an answer names: the stored request's (when the envelope keeps it),
 * else the answer body's, else the first stream event's that names one. 0 = none. */
static int llmcache__entry_model(const unsigned char *p, size_t n, const llmcache__env *e, llmcache__buf *scratch,
                                 llmcache__buf *model) {
    size_t hlen = (size_t)p[6] | (size_t)p[7] << 8, off = 0;
    uint32_t i;
    const char *m;
    size_t len;
    int found = 0;
    llmcache__jdoc doc;
    const llmcache__jv *root;
    (void)n;
    if (hlen > LLMCACHE__ENV_HEADER_EXT &&
        llmcache__json_parse((const char *)p + LLMCACHE__ENV_HEADER_EXT, hlen - LLMCACHE__ENV_HEADER_EXT, &doc, &root,
                             NULL) == LLMCACHE_OK) {
        const llmcache__jv *v = llmcache__json_get(root, "model");
        if (llmcache__json_type(v) == LLMCACHE__JSTR) { llmcache__buf_put(model, v->u.str, v->n); found = 1; }
    }
    if (hlen > LLMCACHE__ENV_HEADER_EXT) llmcache__json_free(&doc);
    if (found) return 1;
    if (!e->n_chunks && llmcache__json_parse(e->body, e->body_len, &doc, &root, NULL) == LLMCACHE_OK &&
        llmcache__acct_model_in(root, &m, &len)) {
        llmcache__buf_put(model, m, len);
        found = 1;
    }
    if (!e->n_chunks) llmcache__json_free(&doc);
    for (i = 0; !found && i < e->n_chunks; i++) {
        uint32_t clen = llmcache__ld32(e->table + (size_t)i * 8u);
        llmcache__sse_data(e->body + off, clen, scratch);
        off += clen;
        if (scratch->oom || !scratch->len) continue;
        if (llmcache__json_parse(scratch->p, scratch->len, &doc, &root, NULL) == LLMCACHE_OK &&
            llmcache__acct_model_in(root, &m, &len)) {
            llmcache__buf_put(model, m, len);
            found = 1;
        }
        llmcache__json_free(&doc);
    }
    return found;
}

static int llmcache__entries_add(void *ctx, const llmcache_entry_info *info) {
    llmcache__entries_walk *w = (llmcache__entries_walk *)ctx;
    llmcache__env e;
    llmcache__buf model = {NULL, 0, 0, 0};
    llmcache__arow *row;
    uint32_t r = 0;
    int folded = 1, is_env;
    is_env = (info->meta.flags & LLMCACHE_META_ENVELOPE) && info->data &&
             llmcache__env_parse((const unsigned char *)info->data, info->len, &e) == LLMCACHE_OK;
    if (is_env) (void)llmcache__entry_model((const unsigned char *)info->data, info->len, &e, &w->data, &model);
    if (model.oom) { llmcache__buf_free(&model); return LLMCACHE_ENOMEM; }
    if (model.len <= LLMCACHE__ACCT_NAME_MAX && !(model.len && memchr(model.p, '\0', model.len)))
        r = llmcache__acct_row(w->t, w->ns, strlen(w->ns), model.p ? model.p : "", model.len, &folded);
    row = &w->t->rows[r];
    row->n[LLMCACHE__A_ENTRIES]++;
    row->n[LLMCACHE__A_BYTES] += info->len;
    if (is_env) {
        uint64_t tok[4], whole = 0, frac = 0;
        int32_t price = llmcache__acct_price(w->t, model.p ? model.p : "", model.len);
        llmcache__acct_split(&info->meta, e.cached_input_tokens, e.cache_write_tokens, tok);
        row->n[LLMCACHE__A_TIME_MS] += (uint64_t)(info->meta.latency_ms > 0 ? info->meta.latency_ms : 0);
        row->n[LLMCACHE__A_TTFE_MS] += e.ttfe_ms;
        row->n[LLMCACHE__A_INPUT] += tok[0];
        row->n[LLMCACHE__A_OUTPUT] += tok[1];
        row->n[LLMCACHE__A_CACHED] += tok[2];
        row->n[LLMCACHE__A_WRITE] += tok[3];
        if (price < 0) row->n[LLMCACHE__A_UNPRICED]++;
        else {
            llmcache__acct_cost(&w->t->prices[price], tok, &whole, &frac);
            llmcache__acct_add_money(&row->n[LLMCACHE__A_MONEY], &row->money_frac, whole, frac);
        }
    }
    llmcache__buf_free(&model);
    return 0;
}

static int llmcache__write_all(const llmcache_writer *sink, const llmcache__buf *b) {
    if (b->oom) return LLMCACHE_ENOMEM;
    return sink->write(sink->ctx, b->p ? b->p : "", b->len) == 0 ? LLMCACHE_OK : LLMCACHE_EIO;
}

LLMCACHE_API int llmcache_stats_write(llmcache *c, int format, const llmcache_writer *sink) {
    int kind = format & ~LLMCACHE_STATS_ENTRIES, prom = kind == LLMCACHE_STATS_PROMETHEUS, rc;
    llmcache_stats st;
    llmcache__arow_view *v = NULL;
    size_t n = 0;
    llmcache__buf b = {NULL, 0, 0, 0};
    uint64_t max_rows;
    if (!c || !sink || !sink->write || (kind != LLMCACHE_STATS_JSON && kind != LLMCACHE_STATS_PROMETHEUS))
        return LLMCACHE_EINVAL;
    max_rows = c->acct->max_rows;
    if (format & LLMCACHE_STATS_ENTRIES) {
        struct llmcache__acct t;
        llmcache__entries_walk w;
        rc = llmcache__acct_init(&t, c->acct->max_rows);
        t.prices = c->acct->prices;
        t.n_prices = c->acct->n_prices;
        memset(&w, 0, sizeof w);
        w.t = &t;
        w.ns = c->ns;
        if (rc == LLMCACHE_OK) rc = llmcache_foreach(c, 1, llmcache__entries_add, &w);
        if (rc == LLMCACHE_OK) rc = llmcache__acct_views(&t, &v, &n);
        llmcache_stats_get(c, &st);
        if (rc == LLMCACHE_OK)
            llmcache__export(&b, prom, &st, llmcache__totals_entries,
                             sizeof llmcache__totals_entries / sizeof llmcache__totals_entries[0], llmcache__rows_entries,
                             sizeof llmcache__rows_entries / sizeof llmcache__rows_entries[0], v, n, max_rows);
        llmcache__buf_free(&w.data);
        LLMCACHE_FREE(v);
        llmcache__acct_release(&t);
    } else {
        llmcache_stats_get(c, &st);
        llmcache__handle_lock(c);
        rc = llmcache__acct_views(c->acct, &v, &n);
        llmcache__handle_unlock(c);
        if (rc == LLMCACHE_OK)
            llmcache__export(&b, prom, &st, llmcache__totals_calls,
                             sizeof llmcache__totals_calls / sizeof llmcache__totals_calls[0], llmcache__rows_calls,
                             sizeof llmcache__rows_calls / sizeof llmcache__rows_calls[0], v, n, max_rows);
        LLMCACHE_FREE(v);
    }
    if (rc == LLMCACHE_OK) rc = llmcache__write_all(sink, &b);
    llmcache__buf_free(&b);
    return rc;
}

/* A price: a JSON integer 0 .. LLMCACHE__PRICE_MAX into *out; 0 or -1. */
static int llmcache__price_num(const llmcache__jv *v, int64_t *out) {
    double d = llmcache__json_num(v);
    if (llmcache__json_type(v) != LLMCACHE__JNUM || d < 0 || d > (double)LLMCACHE__PRICE_MAX || d != (double)(int64_t)d)
        return -1;
    *out = (int64_t)d;
    return 0;
}

LLMCACHE_API int llmcache_prices_parse(const char *json, size_t len, llmcache_prices **out) {
    llmcache__jdoc doc;
    const llmcache__jv *root;
    llmcache_prices *p = NULL;
    llmcache_price *m;
    size_t i, k, names = 0;
    char *s;
    int rc;
    if (out) *out = NULL;
    if (!out) return LLMCACHE_EINVAL;
    rc = llmcache__json_parse(json, len, &doc, &root, NULL);
    if (rc == LLMCACHE_OK && llmcache__json_type(root) != LLMCACHE__JOBJ) rc = LLMCACHE_EINVAL;
    for (i = 0; rc == LLMCACHE_OK && i < root->n; i++) {
        const llmcache__jmem *mem = &root->u.mems[i];
        if (mem->val.type != LLMCACHE__JOBJ || memchr(mem->name.u.str, '\0', mem->name.n)) rc = LLMCACHE_EINVAL;
        for (k = 0; rc == LLMCACHE_OK && k < mem->val.n; k++) {
            const llmcache__jv *name = &mem->val.u.mems[k].name;
            int64_t ignored;
            if ((strcmp(name->u.str, "input") != 0 && strcmp(name->u.str, "output") != 0 &&
                 strcmp(name->u.str, "cached_input") != 0 && strcmp(name->u.str, "cache_write") != 0) ||
                llmcache__price_num(&mem->val.u.mems[k].val, &ignored) != 0)
                rc = LLMCACHE_EINVAL;
        }
        names += mem->name.n + 1;
    }
    if (rc == LLMCACHE_OK) {
        p = (llmcache_prices *)LLMCACHE_MALLOC(sizeof *p + root->n * sizeof *m + names);
        if (!p) rc = LLMCACHE_ENOMEM;
    }
    if (rc == LLMCACHE_OK) {
        m = (llmcache_price *)(void *)(p + 1);
        s = (char *)(m + root->n);
        for (i = 0; i < root->n; i++) {
            const llmcache__jv *o = &root->u.mems[i].val;
            memset(&m[i], 0, sizeof m[i]);
            memcpy(s, root->u.mems[i].name.u.str, root->u.mems[i].name.n + 1);
            m[i].model = s;
            s += root->u.mems[i].name.n + 1;
            (void)llmcache__price_num(llmcache__json_get(o, "input"), &m[i].input);
            (void)llmcache__price_num(llmcache__json_get(o, "output"), &m[i].output);
            (void)llmcache__price_num(llmcache__json_get(o, "cached_input"), &m[i].cached_input);
            (void)llmcache__price_num(llmcache__json_get(o, "cache_write"), &m[i].cache_write);
        }
        p->models = m;
        p->n = root->n;
        *out = p;
    }
    llmcache__json_free(&doc);
    return rc;
}

/* >>impl batch (llmcache_call_many) ---------------------------------------------------
 * The requests are sorted by key to find identical ones; the first of each group (a
 * leader) is called, the others copy its answer. Workers take the next leader in
 * input order from a shared counter, so answers finish roughly in input order and a
 * rerun after a crash finds the finished prefix in the cache. */

/* The worker threads: real ones, or none (the calling thread does all the work). */
#if !defined(LLMCACHE_NO_THREADS)
typedef llmcache__thread llmcache__worker;
static int llmcache__worker_start(llmcache__worker *w, void (*fn)(void *), void *arg) {
    return llmcache__thread_start(w, fn, arg);
}
static void llmcache__worker_join(llmcache__worker *w) { llmcache__thread_join(w); }
#else
typedef int llmcache__worker;
static int llmcache__worker_start(llmcache__worker *w, void (*fn)(void *), void *arg) {
    (void)w; (void)fn; (void)arg;
    return -1;
}
static void llmcache__worker_join(llmcache__worker *w) { (void)w; }
#endif

typedef struct llmcache__keyed { llmcache_key key; size_t idx; } llmcache__keyed;

static int llmcache__keyed_order(const void *a, const void *b) {
    const llmcache__keyed *x = (const llmcache__keyed *)a, *y = (const llmcache__keyed *)b;
    int d = memcmp(x->key.bytes, y->key.bytes, 32);
    return d ? d : x->idx < y->idx ? -1 : x->idx > y->idx;
}

typedef struct llmcache__batch {
    llmcache *c;
    const llmcache_request *reqs;
    size_t n;
    llmcache_transport_fn fn;
    void *fn_ctx;
    llmcache_call_options call;
    const llmcache_batch_options *o;
    llmcache_response *out;
    int *rcs;
    size_t *dup;                 /* dup[i]: the next request identical to i; n = none. A
                                    leader is a request no other one points to. */
    unsigned char *follower;     /* 1: a copy of an earlier identical request */
    llmcache__mutex mu;          /* guards what follows */
    size_t next, done, hits, errors;
    int cancelled;
} llmcache__batch;

/* A deep copy of src into *dst (zeroed first); dst->shared is set. */
static int llmcache__response_copy(const llmcache_response *src, llmcache_response *dst) {
    int rc = LLMCACHE_OK;
    memset(dst, 0, sizeof *dst);
    if (src->mem_) {
        llmcache__buf env = {NULL, 0, 0, 0};
        llmcache__env_fields x;
        llmcache__env_fields_of(src, &x);
        llmcache__env_build_ex(&env, src->status, (src->meta.flags & LLMCACHE_META_STREAM) != 0, src->chunks,
                               src->n_chunks, src->model, src->model_len, src->body ? src->body : "", src->len, &x);
        if (env.oom) { llmcache__buf_free(&env); return LLMCACHE_ENOMEM; }
        rc = llmcache__response_adopt(dst, env.p, env.len);
        if (rc != LLMCACHE_OK) { llmcache_response_free(dst); return rc; }
    }
    dst->status = src->status;
    dst->from_cache = src->from_cache;
    dst->shared = 1;
    dst->key = src->key;
    dst->meta = src->meta;
    dst->created_ms = src->created_ms;
    dst->expires_ms = src->expires_ms;
    return rc;
}

static void llmcache__batch_worker(void *arg) {
    llmcache__batch *b = (llmcache__batch *)arg;
    for (;;) {
        size_t i, j, group = 1, hits, errs;
        int rc, stop;
        llmcache__lock(&b->mu);
        while (b->next < b->n && b->follower[b->next]) b->next++;
        if (b->cancelled || b->next >= b->n) { llmcache__unlock(&b->mu); return; }
        i = b->next++;
        llmcache__unlock(&b->mu);

        rc = llmcache_call(b->c, &b->reqs[i], b->fn, b->fn_ctx, &b->call, &b->out[i]);
        b->rcs[i] = rc;
        hits = b->out[i].from_cache ? 1u : 0u;
        errs = rc != LLMCACHE_OK ? 1u : 0u;
        for (j = b->dup[i]; j < b->n; j = b->dup[j], group++) {
            int crc = llmcache__response_copy(&b->out[i], &b->out[j]);
            b->rcs[j] = crc != LLMCACHE_OK ? crc : rc;
            hits += b->out[j].from_cache ? 1u : 0u;
            errs += b->rcs[j] != LLMCACHE_OK ? 1u : 0u;
        }
        if (group > 1) {
            llmcache__handle_lock(b->c);
            b->c->st.calls += group - 1;
            b->c->st.shared += group - 1;
            llmcache__handle_unlock(b->c);
        }
        llmcache__lock(&b->mu);
        b->done += group;
        b->hits += hits;
        b->errors += errs;
        stop = b->o->progress && b->o->progress(b->o->progress_ctx, b->done, b->n, b->hits, b->errors) != 0;
        if (stop) b->cancelled = 1;
        llmcache__unlock(&b->mu);
    }
}

LLMCACHE_API int llmcache_call_many(llmcache *c, const llmcache_request *reqs, size_t n, llmcache_transport_fn fn,
                                    void *fn_ctx, const llmcache_batch_options *opts, llmcache_response *responses) {
    llmcache_batch_options defaults;
    llmcache__batch b;
    llmcache__keyed *keyed = NULL;
    llmcache__worker *workers = NULL;
    size_t i, leaders = 0, nkeyed = 0, nthreads, started = 0;
    int rc = LLMCACHE_OK;
    if (responses) for (i = 0; i < n; i++) memset(&responses[i], 0, sizeof responses[i]);
    if (!c || (!reqs && n) || !fn || (!responses && n)) return LLMCACHE_EINVAL;
    if (!opts) { memset(&defaults, 0, sizeof defaults); opts = &defaults; }
    for (i = 0; opts->results && i < n; i++) opts->results[i] = LLMCACHE_STOP;
    if (n == 0) return LLMCACHE_OK;
    if (n > ((size_t)-1) / sizeof *keyed) return LLMCACHE_ENOMEM;

    memset(&b, 0, sizeof b);
    b.c = c; b.reqs = reqs; b.n = n; b.fn = fn; b.fn_ctx = fn_ctx; b.o = opts; b.out = responses;
    b.call = opts->call;
    b.call.retries = opts->call.retries == 0 ? LLMCACHE_BATCH_RETRIES : opts->call.retries < 0 ? 0 : opts->call.retries;
    b.rcs = opts->results ? opts->results : (int *)LLMCACHE_MALLOC(n * sizeof *b.rcs);
    b.dup = (size_t *)LLMCACHE_MALLOC(n * sizeof *b.dup);
    b.follower = (unsigned char *)LLMCACHE_MALLOC(n);
    keyed = (llmcache__keyed *)LLMCACHE_MALLOC(n * sizeof *keyed);
    if (!b.rcs || !b.dup || !b.follower || !keyed || llmcache__mutex_init(&b.mu) != 0) {
        rc = LLMCACHE_ENOMEM;
        goto done;
    }
    /* group identical requests; one whose key cannot be made goes alone (and fails) */
    for (i = 0; i < n; i++) {
        unsigned char sh[32];
        b.dup[i] = n;
        b.follower[i] = 0;
        if (llmcache__req_key(&keyed[nkeyed].key, opts->call.ns ? opts->call.ns : c->ns, &reqs[i],
                              (const char *const *)c->key_ignore, sh, NULL) == LLMCACHE_OK)
            keyed[nkeyed++].idx = i;
    }
    if (nkeyed > 1) qsort(keyed, nkeyed, sizeof *keyed, llmcache__keyed_order);
    for (i = 1; i < nkeyed; i++)
        if (memcmp(keyed[i].key.bytes, keyed[i - 1].key.bytes, 32) == 0) {
            b.dup[keyed[i - 1].idx] = keyed[i].idx;
            b.follower[keyed[i].idx] = 1;
        }
    LLMCACHE_FREE(keyed);
    keyed = NULL;
    for (i = 0; i < n; i++) leaders += !b.follower[i];

    nthreads = opts->concurrency > 0 ? (size_t)opts->concurrency : LLMCACHE_BATCH_CONCURRENCY;
    if (nthreads > LLMCACHE_BATCH_MAX_THREADS) nthreads = LLMCACHE_BATCH_MAX_THREADS;
    if (nthreads > leaders) nthreads = leaders;
    if (nthreads > 1) workers = (llmcache__worker *)LLMCACHE_MALLOC((nthreads - 1) * sizeof *workers);
    for (i = 0; workers && i + 1 < nthreads; i++) {
        if (llmcache__worker_start(&workers[i], llmcache__batch_worker, &b) != 0) break;
        started++;
    }
    llmcache__batch_worker(&b);          /* fewer threads than asked (or none) still finish */
    for (i = 0; i < started; i++) llmcache__worker_join(&workers[i]);
    LLMCACHE_FREE(workers);
    llmcache__mutex_destroy(&b.mu);
    rc = b.done < n ? LLMCACHE_STOP : LLMCACHE_OK;
done:
    if (b.rcs != opts->results) LLMCACHE_FREE(b.rcs);
    LLMCACHE_FREE(b.dup);
    LLMCACHE_FREE(b.follower);
    LLMCACHE_FREE(keyed);
    return rc;
}

/* >>impl curl transport -------------------------------------------------------------
 * With LLMCACHE_CURL, libcurl; without it, a transport that sends nothing. */
#ifdef LLMCACHE_CURL
#include <curl/curl.h>

static size_t llmcache__curl_body(char *p, size_t size, size_t n, void *ud) {
    size_t len = size * n;
    return llmcache_sink_write((llmcache_sink *)ud, p, len) == LLMCACHE_OK ? len : 0;  /* 0 aborts */
}

/* Passes "Name: value" header lines of a sensible size on to the sink. */
static size_t llmcache__curl_header(char *p, size_t size, size_t n, void *ud) {
    size_t len = size * n, colon = 0, end = len;
    char name[64], value[256];
    while (colon < len && p[colon] != ':') colon++;
    while (end > colon && (p[end - 1] == '\r' || p[end - 1] == '\n' || p[end - 1] == ' ')) end--;
    if (colon > 0 && colon < sizeof name && colon < len && end - colon - 1 < sizeof value) {
        memcpy(name, p, colon);
        name[colon] = '\0';
        memcpy(value, p + colon + 1, end - colon - 1);
        value[end - colon - 1] = '\0';
        llmcache_sink_header((llmcache_sink *)ud, name, value);
    }
    return len;
}

static struct curl_slist *llmcache__curl_add(struct curl_slist *list, int *oom, const char *a, const char *b) {
    llmcache__buf line = {NULL, 0, 0, 0};
    struct curl_slist *l;
    if (*oom) return list;
    llmcache__buf_put(&line, a, strlen(a));
    if (b) llmcache__buf_put(&line, b, strlen(b));
    llmcache__buf_putc(&line, '\0');
    l = line.oom ? NULL : curl_slist_append(list, line.p);
    llmcache__buf_free(&line);
    if (!l) { *oom = 1; return list; }
    return l;
}

/* ---- the pool of idle handles (llmcache_curl.pool) */
struct llmcache_curl_pool {
    llmcache__mutex mu;
    CURL **idle; size_t n, cap;
};

LLMCACHE_API llmcache_curl_pool *llmcache_curl_pool_new(void) {
    llmcache_curl_pool *p = (llmcache_curl_pool *)LLMCACHE_MALLOC(sizeof *p);
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    if (llmcache__mutex_init(&p->mu) != 0) { LLMCACHE_FREE(p); return NULL; }
    return p;
}

LLMCACHE_API void llmcache_curl_pool_free(llmcache_curl_pool *p) {
    size_t i;
    if (!p) return;
    for (i = 0; i < p->n; i++) curl_easy_cleanup(p->idle[i]);
    LLMCACHE_FREE(p->idle);
    llmcache__mutex_destroy(&p->mu);
    LLMCACHE_FREE(p);
}

/* A handle for one call: an idle one of the pool (its options reset, its connections
 * kept), else a new one. */
static CURL *llmcache__curl_take(llmcache_curl_pool *p) {
    CURL *h = NULL;
    if (p) {
        llmcache__lock(&p->mu);
        if (p->n) h = p->idle[--p->n];
        llmcache__unlock(&p->mu);
        if (h) { curl_easy_reset(h); return h; }
    }
    return curl_easy_init();
}

/* Gives h back to the pool with its open connection (or closes it without a pool). */
static void llmcache__curl_give(llmcache_curl_pool *p, CURL *h) {
    if (p) {
        llmcache__lock(&p->mu);
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 16;
            CURL **idle = (CURL **)LLMCACHE_REALLOC(p->idle, cap * sizeof *idle);
            if (idle) { p->idle = idle; p->cap = cap; }
        }
        if (p->n < p->cap) { p->idle[p->n++] = h; h = NULL; }
        llmcache__unlock(&p->mu);
    }
    if (h) curl_easy_cleanup(h);
}

LLMCACHE_API int llmcache_curl_transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    const llmcache_curl *cfg = (const llmcache_curl *)ctx;
    llmcache_curl defaults;
    llmcache__buf url = {NULL, 0, 0, 0};
    struct curl_slist *hdrs = NULL;
    const char *base, *ep;
    const char *const *h;
    int anthropic, oom = 0, rc = LLMCACHE_ETRANSPORT;
    int64_t total, conn;
    size_t blen;
    CURL *curl;
    if (!req || !sink) return LLMCACHE_EINVAL;
    if (!cfg) { memset(&defaults, 0, sizeof defaults); cfg = &defaults; }
    anthropic = cfg->kind == LLMCACHE_CURL_ANTHROPIC;
    base = cfg->base_url ? cfg->base_url : anthropic ? "https://api.anthropic.com/v1" : "https://api.openai.com/v1";
    ep = req->endpoint;
    if (ep && (strncmp(ep, "http://", 7) == 0 || strncmp(ep, "https://", 8) == 0)) {
        llmcache__buf_put(&url, ep, strlen(ep));
    } else {
        blen = strlen(base);
        while (blen && base[blen - 1] == '/') blen--;
        llmcache__buf_put(&url, base, blen);
        if (!ep || ep[0] != '/') ep = anthropic ? "/messages" : "/chat/completions";
        llmcache__buf_put(&url, ep, strlen(ep));
    }
    llmcache__buf_putc(&url, '\0');

    hdrs = llmcache__curl_add(hdrs, &oom, "Content-Type: application/json", NULL);
    hdrs = llmcache__curl_add(hdrs, &oom, "Expect:", NULL);          /* no 100-continue round trip */
    if (anthropic) {
        if (cfg->api_key) hdrs = llmcache__curl_add(hdrs, &oom, "x-api-key: ", cfg->api_key);
        hdrs = llmcache__curl_add(hdrs, &oom, "anthropic-version: ",
                                  cfg->anthropic_version ? cfg->anthropic_version : "2023-06-01");
    } else if (cfg->api_key) {
        hdrs = llmcache__curl_add(hdrs, &oom, "Authorization: Bearer ", cfg->api_key);
    }
    for (h = req->headers; h && *h; h++) hdrs = llmcache__curl_add(hdrs, &oom, *h, NULL);

    curl = url.oom || oom ? NULL : llmcache__curl_take(cfg->pool);
    if (curl) {
        long status = 0;
        total = req->timeout_ms > 0 ? req->timeout_ms : LLMCACHE__DEF(cfg->timeout_ms, 600000);
        conn = LLMCACHE__DEF(cfg->connect_timeout_ms, 10000);
        curl_easy_setopt(curl, CURLOPT_URL, url.p);
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, llmcache__curl_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, (void *)sink);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, llmcache__curl_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, (void *)sink);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);                /* threads: no SIGALRM */
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(conn > 0x7fffffff ? 0x7fffffff : conn));
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(total > 0x7fffffff ? 0x7fffffff : total));
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "llmcache/" LLMCACHE_VERSION_STRING);
        /* a transfer that fails after the status line (cut, timeout) is a failure, whatever the status */
        if (curl_easy_perform(curl) == CURLE_OK &&
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status >= 100 && status <= 999)
            rc = (int)status;
        llmcache__curl_give(cfg->pool, curl);
    }
    curl_slist_free_all(hdrs);
    llmcache__buf_free(&url);
    return rc;
}
#else
LLMCACHE_API int llmcache_curl_transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    (void)ctx; (void)req; (void)sink;
    return LLMCACHE_EUNSUPPORTED;
}
LLMCACHE_API llmcache_curl_pool *llmcache_curl_pool_new(void) { return NULL; }
LLMCACHE_API void llmcache_curl_pool_free(llmcache_curl_pool *pool) { (void)pool; }
#endif /* LLMCACHE_CURL */

#endif /* the feature check after the first includes */
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
