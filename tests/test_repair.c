/* tests/test_repair.c: llmcache_repair and llmcache_verify for operators (issue 11).
 *  - repair refuses (LLMCACHE_EBUSY, nothing written) while a handle has the log
 *    open, in this process or in a live writer process, and nothing that writer
 *    acknowledged is lost; without path-shm it makes one (with the log's mode), a
 *    link there is refused; after a repair the next opener rebuilds the page;
 *  - a clean log whose only oddity is a tail of zeros (a writer killed with its
 *    space preallocated, or zeros appended) is "nothing to repair": byte-identical,
 *    the same file;
 *  - one flipped bit in each field of the file header (magic, version, header size,
 *    file id, creation time, checksum), or a header of zeros: verify reports the
 *    damaged header, open and repair refuse the file, repair with force rebuilds it
 *    and every intact record is back;
 *  - files of other formats (JSON, random bytes, zeros, a header alone, a record
 *    lost in foreign bytes) are never modified, with or without force;
 *  - the progress callbacks of verify, repair and compaction (llmcache_compact and
 *    an automatic one) rise and end at their total.
 * Runs from the repository root; files live in a fresh directory under /tmp. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include "log_common.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[64];

static void pathf(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

static void rm_log(const char *path) {
    char p[400];
    unlink(path);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int exists(const char *path) { struct stat st; return stat(path, &st) == 0; }

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    long len;
    *n = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = (unsigned char *)malloc((size_t)len + 1)) != NULL && fread(p, 1, (size_t)len, f) == (size_t)len)
        *n = (size_t)len;
    else { free(p); p = NULL; }
    fclose(f);
    return p;
}

static int spit(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(p, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    return ok;
}

/* XORs the byte at off with x. */
static int poke_xor(const char *path, uint64_t off, unsigned char x) {
    FILE *f = fopen(path, "r+b");
    int b, ok = 0;
    if (!f) return 0;
    if (fseek(f, (long)off, SEEK_SET) == 0 && (b = fgetc(f)) != EOF && fseek(f, (long)off, SEEK_SET) == 0)
        ok = fputc(b ^ x, f) != EOF;
    if (fclose(f) != 0) ok = 0;
    return ok;
}

static ino_t inode(const char *path) { struct stat st; return stat(path, &st) == 0 ? st.st_ino : 0; }

static llmcache *open_log(const char *path, int fsync_mode, int *rc_out) {
    llmcache_config cfg;
    llmcache *c = NULL;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = fsync_mode;
    rc = llmcache_open(&c, &cfg);
    if (rc_out) *rc_out = rc;
    else CHECK_MSG(rc == LLMCACHE_OK, "open %s: %s", path, llmcache_result_string(rc));
    return rc == LLMCACHE_OK ? c : NULL;
}

static int lc_put(llmcache *c, uint32_t n) {
    unsigned char buf[LC_VALUE_MAX];
    llmcache_key k = lc_key(n);
    size_t len = lc_value(n, buf);
    return llmcache_put(c, &k, buf, len, -1);
}

/* 1 when key n holds exactly lc_value(n). */
static int lc_is(llmcache *c, uint32_t n) {
    unsigned char buf[LC_VALUE_MAX];
    llmcache_key k = lc_key(n);
    llmcache_value v;
    size_t len = lc_value(n, buf);
    int ok;
    if (llmcache_get(c, &k, &v) != LLMCACHE_OK) return 0;
    ok = v.len == len && memcmp(v.data, buf, len) == 0;
    llmcache_value_free(&v);
    return ok;
}

/* How many of keys base .. base+n-1 hold their values. */
static uint32_t lc_count(llmcache *c, uint32_t base, uint32_t n) {
    uint32_t i, ok = 0;
    for (i = 0; i < n; i++) ok += (uint32_t)lc_is(c, base + i);
    return ok;
}

static uint64_t file_end(llmcache *c) {
    llmcache_stats st;
    llmcache_stats_get(c, &st);
    return st.file_bytes;
}

/* A fresh log of keys base .. base+n-1; offs[i]: where record i starts (offs may be NULL). */
static void build_log(const char *path, uint32_t base, uint32_t n, uint64_t *offs) {
    llmcache *c;
    uint32_t i;
    rm_log(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL);
    if (!c) return;
    for (i = 0; i < n; i++) {
        if (offs) offs[i] = file_end(c);
        CHECK_EQ(lc_put(c, base + i), LLMCACHE_OK);
    }
    if (offs) offs[n] = file_end(c);
    llmcache_close(c);
}

static int same_file(const char *path, const unsigned char *want, size_t n) {
    size_t len;
    unsigned char *p = slurp(path, &len);
    int same = p && len == n && memcmp(p, want, n) == 0;
    free(p);
    return same;
}

/* ---- repair beside an open handle ------------------------------------------------- */

static void test_busy_same_process(void) {
    char path[300];
    uint64_t offs[31];
    llmcache_verify_report rep;
    llmcache_repair_options force;
    unsigned char *before;
    size_t n;
    llmcache *c;
    pathf(path, sizeof path, "busy1.log");
    build_log(path, 0, 30, offs);
    CHECK(poke_xor(path, offs[10] + 90, 0x21));   /* damage: a repair would rewrite the file */
    c = open_log(path, LLMCACHE_FSYNC_ALWAYS, NULL);
    if (!c) return;
    before = slurp(path, &n);
    CHECK_EQ(llmcache_repair(path, &rep), LLMCACHE_EBUSY);
    memset(&force, 0, sizeof force);
    force.force = 1;
    CHECK_EQ(llmcache_repair_ex(path, &force, &rep), LLMCACHE_EBUSY);
    CHECK(before && same_file(path, before, n));
    free(before);
    CHECK_EQ(lc_put(c, 500), LLMCACHE_OK);   /* the handle goes on */
    llmcache_close(c);
    CHECK_EQ(llmcache_repair(path, &rep), LLMCACHE_OK);   /* once it is closed */
    CHECK_EQ(rep.damaged_regions, 1);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL);
    if (c) {
        CHECK_EQ(lc_count(c, 0, 30), 29);
        CHECK(lc_is(c, 500));
        llmcache_close(c);
    }
    rm_log(path);
}

/* Without path-shm, repair makes it (with the log's mode) so that the lock holds;
 * a link planted there is refused and its target left alone. After a repair the
 * page describes the old file: the next opener rebuilds it, and two handles share
 * the new file. */
static void test_shm_companion(void) {
    char path[300], shm[320], target[320];
    uint64_t offs[21];
    llmcache_verify_report rep;
    struct stat st;
    llmcache *a, *b;
    pathf(path, sizeof path, "companion.log");
    snprintf(shm, sizeof shm, "%s-shm", path);
    pathf(target, sizeof target, "companion.target");
    build_log(path, 0, 20, offs);
    CHECK(poke_xor(path, offs[5] + 88, 0x02));
    CHECK_EQ(unlink(shm), 0);
    CHECK_EQ(chmod(path, 0640), 0);
    CHECK(spit(target, "keep", 4));
    CHECK_EQ(symlink(target, shm), 0);
    CHECK_EQ(llmcache_repair(path, &rep), LLMCACHE_ESYMLINK);
    CHECK(same_file(target, (const unsigned char *)"keep", 4));
    CHECK_EQ(rep.damaged_regions, 0);   /* not even read */
    CHECK_EQ(unlink(shm), 0);
    unlink(target);
    CHECK_EQ(llmcache_repair(path, &rep), LLMCACHE_OK);
    CHECK_EQ(rep.damaged_regions, 1);
    CHECK(lstat(shm, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0640);
    a = open_log(path, LLMCACHE_FSYNC_NEVER, NULL);
    b = open_log(path, LLMCACHE_FSYNC_NEVER, NULL);
    if (a && b) {
        CHECK_EQ(lc_count(a, 0, 20), 19);
        CHECK_EQ(lc_count(b, 0, 20), 19);
        CHECK_EQ(lc_put(a, 600), LLMCACHE_OK);
        CHECK(lc_is(b, 600));
    }
    llmcache_close(a);
    llmcache_close(b);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(rep.records, 20);
    rm_log(path);
}

/* A writer process: opens path, puts 10 keys (acknowledging each on ack), waits
 * for a byte on go, puts 10 more, closes. */
static void writer_child(const char *path, int ack, int go) {
    llmcache *c;
    uint32_t i;
    char b = 'k';
    llmcache_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = LLMCACHE_FSYNC_ALWAYS;
    if (llmcache_open(&c, &cfg) != LLMCACHE_OK) _exit(2);
    for (i = 0; i < 20; i++) {
        if (i == 10 && read(go, &b, 1) != 1) _exit(3);
        if (lc_put(c, 1000 + i) != LLMCACHE_OK) _exit(4);
        if (write(ack, &b, 1) != 1) _exit(5);
    }
    llmcache_close(c);
    _exit(0);
}

static int read_acks(int fd, int n) {
    char b;
    int got = 0;
    while (got < n && read(fd, &b, 1) == 1) got++;
    return got;
}

static void test_busy_live_writer(void) {
    char path[300];
    uint64_t offs[31];
    llmcache_verify_report rep;
    unsigned char *before;
    size_t n;
    int ack[2], go[2], status = -1;
    pid_t pid;
    llmcache *c;
    pathf(path, sizeof path, "busy2.log");
    build_log(path, 0, 30, offs);
    CHECK(poke_xor(path, offs[12] + 85, 0x44));
    if (pipe(ack) != 0 || pipe(go) != 0) { CHECK(0); return; }
    pid = fork();
    if (pid == 0) { close(ack[0]); close(go[1]); writer_child(path, ack[1], go[0]); }
    close(ack[1]);
    close(go[0]);
    CHECK_EQ(read_acks(ack[0], 10), 10);   /* the writer is open and has written */
    before = slurp(path, &n);
    CHECK_EQ(llmcache_repair(path, &rep), LLMCACHE_EBUSY);
    CHECK(before && same_file(path, before, n));
    free(before);
    CHECK_EQ(write(go[1], "g", 1), 1);
    CHECK_EQ(read_acks(ack[0], 10), 10);   /* 10 more acknowledged after the refusal */
    close(ack[0]);
    close(go[1]);
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL);
    if (c) {
        CHECK_EQ(lc_count(c, 1000, 20), 20);   /* every acknowledged write */
        CHECK_EQ(lc_count(c, 0, 30), 29);
        llmcache_close(c);
    }
    CHECK_EQ(llmcache_repair(path, &rep), LLMCACHE_OK);   /* the writer is gone */
    CHECK_EQ(rep.damaged_regions, 1);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL);
    if (c) {
        CHECK_EQ(lc_count(c, 1000, 20), 20);
        CHECK_EQ(lc_count(c, 0, 30), 29);
        llmcache_close(c);
    }
    rm_log(path);
}

/* ---- a clean file with a tail of zeros: nothing to repair ---------------------------- */

static void expect_nothing_to_repair(const char *path) {
    llmcache_verify_report rep;
    unsigned char *before;
    size_t n;
    ino_t ino = inode(path);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(rep.damaged_regions, 0);
    CHECK_EQ(rep.damaged_bytes, 0);
    CHECK(rep.tail_bytes > 0);
    before = slurp(path, &n);
    CHECK_EQ(llmcache_repair(path, &rep), LLMCACHE_OK);
    CHECK_EQ(rep.damaged_regions, 0);
    CHECK(rep.tail_bytes > 0);
    CHECK(before && same_file(path, before, n));
    CHECK_MSG(inode(path) == ino, "repair replaced a clean file");
    free(before);
}

static void test_zero_tail(void) {
    char path[300];
    pid_t pid;
    int status = -1;
    llmcache *c;
    pathf(path, sizeof path, "tail.log");
    rm_log(path);
    pid = fork();
    if (pid == 0) {   /* a writer killed with its space preallocated */
        llmcache_config cfg;
        uint32_t i;
        memset(&cfg, 0, sizeof cfg);
        cfg.path = path;
        cfg.fsync = LLMCACHE_FSYNC_ALWAYS;
        if (llmcache_open(&c, &cfg) != LLMCACHE_OK) _exit(2);
        for (i = 0; i < 25; i++) if (lc_put(c, i) != LLMCACHE_OK) _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    expect_nothing_to_repair(path);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL);
    if (c) { CHECK_EQ(lc_count(c, 0, 25), 25); llmcache_close(c); }
    /* zeros appended by hand */
    build_log(path, 0, 10, NULL);
    {
        FILE *f = fopen(path, "ab");
        static unsigned char zeros[8192];
        CHECK(f && fwrite(zeros, 1, sizeof zeros, f) == sizeof zeros);
        if (f) fclose(f);
    }
    expect_nothing_to_repair(path);
    rm_log(path);
}

/* ---- a damaged file header ------------------------------------------------------------- */

typedef struct damage_log { int n; uint64_t off[8], len[8]; char reason[8][80]; } damage_log;

static void on_damage(void *ctx, uint64_t off, uint64_t len, const char *reason) {
    damage_log *d = (damage_log *)ctx;
    if (d->n < 8) {
        d->off[d->n] = off;
        d->len[d->n] = len;
        snprintf(d->reason[d->n], sizeof d->reason[0], "%s", reason);
    }
    d->n++;
}

/* path holds a log of keys 0..n-1 whose header is damaged (and, with lost >= 0,
 * record lost destroyed too): verify, open and repair refuse it, force rebuilds it. */
static void expect_header_rebuilt(const char *path, const char *what, uint32_t n, int lost) {
    llmcache_verify_report rep;
    llmcache_verify_options vo;
    llmcache_repair_options force;
    damage_log d;
    unsigned char *before;
    size_t len;
    llmcache *c;
    int rc;
    uint32_t want = lost >= 0 ? n - 1 : n;
    memset(&d, 0, sizeof d);
    memset(&vo, 0, sizeof vo);
    vo.on_damage = on_damage;
    vo.ctx = &d;
    before = slurp(path, &len);
    rc = llmcache_verify_ex(path, &vo, &rep);
    CHECK_MSG(rc == LLMCACHE_ECORRUPT, "%s: verify returned %s", what, llmcache_result_string(rc));
    CHECK_MSG(rep.header_damaged == 1, "%s: header_damaged %d", what, (int)rep.header_damaged);
    CHECK_EQ(rep.records, want);
    CHECK_EQ(rep.damaged_regions, lost >= 0 ? 2 : 1);
    CHECK(d.n >= 1 && d.off[0] == 0 && d.len[0] == 64 && strstr(d.reason[0], "header") != NULL);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, &rc);   /* not the open's to rewrite */
    CHECK_MSG(rc != LLMCACHE_OK, "%s: open accepted a damaged header", what);
    llmcache_close(c);
    rc = llmcache_repair(path, &rep);
    CHECK_MSG(rc == LLMCACHE_ECORRUPT && rep.header_damaged == 1, "%s: repair returned %s", what,
              llmcache_result_string(rc));
    CHECK_MSG(before && same_file(path, before, len), "%s: modified without force", what);
    free(before);
    memset(&force, 0, sizeof force);
    force.force = 1;
    rc = llmcache_repair_ex(path, &force, &rep);
    CHECK_MSG(rc == LLMCACHE_OK, "%s: repair --force returned %s", what, llmcache_result_string(rc));
    CHECK_EQ(rep.header_damaged, 1);
    CHECK_EQ(llmcache_verify(path, &rep, NULL, NULL), LLMCACHE_OK);
    CHECK_EQ(rep.records, want);
    CHECK_EQ(rep.header_damaged, 0);
    c = open_log(path, LLMCACHE_FSYNC_NEVER, NULL);
    if (c) {
        CHECK_MSG(lc_count(c, 0, n) == want, "%s: %u of %u records back", what, lc_count(c, 0, n), want);
        CHECK_EQ(lc_put(c, 777), LLMCACHE_OK);
        llmcache_close(c);
    }
}

static void test_damaged_header(void) {
    static const struct { uint64_t off; const char *field; } fields[] = {
        { 0, "magic" }, { 5, "magic" }, { 8, "version" }, { 12, "header size" }, { 16, "file id" },
        { 24, "created" }, { 40, "reserved" }, { 60, "checksum" }, { 63, "checksum" },
    };
    char path[300], what[80];
    uint64_t offs[21];
    size_t i;
    pathf(path, sizeof path, "header.log");
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        build_log(path, 0, 20, offs);
        CHECK(poke_xor(path, fields[i].off, (unsigned char)(1u << (i % 8))));
        snprintf(what, sizeof what, "a bit flipped in the %s (byte %d)", fields[i].field, (int)fields[i].off);
        expect_header_rebuilt(path, what, 20, -1);
    }
    /* a header of zeros */
    build_log(path, 0, 20, offs);
    {
        FILE *f = fopen(path, "r+b");
        static unsigned char zeros[64];
        CHECK(f && fwrite(zeros, 1, 64, f) == 64);
        if (f) fclose(f);
    }
    expect_header_rebuilt(path, "a header of zeros", 20, -1);
    /* the header and the first record damaged: the other records make up the file */
    build_log(path, 0, 20, offs);
    CHECK(poke_xor(path, 2, 0x10));
    CHECK(poke_xor(path, offs[0], 0xff));
    expect_header_rebuilt(path, "header and first record", 20, 0);
    rm_log(path);
}

/* ---- files that are not logs: never modified -------------------------------------------- */

static void expect_foreign(const char *name, const unsigned char *bytes, size_t n) {
    char path[300], shm[320];
    llmcache_verify_report rep;
    llmcache_repair_options force;
    int rc;
    pathf(path, sizeof path, name);
    snprintf(shm, sizeof shm, "%s-shm", path);
    rm_log(path);
    CHECK(spit(path, bytes, n));
    rc = llmcache_verify(path, &rep, NULL, NULL);
    CHECK_MSG(rc == LLMCACHE_ENOTCACHE, "%s: verify returned %s", name, llmcache_result_string(rc));
    CHECK_EQ(rep.header_damaged, 0);
    rc = llmcache_repair(path, &rep);
    CHECK_MSG(rc == LLMCACHE_ENOTCACHE, "%s: repair returned %s", name, llmcache_result_string(rc));
    memset(&force, 0, sizeof force);
    force.force = 1;
    rc = llmcache_repair_ex(path, &force, &rep);
    CHECK_MSG(rc == LLMCACHE_ENOTCACHE, "%s: repair --force returned %s", name, llmcache_result_string(rc));
    CHECK_MSG(same_file(path, bytes, n), "%s was modified", name);
    CHECK_MSG(!exists(shm), "%s: repair made %s", name, shm);
    rm_log(path);
}

static void test_foreign_files(void) {
    static const char json[] = "{\"model\": \"gpt\", \"messages\": [{\"role\": \"user\", \"content\": "
                               "\"not a cache file, just some JSON that is long enough\"}]}\n";
    unsigned char *buf = (unsigned char *)calloc(1, 65536);
    uint64_t x = 88172645463325252ull;
    size_t i;
    char path[300];
    if (!buf) { CHECK(0); return; }
    expect_foreign("notes.json", (const unsigned char *)json, sizeof json - 1);
    expect_foreign("zeros.bin", buf, 4096);
    for (i = 0; i < 65536; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; buf[i] = (unsigned char)(x >> 11); }
    buf[0] = 'x';
    expect_foreign("random.bin", buf, 4096);
    /* one intact record lost among foreign bytes: not enough to make them a log */
    {
        llmcache_key k = lc_key(1);
        llmcache__rec_encode(buf + 32768, LLMCACHE__R_PUT, 0, 1, &k, 1, 0, NULL, "v", 1, 0);
        expect_foreign("one-record.bin", buf, 65536);
    }
    /* a log header alone, damaged: no record shows it is a log */
    pathf(path, sizeof path, "empty.log");
    build_log(path, 0, 0, NULL);
    {
        size_t n;
        unsigned char *p = slurp(path, &n);
        CHECK(p && n == 64);
        if (p && n == 64) { p[20] ^= 4; expect_foreign("empty.log", p, n); }
        free(p);
    }
    free(buf);
}

/* ---- progress -------------------------------------------------------------------------------- */

typedef struct progress_log { int calls, backwards, total_changed, past_total; uint64_t done, total; } progress_log;

static void on_progress(void *ctx, uint64_t done, uint64_t total) {
    progress_log *p = (progress_log *)ctx;
    if (p->calls && done < p->done) p->backwards++;
    if (p->calls && total != p->total) p->total_changed++;
    if (done > total) p->past_total++;
    p->calls++;
    p->done = done;
    p->total = total;
}

static void check_progress(const progress_log *p, uint64_t total, int min_calls, const char *what) {
    CHECK_MSG(p->calls >= min_calls, "%s: %d progress calls", what, p->calls);
    CHECK_MSG(!p->backwards && !p->total_changed && !p->past_total, "%s: %d backwards, %d totals changed, %d past",
              what, p->backwards, p->total_changed, p->past_total);
    CHECK_MSG(p->done == total && p->total == total, "%s: ended at %llu of %llu, want %llu", what,
              (unsigned long long)p->done, (unsigned long long)p->total, (unsigned long long)total);
}

static void test_progress(void) {
    char path[300];
    uint32_t n = 3400, i;
    llmcache_verify_report rep;
    llmcache_verify_options vo;
    llmcache_repair_options ro;
    llmcache_config cfg;
    llmcache_stats st;
    progress_log p;
    llmcache *c;
    unsigned char *value = (unsigned char *)malloc(3000);
    pathf(path, sizeof path, "progress.log");
    rm_log(path);
    if (!value) { CHECK(0); return; }
    /* about 10 MiB: two steps of progress and the end */
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    cfg.on_progress = on_progress;
    cfg.progress_ctx = &p;
    memset(&p, 0, sizeof p);
    CHECK_EQ(llmcache_open(&c, &cfg), LLMCACHE_OK);
    if (!c) { free(value); return; }
    for (i = 0; i < n; i++) {
        llmcache_key k = lc_key(i);
        lc_fill(i, value, 3000);
        CHECK_EQ(llmcache_put(c, &k, value, 3000, -1), LLMCACHE_OK);
    }
    CHECK_EQ(p.calls, 0);   /* no compaction yet */
    llmcache_stats_get(c, &st);
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    check_progress(&p, st.live_bytes, 3, "llmcache_compact");
    /* overwrite until an automatic compaction happens */
    memset(&p, 0, sizeof p);
    for (i = 0; i < 2 * n + 2 && st.compactions < 2; i++) {
        llmcache_key k = lc_key(i % n);
        lc_fill(i + n, value, 3000);
        CHECK_EQ(llmcache_put(c, &k, value, 3000, -1), LLMCACHE_OK);
        llmcache_stats_get(c, &st);
    }
    CHECK_EQ(st.compactions, 2);
    CHECK(p.calls >= 1);
    check_progress(&p, p.total, 3, "automatic compaction");
    llmcache_close(c);

    memset(&p, 0, sizeof p);
    memset(&vo, 0, sizeof vo);
    vo.on_progress = on_progress;
    vo.ctx = &p;
    CHECK_EQ(llmcache_verify_ex(path, &vo, &rep), LLMCACHE_OK);
    CHECK(rep.file_bytes > ((uint64_t)9 << 20));
    check_progress(&p, rep.file_bytes, 3, "llmcache_verify_ex");

    CHECK(poke_xor(path, rep.file_bytes / 2, 0x08));
    memset(&p, 0, sizeof p);
    memset(&ro, 0, sizeof ro);
    ro.on_progress = on_progress;
    ro.ctx = &p;
    CHECK_EQ(llmcache_repair_ex(path, &ro, &rep), LLMCACHE_OK);
    CHECK_EQ(rep.damaged_regions, 1);
    check_progress(&p, rep.file_bytes, 3, "llmcache_repair_ex");
    free(value);
    rm_log(path);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/llmcache-repair-XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    test_busy_same_process();
    test_busy_live_writer();
    test_shm_companion();
    test_zero_tail();
    test_damaged_header();
    test_foreign_files();
    test_progress();
    rmdir(g_dir);
    return TEST_REPORT();
}
