/* drive_hy.h - a Huanyang HY drive on its serial line (drive.profile = huanyang-hy), with
 * the same semantics as the Modbus drive backend (drive_modbus.h).
 *
 * Two sides, two threads:
 *   control side  drive_hy_set_speed / _stop / _status / _reset / _fault_stop (the struct
 *                 hal_drive functions): they record a wish or copy the latest report under
 *                 the drive's mutex and never wait on the wire.
 *   I/O side      drive_hy_poll, one cycle on the wire; the drive's own thread
 *                 (drive_hy_start) runs it once per period, and writes stop and 0 Hz
 *                 (drive_hy_release) before it exits.
 *
 * Each cycle:
 *   - a queued operator reset writes stop (the HY has no fault-reset command over the link:
 *     stop is what its keypad's STOP/RESET key does) and forgets a refused run;
 *   - the control data is written EVERY cycle (run forward 0x01, or stop 0x08): its reply is
 *     the only status byte the HY gives, and the run or stop is asserted again each time;
 *   - the frequency (Hz x 100, clamped to max_hz) is written when it changes, after a
 *     failed write, and at least every refresh_s; starting, the frequency goes before the
 *     run, stopping, the stop goes first;
 *   - the output frequency is read every cycle, the output current every
 *     DRIVE_HY_CURRENT_EVERY cycles (the line is slow: one value per transaction);
 *   - a failure other than a refusal (timeout, bad frame, port down) ends the cycle.
 * The report: present; healthy after healthy_after good transactions in a row; comm_lost
 * from fail_after failed ones in a row until healthy again; speed = output frequency /
 * hz_per_mps stamped with the HAL clock; current_a; the counters. tripped: the HY has no
 * fault code to read, but a tripped HY (or one whose PD001 is not 2) does not take a run
 * command: when the control status shows no run in force for DRIVE_HY_REFUSED_AFTER
 * control writes of run in a row, the drive reports tripped with fault_code
 * DRIVE_HY_CODE_RUN_REFUSED, until the operator's reset.
 *
 * The HY has no comm-loss watchdog that eccd could arm (docs/drives.md): if eccd dies the
 * drive runs on at its last frequency. eccd's own stop on exit is written here.
 *
 * Errors: -1 with errno (EINVAL for a NaN / negative speed or bad parameters, ENOMEM).
 */
#ifndef ECC_DRIVE_HY_H
#define ECC_DRIVE_HY_H

#include <stddef.h>
#include <stdint.h>

#include "hal/hal.h"
#include "hal/hy_link.h"

#define DRIVE_HY_REFUSED_AFTER 3         /* control writes of run not taken: a trip */
#define DRIVE_HY_CODE_RUN_REFUSED 1u     /* fault_code reported then (not an HY code) */
#define DRIVE_HY_CURRENT_EVERY 8         /* cycles between output current reads */

struct drive_hy_params {
    struct hy_link_params link;
    int addr;                    /* the drive's PD163, 1..247 */
    double hz_per_mps;           /* Hz of motor frequency per m/s of belt speed */
    double max_hz;               /* Hz, frequencies clamp to it (PD005) */
    double refresh_s;            /* s, an unchanged frequency is written again this often */
    double period_s;             /* s, one cycle this often (as fast as the line allows) */
    int fail_after;              /* failed transactions in a row that mean comm loss */
    int healthy_after;           /* good transactions in a row that mean healthy */
};

struct drive_hy;

/* Create the drive (no I/O, no thread yet). now(clock_ctx) is the HAL clock that stamps
 * readings. NULL with a message in err (bad parameters; the serial settings the port cannot
 * take). Free with drive_hy_close. */
struct drive_hy *drive_hy_open(const struct drive_hy_params *p, double (*now)(void *),
                                 void *clock_ctx, char *err, size_t errlen);

/* Start the I/O thread. 0, or -1 with errno. */
int drive_hy_start(struct drive_hy *d);

/* Stop the thread (after it wrote stop and 0 Hz), close the port, free. NULL is a no-op. */
void drive_hy_close(struct drive_hy *d);

/* The struct hal_drive for this drive (cap_mps: the speed refused above). */
struct hal_drive drive_hy_hal(struct drive_hy *d, double cap_mps);

/* ---- control side (struct hal_drive functions; ctx is the struct drive_hy *) ------- */

int drive_hy_set_speed(void *ctx, double mps);   /* run forward at mps; 0 stops */
int drive_hy_stop(void *ctx);
int drive_hy_status(void *ctx, struct hal_drive_status *st);     /* always 0 */
int drive_hy_reset(void *ctx);                   /* queue one operator reset; always 0 */
int drive_hy_link_stats(void *ctx, struct hal_link_stats *st);   /* always 0 */
/* The last control status byte read (HY_ST_* bits; 0 before any). */
uint8_t drive_hy_control_status(struct drive_hy *d);

/* ---- I/O side (the drive's thread, or a test without one) --------------------------- */

/* One cycle on the wire. 0 if every transaction of it succeeded, else -1. */
int drive_hy_poll(struct drive_hy *d);

/* Write stop and 0 Hz, however recently they were written. 0 if the stop got through. */
int drive_hy_release(struct drive_hy *d);

#endif
