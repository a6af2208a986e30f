/* fv_model.h - the patient's force-speed model, learned stroke by stroke, and the belt
 * speed it asks for.
 *
 * Eccentric force rises with lengthening speed. Over a stroke the foot force is modelled
 *     F(t) = g(tau) x ( e(t) + slope x v(t - delay) )
 * with tau the time since contact, g the landing profile (0 at contact, 1 once the foot
 * has landed), e(t) the patient's effort (it swings 10-35% from stroke to stroke, drifts
 * through a stroke and fades with fatigue), slope the force-speed slope (N per m/s) and
 * delay the time a speed change takes to show in the force (reaction, filtering).
 *
 * What is learned:
 *   slope     per stroke, by least squares of F on (1, tau, v(t - delay)) over the loaded
 *             samples (the tau column takes the effort's drift through the stroke); a
 *             stroke whose speed barely moved says nothing and is skipped; estimates are
 *             combined weighted by how much the speed moved, starting from the config's
 *             slope as a prior worth FV_PRIOR_STROKES strokes;
 *   effort    each stroke's effort at its start, from the first FV_EARLY_S of loaded
 *             force after the landing; a level-and-trend filter (Holt) over those
 *             predicts the next stroke's, the trend being the fatigue;
 *   landing   g(tau) in FV_G_BINS bins: the force while landing as a share of the force
 *             once surely landed (FV_G_BINS x FV_G_BIN_S after contact), averaged over
 *             the strokes, so the effort is read from the first ~100 ms of load instead
 *             of after the landing. Until a bin is learned the force is not read before
 *             the rep rule's landing time.
 *
 * What it asks for (fv_model_speed):
 *   unloaded  the landing speed of the next stroke: (target - predicted effort) / slope;
 *   landing   that speed, until tau >= FV_FIRST_S and g(tau) says enough of the foot is
 *             down to read the effort; never faster than the force so far allows (it is at
 *             most the landed force, so the effort is at least F - slope x v); before any
 *             stroke only that bound, and only to slow down;
 *   loaded    the speed that puts this stroke's force on target when the command takes
 *             effect (lookahead_s from now), the effort's drift through a stroke (the tau
 *             column of the fits, averaged over the strokes) carried forward:
 *                 e_now = F / g(tau) - slope x v(t - delay),
 *                 v = (target - e_now - drift x lookahead) / slope.
 * The answer is clamped to [speed_min, speed_max]; the caller's slew and lead limits
 * (band_ctl) bound how fast it is reached. Anything implausible (no stroke seen yet, a
 * non-finite input, a slope outside [slope_min, slope_max]) answers NAN: the caller
 * falls back to the plain band controller.
 *
 * Pure logic: time is passed in; nothing is allocated.
 */
#ifndef ECC_FV_MODEL_H
#define ECC_FV_MODEL_H

#include <stdbool.h>

#define FV_VHIST 256            /* ticks of belt speed kept for the delay */
#define FV_G_BINS 20            /* landing-profile bins ... */
#define FV_G_BIN_S 0.02         /* ... this wide (s): 0.4 s of landing */
#define FV_FIRST_S 0.06         /* s after contact before the force is read at all */
#define FV_G_MIN 0.35           /* a landing share below this is too little to read */
#define FV_EARLY_S 0.15         /* s of loaded force after the landing that give the effort */
#define FV_PRIOR_STROKES 3.0    /* the config's slope counts as this many strokes */
#define FV_SAMPLE_S 0.02        /* s between regression samples */
#define FV_PENDING 24           /* samples held back: the lift must not enter the fit */
#define FV_MIN_DV 0.008         /* m/s: a stroke whose speed moved less teaches no slope */

struct fv_params {
    double slope;                /* N/(m/s), the prior */
    double slope_min, slope_max; /* N/(m/s), plausible */
    double target_n;             /* N, the force aimed at once the stroke's effort is read */
    double land_target_n;        /* N, the force a landing is planned for (the effort is
                                    still a guess then: the middle of the band is the
                                    guess that a stroke either way survives best) */
    double speed_min, speed_max; /* m/s */
    double landing_s;            /* s, contact to landed (the rep rule's landing time) */
    double delay_s;              /* s, belt speed to force */
    double lookahead_s;          /* s, a command now shows in the force this much later (the
                                    drive's dead time and delay_s): the effort is aimed at
                                    where its drift will have taken it by then */
    double dt;                   /* s, the control period */
};

struct fv_sample { double tau, f, v; };

struct fv_model {                /* fields are private to fv_model.c */
    struct fv_params p;
    int delay_ticks;
    double vhist[FV_VHIST];
    int vpos, vn;

    double slope, slope_w;       /* learned slope and its weight */
    double drift;                /* N/s, how the effort moves through a stroke (learned) */
    int drift_n;
    double level, trend;         /* effort at a stroke's start, and its change per stroke */
    int strokes;                 /* strokes that gave an effort */
    double g[FV_G_BINS];         /* landing profile */
    int g_n[FV_G_BINS];

    /* the stroke in progress */
    bool loaded;
    double t_contact;
    double f_bin[FV_G_BINS];     /* force in each landing bin (-1: none) */
    double v_bin[FV_G_BINS];
    double early_sum;            /* effort readings in the early window */
    int early_n;
    double ref_sum;              /* effort once surely landed (for the landing profile) */
    int ref_n;
    double s[3][3], r[3];        /* normal equations of this stroke's fit */
    int fit_n;
    struct fv_sample pend[FV_PENDING];
    int pend_n, pend_pos;
    double t_next_sample;
    double e_now;                /* effort now (N), NAN: not read yet */
};

void fv_model_init(struct fv_model *m, const struct fv_params *p);

/* Forget the patient (a new session, another patient): back to the prior. */
void fv_model_reset(struct fv_model *m);

/* A stroke began at t (contact). */
void fv_model_contact(struct fv_model *m, double t);

/* The stroke ended (released, or aborted): learn from it if it was whole. */
void fv_model_release(struct fv_model *m, bool whole);

/* One tick at t: filtered force (N), belt speed (m/s, the best known: measured, or the
 * command). Returns the speed to aim at (m/s), or NAN: no plausible model. */
double fv_model_speed(struct fv_model *m, double t, double force, double v_belt);

double fv_model_slope(const struct fv_model *m);          /* N/(m/s) */
double fv_model_effort_next(const struct fv_model *m);    /* N, NAN before any stroke */
double fv_model_effort_now(const struct fv_model *m);     /* N, NAN when not loaded/read */

#endif
