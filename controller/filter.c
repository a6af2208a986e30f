/* filter.c - force filter: median-of-3 spike rejection, then a first-order low-pass
 * whose coefficient follows the actual sample gap (see filter.h). */
#include "controller/filter.h"

#include <math.h>

#define TWO_PI 6.283185307179586

void force_filter_init(struct force_filter *f, double cutoff_hz, bool spike_reject)
{
    /* A non-positive cutoff would divide by zero: treat it as "no smoothing" (tau 0). */
    f->tau = cutoff_hz > 0 ? 1.0 / (TWO_PI * cutoff_hz) : 0.0;
    f->spike_reject = spike_reject;
    force_filter_reset(f);
}

void force_filter_reset(struct force_filter *f)
{
    for (int i = 0; i < 3; i++)
        f->hist[i] = 0.0;
    f->n = 0;
    f->y = 0.0;
    f->t_last = 0.0;
}

static double median_of_3(double a, double b, double c)
{
    return fmax(fmin(a, b), fmin(fmax(a, b), c));
}

/* hist[0] is the newest sample. */
static void remember_sample(struct force_filter *f, double x)
{
    f->hist[2] = f->hist[1];
    f->hist[1] = f->hist[0];
    f->hist[0] = x;
    if (f->n < 3)
        f->n++;
}

static double despiked_sample(const struct force_filter *f)
{
    if (!f->spike_reject || f->n < 3)
        return f->hist[0];
    return median_of_3(f->hist[0], f->hist[1], f->hist[2]);
}

/* Exact discretisation of dy/dt = (x - y) / tau with x held over the gap:
 * the corner frequency does not depend on the sample rate or its jitter. */
static double smoothing_alpha(double tau, double gap_s)
{
    if (tau <= 0)
        return 1.0;
    return -expm1(-gap_s / tau);      /* 1 - exp(-gap/tau), accurate for tiny gaps */
}

double force_filter_push(struct force_filter *f, double t, double newtons)
{
    if (!isfinite(newtons) || !isfinite(t))
        return f->y;

    remember_sample(f, newtons);
    double x = despiked_sample(f);

    if (f->n == 1) {
        f->y = x;
        f->t_last = t;
        return f->y;
    }
    /* Samples should come in time order; a stale timestamp counts as no time passed. */
    double gap = t > f->t_last ? t - f->t_last : 0.0;
    f->y += smoothing_alpha(f->tau, gap) * (x - f->y);
    if (t > f->t_last)
        f->t_last = t;
    return f->y;
}

double force_filter_value(const struct force_filter *f)
{
    return f->y;
}
