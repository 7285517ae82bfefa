/* fuzz/fuzz_envelope.c: fuzz target for the call envelope (llmcache_response_decode,
 * docs/ENVELOPE.md), the SSE event splitter of the transport sink, and the stream
 * replay of llmcache_call, on arbitrary bytes.
 *
 * `make fuzz` and `make fuzz-regress` (fuzz/fuzz.mk) build and run every target; by hand:
 * libFuzzer (from the repository root):
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o build/fuzz/fuzz_envelope fuzz/fuzz_envelope.c -lpthread
 *     build/fuzz/fuzz_envelope -dict=fuzz/envelope.dict -rss_limit_mb=2048 -malloc_limit_mb=512 -max_total_time=180 fuzz/corpus/envelope
 * AFL++ (persistent mode; AFL's macros are not -Wpedantic clean):
 *     afl-clang-fast -g -O1 -DLLMCACHE_FUZZ_AFL -o build/fuzz/afl_envelope fuzz/fuzz_envelope.c -lpthread
 *     afl-fuzz -i fuzz/corpus/envelope -x fuzz/envelope.dict -o build/afl-envelope -- build/fuzz/afl_envelope
 * Plain replay (any compiler; each argument is a file or a directory of files):
 *     cc -std=c99 -g -DLLMCACHE_FUZZ_MAIN -fsanitize=address,undefined -o build/fuzz/replay_envelope fuzz/fuzz_envelope.c -lpthread
 *     build/fuzz/replay_envelope fuzz/corpus/envelope
 *
 * Each input is used four ways:
 *  1. the whole input as an envelope, from an exactly sized heap copy (ASan sees any
 *     overread): llmcache_response_decode accepts exactly what docs/ENVELOPE.md
 *     allows (an independent reading below); when it accepts, the chunks are
 *     contiguous slices from the start of the body whose lengths sum within it,
 *     model and body are NUL-terminated copies, the extended header's fields are
 *     decoded, and the library's encoder gives the input back (header_len normalized
 *     to 48, without the stored request, negative token counts as -1); when it
 *     refuses, out is zeroed;
 *  2. input[1..] as a streamed response body written through a sink at once, byte
 *     by byte and in pieces chosen by input[0]: the same SSE events every time, the
 *     ones an independent splitter finds, each reported once through on_chunk;
 *  3. input[1..] as the body a transport returns to llmcache_call (input[0] picks
 *     stream or not, Content-Type or req.stream, raw_body): a success is stored, and
 *     a second call is a hit with the same body, the same chunks, replayed alike;
 *  4. the whole input stored as an envelope entry: llmcache_call serves it when it
 *     decodes (with its chunks replayed, and a model built by parse on the hit), and
 *     otherwise counts an error and calls the transport.
 * No leak (every library allocation freed), no allocation beyond 32x the input + 64 KiB. */
#define FUZZ_NAME "fuzz_envelope"
#include "fuzz_util.h"

static int64_t fake_clock(void *ctx) { (void)ctx; return 1700000000000; }

/* ---- 1. the envelope, read from docs/ENVELOPE.md */
static int ref_envelope(const unsigned char *p, size_t n, uint64_t *body_off, uint64_t *model_off) {
    uint64_t h, nc, ml, bl, need, sum = 0, i;
    unsigned flags;
    if (n < 24 || memcmp(p, "llce", 4) != 0) return LLMCACHE_ECORRUPT;
    if (p[4] != 1) return p[4] > 1 ? LLMCACHE_EVERSION : LLMCACHE_ECORRUPT;
    flags = p[5];
    if (flags & ~3u) return LLMCACHE_ECORRUPT;
    h = (uint64_t)p[6] | (uint64_t)p[7] << 8;
    nc = fuzz_ld32(p + 12); ml = fuzz_ld32(p + 16); bl = fuzz_ld32(p + 20);
    if (h != 24 && (h < 48 || n < 48 || fuzz_ld32(p + 28) != h - 48)) return LLMCACHE_ECORRUPT;
    if ((!(flags & 1u) && nc) || (!(flags & 2u) && ml)) return LLMCACHE_ECORRUPT;
    need = h + 8 * nc + ((flags & 2u) ? ml + 1 : 0) + bl;
    if (need != n) return LLMCACHE_ECORRUPT;
    for (i = 0; i < nc; i++) sum += fuzz_ld32(p + h + 8 * i);
    if (sum > bl) return LLMCACHE_ECORRUPT;
    *model_off = h + 8 * nc;
    if ((flags & 2u) && p[*model_off + ml] != 0) return LLMCACHE_ECORRUPT;
    *body_off = *model_off + ((flags & 2u) ? ml + 1 : 0);
    return LLMCACHE_OK;
}

static void check_decode(const unsigned char *p, size_t n) {
    llmcache_response r, zero;
    uint64_t body_off = 0, model_off = 0, sum = 0;
    int want = ref_envelope(p, n, &body_off, &model_off);
    int rc = llmcache_response_decode(p, n, &r);
    unsigned flags;
    size_t i;
    llmcache__buf b = {NULL, 0, 0, 0};
    FUZZ_ASSERT(rc == want);
    memset(&zero, 0, sizeof zero);
    if (rc != LLMCACHE_OK) {
        FUZZ_ASSERT(memcmp(&r, &zero, sizeof r) == 0);
        return;
    }
    flags = p[5];
    FUZZ_ASSERT(r.status == (int)(int32_t)fuzz_ld32(p + 8));
    FUZZ_ASSERT(r.len == fuzz_ld32(p + 20) && r.body != NULL && r.body[r.len] == '\0');
    FUZZ_ASSERT(body_off + r.len == n && memcmp(r.body, p + body_off, r.len) == 0);
    if (flags & 2u) {
        FUZZ_ASSERT(r.model != NULL && r.model_len == fuzz_ld32(p + 16) && r.model[r.model_len] == '\0');
        FUZZ_ASSERT(memcmp(r.model, p + model_off, r.model_len) == 0);
    } else {
        FUZZ_ASSERT(r.model == NULL && r.model_len == 0);
    }
    FUZZ_ASSERT(r.n_chunks == fuzz_ld32(p + 12));
    for (i = 0; i < r.n_chunks; i++) {
        uint64_t h = (uint64_t)p[6] | (uint64_t)p[7] << 8;
        FUZZ_ASSERT(r.chunks[i].data == r.body + sum);
        FUZZ_ASSERT(r.chunks[i].len == fuzz_ld32(p + h + 8 * i));
        FUZZ_ASSERT(r.chunks[i].at_ms == (int64_t)fuzz_ld32(p + h + 8 * i + 4));
        sum += r.chunks[i].len;
        FUZZ_ASSERT(sum <= r.len);
    }
    /* encode(decode(x)) == x, but for the header: 48 bytes plus the request, token
       counts normalized; a 24-byte header's fields unknown */
    {
        size_t h = (size_t)p[6] | (size_t)p[7] << 8, rl = h > 48 ? h - 48 : 0;
        llmcache__env_fields x;
        int64_t cached = h >= 48 ? (int64_t)fuzz_ld64(p + 32) : -1, write = h >= 48 ? (int64_t)fuzz_ld64(p + 40) : -1;
        FUZZ_ASSERT(r.ttfe_ms == (h >= 48 ? (int64_t)fuzz_ld32(p + 24) : 0));
        FUZZ_ASSERT(r.cached_input_tokens == (cached < 0 ? -1 : cached));
        FUZZ_ASSERT(r.cache_write_tokens == (write < 0 ? -1 : write));
        FUZZ_ASSERT(r.request_len == rl && (rl == 0) == (r.request == NULL));
        x.ttfe_ms = r.ttfe_ms;
        x.cached_input_tokens = r.cached_input_tokens;
        x.cache_write_tokens = r.cache_write_tokens;
        x.request = r.request;
        x.request_len = r.request_len;
        llmcache__env_build_ex(&b, r.status, (flags & 1u) != 0, r.chunks, r.n_chunks, (flags & 2u) ? r.model : NULL,
                               r.model_len, r.body, r.len, &x);
        FUZZ_ASSERT(!b.oom);
        FUZZ_ASSERT(b.len == n - h + 48 + rl);
        FUZZ_ASSERT(memcmp(b.p, p, 6) == 0 && b.p[6] == (unsigned char)((48 + rl) & 255) &&
                    b.p[7] == (unsigned char)((48 + rl) >> 8));
        FUZZ_ASSERT(memcmp(b.p + 8, p + 8, 16) == 0);
        FUZZ_ASSERT(fuzz_ld32((const unsigned char *)b.p + 28) == rl);
        FUZZ_ASSERT(rl == 0 || memcmp(b.p + 48, p + 48, rl) == 0);
        FUZZ_ASSERT(memcmp(b.p + 48 + rl, p + h, n - h) == 0);
    }
    llmcache__buf_free(&b);
    llmcache_response_free(&r);
    FUZZ_ASSERT(memcmp(&r, &zero, sizeof r) == 0);
}

/* ---- 2. the SSE splitter */
typedef struct ev { size_t off, len; const char *data; } ev;
typedef struct evlist { ev *e; size_t n, cap; } evlist;

static void ev_push(evlist *l, size_t off, size_t len, const char *data) {
    if (l->n == l->cap) {
        l->cap = l->cap * 2 + 16;
        l->e = (ev *)realloc(l->e, l->cap * sizeof *l->e);
        FUZZ_ASSERT(l->e != NULL);
    }
    l->e[l->n].off = off;
    l->e[l->n].data = data;
    l->e[l->n++].len = len;
}

/* "field: value", the space optional */
static int line_is(const unsigned char *p, size_t n, const char *field, const char *value) {
    size_t f = strlen(field), v = strlen(value);
    if (n < f + 1 || memcmp(p, field, f) != 0 || p[f] != ':') return 0;
    p += f + 1; n -= f + 1;
    if (n && *p == ' ') { p++; n--; }
    return n == v && memcmp(p, value, v) == 0;
}

/* Events of a whole stream: lines end with CRLF, LF or CR; a blank line ends an
 * event that has at least one line; an event runs from the end of the previous
 * one through that blank line. *terminated: some event holds a terminator line. */
static void ref_sse(const unsigned char *p, size_t n, evlist *out, int *terminated) {
    size_t i = 0, start = 0;
    int lines = 0, term = 0;
    *terminated = 0;
    while (i < n) {
        size_t j = i, end;
        while (j < n && p[j] != '\n' && p[j] != '\r') j++;
        if (j == n) break;
        end = (p[j] == '\r' && j + 1 < n && p[j + 1] == '\n') ? j + 2 : j + 1;
        if (j > i) {
            lines++;
            if (line_is(p + i, j - i, "data", "[DONE]") || line_is(p + i, j - i, "event", "message_stop") ||
                line_is(p + i, j - i, "event", "response.completed")) term = 1;
        } else if (lines) {
            ev_push(out, start, end - start, NULL);
            if (term) *terminated = 1;
            start = end;
            lines = term = 0;
        }
        i = end;
    }
}

static void on_live_chunk(void *ctx, const llmcache_chunk *ch) {
    evlist *l = (evlist *)ctx;
    FUZZ_ASSERT(ch->data != NULL && ch->len > 0 && ch->at_ms >= 0);
    /* data points into the sink's buffer: record the offset from the running total */
    ev_push(l, l->n ? l->e[l->n - 1].off + l->e[l->n - 1].len : 0, ch->len, NULL);
}

static uint32_t rng_next(uint32_t *s) { *s ^= *s << 13; *s ^= *s >> 17; *s ^= *s << 5; return *s; }

/* mode 0: one write; 1: byte by byte; 2: pieces from the seed */
static void split_stream(const unsigned char *p, size_t n, int mode, uint32_t seed, const evlist *want, int want_term) {
    llmcache_sink s;
    evlist live;
    size_t at = 0, i;
    memset(&s, 0, sizeof s);
    memset(&live, 0, sizeof live);
    s.buf.p = NULL; s.recs = NULL;
    s.stream = 1;
    s.on_chunk = on_live_chunk;
    s.chunk_ctx = &live;
    s.t0_us = llmcache__mono_us();
    if (!seed) seed = 1;
    while (at < n) {
        size_t k = mode == 0 ? n - at : mode == 1 ? 1 : 1 + rng_next(&seed) % 64;
        if (k > n - at) k = n - at;
        FUZZ_ASSERT(llmcache_sink_write(&s, p + at, k) == LLMCACHE_OK);
        at += k;
    }
    if (n == 0) FUZZ_ASSERT(llmcache_sink_write(&s, "", 0) == LLMCACHE_OK);
    llmcache__sse_scan(&s, 1);
    FUZZ_ASSERT(s.err == LLMCACHE_OK && s.buf.len == n && (n == 0 || memcmp(s.buf.p, p, n) == 0));
    FUZZ_ASSERT(s.n_recs == want->n && live.n == want->n);
    FUZZ_ASSERT(s.terminated == want_term);
    for (i = 0; i < want->n; i++) {
        FUZZ_ASSERT(s.recs[i].off == want->e[i].off && s.recs[i].len == want->e[i].len);
        FUZZ_ASSERT(live.e[i].off == want->e[i].off && live.e[i].len == want->e[i].len);
    }
    free(live.e);
    llmcache__sink_free(&s);
}

/* ---- 3. and 4. llmcache_call */
typedef struct transport { const unsigned char *body; size_t len; int header; uint32_t seed; int calls; } transport;

static int fake_transport(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    transport *t = (transport *)ctx;
    uint32_t seed = t->seed ? t->seed : 1;
    size_t at = 0;
    (void)req;
    t->calls++;
    if (t->header) FUZZ_ASSERT(llmcache_sink_header(sink, "Content-Type", "text/event-stream; charset=utf-8") == LLMCACHE_OK);
    while (at < t->len) {
        size_t k = 1 + rng_next(&seed) % 200;
        if (k > t->len - at) k = t->len - at;
        if (llmcache_sink_write(sink, t->body + at, k) != LLMCACHE_OK) return -1;
        at += k;
    }
    return 200;
}

/* chunks told during a call: where they point is checked once the call has
   returned (a hit's chunks point into its body; a miss's live ones into a buffer
   that may have moved since) */
static void on_replay_chunk(void *ctx, const llmcache_chunk *ch) {
    FUZZ_ASSERT(ch->data != NULL);
    ev_push((evlist *)ctx, 0, ch->len, ch->data);
}

static int parse_model(void *ctx, const llmcache_response *resp, llmcache_sink *model) {
    (void)ctx;
    FUZZ_ASSERT(resp->body != NULL && resp->body[resp->len] == '\0');
    return llmcache_sink_write(model, "model!", 6) == LLMCACHE_OK ? 0 : 1;
}

static void check_chunks(const llmcache_response *r) {
    size_t i, sum = 0;
    for (i = 0; i < r->n_chunks; i++) {
        FUZZ_ASSERT(r->chunks[i].data == r->body + sum);
        sum += r->chunks[i].len;
    }
    FUZZ_ASSERT(sum <= r->len);
}

static void check_call(const unsigned char *body, size_t n, unsigned ctl, const evlist *want, int want_term) {
    static const char req_body[] = "{\"model\":\"m\",\"messages\":[]}";
    llmcache *c;
    llmcache_config cfg;
    llmcache_request req;
    llmcache_call_options o;
    llmcache_response r1, r2;
    transport t;
    evlist live, replayed;
    int rc1, rc2, stream = (ctl & 1u) != 0;
    size_t i;
    memset(&cfg, 0, sizeof cfg);
    cfg.clock = fake_clock;
    FUZZ_ASSERT(llmcache_open(&c, &cfg) == LLMCACHE_OK);
    memset(&req, 0, sizeof req);
    req.endpoint = "https://example.invalid/v1/chat/completions";
    req.body = req_body; req.body_len = sizeof req_body - 1;
    req.stream = stream && !(ctl & 4u);
    memset(&t, 0, sizeof t);
    t.body = body; t.len = n; t.header = stream && (ctl & 4u); t.seed = ctl >> 3;
    memset(&o, 0, sizeof o);
    memset(&live, 0, sizeof live);
    memset(&replayed, 0, sizeof replayed);
    o.raw_body = (ctl & 2u) != 0;
    o.on_chunk = on_live_chunk;
    o.chunk_ctx = &live;

    rc1 = llmcache_call(c, &req, fake_transport, &t, &o, &r1);
    FUZZ_ASSERT(t.calls == 1 && !r1.from_cache);
    FUZZ_ASSERT(r1.len == n && r1.body != NULL && memcmp(r1.body, body, n) == 0 && r1.body[n] == '\0');
    if (stream) {
        FUZZ_ASSERT(live.n == want->n && r1.n_chunks == want->n);
        for (i = 0; i < want->n; i++) FUZZ_ASSERT(live.e[i].len == want->e[i].len && r1.chunks[i].len == want->e[i].len);
        FUZZ_ASSERT((rc1 == LLMCACHE_OK) == want_term);
    } else {
        FUZZ_ASSERT(r1.n_chunks == 0 && live.n == 0);
        FUZZ_ASSERT(rc1 == LLMCACHE_OK || rc1 == LLMCACHE_EREJECTED);
        if (o.raw_body) FUZZ_ASSERT(rc1 == LLMCACHE_OK);
    }
    check_chunks(&r1);
    FUZZ_ASSERT(r1.stored == (rc1 == LLMCACHE_OK));

    /* the second call: a hit replaying the same events, or (nothing stored) a new miss */
    o.on_chunk = on_replay_chunk;
    o.chunk_ctx = &replayed;
    rc2 = llmcache_call(c, &req, fake_transport, &t, &o, &r2);
    FUZZ_ASSERT(rc2 == rc1);
    FUZZ_ASSERT(r2.from_cache == (rc1 == LLMCACHE_OK) && t.calls == (rc1 == LLMCACHE_OK ? 1 : 2));
    FUZZ_ASSERT(r2.len == r1.len && memcmp(r2.body, r1.body, n) == 0 && r2.status == 200);
    FUZZ_ASSERT(r2.n_chunks == r1.n_chunks);
    for (i = 0; i < r1.n_chunks; i++)
        FUZZ_ASSERT(r2.chunks[i].len == r1.chunks[i].len && r2.chunks[i].data - r2.body == r1.chunks[i].data - r1.body);
    if (r2.from_cache) {
        FUZZ_ASSERT(replayed.n == r2.n_chunks);
        for (i = 0; i < r2.n_chunks; i++)
            FUZZ_ASSERT(replayed.e[i].len == r2.chunks[i].len && replayed.e[i].data == r2.chunks[i].data);
    } else {   /* a miss again: the same live events */
        FUZZ_ASSERT(replayed.n == (stream ? want->n : 0));
        for (i = 0; i < replayed.n; i++) FUZZ_ASSERT(replayed.e[i].len == want->e[i].len);
        FUZZ_ASSERT((r2.meta.flags & LLMCACHE_META_STREAM) == (stream ? LLMCACHE_META_STREAM : 0u));
    }
    check_chunks(&r2);
    llmcache_response_free(&r1);
    llmcache_response_free(&r2);
    free(live.e);
    free(replayed.e);
    llmcache_close(c);
}

/* 4: a stored value of any bytes, flagged as an envelope */
static void check_stored(const unsigned char *p, size_t n, int decodes) {
    static const char req_body[] = "{\"model\":\"m\"}";
    static const unsigned char answer[] = "{\"fresh\":true}";
    llmcache *c;
    llmcache_config cfg;
    llmcache_request req;
    llmcache_call_options o;
    llmcache_response r;
    llmcache_meta meta;
    llmcache_stats st;
    llmcache_key k;
    transport t;
    evlist replayed;
    size_t i;
    int res;
    memset(&cfg, 0, sizeof cfg);
    cfg.clock = fake_clock;
    FUZZ_ASSERT(llmcache_open(&c, &cfg) == LLMCACHE_OK);
    memset(&req, 0, sizeof req);
    req.body = req_body; req.body_len = sizeof req_body - 1;
    FUZZ_ASSERT(llmcache_key_for(&k, NULL, &req) == LLMCACHE_OK);
    memset(&meta, 0, sizeof meta);
    meta.status = 200;
    meta.flags = LLMCACHE_META_ENVELOPE | LLMCACHE_META_STREAM;
    meta.latency_ms = 5;
    FUZZ_ASSERT(llmcache_put_ex(c, &k, p, n, -1, &meta) == LLMCACHE_OK);
    memset(&t, 0, sizeof t);
    t.body = answer; t.len = sizeof answer - 1;
    memset(&o, 0, sizeof o);
    memset(&replayed, 0, sizeof replayed);
    o.on_chunk = on_replay_chunk;
    o.chunk_ctx = &replayed;
    o.parse = parse_model;
    res = llmcache_call(c, &req, fake_transport, &t, &o, &r);
    FUZZ_ASSERT(res == LLMCACHE_OK);
    llmcache_stats_get(c, &st);
    if (decodes) {
        FUZZ_ASSERT(r.from_cache && t.calls == 0 && st.errors == 0);
        /* a stored model is served as is; without one, parse builds it on the hit */
        FUZZ_ASSERT(r.model != NULL && r.model[r.model_len] == '\0');
        if (!(p[5] & 2u)) FUZZ_ASSERT(r.model_len == 6 && memcmp(r.model, "model!", 6) == 0);
        FUZZ_ASSERT(replayed.n == r.n_chunks);
        for (i = 0; i < r.n_chunks; i++)
            FUZZ_ASSERT(replayed.e[i].len == r.chunks[i].len && replayed.e[i].data == r.chunks[i].data);
        check_chunks(&r);
    } else {
        FUZZ_ASSERT(!r.from_cache && t.calls == 1 && st.errors == 1 && r.stored);
        FUZZ_ASSERT(r.len == sizeof answer - 1 && memcmp(r.body, answer, r.len) == 0);
    }
    llmcache_response_free(&r);
    free(replayed.e);
    llmcache_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *p = (unsigned char *)calloc(size ? size : 1, 1);   /* exactly sized */
    evlist want;
    int term = 0;
    uint64_t bo, mo;
    FUZZ_ASSERT(p != NULL);
    if (size) memcpy(p, data, size);
    else p[0] = 0;                                          /* not part of the input */
    fuzz_alloc_limit = 32 * size + ((size_t)1 << 16);   /* events: 24 bytes of bookkeeping per 3 input bytes, doubled */
    check_decode(p, size);
    FUZZ_ASSERT(fuzz_allocs() == 0);
    if (size >= 1) {
        memset(&want, 0, sizeof want);
        ref_sse(p + 1, size - 1, &want, &term);
        split_stream(p + 1, size - 1, 0, 0, &want, term);
        split_stream(p + 1, size - 1, 1, 0, &want, term);
        split_stream(p + 1, size - 1, 2, (uint32_t)p[0] * 2654435761u, &want, term);
        FUZZ_ASSERT(fuzz_allocs() == 0);
        check_call(p + 1, size - 1, p[0], &want, term);
        FUZZ_ASSERT(fuzz_allocs() == 0);
        free(want.e);
    }
    check_stored(p, size, ref_envelope(p, size, &bo, &mo) == LLMCACHE_OK);
    FUZZ_ASSERT(fuzz_allocs() == 0);
    free(p);
    return 0;
}
