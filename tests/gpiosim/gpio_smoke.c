/* gpio_smoke.c - the libgpiod backend (hal/gpio.h: gpio_libgpiod) against a real gpio-sim
 * chip, run inside the qemu guest of the gpio-sim harness.
 *
 * Usage: gpio_smoke [EDGES [BURST]]   (defaults 200 and 100)
 * Needs GPIOSIM_CHIP (/dev/gpiochipN) and GPIOSIM_SYSFS (the chip's sim_gpioK/ folder)
 * from the guest's init. Uses lines 0 (input, both edges, driven through sim_gpio0/pull),
 * 1 (output, seen in sim_gpio1/value) and 2 (input with a pull-up bias).
 * Prints "ok   gpio_smoke: NAME" / "FAIL gpio_smoke: NAME (why)" per check and a few
 * "# " figures; exits 0 when every check passed, 1 otherwise.
 *
 * Build (v1): cc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DECC_GPIOD_MAJOR=1
 *             -I. tests/gpiosim/gpio_smoke.c hal/gpio_v1.c -lgpiod -o gpio_smoke
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hal/gpio.h"

#define IN_LINE 0
#define OUT_LINE 1
#define BIAS_LINE 2
#define CONSUMER "gpio_smoke"
#define EVENT_WAIT_MS 1000

struct smoke {
    const struct gpio_backend *gpio;
    struct gpio_chip *chip;
    struct gpio_line *in;
    struct gpio_line *out;
    const char *sysfs;
    int failures;
};

/* One result line; detail (printf-style) says why a check failed. */
static void report(struct smoke *s, int passed, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(struct smoke *s, int passed, const char *name, const char *fmt, ...)
{
    va_list ap;

    if (passed) {
        printf("ok   gpio_smoke: %s\n", name);
        return;
    }
    s->failures++;
    printf("FAIL gpio_smoke: %s (", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(")\n");
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* BASE/sim_gpioLINE/ATTR */
static void sim_path(const struct smoke *s, unsigned line, const char *attr, char *path,
                     size_t len)
{
    snprintf(path, len, "%s/sim_gpio%u/%s", s->sysfs, line, attr);
}

/* Drives a simulated input: gpio-sim's only way in is the line's pull. */
static int set_pull(const struct smoke *s, unsigned line, int up)
{
    char path[512];
    const char *v = up ? "pull-up" : "pull-down";
    int fd, rc;

    sim_path(s, line, "pull", path, sizeof(path));
    fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    rc = write(fd, v, strlen(v)) == (ssize_t)strlen(v) ? 0 : -1;
    close(fd);
    return rc;
}

/* What the simulator sees on a line (an output's driven level): 0, 1, or -1. */
static int sim_value(const struct smoke *s, unsigned line)
{
    char path[512], buf[8] = {0};
    int fd;
    ssize_t n;

    sim_path(s, line, "value", path, sizeof(path));
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 ? atoi(buf) : -1;
}

/* Blocks up to ms for the input's next events; the count read, 0 on timeout, -1. */
static int wait_events(struct smoke *s, struct gpio_event *ev, int max, int ms)
{
    struct pollfd p = {.fd = s->gpio->fd(s->in), .events = POLLIN};

    if (p.fd < 0 || poll(&p, 1, ms) < 0)
        return -1;
    return s->gpio->read_events(s->in, ev, max);
}

/* Pulls the input low and reads whatever edges are still on their way (the kernel
 * delivers them a little after the pull is written). */
static void settle_low(struct smoke *s)
{
    struct gpio_event ev[16];

    set_pull(s, IN_LINE, 0);
    while (wait_events(s, ev, 16, 50) > 0)
        ;
}

static void test_output(struct smoke *s)
{
    int ok1 = s->gpio->set(s->out, 1) == 0 && sim_value(s, OUT_LINE) == 1;
    int ok0 = s->gpio->set(s->out, 0) == 0 && sim_value(s, OUT_LINE) == 0;

    report(s, ok1 && ok0, "output set 1 then 0 is seen by the simulator", "sim value %d",
           sim_value(s, OUT_LINE));
    report(s, s->gpio->get(s->out) == 0, "output reads back what was set", "got %d",
           s->gpio->get(s->out));
}

static void test_input_level(struct smoke *s)
{
    int up, down;

    set_pull(s, IN_LINE, 1);
    up = s->gpio->get(s->in);
    set_pull(s, IN_LINE, 0);
    down = s->gpio->get(s->in);
    report(s, up == 1 && down == 0, "input follows the pull", "up %d, down %d", up, down);
    settle_low(s);
}

static void test_bias(struct smoke *s)
{
    struct gpio_line *l = s->gpio->request_input(s->chip, BIAS_LINE, GPIO_BIAS_PULL_UP,
                                                 GPIO_EDGE_NONE, CONSUMER);
    int v = l ? s->gpio->get(l) : -1;

    report(s, l && v == 1, "pull-up bias reads 1", "line %s, value %d",
           l ? "granted" : strerror(errno), v);
    if (l)
        s->gpio->release(l);
}

/* One edge in lock-step: its type, and a kernel stamp inside the write-to-read window. */
static int one_edge(struct smoke *s, int rising, double *prev_t, char *why, size_t len)
{
    struct gpio_event ev[4];
    double before = now_s(), after;
    int n;

    set_pull(s, IN_LINE, rising);
    n = wait_events(s, ev, 4, EVENT_WAIT_MS);
    after = now_s();
    if (n != 1)
        return snprintf(why, len, "%d events instead of 1", n), -1;
    if (ev[0].rising != (rising != 0))
        return snprintf(why, len, "a %s edge", ev[0].rising ? "rising" : "falling"), -1;
    if (ev[0].t < before || ev[0].t > after)
        return snprintf(why, len, "stamp %.6f outside [%.6f, %.6f]: not CLOCK_MONOTONIC?",
                        ev[0].t, before, after), -1;
    if (ev[0].t <= *prev_t)
        return snprintf(why, len, "stamp %.9f not after %.9f", ev[0].t, *prev_t), -1;
    *prev_t = ev[0].t;
    return 0;
}

static void test_edges(struct smoke *s, int count)
{
    char why[160] = "";
    double prev_t = 0, t0 = now_s();
    int i;

    for (i = 0; i < count; i++)
        if (one_edge(s, !(i & 1), &prev_t, why, sizeof(why)) != 0)
            break;
    report(s, i == count, "edges in lock-step: type, kernel monotonic stamps, increasing",
           "edge %d of %d: %s", i + 1, count, why);
    if (i > 0)
        printf("# lock-step: %d edges, %.0f edges/s\n", i, i / (now_s() - t0));
    settle_low(s);
}

/* Toggles without reading: whatever the kernel queue cannot hold must show up in
 * dropped() where the API tells (v2), and nothing may be counted twice. */
static void test_burst(struct smoke *s, int toggles)
{
    struct gpio_event ev[64];
    long dropped0 = s->gpio->dropped(s->in), dropped;
    int got = 0, n;

    for (int i = 0; i < toggles; i++)
        set_pull(s, IN_LINE, !(i & 1));
    while ((n = wait_events(s, ev, 64, 200)) > 0)
        got += n;
    dropped = s->gpio->dropped(s->in) - dropped0;
    printf("# burst (%s): %d toggles, %d events read, %ld counted as dropped\n",
           s->gpio->name, toggles, got, dropped);
    report(s, got > 0 && got + dropped <= toggles, "burst: events read plus dropped",
           "%d read + %ld dropped of %d toggles", got, dropped, toggles);
    settle_low(s);
}

static void test_misuse(struct smoke *s)
{
    struct gpio_event ev[1];
    struct gpio_chip *none = s->gpio->chip_open(s->gpio, "/dev/gpiochip-none");
    int err = errno;
    struct gpio_line *twice;

    report(s, !none && err == ENOENT, "a missing chip fails with ENOENT", "errno %d", err);
    report(s, s->gpio->read_events(s->out, ev, 1) == -1 && s->gpio->fd(s->out) == -1,
           "no events on a line without edge detection", "read_events or fd answered");
    twice = s->gpio->request_input(s->chip, IN_LINE, GPIO_BIAS_AS_IS, GPIO_EDGE_NONE, CONSUMER);
    err = errno;
    report(s, !twice && err == EBUSY, "a line already held is refused (EBUSY)", "errno %d", err);
    if (twice)
        s->gpio->release(twice);
}

static int open_lines(struct smoke *s, const char *chip)
{
    set_pull(s, IN_LINE, 0);
    s->chip = s->gpio->chip_open(s->gpio, chip);
    if (s->chip) {
        s->in = s->gpio->request_input(s->chip, IN_LINE, GPIO_BIAS_AS_IS, GPIO_EDGE_BOTH,
                                       CONSUMER);
        s->out = s->gpio->request_output(s->chip, OUT_LINE, 0, CONSUMER);
    }
    report(s, s->chip && s->in && s->out, "open the chip and request the lines", "%s: %s",
           chip, strerror(errno));
    return s->chip && s->in && s->out ? 0 : -1;
}

static void close_lines(struct smoke *s)
{
    if (s->in)
        s->gpio->release(s->in);
    if (s->out)
        s->gpio->release(s->out);
    if (s->chip)
        s->gpio->chip_close(s->chip);
}

int main(int argc, char **argv)
{
    struct smoke s = {.gpio = &gpio_libgpiod, .sysfs = getenv("GPIOSIM_SYSFS")};
    const char *chip = getenv("GPIOSIM_CHIP");
    int edges = argc > 1 ? atoi(argv[1]) : 200;
    int burst = argc > 2 ? atoi(argv[2]) : 100;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!chip || !s.sysfs) {
        printf("FAIL gpio_smoke: environment (GPIOSIM_CHIP and GPIOSIM_SYSFS must be set)\n");
        return 1;
    }
    printf("# %s on %s\n", s.gpio->name, chip);
    if (open_lines(&s, chip) == 0) {
        test_output(&s);
        test_input_level(&s);
        test_bias(&s);
        test_edges(&s, edges);
        test_burst(&s, burst);
        test_misuse(&s);
    }
    close_lines(&s);
    return s.failures ? 1 : 0;
}
