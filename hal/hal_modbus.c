/* hal_modbus.c - the Modbus drive and load cell assembled from the config (see hal_modbus.h). */
#include "hal/hal_modbus.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hal/drive_modbus.h"
#include "hal/loadcell_modbus.h"
#include "hal/modbus_bus.h"
#include "hal/modbus_link.h"

#define BUSES_MAX 2

struct hal_modbus {
    struct drive_profile profile;
    struct drive_modbus *drive;          /* NULL: no Modbus drive */
    struct loadcell_modbus *lc;          /* NULL: no Modbus load cell */
    struct modbus_link_params link_params[BUSES_MAX];
    struct modbus_bus *bus[BUSES_MAX];
    int nbus;
    int drive_bus;                       /* index in bus[], -1: none */
};

/* A Modbus drive: modbus-rtu or modbus-tcp with a Modbus profile (huanyang-hy is opened by
 * its own backend, hal/drive_hy.c). */
static bool drive_is_modbus(const struct ecc_config *cfg)
{
    return (cfg->drive.type == CFG_DRIVE_MODBUS_RTU || cfg->drive.type == CFG_DRIVE_MODBUS_TCP) &&
           drive_profile_framing(cfg->drive.profile) == DRIVE_FRAMING_MODBUS;
}

/* ---- link parameters from the config ----------------------------------------------- */

static char parity_char(enum cfg_parity p)
{
    return p == CFG_PARITY_EVEN ? 'E' : p == CFG_PARITY_ODD ? 'O' : 'N';
}

/* Timing shared by every link: the drive's keys (the load cell has none of its own). */
static void link_timing(const struct ecc_config *cfg, struct modbus_link_params *lp)
{
    lp->min_gap_ms = cfg->drive.min_gap_ms;
    lp->timeout_ms = cfg->drive.timeout_ms;
    lp->retries = cfg->drive.retries;
}

static void rtu_params(struct modbus_link_params *lp, const char *device, int baud,
                       enum cfg_parity parity, int data_bits, int stop_bits)
{
    lp->kind = MODBUS_LINK_RTU;
    snprintf(lp->device, sizeof lp->device, "%s", device);
    lp->baud = baud;
    lp->parity = parity_char(parity);
    lp->data_bits = data_bits;
    lp->stop_bits = stop_bits;
}

static void tcp_params(struct modbus_link_params *lp, const char *host, int port)
{
    lp->kind = MODBUS_LINK_TCP;
    snprintf(lp->host, sizeof lp->host, "%s", host);
    lp->port = port;
}

static void drive_link_params(const struct ecc_config *cfg, struct modbus_link_params *lp)
{
    memset(lp, 0, sizeof *lp);
    if (cfg->drive.type == CFG_DRIVE_MODBUS_RTU)
        rtu_params(lp, cfg->drive.device, cfg->drive.baud, cfg->drive.parity,
                   cfg->drive.data_bits, cfg->drive.stop_bits);
    else
        tcp_params(lp, cfg->drive.host, cfg->drive.port);
    link_timing(cfg, lp);
}

static void loadcell_link_params(const struct ecc_config *cfg, struct modbus_link_params *lp)
{
    memset(lp, 0, sizeof *lp);
    if (cfg->loadcell.link == CFG_LC_LINK_RTU)
        rtu_params(lp, cfg->loadcell.device, cfg->loadcell.baud, cfg->loadcell.parity, 8, 1);
    else
        tcp_params(lp, cfg->loadcell.host, cfg->loadcell.port);
    link_timing(cfg, lp);
}

/* The same wire: one serial device, or one TCP endpoint. */
static bool same_wire(const struct modbus_link_params *a, const struct modbus_link_params *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == MODBUS_LINK_RTU)
        return strcmp(a->device, b->device) == 0;
    return strcmp(a->host, b->host) == 0 && a->port == b->port;
}

/* ---- buses ------------------------------------------------------------------------- */

/* A serial device that is not there is a wiring/config error worth stopping for now;
 * one that vanishes later (USB adapter pulled) is a link error and reconnects. */
static int check_device(const struct modbus_link_params *lp, const char *section, char *err,
                        size_t errlen)
{
    if (lp->kind == MODBUS_LINK_RTU && access(lp->device, R_OK | W_OK) < 0) {
        snprintf(err, errlen, "[%s] device: %s: %s", section, lp->device, strerror(errno));
        return -1;
    }
    return 0;
}

/* The bus for this wire: an existing one, or a new one. Returns its index or -1. */
static int bus_for(struct hal_modbus *m, const struct modbus_link_params *lp,
                   const char *section, char *err, size_t errlen)
{
    for (int i = 0; i < m->nbus; i++)
        if (same_wire(&m->link_params[i], lp))
            return i;
    if (check_device(lp, section, err, errlen) < 0)
        return -1;

    char why[160];
    struct modbus_link *link = modbus_link_open(lp, why, sizeof why);
    if (!link) {
        snprintf(err, errlen, "[%s] %s: %s", section,
                 lp->kind == MODBUS_LINK_RTU ? "device" : "host", why);
        return -1;
    }
    struct modbus_bus *bus = modbus_bus_open(link);
    if (!bus) {
        snprintf(err, errlen, "[%s] type: %s", section, strerror(errno));
        return -1;
    }
    m->link_params[m->nbus] = *lp;
    m->bus[m->nbus] = bus;
    return m->nbus++;
}

/* ---- devices ----------------------------------------------------------------------- */

/* "tcp 127.0.0.1:1502 unit 3": the words every message about this device uses. */
static void device_where(const struct modbus_link_params *lp, int unit, char *buf, size_t len)
{
    char link[112];

    modbus_link_params_describe(lp, link, sizeof link);
    snprintf(buf, len, "%s unit %d", link, unit);
}

/* The bus calls devices through void pointers. */
static int drive_poll(void *dev, struct modbus_link *link)
{
    return drive_modbus_poll(dev, link);
}

static int drive_release(void *dev, struct modbus_link *link)
{
    return drive_modbus_release(dev, link);
}

static int loadcell_poll(void *dev, struct modbus_link *link)
{
    return loadcell_modbus_poll(dev, link);
}

static int open_drive(struct hal_modbus *m, const struct ecc_config *cfg,
                      double (*now)(void *), void *clock_ctx, char *err, size_t errlen)
{
    if (drive_profile_from_config(cfg, &m->profile, err, errlen) < 0)
        return -1;

    struct modbus_link_params lp;
    drive_link_params(cfg, &lp);
    struct drive_modbus_params dp = {
        .unit_id = cfg->drive.unit_id,
        .hz_per_mps = cfg->drive.hz_per_mps,
        .max_hz = cfg->drive.max_hz,
        .watchdog_s = cfg->drive.watchdog_s,
        .fail_after = cfg->drive.fail_after,
        .healthy_after = cfg->drive.healthy_after,
        .coast_on_fault = cfg->drive.stop_mode == CFG_STOP_COAST,
    };
    device_where(&lp, cfg->drive.unit_id, dp.where, sizeof dp.where);
    m->drive = drive_modbus_open(&m->profile, &dp, now, clock_ctx);
    if (!m->drive) {
        snprintf(err, errlen, "[drive] type: cannot create the drive: %s", strerror(errno));
        return -1;
    }
    m->drive_bus = bus_for(m, &lp, "drive", err, errlen);
    if (m->drive_bus < 0)
        return -1;
    /* Once per control tick: a setpoint written each cycle feeds the drive's watchdog. */
    if (modbus_bus_add(m->bus[m->drive_bus], m->drive, drive_poll, drive_release,
                       1.0 / cfg->loop.rate_hz) < 0) {
        snprintf(err, errlen, "[drive] type: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int loadcell_bus(struct hal_modbus *m, const struct ecc_config *cfg, char *err,
                        size_t errlen)
{
    if (cfg->loadcell.link == CFG_LC_LINK_DRIVE) {
        if (m->drive_bus < 0)
            snprintf(err, errlen, "[loadcell] link: 'drive' needs a Modbus drive (drive.type = "
                     "modbus-rtu or modbus-tcp, not huanyang-hy) (allowed otherwise: rtu, tcp)");
        return m->drive_bus;
    }
    struct modbus_link_params lp;
    loadcell_link_params(cfg, &lp);
    return bus_for(m, &lp, "loadcell", err, errlen);
}

static int open_loadcell(struct hal_modbus *m, const struct ecc_config *cfg,
                         double (*now)(void *), void *clock_ctx, char *err, size_t errlen)
{
    int b = loadcell_bus(m, cfg, err, errlen);
    if (b < 0)
        return -1;
    if (b == m->drive_bus && cfg->loadcell.unit_id == cfg->drive.unit_id) {
        snprintf(err, errlen, "[loadcell] unit_id: %d is the drive's unit id on the same bus "
                 "(allowed: any other id from 1 to 247)", cfg->loadcell.unit_id);
        return -1;
    }
    struct loadcell_modbus_params lp = {
        .unit_id = cfg->loadcell.unit_id,
        .reg = cfg->loadcell.reg,
        .read_fc = cfg->loadcell.reg_kind == CFG_REG_INPUT ? 4 : 3,
        .data_type = cfg->loadcell.data_type,
        .word_order = cfg->loadcell.word_order,
        .tare_reg = cfg->loadcell.tare_reg,
        .tare_value = (uint16_t)cfg->loadcell.tare_value,
        .write_fc = 6,
        .healthy_after = cfg->drive.healthy_after,
    };
    char cal[CFG_PATH_MAX], why[256];
    if (calibration_ring_params_from_config(cfg, &lp.ring, cal, sizeof cal, err, errlen) != 0)
        return -1;
    device_where(&m->link_params[b], cfg->loadcell.unit_id, lp.where, sizeof lp.where);
    m->lc = loadcell_modbus_open(&lp, now, clock_ctx, why, sizeof why);
    if (!m->lc) {
        snprintf(err, errlen, "[loadcell] calibration: %s", why);
        return -1;
    }
    if (modbus_bus_add(m->bus[b], m->lc, loadcell_poll, NULL,
                       1.0 / cfg->loadcell.rate_hz) < 0) {
        snprintf(err, errlen, "[loadcell] link: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- open / close ------------------------------------------------------------------ */

/* struct hal_drive's fault_stop: the coast stop where drive.stop_mode = coast. */
static int drive_fault_stop(void *ctx)
{
    return drive_modbus_fault_stop(ctx);
}

static void fill_hal(struct hal_modbus *m, const struct ecc_config *cfg, struct hal *hal)
{
    if (m->drive) {
        hal->drive.set_speed = drive_modbus_set_speed;
        hal->drive.stop = drive_modbus_stop;
        hal->drive.status = drive_modbus_status;
        hal->drive.reset = drive_modbus_reset;
        hal->drive.fault_stop = drive_fault_stop;
        hal->drive.link_stats = drive_modbus_link_stats;
        hal->drive.cap_mps = cfg->limits.speed_max;
        hal->drive.ctx = m->drive;
    }
    if (m->lc) {
        /* Samples, tare and span: the calibration ring, as for every load cell. */
        calibration_ring_hal(loadcell_modbus_ring(m->lc), &hal->force);
        hal->force.link_stats = loadcell_modbus_link_stats;
        hal->force.link_ctx = m->lc;
    }
}

static int start_buses(struct hal_modbus *m, char *err, size_t errlen)
{
    for (int i = 0; i < m->nbus; i++) {
        if (modbus_bus_start(m->bus[i]) < 0) {
            snprintf(err, errlen, "[drive] type: cannot start the Modbus thread: %s",
                     strerror(errno));
            return -1;
        }
    }
    return 0;
}

struct hal_modbus *hal_modbus_open(const struct ecc_config *cfg, double (*now)(void *),
                                   void *clock_ctx, struct hal *hal, char *err,
                                   size_t errlen)
{
    bool want_lc = cfg->loadcell.type == CFG_LOADCELL_MODBUS;

    if (!drive_is_modbus(cfg) && !want_lc) {
        snprintf(err, errlen, "[drive] type: the Modbus backend needs drive.type = modbus-rtu "
                 "or modbus-tcp with a Modbus profile, or loadcell.type = modbus");
        return NULL;
    }
    struct hal_modbus *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "[drive] type: out of memory");
        return NULL;
    }
    m->drive_bus = -1;
    if ((drive_is_modbus(cfg) && open_drive(m, cfg, now, clock_ctx, err, errlen) < 0) ||
        (want_lc && open_loadcell(m, cfg, now, clock_ctx, err, errlen) < 0) ||
        start_buses(m, err, errlen) < 0) {
        hal_modbus_close(m);
        return NULL;
    }
    fill_hal(m, cfg, hal);
    return m;
}

void hal_modbus_close(struct hal_modbus *m)
{
    if (!m)
        return;
    /* Each bus thread has its drive write stop before it exits; then the links close. */
    for (int i = 0; i < m->nbus; i++)
        modbus_bus_close(m->bus[i]);
    drive_modbus_close(m->drive);
    loadcell_modbus_close(m->lc);
    free(m);
}

int hal_modbus_reset_drive(struct hal_modbus *m)
{
    if (!m || !m->drive) {
        errno = ENODEV;
        return -1;
    }
    return drive_modbus_reset(m->drive);
}

int hal_modbus_fault_stop(struct hal_modbus *m)
{
    if (!m || !m->drive) {
        errno = ENODEV;
        return -1;
    }
    return drive_modbus_fault_stop(m->drive);
}

int hal_modbus_loadcell_status(struct hal_modbus *m, struct loadcell_modbus_status *st)
{
    if (!m || !m->lc) {
        errno = ENODEV;
        return -1;
    }
    return loadcell_modbus_status(m->lc, st);
}

/* "reg 8449 = 0x2101 (fc 3)": decimal for manuals that count so, hex for the others. */
static const char *reg_where(char *buf, size_t len, int reg, int fc)
{
    snprintf(buf, len, "reg %d = 0x%04X (fc %d)", reg, (unsigned)reg, fc);
    return buf;
}

static void probe_drive(struct hal_modbus *m, const struct ecc_config *cfg, struct hal_probe *p)
{
    const struct drive_profile *pr = &m->profile;
    struct hal_drive_status st;
    char w[64];
    double hz;

    drive_modbus_status(m->drive, &st);
    hz = st.speed_mps * cfg->drive.hz_per_mps;
    hal_probe_add(p, "drive", "profile", "", "%s", pr->name);
    if (st.t_speed < 0.0)
        hal_probe_add(p, "drive", "output frequency", reg_where(w, sizeof w, pr->reg_freq,
                      pr->read_fc), "never read");
    else
        hal_probe_add(p, "drive", "output frequency", reg_where(w, sizeof w, pr->reg_freq,
                      pr->read_fc), "%.2f Hz = %.3f m/s (raw %u)", hz, st.speed_mps,
                      (unsigned)drive_profile_freq_raw(pr, hz));
    if (pr->reg_status >= 0)
        hal_probe_add(p, "drive", "status word", reg_where(w, sizeof w, pr->reg_status,
                      pr->read_fc), "0x%04X", (unsigned)drive_modbus_status_word(m->drive));
    if (pr->reg_fault >= 0)
        hal_probe_add(p, "drive", "fault code", reg_where(w, sizeof w, pr->reg_fault,
                      pr->read_fc), "%u (%s)", st.fault_code, st.tripped ? "tripped" : "none");
    if (pr->reg_current >= 0)
        hal_probe_add(p, "drive", "output current", reg_where(w, sizeof w, pr->reg_current,
                      pr->read_fc), "%.1f A", isfinite(st.current_a) ? st.current_a : 0.0);
    hal_probe_add(p, "drive", "setpoint", reg_where(w, sizeof w, pr->reg_setpoint, pr->write_fc),
                  "%u written (0 Hz: the probe never moves the belt)",
                  (unsigned)drive_profile_setpoint_raw(pr, 0.0, cfg->drive.max_hz));
    hal_probe_add(p, "drive", "command", reg_where(w, sizeof w, pr->reg_command, pr->write_fc),
                  "%u written (stop)", (unsigned)pr->cmd_stop);
}

static const char *data_type_name(enum cfg_data_type t)
{
    static const char *const names[] = {"int16", "uint16", "int32", "uint32", "float32"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static void probe_loadcell(struct hal_modbus *m, const struct ecc_config *cfg, struct hal_probe *p)
{
    struct loadcell_modbus_status st;
    char where[64];

    loadcell_modbus_status(m->lc, &st);
    snprintf(where, sizeof where, "reg %d (fc %d, %s%s)", cfg->loadcell.reg,
             cfg->loadcell.reg_kind == CFG_REG_INPUT ? 4 : 3, data_type_name(cfg->loadcell.data_type),
             loadcell_type_words(cfg->loadcell.data_type) == 2
                 ? (cfg->loadcell.word_order == CFG_WORDS_BIG ? ", words big" : ", words little")
                 : "");
    if (st.ring.samples == 0)
        hal_probe_add(p, "load cell", "reading", where, "no reading yet");
    else
        hal_probe_add(p, "load cell", "reading", where, "raw %.10g = %.2f N (offset %.10g, "
                      "scale %g)", st.ring.raw, (st.ring.raw - st.ring.cal.offset) *
                      st.ring.cal.scale, st.ring.cal.offset, st.ring.cal.scale);
}

void hal_modbus_probe(struct hal_modbus *m, const struct ecc_config *cfg, struct hal_probe *p)
{
    if (!m)
        return;
    if (m->drive)
        probe_drive(m, cfg, p);
    if (m->lc)
        probe_loadcell(m, cfg, p);
}

