/* store_impl.h - what the parts of the history store share (private to daemon/store*.c).
 *
 * The store is four files: store.c (opening and closing, the control loop's ring, the
 * blocking writes' API), store_schema.c (the migrations and the check of a file before it
 * is touched), store_writer.c (the writer thread: events, jobs, batches, checkpoints) and
 * store_query.c (the reads, and the cursors that stream history and export). Their shared
 * state is struct store below; who touches which part is said beside it.
 */
#ifndef ECC_STORE_IMPL_H
#define ECC_STORE_IMPL_H

#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "daemon/store.h"

#define APP_ID 0x45434344       /* PRAGMA application_id: "ECCD" */
#define BUSY_TIMEOUT_MS 5000
#define STORE_CURSOR_CACHE_KIB "256"   /* a cursor's page cache */
#define QUEUE_MIN 16
#define QUEUE_MAX (1 << 20)
#define RETRY_FIRST_S 0.05      /* pause after a failed commit, doubling ... */
#define RETRY_MAX_S 1.0         /* ... up to this */
#define CLOSE_TRIES 3           /* failed commits store_close accepts before giving up */
#define CHECKPOINT_PAGES 1000   /* WAL pages after which the writer checkpoints (passive) */

/* ---- statements, prepared once ------------------------------------------------------ */

struct sql {
    const char *what, *text;
};

enum wstmt {
    W_BEGIN = 0, W_COMMIT, W_ROLLBACK, W_PATIENT_EXISTS, W_SESSION_INSERT, W_SESSION_RESUMED,
    W_SESSION_END, W_SESSION_OPEN, W_SET_INSERT, W_SET_FIND, W_SET_END, W_REP_INSERT,
    W_SET_COUNTED, W_REJECT_INSERT, W_SET_REJECTED, W_FAULT_INSERT, W_FAULT_RESET,
    W_CAL_INSERT, W_PATIENT_ADD, W_SELECT_SET, W_SELECT_GET, W_PAIN_FIND, W_PAIN_SET,
    W_PROG_INSERT, W_PROG_LEVEL, W_PROG_BAND, W_PROG_BASELINE, W_CHECKIN_INSERT,
    W_COUNT
};

enum rstmt {
    R_PATIENT_LIST = 0, R_PATIENT_GET, R_PATIENT_UUID, R_SELECTED, R_RECENT, R_FIND_OPEN, R_OPEN_SET,
    R_SET_STROKES, R_OPEN_SET_REJECTS, R_OPEN_SESSION_SUMS, R_COUNT
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

enum job_kind { JOB_PATIENT_ADD = 0, JOB_PATIENT_SELECT, JOB_PAIN, JOB_ATTACH, JOB_CALL };

struct job {                    /* on the caller's stack: it waits until done */
    enum job_kind kind;
    uint64_t after;             /* ring items pushed before it was queued */
    struct store_patient *patient;  /* PATIENT_ADD: in; id out */
    long id;                    /* PATIENT_SELECT, PAIN: patient (0: selected); ATTACH: session */
    int score;                  /* PAIN */
    double wall;                /* PAIN: when */
    long session_out;           /* PAIN */
    int set_out;                /* PAIN */
    /* CALL: fn runs on the writer thread inside its transaction (0, or an errno) */
    int (*fn)(struct store *s, sqlite3 *db, void *arg);
    void *arg;
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

/* ---- small helpers (store.c) -------------------------------------------------------- */

double store_clock_s(clockid_t id);
__attribute__((format(printf, 4, 5)))
void store_set_err(char *err, size_t errlen, const char *path, const char *fmt, ...);
int store_prepare_all(sqlite3 *db, const struct sql *sql, sqlite3_stmt **st, int n,
                      const char *path, char *err, size_t errlen);
void store_finalize_all(sqlite3_stmt **st, int n);

static inline void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static inline void bind_id(sqlite3_stmt *st, int i, long id)     /* 0: NULL */
{
    if (id)
        sqlite3_bind_int64(st, i, id);
    else
        sqlite3_bind_null(st, i);
}

static inline void bind_text(sqlite3_stmt *st, int i, const char *text)
{
    sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
}

static inline void bind_figures(sqlite3_stmt *st, int i, const struct rep_figures *f)
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

static inline double col_real(sqlite3_stmt *st, int i)            /* NULL: NAN */
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static inline int col_int(sqlite3_stmt *st, int i, int null)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? null : sqlite3_column_int(st, i);
}

static inline void col_name(sqlite3_stmt *st, int i, char *out)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = t ? strnlen((const char *)t, STORE_NAME_MAX - 1) : 0;

    memcpy(out, t ? (const char *)t : "", n);
    out[n] = '\0';
}

static inline void count_error(struct store *s)
{
    atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
}
/* ---- store_schema.c ----------------------------------------------------------------- */

/* Before touching an existing file (read-only): it is ours and not newer. 0, or -1 with
 * errno and err (the file untouched). */
int store_schema_probe(const char *path, char *err, size_t errlen);
/* Bring the writer's connection's schema up to STORE_SCHEMA_VERSION. */
int store_schema_migrate(struct store *s, char *err, size_t errlen);
/* sqlite3_exec on the writer's connection: 0, or -1 EIO with err. */
int store_exec(struct store *s, const char *sql, char *err, size_t errlen);

/* ---- store_writer.c ------------------------------------------------------------------ */

/* Prepare the writer's statements and make sure there is a patient and a selection. */
int store_writer_prepare(struct store *s, char *err, size_t errlen);
void store_writer_finalize(struct store *s);
void *store_writer_main(void *arg);
/* Queue a job and wait until the writer has committed it: 0, or -1 with errno. */
int store_job_submit(struct store *s, struct job *j);
/* Roll back the writer's open transaction, if any. */
void store_rollback(struct store *s);
int store_wal_hook(void *arg, sqlite3 *db, const char *name, int pages);

/* ---- store_query.c ------------------------------------------------------------------- */

/* Open the read-only connection and prepare its statements; store_reader_close undoes
 * it (safe on a half-opened store). */
int store_reader_open(struct store *s, char *err, size_t errlen);
void store_reader_close(struct store *s);

#endif
