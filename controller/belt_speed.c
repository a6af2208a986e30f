/* belt_speed.c - the drive's speed, scaled and less the slip the pulses teach
 * (see belt_speed.h). */
#include "controller/belt_speed.h"

#include <math.h>

void belt_speed_init(struct belt_speed *b, const struct belt_speed_params *p)
{
    b->p = *p;
    b->m_pp = p->pulses_per_m > 0 ? 1.0 / p->pulses_per_m : 0.0;
    speed_est_init(&b->pulses, p->pulses_per_m, p->timeout_s);
    b->src = BELT_SRC_PULSES;
    b->now = 0.0;
    b->t_prev = -1.0;
    b->v_ref = b->f = b->v_model = 0.0;
    b->x_ref = b->g_ref = b->x_last = b->g_last = 0.0;
    for (int i = 0; i < BELT_SPEED_HIST; i++)
        b->x_anchor[i] = b->g_anchor[i] = b->t_anchor[i] = 0.0;
    b->head = 0;
    b->n = 0;
    b->k = 1.0;             /* the two calibrations agree ... */
    b->u = 0.0;             /* ... and nothing slips, until the pulses say otherwise */
    b->v = 0.0;
}

/* ---- the reference: the drive's report, or a model of it ------------------------- */

/* The drive's output following the command at its own ramps. */
static void model_step(struct belt_speed *b, double cmd, double dt)
{
    if (!(cmd > 0.0))
        cmd = 0.0;          /* NaN or negative: the HAL refuses it, the drive stops */
    if (b->v_model < cmd)
        b->v_model = fmin(cmd, b->v_model + b->p.accel * dt);
    else
        b->v_model = fmax(cmd, b->v_model - b->p.decel * dt);
}

/* This tick's reference speed and where it came from (NAN: none). */
static double reference(struct belt_speed *b, const struct belt_speed_in *in, double dt,
                        enum belt_speed_src *src)
{
    if (isfinite(in->drive_mps)) {
        /* The model tracks the report, so it takes over smoothly if the reports stop. */
        b->v_model = fmax(0.0, in->drive_mps);
        *src = BELT_SRC_DRIVE;
        return b->v_model;
    }
    if (b->p.accel > 0.0 && b->p.decel > 0.0) {
        model_step(b, in->cmd_mps, dt);
        *src = BELT_SRC_MODEL;
        return b->v_model;
    }
    *src = BELT_SRC_PULSES;
    return NAN;
}

/* The load that makes the belt slip: a share of F_REF, fading out below V_MOVING (a belt
 * that stands still under the foot does not creep backwards). */
static double load_share(double force_n, double v_ref)
{
    double f = force_n > 0.0 ? force_n / BELT_SPEED_F_REF : 0.0;   /* NaN: none */

    return f * fmin(1.0, v_ref / BELT_SPEED_V_MOVING);
}

/* A new source means a new meaning of x_ref: what k and u were fitted on is not
 * comparable, and the belt's phase between pulses is unknown again. */
static void source_changed(struct belt_speed *b, enum belt_speed_src src, double v_now,
                           double f_now)
{
    b->src = src;
    b->n = 0;
    b->x_last = b->x_ref;
    b->g_last = b->g_ref;
    b->v_ref = v_now;
    b->f = f_now;
}

/* The integral from t_prev over tau of a quantity linear from y0 to y1 over the tick. */
static double gain(double y0, double y1, double dt, double tau)
{
    if (!(dt > 0.0))
        return 0.0;
    return tau * (y0 + 0.5 * (y1 - y0) * tau / dt);
}

/* ---- learning k and u at each pulse ---------------------------------------------- */

static double ring(const double *a, int head, int back)
{
    return a[(head - back + BELT_SPEED_HIST) % BELT_SPEED_HIST];
}

/* The weighted sums of the fit over the newest intervals. */
struct fit_sums {
    double xx, xg, gg, mx, mg;
};

static struct fit_sums fit_sums(const struct belt_speed *b)
{
    struct fit_sums s = {0};
    double w = 1.0, m = b->m_pp;

    for (int i = 0; i + 1 < b->n; i++, w *= BELT_SPEED_FORGET) {
        double x = ring(b->x_anchor, b->head, i) - ring(b->x_anchor, b->head, i + 1);
        double g = ring(b->g_anchor, b->head, i) - ring(b->g_anchor, b->head, i + 1);

        s.xx += w * x * x;
        s.xg += w * x * g;
        s.gg += w * g * g;
        s.mx += w * m * x;
        s.mg += w * m * g;
    }
    return s;
}

/* Least squares of pulse_m = k X - u G with the ridge towards k = 1, u = 0:
 *   (xx + rk) k - xg u = mx + rk,   -xg k + (gg + ru) u = -mg.
 * A u outside its bounds is clamped and k fitted again with that u. A pulse with (almost)
 * no reference travel since the last means a wrong reference: the clamps hold k. */
static void learn(struct belt_speed *b)
{
    struct fit_sums s = fit_sums(b);
    double rk = BELT_SPEED_RIDGE * b->m_pp * b->m_pp;
    double ru = rk / (BELT_SPEED_U_SCALE * BELT_SPEED_U_SCALE);
    double a = s.xx + rk, c = s.gg + ru, r1 = s.mx + rk, r2 = -s.mg;
    double det = a * c - s.xg * s.xg;   /* > 0: the ridge keeps it positive definite */
    double u = (a * r2 + s.xg * r1) / det;

    b->u = fmin(BELT_SPEED_U_MAX, fmax(0.0, u));
    b->k = fmin(BELT_SPEED_K_MAX, fmax(BELT_SPEED_K_MIN, (r1 + s.xg * b->u) / a));
}

/* Without a drive report the reference is only a model of what the drive was told: a
 * drive that does not reach it, a load that stalls a motor board, a dead time the model
 * lacks. So the pulses correct it at once: k from the newest intervals alone (those
 * within BELT_SPEED_SPAN_M and BELT_SPEED_SPAN_S, at least one), u = 0 (k carries the
 * slip). k v_model is then the period-based speed, carried between pulses by the model's
 * shape. */
static void learn_newest(struct belt_speed *b)
{
    int j = 1;

    while (j + 1 < b->n && j * b->m_pp < BELT_SPEED_SPAN_M &&
           ring(b->t_anchor, b->head, 0) - ring(b->t_anchor, b->head, j + 1) <=
               BELT_SPEED_SPAN_S)
        j++;
    double x = ring(b->x_anchor, b->head, 0) - ring(b->x_anchor, b->head, j);
    double r = x > 0.0 ? j * b->m_pp / x : BELT_SPEED_K_MAX;

    b->u = 0.0;
    b->k = fmin(BELT_SPEED_K_MAX, fmax(BELT_SPEED_K_MIN, r));
}

static void pulse_at(struct belt_speed *b, double t, double v_now, double f_now, double dt)
{
    long long before = b->pulses.count;
    double tau = fmin(dt, fmax(0.0, t - b->t_prev));

    speed_est_pulse(&b->pulses, t);
    if (b->pulses.count == before || b->src == BELT_SRC_PULSES || !(b->m_pp > 0.0))
        return;                     /* out of order, or nothing to learn against */
    b->x_last = b->x_ref + gain(b->v_ref, v_now, dt, tau);
    b->g_last = b->g_ref + gain(b->f, f_now, dt, tau);
    b->head = (b->head + 1) % BELT_SPEED_HIST;
    b->x_anchor[b->head] = b->x_last;
    b->g_anchor[b->head] = b->g_last;
    b->t_anchor[b->head] = t;
    if (b->n < BELT_SPEED_HIST)
        b->n++;
    if (b->n >= 2 && b->src == BELT_SRC_DRIVE)
        learn(b);
    else if (b->n >= 2)
        learn_newest(b);
}

/* ---- the estimate ------------------------------------------------------------------ */

/* Travel predicted since the newest pulse (m). */
static double predicted_since(const struct belt_speed *b)
{
    return b->k * (b->x_ref - b->x_last) - b->u * (b->g_ref - b->g_last);
}

/* k v_ref - u f, scaled down where the prediction has gone further since the newest pulse
 * than the belt can have without giving the next one. */
static double fused(const struct belt_speed *b, double v_now, double f_now)
{
    double v = fmax(0.0, b->k * v_now - b->u * f_now);
    double p = predicted_since(b), room = (1.0 + BELT_SPEED_SLOT_TOL) * b->m_pp;

    return p > room ? v * room / p : v;
}

/* The model's share of the estimate: 1, but where the pulses alone give a speed no
 * older than BELT_SPEED_FRESH_S (a fine sensor at speed) they are the measurement and the
 * model (what the drive was told, not what it did) only bridges longer gaps; in between,
 * a blend. A drive's report is a measurement: always used. */
static double model_share(const struct belt_speed *b)
{
    if (b->src != BELT_SRC_MODEL || b->n < 2)
        return 1.0;
    double period = ring(b->t_anchor, b->head, 0) - ring(b->t_anchor, b->head, 1);
    double age = fmax(period, b->now - ring(b->t_anchor, b->head, 0));

    return fmin(1.0, fmax(0.0, age / BELT_SPEED_FRESH_S - 1.0));
}

void belt_speed_update(struct belt_speed *b, const struct belt_speed_in *in)
{
    double dt = b->t_prev < 0.0 ? 0.0 : fmax(0.0, in->now - b->t_prev);
    enum belt_speed_src src;
    double v_now = reference(b, in, dt, &src);
    double f_now = isfinite(v_now) ? load_share(in->force_n, v_now) : 0.0;

    if (b->t_prev < 0.0)
        b->t_prev = in->now;
    if (src != b->src)
        source_changed(b, src, v_now, f_now);
    for (int i = 0; i < in->n_pulses; i++)
        pulse_at(b, in->pulse_t[i], v_now, f_now, dt);
    b->now = in->now;
    if (src == BELT_SRC_PULSES) {
        b->v = speed_est_get(&b->pulses, in->now);
    } else {
        b->x_ref += gain(b->v_ref, v_now, dt, dt);
        b->g_ref += gain(b->f, f_now, dt, dt);
        b->v_ref = v_now;
        b->f = f_now;
        double w = model_share(b);
        b->v = w * fused(b, v_now, f_now) + (1.0 - w) * speed_est_get(&b->pulses, in->now);
    }
    b->t_prev = in->now;
}

double belt_speed_get(const struct belt_speed *b)
{
    return b->v;
}

double belt_speed_counted(const struct belt_speed *b)
{
    return speed_est_distance(&b->pulses);
}

double belt_speed_travel(const struct belt_speed *b)
{
    if (b->src == BELT_SRC_PULSES)
        return belt_speed_counted(b);
    return belt_speed_counted(b) + fmin(fmax(0.0, predicted_since(b)), b->m_pp);
}

double belt_speed_pulse_speed(const struct belt_speed *b)
{
    return speed_est_get(&b->pulses, b->now);
}

double belt_speed_last_pulse(const struct belt_speed *b)
{
    return speed_est_last_pulse(&b->pulses);
}

double belt_speed_scale(const struct belt_speed *b) { return b->k; }
double belt_speed_slip(const struct belt_speed *b) { return b->u; }
double belt_speed_m_per_pulse(const struct belt_speed *b) { return b->m_pp; }
enum belt_speed_src belt_speed_source(const struct belt_speed *b) { return b->src; }
