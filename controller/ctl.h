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
#include "controller/filter.h"
#include "controller/protocol.h"
#include "controller/rep.h"
#include "controller/safety.h"
#include "controller/speed_est.h"

#define CTL_EVENTS 64

enum ctl_cmd { CTL_CMD_START = 0, CTL_CMD_STOP, CTL_CMD_NEXT_SET, CTL_CMD_RESET, CTL_CMD_COUNT };

enum ctl_cmd_result {
    CTL_OK = 0,
    CTL_REFUSED_FAULT,          /* a fault is latched: reset first */
    CTL_REFUSED_RESTING,        /* the rest timer runs (next-set skips it) */
    CTL_REFUSED_STATE,          /* makes no sense now */
    CTL_REFUSED_CAUSE,          /* reset refused: the fault's cause is still present */
};

enum ctl_event_kind {
    CTL_EV_REP = 0,             /* a counted rep */
    CTL_EV_REJECT,              /* a stroke that did not count, with its verdict */
    CTL_EV_SET,                 /* a set finished */
    CTL_EV_SESSION,             /* a session finished */
    CTL_EV_FAULT,               /* a fault latched */
    CTL_EV_RESET,               /* a fault was cleared by the operator */
    CTL_EV_COMMAND,             /* an operator command and what became of it */
};

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
    struct ctl_set_summary sum; /* SET; SESSION uses counted/rejected over the session */
    int sets;                   /* SESSION */
    enum fault fault;           /* FAULT, RESET */
    double value, limit;        /* FAULT */
    enum ctl_cmd cmd;           /* COMMAND */
    enum ctl_cmd_result result; /* COMMAND */
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
};

struct ctl {                    /* fields are private to ctl.c */
    struct ecc_config cfg;
    double dt;
    struct force_filter filter;
    struct speed_est speed_est;
    struct band_ctl band;
    struct rep_det rep;
    struct proto proto;
    struct safety safety;
    struct safety_input last_in;    /* the latest safety inputs (for resets and status) */
    double now, force_raw, t_last_force, t_force_changed, speed, speed_drive, cmd;
    double t_last_pulse;            /* newest belt pulse, or drive speed reading (-1: none) */
    bool restart_from_min;          /* after a fault, the next start begins at speed_min */
    int stroke;                     /* strokes in this session */
    struct ctl_set_summary set_sum, session_sum;
    double set_t_start, set_band_s, set_band_span_s;
    struct ctl_event ev[CTL_EVENTS];
    int ev_head, ev_n;
    long ev_dropped;
};

void ctl_init(struct ctl *c, const struct ecc_config *cfg);

/* One control period. Returns the belt speed to command (m/s, 0 = stop). */
double ctl_tick(struct ctl *c, const struct ctl_input *in);

/* An operator command (also what the buttons do). Applied at once; the outcome is
 * returned and queued as a CTL_EV_COMMAND event. */
enum ctl_cmd_result ctl_command(struct ctl *c, enum ctl_cmd cmd, double now);

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
