/* preflight.c - the checks before the belt may move (see preflight.h). */
#include "controller/preflight.h"

#include <math.h>

static const struct {
    const char *name;
    enum preflight_part part;
    const char *text;
} verdicts[PREFLIGHT_COUNT] = {
    [PREFLIGHT_OK] = {"ok", PREFLIGHT_PART_NONE, "ready"},
    [PREFLIGHT_ESTOP] = {"estop", PREFLIGHT_PART_INPUTS,
                         "the e-stop is pressed or the safety key is out: release it"},
    [PREFLIGHT_DRIVE_SILENT] = {"drive_silent", PREFLIGHT_PART_DRIVE,
                                "the drive does not answer: check its power, wiring, unit id "
                                "and link settings"},
    [PREFLIGHT_DRIVE_TRIPPED] = {"drive_tripped", PREFLIGHT_PART_DRIVE,
                                 "the drive reports a fault of its own: clear it at the drive "
                                 "or with eccctl reset-fault"},
    [PREFLIGHT_DRIVE_RUNNING] = {"drive_running", PREFLIGHT_PART_DRIVE,
                                 "the drive reports its output running: eccd did not start it; "
                                 "stop it at the drive"},
    [PREFLIGHT_FORCE_SILENT] = {"force_silent", PREFLIGHT_PART_LOADCELL,
                                "the load cell gives no readings: check its power, wiring, "
                                "unit id, register and link settings"},
    [PREFLIGHT_FORCE_IMPLAUSIBLE] = {"force_implausible", PREFLIGHT_PART_LOADCELL,
                                     "the load cell reads a force no foot makes: check the "
                                     "register, data type, word order and scale"},
    [PREFLIGHT_FORCE_LOADED] = {"force_loaded", PREFLIGHT_PART_LOADCELL,
                                "the load cell reads a load with the session not begun: take "
                                "the foot off the belt, or tare (eccctl tare)"},
    [PREFLIGHT_BELT_MOVING] = {"belt_moving", PREFLIGHT_PART_BELT_SENSOR,
                               "the belt sensor reads the belt moving: let it come to rest"},
};

const char *preflight_name(enum preflight_verdict v)
{
    return v >= 0 && v < PREFLIGHT_COUNT ? verdicts[v].name : "unknown";
}

enum preflight_part preflight_part(enum preflight_verdict v)
{
    return v >= 0 && v < PREFLIGHT_COUNT ? verdicts[v].part : PREFLIGHT_PART_NONE;
}

const char *preflight_part_name(enum preflight_part p)
{
    switch (p) {
    case PREFLIGHT_PART_INPUTS: return "inputs";
    case PREFLIGHT_PART_DRIVE: return "drive";
    case PREFLIGHT_PART_LOADCELL: return "load cell";
    case PREFLIGHT_PART_BELT_SENSOR: return "belt sensor";
    case PREFLIGHT_PART_NONE: break;
    }
    return "rig";
}

const char *preflight_text(enum preflight_verdict v)
{
    return v >= 0 && v < PREFLIGHT_COUNT ? verdicts[v].text : "unknown check";
}

static enum preflight_verdict drive_check(const struct preflight_input *in, double *value)
{
    const struct hal_drive_status *d = in->drive;
    double age = d->t_speed >= 0.0 ? in->now - d->t_speed : INFINITY;

    if (!d->present)
        return PREFLIGHT_OK;            /* a PWM board tells nothing: nothing to check */
    *value = age;
    if (d->comm_lost || !d->healthy || !(age <= PREFLIGHT_DRIVE_FRESH_S))
        return PREFLIGHT_DRIVE_SILENT;
    *value = d->fault_code;
    if (d->tripped)
        return PREFLIGHT_DRIVE_TRIPPED;
    *value = d->speed_mps;
    if (!in->commanded && fabs(d->speed_mps) >= PREFLIGHT_STILL_MPS)
        return PREFLIGHT_DRIVE_RUNNING;
    return PREFLIGHT_OK;
}

static enum preflight_verdict force_check(const struct preflight_input *in, double *value)
{
    double age = in->t_last_force >= 0.0 ? in->now - in->t_last_force : INFINITY;

    *value = age;
    if (!(age <= in->force_stale_s))
        return PREFLIGHT_FORCE_SILENT;
    *value = in->force_raw;
    if (!isfinite(in->force_raw) || in->force_raw < -in->force_negative_n ||
        fabs(in->force_raw) >= in->force_full_scale)
        return PREFLIGHT_FORCE_IMPLAUSIBLE;
    if (in->check_zero && in->force_raw >= in->contact_n)
        return PREFLIGHT_FORCE_LOADED;
    return PREFLIGHT_OK;
}

enum preflight_verdict preflight_check(const struct preflight_input *in, double *value)
{
    enum preflight_verdict v;
    double scratch;

    if (!value)
        value = &scratch;
    *value = NAN;
    if (in->estop)
        return PREFLIGHT_ESTOP;
    if ((v = drive_check(in, value)) != PREFLIGHT_OK)
        return v;
    if ((v = force_check(in, value)) != PREFLIGHT_OK)
        return v;
    *value = in->speed_pulse;
    if (!in->commanded && isfinite(in->speed_pulse) &&
        fabs(in->speed_pulse) >= PREFLIGHT_STILL_MPS)
        return PREFLIGHT_BELT_MOVING;
    *value = NAN;
    return PREFLIGHT_OK;
}
