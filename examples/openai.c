/* openai.c - llmcache_call with the bundled libcurl transport, against the real
 * OpenAI API or any OpenAI-compatible server (vLLM, llama.cpp, Ollama, ...).
 *
 *     OPENAI_API_KEY=sk-...  [OPENAI_BASE_URL=http://localhost:8000/v1]  [OPENAI_MODEL=...]
 *     ./build/examples/openai "your question"
 *
 * Asks twice: the first answer comes from the server, the second from the cache.
 * Without OPENAI_API_KEY it explains itself and exits with status 0. */
#ifndef LLMCACHE_CURL
#define LLMCACHE_CURL
#endif
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Appends s to out as the inside of a JSON string. */
static void json_escape(char *out, size_t cap, const char *s) {
    size_t n = strlen(out);
    for (; *s && n + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') { out[n++] = '\\'; out[n++] = (char)ch; }
        else if (ch < 0x20) n += (size_t)sprintf(out + n, "\\u%04x", ch);
        else out[n++] = (char)ch;
    }
    out[n] = '\0';
}

int main(int argc, char **argv) {
    const char *key = getenv("OPENAI_API_KEY"), *base = getenv("OPENAI_BASE_URL"), *model = getenv("OPENAI_MODEL");
    const char *question = argc > 1 ? argv[1] : "Say hello in five words.";
    char body[4096], url[1024];
    llmcache_curl transport;
    llmcache_request req;
    llmcache_response r;
    llmcache_stats st;
    llmcache *c;
    int i, rc = LLMCACHE_OK;

    if (!key || !*key) {
        printf("openai: set OPENAI_API_KEY (and optionally OPENAI_BASE_URL, OPENAI_MODEL) to run this example;\n"
               "        nothing to do without a key.\n");
        return 0;
    }
    snprintf(body, sizeof body, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"",
             model && *model ? model : "gpt-4o-mini");
    json_escape(body, sizeof body - 8, question);
    strcat(body, "\"}]}");

    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&transport, 0, sizeof transport);           /* zero = defaults */
    transport.kind = LLMCACHE_CURL_OPENAI;
    transport.base_url = base && *base ? base : "https://api.openai.com/v1";
    transport.api_key = key;
    transport.timeout_ms = 120000;

    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.mode = llmcache_mode_parse(getenv("LLMCACHE_MODE"));   /* record, replay, ...; unset = normal */
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) return 1;
    memset(&req, 0, sizeof req);
    /* A full URL as the endpoint: the transport posts there, and as the endpoint
       is part of the key, another server gets other entries. */
    snprintf(url, sizeof url, "%s", transport.base_url);
    if (strlen(url) && url[strlen(url) - 1] == '/') url[strlen(url) - 1] = '\0';
    strncat(url, "/chat/completions", sizeof url - strlen(url) - 1);
    req.endpoint = url;
    req.body = body;
    req.body_len = strlen(body);

    for (i = 0; i < 2 && rc == LLMCACHE_OK; i++) {
        double t = now_ms();
        rc = llmcache_call(c, &req, llmcache_curl_transport, &transport, NULL, &r);
        printf("call %d: %s, HTTP %d, %.1f ms, %s\n", i + 1, llmcache_result_string(rc), r.status, now_ms() - t,
               r.from_cache ? "from the cache" : "from the server");
        if (i == 0 && r.body) printf("%.*s\n", r.len > 1500 ? 1500 : (int)r.len, r.body);  /* the raw answer */
        llmcache_response_free(&r);
    }
    llmcache_stats_get(c, &st);
    printf("hits %llu, misses %llu, tokens saved %llu\n", (unsigned long long)st.hits,
           (unsigned long long)st.misses, (unsigned long long)st.tokens_saved);
    llmcache_close(c);
    curl_global_cleanup();
    return rc == LLMCACHE_OK ? 0 : 1;
}
