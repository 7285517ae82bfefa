/* tests/test_acct.c - the accounting of llmcache_call (per namespace and model):
 * a scripted scenario with exact expected integers (tokens, money in micro-dollars,
 * calls, hits, misses, stores, shared, refreshes), no double counting with
 * single-flight and refresh, the row cap and its "other" row, error rows, the
 * envelope's extended header, llmcache_prices_parse and the export text.
 * With a directory argument it also writes the exports there (and a log file) for
 * tests/test_acct_export.sh, which checks them with promtool and python3's json. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* ---- a transport: a fixed body; optionally waits (bounded) until n followers joined */
typedef struct fake {
    const char *body;
    int stream;              /* say text/event-stream */
    int sleep_ms;            /* before the first byte */
    llmcache *wait_cache;    /* with wait_followers: the handle whose flights to watch */
    unsigned wait_followers;
    int calls;
} fake;

static void sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static unsigned followers_waiting(llmcache *c) {
    unsigned n = 0, i;
    llmcache__flight *f;
    if (!c->calls) return 0;
    llmcache__lock(&c->calls->mu);
    for (i = 0; i < LLMCACHE__FLIGHT_BUCKETS; i++)
        for (f = c->calls->buckets[i]; f; f = f->next) n += f->waiters;
    llmcache__unlock(&c->calls->mu);
    return n;
}

static int fake_transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    fake *f = (fake *)ctx;
    int waited = 0;
    (void)req;
    __atomic_add_fetch(&f->calls, 1, __ATOMIC_SEQ_CST);
    /* the followers are in the flight before the answer exists (60 s bound) */
    while (f->wait_followers && followers_waiting(f->wait_cache) < f->wait_followers && waited < 60000) {
        sleep_ms(2);
        waited += 2;
    }
    if (f->sleep_ms) sleep_ms(f->sleep_ms);
    if (f->stream) llmcache_sink_header(sink, "Content-Type", "text/event-stream");
    if (llmcache_sink_write(sink, f->body, strlen(f->body)) != LLMCACHE_OK) return -1;
    return 200;
}

static llmcache_request make_req(const char *body, int stream) {
    llmcache_request r;
    memset(&r, 0, sizeof r);
    r.endpoint = "/v1/chat/completions";
    r.body = body;
    r.body_len = strlen(body);
    r.stream = stream;
    return r;
}

static int call(llmcache *c, const char *body, fake *f, int refresh, llmcache_response *out) {
    llmcache_request req = make_req(body, f->stream);
    llmcache_call_options o;
    memset(&o, 0, sizeof o);
    o.refresh = refresh;
    return llmcache_call(c, &req, fake_transport, f, &o, out);
}

static const llmcache_acct_row *find_row(const llmcache_acct_row *rows, size_t n, const char *ns, const char *model) {
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(rows[i].ns, ns) == 0 && strcmp(rows[i].model, model) == 0) return &rows[i];
    return NULL;
}

/* an llmcache_writer into a growing string */
typedef struct text { char *p; size_t len; } text;
static int text_write(void *ctx, const void *data, size_t len) {
    text *t = (text *)ctx;
    char *np = (char *)realloc(t->p, t->len + len + 1);
    if (!np) return -1;
    memcpy(np + t->len, data, len);
    t->p = np;
    t->len += len;
    t->p[t->len] = '\0';
    return 0;
}
static char *export_text(llmcache *c, int format) {
    text t = { NULL, 0 };
    llmcache_writer w;
    w.write = text_write;
    w.ctx = &t;
    CHECK_EQ(llmcache_stats_write(c, format, &w), LLMCACHE_OK);
    return t.p ? t.p : (char *)calloc(1, 1);
}
static void save_text(const char *dir, const char *name, const char *s) {
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(s, f);
    fclose(f);
}

#define OPENAI_BODY "{\"id\":\"c1\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"message\":{\"content\":\"hi\"}}]," \
    "\"usage\":{\"prompt_tokens\":1001,\"completion_tokens\":200,\"prompt_tokens_details\":{\"cached_tokens\":401}}}"
#define ANTHROPIC_STREAM \
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x-20250101\"," \
    "\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":2000,\"cache_read_input_tokens\":3000,\"output_tokens\":1}}}\n\n" \
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi\"}}\n\n" \
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":50}}\n\n" \
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
#define MYSTERY_BODY "{\"model\":\"mystery-1\",\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}"
#define Q1 "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"q1\"}]}"
#define Q2 "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"q2\"}]}"
#define QC "{\"model\":\"claude-x\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"qc\"}]}"
#define QM "{\"model\":\"mystery\",\"messages\":[]}"
#define QN "{\"messages\":[{\"role\":\"user\",\"content\":\"no model\"}]}"

static const llmcache_price test_prices[] = {
    { "gpt-4o",   2500000, 10000000, 1250000, 0 },
    { "claude-x", 3000000, 15000000,  300000, 3750000 },
};

typedef struct follower { llmcache *c; fake *f; int rc, shared, refresh; const char *body; } follower;
static void *follow(void *arg) {
    follower *w = (follower *)arg;
    llmcache_response r;
    w->rc = call(w->c, w->body ? w->body : Q2, w->f, w->refresh, &r);
    w->shared = r.shared;
    llmcache_response_free(&r);
    return NULL;
}

/* The scripted scenario; every expected figure worked out by hand:
 * gpt-4o answer: prompt 1001 of which 401 cached, completion 200:
 *   input 600 * 2.5 + output 200 * 10 + cached 401 * 1.25 = 4001.25 micro-dollars
 * claude-x stream: input 10, cache writes 2000, cache reads 3000, output 50:
 *   10 * 3 + 2000 * 3.75 + 3000 * 0.3 + 50 * 15 = 9180 micro-dollars */
static void test_scenario(const char *dir) {
    llmcache_config cfg;
    llmcache_prices prices;
    llmcache *c;
    llmcache_response r;
    llmcache_stats st;
    llmcache_acct_row *rows = NULL;
    const llmcache_acct_row *g, *cl, *my, *nm;
    fake fo, fc, fm;
    int64_t lat_q1, lat_c, ttfe_c;
    size_t n = 0;
    int i;
    pthread_t th[3];
    follower fw[3];
    char *s;

    memset(&cfg, 0, sizeof cfg);
    prices.models = test_prices;
    prices.n = 2;
    cfg.ns = "teamA";
    cfg.prices = &prices;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    memset(&fo, 0, sizeof fo); fo.body = OPENAI_BODY;
    memset(&fc, 0, sizeof fc); fc.body = ANTHROPIC_STREAM; fc.stream = 1; fc.sleep_ms = 20;
    memset(&fm, 0, sizeof fm); fm.body = MYSTERY_BODY;

    /* q1: a miss (stored), four hits, then a refresh */
    CHECK_EQ(call(c, Q1, &fo, 0, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 0);
    CHECK_EQ(r.cached_input_tokens, 401);
    CHECK_EQ(r.cache_write_tokens, -1);
    CHECK_EQ(r.ttfe_ms, 0);
    lat_q1 = r.meta.latency_ms;
    llmcache_response_free(&r);
    for (i = 0; i < 4; i++) {
        CHECK_EQ(call(c, Q1, &fo, 0, &r), LLMCACHE_OK);
        CHECK_EQ(r.from_cache, 1);
        CHECK_EQ(r.meta.latency_ms, lat_q1);
        CHECK_EQ(r.cached_input_tokens, 401);
        llmcache_response_free(&r);
    }
    CHECK_EQ(call(c, Q1, &fo, 1, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 0);
    CHECK_EQ(r.stored, 1);
    llmcache_response_free(&r);
    CHECK_EQ(fo.calls, 2);

    /* q2: one leader and three followers that joined its flight before the answer */
    fo.wait_cache = c;
    fo.wait_followers = 3;
    memset(fw, 0, sizeof fw);
    for (i = 0; i < 3; i++) { fw[i].c = c; fw[i].f = &fo; fw[i].rc = -1; }
    {
        follower leader;
        pthread_t lt;
        memset(&leader, 0, sizeof leader);
        leader.c = c; leader.f = &fo; leader.rc = -1;
        CHECK_EQ(pthread_create(&lt, NULL, follow, &leader), 0);
        while (__atomic_load_n(&fo.calls, __ATOMIC_SEQ_CST) < 3) sleep_ms(1);   /* the leader is in the transport */
        for (i = 0; i < 3; i++) CHECK_EQ(pthread_create(&th[i], NULL, follow, &fw[i]), 0);
        for (i = 0; i < 3; i++) pthread_join(th[i], NULL);
        pthread_join(lt, NULL);
        CHECK_EQ(leader.rc, LLMCACHE_OK);
        CHECK_EQ(leader.shared, 0);
    }
    for (i = 0; i < 3; i++) { CHECK_EQ(fw[i].rc, LLMCACHE_OK); CHECK_EQ(fw[i].shared, 1); }
    CHECK_EQ(fo.calls, 3);
    fo.wait_followers = 0;

    /* claude-x stream: a miss, then a hit that saves latency and time to first event */
    CHECK_EQ(call(c, QC, &fc, 0, &r), LLMCACHE_OK);
    CHECK_EQ(r.n_chunks, 4);
    CHECK_EQ(r.cached_input_tokens, 3000);
    CHECK_EQ(r.cache_write_tokens, 2000);
    CHECK_EQ(r.meta.prompt_tokens, 5010);
    CHECK_EQ(r.meta.completion_tokens, 50);
    CHECK(r.ttfe_ms >= 20);            /* the transport slept 20 ms before the first byte */
    lat_c = r.meta.latency_ms;
    ttfe_c = r.ttfe_ms;
    CHECK(lat_c >= ttfe_c);
    llmcache_response_free(&r);
    CHECK_EQ(call(c, QC, &fc, 0, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 1);
    CHECK_EQ(r.ttfe_ms, ttfe_c);
    llmcache_response_free(&r);

    /* a model without a price; a request without a model */
    CHECK_EQ(call(c, QM, &fm, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
    CHECK_EQ(call(c, QM, &fm, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
    CHECK_EQ(call(c, QN, &fm, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);

    CHECK_EQ(llmcache_acct_rows(c, &rows, &n), LLMCACHE_OK);
    CHECK_EQ(n, 4);
    g = find_row(rows, n, "teamA", "gpt-4o");
    cl = find_row(rows, n, "teamA", "claude-x");
    my = find_row(rows, n, "teamA", "mystery");
    nm = find_row(rows, n, "teamA", "");
    CHECK(g && cl && my && nm);
    if (g && cl && my && nm) {
        CHECK_STR(rows[0].model, "");          /* sorted by namespace, then model */
        CHECK_STR(rows[1].model, "claude-x");
        CHECK_EQ(g->calls, 10);                /* q1: 1 + 4 + 1 refresh; q2: 1 + 3 */
        CHECK_EQ(g->hits, 4);
        CHECK_EQ(g->misses, 5);                /* q1, the q2 leader, and each follower's own lookup */
        CHECK_EQ(g->refreshes, 1);
        CHECK_EQ(g->stores, 3);
        CHECK_EQ(g->shared, 3);
        CHECK_EQ(g->errors, 0);
        CHECK_EQ(g->time_saved_ms, 4 * lat_q1);   /* hits only: followers waited */
        CHECK_EQ(g->ttfe_saved_ms, 0);
        CHECK_EQ(g->input_tokens_saved, 7 * 600);
        CHECK_EQ(g->output_tokens_saved, 7 * 200);
        CHECK_EQ(g->cached_input_tokens_saved, 7 * 401);
        CHECK_EQ(g->cache_write_tokens_saved, 0);
        CHECK_EQ(g->money_saved_microdollars, 28008);   /* 7 * 4001.25, not 7 * 4001 */
        CHECK_EQ(g->unpriced, 0);
        CHECK_EQ(cl->calls, 2);
        CHECK_EQ(cl->hits, 1);
        CHECK_EQ(cl->misses, 1);
        CHECK_EQ(cl->stores, 1);
        CHECK_EQ(cl->time_saved_ms, lat_c);
        CHECK_EQ(cl->ttfe_saved_ms, ttfe_c);
        CHECK_EQ(cl->input_tokens_saved, 10);
        CHECK_EQ(cl->output_tokens_saved, 50);
        CHECK_EQ(cl->cached_input_tokens_saved, 3000);
        CHECK_EQ(cl->cache_write_tokens_saved, 2000);
        CHECK_EQ(cl->money_saved_microdollars, 9180);
        CHECK_EQ(my->hits, 1);
        CHECK_EQ(my->input_tokens_saved, 7);
        CHECK_EQ(my->output_tokens_saved, 3);
        CHECK_EQ(my->unpriced, 1);
        CHECK_EQ(my->money_saved_microdollars, 0);
        CHECK_EQ(nm->calls, 1);
        CHECK_EQ(nm->misses, 1);
        CHECK_EQ(nm->stores, 1);
        CHECK_EQ(nm->hits, 0);
    }
    llmcache_free(rows);

    llmcache_stats_get(c, &st);
    CHECK_EQ(st.calls, 15);
    CHECK_EQ(st.hits, 6);
    CHECK_EQ(st.shared, 3);
    CHECK_EQ(st.refreshes, 1);
    CHECK_EQ(st.transport_calls, 6);     /* q1, its refresh, the q2 leader, qc, mystery, no model */
    CHECK_EQ(st.input_tokens_saved, 4200 + 10 + 7);
    CHECK_EQ(st.output_tokens_saved, 1400 + 50 + 3);
    CHECK_EQ(st.cached_input_tokens_saved, 2807 + 3000);
    CHECK_EQ(st.cache_write_tokens_saved, 2000);
    /* the old total counts prompt + completion, cached and written included */
    CHECK_EQ(st.tokens_saved, 7 * 1201 + 5060 + 10);
    CHECK_EQ(st.money_saved_microdollars, 37188);   /* 28008.75 + 9180 */
    CHECK_EQ(st.unpriced_saves, 1);
    CHECK_EQ(st.time_saved_ms, 4 * lat_q1 + lat_c);
    CHECK_EQ(st.ttfe_saved_ms, ttfe_c);
    CHECK_EQ(st.acct_rows, 4);
    CHECK_EQ(st.acct_folded, 0);

    s = export_text(c, LLMCACHE_STATS_PROMETHEUS);
    CHECK(strstr(s, "# TYPE llmcache_model_money_saved_microdollars_total counter\n") != NULL);
    CHECK(strstr(s, "\nllmcache_model_money_saved_microdollars_total{namespace=\"teamA\",model=\"gpt-4o\"} 28008\n") != NULL);
    CHECK(strstr(s, "\nllmcache_money_saved_microdollars_total 37188\n") != NULL);
    CHECK(strstr(s, "\nllmcache_replay_misses_total 0\n") != NULL);   /* every llmcache_stats counter of calls */
    CHECK(strstr(s, "\nllmcache_retries_total 0\n") != NULL);
    CHECK(strstr(s, "\nllmcache_transform_failed_total 0\n") != NULL);
    CHECK(strstr(s, "\nllmcache_model_shared_total{namespace=\"teamA\",model=\"gpt-4o\"} 3\n") != NULL);
    if (dir) save_text(dir, "calls.prom", s);
    free(s);
    s = export_text(c, LLMCACHE_STATS_JSON);
    CHECK(strstr(s, "\"money_saved_microdollars\":37188") != NULL);
    CHECK(strstr(s, "{\"namespace\":\"teamA\",\"model\":\"claude-x\",\"other\":false,\"calls\":2,") != NULL);
    if (dir) save_text(dir, "calls.json", s);
    free(s);
    /* what the cache holds: the models the stored requests name, their recorded costs */
    s = export_text(c, LLMCACHE_STATS_JSON | LLMCACHE_STATS_ENTRIES);
    CHECK(strstr(s, "\"model\":\"gpt-4o\",\"other\":false,\"entries\":2,") != NULL);
    CHECK(strstr(s, "\"model\":\"claude-x\",\"other\":false,\"entries\":1,") != NULL);
    if (dir) save_text(dir, "entries.json", s);
    free(s);
    s = export_text(c, LLMCACHE_STATS_PROMETHEUS | LLMCACHE_STATS_ENTRIES);
    CHECK(strstr(s, "\nllmcache_stored_cached_input_tokens{namespace=\"teamA\",model=\"claude-x\"} 3000\n") != NULL);
    if (dir) save_text(dir, "entries.prom", s);
    free(s);
    llmcache_close(c);
}

/* A refresh whose concurrent identical refreshes share its answer: the leader saves
 * nothing and counts the one refresh; each follower saves the answer's tokens and
 * money (not paid again), no time, and is no refresh of its own. */
static void test_refresh_followers(void) {
    llmcache_config cfg;
    llmcache_prices prices;
    llmcache *c;
    llmcache_response r;
    llmcache_acct_row *rows = NULL;
    llmcache_stats st;
    follower lead, fw[2];
    pthread_t lt, th[2];
    fake fo;
    size_t n = 0;
    int i;
    memset(&cfg, 0, sizeof cfg);
    prices.models = test_prices;
    prices.n = 2;
    cfg.prices = &prices;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    memset(&fo, 0, sizeof fo);
    fo.body = OPENAI_BODY;
    CHECK_EQ(call(c, Q1, &fo, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
    fo.wait_cache = c;
    fo.wait_followers = 2;
    memset(&lead, 0, sizeof lead);
    memset(fw, 0, sizeof fw);
    lead.c = c; lead.f = &fo; lead.refresh = 1; lead.body = Q1;
    CHECK_EQ(pthread_create(&lt, NULL, follow, &lead), 0);
    while (__atomic_load_n(&fo.calls, __ATOMIC_SEQ_CST) < 2) sleep_ms(1);
    for (i = 0; i < 2; i++) {
        fw[i].c = c; fw[i].f = &fo; fw[i].refresh = 1; fw[i].body = Q1;
        CHECK_EQ(pthread_create(&th[i], NULL, follow, &fw[i]), 0);
    }
    for (i = 0; i < 2; i++) pthread_join(th[i], NULL);
    pthread_join(lt, NULL);
    CHECK_EQ(lead.rc, LLMCACHE_OK);
    CHECK_EQ(lead.shared, 0);
    for (i = 0; i < 2; i++) { CHECK_EQ(fw[i].rc, LLMCACHE_OK); CHECK_EQ(fw[i].shared, 1); }
    CHECK_EQ(fo.calls, 2);
    CHECK_EQ(llmcache_acct_rows(c, &rows, &n), LLMCACHE_OK);
    CHECK_EQ(n, 1);
    if (n == 1) {
        CHECK_EQ(rows[0].calls, 4);
        CHECK_EQ(rows[0].misses, 1);
        CHECK_EQ(rows[0].hits, 0);
        CHECK_EQ(rows[0].refreshes, 1);
        CHECK_EQ(rows[0].stores, 2);
        CHECK_EQ(rows[0].shared, 2);
        CHECK_EQ(rows[0].time_saved_ms, 0);
        CHECK_EQ(rows[0].input_tokens_saved, 2 * 600);
        CHECK_EQ(rows[0].cached_input_tokens_saved, 2 * 401);
        CHECK_EQ(rows[0].money_saved_microdollars, 8002);   /* 2 * 4001.25 */
    }
    llmcache_free(rows);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.refreshes, 1);
    CHECK_EQ(st.transport_calls, 2);
    CHECK_EQ(st.money_saved_microdollars, 8002);
    CHECK_EQ(st.time_saved_ms, 0);
    llmcache_close(c);
}

/* The row cap: further (namespace, model) pairs fold into the other row, counted. */
static void test_fold(void) {
    llmcache_config cfg;
    llmcache *c;
    llmcache_response r;
    llmcache_acct_row *rows = NULL;
    llmcache_stats st;
    fake f;
    size_t n = 0;
    char body[600], longname[300];
    const char *models[4] = { "a", "b", "c", "d" };
    int i;
    memset(&cfg, 0, sizeof cfg);
    cfg.acct_max_rows = 2;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    memset(&f, 0, sizeof f);
    f.body = "{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}";
    for (i = 0; i < 4; i++) {
        snprintf(body, sizeof body, "{\"model\":\"%s\"}", models[i]);
        CHECK_EQ(call(c, body, &f, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
        CHECK_EQ(call(c, body, &f, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
    }
    memset(longname, 'x', 257);
    longname[257] = '\0';
    snprintf(body, sizeof body, "{\"model\":\"%s\"}", longname);       /* too long: the other row */
    CHECK_EQ(call(c, body, &f, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
    CHECK_EQ(llmcache_acct_rows(c, &rows, &n), LLMCACHE_OK);
    CHECK_EQ(n, 3);
    if (n == 3) {
        CHECK_STR(rows[0].model, "a");
        CHECK_STR(rows[1].model, "b");
        CHECK_EQ(rows[2].other, 1);
        CHECK_STR(rows[2].model, "(other)");
        CHECK_EQ(rows[2].calls, 5);
        CHECK_EQ(rows[2].hits, 2);
        CHECK_EQ(rows[2].unpriced, 2);
        CHECK_EQ(rows[2].input_tokens_saved, 10);
        CHECK_EQ(rows[0].calls, 2);
    }
    llmcache_free(rows);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.acct_rows, 2);
    CHECK_EQ(st.acct_folded, 5);
    llmcache_close(c);
    cfg.acct_max_rows = 1048577;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
}

/* A stored value that is not an envelope: the call fails open, an error of its row. */
static void test_error_row(void) {
    llmcache_config cfg;
    llmcache *c;
    llmcache_response r;
    llmcache_acct_row *rows = NULL;
    llmcache_key k;
    llmcache_request req = make_req(Q1, 0);
    fake f;
    size_t n = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = "e";
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    CHECK_EQ(llmcache_key_for(&k, "e", &req), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &k, "garbage", 7, 0), LLMCACHE_OK);
    memset(&f, 0, sizeof f);
    f.body = OPENAI_BODY;
    CHECK_EQ(call(c, Q1, &f, 0, &r), LLMCACHE_OK);
    CHECK_EQ(r.from_cache, 0);
    llmcache_response_free(&r);
    CHECK_EQ(llmcache_acct_rows(c, &rows, &n), LLMCACHE_OK);
    CHECK_EQ(n, 1);
    if (n == 1) {
        CHECK_EQ(rows[0].errors, 1);
        CHECK_EQ(rows[0].stores, 1);
        CHECK_EQ(rows[0].misses, 1);    /* no usable answer: a miss too, as in the totals */
        CHECK_EQ(rows[0].unpriced, 0);
    }
    llmcache_free(rows);
    llmcache_close(c);
}

/* Label values and JSON strings are escaped; invalid UTF-8 becomes U+FFFD. */
static void test_escaping(void) {
    llmcache_config cfg;
    llmcache *c;
    llmcache_response r;
    fake f;
    char *s;
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = "te\"a\\m\nX\xff";
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    memset(&f, 0, sizeof f);
    f.body = "{}";
    CHECK_EQ(call(c, "{\"model\":\"m\\u0001\\\"\"}", &f, 0, &r), LLMCACHE_OK);
    llmcache_response_free(&r);
    s = export_text(c, LLMCACHE_STATS_PROMETHEUS);
    CHECK(strstr(s, "\nllmcache_model_calls_total{namespace=\"te\\\"a\\\\m\\nX\xef\xbf\xbd\",model=\"m\x01\\\"\"} 1\n") != NULL);
    free(s);
    s = export_text(c, LLMCACHE_STATS_JSON);
    CHECK(strstr(s, "{\"namespace\":\"te\\\"a\\\\m\\nX\xef\xbf\xbd\",\"model\":\"m\\u0001\\\"\",") != NULL);
    free(s);
    llmcache_close(c);
}

/* docs/ENVELOPE.md: H is 24 (old values) or 48 + request_len. */
static void test_envelope_header(void) {
    llmcache__buf b = {NULL, 0, 0, 0};
    llmcache_response r;
    unsigned char v[64 + 11];
    llmcache__env_fields x;
    x.ttfe_ms = 0x100000000ll;          /* saturates */
    x.cached_input_tokens = 7;
    x.cache_write_tokens = -5;          /* any negative: unknown */
    x.request = NULL;
    x.request_len = 0;
    llmcache__env_build_ex(&b, 200, 0, NULL, 0, NULL, 0, "{\"ok\":true}", 11, &x);
    CHECK_EQ(b.len, 48 + 11);
    CHECK_EQ(llmcache_response_decode(b.p, b.len, &r), LLMCACHE_OK);
    CHECK_EQ(r.ttfe_ms, 0xffffffffll);
    CHECK_EQ(r.cached_input_tokens, 7);
    CHECK_EQ(r.cache_write_tokens, -1);
    CHECK_STR(r.body, "{\"ok\":true}");
    llmcache_response_free(&r);
    /* an old 24-byte header: the fields are unknown */
    memcpy(v, b.p, 24);
    v[6] = 24;
    memcpy(v + 24, "{\"ok\":true}", 11);
    CHECK_EQ(llmcache_response_decode(v, 35, &r), LLMCACHE_OK);
    CHECK_EQ(r.cached_input_tokens, -1);
    CHECK_EQ(r.cache_write_tokens, -1);
    CHECK_EQ(r.ttfe_ms, 0);
    llmcache_response_free(&r);
    /* a request of 2 bytes at 48: H = 50, request_len 2 */
    memcpy(v, b.p, 48);
    v[6] = 50;
    v[28] = 2;
    memcpy(v + 48, "{}", 2);
    memcpy(v + 50, "{\"ok\":true}", 11);
    CHECK_EQ(llmcache_response_decode(v, 61, &r), LLMCACHE_OK);
    CHECK_STR(r.body, "{\"ok\":true}");
    llmcache_response_free(&r);
    v[28] = 0;                          /* request_len must be H - 48 */
    CHECK_EQ(llmcache_response_decode(v, 61, &r), LLMCACHE_ECORRUPT);
    v[28] = 3;
    CHECK_EQ(llmcache_response_decode(v, 61, &r), LLMCACHE_ECORRUPT);
    v[28] = 2;
    v[6] = 30;                          /* between 24 and 48 */
    CHECK_EQ(llmcache_response_decode(v, 61, &r), LLMCACHE_ECORRUPT);
    llmcache__buf_free(&b);
}

static void test_prices_parse(void) {
    static const char ok[] = "{\"gpt-4o\":{\"input\":2500000,\"output\":10000000,\"cached_input\":1250000},"
                             "\"claude-x\":{\"cache_write\":3750000}}";
    static const char *bad[] = {
        "[]", "{\"m\":1}", "{\"m\":{\"input\":-1}}", "{\"m\":{\"input\":1.5}}", "{\"m\":{\"inputs\":1}}",
        "{\"m\":{\"input\":1000000000001}}", "{\"m\":{\"input\":\"1\"}}", "{", "{\"a\\u0000b\":{}}",
    };
    llmcache_prices *p = NULL;
    llmcache_config cfg;
    llmcache *c;
    llmcache_price dup[2];
    llmcache_prices dp;
    size_t i;
    CHECK_EQ(llmcache_prices_parse(ok, sizeof ok - 1, &p), LLMCACHE_OK);
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ(p->n, 2);
        CHECK_STR(p->models[0].model, "claude-x");   /* member order is name order */
        CHECK_EQ(p->models[0].cache_write, 3750000);
        CHECK_EQ(p->models[0].input, 0);
        CHECK_STR(p->models[1].model, "gpt-4o");
        CHECK_EQ(p->models[1].output, 10000000);
        CHECK_EQ(p->models[1].cached_input, 1250000);
    }
    llmcache_free(p);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = (llmcache_prices *)1;
        CHECK_MSG(llmcache_prices_parse(bad[i], strlen(bad[i]), &p) == LLMCACHE_EINVAL, "%s", bad[i]);
        CHECK(p == NULL);
    }
    /* a model twice is refused at open */
    memset(&cfg, 0, sizeof cfg);
    dup[0] = test_prices[0];
    dup[1] = test_prices[0];
    dp.models = dup;
    dp.n = 2;
    cfg.prices = &dp;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
}

/* A log file for the command-line test: a gpt-4o answer and a claude-x stream. */
static void write_log(const char *dir) {
    llmcache_config cfg;
    llmcache *c;
    llmcache_response r;
    char path[1024];
    fake fo, fc;
    snprintf(path, sizeof path, "%s/acct.log", dir);
    remove(path);
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    memset(&fo, 0, sizeof fo); fo.body = OPENAI_BODY;
    memset(&fc, 0, sizeof fc); fc.body = ANTHROPIC_STREAM; fc.stream = 1;
    CHECK_EQ(call(c, Q1, &fo, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
    CHECK_EQ(call(c, Q2, &fo, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
    CHECK_EQ(call(c, QC, &fc, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
    llmcache_close(c);
}

/* The hot path's scan for the root's "model" agrees with the parser, and hands
 * escapes to it. */
static void test_model_scan(void) {
    static const struct { const char *body; int found; const char *model; } cases[] = {
        { "{\"model\":\"gpt-4o\"}", 1, "gpt-4o" },
        { " { \"a\" : {\"model\":\"inner\"} , \"model\" : \"outer\" } ", 1, "outer" },
        { "{\"a\":[1,{\"b\":\"}\"},\"x,y\"],\"m\":null,\"model\":\"m2\"}", 1, "m2" },
        { "{\"a\":\"\\\"model\\\":\\\"no\\\"\",\"model\":\"yes\"}", 1, "yes" },
        { "{\"messages\":[{\"model\":\"x\"}]}", 0, "" },
        { "{\"model\":12}", 0, "" },
        { "{}", 0, "" },
        { "[\"model\"]", 0, "" },
        { "{\"mod\\u0065l\":\"esc-name\"}", -1, "esc-name" },
        { "{\"model\":\"a\\/b\"}", -1, "a/b" },
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *m = NULL;
        size_t len = 0;
        int got = llmcache__acct_scan_model(cases[i].body, strlen(cases[i].body), &m, &len);
        CHECK_MSG(got == cases[i].found, "%s", cases[i].body);
        if (got == 1) CHECK_MEM(m, len, cases[i].model, strlen(cases[i].model));
    }
    /* and through a call: the row's model is the parser's when the scan gives up */
    {
        llmcache *c;
        llmcache_response r;
        llmcache_acct_row *rows = NULL;
        size_t n = 0;
        fake f;
        memset(&f, 0, sizeof f);
        f.body = "{}";
        CHECK_EQ(llmcache_open(&c, NULL), LLMCACHE_OK);
        CHECK_EQ(call(c, cases[8].body, &f, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
        CHECK_EQ(call(c, cases[9].body, &f, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
        CHECK_EQ(call(c, cases[1].body, &f, 0, &r), LLMCACHE_OK); llmcache_response_free(&r);
        CHECK_EQ(llmcache_acct_rows(c, &rows, &n), LLMCACHE_OK);
        CHECK_EQ(n, 3);
        if (n == 3) {
            CHECK_STR(rows[0].model, "a/b");
            CHECK_STR(rows[1].model, "esc-name");
            CHECK_STR(rows[2].model, "outer");
        }
        llmcache_free(rows);
        llmcache_close(c);
    }
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : NULL;
    test_envelope_header();
    test_prices_parse();
    test_model_scan();
    test_scenario(dir);
    test_refresh_followers();
    test_fold();
    test_error_row();
    test_escaping();
    if (dir) write_log(dir);
    return TEST_REPORT();
}
