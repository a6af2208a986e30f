/* svgplot.c - an SVG picture of one set (see svgplot.h). */
#include "sim/svgplot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ---- layout (px) ---------------------------------------------------------------- */

#define COL_W 700.0              /* one run */
#define HEIGHT 700.0
#define PLOT_LEFT 82.0           /* from the column's left edge */
#define PLOT_RIGHT 26.0          /* from its right edge */
#define TITLE_Y 32.0
#define SUBTITLE_Y 54.0
#define RIBBON_Y 70.0            /* the lane of stroke markers above the force plot */
#define RIBBON_H 22.0
#define RIBBON_MIN_W 16.0        /* a marker stays wide enough for its label */
#define FORCE_Y 96.0
#define FORCE_H 300.0
#define SPEED_Y 426.0
#define SPEED_H 150.0
#define XTICK_Y (SPEED_Y + SPEED_H + 20.0)
#define XLABEL_Y (SPEED_Y + SPEED_H + 44.0)
#define LEGEND_Y 662.0
#define LEGEND_ROW 24.0
#define LEGEND_ITEMS 8
#define NAME_SHOWN 20            /* characters of a file name in a subtitle */

#define GREEN "#2e7d32"
#define RED "#c62828"

static const char style_sheet[] =
    "text{font-family:'DejaVu Sans','Helvetica Neue',Arial,sans-serif;fill:#263238}"
    ".title{font-size:18px;font-weight:bold}"
    ".subtitle{font-size:13.5px;fill:#546e7a}"
    ".tick{font-size:12.5px;fill:#546e7a}"
    ".axis-label{font-size:14px}"
    ".legend-text{font-size:13.5px}"
    ".grid{stroke:#e3e8eb;stroke-width:1}"
    ".frame{fill:none;stroke:#90a4ae;stroke-width:1}"
    ".band{fill:#bbdefb;fill-opacity:0.6}"
    ".force{fill:none;stroke:#0d47a1;stroke-width:2;stroke-linejoin:round}"
    ".speed{fill:none;stroke:#37474f;stroke-width:1.8;stroke-linejoin:round}"
    ".speed-cmd{fill:none;stroke:#ef6c00;stroke-width:2;stroke-dasharray:7 4}"
    ".span{fill-opacity:0.08}"
    ".marker-text{font-size:12.5px;font-weight:bold;fill:#fff}"
    ".reason{font-size:12px;fill:" RED ";stroke:#fff;stroke-width:3;paint-order:stroke}"
    ".fault-span{fill:#ffcdd2;fill-opacity:0.55}"
    ".fault-text{font-size:12.5px;font-weight:bold;fill:#b71c1c}";

/* ---- text ----------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (also allowed in XML), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
             : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;

    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;                /* overlong, surrogate, or beyond U+10FFFF */
    if (n == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
        return 0;                /* U+FFFE, U+FFFF: not XML characters */
    return n;
}

void svg_put_escaped(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        size_t n;
        switch (*p) {
        case '&': fputs("&amp;", out); p++; continue;
        case '<': fputs("&lt;", out); p++; continue;
        case '>': fputs("&gt;", out); p++; continue;
        case '"': fputs("&quot;", out); p++; continue;
        case '\'': fputs("&apos;", out); p++; continue;
        default: break;
        }
        if (*p < 0x80) {
            fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
            p++;
        } else if ((n = utf8_len(p)) != 0) {
            fwrite(p, 1, n, out);
            p += n;
        } else {
            fputc('?', out);
            p++;
        }
    }
}

/* <text x y class ...extra>escaped text</text> */
static void put_text(FILE *out, double x, double y, const char *cls, const char *extra,
                     const char *text)
{
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"%s\"%s%s>", x, y, cls, *extra ? " " : "",
            extra);
    svg_put_escaped(out, text);
    fputs("</text>\n", out);
}

static void put_textf(FILE *out, double x, double y, const char *cls, const char *extra,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void put_textf(FILE *out, double x, double y, const char *cls, const char *extra,
                      const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put_text(out, x, y, cls, extra, buf);
}

/* ---- scales --------------------------------------------------------------------- */

struct panel {
    double x, y, w, h;           /* px */
    double x_max, y_max;         /* data: time 0..x_max s, value 0..y_max */
};

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static double px(const struct panel *p, double t)
{
    return p->x + p->w * clamp(t / p->x_max, 0.0, 1.0);
}

static double py(const struct panel *p, double v)
{
    return p->y + p->h * (1.0 - clamp(v / p->y_max, 0.0, 1.0));
}

/* 1, 2 or 5 times a power of ten, giving about target steps over span. */
static double nice_step(double span, int target)
{
    double raw = span / target, mag = pow(10.0, floor(log10(raw))), r = raw / mag;

    return (r <= 1.0 ? 1.0 : r <= 2.0 ? 2.0 : r <= 5.0 ? 5.0 : 10.0) * mag;
}

/* v rounded up to a multiple of its nice step, within [lo, hi] (absurd inputs stay drawable). */
static double nice_ceil(double v, int target, double lo, double hi)
{
    double step;

    v = isfinite(v) ? clamp(v, lo, hi) : hi;
    step = nice_step(v, target);
    return ceil(v / step - 1e-9) * step;
}

/* Ticks 0, step, ... up to max: how many after 0 (at most a few dozen). */
static int tick_count(double max, double step)
{
    double n = floor(max / step + 1e-6);

    return n >= 0 && n <= 50 ? (int)n : 0;
}

static int decimals_for(double step)
{
    int d = (int)ceil(-log10(step) - 1e-9);

    return d < 0 ? 0 : d;
}

/* ---- what is plotted ------------------------------------------------------------ */

struct view {                    /* one run's column */
    const struct report_log *log;
    const struct report_trace *tr;
    int session, set;
    double x0;                   /* column's left edge, px */
    double t0;                   /* s, the set's first tick */
    struct panel force, speed;
};

static double tick_value(const struct report_tick *t, size_t off)
{
    double v;

    memcpy(&v, (const char *)t + off, sizeof v);
    return v;
}

static int stroke_in_view(const struct view *v, const struct report_stroke *s)
{
    return s->session == v->session && s->set == v->set;
}

struct scales {
    double t_max, f_max, v_max;
};

static void widen_scales(struct scales *sc, const struct view *v)
{
    const struct report_trace *tr = v->tr;

    sc->t_max = fmax(sc->t_max, tr->ticks[tr->n - 1].t - v->t0);
    sc->f_max = fmax(sc->f_max, 1.2 * v->log->run.band_high);
    sc->v_max = fmax(sc->v_max, v->log->run.speed_max);
    for (size_t i = 0; i < tr->n; i++) {
        sc->f_max = fmax(sc->f_max, fmax(tr->ticks[i].force, tr->ticks[i].band_high) * 1.05);
        sc->v_max = fmax(sc->v_max, fmax(tr->ticks[i].speed, tr->ticks[i].speed_cmd));
    }
    for (size_t i = 0; i < v->log->n_strokes; i++)
        if (stroke_in_view(v, &v->log->strokes[i]))
            sc->t_max = fmax(sc->t_max, v->log->strokes[i].t - v->t0);
}

static void set_panels(struct view *v, const struct scales *sc)
{
    double x = v->x0 + PLOT_LEFT, w = COL_W - PLOT_LEFT - PLOT_RIGHT;

    v->force = (struct panel){x, FORCE_Y, w, FORCE_H, sc->t_max, sc->f_max};
    v->speed = (struct panel){x, SPEED_Y, w, SPEED_H, sc->t_max, sc->v_max};
}

/* ---- axes ----------------------------------------------------------------------- */

static void put_y_axis(FILE *out, const struct panel *p, const char *unit_label)
{
    double step = nice_step(p->y_max, 5);
    int dec = decimals_for(step), n = tick_count(p->y_max, step);
    double mid = p->y + p->h / 2, lx = p->x - 58;

    for (int i = 0; i <= n; i++) {
        double v = i * step, y = py(p, v);
        fprintf(out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                p->x, y, p->x + p->w, y);
        put_textf(out, p->x - 8, y + 4.5, "tick", "text-anchor=\"end\"", "%.*f", dec, v);
    }
    fprintf(out, "<text class=\"axis-label\" text-anchor=\"middle\" "
                 "transform=\"translate(%.1f,%.1f) rotate(-90)\">", lx, mid);
    svg_put_escaped(out, unit_label);
    fputs("</text>\n", out);
}

static void put_x_grid(FILE *out, const struct panel *p, int labels)
{
    double step = nice_step(p->x_max, 8);
    int dec = decimals_for(step), n = tick_count(p->x_max, step);

    for (int i = 0; i <= n; i++) {
        double t = i * step, x = px(p, t);
        fprintf(out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                x, p->y, x, p->y + p->h);
        if (labels)
            put_textf(out, x, XTICK_Y, "tick", "text-anchor=\"middle\"", "%.*f", dec, t);
    }
}

static void put_frame(FILE *out, const struct panel *p)
{
    fprintf(out, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
            p->x, p->y, p->w, p->h);
}

/* ---- data ----------------------------------------------------------------------- */

/* A polyline of one tick field; at most the min and max of each pixel column. */
static void put_series(FILE *out, const struct view *v, const struct panel *p, size_t off,
                       const char *cls)
{
    const struct report_tick *t = v->tr->ticks;
    size_t n = v->tr->n, i = 0;

    fprintf(out, "<polyline class=\"%s\" points=\"", cls);
    while (i < n) {
        long col = lround(px(p, t[i].t - v->t0));
        size_t j = i, lo = i, hi = i;
        for (; j < n && lround(px(p, t[j].t - v->t0)) == col; j++) {
            lo = tick_value(&t[j], off) < tick_value(&t[lo], off) ? j : lo;
            hi = tick_value(&t[j], off) > tick_value(&t[hi], off) ? j : hi;
        }
        size_t first = lo < hi ? lo : hi, second = lo < hi ? hi : lo;
        fprintf(out, "%.1f,%.1f ", px(p, t[first].t - v->t0), py(p, tick_value(&t[first], off)));
        if (second != first)
            fprintf(out, "%.1f,%.1f ", px(p, t[second].t - v->t0),
                    py(p, tick_value(&t[second], off)));
        i = j;
    }
    fputs("\"/>\n", out);
}

/* One edge of the band as steps: forward along band_high, then back along band_low. */
static void put_band_edge(FILE *out, const struct view *v, size_t off, int backward)
{
    size_t n = v->tr->n;
    double prev = 0.0;

    for (size_t k = 0; k < n; k++) {
        const struct report_tick *t = &v->tr->ticks[backward ? n - 1 - k : k];
        double val = tick_value(t, off), x = px(&v->force, t->t - v->t0);
        if (k > 0 && val != prev)
            fprintf(out, "L%.1f,%.1f ", x, py(&v->force, prev));
        if (k == 0 || k == n - 1 || val != prev)
            fprintf(out, "%s%.1f,%.1f ", k == 0 && !backward ? "M" : "L", x, py(&v->force, val));
        prev = val;
    }
}

static void put_band(FILE *out, const struct view *v)
{
    fputs("<path class=\"band\" d=\"", out);
    put_band_edge(out, v, offsetof(struct report_tick, band_high), 0);
    put_band_edge(out, v, offsetof(struct report_tick, band_low), 1);
    fputs("Z\"/>\n", out);
}

static const char *short_reason(enum report_verdict v)
{
    static const char *const names[REPORT_VERDICTS] = {"", "too short", "too little travel",
                                                       "out of band", "aborted",
                                                       "above band, slowest",
                                                       "below band, fastest"};
    return (unsigned)v < REPORT_VERDICTS ? names[v] : "?";
}

static void put_stroke(FILE *out, const struct view *v, const struct report_stroke *s)
{
    const struct panel *p = &v->force;
    int counted = s->verdict == REPORT_COUNTED;
    const char *color = counted ? GREEN : RED;
    double x1 = px(p, s->t_start - v->t0), x2 = px(p, s->t - v->t0), cx = (x1 + x2) / 2;
    double w = fmax(x2 - x1, 2.0), rw = fmax(w, RIBBON_MIN_W);

    fprintf(out, "<g class=\"stroke %s\">\n", counted ? "counted" : "rejected");
    fprintf(out, "<rect class=\"span\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                 "fill=\"%s\"/>\n", x1, p->y, w, p->h, color);
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"3\" "
                 "fill=\"%s\"/>\n", cx - rw / 2, RIBBON_Y, rw, RIBBON_H, color);
    if (counted)
        put_textf(out, cx, RIBBON_Y + 16, "marker-text", "text-anchor=\"middle\"", "%d", s->rep);
    else
        put_text(out, cx, RIBBON_Y + 16, "marker-text", "text-anchor=\"middle\"", "\u2717");
    if (!counted) {
        fprintf(out, "<text class=\"reason\" text-anchor=\"end\" "
                     "transform=\"translate(%.1f,%.1f) rotate(-90)\">", cx + 4.5, p->y + 6);
        svg_put_escaped(out, short_reason(s->verdict));
        fputs("</text>\n", out);
    }
    fputs("</g>\n", out);
}

static const char *fault_name_near(const struct report_log *log, double t)
{
    const char *name = "fault";
    double best = 1.0;           /* s: a fault line this close to the shaded span names it */

    for (size_t i = 0; i < log->n_faults; i++)
        if (!log->faults[i].is_reset && fabs(log->faults[i].t - t) < best) {
            best = fabs(log->faults[i].t - t);
            name = log->faults[i].fault;
        }
    return name;
}

/* Shade each run of "fault" ticks over both panels and name the fault. */
static void put_fault_spans(FILE *out, const struct view *v)
{
    const struct report_tick *t = v->tr->ticks;
    size_t n = v->tr->n;

    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        if (strcmp(t[i].state, "fault"))
            continue;
        while (j + 1 < n && !strcmp(t[j + 1].state, "fault"))
            j++;
        double x1 = px(&v->force, t[i].t - v->t0), x2 = px(&v->force, t[j].t - v->t0);
        fprintf(out, "<rect class=\"fault-span\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                     "height=\"%.1f\"/>\n", x1, v->force.y, fmax(x2 - x1, 2.0),
                SPEED_Y + SPEED_H - v->force.y);
        put_textf(out, x1 + 4, v->force.y + 16, "fault-text", "", "FAULT: %s",
                  fault_name_near(v->log, t[i].t));
        i = j;
    }
}

static int any_fault(const struct view *views, int n)
{
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < views[k].tr->n; i++)
            if (!strcmp(views[k].tr->ticks[i].state, "fault"))
                return 1;
    return 0;
}

/* ---- a run's column ------------------------------------------------------------- */

static void put_titles(FILE *out, const struct view *v)
{
    struct report_summary_row row;
    const struct report_run *r = &v->log->run;
    double cx = v->x0 + PLOT_LEFT;
    const char *slash = strrchr(v->log->path, '/'), *name = slash ? slash + 1 : v->log->path;
    size_t len = strlen(name);

    report_summarize_one(v->log, v->session, v->set, &row);
    if (isnan(row.in_band_share_all))
        put_textf(out, cx, TITLE_Y, "title", "", "%s (%s)", report_mode_title(r->mode), r->mode);
    else
        put_textf(out, cx, TITLE_Y, "title", "", "%s (%s) \u00b7 %.0f%% of stroke time in band",
                  report_mode_title(r->mode), r->mode, 100.0 * row.in_band_share_all);
    put_textf(out, cx, SUBTITLE_Y, "subtitle", "",
              "Session %d, set %d \u00b7 %d counted (%.0f%% in band), %d rejected \u00b7 %s%s",
              v->session, v->set, row.counted,
              isnan(row.in_band_share) ? 0.0 : 100.0 * row.in_band_share, row.rejected,
              len > NAME_SHOWN ? "\u2026" : "",
              name + (len > NAME_SHOWN ? len - NAME_SHOWN : 0));
}

static void put_column(FILE *out, const struct view *v)
{
    fprintf(out, "<g class=\"run\">\n");
    put_titles(out, v);
    fputs("<g class=\"panel-force\">\n", out);
    put_y_axis(out, &v->force, "Foot force (N)");
    put_x_grid(out, &v->force, 0);
    put_band(out, v);
    put_fault_spans(out, v);
    for (size_t i = 0; i < v->log->n_strokes; i++)
        if (stroke_in_view(v, &v->log->strokes[i]))
            put_stroke(out, v, &v->log->strokes[i]);
    put_series(out, v, &v->force, offsetof(struct report_tick, force), "force");
    put_frame(out, &v->force);
    fputs("</g>\n<g class=\"panel-speed\">\n", out);
    put_y_axis(out, &v->speed, "Belt speed (m/s)");
    put_x_grid(out, &v->speed, 1);
    put_series(out, v, &v->speed, offsetof(struct report_tick, speed_cmd), "speed-cmd");
    put_series(out, v, &v->speed, offsetof(struct report_tick, speed), "speed");
    put_frame(out, &v->speed);
    put_text(out, v->speed.x + v->speed.w / 2, XLABEL_Y, "axis-label", "text-anchor=\"middle\"",
             "Time from the start of the set (s)");
    fputs("</g>\n</g>\n", out);
}

/* ---- legend --------------------------------------------------------------------- */

enum swatch { SW_BAND, SW_FORCE, SW_COUNTED, SW_REJECTED, SW_CMD, SW_SPEED, SW_FAULT };

static void put_swatch(FILE *out, enum swatch s, double x, double y)
{
    switch (s) {
    case SW_BAND:
        fprintf(out, "<rect class=\"band-swatch\" x=\"%.1f\" y=\"%.1f\" width=\"28\" "
                     "height=\"14\" fill=\"#bbdefb\"/>\n", x, y - 11);
        break;
    case SW_COUNTED:
    case SW_REJECTED:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"28\" height=\"16\" rx=\"3\" "
                     "fill=\"%s\"/>\n", x, y - 12, s == SW_COUNTED ? GREEN : RED);
        put_text(out, x + 14, y + 1, "marker-text", "text-anchor=\"middle\"",
                 s == SW_COUNTED ? "1" : "\u2717");
        break;
    case SW_FAULT:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"28\" height=\"14\" fill=\"#ffcdd2\"/>\n",
                x, y - 11);
        break;
    default:
        fprintf(out, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                s == SW_FORCE ? "force" : s == SW_CMD ? "speed-cmd" : "speed", x, y - 4, x + 28,
                y - 4);
    }
}

struct legend_item {
    enum swatch swatch;
    char text[64];
};

/* Lays the items out in rows within width; draws them when out is not NULL. Returns
 * the number of rows. */
static int layout_legend(FILE *out, const struct legend_item *items, int n, double width)
{
    double x = PLOT_LEFT, y = LEGEND_Y;
    int rows = 1;

    for (int i = 0; i < n; i++) {
        double w = 36 + 8.2 * (double)strlen(items[i].text) + 22;  /* DejaVu Sans 13.5 px */
        if (x > PLOT_LEFT && x + w > width - PLOT_RIGHT) {
            x = PLOT_LEFT;
            y += LEGEND_ROW;
            rows++;
        }
        if (out) {
            put_swatch(out, items[i].swatch, x, y);
            put_text(out, x + 36, y, "legend-text", "", items[i].text);
        }
        x += w;
    }
    return rows;
}

static int legend_items(struct legend_item *items, const struct view *v, int with_fault)
{
    static const struct legend_item fixed[] = {
        {SW_FORCE, "Foot force"},      {SW_COUNTED, "Counted rep"},
        {SW_REJECTED, "Rejected stroke"}, {SW_CMD, "Speed commanded"},
        {SW_SPEED, "Speed measured"},  {SW_FAULT, "Fault (belt stopped)"},
    };
    const struct report_tick *t = &v->tr->ticks[0];
    int n = 1;

    items[0].swatch = SW_BAND;
    snprintf(items[0].text, sizeof items[0].text, "Target band %g\u2013%g N", t->band_low,
             t->band_high);
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (fixed[i].swatch != SW_FAULT || with_fault)
            items[n++] = fixed[i];
    return n;
}

/* ---- the picture ---------------------------------------------------------------- */

int svg_plot_set(FILE *out, const struct svg_run *runs, int n_runs, int session, int set,
                 char *err, size_t errlen)
{
    struct view views[SVG_MAX_RUNS];
    struct scales sc = {1.0, 10.0, 0.1};
    struct legend_item items[LEGEND_ITEMS];
    double width = COL_W * n_runs, height;
    int n_items;

    if (n_runs < 1 || n_runs > SVG_MAX_RUNS) {
        snprintf(err, errlen, "svg: %d runs given (1 or %d can be drawn)", n_runs, SVG_MAX_RUNS);
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; i < n_runs; i++) {
        if (!runs[i].trace->n) {
            snprintf(err, errlen, "%s: no ticks for session %d set %d", runs[i].trace->path,
                     session, set);
            errno = EINVAL;
            return -1;
        }
        views[i] = (struct view){.log = runs[i].log, .tr = runs[i].trace, .session = session,
                                 .set = set, .x0 = COL_W * i, .t0 = runs[i].trace->ticks[0].t};
        widen_scales(&sc, &views[i]);
    }
    n_items = legend_items(items, &views[0], any_fault(views, n_runs));
    height = HEIGHT + LEGEND_ROW * (layout_legend(NULL, items, n_items, width) - 1);
    sc.t_max = nice_ceil(sc.t_max, 8, 1.0, 1e6);
    sc.f_max = nice_ceil(sc.f_max, 5, 10.0, 1e5);
    sc.v_max = nice_ceil(sc.v_max * 1.1, 4, 0.1, 100.0);
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                 "viewBox=\"0 0 %.0f %.0f\">\n<style>%s</style>\n"
                 "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
            width, height, width, height, style_sheet);
    for (int i = 0; i < n_runs; i++) {
        set_panels(&views[i], &sc);
        put_column(out, &views[i]);
    }
    fputs("<g class=\"legend\">\n", out);
    layout_legend(out, items, n_items, width);
    fputs("</g>\n", out);
    fputs("</svg>\n", out);
    return 0;
}

int svg_write_file(const char *path, const struct svg_run *runs, int n_runs, int session,
                   int set, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    int rc;

    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    rc = svg_plot_set(f, runs, n_runs, session, set, err, errlen);
    if (ferror(f) && rc == 0) {
        snprintf(err, errlen, "%s: write error", path);
        rc = -1;
    }
    if (fclose(f) != 0 && rc == 0) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(e));
        errno = e;
        rc = -1;
    }
    return rc;
}
