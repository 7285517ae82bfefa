/* >>call-through (llmcache_call, sink, SSE, envelope, single-flight) -----------------
 * A call looks its key up; on a miss it becomes the leader of a "flight" for the key
 * (concurrent identical calls wait for it and share its result), runs the transport
 * into a sink that splits SSE events as they arrive, checks the answer, packs it
 * into an envelope (docs/ENVELOPE.md), stores it, and decodes the envelope into the
 * caller's response: hits, fresh answers and shared ones all come back one way. */

/* ---- envelope (docs/ENVELOPE.md) */
#define LLMCACHE__ENV_HEADER 24u
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
} llmcache__env;

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
    if (hlen < LLMCACHE__ENV_HEADER) return LLMCACHE_ECORRUPT;
    if (!(e->flags & LLMCACHE__ENV_STREAM) && e->n_chunks) return LLMCACHE_ECORRUPT;
    if (!(e->flags & LLMCACHE__ENV_MODEL) && e->model_len) return LLMCACHE_ECORRUPT;
    /* 64-bit sums of 32-bit fields cannot overflow */
    need = hlen + (uint64_t)e->n_chunks * 8u + (e->flags & LLMCACHE__ENV_MODEL ? (uint64_t)e->model_len + 1u : 0u)
         + e->body_len;
    if (need != (uint64_t)n) return LLMCACHE_ECORRUPT;
    e->table = p + (size_t)hlen;
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

/* Appends the envelope of a response to b. chunks point into body, in order. */
static void llmcache__env_build(llmcache__buf *b, int status, int stream, const llmcache_chunk *chunks,
                                size_t n_chunks, const char *model, size_t model_len,
                                const char *body, size_t body_len) {
    unsigned char h[LLMCACHE__ENV_HEADER];
    size_t i;
    if (n_chunks > 0xffffffffu || model_len >= 0xffffffffu || body_len > 0xffffffffu) { b->oom = 1; return; }
    memcpy(h, "llce", 4);
    h[4] = (unsigned char)LLMCACHE__ENV_VERSION;
    h[5] = (unsigned char)((stream ? LLMCACHE__ENV_STREAM : 0u) | (model ? LLMCACHE__ENV_MODEL : 0u));
    h[6] = (unsigned char)LLMCACHE__ENV_HEADER; h[7] = 0;
    llmcache__st32(h + 8, (uint32_t)status);
    llmcache__st32(h + 12, (uint32_t)(stream ? n_chunks : 0));
    llmcache__st32(h + 16, (uint32_t)(model ? model_len : 0));
    llmcache__st32(h + 20, (uint32_t)body_len);
    llmcache__buf_put(b, h, sizeof h);
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
    for (i = 0; i < e.n_chunks; i++) {
        out->chunks[i].data = out->body + off;
        out->chunks[i].len = llmcache__ld32(e.table + i * 8u);
        out->chunks[i].at_ms = (int64_t)llmcache__ld32(e.table + i * 8u + 4u);
        off += out->chunks[i].len;
    }
    out->n_chunks = e.n_chunks;
    return LLMCACHE_OK;
}

static char *llmcache__memdup_nul(const void *p, size_t n) {
    char *q = (char *)LLMCACHE_MALLOC(n + 1);
    if (!q) return NULL;
    if (n) memcpy(q, p, n);
    q[n] = '\0';
    return q;
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
            if (s->on_chunk) {
                llmcache_chunk ch;
                ch.data = p + r->off; ch.len = r->len; ch.at_ms = r->at_ms;
                s->on_chunk(s->chunk_ctx, &ch);
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

LLMCACHE_API int llmcache_sink_header(llmcache_sink *s, const char *name, const char *value) {
    static const char sse[] = "text/event-stream";
    if (!s || !name || !value) return LLMCACHE_EINVAL;
    while (*value == ' ' || *value == '\t') value++;
    if (!s->model && s->buf.len == 0 && strlen(name) == 12 && llmcache__ieq(name, "content-type", 12) &&
        strlen(value) >= sizeof sse - 1 && llmcache__ieq(value, sse, sizeof sse - 1)) s->stream = 1;
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
 * completion_tokens, else output_tokens. Counters the document lacks leave *pt /
 * *ct as they are (a stream's later events update earlier ones). Returns 0, or -1
 * when the text is not JSON. */
static int64_t llmcache__count(const llmcache__jv *obj, const char *name, int *found) {
    const llmcache__jv *v = llmcache__json_get(obj, name);
    double d = llmcache__json_num(v);
    if (llmcache__json_type(v) != LLMCACHE__JNUM || d < 0 || d > 9e15) return 0;
    *found = 1;
    return (int64_t)d;
}

static int llmcache__usage(const char *json, size_t len, int64_t *pt, int64_t *ct) {
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
/* Tells the event callback, if any; never called with a lock held. */
static void llmcache__call_event(llmcache *c, int type, const llmcache_key *key, int result, const char *msg) {
    llmcache_event ev;
    if (!c->on_event) return;
    ev.type = type; ev.key = key; ev.result = result; ev.message = msg;
    c->on_event(c->event_ctx, &ev);
}
/* A store failure survived by failing open: counted and reported. */
static void llmcache__store_error(llmcache *c, const llmcache_key *key, int rc, const char *msg) {
    llmcache__lock(&c->mu);
    c->st.errors++;
    llmcache__unlock(&c->mu);
    llmcache__call_event(c, LLMCACHE_EVENT_ERROR, key, rc, msg);
}

static uint64_t llmcache__tokens(const llmcache_meta *m) {
    return (uint64_t)(m->prompt_tokens > 0 ? m->prompt_tokens : 0) +
           (uint64_t)(m->completion_tokens > 0 ? m->completion_tokens : 0);
}

/* ---- results, shared between a flight's leader and its followers */
typedef struct llmcache__result {
    int rc;
    char *env; size_t env_len;     /* owned envelope; env[env_len] is a NUL; NULL = none */
    llmcache_meta meta;
    int from_cache, stored;
    int64_t created_ms, expires_ms;
} llmcache__result;

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

/* ---- single-flight */
#define LLMCACHE__FLIGHT_BUCKETS 64u

typedef struct llmcache__flight {
    struct llmcache__flight *next;
    llmcache_key key;
    unsigned waiters;            /* followers that still have to read res */
    int fetching;                /* the leader is calling the transport (its answer is fresh) */
    int done;
    llmcache__result res;        /* a copy for the followers, set before done */
} llmcache__flight;

struct llmcache__callstate {
    llmcache__mutex mu;          /* guards the table and the flights; never held with c->mu */
    llmcache__cond cv;           /* broadcast when a flight is done */
    llmcache__flight *buckets[LLMCACHE__FLIGHT_BUCKETS];
};

static void llmcache__callstate_free(struct llmcache__callstate *s) {
    size_t i;
    if (!s) return;
    for (i = 0; i < LLMCACHE__FLIGHT_BUCKETS; i++) {
        while (s->buckets[i]) {
            llmcache__flight *f = s->buckets[i];
            s->buckets[i] = f->next;
            LLMCACHE_FREE(f->res.env);
            LLMCACHE_FREE(f);
        }
    }
    llmcache__cond_destroy(&s->cv);
    llmcache__mutex_destroy(&s->mu);
    LLMCACHE_FREE(s);
}

/* The handle's call state, created on first use; NULL when out of memory. */
static LLMCACHE__MAYBE_UNUSED struct llmcache__callstate *llmcache__callstate_get(llmcache *c) {
    struct llmcache__callstate *s;
    llmcache__lock(&c->mu);
    s = c->calls;
    if (!s) {
        s = (struct llmcache__callstate *)LLMCACHE_MALLOC(sizeof *s);
        if (s) {
            size_t i;
            memset(s, 0, sizeof *s);
            for (i = 0; i < LLMCACHE__FLIGHT_BUCKETS; i++) s->buckets[i] = NULL;
            if (llmcache__mutex_init(&s->mu) != 0) { LLMCACHE_FREE(s); s = NULL; }
            else if (llmcache__cond_init(&s->cv) != 0) {
                llmcache__mutex_destroy(&s->mu);
                LLMCACHE_FREE(s);
                s = NULL;
            } else c->calls = s;
        }
    }
    llmcache__unlock(&c->mu);
    return s;
}

/* Joins the flight of key (*leader = 0), or starts one (*leader = 1). NULL when
 * out of memory, or when a fresh answer is wanted (refresh, max-age) and the
 * flight in progress may still answer from the cache: then the caller goes alone. */
static LLMCACHE__MAYBE_UNUSED llmcache__flight *llmcache__flight_join(struct llmcache__callstate *s,
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
            f->res.env = NULL;
            f->key = *key;
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
static LLMCACHE__MAYBE_UNUSED void llmcache__flight_fetching(struct llmcache__callstate *s, llmcache__flight *f) {
    llmcache__lock(&s->mu);
    f->fetching = 1;
    llmcache__unlock(&s->mu);
}

/* Leader: takes the flight out of the table and hands a copy of res to its followers. */
static LLMCACHE__MAYBE_UNUSED void llmcache__flight_finish(struct llmcache__callstate *s, llmcache__flight *f,
                                                           const llmcache__result *res) {
    llmcache__flight **pp = &s->buckets[f->key.bytes[0] % LLMCACHE__FLIGHT_BUCKETS];
    unsigned waiters;
    llmcache__lock(&s->mu);
    while (*pp != f) pp = &(*pp)->next;
    *pp = f->next;                           /* no follower can join from now on */
    waiters = f->waiters;
    llmcache__unlock(&s->mu);
    if (!waiters) { LLMCACHE_FREE(f); return; }
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

/* Follower: waits for the leader and takes a copy of its result. */
static LLMCACHE__MAYBE_UNUSED void llmcache__flight_wait(struct llmcache__callstate *s, llmcache__flight *f,
                                                         llmcache__result *res) {
    int last;
    llmcache__lock(&s->mu);
    while (!f->done) llmcache__cond_wait(&s->cv, &s->mu);
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
    if (last) { LLMCACHE_FREE(f->res.env); LLMCACHE_FREE(f); }
}

/* ---- the call */

/* Looks key up for a call. LLMCACHE_OK fills res with the hit; LLMCACHE_MISS when
 * absent or older than max_age; a negative code when the store failed or held an
 * undecodable value (reported here: the call fails open and goes on as a miss). */
static int llmcache__lookup(llmcache *c, const llmcache_key *key, const llmcache_call_options *o,
                            llmcache__result *res) {
    llmcache_value v;
    llmcache__env e;
    int rc = llmcache_get(c, key, &v);
    const char *why = NULL;
    if (rc == LLMCACHE_MISS) return LLMCACHE_MISS;
    if (rc != LLMCACHE_OK) {
        llmcache__store_error(c, key, rc, "llmcache_call: lookup failed; calling the provider");
        return rc;
    }
    rc = llmcache__env_parse((const unsigned char *)v.data, v.len, &e);
    if (rc != LLMCACHE_OK) why = "llmcache_call: stored value is not a valid envelope; calling the provider";
    else if (o->max_age_ms > 0 && llmcache__now(c) - v.created_ms >= o->max_age_ms) rc = LLMCACHE_MISS;
    if (rc != LLMCACHE_OK) {
        llmcache_value_free(&v);
        llmcache__lock(&c->mu);             /* the call misses: count it so */
        if (c->st.hits) c->st.hits--;
        c->st.misses++;
        if (why) c->st.errors++;
        llmcache__unlock(&c->mu);
        if (why) llmcache__call_event(c, LLMCACHE_EVENT_ERROR, key, rc, why);
        return rc;
    }
    res->rc = LLMCACHE_OK;
    res->env = v.data;
    res->env_len = v.len;
    res->meta = v.meta;
    res->meta.status = e.status;
    res->from_cache = 1;
    res->stored = 0;
    res->created_ms = v.created_ms;
    res->expires_ms = v.expires_ms;
    return LLMCACHE_OK;
}

/* Runs the parse callback on r; on success *model holds what it wrote (NUL-terminated). */
static int llmcache__run_parse(const llmcache_call_options *o, const llmcache_response *r, llmcache__buf *model) {
    llmcache_sink ms;
    int rc;
    memset(&ms, 0, sizeof ms);
    ms.buf.p = NULL; ms.recs = NULL; ms.on_chunk = NULL; ms.chunk_ctx = NULL;
    ms.model = 1;
    rc = o->parse(o->parse_ctx, r, &ms) != 0 ? LLMCACHE_EREJECTED : ms.err;
    if (rc == LLMCACHE_OK && !llmcache__buf_reserve(&ms.buf, 0)) rc = LLMCACHE_ENOMEM;
    if (rc == LLMCACHE_OK) { *model = ms.buf; ms.buf.p = NULL; }
    llmcache__sink_free(&ms);
    return rc;
}

/* The leader's miss path: runs the transport and builds res (envelope, meta, rc). */
static void llmcache__fetch(llmcache *c, const llmcache_request *req, llmcache_transport_fn fn, void *fn_ctx,
                            const llmcache_call_options *o, const unsigned char schema_hash[32],
                            llmcache__result *res) {
    llmcache_sink s;
    llmcache_response view;
    llmcache__buf env = {NULL, 0, 0, 0}, model = {NULL, 0, 0, 0}, data = {NULL, 0, 0, 0};
    llmcache_chunk *chunks = NULL;
    int status, rc = LLMCACHE_OK, have_model = 0;
    size_t i;
    int64_t t0;

    memset(&s, 0, sizeof s);
    s.buf.p = NULL; s.recs = NULL;
    s.stream = req->stream != 0;
    s.on_chunk = o->on_chunk;
    s.chunk_ctx = o->chunk_ctx;
    memset(res, 0, sizeof *res);
    res->env = NULL;
    memcpy(res->meta.schema_hash, schema_hash, 32);
    res->meta.prompt_tokens = res->meta.completion_tokens = -1;

    t0 = s.t0_us = llmcache__mono_us();
    status = fn(fn_ctx, req, &s);
    res->meta.latency_ms = (llmcache__mono_us() - t0) / 1000;
    llmcache__lock(&c->mu);
    c->st.transport_calls++;
    llmcache__unlock(&c->mu);
    if (s.stream && !s.err) llmcache__sse_scan(&s, 1);
    if (!llmcache__buf_reserve(&s.buf, 0) && !s.err) s.err = LLMCACHE_ENOMEM;
    if (s.buf.p) s.buf.p[s.buf.len] = '\0';

    if (status < 100 || status > 999) status = 0;      /* a transport failure */
    if (s.err) rc = s.err;
    else if (!status) rc = LLMCACHE_ETRANSPORT;
    else if (status < 200 || status > 299) rc = LLMCACHE_EHTTP;
    else if (s.stream && !s.terminated) rc = LLMCACHE_ETRANSPORT;  /* the stream ended early */

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
                                                         &res->meta.prompt_tokens, &res->meta.completion_tokens);
                }
        } else if (llmcache__usage(s.buf.p ? s.buf.p : "", s.buf.len, &res->meta.prompt_tokens,
                                   &res->meta.completion_tokens) != 0 && !o->raw_body) {
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
    llmcache__env_build(&env, status, s.stream, chunks, s.n_recs, have_model ? (model.p ? model.p : "") : NULL,
                        model.len, s.buf.p ? s.buf.p : "", s.buf.len);
    if (env.oom) { llmcache__buf_free(&env); rc = LLMCACHE_ENOMEM; }
    res->env = env.p;
    res->env_len = env.len;
    res->rc = rc;
    LLMCACHE_FREE(chunks);
    llmcache__buf_free(&model);
    llmcache__buf_free(&data);
    llmcache__sink_free(&s);
}

/* Stores a fresh successful result (failing open) and reports it. */
static void llmcache__store(llmcache *c, const llmcache_key *key, const llmcache_call_options *o,
                            llmcache__result *res) {
    int64_t now;
    int rc;
    if (res->rc != LLMCACHE_OK || o->no_store || !res->env) return;
    now = llmcache__now(c);   /* one clock reading: the stored times are the reported ones */
    rc = llmcache_put_at(c, key, res->env, res->env_len, now, llmcache__expiry(c, now, o->ttl_ms), &res->meta);
    if (rc != LLMCACHE_OK) {
        llmcache__store_error(c, key, rc, "llmcache_call: storing the response failed; returning it anyway");
        return;
    }
    res->stored = 1;
    res->created_ms = now;
    res->expires_ms = llmcache__expiry(c, now, o->ttl_ms);
    llmcache__call_event(c, LLMCACHE_EVENT_STORE, key, LLMCACHE_OK, "llmcache_call: stored the response");
}

/* A hit: model on demand, stats, event, replay. */
static int llmcache__serve_hit(llmcache *c, const llmcache_call_options *o, llmcache__result *res,
                               llmcache_response *out) {
    int rc = llmcache__result_out(res, out);
    if (rc != LLMCACHE_OK) return rc;
    if (o->parse && !out->model) {
        llmcache__buf model = {NULL, 0, 0, 0}, env = {NULL, 0, 0, 0};
        rc = llmcache__run_parse(o, out, &model);
        if (rc == LLMCACHE_OK) {
            llmcache_response fresh;
            llmcache__env_build(&env, out->status, (out->meta.flags & LLMCACHE_META_STREAM) != 0, out->chunks,
                                out->n_chunks, model.p ? model.p : "", model.len, out->body, out->len);
            memset(&fresh, 0, sizeof fresh);
            rc = env.oom ? LLMCACHE_ENOMEM : llmcache__response_adopt(&fresh, env.p, env.len);
            if (env.oom) llmcache__buf_free(&env);
            if (rc == LLMCACHE_OK) {
                LLMCACHE_FREE(out->mem_); LLMCACHE_FREE(out->chunks);
                out->mem_ = fresh.mem_; out->chunks = fresh.chunks; out->n_chunks = fresh.n_chunks;
                out->body = fresh.body; out->len = fresh.len;
                out->model = fresh.model; out->model_len = fresh.model_len;
            } else llmcache_response_free(&fresh);
        }
        llmcache__buf_free(&model);
        if (rc != LLMCACHE_OK) return rc;
    }
    llmcache__lock(&c->mu);
    c->st.time_saved_ms += (uint64_t)(out->meta.latency_ms > 0 ? out->meta.latency_ms : 0);
    c->st.tokens_saved += llmcache__tokens(&out->meta);
    llmcache__unlock(&c->mu);
    llmcache__call_event(c, LLMCACHE_EVENT_HIT, &out->key, LLMCACHE_OK, "llmcache_call: served from the cache");
    llmcache__replay(o, out);
    return LLMCACHE_OK;
}

LLMCACHE_API int llmcache_call(llmcache *c, const llmcache_request *req, llmcache_transport_fn fn,
                               void *fn_ctx, const llmcache_call_options *opts, llmcache_response *out) {
    llmcache_call_options defaults;
    llmcache__result res;
    unsigned char sh[32];
    llmcache_key key;
    int rc;
#ifndef LLMCACHE_NO_THREADS
    struct llmcache__callstate *cs = NULL;
    llmcache__flight *flight = NULL;
#endif
#ifdef LLMCACHE_REDIS
    uint64_t redis_lock = 0;                /* our lock token in Redis; 0 = none held */
#endif
    if (out) memset(out, 0, sizeof *out);
    if (!c || !req || !fn || !out) return LLMCACHE_EINVAL;
    if (!opts) { memset(&defaults, 0, sizeof defaults); opts = &defaults; }
    rc = llmcache_schema_hash(req->schema, req->schema_len, sh);
    if (rc == LLMCACHE_OK) rc = llmcache__key_with_schema_hash(&key, c->ns, req->endpoint, sh, req->body, req->body_len);
    if (rc != LLMCACHE_OK) return rc;
    out->key = key;
    llmcache__lock(&c->mu);
    c->st.calls++;
    llmcache__unlock(&c->mu);
    memset(&res, 0, sizeof res);
    res.env = NULL;

    rc = opts->refresh ? LLMCACHE_MISS : llmcache__lookup(c, &key, opts, &res);
    if (rc == LLMCACHE_OK) return llmcache__serve_hit(c, opts, &res, out);

#ifndef LLMCACHE_NO_THREADS
    if (!opts->no_single_flight && (cs = llmcache__callstate_get(c)) != NULL) {
        int leader = 0;
        flight = llmcache__flight_join(cs, &key, opts->refresh || opts->max_age_ms > 0, opts->refresh != 0,
                                       &leader);
        if (flight && !leader) {
            llmcache__flight_wait(cs, flight, &res);
            rc = llmcache__result_out(&res, out);
            out->shared = 1;
            llmcache__lock(&c->mu);
            c->st.shared++;
            if (rc == LLMCACHE_OK) c->st.tokens_saved += llmcache__tokens(&out->meta);
            llmcache__unlock(&c->mu);
            llmcache__call_event(c, LLMCACHE_EVENT_SHARED, &out->key, rc, "llmcache_call: shared a concurrent identical call");
            llmcache__replay(opts, out);
            return rc;
        }
        /* a leader: an earlier flight may have stored the answer since our lookup */
        if (flight && rc == LLMCACHE_MISS && !opts->refresh) {
            rc = llmcache__lookup(c, &key, opts, &res);
            llmcache__lock(&c->mu);             /* count one lookup per call */
            if (c->st.misses) c->st.misses--;
            llmcache__unlock(&c->mu);
            if (rc == LLMCACHE_OK) {
                llmcache__flight_finish(cs, flight, &res);
                return llmcache__serve_hit(c, opts, &res, out);
            }
        }
        if (flight && !opts->refresh) llmcache__flight_fetching(cs, flight);
    }
#endif
#ifdef LLMCACHE_REDIS   /* >>redis single-flight across machines (wip/redis.h): another worker's answer */
    if (!opts->refresh && llmcache__redis_flight(c, &key, opts, &res, &redis_lock) == LLMCACHE_OK) {
#  ifndef LLMCACHE_NO_THREADS
        if (flight) llmcache__flight_finish(cs, flight, &res);
#  endif
        return llmcache__serve_hit(c, opts, &res, out);
    }
#endif
    llmcache__call_event(c, LLMCACHE_EVENT_MISS, &key, LLMCACHE_OK,
                   opts->refresh ? "llmcache_call: refresh; calling the provider" : "llmcache_call: miss; calling the provider");
    llmcache__fetch(c, req, fn, fn_ctx, opts, sh, &res);
    llmcache__store(c, &key, opts, &res);
#ifdef LLMCACHE_REDIS   /* >>redis: the answer is in Redis (or the call failed): let the others go */
    llmcache__redis_unlock(c, &key, redis_lock);
#endif
#ifndef LLMCACHE_NO_THREADS
    if (flight) llmcache__flight_finish(cs, flight, &res);
#endif
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
    /* collect first (foreach holds the lock), then delete through llmcache_del */
    memset(&l, 0, sizeof l);
    l.schema_hash = schema_hash;
    l.keys = NULL;
    rc = llmcache_foreach(c, 0, llmcache__collect_schema, &l);
    for (i = 0; rc == LLMCACHE_OK && i < l.n; i++) {
        int d = llmcache_del(c, &l.keys[i]);
        if (d == LLMCACHE_OK) gone++;
        else if (d != LLMCACHE_MISS) rc = d;
    }
    LLMCACHE_FREE(l.keys);
    if (removed) *removed = gone;
    return rc;
}

#ifdef LLMCACHE_CURL
/* >>curl transport ------------------------------------------------------------------ */
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

    curl = url.oom || oom ? NULL : curl_easy_init();
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
        curl_easy_cleanup(curl);
    }
    curl_slist_free_all(hdrs);
    llmcache__buf_free(&url);
    return rc;
}
#endif /* LLMCACHE_CURL */
