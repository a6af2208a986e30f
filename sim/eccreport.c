/* eccreport - show a person what happened in an eccd run: reps, sets, a closed-loop
 * vs fixed-speed comparison and an SVG plot of one set. See usage_text below. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/report.h"
#include "sim/svgplot.h"

#define ECCREPORT_VERSION "0.1"

enum { EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
"NAME\n"
"    eccreport - summarise an eccd run: reps, sets, comparison, SVG plot\n"
"\n"
"SYNOPSIS\n"
"    eccreport [--quiet] RUN.jsonl\n"
"    eccreport [--quiet] RUN.jsonl --compare OTHER.jsonl\n"
"    eccreport RUN.jsonl --svg OUT.svg --trace RUN.csv [--session N] [--set N]\n"
"    eccreport RUN.jsonl --compare OTHER.jsonl --svg OUT.svg --trace RUN.csv\n"
"              --compare-trace OTHER.csv [--session N] [--set N]\n"
"    eccreport --help | --version\n"
"\n"
"DESCRIPTION\n"
"    Reads the rep log eccd wrote for a run and prints, for each set: every stroke\n"
"    (counted or rejected, with why), then a summary per set and per session\n"
"    computed from the rep lines themselves, checked against eccd's own \"set\" and\n"
"    \"session\" lines. A disagreement is printed as MISMATCH (stdout and stderr)\n"
"    and makes the exit status 1. With --compare, a second run (typically the\n"
"    fixed-speed run of the same session) is reported too, followed by a side-by-\n"
"    side table. With --svg, one set is drawn: force against the target band with\n"
"    each stroke marked, and belt speed, one column per run (RUN on the left).\n"
"\n"
"OPTIONS\n"
"    --compare OTHER.jsonl\n"
"        A second run to report and compare with RUN (RUN left, OTHER right).\n"
"    --svg OUT.svg\n"
"        Write a plot of one set to OUT.svg (created or replaced). Needs --trace,\n"
"        and with --compare also --compare-trace. About 700 x 700 px per run.\n"
"    --trace RUN.csv\n"
"        RUN's tick trace, for --svg.\n"
"    --compare-trace OTHER.csv\n"
"        OTHER's tick trace, for --svg with --compare.\n"
"    --session N\n"
"        The session of the set to plot (default 1).\n"
"    --set N\n"
"        The set to plot (default 1).\n"
"    -q, --quiet\n"
"        Summaries only: leave out the per-stroke tables.\n"
"    -h, --help\n"
"        This text.\n"
"    -V, --version\n"
"        Version and the rep-log format version read.\n"
"    Options take their value as the next argument or after '=' (--set=2).\n"
"    Colour is used only when stdout is a terminal and NO_COLOR is not set.\n"
"\n"
"INPUT: REP LOG (JSON lines)\n"
"    One object per line; \"event\" names it. Lines of other events are skipped.\n"
"    Every line may carry \"wall\": UTC with milliseconds (\"2026-01-05T07:00:02.500Z\")\n"
"    or null; checked where present, optional so older logs still read.\n"
"    {\"event\":\"run\",\"version\":1,\"wall\":\"2026-01-05T07:00:00.000Z\",\n"
"     \"mode\":\"continuous\",\"band_low\":60,\"band_high\":100,\n"
"     \"speed_max\":0.7,\"reps_per_set\":15,\"sets_per_session\":3,\n"
"     \"config\":\"config/sim.ini\",\"scenario\":\"normal\",\"seed\":1}\n"
"        exactly one, before the others; config, scenario and seed optional;\n"
"        wall is when eccd started.\n"
"    {\"event\":\"rep\",\"t\":12.345,\"wall\":\"2026-01-05T07:00:12.345Z\",\"session\":1,\n"
"     \"set\":1,\"rep\":3,\"stroke\":4,\"verdict\":\"counted\",\"t_start\":10.812,\n"
"     \"duration_s\":1.533,\"travel_m\":0.452,\"peak_n\":95.2,\"mean_n\":81.3,\n"
"     \"in_band_s\":1.31,\"in_band_share\":0.934,\"work_j\":36.2}\n"
"        a counted rep; t is the release, t_start the contact (s).\n"
"    {\"event\":\"reject\", the same fields}\n"
"        a stroke that did not count: verdict too_short, too_little_travel,\n"
"        out_of_band, above_band_at_min_speed, below_band_at_max_speed or aborted;\n"
"        rep is the count of counted reps so far.\n"
"    {\"event\":\"set\",\"t\":60.1,\"wall\":...,\"session\":1,\"set\":1,\"counted\":15,\n"
"     \"rejected\":2,\"too_short\":0,\"too_little_travel\":1,\"out_of_band\":1,\"aborted\":0,\n"
"     \"in_band_share\":0.93,\"duration_s\":52.1}\n"
"        eccd's summary of a finished set; in_band_share is time in band over time\n"
"        from first reaching the band to release, over the set's strokes that\n"
"        reached it (checked to within 0.01).\n"
"    {\"event\":\"session\",\"t\":300.2,\"wall\":...,\"session\":1,\"sets\":3,\"counted\":45,\n"
"     \"rejected\":5}\n"
"    {\"event\":\"fault\",\"t\":20.0,\"wall\":...,\"fault\":\"overforce\",\"value\":262.1,\n"
"     \"limit\":250}\n"
"    {\"event\":\"reset\",\"t\":30.0,\"wall\":...,\"fault\":\"overforce\"}\n"
"\n"
"INPUT: TRACE (CSV, one row per control tick)\n"
"    t,state,session,set,force_raw,force,speed_cmd,speed,band_low,band_high,loaded\n"
"    t in s; forces in N; speeds in m/s; state one of idle, set_running, rest,\n"
"    ready, paused, session_done, fault; loaded 0 or 1. Columns may come in any\n"
"    order and extra columns are ignored. The plotted set runs from its first to\n"
"    its last set_running/paused/fault tick; its time axis starts at 0 there.\n"
"\n"
"OUTPUT\n"
"    Per-stroke table: stroke number, rep number (counted only), verdict, start\n"
"    (s), duration (s), travel (m), peak and mean force (N), time in band (s and %),\n"
"    eccentric work (J). Set summary: strokes, counted, rejected by reason; mean\n"
"    time in band, peak and mean force over counted reps; work over counted reps;\n"
"    duration from the set line; check (ok, MISMATCH, or unfinished when the run\n"
"    stopped before the set ended). The header says when the run started (UTC)\n"
"    and the fault list when each fault latched, where the log has \"wall\".\n"
"\n"
"EXAMPLE\n"
"    eccreport build/demo/closed.jsonl --compare build/demo/fixed.jsonl \\\n"
"              --svg set1.svg --trace build/demo/closed.csv \\\n"
"              --compare-trace build/demo/fixed.csv --set 1\n"
"\n"
"EXIT STATUS\n"
"    0  success\n"
"    1  bad input: unreadable or malformed file (reported as FILE:LINE: what),\n"
"       a set with no ticks in a trace, an unwritable SVG, or a MISMATCH\n"
"    2  usage error\n";

struct options {
    const char *run, *compare, *svg, *trace, *compare_trace;
    int session, set, quiet;
};

static int usage_error(const char *what, const char *detail)
{
    fprintf(stderr, "eccreport: %s%s\nTry 'eccreport --help' for more information.\n", what,
            detail);
    return -1;
}

static int parse_count(const char *name, const char *arg, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > INT_MAX)
        return usage_error(name, " needs a whole number >= 1");
    *out = (int)v;
    return 0;
}

enum { OPT_COMPARE = 256, OPT_SVG, OPT_TRACE, OPT_COMPARE_TRACE, OPT_SESSION, OPT_SET };

static const struct option long_options[] = {
    {"compare", required_argument, NULL, OPT_COMPARE},
    {"svg", required_argument, NULL, OPT_SVG},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"compare-trace", required_argument, NULL, OPT_COMPARE_TRACE},
    {"session", required_argument, NULL, OPT_SESSION},
    {"set", required_argument, NULL, OPT_SET},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Returns 0 to go on, 1 when done (help/version), -1 on a usage error. */
static int apply_option(struct options *o, int c, const char *arg)
{
    switch (c) {
    case OPT_COMPARE: o->compare = arg; return 0;
    case OPT_SVG: o->svg = arg; return 0;
    case OPT_TRACE: o->trace = arg; return 0;
    case OPT_COMPARE_TRACE: o->compare_trace = arg; return 0;
    case OPT_SESSION: return parse_count("--session", arg, &o->session);
    case OPT_SET: return parse_count("--set", arg, &o->set);
    case 'q': o->quiet = 1; return 0;
    case 'h': fputs(usage_text, stdout); return 1;
    case 'V':
        printf("eccreport %s (reads eccd rep log version %d)\n", ECCREPORT_VERSION,
               REPORT_LOG_VERSION);
        return 1;
    default: /* getopt_long has said what is wrong */
        fputs("Try 'eccreport --help' for more information.\n", stderr);
        return -1;
    }
}

static int check_combination(const struct options *o)
{
    if (o->svg && !o->trace)
        return usage_error("--svg", " needs --trace RUN.csv");
    if (o->trace && !o->svg)
        return usage_error("--trace", " is only used with --svg");
    if (o->compare_trace && !o->compare)
        return usage_error("--compare-trace", " needs --compare OTHER.jsonl");
    if (o->compare_trace && !o->svg)
        return usage_error("--compare-trace", " is only used with --svg");
    if (o->svg && o->compare && !o->compare_trace)
        return usage_error("--svg", " with --compare needs --compare-trace OTHER.csv");
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    int c, rc;

    *o = (struct options){.session = 1, .set = 1};
    while ((c = getopt_long(argc, argv, "qhV", long_options, NULL)) != -1)
        if ((rc = apply_option(o, c, optarg)) != 0)
            return rc;
    if (optind == argc)
        return usage_error("no rep log given (eccreport [options] RUN.jsonl)", "");
    if (argc - optind > 1)
        return usage_error("one rep log at a time (use --compare for a second); extra argument: ",
                           argv[optind + 1]);
    o->run = argv[optind];
    return check_combination(o);
}

static int load_log(const char *path, struct report_log *log)
{
    char err[512];

    if (report_load_log(path, log, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "eccreport: %s\n", err);
    return -1;
}

static int load_set_trace(const char *path, const struct options *o, struct report_trace *tr)
{
    struct report_trace_filter f;
    char err[512];

    report_trace_filter_all(&f);
    f.session = o->session;
    f.set = o->set;
    f.trim_idle = 1;
    if (report_load_trace(path, &f, tr, err, sizeof err) < 0) {
        fprintf(stderr, "eccreport: %s\n", err);
        return -1;
    }
    if (!tr->n) {
        fprintf(stderr, "eccreport: %s: no ticks for session %d set %d\n", path, o->session,
                o->set);
        report_trace_fini(tr);
        return -1;
    }
    return 0;
}

static int write_svg(const struct options *o, const struct report_log *logs, int n)
{
    struct report_trace traces[SVG_MAX_RUNS] = {{0}};
    struct svg_run runs[SVG_MAX_RUNS];
    const char *paths[SVG_MAX_RUNS] = {o->trace, o->compare_trace};
    char err[512];
    int rc = 0;

    for (int i = 0; i < n && rc == 0; i++) {
        rc = load_set_trace(paths[i], o, &traces[i]);
        runs[i] = (struct svg_run){&logs[i], &traces[i]};
    }
    if (rc == 0 && (rc = svg_write_file(o->svg, runs, n, o->session, o->set, err, sizeof err)))
        fprintf(stderr, "eccreport: %s\n", err);
    if (rc == 0)
        printf("\nPlot of session %d, set %d written to %s\n", o->session, o->set, o->svg);
    for (int i = 0; i < n; i++)
        report_trace_fini(&traces[i]);
    return rc;
}

static int report_runs(const struct options *o, const struct report_log *logs, int n)
{
    struct report_print_opts po = {o->quiet, isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};
    int mismatches = 0;

    for (int i = 0; i < n; i++) {
        int m = report_print_run(stdout, &logs[i], &po);
        if (m)
            fprintf(stderr, "eccreport: %s: %d MISMATCH%s between its rep lines and eccd's own "
                            "set/session lines (details in the report)\n",
                    logs[i].path, m, m == 1 ? "" : "ES");
        mismatches += m;
        fputs(i + 1 < n ? "\n\n" : "", stdout);
    }
    if (n == 2) {
        fputs("\n\n", stdout);
        report_print_compare(stdout, &logs[0], &logs[1], &po);
    }
    return mismatches ? -1 : 0;
}

int main(int argc, char **argv)
{
    struct options o;
    struct report_log logs[SVG_MAX_RUNS] = {{0}};
    int n = 1, rc = parse_args(argc, argv, &o);

    if (rc)
        return rc > 0 ? EXIT_SUCCESS : EXIT_USAGE;
    rc = load_log(o.run, &logs[0]);
    if (rc == 0 && o.compare)
        rc = load_log(o.compare, &logs[n++]);
    if (rc == 0) {
        int bad = report_runs(&o, logs, n);
        rc = o.svg ? write_svg(&o, logs, n) : 0;
        rc = rc ? rc : bad;
    }
    for (int i = 0; i < SVG_MAX_RUNS; i++)
        report_log_fini(&logs[i]);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "eccreport: writing the report failed: %s\n", strerror(errno));
        rc = -1;
    }
    return rc ? EXIT_BAD_INPUT : EXIT_SUCCESS;
}
