/* test_event.c - every controller event formats as one valid JSON object with the
 * fields docs/replog.md promises, and strings are escaped. */
#include <jansson.h>
#include <string.h>

#include "controller/event.h"
#include "tests/test.h"

static json_t *parse(const struct ctl_event *ev)
{
    char line[EVENT_LINE_MAX];
    json_error_t jerr;
    int n = event_json(ev, line, sizeof line);
    json_t *obj;

    CHECK(n > 0 && n < (int)sizeof line);
    obj = json_loads(line, 0, &jerr);
    if (!obj)
        printf("  not JSON: %s (%s)\n", line, jerr.text);
    return obj;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : -999.0;
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "(missing)";
}

TEST(rep_line_has_every_figure)
{
    struct ctl_event ev = {.kind = CTL_EV_REP, .t = 12.5, .session = 1, .set = 2, .rep = 3,
                           .stroke = 4};
    json_t *o;

    ev.fig = (struct rep_figures){.t_start = 10.0, .t_end = 12.5, .duration_s = 2.5,
                                  .travel_m = 0.45, .peak_n = 95.25, .mean_n = 80.0,
                                  .t_first_band = 10.2, .in_band_s = 2.0,
                                  .in_band_share = 0.87, .work_j = 36.0,
                                  .verdict = REP_COUNTED};
    o = parse(&ev);
    REQUIRE(o != NULL);
    CHECK_STR_CONTAINS(str(o, "event"), "rep");
    CHECK_STR_CONTAINS(str(o, "verdict"), "counted");
    CHECK_NEAR(num(o, "t"), 12.5, 1e-9);
    CHECK_NEAR(num(o, "session"), 1, 0);
    CHECK_NEAR(num(o, "set"), 2, 0);
    CHECK_NEAR(num(o, "rep"), 3, 0);
    CHECK_NEAR(num(o, "stroke"), 4, 0);
    CHECK_NEAR(num(o, "t_start"), 10.0, 1e-9);
    CHECK_NEAR(num(o, "duration_s"), 2.5, 1e-9);
    CHECK_NEAR(num(o, "travel_m"), 0.45, 1e-9);
    CHECK_NEAR(num(o, "peak_n"), 95.2, 0.06);
    CHECK_NEAR(num(o, "mean_n"), 80.0, 1e-9);
    CHECK_NEAR(num(o, "in_band_s"), 2.0, 1e-9);
    CHECK_NEAR(num(o, "in_band_share"), 0.87, 1e-9);
    CHECK_NEAR(num(o, "work_j"), 36.0, 1e-9);
    json_decref(o);
}

TEST(reject_line_names_its_reason)
{
    struct ctl_event ev = {.kind = CTL_EV_REJECT};
    json_t *o;

    ev.fig.verdict = REP_TOO_LITTLE_TRAVEL;
    o = parse(&ev);
    REQUIRE(o != NULL);
    CHECK_STR_CONTAINS(str(o, "event"), "reject");
    CHECK_STR_CONTAINS(str(o, "verdict"), "too_little_travel");
    json_decref(o);
}

TEST(set_line_counts_each_reason)
{
    struct ctl_event ev = {.kind = CTL_EV_SET, .session = 1, .set = 3};
    json_t *o;

    ev.sum.counted = 15;
    ev.sum.rejected = 4;
    ev.sum.by_verdict[REP_TOO_SHORT] = 1;
    ev.sum.by_verdict[REP_TOO_LITTLE_TRAVEL] = 2;
    ev.sum.by_verdict[REP_OUT_OF_BAND] = 1;
    ev.sum.in_band_share = 0.9;
    ev.sum.duration_s = 50.0;
    o = parse(&ev);
    REQUIRE(o != NULL);
    CHECK_NEAR(num(o, "counted"), 15, 0);
    CHECK_NEAR(num(o, "rejected"), 4, 0);
    CHECK_NEAR(num(o, "too_short"), 1, 0);
    CHECK_NEAR(num(o, "too_little_travel"), 2, 0);
    CHECK_NEAR(num(o, "out_of_band"), 1, 0);
    CHECK_NEAR(num(o, "aborted"), 0, 0);
    CHECK_NEAR(num(o, "in_band_share"), 0.9, 1e-9);
    json_decref(o);
}

TEST(fault_reset_command_and_session_lines)
{
    struct ctl_event f = {.kind = CTL_EV_FAULT, .fault = FAULT_OVERFORCE, .value = 262.5,
                          .limit = 250.0};
    struct ctl_event r = {.kind = CTL_EV_RESET, .fault = FAULT_ESTOP};
    struct ctl_event c = {.kind = CTL_EV_COMMAND, .cmd = CTL_CMD_START,
                          .result = CTL_REFUSED_RESTING};
    struct ctl_event s = {.kind = CTL_EV_SESSION, .session = 2, .sets = 3};
    json_t *o;

    if ((o = parse(&f))) {
        CHECK_STR_CONTAINS(str(o, "fault"), "overforce");
        CHECK_NEAR(num(o, "value"), 262.5, 1e-9);
        CHECK_NEAR(num(o, "limit"), 250.0, 1e-9);
        json_decref(o);
    }
    if ((o = parse(&r))) {
        CHECK_STR_CONTAINS(str(o, "event"), "reset");
        CHECK_STR_CONTAINS(str(o, "fault"), "estop");
        json_decref(o);
    }
    if ((o = parse(&c))) {
        CHECK_STR_CONTAINS(str(o, "command"), "start");
        CHECK_STR_CONTAINS(str(o, "result"), "refused_resting");
        json_decref(o);
    }
    if ((o = parse(&s))) {
        CHECK_NEAR(num(o, "session"), 2, 0);
        CHECK_NEAR(num(o, "sets"), 3, 0);
        json_decref(o);
    }
}

/* Every kind of line carries "wall" (UTC, ms) right after "t": the ISO string when the
 * backend has a wall clock, null when it has none. */
TEST(every_line_has_its_wall_clock_time)
{
    char line[EVENT_LINE_MAX], want[64];

    for (int k = 0; strcmp(event_kind_name((enum ctl_event_kind)k), "unknown") != 0; k++) {
        struct ctl_event ev = {.kind = (enum ctl_event_kind)k, .t = 53.5,
                               .wall = 1796425553.123};
        json_t *o = parse(&ev);

        CHECK(o != NULL);
        if (!o)
            continue;
        CHECK_STR_CONTAINS(str(o, "wall"), "2026-12-04T23:05:53.123Z");
        json_decref(o);
        event_json(&ev, line, sizeof line);
        snprintf(want, sizeof want,
                 "{\"event\":\"%s\",\"t\":53.500,\"wall\":\"2026-12-04T23:05:53.123Z\",",
                 event_kind_name(ev.kind));
        CHECK(strncmp(line, want, strlen(want)) == 0);
        ev.wall = 0.0;                                      /* no wall clock */
        if ((o = parse(&ev))) {
            CHECK(json_is_null(json_object_get(o, "wall")));
            json_decref(o);
        }
    }
}

TEST(wall_clock_formats_as_utc_with_milliseconds)
{
    char buf[EVENT_WALL_MAX];

    CHECK_INT(event_wall_iso(1796425553.123, buf, sizeof buf), 24);
    CHECK(strcmp(buf, "2026-12-04T23:05:53.123Z") == 0);
    event_wall_iso(1835481599.9996, buf, sizeof buf);      /* rounds into the next day */
    CHECK(strcmp(buf, "2028-03-01T00:00:00.000Z") == 0);
    event_wall_iso(1835481599.0004, buf, sizeof buf);      /* a leap year's 29 February */
    CHECK(strcmp(buf, "2028-02-29T23:59:59.000Z") == 0);
    event_wall_iso(1767596400.05, buf, sizeof buf);
    CHECK(strcmp(buf, "2026-01-05T07:00:00.050Z") == 0);
    CHECK_INT(event_wall_iso(0.0, buf, sizeof buf), 0);     /* none */
    CHECK(buf[0] == '\0');
    CHECK_INT(event_wall_iso(NAN, buf, sizeof buf), 0);
    CHECK_INT(event_wall_json(0.0, buf, sizeof buf), 4);
    CHECK(strcmp(buf, "null") == 0);
}

TEST(strings_are_escaped)
{
    char buf[64];
    json_t *o;

    CHECK_INT(event_json_string(buf, sizeof buf, "a\"b\\c\nd"), 16);
    CHECK(strcmp(buf, "\"a\\\"b\\\\c\\u000ad\"") == 0);
    o = json_loads(buf, JSON_DECODE_ANY, NULL);
    CHECK(o && strcmp(json_string_value(o), "a\"b\\c\nd") == 0);
    json_decref(o);
    CHECK_INT(event_json_string(buf, 4, "abcdef"), 8);   /* truncated, still terminated */
    CHECK(strlen(buf) == 3);
}

TEST(text_lines_say_what_happened)
{
    struct ctl_event f = {.kind = CTL_EV_FAULT, .fault = FAULT_FORCE_STALE, .value = 0.6,
                          .limit = 0.5};
    char line[EVENT_LINE_MAX];

    event_text(&f, line, sizeof line);
    CHECK_STR_CONTAINS(line, "force_stale");
    CHECK_STR_CONTAINS(line, "reset");
}

TESTS(T(rep_line_has_every_figure), T(reject_line_names_its_reason),
      T(set_line_counts_each_reason), T(fault_reset_command_and_session_lines),
      T(every_line_has_its_wall_clock_time), T(wall_clock_formats_as_utc_with_milliseconds),
      T(strings_are_escaped), T(text_lines_say_what_happened));
TEST_MAIN("test_event")
