/* sync_check.c - the clinic's database against the rigs' files, row for row (t_sync.sh).
 *
 *   sync_check ADMIN_CONNINFO_FILE RIG=HISTORY_FILE...
 *
 * For every rig, every row its file holds now (sync/reader.c from the start: each row once,
 * as it is now) must be in the central database under that rig (patients and programmes
 * under their UUID) with every column equal: text equal, integers equal, reals equal to
 * the bit (PostgreSQL prints a float8 so that it reads back exactly), NULL where NULL; and
 * the central database must hold no row of that rig the file does not (nothing extra,
 * nothing twice: the keys are unique). Shared rows follow their own rules (docs/fleet.md):
 * a programme is the newest change of any rig or the clinic, so a central one newer than
 * the rig's (its updated time) is no difference; a patient another rig or the clinic
 * made is compared by name and creation only (the rig's copy carries its band now). Prints one line per difference (at most 20) and a
 * summary; exit 0 when all are equal, 1 when not, 2 on bad usage or a failure to read.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/reader.h"
#include "sync/syncrow.h"

#define BATCH 1000
#define SHOW_MAX 20

struct tally {
    long rows, lost, differ, extra;
    int shown;
};

/* "WHAT: rig R, TABLE ID[, column C]", the first SHOW_MAX of them. */
static void say(struct tally *t, const char *what, const char *rig, const char *table,
                long long id, const char *col)
{
    if (t->shown++ < SHOW_MAX)
        printf("%s: rig %s, %s %lld%s%s\n", what, rig, table, id, col ? ", column " : "",
               col ? col : "");
}

/* The central row's key condition and the columns in sync_tables[] order, quoted. */
static void select_sql(int table, char *sql, size_t len)
{
    const struct sync_table_def *d = &sync_tables[table];
    size_t n = (size_t)snprintf(sql, len, "SELECT ");

    for (int c = 0; c < d->ncols; c++)
        n += (size_t)snprintf(sql + n, len - n, "%s\"%s\"::text", c ? ", " : "", d->cols[c].name);
    if (d->rig_owned)
        snprintf(sql + n, len - n, " FROM ecc.%s WHERE rig_id = $1 AND local_id = $2::bigint",
                 d->name);
    else
        snprintf(sql + n, len - n, ", origin_rig FROM ecc.%s WHERE \"%s\"::text = $1",
                 d->name, d->cols[0].name);
}

static int column(int table, const char *name)
{
    for (int c = 0; c < sync_tables[table].ncols; c++)
        if (strcmp(sync_tables[table].cols[c].name, name) == 0)
            return c;
    return -1;
}

/* Must column c of a shared row be equal? (see the head of this file) */
static bool compared(const struct sync_row *row, PGresult *res, int c, const char *rig)
{
    int ncols = sync_tables[row->table].ncols;
    const char *name = sync_tables[row->table].cols[c].name;
    bool own = !PQgetisnull(res, 0, ncols) && strcmp(PQgetvalue(res, 0, ncols), rig) == 0;
    int u = column(ST_PROGRAMMES, "updated");

    if (row->table == ST_PATIENTS)
        return own || c == 0 || !strcmp(name, "name") || !strcmp(name, "created");
    if (row->table == ST_PROGRAMMES)
        return row->v[u].kind != SV_REAL || PQgetisnull(res, 0, u) ||
               strtod(PQgetvalue(res, 0, u), NULL) <= row->v[u].r;
    return true;
}

static bool value_equal(const struct sync_value *v, PGresult *res, int c)
{
    const char *s;

    if (PQgetisnull(res, 0, c))
        return v->kind == SV_NULL;
    if (v->kind == SV_NULL)
        return false;
    s = PQgetvalue(res, 0, c);
    if (v->kind == SV_INT)
        return strtoll(s, NULL, 10) == v->i;
    if (v->kind == SV_REAL)
        return strtod(s, NULL) == v->r;
    return strcmp(s, v->text) == 0;
}

static void key_text(const struct sync_row *row, char *out, size_t len)
{
    if (sync_tables[row->table].rig_owned)
        snprintf(out, len, "%lld", row->v[0].i);
    else
        snprintf(out, len, "%s", row->v[0].text);
}

static int check_row(PGconn *pg, const char *rig, const struct sync_row *row, struct tally *t)
{
    const struct sync_table_def *d = &sync_tables[row->table];
    char sql[2048], key[SYNC_TEXT_MAX];
    const char *params[2] = {rig, key};
    PGresult *res;

    key_text(row, key, sizeof key);
    select_sql(row->table, sql, sizeof sql);
    if (d->rig_owned)
        res = PQexecParams(pg, sql, 2, NULL, params, NULL, NULL, 0);
    else
        res = PQexecParams(pg, sql, 1, NULL, params + 1, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "sync_check: %s: %s", d->name, PQerrorMessage(pg));
        PQclear(res);
        return -1;
    }
    t->rows++;
    if (PQntuples(res) != 1) {
        t->lost++;
        say(t, "lost", rig, d->name, d->rig_owned ? row->v[0].i : 0, NULL);
    } else {
        for (int c = 0; c < d->ncols; c++)
            if ((d->rig_owned || compared(row, res, c, rig)) && !value_equal(&row->v[c], res, c)) {
                t->differ++;
                say(t, "differs", rig, d->name, d->rig_owned ? row->v[0].i : 0,
                    d->cols[c].name);
                break;
            }
    }
    PQclear(res);
    return 0;
}

/* Rows of the rig's own tables the central database has: their number per table. */
static long central_count(PGconn *pg, const char *rig, int table)
{
    char sql[256];
    const char *params[1] = {rig};
    PGresult *res;
    long n = -1;

    snprintf(sql, sizeof sql, "SELECT count(*) FROM ecc.%s WHERE rig_id = $1",
             sync_tables[table].name);
    res = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

static int check_rig(PGconn *pg, const char *rig, const char *file, struct tally *t)
{
    static struct sync_row rows[BATCH];
    long in_file[ST_COUNT] = {0};
    char err[512] = "";
    struct sync_reader *r = sync_reader_open(file, err, sizeof err);
    uint64_t at = 0;
    int n;

    if (!r) {
        fprintf(stderr, "sync_check: %s\n", err);
        return -1;
    }
    while ((n = sync_reader_batch(r, at, rows, BATCH, err, sizeof err)) > 0) {
        for (int i = 0; i < n; i++) {
            in_file[rows[i].table]++;
            if (check_row(pg, rig, &rows[i], t) != 0) {
                sync_reader_close(r);
                return -1;
            }
        }
        at = rows[n - 1].seq;
    }
    sync_reader_close(r);
    if (n < 0) {
        fprintf(stderr, "sync_check: %s\n", err);
        return -1;
    }
    for (int table = 0; table < ST_COUNT; table++) {
        long central = sync_tables[table].rig_owned ? central_count(pg, rig, table) : -1;

        if (central > in_file[table]) {
            t->extra += central - in_file[table];
            printf("extra: rig %s, %s: %ld central rows, %ld in its file\n", rig,
                   sync_tables[table].name, central, in_file[table]);
        }
    }
    return 0;
}

static int read_conninfo(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(out, 1, len - 1, f);
    fclose(f);
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    char conninfo[4096];
    struct tally t = {0};
    PGconn *pg;
    int rc = 0;

    if (argc < 3 || read_conninfo(argv[1], conninfo, sizeof conninfo) != 0) {
        fprintf(stderr, "usage: sync_check ADMIN_CONNINFO_FILE RIG=HISTORY_FILE...\n");
        return 2;
    }
    pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "sync_check: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return 2;
    }
    for (int i = 2; i < argc && rc == 0; i++) {
        char *eq = strchr(argv[i], '=');

        if (!eq) {
            rc = 2;
            break;
        }
        *eq = '\0';
        if (check_rig(pg, argv[i], eq + 1, &t) != 0)
            rc = 2;
    }
    PQfinish(pg);
    printf("sync_check: %ld rows checked, %ld lost, %ld differ, %ld extra\n", t.rows, t.lost,
           t.differ, t.extra);
    return rc ? rc : t.lost || t.differ || t.extra ? 1 : 0;
}
