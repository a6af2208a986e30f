/* test_safety.c - the safety supervisor: latching, precedence, reset rules, timers, and
 * the drive/belt-sensor cross-check on a scripted belt.
 *
 * Params: abort 250 N, speed limit 1.0 m/s, force stale after 0.5 s, belt silent
 * after 1.0 s, pulses expected above a 0.04 m/s command. Times step by 0.25 s
 * (exact in binary).
 */
#include "controller/safety.h"
#include "tests/test.h"

#define EXACT 1e-9

static const struct safety_params params = {
    .force_abort = 250.0, .speed_limit = 1.0, .force_stale_s = 0.5,
    .speed_silent_s = 1.0, .silent_min_cmd = 0.04, .force_full_scale = 1000.0,
    .force_stuck_s = 1.0, .disagree_mps = 0.1, .disagree_s = 0.5, .force_negative_n = 30.0,
    .loop_late_s = 0.1, .loop_stall_s = 0.25, .loop_late_burst = 3, .drift_n = 10.0, .drift_window_s = 2.0,
};

/* A healthy tick at now: fresh force and pulse, moderate load and speed. */
static struct safety_input healthy(double now)
{
    return (struct safety_input){
        .now = now, .force = 100.0, .t_last_force = now, .speed = 0.3,
        .speed_cmd = 0.3, .t_last_pulse = now, .estop = false, .force_raw = 100.0,
        .t_force_changed = now, .speed_drive = NAN,
    };
}

static void check_latch(const struct safety *s, enum fault f, double t, double value,
                        double limit)
{
    CHECK_INT(safety_latched(s), f);
    CHECK_NEAR(safety_latched_at(s), t, EXACT);
    CHECK_NEAR(safety_value(s), value, EXACT);
    CHECK_NEAR(safety_limit(s), limit, EXACT);
}

TEST(healthy_input_latches_nothing)
{
    struct safety s;
    safety_init(&s, &params);

    for (int i = 0; i < 40; i++) {
        struct safety_input in = healthy(i * 0.25);
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
    CHECK_INT(safety_latched(&s), FAULT_NONE);
}

TEST(estop_latches)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);
    safety_check(&s, &in);

    in = healthy(0.25);
    in.estop = true;
    CHECK_INT(safety_check(&s, &in), FAULT_ESTOP);
    check_latch(&s, FAULT_ESTOP, 0.25, 1.0, 0.0);   /* value 1: input active */
}

TEST(overforce_latches_with_value_and_limit)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);
    safety_check(&s, &in);

    in = healthy(0.25);
    in.force = 250.0;                               /* at the limit: fine */
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    in = healthy(0.5);
    in.force = 310.0;
    CHECK_INT(safety_check(&s, &in), FAULT_OVERFORCE);
    check_latch(&s, FAULT_OVERFORCE, 0.5, 310.0, 250.0);
}

TEST(overspeed_latches_with_value_and_limit)
{
    struct safety s;
    safety_init(&s, &params);

    struct safety_input in = healthy(2.0);
    in.speed = 1.25;
    CHECK_INT(safety_check(&s, &in), FAULT_OVERSPEED);
    check_latch(&s, FAULT_OVERSPEED, 2.0, 1.25, 1.0);
}

/* Last sample at 1.0: at 1.5 the age is 0.5 (not over), at 1.75 it is 0.75. */
TEST(force_stale_latches_with_age)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(1.0);
    safety_check(&s, &in);

    in = healthy(1.5);
    in.t_last_force = 1.0;
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    in = healthy(1.75);
    in.t_last_force = 1.0;
    CHECK_INT(safety_check(&s, &in), FAULT_FORCE_STALE);
    check_latch(&s, FAULT_FORCE_STALE, 1.75, 0.75, 0.5);
}

/* No sample ever (t_last_force = -1): staleness counts from the first check at 10.0. */
TEST(force_stale_at_start_when_no_sample_arrives)
{
    struct safety s;
    safety_init(&s, &params);

    for (double t = 10.0; t <= 10.5; t += 0.25) {
        struct safety_input in = healthy(t);
        in.t_last_force = -1.0;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
    struct safety_input in = healthy(10.75);
    in.t_last_force = -1.0;
    CHECK_INT(safety_check(&s, &in), FAULT_FORCE_STALE);
    check_latch(&s, FAULT_FORCE_STALE, 10.75, 0.75, 0.5);
}

/* Commanded from 0.0, pulses every 0.5 s until 5.0, then none. Silence at 6.0 is
 * 1.0 (not over), at 6.25 it is 1.25. */
TEST(speed_silent_only_after_full_silence)
{
    struct safety s;
    safety_init(&s, &params);
    double last_pulse = -1.0;

    for (int i = 0; i <= 24; i++) {              /* t = 0.0 .. 6.0 */
        double t = i * 0.25;
        if (i % 2 == 0 && t <= 5.0)
            last_pulse = t;
        struct safety_input in = healthy(t);
        in.t_last_pulse = last_pulse;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
    struct safety_input in = healthy(6.25);
    in.t_last_pulse = last_pulse;
    CHECK_INT(safety_check(&s, &in), FAULT_SPEED_SILENT);
    check_latch(&s, FAULT_SPEED_SILENT, 6.25, 1.25, 1.0);
}

TEST(speed_silent_never_below_min_command)
{
    struct safety s;
    safety_init(&s, &params);

    for (int i = 0; i < 400; i++) {
        struct safety_input in = healthy(i * 0.25);
        in.speed_cmd = 0.04;                      /* not above silent_min_cmd */
        in.speed = 0.0;
        in.t_last_pulse = -1.0;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
}

/* The last pulse is from 0.0; the belt is then stopped until the command rises
 * at 10.0. Silence is measured from 10.0, not from the old pulse. */
TEST(speed_silent_measured_from_command_rise)
{
    struct safety s;
    safety_init(&s, &params);

    for (double t = 0.0; t < 10.0; t += 0.25) {
        struct safety_input in = healthy(t);
        in.speed_cmd = 0.0;
        in.t_last_pulse = 0.0;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
    for (double t = 10.0; t <= 11.0; t += 0.25) {
        struct safety_input in = healthy(t);
        in.t_last_pulse = 0.0;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
    struct safety_input in = healthy(11.25);
    in.t_last_pulse = 0.0;
    CHECK_INT(safety_check(&s, &in), FAULT_SPEED_SILENT);
    check_latch(&s, FAULT_SPEED_SILENT, 11.25, 1.25, 1.0);
}

/* The command dips below the minimum at 0.75: the timer restarts at 1.0. */
TEST(speed_silent_timer_restarts_when_command_drops)
{
    struct safety s;
    safety_init(&s, &params);

    for (double t = 0.0; t <= 1.75; t += 0.25) {
        struct safety_input in = healthy(t);
        in.t_last_pulse = -1.0;
        in.speed_cmd = (t == 0.75) ? 0.0 : 0.3;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
    struct safety_input in = healthy(2.0);          /* silent 1.0 since 1.0: not over */
    in.t_last_pulse = -1.0;
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    in.now = 2.25;
    in.t_last_force = 2.25;
    CHECK_INT(safety_check(&s, &in), FAULT_SPEED_SILENT);
    CHECK_NEAR(safety_value(&s), 1.25, EXACT);
}

TEST(first_fault_wins_and_stays)
{
    struct safety s;
    safety_init(&s, &params);

    /* overforce and overspeed on the same tick: overforce comes first */
    struct safety_input in = healthy(1.0);
    in.force = 300.0;
    in.speed = 2.0;
    CHECK_INT(safety_check(&s, &in), FAULT_OVERFORCE);
    /* a later e-stop does not replace it */
    in = healthy(1.25);
    in.estop = true;
    in.force = 500.0;
    CHECK_INT(safety_check(&s, &in), FAULT_OVERFORCE);
    check_latch(&s, FAULT_OVERFORCE, 1.0, 300.0, 250.0);

    /* e-stop beats everything on the same tick */
    struct safety s2;
    safety_init(&s2, &params);
    in = healthy(1.0);
    in.estop = true;
    in.force = 300.0;
    in.speed = 2.0;
    in.t_last_force = -1.0;
    CHECK_INT(safety_check(&s2, &in), FAULT_ESTOP);
}

TEST(no_automatic_clear_when_cause_goes_away)
{
    struct safety s;
    safety_init(&s, &params);

    struct safety_input in = healthy(0.0);
    in.force = 400.0;
    safety_check(&s, &in);
    for (int i = 1; i < 100; i++) {
        in = healthy(i * 0.25);
        CHECK_INT(safety_check(&s, &in), FAULT_OVERFORCE);
    }
    check_latch(&s, FAULT_OVERFORCE, 0.0, 400.0, 250.0);
}

TEST(reset_refused_while_estop_held)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);
    in.estop = true;
    safety_check(&s, &in);

    in.now = 5.0;
    CHECK_INT(safety_reset(&s, &in), -1);
    CHECK_INT(safety_latched(&s), FAULT_ESTOP);
    CHECK_INT(safety_resets(&s), 0);

    in = healthy(6.0);
    CHECK_INT(safety_reset(&s, &in), 0);
    CHECK_INT(safety_latched(&s), FAULT_NONE);
    CHECK_INT(safety_resets(&s), 1);
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);
}

TEST(reset_refused_while_force_high)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);
    in.force = 300.0;
    safety_check(&s, &in);

    in = healthy(1.0);
    in.force = 260.0;
    CHECK_INT(safety_reset(&s, &in), -1);
    CHECK_INT(safety_latched(&s), FAULT_OVERFORCE);
    in.force = 200.0;
    CHECK_INT(safety_reset(&s, &in), 0);
    CHECK_INT(safety_latched(&s), FAULT_NONE);
    CHECK_INT(safety_resets(&s), 1);
}

/* Overspeed and stale may be reset (the belt is stopped); a cause that is still
 * there latches again on the next check. */
/* Over-speed may be reset at once (the belt is already stopping); a load cell that is still
 * silent refuses the reset (it would latch again on the next tick) until samples come. */
TEST(reset_allowed_for_overspeed_and_stale)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);
    in.speed = 1.5;
    safety_check(&s, &in);

    CHECK_INT(safety_reset(&s, &in), 0);
    CHECK_INT(safety_check(&s, &in), FAULT_OVERSPEED);
    in.speed = 0.0;
    CHECK_INT(safety_reset(&s, &in), 0);
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);

    in = healthy(3.0);
    in.t_last_force = 1.0;
    CHECK_INT(safety_check(&s, &in), FAULT_FORCE_STALE);
    CHECK_INT(safety_reset(&s, &in), -1);       /* still silent */
    in.t_last_force = 2.99;                     /* samples again */
    CHECK_INT(safety_reset(&s, &in), 0);
    CHECK_INT(safety_resets(&s), 3);
}

/* A drive that still does not answer, a cell still pinned at full scale or still reading
 * below the floor: the reset is refused, and allowed once the part is back. */
TEST(reset_refused_while_a_part_still_fails)
{
    struct safety s;
    struct safety_input in;

    safety_init(&s, &params);
    in = healthy(0.0);
    in.drive_comm_lost = true;
    CHECK_INT(safety_check(&s, &in), FAULT_DRIVE_COMM);
    CHECK_INT(safety_reset(&s, &in), -1);
    in.drive_comm_lost = false;
    CHECK_INT(safety_reset(&s, &in), 0);

    in = healthy(0.1);
    in.force_raw = params.force_full_scale;
    CHECK_INT(safety_check(&s, &in), FAULT_FORCE_SATURATED);
    CHECK_INT(safety_reset(&s, &in), -1);
    in.force_raw = 0.5;
    CHECK_INT(safety_reset(&s, &in), 0);

    in = healthy(0.2);
    in.force_raw = -params.force_negative_n - 5.0;
    CHECK_INT(safety_check(&s, &in), FAULT_FORCE_IMPLAUSIBLE);
    CHECK_INT(safety_reset(&s, &in), -1);
    in.force_raw = 0.5;
    CHECK_INT(safety_reset(&s, &in), 0);
}

TEST(reset_with_nothing_latched_is_a_no_op)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);

    CHECK_INT(safety_reset(&s, &in), 0);
    CHECK_INT(safety_resets(&s), 0);
}

/* Silent latched at 1.25 (commanded from 0.0, no pulse). Reset at 2.0 with the
 * command still up: the timer restarts at the next check (2.0), so 3.0 is fine
 * and 3.25 trips again. */
TEST(silent_timer_restarts_after_reset)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in;

    for (double t = 0.0; t <= 1.25; t += 0.25) {
        in = healthy(t);
        in.t_last_pulse = -1.0;
        safety_check(&s, &in);
    }
    CHECK_INT(safety_latched(&s), FAULT_SPEED_SILENT);
    in = healthy(2.0);
    in.t_last_pulse = -1.0;
    CHECK_INT(safety_reset(&s, &in), 0);
    for (double t = 2.0; t <= 3.0; t += 0.25) {
        in = healthy(t);
        in.t_last_pulse = -1.0;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
    in = healthy(3.25);
    in.t_last_pulse = -1.0;
    CHECK_INT(safety_check(&s, &in), FAULT_SPEED_SILENT);
    check_latch(&s, FAULT_SPEED_SILENT, 3.25, 1.25, 1.0);
}

/* A broken measurement must not look healthy. */
TEST(non_finite_force_or_speed_trips)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);
    in.force = NAN;
    CHECK_INT(safety_check(&s, &in), FAULT_OVERFORCE);
    CHECK_INT(safety_reset(&s, &in), -1);           /* still not a valid reading */

    safety_init(&s, &params);
    in = healthy(0.0);
    in.speed = NAN;
    CHECK_INT(safety_check(&s, &in), FAULT_OVERSPEED);
}

TEST(fault_names)
{
    CHECK_STR_CONTAINS(fault_name(FAULT_NONE), "none");
    CHECK_STR_CONTAINS(fault_name(FAULT_OVERFORCE), "overforce");
    CHECK_STR_CONTAINS(fault_name(FAULT_OVERSPEED), "overspeed");
    CHECK_STR_CONTAINS(fault_name(FAULT_FORCE_STALE), "force_stale");
    CHECK_STR_CONTAINS(fault_name(FAULT_SPEED_SILENT), "speed_silent");
    CHECK_STR_CONTAINS(fault_name(FAULT_ESTOP), "estop");
    CHECK_STR_CONTAINS(fault_name(FAULT_COUNT), "unknown");
}

TEST(drive_trip_latches_with_its_code_and_can_be_reset)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);
    safety_check(&s, &in);

    in = healthy(0.25);
    in.drive_tripped = true;
    in.drive_fault_code = 7;
    CHECK_INT(safety_check(&s, &in), FAULT_DRIVE_TRIP);
    check_latch(&s, FAULT_DRIVE_TRIP, 0.25, 7.0, 0.0);
    /* Still tripped: the reset is accepted (it is what makes eccd write the drive's
     * fault reset), and the trip latches again on the next check. */
    CHECK_INT(safety_reset(&s, &in), 0);
    in.now = 0.5;
    CHECK_INT(safety_check(&s, &in), FAULT_DRIVE_TRIP);
}

TEST(drive_comm_loss_latches)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);

    in.drive_comm_lost = true;
    CHECK_INT(safety_check(&s, &in), FAULT_DRIVE_COMM);
    in = healthy(0.25);
    CHECK_INT(safety_check(&s, &in), FAULT_DRIVE_COMM);    /* latched, not self-clearing */
}

TEST(saturated_load_cell_latches_even_below_the_abort_limit)
{
    struct safety s;
    struct safety_params p = params;
    p.force_abort = 2000.0;                 /* a transmitter whose range is the limit */
    safety_init(&s, &p);
    struct safety_input in = healthy(0.0);

    in.force_raw = -1000.0;                 /* saturated the other way round */
    CHECK_INT(safety_check(&s, &in), FAULT_FORCE_SATURATED);
    check_latch(&s, FAULT_FORCE_SATURATED, 0.0, -1000.0, 1000.0);
}

TEST(stuck_load_cell_is_ignored_while_the_belt_is_not_commanded)
{
    struct safety s;
    safety_init(&s, &params);

    for (int i = 0; i <= 20; i++) {         /* zero tracking holds an idle 0 N for 5 s */
        struct safety_input in = healthy(i * 0.25);
        in.speed_cmd = 0.0;
        in.force_raw = 0.0;
        in.t_force_changed = 0.0;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
}

TEST(stuck_load_cell_latches_after_force_stuck_s)
{
    struct safety s;
    safety_init(&s, &params);

    for (int i = 0; i <= 4; i++) {          /* samples arrive, value frozen since 0 */
        struct safety_input in = healthy(i * 0.25);
        in.t_force_changed = 0.0;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
    struct safety_input in = healthy(1.25);
    in.t_force_changed = 0.0;
    CHECK_INT(safety_check(&s, &in), FAULT_FORCE_STUCK);
    check_latch(&s, FAULT_FORCE_STUCK, 1.25, 1.25, 1.0);
}

/* ---- the drive/sensor cross-check (safety.h: the disagreement rule) --------------
 * A scripted belt at the control rate: the drive's speed follows a target at its ramp,
 * the belt runs at ratio x the drive less slip, and the sensor counts its travel (scale x
 * the true one; 0: dead) in pulses of pulse_m, the first after (1 - phase) spacings. The
 * pulse time stays fresh (speed_silent is tested above), so only the rule is judged. */
#define XDT 0.01
#define XRAMP 0.3                   /* m/s^2 */
#define XALLOW (0.1 * 0.5)          /* disagree_mps x disagree_s of params */

struct xbelt {
    double t, vd, target, ratio, slip, x, xs, pulse_m, scale, phase;
};

static struct xbelt xbelt_make(double ppm, double phase)
{
    return (struct xbelt){.ratio = 1.0, .pulse_m = 1.0 / ppm, .scale = 1.0, .phase = phase};
}

static double xbelt_v(const struct xbelt *b)
{
    return fmax(0.0, b->ratio * b->vd - b->slip);
}

static struct safety_input xbelt_step(struct xbelt *b)
{
    double v0 = xbelt_v(b), dx;
    struct safety_input in;

    b->vd = b->vd < b->target ? fmin(b->target, b->vd + XRAMP * XDT)
                              : fmax(b->target, b->vd - XRAMP * XDT);
    dx = 0.5 * (v0 + xbelt_v(b)) * XDT;
    b->x += dx;
    b->xs += b->scale * dx;
    b->t += XDT;
    in = healthy(b->t);
    in.speed = xbelt_v(b);
    in.speed_cmd = b->target;
    in.speed_drive = b->vd;
    in.pulse_m = b->pulse_m;
    in.pulse_dist = floor(b->xs / b->pulse_m + b->phase) * b->pulse_m;
    return in;
}

/* Run for `seconds`; returns the first fault (FAULT_NONE: none). */
static enum fault xbelt_run(struct safety *s, struct xbelt *b, double seconds)
{
    enum fault f = FAULT_NONE;

    for (double end = b->t + seconds; b->t < end - 1e-9 && f == FAULT_NONE;) {
        struct safety_input in = xbelt_step(b);
        f = safety_check(s, &in);
    }
    return f;
}

/* However coarse the sensor and slow the belt, one pulse of quantisation, slip of up to
 * disagree_mps (0.1 m/s) and a belt 10% ahead of its drive (calibration) never latch. */
TEST(counting_quantisation_and_slip_are_never_a_disagreement)
{
    const double sensors[] = {2.0, 4.0, 8.0, 20.0}, phases[] = {0.0, 0.37, 0.99};
    struct safety s;

    for (int i = 0; i < 4; i++)
        for (int q = 0; q < 3; q++) {
            struct xbelt b = xbelt_make(sensors[i], phases[q]);
            enum fault f = FAULT_NONE;

            safety_init(&s, &params);
            b.target = 0.08;
            for (int k = 0; k < 10 && f == FAULT_NONE; k++) {   /* strokes at 0.08 m/s */
                b.slip = 0.07;                                  /* 350 N at 0.0002 */
                f = xbelt_run(&s, &b, 2.0);
                b.slip = 0.0;
                if (f == FAULT_NONE)
                    f = xbelt_run(&s, &b, 1.0);
            }
            b.target = 0.8;
            b.ratio = 1.1;
            if (f == FAULT_NONE)
                f = xbelt_run(&s, &b, 10.0);
            b.ratio = 0.92;
            b.target = 0.3;
            if (f == FAULT_NONE)
                f = xbelt_run(&s, &b, 10.0);
            if (f != FAULT_NONE)
                printf("  %.0f pulses/m, phase %.2f: %s at %.2f s\n", sensors[i], phases[q],
                       fault_name(f), b.t);
            CHECK_INT(f, FAULT_NONE);
        }
}

/* A set starts, runs at the slowest speed and stops, again and again (rests at zero in
 * between): the belt's unknown phase at each start is no disagreement. */
TEST(a_restart_from_the_slowest_speed_is_no_disagreement)
{
    const double sensors[] = {2.0, 4.0, 20.0};
    struct safety s;
    unsigned long long rng = 12345;

    for (int i = 0; i < 3; i++) {
        struct xbelt b = xbelt_make(sensors[i], 0.5);
        enum fault f = FAULT_NONE;

        safety_init(&s, &params);
        for (int k = 0; k < 20 && f == FAULT_NONE; k++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            b.target = 0.08;
            b.slip = (rng % 5) * 0.01;
            f = xbelt_run(&s, &b, 1.0 + (double)(rng % 700) / 100.0);
            b.target = 0.0;
            b.slip = 0.0;
            if (f == FAULT_NONE)
                f = xbelt_run(&s, &b, 3.0);
        }
        CHECK_INT(f, FAULT_NONE);
    }
}

/* Latch time of a sensor that counts v_s while the drive reports v_d (safety.h). */
static double ahead_bound(double pulse_m, double v_s, double v_d)
{
    return (2 * pulse_m + XALLOW) / (v_s - (1 + SAFETY_AHEAD_SHARE) * v_d) + XDT;
}

/* The sensor starts pulsing twice as often as it should (a wrong pulses_per_m, or
 * sim.encoder_scale = 2) 10 s into a steady run: speed_disagree within the stated time. */
TEST(a_sensor_counting_double_latches_within_the_stated_time)
{
    const double sensors[] = {2.0, 4.0, 8.0, 20.0}, speeds[] = {0.15, 0.3, 0.6};
    struct safety s;

    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            struct xbelt b = xbelt_make(sensors[i], 0.0);
            double v = speeds[j], bound = ahead_bound(b.pulse_m, 2 * v, v);
            enum fault f;

            safety_init(&s, &params);
            b.vd = b.target = v;
            CHECK_INT(xbelt_run(&s, &b, 10.0), FAULT_NONE);
            b.scale = 2.0;
            f = xbelt_run(&s, &b, 30.0);
            printf("  %4.0f pulses/m at %.2f m/s: %s %.2f s after onset (bound %.2f s)\n",
                   sensors[i], v, fault_name(f), b.t - 10.0, bound);
            CHECK_INT(f, FAULT_SPEED_DISAGREE);
            CHECK(b.t - 10.0 <= bound + 1e-9);
            CHECK(safety_value(&s) > safety_limit(&s));
            CHECK_NEAR(safety_limit(&s), SAFETY_AHEAD_SHARE * v, 1e-6);
        }
}

/* The sensor goes dead in a steady run: speed_disagree within
 * (pulse_m + A) / (v_d - disagree_mps), long before speed_silent would at these speeds. */
TEST(a_dead_sensor_latches_within_the_stated_time)
{
    const double sensors[] = {2.0, 4.0, 20.0}, speeds[] = {0.3, 0.6};
    struct safety s;

    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            struct xbelt b = xbelt_make(sensors[i], 0.0);
            double v = speeds[j], bound = (b.pulse_m + XALLOW) / (v - 0.1) + XDT;
            enum fault f;

            safety_init(&s, &params);
            b.vd = b.target = v;
            CHECK_INT(xbelt_run(&s, &b, 10.0), FAULT_NONE);
            b.scale = 0.0;
            f = xbelt_run(&s, &b, 30.0);
            printf("  %4.0f pulses/m at %.2f m/s: %s %.2f s after onset (bound %.2f s)\n",
                   sensors[i], v, fault_name(f), b.t - 10.0, bound);
            CHECK_INT(f, FAULT_SPEED_DISAGREE);
            CHECK(b.t - 10.0 <= bound + 1e-9);
            CHECK_NEAR(safety_limit(&s), 0.1, 1e-12);     /* disagree_mps, behind */
        }
}

/* A belt at half its drive's speed (a slipping belt well past any foot load). */
TEST(a_belt_far_behind_its_drive_latches)
{
    struct safety s;
    struct xbelt b = xbelt_make(4.0, 0.0);
    double bound = (2 * b.pulse_m + XALLOW) / (0.6 - 0.3 - 0.1) + XDT;

    safety_init(&s, &params);
    b.vd = b.target = 0.6;
    CHECK_INT(xbelt_run(&s, &b, 5.0), FAULT_NONE);
    b.ratio = 0.5;
    CHECK_INT(xbelt_run(&s, &b, 10.0), FAULT_SPEED_DISAGREE);
    CHECK(b.t - 5.0 <= bound + 1e-9);
    /* the mean difference the counts show over the stretch (m/s): 0.3, and more by up to
     * a pulse of quantisation over a short stretch */
    CHECK(safety_value(&s) >= 0.3 - 1e-6 && safety_value(&s) <= 0.3 + b.pulse_m / 0.8);
    CHECK_NEAR(safety_limit(&s), 0.1, 1e-12);
}

/* While the belt is meant to be at rest nothing is judged: a belt pushed by hand with
 * the drive stopped is no hazard. */
TEST(a_belt_moved_at_rest_is_not_judged)
{
    struct safety s;
    struct xbelt b = xbelt_make(4.0, 0.0);

    safety_init(&s, &params);
    for (int k = 0; k < 1000; k++) {
        struct safety_input in = xbelt_step(&b);
        in.pulse_dist += 0.003 * k;                       /* 0.3 m/s with no drive */
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
}

/* A drive that reports a sane speed while the belt runs away is caught by its pulses. */
TEST(overspeed_is_judged_on_the_pulses_too)
{
    struct safety s;
    safety_init(&s, &params);

    struct safety_input in = healthy(2.0);
    in.speed = 0.5;
    in.speed_pulse = 1.0;                   /* at the limit: fine */
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    in = healthy(2.25);
    in.speed = 0.5;
    in.speed_pulse = 1.25;
    CHECK_INT(safety_check(&s, &in), FAULT_OVERSPEED);
    check_latch(&s, FAULT_OVERSPEED, 2.25, 1.25, 1.0);
}

TEST(negative_force_is_implausible)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);

    in.force_raw = -29.0;                   /* noise and a little tare error: fine */
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    in = healthy(0.25);
    in.force_raw = -31.0;
    CHECK_INT(safety_check(&s, &in), FAULT_FORCE_IMPLAUSIBLE);
    check_latch(&s, FAULT_FORCE_IMPLAUSIBLE, 0.25, -31.0, -30.0);
}

/* One stall longer than loop_stall_s latches at once. */
TEST(a_late_tick_latches_loop_late)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in = healthy(0.0);

    in.late_s = 0.1;                        /* exactly the limit: not even a late tick */
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    in = healthy(0.5);
    in.late_s = 0.35;
    CHECK_INT(safety_check(&s, &in), FAULT_LOOP_LATE);
    check_latch(&s, FAULT_LOOP_LATE, 0.5, 0.35, 0.25);
}

/* A single late tick under loop_stall_s (a 162 ms scheduling stall on a busy machine) is
 * counted, not a fault; loop_late_burst of them within 10 s are. */
TEST(one_late_tick_is_counted_a_burst_latches)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in;

    in = healthy(1.0);
    in.late_s = 0.162;
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    in = healthy(5.0);
    in.late_s = 0.2;                        /* the second within 10 s */
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    in = healthy(12.0);                     /* the first has left the window */
    in.late_s = 0.15;
    CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    in = healthy(14.0);                     /* the third within 10 s: 5, 12, 14 */
    in.late_s = 0.12;
    CHECK_INT(safety_check(&s, &in), FAULT_LOOP_LATE);
    check_latch(&s, FAULT_LOOP_LATE, 14.0, 0.12, 0.1);
}

/* During a set the foot comes off between strokes: over each 2 s window the lowest
 * force must come near zero. A zero that wanders up to 15 N latches at the window's end. */
TEST(a_drifting_zero_latches_force_drift_per_window)
{
    struct safety s;
    safety_init(&s, &params);
    struct safety_input in;
    enum fault f = FAULT_NONE;
    int i;

    for (i = 0; i <= 8; i++) {              /* 0 .. 2 s: strokes and a foot-off at 0 N */
        in = healthy(i * 0.25);
        in.in_set = true;
        in.force = (i % 4 == 0) ? 0.5 : 80.0;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
    for (i = 9; i <= 40 && f == FAULT_NONE; i++) {  /* the foot-off now reads 15 N */
        in = healthy(i * 0.25);
        in.in_set = true;
        in.force = (i % 4 == 0) ? 15.0 : 80.0;
        f = safety_check(&s, &in);
    }
    CHECK_INT(f, FAULT_FORCE_DRIFT);
    /* The window [2, 4] began on the last good foot-off (0.5 N at 2.0 s); [4, 6] is the
     * first one whose lowest force is the drifted 15 N: it latches at its end. */
    CHECK_NEAR(safety_latched_at(&s), 6.0, EXACT);
    CHECK_NEAR(safety_value(&s), 15.0, EXACT);
}

TEST(drift_is_not_judged_outside_a_set)
{
    struct safety s;
    safety_init(&s, &params);

    for (int i = 0; i < 40; i++) {          /* 10 s of 40 N with no set running */
        struct safety_input in = healthy(i * 0.25);
        in.force = 40.0;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
}

TEST(no_second_opinion_means_no_cross_check)
{
    struct safety s;
    safety_init(&s, &params);

    for (int i = 0; i < 20; i++) {
        struct safety_input in = healthy(i * 0.25);
        in.speed_drive = NAN;
        in.speed = 0.9;
        in.pulse_m = 0.25;
        in.pulse_dist = 2.0 * i;            /* 8 m/s counted: nothing to compare with */
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
    for (int i = 20; i < 40; i++) {         /* a drive, but no pulse sensor (pulse_m 0) */
        struct safety_input in = healthy(i * 0.25);
        in.speed_drive = 0.6;
        CHECK_INT(safety_check(&s, &in), FAULT_NONE);
    }
}

TESTS(T(drive_trip_latches_with_its_code_and_can_be_reset), T(drive_comm_loss_latches),
      T(saturated_load_cell_latches_even_below_the_abort_limit),
      T(stuck_load_cell_latches_after_force_stuck_s),
      T(counting_quantisation_and_slip_are_never_a_disagreement),
      T(a_restart_from_the_slowest_speed_is_no_disagreement),
      T(a_sensor_counting_double_latches_within_the_stated_time),
      T(a_dead_sensor_latches_within_the_stated_time), T(a_belt_far_behind_its_drive_latches),
      T(a_belt_moved_at_rest_is_not_judged), T(overspeed_is_judged_on_the_pulses_too),
      T(no_second_opinion_means_no_cross_check),
      T(negative_force_is_implausible), T(a_late_tick_latches_loop_late),
      T(one_late_tick_is_counted_a_burst_latches),
      T(a_drifting_zero_latches_force_drift_per_window), T(drift_is_not_judged_outside_a_set),
      T(stuck_load_cell_is_ignored_while_the_belt_is_not_commanded),
      T(healthy_input_latches_nothing), T(estop_latches),
      T(overforce_latches_with_value_and_limit), T(overspeed_latches_with_value_and_limit),
      T(force_stale_latches_with_age), T(force_stale_at_start_when_no_sample_arrives),
      T(speed_silent_only_after_full_silence), T(speed_silent_never_below_min_command),
      T(speed_silent_measured_from_command_rise),
      T(speed_silent_timer_restarts_when_command_drops), T(first_fault_wins_and_stays),
      T(no_automatic_clear_when_cause_goes_away), T(reset_refused_while_estop_held),
      T(reset_refused_while_force_high), T(reset_allowed_for_overspeed_and_stale), T(reset_refused_while_a_part_still_fails),
      T(reset_with_nothing_latched_is_a_no_op), T(silent_timer_restarts_after_reset),
      T(non_finite_force_or_speed_trips), T(fault_names));
TEST_MAIN("test_safety")
