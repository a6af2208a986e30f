/* athlete.h - the simulated patient: performs eccentric strokes on the belt.
 *
 * The athlete waits for the belt to run steadily, places the foot (force ramps up
 * over place_s), resists while the belt carries the foot forward, and lifts the
 * foot (force ramps down over lift_s) once it has travelled its reach; it then
 * repositions for a while and goes again. The true force on the load cell is
 *     F = ramp x (athlete_force_model(effort, progress, v_react) + tremor)
 *     athlete_force_model = effort x shape(progress) + speed(v_react)
 *     speed(v) = speed_gain x v                                   (speed_law linear)
 *              = speed_gain x V_REF x (v / V_REF)^speed_exp        (speed_law power)
 * with V_REF = ATHLETE_V_REF (0.3 m/s; the two laws agree there) and v_react the belt
 * speed reaction_s ago (the patient's neuromuscular delay: the speed-dependent part of
 * the force answers a belt speed change that late). Eccentric force rises with
 * lengthening speed; the power law is concave, like Hill's eccentric branch: it rises
 * steeply from standstill and flattens at speed. effort varies from stroke to stroke
 * by +-effort_var, fades by fatigue_per_rep within a set (recovered in the rest) and
 * by fatigue_per_set across a session. Some strokes (partial_prob) are cut short at
 * partial_reach_m.
 *
 * Pre-drawn strokes: the next stroke's random parts (effort factor, reach, partial
 * flag, tremor phase) are drawn as soon as the previous stroke begins lifting (and at
 * creation), so an oracle can know the stroke before it lands (athlete_next_effort()).
 * Fatigue is applied at placing time, from the set and stroke counts then. The athlete also presses the start button: start_delay_s after the
 * simulation begins, rest_wait_s after the belt stopped between sets, session_gap_s
 * after the last set of a session (it counts belt start/stop cycles to know which),
 * and again every 2 s while the belt stays stopped, until it has done its sessions.
 *
 * reactive (set when eccd runs control.mode = reactive: the belt moves only while the
 * foot loads it): the athlete places the foot on a STOPPED belt while a set it started
 * may be running, and holds it loaded; if the belt has not started within
 * REACTIVE_WAIT_S it lifts the foot and tries again after its reposition time. Such an
 * attempt is not recorded as a stroke (no belt travelled: nothing happened). The short
 * stops between reactive strokes are not the end of a set: a set cycle ends only once
 * the belt has been stopped for REACTIVE_STOP_CONFIRM_S.
 *
 * Ground truth: each stroke is recorded and judged on the TRUE force and the TRUE
 * belt travel with the judge's thresholds (the same numbers the controller is
 * configured with, but never the controller's measurements or opinion).
 * A stroke begins when true force rises above contact_n and ends when it falls below
 * release_n. Its in-band share is strict, the clinical definition the controller also
 * uses: over the loaded window from t_contact + landing_s (the foot has landed) until
 * t_lift (the foot starts to lift), the time with true force inside
 * [force_low, force_high] divided by the window's length; time below the floor counts
 * as out, and an empty window gives 0.
 *
 * Deterministic: all randomness comes from the seed passed to athlete_open().
 */
#ifndef ECC_ATHLETE_H
#define ECC_ATHLETE_H

#include <stdbool.h>
#include <stddef.h>

#define ATHLETE_V_REF 0.3        /* m/s, where the power law equals the linear one */

enum athlete_speed_law {
    ATHLETE_LAW_LINEAR,          /* speed_gain x v */
    ATHLETE_LAW_POWER,           /* speed_gain x V_REF x (v / V_REF)^speed_exp */
};

struct athlete_params {
    char name[32];
    double effort_n;             /* N, mean effort (the speed-independent part) */
    double effort_var;           /* fraction, uniform +- stroke-to-stroke variation */
    double fatigue_per_rep;      /* fraction of effort lost per stroke within a set */
    double fatigue_per_set;      /* fraction lost per completed set within a session */
    double speed_gain;           /* N per m/s of belt speed (power law: the slope of the
                                    chord from 0 to V_REF) */
    int speed_law;               /* enum athlete_speed_law; scenario key: linear, power */
    double speed_exp;            /* power law exponent (< 1: concave) */
    double reaction_s;           /* s, the speed term follows the belt speed this late */
    int effort_scales_speed;     /* 0/1: the stroke's effort scales the speed term too (the
                                    muscle's activation scales its whole force-velocity
                                    curve): a strong stroke is strong at every speed */
    double shape_slope;          /* effort rises from (1 - s/2) to (1 + s/2) through a stroke */
    double tremor_n;             /* N, amplitude of the force ripple */
    double tremor_hz;            /* Hz */
    double reach_m;              /* m, travel of a full stroke */
    double reach_var_m;          /* m, uniform +- */
    double partial_prob;         /* 0..1, chance a stroke is cut short */
    double partial_reach_m;      /* m, travel of a partial stroke */
    double place_s;              /* s, force ramp-up */
    double lift_s;               /* s, force ramp-down */
    double reposition_min_s;     /* s, foot off the belt between strokes */
    double reposition_max_s;
    double spike_rate_hz;        /* load-cell glitch spikes per second (the rig applies them) */
    double spike_n;              /* N, glitch height */
    double start_delay_s;        /* s */
    double rest_wait_s;          /* s */
    double session_gap_s;        /* s */
    int sets_per_session;
    int sessions;                /* sessions to perform, then stop pressing start */
    double give_up_s;            /* s, a start pressed this long without the belt running
                                    ends the athlete's session (0: never gives up) */
    /* The twelve weeks (sim/patient.c): with programme_days > 0 the patient comes by the
     * clock (UTC hours of the day, from sim.wall_start) instead of start_delay_s and
     * session_gap_s, enters a pain score after each set and a morning score each day,
     * and its tendon's tolerance answers the load. */
    int programme_days;          /* days of the programme (0: off) */
    double session1_h, session2_h;  /* h, the day's sessions (UTC) */
    double morning_h;            /* h, the morning check-in (UTC) */
    double skip_prob;            /* 0..1, chance a planned session is skipped */
    double skip_day_prob;        /* 0..1, chance a whole day is skipped (no morning either) */
    double tolerance_n;          /* N, peak force the tendon takes without pain, at first */
    double tolerance_growth;     /* share it grows after a session within it */
    double overload_loss;        /* share lost per share the session went over it */
    double pain_base;            /* set pain at or under the tolerance */
    double pain_gain;            /* pain points per 10% over the tolerance */
    double pain_noise;           /* standard deviation of the set pain */
    double morning_base;         /* the morning score with no irritation */
    double morning_noise;        /* standard deviation of the morning score */
    double irritation_gain;      /* morning points added per 10% of overload */
    double irritation_decay;     /* share of the irritation gone each day */
    int reactive;                /* 0/1: the belt waits for the foot (see above); set by
                                    the rig's builder from control.mode, not a scenario */
};

/* The judge's thresholds, copied from the config by whoever builds the rig. */
struct athlete_judge {
    double contact_n, release_n;
    double force_low, force_high;
    double min_stroke_s, min_travel_m, min_in_band;
    double landing_s;            /* s, after contact the foot is still landing: the judged
                                    window starts this much later (rep.landing_s) */
};

struct stroke_record {
    int index;                   /* 0-based, in order performed */
    int session;                 /* 1-based */
    bool partial;                /* the athlete meant to cut it short */
    double t_contact, t_release; /* s, true force crossing contact_n / release_n */
    double t_lift;               /* s, the athlete began lifting (= t_release if it never
                                    lifted before the force fell below release_n) */
    double duration_s;
    double travel_m;             /* true belt travel while loaded */
    double peak_n;               /* true peak force */
    double effort_n;             /* N, the stroke's effort (after fatigue) */
    double t_first_band;         /* s, -1 if never reached (informative, not judged) */
    double in_band_s;            /* s, in band anywhere from contact to release (informative) */
    double window_s;             /* s, the judged window: t_contact + landing_s .. t_lift
                                    (0 if empty) */
    double window_in_band_s;     /* s, in band within that window */
    double in_band_share;        /* 0..1, window_in_band_s / window_s (0: empty window) */
    bool valid;                  /* judged on the truth (duration, travel, in_band_share) */
};

#define ATHLETE_BTN_START 1u

struct athlete;

/* Defaults: the "normal" athlete. */
void athlete_defaults(struct athlete_params *p);

/* Load a scenario INI ([athlete] section, keys named as the fields above) on top of
 * defaults. Unknown keys and bad values are refused: "FILE:LINE: key: what". */
int athlete_load(struct athlete_params *p, const char *path, char *err, size_t errlen);

/* Allocates; room for max_strokes records (later strokes are performed but not
 * recorded, and athlete_strokes_dropped() says how many). Returns NULL on ENOMEM. */
struct athlete *athlete_open(const struct athlete_params *p, const struct athlete_judge *j,
                            unsigned seed, int max_strokes);
void athlete_close(struct athlete *a);

/* Advance by dt to time t with the belt at v_belt (m/s). Returns the true foot force
 * (N, >= 0); ORs ATHLETE_BTN_* presses into *buttons. */
double athlete_step(struct athlete *a, double t, double dt, double v_belt, unsigned *buttons);

/* Earliest time > t at which the athlete may do anything while the belt stays still
 * (press a button); lets the rig skip quiet stretches. */
double athlete_next_event(const struct athlete *a, double t);

bool athlete_loaded(const struct athlete *a);        /* foot on the belt */

/* The driver of a programme patient (sim/patient.c) uses these: */
/* Come for a session: press start at t (ignored while a session is under way). */
void athlete_session_press(struct athlete *a, double t);
/* Between sessions: no set begun, none waiting. */
bool athlete_between_sessions(const struct athlete *a);
/* Set cycles finished so far, and the mean true peak force of the latest one (N). */
int athlete_cycles(const struct athlete *a);
double athlete_last_set_peak(const struct athlete *a);
/* Sessions finished or given up so far. */
int athlete_sessions_over(const struct athlete *a);

/* The effort (N, after fatigue) of the stroke the athlete has placed or will place
 * next: while the foot is going down or resisting, the current stroke's; from the
 * moment it begins lifting (and before the first stroke), the next one's, whose random
 * factor is already drawn and whose fatigue is computed from the counts now. That
 * forecast is exactly the effort the stroke is placed with, unless a set cycle ends
 * first (the belt stopped for the set's end: the fatigue counts change) - a stroke on
 * a running belt is never placed across one. A reactive attempt the belt never
 * answered is retried with the same draw. Returns false only if a or effort_n is NULL. */
bool athlete_next_effort(const struct athlete *a, double *effort_n);

/* The noise-free, full-weight force of the athlete's law (N): effort_n x shape(progress)
 * + speed(v_belt), progress 0..1 along the reach (clamped), v_belt in m/s (<= 0: no
 * speed term). No ramp, tremor or reaction delay: the caller passes the speed the force
 * answers. For an oracle controller to invert. */
double athlete_force_model(const struct athlete_params *p, double effort_n, double progress,
                           double v_belt);
const struct stroke_record *athlete_strokes(const struct athlete *a, int *n);
int athlete_strokes_dropped(const struct athlete *a);

#endif
