/* tools/cli_serve.c - `llmcache serve`: a caching HTTP proxy for OpenAI- and
 * Anthropic-compatible APIs, on the library's llmcache_call (docs/PROXY.md).
 *
 * Built with -DLLMCACHE_SERVE (the Makefile sets it, with -DLLMCACHE_CURL, when
 * tests/need.sh finds libmicrohttpd and libcurl); without it `llmcache serve`
 * says what it needs.
 *
 * Threads: libmicrohttpd runs one thread per connection (MHD_USE_THREAD_PER_CONNECTION
 * with an internal poll thread that accepts). llmcache_call blocks (the upstream
 * call, or waiting for a concurrent identical call), and a streamed answer's
 * reader waits for the next event: both need a thread of their own anyway, and a
 * hit is answered on the connection's thread without any hand-off.
 * --max-connections bounds the threads.
 *
 * A POST to an API path (chat/completions, completions, responses, embeddings,
 * messages) runs llmcache_call on a worker thread whose on_chunk callback feeds a
 * per-request queue; the connection's thread waits for the first event (then
 * answers 200 text/event-stream and forwards each event as it comes) or for the
 * end of the call (then answers with the status and body). Anything else is
 * passed through to the upstream uncached. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#ifndef LLMCACHE_SERVE
int cli_serve_main(int argc, char **argv) {
    (void)argc; (void)argv;
    cli_cmd = "serve";
    cli_error("this build has no proxy: it needs libmicrohttpd and libcurl (Debian: "
              "libmicrohttpd-dev libcurl4-openssl-dev); install them and run make again");
    return CLI_EXIT_FAIL;
}
#else
#include <microhttpd.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVE_MAX_HEADERS 64        /* request headers forwarded upstream */
#define SERVE_NS_MAX      128       /* bytes of X-Llmcache-Namespace */
#define SERVE_DRAIN_MS    30000     /* SIGTERM: how long requests in flight may take to finish */
#define SERVE_CONN_SLACK  64        /* connections over the limit that still get their 503 */
#define SERVE_FWD_MAX     32        /* upstream response headers forwarded to the client */

/* >>options ------------------------------------------------------------------- */
typedef struct serve_opts {
    const char *listen, *upstream, *anthropic_upstream, *cache, *ns;
    int64_t ttl_ms, read_timeout_ms, upstream_timeout_ms;
    size_t max_body;
    unsigned max_conn;
    int shared, quiet;
    int mode;                        /* LLMCACHE_MODE_*: --mode, else LLMCACHE_MODE */
    const char *prices, *redis;      /* --prices FILE, --redis HOST:PORT */
} serve_opts;

static const char serve_help[] =
    "usage: llmcache serve [OPTIONS]\n\n"
    "A caching proxy for OpenAI- and Anthropic-compatible APIs. Point a client at it:\n"
    "    llmcache serve --cache cache.llmc\n"
    "    OPENAI_BASE_URL=http://127.0.0.1:8080/v1 python app.py\n"
    "(Anthropic SDKs: ANTHROPIC_BASE_URL=http://127.0.0.1:8080.)\n\n"
    "POST requests with a JSON body to .../chat/completions, .../completions,\n"
    ".../responses, .../embeddings and .../messages go through the cache: a hit is\n"
    "answered from it (a stream replayed byte for byte), concurrent identical requests\n"
    "make one upstream call (followers of a stream get its events live), and a fresh\n"
    "2xx answer is stored. Anything else is passed through uncached. Non-2xx answers\n"
    "are passed through and never stored. The client's credentials go upstream and are\n"
    "never stored or logged; the key's namespace holds a SHA-256 of them (so clients\n"
    "with different keys never share an entry) unless --shared.\n\n"
    "options:\n"
    "  --listen ADDR:PORT        where to listen (IPv4; default 127.0.0.1:8080; port 0\n"
    "                            picks a free one); prints \"listening on http://...\"\n"
    "  --upstream URL            origin for OpenAI-compatible paths; the request path is\n"
    "                            appended (default https://api.openai.com)\n"
    "  --anthropic-upstream URL  origin for /v1/messages and requests with an\n"
    "                            anthropic-version header (default https://api.anthropic.com)\n"
    "  --cache FILE              the cache log (several proxies and programs may share\n"
    "                            it); without it the cache is in memory only\n"
    "  --ns NS                   namespace prefix of every key (default \"\")\n"
    "  --mode MODE               normal | record | replay | no-store | off (default:\n"
    "                            $LLMCACHE_MODE, else normal); replay never asks upstream:\n"
    "                            a request without a recorded answer gets 404 REPLAY-MISS\n"
    "  --ttl DURATION            time to live of stored answers (\"1h\", \"7d\"; default:\n"
    "                            never expire)\n"
    "  --max-body SIZE           largest request body in bytes (default 16777216); more is 413\n"
    "  --max-connections N       connections served at once (default 256); more get 503\n"
    "  --read-timeout DURATION   total deadline for reading a request's headers and body,\n"
    "                            however slowly its bytes come (408), and idle time\n"
    "                            before a connection is closed (default 30s)\n"
    "  --upstream-timeout DURATION  whole upstream exchange (default 10m)\n"
    "  --shared                  one cache for every credential (a shared team cache)\n"
    "  --prices FILE             price table (JSON, as `llmcache stats --prices`): the\n"
    "                            money saved, in /metrics\n"
    "  --redis HOST:PORT         the library's shared Redis tier below the cache (where\n"
    "                            built with hiredis): proxies on other hosts share entries\n"
    "  --quiet                   print nothing once listening\n"
    "  -h, --help                this help\n\n";
/* the rest of it (one literal would pass the 4095 bytes C99 promises) */
static const char serve_help_headers[] =
    "per-request headers:\n"
    "  Cache-Control: no-cache   ask upstream and store the fresh answer (REFRESH)\n"
    "  Cache-Control: no-store   may be answered from the cache, never stored\n"
    "  Cache-Control: max-age=N  accept only an entry younger than N seconds\n"
    "  X-Llmcache-Ttl: DURATION  time to live of this answer\n"
    "  X-Llmcache-Namespace: NS  added to (never replacing) the tenant's namespace\n"
    "  X-Llmcache-Mode: MODE     this request's mode (as --mode)\n"
    "Request headers that change answers (anthropic-version, anthropic-beta,\n"
    "OpenAI-Beta, OpenAI-Organization, OpenAI-Project) are part of the key.\n\n"
    "response headers:\n"
    "  X-Llmcache: HIT | MISS | REFRESH | SHARED | BYPASS | REPLAY-MISS\n"
    "      where the answer came from; record mode says REFRESH, off BYPASS, and\n"
    "      REPLAY-MISS is replay mode's 404 for a request it has no answer for\n"
    "  X-Llmcache-Key: the entry's key (64 hex digits); Age: seconds since it was stored\n\n"
    "GET /healthz answers {\"ok\":true}; GET /metrics the cache's counters and what\n"
    "they saved per model (Prometheus text format). SIGTERM or SIGINT: stop accepting,\n"
    "finish the requests in flight (up to 30 s), close the cache (syncing the log)\n"
    "and exit 0.\n\n"
    "exit status:\n  0  stopped by SIGTERM or SIGINT\n"
    "  2  usage error, cannot listen, cannot open the cache, a bad --prices file\n";

static int serve_parse(int argc, char **argv, serve_opts *o) {
    int i;
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    o->upstream = "https://api.openai.com";
    o->anthropic_upstream = "https://api.anthropic.com";
    o->max_body = (size_t)16 << 20;
    o->max_conn = 256;
    o->read_timeout_ms = 30000;
    o->upstream_timeout_ms = 600000;
    if (cli_env_mode(&o->mode)) return -1;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t d;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { fputs(serve_help, stdout); fputs(serve_help_headers, stdout); return 1; }
        if (strcmp(a, "--shared") == 0) { o->shared = 1; continue; }
        if (strcmp(a, "--quiet") == 0) { o->quiet = 1; continue; }
        if (!v) { cli_error("%s: unknown option, or it needs a value (`llmcache serve --help`)", a); return -1; }
        i++;
        if (strcmp(a, "--listen") == 0) o->listen = v;
        else if (strcmp(a, "--upstream") == 0) o->upstream = v;
        else if (strcmp(a, "--anthropic-upstream") == 0) o->anthropic_upstream = v;
        else if (strcmp(a, "--cache") == 0) o->cache = v;
        else if (strcmp(a, "--ns") == 0) o->ns = v;
        else if (strcmp(a, "--prices") == 0) o->prices = v;
        else if (strcmp(a, "--redis") == 0) o->redis = v;
        else if (strcmp(a, "--mode") == 0) {
            o->mode = llmcache_mode_parse(v);
            if (o->mode < 0) { cli_error("--mode: '%s' is not one of normal, record, replay, no-store, off", v); return -1; }
        }
        else if (strcmp(a, "--ttl") == 0 || strcmp(a, "--read-timeout") == 0 || strcmp(a, "--upstream-timeout") == 0) {
            if (cli_parse_duration(v, &d) != 0 || d <= 0) { cli_error("%s: bad duration '%s'", a, v); return -1; }
            if (a[2] == 't') o->ttl_ms = d;
            else if (a[2] == 'r') o->read_timeout_ms = d;
            else o->upstream_timeout_ms = d;
        } else if (strcmp(a, "--max-body") == 0 || strcmp(a, "--max-connections") == 0) {
            char *end;
            unsigned long long n = strtoull(v, &end, 10);
            if (*end || !*v || n == 0 || n > ((unsigned long long)1 << 30)) { cli_error("%s: bad number '%s'", a, v); return -1; }
            if (a[6] == 'b') o->max_body = (size_t)n;
            else o->max_conn = (unsigned)n;
        } else { cli_error("unknown option %s (`llmcache serve --help`)", a); return -1; }
    }
    return 0;
}

/* >>server state -------------------------------------------------------------- */
/* A connection, for the read deadline (--read-timeout): from its start, or from
 * the request line of a later request, until the request is read. The watchdog
 * cuts a connection that passes it (408 while a request is being read; a silent
 * close when idle between requests), however slowly its bytes keep coming. */
enum { CONN_READING = 1, CONN_ANSWERING, CONN_IDLE, CONN_CUT };
typedef struct sconn {
    struct sconn *prev, *next;       /* serve.conn_list, under serve.conn_mu */
    MHD_socket fd;                   /* MHD's; valid until NOTIFY_CLOSED, which comes before its close */
    pthread_mutex_t mu;              /* phase, api, deadline_ms: the connection's thread and the watchdog */
    int phase, api;                  /* CONN_*; API_* of the request being read */
    int64_t deadline_ms;
} sconn;

typedef struct serve {
    serve_opts o;
    llmcache *cache;
    llmcache_curl curl;              /* full URLs as endpoints: no key, no defaults added */
    pthread_mutex_t mu;
    pthread_cond_t cv;               /* broadcast when requests or workers reach 0 */
    unsigned conns, requests, workers;
    /* the read deadline's watchdog: its own lock, so that requests never wait for
       one another on it (each takes only its connection's lock) */
    pthread_mutex_t conn_mu;
    pthread_cond_t conn_cv;
    sconn *conn_list;                /* every open connection (under conn_mu) */
    int stopping;                    /* the watchdog ends (under conn_mu) */
} serve;

/* Upstream response headers for the client ("name\0value" each): the ones clients
 * rely on (serve_fwd_wanted), on misses and pass-through answers; never stored. */
typedef struct serve_fwd { char *h[SERVE_FWD_MAX]; size_t n; } serve_fwd;

enum { ROUTE_CALL = 1, ROUTE_PASS, ROUTE_HEALTH, ROUTE_METRICS };
enum { API_OPENAI = 0, API_ANTHROPIC = 1 };

/* One request: its upload, and (ROUTE_CALL) the state shared with its worker. */
typedef struct sreq {
    serve *sv;
    char *uri;                       /* raw, with its query string */
    int route, api, counted;
    char *body; size_t len, cap;
    int too_big, late;
    int64_t t0_ms;
    /* the call, shared with the worker under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;                        /* the worker and the connection's response */
    int source, finished, rc, n_events;
    char key_hex[65];
    int64_t created_ms;
    char *q; size_t q_len, q_off, q_cap;  /* events not yet sent to the client */
    int q_oom;
    llmcache_response resp;          /* the worker's, read after finished */
    /* the call's inputs, owned here */
    llmcache_request req;
    llmcache_call_options opts;
    char *endpoint, *ns;
    char *hdr[SERVE_MAX_HEADERS + 1]; size_t n_hdr;
    const char *label;               /* X-Llmcache for a miss: MISS, REFRESH or BYPASS */
    serve_fwd fwd;                   /* the upstream's headers (the worker's, under mu) */
    int mode;                        /* the call's LLMCACHE_MODE_* */
} sreq;

static int64_t serve_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sreq_free(sreq *r) {
    size_t i;
    if (!r) return;
    for (i = 0; i < r->n_hdr; i++) free(r->hdr[i]);
    for (i = 0; i < r->fwd.n; i++) free(r->fwd.h[i]);
    free(r->endpoint); free(r->ns); free(r->body); free(r->uri); free(r->q);
    llmcache_response_free(&r->resp);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* Drops one reference (the worker's or the response's); the last frees r. */
static void sreq_unref(sreq *r) {
    int last;
    pthread_mutex_lock(&r->mu);
    last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) sreq_free(r);
}

static int ieq(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

/* >>answers ------------------------------------------------------------------- */
/* An error body in the provider's own shape, so SDKs raise their usual exceptions;
 * its length (0 when it does not fit). */
static size_t serve_error_body(int api, const char *type, const char *msg, char *body, size_t cap) {
    int n;
    if (api == API_ANTHROPIC)
        n = snprintf(body, cap, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"%s\"}}", type, msg);
    else
        n = snprintf(body, cap, "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,\"code\":null}}",
                     msg, type);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static enum MHD_Result serve_error_as(struct MHD_Connection *con, int api, unsigned status, const char *type,
                                      const char *msg, const char *label, const char *key_hex) {
    char body[768];
    struct MHD_Response *resp;
    enum MHD_Result ok;
    size_t n = serve_error_body(api, type, msg, body, sizeof body);
    resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "X-Llmcache", label);
    if (key_hex && key_hex[0]) MHD_add_response_header(resp, "X-Llmcache-Key", key_hex);
    if (status == 503 || status == 413 || status == 408) MHD_add_response_header(resp, "Connection", "close");
    ok = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result serve_error(struct MHD_Connection *con, int api, unsigned status, const char *type,
                                   const char *msg) {
    return serve_error_as(con, api, status, type, msg, "BYPASS", NULL);
}

static enum MHD_Result serve_text(struct MHD_Connection *con, unsigned status, const char *type, const char *text) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                                MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ok;
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    ok = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* >>routing ------------------------------------------------------------------- */
/* The path of the raw URI (without its query) ends with one of the API's names. */
static int serve_api_path(const char *uri, int *api) {
    static const char *const names[] = { "/chat/completions", "/completions", "/responses", "/embeddings",
                                         "/messages" };
    size_t n = strcspn(uri, "?#"), i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t m = strlen(names[i]);
        if (n >= m && memcmp(uri + n - m, names[i], m) == 0) {
            *api = i == 4 ? API_ANTHROPIC : API_OPENAI;
            return 1;
        }
    }
    return 0;
}

/* A request header that must not go upstream: hop-by-hop (RFC 9110 7.6.1), set by
 * the transport, or ours. Accept-Encoding too: the answer is stored as received. */
static int serve_hop(const char *name) {
    static const char *const drop[] = { "connection", "keep-alive", "proxy-connection", "proxy-authorization",
        "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length",
        "content-type", "expect", "accept-encoding", "cache-control" };
    size_t i;
    for (i = 0; i < sizeof drop / sizeof drop[0]; i++) if (ieq(name, drop[i])) return 1;
    return strncasecmp(name, "x-llmcache-", 11) == 0;
}

/* An end-to-end response header that clients rely on: Retry-After, request ids,
 * the providers' own (openai-*, anthropic-*) and rate limits (x-ratelimit-*).
 * Hop-by-hop headers, Content-Type/-Length and anything else stay behind. */
static int serve_fwd_wanted(const char *name, size_t n) {
    static const char *const exact[] = { "retry-after", "x-request-id", "request-id" };
    static const char *const prefix[] = { "openai-", "anthropic-", "x-ratelimit-" };
    size_t i;
    for (i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (n == strlen(exact[i]) && strncasecmp(name, exact[i], n) == 0) return 1;
    for (i = 0; i < sizeof prefix / sizeof prefix[0]; i++)
        if (n > strlen(prefix[i]) && strncasecmp(name, prefix[i], strlen(prefix[i])) == 0) return 1;
    return 0;
}

/* Keeps name[0..nl) = value[0..vl) when it is wanted (and one line). */
static void serve_fwd_add(serve_fwd *f, const char *name, size_t nl, const char *value, size_t vl) {
    char *h;
    if (f->n >= SERVE_FWD_MAX || !serve_fwd_wanted(name, nl) || memchr(value, '\r', vl) || memchr(value, '\n', vl) ||
        memchr(name, ' ', nl))
        return;
    if (!(h = (char *)malloc(nl + vl + 2))) return;
    memcpy(h, name, nl); h[nl] = '\0';
    memcpy(h + nl + 1, value, vl); h[nl + 1 + vl] = '\0';
    f->h[f->n++] = h;
}

static void serve_fwd_apply(struct MHD_Response *resp, const serve_fwd *f) {
    size_t i;
    for (i = 0; i < f->n; i++) MHD_add_response_header(resp, f->h[i], f->h[i] + strlen(f->h[i]) + 1);
}

typedef struct hdr_walk { sreq *r; int oom; } hdr_walk;

static enum MHD_Result serve_collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    hdr_walk *w = (hdr_walk *)cls;
    size_t kl, vl;
    char *line;
    (void)kind;
    if (!key || !value || serve_hop(key) || w->r->n_hdr >= SERVE_MAX_HEADERS) return MHD_YES;
    kl = strlen(key); vl = strlen(value);
    line = (char *)malloc(kl + vl + 3);
    if (!line) { w->oom = 1; return MHD_NO; }
    memcpy(line, key, kl); memcpy(line + kl, ": ", 2); memcpy(line + kl + 2, value, vl + 1);
    w->r->hdr[w->r->n_hdr++] = line;
    return MHD_YES;
}

static void serve_hash_hex(const char *s, size_t len, char out[33]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char h[32];
    int i;
    llmcache_sha256(s, len, h);
    for (i = 0; i < 16; i++) { out[2 * i] = hex[h[i] >> 4]; out[2 * i + 1] = hex[h[i] & 15]; }
    out[32] = '\0';
}

/* The key's namespace: the prefix, the tenant (a hash of the credential, or
 * "shared"), a hash of the headers that change answers, and the client's own
 * addition. Returns NULL (and *bad) for an X-Llmcache-Namespace we refuse. */
static char *serve_namespace(const serve *sv, struct MHD_Connection *con, const char **bad) {
    static const char *const keyed[] = { "anthropic-version", "anthropic-beta", "openai-beta",
                                         "openai-organization", "openai-project" };
    const char *cred = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
    const char *user = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-Llmcache-Namespace");
    char tenant[33], heads[33], hbuf[2048], *ns;
    size_t hl = 0, i, n;
    if (!cred) cred = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "x-api-key");
    if (sv->o.shared) strcpy(tenant, "shared");
    else if (!cred) strcpy(tenant, "anonymous");
    else serve_hash_hex(cred, strlen(cred), tenant);
    for (i = 0; i < sizeof keyed / sizeof keyed[0]; i++) {
        const char *v = MHD_lookup_connection_value(con, MHD_HEADER_KIND, keyed[i]);
        int w;
        if (!v) continue;
        w = snprintf(hbuf + hl, sizeof hbuf - hl, "%s=%s\n", keyed[i], v);
        if (w < 0 || (size_t)w >= sizeof hbuf - hl) { *bad = "request headers too long"; return NULL; }
        hl += (size_t)w;
    }
    serve_hash_hex(hbuf, hl, heads);
    if (user) {
        if (strlen(user) > SERVE_NS_MAX) { *bad = "X-Llmcache-Namespace is longer than 128 bytes"; return NULL; }
        for (i = 0; user[i]; i++)
            if ((unsigned char)user[i] < 0x21 || (unsigned char)user[i] > 0x7e) {
                *bad = "X-Llmcache-Namespace must be printable ASCII without spaces";
                return NULL;
            }
    }
    n = strlen(sv->o.ns ? sv->o.ns : "") + 160 + (user ? strlen(user) : 0);
    ns = (char *)malloc(n);
    if (!ns) { *bad = "out of memory"; return NULL; }
    snprintf(ns, n, "%s%sserve/v1;t=%s;h=%s;n=%s", sv->o.ns ? sv->o.ns : "", sv->o.ns ? ";" : "", tenant,
             hl ? heads : "-", user ? user : "");
    return ns;
}

/* "stream": true at the top level of the JSON object body (the SSE framing then
 * comes from the provider; the library also notices text/event-stream). */
static int serve_wants_stream(const char *p, size_t n) {
    size_t i = 0;
    int depth = 0, expect_key = 0;
    while (i < n) {
        char ch = p[i];
        if (ch == '"') {
            size_t s = ++i;
            while (i < n && p[i] != '"') i += p[i] == '\\' ? 2 : 1;
            if (i >= n) return 0;
            if (depth == 1 && expect_key && i - s == 6 && memcmp(p + s, "stream", 6) == 0) {
                size_t j = i + 1;
                while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r' || p[j] == '\n' || p[j] == ':')) j++;
                return n - j >= 4 && memcmp(p + j, "true", 4) == 0;
            }
            expect_key = 0;
            i++;
            continue;
        }
        if (ch == '{' || ch == '[') { depth++; expect_key = ch == '{'; }
        else if (ch == '}' || ch == ']') depth--;
        else if (ch == ',') expect_key = depth == 1 || expect_key;
        i++;
    }
    return 0;
}

/* Cache-Control and X-Llmcache-* into the call's options; 0, or -1 with *bad. */
static int serve_controls(const serve *sv, struct MHD_Connection *con, sreq *r, const char **bad) {
    const char *cc = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Cache-Control");
    const char *ttl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-Llmcache-Ttl");
    const char *mode = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-Llmcache-Mode");
    r->mode = sv->o.mode;
    if (mode) {
        r->mode = llmcache_mode_parse(mode);
        if (r->mode < 0) { *bad = "X-Llmcache-Mode must be one of normal, record, replay, no-store, off"; return -1; }
        r->opts.mode = LLMCACHE_CALL_MODE(r->mode);
    }
    r->opts.ttl_ms = sv->o.ttl_ms ? sv->o.ttl_ms : LLMCACHE_TTL_DEFAULT;
    r->label = "MISS";
    while (cc && *cc) {
        size_t n;
        while (*cc == ' ' || *cc == ',') cc++;
        n = strcspn(cc, ",");
        while (n && cc[n - 1] == ' ') n--;
        if (n == 8 && strncasecmp(cc, "no-cache", 8) == 0) { r->opts.refresh = 1; r->label = "REFRESH"; }
        else if (n == 8 && strncasecmp(cc, "no-store", 8) == 0) r->opts.no_store = 1;
        else if (n > 8 && strncasecmp(cc, "max-age=", 8) == 0) {
            long long s = 0;
            size_t i;
            for (i = 8; i < n && cc[i] >= '0' && cc[i] <= '9' && s < 100000000000LL; i++) s = s * 10 + (cc[i] - '0');
            if (i != n) { *bad = "Cache-Control: max-age needs a number of seconds"; return -1; }
            if (s == 0) { r->opts.refresh = 1; r->label = "REFRESH"; }
            else r->opts.max_age_ms = (int64_t)s * 1000;
        }
        cc += strcspn(cc, ",");
    }
    if (ttl) {
        int64_t ms;
        if (cli_parse_duration(ttl, &ms) != 0 || ms <= 0) { *bad = "X-Llmcache-Ttl needs a duration such as 3600 or 1h"; return -1; }
        r->opts.ttl_ms = ms;
    }
    /* the contradictions llmcache_call refuses, said in the client's terms */
    if (r->mode == LLMCACHE_MODE_REPLAY && r->opts.refresh) {
        *bad = "Cache-Control: no-cache (or max-age=0) asks upstream, which replay mode never does";
        return -1;
    }
    if (r->mode == LLMCACHE_MODE_RECORD && r->opts.no_store) {
        *bad = "Cache-Control: no-store contradicts record mode, which stores every answer";
        return -1;
    }
    if (r->mode == LLMCACHE_MODE_RECORD) r->label = "REFRESH";
    else if (r->mode == LLMCACHE_MODE_OFF) r->label = "BYPASS";
    return 0;
}

/* >>the call (worker thread) -------------------------------------------------- */
static void serve_on_source(void *ctx, int event, const llmcache_response *head) {
    sreq *r = (sreq *)ctx;
    pthread_mutex_lock(&r->mu);
    r->source = event;
    llmcache_key_hex(&head->key, r->key_hex);
    r->created_ms = event == LLMCACHE_EVENT_HIT ? head->created_ms : 0;
    pthread_mutex_unlock(&r->mu);
}

/* The upstream's response headers, as the transport receives them. */
static void serve_on_header(void *ctx, const char *name, const char *value) {
    sreq *r = (sreq *)ctx;
    pthread_mutex_lock(&r->mu);
    serve_fwd_add(&r->fwd, name, strlen(name), value, strlen(value));
    pthread_mutex_unlock(&r->mu);
}

/* Queues one event for the client; never waits for it (a slow client costs memory,
 * at most the answer's size, never the flight's time). */
static void serve_on_chunk(void *ctx, const llmcache_chunk *ch) {
    sreq *r = (sreq *)ctx;
    pthread_mutex_lock(&r->mu);
    if (r->q_off == r->q_len) r->q_off = r->q_len = 0;
    if (r->q_len + ch->len > r->q_cap) {
        size_t cap = r->q_cap ? r->q_cap : 4096;
        char *nq;
        while (cap < r->q_len + ch->len) cap *= 2;
        nq = (char *)realloc(r->q, cap);
        if (!nq) r->q_oom = 1;
        else { r->q = nq; r->q_cap = cap; }
    }
    if (!r->q_oom) {
        memcpy(r->q + r->q_len, ch->data, ch->len);
        r->q_len += ch->len;
    }
    r->n_events++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void *serve_worker(void *arg) {
    sreq *r = (sreq *)arg;
    serve *sv = r->sv;
    llmcache_response resp;
    int rc = llmcache_call(sv->cache, &r->req, llmcache_curl_transport, &sv->curl, &r->opts, &resp);
    pthread_mutex_lock(&r->mu);
    r->resp = resp;
    r->rc = rc;
    r->finished = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    sreq_unref(r);
    pthread_mutex_lock(&sv->mu);
    if (--sv->workers == 0) pthread_cond_broadcast(&sv->cv);
    pthread_mutex_unlock(&sv->mu);
    return NULL;
}

/* The stream's body, event by event as they come. */
static ssize_t serve_read(void *cls, uint64_t pos, char *buf, size_t max) {
    sreq *r = (sreq *)cls;
    size_t n;
    (void)pos;
    pthread_mutex_lock(&r->mu);
    while (r->q_off == r->q_len && !r->finished) pthread_cond_wait(&r->cv, &r->mu);
    if (r->q_off < r->q_len) {
        n = r->q_len - r->q_off < max ? r->q_len - r->q_off : max;
        memcpy(buf, r->q + r->q_off, n);
        r->q_off += n;
        pthread_mutex_unlock(&r->mu);
        return (ssize_t)n;
    }
    n = r->rc == LLMCACHE_OK && !r->q_oom;
    pthread_mutex_unlock(&r->mu);
    return n ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;   /* a cut shows as a cut */
}

static void serve_read_done(void *cls) { sreq_unref((sreq *)cls); }

/* X-Llmcache (BYPASS when the answer is passed through unstored: pass says so), its key, Age. */
static void serve_cache_headers(struct MHD_Response *resp, sreq *r, int pass) {
    char age[32];
    const char *label = pass ? "BYPASS" : r->source == LLMCACHE_EVENT_HIT ? "HIT"
                      : r->source == LLMCACHE_EVENT_SHARED ? "SHARED" : r->label;
    MHD_add_response_header(resp, "X-Llmcache", label);
    if (r->key_hex[0]) MHD_add_response_header(resp, "X-Llmcache-Key", r->key_hex);
    if (r->source == LLMCACHE_EVENT_HIT && r->created_ms > 0) {
        int64_t s = (cli_now_ms() - r->created_ms) / 1000;
        snprintf(age, sizeof age, "%lld", (long long)(s > 0 ? s : 0));
        MHD_add_response_header(resp, "Age", age);
    }
}

/* The whole answer at once: a call that finished without streaming an event. */
static enum MHD_Result serve_answer(struct MHD_Connection *con, sreq *r) {
    struct MHD_Response *resp;
    enum MHD_Result ok;
    int rc = r->rc;
    unsigned status;
    status = (unsigned)r->resp.status;
    if (rc == LLMCACHE_EINVAL) ok = serve_error(con, r->api, 400, "invalid_request_error",
                                                "the request body is not valid JSON (RFC 8259, I-JSON)");
    else if (rc == LLMCACHE_MISS) {                   /* replay mode: not recorded; upstream not asked */
        char key[65], msg[256];
        llmcache_key_hex(&r->resp.key, key);
        snprintf(msg, sizeof msg, "llmcache replay: no recorded answer for this request (key %s); "
                 "record it first (--mode record, or X-Llmcache-Mode: record)", key);
        ok = serve_error_as(con, r->api, 404, r->api == API_ANTHROPIC ? "not_found_error" : "invalid_request_error",
                            msg, "REPLAY-MISS", key);
    }
    else if ((rc == LLMCACHE_OK || rc == LLMCACHE_EHTTP || rc == LLMCACHE_EREJECTED) && status >= 100 && status <= 999) {
        resp = MHD_create_response_from_buffer(r->resp.len, r->resp.body, MHD_RESPMEM_MUST_COPY);
        if (!resp) ok = MHD_NO;
        else {
            serve_cache_headers(resp, r, rc != LLMCACHE_OK);
            serve_fwd_apply(resp, &r->fwd);
            MHD_add_response_header(resp, "Content-Type", r->resp.n_chunks ? "text/event-stream" : "application/json");
            ok = MHD_queue_response(con, status, resp);
            MHD_destroy_response(resp);
        }
    } else ok = serve_error(con, r->api, 502, "api_error", "the upstream failed (no answer, timeout or a cut transfer)");
    return ok;
}

static enum MHD_Result serve_call(serve *sv, struct MHD_Connection *con, sreq *r) {
    const char *bad = NULL;
    hdr_walk w;
    pthread_t th;
    pthread_attr_t attr;
    struct MHD_Response *resp;
    enum MHD_Result ok;
    const char *base = r->api == API_ANTHROPIC ? sv->o.anthropic_upstream : sv->o.upstream;
    size_t bl = strlen(base), pl = strcspn(r->uri, "#");
    int streamed;

    while (bl && base[bl - 1] == '/') bl--;
    r->ns = serve_namespace(sv, con, &bad);
    if (!r->ns) return serve_error(con, r->api, 400, "invalid_request_error", bad);
    if (serve_controls(sv, con, r, &bad) != 0) return serve_error(con, r->api, 400, "invalid_request_error", bad);
    r->endpoint = (char *)malloc(bl + pl + 1);
    if (!r->endpoint) return serve_error(con, r->api, 500, "api_error", "out of memory");
    memcpy(r->endpoint, base, bl);
    memcpy(r->endpoint + bl, r->uri, pl);
    r->endpoint[bl + pl] = '\0';
    w.r = r; w.oom = 0;
    MHD_get_connection_values(con, MHD_HEADER_KIND, serve_collect, &w);
    if (w.oom) return serve_error(con, r->api, 500, "api_error", "out of memory");
    r->hdr[r->n_hdr] = NULL;
    r->req.endpoint = r->endpoint;
    r->req.body = r->body ? r->body : "";
    r->req.body_len = r->len;
    r->req.stream = serve_wants_stream(r->req.body, r->len);
    r->req.headers = (const char *const *)r->hdr;
    r->req.timeout_ms = sv->o.upstream_timeout_ms;
    r->opts.ns = r->ns;
    r->opts.on_chunk = serve_on_chunk;
    r->opts.on_source = serve_on_source;
    r->opts.on_header = serve_on_header;
    r->opts.chunk_ctx = r;

    if (!r->req.stream) {                             /* nothing to forward early: no hand-off */
        llmcache_response out;
        r->rc = llmcache_call(sv->cache, &r->req, llmcache_curl_transport, &sv->curl, &r->opts, &out);
        r->resp = out;
        r->finished = 1;
        return serve_answer(con, r);
    }
    pthread_mutex_lock(&r->mu);
    r->refs++;                                        /* the worker's */
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_lock(&sv->mu);
    sv->workers++;
    pthread_mutex_unlock(&sv->mu);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, serve_worker, r) != 0) {
        pthread_attr_destroy(&attr);
        sreq_unref(r);
        pthread_mutex_lock(&sv->mu);
        sv->workers--;
        pthread_mutex_unlock(&sv->mu);
        return serve_error(con, r->api, 503, r->api == API_ANTHROPIC ? "overloaded_error" : "server_error",
                           "the proxy cannot start a thread");
    }
    pthread_attr_destroy(&attr);

    pthread_mutex_lock(&r->mu);
    while (!r->finished && r->n_events == 0) pthread_cond_wait(&r->cv, &r->mu);
    streamed = r->n_events > 0;
    if (streamed) r->refs++;                          /* the stream reader's */
    pthread_mutex_unlock(&r->mu);

    if (streamed) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, serve_read, r, serve_read_done);
        if (!resp) { sreq_unref(r); return MHD_NO; }
        pthread_mutex_lock(&r->mu);
        serve_cache_headers(resp, r, 0);
        serve_fwd_apply(resp, &r->fwd);
        pthread_mutex_unlock(&r->mu);
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        ok = MHD_queue_response(con, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ok;
    }
    return serve_answer(con, r);
}

/* >>metrics ------------------------------------------------------------------- */
/* The handle's counters and the accounting rows (llmcache_stats_write), as
 * Prometheus scrapes them. */
static enum MHD_Result serve_metrics(serve *sv, struct MHD_Connection *con) {
    struct MHD_Response *resp;
    enum MHD_Result ok;
    char *text;
    size_t len;
    if (cli_stats_text(sv->cache, LLMCACHE_STATS_PROMETHEUS, &text, &len) != LLMCACHE_OK)
        return serve_error(con, API_OPENAI, 500, "api_error", "the statistics could not be written");
    resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_COPY);
    free(text);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    ok = MHD_queue_response(con, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* >>pass-through (uncached) --------------------------------------------------- */
typedef struct pass_out { char *p; size_t len, cap; int oom; char ctype[128]; serve_fwd fwd; } pass_out;

static size_t pass_body(char *p, size_t size, size_t n, void *ud) {
    pass_out *o = (pass_out *)ud;
    size_t len = size * n;
    if (o->len + len > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        char *np;
        while (cap < o->len + len) cap *= 2;
        if (cap > ((size_t)256 << 20) || !(np = (char *)realloc(o->p, cap))) { o->oom = 1; return 0; }
        o->p = np; o->cap = cap;
    }
    memcpy(o->p + o->len, p, len);
    o->len += len;
    return len;
}

/* Content-Type, and the headers clients rely on (serve_fwd_wanted), of the answer. */
static size_t pass_header(char *p, size_t size, size_t n, void *ud) {
    pass_out *o = (pass_out *)ud;
    size_t len = size * n, colon, v;
    const char *c = (const char *)memchr(p, ':', len);
    if (!c || (len >= 5 && strncmp(p, "HTTP/", 5) == 0)) return size * n;   /* the status line, the end */
    colon = (size_t)(c - p);
    for (v = colon + 1; v < len && (p[v] == ' ' || p[v] == '\t'); v++) {}
    while (len > v && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' ')) len--;
    if (colon == 12 && strncasecmp(p, "content-type", 12) == 0) {
        if (len - v < sizeof o->ctype) { memcpy(o->ctype, p + v, len - v); o->ctype[len - v] = '\0'; }
    } else serve_fwd_add(&o->fwd, p, colon, p + v, len - v);
    return size * n;
}

static enum MHD_Result serve_pass(serve *sv, struct MHD_Connection *con, sreq *r, const char *method) {
    const char *anth = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "anthropic-version");
    const char *ct = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type");
    const char *base = anth || strncmp(r->uri, "/v1/messages", 12) == 0 ? sv->o.anthropic_upstream : sv->o.upstream;
    struct curl_slist *hl = NULL;
    struct MHD_Response *resp;
    pass_out out;
    hdr_walk w;
    enum MHD_Result ok;
    char *url, *line = NULL;
    size_t bl = strlen(base), i;
    long status = 0;
    CURL *curl;
    int failed = 1;
    while (bl && base[bl - 1] == '/') bl--;
    url = (char *)malloc(bl + strlen(r->uri) + 1);
    if (!url) return serve_error(con, API_OPENAI, 500, "api_error", "out of memory");
    memcpy(url, base, bl);
    strcpy(url + bl, r->uri);
    memset(&out, 0, sizeof out);
    w.r = r; w.oom = 0;
    MHD_get_connection_values(con, MHD_HEADER_KIND, serve_collect, &w);
    for (i = 0; i < r->n_hdr; i++) hl = curl_slist_append(hl, r->hdr[i]);
    if (ct && (line = (char *)malloc(strlen(ct) + 16)) != NULL) {
        sprintf(line, "Content-Type: %s", ct);
        hl = curl_slist_append(hl, line);
    }
    hl = curl_slist_append(hl, "Expect:");
    curl = curl_easy_init();
    if (curl) {
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (r->len || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r->body ? r->body : "");
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
        } else if (strcmp(method, "HEAD") == 0) curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, pass_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, (void *)&out);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, pass_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, (void *)&out);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(sv->o.upstream_timeout_ms > 0x7fffffff ? 0x7fffffff : sv->o.upstream_timeout_ms));
        failed = curl_easy_perform(curl) != CURLE_OK || curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
                 status < 100 || status > 999;
        curl_easy_cleanup(curl);
    }
    curl_slist_free_all(hl);
    free(line);
    free(url);
    resp = failed ? NULL : MHD_create_response_from_buffer(out.len, out.p ? out.p : (char *)"", MHD_RESPMEM_MUST_COPY);
    free(out.p);
    if (resp) serve_fwd_apply(resp, &out.fwd);
    for (i = 0; i < out.fwd.n; i++) free(out.fwd.h[i]);
    if (failed) return serve_error(con, API_OPENAI, 502, "api_error", "the upstream failed");
    if (!resp) return MHD_NO;
    if (out.ctype[0]) MHD_add_response_header(resp, "Content-Type", out.ctype);
    MHD_add_response_header(resp, "X-Llmcache", "BYPASS");
    ok = MHD_queue_response(con, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* >>read deadline ------------------------------------------------------------- */
static sconn *serve_sconn(struct MHD_Connection *con) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (sconn *)ci->socket_context : NULL;
}

/* Sets a connection's phase (and, READING or IDLE, a fresh deadline); returns 0 when
 * the watchdog has cut it already (the request must not be answered). */
static int serve_phase(serve *sv, struct MHD_Connection *con, int phase, int only_from) {
    sconn *c = serve_sconn(con);
    int ok = 1;
    if (!c) return 1;
    pthread_mutex_lock(&c->mu);
    if (c->phase == CONN_CUT) ok = 0;
    else if (!only_from || c->phase == only_from) {
        c->phase = phase;
        if (phase != CONN_ANSWERING) c->deadline_ms = serve_now_ms() + sv->o.read_timeout_ms;
    }
    pthread_mutex_unlock(&c->mu);
    return ok;
}

/* Cuts c (caller holds c->mu): a 408 when a request was being read, then both
 * directions shut, so MHD's thread sees the end and closes the connection. */
static void serve_cut_locked(sconn *c) {
    char body[384], msg[600];
    size_t n = 0;
    int m;
    if (c->phase == CONN_READING) {
        n = serve_error_body(c->api, "invalid_request_error",
                             "the request was not read within the proxy's --read-timeout", body, sizeof body);
        m = snprintf(msg, sizeof msg, "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                     "X-Llmcache: BYPASS\r\nConnection: close\r\nContent-Length: %u\r\n\r\n%.*s",
                     (unsigned)n, (int)n, body);
        if (m > 0 && (size_t)m < sizeof msg && send(c->fd, msg, (size_t)m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {}
    }
    shutdown(c->fd, SHUT_RDWR);
    c->phase = CONN_CUT;
}

static void *serve_watchdog(void *arg) {
    serve *sv = (serve *)arg;
    pthread_mutex_lock(&sv->conn_mu);
    while (!sv->stopping) {
        struct timespec ts;
        int64_t now = serve_now_ms();
        sconn *c;
        for (c = sv->conn_list; c; c = c->next) {
            pthread_mutex_lock(&c->mu);
            if ((c->phase == CONN_READING || c->phase == CONN_IDLE) && now >= c->deadline_ms) serve_cut_locked(c);
            pthread_mutex_unlock(&c->mu);
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&sv->conn_cv, &sv->conn_mu, &ts);
    }
    pthread_mutex_unlock(&sv->conn_mu);
    return NULL;
}

/* >>libmicrohttpd callbacks ---------------------------------------------------- */
/* The first callback of a request: keeps its raw URI (with the query string). */
static void *serve_uri(void *cls, const char *uri, struct MHD_Connection *con) {
    serve *sv = (serve *)cls;
    sreq *r = (sreq *)calloc(1, sizeof *r);
    sconn *c = serve_sconn(con);
    int api = API_OPENAI;
    if (c) {                                          /* a later request's line starts its deadline */
        if (uri) serve_api_path(uri, &api);
        pthread_mutex_lock(&c->mu);
        if (c->phase == CONN_IDLE) {
            c->phase = CONN_READING;
            c->deadline_ms = serve_now_ms() + sv->o.read_timeout_ms;
        }
        c->api = api;
        pthread_mutex_unlock(&c->mu);
    }
    if (!r) return NULL;
    r->sv = sv;
    r->uri = strdup(uri ? uri : "/");
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->refs = 1;
    r->t0_ms = serve_now_ms();
    pthread_mutex_lock(&sv->mu);
    sv->requests++;
    r->counted = 1;
    pthread_mutex_unlock(&sv->mu);
    return r;
}

static void serve_completed(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode toe) {
    serve *sv = (serve *)cls;
    sreq *r = (sreq *)*con_cls;
    (void)toe;
    if (!r) return;
    *con_cls = NULL;
    /* the next request on this connection gets its read deadline again */
    MHD_set_connection_option(con, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)((sv->o.read_timeout_ms + 999) / 1000));
    serve_phase(sv, con, CONN_IDLE, 0);
    if (r->counted) {
        pthread_mutex_lock(&sv->mu);
        if (--sv->requests == 0) pthread_cond_broadcast(&sv->cv);
        pthread_mutex_unlock(&sv->mu);
    }
    sreq_unref(r);
}

static void serve_conn(void *cls, struct MHD_Connection *con, void **socket_ctx, enum MHD_ConnectionNotificationCode toe) {
    serve *sv = (serve *)cls;
    sconn *c = NULL;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci && (c = (sconn *)calloc(1, sizeof *c)) != NULL) {
            pthread_mutex_init(&c->mu, NULL);
            c->fd = ci->connect_fd;
            c->phase = CONN_READING;
            c->deadline_ms = serve_now_ms() + sv->o.read_timeout_ms;
        }
        *socket_ctx = c;
    } else c = (sconn *)*socket_ctx;
    pthread_mutex_lock(&sv->mu);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) sv->conns++;
    else sv->conns--;
    pthread_mutex_unlock(&sv->mu);
    if (!c) return;
    pthread_mutex_lock(&sv->conn_mu);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        c->next = sv->conn_list;
        if (c->next) c->next->prev = c;
        sv->conn_list = c;
    } else {
        if (c->prev) c->prev->next = c->next; else sv->conn_list = c->next;
        if (c->next) c->next->prev = c->prev;
    }
    pthread_mutex_unlock(&sv->conn_mu);
    if (toe != MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        *socket_ctx = NULL;
    }
}

static enum MHD_Result serve_access(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                                    const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    serve *sv = (serve *)cls;
    sreq *r = (sreq *)*con_cls;
    (void)version;
    if (!r) return MHD_NO;
    if (!r->route) {                                  /* the first call: headers only */
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
        const char *ct = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type");
        unsigned conns;
        int api = API_OPENAI;
        pthread_mutex_lock(&sv->mu);
        conns = sv->conns;
        pthread_mutex_unlock(&sv->mu);
        if (strcmp(url, "/healthz") == 0) r->route = ROUTE_HEALTH;
        else if (strcmp(url, "/metrics") == 0) r->route = ROUTE_METRICS;
        else if (strcmp(method, "POST") == 0 && serve_api_path(r->uri, &api)) r->route = ROUTE_CALL;
        else r->route = ROUTE_PASS;
        r->api = api;
        if (conns > sv->o.max_conn)
            return !serve_phase(sv, con, CONN_ANSWERING, 0) ? MHD_NO :
                   serve_error(con, api, 503, api == API_ANTHROPIC ? "overloaded_error" : "server_error",
                               "the proxy is serving its maximum number of connections; retry later");
        if (cl && strtoull(cl, NULL, 10) > sv->o.max_body)
            return !serve_phase(sv, con, CONN_ANSWERING, 0) ? MHD_NO :
                   serve_error(con, api, 413, api == API_ANTHROPIC ? "request_too_large" : "invalid_request_error",
                               "the request body is larger than the proxy's --max-body");
        if (r->route == ROUTE_CALL && (!ct || strncasecmp(ct, "application/json", 16) != 0))
            return !serve_phase(sv, con, CONN_ANSWERING, 0) ? MHD_NO :
                   serve_error(con, api, 415, "invalid_request_error",
                               "the request body must be JSON (Content-Type: application/json)");
        return MHD_YES;
    }
    if (*upload_size) {                               /* a piece of the body */
        size_t n = *upload_size;
        *upload_size = 0;
        if (serve_now_ms() - r->t0_ms > sv->o.read_timeout_ms) r->late = 1;
        if (r->too_big || r->late) return MHD_YES;    /* read and dropped; answered at the end */
        if (r->len + n > sv->o.max_body) { r->too_big = 1; return MHD_YES; }
        if (r->len + n + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : 4096;
            char *nb;
            while (cap < r->len + n + 1) cap *= 2;
            nb = (char *)realloc(r->body, cap);
            if (!nb) { r->too_big = 1; return MHD_YES; }
            r->body = nb; r->cap = cap;
        }
        memcpy(r->body + r->len, upload, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    /* the request is read: no idle deadline while the answer is made, and the
       watchdog leaves it alone (unless it cut the connection first) */
    if (!serve_phase(sv, con, CONN_ANSWERING, 0)) return MHD_NO;
    MHD_set_connection_option(con, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    if (r->too_big)
        return serve_error(con, r->api, 413, r->api == API_ANTHROPIC ? "request_too_large" : "invalid_request_error",
                           "the request body is larger than the proxy's --max-body");
    if (r->late)
        return serve_error(con, r->api, 408, "invalid_request_error", "the request body came too slowly (--read-timeout)");
    switch (r->route) {
    case ROUTE_HEALTH: return serve_text(con, 200, "application/json", "{\"ok\":true}\n");
    case ROUTE_METRICS: return serve_metrics(sv, con);
    case ROUTE_CALL: return serve_call(sv, con, r);
    default: return serve_pass(sv, con, r, method);
    }
}

/* >>main ---------------------------------------------------------------------- */
static int serve_listen_addr(const char *s, struct sockaddr_in *sa) {
    const char *colon = strrchr(s, ':');
    char host[64];
    char *end;
    unsigned long port;
    if (!colon || (size_t)(colon - s) >= sizeof host) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = strtoul(colon + 1, &end, 10);
    if (*end || !colon[1] || port > 65535) return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!host[0] || strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* --redis HOST:PORT (a name or an address; [v6]:PORT too) into *rc. */
static int serve_redis_addr(const char *s, llmcache_redis_config *rc, char *host, size_t cap) {
    const char *colon = strrchr(s, ':');
    char *end;
    unsigned long port;
    size_t hl;
    if (!colon || colon == s || !colon[1]) return -1;
    hl = (size_t)(colon - s);
    if (s[0] == '[' && colon[-1] == ']') { s++; hl -= 2; }
    if (hl == 0 || hl >= cap) return -1;
    port = strtoul(colon + 1, &end, 10);
    if (*end || port == 0 || port > 65535) return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    memset(rc, 0, sizeof *rc);
    rc->host = host;
    rc->port = (int)port;
    return 0;
}

int cli_serve_main(int argc, char **argv) {
    serve sv;
    llmcache_config cfg;
    llmcache_redis_config redis;
    llmcache_prices *prices = NULL;
    char redis_host[256];
    struct sockaddr_in sa;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    sigset_t sigs;
    pthread_t watchdog;
    int sig = 0, rc, drained;
    int64_t until;
    cli_cmd = "serve";
    memset(&sv, 0, sizeof sv);
    rc = serve_parse(argc, argv, &sv.o);
    if (rc) return rc > 0 ? 0 : CLI_EXIT_FAIL;
    if (serve_listen_addr(sv.o.listen, &sa) != 0) { cli_error("--listen: want IPV4:PORT, got '%s'", sv.o.listen); return CLI_EXIT_FAIL; }
    memset(&cfg, 0, sizeof cfg);
    cfg.path = sv.o.cache;
    cfg.ttl_ms = sv.o.ttl_ms;
    cfg.mode = sv.o.mode;
    if (sv.o.redis) {
        if (serve_redis_addr(sv.o.redis, &redis, redis_host, sizeof redis_host) != 0) {
            cli_error("--redis: want HOST:PORT, got '%s'", sv.o.redis);
            return CLI_EXIT_FAIL;
        }
        cfg.redis = &redis;
    }
    if (sv.o.prices && cli_load_prices(sv.o.prices, &prices)) return CLI_EXIT_FAIL;
    cfg.prices = prices;
    rc = llmcache_open(&sv.cache, &cfg);
    llmcache_free(prices);                           /* copied by the open */
    if (rc == LLMCACHE_EUNSUPPORTED && sv.o.redis) {
        cli_error("--redis: this build has no Redis tier (it needs hiredis, Debian libhiredis-dev, when it is built)");
        return CLI_EXIT_FAIL;
    }
    if (rc != LLMCACHE_OK) { cli_error("%s: %s", sv.o.cache ? sv.o.cache : "(memory)", cli_result(rc)); return CLI_EXIT_FAIL; }
    sv.curl.kind = LLMCACHE_CURL_OPENAI;             /* endpoints are full URLs; credentials are the client's */
    sv.curl.timeout_ms = sv.o.upstream_timeout_ms;
    pthread_mutex_init(&sv.mu, NULL);
    pthread_cond_init(&sv.cv, NULL);
    pthread_mutex_init(&sv.conn_mu, NULL);
    pthread_cond_init(&sv.conn_cv, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    /* signals are taken by sigwait below, never delivered to a worker */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                         MHD_USE_ITC,
                         0, NULL, NULL, serve_access, &sv,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_CONNECTION_LIMIT, sv.o.max_conn + SERVE_CONN_SLACK,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((sv.o.read_timeout_ms + 999) / 1000),
                         MHD_OPTION_URI_LOG_CALLBACK, serve_uri, &sv,
                         MHD_OPTION_NOTIFY_COMPLETED, serve_completed, &sv,
                         MHD_OPTION_NOTIFY_CONNECTION, serve_conn, &sv,
                         MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                         MHD_OPTION_END);
    if (!d) {
        cli_error("cannot listen on %s", sv.o.listen);
        llmcache_close(sv.cache);
        return CLI_EXIT_FAIL;
    }
    if (pthread_create(&watchdog, NULL, serve_watchdog, &sv) != 0) {
        cli_error("cannot start a thread");
        MHD_stop_daemon(d);
        llmcache_close(sv.cache);
        return CLI_EXIT_FAIL;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (!sv.o.quiet) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
        printf("llmcache serve: listening on http://%s:%u (cache %s)\n", ip, info ? (unsigned)info->port : 0u,
               sv.o.cache ? sv.o.cache : "in memory");
        fflush(stdout);
    }
    while (sig != SIGTERM && sig != SIGINT) sigwait(&sigs, &sig);

    /* stop accepting, let the requests in flight finish, then close */
    {
        MHD_socket ls = MHD_quiesce_daemon(d);       /* MHD hands the listening socket back */
        if (ls != MHD_INVALID_SOCKET) close(ls);     /* new connections are refused from now on */
    }
    until = serve_now_ms() + SERVE_DRAIN_MS;
    pthread_mutex_lock(&sv.mu);
    while ((sv.requests || sv.workers) && serve_now_ms() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&sv.cv, &sv.mu, &ts);
    }
    drained = sv.requests == 0 && sv.workers == 0;
    pthread_mutex_unlock(&sv.mu);
    MHD_stop_daemon(d);
    pthread_mutex_lock(&sv.conn_mu);
    sv.stopping = 1;
    pthread_cond_broadcast(&sv.conn_cv);
    pthread_mutex_unlock(&sv.conn_mu);
    pthread_join(watchdog, NULL);
    if (drained) llmcache_close(sv.cache);           /* syncs the log */
    curl_global_cleanup();
    if (!sv.o.quiet) { printf("llmcache serve: stopped\n"); fflush(stdout); }
    return drained ? 0 : CLI_EXIT_FAIL;
}
#endif /* LLMCACHE_SERVE */
