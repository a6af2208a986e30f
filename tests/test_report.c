/* test_report.c - eccreport's library: rep log and trace loading, summaries, the
 * cross-check against eccd's set lines, the printed tables and the SVG plot.
 * Fixtures: tests/fixtures/report/ (run from the repo root). closed.jsonl and
 * fixed.jsonl are hand-written; closed.csv and fixed.csv come from gen_traces.py. */
#include "tests/test.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "sim/report.h"
#include "sim/svgplot.h"

#define FIX "tests/fixtures/report/"

/* ---- helpers ---------------------------------------------------------------- */

static int load(const char *path, struct report_log *log)
{
    char err[512] = "";
    int rc = report_load_log(path, log, err, sizeof err);

    if (rc)
        printf("  load %s: %s\n", path, err);
    return rc;
}

static int load_set(const char *path, int session, int set, struct report_trace *tr)
{
    struct report_trace_filter f;
    char err[512] = "";
    int rc;

    report_trace_filter_all(&f);
    f.session = session;
    f.set = set;
    f.trim_idle = 1;
    rc = report_load_trace(path, &f, tr, err, sizeof err);
    if (rc)
        printf("  load %s: %s\n", path, err);
    return rc;
}

/* Text written by fn into memory; the caller frees it. */
struct capture {
    char *buf;
    size_t len;
    FILE *f;
};

static FILE *capture_begin(struct capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    return c->f;
}

static char *capture_end(struct capture *c)
{
    fclose(c->f);
    return c->buf;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; hay && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The line of text that starts (after spaces) with label, after the first occurrence
 * of section; copied into buf. */
static const char *line_after(const char *text, const char *section, const char *label,
                              char *buf, size_t n)
{
    const char *p = text ? strstr(text, section) : NULL;
    const char *end;

    buf[0] = '\0';
    for (; p && (p = strchr(p, '\n')) != NULL; p++) {
        const char *q = p + 1 + strspn(p + 1, " ");
        if (strncmp(q, label, strlen(label)))
            continue;
        end = strchr(q, '\n');
        snprintf(buf, n, "%.*s", (int)(end ? end - q : (long)strlen(q)), q);
        return buf;
    }
    return buf;
}

/* Minimal XML well-formedness: tags balance and nest, attributes are quoted, '&'
 * starts an entity, one root element. Returns NULL or what is wrong. */
static const char *xml_problem(const char *s)
{
    static char why[128];
    const char *stack[64];
    size_t name_len[64];
    int depth = 0, roots = 0;

    for (const char *p = s; *p; p++) {
        if (*p == '&') {
            const char *semi = strchr(p, ';');
            if (!semi || semi - p > 6 || strspn(p + 1, "abcdefghijklmnopqrstuvwxyz#0123456789") !=
                                             (size_t)(semi - p - 1))
                return "bare '&'";
            continue;
        }
        if (*p != '<')
            continue;
        if (!strncmp(p, "<?", 2) || !strncmp(p, "<!--", 4)) {
            p = strstr(p, !strncmp(p, "<?", 2) ? "?>" : "-->");
            if (!p)
                return "unterminated <? or <!--";
            continue;
        }
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " \t\n/>");
        const char *q = name + len;
        char quote = 0;
        for (; *q && (quote || *q != '>'); q++)
            if (*q == '"' || *q == '\'')
                quote = quote == *q ? 0 : (quote ? quote : *q);
        if (!*q)
            return "unterminated tag";
        if (closing) {
            if (!depth || name_len[depth - 1] != len || strncmp(stack[depth - 1], name, len)) {
                snprintf(why, sizeof why, "</%.*s> does not close the open element", (int)len,
                         name);
                return why;
            }
            depth--;
        } else if (q[-1] != '/') {
            if (depth == 0)
                roots++;
            if (depth == 64)
                return "nesting too deep";
            stack[depth] = name;
            name_len[depth++] = len;
        } else if (depth == 0) {
            roots++;
        }
        p = q;
    }
    if (depth)
        return "unclosed element";
    return roots == 1 ? NULL : "not exactly one root element";
}

/* Every group opened by marker has its first fill="..." equal to color. */
static int groups_filled(const char *svg, const char *marker, const char *color)
{
    char want[32];

    snprintf(want, sizeof want, "fill=\"%s\"", color);
    for (const char *p = svg; (p = strstr(p, marker)) != NULL; p += strlen(marker)) {
        const char *fill = strstr(p, "fill=\"");
        if (!fill || strncmp(fill, want, strlen(want)))
            return 0;
    }
    return 1;
}

static char *plot(const struct svg_run *runs, int n, int session, int set)
{
    struct capture c;
    char err[256] = "";

    if (svg_plot_set(capture_begin(&c), runs, n, session, set, err, sizeof err) < 0)
        printf("  svg: %s\n", err);
    return capture_end(&c);
}

TEST(xml_checker_catches_broken_markup)
{
    CHECK(xml_problem("<?xml version=\"1.0\"?>\n<a x=\"1>2\"><b/><c>&amp;</c></a>\n") == NULL);
    CHECK(xml_problem("<a><b></a></b>") != NULL);
    CHECK(xml_problem("<a>&</a>") != NULL);
    CHECK(xml_problem("<a><b>") != NULL);
    CHECK(xml_problem("<a/><a/>") != NULL);
    CHECK(xml_problem("<a x=\"1></a>") != NULL);
}

/* ---- rep log ---------------------------------------------------------------- */

TEST(log_loads_every_kind_and_skips_unknown_events)
{
    struct report_log log;

    if (load(FIX "closed.jsonl", &log))
        CHECK(!"closed.jsonl loads");
    CHECK_INT(log.run.version, 1);
    CHECK(!strcmp(log.run.mode, "continuous"));
    CHECK_NEAR(log.run.band_low, 60, 0);
    CHECK_NEAR(log.run.band_high, 100, 0);
    CHECK_NEAR(log.run.speed_max, 0.7, 1e-12);
    CHECK_INT(log.run.reps_per_set, 3);
    CHECK(!strcmp(log.run.scenario, "normal"));
    CHECK_INT(log.run.seed, 1);
    CHECK_INT(log.n_strokes, 7);
    CHECK_INT(log.n_sets, 2);
    CHECK_INT(log.n_sessions, 1);
    CHECK_INT(log.n_faults, 0);
    CHECK_INT(log.n_skipped, 1);     /* "heartbeat"; "command" is known and not kept */
    CHECK_INT(log.strokes[1].verdict, REPORT_TOO_SHORT);
    CHECK_INT(log.strokes[1].line, 4);
    CHECK_NEAR(log.strokes[1].t_start, 3.5, 1e-12);
    CHECK_INT(log.sets[0].by_verdict[REPORT_TOO_SHORT], 1);
    CHECK_INT(log.sets[0].line, 7);
    CHECK(!strcmp(log.run.wall, "2026-01-05T07:00:00.000Z"));
    CHECK(!strcmp(log.strokes[1].wall, "2026-01-05T07:00:04.100Z"));
    CHECK(!strcmp(log.sets[0].wall, "2026-01-05T07:00:09.100Z"));
    CHECK(log.n_sessions == 1 && !strcmp(log.sessions[0].wall, "2026-01-05T07:00:22.600Z"));
    report_log_fini(&log);
    report_log_fini(&log);           /* harmless twice */
}

TEST(log_keeps_faults_and_resets)
{
    struct report_log log;

    if (load(FIX "fixed.jsonl", &log))
        CHECK(!"fixed.jsonl loads");
    CHECK_INT(log.n_faults, 2);
    CHECK(log.n_faults == 2 && !strcmp(log.faults[0].fault, "overforce"));
    CHECK(log.n_faults == 2 && !log.faults[0].is_reset && log.faults[1].is_reset);
    CHECK(log.n_faults == 2 && log.faults[0].value == 262.1 && log.faults[0].limit == 250.0);
    CHECK_INT(log.strokes[6].verdict, REPORT_ABORTED);
    CHECK(log.n_faults == 2 && log.faults[0].wall[0] == '\0');  /* an older log: no "wall" */
    CHECK(log.run.wall[0] == '\0');
    report_log_fini(&log);
}

TEST(malformed_logs_are_refused_with_file_and_line)
{
    static const struct {
        const char *file, *where, *what;
    } cases[] = {
        {"bad_json.jsonl", "bad_json.jsonl:3: ", "not valid JSON"},
        {"truncated.jsonl", "truncated.jsonl:3: ", "not valid JSON"},
        {"bad_type.jsonl", "bad_type.jsonl:2: ", "\"peak_n\" must be a number"},
        {"missing_field.jsonl", "missing_field.jsonl:3: ", "missing \"work_j\""},
        {"bad_verdict.jsonl", "bad_verdict.jsonl:2: ", "unknown verdict \"wobbly\""},
        {"reject_counted.jsonl", "reject_counted.jsonl:3: ", "needs a reason"},
        {"no_run.jsonl", "no_run.jsonl:1: ", "before the \"run\" line"},
        {"bad_version.jsonl", "bad_version.jsonl:1: ", "version 2"},
        {"bad_share.jsonl", "bad_share.jsonl:2: ", "between 0 and 1"},
        {"not_object.jsonl", "not_object.jsonl:2: ", "not a JSON object"},
        {"bad_wall.jsonl", "bad_wall.jsonl:3: ", "\"wall\" must be UTC with milliseconds"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct report_log log;
        char path[256], err[512] = "";
        snprintf(path, sizeof path, FIX "%s", cases[i].file);
        errno = 0;
        CHECK_INT(report_load_log(path, &log, err, sizeof err), -1);
        CHECK_INT(errno, EINVAL);
        CHECK_STR_CONTAINS(err, cases[i].where);
        CHECK_STR_CONTAINS(err, cases[i].what);
        CHECK(log.strokes == NULL && log.path == NULL);   /* left zeroed */
    }
}

TEST(missing_log_file_reports_errno)
{
    struct report_log log;
    char err[256] = "";

    CHECK_INT(report_load_log(FIX "no_such_file.jsonl", &log, err, sizeof err), -1);
    CHECK_INT(errno, ENOENT);
    CHECK_STR_CONTAINS(err, "no_such_file.jsonl: cannot open");
    CHECK_INT(report_load_log(FIX "no_such_file.jsonl", &log, NULL, 0), -1); /* no buffer */
}

/* ---- summaries (expected figures worked out by hand from the rep lines) ---- */

TEST(set_summary_from_rep_lines_closed_set_1)
{
    struct report_log log;
    struct report_summary_row r;

    REQUIRE(load(FIX "closed.jsonl", &log) == 0);
    report_summarize_one(&log, 1, 1, &r);
    CHECK_INT(r.strokes, 4);
    CHECK_INT(r.counted, 3);
    CHECK_INT(r.rejected, 1);
    CHECK_INT(r.by_verdict[REPORT_TOO_SHORT], 1);
    CHECK_INT(r.by_verdict[REPORT_OUT_OF_BAND], 0);
    CHECK_NEAR(r.in_band_share, (0.90 + 0.95 + 0.85) / 3, 1e-9);       /* 0.900 */
    CHECK_NEAR(r.in_band_share_all, (0.90 + 0.50 + 0.95 + 0.85) / 4, 1e-9); /* 0.800 */
    CHECK_NEAR(r.peak_n, (95.0 + 98.0 + 92.0) / 3, 1e-9);               /* 95.0 */
    CHECK_NEAR(r.mean_n, (80.0 + 82.0 + 78.0) / 3, 1e-9);               /* 80.0 */
    CHECK_NEAR(r.work_j, 36.0 + 39.0 + 35.0, 1e-9);                      /* 110 */
    CHECK_NEAR(r.work_all_j, 117.0, 1e-9);
    /* eccd's figure: 4.1 s in band over 1.2/.9 + .2/.5 + 1.4/.95 + 1.3/.85 s */
    CHECK_NEAR(r.band_share_eccd, 4.1 / (1.2 / 0.9 + 0.2 / 0.5 + 1.4 / 0.95 + 1.3 / 0.85), 1e-9);
    CHECK_NEAR(r.band_share_eccd, 0.866, 0.001);
    CHECK_NEAR(r.duration_s, 8.6, 1e-9);
    CHECK(r.line && r.line->line == 7);
    CHECK(!strcmp(report_row_status(&r), "ok"));
    report_log_fini(&log);
}

TEST(session_summary_from_rep_lines_fixed)
{
    struct report_log log;
    struct report_summary sum;
    char err[256];

    REQUIRE(load(FIX "fixed.jsonl", &log) == 0);
    CHECK_INT(report_summarize(&log, &sum, err, sizeof err), 0);
    CHECK_INT(sum.n_sets, 2);
    CHECK_INT(sum.n_sessions, 1);
    if (sum.n_sessions == 1) {
        const struct report_summary_row *s = &sum.sessions[0];
        CHECK_INT(s->set, 0);
        CHECK_INT(s->strokes, 9);
        CHECK_INT(s->counted, 6);
        CHECK_INT(s->rejected, 3);
        CHECK_INT(s->by_verdict[REPORT_TOO_LITTLE_TRAVEL], 1);
        CHECK_INT(s->by_verdict[REPORT_OUT_OF_BAND], 1);
        CHECK_INT(s->by_verdict[REPORT_ABORTED], 1);
        CHECK_NEAR(s->in_band_share, (0.80 + 0.75 + 0.85 + 0.80 + 0.76 + 0.78) / 6, 1e-9);
        CHECK_NEAR(s->peak_n, (99.0 + 97 + 100 + 98 + 96 + 101) / 6, 1e-9);
        CHECK_NEAR(s->work_j, 125.0 + 126.0, 1e-9);
        CHECK_NEAR(s->duration_s, 10.8 + 12.4, 1e-9);
        CHECK_INT(s->sets, 2);
        CHECK(s->session_line != NULL);
    }
    if (sum.n_sets == 2) {
        CHECK_INT(sum.sets[1].set, 2);
        CHECK_INT(sum.sets[1].by_verdict[REPORT_ABORTED], 1);
        CHECK_NEAR(sum.sets[1].in_band_share_all, (0.80 + 0.40 + 0.76 + 0.78) / 4, 1e-9);
    }
    report_summary_fini(&sum);
    report_log_fini(&log);
}

TEST(absent_set_gives_empty_row)
{
    struct report_log log;
    struct report_summary_row r;

    REQUIRE(load(FIX "closed.jsonl", &log) == 0);
    report_summarize_one(&log, 1, 9, &r);
    CHECK_INT(r.strokes, 0);
    CHECK(isnan(r.in_band_share) && isnan(r.peak_n) && isnan(r.duration_s));
    CHECK(r.line == NULL);
    CHECK(!strcmp(report_row_status(&r), "unfinished"));
    report_log_fini(&log);
}

/* ---- cross-check -------------------------------------------------------------- */

static int mismatches_in(const char *path, char **text)
{
    struct report_log log;
    struct report_summary sum;
    struct capture c;
    char err[256];
    int n = -1;

    *text = NULL;
    if (load(path, &log))
        return -1;
    if (report_summarize(&log, &sum, err, sizeof err) == 0) {
        n = report_cross_check(&log, &sum, capture_begin(&c));
        *text = capture_end(&c);
        report_summary_fini(&sum);
    }
    report_log_fini(&log);
    return n;
}

TEST(consistent_logs_cross_check_clean)
{
    char *text;

    CHECK_INT(mismatches_in(FIX "closed.jsonl", &text), 0);
    CHECK(text && !*text);
    free(text);
    CHECK_INT(mismatches_in(FIX "fixed.jsonl", &text), 0);
    free(text);
}

TEST(set_line_mismatch_is_detected)
{
    char *text;

    /* set 1 line claims 4 counted, 0 rejected, 0 too_short: three disagreements;
     * set 2 line claims in_band_share 0.950 where the rep lines give 0.899 */
    CHECK_INT(mismatches_in(FIX "mismatch.jsonl", &text), 4);
    CHECK_STR_CONTAINS(text, "mismatch.jsonl:7: MISMATCH: session 1 set 1: \"counted\" is 4 in "
                             "the set line, but the rep lines give 3");
    CHECK_STR_CONTAINS(text, "mismatch.jsonl:7: MISMATCH: session 1 set 1: \"rejected\" is 0");
    CHECK_STR_CONTAINS(text, "\"too_short\" is 0");
    CHECK_STR_CONTAINS(text, "mismatch.jsonl:12: MISMATCH: session 1 set 2: \"in_band_share\"");
    free(text);
}

/* ---- printing --------------------------------------------------------------- */

TEST(run_report_prints_tables_with_units)
{
    struct report_log log;
    struct report_print_opts o = {0, 0};
    struct capture c;
    char *out, line[256];
    int m;

    REQUIRE(load(FIX "closed.jsonl", &log) == 0);
    m = report_print_run(capture_begin(&c), &log, &o);
    out = capture_end(&c);
    CHECK_INT(m, 0);
    CHECK_STR_CONTAINS(out, "Closed loop (continuous)");
    CHECK_STR_CONTAINS(out, "started    2026-01-05T07:00:00.000Z (UTC)");
    CHECK_STR_CONTAINS(out, "start s   dur s  travel m  peak N  mean N  in band s  in band %");
    CHECK_STR_CONTAINS(out, "too short");
    CHECK_STR_CONTAINS(out, "(1 line of unknown events skipped)");
    CHECK(!strchr(out, '\033'));                 /* no colour codes unless asked */
    CHECK(!strstr(out, "MISMATCH"));
    /* set 1 summary row: 4 strokes, 3 counted, 1 rejected (too short), 90.0 % ... */
    line_after(out, "Set summaries", "1    1", line, sizeof line);
    CHECK_STR_CONTAINS(line, "4        3         1          1");
    CHECK_STR_CONTAINS(line, "90.0    95.0    80.0   110.0         8.6  ok");
    free(out);
    o.quiet = 1;
    report_print_run(capture_begin(&c), &log, &o);
    out = capture_end(&c);
    CHECK(!strstr(out, "stroke  rep  verdict"));
    CHECK_STR_CONTAINS(out, "Set summaries");
    free(out);
    report_log_fini(&log);
}

TEST(run_report_shows_mismatch_loudly)
{
    struct report_log log;
    struct report_print_opts o = {1, 1};
    struct capture c;
    char *out;

    REQUIRE(load(FIX "mismatch.jsonl", &log) == 0);
    CHECK_INT(report_print_run(capture_begin(&c), &log, &o), 4);
    out = capture_end(&c);
    CHECK_STR_CONTAINS(out, "4 MISMATCHES");
    CHECK_STR_CONTAINS(out, "MISMATCH\033[0m");    /* in the check column, in red */
    CHECK_STR_CONTAINS(out, "mismatch.jsonl:7: MISMATCH");
    free(out);
    report_log_fini(&log);
}

TEST(comparison_prints_both_runs_figures)
{
    struct report_log a, b;
    struct report_print_opts o = {0, 0};
    struct capture c;
    char *out, line[256];
    int x = -1, y = -1;
    double p = -1, q = -1;

    REQUIRE(load(FIX "closed.jsonl", &a) == 0 &&
            load(FIX "fixed.jsonl", &b) == 0);
    report_print_compare(capture_begin(&c), &a, &b, &o);
    out = capture_end(&c);
    CHECK_STR_CONTAINS(out, "closed.jsonl");
    CHECK_STR_CONTAINS(out, "fixed.jsonl");
    CHECK_STR_CONTAINS(out, "Closed loop");
    CHECK_STR_CONTAINS(out, "Fixed speed");
    CHECK(sscanf(line_after(out, "Session 1, set 1", "strokes needed", line, sizeof line),
                 "strokes needed %d %d", &x, &y) == 2 && x == 4 && y == 5);
    CHECK(sscanf(line_after(out, "Session 1, set 1", "out of band", line, sizeof line),
                 "out of band %d %d", &x, &y) == 2 && x == 0 && y == 1);
    CHECK(sscanf(line_after(out, "Session 1, set 2", "aborted", line, sizeof line),
                 "aborted %d %d", &x, &y) == 2 && x == 0 && y == 1);
    CHECK(sscanf(line_after(out, "Session 1, set 1", "time in band, counted reps (%)", line,
                            sizeof line),
                 "time in band, counted reps (%%) %lf %lf", &p, &q) == 2);
    CHECK_NEAR(p, 90.0, 1e-9);
    CHECK_NEAR(q, 80.0, 1e-9);
    CHECK(sscanf(line_after(out, "Session 1, all sets", "duration (s)", line, sizeof line),
                 "duration (s) %lf %lf", &p, &q) == 2);
    CHECK_NEAR(p, 15.7, 1e-9);
    CHECK_NEAR(q, 23.2, 1e-9);
    free(out);
    report_log_fini(&a);
    report_log_fini(&b);
}

/* ---- trace ------------------------------------------------------------------ */

TEST(trace_loads_one_set_trimmed_to_its_running_ticks)
{
    struct report_trace tr;

    REQUIRE(load_set(FIX "closed.csv", 1, 1, &tr) == 0);
    CHECK(tr.n > 800 && tr.n < 900);   /* set 1 runs 0.40 .. 9.10 s at 100 Hz */
    CHECK_NEAR(tr.ticks[0].t, 0.40, 1e-9);
    CHECK(!strcmp(tr.ticks[0].state, "set_running"));
    CHECK(!strcmp(tr.ticks[tr.n - 1].state, "set_running"));
    for (size_t i = 0; i < tr.n; i++)
        if (tr.ticks[i].set != 1 || tr.ticks[i].session != 1)
            CHECK(!"a tick of another set");
    report_trace_fini(&tr);
}

TEST(trace_filters_by_time_window_and_reads_columns_by_name)
{
    struct report_trace tr;
    struct report_trace_filter f;
    char err[256] = "";

    report_trace_filter_all(&f);
    f.t_from = 5.0;
    f.t_to = 6.0;
    CHECK_INT(report_load_trace(FIX "closed.csv", &f, &tr, err, sizeof err), 0);
    CHECK_INT(tr.n, 101);
    report_trace_fini(&tr);

    /* columns in another order plus an extra one */
    CHECK_INT(report_load_trace(FIX "reordered.csv", NULL, &tr, err, sizeof err), 0);
    CHECK_INT(tr.n, 7);
    if (tr.n == 7) {
        CHECK_NEAR(tr.ticks[3].force, 61.0, 1e-12);
        CHECK_NEAR(tr.ticks[3].force_raw, 62.0, 1e-12);
        CHECK_NEAR(tr.ticks[3].speed_cmd, 0.31, 1e-12);
        CHECK_INT(tr.ticks[3].loaded, 1);
        CHECK(!strcmp(tr.ticks[3].state, "paused"));
        CHECK_NEAR(tr.ticks[6].band_low, 70.0, 1e-12);
    }
    report_trace_fini(&tr);

    CHECK_INT(load_set(FIX "reordered.csv", 1, 1, &tr), 0);   /* trims ready and rest */
    CHECK_INT(tr.n, 3);
    CHECK(tr.n == 3 && !strcmp(tr.ticks[2].state, "paused"));
    report_trace_fini(&tr);
}

TEST(malformed_traces_are_refused_with_file_and_line)
{
    static const struct {
        const char *file, *where, *what;
    } cases[] = {
        {"bad_number.csv", "bad_number.csv:4: ", "\"force_raw\" must be a finite number"},
        {"nan.csv", "nan.csv:3: ", "finite number, not \"nan\""},
        {"short_row.csv", "short_row.csv:3: ", "9 fields, but the header has 11"},
        {"bad_header.csv", "bad_header.csv:1: ", "no \"speed_cmd\" column"},
        {"backwards.csv", "backwards.csv:5: ", "time goes backwards"},
        {"bad_loaded.csv", "bad_loaded.csv:2: ", "\"loaded\" must be 0 or 1"},
        {"bad_state.csv", "bad_state.csv:2: ", "\"state\" must be a lower-case word"},
        {"closed.jsonl", "closed.jsonl:1: ", "no \"t\" column"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct report_trace tr;
        char path[256], err[512] = "";
        snprintf(path, sizeof path, FIX "%s", cases[i].file);
        CHECK_INT(report_load_trace(path, NULL, &tr, err, sizeof err), -1);
        CHECK_INT(errno, EINVAL);
        CHECK_STR_CONTAINS(err, cases[i].where);
        CHECK_STR_CONTAINS(err, cases[i].what);
        CHECK(tr.ticks == NULL && tr.n == 0);
    }
}

/* ---- SVG -------------------------------------------------------------------- */

TEST(svg_of_one_run_has_band_strokes_and_both_panels)
{
    struct report_log log;
    struct report_trace tr;
    char *svg;

    REQUIRE(load(FIX "closed.jsonl", &log) == 0 &&
            load_set(FIX "closed.csv", 1, 1, &tr) == 0);
    svg = plot(&(struct svg_run){&log, &tr}, 1, 1, 1);
    CHECK(xml_problem(svg) == NULL);
    if (xml_problem(svg))
        printf("  xml: %s\n", xml_problem(svg));
    CHECK_STR_CONTAINS(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"700\"");
    CHECK_INT(count_of(svg, "class=\"band\""), 1);
    CHECK_INT(count_of(svg, "class=\"panel-force\""), 1);
    CHECK_INT(count_of(svg, "class=\"panel-speed\""), 1);
    CHECK_INT(count_of(svg, "class=\"stroke counted\""), 3);
    CHECK_INT(count_of(svg, "class=\"stroke rejected\""), 1);
    CHECK(groups_filled(svg, "class=\"stroke counted\"", "#2e7d32"));
    CHECK(groups_filled(svg, "class=\"stroke rejected\"", "#c62828"));
    CHECK_STR_CONTAINS(svg, ">too short</text>");
    CHECK_STR_CONTAINS(svg, "class=\"marker-text\" text-anchor=\"middle\">3</text>");
    CHECK_INT(count_of(svg, "class=\"force\" points="), 1);
    CHECK_INT(count_of(svg, "class=\"speed-cmd\" points="), 1);
    CHECK_INT(count_of(svg, "class=\"speed\" points="), 1);
    CHECK_STR_CONTAINS(svg, "Closed loop (continuous) \u00b7 80% of stroke time in band");
    CHECK_STR_CONTAINS(svg, "Foot force (N)");
    CHECK_STR_CONTAINS(svg, "Belt speed (m/s)");
    CHECK_STR_CONTAINS(svg, "Time from the start of the set (s)");
    CHECK_STR_CONTAINS(svg, "Target band 60\u2013100 N");
    CHECK(!strstr(svg, "class=\"fault-span\""));
    free(svg);
    report_trace_fini(&tr);
    report_log_fini(&log);
}

TEST(svg_comparison_has_two_columns_and_marks_the_fault)
{
    struct report_log log[2];
    struct report_trace tr[2];
    char *svg;

    REQUIRE(load(FIX "closed.jsonl", &log[0]) == 0 &&
            load(FIX "fixed.jsonl", &log[1]) == 0 &&
            load_set(FIX "closed.csv", 1, 2, &tr[0]) == 0 &&
            load_set(FIX "fixed.csv", 1, 2, &tr[1]) == 0);
    svg = plot((struct svg_run[]){{&log[0], &tr[0]}, {&log[1], &tr[1]}}, 2, 1, 2);
    CHECK(xml_problem(svg) == NULL);
    CHECK_STR_CONTAINS(svg, "width=\"1400\"");
    CHECK_INT(count_of(svg, "class=\"band\""), 2);
    CHECK_INT(count_of(svg, "class=\"panel-force\""), 2);
    CHECK_INT(count_of(svg, "class=\"panel-speed\""), 2);
    CHECK_INT(count_of(svg, "class=\"stroke counted\""), 6);  /* 3 + 3 */
    CHECK_INT(count_of(svg, "class=\"stroke rejected\""), 1); /* fixed: the aborted one */
    CHECK(groups_filled(svg, "class=\"stroke rejected\"", "#c62828"));
    CHECK_STR_CONTAINS(svg, ">aborted</text>");
    CHECK_STR_CONTAINS(svg, "Fixed speed (fixed)");
    CHECK(strstr(svg, "Closed loop") < strstr(svg, "Fixed speed"));  /* closed on the left */
    CHECK_INT(count_of(svg, "class=\"fault-span\""), 1);
    CHECK_STR_CONTAINS(svg, "FAULT: overforce");
    free(svg);
    for (int i = 0; i < 2; i++) {
        report_trace_fini(&tr[i]);
        report_log_fini(&log[i]);
    }
}

TEST(svg_escapes_text_from_the_inputs)
{
    struct report_log log;
    struct report_trace tr;
    struct capture c;
    char *svg, *out;

    REQUIRE(load(FIX "escape.jsonl", &log) == 0 &&
            load_set(FIX "closed.csv", 1, 1, &tr) == 0);
    CHECK(!strcmp(log.run.mode, "<b>&\"x?"));   /* control character replaced */
    svg = plot(&(struct svg_run){&log, &tr}, 1, 1, 1);
    CHECK(xml_problem(svg) == NULL);
    CHECK_STR_CONTAINS(svg, "&lt;b&gt;&amp;&quot;x?");
    CHECK(!strstr(svg, "<b>"));
    free(svg);
    svg_put_escaped(capture_begin(&c), "caf\xc3\xa9 \xff\xfe<\x01 \xe2\x9c\x93 \xed\xa0\x80");
    out = capture_end(&c);
    CHECK(!strcmp(out, "caf\xc3\xa9 ??&lt;? \xe2\x9c\x93 ???"));
    free(out);
    report_trace_fini(&tr);
    report_log_fini(&log);
}

TEST(svg_refuses_bad_requests)
{
    struct report_log log;
    struct report_trace empty = {(char *)"empty.csv", NULL, 0};
    char err[256] = "", path[] = "/tmp/test_report_XXXXXX";
    int fd;

    REQUIRE(load(FIX "closed.jsonl", &log) == 0);
    CHECK_INT(svg_plot_set(stdout, NULL, 0, 1, 1, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "0 runs");
    CHECK_INT(svg_plot_set(stdout, &(struct svg_run){&log, &empty}, 1, 1, 3, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "empty.csv: no ticks for session 1 set 3");
    CHECK_INT(svg_write_file("/nonexistent/dir/x.svg", &(struct svg_run){&log, &empty}, 1, 1, 1,
                             err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "/nonexistent/dir/x.svg: cannot create");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        struct report_trace tr;
        close(fd);
        if (load_set(FIX "closed.csv", 1, 1, &tr) == 0) {
            CHECK_INT(svg_write_file(path, &(struct svg_run){&log, &tr}, 1, 1, 1, err, sizeof err),
                      0);
            report_trace_fini(&tr);
        }
        unlink(path);
    }
    report_log_fini(&log);
}

TESTS(T(xml_checker_catches_broken_markup), T(log_loads_every_kind_and_skips_unknown_events),
      T(log_keeps_faults_and_resets),
      T(malformed_logs_are_refused_with_file_and_line), T(missing_log_file_reports_errno),
      T(set_summary_from_rep_lines_closed_set_1), T(session_summary_from_rep_lines_fixed),
      T(absent_set_gives_empty_row), T(consistent_logs_cross_check_clean),
      T(set_line_mismatch_is_detected), T(run_report_prints_tables_with_units),
      T(run_report_shows_mismatch_loudly), T(comparison_prints_both_runs_figures),
      T(trace_loads_one_set_trimmed_to_its_running_ticks),
      T(trace_filters_by_time_window_and_reads_columns_by_name),
      T(malformed_traces_are_refused_with_file_and_line),
      T(svg_of_one_run_has_band_strokes_and_both_panels),
      T(svg_comparison_has_two_columns_and_marks_the_fault), T(svg_escapes_text_from_the_inputs),
      T(svg_refuses_bad_requests));

TEST_MAIN("test_report")
