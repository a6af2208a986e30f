/* gpio_fake.h - a scripted GPIO backend for unit tests (struct gpio_backend gpio_fake).
 *
 * A test creates a fake chip with a name and a number of lines; the code under test opens
 * it through gpio_fake.chip_open(&gpio_fake, name) exactly as it would open a real chip
 * (a "/dev/" prefix is ignored). The test then scripts the world around the lines:
 *
 *  - The fake clock (s, standing in for CLOCK_MONOTONIC): gpio_fake_now() reads it,
 *    gpio_fake_advance() moves it forward. Edges scheduled on an input line with
 *    gpio_fake_edge_at() are delivered when the clock reaches their time (at once if that
 *    time has passed), in time order: the line's level changes and, if the line was
 *    requested with a matching edge, an event stamped with the edge's time is queued for
 *    read_events, as the kernel does.
 *  - Input levels: gpio_fake_set_level() changes a level now (an edge if it changed).
 *  - Outputs: gpio_fake_output() is the current value; gpio_fake_output_log() lists the
 *    changes (time, value) of one line, oldest first, from a log of the newest changes.
 *  - Overflow: gpio_fake_set_queue_depth() bounds a line's event queue; events beyond it
 *    are dropped (the newest, as libgpiod v1's kernel fifo does) and, unless told not to
 *    (a v1-like backend cannot tell), counted in gpio_backend.dropped().
 *  - Failures: gpio_fake_fail() makes get/set/read_events of a line fail with EIO.
 *  - An HX711 model on two lines (PD_SCK output, DOUT input), fed raw values; see below.
 *
 * Every call is thread-safe (one mutex per chip): code under test may run a thread.
 *
 * Who frees what: the test owns the fake chip (gpio_fake_close, after every handle the
 * code under test opened has been closed); chip_open/chip_close and line requests are
 * the backend's usual handles. Errors: NULL or -1 with errno.
 */
#ifndef ECC_GPIO_FAKE_H
#define ECC_GPIO_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "hal/gpio.h"

#define GPIO_FAKE_QUEUE_MAX 4096     /* largest event queue a line can have */
#define GPIO_FAKE_LOG_MAX 4096       /* output changes kept (the newest) */

extern const struct gpio_backend gpio_fake;

struct gpio_fake;

struct gpio_fake_change {
    double t;                        /* s, fake clock */
    int value;
};

/* A chip named name (unique among live fake chips) with nlines lines, all inputs reading
 * 0, clock at 0. NULL with errno EINVAL, EEXIST or ENOMEM. */
struct gpio_fake *gpio_fake_open(const char *name, unsigned nlines);
/* Unregister and free. Handles opened on it must be closed first. NULL is a no-op. */
void gpio_fake_close(struct gpio_fake *f);

/* ---- the clock --------------------------------------------------------------------- */

/* The fake clock (s). ctx is the struct gpio_fake: usable as a module's clock function.
 * Each call then moves the clock on by the step set below (default 0). */
double gpio_fake_now(void *ctx);
/* Move the clock to t (s; never backwards), delivering the edges scheduled up to t. */
void gpio_fake_advance(struct gpio_fake *f, double t);
/* Every gpio_fake_now() call advances the clock by step_s (s, >= 0): code that spins on
 * its clock (the HX711 power-down hold) then makes progress. */
void gpio_fake_set_clock_step(struct gpio_fake *f, double step_s);

/* ---- inputs ------------------------------------------------------------------------ */

/* An edge on an input line at time t (s): delivered now if t <= the clock, else when the
 * clock gets there. Returns 0, or -1 (EINVAL: bad line; ENOMEM). */
int gpio_fake_edge_at(struct gpio_fake *f, unsigned line, double t, bool rising);
/* n pulses: rising at t0 + k * period_s, falling high_s later (k = 0..n-1). */
int gpio_fake_pulses(struct gpio_fake *f, unsigned line, double t0, double period_s,
                     double high_s, int n);
/* Set an input's level now (an edge at the current time if it changes). */
int gpio_fake_set_level(struct gpio_fake *f, unsigned line, int level);
/* Leave an input undriven (a broken wire): it goes to what its requested bias pulls it to
 * (pull-up 1, pull-down 0; as-is: it keeps its level), with an edge if that changes it. */
int gpio_fake_float(struct gpio_fake *f, unsigned line);
/* Bound the line's event queue (1..GPIO_FAKE_QUEUE_MAX; default the maximum). Events that
 * find it full are dropped; report_dropped false hides them from dropped() (libgpiod v1). */
int gpio_fake_set_queue_depth(struct gpio_fake *f, unsigned line, int depth,
                              bool report_dropped);
/* Make get, set and read_events on the line fail (EIO) or work again. */
int gpio_fake_fail(struct gpio_fake *f, unsigned line, bool fail);

/* ---- outputs and requests ---------------------------------------------------------- */

/* The line's current level (an output's last value), or -1 (EINVAL). */
int gpio_fake_output(struct gpio_fake *f, unsigned line);
/* The line's output changes still in the log, oldest first (at most max). */
int gpio_fake_output_log(struct gpio_fake *f, unsigned line, struct gpio_fake_change *out,
                         int max);
/* Whether the line is requested now (by anyone), and with which bias. */
bool gpio_fake_requested(struct gpio_fake *f, unsigned line);
enum gpio_bias gpio_fake_bias(struct gpio_fake *f, unsigned line);

/* ---- the HX711 model --------------------------------------------------------------- *
 * Like the chip: DOUT high while a conversion runs, low when one is ready. Each PD_SCK
 * rising edge shifts out the next bit, MSB first, 24 bits of two's complement; the 25th
 * pulse sets DOUT high again; 25, 26 or 27 pulses in all select gain 128 (channel A), 32
 * (channel B) or 64 (channel A) for the NEXT conversion. A conversion takes
 * conv_period_s of fake time after the previous read's 25th pulse. A PD_SCK high pulse
 * longer than 60 us (measured on the fake clock) powers the chip down: the conversion
 * being read (or ready) is lost, the gain goes back to 128, and a new conversion starts
 * when PD_SCK falls. Fed values are the gain-128 readings: a conversion at gain g
 * outputs value x g / 128, clamped to the 24-bit rails (0x7FFFFF, 0x800000). */

struct gpio_fake_hx711_stats {
    long conversions;                /* values converted (made ready) */
    long reads;                      /* reads completed (25+ pulses) */
    long lost;                       /* conversions lost to a power-down */
    long power_downs;
    int last_gain;                   /* gain of the latest conversion made ready */
    int next_gain;                   /* gain the next conversion will use */
};

/* Attach the model to lines sck (the code's output) and dout (the code's input). */
int gpio_fake_hx711_attach(struct gpio_fake *f, unsigned sck, unsigned dout,
                           double conv_period_s);
/* Queue raw gain-128 readings (24-bit range; -1 reads as all ones). */
int gpio_fake_hx711_push(struct gpio_fake *f, const int32_t *values, int n);
/* Stretch pulse number `pulse` (1-based) of the next read: PD_SCK appears high for high_s
 * (s) on the fake clock. Returns 0 or -1 (EINVAL). */
int gpio_fake_hx711_stretch(struct gpio_fake *f, int pulse, double high_s);
/* Values queued and not yet converted. */
int gpio_fake_hx711_pending(struct gpio_fake *f);
void gpio_fake_hx711_stats(struct gpio_fake *f, struct gpio_fake_hx711_stats *st);

#endif
