/* store.c - the training history in SQLite (see store.h).
 *
 * Two connections: the writer's (used by store_open, then only by the writer thread, then
 * by store_close) and a read-only one behind rmu for the blocking reads.
 *
 * The ring: items (events, calibrations) in a fixed array indexed by two ever-growing
 * counters, head (written by the producer only) and tail (written by the writer only).
 * An item's sequence number is its head index + 1, so the durable sequence number is
 * the count of items committed. The writer copies everything available into its batch
 * (freeing the ring at once), writes the batch in one transaction and commits.
 *
 * Jobs (the blocking writes) remember the ring's head when they were queued ("after").
 * The writer runs a job inside the transaction after every ring item pushed before it
 * was queued and before every item pushed later, and reports its result once that
 * transaction has committed. So store_attach_session, called between the pushes of a
 * restart, applies exactly between them.
 *
 * A failed commit rolls back, restores the writer's idea of the current session and set,
 * fails the batch's jobs (EIO) and retries the batch's events with a growing pause; the
 * durable number never passes an event that is not in the file. store_close gives up
 * after CLOSE_TRIES such failures (and logs how many events were lost).
 *
 * Checkpoints: SQLite's automatic one would run inside a commit and delay durability; it
 * is replaced by a passive checkpoint the writer runs after publishing, once the WAL has
 * grown past CHECKPOINT_PAGES.
 */
#include "daemon/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util/log.h"

#define APP_ID 0x45434344       /* PRAGMA application_id: "ECCD" */
#define BUSY_TIMEOUT_MS 5000
#define QUEUE_MIN 16
#define QUEUE_MAX (1 << 20)
#define RETRY_FIRST_S 0.05      /* pause after a failed commit, doubling ... */
#define RETRY_MAX_S 1.0         /* ... up to this */
#define CLOSE_TRIES 3           /* failed commits store_close accepts before giving up */
#define CHECKPOINT_PAGES 1000   /* WAL pages after which the writer checkpoints (passive) */

/* ---- schema ------------------------------------------------------------------------ */

/* migrations[i] brings user_version i to i + 1, in its own transaction. Times are UTC s. */
static const char *const migrations[] = {
    /* 1: everything */
    "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;"
    "CREATE TABLE patients(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " created REAL NOT NULL, force_low REAL, force_high REAL, speed_max REAL,"
    " force_abort REAL);"
    "CREATE TABLE sessions(id INTEGER PRIMARY KEY,"
    " patient_id INTEGER REFERENCES patients(id), started REAL NOT NULL, ended REAL,"
    " status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),"
    " resumes INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX sessions_patient ON sessions(patient_id, started);"
    "CREATE INDEX sessions_started ON sessions(started);"
    "CREATE TABLE sets(id INTEGER PRIMARY KEY,"
    " session_id INTEGER NOT NULL REFERENCES sessions(id), n INTEGER NOT NULL,"
    " started REAL NOT NULL, ended REAL, counted INTEGER NOT NULL DEFAULT 0,"
    " rejected INTEGER NOT NULL DEFAULT 0, in_band_share REAL,"
    " pain INTEGER CHECK (pain BETWEEN 0 AND 10), pain_t REAL,"
    " UNIQUE (session_id, n));"
    "CREATE TABLE reps(id INTEGER PRIMARY KEY,"
    " set_id INTEGER NOT NULL REFERENCES sets(id), n INTEGER NOT NULL, stroke INTEGER,"
    " t REAL NOT NULL, duration_s REAL, travel_m REAL, peak_n REAL, mean_n REAL,"
    " in_band_s REAL, in_band_share REAL, work_j REAL, UNIQUE (set_id, n));"
    "CREATE TABLE rejects(id INTEGER PRIMARY KEY, set_id INTEGER REFERENCES sets(id),"
    " stroke INTEGER, t REAL NOT NULL, verdict TEXT NOT NULL, duration_s REAL,"
    " travel_m REAL, peak_n REAL, mean_n REAL, in_band_s REAL, in_band_share REAL,"
    " work_j REAL);"
    "CREATE INDEX rejects_set ON rejects(set_id);"
    "CREATE TABLE faults(id INTEGER PRIMARY KEY,"
    " session_id INTEGER REFERENCES sessions(id), t REAL NOT NULL, fault TEXT NOT NULL,"
    " value REAL, limit_value REAL, reset_t REAL);"
    "CREATE INDEX faults_session ON faults(session_id);"
    "CREATE INDEX faults_open ON faults(fault, reset_t);"
    "CREATE TABLE calibrations(id INTEGER PRIMARY KEY, t REAL NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('tare', 'span')), \"offset\" REAL,"
    " scale REAL, mass_kg REAL NOT NULL DEFAULT 0);"
    "PRAGMA application_id = 1162036036;",
    /* 2: what carrying on a set after a restart needs to give the whole set's figures:
     * each stroke's loaded window (the set's time in band is over the windows) and the
     * time the set has run, kept on every stroke (s on eccd's clock, not wall time: a
     * restart, or a wall clock set back, cannot bend it). */
    "ALTER TABLE reps ADD COLUMN window_s REAL;"
    "ALTER TABLE rejects ADD COLUMN window_s REAL;"
    "ALTER TABLE sets ADD COLUMN duration_s REAL;",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration per schema version");
_Static_assert(APP_ID == 1162036036, "the application_id in migration 1");

/* ---- statements, prepared once ------------------------------------------------------ */

struct sql {
    const char *what, *text;
};

enum wstmt {
    W_BEGIN = 0, W_COMMIT, W_ROLLBACK, W_PATIENT_EXISTS, W_SESSION_INSERT, W_SESSION_RESUMED,
    W_SESSION_END, W_SESSION_OPEN, W_SET_INSERT, W_SET_FIND, W_SET_END, W_REP_INSERT,
    W_SET_COUNTED, W_REJECT_INSERT, W_SET_REJECTED, W_FAULT_INSERT, W_FAULT_RESET,
    W_CAL_INSERT, W_PATIENT_ADD, W_SELECT_SET, W_SELECT_GET, W_PAIN_FIND, W_PAIN_SET,
    W_COUNT
};

static const struct sql wsql[W_COUNT] = {
    [W_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
    [W_COMMIT] = {"commit", "COMMIT"},
    [W_ROLLBACK] = {"rollback", "ROLLBACK"},
    [W_PATIENT_EXISTS] = {"find patient", "SELECT 1 FROM patients WHERE id = ?1"},
    [W_SESSION_INSERT] = {"insert session",
                          "INSERT INTO sessions(patient_id, started) VALUES (?1, ?2)"},
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
                       " force_abort) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
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
};

enum rstmt {
    R_PATIENT_LIST = 0, R_PATIENT_GET, R_SELECTED, R_RECENT, R_FIND_OPEN, R_OPEN_SET,
    R_SET_STROKES, R_OPEN_SET_REJECTS, R_OPEN_SESSION_SUMS, R_HISTORY, R_EXPORT, R_COUNT
};

#define PATIENT_COLS "id, name, created, force_low, force_high, speed_max, force_abort"
#define OF_PATIENT "(?1 = 0 OR s.patient_id = ?1) AND s.started >= ?2"

static const struct sql rsql[R_COUNT] = {
    [R_PATIENT_LIST] = {"list patients",
                        "SELECT " PATIENT_COLS " FROM patients ORDER BY id LIMIT ?1"},
    [R_PATIENT_GET] = {"read patient", "SELECT " PATIENT_COLS " FROM patients WHERE id = ?1"},
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
    [R_HISTORY] = {"history",
                   "SELECT s.id, s.started, s.ended, s.status = 'done', st.n, st.started,"
                   " st.counted, st.rejected, st.in_band_share, st.pain,"
                   " (SELECT count(*) FROM faults f WHERE f.session_id = s.id)"
                   " FROM sessions s LEFT JOIN sets st ON st.session_id = s.id"
                   " WHERE " OF_PATIENT " ORDER BY s.started, s.id, st.n"},
    [R_EXPORT] = {"export",
                  "SELECT s.patient_id, p.name, s.id, s.started, st.n, r.n, r.stroke, r.t,"
                  " r.duration_s, r.travel_m, r.peak_n, r.mean_n, r.in_band_s,"
                  " r.in_band_share, r.work_j, st.pain"
                  " FROM reps r JOIN sets st ON st.id = r.set_id"
                  " JOIN sessions s ON s.id = st.session_id"
                  " LEFT JOIN patients p ON p.id = s.patient_id"
                  " WHERE " OF_PATIENT " ORDER BY s.started, s.id, st.n, r.n"},
};

/* ---- the store ---------------------------------------------------------------------- */

struct cal {
    double wall;
    enum store_cal_kind kind;
    double offset, scale, mass_kg;
};

enum item_kind { ITEM_EVENT = 0, ITEM_CAL };

struct item {
    uint64_t seq;
    double mono;                /* CLOCK_MONOTONIC s when pushed */
    enum item_kind kind;
    union {
        struct ctl_event ev;
        struct cal cal;
    } u;
};

enum job_kind { JOB_PATIENT_ADD = 0, JOB_PATIENT_SELECT, JOB_PAIN, JOB_ATTACH };

struct job {                    /* on the caller's stack: it waits until done */
    enum job_kind kind;
    uint64_t after;             /* ring items pushed before it was queued */
    struct store_patient *patient;  /* PATIENT_ADD: in; id out */
    long id;                    /* PATIENT_SELECT, PAIN: patient (0: selected); ATTACH: session */
    int score;                  /* PAIN */
    double wall;                /* PAIN: when */
    long session_out;           /* PAIN */
    int set_out;                /* PAIN */
    int rc, err;                /* the outcome, valid once done */
    bool done;
    struct job *next;
};

struct wstate {                 /* the writer's "current" (restored when a batch fails) */
    long patient;               /* the selected patient (0: none) */
    long session;               /* the open session events go to (0: none) */
    long set;                   /* row id of its current set (0: none) */
    int set_n;                  /* ... and its number */
};

struct store {
    char *path;
    sqlite3 *db;                /* the writer's */
    sqlite3 *rdb;               /* read-only, behind rmu */
    sqlite3_stmt *ws[W_COUNT], *rs[R_COUNT];
    void (*on_durable)(void *arg, const struct ctl_event *ev);
    void *arg;

    struct item *ring;          /* cap items, allocated once */
    uint64_t cap;
    _Atomic uint64_t head;      /* items pushed: the producer writes it */
    char pad1[64];              /* keep the two counters on different cache lines */
    _Atomic uint64_t tail;      /* items taken: the writer writes it */
    char pad2[64];
    atomic_long dropped;
    sem_t wake;                 /* the writer waits on it; posted by a push that finds it
                                   asleep, by every job and by store_close */
    atomic_bool sleeping;       /* the writer is (about to be) waiting on wake */

    struct item *batch;         /* the writer's: taken, not yet committed (cap items) */
    uint64_t batch_n, taken;
    struct wstate w;
    _Atomic uint64_t durable;
    atomic_long commits, errors;
    _Atomic uint64_t lag_max_ns;
    int wal_pages;              /* in the WAL after the latest commit (the writer's) */
    atomic_bool stop;
    pthread_t thread;
    bool running;

    pthread_mutex_t jmu;        /* the job list; jcv: a job done, or durable moved */
    pthread_cond_t jcv;
    struct job *jobs, **jobs_tail;
    atomic_int jobs_queued;     /* in the job list (for store_stats) */

    pthread_mutex_t rmu;        /* the read connection */
};

/* ---- small helpers ------------------------------------------------------------------ */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

__attribute__((format(printf, 4, 5)))
static void set_err(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!err || !errlen)
        return;
    n = snprintf(err, errlen, "%s: ", path);
    if (n < 0 || (size_t)n >= errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static void bind_id(sqlite3_stmt *st, int i, long id)     /* 0: NULL */
{
    if (id)
        sqlite3_bind_int64(st, i, id);
    else
        sqlite3_bind_null(st, i);
}

static void bind_text(sqlite3_stmt *st, int i, const char *text)
{
    sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
}

static void bind_figures(sqlite3_stmt *st, int i, const struct rep_figures *f)
{
    bind_real(st, i, f->duration_s);
    bind_real(st, i + 1, f->travel_m);
    bind_real(st, i + 2, f->peak_n);
    bind_real(st, i + 3, f->mean_n);
    bind_real(st, i + 4, f->in_band_s);
    bind_real(st, i + 5, f->in_band_share);
    bind_real(st, i + 6, f->work_j);
    bind_real(st, i + 7, f->window_s);
}

static double col_real(sqlite3_stmt *st, int i)            /* NULL: NAN */
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int col_int(sqlite3_stmt *st, int i, int null)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? null : sqlite3_column_int(st, i);
}

static void col_name(sqlite3_stmt *st, int i, char *out)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = t ? strnlen((const char *)t, STORE_NAME_MAX - 1) : 0;

    memcpy(out, t ? (const char *)t : "", n);
    out[n] = '\0';
}

static void count_error(struct store *s)
{
    atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
}

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

static int prepare_all(sqlite3 *db, const struct sql *sql, sqlite3_stmt **st, int n,
                       const char *path, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(db, sql[i].text, -1, SQLITE_PREPARE_PERSISTENT, &st[i],
                               NULL) != SQLITE_OK) {
            set_err(err, errlen, path, "%s: %s", sql[i].what, sqlite3_errmsg(db));
            return -1;
        }
    }
    return 0;
}

static void finalize_all(sqlite3_stmt **st, int n)
{
    for (int i = 0; i < n; i++) {
        sqlite3_finalize(st[i]);
        st[i] = NULL;
    }
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
    sqlite3_stmt *find = s->ws[W_PAIN_FIND], *set = s->ws[W_PAIN_SET];
    long patient = j->id ? j->id : s->w.patient;
    long set_id;
    int rc;

    sqlite3_bind_int64(find, 1, patient);
    rc = w_step(s, W_PAIN_FIND);
    if (rc != SQLITE_ROW)
        return job_fail(j, rc < 0 ? EIO : ENOENT);
    set_id = (long)sqlite3_column_int64(find, 0);
    j->session_out = (long)sqlite3_column_int64(find, 1);
    j->set_out = sqlite3_column_int(find, 2);
    sqlite3_reset(find);
    sqlite3_bind_int64(set, 1, set_id);
    sqlite3_bind_int(set, 2, j->score);
    bind_real(set, 3, j->wall);
    return w_exec(s, W_PAIN_SET) == 0 ? 0 : job_fail(j, EIO);
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
    }
    if (j->rc != 0 && j->err == EIO)
        count_error(s);
}

/* Queue a job and wait until the writer has committed it. */
static int job_submit(struct store *s, struct job *j)
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

static void rollback(struct store *s)
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
    rollback(s);
    s->w = saved;
    return -1;
}

static void lag_note(struct store *s, double oldest_mono)
{
    uint64_t ns = (uint64_t)((clock_s(CLOCK_MONOTONIC) - oldest_mono) * 1e9);
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

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
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

static void *writer_main(void *arg)
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

/* ---- the control loop's side -------------------------------------------------------- */

/* A free slot stamped with its sequence number and time, or NULL (full: counted). */
static struct item *ring_slot(struct store *s, uint64_t *head)
{
    uint64_t h = atomic_load_explicit(&s->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&s->tail, memory_order_acquire);
    struct item *it;

    if (h - t >= s->cap) {
        atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
        return NULL;
    }
    it = &s->ring[h % s->cap];
    it->seq = h + 1;
    it->mono = clock_s(CLOCK_MONOTONIC);
    *head = h;
    return it;
}

/* Make the item visible; wake the writer only if it sleeps (see writer_sleep), once. */
static uint64_t ring_publish(struct store *s, uint64_t head)
{
    atomic_store(&s->head, head + 1);
    if (atomic_load(&s->sleeping) && atomic_exchange(&s->sleeping, false))
        sem_post(&s->wake);
    return head + 1;
}

uint64_t store_push_event(struct store *s, const struct ctl_event *ev)
{
    uint64_t head;
    struct item *it = ring_slot(s, &head);

    if (!it)
        return 0;
    it->kind = ITEM_EVENT;
    it->u.ev = *ev;
    return ring_publish(s, head);
}

uint64_t store_push_calibration(struct store *s, double wall, enum store_cal_kind kind,
                                double offset, double scale, double mass_kg)
{
    uint64_t head;
    struct item *it = ring_slot(s, &head);

    if (!it)
        return 0;
    it->kind = ITEM_CAL;
    it->u.cal = (struct cal){.wall = wall, .kind = kind, .offset = offset, .scale = scale,
                             .mass_kg = mass_kg};
    return ring_publish(s, head);
}

uint64_t store_durable(const struct store *s)
{
    return atomic_load_explicit(&s->durable, memory_order_acquire);
}

void store_stats(const struct store *s, struct store_stats *st)
{
    uint64_t head = atomic_load_explicit(&s->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&s->tail, memory_order_acquire);

    st->pushed = head;
    st->durable = store_durable(s);
    st->dropped = atomic_load_explicit(&s->dropped, memory_order_relaxed);
    st->commits = atomic_load_explicit(&s->commits, memory_order_relaxed);
    st->errors = atomic_load_explicit(&s->errors, memory_order_relaxed);
    st->queued = (int)(head - tail);
    st->jobs = atomic_load_explicit(&s->jobs_queued, memory_order_relaxed);
    st->lag_max_s = (double)atomic_load_explicit(&s->lag_max_ns, memory_order_relaxed) * 1e-9;
}

int store_flush(struct store *s, double timeout_s)
{
    uint64_t target = atomic_load_explicit(&s->head, memory_order_acquire);
    double until = clock_s(CLOCK_MONOTONIC) + (timeout_s > 0.0 ? timeout_s : 0.0);
    struct timespec dl = {.tv_sec = (time_t)until};
    bool ok;

    dl.tv_nsec = (long)((until - (double)dl.tv_sec) * 1e9);
    pthread_mutex_lock(&s->jmu);
    while (store_durable(s) < target &&
           pthread_cond_timedwait(&s->jcv, &s->jmu, &dl) != ETIMEDOUT)
        ;
    ok = store_durable(s) >= target;
    pthread_mutex_unlock(&s->jmu);
    if (!ok)
        errno = ETIMEDOUT;
    return ok ? 0 : -1;
}

/* ---- opening ------------------------------------------------------------------------ */

/* Before touching an existing file, check (read-only, no checkpoint on close) that it is
 * ours and not newer: a refused file is left exactly as it was. */
static int probe(const char *path, char *err, size_t errlen)
{
    static const char q[] = "SELECT (SELECT user_version FROM pragma_user_version),"
                            " (SELECT application_id FROM pragma_application_id),"
                            " (SELECT count(*) FROM sqlite_master)";
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc, version = 0, app = 0, objects = 0;

    if (access(path, F_OK) != 0)
        return 0;                               /* created below */
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
        rc = sqlite3_prepare_v2(db, q, -1, &st, NULL);
    }
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        version = sqlite3_column_int(st, 0);
        app = sqlite3_column_int(st, 1);
        objects = sqlite3_column_int(st, 2);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        set_err(err, errlen, path, "%s", db ? sqlite3_errmsg(db) : "cannot open");
        errno = rc == SQLITE_NOTADB ? EINVAL : EIO;
    } else if (version > STORE_SCHEMA_VERSION) {
        set_err(err, errlen, path, "schema version %d is newer than this eccd's (%d): "
                "not opened, not changed; use a newer eccd", version, STORE_SCHEMA_VERSION);
        errno = ENOTSUP;
        rc = -1;
    } else if ((app != 0 && app != APP_ID) || (app == 0 && (version > 0 || objects > 0))) {
        set_err(err, errlen, path, "not an eccd database (another program's): not opened");
        errno = EINVAL;
        rc = -1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static int exec_sql(struct store *s, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    set_err(err, errlen, s->path, "%s", sqlite3_errmsg(s->db));
    errno = EIO;
    return -1;
}

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int v = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Apply migration v (to version v) inside the open transaction. */
static int migrate_one(struct store *s, int v, char *err, size_t errlen)
{
    char sql[64];

    if (exec_sql(s, migrations[v - 1], err, errlen) != 0)
        return -1;
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);     /* an int, not user data */
    return exec_sql(s, sql, err, errlen);
}

/* Bring the schema up to date, one transaction per migration. */
static int migrate(struct store *s, char *err, size_t errlen)
{
    for (;;) {
        if (exec_sql(s, "BEGIN IMMEDIATE", err, errlen) != 0)
            return -1;
        int v = user_version(s->db);
        if (v == STORE_SCHEMA_VERSION)
            return exec_sql(s, "COMMIT", err, errlen);
        if (v < 0 || v > STORE_SCHEMA_VERSION) {
            set_err(err, errlen, s->path, "schema version %d: not this eccd's (%d)", v,
                    STORE_SCHEMA_VERSION);
            errno = ENOTSUP;
            exec_sql(s, "ROLLBACK", NULL, 0);
            return -1;
        }
        if (migrate_one(s, v + 1, err, errlen) != 0 ||
            exec_sql(s, "COMMIT", err, errlen) != 0) {
            rollback(s);
            return -1;
        }
        log_info("%s: schema brought to version %d", s->path, v + 1);
    }
}

static int writer_open(struct store *s, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    bool wal = false;

    if (rc != SQLITE_OK) {
        set_err(err, errlen, s->path, "%s", s->db ? sqlite3_errmsg(s->db) : "cannot open");
        errno = EIO;
        return -1;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_wal_hook(s->db, wal_hook, s);          /* replaces the automatic checkpoint */
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        set_err(err, errlen, s->path, "cannot switch to WAL mode: %s", sqlite3_errmsg(s->db));
        errno = EIO;
        return -1;
    }
    return exec_sql(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", err, errlen);
}

/* A file without patients gets "patient" (the config's settings); a missing or stale
 * selection falls to the first patient. */
static int patients_init(struct store *s, char *err, size_t errlen)
{
    struct store_patient p = {.name = "patient", .created = clock_s(CLOCK_REALTIME),
                              .force_low = NAN, .force_high = NAN, .speed_max = NAN,
                              .force_abort = NAN};
    sqlite3_stmt *get = s->ws[W_SELECT_GET];
    long selected = 0, first = 0;

    if (exec_sql(s, "BEGIN IMMEDIATE", err, errlen) != 0)
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
        set_err(err, errlen, s->path, "cannot set up the patients: %s", sqlite3_errmsg(s->db));
        errno = EIO;
        rollback(s);
        return -1;
    }
    return exec_sql(s, "COMMIT", err, errlen);
}

static int reader_open(struct store *s, char *err, size_t errlen)
{
    if (sqlite3_open_v2(s->path, &s->rdb, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        set_err(err, errlen, s->path, "read connection: %s",
                s->rdb ? sqlite3_errmsg(s->rdb) : "cannot open");
        errno = EIO;
        return -1;
    }
    sqlite3_busy_timeout(s->rdb, BUSY_TIMEOUT_MS);
    if (prepare_all(s->rdb, rsql, s->rs, R_COUNT, s->path, err, errlen) != 0) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* Everything that cannot fail in interesting ways: memory and the sync objects. */
static struct store *store_alloc(const struct store_params *p)
{
    struct store *s = calloc(1, sizeof *s);
    pthread_condattr_t ca;

    if (!s)
        return NULL;
    s->cap = (uint64_t)p->queue_len;
    s->path = strdup(p->path);
    s->ring = calloc(s->cap, sizeof *s->ring);
    s->batch = calloc(s->cap, sizeof *s->batch);
    s->on_durable = p->on_durable;
    s->arg = p->arg;
    s->jobs_tail = &s->jobs;
    sem_init(&s->wake, 0, 0);
    pthread_mutex_init(&s->jmu, NULL);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->jcv, &ca);
    pthread_condattr_destroy(&ca);
    return s;
}

/* Finalize, checkpoint, close and free (the thread is not running). */
static void store_free(struct store *s)
{
    finalize_all(s->rs, R_COUNT);
    sqlite3_close(s->rdb);
    finalize_all(s->ws, W_COUNT);
    if (s->running &&
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK)
        log_warn("%s: checkpoint: %s", s->path, sqlite3_errmsg(s->db));
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        log_warn("%s: close: %s", s->path, sqlite3_errmsg(s->db));
    sem_destroy(&s->wake);
    pthread_mutex_destroy(&s->jmu);
    pthread_mutex_destroy(&s->rmu);
    pthread_cond_destroy(&s->jcv);
    free(s->ring);
    free(s->batch);
    free(s->path);
    free(s);
}

static int store_setup(struct store *s, char *err, size_t errlen)
{
    sigset_t all, old;
    int rc;

    if (probe(s->path, err, errlen) != 0 || writer_open(s, err, errlen) != 0 ||
        migrate(s, err, errlen) != 0)
        return -1;
    if (prepare_all(s->db, wsql, s->ws, W_COUNT, s->path, err, errlen) != 0) {
        errno = EIO;
        return -1;
    }
    if (patients_init(s, err, errlen) != 0 || reader_open(s, err, errlen) != 0)
        return -1;
    sigfillset(&all);                   /* signals go to eccd's other threads, not this one */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&s->thread, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        set_err(err, errlen, s->path, "writer thread: %s", strerror(rc));
        errno = rc;
        return -1;
    }
    s->running = true;
    return 0;
}

struct store *store_open(const struct store_params *p, char *err, size_t errlen)
{
    struct store *s;

    if (!p || !p->path || !p->path[0] || p->queue_len < QUEUE_MIN || p->queue_len > QUEUE_MAX) {
        set_err(err, errlen, p && p->path ? p->path : "store",
                "needs a path and a queue of %d .. %d events", QUEUE_MIN, QUEUE_MAX);
        errno = EINVAL;
        return NULL;
    }
    s = store_alloc(p);
    if (!s || !s->path || !s->ring || !s->batch) {
        set_err(err, errlen, p->path, "out of memory");
        if (s)
            store_free(s);
        errno = ENOMEM;
        return NULL;
    }
    if (store_setup(s, err, errlen) != 0) {
        int e = errno;
        store_free(s);
        errno = e;
        return NULL;
    }
    return s;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->running) {
        atomic_store(&s->stop, true);
        sem_post(&s->wake);
        pthread_join(s->thread, NULL);
    }
    store_free(s);
}

/* ---- the blocking writes ------------------------------------------------------------ */

/* One UTF-8 sequence: its length and code point, 0 if malformed (or at the end). */
static int utf8_decode(const unsigned char *p, uint32_t *cp)
{
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    int n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
          : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    uint32_t c;

    if (!n)
        return 0;
    c = n == 1 ? p[0] : p[0] & (0x7fu >> n);
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* 1..STORE_NAME_MAX-1 bytes of UTF-8 with no control characters (C0, DEL, C1). */
static bool name_ok(const char *name)
{
    size_t len = strnlen(name, STORE_NAME_MAX);
    const unsigned char *p = (const unsigned char *)name;

    if (len == 0 || len >= STORE_NAME_MAX)
        return false;
    while (*p) {
        uint32_t c;
        int n = utf8_decode(p, &c);
        if (!n || c < 0x20 || (c >= 0x7f && c < 0xa0))
            return false;
        p += n;
    }
    return true;
}

static bool setting_ok(double v)        /* NAN (the config's) or a positive number */
{
    return isnan(v) || (isfinite(v) && v > 0.0);
}

int store_patient_add(struct store *s, struct store_patient *p, char *err, size_t errlen)
{
    struct job j = {.kind = JOB_PATIENT_ADD, .patient = p};

    if (!name_ok(p->name)) {
        set_err(err, errlen, s->path, "a patient's name is 1..%d bytes of UTF-8 without "
                "control characters", STORE_NAME_MAX - 1);
        errno = EINVAL;
        return -1;
    }
    if (!setting_ok(p->force_low) || !setting_ok(p->force_high) || !setting_ok(p->speed_max) ||
        !setting_ok(p->force_abort) || p->force_low >= p->force_high) {
        set_err(err, errlen, s->path, "patient \"%s\": settings must be positive numbers "
                "(force_low < force_high)", p->name);
        errno = EINVAL;
        return -1;
    }
    p->created = clock_s(CLOCK_REALTIME);
    if (job_submit(s, &j) == 0)
        return 0;
    if (j.err == EEXIST)
        set_err(err, errlen, s->path, "patient \"%s\" exists", p->name);
    else
        set_err(err, errlen, s->path, "patient \"%s\" not added: %s", p->name, strerror(j.err));
    errno = j.err;
    return -1;
}

int store_patient_select(struct store *s, long id)
{
    struct job j = {.kind = JOB_PATIENT_SELECT, .id = id};

    if (id <= 0) {
        errno = ENOENT;
        return -1;
    }
    return job_submit(s, &j);
}

int store_pain(struct store *s, long patient, int score, long *session_out, int *set_out)
{
    struct job j = {.kind = JOB_PAIN, .id = patient, .score = score,
                    .wall = clock_s(CLOCK_REALTIME)};

    if (score < 0 || score > 10) {
        errno = EINVAL;
        return -1;
    }
    if (job_submit(s, &j) != 0)
        return -1;
    if (session_out)
        *session_out = j.session_out;
    if (set_out)
        *set_out = j.set_out;
    return 0;
}

int store_attach_session(struct store *s, long session_id)
{
    struct job j = {.kind = JOB_ATTACH, .id = session_id};

    return job_submit(s, &j);
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

/* A read that ended early because the callback said so: -1 ECANCELED. */
static int cancelled(struct store *s, enum rstmt i)
{
    r_end(s, i, SQLITE_DONE);
    errno = ECANCELED;
    return -1;
}

int store_history(struct store *s, long patient, double since,
                  int (*row)(void *arg, const struct store_set_row *r), void *arg)
{
    sqlite3_stmt *st = r_begin(s, R_HISTORY);
    struct store_set_row r;
    int rc;

    sqlite3_bind_int64(st, 1, patient);
    sqlite3_bind_double(st, 2, since);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        history_row(st, &r);
        if (row(arg, &r) != 0)
            return cancelled(s, R_HISTORY);
    }
    return r_end(s, R_HISTORY, rc);
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

int store_export(struct store *s, long patient, double since,
                 int (*row)(void *arg, const struct store_rep_row *r), void *arg)
{
    sqlite3_stmt *st = r_begin(s, R_EXPORT);
    struct store_rep_row r;
    int rc;

    sqlite3_bind_int64(st, 1, patient);
    sqlite3_bind_double(st, 2, since);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        export_row(st, &r);
        if (row(arg, &r) != 0)
            return cancelled(s, R_EXPORT);
    }
    return r_end(s, R_EXPORT, rc);
}
