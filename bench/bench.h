/* bench/bench.h: the timing helpers every benchmark shares (one clock, one way to
 * sort samples). Include after the system headers' feature macros are set. */
#ifndef LLMCACHE_BENCH_H
#define LLMCACHE_BENCH_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Seconds on the monotonic clock (the wall clock may step under a measurement). */
static inline double bench_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of this process, so that other work on a busy machine disturbs the
 * figure less (the monotonic clock where there is no such clock). */
static inline double bench_cpu_s(void) {
#ifdef CLOCK_PROCESS_CPUTIME_ID
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#else
    return bench_now_s();
#endif
}

/* qsort comparison of doubles, ascending (medians and percentiles of samples). */
static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
/* A step of the splitmix64 generator: deterministic pseudo-random 64-bit values. */
static inline uint64_t bench_splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Page faults of this process so far (minor + major), to print beside a time. */
static inline long bench_faults(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return ru.ru_minflt + ru.ru_majflt;
}

/* Anonymous resident memory of this process in KiB (RssAnon of /proc/self/status:
 * the heap, not the mapped files), or -1 where there is no such file. */
static inline long bench_rss_anon_kib(void) {
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "RssAnon:", 8) == 0) { kib = strtol(line + 8, NULL, 10); break; }
    fclose(f);
    return kib;
}

/* One GOAL line: ratio = other / ours (> 1: ours is faster), PASS when >= goal. */
static inline void bench_goal(const char *what, double ours, double other, double goal) {
    if (ours <= 0 || other <= 0) {
        printf("GOAL  %-44s %10s   goal >= %6.2fx   %s\n", what, "n/a", goal, "UNAVAILABLE");
        return;
    }
    printf("GOAL  %-44s %9.2fx   goal >= %6.2fx   %s\n", what, other / ours, goal,
           other / ours >= goal ? "PASS" : "MISS");
}
#endif
