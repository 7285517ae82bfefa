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
typedef struct cli_entry_ctx { llmcache_entry_info *e; char **owned; unsigned seen; } cli_entry_ctx;

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
    static const char *const known[] = { "key", "value", "value_b64", "created_ms", "expires_ms", "meta" };
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
    default: return cli_jr_skip(r, 1);   /* "seq", "size" and members from newer versions */
    }
}

int cli_parse_entry(const char *line, size_t len, llmcache_entry_info *e, char **owned, const char **err,
                    size_t *err_at) {
    cli_jr r;
    cli_entry_ctx x;
    r.p = line; r.end = line + len; r.err = NULL;
    x.e = e; x.owned = owned; x.seen = 0;
    memset(e, 0, sizeof *e);
    *owned = NULL;
    if (cli_jr_object(&r, cli_entry_member, &x) == 0) {
        cli_jr_ws(&r);
        if (r.p != r.end) cli_jr_fail(&r, "text after the entry");
        else if (!(x.seen & 1)) cli_jr_fail(&r, "no \"key\"");
        else if ((x.seen & 6) == 6) cli_jr_fail(&r, "both \"value\" and \"value_b64\"");
        else if (!(x.seen & 6)) cli_jr_fail(&r, "no \"value\" or \"value_b64\"");
    }
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

void cli_write_entry(FILE *f, const llmcache_entry_info *e, int with_value) {
    char key_hex[65], schema_hex[65];
    llmcache_key_hex(&e->key, key_hex);
    cli_hash_hex(e->meta.schema_hash, schema_hex);
    fprintf(f, "{\"key\":\"%s\"", key_hex);
    if (!with_value) fprintf(f, ",\"size\":%" PRIu64, (uint64_t)e->len);
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
