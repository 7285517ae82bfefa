/* tests/cli_live_writer.c - a helper of tests/test_cli.sh: a process that keeps a
 * cache file open and writes when told. Opens FILE (LLMCACHE_FSYNC_ALWAYS); for each
 * line N read from stdin, puts "live-N" under the key that test_cli.sh's key()
 * gives N (64 decimal digits, zero-padded), then prints "N" and a newline once the
 * put returned LLMCACHE_OK. Between lines it only waits for input, so the test can
 * kill it there (kill -9) and leave what a killed writer leaves: a log with its
 * preallocated tail of zeros. At the end of stdin it closes the cache.
 *     cli_live_writer FILE < commands > acknowledgments */
#define LLMCACHE_IMPLEMENTATION
#include "../llmcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    llmcache_config cfg;
    llmcache *c;
    char line[64], digits[65], value[32];
    int rc;
    if (argc != 2) { fprintf(stderr, "usage: cli_live_writer FILE\n"); return 2; }
    memset(&cfg, 0, sizeof cfg);
    cfg.path = argv[1];
    cfg.fsync = LLMCACHE_FSYNC_ALWAYS;
    rc = llmcache_open(&c, &cfg);
    if (rc != LLMCACHE_OK) { fprintf(stderr, "cli_live_writer: %s\n", llmcache_result_string(rc)); return 2; }
    while (fgets(line, sizeof line, stdin)) {
        unsigned long n = strtoul(line, NULL, 10);
        llmcache_key k;
        int i, len = snprintf(value, sizeof value, "live-%lu", n);
        snprintf(digits, sizeof digits, "%064lu", n);
        for (i = 0; i < 32; i++) k.bytes[i] = (unsigned char)((digits[2 * i] - '0') << 4 | (digits[2 * i + 1] - '0'));
        rc = llmcache_put(c, &k, value, (size_t)len, -1);
        if (rc != LLMCACHE_OK) { fprintf(stderr, "cli_live_writer: put %lu: %s\n", n, llmcache_result_string(rc)); return 2; }
        printf("%lu\n", n);
        fflush(stdout);
    }
    llmcache_close(c);
    return 0;
}
