/* encoder_gpio.c - the belt pulse sensor on GPIO (see encoder_gpio.h). */
#include "hal/encoder_gpio.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64                     /* events taken from the kernel per call */
#define B_PENDING 256                /* B edges kept until an A edge comes after them */

struct encoder_gpio {
    const struct gpio_backend *gpio;
    struct gpio_chip *chip;
    struct gpio_line *a, *b;         /* b: NULL with one channel */
    double t0;                       /* s */
    int kernel_queue;

    double ring[ENCODER_GPIO_BUF];   /* s, HAL clock, pulses not yet read */
    int head, count;

    int b_level;                     /* B's level after the B edges applied so far */
    struct gpio_event bq[B_PENDING]; /* B edges read, not yet applied (oldest first) */
    int bq_head, bq_n;

    long dropped_seen;               /* the backend's dropped() total at the last read */
    struct encoder_gpio_status st;
};

void encoder_gpio_params_from_config(const struct ecc_config *cfg,
                                     const struct gpio_backend *gpio, double t0,
                                     struct encoder_gpio_params *p)
{
    static const enum gpio_bias bias[] = {
        [CFG_BIAS_AS_IS] = GPIO_BIAS_AS_IS, [CFG_BIAS_PULL_UP] = GPIO_BIAS_PULL_UP,
        [CFG_BIAS_PULL_DOWN] = GPIO_BIAS_PULL_DOWN};

    *p = (struct encoder_gpio_params){.gpio = gpio, .chip = cfg->encoder.chip,
                                      .line = (unsigned)cfg->encoder.line,
                                      .line_b = cfg->encoder.line_b,
                                      .bias = bias[cfg->encoder.bias], .t0 = t0};
}

/* ---- B's level --------------------------------------------------------------------- */

static void b_apply_oldest(struct encoder_gpio *e)
{
    e->b_level = e->bq[e->bq_head].rising ? 1 : 0;
    e->bq_head = (e->bq_head + 1) % B_PENDING;
    e->bq_n--;
}

/* Read B's new edges into the pending queue. If it is full the oldest is applied early:
 * only an A edge older than it (none is left unread by then) could have needed it. */
static void b_drain(struct encoder_gpio *e)
{
    struct gpio_event ev[BATCH];
    int n;

    do {
        n = e->gpio->read_events(e->b, ev, BATCH);
        if (n < 0) {
            e->st.read_errors++;
            return;
        }
        for (int i = 0; i < n; i++) {
            if (e->bq_n == B_PENDING)
                b_apply_oldest(e);
            e->bq[(e->bq_head + e->bq_n++) % B_PENDING] = ev[i];
        }
    } while (n == BATCH);
}

/* B's level at time t: apply the pending B edges that came before it. */
static int b_level_at(struct encoder_gpio *e, double t)
{
    while (e->bq_n > 0 && e->bq[e->bq_head].t < t)
        b_apply_oldest(e);
    return e->b_level;
}

/* ---- pulses ------------------------------------------------------------------------ */

static void pulse(struct encoder_gpio *e, double t_kernel)
{
    int dir = e->b ? (b_level_at(e, t_kernel) ? -1 : 1) : 0;
    double t = t_kernel - e->t0;

    if (e->count == ENCODER_GPIO_BUF) {
        e->st.lost++;                /* keep the newest: the speed wants recent periods */
        e->head = (e->head + 1) % ENCODER_GPIO_BUF;
        e->count--;
    }
    e->ring[(e->head + e->count++) % ENCODER_GPIO_BUF] = t;
    e->st.pulses++;
    e->st.count += dir < 0 ? -1 : 1;
    e->st.reverse += dir < 0;
    e->st.direction = dir;
    e->st.t_last = t;
}

/* Take every queued A edge (with B's edges read after each batch of A's, so that any A
 * edge not yet read is later than the B edges left pending). */
static void drain(struct encoder_gpio *e)
{
    struct gpio_event ev[BATCH];
    int n, total = 0;

    do {
        n = e->gpio->read_events(e->a, ev, BATCH);
        if (n < 0) {
            e->st.read_errors++;
            break;
        }
        if (e->b)
            b_drain(e);
        for (int i = 0; i < n; i++)
            if (ev[i].rising)
                pulse(e, ev[i].t);
        total += n;
    } while (n == BATCH);
    if (total >= e->kernel_queue)
        e->st.overflows++;           /* the queue was full: later edges may be gone */
}

static void count_dropped(struct encoder_gpio *e)
{
    long d = e->gpio->dropped(e->a) + (e->b ? e->gpio->dropped(e->b) : 0);

    if (d > e->dropped_seen)
        e->st.dropped += d - e->dropped_seen;
    e->dropped_seen = d;
}

int encoder_gpio_read(void *ctx, double *t, int max)
{
    struct encoder_gpio *e = ctx;
    int n = 0;

    drain(e);
    count_dropped(e);
    while (n < max && e->count > 0) {
        t[n++] = e->ring[e->head];
        e->head = (e->head + 1) % ENCODER_GPIO_BUF;
        e->count--;
    }
    return n;
}

int encoder_gpio_status(const struct encoder_gpio *e, struct encoder_gpio_status *st)
{
    *st = e->st;
    return 0;
}

/* ---- open / close ------------------------------------------------------------------ */

static struct gpio_line *request(struct encoder_gpio *e, const struct encoder_gpio_params *p,
                                 unsigned line, enum gpio_edge edge, const char *what,
                                 char *err, size_t errlen)
{
    struct gpio_line *l = e->gpio->request_input(e->chip, line, p->bias, edge, "eccd-encoder");
    if (!l) {
        int saved = errno;
        snprintf(err, errlen, "encoder: %s line %u (%s): %s", p->chip, line, what,
                 strerror(saved));
        errno = saved;
    }
    return l;
}

static int lines_open(struct encoder_gpio *e, const struct encoder_gpio_params *p, char *err,
                      size_t errlen)
{
    e->chip = e->gpio->chip_open(e->gpio, p->chip);
    if (!e->chip) {
        int saved = errno;
        snprintf(err, errlen, "encoder: %s: %s", p->chip, strerror(saved));
        errno = saved;
        return -1;
    }
    e->a = request(e, p, p->line, GPIO_EDGE_RISING, p->line_b >= 0 ? "A" : "pulses", err,
                   errlen);
    if (!e->a)
        return -1;
    if (p->line_b < 0)
        return 0;
    /* B's level now, then every change of it: its level at each A edge follows. */
    e->b = request(e, p, (unsigned)p->line_b, GPIO_EDGE_BOTH, "B", err, errlen);
    if (!e->b)
        return -1;
    e->b_level = e->gpio->get(e->b) == 1;
    return 0;
}

struct encoder_gpio *encoder_gpio_open(const struct encoder_gpio_params *p, char *err,
                                       size_t errlen)
{
    if (!p || !p->gpio || !p->chip || p->line_b < -1 || (int)p->line == p->line_b ||
        p->kernel_queue < 0) {
        snprintf(err, errlen, "encoder: bad parameters");
        errno = EINVAL;
        return NULL;
    }
    struct encoder_gpio *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "encoder: out of memory");
        errno = ENOMEM;
        return NULL;
    }
    e->gpio = p->gpio;
    e->t0 = p->t0;
    e->kernel_queue = p->kernel_queue ? p->kernel_queue : ENCODER_GPIO_KERNEL_QUEUE;
    e->st.t_last = -1.0;
    if (lines_open(e, p, err, errlen) < 0) {
        int saved = errno;
        encoder_gpio_close(e);
        errno = saved;
        return NULL;
    }
    return e;
}

void encoder_gpio_close(struct encoder_gpio *e)
{
    if (!e)
        return;
    if (e->a)
        e->gpio->release(e->a);
    if (e->b)
        e->gpio->release(e->b);
    if (e->chip)
        e->gpio->chip_close(e->chip);
    free(e);
}
