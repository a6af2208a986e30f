/* pgreport.c - the clinician's report from the clinic's database (see pgreport.h). Each
 * query mirrors one of store_report's (daemon/store_programme.c) on the central tables:
 * a rig-owned row refers to another by that one's local_id within the same rig_id, so
 * every join matches rig_id as well as the id.
 */
#include "sync/pgreport.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/progression.h"
#include "sync/pgerr.h"

/* PostgreSQL's type OIDs (catalog/pg_type_d.h, stable across versions) */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT4 700
#define OID_FLOAT8 701

/* The sessions of the patient, in time order (rigs interleave), with store_report's
 * figures: the mean force of their counted reps, the mean time in band of their finished
 * sets, the reps counted and strokes rejected, the highest set pain. */
static const char SQL_SESSIONS[] =
    "SELECT s.rig_id, s.local_id AS id, s.started, s.ended, s.status, s.band_low, s.band_high,"
    " (SELECT avg(r.mean_n) FROM ecc.reps r JOIN ecc.sets st"
    "  ON st.rig_id = r.rig_id AND st.local_id = r.set_id"
    "  WHERE r.rig_id = s.rig_id AND st.session_id = s.local_id) AS mean_n,"
    " (SELECT avg(st.in_band_share) FROM ecc.sets st WHERE st.rig_id = s.rig_id"
    "  AND st.session_id = s.local_id AND st.ended IS NOT NULL) AS in_band_share,"
    " (SELECT coalesce(sum(st.counted), 0)::bigint FROM ecc.sets st WHERE st.rig_id = s.rig_id"
    "  AND st.session_id = s.local_id) AS reps,"
    " (SELECT coalesce(sum(st.rejected), 0)::bigint FROM ecc.sets st"
    "  WHERE st.rig_id = s.rig_id AND st.session_id = s.local_id) AS rejects,"
    " (SELECT max(st.pain) FROM ecc.sets st WHERE st.rig_id = s.rig_id"
    "  AND st.session_id = s.local_id) AS max_pain"
    " FROM ecc.sessions s WHERE s.patient_uuid = $1 ORDER BY s.started, s.rig_id, s.local_id";
/* Their sets in the sessions' order (the first column, the rig, only matches them up). */
static const char SQL_SETS[] =
    "SELECT st.rig_id, st.session_id, st.n, st.pain, st.in_band_share, st.counted, st.rejected"
    " FROM ecc.sets st JOIN ecc.sessions s ON s.rig_id = st.rig_id AND s.local_id = st.session_id"
    " WHERE s.patient_uuid = $1 ORDER BY s.started, s.rig_id, s.local_id, st.n, st.local_id";
static const char SQL_CHECKINS[] =
    "SELECT rig_id, t, kind, score, instrument FROM ecc.checkins WHERE patient_uuid = $1"
    " ORDER BY t, rig_id, local_id";
static const char SQL_PROGRESSION[] =
    "SELECT rig_id, t, kind, level_from, level_to, band_low, band_high, reason, session_id"
    " FROM ecc.progression WHERE patient_uuid = $1 ORDER BY t, rig_id, local_id";
static const char SQL_REJECTS[] =
    "SELECT j.verdict, count(*) FROM ecc.rejects j JOIN ecc.sets st"
    " ON st.rig_id = j.rig_id AND st.local_id = j.set_id JOIN ecc.sessions s"
    " ON s.rig_id = st.rig_id AND s.local_id = st.session_id WHERE s.patient_uuid = $1"
    " GROUP BY j.verdict ORDER BY j.verdict";
static const char SQL_PATIENT[] =
    "SELECT name, force_low, force_high FROM ecc.patients WHERE uuid = $1";
static const char SQL_RIGS[] =
    "SELECT rig_id FROM ecc.sessions WHERE patient_uuid = $1 UNION"
    " SELECT rig_id FROM ecc.checkins WHERE patient_uuid = $1 UNION"
    " SELECT rig_id FROM ecc.progression WHERE patient_uuid = $1 ORDER BY 1";
static const char SQL_PROGRAMME[] =
    "SELECT start, weeks, sessions_per_day, sets, reps, band_low, band_high, step_share,"
    " floor_n, ceiling_n, locked, baseline, level, last_change, updated"
    " FROM ecc.programmes WHERE patient_uuid = $1";

/* ---- results as JSON --------------------------------------------------------------------- */

static PGresult *query(PGconn *c, const char *sql, const char *uuid, const char *what,
                       char *err, size_t errlen)
{
    const char *params[1] = {uuid};
    PGresult *r = PQexecParams(c, sql, uuid ? 1 : 0, NULL, uuid ? params : NULL, NULL, NULL, 0);

    if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    pgerr_say(err, errlen, what, c, r);
    PQclear(r);
    return NULL;
}

/* One value as JSON by its column's type, as store_report's rows_json does by SQLite's:
 * integers as integers, reals as reals (not finite: null), NULL as null, the rest as
 * text. */
static json_t *value_json(const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    double d;

    if (PQgetisnull(r, row, col))
        return json_null();
    switch (PQftype(r, col)) {
    case OID_INT2: case OID_INT4: case OID_INT8:
        return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT4: case OID_FLOAT8:
        d = strtod(v, NULL);
        return isfinite(d) ? json_real(d) : json_null();
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    default:
        return json_string(v);
    }
}

static double value_real(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NAN : strtod(PQgetvalue(r, row, col), NULL);
}

/* Every row as an object keyed by the column names, from column first on. */
static json_t *rows_json(const PGresult *r, int first)
{
    json_t *arr = json_array();

    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();

        for (int k = first; k < PQnfields(r); k++)
            json_object_set_new(o, PQfname(r, k), value_json(r, i, k));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* ---- the patient ------------------------------------------------------------------------- */

static int is_uuid(const char *s)
{
    if (strlen(s) != PGREPORT_UUID_LEN)
        return 0;
    for (int i = 0; i < PGREPORT_UUID_LEN; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

int pgreport_find_patient(PGconn *c, const char *uuid_or_name, char *uuid, char *err,
                          size_t errlen)
{
    PGresult *r;
    int n;

    if (is_uuid(uuid_or_name)) {
        for (int i = 0; i <= PGREPORT_UUID_LEN; i++)
            uuid[i] = (char)tolower((unsigned char)uuid_or_name[i]);
        return 0;
    }
    r = query(c, "SELECT uuid FROM ecc.patients WHERE name = $1 ORDER BY uuid LIMIT 4",
              uuid_or_name, "pgreport: looking up the patient's name", err, errlen);
    if (!r)
        return PGREPORT_FAILED;
    n = PQntuples(r);
    if (n == 1) {
        snprintf(uuid, PGREPORT_UUID_LEN + 1, "%s", PQgetvalue(r, 0, 0));
    } else if (n == 0) {
        snprintf(err, errlen, "no patient is named '%s' in the clinic's database, and it is "
                 "not a UUID (eccsync --admin FILE --patients lists them)", uuid_or_name);
    } else {
        snprintf(err, errlen, "%s patients are named '%s' (%s, %s%s): give the UUID",
                 n > 3 ? "several" : n == 3 ? "3" : "2", uuid_or_name, PQgetvalue(r, 0, 0),
                 PQgetvalue(r, 1, 0), n > 2 ? ", ..." : "");
    }
    PQclear(r);
    return n == 1 ? 0 : PGREPORT_NOT_FOUND;
}

/* {"name", "uuid", "rigs"} and the patient's stored band (NAN: none); NULL with err. */
static json_t *patient_json(PGconn *c, const char *uuid, double *lo, double *hi, int *rc,
                            char *err, size_t errlen)
{
    PGresult *r = query(c, SQL_PATIENT, uuid, "pgreport: reading ecc.patients", err, errlen);
    PGresult *rigs;
    json_t *p, *arr;

    *rc = PGREPORT_FAILED;
    if (!r)
        return NULL;
    if (PQntuples(r) != 1) {
        snprintf(err, errlen, "no patient with UUID %s in the clinic's database (eccsync "
                 "--admin FILE --patients lists them)", uuid);
        *rc = PGREPORT_NOT_FOUND;
        PQclear(r);
        return NULL;
    }
    if (!(rigs = query(c, SQL_RIGS, uuid, "pgreport: the patient's rigs", err, errlen))) {
        PQclear(r);
        return NULL;
    }
    arr = json_array();
    for (int i = 0; i < PQntuples(rigs); i++)
        json_array_append_new(arr, json_string(PQgetvalue(rigs, i, 0)));
    p = json_pack("{s:s, s:s, s:o}", "name", PQgetvalue(r, 0, 0), "uuid", uuid, "rigs", arr);
    *lo = value_real(r, 0, 1);
    *hi = value_real(r, 0, 2);
    PQclear(r);
    PQclear(rigs);
    return p;
}

/* ---- the programme: eccd's plan_json and report_head (daemon/service.c) ------------------ */

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *programme_json(PGconn *c, const char *uuid, const char *name,
                              const struct ecc_config *cfg, int utc_offset_s, double *cur_lo,
                              double *cur_hi, int *rc, char *err, size_t errlen)
{
    PGresult *r = query(c, SQL_PROGRAMME, uuid, "pgreport: reading ecc.programmes", err, errlen);
    struct prog_rules pr = {.pain_stop = cfg->progression.pain_stop,
                            .morning_rise = cfg->progression.morning_rise,
                            .up_in_band = cfg->progression.up_in_band,
                            .up_pain_max = cfg->progression.up_pain_max,
                            .adherence_flag = cfg->progression.adherence_flag};
    struct prog_plan pl = {.active = true};
    struct prog *rules;
    int sets, reps;
    json_t *o;

    *rc = PGREPORT_FAILED;
    if (!r)
        return NULL;
    if (PQntuples(r) != 1) {
        snprintf(err, errlen, "patient %s (%s) has no programme in the clinic's database: a "
                 "report covers one (set on a rig with eccctl programme set, it arrives with "
                 "that rig's eccsync)", name, uuid);
        *rc = PGREPORT_NOT_FOUND;
        PQclear(r);
        return NULL;
    }
    if (!(rules = malloc(sizeof *rules))) {
        snprintf(err, errlen, "pgreport: out of memory");
        PQclear(r);
        return NULL;
    }
    pl.start = value_real(r, 0, 0);
    pl.weeks = atoi(PQgetvalue(r, 0, 1));
    pl.sessions_per_day = atoi(PQgetvalue(r, 0, 2));
    sets = atoi(PQgetvalue(r, 0, 3));
    reps = atoi(PQgetvalue(r, 0, 4));
    pl.band_low = value_real(r, 0, 5);
    pl.band_high = value_real(r, 0, 6);
    pl.step_share = value_real(r, 0, 7);
    pl.floor_n = value_real(r, 0, 8);
    pl.ceiling_n = value_real(r, 0, 9);
    pl.locked = atoll(PQgetvalue(r, 0, 10)) != 0;
    pl.baseline = value_real(r, 0, 11);
    pl.level = atoi(PQgetvalue(r, 0, 12));
    pl.last_change = value_real(r, 0, 13);
    if (!isfinite(pl.last_change))
        pl.last_change = 0.0;
    PQclear(r);
    prog_init(rules, &pr, &pl, cfg->protocol.day_start_h * 3600.0);
    prog_band(rules, pl.level, cur_lo, cur_hi);
    o = json_pack("{s:f, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:b, s:o, s:i, s:f, s:f,"
                  " s:i, s:i}",
                  "start", pl.start, "weeks", pl.weeks, "sessions_per_day", pl.sessions_per_day,
                  "sets", sets, "reps", reps, "band_low", pl.band_low,
                  "band_high", pl.band_high, "step_share", pl.step_share,
                  "floor_n", pl.floor_n, "ceiling_n", pl.ceiling_n, "locked", pl.locked,
                  "baseline_morning", num_or_null(pl.baseline), "level", pl.level,
                  "cur_low", *cur_lo, "cur_high", *cur_hi, "level_min", prog_level_min(rules),
                  "level_max", prog_level_max(rules));
    free(rules);
    if (o && pl.last_change > 0.0)
        json_object_set_new(o, "last_change", json_real(pl.last_change));
    if (o) {
        json_object_set_new(o, "utc_offset_s", json_integer(utc_offset_s));
        json_object_set_new(o, "day_start_h", json_real(cfg->protocol.day_start_h));
    }
    *rc = o ? 0 : PGREPORT_FAILED;
    if (!o)
        snprintf(err, errlen, "pgreport: the programme of %s does not make a document", uuid);
    return o;
}

/* ---- sessions, their sets, the rest ------------------------------------------------------ */

/* Each session's sets as "sets" (the two results are in the same order: a walk matches
 * them up by rig and session id); a session with no band on record gets the patient's
 * (lo, hi), as store_report does. */
static void sessions_with_sets(const PGresult *sess, const PGresult *sets, json_t *sessions,
                               double lo, double hi)
{
    int k = 0, nsets = PQntuples(sets);

    for (int i = 0; i < PQntuples(sess); i++) {
        json_t *o = json_array_get(sessions, (size_t)i), *mine = json_array();
        const char *rig = PQgetvalue(sess, i, 0), *id = PQgetvalue(sess, i, 1);

        for (; k < nsets && strcmp(PQgetvalue(sets, k, 0), rig) == 0 &&
               strcmp(PQgetvalue(sets, k, 1), id) == 0; k++) {
            json_t *set = json_object();

            for (int f = 1; f < PQnfields(sets); f++)
                json_object_set_new(set, PQfname(sets, f), value_json(sets, k, f));
            json_array_append_new(mine, set);
        }
        json_object_set_new(o, "sets", mine);
        if (json_is_null(json_object_get(o, "band_low"))) {
            json_object_set_new(o, "band_low", num_or_null(lo));
            json_object_set_new(o, "band_high", num_or_null(hi));
        }
    }
}

static json_t *rejects_json(const PGresult *r)
{
    json_t *o = json_object();

    for (int i = 0; i < PQntuples(r); i++)
        json_object_set_new(o, PQgetvalue(r, i, 0), json_integer(strtoll(PQgetvalue(r, i, 1),
                                                                         NULL, 10)));
    return o;
}

/* The body: sessions (with sets), checkins, progression, rejects_by_reason into doc. */
static int body(PGconn *c, const char *uuid, json_t *doc, double lo, double hi, char *err,
                size_t errlen)
{
    PGresult *sess = query(c, SQL_SESSIONS, uuid, "pgreport: the sessions", err, errlen);
    PGresult *sets = sess ? query(c, SQL_SETS, uuid, "pgreport: the sets", err, errlen) : NULL;
    PGresult *chk = sets ? query(c, SQL_CHECKINS, uuid, "pgreport: the check-ins", err, errlen)
                         : NULL;
    PGresult *prg = chk ? query(c, SQL_PROGRESSION, uuid, "pgreport: the progression", err,
                                errlen) : NULL;
    PGresult *rej = prg ? query(c, SQL_REJECTS, uuid, "pgreport: the rejected strokes", err,
                                errlen) : NULL;
    int rc = PGREPORT_FAILED;

    if (rej) {
        json_t *sessions = rows_json(sess, 0);

        sessions_with_sets(sess, sets, sessions, lo, hi);
        json_object_set_new(doc, "sessions", sessions);
        json_object_set_new(doc, "checkins", rows_json(chk, 0));
        json_object_set_new(doc, "progression", rows_json(prg, 0));
        json_object_set_new(doc, "rejects_by_reason", rejects_json(rej));
        rc = 0;
    }
    PQclear(sess);
    PQclear(sets);
    PQclear(chk);
    PQclear(prg);
    PQclear(rej);
    return rc;
}

static int build(PGconn *c, const char *uuid, const struct ecc_config *cfg, double generated,
                 int utc_offset_s, json_t **out, char *err, size_t errlen)
{
    double lo = NAN, hi = NAN, cur_lo, cur_hi;
    json_t *patient, *plan;
    int rc;

    if (!(patient = patient_json(c, uuid, &lo, &hi, &rc, err, errlen)))
        return rc;
    plan = programme_json(c, uuid, json_string_value(json_object_get(patient, "name")), cfg,
                          utc_offset_s, &cur_lo, &cur_hi, &rc, err, errlen);
    if (!plan) {
        json_decref(patient);
        return rc;
    }
    /* the patient's band now, as eccd's control loop holds it: the stored one, else the
     * programme's at its level */
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = cur_lo;
        hi = cur_hi;
    }
    *out = json_pack("{s:i, s:f, s:o, s:o, s:{s:f, s:f, s:f, s:f, s:f}}",
                     "report", 1, "generated", generated, "patient", patient, "programme", plan,
                     "thresholds", "pain_stop", cfg->progression.pain_stop,
                     "morning_rise", cfg->progression.morning_rise,
                     "up_in_band", cfg->progression.up_in_band,
                     "up_pain_max", cfg->progression.up_pain_max,
                     "adherence_flag", cfg->progression.adherence_flag);
    if (!*out) {
        snprintf(err, errlen, "pgreport: out of memory");
        return PGREPORT_FAILED;
    }
    if ((rc = body(c, uuid, *out, lo, hi, err, errlen)) != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int pgreport_build(PGconn *c, const char *uuid, const struct ecc_config *cfg, double generated,
                   int utc_offset_s, json_t **out, char *err, size_t errlen)
{
    int rc;

    *out = NULL;
    if (errlen)
        err[0] = '\0';
    if (!is_uuid(uuid)) {
        snprintf(err, errlen, "'%s' is not a UUID", uuid);
        return PGREPORT_NOT_FOUND;
    }
    /* one snapshot: a rig's eccsync writing meanwhile changes none of what is read */
    if (pgerr_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "pgreport: BEGIN", err,
                   errlen) != 0)
        return PGREPORT_FAILED;
    rc = build(c, uuid, cfg, generated, utc_offset_s, out, err, errlen);
    PQclear(PQexec(c, rc == 0 ? "COMMIT" : "ROLLBACK"));
    return rc;
}

/* ---- the list ---------------------------------------------------------------------------- */

json_t *pgreport_patients(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = query(c, "SELECT p.uuid::text, p.name, p.origin_rig, p.shared,"
                           " coalesce((SELECT string_agg(DISTINCT s.rig_id, ' ' ORDER BY s.rig_id)"
                           "  FROM ecc.sessions s WHERE s.patient_uuid = p.uuid), '') AS rigs,"
                           " (SELECT count(*) FROM ecc.sessions s WHERE s.patient_uuid = p.uuid)"
                           "  AS sessions,"
                           " (SELECT max(s.started) FROM ecc.sessions s"
                           "  WHERE s.patient_uuid = p.uuid) AS last_session,"
                           " EXISTS (SELECT FROM ecc.programmes g WHERE g.patient_uuid = p.uuid)"
                           "  AS programme"
                           " FROM ecc.patients p ORDER BY p.name, p.uuid",
                        NULL, "pgreport: reading ecc.patients", err, errlen);
    json_t *arr;

    if (!r)
        return NULL;
    arr = rows_json(r, 0);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i), *rigs = json_array();
        char *list = strdup(json_string_value(json_object_get(o, "rigs")));

        for (char *save = NULL, *t = list ? strtok_r(list, " ", &save) : NULL; t;
             t = strtok_r(NULL, " ", &save))
            json_array_append_new(rigs, json_string(t));
        free(list);
        json_object_set_new(o, "rigs", rigs);
    }
    PQclear(r);
    return arr;
}
