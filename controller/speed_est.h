/* speed_est.h - belt speed from timestamped pulses (one pulse every 1/pulses_per_m metres).
 *
 * Period-based, because belt sensors are coarse (a pulse per roller turn is about
 * 0.25 m): at 0.1 m/s pulses come 2.5 s apart, far slower than the control loop,
 * so counting pulses per tick would read mostly zero. The estimate is
 *     distance of the last k periods / their total time
 * over the newest periods inside a short window (at least one period). Between pulses
 * the estimate can only fall: if the time since the last pulse already exceeds the
 * last period, the belt must be slower than that, so the estimate is capped at
 * (metres per pulse) / (now - last pulse). After timeout_s without a pulse it is 0.
 *
 * Pure logic: timestamps are passed in (s, monotonic); nothing is allocated.
 */
#ifndef ECC_SPEED_EST_H
#define ECC_SPEED_EST_H

#define SPEED_EST_HIST 8

struct speed_est {               /* fields are private to speed_est.c */
    double m_per_pulse;
    double timeout_s;
    double window_s;             /* periods older than this (from the newest pulse) are not averaged */
    double t[SPEED_EST_HIST];    /* ring of the newest pulse times */
    int head;                    /* index of the newest entry */
    int n;                       /* entries in the ring, up to SPEED_EST_HIST */
    long long count;             /* pulses seen since init */
};

/* pulses_per_m > 0, timeout_s > 0. */
void speed_est_init(struct speed_est *s, double pulses_per_m, double timeout_s);

/* Record a pulse at time t (s). Out-of-order or duplicate times are ignored. */
void speed_est_pulse(struct speed_est *s, double t);

/* Belt speed (m/s, >= 0) at time now (now >= the last pulse). */
double speed_est_get(const struct speed_est *s, double now);

/* Time of the newest pulse, or -1 if none yet. */
double speed_est_last_pulse(const struct speed_est *s);

/* Belt travel (m) counted in pulses since init. */
double speed_est_distance(const struct speed_est *s);

#endif
