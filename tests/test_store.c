/* test_store.c - the SQLite training history: schema and migrations, patients, the event
 * mapping, resuming, faults, calibrations, the ring and durability, a crash. */
#include "daemon/store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/log.h"
#include "tests/test.h"

#define T0 1700000000.0         /* UTC s: the tests' day */
#define WAIT_S 10.0             /* flush timeout: generous, only a hang would need it */

/* ---- scratch files ------------------------------------------------------------------ */

struct tmp {
    char dir[64];
    char db[128];
};

/* A fresh scratch directory for the history file; false if none could be made. */
static bool tmp_make(struct tmp *t)
{
    log_set_level(LOG_LVL_WARN);            /* no "schema brought to version 1" lines */
    snprintf(t->dir, sizeof t->dir, "/tmp/ecc-store-XXXXXX");
    if (!mkdtemp(t->dir))
        return false;
    snprintf(t->db, sizeof t->db, "%s/history.db", t->dir);
    return true;
}

static void tmp_clean(struct tmp *t)
{
    static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
    char path[160];

    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        snprintf(path, sizeof path, "%s%s", t->db, ext[i]);
        unlink(path);
    }
    rmdir(t->dir);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static size_t slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, len, f) : 0;

    if (f)
        fclose(f);
    return n;
}

/* ---- looking at the file behind the store's back ------------------------------------ */

/* The first column of the first row as a number (NAN: no row, NULL or error). */
static double q_num(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    double v = NAN;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_double(st, 0);
    else if (db && !st)
        printf("  sql error: %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void q_text(const char *path, const char *sql, char *out, size_t len)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    snprintf(out, len, "(none)");
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void check_integrity(const char *path)
{
    char text[256];

    q_text(path, "PRAGMA integrity_check", text, sizeof text);
    CHECK(strcmp(text, "ok") == 0);
    CHECK_INT(q_num(path, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

/* ---- opening ------------------------------------------------------------------------ */

static struct store *open_q(const char *path, int queue_len,
                            void (*cb)(void *, const struct ctl_event *), void *arg)
{
    struct store_params p = {.path = path, .queue_len = queue_len, .on_durable = cb,
                             .arg = arg};
    char err[256] = "";
    struct store *s = store_open(&p, err, sizeof err);

    if (!s)
        printf("  store_open: %s\n", err);
    return s;
}

static struct store *open_db(const char *path)
{
    return open_q(path, 256, NULL, NULL);
}

/* ---- events ------------------------------------------------------------------------- */

static struct ctl_event ev_make(enum ctl_event_kind kind, int set, double wall)
{
    return (struct ctl_event){.kind = kind, .session = 1, .set = set, .wall = wall,
                              .t = wall - T0};
}

static struct rep_figures figures(int k, enum rep_verdict v)
{
    return (struct rep_figures){.duration_s = 2.0 + 0.1 * k, .travel_m = 0.5 + 0.01 * k,
                                .peak_n = 300.0 + k, .mean_n = 200.0 + k,
                                .in_band_s = 1.5 + 0.1 * k, .in_band_share = 0.9,
                                .work_j = 100.0 + k, .verdict = v};
}

static uint64_t push(struct store *s, struct ctl_event ev)
{
    uint64_t seq = store_push_event(s, &ev);
    CHECK(seq > 0);
    return seq;
}

static void push_session_start(struct store *s, long patient, double wall)
{
    struct ctl_event ev = ev_make(CTL_EV_SESSION_START, 0, wall);
    ev.patient = patient;
    push(s, ev);
}

static void push_set_start(struct store *s, int set, double wall, bool resumed, int reps)
{
    struct ctl_event ev = ev_make(CTL_EV_SET_START, set, wall);
    ev.resumed = resumed;
    ev.rep = reps;
    push(s, ev);
}

static uint64_t push_rep(struct store *s, int set, int rep, double wall)
{
    struct ctl_event ev = ev_make(CTL_EV_REP, set, wall);
    ev.rep = rep;
    ev.stroke = rep;
    ev.fig = figures(rep, REP_COUNTED);
    return push(s, ev);
}

static void push_reject(struct store *s, int set, enum rep_verdict v, double wall)
{
    struct ctl_event ev = ev_make(CTL_EV_REJECT, set, wall);
    ev.stroke = 99;
    ev.fig = figures(50, v);
    push(s, ev);
}

static void push_set_end(struct store *s, int set, int counted, int rejected, double share,
                         double wall)
{
    struct ctl_event ev = ev_make(CTL_EV_SET, set, wall);
    ev.rep = counted;
    ev.sum.counted = counted;
    ev.sum.rejected = rejected;
    ev.sum.in_band_share = share;
    push(s, ev);
}

static void push_session_end(struct store *s, double wall)
{
    push(s, ev_make(CTL_EV_SESSION, 0, wall));
}

static void push_fault(struct store *s, enum ctl_event_kind kind, enum fault f, double wall)
{
    struct ctl_event ev = ev_make(kind, 0, wall);
    ev.fault = f;
    ev.value = 700.0;
    ev.limit = 600.0;
    push(s, ev);
}

/* ---- collecting rows ---------------------------------------------------------------- */

#define ROWS_MAX 64

struct hist {
    struct store_set_row r[ROWS_MAX];
    int n;
};

static int hist_row(void *arg, const struct store_set_row *r)
{
    struct hist *h = arg;
    if (h->n < ROWS_MAX)
        h->r[h->n] = *r;
    h->n++;
    return 0;
}

struct exp {
    struct store_rep_row r[ROWS_MAX];
    int n;
};

static int exp_row(void *arg, const struct store_rep_row *r)
{
    struct exp *e = arg;
    if (e->n < ROWS_MAX)
        e->r[e->n] = *r;
    e->n++;
    return 0;
}

static int stop_row(void *arg, const struct store_rep_row *r)
{
    (void)r;
    return ++*(int *)arg >= 2;
}

static long add_patient(struct store *s, const char *name)
{
    struct store_patient p = {.force_low = NAN, .force_high = NAN, .speed_max = NAN,
                              .force_abort = NAN};
    char err[256];

    snprintf(p.name, sizeof p.name, "%s", name);
    if (store_patient_add(s, &p, err, sizeof err) != 0) {
        printf("  store_patient_add: %s\n", err);
        return 0;
    }
    return p.id;
}

static long errors(struct store *s)
{
    struct store_stats st;
    store_stats(s, &st);
    return st.errors;
}

/* ---- tests -------------------------------------------------------------------------- */

TEST(open_creates_and_migrates)
{
    struct tmp t;
    struct store_patient p[4];
    char mode[32];

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    CHECK_INT(q_num(t.db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    q_text(t.db, "PRAGMA journal_mode", mode, sizeof mode);
    CHECK(strcmp(mode, "wal") == 0);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"), 12);
    /* the default patient, selected, with the config's settings */
    CHECK_INT(store_patient_list(s, p, 4), 1);
    CHECK(strcmp(p[0].name, "patient") == 0);
    CHECK(isnan(p[0].force_low) && isnan(p[0].force_high) && isnan(p[0].speed_max) &&
          isnan(p[0].force_abort));
    CHECK(p[0].created > T0);
    CHECK_INT(store_patient_selected(s), p[0].id);
    store_close(s);
    check_integrity(t.db);
    tmp_clean(&t);
}

TEST(empty_file_is_migrated)
{
    struct tmp t;

    REQUIRE(tmp_make(&t));
    FILE *f = fopen(t.db, "w");
    REQUIRE(f != NULL);
    fclose(f);
    struct store *s = open_db(t.db);
    CHECK(s != NULL);
    store_close(s);
    CHECK_INT(q_num(t.db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM patients"), 1);
    tmp_clean(&t);
}

TEST(reopen_keeps_data)
{
    struct tmp t;
    struct hist h = {0};

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    long ann = add_patient(s, "Ann");
    CHECK_INT(store_patient_select(s, ann), 0);
    push_session_start(s, 0, T0);
    push_set_start(s, 1, T0 + 1, false, 0);
    push_rep(s, 1, 1, T0 + 5);
    store_close(s);

    s = open_db(t.db);
    REQUIRE(s != NULL);
    struct store_patient p[4];
    CHECK_INT(store_patient_list(s, p, 4), 2);
    CHECK_INT(store_patient_selected(s), ann);
    CHECK_INT(store_history(s, ann, 0, hist_row, &h), 0);
    CHECK_INT(h.n, 1);
    CHECK_INT(h.r[0].counted, 1);
    CHECK(!h.r[0].session_done);
    CHECK(isnan(h.r[0].session_ended));
    store_close(s);
    CHECK_INT(q_num(t.db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    tmp_clean(&t);
}

/* A file with user_version newer than ours is refused and left byte for byte alone
 * (made in rollback mode, and in WAL mode as a newer eccd would leave it). */
static void newer_refused(bool wal)
{
    static char before[65536], after[65536];
    struct tmp t;
    sqlite3 *db;
    struct stat st0, st1;
    char err[256] = "";

    REQUIRE(tmp_make(&t));
    CHECK_INT(sqlite3_open(t.db, &db), SQLITE_OK);
    if (wal)
        CHECK_INT(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "PRAGMA application_id = 1162036036; PRAGMA user_version = 7;"
                               "CREATE TABLE future(x); INSERT INTO future VALUES (42);",
                           NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    size_t n0 = slurp(t.db, before, sizeof before);
    stat(t.db, &st0);

    struct store_params p = {.path = t.db, .queue_len = 64};
    errno = 0;
    struct store *s = store_open(&p, err, sizeof err);
    CHECK(s == NULL);
    CHECK_INT(errno, ENOTSUP);
    CHECK_STR_CONTAINS(err, t.db);
    CHECK_STR_CONTAINS(err, "newer");
    store_close(s);

    size_t n1 = slurp(t.db, after, sizeof after);
    stat(t.db, &st1);
    CHECK(n0 > 0 && n0 == n1 && memcmp(before, after, n0) == 0);
    CHECK(st0.st_mtim.tv_sec == st1.st_mtim.tv_sec && st0.st_mtim.tv_nsec == st1.st_mtim.tv_nsec);
    char walpath[160];
    snprintf(walpath, sizeof walpath, "%s-wal", t.db);
    CHECK(wal || !exists(walpath));
    CHECK_INT(q_num(t.db, "PRAGMA user_version"), 7);
    tmp_clean(&t);
}

TEST(newer_schema_refused_untouched)
{
    newer_refused(false);
    newer_refused(true);
}

TEST(foreign_and_garbage_files_refused)
{
    struct tmp t;
    sqlite3 *db;
    char err[256] = "";
    struct store_params p = {.path = NULL, .queue_len = 64};

    REQUIRE(tmp_make(&t));
    p.path = t.db;
    CHECK_INT(sqlite3_open(t.db, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "CREATE TABLE other(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CHECK(store_open(&p, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "not an eccd database");
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM sqlite_master"), 1);
    unlink(t.db);

    FILE *f = fopen(t.db, "w");
    if (f) {
        fputs("this is a text file and certainly no database, but it is long enough to have"
              " a header of a hundred bytes, or so one hopes: more text, more text, more.\n", f);
        fclose(f);
    }
    CHECK(store_open(&p, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, t.db);
    CHECK_STR_CONTAINS(err, "not a database");
    tmp_clean(&t);

    p.path = "/nonexistent-dir-for-eccd/history.db";
    CHECK(store_open(&p, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "/nonexistent-dir-for-eccd/history.db: ");
    p.queue_len = 8;
    errno = 0;
    CHECK(store_open(&p, err, sizeof err) == NULL);
    CHECK_INT(errno, EINVAL);
}

TEST(patients)
{
    struct tmp t;
    struct store_patient p = {.name = "Ann", .force_low = 150, .force_high = 250,
                              .speed_max = 0.6, .force_abort = NAN}, got, list[8];
    char err[256] = "";

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    long first = store_patient_selected(s);
    CHECK_INT(store_patient_add(s, &p, err, sizeof err), 0);
    CHECK(p.id > first);
    CHECK(p.created > T0);
    CHECK_INT(store_patient_get(s, p.id, &got), 0);
    CHECK(strcmp(got.name, "Ann") == 0);
    CHECK_NEAR(got.force_low, 150, 0);
    CHECK_NEAR(got.force_high, 250, 0);
    CHECK_NEAR(got.speed_max, 0.6, 0);
    CHECK(isnan(got.force_abort));
    CHECK_NEAR(got.created, p.created, 1e-6);

    /* a taken name */
    struct store_patient dup = p;
    errno = 0;
    CHECK_INT(store_patient_add(s, &dup, err, sizeof err), -1);
    CHECK_INT(errno, EEXIST);
    CHECK_STR_CONTAINS(err, "exists");

    /* bad names and settings */
    static const char *const bad[] = {"", "a\nb", "tab\there", "\xff", "caf\xc3", "\xc2\x85",
                                      "\xc0\xa1", "\xed\xa0\x80", "del\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct store_patient b = {.force_low = NAN, .force_high = NAN, .speed_max = NAN,
                                  .force_abort = NAN};
        snprintf(b.name, sizeof b.name, "%s", bad[i]);
        errno = 0;
        CHECK_INT(store_patient_add(s, &b, err, sizeof err), -1);
        CHECK_INT(errno, EINVAL);
    }
    struct store_patient longname = {.force_low = NAN, .force_high = NAN, .speed_max = NAN,
                                     .force_abort = NAN};
    memset(longname.name, 'x', sizeof longname.name);          /* no terminator in 64 */
    CHECK_INT(store_patient_add(s, &longname, err, sizeof err), -1);
    struct store_patient band = {.name = "Bob", .force_low = 300, .force_high = 200,
                                 .speed_max = NAN, .force_abort = NAN};
    errno = 0;
    CHECK_INT(store_patient_add(s, &band, err, sizeof err), -1);
    CHECK_INT(errno, EINVAL);
    band.force_low = -5;
    band.force_high = NAN;
    CHECK_INT(store_patient_add(s, &band, err, sizeof err), -1);

    long zoe = add_patient(s, "Zo\xc3\xab \xe2\x80\x94 63 bytes are allowed");
    CHECK(zoe > p.id);
    memset(longname.name, 'y', STORE_NAME_MAX - 1);
    longname.name[STORE_NAME_MAX - 1] = '\0';
    CHECK_INT(store_patient_add(s, &longname, err, sizeof err), 0);

    /* select and list */
    CHECK_INT(store_patient_selected(s), first);
    CHECK_INT(store_patient_select(s, p.id), 0);
    CHECK_INT(store_patient_selected(s), p.id);
    errno = 0;
    CHECK_INT(store_patient_select(s, 999), -1);
    CHECK_INT(errno, ENOENT);
    CHECK_INT(store_patient_selected(s), p.id);
    errno = 0;
    CHECK_INT(store_patient_get(s, 999, &got), -1);
    CHECK_INT(errno, ENOENT);
    CHECK_INT(store_patient_list(s, list, 8), 4);
    CHECK_INT(list[0].id, first);
    CHECK_INT(list[1].id, p.id);
    CHECK(strcmp(list[3].name, longname.name) == 0);
    CHECK_INT(store_patient_list(s, list, 2), 2);
    CHECK_INT(errors(s), 0);
    store_close(s);
    tmp_clean(&t);
}

struct seen {
    int n;
    enum ctl_event_kind kinds[ROWS_MAX];
};

static void record(void *arg, const struct ctl_event *ev)
{
    struct seen *seen = arg;
    if (seen->n < ROWS_MAX)
        seen->kinds[seen->n] = ev->kind;
    seen->n++;
}

/* One session of two sets through the event mapping, read back as history and export. */
TEST(full_session)
{
    struct tmp t;
    struct seen seen = {0};
    struct hist h = {0};
    struct exp e = {0};
    long session = 0;
    int set = 0;

    REQUIRE(tmp_make(&t));
    struct store *s = open_q(t.db, 256, record, &seen);
    REQUIRE(s != NULL);
    long dflt = store_patient_selected(s);
    long ann = add_patient(s, "Ann");
    CHECK_INT(store_patient_select(s, ann), 0);
    errno = 0;
    CHECK_INT(store_pain(s, 0, 3, NULL, NULL), -1);          /* no set yet */
    CHECK_INT(errno, ENOENT);

    push_session_start(s, 0, T0);                              /* 0: the selected */
    push_set_start(s, 1, T0 + 1, false, 0);
    for (int r = 1; r <= 3; r++)
        push_rep(s, 1, r, T0 + 1 + 4 * r);
    push_reject(s, 1, REP_TOO_SHORT, T0 + 14);
    struct ctl_event cmd = ev_make(CTL_EV_COMMAND, 1, T0 + 15);
    push(s, cmd);
    push_set_end(s, 1, 3, 1, 0.8, T0 + 16);
    push_set_start(s, 2, T0 + 76, false, 0);
    push_rep(s, 2, 1, T0 + 80);
    push_rep(s, 2, 2, T0 + 84);
    push_set_end(s, 2, 2, 0, 0.9, T0 + 85);
    push_session_end(s, T0 + 85);
    CHECK_INT(store_pain(s, 0, 4, &session, &set), 0);        /* ordered after the pushes */
    CHECK_INT(set, 2);
    errno = 0;
    CHECK_INT(store_pain(s, ann, 11, NULL, NULL), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(store_flush(s, WAIT_S), 0);

    CHECK_INT(store_history(s, ann, T0 - 1, hist_row, &h), 0);
    CHECK_INT(h.n, 2);
    CHECK_INT(h.r[0].session_id, session);
    CHECK_NEAR(h.r[0].session_started, T0, 1e-6);
    CHECK_NEAR(h.r[0].session_ended, T0 + 85, 1e-6);
    CHECK(h.r[0].session_done && h.r[1].session_done);
    CHECK_INT(h.r[0].set, 1);
    CHECK_NEAR(h.r[0].set_started, T0 + 1, 1e-6);
    CHECK_INT(h.r[0].counted, 3);
    CHECK_INT(h.r[0].rejected, 1);
    CHECK_NEAR(h.r[0].in_band_share, 0.8, 1e-12);
    CHECK_INT(h.r[0].pain, -1);
    CHECK_INT(h.r[0].faults, 0);
    CHECK_INT(h.r[1].set, 2);
    CHECK_INT(h.r[1].counted, 2);
    CHECK_INT(h.r[1].rejected, 0);
    CHECK_INT(h.r[1].pain, 4);
    h.n = 0;
    CHECK_INT(store_history(s, dflt, 0, hist_row, &h), 0);
    CHECK_INT(h.n, 0);                                        /* someone else's */
    CHECK_INT(store_history(s, 0, 0, hist_row, &h), 0);
    CHECK_INT(h.n, 2);                                        /* everyone's */
    h.n = 0;
    CHECK_INT(store_history(s, ann, T0 + 1, hist_row, &h), 0);
    CHECK_INT(h.n, 0);                                        /* begun before since */

    CHECK_INT(store_export(s, ann, 0, exp_row, &e), 0);
    CHECK_INT(e.n, 5);
    for (int i = 0; i < 5; i++) {
        const struct store_rep_row *r = &e.r[i];
        int k = i < 3 ? i + 1 : i - 2;
        struct rep_figures f = figures(k, REP_COUNTED);
        CHECK_INT(r->patient_id, ann);
        CHECK(strcmp(r->patient, "Ann") == 0);
        CHECK_INT(r->session_id, session);
        CHECK_INT(r->set, i < 3 ? 1 : 2);
        CHECK_INT(r->rep, k);
        CHECK_INT(r->stroke, k);
        CHECK_NEAR(r->duration_s, f.duration_s, 1e-12);
        CHECK_NEAR(r->travel_m, f.travel_m, 1e-12);
        CHECK_NEAR(r->peak_n, f.peak_n, 1e-12);
        CHECK_NEAR(r->mean_n, f.mean_n, 1e-12);
        CHECK_NEAR(r->in_band_s, f.in_band_s, 1e-12);
        CHECK_NEAR(r->in_band_share, f.in_band_share, 1e-12);
        CHECK_NEAR(r->work_j, f.work_j, 1e-12);
        CHECK_INT(r->pain, i < 3 ? -1 : 4);
    }
    CHECK_NEAR(e.r[0].t, T0 + 5, 1e-6);
    int stops = 0;
    errno = 0;
    CHECK_INT(store_export(s, 0, 0, stop_row, &stops), -1);   /* the callback stops it */
    CHECK_INT(errno, ECANCELED);
    CHECK_INT(stops, 2);

    double starts[4], ends[4];
    CHECK_INT(store_recent_sessions(s, ann, 0, starts, ends, 4), 1);
    CHECK_NEAR(starts[0], T0, 1e-6);
    CHECK_NEAR(ends[0], T0 + 85, 1e-6);

    /* what on_durable saw: every event, in order, the command too */
    CHECK_INT(seen.n, 13);
    CHECK_INT(seen.kinds[0], CTL_EV_SESSION_START);
    CHECK_INT(seen.kinds[5], CTL_EV_REJECT);
    CHECK_INT(seen.kinds[6], CTL_EV_COMMAND);
    CHECK_INT(seen.kinds[12], CTL_EV_SESSION);
    CHECK_INT(errors(s), 0);
    store_close(s);

    char verdict[32];
    q_text(t.db, "SELECT verdict FROM rejects", verdict, sizeof verdict);
    CHECK(strcmp(verdict, "too_short") == 0);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM rejects WHERE set_id IS NOT NULL"), 1);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM sessions WHERE status = 'done'"), 1);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM reps"), 5);
    CHECK(q_num(t.db, "SELECT pain_t FROM sets WHERE pain = 4") > T0);
    check_integrity(t.db);
    tmp_clean(&t);
}

static atomic_int attach_rc;

static void *attach_thread(void *arg)
{
    void **a = arg;
    atomic_store(&attach_rc, store_attach_session(a[0], *(long *)a[1]));
    return NULL;
}

/* A gate the on_durable callback of a REP waits at while closed: it stalls the writer. */
struct gate {
    atomic_bool armed, entered, open;
    atomic_int calls;
};

static void gate_cb(void *arg, const struct ctl_event *ev)
{
    struct gate *g = arg;
    atomic_fetch_add(&g->calls, 1);
    if (ev->kind != CTL_EV_REP || !atomic_load(&g->armed))
        return;
    atomic_store(&g->armed, false);
    atomic_store(&g->entered, true);
    while (!atomic_load(&g->open)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void gate_wait_entered(struct gate *g)
{
    for (int i = 0; i < 10000 && !atomic_load(&g->entered); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    CHECK(atomic_load(&g->entered));
}

/* Wait (bounded) until n blocking calls are queued for the writer. */
static bool wait_jobs_queued(struct store *s, int n)
{
    struct store_stats st;

    store_stats(s, &st);
    for (int i = 0; i < 10000 && st.jobs != n; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        store_stats(s, &st);
    }
    if (st.jobs != n)
        printf("  %d jobs queued, want %d\n", st.jobs, n);
    return st.jobs == n;
}

/* An interrupted session is found, attached and carried on: same set, no duplicates. */
TEST(resume_interrupted_session)
{
    struct tmp t;
    struct store_open_session o;
    struct gate g = {0};
    struct hist h = {0};

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    long pat = store_patient_selected(s);
    push_session_start(s, 0, T0);
    push_set_start(s, 1, T0 + 1, false, 0);
    for (int r = 1; r <= 3; r++)
        push_rep(s, 1, r, T0 + 1 + 4 * r);
    store_close(s);                                     /* eccd stops mid-set */

    s = open_q(t.db, 64, gate_cb, &g);
    REQUIRE(s != NULL);
    errno = 0;
    CHECK_INT(store_find_open_session(s, pat, T0 + 1, &o), -1);   /* begun before since */
    CHECK_INT(errno, ENOENT);
    CHECK_INT(store_find_open_session(s, pat, T0 - 3600, &o), 0);
    CHECK_INT(o.set, 1);
    CHECK_INT(o.reps, 3);
    CHECK(!o.set_done);
    CHECK_INT(o.resumes, 0);
    CHECK_NEAR(o.started, T0, 1e-6);
    errno = 0;
    CHECK_INT(store_attach_session(s, o.session_id + 100), -1);
    CHECK_INT(errno, ENOENT);

    /* Stall the writer, queue a new SESSION_START behind it, then attach from another
     * thread and let the writer go once the attach is queued: the attach must apply
     * after that event, so the resumed set goes on in the old session. */
    push_session_start(s, 0, T0 + 40);
    push_set_start(s, 1, T0 + 41, false, 0);
    atomic_store(&g.armed, true);
    push_rep(s, 1, 1, T0 + 45);
    gate_wait_entered(&g);
    push_session_start(s, 0, T0 + 50);
    pthread_t th;
    long sid = o.session_id;
    void *args[2] = {s, &sid};
    pthread_create(&th, NULL, attach_thread, args);
    CHECK(wait_jobs_queued(s, 1));                      /* the attach waits behind it */
    atomic_store(&g.open, true);
    pthread_join(th, NULL);
    CHECK_INT(atomic_load(&attach_rc), 0);

    push_set_start(s, 1, T0 + 60, true, 3);
    push_set_start(s, 1, T0 + 60, false, 3);                  /* a repeat is harmless */
    push_rep(s, 1, 4, T0 + 64);
    push_rep(s, 1, 5, T0 + 68);
    push_set_end(s, 1, 2, 0, 0.7, T0 + 69);                   /* a summary of its part only */
    push_session_end(s, T0 + 69);
    CHECK_INT(store_flush(s, WAIT_S), 0);
    errno = 0;
    CHECK_INT(store_attach_session(s, sid), -1);              /* done now */
    CHECK_INT(errno, ENOENT);

    CHECK_INT(store_history(s, pat, T0 - 1, hist_row, &h), 0);
    CHECK_INT(h.n, 3);
    CHECK_INT(h.r[0].session_id, sid);
    CHECK_INT(h.r[0].set, 1);
    CHECK_INT(h.r[0].counted, 5);
    CHECK(h.r[0].session_done);
    CHECK_INT(errors(s), 0);
    store_close(s);

    char q[160];
    snprintf(q, sizeof q, "SELECT resumes FROM sessions WHERE id = %ld", sid);
    CHECK_INT(q_num(t.db, q), 1);
    snprintf(q, sizeof q, "SELECT count(*) FROM sets WHERE session_id = %ld", sid);
    CHECK_INT(q_num(t.db, q), 1);
    snprintf(q, sizeof q, "SELECT count(DISTINCT r.n) = 5 AND count(*) = 5 AND min(r.n) = 1"
             " AND max(r.n) = 5 FROM reps r JOIN sets ON sets.id = set_id"
             " WHERE session_id = %ld", sid);
    CHECK_INT(q_num(t.db, q), 1);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM sessions"), 3);
    check_integrity(t.db);
    tmp_clean(&t);
}

/* A stroke with the figures a resume adds up: its time in band and loaded window, and
 * how long its set had run when it ended. */
static void push_stroke(struct store *s, int set, int rep, int stroke, enum rep_verdict v,
                        double in_band_s, double window_s, double set_s, double wall)
{
    struct ctl_event ev = ev_make(v == REP_COUNTED ? CTL_EV_REP : CTL_EV_REJECT, set, wall);

    ev.rep = rep;
    ev.stroke = stroke;
    ev.fig = figures(stroke, v);
    ev.fig.in_band_s = in_band_s;
    ev.fig.window_s = window_s;
    ev.fig.in_band_share = window_s > 0.0 ? in_band_s / window_s : 0.0;
    ev.set_s = set_s;
    push(s, ev);
}

static void exec_db(const char *path, const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;

    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        printf("  sql error: %s: %s\n", sql, msg ? msg : "?");
        CHECK(!"the SQL runs");
    }
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* What carrying on a session needs from the history: set 1 finished (2 reps, 1 reject),
 * set 2 interrupted after 1 rep and 2 rejects of different reasons, 6 strokes in all. */
static void push_interrupted(struct store *s)
{
    push_session_start(s, 0, T0);
    push_set_start(s, 1, T0 + 1, false, 0);
    push_stroke(s, 1, 1, 1, REP_COUNTED, 1.0, 1.2, 3.0, T0 + 4);
    push_stroke(s, 1, 1, 2, REP_TOO_SHORT, 0.1, 0.2, 5.0, T0 + 6);
    push_stroke(s, 1, 2, 3, REP_COUNTED, 1.1, 1.3, 8.0, T0 + 9);
    push_set_end(s, 1, 2, 1, 0.8, T0 + 9);
    push_set_start(s, 2, T0 + 70, false, 0);
    push_stroke(s, 2, 0, 4, REP_OUT_OF_BAND, 0.5, 1.5, 4.0, T0 + 74);
    push_stroke(s, 2, 1, 5, REP_COUNTED, 1.2, 1.4, 7.5, T0 + 77.5);
    push_stroke(s, 2, 1, 6, REP_TOO_SHORT, 0.0, 0.3, 9.25, T0 + 79.25);
}

TEST(open_session_gives_what_carrying_it_on_needs)
{
    struct tmp t;
    struct store_open_session o;

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    long pat = store_patient_selected(s);
    push_interrupted(s);
    CHECK_INT(store_flush(s, WAIT_S), 0);
    CHECK_INT(store_find_open_session(s, pat, T0 - 1, &o), 0);
    CHECK_INT(o.set, 2);
    CHECK_INT(o.reps, 1);
    CHECK(!o.set_done);
    CHECK_NEAR(o.set_s, 9.25, 1e-9);                /* to its latest stroke */
    CHECK_INT(o.rejected[REP_OUT_OF_BAND], 1);
    CHECK_INT(o.rejected[REP_TOO_SHORT], 1);        /* set 2's only */
    CHECK_INT(o.rejected[REP_TOO_LITTLE_TRAVEL], 0);
    CHECK_NEAR(o.in_band_s, 1.7, 1e-9);
    CHECK_NEAR(o.window_s, 3.2, 1e-9);
    CHECK_INT(o.done_counted, 2);
    CHECK_INT(o.done_rejected, 1);
    CHECK_INT(o.strokes, 6);
    CHECK_NEAR(q_num(t.db, "SELECT duration_s FROM sets WHERE n = 2"), 9.25, 1e-9);
    CHECK_NEAR(q_num(t.db, "SELECT window_s FROM rejects WHERE stroke = 4"), 1.5, 1e-9);

    push_set_end(s, 2, 1, 2, 0.5, T0 + 80);         /* cut short by next-set */
    CHECK_INT(store_flush(s, WAIT_S), 0);
    CHECK_INT(store_find_open_session(s, pat, T0 - 1, &o), 0);
    CHECK(o.set_done);
    CHECK_INT(o.done_counted, 3);
    CHECK_INT(o.done_rejected, 3);
    CHECK_INT(o.strokes, 6);
    CHECK_INT(errors(s), 0);
    store_close(s);
    tmp_clean(&t);
}

/* A schema 1 file (no window_s, no set duration_s) is migrated in place; an interrupted set
 * of it is still carried on: its windows from in_band_s / in_band_share, its running time
 * from the wall clock, start to latest stroke. */
TEST(schema_1_file_is_migrated_and_its_open_set_read)
{
    struct tmp t;
    struct store_open_session o;

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    long pat = store_patient_selected(s);
    push_interrupted(s);
    store_close(s);
    /* back to schema 1: schema 4's, 3's and 2's additions taken away */
    exec_db(t.db, "DROP TRIGGER patients_uuid; DROP INDEX patients_uuid; DROP TABLE sync_counter;"
                  "DROP TRIGGER patients_sync_ins; DROP TRIGGER patients_sync_upd; DROP INDEX patients_sync;"
                  "DROP TRIGGER programmes_sync_ins; DROP TRIGGER programmes_sync_upd; DROP INDEX programmes_sync;"
                  "DROP TRIGGER sessions_sync_ins; DROP TRIGGER sessions_sync_upd; DROP INDEX sessions_sync;"
                  "DROP TRIGGER sets_sync_ins; DROP TRIGGER sets_sync_upd; DROP INDEX sets_sync;"
                  "DROP TRIGGER reps_sync_ins; DROP TRIGGER reps_sync_upd; DROP INDEX reps_sync;"
                  "DROP TRIGGER rejects_sync_ins; DROP TRIGGER rejects_sync_upd; DROP INDEX rejects_sync;"
                  "DROP TRIGGER faults_sync_ins; DROP TRIGGER faults_sync_upd; DROP INDEX faults_sync;"
                  "DROP TRIGGER calibrations_sync_ins; DROP TRIGGER calibrations_sync_upd; DROP INDEX calibrations_sync;"
                  "DROP TRIGGER checkins_sync_ins; DROP TRIGGER checkins_sync_upd; DROP INDEX checkins_sync;"
                  "DROP TRIGGER progression_sync_ins; DROP TRIGGER progression_sync_upd; DROP INDEX progression_sync;"
                  " ALTER TABLE patients DROP COLUMN sync_seq;"
                  " ALTER TABLE sessions DROP COLUMN sync_seq;"
                  " ALTER TABLE sets DROP COLUMN sync_seq;"
                  " ALTER TABLE reps DROP COLUMN sync_seq;"
                  " ALTER TABLE rejects DROP COLUMN sync_seq;"
                  " ALTER TABLE faults DROP COLUMN sync_seq;"
                  " ALTER TABLE calibrations DROP COLUMN sync_seq;"
                  " ALTER TABLE patients DROP COLUMN uuid;"
                  "DROP TABLE programmes; DROP TABLE checkins; DROP TABLE progression;"
                  " ALTER TABLE sessions DROP COLUMN band_low;"
                  " ALTER TABLE sessions DROP COLUMN band_high;"
                  " ALTER TABLE reps DROP COLUMN window_s; ALTER TABLE rejects DROP COLUMN"
                  " window_s; ALTER TABLE sets DROP COLUMN duration_s; PRAGMA user_version = 1;");
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM pragma_table_info('reps')"
                          " WHERE name = 'window_s'"), 0);

    s = open_db(t.db);
    REQUIRE(s != NULL);
    CHECK_INT(q_num(t.db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    CHECK_INT(store_find_open_session(s, pat, T0 - 1, &o), 0);
    CHECK_INT(o.set, 2);
    CHECK_INT(o.strokes, 6);
    CHECK_NEAR(o.set_s, 9.25, 1e-6);                /* T0 + 79.25 - (T0 + 70) */
    CHECK_NEAR(o.in_band_s, 1.7, 1e-9);
    CHECK_NEAR(o.window_s, 2.9, 1e-9);              /* the stroke with no time in band: 0 */
    store_close(s);
    check_integrity(t.db);
    tmp_clean(&t);
}

TEST(faults_and_resets)
{
    struct tmp t;
    struct hist h = {0};
    char text[64];

    REQUIRE(tmp_make(&t));
    log_set_level(LOG_LVL_ERROR);               /* the stray reset below warns */
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    push_fault(s, CTL_EV_FAULT, FAULT_ESTOP, T0 - 10);        /* before any session */
    push_session_start(s, 0, T0);
    push_fault(s, CTL_EV_FAULT, FAULT_OVERFORCE, T0 + 1);
    push_fault(s, CTL_EV_RESET, FAULT_OVERFORCE, T0 + 2);
    push_fault(s, CTL_EV_FAULT, FAULT_ESTOP, T0 + 3);
    push_session_end(s, T0 + 4);
    push_fault(s, CTL_EV_RESET, FAULT_ESTOP, T0 + 5);         /* the latest open estop */
    push_fault(s, CTL_EV_RESET, FAULT_DRIVE_TRIP, T0 + 6);    /* none on record */
    CHECK_INT(store_flush(s, WAIT_S), 0);
    CHECK_INT(errors(s), 1);
    CHECK_INT(store_history(s, 0, 0, hist_row, &h), 0);
    CHECK_INT(h.n, 1);
    CHECK_INT(h.r[0].faults, 2);
    CHECK_INT(h.r[0].set, 0);                                 /* a session with no set */
    CHECK(isnan(h.r[0].set_started));
    store_close(s);

    CHECK_INT(q_num(t.db, "SELECT count(*) FROM faults"), 3);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM faults WHERE session_id IS NULL"), 1);
    CHECK_NEAR(q_num(t.db, "SELECT reset_t FROM faults WHERE fault = 'overforce'"), T0 + 2,
               1e-6);
    CHECK(isnan(q_num(t.db, "SELECT reset_t FROM faults WHERE t = 1699999990")));
    CHECK_NEAR(q_num(t.db, "SELECT reset_t FROM faults WHERE t = 1700000003"), T0 + 5, 1e-6);
    CHECK_NEAR(q_num(t.db, "SELECT value FROM faults WHERE fault = 'overforce'"), 700, 0);
    CHECK_NEAR(q_num(t.db, "SELECT limit_value FROM faults WHERE fault = 'overforce'"), 600, 0);
    q_text(t.db, "SELECT fault FROM faults ORDER BY id DESC", text, sizeof text);
    CHECK(strcmp(text, "estop") == 0);
    check_integrity(t.db);
    tmp_clean(&t);
}

/* Events with no session or set to go to are counted, not fatal. */
TEST(events_without_session)
{
    struct tmp t;

    REQUIRE(tmp_make(&t));
    log_set_level(LOG_LVL_ERROR);               /* each of these warns */
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    push_rep(s, 1, 1, T0);                                    /* error: nowhere to go */
    push_set_start(s, 1, T0, false, 0);                       /* error */
    push_set_end(s, 1, 1, 0, 0.5, T0);                        /* error */
    push_session_end(s, T0);                                  /* error */
    push_reject(s, 0, REP_ABORTED, T0);                       /* kept, set_id NULL */
    push_session_start(s, 4242, T0 + 1);                      /* unknown patient: NULL */
    push_rep(s, 1, 1, T0 + 2);                                /* its set is begun for it */
    CHECK_INT(store_flush(s, WAIT_S), 0);
    CHECK_INT(errors(s), 4);
    store_close(s);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM rejects WHERE set_id IS NULL"), 1);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM sessions WHERE patient_id IS NULL"), 1);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM reps"), 1);
    CHECK_INT(q_num(t.db, "SELECT counted FROM sets"), 1);
    check_integrity(t.db);
    tmp_clean(&t);
}

TEST(calibrations)
{
    struct tmp t;

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    CHECK(store_push_calibration(s, T0, STORE_CAL_TARE, 8123.5, 0.0021, 0) > 0);
    CHECK(store_push_calibration(s, T0 + 60, STORE_CAL_SPAN, 8123.5, 0.00205, 20.0) > 0);
    CHECK_INT(store_flush(s, WAIT_S), 0);
    store_close(s);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM calibrations"), 2);
    CHECK_NEAR(q_num(t.db, "SELECT \"offset\" FROM calibrations WHERE kind = 'tare'"), 8123.5, 0);
    CHECK_NEAR(q_num(t.db, "SELECT scale FROM calibrations WHERE kind = 'tare'"), 0.0021, 0);
    CHECK_NEAR(q_num(t.db, "SELECT mass_kg FROM calibrations WHERE kind = 'tare'"), 0, 0);
    CHECK_NEAR(q_num(t.db, "SELECT mass_kg FROM calibrations WHERE kind = 'span'"), 20, 0);
    CHECK_NEAR(q_num(t.db, "SELECT t FROM calibrations WHERE kind = 'span'"), T0 + 60, 1e-6);
    tmp_clean(&t);
}

/* Ends: when finished, else the latest rep, else the start; the latest max, oldest first. */
TEST(recent_sessions_ends)
{
    struct tmp t;
    double starts[8], ends[8];

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    long pat = store_patient_selected(s);
    push_session_start(s, 0, T0);                             /* finished */
    push_session_end(s, T0 + 600);
    push_session_start(s, 0, T0 + 3600);                      /* interrupted after a rep */
    push_set_start(s, 1, T0 + 3601, false, 0);
    push_rep(s, 1, 1, T0 + 3610);
    push_rep(s, 1, 2, T0 + 3620);
    push_set_end(s, 1, 2, 0, 0.9, T0 + 3621);                 /* cut short: next-set */
    CHECK_INT(store_flush(s, WAIT_S), 0);
    struct store_open_session o;
    CHECK_INT(store_find_open_session(s, pat, 0, &o), 0);
    CHECK_INT(o.set, 1);
    CHECK_INT(o.reps, 2);
    CHECK(o.set_done);
    push_session_start(s, 0, T0 + 7200);                      /* interrupted at once */
    CHECK_INT(store_flush(s, WAIT_S), 0);

    CHECK_INT(store_recent_sessions(s, pat, 0, starts, ends, 8), 3);
    CHECK_NEAR(starts[0], T0, 1e-6);
    CHECK_NEAR(ends[0], T0 + 600, 1e-6);
    CHECK_NEAR(starts[1], T0 + 3600, 1e-6);
    CHECK_NEAR(ends[1], T0 + 3620, 1e-6);                     /* its latest rep */
    CHECK_NEAR(starts[2], T0 + 7200, 1e-6);
    CHECK_NEAR(ends[2], T0 + 7200, 1e-6);
    CHECK_INT(store_recent_sessions(s, pat, 0, starts, ends, 2), 2);   /* the latest two */
    CHECK_NEAR(starts[0], T0 + 3600, 1e-6);
    CHECK_NEAR(starts[1], T0 + 7200, 1e-6);
    CHECK_INT(store_recent_sessions(s, pat, T0 + 1, starts, ends, 8), 2);
    CHECK_INT(store_recent_sessions(s, pat + 1, 0, starts, ends, 8), 0);
    CHECK_INT(store_find_open_session(s, pat, 0, &o), 0);     /* the latest open one */
    CHECK_NEAR(o.started, T0 + 7200, 1e-6);
    CHECK_INT(o.set, 0);
    CHECK_INT(o.reps, 0);
    CHECK(!o.set_done);
    store_close(s);
    tmp_clean(&t);
}

/* The report's sessions each carry their own sets, also when a later session started
 * earlier (the rig's clock was set back between them). */
TEST(report_pairs_sets_with_their_sessions_when_the_clock_went_back)
{
    struct tmp t;
    json_t *doc, *sess, *sets, *one;
    size_t i;

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    long pat = store_patient_selected(s);
    push_session_start(s, 0, T0 + 7200);                      /* session 1, two sets */
    push_set_start(s, 1, T0 + 7201, false, 0);
    push_set_end(s, 1, 15, 0, 0.9, T0 + 7300);
    push_set_start(s, 2, T0 + 7400, false, 0);
    push_set_end(s, 2, 14, 1, 0.8, T0 + 7500);
    push_session_end(s, T0 + 7600);
    push_session_start(s, 0, T0);                             /* session 2: clock set back */
    push_set_start(s, 1, T0 + 1, false, 0);
    push_set_end(s, 1, 13, 2, 0.7, T0 + 100);
    push_session_end(s, T0 + 200);
    CHECK_INT(store_flush(s, WAIT_S), 0);
    doc = store_report(s, pat, json_object(), 60, 100);
    REQUIRE_OR_GOTO(doc, out);
    sess = json_object_get(doc, "sessions");
    CHECK_INT((int)json_array_size(sess), 2);
    json_array_foreach(sess, i, one) {
        sets = json_object_get(one, "sets");
        CHECK_INT((int)json_array_size(sets), i == 0 ? 1 : 2);   /* by time: session 2 first */
        CHECK_INT((int)json_integer_value(json_object_get(json_array_get(sets, 0), "counted")),
                  i == 0 ? 13 : 15);
    }
    json_decref(doc);
out:
    store_close(s);
    tmp_clean(&t);
}

/* A stalled writer: pushes beyond the ring's room are refused and counted at once. */
TEST(ring_full_drops_never_blocks)
{
    struct tmp t;
    struct gate g = {0};
    struct store_stats st;

    REQUIRE(tmp_make(&t));
    struct store *s = open_q(t.db, 16, gate_cb, &g);
    REQUIRE(s != NULL);
    push_session_start(s, 0, T0);
    push_set_start(s, 1, T0, false, 0);
    atomic_store(&g.armed, true);
    uint64_t first = push_rep(s, 1, 1, T0 + 1);
    gate_wait_entered(&g);                  /* the writer sits in on_durable of rep 1 */
    int ok = 0, refused = 0;
    for (int r = 2; r <= 30; r++) {
        struct ctl_event ev = ev_make(CTL_EV_REP, 1, T0 + r);
        ev.rep = r;
        uint64_t seq = store_push_event(s, &ev);
        if (seq) {
            CHECK_INT(seq, first + 1 + (uint64_t)ok);
            ok++;
        } else {
            refused++;
        }
    }
    CHECK_INT(ok, 16);
    CHECK_INT(refused, 13);
    CHECK_INT(store_push_calibration(s, T0, STORE_CAL_TARE, 1, 1, 0), 0);
    store_stats(s, &st);
    CHECK_INT(st.dropped, 14);
    CHECK_INT(st.queued, 16);
    CHECK_INT(st.pushed, first + 16);
    CHECK_INT(st.durable, first);
    errno = 0;
    CHECK_INT(store_flush(s, 0.05), -1);
    CHECK_INT(errno, ETIMEDOUT);

    atomic_store(&g.open, true);
    CHECK_INT(store_flush(s, WAIT_S), 0);
    store_stats(s, &st);
    CHECK_INT(st.durable, first + 16);
    CHECK_INT(st.queued, 0);
    CHECK_INT(st.errors, 0);
    CHECK(st.lag_max_s > 0.0);
    store_close(s);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM reps"), 17);
    CHECK_INT(q_num(t.db, "SELECT max(n) FROM reps"), 17);
    tmp_clean(&t);
}

/* on_durable runs after the commit, in push order, with store_durable already past. */
struct order {
    struct store *s;
    int n;
    int reps[ROWS_MAX];
    int before_durable;     /* callbacks that saw store_durable below their event */
    int not_in_db;          /* reps the export did not have yet */
    uint64_t events;
};

static int find_rep(void *arg, const struct store_rep_row *r)
{
    int *want = arg;
    if (r->rep == *want)
        *want = -1;
    return 0;
}

static void order_cb(void *arg, const struct ctl_event *ev)
{
    struct order *o = arg;

    o->events++;
    if (store_durable(o->s) < o->events)
        o->before_durable++;
    if (ev->kind != CTL_EV_REP)
        return;
    int want = ev->rep;
    store_export(o->s, 0, 0, find_rep, &want);
    o->not_in_db += want != -1;
    if (o->n < ROWS_MAX)
        o->reps[o->n] = ev->rep;
    o->n++;
}

TEST(durable_sequence_and_on_durable_order)
{
    struct tmp t;
    static struct order o;
    struct store_stats st;

    memset(&o, 0, sizeof o);
    REQUIRE(tmp_make(&t));
    struct store *s = open_q(t.db, 64, order_cb, &o);
    REQUIRE(s != NULL);
    o.s = s;
    CHECK_INT(store_durable(s), 0);
    push_session_start(s, 0, T0);
    push_set_start(s, 1, T0, false, 0);
    uint64_t last = 0;
    for (int r = 1; r <= 50; r++) {
        uint64_t seq = push_rep(s, 1, r, T0 + r);
        CHECK_INT(seq, (uint64_t)r + 2);
        last = seq;
    }
    CHECK_INT(store_flush(s, WAIT_S), 0);
    CHECK_INT(store_durable(s), last);
    CHECK_INT(o.n, 50);
    for (int i = 0; i < 50; i++)
        CHECK_INT(o.reps[i], i + 1);
    CHECK_INT(o.before_durable, 0);
    CHECK_INT(o.not_in_db, 0);
    store_stats(s, &st);
    CHECK_INT(st.pushed, last);
    CHECK(st.commits >= 1 && st.commits <= 52 + 1);
    store_close(s);
    tmp_clean(&t);
}

/* store_close writes out what is still queued. */
TEST(close_drains_the_queue)
{
    struct tmp t;

    REQUIRE(tmp_make(&t));
    struct store *s = open_q(t.db, 512, NULL, NULL);
    REQUIRE(s != NULL);
    push_session_start(s, 0, T0);
    push_set_start(s, 1, T0, false, 0);
    for (int r = 1; r <= 300; r++)
        push_rep(s, 1, r, T0 + r);
    store_close(s);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", t.db);
    CHECK(!exists(wal));                    /* checkpointed and removed */
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM reps"), 300);
    CHECK_INT(q_num(t.db, "SELECT counted FROM sets"), 300);
    check_integrity(t.db);
    tmp_clean(&t);
}

/* The WAL cannot grow (RLIMIT_FSIZE): commits fail, nothing is published, a job fails
 * with EIO; once it can, the same events are written, once each. */
TEST(failed_commit_is_retried)
{
    struct tmp t;
    struct stat wal;
    struct rlimit old, lim;
    struct store_stats st;
    char walpath[160];
    uint64_t last = 0;

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    push_session_start(s, 0, T0);
    push_set_start(s, 1, T0, false, 0);
    CHECK_INT(store_flush(s, WAIT_S), 0);
    uint64_t before = store_durable(s);
    snprintf(walpath, sizeof walpath, "%s-wal", t.db);
    CHECK_INT(stat(walpath, &wal), 0);

    log_set_level(LOG_LVL_WARN);                    /* the failures are logged (errors) */
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = (struct rlimit){.rlim_cur = (rlim_t)wal.st_size, .rlim_max = old.rlim_max};
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (int r = 1; r <= 5; r++)
        last = push_rep(s, 1, r, T0 + r);
    for (int i = 0; i < 5000 && errors(s) < 2; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    errno = 0;
    CHECK_INT(store_pain(s, 0, 2, NULL, NULL), -1);          /* its transaction fails */
    CHECK_INT(errno, EIO);
    store_stats(s, &st);
    CHECK(st.errors >= 2);
    CHECK_INT(st.durable, before);                           /* nothing published */
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    log_set_level(LOG_LVL_WARN);

    CHECK_INT(store_flush(s, WAIT_S), 0);
    CHECK_INT(store_durable(s), last);
    CHECK_INT(store_pain(s, 0, 2, NULL, NULL), 0);
    store_close(s);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM reps"), 5);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM sets"), 1);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM sessions"), 1);
    CHECK_INT(q_num(t.db, "SELECT counted FROM sets"), 5);
    CHECK_INT(q_num(t.db, "SELECT pain FROM sets"), 2);
    check_integrity(t.db);
    tmp_clean(&t);
}

/* A child pushes, waits until N events are durable, and is killed without store_close: the
 * parent finds all N (and maybe more) in the file. */
#define CRASH_REPS 40

static void crash_child(const char *path)
{
    struct store_params p = {.path = path, .queue_len = 256};
    char err[256];
    struct store *s = store_open(&p, err, sizeof err);
    struct ctl_event ev;
    uint64_t want = 0;

    if (!s)
        _exit(3);
    ev = ev_make(CTL_EV_SESSION_START, 0, T0);
    store_push_event(s, &ev);
    ev = ev_make(CTL_EV_SET_START, 1, T0);
    store_push_event(s, &ev);
    for (int r = 1; r <= CRASH_REPS + 100; r++) {
        ev = ev_make(CTL_EV_REP, 1, T0 + r);
        ev.rep = r;
        uint64_t seq = store_push_event(s, &ev);
        if (r == CRASH_REPS)
            want = seq;                 /* the other 100 are in flight when it dies */
    }
    while (store_durable(s) < want)
        ;
    raise(SIGKILL);
    _exit(4);
}

/* A cursor streams the export a row at a time: the rows are the same as the callback
 * form's, they are a snapshot (reps committed after its first step are not in it, while
 * other reads and the writer go on), a cursor of the wrong kind is refused, and one closed
 * half-way leaves nothing held (the store closes, the file checks). */
TEST(cursors_stream_a_snapshot)
{
    struct tmp t;
    struct store_rep_row r;
    struct store_set_row h;
    struct store_cursor *c, *half;
    struct store_patient pl[4];
    int n = 0, sets = 0, rc;

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE_OR_GOTO(s != NULL, out);
    push_session_start(s, 0, T0);
    push_set_start(s, 1, T0 + 1, false, 0);
    for (int k = 1; k <= 10; k++)
        push_rep(s, 1, k, T0 + 1 + k);
    CHECK_INT(store_flush(s, WAIT_S), 0);

    c = store_cursor_open(s, STORE_CURSOR_EXPORT, 0, 0);
    half = store_cursor_open(s, STORE_CURSOR_EXPORT, 0, 0);
    REQUIRE_OR_GOTO(c != NULL && half != NULL, close);
    CHECK_INT(store_cursor_export(c, &r), 1);               /* the snapshot begins here */
    CHECK_INT(r.rep, 1);
    CHECK_INT(store_cursor_export(half, &r), 1);
    for (int k = 11; k <= 15; k++)                          /* the writer goes on */
        push_rep(s, 1, k, T0 + 1 + k);
    CHECK_INT(store_flush(s, WAIT_S), 0);
    CHECK_INT(store_patient_list(s, pl, 4), 1);             /* and so do other reads */
    errno = 0;
    CHECK_INT(store_cursor_history(c, &h), -1);             /* not what it was opened as */
    CHECK_INT(errno, EINVAL);
    n = 1;
    while ((rc = store_cursor_export(c, &r)) == 1) {
        n++;
        CHECK_INT(r.rep, n);
    }
    CHECK_INT(rc, 0);
    CHECK_INT(n, 10);                                       /* the snapshot's ten */
    CHECK_INT(store_cursor_export(c, &r), 0);               /* and it stays ended */
    store_cursor_close(c);
    store_cursor_close(half);                               /* closed half-way */
    store_cursor_close(NULL);

    c = store_cursor_open(s, STORE_CURSOR_EXPORT, 0, 0);     /* a new one sees all 15 */
    REQUIRE_OR_GOTO(c != NULL, close);
    for (n = 0; store_cursor_export(c, &r) == 1; n++)
        ;
    CHECK_INT(n, 15);
    store_cursor_close(c);
    c = store_cursor_open(s, STORE_CURSOR_HISTORY, 0, 0);
    REQUIRE_OR_GOTO(c != NULL, close);
    while (store_cursor_history(c, &h) == 1)
        sets++;
    CHECK_INT(sets, 1);
    store_cursor_close(c);
    errno = 0;
    CHECK(store_cursor_open(s, (enum store_cursor_kind)7, 0, 0) == NULL);
    CHECK_INT(errno, EINVAL);
close:
    store_close(s);
    check_integrity(t.db);
out:
    tmp_clean(&t);
}

TEST(crash_keeps_durable_events)
{
    struct tmp t;
    int status = 0;

    REQUIRE(tmp_make(&t));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        crash_child(t.db);
    REQUIRE(pid > 0);
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    struct store_open_session o;
    CHECK_INT(store_find_open_session(s, 0, 0, &o), 0);
    CHECK(o.reps >= CRASH_REPS);
    CHECK_INT(o.set, 1);
    store_close(s);
    CHECK(q_num(t.db, "SELECT count(*) FROM reps") >= CRASH_REPS);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM reps WHERE n <= 40"), CRASH_REPS);
    CHECK_INT(q_num(t.db, "SELECT max(n) = count(*) FROM reps"), 1);      /* no gaps */
    check_integrity(t.db);
    tmp_clean(&t);
}

/* Every table's rows, over the columns it had at schema 2, as one text (quote()d values,
 * rows in rowid order): what a migration must keep. */
static void table_text(const char *path, const char *table, const char *cols, char *out,
                       size_t len)
{
    char sql[1024];

    snprintf(sql, sizeof sql, "SELECT count(*) || ':' || coalesce(group_concat(r, ';'), '')"
             " FROM (SELECT quote(%s) AS r FROM %s ORDER BY rowid)", cols, table);
    q_text(path, sql, out, len);
}

TEST(a_schema_2_file_from_the_eccd_before_opens_migrates_and_keeps_every_row)
{
    static const struct { const char *table, *cols; } tables[] = {
        {"meta", "key) || quote(value"},
        {"patients", "id) || quote(name) || quote(created) || quote(force_low) ||"
                     " quote(force_high) || quote(speed_max) || quote(force_abort"},
        {"sessions", "id) || quote(patient_id) || quote(started) || quote(ended) ||"
                     " quote(status) || quote(resumes"},
        {"sets", "id) || quote(session_id) || quote(n) || quote(started) || quote(ended) ||"
                 " quote(counted) || quote(rejected) || quote(in_band_share) || quote(pain) ||"
                 " quote(pain_t) || quote(duration_s"},
        {"reps", "id) || quote(set_id) || quote(n) || quote(stroke) || quote(t) ||"
                 " quote(duration_s) || quote(travel_m) || quote(peak_n) || quote(mean_n) ||"
                 " quote(in_band_s) || quote(in_band_share) || quote(work_j) || quote(window_s"},
        {"rejects", "id) || quote(set_id) || quote(stroke) || quote(t) || quote(verdict) ||"
                    " quote(peak_n) || quote(window_s"},
        {"faults", "id) || quote(session_id) || quote(t) || quote(fault) || quote(reset_t"},
        {"calibrations", "id) || quote(t) || quote(kind) || quote(scale"},
    };
    enum { NT = sizeof tables / sizeof tables[0] };
    static char before[NT][16384], after[16384];
    char *sql = NULL;
    size_t n = 0;
    struct tmp t;
    FILE *f;

    REQUIRE(tmp_make(&t));
    f = fopen("tests/fixtures/history-schema2.sql", "r");
    REQUIRE_OR_GOTO(f != NULL, out);
    sql = calloc(1, 1 << 20);
    n = sql ? fread(sql, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    REQUIRE_OR_GOTO(n > 0, out);
    exec_db(t.db, sql);
    CHECK_INT(q_num(t.db, "PRAGMA user_version"), 2);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM reps"), 90);
    for (int i = 0; i < NT; i++)
        table_text(t.db, tables[i].table, tables[i].cols, before[i], sizeof before[i]);

    struct store *s = open_db(t.db);
    REQUIRE_OR_GOTO(s != NULL, out);
    store_close(s);
    CHECK_INT(q_num(t.db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    for (int i = 0; i < NT; i++) {
        table_text(t.db, tables[i].table, tables[i].cols, after, sizeof after);
        if (strcmp(before[i], after) != 0)
            printf("  table %s changed:\n    before %.200s\n    after  %.200s\n",
                   tables[i].table, before[i], after);
        CHECK(strcmp(before[i], after) == 0);
        CHECK(strncmp(after, "0:", 2) != 0 || strcmp(tables[i].table, "faults") == 0 ||
              strcmp(tables[i].table, "calibrations") == 0);
    }
    /* the new parts are there and empty; the old sessions have no band on record */
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM programmes"), 0);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM checkins"), 0);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM progression"), 0);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM sessions WHERE band_low IS NULL"), 2);
    CHECK_INT(q_num(t.db, "SELECT pain FROM sets WHERE id = 6"), 3);
    check_integrity(t.db);
out:
    free(sql);
    tmp_clean(&t);
}

TEST(every_insert_and_update_gets_the_next_sync_seq_and_patients_a_uuid)
{
    struct tmp t;
    char u1[64], u2[64];

    REQUIRE(tmp_make(&t));
    struct store *s = open_db(t.db);
    REQUIRE(s != NULL);
    long ann = add_patient(s, "Ann");
    CHECK_INT(store_patient_select(s, ann), 0);
    push_session_start(s, 0, T0);
    push_set_start(s, 1, T0 + 1, false, 0);
    push_rep(s, 1, 1, T0 + 5);
    CHECK_INT(store_flush(s, 5.0), 0);
    double rep_seq = q_num(t.db, "SELECT sync_seq FROM reps");
    double set_seq = q_num(t.db, "SELECT sync_seq FROM sets");
    CHECK(q_num(t.db, "SELECT sync_seq FROM sessions") < set_seq);
    /* the rep bumped its set's count: the set changed after the rep and is numbered after */
    CHECK(set_seq > rep_seq);
    CHECK_INT(store_pain(s, 0, 4, NULL, NULL), 0);
    CHECK(q_num(t.db, "SELECT sync_seq FROM sets") > set_seq);
    CHECK_INT(q_num(t.db, "SELECT count(*) FROM (SELECT sync_seq FROM patients UNION ALL"
                          " SELECT sync_seq FROM sessions UNION ALL SELECT sync_seq FROM sets"
                          " UNION ALL SELECT sync_seq FROM reps) WHERE sync_seq IS NULL"), 0);
    CHECK_INT(q_num(t.db, "SELECT max(sync_seq) FROM (SELECT sync_seq FROM patients UNION ALL"
                          " SELECT sync_seq FROM sessions UNION ALL SELECT sync_seq FROM sets"
                          " UNION ALL SELECT sync_seq FROM reps)"),
              q_num(t.db, "SELECT seq FROM sync_counter"));
    store_close(s);
    q_text(t.db, "SELECT uuid FROM patients ORDER BY id LIMIT 1", u1, sizeof u1);
    q_text(t.db, "SELECT uuid FROM patients ORDER BY id DESC LIMIT 1", u2, sizeof u2);
    CHECK_INT(strlen(u1), 36);
    CHECK(u1[14] == '4' && strchr("89ab", u1[19]) != NULL);
    CHECK(strcmp(u1, u2) != 0);
    check_integrity(t.db);
    tmp_clean(&t);
}

TESTS(T(every_insert_and_update_gets_the_next_sync_seq_and_patients_a_uuid),
      T(a_schema_2_file_from_the_eccd_before_opens_migrates_and_keeps_every_row),
      T(open_creates_and_migrates), T(empty_file_is_migrated), T(reopen_keeps_data),
      T(newer_schema_refused_untouched), T(foreign_and_garbage_files_refused), T(patients),
      T(full_session), T(resume_interrupted_session),
      T(open_session_gives_what_carrying_it_on_needs),
      T(schema_1_file_is_migrated_and_its_open_set_read), T(faults_and_resets),
      T(events_without_session), T(calibrations), T(recent_sessions_ends),
      T(report_pairs_sets_with_their_sessions_when_the_clock_went_back),
      T(ring_full_drops_never_blocks), T(durable_sequence_and_on_durable_order),
      T(close_drains_the_queue), T(failed_commit_is_retried), T(cursors_stream_a_snapshot),
      T(crash_keeps_durable_events));
TEST_MAIN("test_store")
