/* tests/log_writer.c: a writer process for tests/test_log.c (kill -9 and power
 * loss). Usage:
 *     log_writer PATH always|interval|never [START [DELAY_US [COUNT]]]
 * puts keys START, START+1, ... (lc_key / lc_value of tests/log_common.h, no TTL)
 * in the given fsync mode and, after each put returned LLMCACHE_OK, writes
 * "i ms\n" to stdout with one write(2), ms being CLOCK_MONOTONIC milliseconds.
 * DELAY_US sleeps between puts; COUNT stops after that many (0 = never). A failed
 * put prints the error to stderr and exits with status 2.
 * Not built with sanitizers: test_log runs it under an LD_PRELOAD shim. */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"
#include "log_common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    llmcache_config cfg;
    llmcache *c;
    unsigned long start = 0, delay_us = 0, count = 0, i;
    unsigned char value[LC_VALUE_MAX];
    int rc;
    if (argc < 3) {
        fprintf(stderr, "usage: log_writer PATH always|interval|never [START [DELAY_US [COUNT]]]\n");
        return 1;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.path = argv[1];
    if (strcmp(argv[2], "always") == 0) cfg.fsync = LLMCACHE_FSYNC_ALWAYS;
    else if (strcmp(argv[2], "interval") == 0) cfg.fsync = LLMCACHE_FSYNC_INTERVAL;
    else if (strcmp(argv[2], "never") == 0) cfg.fsync = LLMCACHE_FSYNC_NEVER;
    else { fprintf(stderr, "log_writer: unknown fsync mode %s\n", argv[2]); return 1; }
    if (argc > 3) start = strtoul(argv[3], NULL, 10);
    if (argc > 4) delay_us = strtoul(argv[4], NULL, 10);
    if (argc > 5) count = strtoul(argv[5], NULL, 10);
    rc = llmcache_open(&c, &cfg);
    if (rc != LLMCACHE_OK) {
        fprintf(stderr, "log_writer: open %s: %s\n", argv[1], llmcache_result_string(rc));
        return 2;
    }
    for (i = start; count == 0 || i < start + count; i++) {
        llmcache_key k = lc_key((uint32_t)i);
        size_t len = lc_value((uint32_t)i, value);
        char line[64];
        int n;
        rc = llmcache_put(c, &k, value, len, -1);
        if (rc != LLMCACHE_OK) {
            fprintf(stderr, "log_writer: put %lu: %s\n", i, llmcache_result_string(rc));
            return 2;
        }
        n = snprintf(line, sizeof line, "%lu %lld\n", i, mono_ms());
        if (write(1, line, (size_t)n) != (ssize_t)n) return 3;
        if (delay_us) {
            struct timespec ts;
            ts.tv_sec = (time_t)(delay_us / 1000000);
            ts.tv_nsec = (long)(delay_us % 1000000) * 1000L;
            nanosleep(&ts, NULL);
        }
    }
    llmcache_close(c);
    return 0;
}
