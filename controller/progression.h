/* progression.h - the twelve weeks: a patient's programme and its pain-monitored steps.
 *
 * The band a patient trains in is the programme's starting band scaled by a level:
 *     band(level) = [band_low, band_high] x (1 + step_share x level)
 * and the level may only take values whose band lies inside [floor_n, ceiling_n]. The
 * rules (docs/programme.md gives their sources) move the level:
 *   - a set's pain score above pain_stop (5/10, Silbernagel 2007) ends the session after
 *     that set and puts the level one step down for the next session (at most one such
 *     step per session);
 *   - a morning score (the meaningful task, Goom 2016) at least morning_rise (2) above
 *     the patient's baseline: one step down, and hold (a step up needs a full week at
 *     the new level, as after every change);
 *   - one step up, decided when a session begins, when at least 7 days have passed since
 *     the last change (or the programme's start) and over the last 7 days: every set of
 *     every session held the band (strict time in band >= up_in_band, 90%) with a pain
 *     score <= up_pain_max (3) (a set with no score does not count as pain-free), no
 *     morning score was above the baseline, and the sessions done were at least
 *     adherence_flag (70%) of the plan (a week with two sessions is no evidence);
 *     never past the ceiling, never when the programme is locked;
 *   - flags for the clinician, judged when a protocol day begins: adherence under
 *     adherence_flag of the plan over the last 7 whole days (at most once a week), and
 *     morning scores whose weekly mean rose two weeks in a row (at most once a week).
 * The first morning score becomes the baseline when the clinician set none.
 * Every change and flag is a decision with its reason, for the history.
 *
 * Times are wall (UTC s) with the local offset; a protocol day begins day_start_s after
 * local midnight (as schedule.h). Pure logic: nothing is allocated or read.
 */
#ifndef ECC_PROGRESSION_H
#define ECC_PROGRESSION_H

#include <stdbool.h>

#define PROG_KEEP_SESSIONS 128      /* the latest sessions kept: 7 days at 10 a day, twice */
#define PROG_KEEP_MORNINGS 32       /* the latest morning scores: four weeks and some */
#define PROG_SETS_MAX 20            /* protocol.sets_per_session's upper bound */
#define PROG_DECISIONS_MAX 4
#define PROG_REASON_MAX 192          /* fits a controller event (ctl.h) */
#define PROG_WEEK_S (7.0 * 86400.0)

/* The rules' thresholds ([progression] in the config). */
struct prog_rules {
    double pain_stop;           /* a set's pain above this ends the session: 5 */
    double morning_rise;        /* a morning this far above baseline steps down: 2 */
    double up_in_band;          /* every set's strict time in band at least this: 0.9 */
    double up_pain_max;         /* ... and its pain at most this: 3 */
    double adherence_flag;      /* sessions done under this share of the plan: 0.7 */
};

/* The clinician's programme for one patient (stored in the history). */
struct prog_plan {
    bool active;                /* false: no programme, nothing moves, nothing is flagged */
    double start;               /* UTC s: its first protocol day is the one of this time */
    int weeks;                  /* 1..52 */
    int sessions_per_day;       /* the plan, 1..10 */
    double band_low, band_high; /* N, the band at level 0 */
    double step_share;          /* one step, as a share of the starting band: 0.01..0.5 */
    double floor_n, ceiling_n;  /* N, no band ever leaves [floor_n, ceiling_n] */
    bool locked;                /* frozen: no step (a session is still ended on pain) */
    double baseline;            /* the morning baseline (NAN: the first score sets it) */
    int level;                  /* now */
    double last_change;         /* UTC s of the latest step (<= 0: none yet, use start) */
};

enum prog_kind {
    PROG_UP = 0,                /* one step up */
    PROG_DOWN,                  /* one step down */
    PROG_STOP_SESSION,          /* the session ends after this set */
    PROG_FLAG_MORNING,          /* morning pain rose two weeks in a row */
    PROG_FLAG_ADHERENCE,        /* under the plan's share of sessions */
    PROG_BASELINE,              /* the first morning score became the baseline */
    PROG_HOLD,                  /* a step was due but the floor, ceiling or lock holds */
    PROG_KIND_COUNT
};

struct prog_decision {
    enum prog_kind kind;
    double t;                   /* UTC s */
    int level_from, level_to;
    double band_low, band_high; /* N, the band after it */
    char reason[PROG_REASON_MAX];
};

struct prog_out {
    int n;
    struct prog_decision d[PROG_DECISIONS_MAX];
    bool stop_session;          /* end the running session after this set */
    bool band_changed;          /* the level moved: apply prog_band_now() */
};

/* One session as the rules see it (also how the history hands them back). */
struct prog_session {
    double start;               /* UTC s */
    int sets;                   /* sets finished */
    double share[PROG_SETS_MAX];    /* each set's strict time in band, 0..1 */
    signed char pain[PROG_SETS_MAX];    /* each set's pain 0..10, -1: none entered */
    bool stepped_down;          /* a pain step down was taken for it */
};

struct prog {                   /* fields are private to progression.c */
    struct prog_rules r;
    struct prog_plan plan;
    double day_start_s;
    struct prog_session sess[PROG_KEEP_SESSIONS];
    int s_head, s_n;            /* ring, oldest first from s_head */
    double m_t[PROG_KEEP_MORNINGS];
    int m_score[PROG_KEEP_MORNINGS];
    int m_head, m_n;
    long day_seen;              /* the protocol day prog_tick last judged (-1: none) */
    double last_adherence_flag, last_morning_flag;      /* UTC s, -inf: never */
};

/* "up", "down", "stop_session", "flag_morning", "flag_adherence", "baseline", "hold". */
const char *prog_kind_name(enum prog_kind k);

/* Are the plan's numbers usable with these bounds (band inside [floor, ceiling], ...)?
 * 0, or -1 with what is wrong in why. */
int prog_plan_check(const struct prog_plan *plan, char *why, int whylen);

/* plan may be NULL (no programme). day_start_s: 0..86399 as schedule.h. */
void prog_init(struct prog *p, const struct prog_rules *r, const struct prog_plan *plan,
               double day_start_s);
const struct prog_plan *prog_plan(const struct prog *p);

/* The band at a level, and the levels the floor and ceiling allow. */
void prog_band(const struct prog *p, int level, double *low, double *high);
void prog_band_now(const struct prog *p, double *low, double *high);
int prog_level_min(const struct prog *p);
int prog_level_max(const struct prog *p);

/* Hand back what the history holds (oldest first), after prog_init: no decisions. */
void prog_restore_session(struct prog *p, const struct prog_session *s);
void prog_restore_morning(struct prog *p, double wall, int score);
/* A flag raised before (PROG_FLAG_*): the same flag waits a week from it. */
void prog_restore_flag(struct prog *p, enum prog_kind kind, double wall);

/* A new session begins at wall: a step up is judged first (its band is the session's). */
void prog_session_begin(struct prog *p, double wall, int utc_offset_s, struct prog_out *out);
/* The running session's set finished with this strict time in band (0..1). */
void prog_set_done(struct prog *p, double in_band_share);
/* A pain score (0..10) on the latest set of the latest session. */
void prog_pain(struct prog *p, double wall, int score, struct prog_out *out);
/* The morning score (0..10) on the meaningful task. */
void prog_morning(struct prog *p, double wall, int score, struct prog_out *out);
/* Call every tick (cheap): when a protocol day begins, the flags are judged. */
void prog_tick(struct prog *p, double wall, int utc_offset_s, struct prog_out *out);

/* Sessions begun in [from, to) (UTC s), for adherence. */
int prog_sessions_between(const struct prog *p, double from, double to);

#endif
