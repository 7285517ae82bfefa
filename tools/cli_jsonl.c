/* tools/cli_jsonl.c - the JSON Lines form of cache entries (export, import,
 * ls --json): base64, a small strict JSON reader and the line writer. The reader
 * is self-contained because the library's parser is private; it keeps the raw
 * text of "value" so an imported value is byte for byte the exported one. */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CLI_JSON_DEPTH 1024   /* deeper than the library accepts, so its JSON always reads back */

/* >>base64 (RFC 4648, standard alphabet, padded) ------------------------------------ */
static const char cli_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void cli_base64_write(FILE *f, const unsigned char *p, size_t n) {
    char out[4];
    for (; n > 0; p += 3, n -= n < 3 ? n : 3) {
        uint32_t v = (uint32_t)p[0] << 16 | (n > 1 ? (uint32_t)p[1] << 8 : 0) | (n > 2 ? p[2] : 0);
        out[0] = cli_b64[v >> 18];
        out[1] = cli_b64[v >> 12 & 63];
        out[2] = n > 1 ? cli_b64[v >> 6 & 63] : '=';
        out[3] = n > 2 ? cli_b64[v & 63] : '=';
        fwrite(out, 1, 4, f);
    }
}

static int cli_b64_value(char ch) {
    const char *q = ch ? strchr(cli_b64, ch) : NULL;
    return q ? (int)(q - cli_b64) : -1;
}

/* Decodes in place (the output never outruns the input); -1 unless canonical padded base64. */
static int cli_base64_decode(char *s, size_t n, size_t *out_len) {
    size_t i, o = 0;
    if (n % 4) return -1;
    for (i = 0; i < n; i += 4) {
        int v[4], k, pad = 0;
        for (k = 0; k < 4; k++) {
            v[k] = cli_b64_value(s[i + (size_t)k]);
            if (s[i + (size_t)k] == '=' && i + 4 == n && k >= 2) { v[k] = 0; pad++; }
            else if (v[k] < 0 || pad) return -1;
        }
        if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3))) return -1;
        s[o++] = (char)(v[0] << 2 | v[1] >> 4);
        if (pad < 2) s[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
        if (pad < 1) s[o++] = (char)((v[2] & 3) << 6 | v[3]);
    }
    *out_len = o;
    return 0;
}

/* >>reader -------------------------------------------------------------------------- */
typedef struct cli_jr { const char *p, *end; const char *err, *err_p; } cli_jr;   /* err_p: where err arose */

static int cli_jr_fail(cli_jr *r, const char *err) {
    if (!r->err) { r->err = err; r->err_p = r->p; }
    return -1;
}

static void cli_jr_ws(cli_jr *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n')) r->p++;
}

/* Skips whitespace, then consumes ch if it is next. */
static int cli_jr_eat(cli_jr *r, char ch) {
    cli_jr_ws(r);
    if (r->p < r->end && *r->p == ch) { r->p++; return 1; }
    return 0;
}

static int cli_jr_hex4(const char *p) {
    int i, v = 0;
    for (i = 0; i < 4; i++) {
        char ch = p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

/* A string: checks its syntax and returns the raw text between the quotes. */
static int cli_jr_string(cli_jr *r, const char **raw, size_t *raw_len) {
    const char *start;
    if (!cli_jr_eat(r, '"')) return cli_jr_fail(r, "expected a string");
    for (start = r->p; r->p < r->end && *r->p != '"'; r->p++) {
        if ((unsigned char)*r->p < 0x20) return cli_jr_fail(r, "control character in a string");
        if (*r->p != '\\') continue;
        if (++r->p >= r->end) break;
        if (*r->p == 'u') {
            if (r->end - r->p < 5 || cli_jr_hex4(r->p + 1) < 0) return cli_jr_fail(r, "bad \\u escape");
            r->p += 4;
        } else if (!strchr("\"\\/bfnrt", *r->p)) return cli_jr_fail(r, "bad escape");
    }
    if (r->p >= r->end) return cli_jr_fail(r, "unterminated string");
    *raw = start;
    *raw_len = (size_t)(r->p++ - start);
    return 0;
}

static void cli_put_utf8(char **o, uint32_t c) {
    unsigned char *q = (unsigned char *)*o;
    if (c < 0x80) *q++ = (unsigned char)c;
    else if (c < 0x800) { *q++ = (unsigned char)(0xc0 | c >> 6); *q++ = (unsigned char)(0x80 | (c & 63)); }
    else if (c < 0x10000) {
        *q++ = (unsigned char)(0xe0 | c >> 12); *q++ = (unsigned char)(0x80 | (c >> 6 & 63));
        *q++ = (unsigned char)(0x80 | (c & 63));
    } else {
        *q++ = (unsigned char)(0xf0 | c >> 18); *q++ = (unsigned char)(0x80 | (c >> 12 & 63));
        *q++ = (unsigned char)(0x80 | (c >> 6 & 63)); *q++ = (unsigned char)(0x80 | (c & 63));
    }
    *o = (char *)q;
}

/* Decodes the escapes of a raw string checked by cli_jr_string into out, which
 * needs raw_len bytes (decoding never lengthens); returns the decoded length. */
static size_t cli_unescape(const char *raw, size_t raw_len, char *out) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *end = raw + raw_len;
    char *o = out;
    while (raw < end) {
        uint32_t c, lo;
        if (*raw != '\\') { *o++ = *raw++; continue; }
        if (raw[1] != 'u') { *o++ = to[strchr(from, raw[1]) - from]; raw += 2; continue; }
        c = (uint32_t)cli_jr_hex4(raw + 2);
        raw += 6;
        if (c >= 0xd800 && c < 0xdc00 && end - raw >= 6 && raw[0] == '\\' && raw[1] == 'u' &&
            (lo = (uint32_t)cli_jr_hex4(raw + 2)) >= 0xdc00 && lo < 0xe000) {
            c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
            raw += 6;
        }
        cli_put_utf8(&o, c);
    }
    return (size_t)(o - out);
}

static int cli_jr_digits(cli_jr *r) {
    const char *start = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
    return r->p > start;
}

static int cli_jr_number(cli_jr *r) {
    if (r->p < r->end && *r->p == '-') r->p++;
    if (r->p < r->end && *r->p == '0') r->p++;
    else if (!cli_jr_digits(r)) return cli_jr_fail(r, "bad number");
    if (r->p < r->end && *r->p == '.') { r->p++; if (!cli_jr_digits(r)) return cli_jr_fail(r, "bad number"); }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) r->p++;
        if (!cli_jr_digits(r)) return cli_jr_fail(r, "bad number");
    }
    return 0;
}

static int cli_jr_literal(cli_jr *r, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return cli_jr_fail(r, "unexpected character");
    r->p += n;
    return 0;
}

/* Any JSON value, checked and skipped. */
static int cli_jr_skip(cli_jr *r, int depth) {
    const char *raw;
    size_t n;
    char close;
    cli_jr_ws(r);
    if (r->p >= r->end) return cli_jr_fail(r, "unexpected end of line");
    if (depth > CLI_JSON_DEPTH) return cli_jr_fail(r, "nested too deeply");
    switch (*r->p) {
    case '"': return cli_jr_string(r, &raw, &n);
    case 't': return cli_jr_literal(r, "true");
    case 'f': return cli_jr_literal(r, "false");
    case 'n': return cli_jr_literal(r, "null");
    case '{': case '[': break;
    default:  return cli_jr_number(r);
    }
    close = *r->p++ == '{' ? '}' : ']';
    if (cli_jr_eat(r, close)) return 0;
    do {
        if (close == '}' && (cli_jr_string(r, &raw, &n) || !cli_jr_eat(r, ':')))
            return cli_jr_fail(r, "expected \"name\":");
        if (cli_jr_skip(r, depth + 1)) return -1;
    } while (cli_jr_eat(r, ','));
    return cli_jr_eat(r, close) ? 0 : cli_jr_fail(r, "expected ',' or a closing bracket");
}

static int cli_jr_int(cli_jr *r, int64_t lo, int64_t hi, int64_t *out) {
    const char *start;
    int neg;
    uint64_t v = 0, limit;
    cli_jr_ws(r);
    start = r->p;
    if (cli_jr_number(r)) return -1;
    neg = *start == '-';
    limit = neg ? (uint64_t)-(lo + 1) + 1 : (uint64_t)hi;
    for (start += neg; start < r->p; start++) {
        if (*start < '0' || *start > '9') return cli_jr_fail(r, "expected an integer");
        uint64_t d = (uint64_t)(*start - '0');
        if (d > limit || v > (limit - d) / 10) return cli_jr_fail(r, "integer out of range");
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* A string holding 64 hex digits. */
static int cli_jr_hash(cli_jr *r, unsigned char out[32]) {
    const char *raw;
    size_t n;
    char buf[64 * 6];   /* room for 64 digits written as \u escapes */
    if (cli_jr_string(r, &raw, &n)) return -1;
    if (n > sizeof buf || cli_parse_hash(buf, cli_unescape(raw, n, buf), out))
        return cli_jr_fail(r, "expected 64 hex digits");
    return 0;
}

/* An object: calls member(r, name, ctx) with the reader at each member's value. */
static int cli_jr_object(cli_jr *r, int (*member)(cli_jr *r, const char *name, void *ctx), void *ctx) {
    if (!cli_jr_eat(r, '{')) return cli_jr_fail(r, "expected an object");
    if (cli_jr_eat(r, '}')) return 0;
    do {
        const char *raw;
        size_t n;
        char name[32];
        if (cli_jr_string(r, &raw, &n) || !cli_jr_eat(r, ':')) return cli_jr_fail(r, "expected \"name\":");
        name[n < sizeof name ? cli_unescape(raw, n, name) : 0] = '\0';   /* long names are unknown */
        if (member(r, name, ctx)) return -1;
    } while (cli_jr_eat(r, ','));
    return cli_jr_eat(r, '}') ? 0 : cli_jr_fail(r, "expected ',' or '}'");
}

/* >>entries ------------------------------------------------------------------------- */
/* A call answer written out ("envelope", export --sorted), rebuilt by the reader. */
typedef struct cli_env_in {
    llmcache_response r;          /* body, model, request point at raw text or into the buffers below */
    char *body_buf, *model_buf;   /* decoded base64, or the events' text joined */
    llmcache_chunk *chunks; size_t cap;
    int events, has_body;
} cli_env_in;

typedef struct cli_entry_ctx { llmcache_entry_info *e; char **owned; unsigned seen; cli_env_in env; } cli_entry_ctx;

/* A base64 string member into a new *buf; 0 or -1. */
static int cli_jr_b64(cli_jr *r, char **buf, size_t *len) {
    const char *raw;
    size_t n;
    if (cli_jr_string(r, &raw, &n)) return -1;
    free(*buf);
    if (!(*buf = (char *)malloc(n + 1))) return cli_jr_fail(r, "out of memory");
    if (cli_base64_decode(*buf, cli_unescape(raw, n, *buf), len)) return cli_jr_fail(r, "bad base64");
    return 0;
}

/* Raw JSON text of any value. */
static int cli_jr_raw(cli_jr *r, const char **p, size_t *len) {
    cli_jr_ws(r);
    *p = r->p;
    if (cli_jr_skip(r, 1)) return -1;
    *len = (size_t)(r->p - *p);
    return 0;
}

static int cli_event_member(cli_jr *r, const char *name, void *ctx) {
    cli_env_in *v = (cli_env_in *)ctx;
    llmcache_chunk *ch = &v->chunks[v->r.n_chunks];
    if (strcmp(name, "at_ms") == 0) return cli_jr_int(r, 0, UINT32_MAX, &ch->at_ms);
    if (strcmp(name, "data") == 0) {
        const char *raw;
        size_t n;
        char *grown;
        if (cli_jr_string(r, &raw, &n)) return -1;
        if (!(grown = (char *)realloc(v->body_buf, v->r.len + n + 1))) return cli_jr_fail(r, "out of memory");
        v->body_buf = grown;
        ch->len = cli_unescape(raw, n, v->body_buf + v->r.len);
        ch->data = NULL;                 /* set once the body stops moving */
        v->r.len += ch->len;
        return 0;
    }
    return cli_jr_skip(r, 1);
}

static int cli_envelope_member(cli_jr *r, const char *name, void *ctx) {
    cli_env_in *v = (cli_env_in *)ctx;
    if (strcmp(name, "request") == 0) return cli_jr_raw(r, &v->r.request, &v->r.request_len);
    if (strcmp(name, "status") == 0) {
        int64_t st;
        if (cli_jr_int(r, INT32_MIN, INT32_MAX, &st)) return -1;
        v->r.status = (int)st;
        return 0;
    }
    if (strcmp(name, "body") == 0) { v->has_body = 1; return cli_jr_raw(r, (const char **)&v->r.body, &v->r.len); }
    if (strcmp(name, "body_b64") == 0) {
        v->has_body = 1;
        if (cli_jr_b64(r, &v->body_buf, &v->r.len)) return -1;
        v->r.body = v->body_buf;
        return 0;
    }
    if (strcmp(name, "body_text") == 0) {
        const char *raw;
        size_t n;
        v->has_body = 1;
        if (cli_jr_string(r, &raw, &n)) return -1;
        free(v->body_buf);
        if (!(v->body_buf = (char *)malloc(n + 1))) return cli_jr_fail(r, "out of memory");
        v->r.len = cli_unescape(raw, n, v->body_buf);
        v->r.body = v->body_buf;
        return 0;
    }
    if (strcmp(name, "ttfe_ms") == 0) return cli_jr_int(r, 0, UINT32_MAX, &v->r.ttfe_ms);
    if (strcmp(name, "cached_input_tokens") == 0) return cli_jr_int(r, 0, INT64_MAX, &v->r.cached_input_tokens);
    if (strcmp(name, "cache_write_tokens") == 0) return cli_jr_int(r, 0, INT64_MAX, &v->r.cache_write_tokens);
    if (strcmp(name, "model") == 0) return cli_jr_raw(r, (const char **)&v->r.model, &v->r.model_len);
    if (strcmp(name, "model_b64") == 0) {
        if (cli_jr_b64(r, &v->model_buf, &v->r.model_len)) return -1;
        v->r.model = v->model_buf;
        return 0;
    }
    if (strcmp(name, "events") == 0) {
        if (v->events++ || v->has_body) return cli_jr_fail(r, "events with a body");
        if (!cli_jr_eat(r, '[')) return cli_jr_fail(r, "expected an array of events");
        if (cli_jr_eat(r, ']')) return 0;
        do {
            if (v->r.n_chunks == v->cap) {
                size_t cap = v->cap ? v->cap * 2 : 16;
                llmcache_chunk *c = (llmcache_chunk *)realloc(v->chunks, cap * sizeof *c);
                if (!c) return cli_jr_fail(r, "out of memory");
                v->chunks = c;
                v->cap = cap;
            }
            memset(&v->chunks[v->r.n_chunks], 0, sizeof v->chunks[0]);
            if (cli_jr_object(r, cli_event_member, v)) return -1;
            v->r.n_chunks++;
        } while (cli_jr_eat(r, ','));
        return cli_jr_eat(r, ']') ? 0 : cli_jr_fail(r, "expected ',' or ']'");
    }
    return cli_jr_skip(r, 1);
}

/* Encodes the envelope read into *owned (e->data). */
static int cli_envelope_encode(cli_jr *r, cli_entry_ctx *x) {
    cli_env_in *v = &x->env;
    char *env = NULL;
    size_t i, off = 0, len = 0;
    if (v->events) {
        v->r.body = v->body_buf ? v->body_buf : (char *)"";
        v->r.chunks = v->chunks;
        v->r.meta.flags = LLMCACHE_META_STREAM;
        for (i = 0; i < v->r.n_chunks; off += v->chunks[i].len, i++) v->chunks[i].data = v->r.body + off;
    } else if (!v->has_body) return cli_jr_fail(r, "an envelope without \"body\" or \"events\"");
    if (llmcache_response_encode(&v->r, &env, &len) != LLMCACHE_OK) return cli_jr_fail(r, "cannot encode the envelope");
    free(*x->owned);
    *x->owned = (char *)malloc(len + 1);
    if (*x->owned) memcpy(*x->owned, env, len);
    llmcache_free(env);
    if (!*x->owned) return cli_jr_fail(r, "out of memory");
    x->e->data = *x->owned;
    x->e->len = len;
    return 0;
}

static int cli_meta_member(cli_jr *r, const char *name, void *ctx) {
    llmcache_meta *m = (llmcache_meta *)ctx;
    int64_t v;
    if (strcmp(name, "schema_hash") == 0) return cli_jr_hash(r, m->schema_hash);
    if (strcmp(name, "status") == 0) {
        if (cli_jr_int(r, INT32_MIN, INT32_MAX, &v)) return -1;
        m->status = (int32_t)v;
        return 0;
    }
    if (strcmp(name, "flags") == 0) {
        if (cli_jr_int(r, 0, UINT32_MAX, &v)) return -1;
        m->flags = (uint32_t)v;
        return 0;
    }
    if (strcmp(name, "latency_ms") == 0) return cli_jr_int(r, INT64_MIN, INT64_MAX, &m->latency_ms);
    if (strcmp(name, "prompt_tokens") == 0) return cli_jr_int(r, INT64_MIN, INT64_MAX, &m->prompt_tokens);
    if (strcmp(name, "completion_tokens") == 0) return cli_jr_int(r, INT64_MIN, INT64_MAX, &m->completion_tokens);
    return cli_jr_skip(r, 1);   /* a member from a newer version */
}

static int cli_entry_member(cli_jr *r, const char *name, void *ctx) {
    static const char *const known[] = { "key", "value", "value_b64", "created_ms", "expires_ms", "meta",
                                         "envelope" };
    cli_entry_ctx *x = (cli_entry_ctx *)ctx;
    llmcache_entry_info *e = x->e;
    unsigned i, bit = 0;
    for (i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i]) == 0) bit = 1u << i;
    if (x->seen & bit) return cli_jr_fail(r, "duplicate member");
    x->seen |= bit;
    switch (bit) {
    case 1: return cli_jr_hash(r, e->key.bytes);
    case 2:
        cli_jr_ws(r);
        e->data = r->p;
        if (cli_jr_skip(r, 1)) return -1;
        e->len = (size_t)(r->p - e->data);
        return 0;
    case 4: {
        const char *raw;
        size_t n;
        if (cli_jr_string(r, &raw, &n)) return -1;
        if (!(*x->owned = (char *)malloc(n + 1))) return cli_jr_fail(r, "out of memory");
        if (cli_base64_decode(*x->owned, cli_unescape(raw, n, *x->owned), &e->len))
            return cli_jr_fail(r, "bad base64 in value_b64");
        e->data = *x->owned;
        return 0;
    }
    case 8:  return cli_jr_int(r, 0, INT64_MAX, &e->created_ms);
    case 16: return cli_jr_int(r, 0, INT64_MAX, &e->expires_ms);
    case 32: return cli_jr_object(r, cli_meta_member, &e->meta);
    case 64: return cli_jr_object(r, cli_envelope_member, &x->env);
    default: return cli_jr_skip(r, 1);   /* "seq", "size" and members from newer versions */
    }
}

int cli_parse_entry(const char *line, size_t len, llmcache_entry_info *e, char **owned, const char **err,
                    size_t *err_at) {
    cli_jr r;
    cli_entry_ctx x;
    r.p = line; r.end = line + len; r.err = NULL;
    memset(&x, 0, sizeof x);
    x.e = e; x.owned = owned;
    x.env.r.cached_input_tokens = x.env.r.cache_write_tokens = -1;   /* unknown unless the line says */
    memset(e, 0, sizeof *e);
    *owned = NULL;
    if (cli_jr_object(&r, cli_entry_member, &x) == 0) {
        cli_jr_ws(&r);
        if (r.p != r.end) cli_jr_fail(&r, "text after the entry");
        else if (!(x.seen & 1)) cli_jr_fail(&r, "no \"key\"");
        else if ((x.seen & 6) == 6 || ((x.seen & 6) && (x.seen & 64)))
            cli_jr_fail(&r, "more than one of \"value\", \"value_b64\" and \"envelope\"");
        else if (!(x.seen & 70)) cli_jr_fail(&r, "no \"value\", \"value_b64\" or \"envelope\"");
        else if (x.seen & 64) cli_envelope_encode(&r, &x);
    }
    free(x.env.body_buf);
    free(x.env.model_buf);
    free(x.env.chunks);
    *err = r.err;
    *err_at = r.err ? (size_t)(r.err_p - line) : 0;
    if (!r.err) return 0;
    free(*owned);
    *owned = NULL;
    return -1;
}

int cli_parse_hash(const char *hex, size_t len, unsigned char out[32]) {
    llmcache_key k;
    if (llmcache_key_parse(&k, hex, len) != LLMCACHE_OK) return -1;
    memcpy(out, k.bytes, 32);
    return 0;
}

/* >>writer -------------------------------------------------------------------------- */
/* Whether the value can be written as "value": one line of I-JSON that this
 * reader reads back to the same bytes. */
static int cli_inline_json(const char *data, size_t len) {
    static const char ws[] = " \t\r\n";
    cli_jr r;
    char *canon = NULL;
    int ok;
    if (!len || memchr(data, '\n', len) || memchr(data, '\r', len) || memchr(data, '\0', len) ||
        strchr(ws, data[0]) || strchr(ws, data[len - 1]))
        return 0;
    r.p = data; r.end = data + len; r.err = NULL;
    if (cli_jr_skip(&r, 1) || r.p != r.end) return 0;
    ok = llmcache_canonicalize(data, len, &canon, NULL) == LLMCACHE_OK;
    llmcache_free(canon);
    return ok;
}

void cli_write_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", (unsigned)(unsigned char)*s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

void cli_hash_hex(const unsigned char hash[32], char out[65]) {
    llmcache_key k;
    memcpy(k.bytes, hash, 32);
    llmcache_key_hex(&k, out);
}

/* 1 when p[0..n) is UTF-8 without NULs (so a JSON string holds it). */
static int cli_utf8_text(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i], k, need;
        uint32_t cp;
        if (c == 0) return 0;
        if (c < 0x80) { i++; continue; }
        need = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : 0;
        if (!need || c > 0xf4 || n - i <= need) return 0;
        cp = c & (0x3fu >> need);
        for (k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (p[i + k] & 0x3fu);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* UTF-8 text p[0..n) (cli_utf8_text) as a JSON string. */
static void cli_write_json_text(FILE *f, const char *p, size_t n) {
    size_t i;
    fputc('"', f);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch == '\r') fputs("\\r", f);
        else if (ch == '\t') fputs("\\t", f);
        else if (ch < 0x20) fprintf(f, "\\u%04x", (unsigned)ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

/* The ",\"envelope\":{...}" form of a call answer (export --sorted), when every
 * part of it can be written so: 0 written, -1 not (then nothing was written). */
static int cli_write_envelope(FILE *f, const llmcache_entry_info *e) {
    llmcache_response r;
    size_t i, sum = 0;
    int ok = 1;
    if (!(e->meta.flags & LLMCACHE_META_ENVELOPE) || llmcache_response_decode(e->data, e->len, &r) != LLMCACHE_OK)
        return -1;
    for (i = 0; i < r.n_chunks; i++) {
        ok &= cli_utf8_text((const unsigned char *)r.chunks[i].data, r.chunks[i].len);
        sum += r.chunks[i].len;
    }
    if ((r.n_chunks && sum != r.len) || (r.request && !cli_inline_json(r.request, r.request_len)) ||
        (r.model && !cli_inline_json(r.model, r.model_len)))
        ok = 0;
    if (ok) {
        fprintf(f, ",\"envelope\":{\"status\":%d", r.status);
        /* the accounting fields of docs/ENVELOPE.md, when known */
        if (r.ttfe_ms) fprintf(f, ",\"ttfe_ms\":%" PRId64, r.ttfe_ms);
        if (r.cached_input_tokens >= 0) fprintf(f, ",\"cached_input_tokens\":%" PRId64, r.cached_input_tokens);
        if (r.cache_write_tokens >= 0) fprintf(f, ",\"cache_write_tokens\":%" PRId64, r.cache_write_tokens);
        if (r.request) { fputs(",\"request\":", f); fwrite(r.request, 1, r.request_len, f); }
        if (r.model) { fputs(",\"model\":", f); fwrite(r.model, 1, r.model_len, f); }
        if (r.n_chunks || (e->meta.flags & LLMCACHE_META_STREAM)) {
            fputs(",\"events\":[", f);
            for (i = 0; i < r.n_chunks; i++) {
                fprintf(f, "%s{\"at_ms\":%" PRId64 ",\"data\":", i ? "," : "", r.chunks[i].at_ms);
                cli_write_json_text(f, r.chunks[i].data, r.chunks[i].len);
                fputc('}', f);
            }
            fputc(']', f);
        } else if (cli_inline_json(r.body, r.len)) {
            fputs(",\"body\":", f); fwrite(r.body, 1, r.len, f);
        } else if (cli_utf8_text((const unsigned char *)r.body, r.len)) {
            fputs(",\"body_text\":", f); cli_write_json_text(f, r.body, r.len);
        } else {
            fputs(",\"body_b64\":\"", f); cli_base64_write(f, (const unsigned char *)r.body, r.len); fputc('"', f);
        }
        fputc('}', f);
    }
    llmcache_response_free(&r);
    return ok ? 0 : -1;
}

void cli_write_entry(FILE *f, const llmcache_entry_info *e, int with_value) {
    char key_hex[65], schema_hex[65];
    llmcache_key_hex(&e->key, key_hex);
    cli_hash_hex(e->meta.schema_hash, schema_hex);
    fprintf(f, "{\"key\":\"%s\"", key_hex);
    if (with_value == 2 && cli_write_envelope(f, e) == 0) {}
    else if (!with_value) fprintf(f, ",\"size\":%" PRIu64, (uint64_t)e->len);
    else if (cli_inline_json(e->data, e->len)) { fputs(",\"value\":", f); fwrite(e->data, 1, e->len, f); }
    else { fputs(",\"value_b64\":\"", f); cli_base64_write(f, (const unsigned char *)e->data, e->len); fputc('"', f); }
    fprintf(f, ",\"created_ms\":%" PRId64 ",\"expires_ms\":%" PRId64, e->created_ms, e->expires_ms);
    if (!with_value) fprintf(f, ",\"seq\":%" PRIu64, e->seq);
    fprintf(f, ",\"meta\":{\"schema_hash\":\"%s\",\"status\":%" PRId32 ",\"flags\":%" PRIu32
               ",\"latency_ms\":%" PRId64 ",\"prompt_tokens\":%" PRId64 ",\"completion_tokens\":%" PRId64 "}}\n",
            schema_hex, e->meta.status, e->meta.flags, e->meta.latency_ms, e->meta.prompt_tokens,
            e->meta.completion_tokens);
}

/* >>batch requests ------------------------------------------------------------------ */
typedef struct cli_request_ctx { cli_batch_line *out; unsigned seen; } cli_request_ctx;

/* Keeps the raw text of a member's value. */
static int cli_span(cli_jr *r, const char **p, size_t *n) {
    const char *start;
    cli_jr_ws(r);
    start = r->p;
    if (cli_jr_skip(r, 1)) return -1;
    *p = start;
    *n = (size_t)(r->p - start);
    return 0;
}

static int cli_request_member(cli_jr *r, const char *name, void *ctx) {
    cli_request_ctx *x = (cli_request_ctx *)ctx;
    if (strcmp(name, "custom_id") == 0) { x->seen |= 1; return cli_span(r, &x->out->id, &x->out->id_len); }
    if (strcmp(name, "body") == 0) {
        x->seen |= 2;
        cli_jr_ws(r);
        if (r->p >= r->end || *r->p != '{') return cli_jr_fail(r, "\"body\" is not an object");
        return cli_span(r, &x->out->body, &x->out->body_len);
    }
    return cli_jr_skip(r, 1);   /* "method", "url" and anything else */
}

int cli_parse_batch_line(const char *line, size_t len, cli_batch_line *out, const char **err, size_t *err_at) {
    cli_jr r;
    cli_request_ctx x;
    r.p = line; r.end = line + len; r.err = NULL;
    memset(out, 0, sizeof *out);
    x.out = out; x.seen = 0;
    if (cli_jr_object(&r, cli_request_member, &x) == 0) {
        cli_jr_ws(&r);
        if (r.p != r.end) cli_jr_fail(&r, "text after the request");
        else if (x.seen == 1) cli_jr_fail(&r, "\"custom_id\" without a \"body\"");
    }
    *err = r.err;
    *err_at = r.err ? (size_t)(r.err_p - line) : 0;
    if (r.err) return -1;
    if (!(x.seen & 2)) { out->body = line; out->body_len = len; }   /* the line is the body */
    return 0;
}
