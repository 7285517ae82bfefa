/* tests/provider.h: starts tests/fake_provider.py on 127.0.0.1 for a C test (run
 * from the repository root) and talks to its control endpoints over libcurl:
 * start_server() (0, or -1 when it cannot start), stop_server(), port,
 * provider_setup() (start_server and an OpenAI transport config for it),
 * server_requests() (upstream requests since the last reset), server_reset().
 * Include after llmcache.h with LLMCACHE_IMPLEMENTATION and LLMCACHE_CURL. */
#ifndef LLMCACHE_TEST_PROVIDER_H
#define LLMCACHE_TEST_PROVIDER_H
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t server_pid;
static char port_file[64];
static int port;

static void stop_server(void) {
    if (server_pid > 0) {
        int st;
        kill(server_pid, SIGTERM);
        waitpid(server_pid, &st, 0);
        server_pid = 0;
    }
    if (port_file[0]) { remove(port_file); port_file[0] = '\0'; }
}

static void on_signal(int sig) {
    (void)sig;
    if (server_pid > 0) kill(server_pid, SIGTERM);
    _exit(2);
}

/* Starts the fake provider and waits (at most 10 s) for its port file. */
static int start_server(void) {
    int i;
    snprintf(port_file, sizeof port_file, "/tmp/llmcache_provider_%ld.port", (long)getpid());
    remove(port_file);
    server_pid = fork();
    if (server_pid < 0) return -1;
    if (server_pid == 0) {
        FILE *null = freopen("/dev/null", "w", stdout);   /* its "PORT n" line is not ours */
        (void)null;
        execlp("python3", "python3", "tests/fake_provider.py", "--port-file", port_file,
               "--idle-exit", "60", (char *)NULL);
        _exit(127);
    }
    atexit(stop_server);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (i = 0; i < 200; i++) {
        FILE *f = fopen(port_file, "r");
        int st;
        if (f) {
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0) return 0;
        }
        if (waitpid(server_pid, &st, WNOHANG) == server_pid) { server_pid = 0; return -1; }
        llmcache__sleep_ms(50);
    }
    return -1;
}

/* ---- plain HTTP to the server's control endpoints */
static size_t collect(char *p, size_t size, size_t n, void *ud) {
    llmcache__buf *b = (llmcache__buf *)ud;
    llmcache__buf_put(b, p, size * n);
    return size * n;
}

static long control(const char *method, const char *path) {
    char url[128];
    llmcache__buf b = {NULL, 0, 0, 0};
    long requests = -1;
    CURL *h = curl_easy_init();
    if (!h) return -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)&b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    if (curl_easy_perform(h) == CURLE_OK && b.p) {
        const char *r;
        llmcache__buf_putc(&b, '\0');
        r = strstr(b.p, "\"requests\":");
        if (r) requests = strtol(r + 11, NULL, 10);
        else requests = 0;
    }
    curl_easy_cleanup(h);
    llmcache__buf_free(&b);
    return requests;
}
static long server_requests(void) { return control("GET", "/stats"); }
static void server_reset(void) { (void)control("POST", "/reset"); }

/* Starts the server (saying so on stderr when it cannot) and points *openai at it
 * with the server's key; base_url (64 bytes) holds the URL. 0, or -1. */
static int provider_setup(llmcache_curl *openai, char base_url[64]) {
    if (start_server() != 0) {
        fprintf(stderr, "could not start tests/fake_provider.py (run from the repository root)\n");
        return -1;
    }
    snprintf(base_url, 64, "http://127.0.0.1:%d/v1", port);
    memset(openai, 0, sizeof *openai);
    openai->kind = LLMCACHE_CURL_OPENAI;
    openai->base_url = base_url;
    openai->api_key = "test-key";
    openai->timeout_ms = 10000;
    return 0;
}
#endif
