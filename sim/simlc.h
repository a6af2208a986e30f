/* simlc.h - the simulated load-cell transmitter as its registers show it (eccsim).
 *
 * Pure logic: no I/O, no clock, no locks. The reading sits at register `reg` (wire
 * address) of kind reg_kind (holding: function 3, input: function 4), as data_type in
 * word_order (32-bit types: big = high word first), with
 *     raw = (newtons - tare) / scale + offset
 * rounded and clamped to the type's range: eccd computes newtons = (raw - offset) x scale.
 * A write of tare_value to tare_reg (when >= 0) makes the present force the tare. Faults:
 * frozen holds the reading at what it was when the freeze began; saturated reads the top
 * of the type's range (float32: the raw value of full_scale_n).
 * Only the reading's registers (and the tare register, which reads 0) answer; anything
 * else is exception 0x02 (illegal data address); a tare write of another value 0x03.
 */
#ifndef ECC_SIMLC_H
#define ECC_SIMLC_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

struct simlc_params {
    int reg;
    enum cfg_reg_kind kind;
    enum cfg_data_type type;
    enum cfg_word_order order;
    double scale;                /* N per raw count */
    double offset;               /* raw counts at zero load */
    double full_scale_n;         /* N */
    int tare_reg;                /* -1: none */
    int tare_value;
};

struct simlc {
    struct simlc_params p;
    double force_n, tare_n;      /* N, the newest sample and the tare */
    bool frozen, saturated;
    uint16_t frozen_words[2];
};

void simlc_params_from_config(const struct ecc_config *cfg, struct simlc_params *p);
void simlc_init(struct simlc *lc, const struct simlc_params *p);

void simlc_set_force(struct simlc *lc, double newtons);
void simlc_freeze(struct simlc *lc, bool on);
void simlc_saturate(struct simlc *lc, bool on);

/* Words a data type takes (1 or 2). */
int simlc_type_words(enum cfg_data_type t);
/* Encode raw counts as type in order; returns the word count. */
int simlc_encode(enum cfg_data_type t, enum cfg_word_order o, double raw, uint16_t out[2]);
/* The words the transmitter shows now (faults applied); returns the count. */
int simlc_words(const struct simlc *lc, uint16_t out[2]);

/* fc 3 or 4, n registers from addr: 0 or a Modbus exception code. */
int simlc_read(const struct simlc *lc, int fc, int addr, int n, uint16_t *out);
int simlc_write(struct simlc *lc, int addr, int n, const uint16_t *vals);

#endif
