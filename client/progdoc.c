/* progdoc.c - eccd's report document read and checked (see progdoc.h; the contract is in
 * docs/report.md).
 */
#include "client/progdoc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_S 86400.0
#define WEEK_S (7.0 * DAY_S)

/* ---- reading, field by field ---------------------------------------------------------- */

struct reader {                  /* the first problem found, by its path */
    char *err;
    size_t errlen;
};

static int fail(struct reader *r, const char *path, const char *key, const char *what)
{
    const char *dot = *path && *key ? "." : "";

    if (r->errlen)
        snprintf(r->err, r->errlen, "%s%s%s: %s", path, dot, key, what);
    return -1;
}

static int check_range(struct reader *r, const char *path, const char *key, double v, double lo,
                       double hi)
{
    char what[96];

    if (v >= lo && v <= hi)
        return 0;
    snprintf(what, sizeof what, "%.10g is outside %.10g..%.10g", v, lo, hi);
    return fail(r, path, key, what);
}

static int need_num(struct reader *r, const json_t *o, const char *path, const char *key,
                    double lo, double hi, double *v)
{
    const json_t *j = json_object_get(o, key);

    if (!j)
        return fail(r, path, key, "missing");
    if (!json_is_number(j))
        return fail(r, path, key, "not a number");
    *v = json_number_value(j);
    return check_range(r, path, key, *v, lo, hi);
}

/* A number that may be null or left out: NaN then. */
static int opt_num(struct reader *r, const json_t *o, const char *path, const char *key,
                   double lo, double hi, double *v)
{
    const json_t *j = json_object_get(o, key);

    *v = NAN;
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_number(j))
        return fail(r, path, key, "not a number or null");
    *v = json_number_value(j);
    return check_range(r, path, key, *v, lo, hi);
}

/* An integer, also written as a real with no fraction (15.0). */
static int need_int(struct reader *r, const json_t *o, const char *path, const char *key,
                    long long lo, long long hi, long long *v)
{
    const json_t *j = json_object_get(o, key);
    double d;

    if (!j)
        return fail(r, path, key, "missing");
    d = json_is_number(j) ? json_number_value(j) : NAN;
    if (d != floor(d))
        return fail(r, path, key, "not an integer");
    if (check_range(r, path, key, d, (double)lo, (double)hi))
        return -1;
    *v = (long long)d;
    return 0;
}

static int need_str(struct reader *r, const json_t *o, const char *path, const char *key,
                    const char **s)
{
    const json_t *j = json_object_get(o, key);

    if (!j)
        return fail(r, path, key, "missing");
    if (!json_is_string(j))
        return fail(r, path, key, "not a string");
    *s = json_string_value(j);
    return 0;
}

static int opt_str(struct reader *r, const json_t *o, const char *path, const char *key,
                   const char **s)
{
    const json_t *j = json_object_get(o, key);

    *s = NULL;
    if (!j || json_is_null(j))
        return 0;
    return need_str(r, o, path, key, s);
}

static int need_bool(struct reader *r, const json_t *o, const char *path, const char *key,
                     bool *b)
{
    const json_t *j = json_object_get(o, key);

    if (!j)
        return fail(r, path, key, "missing");
    if (!json_is_boolean(j))
        return fail(r, path, key, "not true or false");
    *b = json_is_true(j);
    return 0;
}

static int need_obj(struct reader *r, const json_t *o, const char *path, const char *key,
                    const json_t **v)
{
    *v = json_object_get(o, key);
    if (!*v)
        return fail(r, path, key, "missing");
    return json_is_object(*v) ? 0 : fail(r, path, key, "not an object");
}

static int need_arr(struct reader *r, const json_t *o, const char *path, const char *key,
                    const json_t **v)
{
    *v = json_object_get(o, key);
    if (!*v)
        return fail(r, path, key, "missing");
    return json_is_array(*v) ? 0 : fail(r, path, key, "not an array");
}

/* A band low..high in newtons, checked as a pair (either may be optional). */
static int read_band(struct reader *r, const json_t *o, const char *path, bool optional,
                     double *low, double *high)
{
    int (*get)(struct reader *, const json_t *, const char *, const char *, double, double,
               double *) = optional ? opt_num : need_num;

    if (get(r, o, path, "band_low", 0.0, 1e5, low) || get(r, o, path, "band_high", 0.0, 1e5, high))
        return -1;
    if (isnan(*low) != isnan(*high))
        return fail(r, path, isnan(*low) ? "band_low" : "band_high",
                    "null while the other is not");
    return *high < *low ? fail(r, path, "band_high", "below band_low") : 0;
}

static void *alloc_items(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

static int read_version(struct reader *r, const json_t *doc)
{
    long long v;
    char what[96];

    if (need_int(r, doc, "", "report", 0, 1000000, &v))
        return -1;
    if (v == 1)
        return 0;
    snprintf(what, sizeof what, "version %lld is not known here (this renderer reads 1)", v);
    return fail(r, "", "report", what);
}

static int read_patient(struct reader *r, const json_t *doc, struct progdoc *d)
{
    const json_t *p;
    long long id = -1;

    if (need_obj(r, doc, "", "patient", &p) || need_str(r, p, "patient", "name", &d->name))
        return -1;
    if (json_object_get(p, "id") && !json_is_null(json_object_get(p, "id")) &&
        need_int(r, p, "patient", "id", 0, 1LL << 53, &id))
        return -1;
    d->patient_id = id;
    return 0;
}

static int read_programme(struct reader *r, const json_t *doc, struct prog_programme *p)
{
    const char *at = "programme";
    const json_t *o;

    if (need_obj(r, doc, "", at, &o) || need_num(r, o, at, "start", 0.0, 1e11, &p->start) ||
        need_int(r, o, at, "weeks", 1, PROG_MAX_WEEKS, &p->weeks) ||
        need_int(r, o, at, "sessions_per_day", 1, 12, &p->per_day) ||
        need_int(r, o, at, "sets", 1, 50, &p->sets) ||
        need_int(r, o, at, "reps", 1, 500, &p->reps) ||
        read_band(r, o, at, false, &p->band_low, &p->band_high) ||
        need_num(r, o, at, "step_share", 0.0, 1.0, &p->step_share) ||
        need_num(r, o, at, "floor_n", 0.0, 1e5, &p->floor_n) ||
        need_num(r, o, at, "ceiling_n", 0.0, 1e5, &p->ceiling_n) ||
        need_bool(r, o, at, "locked", &p->locked) ||
        need_int(r, o, at, "level", -1000, 1000, &p->level) ||
        need_num(r, o, at, "cur_low", 0.0, 1e5, &p->cur_low) ||
        need_num(r, o, at, "cur_high", 0.0, 1e5, &p->cur_high) ||
        opt_num(r, o, at, "baseline_morning", 0.0, 10.0, &p->baseline) ||
        need_int(r, o, at, "utc_offset_s", -14 * 3600, 14 * 3600, &p->utc_offset_s) ||
        need_int(r, o, at, "day_start_h", 0, 23, &p->day_start_h))
        return -1;
    return p->cur_high < p->cur_low ? fail(r, at, "cur_high", "below cur_low") : 0;
}

static int read_thresholds(struct reader *r, const json_t *doc, struct prog_thresholds *t)
{
    const char *at = "thresholds";
    const json_t *o;

    if (need_obj(r, doc, "", at, &o) ||
        need_num(r, o, at, "pain_stop", 0.0, 10.0, &t->pain_stop) ||
        need_num(r, o, at, "morning_rise", 0.0, 10.0, &t->morning_rise) ||
        need_num(r, o, at, "up_in_band", 0.0, 1.0, &t->up_in_band) ||
        need_num(r, o, at, "up_pain_max", 0.0, 10.0, &t->up_pain_max) ||
        need_num(r, o, at, "adherence_flag", 0.0, 1.0, &t->adherence_flag))
        return -1;
    return 0;
}

/* The highest pain of a session's sets (left out: NaN) into *pain. */
static int read_sets_pain(struct reader *r, const json_t *s, const char *at, double *pain)
{
    const json_t *sets = json_object_get(s, "sets"), *set;
    char path[96];
    size_t i;
    double v;

    if (!sets || json_is_null(sets))
        return 0;
    if (!json_is_array(sets))
        return fail(r, at, "sets", "not an array");
    json_array_foreach(sets, i, set) {
        snprintf(path, sizeof path, "%s.sets[%zu]", at, i);
        if (!json_is_object(set))
            return fail(r, path, "", "not an object");
        if (opt_num(r, set, path, "pain", 0.0, 10.0, &v))
            return -1;
        *pain = fmax(*pain, v);             /* fmax passes over a NaN */
    }
    return 0;
}

static int read_session(struct reader *r, const json_t *s, const char *at,
                        struct prog_session *out)
{
    const char *status;
    double max_pain;

    if (!json_is_object(s))
        return fail(r, at, "", "not an object");
    if (need_num(r, s, at, "started", 0.0, 1e11, &out->t) ||
        need_str(r, s, at, "status", &status) ||
        read_band(r, s, at, false, &out->band_low, &out->band_high) ||
        opt_num(r, s, at, "mean_n", 0.0, 1e5, &out->mean_n) ||
        opt_num(r, s, at, "in_band_share", 0.0, 1.0, &out->in_band) ||
        need_int(r, s, at, "reps", 0, 1000000, &out->reps) ||
        need_int(r, s, at, "rejects", 0, 1000000, &out->rejects) ||
        opt_num(r, s, at, "max_pain", 0.0, 10.0, &max_pain))
        return -1;
    out->pain = max_pain;
    out->done = strcmp(status, "done") == 0;
    return read_sets_pain(r, s, at, &out->pain);
}

static int read_sessions(struct reader *r, const json_t *doc, struct progdoc *d)
{
    const json_t *arr, *s;
    char at[48];
    size_t i;

    if (need_arr(r, doc, "", "sessions", &arr))
        return -1;
    d->sessions = alloc_items(json_array_size(arr), sizeof *d->sessions);
    if (!d->sessions)
        return fail(r, "", "sessions", "out of memory");
    json_array_foreach(arr, i, s) {
        snprintf(at, sizeof at, "sessions[%zu]", i);
        if (read_session(r, s, at, &d->sessions[d->n_sessions++]))
            return -1;
    }
    return 0;
}

/* Morning scores and questionnaires are kept; other kinds of check-in are passed over. */
static int read_checkin(struct reader *r, const json_t *c, const char *at, struct progdoc *d)
{
    const char *kind;
    struct prog_checkin in = {.instrument = NULL};

    if (!json_is_object(c))
        return fail(r, at, "", "not an object");
    if (need_num(r, c, at, "t", 0.0, 1e11, &in.t) || need_str(r, c, at, "kind", &kind))
        return -1;
    if (strcmp(kind, "morning") == 0) {
        if (need_num(r, c, at, "score", 0.0, 10.0, &in.score))
            return -1;
        d->mornings[d->n_mornings++] = in;
    } else if (strcmp(kind, "questionnaire") == 0) {
        if (need_str(r, c, at, "instrument", &in.instrument) ||
            need_num(r, c, at, "score", 0.0, 100.0, &in.score))
            return -1;
        d->scores[d->n_scores++] = in;
    }
    return 0;
}

static int read_checkins(struct reader *r, const json_t *doc, struct progdoc *d)
{
    const json_t *arr, *c;
    char at[48];
    size_t i;

    if (need_arr(r, doc, "", "checkins", &arr))
        return -1;
    d->mornings = alloc_items(json_array_size(arr), sizeof *d->mornings);
    d->scores = alloc_items(json_array_size(arr), sizeof *d->scores);
    if (!d->mornings || !d->scores)
        return fail(r, "", "checkins", "out of memory");
    json_array_foreach(arr, i, c) {
        snprintf(at, sizeof at, "checkins[%zu]", i);
        if (read_checkin(r, c, at, d))
            return -1;
    }
    return 0;
}

static int read_step(struct reader *r, const json_t *s, const char *at, struct prog_step *out)
{
    if (!json_is_object(s))
        return fail(r, at, "", "not an object");
    if (need_num(r, s, at, "t", 0.0, 1e11, &out->t) || need_str(r, s, at, "kind", &out->kind) ||
        opt_str(r, s, at, "reason", &out->reason) ||
        opt_num(r, s, at, "level_from", -1000.0, 1000.0, &out->level_from) ||
        opt_num(r, s, at, "level_to", -1000.0, 1000.0, &out->level_to) ||
        read_band(r, s, at, true, &out->band_low, &out->band_high))
        return -1;
    return 0;
}

static int read_steps(struct reader *r, const json_t *doc, struct progdoc *d)
{
    const json_t *arr, *s;
    char at[48];
    size_t i;

    if (need_arr(r, doc, "", "progression", &arr))
        return -1;
    d->steps = alloc_items(json_array_size(arr), sizeof *d->steps);
    if (!d->steps)
        return fail(r, "", "progression", "out of memory");
    json_array_foreach(arr, i, s) {
        snprintf(at, sizeof at, "progression[%zu]", i);
        d->steps[d->n_steps].seq = i;
        if (read_step(r, s, at, &d->steps[d->n_steps++]))
            return -1;
    }
    return 0;
}

static const struct {
    const char *name, *words;
} reject_words[] = {
    {"too_short", "too short"},
    {"too_little_travel", "too little travel"},
    {"out_of_band", "out of band"},
    {"above_band_at_min_speed", "too hard at the slowest speed"},
    {"below_band_at_max_speed", "too light at the fastest speed"},
    {"aborted", "aborted"},
};

#define N_REJECT_WORDS (sizeof reject_words / sizeof reject_words[0])

/* A reason eccd may add later reads as its name with spaces. */
static void reason_words(struct prog_reject *rj, const char *name, size_t seq)
{
    for (size_t k = 0; k < N_REJECT_WORDS; k++)
        if (strcmp(name, reject_words[k].name) == 0) {
            snprintf(rj->words, sizeof rj->words, "%s", reject_words[k].words);
            rj->rank = k;
            return;
        }
    snprintf(rj->words, sizeof rj->words, "%s", name);
    for (char *c = rj->words; *c; c++)
        *c = *c == '_' ? ' ' : *c;
    rj->rank = N_REJECT_WORDS + seq;
}

static int read_rejects(struct reader *r, const json_t *doc, struct progdoc *d)
{
    const json_t *obj, *v;
    const char *name;

    if (need_obj(r, doc, "", "rejects_by_reason", &obj))
        return -1;
    d->rejects = alloc_items(json_object_size(obj), sizeof *d->rejects);
    if (!d->rejects)
        return fail(r, "", "rejects_by_reason", "out of memory");
    json_object_foreach((json_t *)obj, name, v) {
        struct prog_reject *rj = &d->rejects[d->n_rejects];
        (void)v;
        if (need_int(r, obj, "rejects_by_reason", name, 0, 1000000000, &rj->count))
            return -1;
        reason_words(rj, name, d->n_rejects++);
    }
    return 0;
}

/* ---- order and columns ---------------------------------------------------------------- */

/* Sessions and check-ins start with their time t. */
static int by_time(const void *a, const void *b)
{
    double ta = *(const double *)a, tb = *(const double *)b;

    return (ta > tb) - (ta < tb);
}

static int steps_by_time(const void *a, const void *b)
{
    const struct prog_step *x = a, *y = b;
    int c = by_time(&x->t, &y->t);

    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int scores_by_instrument(const void *a, const void *b)
{
    const struct prog_checkin *x = a, *y = b;
    int c = strcmp(x->instrument, y->instrument);

    return c ? c : by_time(&x->t, &y->t);
}

static int rejects_by_rank(const void *a, const void *b)
{
    const struct prog_reject *x = a, *y = b;

    return (x->rank > y->rank) - (x->rank < y->rank);
}

static void sort_doc(struct progdoc *d)
{
    qsort(d->sessions, d->n_sessions, sizeof *d->sessions, by_time);
    qsort(d->mornings, d->n_mornings, sizeof *d->mornings, by_time);
    qsort(d->scores, d->n_scores, sizeof *d->scores, scores_by_instrument);
    qsort(d->steps, d->n_steps, sizeof *d->steps, steps_by_time);
    qsort(d->rejects, d->n_rejects, sizeof *d->rejects, rejects_by_rank);
}

double progdoc_weeks(const struct progdoc *d, double t)
{
    return (t - d->p.start) / WEEK_S;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void add_band_point(struct prog_columns *c, double x, double low, double high)
{
    c->ax[c->an] = x;
    c->alow[c->an] = low;
    c->ahigh[c->an] = high;
    c->an++;
}

/* The band from the start: the starting band, then each session's band from its start,
 * then any change recorded after the last session, up to now. None before a session. */
static void band_steps(struct progdoc *d)
{
    struct prog_columns *c = &d->c;
    double last = d->p.start;

    if (d->n_sessions == 0)
        return;
    add_band_point(c, 0.0, d->p.band_low, d->p.band_high);
    for (size_t i = 0; i < d->n_sessions; i++) {
        const struct prog_session *s = &d->sessions[i];
        add_band_point(c, progdoc_weeks(d, s->t), s->band_low, s->band_high);
        last = s->t;
    }
    for (size_t i = 0; i < d->n_steps; i++) {
        const struct prog_step *st = &d->steps[i];
        if (st->t > last && !isnan(st->band_low))
            add_band_point(c, progdoc_weeks(d, st->t), st->band_low, st->band_high);
    }
    c->a_end = clamp(fmax(progdoc_weeks(d, d->generated), c->ax[c->an - 1]), 0.0,
                     (double)d->p.weeks);
}

static void session_columns(struct progdoc *d)
{
    struct prog_columns *c = &d->c;

    for (size_t i = 0; i < d->n_sessions; i++) {
        const struct prog_session *s = &d->sessions[i];
        c->sx[i] = progdoc_weeks(d, s->t);
        c->mean[i] = s->mean_n;
        c->in_band[i] = 100.0 * s->in_band;
        c->pain[i] = s->pain;
    }
    for (size_t i = 0; i < d->n_mornings; i++) {
        c->mx[i] = progdoc_weeks(d, d->mornings[i].t);
        c->mscore[i] = d->mornings[i].score;
    }
    for (size_t i = 0; i < d->n_scores; i++) {
        c->qx[i] = progdoc_weeks(d, d->scores[i].t);
        c->qscore[i] = d->scores[i].score;
    }
}

static void reject_columns(struct progdoc *d)
{
    struct prog_columns *c = &d->c;

    for (size_t i = 0; i < d->n_rejects; i++) {
        c->rwords[i] = d->rejects[i].words;
        c->rcount[i] = d->rejects[i].count;
        c->rtotal += d->rejects[i].count;
    }
}

static int build_columns(struct reader *r, struct progdoc *d)
{
    struct prog_columns *c = &d->c;
    size_t ns = d->n_sessions, na = 1 + ns + d->n_steps;
    double **cols[] = {&c->sx, &c->mean, &c->in_band, &c->pain, &c->ax, &c->alow, &c->ahigh,
                       &c->mx, &c->mscore, &c->qx, &c->qscore};
    size_t len[] = {ns, ns, ns, ns, na, na, na, d->n_mornings, d->n_mornings, d->n_scores,
                    d->n_scores};

    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if (!(*cols[i] = alloc_items(len[i], sizeof(double))))
            return fail(r, "", "report", "out of memory");
    c->rwords = alloc_items(d->n_rejects, sizeof *c->rwords);
    c->rcount = alloc_items(d->n_rejects, sizeof *c->rcount);
    if (!c->rwords || !c->rcount)
        return fail(r, "", "report", "out of memory");
    session_columns(d);
    band_steps(d);
    reject_columns(d);
    return 0;
}

void progdoc_free(struct progdoc *d)
{
    struct prog_columns *c = &d->c;
    double *cols[] = {c->sx, c->mean, c->in_band, c->pain, c->ax, c->alow, c->ahigh,
                      c->mx, c->mscore, c->qx, c->qscore};

    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        free(cols[i]);
    free(c->rwords);
    free(c->rcount);
    free(d->sessions);
    free(d->mornings);
    free(d->scores);
    free(d->steps);
    free(d->rejects);
}

int progdoc_read(struct progdoc *d, const json_t *j, char *err, size_t errlen)
{
    struct reader rd = {.err = err, .errlen = errlen}, *r = &rd;

    memset(d, 0, sizeof *d);
    d->patient_id = -1;
    if (!json_is_object(j))
        return fail(r, "", "document", "not a JSON object");
    if (read_version(r, j) || need_num(r, j, "", "generated", 0.0, 1e11, &d->generated) ||
        read_patient(r, j, d) || read_programme(r, j, &d->p) ||
        read_thresholds(r, j, &d->th) || read_sessions(r, j, d) || read_checkins(r, j, d) ||
        read_steps(r, j, d) || read_rejects(r, j, d))
        return -1;
    sort_doc(d);
    return build_columns(r, d);
}

/* ---- time ----------------------------------------------------------------------------- */

/* Days as the protocol counts them: they begin at day_start_h local time. */
static long long protocol_day(const struct prog_programme *p, double t)
{
    double local = t + (double)p->utc_offset_s - 3600.0 * (double)p->day_start_h;

    return (long long)floor(local / DAY_S);
}

long long progdoc_day(const struct progdoc *d, double t)
{
    return protocol_day(&d->p, t) - protocol_day(&d->p, d->p.start);
}

/* A day after midnight but before day_start_h still has the date before. */
void progdoc_date(char *buf, size_t len, const struct progdoc *d, long long day)
{
    time_t s = (time_t)((protocol_day(&d->p, d->p.start) + day) * 86400LL);
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
}

int progdoc_weekday(const struct progdoc *d, long long day)
{
    long long epoch_day = protocol_day(&d->p, d->p.start) + day;

    return (int)(((epoch_day + 4) % 7 + 7) % 7);    /* 1970-01-01 was a Thursday */
}

void progdoc_time(char *buf, size_t len, const struct progdoc *d, double t, bool with_time)
{
    time_t s = (time_t)floor(t + (double)d->p.utc_offset_s);
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(buf, len, with_time ? "%Y-%m-%d %H:%M" : "%Y-%m-%d", &tm);
}

/* ---- what the days add up to ---------------------------------------------------------- */

void progdoc_count_days(const struct progdoc *d, struct prog_days *days)
{
    memset(days, 0, sizeof *days);
    days->n = 7 * d->p.weeks;
    days->today = progdoc_day(d, d->generated);
    for (size_t i = 0; i < d->n_sessions; i++) {
        long long day = progdoc_day(d, d->sessions[i].t);
        if (d->sessions[i].done && day >= 0 && day < days->n)
            days->done[day]++;
    }
}

static void count_planned(const struct progdoc *d, const struct prog_days *days,
                          struct prog_tally *t)
{
    long long last = days->today < days->n ? days->today : days->n - 1;

    for (long long day = 0; day <= last; day++) {
        long long done = days->done[day] < d->p.per_day ? days->done[day] : d->p.per_day;
        t->done += done;
        t->planned += day < days->today ? d->p.per_day : done;
    }
}

struct prog_tally progdoc_tally(const struct progdoc *d, const struct prog_days *days)
{
    struct prog_tally t = {0};

    count_planned(d, days, &t);
    for (size_t i = 0; i < d->n_steps; i++) {
        const char *k = d->steps[i].kind;
        t.ups += strcmp(k, "up") == 0;
        t.downs += strcmp(k, "down") == 0;
        t.flags += strncmp(k, "flag_", 5) == 0;
        t.stops += strcmp(k, "stop_session") == 0;
    }
    for (size_t i = 0; i < d->n_sessions; i++) {
        t.reps += d->sessions[i].reps;
        t.rejects += d->sessions[i].rejects;
    }
    return t;
}
