/* ctl.h - the controller: one tick turns sensor readings and operator commands into
 * a belt-speed command, counting reps and watching safety on the way.
 *
 * It composes the pure-logic modules: force filter, speed estimate, band controller,
 * rep detector, protocol state machine and safety supervisor. Everything it needs
 * lives inside struct ctl (no allocation, ever); time comes in with the input.
 * What happened (reps, rejected strokes, sets, faults, commands) is queued as events
 * for the caller to log; the queue holds CTL_EVENTS and counts what it had to drop.
 *
 * Each tick, in order:
 *   1. new load-cell samples -> filter; new belt pulses -> speed estimate;
 *   2. operator commands (reset, stop, start, next set);
 *   3. safety check: a new fault stops the protocol, aborts the stroke, commands zero;
 *   4. rest timer;
 *   5. rep detection while a set runs; a counted rep may end the set or session;
 *   6. band controller -> commanded speed.
 */
#ifndef ECC_CTL_H
#define ECC_CTL_H

#include <stdbool.h>

#include "config/config.h"
#include "hal/hal.h"
#include "controller/band_ctl.h"
#include "controller/belt_speed.h"
#include "controller/filter.h"
#include "controller/fv_model.h"
#include "controller/preflight.h"
#include "controller/progression.h"
#include "controller/protocol.h"
#include "controller/rep.h"
#include "controller/safety.h"
#include "controller/schedule.h"
#include "controller/speed_est.h"

#define CTL_EVENTS 64
/* After an operator reset the drive's own trip flag is not believed for this long: the
 * reset reaches the drive over the bus some ticks later, and a status read before then
 * still says "tripped". A trip still there after it latches again. */
#define CTL_DRIVE_RESET_GRACE_S 0.5
/* The force-speed slopes the model believes (N per m/s); outside them it falls back. */
#define CTL_SLOPE_MIN 20.0
#define CTL_SLOPE_MAX 1500.0
/* The drive's ramp is measured while it lags the command by the lead margin: over
 * CTL_RAMP_WINDOW_S of such lagging, a belt that gained less than CTL_RAMP_SLOW of the
 * configured ramp is a slower drive than its config says. */
#define CTL_RAMP_WINDOW_S 0.5
#define CTL_RAMP_SLOW 0.8
#define CTL_RAMP_FLOOR 0.02     /* m/s^2: a measured ramp is never believed below this */

enum ctl_cmd { CTL_CMD_START = 0, CTL_CMD_STOP, CTL_CMD_NEXT_SET, CTL_CMD_RESET, CTL_CMD_COUNT };

enum ctl_cmd_result {
    CTL_OK = 0,
    CTL_REFUSED_FAULT,          /* a fault is latched: reset first */
    CTL_REFUSED_RESTING,        /* the rest timer runs (next-set skips it) */
    CTL_REFUSED_STATE,          /* makes no sense now */
    CTL_REFUSED_CAUSE,          /* reset refused: the fault's cause is still present */
    CTL_REFUSED_SCHEDULE,       /* a new session now breaks the day's schedule (schedule.h);
                                   the COMMAND event says why and how long to wait */
    CTL_REFUSED_PREFLIGHT,      /* a pre-flight check fails (preflight.h): the COMMAND
                                   event says which and the belt does not move */
};

/* A pre-flight verdict is reported (CTL_EV_PREFLIGHT) once it has held this long: a force
 * flickering about contact_n must not fill the log. */
#define CTL_PREFLIGHT_SETTLE_S 0.5
/* Room for the HAL's words on what a part's link said (struct ctl_event cause). */
#define CTL_CAUSE_MAX 192

enum ctl_event_kind {
    CTL_EV_REP = 0,             /* a counted rep */
    CTL_EV_REJECT,              /* a stroke that did not count, with its verdict */
    CTL_EV_SET,                 /* a set finished */
    CTL_EV_SESSION,             /* a session finished */
    CTL_EV_FAULT,               /* a fault latched */
    CTL_EV_RESET,               /* a fault was cleared by the operator */
    CTL_EV_COMMAND,             /* an operator command and what became of it */
    CTL_EV_SESSION_START,       /* a new session began (patient says whose) */
    CTL_EV_SET_START,           /* a set began, or went on after a restart (resumed;
                                   rep = reps it already had) */
    CTL_EV_DRIVE_SLOW,          /* the drive ramps slower than drive.accel_time_s says:
                                   value = measured, limit = configured (m/s^2); the
                                   command is held to the measured ramp from now on */
    CTL_EV_PREFLIGHT,           /* the pre-flight verdict changed while nothing moves:
                                   preflight (PREFLIGHT_OK: ready again), value measured */
    CTL_EV_PROGRESSION,         /* the programme stepped, held or flagged (progression.h):
                                   prog, level_from/to, band_low/high, cause = the reason */
    CTL_EV_CHECKIN,             /* a check-in to store: checkin, value = its score */
};

/* Check-ins the programme's rules hear (ctl_checkin). */
enum ctl_checkin {
    CTL_CHECKIN_PAIN = 0,       /* after a set, 0..10, on the latest set */
    CTL_CHECKIN_MORNING,        /* next morning, the meaningful task, 0..10 */
};

_Static_assert(PROG_REASON_MAX <= CTL_CAUSE_MAX, "a progression reason fits the event's cause");

struct ctl_set_summary {
    int counted, rejected;
    int by_verdict[REP_VERDICT_COUNT];
    double in_band_share;       /* time in band / time from first reaching it to release,
                                   over every stroke of the set that reached the band */
    double duration_s;          /* from the set's start to its last rep */
};

struct ctl_event {
    enum ctl_event_kind kind;
    double t;                   /* s */
    int session, set;
    int rep;                    /* counted reps in the set (after this one, for REP) */
    int stroke;                 /* strokes seen in the session, 1-based */
    struct rep_figures fig;     /* REP, REJECT */
    double set_s;               /* REP, REJECT: how long the set has run (s, from its start;
                                   a resumed set counts its time before the restart too) */
    struct ctl_set_summary sum; /* SET; SESSION uses counted/rejected over the session */
    int sets;                   /* SESSION */
    enum fault fault;           /* FAULT, RESET */
    double value, limit;        /* FAULT */
    enum ctl_cmd cmd;           /* COMMAND */
    enum ctl_cmd_result result; /* COMMAND */
    enum sched_verdict sched;   /* COMMAND refused by the schedule: which rule */
    double wait_s;              /* ... and how long until a session is allowed (s) */
    double wall;                /* UTC, s since 1970, when it happened (0: no wall clock) */
    long patient;               /* the patient whose session this is (0: none chosen) */
    bool resumed;               /* SESSION_START, SET_START: carried on after a restart */
    enum preflight_verdict preflight;   /* PREFLIGHT, COMMAND refused by it */
    char cause[CTL_CAUSE_MAX];  /* FAULT, PREFLIGHT, refused COMMAND: what the part's link
                                   said, filled in by the loop from the HAL ("" none);
                                   PROGRESSION: the decision's reason */
    double band_low, band_high; /* SESSION_START: the session's band; PROGRESSION: after it */
    enum prog_kind prog;        /* PROGRESSION */
    int level_from, level_to;   /* PROGRESSION */
    enum ctl_checkin checkin;   /* CHECKIN */
};

struct ctl_input {
    double now;                 /* s */
    int n_force;                /* new load-cell samples */
    const double *force_t, *force_n;
    int n_pulses;               /* new belt pulses */
    const double *pulse_t;
    bool estop;                 /* e-stop / safety key active */
    unsigned pressed;           /* HAL_BTN_* presses since the last tick */
    struct hal_drive_status drive;  /* the drive's latest report (present = false: none) */
    double late_s;              /* s this tick started after it was due (the loop measures) */
    double wall;                /* UTC, s since 1970 (hal_clock.wall; 0: none) */
    int utc_offset_s;           /* local time = wall + utc_offset_s (for the day's boundary) */
};

/* What the actuators are to do after a tick: everything the loop applies, decided here so
 * that it is tested at tick level. */
struct ctl_output {
    double speed;               /* m/s to command (0: stop, on the drive's ramp) */
    bool coast;                 /* a fault latched this tick and drive.stop_mode = coast: stop
                                   the drive the way it coasts (hal_drive_fault_stop) */
    bool drive_reset;           /* the operator's reset was taken (this tick or by eccctl just
                                   before it): pass it to the drive's own trip and re-arm the
                                   drive-enable dead-man */
    bool enable;                /* the drive-enable output may be held (nothing is latched) */
};

/* A patient's own settings: each NAN means the config's. They may only narrow what the
 * config allows: speed_max and force_abort are capped at the config's values, and the
 * band must lie inside [contact_n, force_abort). */
struct ctl_patient {
    long id;                    /* 0: no patient (the config's settings) */
    double force_low, force_high;   /* N, the band */
    double speed_max;           /* m/s */
    double force_abort;         /* N */
};

/* Where an interrupted session stood (from the history), to go on from there: numbering
 * goes on after its strokes, and the set in progress, its figures and the session's
 * totals go on from what was recorded before the restart. */
struct ctl_resume {
    int set;                    /* 1-based set in progress (or last finished) */
    int reps;                   /* reps counted in it (reps_per_set: it had finished) */
    double session_start_wall;  /* UTC s, when the session began */
    int strokes;                /* the session's strokes so far (the highest number) */
    /* The set in progress (ignored when it had finished): */
    int rejected[REP_VERDICT_COUNT];    /* its rejected strokes by verdict */
    double in_band_s, window_s; /* its strokes' time in band over their loaded windows (s) */
    double set_s;               /* how long it had run, to its latest stroke (s) */
    /* The session's finished sets: */
    int done_counted, done_rejected;
};

/* Live status for eccctl (a copy; filled by ctl_status). */
struct ctl_status {
    double now, wall;
    const char *state;          /* ctl_state_name: protocol state or "fault" */
    enum fault fault;
    double fault_value, fault_limit;
    double speed, speed_cmd;    /* m/s */
    double force;               /* N, filtered */
    double band_low, band_high; /* N, in force now (the patient's or the config's) */
    bool loaded;
    int session, set, reps;     /* reps counted in the current set */
    int reps_per_set, sets_per_session;
    double rest_left_s;
    long patient;
    int sessions_today;         /* sessions begun on this protocol day */
    double next_session_wait_s; /* 0: a new session may begin now */
    enum sched_verdict next_session;    /* what a new session would meet now */
    bool in_session;            /* a session is under way (or waits to be carried on) */
    enum preflight_verdict preflight;   /* what a start would meet now */
    double preflight_value;
    bool programme;             /* the patient has an active programme */
    int level;                  /* ... its level now */
    bool locked;                /* ... frozen */
};

struct ctl {                    /* fields are private to ctl.c */
    struct ecc_config cfg;
    double dt;
    struct force_filter filter;
    struct band_ctl band;
    struct fv_model fv;             /* the patient's force-speed model (fv_model.h) */
    struct rep_det rep;
    struct proto proto;
    struct safety safety;
    struct safety_input last_in;    /* the latest safety inputs (for resets and status) */
    struct sched sched;             /* the day's sessions (twice-daily rule) */
    struct ctl_patient patient;     /* in force (id 0: the config's settings) */
    struct ctl_patient base;        /* the config's own band and caps */
    struct prog prog;               /* the patient's programme (inactive: none) */
    double wall;                    /* UTC s at the latest tick (0: no wall clock) */
    int utc_offset_s;
    bool resumed;                   /* the next start carries on a restored session */
    double t_reset;                 /* s, the latest operator reset that cleared a fault */
    enum sched_verdict sched_verdict;   /* of the latest start's schedule check */
    double sched_wait_s;
    double now, force_raw, t_last_force, t_force_changed, speed, speed_drive, cmd;
    double t_last_pulse;            /* newest belt pulse, or drive speed reading (-1: none) */
    struct belt_speed belt;         /* pulses fused with the drive (belt_speed.h) */
    double speed_pulse;             /* m/s from pulse periods alone (NAN: no pulse sensor) */
    double pulse_dist, pulse_m;     /* m counted in pulses; m per pulse (0: no pulse sensor) */
    double lag_s, lag_dv, v_ref_prev;   /* the drive's ramp, measured while it lags */
    bool drive_slow_said;
    bool model_held;                /* restarted after a fault: no model until a contact */
    bool restart_from_min;          /* after a fault, the next start begins at speed_min */
    int stroke;                     /* strokes in this session */
    struct hal_drive_status drive_st;   /* the drive's latest report */
    enum preflight_verdict preflight;   /* now */
    double preflight_value;
    enum preflight_verdict preflight_said;  /* the latest reported (CTL_EV_PREFLIGHT) */
    double t_preflight_changed;     /* s, when the verdict last changed */
    double t_cmd_moving;            /* s, the latest tick that commanded motion */
    long force_samples, pulses;     /* load-cell samples and belt pulses taken since start */
    bool reset_pending;             /* an operator reset for the next output */
    bool coast_pending;             /* a coast stop for the next output */
    struct ctl_set_summary set_sum, session_sum;
    double set_t_start, set_band_s, set_band_span_s;
    double resume_set_s;            /* a resumed set's running time before the restart */
    struct ctl_event ev[CTL_EVENTS];
    int ev_head, ev_n;
    long ev_dropped;
};

void ctl_init(struct ctl *c, const struct ecc_config *cfg);
/* The programme's rules from the config's [progression]. */
void ctl_prog_rules(const struct ecc_config *cfg, struct prog_rules *r);

/* The verdict a start would meet now (preflight.h); PREFLIGHT_OK: ready. */
enum preflight_verdict ctl_preflight(const struct ctl *c);

/* Load-cell samples and belt pulses the controller has been given since ctl_init. */
long ctl_force_samples(const struct ctl *c);
long ctl_pulses(const struct ctl *c);

/* The time of the tick about to run, as the loop read it (ctl_tick sets the same): the
 * loop calls this first, so operator commands applied before the tick (eccctl's, through
 * ctl_command) and their events carry this tick's time and wall clock. */
void ctl_set_clock(struct ctl *c, double now, double wall, int utc_offset_s);

/* One control period: *out is what the actuators are to do (the speed, a coast stop, a
 * reset for the drive, the enable output). */
void ctl_step(struct ctl *c, const struct ctl_input *in, struct ctl_output *out);

/* ctl_step for callers that need only the speed (tests, benches): returns it. */
double ctl_tick(struct ctl *c, const struct ctl_input *in);

/* An operator command (also what the buttons do). Applied at once; the outcome is
 * returned and queued as a CTL_EV_COMMAND event. */
enum ctl_cmd_result ctl_command(struct ctl *c, enum ctl_cmd cmd, double now);

/* Choose the patient whose settings apply (band, caps) and whose sessions the day's
 * schedule counts: starts[i], ends[i] (UTC s; for one never finished, its latest activity;
 * < 0: unknown, the start is used) of their recent sessions, oldest first. Only while no session runs (idle or session done):
 * CTL_REFUSED_STATE otherwise, or when the patient's settings are out of bounds. */
enum ctl_cmd_result ctl_set_patient(struct ctl *c, const struct ctl_patient *p,
                                    const double *starts, const double *ends, int n);
const struct ctl_patient *ctl_patient(const struct ctl *c);

/* The selected patient's programme, prepared by the caller (prog_init, then what the
 * history holds: prog_restore_*); its band replaces the patient's from now on. After
 * ctl_set_patient, while no session runs: CTL_REFUSED_STATE otherwise, or when the
 * programme's band is out of the config's bounds. */
enum ctl_cmd_result ctl_set_programme(struct ctl *c, const struct prog *p);
const struct prog *ctl_programme(const struct ctl *c);

/* A check-in for the programme's rules at wall (UTC s). A pain score above the rule's
 * limit ends the running session between its sets. record: queue a CTL_EV_CHECKIN for
 * the history (false when the caller stored it already, as eccctl pain does). */
void ctl_checkin(struct ctl *c, enum ctl_checkin kind, int score, bool record);

/* Carry on an interrupted session after a restart: the protocol waits (paused) in the
 * set it was in with the reps it had (a finished set: ready for the next one), and the
 * next start goes on from there without counting a new session. Only while idle:
 * CTL_REFUSED_STATE otherwise or when r is out of range. */
enum ctl_cmd_result ctl_resume(struct ctl *c, const struct ctl_resume *r);

void ctl_status(const struct ctl *c, struct ctl_status *st);

/* Nothing moves or is about to: no set running, the belt commanded and measured still
 * for CTL_QUIET_AFTER_S, no stroke, no event or output pending. A simulated clock may
 * then jump (hal_clock.quiet_until) up to ctl_next_due. */
#define CTL_QUIET_AFTER_S 5.0
bool ctl_quiet(const struct ctl *c);
/* s on the loop's clock: the controller's next timed step (the rest's end, the next
 * protocol day for the programme's flags); INFINITY when none. */
double ctl_next_due(const struct ctl *c);

/* Take the oldest queued event; false when none. */
bool ctl_event_pop(struct ctl *c, struct ctl_event *ev);
long ctl_events_dropped(const struct ctl *c);

/* Status, for the trace and eccctl. */
const char *ctl_state_name(const struct ctl *c);   /* protocol state, or "fault" */
enum proto_state ctl_proto_state(const struct ctl *c);
enum fault ctl_fault(const struct ctl *c);
double ctl_force(const struct ctl *c);              /* N, filtered */
double ctl_force_raw(const struct ctl *c);          /* N, newest sample */
double ctl_speed(const struct ctl *c);              /* m/s, measured */
double ctl_speed_cmd(const struct ctl *c);          /* m/s, commanded */
bool ctl_loaded(const struct ctl *c);               /* a stroke is in progress */
int ctl_session(const struct ctl *c);
int ctl_set(const struct ctl *c);

const char *ctl_cmd_name(enum ctl_cmd cmd);            /* "start", "stop", "next_set", "reset" */
const char *ctl_result_name(enum ctl_cmd_result r);    /* "ok", "refused_fault", ... */

#endif
