/* pgwrite.h - eccsync's side of the central database: a batch of the rig's rows written
 * in one transaction with the rig's progress, the progress read back, and the patients the
 * clinic shares pulled down (docs/fleet.md, "Writing").
 *
 * The connection is a rig's login role's (pgschema_add_rig), made by the caller with
 * PQconnectdb; these calls never open, reset or close it. Values go to the server as
 * parameters (text format), never pasted into SQL.
 *
 * Results: 0 (or a count) when done, else one of
 *   PGWRITE_LINK     the connection failed or the server could not do it now (shutting
 *                    down, starting up, out of connections, a deadlock). A batch took effect
 *                    whole or not at all (when the link fails after COMMIT was sent, its
 *                    reply cannot say which). Reconnect (PQreset) when PQstatus is
 *                    CONNECTION_BAD, then send the same batch again: that is always safe.
 *   PGWRITE_REFUSED  the server refused it (a value of the wrong type, a missing NOT NULL
 *                    value, row-level security: a rig_id not the role's own, the schema
 *                    missing): nothing took effect, and the same batch will be refused again;
 *                    a bug or a misconfiguration, not to be retried blindly.
 * err holds "what failed: the server's message (SQLSTATE)[; the fix]" with either.
 */
#ifndef ECC_PGWRITE_H
#define ECC_PGWRITE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/syncrow.h"

#define PGWRITE_LINK (-1)
#define PGWRITE_REFUSED (-2)
#define PGWRITE_STOPPED (-3)            /* pgwrite_pull_patients: the callback said stop */

/* Seconds a pull's next_since lies before the server's clock at the pull: a change whose
 * transaction began before the pull but committed after it is fetched by the next pull. */
#define PGWRITE_PULL_OVERLAP_S 300.0

/* Upsert rows[0 .. n-1] (any tables, in that order) for rig rig_id and set the rig's
 * sync_progress.last_seq to last_seq, all in one transaction: either all of it is written
 * or nothing. Rig-owned rows are written under rig_id (row-level security refuses any
 * rig_id but the role's own), patients and programmes with origin_rig = rig_id when they
 * are new; an existing patient or programme of another origin (another rig's, the
 * clinic's) is left as it is and the batch goes on. A row equal to the stored one is not
 * rewritten, so a batch written twice changes nothing. The progress only moves forward: a
 * last_seq at or below the stored one leaves it (the rows are still written).
 * Reps and rejects of a month without a partition get one first, in a transaction of its
 * own (a refused batch may leave an empty partition behind, never a row).
 * n may be 0 (the progress alone). 0, PGWRITE_LINK or PGWRITE_REFUSED. */
int pgwrite_batch(PGconn *rig, const char *rig_id, const struct sync_row *rows, int n,
                  uint64_t last_seq, char *err, size_t errlen);

/* The rig's last_seq as stored (0 when it has none yet): 0, PGWRITE_LINK or _REFUSED. */
int pgwrite_progress(PGconn *rig, const char *rig_id, uint64_t *last_seq, char *err,
                     size_t errlen);

/* Called for each row pulled; row lives only during the call (copy what is kept). Return
 * 0 to go on, anything else to stop the pull. */
typedef int (*pgwrite_row_fn)(const struct sync_row *row, void *ctx);

/* The shared patients and then their programmes changed after since (UTC s on the
 * server's clock; 0: all), as sync_row values in sync_tables[] order (row->seq is 0),
 * from one snapshot, to fn. *next_since gets the since for the next pull (the server's
 * time at this one less PGWRITE_PULL_OVERLAP_S, so some rows come again: apply them as
 * upserts). Returns the number of rows passed to fn, PGWRITE_STOPPED when fn stopped it
 * (*next_since not set), PGWRITE_LINK or PGWRITE_REFUSED. Nothing to free. */
int pgwrite_pull_patients(PGconn *rig, double since, pgwrite_row_fn fn, void *ctx,
                          double *next_since, char *err, size_t errlen);

#endif
