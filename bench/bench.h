/* bench/bench.h: the timing helpers every benchmark shares (one clock, one way to
 * sort samples). Include after the system headers' feature macros are set. */
#ifndef LLMCACHE_BENCH_H
#define LLMCACHE_BENCH_H
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
#endif
