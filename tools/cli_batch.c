/* tools/cli_batch.c - `llmcache batch`: many provider requests through a cache file
 * with llmcache_call_many and the bundled libcurl transport (LLMCACHE_CURL; the
 * Makefile builds the tool with it when libcurl is there). Results are JSON Lines in
 * input order. A batch killed half way and run again serves what finished from the
 * cache and calls only the rest. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLI_BATCH_MAX_INPUT ((size_t)1 << 32)

/* The requests of buf, one a line (blank lines skipped); the lines' numbers in *lineno.
 * Returns how many, or (size_t)-1 after reporting a malformed line. */
static size_t cli_batch_parse(const char *name, char *buf, size_t len, llmcache_request *reqs,
                              cli_batch_line *lines, size_t *lineno, const char *endpoint) {
    size_t n = 0, no = 0, pos = 0;
    while (pos < len) {
        size_t end = pos, l;
        const char *err;
        size_t at;
        while (end < len && buf[end] != '\n') end++;
        l = end - pos;
        if (l && buf[pos + l - 1] == '\r') l--;
        no++;
        if (strspn(buf + pos, " \t\r") < l) {
            if (reqs) {
                if (cli_parse_batch_line(buf + pos, l, &lines[n], &err, &at)) {
                    cli_error("%s: line %zu, column %zu: %s", name, no, at + 1, err);
                    return (size_t)-1;
                }
                memset(&reqs[n], 0, sizeof reqs[n]);
                reqs[n].endpoint = endpoint;
                reqs[n].body = lines[n].body;
                reqs[n].body_len = lines[n].body_len;
                lineno[n] = no;
            }
            n++;
        }
        pos = end + 1;
    }
    return n;
}

/* One result line: {"line","custom_id","status","from_cache","tokens","error","body"|"body_text"} */
static void cli_batch_write(FILE *f, size_t lineno, const cli_batch_line *in, const llmcache_response *r, int rc) {
    char *canon = NULL;
    size_t canon_len = 0;
    fprintf(f, "{\"line\":%zu,\"custom_id\":", lineno);
    if (in->id) fwrite(in->id, 1, in->id_len, f);
    else fputs("null", f);
    fprintf(f, ",\"status\":%d,\"from_cache\":%s,\"tokens\":", r->status, r->from_cache ? "true" : "false");
    if (r->meta.prompt_tokens >= 0 || r->meta.completion_tokens >= 0)
        fprintf(f, "{\"prompt\":%lld,\"completion\":%lld}", (long long)r->meta.prompt_tokens,
                (long long)r->meta.completion_tokens);
    else fputs("null", f);
    fputs(",\"error\":", f);
    if (rc == LLMCACHE_OK) fputs("null", f);
    else cli_write_json_string(f, llmcache_result_string(rc));
    if (r->body && llmcache_canonicalize(r->body, r->len, &canon, &canon_len) == LLMCACHE_OK) {
        fputs(",\"body\":", f);
        fwrite(canon, 1, canon_len, f);
    } else if (r->body) {
        fputs(",\"body_text\":", f);
        cli_write_json_string(f, r->body);
    }
    llmcache_free(canon);
    fputs("}\n", f);
}

/* The progress line on a terminal: "batch [####....]  45%  450/1000  hits 12  errors 0" */
typedef struct cli_batch_bar { int on, last; int64_t drawn_ms; } cli_batch_bar;

static int cli_batch_progress(void *ctx, size_t done, size_t total, size_t hits, size_t errors) {
    cli_batch_bar *b = (cli_batch_bar *)ctx;
    char bar[31];
    int pct = total ? (int)(done * 100 / total) : 100, i;
    int64_t now = cli_now_ms();
    if (!b->on || (pct == b->last && done < total && now - b->drawn_ms < 250)) return 0;
    b->last = pct;
    b->drawn_ms = now;
    for (i = 0; i < 30; i++) bar[i] = i < pct * 30 / 100 ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\rbatch [%s] %3d%%  %zu/%zu  hits %zu  errors %zu ", bar, pct, done, total, hits, errors);
    fflush(stderr);
    return 0;
}

#ifdef LLMCACHE_CURL
#include <curl/curl.h>

/* The endpoint's API: Anthropic for a URL ending in /messages, else OpenAI; its key
 * from the environment, as examples/openai.c takes it. */
static void cli_batch_transport(llmcache_curl *t, const char *endpoint) {
    size_t n = strlen(endpoint);
    memset(t, 0, sizeof *t);
    if (n >= 9 && strcmp(endpoint + n - 9, "/messages") == 0) {
        t->kind = LLMCACHE_CURL_ANTHROPIC;
        t->api_key = getenv("ANTHROPIC_API_KEY");
    } else {
        t->kind = LLMCACHE_CURL_OPENAI;
        t->api_key = getenv("OPENAI_API_KEY");
    }
}

int cli_batch_run(llmcache *c, const char *input, const char *endpoint, const char *concurrency, const char *out) {
    char *buf = NULL, *end;
    size_t len, n, i, failed = 0, hits = 0;
    llmcache_request *reqs = NULL;
    cli_batch_line *lines = NULL;
    size_t *lineno = NULL;
    llmcache_response *resp = NULL;
    int *rcs = NULL, status = CLI_EXIT_FAIL, rc;
    llmcache_batch_options o;
    llmcache_curl t;
    cli_batch_bar bar;
    cli_output output;
    long conc = 0;
    if (!endpoint || (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)) {
        cli_error("--endpoint URL is needed: the full URL of the API, e.g. https://api.openai.com/v1/chat/completions");
        return CLI_EXIT_FAIL;
    }
    if (concurrency) {
        conc = strtol(concurrency, &end, 10);
        if (*concurrency == '\0' || *end || conc < 1 || conc > LLMCACHE_BATCH_MAX_THREADS) {
            cli_error("--concurrency %s: expected a number from 1 to %d", concurrency, LLMCACHE_BATCH_MAX_THREADS);
            return CLI_EXIT_FAIL;
        }
    }
    if (cli_read_all(input, &buf, &len, CLI_BATCH_MAX_INPUT, "4 GiB")) return CLI_EXIT_FAIL;
    n = cli_batch_parse(input, buf, len, NULL, NULL, NULL, endpoint);
    reqs = (llmcache_request *)calloc(n ? n : 1, sizeof *reqs);
    lines = (cli_batch_line *)calloc(n ? n : 1, sizeof *lines);
    lineno = (size_t *)calloc(n ? n : 1, sizeof *lineno);
    resp = (llmcache_response *)calloc(n ? n : 1, sizeof *resp);
    rcs = (int *)calloc(n ? n : 1, sizeof *rcs);
    if (!reqs || !lines || !lineno || !resp || !rcs) { cli_error("out of memory"); goto done; }
    if (cli_batch_parse(input, buf, len, reqs, lines, lineno, endpoint) == (size_t)-1) goto done;
    if (cli_output_open(&output, out)) goto done;

    cli_batch_transport(&t, endpoint);
    t.pool = llmcache_curl_pool_new();   /* keep-alive: no handshake per request (NULL: none) */
    memset(&o, 0, sizeof o);
    o.concurrency = (int)conc;
    o.results = rcs;
    memset(&bar, 0, sizeof bar);
    bar.on = isatty(STDERR_FILENO);
    bar.last = -1;
    o.progress = cli_batch_progress;
    o.progress_ctx = &bar;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = llmcache_call_many(c, reqs, n, llmcache_curl_transport, &t, &o, resp);
    if (bar.on) fputc('\n', stderr);
    for (i = 0; i < n; i++) {
        cli_batch_write(output.f, lineno[i], &lines[i], &resp[i], rcs[i]);
        failed += rcs[i] != LLMCACHE_OK;
        hits += resp[i].from_cache ? 1u : 0u;
        llmcache_response_free(&resp[i]);
    }
    llmcache_curl_pool_free(t.pool);
    curl_global_cleanup();
    if (rc != LLMCACHE_OK) { cli_error("%s", cli_result(rc)); cli_output_abort(&output); goto done; }
    if (cli_output_commit(&output)) goto done;
    fprintf(stderr, "batch: %zu request%s, %zu from the cache, %zu failed\n", n, n == 1 ? "" : "s", hits, failed);
    status = failed ? CLI_EXIT_NOTCLEAN : 0;
done:
    free(buf); free(reqs); free(lines); free(lineno); free(resp); free(rcs);
    return status;
}
#else
int cli_batch_run(llmcache *c, const char *input, const char *endpoint, const char *concurrency, const char *out) {
    (void)c; (void)input; (void)endpoint; (void)concurrency; (void)out;
    (void)cli_batch_parse; (void)cli_batch_write; (void)cli_batch_progress;
    cli_error("this llmcache was built without libcurl (LLMCACHE_CURL), which batch needs");
    return CLI_EXIT_FAIL;
}
#endif
