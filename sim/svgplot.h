/* svgplot.h - an SVG picture of one set, for people: what the foot did, what the belt did.
 *
 * For each run (one, or two side by side: the first on the left, so give the closed-
 * loop run first and the fixed-speed run second), titled with the mode and the time
 * in band:
 *   upper panel  force (N) over time: the target band shaded (class "band"), the
 *                filtered force line, each stroke marked over [t_start, t] as counted
 *                (green, class "stroke counted", numbered with its rep) or rejected
 *                (red, class "stroke rejected", with a short reason); fault periods
 *                (trace state "fault") shaded and named;
 *   lower panel  belt speed (m/s): commanded dashed, measured solid.
 * Both runs share the time axis (s since the set's first tick in each trace) and the
 * force and speed scales, so they compare at a glance. About 700 px wide per run
 * and 700 px high. Text from the inputs is escaped. Plain fprintf, no library.
 */
#ifndef ECC_SVGPLOT_H
#define ECC_SVGPLOT_H

#include <stddef.h>
#include <stdio.h>

#include "sim/report.h"

#define SVG_MAX_RUNS 2

struct svg_run {
    const struct report_log *log;       /* the run's rep log (strokes, faults, mode) */
    const struct report_trace *trace;   /* the set's ticks in time order (not empty), e.g.
                                           loaded with session/set and trim_idle */
};

/* Write the picture of (session, set) to out. Returns 0, or -1 with errno = EINVAL
 * and a message in err when n_runs is not 1..SVG_MAX_RUNS or a trace is empty. The
 * caller owns everything passed in; nothing is kept. */
int svg_plot_set(FILE *out, const struct svg_run *runs, int n_runs, int session, int set,
                 char *err, size_t errlen);

/* The same into a file (created or truncated); -1 also when it cannot be written. */
int svg_write_file(const char *path, const struct svg_run *runs, int n_runs, int session,
                   int set, char *err, size_t errlen);

/* Write s as XML character data: & < > " ' escaped, control characters and bytes
 * that are not valid UTF-8 replaced by '?'. */
void svg_put_escaped(FILE *out, const char *s);

#endif
