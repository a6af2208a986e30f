/* test_ctlfmt.c - eccctl's renderings of canned eccd replies: status, history, patients,
 * CSV export, results and error messages. */
#include <stdlib.h>
#include <time.h>

#include "client/ctlfmt.h"
#include "tests/test.h"

#define CHECK_NOT_CONTAINS(hay, needle) CHECK((hay) && !strstr((hay), (needle)))

/* Render a canned reply (JSON text) with fn into a string the caller frees; *rc gets what
 * fn returned. A reply that does not parse fails the test and gives "". */
static char *render(int (*fn)(FILE *, const json_t *), const char *text, int *rc)
{
    json_error_t jerr;
    json_t *reply = json_loads(text, 0, &jerr);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int r = -2;

    if (!reply)
        printf("  canned reply does not parse: %s (line %d)\n", jerr.text, jerr.line);
    CHECK(reply != NULL);
    CHECK(f != NULL);
    if (reply && f)
        r = fn(f, reply);
    if (f)
        fclose(f);
    json_decref(reply);
    if (rc)
        *rc = r;
    return buf ? buf : calloc(1, 1);
}

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

/* ---- status ---------------------------------------------------------------------------- */

static const char status_running[] =
    "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":\"set_running\","
    "\"fault\":\"none\",\"fault_value\":0,\"fault_limit\":0,\"speed\":0.4213,"
    "\"speed_cmd\":0.45,\"force\":183.4,\"band\":[150,250],\"loaded\":true,\"session\":3,"
    "\"set\":2,\"rep\":7,\"reps_per_set\":15,\"sets_per_session\":3,\"rest_left_s\":0,"
    "\"patient\":{\"id\":2,\"name\":\"Ann\"},\"sessions_today\":1,\"next_session\":\"ok\","
    "\"next_session_wait_s\":0,\"loop\":{\"ticks\":123456,\"overruns\":0,\"late_max_ms\":1.24},"
    "\"history\":{\"durable\":1234,\"queued\":0,\"dropped\":0,\"errors\":0},"
    "\"uptime_s\":184512,\"some_new_member\":[1,2]}}";

TEST(status_running_block)
{
    int rc;
    char *s = render(ctlfmt_status, status_running, &rc);

    CHECK_INT(rc, 0);
    CHECK_STR_CONTAINS(s, "state        set_running (a set is running)\n");
    CHECK_STR_CONTAINS(s, "patient      Ann (id 2)\n");
    CHECK_STR_CONTAINS(s, "session      3, set 2 of 3, rep 7 of 15\n");
    CHECK_STR_CONTAINS(s, "belt         0.42 m/s (commanded 0.45 m/s)\n");
    CHECK_STR_CONTAINS(s, "force        183 N, in the band (band 150..250 N)\n");
    CHECK_STR_CONTAINS(s, "today        1 session begun; a new one may start now\n");
    CHECK_STR_CONTAINS(s, "loop         123456 ticks, 0 overruns, at most 1.2 ms late\n");
    CHECK_STR_CONTAINS(s, "history      1234 written, 0 queued, 0 dropped, 0 errors\n");
    CHECK_STR_CONTAINS(s, "uptime       2 d 3 h 15 min\n");
    CHECK_NOT_CONTAINS(s, "fault");     /* "none" is not shown */
    CHECK_NOT_CONTAINS(s, "rest ");     /* no rest timer while a set runs */
    CHECK_NOT_CONTAINS(s, "calibration");   /* absent member: no line */
    CHECK_INT(strncmp(s, "state", 5), 0);   /* the block starts with the state */
    free(s);
}

TEST(status_force_against_band)
{
    char *s;

    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
               "\"set_running\",\"force\":263,\"band\":[150,250],\"loaded\":true}}", NULL);
    CHECK_STR_CONTAINS(s, "force        263 N, above the band (band 150..250 N)\n");
    free(s);
    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
               "\"set_running\",\"force\":120,\"band\":[150,250],\"loaded\":true}}", NULL);
    CHECK_STR_CONTAINS(s, "force        120 N, below the band (band 150..250 N)\n");
    free(s);
    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
               "\"set_running\",\"force\":1.2,\"band\":[150,250],\"loaded\":false}}", NULL);
    CHECK_STR_CONTAINS(s, "force        1 N, foot off the belt (band 150..250 N)\n");
    free(s);
    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
               "\"idle\",\"force\":-0.3,\"speed\":-0.001,\"speed_cmd\":0,\"loaded\":false}}",
               NULL);
    CHECK_STR_CONTAINS(s, "force        0 N, foot off the belt\n");      /* not "-0 N" */
    CHECK_STR_CONTAINS(s, "belt         0.00 m/s (commanded 0.00 m/s)\n");
    free(s);
}

TEST(status_rest_timer)
{
    char *s = render(ctlfmt_status,
                     "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":\"rest\","
                     "\"session\":1,\"set\":1,\"rep\":15,\"reps_per_set\":15,"
                     "\"sets_per_session\":3,\"rest_left_s\":65.2}}", NULL);

    CHECK_STR_CONTAINS(s, "state        rest (resting between sets)\n");
    CHECK_STR_CONTAINS(s, "rest         1:06 left\n");
    CHECK_STR_CONTAINS(s, "session      1, set 1 of 3, rep 15 of 15\n");
    free(s);
}

TEST(status_fault_with_value_and_limit)
{
    char *s = render(ctlfmt_status,
                     "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":\"fault\","
                     "\"fault\":\"overforce\",\"fault_value\":612.4,\"fault_limit\":600,"
                     "\"session\":0}}", NULL);

    CHECK_STR_CONTAINS(s, "state        fault (the belt was stopped by a fault)\n");
    CHECK_STR_CONTAINS(s, "fault        overforce: force over the abort limit "
                          "(612.4 N, limit 600 N)\n");
    CHECK_STR_CONTAINS(s, "eccctl reset-fault, then eccctl start\n");
    CHECK_STR_CONTAINS(s, "session      none since eccd started\n");
    free(s);

    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
               "\"fault\",\"fault\":\"drive_trip\",\"fault_value\":7,\"fault_limit\":0}}", NULL);
    CHECK_STR_CONTAINS(s, "fault        drive_trip: the drive tripped (fault code 7)\n");
    free(s);

    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
               "\"fault\",\"fault\":\"estop\",\"fault_value\":1,\"fault_limit\":0}}", NULL);
    CHECK_STR_CONTAINS(s, "fault        estop: the e-stop or safety key is active\n");
    free(s);

    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
               "\"fault\",\"fault\":\"force_stale\",\"fault_value\":0.35,\"fault_limit\":0.2}}",
               NULL);
    CHECK_STR_CONTAINS(s, "(0.35 s, limit 0.2 s)\n");
    free(s);

    /* a fault this eccctl does not know: its name, value and limit without a unit */
    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
               "\"fault\",\"fault\":\"belt_torn\",\"fault_value\":3,\"fault_limit\":2}}", NULL);
    CHECK_STR_CONTAINS(s, "fault        belt_torn (3, limit 2)\n");
    free(s);
}

TEST(status_schedule_and_calibration)
{
    char *s = render(ctlfmt_status,
                     "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
                     "\"session_done\",\"sessions_today\":1,\"next_session\":\"refused_gap\","
                     "\"next_session_wait_s\":12300,\"calibration\":{\"pending\":true,"
                     "\"tares\":2,\"spans\":1},\"history\":{\"durable\":10,\"queued\":3,"
                     "\"dropped\":1,\"errors\":0}}}", NULL);

    CHECK_STR_CONTAINS(s, "today        1 session begun; too soon after the last one: "
                          "the next one in 3 h 25 min\n");
    CHECK_STR_CONTAINS(s, "calibration  in progress; 2 tares and 1 span done since eccd "
                          "started\n");
    CHECK_STR_CONTAINS(s, "history      10 written, 3 queued, 1 dropped, 0 errors "
                          "(see eccd's log)\n");
    free(s);

    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
               "\"idle\",\"sessions_today\":2,\"next_session\":\"refused_quota\","
               "\"next_session_wait_s\":33100}}", NULL);
    CHECK_STR_CONTAINS(s, "today        2 sessions begun; the day's sessions are done: "
                          "the next one in 9 h 12 min\n");
    free(s);

    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":"
               "\"idle\",\"sessions_today\":2,\"next_session\":\"ok_extra\","
               "\"next_session_wait_s\":0}}", NULL);
    CHECK_STR_CONTAINS(s, "a new one may start now (an extra one, allowed by the clinician)");
    free(s);
}

TEST(status_tolerates_missing_members_and_refuses_no_status)
{
    int rc;
    char *s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":"
                     "{\"state\":\"idle\",\"patient\":null,\"band\":[150],\"force\":\"x\"}}",
                     &rc);

    CHECK_INT(rc, 0);
    CHECK_STR_CONTAINS(s, "state        idle (no session running)\n");
    CHECK_STR_CONTAINS(s, "patient      none chosen (the config's settings apply)\n");
    CHECK_NOT_CONTAINS(s, "force");
    CHECK_NOT_CONTAINS(s, "band");
    free(s);

    s = render(ctlfmt_status, "{\"v\":1,\"ok\":true,\"cmd\":\"status\"}", &rc);
    CHECK_INT(rc, -1);
    free(s);
}

TEST(status_without_history_or_patient)
{
    int rc;
    char *s = render(ctlfmt_status,
                     "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":\"idle\","
                     "\"patient\":{\"id\":0,\"name\":\"\"},\"history\":null,\"session\":0}}", &rc);

    CHECK_INT(rc, 0);
    CHECK_STR_CONTAINS(s, "patient      none chosen (the config's settings apply)\n");
    CHECK_STR_CONTAINS(s, "history      none kept ([history] path is empty)\n");
    CHECK_NOT_CONTAINS(s, "uptime");
    free(s);
}

TEST(status_control_characters_in_names_are_neutralised)
{
    char *s = render(ctlfmt_status,
                     "{\"v\":1,\"ok\":true,\"cmd\":\"status\",\"status\":{\"state\":\"idle\","
                     "\"patient\":{\"id\":4,\"name\":\"Bo\\u001b[2J\\nX\"}}}", NULL);

    CHECK_STR_CONTAINS(s, "patient      Bo?[2J?X (id 4)\n");
    CHECK_NOT_CONTAINS(s, "\x1b");
    free(s);
}

/* ---- waits and numbers ----------------------------------------------------------------- */

TEST(wait_in_hours_and_minutes)
{
    static const struct {
        double s;
        const char *want;
    } cases[] = {
        {0, "now"}, {-5, "now"}, {NAN, "now"}, {0.2, "1 s"}, {45, "45 s"}, {59.5, "1 min"},
        {60, "1 min"}, {61, "2 min"}, {3599, "1 h"}, {3600, "1 h"}, {3601, "1 h 1 min"},
        {7200, "2 h"}, {12300, "3 h 25 min"}, {12301, "3 h 26 min"}, {90000, "25 h"},
    };
    char buf[48];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ctlfmt_wait(buf, sizeof buf, cases[i].s);
        if (strcmp(buf, cases[i].want) != 0)
            printf("  %g s: got \"%s\", want \"%s\"\n", cases[i].s, buf, cases[i].want);
        CHECK(strcmp(buf, cases[i].want) == 0);
    }
}

TEST(numbers_shortest_round_trip)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.42, "0.42"}, {15.0, "15"}, {1e-7, "1e-07"}, {0.1 + 0.2, "0.30000000000000004"},
        {-3.5, "-3.5"}, {1920.125, "1920.125"}, {INFINITY, "null"}, {NAN, "null"},
    };
    char buf[48];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ctlfmt_number(buf, sizeof buf, cases[i].v);
        if (strcmp(buf, cases[i].want) != 0)
            printf("  got \"%s\", want \"%s\"\n", buf, cases[i].want);
        CHECK(strcmp(buf, cases[i].want) == 0);
    }
}

/* ---- errors ---------------------------------------------------------------------------- */

TEST(error_refused_schedule_gives_the_wait)
{
    int rc;
    char *s = render(ctlfmt_error,
                     "{\"v\":1,\"ok\":false,\"cmd\":\"start\",\"error\":\"refused_schedule\","
                     "\"message\":\"too soon after the last session\",\"wait_s\":12300}", &rc);

    CHECK_INT(rc, 0);
    CHECK_INT(strcmp(s, "eccctl: too soon after the last session\n"
                        "eccctl: the next session may start in 3 h 25 min\n"), 0);
    free(s);

    s = render(ctlfmt_error, "{\"v\":1,\"ok\":false,\"cmd\":\"start\",\"error\":"
               "\"refused_schedule\",\"message\":\"done for today\",\"wait_s\":40}", NULL);
    CHECK_STR_CONTAINS(s, "eccctl: the next session may start in 40 s\n");
    free(s);

    /* a message that says the wait already is not repeated */
    s = render(ctlfmt_error, "{\"v\":1,\"ok\":false,\"cmd\":\"start\",\"error\":"
               "\"refused_schedule\",\"message\":\"too soon; allowed in 3 h 58 min\","
               "\"wait_s\":14280}", NULL);
    CHECK_INT(strcmp(s, "eccctl: too soon; allowed in 3 h 58 min\n"), 0);
    free(s);
}

TEST(error_message_and_hints)
{
    char *s;

    s = render(ctlfmt_error, "{\"v\":1,\"ok\":false,\"cmd\":\"start\",\"error\":"
               "\"refused_fault\",\"message\":\"a fault is latched (overforce): clear its "
               "cause, then eccctl reset-fault\"}", NULL);
    CHECK_INT(strcmp(s, "eccctl: a fault is latched (overforce): clear its cause, then eccctl "
                        "reset-fault\n"), 0);
    free(s);

    s = render(ctlfmt_error, "{\"v\":1,\"ok\":false,\"error\":\"permission\","
               "\"message\":\"not allowed\"}", NULL);
    CHECK_STR_CONTAINS(s, "eccctl: not allowed\neccctl: ");
    CHECK_STR_CONTAINS(s, "group");
    free(s);

    /* a schedule refusal without wait_s: the message alone */
    s = render(ctlfmt_error, "{\"v\":1,\"ok\":false,\"cmd\":\"start\",\"error\":"
               "\"refused_schedule\",\"message\":\"done for today\"}", NULL);
    CHECK_INT(strcmp(s, "eccctl: done for today\n"), 0);
    free(s);

    /* no message: the code stands in; no cmd (the request could not be read) is fine */
    s = render(ctlfmt_error, "{\"v\":1,\"ok\":false,\"error\":\"bad_request\"}", NULL);
    CHECK_INT(strcmp(s, "eccctl: bad_request\n"), 0);
    free(s);

    s = render(ctlfmt_error, "{\"v\":1,\"ok\":false,\"cmd\":\"patient-select\",\"error\":"
               "\"not_found\",\"message\":\"no patient 9\"}", NULL);
    CHECK_INT(strcmp(s, "eccctl: no patient 9\n"), 0);
    free(s);
}

/* ---- export as CSV --------------------------------------------------------------------- */

TEST(csv_quotes_names_and_writes_nulls_empty)
{
    int rc;
    char *s = render(ctlfmt_export_csv,
        "{\"v\":1,\"ok\":true,\"cmd\":\"export\",\"columns\":[\"patient\",\"session\","
        "\"session_started\",\"set\",\"rep\",\"duration_s\",\"in_band_share\",\"pain\"],"
        "\"rows\":["
        "[\"Smith, Ann\",12,\"2026-11-25T07:02:11Z\",1,1,1.92,0.765,3],"
        "[\"Ann \\\"the knee\\\" O'Neil\",12,\"2026-11-25T07:02:11Z\",1,2,2.05,0.1,null],"
        "[\"two\\nlines\",13,\"2026-11-25T18:30:00Z\",2,15,0.30000000000000004,1,null],"
        "[\"cr\\rhere\",14,null,1,1,1e-07,true,false],"
        "[\"plain\",15,\"\",1,1,15.0,[1,2],{\"a\":1}]"
        "]}", &rc);

    CHECK_INT(rc, 0);
    CHECK_INT(strcmp(s,
        "patient,session,session_started,set,rep,duration_s,in_band_share,pain\r\n"
        "\"Smith, Ann\",12,2026-11-25T07:02:11Z,1,1,1.92,0.765,3\r\n"
        "\"Ann \"\"the knee\"\" O'Neil\",12,2026-11-25T07:02:11Z,1,2,2.05,0.1,\r\n"
        "\"two\nlines\",13,2026-11-25T18:30:00Z,2,15,0.30000000000000004,1,\r\n"
        "\"cr\rhere\",14,,1,1,1e-07,true,false\r\n"
        "plain,15,,1,1,15,\"[1,2]\",\"{\"\"a\"\":1}\"\r\n"), 0);
    if (strncmp(s, "patient,", 8) != 0 || !strstr(s, "plain,15"))
        printf("  got:\n%s\n", s);
    free(s);
}

TEST(csv_header_only_when_no_rows)
{
    int rc;
    char *s = render(ctlfmt_export_csv, "{\"v\":1,\"ok\":true,\"cmd\":\"export\","
                     "\"columns\":[\"patient\",\"a,b\"],\"rows\":[]}", &rc);

    CHECK_INT(rc, 0);
    CHECK_INT(strcmp(s, "patient,\"a,b\"\r\n"), 0);
    free(s);
}

TEST(csv_refuses_a_malformed_export_and_writes_nothing)
{
    int rc;
    char *s = render(ctlfmt_export_csv, "{\"v\":1,\"ok\":true,\"cmd\":\"export\","
                     "\"columns\":[\"patient\"],\"rows\":[[\"a\"],\"b\"]}", &rc);

    CHECK_INT(rc, -1);
    CHECK_INT(strlen(s), 0);
    free(s);
    s = render(ctlfmt_export_csv, "{\"v\":1,\"ok\":true,\"cmd\":\"export\","
               "\"columns\":[\"patient\",3],\"rows\":[]}", &rc);
    CHECK_INT(rc, -1);
    free(s);
    s = render(ctlfmt_export_csv, "{\"v\":1,\"ok\":true,\"cmd\":\"export\"}", &rc);
    CHECK_INT(rc, -1);
    free(s);
}

TEST(csv_field_quotes_only_when_needed)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    REQUIRE(f != NULL);
    ctlfmt_csv_field(f, "", 0);
    putc('|', f);
    ctlfmt_csv_field(f, "a b;c'd", 7);
    putc('|', f);
    ctlfmt_csv_field(f, "\"", 1);
    putc('|', f);
    ctlfmt_csv_field(f, "x,\0y", 4);       /* embedded NUL kept, length honoured */
    fclose(f);
    CHECK_INT(len, 20);
    CHECK(memcmp(buf, "|a b;c'd|\"\"\"\"|\"x,\0y\"", 20) == 0);
    free(buf);
}

/* ---- history --------------------------------------------------------------------------- */

static const char history_reply[] =
    "{\"v\":1,\"ok\":true,\"cmd\":\"history\",\"days\":7,\"sessions\":["
    "{\"id\":12,\"started\":\"2026-11-25T07:02:11Z\",\"ended\":\"2026-11-25T07:21:40Z\","
    "\"status\":\"done\",\"faults\":0,\"sets\":["
    "{\"set\":1,\"counted\":15,\"rejected\":1,\"in_band\":0.962,\"pain\":3},"
    "{\"set\":2,\"counted\":15,\"rejected\":0,\"in_band\":0.94,\"pain\":null},"
    "{\"set\":3,\"counted\":9,\"rejected\":12,\"in_band\":null,\"pain\":null}]},"
    "{\"id\":13,\"started\":\"2026-11-25T23:40:00Z\",\"ended\":\"2026-11-26T00:05:00Z\","
    "\"status\":\"interrupted\",\"faults\":1,\"sets\":[]},"
    "{\"id\":14,\"started\":\"2026-11-26T07:00:00Z\",\"ended\":null,\"status\":\"open\","
    "\"faults\":2,\"sets\":[{\"set\":1,\"counted\":4,\"rejected\":0,\"in_band\":null,"
    "\"pain\":null}]}]}";

TEST(history_table_per_session_utc)
{
    int rc;
    char *s;

    set_tz("UTC0");
    s = render(ctlfmt_history, history_reply, &rc);
    CHECK_INT(rc, 0);
    CHECK_STR_CONTAINS(s, "Last 7 days: 3 sessions (times are local)\n");
    CHECK_STR_CONTAINS(s, "\nsession 12: 2026-11-25 07:02 to 07:21, done\n"
                          "  set  counted  rejected  in band  pain\n"
                          "    1       15         1      96%     3\n"
                          "    2       15         0      94%     -\n"
                          "    3        9        12        -     -\n");
    /* ended on another day: the date is shown */
    CHECK_STR_CONTAINS(s, "session 13: 2026-11-25 23:40 to 2026-11-26 00:05, interrupted, "
                          "1 fault\n  no sets\n");
    CHECK_STR_CONTAINS(s, "session 14: 2026-11-26 07:00, open (not finished), 2 faults\n");
    free(s);
}

TEST(history_in_local_time)
{
    char *s;

    set_tz("CET-1");            /* UTC+1, no tz database needed */
    s = render(ctlfmt_history, history_reply, NULL);
    CHECK_STR_CONTAINS(s, "session 12: 2026-11-25 08:02 to 08:21, done\n");
    /* 23:40 to 00:05 UTC is 00:40 to 01:05 on one local day */
    CHECK_STR_CONTAINS(s, "session 13: 2026-11-26 00:40 to 01:05, interrupted");
    free(s);
    set_tz("UTC0");
}

TEST(history_empty_and_odd_times)
{
    int rc;
    char *s;

    set_tz("UTC0");
    s = render(ctlfmt_history, "{\"v\":1,\"ok\":true,\"cmd\":\"history\",\"days\":1,"
               "\"sessions\":[]}", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(strcmp(s, "Last 1 day: no sessions\n"), 0);
    free(s);
    s = render(ctlfmt_history, "{\"v\":1,\"ok\":true,\"cmd\":\"history\",\"sessions\":["
               "{\"id\":1,\"started\":\"2026-11-25T07:02:11.250+01:00\",\"ended\":\"soon\","
               "\"status\":\"done\"}]}", &rc);
    CHECK_INT(rc, 0);
    CHECK_STR_CONTAINS(s, "session 1: 2026-11-25 06:02 to soon, done\n  no sets\n");
    free(s);
    s = render(ctlfmt_history, "{\"v\":1,\"ok\":true,\"cmd\":\"history\"}", &rc);
    CHECK_INT(rc, -1);
    free(s);
}

/* ---- patients -------------------------------------------------------------------------- */

TEST(patient_table)
{
    int rc;
    char *s = render(ctlfmt_patients,
        "{\"v\":1,\"ok\":true,\"cmd\":\"patient-list\",\"patients\":["
        "{\"id\":1,\"name\":\"patient\",\"force_low\":null,\"force_high\":null,"
        "\"speed_max\":null,\"force_abort\":null,\"selected\":false},"
        "{\"id\":2,\"name\":\"Smith, Ann\",\"force_low\":150,\"force_high\":250,"
        "\"speed_max\":0.6,\"force_abort\":600,\"selected\":true},"
        "{\"id\":10,\"name\":\"Zo\\u00eb\",\"force_low\":120.5,\"force_high\":null,"
        "\"speed_max\":null,\"force_abort\":null,\"selected\":false}]}", &rc);

    CHECK_INT(rc, 0);
    CHECK_INT(strcmp(s,
        "     ID  NAME        FORCE LOW N  FORCE HIGH N  SPEED MAX m/s  FORCE ABORT N\n"
        "      1  patient               -             -              -              -\n"
        "*     2  Smith, Ann          150           250           0.60            600\n"
        "     10  Zo\xc3\xab                 120             -              -              -\n"
        "*: selected (its sessions are counted and its settings apply); -: the config's "
        "value\n"), 0);
    if (strncmp(s, "     ID", 7) != 0 || !strstr(s, "Smith, Ann          150"))
        printf("  got:\n%s", s);
    free(s);

    s = render(ctlfmt_patients, "{\"v\":1,\"ok\":true,\"cmd\":\"patient-list\","
               "\"patients\":[]}", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(strcmp(s, "no patients\n"), 0);
    free(s);
}

/* ---- results --------------------------------------------------------------------------- */

TEST(results_one_line_each)
{
    static const struct {
        const char *reply, *want;
    } cases[] = {
        {"{\"v\":1,\"ok\":true,\"cmd\":\"start\",\"result\":\"ok\",\"state\":\"set_running\"}",
         "start: ok, state now set_running\n"},
        {"{\"v\":1,\"ok\":true,\"cmd\":\"reset-fault\",\"result\":\"ok\",\"state\":\"idle\"}",
         "reset-fault: ok, state now idle\n"},
        {"{\"v\":1,\"ok\":true,\"cmd\":\"tare\",\"message\":\"taring: keep the belt unloaded\"}",
         "taring: keep the belt unloaded\n"},
        {"{\"v\":1,\"ok\":true,\"cmd\":\"pain\",\"session\":12,\"set\":2,\"score\":3}",
         "pain 3 recorded for session 12, set 2\n"},
        {"{\"v\":1,\"ok\":true,\"cmd\":\"patient-add\",\"patient\":{\"id\":3,\"name\":\"Ann\"}}",
         "patient 3 added: Ann\n"},
        {"{\"v\":1,\"ok\":true,\"cmd\":\"patient-select\",\"patient\":{\"id\":2,"
         "\"name\":\"Bo\"}}", "patient 2 selected: Bo\n"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        char *s = render(ctlfmt_reply, cases[i].reply, &rc);
        CHECK_INT(rc, 0);
        if (strcmp(s, cases[i].want) != 0)
            printf("  got \"%s\", want \"%s\"\n", s, cases[i].want);
        CHECK(strcmp(s, cases[i].want) == 0);
        free(s);
    }
}

TEST(reply_dispatches_by_cmd)
{
    int rc;
    char *s = render(ctlfmt_reply, status_running, &rc);

    CHECK_INT(rc, 0);
    CHECK_STR_CONTAINS(s, "state        set_running");
    free(s);
    s = render(ctlfmt_reply, "{\"v\":1,\"ok\":true,\"cmd\":\"export\",\"columns\":[\"a\"],"
               "\"rows\":[[1]]}", &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(strcmp(s, "a\r\n1\r\n"), 0);
    free(s);
}

TESTS(T(status_running_block), T(status_force_against_band), T(status_rest_timer),
      T(status_fault_with_value_and_limit), T(status_schedule_and_calibration),
      T(status_tolerates_missing_members_and_refuses_no_status),
      T(status_without_history_or_patient),
      T(status_control_characters_in_names_are_neutralised), T(wait_in_hours_and_minutes),
      T(numbers_shortest_round_trip), T(error_refused_schedule_gives_the_wait),
      T(error_message_and_hints), T(csv_quotes_names_and_writes_nulls_empty),
      T(csv_header_only_when_no_rows), T(csv_refuses_a_malformed_export_and_writes_nothing),
      T(csv_field_quotes_only_when_needed), T(history_table_per_session_utc),
      T(history_in_local_time), T(history_empty_and_odd_times), T(patient_table),
      T(results_one_line_each), T(reply_dispatches_by_cmd));
TEST_MAIN("test_ctlfmt")
