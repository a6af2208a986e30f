/* hal_sim.c - the sim backend (see hal_sim.h). */
#include "hal/hal_sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef ECC_SCENARIO_DIR
#define ECC_SCENARIO_DIR "/usr/local/share/eccd/scenarios"
#endif

struct hal_sim {
    struct rig *rig;
    double speed;                   /* wall-clock factor, 0 = free running */
    struct timespec wall0;          /* wall time at virtual time 0 */
    char scenario[CFG_PATH_MAX];
};

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

static int sim_sleep_until(void *ctx, double t)
{
    struct hal_sim *s = ctx;

    rig_advance(s->rig, t);
    if (s->speed > 0.0)
        wall_pace(s, t);
    return 0;
}

/* ---- devices --------------------------------------------------------------------- */

static int sim_set_speed(void *ctx, double mps)
{
    struct hal_sim *s = ctx;
    rig_set_speed(s->rig, mps);
    return 0;
}

static int sim_stop(void *ctx)
{
    struct hal_sim *s = ctx;
    rig_set_speed(s->rig, 0.0);
    return 0;
}

/* The simulated drive reports its output (motor) speed, as a VFD reports its output
 * frequency: the controller cross-checks it against the belt sensor. */
static int sim_status(void *ctx, struct hal_drive_status *st)
{
    struct hal_sim *s = ctx;

    st->present = true;
    st->healthy = true;
    st->speed_mps = rig_motor_speed(s->rig);
    st->t_speed = rig_now(s->rig);
    return 0;
}

static int sim_read_pulses(void *ctx, double *t, int max)
{
    struct hal_sim *s = ctx;
    return rig_take_pulses(s->rig, t, max);
}

static int sim_read_force(void *ctx, double *t, double *n, int max)
{
    struct hal_sim *s = ctx;
    return rig_take_force(s->rig, t, n, max);
}

static int sim_read_inputs(void *ctx, struct hal_input_state *st)
{
    struct hal_sim *s = ctx;

    st->estop = false;
    st->pressed = (rig_take_buttons(s->rig) & ATHLETE_BTN_START) ? HAL_BTN_START : 0u;
    return 0;
}

static void hal_bind(struct hal_sim *s, const struct ecc_config *cfg, struct hal *hal)
{
    hal->clock = (struct hal_clock){.now = sim_now, .sleep_until = sim_sleep_until, .ctx = s};
    hal->drive = (struct hal_drive){.set_speed = sim_set_speed, .stop = sim_stop,
                                    .status = sim_status, .cap_mps = cfg->limits.speed_max,
                                    .ctx = s};
    hal->encoder = (struct hal_encoder){.read = sim_read_pulses, .ctx = s};
    hal->force = (struct hal_force){.read = sim_read_force, .ctx = s};
    hal->inputs = (struct hal_inputs){.read = sim_read_inputs, .ctx = s};
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
        .min_in_band = cfg->rep.min_in_band,
    };
}

static struct rig_params rig_params_from(const struct ecc_config *cfg)
{
    struct rig_params rp;

    rig_defaults(&rp);
    rp.drive_accel = cfg->sim.drive_accel;
    rp.slip = cfg->sim.slip;
    rp.pulses_per_m = cfg->encoder.pulses_per_m * cfg->sim.encoder_scale;
    rp.lc_rate_hz = cfg->sim.loadcell_rate_hz;
    rp.lc_noise_n = cfg->sim.loadcell_noise_n;
    rp.lc_resolution_n = cfg->sim.loadcell_resolution_n;
    rp.seed = cfg->sim.seed;
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
    s->rig = rig_new(&rp, &ap, &judge);
    if (!s->rig) {
        snprintf(err, errlen, "cannot build the simulated rig (out of memory?)");
        free(s);
        return NULL;
    }
    s->speed = cfg->sim.speed;
    clock_gettime(CLOCK_MONOTONIC, &s->wall0);
    hal_bind(s, cfg, hal);
    return s;
}

void hal_sim_close(struct hal_sim *s)
{
    if (!s)
        return;
    rig_free(s->rig);
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
                    "\"travel_m\":%.3f,\"peak_n\":%.1f,\"in_band_share\":%.3f,\"valid\":%s}\n",
                    r[i].index, r[i].session, r[i].partial ? "true" : "false", r[i].t_contact,
                    r[i].t_release, r[i].duration_s, r[i].travel_m, r[i].peak_n,
                    r[i].in_band_share, r[i].valid ? "true" : "false") < 0)
            return -1;
    }
    return 0;
}
