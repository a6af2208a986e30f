/* ctl.c - one control tick: compose the pure-logic modules (see ctl.h). */
#include "controller/ctl.h"

#include <math.h>
#include <string.h>

#include "hal/hal.h"

/* ---- event queue ---------------------------------------------------------------- */

static struct ctl_event *event_push(struct ctl *c, enum ctl_event_kind kind)
{
    struct ctl_event *ev;

    if (c->ev_n == CTL_EVENTS) {            /* full: drop the oldest, keep the newest */
        c->ev_head = (c->ev_head + 1) % CTL_EVENTS;
        c->ev_n--;
        c->ev_dropped++;
    }
    ev = &c->ev[(c->ev_head + c->ev_n) % CTL_EVENTS];
    c->ev_n++;
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->t = c->now;
    ev->session = proto_session(&c->proto);
    ev->set = proto_set(&c->proto);
    ev->rep = proto_reps(&c->proto);
    ev->stroke = c->stroke;
    return ev;
}

bool ctl_event_pop(struct ctl *c, struct ctl_event *ev)
{
    if (c->ev_n == 0)
        return false;
    *ev = c->ev[c->ev_head];
    c->ev_head = (c->ev_head + 1) % CTL_EVENTS;
    c->ev_n--;
    return true;
}

long ctl_events_dropped(const struct ctl *c)
{
    return c->ev_dropped;
}

/* ---- init ------------------------------------------------------------------------ */

static void init_modules(struct ctl *c, const struct ecc_config *cfg)
{
    /* The speed is held in the middle of the band, not all the way to its edges: a
     * controller that stops correcting at the edge parks the force there, where tremor
     * and noise take it out of the band half the time. */
    const double margin = cfg->control.hold_margin * (cfg->band.force_high - cfg->band.force_low);
    const struct band_ctl_params bp = {
        .mode = cfg->control.mode,
        .force_low = cfg->band.force_low + margin, .force_high = cfg->band.force_high - margin,
        .kp = cfg->control.kp, .ki = cfg->control.ki,
        .speed_min = cfg->limits.speed_min, .speed_max = cfg->limits.speed_max,
        .accel = cfg->limits.accel, .stop_decel = cfg->limits.stop_decel,
        .fixed_speed = cfg->control.fixed_speed,
        .engage = cfg->control.engage_n,
        .rollback_s = cfg->control.release_rollback_s,
        .dt = c->dt,
    };
    const struct rep_params rp = {
        .contact_n = cfg->rep.contact_n, .release_n = cfg->rep.release_n,
        .force_low = cfg->band.force_low, .force_high = cfg->band.force_high,
        .min_stroke_s = cfg->rep.min_stroke_s, .min_travel_m = cfg->rep.min_travel_m,
        .min_in_band = cfg->rep.min_in_band,
    };
    const struct proto_params pp = {
        .reps_per_set = cfg->protocol.reps_per_set,
        .sets_per_session = cfg->protocol.sets_per_session,
        .rest_s = cfg->protocol.rest_s,
    };
    const struct safety_params sp = {
        .force_abort = cfg->limits.force_abort,
        .speed_limit = cfg->limits.speed_max * (1.0 + cfg->limits.overspeed_margin),
        .force_stale_s = cfg->limits.force_stale_s,
        .speed_silent_s = cfg->limits.speed_silent_s,
        .silent_min_cmd = cfg->limits.speed_min / 2.0,
        .force_full_scale = cfg->loadcell.full_scale_n,
        .force_stuck_s = cfg->limits.force_stuck_s,
        .disagree_mps = cfg->limits.speed_disagree_mps,
        .disagree_s = cfg->limits.speed_disagree_s,
        .force_negative_n = cfg->limits.force_negative_n,
        .loop_late_s = cfg->limits.loop_late_s,
        .drift_n = cfg->limits.force_drift_n,
        .drift_window_s = cfg->limits.force_drift_s,
    };

    force_filter_init(&c->filter, cfg->filter.cutoff_hz, cfg->filter.spike_reject);
    speed_est_init(&c->speed_est, cfg->encoder.pulses_per_m, cfg->encoder.timeout_s);
    band_ctl_init(&c->band, &bp);
    rep_init(&c->rep, &rp);
    proto_init(&c->proto, &pp);
    safety_init(&c->safety, &sp);
}

void ctl_init(struct ctl *c, const struct ecc_config *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    c->dt = 1.0 / cfg->loop.rate_hz;
    c->t_last_force = -1.0;
    c->t_force_changed = -1.0;
    c->t_last_pulse = -1.0;
    c->speed_drive = NAN;
    init_modules(c, cfg);
}

/* ---- sets and strokes ------------------------------------------------------------ */

static void set_begin(struct ctl *c)
{
    memset(&c->set_sum, 0, sizeof c->set_sum);
    c->set_t_start = c->now;
    c->set_band_s = 0.0;
    c->set_band_span_s = 0.0;
}

static void session_begin(struct ctl *c)
{
    memset(&c->session_sum, 0, sizeof c->session_sum);
    c->stroke = 0;
}

/* Fold one judged stroke into the set's and session's tallies and queue its event. */
static void stroke_record(struct ctl *c, const struct rep_figures *fig)
{
    bool counted = fig->verdict == REP_COUNTED;
    struct ctl_event *ev;

    c->set_sum.by_verdict[fig->verdict]++;
    if (counted)
        c->set_sum.counted++;
    else
        c->set_sum.rejected++;
    if (fig->t_first_band >= 0.0) {
        c->set_band_s += fig->in_band_s;
        c->set_band_span_s += fig->t_end - fig->t_first_band;
    }
    ev = event_push(c, counted ? CTL_EV_REP : CTL_EV_REJECT);
    ev->fig = *fig;
    if (counted)
        ev->rep++;      /* proto_rep_counted() runs after this event is queued */
}

static void set_finished(struct ctl *c)
{
    struct ctl_event *ev = event_push(c, CTL_EV_SET);

    c->set_sum.in_band_share = c->set_band_span_s > 0.0 ? c->set_band_s / c->set_band_span_s : 0.0;
    c->set_sum.duration_s = c->now - c->set_t_start;
    ev->sum = c->set_sum;
    c->session_sum.counted += c->set_sum.counted;
    c->session_sum.rejected += c->set_sum.rejected;
}

static void session_finished(struct ctl *c)
{
    struct ctl_event *ev = event_push(c, CTL_EV_SESSION);

    ev->sum = c->session_sum;
    ev->sets = proto_set(&c->proto);
}

/* A stroke was cut off by a stop or a fault: it is recorded, never counted. */
static void stroke_abort(struct ctl *c)
{
    struct rep_figures fig;

    if (rep_abort(&c->rep, c->now, &fig))
        stroke_record(c, &fig);
}

static void stroke_released(struct ctl *c, const struct rep_figures *fig)
{
    enum proto_event pe;

    band_ctl_release(&c->band);
    stroke_record(c, fig);
    if (fig->verdict != REP_COUNTED)
        return;
    pe = proto_rep_counted(&c->proto, c->now);
    if (pe == PROTO_EV_NONE)
        return;
    band_ctl_stop(&c->band);
    set_finished(c);
    if (pe == PROTO_EV_SESSION_DONE)
        session_finished(c);
}

/* ---- commands -------------------------------------------------------------------- */

static enum ctl_cmd_result from_proto(enum proto_result r)
{
    switch (r) {
    case PROTO_OK: return CTL_OK;
    case PROTO_REFUSED_RESTING: return CTL_REFUSED_RESTING;
    case PROTO_REFUSED_STATE: return CTL_REFUSED_STATE;
    }
    return CTL_REFUSED_STATE;
}

/* Start or resume the belt. A new session starts at start_speed; a later set goes on
 * from the speed the last one held; after a fault the belt starts at speed_min. */
static void belt_start(struct ctl *c, enum proto_state before)
{
    double v0 = band_ctl_target(&c->band);

    if (before == PROTO_IDLE || before == PROTO_SESSION_DONE) {
        session_begin(c);
        v0 = c->cfg.control.start_speed;
    }
    if (before != PROTO_PAUSED)
        set_begin(c);
    if (c->restart_from_min)
        v0 = c->cfg.limits.speed_min;
    c->restart_from_min = false;
    band_ctl_run(&c->band, v0);
}

static enum ctl_cmd_result command_run(struct ctl *c, enum ctl_cmd cmd)
{
    enum proto_state before = proto_state(&c->proto);
    enum proto_result r;

    if (safety_latched(&c->safety) != FAULT_NONE)
        return CTL_REFUSED_FAULT;
    r = proto_command(&c->proto, cmd == CTL_CMD_START ? PROTO_CMD_START : PROTO_CMD_NEXT_SET,
                      c->now);
    if (r == PROTO_OK)
        belt_start(c, before);
    return from_proto(r);
}

static enum ctl_cmd_result command_stop(struct ctl *c)
{
    stroke_abort(c);
    band_ctl_stop(&c->band);
    return from_proto(proto_command(&c->proto, PROTO_CMD_STOP, c->now));
}

static enum ctl_cmd_result command_reset(struct ctl *c)
{
    enum fault f = safety_latched(&c->safety);
    struct ctl_event *ev;

    if (f == FAULT_NONE)
        return CTL_OK;
    c->last_in.now = c->now;    /* eccctl may call between ticks */
    if (safety_reset(&c->safety, &c->last_in) != 0)
        return CTL_REFUSED_CAUSE;
    ev = event_push(c, CTL_EV_RESET);
    ev->fault = f;
    return CTL_OK;
}

enum ctl_cmd_result ctl_command(struct ctl *c, enum ctl_cmd cmd, double now)
{
    enum ctl_cmd_result r = CTL_REFUSED_STATE;
    struct ctl_event *ev;

    c->now = now;
    switch (cmd) {
    case CTL_CMD_START:
    case CTL_CMD_NEXT_SET: r = command_run(c, cmd); break;
    case CTL_CMD_STOP: r = command_stop(c); break;
    case CTL_CMD_RESET: r = command_reset(c); break;
    case CTL_CMD_COUNT: break;
    }
    ev = event_push(c, CTL_EV_COMMAND);
    ev->cmd = cmd;
    ev->result = r;
    return r;
}

/* Buttons, in the order that is safe when several arrive in one tick. */
static void buttons_apply(struct ctl *c, unsigned pressed)
{
    if (pressed & HAL_BTN_STOP)
        ctl_command(c, CTL_CMD_STOP, c->now);
    if (pressed & HAL_BTN_RESET)
        ctl_command(c, CTL_CMD_RESET, c->now);
    if ((pressed & HAL_BTN_START) && !(pressed & HAL_BTN_STOP))
        ctl_command(c, CTL_CMD_START, c->now);
    if ((pressed & HAL_BTN_NEXT) && !(pressed & HAL_BTN_STOP))
        ctl_command(c, CTL_CMD_NEXT_SET, c->now);
}

/* ---- the tick -------------------------------------------------------------------- */

static void force_read(struct ctl *c, const struct ctl_input *in)
{
    for (int i = 0; i < in->n_force; i++) {
        if (!isfinite(in->force_n[i]))
            continue;
        force_filter_push(&c->filter, in->force_t[i], in->force_n[i]);
        /* A real load cell always flickers by a count or two; one that repeats the
         * exact same value is frozen (the stuck check). */
        if (c->t_force_changed < 0.0 || in->force_n[i] != c->force_raw)
            c->t_force_changed = in->force_t[i];
        c->force_raw = in->force_n[i];
        c->t_last_force = in->force_t[i];
    }
}

/* Belt speed from the pulse sensor, or from the drive where the rig has no sensor;
 * with both, the drive's figure is kept as the second opinion for the cross-check. */
static void speed_read(struct ctl *c, const struct ctl_input *in)
{
    const struct hal_drive_status *d = &in->drive;
    bool drive_speed = d->present && d->t_speed >= 0.0 && isfinite(d->speed_mps);

    if (c->cfg.encoder.type == CFG_ENCODER_DRIVE) {
        c->speed = drive_speed ? d->speed_mps : 0.0;
        c->speed_drive = NAN;
        if (drive_speed && d->speed_mps > 0.0)
            c->t_last_pulse = d->t_speed;       /* a sign of life from the belt */
        return;
    }
    for (int i = 0; i < in->n_pulses; i++)
        speed_est_pulse(&c->speed_est, in->pulse_t[i]);
    c->speed = speed_est_get(&c->speed_est, c->now);
    c->t_last_pulse = speed_est_last_pulse(&c->speed_est);
    c->speed_drive = drive_speed ? d->speed_mps : NAN;
}

/* This tick's safety inputs; a reset is judged on them too. */
static void safety_inputs(struct ctl *c, const struct ctl_input *in)
{
    c->last_in = (struct safety_input){
        .now = c->now, .force = force_filter_value(&c->filter),
        .t_last_force = c->t_last_force, .speed = c->speed, .speed_cmd = c->cmd,
        .t_last_pulse = c->t_last_pulse, .estop = in->estop,
        .force_raw = c->force_raw, .t_force_changed = c->t_force_changed,
        .drive_tripped = in->drive.present && in->drive.tripped,
        .drive_fault_code = in->drive.fault_code,
        .drive_comm_lost = in->drive.present && in->drive.comm_lost,
        .speed_drive = c->speed_drive,
        .late_s = in->late_s,
        .in_set = proto_state(&c->proto) == PROTO_SET_RUNNING,
    };
}

static void safety_run(struct ctl *c)
{
    enum fault before = safety_latched(&c->safety);
    enum fault f;
    struct ctl_event *ev;

    f = safety_check(&c->safety, &c->last_in);
    if (f == FAULT_NONE || before != FAULT_NONE)
        return;
    ev = event_push(c, CTL_EV_FAULT);
    ev->fault = f;
    ev->value = safety_value(&c->safety);
    ev->limit = safety_limit(&c->safety);
    stroke_abort(c);
    /* A fault commands zero at once: nothing non-zero is ever asked for while a fault is
     * latched. The drive brings the belt down on its own decel ramp (or coasts where
     * drive.stop_mode says); an ordinary stop (set done, stop button) ramps the command. */
    band_ctl_halt(&c->band);
    proto_command(&c->proto, PROTO_CMD_STOP, c->now);
    c->restart_from_min = true;
}

static void reps_run(struct ctl *c)
{
    struct rep_figures fig;
    enum rep_event e;

    if (proto_state(&c->proto) != PROTO_SET_RUNNING)
        return;
    e = rep_update(&c->rep, c->now, force_filter_value(&c->filter), c->speed, c->dt, &fig);
    if (e == REP_EV_CONTACT)
        c->stroke++;
    else if (e == REP_EV_RELEASE)
        stroke_released(c, &fig);
}

/* The controller acts on force only once the stroke is really loaded: force has
 * reached the band, or the foot has been on long enough that it never will. */
static bool stroke_engaged(const struct ctl *c)
{
    if (!rep_loaded(&c->rep))
        return false;
    return rep_reached_band(&c->rep) ||
           rep_stroke_time(&c->rep, c->now) >= c->cfg.control.engage_timeout_s;
}

double ctl_tick(struct ctl *c, const struct ctl_input *in)
{
    c->now = in->now;
    force_read(c, in);
    speed_read(c, in);
    safety_inputs(c, in);
    buttons_apply(c, in->pressed);
    safety_run(c);
    proto_tick(&c->proto, c->now);
    reps_run(c);
    c->cmd = band_ctl_update(&c->band, force_filter_value(&c->filter), stroke_engaged(c));
    return c->cmd;
}

/* ---- status ---------------------------------------------------------------------- */

const char *ctl_state_name(const struct ctl *c)
{
    if (safety_latched(&c->safety) != FAULT_NONE)
        return "fault";
    return proto_state_name(proto_state(&c->proto));
}

enum proto_state ctl_proto_state(const struct ctl *c) { return proto_state(&c->proto); }
enum fault ctl_fault(const struct ctl *c) { return safety_latched(&c->safety); }
double ctl_force(const struct ctl *c) { return force_filter_value(&c->filter); }
double ctl_force_raw(const struct ctl *c) { return c->force_raw; }
double ctl_speed(const struct ctl *c) { return c->speed; }
double ctl_speed_cmd(const struct ctl *c) { return c->cmd; }
bool ctl_loaded(const struct ctl *c) { return rep_loaded(&c->rep); }
int ctl_session(const struct ctl *c) { return proto_session(&c->proto); }
int ctl_set(const struct ctl *c) { return proto_set(&c->proto); }

const char *ctl_cmd_name(enum ctl_cmd cmd)
{
    static const char *const names[CTL_CMD_COUNT] = {"start", "stop", "next_set", "reset"};
    return (unsigned)cmd < CTL_CMD_COUNT ? names[cmd] : "unknown";
}

const char *ctl_result_name(enum ctl_cmd_result r)
{
    switch (r) {
    case CTL_OK: return "ok";
    case CTL_REFUSED_FAULT: return "refused_fault";
    case CTL_REFUSED_RESTING: return "refused_resting";
    case CTL_REFUSED_STATE: return "refused_state";
    case CTL_REFUSED_CAUSE: return "refused_cause";
    }
    return "unknown";
}
