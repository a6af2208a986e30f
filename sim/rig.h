/* rig.h - the simulated treadmill rig: drive, belt, pulse sensor, load cell, athlete.
 *
 * Physics, stepped at physics_dt (1 ms) while anything moves:
 *   drive   the motor answers a setpoint only drive_dead_s after it was given (bus and
 *           drive reaction), then follows it at +-drive_accel (the VFD's ramp);
 *   belt    v_belt = max(0, v_motor - slip x F_foot) (a loaded belt slips/droops);
 *   pulses  one pulse each 1/pulses_per_m metres of belt travel, timestamped at the
 *           exact (interpolated) crossing time;
 *   load    cell samples at lc_rate_hz: true force + N(0, lc_noise_n) quantised to
 *           lc_resolution_n, plus the athlete's glitch spikes (single samples);
 *   athlete sim/athlete.h.
 * While the belt is stopped and the athlete has nothing to do, rig_advance() jumps
 * ahead (generating only the load-cell samples) so a simulated day runs in well
 * under a second.
 *
 * Time is the simulation's own (s from 0); nothing here reads a clock.
 * Deterministic for a given seed.
 */
#ifndef ECC_RIG_H
#define ECC_RIG_H

#include "sim/athlete.h"
#include "sim/patient.h"

struct rig_params {
    double physics_dt;           /* s, 0.001 */
    double drive_accel;          /* m/s^2 */
    double drive_dead_s;         /* s, 0..RIG_DEAD_MAX_S: setpoint to motor reaction */
    double slip;                 /* (m/s)/N */
    double pulses_per_m;
    double lc_rate_hz;
    double lc_noise_n;
    double lc_resolution_n;
    unsigned seed;
    double wall_start;           /* UTC s at rig time 0: the programme patient's clock */
};

#define RIG_QUEUE 512            /* pulses / samples held between takes; older ones are dropped */
#define RIG_DEAD_MAX_S 0.5       /* s, the longest drive dead time */

struct rig;

void rig_defaults(struct rig_params *p);

/* Allocates the rig and its athlete. Returns NULL on ENOMEM or bad parameters. */
struct rig *rig_open(const struct rig_params *rp, const struct athlete_params *ap,
                    const struct athlete_judge *judge);
void rig_close(struct rig *r);

double rig_now(const struct rig *r);             /* s */
/* Drive setpoint, m/s of belt (>= 0), given at rig_now(); the motor answers it
 * drive_dead_s later. Repeating the same setpoint queues nothing. */
void rig_set_speed(struct rig *r, double v);
void rig_advance(struct rig *r, double t);       /* run the physics up to time t */

/* Take what arrived since the last take, oldest first; return the count. */
int rig_take_pulses(struct rig *r, double *t, int max);
int rig_take_force(struct rig *r, double *t, double *newtons, int max);
unsigned rig_take_buttons(struct rig *r);        /* ATHLETE_BTN_* pressed since last take */
/* The programme patient's check-ins (sim/patient.h), oldest first: false when none (or
 * the athlete is no programme patient). */
bool rig_take_checkin(struct rig *r, struct patient_checkin_rec *out);
/* When nothing moves and nobody has anything to do: the earliest time anything may
 * happen (>= now; now itself when something is going on). */
double rig_quiet_until(struct rig *r);
/* About to advance to t over a quiet stretch (rig_quiet_until(r) >= t): the load cell
 * makes only the samples of its last tail_s (no reader would take more than RIG_QUEUE;
 * a stretch of hours would cost millions). A no-op when it is not quiet until t. */
void rig_quiet_jump(struct rig *r, double t, double tail_s);
long rig_dropped(const struct rig *r);           /* queue overflows so far */

double rig_belt_speed(const struct rig *r);      /* m/s, true */
double rig_motor_speed(const struct rig *r);     /* m/s, drive output */
double rig_true_force(const struct rig *r);      /* N */
double rig_belt_position(const struct rig *r);   /* m */
const struct athlete *rig_athlete(const struct rig *r);

#endif
