/* replay_test.c - an example that is also a test: a game's "NPC dialogue" function,
 * tested offline against recorded answers (a cassette in git) in replay mode.
 *
 * Record once against the provider (or tests/fake_provider.py), commit the cassette:
 *     LLMCACHE_MODE=record OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=... \
 *         build/examples/replay_test build/npc.cache
 *     build/llmcache export --sorted build/npc.cache -o examples/cassettes/npc.jsonl
 * Replay forever, offline, with no key (what CI runs; make replay-demo):
 *     build/llmcache import build/ci.cache examples/cassettes/npc.jsonl
 *     LLMCACHE_MODE=replay build/examples/replay_test build/ci.cache
 * Edit a prompt (here: --persona "...") and the replay fails, naming the key that
 * missed and how to see why (llmcache explain --near). Exit status 0 = all passed.
 * "/user" is ignored in keys (cfg.key_ignore): each player has an id, the answers
 * do not depend on it. */
#ifndef LLMCACHE_CURL
#define LLMCACHE_CURL
#endif
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *persona = "You are Brom, a gruff dwarven blacksmith. Answer in one short sentence.";

/* Appends s to out (of cap bytes) as the inside of a JSON string. */
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

/* The code under test: what the NPC answers the player, into line (cap bytes).
 * Returns an llmcache result; in replay mode LLMCACHE_MISS when never recorded. */
static int npc_line(llmcache *cache, const llmcache_curl *provider, const char *player_id, const char *says,
                    char *line, size_t cap) {
    char body[2048] = "{\"model\":\"gpt-4o-mini\",\"user\":\"";
    llmcache_request req;
    llmcache_response r;
    const char *p;
    int rc;
    json_escape(body, sizeof body - 64, player_id);
    strcat(body, "\",\"messages\":[{\"role\":\"system\",\"content\":\"");
    json_escape(body, sizeof body - 64, persona);
    strcat(body, "\"},{\"role\":\"user\",\"content\":\"");
    json_escape(body, sizeof body - 8, says);
    strcat(body, "\"}]}");
    memset(&req, 0, sizeof req);
    req.endpoint = "/chat/completions";
    req.body = body;
    req.body_len = strlen(body);
    rc = llmcache_call(cache, &req, llmcache_curl_transport, (void *)provider, NULL, &r);
    line[0] = '\0';
    if (rc == LLMCACHE_MISS) {
        char hex[65];
        llmcache_key_hex(&r.key, hex);
        fprintf(stderr, "replay miss: no recorded answer for this request (key %s).\n"
                        "  The prompt changed since the cassette was recorded. See why with\n"
                        "    build/llmcache explain --near --ignore /user --endpoint /chat/completions REQUEST.json CACHE\n"
                        "  or record again (LLMCACHE_MODE=record) and commit the new cassette.\n"
                        "  request: %s\n", hex, body);
    } else if (rc == LLMCACHE_OK && (p = strstr(r.body, "\"content\":")) != NULL) {
        size_t n = 0;
        p += 10;
        while (*p == ' ') p++;
        if (*p == '"') p++;
        while (*p && *p != '"' && n + 1 < cap) line[n++] = *p++;
        line[n] = '\0';
    }
    llmcache_response_free(&r);
    return rc;
}

int main(int argc, char **argv) {
    static const char *const ignore[] = { "/user", NULL };
    static const struct { const char *says, *expect; } cases[] = {
        { "Can you fix my sword?", "sword" },
        { "What is the price of a horseshoe?", "horseshoe" },
    };
    llmcache_config cfg;
    llmcache_curl provider;
    llmcache *cache;
    char line[512];
    int i, rc, failed = 0;
    const char *path = "build/npc.cache";
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--persona") == 0 && i + 1 < argc) persona = argv[++i];
        else path = argv[i];
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.mode = llmcache_mode_parse(getenv("LLMCACHE_MODE"));   /* normal, record, replay, no-store, off */
    cfg.key_ignore = ignore;
    rc = llmcache_open(&cache, &cfg);
    if (rc != LLMCACHE_OK) {
        fprintf(stderr, "replay_test: %s: %s (LLMCACHE_MODE is one of normal, record, replay, no-store, off)\n",
                path, llmcache_result_string(rc));
        return 2;
    }
    memset(&provider, 0, sizeof provider);
    provider.kind = LLMCACHE_CURL_OPENAI;
    provider.base_url = getenv("OPENAI_BASE_URL");
    provider.api_key = getenv("OPENAI_API_KEY");
    for (i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        char player[32];
        snprintf(player, sizeof player, "player-%d", rand());   /* differs each run: ignored in keys */
        rc = npc_line(cache, &provider, player, cases[i].says, line, sizeof line);
        if (rc == LLMCACHE_OK && strstr(line, cases[i].expect)) {
            printf("ok   %-36s -> %s\n", cases[i].says, line);
        } else {
            printf("FAIL %-36s -> %s\n", cases[i].says, rc == LLMCACHE_OK ? line : llmcache_result_string(rc));
            failed++;
        }
    }
    printf("replay_test (mode %s): %d passed, %d failed\n", llmcache_mode_name(cfg.mode),
           (int)(sizeof cases / sizeof cases[0]) - failed, failed);
    llmcache_close(cache);
    return failed ? 1 : 0;
}
