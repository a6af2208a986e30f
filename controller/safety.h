/* safety.h - the safety supervisor: checks every tick, latches the first fault.
 *
 * A latched fault stops the belt (the controller ramps the command to zero) and
 * stays latched until an explicit operator reset; a reset is refused while the
 * cause is still present (e-stop still pressed, force still over the limit). After
 * a reset nothing moves until a new start, and the belt then starts from minimum
 * speed. There is no automatic restart, ever.
 *
 * Faults checked here (the skeleton; the hardware ones are added with their HALs):
 *   overforce     filtered force > force_abort
 *   overspeed     measured belt speed > speed_max * (1 + overspeed_margin)
 *   force_stale   no new load-cell sample for force_stale_s
 *   speed_silent  commanded above speed_min/2 for speed_silent_s with no belt pulse
 *   estop         the e-stop or safety key input is active (or its wire broken)
 *
 * Pure logic: time is passed in, nothing is allocated.
 */
#ifndef ECC_SAFETY_H
#define ECC_SAFETY_H

#include <stdbool.h>

enum fault {
    FAULT_NONE = 0,
    FAULT_OVERFORCE,
    FAULT_OVERSPEED,
    FAULT_FORCE_STALE,
    FAULT_SPEED_SILENT,
    FAULT_ESTOP,
    FAULT_COUNT
};

/* Stable lower-case names: "none", "overforce", "overspeed", "force_stale",
 * "speed_silent", "estop". */
const char *fault_name(enum fault f);

struct safety_params {
    double force_abort;         /* N */
    double speed_limit;         /* m/s: speed_max * (1 + overspeed_margin) */
    double force_stale_s;       /* s */
    double speed_silent_s;      /* s */
    double silent_min_cmd;      /* m/s: commanded speed above which pulses are expected */
};

struct safety_input {
    double now;                 /* s */
    double force;               /* N, filtered */
    double t_last_force;        /* s, time of the newest load-cell sample (-1: none yet) */
    double speed;               /* m/s, measured */
    double speed_cmd;           /* m/s, commanded */
    double t_last_pulse;        /* s, time of the newest belt pulse (-1: none yet) */
    bool estop;                 /* e-stop / safety key active */
};

struct safety {                 /* fields are private to safety.c */
    struct safety_params p;
    enum fault latched;
    double t_latched;           /* s */
    double value;               /* the measurement that tripped it */
    double limit;               /* the limit it crossed */
    double t_cmd_since;         /* s, since when the command has been above silent_min_cmd (-1: not) */
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
