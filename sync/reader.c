/* reader.c - what changed in the rig's history file, for eccsync (see reader.h). */
#include "sync/reader.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define MIN_SCHEMA 4
#define BUSY_MS 2000

/* Each table's row by rowid, in sync_tables[]'s column order; rows that refer to a patient
 * carry its UUID. */
static const char *const row_sql[ST_COUNT] = {
    [ST_PATIENTS] = "SELECT uuid, name, created, force_low, force_high, speed_max, force_abort"
                    " FROM patients WHERE rowid = ?1",
    [ST_PROGRAMMES] = "SELECT p.uuid, g.start, g.weeks, g.sessions_per_day, g.sets, g.reps,"
                      " g.band_low, g.band_high, g.step_share, g.floor_n, g.ceiling_n, g.locked,"
                      " g.baseline, g.level, g.last_change, g.updated FROM programmes g"
                      " JOIN patients p ON p.id = g.patient_id WHERE g.rowid = ?1",
    [ST_SESSIONS] = "SELECT s.id, p.uuid, s.started, s.ended, s.status, s.resumes, s.band_low,"
                    " s.band_high FROM sessions s LEFT JOIN patients p ON p.id = s.patient_id"
                    " WHERE s.rowid = ?1",
    [ST_SETS] = "SELECT id, session_id, n, started, ended, counted, rejected, in_band_share,"
                " pain, pain_t, duration_s FROM sets WHERE rowid = ?1",
    [ST_REPS] = "SELECT id, set_id, n, stroke, t, duration_s, travel_m, peak_n, mean_n,"
                " in_band_s, in_band_share, work_j, window_s FROM reps WHERE rowid = ?1",
    [ST_REJECTS] = "SELECT id, set_id, stroke, t, verdict, duration_s, travel_m, peak_n, mean_n,"
                   " in_band_s, in_band_share, work_j, window_s FROM rejects WHERE rowid = ?1",
    [ST_FAULTS] = "SELECT id, session_id, t, fault, value, limit_value, reset_t FROM faults"
                  " WHERE rowid = ?1",
    [ST_CALIBRATIONS] = "SELECT id, t, kind, \"offset\", scale, mass_kg FROM calibrations"
                        " WHERE rowid = ?1",
    [ST_CHECKINS] = "SELECT c.id, p.uuid, c.t, c.kind, c.score, c.instrument FROM checkins c"
                    " LEFT JOIN patients p ON p.id = c.patient_id WHERE c.rowid = ?1",
    [ST_PROGRESSION] = "SELECT r.id, p.uuid, r.session_id, r.t, r.kind, r.level_from,"
                       " r.level_to, r.band_low, r.band_high, r.reason FROM progression r"
                       " LEFT JOIN patients p ON p.id = r.patient_id WHERE r.rowid = ?1",
};

struct sync_reader {
    char *path;
    sqlite3 *db;
    sqlite3_stmt *changed;          /* (seq, table, rowid) after ?1, oldest first, ?2 of them */
    sqlite3_stmt *row[ST_COUNT];
    sqlite3_stmt *head;
};

static int fail(const struct sync_reader *r, char *err, size_t errlen, int e, const char *what)
{
    snprintf(err, errlen, "%s: %s%s%s", r->path, what, r->db ? ": " : "",
             r->db ? sqlite3_errmsg(r->db) : "");
    errno = e;
    return -1;
}

/* "SELECT sync_seq, 0, rowid FROM patients WHERE sync_seq > ?1 UNION ALL ... ORDER BY 1
 * LIMIT ?2" over every table. */
static char *changed_sql(void)
{
    size_t len = 64;
    char *sql, *p;

    for (int t = 0; t < ST_COUNT; t++)
        len += strlen(sync_tables[t].name) + 80;
    if (!(sql = malloc(len)))
        return NULL;
    p = sql;
    for (int t = 0; t < ST_COUNT; t++)
        p += sprintf(p, "%sSELECT sync_seq, %d, rowid FROM %s WHERE sync_seq > ?1",
                     t ? " UNION ALL " : "", t, sync_tables[t].name);
    sprintf(p, " ORDER BY 1 LIMIT ?2");
    return sql;
}

static int check_schema(struct sync_reader *r, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int v = -1;

    if (sqlite3_prepare_v2(r->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (v < 0)
        return fail(r, err, errlen, EIO, "cannot read the schema version");
    if (v < MIN_SCHEMA) {
        snprintf(err, errlen, "%s: the history is schema %d, eccsync needs %d or later: start "
                 "this version of eccd once, which migrates it", r->path, v, MIN_SCHEMA);
        errno = ENOTSUP;
        return -1;
    }
    return 0;
}

static int prepare_all(struct sync_reader *r, char *err, size_t errlen)
{
    char *sql = changed_sql();
    int rc;

    if (!sql)
        return fail(r, err, errlen, ENOMEM, "out of memory");
    rc = sqlite3_prepare_v2(r->db, sql, -1, &r->changed, NULL);
    free(sql);
    for (int t = 0; rc == SQLITE_OK && t < ST_COUNT; t++)
        rc = sqlite3_prepare_v2(r->db, row_sql[t], -1, &r->row[t], NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(r->db, "SELECT seq FROM sync_counter", -1, &r->head, NULL);
    return rc == SQLITE_OK ? 0 : fail(r, err, errlen, EIO, "cannot read its tables");
}

struct sync_reader *sync_reader_open(const char *path, char *err, size_t errlen)
{
    struct sync_reader *r = calloc(1, sizeof *r);

    if (!r || !(r->path = strdup(path))) {
        free(r);
        snprintf(err, errlen, "%s: out of memory", path);
        errno = ENOMEM;
        return NULL;
    }
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fail(r, err, errlen, EIO, "cannot open the history");
        sync_reader_close(r);
        return NULL;
    }
    sqlite3_busy_timeout(r->db, BUSY_MS);
    if (check_schema(r, err, errlen) != 0 || prepare_all(r, err, errlen) != 0) {
        int e = errno;

        sync_reader_close(r);
        errno = e;
        return NULL;
    }
    return r;
}

void sync_reader_close(struct sync_reader *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->changed);
    sqlite3_finalize(r->head);
    for (int t = 0; t < ST_COUNT; t++)
        sqlite3_finalize(r->row[t]);
    sqlite3_close(r->db);
    free(r->path);
    free(r);
}

/* Column i of st as the declared kind (SQLite may hold 60.0 as an integer and back). */
static void take_value(sqlite3_stmt *st, int i, enum sync_kind kind, struct sync_value *v)
{
    int type = sqlite3_column_type(st, i);

    memset(v, 0, sizeof *v);
    if (type == SQLITE_NULL)
        return;
    v->kind = kind;
    if (kind == SV_INT)
        v->i = type == SQLITE_FLOAT ? llround(sqlite3_column_double(st, i))
                                    : sqlite3_column_int64(st, i);
    else if (kind == SV_REAL)
        v->r = sqlite3_column_double(st, i);
    else
        snprintf(v->text, sizeof v->text, "%s", (const char *)sqlite3_column_text(st, i));
}

/* 1 with the row read, 0 when it is gone (it cannot be: rows are never deleted), -1. */
static int read_row(struct sync_reader *r, int table, long long rowid, struct sync_row *out)
{
    sqlite3_stmt *st = r->row[table];
    const struct sync_table_def *def = &sync_tables[table];
    int rc;

    sqlite3_bind_int64(st, 1, rowid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->table = (enum sync_table)table;
        for (int c = 0; c < def->ncols; c++)
            take_value(st, c, def->cols[c].kind, &out->v[c]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int batch_rows(struct sync_reader *r, uint64_t after, struct sync_row *out, int max)
{
    int n = 0, rc;

    sqlite3_bind_int64(r->changed, 1, (sqlite3_int64)after);
    sqlite3_bind_int(r->changed, 2, max);
    while ((rc = sqlite3_step(r->changed)) == SQLITE_ROW && n < max) {
        int got = read_row(r, sqlite3_column_int(r->changed, 1),
                           sqlite3_column_int64(r->changed, 2), &out[n]);

        if (got < 0) {
            rc = SQLITE_ERROR;
            break;
        }
        out[n].seq = (uint64_t)sqlite3_column_int64(r->changed, 0);
        n += got;
    }
    sqlite3_reset(r->changed);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

int sync_reader_batch(struct sync_reader *r, uint64_t after, struct sync_row *out, int max,
                      char *err, size_t errlen)
{
    int n;

    if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return fail(r, err, errlen, EAGAIN, "cannot begin a read");
    n = batch_rows(r, after, out, max);
    sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    if (n < 0)
        return fail(r, err, errlen, sqlite3_errcode(r->db) == SQLITE_BUSY ? EAGAIN : EIO,
                    "cannot read the changes");
    return n;
}

int sync_reader_head(struct sync_reader *r, uint64_t *seq, char *err, size_t errlen)
{
    int rc = sqlite3_step(r->head);

    *seq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(r->head, 0) : 0;
    sqlite3_reset(r->head);
    return rc == SQLITE_ROW ? 0 : fail(r, err, errlen, EIO, "cannot read the change counter");
}
