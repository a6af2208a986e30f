/* progdoc.h - eccd's report document (JSON, docs/report.md) read and checked into C, for
 * the clinician's report (client/progreport.c).
 *
 * progdoc_read checks every field the report uses, by its path, and keeps the document's
 * strings (so the json_t must outlive the struct). It sorts what it keeps by time and
 * works out the columns the figures plot. The rest are the programme's calendar: protocol
 * days begin at day_start_h local time (utc_offset_s), and day 0 is the day of the start.
 */
#ifndef ECC_PROGDOC_H
#define ECC_PROGDOC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define PROG_MAX_WEEKS 104
#define PROG_MAX_DAYS (7 * PROG_MAX_WEEKS)

struct prog_session {
    double t, band_low, band_high, mean_n, in_band, pain;     /* NaN: not known */
    long long reps, rejects;
    bool done;                   /* status "done"; others do not count as a session done */
};

struct prog_checkin {
    double t, score;
    const char *instrument;      /* questionnaires only */
};

struct prog_step {
    double t, level_from, level_to, band_low, band_high;       /* NaN: not given */
    const char *kind, *reason;   /* reason NULL: not given */
    size_t seq;                  /* the document's order, for entries at the same time */
};

struct prog_reject {
    char words[64];              /* what the reason means, for people */
    long long count;
    size_t rank;                 /* the known reasons first, in their order, then the rest */
};

struct prog_programme {
    double start, band_low, band_high, step_share, floor_n, ceiling_n, cur_low, cur_high;
    double baseline;             /* the morning score's baseline, NaN when not set yet */
    long long weeks, per_day, sets, reps, level, utc_offset_s, day_start_h;
    bool locked;
};

struct prog_thresholds {
    double pain_stop, morning_rise, up_in_band, up_pain_max, adherence_flag;
};

/* What the figures plot, x in weeks from the programme's start. */
struct prog_columns {
    double *sx, *mean, *in_band, *pain;         /* per session: N, %, 0..10 */
    double *ax, *alow, *ahigh, a_end;           /* the band as steps, to a_end */
    double *mx, *mscore;                        /* morning scores */
    double *qx, *qscore;                        /* questionnaires, by instrument then time */
    const char **rwords;                        /* rejected strokes, by reason's rank */
    long long *rcount, rtotal;
    size_t an;
};

struct progdoc {
    double generated;
    const char *name;
    long long patient_id;        /* -1: not given */
    struct prog_programme p;
    struct prog_thresholds th;
    struct prog_session *sessions;              /* by time */
    struct prog_checkin *mornings, *scores;     /* by time; scores by instrument, then time */
    struct prog_step *steps;                    /* by time */
    struct prog_reject *rejects;                /* by rank */
    size_t n_sessions, n_mornings, n_scores, n_steps, n_rejects;
    struct prog_columns c;
};

/* What the days add up to on the day the report was made ("today"). */
struct prog_days {
    long long n, today;          /* programme days; today's day (may be outside 0..n-1) */
    int done[PROG_MAX_DAYS];     /* sessions done on each day */
};

struct prog_tally {
    long long done, planned;     /* sessions up to today (see progdoc_tally) */
    long long ups, downs, flags, stops, reps, rejects;
};

/* Read doc into d. Returns 0, or -1 with err naming the field ("sessions[3].started: not
 * a number"). Call progdoc_free(d) either way. */
int progdoc_read(struct progdoc *d, const json_t *doc, char *err, size_t errlen);
void progdoc_free(struct progdoc *d);

/* Weeks from the programme's start to t. */
double progdoc_weeks(const struct progdoc *d, double t);
/* The programme day of t (0: the day of the start). */
long long progdoc_day(const struct progdoc *d, double t);
/* A programme day's local date, YYYY-MM-DD, and its weekday (0 Sunday .. 6 Saturday). */
void progdoc_date(char *buf, size_t len, const struct progdoc *d, long long day);
int progdoc_weekday(const struct progdoc *d, long long day);
/* t in the programme's local time: YYYY-MM-DD, with " HH:MM" when with_time. */
void progdoc_time(char *buf, size_t len, const struct progdoc *d, double t, bool with_time);

void progdoc_count_days(const struct progdoc *d, struct prog_days *days);
/* Sessions done and planned up to today: every day before today counts in full, today only
 * with what is done (it is not over); sessions beyond the day's number are not counted, so
 * done <= planned. Steps up and down, flags (flag_*), sessions stopped, strokes. */
struct prog_tally progdoc_tally(const struct progdoc *d, const struct prog_days *days);

#endif
