/* test_progression.c - the programme's rules (controller/progression.c) at their edges, on
 * times passed in: pain stop and step down, morning rise, step up after a clean week and
 * never more than one a week, floor, ceiling and lock, adherence and morning-trend flags. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "controller/progression.h"
#include "tests/test.h"

#define H 3600.0
#define DAY 86400.0
#define MON 1767571200.0        /* 2026-01-05 00:00 UTC, a Monday */

static const struct prog_rules rules = {
    .pain_stop = 5, .morning_rise = 2, .up_in_band = 0.9, .up_pain_max = 3,
    .adherence_flag = 0.7,
};

static struct prog_plan plan(void)
{
    return (struct prog_plan){.active = true, .start = MON + 7 * H, .weeks = 12,
                              .sessions_per_day = 2, .band_low = 100, .band_high = 150,
                              .step_share = 0.05, .floor_n = 80, .ceiling_n = 180,
                              .baseline = 2, .level = 0};
}

static void init(struct prog *p, const struct prog_plan *pl)
{
    prog_init(p, &rules, pl, 3 * H);
}

static int count_kind(const struct prog_out *o, enum prog_kind k)
{
    int n = 0;

    for (int i = 0; i < o->n; i++)
        n += o->d[i].kind == k;
    return n;
}

/* One session at wall: 3 sets with this share and pain. Returns the begin's decisions. */
static struct prog_out session(struct prog *p, double wall, double share, int pain)
{
    struct prog_out begin, po;

    prog_session_begin(p, wall, 0, &begin);
    for (int s = 0; s < 3; s++) {
        prog_set_done(p, share);
        if (pain >= 0)
            prog_pain(p, wall + (s + 1) * 300, pain, &po);
    }
    return begin;
}

/* Days [d0, d1) of clean sessions at 08:00 and 18:00; the number of steps up seen. */
static int clean_days(struct prog *p, int d0, int d1, double share, int pain)
{
    int ups = 0;

    for (int d = d0; d < d1; d++) {
        struct prog_out o = session(p, MON + d * DAY + 8 * H, share, pain);

        ups += count_kind(&o, PROG_UP);
        o = session(p, MON + d * DAY + 18 * H, share, pain);
        ups += count_kind(&o, PROG_UP);
    }
    return ups;
}

TEST(bands_follow_the_level_and_the_floor_and_ceiling_bound_it)
{
    struct prog p;
    struct prog_plan pl = plan();
    double lo, hi;

    init(&p, &pl);
    prog_band(&p, 2, &lo, &hi);
    CHECK_NEAR(lo, 110.0, 1e-9);
    CHECK_NEAR(hi, 165.0, 1e-9);
    CHECK_INT(prog_level_max(&p), 4);           /* 150 x 1.20 = 180: exactly the ceiling */
    CHECK_INT(prog_level_min(&p), -4);          /* 100 x 0.80 = 80: exactly the floor */
    pl.ceiling_n = 179.9;
    init(&p, &pl);
    CHECK_INT(prog_level_max(&p), 3);
}

TEST(a_plan_outside_its_bounds_is_refused_with_why)
{
    struct prog_plan pl = plan();
    char why[128] = "";

    CHECK_INT(prog_plan_check(&pl, why, sizeof why), 0);
    pl.band_high = 190;
    CHECK_INT(prog_plan_check(&pl, why, sizeof why), -1);
    CHECK_STR_CONTAINS(why, "inside [floor, ceiling]");
    pl = plan();
    pl.step_share = 0.005;
    CHECK_INT(prog_plan_check(&pl, why, sizeof why), -1);
    CHECK_STR_CONTAINS(why, "step");
}

TEST(pain_of_5_goes_on_pain_of_6_stops_the_session_and_steps_down_once)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o, begin;

    init(&p, &pl);
    prog_session_begin(&p, MON + 8 * H, 0, &begin);
    prog_set_done(&p, 0.95);
    prog_pain(&p, MON + 8.1 * H, 5, &o);
    CHECK(!o.stop_session);
    CHECK_INT(o.n, 0);
    prog_set_done(&p, 0.95);
    prog_pain(&p, MON + 8.2 * H, 6, &o);
    CHECK(o.stop_session);
    CHECK(o.band_changed);
    CHECK_INT(count_kind(&o, PROG_STOP_SESSION), 1);
    CHECK_INT(count_kind(&o, PROG_DOWN), 1);
    CHECK_INT(prog_plan(&p)->level, -1);
    CHECK_NEAR(o.d[1].band_high, 142.5, 1e-9);
    CHECK_STR_CONTAINS(o.d[1].reason, "set 2 pain 6/10 is above 5");
    /* the same set corrected, or another set of that session: no second step */
    prog_pain(&p, MON + 8.25 * H, 8, &o);
    CHECK(o.stop_session);
    CHECK_INT(count_kind(&o, PROG_DOWN), 0);
    CHECK_INT(prog_plan(&p)->level, -1);
}

TEST(pain_with_no_set_yet_is_ignored)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    init(&p, &pl);
    prog_pain(&p, MON + 8 * H, 9, &o);
    CHECK_INT(o.n, 0);
    CHECK(!o.stop_session);
}

TEST(a_locked_programme_still_stops_on_pain_but_keeps_its_band)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o, begin;

    pl.locked = true;
    init(&p, &pl);
    prog_session_begin(&p, MON + 8 * H, 0, &begin);
    prog_set_done(&p, 0.95);
    prog_pain(&p, MON + 8.1 * H, 7, &o);
    CHECK(o.stop_session);
    CHECK(!o.band_changed);
    CHECK_INT(count_kind(&o, PROG_HOLD), 1);
    CHECK_INT(prog_plan(&p)->level, 0);
    CHECK_STR_CONTAINS(o.d[1].reason, "locked");
}

TEST(the_floor_holds_a_step_down)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    pl.level = -4;
    init(&p, &pl);
    prog_morning(&p, MON + DAY + 7 * H, 9, &o);
    CHECK_INT(prog_plan(&p)->level, -4);
    CHECK_INT(count_kind(&o, PROG_HOLD), 1);
    CHECK_STR_CONTAINS(o.d[0].reason, "floor");
}

TEST(morning_one_above_baseline_holds_two_above_steps_down)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    init(&p, &pl);
    prog_morning(&p, MON + DAY + 7 * H, 3, &o);
    CHECK_INT(o.n, 0);
    CHECK_INT(prog_plan(&p)->level, 0);
    prog_morning(&p, MON + 2 * DAY + 7 * H, 4, &o);
    CHECK_INT(count_kind(&o, PROG_DOWN), 1);
    CHECK_INT(prog_plan(&p)->level, -1);
    CHECK_NEAR(prog_plan(&p)->last_change, MON + 2 * DAY + 7 * H, 1e-6);
    CHECK_STR_CONTAINS(o.d[0].reason, "morning score 4/10 is 2 above the baseline 2");
}

TEST(the_first_morning_score_is_the_baseline_when_none_was_set)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    pl.baseline = NAN;
    init(&p, &pl);
    prog_morning(&p, MON + DAY + 7 * H, 4, &o);
    CHECK_INT(count_kind(&o, PROG_BASELINE), 1);
    CHECK_NEAR(prog_plan(&p)->baseline, 4.0, 1e-9);
    prog_morning(&p, MON + 2 * DAY + 7 * H, 5, &o);
    CHECK_INT(o.n, 0);
    prog_morning(&p, MON + 3 * DAY + 7 * H, 6, &o);
    CHECK_INT(count_kind(&o, PROG_DOWN), 1);
}

TEST(a_clean_week_steps_up_once_at_the_first_session_after_seven_days)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    init(&p, &pl);
    /* programme starts Monday 07:00: days 0..6, 14 sessions */
    CHECK_INT(clean_days(&p, 0, 7, 0.9, 3), 0);
    o = session(&p, MON + 7 * DAY + 6.99 * H, 0.95, 0);   /* 6 h 59 min before the week */
    CHECK_INT(count_kind(&o, PROG_UP), 0);
    o = session(&p, MON + 7 * DAY + 18 * H, 0.95, 0);
    CHECK_INT(count_kind(&o, PROG_UP), 1);
    CHECK_INT(prog_plan(&p)->level, 1);
    CHECK_STR_CONTAINS(o.d[0].reason, "one step up");
    /* the next day's sessions are as clean: no second step within the week */
    CHECK_INT(clean_days(&p, 8, 14, 0.95, 0), 0);
    CHECK_INT(prog_plan(&p)->level, 1);
    o = session(&p, MON + 14 * DAY + 18 * H, 0.95, 0);
    CHECK_INT(count_kind(&o, PROG_UP), 1);
    CHECK_INT(prog_plan(&p)->level, 2);
}

TEST(one_set_under_ninety_percent_or_pain_four_or_no_score_blocks_the_step)
{
    static const struct { double share; int pain; } bad[] = {{0.899, 0}, {0.95, 4}, {0.95, -1}};

    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct prog p;
        struct prog_plan pl = plan();
        struct prog_out o;

        init(&p, &pl);
        clean_days(&p, 0, 3, 0.95, 1);
        session(&p, MON + 3 * DAY + 8 * H, bad[i].share, bad[i].pain);
        clean_days(&p, 4, 7, 0.95, 1);
        o = session(&p, MON + 7 * DAY + 18 * H, 0.95, 1);
        CHECK_INT(count_kind(&o, PROG_UP), 0);
        CHECK_INT(prog_plan(&p)->level, 0);
    }
}

TEST(a_morning_above_baseline_in_the_week_blocks_the_step)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    init(&p, &pl);
    clean_days(&p, 0, 7, 0.95, 1);
    prog_morning(&p, MON + 5 * DAY + 7 * H, 3, &o);    /* 1 above: no step down, no step up */
    CHECK_INT(o.n, 0);
    o = session(&p, MON + 7 * DAY + 18 * H, 0.95, 1);
    CHECK_INT(count_kind(&o, PROG_UP), 0);
}

TEST(too_few_sessions_are_no_evidence_for_a_step)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    init(&p, &pl);
    /* 70% of 14 is 9.8: 9 clean sessions in the week are not enough, 10 are */
    for (int d = 1; d < 7; d++)
        session(&p, MON + d * DAY + 8 * H, 0.95, 0);
    for (int d = 1; d < 4; d++)
        session(&p, MON + d * DAY + 18 * H, 0.95, 0);
    o = session(&p, MON + 7 * DAY + 7.5 * H, 0.95, 0);   /* after 9 */
    CHECK_INT(count_kind(&o, PROG_UP), 0);
    o = session(&p, MON + 7 * DAY + 8 * H, 0.95, 0);     /* after 10 */
    CHECK_INT(count_kind(&o, PROG_UP), 1);
}

TEST(a_step_down_restarts_the_week_before_a_step_up)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    init(&p, &pl);
    clean_days(&p, 0, 7, 0.95, 1);
    prog_morning(&p, MON + 7 * DAY + 7.5 * H, 5, &o);  /* down at day 7 07:30 */
    CHECK_INT(prog_plan(&p)->level, -1);
    CHECK_INT(clean_days(&p, 7, 14, 0.95, 1), 0);
    o = session(&p, MON + 14 * DAY + 8 * H, 0.95, 1);   /* 7 days and 30 min after */
    CHECK_INT(count_kind(&o, PROG_UP), 1);
    CHECK_INT(prog_plan(&p)->level, 0);
}

TEST(never_past_the_ceiling_nor_when_locked)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    pl.level = 4;
    init(&p, &pl);
    clean_days(&p, 0, 7, 0.95, 0);
    o = session(&p, MON + 7 * DAY + 18 * H, 0.95, 0);
    CHECK_INT(o.n, 0);
    CHECK_INT(prog_plan(&p)->level, 4);
    pl.level = 0;
    pl.locked = true;
    init(&p, &pl);
    clean_days(&p, 0, 7, 0.95, 0);
    o = session(&p, MON + 7 * DAY + 18 * H, 0.95, 0);
    CHECK_INT(o.n, 0);
    CHECK_INT(prog_plan(&p)->level, 0);
}

TEST(twelve_clean_weeks_step_at_most_once_a_week_and_stop_at_the_ceiling)
{
    struct prog p;
    struct prog_plan pl = plan();
    int ups;

    pl.ceiling_n = 400;
    init(&p, &pl);
    ups = clean_days(&p, 0, 84, 0.95, 0);
    CHECK_INT(ups, 11);                 /* days 7, 14, ..., 77 */
    pl.ceiling_n = 180;
    init(&p, &pl);
    ups = clean_days(&p, 0, 84, 0.95, 0);
    CHECK_INT(ups, 4);
    CHECK_INT(prog_plan(&p)->level, 4);
}

TEST(adherence_under_seventy_percent_is_flagged_once_a_week_from_day_seven)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;
    int flags = 0;

    init(&p, &pl);
    /* 9 of 14 (64%): one session a day and two on two days */
    for (int d = 0; d < 14; d++) {
        session(&p, MON + d * DAY + 8 * H, 0.95, 0);
        if (d % 7 < 2)
            session(&p, MON + d * DAY + 18 * H, 0.95, 0);
    }
    for (int d = 0; d <= 14; d++) {
        prog_tick(&p, MON + d * DAY + 3 * H + 1, 0, &o);
        flags += count_kind(&o, PROG_FLAG_ADHERENCE);
        if (d < 7)
            CHECK_INT(count_kind(&o, PROG_FLAG_ADHERENCE), 0);
        if (d == 7)
            CHECK_STR_CONTAINS(o.d[0].reason, "9 of 14 planned sessions");
    }
    CHECK_INT(flags, 2);                /* days 7 and 14 */
}

TEST(ten_of_fourteen_sessions_is_not_flagged)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    init(&p, &pl);
    for (int d = 0; d < 7; d++) {
        session(&p, MON + d * DAY + 8 * H, 0.95, 0);
        if (d < 3)
            session(&p, MON + d * DAY + 18 * H, 0.95, 0);
    }
    prog_tick(&p, MON + 7 * DAY + 3 * H + 1, 0, &o);
    CHECK_INT(count_kind(&o, PROG_FLAG_ADHERENCE), 0);
}

TEST(morning_means_rising_two_weeks_in_a_row_raise_the_flag)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;
    int flags = 0;

    pl.baseline = 1;
    init(&p, &pl);
    /* programme weeks 1, 2, 3 (days 0-6, 7-13, 14-20): 1, 2, 3 each morning */
    for (int d = 1; d < 28; d++)
        prog_restore_morning(&p, MON + d * DAY + 7 * H, d < 21 ? 1 + d / 7 : 3);
    for (int d = 1; d <= 27; d++) {
        prog_tick(&p, MON + d * DAY + 4 * H, 0, &o);
        flags += count_kind(&o, PROG_FLAG_MORNING);
        CHECK_INT(count_kind(&o, PROG_FLAG_MORNING), d == 21);
        if (d == 21 && o.n > 0)
            CHECK_STR_CONTAINS(o.d[o.n - 1].reason, "weekly means 1.0, 2.0, 3.0");
    }
    CHECK_INT(flags, 1);
}

TEST(flat_morning_weeks_raise_no_flag_and_a_restored_flag_waits_a_week)
{
    struct prog p;
    struct prog_plan pl = plan();
    struct prog_out o;

    init(&p, &pl);
    for (int d = 1; d < 22; d++)
        prog_restore_morning(&p, MON + d * DAY + 7 * H, d < 15 ? 2 : 3);
    prog_tick(&p, MON + 22 * DAY + 4 * H, 0, &o);
    CHECK_INT(count_kind(&o, PROG_FLAG_MORNING), 0);    /* 2, 2, 3: one rise */
    init(&p, &pl);
    for (int d = 1; d < 22; d++)
        prog_restore_morning(&p, MON + d * DAY + 7 * H, 1 + (d - 1) / 7);
    prog_restore_flag(&p, PROG_FLAG_MORNING, MON + 20 * DAY + 4 * H);
    prog_tick(&p, MON + 22 * DAY + 4 * H, 0, &o);
    CHECK_INT(count_kind(&o, PROG_FLAG_MORNING), 0);
}

TEST(no_programme_decides_nothing)
{
    struct prog p;
    struct prog_out o;

    prog_init(&p, &rules, NULL, 3 * H);
    session(&p, MON + 8 * H, 0.1, 9);
    prog_pain(&p, MON + 8.5 * H, 10, &o);
    CHECK(!o.stop_session);
    prog_morning(&p, MON + DAY + 7 * H, 10, &o);
    CHECK_INT(o.n, 0);
    prog_tick(&p, MON + 30 * DAY, 0, &o);
    CHECK_INT(o.n, 0);
}

TEST(the_session_ring_keeps_the_latest)
{
    struct prog p;
    struct prog_plan pl = plan();

    init(&p, &pl);
    for (int i = 0; i < PROG_KEEP_SESSIONS + 10; i++)
        session(&p, MON + i * H, 0.95, 0);
    CHECK_INT(prog_sessions_between(&p, 0, 1e12), PROG_KEEP_SESSIONS);
    CHECK_INT(prog_sessions_between(&p, MON, MON + 10 * H), 0);
    CHECK_INT(prog_sessions_between(&p, MON + 10 * H, MON + 11 * H), 1);
}

TESTS(T(bands_follow_the_level_and_the_floor_and_ceiling_bound_it),
      T(a_plan_outside_its_bounds_is_refused_with_why),
      T(pain_of_5_goes_on_pain_of_6_stops_the_session_and_steps_down_once),
      T(pain_with_no_set_yet_is_ignored),
      T(a_locked_programme_still_stops_on_pain_but_keeps_its_band),
      T(the_floor_holds_a_step_down),
      T(morning_one_above_baseline_holds_two_above_steps_down),
      T(the_first_morning_score_is_the_baseline_when_none_was_set),
      T(a_clean_week_steps_up_once_at_the_first_session_after_seven_days),
      T(one_set_under_ninety_percent_or_pain_four_or_no_score_blocks_the_step),
      T(a_morning_above_baseline_in_the_week_blocks_the_step),
      T(too_few_sessions_are_no_evidence_for_a_step),
      T(a_step_down_restarts_the_week_before_a_step_up),
      T(never_past_the_ceiling_nor_when_locked),
      T(twelve_clean_weeks_step_at_most_once_a_week_and_stop_at_the_ceiling),
      T(adherence_under_seventy_percent_is_flagged_once_a_week_from_day_seven),
      T(ten_of_fourteen_sessions_is_not_flagged),
      T(morning_means_rising_two_weeks_in_a_row_raise_the_flag),
      T(flat_morning_weeks_raise_no_flag_and_a_restored_flag_waits_a_week),
      T(no_programme_decides_nothing),
      T(the_session_ring_keeps_the_latest));
TEST_MAIN("test_progression")
