/* hal_hw.c - the hardware backend (see hal_hw.h). */
#include "hal/hal_hw.h"

#include <stdio.h>
#include <stdlib.h>

#include "hal/clock_posix.h"
#include "hal/hal_modbus.h"
#include "hal/log.h"

struct hal_hw {
    struct clock_posix clock;
    struct hal_modbus *modbus;
};

/* A rig without a pulse sensor: the belt speed comes from the drive's report. */
static int no_pulses(void *ctx, double *t, int max)
{
    (void)ctx;
    (void)t;
    (void)max;
    return 0;
}

/* No input lines wired: nothing pressed, no e-stop seen by software. */
static int no_inputs(void *ctx, struct hal_input_state *st)
{
    (void)ctx;
    st->estop = false;
    st->pressed = 0;
    return 0;
}

/* What this build can drive; the rest is refused before anything is opened. */
static int hw_supported(const struct ecc_config *cfg, char *err, size_t errlen)
{
    if (cfg->drive.type == CFG_DRIVE_SIM || cfg->loadcell.type == CFG_LOADCELL_SIM ||
        cfg->encoder.type == CFG_ENCODER_SIM)
        return snprintf(err, errlen, "rig.backend = hw, but [%s] type = sim: sim parts need "
                        "rig.backend = sim (or name the real part)",
                        cfg->drive.type == CFG_DRIVE_SIM ? "drive"
                        : cfg->loadcell.type == CFG_LOADCELL_SIM ? "loadcell" : "encoder"), -1;
    if (cfg->drive.type != CFG_DRIVE_MODBUS_RTU && cfg->drive.type != CFG_DRIVE_MODBUS_TCP)
        return snprintf(err, errlen, "[drive] type: only modbus-rtu and modbus-tcp are built "
                        "yet (pwm comes with the GPIO backends)"), -1;
    if (cfg->loadcell.type != CFG_LOADCELL_MODBUS)
        return snprintf(err, errlen, "[loadcell] type: only modbus is built yet (hx711 and iio "
                        "come with the GPIO backends)"), -1;
    if (cfg->encoder.type != CFG_ENCODER_DRIVE)
        return snprintf(err, errlen, "[encoder] type: only drive is built yet (gpio comes with "
                        "the GPIO backends)"), -1;
    if (cfg->inputs.type == CFG_INPUTS_GPIO)
        return snprintf(err, errlen, "[inputs] type: gpio is not built yet; use none (and "
                        "rely on the hardware e-stop)"), -1;
    return 0;
}

struct hal_hw *hal_hw_open(const struct ecc_config *cfg, struct hal *hal, char *err,
                           size_t errlen)
{
    struct hal_hw *h;

    if (hw_supported(cfg, err, errlen) != 0)
        return NULL;
    h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    clock_posix_init(&h->clock, &hal->clock);
    h->modbus = hal_modbus_open(cfg, clock_posix_now, &h->clock, hal, err, errlen);
    if (!h->modbus) {
        free(h);
        return NULL;
    }
    hal->encoder = (struct hal_encoder){.read = no_pulses, .ctx = h};
    hal->inputs = (struct hal_inputs){.read = no_inputs, .ctx = h};
    if (cfg->inputs.type == CFG_INPUTS_NONE)
        log_warn("inputs.type = none: eccd watches no e-stop or safety key; the hardware "
                 "e-stop must cut motor power on its own");
    return h;
}

void hal_hw_close(struct hal_hw *h)
{
    if (!h)
        return;
    hal_modbus_close(h->modbus);
    free(h);
}
