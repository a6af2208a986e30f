/* simdev.c - eccsim's simulated devices behind one lock (see simdev.h). */
#include "sim/simdev.h"

#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

int simdev_init(struct simdev *d, const struct ecc_config *cfg, const struct drive_profile *prof,
                const struct simfault_plan *plan, char *err, size_t errlen)
{
    bool hy = prof->framing == DRIVE_FRAMING_HY;
    struct simvfd_params vp = {
        .prof = *prof, .hz_per_mps = cfg->drive.hz_per_mps, .max_hz = cfg->drive.max_hz,
        .watchdog_s = hy ? 0.0 : cfg->drive.watchdog_s,     /* the HY has none to arm */
        .coast_on_fault = cfg->drive.stop_mode == CFG_STOP_COAST,
    };
    struct simlc_params lp;

    if (cfg->drive.unit_id == cfg->loadcell.unit_id) {
        snprintf(err, errlen, "[loadcell] unit_id: %d is the drive's unit id too (eccsim "
                 "serves both on one bus: give them different ids)", cfg->loadcell.unit_id);
        return -1;
    }
    memset(d, 0, sizeof *d);
    simlc_params_from_config(cfg, &lp);
    simvfd_init(&d->vfd, &vp);
    simlc_init(&d->lc, &lp);
    if (plan)
        d->plan = *plan;
    d->drive_unit = cfg->drive.unit_id;
    d->lc_unit = cfg->loadcell.unit_id;
    d->drive_hy = hy;
    d->trip_code = (unsigned)cfg->eccsim.trip_code;
    d->late_s = SIMDEV_LATE_FACTOR * cfg->drive.timeout_ms / 1000.0;
    pthread_mutex_init(&d->lock, NULL);
    clock_gettime(CLOCK_MONOTONIC, &d->t0);
    return 0;
}

void simdev_fini(struct simdev *d)
{
    pthread_mutex_destroy(&d->lock);
}

double simdev_now(const struct simdev *d)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)(ts.tv_sec - d->t0.tv_sec) + (double)(ts.tv_nsec - d->t0.tv_nsec) * 1e-9;
}

/* ---- the rig loop ------------------------------------------------------------------ */

/* A fault started or ended: apply the state faults, log every edge. */
static void on_edge(void *ctx, const struct simfault *f, bool start, double t)
{
    struct simdev *d = ctx;

    switch (f->kind) {
    case SIMFAULT_DRIVE_TRIP:
        if (start)             /* without a duration the cause is gone at once */
            simvfd_trip(&d->vfd, d->trip_code, f->duration < 0.0 ? t : simfault_end(f));
        break;
    case SIMFAULT_LC_FREEZE:
        simlc_freeze(&d->lc, start);
        break;
    case SIMFAULT_LC_SATURATE:
        simlc_saturate(&d->lc, start);
        break;
    default:
        break;                 /* the others act on each request */
    }
    log_info("fault %s %s at t=%.3f s", simfault_name(f->kind), start ? "starts" : "ends", t);
}

void simdev_tick(struct simdev *d, double t, const struct simdev_rig *in,
                 struct simdev_snapshot *snap)
{
    pthread_mutex_lock(&d->lock);
    if (in->new_sample)
        simlc_set_force(&d->lc, in->sample_n);
    simvfd_set_outputs(&d->vfd, in->motor_mps, in->force_n);
    simfault_edges(&d->plan, t, on_edge, d);
    simvfd_tick(&d->vfd, t);
    *snap = (struct simdev_snapshot){
        .belt_target_mps = simvfd_belt_target(&d->vfd),
        .setpoint_mps = simvfd_setpoint_mps(&d->vfd),
        .running = d->vfd.running, .tripped = d->vfd.tripped, .comm_loss = d->vfd.comm_loss,
        .fault_code = d->vfd.fault_code, .t_fed = d->vfd.t_fed,
    };
    pthread_mutex_unlock(&d->lock);
}

/* ---- requests ---------------------------------------------------------------------- */

enum simdev_action simdev_action(const struct simdev *d, int unit, double t)
{
    const struct simfault_plan *p = &d->plan;

    if (unit == d->drive_unit) {
        if (simfault_active(p, SIMFAULT_DRIVE_SILENT, t))
            return SIMDEV_SILENT;
        if (simfault_active(p, SIMFAULT_DRIVE_EXCEPTION, t))
            return SIMDEV_EXCEPTION;
        if (simfault_active(p, SIMFAULT_DRIVE_LATE, t))
            return SIMDEV_LATE;
        if (simfault_active(p, SIMFAULT_DRIVE_CORRUPT, t))
            return SIMDEV_CORRUPT;
    } else if (unit == d->lc_unit && simfault_active(p, SIMFAULT_LC_SILENT, t)) {
        return SIMDEV_SILENT;
    }
    return SIMDEV_ANSWER;
}

static bool is_read(int fc)
{
    return fc == MODBUS_FC_READ_HOLDING_REGISTERS || fc == MODBUS_FC_READ_INPUT_REGISTERS;
}

int simdev_execute(struct simdev *d, int unit, const struct simdev_req *r, double t,
                   uint16_t *out)
{
    bool drive = unit == d->drive_unit;

    if ((!drive && unit != d->lc_unit) || (drive && r->hy != d->drive_hy))
        return MODBUS_EXCEPTION_GATEWAY_TARGET;
    if (is_read(r->fc))
        return drive ? simvfd_read(&d->vfd, r->addr, r->count, out)
                     : simlc_read(&d->lc, r->fc, r->addr, r->count, out);
    return drive ? simvfd_write(&d->vfd, t, r->addr, r->count, r->vals)
                 : simlc_write(&d->lc, r->addr, r->count, r->vals);
}

int simdev_request(struct simdev *d, int unit, const struct simdev_req *r, int parse_exc,
                   uint16_t *out, enum simdev_action *act)
{
    int exc = parse_exc;
    double t;

    pthread_mutex_lock(&d->lock);
    t = simdev_now(d);
    d->requests++;
    *act = simdev_action(d, unit, t);
    if (*act == SIMDEV_EXCEPTION)
        exc = MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE;
    else if (*act != SIMDEV_SILENT && exc == 0)
        exc = simdev_execute(d, unit, r, t, out);
    if (*act != SIMDEV_SILENT)
        d->answered++;
    pthread_mutex_unlock(&d->lock);
    return exc;
}

bool simdev_corrupt_reply(void *arg, int unit)
{
    struct simdev *d = arg;
    bool corrupt;

    pthread_mutex_lock(&d->lock);
    corrupt = unit == d->drive_unit &&
              simfault_active(&d->plan, SIMFAULT_DRIVE_CORRUPT, simdev_now(d));
    pthread_mutex_unlock(&d->lock);
    return corrupt;
}
