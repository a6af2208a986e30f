/* loadcell_modbus.c - a load-cell transmitter over Modbus (see loadcell_modbus.h). */
#include "hal/loadcell_modbus.h"

#include "hal/hal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loadcell_modbus {
    struct loadcell_modbus_params p;
    double (*now)(void *);
    void *clock_ctx;
    struct calibration_ring *ring;   /* the samples, tare and span */

    pthread_mutex_t mu;          /* guards st and cnt_pub */
    struct loadcell_modbus_status st;    /* st.ring is filled in by loadcell_modbus_status */
    struct modbus_counters cnt_pub;  /* cnt as of the latest poll */

    /* Bus side only. */
    struct modbus_counters cnt;
};

/* ---- decoding ---------------------------------------------------------------------- */

int loadcell_type_words(enum cfg_data_type type)
{
    return (type == CFG_DT_INT16 || type == CFG_DT_UINT16) ? 1 : 2;
}

static uint32_t join_words(enum cfg_word_order order, const uint16_t *regs)
{
    uint16_t hi = order == CFG_WORDS_BIG ? regs[0] : regs[1];
    uint16_t lo = order == CFG_WORDS_BIG ? regs[1] : regs[0];
    return (uint32_t)hi << 16 | lo;
}

/* Two's complement without relying on implementation-defined narrowing. */
static double signed_value(uint32_t u, int bits)
{
    double span = bits == 16 ? 65536.0 : 4294967296.0;
    uint32_t sign = 1u << (bits - 1);
    return (u & sign) ? (double)u - span : (double)u;
}

static int decode_float(uint32_t u, double *raw, bool *at_limit)
{
    float f;
    memcpy(&f, &u, sizeof f);
    if (isnan(f)) {
        errno = EDOM;
        return -1;
    }
    /* An infinite reading is an over-range transmitter: saturated, pinned at the limit. */
    *at_limit = isinf(f);
    *raw = isinf(f) ? copysign(FLT_MAX, f) : f;
    return 0;
}

int loadcell_decode(enum cfg_data_type type, enum cfg_word_order order, const uint16_t *regs,
                    double *raw, bool *at_limit)
{
    uint32_t u = loadcell_type_words(type) == 1 ? regs[0] : join_words(order, regs);

    switch (type) {
    case CFG_DT_INT16:
        *raw = signed_value(u, 16);
        *at_limit = u == 0x8000u || u == 0x7FFFu;
        return 0;
    case CFG_DT_UINT16:
        *raw = u;
        *at_limit = u == 0xFFFFu;
        return 0;
    case CFG_DT_INT32:
        *raw = signed_value(u, 32);
        *at_limit = u == 0x80000000u || u == 0x7FFFFFFFu;
        return 0;
    case CFG_DT_UINT32:
        *raw = u;
        *at_limit = u == 0xFFFFFFFFu;
        return 0;
    case CFG_DT_FLOAT32:
        return decode_float(u, raw, at_limit);
    }
    errno = EINVAL;
    return -1;
}

/* ---- open / close ------------------------------------------------------------------ */

static bool params_ok(const struct loadcell_modbus_params *p)
{
    int words = loadcell_type_words(p->data_type);
    return p->unit_id >= 1 && p->unit_id <= 247 && p->reg >= 0 && p->reg + words <= 65536 &&
           (p->read_fc == 3 || p->read_fc == 4) && (p->write_fc == 6 || p->write_fc == 16) &&
           p->tare_reg >= -1 && p->tare_reg <= 65535 && p->healthy_after >= 1 &&
           (unsigned)p->data_type <= CFG_DT_FLOAT32;
}

struct loadcell_modbus *loadcell_modbus_open(const struct loadcell_modbus_params *params,
                                             double (*now)(void *), void *clock_ctx,
                                             char *err, size_t errlen)
{
    if (!params || !now || !params_ok(params)) {
        snprintf(err, errlen, "load cell: bad parameters");
        errno = EINVAL;
        return NULL;
    }
    struct loadcell_modbus *lc = calloc(1, sizeof *lc);
    if (!lc) {
        snprintf(err, errlen, "load cell: out of memory");
        errno = ENOMEM;
        return NULL;
    }
    struct calibration_ring_params rp = params->ring;
    rp.hw_tare = params->tare_reg >= 0;      /* the transmitter's own tare */
    lc->ring = calibration_ring_open(&rp, err, errlen);
    /* pushed from the bus thread, which feeds the drive too: never wait on the disk there */
    if (lc->ring && calibration_ring_save_apart(lc->ring) != 0) {
        int e = errno;
        snprintf(err, errlen, "load cell: cannot start the calibration saver: %s", strerror(e));
        calibration_ring_close(lc->ring);
        lc->ring = NULL;
        errno = e;
    }
    if (!lc->ring) {
        int e = errno;
        free(lc);
        errno = e;
        return NULL;
    }
    lc->p = *params;
    lc->now = now;
    lc->clock_ctx = clock_ctx;
    pthread_mutex_init(&lc->mu, NULL);
    lc->cnt.healthy_after = params->healthy_after;
    return lc;
}

void loadcell_modbus_close(struct loadcell_modbus *lc)
{
    if (!lc)
        return;
    calibration_ring_close(lc->ring);
    pthread_mutex_destroy(&lc->mu);
    free(lc);
}

/* ---- control side ------------------------------------------------------------------ */

struct calibration_ring *loadcell_modbus_ring(struct loadcell_modbus *lc)
{
    return lc->ring;
}

int loadcell_modbus_status(struct loadcell_modbus *lc, struct loadcell_modbus_status *st)
{
    pthread_mutex_lock(&lc->mu);
    *st = lc->st;
    pthread_mutex_unlock(&lc->mu);
    calibration_ring_status(lc->ring, &st->ring);
    return 0;
}

/* ---- bus side ---------------------------------------------------------------------- */

/* Under the mutex: the transaction counters into the status. */
static void copy_counters(struct loadcell_modbus *lc)
{
    lc->st.healthy = lc->cnt.healthy;
    lc->st.consecutive_failures = lc->cnt.consecutive_failures;
    lc->st.tx_ok = lc->cnt.tx_ok;
    lc->st.tx_failed = lc->cnt.tx_failed;
    lc->st.timeouts = lc->cnt.timeouts;
    lc->st.bad_frames = lc->cnt.bad_frames;
    lc->st.exceptions = lc->cnt.exceptions;
    lc->st.reconnects = lc->cnt.reconnects;
    lc->cnt_pub = lc->cnt;
}

int loadcell_modbus_link_stats(void *ctx, struct hal_link_stats *st)
{
    struct loadcell_modbus *lc = ctx;
    struct calibration_ring_status rs;

    pthread_mutex_lock(&lc->mu);
    struct modbus_counters c = lc->cnt_pub;
    pthread_mutex_unlock(&lc->mu);
    calibration_ring_status(lc->ring, &rs);
    modbus_counters_to_stats(&c, lc->p.where, st);
    st->last_raw = rs.samples > 0 ? rs.raw : NAN;
    return 0;
}

/* The transmitter's own tare, when the ring has one due; a failed write leaves it due,
 * tried again next poll. */
static int tare_if_due(struct loadcell_modbus *lc, struct modbus_link *link)
{
    if (!calibration_ring_hw_tare_due(lc->ring))
        return 0;
    if (modbus_link_write(link, lc->p.unit_id, lc->p.write_fc, lc->p.tare_reg, 1,
                          &lc->p.tare_value, &lc->cnt) < 0)
        return -1;
    calibration_ring_hw_tare_done(lc->ring);   /* a failed save is counted by the ring */
    return 0;
}

static int read_sample(struct loadcell_modbus *lc, struct modbus_link *link, double *raw,
                       bool *at_limit)
{
    uint16_t regs[2];

    if (modbus_link_read(link, lc->p.unit_id, lc->p.read_fc, lc->p.reg,
                         loadcell_type_words(lc->p.data_type), regs, &lc->cnt) < 0)
        return -1;
    if (loadcell_decode(lc->p.data_type, lc->p.word_order, regs, raw, at_limit) < 0) {
        pthread_mutex_lock(&lc->mu);
        lc->st.bad_samples++;
        pthread_mutex_unlock(&lc->mu);
        return -1;
    }
    return 0;
}

int loadcell_modbus_poll(struct loadcell_modbus *lc, struct modbus_link *link)
{
    bool at_limit;
    double raw;

    int rc = tare_if_due(lc, link);
    if (read_sample(lc, link, &raw, &at_limit) == 0)
        calibration_ring_push(lc->ring, lc->now(lc->clock_ctx), raw, at_limit);
    else
        rc = -1;
    pthread_mutex_lock(&lc->mu);
    copy_counters(lc);
    pthread_mutex_unlock(&lc->mu);
    return rc;
}
