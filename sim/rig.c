/* rig.c - the simulated treadmill rig (see rig.h).
 *
 * Time runs on a fixed grid: after n physics steps the rig is at n x physics_dt
 * (computed from n, so it never drifts). rig_advance(t) steps up to the last grid point
 * at or before t; rig_now() is t itself, so a caller whose summed clock drifts off the
 * grid sees its own time, and anything due between the grid point and t comes with the
 * next call (at most physics_dt late, like any sensor latency).
 * Within one step the belt speed is taken as linear from its old to its new value, so
 * belt position is the trapezoid integral and a pulse's crossing time is the exact root
 * of that quadratic. The load cell samples on its own grid (k / lc_rate_hz), the true
 * force interpolated linearly within the step.
 */
#include "sim/rig.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define MAX_STROKES 4096       /* ground-truth records kept (a day is about 90) */
#define GRID_EPS 1e-6          /* in steps: t = k x 0.01 reaches step 10k, not 10k - 1 */
#define SAMPLE_EPS 1e-9        /* s: a sample due at the step's end time is taken in it */
/* Setpoints waiting out the dead time. A controller writes at most every few ms, so
 * 0.5 s of them fits; when full the newest entry takes the newer value (a coarser
 * command history, never a lost final setpoint). Fixed: nothing allocated per step. */
#define DEAD_QUEUE 512

struct ring {                  /* a bounded FIFO of (time, value); full: drop the oldest */
    double t[RIG_QUEUE];
    double v[RIG_QUEUE];
    unsigned head, n;
};

struct cmd_queue {             /* setpoints and the time each reaches the motor */
    double t[DEAD_QUEUE];
    double v[DEAD_QUEUE];
    unsigned head, n;
};

struct rig {
    struct rig_params p;
    struct athlete *ath;
    struct patient *pat;       /* the programme patient driving it (NULL: none) */
    uint64_t rng;
    double gauss_spare;
    bool has_spare;

    long long n;               /* physics steps done */
    double t;                  /* s, n x physics_dt */
    double t_asked;            /* s, the latest time rig_advance() was asked for */
    double setpoint;           /* m/s, what the motor follows now (after the dead time) */
    double commanded;          /* m/s, the newest setpoint given */
    struct cmd_queue cmds;     /* given, not yet reached the motor */
    double v_motor, v_belt, force, x;

    long long pulse_k;         /* the next pulse is at x = pulse_k / pulses_per_m */
    double pulse_x;
    long long lc_k;            /* the next sample is at t = lc_k / lc_rate_hz */
    double lc_t;
    double spike_p, spike_n;   /* glitch probability per sample, height */
    int since_spike;           /* samples since the last glitch */

    double quiet_ev;           /* athlete_next_event() cached while nothing is stepped */
    bool quiet_ev_valid;

    unsigned buttons;
    long dropped;
    struct ring pulses, samples;
};

/* ---- randomness: splitmix64 plus Marsaglia's polar Box-Muller ---------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* N(0, 1); the polar form makes two per log/sqrt and needs no sin/cos. */
static double rng_gauss(struct rig *r)
{
    double u, v, q, m;

    if (r->has_spare) {
        r->has_spare = false;
        return r->gauss_spare;
    }
    do {
        u = 2.0 * rng_unit(&r->rng) - 1.0;
        v = 2.0 * rng_unit(&r->rng) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    m = sqrt(-2.0 * log(q) / q);
    r->gauss_spare = v * m;
    r->has_spare = true;
    return u * m;
}

/* ---- queues ------------------------------------------------------------------------ */

static void ring_push(struct ring *q, double t, double v, long *dropped)
{
    unsigned i;

    if (q->n == RIG_QUEUE) {
        q->head = (q->head + 1) % RIG_QUEUE;
        q->n--;
        (*dropped)++;
    }
    i = (q->head + q->n) % RIG_QUEUE;
    q->t[i] = t;
    q->v[i] = v;
    q->n++;
}

static int ring_take(struct ring *q, double *t, double *v, int max)
{
    int k = 0;

    while (q->n > 0 && k < max) {
        if (t)
            t[k] = q->t[q->head];
        if (v)
            v[k] = q->v[q->head];
        q->head = (q->head + 1) % RIG_QUEUE;
        q->n--;
        k++;
    }
    return k;
}

/* ---- life cycle -------------------------------------------------------------------- */

void rig_defaults(struct rig_params *p)
{
    *p = (struct rig_params){
        .physics_dt = 0.001,
        .drive_accel = 0.5,      /* a VFD ramp of 0 -> 0.3 m/s in 0.6 s */
        .drive_dead_s = 0.0,     /* an ideal drive: the daemon's config sets a real one */
        .slip = 0.0001,          /* 100 N of foot load slows the belt by 0.01 m/s */
        .pulses_per_m = 4.0,     /* one pulse per roller turn, about 0.25 m */
        .lc_rate_hz = 80.0,      /* HX711 fast mode */
        .lc_noise_n = 0.5,
        .lc_resolution_n = 0.1,
        .seed = 1,
    };
}

static bool params_ok(const struct rig_params *p)
{
    return p->physics_dt > 0.0 && p->physics_dt <= 0.1 && p->drive_accel > 0.0 &&
           isfinite(p->drive_accel) && p->drive_dead_s >= 0.0 &&
           p->drive_dead_s <= RIG_DEAD_MAX_S && p->slip >= 0.0 && isfinite(p->slip) &&
           p->pulses_per_m > 0.0 && isfinite(p->pulses_per_m) && p->lc_rate_hz > 0.0 &&
           p->lc_rate_hz <= 1e5 && p->lc_noise_n >= 0.0 && isfinite(p->lc_noise_n) &&
           p->lc_resolution_n >= 0.0 && isfinite(p->lc_resolution_n);
}

struct rig *rig_open(const struct rig_params *rp, const struct athlete_params *ap,
                    const struct athlete_judge *judge)
{
    struct rig *r;

    if (!rp || !ap || !judge || !params_ok(rp))
        return NULL;
    r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->ath = athlete_open(ap, judge, rp->seed, MAX_STROKES);
    if (!r->ath) {
        free(r);
        return NULL;
    }
    r->p = *rp;
    r->pat = patient_open(ap, rp->seed, rp->wall_start);
    if (ap->programme_days > 0 && !r->pat) {
        athlete_close(r->ath);
        free(r);
        return NULL;
    }
    /* a stream of its own, so load-cell noise does not shift the athlete's draws */
    r->rng = (uint64_t)rp->seed ^ 0xD1B54A32D192ED03ull;
    r->pulse_k = 1;
    r->pulse_x = 1.0 / rp->pulses_per_m;
    r->lc_k = 1;
    r->lc_t = 1.0 / rp->lc_rate_hz;
    r->spike_p = fmin(1.0, ap->spike_rate_hz / rp->lc_rate_hz);
    r->spike_n = ap->spike_n;
    return r;
}

void rig_close(struct rig *r)
{
    if (!r)
        return;
    patient_close(r->pat);
    athlete_close(r->ath);
    free(r);
}

/* ---- the load cell ----------------------------------------------------------------- */

static double measure(struct rig *r, double f)
{
    double x = f;

    if (r->p.lc_noise_n > 0.0)
        x += r->p.lc_noise_n * rng_gauss(r);
    if (r->p.lc_resolution_n > 0.0)
        x = r->p.lc_resolution_n * floor(x / r->p.lc_resolution_n + 0.5);
    /* Glitches are single samples: one never follows another within two samples
     * (two in a row would be a short pulse, not the bit error this models). */
    if (r->since_spike < 1000)
        r->since_spike++;
    if (r->spike_p > 0.0 && rng_unit(&r->rng) < r->spike_p && r->since_spike > 2) {
        x += r->spike_n;
        r->since_spike = 0;
    }
    return x;
}

/* Take every sample due in (t0, t1]; the force went linearly from f0 to f1. */
static void sample_until(struct rig *r, double t0, double f0, double t1, double f1)
{
    while (r->lc_t <= t1 + SAMPLE_EPS) {
        double frac = t1 > t0 ? (r->lc_t - t0) / (t1 - t0) : 1.0;
        double f = f0 + (f1 - f0) * fmin(1.0, fmax(0.0, frac));

        ring_push(&r->samples, r->lc_t, measure(r, f), &r->dropped);
        r->lc_k++;
        r->lc_t = (double)r->lc_k / r->p.lc_rate_hz;
    }
}

/* ---- belt and pulses --------------------------------------------------------------- */

/* Time into a step of length dt at which the belt, its speed linear from v0 to v1, has
 * moved d: the root of v0 tau + (v1 - v0) tau^2 / (2 dt) = d, in the form that stays
 * exact as v1 -> v0 (then it is d / v0). */
static double travel_time(double v0, double v1, double dt, double d)
{
    double a = (v1 - v0) / (2.0 * dt);
    double disc, tau;

    if (a == 0.0)
        tau = v0 > 0.0 ? d / v0 : dt;
    else {
        disc = fmax(0.0, v0 * v0 + 4.0 * a * d);
        tau = v0 + sqrt(disc) > 0.0 ? 2.0 * d / (v0 + sqrt(disc)) : dt;
    }
    return fmin(dt, fmax(0.0, tau));
}

static void move_belt(struct rig *r, double t0, double v0, double v1, double dt)
{
    double x1 = r->x + 0.5 * (v0 + v1) * dt;

    while (r->pulse_x <= x1) {
        double tau = travel_time(v0, v1, dt, r->pulse_x - r->x);

        ring_push(&r->pulses, t0 + tau, 0.0, &r->dropped);
        r->pulse_k++;
        r->pulse_x = (double)r->pulse_k / r->p.pulses_per_m;
    }
    r->x = x1;
}

/* Setpoints whose dead time is over by t reach the motor, in the order given. */
static void cmds_due(struct rig *r, double t)
{
    struct cmd_queue *q = &r->cmds;

    while (q->n > 0 && q->t[q->head] <= t + SAMPLE_EPS) {
        r->setpoint = q->v[q->head];
        q->head = (q->head + 1) % DEAD_QUEUE;
        q->n--;
    }
}

static void cmds_push(struct rig *r, double t_due, double v)
{
    struct cmd_queue *q = &r->cmds;

    if (q->n == DEAD_QUEUE) {  /* full: the newest entry takes the newer value */
        q->v[(q->head + q->n - 1) % DEAD_QUEUE] = v;
        return;
    }
    q->t[(q->head + q->n) % DEAD_QUEUE] = t_due;
    q->v[(q->head + q->n) % DEAD_QUEUE] = v;
    q->n++;
}

/* The drive follows its setpoint at +-drive_accel (the VFD's own ramp). */
static double drive_step(double v, double setpoint, double dv)
{
    if (v < setpoint)
        return fmin(setpoint, v + dv);
    return fmax(setpoint, v - dv);
}

/* ---- stepping ---------------------------------------------------------------------- */

/* One physics step. The belt slips under the force of the previous step (explicit in
 * the 1 ms step; the loop gain slip x speed_gain is far below 1). */
static void physics_step(struct rig *r)
{
    double dt = r->p.physics_dt, t0 = r->t, t1 = (double)(r->n + 1) * dt;
    double v0 = r->v_belt, f0 = r->force, v1, f1;
    unsigned pressed = 0;

    cmds_due(r, t0);           /* a setpoint due by the step's start acts in it */
    r->v_motor = drive_step(r->v_motor, r->setpoint, r->p.drive_accel * dt);
    v1 = fmax(0.0, r->v_motor - r->p.slip * f0);
    f1 = athlete_step(r->ath, t1, t1 - t0, v1, &pressed);
    if (r->pat)
        patient_step(r->pat, t1, r->ath);
    move_belt(r, t0, v0, v1, t1 - t0);
    sample_until(r, t0, f0, t1, f1);
    r->buttons |= pressed;
    r->v_belt = v1;
    r->force = f1;
    r->n++;
    r->t = t1;
    r->quiet_ev_valid = false;
}

/* Nothing moves, the foot is off and the athlete has nothing due: how far may we jump
 * (in steps, up to target)? Returns r->n when we may not. */
static long long quiet_until(struct rig *r, long long target)
{
    double dt = r->p.physics_dt;
    long long first_busy;

    if (r->setpoint != 0.0 || r->cmds.n > 0 || r->v_motor != 0.0 || r->force != 0.0 ||
        athlete_loaded(r->ath))
        return r->n;
    if (!r->quiet_ev_valid) {
        r->quiet_ev = athlete_next_event(r->ath, r->t);
        if (r->pat)
            r->quiet_ev = fmin(r->quiet_ev, patient_next_event(r->pat, r->t));
        r->quiet_ev_valid = true;
    }
    if (!(r->quiet_ev > r->t))
        return r->n;
    if (r->quiet_ev > (double)(target + 1) * dt)
        return target;
    /* the athlete must be stepped at the first grid time >= its event */
    first_busy = (long long)ceil(r->quiet_ev / dt - GRID_EPS);
    return first_busy - 1 < target ? first_busy - 1 : target;
}

/* Jump over a quiet stretch: only the load cell (reading zero force) has work. */
static void skip_to(struct rig *r, long long n)
{
    double t1 = (double)n * r->p.physics_dt;

    sample_until(r, r->t, 0.0, t1, 0.0);
    r->n = n;
    r->t = t1;
}

void rig_advance(struct rig *r, double t)
{
    long long target;

    if (!(t > r->t_asked) || !isfinite(t))
        return;
    r->t_asked = t;
    target = (long long)floor(t / r->p.physics_dt + GRID_EPS);
    while (r->n < target) {
        long long q = quiet_until(r, target);

        if (q > r->n)
            skip_to(r, q);
        else
            physics_step(r);
    }
}

/* ---- commands and readings --------------------------------------------------------- */

void rig_set_speed(struct rig *r, double v)
{
    v = isfinite(v) && v > 0.0 ? v : 0.0; /* NaN, inf, negative: stop */
    if (v == r->commanded)
        return;                /* eccsim repeats its setpoint every ms: not a new command */
    r->commanded = v;
    if (r->p.drive_dead_s <= 0.0 && r->cmds.n == 0)
        r->setpoint = v;
    else
        cmds_push(r, r->t_asked + r->p.drive_dead_s, v);
}

int rig_take_pulses(struct rig *r, double *t, int max)
{
    return ring_take(&r->pulses, t, NULL, max);
}

int rig_take_force(struct rig *r, double *t, double *newtons, int max)
{
    return ring_take(&r->samples, t, newtons, max);
}

unsigned rig_take_buttons(struct rig *r)
{
    unsigned b = r->buttons;

    r->buttons = 0;
    return b;
}

bool rig_take_checkin(struct rig *r, struct patient_checkin_rec *out)
{
    return r->pat && patient_take(r->pat, out);
}

void rig_quiet_jump(struct rig *r, double t, double tail_s)
{
    long long k = (long long)floor((t - tail_s) * r->p.lc_rate_hz);

    if (rig_quiet_until(r) < t || k <= r->lc_k)
        return;
    r->lc_k = k;
    r->lc_t = (double)k / r->p.lc_rate_hz;
}

double rig_quiet_until(struct rig *r)
{
    long long target = r->n + (long long)(86400.0 / r->p.physics_dt);    /* a day ahead */
    long long q = quiet_until(r, target);

    return q > r->n ? (double)(q + 1) * r->p.physics_dt : r->t;
}

double rig_now(const struct rig *r) { return r->t_asked; }
long rig_dropped(const struct rig *r) { return r->dropped; }
double rig_belt_speed(const struct rig *r) { return r->v_belt; }
double rig_motor_speed(const struct rig *r) { return r->v_motor; }
double rig_true_force(const struct rig *r) { return r->force; }
double rig_belt_position(const struct rig *r) { return r->x; }
const struct athlete *rig_athlete(const struct rig *r) { return r->ath; }
