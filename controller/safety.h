/* safety.h - the safety supervisor: checks every tick, latches the first fault.
 *
 * A latched fault stops the belt (the controller ramps the command to zero) and
 * stays latched until an explicit operator reset; a reset is refused while the
 * cause is still present (e-stop still pressed, force still over the limit). After
 * a reset nothing moves until a new start, and the belt then starts from minimum
 * speed. There is no automatic restart, ever.
 *
 * Faults checked here, in this order of precedence:
 *   estop           the e-stop or safety key input is active (or its wire broken)
 *   drive_trip      the drive reports a fault of its own
 *   drive_comm      fail_after drive transactions in a row failed
 *   loop_late       a control tick started more than loop_late_s after it was due (the
 *                   controller was blind that long)
 *   overforce       filtered force > force_abort
 *   force_saturated the newest raw reading is at the load cell's full scale
 *   force_implausible the newest raw reading is below -force_negative_n: a foot cannot pull
 *                   the belt back, so the cell is miswired, mis-calibrated or broken
 *   overspeed       measured belt speed > speed_max * (1 + overspeed_margin)
 *   force_stale     no new load-cell sample for force_stale_s
 *   force_drift     during a set the foot is off the belt between strokes, so over every
 *                   drift_window_s the lowest filtered force must come within +-drift_n
 *                   of zero; a zero that has wandered off latches (checked per window)
 *   force_stuck     the belt is commanded to move, samples arrive, but their value has
 *                   not changed for force_stuck_s (a loaded foot always trembles; a
 *                   frozen transmitter repeats itself)
 *   speed_silent    commanded above speed_min/2 for speed_silent_s with no belt pulse
 *   speed_disagree  belt sensor and drive-reported speed differ by more than
 *                   disagree_mps for longer than disagree_s, checked once the command
 *                   has been steady for DISAGREE_SETTLE_S (the period-based belt speed
 *                   lags a ramp; a start or a stop is not a disagreement)
 *
 * Pure logic: time is passed in, nothing is allocated.
 */
#ifndef ECC_SAFETY_H
#define ECC_SAFETY_H

#include <stdbool.h>

#define DISAGREE_SETTLE_S 1.0   /* s the command must be steady before speeds are compared */

enum fault {
    FAULT_NONE = 0,
    FAULT_OVERFORCE,
    FAULT_OVERSPEED,
    FAULT_FORCE_STALE,
    FAULT_SPEED_SILENT,
    FAULT_ESTOP,
    FAULT_DRIVE_TRIP,
    FAULT_DRIVE_COMM,
    FAULT_FORCE_SATURATED,
    FAULT_FORCE_STUCK,
    FAULT_SPEED_DISAGREE,
    FAULT_FORCE_IMPLAUSIBLE,
    FAULT_LOOP_LATE,
    FAULT_FORCE_DRIFT,
    FAULT_COUNT
};

/* Stable lower-case names: "none", "overforce", "overspeed", "force_stale",
 * "speed_silent", "estop", "drive_trip", "drive_comm", "force_saturated",
 * "force_stuck", "speed_disagree", "force_implausible", "loop_late", "force_drift". */
const char *fault_name(enum fault f);

struct safety_params {
    double force_abort;         /* N */
    double speed_limit;         /* m/s: speed_max * (1 + overspeed_margin) */
    double force_stale_s;       /* s */
    double speed_silent_s;      /* s */
    double silent_min_cmd;      /* m/s: commanded speed above which pulses are expected */
    double force_full_scale;    /* N: a raw reading at or beyond this is saturated */
    double force_stuck_s;       /* s */
    double disagree_mps;        /* m/s */
    double disagree_s;          /* s */
    double force_negative_n;    /* N, a raw reading below minus this is implausible */
    double loop_late_s;         /* s */
    double drift_n;             /* N */
    double drift_window_s;      /* s */
};

struct safety_input {
    double now;                 /* s */
    double force;               /* N, filtered */
    double t_last_force;        /* s, time of the newest load-cell sample (-1: none yet) */
    double speed;               /* m/s, measured */
    double speed_cmd;           /* m/s, commanded */
    double t_last_pulse;        /* s, time of the newest belt pulse (-1: none yet) */
    bool estop;                 /* e-stop / safety key active */
    double force_raw;           /* N, the newest raw sample */
    double t_force_changed;     /* s, when the raw reading last changed value (-1: never) */
    bool drive_tripped;         /* the drive reports a fault */
    unsigned drive_fault_code;
    bool drive_comm_lost;       /* the drive link failed fail_after times in a row */
    double speed_drive;         /* m/s from the drive's output frequency; NAN: no such
                                   second opinion (no cross-check) */
    double late_s;              /* s this tick started after it was due (0: on time) */
    bool in_set;                /* a set is running (the foot comes off between strokes) */
};

struct safety {                 /* fields are private to safety.c */
    struct safety_params p;
    enum fault latched;
    double t_latched;           /* s */
    double value;               /* the measurement that tripped it */
    double limit;               /* the limit it crossed */
    double t_cmd_since;         /* s, since when the command has been above silent_min_cmd (-1: not) */
    double t_disagree_since;    /* s, since when the two speeds have disagreed (-1: they agree) */
    double cmd_ref;             /* m/s, the command when it last moved */
    double t_cmd_steady;        /* s, since when the command has stayed near cmd_ref (-1: not yet) */
    double t_drift_win;         /* s, start of the current drift window (-1: none) */
    double drift_min;           /* N, lowest filtered force in it */
    bool drift_bad;             /* a finished window's lowest force was off zero */
    double drift_value;         /* N, that lowest force */
    double t_started;           /* s, time of the first check (staleness is measured from here) */
    bool started;
    int resets;
};

void safety_init(struct safety *s, const struct safety_params *p);

/* Check one tick. Returns FAULT_NONE while healthy; the newly latched fault on the
 * tick it latches; the latched fault on every later tick until reset. */
enum fault safety_check(struct safety *s, const struct safety_input *in);

/* Operator reset at in->now. Returns 0 if the latch was cleared (or none was set),
 * -1 if the cause is still present (the latch stays). */
int safety_reset(struct safety *s, const struct safety_input *in);

enum fault safety_latched(const struct safety *s);
double safety_latched_at(const struct safety *s);
double safety_value(const struct safety *s);       /* measurement that tripped */
double safety_limit(const struct safety *s);       /* limit it crossed */
int safety_resets(const struct safety *s);         /* latches cleared by safety_reset */

#endif
