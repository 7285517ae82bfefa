/* Call-through: one function answers a provider request from the cache or, on a
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
#define LLMCACHE_REPLAY_INSTANT  0    /* replay stored chunks at once (default) */
#define LLMCACHE_REPLAY_RECORDED 1    /* sleep so chunks arrive at their recorded offsets */

/* Where a transport writes what it receives; owned by the library, valid only
 * during the transport call (or the parse callback it is passed to). */
typedef struct llmcache_sink llmcache_sink;

/* Appends data[0..len) as it arrives from the provider: for a stream, exactly the
 * bytes received, in any pieces (the library splits them into SSE events itself).
 * Returns LLMCACHE_OK, or LLMCACHE_ENOMEM / LLMCACHE_ETOOBIG (over
 * LLMCACHE_MAX_VALUE): then the transport should stop and return a negative value.
 * Call it only from the thread running the transport. */
LLMCACHE_API int llmcache_sink_write(llmcache_sink *sink, const void *data, size_t len);

/* Optional: tells the library a response header. Only Content-Type is used so far:
 * "text/event-stream" before the first body byte makes the response a stream even
 * when the request did not set stream. Names are case-insensitive. Returns LLMCACHE_OK. */
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
} llmcache_response;

/* Releases what a response holds and zeroes it. NULL and zeroed responses are fine. */
LLMCACHE_API void llmcache_response_free(llmcache_response *r);

/* Per-call controls. Zero-initialize: every zero member means "the default". */
typedef struct llmcache_call_options {
    int64_t ttl_ms;          /* time to live of the stored answer: 0 = the config's, < 0 = never expires */
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
       thread, or replayed from the cache (also to single-flight followers, once
       the leader finished). chunk->data is valid during the call only. */
    void  (*on_chunk)(void *ctx, const llmcache_chunk *chunk);
    void   *chunk_ctx;
    /* > 0, with a Redis tier (LLMCACHE_REDIS, cfg.redis): single-flight across
       machines. On a miss the call takes a lock key in Redis for this many ms
       (SET NX PX); a worker that finds it taken polls until the holder released
       it (then serves the stored answer) or the time is over (then calls the
       provider itself). Without a Redis tier it is ignored. docs/REDIS.md */
    int64_t redis_lock_ms;
} llmcache_call_options;

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
 *   LLMCACHE_EREJECTED  validate or parse refused the answer, or a non-stream body is
 *                       not JSON (see raw_body)
 *   LLMCACHE_EINVAL     bad arguments, malformed request body or schema JSON
 *   LLMCACHE_ENOMEM, LLMCACHE_ETOOBIG  the response could not be held
 * The store failing (a lookup error, a failed put) never fails the call: it counts in
 * stats.errors, is reported as LLMCACHE_EVENT_ERROR, and the provider's answer is
 * returned. Concurrent identical calls on one handle make one transport call
 * (single-flight); the others wait and share its result, failures included.
 * Thread-safe; callbacks run on the calling thread without library locks held, but
 * a transport must not make an identical llmcache_call (it would wait for itself). */
LLMCACHE_API int llmcache_call(llmcache *c, const llmcache_request *req, llmcache_transport_fn fn,
                               void *fn_ctx, const llmcache_call_options *opts, llmcache_response *out);

/* Decodes a stored call value (the data of llmcache_get for an entry with
 * LLMCACHE_META_ENVELOPE) into *out, copying it. Returns LLMCACHE_ECORRUPT for bytes
 * that are not a well-formed envelope (never reads outside data[0..len)),
 * LLMCACHE_EVERSION for a newer format. Only status, body, model and chunks are set. */
LLMCACHE_API int llmcache_response_decode(const void *data, size_t len, llmcache_response *out);

/* Removes every entry stored with this schema hash (see llmcache_schema_hash);
 * *removed (may be NULL) gets how many. Thread-safe, but not atomic: entries stored
 * meanwhile may survive. */
LLMCACHE_API int llmcache_purge_schema(llmcache *c, const unsigned char schema_hash[32], size_t *removed);

#ifdef LLMCACHE_CURL
/* >>curl transport -------------------------------------------------------------
 * A transport over libcurl for OpenAI-compatible chat completions and Anthropic
 * messages. Pass a filled llmcache_curl as the transport context.
 * URL: a request endpoint that starts with "http://" or "https://" is used as is;
 * one that starts with "/" is appended to base_url; otherwise (NULL or a service
 * name) base_url + "/chat/completions" (OpenAI) or "/messages" (Anthropic).
 * Programs that start threads should call curl_global_init(CURL_GLOBAL_DEFAULT)
 * once before them (libcurl's own rule). */
enum { LLMCACHE_CURL_OPENAI = 0, LLMCACHE_CURL_ANTHROPIC = 1 };

typedef struct llmcache_curl {
    int         kind;              /* LLMCACHE_CURL_OPENAI (0) or LLMCACHE_CURL_ANTHROPIC */
    const char *base_url;          /* NULL = https://api.openai.com/v1 or https://api.anthropic.com/v1 */
    const char *api_key;           /* NULL = send no key */
    const char *anthropic_version; /* NULL = "2023-06-01" */
    int64_t     connect_timeout_ms;/* 0 = 10 s */
    int64_t     timeout_ms;        /* whole exchange; 0 = 10 min; req->timeout_ms overrides */
} llmcache_curl;

/* The transport: POSTs req->body (Content-Type: application/json) with the auth
 * headers of ctx->kind (Authorization: Bearer, or x-api-key + anthropic-version)
 * and req->headers, streams the answer into sink, and returns the HTTP status, or
 * LLMCACHE_ETRANSPORT when the connection fails, times out or is cut (also after a
 * 200). ctx is a const llmcache_curl *. Thread-safe (one curl handle per call). */
LLMCACHE_API int llmcache_curl_transport(void *ctx, const llmcache_request *req, llmcache_sink *sink);
#endif
