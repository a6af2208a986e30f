/* band_ctl.c - PI on the force-band error with clamped integrator and slew limit
 * (see band_ctl.h). */
#include "controller/band_ctl.h"

#include <math.h>

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static double clamp_speed(const struct band_ctl_params *p, double v)
{
    return clamp(v, p->speed_min, p->speed_max);
}

static double move_toward(double from, double to, double max_step)
{
    if (to > from + max_step)
        return from + max_step;
    if (to < from - max_step)
        return from - max_step;
    return to;
}

/* The drive's ramp bounds the slew; a ramp of 0 (not given) leaves accel alone. */
static double slower(double a, double b)
{
    return b > 0.0 && b < a ? b : a;
}

void band_ctl_set_drive_accel(struct band_ctl *c, double mps2)
{
    if (mps2 > 0.0 && isfinite(mps2))
        c->p.drive_accel = mps2;
}

double band_ctl_slew_up(const struct band_ctl_params *p)
{
    return slower(p->accel, p->drive_accel);
}

double band_ctl_slew_down(const struct band_ctl_params *p)
{
    return slower(p->accel, p->drive_decel);
}

/* Toward `to` by at most up (rising) or down (falling). */
static double move_toward2(double from, double to, double up, double down)
{
    if (to > from + up)
        return from + up;
    if (to < from - down)
        return from - down;
    return to;
}

static int rollback_ticks_for(const struct band_ctl_params *p)
{
    if (!(p->dt > 0) || !(p->rollback_s > 0))
        return 0;
    double ticks = p->rollback_s / p->dt;
    if (!(ticks < BAND_CTL_HIST - 1))
        return BAND_CTL_HIST - 1;     /* the ring cannot reach further back */
    return (int)lround(ticks);
}

static void forget_history(struct band_ctl *c)
{
    c->hist_pos = 0;
    c->hist_n = 0;
}

/* Held speed k ticks ago (k = 0: the newest entry); k < hist_n. */
static double *history_slot(struct band_ctl *c, int k)
{
    return &c->hist[(c->hist_pos - k + BAND_CTL_HIST) % BAND_CTL_HIST];
}

static void remember_target(struct band_ctl *c)
{
    c->hist_pos = (c->hist_pos + 1) % BAND_CTL_HIST;
    c->hist[c->hist_pos] = c->target;
    if (c->hist_n < BAND_CTL_HIST)
        c->hist_n++;
}

void band_ctl_init(struct band_ctl *c, const struct band_ctl_params *p)
{
    c->p = *p;
    c->running = false;
    c->target = clamp_speed(p, p->speed_min);
    c->out = 0.0;
    for (int i = 0; i < BAND_CTL_HIST; i++)
        c->hist[i] = 0.0;
    forget_history(c);
    c->rollback_ticks = rollback_ticks_for(p);
}

void band_ctl_run(struct band_ctl *c, double v0)
{
    const struct band_ctl_params *p = &c->p;

    if (p->mode == CFG_MODE_FIXED)
        v0 = p->fixed_speed;
    else if (!isfinite(v0))
        v0 = p->speed_min;
    c->target = clamp_speed(p, v0);
    c->running = true;
    /* A rollback must never reach back past the start of this run: the history
     * restarts with the start speed as its oldest entry. */
    forget_history(c);
    remember_target(c);
}

void band_ctl_stop(struct band_ctl *c)
{
    c->running = false;
}

void band_ctl_halt(struct band_ctl *c)
{
    c->running = false;
    c->out = 0.0;
}

double band_ctl_error(const struct band_ctl_params *p, double force)
{
    if (!isfinite(force))
        return 0.0;
    if (force > p->force_high)
        return p->force_high - force;
    if (force < p->force_low)
        return p->force_low - force;
    return 0.0;
}

/* True if reaching `desired` from `out` takes more than one slew step in the
 * direction the band error e pushes. */
static bool slew_limited_toward(double out, double desired, double max_step, double e)
{
    return (e > 0 && desired > out + max_step) || (e < 0 && desired < out - max_step);
}

/* The speed this tick aims at; updates the held speed. */
static double desired_speed(struct band_ctl *c, double force, bool engaged)
{
    const struct band_ctl_params *p = &c->p;

    if (p->mode == CFG_MODE_FIXED) {
        c->target = clamp_speed(p, p->fixed_speed);
        return c->target;
    }
    if (!engaged)
        return c->target;

    double e = band_ctl_error(p, force);
    double step = (e > 0 ? band_ctl_slew_up(p) : band_ctl_slew_down(p)) * p->dt;
    double proportional_only = clamp_speed(p, c->target + p->kp * e);
    /* Anti-windup at the slew limit: while the output cannot even keep up with the
     * command it has, integrating further only stores up speed that carries it
     * through the band once it catches up. */
    if (slew_limited_toward(c->out, proportional_only, step, e))
        return proportional_only;
    /* Clamping the integrator itself is the anti-windup at the speed limits: after
     * a long saturation the command leaves the limit as soon as e changes sign. */
    c->target = clamp_speed(p, c->target + p->ki * e * p->dt);
    return clamp_speed(p, c->target + p->kp * e);
}

/* Reactive mode: the foot is not loading the belt, so it must not move. A bad
 * reading is not a load either. */
static bool reactive_unloaded(const struct band_ctl_params *p, double force)
{
    return p->mode == CFG_MODE_REACTIVE && !(force > p->engage);
}

/* The model's speed, clamped; the PI's held speed follows it for a smooth fallback. */
static double model_speed(struct band_ctl *c, double v_model)
{
    const struct band_ctl_params *p = &c->p;

    if (p->mode == CFG_MODE_FIXED)
        return clamp_speed(p, p->fixed_speed);
    c->target = clamp_speed(p, v_model);
    return c->target;
}

/* Never more than lead_margin above the measured belt: a drive that lags behind its
 * config (or a belt the foot drags) holds the command back, rising only as the belt
 * does. */
static double lead_limited(const struct band_ctl_params *p, double cmd, double v_belt)
{
    if (!isfinite(v_belt))
        return cmd;
    return fmin(cmd, fmax(v_belt, 0.0) + p->lead_margin);
}

/* A stop ramps down from what the belt really does, never from a command it has not
 * reached: a stop must never ask for more speed than the belt has. */
static double stop_from(double out, double v_belt)
{
    return isfinite(v_belt) && v_belt >= 0.0 && v_belt < out ? v_belt : out;
}

double band_ctl_step(struct band_ctl *c, double force, bool engaged, double v_belt,
                     double v_model)
{
    const struct band_ctl_params *p = &c->p;

    if (!isfinite(force))
        engaged = false;              /* a bad reading must not reach the integrator */

    if (c->running && !reactive_unloaded(p, force)) {
        double want = isfinite(v_model) ? model_speed(c, v_model)
                                        : desired_speed(c, force, engaged);
        double next = move_toward2(c->out, want, band_ctl_slew_up(p) * p->dt,
                                   band_ctl_slew_down(p) * p->dt);
        c->out = lead_limited(p, next, v_belt);
    } else {
        c->out = move_toward(stop_from(c->out, v_belt), 0.0, p->stop_decel * p->dt);
    }

    /* Last line of defence: whatever the parameters, never command beyond the cap. */
    c->out = isfinite(c->out) ? clamp(c->out, 0.0, p->speed_max) : 0.0;
    remember_target(c);
    return c->out;
}

double band_ctl_update(struct band_ctl *c, double force, bool engaged)
{
    return band_ctl_step(c, force, engaged, NAN, NAN);
}

void band_ctl_release(struct band_ctl *c)
{
    if (c->p.mode == CFG_MODE_FIXED || c->hist_n == 0)
        return;

    /* Short history (a stroke right after run): roll back to the start speed. */
    int k = c->rollback_ticks < c->hist_n - 1 ? c->rollback_ticks : c->hist_n - 1;
    c->target = clamp_speed(&c->p, *history_slot(c, k));
    /* Overwrite the rolled-back ticks so a second release soon after does not
     * restore this stroke's unloading transient. */
    for (int i = 0; i < k; i++)
        *history_slot(c, i) = c->target;
}

double band_ctl_output(const struct band_ctl *c)
{
    return c->out;
}

double band_ctl_target(const struct band_ctl *c)
{
    return c->target;
}

bool band_ctl_running(const struct band_ctl *c)
{
    return c->running;
}
