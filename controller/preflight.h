/* preflight.h - the checks that must pass before the belt may move.
 *
 * Before any start (and continuously while nothing moves, so eccctl status and the log
 * can say what is wrong before anyone presses start) the rig must show:
 *   estop            the e-stop and the safety key released;
 *   drive_silent     a drive that talks back has answered lately (its latest report is
 *                    younger than PREFLIGHT_DRIVE_FRESH_S and its link is healthy);
 *   drive_tripped    ... and reports no fault of its own;
 *   drive_running    ... and reports its output stopped (below PREFLIGHT_STILL_MPS)
 *                    unless eccd itself still commands it (ramping down between sets);
 *   force_silent     the load cell's newest sample is younger than force_stale_s;
 *   force_implausible ... and within what a foot can do: above -force_negative_n and
 *                    below the full scale (a wrong word order or register gives values
 *                    far outside);
 *   force_loaded     at the start of a session, with the foot off, the force is near the
 *                    tared zero: below contact_n (a foot on the plate, or a tare that is
 *                    off, would start a stroke at once);
 *   belt_moving      a pulse sensor, where there is one, reads the belt still (the same
 *                    exception).
 * The first failing check, in that order, is the verdict; PREFLIGHT_OK when all pass.
 * The verdict says which part and what; the HAL adds the link's own words (unit, register,
 * what came back) where the part has a link.
 *
 * Pure logic: the caller passes what it knows; nothing is allocated.
 */
#ifndef ECC_PREFLIGHT_H
#define ECC_PREFLIGHT_H

#include <stdbool.h>

#include "hal/hal.h"

#define PREFLIGHT_DRIVE_FRESH_S 1.0 /* s: a drive report older than this is silence */
#define PREFLIGHT_STILL_MPS 0.02    /* m/s: slower than this is still */

enum preflight_verdict {
    PREFLIGHT_OK = 0,
    PREFLIGHT_ESTOP,
    PREFLIGHT_DRIVE_SILENT,
    PREFLIGHT_DRIVE_TRIPPED,
    PREFLIGHT_DRIVE_RUNNING,
    PREFLIGHT_FORCE_SILENT,
    PREFLIGHT_FORCE_IMPLAUSIBLE,
    PREFLIGHT_FORCE_LOADED,
    PREFLIGHT_BELT_MOVING,
    PREFLIGHT_COUNT
};

/* Which part a verdict is about. */
enum preflight_part { PREFLIGHT_PART_NONE = 0, PREFLIGHT_PART_INPUTS, PREFLIGHT_PART_DRIVE,
                      PREFLIGHT_PART_LOADCELL, PREFLIGHT_PART_BELT_SENSOR };

struct preflight_input {
    double now;                         /* s */
    bool estop;
    const struct hal_drive_status *drive;   /* the latest report (present = false: none) */
    double t_last_force;                /* s, newest load-cell sample (-1: none yet) */
    double force_raw;                   /* N, that sample */
    double force_stale_s;               /* s */
    double force_negative_n;            /* N */
    double force_full_scale;            /* N */
    double contact_n;                   /* N */
    bool check_zero;                    /* a new session: the foot must be off */
    double speed_pulse;                 /* m/s from the pulse sensor (NAN: none) */
    bool commanded;                     /* eccd itself still commands motion (a ramp down
                                           between sets): motion is no failure then */
};

/* The first failing check; *value is what was measured for it (s, N or m/s; NAN: none). */
enum preflight_verdict preflight_check(const struct preflight_input *in, double *value);

/* "ok", "estop", "drive_silent", "drive_tripped", "drive_running", "force_silent",
 * "force_implausible", "force_loaded", "belt_moving". */
const char *preflight_name(enum preflight_verdict v);

/* The part a verdict is about, and its name: "inputs", "drive", "load cell", "belt sensor". */
enum preflight_part preflight_part(enum preflight_verdict v);
const char *preflight_part_name(enum preflight_part p);

/* What is wrong and what to do, in a technician's words (no link details). */
const char *preflight_text(enum preflight_verdict v);

#endif
