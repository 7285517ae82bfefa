/* tests/test_flight_live.c: single-flight followers of a streaming call receive
 * the leader's events live (issue 16): a follower's first event arrives while the
 * leader's transport is still inside its stream; a late joiner gets the events so
 * far, then the rest live; a follower whose callback blocks does not hold the
 * leader up; a leader cut mid-stream ends its followers' calls with the same error;
 * a leader that retries (opts.retries) a cut stream does so only while no follower
 * has joined, and then its followers see the new try's events only.
 * The transport is scripted with gates the test opens, so nothing depends on timing
 * (every wait has a generous deadline, only to fail instead of hanging).
 * Also run under ThreadSanitizer (make build/tsan/test_flight_live). */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <pthread.h>
#include <stdlib.h>

#define DEADLINE_MS 20000

static const char EV1[] = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n";
static const char EV2[] = "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n";
static const char EV3[] = "data: [DONE]\n\n";
static const char REQ[] = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

/* ---- a transport that writes one event per gate the test opens */
typedef struct script {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int opened;          /* gates opened by the test */
    int written;         /* events the transport has written (or is writing) */
    int cut_after;       /* > 0: fail (a cut transfer) after this many events */
    int cut_calls;       /* with cut_after: only the first cut_calls calls are cut; 0 = all */
    int calls;
} script;

static void script_init(script *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void script_open(script *s) {
    pthread_mutex_lock(&s->mu);
    s->opened++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static int script_written(script *s) {
    int n;
    pthread_mutex_lock(&s->mu);
    n = s->written;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static int scripted(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    script *s = (script *)ctx;
    const char *evs[3];
    int i, me;
    (void)req;
    evs[0] = EV1; evs[1] = EV2; evs[2] = EV3;
    pthread_mutex_lock(&s->mu);
    me = ++s->calls;
    pthread_mutex_unlock(&s->mu);
    llmcache_sink_header(sink, "Content-Type", "text/event-stream");
    for (i = 0; i < 3; i++) {
        pthread_mutex_lock(&s->mu);
        while (s->opened <= i) pthread_cond_wait(&s->cv, &s->mu);
        pthread_mutex_unlock(&s->mu);
        if (s->cut_after && i == s->cut_after && (!s->cut_calls || me <= s->cut_calls)) return LLMCACHE_ETRANSPORT;
        pthread_mutex_lock(&s->mu);
        s->written++;                    /* counted first: followers may see the event at once */
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        llmcache_sink_write(sink, evs[i], strlen(evs[i]));
    }
    return 200;
}

/* ---- a caller on its own thread, recording what it was told */
typedef struct caller {
    llmcache *c;
    script *s;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int source, n_events, finished, rc, shared;
    char got[512]; size_t got_len;
    int written_at_first;    /* the leader's events written when our first one came */
    int block_in_callback;   /* 1: the first on_chunk waits until unblocked */
    int unblocked;
    int retries;             /* opts.retries of its call */
    int no_chunks;           /* 1: no on_chunk (nothing is told to the caller live) */
    size_t body_len;
    char body[512];
} caller;

static void on_source(void *ctx, int ev, const llmcache_response *head) {
    caller *k = (caller *)ctx;
    pthread_mutex_lock(&k->mu);
    k->source = head ? ev : -1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static void on_chunk(void *ctx, const llmcache_chunk *ch) {
    caller *k = (caller *)ctx;
    int written = script_written(k->s);
    pthread_mutex_lock(&k->mu);
    if (k->n_events == 0) k->written_at_first = written;
    if (k->got_len + ch->len < sizeof k->got) {
        memcpy(k->got + k->got_len, ch->data, ch->len);
        k->got_len += ch->len;
    }
    k->n_events++;
    pthread_cond_broadcast(&k->cv);
    while (k->block_in_callback && !k->unblocked) pthread_cond_wait(&k->cv, &k->mu);
    pthread_mutex_unlock(&k->mu);
}

static void *run_caller(void *arg) {
    caller *k = (caller *)arg;
    llmcache_request req;
    llmcache_call_options o;
    llmcache_response r;
    memset(&req, 0, sizeof req);
    req.endpoint = "test";
    req.body = REQ; req.body_len = strlen(REQ);
    req.stream = 1;
    memset(&o, 0, sizeof o);
    o.on_chunk = k->no_chunks ? NULL : on_chunk;
    o.on_source = on_source;
    o.retries = k->retries;
    o.retry_base_ms = 1;
    o.chunk_ctx = k;
    k->rc = llmcache_call(k->c, &req, scripted, k->s, &o, &r);
    pthread_mutex_lock(&k->mu);
    k->shared = r.shared;
    if (r.len < sizeof k->body) { memcpy(k->body, r.body ? r.body : "", r.len); k->body_len = r.len; }
    k->finished = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    llmcache_response_free(&r);
    return NULL;
}

static void caller_start_ex(caller *k, llmcache *c, script *s, int retries, int no_chunks) {
    memset(k, 0, sizeof *k);
    k->c = c; k->s = s;
    k->retries = retries;
    k->no_chunks = no_chunks;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    CHECK_EQ(pthread_create(&k->th, NULL, run_caller, k), 0);
}

static void caller_start(caller *k, llmcache *c, script *s) { caller_start_ex(k, c, s, 0, 0); }

static void caller_end(caller *k) {
    pthread_join(k->th, NULL);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
}

/* Waits (up to the deadline) until the caller's field reaches at least want. */
static int wait_for(caller *k, const int *field, int want) {
    int i, v = 0;
    for (i = 0; i < DEADLINE_MS; i++) {
        pthread_mutex_lock(&k->mu);
        v = *field;
        pthread_mutex_unlock(&k->mu);
        if (v >= want) return 1;
        llmcache__sleep_ms(1);
    }
    return 0;
}

static int wait_written(script *s, int want) {
    int i;
    for (i = 0; i < DEADLINE_MS; i++) {
        if (script_written(s) >= want) return 1;
        llmcache__sleep_ms(1);
    }
    return 0;
}

static llmcache *open_mem(void) {
    llmcache *c = NULL;
    CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
    return c;
}

/* A follower that joins after the first event gets it at once, and the second one
 * while the leader's stream is still open; both end with the same bytes. */
static void test_live_follower(void) {
    llmcache *c = open_mem();
    script s;
    caller lead, fol;
    llmcache_stats st;
    static const char ALL[] = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
                              "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: [DONE]\n\n";
    script_init(&s);
    caller_start(&lead, c, &s);
    CHECK(wait_for(&lead, &lead.source, LLMCACHE_EVENT_MISS));
    script_open(&s);                                   /* event 1 */
    CHECK(wait_for(&lead, &lead.n_events, 1));
    caller_start(&fol, c, &s);                         /* a late joiner */
    CHECK(wait_for(&fol, &fol.n_events, 1));           /* event 1, though it came before the join */
    CHECK_EQ(fol.source, LLMCACHE_EVENT_SHARED);
    CHECK_EQ(script_written(&s), 1);                   /* the leader's stream is still open */
    script_open(&s);                                   /* event 2 */
    CHECK(wait_for(&fol, &fol.n_events, 2));           /* live */
    CHECK_EQ(script_written(&s), 2);
    CHECK_EQ(fol.finished, 0);
    script_open(&s);                                   /* [DONE] */
    caller_end(&lead);
    caller_end(&fol);
    CHECK_EQ(lead.rc, LLMCACHE_OK);
    CHECK_EQ(fol.rc, LLMCACHE_OK);
    CHECK_EQ(fol.shared, 1);
    CHECK_EQ(lead.shared, 0);
    CHECK_EQ(fol.n_events, 3);                         /* each event once: live, none replayed again */
    CHECK_MEM(fol.got, fol.got_len, ALL, strlen(ALL));
    CHECK_MEM(lead.got, lead.got_len, ALL, strlen(ALL));
    CHECK_MEM(fol.body, fol.body_len, ALL, strlen(ALL));
    CHECK_EQ(s.calls, 1);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.transport_calls, 1);
    CHECK_EQ(st.shared, 1);
    llmcache_close(c);
}

/* A follower whose callback blocks: the leader still finishes (and stores); the
 * follower gets every event once it goes on. */
static void test_slow_follower(void) {
    llmcache *c = open_mem();
    script s;
    caller lead, fol;
    llmcache_stats st;
    script_init(&s);
    caller_start(&lead, c, &s);
    CHECK(wait_for(&lead, &lead.source, LLMCACHE_EVENT_MISS));
    memset(&fol, 0, sizeof fol);
    caller_start(&fol, c, &s);
    pthread_mutex_lock(&fol.mu);
    fol.block_in_callback = 1;
    pthread_mutex_unlock(&fol.mu);
    CHECK(wait_for(&fol, &fol.source, LLMCACHE_EVENT_SHARED));
    script_open(&s);
    CHECK(wait_for(&fol, &fol.n_events, 1));           /* now blocked inside on_chunk */
    script_open(&s);
    script_open(&s);
    CHECK(wait_for(&lead, &lead.finished, 1));         /* the leader did not wait for it */
    CHECK_EQ(lead.rc, LLMCACHE_OK);
    CHECK_EQ(fol.n_events, 1);
    CHECK_EQ(fol.finished, 0);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.puts, 1);
    pthread_mutex_lock(&fol.mu);
    fol.unblocked = 1;
    pthread_cond_broadcast(&fol.cv);
    pthread_mutex_unlock(&fol.mu);
    caller_end(&lead);
    caller_end(&fol);
    CHECK_EQ(fol.rc, LLMCACHE_OK);
    CHECK_EQ(fol.n_events, 3);
    CHECK_MEM(fol.got, fol.got_len, lead.got, lead.got_len);
    llmcache_close(c);
}

/* The leader's transfer is cut after one event: the follower got that event live
 * and ends with the leader's error; nothing is stored. */
static void test_leader_cut(void) {
    llmcache *c = open_mem();
    script s;
    caller lead, fol;
    llmcache_stats st;
    script_init(&s);
    s.cut_after = 1;
    caller_start(&lead, c, &s);
    CHECK(wait_for(&lead, &lead.source, LLMCACHE_EVENT_MISS));
    caller_start(&fol, c, &s);
    CHECK(wait_for(&fol, &fol.source, LLMCACHE_EVENT_SHARED));
    script_open(&s);
    CHECK(wait_for(&fol, &fol.n_events, 1));
    CHECK(wait_written(&s, 1));
    script_open(&s);                                   /* the cut */
    caller_end(&lead);
    caller_end(&fol);
    CHECK_EQ(lead.rc, LLMCACHE_ETRANSPORT);
    CHECK_EQ(fol.rc, LLMCACHE_ETRANSPORT);
    CHECK_EQ(fol.n_events, 1);
    CHECK_MEM(fol.got, fol.got_len, EV1, strlen(EV1));
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.puts, 0);
    CHECK_EQ(st.transport_calls, 1);
    llmcache_close(c);
}

/* A leader that may retry is cut after one event while a follower has joined (and
 * got that event): it must not try again (the follower would see the stream twice);
 * both end with the error, after one transport call. */
static void test_retry_refused_with_follower(void) {
    llmcache *c = open_mem();
    script s;
    caller lead, fol;
    llmcache_stats st;
    script_init(&s);
    s.cut_after = 1;
    caller_start_ex(&lead, c, &s, 2, 1);
    CHECK(wait_for(&lead, &lead.source, LLMCACHE_EVENT_MISS));
    caller_start(&fol, c, &s);
    CHECK(wait_for(&fol, &fol.source, LLMCACHE_EVENT_SHARED));
    script_open(&s);
    CHECK(wait_for(&fol, &fol.n_events, 1));
    script_open(&s);                                   /* the cut */
    caller_end(&lead);
    caller_end(&fol);
    CHECK_EQ(lead.rc, LLMCACHE_ETRANSPORT);
    CHECK_EQ(fol.rc, LLMCACHE_ETRANSPORT);
    CHECK_EQ(s.calls, 1);
    CHECK_MEM(fol.got, fol.got_len, EV1, strlen(EV1));
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.retries, 0);
    CHECK_EQ(st.puts, 0);
    llmcache_close(c);
}

/* A leader alone is cut after one event and tries again: a follower that joins
 * during the second try gets that try's events (so far, then live), never the
 * first try's: the stream exactly once. */
static void test_retry_rewinds_events(void) {
    llmcache *c = open_mem();
    script s;
    caller lead, fol;
    llmcache_stats st;
    char whole[256];
    size_t n = 0;
    script_init(&s);
    s.cut_after = 1;
    s.cut_calls = 1;
    caller_start_ex(&lead, c, &s, 1, 1);
    CHECK(wait_for(&lead, &lead.source, LLMCACHE_EVENT_MISS));
    script_open(&s);                                   /* try 1: EV1 */
    CHECK(wait_written(&s, 1));
    script_open(&s);                                   /* try 1 cut; try 2 writes EV1, EV2 */
    CHECK(wait_written(&s, 3));
    caller_start(&fol, c, &s);
    CHECK(wait_for(&fol, &fol.source, LLMCACHE_EVENT_SHARED));
    CHECK(wait_for(&fol, &fol.n_events, 2));
    script_open(&s);                                   /* try 2: EV3, the end */
    caller_end(&lead);
    caller_end(&fol);
    memcpy(whole, EV1, strlen(EV1)); n += strlen(EV1);
    memcpy(whole + n, EV2, strlen(EV2)); n += strlen(EV2);
    memcpy(whole + n, EV3, strlen(EV3)); n += strlen(EV3);
    CHECK_EQ(lead.rc, LLMCACHE_OK);
    CHECK_EQ(fol.rc, LLMCACHE_OK);
    CHECK_EQ(s.calls, 2);
    CHECK_EQ(fol.n_events, 3);
    CHECK_MEM(fol.got, fol.got_len, whole, n);
    CHECK_MEM(fol.body, fol.body_len, whole, n);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.retries, 1);
    CHECK_EQ(st.puts, 1);
    llmcache_close(c);
}

/* Many followers at once, each with every event exactly once, in order. */
static void test_many_followers(void) {
    enum { N = 16 };
    llmcache *c = open_mem();
    script s;
    caller lead, *fol = (caller *)calloc(N, sizeof *fol);
    int i;
    script_init(&s);
    caller_start(&lead, c, &s);
    CHECK(wait_for(&lead, &lead.source, LLMCACHE_EVENT_MISS));
    for (i = 0; i < N; i++) {
        caller_start(&fol[i], c, &s);
        if (i == N / 2) script_open(&s);               /* half join before event 1, half after */
    }
    for (i = 0; i < N; i++) CHECK(wait_for(&fol[i], &fol[i].n_events, 1));
    CHECK_EQ(script_written(&s), 1);
    script_open(&s);
    script_open(&s);
    caller_end(&lead);
    for (i = 0; i < N; i++) {
        caller_end(&fol[i]);
        CHECK_EQ(fol[i].rc, LLMCACHE_OK);
        CHECK_EQ(fol[i].shared, 1);
        CHECK_EQ(fol[i].written_at_first, 1);          /* the first event came before the stream ended */
        CHECK_MEM(fol[i].got, fol[i].got_len, lead.got, lead.got_len);
    }
    CHECK_EQ(s.calls, 1);
    free(fol);
    llmcache_close(c);
}

/* Per-call namespace: the key is that of llmcache_key_for with the call's ns. */
static void test_call_ns(void) {
    llmcache *c = open_mem();
    llmcache_request req;
    llmcache_call_options o;
    llmcache_response r;
    llmcache_key k;
    script s;
    script_init(&s);
    s.opened = 3;
    memset(&req, 0, sizeof req);
    req.endpoint = "test"; req.body = REQ; req.body_len = strlen(REQ); req.stream = 1;
    memset(&o, 0, sizeof o);
    o.ns = "tenant-a";
    CHECK_EQ(llmcache_call(c, &req, scripted, &s, &o, &r), LLMCACHE_OK);
    CHECK_EQ(llmcache_key_for(&k, "tenant-a", &req), LLMCACHE_OK);
    CHECK(memcmp(k.bytes, r.key.bytes, 32) == 0);
    llmcache_response_free(&r);
    o.ns = "tenant-b";                                 /* another tenant misses */
    CHECK_EQ(llmcache_call(c, &req, scripted, &s, &o, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 0);
    llmcache_response_free(&r);
    o.ns = "tenant-a";
    CHECK_EQ(llmcache_call(c, &req, scripted, &s, &o, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    llmcache_response_free(&r);
    CHECK_EQ(llmcache_call(c, &req, scripted, &s, NULL, &r), LLMCACHE_OK);  /* the handle's "" */
    CHECK_EQ(r.from_cache, 0);
    llmcache_response_free(&r);
    CHECK_EQ(s.calls, 3);
    llmcache_close(c);
}

int main(void) {
    test_live_follower();
    test_slow_follower();
    test_leader_cut();
    test_many_followers();
    test_call_ns();
    test_retry_refused_with_follower();
    test_retry_rewinds_events();
    return TEST_REPORT();
}
