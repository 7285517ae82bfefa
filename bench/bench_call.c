/* bench/bench_call.c: the cost of llmcache_call itself, provider excluded.
 *     cc -std=c99 -O2 -I. -o build/bench/bench_call bench/bench_call.c -lpthread -lm
 * A typical ~2 KiB chat-completions request (system prompt, a few turns, sampling
 * parameters) against a transport that answers at once with a ~1 KiB completion:
 *   hit   llmcache_call answered from memory: key derivation (RFC 8785 + SHA-256),
 *         lookup, envelope decode, copies (goal: under 20 us);
 *   miss  a fresh request each time: key derivation, lookup, the transport's
 *         writes into the sink, JSON check and usage extraction, envelope encode
 *         and store; the provider's own time is zero here, so this is the whole
 *         overhead a miss adds to the provider call.
 * Medians over batches, figures in microseconds. */
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include "bench/bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GOAL_HIT_US 20.0

static const char completion[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"Caching is the practice of keeping the answers to expensive questions close at hand, "
    "so that when the same question comes again the answer is returned at once instead of being "
    "computed anew. For a language model API this saves both the money paid per token and the "
    "seconds spent waiting for generation; a good cache keys requests by their canonical form, "
    "bounds its memory, expires stale entries, and never stores failures. It also survives crashes "
    "when it is persisted, and it protects the provider from a stampede of identical requests.\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":412,\"completion_tokens\":96,"
    "\"total_tokens\":508}}";

static int instant_provider(void *ctx, const llmcache_request *req, llmcache_sink *sink) {
    (void)ctx; (void)req;
    return llmcache_sink_write(sink, completion, sizeof completion - 1) == LLMCACHE_OK ? 200 : -1;
}

/* A ~2 KiB request; n makes it unique (a miss) when it varies. */
static size_t make_request(char *buf, size_t cap, unsigned n) {
    int len = snprintf(buf, cap,
        "{\"model\": \"gpt-4o-mini\", \"temperature\": 0.2, \"max_tokens\": 512, \"top_p\": 1,\n"
        " \"messages\": [\n"
        "  {\"role\": \"system\", \"content\": \"You are a careful assistant for a travel company. Answer in "
        "plain English, cite the policy section you rely on, and never invent prices. If the customer asks "
        "about refunds, explain the rules of section 4.2 and offer to open a ticket. Keep answers under "
        "150 words unless the customer asks for detail. Be warm but brief, greet the customer by name "
        "when it is known, and close by asking whether anything else is needed today.\"},\n"
        "  {\"role\": \"user\", \"content\": \"Hello! I booked a trip to Lisbon for March (booking %u) and "
        "my plans changed. Can I move the dates, and what would it cost? I paid with a credit card.\"},\n"
        "  {\"role\": \"assistant\", \"content\": \"Hello, and thank you for reaching out. Under section 3.1 "
        "you can move the dates of a booking once without a fee when you ask at least 14 days before "
        "departure; the fare difference, if any, applies. Would you like me to look at the new dates?\"},\n"
        "  {\"role\": \"user\", \"content\": \"Yes please: the 12th to the 19th of April instead. Also, is "
        "travel insurance still valid after the change, or do I need to buy it again? And one more "
        "thing: the hotel was included, does it move too? Thanks a lot for the help, this is great.\"}\n"
        " ],\n"
        " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"change_booking\",\n"
        "   \"description\": \"Moves a booking to new dates and returns the fare difference in euros.\",\n"
        "   \"parameters\": {\"type\": \"object\", \"properties\": {\n"
        "     \"booking\": {\"type\": \"string\", \"description\": \"The booking number.\"},\n"
        "     \"depart\": {\"type\": \"string\", \"format\": \"date\", \"description\": \"New departure date.\"},\n"
        "     \"return\": {\"type\": \"string\", \"format\": \"date\", \"description\": \"New return date.\"},\n"
        "     \"move_hotel\": {\"type\": \"boolean\", \"description\": \"Whether the hotel moves too.\"},\n"
        "     \"keep_insurance\": {\"type\": \"boolean\", \"description\": \"Whether to keep the insurance.\"}},\n"
        "   \"required\": [\"booking\", \"depart\", \"return\"]}}}]}", n);
    return len > 0 ? (size_t)len : 0;
}

int main(void) {
    enum { BATCH = 50, ROUNDS = 41 };
    static char body[4096];
    double hit[ROUNDS], miss[ROUNDS];
    llmcache *c;
    llmcache_config cfg;
    llmcache_request req;
    llmcache_response r;
    unsigned n = 0;
    int i, j;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_entries = 1u << 20;
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) return 1;
    memset(&req, 0, sizeof req);
    req.endpoint = "https://api.openai.com/v1/chat/completions";
    req.body = body;
    for (i = 0; i < ROUNDS; i++) {
        double t;
        /* misses: every request new */
        t = bench_now_s() * 1e6;
        for (j = 0; j < BATCH; j++) {
            req.body_len = make_request(body, sizeof body, ++n);
            if (llmcache_call(c, &req, instant_provider, NULL, NULL, &r) != LLMCACHE_OK || r.from_cache) return 2;
            llmcache_response_free(&r);
        }
        miss[i] = (bench_now_s() * 1e6 - t) / BATCH;
        /* hits: the last request again */
        t = bench_now_s() * 1e6;
        for (j = 0; j < BATCH; j++) {
            if (llmcache_call(c, &req, instant_provider, NULL, NULL, &r) != LLMCACHE_OK || !r.from_cache) return 3;
            llmcache_response_free(&r);
        }
        hit[i] = (bench_now_s() * 1e6 - t) / BATCH;
    }
    qsort(hit, ROUNDS, sizeof hit[0], bench_cmp_double);
    qsort(miss, ROUNDS, sizeof miss[0], bench_cmp_double);
    printf("request %zu bytes, completion %zu bytes\n", req.body_len, sizeof completion - 1);
    printf("RESULT  %-22s %-22s %12.3f us/op\n", "llmcache-call", "hit (2 KiB request)", hit[ROUNDS / 2]);
    printf("RESULT  %-22s %-22s %12.3f us/op\n", "llmcache-call", "miss overhead", miss[ROUNDS / 2]);
    printf("GOAL  %-36s %12.3f %-6s goal %s %7.2f %-6s %s\n", "call hit, 2 KiB request", hit[ROUNDS / 2], "us",
           "< ", GOAL_HIT_US, "us", hit[ROUNDS / 2] < GOAL_HIT_US ? "PASS" : "MISS");
    llmcache_close(c);
    return 0;
}
