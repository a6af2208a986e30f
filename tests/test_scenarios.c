/* test_scenarios.c - closed-loop tests: the real loop and controller against the
 * simulated rig, for every athlete scenario and several seeds.
 *
 * For each run they assert, against the athlete's own record (ground truth judged on
 * true force and true travel, never the controller's opinion):
 *   - the session completes: sets_per_session x reps_per_set counted, no fault;
 *   - every stroke the athlete made was seen, and counted exactly when it was valid
 *     (no false and no missed reps);
 *   - the commanded speed never exceeds speed_max nor changes faster than its slew
 *     limit, and the true belt never runs over speed_max;
 *   - time in band (mean share of each stroke from first reaching the band until
 *     release, on the true force) is at least 90% for the normal athlete, and better
 *     closed loop than at fixed speed for every scenario.
 */
#include <stdio.h>

#include "tests/scenario.h"
#include "tests/test.h"

static const unsigned seeds[] = {1, 2, 3, 4, 5};
#define N_SEEDS ((int)(sizeof seeds / sizeof seeds[0]))

static const char *const fixed_mode[] = {"control.mode=fixed", NULL};

static const char *const reactive_mode[] = {"control.mode=reactive", NULL};

static void check_closed_run(const char *scenario, unsigned seed, const char *const *overrides,
                             struct scn_result *r)
{
    const struct ecc_config *cfg = &r->cfg;
    int want;

    REQUIRE(scn_run(scenario, seed, 1, overrides, r) == 0);
    want = cfg->protocol.reps_per_set * cfg->protocol.sets_per_session;
    scn_compare(r, true);
    printf("  %-8s seed %u: %3d strokes (%d valid), %2d counted, %2d rejected, in band %.1f%% "
           "(min %.0f%%), max cmd %.3f m/s, worst slew %.2f m/s^2, %.0f s\n",
           scenario, seed, r->n_truth, r->truth_valid, r->counted, r->rejected,
           100.0 * r->truth_in_band, 100.0 * r->truth_in_band_min, r->max_cmd,
           r->worst_slew, r->t_end);
    CHECK_INT(r->sessions_done, 1);
    CHECK_INT(r->faults, 0);
    CHECK_INT(r->counted, want);
    CHECK_INT(r->n_judged, r->n_truth);
    CHECK_INT(r->truth_valid, r->counted);
    CHECK_INT(r->mismatched, 0);
    CHECK(r->max_cmd <= cfg->limits.speed_max);
    CHECK(r->max_belt <= cfg->limits.speed_max + 1e-9);
    CHECK_INT(r->slew_violations, 0);
    CHECK_INT(r->moved_while_latched, 0);
}

/* Closed loop against fixed speed, same athlete, same seed. */
static void check_scenario(const char *scenario, double min_in_band)
{
    static struct scn_result closed, fixed;

    for (int i = 0; i < N_SEEDS; i++) {
        check_closed_run(scenario, seeds[i], NULL, &closed);
        if (scn_run(scenario, seeds[i], 1, fixed_mode, &fixed) != 0) {
            CHECK(!"fixed-speed run ran");
            continue;
        }
        printf("  %-8s seed %u: fixed speed in band %.1f%%, closed loop %.1f%%\n", scenario,
               seeds[i], 100.0 * fixed.truth_in_band, 100.0 * closed.truth_in_band);
        CHECK(closed.truth_in_band > fixed.truth_in_band);
        CHECK(closed.truth_in_band >= min_in_band);
        CHECK(fixed.max_cmd <= fixed.cfg.limits.speed_max);
        CHECK_INT(fixed.slew_violations, 0);
    }
}

/* A belt sensor that reads half the true speed: the drive's output frequency gives it
 * away; the fault latches, the stroke in progress is not counted, the belt stops. */
TEST(miscalibrated_belt_sensor_latches_speed_disagree)
{
    static const char *const sets[] = {"sim.encoder_scale=2", NULL};
    static struct scn_result r;

    CHECK_INT(scn_run("normal", 1, 1, sets, &r), 0);
    CHECK_INT(r.faults, 1);
    CHECK_INT(r.fault, FAULT_SPEED_DISAGREE);
    printf("  speed_disagree latched at %.2f s (start pressed at 2 s)\n", r.t_fault);
    CHECK(r.t_fault > 2.0 && r.t_fault < 2.0 + 5.0);   /* within seconds of the start */
    CHECK_INT(r.sessions_done, 0);
    CHECK(r.final_cmd == 0.0);
    CHECK_INT(r.moved_while_latched, 0);
}

/* Reactive mode: everything a closed run must do, and the belt moves only while the
 * foot loads it. */
static void check_reactive(const char *scenario)
{
    static struct scn_result r;

    for (unsigned seed = 1; seed <= 3; seed++) {
        check_closed_run(scenario, seed, reactive_mode, &r);
        printf("  %-8s seed %u: reactive, %ld ticks moving while unloaded\n", scenario, seed,
               r.moved_unloaded);
        CHECK_INT(r.moved_unloaded, 0);
    }
}

TEST(normal_athlete) { check_scenario("normal", 0.90); }
TEST(strong_athlete) { check_scenario("strong", 0.0); }
TEST(weak_athlete) { check_scenario("weak", 0.0); }
TEST(partial_strokes) { check_scenario("partial", 0.0); }
TEST(spiky_load_cell) { check_scenario("spiky", 0.0); }
TEST(reactive_normal_athlete) { check_reactive("normal"); }
TEST(reactive_strong_athlete) { check_reactive("strong"); }

/* ---- the hard cell: a slow drive and an erratic patient ------------------------------
 * sim/scenarios/hard.ini on a 0.33 m/s^2 drive with 50 ms dead time, band 60..110 N,
 * one set of 15 (the case issue 11 measured on an independent rig). Judged on the
 * truth: strict time in band (every stroke's loaded window) and valid strokes per 45 s,
 * against every plain treadmill speed from 0.10 to 0.60 m/s on the same seeds. */

#define HARD_SEEDS 5
#define N_FIXED 11

static const char *const hard_cell[] = {
    "sim.drive_accel_mps2=0.33", "sim.drive_dead_time_s=0.05", "drive.accel_time_s=2.525",
    "drive.dead_time_s=0.05", "band.force_low_n=60", "band.force_high_n=110",
    "protocol.sets_per_session=1", NULL};

struct judged { double in_band, per_45s; };

/* Strict time in band and throughput of a run, from the athlete's own record. */
static struct judged judge_truth(const struct scn_result *r)
{
    double win = 0.0, in = 0.0;
    int valid = 0;

    for (int i = 0; i < r->n_truth; i++) {
        win += r->truth[i].window_s;
        in += r->truth[i].window_in_band_s;
        valid += r->truth[i].valid;
    }
    if (r->n_truth < 2 || win <= 0.0)
        return (struct judged){0.0, 0.0};
    return (struct judged){in / win, 45.0 * valid / (r->truth[r->n_truth - 1].t_release -
                                                      r->truth[0].t_contact)};
}

/* The hard cell's overrides plus extra ones (NULL-terminated), into out. */
static void cell_with(const char *const *extra, const char **out, int max)
{
    int n = 0;

    for (const char *const *p = hard_cell; *p && n < max - 1; p++)
        out[n++] = *p;
    for (; extra && *extra && n < max - 1; extra++)
        out[n++] = *extra;
    out[n] = NULL;
}

static struct judged fixed_mean(double mps)
{
    static struct scn_result r;
    char kv[64];
    const char *extra[] = {"control.mode=fixed", kv, NULL}, *ov[16];
    struct judged sum = {0.0, 0.0};

    snprintf(kv, sizeof kv, "control.fixed_speed_mps=%.2f", mps);
    cell_with(extra, ov, 16);
    for (unsigned seed = 1; seed <= HARD_SEEDS; seed++) {
        if (scn_run("hard", seed, 1, ov, &r) != 0)
            return (struct judged){-1.0, -1.0};
        struct judged j = judge_truth(&r);
        sum.in_band += j.in_band / HARD_SEEDS;
        sum.per_45s += j.per_45s / HARD_SEEDS;
    }
    return sum;
}

TEST(hard_cell_beats_every_plain_treadmill_speed)
{
    static struct scn_result r;
    const char *ov[16];
    struct judged eccd = {0.0, 0.0}, best = {0.0, 0.0};
    double best_mps = 0.0;

    cell_with(NULL, ov, 16);
    for (unsigned seed = 1; seed <= HARD_SEEDS; seed++) {
        check_closed_run("hard", seed, ov, &r);
        struct judged j = judge_truth(&r);
        printf("  hard seed %u: strict in band %.1f%%, %.1f valid per 45 s, largest lead "
               "%.3f m/s\n", seed, 100.0 * j.in_band, j.per_45s, r.max_lead);
        CHECK(r.max_lead <= r.cfg.control.lead_margin + 1e-9);
        eccd.in_band += j.in_band / HARD_SEEDS;
        eccd.per_45s += j.per_45s / HARD_SEEDS;
    }
    for (int k = 0; k < N_FIXED; k++) {
        double mps = 0.10 + 0.05 * k;
        struct judged f = fixed_mean(mps);
        CHECK(f.in_band >= 0.0);
        /* no plain speed is better on both counts */
        CHECK(!(f.in_band > eccd.in_band && f.per_45s > eccd.per_45s));
        if (f.in_band > best.in_band) {
            best = f;
            best_mps = mps;
        }
    }
    printf("  hard: eccd %.1f%% at %.1f valid per 45 s; best plain speed %.2f m/s: %.1f%% at "
           "%.1f\n", 100.0 * eccd.in_band, eccd.per_45s, best_mps, 100.0 * best.in_band,
           best.per_45s);
    CHECK(eccd.in_band >= best.in_band);
    CHECK(eccd.in_band >= 0.93);            /* measured 96.7% (make bench-control) */
    CHECK(eccd.per_45s >= 15.0);
}

/* Reactive mode on slow drives (the normal athlete, a whole session): the command never
 * rises while the foot is off, and a landing that comes later than the drive can stop
 * the belt finds it at rest. */
TEST(reactive_on_slow_drives_stops_from_the_belt)
{
    static struct scn_result r;
    static const char *const ramps[] = {"sim.drive_accel_mps2=0.2", "sim.drive_accel_mps2=0.33"};
    static const char *const times[] = {"drive.accel_time_s=4.17", "drive.accel_time_s=2.525"};

    for (int d = 0; d < 2; d++) {
        for (unsigned seed = 1; seed <= 3; seed++) {
            const char *ov[] = {"control.mode=reactive", ramps[d], times[d], NULL};
            check_closed_run("normal", seed, ov, &r);
            printf("  reactive %s seed %u: %ld ticks rising unloaded, %d landings, %d after "
                   "the drive's stop time, %d of those on a moving belt\n", ramps[d], seed,
                   r.rose_unloaded, r.landings, r.landings_late, r.landings_moving);
            CHECK_INT(r.rose_unloaded, 0);
            CHECK_INT(r.moved_unloaded, 0);
            CHECK(r.landings_late >= 5);
            CHECK_INT(r.landings_moving, 0);
        }
    }
}

/* A drive slower than its config (0.15 m/s^2 against drive.accel_time_s = 3 s, 0.28):
 * eccd says so once, with about the ramp the drive really has, keeps its command to it
 * (never more than lead_margin ahead of the drive), and the session still completes. */
TEST(a_drive_slower_than_its_config_is_measured_and_followed)
{
    static struct scn_result r;
    static const char *const slow[] = {"sim.drive_accel_mps2=0.15", NULL};
    static const char *const right[] = {"sim.drive_accel_mps2=0.3", NULL};

    check_closed_run("normal", 1, slow, &r);
    printf("  drive at 0.15 m/s^2, config 0.28: %d drive_slow event(s), measured %.3f m/s^2, "
           "largest lead %.3f m/s\n", r.drive_slow, r.drive_slow_mps2, r.max_lead);
    CHECK_INT(r.drive_slow, 1);
    CHECK(r.drive_slow_mps2 > 0.10 && r.drive_slow_mps2 < 0.2);
    CHECK(r.max_lead <= r.cfg.control.lead_margin + 1e-9);
    check_closed_run("normal", 1, right, &r);     /* the drive as configured: nothing said */
    CHECK_INT(r.drive_slow, 0);
}

/* The property watch can fail: in continuous mode the belt runs between strokes. */
TEST(continuous_mode_moves_while_unloaded)
{
    static struct scn_result r;

    CHECK_INT(scn_run("normal", 1, 1, NULL, &r), 0);
    CHECK(r.moved_unloaded > 0);
    CHECK(r.rose_unloaded > 0);             /* it sets up the next landing speed */
    CHECK(r.landings_moving > 0);           /* and the foot lands on a running belt */
}

TESTS(T(hard_cell_beats_every_plain_treadmill_speed),
      T(a_drive_slower_than_its_config_is_measured_and_followed), T(reactive_on_slow_drives_stops_from_the_belt),
      T(miscalibrated_belt_sensor_latches_speed_disagree), T(normal_athlete), T(strong_athlete), T(weak_athlete), T(partial_strokes),
      T(spiky_load_cell), T(reactive_normal_athlete), T(reactive_strong_athlete),
      T(continuous_mode_moves_while_unloaded));
TEST_MAIN("test_scenarios")
