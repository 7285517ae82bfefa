/* tests/test_security.c: hostile neighbours of a log file (POSIX only). The modes
 * of new files (0600 by default, cfg.file_mode, the umask undone); compaction and
 * repair keep the log's mode and owner; symbolic links planted at path-shm, at the
 * old temporary names and at names of the temporary pattern are refused or never
 * touched, also by a thread that keeps planting them during 500 compactions; a
 * path that is itself a link to a log stays a link to the log; temporary files
 * left by a crash are removed by the next first opener. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32) || defined(LLMCACHE_NO_THREADS) || defined(LLMCACHE_NO_FILES)
int main(void) {
    printf("skipped: test_security needs POSIX files and threads\n");
    return TEST_REPORT();
}
#else
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

static char g_dir[256];

static void pathf(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

static const char g_victim_text[] = "the victim's own bytes, which nothing may change\n";

static void make_victim(const char *path) {
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(g_victim_text, 1, sizeof g_victim_text - 1, f); fclose(f); }
}

/* 1 when the file at path holds exactly the victim's bytes. */
static int victim_intact(const char *path) {
    char buf[256];
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return n == sizeof g_victim_text - 1 && memcmp(buf, g_victim_text, n) == 0;
}

static unsigned mode_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xffffu;
}

static llmcache *open_at(const char *path, unsigned file_mode, int *rc_out) {
    llmcache_config cfg;
    llmcache *c = NULL;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.fsync = LLMCACHE_FSYNC_NEVER;
    cfg.file_mode = file_mode;
    rc = llmcache_open(&c, &cfg);
    if (rc_out) *rc_out = rc;
    else CHECK_MSG(rc == LLMCACHE_OK, "open %s: %s", path, llmcache_result_string(rc));
    return rc == LLMCACHE_OK ? c : NULL;
}

static llmcache_key key_of(unsigned i) {
    llmcache_key k;
    memset(&k, 0, sizeof k);
    memcpy(k.bytes, &i, sizeof i);
    k.bytes[31] = 0x5e;
    return k;
}

static int put_n(llmcache *c, unsigned from, unsigned n) {
    unsigned i;
    int bad = 0;
    for (i = from; i < from + n; i++) {
        llmcache_key k = key_of(i);
        char v[64];
        int len = snprintf(v, sizeof v, "value %u", i);
        bad += llmcache_put(c, &k, v, (size_t)len, 0) != LLMCACHE_OK;
    }
    return bad;
}

static int has(llmcache *c, unsigned i) {
    llmcache_key k = key_of(i);
    llmcache_value v;
    char want[64];
    int len = snprintf(want, sizeof want, "value %u", i), ok;
    ok = llmcache_get(c, &k, &v) == LLMCACHE_OK && v.len == (size_t)len && memcmp(v.data, want, v.len) == 0;
    llmcache_value_free(&v);
    return ok;
}

/* A log of n entries at path, then one byte inside a record flipped. */
static void write_damaged_log(const char *path, unsigned n) {
    llmcache *c = open_at(path, 0, NULL);
    FILE *f;
    long size;
    if (!c) return;
    CHECK_EQ(put_n(c, 0, n), 0);
    llmcache_close(c);
    f = fopen(path, "r+b");
    if (!f) { CHECK(0); return; }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(0x7f, f);
    fclose(f);
}

static void rm_all(const char *path) {
    char p[600];
    DIR *d = opendir(g_dir);
    struct dirent *e;
    const char *base = strrchr(path, '/') + 1;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, base, strlen(base)) == 0) {
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
}

/* Files in the test directory whose names start with prefix. */
static int count_prefixed(const char *prefix) {
    DIR *d = opendir(g_dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return n;
}

/* ---- modes ------------------------------------------------------------------------ */

static void test_new_modes(void) {
    char path[600], shm[620];
    llmcache *c;
    int rc;
    pathf(path, sizeof path, "mode.log");
    snprintf(shm, sizeof shm, "%s-shm", path);
    rm_all(path);
    c = open_at(path, 0, NULL);   /* umask is 0 here: the library alone decides */
    llmcache_close(c);
    CHECK_EQ(mode_of(path), 0600);
    CHECK_EQ(mode_of(shm), 0600);
    rm_all(path);
    c = open_at(path, 0640, NULL);
    llmcache_close(c);
    CHECK_EQ(mode_of(path), 0640);
    CHECK_EQ(mode_of(shm), 0640);
    /* an existing file keeps its mode */
    chmod(path, 0604);
    c = open_at(path, 0, NULL);
    llmcache_close(c);
    CHECK_EQ(mode_of(path), 0604);
    rm_all(path);
    umask(077);   /* the umask does not narrow an explicit mode */
    c = open_at(path, 0660, NULL);
    llmcache_close(c);
    umask(0);
    CHECK_EQ(mode_of(path), 0660);
    rm_all(path);
    CHECK(open_at(path, 04600, &rc) == NULL);
    CHECK_EQ(rc, LLMCACHE_EINVAL);
    rm_all(path);
}

static void test_kept_modes(void) {
    char path[600];
    struct stat before, after;
    llmcache *c;
    int root = geteuid() == 0;
    pathf(path, sizeof path, "keep.log");
    rm_all(path);
    c = open_at(path, 0, NULL);
    if (!c) return;
    CHECK_EQ(put_n(c, 0, 50), 0);
    CHECK_EQ(put_n(c, 0, 50), 0);
    llmcache_close(c);
    CHECK_EQ(chmod(path, 0640), 0);
    if (root) CHECK_EQ(chown(path, 12345, 23456), 0);
    else printf("  not root: the owner is not changed, only the mode is checked\n");
    stat(path, &before);
    c = open_at(path, 0, NULL);
    if (!c) return;
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    llmcache_close(c);
    stat(path, &after);
    CHECK_MSG(after.st_ino != before.st_ino, "compaction did not replace the file");
    CHECK_EQ(after.st_mode & 07777, 0640);
    if (root) { CHECK_EQ(after.st_uid, 12345); CHECK_EQ(after.st_gid, 23456); }
    /* repair */
    rm_all(path);
    write_damaged_log(path, 30);
    CHECK_EQ(chmod(path, 0640), 0);
    if (root) CHECK_EQ(chown(path, 12345, 23456), 0);
    stat(path, &before);
    CHECK_EQ(llmcache_repair(path, NULL), LLMCACHE_OK);
    stat(path, &after);
    CHECK_MSG(after.st_ino != before.st_ino, "repair did not replace the file");
    CHECK_EQ(after.st_mode & 07777, 0640);
    if (root) { CHECK_EQ(after.st_uid, 12345); CHECK_EQ(after.st_gid, 23456); }
    CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
    rm_all(path);
}

/* ---- planted links ------------------------------------------------------------------- */

static void test_shm_link(void) {
    char path[600], shm[620], victim[600], nothing[600];
    int rc;
    pathf(path, sizeof path, "shm.log");
    pathf(victim, sizeof victim, "victim-shm");
    pathf(nothing, sizeof nothing, "nothing-here");
    snprintf(shm, sizeof shm, "%s-shm", path);
    rm_all(path);
    make_victim(victim);
    CHECK_EQ(symlink(victim, shm), 0);
    CHECK(open_at(path, 0, &rc) == NULL);
    CHECK_MSG(rc == LLMCACHE_ESYMLINK, "open beside a planted -shm link: %s", llmcache_result_string(rc));
    CHECK(victim_intact(victim));
    /* a link to nothing: refused too, and nothing created through it */
    unlink(shm);
    CHECK_EQ(symlink(nothing, shm), 0);
    CHECK(open_at(path, 0, &rc) == NULL);
    CHECK_EQ(rc, LLMCACHE_ESYMLINK);
    CHECK(access(nothing, F_OK) != 0);
    CHECK(strstr(llmcache_result_string(LLMCACHE_ESYMLINK), "symbolic link") != NULL);
    rm_all(path);
    unlink(victim);
}

/* Links at the names compaction and repair used before (path.compact,
 * path.repair) and at names of today's pattern: never written through. */
static void test_temp_links(void) {
    static const char *const names[] = {".compact", ".repair", ".compact-0000000000000000",
                                        ".repair-0000000000000000", ".compact-ffffffffffffffff"};
    char path[600], victim[600], link[700];
    llmcache *c;
    llmcache__fd fd;
    size_t i;
    pathf(path, sizeof path, "plant.log");
    pathf(victim, sizeof victim, "victim-plant");
    rm_all(path);
    make_victim(victim);
    write_damaged_log(path, 40);
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(link, sizeof link, "%s%s", path, names[i]);
        CHECK_EQ(symlink(victim, link), 0);
    }
    CHECK_EQ(llmcache_repair(path, NULL), LLMCACHE_OK);
    CHECK(victim_intact(victim));
    CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
    c = open_at(path, 0, NULL);
    if (c) {
        CHECK_EQ(put_n(c, 100, 20), 0);
        CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
        CHECK(has(c, 110));
        llmcache_close(c);
    }
    CHECK(victim_intact(victim));
    /* what temporary files are made with: an exclusive create that refuses a link */
    snprintf(link, sizeof link, "%s%s", path, names[2]);
    CHECK_EQ(llmcache__f_open(link, LLMCACHE__F_EXCL | LLMCACHE__F_NOFOLLOW, 0600, &fd), LLMCACHE_ESYMLINK);
    CHECK_EQ(llmcache__f_open(link, LLMCACHE__F_CREATE | LLMCACHE__F_NOFOLLOW, 0600, &fd), LLMCACHE_ESYMLINK);
    CHECK(victim_intact(victim));
    rm_all(path);
    unlink(victim);
}

typedef struct racer {
    const char *path, *victim;
    volatile int stop;
    unsigned long planted;
} racer;

/* Keeps re-creating links to the victim at every name it can predict. */
static void *racer_main(void *arg) {
    static const char *const names[] = {".compact", ".repair", ".compact-0000000000000000"};
    racer *r = (racer *)arg;
    char link[3][700];
    size_t i;
    for (i = 0; i < 3; i++) snprintf(link[i], sizeof link[i], "%s%s", r->path, names[i]);
    while (!r->stop)
        for (i = 0; i < 3; i++) r->planted += symlink(r->victim, link[i]) == 0;
    return NULL;
}

static void test_racer(void) {
    char path[600], victim[600];
    llmcache *c;
    racer r;
    pthread_t t;
    int i, bad = 0, failed = 0;
    pathf(path, sizeof path, "race.log");
    pathf(victim, sizeof victim, "victim-race");
    rm_all(path);
    make_victim(victim);
    c = open_at(path, 0, NULL);
    if (!c) return;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.victim = victim;
    if (pthread_create(&t, NULL, racer_main, &r) != 0) { CHECK(0); llmcache_close(c); return; }
    for (i = 0; i < 500; i++) {
        bad += put_n(c, (unsigned)i % 7, 3);
        failed += llmcache_compact(c) != LLMCACHE_OK;
    }
    r.stop = 1;
    pthread_join(t, NULL);
    printf("  500 compactions beside a racer that planted %lu links\n", r.planted);
    CHECK_EQ(bad, 0);
    CHECK_EQ(failed, 0);
    CHECK(has(c, 3));
    llmcache_close(c);
    CHECK_MSG(victim_intact(victim), "the victim was overwritten");
    CHECK_EQ(llmcache_verify(path, NULL, NULL, NULL), LLMCACHE_OK);
    rm_all(path);
    unlink(victim);
}

/* ---- a path that is a link to a log ---------------------------------------------------- */

static void test_linked_path(void) {
    char real[600], link[600], shm[620], target[600];
    struct stat st;
    llmcache *c;
    ssize_t n;
    pathf(real, sizeof real, "real.log");
    pathf(link, sizeof link, "link.log");
    rm_all(real);
    rm_all(link);
    c = open_at(real, 0, NULL);   /* the target must exist: it may be empty */
    llmcache_close(c);
    CHECK_EQ(symlink(real, link), 0);
    c = open_at(link, 0, NULL);
    if (!c) return;
    CHECK_EQ(put_n(c, 0, 40), 0);
    CHECK_EQ(put_n(c, 0, 40), 0);
    CHECK_EQ(llmcache_compact(c), LLMCACHE_OK);
    llmcache_close(c);
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    n = readlink(link, target, sizeof target - 1);
    CHECK(n > 0 && (size_t)n == strlen(real) && memcmp(target, real, (size_t)n) == 0);
    CHECK(lstat(real, &st) == 0 && S_ISREG(st.st_mode));
    snprintf(shm, sizeof shm, "%s-shm", link);
    CHECK_MSG(access(shm, F_OK) != 0, "the shared page is beside the link, not beside the log");
    snprintf(shm, sizeof shm, "%s-shm", real);
    CHECK(access(shm, F_OK) == 0);
    c = open_at(link, 0, NULL);
    if (c) { CHECK(has(c, 7)); CHECK(has(c, 39)); llmcache_close(c); }
    /* repair through the link: the link stays */
    write_damaged_log(link, 30);
    CHECK_EQ(llmcache_repair(link, NULL), LLMCACHE_OK);
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK_EQ(llmcache_verify(real, NULL, NULL, NULL), LLMCACHE_OK);
    rm_all(link);
    rm_all(real);
}

/* ---- temporary files left by a crash --------------------------------------------------- */

static void test_stale_temps(void) {
    static const char *const stale[] = {".compact-0123456789abcdef", ".repair-fedcba9876543210"};
    static const char *const kept[] = {".compact-xyz", ".compact-0123456789abcdef0", ".notes"};
    char path[600], p[700], victim[600], prefix[64];
    llmcache *c;
    size_t i;
    pathf(path, sizeof path, "stale.log");
    pathf(victim, sizeof victim, "victim-stale");
    rm_all(path);
    make_victim(victim);
    c = open_at(path, 0, NULL);
    llmcache_close(c);
    for (i = 0; i < 2; i++) { snprintf(p, sizeof p, "%s%s", path, stale[i]); make_victim(p); }
    for (i = 0; i < 3; i++) { snprintf(p, sizeof p, "%s%s", path, kept[i]); make_victim(p); }
    snprintf(p, sizeof p, "%s.compact-1111111111111111", path);
    CHECK_EQ(symlink(victim, p), 0);
    c = open_at(path, 0, NULL);
    llmcache_close(c);
    for (i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s%s", path, stale[i]);
        CHECK_MSG(access(p, F_OK) != 0, "%s left behind", stale[i]);
    }
    for (i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, kept[i]);
        CHECK_MSG(victim_intact(p), "%s removed or changed", kept[i]);
    }
    CHECK(victim_intact(victim));
    snprintf(prefix, sizeof prefix, "stale.log.compact-");
    CHECK_EQ(count_prefixed(prefix), 3);   /* xyz, the 17 digits, the link */
    rm_all(path);
    unlink(victim);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "%s/llmcache-sec-XXXXXX", getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    umask(0);
    printf("test_security: files in %s\n", g_dir);
#define RUN(f) do { f(); printf("  %-18s (%d passed, %d failed so far)\n", #f, test_passed_, test_failed_); \
                    fflush(stdout); } while (0)
    RUN(test_new_modes);
    RUN(test_kept_modes);
    RUN(test_shm_link);
    RUN(test_temp_links);
    RUN(test_racer);
    RUN(test_linked_path);
    RUN(test_stale_temps);
    rmdir(g_dir);
    return TEST_REPORT();
}
#endif
