/* store_query.c - the history's reads (see store.h): one read-only connection behind
 * rmu for the short ones, and cursors (each with its own connection, so no reader waits
 * behind a long export) that stream history and export row by row.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/store_impl.h"
#include "util/log.h"

#define PATIENT_COLS "id, name, created, force_low, force_high, speed_max, force_abort, uuid"
#define OF_PATIENT "(?1 = 0 OR s.patient_id = ?1) AND s.started >= ?2"

static const struct sql rsql[R_COUNT] = {
    [R_PATIENT_LIST] = {"list patients",
                        "SELECT " PATIENT_COLS " FROM patients ORDER BY id LIMIT ?1"},
    [R_PATIENT_GET] = {"read patient", "SELECT " PATIENT_COLS " FROM patients WHERE id = ?1"},
    [R_PATIENT_UUID] = {"find patient", "SELECT " PATIENT_COLS " FROM patients WHERE uuid = ?1"},
    [R_SELECTED] = {"read selection", "SELECT value FROM meta WHERE key = 'patient'"},
    [R_RECENT] = {"recent sessions",
                  "SELECT s.started, coalesce(s.ended, (SELECT max(r.t) FROM sets st"
                  " JOIN reps r ON r.set_id = st.id WHERE st.session_id = s.id), s.started)"
                  " FROM sessions s WHERE " OF_PATIENT
                  " ORDER BY s.started DESC, s.id DESC LIMIT ?3"},
    [R_FIND_OPEN] = {"find open session",
                     "SELECT s.id, s.started, s.resumes FROM sessions s"
                     " WHERE s.status = 'open' AND " OF_PATIENT
                     " ORDER BY s.started DESC, s.id DESC LIMIT 1"},
    /* The open session's latest set: its number, reps, whether it finished, how long it
     * had run (NULL in a set begun before schema 2), when it began. */
    [R_OPEN_SET] = {"read open set",
                    "SELECT id, n, counted, ended IS NOT NULL, duration_s, started FROM sets"
                    " WHERE session_id = ?1 ORDER BY n DESC LIMIT 1"},
    /* A set's strokes: time in band, loaded windows (a stroke from before schema 2 has no
     * window_s: in_band_s / in_band_share gives it where the share is > 0), latest (UTC s). */
    [R_SET_STROKES] = {"read set's strokes",
                       "SELECT coalesce(sum(in_band_s), 0), coalesce(sum(coalesce(window_s,"
                       " CASE WHEN in_band_share > 0 THEN in_band_s / in_band_share ELSE 0 END)),"
                       " 0), max(t) FROM (SELECT in_band_s, in_band_share, window_s, t FROM reps"
                       " WHERE set_id = ?1 UNION ALL SELECT in_band_s, in_band_share, window_s, t"
                       " FROM rejects WHERE set_id = ?1)"},
    [R_OPEN_SET_REJECTS] = {"read open set's rejects",
                            "SELECT verdict, count(*) FROM rejects WHERE set_id = ?1"
                            " GROUP BY verdict"},
    /* Its finished sets' reps and rejects, and the highest stroke number on record. */
    [R_OPEN_SESSION_SUMS] = {"read open session's sums",
                             "SELECT (SELECT coalesce(sum(counted), 0) FROM sets"
                             " WHERE session_id = ?1 AND ended IS NOT NULL),"
                             " (SELECT coalesce(sum(rejected), 0) FROM sets"
                             " WHERE session_id = ?1 AND ended IS NOT NULL),"
                             " (SELECT coalesce(max(stroke), 0) FROM (SELECT r.stroke FROM reps r"
                             " JOIN sets st ON st.id = r.set_id WHERE st.session_id = ?1"
                             " UNION ALL SELECT j.stroke FROM rejects j JOIN sets st"
                             " ON st.id = j.set_id WHERE st.session_id = ?1))"},
};

/* ---- the read connection ------------------------------------------------------------ */

int store_reader_open(struct store *s, char *err, size_t errlen)
{
    if (sqlite3_open_v2(s->path, &s->rdb, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        store_set_err(err, errlen, s->path, "read connection: %s",
                s->rdb ? sqlite3_errmsg(s->rdb) : "cannot open");
        errno = EIO;
        return -1;
    }
    sqlite3_busy_timeout(s->rdb, BUSY_TIMEOUT_MS);
    if (store_prepare_all(s->rdb, rsql, s->rs, R_COUNT, s->path, err, errlen) != 0) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* ---- the reads ---------------------------------------------------------------------- */

/* Take the read connection and a reset statement; r_end gives them back. */
static sqlite3_stmt *r_begin(struct store *s, enum rstmt i)
{
    pthread_mutex_lock(&s->rmu);
    return s->rs[i];
}

/* rc: the last sqlite3_step result (SQLITE_ROW: stopped early, fine). Returns 0, or -1
 * EIO after logging. */
static int r_end(struct store *s, enum rstmt i, int rc)
{
    int ok = rc == SQLITE_DONE || rc == SQLITE_ROW;

    if (!ok)
        log_warn("%s: %s: %s", s->path, rsql[i].what, sqlite3_errmsg(s->rdb));
    sqlite3_reset(s->rs[i]);
    sqlite3_clear_bindings(s->rs[i]);
    pthread_mutex_unlock(&s->rmu);
    if (ok)
        return 0;
    count_error(s);
    errno = EIO;
    return -1;
}

static void patient_row(sqlite3_stmt *st, struct store_patient *p)
{
    p->id = (long)sqlite3_column_int64(st, 0);
    col_name(st, 1, p->name);
    p->created = col_real(st, 2);
    p->force_low = col_real(st, 3);
    p->force_high = col_real(st, 4);
    p->speed_max = col_real(st, 5);
    p->force_abort = col_real(st, 6);
    snprintf(p->uuid, sizeof p->uuid, "%s",
             sqlite3_column_type(st, 7) == SQLITE_TEXT ? (const char *)sqlite3_column_text(st, 7) : "");
}

int store_patient_list(struct store *s, struct store_patient *out, int max)
{
    sqlite3_stmt *st;
    int n = 0, rc;

    if (max <= 0)
        return 0;
    st = r_begin(s, R_PATIENT_LIST);
    sqlite3_bind_int(st, 1, max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max)
        patient_row(st, &out[n++]);
    return r_end(s, R_PATIENT_LIST, rc) == 0 ? n : -1;
}

int store_patient_get(struct store *s, long id, struct store_patient *out)
{
    sqlite3_stmt *st = r_begin(s, R_PATIENT_GET);
    int rc;

    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        patient_row(st, out);
    if (r_end(s, R_PATIENT_GET, rc) != 0)
        return -1;
    if (rc == SQLITE_ROW)
        return 0;
    errno = ENOENT;
    return -1;
}

int store_patient_find_uuid(struct store *s, const char *uuid, struct store_patient *out)
{
    sqlite3_stmt *st = r_begin(s, R_PATIENT_UUID);
    int rc;

    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        patient_row(st, out);
    if (r_end(s, R_PATIENT_UUID, rc) != 0)
        return -1;
    if (rc == SQLITE_ROW)
        return 0;
    errno = ENOENT;
    return -1;
}

long store_patient_selected(struct store *s)
{
    sqlite3_stmt *st = r_begin(s, R_SELECTED);
    int rc = sqlite3_step(st);
    long id = rc == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;

    return r_end(s, R_SELECTED, rc) == 0 ? id : 0;
}

int store_recent_sessions(struct store *s, long patient, double since, double *starts,
                          double *ends, int max)
{
    sqlite3_stmt *st;
    int n = 0, rc;

    if (max <= 0)
        return 0;
    st = r_begin(s, R_RECENT);
    sqlite3_bind_int64(st, 1, patient);
    sqlite3_bind_double(st, 2, since);
    sqlite3_bind_int(st, 3, max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
        starts[n] = col_real(st, 0);
        ends[n++] = col_real(st, 1);
    }
    if (r_end(s, R_RECENT, rc) != 0)
        return -1;
    for (int i = 0; i < n / 2; i++) {              /* newest first -> oldest first */
        double a = starts[i], b = ends[i];
        starts[i] = starts[n - 1 - i];
        ends[i] = ends[n - 1 - i];
        starts[n - 1 - i] = a;
        ends[n - 1 - i] = b;
    }
    return n;
}

/* The open session's latest set (none: out->set stays 0); its set id in *set_id, its
 * start (UTC s) in *started and how long it had run in out->set_s (NAN: not recorded). */
static int open_set_read(struct store *s, struct store_open_session *out, long *set_id,
                         double *started)
{
    sqlite3_stmt *st = r_begin(s, R_OPEN_SET);
    int rc;

    sqlite3_bind_int64(st, 1, out->session_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *set_id = (long)sqlite3_column_int64(st, 0);
        out->set = sqlite3_column_int(st, 1);
        out->reps = sqlite3_column_int(st, 2);
        out->set_done = sqlite3_column_int(st, 3) != 0;
        out->set_s = col_real(st, 4);
        *started = col_real(st, 5);
    }
    return r_end(s, R_OPEN_SET, rc);
}

/* The set's time in band and loaded windows; where its running time was not recorded (a
 * set begun before schema 2), its wall-clock span from its start to its latest stroke. */
static int set_strokes_read(struct store *s, long set_id, double started,
                            struct store_open_session *out)
{
    sqlite3_stmt *st = r_begin(s, R_SET_STROKES);
    int rc;

    sqlite3_bind_int64(st, 1, set_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->in_band_s = sqlite3_column_double(st, 0);
        out->window_s = sqlite3_column_double(st, 1);
        if (isnan(out->set_s))
            out->set_s = col_real(st, 2) - started;
    }
    if (!(out->set_s >= 0.0))
        out->set_s = 0.0;
    return r_end(s, R_SET_STROKES, rc);
}

static int verdict_from_name(const char *name)
{
    for (int v = 0; v < REP_VERDICT_COUNT; v++)
        if (name && strcmp(name, rep_verdict_name((enum rep_verdict)v)) == 0)
            return v;
    return -1;
}

static int open_set_rejects(struct store *s, long set_id, struct store_open_session *out)
{
    sqlite3_stmt *st = r_begin(s, R_OPEN_SET_REJECTS);
    int rc;

    sqlite3_bind_int64(st, 1, set_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int v = verdict_from_name((const char *)sqlite3_column_text(st, 0));
        if (v > REP_COUNTED)        /* a name this eccd does not know counts nowhere */
            out->rejected[v] += sqlite3_column_int(st, 1);
    }
    return r_end(s, R_OPEN_SET_REJECTS, rc);
}

static int open_session_sums(struct store *s, struct store_open_session *out)
{
    sqlite3_stmt *st = r_begin(s, R_OPEN_SESSION_SUMS);
    int rc;

    sqlite3_bind_int64(st, 1, out->session_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->done_counted = sqlite3_column_int(st, 0);
        out->done_rejected = sqlite3_column_int(st, 1);
        out->strokes = sqlite3_column_int(st, 2);
    }
    return r_end(s, R_OPEN_SESSION_SUMS, rc);
}

int store_find_open_session(struct store *s, long patient, double since,
                            struct store_open_session *out)
{
    sqlite3_stmt *st = r_begin(s, R_FIND_OPEN);
    long set_id = 0;
    double set_started = NAN;
    int rc;

    memset(out, 0, sizeof *out);
    sqlite3_bind_int64(st, 1, patient);
    sqlite3_bind_double(st, 2, since);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->session_id = (long)sqlite3_column_int64(st, 0);
        out->started = col_real(st, 1);
        out->resumes = sqlite3_column_int(st, 2);
    }
    if (r_end(s, R_FIND_OPEN, rc) != 0)
        return -1;
    if (rc != SQLITE_ROW) {
        errno = ENOENT;
        return -1;
    }
    if (open_set_read(s, out, &set_id, &set_started) != 0 || open_session_sums(s, out) != 0)
        return -1;
    if (set_id > 0 && (set_strokes_read(s, set_id, set_started, out) != 0 ||
                       open_set_rejects(s, set_id, out) != 0))
        return -1;
    return 0;
}

static void history_row(sqlite3_stmt *st, struct store_set_row *r)
{
    r->session_id = (long)sqlite3_column_int64(st, 0);
    r->session_started = col_real(st, 1);
    r->session_ended = col_real(st, 2);
    r->session_done = sqlite3_column_int(st, 3) != 0;
    r->set = col_int(st, 4, 0);
    r->set_started = col_real(st, 5);
    r->counted = col_int(st, 6, 0);
    r->rejected = col_int(st, 7, 0);
    r->in_band_share = col_real(st, 8);
    r->pain = col_int(st, 9, -1);
    r->faults = sqlite3_column_int(st, 10);
}

static void export_row(sqlite3_stmt *st, struct store_rep_row *r)
{
    r->patient_id = (long)sqlite3_column_int64(st, 0);
    col_name(st, 1, r->patient);
    r->session_id = (long)sqlite3_column_int64(st, 2);
    r->session_started = col_real(st, 3);
    r->set = sqlite3_column_int(st, 4);
    r->rep = sqlite3_column_int(st, 5);
    r->stroke = col_int(st, 6, 0);
    r->t = col_real(st, 7);
    r->duration_s = col_real(st, 8);
    r->travel_m = col_real(st, 9);
    r->peak_n = col_real(st, 10);
    r->mean_n = col_real(st, 11);
    r->in_band_s = col_real(st, 12);
    r->in_band_share = col_real(st, 13);
    r->work_j = col_real(st, 14);
    r->pain = col_int(st, 15, -1);
}

/* ---- cursors --------------------------------------------------------------------------- */

/* The streamed reads, in the order the indexes give (sessions_started, then each session's
 * sets and each set's reps by number), so a row costs a step and nothing is sorted or
 * held: CROSS JOIN keeps SQLite to that nesting. */
static const struct sql csql[] = {
    [STORE_CURSOR_HISTORY] = {"history",
        "SELECT s.id, s.started, s.ended, s.status = 'done', st.n, st.started,"
        " st.counted, st.rejected, st.in_band_share, st.pain,"
        " (SELECT count(*) FROM faults f WHERE f.session_id = s.id)"
        " FROM sessions s INDEXED BY sessions_started LEFT JOIN sets st ON st.session_id = s.id"
        " WHERE " OF_PATIENT " ORDER BY s.started, s.id, st.n"},
    [STORE_CURSOR_EXPORT] = {"export",
        "SELECT s.patient_id, p.name, s.id, s.started, st.n, r.n, r.stroke, r.t,"
        " r.duration_s, r.travel_m, r.peak_n, r.mean_n, r.in_band_s,"
        " r.in_band_share, r.work_j, st.pain"
        " FROM sessions s INDEXED BY sessions_started CROSS JOIN sets st CROSS JOIN reps r"
        " LEFT JOIN patients p ON p.id = s.patient_id"
        " WHERE st.session_id = s.id AND r.set_id = st.id AND " OF_PATIENT
        " ORDER BY s.started, s.id, st.n, r.n"},
};

struct store_cursor {
    struct store *s;            /* its path, its error count */
    enum store_cursor_kind kind;
    sqlite3 *db;                /* the cursor's own read-only connection */
    sqlite3_stmt *st;
    bool done;
};

static struct store_cursor *cursor_fail(struct store_cursor *c, const char *what)
{
    log_warn("%s: %s: %s", c->s->path, what, c->db ? sqlite3_errmsg(c->db) : "cannot open");
    count_error(c->s);
    store_cursor_close(c);
    errno = EIO;
    return NULL;
}

struct store_cursor *store_cursor_open(struct store *s, enum store_cursor_kind kind,
                                       long patient, double since)
{
    struct store_cursor *c;

    if (kind != STORE_CURSOR_HISTORY && kind != STORE_CURSOR_EXPORT) {
        errno = EINVAL;
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->s = s;
    c->kind = kind;
    if (sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return cursor_fail(c, "cursor");
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    /* a small page cache: a cursor reads each page once, in order */
    if (sqlite3_exec(c->db, "PRAGMA cache_size = -" STORE_CURSOR_CACHE_KIB, NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(c->db, csql[kind].text, -1, &c->st, NULL) != SQLITE_OK)
        return cursor_fail(c, csql[kind].what);
    sqlite3_bind_int64(c->st, 1, patient);
    sqlite3_bind_double(c->st, 2, since);
    return c;
}

/* Step the cursor: 1 with a row, 0 at the end, -1 EIO (logged). */
static int cursor_step(struct store_cursor *c, enum store_cursor_kind kind)
{
    int rc;

    if (c->kind != kind) {
        errno = EINVAL;
        return -1;
    }
    if (c->done)
        return 0;
    rc = sqlite3_step(c->st);
    if (rc == SQLITE_ROW)
        return 1;
    c->done = true;
    sqlite3_reset(c->st);       /* ends the read transaction */
    if (rc == SQLITE_DONE)
        return 0;
    log_warn("%s: %s: %s", c->s->path, csql[kind].what, sqlite3_errmsg(c->db));
    count_error(c->s);
    errno = EIO;
    return -1;
}

int store_cursor_history(struct store_cursor *c, struct store_set_row *r)
{
    int rc = cursor_step(c, STORE_CURSOR_HISTORY);

    if (rc == 1)
        history_row(c->st, r);
    return rc;
}

int store_cursor_export(struct store_cursor *c, struct store_rep_row *r)
{
    int rc = cursor_step(c, STORE_CURSOR_EXPORT);

    if (rc == 1)
        export_row(c->st, r);
    return rc;
}

void store_cursor_close(struct store_cursor *c)
{
    if (!c)
        return;
    sqlite3_finalize(c->st);
    sqlite3_close(c->db);
    free(c);
}

/* The callback forms: one cursor read to its end, or until row says stop. */
static int cursor_run(struct store *s, enum store_cursor_kind kind, long patient,
                      double since, int (*each)(struct store_cursor *c, void *fn, void *arg),
                      void *fn, void *arg)
{
    struct store_cursor *c = store_cursor_open(s, kind, patient, since);
    int rc;

    if (!c)
        return -1;
    while ((rc = each(c, fn, arg)) == 1)
        ;
    store_cursor_close(c);
    if (rc == 2) {
        errno = ECANCELED;
        return -1;
    }
    return rc;
}

typedef int (*history_fn)(void *arg, const struct store_set_row *r);
typedef int (*export_fn)(void *arg, const struct store_rep_row *r);

/* One row to fn: 1 go on, 0 end, -1 error, 2 fn stopped it. */
static int history_each(struct store_cursor *c, void *fn, void *arg)
{
    struct store_set_row r;
    int rc = store_cursor_history(c, &r);

    return rc == 1 && (*(history_fn *)fn)(arg, &r) != 0 ? 2 : rc;
}

static int export_each(struct store_cursor *c, void *fn, void *arg)
{
    struct store_rep_row r;
    int rc = store_cursor_export(c, &r);

    return rc == 1 && (*(export_fn *)fn)(arg, &r) != 0 ? 2 : rc;
}

int store_history(struct store *s, long patient, double since,
                  int (*row)(void *arg, const struct store_set_row *r), void *arg)
{
    history_fn fn = row;

    return cursor_run(s, STORE_CURSOR_HISTORY, patient, since, history_each, &fn, arg);
}

int store_export(struct store *s, long patient, double since,
                 int (*row)(void *arg, const struct store_rep_row *r), void *arg)
{
    export_fn fn = row;

    return cursor_run(s, STORE_CURSOR_EXPORT, patient, since, export_each, &fn, arg);
}

void store_reader_close(struct store *s)
{
    store_finalize_all(s->rs, R_COUNT);
    sqlite3_close(s->rdb);
    s->rdb = NULL;
}
