/* simlc.c - the simulated load-cell transmitter's registers (see simlc.h). */
#include "sim/simlc.h"

#include <math.h>
#include <modbus.h>
#include <string.h>

void simlc_params_from_config(const struct ecc_config *cfg, struct simlc_params *p)
{
    *p = (struct simlc_params){
        .reg = cfg->loadcell.reg, .kind = cfg->loadcell.reg_kind,
        .type = cfg->loadcell.data_type, .order = cfg->loadcell.word_order,
        .scale = cfg->loadcell.scale, .offset = cfg->loadcell.offset,
        .full_scale_n = cfg->loadcell.full_scale_n,
        .tare_reg = cfg->loadcell.tare_reg, .tare_value = cfg->loadcell.tare_value,
    };
}

void simlc_init(struct simlc *lc, const struct simlc_params *p)
{
    memset(lc, 0, sizeof *lc);
    lc->p = *p;
}

void simlc_set_force(struct simlc *lc, double newtons)
{
    lc->force_n = newtons;
}

/* ---- encoding ---------------------------------------------------------------------- */

int simlc_type_words(enum cfg_data_type t)
{
    return t == CFG_DT_INT16 || t == CFG_DT_UINT16 ? 1 : 2;
}

static double clamp_round(double x, double lo, double hi)
{
    if (!(x == x))
        return 0.0;                  /* NaN */
    x = floor(x + 0.5);
    return x < lo ? lo : x > hi ? hi : x;
}

static void split(uint32_t v, enum cfg_word_order o, uint16_t out[2])
{
    uint16_t hi = (uint16_t)(v >> 16), lo = (uint16_t)(v & 0xFFFFu);

    out[0] = o == CFG_WORDS_BIG ? hi : lo;
    out[1] = o == CFG_WORDS_BIG ? lo : hi;
}

int simlc_encode(enum cfg_data_type t, enum cfg_word_order o, double raw, uint16_t out[2])
{
    float f;
    uint32_t bits;

    switch (t) {
    case CFG_DT_INT16:
        out[0] = (uint16_t)(int16_t)clamp_round(raw, INT16_MIN, INT16_MAX);
        return 1;
    case CFG_DT_UINT16:
        out[0] = (uint16_t)clamp_round(raw, 0, UINT16_MAX);
        return 1;
    case CFG_DT_INT32:
        split((uint32_t)(int32_t)clamp_round(raw, INT32_MIN, INT32_MAX), o, out);
        return 2;
    case CFG_DT_UINT32:
        split((uint32_t)clamp_round(raw, 0, UINT32_MAX), o, out);
        return 2;
    case CFG_DT_FLOAT32:
        f = (float)raw;
        memcpy(&bits, &f, sizeof bits);
        split(bits, o, out);
        return 2;
    }
    return 0;
}

static double type_max(enum cfg_data_type t)
{
    switch (t) {
    case CFG_DT_INT16: return INT16_MAX;
    case CFG_DT_UINT16: return UINT16_MAX;
    case CFG_DT_INT32: return INT32_MAX;
    case CFG_DT_UINT32: return UINT32_MAX;
    case CFG_DT_FLOAT32: break;
    }
    return 0.0;
}

static double raw_of(const struct simlc_params *p, double newtons)
{
    return (p->scale != 0.0 ? newtons / p->scale : 0.0) + p->offset;
}

int simlc_words(const struct simlc *lc, uint16_t out[2])
{
    const struct simlc_params *p = &lc->p;
    double raw = raw_of(p, lc->force_n - lc->tare_n);

    if (lc->frozen) {
        memcpy(out, lc->frozen_words, sizeof lc->frozen_words);
        return simlc_type_words(p->type);
    }
    if (lc->saturated)
        raw = p->type == CFG_DT_FLOAT32 ? raw_of(p, p->full_scale_n) : type_max(p->type);
    return simlc_encode(p->type, p->order, raw, out);
}

void simlc_freeze(struct simlc *lc, bool on)
{
    if (on && !lc->frozen)
        simlc_words(lc, lc->frozen_words);
    lc->frozen = on;
}

void simlc_saturate(struct simlc *lc, bool on)
{
    lc->saturated = on;
}

/* ---- registers --------------------------------------------------------------------- */

static bool in_reading(const struct simlc_params *p, int a)
{
    return a >= p->reg && a < p->reg + simlc_type_words(p->type);
}

static bool is_tare(const struct simlc_params *p, int a)
{
    return p->tare_reg >= 0 && a == p->tare_reg;
}

int simlc_read(const struct simlc *lc, int fc, int addr, int n, uint16_t *out)
{
    const struct simlc_params *p = &lc->p;
    int want_fc = p->kind == CFG_REG_INPUT ? MODBUS_FC_READ_INPUT_REGISTERS
                                           : MODBUS_FC_READ_HOLDING_REGISTERS;
    uint16_t w[2];

    simlc_words(lc, w);
    for (int i = 0; i < n; i++) {
        int a = addr + i;

        if (in_reading(p, a) && fc == want_fc)
            out[i] = w[a - p->reg];
        else if (is_tare(p, a) && fc == MODBUS_FC_READ_HOLDING_REGISTERS)
            out[i] = 0;
        else
            return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    }
    return 0;
}

int simlc_write(struct simlc *lc, int addr, int n, const uint16_t *vals)
{
    for (int i = 0; i < n; i++)
        if (!is_tare(&lc->p, addr + i))
            return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    for (int i = 0; i < n; i++)
        if (vals[i] != (uint16_t)lc->p.tare_value)
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    lc->tare_n = lc->force_n;
    return 0;
}
