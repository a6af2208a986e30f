/* fv_model.c - the patient's force-speed model (see fv_model.h). */
#include "controller/fv_model.h"

#include <math.h>
#include <string.h>

#define HOLT_ALPHA 0.4          /* weight of a new stroke's effort in the level */
#define HOLT_BETA 0.1           /* ... and of the level's change in the trend */
#define TREND_MAX 0.05          /* share of the level the trend may change it per stroke */
#define SLOPE_FORGET 0.95       /* per stroke: old strokes fade, the slope can move */
#define SLOPE_FULL_DV 0.05      /* m/s of speed movement that makes a stroke count fully */
#define G_LEARN 0.2             /* weight of a new stroke in the landing profile */
#define G_KNOWN 3               /* strokes before a landing bin is believed */
#define FIT_MIN 8               /* samples before a stroke's fit means anything */
#define DRIFT_MAX 200.0         /* N/s: an effort drifting faster is not believed */
#define DRIFT_AVG 8             /* strokes the drift is averaged over (then an EMA) */

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

void fv_model_reset(struct fv_model *m)
{
    m->slope = m->p.slope;
    m->slope_w = FV_PRIOR_STROKES;
    m->drift = 0.0;
    m->drift_n = 0;
    m->level = NAN;
    m->trend = 0.0;
    m->strokes = 0;
    for (int i = 0; i < FV_G_BINS; i++) {
        m->g[i] = 1.0;
        m->g_n[i] = 0;
    }
    m->loaded = false;
    m->e_now = NAN;
}

void fv_model_init(struct fv_model *m, const struct fv_params *p)
{
    double ticks = p->dt > 0.0 ? p->delay_s / p->dt : 0.0;

    memset(m, 0, sizeof *m);
    m->p = *p;
    m->delay_ticks = ticks >= FV_VHIST - 1 ? FV_VHIST - 1 : ticks > 0.0 ? (int)lround(ticks) : 0;
    fv_model_reset(m);
}

void fv_model_contact(struct fv_model *m, double t)
{
    m->loaded = true;
    m->t_contact = t;
    for (int i = 0; i < FV_G_BINS; i++)
        m->f_bin[i] = -1.0;
    m->early_sum = 0.0;
    m->early_n = 0;
    m->ref_sum = 0.0;
    m->ref_n = 0;
    memset(m->s, 0, sizeof m->s);
    memset(m->r, 0, sizeof m->r);
    m->fit_n = 0;
    m->pend_n = 0;
    m->pend_pos = 0;
    m->t_next_sample = t;
    m->e_now = NAN;
}

/* ---- belt speed history (for the delay) ---------------------------------------------- */

static void vhist_push(struct fv_model *m, double v)
{
    m->vpos = (m->vpos + 1) % FV_VHIST;
    m->vhist[m->vpos] = v;
    if (m->vn < FV_VHIST)
        m->vn++;
}

static double v_delayed(const struct fv_model *m)
{
    int k = m->delay_ticks < m->vn - 1 ? m->delay_ticks : m->vn - 1;
    return m->vhist[(m->vpos - k + FV_VHIST) % FV_VHIST];
}

/* ---- the slope: one least-squares fit per stroke ------------------------------------ */

static void fit_add(struct fv_model *m, const struct fv_sample *x)
{
    const double row[3] = {1.0, x->tau, x->v};

    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            m->s[i][j] += row[i] * row[j];
        m->r[i] += row[i] * x->f;
    }
    m->fit_n++;
}

/* Samples wait FV_PENDING x FV_SAMPLE_S before they enter the fit, so the lift at the
 * stroke's end (which the release drops with the pending ones) never does. */
static void sample_push(struct fv_model *m, double tau, double f, double v)
{
    struct fv_sample *slot = &m->pend[m->pend_pos];

    if (m->pend_n == FV_PENDING)
        fit_add(m, slot);
    else
        m->pend_n++;
    *slot = (struct fv_sample){.tau = tau, .f = f, .v = v};
    m->pend_pos = (m->pend_pos + 1) % FV_PENDING;
}

/* Solve the 3x3 normal equations for the slope (the v coefficient), and how much the
 * speed moved once the effort's drift is taken out (the partial variance of v given
 * 1 and tau: the Schur complement). false if singular. */
static bool fit_solve(const struct fv_model *m, double *slope, double *dv_var)
{
    const double (*s)[3] = m->s;
    double det2 = s[0][0] * s[1][1] - s[0][1] * s[1][0];
    double a[3][4];

    if (m->fit_n < FIT_MIN || !(fabs(det2) > 1e-12))
        return false;
    /* partial variance of v: s22 - [s20 s21] inv([s00 s01; s10 s11]) [s02; s12] */
    double w0 = (s[1][1] * s[0][2] - s[0][1] * s[1][2]) / det2;
    double w1 = (s[0][0] * s[1][2] - s[1][0] * s[0][2]) / det2;
    *dv_var = (s[2][2] - s[2][0] * w0 - s[2][1] * w1) / m->fit_n;
    if (!(*dv_var > 1e-12))
        return false;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            a[i][j] = s[i][j];
        a[i][3] = m->r[i];
    }
    for (int c = 0; c < 3; c++) {             /* Gauss-Jordan, partial pivoting */
        int piv = c;
        for (int i = c + 1; i < 3; i++)
            if (fabs(a[i][c]) > fabs(a[piv][c]))
                piv = i;
        if (!(fabs(a[piv][c]) > 1e-12))
            return false;
        for (int j = 0; j < 4; j++) {
            double t = a[c][j];
            a[c][j] = a[piv][j];
            a[piv][j] = t;
        }
        for (int i = 0; i < 3; i++) {
            if (i == c)
                continue;
            double f = a[i][c] / a[c][c];
            for (int j = c; j < 4; j++)
                a[i][j] -= f * a[c][j];
        }
    }
    *slope = a[2][3] / a[2][2];
    return isfinite(*slope);
}

/* The effort's drift through a stroke (N/s): the tau coefficient of the effort
 * (F - slope x v) fitted on (1, tau) with the slope as it stands. Needs no speed
 * movement, unlike the slope. */
static void learn_drift(struct fv_model *m)
{
    const double (*s)[3] = m->s;
    double det2 = s[0][0] * s[1][1] - s[0][1] * s[1][0];
    double r0 = m->r[0] - m->slope * s[0][2], r1 = m->r[1] - m->slope * s[1][2], d;

    if (m->fit_n < FIT_MIN || !(fabs(det2) > 1e-12))
        return;
    d = clamp((s[0][0] * r1 - s[1][0] * r0) / det2, -DRIFT_MAX, DRIFT_MAX);
    if (!isfinite(d))
        return;
    if (m->drift_n < DRIFT_AVG)
        m->drift_n++;
    m->drift += (d - m->drift) / m->drift_n;
}

static void learn_slope(struct fv_model *m)
{
    double sk = 0, dv_var = 0, w;

    if (!fit_solve(m, &sk, &dv_var) || sqrt(dv_var) < FV_MIN_DV ||
        sk < m->p.slope_min || sk > m->p.slope_max)
        return;
    w = fmin(1.0, dv_var / (SLOPE_FULL_DV * SLOPE_FULL_DV));
    m->slope_w = SLOPE_FORGET * m->slope_w + w;
    m->slope += w / m->slope_w * (sk - m->slope);
}

/* ---- effort and landing --------------------------------------------------------------- */

static void learn_effort(struct fv_model *m, double e)
{
    double pred, level;

    if (m->strokes == 0 || !isfinite(m->level)) {
        m->level = e;
        m->trend = 0.0;
    } else {
        pred = m->level + m->trend;
        level = HOLT_ALPHA * e + (1.0 - HOLT_ALPHA) * pred;
        m->trend = HOLT_BETA * (level - m->level) + (1.0 - HOLT_BETA) * m->trend;
        m->level = level;
        m->trend = clamp(m->trend, -TREND_MAX * fabs(m->level), TREND_MAX * fabs(m->level));
    }
    m->strokes++;
}

/* Each landing bin's force as a share of what the landed foot gave (effort e). */
static void learn_landing(struct fv_model *m, double e)
{
    for (int i = 0; i < FV_G_BINS; i++) {
        double ref = e + m->slope * m->v_bin[i], share;
        if (m->f_bin[i] < 0.0 || !(ref > 1.0))
            continue;
        share = clamp(m->f_bin[i] / ref, 0.0, 1.2);
        m->g[i] = m->g_n[i] == 0 ? share : m->g[i] + G_LEARN * (share - m->g[i]);
        m->g_n[i]++;
    }
}

void fv_model_release(struct fv_model *m, bool whole)
{
    bool was = m->loaded;

    m->loaded = false;
    m->e_now = NAN;
    if (!was || !whole)
        return;
    if (m->ref_n > 0)
        learn_landing(m, m->ref_sum / m->ref_n);
    if (m->early_n > 0)
        learn_effort(m, m->early_sum / m->early_n);
    learn_drift(m);
    learn_slope(m);
}

/* ---- the speed asked for -------------------------------------------------------------- */

static bool slope_ok(const struct fv_model *m)
{
    return isfinite(m->slope) && m->slope >= m->p.slope_min && m->slope <= m->p.slope_max;
}

static double speed_for(const struct fv_model *m, double target, double effort)
{
    double v = (target - effort) / m->slope;
    return isfinite(v) ? clamp(v, m->p.speed_min, m->p.speed_max) : NAN;
}

double fv_model_effort_next(const struct fv_model *m)
{
    return isfinite(m->level) ? m->level + m->trend : NAN;
}

/* The share of the foot's force down at tau: the learned landing profile; before it is
 * learned, 1 once the rep rule's landing time is over (NAN before: not readable). */
static double landing_share(const struct fv_model *m, double tau)
{
    int bin = (int)(tau / FV_G_BIN_S);

    if (bin < 0 || bin >= FV_G_BINS)
        return 1.0;
    if (m->g_n[bin] >= G_KNOWN)
        return m->g[bin];
    return tau >= m->p.landing_s ? 1.0 : NAN;
}

static void observe_loaded(struct fv_model *m, double t, double force, double vd)
{
    const double g_end = FV_G_BINS * FV_G_BIN_S;
    double tau = t - m->t_contact, g;
    int bin = (int)(tau / FV_G_BIN_S);

    if (bin >= 0 && bin < FV_G_BINS && m->f_bin[bin] < 0.0) {
        m->f_bin[bin] = force;
        m->v_bin[bin] = vd;
    }
    g = landing_share(m, tau);
    if (tau >= FV_FIRST_S && isfinite(g) && g >= FV_G_MIN)
        m->e_now = force / g - m->slope * vd;
    if (isfinite(m->e_now) && tau >= m->p.landing_s && tau < m->p.landing_s + FV_EARLY_S) {
        m->early_sum += m->e_now;
        m->early_n++;
    }
    if (tau >= g_end && tau < g_end + FV_EARLY_S) {   /* surely landed: the reference */
        m->ref_sum += force - m->slope * vd;
        m->ref_n++;
    }
    /* the fit sees the landed foot's force: the landing share taken out where it is
     * known, else only once the foot has surely landed */
    if (tau >= m->p.landing_s && t >= m->t_next_sample &&
        ((m->g_n[bin < FV_G_BINS ? bin : 0] >= G_KNOWN && g >= FV_G_MIN) || tau >= g_end)) {
        sample_push(m, tau, tau >= g_end ? force : force / g, vd);
        m->t_next_sample = t + FV_SAMPLE_S - 1e-9;
    }
}

/* While the foot lands and the landing profile does not yet say how much of it is down:
 * the planned landing speed, unless the force so far already shows it too fast. The
 * force so far is at most what the landed foot will give, so the effort is at least
 * F - slope x v: a speed that bound says is too fast is too fast. Before any stroke there
 * is no plan: then only that bound, and only to slow down (NAN otherwise). */
static double landing_speed(const struct fv_model *m, double t, double force, double vd,
                            double v_belt)
{
    double plan = speed_for(m, m->p.land_target_n, fv_model_effort_next(m)), cap;

    if (t - m->t_contact < FV_FIRST_S)
        return plan;
    cap = speed_for(m, m->p.target_n, force - m->slope * vd);
    if (!isfinite(cap))
        return plan;
    if (isfinite(plan))
        return fmin(plan, cap);
    return cap < v_belt ? cap : NAN;
}

double fv_model_speed(struct fv_model *m, double t, double force, double v_belt)
{
    if (!isfinite(v_belt))
        v_belt = 0.0;
    vhist_push(m, v_belt);
    if (!isfinite(force) || !slope_ok(m))
        return NAN;
    if (m->loaded) {
        double vd = v_delayed(m);
        observe_loaded(m, t, force, vd);
        if (isfinite(m->e_now))
            return speed_for(m, m->p.target_n, m->e_now + m->drift * m->p.lookahead_s);
        return landing_speed(m, t, force, vd, v_belt);
    }
    return speed_for(m, m->p.land_target_n, fv_model_effort_next(m));
}

double fv_model_slope(const struct fv_model *m)
{
    return m->slope;
}

double fv_model_effort_now(const struct fv_model *m)
{
    return m->loaded ? m->e_now : NAN;
}
