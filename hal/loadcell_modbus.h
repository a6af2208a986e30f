/* loadcell_modbus.h - a load-cell weighing transmitter read over Modbus.
 *
 * Control side: loadcell_modbus_read (the struct hal_force read), _status, _request_tare:
 * a mutex held for a copy, never the wire. Bus side: loadcell_modbus_poll, called by the
 * bus thread at loadcell.rate_hz.
 *
 * Each poll reads the reading's register(s) (1 for 16-bit types, 2 for 32-bit types, in
 * the configured word order), converts it to newtons = (raw - offset) x scale, stamps it
 * with the HAL clock and appends it to a bounded ring (the oldest sample is dropped and
 * counted when the control side falls behind). A reading is saturated when |N| reaches
 * full_scale_n or the raw value sits at its type's limit (an over-range transmitter pins
 * it there; for float32, an infinite value); a float NaN is dropped as a bad sample.
 *
 * Tare: with a tare register, tare_value is written there (the transmitter zeroes itself)
 * and the software offset becomes 0; without one, the next raw reading becomes the offset.
 */
#ifndef ECC_LOADCELL_MODBUS_H
#define ECC_LOADCELL_MODBUS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "hal/modbus_link.h"

#define LOADCELL_RING_DEFAULT 256   /* samples kept for the control side (3 s at 80 Hz) */

struct loadcell_modbus_params {
    int unit_id;                 /* Modbus slave id, 1..247 */
    int reg;                     /* wire address of the reading (first word for 32-bit) */
    int read_fc;                 /* 3 (holding) or 4 (input) */
    enum cfg_data_type data_type;
    enum cfg_word_order word_order;  /* 32-bit: high word first (big) or last (little) */
    double scale;                /* N per raw count (non-zero) */
    double offset;               /* raw counts at zero load */
    double full_scale_n;         /* N, |reading| at or above this is saturated */
    int tare_reg;                /* wire address to write to tare, -1: software tare */
    uint16_t tare_value;         /* value written there */
    int write_fc;                /* 6 or 16, for the tare write */
    int healthy_after;           /* good transactions in a row that mean healthy */
    int ring_len;                /* samples buffered; 0: LOADCELL_RING_DEFAULT */
    char where[128];             /* the link and unit in words, for messages ("" allowed) */
};

/* What the control side can see besides the samples. */
struct loadcell_modbus_status {
    bool healthy;                /* healthy_after good transactions in a row */
    bool saturated;              /* the latest sample was saturated */
    double raw;                  /* latest raw reading (counts) */
    double offset;               /* offset in use (counts) */
    double t_last;               /* s, HAL clock, latest sample (-1: none yet) */
    long samples, saturated_samples, bad_samples, dropped;   /* since start */
    bool tare_pending;           /* a tare is queued, not yet done */
    long tares;                  /* tares done */
    int consecutive_failures;
    long tx_ok, tx_failed, timeouts, bad_frames, exceptions, reconnects;
};

struct loadcell_modbus;

/* Create (no I/O). Returns NULL with errno EINVAL (bad params) or ENOMEM. */
struct loadcell_modbus *loadcell_modbus_open(const struct loadcell_modbus_params *params,
                                               double (*now)(void *), void *clock_ctx);
void loadcell_modbus_close(struct loadcell_modbus *lc);

/* Decode registers (1 or 2 words as the type needs) into a raw value. at_limit: the value
 * sits at the type's limit (saturated transmitter; +-inf for float32, decoded as +-FLT_MAX).
 * Returns 0, or -1 (EDOM) for a float NaN. Pure; exposed for tests and eccsim. */
int loadcell_decode(enum cfg_data_type type, enum cfg_word_order order, const uint16_t *regs,
                    double *raw, bool *at_limit);
/* Registers a type takes: 1 or 2. */
int loadcell_type_words(enum cfg_data_type type);

/* ---- control side ------------------------------------------------------------------ */

/* struct hal_force read: samples since the last call, oldest first; returns the count. */
int loadcell_modbus_read(void *ctx, double *t, double *newtons, int max);
int loadcell_modbus_status(struct loadcell_modbus *lc, struct loadcell_modbus_status *st);
/* struct hal_force link_stats: the transactions as of the latest poll. */
struct hal_link_stats;
int loadcell_modbus_link_stats(void *ctx, struct hal_link_stats *st);

/* Queue a tare (done on the next poll). */
int loadcell_modbus_request_tare(struct loadcell_modbus *lc);

/* ---- bus side ---------------------------------------------------------------------- */

/* One reading (and a queued tare). Returns 0, or -1 if a transaction failed. */
int loadcell_modbus_poll(struct loadcell_modbus *lc, struct modbus_link *link);

#endif
