/* hal_modbus.h - the Modbus backends (VFD, load-cell transmitter) assembled from the config.
 *
 * hal_modbus_open builds the drive profile ([drive] profile, or [profile] for generic), one
 * bus per physical link with its I/O thread (modbus_bus.h), the drive (drive.type =
 * modbus-rtu / modbus-tcp, except drive.profile = huanyang-hy, which is not Modbus: the
 * caller opens it with hal/drive_hy.h) and the load cell (loadcell.type = modbus), fills
 * hal->drive and hal->force (the transmitter's calibration ring, bound by
 * calibration_ring_hal as every load cell's, plus its link statistics), and starts the
 * threads. The drive and the load cell share one bus when
 * loadcell.link = drive, or when their rtu device or tcp host:port are the same (one
 * RS-485 line, one gateway); otherwise each has its own.
 *
 * Polling rates: the drive once per control tick (loop.rate_hz), the load cell at
 * loadcell.rate_hz; both as fast as the link allows when it cannot keep up. The load
 * cell's own link (link = rtu / tcp) uses the drive's timing keys (min_gap_ms, timeout_ms,
 * retries) and 8 data bits, 1 stop bit.
 *
 * hal->clock is not touched: the caller passes its clock (now, clock_ctx) so that readings
 * are stamped on the HAL clock.
 */
#ifndef ECC_HAL_MODBUS_H
#define ECC_HAL_MODBUS_H

#include <stddef.h>

#include "config/config.h"
#include "hal/drive_profile.h"
#include "hal/hal.h"
#include "hal/loadcell_modbus.h"

struct hal_modbus;

/* Build and start. Returns NULL with one message in err naming the config key, e.g.
 * "[drive] profile: unknown profile 'x' (allowed: delta-vfd, optidrive-e3, huanyang-gt,
 * huanyang-hy, generic)". Nothing touches the wire before the threads start; the first transaction
 * connects. Free with hal_modbus_close. */
struct hal_modbus *hal_modbus_open(const struct ecc_config *cfg, double (*now)(void *),
                                   void *clock_ctx, struct hal *hal, char *err,
                                   size_t errlen);

/* Write stop to the drive (and release it), stop and join the threads, close the links,
 * free everything. The struct hal's drive/force functions must not be called afterwards.
 * NULL is a no-op. */
void hal_modbus_close(struct hal_modbus *m);

/* Queue a drive fault reset (the operator's reset). -1/ENODEV without a Modbus drive. */
int hal_modbus_reset_drive(struct hal_modbus *m);

/* Stop the drive because of a fault: coasts when drive.stop_mode = coast. -1/ENODEV. */
int hal_modbus_fault_stop(struct hal_modbus *m);

/* The load cell's health, counters and ring (samples, saturation, calibration). -1/ENODEV
 * without one. */
int hal_modbus_loadcell_status(struct hal_modbus *m, struct loadcell_modbus_status *st);

/* The drive's registers as last read (and the setpoint as last written), and the load
 * cell's reading register, as --probe lines. */
void hal_modbus_probe(struct hal_modbus *m, const struct ecc_config *cfg, struct hal_probe *p);

#endif
