/* pull.h - what the clinic shares brought back to the rig: the shared patients and their
 * programmes pulled from the central database (pgwrite_pull_patients) and handed to eccd
 * over its control socket as patient-put and programme-put requests, so that eccd stays
 * the only writer of the rig's history (docs/fleet.md, "What the clinic sets").
 *
 * eccd decides: a patient is added under its UUID or renamed; a programme is taken whole
 * when it is newer (its updated time) than the rig's own, else left. Between sessions
 * only for the selected patient: while that patient trains, eccd refuses, and the pull
 * stops there to be tried again (the since time does not move).
 */
#ifndef ECC_SYNC_PULL_H
#define ECC_SYNC_PULL_H

#include <libpq-fe.h>
#include <stddef.h>

struct sync_pull_stats {
    long rows;                  /* rows pulled and handed to eccd */
    long added, renamed, applied;   /* what eccd did with them (the rest: nothing to do) */
    long refused;               /* refused for good (a name taken, a plan outside the
                                   rig's bounds): said, and passed over */
};

/* The rows refused for good that were said (a pull passes over them, and they come again
 * with the next pulls until they change): each is said once. Zero it to begin. */
#define SYNC_PULL_SAID_MAX 32
struct sync_pull_said {
    char text[SYNC_PULL_SAID_MAX][512];
    int n, next;
};

#define SYNC_PULL_LINK (-1)     /* the server: reconnect and try again */
#define SYNC_PULL_LATER (-2)    /* eccd away, or busy with that patient: try again later */
#define SYNC_PULL_REFUSED (-3)  /* the server refused the pull (a bug or its rules) */

/* Pull what changed after *since (server time, 0: everything) and hand it to eccd at
 * socket_path (waiting at most timeout_s for each reply). On 0 *since moves on for the
 * next pull; on an error it stays. err says what failed; a row refused for good is logged
 * once (said). st may be NULL. */
int sync_pull_run(PGconn *pg, const char *socket_path, double timeout_s, double *since,
                  struct sync_pull_said *said, struct sync_pull_stats *st, char *err,
                  size_t errlen);

#endif
