/* schedule.c - the day's rule (see schedule.h). */
#include "controller/schedule.h"

#include <math.h>
#include <string.h>

#define DAY_S 86400.0

void sched_init(struct sched *s, const struct sched_params *p)
{
    memset(s, 0, sizeof *s);
    s->p = *p;
}

void sched_clear(struct sched *s)
{
    s->head = 0;
    s->n = 0;
}

static int slot(const struct sched *s, int i)     /* i: 0 = oldest */
{
    return (s->head + i) % SCHED_KEEP;
}

void sched_begin(struct sched *s, double wall)
{
    if (s->n == SCHED_KEEP) {                      /* forget the oldest */
        s->head = (s->head + 1) % SCHED_KEEP;
        s->n--;
    }
    s->start[slot(s, s->n)] = wall;
    s->end[slot(s, s->n)] = -1.0;
    s->n++;
}

void sched_end(struct sched *s, double wall)
{
    if (s->n > 0)
        s->end[slot(s, s->n - 1)] = wall;
}

long sched_day(const struct sched *s, double wall, int utc_offset_s)
{
    return (long)floor((wall + utc_offset_s - s->p.day_start_s) / DAY_S);
}

int sched_count_day(const struct sched *s, double wall, int utc_offset_s)
{
    long today = sched_day(s, wall, utc_offset_s);
    int count = 0;

    for (int i = 0; i < s->n; i++)
        if (sched_day(s, s->start[slot(s, i)], utc_offset_s) == today)
            count++;
    return count;
}

/* When the latest session ended: its end, or its start while it is still open. */
static double latest_end(const struct sched *s)
{
    int i = slot(s, s->n - 1);

    return s->end[i] >= 0.0 ? s->end[i] : s->start[i];
}

enum sched_verdict sched_check(const struct sched *s, double wall, int utc_offset_s,
                               double *wait_s)
{
    double gap_wait = 0.0, day_wait = 0.0;
    bool quota_full = sched_count_day(s, wall, utc_offset_s) >= s->p.sessions_per_day;
    enum sched_verdict v = SCHED_OK;

    if (s->n > 0 && wall < latest_end(s) + s->p.min_gap_s)
        gap_wait = latest_end(s) + s->p.min_gap_s - wall;
    if (quota_full && !s->p.allow_extra)       /* wait for the next day to begin */
        day_wait = (double)(sched_day(s, wall, utc_offset_s) + 1) * DAY_S +
                   s->p.day_start_s - utc_offset_s - wall;
    if (day_wait > 0.0)
        v = SCHED_REFUSED_QUOTA;
    else if (gap_wait > 0.0)
        v = SCHED_REFUSED_GAP;
    else if (quota_full)
        v = SCHED_OK_EXTRA;
    if (wait_s)     /* both rules must be met: the later of the two */
        *wait_s = gap_wait > day_wait ? gap_wait : day_wait;
    return v;
}

const char *sched_verdict_name(enum sched_verdict v)
{
    static const char *const names[SCHED_VERDICT_COUNT] = {
        "ok", "ok_extra", "refused_quota", "refused_gap",
    };

    return (unsigned)v < SCHED_VERDICT_COUNT ? names[v] : "?";
}
