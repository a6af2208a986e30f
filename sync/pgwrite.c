/* pgwrite.c - a rig's rows upserted into the central database, its progress, and the
 * clinic's shared patients pulled back (see pgwrite.h and docs/fleet.md).
 *
 * A batch goes in libpq's pipeline mode: BEGIN, one upsert per row, the progress and
 * COMMIT are sent without waiting for each reply (a round trip per batch, not per row:
 * the clinic's database may be far away), and the replies are read a chunk at a time, so
 * that neither side's socket buffer fills while the other is still writing. The first
 * error ends the sending; the server skips the rest, and the transaction is rolled back.
 */
#include "sync/pgwrite.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/pgerr.h"

#define PIPE_CHUNK 256          /* commands sent before their replies are read */
#define SQL_MAX 4096            /* an upsert of SYNC_COLS_MAX columns of 20-byte names: < 3 KB */
#define NUM_MAX 32              /* a number as text: "%.17g" or a long long */
#define PARAMS_MAX (SYNC_COLS_MAX + 1)

/* ---- the statements ---------------------------------------------------------------- */

static bool partitioned(enum sync_table t)
{
    return t == ST_REPS || t == ST_REJECTS;
}

static int column_of(enum sync_table t, const char *name)
{
    for (int i = 0; i < sync_tables[t].ncols; i++)
        if (strcmp(sync_tables[t].cols[i].name, name) == 0)
            return i;
    return -1;
}

__attribute__((format(printf, 3, 4)))
static void put(char *sql, size_t len, const char *fmt, ...)
{
    size_t n = strlen(sql);
    va_list ap;

    va_start(ap, fmt);
    if (n < len)
        vsnprintf(sql + n, len - n, fmt, ap);
    va_end(ap);
}

/* "prefix"c1", prefix"c2", ..." for the columns from first on. */
static void put_columns(char *sql, size_t len, enum sync_table t, int first, const char *prefix)
{
    for (int i = first; i < sync_tables[t].ncols; i++)
        put(sql, len, "%s%s\"%s\"", i > first ? ", " : "", prefix, sync_tables[t].cols[i].name);
}

/* The upsert of one row of table t. $1 is the writer's rig_id (a rig-owned row's rig_id,
 * a new patient's or programme's origin_rig), $2.. the columns in sync_tables[] order.
 * The update is skipped when the stored row equals the new one (a repeated batch rewrites
 * nothing) and, for patients and programmes, when the stored row is another origin's. */
static void upsert_rig_owned(enum sync_table t, char *sql, size_t len)
{
    const struct sync_table_def *d = &sync_tables[t];
    bool part = partitioned(t);

    put(sql, len, "INSERT INTO ecc.\"%s\" AS r (rig_id, ", d->name);
    put_columns(sql, len, t, 0, "");
    put(sql, len, "%s) VALUES ($1", part ? ", month" : "");
    for (int i = 0; i < d->ncols; i++)
        put(sql, len, ", $%d", i + 2);
    if (part)
        put(sql, len, ", ecc.month_of($%d)", column_of(t, "t") + 2);
    put(sql, len, ") ON CONFLICT (rig_id, local_id%s) DO UPDATE SET ", part ? ", month" : "");
    for (int i = 1; i < d->ncols; i++)
        put(sql, len, "%s\"%s\" = excluded.\"%s\"", i > 1 ? ", " : "", d->cols[i].name,
            d->cols[i].name);
    put(sql, len, " WHERE (");
    put_columns(sql, len, t, 1, "r.");
    put(sql, len, ") IS DISTINCT FROM (");
    put_columns(sql, len, t, 1, "excluded.");
    put(sql, len, ")");
}

/* A patient or programme: a patient updated only where its origin is the writer, a
 * programme where the new row is newer (its updated time; the origin's also when as new:
 * rigs before schema 3 kept a step's time in last_change only), whoever made the stored
 * one (row-level security lets a rig update the programmes of the patients the clinic
 * shares). An UPDATE under row-level security passes over the rows it may not change; an
 * ON CONFLICT DO UPDATE would fail on them (PostgreSQL 15.20 checks the update's policy on
 * the existing row before its WHERE). Else the row is inserted when new (ON CONFLICT DO
 * NOTHING leaves a row it did not update). */
static void upsert_shared(enum sync_table t, char *sql, size_t len)
{
    const struct sync_table_def *d = &sync_tables[t];

    put(sql, len, "WITH u AS (UPDATE ecc.\"%s\" AS r SET ", d->name);
    for (int i = 1; i < d->ncols; i++)
        put(sql, len, "%s\"%s\" = $%d", i > 1 ? ", " : "", d->cols[i].name, i + 2);
    put(sql, len, " WHERE r.\"%s\" = $2 AND ", d->cols[0].name);
    if (t == ST_PROGRAMMES)
        put(sql, len, "(r.updated < $%d OR (r.origin_rig = $1 AND r.updated <= $%d)) AND (",
            column_of(t, "updated") + 2, column_of(t, "updated") + 2);
    else
        put(sql, len, "r.origin_rig = $1 AND (");
    put_columns(sql, len, t, 1, "r.");
    put(sql, len, ") IS DISTINCT FROM (");
    for (int i = 1; i < d->ncols; i++)
        put(sql, len, "%s$%d", i > 1 ? ", " : "", i + 2);
    put(sql, len, ") RETURNING 1) INSERT INTO ecc.\"%s\" AS r (origin_rig, ", d->name);
    put_columns(sql, len, t, 0, "");
    put(sql, len, ") VALUES ($1");
    for (int i = 0; i < d->ncols; i++)
        put(sql, len, ", $%d", i + 2);
    put(sql, len, ") ON CONFLICT (\"%s\") DO NOTHING", d->cols[0].name);
}

static void upsert_sql(enum sync_table t, char *sql, size_t len)
{
    sql[0] = '\0';
    if (sync_tables[t].rig_owned)
        upsert_rig_owned(t, sql, len);
    else
        upsert_shared(t, sql, len);
}

/* The progress moves only forward: an older batch sent again leaves it. */
static const char progress_sql[] =
    "INSERT INTO ecc.sync_progress AS p (rig_id, last_seq, updated) VALUES ($1, $2, now())"
    " ON CONFLICT (rig_id) DO UPDATE SET last_seq = excluded.last_seq,"
    " updated = excluded.updated WHERE p.last_seq < excluded.last_seq";

/* ---- the values -------------------------------------------------------------------- */

struct params {
    const char *v[PARAMS_MAX];
    char num[PARAMS_MAX][NUM_MAX];
};

/* Row i of the batch, in words, for a message: "row 3 (sets local_id 12)". */
static void describe_row(const struct sync_row *row, int i, char *out, size_t len)
{
    const struct sync_value *key = &row->v[0];
    const char *table = (unsigned)row->table < ST_COUNT ? sync_tables[row->table].name : "?";
    const char *keyname = (unsigned)row->table < ST_COUNT ? sync_tables[row->table].cols[0].name
                                                          : "?";

    if (key->kind == SV_INT)
        snprintf(out, len, "pgwrite_batch: row %d (%s %s %lld)", i, table, keyname, key->i);
    else if (key->kind == SV_TEXT && memchr(key->text, '\0', sizeof key->text))
        snprintf(out, len, "pgwrite_batch: row %d (%s %s %s)", i, table, keyname, key->text);
    else
        snprintf(out, len, "pgwrite_batch: row %d (%s)", i, table);
}

/* Value v as a text parameter: the text itself, num filled, or NULL (SQL NULL); *bad when
 * it is neither of the known kinds nor a NUL-terminated text. Any kind may go to any
 * column: the server converts, or refuses the row. */
static const char *param_of(const struct sync_value *v, char *num, bool *bad)
{
    *bad = false;
    if (v->kind == SV_NULL)
        return NULL;
    if (v->kind == SV_INT) {
        snprintf(num, NUM_MAX, "%lld", v->i);
        return num;
    }
    if (v->kind == SV_REAL) {
        snprintf(num, NUM_MAX, "%.17g", v->r);  /* exact; nan, inf: float8 reads them */
        return num;
    }
    if (v->kind == SV_TEXT && memchr(v->text, '\0', sizeof v->text))
        return v->text;
    *bad = true;
    return NULL;
}

/* The row's values as text parameters after the rig_id: 0, or -1 with err. */
static int row_params(const struct sync_row *row, int i, const char *rig_id, struct params *p,
                      char *err, size_t errlen)
{
    char what[SYNC_TEXT_MAX + 96];
    bool bad;

    describe_row(row, i, what, sizeof what);
    if ((unsigned)row->table >= ST_COUNT)
        return pgerr_plain(err, errlen, what, "no such table (enum sync_table)"), -1;
    p->v[0] = rig_id;
    for (int c = 0; c < sync_tables[row->table].ncols; c++) {
        p->v[c + 1] = param_of(&row->v[c], p->num[c + 1], &bad);
        if (bad) {
            size_t n = strlen(what);
            snprintf(what + n, sizeof what - n, " %s", sync_tables[row->table].cols[c].name);
            return pgerr_plain(err, errlen, what, "a value of no known kind, or a text "
                               "without its NUL within SYNC_TEXT_MAX"), -1;
        }
    }
    return 0;
}

/* ---- partitions -------------------------------------------------------------------- */

/* "{t,t,...}": the times of the batch's reps and rejects (finite ones: a row with another
 * is refused by its own insert, which says which row). NULL when there is none, or out of
 * memory (*oom). The caller frees it. */
static char *partition_times(const struct sync_row *rows, int n, bool *oom)
{
    char *a = NULL;
    size_t len = 1;

    *oom = false;
    for (int i = 0; i < n; i++) {
        const struct sync_value *t;
        if ((unsigned)rows[i].table >= ST_COUNT || !partitioned(rows[i].table))
            continue;
        t = &rows[i].v[column_of(rows[i].table, "t")];
        if (!(t->kind == SV_REAL && isfinite(t->r)) && t->kind != SV_INT)
            continue;
        if (!a && !(a = malloc((size_t)n * NUM_MAX + 3))) {
            *oom = true;
            return NULL;
        }
        len += (size_t)(t->kind == SV_REAL ? snprintf(a + len, NUM_MAX + 1, "%.17g,", t->r)
                                            : snprintf(a + len, NUM_MAX + 1, "%lld,", t->i));
    }
    if (a) {
        a[0] = '{';
        a[len - 1] = '}';
        a[len] = '\0';
    }
    return a;
}

/* The partitions of the batch's months, each made (if missing) and committed in its own
 * short transaction before the batch's: the parent table's lock is held only for that. */
static int ensure_partitions(PGconn *c, const struct sync_row *rows, int n, char *err,
                             size_t errlen)
{
    bool oom;
    char *times = partition_times(rows, n, &oom);
    const char *params[1] = {times};
    PGresult *r;
    int rc = 0;

    if (oom)
        return pgerr_plain(err, errlen, "pgwrite_batch", "out of memory"), PGWRITE_LINK;
    if (!times)
        return 0;
    r = PQexecParams(c, "SELECT ecc.ensure_partitions_for($1::double precision[])", 1, NULL,
                     params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pgerr_say(err, errlen, "pgwrite_batch: the monthly partitions of reps and rejects",
                       c, r) ? PGWRITE_LINK : PGWRITE_REFUSED;
    PQclear(r);
    free(times);
    return rc;
}

/* ---- the batch, pipelined ---------------------------------------------------------- */

struct batch {
    PGconn *c;
    const char *rig_id;
    const struct sync_row *rows;
    int n;
    char seq[NUM_MAX];
    int sent, read;             /* commands: 0 BEGIN, 1..n the rows, n+1 progress, n+2 COMMIT */
    int rc;                     /* 0, or the first failure's PGWRITE_ code */
    char *err;
    size_t errlen;
};

static void command_name(const struct batch *b, int k, char *out, size_t len)
{
    if (k == 0)
        snprintf(out, len, "pgwrite_batch: BEGIN");
    else if (k <= b->n)
        describe_row(&b->rows[k - 1], k - 1, out, len);
    else if (k == b->n + 1)
        snprintf(out, len, "pgwrite_batch: sync_progress of rig %s", b->rig_id);
    else
        snprintf(out, len, "pgwrite_batch: COMMIT");
}

static void fail(struct batch *b, int k, const PGresult *r)
{
    char what[SYNC_TEXT_MAX + 96];

    if (b->rc)
        return;
    command_name(b, k, what, sizeof what);
    b->rc = pgerr_say(b->err, b->errlen, what, b->c, r) ? PGWRITE_LINK : PGWRITE_REFUSED;
}

/* Queue one command (counted in sent only when queued: each queued one has a reply). */
static void send_one(struct batch *b, const char *sql, int nparams, const char *const *params)
{
    if (b->rc)
        return;
    if (PQsendQueryParams(b->c, sql, nparams, NULL, params, NULL, NULL, 0))
        b->sent++;
    else
        fail(b, b->sent, NULL);
}

/* The rest of one command's results, up to the NULL that ends them. */
static void skip_to_end(PGconn *c)
{
    PGresult *r;

    for (int n = 0; n < 8 && (r = PQgetResult(c)) != NULL; n++)
        PQclear(r);
}

/* Read the replies of the commands sent so far. After a failed command the rest come as
 * PGRES_PIPELINE_ABORTED. */
static void read_replies(struct batch *b)
{
    while (b->read < b->sent && PQstatus(b->c) == CONNECTION_OK) {
        PGresult *r = PQgetResult(b->c);
        if (!r || PQresultStatus(r) == PGRES_FATAL_ERROR)
            fail(b, b->read, r);
        if (r)
            skip_to_end(b->c);
        PQclear(r);
        b->read++;
    }
    if (PQstatus(b->c) != CONNECTION_OK)
        fail(b, b->read, NULL);
}

/* Ask the server for the replies so far, and read them. */
static void drain(struct batch *b)
{
    if (!b->rc && (!PQsendFlushRequest(b->c) || PQflush(b->c) != 0))
        fail(b, b->sent, NULL);
    if (!b->rc)
        read_replies(b);
}

static void send_rows(struct batch *b)
{
    char sql[SQL_MAX];
    struct params p;

    for (int i = 0; i < b->n && !b->rc; i++) {
        if (row_params(&b->rows[i], i, b->rig_id, &p, b->err, b->errlen) != 0) {
            b->rc = PGWRITE_REFUSED;
            break;
        }
        upsert_sql(b->rows[i].table, sql, sizeof sql);
        send_one(b, sql, sync_tables[b->rows[i].table].ncols + 1, p.v);
        if (b->sent - b->read >= PIPE_CHUNK)
            drain(b);
    }
}

/* Everything up to the sync point: the rest of the replies, then the sync's own. */
static void finish(struct batch *b)
{
    PGresult *r;

    if (!PQpipelineSync(b->c)) {
        fail(b, b->sent, NULL);
        return;
    }
    read_replies(b);
    if (PQstatus(b->c) != CONNECTION_OK)
        return;
    r = PQgetResult(b->c);
    if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC)
        fail(b, b->sent, r);
    PQclear(r);
}

static int run_pipeline(struct batch *b)
{
    const char *progress[2] = {b->rig_id, b->seq};

    if (!PQenterPipelineMode(b->c))
        return pgerr_say(b->err, b->errlen, "pgwrite_batch: pipeline mode", b->c, NULL)
               ? PGWRITE_LINK : PGWRITE_REFUSED;
    send_one(b, "BEGIN", 0, NULL);
    send_rows(b);
    if (!b->rc) {
        send_one(b, progress_sql, 2, progress);
        send_one(b, "COMMIT", 0, NULL);
    }
    finish(b);
    if (PQstatus(b->c) != CONNECTION_OK)
        return PGWRITE_LINK;
    PQexitPipelineMode(b->c);
    if (PQtransactionStatus(b->c) != PQTRANS_IDLE)   /* a failure inside BEGIN .. COMMIT */
        PQclear(PQexec(b->c, "ROLLBACK"));
    return b->rc;
}

static int check_batch(PGconn *c, const char *rig_id, const struct sync_row *rows, int n,
                       uint64_t last_seq, char *err, size_t errlen)
{
    if (!c || PQstatus(c) != CONNECTION_OK)
        return pgerr_say(err, errlen, "pgwrite_batch", c, NULL), PGWRITE_LINK;
    if (!rig_id || !*rig_id || n < 0 || (n > 0 && !rows) || last_seq > INT64_MAX)
        return pgerr_plain(err, errlen, "pgwrite_batch", "no rig_id, a negative n, no rows, "
                           "or a last_seq past 2^63 - 1"), PGWRITE_REFUSED;
    if (PQtransactionStatus(c) != PQTRANS_IDLE || PQpipelineStatus(c) != PQ_PIPELINE_OFF)
        return pgerr_plain(err, errlen, "pgwrite_batch", "the connection is inside a "
                           "transaction or a pipeline: the batch must be its own"),
               PGWRITE_REFUSED;
    return 0;
}

int pgwrite_batch(PGconn *rig, const char *rig_id, const struct sync_row *rows, int n,
                  uint64_t last_seq, char *err, size_t errlen)
{
    struct batch b = {.c = rig, .rig_id = rig_id, .rows = rows, .n = n, .err = err,
                      .errlen = errlen};
    int rc;

    if (errlen)
        err[0] = '\0';
    if ((rc = check_batch(rig, rig_id, rows, n, last_seq, err, errlen)) != 0 ||
        (rc = ensure_partitions(rig, rows, n, err, errlen)) != 0)
        return rc;
    snprintf(b.seq, sizeof b.seq, "%" PRIu64, last_seq);
    return run_pipeline(&b);
}

/* ---- progress ---------------------------------------------------------------------- */

int pgwrite_progress(PGconn *rig, const char *rig_id, uint64_t *last_seq, char *err,
                     size_t errlen)
{
    const char *params[1] = {rig_id};
    PGresult *r;
    int rc = 0;

    *last_seq = 0;
    if (!rig || PQstatus(rig) != CONNECTION_OK)
        return pgerr_say(err, errlen, "pgwrite_progress", rig, NULL), PGWRITE_LINK;
    r = PQexecParams(rig, "SELECT last_seq FROM ecc.sync_progress WHERE rig_id = $1", 1,
                     NULL, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pgerr_say(err, errlen, "pgwrite_progress", rig, r) ? PGWRITE_LINK
                                                                : PGWRITE_REFUSED;
    else if (PQntuples(r) == 1)
        *last_seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

/* ---- pulling the shared patients --------------------------------------------------- */

/* Field j of result row i into v as column col's kind: 0, or -1 (too long for a
 * sync_value, or not a number). */
static int field_value(const PGresult *r, int i, int j, const struct sync_col *col,
                       struct sync_value *v)
{
    const char *s = PQgetvalue(r, i, j);
    char *end = NULL;

    memset(v, 0, sizeof *v);
    if (PQgetisnull(r, i, j))
        return 0;
    v->kind = col->kind;
    if (col->kind == SV_INT)
        v->i = strtoll(s, &end, 10);
    else if (col->kind == SV_REAL)
        v->r = strtod(s, &end);
    else if ((size_t)PQgetlength(r, i, j) < sizeof v->text)
        memcpy(v->text, s, (size_t)PQgetlength(r, i, j) + 1);
    else
        return -1;
    return end && (end == s || *end) ? -1 : 0;
}

struct pull {
    PGconn *c;
    char since[NUM_MAX];
    pgwrite_row_fn fn;
    void *ctx;
    int count;
    char *err;
    size_t errlen;
};

/* Every row of t the query returns (its columns in sync_tables[] order) to the callback. */
static int pull_table(struct pull *p, enum sync_table t, const char *from_where)
{
    const char *params[1] = {p->since};
    char sql[SQL_MAX] = "", what[96];
    struct sync_row row = {.table = t};
    PGresult *r;
    int rc = 0;

    put(sql, sizeof sql, "SELECT ");
    put_columns(sql, sizeof sql, t, 0, "");
    put(sql, sizeof sql, " %s", from_where);
    snprintf(what, sizeof what, "pgwrite_pull_patients: %s", sync_tables[t].name);
    r = PQexecParams(p->c, sql, 1, NULL, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pgerr_say(p->err, p->errlen, what, p->c, r) ? PGWRITE_LINK : PGWRITE_REFUSED;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        for (int j = 0; rc == 0 && j < sync_tables[t].ncols; j++)
            if (field_value(r, i, j, &sync_tables[t].cols[j], &row.v[j]) != 0) {
                snprintf(what, sizeof what, "pgwrite_pull_patients: %s %s of %s",
                         sync_tables[t].name, sync_tables[t].cols[j].name, PQgetvalue(r, i, 0));
                pgerr_plain(p->err, p->errlen, what, "not a number, or longer than a "
                            "sync_value holds (SYNC_TEXT_MAX)");
                rc = PGWRITE_REFUSED;
            }
        if (rc == 0 && p->fn(&row, p->ctx) != 0)
            rc = PGWRITE_STOPPED;
        p->count += rc == 0;
    }
    PQclear(r);
    return rc;
}

/* The server's clock now, in UTC s. */
static int server_now(struct pull *p, double *now)
{
    PGresult *r = PQexec(p->c, "SELECT extract(epoch FROM now())::double precision");
    int rc = 0;

    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        rc = pgerr_say(p->err, p->errlen, "pgwrite_pull_patients: the server's time", p->c, r)
             ? PGWRITE_LINK : PGWRITE_REFUSED;
    else
        *now = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return rc;
}

int pgwrite_pull_patients(PGconn *rig, double since, pgwrite_row_fn fn, void *ctx,
                          double *next_since, char *err, size_t errlen)
{
    struct pull p = {.c = rig, .fn = fn, .ctx = ctx, .err = err, .errlen = errlen};
    double now = 0;
    int rc;

    if (errlen)
        err[0] = '\0';
    if (!rig || PQstatus(rig) != CONNECTION_OK)
        return pgerr_say(err, errlen, "pgwrite_pull_patients", rig, NULL), PGWRITE_LINK;
    snprintf(p.since, sizeof p.since, "%.17g", since);
    /* one snapshot: a programme pulled belongs to a patient pulled or pulled before */
    if ((rc = pgerr_exec(rig, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                         "pgwrite_pull_patients: BEGIN", err, errlen)) != 0)
        return rc;
    if ((rc = server_now(&p, &now)) == 0 &&
        (rc = pull_table(&p, ST_PATIENTS, "FROM ecc.patients WHERE shared AND changed > "
                         "to_timestamp($1::double precision) ORDER BY changed, uuid")) == 0)
        rc = pull_table(&p, ST_PROGRAMMES, "FROM ecc.programmes g WHERE changed > "
                        "to_timestamp($1::double precision) AND EXISTS (SELECT FROM "
                        "ecc.patients p WHERE p.uuid = g.patient_uuid AND p.shared) "
                        "ORDER BY changed, patient_uuid");
    if (PQstatus(rig) != CONNECTION_OK)
        return PGWRITE_LINK;
    PQclear(PQexec(rig, rc == 0 ? "COMMIT" : "ROLLBACK"));
    if (rc != 0)
        return rc;
    *next_since = now - PGWRITE_PULL_OVERLAP_S;
    return p.count;
}
