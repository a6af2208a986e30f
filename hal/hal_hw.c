/* hal_hw.c - the hardware backend (see hal_hw.h): the real clock plus the parts the
 * config names. Each part is opened by one small function; what cannot go together is
 * refused before anything is opened, with the key to change. */
#include "hal/hal_hw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hal/clock_posix.h"
#include "hal/drive_hy.h"
#include "hal/drive_profile.h"
#include "hal/drive_pwm.h"
#include "hal/encoder_gpio.h"
#include "hal/gpio.h"
#include "hal/hal_modbus.h"
#include "hal/hx711.h"
#include "hal/inputs_gpio.h"
#include "hal/loadcell_iio.h"
#include "util/log.h"

struct hal_hw {
    struct clock_posix clock;
    struct hal_modbus *modbus;          /* drive and/or load cell over Modbus */
    struct drive_hy *hy;                /* a Huanyang HY drive on its own line */
    enum hal_hw_part failed;            /* the part that did not open */
    struct drive_pwm *pwm;
    struct encoder_gpio *encoder;
    struct hx711 *hx711;
    struct loadcell_iio *iio;
    struct inputs_gpio *inputs;
};

/* ---- parts that are not there ------------------------------------------------------- */

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

static int inputs_enable(void *ctx, bool healthy)
{
    return inputs_gpio_enable(ctx, healthy);
}

/* A tripped dead-man stays low until the operator resets (never by itself). */
static int inputs_rearm(void *ctx)
{
    inputs_gpio_enable_rearm(ctx);
    return 0;
}

/* ---- what goes together ------------------------------------------------------------- */

/* A drive on a serial or TCP link, Modbus or the HY's own framing: it reports its speed. */
static bool is_modbus_drive(const struct ecc_config *cfg)
{
    return cfg->drive.type == CFG_DRIVE_MODBUS_RTU || cfg->drive.type == CFG_DRIVE_MODBUS_TCP;
}

/* drive.profile = huanyang-hy on modbus-rtu (config_check refuses it on TCP). */
static bool is_hy_drive(const struct ecc_config *cfg)
{
    return cfg->drive.type == CFG_DRIVE_MODBUS_RTU &&
           drive_profile_framing(cfg->drive.profile) == DRIVE_FRAMING_HY;
}

static int refuse(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

static int hw_supported(const struct ecc_config *cfg, char *err, size_t errlen)
{
    if (cfg->drive.type == CFG_DRIVE_SIM || cfg->loadcell.type == CFG_LOADCELL_SIM ||
        cfg->encoder.type == CFG_ENCODER_SIM)
        return snprintf(err, errlen, "rig.backend = hw, but [%s] type = sim: sim parts need "
                        "rig.backend = sim (or name the real part)",
                        cfg->drive.type == CFG_DRIVE_SIM ? "drive"
                        : cfg->loadcell.type == CFG_LOADCELL_SIM ? "loadcell" : "encoder"), -1;
    if (cfg->loadcell.type == CFG_LOADCELL_MODBUS && !is_modbus_drive(cfg))
        return refuse(err, errlen, "[loadcell] type = modbus needs a Modbus drive ([drive] type "
                      "modbus-rtu or modbus-tcp); with a PWM drive use hx711 or iio");
    if (cfg->encoder.type == CFG_ENCODER_DRIVE && !is_modbus_drive(cfg))
        return refuse(err, errlen, "[encoder] type = drive needs a drive that reports its "
                      "speed (modbus-rtu or modbus-tcp); a PWM board reports nothing: use gpio");
    return 0;
}

/* ---- opening the parts ---------------------------------------------------------------- */

/* A part did not open: say which (the daemon adds the fix --check-config gives for it). */
static int failed(struct hal_hw *h, enum hal_hw_part part)
{
    h->failed = part;
    return -1;
}

/* A Modbus part that did not open: its messages start with the section of the key. */
static enum hal_hw_part modbus_part(const char *err)
{
    if (strncmp(err, "[loadcell] calibration", 22) == 0)
        return HAL_HW_PART_NONE;     /* the file, not the device: its message says so */
    return strncmp(err, "[loadcell]", 10) == 0 ? HAL_HW_LOADCELL_DEVICE : HAL_HW_DRIVE_DEVICE;
}

static char parity_char(enum cfg_parity p)
{
    return p == CFG_PARITY_EVEN ? 'E' : p == CFG_PARITY_ODD ? 'O' : 'N';
}

static void hy_params(const struct ecc_config *cfg, struct drive_hy_params *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->link.device, sizeof p->link.device, "%s", cfg->drive.device);
    p->link.baud = cfg->drive.baud;
    p->link.parity = parity_char(cfg->drive.parity);
    p->link.data_bits = cfg->drive.data_bits;
    p->link.stop_bits = cfg->drive.stop_bits;
    p->link.min_gap_ms = cfg->drive.min_gap_ms;
    p->link.timeout_ms = cfg->drive.timeout_ms;
    p->link.retries = cfg->drive.retries;
    p->addr = cfg->drive.unit_id;
    p->hz_per_mps = cfg->drive.hz_per_mps;
    p->max_hz = cfg->drive.max_hz;
    p->refresh_s = cfg->drive.watchdog_s / 4.0;
    p->period_s = 1.0 / cfg->loop.rate_hz;     /* once per control tick, line allowing */
    p->fail_after = cfg->drive.fail_after;
    p->healthy_after = cfg->drive.healthy_after;
}

/* The HY drive on its own serial line, with its own I/O thread. */
static int open_hy(struct hal_hw *h, const struct ecc_config *cfg, struct hal *hal, char *err,
                   size_t errlen)
{
    struct drive_hy_params p;
    char why[256];

    if (access(cfg->drive.device, R_OK | W_OK) < 0)
        return snprintf(err, errlen, "[drive] device: %s: %s", cfg->drive.device,
                        strerror(errno)), -1;
    hy_params(cfg, &p);
    h->hy = drive_hy_open(&p, clock_posix_now, &h->clock, why, sizeof why);
    if (!h->hy)
        return snprintf(err, errlen, "[drive] profile: %s", why), -1;
    if (drive_hy_start(h->hy) != 0)
        return snprintf(err, errlen, "[drive] type: cannot start the HY drive's thread: %s",
                        strerror(errno)), -1;
    hal->drive = drive_hy_hal(h->hy, cfg->limits.speed_max);
    if (cfg->inputs.enable_line < 0)
        log_warn("drive.profile = %s: the HY has no comm-loss stop of its own, so if eccd "
                 "dies the belt runs on at its last speed until the e-stop; wire the "
                 "drive-enable dead-man (inputs.enable_line, docs/drives.md)", CFG_PROFILE_HY);
    return 0;
}

static int open_drive(struct hal_hw *h, const struct ecc_config *cfg, struct hal *hal,
                      char *err, size_t errlen)
{
    struct drive_pwm_params pp;

    if (is_hy_drive(cfg)) {
        if (open_hy(h, cfg, hal, err, errlen) != 0)
            return -1;
        if (cfg->loadcell.type != CFG_LOADCELL_MODBUS)
            return 0;
        /* The transmitter on its own link (config_check: never the HY's line). */
        h->modbus = hal_modbus_open(cfg, clock_posix_now, &h->clock, hal, err, errlen);
        return h->modbus ? 0 : -1;
    }
    if (is_modbus_drive(cfg)) {
        /* Also opens a Modbus load cell (loadcell.type = modbus) on its bus. */
        h->modbus = hal_modbus_open(cfg, clock_posix_now, &h->clock, hal, err, errlen);
        return h->modbus ? 0 : failed(h, modbus_part(err));
    }
    drive_pwm_params_from_config(cfg, &pp);
    h->pwm = drive_pwm_open(&pp, err, errlen);
    if (!h->pwm)
        return failed(h, HAL_HW_PWM);
    hal->drive = drive_pwm_hal(h->pwm, cfg->limits.speed_max);
    return 0;
}

static int started(int rc, const char *what, char *err, size_t errlen)
{
    if (rc != 0)
        snprintf(err, errlen, "[loadcell] type: cannot start the %s reader thread", what);
    return rc;
}

/* An HX711 or the kernel's IIO driver; a Modbus transmitter is opened with the drive
 * (hal_modbus). Either way the samples, tare and span are the front end's calibration
 * ring, which struct hal_force is bound to (calibration_ring_hal). */
static int open_loadcell(struct hal_hw *h, const struct ecc_config *cfg, struct hal *hal,
                         char *err, size_t errlen)
{
    struct calibration_ring_params ring;
    struct calibration_ring *r;
    char cal[CFG_PATH_MAX];

    if (cfg->loadcell.type != CFG_LOADCELL_HX711 && cfg->loadcell.type != CFG_LOADCELL_IIO)
        return 0;
    if (calibration_ring_params_from_config(cfg, &ring, cal, sizeof cal, err, errlen) != 0)
        return -1;
    if (cfg->loadcell.type == CFG_LOADCELL_HX711) {
        struct hx711_params p;
        hx711_params_from_config(cfg, &gpio_libgpiod, &p);
        p.ring = ring;
        h->hx711 = hx711_open(&p, clock_posix_now, &h->clock, err, errlen);
        if (!h->hx711)
            return failed(h, HAL_HW_HX711_CHIP);
        if (started(hx711_start(h->hx711), "hx711", err, errlen) != 0)
            return -1;
        r = hx711_ring(h->hx711);
    } else {
        struct loadcell_iio_params p;
        loadcell_iio_params_from_config(cfg, &p);
        p.ring = ring;
        h->iio = loadcell_iio_open(&p, clock_posix_now, &h->clock, err, errlen);
        if (!h->iio)
            return failed(h, HAL_HW_IIO);
        if (started(loadcell_iio_start(h->iio), "iio", err, errlen) != 0)
            return -1;
        r = loadcell_iio_ring(h->iio);
    }
    calibration_ring_hal(r, &hal->force);
    return 0;
}

static int open_encoder(struct hal_hw *h, const struct ecc_config *cfg, struct hal *hal,
                        char *err, size_t errlen)
{
    struct encoder_gpio_params p;

    if (cfg->encoder.type != CFG_ENCODER_GPIO) {
        hal->encoder = (struct hal_encoder){.read = no_pulses, .ctx = h};
        return 0;
    }
    /* Edge events carry CLOCK_MONOTONIC stamps; the HAL clock counts from clock.t0. */
    encoder_gpio_params_from_config(cfg, &gpio_libgpiod, h->clock.t0, &p);
    h->encoder = encoder_gpio_open(&p, err, errlen);
    if (!h->encoder)
        return failed(h, HAL_HW_ENCODER_CHIP);
    hal->encoder = (struct hal_encoder){.read = encoder_gpio_read, .ctx = h->encoder};
    return 0;
}

static int open_inputs(struct hal_hw *h, const struct ecc_config *cfg, struct hal *hal,
                       char *err, size_t errlen)
{
    struct inputs_gpio_params p;

    if (cfg->inputs.type != CFG_INPUTS_GPIO) {
        log_warn("inputs.type = %s: eccd watches no e-stop or safety key; the hardware "
                 "e-stop must cut motor power on its own",
                 cfg->inputs.type == CFG_INPUTS_NONE ? "none" : "sim");
        hal->inputs = (struct hal_inputs){.read = no_inputs, .ctx = h};
        return 0;
    }
    inputs_gpio_params_from_config(cfg, &gpio_libgpiod, &p);
    h->inputs = inputs_gpio_open(&p, clock_posix_now, &h->clock, err, errlen);
    if (!h->inputs)
        return failed(h, HAL_HW_INPUTS_CHIP);
    hal->inputs = (struct hal_inputs){.read = inputs_gpio_read, .ctx = h->inputs};
    if (cfg->inputs.enable_line >= 0) {
        hal->inputs.enable = inputs_enable;
        hal->inputs.reset = inputs_rearm;
    }
    return 0;
}

struct hal_hw *hal_hw_open(const struct ecc_config *cfg, struct hal *hal, char *err,
                           size_t errlen)
{
    return hal_hw_open_part(cfg, hal, err, errlen, NULL);
}

struct hal_hw *hal_hw_open_part(const struct ecc_config *cfg, struct hal *hal, char *err,
                                size_t errlen, enum hal_hw_part *part)
{
    struct hal_hw *h;

    if (part)
        *part = HAL_HW_PART_NONE;
    if (hw_supported(cfg, err, errlen) != 0)
        return NULL;
    h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    clock_posix_init(&h->clock, &hal->clock);
    /* The inputs first: the e-stop is watched before anything can move. */
    if (open_inputs(h, cfg, hal, err, errlen) != 0 || open_encoder(h, cfg, hal, err, errlen) != 0 ||
        open_loadcell(h, cfg, hal, err, errlen) != 0 || open_drive(h, cfg, hal, err, errlen) != 0) {
        if (part)
            *part = h->failed;
        hal_hw_close(h);
        return NULL;
    }
    return h;
}

static const char *line_where(char *buf, size_t len, const char *chip, int line)
{
    snprintf(buf, len, "%s line %d", chip, line);
    return buf;
}

void hal_hw_probe_encoder(const struct encoder_gpio_status *st, const struct ecc_config *cfg,
                          struct hal_probe *p)
{
    char w[96];

    line_where(w, sizeof w, cfg->encoder.chip, cfg->encoder.line);
    hal_probe_add(p, "belt sensor", "pulses", w, "%lld counted (%lld reverse), %ld read errors",
                  st->pulses, st->reverse, st->read_errors);
}

void hal_hw_probe_inputs(const struct inputs_gpio_status *st, const struct ecc_config *cfg,
                         struct hal_probe *p)
{
    const struct { const char *name; int line; } buttons[] = {
        {"start button", cfg->inputs.start_line}, {"stop button", cfg->inputs.stop_line},
        {"next button", cfg->inputs.next_line}};
    char w[96];

    if (cfg->inputs.estop_line >= 0)
        hal_probe_add(p, "inputs", "e-stop", line_where(w, sizeof w, cfg->inputs.chip,
                      cfg->inputs.estop_line), "%s", st->estop_stopped ? "PRESSED (or its wire "
                      "broken)" : "released");
    if (cfg->inputs.key_line >= 0)
        hal_probe_add(p, "inputs", "safety key", line_where(w, sizeof w, cfg->inputs.chip,
                      cfg->inputs.key_line), "%s", st->key_stopped ? "OUT (or its wire broken)"
                      : "in");
    for (size_t i = 0; i < sizeof buttons / sizeof buttons[0]; i++)
        if (buttons[i].line >= 0)
            hal_probe_add(p, "inputs", buttons[i].name, line_where(w, sizeof w,
                          cfg->inputs.chip, buttons[i].line), "%ld presses", st->presses[i]);
    if (cfg->inputs.enable_line >= 0 && cfg->inputs.enable_mode == CFG_ENABLE_CHARGE_PUMP)
        hal_probe_add(p, "inputs", "drive enable", line_where(w, sizeof w, cfg->inputs.chip,
                      cfg->inputs.enable_line), "charge pump at %g Hz: %s, %ld edges%s",
                      cfg->inputs.pump_hz, st->enabled ? "pumping" : "at rest", st->pump_edges,
                      st->deadman_tripped ? " (dead-man tripped)" : "");
    else if (cfg->inputs.enable_line >= 0)
        hal_probe_add(p, "inputs", "drive enable", line_where(w, sizeof w, cfg->inputs.chip,
                      cfg->inputs.enable_line), "%s%s", st->enabled ? "on" : "off",
                      st->deadman_tripped ? " (dead-man tripped)" : "");
}

/* The HY answers in its own framing: its control status byte and output frequency. */
static void probe_hy(struct hal_hw *h, const struct ecc_config *cfg, struct hal_probe *p)
{
    struct hal_drive_status st;

    drive_hy_status(h->hy, &st);
    hal_probe_add(p, "drive", "profile", "", "%s", CFG_PROFILE_HY);
    hal_probe_add(p, "drive", "control status", "reply to function 0x03", "0x%02X",
                  (unsigned)drive_hy_control_status(h->hy));
    if (st.t_speed < 0.0)
        hal_probe_add(p, "drive", "output frequency", "function 0x04 index 1", "never read");
    else
        hal_probe_add(p, "drive", "output frequency", "function 0x04 index 1",
                      "%.2f Hz = %.3f m/s", st.speed_mps * cfg->drive.hz_per_mps, st.speed_mps);
    hal_probe_add(p, "drive", "run refused", "", "%s", st.tripped ? "yes (tripped)" : "no");
}

void hal_hw_probe(struct hal_hw *h, const struct ecc_config *cfg, struct hal_probe *p)
{
    struct encoder_gpio_status es;
    struct inputs_gpio_status is;

    hal_modbus_probe(h->modbus, cfg, p);
    if (h->hy)
        probe_hy(h, cfg, p);
    if (h->pwm)
        hal_probe_add(p, "drive", "pwm duty", cfg->drive.device, "%.1f%%",
                      100.0 * drive_pwm_duty(h->pwm));
    if (h->encoder && encoder_gpio_status(h->encoder, &es) == 0)
        hal_hw_probe_encoder(&es, cfg, p);
    if (h->inputs && inputs_gpio_status(h->inputs, &is) == 0)
        hal_hw_probe_inputs(&is, cfg, p);
}

/* The drive first: it is stopped and released while everything else still runs. */
void hal_hw_close(struct hal_hw *h)
{
    if (!h)
        return;
    drive_hy_close(h->hy);              /* its thread writes stop before it ends */
    hal_modbus_close(h->modbus);
    drive_pwm_close(h->pwm);
    hx711_close(h->hx711);
    loadcell_iio_close(h->iio);
    encoder_gpio_close(h->encoder);
    inputs_gpio_close(h->inputs);
    free(h);
}
