/* pgreport.h - the clinician's report from the clinic's database: one patient across every
 * rig (docs/fleet.md, "The clinic's view").
 *
 * pgreport_build makes the same document eccd's report request makes from a rig's file
 * (daemon/store_programme.c store_report, the contract in docs/report.md), from the
 * central tables of schema ecc: the patient's sessions, sets, rejected strokes, check-ins
 * and progression entries on whichever rig they were recorded, merged in time order, and
 * the programme of ecc.programmes. client/progreport.c renders it as it renders eccd's.
 *
 * Where the two differ, and why:
 *  - patient: no "id" (each rig numbers its patients itself); "uuid", and "rigs", the
 *    rigs the patient has rows on, sorted;
 *  - sessions[], checkins[], progression[]: "rig_id" besides the rig's own fields; their
 *    "id" and "session_id" stay the rig's local ids, which name one row with rig_id;
 *  - thresholds and programme.day_start_h: from the config handed in (eccd's INI, its
 *    [progression] and [protocol] keys), not from the rig's;
 *  - programme.utc_offset_s and generated: handed in (eccsync: the local time zone of the
 *    machine it runs on, at the time it runs).
 *
 * The queries run in one read-only, repeatable-read transaction (one snapshot), with the
 * patient's UUID as a parameter. The connection must see every rig's rows: the admin's
 * (or another role that bypasses row-level security).
 */
#ifndef ECC_PGREPORT_H
#define ECC_PGREPORT_H

#include <libpq-fe.h>
#include <stddef.h>

#include <jansson.h>

#include "config/config.h"

#define PGREPORT_UUID_LEN 36

enum {
    PGREPORT_FAILED = -1,       /* the server or the connection failed: err says */
    PGREPORT_NOT_FOUND = -2,    /* no such patient, a name that is not unique, no programme */
};

/* The patient's UUID from what a clinician typed: a UUID (any case; it need not exist) is
 * copied in lower case; anything else is looked up as a patient's name, which must name
 * exactly one. uuid has PGREPORT_UUID_LEN + 1 bytes. 0, or a PGREPORT_ code with err. */
int pgreport_find_patient(PGconn *c, const char *uuid_or_name, char *uuid, char *err,
                          size_t errlen);

/* The report document of patient uuid into *out (the caller json_decref's it), generated
 * at generated (UTC s) with the programme's local time utc_offset_s seconds east of UTC.
 * 0, or a PGREPORT_ code with err (*out NULL). */
int pgreport_build(PGconn *c, const char *uuid, const struct ecc_config *cfg, double generated,
                   int utc_offset_s, json_t **out, char *err, size_t errlen);

/* The central patients, by name: an array of {"uuid", "name", "origin_rig" (null: the
 * clinic's own), "shared", "rigs" (those with sessions of the patient, sorted), "sessions",
 * "last_session" (UTC s of the latest session's start, or null), "programme" (true when
 * ecc.programmes has one)}. NULL with err. */
json_t *pgreport_patients(PGconn *c, char *err, size_t errlen);

#endif
