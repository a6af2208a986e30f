/* store_writer.c - the history's writer thread (see store_impl.h and store.c's notes on
 * the ring, the jobs and the batches): it takes the control loop's events and the blocking
 * writes' jobs, writes them in one transaction a batch, commits, publishes the durable
 * number and checkpoints.
 */
#include <errno.h>
#include <stdio.h>

#include "daemon/store_impl.h"
#include "util/log.h"

static const struct sql wsql[W_COUNT] = {
    [W_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
    [W_COMMIT] = {"commit", "COMMIT"},
    [W_ROLLBACK] = {"rollback", "ROLLBACK"},
    [W_PATIENT_EXISTS] = {"find patient", "SELECT 1 FROM patients WHERE id = ?1"},
    [W_SESSION_INSERT] = {"insert session",
                          "INSERT INTO sessions(patient_id, started, band_low, band_high)"
                          " VALUES (?1, ?2, ?3, ?4)"},
    [W_SESSION_RESUMED] = {"count resume",
                           "UPDATE sessions SET resumes = resumes + 1 WHERE id = ?1"},
    [W_SESSION_END] = {"end session",
                       "UPDATE sessions SET ended = ?2, status = 'done' WHERE id = ?1"},
    [W_SESSION_OPEN] = {"find open session",
                        "SELECT 1 FROM sessions WHERE id = ?1 AND status = 'open'"},
    [W_SET_INSERT] = {"insert set",
                      "INSERT INTO sets(session_id, n, started, counted) VALUES (?1, ?2, ?3, ?4)"
                      " ON CONFLICT (session_id, n) DO NOTHING"},
    [W_SET_FIND] = {"find set", "SELECT id FROM sets WHERE session_id = ?1 AND n = ?2"},
    [W_SET_END] = {"end set",
                   "UPDATE sets SET ended = ?2, counted = max(counted, ?3),"
                   " rejected = max(rejected, ?4), in_band_share = ?5,"
                   " duration_s = coalesce(?6, duration_s) WHERE id = ?1"},
    [W_REP_INSERT] = {"insert rep",
                      "INSERT INTO reps(set_id, n, stroke, t, duration_s, travel_m, peak_n,"
                      " mean_n, in_band_s, in_band_share, work_j, window_s)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
    [W_SET_COUNTED] = {"count rep",
                       "UPDATE sets SET counted = max(counted, ?2),"
                       " duration_s = coalesce(?3, duration_s) WHERE id = ?1"},
    [W_REJECT_INSERT] = {"insert reject",
                         "INSERT INTO rejects(set_id, stroke, t, verdict, duration_s, travel_m,"
                         " peak_n, mean_n, in_band_s, in_band_share, work_j, window_s)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
    [W_SET_REJECTED] = {"count reject",
                        "UPDATE sets SET rejected = rejected + 1,"
                        " duration_s = coalesce(?2, duration_s) WHERE id = ?1"},
    [W_FAULT_INSERT] = {"insert fault",
                        "INSERT INTO faults(session_id, t, fault, value, limit_value)"
                        " VALUES (?1, ?2, ?3, ?4, ?5)"},
    [W_FAULT_RESET] = {"reset fault",
                       "UPDATE faults SET reset_t = ?1 WHERE id = (SELECT id FROM faults"
                       " WHERE fault = ?2 AND reset_t IS NULL ORDER BY id DESC LIMIT 1)"},
    [W_CAL_INSERT] = {"insert calibration",
                      "INSERT INTO calibrations(t, kind, \"offset\", scale, mass_kg)"
                      " VALUES (?1, ?2, ?3, ?4, ?5)"},
    [W_PATIENT_ADD] = {"insert patient",
                       "INSERT INTO patients(name, created, force_low, force_high, speed_max,"
                       " force_abort, uuid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    [W_SELECT_SET] = {"select patient",
                      "INSERT INTO meta(key, value) VALUES ('patient', ?1)"
                      " ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
    [W_SELECT_GET] = {"read selection",
                      "SELECT (SELECT value FROM meta WHERE key = 'patient'"
                      " AND value IN (SELECT id FROM patients)), (SELECT min(id) FROM patients)"},
    [W_PAIN_FIND] = {"find latest set",
                     "SELECT st.id, st.session_id, st.n FROM sets st"
                     " JOIN sessions s ON s.id = st.session_id WHERE s.patient_id = ?1"
                     " ORDER BY st.started DESC, st.id DESC LIMIT 1"},
    [W_PAIN_SET] = {"record pain", "UPDATE sets SET pain = ?2, pain_t = ?3 WHERE id = ?1"},
    [W_PROG_INSERT] = {"record progression",
                       "INSERT INTO progression(patient_id, session_id, t, kind, level_from,"
                       " level_to, band_low, band_high, reason)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    [W_PROG_LEVEL] = {"step programme",
                      "UPDATE programmes SET level = ?2, last_change = ?3,"
                      " updated = max(coalesce(updated, 0), ?3) WHERE patient_id = ?1"},
    [W_PROG_BAND] = {"step patient's band",
                     "UPDATE patients SET force_low = ?2, force_high = ?3 WHERE id = ?1"},
    [W_PROG_BASELINE] = {"set baseline",
                         "UPDATE programmes SET baseline = ?2,"
                         " updated = max(coalesce(updated, 0), ?3) WHERE patient_id = ?1"},
    [W_CHECKIN_INSERT] = {"record check-in",
                          "INSERT INTO checkins(patient_id, t, kind, score, instrument)"
                          " VALUES (?1, ?2, ?3, ?4, ?5)"},
};


/* ---- the writer's statements -------------------------------------------------------- */

/* Step a bound writer statement: SQLITE_ROW (the caller reads, then resets),
 * SQLITE_DONE (reset), or -1 (logged, reset). */
static int w_step(struct store *s, enum wstmt i)
{
    int rc = sqlite3_step(s->ws[i]);

    if (rc == SQLITE_ROW)
        return rc;
    if (rc != SQLITE_DONE)
        log_warn("%s: %s: %s", s->path, wsql[i].what, sqlite3_errmsg(s->db));
    sqlite3_reset(s->ws[i]);
    return rc == SQLITE_DONE ? rc : -1;
}

/* Run a bound writer statement to its end: 0, or -1 (logged). */
static int w_exec(struct store *s, enum wstmt i)
{
    int rc = w_step(s, i);

    if (rc == SQLITE_ROW) {
        sqlite3_reset(s->ws[i]);
        return 0;
    }
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The first column of the first row as an id: > 0, 0 when there is no row, -1 error. */
static long w_id(struct store *s, enum wstmt i)
{
    int rc = w_step(s, i);
    long id = 0;

    if (rc == SQLITE_ROW) {
        id = (long)sqlite3_column_int64(s->ws[i], 0);
        sqlite3_reset(s->ws[i]);
    }
    return rc < 0 ? -1 : id;
}

/* ---- events ------------------------------------------------------------------------- */

static int no_session(struct store *s, const struct ctl_event *ev, const char *what)
{
    log_warn("%s: %s (controller session %d, set %d) with no session or set open: not "
             "stored", s->path, what, ev->session, ev->set);
    return -1;
}

static bool patient_exists(struct store *s, long id)
{
    sqlite3_bind_int64(s->ws[W_PATIENT_EXISTS], 1, id);
    return w_id(s, W_PATIENT_EXISTS) > 0;
}

static int ev_session_start(struct store *s, const struct ctl_event *ev)
{
    long patient = ev->patient ? ev->patient : s->w.patient;

    if (ev->resumed && s->w.session)        /* carrying on the attached session */
        return 0;
    if (patient && !patient_exists(s, patient)) {
        log_warn("%s: session of unknown patient %ld stored without a patient", s->path,
                 patient);
        patient = 0;
    }
    bind_id(s->ws[W_SESSION_INSERT], 1, patient);
    bind_real(s->ws[W_SESSION_INSERT], 2, ev->wall);
    bind_real(s->ws[W_SESSION_INSERT], 3, ev->band_low > 0.0 ? ev->band_low : NAN);
    bind_real(s->ws[W_SESSION_INSERT], 4, ev->band_high > 0.0 ? ev->band_high : NAN);
    if (w_exec(s, W_SESSION_INSERT) != 0)
        return -1;
    s->w.session = (long)sqlite3_last_insert_rowid(s->db);
    s->w.set = 0;
    s->w.set_n = 0;
    return 0;
}

/* The current session's set n, begun now if it was not (its SET_START was dropped, or this
 * is the SET_START): its row id, 0 when there is no session or no set number, -1 error. */
static long set_current(struct store *s, int n, double wall, int counted, bool starting)
{
    sqlite3_stmt *ins = s->ws[W_SET_INSERT], *find = s->ws[W_SET_FIND];
    long id;

    if (s->w.set && s->w.set_n == n)
        return s->w.set;
    if (!s->w.session || n <= 0)
        return 0;
    sqlite3_bind_int64(ins, 1, s->w.session);
    sqlite3_bind_int(ins, 2, n);
    bind_real(ins, 3, wall);
    sqlite3_bind_int(ins, 4, counted);
    if (w_exec(s, W_SET_INSERT) != 0)
        return -1;
    if (!starting && sqlite3_changes(s->db) > 0)
        log_warn("%s: set %d of session %ld had not begun: begun now", s->path, n,
                 s->w.session);
    sqlite3_bind_int64(find, 1, s->w.session);
    sqlite3_bind_int(find, 2, n);
    id = w_id(s, W_SET_FIND);
    if (id > 0) {
        s->w.set = id;
        s->w.set_n = n;
    }
    return id > 0 ? id : -1;
}

static int ev_set_start(struct store *s, const struct ctl_event *ev)
{
    long set;

    if (!s->w.session)
        return no_session(s, ev, "set start");
    set = set_current(s, ev->set, ev->wall, ev->resumed ? ev->rep : 0, true);
    if (set <= 0)
        return -1;
    if (!ev->resumed)
        return 0;
    sqlite3_bind_int64(s->ws[W_SESSION_RESUMED], 1, s->w.session);
    return w_exec(s, W_SESSION_RESUMED);
}

static int ev_rep(struct store *s, const struct ctl_event *ev)
{
    sqlite3_stmt *st = s->ws[W_REP_INSERT];
    long set = set_current(s, ev->set, ev->wall, 0, false);

    if (set <= 0)
        return set < 0 ? -1 : no_session(s, ev, "rep");
    sqlite3_bind_int64(st, 1, set);
    sqlite3_bind_int(st, 2, ev->rep);
    sqlite3_bind_int(st, 3, ev->stroke);
    bind_real(st, 4, ev->wall);
    bind_figures(st, 5, &ev->fig);
    if (w_exec(s, W_REP_INSERT) != 0)
        return -1;
    sqlite3_bind_int64(s->ws[W_SET_COUNTED], 1, set);
    sqlite3_bind_int(s->ws[W_SET_COUNTED], 2, ev->rep);
    bind_real(s->ws[W_SET_COUNTED], 3, ev->set_s);
    return w_exec(s, W_SET_COUNTED);
}

/* A rejected stroke is kept even outside a set (set_id NULL). */
static int ev_reject(struct store *s, const struct ctl_event *ev)
{
    sqlite3_stmt *st = s->ws[W_REJECT_INSERT];
    long set = set_current(s, ev->set, ev->wall, 0, false);

    if (set < 0)
        return -1;
    bind_id(st, 1, set);
    sqlite3_bind_int(st, 2, ev->stroke);
    bind_real(st, 3, ev->wall);
    bind_text(st, 4, rep_verdict_name(ev->fig.verdict));
    bind_figures(st, 5, &ev->fig);
    if (w_exec(s, W_REJECT_INSERT) != 0)
        return -1;
    if (!set)
        return 0;
    sqlite3_bind_int64(s->ws[W_SET_REJECTED], 1, set);
    bind_real(s->ws[W_SET_REJECTED], 2, ev->set_s);
    return w_exec(s, W_SET_REJECTED);
}

/* counted and rejected never drop below what the rows already say (a resumed set's
 * summary may cover only its part after the restart). */
static int ev_set(struct store *s, const struct ctl_event *ev)
{
    sqlite3_stmt *st = s->ws[W_SET_END];
    long set = set_current(s, ev->set, ev->wall, 0, false);

    if (set <= 0)
        return set < 0 ? -1 : no_session(s, ev, "set end");
    sqlite3_bind_int64(st, 1, set);
    bind_real(st, 2, ev->wall);
    sqlite3_bind_int(st, 3, ev->sum.counted);
    sqlite3_bind_int(st, 4, ev->sum.rejected);
    bind_real(st, 5, ev->sum.in_band_share);
    bind_real(st, 6, ev->sum.duration_s);
    return w_exec(s, W_SET_END);
}

static int ev_session(struct store *s, const struct ctl_event *ev)
{
    if (!s->w.session)
        return no_session(s, ev, "session end");
    sqlite3_bind_int64(s->ws[W_SESSION_END], 1, s->w.session);
    bind_real(s->ws[W_SESSION_END], 2, ev->wall);
    s->w = (struct wstate){.patient = s->w.patient};
    return w_exec(s, W_SESSION_END);
}

static int ev_fault(struct store *s, const struct ctl_event *ev)
{
    sqlite3_stmt *st = s->ws[W_FAULT_INSERT];

    bind_id(st, 1, s->w.session);
    bind_real(st, 2, ev->wall);
    bind_text(st, 3, fault_name(ev->fault));
    bind_real(st, 4, ev->value);
    bind_real(st, 5, ev->limit);
    return w_exec(s, W_FAULT_INSERT);
}

static int ev_reset(struct store *s, const struct ctl_event *ev)
{
    bind_real(s->ws[W_FAULT_RESET], 1, ev->wall);
    bind_text(s->ws[W_FAULT_RESET], 2, fault_name(ev->fault));
    if (w_exec(s, W_FAULT_RESET) != 0)
        return -1;
    if (sqlite3_changes(s->db) > 0)
        return 0;
    log_warn("%s: reset of %s, which has no open fault on record", s->path,
             fault_name(ev->fault));
    return -1;
}

/* A pain score on the patient's latest set; *session_out, *set_out say which. 0, -1
 * ENOENT (no set), -1 EIO. */
static int pain_write(struct store *s, long patient, int score, double wall, long *session_out,
                      int *set_out)
{
    sqlite3_stmt *find = s->ws[W_PAIN_FIND], *set = s->ws[W_PAIN_SET];
    long set_id;
    int rc;

    sqlite3_bind_int64(find, 1, patient);
    rc = w_step(s, W_PAIN_FIND);
    if (rc != SQLITE_ROW) {
        errno = rc < 0 ? EIO : ENOENT;
        return -1;
    }
    set_id = (long)sqlite3_column_int64(find, 0);
    *session_out = (long)sqlite3_column_int64(find, 1);
    *set_out = sqlite3_column_int(find, 2);
    sqlite3_reset(find);
    sqlite3_bind_int64(set, 1, set_id);
    sqlite3_bind_int(set, 2, score);
    bind_real(set, 3, wall);
    if (w_exec(s, W_PAIN_SET) != 0) {
        errno = EIO;
        return -1;
    }
    return 0;
}

static int ev_checkin(struct store *s, const struct ctl_event *ev)
{
    sqlite3_stmt *st = s->ws[W_CHECKIN_INSERT];
    long patient = ev->patient ? ev->patient : s->w.patient, session;
    int set;

    if (!patient)
        return 0;
    if (ev->checkin == CTL_CHECKIN_PAIN)
        return pain_write(s, patient, (int)ev->value, ev->wall, &session, &set);
    sqlite3_bind_int64(st, 1, patient);
    bind_real(st, 2, ev->wall);
    bind_text(st, 3, "morning");
    bind_real(st, 4, ev->value);
    bind_text(st, 5, NULL);
    return w_exec(s, W_CHECKIN_INSERT);
}

/* A step also moves the programme's level and the patient's band; the first morning score
 * becomes the programme's baseline. */
static int prog_effects(struct store *s, long patient, const struct ctl_event *ev)
{
    if (ev->prog == PROG_BASELINE) {
        sqlite3_bind_int64(s->ws[W_PROG_BASELINE], 1, patient);
        bind_real(s->ws[W_PROG_BASELINE], 2, ev->value);
        bind_real(s->ws[W_PROG_BASELINE], 3, ev->wall);
        return w_exec(s, W_PROG_BASELINE);
    }
    if (ev->prog != PROG_UP && ev->prog != PROG_DOWN)
        return 0;
    sqlite3_bind_int64(s->ws[W_PROG_LEVEL], 1, patient);
    sqlite3_bind_int(s->ws[W_PROG_LEVEL], 2, ev->level_to);
    bind_real(s->ws[W_PROG_LEVEL], 3, ev->wall);
    sqlite3_bind_int64(s->ws[W_PROG_BAND], 1, patient);
    bind_real(s->ws[W_PROG_BAND], 2, ev->band_low);
    bind_real(s->ws[W_PROG_BAND], 3, ev->band_high);
    return w_exec(s, W_PROG_LEVEL) == 0 && w_exec(s, W_PROG_BAND) == 0 ? 0 : -1;
}

static int ev_progression(struct store *s, const struct ctl_event *ev)
{
    sqlite3_stmt *st = s->ws[W_PROG_INSERT];
    long patient = ev->patient ? ev->patient : s->w.patient;

    if (!patient)
        return 0;
    sqlite3_bind_int64(st, 1, patient);
    bind_id(st, 2, s->w.session);
    bind_real(st, 3, ev->wall);
    bind_text(st, 4, prog_kind_name(ev->prog));
    sqlite3_bind_int(st, 5, ev->level_from);
    sqlite3_bind_int(st, 6, ev->level_to);
    bind_real(st, 7, ev->band_low);
    bind_real(st, 8, ev->band_high);
    bind_text(st, 9, ev->cause);
    return w_exec(s, W_PROG_INSERT) == 0 ? prog_effects(s, patient, ev) : -1;
}

static int event_write(struct store *s, const struct ctl_event *ev)
{
    switch (ev->kind) {
    case CTL_EV_SESSION_START: return ev_session_start(s, ev);
    case CTL_EV_SET_START: return ev_set_start(s, ev);
    case CTL_EV_REP: return ev_rep(s, ev);
    case CTL_EV_REJECT: return ev_reject(s, ev);
    case CTL_EV_SET: return ev_set(s, ev);
    case CTL_EV_SESSION: return ev_session(s, ev);
    case CTL_EV_FAULT: return ev_fault(s, ev);
    case CTL_EV_RESET: return ev_reset(s, ev);
    case CTL_EV_COMMAND: return 0;
    case CTL_EV_DRIVE_SLOW: return 0;      /* the log says it; the history keeps training */
    case CTL_EV_PREFLIGHT: return 0;       /* the log says it; nothing moved */
    case CTL_EV_PROGRESSION: return ev_progression(s, ev);
    case CTL_EV_CHECKIN: return ev_checkin(s, ev);
    }
    log_warn("%s: event of unknown kind %d not stored", s->path, (int)ev->kind);
    return -1;
}

static int cal_write(struct store *s, const struct cal *c)
{
    sqlite3_stmt *st = s->ws[W_CAL_INSERT];

    bind_real(st, 1, c->wall);
    bind_text(st, 2, c->kind == STORE_CAL_SPAN ? "span" : "tare");
    bind_real(st, 3, c->offset);
    bind_real(st, 4, c->scale);
    bind_real(st, 5, c->mass_kg);
    return w_exec(s, W_CAL_INSERT);
}

static void item_write(struct store *s, const struct item *it)
{
    int rc = it->kind == ITEM_CAL ? cal_write(s, &it->u.cal) : event_write(s, &it->u.ev);

    if (rc != 0)
        count_error(s);
}
/* ---- jobs (run on the writer thread) ------------------------------------------------ */

static int job_fail(struct job *j, int err)
{
    j->rc = -1;
    j->err = err;
    return -1;
}

static int patient_insert(struct store *s, struct store_patient *p)
{
    sqlite3_stmt *st = s->ws[W_PATIENT_ADD];
    int rc;

    bind_text(st, 1, p->name);
    bind_real(st, 2, p->created);
    bind_real(st, 3, p->force_low);
    bind_real(st, 4, p->force_high);
    bind_real(st, 5, p->speed_max);
    bind_real(st, 6, p->force_abort);
    bind_text(st, 7, p->uuid[0] ? p->uuid : NULL);     /* NULL: the trigger makes one */
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        p->id = (long)sqlite3_last_insert_rowid(s->db);
    else if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
        rc = EEXIST;
    else
        log_warn("%s: %s: %s", s->path, wsql[W_PATIENT_ADD].what, sqlite3_errmsg(s->db));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : rc == EEXIST ? EEXIST : EIO;
}

static int patient_select(struct store *s, long id)
{
    sqlite3_bind_int64(s->ws[W_SELECT_SET], 1, id);
    if (w_exec(s, W_SELECT_SET) != 0)
        return -1;
    s->w.patient = id;
    return 0;
}

static int job_patient_select(struct store *s, struct job *j)
{
    if (!patient_exists(s, j->id))
        return job_fail(j, ENOENT);
    return patient_select(s, j->id) == 0 ? 0 : job_fail(j, EIO);
}

static int job_pain(struct store *s, struct job *j)
{
    long patient = j->id ? j->id : s->w.patient;

    if (pain_write(s, patient, j->score, j->wall, &j->session_out, &j->set_out) != 0)
        return job_fail(j, errno);
    return 0;
}

static int job_attach(struct store *s, struct job *j)
{
    long found;

    sqlite3_bind_int64(s->ws[W_SESSION_OPEN], 1, j->id);
    found = w_id(s, W_SESSION_OPEN);
    if (found <= 0)
        return job_fail(j, found < 0 ? EIO : ENOENT);
    s->w.session = j->id;
    s->w.set = 0;
    s->w.set_n = 0;
    return 0;
}

static void job_run(struct store *s, struct job *j)
{
    int err;

    j->rc = 0;
    j->err = 0;
    switch (j->kind) {
    case JOB_PATIENT_ADD:
        err = patient_insert(s, j->patient);
        if (err)
            job_fail(j, err);
        break;
    case JOB_PATIENT_SELECT: job_patient_select(s, j); break;
    case JOB_PAIN: job_pain(s, j); break;
    case JOB_ATTACH: job_attach(s, j); break;
    case JOB_CALL:
        err = j->fn(s, s->db, j->arg);
        if (err)
            job_fail(j, err);
        break;
    }
    if (j->rc != 0 && j->err == EIO)
        count_error(s);
}

/* Queue a job and wait until the writer has committed it. */
int store_job_submit(struct store *s, struct job *j)
{
    j->done = false;
    j->next = NULL;
    pthread_mutex_lock(&s->jmu);
    j->after = atomic_load_explicit(&s->head, memory_order_acquire);
    *s->jobs_tail = j;
    s->jobs_tail = &j->next;
    atomic_fetch_add_explicit(&s->jobs_queued, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s->jmu);
    sem_post(&s->wake);
    pthread_mutex_lock(&s->jmu);
    while (!j->done)
        pthread_cond_wait(&s->jcv, &s->jmu);
    pthread_mutex_unlock(&s->jmu);
    if (j->rc != 0)
        errno = j->err;
    return j->rc;
}
/* ---- the writer thread -------------------------------------------------------------- */

/* Copy what the ring holds into the batch (as far as it has room) and free the slots. */
static void ring_take(struct store *s)
{
    uint64_t head = atomic_load_explicit(&s->head, memory_order_acquire);
    uint64_t tail = s->taken;

    while (tail < head && s->batch_n < s->cap)
        s->batch[s->batch_n++] = s->ring[tail++ % s->cap];
    s->taken = tail;
    atomic_store_explicit(&s->tail, tail, memory_order_release);
}

/* Detach the queued jobs whose ring items have all been taken (in queue order). */
static struct job *jobs_take(struct store *s)
{
    struct job *first = NULL, **end = &first;

    pthread_mutex_lock(&s->jmu);
    while (s->jobs && s->jobs->after <= s->taken) {
        *end = s->jobs;
        end = &s->jobs->next;
        s->jobs = s->jobs->next;
        atomic_fetch_sub_explicit(&s->jobs_queued, 1, memory_order_relaxed);
    }
    *end = NULL;
    if (!s->jobs)
        s->jobs_tail = &s->jobs;
    pthread_mutex_unlock(&s->jmu);
    return first;
}

/* Tell the jobs' callers (ok false: the transaction failed) and whoever waits in
 * store_flush. */
static void jobs_finish(struct store *s, struct job *j, bool ok)
{
    pthread_mutex_lock(&s->jmu);
    while (j) {
        struct job *next = j->next;
        if (!ok)
            job_fail(j, EIO);
        j->done = true;
        j = next;
    }
    pthread_cond_broadcast(&s->jcv);
    pthread_mutex_unlock(&s->jmu);
}

void store_rollback(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        w_exec(s, W_ROLLBACK);
}

/* The batch and the jobs in one transaction, each job between the items pushed before
 * and after it. 0 once committed; -1 rolled back (the writer's state restored). */
static int batch_write(struct store *s, struct job *jobs)
{
    struct wstate saved = s->w;
    struct job *j = jobs;

    if (w_exec(s, W_BEGIN) != 0)
        goto fail;
    for (uint64_t i = 0; i < s->batch_n; i++) {
        for (; j && j->after < s->batch[i].seq; j = j->next)
            job_run(s, j);
        item_write(s, &s->batch[i]);
        if (sqlite3_get_autocommit(s->db))      /* an I/O error ended the transaction */
            goto fail;
    }
    for (; j; j = j->next)
        job_run(s, j);
    if (!sqlite3_get_autocommit(s->db) && w_exec(s, W_COMMIT) == 0)
        return 0;
fail:
    count_error(s);
    store_rollback(s);
    s->w = saved;
    return -1;
}

static void lag_note(struct store *s, double oldest_mono)
{
    uint64_t ns = (uint64_t)((store_clock_s(CLOCK_MONOTONIC) - oldest_mono) * 1e9);
    uint64_t max = atomic_load_explicit(&s->lag_max_ns, memory_order_relaxed);

    if (ns > max)
        atomic_store_explicit(&s->lag_max_ns, ns, memory_order_relaxed);
}

/* Committed: advance the durable number, then tell on_durable, then the jobs' callers. */
static void batch_publish(struct store *s, struct job *jobs)
{
    atomic_fetch_add_explicit(&s->commits, 1, memory_order_relaxed);
    if (s->batch_n) {
        lag_note(s, s->batch[0].mono);
        atomic_store_explicit(&s->durable, s->batch[s->batch_n - 1].seq, memory_order_release);
    }
    for (uint64_t i = 0; i < s->batch_n && s->on_durable; i++)
        if (s->batch[i].kind == ITEM_EVENT)
            s->on_durable(s->arg, &s->batch[i].u.ev);
    s->batch_n = 0;
    jobs_finish(s, jobs, true);
}

int store_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    ((struct store *)arg)->wal_pages = pages;
    return SQLITE_OK;
}

static void checkpoint_maybe(struct store *s)
{
    if (s->wal_pages < CHECKPOINT_PAGES)
        return;
    s->wal_pages = 0;
    if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) !=
        SQLITE_OK)
        log_warn("%s: checkpoint: %s", s->path, sqlite3_errmsg(s->db));
}

static void retry_pause(int fails)
{
    double pause = RETRY_FIRST_S * (double)(1 << (fails < 6 ? fails - 1 : 5));
    struct timespec ts;

    pause = pause < RETRY_MAX_S ? pause : RETRY_MAX_S;
    ts.tv_sec = (time_t)pause;
    ts.tv_nsec = (long)((pause - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* Write until the ring and the job list are empty. */
static void writer_cycle(struct store *s)
{
    int fails = 0;

    for (;;) {
        ring_take(s);
        struct job *jobs = jobs_take(s);
        if (!s->batch_n && !jobs)
            return;
        if (batch_write(s, jobs) == 0) {
            batch_publish(s, jobs);
            checkpoint_maybe(s);
            fails = 0;
            continue;
        }
        jobs_finish(s, jobs, false);
        if (++fails == 1 || fails % 64 == 0)
            log_error("%s: %llu events not written (%d tries so far), retrying", s->path,
                      (unsigned long long)s->batch_n, fails);
        if (fails >= CLOSE_TRIES && atomic_load(&s->stop)) {
            log_error("%s: giving up: %llu events lost", s->path,
                      (unsigned long long)s->batch_n);
            s->batch_n = 0;
            return;
        }
        retry_pause(fails);
    }
}

/* Sleep until there is work. With ring_publish: the writer announces sleeping, then looks
 * at head; a push stores head, then looks at sleeping (all sequentially consistent), so
 * either the writer sees the item or the push sees the writer asleep and posts. */
static void writer_sleep(struct store *s)
{
    atomic_store(&s->sleeping, true);
    if (atomic_load(&s->head) == s->taken)
        while (sem_wait(&s->wake) != 0 && errno == EINTR)
            ;
    atomic_store(&s->sleeping, false);
    while (sem_trywait(&s->wake) == 0)         /* one pass serves every post so far */
        ;
}

void *store_writer_main(void *arg)
{
    struct store *s = arg;

    for (;;) {
        writer_sleep(s);
        bool stop = atomic_load(&s->stop);
        writer_cycle(s);
        if (stop)
            return NULL;
    }
}
/* A file without patients gets "patient" (the config's settings); a missing or stale
 * selection falls to the first patient. */
static int patients_init(struct store *s, char *err, size_t errlen)
{
    struct store_patient p = {.name = "patient", .created = store_clock_s(CLOCK_REALTIME),
                              .force_low = NAN, .force_high = NAN, .speed_max = NAN,
                              .force_abort = NAN};
    sqlite3_stmt *get = s->ws[W_SELECT_GET];
    long selected = 0, first = 0;

    if (store_exec(s, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    if (w_step(s, W_SELECT_GET) == SQLITE_ROW) {
        selected = (long)sqlite3_column_int64(get, 0);
        first = (long)sqlite3_column_int64(get, 1);
        sqlite3_reset(get);
    }
    if (!first && patient_insert(s, &p) == 0)
        first = p.id;
    s->w.patient = selected;
    if (!first || (!selected && patient_select(s, first) != 0)) {
        store_set_err(err, errlen, s->path, "cannot set up the patients: %s", sqlite3_errmsg(s->db));
        errno = EIO;
        store_rollback(s);
        return -1;
    }
    return store_exec(s, "COMMIT", err, errlen);
}


int store_writer_prepare(struct store *s, char *err, size_t errlen)
{
    if (store_prepare_all(s->db, wsql, s->ws, W_COUNT, s->path, err, errlen) != 0) {
        errno = EIO;
        return -1;
    }
    return patients_init(s, err, errlen);
}

void store_writer_finalize(struct store *s)
{
    store_finalize_all(s->ws, W_COUNT);
}
