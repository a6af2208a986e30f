/* test_sim.c - the simulated rig's physics (sim/rig.c) and athlete (sim/athlete.c).
 *
 * Most tests drive the rig the way the controller does (rig_advance in small steps,
 * take what arrived) and check physical outcomes: ramps, slip, pulse timing, the load
 * cell's statistics, the athlete's strokes and button presses. "plain" is an athlete
 * with every random and time-varying term switched off, so figures can be worked out
 * by hand.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/athlete.h"
#include "sim/rig.h"
#include "tests/test.h"

#define DT 0.001
#define CALL 0.01                     /* the controller's advance step in most tests */

static const struct athlete_judge judge = {
    .contact_n = 20.0, .release_n = 12.0, .force_low = 60.0, .force_high = 100.0,
    .min_stroke_s = 0.6, .min_travel_m = 0.25, .min_in_band = 0.5,
};

/* An athlete whose force is exactly effort x shape + speed_gain x v (no variation,
 * fatigue, tremor or partial strokes) and who never presses a button. */
static struct athlete_params plain(void)
{
    struct athlete_params p;

    athlete_defaults(&p);
    p.effort_n = 45.0;          /* the figures below are worked out for 45 N */
    p.effort_var = 0.0;
    p.fatigue_per_rep = 0.0;
    p.fatigue_per_set = 0.0;
    p.tremor_n = 0.0;
    p.reach_var_m = 0.0;
    p.partial_prob = 0.0;
    p.sessions = 0;
    return p;
}

static struct athlete_params silent_normal(void)
{
    struct athlete_params p;

    athlete_defaults(&p);
    p.effort_n = 45.0;          /* the figures below are worked out for 45 N */
    p.sessions = 0;
    return p;
}

/* Step an athlete directly at a constant belt speed for the given time. */
static struct athlete *athlete_at_speed(const struct athlete_params *p,
                                        const struct athlete_judge *j, double v, double seconds,
                                        unsigned seed)
{
    struct athlete *a = athlete_open(p, j, seed, 1000);
    unsigned b = 0;
    long steps = lround(seconds / DT);

    for (long k = 1; a && k <= steps; k++)
        athlete_step(a, (double)k * DT, DT, v, &b);
    return a;
}

/* Advance in CALL steps to t, discarding pulses and samples. */
static void run_to(struct rig *r, double t)
{
    double tt[RIG_QUEUE], f[RIG_QUEUE];

    for (long k = lround(rig_now(r) / CALL) + 1; (double)k * CALL <= t + 1e-9; k++) {
        rig_advance(r, (double)k * CALL);
        rig_take_pulses(r, tt, RIG_QUEUE);
        rig_take_force(r, tt, f, RIG_QUEUE);
    }
}

/* ---- drive, belt, pulses ----------------------------------------------------------- */

TEST(drive_ramps_at_drive_accel)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;

    rig_defaults(&rp);
    rp.drive_accel = 0.5;
    r = rig_open(&rp, &ap, &judge);
    rig_set_speed(r, 0.3);
    run_to(r, 0.2);
    CHECK_NEAR(rig_motor_speed(r), 0.1, 1e-9);
    run_to(r, 0.5);
    CHECK_NEAR(rig_motor_speed(r), 0.25, 1e-9);
    run_to(r, 1.0);
    CHECK_NEAR(rig_motor_speed(r), 0.3, 1e-12);     /* reached, and holds */
    rig_set_speed(r, 0.1);
    run_to(r, 1.2);
    CHECK_NEAR(rig_motor_speed(r), 0.2, 1e-9);
    run_to(r, 2.0);
    CHECK_NEAR(rig_motor_speed(r), 0.1, 1e-12);
    rig_set_speed(r, -1.0);                          /* refused: stop */
    run_to(r, 3.0);
    CHECK_NEAR(rig_motor_speed(r), 0.0, 0.0);
    rig_set_speed(r, NAN);
    run_to(r, 3.1);
    CHECK_NEAR(rig_motor_speed(r), 0.0, 0.0);
    rig_close(r);
}

/* A setpoint reaches the motor drive_dead_s after it was given, in order, and then
 * the motor ramps at drive_accel; repeating a setpoint is not a new command. */
TEST(drive_dead_time_delays_then_ramps)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;

    rig_defaults(&rp);
    rp.drive_dead_s = 0.1;
    rp.drive_accel = 0.3;
    r = rig_open(&rp, &ap, &judge);
    rig_set_speed(r, 0.3);                           /* at t = 0 */
    for (int k = 1; k <= 10; k++) {                  /* the stopped rig may not skip it */
        run_to(r, 0.01 * k);
        CHECK_NEAR(rig_motor_speed(r), 0.0, 0.0);    /* not a hair before 0.1 s */
    }
    run_to(r, 0.2);
    CHECK_NEAR(rig_motor_speed(r), 0.03, 1e-9);      /* 0.3 m/s^2 x (0.2 - 0.1) s */
    run_to(r, 0.6);
    CHECK_NEAR(rig_motor_speed(r), 0.15, 1e-9);
    run_to(r, 1.2);
    CHECK_NEAR(rig_motor_speed(r), 0.3, 1e-12);      /* reached at 1.1 s */
    for (int k = 0; k < 5; k++) {                    /* eccsim repeats it every call */
        rig_set_speed(r, 0.3);
        run_to(r, 1.2 + 0.01 * (k + 1));
    }
    rig_set_speed(r, 0.0);                           /* at 1.25 s */
    run_to(r, 1.35);
    CHECK_NEAR(rig_motor_speed(r), 0.3, 1e-12);
    run_to(r, 1.45);
    CHECK_NEAR(rig_motor_speed(r), 0.27, 1e-9);
    run_to(r, 2.5);
    CHECK_NEAR(rig_motor_speed(r), 0.0, 0.0);
    rig_set_speed(r, 0.3);                           /* two commands inside the dead time: */
    run_to(r, 2.53);
    rig_set_speed(r, 0.0);                           /* each acts 0.1 s late, in order */
    run_to(r, 2.6);
    CHECK_NEAR(rig_motor_speed(r), 0.0, 0.0);
    run_to(r, 2.63);
    CHECK_NEAR(rig_motor_speed(r), 0.009, 1e-9);
    run_to(r, 2.7);
    CHECK_NEAR(rig_motor_speed(r), 0.0, 0.0);
    rig_close(r);
}

TEST(slip_lowers_belt_speed_by_slip_times_force)
{
    struct rig_params rp;
    struct athlete_params ap = plain();
    struct rig *r;
    double f_before;

    rig_defaults(&rp);
    rp.slip = 0.001;
    r = rig_open(&rp, &ap, &judge);
    rig_set_speed(r, 0.3);
    run_to(r, 1.6);                 /* the ramp is over (0.6 s), the athlete resists by now */
    CHECK(rig_true_force(r) > 60.0);
    f_before = rig_true_force(r);
    rig_advance(r, rig_now(r) + DT);                 /* one physics step */
    /* the belt slips under the load of the step before (explicit 1 ms step) */
    CHECK_NEAR(rig_belt_speed(r), rig_motor_speed(r) - 0.001 * f_before, 1e-12);
    CHECK_NEAR(rig_motor_speed(r), 0.3, 1e-12);
    CHECK_NEAR(rig_belt_speed(r), 0.3 - 0.001 * rig_true_force(r), 2e-4);
    CHECK(rig_belt_speed(r) < 0.25);
    rig_close(r);
}

TEST(pulses_at_constant_speed_are_exactly_spaced)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;
    double t[RIG_QUEUE], prev = -1.0;
    int n, checked = 0, bad = 0;

    rig_defaults(&rp);
    rp.slip = 0.0;                                   /* the foot must not slow the belt */
    rp.pulses_per_m = 4.0;
    r = rig_open(&rp, &ap, &judge);
    rig_set_speed(r, 0.3);
    run_to(r, 1.0);                                  /* at speed after 0.6 s */
    for (long k = 1; k <= 2000; k++) {
        rig_advance(r, 1.0 + (double)k * CALL);
        n = rig_take_pulses(r, t, RIG_QUEUE);
        for (int i = 0; i < n; i++) {
            if (prev > 0.0) {
                bad += fabs(t[i] - prev - 1.0 / (4.0 * 0.3)) > 1e-9;
                checked++;
            }
            CHECK(t[i] <= rig_now(r) + 1e-12);
            prev = t[i];
        }
    }
    CHECK_INT(bad, 0);
    CHECK_INT(checked, (int)(20.0 * 4.0 * 0.3) - 1);
    rig_close(r);
}

/* Start, run, change speed, stop: every pulse arrives, one per 1/ppm of travel. */
static void check_pulse_count(double ppm)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;
    double t[RIG_QUEUE], f[RIG_QUEUE], last = 0.0;
    long total = 0;

    rig_defaults(&rp);
    rp.pulses_per_m = ppm;
    r = rig_open(&rp, &ap, &judge);
    rig_set_speed(r, 0.4);
    for (long k = 1; k <= 3000; k++) {
        int n;
        if (k == 1000)
            rig_set_speed(r, 0.15);
        if (k == 2000)
            rig_set_speed(r, 0.0);
        rig_advance(r, (double)k * CALL);
        rig_take_force(r, t, f, RIG_QUEUE);         /* not counted here */
        n = rig_take_pulses(r, t, RIG_QUEUE);
        for (int i = 0; i < n; i++) {
            CHECK(t[i] > last);                      /* in order, never repeated */
            last = t[i];
        }
        total += n;
    }
    CHECK(rig_belt_position(r) > 4.0);
    CHECK_INT(total, (long)floor(rig_belt_position(r) * ppm));
    CHECK_INT(rig_dropped(r), 0);
    rig_close(r);
}

TEST(pulse_count_matches_distance)
{
    check_pulse_count(4.0);
    check_pulse_count(37.5);
}

/* ---- load cell --------------------------------------------------------------------- */

TEST(loadcell_samples_on_their_own_grid)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;
    double t[RIG_QUEUE], f[RIG_QUEUE];
    long total = 0, off_grid = 0;

    rig_defaults(&rp);
    rp.lc_rate_hz = 80.0;
    r = rig_open(&rp, &ap, &judge);
    for (long k = 1; k <= 3000; k++) {               /* quiet, then running, then quiet */
        int n;
        if (k == 500)
            rig_set_speed(r, 0.3);
        if (k == 1500)
            rig_set_speed(r, 0.0);
        rig_advance(r, (double)k * CALL);
        n = rig_take_force(r, t, f, RIG_QUEUE);
        for (int i = 0; i < n; i++)
            off_grid += fabs(t[i] - (double)(total + i + 1) / 80.0) > 1e-12;
        total += n;
    }
    CHECK_INT(total, 30 * 80);
    CHECK_INT(off_grid, 0);
    rig_close(r);
}

TEST(loadcell_mean_and_noise_match_truth)
{
    struct rig_params rp;
    struct athlete_params ap = plain();
    struct rig *r;
    double t[RIG_QUEUE], f[RIG_QUEUE], sum = 0.0, sum2 = 0.0, mean, sd;
    long n_all = 0;

    rig_defaults(&rp);
    rp.slip = 0.0;
    rp.lc_rate_hz = 1000.0;
    rp.lc_noise_n = 2.0;
    rp.lc_resolution_n = 0.01;
    ap.shape_slope = 0.0;
    ap.reach_m = 2.0;                                /* one long, flat stroke */
    r = rig_open(&rp, &ap, &judge);
    rig_set_speed(r, 0.3);
    run_to(r, 1.6);                 /* the athlete steps on once the 0.6 s ramp is over */
    CHECK_NEAR(rig_true_force(r), 45.0 + 150.0 * 0.3, 1e-9);
    for (long k = 1; k <= 500; k++) {
        int n;
        rig_advance(r, 1.6 + (double)k * CALL);
        n = rig_take_force(r, t, f, RIG_QUEUE);
        for (int i = 0; i < n; i++) {
            sum += f[i];
            sum2 += f[i] * f[i];
        }
        n_all += n;
    }
    CHECK_NEAR(rig_true_force(r), 90.0, 1e-9);       /* still resisting, flat */
    CHECK_INT(n_all, 5000);
    mean = sum / (double)n_all;
    sd = sqrt(sum2 / (double)n_all - mean * mean);
    CHECK_NEAR(mean, 90.0, 0.1);                     /* 5 standard errors */
    CHECK_NEAR(sd, 2.0, 0.1);
    rig_close(r);
}

TEST(loadcell_quantises_to_resolution)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;
    double t[RIG_QUEUE], f[RIG_QUEUE];
    int n, off_step = 0, distinct = 0;
    double seen[64];

    rig_defaults(&rp);
    rp.lc_noise_n = 1.0;
    rp.lc_resolution_n = 0.5;
    r = rig_open(&rp, &ap, &judge);
    rig_advance(r, 5.0);
    n = rig_take_force(r, t, f, RIG_QUEUE);
    CHECK_INT(n, 400);
    for (int i = 0; i < n; i++) {
        double steps = f[i] / 0.5;
        bool known = false;
        off_step += fabs(steps - round(steps)) > 1e-9;
        for (int k = 0; k < distinct; k++)
            known = known || seen[k] == f[i];
        if (!known && distinct < 64)
            seen[distinct++] = f[i];
    }
    CHECK_INT(off_step, 0);
    CHECK(distinct >= 7);                            /* +-2 sd of 1 N spans 9 steps */
    rig_close(r);
}

TEST(spikes_are_single_samples_at_the_configured_rate)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;
    double t[RIG_QUEUE], f[RIG_QUEUE];
    long spikes = 0, pairs = 0, bad_height = 0, total = 0;
    bool prev_spike = false;

    rig_defaults(&rp);
    rp.lc_rate_hz = 80.0;
    rp.lc_noise_n = 0.5;
    ap.spike_rate_hz = 0.5;
    ap.spike_n = 300.0;
    r = rig_open(&rp, &ap, &judge);
    for (long k = 1; k <= 2000; k++) {
        int n;
        rig_advance(r, (double)k);
        n = rig_take_force(r, t, f, RIG_QUEUE);
        for (int i = 0; i < n; i++) {
            bool spike = f[i] > 150.0;
            spikes += spike;
            pairs += spike && prev_spike;
            bad_height += spike ? fabs(f[i] - 300.0) > 3.0 : fabs(f[i]) > 3.0;
            prev_spike = spike;
        }
        total += n;
    }
    CHECK_INT(total, 2000 * 80);
    CHECK_NEAR(spikes, 1000, 130);                   /* ~4 sd of a binomial(160000, 1/160) */
    CHECK(pairs <= 20);                              /* only by chance: ~6 expected */
    CHECK_INT(bad_height, 0);                        /* one sample: +spike_n, nothing else */
    rig_close(r);
}

TEST(full_queues_drop_the_oldest_and_count)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;
    double t[RIG_QUEUE], f[RIG_QUEUE];
    int n;

    rig_defaults(&rp);
    rp.lc_rate_hz = 80.0;
    r = rig_open(&rp, &ap, &judge);
    rig_advance(r, 10.0);                            /* 800 samples, nobody takes them */
    CHECK_INT(rig_dropped(r), 800 - RIG_QUEUE);
    n = rig_take_force(r, t, f, RIG_QUEUE);
    CHECK_INT(n, RIG_QUEUE);
    CHECK_NEAR(t[0], (800.0 - RIG_QUEUE + 1.0) / 80.0, 1e-12);
    CHECK_NEAR(t[n - 1], 10.0, 1e-12);
    CHECK_INT(rig_take_force(r, t, f, RIG_QUEUE), 0);
    rig_close(r);
}

/* ---- the athlete's strokes --------------------------------------------------------- */

/* plain athlete at 0.3 m/s: a stroke's peak is at full reach, just before the lift:
 * 45 x (1 + 0.3/2) + 150 x 0.3 = 96.75 N. Travel from contact (~0.06 s into placing)
 * to release (0.876 x 0.15 s into lifting) is reach - 0.018 + 0.039 m. */
TEST(strokes_at_constant_speed_travel_reach_and_peak)
{
    struct athlete_params p = plain();
    struct athlete *a = athlete_at_speed(&p, &judge, 0.3, 30.0, 1);
    const struct stroke_record *s;
    int n;

    s = athlete_strokes(a, &n);
    CHECK(n >= 10);
    for (int i = 0; i < n; i++) {
        CHECK_INT(s[i].index, i);
        CHECK(!s[i].partial);
        CHECK_NEAR(s[i].peak_n, 45.0 * 1.15 + 150.0 * 0.3, 0.05);
        CHECK_NEAR(s[i].travel_m, 0.45 - 0.018 + 0.039, 0.004);
        CHECK_NEAR(s[i].travel_m, 0.3 * s[i].duration_s, 1e-6);
        CHECK_NEAR(s[i].duration_s, s[i].t_release - s[i].t_contact, 1e-12);
        CHECK(s[i].valid);
    }
    athlete_close(a);
}

TEST(normal_athlete_strokes_vary_within_its_parameters)
{
    struct athlete_params p = silent_normal();
    struct athlete *a;
    const struct stroke_record *s;
    int n, full = 0;

    p.fatigue_per_rep = 0.0;                         /* fatigue has its own test */
    a = athlete_at_speed(&p, &judge, 0.3, 40.0, 7);
    s = athlete_strokes(a, &n);
    CHECK(n >= 12);
    for (int i = 0; i < n; i++) {
        if (s[i].partial)
            continue;
        full++;
        /* reach +- reach_var, plus ~0.02 m net for the ramps */
        CHECK(s[i].travel_m > 0.40 - 0.01 && s[i].travel_m < 0.50 + 0.04);
        /* effort +-20 %, shape 1.15 at the end, speed 45 N, tremor +-2 N */
        CHECK(s[i].peak_n > 45.0 * 0.8 * 1.15 + 45.0 - 2.5);
        CHECK(s[i].peak_n < 45.0 * 1.2 * 1.15 + 45.0 + 2.5);
    }
    CHECK(full >= 10);
    athlete_close(a);
}

TEST(fatigue_lowers_each_stroke_within_a_set)
{
    struct athlete_params p = plain();
    struct athlete *a;
    const struct stroke_record *s;
    int n;

    p.fatigue_per_rep = 0.02;
    a = athlete_at_speed(&p, &judge, 0.3, 30.0, 1);
    s = athlete_strokes(a, &n);
    CHECK(n >= 10);
    for (int i = 0; i < n; i++)
        CHECK_NEAR(s[i].peak_n, 45.0 * (1.0 - 0.02 * i) * 1.15 + 45.0, 0.05);
    athlete_close(a);
}

TEST(partial_strokes_are_flagged_and_invalid)
{
    struct athlete_params p = plain();
    struct athlete *a;
    const struct stroke_record *s;
    int n;

    p.partial_prob = 1.0;
    a = athlete_at_speed(&p, &judge, 0.3, 20.0, 3);
    s = athlete_strokes(a, &n);
    CHECK(n >= 8);
    for (int i = 0; i < n; i++) {
        CHECK(s[i].partial);
        CHECK_NEAR(s[i].travel_m, 0.12 - 0.018 + 0.035, 0.01);
        CHECK(s[i].travel_m < judge.min_travel_m);
        CHECK(!s[i].valid);
    }
    athlete_close(a);

    p.partial_prob = 0.3;                            /* a mix: about 30 % */
    a = athlete_at_speed(&p, &judge, 0.3, 300.0, 5);
    s = athlete_strokes(a, &n);
    {
        int partial = 0;
        for (int i = 0; i < n; i++) {
            partial += s[i].partial;
            CHECK(s[i].valid == !s[i].partial);
        }
        CHECK(n > 100);
        CHECK_NEAR((double)partial / n, 0.3, 0.12);
    }
    athlete_close(a);
}

/* effort 50 N, no shape, speed_gain 100 at 0.2 m/s: steady 70 N, in the band
 * [60, 100]. Placing starts at tp = 0.001 (the first step), the force is
 * ramp x 70 with ramp linear over place_s = 0.25 s up and lift_s = 0.15 s down, so:
 *   contact (20 N)    tc = tp + 0.25 x 20/70
 *   first in band     tb = tp + 0.25 x 60/70
 *   lift starts       tl = tp + 0.3 m / 0.2 m/s = tp + 1.5
 *   leaves the band   tl + 0.15 x 10/70
 *   release (12 N)    tl + 0.15 x 58/70
 * The judged window runs from tc + landing_s to tl; the climb from contact to the
 * floor counts as out, so with landing_s = 0 the share is (tl - tb) / (tl - tc) = 0.9,
 * with 0.1 s it is (tl - tb) / (tl - tc - 0.1) = 0.968, and with 0.3 s the window
 * starts in band: 1. */
TEST(in_band_share_worked_by_hand)
{
    struct athlete_params p = plain();
    struct athlete_judge j = judge;
    struct athlete *a;
    const struct stroke_record *s;
    double tp = 0.001, tl = tp + 1.5, tc, t_band, t_out, t_rel;
    static const double landing[] = {0.0, 0.1, 0.3};
    int n;

    p.effort_n = 50.0;
    p.shape_slope = 0.0;
    p.speed_gain = 100.0;
    p.reach_m = 0.3;
    tc = tp + 0.25 * 20.0 / 70.0;
    t_band = tp + 0.25 * 60.0 / 70.0;
    t_out = tl + 0.15 * 10.0 / 70.0;
    t_rel = tl + 0.15 * 58.0 / 70.0;
    for (int i = 0; i < 3; i++) {
        double w0 = tc + landing[i], in = tl - (w0 > t_band ? w0 : t_band);

        j.landing_s = landing[i];
        a = athlete_at_speed(&p, &j, 0.2, 2.0, 1);
        s = athlete_strokes(a, &n);
        CHECK_INT(n, 1);
        CHECK_NEAR(s[0].t_contact, tc, 1e-9);
        CHECK_NEAR(s[0].t_lift, tl, 1.5e-3);         /* tl is on the 1 ms grid */
        CHECK_NEAR(s[0].t_release, t_rel, 1.5e-3);
        CHECK_NEAR(s[0].t_release - s[0].t_lift, 0.15 * 58.0 / 70.0, 1e-9);
        CHECK_NEAR(s[0].window_s, tl - w0, 1.5e-3);
        CHECK_NEAR(s[0].window_in_band_s, in, 1.5e-3);
        CHECK_NEAR(s[0].in_band_share, s[0].window_in_band_s / s[0].window_s, 1e-12);
        CHECK_NEAR(s[0].in_band_share, in / (tl - w0), 1e-3);
        /* the informative figures: from the first band to release, as before */
        CHECK_NEAR(s[0].t_first_band, t_band, 1e-9);
        CHECK_NEAR(s[0].in_band_s, t_out - t_band, 1.5e-3);
        CHECK_NEAR(s[0].peak_n, 70.0, 1e-9);
        CHECK_NEAR(s[0].effort_n, 50.0, 0.0);
        CHECK(s[0].valid);
        athlete_close(a);
    }
    CHECK_NEAR((tl - t_band) / (tl - tc), 0.9, 1e-12);
    j = judge;

    /* the same stroke against a band it never reaches: share 0, out of band */
    {
        j.force_low = 80.0;
        a = athlete_at_speed(&p, &j, 0.2, 2.0, 1);
        s = athlete_strokes(a, &n);
        CHECK_INT(n, 1);
        CHECK_NEAR(s[0].t_first_band, -1.0, 0.0);
        CHECK_NEAR(s[0].in_band_share, 0.0, 0.0);
        CHECK(!s[0].valid);
        athlete_close(a);
    }
}

/* A stroke whose force fades below release_n with the foot still down (the belt slows
 * under a light foot): the window ends at the release, the time under the floor
 * counts as out, and a landing longer than the stroke leaves an empty window: 0. */
TEST(strict_window_without_a_lift_and_empty_window)
{
    struct athlete_params p = plain();
    struct athlete_judge j = judge;
    struct athlete *a;
    const struct stroke_record *s;
    unsigned b = 0;
    int n;

    p.shape_slope = 0.0;
    p.speed_gain = 100.0;
    p.reach_m = 5.0;                                 /* never reached here */
    /* a light foot: 5 N effort, 100 N/(m/s); 0.2 m/s gives 25 N (> contact), 0.05 m/s
     * 10 N (< release): the stroke ends without a lift */
    p.effort_n = 5.0;
    j.landing_s = 0.25;
    j.force_low = 22.0;
    a = athlete_open(&p, &j, 1, 10);
    for (long k = 1; k <= 2000; k++) {
        double t = (double)k * DT, v = t <= 1.0 ? 0.2 : 0.05;
        athlete_step(a, t, DT, v, &b);
    }
    s = athlete_strokes(a, &n);
    CHECK_INT(n, 1);
    if (n == 1) {
        double tc = 0.001 + 0.25 * 20.0 / 25.0, tb = 0.001 + 0.25 * 22.0 / 25.0;

        CHECK_NEAR(s[0].t_contact, tc, 1e-9);
        CHECK_NEAR(s[0].t_release, 1.001, 1e-3);     /* the force drops in one step */
        CHECK_NEAR(s[0].t_lift, s[0].t_release, 0.0);
        CHECK_NEAR(s[0].window_s, s[0].t_release - tc - 0.25, 1e-12);
        /* in band from tb (before the window opens at tc + 0.25 = 0.451) to the drop */
        CHECK(tb < tc + 0.25);
        CHECK_NEAR(s[0].window_in_band_s, 1.0 - (tc + 0.25), 1e-3);
        CHECK_NEAR(s[0].in_band_share, 1.0, 2e-3);
    }
    athlete_close(a);
    /* the same stroke judged with a landing longer than the stroke: empty window */
    j.landing_s = 1.0;
    a = athlete_open(&p, &j, 1, 10);
    for (long k = 1; k <= 2000; k++) {
        double t = (double)k * DT, v = t <= 1.0 ? 0.2 : 0.05;
        athlete_step(a, t, DT, v, &b);
    }
    s = athlete_strokes(a, &n);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_NEAR(s[0].window_s, 0.0, 0.0);
        CHECK_NEAR(s[0].window_in_band_s, 0.0, 0.0);
        CHECK_NEAR(s[0].in_band_share, 0.0, 0.0);
        CHECK(!s[0].valid);
    }
    athlete_close(a);
}

/* A stroke that goes under the floor inside the window: that time counts as out. */
TEST(strict_window_counts_time_under_the_floor_as_out)
{
    struct athlete_params p = plain();
    struct athlete *a;
    const struct stroke_record *s;
    unsigned b = 0;
    int n;

    p.effort_n = 50.0;
    p.shape_slope = 0.0;
    p.speed_gain = 100.0;
    p.reach_m = 0.25;          /* 0.2 x 0.5 + 0.05 x 0.5 + 0.2 x 0.5 = 0.225: lifts at 1.626 */
    p.place_s = 0.0;           /* 70 N from the first step: contact at once */
    a = athlete_open(&p, &judge, 1, 10);
    /* 0.2 m/s (70 N, in) to 0.5 s, 0.05 m/s (55 N, under the floor) to 1.0 s, then
     * 0.2 again until the reach */
    for (long k = 1; k <= 3000; k++) {
        double t = (double)k * DT, v = t <= 0.5 || t > 1.0 ? 0.2 : 0.05;
        athlete_step(a, t, DT, v, &b);
    }
    s = athlete_strokes(a, &n);
    CHECK_INT(n, 1);
    if (n == 1) {
        double win = s[0].t_lift - s[0].t_contact;

        CHECK_NEAR(s[0].window_s, win, 1e-12);
        /* out for the 0.5 s at 55 N (the force steps in one 1 ms step each way) */
        CHECK_NEAR(s[0].window_in_band_s, win - 0.5, 2e-3);
        CHECK_NEAR(s[0].in_band_share, (win - 0.5) / win, 2e-3);
        CHECK_NEAR(s[0].t_lift, 0.001 + 0.5 + 0.5 + 0.125 / 0.2, 2e-3);
    }
    athlete_close(a);
}

/* ---- the force law, reaction, pre-drawn strokes ------------------------------------ */

TEST(force_model_linear_and_power_laws)
{
    struct athlete_params p = plain();

    /* linear: effort x (1 - 0.15 + 0.3 x progress) + 150 v */
    CHECK_NEAR(athlete_force_model(&p, 50.0, 0.5, 0.2), 50.0 + 30.0, 1e-12);
    CHECK_NEAR(athlete_force_model(&p, 50.0, 0.0, 0.0), 50.0 * 0.85, 1e-12);
    CHECK_NEAR(athlete_force_model(&p, 50.0, 2.0, 0.0), 50.0 * 1.15, 1e-12); /* clamped */
    CHECK_NEAR(athlete_force_model(&p, 50.0, -1.0, -0.1), 50.0 * 0.85, 1e-12);
    /* power: 250 x 0.3 x (v / 0.3)^0.5 */
    p.speed_law = ATHLETE_LAW_POWER;
    p.speed_exp = 0.5;
    p.speed_gain = 250.0;
    p.shape_slope = 0.0;
    CHECK_NEAR(athlete_force_model(&p, 0.0, 0.5, 0.075), 37.5, 1e-12);
    CHECK_NEAR(athlete_force_model(&p, 0.0, 0.5, 0.3), 75.0, 1e-12);   /* = linear at V_REF */
    CHECK_NEAR(athlete_force_model(&p, 10.0, 0.5, 1.2), 10.0 + 150.0, 1e-12);
    CHECK_NEAR(athlete_force_model(&p, 10.0, 0.5, 0.0), 10.0, 0.0);
    CHECK_NEAR(athlete_force_model(&p, 10.0, 0.5, -0.2), 10.0, 0.0);
    p.speed_exp = 1.0;                               /* exponent 1: the linear law */
    CHECK_NEAR(athlete_force_model(&p, 0.0, 0.5, 0.12), 250.0 * 0.12, 1e-12);
}

/* Step a plain athlete (no shape, effort 40 N, reach 5 m) at 0.2 m/s to 0.5 s, then 0.4
 * m/s; return the force at each ms (f[k] at t = k ms). */
static void speed_step(struct athlete_params *p, double *f, long steps)
{
    struct athlete *a;
    unsigned b = 0;

    p->effort_n = 40.0;
    p->shape_slope = 0.0;
    p->reach_m = 5.0;
    a = athlete_open(p, &judge, 1, 10);
    for (long k = 1; k <= steps; k++) {
        double t = (double)k * DT;
        f[k] = athlete_step(a, t, DT, k < 500 ? 0.2 : 0.4, &b);
    }
    athlete_close(a);
}

TEST(power_law_and_reaction_delay_in_the_force)
{
    struct athlete_params p = plain();
    static double f[1001];

    /* linear, reaction 0.15 s: the speed term answers the step at 0.5 s at 0.65 s */
    p.speed_gain = 100.0;
    p.reaction_s = 0.15;
    speed_step(&p, f, 1000);
    CHECK_NEAR(f[300], 40.0 + 20.0, 1e-9);           /* placed (0.25 s), 0.2 m/s seen */
    CHECK_NEAR(f[600], 40.0 + 20.0, 1e-9);           /* 0.1 s after the step: not yet */
    CHECK_NEAR(f[649], 40.0 + 20.0, 1e-9);
    CHECK_NEAR(f[651], 40.0 + 40.0, 1e-9);           /* now it has */
    CHECK_NEAR(f[900], 40.0 + 40.0, 1e-9);
    /* no reaction: at once */
    p.reaction_s = 0.0;
    speed_step(&p, f, 1000);
    CHECK_NEAR(f[499], 60.0, 1e-9);
    CHECK_NEAR(f[500], 80.0, 1e-9);
    /* power law, exponent 0.5, 250 N/(m/s) at V_REF, reaction 0.2 s */
    p.speed_law = ATHLETE_LAW_POWER;
    p.speed_exp = 0.5;
    p.speed_gain = 250.0;
    p.reaction_s = 0.2;
    speed_step(&p, f, 1000);
    CHECK_NEAR(f[400], 40.0 + 75.0 * sqrt(0.2 / 0.3), 1e-9);
    CHECK_NEAR(f[699], 40.0 + 75.0 * sqrt(0.2 / 0.3), 1e-9);
    CHECK_NEAR(f[701], 40.0 + 75.0 * sqrt(0.4 / 0.3), 1e-9);
    /* the ring reaches back the whole 0.5 s allowed */
    p.reaction_s = 0.5;
    speed_step(&p, f, 1000);
    CHECK_NEAR(f[999], 40.0 + 75.0 * sqrt(0.2 / 0.3), 1e-9);
    CHECK_NEAR(f[1000], 40.0 + 75.0 * sqrt(0.4 / 0.3), 1e-9);
}

/* The effort forecast from the moment the previous stroke begins lifting (and at
 * creation) is exactly the effort the stroke is placed with, for every stroke. */
TEST(pre_drawn_effort_is_the_effort_placed)
{
    struct athlete_params p = silent_normal();
    struct athlete *a;
    const struct stroke_record *s;
    static double want[200];
    unsigned b = 0;
    int n = 0, seen = 0, unstable = 0, differ = 0;

    p.effort_var = 0.3;
    p.fatigue_per_rep = 0.01;
    a = athlete_open(&p, &judge, 11, 200);
    CHECK(athlete_next_effort(a, &want[0]));
    CHECK(!athlete_next_effort(NULL, &want[1]) && !athlete_next_effort(a, NULL));
    for (long k = 1; k <= 150000 && seen < 199; k++) {
        double e;

        athlete_step(a, (double)k * DT, DT, 0.3, &b);
        athlete_strokes(a, &n);
        if (n > seen) {                              /* released: the foot is lifting */
            seen = n;
            athlete_next_effort(a, &want[seen]);
        }
        athlete_next_effort(a, &e);
        if (!athlete_loaded(a))                      /* the forecast holds until placed */
            unstable += e != want[seen];
    }
    s = athlete_strokes(a, &n);
    CHECK(n >= 40);
    CHECK_INT(unstable, 0);
    for (int i = 0; i < n; i++) {
        double fat = 1.0 - 0.01 * i;

        CHECK_NEAR(s[i].effort_n, want[i], 0.0);
        CHECK(s[i].effort_n >= 45.0 * 0.7 * fat - 1e-9 && s[i].effort_n <= 45.0 * 1.3 * fat);
        differ += i > 0 && s[i].effort_n != s[i - 1].effort_n;
    }
    CHECK(differ > n / 2);
    athlete_close(a);
}

TEST(strokes_beyond_the_record_room_are_counted_as_dropped)
{
    struct athlete_params p = plain();
    struct athlete *a = athlete_open(&p, &judge, 1, 3);
    unsigned b = 0;
    int n;

    for (long k = 1; k <= 30000; k++)
        athlete_step(a, (double)k * DT, DT, 0.3, &b);
    athlete_strokes(a, &n);
    CHECK_INT(n, 3);
    CHECK(athlete_strokes_dropped(a) >= 7);
    athlete_close(a);
}

/* Run the belt at 0.3 m/s until the first stroke ends, then brake at drive_accel
 * while the foot is off: does the athlete put the foot down within the next 10 s? */
static bool places_while_braking(double drive_accel, double *v_at_place)
{
    struct rig_params rp;
    struct athlete_params ap = plain();
    struct rig *r;
    bool was_loaded = false, placed = false;

    rig_defaults(&rp);
    rp.drive_accel = drive_accel;
    r = rig_open(&rp, &ap, &judge);
    rig_set_speed(r, 0.3);
    for (long k = 1; k < 20000; k++) {
        rig_advance(r, (double)k * DT);
        if (athlete_loaded(rig_athlete(r)))
            was_loaded = true;
        else if (was_loaded)
            break;
    }
    CHECK(was_loaded);
    CHECK_NEAR(rig_belt_speed(r), 0.3, 1e-9);
    rig_set_speed(r, 0.0);
    for (long k = 1; k <= 10000 && !placed; k++) {
        rig_advance(r, rig_now(r) + DT);
        placed = athlete_loaded(rig_athlete(r));
        *v_at_place = rig_belt_speed(r);
    }
    rig_close(r);
    return placed;
}

/* The foot goes down only on a belt that runs (> 0.05 m/s) and is not slowing by more
 * than 0.2 m/s^2. */
TEST(never_places_on_a_stopped_or_stopping_belt)
{
    struct athlete_params ap = plain();
    struct athlete *a;
    double v = -1.0;

    CHECK(!places_while_braking(0.5, &v));           /* stopping: waits it out ... */
    CHECK_NEAR(v, 0.0, 0.0);                         /* ... and stays off once stopped */
    CHECK(places_while_braking(0.1, &v));            /* a gentle slow-down: steps on */
    CHECK(v > 0.1 && v < 0.3);
    a = athlete_at_speed(&ap, &judge, 0.045, 20.0, 1); /* a crawling belt: never */
    CHECK(!athlete_loaded(a));
    CHECK(athlete_strokes(a, &(int){0}) != NULL);
    athlete_close(a);
}

TEST(lifts_when_the_belt_stops_mid_stroke)
{
    struct athlete_params p = plain();
    struct athlete *a = athlete_open(&p, &judge, 1, 10);
    unsigned b = 0;
    const struct stroke_record *s;
    long k;
    int n;

    for (k = 1; k <= 800; k++)                       /* 0.8 s into the stroke */
        athlete_step(a, (double)k * DT, DT, 0.3, &b);
    CHECK(athlete_loaded(a));
    for (; k <= 1100; k++)                           /* the belt is stopped under it */
        athlete_step(a, (double)k * DT, DT, 0.0, &b);
    CHECK(!athlete_loaded(a));
    s = athlete_strokes(a, &n);
    CHECK_INT(n, 1);
    CHECK_NEAR(s[0].travel_m, 0.3 * (0.8 - s[0].t_contact), 0.002);
    CHECK(s[0].t_release < 0.8 + 0.15 + 0.002);
    athlete_close(a);
}

/* ---- reactive mode ----------------------------------------------------------------- */

static struct athlete_params reactive(void)
{
    struct athlete_params p = plain();

    p.reactive = 1;
    p.sessions = 1;             /* it presses start at start_delay_s: a set may run */
    return p;
}

struct reactive_log {
    int placements;             /* times the foot went down */
    double first_place_t;       /* s, -1: never */
    double first_place_v;       /* m/s, belt speed then */
};

/* Step a reactive athlete for `seconds`; the belt runs at v_run while the true force is
 * above engage (an instant reactive controller; engage < 0: the belt never moves). */
static struct reactive_log run_reactive(struct athlete *a, double engage, double v_run,
                                        double seconds)
{
    struct reactive_log log = {0, -1.0, -1.0};
    unsigned b = 0;
    double v = 0.0;
    bool was_loaded = false;

    for (long k = 1; (double)k * DT <= seconds; k++) {
        double f = athlete_step(a, (double)k * DT, DT, v, &b);
        bool loaded = athlete_loaded(a);

        if (loaded && !was_loaded && log.placements++ == 0) {
            log.first_place_t = (double)k * DT;
            log.first_place_v = v;
        }
        was_loaded = loaded;
        v = engage >= 0.0 && f > engage ? v_run : 0.0;
    }
    return log;
}

TEST(reactive_places_on_a_stopped_belt_and_rides_it)
{
    struct athlete_params p = reactive();
    struct athlete *a = athlete_open(&p, &judge, 1, 100);
    struct reactive_log log = run_reactive(a, 25.0, 0.3, 8.0);
    const struct stroke_record *s;
    int n;

    CHECK(log.first_place_t >= p.start_delay_s);      /* not before it pressed start */
    CHECK(log.first_place_t < p.start_delay_s + 0.1);
    CHECK(log.first_place_v == 0.0);
    s = athlete_strokes(a, &n);
    CHECK(n >= 2);
    CHECK_INT(n, log.placements - athlete_loaded(a));
    for (int i = 0; i < n; i++) {
        /* its reach, plus what the belt runs while the foot comes off */
        CHECK(s[i].travel_m > p.reach_m - 0.005);
        CHECK(s[i].travel_m < p.reach_m + 0.3 * p.lift_s + 0.005);
        CHECK(s[i].valid == (s[i].in_band_share >= judge.min_in_band));
    }
    athlete_close(a);
}

TEST(reactive_attempt_on_a_belt_that_never_moves_is_not_recorded)
{
    struct athlete_params p = reactive();
    struct athlete *a = athlete_open(&p, &judge, 1, 100);
    struct reactive_log log = run_reactive(a, -1.0, 0.0, 12.0);
    int n;

    CHECK(log.first_place_v == 0.0);
    /* held 1.5 s, lifted, repositioned (0.6..1.2 s), again: from 2 s to 12 s, 3 or more */
    CHECK(log.placements >= 3);
    athlete_strokes(a, &n);
    CHECK_INT(n, 0);
    CHECK_INT(athlete_strokes_dropped(a), 0);
    athlete_close(a);
}

TEST(continuous_athlete_never_places_on_a_stopped_belt_after_start)
{
    struct athlete_params p = reactive();
    struct athlete *a;

    p.reactive = 0;
    a = athlete_open(&p, &judge, 1, 100);
    CHECK_INT(run_reactive(a, -1.0, 0.0, 12.0).placements, 0);
    athlete_close(a);
}

/* ---- buttons ----------------------------------------------------------------------- */

struct press_log {
    double press[16], stop[16];
    int n_press, n_stop;
};

/* Play the controller: start the belt on the second press of each wait (the first is
 * ignored once, to see the athlete press again 2 s later), run 8 s, stop. */
static struct press_log play_sets(struct rig *r, double until)
{
    struct press_log log = {{0}, {0}, 0, 0};
    double run_until = -1.0;
    bool running = false, ignored_once = false;

    for (long k = 1; (double)k * DT <= until; k++) {
        double t = (double)k * DT;
        rig_advance(r, t);
        if (rig_take_buttons(r) & ATHLETE_BTN_START) {
            if (log.n_press < 16)
                log.press[log.n_press++] = rig_now(r);
            if (!ignored_once) {
                ignored_once = true;
            } else if (!running) {
                rig_set_speed(r, 0.3);
                running = true;
                run_until = t + 8.0;
            }
        }
        if (running && t >= run_until) {
            rig_set_speed(r, 0.0);
            running = false;
        }
        if (!running && rig_belt_speed(r) < 0.01 && run_until > 0.0) {
            if (log.n_stop < 16)
                log.stop[log.n_stop++] = rig_now(r);
            run_until = -1.0;
        }
    }
    return log;
}

TEST(button_presses_follow_sets_and_sessions)
{
    struct rig_params rp;
    struct athlete_params ap;
    struct rig *r;
    struct press_log L;
    const struct stroke_record *s;
    int n, in_s1 = 0, in_s2 = 0;

    athlete_defaults(&ap);
    ap.start_delay_s = 2.0;
    ap.rest_wait_s = 10.0;
    ap.session_gap_s = 100.0;
    ap.sets_per_session = 2;
    ap.sessions = 2;
    rig_defaults(&rp);
    r = rig_open(&rp, &ap, &judge);
    L = play_sets(r, 600.0);
    CHECK_INT(L.n_stop, 4);
    CHECK_INT(L.n_press, 5);                         /* nothing after the 2nd session */
    CHECK_NEAR(L.press[0], 2.0, 1.5e-3);             /* start_delay_s */
    CHECK_NEAR(L.press[1], 4.0, 1.5e-3);             /* again 2 s later: belt still stopped */
    CHECK_NEAR(L.press[2], L.stop[0] + 10.0, 1.5e-3);  /* rest_wait_s */
    CHECK_NEAR(L.press[3], L.stop[1] + 100.0, 1.5e-3); /* session_gap_s after the last set */
    CHECK_NEAR(L.press[4], L.stop[2] + 10.0, 1.5e-3);
    s = athlete_strokes(rig_athlete(r), &n);
    CHECK(n >= 8);
    for (int i = 0; i < n; i++) {
        int want = s[i].t_contact < L.press[3] ? 1 : 2;
        CHECK_INT(s[i].session, want);
        in_s1 += want == 1;
        in_s2 += want == 2;
    }
    CHECK(in_s1 > 0 && in_s2 > 0);
    rig_close(r);
}

/* ---- determinism ------------------------------------------------------------------- */

struct run_out {
    struct stroke_record rec[64];
    int n;
    double sample_sum;
};

static struct run_out run_seed(unsigned seed)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;
    struct run_out out;
    const struct stroke_record *s;
    double t[RIG_QUEUE], f[RIG_QUEUE];

    memset(&out, 0, sizeof out);
    rig_defaults(&rp);
    rp.seed = seed;
    ap.spike_rate_hz = 1.0;
    ap.spike_n = 300.0;
    r = rig_open(&rp, &ap, &judge);
    rig_set_speed(r, 0.3);
    for (long k = 1; k <= 6000; k++) {
        int n;
        rig_advance(r, (double)k * CALL);
        n = rig_take_force(r, t, f, RIG_QUEUE);
        for (int i = 0; i < n; i++)
            out.sample_sum += f[i] * (double)(i + 1);
    }
    s = athlete_strokes(rig_athlete(r), &out.n);
    if (out.n > 64)
        out.n = 64;
    memcpy(out.rec, s, (size_t)out.n * sizeof *s);
    rig_close(r);
    return out;
}

static bool same_record(const struct stroke_record *x, const struct stroke_record *y)
{
    return x->index == y->index && x->session == y->session && x->partial == y->partial &&
           x->t_contact == y->t_contact && x->t_release == y->t_release &&
           x->duration_s == y->duration_s && x->travel_m == y->travel_m &&
           x->peak_n == y->peak_n && x->t_first_band == y->t_first_band &&
           x->in_band_s == y->in_band_s && x->in_band_share == y->in_band_share &&
           x->valid == y->valid && x->effort_n == y->effort_n && x->t_lift == y->t_lift &&
           x->window_s == y->window_s && x->window_in_band_s == y->window_in_band_s;
}

TEST(same_seed_same_run_other_seed_other_run)
{
    struct run_out a = run_seed(42), b = run_seed(42), c = run_seed(43);
    bool differ = false;

    CHECK(a.n >= 15);
    CHECK_INT(a.n, b.n);
    for (int i = 0; i < a.n && i < b.n; i++)
        CHECK(same_record(&a.rec[i], &b.rec[i]));
    CHECK(a.sample_sum == b.sample_sum);
    for (int i = 0; i < a.n && i < c.n; i++)
        differ = differ || a.rec[i].peak_n != c.rec[i].peak_n;
    CHECK(differ);
    CHECK(a.sample_sum != c.sample_sum);
}

/* ---- scenario files ---------------------------------------------------------------- */

TEST(every_scenario_file_loads)
{
    static const char *const names[] = {"normal", "strong", "weak", "partial", "spiky",
                                        "hard", "hill", "day"};
    struct athlete_params p[8], def;
    char path[64], err[256];

    for (int i = 0; i < 8; i++) {
        athlete_defaults(&p[i]);
        snprintf(path, sizeof path, "sim/scenarios/%s.ini", names[i]);
        err[0] = '\0';
        CHECK_INT(athlete_load(&p[i], path, err, sizeof err), 0);
        if (err[0])
            printf("  %s\n", err);
        CHECK(strcmp(p[i].name, names[i]) == 0);
    }
    athlete_defaults(&def);
    CHECK(memcmp(&p[0], &def, sizeof def) == 0);     /* athlete_defaults = normal.ini */
    CHECK_NEAR(p[1].effort_n, 60.0, 0.0);
    CHECK_NEAR(p[1].effort_var, 0.15, 0.0);
    CHECK_NEAR(p[2].effort_n, 15.0, 0.0);
    CHECK_NEAR(p[3].partial_prob, 0.3, 0.0);
    CHECK_NEAR(p[4].spike_rate_hz, 0.5, 0.0);
    CHECK_NEAR(p[4].spike_n, 300.0, 0.0);
    CHECK_INT(p[0].sets_per_session, 3);
    CHECK_NEAR(p[0].session_gap_s, 36000.0, 0.0);
    CHECK_INT(p[5].speed_law, ATHLETE_LAW_LINEAR);   /* hard */
    CHECK_NEAR(p[5].effort_var, 0.3, 0.0);
    CHECK_NEAR(p[5].reaction_s, 0.15, 0.0);
    CHECK_NEAR(p[5].place_s, 0.2, 0.0);
    CHECK_NEAR(p[5].speed_gain, 150.0, 0.0);
    CHECK_INT(p[6].speed_law, ATHLETE_LAW_POWER);    /* hill */
    CHECK_NEAR(p[6].speed_exp, 0.5, 0.0);
    CHECK_NEAR(p[6].speed_gain, 250.0, 0.0);
    CHECK_NEAR(p[6].effort_var, 0.25, 0.0);
    CHECK_NEAR(p[6].reaction_s, 0.2, 0.0);
}

/* Write text to a temporary file, load it, return the message (empty on success). */
static int load_text(const char *text, char *path, size_t pathlen, char *err, size_t errlen)
{
    struct athlete_params p;
    int fd, rc;
    FILE *f;

    snprintf(path, pathlen, "/tmp/test_sim_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return -2;
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    athlete_defaults(&p);
    err[0] = '\0';
    rc = athlete_load(&p, path, err, errlen);
    unlink(path);
    return rc;
}

static void check_refused(const char *text, int line, const char *what)
{
    char path[64], err[256], want[128];

    CHECK_INT(load_text(text, path, sizeof path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:%d: %s", path, line, what);
    CHECK_STR_CONTAINS(err, want);
}

TEST(bad_scenario_files_are_refused_with_file_and_line)
{
    char path[64], err[256];

    check_refused("; c\n[athlete]\neffort_x = 3\n", 3, "effort_x: unknown key");
    check_refused("[athlete]\n\neffort_n = 4O\n", 3, "effort_n: '4O' is not a number");
    check_refused("[athlete]\neffort_n = nan\n", 2, "effort_n: 'nan' is not a number");
    check_refused("[athlete]\nsessions = 1.5\n", 2, "sessions: '1.5' is not a whole");
    check_refused("[athlete]\npartial_prob = 1.5\n", 2, "partial_prob: 1.5 is out of range");
    check_refused("[athlete]\nspeed_law = cubic\n", 2, "speed_law: 'cubic' is not a speed law");
    check_refused("[athlete]\nspeed_exp = 2\n", 2, "speed_exp: 2 is out of range");
    check_refused("[athlete]\nreaction_s = 0.6\n", 2, "reaction_s: 0.6 is out of range");
    check_refused("[athlete]\nreach_m = 0.4\n\n[rig]\n", 4, "[rig]: unknown section");
    check_refused("[athlete]\n[other]\nname = x\n", 2, "[other]: unknown section");
    check_refused("effort_n = 40\n[athlete]\n", 1, "effort_n: outside the [athlete]");
    check_refused("[athlete]\nlift_s = 1\nlift_s = 2\n", 3, "lift_s: given twice");
    check_refused("[athlete]\nplace_s 0.3\n", 2, "syntax");
    check_refused("[athlete]\nname = abcdefghijabcdefghijabcdefghijXY\n", 2, "name: longer");
    check_refused("[athlete]\nreposition_max_s = 0.5\n", 2,
                  "reposition_max_s: reposition_min_s must not exceed");
    check_refused("[athlete]\nreach_var_m = 0.5\nreach_m = 0.4\n", 3,
                  "reach_m: reach_var_m must be less");
    {
        char text[400];
        memset(text, 0, sizeof text);
        strcpy(text, "[athlete]\nname = ");
        memset(text + strlen(text), 'a', 250);
        strcat(text, "\neffort_n = 5\n");
        check_refused(text, 2, "line: longer than");
    }
    /* comments, blank lines, spaces and inline comments are fine */
    CHECK_INT(load_text("# c\n\n[athlete]\n  ; c\neffort_n=50 ; N\nname = x y\n", path,
                        sizeof path, err, sizeof err), 0);
    CHECK_INT(athlete_load(&(struct athlete_params){0}, "/nonexistent/x.ini", err, sizeof err),
              -1);
    CHECK_STR_CONTAINS(err, "/nonexistent/x.ini: ");
}

/* ---- quiet stretches --------------------------------------------------------------- */

TEST(a_quiet_day_in_10ms_calls)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;
    double t[RIG_QUEUE], f[RIG_QUEUE], last = 0.0;
    long total = 0, pulses = 0, out_of_order = 0;

    rig_defaults(&rp);
    rp.lc_rate_hz = 80.0;
    r = rig_open(&rp, &ap, &judge);
    for (long k = 1; k <= 8640000; k++) {
        int n;
        rig_advance(r, (double)k * CALL);
        n = rig_take_force(r, t, f, RIG_QUEUE);
        if (n > 0) {
            out_of_order += t[0] <= last;
            last = t[n - 1];
        }
        total += n;
        pulses += rig_take_pulses(r, t, RIG_QUEUE);
    }
    CHECK_NEAR(rig_now(r), 86400.0, 1e-6);
    CHECK_INT(total, 86400L * 80);
    CHECK_INT(pulses, 0);
    CHECK_INT(out_of_order, 0);
    CHECK_INT(rig_dropped(r), 0);
    rig_close(r);
}

/* The control loop sums its deadlines (next += dt), which drifts off the 1 ms grid by
 * microseconds over hours: the rig still reports the caller's own time, delivers
 * everything in order and never more than one physics step late. */
TEST(a_summed_caller_clock_is_honoured)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;
    double t[RIG_QUEUE], f[RIG_QUEUE], next = 0.0, last = 0.0;
    long total = 0, not_now = 0, late = 0, early = 0;

    rig_defaults(&rp);
    r = rig_open(&rp, &ap, &judge);
    rig_set_speed(r, 0.3);
    for (long k = 1; k <= 360000; k++) {             /* an hour at 100 Hz */
        int n;
        next += CALL;
        rig_advance(r, next);
        not_now += rig_now(r) != next;
        n = rig_take_force(r, t, f, RIG_QUEUE);
        for (int i = 0; i < n; i++) {
            early += t[i] <= last || t[i] > next + 1e-6;
            last = t[i];
        }
        late += next - last > 1.0 / 80.0 + DT + 1e-9;
        total += n;
        rig_take_pulses(r, t, RIG_QUEUE);
    }
    CHECK_INT(not_now, 0);
    CHECK_INT(early, 0);
    CHECK_INT(late, 0);
    CHECK(labs(total - 3600L * 80) <= 1);
    CHECK_INT(rig_dropped(r), 0);
    rig_close(r);
}

TEST(rig_refuses_bad_parameters)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();

    rig_defaults(&rp);
    rp.physics_dt = 0.0;
    CHECK(rig_open(&rp, &ap, &judge) == NULL);
    rig_defaults(&rp);
    rp.lc_rate_hz = -1.0;
    CHECK(rig_open(&rp, &ap, &judge) == NULL);
    rig_defaults(&rp);
    rp.pulses_per_m = NAN;
    CHECK(rig_open(&rp, &ap, &judge) == NULL);
    rig_defaults(&rp);
    rp.drive_dead_s = 0.6;                           /* over RIG_DEAD_MAX_S */
    CHECK(rig_open(&rp, &ap, &judge) == NULL);
    rp.drive_dead_s = -0.1;
    CHECK(rig_open(&rp, &ap, &judge) == NULL);
}

TEST(a_quiet_jump_makes_only_the_last_second_of_samples)
{
    struct rig_params rp;
    struct athlete_params ap = silent_normal();
    struct rig *r;
    double t[RIG_QUEUE], f[RIG_QUEUE];
    int n;

    rig_defaults(&rp);
    r = rig_open(&rp, &ap, &judge);
    REQUIRE(r != NULL);
    CHECK(rig_quiet_until(r) >= 3600.0);     /* a silent athlete: nothing is due */
    rig_quiet_jump(r, 3600.0, 1.0);
    rig_advance(r, 3600.0);
    n = rig_take_force(r, t, f, RIG_QUEUE);
    CHECK_INT(n, 81);                        /* 80 Hz over the last second, both ends */
    CHECK(n > 0 && t[0] > 3599.0 - 1e-9 && t[n - 1] <= 3600.0 + 1e-9);
    CHECK_INT(rig_dropped(r), 0);
    /* with the belt commanded, nothing is quiet: the jump changes nothing */
    rig_set_speed(r, 0.3);
    rig_quiet_jump(r, 3605.0, 1.0);
    rig_advance(r, 3605.0);
    CHECK_INT(rig_take_force(r, t, f, RIG_QUEUE), 400);
    rig_close(r);
}

TESTS(T(a_quiet_jump_makes_only_the_last_second_of_samples),
      T(reactive_places_on_a_stopped_belt_and_rides_it),
      T(reactive_attempt_on_a_belt_that_never_moves_is_not_recorded),
      T(continuous_athlete_never_places_on_a_stopped_belt_after_start),
      T(drive_ramps_at_drive_accel), T(drive_dead_time_delays_then_ramps),
      T(slip_lowers_belt_speed_by_slip_times_force),
      T(pulses_at_constant_speed_are_exactly_spaced), T(pulse_count_matches_distance),
      T(loadcell_samples_on_their_own_grid), T(loadcell_mean_and_noise_match_truth),
      T(loadcell_quantises_to_resolution), T(spikes_are_single_samples_at_the_configured_rate),
      T(full_queues_drop_the_oldest_and_count),
      T(strokes_at_constant_speed_travel_reach_and_peak),
      T(normal_athlete_strokes_vary_within_its_parameters),
      T(fatigue_lowers_each_stroke_within_a_set), T(partial_strokes_are_flagged_and_invalid),
      T(in_band_share_worked_by_hand), T(strict_window_without_a_lift_and_empty_window),
      T(strict_window_counts_time_under_the_floor_as_out),
      T(force_model_linear_and_power_laws), T(power_law_and_reaction_delay_in_the_force),
      T(pre_drawn_effort_is_the_effort_placed),
      T(strokes_beyond_the_record_room_are_counted_as_dropped),
      T(never_places_on_a_stopped_or_stopping_belt), T(lifts_when_the_belt_stops_mid_stroke),
      T(button_presses_follow_sets_and_sessions), T(same_seed_same_run_other_seed_other_run),
      T(every_scenario_file_loads), T(bad_scenario_files_are_refused_with_file_and_line),
      T(a_quiet_day_in_10ms_calls), T(a_summed_caller_clock_is_honoured),
      T(rig_refuses_bad_parameters));

TEST_MAIN("test_sim")
