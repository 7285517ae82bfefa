/* tools/cli_util.c - messages, whole-file input, all-or-nothing output files,
 * sizes, durations and times for people, and the progress bar. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *cli_cmd = "";

void cli_error(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "llmcache%s%s: ", *cli_cmd ? " " : "", cli_cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *cli_result(int rc) {
    const char *s = llmcache_result_string(rc), *colon = strstr(s, ": ");
    return colon ? colon + 2 : s;
}

/* >>input ------------------------------------------------------------------------ */
int cli_read_all(const char *path, char **out, size_t *len, size_t max, const char *limit_name) {
    int use_stdin = !path || strcmp(path, "-") == 0;
    FILE *f = use_stdin ? stdin : fopen(path, "rb");
    const char *name = use_stdin ? "stdin" : path;
    size_t n = 0, cap = 1 << 16, room;
    char *buf = NULL;
    *out = NULL;
    *len = 0;
    if (!f) { cli_error("%s: %s", name, strerror(errno)); return -1; }
    for (;;) {
        if (!buf || cap - n < 2) {
            char *nb;
            if (buf) cap *= 2;
            nb = (char *)realloc(buf, cap);
            if (!nb) { cli_error("%s: out of memory", name); break; }
            buf = nb;
        }
        room = cap - n - 1;
        if (max - n < room) room = max - n + 1;   /* one byte past max tells that it was passed */
        n += fread(buf + n, 1, room, f);
        if (ferror(f)) { cli_error("%s: %s", name, strerror(errno)); break; }
        if (n > max) {
            char size[32];
            cli_format_size(max, size);
            cli_error("%s: more than %zu bytes (%s), the limit %s", name, max, size, limit_name);
            break;
        }
        if (feof(f)) {
            if (!use_stdin) fclose(f);
            buf[n] = '\0';
            *out = buf;
            *len = n;
            return 0;
        }
    }
    if (!use_stdin) fclose(f);
    free(buf);
    return -1;
}

/* >>output ------------------------------------------------------------------------
 * The temporary file is also removed when the process is interrupted. */
static const char *volatile cli_tmp_pending;

static void cli_on_signal(int sig) {
    if (cli_tmp_pending) unlink(cli_tmp_pending);
    signal(sig, SIG_DFL);
    raise(sig);
}

int cli_output_open(cli_output *o, const char *path) {
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
    size_t i;
    int fd;
    memset(o, 0, sizeof *o);
    if (!path || strcmp(path, "-") == 0) { o->f = stdout; o->path = "stdout"; return 0; }
    o->path = path;
    o->tmp = (char *)malloc(strlen(path) + sizeof ".tmp.XXXXXX");
    if (!o->tmp) { cli_error("%s: out of memory", path); return -1; }
    strcpy(o->tmp, path);
    strcat(o->tmp, ".tmp.XXXXXX");
    fd = mkstemp(o->tmp);
    if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
        cli_error("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        if (fd >= 0) { close(fd); unlink(o->tmp); }
        free(o->tmp);
        o->tmp = NULL;
        return -1;
    }
    cli_tmp_pending = o->tmp;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], cli_on_signal);
    return 0;
}

int cli_output_commit(cli_output *o) {
    int ok = fflush(o->f) == 0 && !ferror(o->f);
    int err = errno;
    if (!o->tmp) {
        if (!ok) cli_error("%s: %s", o->path, strerror(err));
        return ok ? 0 : -1;
    }
    if (ok && fsync(fileno(o->f)) != 0) { ok = 0; err = errno; }
    if (fclose(o->f) != 0 && ok) { ok = 0; err = errno; }
    o->f = NULL;
    if (ok && rename(o->tmp, o->path) != 0) { ok = 0; err = errno; }
    if (!ok) { cli_error("%s: %s", o->path, strerror(err)); cli_output_abort(o); return -1; }
    cli_tmp_pending = NULL;
    free(o->tmp);
    o->tmp = NULL;
    return 0;
}

void cli_output_abort(cli_output *o) {
    if (o->f && o->f != stdout) fclose(o->f);
    o->f = NULL;
    if (o->tmp) {
        unlink(o->tmp);
        cli_tmp_pending = NULL;
        free(o->tmp);
        o->tmp = NULL;
    }
}

/* >>numbers for people ---------------------------------------------------------- */
int cli_env_mode(int *mode) {
    const char *v = getenv("LLMCACHE_MODE");
    *mode = llmcache_mode_parse(v);
    if (*mode >= 0) return 0;
    cli_error("LLMCACHE_MODE=%s: not one of normal, record, replay, no-store, off", v);
    return -1;
}

int64_t cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_format_size(uint64_t bytes, char out[32]) {
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    double v = (double)bytes;
    int u = -1;
    if (bytes < 1024) { snprintf(out, 32, "%u B", (unsigned)bytes); return; }
    while (v >= 1024 && u < 5) { v /= 1024; u++; }
    snprintf(out, 32, "%.1f %s", v, units[u]);
}

static const struct { const char *name; int64_t ms; } cli_units[] = {
    { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 }
};
#define CLI_NUNITS (sizeof cli_units / sizeof cli_units[0])

/* Rounded to the second largest unit that fits (seconds at least) and shown in
 * up to those two units: "2d 4h", "3h", "45m 10s", "12s"; below a second "500ms". */
void cli_format_duration(int64_t ms, char out[32]) {
    size_t i = 0, used = 0;
    int64_t step;
    int parts = 0;
    if (ms < 1000) { snprintf(out, 32, "%lldms", (long long)(ms < 0 ? 0 : ms)); return; }
    while (ms < cli_units[i].ms) i++;
    step = cli_units[i + 1].ms == 1 ? cli_units[i].ms : cli_units[i + 1].ms;
    ms = (ms + step / 2) / step * step;
    for (i = 0; i + 1 < CLI_NUNITS && parts < 2; i++) {
        int64_t n = ms / cli_units[i].ms;
        if (n == 0) { if (parts) break; continue; }
        used += (size_t)snprintf(out + used, 32 - used, "%s%lld%s", parts ? " " : "", (long long)n,
                                 cli_units[i].name);
        ms -= n * cli_units[i].ms;
        parts++;
    }
}

void cli_format_time(int64_t ms, char out[32]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%SZ", &tm)) snprintf(out, 32, "@%lld", (long long)ms);
}

/* A sum of <number><unit> terms; a bare number is seconds. */
int cli_parse_duration(const char *s, int64_t *ms) {
    int64_t total = 0;
    if (!*s) return -1;
    while (*s) {
        int64_t n = 0, unit = 1000;
        size_t i, best = 0;
        if (*s < '0' || *s > '9') return -1;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (n > (INT64_MAX - 9) / 10) return -1;
            n = n * 10 + (*s - '0');
        }
        for (i = 0; i < CLI_NUNITS; i++) {   /* the longest unit name that matches: "ms" before "m" */
            size_t l = strlen(cli_units[i].name);
            if (l > best && strncmp(s, cli_units[i].name, l) == 0) { best = l; unit = cli_units[i].ms; }
        }
        if (!best && *s) return -1;
        s += best;
        if (n > (INT64_MAX - total) / unit) return -1;
        total += n * unit;
    }
    *ms = total;
    return 0;
}

/* >>progress --------------------------------------------------------------------- */
#define CLI_PROGRESS_MIN ((uint64_t)8 << 20)   /* smaller jobs finish before a bar helps */
#define CLI_BAR 30

static void cli_progress_draw(cli_progress *p) {
    char done[32], total[32], bar[CLI_BAR + 1];
    int pct = p->total ? (int)(p->done * 100 / p->total) : 100, i;
    if (pct > 100) pct = 100;
    if (pct == p->last) return;
    p->last = pct;
    cli_format_size(p->total, total);
    if (!p->done) { fprintf(stderr, "\r%s %s ...", p->label, total); fflush(stderr); return; }
    for (i = 0; i < CLI_BAR; i++) bar[i] = i < pct * CLI_BAR / 100 ? '#' : '.';
    bar[CLI_BAR] = '\0';
    cli_format_size(p->done, done);
    fprintf(stderr, "\r%s [%s] %3d%%  %s / %s   ", p->label, bar, pct, done, total);
    fflush(stderr);
}

void cli_progress_start(cli_progress *p, const char *label, uint64_t total) {
    p->label = label;
    p->total = total;
    p->done = 0;
    p->last = -1;
    p->on = total >= CLI_PROGRESS_MIN && isatty(STDERR_FILENO);
    if (p->on) cli_progress_draw(p);
}

void cli_progress_add(cli_progress *p, uint64_t n) {
    p->done += n;
    if (p->on) cli_progress_draw(p);
}

void cli_progress_end(cli_progress *p) {
    if (p->on) fprintf(stderr, "\r%*s\r", (int)strlen(p->label) + CLI_BAR + 40, "");
    p->on = 0;
}
