/* tests/test_canon.c: the JSON parser and the RFC 8785 (JSON Canonicalization
 * Scheme) serializer: the RFC's own examples, number vectors and random documents
 * made by node (tests/gen/gen_numbers.js, tests/gen/gen_canon.js: JavaScript's
 * Number::toString and JSON.stringify are the reference RFC 8785 names), the
 * errors I-JSON (RFC 7493) requires with their offsets, and locale independence.
 * Run from the repository root: build/test_canon (reads tests/data/). */
/* An allocator that can be told to fail (defined below; no system header may
   come before llmcache.h, which sets the feature-test macros). */
#include <stddef.h>
static void *test_malloc(size_t n);
static void *test_realloc(void *p, size_t n);
static void test_free(void *p);
#define LLMCACHE_MALLOC(sz)     test_malloc(sz)
#define LLMCACHE_REALLOC(p, sz) test_realloc((p), (sz))
#define LLMCACHE_FREE(p)        test_free(p)

#define LLMCACHE_IMPLEMENTATION
#define LLMCACHE_TEST_HOOKS   /* the JSON tree accessors */
#include "../llmcache.h"
#include "test.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers --------------------------------------------------------------- */

/* The allocation after the next test_alloc_budget ones fails (-1 = none does). */
static long test_alloc_budget = -1;
static void *test_malloc(size_t n) {
    if (test_alloc_budget == 0) return NULL;
    if (test_alloc_budget > 0) test_alloc_budget--;
    return malloc(n);
}
static void *test_realloc(void *p, size_t n) {
    if (test_alloc_budget == 0) return NULL;
    if (test_alloc_budget > 0) test_alloc_budget--;
    return realloc(p, n);
}
static void test_free(void *p) { free(p); }

static uint64_t bits_of(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static double double_of(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

/* canonical(in) == want, and canonical(want) == want */
static void canon_is(const char *in, size_t in_len, const char *want) {
    char *out = NULL, *again = NULL;
    size_t n = 0, n2 = 0, off = 0;
    int rc = llmcache_canonicalize_ex(in, in_len, &out, &n, &off);
    CHECK_MSG(rc == LLMCACHE_OK, "canonicalize(%.*s) = %d at %zu", (int)(in_len > 200 ? 200 : in_len), in, rc, off);
    if (rc != LLMCACHE_OK) return;
    CHECK_MEM(out, n, want, strlen(want));
    CHECK(out[n] == '\0');
    rc = llmcache_canonicalize(out, n, &again, &n2);
    CHECK_EQ(rc, LLMCACHE_OK);
    if (rc == LLMCACHE_OK) CHECK_MEM(again, n2, out, n);
    llmcache_free(out);
    llmcache_free(again);
}
#define CANON(in, want) canon_is((in), sizeof(in) - 1, (want))

/* canonical(in) is refused with LLMCACHE_EINVAL at byte offset want_off for the
   reason want_code (llmcache_canonicalize_err), and _ex reports the same offset */
static void canon_err_at(const char *in, size_t len, size_t want_off, int want_code, int line) {
    char *out = (char *)"untouched";
    size_t n = 7, off = (size_t)-1;
    llmcache_json_error err;
    int rc = llmcache_canonicalize_err(in, len, &out, &n, &err);
    CHECK_MSG(rc == LLMCACHE_EINVAL && err.offset == want_off && err.code == want_code && out == NULL &&
              strcmp(err.reason, llmcache_json_error_string(want_code)) == 0,
              "line %d: input \"%.*s\": rc %d, offset %zu, code %d (%s) (want EINVAL at %zu, code %d)", line,
              (int)(len > 60 ? 60 : len), in, rc, err.offset, err.code, err.reason, want_off, want_code);
    if (rc == LLMCACHE_OK) llmcache_free(out);
    rc = llmcache_canonicalize_ex(in, len, &out, &n, &off);
    CHECK_MSG(rc == LLMCACHE_EINVAL && off == want_off, "line %d: _ex: rc %d, offset %zu", line, rc, off);
    if (rc == LLMCACHE_OK) llmcache_free(out);
}
#define CANON_ERR(in, off, code) canon_err_at((in), sizeof(in) - 1, (off), LLMCACHE_JSON_##code, __LINE__)

static int parse_hex64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    int i;
    for (i = 0; i < 16; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    size_t cap = 0, n = 0, got;
    if (!f) return NULL;
    do {
        if (cap - n < 65536) {
            char *np = (char *)realloc(p, cap = cap * 2 + 65536);
            if (!np) { free(p); fclose(f); return NULL; }
            p = np;
        }
        got = fread(p + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    p[n] = '\0';
    *len = n;
    return p;
}

/* ---- RFC 8785 examples ----------------------------------------------------- */

static void test_rfc8785_examples(void) {
    /* RFC 8785 section 3.2.2 (the sample input, written with its line breaks) */
    CANON("{\n"
          "  \"numbers\": [333333333.33333329, 1E30, 4.50,\n"
          "              2e-3, 0.000000000000000000000000001],\n"
          "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
          "  \"literals\": [null, true, false]\n"
          "}",
          "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
          "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
    /* RFC 8785 section 3.2.3: sorting by UTF-16 code units */
    CANON("{\n"
          "  \"\\u20ac\": \"Euro Sign\",\n"
          "  \"\\r\": \"Carriage Return\",\n"
          "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
          "  \"1\": \"One\",\n"
          "  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n"
          "  \"\\u0080\": \"Control\",\n"
          "  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n"
          "}",
          "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
          "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
          "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

/* RFC 8785 Appendix B: IEEE 754 bit patterns and their JSON form */
static void test_rfc8785_appendix_b(void) {
    static const struct { uint64_t bits; const char *text; } v[] = {
        { 0x0000000000000000u, "0" },
        { 0x8000000000000000u, "0" },
        { 0x0000000000000001u, "5e-324" },
        { 0x8000000000000001u, "-5e-324" },
        { 0x7fefffffffffffffu, "1.7976931348623157e+308" },
        { 0xffefffffffffffffu, "-1.7976931348623157e+308" },
        { 0x4340000000000000u, "9007199254740992" },
        { 0xc340000000000000u, "-9007199254740992" },
        { 0x4430000000000000u, "295147905179352830000" },
        { 0x44b52d02c7e14af5u, "9.999999999999997e+22" },
        { 0x44b52d02c7e14af6u, "1e+23" },
        { 0x44b52d02c7e14af7u, "1.0000000000000001e+23" },
        { 0x444b1ae4d6e2ef4eu, "999999999999999700000" },
        { 0x444b1ae4d6e2ef4fu, "999999999999999900000" },
        { 0x444b1ae4d6e2ef50u, "1e+21" },
        { 0x3eb0c6f7a0b5ed8cu, "9.999999999999997e-7" },
        { 0x3eb0c6f7a0b5ed8du, "0.000001" },
        { 0x41b3de4355555553u, "333333333.3333332" },
        { 0x41b3de4355555554u, "333333333.33333325" },
        { 0x41b3de4355555555u, "333333333.3333333" },
        { 0x41b3de4355555556u, "333333333.3333334" },
        { 0x41b3de4355555557u, "333333333.33333343" },
        { 0xbecbf647612f3696u, "-0.0000033333333333333333" },
        { 0x43143ff3c1cb0959u, "1424953923781206.2" },
    };
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        char buf[32];
        double back = 1;
        size_t n = llmcache__json_fmt_num(double_of(v[i].bits), buf);
        CHECK_STR(buf, v[i].text);
        CHECK_EQ(n, strlen(v[i].text));
        CHECK_EQ(llmcache__json_parse_num(v[i].text, strlen(v[i].text), &back), 0);
        /* the text of -0 is "0": it parses to +0 */
        CHECK(bits_of(back) == (v[i].bits == 0x8000000000000000u ? 0 : v[i].bits));
    }
}

/* ---- number vectors from node ------------------------------------------------ */

static void test_number_file(void) {
    size_t len = 0, lines = 0, alts = 0, bad_fmt = 0, bad_back = 0, bad_alt = 0;
    char *data = read_file("tests/data/numbers.txt", &len), *line, *next;
    CHECK_MSG(data != NULL, "tests/data/numbers.txt not found: run from the repository root");
    if (!data) return;
    for (line = data; line < data + len; line = next) {
        char *eol = strchr(line, '\n'), *tok, *sp;
        char buf[32];
        uint64_t bits;
        double d, back;
        size_t n;
        if (!eol) eol = data + len;
        *eol = '\0';
        next = eol + 1;
        if (!*line) continue;
        lines++;
        if (parse_hex64(line, &bits) || line[16] != ' ') { bad_fmt++; continue; }
        d = double_of(bits);
        tok = line + 17;
        sp = strchr(tok, ' ');
        if (sp) *sp = '\0';
        n = llmcache__json_fmt_num(d, buf);
        if (n != strlen(tok) || strcmp(buf, tok) != 0) {
            if (bad_fmt++ < 10) fprintf(stderr, "fmt %016llx: got %s, want %s\n", (unsigned long long)bits, buf, tok);
        }
        if (llmcache__json_parse_num(tok, strlen(tok), &back) != 0 ||
            bits_of(back) != (bits == 0x8000000000000000u ? 0 : bits)) {
            if (bad_back++ < 10) fprintf(stderr, "parse %s: got %016llx, want %016llx\n", tok,
                                         (unsigned long long)bits_of(back), (unsigned long long)bits);
        }
        while (sp) {
            tok = sp + 1;
            sp = strchr(tok, ' ');
            if (sp) *sp = '\0';
            alts++;
            back = 1;
            if (llmcache__json_parse_num(tok, strlen(tok), &back) != 0 || bits_of(back) != bits) {
                if (bad_alt++ < 10) fprintf(stderr, "parse %.80s%s: got %016llx, want %016llx\n", tok,
                                            strlen(tok) > 80 ? "..." : "",
                                            (unsigned long long)bits_of(back), (unsigned long long)bits);
            }
        }
    }
    printf("numbers.txt: %zu doubles, %zu other spellings\n", lines, alts);
    CHECK(lines >= 19000);
    CHECK_EQ(bad_fmt, 0);
    CHECK_EQ(bad_back, 0);
    CHECK_EQ(bad_alt, 0);
    free(data);
}

/* ---- random documents from node -------------------------------------------- */

static void test_canon_file(void) {
    size_t len = 0, docs = 0;
    char *data = read_file("tests/data/canon.txt", &len), *p, *in, *want;
    CHECK_MSG(data != NULL, "tests/data/canon.txt not found: run from the repository root");
    if (!data) return;
    for (p = data; p < data + len;) {
        char *e1 = strchr(p, '\n'), *e2;
        if (!e1) break;
        in = p; *e1 = '\0';
        want = e1 + 1;
        e2 = strchr(want, '\n');
        if (!e2) break;
        *e2 = '\0';
        p = e2 + 1;
        canon_is(in, (size_t)(e1 - in), want);
        docs++;
    }
    printf("canon.txt: %zu documents\n", docs);
    CHECK(docs >= 300);
    free(data);
}

/* ---- numbers: hand-picked ------------------------------------------------------ */

static void num_is(const char *s, uint64_t want, int line) {
    double d = 12345;
    int rc = llmcache__json_parse_num(s, strlen(s), &d);
    CHECK_MSG(rc == 0 && bits_of(d) == want, "line %d: parse %.60s: rc %d, %016llx (want %016llx)", line, s, rc,
              (unsigned long long)bits_of(d), (unsigned long long)want);
}
#define NUM_IS(s, want) num_is((s), (want), __LINE__)

static void num_bad(const char *s, size_t n, int line) {
    double d = 12345;
    CHECK_MSG(llmcache__json_parse_num(s, n, &d) == -1 && d == 12345, "line %d: parse \"%.*s\" should fail",
              line, (int)n, s);
}
#define NUM_BAD(s) num_bad((s), sizeof(s) - 1, __LINE__)

static void fmt_is(double d, const char *want, int line) {
    char buf[32];
    llmcache__json_fmt_num(d, buf);
    CHECK_MSG(strcmp(buf, want) == 0, "line %d: fmt got %s, want %s", line, buf, want);
}
#define FMT_IS(d, want) fmt_is((d), (want), __LINE__)

static void test_numbers(void) {
    char big[2100];
    size_t i;
    NUM_IS("0", 0);
    NUM_IS("-0", 0x8000000000000000u);
    NUM_IS("-0.0e-5", 0x8000000000000000u);
    NUM_IS("0.1e1", 0x3ff0000000000000u);
    NUM_IS("1E5", 0x40f86a0000000000u);
    NUM_IS("1e+5", 0x40f86a0000000000u);
    NUM_IS("0.7", 0x3fe6666666666666u);
    NUM_IS("256", 0x4070000000000000u);
    NUM_IS("2.2250738585072011e-308", 0x000fffffffffffffu);
    NUM_IS("2.2250738585072012e-308", 0x0010000000000000u);
    NUM_IS("9007199254740993", 0x4340000000000000u);          /* a tie: to even */
    NUM_IS("9007199254740995", 0x4340000000000002u);          /* a tie: to even */
    NUM_IS("9007199254740993.0000000000000000000000000001", 0x4340000000000001u);
    NUM_IS("1e-99999", 0);
    NUM_IS("-1e-99999", 0x8000000000000000u);
    NUM_IS("0e99999", 0);
    NUM_IS("1e-400", 0);
    NUM_IS("2.4703282292062327e-324", 0);                      /* just below half of 5e-324 */
    NUM_IS("2.4703282292062328e-324", 1);                      /* just above */
    NUM_IS("1e0000000000000000000000000000000000001", 0x4024000000000000u);
    NUM_IS("1e-0000000000000000000000000000000000001", 0x3fb999999999999au);
    NUM_IS("1.7976931348623158e308", 0x7fefffffffffffffu);     /* below the midpoint to 2^1024 */
    NUM_IS("123456789012345678901234567890", 0x45f8ee90ff6c373eu);
    NUM_IS("1e23", 0x44b52d02c7e14af6u);
    NUM_IS("8.98846567431158e307", 0x7fe0000000000000u);
    NUM_BAD("1e99999");
    NUM_BAD("1e400");
    NUM_BAD("-1e309");
    NUM_BAD("1.7976931348623159e308");
    /* exactly halfway between DBL_MAX and 2^1024: ties to even, i.e. overflow */
    NUM_BAD("179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792");
    NUM_IS("179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791",
           0x7fefffffffffffffu);
    NUM_BAD("");
    NUM_BAD("-");
    NUM_BAD("1.");
    NUM_BAD(".1");
    NUM_BAD("01");
    NUM_BAD("-01");
    NUM_BAD("1e");
    NUM_BAD("1e+");
    NUM_BAD("+1");
    NUM_BAD("1 ");
    NUM_BAD(" 1");
    NUM_BAD("0x10");
    NUM_BAD("1.5e3.2");
    NUM_BAD("NaN");
    NUM_BAD("Infinity");
    NUM_BAD("1\0");
    /* 800+ digit mantissas: 0.333... and 1000...0e-1000 and leading zeros */
    big[0] = '0'; big[1] = '.';
    for (i = 2; i < 1002; i++) big[i] = '3';
    big[i] = '\0';
    NUM_IS(big, 0x3fd5555555555555u);
    big[0] = '1';
    for (i = 1; i < 1001; i++) big[i] = '0';
    memcpy(big + i, "e-1000", 7);
    NUM_IS(big, 0x3ff0000000000000u);
    memcpy(big, "0.", 2);
    for (i = 2; i < 2002; i++) big[i] = '0';
    memcpy(big + i, "1e2001", 7);
    NUM_IS(big, 0x3ff0000000000000u);
    /* 1 + 2^-53 (the midpoint of 1 and its successor) written out exactly, then plus a tail */
    NUM_IS("1.00000000000000011102230246251565404236316680908203125", 0x3ff0000000000000u);
    NUM_IS("1.00000000000000011102230246251565404236316680908203125000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
           0x3ff0000000000001u);

    FMT_IS(-0.0, "0");
    FMT_IS(0.7, "0.7");
    FMT_IS(256, "256");
    FMT_IS(-256, "-256");
    FMT_IS(1e21, "1e+21");
    FMT_IS(1e20, "100000000000000000000");
    FMT_IS(1e-7, "1e-7");
    FMT_IS(1.5e-7, "1.5e-7");
    FMT_IS(1e-6, "0.000001");
    FMT_IS(123e-20, "1.23e-18");
    FMT_IS(0.1 + 0.2, "0.30000000000000004");
    FMT_IS(9007199254740991.0, "9007199254740991");
    FMT_IS(18014398509481984.0, "18014398509481984");
    FMT_IS(4.35, "4.35");
    FMT_IS(5e-324, "5e-324");
    FMT_IS(1.0 / 3.0, "0.3333333333333333");
    {   /* every power of two below 2^53 prints as its integer; the ones above round-trip */
        char buf[32];
        double p = 1, back;
        int e, bad = 0;
        for (e = 0; e < 1024; e++, p *= 2) {
            llmcache__json_fmt_num(p, buf);
            if (llmcache__json_parse_num(buf, strlen(buf), &back) != 0 || back != p) bad++;
        }
        CHECK_EQ(bad, 0);
    }
}

/* ---- error cases and their offsets ------------------------------------------- */

static void test_errors(void) {
    char *deep;
    size_t i, n;
    CANON_ERR("", 0, EEMPTY);
    CANON_ERR("   ", 3, EEMPTY);
    CANON_ERR(" \n\t\r", 4, EEMPTY);
    CANON_ERR("\xef\xbb\xbf{}", 0, EBOM);           /* a BOM */
    CANON_ERR("{} x", 3, ETRAILING);
    CANON_ERR("[1] [2]", 4, ETRAILING);
    CANON_ERR("[1,2,]", 5, ESYNTAX);
    CANON_ERR("{\"a\":1,}", 7, ESYNTAX);
    CANON_ERR("[,1]", 1, ESYNTAX);
    CANON_ERR("01", 1, ETRAILING);
    CANON_ERR("[01]", 2, ESYNTAX);
    CANON_ERR("-01", 2, ETRAILING);
    CANON_ERR("1.", 2, ENUMBER);
    CANON_ERR("[1.]", 3, ENUMBER);
    CANON_ERR(".5", 0, ESYNTAX);
    CANON_ERR("-", 1, ENUMBER);
    CANON_ERR("+1", 0, ESYNTAX);
    CANON_ERR("1e", 2, ENUMBER);
    CANON_ERR("1e+", 3, ENUMBER);
    CANON_ERR("NaN", 0, ESYNTAX);
    CANON_ERR("[NaN]", 1, ESYNTAX);
    CANON_ERR("Infinity", 0, ESYNTAX);
    CANON_ERR("-Infinity", 1, ENUMBER);
    CANON_ERR("0x1F", 1, ETRAILING);
    CANON_ERR("/* c */ 1", 0, ESYNTAX);
    CANON_ERR("[1 // c\n]", 3, ESYNTAX);
    CANON_ERR("{\"a\":1 # c\n}", 7, ESYNTAX);
    CANON_ERR("'a'", 0, ESYNTAX);
    CANON_ERR("tru", 3, ETRUNCATED);
    CANON_ERR("trUe", 2, ESYNTAX);
    CANON_ERR("nul", 3, ETRUNCATED);
    CANON_ERR("[true false]", 6, ESYNTAX);
    CANON_ERR("{\"a\" 1}", 5, ESYNTAX);
    CANON_ERR("{a:1}", 1, ESYNTAX);
    CANON_ERR("{\"a\":}", 5, ESYNTAX);
    CANON_ERR("{\"a\"}", 4, ESYNTAX);
    CANON_ERR("[", 1, ETRUNCATED);
    CANON_ERR("[1", 2, ETRUNCATED);
    CANON_ERR("{", 1, ETRUNCATED);
    CANON_ERR("{\"a\":1", 6, ETRUNCATED);
    CANON_ERR("[1}", 2, ESYNTAX);
    CANON_ERR("{\"a\":1]", 6, ESYNTAX);
    CANON_ERR("\"abc", 4, ETRUNCATED);
    CANON_ERR("\"abc\\", 5, ETRUNCATED);
    CANON_ERR("1\0", 1, ETRAILING);
    CANON_ERR("[1]\0", 3, ETRAILING);
    /* control characters in strings */
    CANON_ERR("\"a\tb\"", 2, ECONTROL);
    CANON_ERR("\"a\nb\"", 2, ECONTROL);
    CANON_ERR("\"\x01\"", 1, ECONTROL);
    CANON_ERR("{\"\x1f\":1}", 2, ECONTROL);
    CANON_ERR("[\"\0\"]", 2, ECONTROL);
    /* bad escapes */
    CANON_ERR("\"\\x\"", 2, EESCAPE);
    CANON_ERR("\"\\U0041\"", 2, EESCAPE);
    CANON_ERR("\"\\u12g4\"", 5, EESCAPE);
    CANON_ERR("\"\\u12\"", 5, EESCAPE);
    CANON_ERR("\"\\'\"", 2, EESCAPE);
    /* invalid UTF-8, at the first byte of the ill-formed sequence */
    CANON_ERR("\"\x80\"", 1, EUTF8);                 /* a lone continuation byte */
    CANON_ERR("\"\xc0\xaf\"", 1, EUTF8);             /* overlong '/' */
    CANON_ERR("\"\xc1\xbf\"", 1, EUTF8);             /* overlong */
    CANON_ERR("\"\xe0\x80\xaf\"", 1, EUTF8);         /* overlong, 3 bytes */
    CANON_ERR("\"\xf0\x80\x80\xaf\"", 1, EUTF8);     /* overlong, 4 bytes */
    CANON_ERR("\"\xed\xa0\x80\"", 1, EUTF8);         /* U+D800 encoded in UTF-8 */
    CANON_ERR("\"\xed\xbf\xbf\"", 1, EUTF8);         /* U+DFFF encoded in UTF-8 */
    CANON_ERR("\"\xf4\x90\x80\x80\"", 1, EUTF8);     /* U+110000 */
    CANON_ERR("\"\xf5\x80\x80\x80\"", 1, EUTF8);
    CANON_ERR("\"\xff\"", 1, EUTF8);
    CANON_ERR("\"ab\xe2\x82\"", 3, EUTF8);           /* truncated by the closing quote */
    CANON_ERR("\"ab\xe2\x82", 3, EUTF8);             /* truncated by the end */
    CANON_ERR("\"\xc3\"", 1, EUTF8);
    CANON_ERR("\"ok \xc3\xa9 \xe2\x28\xa1\"", 7, EUTF8);
    CANON_ERR("{\"\xc3\xa9\":1,\"\xc3\":2}", 9, EUTF8);
    CANON_ERR("[\xc3\xa9]", 1, ESYNTAX);               /* non-ASCII outside a string */
    CANON_ERR("\xff", 0, EUTF8);                      /* ... and not even UTF-8 */
    CANON_ERR("[1,\xe2\x82]", 3, EUTF8);
    CANON_ERR("\xef\xbb\xbf", 0, EBOM);                /* a BOM alone */
    CANON_ERR("\xef\xbb\xbf ", 0, EBOM);
    CANON_ERR(" \xef\xbb\xbf{}", 1, ESYNTAX);           /* U+FEFF later is just a wrong character */
    /* lone surrogates, at the backslash of the offending escape */
    CANON_ERR("\"\\ud800\"", 1, ESURROGATE);
    CANON_ERR("\"\\udc00\"", 1, ESURROGATE);
    CANON_ERR("\"\\ud800\\u0041\"", 1, ESURROGATE);
    CANON_ERR("\"x\\uDBFF\"", 2, ESURROGATE);
    CANON_ERR("\"\\ud800\\ud800\"", 1, ESURROGATE);
    CANON_ERR("\"\\ude00\\ud83d\"", 1, ESURROGATE);       /* a pair in the wrong order */
    CANON_ERR("\"\\ud83d\\", 1, ESURROGATE);
    /* duplicate names, at the opening quote of the later one */
    CANON_ERR("{\"a\":1,\"a\":2}", 7, EDUPLICATE);
    CANON_ERR("{\"a\":1,\"\\u0061\":2}", 7, EDUPLICATE);
    CANON_ERR("{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", 18, EDUPLICATE);
    CANON_ERR("{\"\xc3\xa9\":1,\"\\u00e9\":2}", 8, EDUPLICATE);
    CANON_ERR("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", 18, EDUPLICATE);
    CANON_ERR("{\"b\":1,\"a\":1,\"b\":2,\"a\":2}", 13, EDUPLICATE);
    CANON_ERR("[{}, {\"\":1, \"\":2}]", 12, EDUPLICATE);
    /* numbers that overflow, at the first byte of the number */
    CANON_ERR("1e400", 0, ERANGE);
    CANON_ERR("[1e400]", 1, ERANGE);
    CANON_ERR("{\"t\": -1e400}", 6, ERANGE);
    CANON_ERR("[1.7976931348623159e308]", 1, ERANGE);
    CANON("[1e-400,-1e-400]", "[0,0]");

    /* depth: 256 levels are fine, 257 are not */
    deep = (char *)malloc(200001);
    CHECK(deep != NULL);
    if (!deep) return;
    for (n = 256, i = 0; i < n; i++) { deep[i] = '['; deep[2 * n - 1 - i] = ']'; }
    {
        char *out = NULL;
        size_t out_len = 0;
        CHECK_EQ(llmcache_canonicalize(deep, 2 * n, &out, &out_len), LLMCACHE_OK);
        CHECK_MEM(out, out_len, deep, 2 * n);
        llmcache_free(out);
    }
    for (n = 257, i = 0; i < n; i++) { deep[i] = '['; deep[2 * n - 1 - i] = ']'; }
    canon_err_at(deep, 2 * n, 256, LLMCACHE_JSON_EDEPTH, __LINE__);
    for (n = 257, i = 0; i < n; i++) { memcpy(deep + 5 * i, "{\"a\":", 5); deep[5 * n + 1 + i] = '}'; }
    deep[5 * n] = '1';
    canon_err_at(deep, 6 * n + 1, 5 * 256, LLMCACHE_JSON_EDEPTH, __LINE__);
    {   /* the same with 256 objects is fine */
        char *out = NULL;
        size_t out_len = 0;
        memmove(deep, deep + 5, 6 * n - 5);   /* drops one "{\"a\":" and one '}' */
        CHECK_EQ(llmcache_canonicalize(deep, 6 * n - 5, &out, &out_len), LLMCACHE_OK);
        CHECK_MEM(out, out_len, deep, 6 * n - 5);
        llmcache_free(out);
    }
    /* 100000 levels: an error, not a stack overflow */
    memset(deep, '[', 100000);
    canon_err_at(deep, 100000, 256, LLMCACHE_JSON_EDEPTH, __LINE__);
    memset(deep, '[', 200000);
    for (i = 0; i < 200000; i += 2) deep[i + 1] = ' ';
    canon_err_at(deep, 200000, 512, LLMCACHE_JSON_EDEPTH, __LINE__);
    free(deep);

    {   /* error offsets are NOT touched with NULL, and out stays NULL */
        char *out = (char *)"x";
        CHECK_EQ(llmcache_canonicalize("[1,]", 4, &out, NULL), LLMCACHE_EINVAL);
        CHECK(out == NULL);
        CHECK_EQ(llmcache_canonicalize_err("[1,]", 4, &out, NULL, NULL), LLMCACHE_EINVAL);
        CHECK(out == NULL);
    }
    {   /* success and errors other than refused JSON leave the reason "no JSON error" */
        llmcache_json_error err;
        char *out = NULL;
        err.offset = 9; err.code = 9; err.reason = NULL;
        CHECK_EQ(llmcache_canonicalize_err("[1]", 3, &out, NULL, &err), LLMCACHE_OK);
        CHECK(err.offset == 0 && err.code == LLMCACHE_JSON_OK && err.reason != NULL);
        llmcache_free(out);
        err.code = 9;
        CHECK_EQ(llmcache_canonicalize_err("[1]", 3, NULL, NULL, &err), LLMCACHE_EINVAL);
        CHECK(err.code == LLMCACHE_JSON_OK && err.reason != NULL);
    }
    {   /* every code has its own text */
        int a, b;
        for (a = LLMCACHE_JSON_OK; a <= LLMCACHE_JSON_EDEPTH; a++)
            for (b = a + 1; b <= LLMCACHE_JSON_EDEPTH + 1; b++)
                CHECK_MSG(strcmp(llmcache_json_error_string(a), llmcache_json_error_string(b)) != 0, "%d %d", a, b);
        CHECK_STR(llmcache_json_error_string(LLMCACHE_JSON_EDUPLICATE), "duplicate member name");
        CHECK(llmcache_json_error_string(-5) != NULL);
    }
}

/* ---- valid documents, by hand --------------------------------------------------- */

static void test_valid(void) {
    CANON("{}", "{}");
    CANON("[]", "[]");
    CANON(" { } ", "{}");
    CANON("[ ]", "[]");
    CANON("\"\"", "\"\"");
    CANON("0", "0");
    CANON("-0", "0");
    CANON("true", "true");
    CANON(" null\n", "null");
    CANON("\t[\r\n1 ,\n 2\t]\n", "[1,2]");
    CANON("{\"b\":2,\"a\":1,\"c\":{\"z\":[],\"y\":{}}}", "{\"a\":1,\"b\":2,\"c\":{\"y\":{},\"z\":[]}}");
    /* escapes: short forms, \u00xx lowercase for the other controls, the rest literal */
    CANON("\"\\u0000\\u0001\\u001F\\u001f\\b\\f\\n\\r\\t\\\"\\\\\\/\\u007f\\u2028\"",
          "\"\\u0000\\u0001\\u001f\\u001f\\b\\f\\n\\r\\t\\\"\\\\/\x7f\xe2\x80\xa8\"");
    CANON("\"\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\\udbff\\udfff\"",
          "\"A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"");
    CANON("\"\xef\xbb\xbf\"", "\"\xef\xbb\xbf\"");       /* U+FEFF inside a string is fine */
    CANON("\"\x7f\"", "\"\x7f\"");
    /* sorting: U+E000..U+FFFF after the surrogate pairs of U+10000.. */
    CANON("{\"\xef\xbf\xbf\":1,\"\xf0\x90\x80\x80\":2,\"\xee\x80\x80\":3,\"\xed\x9f\xbf\":4}",
          "{\"\xed\x9f\xbf\":4,\"\xf0\x90\x80\x80\":2,\"\xee\x80\x80\":3,\"\xef\xbf\xbf\":1}");
    CANON("{\"ab\":1,\"a\":2,\"\":3,\"a\\u0000\":4,\"A\":5}",
          "{\"\":3,\"A\":5,\"a\":2,\"a\\u0000\":4,\"ab\":1}");
    CANON("{\"10\":1,\"2\":2,\"1\":3}", "{\"1\":3,\"10\":1,\"2\":2}");
    /* numbers */
    CANON("[1E30,4.50,2e-3,0.000000000000000000000000001,1e21,1e20,-1.5E-7,0.1e1,100e-2]",
          "[1e+30,4.5,0.002,1e-27,1e+21,100000000000000000000,-1.5e-7,1,1]");
    {   /* a large object, shuffled names: sorted, no false duplicates */
        char *doc = (char *)malloc(20 * 6000 + 2), *want = (char *)malloc(20 * 6000 + 2);
        size_t n = 0, w = 0;
        int i;
        CHECK(doc && want);
        if (doc && want) {
            doc[n++] = '{'; want[w++] = '{';
            for (i = 0; i < 5000; i++) {
                int k = (i * 2741) % 5000;   /* a permutation of 0..4999 */
                n += (size_t)sprintf(doc + n, "%s\"k%05d\":%d", i ? "," : "", k, k);
                w += (size_t)sprintf(want + w, "%s\"k%05d\":%d", i ? "," : "", i, i);
            }
            doc[n++] = '}'; want[w++] = '}'; want[w] = '\0';
            canon_is(doc, n, want);
            /* and one duplicate among them */
            memcpy(doc + 1 + 1 + 1, "02741", 5);   /* the first name becomes the second's */
            {
                char *out;
                size_t off = 0;
                CHECK_EQ(llmcache_canonicalize_ex(doc, n, &out, NULL, &off), LLMCACHE_EINVAL);
                CHECK_EQ(off, 12);
            }
        }
        free(doc);
        free(want);
    }
}

/* ---- the DOM accessors --------------------------------------------------------------- */

static void test_dom(void) {
    static const char doc[] =
        "{\"id\":\"chatcmpl-1\",\"choices\":[{\"message\":{\"content\":\"a\\u0000b\"}}],"
        "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7.5},\"ok\":true,\"none\":null}";
    llmcache__jdoc jd;
    const llmcache__jv *root = NULL, *usage, *v;
    llmcache_json_error err;
    size_t n = 0;
    const char *s;
    CHECK_EQ(llmcache__json_parse(doc, sizeof doc - 1, &jd, &root, &err), LLMCACHE_OK);
    CHECK(root != NULL);
    CHECK_EQ(llmcache__json_type(root), LLMCACHE__JOBJ);
    CHECK_EQ(llmcache__json_len(root), 5);
    usage = llmcache__json_get(root, "usage");
    CHECK_EQ(llmcache__json_type(usage), LLMCACHE__JOBJ);
    CHECK(llmcache__json_num(llmcache__json_get(usage, "prompt_tokens")) == 12.0);
    CHECK(llmcache__json_num(llmcache__json_get(usage, "completion_tokens")) == 7.5);
    CHECK(llmcache__json_get(usage, "total_tokens") == NULL);
    CHECK(llmcache__json_get(root, "") == NULL);
    CHECK(llmcache__json_get(llmcache__json_get(root, "id"), "x") == NULL);
    CHECK_EQ(llmcache__json_type(llmcache__json_get(root, "nope")), -1);
    CHECK_EQ(llmcache__json_type(llmcache__json_get(root, "ok")), LLMCACHE__JTRUE);
    CHECK_EQ(llmcache__json_type(llmcache__json_get(root, "none")), LLMCACHE__JNULL);
    s = llmcache__json_str(llmcache__json_get(root, "id"), &n);
    CHECK(s != NULL && n == 10 && strcmp(s, "chatcmpl-1") == 0);
    v = llmcache__json_get(root, "choices");
    CHECK_EQ(llmcache__json_type(v), LLMCACHE__JARR);
    CHECK_EQ(llmcache__json_len(v), 1);
    CHECK(llmcache__json_at(v, 1) == NULL);
    v = llmcache__json_get(llmcache__json_get(llmcache__json_at(v, 0), "message"), "content");
    s = llmcache__json_str(v, &n);
    CHECK(s != NULL && n == 3 && memcmp(s, "a\0b", 4) == 0);
    CHECK(llmcache__json_str(usage, &n) == NULL && n == 0);
    CHECK(llmcache__json_num(v) == 0.0);
    CHECK(llmcache__json_at(root, 0) == NULL);
    CHECK(llmcache__json_get(NULL, "a") == NULL);
    {   /* members come in name order */
        const char *name = NULL;
        size_t name_len = 0;
        v = llmcache__json_member(root, 0, &name, &name_len);
        CHECK(v != NULL && name_len == 7 && memcmp(name, "choices", 7) == 0);
        CHECK(llmcache__json_member(root, 5, &name, &name_len) == NULL);
    }
    llmcache__json_free(&jd);
    llmcache__json_free(&jd);   /* twice is harmless */
    CHECK_EQ(llmcache__json_parse("[1,", 3, &jd, &root, &err), LLMCACHE_EINVAL);
    CHECK_EQ(err.offset, 3);
    CHECK_EQ(err.code, LLMCACHE_JSON_ETRUNCATED);
    CHECK(root == NULL);
    llmcache__json_free(&jd);
}

/* ---- out of memory ------------------------------------------------------------------ */

/* Every allocation failing in turn gives LLMCACHE_ENOMEM (and, under the
   sanitizers, no leak); with enough of them the result is right. */
static void test_oom(void) {
    char *doc = (char *)malloc(64 * 1024), *want = (char *)malloc(64 * 1024), *out = NULL;
    size_t n = 0, w = 0, out_len = 0;
    long budget;
    int i, rc = LLMCACHE_ENOMEM, enomem = 0;
    CHECK(doc && want);
    if (!doc || !want) { free(doc); free(want); return; }
    n += (size_t)sprintf(doc + n, "{\"z\":[");
    for (i = 0; i < 300; i++) n += (size_t)sprintf(doc + n, "%s[%d.5,\"s\\n%d\",{\"b\":1,\"a\":[]}]", i ? "," : "", i, i);
    n += (size_t)sprintf(doc + n, "],\"m\":{");
    for (i = 0; i < 200; i++) n += (size_t)sprintf(doc + n, "%s\"k%03d\":%d", i ? "," : "", 199 - i, i);
    n += (size_t)sprintf(doc + n, "}}");
    w += (size_t)sprintf(want + w, "{\"m\":{");
    for (i = 0; i < 200; i++) w += (size_t)sprintf(want + w, "%s\"k%03d\":%d", i ? "," : "", i, 199 - i);
    w += (size_t)sprintf(want + w, "},\"z\":[");
    for (i = 0; i < 300; i++) w += (size_t)sprintf(want + w, "%s[%d.5,\"s\\n%d\",{\"a\":[],\"b\":1}]", i ? "," : "", i, i);
    w += (size_t)sprintf(want + w, "]}");
    for (budget = 0; budget < 200; budget++) {
        test_alloc_budget = budget;
        rc = llmcache_canonicalize(doc, n, &out, &out_len);
        test_alloc_budget = -1;
        if (rc != LLMCACHE_ENOMEM) break;
        enomem++;
        CHECK(out == NULL);
    }
    printf("out of memory: %d failing allocations tried\n", enomem);
    CHECK(enomem >= 5);
    CHECK_EQ(rc, LLMCACHE_OK);
    if (rc == LLMCACHE_OK) CHECK_MEM(out, out_len, want, w);
    llmcache_free(out);
    {   /* the DOM parser too */
        llmcache__jdoc jd;
        const llmcache__jv *root;
        int fails = 0;
        for (budget = 0; budget < 200; budget++) {
            test_alloc_budget = budget;
            rc = llmcache__json_parse(doc, n, &jd, &root, NULL);
            test_alloc_budget = -1;
            llmcache__json_free(&jd);
            if (rc != LLMCACHE_ENOMEM) break;
            fails++;
        }
        CHECK(fails >= 3);
        CHECK_EQ(rc, LLMCACHE_OK);
    }
    free(doc);
    free(want);
}

/* ---- locale independence ------------------------------------------------------------ */

static void test_locale(void) {
    static const char *const names[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "C.UTF-8" };
    const char *used = NULL;
    size_t i;
    double d = 0;
    for (i = 0; i < sizeof names / sizeof names[0] && !used; i++)
        if (setlocale(LC_ALL, names[i])) used = names[i];
    if (used) {
        const char *dp = localeconv()->decimal_point;
        printf("locale: %s (decimal point \"%s\")\n", used, dp);
    }
    if (!used || !strcmp(localeconv()->decimal_point, "."))
        printf("locale: checked in %s only\nskipped: test_canon in a decimal-comma locale (needs locales: de_DE.UTF-8)\n",
               used ? used : "the default locale");
    CANON("[0.5,-1.25E2,1.5e-7,1e21,3.14159,{\"t\":0.7}]", "[0.5,-125,1.5e-7,1e+21,3.14159,{\"t\":0.7}]");
    CHECK_EQ(llmcache__json_parse_num("0.5", 3, &d), 0);
    CHECK(d == 0.5);
    CHECK_EQ(llmcache__json_parse_num("0,5", 3, &d), -1);
    FMT_IS(1234.5678, "1234.5678");
    FMT_IS(1e-7 * 3, "3e-7");
    setlocale(LC_ALL, "C");
}

int main(void) {
    test_rfc8785_examples();
    test_rfc8785_appendix_b();
    test_numbers();
    test_number_file();
    test_canon_file();
    test_errors();
    test_valid();
    test_dom();
    test_oom();
    test_locale();
    return TEST_REPORT();
}
