/* tools/cli_stats.c - the accounting part of `llmcache stats`: the price table of
 * --prices and the library's export of the stored entries (llmcache_stats_write with
 * LLMCACHE_STATS_ENTRIES), as JSON or in the Prometheus text format. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define CLI_PRICES_MAX ((size_t)16 << 20)

int cli_load_prices(const char *path, llmcache_prices **out) {
    char *json = NULL;
    size_t len = 0;
    int rc;
    *out = NULL;
    if (cli_read_all(path, &json, &len, CLI_PRICES_MAX, "16 MiB")) return -1;
    rc = llmcache_prices_parse(json, len, out);
    free(json);
    if (rc == LLMCACHE_OK) return 0;
    cli_error("%s: not a price table (an object of models, each {\"input\":N,\"output\":N,\"cached_input\":N,"
              "\"cache_write\":N} in micro-dollars per million tokens, integers 0..10^12): %s", path, cli_result(rc));
    return -1;
}

typedef struct cli_text { char *p; size_t len; } cli_text;

static int cli_text_write(void *ctx, const void *data, size_t len) {
    cli_text *t = (cli_text *)ctx;
    char *np = (char *)realloc(t->p, t->len + len + 1);
    if (!np) return -1;
    memcpy(np + t->len, data, len);
    t->p = np;
    t->len += len;
    t->p[t->len] = '\0';
    return 0;
}

int cli_stats_text(llmcache *c, int format, char **out, size_t *len) {
    cli_text t = { NULL, 0 };
    llmcache_writer w;
    int rc;
    w.write = cli_text_write;
    w.ctx = &t;
    rc = llmcache_stats_write(c, format, &w);
    if (rc != LLMCACHE_OK) { free(t.p); t.p = NULL; t.len = 0; }
    *out = t.p;
    *len = t.len;
    return rc;
}

int cli_stats_export(llmcache *c, const char *path, int format, FILE *f, int strip_newline) {
    char *text;
    size_t len;
    int rc = cli_stats_text(c, format | LLMCACHE_STATS_ENTRIES, &text, &len);
    if (rc != LLMCACHE_OK) {
        cli_error("%s: %s", path, cli_result(rc));
        return -1;
    }
    if (strip_newline && len && text[len - 1] == '\n') len--;
    if (len) fwrite(text, 1, len, f);
    free(text);
    return 0;
}
