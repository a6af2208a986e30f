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

    if (scn_run(scenario, seed, 1, overrides, r) != 0) {
        CHECK(!"scenario ran");
        return;
    }
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

/* The property watch can fail: in continuous mode the belt runs between strokes. */
TEST(continuous_mode_moves_while_unloaded)
{
    static struct scn_result r;

    CHECK_INT(scn_run("normal", 1, 1, NULL, &r), 0);
    CHECK(r.moved_unloaded > 0);
}

TESTS(T(miscalibrated_belt_sensor_latches_speed_disagree), T(normal_athlete), T(strong_athlete), T(weak_athlete), T(partial_strokes),
      T(spiky_load_cell), T(reactive_normal_athlete), T(reactive_strong_athlete),
      T(continuous_mode_moves_while_unloaded));
TEST_MAIN("test_scenarios")
