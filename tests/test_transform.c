/* tests/test_transform.c: values transformed at rest (llmcache_config.transform,
 * section >>transform of llmcache.h, docs/FORMAT.md "Transformed values") with a toy
 * transform that needs no library: a keyed XOR plus a checksum that binds the key,
 * so that its decode can fail as an authenticated one does. Round trip through the
 * log (warm and cold), the record's bytes, files mixing plain and transformed
 * records, an unknown transform id (get, foreach, events, counters, compaction and
 * verify keep the record), a decode that fails, a failing encode, bad configs, a
 * memory-only cache, and llmcache_call healing an unreadable entry. The real
 * transforms (zstd, libsodium) are in tests/test_transform_libs.c. Run from the
 * repository root:
 *   gcc -std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Werror \
 *       -I. -o /tmp/test_transform tests/test_transform.c -lpthread -lm && /tmp/test_transform */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include "log_bytes.h"
#include <stdlib.h>
#include <unistd.h>

#include "toy_transform.h"

static toy toy_a = {0x5a, 0, 0, 0};
static llmcache_transform tf_a = {7, toy_encode, toy_decode, &toy_a};
static llmcache_transform tf_b = {9, toy_encode, toy_decode, &toy_a};   /* another id */

typedef struct events { int errors, last_result; char last_msg[200]; } events;
static void on_event(void *ctx, const llmcache_event *ev) {
    events *e = (events *)ctx;
    if (ev->type != LLMCACHE_EVENT_ERROR) return;
    e->errors++;
    e->last_result = ev->result;
    snprintf(e->last_msg, sizeof e->last_msg, "%s", ev->message);
}

static char path[256];
static events ev;

static llmcache *open_with(const llmcache_transform *t, size_t max_bytes) {
    llmcache_config cfg;
    llmcache *c = NULL;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.transform = t;
    cfg.max_bytes = max_bytes;
    cfg.on_event = on_event;
    cfg.event_ctx = &ev;
    rc = llmcache_open(&c, &cfg);
    CHECK_EQ(rc, LLMCACHE_OK);
    return c;
}

static void key_of(llmcache_key *k, const char *name) { llmcache_sha256(name, strlen(name), k->bytes); }

static void expect_value(llmcache *c, const char *name, const char *want) {
    llmcache_key k;
    llmcache_value v;
    key_of(&k, name);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
    CHECK_MEM(v.data, v.len, want, strlen(want));
    llmcache_value_free(&v);
}

static void test_round_trip(void) {
    llmcache *c;
    llmcache_key k;
    llmcache__record r;
    unsigned char *b;
    size_t n;
    uint64_t off;
    llmcache_value v;
    llmcache_meta m;
    unlink(path);
    c = open_with(&tf_a, 0);
    key_of(&k, "a");
    memset(&m, 0, sizeof m);
    m.status = 200; m.prompt_tokens = 11; m.completion_tokens = 22;
    CHECK_EQ(llmcache_put_ex(c, &k, "the secret answer", 17, 0, &m), LLMCACHE_OK);
    key_of(&k, "empty");
    CHECK_EQ(llmcache_put(c, &k, "", 0, 0), LLMCACHE_OK);
    expect_value(c, "a", "the secret answer");   /* read from the file, decoded */
    expect_value(c, "a", "the secret answer");   /* then from memory */
    expect_value(c, "empty", "");
    llmcache_close(c);
    /* the record: id 7 in flags bits 8..15, value = u32 plain length + encode's bytes */
    b = log_slurp(path, &n);
    CHECK(!log_contains(b, n, "secret"));
    key_of(&k, "a");
    off = log_find_record(b, n, &k, NULL);
    CHECK(off != 0);
    CHECK(llmcache__rec_check(b + off, n - off, &r));
    CHECK_EQ(b[off + 14], 1);   /* meta present */
    CHECK_EQ(b[off + 15], 7);
    CHECK_EQ(r.xform, 7);
    CHECK_EQ(r.value_len, 4 + 17 + 4);
    CHECK_EQ(llmcache__ld32(r.value), 17);
    CHECK_EQ(r.value[4], (unsigned char)('t' ^ 0x5a));
    free(b);
    /* a cold read after reopening, with its meta and its plain length listed */
    c = open_with(&tf_a, 0);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_OK);
    CHECK_MEM(v.data, v.len, "the secret answer", 17);
    CHECK_EQ(v.meta.status, 200);
    CHECK_EQ(v.meta.completion_tokens, 22);
    llmcache_value_free(&v);
    {
        llmcache_stats st;
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.transform_unknown, 0);
        CHECK_EQ(st.transform_failed, 0);
        CHECK_EQ(st.entries, 2);
    }
    llmcache_close(c);
}

typedef struct walk { int n, with_data; size_t lens; int status_seen; } walk;
static int count_one(void *ctx, const llmcache_entry_info *info) {
    walk *w = (walk *)ctx;
    w->n++;
    w->lens += info->len;
    if (info->data) w->with_data++;
    if (info->meta.status == 201) w->status_seen++;
    return 0;
}

static void test_mixed_and_unknown(void) {
    llmcache *c;
    llmcache_key k;
    llmcache_value v;
    llmcache_stats st;
    llmcache_meta m;
    llmcache_verify_report rep;
    walk w;
    int rc;
    unlink(path);
    /* plain records first (as any earlier version wrote them), then transformed ones */
    c = open_with(NULL, 0);
    key_of(&k, "plain1"); CHECK_EQ(llmcache_put(c, &k, "plain one", 9, 0), LLMCACHE_OK);
    key_of(&k, "plain2"); CHECK_EQ(llmcache_put(c, &k, "plain two", 9, 0), LLMCACHE_OK);
    llmcache_close(c);
    c = open_with(&tf_a, 0);
    memset(&m, 0, sizeof m);
    m.status = 201;
    key_of(&k, "xf1"); CHECK_EQ(llmcache_put_ex(c, &k, "hidden one", 10, 0, &m), LLMCACHE_OK);
    key_of(&k, "xf2"); CHECK_EQ(llmcache_put(c, &k, "hidden two", 10, 0), LLMCACHE_OK);
    key_of(&k, "plain2"); CHECK_EQ(llmcache_put(c, &k, "now hidden", 10, 0), LLMCACHE_OK);  /* overwrite */
    llmcache_close(c);
    /* with the transform: every record reads back */
    c = open_with(&tf_a, 0);
    expect_value(c, "plain1", "plain one");
    expect_value(c, "plain2", "now hidden");
    expect_value(c, "xf1", "hidden one");
    expect_value(c, "xf2", "hidden two");
    llmcache_close(c);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);   /* intact records, whatever their id */
    CHECK_EQ(rep.records, 5);

    /* without it (or with another id): plain records read, the others are
       LLMCACHE_ETRANSFORM, counted and told, never returned */
    c = open_with(NULL, 0);
    expect_value(c, "plain1", "plain one");
    memset(&ev, 0, sizeof ev);
    key_of(&k, "xf1");
    v.data = (char *)"junk";
    rc = llmcache_get(c, &k, &v);
    CHECK_EQ(rc, LLMCACHE_ETRANSFORM);
    CHECK(v.data == NULL && v.len == 0);
    CHECK_EQ(ev.errors, 1);
    CHECK_EQ(ev.last_result, LLMCACHE_ETRANSFORM);
    CHECK(strstr(ev.last_msg, "transform id") != NULL);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_ETRANSFORM);   /* the entry stays, unread */
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.transform_unknown, 2);
    CHECK_EQ(st.transform_failed, 0);
    CHECK_EQ(st.hits, 1);
    CHECK_EQ(st.entries, 4);
    CHECK(strstr(llmcache_result_string(LLMCACHE_ETRANSFORM), "LLMCACHE_ETRANSFORM") != NULL);
    /* foreach: listed without values (plain lengths, meta as stored); with values the
       unreadable ones are skipped and the walk ends in the first such error */
    memset(&w, 0, sizeof w);
    CHECK_EQ(llmcache_foreach(c, 0, count_one, &w), LLMCACHE_OK);
    CHECK_EQ(w.n, 4);
    CHECK_EQ(w.lens, 9 + 10 + 10 + 10);
    CHECK_EQ(w.status_seen, 1);
    memset(&w, 0, sizeof w);
    CHECK_EQ(llmcache_foreach(c, 1, count_one, &w), LLMCACHE_ETRANSFORM);
    CHECK_EQ(w.n, 1);
    CHECK_EQ(w.with_data, 1);
    /* compaction copies the records it cannot read as they are */
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    llmcache_close(c);
    c = open_with(&tf_b, 0);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_ETRANSFORM);
    llmcache_close(c);
    c = open_with(&tf_a, 0);
    expect_value(c, "plain1", "plain one");
    expect_value(c, "plain2", "now hidden");
    expect_value(c, "xf1", "hidden one");
    expect_value(c, "xf2", "hidden two");
    llmcache_close(c);
}

/* A record whose transformed bytes were changed and its CRC recomputed (what an
 * attacker who knows the format does): the decode fails, LLMCACHE_ECORRUPT. */
static void test_decode_fails(void) {
    llmcache *c;
    llmcache_key k, k2;
    llmcache_value v;
    llmcache_stats st;
    llmcache__record r;
    unsigned char *b;
    size_t n;
    uint64_t off;
    unlink(path);
    c = open_with(&tf_a, 0);
    key_of(&k, "victim");
    key_of(&k2, "other");
    CHECK_EQ(llmcache_put(c, &k, "pay 10 dollars", 14, 0), LLMCACHE_OK);
    CHECK_EQ(llmcache_put(c, &k2, "fine", 4, 0), LLMCACHE_OK);
    llmcache_close(c);
    b = log_slurp(path, &n);
    off = log_find_record(b, n, &k, NULL);
    CHECK(llmcache__rec_check(b + off, n - off, &r));
    b[off + LLMCACHE__REC_HDR + 4 + 4] ^= ('1' ^ '9');        /* "pay 90 dollars" */
    llmcache__st32(b + off + 4, llmcache__crc32c(0, b + off + 8, r.len - 8));
    log_spill(path, b, n);
    free(b);
    c = open_with(&tf_a, 0);
    memset(&ev, 0, sizeof ev);
    CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_ECORRUPT);
    CHECK(v.data == NULL);
    CHECK_EQ(ev.last_result, LLMCACHE_ECORRUPT);
    CHECK(strstr(ev.last_msg, "decode") != NULL);
    expect_value(c, "other", "fine");
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.transform_failed, 1);
    CHECK_EQ(st.transform_unknown, 0);
    llmcache_close(c);
    /* a record whose stated plain length disagrees with what decode gives */
    b = log_slurp(path, &n);
    off = log_find_record(b, n, &k2, NULL);
    CHECK(llmcache__rec_check(b + off, n - off, &r));
    llmcache__st32(b + off + LLMCACHE__REC_HDR, 5);
    llmcache__st32(b + off + 4, llmcache__crc32c(0, b + off + 8, r.len - 8));
    log_spill(path, b, n);
    free(b);
    c = open_with(&tf_a, 0);
    CHECK_EQ(llmcache_get(c, &k2, &v), LLMCACHE_ECORRUPT);
    llmcache_close(c);
}

static void test_format_rules(void) {
    unsigned char rec[256];
    llmcache__record r;
    llmcache_key k;
    uint32_t len;
    key_of(&k, "f");
    /* a transformed put needs its 4-byte plain length; a delete takes no transform */
    len = llmcache__rec_encode(rec, LLMCACHE__R_PUT, 0, 1, &k, 1, 0, NULL, "abc", 3, 7);
    CHECK(!llmcache__rec_check(rec, llmcache__pad8(len), &r));
    len = llmcache__rec_encode(rec, LLMCACHE__R_PUT, 0, 1, &k, 1, 0, NULL, "\3\0\0\0abc", 7, 255);
    CHECK(llmcache__rec_check(rec, llmcache__pad8(len), &r) && r.xform == 255);
    len = llmcache__rec_encode(rec, LLMCACHE__R_DEL, 0, 1, &k, 1, 0, NULL, NULL, 0, 7);
    CHECK(!llmcache__rec_check(rec, llmcache__pad8(len), &r));
    /* flags bits 1..7 stay reserved */
    len = llmcache__rec_encode(rec, LLMCACHE__R_PUT, 0, 1, &k, 1, 0, NULL, "abc", 3, 0);
    rec[14] = 2;
    llmcache__st32(rec + 4, llmcache__crc32c(0, rec + 8, len - 8));
    CHECK(!llmcache__rec_check(rec, llmcache__pad8(len), &r));
}

static void test_config_and_encode_failure(void) {
    llmcache_config cfg;
    llmcache_transform bad = tf_a;
    llmcache *c = NULL;
    llmcache_key k;
    memset(&cfg, 0, sizeof cfg);
    cfg.transform = &bad;
    bad.id = 0;   CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    bad.id = 256; CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    bad.id = 3; bad.decode = NULL; CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_EINVAL);
    CHECK(c == NULL);
    /* memory-only: values are kept plain, the transform is not called */
    toy_a.encodes = toy_a.decodes = 0;
    cfg.transform = &tf_a;
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    key_of(&k, "m");
    CHECK_EQ(llmcache_put(c, &k, "mem", 3, 0), LLMCACHE_OK);
    expect_value(c, "m", "mem");
    CHECK_EQ(toy_a.encodes + toy_a.decodes, 0);
    llmcache_close(c);
    /* an encode that fails fails the put, and nothing is written */
    unlink(path);
    c = open_with(&tf_a, 0);
    toy_a.fail_encode = 1;
    CHECK_EQ(llmcache_put(c, &k, "x", 1, 0), LLMCACHE_ETRANSFORM);
    toy_a.fail_encode = 0;
    {
        llmcache_value v;
        llmcache_stats st;
        CHECK_EQ(llmcache_get(c, &k, &v), LLMCACHE_MISS);
        llmcache_stats_get(c, &st);
        CHECK_EQ(st.file_bytes, LLMCACHE__HDR_SIZE);
    }
    llmcache_close(c);
}

/* llmcache_call over an entry it cannot decode: told, fails open to the provider,
 * and stores the fresh answer under its own transform. */
static int calls;
static int transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    (void)ctx; (void)req;
    calls++;
    return llmcache_sink_write(sink, "{\"answer\":42}", 13) == LLMCACHE_OK ? 200 : LLMCACHE_ETRANSPORT;
}

static void test_call(void) {
    llmcache *c;
    llmcache_request req;
    llmcache_response res;
    llmcache_call_options o;
    llmcache_stats st;
    unlink(path);
    memset(&req, 0, sizeof req);
    req.body = "{\"q\":1}";
    req.body_len = strlen(req.body);
    memset(&o, 0, sizeof o);
    c = open_with(&tf_a, 0);
    CHECK_EQ(llmcache_call(c, &req, transport, NULL, &o, &res), LLMCACHE_OK);
    llmcache_response_free(&res);
    llmcache_close(c);
    c = open_with(&tf_a, 0);   /* a cold hit, decoded */
    CHECK_EQ(llmcache_call(c, &req, transport, NULL, &o, &res), LLMCACHE_OK);
    CHECK(res.from_cache == 1);
    CHECK_MEM(res.body, res.len, "{\"answer\":42}", 13);
    llmcache_response_free(&res);
    llmcache_close(c);
    CHECK_EQ(calls, 1);
    c = open_with(&tf_b, 0);   /* another id: told, answered by the provider, stored again */
    memset(&ev, 0, sizeof ev);
    CHECK_EQ(llmcache_call(c, &req, transport, NULL, &o, &res), LLMCACHE_OK);
    CHECK(res.from_cache == 0);
    llmcache_response_free(&res);
    CHECK_EQ(calls, 2);
    CHECK_EQ(ev.last_result, LLMCACHE_ETRANSFORM);
    llmcache_stats_get(c, &st);
    CHECK_EQ(st.transform_unknown, 1);
    llmcache_close(c);
    c = open_with(&tf_b, 0);
    CHECK_EQ(llmcache_call(c, &req, transport, NULL, &o, &res), LLMCACHE_OK);
    CHECK(res.from_cache == 1);
    llmcache_response_free(&res);
    llmcache_close(c);
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/llmcache-test-transform-%ld.log", (long)getpid());
    test_round_trip();
    test_mixed_and_unknown();
    test_decode_fails();
    test_format_rules();
    test_config_and_encode_failure();
    test_call();
    unlink(path);
    {
        char shm[300];
        snprintf(shm, sizeof shm, "%s-shm", path);
        unlink(shm);
    }
    return TEST_REPORT();
}
