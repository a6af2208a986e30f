/* bench_web.c - the patient's page under load (make bench): eccd (rel) on the simulated
 * rig in real time, eccweb (rel), one real headless chromium showing the page and two more
 * live clients on /events (three pages). Measured over WINDOW_S seconds:
 *   - latency from the control tick to the page drawing it: the page subtracts the line's
 *     tick_ms (the host's real time when the loop handed the tick over) from Date.now()
 *     in the animation frame that draws it; median and p99 in the browser;
 *   - events a second each client received (eccweb sends [web] rate_hz);
 *   - eccweb's CPU share and memory (VmRSS, VmHWM);
 *   - eccd's CPU share and its loop's overruns and worst lateness, without and with the
 *     pages (the tick's cost must not change).
 * Goals (docs/web.md): p99 under 100 ms, eccweb under 10 MB, eccd unchanged. Prints a
 * table; exit 0 (a benchmark), 1 when it cannot run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/test.h"
#include "tests/webdriver.h"

#define WINDOW_S 20
#define SSE_CLIENTS 2

static const char *const eccd_args[] = {"--set", "sim.speed=1", "--duration", "3600", NULL};

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* utime + stime of pid, s. */
static double cpu_s(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (!(f = fopen(path, "r")))
        return 0;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    fclose(f);
    if ((p = strrchr(buf, ')')))
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS or VmHWM of pid, kB. */
static long mem_kb(int pid, const char *what)
{
    char path[64], line[256];
    long v = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, what, strlen(what)))
            v = strtol(line + strlen(what) + 1, NULL, 10);
    fclose(f);
    return v;
}

/* A live client on /events counting events ("data: " at a line start). */
struct sse {
    int port;
    volatile int stop;
    long events;
    pthread_t th;
};

static void *sse_main(void *arg)
{
    struct sse *c = arg;
    char req[128], buf[65536];
    int fd = test_tcp_dial(c->port);
    bool line_start = true;

    snprintf(req, sizeof req, "GET /events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", c->port);
    if (fd < 0 || send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
        return NULL;
    while (!c->stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t k;
        if (poll(&p, 1, 200) != 1)
            continue;
        if ((k = recv(fd, buf, sizeof buf, 0)) <= 0)
            break;
        for (ssize_t i = 0; i < k; i++) {
            if (line_start && i + 5 < k && !memcmp(buf + i, "data:", 5))
                __atomic_add_fetch(&c->events, 1, __ATOMIC_RELAXED);
            line_start = buf[i] == '\n';
        }
    }
    close(fd);
    return NULL;
}

/* eccd's loop figures from its status: overruns and the worst lateness (ms). */
static void loop_figures(const struct test_eccd *e, long *overruns, double *late_ms)
{
    char buf[1 << 16];
    const char req[] = "{\"v\":1,\"cmd\":\"status\"}\n";
    int fd = test_unix_dial(e->sock);
    ssize_t n = 0, k;
    json_t *j, *loop;

    *overruns = -1;
    *late_ms = -1;
    if (fd < 0)
        return;
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) > 0)
        while ((size_t)n < sizeof buf - 1 && (k = recv(fd, buf + n, sizeof buf - 1 - (size_t)n, 0)) > 0) {
            n += k;
            if (memchr(buf, '\n', (size_t)n))
                break;
        }
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    j = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    loop = json_object_get(json_object_get(j, "status"), "loop");
    *overruns = (long)json_integer_value(json_object_get(loop, "overruns"));
    *late_ms = json_number_value(json_object_get(loop, "late_max_ms"));
    json_decref(j);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void latency(json_t *arr, double *median, double *p99, size_t *n)
{
    size_t i;
    json_t *v;
    double *xs = calloc(json_array_size(arr) + 1, sizeof *xs);

    *n = 0;
    json_array_foreach(arr, i, v)
        xs[(*n)++] = json_number_value(v);
    qsort(xs, *n, sizeof *xs, cmp_double);
    *median = *n ? xs[*n / 2] : -1;
    *p99 = *n ? xs[(size_t)((double)(*n - 1) * 0.99)] : -1;
    free(xs);
}

int main(void)
{
    struct test_eccd e;
    struct wd wd;
    struct sse c[SSE_CLIENTS];
    struct test_eccweb w;
    int port;
    double t0, t1, d0, d1, w0, w1, base_cpu, med, p99;
    long over0, over1, rss, hwm, lines0 = 0, lines1 = 0;
    double late0, late1;
    size_t nlat;
    char url[64];
    json_t *lat = NULL, *v;

    if (*wd_available()) {
        printf("bench_web: cannot run: %s\n", wd_available());
        return 1;
    }
    if (test_eccd_start(&e, "rel", eccd_args) != 0) {
        printf("bench_web: eccd did not start\n");
        return 1;
    }
    printf("eccweb under load: eccd on the simulated rig in real time, %d s windows\n", WINDOW_S);
    /* eccd alone. */
    t0 = mono();
    d0 = cpu_s(e.pid);
    nanosleep(&(struct timespec){WINDOW_S / 2, 0}, NULL);
    base_cpu = (cpu_s(e.pid) - d0) / (mono() - t0);
    loop_figures(&e, &over0, &late0);

    if (test_eccweb_start(&w, &e, "rel", "bench", NULL) != 0) {
        printf("bench_web: eccweb did not start\n");
        test_eccd_clean(&e);
        return 1;
    }
    port = w.port;
    if (wd_open(&wd, 412, 915) != 0) {
        printf("bench_web: browser: %s\n", wd.err);
        test_eccweb_end(&w);
        test_eccd_clean(&e);
        return 1;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    wd_get(&wd, url);
    for (int i = 0; i < SSE_CLIENTS; i++) {
        c[i] = (struct sse){.port = port};
        pthread_create(&c[i].th, NULL, sse_main, &c[i]);
    }
    nanosleep(&(struct timespec){2, 0}, NULL);          /* everyone connected */
    json_decref(wd_exec(&wd, "eccweb.latency.length = 0; return 1;"));
    v = wd_exec(&wd, "return eccweb.lines;");
    lines0 = (long)json_integer_value(v);
    json_decref(v);
    for (int i = 0; i < SSE_CLIENTS; i++)
        __atomic_store_n(&c[i].events, 0, __ATOMIC_RELAXED);
    t0 = mono();
    d0 = cpu_s(e.pid);
    w0 = cpu_s(w.pid);
    nanosleep(&(struct timespec){WINDOW_S, 0}, NULL);
    t1 = mono();
    d1 = cpu_s(e.pid);
    w1 = cpu_s(w.pid);
    v = wd_exec(&wd, "return eccweb.lines;");
    lines1 = (long)json_integer_value(v);
    json_decref(v);
    lat = wd_exec(&wd, "return eccweb.latency;");
    rss = mem_kb(w.pid, "VmRSS:");
    hwm = mem_kb(w.pid, "VmHWM:");
    loop_figures(&e, &over1, &late1);
    latency(lat, &med, &p99, &nlat);

    printf("| measure | value |\n| --- | ---: |\n");
    printf("| tick to drawn on the page, median | %.1f ms |\n", med);
    printf("| tick to drawn on the page, p99 (%zu frames) | %.1f ms |\n", nlat, p99);
    printf("| events a second, the browser | %.1f |\n", (double)(lines1 - lines0) / (t1 - t0));
    for (int i = 0; i < SSE_CLIENTS; i++)
        printf("| events a second, client %d | %.1f |\n", i + 2,
               (double)__atomic_load_n(&c[i].events, __ATOMIC_RELAXED) / (t1 - t0));
    printf("| eccweb CPU share (one core) | %.2f%% |\n", 100.0 * (w1 - w0) / (t1 - t0));
    printf("| eccweb memory, VmRSS / VmHWM | %.1f / %.1f MB |\n", (double)rss / 1024.0,
           (double)hwm / 1024.0);
    printf("| eccd CPU share, alone / with 3 pages | %.2f%% / %.2f%% |\n", 100.0 * base_cpu,
           100.0 * (d1 - d0) / (t1 - t0));
    printf("| eccd loop overruns, worst lateness: before / after | %ld, %.2f ms / %ld, %.2f ms |\n",
           over0, late0, over1, late1);

    for (int i = 0; i < SSE_CLIENTS; i++) {
        c[i].stop = 1;
        pthread_join(c[i].th, NULL);
    }
    json_decref(lat);
    wd_close(&wd);
    test_eccweb_end(&w);
    test_eccd_clean(&e);
    return 0;
}
