/* inputs_gpio.h - e-stop, safety key, buttons and the drive-enable output on GPIO
 * (inputs.type = gpio).
 *
 * Safety inputs (inputs.estop_line, inputs.key_line): a line is ok only while it reads
 * inputs.estop_ok_level; any other level, or a failed read, is a stop. With bias pull-up
 * and ok level 0 (a normally-closed contact to ground), a broken wire reads 1: stopped.
 * Debounce, chosen for safety: a stop is reported AT ONCE, on the first tick that sees
 * it; only the return to ok is debounced (the line must read ok for inputs.debounce_ms
 * before the stop clears). A bouncing contact can therefore only make a stop longer, never
 * hide one; the supervisor latches the first stop anyway. At start a safety line counts
 * as stopped until it has read ok for the debounce time.
 *
 * Buttons (start, stop, next set): pressed when the line reads the active level (0 with
 * inputs.active_low). A level must hold for debounce_ms before it counts; a press is
 * reported once, on its debounced press edge, in the HAL_BTN_* bits of the next read. A
 * button already held at start is not a press. A failed read counts as released.
 * The lines are sampled on each read (the control tick, on the HAL clock): a press must
 * last longer than the debounce time plus one tick.
 *
 * Drive enable (inputs.enable_line, -1: not wired): inputs_gpio_enable(healthy) is called
 * every tick and holds the output at its active level only while healthy. A dead-man
 * watchdog thread drops it if no call came for INPUTS_GPIO_DEADMAN_PERIODS control periods
 * (the loop itself may be what hung), measured on the HAL clock. A dead-man trip latches:
 * the output stays dropped, whatever later calls say, until inputs_gpio_enable_rearm() (the
 * operator's reset): no automatic restart. The output is dropped on close too.
 *
 * Charge pump (pump_hz > 0, inputs.enable_mode = charge_pump): instead of a held level the
 * output is a square wave of pump_hz while healthy, for an AC-coupled relay (docs/wiring.md)
 * that drops when the wave stops, whatever level the line is left at. The edges are made
 * by inputs_gpio_enable itself, on the control loop's ticks: a tick that does not come (the
 * loop hangs, eccd is killed, the machine freezes) is an edge that does not come, with no
 * thread that could keep pumping for a dead loop. Each call changes the level when half a
 * period has passed since the last edge, so at loop.rate_hz ticks a second the wave is
 * pump_hz within one tick's jitter. Unhealthy, tripped or closed: the line rests at its
 * inactive level and no edge is made.
 *
 * Threads: read, enable, rearm and status are for the control thread; the watchdog thread
 * shares only the enable state, under a mutex.
 * Who frees what: inputs_gpio_close stops the watchdog, drops the enable output, releases
 * every line and closes the chip. Errors: NULL or -1 with errno.
 */
#ifndef ECC_INPUTS_GPIO_H
#define ECC_INPUTS_GPIO_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "hal/gpio.h"
#include "hal/hal.h"

#define INPUTS_GPIO_DEADMAN_PERIODS 3    /* control periods without a call that drop enable */

struct inputs_gpio_params {
    const struct gpio_backend *gpio;
    const char *chip;
    int estop_line, key_line;            /* safety inputs (-1: not wired) */
    int start_line, stop_line, next_line;/* buttons (-1: not wired) */
    int enable_line;                     /* drive-enable output (-1: not wired) */
    bool active_low;                     /* buttons read 0 when pressed */
    int estop_ok_level;                  /* 0 or 1 */
    enum gpio_bias bias;                 /* on every input line */
    double debounce_s;                   /* s, >= 0 */
    bool enable_active_high;
    double period_s;                     /* s, the control period (> 0) */
    double watchdog_poll_s;              /* s of wall time between watchdog checks
                                            (0: period_s / 2) */
    double pump_hz;                      /* > 0: a charge pump at this frequency (at most
                                            1 / (2 period_s)); 0: a held level */
};

struct inputs_gpio_status {
    bool estop_stopped, key_stopped;     /* the debounced safety states */
    bool enabled;                        /* the enable output is at its active level (a
                                            charge pump: it is pumping) */
    int level;                           /* the enable line's level now (0 or 1) */
    long pump_edges;                     /* charge pump: edges made since open */
    bool deadman_tripped;                /* latched until inputs_gpio_enable_rearm */
    long deadman_trips;
    long presses[3];                     /* start, stop, next: presses reported */
    long read_errors, set_errors;
};

/* From [inputs] and [loop] (period = 1 / loop.rate_hz). */
void inputs_gpio_params_from_config(const struct ecc_config *cfg,
                                    const struct gpio_backend *gpio,
                                    struct inputs_gpio_params *p);

struct inputs_gpio;

/* Request the lines (enable output at its inactive level), take the first sample, start
 * the watchdog if an enable line is wired. now/clock_ctx: the HAL clock (thread-safe).
 * NULL with a message in err and errno. */
struct inputs_gpio *inputs_gpio_open(const struct inputs_gpio_params *p,
                                     double (*now)(void *), void *clock_ctx, char *err,
                                     size_t errlen);
void inputs_gpio_close(struct inputs_gpio *in);

/* struct hal_inputs read (ctx: the inputs_gpio). Always 0: a line that cannot be read is
 * reported as a stop (safety) or as released (button), and counted. */
int inputs_gpio_read(void *ctx, struct hal_input_state *st);

/* Every tick: hold the enable output on while healthy (off when not, or after a dead-man
 * trip). Returns 0, or -1 with errno if the line could not be set. No-op without a line. */
int inputs_gpio_enable(struct inputs_gpio *in, bool healthy);
/* The operator's reset: clear a dead-man trip (the next healthy call turns enable on). */
void inputs_gpio_enable_rearm(struct inputs_gpio *in);
/* The watchdog's check (its thread calls it; exposed for tests): drop the output if the
 * last inputs_gpio_enable call is too old. Returns 1 if it dropped it now, else 0. */
int inputs_gpio_watchdog_check(struct inputs_gpio *in);

int inputs_gpio_status(struct inputs_gpio *in, struct inputs_gpio_status *st);

#endif
