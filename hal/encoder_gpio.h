/* encoder_gpio.h - the belt pulse sensor on GPIO (encoder.type = gpio).
 *
 * One channel (encoder.line): each rising edge is a pulse. Quadrature (encoder.line_b >= 0
 * too): each rising edge of A is a pulse, and B's level at that edge gives the direction:
 * B low = forward (the belt's normal direction), B high = reverse. Swap the two wires if a
 * forward belt reads reverse. B's level is tracked from B's own edge events, merged with A's
 * by their kernel timestamps, so it is B's level at the instant of A's edge, not when eccd
 * got round to reading it. (A sensor whose A line chatters at standstill would count
 * pulses: use one with a Schmitt-trigger output.)
 *
 * Times: the kernel's timestamp of each edge (CLOCK_MONOTONIC), minus t0 (the HAL clock's
 * zero: clock_posix.t0), so the pulses are on the HAL clock. encoder_gpio_read is the
 * struct hal_encoder read: the times of the pulses since the last call, oldest first, both
 * directions (the speed estimate wants the rate; the direction and the signed count are in
 * the status, for the supervisor).
 *
 * Lost pulses are counted where they can be seen:
 *  - dropped: events the kernel says it dropped (gpio_backend.dropped; libgpiod v2 knows
 *    from the sequence numbers, v1 cannot tell);
 *  - overflows: drains that found at least kernel_queue events waiting (the kernel's queue
 *    was full, so events after it may have been dropped unseen);
 *  - lost: pulses that did not fit this module's own buffer (ENCODER_GPIO_BUF: only if
 *    encoder_gpio_read is not called for a long time).
 * A sensor that goes silent while the belt is commanded shows as no new pulses: the
 * controller's speed_silent check (limits.speed_silent_s) faults on it; the status gives
 * the last pulse time and the counts.
 *
 * Threads: none. read_events never blocks, so everything runs on the control thread that
 * calls encoder_gpio_read; encoder_gpio_status is for that same thread.
 * Who frees what: encoder_gpio_close releases the lines and closes the chip. Errors: NULL
 * or -1 with errno.
 */
#ifndef ECC_ENCODER_GPIO_H
#define ECC_ENCODER_GPIO_H

#include <stddef.h>

#include "config/config.h"
#include "hal/gpio.h"

#define ENCODER_GPIO_BUF 1024        /* pulse times kept between reads */
#define ENCODER_GPIO_KERNEL_QUEUE 16 /* the kernel's per-line event queue (v1 kfifo; v2's
                                        default for one line) */

struct encoder_gpio_params {
    const struct gpio_backend *gpio;
    const char *chip;                /* "gpiochip0" */
    unsigned line;                   /* A (or the only channel) */
    int line_b;                      /* B, -1: one channel */
    enum gpio_bias bias;
    double t0;                       /* s, CLOCK_MONOTONIC at the HAL clock's zero */
    int kernel_queue;                /* events the kernel queues per line (0: the default) */
};

struct encoder_gpio_status {
    long long pulses;                /* every pulse seen */
    long long count;                 /* signed: forward +1, reverse -1 (one channel: +1) */
    long long reverse;               /* pulses seen in reverse */
    int direction;                   /* of the latest pulse: +1, -1; 0: none yet or one
                                        channel */
    double t_last;                   /* s, HAL clock, latest pulse (-1: none yet) */
    long dropped, overflows, lost;   /* see above */
    long read_errors;                /* read_events calls that failed */
};

/* From [encoder]; t0 as above. */
void encoder_gpio_params_from_config(const struct ecc_config *cfg,
                                     const struct gpio_backend *gpio, double t0,
                                     struct encoder_gpio_params *p);

struct encoder_gpio;

/* Request the line(s) for edge events. NULL with a message in err and errno. */
struct encoder_gpio *encoder_gpio_open(const struct encoder_gpio_params *p, char *err,
                                       size_t errlen);
void encoder_gpio_close(struct encoder_gpio *e);

/* struct hal_encoder read (ctx: the encoder_gpio). A failing read of the lines is counted
 * and the pulses already buffered are still returned. */
int encoder_gpio_read(void *ctx, double *t, int max);
int encoder_gpio_status(const struct encoder_gpio *e, struct encoder_gpio_status *st);

#endif
