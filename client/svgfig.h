/* svgfig.h - small SVG charts for the clinician's report (client/progreport.c).
 *
 * A figure is an SVG picture with a plot area and two linear scales. The helpers draw into
 * it: axes with ticks and titles, marks (dots, squares, ...), lines, a shaded step area,
 * dashed reference lines, labelled vertical markers, horizontal bars, a legend and a "no
 * data yet" note. The SVG is meant to sit inline in an HTML5 page: no xmlns, no reference
 * to anything outside it; it scales to the page's width (viewBox, no fixed size) and its
 * elements carry classes for the page's style sheet. Text from outside is escaped.
 *
 * Values outside a scale's range are pinned to its edge, except marks and line points
 * beyond the x range, which are left out; NaN values are left out (a line breaks there).
 */
#ifndef ECC_SVGFIG_H
#define ECC_SVGFIG_H

#include <stddef.h>
#include <stdio.h>

struct svgfig {
    FILE *out;
    double width, height;               /* the viewBox, px */
    double left, top, right, bottom;    /* the plot area, px from the viewBox's origin */
    double x_min, x_max, y_min, y_max;  /* the data shown (svgfig_axes sets them) */
};

struct svgfig_axis {
    double min, max;                    /* the range shown */
    double step;                        /* between ticks, > 0 */
    const char *title;                  /* under the x axis, along the y axis; may be NULL */
    const char *suffix;                 /* after each tick's number ("%"); may be NULL */
};

enum svgfig_mark { SVGFIG_DOT, SVGFIG_SQUARE, SVGFIG_TRIANGLE, SVGFIG_DIAMOND };

/* Write s as HTML/XML character data (also fit for a quoted attribute): & < > " '
 * escaped, control characters and bytes that are not valid UTF-8 written as '?'. */
void svgfig_put_text(FILE *out, const char *s);

/* 1, 2 or 5 times a power of ten, giving at most about max_ticks steps over span. */
double svgfig_nice_step(double span, int max_ticks);

/* Open <svg> of width x height px with the default plot margins, labelled for screen
 * readers (label may be NULL); svgfig_end closes it. */
void svgfig_begin(struct svgfig *f, FILE *out, double width, double height, const char *label);
void svgfig_end(struct svgfig *f);

/* Data to px. */
double svgfig_x(const struct svgfig *f, double v);
double svgfig_y(const struct svgfig *f, double v);

/* Set the scales and draw the grid, the ticks with their numbers, the frame and the
 * titles. */
void svgfig_axes(struct svgfig *f, const struct svgfig_axis *x, const struct svgfig_axis *y);

/* A mark at each (x[i], y[i]) of class cls. */
void svgfig_marks(struct svgfig *f, const double *x, const double *y, size_t n,
                  enum svgfig_mark mark, const char *cls);

/* A line through the points in order, broken where y is NaN. */
void svgfig_line(struct svgfig *f, const double *x, const double *y, size_t n, const char *cls);

/* The area between low and high as steps: low[i]..high[i] holds from x[i] to x[i + 1],
 * the last one to x_end (x ascending). One <path class="cls">. */
void svgfig_step_area(struct svgfig *f, const double *x, const double *low, const double *high,
                      size_t n, double x_end, const char *cls);

/* A horizontal line at data y across the plot, with label (may be NULL) at its right end. */
void svgfig_hline(struct svgfig *f, double y, const char *cls, const char *label);

/* A vertical line at data x through the plot with label above it, in one of two rows
 * (row 0 or 1) of the top margin so that neighbours do not overlap. */
void svgfig_vline(struct svgfig *f, double x, int row, const char *cls, const char *label);

/* One legend entry at px (x, y): the mark, then text. Returns the x after it. */
double svgfig_legend(struct svgfig *f, double x, double y, enum svgfig_mark mark,
                     const char *cls, const char *text);

/* text in the middle of the plot area (class "note"): "no data yet". */
void svgfig_note(struct svgfig *f, const char *text);

/* Horizontal bars, one row each: label on the left, a bar of class cls as long as
 * value[i] on a scale 0..max of the values, the value after it. Sets its own layout
 * (the figure's height should be svgfig_bars_height(n)). */
void svgfig_bars(struct svgfig *f, const char *const *label, const long long *value, size_t n,
                 const char *cls);
double svgfig_bars_height(size_t n);

#endif
