/* drive_profile.c - the built-in VFD register maps and the generic one (see drive_profile.h).
 *
 * Every register below is a WIRE address (what goes in the Modbus PDU), with the number the
 * vendor's manual prints next to it when that differs. Scales are "raw register units per
 * engineering unit": a setpoint of 30.00 Hz on a Hz x 100 register is 3000.
 */
#include "hal/drive_profile.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hal/hy_frame.h"

const char *const drive_profile_names[] = {"delta-vfd", "optidrive-e3", "huanyang-gt",
                                           CFG_PROFILE_HY, "generic", NULL};

/* ---- Delta VFD-E / VFD-M / VFD-EL ----------------------------------------------------
 * Delta's "communication addresses" are the same across its small drives; the manual gives
 * them in hex and they go on the wire as printed.
 *   2000H  command word (write). bits 1..0: 01 stop, 10 run; bits 5..4: 01 forward.
 *          0x0012 = run + forward, 0x0001 = stop (ramp, per the drive's stop method).
 *   2001H  frequency command, Hz x 100 (two decimals: 30.00 Hz = 3000).
 *   2002H  bit 0: external fault (E.F.) on; bit 1: fault reset. Reset = write 0x0002.
 *   2100H  error code (0 = no fault; the code numbers are in the manual's fault table).
 *   2101H  status word (bits 1..0 run/stop state, bits 4..3 direction, bit 8/10 whether the
 *          frequency / run command comes from the comm port).
 *   2102H  frequency command echoed back, Hz x 100 (not used: lies between 2101H and 2103H,
 *          so the status block 2100H..2104H is read in one transaction).
 *   2103H  output frequency, Hz x 100.
 *   2104H  output current, A x 10 (the VFD-E/EL manuals print it as "AXX.X": one decimal).
 */
static const struct drive_profile delta_vfd = {
    .name = "delta-vfd",
    .read_fc = 3,
    .write_fc = 6,
    .reg_command = 0x2000,
    .cmd_run = 0x0012,
    .cmd_stop = 0x0001,
    .cmd_coast = 0x0001,         /* no coast value in 2000H: the stop method parameter decides */
    .reg_reset = 0x2002,
    .cmd_reset = 0x0002,
    .reg_setpoint = 0x2001,
    .setpoint_percent = false,
    .setpoint_scale = 100.0,     /* raw per Hz */
    .reg_freq = 0x2103,
    .freq_scale = 100.0,         /* raw per Hz */
    .reg_current = 0x2104,
    .current_scale = 10.0,       /* raw per A */
    .reg_status = 0x2101,
    .reg_fault = 0x2100,
    .watchdog_params =
        "09-03 time-out detection (s; 0.0 disables it) and 09-02 transmission fault treatment "
        "(1 = warn and ramp to stop, 2 = warn and coast to stop): set 09-03 to drive.watchdog_s "
        "and 09-02 to 1 or 2",
    .quirks =
        "the run command and the frequency come from the comm port only when the source "
        "parameters select RS-485 (02-00 and 02-01 on the VFD-E); 09-04 sets the RTU framing "
        "(e.g. 8E1); 2000H has no coast value, coasting is the stop-method parameter's job; "
        "the output current's decimals differ by model (VFD-E/EL: A x 10); a write the drive "
        "cannot take shows CExx on its keypad and comes back as a Modbus exception",
};

/* ---- Invertek Optidrive E3 ------------------------------------------------------------
 * The manual numbers its Modbus registers from 1; the wire address is the number minus 1.
 *   reg 1 (wire 0)  control word. bit 0 run enable (0 = stop, ramps per P-04), bit 1 select
 *                   decel ramp 2, bit 2 fault reset, bit 3 coast stop request.
 *                   run 0x0001, stop 0x0000, reset 0x0004, coast 0x0008.
 *   reg 2 (wire 1)  speed setpoint, Hz x 10 (0..5000).
 *   reg 4 (wire 3)  accel/decel ramp time, s x 100 (not used: eccd keeps the drive's own).
 *   reg 6 (wire 5)  drive status and error code in ONE word: one byte the error code, the
 *                   other the state (stopped / running / tripped). The advanced technical
 *                   manual puts the error code in the high byte; the ODE-3 user guide says
 *                   low byte. eccd reads the high byte (see reg_fault below).
 *   reg 7 (wire 6)  output frequency, Hz x 10.
 *   reg 8 (wire 7)  output current, A x 10.
 * Registers 6..8 are consecutive: one read fetches status, frequency and current.
 */
static const struct drive_profile optidrive_e3 = {
    .name = "optidrive-e3",
    .read_fc = 3,                /* the E3 answers 03, 06 and 16 only: no input registers */
    .write_fc = 6,
    .reg_command = 1 - 1,
    .cmd_run = 0x0001,
    .cmd_stop = 0x0000,
    .cmd_coast = 0x0008,
    .reg_reset = 1 - 1,          /* the reset is a bit of the control word itself */
    .cmd_reset = 0x0004,
    .reg_setpoint = 2 - 1,
    .setpoint_percent = false,
    .setpoint_scale = 10.0,      /* raw per Hz */
    .reg_freq = 7 - 1,
    .freq_scale = 10.0,          /* raw per Hz */
    .reg_current = 8 - 1,
    .current_scale = 10.0,       /* raw per A */
    .reg_status = 6 - 1,
    /* Register 6 packs state and error code, so it is both the status and the fault
     * register. Where reg_fault == reg_status the fault code is the HIGH byte (the layout of
     * the E3 Advanced Technical Manual; the ODE-3 user guide prints the bytes the other way
     * round, so check a real drive's trip once). The state byte alone is never a trip. */
    .reg_fault = 6 - 1,
    .watchdog_params =
        "P-36 communications configuration: drive address, baud rate and the comm-loss "
        "action (watchdog 30 ms, 300 ms, 1 s or 3 s; trip, or ramp to stop); pick the "
        "shortest setting at or above drive.watchdog_s, ramp to stop",
    .quirks =
        "register numbers in the manual start at 1 (wire = number - 1); the run enable bit "
        "must be held high in every control word written, clearing it stops the drive, so a "
        "fault reset (bit 2 alone) also leaves the drive stopped until run is written again; "
        "P-12 must select Modbus as the command source; register 6 packs the state (low "
        "byte) and the error code (high byte; one manual says the other way round); any valid "
        "message feeds the P-36 watchdog",
};

/* ---- Huanyang GT series (not the older HY series, which is not Modbus: huanyang-hy) ----
 *   1000H  command (write): 1 run forward, 2 run reverse, 5 stop.
 *   2000H  frequency setpoint as a share of the maximum frequency P0.03, % x 100
 *          (10000 = 100.00 % = max frequency), so drive.max_hz must equal P0.03.
 *   3000H  output frequency, Hz x 100 (3001H.. hold the other monitor values: bus voltage,
 *          output voltage, current, speed, power; their scales are not in the profile).
 *   5000H  fault code, 0 = no fault.
 */
static const struct drive_profile huanyang_gt = {
    .name = "huanyang-gt",
    .read_fc = 3,
    .write_fc = 6,
    .reg_command = 0x1000,
    .cmd_run = 1,
    .cmd_stop = 5,
    .cmd_coast = 5,              /* no coast value confirmed from the manual: stop (5) */
    .reg_reset = 0x1000,
    .cmd_reset = 7,              /* fault reset in this command family; not confirmed */
    .reg_setpoint = 0x2000,
    .setpoint_percent = true,
    .setpoint_scale = 100.0,     /* raw per % of max_hz */
    .reg_freq = 0x3000,
    .freq_scale = 100.0,         /* raw per Hz */
    .reg_current = DP_NO_REG,    /* 3004H holds it, scale unconfirmed */
    .current_scale = 1.0,
    .reg_status = DP_NO_REG,
    .reg_fault = 0x5000,
    .watchdog_params =
        "the communication group's time-out and time-out action parameters (see the GT "
        "manual's communication parameter group): set the time-out to drive.watchdog_s and "
        "the action to stop",
    .quirks =
        "the setpoint is a percentage of P0.03 (max frequency), not Hz: drive.max_hz must "
        "match P0.03; the drive wants a few character times of silence before each request "
        "(drive.min_gap_ms covers it); the command and frequency sources must be set to "
        "RS-485; the coast and fault-reset command values are not confirmed from the manual",
};

/* ---- Huanyang HY series (HY01D523B, HY02D223B, ...): not Modbus ---------------------
 * The HY's serial protocol has functions, not registers (hal/hy_frame.h has the framing and
 * the vendor's facts): control data (0x03) run forward 0x01, stop 0x08; frequency data
 * (0x05) in Hz x 100, limited by PD005; control status reads (0x04) by index: 0 the set
 * frequency, 1 the output frequency (Hz x 100), 2 the output current (A x 10), 3 rpm, 4 DC
 * bus voltage, 5 output voltage, 6 counter, 7 temperature. The addresses below are pseudo
 * addresses, function x 256 + index, for eccsim's register model of a drive only; eccd's
 * HY backend (hal/drive_hy.c) frames the functions themselves.
 */
static const struct drive_profile huanyang_hy = {
    .name = CFG_PROFILE_HY,
    .framing = DRIVE_FRAMING_HY,
    .read_fc = 0,                /* not Modbus */
    .write_fc = 0,
    .reg_command = DP_HY_REG(HY_FN_CONTROL, 0),
    .cmd_run = HY_CMD_RUN_FORWARD,
    .cmd_stop = HY_CMD_STOP,
    .cmd_coast = HY_CMD_STOP,    /* no coast command: PD026 (stopping mode) decides */
    .reg_reset = DP_HY_REG(HY_FN_CONTROL, 0),
    .cmd_reset = HY_CMD_STOP,    /* no reset command: stop is what the keypad's STOP/RESET
                                    does; over the link not confirmed */
    .reg_setpoint = DP_HY_REG(HY_FN_FREQUENCY, 0),
    .setpoint_percent = false,
    .setpoint_scale = HY_HZ_SCALE,
    .reg_freq = DP_HY_REG(HY_FN_STATUS, HY_STATUS_OUT_HZ),
    .freq_scale = HY_HZ_SCALE,
    .reg_current = DP_HY_REG(HY_FN_STATUS, HY_STATUS_OUT_A),
    .current_scale = HY_AMP_SCALE,
    .reg_status = DP_NO_REG,     /* the control status byte is the reply to a control write */
    .reg_fault = DP_NO_REG,      /* the HY has no fault code to read over the link */
    .watchdog_params =
        "none: the HY manual lists no communication time-out (its communication parameters "
        "are PD163 address, PD164 baud and PD165 data format only), so if eccd dies the drive "
        "runs on at its last frequency; wire the drive-enable dead-man (inputs.enable_line) "
        "to a relay that opens the drive's run or power circuit",
    .quirks =
        "not Modbus: its own framing (address, function, length, data, Modbus CRC) over "
        "RS-485, modbus-rtu only, and not on a line shared with a Modbus transmitter; "
        "PD001 = 2 and PD002 = 2 (run and frequency from the communication port), PD163 = "
        "drive.unit_id, PD164 the baud (0 4800, 1 9600, 2 19200, 3 38400), PD165 the format "
        "(3 8N1, 4 8E1, 5 8O1 RTU); frequencies in 0.01 Hz, limited by PD005 (max) and PD011 "
        "(min); no fault code and no fault reset over the link: a trip shows as a run the "
        "drive does not take, and eccd's reset writes stop (the keypad's STOP/RESET); the "
        "control status in a reply may lag the command by one write",
};

enum drive_framing drive_profile_framing(const char *name)
{
    return strcmp(name, CFG_PROFILE_HY) == 0 ? DRIVE_FRAMING_HY : DRIVE_FRAMING_MODBUS;
}

int drive_profile_builtin(const char *name, struct drive_profile *p)
{
    static const struct drive_profile *const builtin[] = {&delta_vfd, &optidrive_e3,
                                                          &huanyang_gt, &huanyang_hy};

    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        if (strcmp(name, builtin[i]->name) == 0) {
            *p = *builtin[i];
            return 0;
        }
    }
    return -1;
}

/* ---- generic: the [profile] section ----------------------------------------------- */

/* Wire address of a manual register number; -1 (none) stays none. Fails below zero. */
static int wire_reg(int manual, int base, bool optional, const char *key, int *out, char *err,
                    size_t errlen)
{
    if (optional && manual < 0) {
        *out = DP_NO_REG;
        return 0;
    }
    if (manual - base < 0 || manual - base > 65535) {
        snprintf(err, errlen, "[profile] %s: %d is not a register when address_base = %d "
                 "(allowed: %d to %d)", key, manual, base, base, 65535 + base);
        return -1;
    }
    *out = manual - base;
    return 0;
}

static int generic_registers(const struct ecc_config *cfg, struct drive_profile *p, char *err,
                             size_t errlen)
{
    const int base = cfg->profile.address_base;
    const struct {
        int manual;
        bool optional;
        const char *key;
        int *out;
    } regs[] = {
        {cfg->profile.reg_command, false, "reg_command", &p->reg_command},
        {cfg->profile.reg_reset, false, "reg_reset", &p->reg_reset},
        {cfg->profile.reg_setpoint, false, "reg_setpoint", &p->reg_setpoint},
        {cfg->profile.reg_freq, false, "reg_freq", &p->reg_freq},
        {cfg->profile.reg_current, true, "reg_current", &p->reg_current},
        {cfg->profile.reg_status, true, "reg_status", &p->reg_status},
        {cfg->profile.reg_fault, true, "reg_fault", &p->reg_fault},
    };

    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        if (wire_reg(regs[i].manual, base, regs[i].optional, regs[i].key, regs[i].out, err,
                     errlen) < 0)
            return -1;
    }
    return 0;
}

static int generic_from_config(const struct ecc_config *cfg, struct drive_profile *p,
                               char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "generic");
    p->read_fc = cfg->profile.read_fc;
    p->write_fc = cfg->profile.write_fc;
    if (p->read_fc != 3 && p->read_fc != 4) {
        snprintf(err, errlen, "[profile] read_fc: %d is not a read function (allowed: 3, 4)",
                 p->read_fc);
        return -1;
    }
    if (p->write_fc != 6 && p->write_fc != 16) {
        snprintf(err, errlen, "[profile] write_fc: %d is not a write function (allowed: 6, 16)",
                 p->write_fc);
        return -1;
    }
    if (generic_registers(cfg, p, err, errlen) < 0)
        return -1;
    /* The config table bounds these to 0..65535. */
    p->cmd_run = (uint16_t)cfg->profile.cmd_run;
    p->cmd_stop = (uint16_t)cfg->profile.cmd_stop;
    p->cmd_coast = (uint16_t)cfg->profile.cmd_coast;
    p->cmd_reset = (uint16_t)cfg->profile.cmd_reset;
    p->setpoint_percent = cfg->profile.setpoint_percent;
    p->setpoint_scale = cfg->profile.setpoint_scale;
    p->freq_scale = cfg->profile.freq_scale;
    p->current_scale = cfg->profile.current_scale;
    /* reg_fault == reg_status means one packed word, fault code in the high byte (as the
     * Optidrive), see drive_modbus.c. */
    p->watchdog_params = "set by the drive's own comm-loss parameters (see its manual)";
    p->quirks = "described by the [profile] section";
    return 0;
}

int drive_profile_from_config(const struct ecc_config *cfg, struct drive_profile *p,
                              char *err, size_t errlen)
{
    if (strcmp(cfg->drive.profile, "generic") == 0)
        return generic_from_config(cfg, p, err, errlen);
    if (drive_profile_builtin(cfg->drive.profile, p) == 0)
        return 0;

    char allowed[160] = "";
    for (int i = 0; drive_profile_names[i]; i++) {
        size_t len = strlen(allowed);
        snprintf(allowed + len, sizeof allowed - len, "%s%s", i ? ", " : "",
                 drive_profile_names[i]);
    }
    snprintf(err, errlen, "[drive] profile: unknown profile '%s' (allowed: %s)",
             cfg->drive.profile, allowed);
    return -1;
}

/* ---- conversions ------------------------------------------------------------------- */

/* A register value from an engineering value x scale: rounded, NaN -> 0, 0..65535. */
static uint16_t to_raw(double value)
{
    if (!(value > 0.0))          /* also NaN */
        return 0;
    if (value >= 65535.0)
        return 65535;
    return (uint16_t)lround(value);
}

static double clamp_hz(double hz, double max_hz)
{
    if (!(hz > 0.0))
        return 0.0;
    if (isfinite(max_hz) && max_hz > 0.0 && hz > max_hz)
        return max_hz;
    return hz;
}

uint16_t drive_profile_setpoint_raw(const struct drive_profile *p, double hz, double max_hz)
{
    hz = clamp_hz(hz, max_hz);
    if (p->setpoint_percent) {
        if (!(max_hz > 0.0) || !isfinite(max_hz))
            return 0;            /* a share of an unknown maximum: ask for nothing */
        return to_raw(hz / max_hz * 100.0 * p->setpoint_scale);
    }
    return to_raw(hz * p->setpoint_scale);
}

double drive_profile_setpoint_hz(const struct drive_profile *p, uint16_t raw, double max_hz)
{
    if (!(p->setpoint_scale > 0.0))
        return 0.0;
    if (p->setpoint_percent)
        return (max_hz > 0.0 && isfinite(max_hz)) ? raw / p->setpoint_scale / 100.0 * max_hz
                                                  : 0.0;
    return raw / p->setpoint_scale;
}

double drive_profile_freq_hz(const struct drive_profile *p, uint16_t raw)
{
    return p->freq_scale > 0.0 ? raw / p->freq_scale : 0.0;
}

uint16_t drive_profile_freq_raw(const struct drive_profile *p, double hz)
{
    return to_raw(hz * p->freq_scale);
}
