/* test_protocol.c - the sets/sessions state machine on an injected clock. */
#include "controller/protocol.h"
#include "tests/test.h"

#define EXACT 1e-9

static const struct proto_params three_by_fifteen = {
    .reps_per_set = 15, .sets_per_session = 3, .rest_s = 60.0,
};

/* Count n reps, one per second from *now; returns the event of the last one. */
static enum proto_event count_reps(struct proto *p, int n, double *now)
{
    enum proto_event ev = PROTO_EV_NONE;
    for (int i = 0; i < n; i++) {
        *now += 1.0;
        ev = proto_rep_counted(p, *now);
    }
    return ev;
}

/* Count a set of n reps up to its last rep and check nothing fired before it. */
static enum proto_event finish_set(struct proto *p, int n, double *now)
{
    CHECK_INT(count_reps(p, n - 1, now), PROTO_EV_NONE);
    CHECK_INT(proto_reps(p), n - 1);
    return count_reps(p, 1, now);
}

TEST(full_session_three_sets_of_fifteen)
{
    struct proto p;
    double now = 0.0;
    proto_init(&p, &three_by_fifteen);

    CHECK_INT(proto_state(&p), PROTO_IDLE);
    CHECK(!proto_belt_should_run(&p));
    CHECK_INT(proto_session(&p), 0);
    CHECK_INT(proto_set(&p), 0);

    CHECK_INT(proto_command(&p, PROTO_CMD_START, now), PROTO_OK);
    for (int set = 1; set <= 3; set++) {
        CHECK_INT(proto_state(&p), PROTO_SET_RUNNING);
        CHECK(proto_belt_should_run(&p));
        CHECK_INT(proto_session(&p), 1);
        CHECK_INT(proto_set(&p), set);
        CHECK_INT(proto_reps(&p), 0);
        enum proto_event ev = finish_set(&p, 15, &now);
        CHECK_INT(proto_reps(&p), 15);
        if (set == 3) {
            CHECK_INT(ev, PROTO_EV_SESSION_DONE);
            break;
        }
        /* set done at now: rest runs until now + 60 */
        double done_at = now;
        CHECK_INT(ev, PROTO_EV_SET_DONE);
        CHECK_INT(proto_state(&p), PROTO_REST);
        CHECK(!proto_belt_should_run(&p));
        CHECK_NEAR(proto_rest_left(&p, done_at), 60.0, EXACT);
        CHECK_NEAR(proto_rest_left(&p, done_at + 45.0), 15.0, EXACT);
        CHECK_INT(proto_tick(&p, done_at + 59.5), PROTO_EV_NONE);
        CHECK_INT(proto_state(&p), PROTO_REST);
        CHECK_INT(proto_tick(&p, done_at + 60.0), PROTO_EV_REST_OVER);
        CHECK_INT(proto_state(&p), PROTO_READY);
        CHECK(!proto_belt_should_run(&p));           /* ready waits for the operator */
        CHECK_NEAR(proto_rest_left(&p, done_at + 60.0), 0.0, EXACT);
        CHECK_INT(proto_tick(&p, done_at + 100.0), PROTO_EV_NONE);
        now = done_at + 100.0;
        CHECK_INT(proto_command(&p, PROTO_CMD_START, now), PROTO_OK);
    }
    CHECK_INT(proto_state(&p), PROTO_SESSION_DONE);
    CHECK(!proto_belt_should_run(&p));
    CHECK_INT(proto_session(&p), 1);
    CHECK_INT(proto_set(&p), 3);
    /* reps after the session are ignored */
    CHECK_INT(proto_rep_counted(&p, now + 1.0), PROTO_EV_NONE);
    CHECK_INT(proto_reps(&p), 15);
}

TEST(start_refused_during_rest_and_while_running)
{
    struct proto p;
    double now = 0.0;
    proto_init(&p, &three_by_fifteen);

    CHECK_INT(proto_command(&p, PROTO_CMD_START, now), PROTO_OK);
    CHECK_INT(proto_command(&p, PROTO_CMD_START, now), PROTO_REFUSED_STATE);
    CHECK_INT(finish_set(&p, 15, &now), PROTO_EV_SET_DONE);
    CHECK_INT(proto_command(&p, PROTO_CMD_START, now + 10.0), PROTO_REFUSED_RESTING);
    CHECK_INT(proto_state(&p), PROTO_REST);
    CHECK_INT(proto_set(&p), 1);
    CHECK_NEAR(proto_rest_left(&p, now + 10.0), 50.0, EXACT);
}

TEST(next_set_skips_rest)
{
    struct proto p;
    double now = 0.0;
    proto_init(&p, &three_by_fifteen);

    CHECK_INT(proto_command(&p, PROTO_CMD_NEXT_SET, now), PROTO_REFUSED_STATE);   /* idle */
    proto_command(&p, PROTO_CMD_START, now);
    CHECK_INT(proto_command(&p, PROTO_CMD_NEXT_SET, now), PROTO_REFUSED_STATE);   /* running */
    finish_set(&p, 15, &now);

    CHECK_INT(proto_command(&p, PROTO_CMD_NEXT_SET, now + 5.0), PROTO_OK);        /* rest */
    CHECK_INT(proto_state(&p), PROTO_SET_RUNNING);
    CHECK_INT(proto_set(&p), 2);
    CHECK_INT(proto_reps(&p), 0);
    CHECK_NEAR(proto_rest_left(&p, now + 5.0), 0.0, EXACT);
    CHECK_INT(proto_tick(&p, now + 100.0), PROTO_EV_NONE);   /* the old timer is gone */
    CHECK_INT(proto_state(&p), PROTO_SET_RUNNING);

    now += 100.0;
    finish_set(&p, 15, &now);
    proto_tick(&p, now + 60.0);
    CHECK_INT(proto_state(&p), PROTO_READY);
    CHECK_INT(proto_command(&p, PROTO_CMD_NEXT_SET, now + 61.0), PROTO_OK);       /* ready */
    CHECK_INT(proto_set(&p), 3);

    CHECK_INT(proto_command(&p, PROTO_CMD_STOP, now + 62.0), PROTO_OK);
    CHECK_INT(proto_command(&p, PROTO_CMD_NEXT_SET, now + 63.0), PROTO_REFUSED_STATE); /* paused */
    CHECK_INT(proto_set(&p), 3);
}

TEST(stop_and_resume_keep_counted_reps)
{
    struct proto p;
    double now = 0.0;
    proto_init(&p, &three_by_fifteen);

    proto_command(&p, PROTO_CMD_START, now);
    count_reps(&p, 7, &now);
    CHECK_INT(proto_command(&p, PROTO_CMD_STOP, now), PROTO_OK);
    CHECK_INT(proto_state(&p), PROTO_PAUSED);
    CHECK(!proto_belt_should_run(&p));
    CHECK_INT(proto_command(&p, PROTO_CMD_STOP, now), PROTO_OK);       /* again: harmless */
    CHECK_INT(proto_rep_counted(&p, now + 1.0), PROTO_EV_NONE);        /* ignored while paused */
    CHECK_INT(proto_reps(&p), 7);

    CHECK_INT(proto_command(&p, PROTO_CMD_START, now + 30.0), PROTO_OK);
    CHECK_INT(proto_state(&p), PROTO_SET_RUNNING);
    CHECK_INT(proto_session(&p), 1);
    CHECK_INT(proto_set(&p), 1);
    CHECK_INT(proto_reps(&p), 7);
    now += 30.0;
    CHECK_INT(count_reps(&p, 8, &now), PROTO_EV_SET_DONE);             /* 7 + 8 = 15 */
}

TEST(stop_outside_a_set_changes_nothing)
{
    struct proto p;
    double now = 0.0;
    proto_init(&p, &three_by_fifteen);

    CHECK_INT(proto_command(&p, PROTO_CMD_STOP, now), PROTO_OK);
    CHECK_INT(proto_state(&p), PROTO_IDLE);
    CHECK_INT(proto_session(&p), 0);

    proto_command(&p, PROTO_CMD_START, now);
    finish_set(&p, 15, &now);
    double done_at = now;
    CHECK_INT(proto_command(&p, PROTO_CMD_STOP, done_at + 1.0), PROTO_OK);
    CHECK_INT(proto_state(&p), PROTO_REST);                            /* timer keeps running */
    CHECK_INT(proto_tick(&p, done_at + 60.0), PROTO_EV_REST_OVER);
    CHECK_INT(proto_command(&p, PROTO_CMD_STOP, done_at + 61.0), PROTO_OK);
    CHECK_INT(proto_state(&p), PROTO_READY);
    CHECK_INT(proto_set(&p), 1);
}

TEST(session_done_then_new_session)
{
    const struct proto_params small = {.reps_per_set = 2, .sets_per_session = 2, .rest_s = 10.0};
    struct proto p;
    double now = 0.0;
    proto_init(&p, &small);

    proto_command(&p, PROTO_CMD_START, now);
    CHECK_INT(finish_set(&p, 2, &now), PROTO_EV_SET_DONE);
    CHECK_INT(proto_command(&p, PROTO_CMD_NEXT_SET, now), PROTO_OK);
    CHECK_INT(finish_set(&p, 2, &now), PROTO_EV_SESSION_DONE);
    CHECK_INT(proto_state(&p), PROTO_SESSION_DONE);
    CHECK_INT(proto_command(&p, PROTO_CMD_STOP, now), PROTO_OK);
    CHECK_INT(proto_state(&p), PROTO_SESSION_DONE);
    CHECK_INT(proto_tick(&p, now + 1000.0), PROTO_EV_NONE);

    CHECK_INT(proto_command(&p, PROTO_CMD_START, now + 3600.0), PROTO_OK);
    CHECK_INT(proto_state(&p), PROTO_SET_RUNNING);
    CHECK_INT(proto_session(&p), 2);
    CHECK_INT(proto_set(&p), 1);
    CHECK_INT(proto_reps(&p), 0);
}

TEST(zero_rest_is_ready_on_the_next_tick)
{
    const struct proto_params no_rest = {.reps_per_set = 1, .sets_per_session = 2, .rest_s = 0.0};
    struct proto p;
    proto_init(&p, &no_rest);

    proto_command(&p, PROTO_CMD_START, 0.0);
    CHECK_INT(proto_rep_counted(&p, 5.0), PROTO_EV_SET_DONE);
    CHECK_INT(proto_state(&p), PROTO_REST);
    CHECK_NEAR(proto_rest_left(&p, 5.0), 0.0, EXACT);
    CHECK_INT(proto_tick(&p, 5.0), PROTO_EV_REST_OVER);
    CHECK_INT(proto_state(&p), PROTO_READY);
    CHECK(!proto_belt_should_run(&p));
    CHECK_INT(proto_command(&p, PROTO_CMD_START, 5.5), PROTO_OK);
    CHECK_INT(proto_set(&p), 2);
}

TEST(state_names)
{
    CHECK_STR_CONTAINS(proto_state_name(PROTO_IDLE), "idle");
    CHECK_STR_CONTAINS(proto_state_name(PROTO_SET_RUNNING), "set_running");
    CHECK_STR_CONTAINS(proto_state_name(PROTO_REST), "rest");
    CHECK_STR_CONTAINS(proto_state_name(PROTO_READY), "ready");
    CHECK_STR_CONTAINS(proto_state_name(PROTO_PAUSED), "paused");
    CHECK_STR_CONTAINS(proto_state_name(PROTO_SESSION_DONE), "session_done");
    CHECK_STR_CONTAINS(proto_state_name(PROTO_STATE_COUNT), "unknown");
}

TESTS(T(full_session_three_sets_of_fifteen), T(start_refused_during_rest_and_while_running),
      T(next_set_skips_rest), T(stop_and_resume_keep_counted_reps),
      T(stop_outside_a_set_changes_nothing), T(session_done_then_new_session),
      T(zero_rest_is_ready_on_the_next_tick), T(state_names));
TEST_MAIN("test_protocol")
