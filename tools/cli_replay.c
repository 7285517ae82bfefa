/* tools/cli_replay.c - the record-and-replay commands of the llmcache tool:
 * `explain` (why a request hits or misses: its canonical form, the parts of its key,
 * and with --near the stored requests that differ least, as a JSON diff) and `diff`
 * (two caches or cassettes: entries only in one, and changed answers). The JSON
 * diff compares the leaves of two canonical documents by JSON Pointer. */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* >>leaves: a canonical JSON document as sorted "pointer value" lines ------------- */
typedef struct cli_lines { char **v; size_t n, cap; int oom; } cli_lines;

static void cli_lines_add(cli_lines *l, const char *path, size_t plen, const char *val, size_t vlen) {
    char *s;
    if (l->oom) return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **v = (char **)realloc(l->v, cap * sizeof *v);
        if (!v) { l->oom = 1; return; }
        l->v = v;
        l->cap = cap;
    }
    if (!(s = (char *)malloc(plen + vlen + 2))) { l->oom = 1; return; }
    memcpy(s, path, plen);
    s[plen] = ' ';
    memcpy(s + plen + 1, val, vlen);
    s[plen + 1 + vlen] = '\0';
    l->v[l->n++] = s;
}

static void cli_lines_free(cli_lines *l) {
    size_t i;
    for (i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* The end of the string starting at p (the opening quote). */
static const char *cli_str_end(const char *p, const char *end) {
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\') p++;
    return p < end ? p + 1 : end;
}

/* Walks the canonical JSON value at *pp, adding a line per leaf (empty containers
 * too); path holds the pointer so far (plen bytes, room for the document's length). */
static void cli_leaves(const char **pp, const char *end, char *path, size_t plen, cli_lines *l) {
    const char *p = *pp, *start;
    if (p >= end) return;
    if (*p == '{' || *p == '[') {
        int obj = *p == '{';
        size_t index = 0;
        p++;
        if (p < end && (*p == '}' || *p == ']')) {
            cli_lines_add(l, path, plen, obj ? "{}" : "[]", 2);
            *pp = p + 1;
            return;
        }
        while (p < end) {
            size_t n = plen;
            path[n++] = '/';
            if (obj) {
                const char *q = cli_str_end(p, end), *c;
                for (c = p + 1; c < q - 1; c++) {          /* the raw name, ~ and / escaped */
                    if (*c == '~') { path[n++] = '~'; path[n++] = '0'; }
                    else if (*c == '/') { path[n++] = '~'; path[n++] = '1'; }
                    else path[n++] = *c;
                }
                p = q + 1;                                  /* past the ':' */
            } else {
                n += (size_t)sprintf(path + n, "%zu", index++);
            }
            cli_leaves(&p, end, path, n, l);
            if (p < end && *p == ',') { p++; continue; }
            p++;                                            /* the closing bracket */
            break;
        }
        *pp = p;
        return;
    }
    start = p;
    if (*p == '"') p = cli_str_end(p, end);
    else while (p < end && *p != ',' && *p != ']' && *p != '}') p++;
    cli_lines_add(l, path, plen, start, (size_t)(p - start));
    *pp = p;
}

static int cli_line_order(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The leaves of the canonical JSON json[0..len), sorted; 0 or -1 (out of memory). */
static int cli_leaves_of(const char *json, size_t len, cli_lines *l) {
    char *path = (char *)malloc(2 * len + 32);
    const char *p = json;
    memset(l, 0, sizeof *l);
    if (!path) return -1;
    path[0] = '\0';
    cli_leaves(&p, json + len, path, 0, l);
    free(path);
    if (l->n) qsort(l->v, l->n, sizeof *l->v, cli_line_order);
    return l->oom ? -1 : 0;
}

/* The number of leaves in one and not the other; with f, prints them ("- " only in
 * a, "+ " only in b) indented by indent. */
static size_t cli_leaf_diff(const cli_lines *a, const cli_lines *b, FILE *f, const char *indent) {
    size_t i = 0, j = 0, n = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
        if (c == 0) { i++; j++; continue; }
        n++;
        if (f) fprintf(f, "%s%c %s\n", indent, c < 0 ? '-' : '+', c < 0 ? a->v[i] : b->v[j]);
        if (c < 0) i++; else j++;
    }
    return n;
}

/* Prints the JSON diff of two canonical documents (or, when one is not JSON, both). */
static void cli_print_json_diff(const char *a, size_t alen, const char *b, size_t blen, const char *indent) {
    cli_lines la, lb;
    if (cli_leaves_of(a, alen, &la) == 0 && cli_leaves_of(b, blen, &lb) == 0) cli_leaf_diff(&la, &lb, stdout, indent);
    else printf("%s(out of memory)\n", indent);
    cli_lines_free(&la);
    cli_lines_free(&lb);
}

/* >>entries of a cache file or a cassette ---------------------------------------- */
typedef struct cli_item { llmcache_entry_info e; char *data; } cli_item;
typedef struct cli_items { cli_item *v; size_t n, cap; } cli_items;

static int cli_items_add(void *ctx, const llmcache_entry_info *info) {
    cli_items *s = (cli_items *)ctx;
    char *copy;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        cli_item *v = (cli_item *)realloc(s->v, cap * sizeof *v);
        if (!v) return LLMCACHE_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    if (!(copy = (char *)malloc(info->len + 1))) return LLMCACHE_ENOMEM;
    if (info->len) memcpy(copy, info->data, info->len);
    copy[info->len] = '\0';
    s->v[s->n].e = *info;
    s->v[s->n].e.data = copy;
    s->v[s->n++].data = copy;
    return 0;
}

static void cli_items_free(cli_items *s) {
    size_t i;
    for (i = 0; i < s->n; i++) free(s->v[i].data);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cli_item_order(const void *a, const void *b) {
    return memcmp(((const cli_item *)a)->e.key.bytes, ((const cli_item *)b)->e.key.bytes, 32);
}

/* Every live entry of path, a cache file or (when it does not open as one) a JSON
 * Lines export, sorted by key; 0, or -1 reported. */
static int cli_load(const char *path, cli_items *s) {
    llmcache_config cfg;
    llmcache *c = NULL;
    int rc;
    memset(s, 0, sizeof *s);
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.read_only = 1;
    cfg.max_entries = 0x7ffffffeu;
    if (cli_env_mode(&cfg.mode)) return -1;
    rc = llmcache_open(&c, &cfg);
    if (rc == LLMCACHE_OK) {
        rc = llmcache_foreach(c, 1, cli_items_add, s);
        llmcache_close(c);
        if (rc != LLMCACHE_OK) { cli_error("%s: %s", path, cli_result(rc)); cli_items_free(s); return -1; }
    } else if (rc == LLMCACHE_ENOTCACHE) {
        char *buf, *line, *end;
        size_t len, lineno = 0;
        if (cli_read_all(path, &buf, &len, SIZE_MAX, NULL)) return -1;
        for (line = buf, end = buf + len; line < end; line++) {
            char *eol = (char *)memchr(line, '\n', (size_t)(end - line)), *owned;
            const char *err;
            size_t at;
            llmcache_entry_info e;
            if (!eol) eol = end;
            lineno++;
            if (strspn(line, " \t\r") >= (size_t)(eol - line)) { line = eol; continue; }
            if (cli_parse_entry(line, (size_t)(eol - line), &e, &owned, &err, &at)) {
                cli_error("%s: line %zu, column %zu: %s", path, lineno, at + 1, err);
                free(buf);
                cli_items_free(s);
                return -1;
            }
            rc = cli_items_add(s, &e);
            free(owned);
            if (rc != 0) { cli_error("out of memory"); free(buf); cli_items_free(s); return -1; }
            line = eol;
        }
        free(buf);
    } else {
        cli_error("%s: %s", path, cli_result(rc));
        return -1;
    }
    if (s->n) qsort(s->v, s->n, sizeof *s->v, cli_item_order);
    return 0;
}

/* >>explain ------------------------------------------------------------------------ */
typedef struct cli_near { size_t at, dist; } cli_near;

int cli_explain(const char *request_path, const char *cache_path, const char *ns, const char *endpoint,
                const char *schema_path, const char *const *ignore, int near) {
    char *body = NULL, *schema = NULL, *canon = NULL, hex[65], sh_hex[65];
    size_t body_len, schema_len = 0, canon_len = 0, i, j;
    unsigned char sh[32];
    llmcache_request req;
    llmcache_key k;
    cli_items s;
    int rc, status = CLI_EXIT_FAIL, found = 0;
    memset(&s, 0, sizeof s);
    if (cli_read_all(request_path, &body, &body_len, SIZE_MAX, NULL)) return CLI_EXIT_FAIL;
    if (schema_path && cli_read_all(schema_path, &schema, &schema_len, SIZE_MAX, NULL)) { free(body); return CLI_EXIT_FAIL; }
    memset(&req, 0, sizeof req);
    req.endpoint = endpoint;
    req.body = body; req.body_len = body_len;
    req.schema = schema; req.schema_len = schema_len;
    rc = llmcache_key_for_ex(&k, ns, &req, ignore, &canon, &canon_len);
    if (rc == LLMCACHE_OK) rc = llmcache_schema_hash(schema, schema_len, sh);
    if (rc != LLMCACHE_OK) {
        cli_error("%s: %s (invalid JSON in the request or schema, or a malformed --ignore pointer)",
                  request_path ? request_path : "stdin", cli_result(rc));
        goto done;
    }
    llmcache_key_hex(&k, hex);
    cli_hash_hex(sh, sh_hex);
    printf("canonical  %s\n", canon);
    printf("namespace  \"%s\"\nendpoint   \"%s\"\nschema     %s\n", ns ? ns : "", endpoint ? endpoint : "",
           schema ? sh_hex : "none (32 zero bytes)");
    printf("ignored   ");
    for (i = 0; ignore && ignore[i]; i++) printf(" %s", ignore[i]);
    printf("%s\nkey        %s\n", ignore && ignore[0] ? "" : " nothing", hex);
    status = 0;
    if (!cache_path) goto done;
    if (cli_load(cache_path, &s)) { status = CLI_EXIT_FAIL; goto done; }
    for (i = 0; i < s.n; i++)
        if (memcmp(s.v[i].e.key.bytes, k.bytes, 32) == 0) found = 1;
    printf("cache      %s: %s\n", cache_path, found ? "present (a hit)" : "absent (a miss)");
    if (!found) status = CLI_EXIT_NOTCLEAN;
    if (near) {
        /* the stored requests of this namespace, endpoint and schema: those whose own
           key, remade from the request kept beside the answer, is the entry's key */
        cli_near best[3];
        size_t nbest = 0, considered = 0;
        cli_lines mine;
        if (cli_leaves_of(canon, canon_len, &mine)) { cli_error("out of memory"); status = CLI_EXIT_FAIL; goto done; }
        for (i = 0; i < s.n; i++) {
            llmcache_response r;
            llmcache_key rk;
            cli_lines theirs;
            size_t d;
            if (!(s.v[i].e.meta.flags & LLMCACHE_META_ENVELOPE) ||
                llmcache_response_decode(s.v[i].e.data, s.v[i].e.len, &r) != LLMCACHE_OK) continue;
            req.body = r.request; req.body_len = r.request_len;
            if (r.request && llmcache_key_for(&rk, ns, &req) == LLMCACHE_OK && memcmp(rk.bytes, s.v[i].e.key.bytes, 32) == 0 &&
                memcmp(rk.bytes, k.bytes, 32) != 0 && cli_leaves_of(r.request, r.request_len, &theirs) == 0) {
                considered++;
                d = cli_leaf_diff(&mine, &theirs, NULL, NULL);
                for (j = nbest; j > 0 && best[j - 1].dist > d; j--) if (j < 3) best[j] = best[j - 1];
                if (j < 3) { best[j].at = i; best[j].dist = d; if (nbest < 3) nbest++; }
                cli_lines_free(&theirs);
            }
            llmcache_response_free(&r);
        }
        printf("near       %zu stored request%s of this namespace, endpoint and schema%s\n", considered,
               considered == 1 ? "" : "s", nbest ? "; the closest (- this request, + stored):" : "");
        for (j = 0; j < nbest; j++) {
            llmcache_response r;
            llmcache_key_hex(&s.v[best[j].at].e.key, hex);
            printf("  %s  %zu difference%s\n", hex, best[j].dist, best[j].dist == 1 ? "" : "s");
            if (llmcache_response_decode(s.v[best[j].at].e.data, s.v[best[j].at].e.len, &r) == LLMCACHE_OK) {
                cli_print_json_diff(canon, canon_len, r.request, r.request_len, "    ");
                llmcache_response_free(&r);
            }
        }
        cli_lines_free(&mine);
    }
done:
    cli_items_free(&s);
    llmcache_free(canon);
    free(body);
    free(schema);
    return status;
}

/* >>diff --------------------------------------------------------------------------- */
/* What an answer is for comparing: the status, model and body of a call answer
 * (its times and latency may differ between recordings), else the value. */
static int cli_same_answer(const cli_item *a, const cli_item *b) {
    llmcache_response ra, rb;
    int same;
    if (llmcache_response_decode(a->e.data, a->e.len, &ra) != LLMCACHE_OK ||
        llmcache_response_decode(b->e.data, b->e.len, &rb) != LLMCACHE_OK) {
        llmcache_response_free(&ra);
        return a->e.len == b->e.len && memcmp(a->e.data, b->e.data, a->e.len) == 0;
    }
    same = ra.status == rb.status && ra.len == rb.len && memcmp(ra.body, rb.body, ra.len) == 0 &&
           (ra.model == NULL) == (rb.model == NULL) && ra.model_len == rb.model_len &&
           (!ra.model || memcmp(ra.model, rb.model, ra.model_len) == 0);
    llmcache_response_free(&ra);
    llmcache_response_free(&rb);
    return same;
}

/* The request of an entry (when kept) on one line. */
static void cli_print_request(const cli_item *it) {
    llmcache_response r;
    if (llmcache_response_decode(it->e.data, it->e.len, &r) == LLMCACHE_OK && r.request)
        printf("    request %.*s\n", (int)r.request_len, r.request);
    llmcache_response_free(&r);
}

/* A body as canonical JSON when it is JSON (a stream: its events' text), for the diff. */
static char *cli_body_json(const cli_item *it, size_t *len) {
    llmcache_response r;
    char *out = NULL;
    if (llmcache_response_decode(it->e.data, it->e.len, &r) != LLMCACHE_OK) return NULL;
    if (llmcache_canonicalize(r.body, r.len, &out, len) != LLMCACHE_OK) out = NULL;
    llmcache_response_free(&r);
    return out;
}

int cli_diff(const char *a_path, const char *b_path) {
    cli_items a, b;
    size_t i = 0, j = 0, only_a = 0, only_b = 0, changed = 0, same = 0;
    char hex[65];
    if (cli_load(a_path, &a)) return CLI_EXIT_FAIL;
    if (cli_load(b_path, &b)) { cli_items_free(&a); return CLI_EXIT_FAIL; }
    while (i < a.n || j < b.n) {
        int c = i == a.n ? 1 : j == b.n ? -1 : memcmp(a.v[i].e.key.bytes, b.v[j].e.key.bytes, 32);
        if (c == 0) {
            if (cli_same_answer(&a.v[i], &b.v[j])) same++;
            else {
                char *ja, *jb;
                size_t la = 0, lb = 0;
                changed++;
                llmcache_key_hex(&a.v[i].e.key, hex);
                printf("changed  %s\n", hex);
                cli_print_request(&a.v[i]);
                ja = cli_body_json(&a.v[i], &la);
                jb = cli_body_json(&b.v[j], &lb);
                if (ja && jb) cli_print_json_diff(ja, la, jb, lb, "    ");
                else printf("    (the answers differ; not both JSON bodies)\n");
                llmcache_free(ja);
                llmcache_free(jb);
            }
            i++; j++;
            continue;
        }
        llmcache_key_hex(c < 0 ? &a.v[i].e.key : &b.v[j].e.key, hex);
        printf("only in %s  %s\n", c < 0 ? "A" : "B", hex);
        cli_print_request(c < 0 ? &a.v[i] : &b.v[j]);
        if (c < 0) { only_a++; i++; } else { only_b++; j++; }
    }
    printf("%zu only in A (%s), %zu only in B (%s), %zu changed, %zu the same\n", only_a, a_path, only_b, b_path,
           changed, same);
    cli_items_free(&a);
    cli_items_free(&b);
    return only_a || only_b || changed ? CLI_EXIT_NOTCLEAN : 0;
}
