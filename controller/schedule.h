/* schedule.h - the day's rule: at most sessions_per_day sessions a protocol day (2 for
 * the twice-daily protocol), each beginning at least min_gap_s after the previous one
 * ended. The clinician's allow_extra lets a patient do more than sessions_per_day (the
 * gap still applies; set it to 0 to waive it too).
 *
 * Time is UTC seconds since 1970 ("wall") passed in, with the local offset: a protocol
 * day runs from day_start_s after local midnight to the same time the next day, so a
 * session just after midnight still belongs to the evening before.
 *
 * Only the latest SCHED_KEEP sessions are kept: more than enough to count one day's.
 * Pure logic: nothing is allocated, nothing read from the system.
 */
#ifndef ECC_SCHEDULE_H
#define ECC_SCHEDULE_H

#include <stdbool.h>

#define SCHED_KEEP 16

enum sched_verdict {
    SCHED_OK = 0,
    SCHED_OK_EXTRA,             /* over the day's count, allowed by allow_extra */
    SCHED_REFUSED_QUOTA,        /* the day's sessions are done */
    SCHED_REFUSED_GAP,          /* too soon after the previous session */
    SCHED_VERDICT_COUNT
};

struct sched_params {
    int sessions_per_day;       /* >= 1 */
    double min_gap_s;           /* >= 0, from the previous session's end */
    double day_start_s;         /* 0..86399: local time of day at which a day begins */
    bool allow_extra;           /* the clinician allows more than sessions_per_day */
};

struct sched {                  /* fields are private to schedule.c */
    struct sched_params p;
    double start[SCHED_KEEP], end[SCHED_KEEP];  /* ring, oldest first from head */
    int head, n;
};

void sched_init(struct sched *s, const struct sched_params *p);
void sched_clear(struct sched *s);

/* A session began at wall (UTC s); it is open (end < 0) until sched_end. */
void sched_begin(struct sched *s, double wall);
/* The latest session ended (or was interrupted) at wall; a no-op without one. */
void sched_end(struct sched *s, double wall);

/* May a new session begin at wall? *wait_s (may be NULL) gets how long until one may
 * (0 when allowed): to the gap's end, or to the next day's start. */
enum sched_verdict sched_check(const struct sched *s, double wall, int utc_offset_s,
                               double *wait_s);

/* The protocol day number of wall (days since 1970 by local day boundaries). */
long sched_day(const struct sched *s, double wall, int utc_offset_s);
/* Sessions begun on the protocol day of wall. */
int sched_count_day(const struct sched *s, double wall, int utc_offset_s);

/* "ok", "ok_extra", "refused_quota", "refused_gap". */
const char *sched_verdict_name(enum sched_verdict v);

#endif
