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
