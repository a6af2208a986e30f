/* rep.h - the rep detector: finds strokes in the force signal and judges each one.
 *
 * A stroke starts when filtered force rises above contact_n and ends when it falls
 * below release_n (release_n < contact_n: hysteresis, so noise at the threshold makes
 * one stroke, not several). While loaded, the foot travels with the belt: travel is
 * the integral of belt speed over the stroke.
 *
 * Time in band is judged the clinical way, over the stroke's LOADED WINDOW: from the
 * end of the landing (contact + landing_s) until the foot starts to lift. Time below
 * the floor counts as out, exactly like time above the top. Its share is
 *     in_band_s / window_s          (0 if the window is empty).
 * (the filtered force shows the foot's force filter_lag_s late: the band is judged on
 * it carried forward by its slope over that lag, and the window starts filter_lag_s
 * before contact + landing_s, contact having been seen that late). The lift start is
 * found at release by walking back from the release through the
 * stroke's last ticks while the force falls faster than REP_LIFT_SLOPE_NPS, judged over
 * REP_LIFT_SPAN_S at least (a load cell slower than the loop repeats a value; a foot
 * being lifted unloads in 0.1 to 0.3 s, many times faster than tremor, fatigue or a
 * belt-speed change move the force); at most REP_LIFT_MAX_S is walked back.
 *
 * A stroke counts as a rep only if duration >= min_stroke_s, travel >= min_travel_m
 * and in_band_share >= min_in_band; otherwise it is rejected with the first failing
 * reason in that order. A stroke that fails the band because no reachable speed could
 * have put it there gets its own reason, so "the patient pushed too hard" is told from
 * "the controller failed": if more than half of its out-of-band window was spent above
 * the band with the belt at its slowest (the caller says REP_AT_MIN) it is
 * above_band_at_min_speed; below the band at the fastest (REP_AT_MAX),
 * below_band_at_max_speed. Per-stroke figures: peak and mean force, travel, duration,
 * time in band, eccentric work (integral of force x belt speed, J).
 *
 * Pure logic: time is passed in, nothing is allocated.
 */
#ifndef ECC_REP_H
#define ECC_REP_H

#include <stdbool.h>

#define REP_LIFT_SLOPE_NPS 100.0    /* N/s: falling faster than this is the foot lifting */
#define REP_LIFT_MAX_S 0.6          /* s: the lift is looked for this far back at most */
#define REP_LIFT_SPAN_S 0.03        /* s: the fall is judged over at least this span */
#define REP_TAIL 512                /* ticks of the stroke's end kept to find the lift */

enum rep_verdict {
    REP_COUNTED = 0,
    REP_TOO_SHORT,           /* duration < min_stroke_s */
    REP_TOO_LITTLE_TRAVEL,   /* travel < min_travel_m */
    REP_OUT_OF_BAND,         /* in_band_share < min_in_band */
    REP_ABORTED,             /* cut off by a stop or fault before release */
    REP_ABOVE_AT_MIN,        /* out of band, mostly above it with the belt at speed_min */
    REP_BELOW_AT_MAX,        /* out of band, mostly below it with the belt at speed_max */
    REP_VERDICT_COUNT
};

/* Stable lower-case names used in logs: "counted", "too_short", "too_little_travel",
 * "out_of_band", "aborted", "above_band_at_min_speed", "below_band_at_max_speed". */
const char *rep_verdict_name(enum rep_verdict v);

/* Where the belt is this tick, as far as reaching the band goes. */
enum rep_limit { REP_FREE = 0, REP_AT_MIN, REP_AT_MAX };

struct rep_params {
    double contact_n, release_n;     /* N */
    double force_low, force_high;    /* N, the band */
    double min_stroke_s;             /* s */
    double min_travel_m;             /* m */
    double min_in_band;              /* 0..1 */
    double landing_s;                /* s, from contact to the start of the loaded window */
    double filter_lag_s;             /* s, how late the filtered force shows the foot's (0:
                                        judge the force as it comes) */
};

struct rep_figures {
    double t_start, t_end;           /* s: contact, release */
    double duration_s;
    double travel_m;
    double peak_n, mean_n;
    double t_first_band;             /* s, -1 if the band was never reached */
    double t_lift;                   /* s, the foot started to lift (the window's end) */
    double window_s;                 /* s, the loaded window: contact + landing_s .. t_lift */
    double in_band_s;                /* s in the band within the window */
    double in_band_share;            /* 0..1, in_band_s / window_s */
    double above_at_min_s;           /* s of the window above the band at speed_min */
    double below_at_max_s;           /* s of the window below the band at speed_max */
    double work_j;
    enum rep_verdict verdict;
};

struct rep_tick {                    /* one accumulated tick, kept to find the lift */
    double t, dt, force;
    unsigned char in_window, in_band, above_at_min, below_at_max;
};

struct rep_det {                     /* fields are private to rep.c */
    struct rep_params p;
    bool loaded;
    struct rep_figures cur;          /* accumulating stroke */
    double force_sum_dt;             /* integral of force, for the mean */
    struct rep_tick tail[REP_TAIL];  /* the newest accumulated ticks */
    int tail_pos, tail_n;
};

enum rep_event { REP_EV_NONE = 0, REP_EV_CONTACT, REP_EV_RELEASE };

void rep_init(struct rep_det *r, const struct rep_params *p);

/* One tick of dt seconds ending at time t: filtered force (N), belt speed (m/s), where
 * the belt stands against its limits. Returns REP_EV_CONTACT when a stroke starts,
 * REP_EV_RELEASE when one ends (then *out holds its judged figures), else REP_EV_NONE. */
enum rep_event rep_update(struct rep_det *r, double t, double force, double speed, double dt,
                          enum rep_limit lim, struct rep_figures *out);

/* A stop or fault cut the stroke off. Returns true (and *out, verdict REP_ABORTED)
 * if a stroke was in progress; the detector is then idle. */
bool rep_abort(struct rep_det *r, double t, struct rep_figures *out);

bool rep_loaded(const struct rep_det *r);             /* a stroke is in progress */
bool rep_reached_band(const struct rep_det *r);       /* ... and force has reached the band */
double rep_stroke_time(const struct rep_det *r, double t); /* s since contact, 0 if unloaded */

#endif
