/* progression.c - the programme's pain-monitored steps (see progression.h). */
#include "controller/progression.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DAY_S 86400.0
#define WEEK_DAYS 7
#define FLAG_GAP_S (PROG_WEEK_S - 3600.0)   /* a flag again at most once a week */

static const char *const kind_names[PROG_KIND_COUNT] = {
    [PROG_UP] = "up", [PROG_DOWN] = "down", [PROG_STOP_SESSION] = "stop_session",
    [PROG_FLAG_MORNING] = "flag_morning", [PROG_FLAG_ADHERENCE] = "flag_adherence",
    [PROG_BASELINE] = "baseline", [PROG_HOLD] = "hold",
};

const char *prog_kind_name(enum prog_kind k)
{
    return k >= 0 && k < PROG_KIND_COUNT ? kind_names[k] : "?";
}

static double band_scale(const struct prog_plan *pl, int level)
{
    return 1.0 + pl->step_share * level;
}

int prog_plan_check(const struct prog_plan *pl, char *why, int whylen)
{
    const char *w = NULL;

    if (!pl->active)
        return 0;
    if (pl->weeks < 1 || pl->weeks > 52)
        w = "weeks must be 1 to 52";
    else if (pl->sessions_per_day < 1 || pl->sessions_per_day > 10)
        w = "sessions a day must be 1 to 10";
    else if (!(pl->step_share >= 0.01 && pl->step_share <= 0.5))
        w = "the step must be 1% to 50% of the starting band";
    else if (!(pl->band_low > 0.0 && pl->band_high > pl->band_low))
        w = "the band's high edge must be above its low edge, both above 0 N";
    else if (!(pl->floor_n > 0.0 && pl->ceiling_n > pl->floor_n))
        w = "the ceiling must be above the floor, both above 0 N";
    else if (pl->band_low < pl->floor_n || pl->band_high > pl->ceiling_n)
        w = "the starting band must lie inside [floor, ceiling]";
    else if (isfinite(pl->baseline) && (pl->baseline < 0.0 || pl->baseline > 10.0))
        w = "the morning baseline must be 0 to 10";
    if (!w)
        return 0;
    snprintf(why, (size_t)whylen, "%s", w);
    return -1;
}

static long day_of(const struct prog *p, double wall, int utc_offset_s)
{
    return (long)floor((wall + utc_offset_s - p->day_start_s) / DAY_S);
}

static double day_wall(const struct prog *p, long day, int utc_offset_s)
{
    return (double)day * DAY_S + p->day_start_s - utc_offset_s;
}

void prog_init(struct prog *p, const struct prog_rules *r, const struct prog_plan *plan,
               double day_start_s)
{
    memset(p, 0, sizeof *p);
    p->r = *r;
    if (plan)
        p->plan = *plan;
    if (!p->plan.active)
        p->plan.level = 0;
    if (p->plan.last_change <= 0.0)
        p->plan.last_change = p->plan.start;
    p->day_start_s = day_start_s;
    p->day_seen = -1;
    p->last_adherence_flag = p->last_morning_flag = -INFINITY;
}

const struct prog_plan *prog_plan(const struct prog *p)
{
    return &p->plan;
}

void prog_band(const struct prog *p, int level, double *low, double *high)
{
    *low = p->plan.band_low * band_scale(&p->plan, level);
    *high = p->plan.band_high * band_scale(&p->plan, level);
}

void prog_band_now(const struct prog *p, double *low, double *high)
{
    prog_band(p, p->plan.level, low, high);
}

/* 1e-9: a band exactly on the floor or ceiling is inside. */
int prog_level_min(const struct prog *p)
{
    const struct prog_plan *pl = &p->plan;
    int l = (int)ceil((pl->floor_n / pl->band_low - 1.0) / pl->step_share - 1e-9);

    return l > 0 ? 0 : l;
}

int prog_level_max(const struct prog *p)
{
    const struct prog_plan *pl = &p->plan;
    int l = (int)floor((pl->ceiling_n / pl->band_high - 1.0) / pl->step_share + 1e-9);

    return l < 0 ? 0 : l;
}

/* ---- the rings ------------------------------------------------------------------------ */

static struct prog_session *session_at(struct prog *p, int i)
{
    return &p->sess[(p->s_head + i) % PROG_KEEP_SESSIONS];
}

static const struct prog_session *session_get(const struct prog *p, int i)
{
    return &p->sess[(p->s_head + i) % PROG_KEEP_SESSIONS];
}

static struct prog_session *latest_session(struct prog *p)
{
    return p->s_n > 0 ? session_at(p, p->s_n - 1) : NULL;
}

static void session_append(struct prog *p, const struct prog_session *s)
{
    if (p->s_n == PROG_KEEP_SESSIONS) {
        p->s_head = (p->s_head + 1) % PROG_KEEP_SESSIONS;
        p->s_n--;
    }
    *session_at(p, p->s_n++) = *s;
}

void prog_restore_session(struct prog *p, const struct prog_session *s)
{
    session_append(p, s);
}

void prog_restore_morning(struct prog *p, double wall, int score)
{
    int i;

    if (p->m_n == PROG_KEEP_MORNINGS) {
        p->m_head = (p->m_head + 1) % PROG_KEEP_MORNINGS;
        p->m_n--;
    }
    i = (p->m_head + p->m_n++) % PROG_KEEP_MORNINGS;
    p->m_t[i] = wall;
    p->m_score[i] = score;
}

void prog_restore_flag(struct prog *p, enum prog_kind kind, double wall)
{
    if (kind == PROG_FLAG_ADHERENCE && wall > p->last_adherence_flag)
        p->last_adherence_flag = wall;
    else if (kind == PROG_FLAG_MORNING && wall > p->last_morning_flag)
        p->last_morning_flag = wall;
}

int prog_sessions_between(const struct prog *p, double from, double to)
{
    int n = 0;

    for (int i = 0; i < p->s_n; i++) {
        double t = session_get(p, i)->start;

        n += t >= from && t < to;
    }
    return n;
}

/* ---- decisions ------------------------------------------------------------------------ */

static void decide(struct prog *p, struct prog_out *out, enum prog_kind kind, double wall,
                   int from, const char *fmt, ...)
{
    struct prog_decision *d;
    va_list ap;

    if (out->n >= PROG_DECISIONS_MAX)
        return;
    d = &out->d[out->n++];
    d->kind = kind;
    d->t = wall;
    d->level_from = from;
    d->level_to = p->plan.level;
    prog_band_now(p, &d->band_low, &d->band_high);
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
}

static void out_clear(struct prog_out *out)
{
    memset(out, 0, sizeof *out);
}

/* One step in direction dir (+1, -1), or a hold saying why not. */
static void step(struct prog *p, int dir, double wall, const char *why, struct prog_out *out)
{
    int from = p->plan.level;
    const char *held = NULL;

    if (p->plan.locked)
        held = "the programme is locked: the band is kept";
    else if (dir < 0 && from <= prog_level_min(p))
        held = "the band is at the floor: it stays";
    else if (dir > 0 && from >= prog_level_max(p))
        held = "the band is at the ceiling: it stays";
    if (held) {
        decide(p, out, PROG_HOLD, wall, from, "%s; %s", why, held);
        return;
    }
    p->plan.level += dir;
    p->plan.last_change = wall;
    out->band_changed = true;
    decide(p, out, dir > 0 ? PROG_UP : PROG_DOWN, wall, from, "%s", why);
}

static bool set_clean(const struct prog *p, const struct prog_session *s, int i)
{
    return s->share[i] >= p->r.up_in_band && s->pain[i] >= 0 && s->pain[i] <= p->r.up_pain_max;
}

/* The last week's sessions, for a step up: how many had sets, and whether all were clean. */
static bool week_clean(const struct prog *p, double from, double to, int *sessions, int *sets)
{
    bool clean = true;

    *sessions = *sets = 0;
    for (int i = 0; i < p->s_n; i++) {
        const struct prog_session *s = session_get(p, i);

        if (s->start < from || s->start >= to || s->sets == 0)
            continue;
        (*sessions)++;
        *sets += s->sets;
        for (int k = 0; k < s->sets; k++)
            clean = clean && set_clean(p, s, k);
    }
    return clean;
}

static bool mornings_above(const struct prog *p, double from, double to, double limit)
{
    for (int i = 0; i < p->m_n; i++) {
        int k = (p->m_head + i) % PROG_KEEP_MORNINGS;

        if (p->m_t[k] >= from && p->m_t[k] < to && p->m_score[k] > limit)
            return true;
    }
    return false;
}

static void judge_step_up(struct prog *p, double wall, struct prog_out *out)
{
    const struct prog_plan *pl = &p->plan;
    double from = wall - PROG_WEEK_S;
    int need = (int)ceil(p->r.adherence_flag * WEEK_DAYS * pl->sessions_per_day - 1e-9);
    int sessions, sets;
    char why[PROG_REASON_MAX];

    if (pl->locked || wall - pl->last_change < PROG_WEEK_S || pl->level >= prog_level_max(p))
        return;
    if (!week_clean(p, from, wall, &sessions, &sets) || sessions < need)
        return;
    if (isfinite(pl->baseline) && mornings_above(p, from, wall, pl->baseline))
        return;
    snprintf(why, sizeof why, "7 days at this band: %d sessions (at least %d), all %d sets in "
             "band >= %.0f%% with pain <= %g, no morning above the baseline: one step up",
             sessions, need, sets, p->r.up_in_band * 100.0, p->r.up_pain_max);
    step(p, +1, wall, why, out);
}

void prog_session_begin(struct prog *p, double wall, int utc_offset_s, struct prog_out *out)
{
    struct prog_session s = {.start = wall};

    out_clear(out);
    (void)utc_offset_s;
    if (p->plan.active)
        judge_step_up(p, wall, out);
    memset(s.pain, -1, sizeof s.pain);
    session_append(p, &s);
}

void prog_set_done(struct prog *p, double in_band_share)
{
    struct prog_session *s = latest_session(p);

    if (!s || s->sets >= PROG_SETS_MAX)
        return;
    s->share[s->sets] = isfinite(in_band_share) ? in_band_share : 0.0;
    s->pain[s->sets] = -1;
    s->sets++;
}

void prog_pain(struct prog *p, double wall, int score, struct prog_out *out)
{
    struct prog_session *s = latest_session(p);
    char why[PROG_REASON_MAX];
    int set;

    out_clear(out);
    if (!s || s->sets == 0)
        return;
    set = s->sets;
    s->pain[set - 1] = (signed char)score;
    if (!p->plan.active || !(score > p->r.pain_stop))
        return;
    out->stop_session = true;
    decide(p, out, PROG_STOP_SESSION, wall, p->plan.level,
           "set %d pain %d/10 is above %g: the session ends after this set", set, score,
           p->r.pain_stop);
    if (s->stepped_down)
        return;
    s->stepped_down = true;
    snprintf(why, sizeof why, "set %d pain %d/10 is above %g: the next session one step down",
             set, score, p->r.pain_stop);
    step(p, -1, wall, why, out);
}

void prog_morning(struct prog *p, double wall, int score, struct prog_out *out)
{
    struct prog_plan *pl = &p->plan;
    char why[PROG_REASON_MAX];

    out_clear(out);
    prog_restore_morning(p, wall, score);
    if (!pl->active)
        return;
    if (!isfinite(pl->baseline)) {
        pl->baseline = score;
        decide(p, out, PROG_BASELINE, wall, pl->level,
               "the first morning score, %d/10, is the baseline", score);
        return;
    }
    if (score < pl->baseline + p->r.morning_rise)
        return;
    snprintf(why, sizeof why, "morning score %d/10 is %g above the baseline %g (%g or more): "
             "one step down and hold", score, score - pl->baseline, pl->baseline,
             p->r.morning_rise);
    step(p, -1, wall, why, out);
}

/* ---- flags, judged when a protocol day begins ----------------------------------------- */

static void judge_adherence(struct prog *p, long day, long k, int off, double wall,
                            struct prog_out *out)
{
    double from = day_wall(p, day - WEEK_DAYS, off), to = day_wall(p, day, off);
    int planned = WEEK_DAYS * p->plan.sessions_per_day;
    int done = prog_sessions_between(p, from, to);

    if (k < WEEK_DAYS || done >= p->r.adherence_flag * planned ||
        wall - p->last_adherence_flag < FLAG_GAP_S)
        return;
    p->last_adherence_flag = wall;
    decide(p, out, PROG_FLAG_ADHERENCE, wall, p->plan.level,
           "%d of %d planned sessions in programme days %ld-%ld (%.0f%%, under %.0f%%)", done,
           planned, k - WEEK_DAYS + 1, k, 100.0 * done / planned, p->r.adherence_flag * 100.0);
}

/* Mean morning score over [from, to); NAN with none. */
static double morning_mean(const struct prog *p, double from, double to)
{
    double sum = 0.0;
    int n = 0;

    for (int i = 0; i < p->m_n; i++) {
        int k = (p->m_head + i) % PROG_KEEP_MORNINGS;

        if (p->m_t[k] >= from && p->m_t[k] < to) {
            sum += p->m_score[k];
            n++;
        }
    }
    return n ? sum / n : NAN;
}

static void judge_morning_trend(struct prog *p, long day, long k, int off, double wall,
                                struct prog_out *out)
{
    double m[3];

    if (k < 3 * WEEK_DAYS || wall - p->last_morning_flag < FLAG_GAP_S)
        return;
    for (int w = 0; w < 3; w++)
        m[w] = morning_mean(p, day_wall(p, day - (3 - w) * WEEK_DAYS, off),
                            day_wall(p, day - (2 - w) * WEEK_DAYS, off));
    if (!(m[0] < m[1] && m[1] < m[2]))
        return;
    p->last_morning_flag = wall;
    decide(p, out, PROG_FLAG_MORNING, wall, p->plan.level,
           "morning scores rose two weeks in a row: weekly means %.1f, %.1f, %.1f up to "
           "programme day %ld", m[0], m[1], m[2], k);
}

void prog_tick(struct prog *p, double wall, int utc_offset_s, struct prog_out *out)
{
    long day = day_of(p, wall, utc_offset_s), k;

    out_clear(out);
    if (day == p->day_seen || !p->plan.active)
        return;
    p->day_seen = day;
    k = day - day_of(p, p->plan.start, utc_offset_s);
    if (k <= 0 || k > (long)p->plan.weeks * WEEK_DAYS)
        return;
    judge_adherence(p, day, k, utc_offset_s, wall, out);
    judge_morning_trend(p, day, k, utc_offset_s, wall, out);
}
