/* loadcell_iio.h - an HX711 read by the kernel's hx711 IIO driver (loadcell.type = iio).
 *
 * The robust choice on a busy system: the kernel bit-bangs the chip with preemption off,
 * so the 50 us clock limit holds. eccd reads the channel's raw file in sysfs
 * (loadcell.iio_device / loadcell.iio_channel, e.g. .../iio:device0/in_voltage0_raw).
 * Each read makes the driver wait for the next conversion (it polls DOUT, giving up with
 * EIO after about 100 ms) and clock it out.
 *
 * The driver reports the 24-bit reading offset-binary (two's complement XOR 0x800000:
 * 0..16777215, zero input = 8388608); eccd turns it back into two's complement, so the
 * counts, offset and scale are the same as the GPIO backend's and one calibration file
 * serves both. The same screening as the GPIO backend applies (hx711.h: all ones
 * rejected, single-sample spikes rejected, the rails passed on as saturated), and the
 * same calibration ring (calibration.h: newtons, tare, span, the file).
 *
 * Threads: loadcell_iio_start runs a reader thread at rate_hz (an absolute schedule); a
 * read blocked in the driver delays loadcell_iio_close by at most that read (~0.1 s).
 * The raw file is kept open and read with pread at offset 0 (sysfs makes a new reading
 * for each); after an error it is closed and opened again on the next read.
 * Tests point iio_device at a temporary directory and call loadcell_iio_poll.
 *
 * Who frees what: loadcell_iio_close stops the thread and frees. Errors: NULL or -1 with
 * errno.
 */
#ifndef ECC_LOADCELL_IIO_H
#define ECC_LOADCELL_IIO_H

#include <stddef.h>

#include "config/config.h"
#include "hal/calibration.h"

#define LOADCELL_IIO_ZERO 0x800000   /* the driver's raw value at zero input */

struct loadcell_iio_params {
    const char *device;              /* sysfs directory of the IIO device */
    const char *channel;             /* raw value file in it */
    double rate_hz;                  /* Hz, reads per second (the chip's rate: 10 or 80) */
    double spike_n;                  /* N (0: HX711_SPIKE_SHARE of full scale) */
    struct calibration_ring_params ring;   /* config's offset/scale, full scale, the file */
};

struct loadcell_iio_status {
    struct calibration_ring_status ring;
    long reads;                      /* reads attempted */
    long accepted;
    long read_errors;                /* open/pread failed (EIO: the chip never got ready) */
    long bad_values;                 /* not a number in 0..16777215 */
    long floating, spikes;           /* discarded, as in hx711.h */
};

/* Fill params from [loadcell], all but p->ring (calibration_ring_params_from_config). */
void loadcell_iio_params_from_config(const struct ecc_config *cfg,
                                     struct loadcell_iio_params *p);

struct loadcell_iio;

/* Load the calibration file (a missing one is fine) and open the raw file (it must be
 * there). NULL with a message in err and errno. */
struct loadcell_iio *loadcell_iio_open(const struct loadcell_iio_params *p,
                                       double (*now)(void *), void *clock_ctx, char *err,
                                       size_t errlen);
int loadcell_iio_start(struct loadcell_iio *l);
void loadcell_iio_close(struct loadcell_iio *l);

/* One read. Returns 1 (a reading, accepted or discarded), or -1 with errno (read error
 * or a bad value; counted). Not while the reader thread runs. */
int loadcell_iio_poll(struct loadcell_iio *l);

/* Control side: the ring the accepted readings go to (owned by l; read, tare, span,
 * bound to struct hal_force by calibration_ring_hal), and the counters. */
struct calibration_ring *loadcell_iio_ring(struct loadcell_iio *l);
int loadcell_iio_status(struct loadcell_iio *l, struct loadcell_iio_status *st);

#endif
