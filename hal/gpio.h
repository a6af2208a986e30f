/* gpio.h - the one small GPIO interface everything in hal/ uses.
 *
 * Three backends implement it: libgpiod v1 (Debian 12, Raspberry Pi OS bookworm:
 * hal/gpio_v1.c) or v2 (trixie, bookworm-backports: hal/gpio_v2.c), one of the two chosen
 * at build time from `pkg-config --modversion libgpiod`; and a fake (tests/gpio_fake.c) that
 * unit tests script. No other file calls libgpiod.
 *
 * Objects are opaque. Who frees what: gpio_chip_close() frees a chip; each line requested
 * from it must be released (gpio_line_release) before its chip is closed. Errors: NULL or
 * -1 with errno set.
 *
 * Times: edge events carry the KERNEL's timestamp of the edge (not when it was read), in
 * seconds of CLOCK_MONOTONIC, the clock hal/clock_posix.c counts from.
 */
#ifndef ECC_GPIO_H
#define ECC_GPIO_H

#include <stdbool.h>

enum gpio_bias { GPIO_BIAS_AS_IS = 0, GPIO_BIAS_PULL_UP, GPIO_BIAS_PULL_DOWN };
enum gpio_edge { GPIO_EDGE_NONE = 0, GPIO_EDGE_RISING, GPIO_EDGE_FALLING, GPIO_EDGE_BOTH };

struct gpio_event {
    double t;                   /* s, CLOCK_MONOTONIC, from the kernel */
    bool rising;                /* a rising edge (false: falling) */
};

struct gpio_chip;
struct gpio_line;

struct gpio_backend {
    const char *name;           /* "libgpiod-v1", "libgpiod-v2", "fake" */
    /* name: "gpiochip0", or a path such as /dev/gpiochip0 (the libgpiod backends also
     * take a chip number, "0"). A missing chip: NULL, errno ENOENT. */
    struct gpio_chip *(*chip_open)(const struct gpio_backend *b, const char *name);
    void (*chip_close)(struct gpio_chip *chip);
    /* An input; with edge != NONE its edges are queued in the kernel for read_events. */
    struct gpio_line *(*request_input)(struct gpio_chip *chip, unsigned offset,
                                       enum gpio_bias bias, enum gpio_edge edge,
                                       const char *consumer);
    struct gpio_line *(*request_output)(struct gpio_chip *chip, unsigned offset, int value,
                                        const char *consumer);
    int (*get)(struct gpio_line *line);                 /* 0 or 1, or -1 */
    int (*set)(struct gpio_line *line, int value);      /* any non-zero sets 1; 0, or -1 */
    /* Queued edge events, oldest first, without blocking: the count (0: none yet);
     * -1 with errno EINVAL on a line requested without edge detection. */
    int (*read_events)(struct gpio_line *line, struct gpio_event *ev, int max);
    /* Events the kernel dropped because its queue overflowed, where the API can tell
     * (v2: from the sequence numbers); 0 where it cannot (v1). */
    long (*dropped)(const struct gpio_line *line);
    int (*fd)(const struct gpio_line *line);            /* pollable for events, or -1 */
    void (*release)(struct gpio_line *line);
};

/* The libgpiod backend this build was made with (v1 or v2). */
extern const struct gpio_backend gpio_libgpiod;

#endif
