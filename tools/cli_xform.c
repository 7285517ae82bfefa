/* tools/cli_xform.c - values transformed at rest in the command-line tool: the
 * --zstd, --zstd-dict FILE and --key-file FILE options load a reference transform of
 * examples/ (built in when libzstd / libsodium are here: -DCLI_ZSTD, -DCLI_SODIUM;
 * see the Makefile), which cli_open gives every cache it opens; and `train-dict`,
 * which trains a zstd dictionary on the values of a cache. */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#ifdef CLI_ZSTD
#include "../examples/transform_zstd.h"
#endif
#ifdef CLI_SODIUM
#include "../examples/transform_sodium.h"
#endif

#define CLI_DICT_MAX      ((size_t)64 << 10)    /* train-dict: the dictionary's size at most */
#define CLI_SAMPLES_MAX   ((size_t)128 << 20)   /* train-dict: bytes of values sampled at most */
#define CLI_SAMPLE_MAX    ((size_t)128 << 10)   /* train-dict: the first bytes of each value */

static llmcache_transform cli_xform;
static int cli_have_xform;
#ifdef CLI_ZSTD
static llmcache_zstd *cli_zstd;
#endif
#ifdef CLI_SODIUM
static llmcache_sodium *cli_sodium;
#endif

int cli_xform_setup(int zstd, const char *dict_path, const char *key_path) {
    if ((zstd || dict_path) && key_path) {
        cli_error("--key-file cannot be combined with --zstd or --zstd-dict (one transform per cache)");
        return -1;
    }
    if (zstd || dict_path) {
#ifdef CLI_ZSTD
        char *dict = NULL;
        size_t dict_len = 0;
        int rc;
        if (dict_path && cli_read_all(dict_path, &dict, &dict_len, CLI_DICT_MAX * 16, "16 x the dictionary limit"))
            return -1;
        rc = llmcache_zstd_new(&cli_zstd, dict, dict_len, 0);
        free(dict);
        if (rc != LLMCACHE_OK) {
            cli_error("%s: %s", dict_path ? dict_path : "zstd", rc == LLMCACHE_EINVAL ? "not a zstd dictionary"
                                                                                    : cli_result(rc));
            return -1;
        }
        llmcache_zstd_transform(cli_zstd, &cli_xform);
        cli_have_xform = 1;
#else
        cli_error("this llmcache was built without libzstd: --zstd and --zstd-dict are not available");
        return -1;
#endif
    }
    if (key_path) {
#ifdef CLI_SODIUM
        unsigned char key[LLMCACHE_SODIUM_KEY_BYTES];
        int rc = llmcache_sodium_key_file(key_path, key);
        if (rc != LLMCACHE_OK) {
            cli_error("%s: %s", key_path, rc == LLMCACHE_EINVAL ? "not a key (32 bytes, or 64 hex digits)"
                                                                : cli_result(rc));
            return -1;
        }
        rc = llmcache_sodium_new(&cli_sodium, key);
        memset(key, 0, sizeof key);
        if (rc != LLMCACHE_OK) { cli_error("libsodium: %s", cli_result(rc)); return -1; }
        llmcache_sodium_transform(cli_sodium, &cli_xform);
        cli_have_xform = 1;
#else
        cli_error("this llmcache was built without libsodium: --key-file is not available");
        return -1;
#endif
    }
    return 0;
}

const llmcache_transform *cli_xform_get(void) { return cli_have_xform ? &cli_xform : NULL; }

void cli_xform_end(void) {
#ifdef CLI_ZSTD
    llmcache_zstd_free(cli_zstd);
    cli_zstd = NULL;
#endif
#ifdef CLI_SODIUM
    llmcache_sodium_free(cli_sodium);
    cli_sodium = NULL;
#endif
    cli_have_xform = 0;
}

const char *cli_xform_hint(int rc) {
    if (rc == LLMCACHE_ETRANSFORM)
        return cli_have_xform ? " (it was written with another transform than the one given)"
                              : " (give the one it was written with: --zstd, --zstd-dict FILE or --key-file FILE)";
    if (rc == LLMCACHE_ECORRUPT && cli_have_xform)
        return " (the value failed its transform's decode: another dictionary or key, or altered bytes)";
    return "";
}

int cli_xform_status(const llmcache_stats *st, const char *path) {
    if (!st->transform_unknown && !st->transform_failed) return 0;
    cli_error("%s: UNREADABLE VALUES: %" PRIu64 " stored with a transform this tool was not given%s, %" PRIu64
              " failing their transform's decode%s", path, st->transform_unknown,
              st->transform_unknown ? cli_xform_hint(LLMCACHE_ETRANSFORM) : "", st->transform_failed,
              st->transform_failed ? " (another dictionary or key, or altered bytes)" : "");
    return CLI_EXIT_NOTCLEAN;
}

/* >>train-dict ----------------------------------------------------------------------- */
#ifdef CLI_ZSTD
typedef struct cli_samples { char *buf; size_t len, cap; size_t *sizes; unsigned n, cap_n; } cli_samples;

static int cli_sample_one(void *ctx, const llmcache_entry_info *info) {
    cli_samples *s = (cli_samples *)ctx;
    size_t take = info->len < CLI_SAMPLE_MAX ? info->len : CLI_SAMPLE_MAX;
    if (!take) return 0;
    if (s->len + take > CLI_SAMPLES_MAX) return LLMCACHE_STOP;
    if (s->len + take > s->cap) {
        size_t cap = (s->len + take) * 2;
        char *b = (char *)realloc(s->buf, cap > CLI_SAMPLES_MAX ? CLI_SAMPLES_MAX : cap);
        if (!b) return LLMCACHE_ENOMEM;
        s->buf = b;
        s->cap = cap > CLI_SAMPLES_MAX ? CLI_SAMPLES_MAX : cap;
    }
    if (s->n == s->cap_n) {
        unsigned cap_n = s->cap_n ? s->cap_n * 2 : 1024;
        size_t *z = (size_t *)realloc(s->sizes, cap_n * sizeof *z);
        if (!z) return LLMCACHE_ENOMEM;
        s->sizes = z;
        s->cap_n = cap_n;
    }
    memcpy(s->buf + s->len, info->data, take);
    s->len += take;
    s->sizes[s->n++] = take;
    return 0;
}
#endif

int cli_train_dict(llmcache *c, const char *path, const char *out_path) {
#ifdef CLI_ZSTD
    cli_samples s;
    cli_output o;
    void *dict;
    size_t got;
    int rc, failed = 1;
    memset(&s, 0, sizeof s);
    rc = llmcache_foreach(c, 1, cli_sample_one, &s);
    if (rc != LLMCACHE_OK && rc != LLMCACHE_STOP) {
        cli_error("%s: %s%s", path, cli_result(rc), cli_xform_hint(rc));
        free(s.buf);
        free(s.sizes);
        return CLI_EXIT_FAIL;
    }
    dict = malloc(CLI_DICT_MAX);
    got = dict && s.n ? llmcache_zstd_train(dict, CLI_DICT_MAX, s.buf, s.sizes, s.n) : 0;
    if (!got) {
        cli_error("%s: cannot train a dictionary from %u value%s (%zu bytes): zstd needs more, or more varied, "
                  "values (a few hundred is a good start)", path, s.n, s.n == 1 ? "" : "s", s.len);
    } else if (cli_output_open(&o, out_path) == 0) {
        int to_file = o.tmp != NULL;
        if (fwrite(dict, 1, got, o.f) != got) cli_output_abort(&o);
        else failed = cli_output_commit(&o);
        if (!failed && to_file)
            printf("trained a %zu-byte dictionary on %u value%s (%zu bytes) into %s\n", got, s.n,
                   s.n == 1 ? "" : "s", s.len, out_path);
    }
    free(dict);
    free(s.buf);
    free(s.sizes);
    return failed ? CLI_EXIT_FAIL : 0;
#else
    (void)c; (void)out_path;
    cli_error("%s: this llmcache was built without libzstd: train-dict is not available", path);
    return CLI_EXIT_FAIL;
#endif
}
