/* hal_hw.h - the hardware backend (rig.backend = hw): the real clock plus the drive,
 * load cell, belt sensor and inputs that [drive], [loadcell], [encoder] and [inputs]
 * select. Today: Modbus RTU/TCP drives and load-cell transmitters (hal_modbus), belt
 * speed from the drive, no GPIO inputs yet; what is not built yet is refused with a
 * message naming the key.
 */
#ifndef ECC_HAL_HW_H
#define ECC_HAL_HW_H

#include <stddef.h>

#include "config/config.h"
#include "hal/hal.h"

struct hal_hw;

/* Open every part the config names and fill *hal. Returns NULL with a message in err;
 * the caller frees with hal_hw_close(), which stops and releases the drive. */
struct hal_hw *hal_hw_open(const struct ecc_config *cfg, struct hal *hal, char *err,
                           size_t errlen);

/* Which part failed to open, for a fix in words (the daemon's envcheck gives it). */
enum hal_hw_part {
    HAL_HW_PART_NONE = 0,       /* none, or one without a machine check (a config, memory) */
    HAL_HW_INPUTS_CHIP,         /* [inputs] chip */
    HAL_HW_ENCODER_CHIP,        /* [encoder] chip */
    HAL_HW_HX711_CHIP,          /* [loadcell] hx711_chip */
    HAL_HW_DRIVE_DEVICE,        /* [drive] device, modbus-rtu */
    HAL_HW_LOADCELL_DEVICE,     /* [loadcell] device, link = rtu */
    HAL_HW_PWM,                 /* [drive] device, pwm */
    HAL_HW_IIO,                 /* [loadcell] iio_device and iio_channel */
};

/* hal_hw_open, and on failure *part says which part did not open. */
struct hal_hw *hal_hw_open_part(const struct ecc_config *cfg, struct hal *hal, char *err,
                                size_t errlen, enum hal_hw_part *part);
void hal_hw_close(struct hal_hw *h);

/* What each part shows now, for eccd --probe: the drive's registers (or the PWM duty), the
 * load cell's reading register, the belt sensor's lines and count, each input line. */
void hal_hw_probe(struct hal_hw *h, const struct ecc_config *cfg, struct hal_probe *p);

/* The GPIO parts' lines from their status (also what tests check on the fake GPIO). */
struct encoder_gpio_status;
struct inputs_gpio_status;
void hal_hw_probe_encoder(const struct encoder_gpio_status *st, const struct ecc_config *cfg,
                          struct hal_probe *p);
void hal_hw_probe_inputs(const struct inputs_gpio_status *st, const struct ecc_config *cfg,
                         struct hal_probe *p);

#endif
