/* test_pgschema.c - the clinic's central schema and eccsync's write path on a real,
 * throwaway PostgreSQL 15 (tests/pgtmp.h): migrations, rigs' roles and row-level
 * security, monthly partitions, idempotent and all-or-nothing batches, progress, the pull of
 * shared patients, TLS with verify-full, and a killed server.
 *
 * One TLS server serves every test but the fault test, which kills its own; each test
 * works in a fresh database of it (roles are the cluster's: rig_a and rig_b are added to
 * each database again, which pgschema_add_rig allows).
 */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgtmp.h"
#include "sync/pgerr.h"
#include "sync/pgschema.h"
#include "sync/pgwrite.h"
#include "sync/syncrow.h"
#include "test.h"

#define PW_A "pw of rig 'a'"    /* a quote, for the conninfo's quoting */
#define PW_B "pw-b"
#define JAN_2024 1704067200.0  /* 2024-01-01T00:00:00Z */
#define FEB_2024 1706745600.0
#define DEC_2023 1701388800.0
#define DAY 86400.0

static struct pgtmp server;     /* shared, with TLS */
static int server_state;        /* 0 not started yet, 1 up, -1 failed to start */
static int databases;

static struct pgtmp *shared_server(void)
{
    if (server_state == 0)
        server_state = pgtmp_start(&server, true) == 0 ? 1 : -1;
    return server_state == 1 ? &server : NULL;
}

/* ---- connections and SQL ----------------------------------------------------------- */

static PGconn *connect_to(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);

    if (PQstatus(c) != CONNECTION_OK) {
        printf("  connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Connect, or NULL with libpq's message in msg (for connections that are to fail). */
static PGconn *try_conn(const char *ci, char *msg, size_t len)
{
    PGconn *c = PQconnectdb(ci);

    snprintf(msg, len, "%s", PQerrorMessage(c));
    if (PQstatus(c) == CONNECTION_OK)
        return c;
    PQfinish(c);
    return NULL;
}

/* The admin's conninfo for database db of p. */
static void admin_conninfo(const struct pgtmp *p, const char *db, char *out, size_t len)
{
    snprintf(out, len, "%s dbname=%s", pgtmp_admin_conninfo(p), db);
}

/* Run sql; its first value as text into out (may be NULL): 0, or -1 with the error
 * printed (print: say it; a test that wants a refusal passes false). */
static int sql_value(PGconn *c, const char *sql, char *out, size_t len, bool print)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;

    if (out && len)
        snprintf(out, len, "%s", rc == 0 && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0)
                                                               : PQresultErrorMessage(r));
    if (rc && print)
        printf("  %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

static int sql_ok(PGconn *c, const char *sql)
{
    return sql_value(c, sql, NULL, 0, true);
}

static long long sql_int(PGconn *c, const char *sql)
{
    char v[64];

    return sql_value(c, sql, v, sizeof v, true) == 0 ? atoll(v) : -999;
}

/* A fresh database on p (name into db), the admin connected to it; migrated and with rigs A
 * (rig_a) and B (rig_b) when full. NULL when that failed. */
static PGconn *fresh_db(struct pgtmp *p, char *db, size_t len, bool full)
{
    char ci[320], sql[96], err[512];
    PGconn *postgres, *admin;

    snprintf(db, len, "t%d", ++databases);
    admin_conninfo(p, "postgres", ci, sizeof ci);
    if (!(postgres = connect_to(ci)))
        return NULL;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    sql_ok(postgres, sql);
    PQfinish(postgres);
    admin_conninfo(p, db, ci, sizeof ci);
    if (!(admin = connect_to(ci)) || !full)
        return admin;
    if (pgschema_migrate(admin, err, sizeof err) != 0 ||
        pgschema_add_rig(admin, "A", "rig_a", PW_A, err, sizeof err) != 0 ||
        pgschema_add_rig(admin, "B", "rig_b", PW_B, err, sizeof err) != 0) {
        printf("  %s\n", err);
        PQfinish(admin);
        return NULL;
    }
    return admin;
}

/* A rig's role connected over TCP (TLS verify-full on the shared server). */
static PGconn *rig_conn(const struct pgtmp *p, const char *db, const char *role, const char *pw)
{
    char ci[512];

    pgtmp_tcp_conninfo(p, role, pw, db, ci, sizeof ci);
    return connect_to(ci);
}

/* ---- rows -------------------------------------------------------------------------- */

static void uuid_of(long long id, char *out, size_t len)
{
    snprintf(out, len, "00000000-0000-4000-8000-%012lld", id);
}

/* A row of table t, every column filled from id (local_id or the key is id itself) and
 * times from t0: text columns "name-id", uuids from id, reals t0 + id + column / 8. */
static struct sync_row sample(enum sync_table t, long long id, double t0)
{
    const struct sync_table_def *d = &sync_tables[t];
    struct sync_row row;

    memset(&row, 0, sizeof row);
    row.table = t;
    row.seq = (uint64_t)id;
    for (int c = 0; c < d->ncols; c++) {
        struct sync_value *v = &row.v[c];
        const char *name = d->cols[c].name;
        v->kind = d->cols[c].kind;
        if (strcmp(name, "uuid") == 0 || strcmp(name, "patient_uuid") == 0)
            uuid_of(id, v->text, sizeof v->text);
        else if (v->kind == SV_TEXT)
            snprintf(v->text, sizeof v->text, "%s-%lld", name, id);
        else if (v->kind == SV_INT)
            v->i = c == 0 ? id : id * 100 + c;
        else
            v->r = strcmp(name, "t") == 0 ? t0 + (double)id : t0 + (double)id + c / 8.0;
    }
    return row;
}

static void set_text(struct sync_row *row, const char *col, const char *text)
{
    for (int c = 0; c < sync_tables[row->table].ncols; c++)
        if (strcmp(sync_tables[row->table].cols[c].name, col) == 0) {
            row->v[c].kind = SV_TEXT;
            snprintf(row->v[c].text, sizeof row->v[c].text, "%s", text);
        }
}

static void set_real(struct sync_row *row, const char *col, double r)
{
    for (int c = 0; c < sync_tables[row->table].ncols; c++)
        if (strcmp(sync_tables[row->table].cols[c].name, col) == 0) {
            row->v[c].kind = SV_REAL;
            row->v[c].r = r;
        }
}

/* One row of every table, ids from id, in January 2024; n rows into rows. */
static int every_table(struct sync_row *rows, long long id)
{
    for (int t = 0; t < ST_COUNT; t++)
        rows[t] = sample((enum sync_table)t, id, JAN_2024);
    return ST_COUNT;
}

static int write_batch(PGconn *c, const char *rig, const struct sync_row *rows, int n,
                       uint64_t seq)
{
    char err[1024];
    int rc = pgwrite_batch(c, rig, rows, n, seq, err, sizeof err);

    if (rc != 0)
        printf("  pgwrite_batch: %d: %s\n", rc, err);
    return rc;
}

/* Every row of every replicated table and of sync_progress, with each row's xmin (a row
 * rewritten, even to the same values, gets a new one), as one text; the caller frees it. */
static char *dump(PGconn *admin)
{
    static const char *const extra[] = {"sync_progress"};
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap), sql[256];

    for (int t = 0; out && t < ST_COUNT + 1; t++) {
        const char *name = t < ST_COUNT ? sync_tables[t].name : extra[0];
        PGresult *r;
        snprintf(sql, sizeof sql, "SELECT coalesce(string_agg(format('%%s %%s', xmin, x::text),"
                 " E'\\n' ORDER BY x::text), '') FROM ecc.%s x", name);
        r = PQexec(admin, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            const char *v = PQgetvalue(r, 0, 0);
            while (len + strlen(v) + strlen(name) + 8 > cap && (out = realloc(out, cap *= 2)))
                ;
            if (out)
                len += (size_t)sprintf(out + len, "%s:\n%s\n", name, v);
        }
        PQclear(r);
    }
    return out;
}

/* ---- migrations ---------------------------------------------------------------------- */

/* The schema ecc as pg_dump writes it (its definitions only), without the \restrict lines
 * (a random key, new in each dump). */
static char *schema_dump(const struct pgtmp *p, const char *db)
{
    char cmd[512], line[1024], *out = calloc(1, 1 << 20);
    size_t n = 0;
    FILE *f;

    snprintf(cmd, sizeof cmd, PGTMP_BIN "/pg_dump --schema-only --schema=ecc 'host=%s port=%d "
             "user=postgres dbname=%s'", p->dir, p->port, db);
    if (!out || !(f = popen(cmd, "r")))
        return out;
    while (fgets(line, sizeof line, f) && n + strlen(line) < (1 << 20))
        if (strncmp(line, "\\restrict", 9) != 0 && strncmp(line, "\\unrestrict", 11) != 0)
            n += (size_t)sprintf(out + n, "%s", line);
    pclose(f);
    return out;
}

TEST(migrating_twice_changes_nothing)
{
    struct pgtmp *p = shared_server();
    char db[16], err[512], versions[64];
    char *first = NULL, *second = NULL;
    PGconn *admin;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, false));
    CHECK_INT(pgschema_version(admin, err, sizeof err), 0);
    CHECK_INT(pgschema_migrate(admin, err, sizeof err), 0);
    CHECK_INT(pgschema_version(admin, err, sizeof err), PGSCHEMA_VERSION);
    first = schema_dump(p, db);
    CHECK_INT(pgschema_migrate(admin, err, sizeof err), 0);
    second = schema_dump(p, db);
    REQUIRE_OR_GOTO(first && second, out);
    CHECK(strlen(first) > 1000);
    CHECK_STR_CONTAINS(first, "CREATE TABLE ecc.reps");
    CHECK(strcmp(first, second) == 0);
    sql_value(admin, "SELECT string_agg(version::text, ',' ORDER BY version)"
                     " FROM ecc.schema_migrations", versions, sizeof versions, true);
    CHECK(strcmp(versions, "1,2,3") == 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.schema_migrations WHERE applied IS NULL"), 0);
out:
    free(first);
    free(second);
    PQfinish(admin);
}

TEST(migrating_in_steps_gives_the_same_schema)
{
    struct pgtmp *p = shared_server();
    char db1[16], db2[16], err[512];
    char *whole = NULL, *steps = NULL;
    PGconn *a1, *a2 = NULL;

    REQUIRE(p);
    REQUIRE(a1 = fresh_db(p, db1, sizeof db1, false));
    REQUIRE_OR_GOTO(a2 = fresh_db(p, db2, sizeof db2, false), out);
    CHECK_INT(pgschema_migrate(a1, err, sizeof err), 0);
    CHECK_INT(pgschema_migrate_to(a2, 1, err, sizeof err), 0);
    CHECK_INT(pgschema_version(a2, err, sizeof err), 1);
    CHECK_INT(sql_int(a2, "SELECT count(*) FROM pg_policies WHERE schemaname = 'ecc'"), 0);
    CHECK_INT(pgschema_migrate(a2, err, sizeof err), 0);
    CHECK_INT(pgschema_version(a2, err, sizeof err), PGSCHEMA_VERSION);
    whole = schema_dump(p, db1);
    steps = schema_dump(p, db2);
    CHECK(whole && steps && strcmp(whole, steps) == 0);
out:
    free(whole);
    free(steps);
    PQfinish(a1);
    PQfinish(a2);
}

TEST(a_newer_schema_or_a_weak_admin_is_refused)
{
    struct pgtmp *p = shared_server();
    char db[16], err[512], ci[320];
    PGconn *admin, *weak = NULL;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    sql_ok(admin, "INSERT INTO ecc.schema_migrations(version) VALUES (99)");
    CHECK_INT(pgschema_migrate(admin, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "version 99, newer than this code's");
    sql_ok(admin, "DELETE FROM ecc.schema_migrations WHERE version = 99");
    /* a role that could create tables but not see past row security */
    sql_ok(admin, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'weak')"
                  " THEN CREATE ROLE weak LOGIN CREATEROLE; END IF; END$$");
    snprintf(ci, sizeof ci, "%s dbname=%s user=weak", pgtmp_admin_conninfo(p), db);
    REQUIRE_OR_GOTO(weak = connect_to(ci), out);
    CHECK_INT(pgschema_migrate(weak, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "BYPASSRLS");
    CHECK_INT(pgschema_add_rig(weak, "C", "rig_c", "x", err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "BYPASSRLS");
out:
    PQfinish(weak);
    PQfinish(admin);
}

/* docs/fleet.md's other admin: no superuser, but BYPASSRLS and CREATEROLE, owning the
 * database. It migrates, adds a rig, and the rig writes. */
TEST(an_admin_with_bypassrls_that_is_no_superuser_will_do)
{
    struct pgtmp *p = shared_server();
    struct sync_row rows[ST_COUNT];
    char ci[320], err[512], db[16];
    PGconn *postgres, *admin = NULL, *c = NULL;

    REQUIRE(p);
    admin_conninfo(p, "postgres", ci, sizeof ci);
    REQUIRE(postgres = connect_to(ci));
    snprintf(db, sizeof db, "t%d", ++databases);
    sql_ok(postgres, "CREATE ROLE ecc_admin LOGIN CREATEROLE BYPASSRLS");
    snprintf(ci, sizeof ci, "CREATE DATABASE %s OWNER ecc_admin", db);
    sql_ok(postgres, ci);
    PQfinish(postgres);
    snprintf(ci, sizeof ci, "%s dbname=%s user=ecc_admin", pgtmp_admin_conninfo(p), db);
    REQUIRE(admin = connect_to(ci));
    CHECK_INT(pgschema_migrate(admin, err, sizeof err), 0);
    CHECK_INT(pgschema_migrate(admin, err, sizeof err), 0);
    CHECK_INT(pgschema_add_rig(admin, "A", "rig_a", PW_A, err, sizeof err), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM pg_class WHERE relnamespace = 'ecc'::regnamespace"
                             " AND relowner <> 'ecc_owner'::regrole"), 0);
    REQUIRE_OR_GOTO(c = rig_conn(p, db, "rig_a", PW_A), out);
    CHECK_INT(write_batch(c, "A", rows, every_table(rows, 1), 1), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.reps"), 1);
out:
    PQfinish(c);
    PQfinish(admin);
}

TEST(the_tables_mirror_sync_tables)
{
    struct pgtmp *p = shared_server();
    char db[16], sql[512], got[256];
    PGconn *admin;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    for (int t = 0; t < ST_COUNT; t++) {
        const struct sync_table_def *d = &sync_tables[t];
        for (int c = 0; c < d->ncols; c++) {
            const char *name = d->cols[c].name;
            bool uuid = strcmp(name, "uuid") == 0 || strcmp(name, "patient_uuid") == 0;
            const char *want = uuid ? "uuid" : d->cols[c].kind == SV_INT ? "bigint"
                               : d->cols[c].kind == SV_REAL ? "double precision" : "text";
            snprintf(sql, sizeof sql, "SELECT data_type FROM information_schema.columns WHERE"
                     " table_schema = 'ecc' AND table_name = '%s' AND column_name = '%s'",
                     d->name, name);
            sql_value(admin, sql, got, sizeof got, true);
            if (strcmp(got, want) != 0)
                printf("  ecc.%s.%s: %s, want %s\n", d->name, name, got, want);
            CHECK(strcmp(got, want) == 0);
        }
        /* the key the writer's ON CONFLICT names */
        snprintf(sql, sizeof sql, "SELECT array_to_string(array_agg(a.attname ORDER BY k.n),"
                 " ',') FROM pg_index i CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(att, n)"
                 " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att"
                 " WHERE i.indrelid = 'ecc.%s'::regclass AND i.indisprimary", d->name);
        sql_value(admin, sql, got, sizeof got, true);
        if (!d->rig_owned)
            CHECK(strcmp(got, d->cols[0].name) == 0);
        else if (t == ST_REPS || t == ST_REJECTS)
            CHECK(strcmp(got, "rig_id,local_id,month") == 0);
        else
            CHECK(strcmp(got, "rig_id,local_id") == 0);
    }
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'ecc' AND ("
                             "(tablename = 'sessions' AND indexdef LIKE '%(patient_uuid, started)')"
                             " OR (tablename = 'sets' AND indexdef LIKE '%(rig_id, session_id)')"
                             " OR (tablename = 'reps' AND indexdef LIKE '%(rig_id, set_id)')"
                             " OR (tablename = 'checkins' AND indexdef LIKE '%(patient_uuid, t)')"
                             " OR (tablename = 'progression' AND indexdef LIKE '%(patient_uuid, t)'))"),
              5);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM pg_class WHERE relnamespace = 'ecc'::regnamespace"
                             " AND relkind IN ('r', 'p') AND NOT (relrowsecurity AND relforcerowsecurity)"),
              0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM pg_class WHERE relnamespace = 'ecc'::regnamespace"
                             " AND relowner <> 'ecc_owner'::regrole"), 0);
    PQfinish(admin);
}

/* ---- rigs' roles ----------------------------------------------------------------------- */

TEST(adding_a_rig_twice_is_one_rig)
{
    struct pgtmp *p = shared_server();
    char db[16], err[512], ci[512], msg[512];
    PGconn *admin, *c = NULL;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    CHECK_INT(pgschema_add_rig(admin, "A", "rig_a", PW_A, err, sizeof err), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.rigs WHERE rig_id = 'A' AND role = 'rig_a'"), 1);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM pg_roles WHERE rolname = 'rig_a' AND rolcanlogin"
                             " AND NOT rolsuper AND NOT rolbypassrls AND NOT rolcreaterole"
                             " AND pg_has_role('rig_a', 'ecc_rig', 'MEMBER')"), 1);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM pg_authid WHERE rolname = 'rig_a'"
                             " AND rolpassword LIKE 'SCRAM-SHA-256$%'"), 1);
    /* one role per rig, one rig per role */
    CHECK_INT(pgschema_add_rig(admin, "A", "rig_x", NULL, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "rig A is bound to role rig_a");
    CHECK_INT(pgschema_add_rig(admin, "C", "rig_a", NULL, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "rig A is bound to role rig_a");
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.rigs"), 2);
    CHECK_INT(pgschema_add_rig(admin, "S", "postgres", NULL, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "superuser");
    sql_ok(admin, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'repl')"
                  " THEN CREATE ROLE repl LOGIN REPLICATION; END IF; END$$");
    CHECK_INT(pgschema_add_rig(admin, "S", "repl", NULL, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "replication role");
    CHECK_INT(pgschema_add_rig(admin, "bad id", "rig_s", NULL, err, sizeof err), -1);
    CHECK_INT(pgschema_add_rig(admin, "S", "Rig-S", NULL, err, sizeof err), -1);
    CHECK_INT(pgschema_add_rig(admin, "S", "pg_s", NULL, err, sizeof err), -1);
    CHECK_INT(pgschema_add_rig(admin, "S", "rig_s", "", err, sizeof err), -1);
    /* certificate authentication: no password at all */
    CHECK_INT(pgschema_add_rig(admin, "N", "rig_n", NULL, err, sizeof err), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM pg_authid WHERE rolname = 'rig_n'"
                             " AND rolpassword IS NULL AND rolcanlogin"), 1);
    /* the password works over TCP, a wrong one does not */
    c = rig_conn(p, db, "rig_a", PW_A);
    CHECK(c != NULL);
    PQfinish(c);
    pgtmp_tcp_conninfo(p, "rig_a", "wrong", db, ci, sizeof ci);
    CHECK((c = try_conn(ci, msg, sizeof msg)) == NULL);
    CHECK_STR_CONTAINS(msg, "password authentication failed");
    PQfinish(c);
    PQfinish(admin);
}

/* ---- batches ------------------------------------------------------------------------- */

TEST(a_batch_written_twice_leaves_the_same_rows)
{
    struct pgtmp *p = shared_server();
    struct sync_row rows[ST_COUNT * 3];
    char db[16], err[512];
    char *once = NULL, *twice = NULL;
    uint64_t seq = 0;
    PGconn *admin, *a = NULL;
    int n = 0;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    REQUIRE_OR_GOTO(a = rig_conn(p, db, "rig_a", PW_A), out);
    for (int k = 1; k <= 3; k++)
        n += every_table(rows + n, k);
    CHECK_INT(write_batch(a, "A", rows, n, 30), 0);
    once = dump(admin);
    CHECK_INT(write_batch(a, "A", rows, n, 30), 0);
    twice = dump(admin);
    REQUIRE_OR_GOTO(once && twice, out);
    CHECK(strcmp(once, twice) == 0);
    /* the same rows with a later progress: the rows are not rewritten (same xmin) */
    CHECK_INT(write_batch(a, "A", rows, n, 31), 0);
    free(twice);
    twice = dump(admin);
    CHECK(twice && strcmp(strstr(once, "sync_progress:"), strstr(twice, "sync_progress:")) != 0);
    *strstr(once, "sync_progress:") = '\0';
    CHECK(twice && strncmp(once, twice, strlen(once)) == 0);
    CHECK_INT(pgwrite_progress(a, "A", &seq, err, sizeof err), 0);
    CHECK_INT(seq, 31);
    for (int t = 0; t < ST_COUNT; t++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM ecc.%s", sync_tables[t].name);
        CHECK_INT(sql_int(admin, sql), 3);
    }
    /* a changed row is rewritten, with every column */
    rows[ST_SESSIONS].v[4].kind = SV_TEXT;
    snprintf(rows[ST_SESSIONS].v[4].text, SYNC_TEXT_MAX, "open");
    CHECK_INT(write_batch(a, "A", rows, n, 32), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.sessions WHERE status = 'open'"
                             " AND rig_id = 'A' AND local_id = 1"), 1);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.patients WHERE origin_rig = 'A'"), 3);
out:
    free(once);
    free(twice);
    PQfinish(a);
    PQfinish(admin);
}

/* A good batch (seq 10), then bad ones that must leave exactly that. */
TEST(a_batch_failing_half_way_leaves_nothing)
{
    struct pgtmp *p = shared_server();
    enum { BIG = 700 };         /* over two of the writer's pipeline chunks */
    struct sync_row *rows = calloc(BIG, sizeof *rows);
    char db[16], err[1024];
    char *before = NULL, *after = NULL;
    uint64_t seq = 0;
    PGconn *admin = NULL, *a = NULL;

    REQUIRE(p && rows);
    REQUIRE_OR_GOTO(admin = fresh_db(p, db, sizeof db, true), out);
    REQUIRE_OR_GOTO(a = rig_conn(p, db, "rig_a", PW_A), out);
    CHECK_INT(write_batch(a, "A", rows, every_table(rows, 1), 10), 0);
    before = dump(admin);

    /* a text where a real belongs, in the middle */
    for (int i = 0; i < 8; i++)
        rows[i] = sample(ST_SETS, 100 + i, JAN_2024);
    set_text(&rows[5], "started", "yesterday");
    CHECK_INT(pgwrite_batch(a, "A", rows, 8, 20, err, sizeof err), PGWRITE_REFUSED);
    CHECK_STR_CONTAINS(err, "row 5 (sets local_id 105)");
    CHECK_STR_CONTAINS(err, "SQLSTATE 22P02");
    CHECK_INT(PQtransactionStatus(a), PQTRANS_IDLE);
    CHECK_INT(PQstatus(a), CONNECTION_OK);

    /* a NULL where the schema wants a value, late in a batch of many chunks */
    for (int i = 0; i < BIG; i++)
        rows[i] = sample(i % 2 ? ST_REPS : ST_REJECTS, 1000 + i, FEB_2024 + i * 3600.0);
    memset(&rows[651].v[2], 0, sizeof rows[651].v[2]);  /* a rep's n: NOT NULL */
    CHECK_INT(pgwrite_batch(a, "A", rows, BIG, 30, err, sizeof err), PGWRITE_REFUSED);
    CHECK_STR_CONTAINS(err, "row 651 (reps local_id 1651)");
    CHECK_STR_CONTAINS(err, "SQLSTATE 23502");

    /* a forced error: a row of another rig */
    rows[0] = sample(ST_FAULTS, 9, JAN_2024);
    rows[1] = sample(ST_CALIBRATIONS, 9, JAN_2024);
    CHECK_INT(pgwrite_batch(a, "B", rows, 2, 40, err, sizeof err), PGWRITE_REFUSED);
    CHECK_STR_CONTAINS(err, "row-level security");

    /* a value with no known kind, refused before the server sees it */
    rows[1].v[2].kind = (enum sync_kind)7;
    CHECK_INT(pgwrite_batch(a, "A", rows, 2, 50, err, sizeof err), PGWRITE_REFUSED);
    CHECK_STR_CONTAINS(err, "row 1 (calibrations local_id 9) kind: a value of no known kind");

    after = dump(admin);
    CHECK(before && after && strcmp(before, after) == 0);
    CHECK_INT(pgwrite_progress(a, "A", &seq, err, sizeof err), 0);
    CHECK_INT(seq, 10);
    /* and the connection goes on */
    rows[1] = sample(ST_CALIBRATIONS, 9, JAN_2024);
    CHECK_INT(write_batch(a, "A", rows, 2, 60), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.faults"), 2);
out:
    free(before);
    free(after);
    free(rows);
    PQfinish(a);
    PQfinish(admin);
}

TEST(progress_round_trip)
{
    struct pgtmp *p = shared_server();
    char db[16], err[512];
    uint64_t seq = 99;
    PGconn *admin, *a = NULL, *b = NULL;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    REQUIRE_OR_GOTO(a = rig_conn(p, db, "rig_a", PW_A), out);
    REQUIRE_OR_GOTO(b = rig_conn(p, db, "rig_b", PW_B), out);
    CHECK_INT(pgschema_version(a, err, sizeof err), PGSCHEMA_VERSION);
    CHECK_INT(pgwrite_progress(a, "A", &seq, err, sizeof err), 0);
    CHECK_INT(seq, 0);
    CHECK_INT(write_batch(a, "A", NULL, 0, 5), 0);
    CHECK_INT(pgwrite_progress(a, "A", &seq, err, sizeof err), 0);
    CHECK_INT(seq, 5);
    /* never backwards */
    CHECK_INT(write_batch(a, "A", NULL, 0, 3), 0);
    CHECK_INT(pgwrite_progress(a, "A", &seq, err, sizeof err), 0);
    CHECK_INT(seq, 5);
    CHECK_INT(write_batch(a, "A", NULL, 0, 0x7fffffffffffffffULL), 0);
    CHECK_INT(pgwrite_progress(a, "A", &seq, err, sizeof err), 0);
    CHECK(seq == 0x7fffffffffffffffULL);
    CHECK_INT(pgwrite_batch(a, "A", NULL, 0, 0x8000000000000000ULL, err, sizeof err),
              PGWRITE_REFUSED);
    /* B has its own, and cannot read or set A's */
    CHECK_INT(write_batch(b, "B", NULL, 0, 7), 0);
    CHECK_INT(pgwrite_progress(b, "B", &seq, err, sizeof err), 0);
    CHECK_INT(seq, 7);
    CHECK_INT(pgwrite_progress(b, "A", &seq, err, sizeof err), 0);
    CHECK_INT(seq, 0);
    CHECK_INT(pgwrite_batch(b, "A", NULL, 0, 9, err, sizeof err), PGWRITE_REFUSED);
    CHECK_INT(sql_int(admin, "SELECT last_seq FROM ecc.sync_progress WHERE rig_id = 'B'"), 7);
out:
    PQfinish(a);
    PQfinish(b);
    PQfinish(admin);
}

/* ---- row-level security ------------------------------------------------------------- */

TEST(a_rig_reads_and_writes_only_its_own_rows)
{
    struct pgtmp *p = shared_server();
    struct sync_row rows[ST_COUNT];
    char db[16], err[512], msg[512];
    PGconn *admin, *a = NULL, *b = NULL;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    REQUIRE_OR_GOTO(a = rig_conn(p, db, "rig_a", PW_A), out);
    REQUIRE_OR_GOTO(b = rig_conn(p, db, "rig_b", PW_B), out);
    /* the same local ids on both rigs: two rows each, one per rig */
    CHECK_INT(write_batch(a, "A", rows, every_table(rows, 1), 1), 0);
    CHECK_INT(write_batch(b, "B", rows + ST_SESSIONS, ST_COUNT - ST_SESSIONS, 1), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.sessions"), 2);
    /* A cannot write a row of B's */
    rows[ST_SESSIONS] = sample(ST_SESSIONS, 2, JAN_2024);
    CHECK_INT(pgwrite_batch(a, "B", rows + ST_SESSIONS, 1, 2, err, sizeof err), PGWRITE_REFUSED);
    CHECK_STR_CONTAINS(err, "row-level security");
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.sessions"), 2);
    /* nor see them, update them or delete anything */
    for (int t = ST_SESSIONS; t < ST_COUNT; t++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FILTER (WHERE rig_id = 'A') * 10 + count(*)"
                 " FROM ecc.%s", sync_tables[t].name);
        CHECK_INT(sql_int(a, sql), 11);
    }
    CHECK_INT(sql_int(a, "SELECT count(*) FROM ecc.sync_progress"), 1);
    CHECK_INT(sql_int(a, "SELECT count(*) FROM ecc.rigs"), 1);
    CHECK_INT(sql_value(a, "UPDATE ecc.sessions SET status = 'x' WHERE rig_id = 'B'"
                           " RETURNING 1", msg, sizeof msg, true), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.sessions WHERE status = 'x'"), 0);
    CHECK_INT(sql_value(a, "UPDATE ecc.sessions SET rig_id = 'B'", msg, sizeof msg, false), -1);
    CHECK_STR_CONTAINS(msg, "row-level security");
    CHECK_INT(sql_value(a, "DELETE FROM ecc.sessions", msg, sizeof msg, false), -1);
    CHECK_STR_CONTAINS(msg, "permission denied");
    CHECK_INT(sql_value(a, "UPDATE ecc.sync_progress SET last_seq = 0 WHERE rig_id = 'B'"
                           " RETURNING 1", msg, sizeof msg, true), 0);
    CHECK_INT(sql_int(admin, "SELECT last_seq FROM ecc.sync_progress WHERE rig_id = 'B'"), 1);
    CHECK_INT(sql_value(a, "INSERT INTO ecc.rigs VALUES ('Z', 'rig_a')", msg, sizeof msg, false), -1);
    CHECK_INT(sql_value(a, "SELECT * FROM ecc.schema_migrations", msg, sizeof msg, true), 0);
out:
    PQfinish(a);
    PQfinish(b);
    PQfinish(admin);
}

/* The clinic's patient 900 (shared) and 901 (not shared), each with a programme (updated
 * at 1 s). */
static void clinic_patients(PGconn *admin)
{
    sql_ok(admin, "INSERT INTO ecc.patients(uuid, name, created) VALUES"
                  " ('00000000-0000-4000-8000-000000000900', 'clinic', 1),"
                  " ('00000000-0000-4000-8000-000000000901', 'private', 1)");
    sql_ok(admin, "UPDATE ecc.patients SET shared = false WHERE name = 'private'");
    sql_ok(admin, "INSERT INTO ecc.programmes(patient_uuid, start, weeks, sessions_per_day,"
                  " sets, reps, band_low, band_high, step_share, floor_n, ceiling_n, locked,"
                  " level, updated) VALUES ('00000000-0000-4000-8000-000000000900', 1, 12, 2,"
                  " 3, 15, 60, 100, 0.05, 40, 200, 0, 0, 1),"
                  " ('00000000-0000-4000-8000-000000000901', 1, 12, 2,"
                  " 3, 15, 60, 100, 0.05, 40, 200, 0, 0, 1)");
}

static const char level_900[] = "SELECT level FROM ecc.programmes WHERE patient_uuid ="
                                " '00000000-0000-4000-8000-000000000900'";

TEST(patients_are_shared_and_only_their_origin_changes_them)
{
    struct pgtmp *p = shared_server();
    struct sync_row rows[4];
    char db[16], msg[512];
    PGconn *admin, *a = NULL, *b = NULL;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    REQUIRE_OR_GOTO(a = rig_conn(p, db, "rig_a", PW_A), out);
    REQUIRE_OR_GOTO(b = rig_conn(p, db, "rig_b", PW_B), out);
    clinic_patients(admin);
    /* A sees the shared patient and its programme, not the other */
    CHECK_INT(sql_int(a, "SELECT count(*) FROM ecc.patients WHERE name = 'clinic'"), 1);
    CHECK_INT(sql_int(a, "SELECT count(*) FROM ecc.patients"), 1);
    CHECK_INT(sql_int(a, "SELECT count(*) FROM ecc.programmes"), 1);
    /* and cannot change the clinic's patients, nor a programme the clinic does not share */
    CHECK_INT(sql_value(a, "UPDATE ecc.patients SET name = 'mine' RETURNING 1", msg,
                        sizeof msg, true), 0);
    CHECK_INT(sql_value(a, "UPDATE ecc.programmes SET level = 5 WHERE patient_uuid ="
                           " '00000000-0000-4000-8000-000000000901' RETURNING 1", msg,
                        sizeof msg, true), 0);
    CHECK_INT(sql_int(admin, "SELECT level FROM ecc.programmes WHERE patient_uuid ="
                             " '00000000-0000-4000-8000-000000000901'"), 0);
    CHECK_INT(sql_value(a, "UPDATE ecc.patients SET shared = false", msg, sizeof msg, false), -1);
    CHECK_STR_CONTAINS(msg, "permission denied");
    /* re-sent by a rig, the clinic's rows stay as they are and the batch goes through */
    rows[0] = sample(ST_PATIENTS, 900, JAN_2024);
    rows[1] = sample(ST_PROGRAMMES, 900, JAN_2024);
    set_real(&rows[1], "updated", 0.5);                 /* older than the clinic's */
    rows[2] = sample(ST_PATIENTS, 901, JAN_2024);
    rows[3] = sample(ST_PATIENTS, 7, JAN_2024);         /* A's own, new */
    CHECK_INT(write_batch(a, "A", rows, 4, 4), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.patients WHERE origin_rig IS NULL"
                             " AND name IN ('clinic', 'private')"), 2);
    CHECK_INT(sql_int(admin, level_900), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.patients WHERE origin_rig = 'A'"
                             " AND name = 'name-7' AND shared"), 1);
    /* B sees A's patient (shared by default), cannot change it even by a batch */
    CHECK_INT(sql_int(b, "SELECT count(*) FROM ecc.patients WHERE name = 'name-7'"), 1);
    set_text(&rows[3], "name", "renamed by B");
    CHECK_INT(write_batch(b, "B", rows + 3, 1, 1), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.patients WHERE name = 'name-7'"), 1);
    CHECK_INT(sql_value(b, "UPDATE ecc.patients SET name = 'x' RETURNING 1", msg, sizeof msg,
                        true), 0);
    /* A, its origin, can */
    set_text(&rows[3], "name", "renamed by A");
    CHECK_INT(write_batch(a, "A", rows + 3, 1, 5), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.patients WHERE name = 'renamed by A'"), 1);
    /* the clinic stops sharing it: B no longer sees it, A still updates its own */
    sql_ok(admin, "UPDATE ecc.patients SET shared = false WHERE origin_rig = 'A'");
    CHECK_INT(sql_int(b, "SELECT count(*) FROM ecc.patients WHERE origin_rig = 'A'"), 0);
    set_real(&rows[3], "force_low", 55);
    CHECK_INT(write_batch(a, "A", rows + 3, 1, 6), 0);
    CHECK_INT(sql_int(admin, "SELECT force_low FROM ecc.patients WHERE origin_rig = 'A'"), 55);
    /* a rig cannot insert a patient as another's or the clinic's */
    CHECK_INT(sql_value(a, "INSERT INTO ecc.patients(uuid, name, created, origin_rig) VALUES"
                           " ('00000000-0000-4000-8000-000000000999', 'x', 1, 'B')", msg,
                        sizeof msg, false), -1);
    CHECK_STR_CONTAINS(msg, "row-level security");
out:
    PQfinish(a);
    PQfinish(b);
    PQfinish(admin);
}

/* The value of keyword kw on connection c ("" when unset). */
static const char *conn_option(PGconn *c, const char *kw, char *out, size_t len)
{
    PQconninfoOption *o = PQconninfo(c);

    out[0] = '\0';
    for (PQconninfoOption *i = o; i && i->keyword; i++)
        if (strcmp(i->keyword, kw) == 0 && i->val)
            snprintf(out, len, "%s", i->val);
    PQconninfoFree(o);
    return out;
}

/* eccsync's connections notice a dead peer: keepalives and a user timeout by default,
 * the credentials' own values where they set them (keyword=value or a URI). */
TEST(connections_get_link_timeouts_unless_the_credentials_set_them)
{
    struct pgtmp *p = shared_server();
    char ci[600], db[16], v[32];
    PGconn *admin, *c;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    pgtmp_tcp_conninfo(p, "rig_a", PW_A, db, ci, sizeof ci);
    c = pgerr_connect(ci);
    CHECK_INT(PQstatus(c), CONNECTION_OK);
    CHECK_STR_CONTAINS(conn_option(c, "keepalives_idle", v, sizeof v), "30");
    CHECK_STR_CONTAINS(conn_option(c, "tcp_user_timeout", v, sizeof v), "60000");
    CHECK_STR_CONTAINS(conn_option(c, "sslmode", v, sizeof v), "verify-full");
    PQfinish(c);
    strncat(ci, " keepalives_idle=5 connect_timeout=3", sizeof ci - strlen(ci) - 1);
    c = pgerr_connect(ci);
    CHECK_INT(PQstatus(c), CONNECTION_OK);
    CHECK(strcmp(conn_option(c, "keepalives_idle", v, sizeof v), "5") == 0);
    CHECK(strcmp(conn_option(c, "connect_timeout", v, sizeof v), "3") == 0);
    CHECK(strcmp(conn_option(c, "keepalives_count", v, sizeof v), "3") == 0);
    PQfinish(c);
    c = pgerr_connect("postgresql:///nosuchdb?host=/nonexistent&keepalives_idle=7");
    CHECK(strcmp(conn_option(c, "keepalives_idle", v, sizeof v), "7") == 0);
    CHECK(strcmp(conn_option(c, "dbname", v, sizeof v), "nosuchdb") == 0);
    CHECK(strcmp(conn_option(c, "connect_timeout", v, sizeof v), "10") == 0);
    PQfinish(c);
    PQfinish(admin);
}

/* A shared patient's programme: the newest change wins, whichever rig or the clinic made
 * it; the clinic's own edit is stamped with the server's time. */
TEST(a_shared_programme_takes_the_newest_change)
{
    struct pgtmp *p = shared_server();
    struct sync_row row;
    PGconn *admin, *a = NULL, *b = NULL;
    char db[16];

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    REQUIRE_OR_GOTO(a = rig_conn(p, db, "rig_a", PW_A), out);
    REQUIRE_OR_GOTO(b = rig_conn(p, db, "rig_b", PW_B), out);
    clinic_patients(admin);
    row = sample(ST_PROGRAMMES, 900, JAN_2024);        /* level 90013, updated in 2024 */
    CHECK_INT(write_batch(b, "B", &row, 1, 1), 0);
    CHECK_INT(sql_int(admin, level_900), 90013);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.programmes WHERE origin_rig IS NULL"), 2);
    /* A's older copy changes nothing; its newer one wins */
    set_real(&row, "updated", JAN_2024 - 1);
    row.v[13].i = 3;
    CHECK_INT(write_batch(a, "A", &row, 1, 1), 0);
    CHECK_INT(sql_int(admin, level_900), 90013);
    set_real(&row, "updated", JAN_2024 + 10000);
    CHECK_INT(write_batch(a, "A", &row, 1, 2), 0);
    CHECK_INT(sql_int(admin, level_900), 3);
    /* the clinic's edit by SQL: stamped now, newer than any rig's */
    sql_ok(admin, "UPDATE ecc.programmes SET level = 1 WHERE patient_uuid ="
                  " '00000000-0000-4000-8000-000000000900'");
    CHECK(sql_int(admin, "SELECT (updated > extract(epoch FROM now()) - 60)::int FROM"
                         " ecc.programmes WHERE patient_uuid ="
                         " '00000000-0000-4000-8000-000000000900'") == 1);
    CHECK_INT(write_batch(b, "B", &row, 1, 2), 0);      /* B's copy is older now */
    CHECK_INT(sql_int(admin, level_900), 1);
out:
    PQfinish(a);
    PQfinish(b);
    PQfinish(admin);
}

struct pulled {
    int patients, programmes, stop_after;
    char names[256];
};

static int on_pulled(const struct sync_row *row, void *ctx)
{
    struct pulled *got = ctx;

    if (row->table == ST_PATIENTS) {
        got->patients++;
        strncat(got->names, row->v[1].text, sizeof got->names - strlen(got->names) - 2);
        strcat(got->names, ";");
    } else if (row->table == ST_PROGRAMMES) {
        got->programmes++;
        CHECK_INT(row->v[2].kind, SV_INT);
        CHECK_INT(row->v[2].i, 12);
        CHECK_NEAR(row->v[8].r, 0.05, 1e-12);
        CHECK_INT(row->v[12].kind, SV_NULL);    /* baseline */
    }
    return got->stop_after && got->patients + got->programmes >= got->stop_after;
}

TEST(a_rig_pulls_the_shared_patients)
{
    struct pgtmp *p = shared_server();
    struct pulled got = {0};
    char db[16], err[512], now[64];
    double next = 0, since;
    PGconn *admin, *a = NULL;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    REQUIRE_OR_GOTO(a = rig_conn(p, db, "rig_a", PW_A), out);
    clinic_patients(admin);
    CHECK_INT(pgwrite_pull_patients(a, 0, on_pulled, &got, &next, err, sizeof err), 2);
    CHECK_INT(got.patients, 1);
    CHECK_INT(got.programmes, 1);
    CHECK(strcmp(got.names, "clinic;") == 0);
    sql_value(admin, "SELECT extract(epoch FROM now())", now, sizeof now, true);
    CHECK_NEAR(next, atof(now) - PGWRITE_PULL_OVERLAP_S, 5);
    /* only what changed since */
    sql_value(admin, "SELECT extract(epoch FROM clock_timestamp())", now, sizeof now, true);
    since = atof(now);
    sql_ok(admin, "UPDATE ecc.patients SET name = 'clinic 2' WHERE name = 'clinic'");
    memset(&got, 0, sizeof got);
    CHECK_INT(pgwrite_pull_patients(a, since, on_pulled, &got, &next, err, sizeof err), 1);
    CHECK(strcmp(got.names, "clinic 2;") == 0);
    CHECK_INT(got.programmes, 0);
    memset(&got, 0, sizeof got);
    CHECK_INT(pgwrite_pull_patients(a, since + 3600, on_pulled, &got, &next, err, sizeof err), 0);
    /* the callback stops it */
    memset(&got, 0, sizeof got);
    got.stop_after = 1;
    next = -1;
    CHECK_INT(pgwrite_pull_patients(a, 0, on_pulled, &got, &next, err, sizeof err),
              PGWRITE_STOPPED);
    CHECK_INT(got.patients + got.programmes, 1);
    CHECK_NEAR(next, -1, 0);
    CHECK_INT(PQtransactionStatus(a), PQTRANS_IDLE);
out:
    PQfinish(a);
    PQfinish(admin);
}

/* ---- partitions ---------------------------------------------------------------------- */

TEST(reps_and_rejects_land_in_their_months)
{
    static const double times[] = {DEC_2023 + 14 * DAY, JAN_2024 + 9 * DAY, FEB_2024 + 19 * DAY,
                                   FEB_2024 - 4e-7};   /* rounds to Feb's first microsecond */
    static const char *const want[] = {"ecc.reps_2023_12", "ecc.reps_2024_01",
                                       "ecc.reps_2024_02", "ecc.reps_2024_02"};
    struct pgtmp *p = shared_server();
    struct sync_row rows[8];
    char db[16], sql[160], got[64], msg[256];
    PGconn *admin, *a = NULL;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    REQUIRE_OR_GOTO(a = rig_conn(p, db, "rig_a", PW_A), out);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM pg_partition_tree('ecc.reps') WHERE isleaf"), 0);
    for (int i = 0; i < 4; i++) {
        rows[i] = sample(ST_REPS, i + 1, 0);
        set_real(&rows[i], "t", times[i]);
        rows[4 + i] = sample(ST_REJECTS, i + 1, 0);
        set_real(&rows[4 + i], "t", times[i]);
    }
    CHECK_INT(write_batch(a, "A", rows, 8, 8), 0);
    for (int i = 0; i < 4; i++) {
        snprintf(sql, sizeof sql, "SELECT tableoid::regclass FROM ecc.reps WHERE local_id = %d", i + 1);
        sql_value(admin, sql, got, sizeof got, true);
        if (strcmp(got, want[i]) != 0)
            printf("  rep %d (t %.7f) in %s, want %s\n", i + 1, times[i], got, want[i]);
        CHECK(strcmp(got, want[i]) == 0);
    }
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.rejects_2023_12"), 1);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM ecc.rejects_2024_02"), 2);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM pg_partition_tree('ecc.rejects') WHERE isleaf"), 3);
    /* a rig reads a partition only through its parent */
    CHECK_INT(sql_int(a, "SELECT count(*) FROM ecc.reps"), 4);
    CHECK_INT(sql_value(a, "SELECT * FROM ecc.reps_2024_01", msg, sizeof msg, false), -1);
    CHECK_STR_CONTAINS(msg, "permission denied");
    /* made ahead, once */
    CHECK_INT(sql_int(admin, "SELECT ecc.ensure_partitions('2024-03-15', '2025-02-01')"), 24);
    CHECK_INT(sql_int(admin, "SELECT ecc.ensure_partitions('2024-03-01', '2025-02-28')"), 0);
    CHECK_INT(sql_int(admin, "SELECT count(*) FROM pg_class WHERE relname LIKE 'reps_20%'"
                             " AND relrowsecurity AND relforcerowsecurity"
                             " AND relowner = 'ecc_owner'::regrole"), 15);
    CHECK_INT(sql_value(admin, "SELECT ecc.ensure_partitions('2024-01-01', '2200-01-01')", msg,
                        sizeof msg, false), -1);
out:
    PQfinish(a);
    PQfinish(admin);
}

/* ---- TLS ----------------------------------------------------------------------------- */

TEST(tls_verify_full_needs_the_ca_and_the_name)
{
    struct pgtmp *p = shared_server();
    char db[16], ci[640], base[512], msg[512];
    PGconn *admin, *c;

    REQUIRE(p);
    REQUIRE(admin = fresh_db(p, db, sizeof db, true));
    pgtmp_tcp_conninfo(p, "rig_a", PW_A, db, base, sizeof base);
    CHECK_STR_CONTAINS(base, "sslmode='verify-full'");
    c = try_conn(base, msg, sizeof msg);
    CHECK(c != NULL);
    if (c)
        CHECK_INT(sql_int(c, "SELECT ssl::int FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), 1);
    PQfinish(c);
    /* by its address: the certificate names 127.0.0.1 too */
    snprintf(ci, sizeof ci, "%s host='127.0.0.1'", base);
    c = try_conn(ci, msg, sizeof msg);
    CHECK(c != NULL);
    PQfinish(c);
    /* without the CA */
    snprintf(ci, sizeof ci, "%s sslrootcert='%.63s/none.pem'", base, p->dir);
    CHECK((c = try_conn(ci, msg, sizeof msg)) == NULL);
    CHECK_STR_CONTAINS(msg, "root certificate file");
    PQfinish(c);
    /* with a CA that did not sign it (the server's own certificate is no CA) */
    snprintf(ci, sizeof ci, "%s sslrootcert='%.63s/server.pem'", base, p->dir);
    CHECK((c = try_conn(ci, msg, sizeof msg)) == NULL);
    CHECK_STR_CONTAINS(msg, "certificate verify failed");
    PQfinish(c);
    /* with the wrong host name */
    snprintf(ci, sizeof ci, "%s host='wrong.invalid'", base);
    CHECK((c = try_conn(ci, msg, sizeof msg)) == NULL);
    CHECK_STR_CONTAINS(msg, "does not match host name");
    PQfinish(c);
    /* and not at all in clear */
    snprintf(ci, sizeof ci, "%s sslmode='disable'", base);
    CHECK((c = try_conn(ci, msg, sizeof msg)) == NULL);
    CHECK_STR_CONTAINS(msg, "no encryption");
    PQfinish(c);
    PQfinish(admin);
}

/* ---- a killed server ----------------------------------------------------------------- */

TEST(a_killed_server_is_a_link_error_and_a_restarted_one_takes_the_batch)
{
    struct pgtmp own;
    struct sync_row rows[ST_COUNT];
    char db[16], err[1024], dir[64];
    uint64_t seq = 0;
    PGconn *admin = NULL, *a = NULL;
    int n = every_table(rows, 1);

    REQUIRE(pgtmp_start(&own, false) == 0);
    snprintf(dir, sizeof dir, "%s", own.dir);
    REQUIRE_OR_GOTO(admin = fresh_db(&own, db, sizeof db, true), out);
    REQUIRE_OR_GOTO(a = rig_conn(&own, db, "rig_a", PW_A), out);
    CHECK_INT(write_batch(a, "A", rows, n, 1), 0);
    /* a clean restart keeps everything */
    PQfinish(admin);
    admin = NULL;
    CHECK_INT(pgtmp_restart(&own), 0);
    /* sessions only: no partition to make first, so the failure is in the pipeline */
    CHECK_INT(pgwrite_batch(a, "A", rows + ST_SESSIONS, 1, 2, err, sizeof err), PGWRITE_LINK);
    CHECK_STR_CONTAINS(err, "reconnect");
    PQreset(a);
    CHECK_INT(PQstatus(a), CONNECTION_OK);
    CHECK_INT(write_batch(a, "A", rows, n, 2), 0);
    /* killed: the link error, and nothing of the cluster left running */
    CHECK_INT(pgtmp_kill(&own), 0);
    CHECK_INT(pgtmp_processes(&own), 0);
    rows[ST_SESSIONS] = sample(ST_SESSIONS, 2, JAN_2024);
    CHECK_INT(pgwrite_batch(a, "A", rows, n, 3, err, sizeof err), PGWRITE_LINK);
    CHECK_STR_CONTAINS(err, "partitions");
    CHECK_INT(pgwrite_progress(a, "A", &seq, err, sizeof err), PGWRITE_LINK);
    PQreset(a);
    CHECK(PQstatus(a) != CONNECTION_OK);
    /* started again (crash recovery), the same batch lands */
    CHECK_INT(pgtmp_start_again(&own), 0);
    PQreset(a);
    REQUIRE_OR_GOTO(PQstatus(a) == CONNECTION_OK, out);
    CHECK_INT(write_batch(a, "A", rows, n, 3), 0);
    CHECK_INT(pgwrite_progress(a, "A", &seq, err, sizeof err), 0);
    CHECK_INT(seq, 3);
    CHECK_INT(sql_int(a, "SELECT count(*) FROM ecc.sessions"), 2);
out:
    PQfinish(a);
    PQfinish(admin);
    pgtmp_stop(&own);
    CHECK_INT(pgtmp_processes(&own), 0);
    CHECK(access(dir, F_OK) != 0);
}

TESTS(T(migrating_twice_changes_nothing), T(migrating_in_steps_gives_the_same_schema),
      T(a_newer_schema_or_a_weak_admin_is_refused),
      T(an_admin_with_bypassrls_that_is_no_superuser_will_do), T(the_tables_mirror_sync_tables),
      T(adding_a_rig_twice_is_one_rig), T(a_batch_written_twice_leaves_the_same_rows),
      T(a_batch_failing_half_way_leaves_nothing), T(progress_round_trip),
      T(a_rig_reads_and_writes_only_its_own_rows),
      T(patients_are_shared_and_only_their_origin_changes_them),
      T(a_shared_programme_takes_the_newest_change),
      T(connections_get_link_timeouts_unless_the_credentials_set_them),
      T(a_rig_pulls_the_shared_patients), T(reps_and_rejects_land_in_their_months),
      T(tls_verify_full_needs_the_ca_and_the_name),
      T(a_killed_server_is_a_link_error_and_a_restarted_one_takes_the_batch));

int main(void)
{
    int n = (int)(sizeof test_cases_ / sizeof test_cases_[0]), rc;

    if (!pgtmp_installed())
        return test_skip_all("test_pgschema", test_cases_, n, PGTMP_MISSING);
    rc = test_run_all("test_pgschema", test_cases_, n);
    if (server_state == 1)
        pgtmp_stop(&server);
    return rc;
}
