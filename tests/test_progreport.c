/* test_progreport.c - the clinician's report (client/progreport.c): a two-week fixture
 * rendered to HTML and read back (sections, escaping, nothing outside the file, the
 * calendar's cells, the summary, the progression table, the band's step), bad documents
 * refused by the field's path with nothing written, empty and one-point data; and the
 * chromium runner, on stand-in scripts (its arguments, its clean-up, a time-out, no
 * output) and on the real chromium (PDF and PNG). */
#define _XOPEN_SOURCE 700           /* nftw */
#include "client/progreport.h"

#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/test.h"

/* The report contains (or lacks) a piece; a failure names the piece, not the whole report. */
#define CHECK_HAS(hay, needle) check_has(__FILE__, __LINE__, (hay), (needle), true)
#define CHECK_LACKS(hay, needle) check_has(__FILE__, __LINE__, (hay), (needle), false)

static void check_has(const char *file, int line, const char *hay, const char *needle, bool want)
{
    if ((hay && strstr(hay, needle)) == want)
        return;
    printf("  check failed: %s:%d: the text %s \"%s\"\n", file, line, want ? "lacks" : "has",
           needle);
    test_failed_ = 1;
}

/* ---- the fixture: a two-week programme, on its day 10 -------------------------------- */

#define START 1767596400.0           /* 2026-01-05 08:00 local (UTC+1), a Monday */
#define MIDNIGHT0 1767567600.0       /* 2026-01-05 00:00 local */
#define H 3600.0
#define D 86400.0
#define NAME "Ann <script>alert('x')</script> & Co"
#define FLAG_REASON "morning 5 > baseline 2 + 2 <b>"
#define UP_REASON "week of sessions all in band >= 90% with pain <= 3"

static double local(int day, double hour)
{
    return MIDNIGHT0 + day * D + hour * H;
}

static json_t *session(int day, double hour, const char *status, double low, double high)
{
    json_t *s = json_pack("{s:f, s:f, s:s, s:f, s:f, s:f, s:f, s:i, s:i, s:i, s:[{s:i, s:i}]}",
                          "started", local(day, hour), "ended", local(day, hour) + 400.0,
                          "status", status, "band_low", low, "band_high", high, "mean_n",
                          low + 0.55 * (high - low), "in_band_share", 0.9 + 0.01 * (day % 5),
                          "reps", 45, "rejects", 1, "max_pain", 2 + day % 2, "sets", "n", 1,
                          "pain", 2 + day % 2);

    return s;
}

static json_t *sessions_fixture(void)
{
    json_t *a = json_array();

    for (int day = 0; day <= 10; day++) {
        double low = day >= 7 ? 63.0 : 60.0, high = day >= 7 ? 105.0 : 100.0;
        if (day == 3) {                              /* stopped: the day stays missed */
            json_array_append_new(a, session(day, 9.0, "stopped", low, high));
            continue;
        }
        json_array_append_new(a, session(day, 9.0, "done", low, high));
        if (day != 5 && day != 10)                   /* day 5 partial; day 10 is today */
            json_array_append_new(a, session(day, 17.0, "done", low, high));
    }
    return a;
}

static json_t *checkins_fixture(void)
{
    json_t *a = json_array();

    for (int day = 1; day <= 10; day++)
        json_array_append_new(a, json_pack("{s:f, s:s, s:i}", "t", local(day, 7.5), "kind",
                                           "morning", "score", day == 4 ? 5 : 2));
    json_array_append_new(a, json_pack("{s:f, s:s, s:s, s:i}", "t", local(0, 10.0), "kind",
                                       "questionnaire", "instrument", "VISA-H", "score", 55));
    json_array_append_new(a, json_pack("{s:f, s:s, s:s, s:i}", "t", local(7, 10.0), "kind",
                                       "questionnaire", "instrument", "VISA-H", "score", 62));
    json_array_append_new(a, json_pack("{s:f, s:s, s:s, s:i}", "t", local(8, 10.0), "kind",
                                       "questionnaire", "instrument", "Pain <VAS>", "score", 30));
    json_array_append_new(a, json_pack("{s:f, s:s, s:s}", "t", local(8, 11.0), "kind", "note",
                                       "text", "ignored"));
    return a;
}

static json_t *progression_fixture(void)
{
    return json_pack("[{s:f, s:s, s:i, s:i, s:n, s:n, s:s}, {s:f, s:s, s:i, s:i, s:i, s:i, s:s}]",
                     "t", local(4, 7.6), "kind", "flag_morning", "level_from", 0, "level_to", 0,
                     "band_low", "band_high", "reason", FLAG_REASON,
                     "t", local(7, 6.0), "kind", "up", "level_from", 0, "level_to", 1,
                     "band_low", 63, "band_high", 105, "reason", UP_REASON);
}

static json_t *fixture(void)
{
    json_t *doc = json_pack(
        "{s:i, s:f, s:{s:i, s:s}, s:{s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:i, s:b,"
        " s:i, s:i, s:i, s:i, s:i, s:i}, s:{s:i, s:i, s:f, s:i, s:f},"
        " s:o, s:o, s:o, s:{s:i, s:i, s:i, s:i}}",
        "report", 1, "generated", local(10, 12.0),
        "patient", "id", 1, "name", NAME,
        "programme", "start", START, "weeks", 2, "sessions_per_day", 2, "sets", 3, "reps", 15,
        "band_low", 60, "band_high", 100, "step_share", 0.05, "floor_n", 40, "ceiling_n", 160,
        "locked", 0, "level", 1, "cur_low", 63, "cur_high", 105, "baseline_morning", 2,
        "utc_offset_s", 3600, "day_start_h", 3,
        "thresholds", "pain_stop", 5, "morning_rise", 2, "up_in_band", 0.9, "up_pain_max", 3,
        "adherence_flag", 0.7,
        "sessions", sessions_fixture(), "checkins", checkins_fixture(),
        "progression", progression_fixture(),
        "rejects_by_reason", "too_short", 3, "out_of_band", 5, "above_band_at_min_speed", 1,
        "new_reason_x", 2);

    if (!doc)
        printf("  the fixture does not pack\n");
    return doc;
}

/* The report of doc as a string the caller frees; *rc gets progreport_html's answer and
 * *len how much it wrote. */
static char *render(const json_t *doc, int *rc, char *err, size_t errlen, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);

    *rc = -2;
    err[0] = '\0';
    if (f && doc)
        *rc = progreport_html(doc, f, err, errlen);
    if (f)
        fclose(f);
    if (len)
        *len = n;
    return buf ? buf : calloc(1, 1);
}

static char *render_ok(const json_t *doc)
{
    char err[256];
    int rc;
    char *html = render(doc, &rc, err, sizeof err, NULL);

    if (rc != 0)
        printf("  progreport_html: %s\n", err);
    CHECK_INT(rc, 0);
    return html;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- the rendering ---------------------------------------------------------------------- */

TEST(fixture_renders_every_section_in_order)
{
    json_t *doc = fixture();
    char *html = render_ok(doc);
    static const char *const order[] = {"<header>", "id=\"summary\"", "id=\"calendar\"",
                                        "id=\"band\"", "id=\"in-band\"", "id=\"pain\"",
                                        "id=\"progression\"", "id=\"rejects\"",
                                        "id=\"questionnaires\"", "</html>"};
    const char *at = html;

    CHECK(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *next = strstr(at, order[i]);
        if (!next)
            printf("  %s missing or out of order\n", order[i]);
        CHECK(next != NULL);
        at = next ? next : at;
    }
    CHECK_HAS(html, "@page{size:A4 portrait;margin:");
    CHECK_HAS(html, "break-inside:avoid");
    CHECK_INT(count(html, "<svg class=\"fig\""), 5);
    free(html);
    json_decref(doc);
}

TEST(nothing_outside_the_file)
{
    json_t *doc = fixture();
    char *html = render_ok(doc);

    CHECK_LACKS(html, "http");
    CHECK_LACKS(html, "//");
    CHECK_LACKS(html, "src=");
    CHECK_LACKS(html, "href");
    CHECK_LACKS(html, "url(");
    CHECK_LACKS(html, "@import");
    CHECK_LACKS(html, "@font-face");
    CHECK_LACKS(html, "<img");
    CHECK_LACKS(html, "<link");
    CHECK_LACKS(html, "<script");
    CHECK_LACKS(html, "xmlns");
    free(html);
    json_decref(doc);
}

TEST(strings_from_the_document_are_escaped)
{
    json_t *doc = fixture();
    char *html = render_ok(doc);

    CHECK_HAS(html, "Ann &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co");
    CHECK_HAS(html, "<title>Programme report: Ann &lt;script&gt;");
    CHECK_HAS(html, "morning 5 &gt; baseline 2 + 2 &lt;b&gt;");
    CHECK_HAS(html, "Pain &lt;VAS&gt;");
    CHECK_LACKS(html, "<VAS>");
    CHECK_LACKS(html, "2 + 2 <b>");
    free(html);
    json_decref(doc);
}

/* The <td> of the calendar whose title is date, or "" (a static copy). */
static const char *calendar_cell(const char *html, const char *date)
{
    static char cell[256];
    char key[48];
    const char *title, *open, *close;

    snprintf(key, sizeof key, "title=\"%s\">", date);
    cell[0] = '\0';
    title = strstr(html, key);
    if (!title)
        return cell;
    for (open = title; open > html && strncmp(open, "<td", 3) != 0; open--)
        ;
    close = strstr(title, "</td>");
    if (close && close - open < (long)sizeof cell)
        snprintf(cell, sizeof cell, "%.*s", (int)(close - open), open);
    return cell;
}

/* The calendar's cell of date has class "day CLS" and says text. */
static void check_cell(const char *html, const char *date, const char *cls, const char *text)
{
    char want[128];

    snprintf(want, sizeof want, "<td class=\"day %s\" title=\"%s\">%s", cls, date, text);
    if (strcmp(calendar_cell(html, date), want) != 0)
        printf("  cell %s is \"%s\", want \"%s\"\n", date, calendar_cell(html, date), want);
    CHECK(strcmp(calendar_cell(html, date), want) == 0);
}

TEST(calendar_has_a_cell_per_day_with_done_over_planned)
{
    json_t *doc = fixture();
    char *html = render_ok(doc);

    CHECK_INT(count(html, "<td class=\"day "), 14);
    CHECK_HAS(html, "<tr><th>1</th><td>2026-01-05</td>");
    CHECK_HAS(html, "<tr><th>2</th><td>2026-01-12</td>");
    CHECK_LACKS(html, "<tr><th>3</th>");
    CHECK_HAS(html, "<th>Mon</th><th>Tue</th>");
    check_cell(html, "2026-01-06", "full", "2/2");
    check_cell(html, "2026-01-08", "missed", "0/2");
    check_cell(html, "2026-01-10", "partial", "1/2");
    check_cell(html, "2026-01-15", "today", "1/2");
    check_cell(html, "2026-01-16", "future", "");
    CHECK_INT(count(html, "class=\"day future\""), 3);
    free(html);
    json_decref(doc);
}

TEST(a_session_just_after_day_start_belongs_to_that_day)
{
    json_t *doc = fixture(), *sessions = json_object_get(doc, "sessions");
    char *html;

    /* 02:30 on the 12th is still the 11th's protocol day (days begin at 03:00) */
    json_array_append_new(sessions, session(7, 2.5, "done", 63, 105));
    html = render_ok(doc);
    check_cell(html, "2026-01-11", "full", "3/2");
    check_cell(html, "2026-01-12", "full", "2/2");
    free(html);
    json_decref(doc);
}

TEST(summary_counts_sessions_steps_and_flags)
{
    json_t *doc = fixture();
    char *html = render_ok(doc);

    /* days 0..9: 8 full, day 3 missed, day 5 one; today one done and counted as planned */
    CHECK_HAS(html, "<b>18 / 21</b><span>sessions done / planned so far");
    CHECK_HAS(html, "<b>86%</b><span>adherence (flag below 70%)");
    CHECK_HAS(html, "<b>1</b><span>steps up");
    CHECK_HAS(html, "<b>0</b><span>steps down");
    CHECK_HAS(html, "<b>1</b><span>flags raised");
    CHECK_HAS(html, "<b>2</b><span>last morning score, 2026-01-15; baseline 2</span>");
    CHECK_HAS(html, "63&ndash;105 N at level 1 (started at 60&ndash;100 N");
    CHECK_HAS(html, "from 2026-01-05, 2 weeks (now in week 2)");
    CHECK_HAS(html, "2026-01-15 12:00 (UTC+01:00; days begin at 03:00)");
    free(html);
    json_decref(doc);
}

TEST(progression_table_has_every_entry)
{
    json_t *doc = fixture();
    char *html = render_ok(doc);
    const char *flag = strstr(html, "flag: morning pain rose"),
               *up = strstr(html, "<td>step up</td>");

    CHECK_HAS(html, "<tr><td>2026-01-12 06:00</td><td>step up</td><td>0&rarr;1</td>"
                             "<td>63&ndash;105 N</td><td>week of sessions all in band &gt;= 90% "
                             "with pain &lt;= 3</td></tr>");
    CHECK_HAS(html, "<tr><td>2026-01-09 07:36</td><td><b>flag: morning pain rose</b>"
                             "</td><td>0&rarr;0</td><td>-</td>");
    CHECK(flag && up && flag < up);            /* in time order */
    free(html);
    json_decref(doc);
}

TEST(rejects_show_plain_words_and_counts)
{
    json_t *doc = fixture();
    char *html = render_ok(doc);
    const char *short_ = strstr(html, ">too short</text>"), *band = strstr(html, ">out of band<"),
               *hard = strstr(html, ">too hard at the slowest speed<"),
               *other = strstr(html, ">new reason x<");

    CHECK(short_ && band && hard && other);
    CHECK(short_ < band && band < hard && hard < other);   /* known ones in their order */
    CHECK_HAS(html, "class=\"bar-count\"");
    CHECK_HAS(html, "11 in all");
    CHECK_LACKS(html, "too_short");
    free(html);
    json_decref(doc);
}

/* The numbers of the first SVG path's d="..." after at, and its commands, in order. */
static int path_numbers(const char *at, char *cmds, size_t cmds_len, double *nums, int max)
{
    const char *d = strstr(at, " d=\""), *end;
    size_t nc = 0;
    int n = 0;

    cmds[0] = '\0';
    if (!d || !(end = strchr(d + 4, '"')))
        return 0;
    for (d += 4; d < end && n < max && nc + 1 < cmds_len;) {
        char *next;
        if (*d == ' ') {
            d++;
        } else if (strchr("MHVZ", *d)) {
            cmds[nc++] = *d++;
        } else {
            nums[n++] = strtod(d, &next);
            if (next == d)
                break;
            d = next;
        }
    }
    cmds[nc] = '\0';
    return n;
}

/* The cx of the i-th circle after at. */
static double circle_x(const char *at, int i)
{
    const char *c = at;

    for (int k = 0; k <= i && c; k++)
        c = strstr(c + 1, "<circle cx=\"");
    return c ? strtod(c + 12, NULL) : NAN;
}

TEST(band_area_steps_up_at_the_first_session_after_the_up_step)
{
    json_t *doc = fixture();
    char *html = render_ok(doc);
    const char *band = strstr(html, "<path class=\"band\""),
               *dots = strstr(html, "\"mark-force\"");
    char cmds[32];
    double v[32];
    int n = path_numbers(band ? band : "", cmds, sizeof cmds, v, 32);

    REQUIRE_OR_GOTO(band && dots, out);
    /* start band to the step, up, on to now, down to the low, back, down, home */
    CHECK(strcmp(cmds, "MHVHVHVHZ") == 0);
    REQUIRE_OR_GOTO(n == 9, out);
    /* M x0 y100, H xstep, V y105, H xend, V y63, H xstep, V y60, H x0: indices 0..8 */
    CHECK(v[3] < v[1]);                         /* 105 N is higher up than 100 N */
    CHECK(v[7] > v[5]);                         /* 60 N lower than 63 N */
    CHECK_NEAR((v[1] - v[3]) / (v[7] - v[5]), 5.0 / 3.0, 0.05);
    CHECK_NEAR(v[2], v[6], 1e-9);               /* both edges step at one x */
    CHECK(v[4] > v[2] && v[8] == v[0]);
    CHECK_NEAR(v[2], circle_x(dots, 12), 1e-9); /* the 13th session, the first of day 7 */
    CHECK(circle_x(dots, 11) < v[2]);
    CHECK_HAS(html, "class=\"step-up\"");
    CHECK_HAS(html, ">up L1</text>");
out:
    free(html);
    json_decref(doc);
}

TEST(figures_carry_their_reference_lines)
{
    json_t *doc = fixture();
    char *html = render_ok(doc);

    CHECK_HAS(html, "<line class=\"ref-threshold\"");
    CHECK_HAS(html, ">step up at 90%</text>");
    CHECK_HAS(html, "<line class=\"ref-stop\"");
    CHECK_HAS(html, ">stop at 5</text>");
    CHECK_HAS(html, "<line class=\"ref-baseline\"");
    CHECK_HAS(html, ">next-morning score</text>");
    CHECK_INT(count(html, "<polyline class=\"line-morning\""), 1);
    CHECK_INT(count(html, "<polyline class=\"line-q q"), 1);   /* Pain <VAS> has one point */
    CHECK_LACKS(html, "no data yet");
    free(html);
    json_decref(doc);
}

/* ---- bad documents ---------------------------------------------------------------------- */

/* Render doc, which must fail: nothing written, err as want. */
static void check_refused(json_t *doc, const char *want)
{
    char err[256];
    size_t len = 99;
    int rc;
    char *html = render(doc, &rc, err, sizeof err, &len);

    CHECK_INT(rc, -1);
    CHECK_INT(len, 0);
    if (strcmp(err, want) != 0)
        printf("  err \"%s\", want \"%s\"\n", err, want);
    CHECK(strcmp(err, want) == 0);
    free(html);
    json_decref(doc);
}

TEST(missing_programme_start_is_named_and_nothing_written)
{
    json_t *doc = fixture();

    json_object_del(json_object_get(doc, "programme"), "start");
    check_refused(doc, "programme.start: missing");
}

TEST(bad_fields_are_named_by_their_path)
{
    json_t *doc = fixture();

    json_object_set_new(json_array_get(json_object_get(doc, "sessions"), 3), "started",
                        json_string("yesterday"));
    check_refused(doc, "sessions[3].started: not a number");

    doc = fixture();
    json_object_set_new(json_object_get(doc, "patient"), "name", json_null());
    check_refused(doc, "patient.name: not a string");

    doc = fixture();
    json_object_set_new(json_object_get(doc, "programme"), "weeks", json_integer(0));
    check_refused(doc, "programme.weeks: 0 is outside 1..104");

    doc = fixture();
    json_object_set_new(json_object_get(doc, "programme"), "weeks", json_real(2.5));
    check_refused(doc, "programme.weeks: not an integer");

    doc = fixture();
    json_object_set_new(json_array_get(json_object_get(json_array_get(
                            json_object_get(doc, "sessions"), 2), "sets"), 0),
                        "pain", json_integer(11));
    check_refused(doc, "sessions[2].sets[0].pain: 11 is outside 0..10");

    doc = fixture();
    json_object_del(json_array_get(json_object_get(doc, "checkins"), 10), "instrument");
    check_refused(doc, "checkins[10].instrument: missing");

    doc = fixture();
    json_object_set_new(json_object_get(doc, "rejects_by_reason"), "aborted", json_integer(-1));
    check_refused(doc, "rejects_by_reason.aborted: -1 is outside 0..1000000000");

    doc = fixture();
    json_object_set_new(doc, "report", json_integer(2));
    check_refused(doc, "report: version 2 is not known here (this renderer reads 1)");

    doc = fixture();
    json_object_del(doc, "thresholds");
    check_refused(doc, "thresholds: missing");
}

TEST(nullable_fields_may_be_null_and_reals_count_as_integers)
{
    json_t *doc = fixture(), *s = json_array_get(json_object_get(doc, "sessions"), 0);
    char *html;

    json_object_set_new(s, "mean_n", json_null());
    json_object_set_new(s, "in_band_share", json_null());
    json_object_set_new(s, "max_pain", json_null());
    json_object_set_new(s, "reps", json_real(45.0));
    json_object_set_new(json_object_get(doc, "programme"), "baseline_morning", json_null());
    html = render_ok(doc);
    CHECK_HAS(html, "baseline not set");
    CHECK_LACKS(html, "class=\"ref-baseline\"");
    free(html);
    json_decref(doc);
}

/* ---- little data ------------------------------------------------------------------------ */

TEST(no_sessions_yet_renders_with_no_data_notes)
{
    json_t *doc = fixture();
    char *html;

    json_object_set_new(doc, "sessions", json_array());
    json_object_set_new(doc, "checkins", json_array());
    json_object_set_new(doc, "progression", json_array());
    json_object_set_new(doc, "rejects_by_reason", json_object());
    json_object_set_new(doc, "generated", json_real(START + 60.0));
    html = render_ok(doc);
    CHECK_INT(count(html, ">no data yet</text>"), 5);
    CHECK_HAS(html, "none entered");
    CHECK_HAS(html, "<p class=\"none\">none yet</p>");
    CHECK_HAS(html, "<b>0 / 0</b>");
    CHECK_HAS(html, "<b>-</b><span>adherence");
    check_cell(html, "2026-01-05", "today", "0/2");
    CHECK_INT(count(html, "class=\"day future\""), 13);
    CHECK_LACKS(html, "<path class=\"band\"");
    CHECK_INT(count(html, "<circle"), 1);           /* the pain legend's, no data */
    free(html);
    json_decref(doc);
}

TEST(one_point_of_each_renders)
{
    json_t *doc = fixture(), *sessions = json_array(), *checkins = json_array();
    char *html;

    json_array_append_new(sessions, session(0, 9.0, "done", 60, 100));
    json_array_append_new(checkins, json_pack("{s:f, s:s, s:i}", "t", local(1, 7.5), "kind",
                                              "morning", "score", 2));
    json_array_append_new(checkins, json_pack("{s:f, s:s, s:s, s:i}", "t", local(0, 10.0),
                                              "kind", "questionnaire", "instrument", "VISA-H",
                                              "score", 55));
    json_object_set_new(doc, "sessions", sessions);
    json_object_set_new(doc, "checkins", checkins);
    json_object_set_new(doc, "progression", json_array());
    json_object_set_new(doc, "generated", json_real(local(1, 12.0)));
    html = render_ok(doc);
    CHECK_LACKS(html, "no data yet");
    CHECK_HAS(html, "<path class=\"band\" d=\"M");
    CHECK_INT(count(html, "<polyline"), 0);
    /* force, in band, pain, the questionnaire; the pain and questionnaire legends' dots */
    CHECK_INT(count(html, "<circle"), 4 + 2);
    CHECK_HAS(html, "<td>2026-01-05</td><td>VISA-H</td><td>55</td>");
    free(html);
    json_decref(doc);
}

/* ---- the chromium runner ---------------------------------------------------------------- */

struct scratch {
    char dir[64];
    bool ok;
};

static bool scratch_make(struct scratch *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/ecc-progreport-XXXXXX");
    s->ok = mkdtemp(s->dir) != NULL;
    CHECK(s->ok);
    return s->ok;
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static void scratch_remove(struct scratch *s)
{
    if (s->ok && nftw(s->dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) != 0)
        printf("  could not remove %s\n", s->dir);
}

static const char *in(const struct scratch *s, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", s->dir, name);
    return buf;
}

static bool write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(text, f) >= 0;

    if (f && fclose(f) != 0)
        ok = false;
    return ok && chmod(path, mode) == 0;
}

/* The whole file as a string the caller frees (NULL when it cannot be read); *len its size. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)n, f);
        buf[*len] = '\0';
    }
    if (f)
        fclose(f);
    return buf;
}

static bool write_report(const char *path)
{
    json_t *doc = fixture();
    FILE *f = fopen(path, "w");
    char err[256] = "";
    int rc = f && doc ? progreport_html(doc, f, err, sizeof err) : -1;

    if (f)
        fclose(f);
    json_decref(doc);
    if (rc != 0)
        printf("  cannot write %s: %s\n", path, err);
    return rc == 0;
}

/* A stand-in for chromium: it writes its arguments, one a line, to the file chromium would
 * write, and whether its profile directory existed. */
static const char fake_args[] =
    "#!/bin/sh\n"
    "for a in \"$@\"; do\n"
    "  case $a in\n"
    "    --print-to-pdf=*|--screenshot=*) out=${a#*=} ;;\n"
    "    --user-data-dir=*) profile=${a#*=} ;;\n"
    "  esac\n"
    "done\n"
    "{ echo; printf '%s\\n' \"$@\"; [ -d \"$profile\" ] && echo profile-was-there; } >\"$out\"\n";

static void check_line(const char *text, const char *line, bool want)
{
    char key[512];

    snprintf(key, sizeof key, "\n%s\n", line);
    if ((strstr(text, key) != NULL) != want)
        printf("  the arguments %s \"%s\"\n", want ? "lack" : "have", line);
    CHECK((strstr(text, key) != NULL) == want);
}

/* The directory named by the "--user-data-dir=" line of text is gone. */
static void check_profile_gone(const char *text)
{
    const char *p = strstr(text, "\n--user-data-dir=");
    char dir[128];
    struct stat st;

    CHECK(p != NULL);
    if (!p)
        return;
    snprintf(dir, sizeof dir, "%.*s", (int)strcspn(p + 17, "\n"), p + 17);
    CHECK(strncmp(dir, "/tmp/ecc-report-", 16) == 0);
    CHECK(stat(dir, &st) != 0 && errno == ENOENT);
}

TEST(chromium_gets_the_arguments_and_its_profile_is_removed)
{
    struct scratch s;
    char fake[128], html[128], pdf[128], png[128], err[512], url[256];
    char *text = NULL;
    size_t len = 0;

    if (!scratch_make(&s))
        return;
    in(&s, "fake-chromium", fake, sizeof fake);
    in(&s, "report one.html", html, sizeof html);
    in(&s, "out.pdf", pdf, sizeof pdf);
    in(&s, "out.png", png, sizeof png);
    REQUIRE_OR_GOTO(write_file(fake, fake_args, 0755) && write_file(html, "<p>x</p>", 0644), out);

    CHECK_INT(progreport_chromium_with(fake, 10.0, html, pdf, PROGREPORT_PDF, err, sizeof err), 0);
    REQUIRE_OR_GOTO((text = read_file(pdf, &len)) != NULL, out);
    snprintf(url, sizeof url, "file://%s/report%%20one.html", s.dir);
    check_line(text, "--headless", true);
    check_line(text, "--no-pdf-header-footer", true);
    check_line(text, "--disable-gpu", true);
    check_line(text, "--no-first-run", true);
    check_line(text, "--disable-extensions", true);
    check_line(text, "--no-sandbox", geteuid() == 0);
    check_line(text, url, true);
    check_line(text, "profile-was-there", true);
    check_profile_gone(text);
    free(text);

    CHECK_INT(progreport_chromium_with(fake, 10.0, html, png, PROGREPORT_PNG, err, sizeof err), 0);
    REQUIRE_OR_GOTO((text = read_file(png, &len)) != NULL, out);
    check_line(text, "--window-size=1240,4200", true);
    check_line(text, "--hide-scrollbars", true);
    check_line(text, "--no-pdf-header-footer", false);
    check_profile_gone(text);
out:
    free(text);
    scratch_remove(&s);
}

TEST(chromium_missing_says_what_to_install)
{
    char err[256];

    CHECK_INT(progreport_chromium_with("/nonexistent/chromium", 10.0, "/dev/null", "/tmp/x.pdf",
                                       PROGREPORT_PDF, err, sizeof err), -1);
    CHECK_HAS(err, "no /nonexistent/chromium (Debian package chromium): "
                            "apt-get install chromium");
}

/* pid has exited (it may stay a zombie of whoever adopted it): waits at most 5 s. */
static bool gone(long pid)
{
    for (int i = 0; i < 250; i++) {
        char path[64], stat_line[256] = "";
        FILE *f;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        if (!(f = fopen(path, "r")))
            return true;
        if (!fgets(stat_line, sizeof stat_line, f))
            stat_line[0] = '\0';
        fclose(f);
        if (strstr(stat_line, ") Z "))
            return true;
        nanosleep(&(struct timespec){0, 20000000L}, NULL);
    }
    return false;
}

TEST(chromium_over_time_is_killed_with_its_children)
{
    struct scratch s;
    char fake[128], script[512], pidfile[128], out[128], err[512], *text = NULL;
    size_t len;
    long child;

    if (!scratch_make(&s))
        return;
    in(&s, "fake-chromium", fake, sizeof fake);
    in(&s, "child.pid", pidfile, sizeof pidfile);
    in(&s, "out.pdf", out, sizeof out);
    snprintf(script, sizeof script, "#!/bin/sh\nsleep 300 &\necho $! >%s\nexec sleep 300\n",
             pidfile);
    REQUIRE_OR_GOTO(write_file(fake, script, 0755), done);

    CHECK_INT(progreport_chromium_with(fake, 0.5, "/dev/null", out, PROGREPORT_PDF, err,
                                       sizeof err), -1);
    CHECK_HAS(err, "chromium took over 0.5 s and was stopped");
    REQUIRE_OR_GOTO((text = read_file(pidfile, &len)) != NULL, done);
    child = strtol(text, NULL, 10);
    CHECK(child > 0 && gone(child));
    CHECK(access(out, F_OK) != 0);
done:
    free(text);
    scratch_remove(&s);
}

TEST(chromium_that_writes_nothing_leaves_the_old_file)
{
    struct scratch s;
    char fake[128], out[128], err[512], *text = NULL;
    size_t len = 0;

    if (!scratch_make(&s))
        return;
    in(&s, "fake-chromium", fake, sizeof fake);
    in(&s, "out.pdf", out, sizeof out);
    REQUIRE_OR_GOTO(write_file(fake, "#!/bin/sh\necho nothing to see\n", 0755) &&
                    write_file(out, "the old one", 0644), done);
    CHECK_INT(progreport_chromium_with(fake, 10.0, "/dev/null", out, PROGREPORT_PDF, err,
                                       sizeof err), -1);
    CHECK_HAS(err, "chromium wrote no PDF: nothing to see");
    text = read_file(out, &len);
    CHECK(text && strcmp(text, "the old one") == 0);
    free(text);
    text = NULL;

    REQUIRE_OR_GOTO(write_file(fake, "#!/bin/sh\necho broken >&2\nexit 3\n", 0755), done);
    CHECK_INT(progreport_chromium_with(fake, 10.0, "/dev/null", out, PROGREPORT_PNG, err,
                                       sizeof err), -1);
    CHECK_HAS(err, "chromium failed (exit status 3): broken");
done:
    free(text);
    scratch_remove(&s);
}

TEST(real_chromium_prints_pdf_and_png)
{
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    struct scratch s;
    char html[128], pdf[128], png[128], err[512], *text = NULL;
    size_t len = 0;

    if (access(PROGREPORT_CHROMIUM, X_OK) != 0)
        SKIP("no /usr/bin/chromium (Debian package chromium): apt-get install chromium");
    if (!scratch_make(&s))
        return;
    in(&s, "report.html", html, sizeof html);
    in(&s, "report.pdf", pdf, sizeof pdf);
    in(&s, "report.png", png, sizeof png);
    REQUIRE_OR_GOTO(write_report(html), done);

    if (progreport_chromium(html, pdf, PROGREPORT_PDF, err, sizeof err) != 0)
        printf("  pdf: %s\n", err);
    text = read_file(pdf, &len);
    CHECK(text && len > 1000 && memcmp(text, "%PDF", 4) == 0);
    free(text);

    if (progreport_chromium(html, png, PROGREPORT_PNG, err, sizeof err) != 0)
        printf("  png: %s\n", err);
    text = read_file(png, &len);
    CHECK(text && len > 1000 && memcmp(text, png_sig, sizeof png_sig) == 0);
done:
    free(text);
    scratch_remove(&s);
}

TESTS(T(fixture_renders_every_section_in_order), T(nothing_outside_the_file),
      T(strings_from_the_document_are_escaped),
      T(calendar_has_a_cell_per_day_with_done_over_planned),
      T(a_session_just_after_day_start_belongs_to_that_day),
      T(summary_counts_sessions_steps_and_flags), T(progression_table_has_every_entry),
      T(rejects_show_plain_words_and_counts),
      T(band_area_steps_up_at_the_first_session_after_the_up_step),
      T(figures_carry_their_reference_lines),
      T(missing_programme_start_is_named_and_nothing_written),
      T(bad_fields_are_named_by_their_path),
      T(nullable_fields_may_be_null_and_reals_count_as_integers),
      T(no_sessions_yet_renders_with_no_data_notes), T(one_point_of_each_renders),
      T(chromium_gets_the_arguments_and_its_profile_is_removed),
      T(chromium_missing_says_what_to_install),
      T(chromium_over_time_is_killed_with_its_children),
      T(chromium_that_writes_nothing_leaves_the_old_file), T(real_chromium_prints_pdf_and_png));
TEST_MAIN("test_progreport")
