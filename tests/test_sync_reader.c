/* test_sync_reader.c - eccsync's reader of the rig's history (sync/reader.c): a history
 * written through the real store is read back as replication rows, in commit order, in
 * batches of any size, with what changed later read again; an old schema is refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "daemon/store.h"
#include "sync/reader.h"
#include "tests/test.h"
#include "util/log.h"

#define T0 1767596400.0
#define MAXROWS 512

struct tmp {
    char dir[64], db[128];
};

static int tmp_make(struct tmp *t)
{
    log_set_level(LOG_LVL_WARN);
    snprintf(t->dir, sizeof t->dir, "/tmp/ecc-sync-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->db, sizeof t->db, "%s/h.db", t->dir);
    return 0;
}

static void tmp_clean(struct tmp *t)
{
    char p[160];

    for (const char *ext = ""; ext; ext = !*ext ? "-wal" : !strcmp(ext, "-wal") ? "-shm" : NULL) {
        snprintf(p, sizeof p, "%s%s", t->db, ext);
        unlink(p);
    }
    rmdir(t->dir);
}

static void push(struct store *s, enum ctl_event_kind kind, int set, int rep, double wall)
{
    struct ctl_event ev = {.kind = kind, .session = 1, .set = set, .rep = rep, .wall = wall,
                           .t = wall - T0, .patient = 0};

    ev.fig.verdict = REP_COUNTED;
    ev.fig.mean_n = 80.0 + rep;
    ev.sum.counted = rep;
    store_push_event(s, &ev);
}

/* A session of one set of three reps, a pain score: 1 patient, 1 session, 1 set, 3 reps. */
static int write_history(const char *path)
{
    struct store_params p = {.path = path, .queue_len = 64};
    char err[256] = "";
    struct store *s = store_open(&p, err, sizeof err);

    if (!s) {
        printf("  store_open: %s\n", err);
        return -1;
    }
    push(s, CTL_EV_SESSION_START, 0, 0, T0);
    push(s, CTL_EV_SET_START, 1, 0, T0 + 1);
    for (int r = 1; r <= 3; r++)
        push(s, CTL_EV_REP, 1, r, T0 + 2 * r);
    push(s, CTL_EV_SET, 1, 3, T0 + 8);
    store_flush(s, 5.0);
    store_pain(s, 0, 2, NULL, NULL);
    store_close(s);
    return 0;
}

static int count_table(const struct sync_row *rows, int n, enum sync_table t)
{
    int k = 0;

    for (int i = 0; i < n; i++)
        k += rows[i].table == t;
    return k;
}

TEST(a_history_reads_back_as_rows_in_commit_order)
{
    static struct sync_row rows[MAXROWS];
    struct tmp t;
    struct sync_reader *r = NULL;
    char err[256] = "", uuid[SYNC_TEXT_MAX] = "";
    uint64_t head = 0;
    int n;

    REQUIRE(tmp_make(&t) == 0);
    REQUIRE_OR_GOTO(write_history(t.db) == 0, out);
    r = sync_reader_open(t.db, err, sizeof err);
    REQUIRE_OR_GOTO(r != NULL, out);
    n = sync_reader_batch(r, 0, rows, MAXROWS, err, sizeof err);
    CHECK_INT(n, 6);                                  /* patient, session, set, 3 reps */
    CHECK_INT(count_table(rows, n, ST_PATIENTS), 1);
    CHECK_INT(count_table(rows, n, ST_SESSIONS), 1);
    CHECK_INT(count_table(rows, n, ST_SETS), 1);
    CHECK_INT(count_table(rows, n, ST_REPS), 3);
    for (int i = 1; i < n; i++)
        CHECK(rows[i].seq > rows[i - 1].seq);
    CHECK_INT(sync_reader_head(r, &head, err, sizeof err), 0);
    CHECK_INT(head, n > 0 ? rows[n - 1].seq : 0);
    for (int i = 0; i < n; i++) {
        if (rows[i].table == ST_PATIENTS)
            snprintf(uuid, sizeof uuid, "%s", rows[i].v[0].text);
        if (rows[i].table == ST_SESSIONS) {
            CHECK_INT(rows[i].v[0].kind, SV_INT);          /* local_id */
            CHECK(strcmp(rows[i].v[1].text, uuid) == 0);   /* the patient by UUID */
            CHECK_NEAR(rows[i].v[2].r, T0, 1e-6);           /* started */
        }
        if (rows[i].table == ST_SETS) {
            CHECK_INT(rows[i].v[8].kind, SV_INT);           /* the pain, 2 */
            CHECK_INT(rows[i].v[8].i, 2);
            CHECK_INT(rows[i].v[5].i, 3);                   /* counted */
        }
        if (rows[i].table == ST_REPS)
            CHECK_INT(rows[i].v[3].kind, SV_INT);           /* stroke */
    }
    CHECK_INT(strlen(uuid), 36);
    CHECK_INT(sync_reader_batch(r, head, rows, MAXROWS, err, sizeof err), 0);
out:
    sync_reader_close(r);
    tmp_clean(&t);
}

TEST(small_batches_read_the_same_rows_and_a_change_reads_its_row_again)
{
    static struct sync_row all[MAXROWS], part[2];
    struct tmp t;
    struct sync_reader *r = NULL;
    char err[256] = "";
    uint64_t at = 0;
    int n, got = 0, k;

    REQUIRE(tmp_make(&t) == 0);
    REQUIRE_OR_GOTO(write_history(t.db) == 0, out);
    r = sync_reader_open(t.db, err, sizeof err);
    REQUIRE_OR_GOTO(r != NULL, out);
    n = sync_reader_batch(r, 0, all, MAXROWS, err, sizeof err);
    while ((k = sync_reader_batch(r, at, part, 2, err, sizeof err)) > 0) {
        for (int i = 0; i < k; i++, got++)
            CHECK(got < n && part[i].seq == all[got].seq && part[i].table == all[got].table);
        at = part[k - 1].seq;
    }
    CHECK_INT(k, 0);
    CHECK_INT(got, n);
    {   /* eccd records a new pain score on the set while the reader is open */
        struct store_params p = {.path = t.db, .queue_len = 64};
        struct store *s = store_open(&p, err, sizeof err);

        REQUIRE_OR_GOTO(s != NULL, out);
        CHECK_INT(store_pain(s, 0, 7, NULL, NULL), 0);
        store_close(s);
    }
    k = sync_reader_batch(r, at, part, 2, err, sizeof err);
    CHECK_INT(k, 1);
    CHECK_INT(part[0].table, ST_SETS);
    CHECK_INT(part[0].v[8].i, 7);
out:
    sync_reader_close(r);
    tmp_clean(&t);
}

TEST(a_history_before_schema_4_is_refused_with_the_fix)
{
    struct tmp t;
    sqlite3 *db;
    char err[256] = "";

    REQUIRE(tmp_make(&t) == 0);
    REQUIRE_OR_GOTO(sqlite3_open(t.db, &db) == SQLITE_OK, out);
    sqlite3_exec(db, "CREATE TABLE x(a); PRAGMA user_version = 3;", NULL, NULL, NULL);
    sqlite3_close(db);
    errno = 0;
    CHECK(sync_reader_open(t.db, err, sizeof err) == NULL);
    CHECK_INT(errno, ENOTSUP);
    CHECK_STR_CONTAINS(err, "schema 3");
    CHECK_STR_CONTAINS(err, "start this version of eccd once");
out:
    tmp_clean(&t);
}

TESTS(T(a_history_reads_back_as_rows_in_commit_order),
      T(small_batches_read_the_same_rows_and_a_change_reads_its_row_again),
      T(a_history_before_schema_4_is_refused_with_the_fix));
TEST_MAIN("test_sync_reader")
