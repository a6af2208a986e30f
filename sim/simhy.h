/* simhy.h - eccsim's Huanyang HY drive on the RTU wire: HY frames in (hal/hy_frame.h),
 * HY frames out, the same simulated drive behind them (simdev.h, simvfd.h) at the HY
 * profile's pseudo addresses (hal/drive_profile.h).
 *
 * What the simulated HY answers:
 *   0x03 control data  0x01 runs forward, 0x08 stops (and is the reset: it clears a trip
 *                      whose cause is gone); the reply is the control status: bit 0 (run
 *                      in force) and bit 3 (output on). Other values: refusal 0x03.
 *   0x05 frequency     Hz x 100, echoed; the drive runs at it (clamped to drive.max_hz).
 *   0x04 status        index 0 the set frequency, 1 the output frequency (Hz x 100), 2 the
 *                      output current (A x 10); 3 to 7 read 0 (not modelled); others:
 *                      refusal 0x02.
 *   0x01 parameters    PD001 and PD002 read 2, PD005 drive.max_hz x 100, PD163 the unit,
 *                      PD164 the baud's index (0 4800 .. 3 38400), PD165 3/4/5 for 8N1/8E1/8O1
 *                      RTU: a drive set up as docs/drives.md says; others: refusal 0x02.
 *   0x02 writes        refusal 0x01 (parameter writes are not modelled).
 * A frame with a bad CRC or for another address gets no answer, as on a bus. Scripted faults
 * act as for Modbus: silent (no answer), late, exception (refusal 0x04), corrupt (the wire
 * breaks the CRC); drive-trip trips the drive: run is then not taken until a stop after
 * the cause has gone. The HY has no comm-loss watchdog, and neither has this one.
 */
#ifndef ECC_SIMHY_H
#define ECC_SIMHY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "sim/simdev.h"

struct simhy {
    struct simdev *dev;
    int unit;
    uint16_t pd_max_hz;          /* PD005, Hz x 100 */
    int pd_baud, pd_format;      /* PD164, PD165; -1: not an HY setting */
    int fd;                      /* the server's end of the socketpair */
    int wire_fd;                 /* the wire's end */
    int stop_fd;
};

/* The HY for unit on d, with the settings of cfg's [drive]. Returns 0, or -1 with err. */
int simhy_open(struct simhy *h, struct simdev *d, int unit, const struct ecc_config *cfg,
               int stop_fd, char *err, size_t errlen);
void *simhy_thread(void *arg);       /* arg: struct simhy *; returns on stop */
void simhy_close(struct simhy *h);

/* One request frame q[0..n) -> the reply in out (HY_FRAME_MAX bytes); returns its length,
 * 0 for no answer. *late: the answer is due d->late_s later. Takes the devices' lock. */
size_t simhy_answer(struct simhy *h, const uint8_t *q, size_t n, uint8_t *out, bool *late);

#endif
