/* test_pgschema.c - the clinic's central schema and eccsync's write path on a real,
 * throwaway PostgreSQL 15 (tests/pgtmp.h): migrations, rigs' roles, TLS with verify-full.
 *
 * One TLS server serves every test; each test
 * works in a fresh database of it (roles are the cluster's: rig_a and rig_b are added to
 * each database again, which pgschema_add_rig allows).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgtmp.h"
#include "sync/pgschema.h"
#include "sync/syncrow.h"
#include "test.h"

#define PW_A "pw of rig 'a'"    /* a quote, for the conninfo's quoting */
#define PW_B "pw-b"

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
    CHECK(strcmp(versions, "1,2") == 0);
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
 * database. It migrates and adds a rig, which connects. */
TEST(an_admin_with_bypassrls_that_is_no_superuser_will_do)
{
    struct pgtmp *p = shared_server();
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
    CHECK((c = rig_conn(p, db, "rig_a", PW_A)) != NULL);
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

TESTS(T(migrating_twice_changes_nothing), T(migrating_in_steps_gives_the_same_schema),
      T(a_newer_schema_or_a_weak_admin_is_refused),
      T(an_admin_with_bypassrls_that_is_no_superuser_will_do), T(the_tables_mirror_sync_tables),
      T(adding_a_rig_twice_is_one_rig), T(tls_verify_full_needs_the_ca_and_the_name));

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
