/* safety.c - the safety supervisor (see safety.h).
 *
 * Checks run in the fixed order of safety.h; the first that trips is latched with its time, the measured
 * value and the limit. Once latched, checks report it unchanged until
 * safety_reset() clears it; nothing clears it by itself.
 *
 * Fail-safe readings: a non-finite force or measured speed counts as over its
 * limit (a broken measurement must not look healthy), and a non-finite
 * t_last_force counts as "no sample yet".
 */
#include "controller/safety.h"

#include <math.h>

#define NO_TIME (-1.0)   /* sentinel for t_cmd_since / t_latched: not set */

static const char *const fault_names[FAULT_COUNT] = {
    [FAULT_NONE] = "none",
    [FAULT_OVERFORCE] = "overforce",
    [FAULT_OVERSPEED] = "overspeed",
    [FAULT_FORCE_STALE] = "force_stale",
    [FAULT_SPEED_SILENT] = "speed_silent",
    [FAULT_ESTOP] = "estop",
    [FAULT_DRIVE_TRIP] = "drive_trip",
    [FAULT_DRIVE_COMM] = "drive_comm",
    [FAULT_FORCE_SATURATED] = "force_saturated",
    [FAULT_FORCE_STUCK] = "force_stuck",
    [FAULT_SPEED_DISAGREE] = "speed_disagree",
    [FAULT_FORCE_IMPLAUSIBLE] = "force_implausible",
    [FAULT_LOOP_LATE] = "loop_late",
    [FAULT_FORCE_DRIFT] = "force_drift",
};

const char *fault_name(enum fault f)
{
    if ((unsigned)f >= FAULT_COUNT)
        return "unknown";
    return fault_names[f];
}

static void clear_latch(struct safety *s)
{
    s->latched = FAULT_NONE;
    s->t_latched = NO_TIME;
    s->value = 0.0;
    s->limit = 0.0;
    s->t_cmd_since = NO_TIME;   /* the silent timer restarts from the next check */
    s->xc_t = NO_TIME;          /* the cross-check starts a new stretch */
    s->t_drift_win = NO_TIME;
    s->drift_bad = false;
}

void safety_init(struct safety *s, const struct safety_params *p)
{
    s->p = *p;
    clear_latch(s);
    s->t_started = 0.0;
    s->started = false;
    s->resets = 0;
    for (int i = 0; i < SAFETY_LATE_BURST_MAX; i++)
        s->late_t[i] = -INFINITY;
    s->late_pos = 0;
}

/* Written as !(x <= limit) so that NaN counts as over the limit. */
static bool over_limit(double x, double limit)
{
    return !(x <= limit);
}

/* Seconds since the newest load-cell sample, or since the first check if none came. */
static double force_age(const struct safety *s, const struct safety_input *in)
{
    bool have_sample = isfinite(in->t_last_force) && in->t_last_force >= 0.0;
    return in->now - (have_sample ? in->t_last_force : s->t_started);
}

/* Remember since when the command has been continuously above silent_min_cmd. */
static void track_command(struct safety *s, const struct safety_input *in)
{
    if (!(in->speed_cmd > s->p.silent_min_cmd))
        s->t_cmd_since = NO_TIME;
    else if (s->t_cmd_since < 0.0)
        s->t_cmd_since = in->now;
}

/* Seconds without a belt pulse while commanded; 0 when not commanded. A pulse from
 * before the command rose does not count as a sign of life for this command. */
static double pulse_silence(const struct safety *s, const struct safety_input *in)
{
    if (s->t_cmd_since < 0.0)
        return 0.0;
    double since = fmax(s->t_cmd_since, in->t_last_pulse);
    return in->now - since;
}

/* The belt is meant to move: commanded, or the drive still turning (a stop's ramp). */
static bool belt_running(const struct safety *s, const struct safety_input *in)
{
    return in->speed_cmd > s->p.silent_min_cmd || in->speed_drive > s->p.silent_min_cmd;
}

/* Compare only with a second opinion, a pulse sensor, and a belt that is meant to run. */
static bool cross_check_due(const struct safety *s, const struct safety_input *in)
{
    return isfinite(in->speed_drive) && in->pulse_m > 0.0 && isfinite(in->pulse_dist) &&
           belt_running(s, in);
}

/* A side's stretch starts (again) here. */
static void cusum_restart(struct safety_cusum *c, const struct safety *s, double now)
{
    c->sum = 0.0;
    c->t0 = now;
    c->e0 = s->xc_e;
    c->xd0 = s->xc_xd;
}

/* One step of a one-sided CUSUM: the sum falls back to zero (and its stretch restarts)
 * when the allowed drift has eaten what it gathered. */
static void cusum_step(struct safety_cusum *c, const struct safety *s, double step, double now)
{
    c->sum += step;
    if (c->sum <= 0.0)
        cusum_restart(c, s, now);
}

static void cross_check_restart(struct safety *s, double now)
{
    s->xc_e = s->xc_xd = 0.0;
    cusum_restart(&s->ahead, s, now);
    cusum_restart(&s->behind, s, now);
}

/* The disagreement rule of safety.h: counted travel against the drive's integrated
 * speed, beyond one pulse of quantisation and the allowed drift on each side. */
static void track_disagreement(struct safety *s, const struct safety_input *in)
{
    bool due = cross_check_due(s, in);

    if (!due || s->xc_t < 0.0) {
        cross_check_restart(s, in->now);
    } else {
        double dt = in->now - s->xc_t;
        double dxd = 0.5 * (in->speed_drive + s->xc_vd) * dt;
        double de = (in->pulse_dist - s->xc_dist) - dxd;

        s->xc_e += de;
        s->xc_xd += dxd;
        cusum_step(&s->ahead, s, de - SAFETY_AHEAD_SHARE * dxd, in->now);
        cusum_step(&s->behind, s, -de - s->p.disagree_mps * dt, in->now);
    }
    s->xc_t = due ? in->now : NO_TIME;
    s->xc_dist = in->pulse_dist;
    s->xc_vd = in->speed_drive;
}

/* How far the larger side is past its allowance (m, > 0: a fault); *mean and *allowed:
 * the mean speed difference over its stretch and what was allowed there (m/s), which is
 * what the fault reports. */
static double disagreement(const struct safety *s, const struct safety_input *in,
                           double *mean, double *allowed)
{
    bool ahead = s->ahead.sum >= s->behind.sum;
    const struct safety_cusum *c = ahead ? &s->ahead : &s->behind;
    double span = in->now - c->t0;

    *mean = span > 0.0 ? fabs(s->xc_e - c->e0) / span : 0.0;
    *allowed = ahead ? (span > 0.0 ? SAFETY_AHEAD_SHARE * (s->xc_xd - c->xd0) / span : 0.0)
                     : s->p.disagree_mps;
    return c->sum - (in->pulse_m + s->p.disagree_mps * s->p.disagree_s);
}

/* Tumbling windows of drift_window_s while a set runs: each must see the unloaded foot,
 * its lowest filtered force within +-drift_n of zero. Outside a set nothing is judged. */
static void track_drift(struct safety *s, const struct safety_input *in)
{
    if (!in->in_set || !isfinite(in->force)) {
        s->t_drift_win = NO_TIME;
        return;
    }
    if (s->t_drift_win < 0.0) {
        s->t_drift_win = in->now;
        s->drift_min = in->force;
        return;
    }
    s->drift_min = fmin(s->drift_min, in->force);
    if (in->now - s->t_drift_win < s->p.drift_window_s)
        return;
    if (fabs(s->drift_min) > s->p.drift_n) {
        s->drift_bad = true;
        s->drift_value = s->drift_min;
    }
    s->t_drift_win = in->now;
    s->drift_min = in->force;
}

/* Seconds the raw reading has not changed while samples kept coming and the belt was
 * commanded to move. Only then: a weighing transmitter's zero tracking may hold an
 * unloaded reading at exactly 0 for a long time, but during a set the foot loads and
 * unloads every few seconds. */
static double stuck_age(const struct safety *s, const struct safety_input *in)
{
    if (!(in->t_force_changed >= 0.0) || !(in->t_last_force >= 0.0) || s->t_cmd_since < 0.0)
        return 0.0;
    return in->t_last_force - fmax(in->t_force_changed, s->t_cmd_since);
}

/* A late tick (not a stall): remember when, for the burst rule. */
static void track_late(struct safety *s, const struct safety_input *in)
{
    if (!(in->late_s > s->p.loop_late_s))
        return;
    s->late_t[s->late_pos] = in->now;
    s->late_pos = (s->late_pos + 1) % SAFETY_LATE_BURST_MAX;
}

/* loop_late_burst late ticks (this one included) within the window. */
static bool late_burst(const struct safety *s, double now)
{
    int n = 0;

    for (int i = 0; i < SAFETY_LATE_BURST_MAX; i++)
        n += s->late_t[i] > now - SAFETY_LATE_WINDOW_S;
    return n >= s->p.loop_late_burst;
}

static enum fault trip(double *value, double *limit, enum fault f, double v, double lim)
{
    *value = v;
    *limit = lim;
    return f;
}

/* The first fault present in this tick's input, in the order of precedence. */
static enum fault first_fault(const struct safety *s, const struct safety_input *in,
                              double *value, double *limit)
{
    const struct safety_params *p = &s->p;
    double age = force_age(s, in);
    double silence = pulse_silence(s, in);
    double mean, allowed;

    if (in->estop)
        return trip(value, limit, FAULT_ESTOP, 1.0, 0.0);   /* value 1: input active */
    if (in->drive_tripped)
        return trip(value, limit, FAULT_DRIVE_TRIP, in->drive_fault_code, 0.0);
    if (in->drive_comm_lost)
        return trip(value, limit, FAULT_DRIVE_COMM, 1.0, 0.0);
    if (in->late_s > p->loop_stall_s)
        return trip(value, limit, FAULT_LOOP_LATE, in->late_s, p->loop_stall_s);
    if (in->late_s > p->loop_late_s && late_burst(s, in->now))
        return trip(value, limit, FAULT_LOOP_LATE, in->late_s, p->loop_late_s);
    if (over_limit(in->force, p->force_abort))
        return trip(value, limit, FAULT_OVERFORCE, in->force, p->force_abort);
    if (!(fabs(in->force_raw) < p->force_full_scale))
        return trip(value, limit, FAULT_FORCE_SATURATED, in->force_raw, p->force_full_scale);
    if (in->force_raw < -p->force_negative_n)
        return trip(value, limit, FAULT_FORCE_IMPLAUSIBLE, in->force_raw, -p->force_negative_n);
    if (over_limit(in->speed, p->speed_limit))
        return trip(value, limit, FAULT_OVERSPEED, in->speed, p->speed_limit);
    if (in->speed_pulse > p->speed_limit)   /* NAN: no pulse sensor */
        return trip(value, limit, FAULT_OVERSPEED, in->speed_pulse, p->speed_limit);
    if (age > p->force_stale_s)
        return trip(value, limit, FAULT_FORCE_STALE, age, p->force_stale_s);
    if (stuck_age(s, in) > p->force_stuck_s)
        return trip(value, limit, FAULT_FORCE_STUCK, stuck_age(s, in), p->force_stuck_s);
    if (s->drift_bad)
        return trip(value, limit, FAULT_FORCE_DRIFT, s->drift_value, p->drift_n);
    if (silence > p->speed_silent_s)
        return trip(value, limit, FAULT_SPEED_SILENT, silence, p->speed_silent_s);
    if (disagreement(s, in, &mean, &allowed) > 0.0)
        return trip(value, limit, FAULT_SPEED_DISAGREE, mean, allowed);
    return FAULT_NONE;
}

enum fault safety_check(struct safety *s, const struct safety_input *in)
{
    if (!s->started) {
        s->started = true;
        s->t_started = in->now;
    }
    if (s->latched != FAULT_NONE)
        return s->latched;

    track_command(s, in);
    track_disagreement(s, in);
    track_drift(s, in);
    track_late(s, in);
    double value = 0.0, limit = 0.0;
    enum fault f = first_fault(s, in, &value, &limit);
    if (f != FAULT_NONE) {
        s->latched = f;
        s->t_latched = in->now;
        s->value = value;
        s->limit = limit;
    }
    return f;
}

/* Only causes that keep acting on the patient block a reset. The others may be reset:
 * the belt is stopped by then, and a cause that persists latches again on the next
 * check. A drive trip in particular must be resettable: the drive clears its own trip
 * only once eccd writes the fault reset, which it does when the operator resets. */
static bool cause_present(const struct safety *s, const struct safety_input *in)
{
    switch (s->latched) {
    case FAULT_ESTOP:
        return in->estop;
    case FAULT_OVERFORCE:
        return over_limit(in->force, s->p.force_abort);
    /* A part that still fails would latch again on the next tick: say so instead. */
    case FAULT_FORCE_STALE:
        return force_age(s, in) > s->p.force_stale_s;
    case FAULT_DRIVE_COMM:
        return in->drive_comm_lost;
    case FAULT_FORCE_SATURATED:
        return !(fabs(in->force_raw) < s->p.force_full_scale);
    case FAULT_FORCE_IMPLAUSIBLE:
        return in->force_raw < -s->p.force_negative_n;
    default:
        return false;
    }
}

int safety_reset(struct safety *s, const struct safety_input *in)
{
    if (s->latched == FAULT_NONE)
        return 0;
    if (cause_present(s, in))
        return -1;
    clear_latch(s);
    s->resets++;
    return 0;
}

enum fault safety_latched(const struct safety *s)
{
    return s->latched;
}

double safety_latched_at(const struct safety *s)
{
    return s->t_latched;
}

double safety_value(const struct safety *s)
{
    return s->value;
}

double safety_limit(const struct safety *s)
{
    return s->limit;
}

int safety_resets(const struct safety *s)
{
    return s->resets;
}
