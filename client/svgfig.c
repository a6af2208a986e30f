/* svgfig.c - small SVG charts for the clinician's report (see svgfig.h). */
#include "client/svgfig.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define MARGIN_LEFT 58.0
#define MARGIN_RIGHT 24.0
#define MARGIN_TOP 36.0          /* two rows of marker labels, or the legend */
#define MARGIN_BOTTOM 46.0       /* tick numbers and the x title */
#define MARK_R 3.6
#define LABEL_ROW 13.0
#define CHAR_W 6.4               /* a rough width of one character of the 11 px text */
#define BAR_LABEL_W 200.0
#define BAR_ROW 26.0
#define BAR_H 16.0
#define BAR_COUNT_W 60.0

/* ---- text ---------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s that XML allows, or 0. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
             : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;

    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;                /* overlong, a surrogate, or beyond U+10FFFF */
    if (n == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
        return 0;                /* U+FFFE, U+FFFF */
    return n;
}

static const char *entity(unsigned char c)
{
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\'': return "&#39;";
    default: return NULL;
    }
}

void svgfig_put_text(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        size_t n;
        if (entity(*p)) {
            fputs(entity(*p++), out);
        } else if (*p < 0x80) {
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

static double text_width(const char *s)
{
    double n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n * CHAR_W;
}

static void put_label(FILE *out, double x, double y, const char *cls, const char *anchor,
                      const char *text)
{
    fprintf(out, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", cls, x, y,
            anchor);
    svgfig_put_text(out, text);
    fputs("</text>\n", out);
}

/* ---- scales ---------------------------------------------------------------------------- */

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

double svgfig_nice_step(double span, int max_ticks)
{
    double raw, mag, r;

    if (!(span > 0.0) || max_ticks < 1)
        return 1.0;
    raw = span / max_ticks;
    mag = pow(10.0, floor(log10(raw)));
    r = raw / mag;
    return (r <= 1.0 ? 1.0 : r <= 2.0 ? 2.0 : r <= 5.0 ? 5.0 : 10.0) * mag;
}

static double share(double v, double min, double max)
{
    return max > min ? (clamp(v, min, max) - min) / (max - min) : 0.0;
}

double svgfig_x(const struct svgfig *f, double v)
{
    return f->left + (f->right - f->left) * share(v, f->x_min, f->x_max);
}

double svgfig_y(const struct svgfig *f, double v)
{
    return f->bottom - (f->bottom - f->top) * share(v, f->y_min, f->y_max);
}

static bool x_shown(const struct svgfig *f, double x)
{
    double slack = (f->x_max - f->x_min) * 1e-9;

    return x >= f->x_min - slack && x <= f->x_max + slack;
}

/* ---- the frame ------------------------------------------------------------------------- */

void svgfig_begin(struct svgfig *f, FILE *out, double width, double height, const char *label)
{
    *f = (struct svgfig){.out = out, .width = width, .height = height, .left = MARGIN_LEFT,
                         .top = MARGIN_TOP, .right = width - MARGIN_RIGHT,
                         .bottom = height - MARGIN_BOTTOM, .x_max = 1.0, .y_max = 1.0};
    fprintf(out, "<svg class=\"fig\" viewBox=\"0 0 %.0f %.0f\" role=\"img\"", width, height);
    if (label) {
        fputs(" aria-label=\"", out);
        svgfig_put_text(out, label);
        fputc('"', out);
    }
    fputs(">\n", out);
}

void svgfig_end(struct svgfig *f)
{
    fputs("</svg>\n", f->out);
}

/* The ticks of an axis: min rounded up to a step, then every step up to max. */
static int tick_count(const struct svgfig_axis *a, double *first)
{
    double n;

    *first = ceil(a->min / a->step - 1e-9) * a->step;
    n = floor((a->max - *first) / a->step + 1e-9);
    return n >= 0 && n < 100 ? (int)n + 1 : 0;
}

static void tick_text(char *buf, size_t len, const struct svgfig_axis *a, double v)
{
    int decimals = a->step >= 1.0 ? 0 : (int)ceil(-log10(a->step) - 1e-9);

    if (fabs(v) < a->step * 1e-6)
        v = 0.0;
    snprintf(buf, len, "%.*f%s", decimals, v, a->suffix ? a->suffix : "");
}

static void x_ticks(struct svgfig *f, const struct svgfig_axis *a)
{
    double first;
    int n = tick_count(a, &first);
    char num[32];

    for (int i = 0; i < n; i++) {
        double v = first + i * a->step, x = svgfig_x(f, v);
        fprintf(f->out, "<line class=\"tick-line\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                "y2=\"%.1f\"/>\n", x, f->bottom, x, f->bottom + 5.0);
        tick_text(num, sizeof num, a, v);
        put_label(f->out, x, f->bottom + 18.0, "tick", "middle", num);
    }
    if (a->title)
        put_label(f->out, (f->left + f->right) / 2.0, f->bottom + 38.0, "axis-title", "middle",
                  a->title);
}

static void y_ticks(struct svgfig *f, const struct svgfig_axis *a)
{
    double first;
    int n = tick_count(a, &first);
    char num[32];

    for (int i = 0; i < n; i++) {
        double v = first + i * a->step, y = svgfig_y(f, v);
        fprintf(f->out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                f->left, y, f->right, y);
        tick_text(num, sizeof num, a, v);
        put_label(f->out, f->left - 6.0, y + 4.0, "tick", "end", num);
    }
    if (a->title) {
        fprintf(f->out, "<text class=\"axis-title\" text-anchor=\"middle\" "
                "transform=\"translate(14 %.1f) rotate(-90)\">", (f->top + f->bottom) / 2.0);
        svgfig_put_text(f->out, a->title);
        fputs("</text>\n", f->out);
    }
}

void svgfig_axes(struct svgfig *f, const struct svgfig_axis *x, const struct svgfig_axis *y)
{
    f->x_min = x->min;
    f->x_max = x->max;
    f->y_min = y->min;
    f->y_max = y->max;
    y_ticks(f, y);
    x_ticks(f, x);
    fprintf(f->out, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
            "height=\"%.1f\"/>\n", f->left, f->top, f->right - f->left, f->bottom - f->top);
}

/* ---- data ------------------------------------------------------------------------------ */

static void put_mark(FILE *out, double x, double y, enum svgfig_mark mark)
{
    switch (mark) {
    case SVGFIG_DOT:
        fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>\n", x, y, MARK_R);
        break;
    case SVGFIG_SQUARE:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
                x - MARK_R, y - MARK_R, 2 * MARK_R, 2 * MARK_R);
        break;
    case SVGFIG_TRIANGLE:
        fprintf(out, "<path d=\"M%.1f %.1fl4.6 8h-9.2z\"/>\n", x, y - 5.0);
        break;
    case SVGFIG_DIAMOND:
        fprintf(out, "<path d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\"/>\n", x, y - 5.0);
        break;
    }
}

void svgfig_marks(struct svgfig *f, const double *x, const double *y, size_t n,
                  enum svgfig_mark mark, const char *cls)
{
    fprintf(f->out, "<g class=\"%s\">\n", cls);
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[i]) && x_shown(f, x[i]))
            put_mark(f->out, svgfig_x(f, x[i]), svgfig_y(f, y[i]), mark);
    fputs("</g>\n", f->out);
}

/* The run of points from *i on that can be joined (shown, not NaN): one polyline. */
static void line_run(struct svgfig *f, const double *x, const double *y, size_t n, size_t *i,
                     const char *cls)
{
    size_t from = *i;

    while (*i < n && !isnan(y[*i]) && x_shown(f, x[*i]))
        (*i)++;
    if (*i - from < 2)
        return;
    fprintf(f->out, "<polyline class=\"%s\" points=\"", cls);
    for (size_t k = from; k < *i; k++)
        fprintf(f->out, "%s%.1f,%.1f", k > from ? " " : "", svgfig_x(f, x[k]), svgfig_y(f, y[k]));
    fputs("\"/>\n", f->out);
}

void svgfig_line(struct svgfig *f, const double *x, const double *y, size_t n, const char *cls)
{
    size_t i = 0;

    while (i < n) {
        line_run(f, x, y, n, &i, cls);
        if (i < n)
            i++;                 /* the point that broke the run */
    }
}

void svgfig_step_area(struct svgfig *f, const double *x, const double *low, const double *high,
                      size_t n, double x_end, const char *cls)
{
    FILE *out = f->out;

    if (n == 0)
        return;
    fprintf(out, "<path class=\"%s\" d=\"M%.1f %.1f", cls, svgfig_x(f, x[0]),
            svgfig_y(f, high[0]));
    for (size_t i = 1; i < n; i++)          /* the upper edge, left to right */
        if (high[i] != high[i - 1])
            fprintf(out, "H%.1fV%.1f", svgfig_x(f, x[i]), svgfig_y(f, high[i]));
    fprintf(out, "H%.1fV%.1f", svgfig_x(f, x_end), svgfig_y(f, low[n - 1]));
    for (size_t i = n - 1; i > 0; i--)      /* the lower edge, right to left */
        if (low[i] != low[i - 1])
            fprintf(out, "H%.1fV%.1f", svgfig_x(f, x[i]), svgfig_y(f, low[i - 1]));
    fprintf(out, "H%.1fZ\"/>\n", svgfig_x(f, x[0]));
}

void svgfig_hline(struct svgfig *f, double y, const char *cls, const char *label)
{
    double py = svgfig_y(f, y);

    fprintf(f->out, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", cls,
            f->left, py, f->right, py);
    if (label)
        put_label(f->out, f->right - 4.0, py - 4.0, "ref-label", "end", label);
}

void svgfig_vline(struct svgfig *f, double x, int row, const char *cls, const char *label)
{
    double px = svgfig_x(f, x);

    fprintf(f->out, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", cls,
            px, f->top - (row ? LABEL_ROW : 0.0), px, f->bottom);
    if (label)
        put_label(f->out, px, f->top - 4.0 - (row ? LABEL_ROW : 0.0), "marker-label", "middle",
                  label);
}

double svgfig_legend(struct svgfig *f, double x, double y, enum svgfig_mark mark,
                     const char *cls, const char *text)
{
    fprintf(f->out, "<g class=\"%s\">\n", cls);
    put_mark(f->out, x + 5.0, y - 4.0, mark);
    fputs("</g>\n", f->out);
    put_label(f->out, x + 14.0, y, "legend", "start", text);
    return x + 14.0 + text_width(text) + 18.0;
}

void svgfig_note(struct svgfig *f, const char *text)
{
    put_label(f->out, (f->left + f->right) / 2.0, (f->top + f->bottom) / 2.0 + 5.0, "note",
              "middle", text);
}

/* ---- bars ------------------------------------------------------------------------------ */

double svgfig_bars_height(size_t n)
{
    return 16.0 + BAR_ROW * (double)n;
}

void svgfig_bars(struct svgfig *f, const char *const *label, const long long *value, size_t n,
                 const char *cls)
{
    double max = 0.0, x0 = BAR_LABEL_W + 10.0, room = f->width - x0 - BAR_COUNT_W;

    for (size_t i = 0; i < n; i++)
        max = value[i] > max ? (double)value[i] : max;
    for (size_t i = 0; i < n; i++) {
        double y = 8.0 + BAR_ROW * (double)i, w = max > 0.0 ? room * (double)value[i] / max : 0.0;
        char count[32];
        put_label(f->out, BAR_LABEL_W, y + BAR_H - 3.0, "bar-label", "end", label[i]);
        fprintf(f->out, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\"/>\n", cls, x0, y, w > 0.0 && w < 2.0 ? 2.0 : w, BAR_H);
        snprintf(count, sizeof count, "%lld", value[i]);
        put_label(f->out, x0 + w + 6.0, y + BAR_H - 3.0, "bar-count", "start", count);
    }
}
