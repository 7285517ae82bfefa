/* fuzz/fuzz_canon.c: fuzz target for the JSON parser and the RFC 8785 canonicalizer.
 *
 * libFuzzer (from the repository root):
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -o build/fuzz_canon fuzz/fuzz_canon.c
 *     mkdir -p build/corpus_canon   # libFuzzer adds new inputs to the first folder: keep seeds clean
 *     build/fuzz_canon -dict=fuzz/canon.dict -max_total_time=180 build/corpus_canon fuzz/corpus/canon
 * AFL++:
 *     afl-clang-fast -g -O1 -DLLMCACHE_FUZZ_MAIN -o build/fuzz_canon_afl fuzz/fuzz_canon.c
 *     afl-fuzz -i fuzz/corpus/canon -x fuzz/canon.dict -o build/afl -- build/fuzz_canon_afl @@
 * Plain replay (POSIX; each argument is a file or a directory of files):
 *     cc -g -DLLMCACHE_FUZZ_MAIN -fsanitize=address,undefined -o build/fuzz_canon_replay fuzz/fuzz_canon.c
 *     build/fuzz_canon_replay fuzz/corpus/canon
 *
 * Checks: no crash or sanitizer report; an error has a reason (llmcache_canonicalize_err)
 * and an offset within the input, the one llmcache_canonicalize_ex reports;
 * when the input is accepted, its canonical form is accepted too and is a fixed
 * point (canonicalizing it again gives the same bytes), and it parses into a DOM;
 * numbers: text -> double -> shortest text -> the same double. */
#define FUZZ_NAME "fuzz_canon"
#define LLMCACHE_TEST_HOOKS   /* llmcache__json_parse_num */
#include "fuzz_util.h"

static uint64_t fuzz_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

/* shortest text of d parses back to d (-0 prints "0") */
static void fuzz_roundtrip(double d) {
    char buf[32];
    double back = 1;
    size_t n = llmcache__json_fmt_num(d, buf);
    FUZZ_ASSERT(n > 0 && n <= 25 && buf[n] == '\0' && strlen(buf) == n);
    FUZZ_ASSERT(llmcache__json_parse_num(buf, n, &back) == 0);
    FUZZ_ASSERT(fuzz_bits(back) == (fuzz_bits(d) == 0x8000000000000000u ? 0 : fuzz_bits(d)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    char *out = NULL, *again = NULL;
    size_t n = 0, n2 = 0, off = 0;
    llmcache_json_error err;
    double d;
    int rc = llmcache_canonicalize_err(in, size, &out, &n, &err);
    if (rc == LLMCACHE_OK) {
        llmcache__jdoc doc;
        const llmcache__jv *root = NULL;
        FUZZ_ASSERT(out != NULL && out[n] == '\0');
        rc = llmcache_canonicalize_ex(out, n, &again, &n2, &off);
        FUZZ_ASSERT(rc == LLMCACHE_OK);
        FUZZ_ASSERT(n2 == n && memcmp(again, out, n) == 0);
        FUZZ_ASSERT(llmcache__json_parse(out, n, &doc, &root, &err) == LLMCACHE_OK && root != NULL);
        llmcache__json_free(&doc);
    } else {
        FUZZ_ASSERT(rc == LLMCACHE_EINVAL || rc == LLMCACHE_ENOMEM);
        FUZZ_ASSERT(out == NULL);
        if (rc == LLMCACHE_EINVAL) {   /* a reason, and the offset _ex reports */
            FUZZ_ASSERT(err.offset <= size && err.code > LLMCACHE_JSON_OK && err.code <= LLMCACHE_JSON_EDEPTH);
            FUZZ_ASSERT(llmcache_canonicalize_ex(in, size, &again, NULL, &off) == LLMCACHE_EINVAL && off == err.offset);
        }
    }
    llmcache_free(out);
    llmcache_free(again);

    /* the input as one number token, and its first 8 bytes as a double */
    if (size <= 1100 && llmcache__json_parse_num(in, size, &d) == 0) fuzz_roundtrip(d);
    if (size >= 8) {
        uint64_t u = 0;
        int i;
        for (i = 0; i < 8; i++) u = u << 8 | data[i];
        memcpy(&d, &u, 8);
        if (((u >> 52) & 0x7ff) != 0x7ff) fuzz_roundtrip(d);
    }
    return 0;
}
