/* gpio_v1.c - the GPIO interface (hal/gpio.h) on the libgpiod 1.x API (1.6: Debian 12,
 * Raspberry Pi OS bookworm).
 *
 * libgpiod 1.6 talks to the kernel's GPIO character device through its v1 uAPI:
 * - Bias (pull-up/down) needs kernel >= 5.5; older kernels refuse the request (EINVAL).
 * - Edge timestamps are CLOCK_MONOTONIC from kernel 5.7 on, CLOCK_REALTIME before it.
 *   read_events() spots a realtime stamp (it sits far nearer the realtime clock than
 *   the monotonic one) and moves it onto the monotonic clock, so callers always get
 *   CLOCK_MONOTONIC; on such an old kernel a clock step (NTP) during a run shifts it.
 * - The kernel queues 16 events per line and silently drops the newest when full; the
 *   v1 uAPI carries no sequence numbers, so dropped() is always 0 here.
 *
 * Compiled only when the Makefile found libgpiod 1.x (ECC_GPIOD_MAJOR == 1); otherwise
 * hal/gpio_v2.c provides gpio_libgpiod and this file is empty.
 */
#if ECC_GPIOD_MAJOR == 1

#include "hal/gpio.h"

#include <errno.h>
#include <gpiod.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Events read from the kernel per call: its v1 queue holds no more than this. */
#define V1_EVENT_CHUNK 16
#define DEFAULT_CONSUMER "eccd"

struct gpio_chip {
    struct gpiod_chip *chip;
};

struct gpio_line {
    struct gpiod_line *line;    /* owned by the chip; released, never freed */
    bool edges;                 /* requested with edge detection */
};

static struct gpio_chip *v1_chip_open(const struct gpio_backend *b, const char *name)
{
    struct gpio_chip *c;

    (void)b;
    if (!name || !*name) {
        errno = EINVAL;
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    /* A path is opened as given; a name, number or label is looked up under /dev. */
    c->chip = strchr(name, '/') ? gpiod_chip_open(name) : gpiod_chip_open_lookup(name);
    if (!c->chip) {
        int err = errno ? errno : ENOENT;
        free(c);
        errno = err;
        return NULL;
    }
    return c;
}

static void v1_chip_close(struct gpio_chip *chip)
{
    if (!chip)
        return;
    gpiod_chip_close(chip->chip);
    free(chip);
}

static int bias_flags(enum gpio_bias bias)
{
    switch (bias) {
    case GPIO_BIAS_PULL_UP:
        return GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
    case GPIO_BIAS_PULL_DOWN:
        return GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
    case GPIO_BIAS_AS_IS:
        break;
    }
    return 0;
}

static int input_request_type(enum gpio_edge edge)
{
    switch (edge) {
    case GPIO_EDGE_RISING:
        return GPIOD_LINE_REQUEST_EVENT_RISING_EDGE;
    case GPIO_EDGE_FALLING:
        return GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE;
    case GPIO_EDGE_BOTH:
        return GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES;
    case GPIO_EDGE_NONE:
        break;
    }
    return GPIOD_LINE_REQUEST_DIRECTION_INPUT;
}

/* Requests one line of the chip; NULL with errno set on failure. */
static struct gpio_line *request_line(struct gpio_chip *chip, unsigned offset,
                                      const struct gpiod_line_request_config *cfg, int value)
{
    struct gpio_line *l;
    struct gpiod_line *raw;

    if (!chip) {
        errno = EINVAL;
        return NULL;
    }
    raw = gpiod_chip_get_line(chip->chip, offset);
    if (!raw)
        return NULL;
    l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    if (gpiod_line_request(raw, cfg, value) != 0) {
        int err = errno;
        free(l);
        errno = err;
        return NULL;
    }
    l->line = raw;
    return l;
}

static struct gpio_line *v1_request_input(struct gpio_chip *chip, unsigned offset,
                                          enum gpio_bias bias, enum gpio_edge edge,
                                          const char *consumer)
{
    struct gpiod_line_request_config cfg = {
        .consumer = consumer ? consumer : DEFAULT_CONSUMER,
        .request_type = input_request_type(edge),
        .flags = bias_flags(bias),
    };
    struct gpio_line *l = request_line(chip, offset, &cfg, 0);

    if (l)
        l->edges = edge != GPIO_EDGE_NONE;
    return l;
}

static struct gpio_line *v1_request_output(struct gpio_chip *chip, unsigned offset, int value,
                                           const char *consumer)
{
    struct gpiod_line_request_config cfg = {
        .consumer = consumer ? consumer : DEFAULT_CONSUMER,
        .request_type = GPIOD_LINE_REQUEST_DIRECTION_OUTPUT,
    };

    return request_line(chip, offset, &cfg, value != 0);
}

static int v1_get(struct gpio_line *line)
{
    return gpiod_line_get_value(line->line);
}

static int v1_set(struct gpio_line *line, int value)
{
    return gpiod_line_set_value(line->line, value != 0) == 0 ? 0 : -1;
}

static double timespec_s(const struct timespec *ts)
{
    return (double)ts->tv_sec + ts->tv_nsec * 1e-9;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return timespec_s(&ts);
}

/* What to add to this batch's stamps to put them on CLOCK_MONOTONIC: 0 on kernels
 * >= 5.7; on older ones (realtime stamps) the current realtime-to-monotonic offset. */
static double stamp_offset(double sample_stamp)
{
    double mono = clock_s(CLOCK_MONOTONIC);
    double real = clock_s(CLOCK_REALTIME);

    return fabs(sample_stamp - real) < fabs(sample_stamp - mono) ? mono - real : 0.0;
}

/* 1 when an event is queued, 0 when none, -1 on error: never blocks. */
static int events_pending(struct gpio_line *line)
{
    const struct timespec no_wait = {0, 0};

    return gpiod_line_event_wait(line->line, &no_wait);
}

static int read_chunk(struct gpio_line *line, struct gpio_event *ev, int max)
{
    struct gpiod_line_event raw[V1_EVENT_CHUNK];
    int n = gpiod_line_event_read_multiple(line->line, raw,
                                           (unsigned)(max < V1_EVENT_CHUNK ? max
                                                                           : V1_EVENT_CHUNK));
    double offset;

    if (n <= 0)
        return n;
    offset = stamp_offset(timespec_s(&raw[n - 1].ts));
    for (int i = 0; i < n; i++) {
        ev[i].t = timespec_s(&raw[i].ts) + offset;
        ev[i].rising = raw[i].event_type == GPIOD_LINE_EVENT_RISING_EDGE;
    }
    return n;
}

static int v1_read_events(struct gpio_line *line, struct gpio_event *ev, int max)
{
    int total = 0;

    if (!line->edges || max < 0) {
        errno = EINVAL;
        return -1;
    }
    /* The event fd blocks when empty: read only what the poll says is queued. */
    while (total < max) {
        int pending = events_pending(line);
        int n;

        if (pending <= 0)
            return pending < 0 && total == 0 ? -1 : total;
        n = read_chunk(line, ev + total, max - total);
        if (n <= 0)
            return n < 0 && total == 0 ? -1 : total;
        total += n;
    }
    return total;
}

static long v1_dropped(const struct gpio_line *line)
{
    (void)line;
    return 0;
}

static int v1_fd(const struct gpio_line *line)
{
    if (!line->edges)
        return -1;
    return gpiod_line_event_get_fd(line->line);
}

static void v1_release(struct gpio_line *line)
{
    if (!line)
        return;
    gpiod_line_release(line->line);
    free(line);
}

const struct gpio_backend gpio_libgpiod = {
    .name = "libgpiod-v1",
    .chip_open = v1_chip_open,
    .chip_close = v1_chip_close,
    .request_input = v1_request_input,
    .request_output = v1_request_output,
    .get = v1_get,
    .set = v1_set,
    .read_events = v1_read_events,
    .dropped = v1_dropped,
    .fd = v1_fd,
    .release = v1_release,
};

#endif /* ECC_GPIOD_MAJOR == 1 */
