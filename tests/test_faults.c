/* test_faults.c - fault injection: every software-visible safety mitigation, proved on
 * the daemon's real loop (daemon/loop.c, controller/ctl.c) against the simulated
 * rig (sim/hal_sim.c) on the virtual clock.
 *
 * For each fault kind the normal athlete starts a set itself (at 2 s); the fault is
 * injected at 10 s (belt running, foot on and off) and the run goes on to 20 s. Each
 * run asserts:
 *   (a) the matching fault latched;
 *   (b) the stop command (0) reached the drive within the row's stated time of onset;
 *   (c) the true belt speed reached 0 within belt_stop_s() of the latch: the simulated
 *       drive's own ramp down from the fastest the belt may run (speed_max plus the
 *       overspeed margin), its dead time, and BELT_STOP_SLACK_S;
 *   (d) while latched, every command the drive got was 0, although the operator kept
 *       pressing start (every 2 s; each press must be refused);
 *   (e) for the e-stop and load-cell rows: once the fault clears (20 s) a reset and a
 *       start restart the belt from 0, ramping at the slew limit to speed_min.
 * The dead-man (drive enable) is wired in these runs: it is what stops a runaway drive.
 * Plus the HAL boundary: NaN, negative and over-cap speeds never reach a drive.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "hal/hal.h"
#include "tests/scenario.h"
#include "tests/test.h"

#define ONSET_S 10.0
#define FAULT_END_S 20.0
#define RESET_AT_S 20.5
#define RESTART_END_S 26.0
#define BELT_STOP_SLACK_S 0.5
#define EST_WINDOW_S 0.25   /* SPEED_EST_WINDOW_S in controller/speed_est.c */

/* The longest the drive takes to stop the belt (c). */
static double belt_stop_s(const struct ecc_config *cfg)
{
    double fastest = cfg->limits.speed_max * (1.0 + cfg->limits.overspeed_margin);

    return fastest / cfg->sim.drive_accel + cfg->sim.drive_dead_s + BELT_STOP_SLACK_S;
}

/* How long a row may take from onset to the stop command. */
enum bound {
    B_TICK,         /* one control period */
    B_SAMPLE,       /* the next load-cell sample, then one control period */
    B_STALE,        /* limits.force_stale_s + a period */
    B_STUCK,        /* limits.force_stuck_s + a sample + a period: the stuck age is
                       measured at the newest sample, so it passes the limit only
                       with the first sample after it */
    B_SILENT,       /* limits.speed_silent_s + a period (a disagreement comes sooner) */
    B_RUNAWAY,      /* the true belt crossing the overspeed limit + the speed
                       estimate's averaging window + one pulse gap at that speed (the
                       estimate moves only on a pulse) + a period */
};

struct row {
    enum hal_sim_fault kind;
    enum fault want, alt;       /* the fault that must latch (either) */
    enum bound bound;
    bool restart;               /* check (e) */
};

static const struct row rows[] = {
    {HAL_SIM_ESTOP, FAULT_ESTOP, FAULT_ESTOP, B_TICK, true},
    {HAL_SIM_LC_STALE, FAULT_FORCE_STALE, FAULT_FORCE_STALE, B_STALE, true},
    {HAL_SIM_LC_STUCK, FAULT_FORCE_STUCK, FAULT_FORCE_STUCK, B_STUCK, true},
    {HAL_SIM_LC_SATURATE, FAULT_FORCE_SATURATED, FAULT_FORCE_SATURATED, B_SAMPLE, true},
    {HAL_SIM_LC_NEGATIVE, FAULT_FORCE_IMPLAUSIBLE, FAULT_FORCE_IMPLAUSIBLE, B_SAMPLE, true},
    {HAL_SIM_ENCODER_SILENT, FAULT_SPEED_SILENT, FAULT_SPEED_DISAGREE, B_SILENT, false},
    {HAL_SIM_DRIVE_RUNAWAY, FAULT_OVERSPEED, FAULT_SPEED_DISAGREE, B_RUNAWAY, false},
    {HAL_SIM_DRIVE_COMM, FAULT_DRIVE_COMM, FAULT_DRIVE_COMM, B_TICK, false},
    {HAL_SIM_DRIVE_TRIP, FAULT_DRIVE_TRIP, FAULT_DRIVE_TRIP, B_TICK, false},
    /* NaN readings cannot become a NaN command: they are dropped, so the cell is stale */
    {HAL_SIM_NAN_SPEED, FAULT_FORCE_STALE, FAULT_FORCE_STALE, B_STALE, false},
};

static double stop_bound(const struct row *row, const struct scn_fault_result *r)
{
    const struct ecc_config *cfg = &r->cfg;
    double dt = 1.0 / cfg->loop.rate_hz;
    double limit = cfg->limits.speed_max * (1.0 + cfg->limits.overspeed_margin);

    switch (row->bound) {
    case B_TICK: return dt;
    case B_SAMPLE: return 1.0 / cfg->sim.loadcell_rate_hz + dt;
    case B_STALE: return cfg->limits.force_stale_s + dt;
    case B_STUCK: return cfg->limits.force_stuck_s + 1.0 / cfg->sim.loadcell_rate_hz + dt;
    case B_SILENT: return cfg->limits.speed_silent_s + dt;
    case B_RUNAWAY:
        if (r->t_over < 0.0)
            return -1.0;    /* the belt never overran: fails the check */
        return r->t_over - ONSET_S + EST_WINDOW_S + 1.0 / (cfg->encoder.pulses_per_m * limit) +
               dt;
    }
    return -1.0;
}

static void check_restart(const struct scn_fault_result *r)
{
    double step = r->cfg.limits.accel / r->cfg.loop.rate_hz;

    CHECK(r->t_reset >= RESET_AT_S);
    CHECK(r->t_restart > r->t_reset);
    CHECK(r->restart_first > 0.0 && r->restart_first <= step * (1.0 + 1e-9));
    CHECK(r->restart_max_step <= step * (1.0 + 1e-9));
    CHECK_NEAR(r->restart_hold, r->cfg.limits.speed_min, 1e-9);
    printf("  restart: reset %.2f s, first command %.3f m/s at %.2f s, held %.3f m/s\n",
           r->t_reset, r->restart_first, r->t_restart, r->restart_hold);
}

static void check_row(enum hal_sim_fault kind)
{
    static struct scn_fault_result r;
    const struct row *row = NULL;
    struct scn_fault_case fc;

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].kind == kind)
            row = &rows[i];
    REQUIRE(row != NULL);                                       /* a row for this kind */
    fc = (struct scn_fault_case){
        .kind = kind, .onset = ONSET_S,
        .duration = row->restart ? FAULT_END_S - ONSET_S : INFINITY,
        .reset_at = row->restart ? RESET_AT_S : 0.0,
        .t_end = row->restart ? RESTART_END_S : FAULT_END_S,
    };
    REQUIRE(scn_fault_run(&fc, 1, &r) == 0);
    printf("  %-14s latched %s at +%.1f ms, stop command at +%.1f ms (bound %.1f ms), "
           "belt stopped %.2f s after the latch, %d starts refused\n",
           hal_sim_fault_name(kind), fault_name(r.fault), 1e3 * (r.t_latch - ONSET_S),
           1e3 * (r.t_stop - ONSET_S), 1e3 * stop_bound(row, &r),
           r.t_belt_zero - r.t_latch, r.starts_refused);
    CHECK(r.cmd_at_onset > 0.0);                                /* the belt was running */
    CHECK(r.fault == row->want || r.fault == row->alt);         /* (a) */
    CHECK(r.t_latch >= ONSET_S - 1e-6);
    CHECK(r.t_stop >= ONSET_S - 1e-6);                                /* (b) */
    CHECK(r.t_stop - ONSET_S <= stop_bound(row, &r) + 1e-9);
    CHECK(r.t_belt_zero >= 0.0 && r.t_belt_zero - r.t_latch <= belt_stop_s(&r.cfg));  /* (c) */
    CHECK_INT(r.moved_while_latched, 0);                        /* (d) */
    CHECK(r.starts_refused >= 3);
    CHECK_INT(r.nonfinite_cmds, 0);
    CHECK_INT(r.drive_errors, 0);
    if (row->restart)                                           /* (e) */
        check_restart(&r);
}

#define FAULT_TEST(name, kind) TEST(name) { check_row(kind); }

FAULT_TEST(fault_estop, HAL_SIM_ESTOP)
FAULT_TEST(fault_lc_stale, HAL_SIM_LC_STALE)
FAULT_TEST(fault_lc_stuck, HAL_SIM_LC_STUCK)
FAULT_TEST(fault_lc_saturate, HAL_SIM_LC_SATURATE)
FAULT_TEST(fault_lc_negative, HAL_SIM_LC_NEGATIVE)
FAULT_TEST(fault_encoder_silent, HAL_SIM_ENCODER_SILENT)
FAULT_TEST(fault_drive_runaway, HAL_SIM_DRIVE_RUNAWAY)
FAULT_TEST(fault_drive_comm, HAL_SIM_DRIVE_COMM)
FAULT_TEST(fault_drive_trip, HAL_SIM_DRIVE_TRIP)
FAULT_TEST(fault_nan_speed, HAL_SIM_NAN_SPEED)

/* ---- the HAL boundary ------------------------------------------------------------- */

struct counting_drive {
    int set_calls, stop_calls;
    double last;
};

static int count_set(void *ctx, double mps)
{
    struct counting_drive *d = ctx;

    d->set_calls++;
    d->last = mps;
    return 0;
}

static int count_stop(void *ctx)
{
    struct counting_drive *d = ctx;

    d->stop_calls++;
    return 0;
}

TEST(hal_refuses_bad_speeds)
{
    struct counting_drive cd = {0};
    struct hal_drive d = {.set_speed = count_set, .stop = count_stop, .cap_mps = 0.7,
                          .ctx = &cd};
    const double bad[] = {NAN, -0.1, 0.7 + 0.01, INFINITY, -INFINITY};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        CHECK_INT(hal_drive_set_speed(&d, bad[i]), -1);
        CHECK_INT(errno, EINVAL);
    }
    CHECK_INT(cd.set_calls, 0);
    CHECK_INT(cd.stop_calls, 0);
    CHECK_INT(hal_drive_set_speed(&d, 0.7), 0);     /* the cap itself is allowed */
    CHECK_INT(hal_drive_set_speed(&d, 0.0), 0);     /* zero is a stop */
    CHECK_INT(cd.set_calls, 1);
    CHECK_NEAR(cd.last, 0.7, 0.0);
    CHECK_INT(cd.stop_calls, 1);
}

TESTS(T(fault_estop), T(fault_lc_stale), T(fault_lc_stuck), T(fault_lc_saturate),
      T(fault_lc_negative), T(fault_encoder_silent), T(fault_drive_runaway),
      T(fault_drive_comm), T(fault_drive_trip), T(fault_nan_speed),
      T(hal_refuses_bad_speeds));
TEST_MAIN("test_faults")
