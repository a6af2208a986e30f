/* gpio_v2.c - the GPIO interface (hal/gpio.h) on the libgpiod 2.x API (trixie,
 * bookworm-backports; written against 2.1, using only calls 2.0 already has).
 *
 * libgpiod 2 uses the kernel's v2 GPIO uAPI (kernel >= 5.10):
 * - Each line is its own request, so one line's events never wait behind another's.
 * - Edge timestamps are asked for on CLOCK_MONOTONIC explicitly (the kernel default).
 * - The kernel queues KERNEL_QUEUE events per request and, when full, drops the oldest;
 *   every event carries the line's sequence number, so a gap in them counts what was
 *   dropped (dropped()).
 *
 * Compiled only when the Makefile found libgpiod 2.x (ECC_GPIOD_MAJOR == 2); otherwise
 * hal/gpio_v1.c provides gpio_libgpiod and this file is empty.
 */
#if ECC_GPIOD_MAJOR == 2

#include "hal/gpio.h"

#include <errno.h>
#include <gpiod.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events the kernel keeps per line before it drops some: room for a burst of belt
 * pulses while the control loop is busy (the kernel's own default is 16). */
#define KERNEL_QUEUE 64
/* Events moved from the kernel per read. */
#define EVENT_BATCH 64
#define DEFAULT_CONSUMER "eccd"

struct gpio_chip {
    struct gpiod_chip *chip;
};

struct gpio_line {
    struct gpiod_line_request *req;
    unsigned offset;
    struct gpiod_edge_event_buffer *buf; /* NULL without edge detection */
    uint32_t last_seqno;                 /* the kernel's line_seqno is 32 bits, from 1 */
    long dropped;
};

/* free() and friends may touch errno; the caller's error must survive them. */
#define KEEP_ERRNO(stmt) do { int saved_errno_ = errno; stmt; errno = saved_errno_; } while (0)

static bool all_digits(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* "gpiochip0" -> /dev/gpiochip0, "0" -> /dev/gpiochip0, a path stays as it is. */
static int chip_path(const char *name, char *path, size_t len)
{
    int n;

    if (strchr(name, '/'))
        n = snprintf(path, len, "%s", name);
    else if (all_digits(name))
        n = snprintf(path, len, "/dev/gpiochip%s", name);
    else
        n = snprintf(path, len, "/dev/%s", name);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static struct gpio_chip *v2_chip_open(const struct gpio_backend *b, const char *name)
{
    char path[256];
    struct gpio_chip *c;

    (void)b;
    if (!name || !*name) {
        errno = EINVAL;
        return NULL;
    }
    if (chip_path(name, path, sizeof(path)) != 0)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->chip = gpiod_chip_open(path);
    if (!c->chip) {
        KEEP_ERRNO(free(c));
        return NULL;
    }
    return c;
}

static void v2_chip_close(struct gpio_chip *chip)
{
    if (!chip)
        return;
    gpiod_chip_close(chip->chip);
    free(chip);
}

static enum gpiod_line_bias to_bias(enum gpio_bias bias)
{
    switch (bias) {
    case GPIO_BIAS_PULL_UP:
        return GPIOD_LINE_BIAS_PULL_UP;
    case GPIO_BIAS_PULL_DOWN:
        return GPIOD_LINE_BIAS_PULL_DOWN;
    case GPIO_BIAS_AS_IS:
        break;
    }
    return GPIOD_LINE_BIAS_AS_IS;
}

static enum gpiod_line_edge to_edge(enum gpio_edge edge)
{
    switch (edge) {
    case GPIO_EDGE_RISING:
        return GPIOD_LINE_EDGE_RISING;
    case GPIO_EDGE_FALLING:
        return GPIOD_LINE_EDGE_FALLING;
    case GPIO_EDGE_BOTH:
        return GPIOD_LINE_EDGE_BOTH;
    case GPIO_EDGE_NONE:
        break;
    }
    return GPIOD_LINE_EDGE_NONE;
}

/* One line with these settings, as its own request; NULL with errno set on failure. */
static struct gpiod_line_request *request_one(struct gpio_chip *chip, unsigned offset,
                                              struct gpiod_line_settings *settings,
                                              const char *consumer)
{
    struct gpiod_line_config *line_cfg = gpiod_line_config_new();
    struct gpiod_request_config *req_cfg = gpiod_request_config_new();
    struct gpiod_line_request *req = NULL;

    if (line_cfg && req_cfg &&
        gpiod_line_config_add_line_settings(line_cfg, &offset, 1, settings) == 0) {
        gpiod_request_config_set_consumer(req_cfg, consumer ? consumer : DEFAULT_CONSUMER);
        gpiod_request_config_set_event_buffer_size(req_cfg, KERNEL_QUEUE);
        req = gpiod_chip_request_lines(chip->chip, req_cfg, line_cfg);
    }
    /* Guarded: libgpiod 2.0.x did not accept NULL in every *_free(). */
    if (req_cfg)
        KEEP_ERRNO(gpiod_request_config_free(req_cfg));
    if (line_cfg)
        KEEP_ERRNO(gpiod_line_config_free(line_cfg));
    return req;
}

/* Wraps a granted request; the request is released if that fails. */
static struct gpio_line *line_new(struct gpiod_line_request *req, unsigned offset, bool edges)
{
    struct gpio_line *l = calloc(1, sizeof(*l));

    if (l && edges)
        l->buf = gpiod_edge_event_buffer_new(EVENT_BATCH);
    if (!l || (edges && !l->buf)) {
        KEEP_ERRNO(free(l); gpiod_line_request_release(req));
        return NULL;
    }
    l->req = req;
    l->offset = offset;
    return l;
}

/* Requests the line with the settings the caller filled (ok: every setter succeeded),
 * then frees the settings. */
static struct gpio_line *request_with(struct gpio_chip *chip, unsigned offset,
                                      struct gpiod_line_settings *settings, bool ok,
                                      bool edges, const char *consumer)
{
    struct gpiod_line_request *req = NULL;

    if (!chip)
        errno = EINVAL;
    else if (ok)
        req = request_one(chip, offset, settings, consumer);
    if (settings)
        KEEP_ERRNO(gpiod_line_settings_free(settings));
    return req ? line_new(req, offset, edges) : NULL;
}

static struct gpio_line *v2_request_input(struct gpio_chip *chip, unsigned offset,
                                          enum gpio_bias bias, enum gpio_edge edge,
                                          const char *consumer)
{
    struct gpiod_line_settings *s = gpiod_line_settings_new();
    bool ok = s &&
              gpiod_line_settings_set_direction(s, GPIOD_LINE_DIRECTION_INPUT) == 0 &&
              gpiod_line_settings_set_bias(s, to_bias(bias)) == 0 &&
              gpiod_line_settings_set_edge_detection(s, to_edge(edge)) == 0 &&
              gpiod_line_settings_set_event_clock(s, GPIOD_LINE_CLOCK_MONOTONIC) == 0;

    return request_with(chip, offset, s, ok, edge != GPIO_EDGE_NONE, consumer);
}

static struct gpio_line *v2_request_output(struct gpio_chip *chip, unsigned offset, int value,
                                           const char *consumer)
{
    struct gpiod_line_settings *s = gpiod_line_settings_new();
    bool ok = s &&
              gpiod_line_settings_set_direction(s, GPIOD_LINE_DIRECTION_OUTPUT) == 0 &&
              gpiod_line_settings_set_output_value(s, value ? GPIOD_LINE_VALUE_ACTIVE
                                                            : GPIOD_LINE_VALUE_INACTIVE) == 0;

    return request_with(chip, offset, s, ok, false, consumer);
}

static int v2_get(struct gpio_line *line)
{
    enum gpiod_line_value v = gpiod_line_request_get_value(line->req, line->offset);

    if (v == GPIOD_LINE_VALUE_ERROR)
        return -1;
    return v == GPIOD_LINE_VALUE_ACTIVE;
}

static int v2_set(struct gpio_line *line, int value)
{
    enum gpiod_line_value v = value ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE;

    return gpiod_line_request_set_value(line->req, line->offset, v) == 0 ? 0 : -1;
}

/* Counts the events the kernel dropped before this one from the gap in sequence
 * numbers (unsigned 32-bit arithmetic: the kernel's counter wraps there). */
static void note_seqno(struct gpio_line *line, unsigned long seqno)
{
    uint32_t gap = (uint32_t)seqno - line->last_seqno - 1u;

    line->dropped += gap;
    line->last_seqno = (uint32_t)seqno;
}

/* Moves the n events in the buffer into ev. */
static void convert_batch(struct gpio_line *line, struct gpio_event *ev, int n)
{
    for (int i = 0; i < n; i++) {
        struct gpiod_edge_event *e = gpiod_edge_event_buffer_get_event(line->buf,
                                                                       (unsigned long)i);

        ev[i].t = (double)gpiod_edge_event_get_timestamp_ns(e) * 1e-9;
        ev[i].rising = gpiod_edge_event_get_event_type(e) == GPIOD_EDGE_EVENT_RISING_EDGE;
        note_seqno(line, gpiod_edge_event_get_line_seqno(e));
    }
}

static int read_batch(struct gpio_line *line, struct gpio_event *ev, int max)
{
    int want = max < EVENT_BATCH ? max : EVENT_BATCH;
    int n = gpiod_line_request_read_edge_events(line->req, line->buf, (size_t)want);

    if (n > 0)
        convert_batch(line, ev, n);
    return n;
}

static int v2_read_events(struct gpio_line *line, struct gpio_event *ev, int max)
{
    int total = 0;

    if (!line->buf || max < 0) {
        errno = EINVAL;
        return -1;
    }
    /* Reading blocks when nothing is queued: read only what a zero-timeout wait sees. */
    while (total < max) {
        int pending = gpiod_line_request_wait_edge_events(line->req, 0);
        int n;

        if (pending <= 0)
            return pending < 0 && total == 0 ? -1 : total;
        n = read_batch(line, ev + total, max - total);
        if (n <= 0)
            return n < 0 && total == 0 ? -1 : total;
        total += n;
    }
    return total;
}

static long v2_dropped(const struct gpio_line *line)
{
    return line->dropped;
}

static int v2_fd(const struct gpio_line *line)
{
    return line->buf ? gpiod_line_request_get_fd(line->req) : -1;
}

static void v2_release(struct gpio_line *line)
{
    if (!line)
        return;
    gpiod_line_request_release(line->req);
    gpiod_edge_event_buffer_free(line->buf);
    free(line);
}

const struct gpio_backend gpio_libgpiod = {
    .name = "libgpiod-v2",
    .chip_open = v2_chip_open,
    .chip_close = v2_chip_close,
    .request_input = v2_request_input,
    .request_output = v2_request_output,
    .get = v2_get,
    .set = v2_set,
    .read_events = v2_read_events,
    .dropped = v2_dropped,
    .fd = v2_fd,
    .release = v2_release,
};

#endif /* ECC_GPIOD_MAJOR == 2 */
