/* pgschema.h - the clinic's central PostgreSQL schema (docs/fleet.md): every rig's history
 * in one database, brought up to date by numbered migrations, each rig writing through a
 * login role of its own that row-level security confines to its own rows.
 *
 * Schema ecc. Roles (cluster-wide, made by the first migration if missing):
 *   ecc_owner  owns every object of ecc; no login. Row-level security is forced on every
 *              table, so even the owner is held to the policies (it has none: it sees no
 *              row). The functions that make partitions run as it.
 *   ecc_rig    the group of the rigs' login roles: the policies and grants name it.
 * The admin connection these calls take must bypass row-level security: a superuser, or a
 * role with BYPASSRLS and CREATEROLE that may create in the database (it is made a member
 * of ecc_owner). eccsync never connects as it.
 *
 * Migrations: ecc.schema_migrations(version, applied) holds one row per migration applied;
 * each runs in its own transaction under an advisory lock (two migrators at once take
 * turns), so a failed one leaves the database at the version before it. A database whose
 * schema is newer than this code is refused and not changed.
 *
 * Errors: -1 with "what failed: the server's message (SQLSTATE)[; the fix]" in err.
 */
#ifndef ECC_PGSCHEMA_H
#define ECC_PGSCHEMA_H

#include <libpq-fe.h>
#include <stddef.h>

#define PGSCHEMA_VERSION 3              /* the newest migration */

/* Bring the database admin is connected to up to PGSCHEMA_VERSION: 0 or -1. Running it on
 * an up-to-date database changes nothing. */
int pgschema_migrate(PGconn *admin, char *err, size_t errlen);

/* The same up to version (1 .. PGSCHEMA_VERSION) only: for tests of an upgrade. */
int pgschema_migrate_to(PGconn *admin, int version, char *err, size_t errlen);

/* The schema's version: 0 when the database has none yet, or -1 with err. A rig's role may
 * ask it too (eccsync checks the schema is new enough before it writes). */
int pgschema_version(PGconn *c, char *err, size_t errlen);

/* Let rig rig_id write through the login role role: the role is created (LOGIN, no other
 * privilege; password NULL: none, for certificate authentication), made a member of
 * ecc_rig, and bound to the rig in ecc.rigs. Idempotent: an existing role is kept (a
 * password given replaces its password); a rig or role already bound to another is
 * refused, and so is a role that is a superuser or bypasses row-level security.
 * rig_id: 1..63 of [A-Za-z0-9._-]; role: 1..63 of [a-z0-9_], not starting with a digit
 * or "pg_", not ecc_owner or ecc_rig. The password reaches the server only as a
 * SCRAM-SHA-256 verifier made here (PQencryptPasswordConn), never in clear. */
int pgschema_add_rig(PGconn *admin, const char *rig_id, const char *role, const char *password,
                     char *err, size_t errlen);

#endif
