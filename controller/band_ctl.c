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
    double step = p->accel * p->dt;
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

double band_ctl_update(struct band_ctl *c, double force, bool engaged)
{
    const struct band_ctl_params *p = &c->p;

    if (!isfinite(force))
        engaged = false;              /* a bad reading must not reach the integrator */

    if (c->running && !reactive_unloaded(p, force))
        c->out = move_toward(c->out, desired_speed(c, force, engaged), p->accel * p->dt);
    else
        c->out = move_toward(c->out, 0.0, p->stop_decel * p->dt);

    /* Last line of defence: whatever the parameters, never command beyond the cap. */
    c->out = isfinite(c->out) ? clamp(c->out, 0.0, p->speed_max) : 0.0;
    remember_target(c);
    return c->out;
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
