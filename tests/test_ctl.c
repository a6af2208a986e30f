/* test_ctl.c - the composed controller tick on an injected clock: buttons, protocol,
 * faults and their latching, restart from minimum speed, events. */
#include <math.h>

#include "config/config.h"
#include "controller/ctl.h"
#include "hal/hal.h"
#include "tests/test.h"

#define DT 0.01

struct rig_in {                  /* a scripted rig: constant force and belt speed */
    double t, force, speed, pulse_x, next_pulse_x;
    bool estop, stale;
    bool drive_tripped;          /* a drive that reports its own trip */
    int flicker;
    double wall0;                /* UTC s at t = 0 (0: no wall clock) */
    double ft[1], fn[1], pt[16];
    struct ctl_output out;       /* what the latest tick decided for the actuators */
};

static struct ecc_config cfg_default(void)
{
    struct ecc_config c;
    config_defaults(&c);
    c.protocol.reps_per_set = 2;
    c.protocol.sets_per_session = 2;
    c.protocol.rest_s = 5.0;
    return c;
}

/* One tick: a load-cell sample at the tick time, pulses for the belt travel. */
static double tick(struct ctl *c, struct rig_in *r, unsigned pressed)
{
    const double m_per_pulse = 1.0 / 20.0;
    struct ctl_input in = {.now = r->t, .estop = r->estop, .pressed = pressed,
                           .force_t = r->ft, .force_n = r->fn, .pulse_t = r->pt,
                           .wall = r->wall0 > 0.0 ? r->wall0 + r->t : 0.0};
    in.drive.present = r->drive_tripped;
    in.drive.tripped = r->drive_tripped;
    in.drive.fault_code = r->drive_tripped ? 9u : 0u;
    in.drive.t_speed = -1.0;
    in.drive.speed_mps = NAN;
    if (!r->stale) {
        r->ft[0] = r->t;
        r->fn[0] = r->force + (r->flicker ^= 1) * 0.02;  /* a real cell flickers */
        in.n_force = 1;
    }
    r->pulse_x += r->speed * DT;
    while (r->pulse_x >= r->next_pulse_x && in.n_pulses < 16) {
        r->pt[in.n_pulses++] = r->t - (r->pulse_x - r->next_pulse_x) / fmax(r->speed, 1e-9);
        r->next_pulse_x += m_per_pulse;
    }
    ctl_step(c, &in, &r->out);
    r->t += DT;
    return r->out.speed;
}

static void run_for(struct ctl *c, struct rig_in *r, double seconds)
{
    for (double end = r->t + seconds; r->t < end - 1e-9;)
        tick(c, r, 0);
}

/* Count queued events of one kind (and drain the queue). */
static int drain(struct ctl *c, enum ctl_event_kind kind, struct ctl_event *last)
{
    struct ctl_event ev;
    int n = 0;

    while (ctl_event_pop(c, &ev))
        if (ev.kind == kind) {
            n++;
            if (last)
                *last = ev;
        }
    return n;
}

/* A full stroke: the foot loads to `force` for `seconds` while the belt runs. */
static void stroke(struct ctl *c, struct rig_in *r, double force, double seconds)
{
    r->force = force;
    r->speed = 0.3;
    run_for(c, r, seconds);
    r->force = 0.0;
    run_for(c, r, 0.5);
}

static struct ctl ctl;

TEST(belt_does_not_move_until_start)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};

    ctl_init(&ctl, &cfg);
    run_for(&ctl, &r, 2.0);
    CHECK(ctl_speed_cmd(&ctl) == 0.0);
    CHECK(tick(&ctl, &r, HAL_BTN_START) > 0.0);
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "set_running");
    r.speed = cfg.control.start_speed;      /* the belt follows (the command waits for it) */
    run_for(&ctl, &r, 2.0);
    CHECK_NEAR(ctl_speed_cmd(&ctl), cfg.control.start_speed, 1e-9);
}

TEST(counted_reps_finish_sets_and_the_session)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05, .speed = 0.3};
    struct ctl_event last = {0};

    ctl_init(&ctl, &cfg);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 1.0);
    stroke(&ctl, &r, 80.0, 1.5);
    CHECK_INT(drain(&ctl, CTL_EV_REP, &last), 1);
    CHECK_INT(last.rep, 1);
    CHECK_NEAR(last.fig.travel_m, 0.45, 0.03);
    stroke(&ctl, &r, 80.0, 1.5);                  /* second rep ends set 1 */
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "rest");
    run_for(&ctl, &r, 1.0);
    CHECK(ctl_speed_cmd(&ctl) == 0.0);            /* the belt stops for the rest */
    r.speed = 0.0;                                /* ... and is still at the next start */
    CHECK(tick(&ctl, &r, HAL_BTN_START) == 0.0);  /* start refused while resting */
    run_for(&ctl, &r, 5.0);
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "ready");
    CHECK(ctl_speed_cmd(&ctl) == 0.0);            /* the rest ending does not start it */
    tick(&ctl, &r, HAL_BTN_START);
    r.speed = 0.3;
    run_for(&ctl, &r, 1.0);
    CHECK(ctl_speed_cmd(&ctl) > 0.0);
    stroke(&ctl, &r, 80.0, 1.5);
    stroke(&ctl, &r, 80.0, 1.5);
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "session_done");
    CHECK_INT(drain(&ctl, CTL_EV_SESSION, &last), 1);
    CHECK_INT(last.sum.counted, 4);
}

TEST(short_stroke_is_rejected_with_its_reason)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};
    struct ctl_event last = {0};

    ctl_init(&ctl, &cfg);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 1.0);
    stroke(&ctl, &r, 80.0, 0.3);
    CHECK_INT(drain(&ctl, CTL_EV_REJECT, &last), 1);
    CHECK_INT(last.fig.verdict, REP_TOO_SHORT);
    CHECK_INT(last.rep, 0);
}

/* Over-force latches, the stroke is aborted, the belt ramps to zero and stays there
 * through start presses until an operator reset, after which it starts from
 * speed_min. */
TEST(fault_latches_until_reset_and_restarts_from_minimum)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};
    struct ctl_event last = {0};
    double max_after = 0.0;

    ctl_init(&ctl, &cfg);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 1.0);
    r.force = 80.0;
    r.speed = 0.3;
    run_for(&ctl, &r, 0.5);
    r.force = 400.0;
    run_for(&ctl, &r, 0.3);
    CHECK_INT(ctl_fault(&ctl), FAULT_OVERFORCE);
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "fault");
    CHECK_INT(drain(&ctl, CTL_EV_FAULT, &last), 1);
    CHECK_NEAR(last.limit, cfg.limits.force_abort, 1e-9);
    r.force = 0.0;
    r.speed = 0.0;                                /* the belt comes to rest */
    for (int i = 0; i < 300; i++) {               /* 3 s of start presses */
        double cmd = tick(&ctl, &r, HAL_BTN_START);
        if (i > 100)
            max_after = fmax(max_after, cmd);
    }
    CHECK(max_after == 0.0);
    CHECK_INT(ctl_fault(&ctl), FAULT_OVERFORCE);  /* never clears by itself */
    tick(&ctl, &r, HAL_BTN_RESET);
    CHECK_INT(ctl_fault(&ctl), FAULT_NONE);
    run_for(&ctl, &r, 1.0);
    CHECK(ctl_speed_cmd(&ctl) == 0.0);            /* a reset alone moves nothing */
    tick(&ctl, &r, HAL_BTN_START);
    r.speed = cfg.limits.speed_min;               /* the belt follows */
    run_for(&ctl, &r, 2.0);
    CHECK_NEAR(ctl_speed_cmd(&ctl), cfg.limits.speed_min, 1e-9);
}

/* The operator's reset reaches the drive some ticks later: a status read before then still
 * says tripped and must not latch the fault again; a trip still there afterwards does. */
TEST(a_drive_trip_reset_waits_for_the_drive_to_take_it)
{
    static struct ctl c, d;
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {0}, q = {0};

    ctl_init(&c, &cfg);
    ctl_init(&d, &cfg);
    r.drive_tripped = q.drive_tripped = true;
    run_for(&c, &r, 0.1);
    run_for(&d, &q, 0.1);
    CHECK_INT(ctl_fault(&c), FAULT_DRIVE_TRIP);
    CHECK_INT(ctl_command(&c, CTL_CMD_RESET, r.t), CTL_OK);
    CHECK_INT(ctl_command(&d, CTL_CMD_RESET, q.t), CTL_OK);
    run_for(&c, &r, 0.2);                   /* the drive has not taken the reset yet */
    run_for(&d, &q, 0.2);
    CHECK_INT(ctl_fault(&c), FAULT_NONE);
    CHECK_INT(ctl_fault(&d), FAULT_NONE);
    r.drive_tripped = false;                /* c's drive takes it; d's stays tripped */
    run_for(&c, &r, 1.0);
    run_for(&d, &q, 1.0);
    CHECK_INT(ctl_fault(&c), FAULT_NONE);
    CHECK_INT(ctl_fault(&d), FAULT_DRIVE_TRIP);
}

TEST(reset_is_refused_while_the_estop_is_pressed)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};
    struct ctl_event ev;
    int refused = 0;

    ctl_init(&ctl, &cfg);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 0.5);
    r.estop = true;
    run_for(&ctl, &r, 0.1);
    CHECK_INT(ctl_fault(&ctl), FAULT_ESTOP);
    tick(&ctl, &r, HAL_BTN_RESET);
    while (ctl_event_pop(&ctl, &ev))
        refused += ev.kind == CTL_EV_COMMAND && ev.result == CTL_REFUSED_CAUSE;
    CHECK_INT(refused, 1);
    CHECK_INT(ctl_fault(&ctl), FAULT_ESTOP);
    r.estop = false;
    tick(&ctl, &r, HAL_BTN_RESET);
    CHECK_INT(ctl_fault(&ctl), FAULT_NONE);
}

TEST(stale_load_cell_faults)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};

    ctl_init(&ctl, &cfg);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 1.0);
    r.stale = true;
    run_for(&ctl, &r, cfg.limits.force_stale_s - 0.05);
    CHECK_INT(ctl_fault(&ctl), FAULT_NONE);
    run_for(&ctl, &r, 0.1);
    CHECK_INT(ctl_fault(&ctl), FAULT_FORCE_STALE);
}

TEST(silent_belt_sensor_faults_while_commanded)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};

    ctl_init(&ctl, &cfg);
    tick(&ctl, &r, HAL_BTN_START);      /* commanded, but the belt never moves */
    run_for(&ctl, &r, cfg.limits.speed_silent_s - 0.1);
    CHECK_INT(ctl_fault(&ctl), FAULT_NONE);
    run_for(&ctl, &r, 0.5);
    CHECK_INT(ctl_fault(&ctl), FAULT_SPEED_SILENT);
}

TEST(stop_button_pauses_and_keeps_counted_reps)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};

    ctl_init(&ctl, &cfg);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 1.0);
    stroke(&ctl, &r, 80.0, 1.5);
    tick(&ctl, &r, HAL_BTN_STOP);
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "paused");
    run_for(&ctl, &r, 1.0);
    CHECK(ctl_speed_cmd(&ctl) == 0.0);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 1.0);
    stroke(&ctl, &r, 80.0, 1.5);                  /* the second rep finishes set 1 */
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "rest");
}

/* Stop is carried out whenever it comes; it answers refused_state only when nothing moves:
 * no set, no command, the drive's stopping time over and the belt measured still. */
TEST(stop_with_nothing_moving_is_refused_state)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};
    double settle = cfg.drive.decel_time_s + cfg.drive.dead_time_s + 1.0;

    ctl_init(&ctl, &cfg);
    run_for(&ctl, &r, 1.0);
    CHECK_INT(ctl_command(&ctl, CTL_CMD_STOP, r.t), CTL_REFUSED_STATE);   /* idle, still */
    CHECK_INT(ctl_command(&ctl, CTL_CMD_START, r.t), CTL_OK);
    run_for(&ctl, &r, 1.0);
    CHECK(ctl_speed_cmd(&ctl) > 0.0);
    CHECK_INT(ctl_command(&ctl, CTL_CMD_STOP, r.t), CTL_OK);             /* a set runs */
    tick(&ctl, &r, 0);
    CHECK_INT(ctl_command(&ctl, CTL_CMD_STOP, r.t), CTL_OK);             /* still stopping */
    run_for(&ctl, &r, settle);
    CHECK(ctl_speed_cmd(&ctl) == 0.0);
    CHECK_INT(ctl_command(&ctl, CTL_CMD_STOP, r.t), CTL_REFUSED_STATE);  /* at rest now */
    r.speed = 0.3;                                /* something else turns the belt */
    run_for(&ctl, &r, 1.0);
    CHECK_INT(ctl_command(&ctl, CTL_CMD_STOP, r.t), CTL_OK);
}

/* Between strokes (foot off, zero force) the speed is held, not raised. */
TEST(speed_is_held_between_strokes)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05, .speed = 0.3};
    double before;

    ctl_init(&ctl, &cfg);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 2.0);
    before = ctl_speed_cmd(&ctl);
    run_for(&ctl, &r, 5.0);
    CHECK_NEAR(ctl_speed_cmd(&ctl), before, 1e-12);
}

TEST(event_queue_keeps_the_newest_when_full)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};
    struct ctl_event ev;
    int n = 0;

    ctl_init(&ctl, &cfg);
    for (int i = 0; i < CTL_EVENTS + 10; i++)
        tick(&ctl, &r, HAL_BTN_NEXT);             /* each refused press is an event */
    CHECK_INT(ctl_events_dropped(&ctl), 10);
    while (ctl_event_pop(&ctl, &ev))
        n++;
    CHECK_INT(n, CTL_EVENTS);
}

/* What a run's events say, gathered (the queue is drained on every call). */
struct seen {
    int strokes[16], n_strokes;     /* stroke numbers of REP and REJECT, in order */
    double band_s, window_s;        /* summed over those strokes */
    double t_start;                 /* the resumed SET_START's time */
    int set_starts, resumed_starts, set_start_rep;
    struct ctl_event set, session;  /* the latest SET and SESSION */
    int sets, sessions;
};

static void gather(struct ctl *c, struct seen *s)
{
    struct ctl_event ev;

    while (ctl_event_pop(c, &ev)) {
        if ((ev.kind == CTL_EV_REP || ev.kind == CTL_EV_REJECT) && s->n_strokes < 16) {
            s->strokes[s->n_strokes++] = ev.stroke;
            s->band_s += ev.fig.in_band_s;
            s->window_s += ev.fig.window_s;
        } else if (ev.kind == CTL_EV_SET_START) {
            s->set_starts++;
            s->resumed_starts += ev.resumed;
            s->set_start_rep = ev.rep;
            s->t_start = ev.t;
        } else if (ev.kind == CTL_EV_SET) {
            s->set = ev;
            s->sets++;
        } else if (ev.kind == CTL_EV_SESSION) {
            s->session = ev;
            s->sessions++;
        }
    }
}

/* After a restart in the middle of set 2 (6 strokes so far: set 1 done with 3 reps and 1
 * reject, set 2 with 1 rep and 1 too-short stroke in 20 s), the strokes are numbered on
 * from 7, and set 2's line covers the whole set: counts, rejects by reason, time in band
 * and its duration (20 s before the restart plus the time since the resumed start). */
TEST(resume_goes_on_numbering_and_the_set_covers_its_whole)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};
    struct ctl_resume res = {.set = 2, .reps = 1, .strokes = 6, .in_band_s = 2.5,
                             .window_s = 3.0, .set_s = 20.0, .done_counted = 3,
                             .done_rejected = 1};
    struct seen s = {0};
    double t_end;

    cfg.protocol.reps_per_set = 3;
    res.rejected[REP_TOO_SHORT] = 1;
    ctl_init(&ctl, &cfg);
    CHECK_INT(ctl_resume(&ctl, &res), CTL_OK);
    run_for(&ctl, &r, 3.0);                         /* waits, paused, for a start */
    CHECK(ctl_speed_cmd(&ctl) == 0.0);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 1.0);
    stroke(&ctl, &r, 80.0, 1.5);                    /* rep 2, stroke 7 */
    stroke(&ctl, &r, 80.0, 0.3);                    /* too short, stroke 8 */
    stroke(&ctl, &r, 80.0, 1.5);                    /* rep 3, stroke 9: set 2 and the session end */
    t_end = r.t;
    gather(&ctl, &s);
    CHECK_INT(s.n_strokes, 3);
    CHECK_INT(s.strokes[0], 7);
    CHECK_INT(s.strokes[1], 8);
    CHECK_INT(s.strokes[2], 9);
    CHECK_INT(s.resumed_starts, 1);
    CHECK_INT(s.set_start_rep, 1);
    CHECK_INT(s.sets, 1);
    CHECK_INT(s.set.set, 2);
    CHECK_INT(s.set.sum.counted, 3);
    CHECK_INT(s.set.sum.rejected, 2);
    CHECK_INT(s.set.sum.by_verdict[REP_TOO_SHORT], 2);
    CHECK(s.window_s > 1.0);
    CHECK_NEAR(s.set.sum.in_band_share, (2.5 + s.band_s) / (3.0 + s.window_s), 1e-9);
    /* 20 s before the restart, then from the resumed start to the last rep (the SET line) */
    CHECK(s.set.t > s.t_start + 4.0 && s.set.t < t_end);
    CHECK_NEAR(s.set.sum.duration_s, 20.0 + (s.set.t - s.t_start), 1e-9);
    CHECK_INT(s.sessions, 1);
    CHECK_INT(s.session.sum.counted, 6);
    CHECK_INT(s.session.sum.rejected, 3);
}

/* A restart between sets (set 1 had finished: cut short at 2 reps by next-set, with 2
 * rejects): the next start begins set 2 at once, numbering goes on, and the session's
 * totals include set 1's. */
TEST(resume_after_a_finished_set_begins_the_next_one)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05};
    struct ctl_resume res = {.set = 1, .reps = 2, .strokes = 4, .done_counted = 2,
                             .done_rejected = 2, .set_s = 30.0};
    struct seen s = {0};

    ctl_init(&ctl, &cfg);                           /* 2 reps a set: set 1 is finished */
    CHECK_INT(ctl_resume(&ctl, &res), CTL_OK);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 1.0);
    stroke(&ctl, &r, 80.0, 1.5);
    stroke(&ctl, &r, 80.0, 1.5);
    gather(&ctl, &s);
    CHECK_INT(s.n_strokes, 2);
    CHECK_INT(s.strokes[0], 5);
    CHECK_INT(s.strokes[1], 6);
    CHECK_INT(s.set.set, 2);
    CHECK_INT(s.set.sum.counted, 2);
    CHECK_INT(s.set.sum.rejected, 0);
    CHECK(s.set.sum.duration_s < 10.0);             /* a new set: set 1's time is not in it */
    CHECK_INT(s.session.sum.counted, 4);
    CHECK_INT(s.session.sum.rejected, 2);
}

TEST(resume_refuses_what_cannot_be)
{
    struct ecc_config cfg = cfg_default();
    struct ctl_resume bad[] = {
        {.set = 0, .reps = 0},
        {.set = 3, .reps = 0},                      /* 2 sets a session */
        {.set = 1, .reps = -1},
        {.set = 2, .reps = 2},                      /* the session had finished */
        {.set = 1, .reps = 0, .strokes = -1},
        {.set = 1, .reps = 0, .set_s = NAN},
        {.set = 1, .reps = 0, .window_s = -1.0},
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ctl_init(&ctl, &cfg);
        CHECK_INT(ctl_resume(&ctl, &bad[i]), CTL_REFUSED_STATE);
    }
    ctl_init(&ctl, &cfg);
    CHECK_INT(ctl_resume(&ctl, &(struct ctl_resume){.set = 1, .reps = 0}), CTL_OK);
    CHECK_INT(ctl_resume(&ctl, &(struct ctl_resume){.set = 1, .reps = 0}), CTL_REFUSED_STATE);
}

/* Everything the actuators do comes out of the tick: with drive.stop_mode = coast the tick a
 * fault latches asks for a coast stop (once), the enable output is dropped while it is
 * latched, and the tick that takes the operator's reset passes it to the drive (once). */
TEST(the_tick_decides_coast_reset_and_enable)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05, .speed = 0.3};
    int coasts = 0, resets = 0;

    cfg.drive.stop_mode = CFG_STOP_COAST;
    ctl_init(&ctl, &cfg);
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 1.0);
    CHECK(r.out.enable && !r.out.coast && !r.out.drive_reset);
    r.force = 400.0;                              /* over the abort force */
    for (int i = 0; i < 100 && ctl_fault(&ctl) == FAULT_NONE; i++)
        tick(&ctl, &r, 0);
    REQUIRE(ctl_fault(&ctl) == FAULT_OVERFORCE);
    CHECK(r.out.coast);                           /* on the tick it latched */
    CHECK(!r.out.enable);
    CHECK(r.out.speed == 0.0);
    r.force = 0.0;
    r.speed = 0.0;
    for (int i = 0; i < 50; i++) {
        tick(&ctl, &r, 0);
        coasts += r.out.coast;
        CHECK(!r.out.enable);
    }
    CHECK_INT(coasts, 0);                         /* once, not every tick */
    tick(&ctl, &r, HAL_BTN_RESET);
    CHECK(r.out.drive_reset);
    CHECK(r.out.enable);
    for (int i = 0; i < 50; i++) {
        tick(&ctl, &r, 0);
        resets += r.out.drive_reset;
    }
    CHECK_INT(resets, 0);

    cfg.drive.stop_mode = CFG_STOP_RAMP;          /* a ramp stop: no coast asked for */
    ctl_init(&ctl, &cfg);
    r = (struct rig_in){.next_pulse_x = 0.05, .speed = 0.3};
    tick(&ctl, &r, HAL_BTN_START);
    run_for(&ctl, &r, 1.0);
    r.force = 400.0;
    for (int i = 0; i < 100 && ctl_fault(&ctl) == FAULT_NONE; i++)
        tick(&ctl, &r, 0);
    REQUIRE(ctl_fault(&ctl) == FAULT_OVERFORCE);
    CHECK(!r.out.coast && !r.out.enable);
}

/* ---- the programme ------------------------------------------------------------------ */

#define MON_0800 1767600000.0   /* 2026-01-05 08:00 UTC */

static void programme_on(struct ctl *c, const struct ecc_config *cfg)
{
    struct prog_rules rules;
    struct prog p;
    const struct prog_plan plan = {.active = true, .start = MON_0800 - 3600.0, .weeks = 12,
                                   .sessions_per_day = 2, .band_low = 60, .band_high = 100,
                                   .step_share = 0.05, .floor_n = 50, .ceiling_n = 160,
                                   .baseline = 2};

    ctl_prog_rules(cfg, &rules);
    prog_init(&p, &rules, &plan, cfg->protocol.day_start_h * 3600.0);
    CHECK_INT(ctl_set_programme(c, &p), CTL_OK);
}

/* Count the PROGRESSION events of one kind among those queued (the queue is drained). */
static int drain_prog(struct ctl *c, enum prog_kind kind, struct ctl_event *last)
{
    struct ctl_event ev;
    int n = 0;

    while (ctl_event_pop(c, &ev))
        if (ev.kind == CTL_EV_PROGRESSION && ev.prog == kind) {
            n++;
            if (last)
                *last = ev;
        }
    return n;
}

TEST(pain_above_the_limit_ends_the_session_between_sets_and_the_next_starts_lower)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05, .speed = 0.3, .wall0 = MON_0800};
    struct ctl_event last = {0};
    struct ctl_status st;
    struct prog p;

    ctl_init(&ctl, &cfg);
    programme_on(&ctl, &cfg);
    ctl_status(&ctl, &st);
    CHECK(st.programme);
    CHECK_NEAR(st.band_high, 100.0, 1e-9);
    tick(&ctl, &r, HAL_BTN_START);
    p = *ctl_programme(&ctl);
    CHECK_INT(ctl_set_programme(&ctl, &p), CTL_REFUSED_STATE);    /* not during a session */
    run_for(&ctl, &r, 1.0);
    stroke(&ctl, &r, 80.0, 1.5);
    stroke(&ctl, &r, 80.0, 1.5);
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "rest");
    drain(&ctl, CTL_EV_REP, NULL);
    ctl_checkin(&ctl, CTL_CHECKIN_PAIN, 5, true);        /* 5 is acceptable: on */
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "rest");
    CHECK_INT(drain(&ctl, CTL_EV_CHECKIN, &last), 1);
    CHECK_NEAR(last.value, 5.0, 0.0);
    CHECK_INT(last.checkin, CTL_CHECKIN_PAIN);
    ctl_checkin(&ctl, CTL_CHECKIN_PAIN, 6, false);       /* 6 is not: the session ends */
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "session_done");
    ctl_status(&ctl, &st);
    CHECK_INT(st.level, -1);
    CHECK_NEAR(st.band_low, 57.0, 1e-9);                 /* applied between sessions */
    CHECK_NEAR(st.band_high, 95.0, 1e-9);
    CHECK_INT(drain(&ctl, CTL_EV_SESSION, &last), 1);    /* no CHECKIN: record was false */
    CHECK_INT(last.sets, 1);
    ctl_checkin(&ctl, CTL_CHECKIN_PAIN, 8, false);       /* again, same session: no step */
    CHECK_INT(drain_prog(&ctl, PROG_DOWN, NULL), 0);
    CHECK_INT(prog_plan(ctl_programme(&ctl))->level, -1);
    r.force = 0.0;
    r.speed = 0.0;
    run_for(&ctl, &r, 4.0 * 3600.0);                     /* the day's gap */
    tick(&ctl, &r, HAL_BTN_START);
    CHECK_INT(drain(&ctl, CTL_EV_SESSION_START, &last), 1);
    CHECK_NEAR(last.band_low, 57.0, 1e-9);
    CHECK_NEAR(last.band_high, 95.0, 1e-9);
}

TEST(a_morning_rise_steps_down_at_once_between_sessions_and_a_locked_plan_holds)
{
    struct ecc_config cfg = cfg_default();
    struct rig_in r = {.next_pulse_x = 0.05, .wall0 = MON_0800};
    struct ctl_event last = {0};
    struct ctl_status st;
    struct prog p;

    ctl_init(&ctl, &cfg);
    programme_on(&ctl, &cfg);
    tick(&ctl, &r, 0);
    ctl_checkin(&ctl, CTL_CHECKIN_MORNING, 4, true);
    CHECK_INT(drain_prog(&ctl, PROG_DOWN, &last), 1);
    CHECK_NEAR(last.band_high, 95.0, 1e-9);
    CHECK_STR_CONTAINS(last.cause, "morning score 4/10");
    ctl_status(&ctl, &st);
    CHECK_NEAR(st.band_high, 95.0, 1e-9);
    p = *ctl_programme(&ctl);
    p.plan.locked = true;
    CHECK_INT(ctl_set_programme(&ctl, &p), CTL_OK);
    ctl_checkin(&ctl, CTL_CHECKIN_MORNING, 6, true);
    CHECK_INT(drain_prog(&ctl, PROG_HOLD, &last), 1);
    CHECK_STR_CONTAINS(last.cause, "locked");
    ctl_status(&ctl, &st);
    CHECK_NEAR(st.band_high, 95.0, 1e-9);
    CHECK(st.locked);
}

TEST(a_programme_band_outside_the_config_is_refused)
{
    struct ecc_config cfg = cfg_default();
    struct prog_rules rules;
    struct prog p;
    const struct prog_plan plan = {.active = true, .start = MON_0800, .weeks = 12,
                                   .sessions_per_day = 2, .band_low = 150, .band_high = 260,
                                   .step_share = 0.05, .floor_n = 50, .ceiling_n = 300,
                                   .baseline = NAN};

    ctl_init(&ctl, &cfg);
    ctl_prog_rules(&cfg, &rules);
    prog_init(&p, &rules, &plan, 0.0);
    CHECK_INT(ctl_set_programme(&ctl, &p), CTL_REFUSED_STATE);  /* 260 N >= force_abort */
    CHECK(!prog_plan(ctl_programme(&ctl))->active);
}

TESTS(T(pain_above_the_limit_ends_the_session_between_sets_and_the_next_starts_lower),
      T(a_morning_rise_steps_down_at_once_between_sessions_and_a_locked_plan_holds),
      T(a_programme_band_outside_the_config_is_refused),
      T(belt_does_not_move_until_start), T(counted_reps_finish_sets_and_the_session),
      T(the_tick_decides_coast_reset_and_enable),
      T(short_stroke_is_rejected_with_its_reason),
      T(fault_latches_until_reset_and_restarts_from_minimum),
      T(a_drive_trip_reset_waits_for_the_drive_to_take_it),
      T(reset_is_refused_while_the_estop_is_pressed), T(stale_load_cell_faults),
      T(silent_belt_sensor_faults_while_commanded), T(stop_button_pauses_and_keeps_counted_reps),
      T(stop_with_nothing_moving_is_refused_state),
      T(speed_is_held_between_strokes), T(event_queue_keeps_the_newest_when_full),
      T(resume_goes_on_numbering_and_the_set_covers_its_whole),
      T(resume_after_a_finished_set_begins_the_next_one), T(resume_refuses_what_cannot_be));
TEST_MAIN("test_ctl")
