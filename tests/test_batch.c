/* tests/test_batch.c - llmcache_call_many (order, concurrency, dedup, cancellation,
 * resume) and the retries of llmcache_call (429/5xx/transport failures, backoff,
 * Retry-After in both forms). The transports here are in-process C functions that
 * answer like a provider; tests/test_cli_batch.sh drives the same code over HTTP
 * against tests/fake_provider.py. */
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- a provider in a function: answers {"echo": BODY} after the scripted failures */
typedef struct provider {
    llmcache__mutex mu;
    llmcache__cond cv;
    int calls, inflight, max_inflight;
    int barrier;                 /* the first `barrier` calls wait until that many are in flight */
    int fail_times;              /* per distinct body: answer `fail_status` this many times first */
    int fail_status;             /* 0 = a transport failure (-1) */
    const char *retry_after;     /* Retry-After sent with a failure; NULL = none */
    int stream_then_cut;         /* send one SSE event, then fail */
    char bodies[64][64]; int seen[64]; int nbodies;
    int64_t first_ms, second_ms; /* when the first two calls came */
} provider;

static void provider_init(provider *p) {
    memset(p, 0, sizeof *p);
    llmcache__mutex_init(&p->mu);
    llmcache__cond_init(&p->cv);
}
static void provider_done(provider *p) {
    llmcache__cond_destroy(&p->cv);
    llmcache__mutex_destroy(&p->mu);
}

static int transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    provider *p = (provider *)ctx;
    char out[256];
    int i, fail = 0, n;
    llmcache__lock(&p->mu);
    n = ++p->calls;
    if (n == 1) p->first_ms = llmcache__mono_us() / 1000;
    if (n == 2) p->second_ms = llmcache__mono_us() / 1000;
    if (++p->inflight > p->max_inflight) p->max_inflight = p->inflight;
    if (n <= p->barrier) {
        int64_t deadline = llmcache__mono_us() + 20000000;   /* generous: a busy machine */
        llmcache__cond_broadcast(&p->cv);
        while (p->inflight < p->barrier && llmcache__mono_us() < deadline) llmcache__cond_timedwait(&p->cv, &p->mu, 100);
    }
    if (p->fail_times) {
        for (i = 0; i < p->nbodies && strcmp(p->bodies[i], req->body) != 0; i++) {}
        if (i == p->nbodies && i < 64) { snprintf(p->bodies[i], 64, "%s", req->body); p->nbodies++; }
        if (i < 64 && p->seen[i]++ < p->fail_times) fail = 1;
    }
    llmcache__unlock(&p->mu);
    if (n > p->barrier) llmcache__sleep_ms((n * 7) % 4);     /* finish out of order */
    llmcache__lock(&p->mu);
    p->inflight--;
    llmcache__unlock(&p->mu);
    if (p->stream_then_cut) {
        static const char ev[] = "data: {\"x\":1}\n\n";
        llmcache_sink_header(sink, "Content-Type", "text/event-stream");
        llmcache_sink_write(sink, ev, sizeof ev - 1);
        return -1;
    }
    if (fail) {
        if (p->retry_after) llmcache_sink_header(sink, "Retry-After", p->retry_after);
        if (!p->fail_status) return -1;
        llmcache_sink_write(sink, "{\"error\":{}}", 12);
        return p->fail_status;
    }
    snprintf(out, sizeof out, "{\"echo\":%.*s}", (int)req->body_len, req->body);
    llmcache_sink_write(sink, out, strlen(out));
    return 200;
}

static llmcache *open_mem(void) {
    llmcache *c = NULL;
    CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
    return c;
}

static void make_reqs(llmcache_request *reqs, char (*bodies)[48], size_t n, size_t distinct) {
    size_t i;
    for (i = 0; i < n; i++) {
        snprintf(bodies[i], 48, "{\"q\":%zu}", i % distinct);
        memset(&reqs[i], 0, sizeof reqs[i]);
        reqs[i].endpoint = "test";
        reqs[i].body = bodies[i];
        reqs[i].body_len = strlen(bodies[i]);
    }
}

static int echoes(const llmcache_response *r, size_t q) {
    char want[64];
    snprintf(want, sizeof want, "{\"echo\":{\"q\":%zu}}", q);
    return r->body && r->len == strlen(want) && memcmp(r->body, want, r->len) == 0;
}

/* ---- order and bounded concurrency */
static void test_order(void) {
    enum { N = 200, CONC = 8 };
    static llmcache_request reqs[N];
    static char bodies[N][48];
    static llmcache_response out[N];
    static int rcs[N];
    llmcache_batch_options o;
    provider p;
    llmcache *c = open_mem();
    size_t i;
    int ok = 1;
    provider_init(&p);
    p.barrier = CONC;
    make_reqs(reqs, bodies, N, N);
    memset(&o, 0, sizeof o);
    o.concurrency = CONC;
    o.results = rcs;
    CHECK_EQ(llmcache_call_many(c, reqs, N, transport, &p, &o, out), LLMCACHE_OK);
    for (i = 0; i < N; i++) {
        if (rcs[i] != LLMCACHE_OK || !echoes(&out[i], i) || out[i].from_cache || out[i].status != 200) ok = 0;
        llmcache_response_free(&out[i]);
    }
    CHECK_MSG(ok, "every response answers its own request, in order");
    CHECK_EQ(p.calls, N);
    CHECK_EQ(p.max_inflight, CONC);      /* reached (the barrier) and never passed */
    /* again: all hits, no call */
    CHECK_EQ(llmcache_call_many(c, reqs, N, transport, &p, &o, out), LLMCACHE_OK);
    for (i = 0, ok = 1; i < N; i++) {
        if (rcs[i] != LLMCACHE_OK || !echoes(&out[i], i) || !out[i].from_cache) ok = 0;
        llmcache_response_free(&out[i]);
    }
    CHECK_MSG(ok, "the second run is all hits, in order");
    CHECK_EQ(p.calls, N);
    /* n = 0 and bad arguments */
    CHECK_EQ(llmcache_call_many(c, reqs, 0, transport, &p, NULL, out), LLMCACHE_OK);
    CHECK_EQ(llmcache_call_many(c, NULL, 3, transport, &p, NULL, out), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_call_many(c, reqs, 3, NULL, &p, NULL, out), LLMCACHE_EINVAL);
    llmcache_close(c);
    provider_done(&p);
}

/* ---- identical requests inside a batch are made once */
static int count_progress(void *ctx, size_t done, size_t total, size_t hits, size_t errors) {
    size_t *last = (size_t *)ctx;
    CHECK(done > last[0] && done <= total && hits <= done && errors <= done);
    last[0] = done; last[1] = total; last[2] = hits; last[3] = errors;
    return 0;
}

static void test_dedup(void) {
    enum { N = 60, DISTINCT = 5 };
    static llmcache_request reqs[N];
    static char bodies[N][48];
    static llmcache_response out[N];
    static int rcs[N];
    llmcache_batch_options o;
    llmcache_stats st;
    provider p;
    llmcache *c = open_mem();
    size_t i, shared = 0, last[4] = {0, 0, 0, 0};
    int ok = 1;
    provider_init(&p);
    make_reqs(reqs, bodies, N, DISTINCT);
    snprintf(bodies[N - 1], 48, "{ \"q\" : 4 }");           /* the same key as {"q":4} */
    reqs[N - 1].body_len = strlen(bodies[N - 1]);
    snprintf(bodies[N - 2], 48, "{\"q\":");                  /* malformed: fails alone */
    reqs[N - 2].body_len = strlen(bodies[N - 2]);
    memset(&o, 0, sizeof o);
    o.concurrency = 4;
    o.results = rcs;
    o.progress = count_progress;
    o.progress_ctx = last;
    CHECK_EQ(llmcache_call_many(c, reqs, N, transport, &p, &o, out), LLMCACHE_OK);
    CHECK_EQ(p.calls, DISTINCT);
    for (i = 0; i < N; i++) {
        if (i == N - 2) { CHECK_EQ(rcs[i], LLMCACHE_EINVAL); llmcache_response_free(&out[i]); continue; }
        if (rcs[i] != LLMCACHE_OK || !echoes(&out[i], i % DISTINCT == 3 && i == N - 1 ? 4 : i % DISTINCT)) ok = 0;
        if (i >= DISTINCT && !out[i].shared) ok = 0;
        shared += out[i].shared ? 1u : 0u;
        llmcache_response_free(&out[i]);
    }
    CHECK_MSG(ok, "copies answer their requests; all but the first of each are shared");
    CHECK_EQ(shared, N - 1 - DISTINCT);
    CHECK_EQ(last[0], N); CHECK_EQ(last[1], N); CHECK_EQ(last[2], 0); CHECK_EQ(last[3], 1);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.transport_calls, DISTINCT);
    CHECK_EQ(st.shared, N - 1 - DISTINCT);
    CHECK_EQ(st.calls, N - 1);          /* the malformed one fails before it counts, as in llmcache_call */
    llmcache_close(c);
    provider_done(&p);
}

/* ---- cancellation from the progress callback, and resume from the cache file */
static int cancel_at(void *ctx, size_t done, size_t total, size_t hits, size_t errors) {
    (void)total; (void)hits; (void)errors;
    return done >= *(size_t *)ctx;
}

static void test_cancel_resume(const char *dir) {
    enum { N = 40 };
    static llmcache_request reqs[N];
    static char bodies[N][48];
    static llmcache_response out[N];
    static int rcs[N];
    char path[512];
    llmcache_config cfg;
    llmcache_batch_options o;
    provider p;
    llmcache *c = NULL;
    size_t i, stop_at = 10, made = 0, zeroed = 1, hits = 0;
    snprintf(path, sizeof path, "%s/resume.llmc", dir);
    unlink(path);
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    provider_init(&p);
    make_reqs(reqs, bodies, N, N);
    memset(&o, 0, sizeof o);
    o.results = rcs;
    o.progress = cancel_at;
    o.progress_ctx = &stop_at;
    /* one at a time: exactly the first ten are made */
    o.concurrency = 1;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    CHECK_EQ(llmcache_call_many(c, reqs, N, transport, &p, &o, out), LLMCACHE_STOP);
    CHECK_EQ(p.calls, 10);
    for (i = 0; i < N; i++) {
        if (rcs[i] == LLMCACHE_OK) made++;
        else if (rcs[i] != LLMCACHE_STOP || out[i].body || out[i].status) zeroed = 0;
        llmcache_response_free(&out[i]);
    }
    CHECK_EQ(made, 10);
    CHECK_MSG(zeroed, "requests not made are LLMCACHE_STOP with a zeroed response");
    llmcache_close(c);
    /* several at a time: stops with at most concurrency - 1 more in flight */
    o.concurrency = 4;
    stop_at = 20;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    CHECK_EQ(llmcache_call_many(c, reqs, N, transport, &p, &o, out), LLMCACHE_STOP);
    CHECK_MSG(p.calls >= 20 && p.calls <= 23, "calls %d", p.calls);
    for (i = 0; i < N; i++) llmcache_response_free(&out[i]);
    llmcache_close(c);
    /* resumed: the finished part comes from the file, only the rest is called */
    made = (size_t)p.calls;
    o.progress = NULL;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    CHECK_EQ(llmcache_call_many(c, reqs, N, transport, &p, &o, out), LLMCACHE_OK);
    CHECK_EQ((size_t)p.calls, N);
    for (i = 0; i < N; i++) {
        hits += out[i].from_cache ? 1u : 0u;
        CHECK(echoes(&out[i], i));
        llmcache_response_free(&out[i]);
    }
    CHECK_EQ(hits, made);
    llmcache_close(c);
    provider_done(&p);
    unlink(path);
}

/* ---- retries */
static void one_call(provider *p, int retries, int64_t base_ms, int want_rc, int want_calls, uint64_t want_retries) {
    llmcache_request req;
    llmcache_call_options o;
    llmcache_response r;
    llmcache_stats st;
    llmcache *c = open_mem();
    memset(&req, 0, sizeof req);
    req.body = "{\"q\":1}";
    req.body_len = strlen(req.body);
    memset(&o, 0, sizeof o);
    o.retries = retries;
    o.retry_base_ms = base_ms;
    CHECK_EQ(llmcache_call(c, &req, transport, p, &o, &r), want_rc);
    CHECK_EQ(p->calls, want_calls);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.retries, want_retries);
    CHECK_EQ(st.transport_calls, (uint64_t)want_calls);
    CHECK_EQ(r.stored, want_rc == LLMCACHE_OK);
    llmcache_response_free(&r);
    llmcache_close(c);
}

static void test_retries(void) {
    provider p;
    int statuses[] = {429, 500, 503, 0}, k;
    /* llmcache_call: no retries by default */
    provider_init(&p); p.fail_times = 1; p.fail_status = 429; p.retry_after = "0";
    one_call(&p, 0, 0, LLMCACHE_EHTTP, 1, 0);
    provider_done(&p);
    /* 429, 5xx and transport failures are repeated (backoff of 1 ms, doubling) */
    for (k = 0; k < 4; k++) {
        provider_init(&p); p.fail_times = 2; p.fail_status = statuses[k];
        one_call(&p, 3, 1, LLMCACHE_OK, 3, 2);
        provider_done(&p);
    }
    /* ... up to the limit */
    provider_init(&p); p.fail_times = 5; p.fail_status = 502;
    one_call(&p, 2, 1, LLMCACHE_EHTTP, 3, 2);
    provider_done(&p);
    /* 4xx other than 429 are not */
    provider_init(&p); p.fail_times = 1; p.fail_status = 400;
    one_call(&p, 3, 1, LLMCACHE_EHTTP, 1, 0);
    provider_done(&p);
    /* a Retry-After over the bound ends the retries */
    provider_init(&p); p.fail_times = 1; p.fail_status = 429; p.retry_after = "61";
    one_call(&p, 3, 1, LLMCACHE_EHTTP, 1, 0);
    provider_done(&p);
    /* Retry-After in seconds is waited for (at least: a lower bound cannot flake) */
    provider_init(&p); p.fail_times = 1; p.fail_status = 429; p.retry_after = "1";
    one_call(&p, 3, 1, LLMCACHE_OK, 2, 1);
    CHECK_MSG(p.second_ms - p.first_ms >= 990, "waited %lld ms", (long long)(p.second_ms - p.first_ms));
    provider_done(&p);
}

static int64_t fixed_clock(void *ctx) { return *(int64_t *)ctx; }
static void ignore_chunk(void *ctx, const llmcache_chunk *ch) { (void)ctx; (void)ch; }

static void test_retry_date_and_stream(void) {
    provider p;
    llmcache_config cfg;
    llmcache_request req;
    llmcache_call_options o;
    llmcache_response r;
    llmcache *c = NULL;
    int64_t now = 784111776000;                 /* Sun, 06 Nov 1994 08:49:36 GMT */
    /* an HTTP-date one second after the handle's clock: a wait of about a second */
    memset(&cfg, 0, sizeof cfg);
    cfg.clock = fixed_clock;
    cfg.clock_ctx = &now;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    memset(&req, 0, sizeof req);
    req.body = "{\"q\":1}"; req.body_len = 7;
    memset(&o, 0, sizeof o);
    o.retries = 1;
    provider_init(&p); p.fail_times = 1; p.fail_status = 503; p.retry_after = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK_EQ(llmcache_call(c, &req, transport, &p, &o, &r), LLMCACHE_OK);
    CHECK_EQ(p.calls, 2);
    CHECK_MSG(p.second_ms - p.first_ms >= 990, "waited %lld ms", (long long)(p.second_ms - p.first_ms));
    llmcache_response_free(&r);
    provider_done(&p);
    /* a date in the past: retry at once */
    req.body = "{\"q\":2}";
    provider_init(&p); p.fail_times = 1; p.fail_status = 503; p.retry_after = "Sunday, 06-Nov-94 08:00:00 GMT";
    CHECK_EQ(llmcache_call(c, &req, transport, &p, &o, &r), LLMCACHE_OK);
    CHECK_EQ(p.calls, 2);
    llmcache_response_free(&r);
    provider_done(&p);
    /* a cut stream: repeated when nobody saw its events, not when on_chunk did */
    req.body = "{\"q\":3}"; req.stream = 1;
    o.retries = 2; o.retry_base_ms = 1;
    provider_init(&p); p.stream_then_cut = 1;
    CHECK_EQ(llmcache_call(c, &req, transport, &p, &o, &r), LLMCACHE_ETRANSPORT);
    CHECK_EQ(p.calls, 3);
    llmcache_response_free(&r);
    provider_done(&p);
    provider_init(&p); p.stream_then_cut = 1;
    o.on_chunk = ignore_chunk;
    CHECK_EQ(llmcache_call(c, &req, transport, &p, &o, &r), LLMCACHE_ETRANSPORT);
    CHECK_EQ(p.calls, 1);
    llmcache_response_free(&r);
    provider_done(&p);
    llmcache_close(c);
}

/* ---- Retry-After parsing (RFC 9110 5.6.7: the three HTTP-date forms) */
static void test_retry_after_parse(void) {
    int kind = 0;
    int64_t ms = 0;
    const int64_t t = 784111777000;              /* RFC 9110's example moment */
    llmcache__retry_after("120", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_DELAY); CHECK_EQ(ms, 120000);
    kind = 0; llmcache__retry_after("Sun, 06 Nov 1994 08:49:37 GMT", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_AT); CHECK_EQ(ms, t);
    kind = 0; llmcache__retry_after("Sunday, 06-Nov-94 08:49:37 GMT", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_AT); CHECK_EQ(ms, t);
    kind = 0; llmcache__retry_after("Sun Nov  6 08:49:37 1994", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_AT); CHECK_EQ(ms, t);
    kind = 0; llmcache__retry_after("Thu, 01 Jan 1970 00:00:00 GMT", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_AT); CHECK_EQ(ms, 0);
    kind = 0; llmcache__retry_after("Wed, 29 Feb 2040 23:59:59 GMT", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_AT); CHECK_EQ(ms, 2214172799000);
    kind = 0; llmcache__retry_after("Sun, 06 Nov 1994 08:49:37 UTC", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_NONE);
    llmcache__retry_after("1.5", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_NONE);
    llmcache__retry_after("", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_NONE);
    llmcache__retry_after("Sun, 06 Foo 1994 08:49:37 GMT", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_NONE);
    llmcache__retry_after("Sun, 6 Nov 1994 08:49:37 GMT", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_NONE);
    llmcache__retry_after("99999999999999999999", &kind, &ms);
    CHECK_EQ(kind, LLMCACHE__RETRY_DELAY); CHECK(ms > 60000);
}

int main(void) {
    char dir[] = "/tmp/llmcache-batch-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_retry_after_parse();
    test_order();
    test_dedup();
    test_cancel_resume(dir);
    test_retries();
    test_retry_date_and_stream();
    rmdir(dir);
    return TEST_REPORT();
}
