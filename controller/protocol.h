/* protocol.h - sets and sessions: the 3 x 15 eccentric protocol as a state machine.
 *
 *   IDLE --start--> SET_RUNNING --rep counted, reps_per_set reached-->
 *        REST (belt stopped, timer rest_s) --timer--> READY --start/next-set--> SET_RUNNING
 *        ... after sets_per_session sets: SESSION_DONE --start--> SET_RUNNING (new session)
 *   SET_RUNNING --stop--> PAUSED --start--> SET_RUNNING (same set, counted reps kept)
 *   REST --next-set--> SET_RUNNING (the operator may cut the rest short)
 *
 * The belt never starts by itself: every move into SET_RUNNING is an explicit
 * command. Safety faults are the supervisor's (safety.h); the controller calls
 * proto_command(STOP) when one latches.
 *
 * Pure logic: time is passed in, nothing is allocated.
 */
#ifndef ECC_PROTOCOL_H
#define ECC_PROTOCOL_H

#include <stdbool.h>

enum proto_state {
    PROTO_IDLE = 0,
    PROTO_SET_RUNNING,
    PROTO_REST,
    PROTO_READY,
    PROTO_PAUSED,
    PROTO_SESSION_DONE,
    PROTO_STATE_COUNT
};

enum proto_cmd { PROTO_CMD_START = 0, PROTO_CMD_STOP, PROTO_CMD_NEXT_SET };

enum proto_result {
    PROTO_OK = 0,
    PROTO_REFUSED_RESTING,      /* start during the rest timer (next-set skips it) */
    PROTO_REFUSED_STATE,        /* command makes no sense in this state */
};

enum proto_event { PROTO_EV_NONE = 0, PROTO_EV_SET_DONE, PROTO_EV_SESSION_DONE, PROTO_EV_REST_OVER };

struct proto_params {
    int reps_per_set;           /* >= 1 */
    int sets_per_session;       /* >= 1 */
    double rest_s;              /* >= 0 */
};

struct proto {                  /* fields are private to protocol.c */
    struct proto_params p;
    enum proto_state state;
    int session;                /* sessions started, 1-based once started; 0 before */
    int set;                    /* current (or last) set, 1-based; 0 before the first */
    int reps;                   /* counted reps in the current set */
    double rest_until;          /* s */
};

/* Stable lower-case names: "idle", "set_running", "rest", "ready", "paused", "session_done". */
const char *proto_state_name(enum proto_state s);

void proto_init(struct proto *p, const struct proto_params *params);

/* An operator command at time now. */
enum proto_result proto_command(struct proto *p, enum proto_cmd cmd, double now);

/* Restore an interrupted session after a restart: set (1-based) with reps counted. With
 * reps < reps_per_set it waits PAUSED in that set; with the set complete, READY for the
 * next one (no rest timer). The session counts as the first since start-up. The caller
 * checks the ranges (ctl_resume). */
void proto_resume(struct proto *p, int set, int reps);

/* End the session between its sets (REST or READY -> SESSION_DONE): the programme's
 * pain rule (progression.h). Returns true if it ended; false in any other state. */
bool proto_end_session(struct proto *p);

/* A rep was counted at time now (only meaningful in SET_RUNNING). Returns
 * PROTO_EV_SET_DONE or PROTO_EV_SESSION_DONE when that rep completed one. */
enum proto_event proto_rep_counted(struct proto *p, double now);

/* Advance timers; returns PROTO_EV_REST_OVER when the rest ends (REST -> READY). */
enum proto_event proto_tick(struct proto *p, double now);

enum proto_state proto_state(const struct proto *p);
bool proto_belt_should_run(const struct proto *p);   /* true only in SET_RUNNING */
int proto_session(const struct proto *p);
int proto_set(const struct proto *p);
int proto_reps(const struct proto *p);
double proto_rest_left(const struct proto *p, double now);  /* s, 0 unless resting */

#endif
