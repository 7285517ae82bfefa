/* tools/llmcache.c - the llmcache command-line tool, a thin front end on llmcache.h:
 * canon, key, stats, ls, get, put, rm, purge, verify, repair, compact, export, import,
 * explain, diff, batch (tools/cli_batch.c).
 * `make` builds it into build/llmcache; `build/llmcache --help` lists the commands,
 * their options and the exit statuses. This file holds the library implementation. */
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The tool opens caches unbounded, so it sees every entry and compact keeps them all. */
#define CLI_MAX_ENTRIES 0x7ffffffeu
#define CLI_SOON_MS     3600000   /* "expiring soon" in stats: within the hour */


/* >>arguments ---------------------------------------------------------------------- */
typedef struct cli_args {
    char **pos;                  /* positional arguments, compacted in place in argv */
    int npos;
    const char *ns, *endpoint, *schema, *ttl, *out;
    const char *cache, *concurrency;   /* batch */
    int json, verbose, expired, raw, empty, force, help;
    const char *prices;
    int prometheus;
    const char *ignore[33];      /* --ignore pointers, NULL-terminated */
    int nignore, near, sorted;
    const char *zstd_dict, *key_file;
    int zstd;
} cli_args;

enum { O_NS = 1, O_ENDPOINT = 2, O_SCHEMA = 4, O_TTL = 8, O_OUT = 16, O_JSON = 32, O_VERBOSE = 64,
       O_EXPIRED = 128, O_RAW = 256, O_EMPTY = 512, O_FORCE = 1024, O_PRICES = 2048, O_PROMETHEUS = 4096,
       O_IGNORE = 8192, O_NEAR = 16384, O_SORTED = 32768, O_CACHE = 65536, O_CONCURRENCY = 131072,
       O_ZSTD = 262144, O_ZSTD_DICT = 524288, O_KEY_FILE = 1048576, O_XFORM = O_ZSTD | O_ZSTD_DICT | O_KEY_FILE };

static const struct cli_option {
    const char *name, *alias;
    unsigned bit;
    int has_value;
    size_t offset;               /* of a const char * (has_value) or an int flag in cli_args */
} cli_options[] = {
    { "--ns",       NULL, O_NS,       1, offsetof(cli_args, ns) },
    { "--endpoint", NULL, O_ENDPOINT, 1, offsetof(cli_args, endpoint) },
    { "--schema",   NULL, O_SCHEMA,   1, offsetof(cli_args, schema) },
    { "--ttl",      NULL, O_TTL,      1, offsetof(cli_args, ttl) },
    { "--output",   "-o", O_OUT,      1, offsetof(cli_args, out) },
    { "--json",     NULL, O_JSON,     0, offsetof(cli_args, json) },
    { "--verbose",  "-v", O_VERBOSE,  0, offsetof(cli_args, verbose) },
    { "--expired",  NULL, O_EXPIRED,  0, offsetof(cli_args, expired) },
    { "--raw",      NULL, O_RAW,      0, offsetof(cli_args, raw) },
    { "--empty",    NULL, O_EMPTY,    0, offsetof(cli_args, empty) },
    { "--force",    NULL, O_FORCE,    0, offsetof(cli_args, force) },
    { "--prices",   NULL, O_PRICES,   1, offsetof(cli_args, prices) },
    { "--prometheus", NULL, O_PROMETHEUS, 0, offsetof(cli_args, prometheus) },
    { "--ignore",   NULL, O_IGNORE,   1, 0 },   /* repeatable: cli_args.ignore */
    { "--near",     NULL, O_NEAR,     0, offsetof(cli_args, near) },
    { "--sorted",   NULL, O_SORTED,   0, offsetof(cli_args, sorted) },
    { "--cache",    NULL, O_CACHE,    1, offsetof(cli_args, cache) },
    { "--concurrency", NULL, O_CONCURRENCY, 1, offsetof(cli_args, concurrency) },
    { "--zstd",     NULL, O_ZSTD,     0, offsetof(cli_args, zstd) },
    { "--zstd-dict", NULL, O_ZSTD_DICT, 1, offsetof(cli_args, zstd_dict) },
    { "--key-file", NULL, O_KEY_FILE, 1, offsetof(cli_args, key_file) },
};

typedef struct cli_command {
    const char *name;
    int (*run)(cli_args *a);
    unsigned opts;               /* O_* accepted */
    int min_pos, max_pos;        /* max_pos -1: any number */
    const char *usage, *summary, *help;
    const char *exit1;           /* what status 1 means; NULL: the command does not use it */
    const char *exit2;           /* the failures of status 2 besides usage errors */
    const char *exit3;           /* what status 3 means; NULL: the command does not use it */
} cli_command;

/* Options may come anywhere; "--name=value" and "--name value" both work; "--" ends them. */
static int cli_parse_args(const cli_command *cmd, int argc, char **argv, cli_args *a) {
    int i, only_pos = 0;
    memset(a, 0, sizeof *a);
    a->pos = argv;
    for (i = 0; i < argc; i++) {
        char *arg = argv[i];
        const struct cli_option *o = NULL;
        size_t k, n = strcspn(arg, "=");
        if (only_pos || arg[0] != '-' || arg[1] == '\0') { a->pos[a->npos++] = arg; continue; }
        if (strcmp(arg, "--") == 0) { only_pos = 1; continue; }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) { a->help = 1; continue; }
        for (k = 0; k < sizeof cli_options / sizeof cli_options[0]; k++)
            if ((strlen(cli_options[k].name) == n && strncmp(arg, cli_options[k].name, n) == 0) ||
                (cli_options[k].alias && strcmp(arg, cli_options[k].alias) == 0))
                o = &cli_options[k];
        if (!o || !(cmd->opts & o->bit)) { cli_error("unknown option %s", arg); return -1; }
        if (!o->has_value) {
            if (arg[n]) { cli_error("%.*s takes no value", (int)n, arg); return -1; }
            *(int *)(void *)((char *)a + o->offset) = 1;
        } else if ((arg[n] || i + 1 < argc) && o->bit == O_IGNORE) {
            if (a->nignore == (int)(sizeof a->ignore / sizeof a->ignore[0]) - 1) { cli_error("too many --ignore"); return -1; }
            a->ignore[a->nignore++] = arg[n] ? arg + n + 1 : argv[++i];
        } else if (arg[n] || i + 1 < argc) {
            *(const char **)(void *)((char *)a + o->offset) = arg[n] ? arg + n + 1 : argv[++i];
        } else {
            cli_error("%s needs a value", arg);
            return -1;
        }
    }
    return 0;
}

/* >>shared steps ------------------------------------------------------------------- */
/* Canonical form of json (out NULL: just check it); reports why and where invalid
 * JSON breaks: "NAME: invalid JSON: REASON at line L, column C (byte B)", with the
 * column counted in bytes from 1 and B from 0. */
static int cli_canon(const char *name, const char *json, size_t len, char **out, size_t *out_len) {
    char *canon = NULL;
    size_t i, line = 1, col = 1;
    llmcache_json_error err;
    int rc = llmcache_canonicalize_err(json, len, &canon, out_len, &err);
    if (rc == LLMCACHE_EINVAL) {
        for (i = 0; i < err.offset && i < len; i++, col++)
            if (json[i] == '\n') { line++; col = 0; }
        cli_error("%s: invalid JSON: %s at line %zu, column %zu (byte %zu)", name, err.reason, line, col, err.offset);
    } else if (rc != LLMCACHE_OK) {
        cli_error("%s: %s", name, cli_result(rc));
    }
    if (out && rc == LLMCACHE_OK) *out = canon;
    else llmcache_free(canon);
    return rc == LLMCACHE_OK ? 0 : -1;
}

/* A KEY argument; 0, or -1 reported. */
static int cli_key_arg(const char *hex, llmcache_key *k) {
    if (cli_parse_hash(hex, strlen(hex), k->bytes) == 0) return 0;
    cli_error("%s: not a key (expected 64 hex digits, as `llmcache ls` shows them)", hex);
    return -1;
}

/* llmcache_progress_fn drawing a cli_progress bar */
static void cli_on_progress(void *ctx, uint64_t done, uint64_t total) {
    cli_progress *p = (cli_progress *)ctx;
    p->total = total;
    if (done > p->done) cli_progress_add(p, done - p->done);
}

/* How cli_open opens: to look only (the file must exist, nothing is written), to
 * change an existing cache, or to change one that may be new. */
enum { CLI_READ, CLI_WRITE, CLI_CREATE };

/* The result code the library gives for a failed stat's errno. */
static int cli_stat_result(int e) {
    return e == ENOENT || e == ENOTDIR ? LLMCACHE_ENOENT : e == EACCES ? LLMCACHE_EACCES : LLMCACHE_EIO;
}

/* Reports why path cannot be opened (rc from llmcache_open), in the words of the
 * system where there are some. */
static void cli_open_error(const char *path, int rc) {
    struct stat st;
    const char *why = cli_result(rc);
    if (rc == LLMCACHE_ENOENT) why = "No such file or directory";
    else if (rc == LLMCACHE_EACCES) why = "Permission denied";
    else if (rc == LLMCACHE_ENOTFILE) why = stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? "Is a directory"
                                                                                  : "not a regular file";
    else if (rc == LLMCACHE_ENOTCACHE && stat(path, &st) == 0 && st.st_size == 0)
        why = "empty file, not an llmcache log";
    else if (rc == LLMCACHE_ENOTCACHE) why = "not an llmcache log";
    cli_error("%s: %s", path, why);
}

/* Opens the cache at path (values beyond the default memory bound stay on disk).
 * CLI_READ opens it read-only: nothing beside it changes, not even a torn tail.
 * Only CLI_CREATE makes a new, empty cache of a missing name. Returns NULL after
 * reporting the error. */
static llmcache *cli_open_cfg(const char *path, int how, cli_progress *progress, const llmcache_prices *prices,
                              const char *ns) {
    struct stat st;
    llmcache_config cfg;
    llmcache *c = NULL;
    int rc;
    if (how == CLI_WRITE && stat(path, &st) != 0) {
        cli_open_error(path, cli_stat_result(errno));
        return NULL;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.max_entries = CLI_MAX_ENTRIES;
    cfg.read_only = how == CLI_READ;
    cfg.on_progress = progress ? cli_on_progress : NULL;
    cfg.progress_ctx = progress;
    cfg.prices = prices;
    cfg.ns = ns;
    cfg.transform = cli_xform_get();
    if (cli_env_mode(&cfg.mode)) return NULL;   /* as every tool; the commands make no calls */
    rc = llmcache_open(&c, &cfg);
    if (rc != LLMCACHE_OK) { cli_open_error(path, rc); return NULL; }
    return c;
}

static llmcache *cli_open_progress(const char *path, int how, cli_progress *progress) {
    return cli_open_cfg(path, how, progress, NULL, NULL);
}

static llmcache *cli_open(const char *path, int how) { return cli_open_progress(path, how, NULL); }

/* After a read-only listing: a file with damaged records or a torn tail is said so
 * on stderr, and the status becomes CLI_EXIT_NOTCLEAN (what could be read was). */
static int cli_damage_status(llmcache *c, const char *path) {
    llmcache_stats st;
    int unreadable;
    llmcache_stats_get(c, &st);
    unreadable = cli_xform_status(&st, path);
    if (!st.records_skipped && !st.torn_bytes) return unreadable;
    cli_error("%s: DAMAGED: %" PRIu64 " damaged region%s skipped, %" PRIu64 " bytes of torn tail; the output "
              "lacks what they held (`llmcache verify` shows where, `llmcache repair` keeps every intact record)",
              path, st.records_skipped, st.records_skipped == 1 ? "" : "s", st.torn_bytes);
    return CLI_EXIT_NOTCLEAN;
}

/* Closes c, first making its writes durable when it wrote; returns the exit status. */
static int cli_close(llmcache *c, const char *path, int wrote, int status) {
    int rc = wrote ? llmcache_sync(c) : LLMCACHE_OK;
    llmcache_close(c);
    if (rc == LLMCACHE_OK) return status;
    cli_error("%s: %s", path, cli_result(rc));
    return CLI_EXIT_FAIL;
}

/* Every live entry (metadata only), sorted by key. */
typedef struct cli_list { llmcache_entry_info *v; size_t n, cap; int64_t now; } cli_list;

static int cli_collect_one(void *ctx, const llmcache_entry_info *info) {
    cli_list *l = (cli_list *)ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        llmcache_entry_info *v = (llmcache_entry_info *)realloc(l->v, cap * sizeof *v);
        if (!v) return LLMCACHE_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = *info;
    l->v[l->n++].data = NULL;
    return 0;
}

static int cli_key_order(const void *a, const void *b) {
    return memcmp(((const llmcache_entry_info *)a)->key.bytes, ((const llmcache_entry_info *)b)->key.bytes, 32);
}

static int cli_collect(llmcache *c, const char *path, cli_list *l) {
    int rc;
    memset(l, 0, sizeof *l);
    l->now = cli_now_ms();
    rc = llmcache_foreach(c, 0, cli_collect_one, l);
    if (rc != LLMCACHE_OK) {
        cli_error("%s: %s", path, cli_result(rc));
        free(l->v);
        return -1;
    }
    if (l->n) qsort(l->v, l->n, sizeof *l->v, cli_key_order);
    return 0;
}

/* "3h ago", "in 2d 4h", "never". */
static void cli_format_when(int64_t ms, int64_t now, char out[48]) {
    char d[32];
    if (!ms) { strcpy(out, "never"); return; }
    cli_format_duration(ms > now ? ms - now : now - ms, d);
    snprintf(out, 48, ms > now ? "in %s" : "%s ago", d);
}

/* "2024-05-01 12:34:56Z (3h ago)", or "never" for 0. */
static void cli_format_moment(int64_t ms, int64_t now, char out[96]) {
    char t[32], when[48];
    if (!ms) { strcpy(out, "never"); return; }
    cli_format_time(ms, t);
    cli_format_when(ms, now, when);
    snprintf(out, 96, "%s (%s)", t, when);
}

static const char *cli_entries(uint64_t n) { return n == 1 ? "entry" : "entries"; }

static int cli_is_zero(const unsigned char *p, size_t n) {
    while (n--) if (*p++) return 0;
    return 1;
}

/* >>canon, key ----------------------------------------------------------------------- */
static int cmd_canon(cli_args *a) {
    const char *path = a->npos ? a->pos[0] : NULL;
    char *json, *canon;
    size_t len, canon_len;
    int status = CLI_EXIT_FAIL;
    if (cli_read_all(path, &json, &len, SIZE_MAX, NULL)) return CLI_EXIT_FAIL;
    if (cli_canon(path ? path : "stdin", json, len, &canon, &canon_len) == 0) {
        fwrite(canon, 1, canon_len, stdout);
        putchar('\n');
        llmcache_free(canon);
        status = 0;
    }
    free(json);
    return status;
}

static int cmd_key(cli_args *a) {
    const char *path = a->npos ? a->pos[0] : NULL;
    char *body, *schema = NULL, hex[65];
    size_t body_len, schema_len = 0;
    llmcache_request req;
    llmcache_key k;
    int rc, status = CLI_EXIT_FAIL;
    if (cli_read_all(path, &body, &body_len, SIZE_MAX, NULL)) return CLI_EXIT_FAIL;
    if (a->schema && cli_read_all(a->schema, &schema, &schema_len, SIZE_MAX, NULL)) { free(body); return CLI_EXIT_FAIL; }
    if (cli_canon(path ? path : "stdin", body, body_len, NULL, NULL) == 0 &&
        (!schema || cli_canon(a->schema, schema, schema_len, NULL, NULL) == 0)) {
        memset(&req, 0, sizeof req);
        req.endpoint = a->endpoint;
        req.body = body;
        req.body_len = body_len;
        req.schema = schema;
        req.schema_len = schema_len;
        rc = llmcache_key_for_ex(&k, a->ns, &req, a->ignore, NULL, NULL);
        if (rc == LLMCACHE_OK) {
            llmcache_key_hex(&k, hex);
            printf("%s\n", hex);
            status = 0;
        } else {
            cli_error("%s", cli_result(rc));
        }
    }
    free(body);
    free(schema);
    return status;
}

/* >>stats, ls, get ------------------------------------------------------------------- */
static void cli_print_share(const char *label, uint64_t part, uint64_t whole, const char *note) {
    char size[32];
    cli_format_size(part, size);
    printf("%-12s %s", label, size);
    if (whole) printf(" (%u%%%s)", (unsigned)(part * 100 / whole), note);
    putchar('\n');
}

static int cmd_stats(cli_args *a) {
    const char *path = a->pos[0];
    llmcache *c;
    llmcache_prices *prices = NULL;
    llmcache_stats st;
    cli_list l;
    uint64_t values = 0, soon = 0, with_ttl = 0, dead;
    int64_t oldest = 0, newest = 0;
    char size[32], when[96];
    size_t i;
    if (a->json && a->prometheus) { cli_error("--json and --prometheus exclude each other"); return CLI_EXIT_FAIL; }
    if (a->prices && cli_load_prices(a->prices, &prices)) return CLI_EXIT_FAIL;
    c = cli_open_cfg(path, CLI_READ, NULL, prices, a->ns);
    llmcache_free(prices);                  /* the handle keeps a copy */
    if (!c) return CLI_EXIT_FAIL;
    if (a->prometheus) {
        if (cli_stats_export(c, path, LLMCACHE_STATS_PROMETHEUS, stdout, 0)) return cli_close(c, path, 0, CLI_EXIT_FAIL);
        return cli_close(c, path, 0, cli_damage_status(c, path));
    }
    if (cli_collect(c, path, &l)) return cli_close(c, path, 0, CLI_EXIT_FAIL);
    llmcache_stats_get(c, &st);
    for (i = 0; i < l.n; i++) {
        const llmcache_entry_info *e = &l.v[i];
        values += e->len;
        if (!oldest || e->created_ms < oldest) oldest = e->created_ms;
        if (e->created_ms > newest) newest = e->created_ms;
        if (e->expires_ms) with_ttl++;
        if (e->expires_ms && e->expires_ms - l.now <= CLI_SOON_MS) soon++;
    }
    dead = st.dead_bytes;
    if (a->json) {
        printf("{\"file_bytes\":%" PRIu64 ",\"entries\":%zu,\"value_bytes\":%" PRIu64 ",\"live_bytes\":%" PRIu64
               ",\"dead_bytes\":%" PRIu64 ",\"oldest_ms\":%" PRId64 ",\"newest_ms\":%" PRId64
               ",\"expiring_within_1h\":%" PRIu64 ",\"with_ttl\":%" PRIu64 ",\"records_recovered\":%" PRIu64
               ",\"records_skipped\":%" PRIu64 ",\"torn_bytes\":%" PRIu64 ",\"accounting\":",
               st.file_bytes, l.n, values, st.live_bytes, dead, oldest, newest, soon, with_ttl,
               st.records_recovered, st.records_skipped, st.torn_bytes);
        free(l.v);
        if (cli_stats_export(c, path, LLMCACHE_STATS_JSON, stdout, 1)) return cli_close(c, path, 0, CLI_EXIT_FAIL);
        printf("}\n");
        return cli_close(c, path, 0, cli_damage_status(c, path));
    }
    cli_format_size(st.file_bytes, size);
    printf("%-12s %s\n", "file", path);
    printf("%-12s %s (%" PRIu64 " bytes)\n", "size", size, st.file_bytes);
    cli_format_size(values, size);
    printf("%-12s %zu (values %s)\n", "entries", l.n, size);
    cli_print_share("live bytes", st.live_bytes, st.file_bytes, "");
    cli_print_share("dead bytes", dead, st.file_bytes, dead ? "; `llmcache compact` reclaims them" : "");
    if (l.n) {
        cli_format_moment(oldest, l.now, when);
        printf("%-12s %s\n", "oldest", when);
        cli_format_moment(newest, l.now, when);
        printf("%-12s %s\n", "newest", when);
    }
    printf("%-12s %" PRIu64 " within 1h; %" PRIu64 " with a TTL, %" PRIu64 " without\n", "expiring",
           soon, with_ttl, (uint64_t)l.n - with_ttl);
    cli_format_size(st.torn_bytes, size);
    printf("%-12s %" PRIu64 " intact, %" PRIu64 " damaged regions skipped, %s of torn tail (left in place)\n",
           "records", st.records_recovered, st.records_skipped, size);
    free(l.v);
    return cli_close(c, path, 0, cli_damage_status(c, path));
}

static int cmd_ls(cli_args *a) {
    const char *path = a->pos[0];
    llmcache *c = cli_open(path, CLI_READ);
    cli_list l;
    uint64_t total = 0;
    size_t i;
    if (!c) return CLI_EXIT_FAIL;
    if (cli_collect(c, path, &l)) return cli_close(c, path, 0, CLI_EXIT_FAIL);
    if (!a->json) printf("%-64s  %10s  %-14s  %-14s  %s\n", "KEY", "SIZE", "STORED", "EXPIRES", "SCHEMA");
    for (i = 0; i < l.n; i++) {
        const llmcache_entry_info *e = &l.v[i];
        char key[65], size[32], stored[48], expires[48], schema[65];
        total += e->len;
        if (a->json) { cli_write_entry(stdout, e, 0); continue; }
        llmcache_key_hex(&e->key, key);
        cli_format_size(e->len, size);
        cli_format_when(e->created_ms, l.now, stored);
        cli_format_when(e->expires_ms, l.now, expires);
        cli_hash_hex(e->meta.schema_hash, schema);
        printf("%s  %10s  %-14s  %-14s  %.16s\n", key, size, stored, expires,
               cli_is_zero(e->meta.schema_hash, 32) ? "-" : schema);
    }
    if (!a->json) {
        char size[32];
        cli_format_size(total, size);
        printf("%zu %s, %s\n", l.n, cli_entries(l.n), size);
    }
    free(l.v);
    return cli_close(c, path, 0, cli_damage_status(c, path));
}

/* The metadata of an entry on stderr; env: its decoded call envelope, or NULL. */
static void cli_print_value_info(const char *key_hex, const llmcache_value *v, const llmcache_response *env) {
    char stored[96], expires[96], schema[65];
    static const char *const flag_names[] = { "call envelope", "stream", "model" };   /* LLMCACHE_META_* bits */
    int64_t now = cli_now_ms();
    uint32_t f = v->meta.flags;
    unsigned i;
    cli_format_moment(v->created_ms, now, stored);
    cli_format_moment(v->expires_ms, now, expires);
    fprintf(stderr, "key          %s\nsize         %zu bytes stored\nstored       %s\nexpires      %s\n", key_hex,
            v->len, stored, expires);
    cli_hash_hex(v->meta.schema_hash, schema);
    fprintf(stderr, "schema hash  %s\n", cli_is_zero(v->meta.schema_hash, 32) ? "- (none)" : schema);
    fprintf(stderr, "status       %" PRId32 "\nflags        %" PRIu32, v->meta.status, f);
    for (i = 0; i < 3; i++)
        if (f & (1u << i)) fprintf(stderr, "%s%s", f & ((1u << i) - 1) ? ", " : " (", flag_names[i]);
    fprintf(stderr, "%s\nlatency      %" PRId64 " ms\n", f & 7u ? ")" : "", v->meta.latency_ms);
    fprintf(stderr, "tokens       %" PRId64 " prompt, %" PRId64 " completion\n", v->meta.prompt_tokens,
            v->meta.completion_tokens);
    if (!env) return;
    fprintf(stderr, "response     HTTP %d, body %zu bytes", env->status, env->len);
    if (env->model) fprintf(stderr, ", model %zu bytes", env->model_len);
    if (f & LLMCACHE_META_STREAM)
        fprintf(stderr, ", a stream of %zu events over %" PRId64 " ms", env->n_chunks,
                env->n_chunks ? env->chunks[env->n_chunks - 1].at_ms : 0);
    else fputs(", not a stream", stderr);
    fputc('\n', stderr);
}

static int cmd_get(cli_args *a) {
    const char *path = a->pos[0];
    llmcache_key k;
    llmcache_value v;
    llmcache_response env;
    int decode, rc;
    llmcache *c;
    if (cli_key_arg(a->pos[1], &k) || !(c = cli_open(path, CLI_READ))) return CLI_EXIT_FAIL;
    rc = llmcache_get(c, &k, &v);
    if (rc == LLMCACHE_MISS) {
        cli_error("%s: no entry for key %s", path, a->pos[1]);
        return cli_close(c, path, 0, CLI_EXIT_NOTCLEAN);
    }
    if (rc != LLMCACHE_OK) {
        cli_error("%s: %s%s", path, cli_result(rc), cli_xform_hint(rc));
        return cli_close(c, path, 0, CLI_EXIT_FAIL);
    }
    decode = (v.meta.flags & LLMCACHE_META_ENVELOPE) && (!a->raw || a->verbose);
    rc = decode ? llmcache_response_decode(v.data, v.len, &env) : LLMCACHE_OK;
    if (rc != LLMCACHE_OK) {
        cli_error("%s: the stored call envelope cannot be decoded: %s%s", path, cli_result(rc),
                  a->raw ? "" : " (`get --raw` writes the stored bytes)");
        if (!a->raw) { llmcache_value_free(&v); return cli_close(c, path, 0, CLI_EXIT_FAIL); }
        decode = 0;
    }
    if (a->verbose) cli_print_value_info(a->pos[1], &v, decode ? &env : NULL);
    if (decode && !a->raw) fwrite(env.body, 1, env.len, stdout);
    else fwrite(v.data, 1, v.len, stdout);
    if (decode) llmcache_response_free(&env);
    llmcache_value_free(&v);
    return cli_close(c, path, 0, 0);
}

/* >>put, rm, purge ------------------------------------------------------------------- */
/* The length of the newline ending data ("\n" 1, "\r\n" 2) when the rest is a JSON
 * text that llmcache accepts; else 0. */
static size_t cli_json_newline(const char *data, size_t len) {
    size_t nl = len >= 2 && data[len - 2] == '\r' && data[len - 1] == '\n' ? 2 : len >= 1 && data[len - 1] == '\n';
    char *canon = NULL;
    if (nl && llmcache_canonicalize(data, len - nl, &canon, NULL) != LLMCACHE_OK) nl = 0;
    llmcache_free(canon);
    return nl;
}

static int cmd_put(cli_args *a) {
    const char *path = a->pos[0];
    llmcache_key k;
    llmcache *c;
    int64_t ttl = LLMCACHE_TTL_NEVER;   /* never expires */
    char *value;
    size_t len;
    int rc;
    if (cli_key_arg(a->pos[1], &k)) return CLI_EXIT_FAIL;
    if (a->ttl && (cli_parse_duration(a->ttl, &ttl) || ttl <= 0)) {
        cli_error("--ttl %s: expected a positive duration such as 1h, 30m, 10s, 500ms, 2d or 1h30m", a->ttl);
        return CLI_EXIT_FAIL;
    }
    /* everything is read and checked before the file is opened (and maybe created) */
    if (cli_read_all(NULL, &value, &len, LLMCACHE_MAX_VALUE, "LLMCACHE_MAX_VALUE")) return CLI_EXIT_FAIL;
    if (len == 0 && !a->empty) {
        cli_error("stdin is empty: nothing stored (`--empty` stores an empty value)");
        free(value);
        return CLI_EXIT_FAIL;
    }
    if (!a->raw) len -= cli_json_newline(value, len);
    if (!(c = cli_open(path, CLI_CREATE))) { free(value); return CLI_EXIT_FAIL; }
    rc = llmcache_put(c, &k, value, len, ttl);
    free(value);
    if (rc == LLMCACHE_OK) return cli_close(c, path, 1, 0);
    cli_error("%s: %s", path, cli_result(rc));
    return cli_close(c, path, 0, CLI_EXIT_FAIL);
}

static int cmd_rm(cli_args *a) {
    const char *path = a->pos[0];
    llmcache_key k;
    llmcache *c;
    uint64_t removed = 0, absent = 0;
    int i, rc, status = 0;
    for (i = 1; i < a->npos; i++)
        if (cli_key_arg(a->pos[i], &k)) return CLI_EXIT_FAIL;
    if (!(c = cli_open(path, CLI_WRITE))) return CLI_EXIT_FAIL;
    for (i = 1; i < a->npos && status != CLI_EXIT_FAIL; i++) {
        cli_key_arg(a->pos[i], &k);
        rc = llmcache_del(c, &k);
        if (rc == LLMCACHE_OK) { printf("removed: %s\n", a->pos[i]); removed++; }
        else if (rc == LLMCACHE_MISS) { printf("not there: %s\n", a->pos[i]); absent++; status = CLI_EXIT_NOTCLEAN; }
        else { cli_error("%s: %s", path, cli_result(rc)); status = CLI_EXIT_FAIL; }
    }
    if (status != CLI_EXIT_FAIL)
        printf("%" PRIu64 " %s removed, %" PRIu64 " %s not there\n", removed, cli_entries(removed), absent,
               absent == 1 ? "key was" : "keys were");
    return cli_close(c, path, 1, status);
}

/* Deletes the entries stored under one schema hash. Not llmcache_purge_schema:
 * that one sees only entries whose value is held in memory, and a freshly opened
 * log holds none. */
static int cli_purge_schema(llmcache *c, const char *path, const unsigned char hash[32], uint64_t *removed) {
    cli_list l;
    size_t i;
    int rc = LLMCACHE_OK;
    if (cli_collect(c, path, &l)) return -1;
    for (i = 0; i < l.n && (rc == LLMCACHE_OK || rc == LLMCACHE_MISS); i++) {
        if (memcmp(l.v[i].meta.schema_hash, hash, 32) != 0) continue;
        rc = llmcache_del(c, &l.v[i].key);
        if (rc == LLMCACHE_OK) ++*removed;
    }
    free(l.v);
    if (rc == LLMCACHE_OK || rc == LLMCACHE_MISS) return 0;
    cli_error("%s: %s", path, cli_result(rc));
    return -1;
}

/* Expired entries are already invisible to an open cache and leave the file at
 * compaction; they number the keys live in the log ignoring expiry (as verify
 * counts them) minus the live entries. */
static int cli_purge_expired(llmcache *c, const char *path, uint64_t *removed) {
    llmcache_verify_report r;
    cli_list l;
    int rc = llmcache_verify(path, &r, NULL, NULL);
    if (rc != LLMCACHE_OK && rc != LLMCACHE_ECORRUPT) { cli_error("%s: %s", path, cli_result(rc)); return -1; }
    if (cli_collect(c, path, &l)) return -1;
    *removed = r.live > l.n ? r.live - l.n : 0;
    free(l.v);
    rc = llmcache_compact(c);
    if (rc == LLMCACHE_OK) return 0;
    cli_error("%s: %s", path, cli_result(rc));
    return -1;
}

static int cmd_purge(cli_args *a) {
    const char *path = a->pos[0];
    unsigned char hash[32];
    uint64_t removed = 0;
    llmcache *c;
    int failed;
    if (!a->schema == !a->expired) {
        cli_error("give exactly one of --schema HASH and --expired");
        return CLI_EXIT_FAIL;
    }
    if (a->schema && cli_parse_hash(a->schema, strlen(a->schema), hash)) {
        cli_error("--schema %s: expected a schema hash of 64 hex digits (see `llmcache ls --json`)", a->schema);
        return CLI_EXIT_FAIL;
    }
    if (!(c = cli_open(path, CLI_WRITE))) return CLI_EXIT_FAIL;
    failed = a->schema ? cli_purge_schema(c, path, hash, &removed) : cli_purge_expired(c, path, &removed);
    if (!failed)
        printf("purged %" PRIu64 " %s%s%s%s\n", removed, a->expired ? "expired " : "", cli_entries(removed),
               a->schema ? " with schema hash " : "", a->schema ? a->schema : "");
    return cli_close(c, path, 1, failed ? CLI_EXIT_FAIL : 0);
}

/* >>verify, repair, compact ------------------------------------------------------------ */
static int cli_file_size(const char *path, uint64_t *size) {
    struct stat st;
    if (stat(path, &st) != 0) {
        cli_open_error(path, cli_stat_result(errno));
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return 0;
}

#define CLI_HEADER_DAMAGED "the file header is damaged, the records are not: `llmcache repair --force` " \
                           "rebuilds the header and keeps every intact record"

/* What verify found, kept for --json (printed as it comes otherwise). */
typedef struct cli_damage { uint64_t offset, len; char *reason; } cli_damage;
typedef struct cli_verify { cli_progress p; int json, oom; cli_damage *v; size_t n, cap; } cli_verify;

static void cli_on_damage(void *ctx, uint64_t offset, uint64_t len, const char *reason) {
    cli_verify *x = (cli_verify *)ctx;   /* its first member is the bar (cli_on_progress) */
    char size[32];
    cli_progress_end(&x->p);   /* the report takes the line over */
    if (x->json) {
        if (x->n == x->cap) {
            size_t cap = x->cap ? x->cap * 2 : 16;
            cli_damage *v = (cli_damage *)realloc(x->v, cap * sizeof *v);
            if (!v) { x->oom = 1; return; }
            x->v = v;
            x->cap = cap;
        }
        x->v[x->n].offset = offset;
        x->v[x->n].len = len;
        x->v[x->n].reason = (char *)malloc(strlen(reason) + 1);
        if (!x->v[x->n].reason) { x->oom = 1; return; }
        strcpy(x->v[x->n++].reason, reason);
        return;
    }
    cli_format_size(len, size);
    printf("damaged: bytes %" PRIu64 "-%" PRIu64 " (%s): %s\n", offset, offset + len - (len > 0), size, reason);
}

static void cli_print_report(const llmcache_verify_report *r) {
    char size[32];
    printf("records: %" PRIu64 " intact (%" PRIu64 " puts, %" PRIu64 " deletes), %" PRIu64
           " live keys, last seq %" PRIu64 "\n", r->records, r->puts, r->deletes, r->live, r->last_seq);
    cli_format_size(r->damaged_bytes, size);
    printf("damage:  %" PRIu64 " region%s, %s\n", r->damaged_regions, r->damaged_regions == 1 ? "" : "s", size);
    cli_format_size(r->tail_bytes, size);
    printf("tail:    %s after the last intact record\n", size);
}

static void cli_print_report_json(const llmcache_verify_report *r, const cli_verify *x) {
    size_t i;
    printf("{\"clean\":%s,\"file_bytes\":%" PRIu64 ",\"records\":%" PRIu64 ",\"puts\":%" PRIu64
           ",\"deletes\":%" PRIu64 ",\"live\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"damaged_regions\":%" PRIu64
           ",\"damaged_bytes\":%" PRIu64 ",\"tail_bytes\":%" PRIu64 ",\"header_damaged\":%s,\"damage\":[",
           r->damaged_regions ? "false" : "true", r->file_bytes, r->records, r->puts, r->deletes, r->live,
           r->last_seq, r->damaged_regions, r->damaged_bytes, r->tail_bytes, r->header_damaged ? "true" : "false");
    for (i = 0; i < x->n; i++) {
        printf("%s{\"offset\":%" PRIu64 ",\"length\":%" PRIu64 ",\"reason\":", i ? "," : "", x->v[i].offset,
               x->v[i].len);
        cli_write_json_string(stdout, x->v[i].reason);
        putchar('}');
    }
    printf("]}\n");
}

static int cmd_verify(cli_args *a) {
    const char *path = a->pos[0];
    llmcache_verify_report r;
    llmcache_verify_options o;
    cli_verify x;
    uint64_t size;
    size_t i;
    int rc;
    if (cli_file_size(path, &size)) return CLI_EXIT_FAIL;
    memset(&x, 0, sizeof x);
    x.json = a->json;
    memset(&o, 0, sizeof o);
    o.on_damage = cli_on_damage;
    o.on_progress = cli_on_progress;
    o.ctx = &x;
    cli_progress_start(&x.p, "verifying", size);
    rc = llmcache_verify_ex(path, &o, &r);
    cli_progress_end(&x.p);
    if (rc == LLMCACHE_ECORRUPT && x.oom) rc = LLMCACHE_ENOMEM;
    if (rc != LLMCACHE_OK && rc != LLMCACHE_ECORRUPT) cli_open_error(path, rc);
    else if (a->json) cli_print_report_json(&r, &x);
    else {
        printf("%s: %s\n", path, rc == LLMCACHE_OK ? "clean"
                                : r.header_damaged ? "DAMAGED: " CLI_HEADER_DAMAGED
                                : "DAMAGED (`llmcache repair` keeps every intact record)");
        cli_print_report(&r);
    }
    for (i = 0; i < x.n; i++) free(x.v[i].reason);
    free(x.v);
    return rc == LLMCACHE_OK ? 0 : rc == LLMCACHE_ECORRUPT ? CLI_EXIT_NOTCLEAN : CLI_EXIT_FAIL;
}

static int cmd_repair(cli_args *a) {
    const char *path = a->pos[0];
    llmcache_verify_report r;
    llmcache_repair_options o;
    cli_progress p;
    uint64_t size;
    int rc;
    if (cli_file_size(path, &size)) return CLI_EXIT_FAIL;
    memset(&o, 0, sizeof o);
    o.force = a->force;
    o.on_progress = cli_on_progress;
    o.ctx = &p;
    cli_progress_start(&p, "repairing", size);
    rc = llmcache_repair_ex(path, &o, &r);
    cli_progress_end(&p);
    if (rc == LLMCACHE_EBUSY) {
        cli_error("%s: refused, nothing written: another process has the file open (close it there, then repair)",
                  path);
        return CLI_EXIT_BUSY;
    }
    if (rc == LLMCACHE_ECORRUPT && r.header_damaged) {
        cli_error("%s: refused, nothing written: %s", path, CLI_HEADER_DAMAGED);
        cli_print_report(&r);
        return CLI_EXIT_NOTCLEAN;
    }
    if (rc != LLMCACHE_OK) { cli_open_error(path, rc); return CLI_EXIT_FAIL; }
    printf("%s: %s\n", path, !r.damaged_regions ? "clean, nothing to repair"
                            : r.header_damaged ? "repaired: a new file header, every intact record kept"
                            : "repaired: kept every intact record, dropped the rest");
    cli_print_report(&r);
    return 0;
}

static int cmd_compact(cli_args *a) {
    const char *path = a->pos[0];
    llmcache *c;
    llmcache_stats before, after;
    cli_progress p;
    char from[32], to[32];
    int rc;
    cli_progress_start(&p, "compacting", 0);   /* nothing drawn before the compaction starts */
    if (!(c = cli_open_progress(path, CLI_WRITE, &p))) return CLI_EXIT_FAIL;
    llmcache_stats_get(c, &before);
    cli_progress_start(&p, "compacting", before.live_bytes);
    rc = llmcache_compact(c);
    cli_progress_end(&p);
    if (rc != LLMCACHE_OK) {
        cli_error("%s: %s", path, cli_result(rc));
        return cli_close(c, path, 0, CLI_EXIT_FAIL);
    }
    llmcache_stats_get(c, &after);
    cli_format_size(before.file_bytes, from);
    cli_format_size(after.file_bytes, to);
    printf("%s: %s -> %s, %" PRIu64 " %s\n", path, from, to, after.entries, cli_entries(after.entries));
    return cli_close(c, path, 1, 0);
}

static int cmd_train_dict(cli_args *a) {
    const char *path = a->pos[0];
    llmcache *c;
    if (!a->out) { cli_error("usage: llmcache train-dict FILE -o DICT"); return CLI_EXIT_FAIL; }
    if (!(c = cli_open(path, CLI_READ))) return CLI_EXIT_FAIL;
    return cli_close(c, path, 0, cli_train_dict(c, path, a->out));
}

/* >>export, import ----------------------------------------------------------------------- */
/* Export writes each line to a spool file as foreach reads the values (so no
 * value stays in memory), notes where it went, then copies the lines out in key
 * order. */
typedef struct cli_export {
    cli_list l;                  /* the entries, sorted by key */
    int form;                    /* cli_write_entry's with_value: 1, or 2 for --sorted */
    long *off, *len;             /* where each entry's line is in the spool; len 0: none */
    FILE *spool;
    cli_progress p;
} cli_export;

static int cli_spool_one(void *ctx, const llmcache_entry_info *info) {
    cli_export *x = (cli_export *)ctx;
    const llmcache_entry_info *at = (const llmcache_entry_info *)bsearch(info, x->l.v, x->l.n, sizeof *info,
                                                                         cli_key_order);
    long start = ftell(x->spool);
    if (!at) return 0;   /* stored after the listing */
    cli_write_entry(x->spool, info, x->form);
    x->off[at - x->l.v] = start;
    x->len[at - x->l.v] = ftell(x->spool) - start;
    cli_progress_add(&x->p, info->len);
    return ferror(x->spool) || start < 0 ? LLMCACHE_EIO : 0;
}

/* Copies the spooled lines to out in key order; 0, or -1 on a read or write error. */
static int cli_unspool(cli_export *x, FILE *out) {
    char buf[1 << 16];
    size_t i;
    for (i = 0; i < x->l.n; i++) {
        long left = x->len[i];
        if (left && fseek(x->spool, x->off[i], SEEK_SET) != 0) return -1;
        while (left > 0) {
            size_t n = fread(buf, 1, left < (long)sizeof buf ? (size_t)left : sizeof buf, x->spool);
            if (n == 0 || fwrite(buf, 1, n, out) != n) return -1;
            left -= (long)n;
        }
    }
    return 0;
}

static int cmd_export(cli_args *a) {
    const char *path = a->pos[0];
    llmcache *c = cli_open(path, CLI_READ);
    cli_export x;
    cli_output o;
    uint64_t total = 0, written = 0;
    size_t i;
    int rc, failed = 1;
    if (!c) return CLI_EXIT_FAIL;
    memset(&x, 0, sizeof x);
    x.form = a->sorted ? 2 : 1;
    if (cli_collect(c, path, &x.l)) return cli_close(c, path, 0, CLI_EXIT_FAIL);
    x.off = (long *)calloc(x.l.n + 1, sizeof *x.off);
    x.len = (long *)calloc(x.l.n + 1, sizeof *x.len);
    x.spool = tmpfile();
    if (!x.off || !x.len || !x.spool) {
        cli_error("cannot make a temporary file: %s", strerror(errno));
    } else if (cli_output_open(&o, a->out) == 0) {
        for (i = 0; i < x.l.n; i++) total += x.l.v[i].len;
        cli_progress_start(&x.p, "exporting", total);
        rc = llmcache_foreach(c, 1, cli_spool_one, &x);
        cli_progress_end(&x.p);
        if (rc != LLMCACHE_OK) {
            cli_error("%s: %s%s", path, rc == LLMCACHE_EIO ? "cannot write the temporary file" : cli_result(rc),
                      cli_xform_hint(rc));
        } else if (cli_unspool(&x, o.f)) {
            cli_error("%s: cannot copy the temporary file: %s", o.path, strerror(errno));
        } else {
            int to_file = o.tmp != NULL;
            failed = cli_output_commit(&o);
            for (i = 0; i < x.l.n; i++) written += x.len[i] != 0;
            if (!failed && to_file)
                printf("exported %" PRIu64 " %s to %s\n", written, cli_entries(written), a->out);
        }
        if (failed) cli_output_abort(&o);
    }
    if (x.spool) fclose(x.spool);
    free(x.off);
    free(x.len);
    free(x.l.v);
    return cli_close(c, path, 0, failed ? CLI_EXIT_FAIL : cli_damage_status(c, path));
}

typedef struct cli_import { uint64_t stored, expired; } cli_import;

/* Reads every line of an export (blank lines skipped). With c, stores each entry;
 * without, only checks them. Returns 0, or -1 reported with the line number. */
static int cli_import_lines(llmcache *c, const char *name, const char *buf, size_t len, cli_import *n) {
    const char *line = buf, *end = buf + len;
    size_t lineno = 0;
    int64_t now = cli_now_ms();
    cli_progress p;
    int rc = LLMCACHE_OK;
    cli_progress_start(&p, "importing", c ? len : 0);
    for (; line < end && rc == LLMCACHE_OK; line++) {
        const char *eol = (const char *)memchr(line, '\n', (size_t)(end - line)), *err;
        llmcache_entry_info e;
        size_t at;
        char *owned;
        if (!eol) eol = end;
        lineno++;
        if (strspn(line, " \t\r") >= (size_t)(eol - line)) { line = eol; continue; }
        if (cli_parse_entry(line, (size_t)(eol - line), &e, &owned, &err, &at)) {
            cli_error("%s: line %zu, column %zu: %s", name, lineno, at + 1, err);
            rc = LLMCACHE_EINVAL;
            break;
        }
        if (c && e.expires_ms && e.expires_ms <= now) n->expired++;
        else if (c && (rc = llmcache_put_at(c, &e.key, e.data, e.len, e.created_ms ? e.created_ms : now,
                                            e.expires_ms, &e.meta)) != LLMCACHE_OK)
            cli_error("%s: line %zu: %s", name, lineno, cli_result(rc));
        else if (c) n->stored++;
        free(owned);
        cli_progress_add(&p, (uint64_t)(eol + 1 - line));
        line = eol;
    }
    cli_progress_end(&p);
    return rc == LLMCACHE_OK ? 0 : -1;
}

static int cmd_import(cli_args *a) {
    const char *path = a->pos[0], *input = a->npos > 1 ? a->pos[1] : NULL;
    const char *name = input && strcmp(input, "-") ? input : "stdin";
    cli_import n = { 0, 0 };
    llmcache *c;
    char *buf;
    size_t len;
    int failed;
    if (cli_read_all(input, &buf, &len, SIZE_MAX, NULL)) return CLI_EXIT_FAIL;
    if (cli_import_lines(NULL, name, buf, len, &n) || !(c = cli_open(path, CLI_CREATE))) { free(buf); return CLI_EXIT_FAIL; }
    failed = cli_import_lines(c, name, buf, len, &n);
    free(buf);
    if (failed) fprintf(stderr, "(%" PRIu64 " entries were stored before the error)\n", n.stored);
    else printf("imported %" PRIu64 " %s (%" PRIu64 " already expired, skipped)\n", n.stored,
                cli_entries(n.stored), n.expired);
    return cli_close(c, path, 1, failed ? CLI_EXIT_FAIL : 0);
}

/* >>explain, diff (cli_replay.c) ---------------------------------------------------- */
static int cmd_explain(cli_args *a) {
    return cli_explain(a->pos[0], a->npos > 1 ? a->pos[1] : NULL, a->ns, a->endpoint, a->schema, a->ignore, a->near);
}

static int cmd_diff(cli_args *a) { return cli_diff(a->pos[0], a->pos[1]); }

/* >>batch (tools/cli_batch.c) -------------------------------------------------------- */
static int cmd_batch(cli_args *a) {
    llmcache *c;
    if (!a->cache) { cli_error("--cache FILE is needed"); return CLI_EXIT_FAIL; }
    if (!(c = cli_open(a->cache, CLI_CREATE))) return CLI_EXIT_FAIL;
    return cli_close(c, a->cache, 1, cli_batch_run(c, a->pos[0], a->endpoint, a->concurrency, a->out));
}

/* >>commands and help --------------------------------------------------------------- */
#define CLI_FAIL_OPEN   "FILE missing or unreadable, empty, a directory, not an llmcache file (or of a newer " \
                        "version), an I/O error"
/* The options that load a transform (tools/cli_xform.c), in usages and helps. */
#define CLI_XFORM_USAGE " [--zstd | --zstd-dict DICT | --key-file KEY]"
#define CLI_XFORM_HELP \
    "\nValues transformed at rest (docs/FORMAT.md): a cache written with a transform\n" \
    "is read (and written) with the same one:\n" \
    "  --zstd             zstd-compressed values (examples/transform_zstd.c)\n" \
    "  --zstd-dict DICT   zstd with the dictionary DICT (`train-dict` makes one)\n" \
    "  --key-file KEY     values encrypted with XChaCha20-Poly1305 (examples/\n" \
    "                     transform_sodium.c); KEY holds 32 bytes or 64 hex digits\n" \
    "Values written without a transform read with or without these options."
#define CLI_EXIT_DAMAGED "the file is damaged: what could be read was printed, the rest is said on stderr"
#define CLI_FAIL_CREATE "FILE unreadable or not creatable, not an llmcache file (or of a newer version), " \
                        "an I/O error"
static const cli_command cli_commands[] = {
    { "canon", cmd_canon, 0, 0, 1, "canon [FILE]",
      "print the RFC 8785 canonical form of a JSON document",
      "Reads JSON from FILE (or stdin) and prints its RFC 8785 (JCS) canonical form and a\n"
      "newline. Input that RFC 8785 / I-JSON refuses is an error that gives the reason\n"
      "and where: line, column (in bytes, from 1) and byte offset (from 0). Reasons:\n"
      "empty input, byte-order mark, unexpected character, unexpected end of input,\n"
      "trailing data after the value, invalid UTF-8, unescaped control character,\n"
      "invalid escape, lone surrogate, duplicate member name, malformed number, number\n"
      "out of range (beyond a double), nesting deeper than the limit.",
      NULL, "FILE unreadable, invalid JSON", NULL },
    { "key", cmd_key, O_NS | O_ENDPOINT | O_SCHEMA | O_IGNORE, 0, 1,
      "key [--ns NS] [--endpoint URL] [--schema FILE] [--ignore PTR]... [FILE]",
      "print the cache key of a request body",
      "Prints the key (64 hex digits) llmcache stores a request under:\n"
      "  SHA-256(\"llmcache/key/v1\" 0x00 NS 0x00 URL 0x00 schema_hash canonical(body))\n"
      "with schema_hash = SHA-256(canonical(schema)), or 32 zero bytes without --schema.\n"
      "The request body is read from FILE (or stdin). Invalid JSON is reported as by\n"
      "`canon`.\n\n"
      "  --ns NS          namespace (tenant); default empty\n"
      "  --endpoint URL   provider URL or name of the model service; default empty\n"
      "  --schema FILE    JSON Schema of the expected result\n"
      "  --ignore PTR     a JSON Pointer (RFC 6901) removed from the body first, as\n"
      "                   llmcache_config.key_ignore does; repeatable",
      NULL, "FILE or the schema unreadable, invalid JSON in either, a malformed pointer", NULL },
    { "stats", cmd_stats, O_JSON | O_PROMETHEUS | O_PRICES | O_NS | O_XFORM, 1, 1,
      "stats FILE [--json | --prometheus] [--prices FILE.json] [--ns NS]" CLI_XFORM_USAGE,
      "size, live and dead bytes, ages, expiry and recovery of a cache file",
      "Prints the file size; the entries and the bytes of their values; live and dead\n"
      "bytes (dead: overwritten, deleted or expired records, which `compact` drops); the\n"
      "oldest and newest entries; how many entries expire within the hour; and what\n"
      "reading skipped (damaged regions, a torn tail). It opens the file read-only and\n"
      "changes nothing beside it; a damaged file is said so on stderr (exit status 1).\n\n"
      "  --json   one JSON object on one line instead: file_bytes, entries, value_bytes,\n"
      "           live_bytes, dead_bytes, oldest_ms, newest_ms (0: no entries),\n"
      "           expiring_within_1h, with_ttl, records_recovered, records_skipped,\n"
      "           torn_bytes, and accounting: per namespace and model the live entries,\n"
      "           their bytes, recorded latency, tokens and cost (docs/ACCOUNTING.md)\n"
      "  --prometheus  the same accounting in the Prometheus text format (llmcache_*)\n"
      "  --prices FILE.json  prices for the costs: {\"MODEL\":{\"input\":N,\"output\":N,\n"
      "           \"cached_input\":N,\"cache_write\":N}}, micro-dollars per million tokens\n"
      "  --ns NS  the namespace to label the rows with (a file does not record it)",
      CLI_EXIT_DAMAGED, CLI_FAIL_OPEN, NULL },
    { "ls", cmd_ls, O_JSON | O_XFORM, 1, 1, "ls FILE [--json]" CLI_XFORM_USAGE,
      "list the entries: key, size, stored, expires, schema hash",
      "Lists the live entries sorted by key: key, value size, age, time left to expiry\n"
      "and the first 16 hex digits of the schema hash ('-': none), then a total. Opens\n"
      "the file read-only and changes nothing beside it.\n\n"
      "  --json   one JSON object per line instead, with key, size, created_ms,\n"
      "           expires_ms (0: never), seq and meta (as in `export --help`)",
      CLI_EXIT_DAMAGED, CLI_FAIL_OPEN, NULL },
    { "get", cmd_get, O_VERBOSE | O_RAW | O_XFORM, 2, 2, "get FILE KEY [--raw] [-v]" CLI_XFORM_USAGE,
      "write the value stored under KEY to stdout",
      "Writes the value stored under KEY to stdout, byte for byte. An entry stored by\n"
      "llmcache_call holds a call envelope (flag 1; docs/ENVELOPE.md): for it, get writes\n"
      "the response body the provider sent (for a stream, all its bytes).\n\n"
      "  --raw           write the stored bytes as they are, envelope included\n"
      "  -v, --verbose   also print the metadata on stderr, as \"name  value\" lines: key,\n"
      "                  stored size, stored and expiry times, schema hash, HTTP status,\n"
      "                  flags (call envelope, stream, model), latency, token counts;\n"
      "                  for an envelope also a \"response\" line: its HTTP status, body\n"
      "                  and model sizes, and stream or not (events, last one's ms)",
      "no live entry for KEY", CLI_FAIL_OPEN ", a call envelope that cannot be decoded (without --raw)", NULL },
    { "put", cmd_put, O_TTL | O_RAW | O_EMPTY | O_XFORM, 2, 2, "put FILE KEY [--ttl DURATION] [--raw] [--empty]" CLI_XFORM_USAGE,
      "store stdin as the value of KEY",
      "Stores the bytes read from stdin under KEY, replacing any previous value.\n"
      "Creates FILE when it does not exist. What is stored: stdin byte for byte, except\n"
      "that when stdin is a JSON text (one `canon` accepts) followed by a single newline\n"
      "(LF or CRLF, as echo, jq and editors end it), that one newline is not stored.\n"
      "Binary data, plain text and JSON without a final newline are stored exactly.\n"
      "Stdin is read whole before FILE is opened: an empty stdin, or one longer than the\n"
      "largest value (LLMCACHE_MAX_VALUE, 1 GiB by default), is refused and nothing is\n"
      "created.\n\n"
      "  --ttl DURATION   time to live: 500ms, 10s, 30m, 1h, 2d, or a sum such as 1h30m;\n"
      "                   a bare number is seconds. Default: the entry never expires.\n"
      "  --raw            store every byte, a final newline after JSON included\n"
      "  --empty          allow an empty stdin: store an empty value",
      NULL, "stdin empty (without --empty) or over the limit, " CLI_FAIL_CREATE, NULL },
    { "rm", cmd_rm, 0, 2, -1, "rm FILE KEY...",
      "delete the entries stored under the KEYs",
      "Deletes the entry stored under each KEY, printing \"removed: KEY\" or, for a KEY\n"
      "without a live entry, \"not there: KEY\" (the other KEYs are still deleted), then\n"
      "a count of both.",
      "a KEY had no live entry", CLI_FAIL_OPEN ", a write error", NULL },
    { "purge", cmd_purge, O_SCHEMA | O_EXPIRED, 1, 1, "purge FILE (--schema HASH | --expired)",
      "delete the entries of one schema, or the expired ones",
      "Deletes a group of entries and prints how many went.\n\n"
      "  --schema HASH   every entry stored with this schema hash (64 hex digits, as\n"
      "                  `ls --json` shows it; 64 zeros: the entries without a schema);\n"
      "                  `compact` then reclaims the space they took in the file\n"
      "  --expired       every entry whose time to live has passed; expired entries\n"
      "                  are never served, and this compacts the file to drop them",
      NULL, CLI_FAIL_OPEN ", a write error", NULL },
    { "verify", cmd_verify, O_JSON, 1, 1, "verify FILE [--json]",
      "check a cache file record by record; never modifies it",
      "Reads the log read-only and checks every record. Prints each damaged region as\n"
      "  damaged: bytes FIRST-LAST (SIZE): REASON\n"
      "then a summary: intact records, live keys, damaged regions and their bytes, and\n"
      "the tail: the bytes after the last intact record. A tail of zeros is space\n"
      "reserved ahead of writes, not damage; any other tail is also a damaged region\n"
      "(its bytes count in both figures). A file header that fails its checks is\n"
      "damage (bytes 0-63, \"file header damaged\") when the records show the file is a\n"
      "cache file: an intact record right after the header, or intact records making\n"
      "up at least half of the rest; without them the file is not a cache file.\n\n"
      "  --json   one JSON object on one line instead: clean, file_bytes, records, puts,\n"
      "           deletes, live, last_seq, damaged_regions, damaged_bytes, tail_bytes,\n"
      "           header_damaged and damage, a list of {offset, length, reason}",
      "the file is damaged (its header included)", CLI_FAIL_OPEN, NULL },
    { "repair", cmd_repair, O_FORCE, 1, 1, "repair FILE [--force]",
      "rewrite a damaged cache file keeping every intact record",
      "Writes a clean copy of FILE holding every intact record (damaged regions and a\n"
      "torn tail are dropped), syncs it and renames it over FILE, then prints what was\n"
      "found, as `verify` does. A clean file (a tail of zeros, space reserved ahead of\n"
      "writes, is not damage) is left as it is: \"clean, nothing to repair\". While\n"
      "another process has FILE open, repair refuses and writes nothing (status 3); it\n"
      "keeps processes from opening FILE until it is done. A damaged file header (see\n"
      "`verify --help`) is refused (status 1) unless --force. A file that is not a\n"
      "cache file is never modified, with or without --force.\n\n"
      "  --force   also rebuild a file whose header is damaged: a new header and every\n"
      "            intact record",
      "refused, nothing written: the file header is damaged (--force rebuilds it)",
      CLI_FAIL_OPEN ", a write error",
      "refused, nothing written: another process has FILE open" },
    { "compact", cmd_compact, 0, 1, 1, "compact FILE",
      "rewrite a cache file with its live entries only",
      "Rewrites the log keeping the live entries only: overwritten, deleted and expired\n"
      "records go. Crash-safe (new file, sync, rename); processes that have the file\n"
      "open switch to the new one.",
      NULL, CLI_FAIL_OPEN ", a write error", NULL },
    { "export", cmd_export, O_OUT | O_SORTED | O_XFORM, 1, 1, "export FILE [-o OUT] [--sorted]" CLI_XFORM_USAGE,
      "write every entry as JSON Lines",
      "Writes one JSON object per line, sorted by key:\n"
      "  {\"key\":\"<64 hex>\",\"value\":<JSON>,\"created_ms\":N,\"expires_ms\":N,\n"
      "   \"meta\":{\"schema_hash\":\"<64 hex>\",\"status\":N,\"flags\":N,\"latency_ms\":N,\n"
      "           \"prompt_tokens\":N,\"completion_tokens\":N}}\n"
      "\"value\" holds the value's own bytes when they are one line of valid JSON without\n"
      "surrounding whitespace (so `jq .value` reads them, and reading the member's raw\n"
      "text gives the exact bytes back); any other value is written as\n"
      "\"value_b64\":\"<base64>\" instead. Times are milliseconds since the Unix epoch;\n"
      "expires_ms 0 means never. `import` reads this format back exactly.\n\n"
      "  -o, --output OUT   write to OUT instead of stdout; OUT appears complete or not\n"
      "                     at all (a temporary file beside it, renamed at the end)\n"
      "  --sorted           a cassette to keep in git: llmcache_call answers are written\n"
      "                     readable, \"envelope\":{\"status\":N,\"request\":<JSON>,\n"
      "                     \"body\":<JSON> (one line; else \"body_text\":\"...\" or\n"
      "                     \"body_b64\") or, for a stream,\n"
      "                     \"events\":[{\"at_ms\":N,\"data\":\"...\"}]} instead of \"value\";\n"
      "                     the same cache gives the same bytes on any machine, and\n"
      "                     export --sorted | import | export --sorted gives them back",
      CLI_EXIT_DAMAGED, CLI_FAIL_OPEN ", OUT cannot be written", NULL },
    { "import", cmd_import, O_XFORM, 1, 2, "import FILE [INPUT]" CLI_XFORM_USAGE,
      "store the entries of a JSON Lines export",
      "Reads the JSON Lines of `export` from INPUT (or stdin) and stores every entry in\n"
      "FILE (created when absent) with its times and metadata. An entry already expired\n"
      "is skipped; a key already in FILE is replaced. Every line is checked before\n"
      "anything is stored, so a malformed line (reported with its line and column and\n"
      "the reason) leaves FILE untouched. Blank lines and unknown members are ignored; a\n"
      "missing created_ms means now.",
      NULL, "INPUT unreadable, a malformed line, " CLI_FAIL_CREATE, NULL },
    { "explain", cmd_explain, O_NS | O_ENDPOINT | O_SCHEMA | O_IGNORE | O_NEAR, 1, 2,
      "explain [--ns NS] [--endpoint URL] [--schema FILE] [--ignore PTR]... [--near] REQUEST.json [CACHE]",
      "why a request hits or misses: its canonical form, key parts and nearest entries",
      "Prints the canonical form of the request body that is hashed (after removing the\n"
      "--ignore pointers), the parts of its key (namespace, endpoint, schema hash), the\n"
      "key, and given CACHE (a cache file or an export) whether it is there. With --near,\n"
      "also the three stored requests of the same namespace, endpoint and schema that\n"
      "differ least from this one (answers stored with their request, see\n"
      "llmcache_config.omit_request), each with a JSON diff: one line per leaf, by JSON\n"
      "Pointer, \"-\" for this request and \"+\" for the stored one.\n\n"
      "  --ns, --endpoint, --schema, --ignore   as for `key`\n"
      "  --near             list the nearest stored requests",
      "the request is not in CACHE (a replay would miss)", "REQUEST or CACHE unreadable, invalid JSON, a malformed pointer", NULL },
    { "diff", cmd_diff, 0, 2, 2, "diff A B",
      "entries only in A, only in B, and with another answer",
      "Compares two caches, each a cache file or an export (cassette): keys only in A,\n"
      "only in B, and answers that changed (status, body or model; times and latency\n"
      "are not compared), each with its stored request and, for JSON bodies, a JSON\n"
      "diff (\"-\" A, \"+\" B) of the canonical bodies. The last line counts them.",
      "A and B differ", "A or B unreadable or malformed", NULL },
    { "batch", cmd_batch, O_CACHE | O_ENDPOINT | O_CONCURRENCY | O_OUT, 1, 1,
      "batch REQUESTS.jsonl --cache FILE --endpoint URL [--concurrency N] [-o RESULTS.jsonl]",
      "make many provider requests through a cache file; resumes for free",
      "Sends each request of REQUESTS.jsonl (\"-\": stdin) to URL through the cache FILE\n"
      "(created when absent), at most N at a time (default 8), and writes one result\n"
      "line per request, in input order. An input line is a request body, or an object\n"
      "{\"custom_id\": ..., \"body\": {...}} as in OpenAI's batch files (other members such\n"
      "as \"method\" and \"url\" are ignored); blank lines are skipped. Identical requests\n"
      "are sent once. Answers come from FILE when it has them; 429, 5xx and transport\n"
      "failures are retried (4 times, with backoff, honouring Retry-After). Every answer\n"
      "is stored as it arrives, so a batch that was interrupted and is run again calls\n"
      "only what had not finished. Result lines:\n"
      "  {\"line\":N,\"custom_id\":ID|null,\"status\":HTTP,\"from_cache\":BOOL,\n"
      "   \"tokens\":{\"prompt\":N,\"completion\":N}|null,\"error\":null|\"REASON\",\n"
      "   \"body\":<the response JSON, canonical>}   (\"body_text\":\"...\" when not JSON)\n"
      "A progress line is drawn on stderr when it is a terminal; a summary line ends.\n"
      "The API key comes from the environment: ANTHROPIC_API_KEY for a URL ending in\n"
      "/messages, else OPENAI_API_KEY (sent as a Bearer token).\n\n"
      "  --cache FILE        the cache file (required)\n"
      "  --endpoint URL      the API's full URL, e.g. https://api.openai.com/v1/chat/completions\n"
      "  --concurrency N     requests in flight at most, 1 to 1024; default 8\n"
      "  -o, --output OUT    write the results to OUT instead of stdout (appears whole)",
      "some requests failed (their lines say why); the others' results were written",
      "REQUESTS unreadable or a malformed line, no --cache or --endpoint, built without "
      "libcurl, " CLI_FAIL_CREATE, NULL },
    { "train-dict", cmd_train_dict, O_OUT | O_XFORM, 1, 1, "train-dict FILE -o DICT" CLI_XFORM_USAGE,
      "train a zstd dictionary on the values of a cache (for --zstd-dict)",
      "Reads the values of FILE (the first 128 KiB of each, 128 MiB in all) and trains a\n"
      "zstd dictionary of at most 64 KiB on them (ZDICT_trainFromBuffer), written to\n"
      "DICT. Caches whose values are compressed with it (examples/transform_zstd.c, or\n"
      "`--zstd-dict DICT` here) store short answers in much fewer bytes. A few hundred\n"
      "values make a good sample. Needs an llmcache built with libzstd.\n\n"
      "  -o, --output DICT  where to write the dictionary (appears complete or not at all)",
      NULL, CLI_FAIL_OPEN ", too few values to train on, DICT cannot be written", NULL },
};
#define CLI_NCOMMANDS (sizeof cli_commands / sizeof cli_commands[0])

static void cli_usage(FILE *f) {
    size_t i;
    fprintf(f, "llmcache %s: look inside, check, repair, move and warm llmcache files\n\n"
               "usage: llmcache COMMAND [ARGUMENTS]\n"
               "       llmcache COMMAND --help    (or llmcache help COMMAND) for its details\n"
               "       llmcache --version\n\ncommands:\n", LLMCACHE_VERSION_STRING);
    for (i = 0; i < CLI_NCOMMANDS; i++) fprintf(f, "  %-8s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(f, "  %-8s %s\n", "serve", "a caching proxy for OpenAI- and Anthropic-compatible APIs");
    fprintf(f, "\nFILE is a cache file (llmcache_config.path); KEY is 64 hex digits, as `ls`\n"
               "prints them and `key` computes them. Options may come anywhere.\n\n"
               "exit status:\n"
               "  0  success\n"
               "  1  verify, stats, ls, export: the file is damaged; get, rm: no live entry\n"
               "     for a KEY; repair: refused, the file header is damaged (without --force)\n"
               "  2  usage error, or a failure: unreadable file, not an llmcache file,\n"
               "     invalid JSON, input refused by put, input/output error\n"
               "  3  repair: refused, another process has the file open\n"
               "(`llmcache COMMAND --help` says what each status means for COMMAND)\n");
}

static void cli_command_help(const cli_command *cmd) {
    const char *p = cmd->exit2;
    size_t col;
    printf("usage: llmcache %s\n\n%s\n%s\n  -h, --help   this help\n\nexit status:\n  0  success\n", cmd->usage, cmd->help,
           cmd->opts & O_XFORM ? CLI_XFORM_HELP "\n" : "");
    if (cmd->exit1) printf("  1  %s\n", cmd->exit1);
    printf("  2  usage error; or a failure:");
    for (col = 30; *p; ) {   /* the failures, wrapped at 80 columns */
        size_t word = strcspn(p, " ");
        if (col + 1 + word > 80) { printf("\n    "); col = 4; }
        printf(" %.*s", (int)word, p);
        col += 1 + word;
        p += word + (p[word] == ' ');
    }
    putchar('\n');
    if (cmd->exit3) printf("  3  %s\n", cmd->exit3);
}

int main(int argc, char **argv) {
    const cli_command *cmd = NULL;
    const char *name = argc > 1 ? argv[1] : "";
    int help = strcmp(name, "help") == 0, bad, status;
    size_t i;
    cli_args a;
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || (help && argc == 2)) { cli_usage(stdout); return 0; }
    if (strcmp(name, "--version") == 0) { printf("llmcache %s\n", LLMCACHE_VERSION_STRING); return 0; }
    if (argc < 2) { cli_usage(stderr); return CLI_EXIT_FAIL; }
    if (strcmp(name, "serve") == 0) return cli_serve_main(argc - 2, argv + 2);   /* own options */
    if (help && argc > 2 && strcmp(argv[2], "serve") == 0) { char h[] = "--help"; char *hv[1]; hv[0] = h; return cli_serve_main(1, hv); }
    if (help) name = argv[2];
    for (i = 0; i < CLI_NCOMMANDS; i++)
        if (strcmp(name, cli_commands[i].name) == 0) cmd = &cli_commands[i];
    if (!cmd) { cli_error("unknown command '%s'; `llmcache --help` lists them", name); return CLI_EXIT_FAIL; }
    if (help) { cli_command_help(cmd); return 0; }
    cli_cmd = cmd->name;
    bad = cli_parse_args(cmd, argc - 2, argv + 2, &a);
    if (!bad && a.help) { cli_command_help(cmd); return 0; }
    if (bad || a.npos < cmd->min_pos || (cmd->max_pos >= 0 && a.npos > cmd->max_pos)) {
        cli_error("usage: llmcache %s\n(`llmcache %s --help` explains)", cmd->usage, cmd->name);
        return CLI_EXIT_FAIL;
    }
    if (cli_xform_setup(a.zstd, a.zstd_dict, a.key_file)) return CLI_EXIT_FAIL;
    status = cmd->run(&a);
    cli_xform_end();
    if (status != CLI_EXIT_FAIL && (fflush(stdout) != 0 || ferror(stdout))) {
        cli_error("stdout: %s", strerror(errno));
        return CLI_EXIT_FAIL;
    }
    return status;
}
