/* drive_modbus.h - a VFD on Modbus, driven through a drive profile (drive_profile.h).
 *
 * Two sides, two threads:
 *   control side  drive_modbus_set_speed / _stop / _status / _reset (the struct hal_drive
 *                 functions) and _fault_stop. They only record a wish or copy the latest
 *                 report under the drive's mutex: they never wait on the wire.
 *   bus side      drive_modbus_poll, called by the bus thread (modbus_bus.h) each drive
 *                 cycle, and drive_modbus_release before that thread exits.
 *
 * Each poll cycle:
 *   - a queued fault reset is written once (reg_reset <- cmd_reset);
 *   - the setpoint is written EVERY cycle (it feeds the drive's own comm-loss watchdog,
 *     drive.watchdog_s, so the belt stops if eccd stops talking);
 *   - the command is written when it changes and at least every watchdog_s / 4;
 *     when stopping, the command goes first, when starting the setpoint goes first;
 *   - output frequency (+ current, status, fault where the profile has them) are read,
 *     neighbouring registers in one transaction;
 *   - a failure other than an exception reply (timeout, bad frame, link down) ends the
 *     cycle: the rest would only wait out more timeouts while other devices on the bus
 *     wait their turn. The next cycle starts over.
 * The report: present; healthy after healthy_after good transactions in a row; comm_lost
 * from fail_after failed transactions in a row until the drive is healthy again; tripped
 * while the fault register reads non-zero (fault_code = its value; where the profile's
 * status and fault registers are one word, its high byte); speed = output
 * frequency / hz_per_mps, stamped with the HAL clock given at creation.
 *
 * Errors: -1 with errno (EINVAL for a NaN / negative speed, ENOMEM).
 */
#ifndef ECC_DRIVE_MODBUS_H
#define ECC_DRIVE_MODBUS_H

#include <stdbool.h>
#include <stdint.h>

#include "hal/drive_profile.h"
#include "hal/hal.h"
#include "hal/modbus_link.h"

struct drive_modbus_params {
    int unit_id;                 /* Modbus slave id, 1..247 */
    double hz_per_mps;           /* Hz of motor frequency per m/s of belt speed */
    double max_hz;               /* Hz, the drive's maximum frequency (setpoints clamp to it) */
    double watchdog_s;           /* s, the drive's comm-loss time: command refreshed every 1/4 */
    int fail_after;              /* failed transactions in a row that mean comm loss */
    int healthy_after;           /* good transactions in a row that mean healthy */
    bool coast_on_fault;         /* drive.stop_mode = coast: fault stops use cmd_coast */
    char where[128];             /* the link and unit in words, for messages ("" allowed) */
};

struct drive_modbus;

/* Create the drive (no I/O). The profile and params are copied. now(clock_ctx) is the HAL
 * clock (s) used to stamp readings. Returns NULL with errno EINVAL (bad params) or ENOMEM.
 * Free with drive_modbus_close after the bus thread has stopped. */
struct drive_modbus *drive_modbus_open(const struct drive_profile *profile,
                                         const struct drive_modbus_params *params,
                                         double (*now)(void *), void *clock_ctx);
void drive_modbus_close(struct drive_modbus *d);

/* ---- control side (struct hal_drive functions; ctx is the struct drive_modbus *) ---- */

/* Run forward at mps (m/s); 0 stops. -1/EINVAL for NaN, infinite or negative speeds. */
int drive_modbus_set_speed(void *ctx, double mps);
/* Ramp to zero and hold (cmd_stop, setpoint 0). */
int drive_modbus_stop(void *ctx);
/* Copy of the latest report. Always 0. */
int drive_modbus_status(void *ctx, struct hal_drive_status *st);

/* Stop because of a fault: like stop, but with cmd_coast when coast_on_fault is set. */
int drive_modbus_fault_stop(struct drive_modbus *d);
/* struct hal_drive reset: queue one fault reset (written on the next cycle). Always 0. */
int drive_modbus_reset(void *ctx);
/* The last status word read (0 if the profile has none or none was read yet). */
/* struct hal_drive link_stats: the transactions as of the latest poll. */
int drive_modbus_link_stats(void *ctx, struct hal_link_stats *st);

uint16_t drive_modbus_status_word(struct drive_modbus *d);

/* ---- bus side (the bus thread only) ------------------------------------------------ */

/* One cycle on the wire. Returns 0 if every transaction of the cycle succeeded, else -1. */
int drive_modbus_poll(struct drive_modbus *d, struct modbus_link *link);

/* Write stop and a zero setpoint: the drive is left stopped and released when eccd exits.
 * Returns 0 if the stop command got through, else -1. */
int drive_modbus_release(struct drive_modbus *d, struct modbus_link *link);

#endif
