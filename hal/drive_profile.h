/* drive_profile.h - what a VFD looks like on Modbus: registers, scales, command values.
 *
 * Pure data and arithmetic: no I/O, no libmodbus. Shared by the Modbus drive backend
 * (hal/drive_modbus.c, the master) and by eccsim (sim/, the simulated drive), so both
 * sides speak one register map. Built-in profiles carry the vendor's facts, each register
 * named with its unit and each quirk written down (drive_profile.c); `generic` is
 * described entirely by the [profile] section of the config.
 *
 * Register numbers here are WIRE addresses (what goes in the Modbus PDU). Manuals that
 * number registers from 1 (Optidrive) are converted when the profile is built.
 *
 * One profile is not Modbus: `huanyang-hy` (framing DRIVE_FRAMING_HY) speaks the HY
 * series' own framing (hal/hy_frame.h) through its own backend (hal/drive_hy.c). Its
 * "registers" are pseudo addresses, function x 256 + index (DP_HY_REG), that let eccsim's
 * register model of a drive (sim/simvfd.c) stand in for an HY too; its command values,
 * scales and notes are the HY's.
 */
#ifndef ECC_DRIVE_PROFILE_H
#define ECC_DRIVE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define DP_NO_REG (-1)
#define DP_HY_REG(fn, index) ((fn) * 256 + (index))   /* an HY pseudo address */

enum drive_framing {
    DRIVE_FRAMING_MODBUS = 0,    /* Modbus RTU or TCP (hal/drive_modbus.c) */
    DRIVE_FRAMING_HY,            /* the Huanyang HY series' own framing (hal/drive_hy.c) */
};

struct drive_profile {
    char name[32];
    enum drive_framing framing;
    int read_fc;                 /* 3 (read holding registers) or 4 (read input registers) */
    int write_fc;                /* 6 (write single register) or 16 (write multiple) */

    int reg_command;             /* run/stop command register */
    uint16_t cmd_run;            /* value: run forward */
    uint16_t cmd_stop;           /* value: ramp to stop */
    uint16_t cmd_coast;          /* value: coast to stop (= cmd_stop where the drive has none) */
    int reg_reset;               /* fault-reset register (may equal reg_command) */
    uint16_t cmd_reset;          /* value written there to reset a trip */

    int reg_setpoint;            /* frequency setpoint */
    bool setpoint_percent;       /* setpoint is % of max_hz x setpoint_scale, not Hz x scale */
    double setpoint_scale;       /* raw units per Hz (or per % when setpoint_percent) */

    int reg_freq;                /* output frequency, read back */
    double freq_scale;           /* raw units per Hz */
    int reg_current;             /* output current, or DP_NO_REG */
    double current_scale;        /* raw units per A */
    int reg_status;              /* status word, or DP_NO_REG */
    int reg_fault;               /* fault code (0 = healthy), or DP_NO_REG */

    /* Documentation carried with the profile: printed by --check-config, in docs. */
    const char *watchdog_params; /* the drive parameters that arm its comm-loss stop */
    const char *quirks;
};

/* Names of the built-in profiles, NULL-terminated: "delta-vfd", "optidrive-e3",
 * "huanyang-gt", "huanyang-hy", plus "generic" (from the config's [profile] section). */
extern const char *const drive_profile_names[];

/* The framing a profile name speaks: DRIVE_FRAMING_HY for "huanyang-hy", else Modbus. */
enum drive_framing drive_profile_framing(const char *name);

/* Build the profile the config selects (drive.profile; generic reads [profile]).
 * Returns 0, or -1 with a message in err (unknown name, a register out of range). */
int drive_profile_from_config(const struct ecc_config *cfg, struct drive_profile *p,
                              char *err, size_t errlen);

/* A built-in profile by name; -1 if there is none. */
int drive_profile_builtin(const char *name, struct drive_profile *p);

/* Setpoint register value for hz (clamped to 0..max_hz and to 16 bits). */
uint16_t drive_profile_setpoint_raw(const struct drive_profile *p, double hz, double max_hz);

/* The inverse: Hz from a setpoint register value. */
double drive_profile_setpoint_hz(const struct drive_profile *p, uint16_t raw, double max_hz);

/* Output frequency (Hz) from its register value, and the inverse for the simulator. */
double drive_profile_freq_hz(const struct drive_profile *p, uint16_t raw);
uint16_t drive_profile_freq_raw(const struct drive_profile *p, double hz);

#endif
