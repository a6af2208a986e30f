/* belt_speed.h - belt speed and travel from a coarse pulse sensor fused with the drive.
 *
 * Why: a roller sensor gives one pulse per 0.25 m. At 0.08 m/s that is a pulse every
 * 3 s, and a period-based estimate (speed_est.h) knows nothing until the second pulse
 * of a run and lags every change by a whole period. The drive knows its own output at
 * once. So the belt speed is the drive's speed, corrected by what the pulses count:
 *
 *   v_ref   the drive's reported speed; where the drive reports nothing, a model of it:
 *           the command followed at the drive's own ramps (accel up, decel down);
 *           with neither, the plain period-based pulse estimate is the answer.
 *   f       the foot's load as a share of BELT_SPEED_F_REF (filtered force / 100 N),
 *           times min(1, v_ref / BELT_SPEED_V_MOVING): a belt that does not move does
 *           not slip.
 *   v       = k v_ref - u f (>= 0): the drive's speed times a calibration scale k, less
 *           the slip under load u (m/s at 100 N). A loaded belt runs slower than its
 *           drive: an induction motor slips with torque, a DC board sags with current,
 *           a belt creeps on its roller, all roughly in proportion to the foot's force.
 *           Why not a scale alone: with 2 to 4 pulses/m the pulses come seconds apart, as
 *           long as a stroke, so a scale learned from the last pulses mixes loaded and
 *           unloaded belt. On the simulator (slip 0.0002 (m/s)/N) whole sessions read
 *           each stroke's travel within about 6% with a scale alone, 4% with u (after a
 *           session's first two strokes, before which the slip is unknown: within the
 *           slip's share of the speed, up to 12% at 2 pulses/m; test_coarse_sensor).
 *   k, u    learned at each pulse by least squares over the newest whole pulse
 *           intervals i (up to BELT_SPEED_HIST - 1, each weighted BELT_SPEED_FORGET
 *           times the next newer one):  pulse_m = k X_i - u G_i,  X_i the integral of
 *           v_ref and G_i that of f over the interval, with a weak pull towards k = 1,
 *           u = 0 (BELT_SPEED_RIDGE) so that a run without load or at one load is well
 *           posed. u is clamped to [0, BELT_SPEED_U_MAX], k to [BELT_SPEED_K_MIN,
 *           BELT_SPEED_K_MAX]. Both start at their priors and are kept across stops (the
 *           distance between two pulses is one spacing however the belt stopped and
 *           started in between).
 *           With the model as the reference (it knows only what the drive was told, not
 *           what it did), u = 0 and k = the counted distance over the model's over the
 *           newest intervals alone (up to BELT_SPEED_SPAN_M, none older than
 *           BELT_SPEED_SPAN_S, at least one): the period-based speed, carried between
 *           pulses by the model's shape. And where the pulses alone are fresh (the newest
 *           period and the time since it at most BELT_SPEED_FRESH_S: a fine sensor at
 *           speed), they are the answer; from twice that on the model's; a blend between.
 *   cap     p = k X_since - u G_since is the travel predicted since the newest pulse;
 *           the belt has gone less than one spacing without giving the next pulse, so
 *           once p > (1 + BELT_SPEED_SLOT_TOL) pulse_m the speed is scaled down by
 *           that over p: a stalled belt (or a dead sensor) reads ever slower instead
 *           of trusting the reference for ever.
 *   travel  the distance counted in pulses plus min(p, pulse_m): it integrates the
 *           fused speed between pulses and is re-anchored on each pulse (it never runs
 *           ahead of the next pulse it has not seen).
 * So the speed is right from the first tick of a run (the drive's, with the k and u of
 * the last run), not from the second pulse.
 *
 * The drive/sensor cross-check is not here: safety.c judges the raw pulse count against
 * the raw drive speed, never this estimate (which k and u bend towards agreement).
 *
 * Pure logic: time is passed in (s, monotonic), nothing is allocated.
 */
#ifndef ECC_BELT_SPEED_H
#define ECC_BELT_SPEED_H

#include "controller/speed_est.h"

#define BELT_SPEED_HIST 8           /* pulses kept for the fit: 7 intervals */
#define BELT_SPEED_SPAN_M 0.2       /* m: the model's k spans up to this much belt ... */
#define BELT_SPEED_SPAN_S 0.5       /* s: ... no older than this (at least one interval) */
#define BELT_SPEED_FRESH_S 0.25     /* s: pulse periods this short need no model; twice
                                       as long and more, the model bridges them */
#define BELT_SPEED_FORGET 0.8       /* weight of an interval relative to the next newer */
#define BELT_SPEED_RIDGE 0.01       /* the priors weigh as 1% of one interval */
#define BELT_SPEED_F_REF 100.0      /* N: u is the slip at this load */
#define BELT_SPEED_V_MOVING 0.02    /* m/s: below this the belt's slip fades out */
#define BELT_SPEED_U_SCALE 0.1      /* m/s: the ridge's size of u (as k off by 1) */
#define BELT_SPEED_U_MAX 0.2        /* m/s at 100 N: more is not slip */
#define BELT_SPEED_K_MIN 0.5        /* the calibrations disagree by half: a wrong config */
#define BELT_SPEED_K_MAX 1.5
#define BELT_SPEED_SLOT_TOL 0.1     /* slot spacing and a fit a little behind the load */

struct belt_speed_params {
    double pulses_per_m;            /* > 0 */
    double timeout_s;               /* the pulse-only estimate reads 0 after this (> 0) */
    double accel, decel;            /* m/s^2, the drive's own ramps for the model of it
                                       where it reports no speed (<= 0: no model) */
};

struct belt_speed_in {
    double now;                     /* s */
    const double *pulse_t;          /* new pulse times since the last update, in order */
    int n_pulses;
    double drive_mps;               /* the drive's reported speed, NAN: none */
    double cmd_mps;                 /* the command the drive has followed since the last
                                       update (for the model) */
    double force_n;                 /* N, the foot's filtered load (NAN: none, as 0) */
};

enum belt_speed_src { BELT_SRC_PULSES = 0, BELT_SRC_DRIVE, BELT_SRC_MODEL };

struct belt_speed {                 /* fields are private to belt_speed.c */
    struct belt_speed_params p;
    double m_pp;                    /* m per pulse */
    struct speed_est pulses;        /* pulse timing: counts, the pulse-only speed */
    enum belt_speed_src src;
    double now, t_prev;             /* s; t_prev -1: no update yet */
    double v_ref, f;                /* m/s, share: the reference and the load at t_prev */
    double v_model;                 /* m/s, the modelled drive output */
    double x_ref, g_ref;            /* m, s: v_ref and f integrated since init */
    double x_last, g_last;          /* ... at the newest pulse (or the reference's start) */
    double x_anchor[BELT_SPEED_HIST];   /* x_ref at the newest pulses (ring) ... */
    double g_anchor[BELT_SPEED_HIST];   /* ... g_ref ... */
    double t_anchor[BELT_SPEED_HIST];   /* ... and the pulses' times */
    int head, n;
    double k, u;                    /* the learned scale and slip (m/s at F_REF) */
    double v;                       /* m/s, the fused speed */
};

void belt_speed_init(struct belt_speed *b, const struct belt_speed_params *p);

/* One control tick. */
void belt_speed_update(struct belt_speed *b, const struct belt_speed_in *in);

double belt_speed_get(const struct belt_speed *b);          /* m/s, fused, >= 0 */
double belt_speed_travel(const struct belt_speed *b);       /* m since init (estimate) */
double belt_speed_counted(const struct belt_speed *b);      /* m since init, in pulses */
double belt_speed_pulse_speed(const struct belt_speed *b);  /* m/s, from pulse periods alone */
double belt_speed_last_pulse(const struct belt_speed *b);   /* s, -1: none yet */
double belt_speed_scale(const struct belt_speed *b);        /* k */
double belt_speed_slip(const struct belt_speed *b);         /* u, m/s at BELT_SPEED_F_REF */
double belt_speed_m_per_pulse(const struct belt_speed *b);  /* m */
enum belt_speed_src belt_speed_source(const struct belt_speed *b);

#endif
