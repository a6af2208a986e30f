/* pgschema.c - the central schema's migrations and the rigs' roles (see pgschema.h and
 * docs/fleet.md).
 */
#include "sync/pgschema.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/pgerr.h"

/* pg_advisory_xact_lock key of the migrations and of pgschema_add_rig ("eccs"). */
#define LOCK_KEY "1701012339"

/* Made on every run, before the versioned migrations, and changing nothing once made: the
 * roles, the schema and the table that records which migrations ran. A non-superuser admin
 * becomes a member of ecc_owner, which each migration switches to (SET LOCAL ROLE) so that
 * what it makes is ecc_owner's. Roles belong to the whole cluster while the advisory lock
 * is the database's: a role another database's migration made meanwhile is no failure. */
static const char bootstrap_sql[] =
    "SET LOCAL client_min_messages = warning;"
    "SELECT pg_advisory_xact_lock(" LOCK_KEY ");"
    "DO $$BEGIN"
    " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ecc_owner') THEN"
    "  BEGIN CREATE ROLE ecc_owner NOLOGIN;"
    "  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;"
    " END IF;"
    " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ecc_rig') THEN"
    "  BEGIN CREATE ROLE ecc_rig NOLOGIN;"
    "  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;"
    " END IF;"
    " IF NOT pg_has_role('ecc_owner', 'MEMBER') THEN"
    "  EXECUTE format('GRANT ecc_owner TO %I', current_user);"
    " END IF;"
    "END$$;"
    "CREATE SCHEMA IF NOT EXISTS ecc AUTHORIZATION ecc_owner;"
    "CREATE TABLE IF NOT EXISTS ecc.schema_migrations(version integer PRIMARY KEY,"
    " applied timestamptz NOT NULL DEFAULT now());"
    "ALTER TABLE ecc.schema_migrations OWNER TO ecc_owner;"
    "ALTER TABLE ecc.schema_migrations ENABLE ROW LEVEL SECURITY;"
    "ALTER TABLE ecc.schema_migrations FORCE ROW LEVEL SECURITY;";

/* migrations[v - 1] brings version v - 1 to v; each runs as ecc_owner in its own
 * transaction. Never edit one that has shipped: add the next. The tables mirror
 * sync_tables[] (sync/syncrow.c): INTEGER bigint, REAL double precision, TEXT text, a
 * patient's UUID uuid; NOT NULL where the rig's own schema has it (daemon/store_schema.c). */
static const char *const migrations[] = {
    /* 1: the tables. Rig-owned rows are keyed (rig_id, local_id), so a delivery repeated
     * after any failure lands on the same row. Reps and rejects, the big ones, are
     * partitioned by the month of t (UTC): a partition key must be part of the key, so
     * theirs is (rig_id, local_id, month), and month is checked against t. The rows refer
     * to one another (a set's session_id, a session's patient_uuid) without foreign keys:
     * a rig's rows arrive in its change log's order over many batches, and the central
     * copy mirrors what the rig's own file already holds together; only rig_id must name a
     * known rig. Patients and programmes carry origin_rig (NULL: the clinic's own) and
     * changed (the server's time of their last change, for the rigs' pulls). */
    "SET LOCAL ROLE ecc_owner;"
    "CREATE FUNCTION ecc.month_of(t double precision) RETURNS date"
    " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE"
    " AS $$SELECT date_trunc('month', to_timestamp(t) AT TIME ZONE 'UTC')::date$$;"
    "CREATE TABLE ecc.rigs(rig_id text PRIMARY KEY, role name NOT NULL UNIQUE,"
    " created timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE ecc.sync_progress(rig_id text PRIMARY KEY REFERENCES ecc.rigs,"
    " last_seq bigint NOT NULL CHECK (last_seq >= 0),"
    " updated timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE ecc.patients(uuid uuid PRIMARY KEY, name text NOT NULL,"
    " created double precision NOT NULL, force_low double precision,"
    " force_high double precision, speed_max double precision,"
    " force_abort double precision, origin_rig text REFERENCES ecc.rigs,"
    " shared boolean NOT NULL DEFAULT true, changed timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE ecc.programmes(patient_uuid uuid PRIMARY KEY,"
    " start double precision NOT NULL, weeks bigint NOT NULL,"
    " sessions_per_day bigint NOT NULL, sets bigint NOT NULL, reps bigint NOT NULL,"
    " band_low double precision NOT NULL, band_high double precision NOT NULL,"
    " step_share double precision NOT NULL, floor_n double precision NOT NULL,"
    " ceiling_n double precision NOT NULL, locked bigint NOT NULL,"
    " baseline double precision, level bigint NOT NULL, last_change double precision,"
    " updated double precision NOT NULL, origin_rig text REFERENCES ecc.rigs,"
    " changed timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE ecc.sessions(rig_id text NOT NULL REFERENCES ecc.rigs,"
    " local_id bigint NOT NULL, patient_uuid uuid, started double precision NOT NULL,"
    " ended double precision, status text NOT NULL, resumes bigint NOT NULL,"
    " band_low double precision, band_high double precision,"
    " PRIMARY KEY (rig_id, local_id));"
    "CREATE TABLE ecc.sets(rig_id text NOT NULL REFERENCES ecc.rigs,"
    " local_id bigint NOT NULL, session_id bigint NOT NULL, n bigint NOT NULL,"
    " started double precision NOT NULL, ended double precision, counted bigint NOT NULL,"
    " rejected bigint NOT NULL, in_band_share double precision, pain bigint,"
    " pain_t double precision, duration_s double precision,"
    " PRIMARY KEY (rig_id, local_id));"
    "CREATE TABLE ecc.reps(rig_id text NOT NULL REFERENCES ecc.rigs,"
    " local_id bigint NOT NULL, set_id bigint NOT NULL, n bigint NOT NULL, stroke bigint,"
    " t double precision NOT NULL, duration_s double precision, travel_m double precision,"
    " peak_n double precision, mean_n double precision, in_band_s double precision,"
    " in_band_share double precision, work_j double precision, window_s double precision,"
    " month date NOT NULL CHECK (month = ecc.month_of(t)),"
    " PRIMARY KEY (rig_id, local_id, month)) PARTITION BY RANGE (month);"
    "CREATE TABLE ecc.rejects(rig_id text NOT NULL REFERENCES ecc.rigs,"
    " local_id bigint NOT NULL, set_id bigint, stroke bigint, t double precision NOT NULL,"
    " verdict text NOT NULL, duration_s double precision, travel_m double precision,"
    " peak_n double precision, mean_n double precision, in_band_s double precision,"
    " in_band_share double precision, work_j double precision, window_s double precision,"
    " month date NOT NULL CHECK (month = ecc.month_of(t)),"
    " PRIMARY KEY (rig_id, local_id, month)) PARTITION BY RANGE (month);"
    "CREATE TABLE ecc.faults(rig_id text NOT NULL REFERENCES ecc.rigs,"
    " local_id bigint NOT NULL, session_id bigint, t double precision NOT NULL,"
    " fault text NOT NULL, value double precision, limit_value double precision,"
    " reset_t double precision, PRIMARY KEY (rig_id, local_id));"
    "CREATE TABLE ecc.calibrations(rig_id text NOT NULL REFERENCES ecc.rigs,"
    " local_id bigint NOT NULL, t double precision NOT NULL, kind text NOT NULL,"
    " \"offset\" double precision, scale double precision,"
    " mass_kg double precision NOT NULL, PRIMARY KEY (rig_id, local_id));"
    "CREATE TABLE ecc.checkins(rig_id text NOT NULL REFERENCES ecc.rigs,"
    " local_id bigint NOT NULL, patient_uuid uuid NOT NULL, t double precision NOT NULL,"
    " kind text NOT NULL, score double precision NOT NULL, instrument text,"
    " PRIMARY KEY (rig_id, local_id));"
    "CREATE TABLE ecc.progression(rig_id text NOT NULL REFERENCES ecc.rigs,"
    " local_id bigint NOT NULL, patient_uuid uuid NOT NULL, session_id bigint,"
    " t double precision NOT NULL, kind text NOT NULL, level_from bigint, level_to bigint,"
    " band_low double precision, band_high double precision, reason text NOT NULL,"
    " PRIMARY KEY (rig_id, local_id));"
    /* the reports' queries, and the rigs' pulls of what changed */
    "CREATE INDEX sessions_patient ON ecc.sessions(patient_uuid, started);"
    "CREATE INDEX sets_session ON ecc.sets(rig_id, session_id);"
    "CREATE INDEX reps_set ON ecc.reps(rig_id, set_id);"
    "CREATE INDEX rejects_set ON ecc.rejects(rig_id, set_id);"
    "CREATE INDEX faults_session ON ecc.faults(rig_id, session_id);"
    "CREATE INDEX checkins_patient ON ecc.checkins(patient_uuid, t);"
    "CREATE INDEX progression_patient ON ecc.progression(patient_uuid, t);"
    "CREATE INDEX patients_changed ON ecc.patients(changed);"
    "CREATE INDEX programmes_changed ON ecc.programmes(changed);"
    /* changed follows every update, whoever makes it (a rig's upsert, the clinic's edit) */
    "CREATE FUNCTION ecc.touch_changed() RETURNS trigger LANGUAGE plpgsql"
    " AS $$BEGIN NEW.changed := now(); RETURN NEW; END$$;"
    "CREATE TRIGGER patients_changed BEFORE UPDATE ON ecc.patients"
    " FOR EACH ROW EXECUTE FUNCTION ecc.touch_changed();"
    "CREATE TRIGGER programmes_changed BEFORE UPDATE ON ecc.programmes"
    " FOR EACH ROW EXECUTE FUNCTION ecc.touch_changed();"
    /* Monthly partitions of reps and rejects, made on demand. Only their owner may make
     * them, so the function runs as ecc_owner (SECURITY DEFINER, with a search_path that
     * nobody else can write to). The lock and the second look make two rigs asking for
     * the same new month at once take turns instead of one failing. A partition has row
     * security forced and no policy: read or written as itself (not through its parent,
     * whose policies apply) it shows nobody anything. */
    "CREATE FUNCTION ecc.ensure_partitions(from_month date, to_month date) RETURNS integer"
    " LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$"
    "DECLARE"
    " m date := make_date(extract(year FROM from_month)::int,"
    "                     extract(month FROM from_month)::int, 1);"
    " made integer := 0; parent text; part text;"
    "BEGIN"
    " IF from_month IS NULL OR to_month IS NULL OR to_month < from_month"
    "    OR to_month > from_month + 1200 * 31 THEN"
    "  RAISE EXCEPTION 'ensure_partitions(%, %): not a range of up to 100 years',"
    "   from_month, to_month;"
    " END IF;"
    " WHILE m <= to_month LOOP"
    "  FOREACH parent IN ARRAY ARRAY['reps', 'rejects'] LOOP"
    "   part := parent || '_' || to_char(m::timestamp, 'YYYY_MM');"
    "   CONTINUE WHEN to_regclass('ecc.' || part) IS NOT NULL;"
    "   PERFORM pg_advisory_xact_lock(" LOCK_KEY ", 1);"
    "   CONTINUE WHEN EXISTS (SELECT FROM pg_class"
    "    WHERE relnamespace = 'ecc'::regnamespace AND relname = part);"
    "   EXECUTE format('CREATE TABLE ecc.%I PARTITION OF ecc.%I FOR VALUES FROM (%L) TO (%L)',"
    "    part, parent, to_char(m::timestamp, 'YYYY-MM-DD'),"
    "    to_char(m + interval '1 month', 'YYYY-MM-DD'));"
    "   EXECUTE format('ALTER TABLE ecc.%I ENABLE ROW LEVEL SECURITY', part);"
    "   EXECUTE format('ALTER TABLE ecc.%I FORCE ROW LEVEL SECURITY', part);"
    "   made := made + 1;"
    "  END LOOP;"
    "  m := (m + interval '1 month')::date;"
    " END LOOP;"
    " RETURN made;"
    "END$$;"
    /* the partitions the rows with these times need (the months of ecc.month_of, which
     * also fills the rows' month: the two cannot disagree on a time near a month's end) */
    "CREATE FUNCTION ecc.ensure_partitions_for(ts double precision[]) RETURNS integer"
    " LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$"
    "DECLARE m date; made integer := 0;"
    "BEGIN"
    " FOR m IN SELECT DISTINCT ecc.month_of(x) FROM unnest(ts) AS x WHERE x IS NOT NULL LOOP"
    "  made := made + ecc.ensure_partitions(m, m);"
    " END LOOP;"
    " RETURN made;"
    "END$$;",

    /* 2: who may do what. A rig's login role (a member of ecc_rig, bound to its rig in
     * ecc.rigs) reads and writes only its own rows of the rig-owned tables and its own
     * progress; it reads the shared patients and their programmes and its own, inserts
     * patients and programmes as their origin, and updates only those it is the origin
     * of (the clinic's, origin_rig NULL, are read-only to rigs). It deletes nothing.
     * Column privileges keep origin_rig and shared out of a rig's updates. Row security is
     * forced on every table, so the owner is held to it too. */
    "SET LOCAL ROLE ecc_owner;"
    "CREATE FUNCTION ecc.my_rig() RETURNS text LANGUAGE sql STABLE"
    " AS $$SELECT rig_id FROM ecc.rigs WHERE role = current_user$$;"
    "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ecc FROM PUBLIC;"
    "GRANT USAGE ON SCHEMA ecc TO ecc_rig;"
    "GRANT EXECUTE ON FUNCTION ecc.my_rig(), ecc.month_of(double precision),"
    " ecc.ensure_partitions(date, date), ecc.ensure_partitions_for(double precision[])"
    " TO ecc_rig;"
    "GRANT SELECT ON ecc.rigs, ecc.schema_migrations TO ecc_rig;"
    "GRANT SELECT, INSERT, UPDATE ON ecc.sync_progress, ecc.sessions, ecc.sets, ecc.reps,"
    " ecc.rejects, ecc.faults, ecc.calibrations, ecc.checkins, ecc.progression TO ecc_rig;"
    "GRANT SELECT ON ecc.patients, ecc.programmes TO ecc_rig;"
    "GRANT INSERT (uuid, name, created, force_low, force_high, speed_max, force_abort,"
    " origin_rig), UPDATE (name, created, force_low, force_high, speed_max, force_abort)"
    " ON ecc.patients TO ecc_rig;"
    "GRANT INSERT (patient_uuid, start, weeks, sessions_per_day, sets, reps, band_low,"
    " band_high, step_share, floor_n, ceiling_n, locked, baseline, level, last_change,"
    " updated, origin_rig), UPDATE (start, weeks, sessions_per_day, sets, reps, band_low,"
    " band_high, step_share, floor_n, ceiling_n, locked, baseline, level, last_change,"
    " updated) ON ecc.programmes TO ecc_rig;"
    "DO $$DECLARE t text;"
    "BEGIN"
    " FOREACH t IN ARRAY ARRAY['rigs', 'sync_progress', 'patients', 'programmes',"
    "  'sessions', 'sets', 'reps', 'rejects', 'faults', 'calibrations', 'checkins',"
    "  'progression'] LOOP"
    "  EXECUTE format('ALTER TABLE ecc.%I ENABLE ROW LEVEL SECURITY', t);"
    "  EXECUTE format('ALTER TABLE ecc.%I FORCE ROW LEVEL SECURITY', t);"
    " END LOOP;"
    " FOREACH t IN ARRAY ARRAY['sync_progress', 'sessions', 'sets', 'reps', 'rejects',"
    "  'faults', 'calibrations', 'checkins', 'progression'] LOOP"
    "  EXECUTE format('CREATE POLICY rig_select ON ecc.%I FOR SELECT TO ecc_rig"
    "   USING (rig_id = (SELECT ecc.my_rig()))', t);"
    "  EXECUTE format('CREATE POLICY rig_insert ON ecc.%I FOR INSERT TO ecc_rig"
    "   WITH CHECK (rig_id = (SELECT ecc.my_rig()))', t);"
    "  EXECUTE format('CREATE POLICY rig_update ON ecc.%I FOR UPDATE TO ecc_rig"
    "   USING (rig_id = (SELECT ecc.my_rig())) WITH CHECK (rig_id = (SELECT ecc.my_rig()))', t);"
    " END LOOP;"
    " FOREACH t IN ARRAY ARRAY['patients', 'programmes'] LOOP"
    "  EXECUTE format('CREATE POLICY rig_insert ON ecc.%I FOR INSERT TO ecc_rig"
    "   WITH CHECK (origin_rig = (SELECT ecc.my_rig()))', t);"
    "  EXECUTE format('CREATE POLICY rig_update ON ecc.%I FOR UPDATE TO ecc_rig"
    "   USING (origin_rig = (SELECT ecc.my_rig()))"
    "   WITH CHECK (origin_rig = (SELECT ecc.my_rig()))', t);"
    " END LOOP;"
    "END$$;"
    "CREATE POLICY rig_self ON ecc.rigs FOR SELECT TO ecc_rig USING (role = current_user);"
    "CREATE POLICY rig_read ON ecc.schema_migrations FOR SELECT TO ecc_rig USING (true);"
    /* a rig sees its own patients even when the clinic stops sharing them: an upsert of
     * its own row must see the row it updates */
    "CREATE POLICY rig_select ON ecc.patients FOR SELECT TO ecc_rig"
    " USING (shared OR origin_rig = (SELECT ecc.my_rig()));"
    "CREATE POLICY rig_select ON ecc.programmes FOR SELECT TO ecc_rig"
    " USING (origin_rig = (SELECT ecc.my_rig()) OR EXISTS (SELECT FROM ecc.patients p"
    "  WHERE p.uuid = programmes.patient_uuid AND p.shared));",

    /* 3: a shared patient's programme is one value that every rig training the patient
     * and the clinic change, and the newest change wins (its updated time: pgwrite's
     * upsert updates a row only with a newer one). So a rig may update the programme of
     * any patient the clinic shares, not only of its own; and the clinic's own edits
     * (an UPDATE that leaves updated as it was) are stamped with the server's time, so
     * that the rigs take them. */
    "SET LOCAL ROLE ecc_owner;"
    "CREATE POLICY rig_update_shared ON ecc.programmes FOR UPDATE TO ecc_rig"
    " USING (EXISTS (SELECT FROM ecc.patients p WHERE p.uuid = programmes.patient_uuid"
    "  AND p.shared))"
    " WITH CHECK (EXISTS (SELECT FROM ecc.patients p WHERE p.uuid = programmes.patient_uuid"
    "  AND p.shared));"
    "CREATE FUNCTION ecc.stamp_programme() RETURNS trigger LANGUAGE plpgsql"
    " AS $$BEGIN"
    " IF NEW.updated IS NOT DISTINCT FROM OLD.updated AND"
    "  (NEW.start, NEW.weeks, NEW.sessions_per_day, NEW.sets, NEW.reps, NEW.band_low,"
    "   NEW.band_high, NEW.step_share, NEW.floor_n, NEW.ceiling_n, NEW.locked, NEW.baseline,"
    "   NEW.level, NEW.last_change) IS DISTINCT FROM"
    "  (OLD.start, OLD.weeks, OLD.sessions_per_day, OLD.sets, OLD.reps, OLD.band_low,"
    "   OLD.band_high, OLD.step_share, OLD.floor_n, OLD.ceiling_n, OLD.locked, OLD.baseline,"
    "   OLD.level, OLD.last_change) THEN"
    "  NEW.updated := extract(epoch FROM clock_timestamp());"
    " END IF;"
    " RETURN NEW;"
    "END$$;"
    "CREATE TRIGGER programmes_stamped BEFORE UPDATE ON ecc.programmes"
    " FOR EACH ROW EXECUTE FUNCTION ecc.stamp_programme();",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == PGSCHEMA_VERSION,
               "one migration per schema version");

/* ---- running them ------------------------------------------------------------------ */

/* Run a parameterised statement; the first column of its first row as text into out ("":
 * no row, SQL NULL, or a statement that returns none); 0, or -1 with err. */
static int query_value(PGconn *c, const char *sql, int nparams, const char *const *params,
                       char *out, size_t outlen, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    int rc = 0;

    out[0] = '\0';
    if (!r || (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)) {
        pgerr_say(err, errlen, what, c, r);
        rc = -1;
    } else if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return rc;
}

static void rollback(PGconn *c)
{
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
}

/* The admin must be able to bypass row security (every table forces it) and make roles. */
static int check_admin(PGconn *c, char *err, size_t errlen)
{
    char v[8];

    if (query_value(c, "SELECT (rolsuper OR (rolbypassrls AND rolcreaterole))::text"
                       " FROM pg_roles WHERE rolname = current_user",
                    0, NULL, v, sizeof v, "pgschema: checking the admin role", err, errlen))
        return -1;
    if (strcmp(v, "true") == 0)
        return 0;
    pgerr_plain(err, errlen, "pgschema: the admin role",
                "neither a superuser nor a role with BYPASSRLS and CREATEROLE: connect as "
                "one (docs/fleet.md, \"Roles\")");
    return -1;
}

int pgschema_version(PGconn *c, char *err, size_t errlen)
{
    char v[16];

    if (query_value(c, "SELECT to_regclass('ecc.schema_migrations') IS NOT NULL", 0, NULL,
                    v, sizeof v, "pgschema: looking for ecc.schema_migrations", err, errlen))
        return -1;
    if (strcmp(v, "t") != 0)
        return 0;
    if (query_value(c, "SELECT coalesce(max(version), 0) FROM ecc.schema_migrations", 0,
                    NULL, v, sizeof v, "pgschema: reading ecc.schema_migrations", err, errlen))
        return -1;
    return atoi(v);
}

/* The roles, the schema and its migrations table (in a transaction of their own), and a
 * refusal of a schema newer than this code. */
static int bootstrap(PGconn *c, char *err, size_t errlen)
{
    int v;

    if (pgerr_exec(c, "BEGIN", "pgschema: BEGIN", err, errlen) ||
        pgerr_exec(c, bootstrap_sql, "pgschema: making the roles and schema ecc", err, errlen) ||
        pgerr_exec(c, "COMMIT", "pgschema: COMMIT of schema ecc", err, errlen)) {
        rollback(c);
        return -1;
    }
    if ((v = pgschema_version(c, err, errlen)) < 0)
        return -1;
    if (v > PGSCHEMA_VERSION) {
        if (errlen)
            snprintf(err, errlen, "pgschema: the database's schema is at version %d, newer "
                     "than this code's (%d): not changed; use a newer eccsync", v,
                     PGSCHEMA_VERSION);
        return -1;
    }
    return 0;
}

/* Migration v, unless it is recorded already, and its row in ecc.schema_migrations, in
 * one transaction under the migrations' lock. */
static int apply(PGconn *c, int v, char *err, size_t errlen)
{
    char ver[16], done[8], what[64];
    const char *params[1] = {ver};

    snprintf(ver, sizeof ver, "%d", v);
    snprintf(what, sizeof what, "pgschema: migration %d", v);
    if (pgerr_exec(c, "BEGIN", what, err, errlen) ||
        pgerr_exec(c, "SET LOCAL client_min_messages = warning;"
                      "SELECT pg_advisory_xact_lock(" LOCK_KEY ")", what, err, errlen) ||
        query_value(c, "SELECT 1 FROM ecc.schema_migrations WHERE version = $1", 1, params,
                    done, sizeof done, what, err, errlen))
        goto fail;
    if (done[0])
        return pgerr_exec(c, "COMMIT", what, err, errlen);
    if (pgerr_exec(c, migrations[v - 1], what, err, errlen) ||
        pgerr_exec(c, "RESET ROLE", what, err, errlen) ||
        query_value(c, "INSERT INTO ecc.schema_migrations(version) VALUES ($1)", 1, params,
                    done, sizeof done, what, err, errlen) ||
        pgerr_exec(c, "COMMIT", what, err, errlen))
        goto fail;
    return 0;
fail:
    rollback(c);
    return -1;
}

int pgschema_migrate_to(PGconn *admin, int version, char *err, size_t errlen)
{
    if (version < 1 || version > PGSCHEMA_VERSION) {
        pgerr_plain(err, errlen, "pgschema_migrate_to", "no such version");
        return -1;
    }
    if (check_admin(admin, err, errlen) || bootstrap(admin, err, errlen))
        return -1;
    for (int v = 1; v <= version; v++)
        if (apply(admin, v, err, errlen))
            return -1;
    return 0;
}

int pgschema_migrate(PGconn *admin, char *err, size_t errlen)
{
    return pgschema_migrate_to(admin, PGSCHEMA_VERSION, err, errlen);
}

/* ---- the rigs' roles --------------------------------------------------------------- */

static bool all_of(const char *s, const char *set, size_t max)
{
    size_t n = strlen(s);

    return n >= 1 && n <= max && strspn(s, set) == n;
}

static int check_names(const char *rig_id, const char *role, const char *password,
                       char *err, size_t errlen)
{
    static const char rig_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789._-";
    static const char role_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_";

    if (!rig_id || !all_of(rig_id, rig_chars, 63))
        pgerr_plain(err, errlen, "pgschema_add_rig: rig_id", "1 to 63 of A-Z a-z 0-9 . _ -");
    else if (!role || !all_of(role, role_chars, 63) || (role[0] >= '0' && role[0] <= '9') ||
             strncmp(role, "pg_", 3) == 0 || strcmp(role, "ecc_owner") == 0 ||
             strcmp(role, "ecc_rig") == 0)
        pgerr_plain(err, errlen, "pgschema_add_rig: role", "1 to 63 of a-z 0-9 _, not starting "
                    "with a digit or pg_, not ecc_owner or ecc_rig");
    else if (password && !*password)
        pgerr_plain(err, errlen, "pgschema_add_rig: password",
                    "empty: give a password, or NULL for certificate authentication");
    else
        return 0;
    return -1;
}

/* " PASSWORD 'SCRAM-SHA-256$...'" for the statement (empty without a password), or NULL
 * with err. The caller frees it. */
static char *password_clause(PGconn *c, const char *role, const char *password, char *err,
                             size_t errlen)
{
    char *verifier, *literal, *clause;

    if (!password)
        return strdup("");
    verifier = PQencryptPasswordConn(c, password, role, "scram-sha-256");
    literal = verifier ? PQescapeLiteral(c, verifier, strlen(verifier)) : NULL;
    clause = literal ? malloc(strlen(literal) + 16) : NULL;
    if (clause)
        sprintf(clause, " PASSWORD %s", literal);
    else
        pgerr_say(err, errlen, "pgschema_add_rig: making the password's verifier", c, NULL);
    PQfreemem(verifier);
    PQfreemem(literal);
    return clause;
}

/* CREATE or ALTER the role: a login with nothing else, member of ecc_rig. The role's name
 * has been checked to be a plain identifier; the statement still quotes it. */
static int make_role(PGconn *c, const char *role, const char *password, char *err,
                     size_t errlen)
{
    /* (NOREPLICATION only when creating: naming it in ALTER ROLE takes a superuser, and an
     * existing replication role is refused above) */
    static const char attrs[] = "LOGIN INHERIT NOCREATEDB NOCREATEROLE";
    const char *params[1] = {role};
    char flags[16], *ident = PQescapeIdentifier(c, role, strlen(role));
    char *pw = password_clause(c, role, password, err, errlen), *sql = NULL;
    int rc = -1;

    if (!ident || !pw || !(sql = malloc(strlen(ident) + strlen(pw) + 128)))
        goto out;
    if (query_value(c, "SELECT (rolsuper OR rolbypassrls OR rolreplication)::text"
                       " FROM pg_roles WHERE rolname = $1", 1, params, flags, sizeof flags,
                    "pgschema_add_rig: looking up the role", err, errlen))
        goto out;
    if (strcmp(flags, "true") == 0) {
        pgerr_plain(err, errlen, role, "a superuser, a replication role or a role that "
                    "bypasses row-level security cannot be a rig's role: choose another name");
        goto out;
    }
    /* the message names the statement, never the verifier */
    sprintf(sql, "%s ROLE %s %s%s%s", flags[0] ? "ALTER" : "CREATE", ident, attrs,
            flags[0] ? "" : " NOREPLICATION", pw);
    if (pgerr_exec(c, sql, flags[0] ? "pgschema_add_rig: ALTER ROLE"
                                    : "pgschema_add_rig: CREATE ROLE", err, errlen) == 0) {
        sprintf(sql, "GRANT ecc_rig TO %s", ident);
        rc = pgerr_exec(c, sql, "pgschema_add_rig: GRANT ecc_rig", err, errlen);
    }
out:
    if (rc && (!ident || !pw || !sql) && errlen && !err[0])
        snprintf(err, errlen, "pgschema_add_rig: out of memory");
    PQfreemem(ident);
    free(pw);
    free(sql);
    return rc;
}

/* The row of ecc.rigs binding rig_id to role; refused when either is bound to another. */
static int bind_rig(PGconn *c, const char *rig_id, const char *role, char *err, size_t errlen)
{
    const char *params[2] = {rig_id, role};
    char bound[160];

    if (query_value(c, "INSERT INTO ecc.rigs(rig_id, role) VALUES ($1, $2)"
                       " ON CONFLICT DO NOTHING RETURNING 1", 2, params, bound, sizeof bound,
                    "pgschema_add_rig: INSERT INTO ecc.rigs", err, errlen) ||
        query_value(c, "SELECT string_agg(format('rig %s is bound to role %s', rig_id, role),"
                       " ', ') FROM ecc.rigs WHERE (rig_id = $1) <> (role = $2)", 2, params,
                    bound, sizeof bound, "pgschema_add_rig: reading ecc.rigs", err, errlen))
        return -1;
    if (!bound[0])
        return 0;
    pgerr_plain(err, errlen, "pgschema_add_rig", bound);
    if (errlen)
        strncat(err, ": one role per rig, one rig per role", errlen - strlen(err) - 1);
    return -1;
}

int pgschema_add_rig(PGconn *admin, const char *rig_id, const char *role, const char *password,
                     char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    if (check_names(rig_id, role, password, err, errlen) || check_admin(admin, err, errlen))
        return -1;
    if (pgerr_exec(admin, "BEGIN", "pgschema_add_rig: BEGIN", err, errlen) ||
        pgerr_exec(admin, "SET LOCAL client_min_messages = warning;"
                          "SELECT pg_advisory_xact_lock(" LOCK_KEY ")",
                   "pgschema_add_rig: lock", err, errlen) ||
        make_role(admin, role, password, err, errlen) ||
        bind_rig(admin, rig_id, role, err, errlen) ||
        pgerr_exec(admin, "COMMIT", "pgschema_add_rig: COMMIT", err, errlen)) {
        rollback(admin);
        return -1;
    }
    return 0;
}
