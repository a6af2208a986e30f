/* athlete.c - the simulated patient (see athlete.h).
 *
 * Three independent parts share one struct:
 *   the stroke cycle  waiting -> placing -> resisting -> lifting -> repositioning -> waiting
 *                     produces the true foot force;
 *   the button presser watches the belt for start/stop cycles and presses start;
 *   the judge         finds strokes in the true force (contact/release hysteresis) and
 *                     records them with their true travel and in-band time.
 * Every timer is an absolute time, so a caller may step with a large dt while the belt
 * is still (the rig's quiet-stretch skipping) without changing what happens.
 */
#include "sim/athlete.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#define TWO_PI 6.283185307179586

/* Belt thresholds of the athlete's behaviour (m/s, m/s^2, s). */
#define V_STEADY 0.05      /* belt "running": the athlete may place the foot */
#define DECEL_MAX 0.2      /* decelerating harder than this: the belt is stopping, wait */
#define ACCEL_MAX 0.1      /* speeding up or slowing down harder than this (a drive's
                              ramp; a slow drive stopping after a set): wait until the
                              belt runs steadily */
#define ACCEL_FEEL_S 0.1   /* s, over which a person judges the belt's acceleration */
#define V_STALL 0.03       /* belt stopped under the foot: lift */
#define V_STOPPED 0.01     /* belt stopped, for the start/stop cycle count */
#define STOP_CONFIRM_S 0.5 /* stopped this long after running: a set cycle is over */
#define REPRESS_S 2.0      /* press start again while the belt stays stopped */
#define REACTIVE_WAIT_S 1.5          /* reactive: foot held on a belt that does not start */
#define REACTIVE_STOP_CONFIRM_S 5.0  /* reactive: stops between strokes are shorter */

/* Past belt speeds for the reaction delay: physics steps are 1 ms and reaction_s is at
 * most REACTION_MAX_S, so 1024 entries always reach back far enough (with longer steps,
 * further still). A fixed array: nothing is allocated per step. */
#define REACTION_MAX_S 0.5
#define V_HIST 1024

enum phase { PH_WAITING, PH_PLACING, PH_RESISTING, PH_LIFTING, PH_REPOSITIONING };

/* A stroke's random parts, drawn before it is placed (see athlete.h). */
struct draw {
    bool partial;
    double reach;          /* m */
    double effort_factor;  /* 1 +- effort_var; fatigue is applied when placing */
    double tremor_phase;   /* rad */
};

struct v_hist {            /* ring of (t, belt speed), oldest first from head */
    double t[V_HIST], v[V_HIST];
    unsigned head, n;
};

struct athlete {
    struct athlete_params p;
    struct athlete_judge j;
    uint64_t rng;

    /* the stroke cycle */
    enum phase phase;
    double t_phase;        /* s, when placing or lifting began */
    double ramp;           /* 0..1, how much of the foot's weight is on the belt */
    double lift_from;      /* ramp value when lifting began */
    double reposition_end; /* s */
    double travel;         /* m, belt travel since placing */
    double reach;          /* m, this stroke's intended travel */
    double effort;         /* N, this stroke's effort with fatigue applied */
    double tremor_phase;   /* rad */
    struct draw next;      /* the next stroke, drawn when the previous one began lifting */
    struct v_hist hist;    /* belt speeds, for reaction_s */
    bool partial;
    bool belt_moved;       /* reactive: the belt started under the foot this stroke */
    bool void_attempt;     /* reactive: lifted because the belt never started */
    int strokes_in_set, sets_in_session, sessions_done;
    int cycles;            /* set cycles counted */
    double set_peak_sum;   /* N, true peaks of the strokes in the set going on */
    int set_peak_n;
    double last_set_peak;  /* N, mean true peak of the latest set cycle */
    double t_first_press;  /* s, first press not yet answered by the belt (-1: none) */
    double v_prev;         /* m/s, belt speed at the previous step */
    double accel;          /* m/s^2, the belt's acceleration as a person feels it (smoothed
                              over ACCEL_FEEL_S: a drive's ramp comes in small steps) */

    /* the button presser */
    bool belt_ran;         /* belt was running since the last counted cycle */
    bool in_set;           /* start pressed since the last counted cycle */
    double t_stopped;      /* s, when the belt fell below V_STOPPED; -1 while moving */
    double next_press;     /* s, INFINITY when no press is pending */

    /* the judge */
    bool rec_loaded;
    double f_prev;         /* N, true force at the previous step */
    struct stroke_record cur;
    struct stroke_record *rec;
    int n_rec, max_rec, n_strokes, dropped;
};

/* ---- randomness: splitmix64, deterministic from the seed --------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static double rng_uniform(uint64_t *s, double lo, double hi)
{
    double u = (double)(rng_next(s) >> 11) * 0x1.0p-53;
    return lo + (hi - lo) * u;
}

/* ---- defaults ---------------------------------------------------------------------- */

void athlete_defaults(struct athlete_params *p)
{
    *p = (struct athlete_params){
        .name = "normal",
        .effort_n = 55.0, .effort_var = 0.2,
        .fatigue_per_rep = 0.01, .fatigue_per_set = 0.05,
        .speed_gain = 150.0, .speed_law = ATHLETE_LAW_LINEAR, .speed_exp = 0.5,
        .reaction_s = 0.0, .shape_slope = 0.3,
        .tremor_n = 2.0, .tremor_hz = 5.0,
        .reach_m = 0.45, .reach_var_m = 0.05,
        .partial_prob = 0.05, .partial_reach_m = 0.12,
        .place_s = 0.25, .lift_s = 0.15,
        .reposition_min_s = 0.6, .reposition_max_s = 1.2,
        .spike_rate_hz = 0.0, .spike_n = 0.0,
        .start_delay_s = 2.0, .rest_wait_s = 62.0, .session_gap_s = 36000.0,
        .sets_per_session = 3, .sessions = 1,
        .session1_h = 8.0, .session2_h = 18.0, .morning_h = 7.5,
        .tolerance_n = 150.0, .tolerance_growth = 0.01, .overload_loss = 0.5,
        .pain_base = 1.0, .pain_gain = 2.0, .pain_noise = 0.5,
        .morning_base = 1.0, .morning_noise = 0.3, .irritation_gain = 1.0,
        .irritation_decay = 0.1,
    };
}

/* ---- the strokes' random parts ----------------------------------------------------- */

/* Draw the next stroke now, so it is known before it lands. The draws come in a fixed
 * order (partial, reach, effort, tremor): the same seed gives the same strokes. */
static void draw_next(struct athlete *a)
{
    const struct athlete_params *p = &a->p;
    struct draw *d = &a->next;

    d->partial = rng_uniform(&a->rng, 0.0, 1.0) < p->partial_prob;
    d->reach = p->reach_m + rng_uniform(&a->rng, -p->reach_var_m, p->reach_var_m);
    if (d->partial)
        d->reach = p->partial_reach_m;
    d->effort_factor = 1.0 + rng_uniform(&a->rng, -p->effort_var, p->effort_var);
    d->tremor_phase = rng_uniform(&a->rng, 0.0, TWO_PI);
}

/* ---- life cycle -------------------------------------------------------------------- */

struct athlete *athlete_open(const struct athlete_params *p, const struct athlete_judge *j,
                            unsigned seed, int max_strokes)
{
    struct athlete *a = calloc(1, sizeof *a);

    if (!a)
        return NULL;
    if (max_strokes < 0)
        max_strokes = 0;
    a->rec = calloc((size_t)max_strokes + 1, sizeof *a->rec);
    if (!a->rec) {
        free(a);
        return NULL;
    }
    a->p = *p;
    a->j = *j;
    a->rng = seed;
    a->max_rec = max_strokes;
    a->phase = PH_WAITING;
    a->t_stopped = -1.0;
    a->t_first_press = -1.0;
    a->next_press = p->sessions > 0 && p->programme_days == 0 ? p->start_delay_s : INFINITY;
    draw_next(a);
    return a;
}

void athlete_close(struct athlete *a)
{
    if (!a)
        return;
    free(a->rec);
    free(a);
}

/* ---- the button presser ------------------------------------------------------------ */

static double stop_confirm_s(const struct athlete *a)
{
    return a->p.reactive ? REACTIVE_STOP_CONFIRM_S : STOP_CONFIRM_S;
}

/* A set cycle (belt ran, then stayed stopped STOP_CONFIRM_S) is over: schedule the next
 * start press after the rest, or after the session gap when it closed a session. */
static void count_cycle(struct athlete *a)
{
    double stop = a->t_stopped;

    a->belt_ran = false;
    a->in_set = false;
    a->t_stopped = -1.0;
    a->strokes_in_set = 0;
    a->sets_in_session++;
    a->cycles++;
    a->last_set_peak = a->set_peak_n ? a->set_peak_sum / a->set_peak_n : 0.0;
    a->set_peak_sum = 0.0;
    a->set_peak_n = 0;
    if (a->sets_in_session < a->p.sets_per_session) {
        a->next_press = stop + a->p.rest_wait_s;
        return;
    }
    a->sets_in_session = 0;
    a->sessions_done++;
    a->next_press = a->sessions_done < a->p.sessions && a->p.programme_days == 0
                        ? stop + a->p.session_gap_s : INFINITY;
}

/* Pressed for give_up_s and the belt never ran: the session is over for the athlete
 * (eccd ended it, or will not begin one now). */
static void give_up(struct athlete *a)
{
    a->in_set = false;
    a->t_first_press = -1.0;
    a->next_press = INFINITY;
    if (a->sets_in_session > 0 || a->p.programme_days > 0) {
        a->sets_in_session = 0;
        a->sessions_done++;
    }
}

static void watch_belt(struct athlete *a, double t, double v)
{
    if (v > V_STEADY) {
        a->belt_ran = true;
        a->next_press = INFINITY; /* it runs: nothing to press for */
        a->t_first_press = -1.0;
    }
    if (v >= V_STOPPED) {
        a->t_stopped = -1.0;
        return;
    }
    if (!a->belt_ran)
        return;
    if (a->t_stopped < 0.0)
        a->t_stopped = t;
    else if (t - a->t_stopped >= stop_confirm_s(a))
        count_cycle(a);
}

static void press_buttons(struct athlete *a, double t, double v, unsigned *buttons)
{
    if (t < a->next_press || v > V_STEADY)
        return;
    if (a->t_first_press < 0.0)
        a->t_first_press = t;
    if (a->p.give_up_s > 0.0 && t - a->t_first_press >= a->p.give_up_s) {
        give_up(a);
        return;
    }
    *buttons |= ATHLETE_BTN_START;
    a->in_set = true;
    a->next_press = t + REPRESS_S; /* cancelled by watch_belt once the belt runs */
}

/* ---- the stroke cycle -------------------------------------------------------------- */

static double fatigue(const struct athlete *a)
{
    double f = (1.0 - a->p.fatigue_per_rep * a->strokes_in_set) *
               (1.0 - a->p.fatigue_per_set * a->sets_in_session);
    return f > 0.0 ? f : 0.0;
}

/* The effort a stroke drawn as d is placed with: fatigue as the counts are now. */
static double placed_effort(const struct athlete *a, const struct draw *d)
{
    return a->p.effort_n * d->effort_factor * fatigue(a);
}

/* Take the pre-drawn stroke (reach, effort, tremor phase); the foot starts down. */
static void begin_placing(struct athlete *a, double t)
{
    a->partial = a->next.partial;
    a->reach = a->next.reach;
    a->effort = placed_effort(a, &a->next);
    a->tremor_phase = a->next.tremor_phase;
    a->travel = 0.0;
    a->ramp = 0.0;
    a->belt_moved = false;
    a->void_attempt = false;
    a->t_phase = t;
    a->phase = PH_PLACING;
}

/* The foot starts up: the judged window ends here, and the next stroke is drawn (a
 * reactive attempt the belt never answered is retried with the same draw). */
static void begin_lifting(struct athlete *a, double t)
{
    a->lift_from = a->ramp;
    a->t_phase = t;
    a->phase = PH_LIFTING;
    if (a->rec_loaded && a->cur.t_lift < 0.0)
        a->cur.t_lift = t;
    if (a->void_attempt)
        return;
    a->strokes_in_set++;
    draw_next(a);
}

/* Reactive: until the belt starts under the foot, a stopped belt is expected, not a
 * stall; after REACTIVE_WAIT_S without a start the attempt is given up. */
static bool reactive_waiting_for_belt(struct athlete *a, double t, double v)
{
    if (!a->p.reactive || a->belt_moved)
        return false;
    if (v > V_STEADY) {
        a->belt_moved = true;
        return false;
    }
    if (t - a->t_phase >= REACTIVE_WAIT_S) {
        a->void_attempt = true;
        begin_lifting(a, t);
    }
    return true;
}

static double ramp_up(const struct athlete *a, double t)
{
    if (a->p.place_s <= 0.0)
        return 1.0;
    return fmin(1.0, (t - a->t_phase) / a->p.place_s);
}

static double ramp_down(const struct athlete *a, double t)
{
    if (a->p.lift_s <= 0.0)
        return 0.0;
    return fmax(0.0, a->lift_from - (t - a->t_phase) / a->p.lift_s);
}

/* Foot on the belt (placing or resisting): ramp up, lift at the reach or if the belt stalls. */
static void step_loaded(struct athlete *a, double t, double v)
{
    a->ramp = ramp_up(a, t);
    if (a->phase == PH_PLACING && a->ramp >= 1.0)
        a->phase = PH_RESISTING;
    if (reactive_waiting_for_belt(a, t, v))
        return;
    if (a->travel >= a->reach || v < V_STALL)
        begin_lifting(a, t);
}

static void step_lifting(struct athlete *a, double t)
{
    a->ramp = ramp_down(a, t);
    if (a->ramp > 0.0)
        return;
    a->phase = PH_REPOSITIONING;
    a->reposition_end = t + rng_uniform(&a->rng, a->p.reposition_min_s, a->p.reposition_max_s);
}

/* Place only on a belt that runs and is not stopping (a person does not step onto a
 * belt that is slowing to a halt). */
static bool belt_steady(const struct athlete *a, double dt, double v)
{
    double decel = dt > 0.0 ? (a->v_prev - v) / dt : 0.0;
    /* (a belt that jumps from rest to speed in one step, as some unit tests drive it,
     * is running the moment it moves) */
    bool ramping = a->v_prev > 0.0 && fabs(a->accel) > ACCEL_MAX;

    return v > V_STEADY && decel <= DECEL_MAX && !ramping;
}

/* When the foot goes down: on a steady belt, or in reactive mode on a stopped belt
 * while a set the athlete started may be running. */
static bool ready_to_place(const struct athlete *a, double dt, double v)
{
    if (a->p.reactive)
        return a->in_set && v < V_STOPPED;
    return belt_steady(a, dt, v);
}

static void step_cycle(struct athlete *a, double t, double dt, double v)
{
    if (a->phase == PH_PLACING || a->phase == PH_RESISTING || a->phase == PH_LIFTING)
        a->travel += 0.5 * (a->v_prev + v) * dt;
    switch (a->phase) {
    case PH_REPOSITIONING:
        if (t < a->reposition_end)
            break;
        a->phase = PH_WAITING;
        /* fall through */
    case PH_WAITING:
        if (ready_to_place(a, dt, v))
            begin_placing(a, t);
        break;
    case PH_PLACING:
    case PH_RESISTING:
        step_loaded(a, t, v);
        break;
    case PH_LIFTING:
        step_lifting(a, t);
        break;
    }
}

/* ---- the force law and the reaction delay ------------------------------------------ */

static double speed_term(const struct athlete_params *p, double v)
{
    if (!(v > 0.0))
        return 0.0;
    if (p->speed_law == ATHLETE_LAW_POWER)
        return p->speed_gain * ATHLETE_V_REF * pow(v / ATHLETE_V_REF, p->speed_exp);
    return p->speed_gain * v;
}

/* shape(p) = 1 - s/2 + s p, p clamped to 0..1: effort grows (s > 0) through the stroke. */
double athlete_force_model(const struct athlete_params *p, double effort_n, double progress,
                           double v_belt)
{
    double s = p->shape_slope, prog = fmin(1.0, fmax(0.0, progress));

    double activation = p->effort_scales_speed && p->effort_n > 0.0 ? effort_n / p->effort_n
                                                                     : 1.0;

    return effort_n * (1.0 - 0.5 * s + s * prog) + activation * speed_term(p, v_belt);
}

static void hist_push(struct v_hist *h, double t, double v)
{
    unsigned i;

    if (h->n == V_HIST) {
        h->head = (h->head + 1) % V_HIST;
        h->n--;
    }
    i = (h->head + h->n) % V_HIST;
    h->t[i] = t;
    h->v[i] = v;
    h->n++;
}

#define HIST_T(h, k) ((h)->t[((h)->head + (k)) % V_HIST])
#define HIST_V(h, k) ((h)->v[((h)->head + (k)) % V_HIST])

/* Belt speed at time tq, linear between the recorded steps (as the rig integrates it).
 * Before the first record the belt was still (the rig starts at rest). */
static double hist_at(const struct v_hist *h, double tq)
{
    unsigned lo = 0, hi, k;
    double t0, t1;

    if (h->n == 0 || tq < HIST_T(h, 0))
        return h->n == V_HIST ? HIST_V(h, 0) : 0.0;
    hi = h->n - 1;
    if (tq >= HIST_T(h, hi))
        return HIST_V(h, hi);
    while (hi - lo > 1) {            /* HIST_T(lo) <= tq < HIST_T(hi) */
        k = (lo + hi) / 2;
        if (HIST_T(h, k) <= tq)
            lo = k;
        else
            hi = k;
    }
    t0 = HIST_T(h, lo);
    t1 = HIST_T(h, hi);
    return HIST_V(h, lo) + (HIST_V(h, hi) - HIST_V(h, lo)) * (tq - t0) / (t1 - t0);
}

/* The belt speed the speed-dependent force answers: reaction_s ago. */
static double reacted_speed(const struct athlete *a, double t, double v)
{
    if (a->p.reaction_s <= 0.0)
        return v;
    return hist_at(&a->hist, t - a->p.reaction_s);
}

static double true_force(const struct athlete *a, double t, double v)
{
    double prog, f;

    if (a->ramp <= 0.0)
        return 0.0;
    prog = a->reach > 0.0 ? a->travel / a->reach : 1.0;
    f = athlete_force_model(&a->p, a->effort, prog, reacted_speed(a, t, v));
    if (a->p.tremor_n != 0.0)
        f += a->p.tremor_n * sin(TWO_PI * a->p.tremor_hz * t + a->tremor_phase);
    f *= a->ramp;
    return f > 0.0 ? f : 0.0;
}

/* ---- the judge --------------------------------------------------------------------- */

/* Time at which a force that went linearly from f0 (at t0) to f1 (at t1) crossed level. */
static double crossing(double t0, double f0, double t1, double f1, double level)
{
    if (f1 == f0)
        return t1;
    return t0 + (t1 - t0) * (level - f0) / (f1 - f0);
}

/* Time a force going linearly from f0 (at t0) to f1 (at t1) spends inside [lo, hi]. */
static double band_time(const struct athlete_judge *j, double t0, double f0, double t1,
                        double f1)
{
    double fmn = fmin(f0, f1), fmx = fmax(f0, f1);
    double in_lo = fmax(fmn, j->force_low), in_hi = fmin(fmx, j->force_high);

    if (t1 <= t0 || in_hi < in_lo)
        return 0.0;
    if (fmx == fmn)
        return t1 - t0;
    return (t1 - t0) * (in_hi - in_lo) / (fmx - fmn);
}

/* The part of a linear segment inside the judged window [t_contact + landing_s, t_lift]
 * (t_lift not yet known: open ended), its in-band time added to window_in_band_s. */
static void window_segment(struct stroke_record *r, const struct athlete_judge *j,
                           double t0, double f0, double t1, double f1)
{
    double w0 = r->t_contact + j->landing_s, w1 = r->t_lift >= 0.0 ? r->t_lift : INFINITY;
    double a = fmax(t0, w0), b = fmin(t1, w1), fa, fb;

    if (!(b > a))
        return;
    fa = f0 + (f1 - f0) * (a - t0) / (t1 - t0);
    fb = f0 + (f1 - f0) * (b - t0) / (t1 - t0);
    r->window_in_band_s += band_time(j, a, fa, b, fb);
}

/* Over a linear force segment, accumulate time inside [lo, hi] (whole stroke and judged
 * window) and note when the force first reached the band. */
static void band_segment(struct stroke_record *r, const struct athlete_judge *j, double t0,
                         double f0, double t1, double f1)
{
    double lo = j->force_low, hi = j->force_high;

    if (t1 <= t0)
        return;
    window_segment(r, j, t0, f0, t1, f1);
    if (fmax(f0, f1) < lo || fmin(f0, f1) > hi)
        return;                /* nowhere near the band */
    r->in_band_s += band_time(j, t0, f0, t1, f1);
    if (r->t_first_band < 0.0) {
        double level = f0 < lo ? lo : f0 > hi ? hi : f0;
        r->t_first_band = crossing(t0, f0, t1, f1, level);
    }
}

static void judge_begin(struct athlete *a, double t0, double t, double v, double f)
{
    double tc = crossing(t0, a->f_prev, t, f, a->j.contact_n);

    a->rec_loaded = true;
    a->cur = (struct stroke_record){
        .index = a->n_strokes, .session = a->sessions_done + 1, .partial = a->partial,
        .t_contact = tc, .travel_m = v * (t - tc), .peak_n = f, .t_first_band = -1.0,
        .effort_n = a->effort,
        /* contact found while the foot is already going up: an empty window */
        .t_lift = a->phase == PH_LIFTING || a->phase == PH_REPOSITIONING ? tc : -1.0,
    };
    band_segment(&a->cur, &a->j, tc, a->j.contact_n, t, f);
}

static void judge_finish(struct athlete *a, double t_release)
{
    struct stroke_record *r = &a->cur;
    const struct athlete_judge *j = &a->j;

    a->rec_loaded = false;
    if (a->void_attempt)
        return;                /* the belt never started: nothing happened */
    r->t_release = t_release;
    r->duration_s = t_release - r->t_contact;
    if (r->t_lift < 0.0)
        r->t_lift = t_release; /* the force fell away before any lift */
    r->window_s = fmax(0.0, r->t_lift - (r->t_contact + j->landing_s));
    r->in_band_share = r->window_s > 0.0 ? fmin(1.0, r->window_in_band_s / r->window_s) : 0.0;
    r->valid = r->duration_s >= j->min_stroke_s && r->travel_m >= j->min_travel_m &&
               r->in_band_share >= j->min_in_band;
    a->n_strokes++;
    a->set_peak_sum += r->peak_n;
    a->set_peak_n++;
    if (a->n_rec < a->max_rec)
        a->rec[a->n_rec++] = *r;
    else
        a->dropped++;
}

static void judge_step(struct athlete *a, double t, double dt, double v, double f)
{
    double t0 = t - dt, tr;

    if (!a->rec_loaded) {
        if (f > a->j.contact_n)
            judge_begin(a, t0, t, v, f);
        return;
    }
    if (f >= a->j.release_n) {
        a->cur.travel_m += 0.5 * (a->v_prev + v) * dt;
        a->cur.peak_n = fmax(a->cur.peak_n, f);
        band_segment(&a->cur, &a->j, t0, a->f_prev, t, f);
        return;
    }
    tr = crossing(t0, a->f_prev, t, f, a->j.release_n);
    a->cur.travel_m += v * (tr - t0);
    band_segment(&a->cur, &a->j, t0, a->f_prev, tr, a->j.release_n);
    judge_finish(a, tr);
}

/* ---- stepping ---------------------------------------------------------------------- */

double athlete_step(struct athlete *a, double t, double dt, double v_belt, unsigned *buttons)
{
    double f;

    if (!(v_belt > 0.0))
        v_belt = 0.0;
    hist_push(&a->hist, t, v_belt);
    watch_belt(a, t, v_belt);
    press_buttons(a, t, v_belt, buttons);
    step_cycle(a, t, dt, v_belt);
    f = true_force(a, t, v_belt);
    judge_step(a, t, dt, v_belt, f);
    a->f_prev = f;
    if (dt > 0.0)
        a->accel += ((v_belt - a->v_prev) / dt - a->accel) * fmin(1.0, dt / ACCEL_FEEL_S);
    a->v_prev = v_belt;
    return f;
}

double athlete_next_event(const struct athlete *a, double t)
{
    double ev = a->next_press;

    if (athlete_loaded(a))
        return t; /* busy now */
    if (a->p.reactive && a->in_set)    /* it places the foot on the still belt */
        ev = fmin(ev, a->phase == PH_REPOSITIONING ? a->reposition_end : t);
    if (a->belt_ran && a->t_stopped >= 0.0)
        ev = fmin(ev, a->t_stopped + stop_confirm_s(a));
    return ev;
}

void athlete_session_press(struct athlete *a, double t)
{
    if (!athlete_between_sessions(a))
        return;
    a->next_press = t;
    a->t_first_press = -1.0;
}

bool athlete_between_sessions(const struct athlete *a)
{
    return a->sets_in_session == 0 && !a->in_set && !a->belt_ran && !isfinite(a->next_press);
}

int athlete_cycles(const struct athlete *a)
{
    return a->cycles;
}

double athlete_last_set_peak(const struct athlete *a)
{
    return a->last_set_peak;
}

int athlete_sessions_over(const struct athlete *a)
{
    return a->sessions_done;
}

bool athlete_loaded(const struct athlete *a)
{
    return a->phase == PH_PLACING || a->phase == PH_RESISTING || a->phase == PH_LIFTING ||
           a->rec_loaded;
}

bool athlete_next_effort(const struct athlete *a, double *effort_n)
{
    if (!a || !effort_n)
        return false;
    if (a->phase == PH_PLACING || a->phase == PH_RESISTING)
        *effort_n = a->effort;
    else
        *effort_n = placed_effort(a, &a->next);
    return true;
}

const struct stroke_record *athlete_strokes(const struct athlete *a, int *n)
{
    *n = a->n_rec;
    return a->rec;
}

int athlete_strokes_dropped(const struct athlete *a)
{
    return a->dropped;
}

/* ---- scenario files ---------------------------------------------------------------- */

enum key_kind { K_NUM, K_INT, K_NAME, K_LAW };

struct key_spec {
    const char *key;
    size_t off;
    enum key_kind kind;
    double lo, hi;         /* allowed range, inclusive */
};

#define NUM(f, lo, hi) {#f, offsetof(struct athlete_params, f), K_NUM, lo, hi}
#define INT(f, lo, hi) {#f, offsetof(struct athlete_params, f), K_INT, lo, hi}

static const struct key_spec keys[] = {
    {"name", offsetof(struct athlete_params, name), K_NAME, 0, 0},
    NUM(effort_n, 0, 2000),          NUM(effort_var, 0, 0.9),
    NUM(fatigue_per_rep, 0, 0.1),    NUM(fatigue_per_set, 0, 0.5),
    NUM(speed_gain, 0, 5000),        NUM(shape_slope, -2, 2),
    {"speed_law", offsetof(struct athlete_params, speed_law), K_LAW, 0, 0},
    NUM(speed_exp, 0.2, 1.5),        NUM(reaction_s, 0, REACTION_MAX_S),
    INT(effort_scales_speed, 0, 1),
    NUM(tremor_n, 0, 100),           NUM(tremor_hz, 0, 50),
    NUM(reach_m, 0.01, 2),           NUM(reach_var_m, 0, 1),
    NUM(partial_prob, 0, 1),         NUM(partial_reach_m, 0.01, 2),
    NUM(place_s, 0, 5),              NUM(lift_s, 0, 5),
    NUM(reposition_min_s, 0, 60),    NUM(reposition_max_s, 0, 60),
    NUM(spike_rate_hz, 0, 1000),     NUM(spike_n, -10000, 10000),
    NUM(start_delay_s, 0, 1e7),      NUM(rest_wait_s, 0, 1e7),
    NUM(session_gap_s, 0, 1e7),
    INT(sets_per_session, 1, 1000),  INT(sessions, 0, 100000),
    NUM(give_up_s, 0, 3600),         INT(programme_days, 0, 366),
    NUM(session1_h, 0, 23.99),       NUM(session2_h, 0, 23.99),
    NUM(morning_h, 0, 23.99),        NUM(skip_prob, 0, 1),
    NUM(skip_day_prob, 0, 1),        NUM(tolerance_n, 1, 5000),
    NUM(tolerance_growth, 0, 0.2),   NUM(overload_loss, 0, 5),
    NUM(pain_base, 0, 10),           NUM(pain_gain, 0, 20),
    NUM(pain_noise, 0, 5),           NUM(morning_base, 0, 10),
    NUM(morning_noise, 0, 5),        NUM(irritation_gain, 0, 20),
    NUM(irritation_decay, 0, 1),
};

#define N_KEYS (sizeof keys / sizeof keys[0])

struct load_ctx {
    struct athlete_params *p;
    const char *path;
    FILE *f;
    int line;               /* line inih is working on (1-based) */
    bool indented;          /* that line starts with white space */
    int key_line[N_KEYS];   /* 0 until set */
    int err_line;           /* 0 while all is well */
    char *err;
    size_t errlen;
};

static void load_error(struct load_ctx *c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keep the first error only: "FILE:LINE: what: detail". */
static void load_error(struct load_ctx *c, const char *what, const char *fmt, ...)
{
    char detail[160];
    va_list ap;

    if (c->err_line)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    c->err_line = c->line;
    snprintf(c->err, c->errlen, "%s:%d: %s: %s", c->path, c->line, what, detail);
}

/* inih's line reader: count lines (Debian's inih does not pass them to the handler),
 * refuse over-long lines and sections other than [athlete]. */
static char *read_line(char *str, int num, void *stream)
{
    struct load_ctx *c = stream;
    const char *s;
    size_t n;

    if (!fgets(str, num, c->f))
        return NULL;
    c->line++;
    n = strlen(str);
    if (n > 0 && str[n - 1] != '\n' && !feof(c->f)) {
        int ch;
        while ((ch = fgetc(c->f)) != EOF && ch != '\n')
            ;
        load_error(c, "line", "longer than %d characters", num - 2);
        str[0] = '\0';
        return str;
    }
    c->indented = str[0] == ' ' || str[0] == '\t';
    for (s = str; *s == ' ' || *s == '\t'; s++)
        ;
    if (*s == '[' && strncmp(s, "[athlete]", 9) != 0) {
        char sect[64];
        size_t len = strcspn(s, "\r\n");
        snprintf(sect, sizeof sect, "%.*s", (int)(len < 40 ? len : 40), s);
        load_error(c, sect, "unknown section (scenario files have only [athlete])");
    }
    return str;
}

static const char *const law_names[] = {[ATHLETE_LAW_LINEAR] = "linear",
                                        [ATHLETE_LAW_POWER] = "power"};

static int parse_law(struct load_ctx *c, const struct key_spec *k, const char *value)
{
    for (size_t i = 0; i < sizeof law_names / sizeof law_names[0]; i++) {
        if (strcmp(value, law_names[i]) == 0) {
            *(int *)(void *)((char *)c->p + k->off) = (int)i;
            return 1;
        }
    }
    load_error(c, k->key, "'%s' is not a speed law (allowed: linear, power)", value);
    return 0;
}

static int parse_value(struct load_ctx *c, const struct key_spec *k, const char *value)
{
    char *end;
    double d;

    if (k->kind == K_LAW)
        return parse_law(c, k, value);
    if (k->kind == K_NAME) {
        if (strlen(value) >= sizeof c->p->name) {
            load_error(c, k->key, "longer than %zu characters", sizeof c->p->name - 1);
            return 0;
        }
        snprintf(c->p->name, sizeof c->p->name, "%s", value);
        return 1;
    }
    errno = 0;
    d = strtod(value, &end);
    if (end == value || *end != '\0' || errno == ERANGE || !isfinite(d)) {
        load_error(c, k->key, "'%s' is not a number", value);
        return 0;
    }
    if (k->kind == K_INT && d != floor(d)) {
        load_error(c, k->key, "'%s' is not a whole number", value);
        return 0;
    }
    if (d < k->lo || d > k->hi) {
        load_error(c, k->key, "%s is out of range (allowed: %g to %g)", value, k->lo, k->hi);
        return 0;
    }
    if (k->kind == K_INT)
        *(int *)(void *)((char *)c->p + k->off) = (int)d;
    else
        *(double *)(void *)((char *)c->p + k->off) = d;
    return 1;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *c = user;

    if (strcmp(section, "athlete") != 0) {
        if (section[0])
            load_error(c, name, "unknown section [%s]", section);
        else
            load_error(c, name, "outside the [athlete] section");
        return 0;
    }
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(name, keys[i].key) != 0)
            continue;
        if (c->key_line[i] && c->indented) {
            load_error(c, name, "indented line continues the value (do not indent keys)");
            return 0;
        }
        if (c->key_line[i]) {
            load_error(c, name, "given twice (first on line %d)", c->key_line[i]);
            return 0;
        }
        c->key_line[i] = c->line;
        return parse_value(c, &keys[i], value);
    }
    load_error(c, name, "unknown key");
    return 0;
}

static int key_index(const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* A contradiction between two keys is reported at the later of their lines. */
static void check_pair(struct load_ctx *c, const char *ka, const char *kb, bool ok,
                       const char *what)
{
    int la = c->key_line[key_index(ka)], lb = c->key_line[key_index(kb)];

    if (ok || c->err_line)
        return;
    c->line = la > lb ? la : lb;
    load_error(c, la > lb ? ka : kb, "%s", what);
}

static void check_params(struct load_ctx *c)
{
    const struct athlete_params *p = c->p;

    check_pair(c, "reach_m", "reach_var_m", p->reach_var_m < p->reach_m,
               "reach_var_m must be less than reach_m");
    check_pair(c, "reposition_min_s", "reposition_max_s",
               p->reposition_min_s <= p->reposition_max_s,
               "reposition_min_s must not exceed reposition_max_s");
}

int athlete_load(struct athlete_params *p, const char *path, char *err, size_t errlen)
{
    struct load_ctx c = {.p = p, .path = path, .err = err, .errlen = errlen};
    int rc;

    c.f = fopen(path, "r");
    if (!c.f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    rc = ini_parse_stream(read_line, &c, on_key, &c);
    fclose(c.f);
    if (rc > 0 && (!c.err_line || rc < c.err_line)) {
        c.err_line = 0;
        c.line = rc;
        load_error(&c, "syntax", "expected 'key = value' or '[athlete]'");
    } else if (rc < 0 && !c.err_line) {
        snprintf(err, errlen, "%s: cannot parse (out of memory?)", path);
        return -1;
    }
    if (!c.err_line)
        check_params(&c);
    return c.err_line ? -1 : 0;
}
