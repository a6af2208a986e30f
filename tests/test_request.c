/* test_request.c - the control socket's request parser and its error replies. */
#include "proto/request.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>

#include "tests/test.h"

/* One parse of a C string; the code ("" on success) and message for checks. */
struct parsed {
    int rc;
    struct req r;
    const char *code;
    char msg[256];
};

static struct parsed parse_n(const char *line, size_t len)
{
    struct parsed p;
    p.rc = req_parse(line, len, &p.r, &p.code, p.msg, sizeof p.msg);
    if (!p.code)
        p.code = "";
    return p;
}

static struct parsed parse(const char *line)
{
    return parse_n(line, strlen(line));
}

/* line fails with code, and its message contains want. */
static void check_fails(const char *line, const char *code, const char *want)
{
    struct parsed p = parse(line);
    if (p.rc != -1 || strcmp(p.code, code) != 0)
        printf("  for %s: rc %d code \"%s\" message \"%s\"\n", line, p.rc, p.code, p.msg);
    CHECK_INT(p.rc, -1);
    CHECK(strcmp(p.code, code) == 0);
    CHECK_STR_CONTAINS(p.msg, want);
}

/* line parses as command cmd. */
static struct req check_parses(const char *line, enum req_cmd cmd)
{
    struct parsed p = parse(line);
    if (p.rc != 0)
        printf("  for %s: %s: %s\n", line, p.code, p.msg);
    CHECK_INT(p.rc, 0);
    CHECK_INT(p.r.cmd, cmd);
    CHECK_INT(p.r.v, REQ_VERSION);
    return p.r;
}

TEST(command_names_round_trip)
{
    for (int c = 0; c < REQ_CMD_COUNT; c++) {
        CHECK(req_cmd_name((enum req_cmd)c) != NULL);
        CHECK_INT(req_cmd_from_name(req_cmd_name((enum req_cmd)c)), c);
    }
    CHECK(req_cmd_name(REQ_CMD_COUNT) == NULL);
    CHECK(req_cmd_name((enum req_cmd)-1) == NULL);
    CHECK_INT(req_cmd_from_name("Status"), -1);
    CHECK_INT(req_cmd_from_name(""), -1);
    CHECK_INT(req_cmd_from_name(NULL), -1);
    CHECK(strcmp(req_cmd_name(REQ_NEXT_SET), "next-set") == 0);
    CHECK(strcmp(req_cmd_name(REQ_PATIENT_SELECT), "patient-select") == 0);
}

TEST(every_command_without_members)
{
    static const struct { const char *line; enum req_cmd cmd; } cases[] = {
        {"{\"v\":1,\"cmd\":\"status\"}", REQ_STATUS},
        {"{\"v\":1,\"cmd\":\"start\"}", REQ_START},
        {"{\"v\":1,\"cmd\":\"stop\"}", REQ_STOP},
        {"{\"v\":1,\"cmd\":\"next-set\"}", REQ_NEXT_SET},
        {"{\"v\":1,\"cmd\":\"reset-fault\"}", REQ_RESET_FAULT},
        {"{\"v\":1,\"cmd\":\"tare\"}", REQ_TARE},
        {"{\"v\":1,\"cmd\":\"patient-list\"}", REQ_PATIENT_LIST},
        {" { \"cmd\" : \"status\" , \"v\" : 1 } \t", REQ_STATUS},   /* any order, blanks */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct req r = check_parses(cases[i].line, cases[i].cmd);
        CHECK(r.tag[0] == '\0');
        CHECK(isnan(r.mass_kg));
        CHECK(isnan(r.force_low));
    }
}

TEST(calibrate_takes_mass)
{
    CHECK_NEAR(check_parses("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":20}", REQ_CALIBRATE)
                   .mass_kg, 20.0, 0.0);
    CHECK_NEAR(check_parses("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":2.5}", REQ_CALIBRATE)
                   .mass_kg, 2.5, 0.0);
    CHECK_NEAR(check_parses("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":500}", REQ_CALIBRATE)
                   .mass_kg, 500.0, 0.0);
    CHECK_NEAR(check_parses("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":0.1}", REQ_CALIBRATE)
                   .mass_kg, 0.1, 0.0);
}

TEST(pain_takes_score)
{
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"pain\",\"score\":3}", REQ_PAIN).score, 3);
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"pain\",\"score\":0}", REQ_PAIN).score, 0);
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"pain\",\"score\":10}", REQ_PAIN).score, 10);
}

TEST(patient_add_takes_name_and_optional_limits)
{
    struct req r = check_parses("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"Ann\","
                                "\"force_low\":150,\"force_high\":250,\"speed_max\":0.6,"
                                "\"force_abort\":600}", REQ_PATIENT_ADD);
    CHECK(strcmp(r.name, "Ann") == 0);
    CHECK_NEAR(r.force_low, 150.0, 0.0);
    CHECK_NEAR(r.force_high, 250.0, 0.0);
    CHECK_NEAR(r.speed_max, 0.6, 0.0);
    CHECK_NEAR(r.force_abort, 600.0, 0.0);

    r = check_parses("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"Zo\\u00eb \\u00c5berg\"}",
                     REQ_PATIENT_ADD);
    CHECK(strcmp(r.name, "Zo\xc3\xab \xc3\x85" "berg") == 0);
    CHECK(isnan(r.force_low) && isnan(r.force_high) && isnan(r.speed_max) &&
          isnan(r.force_abort));

    char line[200], name[REQ_NAME_MAX];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';                      /* 63 bytes: the longest */
    snprintf(line, sizeof line, "{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"%s\"}", name);
    CHECK(strcmp(check_parses(line, REQ_PATIENT_ADD).name, name) == 0);
}

TEST(patient_select_history_export)
{
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"patient-select\",\"patient\":2}",
                           REQ_PATIENT_SELECT).patient, 2);
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"history\",\"days\":30}", REQ_HISTORY).days, 30);
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"history\"}", REQ_HISTORY).days, 7);
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"history\",\"days\":3650}", REQ_HISTORY).days,
              3650);
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"export\",\"days\":30}", REQ_EXPORT).days, 30);
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"export\",\"days\":0}", REQ_EXPORT).days, 0);
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"export\"}", REQ_EXPORT).days, 0);
}

TEST(tag_is_echoed_on_success_and_error)
{
    struct req r = check_parses("{\"v\":1,\"cmd\":\"start\",\"tag\":\"abc-1\"}", REQ_START);
    CHECK(strcmp(r.tag, "abc-1") == 0);

    struct parsed p = parse("{\"tag\":\"t7\",\"v\":1,\"cmd\":\"pain\",\"score\":11}");
    CHECK_INT(p.rc, -1);
    CHECK(strcmp(p.r.tag, "t7") == 0);
    CHECK_INT(p.r.cmd, REQ_PAIN);

    p = parse("{\"v\":2,\"cmd\":\"stop\",\"tag\":\"x\"}");           /* read despite v */
    CHECK(strcmp(p.code, "version") == 0);
    CHECK(strcmp(p.r.tag, "x") == 0);
    CHECK_INT(p.r.cmd, REQ_STOP);

    char line[200], tag[REQ_TAG_MAX + 1];
    memset(tag, 't', sizeof tag - 1);
    tag[sizeof tag - 1] = '\0';                        /* 65 bytes: one too many */
    snprintf(line, sizeof line, "{\"v\":1,\"cmd\":\"status\",\"tag\":\"%s\"}", tag);
    check_fails(line, "bad_request", "\"tag\" must be at most 64 bytes");
    tag[REQ_TAG_MAX - 1] = '\0';                       /* 64 bytes: fits */
    snprintf(line, sizeof line, "{\"v\":1,\"cmd\":\"status\",\"tag\":\"%s\"}", tag);
    CHECK(strcmp(check_parses(line, REQ_STATUS).tag, tag) == 0);
    check_fails("{\"v\":1,\"cmd\":\"status\",\"tag\":5}", "bad_request",
                "\"tag\" must be a string, not an integer");
}

TEST(not_json)
{
    check_fails("", "bad_request", "not valid JSON");
    check_fails("hello", "bad_request", "not valid JSON");
    check_fails("{\"v\":1,\"cmd\":\"status\"", "bad_request", "not valid JSON");
    check_fails("{\"v\":1,\"cmd\":\"status\"} {}", "bad_request", "not valid JSON");
    check_fails("{\"v\":1,\"cmd\":'status'}", "bad_request", "not valid JSON");
    check_fails("{\"v\":1,\"cmd\":\"stat\xffus\"}", "bad_request", "not valid JSON");
    check_fails("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":1e999}", "bad_request",
                "not valid JSON");
}

TEST(not_an_object)
{
    check_fails("[1,2]", "bad_request", "must be a JSON object, not an array");
    check_fails("\"status\"", "bad_request", "must be a JSON object, not a string");
    check_fails("42", "bad_request", "must be a JSON object, not an integer");
    check_fails("null", "bad_request", "must be a JSON object, not null");
}

TEST(version_missing_wrong_type_or_other)
{
    check_fails("{\"cmd\":\"status\"}", "bad_request", "member \"v\" is missing");
    check_fails("{\"v\":\"1\",\"cmd\":\"status\"}", "bad_request",
                "member \"v\" must be the integer 1, not a string");
    check_fails("{\"v\":1.0,\"cmd\":\"status\"}", "bad_request", "member \"v\" must be");
    check_fails("{\"v\":2,\"cmd\":\"status\"}", "version", "version 2 is not supported");
    check_fails("{\"v\":0,\"cmd\":\"status\"}", "version", "version 0");
    check_fails("{\"v\":-1,\"cmd\":\"frob\"}", "version", "version -1");  /* v before cmd */
}

TEST(command_missing_wrong_type_or_unknown)
{
    check_fails("{\"v\":1}", "bad_request", "member \"cmd\" is missing");
    check_fails("{\"v\":1,\"cmd\":7}", "bad_request", "member \"cmd\" must be a string");
    check_fails("{\"v\":1,\"cmd\":\"frobnicate\"}", "unknown_command",
                "unknown command \"frobnicate\" (known: status, start");
    check_fails("{\"v\":1,\"cmd\":\"STATUS\"}", "unknown_command", "\"STATUS\"");
    struct parsed p = parse("{\"v\":1,\"cmd\":\"frob\"}");
    CHECK_INT(p.r.cmd, REQ_CMD_COUNT);
}

TEST(unknown_member_names_it_and_the_allowed_ones)
{
    check_fails("{\"v\":1,\"cmd\":\"status\",\"verbose\":true}", "bad_request",
                "command \"status\" does not take member \"verbose\" (allowed: v, cmd, tag)");
    check_fails("{\"v\":1,\"cmd\":\"pain\",\"score\":3,\"set\":2}", "bad_request",
                "does not take member \"set\" (allowed: v, cmd, tag, score)");
    check_fails("{\"v\":1,\"cmd\":\"calibrate\",\"mass\":20}", "bad_request",
                "(allowed: v, cmd, tag, mass_kg, confirm)");
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\",\"age\":3}", "bad_request",
                "(allowed: v, cmd, tag, name, force_low, force_high, speed_max, force_abort)");
    check_fails("{\"v\":1,\"cmd\":\"history\",\"score\":3}", "bad_request",
                "does not take member \"score\"");                /* another command's */
    check_fails("{\"v\":1,\"cmd\":\"start\",\"\":1}", "bad_request", "member \"\"");
}

TEST(long_member_name_is_shortened_in_the_message)
{
    char line[400], key[200];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    snprintf(line, sizeof line, "{\"v\":1,\"cmd\":\"start\",\"%s\":1}", key);
    struct parsed p = parse(line);
    CHECK_INT(p.rc, -1);
    CHECK_STR_CONTAINS(p.msg, "kkk...\" (allowed");
    CHECK(strlen(p.msg) < 150);
}

TEST(duplicate_member)
{
    check_fails("{\"v\":1,\"cmd\":\"pain\",\"score\":3,\"score\":4}", "bad_request",
                "member \"score\" appears more than once");
    check_fails("{\"v\":1,\"v\":1,\"cmd\":\"status\"}", "bad_request",
                "member \"v\" appears more than once");
}

TEST(wrong_types)
{
    check_fails("{\"v\":1,\"cmd\":\"pain\",\"score\":\"3\"}", "bad_request",
                "member \"score\" must be an integer from 0 to 10, not a string");
    check_fails("{\"v\":1,\"cmd\":\"pain\",\"score\":3.5}", "bad_request",
                "member \"score\" must be an integer from 0 to 10, not a fractional number");
    check_fails("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":\"20\"}", "bad_request",
                "member \"mass_kg\" must be a number from 0.1 to 500 kg, not a string");
    check_fails("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":null}", "bad_request",
                "not null");
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":5}", "bad_request",
                "member \"name\" must be a string, not an integer");
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\",\"speed_max\":[1]}",
                "bad_request", "member \"speed_max\" must be a number from 0.08 to 0.83 m/s, not an array");
    check_fails("{\"v\":1,\"cmd\":\"patient-select\",\"patient\":true}", "bad_request",
                "member \"patient\" must be an integer");
    check_fails("{\"v\":1,\"cmd\":\"history\",\"days\":{}}", "bad_request",
                "member \"days\" must be an integer from 1 to 3650, not an object");
}

TEST(out_of_range)
{
    check_fails("{\"v\":1,\"cmd\":\"pain\",\"score\":11}", "bad_request",
                "member \"score\" must be an integer from 0 to 10, not 11");
    check_fails("{\"v\":1,\"cmd\":\"pain\",\"score\":-1}", "bad_request", "not -1");
    check_fails("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":0}", "bad_request",
                "member \"mass_kg\" must be a number from 0.1 to 500 kg, not 0");
    check_fails("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":-2}", "bad_request", "not -2");
    check_fails("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":500.001}", "bad_request",
                "to 500 kg, not 500.001");
    check_fails("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":-0.0}", "bad_request", "not -0");
    check_fails("{\"v\":1,\"cmd\":\"patient-select\",\"patient\":0}", "bad_request",
                "member \"patient\" must be an integer of at least 1, not 0");
    check_fails("{\"v\":1,\"cmd\":\"history\",\"days\":0}", "bad_request",
                "member \"days\" must be an integer from 1 to 3650, not 0");
    check_fails("{\"v\":1,\"cmd\":\"history\",\"days\":3651}", "bad_request", "not 3651");
    check_fails("{\"v\":1,\"cmd\":\"export\",\"days\":-1}", "bad_request",
                "member \"days\" must be an integer from 0 to 3650, not -1");
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\",\"force_low\":0}",
                "bad_request", "member \"force_low\" must be a number from 5 to 1000 N, not 0");
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\",\"force_abort\":-600}",
                "bad_request", "member \"force_abort\"");
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"\"}", "bad_request",
                "member \"name\" must be 1 to 63 bytes long (it is 0)");

    char line[200], name[REQ_NAME_MAX + 1];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';                      /* 64 bytes */
    snprintf(line, sizeof line, "{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"%s\"}", name);
    check_fails(line, "bad_request", "(it is 64)");
}

/* What a hostile or careless client may send raw, past eccctl's own checks: the daemon's
 * parser holds every bound itself (one table, shared with eccctl). */
TEST(raw_values_eccctl_would_refuse)
{
    static const struct { const char *line, *want; } refused[] = {
        {"{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":1e-320}", "not 9.99989e-321"},
        {"{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":1e300}", "not 1e+300"},
        {"{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":500.0000001}",
         "from 0.1 to 500 kg, not 500.0000001"},
        {"{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":NaN}", "invalid"},
        {"{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":-0}", "not 0"},
        {"{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\",\"force_low\":1e300}",
         "from 5 to 1000 N, not 1e+300"},
        {"{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\",\"force_high\":1e-320}",
         "from 5 to 1000 N"},
        {"{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\",\"speed_max\":0.8300000001}",
         "from 0.08 to 0.83 m/s, not 0.8300000001"},
        {"{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\",\"force_abort\":1e-320}",
         "member \"force_abort\" must be a number from 20 to"},
        {"{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"   \"}", "white space"},
        {"{\"v\":1,\"cmd\":\"patient-add\",\"name\":\" Ann\"}", "white space"},
        {"{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"Ann\\t\"}", "control characters"},
        {"{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\",\"force_low\":200,"
         "\"force_high\":150}", "\"force_low\" (200 N) must be below \"force_high\" (150 N)"},
        {"{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\",\"force_high\":300,"
         "\"force_abort\":250}", "\"force_abort\" (250 N) must be above"},
        {"{\"v\":1,\"cmd\":\"pain\",\"score\":1e1}", "not a fractional number"},
        {"{\"v\":1,\"cmd\":\"patient-select\",\"patient\":9223372036854775807}",
         "must be an integer of at least 1"},
        {"{\"v\":1,\"cmd\":\"watch\",\"rate_hz\":0}", "from 1 to 25 Hz, not 0"},
        {"{\"v\":1,\"cmd\":\"watch\",\"rate_hz\":26}", "from 1 to 25 Hz, not 26"},
        {"{\"v\":1,\"cmd\":\"watch\",\"rate_hz\":2.5}", "must be an integer"},
        {"{\"v\":1,\"cmd\":\"watch\",\"days\":2}", "days"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        check_fails(refused[i].line, "bad_request", refused[i].want);

    check_fails("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":5,\"confirm\":1}", "bad_request",
                "member \"confirm\" must be true or false, not an integer");
    CHECK(check_parses("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":5,\"confirm\":true}",
                       REQ_CALIBRATE).confirm);
    CHECK(!check_parses("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":5}", REQ_CALIBRATE).confirm);

    /* The edges themselves pass; a name with a space inside is a name. */
    CHECK_NEAR(check_parses("{\"v\":1,\"cmd\":\"calibrate\",\"mass_kg\":500}", REQ_CALIBRATE)
                   .mass_kg, 500.0, 0.0);
    CHECK(!strcmp(check_parses("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"Ann Lee\","
                               "\"force_low\":5,\"force_high\":1000}", REQ_PATIENT_ADD).name,
                  "Ann Lee"));
}

/* eccctl asks the same table: the words name the value as the caller does. */
TEST(field_table_checks_values_for_eccctl)
{
    const struct req_field *f = req_field_find(REQ_CALIBRATE, "mass_kg");
    char msg[200], range[96];

    REQUIRE(f != NULL);
    CHECK(req_field_find(REQ_CALIBRATE, "score") == NULL);
    CHECK(req_field_find(REQ_STATUS, "mass_kg") == NULL);
    CHECK_INT(req_field_check(f, 20.0, "MASS_KG", msg, sizeof msg), 0);
    CHECK_INT(req_field_check(f, 500.0000001, "MASS_KG", msg, sizeof msg), -1);
    CHECK_STR_CONTAINS(msg, "MASS_KG must be a number from 0.1 to 500 kg, not 500.0000001");
    CHECK_INT(req_field_check(f, NAN, NULL, msg, sizeof msg), -1);
    CHECK_STR_CONTAINS(msg, "member \"mass_kg\" must be");
    req_field_range(req_field_find(REQ_PAIN, "score"), range, sizeof range);
    CHECK(!strcmp(range, "an integer from 0 to 10"));
    CHECK_INT(req_field_check(req_field_find(REQ_PAIN, "score"), 2.5, "SCORE", msg, sizeof msg),
              -1);
    CHECK_INT(req_name_check("Ann", 3, NULL, msg, sizeof msg), 0);
    CHECK_INT(req_name_check(" ", 1, "the name", msg, sizeof msg), -1);
    CHECK_STR_CONTAINS(msg, "the name must not start or end with white space");
}

TEST(required_members)
{
    check_fails("{\"v\":1,\"cmd\":\"calibrate\"}", "bad_request",
                "command \"calibrate\" needs member \"mass_kg\"");
    check_fails("{\"v\":1,\"cmd\":\"pain\"}", "bad_request",
                "command \"pain\" needs member \"score\": an integer from 0 to 10");
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"force_low\":100}", "bad_request",
                "command \"patient-add\" needs member \"name\"");
    check_fails("{\"v\":1,\"cmd\":\"patient-select\"}", "bad_request",
                "needs member \"patient\"");
}

TEST(too_long_is_not_parsed)
{
    size_t n = REQ_LINE_MAX;                           /* one more than fits */
    char *line = malloc(n + 1);
    memset(line, ' ', n);
    memcpy(line, "{\"v\":1,\"cmd\":\"status\"}", 22);
    struct parsed p = parse_n(line, n);
    CHECK_INT(p.rc, -1);
    CHECK(strcmp(p.code, "too_long") == 0);
    CHECK_STR_CONTAINS(p.msg, "4097 bytes long (at most 4096");
    CHECK_INT(p.r.cmd, REQ_CMD_COUNT);                 /* not read */

    p = parse_n(line, n - 1);                          /* REQ_LINE_MAX - 1: just fits */
    CHECK_INT(p.rc, 0);
    free(line);
}

TEST(nul_inside)
{
    static const char line[] = "{\"v\":1,\"cmd\":\"status\"}\0";
    struct parsed p = parse_n(line, sizeof line - 1);
    CHECK_INT(p.rc, -1);
    CHECK(strcmp(p.code, "bad_request") == 0);
    CHECK_STR_CONTAINS(p.msg, "NUL byte (at byte 22)");

    static const char in_string[] = "{\"v\":1,\"cmd\":\"sta\0tus\"}";
    p = parse_n(in_string, sizeof in_string - 1);
    CHECK_STR_CONTAINS(p.msg, "NUL byte (at byte 17)");
    /* the escaped form is jansson's to refuse */
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\\u0000B\"}", "bad_request",
                "not valid JSON");
}

TEST(control_characters_in_name)
{
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"Ann\\nBob\"}", "bad_request",
                "member \"name\" must not contain control characters (one is at byte 3)");
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"\\t\"}", "bad_request",
                "control characters");
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\\u007f\"}", "bad_request",
                "control characters");
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\\u0085\"}", "bad_request",
                "control characters");                          /* C1: NEL */
    /* raw control bytes inside a string are not JSON at all */
    check_fails("{\"v\":1,\"cmd\":\"patient-add\",\"name\":\"A\x01\"}", "bad_request",
                "not valid JSON");
}

TEST(unset_members_of_a_failed_parse_are_reset)
{
    struct req r;
    const char *code;
    char msg[64];
    memset(&r, 0x5a, sizeof r);
    CHECK_INT(req_parse("nope", 4, &r, &code, msg, sizeof msg), -1);
    CHECK_INT(r.cmd, REQ_CMD_COUNT);
    CHECK(r.tag[0] == '\0' && r.name[0] == '\0');
    /* a tiny message buffer is cut, never overrun */
    CHECK_INT(req_parse("nope", 4, &r, &code, msg, 5), -1);
    CHECK(strlen(msg) == 4);
    CHECK_INT(req_parse("nope", 4, &r, &code, NULL, 0), -1);
    CHECK(strcmp(code, "bad_request") == 0);
}

/* Parse a reply back with jansson; NULL if it is not an object. */
static json_t *load_reply(const char *buf)
{
    json_error_t e;
    json_t *j = json_loads(buf, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        printf("  reply is not JSON: %s: %s\n", e.text, buf);
    return j;
}

static const char *member(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

TEST(error_reply_fields)
{
    char buf[REQ_LINE_MAX];
    struct parsed p = parse("{\"v\":1,\"cmd\":\"pain\",\"score\":12,\"tag\":\"q1\"}");
    int n = req_reply_error(buf, sizeof buf, &p.r, p.code, p.msg);
    CHECK_INT(n, (int)strlen(buf));
    static const char head[] = "{\"v\":1,\"ok\":false,\"cmd\":\"pain\",\"tag\":\"q1\",\"error\":";
    CHECK(strncmp(buf, head, sizeof head - 1) == 0);
    json_t *j = load_reply(buf);
    CHECK(j != NULL);
    CHECK_INT(json_integer_value(json_object_get(j, "v")), 1);
    CHECK(json_is_false(json_object_get(j, "ok")));
    CHECK(strcmp(member(j, "cmd"), "pain") == 0);
    CHECK(strcmp(member(j, "tag"), "q1") == 0);
    CHECK(strcmp(member(j, "error"), "bad_request") == 0);
    CHECK(strcmp(member(j, "message"), p.msg) == 0);
    CHECK_INT(json_object_size(j), 6);
    json_decref(j);

    n = req_reply_error(buf, sizeof buf, NULL, "busy", "try later");   /* nothing read */
    CHECK(strcmp(buf, "{\"v\":1,\"ok\":false,\"error\":\"busy\",\"message\":\"try later\"}") == 0);
    CHECK_INT(n, (int)strlen(buf));

    p = parse("[]");                                   /* r without cmd or tag */
    req_reply_error(buf, sizeof buf, &p.r, p.code, p.msg);
    j = load_reply(buf);
    CHECK(j && !json_object_get(j, "cmd") && !json_object_get(j, "tag"));
    json_decref(j);
}

TEST(error_reply_escapes_the_message)
{
    static const char *const msgs[] = {
        "a \"quoted\" word", "back\\slash \\\" both", "two\nlines\r\n", "tab\there",
        "\x01\x1f bell\a", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "", "}\"]{,",
    };
    char buf[REQ_LINE_MAX];
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        req_reply_error(buf, sizeof buf, NULL, "internal", msgs[i]);
        CHECK(strchr(buf, '\n') == NULL);
        json_t *j = load_reply(buf);
        CHECK(j != NULL);
        CHECK(j && strcmp(member(j, "message"), msgs[i]) == 0);
        CHECK(j && strcmp(member(j, "error"), "internal") == 0);
        json_decref(j);
    }
    /* a tag with quotes and a backslash, as jansson would hand it over */
    struct parsed p = parse("{\"v\":1,\"cmd\":\"stop\",\"tag\":\"a\\\"b\\\\c\\n\"}");
    CHECK_INT(p.rc, 0);
    req_reply_error(buf, sizeof buf, &p.r, "refused_state", "x");
    json_t *j = load_reply(buf);
    CHECK(j && strcmp(member(j, "tag"), "a\"b\\c\n") == 0);
    json_decref(j);
}

TEST(error_reply_invalid_utf8_and_null_arguments)
{
    char buf[256];
    req_reply_error(buf, sizeof buf, NULL, "internal", "bad \xff\xc0\x80 \xed\xa0\x80 \xe2\x82");
    json_t *j = load_reply(buf);
    CHECK(j != NULL);
    CHECK(j && strcmp(member(j, "message"), "bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
                      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd") == 0);
    json_decref(j);

    req_reply_error(buf, sizeof buf, NULL, NULL, NULL);
    CHECK(strcmp(buf, "{\"v\":1,\"ok\":false,\"error\":\"internal\",\"message\":\"\"}") == 0);
}

TEST(error_reply_truncates_like_snprintf)
{
    char big[REQ_LINE_MAX], small[20];
    int n = req_reply_error(big, sizeof big, NULL, "bad_request", "a \"long\" message\n");
    memset(small, '#', sizeof small);
    CHECK_INT(req_reply_error(small, sizeof small, NULL, "bad_request", "a \"long\" message\n"),
              n);
    CHECK(small[sizeof small - 1] == '\0');
    CHECK(strncmp(small, big, sizeof small - 1) == 0);
    CHECK_INT(req_reply_error(NULL, 0, NULL, "bad_request", "a \"long\" message\n"), n);

    /* the worst case: a 599-byte message and a 64-byte tag of control characters (six
     * bytes each in JSON), still within REQ_LINE_MAX */
    char msg[600], line[600];
    memset(msg, '\x01', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    size_t k = (size_t)snprintf(line, sizeof line, "{\"v\":1,\"cmd\":\"patient-select\","
                                "\"patient\":0,\"tag\":\"");
    for (int i = 0; i < REQ_TAG_MAX - 1; i++)
        k += (size_t)snprintf(line + k, sizeof line - k, "\\u0001");
    snprintf(line + k, sizeof line - k, "\"}");
    struct parsed p = parse(line);
    CHECK_INT(strlen(p.r.tag), REQ_TAG_MAX - 1);
    n = req_reply_error(big, sizeof big, &p.r, "refused_schedule", msg);
    CHECK(n < REQ_LINE_MAX);
    json_t *j = load_reply(big);
    CHECK(j && strcmp(member(j, "message"), msg) == 0);
    CHECK(j && strcmp(member(j, "tag"), p.r.tag) == 0);
    json_decref(j);
}

TEST(morning_and_questionnaire_take_their_scores)
{
    struct req r;

    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"morning\",\"score\":10}", REQ_MORNING).score, 10);
    check_fails("{\"v\":1,\"cmd\":\"morning\",\"score\":11}", "bad_request", "0 to 10");
    check_fails("{\"v\":1,\"cmd\":\"morning\",\"score\":2.5}", "bad_request", "integer");
    check_fails("{\"v\":1,\"cmd\":\"morning\"}", "bad_request", "needs member \"score\"");
    r = check_parses("{\"v\":1,\"cmd\":\"questionnaire\",\"score\":64.5}", REQ_QUESTIONNAIRE);
    CHECK_NEAR(r.number, 64.5, 0.0);
    CHECK(r.name[0] == '\0');                   /* the default instrument is eccd's to say */
    r = check_parses("{\"v\":1,\"cmd\":\"questionnaire\",\"score\":0,\"instrument\":\"VISA-A\"}",
                     REQ_QUESTIONNAIRE);
    CHECK(strcmp(r.name, "VISA-A") == 0);
    check_fails("{\"v\":1,\"cmd\":\"questionnaire\",\"score\":100.5}", "bad_request", "0 to 100");
    check_fails("{\"v\":1,\"cmd\":\"questionnaire\",\"score\":50,\"instrument\":\" x\"}",
                "bad_request", "member \"instrument\" must not start or end with white space");
    check_fails("{\"v\":1,\"cmd\":\"questionnaire\",\"score\":50,\"instrument\":3}",
                "bad_request", "member \"instrument\" must be a string");
}

TEST(programme_set_members_absent_keep_and_present_are_checked)
{
    struct req r = check_parses("{\"v\":1,\"cmd\":\"programme-set\"}", REQ_PROGRAMME_SET);

    CHECK(isnan(r.prog.start) && isnan(r.prog.band_low) && isnan(r.prog.step_share));
    CHECK_INT(r.prog.weeks, -1);
    CHECK_INT(r.prog.locked, -1);
    CHECK_INT(r.prog.level, INT_MIN);
    r = check_parses("{\"v\":1,\"cmd\":\"programme-set\",\"start\":1767596400,\"weeks\":12,"
                     "\"sessions_per_day\":2,\"band_low\":60,\"band_high\":100,"
                     "\"step_share\":0.05,\"floor_n\":50,\"ceiling_n\":160,\"baseline\":1,"
                     "\"level\":-2,\"locked\":true}", REQ_PROGRAMME_SET);
    CHECK_NEAR(r.prog.start, 1767596400.0, 0.0);
    CHECK_INT(r.prog.weeks, 12);
    CHECK_NEAR(r.prog.band_high, 100.0, 0.0);
    CHECK_NEAR(r.prog.step_share, 0.05, 0.0);
    CHECK_INT(r.prog.level, -2);
    CHECK_INT(r.prog.locked, 1);
    check_fails("{\"v\":1,\"cmd\":\"programme-set\",\"weeks\":53}", "bad_request", "1 to 52");
    check_fails("{\"v\":1,\"cmd\":\"programme-set\",\"step_share\":0.6}", "bad_request", "step_share");
    check_fails("{\"v\":1,\"cmd\":\"programme-set\",\"band_low\":100,\"band_high\":60}",
                "bad_request", "must be below");
    check_fails("{\"v\":1,\"cmd\":\"programme-set\",\"floor_n\":90,\"ceiling_n\":90}",
                "bad_request", "\"floor_n\" (90 N) must be below");
    check_fails("{\"v\":1,\"cmd\":\"programme-set\",\"locked\":1}", "bad_request",
                "true or false");
    check_fails("{\"v\":1,\"cmd\":\"programme-set\",\"band_low\":2000}", "bad_request",
                "band_low");
}

TEST(report_takes_an_optional_patient)
{
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"report\"}", REQ_REPORT).patient, 0);
    CHECK_INT(check_parses("{\"v\":1,\"cmd\":\"report\",\"patient\":3}", REQ_REPORT).patient, 3);
    check_fails("{\"v\":1,\"cmd\":\"report\",\"patient\":0}", "bad_request", "patient");
    check_fails("{\"v\":1,\"cmd\":\"programme\",\"patient\":1}", "bad_request",
                "does not take member \"patient\"");
}

#define UUID "6F1C2D3E-4b5a-4c6d-8e7f-0a1b2c3d4e5f"

TEST(patient_put_takes_a_uuid_a_name_and_optional_settings)
{
    struct req r = check_parses("{\"v\":1,\"cmd\":\"patient-put\",\"uuid\":\"" UUID "\","
                                "\"name\":\"Ann\",\"created\":1767596400,\"force_low\":60}",
                                REQ_PATIENT_PUT);

    CHECK(strcmp(r.uuid, "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f") == 0);   /* lower case */
    CHECK(strcmp(r.name, "Ann") == 0);
    CHECK(r.created == 1767596400.0);
    CHECK(r.force_low == 60.0);
    CHECK(isnan(r.force_high));
    check_fails("{\"v\":1,\"cmd\":\"patient-put\",\"name\":\"Ann\"}", "bad_request",
                "needs member \"uuid\"");
    check_fails("{\"v\":1,\"cmd\":\"patient-put\",\"uuid\":\"6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5\","
                "\"name\":\"Ann\"}", "bad_request", "must be a UUID");
    check_fails("{\"v\":1,\"cmd\":\"patient-put\",\"uuid\":\"6f1c2d3e+4b5a-4c6d-8e7f-0a1b2c3d4e5f\","
                "\"name\":\"Ann\"}", "bad_request", "must be a UUID");
    check_fails("{\"v\":1,\"cmd\":\"patient-put\",\"uuid\":7,\"name\":\"Ann\"}", "bad_request",
                "must be a UUID");
    check_fails("{\"v\":1,\"cmd\":\"patient-put\",\"uuid\":\"" UUID "\"}", "bad_request",
                "needs member \"name\"");
}

TEST(programme_put_needs_the_whole_plan_and_its_time)
{
    static const char whole[] = "{\"v\":1,\"cmd\":\"programme-put\",\"patient_uuid\":\"" UUID "\","
        "\"updated\":1767600000,\"start\":1767596400,\"weeks\":12,\"sessions_per_day\":2,"
        "\"band_low\":60,\"band_high\":100,\"step_share\":0.05,\"floor_n\":50,"
        "\"ceiling_n\":160,\"level\":2,\"locked\":true,\"last_change\":1767599000}";
    struct req r = check_parses(whole, REQ_PROGRAMME_PUT);

    CHECK(strcmp(r.uuid, "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f") == 0);
    CHECK(r.updated == 1767600000.0);
    CHECK(r.last_change == 1767599000.0);
    CHECK_INT(r.prog.level, 2);
    CHECK_INT(r.prog.locked, 1);
    CHECK(isnan(r.prog.baseline));
    check_fails("{\"v\":1,\"cmd\":\"programme-put\",\"patient_uuid\":\"" UUID "\","
                "\"start\":1767596400}", "bad_request", "needs member \"updated\"");
    check_fails("{\"v\":1,\"cmd\":\"programme-put\",\"patient_uuid\":\"" UUID "\","
                "\"updated\":1767600000,\"start\":1767596400}", "bad_request",
                "needs member \"weeks\"");
    check_fails("{\"v\":1,\"cmd\":\"programme-put\",\"updated\":1767600000}", "bad_request",
                "needs member \"patient_uuid\"");
}

TESTS(T(morning_and_questionnaire_take_their_scores),
      T(patient_put_takes_a_uuid_a_name_and_optional_settings),
      T(programme_put_needs_the_whole_plan_and_its_time),
      T(programme_set_members_absent_keep_and_present_are_checked),
      T(report_takes_an_optional_patient),
      T(command_names_round_trip), T(every_command_without_members), T(calibrate_takes_mass),
      T(pain_takes_score), T(patient_add_takes_name_and_optional_limits),
      T(patient_select_history_export), T(tag_is_echoed_on_success_and_error), T(not_json),
      T(not_an_object), T(version_missing_wrong_type_or_other),
      T(command_missing_wrong_type_or_unknown), T(unknown_member_names_it_and_the_allowed_ones),
      T(long_member_name_is_shortened_in_the_message), T(duplicate_member), T(wrong_types),
      T(out_of_range), T(raw_values_eccctl_would_refuse),
      T(field_table_checks_values_for_eccctl), T(required_members), T(too_long_is_not_parsed), T(nul_inside),
      T(control_characters_in_name), T(unset_members_of_a_failed_parse_are_reset),
      T(error_reply_fields), T(error_reply_escapes_the_message),
      T(error_reply_invalid_utf8_and_null_arguments), T(error_reply_truncates_like_snprintf));

TEST_MAIN("test_request")
