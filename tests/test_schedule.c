/* test_schedule.c - the day's rule: the pure module on chosen times, then the real loop on
 * the simulated rig over a virtual day and a half (the injected clock): two sessions
 * accepted, a third refused, the next day's accepted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "controller/ctl.h"
#include "daemon/loop.h"
#include "controller/schedule.h"
#include "sim/hal_sim.h"
#include "tests/test.h"

#define H 3600.0
#define DAY 86400.0
#define MON 1767571200.0        /* 2026-01-05 00:00 UTC */

static const struct sched_params twice = {
    .sessions_per_day = 2, .min_gap_s = 4 * H, .day_start_s = 3 * H, .allow_extra = false,
};

/* ---- the pure rule ---------------------------------------------------------------- */

TEST(two_sessions_then_refused_until_the_next_day)
{
    struct sched s;
    double wait = -1.0;

    sched_init(&s, &twice);
    CHECK_INT(sched_check(&s, MON + 7 * H, 0, &wait), SCHED_OK);
    CHECK_NEAR(wait, 0.0, 1e-9);
    sched_begin(&s, MON + 7 * H);
    sched_end(&s, MON + 7.5 * H);
    sched_begin(&s, MON + 18 * H);
    sched_end(&s, MON + 18.5 * H);
    CHECK_INT(sched_count_day(&s, MON + 23 * H, 0), 2);
    CHECK_INT(sched_check(&s, MON + 23 * H, 0, &wait), SCHED_REFUSED_QUOTA);
    /* the next day begins at 03:00, and the gap (4 h from 18:30) is over by then */
    CHECK_NEAR(wait, 4 * H, 1e-6);
    CHECK_INT(sched_check(&s, MON + DAY + 3 * H, 0, &wait), SCHED_OK);
    CHECK_INT(sched_count_day(&s, MON + DAY + 3 * H, 0), 0);
}

TEST(a_session_after_midnight_counts_for_the_evening_before)
{
    struct sched s;

    sched_init(&s, &twice);
    sched_begin(&s, MON + 7 * H);
    sched_end(&s, MON + 7.5 * H);
    sched_begin(&s, MON + DAY + 0.5 * H);       /* 00:30 the next calendar day */
    sched_end(&s, MON + DAY + 1 * H);
    CHECK_INT(sched_day(&s, MON + DAY + 0.5 * H, 0), sched_day(&s, MON + 7 * H, 0));
    CHECK_INT(sched_count_day(&s, MON + DAY + 2 * H, 0), 2);
    CHECK_INT(sched_check(&s, MON + DAY + 2 * H, 0, NULL), SCHED_REFUSED_QUOTA);
}

TEST(the_gap_runs_from_the_previous_end)
{
    struct sched s;
    double wait;

    sched_init(&s, &twice);
    sched_begin(&s, MON + 7 * H);
    sched_end(&s, MON + 8 * H);
    CHECK_INT(sched_check(&s, MON + 11 * H, 0, &wait), SCHED_REFUSED_GAP);
    CHECK_NEAR(wait, 1 * H, 1e-6);
    CHECK_INT(sched_check(&s, MON + 12 * H, 0, &wait), SCHED_OK);
    /* an open session (never ended) counts from its start */
    sched_begin(&s, MON + 12 * H);
    CHECK_INT(sched_check(&s, MON + 14 * H, 0, &wait), SCHED_REFUSED_QUOTA);
}

TEST(the_local_offset_moves_the_day)
{
    struct sched s;

    sched_init(&s, &twice);
    /* 01:00 UTC is 03:00 at UTC+2: a new local day has just begun */
    CHECK_INT(sched_day(&s, MON + DAY + 1 * H, 2 * 3600) - sched_day(&s, MON + DAY - 1, 2 * 3600), 1);
    CHECK_INT(sched_day(&s, MON + DAY + 1 * H - 1, 2 * 3600), sched_day(&s, MON + DAY - 1, 2 * 3600));
}

TEST(extra_sessions_when_the_clinician_allows_them)
{
    struct sched_params p = twice;
    struct sched s;

    p.allow_extra = true;
    sched_init(&s, &p);
    sched_begin(&s, MON + 7 * H);
    sched_end(&s, MON + 7.5 * H);
    sched_begin(&s, MON + 12 * H);
    sched_end(&s, MON + 12.5 * H);
    CHECK_INT(sched_check(&s, MON + 17 * H, 0, NULL), SCHED_OK_EXTRA);
    CHECK_INT(sched_check(&s, MON + 13 * H, 0, NULL), SCHED_REFUSED_GAP);   /* still */
}

TEST(only_the_latest_sessions_are_kept)
{
    struct sched s;

    sched_init(&s, &twice);
    for (int i = 0; i < 3 * SCHED_KEEP; i++) {
        sched_begin(&s, MON + i * DAY);
        sched_end(&s, MON + i * DAY + H);
    }
    CHECK_INT(s.n, SCHED_KEEP);
    CHECK_INT(sched_count_day(&s, MON + (3 * SCHED_KEEP - 1) * DAY + 2 * H, 0), 1);
    CHECK_STR_CONTAINS(sched_verdict_name(SCHED_REFUSED_GAP), "refused_gap");
}

/* ---- the real loop over a virtual day -------------------------------------------- */

struct day_watch {
    double session_wall[8];
    int sessions;
    long refused;
    enum sched_verdict first_rule;
    double first_refused_wall, first_wait_s;
};

static void day_event(void *arg, const struct ctl_event *ev)
{
    struct day_watch *w = arg;

    if (ev->kind == CTL_EV_SESSION_START && w->sessions < 8)
        w->session_wall[w->sessions++] = ev->wall;
    if (ev->kind == CTL_EV_COMMAND && ev->result == CTL_REFUSED_SCHEDULE) {
        if (w->refused++ == 0) {
            w->first_rule = ev->sched;
            w->first_refused_wall = ev->wall;
            w->first_wait_s = ev->wait_s;
        }
    }
}

/* Three short sessions, 3 h apart (the athlete presses start again every 2 s while the
 * belt stays stopped). Returns 0 or -1. */
static int run_day(const char *const *sets, struct day_watch *w)
{
    static struct ctl ctl;
    char scen[] = "/tmp/eccd-test-schedule-XXXXXX", err[512];
    struct ecc_config cfg;
    struct hal_sim_opts so = {.sessions = 3};
    struct loop_opts lo = {.max_sessions = 3, .max_time_s = 1.5 * DAY, .on_event = day_event,
                           .arg = w};
    struct loop_stats st;
    struct hal hal;
    struct hal_sim *sim;
    int fd = mkstemp(scen);
    char scen_set[64 + sizeof scen];

    memset(w, 0, sizeof *w);
    if (fd < 0 || dprintf(fd, "[athlete]\nname = three-a-day\nsessions = 3\n"
                              "session_gap_s = 10800\n") < 0)
        return -1;
    close(fd);
    snprintf(scen_set, sizeof scen_set, "sim.scenario=%s", scen);
    if (config_load(&cfg, "config/sim.ini", err, sizeof err) != 0 ||
        config_set(&cfg, scen_set, err, sizeof err) != 0 ||
        config_set(&cfg, "protocol.reps_per_set=3", err, sizeof err) != 0 ||
        config_set(&cfg, "protocol.sets_per_session=1", err, sizeof err) != 0 ||
        config_set(&cfg, "protocol.min_gap_h=2", err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int i = 0; sets && sets[i]; i++)
        if (config_set(&cfg, sets[i], err, sizeof err) != 0)
            return -1;
    sim = hal_sim_open(&cfg, &so, &hal, err, sizeof err);
    unlink(scen);
    if (!sim)
        return -1;
    ctl_init(&ctl, &cfg);
    loop_run(&ctl, &hal, &lo, &st);
    hal_sim_close(sim);
    return 0;
}

/* sim.wall_start is 2026-01-05 07:00 UTC; the simulated clock is UTC. */
TEST(a_virtual_day_two_accepted_a_third_refused_the_next_day_accepted)
{
    struct day_watch w;
    const double next_day = MON + DAY + 3 * H;

    CHECK_INT(run_day(NULL, &w), 0);
    CHECK_INT(w.sessions, 3);
    CHECK(w.session_wall[0] >= MON + 7 * H && w.session_wall[0] < MON + 7 * H + 60);
    CHECK(w.session_wall[1] > MON + 10 * H && w.session_wall[1] < MON + 11 * H);
    /* the third: refused from ~13:00 on, accepted at the first press after 03:00 */
    CHECK(w.refused > 1000);
    CHECK_INT(w.first_rule, SCHED_REFUSED_QUOTA);
    CHECK(w.first_refused_wall > MON + 13 * H && w.first_refused_wall < MON + 14 * H);
    CHECK_NEAR(w.first_wait_s, next_day - w.first_refused_wall, 1.0);
    CHECK(w.session_wall[2] >= next_day && w.session_wall[2] < next_day + 2.5);
}

TEST(a_virtual_day_with_extra_sessions_allowed)
{
    static const char *const extra[] = {"protocol.allow_extra_sessions=true", NULL};
    struct day_watch w;

    CHECK_INT(run_day(extra, &w), 0);
    CHECK_INT(w.sessions, 3);
    CHECK_INT(w.refused, 0);
    CHECK(w.session_wall[2] > MON + 13 * H && w.session_wall[2] < MON + 14 * H);
}

TEST(a_virtual_day_with_too_short_a_gap)
{
    static const char *const gap[] = {"protocol.min_gap_h=4", "protocol.sessions_per_day=3",
                                      NULL};
    struct day_watch w;

    CHECK_INT(run_day(gap, &w), 0);
    CHECK(w.sessions >= 2);
    CHECK_INT(w.first_rule, SCHED_REFUSED_GAP);
    /* the second session waits for 4 h after the first one's end (~07:01) */
    CHECK(w.session_wall[1] > MON + 11 * H && w.session_wall[1] < MON + 11 * H + 120);
}

TESTS(T(two_sessions_then_refused_until_the_next_day),
      T(a_session_after_midnight_counts_for_the_evening_before),
      T(the_gap_runs_from_the_previous_end), T(the_local_offset_moves_the_day),
      T(extra_sessions_when_the_clinician_allows_them), T(only_the_latest_sessions_are_kept),
      T(a_virtual_day_two_accepted_a_third_refused_the_next_day_accepted),
      T(a_virtual_day_with_extra_sessions_allowed), T(a_virtual_day_with_too_short_a_gap));
TEST_MAIN("test_schedule")
