/* store_programme.c - the twelve weeks in the history (see store.h): a patient's
 * programme, the check-ins, what the progression rules need handed back after a restart,
 * and the clinician's report as one JSON document (docs/report.md).
 *
 * Reads use the read connection behind rmu (statements prepared per call: these are
 * rare); writes run on the writer thread as JOB_CALL jobs inside its transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "daemon/store_impl.h"
#include "util/log.h"

#define RESTORE_SESSION_DAYS 14     /* the step-up week, and the adherence week, and margin */
#define RESTORE_MORNING_DAYS 28     /* the three weeks of the morning trend, and margin */

/* ---- small read helpers ---------------------------------------------------------------- */

static sqlite3_stmt *rprep(struct store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(s->rdb, sql, -1, &st, NULL) != SQLITE_OK) {
        log_warn("%s: %s", s->path, sqlite3_errmsg(s->rdb));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL: return json_null();
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, i));
    default: return json_string((const char *)sqlite3_column_text(st, i));
    }
}

/* Every row of sql (bound: ?1 = patient) as an object keyed by the column names. */
static json_t *rows_json(struct store *s, const char *sql, long patient)
{
    sqlite3_stmt *st = rprep(s, sql);
    json_t *arr = json_array();
    int rc;

    if (!st) {
        json_decref(arr);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, patient);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();

        for (int i = 0; i < sqlite3_column_count(st); i++)
            json_object_set_new(o, sqlite3_column_name(st, i), col_json(st, i));
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- the programme ------------------------------------------------------------------------ */

#define PROGRAMME_COLS "start, weeks, sessions_per_day, sets, reps, band_low, band_high," \
                       " step_share, floor_n, ceiling_n, locked, baseline, level, last_change," \
                       " updated"

static void programme_from_row(sqlite3_stmt *st, long patient, struct store_programme *p)
{
    struct prog_plan *pl = &p->plan;

    memset(p, 0, sizeof *p);
    p->patient = patient;
    pl->active = true;
    pl->start = sqlite3_column_double(st, 0);
    pl->weeks = sqlite3_column_int(st, 1);
    pl->sessions_per_day = sqlite3_column_int(st, 2);
    p->sets = sqlite3_column_int(st, 3);
    p->reps = sqlite3_column_int(st, 4);
    pl->band_low = sqlite3_column_double(st, 5);
    pl->band_high = sqlite3_column_double(st, 6);
    pl->step_share = sqlite3_column_double(st, 7);
    pl->floor_n = sqlite3_column_double(st, 8);
    pl->ceiling_n = sqlite3_column_double(st, 9);
    pl->locked = sqlite3_column_int(st, 10) != 0;
    pl->baseline = col_real(st, 11);
    pl->level = sqlite3_column_int(st, 12);
    pl->last_change = col_real(st, 13);
    if (!isfinite(pl->last_change))
        pl->last_change = 0.0;
    p->updated = sqlite3_column_double(st, 14);
}

int store_programme_get(struct store *s, long patient, struct store_programme *out)
{
    sqlite3_stmt *st;
    int rc = -1, err = EIO;

    pthread_mutex_lock(&s->rmu);
    st = rprep(s, "SELECT " PROGRAMME_COLS " FROM programmes WHERE patient_id = ?1");
    if (st) {
        sqlite3_bind_int64(st, 1, patient);
        if (sqlite3_step(st) == SQLITE_ROW) {
            programme_from_row(st, patient, out);
            rc = 0;
        } else {
            err = ENOENT;
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->rmu);
    if (rc != 0)
        errno = err;
    return rc;
}

struct put_arg {
    const struct store_programme *p;
    const char *kind, *reason;
    double band_low, band_high;
};

static int exec_bound(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    return sqlite3_prepare_v2(db, sql, -1, out, NULL) == SQLITE_OK ? 0 : EIO;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : EIO;
}

static int programme_upsert(sqlite3 *db, const struct store_programme *p)
{
    const struct prog_plan *pl = &p->plan;
    sqlite3_stmt *st;

    if (exec_bound(db, "INSERT INTO programmes(patient_id, " PROGRAMME_COLS ")"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                   " ON CONFLICT (patient_id) DO UPDATE SET start = excluded.start,"
                   " weeks = excluded.weeks, sessions_per_day = excluded.sessions_per_day,"
                   " sets = excluded.sets, reps = excluded.reps, band_low = excluded.band_low,"
                   " band_high = excluded.band_high, step_share = excluded.step_share,"
                   " floor_n = excluded.floor_n, ceiling_n = excluded.ceiling_n,"
                   " locked = excluded.locked, baseline = excluded.baseline,"
                   " level = excluded.level, last_change = excluded.last_change,"
                   " updated = excluded.updated", &st) != 0)
        return EIO;
    sqlite3_bind_int64(st, 1, p->patient);
    bind_real(st, 2, pl->start);
    sqlite3_bind_int(st, 3, pl->weeks);
    sqlite3_bind_int(st, 4, pl->sessions_per_day);
    sqlite3_bind_int(st, 5, p->sets);
    sqlite3_bind_int(st, 6, p->reps);
    bind_real(st, 7, pl->band_low);
    bind_real(st, 8, pl->band_high);
    bind_real(st, 9, pl->step_share);
    bind_real(st, 10, pl->floor_n);
    bind_real(st, 11, pl->ceiling_n);
    sqlite3_bind_int(st, 12, pl->locked);
    bind_real(st, 13, pl->baseline);
    sqlite3_bind_int(st, 14, pl->level);
    bind_real(st, 15, pl->last_change > 0.0 ? pl->last_change : NAN);
    bind_real(st, 16, p->updated);
    return step_done(st);
}

static int put_call(struct store *s, sqlite3 *db, void *arg)
{
    const struct put_arg *a = arg;
    const struct store_programme *p = a->p;
    sqlite3_stmt *st;
    int err;

    (void)s;
    if ((err = programme_upsert(db, p)) != 0)
        return err;
    if (exec_bound(db, "UPDATE patients SET force_low = ?2, force_high = ?3 WHERE id = ?1",
                   &st) != 0)
        return EIO;
    sqlite3_bind_int64(st, 1, p->patient);
    bind_real(st, 2, a->band_low);
    bind_real(st, 3, a->band_high);
    if ((err = step_done(st)) != 0)
        return err;
    if (exec_bound(db, "INSERT INTO progression(patient_id, t, kind, level_from, level_to,"
                   " band_low, band_high, reason) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
                   &st) != 0)
        return EIO;
    sqlite3_bind_int64(st, 1, p->patient);
    bind_real(st, 2, p->updated);
    bind_text(st, 3, a->kind);
    sqlite3_bind_int(st, 4, p->plan.level);
    bind_real(st, 5, a->band_low);
    bind_real(st, 6, a->band_high);
    bind_text(st, 7, a->reason);
    return step_done(st);
}

int store_programme_put(struct store *s, const struct store_programme *p, const char *kind,
                        const char *reason, double band_low, double band_high)
{
    struct put_arg a = {.p = p, .kind = kind, .reason = reason, .band_low = band_low,
                        .band_high = band_high};
    struct job j = {.kind = JOB_CALL, .fn = put_call, .arg = &a};

    return store_job_submit(s, &j);
}

struct rename_arg {
    long id;
    const char *name;
};

static int rename_call(struct store *s, sqlite3 *db, void *arg)
{
    const struct rename_arg *a = arg;
    sqlite3_stmt *st;
    int rc;

    (void)s;
    if (exec_bound(db, "UPDATE patients SET name = ?2 WHERE id = ?1", &st) != 0)
        return EIO;
    sqlite3_bind_int64(st, 1, a->id);
    bind_text(st, 2, a->name);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        return EEXIST;
    if (rc != SQLITE_DONE)
        return EIO;
    return sqlite3_changes(db) == 1 ? 0 : ENOENT;
}

int store_patient_rename(struct store *s, long id, const char *name)
{
    struct rename_arg a = {.id = id, .name = name};
    struct job j = {.kind = JOB_CALL, .fn = rename_call, .arg = &a};
    size_t n = strnlen(name, STORE_NAME_MAX);

    if (n == 0 || n >= STORE_NAME_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (store_job_submit(s, &j) == 0)
        return 0;
    errno = j.err ? j.err : EIO;
    return -1;
}

struct checkin_arg {
    long patient;
    double wall, score;
    const char *kind, *instrument;
};

static int checkin_call(struct store *s, sqlite3 *db, void *arg)
{
    const struct checkin_arg *a = arg;
    sqlite3_stmt *st;

    (void)s;
    if (exec_bound(db, "INSERT INTO checkins(patient_id, t, kind, score, instrument)"
                   " VALUES (?1, ?2, ?3, ?4, ?5)", &st) != 0)
        return EIO;
    sqlite3_bind_int64(st, 1, a->patient);
    bind_real(st, 2, a->wall);
    bind_text(st, 3, a->kind);
    bind_real(st, 4, a->score);
    bind_text(st, 5, a->instrument);
    return step_done(st);
}

int store_questionnaire_add(struct store *s, long patient, double wall, double score,
                            const char *instrument)
{
    struct checkin_arg a = {.patient = patient, .wall = wall, .score = score,
                            .kind = "questionnaire", .instrument = instrument};
    struct job j = {.kind = JOB_CALL, .fn = checkin_call, .arg = &a};

    return store_job_submit(s, &j);
}

/* ---- handing the rules their recent past ------------------------------------------------ */

static int restore_sessions(struct store *s, long patient, double since, struct prog *p)
{
    sqlite3_stmt *st = rprep(s, "SELECT s.id, s.started, st.n, st.in_band_share, st.pain"
                             " FROM sessions s LEFT JOIN sets st ON st.session_id = s.id"
                             " AND st.ended IS NOT NULL WHERE s.patient_id = ?1"
                             " AND s.started >= ?2 ORDER BY s.started, s.id, st.n");
    struct prog_session cur;
    long cur_id = 0;
    int rc;

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, patient);
    sqlite3_bind_double(st, 2, since);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long id = (long)sqlite3_column_int64(st, 0);

        if (id != cur_id) {
            if (cur_id)
                prog_restore_session(p, &cur);
            memset(&cur, 0, sizeof cur);
            memset(cur.pain, -1, sizeof cur.pain);
            cur.start = sqlite3_column_double(st, 1);
            cur_id = id;
        }
        if (sqlite3_column_type(st, 2) != SQLITE_NULL && cur.sets < PROG_SETS_MAX) {
            cur.share[cur.sets] = col_real(st, 3);
            cur.pain[cur.sets] = (signed char)col_int(st, 4, -1);
            cur.stepped_down = cur.stepped_down || cur.pain[cur.sets] > p->r.pain_stop;
            cur.sets++;
        }
    }
    if (cur_id)
        prog_restore_session(p, &cur);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int restore_mornings_and_flags(struct store *s, long patient, double since,
                                      struct prog *p)
{
    sqlite3_stmt *st = rprep(s, "SELECT 0, t, score FROM checkins WHERE patient_id = ?1"
                             " AND kind = 'morning' AND t >= ?2 UNION ALL"
                             " SELECT CASE kind WHEN 'flag_morning' THEN 1 ELSE 2 END, max(t), 0"
                             " FROM progression WHERE patient_id = ?1 AND kind IN"
                             " ('flag_morning', 'flag_adherence') GROUP BY kind ORDER BY 2");
    int rc;

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, patient);
    sqlite3_bind_double(st, 2, since);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int what = sqlite3_column_int(st, 0);
        double t = sqlite3_column_double(st, 1);

        if (what == 0)
            prog_restore_morning(p, t, sqlite3_column_int(st, 2));
        else
            prog_restore_flag(p, what == 1 ? PROG_FLAG_MORNING : PROG_FLAG_ADHERENCE, t);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_programme_restore(struct store *s, long patient, double wall, struct prog *p)
{
    int rc;

    pthread_mutex_lock(&s->rmu);
    rc = restore_sessions(s, patient, wall - RESTORE_SESSION_DAYS * 86400.0, p);
    if (rc == 0)
        rc = restore_mornings_and_flags(s, patient, wall - RESTORE_MORNING_DAYS * 86400.0, p);
    pthread_mutex_unlock(&s->rmu);
    if (rc != 0)
        errno = EIO;
    return rc;
}

/* ---- the report's document ---------------------------------------------------------------- */

static const char SQL_SESSIONS[] =
    "SELECT s.id, s.started, s.ended, s.status, s.band_low, s.band_high,"
    " (SELECT avg(r.mean_n) FROM reps r JOIN sets st ON st.id = r.set_id"
    "  WHERE st.session_id = s.id) AS mean_n,"
    " (SELECT avg(st.in_band_share) FROM sets st WHERE st.session_id = s.id"
    "  AND st.ended IS NOT NULL) AS in_band_share,"
    " (SELECT coalesce(sum(st.counted), 0) FROM sets st WHERE st.session_id = s.id) AS reps,"
    " (SELECT coalesce(sum(st.rejected), 0) FROM sets st WHERE st.session_id = s.id) AS rejects,"
    " (SELECT max(st.pain) FROM sets st WHERE st.session_id = s.id) AS max_pain"
    " FROM sessions s WHERE s.patient_id = ?1 ORDER BY s.started, s.id";
static const char SQL_SETS[] =
    "SELECT st.session_id, st.n, st.pain, st.in_band_share, st.counted, st.rejected"
    " FROM sets st JOIN sessions s ON s.id = st.session_id WHERE s.patient_id = ?1"
    " ORDER BY s.started, s.id, st.n";     /* the sessions' order: walked side by side */
static const char SQL_CHECKINS[] =
    "SELECT t, kind, score, instrument FROM checkins WHERE patient_id = ?1 ORDER BY t, id";
static const char SQL_PROGRESSION[] =
    "SELECT t, kind, level_from, level_to, band_low, band_high, reason, session_id"
    " FROM progression WHERE patient_id = ?1 ORDER BY t, id";
static const char SQL_REJECTS[] =
    "SELECT j.verdict, count(*) FROM rejects j JOIN sets st ON st.id = j.set_id"
    " JOIN sessions s ON s.id = st.session_id WHERE s.patient_id = ?1 GROUP BY j.verdict";

/* Each session's sets go into it as "sets"; a session with no band on record (from before
 * schema 3) gets the patient's band now. */
static int sessions_with_sets(struct store *s, long patient, json_t *sessions, double lo,
                              double hi)
{
    json_t *sets = rows_json(s, SQL_SETS, patient), *sess, *set;
    size_t i, k = 0;

    if (!sets)
        return -1;
    json_array_foreach(sessions, i, sess) {
        json_t *mine = json_array();
        json_int_t id = json_integer_value(json_object_get(sess, "id"));

        for (; k < json_array_size(sets); k++) {
            set = json_array_get(sets, k);
            if (json_integer_value(json_object_get(set, "session_id")) != id)
                break;
            json_array_append(mine, set);
        }
        json_object_set_new(sess, "sets", mine);
        if (json_is_null(json_object_get(sess, "band_low"))) {
            json_object_set_new(sess, "band_low", json_real(lo));
            json_object_set_new(sess, "band_high", json_real(hi));
        }
    }
    json_decref(sets);
    return 0;
}

static json_t *rejects_by_reason(struct store *s, long patient)
{
    sqlite3_stmt *st = rprep(s, SQL_REJECTS);
    json_t *o = json_object();

    if (!st)
        return o;
    sqlite3_bind_int64(st, 1, patient);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
                            json_integer(sqlite3_column_int(st, 1)));
    sqlite3_finalize(st);
    return o;
}

json_t *store_report(struct store *s, long patient, json_t *head, double band_low,
                     double band_high)
{
    json_t *sessions, *checkins, *progression;

    pthread_mutex_lock(&s->rmu);
    sessions = rows_json(s, SQL_SESSIONS, patient);
    checkins = rows_json(s, SQL_CHECKINS, patient);
    progression = rows_json(s, SQL_PROGRESSION, patient);
    if (sessions && checkins && progression &&
        sessions_with_sets(s, patient, sessions, band_low, band_high) == 0) {
        json_object_set_new(head, "sessions", sessions);
        json_object_set_new(head, "checkins", checkins);
        json_object_set_new(head, "progression", progression);
        json_object_set_new(head, "rejects_by_reason", rejects_by_reason(s, patient));
        pthread_mutex_unlock(&s->rmu);
        return head;
    }
    pthread_mutex_unlock(&s->rmu);
    json_decref(sessions);
    json_decref(checkins);
    json_decref(progression);
    json_decref(head);
    errno = EIO;
    return NULL;
}

json_t *store_progression_latest(struct store *s, long patient, int max)
{
    return store_progression_since(s, patient, -1.0, max);
}

json_t *store_progression_since(struct store *s, long patient, double since, int max)
{
    char sql[320];
    json_t *rows;

    /* t in whole seconds: an integer keeps them in replies that print reals to 7 digits */
    snprintf(sql, sizeof sql, "SELECT * FROM (SELECT CAST(round(t) AS INTEGER) AS t, kind,"
             " level_from, level_to, band_low, band_high, reason FROM progression"
             " WHERE patient_id = ?1 AND t >= %.3f ORDER BY progression.t DESC, id DESC"
             " LIMIT %d) ORDER BY t", since, max);
    pthread_mutex_lock(&s->rmu);
    rows = rows_json(s, sql, patient);
    pthread_mutex_unlock(&s->rmu);
    return rows;
}

/* ---- adherence ---------------------------------------------------------------------------- */

/* Sessions begun per protocol day of the programme, days 0 .. ndays-1. */
static int sessions_per_day(struct store *s, long patient, double day0_wall, int ndays, int *n)
{
    sqlite3_stmt *st = rprep(s, "SELECT CAST(floor((started - ?2) / 86400.0) AS INTEGER), count(*)"
                             " FROM sessions WHERE patient_id = ?1 AND started >= ?2"
                             " GROUP BY 1");
    int rc;

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, patient);
    sqlite3_bind_double(st, 2, day0_wall);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int d = sqlite3_column_int(st, 0);

        if (d >= 0 && d < ndays)
            n[d] = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

json_t *store_adherence(struct store *s, long patient, const struct prog_plan *pl,
                        double day_start_s, int utc_offset_s, double now)
{
    double local0 = pl->start + utc_offset_s - day_start_s;
    double day0_wall = floor(local0 / 86400.0) * 86400.0 + day_start_s - utc_offset_s;
    int ndays = pl->weeks * 7, today = (int)floor((now - day0_wall) / 86400.0);
    int *n = calloc((size_t)ndays, sizeof *n), rc;
    json_t *weeks = json_array();

    if (!n)
        return weeks;
    pthread_mutex_lock(&s->rmu);
    rc = sessions_per_day(s, patient, day0_wall, ndays, n);
    pthread_mutex_unlock(&s->rmu);
    for (int w = 0; rc == 0 && w * 7 <= today && w < pl->weeks; w++) {
        json_t *days = json_array();
        int done = 0, planned = 0;

        for (int d = w * 7; d < w * 7 + 7 && d <= today; d++) {
            json_array_append_new(days, json_integer(n[d]));
            done += n[d];
            /* today counts only with what is done: the day is not over */
            planned += d < today ? pl->sessions_per_day : n[d];
        }
        json_array_append_new(weeks, json_pack("{s:i, s:i, s:i, s:o}", "week", w + 1, "done",
                                               done, "planned", planned, "days", days));
    }
    free(n);
    return weeks;
}
