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
 *    a tick's dt is booked from its own time t on;
 *  - a tick at t >= t_start + landing_s is in the loaded window: it adds dt to
 *    window_s, and to in_band_s when its force is inside [force_low, force_high];
 *  - at release the lift start t_lift is found (rep.h) and the window ticks at or
 *    after it are taken out again, so the window is [t_start + landing_s, t_lift).
 *    A stroke that stays in the band from landing to lift has a share of exactly 1.
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
    [REP_ABOVE_AT_MIN] = "above_band_at_min_speed",
    [REP_BELOW_AT_MAX] = "below_band_at_max_speed",
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
    r->tail_pos = 0;
    r->tail_n = 0;
}

void rep_init(struct rep_det *r, const struct rep_params *p)
{
    r->p = *p;
    if (!(r->p.landing_s >= 0.0))
        r->p.landing_s = 0.0;
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

/* Tail entry k ticks back (k = 0: the newest); k < tail_n. */
static struct rep_tick *tail_at(struct rep_det *r, int k)
{
    return &r->tail[(r->tail_pos - k + REP_TAIL) % REP_TAIL];
}

static void tail_push(struct rep_det *r, const struct rep_tick *tk)
{
    r->tail_pos = (r->tail_pos + 1) % REP_TAIL;
    r->tail[r->tail_pos] = *tk;
    if (r->tail_n < REP_TAIL)
        r->tail_n++;
}

/* Add (sign +1) or take out (-1) a tick's share of the loaded window. */
static void book_window(struct rep_figures *f, const struct rep_tick *tk, double sign)
{
    if (!tk->in_window)
        return;
    f->window_s += sign * tk->dt;
    if (tk->in_band)
        f->in_band_s += sign * tk->dt;
    if (tk->above_at_min)
        f->above_at_min_s += sign * tk->dt;
    if (tk->below_at_max)
        f->below_at_max_s += sign * tk->dt;
}

/* The foot's force now, from the filtered one: the filter shows it filter_lag_s late, so
 * its slope over the last REP_LIFT_SPAN_S is carried forward by that much (a first-order
 * lead; the span keeps a load cell slower than the loop from making the slope jump). */
static double force_now(struct rep_det *r, double t, double force)
{
    for (int k = 0; k < r->tail_n && r->p.filter_lag_s > 0.0; k++) {
        const struct rep_tick *old = tail_at(r, k);
        if (t - old->t >= REP_LIFT_SPAN_S - 1e-9)
            return force + r->p.filter_lag_s * (force - old->force) / (t - old->t);
    }
    return force;
}

static void accumulate_tick(struct rep_det *r, double t, double force, double speed, double dt,
                            enum rep_limit lim)
{
    struct rep_figures *f = &r->cur;
    struct rep_tick tk = {.t = t, .dt = dt, .force = force};
    double judged = force_now(r, t, force);

    f->travel_m += speed * dt;
    f->work_j += force * speed * dt;
    r->force_sum_dt += force * dt;
    if (force > f->peak_n)
        f->peak_n = force;
    tk.in_band = in_band(&r->p, judged);
    if (tk.in_band && !band_reached(f))
        f->t_first_band = t;
    /* the contact was seen filter_lag_s late too; 1e-9: a landing time of k ticks ends
     * exactly on a tick's time */
    tk.in_window = t >= f->t_start - r->p.filter_lag_s + r->p.landing_s - 1e-9;
    tk.above_at_min = lim == REP_AT_MIN && judged > r->p.force_high;
    tk.below_at_max = lim == REP_AT_MAX && judged < r->p.force_low;
    book_window(f, &tk, 1.0);
    tail_push(r, &tk);
}

/* The force at the first point at least REP_LIFT_SPAN_S after tail tick k (a newer tick,
 * or the release itself): the slope is judged over that span, because a load cell slower
 * than the loop repeats its value for a tick now and then. */
static void span_end(struct rep_det *r, int k, double t_end, double f_end, double *t, double *f)
{
    double t_k = tail_at(r, k)->t;

    for (int m = k - 1; m >= 0; m--) {
        const struct rep_tick *tm = tail_at(r, m);
        if (tm->t >= t_k + REP_LIFT_SPAN_S - 1e-9) {
            *t = tm->t;
            *f = tm->force;
            return;
        }
    }
    *t = t_end;
    *f = f_end;
}

/* Walk back from the release (force f_end at t_end) while the force fell faster than
 * REP_LIFT_SLOPE_NPS; returns how many tail ticks the lift covers (0: none). */
static int lift_ticks(struct rep_det *r, double t_end, double f_end)
{
    int k;

    for (k = 0; k < r->tail_n; k++) {
        const struct rep_tick *tk = tail_at(r, k);
        double t_later, f_later;
        span_end(r, k, t_end, f_end, &t_later, &f_later);
        if (t_end - tk->t > REP_LIFT_MAX_S || !(t_later > tk->t) ||
            tk->force - f_later < REP_LIFT_SLOPE_NPS * (t_later - tk->t))
            break;
    }
    return k;
}

/* The loaded window ends where the lift began: take its ticks out again. */
static void cut_lift(struct rep_det *r, double t_end, double f_end)
{
    int n = lift_ticks(r, t_end, f_end);

    r->cur.t_lift = n > 0 ? tail_at(r, n - 1)->t : t_end;
    for (int k = 0; k < n; k++) {
        const struct rep_tick *tk = tail_at(r, k);
        book_window(&r->cur, tk, -1.0);
    }
}

static double clamp01(double x)
{
    if (!(x > 0.0))
        return 0.0;
    return x > 1.0 ? 1.0 : x;
}

/* Out of band: say so, or that no reachable speed could have put it there. */
static enum rep_verdict band_verdict(const struct rep_figures *f)
{
    double out_s = f->window_s - f->in_band_s;

    if (f->above_at_min_s > 0.5 * out_s)
        return REP_ABOVE_AT_MIN;
    if (f->below_at_max_s > 0.5 * out_s)
        return REP_BELOW_AT_MAX;
    return REP_OUT_OF_BAND;
}

static enum rep_verdict judge(const struct rep_params *p, const struct rep_figures *f)
{
    if (f->duration_s < p->min_stroke_s)
        return REP_TOO_SHORT;
    if (f->travel_m < p->min_travel_m)
        return REP_TOO_LITTLE_TRAVEL;
    if (f->in_band_share < p->min_in_band)
        return band_verdict(f);
    return REP_COUNTED;
}

/* Close the stroke at t_end: derive duration, mean and share from the sums. */
static void finish_figures(struct rep_det *r, double t_end, struct rep_figures *out)
{
    struct rep_figures *f = &r->cur;

    f->t_end = t_end;
    f->duration_s = t_end - f->t_start;
    f->mean_n = f->duration_s > 0.0 ? r->force_sum_dt / f->duration_s : 0.0;
    f->window_s = fmax(f->window_s, 0.0);        /* sums of +dt and -dt: no -1e-17 */
    f->in_band_s = fmax(f->in_band_s, 0.0);
    f->in_band_share = f->window_s > 1e-9 ? clamp01(f->in_band_s / f->window_s) : 0.0;
    *out = *f;
}

enum rep_event rep_update(struct rep_det *r, double t, double force, double speed, double dt,
                          enum rep_limit lim, struct rep_figures *out)
{
    force = finite_or_zero(force);
    speed = finite_or_zero(speed);
    dt = isfinite(dt) && dt > 0.0 ? dt : 0.0;   /* a bad tick adds nothing */

    if (!r->loaded) {
        if (force <= r->p.contact_n)
            return REP_EV_NONE;
        start_stroke(r, t);
        accumulate_tick(r, t, force, speed, dt, lim);
        return REP_EV_CONTACT;
    }
    if (force < r->p.release_n) {
        cut_lift(r, t, force);
        finish_figures(r, t, out);
        out->verdict = judge(&r->p, out);
        clear_stroke(r);
        return REP_EV_RELEASE;
    }
    accumulate_tick(r, t, force, speed, dt, lim);
    return REP_EV_NONE;
}

bool rep_abort(struct rep_det *r, double t, struct rep_figures *out)
{
    if (!r->loaded)
        return false;
    r->cur.t_lift = t;
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
