/* loop.c - the fixed-rate control loop (see loop.h). */
#include "daemon/loop.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "controller/event.h"
#include "daemon/outq.h"
#include "util/log.h"

#define LOOP_MAX_SAMPLES 64     /* load-cell samples taken per tick */
#define LOOP_MAX_PULSES 256     /* belt pulses taken per tick */

/* Per-tick buffers, sized once: the loop never allocates. */
struct loop_buf {
    double force_t[LOOP_MAX_SAMPLES], force_n[LOOP_MAX_SAMPLES];
    double pulse_t[LOOP_MAX_PULSES];
};

/* The run's text outputs, each written by a thread of its own (daemon/outq.h): the loop
 * only formats a line and queues it. NULL where the run has no such output. */
struct loop_out {
    struct outq *rep_log, *trace, *human;
};

const char *loop_trace_header(void)
{
    return "t,state,session,set,force_raw,force,speed_cmd,speed,band_low,band_high,loaded";
}

static void read_inputs(struct hal *hal, struct loop_buf *b, struct ctl_input *in)
{
    struct hal_input_state st = {0};

    in->now = hal->clock.now(hal->clock.ctx);
    in->utc_offset_s = 0;
    in->wall = hal->clock.wall ? hal->clock.wall(hal->clock.ctx, &in->utc_offset_s) : 0.0;
    in->n_force = hal->force.read(hal->force.ctx, b->force_t, b->force_n, LOOP_MAX_SAMPLES);
    in->n_pulses = hal->encoder.read(hal->encoder.ctx, b->pulse_t, LOOP_MAX_PULSES);
    if (in->n_force < 0)
        in->n_force = 0;    /* a failed read is a missing sample: the stale check sees it */
    if (in->n_pulses < 0)
        in->n_pulses = 0;
    if (hal->inputs.read(hal->inputs.ctx, &st) != 0)
        st.estop = true;    /* inputs we cannot read are treated as an e-stop */
    in->estop = st.estop;
    in->pressed = st.pressed;
    hal_drive_status(&hal->drive, &in->drive);
    in->force_t = b->force_t;
    in->force_n = b->force_n;
    in->pulse_t = b->pulse_t;
}

enum preflight_part loop_fault_part(enum fault f)
{
    switch (f) {
    case FAULT_ESTOP: return PREFLIGHT_PART_INPUTS;
    case FAULT_DRIVE_TRIP:
    case FAULT_DRIVE_COMM: return PREFLIGHT_PART_DRIVE;
    case FAULT_FORCE_STALE:
    case FAULT_FORCE_SATURATED:
    case FAULT_FORCE_STUCK:
    case FAULT_FORCE_IMPLAUSIBLE:
    case FAULT_FORCE_DRIFT:
    case FAULT_OVERFORCE: return PREFLIGHT_PART_LOADCELL;
    case FAULT_SPEED_SILENT:
    case FAULT_SPEED_DISAGREE:
    case FAULT_OVERSPEED: return PREFLIGHT_PART_BELT_SENSOR;
    case FAULT_LOOP_LATE:
    case FAULT_NONE:
    case FAULT_COUNT: break;
    }
    return PREFLIGHT_PART_NONE;
}

int loop_part_cause(struct hal *hal, enum preflight_part part, char *buf, size_t len)
{
    struct hal_link_stats ls;
    int rc = -1;

    if (part == PREFLIGHT_PART_DRIVE)
        rc = hal_drive_link_stats(&hal->drive, &ls);
    else if (part == PREFLIGHT_PART_LOADCELL)
        rc = hal_force_link_stats(&hal->force, &ls);
    char raw[48] = "";

    if (rc != 0)
        return snprintf(buf, len, "%s", "");
    if (isfinite(ls.last_raw))
        snprintf(raw, sizeof raw, ", latest raw reading %.0f", ls.last_raw);
    if (!ls.last_error[0])
        return snprintf(buf, len, "%s %s: %s%s", preflight_part_name(part), ls.where,
                        ls.tx_ok > 0 ? "answering" : "no transaction yet", raw);
    return snprintf(buf, len, "%s %s: %s%s%s", preflight_part_name(part), ls.where,
                    ls.last_error, ls.answering ? " (answering again since)" : "", raw);
}

/* The HAL's words on what went wrong, for the events that name a part. */
static void event_cause(struct hal *hal, struct ctl_event *ev)
{
    enum preflight_part part = PREFLIGHT_PART_NONE;

    if (ev->kind == CTL_EV_FAULT ||
        (ev->kind == CTL_EV_COMMAND &&
         (ev->result == CTL_REFUSED_FAULT || ev->result == CTL_REFUSED_CAUSE)))
        part = loop_fault_part(ev->fault);
    else if (ev->kind == CTL_EV_PREFLIGHT ||
             (ev->kind == CTL_EV_COMMAND && ev->result == CTL_REFUSED_PREFLIGHT))
        part = preflight_part(ev->preflight);
    if (part != PREFLIGHT_PART_NONE)
        loop_part_cause(hal, part, ev->cause, sizeof ev->cause);
}


static void log_events(struct ctl *c, struct hal *hal, const struct loop_opts *o,
                       const struct loop_out *out, struct loop_stats *st)
{
    struct ctl_event ev;
    char line[EVENT_LINE_MAX];

    while (ctl_event_pop(c, &ev)) {
        event_cause(hal, &ev);
        if (o->start && ev.kind == CTL_EV_COMMAND && ev.cmd == CTL_CMD_START &&
            !st->start_pressed_done) {
            st->start_pressed_done = true;
            if (ev.result != CTL_OK) {
                st->start_refused = true;
                event_text(&ev, st->start_refusal, sizeof st->start_refusal);
            }
        }
        if (ev.kind == CTL_EV_SESSION)
            st->sessions_done++;
        if (o->on_event)
            o->on_event(o->arg, &ev);
        if (out->rep_log && event_json(&ev, line, sizeof line) > 0)
            outq_put(out->rep_log, line, strlen(line));
        if (event_text(&ev, line, sizeof line) <= 0)
            continue;
        if (out->human)
            outq_printf(out->human, "%9.3f  %s", ev.t, line);
        else if (ev.kind == CTL_EV_FAULT || ev.kind == CTL_EV_DRIVE_SLOW ||
                 (ev.kind == CTL_EV_PREFLIGHT && ev.preflight != PREFLIGHT_OK) ||
                 (ev.kind == CTL_EV_COMMAND && ev.result == CTL_REFUSED_PREFLIGHT))
            log_warn("%s", line);
        else if (ev.kind == CTL_EV_PREFLIGHT)
            log_info("%s", line);
        else
            log_debug("%s", line);
    }
}

static void trace_row(struct outq *q, const struct ctl *c, const struct ecc_config *cfg,
                      double now)
{
    outq_printf(q, "%.3f,%s,%d,%d,%.2f,%.2f,%.4f,%.4f,%.1f,%.1f,%d", now, ctl_state_name(c),
            ctl_session(c), ctl_set(c), ctl_force_raw(c), ctl_force(c), ctl_speed_cmd(c),
            ctl_speed(c), cfg->band.force_low, cfg->band.force_high, ctl_loaded(c) ? 1 : 0);
}

static void drive_command(struct hal *hal, double cmd, struct loop_stats *st)
{
    /* Written every tick, not only on change: it feeds the drive's comm-loss watchdog. */
    if (hal_drive_set_speed(&hal->drive, cmd) != 0) {
        st->drive_errors++;
        log_warn("drive: setting %.3f m/s failed: %s", cmd, strerror(errno));
    }
}

/* What the controller decided for the actuators, applied: the speed, a coast stop, the operator's reset for the drive
 * and the dead-man, and the drive-enable output. */
static void actuators_apply(struct hal *hal, const struct ctl_output *out, struct loop_stats *st)
{
    drive_command(hal, out->speed, st);
    if (out->coast)
        hal_drive_fault_stop(&hal->drive);
    if (out->drive_reset) {
        if (hal_drive_reset(&hal->drive) != 0)
            log_warn("drive: fault reset failed: %s", strerror(errno));
        if (hal->inputs.reset && hal->inputs.reset(hal->inputs.ctx) != 0)
            log_warn("inputs: re-arming the drive enable failed: %s", strerror(errno));
    }
    if (hal->inputs.enable)     /* the dead-man: fed only while nothing is latched */
        hal->inputs.enable(hal->inputs.ctx, out->enable);
}

/* A late tick is counted and said; whether it latches is the safety supervisor's call. */
static void late_tick_said(const struct ctl *c, const struct ctl_input *in, struct loop_stats *st)
{
    const struct ecc_config *cfg = &c->cfg;

    st->late_ticks++;
    log_warn("loop: a tick started %.0f ms late (%ld so far); limits.loop_stall_s = %.0f ms "
             "for one, limits.loop_late_burst = %d within 10 s latch loop_late",
             in->late_s * 1000.0, st->late_ticks, cfg->limits.loop_stall_s * 1000.0,
             cfg->limits.loop_late_burst);
}

double loop_stop_timeout_s(const struct ecc_config *cfg)
{
    return 1.5 * cfg->drive.decel_time_s + cfg->drive.dead_time_s + LOOP_STOP_MARGIN_S;
}

/* Is the belt reported stopped? Where the drive reports its speed, a reading taken after
 * the command reached zero (t_zero) must say so, and so must the measured belt; without
 * drive feedback the measured belt (pulses and the model of the commanded ramp). */
static bool belt_stopped(const struct ctl *c, const struct hal_drive_status *d, double t_zero,
                         struct loop_stats *st)
{
    bool reports = d->present && d->t_speed >= 0.0 && isfinite(d->speed_mps);

    st->stop_drive_mps = reports ? d->speed_mps : NAN;
    st->stop_belt_mps = ctl_speed(c);
    if (!(fabs(st->stop_belt_mps) < LOOP_STOPPED_MPS))
        return false;
    if (!reports)
        return true;
    return !d->comm_lost && d->t_speed > t_zero && fabs(d->speed_mps) < LOOP_STOPPED_MPS;
}

/* After the last session: true once the belt is reported stopped, or once it overran the
 * timeout (st->belt_not_stopped). *t_zero: when the command reached zero (-1: not yet). */
static bool sessions_over(const struct loop_opts *o, struct loop_stats *st, const struct ctl *c,
                          const struct hal_drive_status *d, double now, double *t_zero)
{
    if (o->max_sessions <= 0 || st->sessions_done < o->max_sessions)
        return false;
    if (ctl_speed_cmd(c) != 0.0) {
        *t_zero = -1.0;         /* the command still ramps down */
        return false;
    }
    if (*t_zero < 0.0)
        *t_zero = now;
    st->t_cmd_zero = *t_zero;
    st->stop_wait_s = now - *t_zero;
    if (belt_stopped(c, d, *t_zero, st))
        return true;
    st->belt_not_stopped = st->stop_wait_s > loop_stop_timeout_s(&c->cfg);
    return st->belt_not_stopped;
}

static bool loop_done(const struct loop_opts *o, const struct loop_stats *st, double elapsed,
                      bool sessions_end)
{
    if (o->stop && *o->stop)
        return true;
    if (st->start_refused)
        return true;            /* --start could not start: nothing more will happen */
    if (o->max_time_s > 0.0 && elapsed >= o->max_time_s)
        return true;
    return sessions_end;
}

/* Start a writer for each output the run has; -1 (said) if one cannot start. */
static int outputs_open(const struct loop_opts *o, struct loop_out *out)
{
    enum outq_full full = o->realtime ? OUTQ_DROP : OUTQ_WAIT;
    FILE *const files[] = {o->rep_log, o->trace, o->human};
    struct outq **const queues[] = {&out->rep_log, &out->trace, &out->human};
    char err[128];

    memset(out, 0, sizeof *out);
    for (int i = 0; i < 3; i++)
        if (files[i] && !(*queues[i] = outq_open(files[i], 0, full, err, sizeof err))) {
            log_error("loop: %s", err);
            return -1;
        }
    return 0;
}

/* Write what is queued and stop the writers; lines a full queue dropped are counted in
 * st and said. */
static void outputs_close(struct loop_out *out, struct loop_stats *st)
{
    struct outq *const queues[] = {out->rep_log, out->trace, out->human};
    static const char *const names[] = {"rep log", "trace", "event table"};
    struct outq_stats qs;

    for (int i = 0; i < 3; i++) {
        if (!queues[i])
            continue;
        outq_stats(queues[i], &qs);
        outq_close(queues[i]);
        st->lines_dropped += qs.dropped;
        if (qs.dropped > 0)
            log_warn("loop: %ld lines of the %s were dropped: its file took too long to take "
                     "them", qs.dropped, names[i]);
        if (qs.write_errors)
            log_warn("loop: writing the %s failed: %s", names[i], strerror(qs.write_errors));
    }
    memset(out, 0, sizeof *out);
}

/* The patient's entries on the rig (the simulated patient's), for the programme's rules. */
static void checkins_apply(struct hal *hal, struct ctl *c)
{
    enum hal_checkin kind;
    int score;

    while (hal->inputs.checkin && hal->inputs.checkin(hal->inputs.ctx, &kind, &score) == 1)
        ctl_checkin(c, kind == HAL_CHECKIN_PAIN ? CTL_CHECKIN_PAIN : CTL_CHECKIN_MORNING,
                    score, true);
}

/* A simulated clock with nothing going on: the next tick is the last one on the period's
 * grid before anything happens (the rig's next event, the controller's next timed step,
 * the run's end). A real clock has no quiet_until: every period ticks. */
static double quiet_skip(const struct ctl *c, struct hal *hal, const struct loop_opts *o,
                         double t0, double next)
{
    double q;

    if (!hal->clock.quiet_until || !ctl_quiet(c))
        return next;
    q = fmin(hal->clock.quiet_until(hal->clock.ctx), ctl_next_due(c));
    if (o->max_time_s > 0.0)
        q = fmin(q, t0 + o->max_time_s);
    if (!(q > next + c->dt) || !isfinite(q))
        return next;
    return next + floor((q - next) / c->dt) * c->dt;
}

static int loop_ticks(struct ctl *c, struct hal *hal, const struct loop_opts *o,
                      const struct loop_out *qout, struct loop_stats *st)
{
    struct loop_buf buf;        /* on the stack: nothing is allocated while running */
    const double dt = c->dt;
    double t0 = hal->clock.now(hal->clock.ctx), next = t0, now = t0;
    struct ctl_input in;
    struct ctl_output out;
    double t_zero = -1.0;
    bool sessions_end = false;

    st->stop_drive_mps = st->stop_belt_mps = NAN;
    st->t_cmd_zero = -1.0;
    if (qout->trace)
        outq_printf(qout->trace, "%s", loop_trace_header());
    while (!loop_done(o, st, now - t0, sessions_end)) {
        read_inputs(hal, &buf, &in);
        in.late_s = st->ticks > 0 && in.now > next ? in.now - next : 0.0;
        st->late_s = in.late_s;
        if (in.late_s > st->late_max_s)
            st->late_max_s = in.late_s;
        if (in.late_s > c->cfg.limits.loop_late_s)
            late_tick_said(c, &in, st);
        if (o->start && !st->start_pressed &&
            (ctl_preflight(c) == PREFLIGHT_OK || ctl_fault(c) != FAULT_NONE ||
             in.now - t0 >= LOOP_PREFLIGHT_WAIT_S)) {
            in.pressed |= HAL_BTN_START;
            st->start_pressed = true;
        }
        ctl_set_clock(c, in.now, in.wall, in.utc_offset_s);
        checkins_apply(hal, c);
        if (o->on_service)
            o->on_service(o->arg, c, hal, st);
        now = in.now;
        ctl_step(c, &in, &out);
        actuators_apply(hal, &out, st);
        log_events(c, hal, o, qout, st);
        if (qout->trace)
            trace_row(qout->trace, c, &c->cfg, now);
        if (o->on_tick)
            o->on_tick(o->arg, c, now);
        sessions_end = sessions_over(o, st, c, &in.drive, now, &t_zero);
        st->ticks++;
        next += dt;
        if (hal->clock.now(hal->clock.ctx) > next) {   /* late: skip, do not catch up */
            st->overruns++;
            next = hal->clock.now(hal->clock.ctx) + dt;
        }
        next = quiet_skip(c, hal, o, t0, next);
        if (hal->clock.sleep_until(hal->clock.ctx, next) != 0) {
            hal_drive_stop(&hal->drive);
            return -1;
        }
    }
    st->t_end = now;
    hal_drive_stop(&hal->drive);
    if (hal->inputs.enable)
        hal->inputs.enable(hal->inputs.ctx, false);
    return st->belt_not_stopped ? LOOP_BELT_NOT_STOPPED : 0;
}

int loop_run(struct ctl *c, struct hal *hal, const struct loop_opts *o, struct loop_stats *st)
{
    struct loop_out qout;
    int rc;

    memset(st, 0, sizeof *st);
    if (outputs_open(o, &qout) != 0) {
        outputs_close(&qout, st);
        hal_drive_stop(&hal->drive);
        return -1;
    }
    rc = loop_ticks(c, hal, o, &qout, st);
    outputs_close(&qout, st);
    return rc;
}
