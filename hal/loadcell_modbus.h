/* loadcell_modbus.h - a load-cell weighing transmitter read over Modbus.
 *
 * Bus side: loadcell_modbus_poll, called by the bus thread at loadcell.rate_hz. Each poll
 * reads the reading's register(s) (1 for 16-bit types, 2 for 32-bit types, in the
 * configured word order), decodes it and pushes it, stamped with the HAL clock, into the
 * load cell's calibration ring (hal/calibration.h), the one every load-cell front end
 * uses. The register value, in the transmitter's own unit (counts, or whatever a float32
 * transmitter reports), is the ring's raw reading: newtons = (raw - offset) x scale, with
 * loadcell.offset and loadcell.scale replaced by loadcell.calibration where that file
 * holds them. A reading is saturated when |N| reaches full_scale_n or the raw value sits
 * at its type's limit (an over-range transmitter pins it there; for float32, an infinite
 * value); a float NaN is dropped as a bad sample.
 *
 * Control side: the ring (loadcell_modbus_ring: read, tare, span, through
 * calibration_ring_hal) and loadcell_modbus_status / _link_stats: a mutex held for a
 * copy, never the wire.
 *
 * Tare: with a tare register (tare_reg >= 0) the ring's tare is the transmitter's own:
 * the next poll writes tare_value there and the offset becomes 0 (the transmitter
 * reports net from then on); without one, the ring's software tare (offset = the mean of
 * a second of readings). Span: always the ring's, with a known mass on the plate; both
 * are saved to loadcell.calibration.
 */
#ifndef ECC_LOADCELL_MODBUS_H
#define ECC_LOADCELL_MODBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "hal/calibration.h"
#include "hal/modbus_link.h"

struct loadcell_modbus_params {
    int unit_id;                 /* Modbus slave id, 1..247 */
    int reg;                     /* wire address of the reading (first word for 32-bit) */
    int read_fc;                 /* 3 (holding) or 4 (input) */
    enum cfg_data_type data_type;
    enum cfg_word_order word_order;  /* 32-bit: high word first (big) or last (little) */
    int tare_reg;                /* wire address to write to tare, -1: software tare */
    uint16_t tare_value;         /* value written there */
    int write_fc;                /* 6 or 16, for the tare write */
    int healthy_after;           /* good transactions in a row that mean healthy */
    char where[128];             /* the link and unit in words, for messages ("" allowed) */
    struct calibration_ring_params ring;   /* offset/scale, full scale, the file (its
                                             hw_tare is set from tare_reg) */
};

/* What the control side can see besides the samples. */
struct loadcell_modbus_status {
    struct calibration_ring_status ring;   /* samples, saturation, calibration, tares */
    bool healthy;                /* healthy_after good transactions in a row */
    long bad_samples;            /* float NaN readings dropped */
    int consecutive_failures;
    long tx_ok, tx_failed, timeouts, bad_frames, exceptions, reconnects;
};

struct loadcell_modbus;

/* Create (no I/O): the ring, with the calibration file loaded over the params' offset and
 * scale (a missing file is fine). NULL with a message in err (the file's FILE:LINE for
 * junk) and errno (EINVAL: bad params or junk, ENOMEM). */
struct loadcell_modbus *loadcell_modbus_open(const struct loadcell_modbus_params *params,
                                             double (*now)(void *), void *clock_ctx,
                                             char *err, size_t errlen);
void loadcell_modbus_close(struct loadcell_modbus *lc);

/* Decode registers (1 or 2 words as the type needs) into a raw value. at_limit: the value
 * sits at the type's limit (saturated transmitter; +-inf for float32, decoded as +-FLT_MAX).
 * Returns 0, or -1 (EDOM) for a float NaN. Pure; exposed for tests and eccsim. */
int loadcell_decode(enum cfg_data_type type, enum cfg_word_order order, const uint16_t *regs,
                    double *raw, bool *at_limit);
/* Registers a type takes: 1 or 2. */
int loadcell_type_words(enum cfg_data_type type);

/* ---- control side ------------------------------------------------------------------ */

/* The calibration ring the readings go to (bind struct hal_force with
 * calibration_ring_hal). Owned by the load cell. */
struct calibration_ring *loadcell_modbus_ring(struct loadcell_modbus *lc);
int loadcell_modbus_status(struct loadcell_modbus *lc, struct loadcell_modbus_status *st);
/* struct hal_force link_stats: the transactions as of the latest poll. */
struct hal_link_stats;
int loadcell_modbus_link_stats(void *ctx, struct hal_link_stats *st);

/* ---- bus side ---------------------------------------------------------------------- */

/* One reading (and the transmitter's tare when the ring has one due). Returns 0, or -1 if
 * a transaction failed. */
int loadcell_modbus_poll(struct loadcell_modbus *lc, struct modbus_link *link);

#endif
