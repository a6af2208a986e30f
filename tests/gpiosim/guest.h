/* guest.h - what the gpio-sim guest programs share: the line map, driving a simulated
 * line's pull, waiting for edges, the clock, and the report lines.
 *
 * The programs run inside the qemu guest of tests/gpiosim/run.sh, as root, with
 * GPIOSIM_CHIP (/dev/gpiochipN) and GPIOSIM_SYSFS (its sim_gpioK/ folders) set. An input
 * line is driven by writing "pull-up" or "pull-down" to sim_gpioK/pull: the simulator
 * changes the level (and raises the edge interrupt) inside that write. An output's level
 * reads back from sim_gpioK/value. gpio-sim keeps one pull per line, which a request with
 * a bias sets too: drive a line after the code under test has requested it.
 *
 * Each program prints "ok   t_gpiosim: NAME" or "FAIL t_gpiosim: NAME (why)" per test and
 * "# " lines with figures, and exits 0 when every test passed, 1 otherwise.
 */
#ifndef ECC_GPIOSIM_GUEST_H
#define ECC_GPIOSIM_GUEST_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The rig's lines on the simulated chip (one bank of 16). */
enum {
    SIM_PULSE_A = 0,            /* belt pulse sensor, channel A */
    SIM_PULSE_B = 1,            /* quadrature channel B */
    SIM_ESTOP = 2,
    SIM_KEY = 3,                /* safety key */
    SIM_START = 4,
    SIM_STOP = 5,
    SIM_NEXT = 6,
    SIM_ENABLE = 7,             /* drive-enable output */
    SIM_HX711_SCK = 8,          /* output */
    SIM_HX711_DOUT = 9,
    SIM_LINES_NEEDED = 10
};

static int guest_failures;

static inline void guest_ok(const char *name)
{
    printf("ok   t_gpiosim: %s\n", name);
    fflush(stdout);
}

static inline void guest_fail(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void guest_fail(const char *name, const char *fmt, ...)
{
    va_list ap;

    guest_failures++;
    printf("FAIL t_gpiosim: %s (", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(")\n");
    fflush(stdout);
}

static inline void guest_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void guest_note(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* CLOCK_MONOTONIC in seconds: the clock the kernel stamps edges with. */
static inline double guest_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Sleeps until the absolute CLOCK_MONOTONIC time t (s). */
static inline void guest_sleep_until(double t)
{
    struct timespec ts;

    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static inline void guest_sleep(double s)
{
    guest_sleep_until(guest_now() + s);
}

/* The environment the harness's init sets; exits 2 without it (not in the guest). */
static inline const char *guest_env(const char *name)
{
    const char *v = getenv(name);

    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run this through tests/gpiosim/run.sh\n", name);
        exit(2);
    }
    return v;
}

/* A simulated line's pull file, opened once for fast writes. */
struct sim_pull {
    int fd;
    unsigned line;
};

static inline int sim_pull_open(struct sim_pull *p, unsigned line)
{
    char path[512];

    snprintf(path, sizeof path, "%s/sim_gpio%u/pull", guest_env("GPIOSIM_SYSFS"), line);
    p->line = line;
    p->fd = open(path, O_WRONLY | O_CLOEXEC);
    if (p->fd < 0)
        fprintf(stderr, "open %s: %s\n", path, strerror(errno));
    return p->fd < 0 ? -1 : 0;
}

/* Drives the line high (pull-up) or low (pull-down). */
static inline int sim_pull_set(const struct sim_pull *p, int high)
{
    const char *s = high ? "pull-up" : "pull-down";
    size_t n = strlen(s);

    return pwrite(p->fd, s, n, 0) == (ssize_t)n ? 0 : -1;
}

static inline void sim_pull_close(struct sim_pull *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

/* One-shot: drive line high or low. */
static inline int sim_drive(unsigned line, int high)
{
    struct sim_pull p;
    int rc;

    if (sim_pull_open(&p, line) != 0)
        return -1;
    rc = sim_pull_set(&p, high);
    sim_pull_close(&p);
    return rc;
}

/* The level an output line drives (sim_gpioK/value), or -1. */
static inline int sim_value(unsigned line)
{
    char path[512], buf[8] = {0};
    int fd;
    ssize_t n;

    snprintf(path, sizeof path, "%s/sim_gpio%u/value", guest_env("GPIOSIM_SYSFS"), line);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? atoi(buf) : -1;
}

/* Waits up to timeout_s for fd to become readable: 1 readable, 0 timeout, -1 error. */
static inline int guest_wait_fd(int fd, double timeout_s)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc;

    do
        rc = poll(&p, 1, (int)(timeout_s * 1000.0 + 0.5));
    while (rc < 0 && errno == EINTR);
    return rc;
}

static inline int guest_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v). */
static inline double guest_median(double *v, int n)
{
    if (n <= 0)
        return 0.0;
    qsort(v, (size_t)n, sizeof *v, guest_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static inline void guest_start(const char *prog)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (atoi(guest_env("GPIOSIM_LINES")) < SIM_LINES_NEEDED) {
        printf("FAIL t_gpiosim: %s (the simulated chip needs %d lines)\n", prog,
               SIM_LINES_NEEDED);
        exit(1);
    }
}

static inline int guest_exit(void)
{
    return guest_failures ? 1 : 0;
}

#endif
