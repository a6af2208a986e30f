/* syncrow.h - what eccsync replicates: the rig's tables as the clinic's database sees them.
 *
 * Every row a rig writes has a global identity: the rig's id (eccsync's [sync] rig_id) and
 * its rowid in the rig's SQLite file (local_id), so a delivery repeated after any failure
 * is an idempotent upsert. Patients (and their programmes) are the clinic's, shared by every
 * rig: they are keyed by a UUID the rig gives a patient when it is created (schema 4), and
 * rows that refer to a patient carry that UUID, not the rig's local patient id. Rows that
 * refer to another rig-owned row (a set's session, a rep's set) carry its local_id: with the
 * row's own rig_id it names one row centrally.
 *
 * sync_tables[] lists, per table, the columns a row carries in order (local_id first for
 * rig-owned tables; patient_uuid first for programmes, uuid for patients), with their
 * kinds. Times are UTC seconds since 1970 (REAL) as in the rig's file. The reader
 * (sync/reader.c) fills struct sync_row in that order; the writer (sync/pgwrite.c) upserts
 * them into PostgreSQL (docs/fleet.md).
 */
#ifndef ECC_SYNCROW_H
#define ECC_SYNCROW_H

#include <stdbool.h>
#include <stdint.h>

enum sync_table {
    ST_PATIENTS = 0, ST_PROGRAMMES, ST_SESSIONS, ST_SETS, ST_REPS, ST_REJECTS, ST_FAULTS,
    ST_CALIBRATIONS, ST_CHECKINS, ST_PROGRESSION, ST_COUNT
};

enum sync_kind { SV_NULL = 0, SV_INT, SV_REAL, SV_TEXT };

#define SYNC_COLS_MAX 20
#define SYNC_TEXT_MAX 200           /* bytes of a text value with its NUL (reasons: 192) */

struct sync_col {
    const char *name;
    enum sync_kind kind;            /* SV_INT, SV_REAL or SV_TEXT; every column may be NULL */
};

struct sync_table_def {
    const char *name;               /* the rig's table and the central one */
    bool rig_owned;                 /* keyed (rig_id, local_id); else by its first column */
    int ncols;
    struct sync_col cols[SYNC_COLS_MAX];
};

extern const struct sync_table_def sync_tables[ST_COUNT];

struct sync_value {
    enum sync_kind kind;            /* SV_NULL: NULL */
    long long i;
    double r;
    char text[SYNC_TEXT_MAX];
};

struct sync_row {
    enum sync_table table;
    uint64_t seq;                   /* its place in the rig's change log (sync_log.seq) */
    struct sync_value v[SYNC_COLS_MAX];     /* sync_tables[table].ncols of them */
};

/* The table named name, or -1. */
int sync_table_find(const char *name);

#endif
