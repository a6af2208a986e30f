/* rep.c - the rep detector (see rep.h).
 *
 * Accounting, kept simple so a figure can be checked by hand:
 *  - each call is one tick of dt seconds ending at t;
 *  - the contact tick (force > contact_n) starts the stroke with t_start = t and is
 *    accumulated; every later tick with force >= release_n is accumulated; the
 *    release tick (force < release_n) ends the stroke at t_end = t and is not;
 *    so the accumulated time equals t_end - t_start;
 *  - accumulating a tick adds dt to the stroke clock, speed*dt to travel,
 *    force*speed*dt to work, force*dt to the force integral, and updates the peak;
 *  - the first accumulated tick with force inside [force_low, force_high] sets
 *    t_first_band = t, stamped like t_start (a tick's dt is booked from its own time
 *    on, which is why the accumulated time equals t_end - t_start); every accumulated
 *    tick inside the band adds dt to in_band_s, so a stroke that stays in the band
 *    from there to release has a share of exactly 1.
 */
#include "controller/rep.h"

#include <math.h>
#include <string.h>

#define BAND_NOT_REACHED (-1.0)   /* rep_figures.t_first_band sentinel (rep.h) */

static const char *const verdict_names[REP_VERDICT_COUNT] = {
    [REP_COUNTED] = "counted",
    [REP_TOO_SHORT] = "too_short",
    [REP_TOO_LITTLE_TRAVEL] = "too_little_travel",
    [REP_OUT_OF_BAND] = "out_of_band",
    [REP_ABORTED] = "aborted",
};

const char *rep_verdict_name(enum rep_verdict v)
{
    if ((unsigned)v >= REP_VERDICT_COUNT)
        return "unknown";
    return verdict_names[v];
}

/* A sensor glitch must not poison the sums: a non-finite reading counts as 0. */
static double finite_or_zero(double x)
{
    return isfinite(x) ? x : 0.0;
}

static void clear_stroke(struct rep_det *r)
{
    memset(&r->cur, 0, sizeof r->cur);
    r->cur.t_first_band = BAND_NOT_REACHED;
    r->force_sum_dt = 0.0;
    r->loaded = false;
}

void rep_init(struct rep_det *r, const struct rep_params *p)
{
    r->p = *p;
    clear_stroke(r);
}

static bool band_reached(const struct rep_figures *f)
{
    return f->t_first_band != BAND_NOT_REACHED;
}

static bool in_band(const struct rep_params *p, double force)
{
    return force >= p->force_low && force <= p->force_high;
}

static void start_stroke(struct rep_det *r, double t)
{
    clear_stroke(r);
    r->loaded = true;
    r->cur.t_start = t;
}

static void accumulate_tick(struct rep_det *r, double t, double force, double speed, double dt)
{
    struct rep_figures *f = &r->cur;

    f->travel_m += speed * dt;
    f->work_j += force * speed * dt;
    r->force_sum_dt += force * dt;
    if (force > f->peak_n)
        f->peak_n = force;
    if (!in_band(&r->p, force))
        return;
    if (!band_reached(f))
        f->t_first_band = t;
    f->in_band_s += dt;
}

static double clamp01(double x)
{
    if (!(x > 0.0))
        return 0.0;
    return x > 1.0 ? 1.0 : x;
}

static enum rep_verdict judge(const struct rep_params *p, const struct rep_figures *f)
{
    if (f->duration_s < p->min_stroke_s)
        return REP_TOO_SHORT;
    if (f->travel_m < p->min_travel_m)
        return REP_TOO_LITTLE_TRAVEL;
    if (f->in_band_share < p->min_in_band)
        return REP_OUT_OF_BAND;
    return REP_COUNTED;
}

/* Close the stroke at t_end: derive duration, mean and share from the sums. */
static void finish_figures(struct rep_det *r, double t_end, struct rep_figures *out)
{
    struct rep_figures *f = &r->cur;

    f->t_end = t_end;
    f->duration_s = t_end - f->t_start;
    f->mean_n = f->duration_s > 0.0 ? r->force_sum_dt / f->duration_s : 0.0;
    f->in_band_share = 0.0;
    if (band_reached(f)) {
        double span = t_end - f->t_first_band;
        f->in_band_share = span > 0.0 ? clamp01(f->in_band_s / span) : 0.0;
    }
    *out = *f;
}

enum rep_event rep_update(struct rep_det *r, double t, double force, double speed, double dt,
                          struct rep_figures *out)
{
    force = finite_or_zero(force);
    speed = finite_or_zero(speed);
    dt = isfinite(dt) && dt > 0.0 ? dt : 0.0;   /* a bad tick adds nothing */

    if (!r->loaded) {
        if (force <= r->p.contact_n)
            return REP_EV_NONE;
        start_stroke(r, t);
        accumulate_tick(r, t, force, speed, dt);
        return REP_EV_CONTACT;
    }
    if (force < r->p.release_n) {
        finish_figures(r, t, out);
        out->verdict = judge(&r->p, out);
        clear_stroke(r);
        return REP_EV_RELEASE;
    }
    accumulate_tick(r, t, force, speed, dt);
    return REP_EV_NONE;
}

bool rep_abort(struct rep_det *r, double t, struct rep_figures *out)
{
    if (!r->loaded)
        return false;
    finish_figures(r, t, out);
    out->verdict = REP_ABORTED;
    clear_stroke(r);
    return true;
}

bool rep_loaded(const struct rep_det *r)
{
    return r->loaded;
}

bool rep_reached_band(const struct rep_det *r)
{
    return r->loaded && band_reached(&r->cur);
}

double rep_stroke_time(const struct rep_det *r, double t)
{
    return r->loaded ? t - r->cur.t_start : 0.0;
}
