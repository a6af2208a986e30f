/* rep.h - the rep detector: finds strokes in the force signal and judges each one.
 *
 * A stroke starts when filtered force rises above contact_n and ends when it falls
 * below release_n (release_n < contact_n: hysteresis, so noise at the threshold makes
 * one stroke, not several). While loaded, the foot travels with the belt: travel is
 * the integral of belt speed over the stroke. Time in band is measured from the
 * moment force first reaches [force_low, force_high] until release; its share is
 *     in_band_s / (t_end - t_first_in_band)     (0 if force never reached the band).
 * A stroke counts as a rep only if duration >= min_stroke_s, travel >= min_travel_m
 * and in_band_share >= min_in_band; otherwise it is rejected with the first failing
 * reason in that order. Per-stroke figures: peak and mean force, travel, duration,
 * time in band, eccentric work (integral of force x belt speed, J).
 *
 * Pure logic: time is passed in, nothing is allocated.
 */
#ifndef ECC_REP_H
#define ECC_REP_H

#include <stdbool.h>

enum rep_verdict {
    REP_COUNTED = 0,
    REP_TOO_SHORT,           /* duration < min_stroke_s */
    REP_TOO_LITTLE_TRAVEL,   /* travel < min_travel_m */
    REP_OUT_OF_BAND,         /* in_band_share < min_in_band */
    REP_ABORTED,             /* cut off by a stop or fault before release */
    REP_VERDICT_COUNT
};

/* Stable lower-case names used in logs: "counted", "too_short", "too_little_travel",
 * "out_of_band", "aborted". */
const char *rep_verdict_name(enum rep_verdict v);

struct rep_params {
    double contact_n, release_n;     /* N */
    double force_low, force_high;    /* N, the band */
    double min_stroke_s;             /* s */
    double min_travel_m;             /* m */
    double min_in_band;              /* 0..1 */
};

struct rep_figures {
    double t_start, t_end;           /* s: contact, release */
    double duration_s;
    double travel_m;
    double peak_n, mean_n;
    double t_first_band;             /* s, -1 if the band was never reached */
    double in_band_s;
    double in_band_share;            /* 0..1 */
    double work_j;
    enum rep_verdict verdict;
};

struct rep_det {                     /* fields are private to rep.c */
    struct rep_params p;
    bool loaded;
    struct rep_figures cur;          /* accumulating stroke */
    double force_sum_dt;             /* integral of force, for the mean */
};

enum rep_event { REP_EV_NONE = 0, REP_EV_CONTACT, REP_EV_RELEASE };

void rep_init(struct rep_det *r, const struct rep_params *p);

/* One tick of dt seconds ending at time t: filtered force (N), belt speed (m/s).
 * Returns REP_EV_CONTACT when a stroke starts, REP_EV_RELEASE when one ends (then
 * *out holds its judged figures), else REP_EV_NONE. */
enum rep_event rep_update(struct rep_det *r, double t, double force, double speed, double dt,
                          struct rep_figures *out);

/* A stop or fault cut the stroke off. Returns true (and *out, verdict REP_ABORTED)
 * if a stroke was in progress; the detector is then idle. */
bool rep_abort(struct rep_det *r, double t, struct rep_figures *out);

bool rep_loaded(const struct rep_det *r);             /* a stroke is in progress */
bool rep_reached_band(const struct rep_det *r);       /* ... and force has reached the band */
double rep_stroke_time(const struct rep_det *r, double t); /* s since contact, 0 if unloaded */

#endif
