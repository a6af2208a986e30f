/* clock_posix.c - the real monotonic clock (see clock_posix.h). */
#include "hal/clock_posix.h"

#include <errno.h>
#include <math.h>
#include <time.h>

static double monotonic_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void clock_posix_init(struct clock_posix *clk, struct hal_clock *hc)
{
    clk->t0 = monotonic_s();
    clk->offset_minute = -1;
    clk->utc_offset_s = 0;
    *hc = (struct hal_clock){.now = clock_posix_now, .sleep_until = clock_posix_sleep_until,
                             .wall = clock_posix_wall, .ctx = clk};
}

double clock_posix_now(void *ctx)
{
    const struct clock_posix *clk = ctx;
    return monotonic_s() - clk->t0;
}

int clock_posix_sleep_until(void *ctx, double t)
{
    const struct clock_posix *clk = ctx;
    double abs_s = clk->t0 + t;
    struct timespec due;
    int rc;

    if (!isfinite(abs_s)) {
        errno = EINVAL;
        return -1;
    }
    due.tv_sec = (time_t)floor(abs_s);
    due.tv_nsec = (long)((abs_s - floor(abs_s)) * 1e9);
    if (due.tv_nsec >= 1000000000L)
        due.tv_nsec = 999999999L;
    /* A signal (SIGTERM) ends the sleep early: the loop then sees its stop flag. */
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
    if (rc != 0 && rc != EINTR) {
        errno = rc;
        return -1;
    }
    return 0;
}

double clock_posix_wall(void *ctx, int *utc_offset_s)
{
    struct clock_posix *clk = ctx;
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec / 60 != clk->offset_minute && localtime_r(&ts.tv_sec, &tm)) {
        clk->offset_minute = ts.tv_sec / 60;
        clk->utc_offset_s = (int)tm.tm_gmtoff;
    }
    if (utc_offset_s)
        *utc_offset_s = clk->utc_offset_s;
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
