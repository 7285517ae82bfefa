/* tests/test_keys.c: keys against an independent implementation. The vectors in
 * tests/data/key_vectors.jsonl were computed in Python (tools/llmcache_key.py with
 * hashlib; regenerate with `python3 tests/gen/gen_key_vectors.py`): the C library must
 * produce the same canonical bodies and the same keys byte for byte. Also the
 * properties the derivation promises: each input field changes the key, member
 * order and whitespace do not, a schema change does. */
#define LLMCACHE_IMPLEMENTATION
#define LLMCACHE_TEST_HOOKS   /* the JSON tree accessors */
#include "../llmcache.h"
#include "test.h"
#include <stdio.h>
#include <stdlib.h>

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *p;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = (char *)malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    fclose(f);
    if (p) { p[n] = 0; *len = (size_t)n; }
    return p;
}

static void test_vectors(void) {
    size_t len = 0, n = 0;
    char *data = read_file("tests/data/key_vectors.jsonl", &len), *line, *end;
    CHECK_MSG(data != NULL, "tests/data/key_vectors.jsonl missing (run from the repository root)");
    if (!data) return;
    for (line = data; line < data + len; line = end + 1) {
        llmcache__jdoc doc;
        const llmcache__jv *root;
        llmcache_request req;
        llmcache_key k;
        char hex[65], *canon = NULL;
        size_t canon_len = 0, ns_len, want_len;
        const char *ns, *want_canon;
        end = strchr(line, '\n');
        if (!end) end = data + len;
        if (end == line) continue;
        if (llmcache__json_parse(line, (size_t)(end - line), &doc, &root, NULL) != LLMCACHE_OK) {
            CHECK_MSG(0, "vector %zu does not parse", n);
            continue;
        }
        memset(&req, 0, sizeof req);
        ns = llmcache__json_str(llmcache__json_get(root, "ns"), &ns_len);
        req.endpoint = llmcache__json_str(llmcache__json_get(root, "endpoint"), NULL);
        req.body = llmcache__json_str(llmcache__json_get(root, "body"), &req.body_len);
        req.schema = llmcache__json_str(llmcache__json_get(root, "schema"), &req.schema_len);
        want_canon = llmcache__json_str(llmcache__json_get(root, "canonical"), &want_len);
        CHECK_EQ(llmcache_canonicalize(req.body, req.body_len, &canon, &canon_len), LLMCACHE_OK);
        if (canon) CHECK_MEM(canon, canon_len, want_canon, want_len);
        llmcache_free(canon);
        CHECK_EQ(llmcache_key_for(&k, ns, &req), LLMCACHE_OK);
        llmcache_key_hex(&k, hex);
        CHECK_STR(hex, llmcache__json_str(llmcache__json_get(root, "key"), NULL));
        llmcache__json_free(&doc);
        n++;
    }
    CHECK(n >= 10);
    free(data);
}

static void key_of(llmcache_key *k, const char *ns, const char *endpoint, const char *schema, const char *body) {
    llmcache_request req;
    memset(&req, 0, sizeof req);
    req.endpoint = endpoint;
    req.body = body; req.body_len = strlen(body);
    req.schema = schema; req.schema_len = schema ? strlen(schema) : 0;
    CHECK_EQ(llmcache_key_for(k, ns, &req), LLMCACHE_OK);
}

static void test_properties(void) {
    static const char body[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static const char shuffled[] = " { \"messages\" : [ { \"content\":\"hi\", \"role\":\"user\" } ],\n\t\"model\":\"m\" } ";
    llmcache_key base, k;
    llmcache_request req;
    unsigned char sh[32], zero[32];
    key_of(&base, "ns", "e", "{\"type\":\"object\"}", body);
    key_of(&k, "ns", "e", "{ \"type\" : \"object\" }", shuffled);
    CHECK(memcmp(base.bytes, k.bytes, 32) == 0);            /* whitespace and order do not matter */
    key_of(&k, "ns2", "e", "{\"type\":\"object\"}", body);
    CHECK(memcmp(base.bytes, k.bytes, 32) != 0);            /* namespace */
    key_of(&k, "ns", "e2", "{\"type\":\"object\"}", body);
    CHECK(memcmp(base.bytes, k.bytes, 32) != 0);            /* endpoint */
    key_of(&k, "ns", "e", "{\"type\":\"array\"}", body);
    CHECK(memcmp(base.bytes, k.bytes, 32) != 0);            /* schema */
    key_of(&k, "ns", "e", NULL, body);
    CHECK(memcmp(base.bytes, k.bytes, 32) != 0);            /* no schema */
    key_of(&k, "nse", "", "{\"type\":\"object\"}", body);
    CHECK(memcmp(base.bytes, k.bytes, 32) != 0);            /* the NUL separators keep fields apart */
    /* NULL ns and endpoint mean "" */
    key_of(&base, NULL, NULL, NULL, body);
    key_of(&k, "", "", NULL, body);
    CHECK(memcmp(base.bytes, k.bytes, 32) == 0);
    /* no schema hashes as 32 zero bytes */
    memset(zero, 0, 32);
    CHECK_EQ(llmcache_schema_hash(NULL, 0, sh), LLMCACHE_OK);
    CHECK(memcmp(sh, zero, 32) == 0);
    /* what JCS refuses is an error, never a key */
    memset(&req, 0, sizeof req);
    req.body = "{\"a\":1,\"a\":2}"; req.body_len = strlen(req.body);
    CHECK_EQ(llmcache_key_for(&k, NULL, &req), LLMCACHE_EINVAL);
    req.body = "{\"a\":1}"; req.body_len = 7;
    req.schema = "{bad"; req.schema_len = 4;
    CHECK_EQ(llmcache_key_for(&k, NULL, &req), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_key_for(NULL, NULL, &req), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_key_for(&k, NULL, NULL), LLMCACHE_EINVAL);
    CHECK_EQ(llmcache_schema_hash("{}", 2, NULL), LLMCACHE_EINVAL);
}

int main(void) {
    test_vectors();
    test_properties();
    return TEST_REPORT();
}
