/* bench/bench_canon.c: RFC 8785 canonicalization speed on a realistic ~4 KiB
 * chat-completions request (long message texts with some non-ASCII and escapes,
 * a few numbers, a tools array with a JSON schema).
 *     cc -O2 -o build/bench_canon bench/bench_canon.c && build/bench_canon
 * Prints the median of several runs in MB/s of input (CPU time), for the public
 * llmcache_canonicalize (one output allocation per call) and for the internal
 * llmcache__jcs into a reused buffer, on the indented request and on the same
 * request without whitespace (as SDKs send it). */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char request[] =
    "{\n"
    "  \"model\": \"gpt-4o-2024-08-06\",\n"
    "  \"messages\": [\n"
    "    {\n"
    "      \"role\": \"system\",\n"
    "      \"content\": \"You are a careful assistant for a travel agency. Answer in the language of the "
    "question, keep answers short, and never invent prices, opening hours or phone numbers: when you do "
    "not know, say so and suggest where the customer can check. Use the tools when the question is about "
    "availability or bookings. Format lists with one item per line.\\nAlways confirm the dates back to the "
    "customer before booking anything, and mention cancellation terms when they apply. Prices are in "
    "euros unless the customer asks otherwise; round them to whole euros and say that they may change "
    "until the booking is confirmed. Children's ages matter for tickets and rooms: ask for them.\"\n"
    "    },\n"
    "    {\n"
    "      \"role\": \"user\",\n"
    "      \"content\": \"Bonjour ! Nous voulons aller \\u00e0 Z\\u00fcrich puis \xc3\xa0 M\xc3\xbcnchen en "
    "mai, deux adultes et un enfant de 7 ans. Pouvez-vous v\xc3\xa9rifier s'il reste des chambres "
    "familiales pr\xc3\xa8s de la gare pour les nuits du 12 au 15 mai ? Notre budget est d'environ 180 \xe2\x82\xac "
    "par nuit. Merci beaucoup \xf0\x9f\x98\x8a\"\n"
    "    },\n"
    "    {\n"
    "      \"role\": \"assistant\",\n"
    "      \"content\": \"Bien s\xc3\xbbr. Pour v\xc3\xa9rifier les disponibilit\xc3\xa9s, j'ai besoin de "
    "confirmer : arriv\xc3\xa9" "e \\u00e0 Z\\u00fcrich le 12 mai, d\xc3\xa9part de M\xc3\xbcnchen le 15 mai, "
    "deux adultes et un enfant. Souhaitez-vous un lit d'appoint ou une chambre avec deux lits doubles ?\\n\\n"
    "- Option A : chambre familiale\\n- Option B : deux chambres communicantes\"\n"
    "    },\n"
    "    {\n"
    "      \"role\": \"user\",\n"
    "      \"content\": \"Option A s'il vous pla\xc3\xaet. Et pouvez-vous aussi nous dire le \\\"meilleur\\\" "
    "moyen d'aller de Z\xc3\xbcrich \xc3\xa0 M\xc3\xbcnchen en train, avec les horaires approximatifs ? "
    "Nous pr\xc3\xa9" "f\xc3\xa9rons partir le matin, vers 9h, et \xc3\xa9viter plus d'une correspondance. "
    "L'enfant voyage avec une poussette pliable, est-ce un probl\xc3\xa8me dans les trains EuroCity ? "
    "Et faut-il r\xc3\xa9server les places \\u00e0 l'avance, ou peut-on acheter les billets le jour m\xc3\xaame "
    "\\u00e0 la gare ? Merci d'avance pour votre aide, c'est notre premier voyage en Allemagne.\"\n"
    "    }\n"
    "  ],\n"
    "  \"temperature\": 0.7,\n"
    "  \"top_p\": 1,\n"
    "  \"max_tokens\": 256,\n"
    "  \"presence_penalty\": 0,\n"
    "  \"frequency_penalty\": 0.25,\n"
    "  \"seed\": 12345,\n"
    "  \"stream\": false,\n"
    "  \"tool_choice\": \"auto\",\n"
    "  \"tools\": [\n"
    "    {\n"
    "      \"type\": \"function\",\n"
    "      \"function\": {\n"
    "        \"name\": \"search_hotels\",\n"
    "        \"description\": \"Search available hotel rooms in a city for a date range and a party size.\",\n"
    "        \"parameters\": {\n"
    "          \"type\": \"object\",\n"
    "          \"properties\": {\n"
    "            \"city\": { \"type\": \"string\", \"description\": \"City name, e.g. Z\xc3\xbcrich\" },\n"
    "            \"check_in\": { \"type\": \"string\", \"format\": \"date\" },\n"
    "            \"check_out\": { \"type\": \"string\", \"format\": \"date\" },\n"
    "            \"adults\": { \"type\": \"integer\", \"minimum\": 1, \"maximum\": 8 },\n"
    "            \"children_ages\": { \"type\": \"array\", \"items\": { \"type\": \"integer\", \"minimum\": 0, \"maximum\": 17 } },\n"
    "            \"room_type\": { \"type\": \"string\", \"enum\": [\"single\", \"double\", \"family\", \"suite\"] },\n"
    "            \"max_price_per_night\": { \"type\": \"number\", \"minimum\": 0 }\n"
    "          },\n"
    "          \"required\": [\"city\", \"check_in\", \"check_out\", \"adults\"],\n"
    "          \"additionalProperties\": false\n"
    "        }\n"
    "      }\n"
    "    },\n"
    "    {\n"
    "      \"type\": \"function\",\n"
    "      \"function\": {\n"
    "        \"name\": \"train_connections\",\n"
    "        \"description\": \"Find train connections between two stations on a given day.\",\n"
    "        \"parameters\": {\n"
    "          \"type\": \"object\",\n"
    "          \"properties\": {\n"
    "            \"from\": { \"type\": \"string\" },\n"
    "            \"to\": { \"type\": \"string\" },\n"
    "            \"date\": { \"type\": \"string\", \"format\": \"date\" },\n"
    "            \"depart_after\": { \"type\": \"string\", \"pattern\": \"^[0-2][0-9]:[0-5][0-9]$\" },\n"
    "            \"max_changes\": { \"type\": \"integer\", \"minimum\": 0, \"maximum\": 3 }\n"
    "          },\n"
    "          \"required\": [\"from\", \"to\", \"date\"],\n"
    "          \"additionalProperties\": false\n"
    "        }\n"
    "      }\n"
    "    }\n"
    "  ],\n"
    "  \"response_format\": { \"type\": \"text\" },\n"
    "  \"user\": \"customer-8f14e45f\"\n"
    "}\n";

#define RUNS 9

/* median MB/s over RUNS runs of iters calls on request[0..len); mode 0: public
   API, 1: llmcache__jcs into a reused buffer */
static double bench(const char *request_text, size_t len, int mode, long iters) {
    double rates[RUNS];
    llmcache__buf b = { NULL, 0, 0, 0 };
    int r;
    for (r = 0; r < RUNS; r++) {
        long i;
        double t0 = bench_cpu_s(), dt;
        for (i = 0; i < iters; i++) {
            if (mode == 0) {
                char *out;
                size_t n;
                if (llmcache_canonicalize(request_text, len, &out, &n) != LLMCACHE_OK) { fprintf(stderr, "failed\n"); exit(1); }
                llmcache_free(out);
            } else {
                b.len = 0;
                if (llmcache__jcs(request_text, len, &b, NULL) != LLMCACHE_OK) { fprintf(stderr, "failed\n"); exit(1); }
            }
        }
        dt = bench_cpu_s() - t0;
        rates[r] = (double)len * (double)iters / dt / 1e6;
    }
    llmcache__buf_free(&b);
    qsort(rates, RUNS, sizeof rates[0], bench_cmp_double);
    return rates[RUNS / 2];
}

int main(void) {
    size_t len = sizeof request - 1;
    long iters = 20000;
    char *out;
    size_t n;
    if (llmcache_canonicalize(request, len, &out, &n) != LLMCACHE_OK) { fprintf(stderr, "request refused\n"); return 1; }
    printf("request: %zu bytes, indented; canonical: %zu bytes. MB/s of input, median of %d runs of %ld calls:\n",
           len, n, RUNS, iters);
    {
        double ind = bench(request, len, 0, iters), ind_buf = bench(request, len, 1, iters);
        /* what SDKs send: the same request without whitespace */
        double cmp = bench(out, n, 0, iters), cmp_buf = bench(out, n, 1, iters);
        printf("  indented request:  llmcache_canonicalize %4.0f MB/s, llmcache__jcs into a reused buffer %4.0f MB/s\n",
               ind, ind_buf);
        printf("  compact request:   llmcache_canonicalize %4.0f MB/s, llmcache__jcs into a reused buffer %4.0f MB/s\n",
               cmp, cmp_buf);
        printf("RESULT  %-22s %-22s %12.0f MB/s\n", "llmcache-canon", "4 KiB request, indented", ind);
        printf("RESULT  %-22s %-22s %12.0f MB/s\n", "llmcache-canon", "same, compact", cmp);
    }
    llmcache_free(out);
    return 0;
}
