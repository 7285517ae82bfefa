/* >>json (RFC 8259 parser, I-JSON checks, RFC 8785 serializer) ------------------
 * A section of llmcache.h's implementation: it follows llmcache__buf and the
 * allocator macros.
 *
 * llmcache__json_parse builds a read-only DOM in an arena owned by a
 * llmcache__jdoc: strings are decoded into one block as large as the input (a
 * decoded string is never longer than its source), nodes go into chunks that
 * double in size, and the members of each object are merge-sorted by their
 * names as UTF-16 code units when the object closes, so that duplicates sit side
 * by side and the serializer writes them in order. llmcache__jcs is parse plus
 * serialize. Numbers convert without the C library, so no locale applies:
 * decimal -> double is Clinger's exact fast path, else a double approximation
 * corrected by exact big-integer comparisons with the halfway points; double ->
 * shortest is a 15-digit exact fast path, else Burger & Dybvig with big integers.
 * Recursion is bounded by LLMCACHE_MAX_DEPTH (one small frame per level).
 *
 * Error offsets: the first byte where the text stops being a prefix of valid
 * JSON; an ill-formed UTF-8 sequence, a lone surrogate escape or a number that
 * overflows is reported at its first byte; a duplicate name at the opening quote
 * of its later occurrence (found when its object closes, so a syntax error
 * inside that object is reported first). */
#include <float.h>

typedef char llmcache__json_ieee_double[sizeof(double) == 8 && DBL_MANT_DIG == 53 ? 1 : -1];

/* The exact fast paths need double arithmetic without excess precision
   (tests define LLMCACHE__JSON_FAST 0 to check the slow paths alone). */
#ifndef LLMCACHE__JSON_FAST
#  if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0 && !defined(__FAST_MATH__)
#    define LLMCACHE__JSON_FAST 1
#  else
#    define LLMCACHE__JSON_FAST 0
#  endif
#endif

enum { LLMCACHE__JNULL, LLMCACHE__JFALSE, LLMCACHE__JTRUE, LLMCACHE__JNUM, LLMCACHE__JSTR,
       LLMCACHE__JARR, LLMCACHE__JOBJ };

typedef struct llmcache__jv llmcache__jv;
typedef struct llmcache__jmem llmcache__jmem;

/* A value. Strings are decoded UTF-8 followed by a NUL (they may hold NULs). */
struct llmcache__jv {
    unsigned char type;  /* LLMCACHE__J* */
    unsigned char esc;   /* JSTR: holds '"', '\\' or a control character */
    size_t n;            /* JSTR: bytes; JARR: items; JOBJ: members */
    union { double num; const char *str; const llmcache__jv *items; const llmcache__jmem *mems; } u;
};

/* An object member; an object's members are sorted by name (UTF-16 order). */
struct llmcache__jmem {
    llmcache__jv name;   /* a JSTR */
    llmcache__jv val;
    size_t off;          /* offset of the name's opening quote in the source */
};

typedef struct llmcache__jchunk { struct llmcache__jchunk *next; size_t cap, used; } llmcache__jchunk;
#define LLMCACHE__JCHUNK_HDR ((sizeof(llmcache__jchunk) + 15u) & ~(size_t)15u)

/* Owns every node and string of a parsed document. */
typedef struct llmcache__jdoc {
    llmcache__jchunk *chunks; /* newest first; allocation goes into the first */
    size_t grow;              /* capacity of the next chunk */
} llmcache__jdoc;

static void llmcache__json_free(llmcache__jdoc *doc) {
    llmcache__jchunk *c = doc->chunks, *next;
    for (; c; c = next) { next = c->next; LLMCACHE_FREE(c); }
    doc->chunks = NULL;
    doc->grow = 0;
}

/* size bytes, 8-aligned, from the arena; NULL when out of memory. */
static void *llmcache__json_alloc(llmcache__jdoc *doc, size_t size) {
    llmcache__jchunk *c = doc->chunks;
    size = (size + 7u) & ~(size_t)7u;
    if (size == 0) size = 8;
    if (!c || c->cap - c->used < size) {
        size_t cap = doc->grow > size ? doc->grow : size;
        if (cap > (size_t)-1 - LLMCACHE__JCHUNK_HDR) return NULL;
        c = (llmcache__jchunk *)LLMCACHE_MALLOC(LLMCACHE__JCHUNK_HDR + cap);
        if (!c) return NULL;
        c->cap = cap; c->used = 0;
        c->next = doc->chunks; doc->chunks = c;
        doc->grow = cap > (size_t)-1 / 4 ? cap : cap * 2;
    }
    c->used += size;
    return (char *)c + LLMCACHE__JCHUNK_HDR + c->used - size;
}

/* ---- big integers, for exact number conversion --------------------------- */
#define LLMCACHE__JBIGW 128  /* 4096 bits: the largest product needed is ~2700 bits */
typedef struct llmcache__jbig { uint32_t w[LLMCACHE__JBIGW]; size_t n; } llmcache__jbig;

static void llmcache__jbig_set(llmcache__jbig *b, uint64_t v) {
    b->w[0] = (uint32_t)v;
    b->w[1] = (uint32_t)(v >> 32);
    b->n = (v >> 32) ? 2 : v ? 1 : 0;
}
static void llmcache__jbig_copy(llmcache__jbig *d, const llmcache__jbig *s) {
    memcpy(d->w, s->w, s->n * sizeof s->w[0]);
    d->n = s->n;
}
static void llmcache__jbig_push(llmcache__jbig *b, uint32_t w) {
    LLMCACHE_ASSERT(b->n < LLMCACHE__JBIGW);
    if (b->n < LLMCACHE__JBIGW) b->w[b->n++] = w;
}
/* b = b * m + a */
static void llmcache__jbig_muladd(llmcache__jbig *b, uint32_t m, uint32_t a) {
    uint64_t carry = a;
    size_t i;
    for (i = 0; i < b->n; i++) {
        uint64_t t = (uint64_t)b->w[i] * m + carry;
        b->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry) llmcache__jbig_push(b, (uint32_t)carry);
}
static void llmcache__jbig_shl(llmcache__jbig *b, size_t bits) {
    size_t words = bits / 32, sh = bits % 32, n = b->n, i;
    if (n == 0) return;
    LLMCACHE_ASSERT(n + words < LLMCACHE__JBIGW);
    if (n + words >= LLMCACHE__JBIGW) { b->n = 0; return; }
    if (sh) {
        uint32_t top = b->w[n - 1] >> (32 - sh);
        for (i = n - 1; i > 0; i--) b->w[i + words] = (b->w[i] << sh) | (b->w[i - 1] >> (32 - sh));
        b->w[words] = b->w[0] << sh;
        b->n = n + words;
        if (top) b->w[b->n++] = top;
    } else {
        memmove(b->w + words, b->w, n * sizeof b->w[0]);
        b->n = n + words;
    }
    memset(b->w, 0, words * sizeof b->w[0]);
}
static int llmcache__jbig_cmp(const llmcache__jbig *a, const llmcache__jbig *b) {
    size_t i;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (i = a->n; i-- > 0;)
        if (a->w[i] != b->w[i]) return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}
/* b += a */
static void llmcache__jbig_add(llmcache__jbig *b, const llmcache__jbig *a) {
    size_t i, n = a->n > b->n ? a->n : b->n;
    uint64_t carry = 0;
    for (i = 0; i < n; i++) {
        uint64_t t = carry + (i < b->n ? b->w[i] : 0) + (i < a->n ? a->w[i] : 0);
        b->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    b->n = n;
    if (carry) llmcache__jbig_push(b, (uint32_t)carry);
}
/* b -= a, where b >= a */
static void llmcache__jbig_sub(llmcache__jbig *b, const llmcache__jbig *a) {
    size_t i;
    uint64_t borrow = 0;
    for (i = 0; i < b->n; i++) {
        uint64_t t = (uint64_t)b->w[i] - (i < a->n ? a->w[i] : 0) - borrow;
        b->w[i] = (uint32_t)t;
        borrow = (t >> 32) ? 1 : 0;
    }
    while (b->n && b->w[b->n - 1] == 0) b->n--;
}
static void llmcache__jbig_mul64(llmcache__jbig *b, uint64_t m) {
    llmcache__jbig hi;
    if ((m >> 32) == 0) { llmcache__jbig_muladd(b, (uint32_t)m, 0); return; }
    llmcache__jbig_copy(&hi, b);
    llmcache__jbig_muladd(&hi, (uint32_t)(m >> 32), 0);
    llmcache__jbig_shl(&hi, 32);
    llmcache__jbig_muladd(b, (uint32_t)m, 0);
    llmcache__jbig_add(b, &hi);
}
static void llmcache__jbig_pow5(llmcache__jbig *b, int64_t e) {
    static const uint32_t p5[13] = { 1u, 5u, 25u, 125u, 625u, 3125u, 15625u, 78125u, 390625u,
                                     1953125u, 9765625u, 48828125u, 244140625u };
    for (; e >= 13; e -= 13) llmcache__jbig_muladd(b, 1220703125u, 0);
    if (e > 0) llmcache__jbig_muladd(b, p5[e], 0);
}
static void llmcache__jbig_pow10(llmcache__jbig *b, int64_t e) {
    llmcache__jbig_pow5(b, e);
    llmcache__jbig_shl(b, (size_t)e);
}

/* ---- decimal -> double ------------------------------------------------------ */
static const double llmcache__json_p10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

#define LLMCACHE__JSON_MAXDIG 800    /* more than the 767 a halfway point can need */
#define LLMCACHE__JSON_DBL_MAX_BITS 0x7fefffffffffffffu

static uint64_t llmcache__json_bits(double d) { uint64_t u; memcpy(&u, &d, sizeof u); return u; }
static double llmcache__json_double(uint64_t u) { double d; memcpy(&d, &u, sizeof d); return d; }

/* Compares V = D * 10^e with c * 2^p (-1, 0, 1), where x = D * 5^max(e,0) and
   y5 = 5^max(-e,0): both sides times 5^max(-e,0) are x * 2^e and c * y5 * 2^p. */
static int llmcache__json_cmp_mid(const llmcache__jbig *x, const llmcache__jbig *y5, int64_t e,
                                  uint64_t c, int p) {
    llmcache__jbig l, r;
    int64_t t = e - p;
    llmcache__jbig_copy(&l, x);
    llmcache__jbig_copy(&r, y5);
    llmcache__jbig_mul64(&r, c);
    if (t > 0) llmcache__jbig_shl(&l, (size_t)t);
    else llmcache__jbig_shl(&r, (size_t)-t);
    return llmcache__jbig_cmp(&l, &r);
}

/* The double nearest to the significant digits in s[i0..i1) ++ s[f0..f1) times
   10^(k - number of digits) (ties to even), starting from the guess approx.
   Returns 0, or 2 on overflow. */
static int llmcache__json_num_slow(const char *s, size_t i0, size_t i1, size_t f0, size_t f1,
                                   int64_t k, double approx, uint64_t *bits) {
    llmcache__jbig x, y5;
    size_t i, nd = 0;
    uint32_t chunk = 0, mul = 1;
    int sticky = 0, pass;
    int64_t e;
    uint64_t u;
    x.n = 0;
    for (pass = 0; pass < 2; pass++) {
        size_t a = pass ? f0 : i0, b = pass ? f1 : i1;
        for (i = a; i < b; i++) {
            uint32_t d = (uint32_t)(s[i] - '0');
            if (nd == 0 && d == 0) continue;
            if (nd == LLMCACHE__JSON_MAXDIG) { if (d) sticky = 1; continue; }
            chunk = chunk * 10 + d; mul *= 10; nd++;
            if (mul == 1000000000u) { llmcache__jbig_muladd(&x, mul, chunk); chunk = 0; mul = 1; }
        }
    }
    if (sticky) { chunk = chunk * 10 + 1; mul *= 10; nd++; }
    if (mul > 1) llmcache__jbig_muladd(&x, mul, chunk);
    e = k - (int64_t)nd;
    llmcache__jbig_set(&y5, 1);
    if (e > 0) llmcache__jbig_pow5(&x, e);
    else llmcache__jbig_pow5(&y5, -e);

    u = approx <= DBL_MAX ? llmcache__json_bits(approx) : (uint64_t)LLMCACHE__JSON_DBL_MAX_BITS;
    for (;;) {
        int be = (int)(u >> 52), c;
        uint64_t frac = u & (((uint64_t)1 << 52) - 1);
        uint64_t m = be ? frac | ((uint64_t)1 << 52) : frac;
        int e2 = be ? be - 1075 : -1074;
        c = llmcache__json_cmp_mid(&x, &y5, e, 2 * m + 1, e2 - 1);
        if (c > 0 || (c == 0 && (m & 1))) {
            if (u == LLMCACHE__JSON_DBL_MAX_BITS) return 2;
            u++;
            continue;
        }
        if (u == 0) break;
        if (frac == 0 && be > 1) c = llmcache__json_cmp_mid(&x, &y5, e, 4 * m - 1, e2 - 2);
        else c = llmcache__json_cmp_mid(&x, &y5, e, 2 * m - 1, e2 - 1);
        if (c < 0 || (c == 0 && (m & 1))) { u--; continue; }
        break;
    }
    *bits = u;
    return 0;
}

static int llmcache__json_isdigit(char c) { return c >= '0' && c <= '9'; }

/* Scans an RFC 8259 number at the start of s[0..n) and converts it, correctly
   rounded. Returns 0 with *used = the token's length, 1 when malformed (*used =
   offset of the offending byte), 2 when it overflows a double. */
static int llmcache__json_scan_num(const char *s, size_t n, size_t *used, double *out) {
    size_t i = 0, i0, i1, f0, f1;
    int neg = 0, cnt = 0, trunc = 0, pass;
    int64_t ex = 0, e10, k;
    uint64_t mant = 0;
    double v;
    if (i < n && s[i] == '-') { neg = 1; i++; }
    i0 = i;
    if (i >= n || !llmcache__json_isdigit(s[i])) { *used = i; return 1; }
    if (s[i] == '0') i++;
    else while (i < n && llmcache__json_isdigit(s[i])) i++;
    i1 = f0 = f1 = i;
    if (i < n && s[i] == '.') {
        f0 = ++i;
        if (i >= n || !llmcache__json_isdigit(s[i])) { *used = i; return 1; }
        while (i < n && llmcache__json_isdigit(s[i])) i++;
        f1 = i;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        if (i >= n || !llmcache__json_isdigit(s[i])) { *used = i; return 1; }
        for (; i < n && llmcache__json_isdigit(s[i]); i++)
            if (ex < ((int64_t)1 << 50)) ex = ex * 10 + (s[i] - '0');
        if (eneg) ex = -ex;
    }
    *used = i;

    /* mant = the first 19 significant digits, value ~ mant * 10^e10 */
    e10 = ex;
    for (pass = 0; pass < 2; pass++) {
        size_t a = pass ? f0 : i0, b = pass ? f1 : i1, j;
        for (j = a; j < b; j++) {
            int d = s[j] - '0';
            if (cnt < 19) {
                if (cnt || d) { mant = mant * 10 + (uint64_t)d; cnt++; }
                if (pass) e10--;
            } else {
                if (!pass) e10++;
                if (d) trunc = 1;
            }
        }
    }
    k = e10 + cnt;  /* 10^(k-1) <= value < 10^k */
    if (cnt == 0 || k <= -324) v = 0.0;
    else if (k >= 310) return 2;
    else {
        (void)trunc;
#if LLMCACHE__JSON_FAST
        if (!trunc && mant <= ((uint64_t)1 << 53)) {
            if (e10 >= 0 && e10 <= 22) {
                *out = (neg ? -1.0 : 1.0) * ((double)mant * llmcache__json_p10[e10]);
                return 0;
            }
            if (e10 < 0 && e10 >= -22) {
                *out = (neg ? -1.0 : 1.0) * ((double)mant / llmcache__json_p10[-e10]);
                return 0;
            }
            if (e10 > 22 && e10 <= 22 + 15) {
                uint64_t p = 1;
                int64_t j;
                for (j = 22; j < e10; j++) p *= 10;
                if (mant <= ((uint64_t)1 << 53) / p) {
                    *out = (neg ? -1.0 : 1.0) * ((double)(mant * p) * 1e22);
                    return 0;
                }
            }
        }
#endif
        {
            double a = (double)mant;
            int64_t e = e10;
            uint64_t u;
            for (; e > 22; e -= 22) a *= 1e22;
            for (; e < -22; e += 22) a /= 1e22;
            a = e >= 0 ? a * llmcache__json_p10[e] : a / llmcache__json_p10[-e];
            if (llmcache__json_num_slow(s, i0, i1, f0, f1, k, a, &u)) return 2;
            v = llmcache__json_double(u);
        }
    }
    *out = neg ? -v : v;
    return 0;
}

/* Correctly rounded decimal -> double of the RFC 8259 number token s[0..n);
   0 on success, -1 if malformed or it overflows to infinity. */
static LLMCACHE__MAYBE_UNUSED int llmcache__json_parse_num(const char *s, size_t n, double *out) {
    size_t used;
    double v;
    if (llmcache__json_scan_num(s, n, &used, &v) != 0 || used != n) return -1;
    *out = v;
    return 0;
}

/* ---- double -> shortest decimal (ECMAScript Number::toString) -------------- */

/* Writes the decimal digits of v (no leading zeros, v > 0); returns their count. */
static int llmcache__json_u64_digits(uint64_t v, char *dig) {
    char tmp[20];
    int n = 0, i;
    do { tmp[n++] = (char)('0' + (int)(v % 10)); v /= 10; } while (v);
    for (i = 0; i < n; i++) dig[i] = tmp[n - 1 - i];
    return n;
}

#if LLMCACHE__JSON_FAST
/* Exact when x has a representation of at most 15 significant digits (most
   numbers written by people): finds it with one multiply and checks it with one
   correctly rounded division. Returns the digit count, or 0 to fall back. */
static int llmcache__json_short15(double x, int etop, char *dig, int *k) {
    int e10 = etop >= 0 ? (etop * 78913) >> 18 : -((-etop * 78913 + 262143) >> 18);
    int s = 14 - e10, n, tries;
    double y = 0;
    uint64_t t;
    for (tries = 0; tries < 3; tries++) {
        if (s < -22 || s > 22) return 0;
        y = s >= 0 ? x * llmcache__json_p10[s] : x / llmcache__json_p10[-s];
        if (y >= 1e15) s--;
        else if (y < 1e14) s++;
        else break;
    }
    if (tries == 3) return 0;
    t = (uint64_t)(y + 0.5);
    if ((s >= 0 ? (double)t / llmcache__json_p10[s] : (double)t * llmcache__json_p10[-s]) != x) return 0;
    n = llmcache__json_u64_digits(t, dig);
    *k = n - s;
    while (dig[n - 1] == '0') n--;
    return n;
}
#endif

/* Burger & Dybvig free-format shortest digits of f * 2^e, the closest of the
   shortest when several round-trip (ties to the even digit). */
static int llmcache__json_shortest(uint64_t f, int e, char *dig, int *kout) {
    llmcache__jbig r, s, mp, mm, t;
    int even = (f & 1) == 0, asym = f == ((uint64_t)1 << 52) && e > -1074;
    int etop = e, k, nd = 0;
    uint64_t g;
    for (g = f; g > 1; g >>= 1) etop++;
    if (e >= 0) {
        llmcache__jbig_set(&r, f); llmcache__jbig_shl(&r, (size_t)e + 1 + (size_t)asym);
        llmcache__jbig_set(&s, asym ? 4 : 2);
        llmcache__jbig_set(&mp, 1); llmcache__jbig_shl(&mp, (size_t)e + (size_t)asym);
        llmcache__jbig_set(&mm, 1); llmcache__jbig_shl(&mm, (size_t)e);
    } else {
        llmcache__jbig_set(&r, f); llmcache__jbig_shl(&r, 1 + (size_t)asym);
        llmcache__jbig_set(&s, 1); llmcache__jbig_shl(&s, (size_t)(1 - e) + (size_t)asym);
        llmcache__jbig_set(&mp, asym ? 2 : 1);
        llmcache__jbig_set(&mm, 1);
    }
    /* k ~ ceil(log10(v)); the loops below correct it */
    k = (etop >= 0 ? (etop * 78913) >> 18 : -((-etop * 78913 + 262143) >> 18)) + 1;
    if (k >= 0) llmcache__jbig_pow10(&s, k);
    else {
        llmcache__jbig_pow10(&r, -k); llmcache__jbig_pow10(&mp, -k); llmcache__jbig_pow10(&mm, -k);
    }
    for (;;) {  /* high boundary must be below 10^k (or at it, when excluded) */
        int c;
        llmcache__jbig_copy(&t, &r); llmcache__jbig_add(&t, &mp);
        c = llmcache__jbig_cmp(&t, &s);
        if (even ? c < 0 : c <= 0) break;
        llmcache__jbig_muladd(&s, 10, 0); k++;
    }
    for (;;) {  /* ... and not below 10^(k-1) */
        int c;
        llmcache__jbig_copy(&t, &r); llmcache__jbig_add(&t, &mp); llmcache__jbig_muladd(&t, 10, 0);
        c = llmcache__jbig_cmp(&t, &s);
        if (even ? c >= 0 : c > 0) break;
        llmcache__jbig_muladd(&r, 10, 0); llmcache__jbig_muladd(&mp, 10, 0); llmcache__jbig_muladd(&mm, 10, 0);
        k--;
    }
    for (;;) {
        int d = 0, lo, hi, c;
        llmcache__jbig_muladd(&r, 10, 0); llmcache__jbig_muladd(&mp, 10, 0); llmcache__jbig_muladd(&mm, 10, 0);
        while (llmcache__jbig_cmp(&r, &s) >= 0) { llmcache__jbig_sub(&r, &s); d++; }
        c = llmcache__jbig_cmp(&r, &mm);
        lo = even ? c <= 0 : c < 0;
        llmcache__jbig_copy(&t, &r); llmcache__jbig_add(&t, &mp);
        c = llmcache__jbig_cmp(&t, &s);
        hi = even ? c >= 0 : c > 0;
        if (lo && hi) {  /* both d and d+1 round-trip: the closer one */
            llmcache__jbig_copy(&t, &r); llmcache__jbig_shl(&t, 1);
            c = llmcache__jbig_cmp(&t, &s);
            if (c > 0 || (c == 0 && (d & 1))) d++;
        } else if (hi) d++;
        LLMCACHE_ASSERT(d <= 9 && nd < 18);
        dig[nd++] = (char)('0' + d);
        if (lo || hi || nd >= 18) break;
    }
    *kout = k;
    return nd;
}

/* ES Number::toString of a finite double into out (NUL-terminated); returns
   the length (<= 25). -0 prints "0". */
static size_t llmcache__json_fmt_num(double d, char out[32]) {
    uint64_t u = llmcache__json_bits(d), frac = u & (((uint64_t)1 << 52) - 1);
    int neg = (int)(u >> 63), be = (int)((u >> 52) & 0x7ff), nd = 0, k = 0, i;
    char dig[24];
    size_t o = 0;
    if (be == 0x7ff) {
        const char *w = frac ? "NaN" : neg ? "-Infinity" : "Infinity";
        size_t n = strlen(w);
        memcpy(out, w, n + 1);
        return n;
    }
    if (be == 0 && frac == 0) { out[0] = '0'; out[1] = '\0'; return 1; }
    if (neg) { out[o++] = '-'; d = -d; }
    if (d < 9007199254740992.0 && d == (double)(int64_t)d) {  /* integers below 2^53 */
        o += (size_t)llmcache__json_u64_digits((uint64_t)d, out + o);
        out[o] = '\0';
        return o;
    }
#if LLMCACHE__JSON_FAST
    if (be) nd = llmcache__json_short15(d, be - 1023, dig, &k);
#endif
    if (nd == 0) {
        uint64_t f = be ? frac | ((uint64_t)1 << 52) : frac;
        nd = llmcache__json_shortest(f, be ? be - 1075 : -1074, dig, &k);
    }
    /* value = 0.dig * 10^k; the cases of ES Number::toString */
    if (k >= nd && k <= 21) {
        memcpy(out + o, dig, (size_t)nd); o += (size_t)nd;
        for (i = nd; i < k; i++) out[o++] = '0';
    } else if (k > 0 && k <= 21) {
        memcpy(out + o, dig, (size_t)k); o += (size_t)k;
        out[o++] = '.';
        memcpy(out + o, dig + k, (size_t)(nd - k)); o += (size_t)(nd - k);
    } else if (k > -6 && k <= 0) {
        out[o++] = '0'; out[o++] = '.';
        for (i = k; i < 0; i++) out[o++] = '0';
        memcpy(out + o, dig, (size_t)nd); o += (size_t)nd;
    } else {
        int x = k - 1;
        out[o++] = dig[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, dig + 1, (size_t)(nd - 1)); o += (size_t)(nd - 1);
        }
        out[o++] = 'e';
        out[o++] = x < 0 ? '-' : '+';
        o += (size_t)llmcache__json_u64_digits((uint64_t)(x < 0 ? -x : x), out + o);
    }
    out[o] = '\0';
    return o;
}

/* ---- parser ----------------------------------------------------------------- */
typedef struct llmcache__jparser {
    const unsigned char *s, *p, *end;
    char *sp;                      /* next free byte of the string block */
    llmcache__jdoc *doc;
    llmcache__jmem *stk;           /* pending items and members of open containers */
    size_t stk_n, stk_cap;
    size_t err;                    /* offset of the error */
    llmcache__jmem stk0[32];
} llmcache__jparser;

static int llmcache__json_fail(llmcache__jparser *P, const unsigned char *at) {
    P->err = (size_t)(at - P->s);
    return LLMCACHE_EINVAL;
}

/* Doubles the pending-entry stack (it starts inside the parser). */
static int llmcache__json_grow(llmcache__jparser *P) {
    size_t cap = P->stk_cap * 2;
    llmcache__jmem *ns;
    if (cap > (size_t)-1 / sizeof *ns) return LLMCACHE_ENOMEM;
    if (P->stk == P->stk0) {
        ns = (llmcache__jmem *)LLMCACHE_MALLOC(cap * sizeof *ns);
        if (ns) memcpy(ns, P->stk, P->stk_n * sizeof *ns);
    } else {
        ns = (llmcache__jmem *)LLMCACHE_REALLOC(P->stk, cap * sizeof *ns);
    }
    if (!ns) return LLMCACHE_ENOMEM;
    P->stk = ns;
    P->stk_cap = cap;
    return LLMCACHE_OK;
}
#define LLMCACHE__JSON_PUSH(P, m) \
    ((P)->stk_n < (P)->stk_cap || llmcache__json_grow(P) == LLMCACHE_OK ? ((P)->stk[(P)->stk_n++] = (m), 1) : 0)

static const unsigned char *llmcache__json_ws(const unsigned char *p, const unsigned char *end) {
    while (p < end && *p <= ' ') {
        if (*p == ' ' && end - p >= 8) {  /* indentation, 8 spaces at a time */
            uint64_t w;
            memcpy(&w, p, 8);
            if (w == 0x2020202020202020u) { p += 8; continue; }
        }
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') break;
        p++;
    }
    return p;
}

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t llmcache__json_utf8(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0], lo = 0x80, hi = 0xbf;
    size_t n, i, avail = (size_t)(end - p);
    if (c < 0xc2 || c > 0xf4) return 0;
    if (c < 0xe0) n = 2;
    else if (c < 0xf0) { n = 3; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
    else { n = 4; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
    if (avail < n || p[1] < lo || p[1] > hi) return 0;
    for (i = 2; i < n; i++) if ((p[i] & 0xc0) != 0x80) return 0;
    return n;
}

static int llmcache__json_hex4(const unsigned char *p, const unsigned char *end, unsigned *out,
                               const unsigned char **bad) {
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned c = p + i < end ? p[i] : 0u, d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = (c | 0x20) - 'a' + 10;
        else { *bad = p + i; return 0; }
        v = v << 4 | d;
    }
    *out = v;
    return 1;
}

/* Eight bytes hold a '"', a '\\' or a control character. */
static int llmcache__json_esc8(uint64_t w) {
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high ? 1 : 0;
}

/* ... or a byte >= 0x80. */
static int llmcache__json_special8(uint64_t w) {
    return (w & 0x8080808080808080u) != 0 || llmcache__json_esc8(w);
}

/* The string at P->p (its opening quote), decoded into the string block. Runs
   of bytes that need no decoding are validated, then copied with one memcpy. */
static int llmcache__json_str_parse(llmcache__jparser *P, llmcache__jv *out) {
    const unsigned char *p = P->p + 1, *end = P->end, *run = p;
    char *d = P->sp, *d0 = d;
    unsigned char esc = 0;
    for (;;) {
        unsigned c;
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (llmcache__json_special8(w)) break;
            p += 8;
        }
        if (p == end) return llmcache__json_fail(P, p);
        c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') { p++; continue; }
        if (c >= 0x80) {
            size_t n;
            if (c >= 0xc2 && c < 0xe0 && end - p >= 2 && (p[1] & 0xc0) == 0x80) { p += 2; continue; }
            n = llmcache__json_utf8(p, end);
            if (!n) return llmcache__json_fail(P, p);
            p += n;
            continue;
        }
        memcpy(d, run, (size_t)(p - run));
        d += p - run;
        if (c == '"') break;
        if (c < 0x20) return llmcache__json_fail(P, p);
        /* an escape */
        if (end - p < 2) return llmcache__json_fail(P, end);
        switch (p[1]) {
        case '"':  *d++ = '"';  esc = 1; p += 2; break;
        case '\\': *d++ = '\\'; esc = 1; p += 2; break;
        case '/':  *d++ = '/';  p += 2; break;
        case 'b':  *d++ = '\b'; esc = 1; p += 2; break;
        case 'f':  *d++ = '\f'; esc = 1; p += 2; break;
        case 'n':  *d++ = '\n'; esc = 1; p += 2; break;
        case 'r':  *d++ = '\r'; esc = 1; p += 2; break;
        case 't':  *d++ = '\t'; esc = 1; p += 2; break;
        case 'u': {
            unsigned cp, lo;
            const unsigned char *bad;
            if (!llmcache__json_hex4(p + 2, end, &cp, &bad)) return llmcache__json_fail(P, bad);
            if (cp >= 0xdc00 && cp <= 0xdfff) return llmcache__json_fail(P, p);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
                    !llmcache__json_hex4(p + 8, end, &lo, &bad) || lo < 0xdc00 || lo > 0xdfff)
                    return llmcache__json_fail(P, p);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            p += 6;
            if (cp < 0x80) {
                *d++ = (char)cp;
                if (cp < 0x20 || cp == '"' || cp == '\\') esc = 1;
            } else if (cp < 0x800) {
                *d++ = (char)(0xc0 | (cp >> 6));
                *d++ = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                *d++ = (char)(0xe0 | (cp >> 12));
                *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *d++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *d++ = (char)(0xf0 | (cp >> 18));
                *d++ = (char)(0x80 | ((cp >> 12) & 0x3f));
                *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *d++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: return llmcache__json_fail(P, p + 1);
        }
        run = p;
    }
    P->p = p + 1;
    *d = '\0';
    out->type = LLMCACHE__JSTR;
    out->esc = esc;
    out->n = (size_t)(d - d0);
    out->u.str = d0;
    P->sp = d + 1;
    return LLMCACHE_OK;
}

/* Orders names as sequences of UTF-16 code units (RFC 8785 3.2.3). In UTF-8,
   byte order is code point order; it differs from UTF-16 order only where a
   character above U+FFFF (lead 0xF0-0xF4, surrogates in UTF-16) meets one in
   U+E000-U+FFFF (lead 0xEE-0xEF), so those two leads are moved above 0xF4. */
static int llmcache__json_keycmp(const llmcache__jv *a, const llmcache__jv *b) {
    const unsigned char *x = (const unsigned char *)a->u.str, *y = (const unsigned char *)b->u.str;
    size_t n = a->n < b->n ? a->n : b->n, i;
    for (i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            unsigned cx = x[i], cy = y[i];
            if (cx == 0xee || cx == 0xef) cx += 0x10;
            if (cy == 0xee || cy == 0xef) cy += 0x10;
            return cx < cy ? -1 : 1;
        }
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

/* Stable merge sort of a[0..n) by name, with tmp[0..n) as scratch. */
static void llmcache__json_sort(llmcache__jmem *a, llmcache__jmem *tmp, size_t n) {
    size_t h = n / 2, i, j, o;
    if (n <= 8) {
        for (i = 1; i < n; i++) {
            llmcache__jmem m = a[i];
            for (j = i; j > 0 && llmcache__json_keycmp(&a[j - 1].name, &m.name) > 0; j--) a[j] = a[j - 1];
            a[j] = m;
        }
        return;
    }
    llmcache__json_sort(a, tmp, h);
    llmcache__json_sort(a + h, tmp, n - h);
    if (llmcache__json_keycmp(&a[h - 1].name, &a[h].name) <= 0) return;
    for (i = 0, j = h, o = 0; i < h && j < n;)
        tmp[o++] = llmcache__json_keycmp(&a[j].name, &a[i].name) < 0 ? a[j++] : a[i++];
    while (i < h) tmp[o++] = a[i++];
    memcpy(a, tmp, o * sizeof *a);  /* a[j..n) is already in place */
}

static int llmcache__json_value(llmcache__jparser *P, llmcache__jv *out, int depth);

/* Moves the pending entries above base into a new arena array (sorted and
   checked for duplicate names when obj). */
static int llmcache__json_close(llmcache__jparser *P, size_t base, int obj, llmcache__jv *out) {
    size_t n = P->stk_n - base, i;
    llmcache__jmem *src = P->stk + base;
    out->type = (unsigned char)(obj ? LLMCACHE__JOBJ : LLMCACHE__JARR);
    out->esc = 0;
    out->n = n;
    out->u.items = NULL;
    if (n == 0) return LLMCACHE_OK;
    if (obj) {
        llmcache__jmem *mems;
        size_t dup = (size_t)-1;
        if (n > (size_t)-1 / sizeof *mems) return LLMCACHE_ENOMEM;
        mems = (llmcache__jmem *)llmcache__json_alloc(P->doc, n * sizeof *mems);
        if (!mems) return LLMCACHE_ENOMEM;
        llmcache__json_sort(src, mems, n);
        for (i = 1; i < n; i++)
            if (src[i].name.n == src[i - 1].name.n &&
                memcmp(src[i].name.u.str, src[i - 1].name.u.str, src[i].name.n) == 0 &&
                src[i].off < dup)
                dup = src[i].off;
        if (dup != (size_t)-1) { P->err = dup; return LLMCACHE_EINVAL; }
        memcpy(mems, src, n * sizeof *mems);
        out->u.mems = mems;
    } else {
        llmcache__jv *items;
        if (n > (size_t)-1 / sizeof *items) return LLMCACHE_ENOMEM;
        items = (llmcache__jv *)llmcache__json_alloc(P->doc, n * sizeof *items);
        if (!items) return LLMCACHE_ENOMEM;
        for (i = 0; i < n; i++) items[i] = src[i].val;
        out->u.items = items;
    }
    P->stk_n = base;
    return LLMCACHE_OK;
}

static int llmcache__json_array(llmcache__jparser *P, llmcache__jv *out, int depth) {
    size_t base = P->stk_n;
    llmcache__jmem m;
    int rc;
    memset(&m, 0, sizeof m);
    P->p = llmcache__json_ws(P->p + 1, P->end);
    if (P->p < P->end && *P->p == ']') { P->p++; return llmcache__json_close(P, base, 0, out); }
    for (;;) {
        if ((rc = llmcache__json_value(P, &m.val, depth + 1)) != LLMCACHE_OK) return rc;
        if (!LLMCACHE__JSON_PUSH(P, m)) return LLMCACHE_ENOMEM;
        P->p = llmcache__json_ws(P->p, P->end);
        if (P->p == P->end) return llmcache__json_fail(P, P->p);
        if (*P->p == ',') { P->p++; continue; }
        if (*P->p == ']') { P->p++; return llmcache__json_close(P, base, 0, out); }
        return llmcache__json_fail(P, P->p);
    }
}

static int llmcache__json_object(llmcache__jparser *P, llmcache__jv *out, int depth) {
    size_t base = P->stk_n;
    llmcache__jmem m;
    int rc;
    P->p = llmcache__json_ws(P->p + 1, P->end);
    if (P->p < P->end && *P->p == '}') { P->p++; return llmcache__json_close(P, base, 1, out); }
    for (;;) {
        P->p = llmcache__json_ws(P->p, P->end);
        if (P->p == P->end || *P->p != '"') return llmcache__json_fail(P, P->p);
        m.off = (size_t)(P->p - P->s);
        if ((rc = llmcache__json_str_parse(P, &m.name)) != LLMCACHE_OK) return rc;
        P->p = llmcache__json_ws(P->p, P->end);
        if (P->p == P->end || *P->p != ':') return llmcache__json_fail(P, P->p);
        P->p++;
        if ((rc = llmcache__json_value(P, &m.val, depth + 1)) != LLMCACHE_OK) return rc;
        if (!LLMCACHE__JSON_PUSH(P, m)) return LLMCACHE_ENOMEM;
        P->p = llmcache__json_ws(P->p, P->end);
        if (P->p == P->end) return llmcache__json_fail(P, P->p);
        if (*P->p == ',') { P->p++; continue; }
        if (*P->p == '}') { P->p++; return llmcache__json_close(P, base, 1, out); }
        return llmcache__json_fail(P, P->p);
    }
}

/* One value at P->p (after optional whitespace); depth = enclosing containers. */
static int llmcache__json_value(llmcache__jparser *P, llmcache__jv *out, int depth) {
    const unsigned char *p = llmcache__json_ws(P->p, P->end);
    const char *lit = NULL;
    size_t i, avail = (size_t)(P->end - p);
    P->p = p;
    if (p == P->end) return llmcache__json_fail(P, p);
    out->esc = 0;
    out->n = 0;
    switch (*p) {
    case '{': case '[':
        if (depth >= LLMCACHE_MAX_DEPTH) return llmcache__json_fail(P, p);
        return *p == '{' ? llmcache__json_object(P, out, depth) : llmcache__json_array(P, out, depth);
    case '"': return llmcache__json_str_parse(P, out);
    case 't': lit = "true";  out->type = LLMCACHE__JTRUE;  break;
    case 'f': lit = "false"; out->type = LLMCACHE__JFALSE; break;
    case 'n': lit = "null";  out->type = LLMCACHE__JNULL;  break;
    default: {
        size_t used;
        int rc;
        if (*p != '-' && !llmcache__json_isdigit((char)*p)) return llmcache__json_fail(P, p);
        rc = llmcache__json_scan_num((const char *)p, avail, &used, &out->u.num);
        if (rc) return llmcache__json_fail(P, rc == 2 ? p : p + used);
        out->type = LLMCACHE__JNUM;
        P->p = p + used;
        return LLMCACHE_OK;
    }
    }
    for (i = 0; lit[i]; i++)
        if (i >= avail || p[i] != (unsigned char)lit[i]) return llmcache__json_fail(P, p + i);
    out->u.str = NULL;
    P->p = p + i;
    return LLMCACHE_OK;
}

/* Parses json[0..len) into doc (released with llmcache__json_free, also after
   an error). *root points into doc. Returns LLMCACHE_OK, LLMCACHE_EINVAL (with
   *err_off, when not NULL) or LLMCACHE_ENOMEM. */
static int llmcache__json_parse(const char *json, size_t len, llmcache__jdoc *doc,
                                const llmcache__jv **root, size_t *err_off) {
    llmcache__jparser P;
    llmcache__jv *top;
    int rc;
    doc->chunks = NULL;
    doc->grow = 0;
    *root = NULL;
    if (err_off) *err_off = 0;
    if (!json) {
        if (len) return LLMCACHE_EINVAL;
        json = "";
    }
    if (len > (size_t)-1 / 2 - 4096) return LLMCACHE_ENOMEM;
    P.s = P.p = (const unsigned char *)json;
    P.end = P.s + len;
    P.doc = doc;
    P.stk = P.stk0;
    P.stk_n = 0;
    P.stk_cap = sizeof P.stk0 / sizeof P.stk0[0];
    P.err = 0;
    /* one chunk: the string block first, then room for a typical number of nodes */
    doc->grow = len + 16 + len / 2 + 1024;
    P.sp = (char *)llmcache__json_alloc(doc, len + 16);
    top = (llmcache__jv *)llmcache__json_alloc(doc, sizeof *top);
    if (!P.sp || !top) rc = LLMCACHE_ENOMEM;
    else {
        rc = llmcache__json_value(&P, top, 0);
        if (rc == LLMCACHE_OK) {
            P.p = llmcache__json_ws(P.p, P.end);
            if (P.p != P.end) rc = llmcache__json_fail(&P, P.p);
        }
    }
    if (P.stk != P.stk0) LLMCACHE_FREE(P.stk);
    if (rc == LLMCACHE_EINVAL && err_off) *err_off = P.err;
    if (rc == LLMCACHE_OK) *root = top;
    return rc;
}

/* ---- accessors (NULL-safe) --------------------------------------------------- */
/* The LLMCACHE__J* type, or -1 for NULL (an absent member). */
static LLMCACHE__MAYBE_UNUSED int llmcache__json_type(const llmcache__jv *v) {
    return v ? v->type : -1;
}
/* The number, or 0 when v is not a number. */
static LLMCACHE__MAYBE_UNUSED double llmcache__json_num(const llmcache__jv *v) {
    return v && v->type == LLMCACHE__JNUM ? v->u.num : 0.0;
}
/* The decoded UTF-8 (NUL-terminated; *len bytes, may hold NULs), or NULL. */
static LLMCACHE__MAYBE_UNUSED const char *llmcache__json_str(const llmcache__jv *v, size_t *len) {
    if (!v || v->type != LLMCACHE__JSTR) { if (len) *len = 0; return NULL; }
    if (len) *len = v->n;
    return v->u.str;
}
/* Items of an array, members of an object, bytes of a string; else 0. */
static LLMCACHE__MAYBE_UNUSED size_t llmcache__json_len(const llmcache__jv *v) {
    return v && (v->type == LLMCACHE__JSTR || v->type == LLMCACHE__JARR || v->type == LLMCACHE__JOBJ) ? v->n : 0;
}
static LLMCACHE__MAYBE_UNUSED const llmcache__jv *llmcache__json_at(const llmcache__jv *arr, size_t i) {
    return arr && arr->type == LLMCACHE__JARR && i < arr->n ? &arr->u.items[i] : NULL;
}
/* The i-th member of an object in name order (name and its length to *name,
   *name_len when not NULL), or NULL. */
static LLMCACHE__MAYBE_UNUSED const llmcache__jv *llmcache__json_member(const llmcache__jv *obj, size_t i,
                                                                const char **name, size_t *name_len) {
    if (!obj || obj->type != LLMCACHE__JOBJ || i >= obj->n) return NULL;
    if (name) *name = obj->u.mems[i].name.u.str;
    if (name_len) *name_len = obj->u.mems[i].name.n;
    return &obj->u.mems[i].val;
}
/* The member named name (binary search), or NULL. */
static LLMCACHE__MAYBE_UNUSED const llmcache__jv *llmcache__json_get(const llmcache__jv *obj, const char *name) {
    llmcache__jv key;
    size_t lo = 0, hi;
    if (!obj || obj->type != LLMCACHE__JOBJ || !name) return NULL;
    key.type = LLMCACHE__JSTR; key.esc = 0; key.n = strlen(name); key.u.str = name;
    hi = obj->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = llmcache__json_keycmp(&obj->u.mems[mid].name, &key);
        if (c == 0) return &obj->u.mems[mid].val;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

/* ---- RFC 8785 serializer ------------------------------------------------------ */
/* Room for n more bytes (and the NUL llmcache__buf keeps); 0 when out of memory. */
#define LLMCACHE__JSON_ROOM(b, n) ((b)->cap - (b)->len > (n) || llmcache__buf_reserve((b), (n)))

/* A string as ECMAScript JSON.stringify writes it. */
static void llmcache__json_put_str(llmcache__buf *b, const llmcache__jv *v) {
    const unsigned char *s = (const unsigned char *)v->u.str, *end = s + v->n;
    static const char hex[] = "0123456789abcdef";
    char *o;
    if (v->n > ((size_t)-1 - 2) / 6) { b->oom = 1; return; }
    if (!LLMCACHE__JSON_ROOM(b, (v->esc ? 6 * v->n : v->n) + 2)) return;
    o = b->p + b->len;
    *o++ = '"';
    if (!v->esc) {
        memcpy(o, s, v->n);
        o += v->n;
    } else {
        while (s < end) {
            unsigned c;
            while (end - s >= 8) {
                uint64_t w;
                memcpy(&w, s, 8);
                if (llmcache__json_esc8(w)) break;
                memcpy(o, &w, 8);
                s += 8; o += 8;
            }
            if (s == end) break;
            c = *s++;
            if (c >= 0x20 && c != '"' && c != '\\') { *o++ = (char)c; continue; }
            *o++ = '\\';
            switch (c) {
            case '"':  *o++ = '"';  break;
            case '\\': *o++ = '\\'; break;
            case '\b': *o++ = 'b';  break;
            case '\f': *o++ = 'f';  break;
            case '\n': *o++ = 'n';  break;
            case '\r': *o++ = 'r';  break;
            case '\t': *o++ = 't';  break;
            default:
                *o++ = 'u'; *o++ = '0'; *o++ = '0'; *o++ = hex[c >> 4]; *o++ = hex[c & 15];
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
}

static void llmcache__json_write(llmcache__buf *b, const llmcache__jv *v) {
    size_t i;
    if (!LLMCACHE__JSON_ROOM(b, 32)) return;
    switch (v->type) {
    case LLMCACHE__JNULL:  memcpy(b->p + b->len, "null", 4);  b->len += 4; break;
    case LLMCACHE__JFALSE: memcpy(b->p + b->len, "false", 5); b->len += 5; break;
    case LLMCACHE__JTRUE:  memcpy(b->p + b->len, "true", 4);  b->len += 4; break;
    case LLMCACHE__JNUM:   b->len += llmcache__json_fmt_num(v->u.num, b->p + b->len); break;
    case LLMCACHE__JSTR:   llmcache__json_put_str(b, v); break;
    case LLMCACHE__JARR:
        b->p[b->len++] = '[';
        for (i = 0; i < v->n; i++) {
            if (i) {
                if (!LLMCACHE__JSON_ROOM(b, 1)) return;
                b->p[b->len++] = ',';
            }
            llmcache__json_write(b, &v->u.items[i]);
        }
        if (!LLMCACHE__JSON_ROOM(b, 1)) return;
        b->p[b->len++] = ']';
        break;
    default:
        b->p[b->len++] = '{';
        for (i = 0; i < v->n; i++) {
            if (i) {
                if (!LLMCACHE__JSON_ROOM(b, 1)) return;
                b->p[b->len++] = ',';
            }
            llmcache__json_put_str(b, &v->u.mems[i].name);
            if (!LLMCACHE__JSON_ROOM(b, 1)) return;
            b->p[b->len++] = ':';
            llmcache__json_write(b, &v->u.mems[i].val);
        }
        if (!LLMCACHE__JSON_ROOM(b, 1)) return;
        b->p[b->len++] = '}';
    }
}

/* Appends the RFC 8785 canonical form of json[0..len) to out. Returns
   LLMCACHE_OK, LLMCACHE_EINVAL (with *err_off when not NULL) or LLMCACHE_ENOMEM. */
static int llmcache__jcs(const char *json, size_t len, llmcache__buf *out, size_t *err_off) {
    llmcache__jdoc doc;
    const llmcache__jv *root;
    int rc = llmcache__json_parse(json, len, &doc, &root, err_off);
    if (rc == LLMCACHE_OK) {
        llmcache__buf_reserve(out, len + 16);
        llmcache__json_write(out, root);
        if (out->oom) rc = LLMCACHE_ENOMEM;
    }
    llmcache__json_free(&doc);
    return rc;
}
