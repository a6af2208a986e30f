/* safety.h - the safety supervisor: checks every tick, latches the first fault.
 *
 * A latched fault stops the belt (the controller ramps the command to zero) and
 * stays latched until an explicit operator reset; a reset is refused while the
 * cause is still present (e-stop still pressed, force still over the limit, a load cell
 * still silent, saturated or below the floor, a drive still not answering). After
 * a reset nothing moves until a new start, and the belt then starts from minimum
 * speed. There is no automatic restart, ever.
 *
 * Faults checked here, in this order of precedence:
 *   estop           the e-stop or safety key input is active (or its wire broken)
 *   drive_trip      the drive reports a fault of its own
 *   drive_comm      fail_after drive transactions in a row failed
 *   loop_late       a control tick started more than loop_stall_s after it was due (the
 *                   controller was blind that long), or loop_late_burst ticks each more
 *                   than loop_late_s late within SAFETY_LATE_WINDOW_S (a machine that
 *                   keeps stalling); a single shorter late tick is only counted
 *   overforce       filtered force > force_abort
 *   force_saturated the newest raw reading is at the load cell's full scale
 *   force_implausible the newest raw reading is below -force_negative_n: a foot cannot pull
 *                   the belt back, so the cell is miswired, mis-calibrated or broken
 *   overspeed       measured belt speed > speed_max * (1 + overspeed_margin): the fused
 *                   speed or the speed from pulse periods alone, whichever is higher (a
 *                   drive that reports a sane speed while the belt runs away is caught by
 *                   its own pulses)
 *   force_stale     no new load-cell sample for force_stale_s
 *   force_drift     during a set the foot is off the belt between strokes, so over every
 *                   drift_window_s the lowest filtered force must come within +-drift_n
 *                   of zero; a zero that has wandered off latches (checked per window)
 *   force_stuck     the belt is commanded to move, samples arrive, but their value has
 *                   not changed for force_stuck_s (a loaded foot always trembles; a
 *                   frozen transmitter repeats itself)
 *   speed_silent    commanded above speed_min/2 for speed_silent_s with no belt pulse
 *   speed_disagree  the belt travel counted in pulses and the travel the drive's reported
 *                   speed integrates to (raw readings both, never the fused estimate)
 *                   part by more than the rule below allows
 *
 * The disagreement rule (speed_disagree). It compares two raw readings: pulse_dist, the
 * travel counted in pulses, and X_d, the drive's reported speed integrated over the checks
 * (trapezoid); e = pulse_dist - X_d. Why it is judged on travel, not on speed: a coarse
 * sensor (4 pulses/m) at 0.08 m/s gives no pulse at all for 3 s, so any speed judged over
 * a short window is mostly quantisation. Counted travel trails the true travel by
 * [0, pulse_m), so over ANY stretch of time counting alone moves e by less than one
 * pulse_m either way, however coarse the sensor and however slow the belt; the longer the
 * stretch, the smaller that one pulse's share of it. Beyond quantisation:
 *   - behind (e falling): a loaded belt slips and runs slower than its drive by up to
 *     slip x force, a few cm/s at any speed: allowed disagree_mps;
 *   - ahead (e rising): nothing lets a belt outrun its drive but a calibration mismatch
 *     (pulses_per_m against hz_per_mps): allowed SAFETY_AHEAD_SHARE of the drive's speed.
 * With A = disagree_mps * disagree_s (the drive report's lag on a ramp, slot spacing):
 *
 *     fault when, over some stretch [s, t] of running belt,
 *         e(t) - e(s) > pulse_m + A + SAFETY_AHEAD_SHARE * (X_d(t) - X_d(s))   (ahead)
 *         e(s) - e(t) > pulse_m + A + disagree_mps * (t - s)                   (behind)
 *
 * which a sensor and a drive within those allowances can never meet. It is two one-sided
 * CUSUMs (no window buffer): ahead = max(0, ahead + de - share dX_d), behind = max(0,
 * behind - de - disagree_mps dt), each latching above pulse_m + A. Both restart at zero
 * while the belt is meant to be at rest (command and drive speed at or below
 * silent_min_cmd), where a belt pushed by hand is no hazard.
 *
 * Latch time, from the onset of a sensor that counts a speed v_s while the drive reports
 * v_d (one pulse_m of quantisation at each end of the stretch):
 *     ahead,  v_s > (1 + share) v_d:      (2 pulse_m + A) / (v_s - (1 + share) v_d)
 *     behind, v_s < v_d - disagree_mps:   (2 pulse_m + A) / (v_d - disagree_mps - v_s)
 *     a dead sensor (v_s = 0):            (pulse_m + A) / (v_d - disagree_mps), and
 *                                         speed_silent_s in any case
 * plus one tick. A belt slower than its drive by less than disagree_mps is slip and never a
 * fault; a dead sensor at v_d <= disagree_mps is left to speed_silent. The fault's value
 * is the mean speed difference the counts show over the stretch that tripped it (m/s; over
 * a stretch of a few pulses a coarse sensor's last pulse of quantisation inflates it); its
 * limit the mean difference allowed there (disagree_mps behind, share x the mean drive
 * speed ahead).
 *
 * Pure logic: time is passed in, nothing is allocated.
 */
#ifndef ECC_SAFETY_H
#define ECC_SAFETY_H

#include <stdbool.h>

/* Share of the drive's speed by which the belt sensor may count ahead of it: the two
 * calibrations (pulses_per_m, hz_per_mps) may differ by this much. (A config key,
 * limits.speed_ahead_share, is proposed; until then this default.) */
#define SAFETY_AHEAD_SHARE 0.15

/* Late ticks are counted over this window (s) for the burst rule, and at most this many. */
#define SAFETY_LATE_WINDOW_S 10.0
#define SAFETY_LATE_BURST_MAX 10

/* One side of the disagreement rule: its sum, and where its current stretch began. */
struct safety_cusum {
    double sum;                 /* m, beyond the allowed drift */
    double t0;                  /* s, the stretch began (the sum was last zero) */
    double e0, xd0;             /* m, e and X_d then */
};

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
    double loop_late_s;         /* s, a tick this late is a late tick */
    double loop_stall_s;        /* s, one tick this late latches */
    int loop_late_burst;        /* late ticks within SAFETY_LATE_WINDOW_S that latch */
    double drift_n;             /* N */
    double drift_window_s;      /* s */
};

struct safety_input {
    double now;                 /* s */
    double force;               /* N, filtered */
    double t_last_force;        /* s, time of the newest load-cell sample (-1: none yet) */
    double speed;               /* m/s, measured (the fused belt speed) */
    double speed_pulse;         /* m/s, from pulse periods alone (NAN: no pulse sensor) */
    double pulse_dist;          /* m, belt travel counted in pulses since start */
    double pulse_m;             /* m of belt per pulse (0: no pulse sensor, no cross-check) */
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
    double xc_t;                /* s, the previous cross-check sample (-1: none) */
    double xc_dist, xc_vd;      /* m, m/s: pulse_dist and drive speed then */
    double xc_e, xc_xd;         /* m, e and X_d since the cross-check (re)started */
    struct safety_cusum ahead, behind;  /* the two sides of the disagreement rule */
    double t_drift_win;         /* s, start of the current drift window (-1: none) */
    double drift_min;           /* N, lowest filtered force in it */
    bool drift_bad;             /* a finished window's lowest force was off zero */
    double drift_value;         /* N, that lowest force */
    double t_started;           /* s, time of the first check (staleness is measured from here) */
    double late_t[SAFETY_LATE_BURST_MAX];   /* s, the latest late ticks (a ring) */
    int late_pos;
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
