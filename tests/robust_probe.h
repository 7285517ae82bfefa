/* tests/robust_probe.h: whether a robust mutex tells of an owner that died
 * (EOWNERDEAD). qemu-user does not emulate set_robust_list, nor does valgrind, so
 * there the writer lock of a killed process is never handed over, and the tests
 * that kill writers would wait for ever: they are skipped with a line that says so. */
#ifndef LLMCACHE_ROBUST_PROBE_H
#define LLMCACHE_ROBUST_PROBE_H
#include <errno.h>
#include <pthread.h>

static pthread_mutex_t g_probe;
static void *probe_hold(void *arg) { (void)arg; pthread_mutex_lock(&g_probe); return NULL; }

static int dead_owner_detected(void) {
    pthread_mutexattr_t a;
    pthread_t th;
    int r;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&g_probe, &a);
    pthread_mutexattr_destroy(&a);
    if (pthread_create(&th, NULL, probe_hold, NULL) != 0) return 0;
    pthread_join(th, NULL);
    r = pthread_mutex_trylock(&g_probe);
    if (r == EOWNERDEAD) { pthread_mutex_consistent(&g_probe); pthread_mutex_unlock(&g_probe); }
    return r == EOWNERDEAD;
}
#endif
