/* store_schema.c - the history's schema: its migrations, and the check that a file is
 * ours and not newer before anything touches it (see store_impl.h).
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon/store_impl.h"
#include "util/log.h"

/* ---- schema ------------------------------------------------------------------------ */

/* A version 4 UUID from SQLite's random bytes (a patient's identity across rigs). */
#define UUID_EXPR "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
/* Migration 4's per-table parts: the column, its index, the existing rows numbered after
 * what the counter holds (rowid order), and the triggers that number each new or changed
 * row (an update that sets sync_seq itself does not fire them again). */
#define SYNC_COLUMN(t)                                                                  \
    "ALTER TABLE " t " ADD COLUMN sync_seq INTEGER;"                                    \
    "CREATE INDEX " t "_sync ON " t "(sync_seq);"                                       \
    "UPDATE " t " SET sync_seq = rowid + (SELECT seq FROM sync_counter);"               \
    "UPDATE sync_counter SET seq = seq + coalesce((SELECT max(rowid) FROM " t "), 0);"
#define SYNC_BUMP(t)                                                                    \
    " UPDATE sync_counter SET seq = seq + 1;"                                           \
    " UPDATE " t " SET sync_seq = (SELECT seq FROM sync_counter) WHERE rowid = NEW.rowid;"
#define SYNC_TRIGGERS(t)                                                                \
    "CREATE TRIGGER " t "_sync_ins AFTER INSERT ON " t " BEGIN" SYNC_BUMP(t) " END;"   \
    "CREATE TRIGGER " t "_sync_upd AFTER UPDATE ON " t                                  \
    " WHEN NEW.sync_seq IS OLD.sync_seq BEGIN" SYNC_BUMP(t) " END;"

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
    /* 3: the twelve weeks (docs/programme.md): each patient's programme, the morning and
     * questionnaire check-ins, every step and flag of the progression with its reason, and
     * the band each session trained in (NULL in sessions from before). */
    "ALTER TABLE sessions ADD COLUMN band_low REAL;"
    "ALTER TABLE sessions ADD COLUMN band_high REAL;"
    "CREATE TABLE programmes(patient_id INTEGER PRIMARY KEY REFERENCES patients(id),"
    " start REAL NOT NULL, weeks INTEGER NOT NULL, sessions_per_day INTEGER NOT NULL,"
    " sets INTEGER NOT NULL, reps INTEGER NOT NULL, band_low REAL NOT NULL,"
    " band_high REAL NOT NULL, step_share REAL NOT NULL, floor_n REAL NOT NULL,"
    " ceiling_n REAL NOT NULL, locked INTEGER NOT NULL DEFAULT 0, baseline REAL,"
    " level INTEGER NOT NULL DEFAULT 0, last_change REAL, updated REAL NOT NULL);"
    "CREATE TABLE checkins(id INTEGER PRIMARY KEY,"
    " patient_id INTEGER NOT NULL REFERENCES patients(id), t REAL NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('morning', 'questionnaire')),"
    " score REAL NOT NULL, instrument TEXT);"
    "CREATE INDEX checkins_patient ON checkins(patient_id, kind, t);"
    "CREATE TABLE progression(id INTEGER PRIMARY KEY,"
    " patient_id INTEGER NOT NULL REFERENCES patients(id),"
    " session_id INTEGER REFERENCES sessions(id), t REAL NOT NULL, kind TEXT NOT NULL,"
    " level_from INTEGER, level_to INTEGER, band_low REAL, band_high REAL,"
    " reason TEXT NOT NULL);"
    "CREATE INDEX progression_patient ON progression(patient_id, t);",
    /* 4: what eccsync needs to replicate the history (docs/fleet.md): every patient gets a
     * UUID, its identity in the clinic's database; every replicated row gets sync_seq,
     * from one counter bumped by triggers on each insert and update, so eccsync reads what
     * changed since the last row it delivered in the order it was committed. The rows
     * there already are numbered table by table, parents first. */
    "ALTER TABLE patients ADD COLUMN uuid TEXT;"
    "UPDATE patients SET uuid = " UUID_EXPR ";"
    "CREATE UNIQUE INDEX patients_uuid ON patients(uuid);"
    "CREATE TABLE sync_counter(seq INTEGER NOT NULL);"
    "INSERT INTO sync_counter(seq) VALUES (0);"
    SYNC_COLUMN("patients")
    SYNC_COLUMN("programmes")
    SYNC_COLUMN("sessions")
    SYNC_COLUMN("sets")
    SYNC_COLUMN("reps")
    SYNC_COLUMN("rejects")
    SYNC_COLUMN("faults")
    SYNC_COLUMN("calibrations")
    SYNC_COLUMN("checkins")
    SYNC_COLUMN("progression")
    "CREATE TRIGGER patients_uuid AFTER INSERT ON patients WHEN NEW.uuid IS NULL BEGIN"
    " UPDATE patients SET uuid = " UUID_EXPR " WHERE rowid = NEW.rowid; END;"
    SYNC_TRIGGERS("patients")
    SYNC_TRIGGERS("programmes")
    SYNC_TRIGGERS("sessions")
    SYNC_TRIGGERS("sets")
    SYNC_TRIGGERS("reps")
    SYNC_TRIGGERS("rejects")
    SYNC_TRIGGERS("faults")
    SYNC_TRIGGERS("calibrations")
    SYNC_TRIGGERS("checkins")
    SYNC_TRIGGERS("progression"),
};
_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration per schema version");
_Static_assert(APP_ID == 1162036036, "the application_id in migration 1");

/* Before touching an existing file, check (read-only, no checkpoint on close) that it is
 * ours and not newer: a refused file is left exactly as it was. */
int store_schema_probe(const char *path, char *err, size_t errlen)
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
        store_set_err(err, errlen, path, "%s", db ? sqlite3_errmsg(db) : "cannot open");
        errno = rc == SQLITE_NOTADB ? EINVAL : EIO;
    } else if (version > STORE_SCHEMA_VERSION) {
        store_set_err(err, errlen, path, "schema version %d is newer than this eccd's (%d): "
                "not opened, not changed; use a newer eccd", version, STORE_SCHEMA_VERSION);
        errno = ENOTSUP;
        rc = -1;
    } else if ((app != 0 && app != APP_ID) || (app == 0 && (version > 0 || objects > 0))) {
        store_set_err(err, errlen, path, "not an eccd database (another program's): not opened");
        errno = EINVAL;
        rc = -1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

int store_exec(struct store *s, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    store_set_err(err, errlen, s->path, "%s", sqlite3_errmsg(s->db));
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

    if (store_exec(s, migrations[v - 1], err, errlen) != 0)
        return -1;
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);     /* an int, not user data */
    return store_exec(s, sql, err, errlen);
}

/* Bring the schema up to date, one transaction per migration. */
int store_schema_migrate(struct store *s, char *err, size_t errlen)
{
    for (;;) {
        if (store_exec(s, "BEGIN IMMEDIATE", err, errlen) != 0)
            return -1;
        int v = user_version(s->db);
        if (v == STORE_SCHEMA_VERSION)
            return store_exec(s, "COMMIT", err, errlen);
        if (v < 0 || v > STORE_SCHEMA_VERSION) {
            store_set_err(err, errlen, s->path, "schema version %d: not this eccd's (%d)", v,
                    STORE_SCHEMA_VERSION);
            errno = ENOTSUP;
            store_exec(s, "ROLLBACK", NULL, 0);
            return -1;
        }
        if (migrate_one(s, v + 1, err, errlen) != 0 ||
            store_exec(s, "COMMIT", err, errlen) != 0) {
            store_rollback(s);
            return -1;
        }
        log_info("%s: schema brought to version %d", s->path, v + 1);
    }
}

