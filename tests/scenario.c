/* scenario.c - closed-loop runs of the real loop on the simulated rig (see scenario.h). */
#include "tests/scenario.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daemon/loop.h"
#include "sim/hal_sim.h"
#include "sim/rig.h"

struct watch {
    struct scn_result *r;
    struct rig *rig;
    double prev_cmd;
    double dt;
    double drive_up;                    /* m/s^2, the drive's ramp as the config states it */
    double t_loaded;                    /* s, last tick the true force was >= engage_n */
    double t_unload, v_unload;          /* s, m/s: when the foot last came off, belt then */
    bool landed;                        /* true force above contact_n */
};

/* Reactive mode's promises, on the truth: after the foot is off (true force below
 * engage_n for SCN_UNLOAD_S) the command never rises; a landing that comes later than
 * the drive can stop the belt (its own decel ramp from the speed at the unload, its
 * dead time, plus the unload's detection) finds the belt at rest. */
static void watch_landings(struct watch *w, double cmd, double now)
{
    struct scn_result *r = w->r;
    const struct ecc_config *cfg = &r->cfg;
    double f = rig_true_force(w->rig), v = rig_belt_speed(w->rig);

    if (now - w->t_loaded > SCN_UNLOAD_S && cmd > w->prev_cmd + 1e-12)
        r->rose_unloaded++;
    if (w->landed && f < cfg->rep.release_n) {
        w->landed = false;
        w->t_unload = now;
        w->v_unload = v;
    } else if (!w->landed && f > cfg->rep.contact_n) {
        double stop_s = w->v_unload / cfg->sim.drive_accel + cfg->sim.drive_dead_s +
                        SCN_UNLOAD_S + 2.0 * w->dt;
        w->landed = true;
        r->landings++;
        if (w->t_unload > 0.0 && now - w->t_unload > stop_s) {
            r->landings_late++;
            if (v > SCN_AT_REST_MPS)
                r->landings_moving++;
        }
    }
}

/* "The belt moves only while loaded": once the true foot force has stayed below
 * engage_n for longer than the stop ramp from speed_max, the command must be zero. */
static void watch_unloaded(struct watch *w, double cmd, double now)
{
    const struct ecc_config *cfg = &w->r->cfg;
    double grace = cfg->limits.speed_max / cfg->limits.stop_decel + 0.1;

    if (rig_true_force(w->rig) >= cfg->control.engage_n)
        w->t_loaded = now;
    else if (now - w->t_loaded > grace && cmd != 0.0)
        w->r->moved_unloaded++;
}

static void watch_tick(void *arg, const struct ctl *c, double now)
{
    struct watch *w = arg;
    struct scn_result *r = w->r;
    double cmd = ctl_speed_cmd(c), slew = (cmd - w->prev_cmd) / w->dt;
    double motor = rig_motor_speed(w->rig);
    /* Rising: the running slew limit and the drive's ramp. Falling: a stop may use the
     * (faster) stop ramp, and a command held back to the lagging belt may drop to it. */
    double limit = slew >= 0 ? fmin(r->cfg.limits.accel, w->drive_up)
                             : fmax(r->cfg.limits.accel, r->cfg.limits.stop_decel);
    bool to_belt = slew < 0 && cmd <= motor + r->cfg.control.lead_margin + 1e-9;

    watch_unloaded(w, cmd, now);
    watch_landings(w, cmd, now);
    if (ctl_fault(c) != FAULT_NONE && cmd != 0.0)
        r->moved_while_latched++;
    if (ctl_fault(c) != FAULT_NONE) {   /* a fault's stop is a step to zero, by design */
        w->prev_cmd = cmd;
        r->final_cmd = cmd;
        return;
    }
    if (cmd > r->max_cmd)
        r->max_cmd = cmd;
    if (rig_belt_speed(w->rig) > r->max_belt)
        r->max_belt = rig_belt_speed(w->rig);
    if (fabs(slew) > limit * (1.0 + 1e-9) && !to_belt)
        r->slew_violations++;
    if (cmd > 0.0 && cmd - motor > r->max_lead)
        r->max_lead = cmd - motor;
    if (fabs(slew) > r->worst_slew)
        r->worst_slew = fabs(slew);
    w->prev_cmd = cmd;
    r->final_cmd = cmd;
}

static void watch_event(void *arg, const struct ctl_event *ev)
{
    struct scn_result *r = ((struct watch *)arg)->r;

    switch (ev->kind) {
    case CTL_EV_REP:
    case CTL_EV_REJECT:
        if (r->n_judged < SCN_MAX_STROKES)
            r->judged[r->n_judged++] = *ev;
        if (ev->kind == CTL_EV_REP)
            r->counted++;
        else
            r->rejected++;
        break;
    case CTL_EV_SET: r->sets_done++; break;
    case CTL_EV_DRIVE_SLOW:
        if (r->drive_slow++ == 0)
            r->drive_slow_mps2 = ev->value;
        break;
    case CTL_EV_FAULT:
        if (r->faults++ == 0) {
            r->fault = ev->fault;
            r->t_fault = ev->t;
        }
        break;
    default: break;
    }
}

static int scn_config(const char *scenario, unsigned seed, const char *const *overrides,
                      struct ecc_config *cfg)
{
    char err[512], kv[CFG_PATH_MAX + 32];

    if (config_load(cfg, "config/sim.ini", err, sizeof err) != 0)
        goto bad;
    snprintf(kv, sizeof kv, "sim.scenario=%s", scenario);
    if (config_set(cfg, kv, err, sizeof err) != 0)
        goto bad;
    snprintf(kv, sizeof kv, "sim.seed=%u", seed);
    if (config_set(cfg, kv, err, sizeof err) != 0)
        goto bad;
    for (; overrides && *overrides; overrides++)
        if (config_set(cfg, *overrides, err, sizeof err) != 0)
            goto bad;
    if (config_check(cfg, err, sizeof err) != 0)
        goto bad;
    return 0;
bad:
    fprintf(stderr, "scenario %s: %s\n", scenario, err);
    return -1;
}

static void collect_truth(struct scn_result *r, const struct rig *rig)
{
    int n;
    const struct stroke_record *s = athlete_strokes(rig_athlete(rig), &n);
    double share_sum = 0.0;
    int share_n = 0;

    r->n_truth = n < SCN_MAX_STROKES ? n : SCN_MAX_STROKES;
    r->truth_in_band_min = 1.0;
    for (int i = 0; i < r->n_truth; i++) {
        r->truth[i] = s[i];
        r->truth_valid += s[i].valid;
        if (s[i].t_first_band < 0.0)
            continue;
        share_sum += s[i].in_band_share;
        share_n++;
        if (s[i].in_band_share < r->truth_in_band_min)
            r->truth_in_band_min = s[i].in_band_share;
    }
    r->truth_in_band = share_n ? share_sum / share_n : 0.0;
}

int scn_run(const char *scenario, unsigned seed, int sessions, const char *const *overrides,
            struct scn_result *r)
{
    static struct ctl ctl;
    struct hal_sim_opts so = {.sessions = sessions};
    struct watch w = {.r = r};
    struct loop_opts lo = {.max_sessions = sessions, .max_time_s = 4000.0 * sessions,
                           .on_tick = watch_tick, .on_event = watch_event, .arg = &w};
    struct loop_stats st;
    struct hal hal;
    struct hal_sim *sim;
    char err[512];

    memset(r, 0, sizeof *r);
    if (scn_config(scenario, seed, overrides, &r->cfg) != 0)
        return -1;
    sim = hal_sim_open(&r->cfg, &so, &hal, err, sizeof err);
    if (!sim) {
        fprintf(stderr, "scenario %s: %s\n", scenario, err);
        return -1;
    }
    w.rig = hal_sim_rig(sim);
    w.dt = 1.0 / r->cfg.loop.rate_hz;
    w.drive_up = r->cfg.drive.max_hz / r->cfg.drive.hz_per_mps / r->cfg.drive.accel_time_s;
    ctl_init(&ctl, &r->cfg);
    loop_run(&ctl, &hal, &lo, &st);
    r->sessions_done = st.sessions_done;
    r->ticks = st.ticks;
    /* The set's end as bench-control times it: the command at zero after the session,
     * not the loop's end, which waits a second more for the drive to stop the belt. */
    r->t_end = st.t_cmd_zero >= 0.0 ? st.t_cmd_zero : st.t_end;
    collect_truth(r, w.rig);
    hal_sim_close(sim);
    return 0;
}

/* Strokes are paired in order; a pair must agree on when the stroke began (within
 * the filter's lag and a sample or two) and on whether it was valid. */
void scn_compare(struct scn_result *r, bool verbose)
{
    int n = r->n_judged > r->n_truth ? r->n_judged : r->n_truth;

    r->mismatched = 0;
    for (int i = 0; i < n; i++) {
        const struct ctl_event *j = i < r->n_judged ? &r->judged[i] : NULL;
        const struct stroke_record *t = i < r->n_truth ? &r->truth[i] : NULL;
        bool ok = j && t && fabs(j->fig.t_start - t->t_contact) < 0.25 &&
                  (j->fig.verdict == REP_COUNTED) == t->valid;

        if (ok)
            continue;
        r->mismatched++;
        if (!verbose)
            continue;
        printf("  stroke %d: controller %s at %.2f s (share %.2f, travel %.2f m, %.2f s) | "
               "athlete %s at %.2f s (share %.2f, travel %.2f m, %.2f s)\n", i + 1,
               j ? rep_verdict_name(j->fig.verdict) : "-", j ? j->fig.t_start : 0.0,
               j ? j->fig.in_band_share : 0.0, j ? j->fig.travel_m : 0.0,
               j ? j->fig.duration_s : 0.0, t ? (t->valid ? "valid" : "invalid") : "-",
               t ? t->t_contact : 0.0, t ? t->in_band_share : 0.0, t ? t->travel_m : 0.0,
               t ? t->duration_s : 0.0);
    }
}

/* ---- fault injection (see scenario.h) --------------------------------------------- */

/* The loop's clock is a sum of periods: the tick "at 10 s" runs at 10 - 2e-12 s and
 * already sees the load-cell sample stamped 10 s. Times within this are the same time. */
#define SCN_T_EPS 1e-6

struct fault_watch {
    const struct scn_fault_case *fc;
    struct scn_fault_result *r;
    struct hal_sim *sim;
    struct rig *rig;
    double limit;                       /* m/s, the overspeed limit */
    double last_cmd;                    /* m/s, the drive's newest command */
    double next_press;                  /* s, the operator's next start press */
    bool reset_pressed, ramp_done;
    double ramp_prev;                   /* m/s, previous command on the restart ramp */
};

/* After the reset: the first non-zero commands, until they stop rising. */
static void restart_track(struct fault_watch *w, double t, double mps)
{
    struct scn_fault_result *r = w->r;

    if (r->t_reset < 0.0 || w->ramp_done || (r->t_restart < 0.0 && mps == 0.0))
        return;
    if (r->t_restart < 0.0) {
        r->t_restart = t;
        r->restart_first = mps;
        r->restart_max_step = mps;
    } else if (mps <= w->ramp_prev) {
        r->restart_hold = w->ramp_prev;
        w->ramp_done = true;
    } else if (mps - w->ramp_prev > r->restart_max_step) {
        r->restart_max_step = mps - w->ramp_prev;
    }
    w->ramp_prev = mps;
}

static void fault_command(void *arg, double t, double mps)
{
    struct fault_watch *w = arg;
    struct scn_fault_result *r = w->r;

    w->last_cmd = mps;
    if (!isfinite(mps))
        r->nonfinite_cmds++;
    if (t < w->fc->onset - SCN_T_EPS)
        r->cmd_at_onset = mps;
    else if (r->t_stop < 0.0 && mps == 0.0)
        r->t_stop = t;
    restart_track(w, t, mps);
}

/* The operator: hammers start while latched, then resets and starts once. */
static void operator_act(struct fault_watch *w, const struct ctl *c, double now)
{
    if (!w->reset_pressed && w->fc->reset_at > 0.0 && now >= w->fc->reset_at) {
        hal_sim_press(w->sim, HAL_BTN_RESET);
        w->reset_pressed = true;
        w->next_press = now + SCN_REPRESS_S;
        return;
    }
    if (now < w->next_press || (!w->reset_pressed && ctl_fault(c) == FAULT_NONE))
        return;
    hal_sim_press(w->sim, HAL_BTN_START);
    w->next_press = w->reset_pressed ? INFINITY : now + SCN_REPRESS_S;
}

static void fault_tick(void *arg, const struct ctl *c, double now)
{
    struct fault_watch *w = arg;
    struct scn_fault_result *r = w->r;
    double belt = rig_belt_speed(w->rig);

    if (ctl_fault(c) != FAULT_NONE && w->last_cmd != 0.0)
        r->moved_while_latched++;
    if (r->t_over < 0.0 && belt > w->limit)
        r->t_over = now;
    if (r->t_latch >= 0.0 && r->t_belt_zero < 0.0 && belt == 0.0)
        r->t_belt_zero = now;
    operator_act(w, c, now);
}

static void fault_event(void *arg, const struct ctl_event *ev)
{
    struct fault_watch *w = arg;
    struct scn_fault_result *r = w->r;

    if (ev->kind == CTL_EV_FAULT && r->faults++ == 0) {
        r->fault = ev->fault;
        r->t_latch = ev->t;
        w->next_press = ev->t + SCN_REPRESS_S;
    } else if (ev->kind == CTL_EV_COMMAND && ev->cmd == CTL_CMD_START &&
               ev->result == CTL_REFUSED_FAULT) {
        r->starts_refused++;
    } else if (ev->kind == CTL_EV_RESET) {
        r->t_reset = ev->t;
    }
}

static void fault_result_init(struct scn_fault_result *r)
{
    memset(r, 0, sizeof *r);
    r->t_latch = r->t_stop = r->t_over = r->t_belt_zero = -1.0;
    r->t_reset = r->t_restart = -1.0;
}

int scn_fault_run(const struct scn_fault_case *fc, unsigned seed, struct scn_fault_result *r)
{
    static struct ctl ctl;
    struct fault_watch w = {.fc = fc, .r = r, .next_press = INFINITY};
    struct hal_sim_opts so = {.sessions = 1, .enable_wired = true,
                              .on_command = fault_command, .arg = &w};
    struct loop_opts lo = {.max_time_s = fc->t_end, .on_tick = fault_tick,
                           .on_event = fault_event, .arg = &w};
    struct loop_stats st;
    struct hal hal;
    char err[512];

    fault_result_init(r);
    if (scn_config("normal", seed, NULL, &r->cfg) != 0)
        return -1;
    w.sim = hal_sim_open(&r->cfg, &so, &hal, err, sizeof err);
    if (!w.sim || hal_sim_add_fault(w.sim, fc->kind, fc->onset, fc->duration) != 0) {
        fprintf(stderr, "fault %s: %s\n", hal_sim_fault_name(fc->kind),
                w.sim ? "cannot schedule the fault" : err);
        hal_sim_close(w.sim);
        return -1;
    }
    w.rig = hal_sim_rig(w.sim);
    w.limit = r->cfg.limits.speed_max * (1.0 + r->cfg.limits.overspeed_margin);
    ctl_init(&ctl, &r->cfg);
    loop_run(&ctl, &hal, &lo, &st);
    r->drive_errors = st.drive_errors;
    hal_sim_close(w.sim);
    return 0;
}
