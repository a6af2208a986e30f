/* test_preflight.c - the checks before the belt may move: each failing part alone gives
 * its own verdict, in the stated order, with the measured value; eccd's controller refuses
 * a start on any of them and says which. */
#include <math.h>
#include <string.h>

#include "controller/ctl.h"
#include "controller/event.h"
#include "controller/preflight.h"
#include "tests/test.h"

static struct hal_drive_status drive_ok(void)
{
    return (struct hal_drive_status){.present = true, .healthy = true, .speed_mps = 0.0,
                                     .t_speed = 9.95};
}

/* A rig that passes: now 10 s, fresh samples, the foot off, nothing moving. */
static struct preflight_input ready(const struct hal_drive_status *d)
{
    return (struct preflight_input){
        .now = 10.0, .drive = d, .t_last_force = 9.99, .force_raw = 0.4,
        .force_stale_s = 0.5, .force_negative_n = 30.0, .force_full_scale = 1000.0,
        .contact_n = 15.0, .check_zero = true, .speed_pulse = NAN};
}

TEST(a_ready_rig_passes)
{
    struct hal_drive_status d = drive_ok();
    struct preflight_input in = ready(&d);
    double v = 0.0;

    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_OK);
    CHECK(isnan(v));
    d.present = false;                  /* a PWM board: nothing to ask it */
    d.healthy = false;
    CHECK_INT(preflight_check(&in, NULL), PREFLIGHT_OK);
}

TEST(each_part_alone_fails_its_own_check)
{
    struct hal_drive_status d;
    struct preflight_input in;
    double v;

    d = drive_ok(); in = ready(&d); in.estop = true;
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_ESTOP);

    d = drive_ok(); in = ready(&d); d.healthy = false;
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_DRIVE_SILENT);
    d = drive_ok(); in = ready(&d); d.t_speed = -1.0;       /* never answered */
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_DRIVE_SILENT);
    d = drive_ok(); in = ready(&d); d.t_speed = 8.5;        /* answered 1.5 s ago */
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_DRIVE_SILENT);
    CHECK_NEAR(v, 1.5, 1e-9);
    d = drive_ok(); in = ready(&d); d.tripped = true; d.fault_code = 7;
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_DRIVE_TRIPPED);
    CHECK_NEAR(v, 7.0, 1e-9);
    d = drive_ok(); in = ready(&d); d.speed_mps = 0.25;
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_DRIVE_RUNNING);
    CHECK_NEAR(v, 0.25, 1e-9);

    d = drive_ok(); in = ready(&d); in.t_last_force = -1.0;
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_FORCE_SILENT);
    d = drive_ok(); in = ready(&d); in.t_last_force = 9.2;
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_FORCE_SILENT);
    CHECK_NEAR(v, 0.8, 1e-9);
    d = drive_ok(); in = ready(&d); in.force_raw = -97648.65;   /* a word order swapped */
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_FORCE_IMPLAUSIBLE);
    d = drive_ok(); in = ready(&d); in.force_raw = 1000.0;
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_FORCE_IMPLAUSIBLE);
    d = drive_ok(); in = ready(&d); in.force_raw = NAN;
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_FORCE_IMPLAUSIBLE);
    d = drive_ok(); in = ready(&d); in.force_raw = 40.0;         /* a foot on the plate */
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_FORCE_LOADED);
    CHECK_NEAR(v, 40.0, 1e-9);
    in.check_zero = false;                                       /* a later set: allowed */
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_OK);

    d = drive_ok(); in = ready(&d); in.speed_pulse = 0.1;
    CHECK_INT(preflight_check(&in, &v), PREFLIGHT_BELT_MOVING);
}

TEST(motion_eccd_still_commands_is_no_failure)
{
    struct hal_drive_status d = drive_ok();
    struct preflight_input in = ready(&d);

    d.speed_mps = 0.2;
    in.speed_pulse = 0.2;
    in.commanded = true;
    CHECK_INT(preflight_check(&in, NULL), PREFLIGHT_OK);
    in.commanded = false;
    CHECK_INT(preflight_check(&in, NULL), PREFLIGHT_DRIVE_RUNNING);
}

TEST(the_first_failure_in_order_wins)
{
    struct hal_drive_status d = drive_ok();
    struct preflight_input in = ready(&d);

    in.estop = true;
    d.tripped = true;
    in.t_last_force = -1.0;
    CHECK_INT(preflight_check(&in, NULL), PREFLIGHT_ESTOP);
    in.estop = false;
    CHECK_INT(preflight_check(&in, NULL), PREFLIGHT_DRIVE_TRIPPED);
    d.tripped = false;
    CHECK_INT(preflight_check(&in, NULL), PREFLIGHT_FORCE_SILENT);
}

TEST(every_verdict_has_a_name_a_part_and_words)
{
    for (int v = 0; v < PREFLIGHT_COUNT; v++) {
        CHECK(strcmp(preflight_name((enum preflight_verdict)v), "unknown") != 0);
        CHECK(strlen(preflight_text((enum preflight_verdict)v)) > 4);
        if (v != PREFLIGHT_OK)
            CHECK(preflight_part((enum preflight_verdict)v) != PREFLIGHT_PART_NONE);
    }
    CHECK(strcmp(preflight_part_name(preflight_part(PREFLIGHT_FORCE_SILENT)), "load cell") == 0);
    CHECK(strcmp(preflight_part_name(preflight_part(PREFLIGHT_DRIVE_SILENT)), "drive") == 0);
}

/* ---- through the controller ------------------------------------------------------------ */

static struct ctl ctl;

struct rig {
    double t, force, drive_speed;
    bool drive_answers;
};

static double tick(struct rig *r, unsigned pressed)
{
    double ft[1] = {r->t}, fn[1] = {r->force};
    struct ctl_input in = {.now = r->t, .pressed = pressed, .force_t = ft, .force_n = fn,
                           .n_force = 1};
    double cmd;

    in.drive = (struct hal_drive_status){.present = true, .healthy = r->drive_answers,
                                         .speed_mps = r->drive_speed,
                                         .t_speed = r->drive_answers ? r->t : -1.0};
    cmd = ctl_tick(&ctl, &in);
    r->t += 0.01;
    return cmd;
}

static int count_events(enum ctl_event_kind kind, struct ctl_event *last)
{
    struct ctl_event ev = {0};
    int n = 0;

    while (ctl_event_pop(&ctl, &ev))
        if (ev.kind == kind) {
            n++;
            *last = ev;
        }
    return n;
}

static struct ecc_config config(void)
{
    struct ecc_config cfg;
    char err[256];

    config_defaults(&cfg);
    config_check(&cfg, err, sizeof err);
    return cfg;
}

TEST(a_foot_on_the_plate_refuses_the_start_and_the_belt_stays_still)
{
    struct ecc_config cfg = config();
    struct rig r = {.force = 40.0, .drive_answers = true};
    struct ctl_event ev = {0};
    char line[EVENT_LINE_MAX];
    double max_cmd = 0.0;

    ctl_init(&ctl, &cfg);
    for (int i = 0; i < 100; i++)
        tick(&r, 0);
    for (int i = 0; i < 50; i++)
        max_cmd = fmax(max_cmd, tick(&r, i == 0 ? HAL_BTN_START : 0));
    CHECK(max_cmd == 0.0);
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "idle");
    (void)count_events(CTL_EV_PREFLIGHT, &ev);
    ctl_command(&ctl, CTL_CMD_START, r.t);
    CHECK_INT(count_events(CTL_EV_COMMAND, &ev), 1);
    CHECK_INT(ev.result, CTL_REFUSED_PREFLIGHT);
    CHECK_INT(ev.preflight, PREFLIGHT_FORCE_LOADED);
    CHECK(event_text(&ev, line, sizeof line) > 0);
    CHECK_STR_CONTAINS(line, "load cell");
    CHECK_STR_CONTAINS(line, "take the foot off");
    CHECK(event_json(&ev, line, sizeof line) > 0);
    CHECK_STR_CONTAINS(line, "\"result\":\"refused_preflight\"");
    CHECK_STR_CONTAINS(line, "\"check\":\"force_loaded\"");

    r.force = 0.3;                      /* the foot comes off: the start goes */
    for (int i = 0; i < 10; i++)
        tick(&r, 0);
    CHECK(tick(&r, HAL_BTN_START) > 0.0);
    CHECK_STR_CONTAINS(ctl_state_name(&ctl), "set_running");
}

TEST(a_silent_drive_refuses_and_the_verdict_is_reported_once_it_holds)
{
    struct ecc_config cfg = config();
    struct rig r = {.drive_answers = false};
    struct ctl_event ev = {0};
    int said = 0;

    ctl_init(&ctl, &cfg);
    for (int i = 0; i < 30; i++) {      /* 0.3 s: not yet held long enough to say */
        tick(&r, 0);
        said += count_events(CTL_EV_PREFLIGHT, &ev);
    }
    CHECK_INT(said, 0);
    for (int i = 0; i < 100; i++) {
        tick(&r, 0);
        said += count_events(CTL_EV_PREFLIGHT, &ev);
    }
    CHECK_INT(said, 1);                 /* said once, not every tick */
    CHECK_INT(ev.preflight, PREFLIGHT_DRIVE_SILENT);
    CHECK(tick(&r, HAL_BTN_START) == 0.0);
    CHECK_INT(ctl_preflight(&ctl), PREFLIGHT_DRIVE_SILENT);
    r.drive_answers = true;             /* the drive comes up: ready said once */
    said = 0;
    for (int i = 0; i < 100; i++) {
        tick(&r, 0);
        said += count_events(CTL_EV_PREFLIGHT, &ev);
    }
    CHECK_INT(said, 1);
    CHECK_INT(ev.preflight, PREFLIGHT_OK);
    CHECK(tick(&r, HAL_BTN_START) > 0.0);
}

TEST(a_drive_running_on_its_own_refuses_the_start)
{
    struct ecc_config cfg = config();
    struct rig r = {.drive_answers = true, .drive_speed = 0.3};

    ctl_init(&ctl, &cfg);
    for (int i = 0; i < 100; i++)
        tick(&r, 0);
    CHECK(tick(&r, HAL_BTN_START) == 0.0);
    CHECK_INT(ctl_preflight(&ctl), PREFLIGHT_DRIVE_RUNNING);
}

TESTS(T(a_ready_rig_passes), T(each_part_alone_fails_its_own_check),
      T(motion_eccd_still_commands_is_no_failure), T(the_first_failure_in_order_wins),
      T(every_verdict_has_a_name_a_part_and_words),
      T(a_foot_on_the_plate_refuses_the_start_and_the_belt_stays_still),
      T(a_silent_drive_refuses_and_the_verdict_is_reported_once_it_holds),
      T(a_drive_running_on_its_own_refuses_the_start));
TEST_MAIN("test_preflight")
