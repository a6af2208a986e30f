/* protocol.c - sets and sessions as a state machine (see protocol.h).
 *
 * Every transition into SET_RUNNING comes from proto_command(): the belt never
 * starts by itself. Timers only move REST to READY, which still waits for the
 * operator.
 */
#include "controller/protocol.h"

static const char *const state_names[PROTO_STATE_COUNT] = {
    [PROTO_IDLE] = "idle",
    [PROTO_SET_RUNNING] = "set_running",
    [PROTO_REST] = "rest",
    [PROTO_READY] = "ready",
    [PROTO_PAUSED] = "paused",
    [PROTO_SESSION_DONE] = "session_done",
};

const char *proto_state_name(enum proto_state s)
{
    if ((unsigned)s >= PROTO_STATE_COUNT)
        return "unknown";
    return state_names[s];
}

void proto_init(struct proto *p, const struct proto_params *params)
{
    p->p = *params;
    p->state = PROTO_IDLE;
    p->session = 0;
    p->set = 0;
    p->reps = 0;
    p->rest_until = 0.0;
}

static void begin_session(struct proto *p)
{
    p->session++;
    p->set = 1;
    p->reps = 0;
    p->state = PROTO_SET_RUNNING;
}

static void begin_next_set(struct proto *p)
{
    p->set++;
    p->reps = 0;
    p->state = PROTO_SET_RUNNING;
}

static enum proto_result command_start(struct proto *p)
{
    switch (p->state) {
    case PROTO_IDLE:
    case PROTO_SESSION_DONE:
        begin_session(p);
        return PROTO_OK;
    case PROTO_READY:
        begin_next_set(p);
        return PROTO_OK;
    case PROTO_PAUSED:                  /* same set, counted reps kept */
        p->state = PROTO_SET_RUNNING;
        return PROTO_OK;
    case PROTO_REST:
        return PROTO_REFUSED_RESTING;
    case PROTO_SET_RUNNING:
    default:
        return PROTO_REFUSED_STATE;
    }
}

/* Stop is never refused: the safety path calls it on every fault, and in every
 * state but SET_RUNNING the belt is already stopped. A rest timer keeps running. */
static enum proto_result command_stop(struct proto *p)
{
    if (p->state == PROTO_SET_RUNNING)
        p->state = PROTO_PAUSED;
    return PROTO_OK;
}

static enum proto_result command_next_set(struct proto *p)
{
    if (p->state != PROTO_REST && p->state != PROTO_READY)
        return PROTO_REFUSED_STATE;
    begin_next_set(p);
    return PROTO_OK;
}

enum proto_result proto_command(struct proto *p, enum proto_cmd cmd, double now)
{
    (void)now;   /* no command depends on the time yet; kept for the log and future rules */
    switch (cmd) {
    case PROTO_CMD_START:
        return command_start(p);
    case PROTO_CMD_STOP:
        return command_stop(p);
    case PROTO_CMD_NEXT_SET:
        return command_next_set(p);
    default:
        return PROTO_REFUSED_STATE;
    }
}

bool proto_end_session(struct proto *p)
{
    if (p->state != PROTO_REST && p->state != PROTO_READY)
        return false;
    p->state = PROTO_SESSION_DONE;
    return true;
}

enum proto_event proto_rep_counted(struct proto *p, double now)
{
    if (p->state != PROTO_SET_RUNNING)
        return PROTO_EV_NONE;
    p->reps++;
    if (p->reps < p->p.reps_per_set)
        return PROTO_EV_NONE;
    if (p->set >= p->p.sets_per_session) {
        p->state = PROTO_SESSION_DONE;
        return PROTO_EV_SESSION_DONE;
    }
    p->state = PROTO_REST;
    p->rest_until = now + p->p.rest_s;
    return PROTO_EV_SET_DONE;
}

enum proto_event proto_tick(struct proto *p, double now)
{
    if (p->state != PROTO_REST || now < p->rest_until)
        return PROTO_EV_NONE;
    p->state = PROTO_READY;
    return PROTO_EV_REST_OVER;
}

enum proto_state proto_state(const struct proto *p)
{
    return p->state;
}

bool proto_belt_should_run(const struct proto *p)
{
    return p->state == PROTO_SET_RUNNING;
}

int proto_session(const struct proto *p)
{
    return p->session;
}

int proto_set(const struct proto *p)
{
    return p->set;
}

int proto_reps(const struct proto *p)
{
    return p->reps;
}

double proto_rest_left(const struct proto *p, double now)
{
    if (p->state != PROTO_REST || !(now < p->rest_until))
        return 0.0;
    return p->rest_until - now;
}

void proto_resume(struct proto *p, int set, int reps)
{
    p->session = 1;
    p->set = set;
    p->reps = reps < p->p.reps_per_set ? reps : 0;
    p->state = reps < p->p.reps_per_set ? PROTO_PAUSED : PROTO_READY;
    p->rest_until = 0.0;
}
