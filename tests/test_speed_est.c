/* test_speed_est.c - belt speed from pulse timing. */
#include "controller/speed_est.h"

#include <math.h>

#include "tests/test.h"

#define TICK 0.02                    /* the control loop reads the estimate at 50 Hz */

static double rand01(unsigned long long *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (double)(*state >> 11) / 9007199254740992.0;
}

TEST(zero_with_fewer_than_two_pulses)
{
    struct speed_est s;

    speed_est_init(&s, 4.0, 5.0);
    CHECK(speed_est_get(&s, 1.0) == 0.0);
    CHECK(speed_est_last_pulse(&s) == -1.0);
    speed_est_pulse(&s, 1.0);
    CHECK(speed_est_get(&s, 1.1) == 0.0);
    CHECK(speed_est_last_pulse(&s) == 1.0);
}

/* Exact pulse train at v from t0; reads the estimate at every control tick between
 * pulses (once two pulses are in) and returns the worst relative error. */
static double worst_error_on_train(double pulses_per_m, double v, int pulses)
{
    struct speed_est s;
    const double period = 1.0 / (pulses_per_m * v), t0 = 3.7;
    double worst = 0.0;
    int next = 0;

    speed_est_init(&s, pulses_per_m, 5.0);
    for (double now = t0; next < pulses; now += TICK) {
        while (next < pulses && t0 + next * period <= now)
            speed_est_pulse(&s, t0 + next++ * period);
        if (next >= 2 && next < pulses)
            worst = fmax(worst, fabs(speed_est_get(&s, now) - v) / v);
    }
    return worst;
}

TEST(exact_pulse_trains_within_1_percent)
{
    const double speeds[] = {0.1, 0.3, 0.8};
    const double sensors[] = {4.0, 20.0};

    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 2; j++) {
            double err = worst_error_on_train(sensors[j], speeds[i], 30);
            if (!(err <= 0.01))
                printf("  %.1f m/s, %.0f pulses/m: error %.3g\n", speeds[i], sensors[j], err);
            CHECK(err <= 0.01);
        }
    }
}

TEST(distance_counts_pulses)
{
    struct speed_est s;

    speed_est_init(&s, 4.0, 5.0);
    CHECK(speed_est_distance(&s) == 0.0);
    for (int i = 0; i < 10; i++)
        speed_est_pulse(&s, 1.0 + i * 0.5);
    CHECK_NEAR(speed_est_distance(&s), 2.5, 1e-12);
}

TEST(out_of_order_and_duplicate_pulses_ignored)
{
    struct speed_est s;

    speed_est_init(&s, 4.0, 5.0);
    speed_est_pulse(&s, 1.0);
    speed_est_pulse(&s, 2.0);
    speed_est_pulse(&s, 1.5);        /* out of order */
    speed_est_pulse(&s, 2.0);        /* duplicate */
    speed_est_pulse(&s, NAN);
    CHECK_NEAR(speed_est_distance(&s), 0.5, 1e-12);
    CHECK(speed_est_last_pulse(&s) == 2.0);
    CHECK_NEAR(speed_est_get(&s, 2.0), 0.25, 1e-12);
    speed_est_pulse(&s, 3.0);
    CHECK_NEAR(speed_est_get(&s, 3.0), 0.25, 1e-12);
}

TEST(falls_once_pulses_stop_and_is_zero_after_timeout)
{
    struct speed_est s;
    const double v = 0.3, ppm = 4.0, period = 1.0 / (ppm * v), timeout = 3.0;
    double t_last = 0, prev;

    speed_est_init(&s, ppm, timeout);
    for (int i = 0; i < 8; i++)
        speed_est_pulse(&s, t_last = 10.0 + i * period);

    prev = speed_est_get(&s, t_last);
    CHECK_NEAR(prev, v, 1e-9);
    for (double now = t_last; now < t_last + timeout + 1.0; now += TICK) {
        double est = speed_est_get(&s, now);
        CHECK(est <= prev);                              /* can only fall */
        if (now - t_last > period * 1.001)
            CHECK(est < v);                              /* overdue pulse: slower */
        if (now > t_last)
            CHECK(est <= 0.25 / (now - t_last) + 1e-12); /* under a pulse per gap */
        if (now - t_last >= timeout)
            CHECK(est == 0.0);
        prev = est;
    }
    CHECK(speed_est_get(&s, t_last + timeout) == 0.0);
}

/* Pulses at v1, then from a pulse at t_change at v2. Returns the time after the change
 * at which the estimate is within 1% of v2 for good (reading at ticks and pulses). */
static double time_to_track(double ppm, double v1, double v2)
{
    struct speed_est s;
    double t = 0, t_change = 0, last_bad = 0;

    speed_est_init(&s, ppm, 5.0);
    for (int i = 0; i < 10; i++) {
        t_change = t;                                    /* ends as the last old pulse */
        speed_est_pulse(&s, t);
        t += 1.0 / (ppm * v1);
    }
    t = t_change + 1.0 / (ppm * v2);
    for (int i = 0; i < 12; i++, t += 1.0 / (ppm * v2)) {
        for (double now = t - 1.0 / (ppm * v2) + TICK; now < t; now += TICK)
            if (fabs(speed_est_get(&s, now) - v2) > 0.01 * v2)
                last_bad = now - t_change;
        speed_est_pulse(&s, t);
        if (fabs(speed_est_get(&s, t) - v2) > 0.01 * v2)
            last_bad = t - t_change;
    }
    return last_bad;
}

TEST(speed_change_tracked_within_two_periods)
{
    const double pairs[][2] = {{0.1, 0.3}, {0.3, 0.8}, {0.8, 0.3}, {0.3, 0.1},
                               {0.8, 0.1}, {0.5, 0.8}, {0.8, 0.5}};
    const double sensors[] = {4.0, 20.0};

    for (int i = 0; i < (int)(sizeof pairs / sizeof pairs[0]); i++) {
        for (int j = 0; j < 2; j++) {
            double v2 = pairs[i][1], period = 1.0 / (sensors[j] * v2);
            /* tracked by two new periods, or by the 0.25 s averaging window when
             * 20 pulses/m come faster than that */
            double bound = fmax(2 * period, 0.25) + 1e-9;
            double took = time_to_track(sensors[j], pairs[i][0], v2);
            if (!(took <= bound))
                printf("  %.0f/m %.1f -> %.1f m/s: %.3f s, bound %.3f s\n", sensors[j],
                       pairs[i][0], v2, took, bound);
            CHECK(took <= bound);
        }
    }
}

TEST(roller_sensor_uses_only_the_last_period)
{
    /* 4 pulses/m: a period is at least 0.3 s, longer than the window, so one pulse
     * at the new speed is enough. */
    struct speed_est s;

    speed_est_init(&s, 4.0, 5.0);
    speed_est_pulse(&s, 0.0);
    speed_est_pulse(&s, 2.5);        /* 0.1 m/s */
    speed_est_pulse(&s, 2.8);        /* 0.25 m / 0.3 s */
    CHECK_NEAR(speed_est_get(&s, 2.8), 0.25 / 0.3, 1e-12);
}

TEST(averaging_smooths_timestamp_jitter)
{
    struct speed_est s;
    const double v = 0.8, ppm = 20.0, period = 1.0 / (ppm * v);
    unsigned long long rng = 777;
    double worst = 0.0;

    speed_est_init(&s, ppm, 5.0);
    for (int i = 0; i < 200; i++) {
        double t = 1.0 + i * period + 0.001 * (2 * rand01(&rng) - 1);   /* +-1 ms */
        speed_est_pulse(&s, t);
        if (i >= SPEED_EST_HIST)
            worst = fmax(worst, fabs(speed_est_get(&s, t) - v) / v);
    }
    /* one 62.5 ms period read alone could be 3.2% off; four average to under 1% */
    CHECK(worst < 0.01);
}

TEST(estimate_never_negative_or_non_finite)
{
    struct speed_est s;
    unsigned long long rng = 99;
    double t = 0;

    speed_est_init(&s, 20.0, 2.0);
    for (int i = 0; i < 5000; i++) {
        t += 0.001 + 3.0 * rand01(&rng) * rand01(&rng);
        if (rand01(&rng) < 0.5)
            speed_est_pulse(&s, t);
        double est = speed_est_get(&s, t);
        CHECK(isfinite(est) && est >= 0.0);
    }
}

TESTS(T(zero_with_fewer_than_two_pulses),
      T(exact_pulse_trains_within_1_percent),
      T(distance_counts_pulses),
      T(out_of_order_and_duplicate_pulses_ignored),
      T(falls_once_pulses_stop_and_is_zero_after_timeout),
      T(speed_change_tracked_within_two_periods),
      T(roller_sensor_uses_only_the_last_period),
      T(averaging_smooths_timestamp_jitter),
      T(estimate_never_negative_or_non_finite));

TEST_MAIN("test_speed_est")
