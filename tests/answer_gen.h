/* tests/answer_gen.h: realistic LLM answers, made deterministically from a seed, for
 * the transform tests (tests/test_transform_libs.c) and the at-rest benchmark
 * (bench/bench_xform.c): OpenAI-style chat completions (one JSON body) and streams
 * (SSE "data: {chunk}" events, one per token, then "data: [DONE]") of a few hundred
 * to a few thousand tokens of English-like prose with Zipf-distributed words, lists,
 * numbers and the odd code block. A token here is a word or a punctuation mark. */
#ifndef LLMCACHE_TEST_ANSWER_GEN_H
#define LLMCACHE_TEST_ANSWER_GEN_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const answer_words[] = {
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "with", "be", "on", "not", "this",
    "by", "are", "or", "can", "you", "from", "an", "which", "your", "when", "if", "will", "each", "more",
    "cache", "value", "request", "response", "model", "token", "data", "file", "key", "time", "function",
    "memory", "process", "system", "result", "example", "user", "server", "client", "error", "state",
    "because", "however", "first", "then", "also", "only", "other", "new", "some", "these", "into", "one",
    "use", "used", "using", "make", "makes", "way", "how", "what", "there", "their", "should", "would",
    "could", "may", "must", "any", "all", "most", "such", "between", "after", "before", "while", "where",
    "number", "part", "same", "different", "important", "simple", "common", "large", "small", "fast",
    "slow", "approach", "method", "problem", "solution", "question", "answer", "reason", "case", "point",
    "performance", "latency", "throughput", "storage", "disk", "network", "query", "database", "index",
    "table", "record", "entry", "eviction", "policy", "least", "recently", "expire", "expiry", "consistent",
    "hash", "content", "prompt", "completion", "stream", "chunk", "event", "format", "JSON", "schema",
    "field", "type", "string", "integer", "array", "object", "list", "item", "step", "steps", "note",
    "consider", "ensure", "avoid", "keep", "store", "read", "write", "return", "call", "calls", "provider",
    "API", "cost", "costs", "price", "save", "saves", "money", "second", "seconds", "minute", "hour",
    "day", "week", "year", "people", "team", "work", "works", "working", "good", "better", "best",
    "well", "very", "much", "many", "often", "usually", "typically", "generally", "specific", "general",
    "following", "above", "below", "here", "now", "just", "like", "than", "so", "but", "we", "they",
    "he", "she", "his", "her", "its", "our", "them", "us", "do", "does", "did", "have", "has", "had",
    "was", "were", "been", "being", "get", "gets", "set", "sets", "run", "runs", "test", "tests", "check",
    "code", "line", "lines", "program", "library", "header", "compile", "build", "version", "update",
    "change", "changes", "design", "structure", "layer", "level", "high", "low", "per", "every",
    "without", "within", "through", "over", "under", "again", "once", "twice", "both", "either",
    "neither", "whether", "why", "who", "whom", "Python", "C", "Redis", "Linux", "HTTP", "SQL",
};
#define ANSWER_NWORDS (sizeof answer_words / sizeof answer_words[0])

typedef struct answer_rng { unsigned long long s; } answer_rng;
static unsigned answer_next(answer_rng *r) {   /* splitmix64 */
    unsigned long long z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (unsigned)((z ^ (z >> 31)) >> 32);
}
/* a word index, roughly Zipf: small indexes far more often */
static size_t answer_word(answer_rng *r) {
    double u = (answer_next(r) + 0.5) / 4294967296.0;
    size_t i = (size_t)((double)ANSWER_NWORDS * u * u);
    return i < ANSWER_NWORDS ? i : ANSWER_NWORDS - 1;
}

typedef struct answer_buf { char *p; size_t len, cap; } answer_buf;
static void answer_put(answer_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = (char *)realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void answer_puts(answer_buf *b, const char *s) { answer_put(b, s, strlen(s)); }

/* The answer's tokens, each as JSON string content (escaped), into toks (NUL-separated). */
static size_t answer_tokens(answer_rng *r, size_t n, answer_buf *toks) {
    size_t i, since = 0, made = 0;
    int cap = 1, in_code = 0;
    char tmp[64];
    for (i = 0; i < n; i++) {
        unsigned roll = answer_next(r) % 1000;
        const char *w;
        if (!in_code && roll < 4) { answer_puts(toks, "\\n\\n```c\\n"); in_code = 1; }
        else if (in_code && roll < 60) { answer_puts(toks, "\\n```\\n\\n"); in_code = 0; cap = 1; }
        else if (in_code && roll < 200) {
            snprintf(tmp, sizeof tmp, "%s(%u);\\n    ", answer_words[answer_word(r)], answer_next(r) % 100);
            answer_puts(toks, tmp);
        } else if (!in_code && since > 6 && roll < 120) {
            answer_puts(toks, roll < 90 ? "." : roll < 105 ? "," : roll < 112 ? ":" : ".\\n\\n- ");
            cap = roll < 90 || roll >= 112;
            since = 0;
        } else if (roll < 135) {
            snprintf(tmp, sizeof tmp, " %u", answer_next(r) % (roll < 128 ? 100u : 100000u));
            answer_puts(toks, tmp);
            since++;
        } else {
            w = answer_words[answer_word(r)];
            answer_puts(toks, i && !cap ? " " : i ? " " : "");
            if (cap && w[0] >= 'a' && w[0] <= 'z') {
                tmp[0] = (char)(w[0] - 'a' + 'A');
                snprintf(tmp + 1, sizeof tmp - 1, "%s", w + 1);
                answer_puts(toks, tmp);
            } else {
                answer_puts(toks, w);
            }
            cap = 0;
            since++;
        }
        answer_put(toks, "", 1);   /* the separator */
        made++;
    }
    return made;
}

/* One provider body: a chat completion (stream 0) or an SSE stream (stream 1) of
 * n tokens, for answer number id; malloc'd, NUL-terminated, *len bytes. */
static char *answer_make(unsigned long long id, size_t n, int stream, size_t *len) {
    answer_rng r;
    answer_buf toks = {NULL, 0, 0}, out = {NULL, 0, 0};
    char head[512];
    const char *t;
    size_t i, made;
    unsigned created = 1733390000u + (unsigned)(id * 37u % 86400u);
    r.s = id * 0x2545f4914f6cdd1dull + 1;
    made = answer_tokens(&r, n, &toks);
    if (!stream) {
        snprintf(head, sizeof head,
                 "{\"id\":\"chatcmpl-%08x%08x%06x\",\"object\":\"chat.completion\",\"created\":%u,"
                 "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"", answer_next(&r), answer_next(&r), answer_next(&r) & 0xffffffu,
                 created);
        answer_puts(&out, head);
        for (i = 0, t = toks.p; i < made; i++, t += strlen(t) + 1) answer_puts(&out, t);
        snprintf(head, sizeof head,
                 "\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{"
                 "\"prompt_tokens\":%u,\"completion_tokens\":%u,\"total_tokens\":%u,"
                 "\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":"
                 "{\"reasoning_tokens\":0}},\"system_fingerprint\":\"fp_0ba0d124f1\"}",
                 40 + (unsigned)(id % 500), (unsigned)made, 40 + (unsigned)(id % 500) + (unsigned)made);
        answer_puts(&out, head);
    } else {
        char cid[40];
        snprintf(cid, sizeof cid, "chatcmpl-%08x%08x%06x", answer_next(&r), answer_next(&r),
                 answer_next(&r) & 0xffffffu);
        snprintf(head, sizeof head,
                 "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%u,\"model\":"
                 "\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,"
                 "\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,"
                 "\"finish_reason\":null}]}\n\n", cid, created);
        answer_puts(&out, head);
        for (i = 0, t = toks.p; i < made; i++, t += strlen(t) + 1) {
            snprintf(head, sizeof head,
                     "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%u,\"model\":"
                     "\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,"
                     "\"delta\":{\"content\":\"", cid, created);
            answer_puts(&out, head);
            answer_puts(&out, t);
            answer_puts(&out, "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
        }
        snprintf(head, sizeof head,
                 "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%u,\"model\":"
                 "\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,"
                 "\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n", cid, created);
        answer_puts(&out, head);
    }
    free(toks.p);
    *len = out.len;
    return out.p;
}

#endif
