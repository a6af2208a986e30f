/* patient.c - the simulated patient over the twelve weeks (see patient.h). */
#include "sim/patient.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define DAY_S 86400.0
#define PAIN_DELAY_S 8.0        /* s from the end of a set to its pain score */
#define WITHIN_TOLERANCE 0.05   /* a session this little over the tolerance is within it */
#define CHECKINS 16             /* check-ins waiting for eccd's next tick */

struct patient {
    struct athlete_params p;
    uint64_t rng;
    double day0;                /* rig time of UTC midnight of the first day */
    int day;                    /* the day planned now (-1: none yet) */
    double t_next_day;          /* rig time the next day is planned */
    double t_morning, t_session[2];     /* INFINITY: not today, or done */
    int cycles_seen, sessions_seen;
    double pain_due;            /* INFINITY: none waiting */
    int pain_score;
    double session_over;        /* the session's largest overload so far */
    double tolerance, irritation;
    struct patient_checkin_rec q[CHECKINS];
    int q_head, q_n;
    struct patient_stats st;
};

/* ---- its own random stream (splitmix64) ---------------------------------------------- */

static double unit(struct patient *p)
{
    uint64_t z = (p->rng += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static double gauss(struct patient *p)
{
    double u = fmax(unit(p), 1e-300), v = unit(p);

    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static int score_of(double x)
{
    long s = lround(x);

    return s < 0 ? 0 : s > 10 ? 10 : (int)s;
}

/* ---- life cycle ------------------------------------------------------------------------ */

struct patient *patient_open(const struct athlete_params *params, unsigned seed,
                             double wall_start)
{
    struct patient *p;

    if (params->programme_days <= 0 || !(p = calloc(1, sizeof *p)))
        return NULL;
    p->p = *params;
    p->rng = (uint64_t)seed ^ 0x5851F42D4C957F2Dull;
    p->day0 = floor(wall_start / DAY_S) * DAY_S - wall_start;
    p->day = -1;
    p->t_next_day = p->day0;
    p->t_morning = p->t_session[0] = p->t_session[1] = p->pain_due = INFINITY;
    p->tolerance = params->tolerance_n;
    return p;
}

void patient_close(struct patient *p)
{
    free(p);
}

/* ---- the day's plan ----------------------------------------------------------------------- */

static double at_hour(const struct patient *p, double h)
{
    return p->day0 + p->day * DAY_S + h * 3600.0;
}

/* Plan day p->day + 1: skipped whole, or its morning and each session kept by chance. */
static void plan_next_day(struct patient *p, double t)
{
    double hours[2] = {p->p.session1_h, p->p.session2_h};
    bool skip_day;

    p->day++;
    p->t_next_day = p->day0 + (p->day + 1) * DAY_S;
    p->t_morning = p->t_session[0] = p->t_session[1] = INFINITY;
    if (p->day >= p->p.programme_days)
        return;
    p->st.days++;
    skip_day = unit(p) < p->p.skip_day_prob;
    if (!skip_day && at_hour(p, p->p.morning_h) >= t)
        p->t_morning = at_hour(p, p->p.morning_h);
    for (int i = 0; i < 2; i++) {
        double when = at_hour(p, hours[i]);

        if (when < t)
            continue;               /* before the simulation began */
        p->st.sessions_planned++;
        if (skip_day || unit(p) < p->p.skip_prob)
            p->st.sessions_skipped++;
        else
            p->t_session[i] = when;
    }
}

double patient_next_event(const struct patient *p, double t)
{
    double ev = fmin(fmin(p->t_next_day, p->t_morning), fmin(p->t_session[0], p->t_session[1]));

    (void)t;
    return fmin(ev, p->pain_due);
}

/* ---- check-ins ------------------------------------------------------------------------------ */

static void say(struct patient *p, enum patient_checkin kind, int score, double t)
{
    if (p->q_n == CHECKINS)
        return;                     /* eccd takes them every tick: never full */
    p->q[(p->q_head + p->q_n++) % CHECKINS] =
        (struct patient_checkin_rec){.kind = kind, .score = score, .t = t};
    if (kind == PATIENT_PAIN)
        p->st.pains++;
    else
        p->st.mornings++;
}

bool patient_take(struct patient *p, struct patient_checkin_rec *out)
{
    if (p->q_n == 0)
        return false;
    *out = p->q[p->q_head];
    p->q_head = (p->q_head + 1) % CHECKINS;
    p->q_n--;
    return true;
}

static void morning(struct patient *p, double t)
{
    p->irritation *= 1.0 - p->p.irritation_decay;
    say(p, PATIENT_MORNING,
        score_of(p->p.morning_base + p->irritation + p->p.morning_noise * gauss(p)), t);
    p->t_morning = INFINITY;
}

/* A set finished: its pain is said a little later. */
static void set_done(struct patient *p, double t, double load)
{
    double over = load > 0.0 ? fmax(0.0, load / p->tolerance - 1.0) : 0.0;

    p->session_over = fmax(p->session_over, over);
    p->pain_score = score_of(p->p.pain_base + 10.0 * p->p.pain_gain * over +
                             p->p.pain_noise * gauss(p));
    p->pain_due = t + PAIN_DELAY_S;
}

/* A session ended (done, or given up): the tendon answers its load. */
static void session_over(struct patient *p)
{
    double over = p->session_over;

    if (over <= WITHIN_TOLERANCE)
        p->tolerance *= 1.0 + p->p.tolerance_growth;
    else
        p->tolerance *= fmax(0.5, 1.0 - p->p.overload_loss * over);
    if (over > WITHIN_TOLERANCE)
        p->irritation += 10.0 * p->p.irritation_gain * over;
    p->session_over = 0.0;
}

static void come_for_sessions(struct patient *p, double t, struct athlete *a)
{
    for (int i = 0; i < 2; i++) {
        if (t < p->t_session[i])
            continue;
        p->t_session[i] = INFINITY;
        if (!athlete_between_sessions(a))
            continue;               /* still at the last one */
        athlete_session_press(a, t);
        p->st.sessions_come++;
    }
}

void patient_step(struct patient *p, double t, struct athlete *a)
{
    while (t >= p->t_next_day)
        plan_next_day(p, t);
    if (t >= p->t_morning)
        morning(p, t);
    come_for_sessions(p, t, a);
    if (athlete_cycles(a) != p->cycles_seen) {
        p->cycles_seen = athlete_cycles(a);
        set_done(p, t, athlete_last_set_peak(a));
    }
    if (t >= p->pain_due) {
        say(p, PATIENT_PAIN, p->pain_score, t);
        p->pain_due = INFINITY;
    }
    if (athlete_sessions_over(a) != p->sessions_seen) {
        p->sessions_seen = athlete_sessions_over(a);
        session_over(p);
    }
}

void patient_stats(const struct patient *p, struct patient_stats *st)
{
    *st = p->st;
    st->tolerance_n = p->tolerance;
    st->irritation = p->irritation;
}
