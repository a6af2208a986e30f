/* report.h - read what eccd wrote about a run and summarise it for people.
 *
 * Two inputs (docs/replog.md and the eccreport --help describe them in full):
 *   rep log  JSON lines, one object per line, "event" names the kind:
 *            run (exactly one, before any other known event), rep, reject, set,
 *            session, fault, reset. Lines of other events are skipped (counted in
 *            n_skipped) so newer eccd logs stay readable; blank lines are ignored.
 *   trace    CSV, one row per control tick, with a header naming at least
 *            t,state,session,set,force_raw,force,speed_cmd,speed,band_low,band_high,loaded
 *            (columns may come in any order; unknown extra columns are ignored).
 *
 * Errors: every function that can fail returns 0 on success, or -1 with errno set
 * (EINVAL: malformed input, ENOMEM, or the errno of a failed open/read) and a
 * one-line message in the caller's err buffer (errlen bytes, may be 0). Input
 * errors name the place: "FILE:LINE: what is wrong". Nothing here exits or aborts.
 *
 * Ownership: report_load_log, report_load_trace and report_summarize fill a
 * caller-owned struct and allocate what hangs off it; the matching *_free releases
 * that (and leaves the struct zeroed, so freeing twice is harmless). On failure the
 * struct is left zeroed and nothing needs freeing. Strings inside are NUL-terminated
 * copies with control characters replaced by '?', safe to print or put in XML.
 */
#ifndef ECC_REPORT_H
#define ECC_REPORT_H

#include <stddef.h>
#include <stdio.h>

#define REPORT_LOG_VERSION 1     /* the rep-log "version" this reader understands */
/* "wall" on any line: UTC with milliseconds, "2026-12-04T23:05:53.123Z" (24 characters).
 * Optional (older logs have none; null where eccd had no wall clock): "" when absent. */
#define REPORT_WALL_MAX 25

enum report_verdict {
    REPORT_COUNTED = 0,
    REPORT_TOO_SHORT,
    REPORT_TOO_LITTLE_TRAVEL,
    REPORT_OUT_OF_BAND,
    REPORT_ABORTED,
    REPORT_ABOVE_AT_MIN,         /* out of band above it, the belt at its slowest */
    REPORT_BELOW_AT_MAX,         /* out of band below it, the belt at its fastest */
    REPORT_VERDICTS
};

struct report_run {              /* the "run" line */
    int version;
    char mode[24];               /* "continuous", "fixed", ... */
    double band_low, band_high;  /* N */
    double speed_max;            /* m/s */
    int reps_per_set, sets_per_session;
    char config[256];            /* optional fields: "" / 0 when absent */
    char scenario[64];
    long seed;
    char wall[REPORT_WALL_MAX];  /* when eccd started ("": not logged) */
    long line;
};

struct report_stroke {           /* a "rep" (counted) or "reject" line */
    double t;                    /* s, release (end of stroke) */
    int session, set;
    int rep;                     /* counted reps in the set so far (this one included) */
    int stroke;                  /* stroke number as eccd logs it */
    enum report_verdict verdict;
    double t_start, duration_s;  /* s */
    double travel_m;
    double peak_n, mean_n;
    double in_band_s, in_band_share;
    double work_j;
    char wall[REPORT_WALL_MAX];  /* UTC at t ("": not logged) */
    long line;
};

struct report_set_line {         /* a "set" line: eccd's own summary of a finished set */
    double t;
    int session, set;
    int counted, rejected;
    int by_verdict[REPORT_VERDICTS]; /* [REPORT_COUNTED] unused (0) */
    double in_band_share;        /* NAN if logged as null */
    double duration_s;
    char wall[REPORT_WALL_MAX];
    long line;
};

struct report_session_line {     /* a "session" line */
    double t;
    int session, sets, counted, rejected;
    char wall[REPORT_WALL_MAX];
    long line;
};

struct report_fault {            /* a "fault" or "reset" line */
    double t;
    int is_reset;
    char fault[32];
    double value, limit;         /* NAN for a reset */
    char wall[REPORT_WALL_MAX];
    long line;
};

struct report_log {
    char *path;                  /* as given to report_load_log */
    struct report_run run;
    struct report_stroke *strokes;
    size_t n_strokes;
    struct report_set_line *sets;
    size_t n_sets;
    struct report_session_line *sessions;
    size_t n_sessions;
    struct report_fault *faults;
    size_t n_faults;
    size_t n_skipped;            /* lines of unknown events */
};

int report_load_log(const char *path, struct report_log *log, char *err, size_t errlen);
void report_log_fini(struct report_log *log);

/* "Closed loop" for continuous, "Fixed speed" for fixed, else the mode word. */
const char *report_mode_title(const char *mode);

/* --- summaries computed from the rep and reject lines alone ------------------- */

struct report_summary_row {
    int session, set;            /* set 0: the whole session */
    int strokes, counted, rejected;
    int by_verdict[REPORT_VERDICTS];  /* [REPORT_COUNTED] == counted */
    double in_band_share;        /* mean of in_band_share over counted reps (NAN: none) */
    double in_band_share_all;    /* mean of in_band_share over every stroke (NAN: none) */
    double band_share_eccd;      /* eccd's set figure: sum in_band_s / sum of time from first
                                    reaching the band to release, over strokes that reached
                                    it (NAN: none did) */
    double peak_n, mean_n;       /* means over counted reps (NAN: none) */
    double work_j;               /* sum over counted reps */
    double work_all_j;           /* sum over every stroke */
    double duration_s;           /* from the set line(s) (NAN: no set line) */
    int sets;                    /* set lines seen (session rows); 1 or 0 for a set row */
    const struct report_set_line *line;  /* the set's "set" line, or NULL */
    const struct report_session_line *session_line; /* session rows: its line, or NULL */
};

struct report_summary {
    struct report_summary_row *sets;     /* sorted by session, set */
    size_t n_sets;
    struct report_summary_row *sessions; /* sorted by session */
    size_t n_sessions;
};

/* One row for (session, set), or the session total when set == 0. Never fails: a
 * set the log does not mention gives a row of zeros with line == NULL. */
void report_summarize_one(const struct report_log *log, int session, int set,
                          struct report_summary_row *row);

/* Rows for every set and session the log mentions (in rep, reject, set or session
 * lines). Free with report_summary_fini. */
int report_summarize(const struct report_log *log, struct report_summary *sum, char *err,
                     size_t errlen);
void report_summary_fini(struct report_summary *sum);

/* Compare the computed rows with eccd's own set and session lines: counts by verdict
 * must match exactly, the set in-band share within 0.01. Writes one line per
 * disagreement to out (may be NULL), "FILE:LINE: MISMATCH ...", and returns the
 * number of disagreements (0: consistent). A set with reps but no set line is not a
 * mismatch (the run stopped mid-set); see report_row_status. */
int report_cross_check(const struct report_log *log, const struct report_summary *sum, FILE *out);

/* "ok", "MISMATCH" or "unfinished" (no set line; for a session row, no session line). */
const char *report_row_status(const struct report_summary_row *row);

/* --- printing ---------------------------------------------------------------- */

struct report_print_opts {
    int quiet;                   /* summaries only, no per-stroke table */
    int color;                   /* ANSI colours (only for a terminal) */
};

/* Run header, per-stroke table (unless quiet), per-set and per-session summaries,
 * faults, and the cross-check result. Returns the number of mismatches. */
int report_print_run(FILE *out, const struct report_log *log, const struct report_print_opts *o);

/* Side by side, a on the left and b on the right: for each set and each session,
 * counted, rejected by reason, strokes needed, mean time in band, duration. */
void report_print_compare(FILE *out, const struct report_log *a, const struct report_log *b,
                          const struct report_print_opts *o);

/* --- trace ------------------------------------------------------------------- */

#define REPORT_STATE_MAX 16

struct report_tick {
    double t;
    char state[REPORT_STATE_MAX];  /* idle, set_running, rest, ready, paused, session_done, fault */
    int session, set;
    double force_raw, force;     /* N */
    double speed_cmd, speed;     /* m/s */
    double band_low, band_high;  /* N */
    int loaded;                  /* 0 or 1 */
};

struct report_trace_filter {
    int session, set;            /* keep rows of this session / set; 0 = any */
    double t_from, t_to;         /* keep rows with t_from <= t <= t_to */
    int trim_idle;               /* drop leading and trailing rows whose state is not
                                    set_running, paused or fault (the rest before and after) */
};

/* Every row: session = set = 0, t_from = -INFINITY, t_to = INFINITY, trim_idle = 0. */
void report_trace_filter_all(struct report_trace_filter *f);

struct report_trace {
    char *path;
    struct report_tick *ticks;
    size_t n;
};

/* Loads the rows that pass f (NULL: all). The whole file is still checked: a
 * malformed row anywhere, or time going backwards, is an error. */
int report_load_trace(const char *path, const struct report_trace_filter *f,
                      struct report_trace *tr, char *err, size_t errlen);
void report_trace_fini(struct report_trace *tr);

/* Copy s to dst (size n) with control characters replaced by '?'; truncates. */
void report_sanitize(char *dst, size_t n, const char *s);

#endif
