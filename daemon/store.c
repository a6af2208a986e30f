/* store.c - the training history in SQLite (see store.h): opening and closing, the control
 * loop's ring, and the blocking writes' API. The schema, the writer thread and the reads
 * are in store_schema.c, store_writer.c and store_query.c (store_impl.h says what they share).
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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon/store_impl.h"
#include "util/log.h"

/* ---- small helpers (for every part of the store) ------------------------------------ */

double store_clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

__attribute__((format(printf, 4, 5)))
void store_set_err(char *err, size_t errlen, const char *path, const char *fmt, ...)
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

int store_prepare_all(sqlite3 *db, const struct sql *sql, sqlite3_stmt **st, int n,
                       const char *path, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(db, sql[i].text, -1, SQLITE_PREPARE_PERSISTENT, &st[i],
                               NULL) != SQLITE_OK) {
            store_set_err(err, errlen, path, "%s: %s", sql[i].what, sqlite3_errmsg(db));
            return -1;
        }
    }
    return 0;
}

void store_finalize_all(sqlite3_stmt **st, int n)
{
    for (int i = 0; i < n; i++) {
        sqlite3_finalize(st[i]);
        st[i] = NULL;
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
    it->mono = store_clock_s(CLOCK_MONOTONIC);
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
    double until = store_clock_s(CLOCK_MONOTONIC) + (timeout_s > 0.0 ? timeout_s : 0.0);
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

static int writer_open(struct store *s, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    bool wal = false;

    if (rc != SQLITE_OK) {
        store_set_err(err, errlen, s->path, "%s", s->db ? sqlite3_errmsg(s->db) : "cannot open");
        errno = EIO;
        return -1;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_wal_hook(s->db, store_wal_hook, s);          /* replaces the automatic checkpoint */
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        store_set_err(err, errlen, s->path, "cannot switch to WAL mode: %s", sqlite3_errmsg(s->db));
        errno = EIO;
        return -1;
    }
    return store_exec(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", err, errlen);
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
    store_reader_close(s);
    store_writer_finalize(s);
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

    if (store_schema_probe(s->path, err, errlen) != 0 || writer_open(s, err, errlen) != 0 ||
        store_schema_migrate(s, err, errlen) != 0)
        return -1;
    if (store_writer_prepare(s, err, errlen) != 0 || store_reader_open(s, err, errlen) != 0)
        return -1;
    sigfillset(&all);                   /* signals go to eccd's other threads, not this one */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&s->thread, NULL, store_writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        store_set_err(err, errlen, s->path, "writer thread: %s", strerror(rc));
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
        store_set_err(err, errlen, p && p->path ? p->path : "store",
                "needs a path and a queue of %d .. %d events", QUEUE_MIN, QUEUE_MAX);
        errno = EINVAL;
        return NULL;
    }
    s = store_alloc(p);
    if (!s || !s->path || !s->ring || !s->batch) {
        store_set_err(err, errlen, p->path, "out of memory");
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
        store_set_err(err, errlen, s->path, "a patient's name is 1..%d bytes of UTF-8 without "
                "control characters", STORE_NAME_MAX - 1);
        errno = EINVAL;
        return -1;
    }
    if (!setting_ok(p->force_low) || !setting_ok(p->force_high) || !setting_ok(p->speed_max) ||
        !setting_ok(p->force_abort) || p->force_low >= p->force_high) {
        store_set_err(err, errlen, s->path, "patient \"%s\": settings must be positive numbers "
                "(force_low < force_high)", p->name);
        errno = EINVAL;
        return -1;
    }
    if (!(p->created > 0.0))
        p->created = store_clock_s(CLOCK_REALTIME);
    if (store_job_submit(s, &j) == 0)
        return 0;
    if (j.err == EEXIST)
        store_set_err(err, errlen, s->path, "patient \"%s\" exists", p->name);
    else
        store_set_err(err, errlen, s->path, "patient \"%s\" not added: %s", p->name, strerror(j.err));
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
    return store_job_submit(s, &j);
}

int store_pain(struct store *s, long patient, int score, long *session_out, int *set_out)
{
    struct job j = {.kind = JOB_PAIN, .id = patient, .score = score,
                    .wall = store_clock_s(CLOCK_REALTIME)};

    if (score < 0 || score > 10) {
        errno = EINVAL;
        return -1;
    }
    if (store_job_submit(s, &j) != 0)
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

    return store_job_submit(s, &j);
}
