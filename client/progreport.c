/* progreport.c - the clinician's report as one self-contained HTML file (see progreport.h;
 * docs/report.md says how each figure comes from the document).
 *
 * progdoc reads and checks the whole document first; the report is rendered into memory,
 * and only a complete rendering reaches out.
 */
#include "client/progreport.h"

#include "client/progdoc.h"
#include "client/svgfig.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FIG_W 720.0
#define MARKER_GAP_PX 46.0       /* closer step markers take turns in two label rows */
#define MAX_INSTRUMENTS 4        /* marks and line styles of questionnaire series */

/* ---- style and text ------------------------------------------------------------------- */

static const char style_sheet[] =
    "@page{size:A4 portrait;margin:14mm 14mm 16mm}\n"
    "html{-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
    "body{margin:0 auto;max-width:182mm;color:#000;background:#fff;"
    "font:10pt/1.35 'DejaVu Sans','Liberation Sans',Arial,sans-serif}\n"
    "@media screen{body{padding:8mm}}\n"
    "h1{font-size:17pt;margin:0 0 3mm}\n"
    "h2{font-size:12.5pt;margin:0 0 2mm;padding-bottom:1mm;border-bottom:1.5px solid #000}\n"
    "header,section,figure,tr{break-inside:avoid;page-break-inside:avoid}\n"
    "header,section{margin:0 0 6mm}\n"
    "figure{margin:0}\n"
    "figcaption,.key{font-size:8.5pt;margin-top:1mm}\n"
    "p{margin:1mm 0}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{border:1px solid #444;padding:.8mm 1.6mm;text-align:left;vertical-align:top}\n"
    "th{background:#e8e8e8}\n"
    "thead{display:table-header-group}\n"
    ".facts th{width:32mm}\n"
    ".steps td:nth-child(-n+4){white-space:nowrap}\n"
    ".tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:2mm}\n"
    ".tile{border:1px solid #444;padding:1.5mm 2mm}\n"
    ".tile b{display:block;font-size:15pt}\n"
    ".tile span{font-size:8.5pt}\n"
    ".tile.alert{border:2.5px solid #b2182b}\n"
    ".cal td,.cal th{text-align:center}\n"
    ".cal td.day{font-weight:bold;width:10.5%}\n"
    ".full{background:#1b7837;color:#fff}\n"
    ".partial{background:#c7e9c0;box-shadow:inset 0 0 0 2px #1b7837}\n"
    ".missed{color:#8b0000;box-shadow:inset 0 0 0 2px #b2182b;"
    "background:repeating-linear-gradient(45deg,#fff 0 3px,#f4a0a0 3px 5px)}\n"
    ".today{outline:2.5px solid #000;outline-offset:-5px}\n"
    ".future{background:#fff;color:#777}\n"
    ".key span{display:inline-block;min-width:9mm;text-align:center;font-weight:bold;"
    "border:1px solid #444;margin:0 1mm 0 3mm;padding:0 1mm}\n"
    ".none{font-style:italic}\n"
    "svg.fig{display:block;width:100%;height:auto}\n"
    "svg text{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;fill:#000}\n"
    ".tick,.legend,.ref-label,.marker-label{font-size:11px}\n"
    ".axis-title,.bar-label,.bar-count{font-size:12px}\n"
    ".note{font-size:15px;font-style:italic}\n"
    ".grid{stroke:#d0d0d0;stroke-width:1}\n"
    ".tick-line{stroke:#000}\n"
    ".frame{fill:none;stroke:#000}\n"
    ".band{fill:#9ecae1;stroke:#2171b5;stroke-width:1}\n"
    ".mark-force,.mark-in-band{fill:#08306b}\n"
    ".step-up{stroke:#000;stroke-width:1.4}\n"
    ".step-down{stroke:#b2182b;stroke-width:1.4;stroke-dasharray:5 3}\n"
    ".ref-threshold{stroke:#000;stroke-width:1.3;stroke-dasharray:6 4}\n"
    ".ref-stop{stroke:#b2182b;stroke-width:1.6;stroke-dasharray:7 4}\n"
    ".ref-baseline{stroke:#555;stroke-width:1.4;stroke-dasharray:2 3}\n"
    ".mark-pain{fill:#b2182b}\n"
    ".mark-morning{fill:#fff;stroke:#000;stroke-width:1.4}\n"
    ".line-morning{fill:none;stroke:#000;stroke-width:1;stroke-dasharray:3 2}\n"
    ".q0,.q1,.q2,.q3{fill:#fff;stroke:#000;stroke-width:1.4}\n"
    ".q0{fill:#000}.q2{fill:#777}\n"
    ".line-q{fill:none;stroke:#000;stroke-width:1.4}\n"
    ".line-q.q1{stroke-dasharray:6 3}.line-q.q2{stroke:#555}.line-q.q3{stroke-dasharray:2 3}\n"
    ".bar{fill:#6baed6;stroke:#08306b}\n";

static void put_text(FILE *out, const char *s)
{
    svgfig_put_text(out, s);
}

/* A number as people write it: no decimals when it has none worth showing. */
static void num_text(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, fabs(v - round(v)) < 0.05 ? "%.0f" : "%.1f", v);
}

static void put_band_text(FILE *out, double low, double high)
{
    char a[32], b[32];

    num_text(a, sizeof a, low);
    num_text(b, sizeof b, high);
    fprintf(out, "%s&ndash;%s N", a, b);
}

static void offset_text(char *buf, size_t len, long long offset_s)
{
    long long a = offset_s < 0 ? -offset_s : offset_s;

    snprintf(buf, len, "UTC%c%02lld:%02lld", offset_s < 0 ? '-' : '+', a / 3600, a % 3600 / 60);
}

static void put_head(FILE *out, const struct progdoc *d)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>Programme report: ", out);
    put_text(out, d->name);
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", style_sheet);
}

static void put_header(FILE *out, const struct progdoc *d, const struct prog_days *days)
{
    char start[16], made[32], zone[32];
    long long week = days->today / 7 + 1;

    progdoc_date(start, sizeof start, d, 0);
    progdoc_time(made, sizeof made, d, d->generated, true);
    offset_text(zone, sizeof zone, d->p.utc_offset_s);
    fputs("<header>\n<h1>Eccentric training report: ", out);
    put_text(out, d->name);
    fputs("</h1>\n<table class=\"facts\">\n<tr><th>Patient</th><td>", out);
    put_text(out, d->name);
    if (d->patient_id >= 0)
        fprintf(out, " (id %lld)", d->patient_id);
    fprintf(out, "</td></tr>\n<tr><th>Programme</th><td>from %s, %lld weeks", start, d->p.weeks);
    if (days->today >= 0 && week <= d->p.weeks)
        fprintf(out, " (now in week %lld)", week);
    fprintf(out, "; %lld %s a day of %lld sets &times; %lld reps</td></tr>\n", d->p.per_day,
            d->p.per_day == 1 ? "session" : "sessions", d->p.sets, d->p.reps);
    fputs("<tr><th>Band now</th><td>", out);
    put_band_text(out, d->p.cur_low, d->p.cur_high);
    fprintf(out, " at level %lld (started at ", d->p.level);
    put_band_text(out, d->p.band_low, d->p.band_high);
    fprintf(out, "; steps of %.0f%% within %.0f&ndash;%.0f N)</td></tr>\n",
            100.0 * d->p.step_share, d->p.floor_n, d->p.ceiling_n);
    fprintf(out, "<tr><th>Progression</th><td>%s</td></tr>\n",
            d->p.locked ? "<b>locked</b>: the band stays until the clinician unlocks it"
                        : "automatic (the steps and flags are listed below)");
    fprintf(out, "<tr><th>Report made</th><td>%s (%s; days begin at %02lld:00)</td></tr>\n"
            "</table>\n</header>\n", made, zone, d->p.day_start_h);
}

static void put_tile(FILE *out, bool alert, const char *value, const char *what)
{
    fprintf(out, "<div class=\"tile%s\"><b>%s</b><span>%s</span></div>\n", alert ? " alert" : "",
            value, what);
}

static void put_tile_n(FILE *out, long long n, const char *what)
{
    char v[32];

    snprintf(v, sizeof v, "%lld", n);
    put_tile(out, false, v, what);
}

static void put_adherence_tiles(FILE *out, const struct progdoc *d, const struct prog_tally *t)
{
    char v[48], what[96];
    double share = t->planned > 0 ? (double)t->done / (double)t->planned : NAN;
    bool low = share < d->th.adherence_flag;

    snprintf(v, sizeof v, "%lld / %lld", t->done, t->planned);
    put_tile(out, false, v, "sessions done / planned so far");
    if (isnan(share))
        snprintf(v, sizeof v, "-");
    else
        snprintf(v, sizeof v, "%.0f%%", 100.0 * share);
    snprintf(what, sizeof what, "adherence%s (flag below %.0f%%)", low ? ", <b>low</b>" : "",
             100.0 * d->th.adherence_flag);
    put_tile(out, low, v, what);
}

static void put_pain_tile(FILE *out, const struct progdoc *d)
{
    const struct prog_checkin *last = d->n_mornings ? &d->mornings[d->n_mornings - 1] : NULL;
    char v[48], base[32], date[16], what[128];
    bool risen = last && !isnan(d->p.baseline) &&
                 last->score >= d->p.baseline + d->th.morning_rise;

    num_text(base, sizeof base, d->p.baseline);
    if (!last) {
        snprintf(v, sizeof v, "-");
        snprintf(what, sizeof what, "last morning score: none yet (baseline %s)",
                 isnan(d->p.baseline) ? "not set" : base);
    } else {
        num_text(v, sizeof v, last->score);
        progdoc_time(date, sizeof date, d, last->t, false);
        snprintf(what, sizeof what, "last morning score, %s; baseline %s%s", date,
                 isnan(d->p.baseline) ? "not set" : base, risen ? ", <b>risen</b>" : "");
    }
    put_tile(out, risen, v, what);
}

static void put_strokes_tile(FILE *out, const struct prog_tally *t)
{
    char v[48];

    snprintf(v, sizeof v, "%lld / %lld", t->reps, t->rejects);
    put_tile(out, false, v, "strokes counted / rejected");
}

static void put_summary(FILE *out, const struct progdoc *d, const struct prog_tally *t)
{
    fputs("<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"tiles\">\n", out);
    put_adherence_tiles(out, d, t);
    put_tile_n(out, t->ups, "steps up");
    put_tile_n(out, t->downs, "steps down");
    put_tile_n(out, t->flags, "flags raised");
    put_tile_n(out, t->stops, "sessions stopped for pain");
    put_pain_tile(out, d);
    put_strokes_tile(out, t);
    fputs("</div>\n</section>\n", out);
}

/* ---- the calendar --------------------------------------------------------------------- */

static const char *day_class(const struct progdoc *d, const struct prog_days *days, long long day)
{
    int done = days->done[day];

    if (day > days->today)
        return "future";
    if (done >= d->p.per_day)
        return day == days->today ? "full today" : "full";
    if (day == days->today)
        return "today";          /* not over yet: not missed */
    return done > 0 ? "partial" : "missed";
}

static void put_calendar_head(FILE *out, const struct progdoc *d)
{
    static const char *const names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

    fputs("<table class=\"cal\">\n<thead><tr><th>week</th><th>from</th>", out);
    for (int day = 0; day < 7; day++)
        fprintf(out, "<th>%s</th>", names[progdoc_weekday(d, day)]);
    fputs("</tr></thead>\n<tbody>\n", out);
}

static void put_calendar_key(FILE *out, long long per_day)
{
    fprintf(out, "</tbody>\n</table>\n<p class=\"key\"><span class=\"full\">%lld/%lld</span>all "
            "done", per_day, per_day);
    if (per_day > 1)
        fprintf(out, "<span class=\"partial\">1/%lld</span>some", per_day);
    fprintf(out, "<span class=\"missed\">0/%lld</span>missed<span class=\"today\">&nbsp;</span>"
            "today<span class=\"future\">&nbsp;</span>to come</p>\n</section>\n", per_day);
}

static void put_calendar(FILE *out, const struct progdoc *d, const struct prog_days *days)
{
    char date[16];
    long long per_day = d->p.per_day;

    fputs("<section id=\"calendar\">\n<h2>Adherence: sessions done / planned each day</h2>\n",
          out);
    put_calendar_head(out, d);
    for (long long w = 0; w < d->p.weeks; w++) {
        progdoc_date(date, sizeof date, d, 7 * w);
        fprintf(out, "<tr><th>%lld</th><td>%s</td>", w + 1, date);
        for (long long day = 7 * w; day < 7 * w + 7; day++) {
            progdoc_date(date, sizeof date, d, day);
            fprintf(out, "<td class=\"day %s\" title=\"%s\">", day_class(d, days, day), date);
            if (day <= days->today)
                fprintf(out, "%d/%lld", days->done[day], per_day);
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    put_calendar_key(out, per_day);
}

/* ---- figures over the weeks ----------------------------------------------------------- */

/* Axes of weeks 0..weeks against y 0..y_max. */
static void week_axes(struct svgfig *f, const struct progdoc *d, double y_max, double y_step,
                      const char *y_title, const char *suffix)
{
    double weeks = (double)d->p.weeks;
    struct svgfig_axis x = {.min = 0.0, .max = weeks,
                            .step = fmax(1.0, svgfig_nice_step(weeks, 13)),
                            .title = "weeks from the start"};
    struct svgfig_axis y = {.min = 0.0, .max = y_max, .step = y_step, .title = y_title,
                            .suffix = suffix};

    svgfig_axes(f, &x, &y);
}

static void begin_figure(FILE *out, const char *id, const char *title)
{
    fprintf(out, "<section id=\"%s\">\n<h2>%s</h2>\n<figure>\n", id, title);
}

static void end_figure(FILE *out, const char *caption)
{
    fprintf(out, "<figcaption>%s</figcaption>\n</figure>\n</section>\n", caption);
}

/* The newtons the band figure must show, rounded up to its ticks. */
static double force_max(const struct progdoc *d, double *step)
{
    double max = fmax(d->p.band_high, d->p.cur_high);

    for (size_t i = 0; i < d->c.an; i++)          /* every band drawn */
        max = fmax(max, d->c.ahigh[i]);
    for (size_t i = 0; i < d->n_sessions; i++)
        max = fmax(max, d->sessions[i].mean_n);     /* fmax passes over a NaN */
    if (!(max > 0.0))
        max = 100.0;
    *step = svgfig_nice_step(max * 1.1, 6);
    return ceil(max * 1.1 / *step) * *step;
}

/* A line at each step up and down, labelled with the level it went to. */
static void step_markers(struct svgfig *f, const struct progdoc *d)
{
    double last_px = -1e9;
    int row = 0;

    for (size_t i = 0; i < d->n_steps; i++) {
        const struct prog_step *s = &d->steps[i];
        bool up = strcmp(s->kind, "up") == 0;
        double x = progdoc_weeks(d, s->t);
        char label[48];
        if ((!up && strcmp(s->kind, "down") != 0) || x < 0.0 || x > (double)d->p.weeks)
            continue;
        row = svgfig_x(f, x) - last_px < MARKER_GAP_PX ? !row : 0;
        last_px = svgfig_x(f, x);
        if (isnan(s->level_to))
            snprintf(label, sizeof label, "%s", up ? "up" : "down");
        else
            snprintf(label, sizeof label, "%s L%.0f", up ? "up" : "down", s->level_to);
        svgfig_vline(f, x, row, up ? "step-up" : "step-down", label);
    }
}

static void put_band_figure(FILE *out, const struct progdoc *d)
{
    const struct prog_columns *c = &d->c;
    struct svgfig f;
    double step, max = force_max(d, &step);

    begin_figure(out, "band", "Band and achieved force per session");
    svgfig_begin(&f, out, FIG_W, 300.0, "the band and each session's mean force over the weeks");
    week_axes(&f, d, max, step, "force (N)", NULL);
    if (d->n_sessions == 0) {
        svgfig_note(&f, "no data yet");
    } else {
        svgfig_step_area(&f, c->ax, c->alow, c->ahigh, c->an, c->a_end, "band");
        step_markers(&f, d);
        svgfig_marks(&f, c->sx, c->mean, d->n_sessions, SVGFIG_DOT, "mark-force");
    }
    svgfig_end(&f);
    end_figure(out, "Shaded: the band each session was set to, in newtons. Dots: the session's "
                    "mean force. Vertical lines: steps up (solid) and down (dashed, red), "
                    "with the level reached.");
}

static void put_in_band_figure(FILE *out, const struct progdoc *d)
{
    struct svgfig f;
    char label[64], caption[160];

    begin_figure(out, "in-band", "Time in band per session");
    svgfig_begin(&f, out, FIG_W, 220.0, "time in band per session over the weeks");
    week_axes(&f, d, 100.0, 20.0, "time in band", "%");
    if (d->n_sessions == 0)
        svgfig_note(&f, "no data yet");
    snprintf(label, sizeof label, "step up at %.0f%%", 100.0 * d->th.up_in_band);
    svgfig_hline(&f, 100.0 * d->th.up_in_band, "ref-threshold", label);
    svgfig_marks(&f, d->c.sx, d->c.in_band, d->n_sessions, SVGFIG_DOT, "mark-in-band");
    svgfig_end(&f);
    snprintf(caption, sizeof caption, "Share of each session's loaded time with the force in "
             "the band. Dashed: %.0f%%, above which a week of sessions can step the band up.",
             100.0 * d->th.up_in_band);
    end_figure(out, caption);
}

static void pain_legend(struct svgfig *f)
{
    double x = svgfig_legend(f, f->left, 14.0, SVGFIG_DOT, "mark-pain",
                             "in-set pain (highest of the session)");

    svgfig_legend(f, x, 14.0, SVGFIG_SQUARE, "mark-morning", "next-morning score");
}

static void put_pain_figure(FILE *out, const struct progdoc *d)
{
    const struct prog_columns *c = &d->c;
    struct svgfig f;
    char value[32], label[64], caption[200];

    begin_figure(out, "pain", "Pain");
    svgfig_begin(&f, out, FIG_W, 260.0, "in-set pain per session and morning score per day");
    week_axes(&f, d, 10.0, 2.0, "pain (0-10)", NULL);
    pain_legend(&f);
    if (d->n_sessions == 0 && d->n_mornings == 0)
        svgfig_note(&f, "no data yet");
    num_text(value, sizeof value, d->th.pain_stop);
    snprintf(label, sizeof label, "stop at %s", value);
    svgfig_hline(&f, d->th.pain_stop, "ref-stop", label);
    if (!isnan(d->p.baseline)) {
        num_text(value, sizeof value, d->p.baseline);
        snprintf(label, sizeof label, "baseline %s", value);
        svgfig_hline(&f, d->p.baseline, "ref-baseline", label);
    }
    svgfig_line(&f, c->mx, c->mscore, d->n_mornings, "line-morning");
    svgfig_marks(&f, c->mx, c->mscore, d->n_mornings, SVGFIG_SQUARE, "mark-morning");
    svgfig_marks(&f, c->sx, c->pain, d->n_sessions, SVGFIG_DOT, "mark-pain");
    svgfig_end(&f);
    snprintf(caption, sizeof caption, "Red dashed: pain %.0f stops a session. Dotted: the "
             "morning baseline; a morning %.0f or more above it raises a flag. A step up needs "
             "pain at most %.0f.", d->th.pain_stop, d->th.morning_rise, d->th.up_pain_max);
    end_figure(out, caption);
}

/* ---- progression table ---------------------------------------------------------------- */

static const struct {
    const char *kind, *words;
} step_words[] = {
    {"up", "step up"},
    {"down", "step down"},
    {"hold", "hold"},
    {"flag_morning", "flag: morning pain rose"},
    {"flag_adherence", "flag: sessions missed"},
    {"stop_session", "session stopped for pain"},
    {"lock", "locked by the clinician"},
    {"unlock", "unlocked"},
    {"set", "band set by the clinician"},
};

static void put_kind(FILE *out, const char *kind)
{
    for (size_t i = 0; i < sizeof step_words / sizeof step_words[0]; i++)
        if (strcmp(kind, step_words[i].kind) == 0) {
            fputs(step_words[i].words, out);
            return;
        }
    put_text(out, kind);
}

static void put_step_row(FILE *out, const struct progdoc *d, const struct prog_step *s)
{
    char when[32], from[16], to[16];
    bool flag = strncmp(s->kind, "flag_", 5) == 0 || strcmp(s->kind, "stop_session") == 0;

    progdoc_time(when, sizeof when, d, s->t, true);
    num_text(from, sizeof from, s->level_from);
    num_text(to, sizeof to, s->level_to);
    fprintf(out, "<tr><td>%s</td><td>%s", when, flag ? "<b>" : "");
    put_kind(out, s->kind);
    fprintf(out, "%s</td><td>%s&rarr;%s</td><td>", flag ? "</b>" : "", from, to);
    if (isnan(s->band_low))
        fputs("-", out);
    else
        put_band_text(out, s->band_low, s->band_high);
    fputs("</td><td>", out);
    put_text(out, s->reason ? s->reason : "");
    fputs("</td></tr>\n", out);
}

static void put_steps_table(FILE *out, const struct progdoc *d)
{
    fputs("<section id=\"progression\">\n<h2>Progression steps and flags</h2>\n", out);
    if (d->n_steps == 0) {
        fputs("<p class=\"none\">none yet</p>\n</section>\n", out);
        return;
    }
    fputs("<table class=\"steps\">\n<thead><tr><th>when</th><th>what</th><th>level</th>"
          "<th>band</th><th>why</th></tr></thead>\n<tbody>\n", out);
    for (size_t i = 0; i < d->n_steps; i++)
        put_step_row(out, d, &d->steps[i]);
    fputs("</tbody>\n</table>\n</section>\n", out);
}

/* ---- rejected strokes ----------------------------------------------------------------- */

/* A figure that only says text. */
static void note_figure(FILE *out, const char *label, const char *text)
{
    struct svgfig f;

    svgfig_begin(&f, out, FIG_W, 110.0, label);
    svgfig_note(&f, text);
    svgfig_end(&f);
}

static void put_rejects(FILE *out, const struct progdoc *d)
{
    const struct prog_columns *c = &d->c;
    struct svgfig f;
    char caption[96];

    begin_figure(out, "rejects", "Rejected strokes by reason");
    if (c->rtotal == 0) {
        note_figure(out, "rejected strokes by reason",
                    d->n_sessions ? "no rejected strokes" : "no data yet");
    } else {
        svgfig_begin(&f, out, FIG_W, svgfig_bars_height(d->n_rejects),
                     "rejected strokes by reason");
        svgfig_bars(&f, c->rwords, c->rcount, d->n_rejects, "bar");
        svgfig_end(&f);
    }
    snprintf(caption, sizeof caption, "Strokes not counted, by why: %lld in all.", c->rtotal);
    end_figure(out, caption);
}

/* ---- questionnaires ------------------------------------------------------------------- */

/* The scores are sorted by instrument: [from, end) are one instrument's. */
static size_t instrument_end(const struct progdoc *d, size_t from)
{
    size_t end = from;

    while (end < d->n_scores && strcmp(d->scores[end].instrument, d->scores[from].instrument) == 0)
        end++;
    return end;
}

static void put_score_series(struct svgfig *f, const struct progdoc *d)
{
    static const enum svgfig_mark marks[MAX_INSTRUMENTS] = {SVGFIG_DOT, SVGFIG_SQUARE,
                                                          SVGFIG_TRIANGLE, SVGFIG_DIAMOND};
    double legend_x = f->left;
    char line[32], mark[16];
    size_t k = 0;

    for (size_t from = 0, end; from < d->n_scores; from = end, k++) {
        end = instrument_end(d, from);
        snprintf(mark, sizeof mark, "q%zu", k % MAX_INSTRUMENTS);
        snprintf(line, sizeof line, "line-q %s", mark);
        svgfig_line(f, d->c.qx + from, d->c.qscore + from, end - from, line);
        svgfig_marks(f, d->c.qx + from, d->c.qscore + from, end - from, marks[k % MAX_INSTRUMENTS],
                     mark);
        legend_x = svgfig_legend(f, legend_x, 14.0, marks[k % MAX_INSTRUMENTS], mark,
                                 d->scores[from].instrument);
    }
}

static void put_scores_table(FILE *out, const struct progdoc *d)
{
    char date[16], score[32];

    fputs("<table class=\"scores\">\n<thead><tr><th>date</th><th>instrument</th><th>score</th>"
          "</tr></thead>\n<tbody>\n", out);
    for (size_t i = 0; i < d->n_scores; i++) {
        progdoc_time(date, sizeof date, d, d->scores[i].t, false);
        num_text(score, sizeof score, d->scores[i].score);
        fprintf(out, "<tr><td>%s</td><td>", date);
        put_text(out, d->scores[i].instrument);
        fprintf(out, "</td><td>%s</td></tr>\n", score);
    }
    fputs("</tbody>\n</table>\n", out);
}

static void put_questionnaires(FILE *out, const struct progdoc *d)
{
    struct svgfig f;

    fputs("<section id=\"questionnaires\">\n<h2>Questionnaire scores</h2>\n<figure>\n", out);
    svgfig_begin(&f, out, FIG_W, 200.0, "questionnaire scores over the weeks");
    week_axes(&f, d, 100.0, 20.0, "score", NULL);
    if (d->n_scores == 0)
        svgfig_note(&f, "no data yet");
    put_score_series(&f, d);
    svgfig_end(&f);
    fputs("</figure>\n", out);
    if (d->n_scores == 0)
        fputs("<p class=\"none\">none entered</p>\n", out);
    else
        put_scores_table(out, d);
    fputs("</section>\n", out);
}

/* ---- the whole ------------------------------------------------------------------------ */

static void render(FILE *out, const struct progdoc *d, const struct prog_days *days)
{
    struct prog_tally t = progdoc_tally(d, days);

    put_head(out, d);
    put_header(out, d, days);
    put_summary(out, d, &t);
    put_calendar(out, d, days);
    put_band_figure(out, d);
    put_in_band_figure(out, d);
    put_pain_figure(out, d);
    put_steps_table(out, d);
    put_rejects(out, d);
    put_questionnaires(out, d);
    fputs("<footer><p class=\"key\">Made by eccd from its report document, version 1.</p>"
          "</footer>\n</body>\n</html>\n", out);
}

/* Render into memory; the caller frees *buf. */
static int render_to_memory(const struct progdoc *d, char **buf, size_t *len)
{
    struct prog_days *days = malloc(sizeof *days);
    FILE *mem = open_memstream(buf, len);
    int rc = days && mem ? 0 : -1;

    if (rc == 0) {
        progdoc_count_days(d, days);
        render(mem, d, days);
        rc = ferror(mem) ? -1 : 0;
    }
    if (mem && fclose(mem) != 0)
        rc = -1;
    free(days);
    return rc;
}

int progreport_html(const json_t *doc, FILE *out, char *err, size_t errlen)
{
    struct progdoc d;
    char *buf = NULL;
    size_t len = 0;
    int rc = progdoc_read(&d, doc, err, errlen);

    if (rc == 0 && render_to_memory(&d, &buf, &len) != 0) {
        snprintf(err, errlen, "out of memory for the report");
        rc = -1;
    } else if (rc == 0 && (fwrite(buf, 1, len, out) != len || fflush(out) != 0)) {
        snprintf(err, errlen, "the report could not be written");
        rc = -1;
    }
    free(buf);
    progdoc_free(&d);
    return rc;
}
