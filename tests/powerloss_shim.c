/* tests/powerloss_shim.c: an LD_PRELOAD object for tests/test_log.c that records
 * what a power loss would leave of a file. It wraps fsync, fdatasync and msync:
 * it calls the real one (dlsym(RTLD_NEXT)) and, when that succeeded, copies the
 * file named by the environment variable LLMCACHE_SHIM_FILE to
 * LLMCACHE_SHIM_FILE ".durable" (through a temporary file and rename, so the
 * snapshot is always whole). Whatever sync of the process succeeded last, the
 * snapshot holds at least what that sync made durable: cutting the file back to
 * it after a kill -9 models a power loss (without the shim a kill keeps the page
 * cache). Build:
 *     cc -shared -fPIC -o build/tests/powerloss_shim.so tests/powerloss_shim.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

static pthread_mutex_t shim_mu = PTHREAD_MUTEX_INITIALIZER;

static void shim_snapshot(void) {
    const char *file = getenv("LLMCACHE_SHIM_FILE");
    char tmp[4096], dst[4096], buf[65536];
    int in, out, ok = 1, saved = errno;
    if (!file || !*file) return;
    if ((size_t)snprintf(dst, sizeof dst, "%s.durable", file) >= sizeof dst) return;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.durable.tmp", file) >= sizeof tmp) return;
    pthread_mutex_lock(&shim_mu);
    in = open(file, O_RDONLY | O_CLOEXEC);
    if (in >= 0) {
        out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out >= 0) {
            for (;;) {
                ssize_t n = read(in, buf, sizeof buf), w = 0;
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) { ok = 0; break; }
                if (n == 0) break;
                while (w < n) {
                    ssize_t r = write(out, buf + w, (size_t)(n - w));
                    if (r < 0 && errno == EINTR) continue;
                    if (r <= 0) { ok = 0; break; }
                    w += r;
                }
                if (!ok) break;
            }
            close(out);
            if (ok) rename(tmp, dst); else unlink(tmp);
        }
        close(in);
    }
    pthread_mutex_unlock(&shim_mu);
    errno = saved;
}

int fsync(int fd) {
    static int (*real)(int);
    int r;
    if (!real) *(void **)(&real) = dlsym(RTLD_NEXT, "fsync");
    r = real(fd);
    if (r == 0) shim_snapshot();
    return r;
}

int fdatasync(int fd) {
    static int (*real)(int);
    int r;
    if (!real) *(void **)(&real) = dlsym(RTLD_NEXT, "fdatasync");
    r = real(fd);
    if (r == 0) shim_snapshot();
    return r;
}

int msync(void *addr, size_t len, int flags) {
    static int (*real)(void *, size_t, int);
    int r;
    if (!real) *(void **)(&real) = dlsym(RTLD_NEXT, "msync");
    r = real(addr, len, flags);
    if (r == 0 && (flags & MS_SYNC)) shim_snapshot();
    return r;
}
