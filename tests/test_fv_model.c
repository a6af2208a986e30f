/* test_fv_model.c - the force-speed model against a plant whose law is known.
 *
 * The plant: a foot that lands over LAND_S (force ramping linearly), resists for
 * STROKE_S with F = landed share x (effort + slope x v(t - DELAY_S)), effort swinging
 * +-30% from stroke to stroke (a fixed pseudo-random sequence), then lifts; the belt
 * follows the model's speed at RAMP m/s^2 (the drive). The model starts from the wrong
 * slope and no effort; what it learns is checked against the plant's truth.
 */
#include <math.h>

#include "controller/fv_model.h"
#include "tests/test.h"

#define DT 0.01
#define LAND_S 0.2
#define STROKE_S 1.5
#define GAP_S 1.0
#define DELAY_S 0.1
#define RAMP 0.33

static const struct fv_params base = {
    .slope = 150.0, .slope_min = 20.0, .slope_max = 1500.0, .target_n = 85.0,
    .land_target_n = 85.0,
    .speed_min = 0.08, .speed_max = 0.7, .landing_s = 0.15, .delay_s = DELAY_S, .dt = DT,
};

struct plant {
    double slope;
    double v;                    /* belt, m/s */
    double vhist[64];            /* for the delay */
    int k;
};

static double plant_delayed(struct plant *p)
{
    int lag = (int)lround(DELAY_S / DT);
    return p->vhist[(p->k - lag + 64) % 64];
}

static void plant_follow(struct plant *p, double want)
{
    double step = RAMP * DT;

    if (isfinite(want))
        p->v += want > p->v + step ? step : want < p->v - step ? -step : want - p->v;
    p->k = (p->k + 1) % 64;
    p->vhist[p->k] = p->v;
}

/* Stroke k's effort: 50 N +-30%, a fixed sequence. */
static double effort_of(int k)
{
    return 50.0 * (1.0 + 0.3 * sin(2.4 * k + 0.7));
}

/* One stroke and the gap after it, from time *t; returns the largest |force - target|
 * error seen after the landing. */
static double run_stroke(struct fv_model *m, struct plant *p, double *t, double effort,
                         double *e_read_at_100ms)
{
    double worst = 0.0, t0 = *t;

    fv_model_contact(m, t0);
    for (double tau = 0.0; tau < STROKE_S; tau += DT) {
        double share = tau < LAND_S ? (tau + DT) / LAND_S : 1.0;
        double f = share * (effort + p->slope * plant_delayed(p));
        double v = fv_model_speed(m, *t, f, p->v);
        if (e_read_at_100ms && fabs(tau - 0.10) < DT / 2)
            *e_read_at_100ms = fv_model_effort_now(m);
        if (tau > 0.6 && fabs(f - base.target_n) > worst)
            worst = fabs(f - base.target_n);
        plant_follow(p, v);
        *t += DT;
    }
    fv_model_release(m, true);
    for (double s = 0.0; s < GAP_S; s += DT) {
        plant_follow(p, fv_model_speed(m, *t, 0.0, p->v));
        *t += DT;
    }
    return worst;
}

TEST(learns_a_steeper_slope_than_its_prior)
{
    static struct fv_model m;
    struct plant p = {.slope = 250.0, .v = 0.3};
    double t = 0.0;

    fv_model_init(&m, &base);
    for (int k = 0; k < 40; k++)
        run_stroke(&m, &p, &t, effort_of(k), NULL);
    printf("  slope learned %.0f N/(m/s) (plant 250, prior 150)\n", fv_model_slope(&m));
    CHECK(fabs(fv_model_slope(&m) - 250.0) < 0.15 * 250.0);
}

TEST(holds_the_force_on_target_within_a_stroke)
{
    static struct fv_model m;
    struct plant p = {.slope = 150.0, .v = 0.3};
    double t = 0.0, worst = 0.0;

    fv_model_init(&m, &base);
    for (int k = 0; k < 30; k++) {
        double w = run_stroke(&m, &p, &t, effort_of(k), NULL);
        if (k >= 10 && w > worst)
            worst = w;
    }
    printf("  worst |F - target| after 0.6 s of a stroke: %.1f N\n", worst);
    CHECK(worst < 5.0);
}

TEST(reads_the_effort_from_the_first_100_ms_once_the_landing_is_known)
{
    static struct fv_model m;
    struct plant p = {.slope = 150.0, .v = 0.3};
    double t = 0.0, e = NAN;

    fv_model_init(&m, &base);
    for (int k = 0; k < 12; k++)
        run_stroke(&m, &p, &t, effort_of(k), NULL);
    run_stroke(&m, &p, &t, 65.0, &e);
    printf("  effort read 100 ms after contact: %.1f N (true 65)\n", e);
    CHECK(fabs(e - 65.0) < 0.1 * 65.0);
}

TEST(predicts_the_next_landing_from_the_trend)
{
    static struct fv_model m;
    struct plant p = {.slope = 150.0, .v = 0.3};
    double t = 0.0;

    fv_model_init(&m, &base);
    CHECK(isnan(fv_model_effort_next(&m)));
    for (int k = 0; k < 20; k++)            /* fading 1 N a stroke */
        run_stroke(&m, &p, &t, 60.0 - k, NULL);
    printf("  next effort predicted %.1f N (the trend says 40)\n", fv_model_effort_next(&m));
    CHECK(fabs(fv_model_effort_next(&m) - 40.0) < 3.0);
    /* unloaded, it asks for the landing speed that puts that effort on target */
    CHECK_NEAR(fv_model_speed(&m, t, 0.0, p.v),
               (base.target_n - fv_model_effort_next(&m)) / fv_model_slope(&m), 1e-9);
}

TEST(never_answers_outside_the_speed_limits)
{
    static struct fv_model m;
    double t = 0.0;

    fv_model_init(&m, &base);
    fv_model_contact(&m, t);
    for (int i = 0; i < 200; i++, t += DT) {
        double f = (i % 40 < 20) ? 900.0 : 0.5;     /* far above and far below the band */
        double v = fv_model_speed(&m, t, f, 0.3);
        CHECK(isnan(v) || (v >= base.speed_min && v <= base.speed_max));
    }
}

TEST(bad_inputs_and_implausible_slopes_fall_back)
{
    static struct fv_model m;
    struct fv_params bad = base;

    fv_model_init(&m, &base);
    fv_model_contact(&m, 0.0);
    CHECK(isnan(fv_model_speed(&m, 0.1, NAN, 0.3)));
    CHECK(isnan(fv_model_speed(&m, 0.2, INFINITY, 0.3)));
    bad.slope = 5.0;                        /* below slope_min: never believed */
    fv_model_init(&m, &bad);
    fv_model_contact(&m, 0.0);
    for (int i = 1; i < 100; i++)
        CHECK(isnan(fv_model_speed(&m, i * DT, 80.0, 0.3)));
    /* before any stroke there is no landing speed to ask for */
    fv_model_init(&m, &base);
    CHECK(isnan(fv_model_speed(&m, 0.0, 0.0, 0.0)));
}

/* Before anything is learned (first stroke), a landing whose force already shows the belt
 * too fast slows it: the force so far bounds the effort from below. A weak landing asks
 * for nothing (the band PI holds). */
TEST(a_landing_already_too_strong_slows_the_belt_before_anything_is_learned)
{
    static struct fv_model m;
    double v = NAN;

    fv_model_init(&m, &base);
    fv_model_contact(&m, 0.0);
    for (int i = 1; i <= 8; i++)
        v = fv_model_speed(&m, i * DT, 10.0, 0.3);
    CHECK(isnan(v));                                      /* 10 N at 0.3 m/s: nothing yet */
    for (int i = 9; i <= 12; i++)
        v = fv_model_speed(&m, i * DT, 120.0, 0.3);       /* 120 N and still landing */
    printf("  landing at 120 N on 0.3 m/s: asks for %.3f m/s\n", v);
    CHECK(v < 0.3);
    CHECK(v >= base.speed_min);
}

TESTS(T(learns_a_steeper_slope_than_its_prior), T(holds_the_force_on_target_within_a_stroke),
      T(reads_the_effort_from_the_first_100_ms_once_the_landing_is_known),
      T(predicts_the_next_landing_from_the_trend), T(never_answers_outside_the_speed_limits),
      T(bad_inputs_and_implausible_slopes_fall_back),
      T(a_landing_already_too_strong_slows_the_belt_before_anything_is_learned));
TEST_MAIN("test_fv_model")
