/* safety.c - the safety supervisor (see safety.h).
 *
 * Checks run in a fixed order (estop, overforce, overspeed, force_stale,
 * speed_silent); the first that trips is latched with its time, the measured
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
}

void safety_init(struct safety *s, const struct safety_params *p)
{
    s->p = *p;
    clear_latch(s);
    s->t_started = 0.0;
    s->started = false;
    s->resets = 0;
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

    if (in->estop)
        return trip(value, limit, FAULT_ESTOP, 1.0, 0.0);   /* value 1: input active */
    if (over_limit(in->force, p->force_abort))
        return trip(value, limit, FAULT_OVERFORCE, in->force, p->force_abort);
    if (over_limit(in->speed, p->speed_limit))
        return trip(value, limit, FAULT_OVERSPEED, in->speed, p->speed_limit);
    if (age > p->force_stale_s)
        return trip(value, limit, FAULT_FORCE_STALE, age, p->force_stale_s);
    if (silence > p->speed_silent_s)
        return trip(value, limit, FAULT_SPEED_SILENT, silence, p->speed_silent_s);
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

/* Only causes that keep acting on the patient block a reset. Overspeed, a stale
 * load cell and a silent belt sensor may be reset: the belt is stopped by then,
 * and a cause that persists latches again on the next check. */
static bool cause_present(const struct safety *s, const struct safety_input *in)
{
    switch (s->latched) {
    case FAULT_ESTOP:
        return in->estop;
    case FAULT_OVERFORCE:
        return over_limit(in->force, s->p.force_abort);
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
