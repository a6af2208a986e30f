/* speed_est.c - belt speed from timestamped pulses (see speed_est.h).
 *
 * Averaging window: the newest periods whose total time is at most
 * SPEED_EST_WINDOW_S (0.25 s), and always at least the newest period.
 *  - Coarse sensors (4 pulses/m: periods of 0.3 s and longer over 0.08..0.83 m/s)
 *    always use just the last period, so a speed change shows one period later:
 *    the least lag a period-based estimate can have.
 *  - Fine sensors (20 pulses/m at 0.8 m/s: 62.5 ms periods) average up to 4
 *    periods, which smooths slot-spacing and timestamp jitter while the lag
 *    stays within 0.25 s, about one human reaction time.
 * A window of "2 periods" was rejected: with a roller sensor at 0.1 m/s it would
 * average 5 s of belt motion.
 */
#include "controller/speed_est.h"

#include <math.h>

#define SPEED_EST_WINDOW_S 0.25

void speed_est_init(struct speed_est *s, double pulses_per_m, double timeout_s)
{
    s->m_per_pulse = pulses_per_m > 0 ? 1.0 / pulses_per_m : 0.0;
    s->timeout_s = timeout_s;
    s->window_s = SPEED_EST_WINDOW_S;
    for (int i = 0; i < SPEED_EST_HIST; i++)
        s->t[i] = 0.0;
    s->head = 0;
    s->n = 0;
    s->count = 0;
}

/* Time of the pulse k places before the newest (k = 0: newest); k < n. */
static double pulse_time(const struct speed_est *s, int k)
{
    return s->t[(s->head - k + SPEED_EST_HIST) % SPEED_EST_HIST];
}

void speed_est_pulse(struct speed_est *s, double t)
{
    if (!isfinite(t))
        return;
    if (s->n > 0 && !(t > pulse_time(s, 0)))
        return;                       /* out of order or duplicate */
    s->head = (s->head + 1) % SPEED_EST_HIST;
    s->t[s->head] = t;
    if (s->n < SPEED_EST_HIST)
        s->n++;
    s->count++;
}

/* Distance over time of the newest periods inside the window; needs n >= 2. */
static double windowed_speed(const struct speed_est *s)
{
    double newest = pulse_time(s, 0);
    int periods = 1;

    while (periods + 1 < s->n && newest - pulse_time(s, periods + 1) <= s->window_s)
        periods++;
    return periods * s->m_per_pulse / (newest - pulse_time(s, periods));
}

double speed_est_get(const struct speed_est *s, double now)
{
    if (s->n < 2)
        return 0.0;

    double since = now - pulse_time(s, 0);
    if (!(since > 0))
        since = 0.0;                  /* now before the last pulse: caller's clock skew */
    if (since >= s->timeout_s)
        return 0.0;

    double v = windowed_speed(s);
    /* No pulse for `since` seconds: the belt has averaged less than one pulse
     * distance over that time. This only bites once the pulse is overdue (since
     * longer than the averaged period), so a steady train is not affected. */
    if (since > 0)
        v = fmin(v, s->m_per_pulse / since);
    return v;
}

double speed_est_last_pulse(const struct speed_est *s)
{
    return s->n > 0 ? pulse_time(s, 0) : -1.0;
}

double speed_est_distance(const struct speed_est *s)
{
    return (double)s->count * s->m_per_pulse;
}
