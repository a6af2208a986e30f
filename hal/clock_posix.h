/* clock_posix.h - the real clock: CLOCK_MONOTONIC, in seconds since clock_posix_init().
 *
 * Times start near zero so logs and traces read like the simulator's; the clock never
 * jumps with wall-clock changes (NTP, DST). sleep_until() sleeps to an absolute
 * deadline, so a late wake-up is not carried into the next period.
 */
#ifndef ECC_CLOCK_POSIX_H
#define ECC_CLOCK_POSIX_H

#include "hal/hal.h"

struct clock_posix {
    double t0;                  /* CLOCK_MONOTONIC seconds at init */
    long offset_minute;         /* the UTC minute utc_offset_s was worked out for */
    int utc_offset_s;           /* local time's offset (DST included) */
};

/* Fill *clk (the caller owns it) and bind it to *hc. */
void clock_posix_init(struct clock_posix *clk, struct hal_clock *hc);

double clock_posix_now(void *ctx);
int clock_posix_sleep_until(void *ctx, double t);
/* CLOCK_REALTIME, and the local offset from the TZ rules (worked out once a minute). */
double clock_posix_wall(void *ctx, int *utc_offset_s);

#endif
