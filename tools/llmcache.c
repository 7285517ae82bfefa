/* tools/llmcache.c - the llmcache command-line tool, a thin front end on llmcache.h:
 * canon, key, stats, ls, get, put, rm, purge, verify, repair, compact, export, import.
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
    int json, verbose, expired, help;
} cli_args;

enum { O_NS = 1, O_ENDPOINT = 2, O_SCHEMA = 4, O_TTL = 8, O_OUT = 16, O_JSON = 32, O_VERBOSE = 64,
       O_EXPIRED = 128 };

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
};

typedef struct cli_command {
    const char *name;
    int (*run)(cli_args *a);
    unsigned opts;               /* O_* accepted */
    int min_pos, max_pos;        /* max_pos -1: any number */
    const char *usage, *summary, *help;
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
/* Canonical form of json (out NULL: just check it); reports where invalid JSON breaks. */
static int cli_canon(const char *name, const char *json, size_t len, char **out, size_t *out_len) {
    char *canon = NULL;
    size_t off = 0, i, line = 1, col = 1;
    int rc = llmcache_canonicalize_ex(json, len, &canon, out_len, &off);
    if (rc == LLMCACHE_EINVAL) {
        for (i = 0; i < off && i < len; i++, col++)
            if (json[i] == '\n') { line++; col = 0; }
        cli_error("%s: invalid JSON (or JSON that RFC 8785 refuses) at line %zu, column %zu (byte %zu)",
                  name, line, col, off);
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

/* Opens the cache at path (values beyond the default memory bound stay on disk).
 * must_exist keeps a mistyped name from becoming a new, empty cache. Returns NULL
 * after reporting the error. */
static llmcache *cli_open(const char *path, int must_exist) {
    struct stat st;
    llmcache_config cfg;
    llmcache *c = NULL;
    int rc;
    if (stat(path, &st) != 0 && (must_exist || errno != ENOENT)) {
        cli_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.max_entries = CLI_MAX_ENTRIES;
    rc = llmcache_open(&c, &cfg);
    if (rc != LLMCACHE_OK) { cli_error("%s: %s", path, cli_result(rc)); return NULL; }
    return c;
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
    if (cli_read_all(path, &json, &len)) return CLI_EXIT_FAIL;
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
    if (cli_read_all(path, &body, &body_len)) return CLI_EXIT_FAIL;
    if (a->schema && cli_read_all(a->schema, &schema, &schema_len)) { free(body); return CLI_EXIT_FAIL; }
    if (cli_canon(path ? path : "stdin", body, body_len, NULL, NULL) == 0 &&
        (!schema || cli_canon(a->schema, schema, schema_len, NULL, NULL) == 0)) {
        memset(&req, 0, sizeof req);
        req.endpoint = a->endpoint;
        req.body = body;
        req.body_len = body_len;
        req.schema = schema;
        req.schema_len = schema_len;
        rc = llmcache_key_for(&k, a->ns, &req);
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
    llmcache *c = cli_open(path, 1);
    llmcache_stats st;
    cli_list l;
    uint64_t values = 0, soon = 0, with_ttl = 0, dead;
    int64_t oldest = 0, newest = 0;
    char size[32], when[96];
    size_t i;
    if (!c) return CLI_EXIT_FAIL;
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
    cli_format_size(st.bytes_truncated, size);
    printf("%-12s %" PRIu64 " intact, %" PRIu64 " damaged records skipped, %s of torn tail cut off\n",
           "recovery", st.records_recovered, st.records_skipped, size);
    free(l.v);
    return cli_close(c, path, 0, 0);
}

static int cmd_ls(cli_args *a) {
    const char *path = a->pos[0];
    llmcache *c = cli_open(path, 1);
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
    return cli_close(c, path, 0, 0);
}

static void cli_print_value_info(const char *key_hex, const llmcache_value *v) {
    char stored[96], expires[96], schema[65];
    int64_t now = cli_now_ms();
    cli_format_moment(v->created_ms, now, stored);
    cli_format_moment(v->expires_ms, now, expires);
    fprintf(stderr, "key          %s\nsize         %zu bytes\nstored       %s\nexpires      %s\n", key_hex,
            v->len, stored, expires);
    cli_hash_hex(v->meta.schema_hash, schema);
    fprintf(stderr, "schema hash  %s\n", cli_is_zero(v->meta.schema_hash, 32) ? "- (none)" : schema);
    fprintf(stderr, "status       %" PRId32 "\nflags        %" PRIu32 "\nlatency      %" PRId64 " ms\n",
            v->meta.status, v->meta.flags, v->meta.latency_ms);
    fprintf(stderr, "tokens       %" PRId64 " prompt, %" PRId64 " completion\n", v->meta.prompt_tokens,
            v->meta.completion_tokens);
}

static int cmd_get(cli_args *a) {
    const char *path = a->pos[0];
    llmcache_key k;
    llmcache_value v;
    llmcache *c;
    int rc;
    if (cli_key_arg(a->pos[1], &k) || !(c = cli_open(path, 1))) return CLI_EXIT_FAIL;
    rc = llmcache_get(c, &k, &v);
    if (rc == LLMCACHE_MISS) {
        cli_error("%s: no entry for key %s", path, a->pos[1]);
        return cli_close(c, path, 0, CLI_EXIT_NOTCLEAN);
    }
    if (rc != LLMCACHE_OK) {
        cli_error("%s: %s", path, cli_result(rc));
        return cli_close(c, path, 0, CLI_EXIT_FAIL);
    }
    if (a->verbose) cli_print_value_info(a->pos[1], &v);
    fwrite(v.data, 1, v.len, stdout);
    llmcache_value_free(&v);
    return cli_close(c, path, 0, 0);
}

/* >>put, rm, purge ------------------------------------------------------------------- */
static int cmd_put(cli_args *a) {
    const char *path = a->pos[0];
    llmcache_key k;
    llmcache *c;
    int64_t ttl = -1;   /* never expires */
    char *value;
    size_t len;
    int rc;
    if (cli_key_arg(a->pos[1], &k)) return CLI_EXIT_FAIL;
    if (a->ttl && (cli_parse_duration(a->ttl, &ttl) || ttl <= 0)) {
        cli_error("--ttl %s: expected a positive duration such as 1h, 30m, 10s, 500ms, 2d or 1h30m", a->ttl);
        return CLI_EXIT_FAIL;
    }
    if (cli_read_all(NULL, &value, &len)) return CLI_EXIT_FAIL;
    if (!(c = cli_open(path, 0))) { free(value); return CLI_EXIT_FAIL; }
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
    int i, rc, status = 0;
    for (i = 1; i < a->npos; i++)
        if (cli_key_arg(a->pos[i], &k)) return CLI_EXIT_FAIL;
    if (!(c = cli_open(path, 1))) return CLI_EXIT_FAIL;
    for (i = 1; i < a->npos && status != CLI_EXIT_FAIL; i++) {
        cli_key_arg(a->pos[i], &k);
        rc = llmcache_del(c, &k);
        if (rc == LLMCACHE_MISS) { cli_error("%s: no entry for key %s", path, a->pos[i]); status = CLI_EXIT_NOTCLEAN; }
        else if (rc != LLMCACHE_OK) { cli_error("%s: %s", path, cli_result(rc)); status = CLI_EXIT_FAIL; }
    }
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
    if (!(c = cli_open(path, 1))) return CLI_EXIT_FAIL;
    failed = a->schema ? cli_purge_schema(c, path, hash, &removed) : cli_purge_expired(c, path, &removed);
    if (!failed)
        printf("purged %" PRIu64 " %s%s%s%s\n", removed, a->expired ? "expired " : "", cli_entries(removed),
               a->schema ? " with schema hash " : "", a->schema ? a->schema : "");
    return cli_close(c, path, 1, failed ? CLI_EXIT_FAIL : 0);
}

/* >>verify, repair, compact ------------------------------------------------------------ */
static int cli_file_size(const char *path, uint64_t *size) {
    struct stat st;
    if (stat(path, &st) != 0) { cli_error("%s: %s", path, strerror(errno)); return -1; }
    *size = (uint64_t)st.st_size;
    return 0;
}

static void cli_on_damage(void *ctx, uint64_t offset, uint64_t len, const char *reason) {
    char size[32];
    cli_progress_end((cli_progress *)ctx);   /* the report takes the line over */
    cli_format_size(len, size);
    printf("damaged: bytes %" PRIu64 "-%" PRIu64 " (%s): %s\n", offset, offset + len - (len > 0), size, reason);
}

static void cli_print_report(const llmcache_verify_report *r) {
    char size[32], tail[32];
    printf("records: %" PRIu64 " intact (%" PRIu64 " puts, %" PRIu64 " deletes), %" PRIu64
           " live keys, last seq %" PRIu64 "\n", r->records, r->puts, r->deletes, r->live, r->last_seq);
    cli_format_size(r->damaged_bytes, size);
    cli_format_size(r->tail_bytes, tail);
    printf("damage:  %" PRIu64 " region%s, %s (%s of it in the tail)\n", r->damaged_regions,
           r->damaged_regions == 1 ? "" : "s", size, tail);
}

static int cmd_verify(cli_args *a) {
    const char *path = a->pos[0];
    llmcache_verify_report r;
    cli_progress p;
    uint64_t size;
    int rc;
    if (cli_file_size(path, &size)) return CLI_EXIT_FAIL;
    cli_progress_start(&p, "verifying", size);
    rc = llmcache_verify(path, &r, cli_on_damage, &p);
    cli_progress_end(&p);
    if (rc != LLMCACHE_OK && rc != LLMCACHE_ECORRUPT) { cli_error("%s: %s", path, cli_result(rc)); return CLI_EXIT_FAIL; }
    printf("%s: %s\n", path, rc == LLMCACHE_OK ? "clean" : "DAMAGED (`llmcache repair` keeps every intact record)");
    cli_print_report(&r);
    return rc == LLMCACHE_OK ? 0 : CLI_EXIT_NOTCLEAN;
}

static int cmd_repair(cli_args *a) {
    const char *path = a->pos[0];
    llmcache_verify_report r;
    cli_progress p;
    uint64_t size;
    int rc;
    if (cli_file_size(path, &size)) return CLI_EXIT_FAIL;
    cli_progress_start(&p, "repairing", size);
    rc = llmcache_repair(path, &r);
    cli_progress_end(&p);
    if (rc != LLMCACHE_OK) { cli_error("%s: %s", path, cli_result(rc)); return CLI_EXIT_FAIL; }
    printf("%s: %s\n", path, r.damaged_regions || r.tail_bytes ? "repaired: kept every intact record, dropped the rest"
                                                               : "clean, nothing to repair");
    cli_print_report(&r);
    return 0;
}

static int cmd_compact(cli_args *a) {
    const char *path = a->pos[0];
    llmcache *c = cli_open(path, 1);
    llmcache_stats before, after;
    cli_progress p;
    char from[32], to[32];
    int rc;
    if (!c) return CLI_EXIT_FAIL;
    llmcache_stats_get(c, &before);
    cli_progress_start(&p, "compacting", before.file_bytes);
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

/* >>export, import ----------------------------------------------------------------------- */
/* Export writes each line to a spool file as foreach reads the values (so no
 * value stays in memory), notes where it went, then copies the lines out in key
 * order. */
typedef struct cli_export {
    cli_list l;                  /* the entries, sorted by key */
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
    cli_write_entry(x->spool, info, 1);
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
    llmcache *c = cli_open(path, 1);
    cli_export x;
    cli_output o;
    uint64_t total = 0, written = 0;
    size_t i;
    int rc, failed = 1;
    if (!c) return CLI_EXIT_FAIL;
    memset(&x, 0, sizeof x);
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
            cli_error("%s: %s", path, rc == LLMCACHE_EIO ? "cannot write the temporary file" : cli_result(rc));
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
    return cli_close(c, path, 0, failed ? CLI_EXIT_FAIL : 0);
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
        char *owned;
        if (!eol) eol = end;
        lineno++;
        if (strspn(line, " \t\r") >= (size_t)(eol - line)) { line = eol; continue; }
        if (cli_parse_entry(line, (size_t)(eol - line), &e, &owned, &err)) {
            cli_error("%s: line %zu: %s", name, lineno, err);
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
    if (cli_read_all(input, &buf, &len)) return CLI_EXIT_FAIL;
    if (cli_import_lines(NULL, name, buf, len, &n) || !(c = cli_open(path, 0))) { free(buf); return CLI_EXIT_FAIL; }
    failed = cli_import_lines(c, name, buf, len, &n);
    free(buf);
    if (failed) fprintf(stderr, "(%" PRIu64 " entries were stored before the error)\n", n.stored);
    else printf("imported %" PRIu64 " %s (%" PRIu64 " already expired, skipped)\n", n.stored,
                cli_entries(n.stored), n.expired);
    return cli_close(c, path, 1, failed ? CLI_EXIT_FAIL : 0);
}

/* >>commands and help --------------------------------------------------------------- */
static const cli_command cli_commands[] = {
    { "canon", cmd_canon, 0, 0, 1, "canon [FILE]",
      "print the RFC 8785 canonical form of a JSON document",
      "Reads JSON from FILE (or stdin) and prints its RFC 8785 (JCS) canonical form and a\n"
      "newline. Input that RFC 8785 / I-JSON refuses (malformed JSON, duplicate names,\n"
      "lone surrogates, invalid UTF-8, numbers that overflow a double) is an error that\n"
      "names the line and column." },
    { "key", cmd_key, O_NS | O_ENDPOINT | O_SCHEMA, 0, 1, "key [--ns NS] [--endpoint URL] [--schema FILE] [FILE]",
      "print the cache key of a request body",
      "Prints the key (64 hex digits) llmcache stores a request under:\n"
      "  SHA-256(\"llmcache/key/v1\" 0x00 NS 0x00 URL 0x00 schema_hash canonical(body))\n"
      "with schema_hash = SHA-256(canonical(schema)), or 32 zero bytes without --schema.\n"
      "The request body is read from FILE (or stdin).\n\n"
      "  --ns NS          namespace (tenant); default empty\n"
      "  --endpoint URL   provider URL or name of the model service; default empty\n"
      "  --schema FILE    JSON Schema of the expected result" },
    { "stats", cmd_stats, 0, 1, 1, "stats FILE",
      "size, live and dead bytes, ages, expiry and recovery of a cache file",
      "Prints the file size; the entries and the bytes of their values; live and dead\n"
      "bytes (dead: overwritten, deleted or expired records, which `compact` drops); the\n"
      "oldest and newest entries; how many entries expire within the hour; and what\n"
      "recovery skipped when reading the file (damaged records, a torn tail). Like every\n"
      "command that opens the cache, it cuts off a tail torn by a crash; `verify` is the\n"
      "read-only check." },
    { "ls", cmd_ls, O_JSON, 1, 1, "ls FILE [--json]",
      "list the entries: key, size, stored, expires, schema hash",
      "Lists the live entries sorted by key: key, value size, age, time left to expiry\n"
      "and the first 16 hex digits of the schema hash ('-': none), then a total.\n\n"
      "  --json   one JSON object per line instead, with key, size, created_ms,\n"
      "           expires_ms (0: never), seq and meta (as in `export --help`)" },
    { "get", cmd_get, O_VERBOSE, 2, 2, "get FILE KEY [-v]",
      "write the value stored under KEY to stdout",
      "Writes the value stored under KEY to stdout, byte for byte.\n\n"
      "  -v, --verbose   also print the metadata on stderr: times, schema hash, HTTP\n"
      "                  status, latency and token counts" },
    { "put", cmd_put, O_TTL, 2, 2, "put FILE KEY [--ttl DURATION]",
      "store stdin as the value of KEY",
      "Stores the bytes read from stdin under KEY, replacing any previous value.\n"
      "Creates FILE when it does not exist.\n\n"
      "  --ttl DURATION   time to live: 500ms, 10s, 30m, 1h, 2d, or a sum such as 1h30m;\n"
      "                   a bare number is seconds. Default: the entry never expires." },
    { "rm", cmd_rm, 0, 2, -1, "rm FILE KEY...",
      "delete the entries stored under the KEYs",
      "Deletes the entry stored under each KEY; a KEY without a live entry is reported\n"
      "and the others are still deleted." },
    { "purge", cmd_purge, O_SCHEMA | O_EXPIRED, 1, 1, "purge FILE (--schema HASH | --expired)",
      "delete the entries of one schema, or the expired ones",
      "Deletes a group of entries and prints how many went.\n\n"
      "  --schema HASH   every entry stored with this schema hash (64 hex digits, as\n"
      "                  `ls --json` shows it; 64 zeros: the entries without a schema);\n"
      "                  `compact` then reclaims the space they took in the file\n"
      "  --expired       every entry whose time to live has passed; expired entries\n"
      "                  are never served, and this compacts the file to drop them" },
    { "verify", cmd_verify, 0, 1, 1, "verify FILE",
      "check a cache file record by record; never modifies it",
      "Reads the log read-only and checks every record. Prints each damaged region as\n"
      "  damaged: bytes FIRST-LAST (SIZE): REASON\n"
      "then a summary: intact records, live keys, damaged regions and bytes." },
    { "repair", cmd_repair, 0, 1, 1, "repair FILE",
      "rewrite a damaged cache file keeping every intact record",
      "Writes a clean copy of FILE holding every intact record (damaged regions and a\n"
      "torn tail are dropped), syncs it and renames it over FILE. No other process may\n"
      "have FILE open meanwhile. Then prints what was found, as `verify` does." },
    { "compact", cmd_compact, 0, 1, 1, "compact FILE",
      "rewrite a cache file with its live entries only",
      "Rewrites the log keeping the live entries only: overwritten, deleted and expired\n"
      "records go. Crash-safe (new file, sync, rename); processes that have the file\n"
      "open switch to the new one." },
    { "export", cmd_export, O_OUT, 1, 1, "export FILE [-o OUT]",
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
      "                     at all (a temporary file beside it, renamed at the end)" },
    { "import", cmd_import, 0, 1, 2, "import FILE [INPUT]",
      "store the entries of a JSON Lines export",
      "Reads the JSON Lines of `export` from INPUT (or stdin) and stores every entry in\n"
      "FILE (created when absent) with its times and metadata. An entry already expired\n"
      "is skipped; a key already in FILE is replaced. Every line is checked before\n"
      "anything is stored, so a malformed line (reported with its number) leaves FILE\n"
      "untouched. Blank lines and unknown members are ignored; a missing created_ms\n"
      "means now." },
};
#define CLI_NCOMMANDS (sizeof cli_commands / sizeof cli_commands[0])

/* What status 1 means for a command; NULL when it does not use it. */
static const char *cli_exit1(const cli_command *cmd) {
    if (cmd->run == cmd_verify) return "the file is damaged";
    if (cmd->run == cmd_get) return "no live entry for KEY";
    if (cmd->run == cmd_rm) return "a KEY had no live entry";
    return NULL;
}

static void cli_usage(FILE *f) {
    size_t i;
    fprintf(f, "llmcache %s: look inside, check, repair, move and warm llmcache files\n\n"
               "usage: llmcache COMMAND [ARGUMENTS]\n"
               "       llmcache COMMAND --help    (or llmcache help COMMAND) for its details\n"
               "       llmcache --version\n\ncommands:\n", LLMCACHE_VERSION_STRING);
    for (i = 0; i < CLI_NCOMMANDS; i++) fprintf(f, "  %-8s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(f, "\nFILE is a cache file (llmcache_config.path); KEY is 64 hex digits, as `ls`\n"
               "prints them and `key` computes them. Options may come anywhere.\n\n"
               "exit status:\n"
               "  0  success\n"
               "  1  verify: the file is damaged; get, rm: no live entry for a KEY\n"
               "  2  usage error, or a failure: unreadable file, not an llmcache file,\n"
               "     invalid JSON, input/output error\n");
}

static void cli_command_help(const cli_command *cmd) {
    const char *exit1 = cli_exit1(cmd);
    printf("usage: llmcache %s\n\n%s\n\n  -h, --help   this help\n\nexit status: 0 success, ", cmd->usage, cmd->help);
    if (exit1) printf("1 %s, ", exit1);
    printf("2 usage error or failure\n");
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
    status = cmd->run(&a);
    if (status != CLI_EXIT_FAIL && (fflush(stdout) != 0 || ferror(stdout))) {
        cli_error("stdout: %s", strerror(errno));
        return CLI_EXIT_FAIL;
    }
    return status;
}
