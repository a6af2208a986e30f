/* hal_sim.c - the sim backend (see hal_sim.h). */
#include "sim/hal_sim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hal/calibration.h"

#ifndef ECC_SCENARIO_DIR
#define ECC_SCENARIO_DIR "/usr/local/share/eccd/scenarios"
#endif

#define QUIET_TAIL_S 1.0            /* s, load-cell samples made at the end of a quiet jump */

struct sim_fault {
    enum hal_sim_fault kind;
    double t0, t1;                  /* active over [t0, t1) */
    bool done;                      /* a loop stall has happened */
};

struct hal_sim {
    struct rig *rig;
    double speed;                   /* wall-clock factor, 0 = free running */
    struct timespec wall0;          /* wall time at virtual time 0 */
    char scenario[CFG_PATH_MAX];

    struct sim_fault faults[HAL_SIM_MAX_FAULTS];
    int n_faults;
    double full_scale_n;            /* what a saturated load cell reads */
    double last_force;              /* the newest reading given (a stuck cell repeats it) */
    struct calibration_ring *cell;  /* the load cell's samples, tare and span */
    double wanted, delivered;       /* setpoint asked for / the last one the drive got */
    bool enable_wired, enabled;     /* the dead-man (see hal_sim_opts) */
    unsigned pressed;               /* HAL_BTN_* from hal_sim_press() */
    double wall_start;              /* UTC s at virtual time 0 (sim.wall_start) */
    bool skip_quiet;                /* sim.skip_quiet: the loop may sleep over quiet hours */
    void (*on_command)(void *arg, double t, double mps);
    void *arg;
};

/* ---- faults ---------------------------------------------------------------------- */

static const char *const fault_names[HAL_SIM_FAULT_COUNT] = {
    "estop", "lc_stale", "lc_stuck", "lc_saturate", "lc_negative", "encoder_silent",
    "drive_runaway", "drive_comm", "drive_trip", "nan_speed", "lc_drift", "loop_stall",
};

const char *hal_sim_fault_name(enum hal_sim_fault kind)
{
    return (unsigned)kind < HAL_SIM_FAULT_COUNT ? fault_names[kind] : "unknown";
}

int hal_sim_add_fault(struct hal_sim *s, enum hal_sim_fault kind, double t_start,
                      double duration)
{
    if ((unsigned)kind >= HAL_SIM_FAULT_COUNT || !isfinite(t_start) || t_start < 0.0 ||
        !(duration > 0.0) || (kind == HAL_SIM_LOOP_STALL && !(duration <= 60.0))) {
        errno = EINVAL;
        return -1;
    }
    if (s->n_faults == HAL_SIM_MAX_FAULTS) {
        errno = ENOSPC;
        return -1;
    }
    s->faults[s->n_faults++] = (struct sim_fault){kind, t_start, t_start + duration, false};
    return 0;
}

bool hal_sim_fault_active(const struct hal_sim *s, enum hal_sim_fault kind, double t)
{
    for (int i = 0; i < s->n_faults; i++)
        if (s->faults[i].kind == kind && t >= s->faults[i].t0 && t < s->faults[i].t1)
            return true;
    return false;
}

void hal_sim_press(struct hal_sim *s, unsigned hal_buttons)
{
    s->pressed |= hal_buttons;
}

/* The first fault start or end in (after, until), else until. */
static double next_switch(const struct hal_sim *s, double after, double until)
{
    double b = until;

    for (int i = 0; i < s->n_faults; i++) {
        if (s->faults[i].t0 > after && s->faults[i].t0 < b)
            b = s->faults[i].t0;
        if (s->faults[i].t1 > after && s->faults[i].t1 < b)
            b = s->faults[i].t1;
    }
    return b;
}

/* What the motor really follows: the delivered setpoint, unless the drive has run away
 * or tripped (coasts), or the dead-man has cut its power. */
static void drive_apply(struct hal_sim *s)
{
    double t = rig_now(s->rig), v;

    if (!hal_sim_fault_active(s, HAL_SIM_DRIVE_COMM, t))
        s->delivered = s->wanted;
    v = s->delivered;
    if (hal_sim_fault_active(s, HAL_SIM_DRIVE_RUNAWAY, t))
        v = HAL_SIM_RUNAWAY_MPS;
    if (hal_sim_fault_active(s, HAL_SIM_DRIVE_TRIP, t) || (s->enable_wired && !s->enabled))
        v = 0.0;
    rig_set_speed(s->rig, v);
}

/* ---- the virtual clock ----------------------------------------------------------- */

static double sim_now(void *ctx)
{
    struct hal_sim *s = ctx;
    return rig_now(s->rig);
}

/* Pace to the wall clock when asked to: virtual t happens at wall0 + t / speed. */
static void wall_pace(const struct hal_sim *s, double t)
{
    struct timespec due = s->wall0;
    double off = t / s->speed;

    due.tv_sec += (time_t)off;
    due.tv_nsec += (long)((off - (double)(time_t)off) * 1e9);
    if (due.tv_nsec >= 1000000000L) {
        due.tv_sec++;
        due.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
        ;
}

/* Drive faults switch at their exact times: run the physics to each switch first. */
/* A scripted loop stall: block the calling (loop) thread for real. */
static void loop_stall(struct hal_sim *s, double t)
{
    for (int i = 0; i < s->n_faults; i++) {
        struct sim_fault *f = &s->faults[i];
        double d = f->t1 - f->t0;
        struct timespec ts = {.tv_sec = (time_t)d, .tv_nsec = (long)((d - floor(d)) * 1e9)};

        if (f->kind != HAL_SIM_LOOP_STALL || f->done || t < f->t0)
            continue;
        f->done = true;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

/* Seconds since the active fault of this kind began (0 if none is active). */
static double fault_age(const struct hal_sim *s, enum hal_sim_fault kind, double t)
{
    for (int i = 0; i < s->n_faults; i++)
        if (s->faults[i].kind == kind && t >= s->faults[i].t0 && t < s->faults[i].t1)
            return t - s->faults[i].t0;
    return 0.0;
}

/* One load-cell sample as the faulty front end gives it; false: not given at all. */
static bool lc_fault(const struct hal_sim *s, double t, double *n)
{
    if (hal_sim_fault_active(s, HAL_SIM_LC_STALE, t))
        return false;
    if (hal_sim_fault_active(s, HAL_SIM_LC_STUCK, t))
        *n = s->last_force;
    if (hal_sim_fault_active(s, HAL_SIM_LC_SATURATE, t))
        *n = s->full_scale_n;
    if (hal_sim_fault_active(s, HAL_SIM_LC_NEGATIVE, t))
        *n = HAL_SIM_NEGATIVE_N;
    if (hal_sim_fault_active(s, HAL_SIM_NAN_SPEED, t))
        *n = NAN;
    if (hal_sim_fault_active(s, HAL_SIM_LC_DRIFT, t))
        *n += HAL_SIM_DRIFT_NPS * fault_age(s, HAL_SIM_LC_DRIFT, t);
    return true;
}

/* The cell's reader: what the rig measured since the last call, as the faulty front end
 * gives it, into the calibration ring, as hx711, iio and the Modbus transmitter push
 * theirs. The readings are newtons (offset 0, scale 1 until a tare or span changes
 * them); a saturated cell sits at its rail. */
static void lc_fill(struct hal_sim *s)
{
    double t[64], n[64];
    int got;

    while ((got = rig_take_force(s->rig, t, n, 64)) > 0) {
        for (int i = 0; i < got; i++) {
            if (!lc_fault(s, t[i], &n[i]))
                continue;
            calibration_ring_push(s->cell, t[i], n[i],
                                  hal_sim_fault_active(s, HAL_SIM_LC_SATURATE, t[i]));
            if (isfinite(n[i]))
                s->last_force = n[i];
        }
    }
}

static int sim_sleep_until(void *ctx, double t)
{
    struct hal_sim *s = ctx;
    double b;

    loop_stall(s, t);
    if (s->skip_quiet && t - rig_now(s->rig) > QUIET_TAIL_S)
        rig_quiet_jump(s->rig, next_switch(s, rig_now(s->rig), t), QUIET_TAIL_S);
    while ((b = next_switch(s, rig_now(s->rig), t)) < t) {
        rig_advance(s->rig, b);
        drive_apply(s);
        lc_fill(s);
    }
    rig_advance(s->rig, t);
    drive_apply(s);
    lc_fill(s);
    if (s->speed > 0.0)
        wall_pace(s, t);
    return 0;
}

/* ---- devices --------------------------------------------------------------------- */

static int sim_set_speed(void *ctx, double mps)
{
    struct hal_sim *s = ctx;

    if (s->on_command)
        s->on_command(s->arg, rig_now(s->rig), mps);
    s->wanted = mps;
    drive_apply(s);
    return 0;
}

static int sim_stop(void *ctx)
{
    return sim_set_speed(ctx, 0.0);
}

/* The simulated drive reports its output (motor) speed, as a VFD reports its output
 * frequency: the controller cross-checks it against the belt sensor. */
static int sim_status(void *ctx, struct hal_drive_status *st)
{
    struct hal_sim *s = ctx;

    double t = rig_now(s->rig);

    st->present = true;
    st->comm_lost = hal_sim_fault_active(s, HAL_SIM_DRIVE_COMM, t);
    st->tripped = hal_sim_fault_active(s, HAL_SIM_DRIVE_TRIP, t);
    st->fault_code = st->tripped ? HAL_SIM_TRIP_CODE : 0u;
    st->healthy = !st->comm_lost && !st->tripped;
    st->speed_mps = hal_sim_fault_active(s, HAL_SIM_NAN_SPEED, t) ? NAN : rig_motor_speed(s->rig);
    st->t_speed = t;
    return 0;
}

/* Drop the pulses a silent sensor did not give. */
static int sim_read_pulses(void *ctx, double *t, int max)
{
    struct hal_sim *s = ctx;
    int n = rig_take_pulses(s->rig, t, max), k = 0;

    for (int i = 0; i < n; i++)
        if (!hal_sim_fault_active(s, HAL_SIM_ENCODER_SILENT, t[i]))
            t[k++] = t[i];
    return k;
}

static int sim_read_inputs(void *ctx, struct hal_input_state *st)
{
    struct hal_sim *s = ctx;

    st->estop = hal_sim_fault_active(s, HAL_SIM_ESTOP, rig_now(s->rig));
    st->pressed = (rig_take_buttons(s->rig) & ATHLETE_BTN_START) ? HAL_BTN_START : 0u;
    st->pressed |= s->pressed;
    s->pressed = 0;
    return 0;
}

/* The dead-man: dropped once, it stays dropped until the operator's reset. */
static int sim_enable(void *ctx, bool healthy)
{
    struct hal_sim *s = ctx;

    if (!healthy && s->enabled) {
        s->enabled = false;
        drive_apply(s);
    }
    return 0;
}

static int sim_inputs_reset(void *ctx)
{
    struct hal_sim *s = ctx;

    s->enabled = true;
    drive_apply(s);
    return 0;
}

/* Quiet until the rig's next event or a scripted fault's switch; never while paced to the
 * wall clock (sim.speed > 0: a person watches it). */
static double sim_quiet_until(void *ctx)
{
    struct hal_sim *s = ctx;
    double now = rig_now(s->rig);

    if (s->speed > 0.0)
        return now;
    return next_switch(s, now, rig_quiet_until(s->rig));
}

static int sim_checkin(void *ctx, enum hal_checkin *kind, int *score)
{
    struct hal_sim *s = ctx;
    struct patient_checkin_rec ck;

    if (!rig_take_checkin(s->rig, &ck))
        return 0;
    *kind = ck.kind == PATIENT_PAIN ? HAL_CHECKIN_PAIN : HAL_CHECKIN_MORNING;
    *score = ck.score;
    return 1;
}

/* The simulated wall clock runs with the virtual one, in UTC. */
static double sim_wall(void *ctx, int *utc_offset_s)
{
    struct hal_sim *s = ctx;

    if (utc_offset_s)
        *utc_offset_s = 0;
    return s->wall_start + rig_now(s->rig);
}

static void hal_bind(struct hal_sim *s, const struct ecc_config *cfg, struct hal *hal)
{
    hal->clock = (struct hal_clock){.now = sim_now, .sleep_until = sim_sleep_until,
                                    .wall = sim_wall,
                                    .quiet_until = cfg->sim.skip_quiet ? sim_quiet_until : NULL,
                                    .ctx = s};
    hal->drive = (struct hal_drive){.set_speed = sim_set_speed, .stop = sim_stop,
                                    .status = sim_status, .cap_mps = cfg->limits.speed_max,
                                    .ctx = s};
    hal->encoder = (struct hal_encoder){.read = sim_read_pulses, .ctx = s};
    calibration_ring_hal(s->cell, &hal->force);
    s->wall_start = cfg->sim.wall_start;
    s->skip_quiet = cfg->sim.skip_quiet;
    hal->inputs = (struct hal_inputs){.read = sim_read_inputs, .checkin = sim_checkin,
                                      .ctx = s};
    if (s->enable_wired) {
        hal->inputs.enable = sim_enable;
        hal->inputs.reset = sim_inputs_reset;
    }
}

/* ---- set-up ---------------------------------------------------------------------- */

static bool is_bare_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && !strchr(s, '/') && !(n > 4 && strcmp(s + n - 4, ".ini") == 0);
}

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

int hal_sim_find_scenario(const struct ecc_config *cfg, char *out, size_t outlen)
{
    const char *name = cfg->sim.scenario;
    char rel[CFG_PATH_MAX + 32];
    int n;

    if (!is_bare_name(name))
        return config_resolve_path(cfg, name, out, outlen);
    n = snprintf(rel, sizeof rel, "../sim/scenarios/%s.ini", name);
    if (n > 0 && (size_t)n < sizeof rel && cfg->path[0] &&
        config_resolve_path(cfg, rel, out, outlen) == 0 && readable(out))
        return 0;
    n = snprintf(out, outlen, "%s/%s.ini", ECC_SCENARIO_DIR, name);
    if (n > 0 && (size_t)n < outlen && readable(out))
        return 0;
    n = snprintf(out, outlen, "sim/scenarios/%s.ini", name);
    if (n > 0 && (size_t)n < outlen && readable(out))
        return 0;
    errno = ENOENT;
    return -1;
}

static struct athlete_judge judge_from(const struct ecc_config *cfg)
{
    return (struct athlete_judge){
        .contact_n = cfg->rep.contact_n, .release_n = cfg->rep.release_n,
        .force_low = cfg->band.force_low, .force_high = cfg->band.force_high,
        .min_stroke_s = cfg->rep.min_stroke_s, .min_travel_m = cfg->rep.min_travel_m,
        .min_in_band = cfg->rep.min_in_band, .landing_s = cfg->rep.landing_s,
    };
}

static struct rig_params rig_params_from(const struct ecc_config *cfg)
{
    struct rig_params rp;

    rig_defaults(&rp);
    rp.drive_accel = cfg->sim.drive_accel;
    rp.drive_dead_s = cfg->sim.drive_dead_s;
    rp.slip = cfg->sim.slip;
    rp.pulses_per_m = cfg->encoder.pulses_per_m * cfg->sim.encoder_scale;
    rp.lc_rate_hz = cfg->sim.loadcell_rate_hz;
    rp.lc_noise_n = cfg->sim.loadcell_noise_n;
    rp.lc_resolution_n = cfg->sim.loadcell_resolution_n;
    rp.seed = cfg->sim.seed;
    rp.wall_start = cfg->sim.wall_start;
    return rp;
}

/* The athlete follows the configured protocol: it waits out the configured rest. */
static int athlete_params_from(const struct ecc_config *cfg, const struct hal_sim_opts *opts,
                               const char *path, struct athlete_params *ap, char *err,
                               size_t errlen)
{
    athlete_defaults(ap);
    if (athlete_load(ap, path, err, errlen) != 0)
        return -1;
    ap->rest_wait_s = cfg->protocol.rest_s + 2.0;
    ap->sets_per_session = cfg->protocol.sets_per_session;
    ap->reactive = cfg->control.mode == CFG_MODE_REACTIVE;
    if (opts && opts->sessions > 0)
        ap->sessions = opts->sessions;
    return 0;
}

struct hal_sim *hal_sim_open(const struct ecc_config *cfg, const struct hal_sim_opts *opts,
                             struct hal *hal, char *err, size_t errlen)
{
    struct hal_sim *s = calloc(1, sizeof *s);
    struct athlete_params ap;
    struct athlete_judge judge = judge_from(cfg);
    struct rig_params rp = rig_params_from(cfg);

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (hal_sim_find_scenario(cfg, s->scenario, sizeof s->scenario) != 0) {
        snprintf(err, errlen, "[sim] scenario: cannot find scenario '%s' (a name such as "
                 "normal, strong, weak, partial, spiky, or a path to an .ini file)",
                 cfg->sim.scenario);
        free(s);
        return NULL;
    }
    if (athlete_params_from(cfg, opts, s->scenario, &ap, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    s->rig = rig_open(&rp, &ap, &judge);
    if (!s->rig) {
        snprintf(err, errlen, "cannot build the simulated rig (out of memory?)");
        free(s);
        return NULL;
    }
    /* The rig gives newtons: the cell starts at offset 0, scale 1, and keeps no file. */
    struct calibration_ring_params cp = {
        .cal = {.offset = 0.0, .scale = 1.0}, .full_scale_n = cfg->loadcell.full_scale_n,
        .ring_len = RIG_QUEUE, .cal_readings = (int)cfg->sim.loadcell_rate_hz,
        .span_change_max = cfg->loadcell.span_change_max,
    };
    s->cell = calibration_ring_open(&cp, err, errlen);
    if (!s->cell) {
        rig_close(s->rig);
        free(s);
        return NULL;
    }
    s->speed = cfg->sim.speed;
    s->full_scale_n = cfg->loadcell.full_scale_n;
    s->enabled = true;
    if (opts) {
        s->enable_wired = opts->enable_wired;
        s->on_command = opts->on_command;
        s->arg = opts->arg;
    }
    clock_gettime(CLOCK_MONOTONIC, &s->wall0);
    hal_bind(s, cfg, hal);
    return s;
}

void hal_sim_close(struct hal_sim *s)
{
    if (!s)
        return;
    rig_close(s->rig);
    calibration_ring_close(s->cell);
    free(s);
}

struct rig *hal_sim_rig(struct hal_sim *s)
{
    return s->rig;
}

const char *hal_sim_scenario_path(const struct hal_sim *s)
{
    return s->scenario;
}

int hal_sim_write_truth(const struct hal_sim *s, FILE *out)
{
    int n;
    const struct stroke_record *r = athlete_strokes(rig_athlete(s->rig), &n);

    for (int i = 0; i < n; i++) {
        if (fprintf(out,
                    "{\"event\":\"stroke\",\"index\":%d,\"session\":%d,\"partial\":%s,"
                    "\"t_contact\":%.3f,\"t_release\":%.3f,\"duration_s\":%.3f,"
                    "\"travel_m\":%.3f,\"peak_n\":%.1f,\"t_lift\":%.3f,\"window_s\":%.4f,"
                    "\"window_in_band_s\":%.4f,\"in_band_share\":%.3f,\"effort_n\":%.1f,"
                    "\"valid\":%s}\n",
                    r[i].index, r[i].session, r[i].partial ? "true" : "false", r[i].t_contact,
                    r[i].t_release, r[i].duration_s, r[i].travel_m, r[i].peak_n, r[i].t_lift,
                    r[i].window_s, r[i].window_in_band_s, r[i].in_band_share, r[i].effort_n,
                    r[i].valid ? "true" : "false") < 0)
            return -1;
    }
    return 0;
}
