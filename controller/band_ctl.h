/* band_ctl.h - the belt-speed controller that keeps eccentric force inside a band.
 *
 * Eccentric force rises with lengthening speed, so force above the band means
 * slow the belt and force below means speed it up; inside [force_low, force_high]
 * the speed is held. The band error is
 *     e = force_high - F   if F > force_high   (negative: slow down)
 *     e = force_low  - F   if F < force_low    (positive: speed up)
 *     e = 0                inside the band
 * and the commanded speed is a PI on e:
 *     target += ki * e * dt          (the held speed; clamped to [speed_min, speed_max],
 *                                     which is the anti-windup)
 *     cmd     = clamp(target + kp * e, speed_min, speed_max)
 * followed by a slew limit (accel m/s^2) so the patient never feels a jerk. While the
 * slew limit holds the output back from the proportional command, the integrator
 * pauses (anti-windup), so catching up does not carry the force through the band.
 * e is continuous at the band edges, so the P term never jumps.
 *
 * The caller chooses the band it holds: eccd passes the middle of the patient's band
 * (control.hold_margin), so the force is steered away from the edges, not parked there.
 *
 * The controller only acts on force while a stroke is "engaged" (the caller says so:
 * the foot is loaded and the force has reached the band, or has been loaded long
 * enough). Between strokes the foot is off the belt and force reads zero; that is
 * not a patient resisting too little, so the speed is held.
 * The unloading at the end of a stroke also pulls force below the band for a moment
 * before release is detected; band_ctl_release() rolls the held speed back to its
 * value release_rollback_s ago so that transient does not carry into the next rep.
 *
 * fixed mode ignores force and holds fixed_speed: the plain treadmill of the
 * clinical case report, kept as the baseline closed loop is compared with.
 *
 * reactive mode is continuous mode gated by the foot load, the way isokinetic
 * dynamometers run their reactive eccentric mode: while the force is above `engage`
 * the output runs toward the held speed exactly as in continuous mode (slew-limited
 * from wherever it is); at or below it the output ramps to zero at stop_decel, as on
 * a stop, and the held speed is kept for the next stroke.
 *
 * The drive: the command never runs ahead of what the drive can follow. Its slew is
 * the lesser of accel and the drive's own ramp (drive_accel up, drive_decel down), and
 * while the measured belt speed is known the command is never more than lead_margin
 * above it (a drive slower than its config, a belt dragged by the foot). A stop ramp
 * starts from the lesser of the command and the measured belt speed, so stopping never
 * asks for more speed than the belt has.
 *
 * The model: band_ctl_update() may be given the speed a model wants (v_model, finite);
 * it is then used instead of the PI's desired speed, through the same slew and lead
 * limits and clamps, and the PI's held speed follows it so that a fallback to the PI
 * (v_model NAN) continues from where the model was.
 *
 * Pure logic: the control period dt is fixed at init; nothing is allocated.
 */
#ifndef ECC_BAND_CTL_H
#define ECC_BAND_CTL_H

#include <stdbool.h>
#include "config/config.h"

#define BAND_CTL_HIST 128        /* ticks of held-speed history kept for the rollback */

struct band_ctl_params {
    enum cfg_mode mode;
    double force_low, force_high;    /* N */
    double kp;                       /* (m/s)/N */
    double ki;                       /* (m/s)/(N s) */
    double speed_min, speed_max;     /* m/s */
    double accel;                    /* m/s^2, slew limit while running */
    double stop_decel;               /* m/s^2, ramp down when stopping */
    double fixed_speed;              /* m/s, fixed mode */
    double engage;                   /* N, reactive mode: the belt moves only above this */
    double drive_accel, drive_decel; /* m/s^2, the drive's own ramps (never asked faster) */
    double lead_margin;              /* m/s, the command stays at most this above the belt */
    double rollback_s;               /* s, clamped to what the history holds */
    double dt;                       /* s, the control period */
};

struct band_ctl {                    /* fields are private to band_ctl.c */
    struct band_ctl_params p;
    bool running;
    double target;                   /* held speed, m/s */
    double out;                      /* slew-limited command, m/s */
    double hist[BAND_CTL_HIST];      /* target at each of the last ticks */
    int hist_pos, hist_n;
    int rollback_ticks;
};

void band_ctl_init(struct band_ctl *c, const struct band_ctl_params *p);

/* Start (or resume) running towards speed v0 (fixed mode: fixed_speed regardless).
 * v0 is clamped into [speed_min, speed_max]; the output ramps there from where it is. */
void band_ctl_run(struct band_ctl *c, double v0);

/* Stop: the output ramps to zero at stop_decel; the held speed is kept. */
void band_ctl_stop(struct band_ctl *c);

/* Stop at once, no ramp (the drive coasts on a fault where it is set to). */
void band_ctl_halt(struct band_ctl *c);

/* One control period. force: filtered force (N); engaged: act on it this tick;
 * v_belt: the measured belt speed (m/s; NAN: not known well enough to bound the
 * command); v_model: the speed the model wants (NAN: use the band PI).
 * Returns the commanded belt speed (m/s), always within [0, speed_max]. */
double band_ctl_step(struct band_ctl *c, double force, bool engaged, double v_belt,
                     double v_model);

/* band_ctl_step with no belt measurement and no model: the band PI alone. */
double band_ctl_update(struct band_ctl *c, double force, bool engaged);

/* The drive ramps slower than configured: hold the command to this (m/s^2, > 0). */
void band_ctl_set_drive_accel(struct band_ctl *c, double mps2);

/* The slew the command may change by per second, up and down (m/s^2). */
double band_ctl_slew_up(const struct band_ctl_params *p);
double band_ctl_slew_down(const struct band_ctl_params *p);

/* The stroke has ended: roll the held speed back by rollback_s. */
void band_ctl_release(struct band_ctl *c);

/* The band error (N) for force F; 0 inside the band. */
double band_ctl_error(const struct band_ctl_params *p, double force);

double band_ctl_output(const struct band_ctl *c);    /* last command, m/s */
double band_ctl_target(const struct band_ctl *c);    /* held speed, m/s */
bool band_ctl_running(const struct band_ctl *c);

#endif
