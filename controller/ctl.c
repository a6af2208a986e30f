/* ctl.c - one control tick: compose the pure-logic modules (see ctl.h). */
#include "controller/ctl.h"

#include <math.h>
#include <stdio.h>
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
    ev->wall = c->wall;
    ev->patient = c->patient.id;
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

/* Belt acceleration (m/s^2) of a drive that ramps from 0 to max_hz in ramp_s. */
static double drive_ramp(const struct ecc_config *cfg, double ramp_s)
{
    return cfg->drive.max_hz / cfg->drive.hz_per_mps / ramp_s;
}

/* The modules whose settings a patient's own band and caps change. */
static void init_limited(struct ctl *c, const struct ecc_config *cfg)
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
        .drive_accel = drive_ramp(cfg, cfg->drive.accel_time_s),
        .drive_decel = drive_ramp(cfg, cfg->drive.decel_time_s),
        .lead_margin = cfg->control.lead_margin,
        .rollback_s = cfg->control.release_rollback_s,
        .dt = c->dt,
    };
    const struct fv_params fp = {
        .slope = cfg->control.slope, .slope_min = CTL_SLOPE_MIN, .slope_max = CTL_SLOPE_MAX,
        .target_n = cfg->band.force_low +
                    cfg->control.target * (cfg->band.force_high - cfg->band.force_low),
        .land_target_n = 0.5 * (cfg->band.force_low + cfg->band.force_high),
        .speed_min = cfg->limits.speed_min, .speed_max = cfg->limits.speed_max,
        .landing_s = cfg->rep.landing_s, .delay_s = cfg->control.force_delay_s,
        .lookahead_s = cfg->drive.dead_time_s + cfg->control.force_delay_s, .dt = c->dt,
    };
    const struct rep_params rp = {
        .contact_n = cfg->rep.contact_n, .release_n = cfg->rep.release_n,
        .force_low = cfg->band.force_low, .force_high = cfg->band.force_high,
        .min_stroke_s = cfg->rep.min_stroke_s, .min_travel_m = cfg->rep.min_travel_m,
        .min_in_band = cfg->rep.min_in_band, .landing_s = cfg->rep.landing_s,
        .filter_lag_s = 1.0 / (2.0 * M_PI * cfg->filter.cutoff_hz),
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
        .loop_stall_s = cfg->limits.loop_stall_s,
        .loop_late_burst = cfg->limits.loop_late_burst,
        .drift_n = cfg->limits.force_drift_n,
        .drift_window_s = cfg->limits.force_drift_s,
    };

    band_ctl_init(&c->band, &bp);
    fv_model_init(&c->fv, &fp);
    rep_init(&c->rep, &rp);
    safety_init(&c->safety, &sp);
}

static void init_modules(struct ctl *c, const struct ecc_config *cfg)
{
    const struct proto_params pp = {
        .reps_per_set = cfg->protocol.reps_per_set,
        .sets_per_session = cfg->protocol.sets_per_session,
        .rest_s = cfg->protocol.rest_s,
    };

    force_filter_init(&c->filter, cfg->filter.cutoff_hz, cfg->filter.spike_reject);
    const struct belt_speed_params bsp = {
        .pulses_per_m = cfg->encoder.pulses_per_m, .timeout_s = cfg->encoder.timeout_s,
        .accel = drive_ramp(cfg, cfg->drive.accel_time_s),
        .decel = drive_ramp(cfg, cfg->drive.decel_time_s),
    };

    belt_speed_init(&c->belt, &bsp);      /* the drive's ramps: its model of a silent drive */
    proto_init(&c->proto, &pp);
    init_limited(c, cfg);
}

static void init_schedule(struct ctl *c, const struct ecc_config *cfg)
{
    const struct sched_params sp = {
        .sessions_per_day = cfg->protocol.sessions_per_day,
        .min_gap_s = cfg->protocol.min_gap_h * 3600.0,
        .day_start_s = cfg->protocol.day_start_h * 3600.0,
        .allow_extra = cfg->protocol.allow_extra_sessions,
    };

    sched_init(&c->sched, &sp);
}

void ctl_prog_rules(const struct ecc_config *cfg, struct prog_rules *r)
{
    *r = (struct prog_rules){.pain_stop = cfg->progression.pain_stop,
                             .morning_rise = cfg->progression.morning_rise,
                             .up_in_band = cfg->progression.up_in_band,
                             .up_pain_max = cfg->progression.up_pain_max,
                             .adherence_flag = cfg->progression.adherence_flag};
}

void ctl_init(struct ctl *c, const struct ecc_config *cfg)
{
    struct prog_rules rules;

    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    c->dt = 1.0 / cfg->loop.rate_hz;
    c->t_last_force = -1.0;
    c->t_force_changed = -1.0;
    c->t_last_pulse = -1.0;
    c->v_ref_prev = NAN;
    c->t_reset = -INFINITY;
    c->speed_drive = NAN;
    c->t_cmd_moving = -INFINITY;
    c->preflight = PREFLIGHT_FORCE_SILENT;  /* nothing read yet */
    c->preflight_said = PREFLIGHT_OK;       /* said only once it holds: see preflight_run */
    c->patient = (struct ctl_patient){.id = 0, .force_low = NAN, .force_high = NAN,
                                      .speed_max = NAN, .force_abort = NAN};
    c->base = (struct ctl_patient){.id = 0, .force_low = cfg->band.force_low,
                                   .force_high = cfg->band.force_high,
                                   .speed_max = cfg->limits.speed_max,
                                   .force_abort = cfg->limits.force_abort};
    init_modules(c, cfg);
    init_schedule(c, cfg);
    ctl_prog_rules(cfg, &rules);
    prog_init(&c->prog, &rules, NULL, cfg->protocol.day_start_h * 3600.0);
}

/* ---- sets and strokes ------------------------------------------------------------ */

static void set_begin(struct ctl *c)
{
    memset(&c->set_sum, 0, sizeof c->set_sum);
    c->set_t_start = c->now;
    c->set_band_s = 0.0;
    c->set_band_span_s = 0.0;
    c->resume_set_s = 0.0;
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
    c->set_band_s += fig->in_band_s;        /* the set's share: over every loaded window */
    c->set_band_span_s += fig->window_s;
    ev = event_push(c, counted ? CTL_EV_REP : CTL_EV_REJECT);
    ev->fig = *fig;
    ev->set_s = c->now - c->set_t_start;    /* the history keeps it for a restart */
    if (counted)
        ev->rep++;      /* proto_rep_counted() runs after this event is queued */
}

static void set_finished(struct ctl *c)
{
    struct ctl_event *ev = event_push(c, CTL_EV_SET);

    c->set_sum.in_band_share = c->set_band_span_s > 0.0 ? c->set_band_s / c->set_band_span_s : 0.0;
    c->set_sum.duration_s = c->now - c->set_t_start;
    ev->sum = c->set_sum;
    prog_set_done(&c->prog, c->set_sum.in_band_share);
    c->session_sum.counted += c->set_sum.counted;
    c->session_sum.rejected += c->set_sum.rejected;
}

static void session_finished(struct ctl *c)
{
    struct ctl_event *ev = event_push(c, CTL_EV_SESSION);

    ev->sum = c->session_sum;
    ev->sets = proto_set(&c->proto);
    if (c->wall > 0.0)
        sched_end(&c->sched, c->wall);
}

/* A stroke was cut off by a stop or a fault: it is recorded, never counted. */
static void stroke_abort(struct ctl *c)
{
    struct rep_figures fig;

    fv_model_release(&c->fv, false);
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

/* ---- the programme ---------------------------------------------------------------- */

/* The programme's decisions as events, for the log and the history. */
static void prog_events(struct ctl *c, const struct prog_out *po)
{
    for (int i = 0; i < po->n; i++) {
        const struct prog_decision *d = &po->d[i];
        struct ctl_event *ev = event_push(c, CTL_EV_PROGRESSION);

        ev->wall = d->t;
        ev->prog = d->kind;
        ev->level_from = d->level_from;
        ev->level_to = d->level_to;
        ev->band_low = d->band_low;
        ev->band_high = d->band_high;
        ev->value = prog_plan(&c->prog)->baseline;     /* for BASELINE */
        snprintf(ev->cause, sizeof ev->cause, "%s", d->reason);
    }
}

static bool patient_settings(const struct ctl *c, const struct ctl_patient *p,
                             struct ctl_patient *eff);

/* The programme's band at its level becomes the patient's (between sessions only: the
 * band controller and the judge start afresh). false: out of bounds, nothing changed. */
static bool programme_band_apply(struct ctl *c)
{
    struct ctl_patient p = c->patient, eff;

    prog_band_now(&c->prog, &p.force_low, &p.force_high);
    if (!patient_settings(c, &p, &eff))
        return false;
    c->patient = p;
    c->cfg.band.force_low = eff.force_low;
    c->cfg.band.force_high = eff.force_high;
    init_limited(c, &c->cfg);
    return true;
}

/* A step taken during a session waits for the next one. */
static bool programme_band_stale(const struct ctl *c)
{
    double lo, hi;

    prog_band_now(&c->prog, &lo, &hi);
    return lo != c->cfg.band.force_low || hi != c->cfg.band.force_high;
}

static bool between_sessions(const struct ctl *c)
{
    enum proto_state st = proto_state(&c->proto);

    return (st == PROTO_IDLE || st == PROTO_SESSION_DONE) && !c->resumed;
}

enum ctl_cmd_result ctl_set_programme(struct ctl *c, const struct prog *p)
{
    struct prog keep = c->prog;

    if (!between_sessions(c) || safety_latched(&c->safety) != FAULT_NONE)
        return CTL_REFUSED_STATE;
    c->prog = *p;
    if (prog_plan(p)->active && !programme_band_apply(c)) {
        c->prog = keep;
        return CTL_REFUSED_STATE;
    }
    return CTL_OK;
}

const struct prog *ctl_programme(const struct ctl *c)
{
    return &c->prog;
}

void ctl_checkin(struct ctl *c, enum ctl_checkin kind, int score, bool record)
{
    struct prog_out po = {0};

    if (record) {
        struct ctl_event *ev = event_push(c, CTL_EV_CHECKIN);

        ev->checkin = kind;
        ev->value = score;
    }
    if (kind == CTL_CHECKIN_PAIN)
        prog_pain(&c->prog, c->wall, score, &po);
    else
        prog_morning(&c->prog, c->wall, score, &po);
    prog_events(c, &po);
    if (po.stop_session && proto_end_session(&c->proto)) {
        band_ctl_stop(&c->band);
        session_finished(c);
    }
    if (po.band_changed && between_sessions(c) && safety_latched(&c->safety) == FAULT_NONE)
        programme_band_apply(c);    /* else at the next session's start */
}

/* A protocol day began: the programme's flags. */
static void prog_run(struct ctl *c)
{
    struct prog_out po;

    if (c->wall <= 0.0)
        return;
    prog_tick(&c->prog, c->wall, c->utc_offset_s, &po);
    prog_events(c, &po);
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
    bool new_session = (before == PROTO_IDLE || before == PROTO_SESSION_DONE) && !c->resumed;

    if (new_session) {
        struct prog_out po = {0};
        struct ctl_event *ev;

        session_begin(c);
        if (c->wall > 0.0)
            sched_begin(&c->sched, c->wall);
        if (c->wall > 0.0 && prog_plan(&c->prog)->active)
            prog_session_begin(&c->prog, c->wall, c->utc_offset_s, &po);
        if (prog_plan(&c->prog)->active && (po.band_changed || programme_band_stale(c)))
            programme_band_apply(c);
        ev = event_push(c, CTL_EV_SESSION_START);
        ev->band_low = c->cfg.band.force_low;
        ev->band_high = c->cfg.band.force_high;
        prog_events(c, &po);
    }
    if (new_session || c->resumed)      /* after a restart the held speed is gone */
        v0 = c->cfg.control.start_speed;
    if (before != PROTO_PAUSED)
        set_begin(c);
    else if (c->resumed)                /* its time before the restart counts too */
        c->set_t_start = c->now - c->resume_set_s;
    if (before != PROTO_PAUSED || c->resumed)
        event_push(c, CTL_EV_SET_START)->resumed = c->resumed;
    c->resumed = false;
    if (c->restart_from_min) {
        v0 = c->cfg.limits.speed_min;
        c->model_held = true;           /* the model waits for the patient's next stroke */
    }
    c->restart_from_min = false;
    band_ctl_run(&c->band, v0);
}

/* A start that would begin a new session must fit the day's schedule (only checked when
 * there is a wall clock). */
static bool schedule_allows(struct ctl *c, enum proto_state before)
{
    bool new_session = (before == PROTO_IDLE || before == PROTO_SESSION_DONE) && !c->resumed;

    c->sched_verdict = SCHED_OK;
    c->sched_wait_s = 0.0;
    if (!new_session || c->wall <= 0.0)
        return true;
    c->sched_verdict = sched_check(&c->sched, c->wall, c->utc_offset_s, &c->sched_wait_s);
    return c->sched_verdict == SCHED_OK || c->sched_verdict == SCHED_OK_EXTRA;
}

/* ---- pre-flight ---------------------------------------------------------------------- */

static bool belt_meant_to_rest(const struct ctl *c)
{
    enum proto_state s = proto_state(&c->proto);
    return s != PROTO_SET_RUNNING;
}

/* eccd's own command still moves the belt, or has only just stopped: the drive takes up to
 * its full decel time (and its dead time) to come to rest, and that motion is no fault. */
static bool still_stopping(const struct ctl *c)
{
    double stop_s = c->cfg.drive.decel_time_s + c->cfg.drive.dead_time_s + 0.5;

    return c->cmd > 0.0 || c->now - c->t_cmd_moving < stop_s;
}

/* The checks a start must pass now; the zero check only where a session would begin. */
static enum preflight_verdict preflight_now(const struct ctl *c, double *value)
{
    enum proto_state s = proto_state(&c->proto);
    const struct preflight_input pi = {
        .now = c->now, .estop = c->last_in.estop, .drive = &c->drive_st,
        .t_last_force = c->t_last_force, .force_raw = c->force_raw,
        .force_stale_s = c->cfg.limits.force_stale_s,
        .force_negative_n = c->cfg.limits.force_negative_n,
        .force_full_scale = c->cfg.loadcell.full_scale_n,
        .contact_n = c->cfg.rep.contact_n,
        .check_zero = (s == PROTO_IDLE || s == PROTO_SESSION_DONE) && !c->resumed,
        .speed_pulse = c->speed_pulse,
        .commanded = still_stopping(c),
    };
    return preflight_check(&pi, value);
}

/* Each tick while the belt is meant to rest: the verdict a start would meet, reported
 * once it has held CTL_PREFLIGHT_SETTLE_S (a new fault says its own). */
static void preflight_run(struct ctl *c)
{
    enum preflight_verdict v;
    double value;

    if (!belt_meant_to_rest(c))
        return;
    v = preflight_now(c, &value);
    if (v != c->preflight)
        c->t_preflight_changed = c->now;
    c->preflight = v;
    c->preflight_value = value;
    if (v != c->preflight_said && c->now - c->t_preflight_changed >= CTL_PREFLIGHT_SETTLE_S &&
        safety_latched(&c->safety) == FAULT_NONE && !still_stopping(c)) {
        struct ctl_event *ev = event_push(c, CTL_EV_PREFLIGHT);
        ev->preflight = v;
        ev->value = value;
        c->preflight_said = v;
    }
}

static enum ctl_cmd_result command_run(struct ctl *c, enum ctl_cmd cmd)
{
    enum proto_state before = proto_state(&c->proto);
    enum proto_result r;

    if (safety_latched(&c->safety) != FAULT_NONE)
        return CTL_REFUSED_FAULT;
    if (belt_meant_to_rest(c)) {
        c->preflight = preflight_now(c, &c->preflight_value);
        if (c->preflight != PREFLIGHT_OK)
            return CTL_REFUSED_PREFLIGHT;
    }
    if (!schedule_allows(c, before))
        return CTL_REFUSED_SCHEDULE;
    r = proto_command(&c->proto, cmd == CTL_CMD_START ? PROTO_CMD_START : PROTO_CMD_NEXT_SET,
                      c->now);
    if (r == PROTO_OK)
        belt_start(c, before);
    return from_proto(r);
}

/* A stop is always carried out; it is refused (refused_state, nothing to stop) only when no
 * set runs, eccd commands no motion and has not for a drive's stopping time, and the belt
 * is measured still: the operator learns the rig was already at rest. */
static enum ctl_cmd_result command_stop(struct ctl *c)
{
    bool moving = proto_state(&c->proto) == PROTO_SET_RUNNING || still_stopping(c) ||
                  c->speed > c->cfg.limits.speed_min / 2.0;
    enum ctl_cmd_result r;

    stroke_abort(c);
    band_ctl_stop(&c->band);
    r = from_proto(proto_command(&c->proto, PROTO_CMD_STOP, c->now));
    return r == CTL_OK && !moving ? CTL_REFUSED_STATE : r;
}

static enum ctl_cmd_result command_reset(struct ctl *c)
{
    enum fault f = safety_latched(&c->safety);
    struct ctl_event *ev;

    /* Whatever eccd has latched, the operator's reset also reaches the drive's own trip and
     * the dead-man (a drive may trip without eccd latching, e.g. while idle). */
    c->reset_pending = true;
    if (f == FAULT_NONE)
        return CTL_OK;
    c->last_in.now = c->now;    /* eccctl may call between ticks */
    if (safety_reset(&c->safety, &c->last_in) != 0)
        return CTL_REFUSED_CAUSE;
    c->t_reset = c->now;
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
    if (r == CTL_REFUSED_SCHEDULE) {
        ev->sched = c->sched_verdict;
        ev->wait_s = c->sched_wait_s;
    }
    if (r == CTL_REFUSED_PREFLIGHT) {
        ev->preflight = c->preflight;
        ev->value = c->preflight_value;
    }
    if (r == CTL_REFUSED_FAULT || r == CTL_REFUSED_CAUSE)
        ev->fault = safety_latched(&c->safety);
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
    c->force_samples += in->n_force;
    c->pulses += in->n_pulses;
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


/* Belt speed from the pulse sensor fused with the drive's reported speed (or a model of
 * the drive where it reports none: belt_speed.h), or from the drive alone where the rig
 * has no sensor. With both, the drive's raw figure and the raw pulse count go to the
 * safety cross-check. */
static void speed_read(struct ctl *c, const struct ctl_input *in)
{
    const struct hal_drive_status *d = &in->drive;
    bool drive_speed = d->present && d->t_speed >= 0.0 && isfinite(d->speed_mps);

    if (c->cfg.encoder.type == CFG_ENCODER_DRIVE) {
        c->speed = drive_speed ? d->speed_mps : 0.0;
        c->speed_drive = NAN;
        c->speed_pulse = NAN;                   /* no pulses: no pulse-based checks */
        c->pulse_dist = c->pulse_m = 0.0;
        if (drive_speed && d->speed_mps > 0.0)
            c->t_last_pulse = d->t_speed;       /* a sign of life from the belt */
        return;
    }
    c->speed_drive = drive_speed ? d->speed_mps : NAN;
    belt_speed_update(&c->belt, &(struct belt_speed_in){
        .now = c->now, .pulse_t = in->pulse_t, .n_pulses = in->n_pulses,
        .drive_mps = c->speed_drive, .cmd_mps = c->cmd,     /* c->cmd: last tick's, in force */
        .force_n = force_filter_value(&c->filter)});        /* the load the belt slips under */
    c->speed = belt_speed_get(&c->belt);
    c->speed_pulse = belt_speed_pulse_speed(&c->belt);
    c->pulse_dist = belt_speed_counted(&c->belt);
    c->pulse_m = belt_speed_m_per_pulse(&c->belt);
    c->t_last_pulse = belt_speed_last_pulse(&c->belt);
}

/* This tick's safety inputs; a reset is judged on them too. */
static void safety_inputs(struct ctl *c, const struct ctl_input *in)
{
    c->last_in = (struct safety_input){
        .now = c->now, .force = force_filter_value(&c->filter),
        .t_last_force = c->t_last_force, .speed = c->speed, .speed_cmd = c->cmd,
        .speed_pulse = c->speed_pulse, .pulse_dist = c->pulse_dist, .pulse_m = c->pulse_m,
        .t_last_pulse = c->t_last_pulse, .estop = in->estop,
        .force_raw = c->force_raw, .t_force_changed = c->t_force_changed,
        .drive_tripped = in->drive.present && in->drive.tripped &&
                         c->now - c->t_reset >= CTL_DRIVE_RESET_GRACE_S,
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
    c->coast_pending = c->cfg.drive.stop_mode == CFG_STOP_COAST;
}

/* What the drive is really doing (m/s), to bound the command by: its reported output
 * where it reports one (instantaneous, and free of the belt's slip under the foot: a
 * lead bound on the slipping belt would pull the command, and so the drive, down);
 * where it does not, the fused speed, which then is the drive model scaled by what the
 * pulses counted, so a drive slower than its config shows there too. */
static double belt_reference(const struct ctl *c)
{
    if (c->cfg.encoder.type == CFG_ENCODER_DRIVE || !isfinite(c->speed_drive))
        return c->speed;
    return c->speed_drive;
}

/* Is the belt pinned at a speed limit (for the rep rule's "no speed could have put it in
 * the band")? Judged on the command and, where known, the belt. */
static enum rep_limit belt_limit(const struct ctl *c)
{
    const struct ecc_config *cfg = &c->cfg;
    double v = belt_reference(c), tol = cfg->control.lead_margin;

    if (c->cmd <= cfg->limits.speed_min + 1e-6 && !(v > cfg->limits.speed_min + tol))
        return REP_AT_MIN;
    if (c->cmd >= cfg->limits.speed_max - 1e-6 && !(v < cfg->limits.speed_max - tol))
        return REP_AT_MAX;
    return REP_FREE;
}

/* The speed the force-speed model asks for (NAN: use the band PI). */
static double model_speed(struct ctl *c)
{
    double v = belt_reference(c);
    double want;

    if (!c->cfg.control.adapt || c->cfg.control.mode == CFG_MODE_FIXED)
        return NAN;
    want = fv_model_speed(&c->fv, c->now, force_filter_value(&c->filter),
                          isfinite(v) ? v : c->cmd);
    /* After a fault the belt restarts from speed_min and stays there until the patient
     * loads it again: the model's idea of the next landing speed waits for a stroke. */
    return c->model_held ? NAN : want;
}

static void reps_run(struct ctl *c)
{
    struct rep_figures fig;
    enum rep_event e;

    if (proto_state(&c->proto) != PROTO_SET_RUNNING)
        return;
    e = rep_update(&c->rep, c->now, force_filter_value(&c->filter), c->speed, c->dt,
                   belt_limit(c), &fig);
    if (e == REP_EV_CONTACT) {
        c->stroke++;
        c->model_held = false;
        fv_model_contact(&c->fv, c->now);
    } else if (e == REP_EV_RELEASE) {
        fv_model_release(&c->fv, true);
        stroke_released(c, &fig);
    }
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

/* Measure the drive's ramp while the command sits a lead margin ahead of the belt (the
 * belt lags: it should be gaining at the drive's full ramp). A drive slower than its
 * config is said once, with the measured figure, and believed from then on. */
static void drive_ramp_watch(struct ctl *c)
{
    double v = belt_reference(c), configured = c->band.p.drive_accel;
    bool lagging = isfinite(v) && isfinite(c->v_ref_prev) && c->cmd > 0.0 &&
                   c->cmd >= c->v_ref_prev + c->cfg.control.lead_margin - 1e-9;
    struct ctl_event *ev;

    if (lagging) {
        c->lag_s += c->dt;
        c->lag_dv += v - c->v_ref_prev;
    }
    c->v_ref_prev = v;
    if (c->lag_s < CTL_RAMP_WINDOW_S)
        return;
    double measured = c->lag_dv / c->lag_s;
    c->lag_s = c->lag_dv = 0.0;
    if (!(measured < CTL_RAMP_SLOW * configured) || c->drive_slow_said)
        return;
    c->drive_slow_said = true;
    band_ctl_set_drive_accel(&c->band, fmax(measured, CTL_RAMP_FLOOR));
    ev = event_push(c, CTL_EV_DRIVE_SLOW);
    ev->value = measured;
    ev->limit = configured;
}

void ctl_set_clock(struct ctl *c, double now, double wall, int utc_offset_s)
{
    c->now = now;
    c->wall = wall;
    c->utc_offset_s = utc_offset_s;
}

void ctl_step(struct ctl *c, const struct ctl_input *in, struct ctl_output *out)
{
    ctl_set_clock(c, in->now, in->wall, in->utc_offset_s);
    force_read(c, in);
    speed_read(c, in);
    safety_inputs(c, in);
    c->drive_st = in->drive;
    preflight_run(c);
    buttons_apply(c, in->pressed);
    safety_run(c);
    proto_tick(&c->proto, c->now);
    prog_run(c);
    reps_run(c);
    double v_model = model_speed(c);
    drive_ramp_watch(c);
    c->cmd = band_ctl_step(&c->band, force_filter_value(&c->filter), stroke_engaged(c),
                           belt_reference(c), v_model);
    if (c->cmd > 0.0)
        c->t_cmd_moving = c->now;
    *out = (struct ctl_output){.speed = c->cmd, .coast = c->coast_pending,
                               .drive_reset = c->reset_pending,
                               .enable = safety_latched(&c->safety) == FAULT_NONE};
    c->coast_pending = false;
    c->reset_pending = false;
}

double ctl_tick(struct ctl *c, const struct ctl_input *in)
{
    struct ctl_output out;

    ctl_step(c, in, &out);
    return out.speed;
}

/* ---- patients and resuming ------------------------------------------------------- */

static double or_base(double v, double base)
{
    return isnan(v) ? base : v;
}

/* The patient's settings over the config's; false if they are out of bounds. */
static bool patient_settings(const struct ctl *c, const struct ctl_patient *p,
                             struct ctl_patient *eff)
{
    const struct ecc_config *cfg = &c->cfg;
    double slowest = fmax(cfg->limits.speed_min, fmax(cfg->control.start_speed,
                          cfg->control.mode == CFG_MODE_FIXED ? cfg->control.fixed_speed : 0.0));

    eff->id = p->id;
    eff->force_low = or_base(p->force_low, c->base.force_low);
    eff->force_high = or_base(p->force_high, c->base.force_high);
    eff->speed_max = or_base(p->speed_max, c->base.speed_max);
    eff->force_abort = or_base(p->force_abort, c->base.force_abort);
    return isfinite(eff->force_low) && isfinite(eff->force_high) &&
           isfinite(eff->speed_max) && isfinite(eff->force_abort) &&
           eff->force_low > cfg->rep.contact_n && eff->force_low < eff->force_high &&
           eff->force_high < eff->force_abort && eff->force_abort <= c->base.force_abort &&
           eff->speed_max >= slowest && eff->speed_max <= c->base.speed_max;
}

enum ctl_cmd_result ctl_set_patient(struct ctl *c, const struct ctl_patient *p,
                                    const double *starts, const double *ends, int n)
{
    enum proto_state st = proto_state(&c->proto);
    struct ctl_patient eff;

    if ((st != PROTO_IDLE && st != PROTO_SESSION_DONE) || c->resumed ||
        safety_latched(&c->safety) != FAULT_NONE || !patient_settings(c, p, &eff))
        return CTL_REFUSED_STATE;
    c->patient = *p;
    c->cfg.band.force_low = eff.force_low;
    c->cfg.band.force_high = eff.force_high;
    c->cfg.limits.speed_max = eff.speed_max;
    c->cfg.limits.force_abort = eff.force_abort;
    init_limited(c, &c->cfg);
    sched_clear(&c->sched);
    for (int i = 0; i < n; i++) {
        sched_begin(&c->sched, starts[i]);
        if (ends[i] >= 0.0)
            sched_end(&c->sched, ends[i]);
    }
    return CTL_OK;
}

const struct ctl_patient *ctl_patient(const struct ctl *c)
{
    return &c->patient;
}

/* The interrupted set's figures before the restart, so that its SET line and its share
 * in band cover the whole set. */
static void resume_set(struct ctl *c, const struct ctl_resume *r)
{
    c->set_sum.counted = r->reps;
    c->set_sum.by_verdict[REP_COUNTED] = r->reps;
    for (int v = REP_COUNTED + 1; v < REP_VERDICT_COUNT; v++) {
        c->set_sum.by_verdict[v] = r->rejected[v];
        c->set_sum.rejected += r->rejected[v];
    }
    c->set_band_s = r->in_band_s;
    c->set_band_span_s = r->window_s;
    c->resume_set_s = r->set_s;
}

static bool resume_valid(const struct ctl *c, const struct ctl_resume *r)
{
    const struct proto_params *pp = &c->proto.p;

    if (r->set < 1 || r->set > pp->sets_per_session || r->reps < 0 ||
        r->reps > pp->reps_per_set ||
        (r->set == pp->sets_per_session && r->reps == pp->reps_per_set))
        return false;           /* no set to carry on */
    if (r->strokes < 0 || r->done_counted < 0 || r->done_rejected < 0 ||
        !(r->in_band_s >= 0.0 && r->window_s >= 0.0 && r->set_s >= 0.0) ||
        !isfinite(r->in_band_s + r->window_s + r->set_s))
        return false;
    for (int v = 0; v < REP_VERDICT_COUNT; v++)
        if (r->rejected[v] < 0)
            return false;
    return true;
}

enum ctl_cmd_result ctl_resume(struct ctl *c, const struct ctl_resume *r)
{
    const struct proto_params *pp = &c->proto.p;

    if (proto_state(&c->proto) != PROTO_IDLE || proto_session(&c->proto) != 0 ||
        !resume_valid(c, r))
        return CTL_REFUSED_STATE;
    proto_resume(&c->proto, r->set, r->reps);
    c->resumed = true;
    set_begin(c);
    session_begin(c);
    c->stroke = r->strokes;             /* numbering goes on: no stroke number twice */
    c->session_sum.counted = r->done_counted;
    c->session_sum.rejected = r->done_rejected;
    if (r->reps < pp->reps_per_set)     /* the set goes on with what it had */
        resume_set(c, r);
    return CTL_OK;
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

bool ctl_quiet(const struct ctl *c)
{
    return proto_state(&c->proto) != PROTO_SET_RUNNING && c->cmd == 0.0 &&
           fabs(c->speed) < 1e-3 && !rep_loaded(&c->rep) &&
           c->now - c->t_cmd_moving > CTL_QUIET_AFTER_S && c->ev_n == 0 &&
           !c->reset_pending && !c->coast_pending && c->preflight == c->preflight_said;
}

double ctl_next_due(const struct ctl *c)
{
    double due = INFINITY, ds = c->cfg.protocol.day_start_h * 3600.0;

    if (proto_state(&c->proto) == PROTO_REST)
        due = c->now + proto_rest_left(&c->proto, c->now);
    if (c->wall > 0.0 && prog_plan(&c->prog)->active) {
        double local = c->wall + c->utc_offset_s - ds;
        double next_day = (floor(local / 86400.0) + 1.0) * 86400.0;

        due = fmin(due, c->now + (next_day - local));
    }
    return due;
}

void ctl_status(const struct ctl *c, struct ctl_status *st)
{
    memset(st, 0, sizeof *st);
    st->now = c->now;
    st->wall = c->wall;
    st->state = ctl_state_name(c);
    st->fault = safety_latched(&c->safety);
    st->fault_value = safety_value(&c->safety);
    st->fault_limit = safety_limit(&c->safety);
    st->speed = c->speed;
    st->speed_cmd = c->cmd;
    st->force = force_filter_value(&c->filter);
    st->band_low = c->cfg.band.force_low;
    st->band_high = c->cfg.band.force_high;
    st->loaded = rep_loaded(&c->rep);
    st->session = proto_session(&c->proto);
    st->set = proto_set(&c->proto);
    st->reps = proto_reps(&c->proto);
    st->reps_per_set = c->proto.p.reps_per_set;
    st->sets_per_session = c->proto.p.sets_per_session;
    st->rest_left_s = proto_rest_left(&c->proto, c->now);
    st->patient = c->patient.id;
    st->in_session = c->resumed || (proto_state(&c->proto) != PROTO_IDLE &&
                                    proto_state(&c->proto) != PROTO_SESSION_DONE);
    st->preflight = c->preflight;
    st->preflight_value = c->preflight_value;
    st->programme = prog_plan(&c->prog)->active;
    st->level = prog_plan(&c->prog)->level;
    st->locked = prog_plan(&c->prog)->locked;
    if (c->wall > 0.0) {
        st->sessions_today = sched_count_day(&c->sched, c->wall, c->utc_offset_s);
        st->next_session = sched_check(&c->sched, c->wall, c->utc_offset_s,
                                       &st->next_session_wait_s);
    }
}

enum preflight_verdict ctl_preflight(const struct ctl *c)
{
    return c->preflight;
}

long ctl_force_samples(const struct ctl *c)
{
    return c->force_samples;
}

long ctl_pulses(const struct ctl *c)
{
    return c->pulses;
}

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
    case CTL_REFUSED_SCHEDULE: return "refused_schedule";
    case CTL_REFUSED_PREFLIGHT: return "refused_preflight";
    }
    return "unknown";
}
