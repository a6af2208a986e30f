/* test_band_ctl.c - the force-band speed controller. */
#include "controller/band_ctl.h"

#include <math.h>

#include "tests/test.h"

#define SLEW_TOL 1e-12

static double rand01(unsigned long long *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (double)(*state >> 11) / 9007199254740992.0;
}

static struct band_ctl_params params(void)
{
    struct band_ctl_params p = {
        .mode = CFG_MODE_CONTINUOUS,
        .force_low = 90.0, .force_high = 110.0,
        .kp = 0.002, .ki = 0.05,
        .speed_min = 0.08, .speed_max = 0.83,
        .accel = 0.5, .stop_decel = 1.0,
        .fixed_speed = 0.3,
        .engage = 25.0,
        .rollback_s = 0.3,
        .dt = 0.02,
    };
    return p;
}

/* Run at v0 and tick in band until the output has ramped there. */
static void start_at(struct band_ctl *c, const struct band_ctl_params *p, double v0)
{
    band_ctl_init(c, p);
    band_ctl_run(c, v0);
    for (int i = 0; i < 1000 && band_ctl_output(c) != band_ctl_target(c); i++)
        band_ctl_update(c, 100.0, true);
}

TEST(band_error_is_continuous_and_zero_inside)
{
    struct band_ctl_params p = params();

    CHECK(band_ctl_error(&p, 100.0) == 0.0);
    CHECK(band_ctl_error(&p, 90.0) == 0.0);
    CHECK(band_ctl_error(&p, 110.0) == 0.0);
    CHECK_NEAR(band_ctl_error(&p, 130.0), -20.0, 1e-12);
    CHECK_NEAR(band_ctl_error(&p, 60.0), 30.0, 1e-12);
    CHECK_NEAR(band_ctl_error(&p, 110.0 + 1e-9), 0.0, 1e-8);
    CHECK_NEAR(band_ctl_error(&p, 90.0 - 1e-9), 0.0, 1e-8);
    CHECK(band_ctl_error(&p, NAN) == 0.0);
}

TEST(in_band_the_speed_holds_exactly)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    unsigned long long rng = 5;

    start_at(&c, &p, 0.3);
    CHECK(band_ctl_output(&c) == 0.3);
    for (int i = 0; i < 2000; i++) {
        double out = band_ctl_update(&c, 90.0 + 20.0 * rand01(&rng), true);
        CHECK(out == 0.3);
        CHECK(band_ctl_target(&c) == 0.3);
    }
}

TEST(above_the_band_slows_below_speeds_up)
{
    struct band_ctl c;
    struct band_ctl_params p = params();

    start_at(&c, &p, 0.4);
    double prev = band_ctl_output(&c);
    for (int i = 0; i < 20; i++) {
        double out = band_ctl_update(&c, 150.0, true);
        CHECK(out < prev);
        prev = out;
    }
    CHECK(band_ctl_target(&c) < 0.4);

    start_at(&c, &p, 0.4);
    prev = band_ctl_output(&c);
    for (int i = 0; i < 20; i++) {
        double out = band_ctl_update(&c, 50.0, true);
        CHECK(out > prev);
        prev = out;
    }
    CHECK(band_ctl_target(&c) > 0.4);
}

TEST(random_forces_stay_in_limits_and_slew)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    unsigned long long rng = 20240601;
    const double step = p.accel * p.dt;
    int slew_violations = 0, range_violations = 0;

    p.kp = 0.05;                     /* aggressive gains make the limits do the work */
    p.ki = 0.5;
    start_at(&c, &p, p.speed_min);
    double prev = band_ctl_output(&c);
    for (int i = 0; i < 20000; i++) {
        double r = rand01(&rng);
        double force = r < 0.02 ? NAN : 400.0 * rand01(&rng);
        bool engaged = rand01(&rng) < 0.8;
        if (rand01(&rng) < 0.01)
            band_ctl_release(&c);
        double out = band_ctl_update(&c, force, engaged);
        slew_violations += fabs(out - prev) > step + SLEW_TOL;
        range_violations += !(out >= p.speed_min && out <= p.speed_max);
        range_violations += !(band_ctl_target(&c) >= p.speed_min &&
                              band_ctl_target(&c) <= p.speed_max);
        prev = out;
    }
    CHECK_INT(slew_violations, 0);
    CHECK_INT(range_violations, 0);
}

TEST(never_above_speed_max_through_stops_and_restarts)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    unsigned long long rng = 42;
    int over = 0;

    p.kp = 1.0;
    p.ki = 10.0;
    p.accel = 50.0;                  /* nothing but the cap in the way */
    band_ctl_init(&c, &p);
    for (int i = 0; i < 20000; i++) {
        double r = rand01(&rng);
        if (r < 0.01)
            band_ctl_stop(&c);
        else if (r < 0.02)
            band_ctl_run(&c, 10.0 * rand01(&rng) - 2.0);   /* some far out of range */
        else if (r < 0.025)
            band_ctl_run(&c, INFINITY);
        double out = band_ctl_update(&c, 1000.0 * rand01(&rng) - 200.0, rand01(&rng) < 0.9);
        over += !(out >= 0.0 && out <= p.speed_max);
    }
    CHECK_INT(over, 0);
}

TEST(run_clamps_the_start_speed_and_ramps_from_rest)
{
    struct band_ctl c;
    struct band_ctl_params p = params();

    band_ctl_init(&c, &p);
    CHECK(band_ctl_output(&c) == 0.0);
    CHECK(!band_ctl_running(&c));
    band_ctl_run(&c, 5.0);
    CHECK(band_ctl_running(&c));
    CHECK(band_ctl_target(&c) == p.speed_max);
    band_ctl_run(&c, 0.0);
    CHECK(band_ctl_target(&c) == p.speed_min);
    band_ctl_run(&c, NAN);
    CHECK(band_ctl_target(&c) == p.speed_min);

    band_ctl_run(&c, 0.3);
    double prev = 0.0;
    int ticks = 0;
    while (band_ctl_output(&c) < 0.3 && ticks < 1000) {
        double out = band_ctl_update(&c, 0.0, false);
        CHECK(out - prev <= p.accel * p.dt + SLEW_TOL);
        prev = out;
        ticks++;
    }
    CHECK_INT(ticks, (int)ceil(0.3 / (p.accel * p.dt) - 1e-9));
}

TEST(anti_windup_leaves_the_limit_when_the_error_turns)
{
    struct band_ctl c;
    struct band_ctl_params p = params();

    /* force far below the band for 20 s: pinned at speed_max */
    start_at(&c, &p, 0.5);
    for (int i = 0; i < 1000; i++)
        band_ctl_update(&c, 0.0, true);
    CHECK(band_ctl_output(&c) == p.speed_max);
    CHECK(band_ctl_target(&c) == p.speed_max);
    /* just above the band: must come off the limit at once, not after unwinding */
    int ticks = 0;
    while (band_ctl_update(&c, p.force_high + 1.0, true) >= p.speed_max && ticks < 100)
        ticks++;
    CHECK(ticks <= 2);

    /* and the same at speed_min */
    for (int i = 0; i < 1000; i++)
        band_ctl_update(&c, 400.0, true);
    CHECK(band_ctl_output(&c) == p.speed_min);
    ticks = 0;
    while (band_ctl_update(&c, p.force_low - 1.0, true) <= p.speed_min && ticks < 100)
        ticks++;
    CHECK(ticks <= 2);
}

TEST(not_engaged_holds)
{
    struct band_ctl c;
    struct band_ctl_params p = params();

    start_at(&c, &p, 0.35);
    for (int i = 0; i < 500; i++) {
        CHECK(band_ctl_update(&c, (i & 1) ? 0.0 : 300.0, false) == 0.35);
        CHECK(band_ctl_target(&c) == 0.35);
    }
}

TEST(non_finite_force_does_not_poison_the_state)
{
    struct band_ctl c;
    struct band_ctl_params p = params();

    start_at(&c, &p, 0.35);
    CHECK(band_ctl_update(&c, NAN, true) == 0.35);
    CHECK(band_ctl_update(&c, INFINITY, true) == 0.35);
    CHECK(band_ctl_update(&c, -INFINITY, true) == 0.35);
    CHECK(band_ctl_target(&c) == 0.35);
    /* and it still works afterwards */
    CHECK(band_ctl_update(&c, 150.0, true) < 0.35);
    CHECK(isfinite(band_ctl_target(&c)));
}

TEST(release_rolls_the_held_speed_back_by_rollback_s)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    double held[400];
    const int back = (int)lround(p.rollback_s / p.dt);  /* 15 ticks */

    start_at(&c, &p, 0.3);
    /* a stroke: above the band for 2 s, then the unloading dip below it */
    int n = 0;
    for (; n < 100; n++) {
        band_ctl_update(&c, 120.0, true);
        held[n] = band_ctl_target(&c);
    }
    for (; n < 114; n++) {               /* 0.28 s dip, shorter than rollback_s */
        band_ctl_update(&c, 87.0, true);
        held[n] = band_ctl_target(&c);
    }
    CHECK(held[100] > held[99]);         /* every tick of the dip pushed the held */
    CHECK(held[113] > held[112]);        /* speed up */
    band_ctl_release(&c);
    CHECK(band_ctl_target(&c) == held[113 - back]);
    CHECK(band_ctl_target(&c) < held[113]);  /* the dip's push is undone */

    /* a second release soon after must not restore the dip it just undid */
    double restored = band_ctl_target(&c);
    for (int i = 0; i < 2; i++)
        band_ctl_update(&c, 0.0, false);
    band_ctl_release(&c);
    CHECK(band_ctl_target(&c) == restored);
}

TEST(release_with_long_rollback_uses_the_whole_history)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    double held[300];

    p.rollback_s = 100.0;                /* more than the ring holds */
    start_at(&c, &p, 0.3);
    for (int i = 0; i < 300; i++) {
        band_ctl_update(&c, 60.0, true);
        held[i] = band_ctl_target(&c);
    }
    band_ctl_release(&c);
    CHECK(band_ctl_target(&c) == held[299 - (BAND_CTL_HIST - 1)]);
}

TEST(release_right_after_run_goes_back_to_the_start_speed)
{
    struct band_ctl c;
    struct band_ctl_params p = params();

    band_ctl_init(&c, &p);
    band_ctl_run(&c, 0.6);
    for (int i = 0; i < 200; i++)        /* a held speed from an earlier set */
        band_ctl_update(&c, 100.0, true);
    band_ctl_stop(&c);
    band_ctl_run(&c, 0.3);
    band_ctl_release(&c);                /* no history yet: nothing to undo */
    CHECK(band_ctl_target(&c) == 0.3);
    for (int i = 0; i < 5; i++)          /* 0.1 s, shorter than rollback_s */
        band_ctl_update(&c, 20.0, true);
    band_ctl_release(&c);
    CHECK_NEAR(band_ctl_target(&c), 0.3, 0.001);   /* never the 0.6 of the old run */
}

TEST(stop_ramps_to_zero_at_stop_decel)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    const double step = p.stop_decel * p.dt;

    start_at(&c, &p, 0.5);
    band_ctl_stop(&c);
    CHECK(!band_ctl_running(&c));
    double prev = band_ctl_output(&c);
    int ticks = 0;
    while (prev > 0.0 && ticks < 1000) {
        double out = band_ctl_update(&c, 300.0, true);   /* force ignored when stopped */
        CHECK(out >= 0.0);
        if (out > 0.0)
            CHECK_NEAR(prev - out, step, 1e-12);
        prev = out;
        ticks++;
    }
    CHECK_INT(ticks, (int)ceil(0.5 / step - 1e-9));
    CHECK(band_ctl_update(&c, 300.0, true) == 0.0);
    CHECK(band_ctl_target(&c) == 0.5);                   /* the held speed is kept */
}

TEST(fixed_mode_ignores_force)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    unsigned long long rng = 3;

    p.mode = CFG_MODE_FIXED;
    p.fixed_speed = 0.25;
    band_ctl_init(&c, &p);
    band_ctl_run(&c, 0.7);               /* v0 does not matter in fixed mode */
    CHECK(band_ctl_target(&c) == 0.25);
    for (int i = 0; i < 100; i++)
        band_ctl_update(&c, 400.0 * rand01(&rng), true);
    for (int i = 0; i < 2000; i++) {
        CHECK(band_ctl_update(&c, 400.0 * rand01(&rng), rand01(&rng) < 0.5) == 0.25);
        if (i % 100 == 0)
            band_ctl_release(&c);
    }
    CHECK(band_ctl_target(&c) == 0.25);
}

/* Toy athlete: F = E + 150 v, where v is the belt speed (the command through a
 * first-order drive lag; lag 0 means the belt follows the command). E steps between
 * 20 and 60 N every 4 s, which moves the in-band speed range from [0.47, 0.6] m/s
 * to [0.2, 0.33] m/s and back. Returns the worst settle time: from each step until
 * the force stays within 1 N of the band. Also reports the worst excursion past the
 * far edge of the band (force carried through the band by the catch-up). */
static double worst_settle_time(double drive_lag_s, double *worst_through)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    double belt = 0.0, worst = 0.0;

    *worst_through = 0.0;
    band_ctl_init(&c, &p);
    band_ctl_run(&c, 0.3);
    for (int seg = 0; seg < 8; seg++) {
        double E = (seg % 2) ? 60.0 : 20.0, settle = 0.0;
        for (int k = 0; k < 200; k++) {
            double F = E + 150.0 * belt;
            if (fabs(band_ctl_error(&p, F)) > 1.0)
                settle = (k + 1) * p.dt;
            /* E = 60 N steps down from above the band: going below it is overshoot */
            double through = (seg % 2) ? p.force_low - F : F - p.force_high;
            if (seg > 0)
                *worst_through = fmax(*worst_through, through);
            double v = band_ctl_update(&c, F, true);
            belt += (drive_lag_s > 0 ? -expm1(-p.dt / drive_lag_s) : 1.0) * (v - belt);
        }
        worst = fmax(worst, settle);
    }
    return worst;
}

static struct band_ctl_params reactive_params(void)
{
    struct band_ctl_params p = params();

    p.mode = CFG_MODE_REACTIVE;
    return p;
}

TEST(reactive_moves_only_while_loaded_above_engage)
{
    struct band_ctl c;
    struct band_ctl_params p = reactive_params();

    band_ctl_init(&c, &p);
    band_ctl_run(&c, 0.3);
    for (int i = 0; i < 100; i++) {
        CHECK(band_ctl_update(&c, p.engage, true) == 0.0);    /* at engage: not above it */
        CHECK(band_ctl_update(&c, 0.0, false) == 0.0);
        CHECK(band_ctl_update(&c, NAN, true) == 0.0);
    }
    CHECK(band_ctl_target(&c) == 0.3);
    double prev = 0.0;
    for (int i = 0; i < 10; i++) {               /* loaded: slew-limited rise from rest */
        double out = band_ctl_update(&c, 100.0, true);
        CHECK_NEAR(out - prev, p.accel * p.dt, SLEW_TOL);
        prev = out;
    }
}

TEST(reactive_loaded_runs_exactly_as_continuous)
{
    struct band_ctl r, k;
    struct band_ctl_params pr = reactive_params(), pk = params();
    unsigned long long rng = 11;

    band_ctl_init(&r, &pr);
    band_ctl_init(&k, &pk);
    band_ctl_run(&r, 0.3);
    band_ctl_run(&k, 0.3);
    for (int i = 0; i < 2000; i++) {
        double f = pr.engage + 1.0 + 150.0 * rand01(&rng);
        bool engaged = rand01(&rng) < 0.8;
        CHECK(band_ctl_update(&r, f, engaged) == band_ctl_update(&k, f, engaged));
        CHECK(band_ctl_target(&r) == band_ctl_target(&k));
    }
}

TEST(reactive_unloaded_ramps_to_zero_at_stop_decel_and_keeps_the_held_speed)
{
    struct band_ctl c;
    struct band_ctl_params p = reactive_params();
    const double step = p.stop_decel * p.dt;
    int ticks = 0;

    start_at(&c, &p, 0.5);
    CHECK(band_ctl_output(&c) == 0.5);
    for (double prev = 0.5; band_ctl_output(&c) > 0.0 && ticks < 1000; ticks++) {
        double out = band_ctl_update(&c, 5.0, true);     /* foot lifted, below the band */
        CHECK(prev - out <= step + SLEW_TOL);
        prev = out;
    }
    CHECK_INT(ticks, (int)ceil(0.5 / step - 1e-9));
    CHECK(band_ctl_target(&c) == 0.5);                   /* no windup from the low force */
    CHECK(band_ctl_running(&c));
    for (int i = 0; i < 1000 && band_ctl_output(&c) < 0.5; i++)
        band_ctl_update(&c, 100.0, true);                /* next stroke: back to 0.5 */
    CHECK(band_ctl_output(&c) == 0.5);
}

TEST(reactive_stop_outside_a_set_stays_stopped_when_loaded)
{
    struct band_ctl c;
    struct band_ctl_params p = reactive_params();

    band_ctl_init(&c, &p);
    for (int i = 0; i < 100; i++)
        CHECK(band_ctl_update(&c, 100.0, true) == 0.0);
}

TEST(closed_loop_settles_into_the_band_within_1_5_s)
{
    double through;
    double settle = worst_settle_time(0.0, &through);

    CHECK(settle <= 1.5);
    CHECK(through <= 1.0);
    /* a drive that takes 0.1 s to follow the command */
    settle = worst_settle_time(0.1, &through);
    CHECK(settle <= 1.5);
    CHECK(through <= 1.0);
}

/* The command never rises faster than the drive's own ramp, even when accel allows it. */
TEST(slew_is_bounded_by_the_drive_ramp)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    double prev = 0.0;

    p.accel = 0.6;
    p.drive_accel = 0.3;
    p.drive_decel = 0.25;
    CHECK_NEAR(band_ctl_slew_up(&p), 0.3, 1e-12);
    CHECK_NEAR(band_ctl_slew_down(&p), 0.25, 1e-12);
    band_ctl_init(&c, &p);
    band_ctl_run(&c, 0.7);
    for (int i = 0; i < 200; i++) {
        double out = band_ctl_step(&c, 100.0, true, NAN, NAN);
        CHECK(out - prev <= 0.3 * p.dt + SLEW_TOL);
        prev = out;
    }
    for (int i = 0; i < 100; i++) {                  /* far above the band: slow down */
        double out = band_ctl_step(&c, 300.0, true, NAN, NAN);
        CHECK(prev - out <= 0.25 * p.dt + SLEW_TOL);
        prev = out;
    }
}

/* A belt that lags (here stuck at 0.2 m/s) holds the command within lead_margin of it;
 * once the belt moves on, the command follows it up. */
TEST(the_command_never_runs_ahead_of_a_lagging_belt)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    double belt = 0.2;

    p.lead_margin = 0.05;
    band_ctl_init(&c, &p);
    band_ctl_run(&c, 0.6);
    for (int i = 0; i < 300; i++)
        CHECK(band_ctl_step(&c, 100.0, true, belt, 0.6) <= belt + 0.05 + SLEW_TOL);
    for (int i = 0; i < 300; i++) {
        double out = band_ctl_step(&c, 100.0, true, belt, 0.6);
        CHECK(out <= belt + 0.05 + SLEW_TOL);
        belt = fmin(0.6, belt + 0.3 * p.dt);
    }
    CHECK_NEAR(band_ctl_output(&c), 0.6, 1e-9);
}

/* A stop ramps down from the belt's measured speed, never from a command it has not
 * reached: the first stop command is already at or below the belt. */
TEST(a_stop_starts_from_the_measured_belt)
{
    struct band_ctl c;
    struct band_ctl_params p = params();

    start_at(&c, &p, 0.5);
    band_ctl_stop(&c);
    CHECK(band_ctl_step(&c, 100.0, true, 0.3, NAN) <= 0.3);
}

/* Reactive, foot off: whatever the belt and the model say, the command never rises. */
TEST(reactive_unloaded_never_rises)
{
    struct band_ctl c;
    struct band_ctl_params p = params();
    unsigned long long rng = 7;
    double prev;

    p.mode = CFG_MODE_REACTIVE;
    start_at(&c, &p, 0.4);
    prev = band_ctl_output(&c);
    for (int i = 0; i < 200; i++) {
        double out = band_ctl_step(&c, p.engage * rand01(&rng), false, 0.8 * rand01(&rng),
                                   0.8 * rand01(&rng));
        CHECK(out <= prev);
        prev = out;
    }
    CHECK(prev == 0.0);
}

/* The model's speed is used, clamped to the limits, and the PI's held speed follows it
 * so a fallback (model NAN) goes on from there. */
TEST(the_model_speed_is_clamped_and_handed_over)
{
    struct band_ctl c;
    struct band_ctl_params p = params();

    start_at(&c, &p, 0.3);
    for (int i = 0; i < 300; i++)
        band_ctl_step(&c, 100.0, true, NAN, 5.0);
    CHECK_NEAR(band_ctl_output(&c), p.speed_max, 1e-12);
    for (int i = 0; i < 300; i++)
        band_ctl_step(&c, 100.0, true, NAN, 0.4);
    CHECK_NEAR(band_ctl_output(&c), 0.4, 1e-12);
    CHECK_NEAR(band_ctl_target(&c), 0.4, 1e-12);
    band_ctl_step(&c, 100.0, true, NAN, NAN);       /* in band: the PI holds 0.4 */
    CHECK_NEAR(band_ctl_output(&c), 0.4, 1e-12);
}

TESTS(T(band_error_is_continuous_and_zero_inside),
      T(in_band_the_speed_holds_exactly),
      T(above_the_band_slows_below_speeds_up),
      T(random_forces_stay_in_limits_and_slew),
      T(never_above_speed_max_through_stops_and_restarts),
      T(run_clamps_the_start_speed_and_ramps_from_rest),
      T(anti_windup_leaves_the_limit_when_the_error_turns),
      T(not_engaged_holds),
      T(non_finite_force_does_not_poison_the_state),
      T(release_rolls_the_held_speed_back_by_rollback_s),
      T(release_with_long_rollback_uses_the_whole_history),
      T(release_right_after_run_goes_back_to_the_start_speed),
      T(stop_ramps_to_zero_at_stop_decel),
      T(fixed_mode_ignores_force),
      T(reactive_moves_only_while_loaded_above_engage),
      T(reactive_loaded_runs_exactly_as_continuous),
      T(reactive_unloaded_ramps_to_zero_at_stop_decel_and_keeps_the_held_speed),
      T(reactive_stop_outside_a_set_stays_stopped_when_loaded),
      T(closed_loop_settles_into_the_band_within_1_5_s),
      T(slew_is_bounded_by_the_drive_ramp), T(the_command_never_runs_ahead_of_a_lagging_belt),
      T(a_stop_starts_from_the_measured_belt), T(reactive_unloaded_never_rises),
      T(the_model_speed_is_clamped_and_handed_over));

TEST_MAIN("test_band_ctl")
